/*
 * filter.c - ML Metadata's filter query language: lexer, recursive-descent
 * parser and evaluator (see lineage/filter.h for the language).
 *
 * NOTES ON THE DESIGN
 *
 * The parsed filter is a handful of flat arrays owned by the lfilter: nodes,
 * child lists, literals, compiled LIKE patterns and one pool of decoded string
 * bytes. Nodes name each other by index, so growing an array never invalidates
 * a link and lfilter_free is five free() calls. AND and OR are n-ary: a chain
 * of a thousand ANDs is one node with a thousand children, so the tree is only
 * as deep as the parentheses and NOTs, which the parser bounds.
 *
 * Every predicate knows the type of its field (ids and int_value are integers,
 * times are times, string_value is a string, …), so a literal of the wrong type
 * is refused at parse time and the evaluator only ever compares like with like.
 * Times are normalised at parse time: an integer is milliseconds since the
 * epoch, compared with the node's time truncated to milliseconds (MLMD's unit);
 * an RFC 3339 string is compared to the microsecond.
 *
 * Evaluation is SQL's three-valued logic: a comparison on a missing value is
 * UNKNOWN, AND/OR/NOT propagate it as SQL does, and only TRUE matches.
 *
 * Relation aliases (contexts_a, parent_contexts_b, …) follow MLMD's joins: the
 * filter holds when there is one choice of a context for every alias that
 * makes the whole expression TRUE; an empty relation offers one absent context
 * whose fields are all NULL (a LEFT JOIN). The evaluator avoids enumerating
 * the full cross product: the existential distributes over OR (and over AND
 * when the wanted value is FALSE), and the children of an AND are split into
 * groups that share no alias, so `contexts_a.name = 'x' AND contexts_b.type =
 * 'T'` costs n + n, not n * n. Only predicates that tie two aliases together
 * inside an OR or NOT pay for combinations, and a work budget caps those.
 */
#include "lineage/filter.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dtoa.h"
#include "base/log.h"
#include "base/text.h"
#include "base/timeutil.h"
#include "lineage/filter_int.h"

/* ---- the parsed form ---------------------------------------------------- */

enum rel { REL_NODE, REL_CONTEXTS, REL_PARENT, REL_CHILD };

enum attr {
    AT_ID,
    AT_NAME,
    AT_URI,
    AT_TYPE,
    AT_STATE,
    AT_EXTERNAL_ID,
    AT_CREATE_TIME,
    AT_UPDATE_TIME,
    AT_PROP,
    AT_CUSTOM_PROP,
};

/* What a field holds, and so which literals it takes. */
enum vkind { VK_INT, VK_DOUBLE, VK_STRING, VK_BOOL, VK_TIME };

enum lkind { LIT_INT, LIT_DOUBLE, LIT_STRING, LIT_BOOL, LIT_TIME_MS, LIT_TIME_US };

enum nkind { N_AND, N_OR, N_NOT, N_CMP, N_IN, N_LIKE, N_NULL };

enum cmpop { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

enum { LK_BYTE, LK_ONE, LK_ANY };

typedef struct field {
    uint8_t rel;   /* enum rel */
    int8_t alias;  /* index into lfilter.aliases; -1 for the node itself */
    uint8_t attr;  /* enum attr */
    uint8_t vkind; /* enum vkind */
    uint32_t off;  /* property name in the pool (AT_PROP, AT_CUSTOM_PROP) */
    uint32_t len;
} field;

typedef struct lit {
    uint8_t kind; /* enum lkind */
    int64_t i;    /* LIT_INT, LIT_BOOL (0/1), LIT_TIME_MS (ms), LIT_TIME_US (µs) */
    double d;     /* LIT_DOUBLE */
    uint32_t off; /* LIT_STRING bytes in the pool */
    uint32_t len;
} lit;

typedef struct likeel {
    uint8_t kind; /* LK_* */
    uint8_t ch;   /* LK_BYTE */
} likeel;

typedef struct node {
    uint8_t kind;  /* enum nkind */
    uint8_t op;    /* N_CMP: enum cmpop */
    bool negate;   /* NOT IN, NOT LIKE, IS NOT NULL */
    uint32_t mask; /* aliases referenced in this subtree, bit per alias */
    field f;       /* predicates */
    /* N_AND/N_OR: kids[a, a+n); N_NOT: child a; N_CMP: lits[a];
     * N_IN: lits[a, a+n); N_LIKE: pat[a, a+n). */
    uint32_t a, n;
} node;

typedef struct alias {
    uint8_t rel;
    uint32_t off, len; /* the alias name ("a" of contexts_a) in the pool */
} alias;

struct lfilter {
    node *nodes;
    size_t nnodes, cap_nodes;
    uint32_t *kids;
    size_t nkids, cap_kids;
    lit *lits;
    size_t nlits, cap_lits;
    likeel *pat;
    size_t npat, cap_pat;
    buf pool;
    alias aliases[LFILTER_MAX_ALIASES];
    unsigned naliases;
    uint32_t root;
};

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *np = realloc(p, nc * elem);
    STRATA_ASSERT(np != NULL);
    *cap = nc;
    return np;
}

static uint32_t add_node(lfilter *f, const node *nd)
{
    f->nodes = grow(f->nodes, &f->cap_nodes, f->nnodes + 1, sizeof *f->nodes);
    f->nodes[f->nnodes] = *nd;
    return (uint32_t)f->nnodes++;
}

static uint32_t add_lit(lfilter *f, const lit *l)
{
    f->lits = grow(f->lits, &f->cap_lits, f->nlits + 1, sizeof *f->lits);
    f->lits[f->nlits] = *l;
    return (uint32_t)f->nlits++;
}

static slice pool_slice(const lfilter *f, uint32_t off, uint32_t len)
{
    return (slice){len ? f->pool.p + off : "", len};
}

void lfilter_free(lfilter *f)
{
    if (!f)
        return;
    free(f->nodes);
    free(f->kids);
    free(f->lits);
    free(f->pat);
    buf_free(&f->pool);
    free(f);
}

/* ---- field and keyword tables -------------------------------------------- */

static const struct {
    const char *name;
    uint8_t attr, vkind;
} k_attrs[] = {
    /* The first spelling of each attribute is its canonical one (lfilter_dump). */
    {"id", AT_ID, VK_INT},
    {"name", AT_NAME, VK_STRING},
    {"uri", AT_URI, VK_STRING},
    {"type", AT_TYPE, VK_STRING},
    {"state", AT_STATE, VK_STRING},
    {"last_known_state", AT_STATE, VK_STRING}, /* MLMD's name for an execution's */
    {"external_id", AT_EXTERNAL_ID, VK_STRING},
    {"create_time", AT_CREATE_TIME, VK_TIME},
    {"create_time_since_epoch", AT_CREATE_TIME, VK_TIME},
    {"update_time", AT_UPDATE_TIME, VK_TIME},
    {"last_update_time_since_epoch", AT_UPDATE_TIME, VK_TIME},
};

/* The node JSON's key for each plain attribute. */
static const char *const k_json_key[] = {
    [AT_ID] = "id",
    [AT_NAME] = "name",
    [AT_URI] = "uri",
    [AT_TYPE] = "type",
    [AT_STATE] = "state",
    [AT_EXTERNAL_ID] = "external_id",
    [AT_CREATE_TIME] = "create_time",
    [AT_UPDATE_TIME] = "update_time",
};

static const struct {
    const char *name;
    uint8_t vkind;
} k_value_kinds[] = {
    {"int_value", VK_INT},
    {"double_value", VK_DOUBLE},
    {"string_value", VK_STRING},
    {"bool_value", VK_BOOL},
};

static const struct {
    const char *prefix;
    uint8_t rel;
} k_relations[] = {
    {"contexts_", REL_CONTEXTS},
    {"parent_contexts_", REL_PARENT},
    {"child_contexts_", REL_CHILD},
};

/* Artifact and execution states (the API contract), accepted unquoted as in
 * MLMD's `state = LIVE`. Quoted strings are compared as they are. */
static const char *const k_states[] = {
    "PENDING", "LIVE",      "MARKED_FOR_DELETION",
    "DELETED", "ABANDONED", "NEW",
    "RUNNING", "COMPLETE",  "FAILED",
    "CACHED",  "CANCELED",
};

static const char *const k_vkind_desc[] = {
    [VK_INT] = "an integer",
    [VK_DOUBLE] = "a number",
    [VK_STRING] = "a string",
    [VK_BOOL] = "TRUE or FALSE",
    [VK_TIME] = "an RFC 3339 string or integer milliseconds since the epoch",
};

static const char *const k_op_text[] = {
    [OP_EQ] = "=", [OP_NE] = "!=", [OP_LT] = "<", [OP_LE] = "<=", [OP_GT] = ">", [OP_GE] = ">=",
};

/* ---- lexer --------------------------------------------------------------- */

enum tok_kind {
    T_END,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_OP,
    T_INT,
    T_DEC,
    T_STR,
    T_NAME, /* a field path, or a bare word such as an unquoted state */
    T_AND,
    T_OR,
    T_NOT,
    T_IN,
    T_LIKE,
    T_IS,
    T_NULL,
    T_TRUE,
    T_FALSE,
};

static const struct {
    const char *word;
    enum tok_kind kind;
} k_keywords[] = {
    {"AND", T_AND}, {"OR", T_OR},     {"NOT", T_NOT},   {"IN", T_IN},       {"LIKE", T_LIKE},
    {"IS", T_IS},   {"NULL", T_NULL}, {"TRUE", T_TRUE}, {"FALSE", T_FALSE},
};

/* Dotted segments a field path can have (properties.<p>.<kind>); one more is
 * kept so the error can point at it. */
#define MAX_SEGS 3

typedef struct seg {
    size_t pos;        /* where the segment starts in the input */
    uint32_t off, len; /* its decoded name in the pool */
} seg;

typedef struct token {
    enum tok_kind kind;
    size_t pos, end; /* byte span in the input */
    uint8_t op;      /* T_OP */
    int64_t i;       /* T_INT */
    double d;        /* T_DEC */
    uint32_t off;    /* T_STR: decoded bytes in the pool */
    uint32_t len;
    size_t nseg; /* T_NAME */
    seg segs[MAX_SEGS + 1];
} token;

typedef struct parser {
    const char *s;
    size_t n;
    size_t pos; /* lexer cursor */
    token tok;  /* the current token */
    lfilter *f;
    strata_err *err;
    int rc; /* the first error; later ones are dropped */
    unsigned depth;
} parser;

__attribute__((format(printf, 2, 3))) static int fail(parser *p, const char *fmt, ...)
{
    if (p->rc)
        return p->rc;
    char msg[STRATA_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(p->err, STRATA_INVALID_ARGUMENT, "filter: %.*s", STRATA_ERR_MSG_MAX - 16, msg);
    p->rc = STRATA_INVALID_ARGUMENT;
    return p->rc;
}

/* A token for an error message: "end of filter" or its text in quotes. */
typedef struct desc {
    char s[56];
} desc;

static desc describe(const parser *p, const token *t)
{
    desc d;
    if (t->kind == T_END) {
        snprintf(d.s, sizeof d.s, "end of filter");
        return d;
    }
    char ex[48];
    text_excerpt((slice){p->s + t->pos, t->end - t->pos}, ex, sizeof ex);
    snprintf(d.s, sizeof d.s, "\"%s\"", ex);
    return d;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_ident(char c)
{
    return is_ident_start(c) || is_digit(c);
}

static bool eq_nocase(slice s, const char *word)
{
    size_t n = strlen(word);
    if (s.n != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s.p[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != word[i])
            return false;
    }
    return true;
}

static slice seg_slice(const parser *p, const token *t, size_t k)
{
    return pool_slice(p->f, t->segs[k].off, t->segs[k].len);
}

static int lex_string(parser *p, size_t i)
{
    const char *s = p->s;
    size_t n = p->n, start = i;
    char q = s[i++];
    buf *pool = &p->f->pool;
    uint32_t off = (uint32_t)pool->n;
    for (;;) {
        if (i >= n)
            return fail(p, "unterminated string at position %zu", start);
        char c = s[i];
        if (c == q) {
            i++;
            break;
        }
        if (c != '\\') {
            buf_putc(pool, c);
            i++;
            continue;
        }
        if (i + 1 >= n)
            return fail(p, "unterminated string at position %zu", start);
        char e = s[i + 1];
        switch (e) {
        case '\'':
        case '"':
        case '\\':
            buf_putc(pool, e);
            break;
        case 'n':
            buf_putc(pool, '\n');
            break;
        case 't':
            buf_putc(pool, '\t');
            break;
        case 'r':
            buf_putc(pool, '\r');
            break;
        case '%':
        case '_':
            /* Kept with its backslash, so a LIKE pattern sees an escaped
             * wildcard (MySQL's rule); outside LIKE it is the two bytes. */
            buf_putc(pool, '\\');
            buf_putc(pool, e);
            break;
        default: {
            char ex[8];
            text_excerpt((slice){s + i + 1, 1}, ex, sizeof ex);
            return fail(p,
                        "invalid escape \"\\%s\" at position %zu (strings take \\' \\\" \\\\ \\n "
                        "\\t \\r, and \\%% \\_ in LIKE patterns)",
                        ex, i);
        }
        }
        i += 2;
    }
    token *t = &p->tok;
    t->kind = T_STR;
    t->off = off;
    t->len = (uint32_t)(pool->n - off);
    if (!text_valid_utf8(pool_slice(p->f, t->off, t->len)))
        return fail(p, "string at position %zu is not valid UTF-8", start);
    t->end = i;
    p->pos = i;
    return 0;
}

static int lex_number(parser *p, size_t i)
{
    const char *s = p->s;
    size_t n = p->n, start = i;
    bool dec = false;
    if (s[i] == '-')
        i++;
    while (i < n && is_digit(s[i]))
        i++;
    if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
        dec = true;
        for (i++; i < n && is_digit(s[i]); i++)
            ;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < n && is_digit(s[j])) {
            dec = true;
            for (i = j; i < n && is_digit(s[i]); i++)
                ;
        }
    }
    if (i < n && (is_ident(s[i]) || s[i] == '.' || s[i] == '`'))
        return fail(p, "invalid number at position %zu", start);
    token *t = &p->tok;
    slice num = {s + start, i - start};
    if (!dec) {
        if (text_parse_i64(num, &t->i))
            return fail(p, "integer out of range at position %zu", start);
        t->kind = T_INT;
    } else {
        char tmp[80];
        if (num.n >= sizeof tmp)
            return fail(p, "number too long at position %zu", start);
        memcpy(tmp, num.p, num.n);
        tmp[num.n] = '\0';
        char *endp = NULL;
        errno = 0;
        t->d = strtod(tmp, &endp);
        if (endp != tmp + num.n || !isfinite(t->d))
            return fail(p, "number out of range at position %zu", start);
        t->kind = T_DEC;
    }
    t->end = i;
    p->pos = i;
    return 0;
}

/* A dotted path: ident ( '.' ( [A-Za-z0-9_]+ | `quoted` ) )*. */
static int lex_name(parser *p, size_t i)
{
    const char *s = p->s;
    size_t n = p->n;
    buf *pool = &p->f->pool;
    token *t = &p->tok;
    t->kind = T_NAME;
    for (;;) {
        size_t segpos = i;
        uint32_t off = (uint32_t)pool->n;
        if (i < n && s[i] == '`') {
            for (i++;; i++) {
                if (i >= n)
                    return fail(p, "unterminated quoted name at position %zu", segpos);
                if (s[i] == '`')
                    break;
                if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '`' || s[i + 1] == '\\'))
                    i++;
                buf_putc(pool, s[i]);
            }
            i++;
            if (pool->n == off)
                return fail(p, "empty quoted name at position %zu", segpos);
            if (!text_valid_utf8(pool_slice(p->f, off, (uint32_t)(pool->n - off))))
                return fail(p, "quoted name at position %zu is not valid UTF-8", segpos);
        } else {
            size_t b = i;
            while (i < n && is_ident(s[i]))
                i++;
            if (i == b)
                return fail(p, "expected a name after '.' at position %zu", i);
            buf_append(pool, s + b, i - b);
        }
        if (t->nseg <= MAX_SEGS)
            t->segs[t->nseg] = (seg){segpos, off, (uint32_t)(pool->n - off)};
        t->nseg++;
        if (i < n && s[i] == '.') {
            i++;
            continue;
        }
        break;
    }
    if (t->nseg == 1) {
        slice w = seg_slice(p, t, 0);
        for (size_t k = 0; k < sizeof k_keywords / sizeof k_keywords[0]; k++)
            if (eq_nocase(w, k_keywords[k].word))
                t->kind = k_keywords[k].kind;
    }
    t->end = i;
    p->pos = i;
    return 0;
}

static int lex(parser *p)
{
    const char *s = p->s;
    size_t n = p->n, i = p->pos;
    while (i < n && is_space(s[i]))
        i++;
    token *t = &p->tok;
    memset(t, 0, sizeof *t);
    t->pos = i;
    if (i == n) {
        t->kind = T_END;
        t->end = p->pos = i;
        return 0;
    }
    char c = s[i];
    switch (c) {
    case '(':
        t->kind = T_LPAREN;
        i++;
        break;
    case ')':
        t->kind = T_RPAREN;
        i++;
        break;
    case ',':
        t->kind = T_COMMA;
        i++;
        break;
    case '=':
        if (i + 1 < n && s[i + 1] == '=')
            return fail(p, "'==' is not an operator at position %zu (use '=')", i);
        t->kind = T_OP;
        t->op = OP_EQ;
        i++;
        break;
    case '!':
        if (i + 1 < n && s[i + 1] == '=') {
            t->kind = T_OP;
            t->op = OP_NE;
            i += 2;
            break;
        }
        return fail(p, "unexpected '!' at position %zu (use '!=' or NOT)", i);
    case '<':
        t->kind = T_OP;
        if (i + 1 < n && s[i + 1] == '=') {
            t->op = OP_LE;
            i += 2;
        } else if (i + 1 < n && s[i + 1] == '>') {
            t->op = OP_NE;
            i += 2;
        } else {
            t->op = OP_LT;
            i++;
        }
        break;
    case '>':
        t->kind = T_OP;
        if (i + 1 < n && s[i + 1] == '=') {
            t->op = OP_GE;
            i += 2;
        } else {
            t->op = OP_GT;
            i++;
        }
        break;
    case '\'':
    case '"':
        return lex_string(p, i);
    default:
        if (is_digit(c) || (c == '-' && i + 1 < n && is_digit(s[i + 1])))
            return lex_number(p, i);
        if (is_ident_start(c))
            return lex_name(p, i);
        if (c == '`')
            return fail(p,
                        "unexpected '`' at position %zu (quoted names only follow a dot, as "
                        "in properties.`my name`.int_value)",
                        i);
        char ex[8];
        text_excerpt((slice){s + i, 1}, ex, sizeof ex);
        return fail(p, "unexpected character \"%s\" at position %zu", ex, i);
    }
    t->end = p->pos = i;
    return 0;
}

/* ---- parser --------------------------------------------------------------- */

static int parse_or(parser *p, uint32_t *out);

/* The field's text as written, for messages. */
static desc field_text(const parser *p, const token *t)
{
    desc d;
    text_excerpt((slice){p->s + t->pos, t->end - t->pos}, d.s, sizeof d.s);
    return d;
}

static bool lookup_attr(slice s, field *fd)
{
    for (size_t k = 0; k < sizeof k_attrs / sizeof k_attrs[0]; k++) {
        if (slice_eq_str(s, k_attrs[k].name)) {
            fd->attr = k_attrs[k].attr;
            fd->vkind = k_attrs[k].vkind;
            return true;
        }
    }
    return false;
}

static int resolve_field(parser *p, const token *t, field *fd)
{
    memset(fd, 0, sizeof *fd);
    fd->alias = -1;
    slice s0 = seg_slice(p, t, 0);
    bool prop = slice_eq_str(s0, "properties"), cprop = slice_eq_str(s0, "custom_properties");
    int rel = -1;
    slice alias_name = {"", 0};
    for (size_t k = 0; k < sizeof k_relations / sizeof k_relations[0]; k++) {
        size_t pn = strlen(k_relations[k].prefix);
        if (s0.n >= pn && memcmp(s0.p, k_relations[k].prefix, pn) == 0) {
            rel = k_relations[k].rel;
            alias_name = (slice){s0.p + pn, s0.n - pn};
            break;
        }
    }
    if (prop || cprop) {
        if (t->nseg < 3)
            return fail(p,
                        "expected .<name>.<int_value|double_value|string_value|bool_value> "
                        "after %s at position %zu",
                        field_text(p, t).s, t->end);
        if (t->nseg > 3)
            return fail(p, "unexpected '.' at position %zu after the value kind",
                        t->segs[3].pos - 1);
        slice vk = seg_slice(p, t, 2);
        size_t k;
        for (k = 0; k < sizeof k_value_kinds / sizeof k_value_kinds[0]; k++)
            if (slice_eq_str(vk, k_value_kinds[k].name))
                break;
        if (k == sizeof k_value_kinds / sizeof k_value_kinds[0]) {
            char ex[48];
            text_excerpt(vk, ex, sizeof ex);
            return fail(p,
                        "unknown property value \"%s\" at position %zu (expected int_value, "
                        "double_value, string_value or bool_value)",
                        ex, t->segs[2].pos);
        }
        fd->rel = REL_NODE;
        fd->attr = prop ? AT_PROP : AT_CUSTOM_PROP;
        fd->vkind = k_value_kinds[k].vkind;
        fd->off = t->segs[1].off;
        fd->len = t->segs[1].len;
        return 0;
    }
    if (rel >= 0) {
        if (alias_name.n == 0)
            return fail(p, "missing alias after \"%.*s\" at position %zu (as in contexts_a.name)",
                        (int)s0.n, s0.p, t->pos);
        if (t->nseg < 2)
            return fail(p, "expected .<field> after %s at position %zu", field_text(p, t).s,
                        t->end);
        if (t->nseg > 2)
            return fail(p,
                        "unexpected '.' at position %zu (%.*s takes id, name, type, uri, "
                        "state, external_id or a time)",
                        t->segs[2].pos - 1, (int)s0.n, s0.p);
        if (!lookup_attr(seg_slice(p, t, 1), fd)) {
            char ex[48];
            text_excerpt(seg_slice(p, t, 1), ex, sizeof ex);
            return fail(p, "unknown context field \"%s\" at position %zu", ex, t->segs[1].pos);
        }
        lfilter *f = p->f;
        unsigned a;
        for (a = 0; a < f->naliases; a++) {
            if (f->aliases[a].rel == rel &&
                slice_eq(pool_slice(f, f->aliases[a].off, f->aliases[a].len), alias_name))
                break;
        }
        if (a == f->naliases) {
            if (a == LFILTER_MAX_ALIASES)
                return fail(p, "more than %u relation aliases at position %zu", LFILTER_MAX_ALIASES,
                            t->pos);
            uint32_t off = t->segs[0].off + (uint32_t)(alias_name.p - s0.p);
            f->aliases[a] = (alias){(uint8_t)rel, off, (uint32_t)alias_name.n};
            f->naliases++;
        }
        fd->rel = (uint8_t)rel;
        fd->alias = (int8_t)a;
        return 0;
    }
    if (lookup_attr(s0, fd)) {
        if (t->nseg > 1)
            return fail(p, "unexpected '.' at position %zu after %.*s", t->segs[1].pos - 1,
                        (int)s0.n, s0.p);
        fd->rel = REL_NODE;
        return 0;
    }
    return fail(p, "unknown field \"%s\" at position %zu", field_text(p, t).s, t->pos);
}

static int mismatch(parser *p, const field *fd, const token *ft, const char *found)
{
    return fail(p, "%s takes %s, not %s, at position %zu", field_text(p, ft).s,
                k_vkind_desc[fd->vkind], found, p->tok.pos);
}

static bool known_state(slice w)
{
    for (size_t k = 0; k < sizeof k_states / sizeof k_states[0]; k++)
        if (slice_eq_str(w, k_states[k]))
            return true;
    return false;
}

/* One literal for field fd; `after` finishes "expected a value …". */
static int parse_value(parser *p, const field *fd, const token *ft, const char *after)
{
    token *t = &p->tok;
    lit l;
    memset(&l, 0, sizeof l);
    switch (t->kind) {
    case T_INT:
        if (fd->vkind == VK_INT || fd->vkind == VK_DOUBLE) {
            l.kind = LIT_INT;
            l.i = t->i;
        } else if (fd->vkind == VK_TIME) {
            l.kind = LIT_TIME_MS;
            l.i = t->i;
        } else {
            return mismatch(p, fd, ft, "an integer");
        }
        break;
    case T_DEC:
        if (fd->vkind != VK_INT && fd->vkind != VK_DOUBLE)
            return mismatch(p, fd, ft, "a decimal");
        l.kind = LIT_DOUBLE;
        l.d = t->d;
        break;
    case T_STR:
        if (fd->vkind == VK_STRING) {
            l.kind = LIT_STRING;
            l.off = t->off;
            l.len = t->len;
        } else if (fd->vkind == VK_TIME) {
            slice ts = pool_slice(p->f, t->off, t->len);
            if (time_parse_rfc3339(ts, &l.i)) {
                char ex[48];
                text_excerpt(ts, ex, sizeof ex);
                return fail(p, "invalid RFC 3339 time \"%s\" at position %zu", ex, t->pos);
            }
            l.kind = LIT_TIME_US;
        } else {
            return mismatch(p, fd, ft, "a string");
        }
        break;
    case T_TRUE:
    case T_FALSE:
        if (fd->vkind != VK_BOOL)
            return mismatch(p, fd, ft, "a boolean");
        l.kind = LIT_BOOL;
        l.i = t->kind == T_TRUE;
        break;
    case T_NAME:
        if (fd->attr == AT_STATE && t->nseg == 1) {
            slice w = seg_slice(p, t, 0);
            if (!known_state(w))
                return fail(p, "unknown state %s at position %zu", describe(p, t).s, t->pos);
            l.kind = LIT_STRING;
            l.off = t->segs[0].off;
            l.len = t->segs[0].len;
            break;
        }
        return fail(p, "expected a value %s at position %zu, found %s (quote strings)", after,
                    t->pos, describe(p, t).s);
    case T_NULL:
        return fail(p, "use IS NULL or IS NOT NULL to test for a missing value, at position %zu",
                    t->pos);
    default:
        return fail(p, "expected a value %s at position %zu, found %s", after, t->pos,
                    describe(p, t).s);
    }
    add_lit(p->f, &l);
    return lex(p);
}

static int parse_in(parser *p, node *nd, const token *ft)
{
    int rc = lex(p);
    if (rc)
        return rc;
    if (p->tok.kind != T_LPAREN)
        return fail(p, "expected '(' after IN at position %zu, found %s", p->tok.pos,
                    describe(p, &p->tok).s);
    if ((rc = lex(p)))
        return rc;
    nd->kind = N_IN;
    nd->a = (uint32_t)p->f->nlits;
    for (;;) {
        if (nd->n == LFILTER_MAX_IN)
            return fail(p, "IN list longer than %u values at position %zu", LFILTER_MAX_IN,
                        p->tok.pos);
        if ((rc = parse_value(p, &nd->f, ft, "in the IN list")))
            return rc;
        nd->n++;
        if (p->tok.kind == T_RPAREN)
            return lex(p);
        if (p->tok.kind != T_COMMA)
            return fail(p, "expected ',' or ')' in the IN list at position %zu, found %s",
                        p->tok.pos, describe(p, &p->tok).s);
        if ((rc = lex(p)))
            return rc;
    }
}

static int parse_like(parser *p, node *nd, const token *ft)
{
    if (nd->f.vkind != VK_STRING)
        return fail(p, "LIKE at position %zu needs a string field; %s takes %s", p->tok.pos,
                    field_text(p, ft).s, k_vkind_desc[nd->f.vkind]);
    int rc = lex(p);
    if (rc)
        return rc;
    if (p->tok.kind != T_STR)
        return fail(p, "expected a pattern string after LIKE at position %zu, found %s", p->tok.pos,
                    describe(p, &p->tok).s);
    lfilter *f = p->f;
    slice s = pool_slice(f, p->tok.off, p->tok.len);
    nd->kind = N_LIKE;
    nd->a = (uint32_t)f->npat;
    /* One spare element so an empty pattern still has a non-NULL base. */
    f->pat = grow(f->pat, &f->cap_pat, f->npat + s.n + 1, sizeof *f->pat);
    for (size_t i = 0; i < s.n; i++) {
        likeel e = {LK_BYTE, (uint8_t)s.p[i]};
        if (s.p[i] == '%') {
            if (f->npat > nd->a && f->pat[f->npat - 1].kind == LK_ANY)
                continue; /* "%%" is "%" */
            e.kind = LK_ANY;
        } else if (s.p[i] == '_') {
            e.kind = LK_ONE;
        } else if (s.p[i] == '\\' && i + 1 < s.n) {
            e.ch = (uint8_t)s.p[++i];
        }
        f->pat[f->npat++] = e;
    }
    nd->n = (uint32_t)(f->npat - nd->a);
    return lex(p);
}

static int parse_pred(parser *p, uint32_t *out)
{
    token ft = p->tok;
    if (ft.kind != T_NAME)
        return fail(p, "expected a field at position %zu, found %s", ft.pos, describe(p, &ft).s);
    node nd;
    memset(&nd, 0, sizeof nd);
    int rc = resolve_field(p, &ft, &nd.f);
    if (rc || (rc = lex(p)))
        return rc;
    nd.mask = nd.f.alias >= 0 ? 1u << nd.f.alias : 0;
    switch (p->tok.kind) {
    case T_OP: {
        char after[16];
        snprintf(after, sizeof after, "after '%.*s'", (int)(p->tok.end - p->tok.pos),
                 p->s + p->tok.pos);
        nd.kind = N_CMP;
        nd.op = p->tok.op;
        nd.a = (uint32_t)p->f->nlits;
        if ((rc = lex(p)) || (rc = parse_value(p, &nd.f, &ft, after)))
            return rc;
        break;
    }
    case T_NOT:
        if ((rc = lex(p)))
            return rc;
        nd.negate = true;
        if (p->tok.kind == T_IN)
            rc = parse_in(p, &nd, &ft);
        else if (p->tok.kind == T_LIKE)
            rc = parse_like(p, &nd, &ft);
        else
            rc = fail(p, "expected IN or LIKE after NOT at position %zu, found %s", p->tok.pos,
                      describe(p, &p->tok).s);
        if (rc)
            return rc;
        break;
    case T_IN:
        if ((rc = parse_in(p, &nd, &ft)))
            return rc;
        break;
    case T_LIKE:
        if ((rc = parse_like(p, &nd, &ft)))
            return rc;
        break;
    case T_IS:
        if ((rc = lex(p)))
            return rc;
        if (p->tok.kind == T_NOT) {
            nd.negate = true;
            if ((rc = lex(p)))
                return rc;
        }
        if (p->tok.kind != T_NULL)
            return fail(p, "expected NULL after IS at position %zu, found %s", p->tok.pos,
                        describe(p, &p->tok).s);
        nd.kind = N_NULL;
        if ((rc = lex(p)))
            return rc;
        break;
    default:
        return fail(p,
                    "expected a comparison (=, !=, <, <=, >, >=, IN, LIKE, IS) after %s at "
                    "position %zu, found %s",
                    field_text(p, &ft).s, p->tok.pos, describe(p, &p->tok).s);
    }
    *out = add_node(p->f, &nd);
    return 0;
}

static int parse_unary(parser *p, uint32_t *out)
{
    if (p->depth >= LFILTER_MAX_DEPTH)
        return fail(p, "nesting deeper than %u levels at position %zu", LFILTER_MAX_DEPTH,
                    p->tok.pos);
    p->depth++;
    int rc;
    if (p->tok.kind == T_NOT) {
        uint32_t k = 0;
        if ((rc = lex(p)) || (rc = parse_unary(p, &k)))
            goto out;
        node nd;
        memset(&nd, 0, sizeof nd);
        nd.kind = N_NOT;
        nd.a = k;
        nd.mask = p->f->nodes[k].mask;
        *out = add_node(p->f, &nd);
    } else if (p->tok.kind == T_LPAREN) {
        size_t open = p->tok.pos;
        if ((rc = lex(p)) || (rc = parse_or(p, out)))
            goto out;
        if (p->tok.kind == T_END) {
            rc = fail(p, "unbalanced parenthesis: '(' at position %zu is never closed", open);
            goto out;
        }
        if (p->tok.kind != T_RPAREN) {
            rc = fail(p, "expected AND, OR or ')' at position %zu, found %s", p->tok.pos,
                      describe(p, &p->tok).s);
            goto out;
        }
        rc = lex(p);
    } else {
        rc = parse_pred(p, out);
    }
out:
    p->depth--;
    return rc;
}

/* and := unary ("AND" unary)*  /  or := and ("OR" and)*, as one n-ary node. */
static int parse_chain(parser *p, bool is_or, uint32_t *out)
{
    uint32_t first = 0;
    int rc = is_or ? parse_chain(p, false, &first) : parse_unary(p, &first);
    enum tok_kind sep = is_or ? T_OR : T_AND;
    if (rc)
        return rc;
    if (p->tok.kind != sep) {
        *out = first;
        return 0;
    }
    uint32_t *tmp = NULL;
    size_t nt = 0, cap = 0;
    tmp = grow(tmp, &cap, 1, sizeof *tmp);
    tmp[nt++] = first;
    while (p->tok.kind == sep) {
        uint32_t k = 0;
        if ((rc = lex(p)))
            goto out;
        if ((rc = is_or ? parse_chain(p, false, &k) : parse_unary(p, &k)))
            goto out;
        tmp = grow(tmp, &cap, nt + 1, sizeof *tmp);
        tmp[nt++] = k;
    }
    lfilter *f = p->f;
    node nd;
    memset(&nd, 0, sizeof nd);
    nd.kind = is_or ? N_OR : N_AND;
    nd.a = (uint32_t)f->nkids;
    nd.n = (uint32_t)nt;
    f->kids = grow(f->kids, &f->cap_kids, f->nkids + nt, sizeof *f->kids);
    for (size_t k = 0; k < nt; k++) {
        f->kids[f->nkids++] = tmp[k];
        nd.mask |= f->nodes[tmp[k]].mask;
    }
    *out = add_node(f, &nd);
out:
    free(tmp);
    return rc;
}

static int parse_or(parser *p, uint32_t *out)
{
    return parse_chain(p, true, out);
}

int lfilter_parse(slice text, lfilter **out, strata_err *err)
{
    STRATA_ASSERT(out != NULL);
    *out = NULL;
    if (text.n > LFILTER_MAX_TEXT)
        return err_set(err, STRATA_INVALID_ARGUMENT,
                       "filter: %zu bytes is longer than the limit of %u", text.n,
                       LFILTER_MAX_TEXT);
    lfilter *f = calloc(1, sizeof *f);
    STRATA_ASSERT(f != NULL);
    parser p = {.s = text.n ? text.p : "", .n = text.n, .f = f, .err = err};
    int rc = lex(&p);
    if (!rc && p.tok.kind == T_END)
        rc = fail(&p, "empty filter");
    if (!rc)
        rc = parse_or(&p, &f->root);
    if (!rc && p.tok.kind == T_RPAREN)
        rc = fail(&p, "unbalanced parenthesis: unexpected ')' at position %zu", p.tok.pos);
    if (!rc && p.tok.kind != T_END)
        rc = fail(&p, "unexpected %s at position %zu (expected AND, OR or the end of the filter)",
                  describe(&p, &p.tok).s, p.tok.pos);
    if (rc) {
        lfilter_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

static bool uses(const lfilter *f, int rel)
{
    if (!f)
        return false;
    for (unsigned a = 0; a < f->naliases; a++)
        if (f->aliases[a].rel == rel)
            return true;
    return false;
}

bool lfilter_uses_contexts(const lfilter *f)
{
    return uses(f, REL_CONTEXTS);
}
bool lfilter_uses_parent_contexts(const lfilter *f)
{
    return uses(f, REL_PARENT);
}
bool lfilter_uses_child_contexts(const lfilter *f)
{
    return uses(f, REL_CHILD);
}

/* ---- evaluation ----------------------------------------------------------- */

typedef enum { TV_FALSE, TV_TRUE, TV_UNKNOWN } tv;

typedef struct evalctx {
    const lfilter *f;
    const lfilter_env *env;
    const json_t *bound[LFILTER_MAX_ALIASES]; /* NULL: the absent context */
    uint64_t work;
    bool exhausted;
} evalctx;

/* A field's value; numbers keep their JSON integer-ness for exact compares. */
typedef struct val {
    bool isint;
    int64_t i; /* integers, bools (0/1), times (µs) */
    double d;
    const char *s;
    size_t n;
} val;

static bool spend(evalctx *c, uint64_t units)
{
    c->work += units;
    if (c->work <= LFILTER_EVAL_BUDGET)
        return true;
    if (!c->exhausted)
        log_warn("filter: evaluation gave up after %u work units; the node does not match",
                 LFILTER_EVAL_BUDGET);
    c->exhausted = true;
    return false;
}

static bool load(const evalctx *c, const field *fd, val *v)
{
    const json_t *obj = fd->alias < 0 ? c->env->node : c->bound[fd->alias];
    if (!json_is_object(obj))
        return false;
    const json_t *j;
    if (fd->attr == AT_PROP || fd->attr == AT_CUSTOM_PROP) {
        const json_t *props =
            json_object_get(obj, fd->attr == AT_PROP ? "properties" : "custom_properties");
        slice name = pool_slice(c->f, fd->off, fd->len);
        j = json_object_getn(props, name.p, name.n);
    } else {
        j = json_object_get(obj, k_json_key[fd->attr]);
    }
    memset(v, 0, sizeof *v);
    switch (fd->vkind) {
    case VK_INT:
        if (!json_is_integer(j))
            return false;
        v->isint = true;
        v->i = json_integer_value(j);
        return true;
    case VK_DOUBLE:
        if (json_is_integer(j)) {
            v->isint = true;
            v->i = json_integer_value(j);
            return true;
        }
        if (!json_is_real(j))
            return false;
        v->d = json_real_value(j);
        return true;
    case VK_STRING:
        if (!json_is_string(j))
            return false;
        v->s = json_string_value(j);
        v->n = json_string_length(j);
        return true;
    case VK_BOOL:
        if (!json_is_boolean(j))
            return false;
        v->i = json_is_true(j);
        return true;
    case VK_TIME:
        if (!json_is_string(j))
            return false;
        return time_parse_rfc3339((slice){json_string_value(j), json_string_length(j)}, &v->i) == 0;
    }
    return false;
}

static int cmp_i64(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
}

/* Exact comparison of an integer with a finite double. */
static int cmp_i64_dbl(int64_t i, double d)
{
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    int64_t t = (int64_t)d; /* truncates; in range after the checks above */
    if (i != t)
        return i < t ? -1 : 1;
    double frac = d - (double)t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

static int cmp_bytes(const char *a, size_t an, slice b)
{
    size_t n = an < b.n ? an : b.n;
    int r = n ? memcmp(a, b.p, n) : 0;
    if (r)
        return r < 0 ? -1 : 1;
    return an < b.n ? -1 : an > b.n;
}

static int cmp_val(const evalctx *c, const field *fd, const val *v, const lit *l)
{
    switch (fd->vkind) {
    case VK_STRING:
        return cmp_bytes(v->s, v->n, pool_slice(c->f, l->off, l->len));
    case VK_BOOL:
        return cmp_i64(v->i, l->i);
    case VK_TIME:
        if (l->kind == LIT_TIME_MS)
            return cmp_i64(floor_div(v->i, 1000), l->i);
        return cmp_i64(v->i, l->i);
    default:
        if (v->isint && l->kind == LIT_INT)
            return cmp_i64(v->i, l->i);
        if (v->isint)
            return cmp_i64_dbl(v->i, l->d);
        if (l->kind == LIT_INT)
            return -cmp_i64_dbl(l->i, v->d);
        return (v->d > l->d) - (v->d < l->d);
    }
}

static bool apply_op(int op, int r)
{
    switch (op) {
    case OP_EQ:
        return r == 0;
    case OP_NE:
        return r != 0;
    case OP_LT:
        return r < 0;
    case OP_LE:
        return r <= 0;
    case OP_GT:
        return r > 0;
    default:
        return r >= 0;
    }
}

/* Bytes in the UTF-8 character at s[i] (1 for a stray byte). */
static size_t u8_len(const char *s, size_t i, size_t n)
{
    unsigned char c = (unsigned char)s[i];
    size_t len = c < 0x80             ? 1
                 : (c & 0xE0) == 0xC0 ? 2
                 : (c & 0xF0) == 0xE0 ? 3
                 : (c & 0xF8) == 0xF0 ? 4
                                      : 1;
    return len <= n - i ? len : n - i;
}

/*
 * LIKE: '%' any run of characters, '_' one character, anything else itself.
 * The classic two-pointer matcher: on a mismatch, resume after the last '%'
 * with the text one character further on. Earlier '%'s never need revisiting,
 * so the work is O(text * pattern) at worst, counted against the budget.
 * Returns 1 on a match, 0 on none, -1 when the budget ran out.
 */
static int like_match(evalctx *c, const likeel *p, size_t np, const char *s, size_t n)
{
    size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
    uint64_t steps = 0;
    while (si < n) {
        if ((++steps & 0xFFFF) == 0 && !spend(c, 0x10000))
            return -1;
        if (pi < np && p[pi].kind == LK_ANY) {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < np && p[pi].kind == LK_ONE) {
            pi++;
            si += u8_len(s, si, n);
            continue;
        }
        if (pi < np && (unsigned char)s[si] == p[pi].ch) {
            pi++;
            si++;
            continue;
        }
        if (star_p == SIZE_MAX)
            return 0;
        pi = star_p;
        star_s += u8_len(s, star_s, n);
        si = star_s;
    }
    while (pi < np && p[pi].kind == LK_ANY)
        pi++;
    return pi == np;
}

static tv eval_leaf(evalctx *c, const node *nd)
{
    if (!spend(c, LFILTER_COST_PREDICATE))
        return TV_UNKNOWN;
    val v;
    bool present = load(c, &nd->f, &v);
    if (nd->kind == N_NULL)
        return present == nd->negate ? TV_TRUE : TV_FALSE;
    if (!present)
        return TV_UNKNOWN;
    bool r = false;
    switch (nd->kind) {
    case N_CMP:
        r = apply_op(nd->op, cmp_val(c, &nd->f, &v, &c->f->lits[nd->a]));
        break;
    case N_IN:
        if (!spend(c, nd->n))
            return TV_UNKNOWN;
        for (uint32_t k = 0; k < nd->n && !r; k++)
            r = cmp_val(c, &nd->f, &v, &c->f->lits[nd->a + k]) == 0;
        r = r != nd->negate;
        break;
    case N_LIKE: {
        int m = like_match(c, &c->f->pat[nd->a], nd->n, v.s, v.n);
        if (m < 0)
            return TV_UNKNOWN;
        r = (m == 1) != nd->negate;
        break;
    }
    default:
        break;
    }
    return r ? TV_TRUE : TV_FALSE;
}

/* The expression's value with every alias it mentions bound. */
static tv eval3(evalctx *c, uint32_t ni)
{
    const node *nd = &c->f->nodes[ni];
    switch (nd->kind) {
    case N_AND:
    case N_OR: {
        tv stop = nd->kind == N_AND ? TV_FALSE : TV_TRUE;
        tv r = nd->kind == N_AND ? TV_TRUE : TV_FALSE;
        for (uint32_t k = 0; k < nd->n; k++) {
            tv v = eval3(c, c->f->kids[nd->a + k]);
            if (v == stop)
                return stop;
            if (v == TV_UNKNOWN)
                r = TV_UNKNOWN;
        }
        return r;
    }
    case N_NOT: {
        tv v = eval3(c, nd->a);
        return v == TV_UNKNOWN ? v : v == TV_TRUE ? TV_FALSE : TV_TRUE;
    }
    default:
        return eval_leaf(c, nd);
    }
}

static const json_t *relation(const evalctx *c, unsigned a)
{
    switch (c->f->aliases[a].rel) {
    case REL_CONTEXTS:
        return c->env->contexts;
    case REL_PARENT:
        return c->env->parent_contexts;
    default:
        return c->env->child_contexts;
    }
}

/* Choices for alias a: the relation's elements, or one absent context. */
static size_t domain_size(const evalctx *c, unsigned a)
{
    const json_t *arr = relation(c, a);
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    return n ? n : 1;
}

static const json_t *domain_at(const evalctx *c, unsigned a, size_t i)
{
    const json_t *arr = relation(c, a);
    return json_is_array(arr) ? json_array_get(arr, i) : NULL;
}

static unsigned lowest_alias(uint32_t mask)
{
    unsigned a = 0;
    while (!(mask & 1u)) {
        mask >>= 1;
        a++;
    }
    return a;
}

static bool want(tv v, bool target)
{
    return v == (target ? TV_TRUE : TV_FALSE);
}

static bool exists(evalctx *c, uint32_t ni, bool target, uint32_t bound);

static bool in_scope(uint32_t mask, uint32_t scope)
{
    return scope == UINT32_MAX || (mask & scope) != 0;
}

/*
 * Is there a binding of the free aliases under which every in-scope child in
 * kids has the value target? Children that share no free alias are independent
 * groups; a group of one child recurses, a larger group binds one alias at a
 * time and asks again about its own members.
 */
static bool all_exist(evalctx *c, const uint32_t *kids, uint32_t nk, uint32_t scope, bool target,
                      uint32_t bound)
{
    const lfilter *f = c->f;
    uint32_t groups[LFILTER_MAX_ALIASES];
    unsigned ng = 0;
    for (uint32_t k = 0; k < nk; k++) {
        const node *kn = &f->nodes[kids[k]];
        if (!in_scope(kn->mask, scope))
            continue;
        uint32_t m = kn->mask & ~bound;
        if (!m) {
            if (!want(eval3(c, kids[k]), target))
                return false;
            continue;
        }
        for (unsigned g = 0; g < ng;) {
            if (groups[g] & m) {
                m |= groups[g];
                groups[g] = groups[--ng];
            } else {
                g++;
            }
        }
        groups[ng++] = m;
    }
    for (unsigned g = 0; g < ng; g++) {
        uint32_t members = 0, only = 0;
        for (uint32_t k = 0; k < nk; k++) {
            const node *kn = &f->nodes[kids[k]];
            if (in_scope(kn->mask, scope) && (kn->mask & ~bound & groups[g])) {
                members++;
                only = kids[k];
            }
        }
        if (members == 1) {
            if (!exists(c, only, target, bound))
                return false;
            continue;
        }
        unsigned a = lowest_alias(groups[g]);
        bool ok = false;
        for (size_t i = 0, n = domain_size(c, a); i < n && !ok; i++) {
            if (!spend(c, LFILTER_COST_PREDICATE))
                return false;
            c->bound[a] = domain_at(c, a, i);
            ok = all_exist(c, kids, nk, groups[g], target, bound | (1u << a));
            c->bound[a] = NULL;
        }
        if (!ok)
            return false;
    }
    return !c->exhausted;
}

/* Is there a binding of the aliases free in node ni under which it is target? */
static bool exists(evalctx *c, uint32_t ni, bool target, uint32_t bound)
{
    const node *nd = &c->f->nodes[ni];
    uint32_t free_aliases = nd->mask & ~bound;
    if (c->exhausted)
        return false;
    if (!free_aliases)
        return want(eval3(c, ni), target);
    switch (nd->kind) {
    case N_NOT:
        return exists(c, nd->a, !target, bound);
    case N_AND:
    case N_OR:
        /* OR wanted TRUE and AND wanted FALSE need one child: distribute. */
        if ((nd->kind == N_OR) == target) {
            for (uint32_t k = 0; k < nd->n; k++)
                if (exists(c, c->f->kids[nd->a + k], target, bound))
                    return true;
            return false;
        }
        return all_exist(c, &c->f->kids[nd->a], nd->n, UINT32_MAX, target, bound);
    default: {
        unsigned a = lowest_alias(free_aliases); /* a predicate names one alias */
        for (size_t i = 0, n = domain_size(c, a); i < n; i++) {
            if (!spend(c, LFILTER_COST_PREDICATE))
                return false;
            c->bound[a] = domain_at(c, a, i);
            bool ok = want(eval_leaf(c, nd), target);
            c->bound[a] = NULL;
            if (ok)
                return true;
        }
        return false;
    }
    }
}

bool lfilter_eval(const lfilter *f, const lfilter_env *env)
{
    if (!f || !env)
        return false;
    evalctx c;
    memset(&c, 0, sizeof c);
    c.f = f;
    c.env = env;
    bool r = exists(&c, f->root, true, 0);
    return r && !c.exhausted;
}

/* ---- dump (tests) --------------------------------------------------------- */

static void dump_name(buf *out, slice s)
{
    bool plain = s.n > 0;
    for (size_t i = 0; i < s.n; i++)
        plain = plain && is_ident(s.p[i]);
    if (plain) {
        buf_append_slice(out, s);
        return;
    }
    buf_putc(out, '`');
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] == '`' || s.p[i] == '\\')
            buf_putc(out, '\\');
        buf_putc(out, s.p[i]);
    }
    buf_putc(out, '`');
}

static void dump_field(const lfilter *f, const field *fd, buf *out)
{
    if (fd->alias >= 0) {
        const alias *al = &f->aliases[fd->alias];
        for (size_t k = 0; k < sizeof k_relations / sizeof k_relations[0]; k++)
            if (k_relations[k].rel == al->rel)
                buf_append_str(out, k_relations[k].prefix);
        buf_append_slice(out, pool_slice(f, al->off, al->len));
        buf_putc(out, '.');
    }
    if (fd->attr == AT_PROP || fd->attr == AT_CUSTOM_PROP) {
        buf_append_str(out, fd->attr == AT_PROP ? "properties." : "custom_properties.");
        dump_name(out, pool_slice(f, fd->off, fd->len));
        for (size_t k = 0; k < sizeof k_value_kinds / sizeof k_value_kinds[0]; k++)
            if (k_value_kinds[k].vkind == fd->vkind)
                buf_printf(out, ".%s", k_value_kinds[k].name);
        return;
    }
    for (size_t k = 0; k < sizeof k_attrs / sizeof k_attrs[0]; k++) {
        if (k_attrs[k].attr == fd->attr) {
            buf_append_str(out, k_attrs[k].name);
            return;
        }
    }
}

static void dump_lit(const lfilter *f, const lit *l, buf *out)
{
    switch (l->kind) {
    case LIT_INT:
        buf_printf(out, "%lld", (long long)l->i);
        break;
    case LIT_DOUBLE: {
        char t[STRATA_DTOA_MAX];
        buf_append(out, t, strata_dtoa_g(l->d, t));
        break;
    }
    case LIT_BOOL:
        buf_append_str(out, l->i ? "true" : "false");
        break;
    case LIT_TIME_MS:
        buf_printf(out, "%lldms", (long long)l->i);
        break;
    case LIT_TIME_US:
        buf_printf(out, "%lldus", (long long)l->i);
        break;
    default: {
        slice s = pool_slice(f, l->off, l->len);
        buf_putc(out, '\'');
        for (size_t i = 0; i < s.n; i++) {
            if (s.p[i] == '\'' || s.p[i] == '\\')
                buf_putc(out, '\\');
            buf_putc(out, s.p[i]);
        }
        buf_putc(out, '\'');
    }
    }
}

static void dump_node(const lfilter *f, uint32_t ni, buf *out)
{
    const node *nd = &f->nodes[ni];
    switch (nd->kind) {
    case N_AND:
    case N_OR:
        buf_append_str(out, nd->kind == N_AND ? "(and" : "(or");
        for (uint32_t k = 0; k < nd->n; k++) {
            buf_putc(out, ' ');
            dump_node(f, f->kids[nd->a + k], out);
        }
        buf_putc(out, ')');
        return;
    case N_NOT:
        buf_append_str(out, "(not ");
        dump_node(f, nd->a, out);
        buf_putc(out, ')');
        return;
    case N_CMP:
        buf_printf(out, "(%s ", k_op_text[nd->op]);
        break;
    case N_IN:
        buf_append_str(out, nd->negate ? "(not-in " : "(in ");
        break;
    case N_LIKE:
        buf_append_str(out, nd->negate ? "(not-like " : "(like ");
        break;
    default:
        buf_append_str(out, nd->negate ? "(is-not-null " : "(is-null ");
        break;
    }
    dump_field(f, &nd->f, out);
    if (nd->kind == N_CMP) {
        buf_putc(out, ' ');
        dump_lit(f, &f->lits[nd->a], out);
    } else if (nd->kind == N_IN) {
        for (uint32_t k = 0; k < nd->n; k++) {
            buf_putc(out, ' ');
            dump_lit(f, &f->lits[nd->a + k], out);
        }
    } else if (nd->kind == N_LIKE) {
        buf_append_str(out, " '");
        for (uint32_t k = 0; k < nd->n; k++) {
            const likeel *e = &f->pat[nd->a + k];
            if (e->kind == LK_ANY)
                buf_putc(out, '%');
            else if (e->kind == LK_ONE)
                buf_putc(out, '_');
            else if (e->ch == '%' || e->ch == '_' || e->ch == '\\' || e->ch == '\'')
                buf_printf(out, "\\%c", e->ch);
            else
                buf_putc(out, (char)e->ch);
        }
        buf_putc(out, '\'');
    }
    buf_putc(out, ')');
}

void lfilter_dump(const lfilter *f, buf *out)
{
    if (f)
        dump_node(f, f->root, out);
}
