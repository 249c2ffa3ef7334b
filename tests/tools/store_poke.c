/*
 * store_poke - a test tool that reads or overwrites one record of a stopped
 * daemon's store directly, bypassing every API: how the tamper tests play an
 * attacker with access to the data directory.
 *
 *   store_poke DATA_DIR audit SEQ get
 *   store_poke DATA_DIR audit SEQ set VALUE
 *   store_poke DATA_DIR audit SEQ delete
 *   store_poke DATA_DIR layout VERSION   (the on-disk layout marker: upgrade tests)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "store/keys.h"
#include "store/store.h"
#include "store/store_int.h"

/* Overwrite the layout version in `meta`, as a newer build would have left it. */
static int set_layout(const char *dir, const char *layout)
{
    uint64_t v;
    if (text_parse_u64(slice_of(layout), &v) || v > UINT32_MAX) {
        fprintf(stderr, "bad version\n");
        return 2;
    }
    store_options o = {.path = dir};
    store_t *st = NULL;
    strata_err err = STRATA_ERR_INIT;
    if (store_open(&o, &st, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    char b[4], *rerr = NULL;
    put_u32be(b, (uint32_t)v);
    rocksdb_put_cf(st->db, st->wo_sync, st->cf[CF_META], STORE_META_LAYOUT,
                   strlen(STORE_META_LAYOUT), b, sizeof b, &rerr);
    store_close(st);
    if (rerr) {
        fprintf(stderr, "store_poke: %s\n", rerr);
        rocksdb_free(rerr);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[2], "layout") == 0)
        return set_layout(argv[1], argv[3]);
    if (argc < 5 || strcmp(argv[2], "audit") != 0) {
        fprintf(stderr, "usage: store_poke DATA_DIR audit SEQ get|set VALUE|delete\n");
        return 2;
    }
    uint64_t seq;
    if (text_parse_u64(slice_of(argv[3]), &seq)) {
        fprintf(stderr, "bad seq\n");
        return 2;
    }
    store_options o = {.path = argv[1]};
    store_t *st = NULL;
    strata_err err = STRATA_ERR_INIT;
    if (store_open(&o, &st, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    char key[8];
    put_u64be(key, seq);
    int rc = 0;
    if (strcmp(argv[4], "get") == 0) {
        buf v = BUF_INIT;
        rc = store_kv_get(st, STORE_SPACE_AUDIT, NULL, (slice){key, 8}, &v, &err);
        if (rc == 0)
            printf("%.*s\n", (int)v.n, v.p);
        buf_free(&v);
    } else {
        store_batch *b = store_batch_new();
        if (strcmp(argv[4], "set") == 0 && argc == 6)
            store_batch_put(b, STORE_SPACE_AUDIT, (slice){key, 8}, slice_of(argv[5]));
        else
            store_batch_delete(b, STORE_SPACE_AUDIT, (slice){key, 8});
        rc = store_batch_commit(st, b, true, &err);
        store_batch_free(b);
    }
    if (rc)
        fprintf(stderr, "store_poke: %s\n", err.message[0] ? err.message : "not found");
    store_close(st);
    err_clear(&err);
    return rc ? 1 : 0;
}
