/*
 * tls.c - the SSL_CTX stratad serves with.
 *
 * Choices, and why:
 * - TLS 1.2 minimum: 1.0 and 1.1 are deprecated (RFC 8996).
 * - TLS 1.2 ciphers: ECDHE key exchange (forward secrecy) with AEAD only
 *   (AES-GCM, ChaCha20-Poly1305); TLS 1.3 suites are OpenSSL's defaults,
 *   which are all of that kind already.
 * - No renegotiation (a client could make the server do handshake work at
 *   will), no compression (CRIME); the server's cipher order wins.
 * - The certificate is loaded once; replacing it needs a restart. One that
 *   has expired or is not yet valid stops the daemon at start (clients
 *   always verify, so it could serve no one); one expiring within
 *   TLS_EXPIRY_WARN_DAYS is warned about.
 */
#include "serving/tls.h"

#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/log.h"

#define TLS12_CIPHERS                                                                         \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

#define TLS_EXPIRY_WARN_DAYS 30

/* An ASN1_TIME as OpenSSL prints it ("Jan  2 00:00:00 2020 GMT"). */
static const char *asn1_time_text(const ASN1_TIME *t, char *out, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    int n = b && ASN1_TIME_print(b, t) == 1 ? BIO_read(b, out, (int)cap - 1) : -1;
    if (n > 0)
        out[n] = '\0';
    else
        snprintf(out, cap, "?");
    BIO_free(b);
    return out;
}

/* The served certificate's validity against the clock. */
static int check_validity(SSL_CTX *ctx, const char *cert, strata_err *err)
{
    char when[64];
    X509 *x = SSL_CTX_get0_certificate(ctx);
    if (!x)
        return 0;
    const ASN1_TIME *nb = X509_get0_notBefore(x), *na = X509_get0_notAfter(x);
    if (X509_cmp_current_time(na) <= 0)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "TLS certificate %s expired on %s: clients refuse it; renew it", cert,
                       asn1_time_text(na, when, sizeof when));
    if (X509_cmp_current_time(nb) >= 0)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "TLS certificate %s is not valid before %s: clients refuse it until then "
                       "(is the clock right?)",
                       cert, asn1_time_text(nb, when, sizeof when));
    time_t soon = time(NULL) + (time_t)TLS_EXPIRY_WARN_DAYS * 86400;
    if (X509_cmp_time(na, &soon) <= 0)
        log_warn("TLS certificate %s expires on %s (within %d days): renew it and restart", cert,
                 asn1_time_text(na, when, sizeof when), TLS_EXPIRY_WARN_DAYS);
    return 0;
}

/* OpenSSL's queued reason for the last failure, as one line; clears the queue. */
static const char *ssl_reason(char *out, size_t cap)
{
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, out, cap);
    else
        snprintf(out, cap, "unknown error");
    ERR_clear_error();
    return out;
}

int tls_server_ctx_new(const char *cert, const char *key, struct ssl_ctx_st **out,
                       strata_err *err)
{
    char why[256];
    int rc = 0;
    *out = NULL;
    if (!cert || !*cert || !key || !*key)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "TLS needs both --tls-cert and --tls-key (PEM files)");
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return err_set(err, STRATA_INTERNAL, "cannot create a TLS context: %s",
                       ssl_reason(why, sizeof why));
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
        rc = err_set(err, STRATA_INTERNAL, "cannot set TLS ciphers: %s",
                     ssl_reason(why, sizeof why));
        goto out;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "cannot load TLS certificate %s: %s", cert,
                     ssl_reason(why, sizeof why));
        goto out;
    }
    int key_ok = SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1;
    if (!key_ok && ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "cannot load TLS key %s: %s", key,
                     ssl_reason(why, sizeof why));
        goto out;
    }
    /* The key of another certificate: refused by the load or by this check. */
    if (!key_ok || SSL_CTX_check_private_key(ctx) != 1) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "TLS key %s does not match the certificate in %s: %s", key, cert,
                     ssl_reason(why, sizeof why));
        goto out;
    }
    if ((rc = check_validity(ctx, cert, err)))
        goto out;
    struct stat st;
    if (stat(key, &st) == 0 && (st.st_mode & S_IRWXO))
        log_warn("TLS key %s is readable by other users (mode %04o): chmod 600 it", key,
                 (unsigned)(st.st_mode & 07777));
    *out = ctx;
    ctx = NULL;
out:
    SSL_CTX_free(ctx);
    return rc;
}

void tls_server_ctx_free(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}
