/*
 * tls.h - the server's TLS context: certificate chain and key from PEM files,
 * TLS 1.2 and 1.3 only. serving/http.c wraps each accepted socket in a
 * libevent OpenSSL bufferevent using it.
 */
#ifndef STRATA_SERVING_TLS_H
#define STRATA_SERVING_TLS_H

#include "base/err.h"

struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

/*
 * cert: PEM, the server certificate first, then any intermediates (the chain
 * is sent to clients); key: its PEM private key, unencrypted. On success *out
 * is a context the caller frees with tls_server_ctx_free() after the server
 * using it has stopped. Errors (INVALID_ARGUMENT) name the file and
 * OpenSSL's reason. A key file that others may read is logged as a warning.
 */
int tls_server_ctx_new(const char *cert, const char *key, struct ssl_ctx_st **out,
                       strata_err *err);
void tls_server_ctx_free(struct ssl_ctx_st *ctx); /* NULL ok */

#endif
