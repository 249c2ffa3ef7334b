/*
 * audit.h - the tamper-evident audit log.
 *
 * Every state-changing request of the daemon appends one record: sequence
 * number, time, principal, action, target, and the SHA-256 digest that chains
 * it to its predecessor. Changing, removing or reordering any stored record
 * breaks the chain at that record, which audit_verify reports as
 * first_bad_seq. (Cutting records off the end leaves a shorter valid chain:
 * anchor the head digest outside Strata — /v1/audit:verify returns it — to
 * detect that too.)
 *
 * Record key in STORE_SPACE_AUDIT:
 *
 *   OFFSET  SIZE  FIELD
 *   0       8     seq, u64 big-endian (1, 2, 3, ...)
 *
 * Value: the record as compact JSON
 *   {"seq","time","principal","action","target","status","prev_digest","digest"}
 * plus "detail" (an object of strings, integers and arrays of strings) when
 * the request said more
 * than its route and target (what a value delete removed), with digest =
 * SHA-256 over, in order, each as a u32 BE length then its bytes:
 *   prev_digest (64 hex chars; 64 zeros for seq 1), seq (decimal), time
 *   (int64 microseconds, decimal), principal, action, target, status (decimal),
 *   and, only when there is a detail, the detail as compact JSON with its keys
 *   sorted (records without one hash as before details existed).
 */
#ifndef STRATA_LINEAGE_AUDIT_H
#define STRATA_LINEAGE_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "store/store.h"

typedef struct audit_log audit_log;

/* Open over the store: finds the chain's head. CORRUPT when the last record
 * cannot be read. */
int audit_open(store_t *st, audit_log **out, strata_err *err);
void audit_close(audit_log *log); /* NULL ok */

/* Append one record (serialised: one chain). status is the HTTP status the
 * request was answered with; detail (NULL: none) an object of strings and
 * integers. *seq_out (may be NULL) gets the new seq. */
int audit_append(audit_log *log, const char *principal, const char *action, slice target,
                 int status, const json_t *detail, uint64_t *seq_out, strata_err *err);

/* The digest an audit detail gives for a set of entity ids (what a delete by
 * ids removed), so that whoever holds the list can check it without the log
 * keeping the ids: SHA-256 over the distinct ids in byte order, each as a
 * u32 BE length then its bytes, as 64 hex chars + NUL. Returns the number of
 * distinct ids. */
size_t audit_ids_digest(const slice *ids, size_t n, char out[65]);

/* Records with seq >= since_seq, at most limit, appended to `records` (a JSON
 * array) in the API shape; *next_seq is the seq to continue from, 0 at the end. */
int audit_list(audit_log *log, uint64_t since_seq, size_t limit, json_t *records,
               uint64_t *next_seq, strata_err *err);

typedef struct audit_verify_result {
    bool ok;
    uint64_t records_checked;
    uint64_t first_bad_seq; /* when !ok */
    char reason[160];       /* when !ok: what did not match */
    uint64_t head_seq;
    char head_digest[65];
} audit_verify_result;

/* Walk the whole chain from seq 1 and recompute every digest. */
int audit_verify(audit_log *log, audit_verify_result *out, strata_err *err);

#endif
