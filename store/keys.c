/*
 * keys.c - encoders and decoders for the store's keys (layouts in keys.h).
 *
 * Decoders never trust their input: a key read back from RocksDB that does not
 * parse is reported as corruption by the caller, never read past its end.
 */
#include "store/keys.h"

#include "base/log.h"

void store_key_entity(buf *b, uint32_t entity)
{
    buf_put_u32be(b, entity);
}

void store_key_id(buf *b, uint32_t entity, slice id)
{
    STRATA_ASSERT(id.n <= UINT16_MAX);
    buf_reserve(b, STORE_KEY_ID_HDR + id.n);
    buf_put_u32be(b, entity);
    buf_put_u16be(b, (uint16_t)id.n);
    buf_append(b, id.p, id.n);
}

void store_key_group(buf *b, uint32_t entity, slice id, uint32_t group)
{
    buf_reserve(b, STORE_KEY_ID_HDR + id.n + 4 + STORE_KEY_VERSION_SUFFIX);
    store_key_id(b, entity, id);
    buf_put_u32be(b, group);
}

void store_key_value(buf *b, uint32_t entity, slice id, uint32_t group, int64_t event_time,
                     int64_t created_time, uint64_t seq)
{
    store_key_group(b, entity, id, group);
    buf_put_u64be(b, ~store_time_key(event_time));
    buf_put_u64be(b, ~store_time_key(created_time));
    buf_put_u64be(b, ~seq);
}

void store_key_pit_seek(buf *b, uint32_t entity, slice id, uint32_t group, int64_t ts)
{
    store_key_group(b, entity, id, group);
    buf_put_u64be(b, ~store_time_key(ts));
}

size_t store_key_id_to(char *out, uint32_t entity, slice id)
{
    STRATA_ASSERT(id.n <= LIMIT_ENTITY_ID_MAX);
    put_u32be(out, entity);
    out[4] = (char)(id.n >> 8);
    out[5] = (char)id.n;
    if (id.n)
        memcpy(out + STORE_KEY_ID_HDR, id.p, id.n);
    return STORE_KEY_ID_HDR + id.n;
}

size_t store_key_group_to(char *out, uint32_t entity, slice id, uint32_t group)
{
    size_t n = store_key_id_to(out, entity, id);
    put_u32be(out + n, group);
    return n + 4;
}

int store_key_id_decode(slice k, uint32_t *entity, slice *id)
{
    if (k.n < STORE_KEY_ID_HDR)
        return -1;
    size_t len = get_u16be(k.p + 4);
    if (k.n != STORE_KEY_ID_HDR + len)
        return -1;
    *entity = get_u32be(k.p);
    *id = (slice){k.p + STORE_KEY_ID_HDR, len};
    return 0;
}

size_t store_key_group_prefix_len(const char *k, size_t n)
{
    if (n < STORE_KEY_ID_HDR)
        return 0;
    size_t want = STORE_KEY_ID_HDR + (size_t)get_u16be(k + 4) + 4;
    return n >= want ? want : 0;
}

int store_key_value_decode(slice k, value_key *out)
{
    size_t pre = store_key_group_prefix_len(k.p, k.n);
    if (pre == 0 || k.n != pre + STORE_KEY_VERSION_SUFFIX)
        return -1;
    const char *v = k.p + pre;
    out->entity = get_u32be(k.p);
    out->id = (slice){k.p + STORE_KEY_ID_HDR, pre - STORE_KEY_ID_HDR - 4};
    out->group = get_u32be(k.p + pre - 4);
    out->event_time = store_time_unkey(~get_u64be(v));
    out->created_time = store_time_unkey(~get_u64be(v + 8));
    out->seq = ~get_u64be(v + 16);
    return 0;
}

void store_cells_add(buf *b, uint32_t feature, slice value)
{
    buf_put_varint(b, feature);
    buf_put_varint(b, value.n);
    buf_append_slice(b, value);
}

int store_cells_next(slice *rest, uint32_t *feature, slice *value)
{
    if (rest->n == 0)
        return 0;
    const char *p = rest->p, *end = rest->p + rest->n;
    uint64_t f, n;
    if (varint_get(&p, end, &f) || f >= STORE_GROUP_SET || varint_get(&p, end, &n) ||
        n > (uint64_t)(end - p))
        return -1;
    *feature = (uint32_t)f;
    *value = (slice){p, (size_t)n};
    rest->n = (size_t)(end - (p + n));
    rest->p = p + n;
    return 1;
}

int store_cells_find(slice row, uint32_t feature, slice *value)
{
    uint32_t f;
    int rc;
    while ((rc = store_cells_next(&row, &f, value)) == 1) {
        if (f == feature)
            return 1;
        if (f > feature)
            return 0;
    }
    return rc;
}

bool store_key_successor(buf *b)
{
    while (b->n > 0 && (unsigned char)b->p[b->n - 1] == 0xff)
        b->n--;
    if (b->n == 0)
        return false;
    b->p[b->n - 1] = (char)((unsigned char)b->p[b->n - 1] + 1);
    b->p[b->n] = '\0';
    return true;
}

void store_key_reg_entity(buf *b, slice name)
{
    buf_putc(b, STORE_REG_ENTITY_TAG);
    buf_append(b, name.p, name.n);
}

void store_key_reg_prefix(buf *b, char tag, uint32_t entity)
{
    buf_putc(b, tag);
    buf_put_u32be(b, entity);
}

void store_key_reg_feature_prefix(buf *b, uint32_t entity)
{
    store_key_reg_prefix(b, STORE_REG_FEATURE_TAG, entity);
}

void store_key_reg_feature(buf *b, uint32_t entity, slice name)
{
    store_key_reg_feature_prefix(b, entity);
    buf_append(b, name.p, name.n);
}

void store_key_reg_group_prefix(buf *b, uint32_t entity)
{
    store_key_reg_prefix(b, STORE_REG_GROUP_TAG, entity);
}

void store_key_reg_group(buf *b, uint32_t entity, uint32_t feature)
{
    store_key_reg_group_prefix(b, entity);
    buf_put_u32be(b, feature);
}

void store_key_reg_purge(buf *b, uint32_t entity, uint32_t feature)
{
    store_key_reg_prefix(b, STORE_REG_PURGE_TAG, entity);
    buf_put_u32be(b, feature);
}
