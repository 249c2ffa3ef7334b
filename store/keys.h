/*
 * keys.h - byte layouts of the store's RocksDB keys (private to store/).
 *
 * Every integer in a key is big-endian so that memcmp order is numeric order.
 * Times are mapped to unsigned with the sign bit flipped (order preserving),
 * and version fields are stored complemented so that iteration meets the
 * newest version first. Full OFFSET/SIZE tables: docs/architecture.md.
 *
 *   id key (= `latest` key, and the per-id prefix of `values` keys)
 *     0      4   entity id            u32 BE
 *     4      2   entity_id length L   u16 BE (1..LIMIT_ENTITY_ID_MAX)
 *     6      L   entity_id bytes
 *   values key = id key followed by
 *     6+L    4   write group          u32 BE
 *     10+L   8   ~time_key(event_time)    u64 BE
 *     18+L   8   ~time_key(created_time)  u64 BE
 *     26+L   8   ~write seq               u64 BE
 *
 * The length prefix makes id prefixes unambiguous: the keys of id "ab" never
 * share a prefix with those of id "abc".
 *
 * Write groups. Every feature belongs to one group for life, fixed the first
 * time it is written (registry 'G' records). A feature first written alone has
 * its own group, numbered by its feature id (< STORE_GROUP_SET), and the value
 * is its encoded value: one key per version, the layout of stores from before
 * groups, which are read unchanged. Features first written together (in one
 * request or import batch) share a set group STORE_GROUP_SET | n, n their
 * smallest feature id, and one key holds a row's cells of those of them the
 * row carries (store_cells_*): a walk over an entity's rows visits one key per
 * written row, not one per value.
 */
#ifndef STRATA_STORE_KEYS_H
#define STRATA_STORE_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/limits.h"

#define STORE_KEY_ID_HDR 6u          /* entity u32 + length u16 */
#define STORE_KEY_VERSION_SUFFIX 24u /* ~event, ~created, ~seq */
/* Longest values key of a valid entity id: room for any key on the stack. */
#define STORE_KEY_MAX (STORE_KEY_ID_HDR + LIMIT_ENTITY_ID_MAX + 4 + STORE_KEY_VERSION_SUFFIX)

/* Order-preserving int64 <-> uint64 (flip the sign bit). */
static inline uint64_t store_time_key(int64_t t)
{
    return (uint64_t)t ^ (UINT64_C(1) << 63);
}
static inline int64_t store_time_unkey(uint64_t u)
{
    u ^= UINT64_C(1) << 63;
    /* Two's-complement reinterpretation without implementation-defined casts. */
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

#define STORE_GROUP_SET UINT32_C(0x80000000)
static inline bool store_group_is_set(uint32_t group)
{
    return (group & STORE_GROUP_SET) != 0;
}

/* A decoded `values` key; id borrows from the key bytes. */
typedef struct value_key {
    uint32_t entity;
    slice id;
    uint32_t group;
    int64_t event_time;
    int64_t created_time;
    uint64_t seq;
} value_key;

/* Appenders. id.n must be <= UINT16_MAX (callers validate ids first). */
void store_key_entity(buf *b, uint32_t entity);
void store_key_id(buf *b, uint32_t entity, slice id);
void store_key_group(buf *b, uint32_t entity, slice id, uint32_t group);
void store_key_value(buf *b, uint32_t entity, slice id, uint32_t group, int64_t event_time,
                     int64_t created_time, uint64_t seq);
/* Seek target for "newest version with event_time <= ts": group prefix | ~ts. */
void store_key_pit_seek(buf *b, uint32_t entity, slice id, uint32_t group, int64_t ts);
/* Fixed-buffer forms for the read paths: out holds STORE_KEY_MAX bytes and
 * id.n <= LIMIT_ENTITY_ID_MAX. Return the key length. */
size_t store_key_id_to(char *out, uint32_t entity, slice id);
size_t store_key_group_to(char *out, uint32_t entity, slice id, uint32_t group);

/* 0, or -1 when k is not a well-formed values key. */
int store_key_value_decode(slice k, value_key *out);
/* 0, or -1 when k is not a well-formed id (latest) key. */
int store_key_id_decode(slice k, uint32_t *entity, slice *id);
/* Length of the entity|len|id|group prefix of a values key, or 0 when the key
 * is too short to hold one (the values CF prefix extractor). */
size_t store_key_group_prefix_len(const char *k, size_t n);

/* ---- a set group's value: the row's cells, sorted by feature id ----------
 *   cell := varint feature id | varint n | n bytes (the encoded value)
 */
void store_cells_add(buf *b, uint32_t feature, slice value);
/* 1 with the next cell (value borrowed from *rest, which moves past it), 0 at
 * the end, -1 when the bytes are malformed. */
int store_cells_next(slice *rest, uint32_t *feature, slice *value);
/* One feature's cell: 1 found, 0 absent, -1 malformed. */
int store_cells_find(slice row, uint32_t feature, slice *value);

/* Turn b into the smallest key greater than every key starting with b.
 * false when none exists (b empty or all 0xff); b is then unusable. */
bool store_key_successor(buf *b);

/* ---- registry CF ---------------------------------------------------------
 *   'E' | entity name              -> entity record (JSON)
 *   'F' | entity id u32 BE | name  -> feature record (JSON)
 *   'G' | entity id u32 BE | feature id u32 BE -> write group u32 BE
 *   'P' | entity id u32 BE | feature id u32 BE -> "" : a deleted feature whose
 *         stored versions are still being removed (store_purge_feature)
 */
#define STORE_REG_ENTITY_TAG 'E'
#define STORE_REG_FEATURE_TAG 'F'
#define STORE_REG_GROUP_TAG 'G'
#define STORE_REG_PURGE_TAG 'P'
void store_key_reg_entity(buf *b, slice name);
void store_key_reg_feature(buf *b, uint32_t entity, slice name);
void store_key_reg_feature_prefix(buf *b, uint32_t entity);
void store_key_reg_group(buf *b, uint32_t entity, uint32_t feature);
void store_key_reg_group_prefix(buf *b, uint32_t entity);
void store_key_reg_purge(buf *b, uint32_t entity, uint32_t feature);
/* tag | entity id: the prefix of one entity's records of that kind. */
void store_key_reg_prefix(buf *b, char tag, uint32_t entity);

/* ---- meta CF: ASCII keys, big-endian integer values ---------------------- */
#define STORE_META_LAYOUT "layout_version"        /* u32: the on-disk layout */
#define STORE_META_SEQ_CEILING "seq_ceiling"      /* u64: first unreserved seq */
#define STORE_META_NEXT_ENTITY "next_entity_id"   /* u32 */
#define STORE_META_NEXT_FEATURE "next_feature_id" /* u32 */

#endif
