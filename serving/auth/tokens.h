/*
 * tokens.h - bearer tokens and the token file that holds their hashes.
 *
 * A token is "strata_" followed by 43 base64url characters: 256 random bits
 * (OpenSSL RAND_bytes). It is shown once, when created; only its SHA-256 is
 * kept, so a copy of the token file does not let anyone in.
 *
 * The token file is text, one token per line, fields separated by spaces:
 *
 *   # comments and blank lines are ignored
 *   NAME ROLE SHA256-HEX CREATED
 *   ci_loader writer 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 2025-01-02T03:04:05Z
 *
 * NAME is [a-z][a-z0-9_]{0,63} and unique (it is the principal in the audit
 * log), ROLE one of admin, writer, reader, auditor, SHA256-HEX 64 lowercase
 * hex digits (unique too), CREATED RFC 3339. Any other line makes the whole
 * file invalid: a half-read file could drop a revocation or grant too much.
 * The file may not be writable by its group nor readable, writable or
 * executable by others (mode 0600 or 0640): loading such a file fails.
 */
#ifndef STRATA_AUTH_TOKENS_H
#define STRATA_AUTH_TOKENS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "serving/auth/roles.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/limits.h"

#define AUTH_TOKEN_PREFIX "strata_"
#define AUTH_TOKEN_RANDOM_BYTES 32
/* strlen of a token: the prefix and 43 base64url characters. */
#define AUTH_TOKEN_LEN (sizeof AUTH_TOKEN_PREFIX - 1 + 43)
#define AUTH_HASH_BYTES 32

typedef struct auth_token_entry {
    char name[LIMIT_NAME_MAX + 1];
    auth_role role;
    unsigned char hash[AUTH_HASH_BYTES];
    int64_t created_us;
} auth_token_entry;

/* An immutable list of tokens as loaded; entries in file order. */
typedef struct auth_token_set {
    size_t n;
    auth_token_entry *e;
} auth_token_set;

/* SHA-256 of the token as sent (prefix included). */
void auth_token_hash(slice token, unsigned char out[AUTH_HASH_BYTES]);

/*
 * The entry whose hash matches token's, or NULL. The hash is compared with
 * every entry with CRYPTO_memcmp and no early exit, so the time taken does
 * not depend on which entry, if any, matched, nor on how many bytes did.
 * The pointer lives as long as s.
 */
const auth_token_entry *auth_tokens_match(const auth_token_set *s, slice token);

/* Parse a token file's text (`where` names it in messages). On success *out is
 * a set the caller frees with auth_tokens_free(); on failure err says
 * "WHERE:LINE: reason" (INVALID_ARGUMENT). */
int auth_tokens_parse(slice text, const char *where, auth_token_set **out, strata_err *err);
/* Read and parse the file at path, refusing one other users may read or
 * anyone but its owner may write. st (may be NULL) receives its stat.
 * A missing file is NOT_FOUND; everything else INVALID_ARGUMENT or IO. */
int auth_tokens_load(const char *path, auth_token_set **out, struct stat *st, strata_err *err);
void auth_tokens_free(auth_token_set *s); /* NULL ok */
/* The file's text for s: a comment header, then one line per entry. */
void auth_tokens_format(const auth_token_set *s, buf *out);

/*
 * Editing the file (the `strata token` commands; the daemon only reads).
 * Each takes an exclusive lock on PATH.lock, reads the file, changes it and
 * replaces it atomically (write PATH.tmp with mode 0600, fsync, rename), so
 * a running daemon sees the old file or the new one, never half of one.
 *
 * create: a new token for role, named `name` (NULL: ROLE_N with the first
 * free N). A missing file is created. The token (AUTH_TOKEN_LEN chars + NUL)
 * goes to token_out and the name to name_out; neither is stored.
 * revoke: removes the entry called name (NOT_FOUND if there is none).
 */
int auth_tokens_create(const char *path, auth_role role, const char *name,
                       char token_out[AUTH_TOKEN_LEN + 1], char name_out[LIMIT_NAME_MAX + 1],
                       strata_err *err);
int auth_tokens_revoke(const char *path, const char *name, strata_err *err);

#endif
