/*
 * text.h - validation of outside text: names, entity ids, UTF-8, and checked
 * number parsing that rejects junk, signs where none belong, and overflow.
 */
#ifndef STRATA_BASE_TEXT_H
#define STRATA_BASE_TEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"

/* [a-z][a-z0-9_]{0,63}: entities, features, models, schedules. */
bool text_valid_name(slice s);
/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool text_valid_utf8(slice s);
/* Replace, in place, every byte of a NUL-terminated string that is not part
 * of well-formed UTF-8 with '?': for messages that quote client bytes or were
 * cut mid-character, which must still be valid JSON strings. */
void text_scrub_utf8(char *s);
/* Any UTF-8 string of 1..256 bytes. */
bool text_valid_entity_id(slice s);

/* Whole-string decimal parsers: 0 on success, -1 on empty, junk or overflow. */
int text_parse_i64(slice s, int64_t *out);
int text_parse_u64(slice s, uint64_t *out); /* no sign accepted */
int text_parse_bool(slice s, bool *out);    /* true/false/1/0 */

/* Hex: the value of one digit (either case) or -1; n bytes appended as
 * lowercase hex; exactly 2*n digits decoded into out (-1 on a wrong length
 * or a non-hex digit, out then unspecified). */
int text_hex_digit(char c);
void text_hex_append(buf *out, const void *p, size_t n);
int text_hex_decode(slice s, void *out, size_t n);

/* Write s as a printable, bounded excerpt for error messages ("abc…"). */
void text_excerpt(slice s, char *out, size_t cap);

#endif
