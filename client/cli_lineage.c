/*
 * cli_lineage.c - `strata lineage` (a traversal of the metadata graph, printed
 * as an indented tree or as Graphviz DOT) and `strata provenance MODEL` (where
 * a model came from).
 *
 * lineage follows every page of GET /v1/lineage (page_size 10000 unless
 * --page-size says otherwise) and merges them, so the tree, the DOT and
 * --json all see the whole answer. The tree is
 * the breadth-first tree of the answer from the start nodes, in the
 * traversal's direction: a node sits under the node that first reached it, so
 * its indentation is its hop count (≤ max_hops ≤ 100, which also bounds the
 * recursion). Every other edge to a node printed elsewhere is one line ending
 * in "(see above)" or "(see below)", so each node is printed once and every
 * edge of the answer appears.
 */
#include "client/cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "base/timeutil.h"

/* The server's caps (lineage/lineage.h): hops, page size, start ids. */
#define HOPS_MAX 100u
#define PAGE_SIZE 10000u
#define START_IDS_MAX 1000u

/* ---- fetching ------------------------------------------------------------------------ */

/* GET /v1/lineage?<query> for every page, merged into one answer
 * {"artifacts","executions","events","contexts","next_page_token":""}
 * (contexts once each). */
static int fetch_all(cli_ctx *ctx, strata_client *c, const char *query, uint64_t page_size,
                     json_t **out)
{
    int rc = CLI_EXIT_OK;
    strata_err err = STRATA_ERR_INIT;
    buf path = BUF_INIT, tok = BUF_INIT;
    json_t *resp = NULL, *ctx_seen = json_object();
    json_t *all = json_pack("{s:[],s:[],s:[],s:[],s:s}", "artifacts", "executions", "events",
                            "contexts", "next_page_token", "");
    static const char *const lists[] = {"artifacts", "executions", "events"};
    *out = NULL;
    for (;;) {
        buf_reset(&path);
        buf_printf(&path, "/v1/lineage?%s&page_size=%" PRIu64, query, page_size);
        if (tok.n) {
            buf_append_str(&path, "&page_token=");
            strata_escape(&path, buf_slice(&tok));
        }
        json_decref(resp);
        resp = NULL;
        int st = strata_request_json(c, "GET", path.p, NULL, &resp, &err);
        if (st) {
            rc = cli_fail_status(ctx, st, &err);
            goto out;
        }
        for (size_t k = 0; k < 3; k++) {
            json_t *items = json_object_get(resp, lists[k]);
            if (!json_is_array(items)) {
                rc = cli_fail(ctx, CLI_EXIT_SERVER, "the lineage answer has no \"%s\" list",
                              lists[k]);
                goto out;
            }
            json_array_extend(json_object_get(all, lists[k]), items);
        }
        size_t i;
        json_t *cx;
        json_array_foreach (json_object_get(resp, "contexts"), i, cx) {
            char key[32];
            snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT,
                     json_integer_value(json_object_get(cx, "id")));
            if (!json_object_get(ctx_seen, key)) {
                json_object_set_new(ctx_seen, key, json_true());
                json_array_append(json_object_get(all, "contexts"), cx);
            }
        }
        const char *next = json_string_value(json_object_get(resp, "next_page_token"));
        if (!next || !*next)
            break;
        buf_reset(&tok);
        buf_append_str(&tok, next);
    }
    *out = all;
    all = NULL;
out:
    json_decref(all);
    json_decref(resp);
    json_decref(ctx_seen);
    buf_free(&path);
    buf_free(&tok);
    err_clear(&err);
    return rc;
}

/* ---- the graph in memory ------------------------------------------------------------------ */

typedef struct edge {
    size_t other;   /* node index */
    unsigned types; /* bit per event type (1 DECLARED_OUTPUT … 4 OUTPUT) */
} edge;

typedef struct gnode {
    bool artifact;
    int64_t id;
    const json_t *node; /* borrowed from the answer */
    edge *adj;
    size_t nadj, capadj;
    size_t parent; /* BFS tree parent; SIZE_MAX for a root or an unreached node */
    bool reached, printed;
    size_t order; /* pre-order position in the printed tree */
} gnode;

typedef struct graph {
    gnode *v;
    size_t n;
    json_t *index; /* "a12" / "e7" → node index */
    enum { DIR_UP, DIR_DOWN, DIR_BOTH } dir;
} graph;

static const char *const event_names[] = {NULL, "DECLARED_OUTPUT", "DECLARED_INPUT", "INPUT",
                                          "OUTPUT"};

static int event_code(const char *s)
{
    for (int t = 1; t <= 4; t++)
        if (s && strcmp(s, event_names[t]) == 0)
            return t;
    return 0;
}

static void node_key(char *out, size_t cap, bool artifact, int64_t id)
{
    snprintf(out, cap, "%c%" PRId64, artifact ? 'a' : 'e', id);
}

static size_t find_node(const graph *g, bool artifact, int64_t id)
{
    char key[32];
    node_key(key, sizeof key, artifact, id);
    json_t *v = json_object_get(g->index, key);
    return v ? (size_t)json_integer_value(v) : SIZE_MAX;
}

static void add_edge(gnode *x, size_t other, int t)
{
    if (x->nadj == x->capadj) {
        x->capadj = x->capadj ? x->capadj * 2 : 4;
        edge *a = realloc(x->adj, x->capadj * sizeof *a);
        if (!a)
            abort();
        x->adj = a;
    }
    x->adj[x->nadj++] = (edge){other, 1u << t};
}

static int edge_cmp(const void *a, const void *b)
{
    const edge *x = a, *y = b;
    return x->other < y->other ? -1 : x->other > y->other;
}

/* Whether an edge of event types `types` is followed from a node of this
 * kind in the graph's direction (as the server's traversal does). */
static bool follows(const graph *g, bool from_artifact, unsigned types)
{
    if (g->dir == DIR_BOTH)
        return true;
    unsigned inputs = (1u << 2) | (1u << 3), outputs = (1u << 1) | (1u << 4);
    /* Upstream from an artifact: its producers; from an execution: its inputs. */
    unsigned up = from_artifact ? outputs : inputs;
    return (types & (g->dir == DIR_UP ? up : (inputs | outputs) & ~up)) != 0;
}

static void graph_free(graph *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i].adj);
    free(g->v);
    json_decref(g->index);
}

/* Index the answer's nodes and events; adjacency sorted and merged per
 * neighbour (INPUT and DECLARED_INPUT of one pair are one edge). */
static void graph_build(graph *g, const json_t *ans)
{
    const json_t *arts = json_object_get(ans, "artifacts"),
                 *execs = json_object_get(ans, "executions");
    size_t na = json_array_size(arts), ne = json_array_size(execs), i;
    json_t *x;
    g->v = calloc(na + ne + 1, sizeof *g->v);
    if (!g->v)
        abort();
    g->index = json_object();
    for (int k = 0; k < 2; k++) {
        json_array_foreach (k == 0 ? arts : execs, i, x) {
            gnode *nd = &g->v[g->n];
            char key[32];
            nd->artifact = k == 0;
            nd->id = json_integer_value(json_object_get(x, "id"));
            nd->node = x;
            nd->parent = SIZE_MAX;
            node_key(key, sizeof key, nd->artifact, nd->id);
            if (json_object_get(g->index, key))
                continue; /* a node once, even if a server sent it twice */
            json_object_set_new(g->index, key, json_integer((json_int_t)g->n));
            g->n++;
        }
    }
    json_array_foreach (json_object_get(ans, "events"), i, x) {
        size_t a = find_node(g, true, json_integer_value(json_object_get(x, "artifact_id")));
        size_t e = find_node(g, false, json_integer_value(json_object_get(x, "execution_id")));
        int t = event_code(json_string_value(json_object_get(x, "type")));
        if (a == SIZE_MAX || e == SIZE_MAX || t == 0)
            continue;
        add_edge(&g->v[a], e, t);
        add_edge(&g->v[e], a, t);
    }
    for (size_t n = 0; n < g->n; n++) {
        gnode *nd = &g->v[n];
        if (nd->nadj > 1)
            qsort(nd->adj, nd->nadj, sizeof *nd->adj, edge_cmp);
        size_t w = 0;
        for (size_t r = 0; r < nd->nadj; r++) {
            if (w > 0 && nd->adj[w - 1].other == nd->adj[r].other)
                nd->adj[w - 1].types |= nd->adj[r].types;
            else
                nd->adj[w++] = nd->adj[r];
        }
        nd->nadj = w;
    }
}

/* Breadth-first from the roots in the graph's direction: each node's parent
 * is the node that reached it first. */
static void graph_bfs(graph *g, const size_t *roots, size_t nroots)
{
    size_t *q = malloc((g->n + 1) * sizeof *q), head = 0, tail = 0;
    if (!q)
        abort();
    for (size_t i = 0; i < nroots; i++)
        if (!g->v[roots[i]].reached) {
            g->v[roots[i]].reached = true;
            q[tail++] = roots[i];
        }
    while (head < tail) {
        gnode *x = &g->v[q[head++]];
        for (size_t j = 0; j < x->nadj; j++) {
            gnode *y = &g->v[x->adj[j].other];
            if (y->reached || !follows(g, x->artifact, x->adj[j].types))
                continue;
            y->reached = true;
            y->parent = (size_t)(x - g->v);
            q[tail++] = x->adj[j].other;
        }
    }
    free(q);
}

/* Pre-order positions over the BFS tree (children in node-index order). */
static void assign_order(graph *g, size_t x, size_t *next)
{
    g->v[x].order = (*next)++;
    for (size_t j = 0; j < g->v[x].nadj; j++) {
        size_t y = g->v[x].adj[j].other;
        if (g->v[y].parent == x && y != x && g->v[y].order == SIZE_MAX)
            assign_order(g, y, next);
    }
}

/* ---- the tree ------------------------------------------------------------------------------ */

/* "artifact 3 Model "credit@1"" */
static void node_text(buf *out, const gnode *x)
{
    const json_t *t = json_object_get(x->node, "type"), *nm = json_object_get(x->node, "name");
    buf_printf(out, "%s %" PRId64 " ", x->artifact ? "artifact" : "execution", x->id);
    if (json_is_string(t))
        cli_append_clean(out, json_string_value(t), json_string_length(t));
    if (json_is_string(nm)) {
        buf_append_str(out, " \"");
        cli_append_clean(out, json_string_value(nm), json_string_length(nm));
        buf_putc(out, '"');
    }
}

static void types_text(buf *out, unsigned types)
{
    bool first = true;
    for (int t = 1; t <= 4; t++)
        if (types & (1u << t)) {
            buf_printf(out, "%s%s", first ? "" : ",", event_names[t]);
            first = false;
        }
}

static void print_subtree(graph *g, size_t x, buf *prefix, FILE *out)
{
    gnode *nd = &g->v[x];
    nd->printed = true;
    /* The lines under x: tree children, and references along other followed
     * edges (never back to x's own parent). */
    size_t last = SIZE_MAX;
    for (size_t j = 0; j < nd->nadj; j++) {
        size_t y = nd->adj[j].other;
        if (y != nd->parent && g->v[y].reached && follows(g, nd->artifact, nd->adj[j].types))
            last = j;
    }
    buf line = BUF_INIT;
    for (size_t j = 0; j <= last && last != SIZE_MAX; j++) {
        size_t y = nd->adj[j].other;
        gnode *ch = &g->v[y];
        if (y == nd->parent || !ch->reached || !follows(g, nd->artifact, nd->adj[j].types))
            continue;
        bool is_last = j == last, child = ch->parent == x && !ch->printed;
        buf_reset(&line);
        buf_append(&line, prefix->p, prefix->n);
        buf_append_str(&line, is_last ? "`-- [" : "|-- [");
        types_text(&line, nd->adj[j].types);
        buf_append_str(&line, "] ");
        node_text(&line, ch);
        if (!child)
            buf_append_str(&line, ch->order < nd->order ? " (see above)" : " (see below)");
        buf_putc(&line, '\n');
        fwrite(line.p, 1, line.n, out);
        if (child) {
            size_t keep = prefix->n;
            buf_append_str(prefix, is_last ? "    " : "|   ");
            print_subtree(g, y, prefix, out);
            prefix->n = keep;
        }
    }
    buf_free(&line);
}

static void print_tree(graph *g, const size_t *roots, size_t nroots, FILE *out)
{
    size_t next = 0;
    for (size_t i = 0; i < g->n; i++)
        g->v[i].order = SIZE_MAX;
    for (size_t i = 0; i < nroots; i++)
        if (g->v[roots[i]].order == SIZE_MAX)
            assign_order(g, roots[i], &next);
    buf line = BUF_INIT, prefix = BUF_INIT;
    for (size_t i = 0; i < nroots; i++) {
        gnode *r = &g->v[roots[i]];
        buf_reset(&line);
        node_text(&line, r);
        if (r->printed)
            buf_append_str(&line, " (see above)");
        buf_putc(&line, '\n');
        fwrite(line.p, 1, line.n, out);
        if (!r->printed) {
            buf_reset(&prefix);
            print_subtree(g, roots[i], &prefix, out);
        }
    }
    buf_free(&line);
    buf_free(&prefix);
}

/* ---- DOT ------------------------------------------------------------------------------------- */

/* A DOT double-quoted string's content: quotes and backslashes escaped,
 * control characters replaced. */
static void dot_escape(buf *out, const char *s, size_t n)
{
    buf clean = BUF_INIT;
    cli_append_clean(&clean, s, n);
    for (size_t i = 0; i < clean.n; i++) {
        if (clean.p[i] == '"' || clean.p[i] == '\\')
            buf_putc(out, '\\');
        buf_putc(out, clean.p[i]);
    }
    buf_free(&clean);
}

static void print_dot(const graph *g, const json_t *ans, FILE *out)
{
    buf b = BUF_INIT;
    size_t i;
    json_t *e;
    buf_append_str(&b, "digraph lineage {\n  rankdir=LR;\n  node [fontsize=10];\n");
    for (size_t n = 0; n < g->n; n++) {
        const gnode *x = &g->v[n];
        const json_t *t = json_object_get(x->node, "type"), *nm = json_object_get(x->node, "name");
        buf_printf(&b, "  %c%" PRId64 " [shape=%s, label=\"%s %" PRId64 "\\n",
                   x->artifact ? 'a' : 'e', x->id, x->artifact ? "box" : "ellipse",
                   x->artifact ? "artifact" : "execution", x->id);
        if (json_is_string(t))
            dot_escape(&b, json_string_value(t), json_string_length(t));
        if (json_is_string(nm)) {
            buf_append_str(&b, "\\n");
            dot_escape(&b, json_string_value(nm), json_string_length(nm));
        }
        buf_append_str(&b, x->parent == SIZE_MAX && x->reached ? "\", penwidth=2];\n" : "\"];\n");
    }
    /* One edge per event, in the direction data flows. */
    json_array_foreach (json_object_get(ans, "events"), i, e) {
        int t = event_code(json_string_value(json_object_get(e, "type")));
        json_int_t a = json_integer_value(json_object_get(e, "artifact_id"));
        json_int_t x = json_integer_value(json_object_get(e, "execution_id"));
        if (t == 0)
            continue;
        bool into_exec = t == 2 || t == 3;
        buf_printf(&b,
                   "  %c%" JSON_INTEGER_FORMAT " -> %c%" JSON_INTEGER_FORMAT " [label=\"%s\"];\n",
                   into_exec ? 'a' : 'e', into_exec ? a : x, into_exec ? 'e' : 'a',
                   into_exec ? x : a, event_names[t]);
    }
    buf_append_str(&b, "}\n");
    fwrite(b.p, 1, b.n, out);
    buf_free(&b);
}

/* ---- strata lineage
 * ------------------------------------------------------------------------------ */

/* "3,7" (all --artifact values) → ids; usage error on junk. */
static int parse_ids(cli_ctx *ctx, const char *opt, const char *const *vals, size_t nvals,
                     int64_t **ids, size_t *n)
{
    size_t cap = 0;
    *n = 0;
    for (size_t v = 0; v < nvals; v++) {
        const char *s = vals[v];
        for (;;) {
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);
            int64_t id;
            if (text_parse_i64((slice){s, len}, &id) || id <= 0)
                return cli_usage_error(ctx, "--%s takes positive ids separated by commas, not '%s'",
                                       opt, vals[v]);
            if (*n == START_IDS_MAX)
                return cli_usage_error(ctx, "--%s: at most %u start ids", opt, START_IDS_MAX);
            if (*n == cap) {
                cap = cap ? cap * 2 : 8;
                int64_t *g = realloc(*ids, cap * sizeof *g);
                if (!g)
                    return cli_fail(ctx, CLI_EXIT_INPUT, "out of memory");
                *ids = g;
            }
            (*ids)[(*n)++] = id;
            if (!comma)
                break;
            s = comma + 1;
        }
    }
    return CLI_EXIT_OK;
}

static int run_lineage(cli_ctx *ctx, const cli_args *a)
{
    int rc = CLI_EXIT_OK;
    strata_client *c = NULL;
    const char *const *arts = NULL, *const *execs = NULL;
    size_t narts = cli_opt_all(a, "artifact", &arts), nexecs = cli_opt_all(a, "execution", &execs);
    const char *filter = cli_opt(a, "filter"), *dir = cli_opt(a, "direction");
    const char *hops = cli_opt(a, "max-hops"), *as_of = cli_opt(a, "as-of");
    const char *psize = cli_opt(a, "page-size");
    bool dot = cli_flag(a, "dot");
    int64_t *ids = NULL;
    size_t nids = 0, nroots = 0, *roots = NULL;
    buf q = BUF_INIT, q0 = BUF_INIT;
    json_t *ans = NULL, *starts = NULL;
    graph g = {0};

    if ((narts > 0) + (nexecs > 0) + (filter != NULL) != 1) {
        rc = cli_usage_error(ctx, "give exactly one start: --artifact, --execution or --filter");
        goto out;
    }
    if (narts && (rc = parse_ids(ctx, "artifact", arts, narts, &ids, &nids)))
        goto out;
    if (nexecs && (rc = parse_ids(ctx, "execution", execs, nexecs, &ids, &nids)))
        goto out;
    if (filter && !*filter) {
        rc = cli_usage_error(ctx, "--filter is empty");
        goto out;
    }
    g.dir = DIR_BOTH;
    if (dir) {
        if (strcmp(dir, "upstream") == 0)
            g.dir = DIR_UP;
        else if (strcmp(dir, "downstream") == 0)
            g.dir = DIR_DOWN;
        else if (strcmp(dir, "both") != 0) {
            rc = cli_usage_error(ctx, "--direction is upstream, downstream or both, not '%s'", dir);
            goto out;
        }
    }
    uint64_t h = 0;
    if (hops && (text_parse_u64(slice_of(hops), &h) || h > HOPS_MAX)) {
        rc = cli_usage_error(ctx, "--max-hops takes an integer from 0 to %u", HOPS_MAX);
        goto out;
    }
    uint64_t page = PAGE_SIZE;
    if (psize && (text_parse_u64(slice_of(psize), &page) || page == 0 || page > PAGE_SIZE)) {
        rc = cli_usage_error(ctx, "--page-size takes an integer from 1 to %u", PAGE_SIZE);
        goto out;
    }
    int64_t t;
    if (as_of && time_parse_rfc3339(slice_of(as_of), &t)) {
        rc = cli_usage_error(ctx, "--as-of takes an RFC 3339 time such as 2024-06-01T00:00:00Z");
        goto out;
    }
    if (dot && ctx->json) {
        rc = cli_usage_error(ctx, "--dot and --json are two different outputs: pick one");
        goto out;
    }

    /* The start parameter, then the rest. */
    if (filter) {
        buf_append_str(&q, "filter=");
        strata_escape(&q, slice_of(filter));
    } else {
        buf_append_str(&q, narts ? "artifact_id=" : "execution_id=");
        for (size_t i = 0; i < nids; i++)
            buf_printf(&q, "%s%" PRId64, i ? "%2C" : "", ids[i]);
    }
    if (as_of) {
        buf_append_str(&q, "&as_of=");
        strata_escape(&q, slice_of(as_of));
    }
    buf_append(&q0, q.p, q.n);
    buf_append_str(&q0, "&max_hops=0");
    buf_printf(&q, "&direction=%s",
               g.dir == DIR_UP     ? "upstream"
               : g.dir == DIR_DOWN ? "downstream"
                                   : "both");
    if (hops)
        buf_printf(&q, "&max_hops=%" PRIu64, h);

    if ((rc = cli_client(ctx, &c)) || (rc = fetch_all(ctx, c, q.p, page, &ans)))
        goto out;
    if (ctx->json) {
        cli_print_json(ans);
        goto out;
    }
    graph_build(&g, ans);
    /* The roots: the ids given, or (a filter) the traversal's start nodes,
     * which are what the same query answers with 0 hops. */
    if (filter) {
        if ((rc = fetch_all(ctx, c, q0.p, page, &starts)))
            goto out;
        size_t i;
        json_t *x;
        json_t *sa = json_object_get(starts, "artifacts");
        roots = calloc(json_array_size(sa) + 1, sizeof *roots);
        if (!roots)
            abort();
        json_array_foreach (sa, i, x) {
            size_t k = find_node(&g, true, json_integer_value(json_object_get(x, "id")));
            if (k != SIZE_MAX)
                roots[nroots++] = k;
        }
    } else {
        roots = calloc(nids + 1, sizeof *roots);
        if (!roots)
            abort();
        for (size_t i = 0; i < nids; i++) {
            size_t k = find_node(&g, narts > 0, ids[i]);
            if (k != SIZE_MAX)
                roots[nroots++] = k;
        }
    }
    graph_bfs(&g, roots, nroots);
    if (dot)
        print_dot(&g, ans, stdout);
    else
        print_tree(&g, roots, nroots, stdout);
out:
    graph_free(&g);
    json_decref(ans);
    json_decref(starts);
    free(ids);
    free(roots);
    buf_free(&q);
    buf_free(&q0);
    return rc;
}

/* ---- strata provenance
 * ---------------------------------------------------------------------------- */

/* Strings of an array joined by ", " (other values as JSON); "-" when empty. */
static void join_list(buf *out, const json_t *v)
{
    if (!json_is_array(v) || json_array_size(v) == 0) {
        cli_cell(out, v);
        return;
    }
    size_t i;
    json_t *x;
    json_array_foreach (v, i, x) {
        if (i)
            buf_append_str(out, ", ");
        cli_cell(out, x);
    }
}

static void line_out(buf *b)
{
    buf_putc(b, '\n');
    fwrite(b->p, 1, b->n, stdout);
    buf_reset(b);
}

/* "execution 5 "name" COMPLETE 2024-…" */
static void exec_brief(buf *b, const json_t *x)
{
    const json_t *nm = json_object_get(x, "name");
    buf_printf(b, "execution %" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(x, "id")));
    if (json_is_string(nm)) {
        buf_append_str(b, " \"");
        cli_append_clean(b, json_string_value(nm), json_string_length(nm));
        buf_putc(b, '"');
    }
    buf_append_str(b, "  ");
    cli_cell(b, json_object_get(x, "state"));
    buf_append_str(b, "  ");
    cli_cell(b, json_object_get(x, "create_time"));
}

static void metrics_line(buf *b, const char *indent, const json_t *m)
{
    buf_append_str(b, indent);
    cli_cell(b, json_object_get(m, "split"));
    if (json_is_integer(json_object_get(m, "n")))
        buf_printf(b, "  n=%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(m, "n")));
    buf_append_str(b, "  ");
    cli_cell(b, json_object_get(m, "metrics"));
    buf_printf(b, "  (artifact %" JSON_INTEGER_FORMAT ")",
               json_integer_value(json_object_get(json_object_get(m, "artifact"), "id")));
    line_out(b);
}

/* The headline of a fairness summary: the worst attribute and its four
 * numbers, 3 significant digits (the full object is in --json). */
static void fairness_summary(buf *b, const json_t *sum)
{
    static const char *const keys[] = {"demographic_parity_ratio", "demographic_parity_difference",
                                       "equal_opportunity_difference",
                                       "equalized_odds_difference"};
    const json_t *attr = json_object_get(sum, "attribute");
    if (json_is_string(attr)) {
        buf_append_str(b, " (worst: ");
        cli_cell(b, attr);
        buf_append_str(b, ")");
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const json_t *v = json_object_get(sum, keys[i]);
        if (json_is_number(v))
            buf_printf(b, " %s=%.3g", keys[i], json_number_value(v));
    }
}

static void print_provenance(const json_t *p)
{
    buf b = BUF_INIT;
    size_t i, j;
    json_t *x, *y;
    const json_t *model = json_object_get(p, "model"), *art = json_object_get(model, "artifact");
    const json_t *tr = json_object_get(p, "training"), *td = json_object_get(p, "training_data");

    buf_append_str(&b, "model:          ");
    cli_cell(&b, json_object_get(model, "name"));
    buf_printf(&b, " version %" JSON_INTEGER_FORMAT " (versions ",
               json_integer_value(json_object_get(model, "version")));
    join_list(&b, json_object_get(model, "versions"));
    buf_printf(&b, "), artifact %" JSON_INTEGER_FORMAT "  ",
               json_integer_value(json_object_get(art, "id")));
    cli_cell(&b, json_object_get(art, "state"));
    buf_append_str(&b, "  ");
    cli_cell(&b, json_object_get(art, "create_time"));
    line_out(&b);

    const json_t *te = json_object_get(tr, "execution");
    buf_append_str(&b, "training:       ");
    if (json_is_object(te))
        exec_brief(&b, te);
    else
        buf_append_str(&b, "-");
    line_out(&b);
    buf_append_str(&b, "  code version:    ");
    cli_cell(&b, json_object_get(tr, "code_version"));
    line_out(&b);
    buf_append_str(&b, "  hyperparameters: ");
    cli_cell(&b, json_object_get(tr, "hyperparameters"));
    line_out(&b);

    buf_append_str(&b, "training data:  feature refs ");
    join_list(&b, json_object_get(td, "feature_refs"));
    buf_append_str(&b, "; as_of ");
    cli_cell(&b, json_object_get(td, "as_of"));
    line_out(&b);
    json_array_foreach (json_object_get(td, "datasets"), i, x) {
        const json_t *d = json_object_get(x, "artifact"),
                     *ex = json_object_get(x, "export_execution");
        const json_t *dp = json_object_get(d, "properties");
        buf_printf(&b, "  dataset %" JSON_INTEGER_FORMAT " ",
                   json_integer_value(json_object_get(d, "id")));
        cli_cell(&b, json_object_get(d, "name"));
        buf_append_str(&b, "  ");
        cli_cell(&b, json_object_get(d, "uri"));
        buf_append_str(&b, "  rows ");
        cli_cell(&b, json_object_get(dp, "rows"));
        buf_append_str(&b, "  sha256 ");
        cli_cell(&b, json_object_get(dp, "sha256"));
        line_out(&b);
        buf_append_str(&b, "    export:       ");
        if (json_is_object(ex))
            exec_brief(&b, ex);
        else
            buf_append_str(&b, "-");
        line_out(&b);
        buf_append_str(&b, "    feature refs: ");
        join_list(&b, json_object_get(x, "feature_refs"));
        line_out(&b);
        buf_append_str(&b, "    as_of:        ");
        cli_cell(&b, json_object_get(x, "as_of"));
        line_out(&b);
        buf_append_str(&b, "    instances:    ");
        cli_cell(&b, json_object_get(x, "instance_source"));
        line_out(&b);
    }
    const json_t *imps = json_object_get(td, "imports");
    buf_printf(&b, "  imports: %zu", json_array_size(imps));
    json_int_t total = json_integer_value(json_object_get(td, "imports_total"));
    if ((size_t)total > json_array_size(imps))
        buf_printf(&b, " (the newest of %" JSON_INTEGER_FORMAT ")", total);
    line_out(&b);
    json_array_foreach (imps, i, x) {
        const json_t *src = json_object_get(x, "source");
        buf_printf(&b, "    execution %" JSON_INTEGER_FORMAT " ",
                   json_integer_value(json_object_get(x, "execution_id")));
        cli_cell(&b, json_object_get(x, "name"));
        buf_append_str(&b, "  job ");
        cli_cell(&b, json_object_get(x, "job_id"));
        buf_append_str(&b, "  ");
        cli_cell(&b, json_object_get(x, "state"));
        buf_append_str(&b, "  ended ");
        cli_cell(&b, json_object_get(x, "end_time"));
        buf_append_str(&b, "  entity ");
        cli_cell(&b, json_object_get(x, "entity"));
        line_out(&b);
        buf_append_str(&b, "      source ");
        if (json_is_object(src)) {
            const json_t *where = json_object_get(src, "uri");
            cli_cell(&b, json_is_string(where) ? where : json_object_get(src, "name"));
            buf_append_str(&b, "  sha256 ");
            cli_cell(&b, json_object_get(src, "sha256"));
            buf_append_str(&b, "  bytes ");
            cli_cell(&b, json_object_get(src, "bytes"));
        } else {
            buf_append_str(&b, "-");
        }
        line_out(&b);
    }

    const json_t *metrics = json_object_get(p, "metrics");
    buf_printf(&b, "metrics:        %zu", json_array_size(metrics));
    line_out(&b);
    json_array_foreach (metrics, i, x)
        metrics_line(&b, "  ", x);

    const json_t *evals = json_object_get(p, "evaluations");
    buf_printf(&b, "evaluations:    %zu", json_array_size(evals));
    line_out(&b);
    json_array_foreach (evals, i, x) {
        buf_append_str(&b, "  ");
        exec_brief(&b, json_object_get(x, "execution"));
        buf_append_str(&b, "  evaluation ");
        cli_cell(&b, json_object_get(x, "evaluation_id"));
        line_out(&b);
        json_array_foreach (json_object_get(x, "metrics"), j, y)
            metrics_line(&b, "    metrics ", y);
        json_array_foreach (json_object_get(x, "fairness_reports"), j, y) {
            buf_printf(&b, "    fairness report %" JSON_INTEGER_FORMAT ": four_fifths_rule ",
                       json_integer_value(json_object_get(json_object_get(y, "artifact"), "id")));
            cli_cell(&b, json_object_get(y, "four_fifths_rule"));
            fairness_summary(&b, json_object_get(y, "summary"));
            const json_t *uri = json_object_get(json_object_get(y, "artifact"), "uri");
            if (json_is_string(uri)) {
                buf_append_str(&b, "  report ");
                cli_cell(&b, uri);
            }
            line_out(&b);
        }
    }

    const json_t *miss = json_object_get(p, "missing"), *cut = json_object_get(p, "truncated");
    if (json_array_size(cut) > 0) {
        buf_append_str(&b, "truncated:      ");
        join_list(&b, cut);
        line_out(&b);
    }
    buf_append_str(&b, "missing:        ");
    if (json_array_size(miss) == 0)
        buf_append_str(&b, "nothing (provenance complete)");
    json_array_foreach (miss, i, x) {
        if (i)
            buf_append_str(&b, "; ");
        cli_cell(&b, x);
    }
    line_out(&b);
    buf_free(&b);
}

static int run_provenance(cli_ctx *ctx, const cli_args *a)
{
    int rc = CLI_EXIT_OK;
    strata_client *c = NULL;
    strata_err err = STRATA_ERR_INIT;
    json_t *resp = NULL;
    buf path = BUF_INIT;
    const char *version = cli_opt(a, "version");
    uint64_t v = 0;
    if (version && (text_parse_u64(slice_of(version), &v) || v == 0 || v > (uint64_t)INT64_MAX)) {
        rc = cli_usage_error(ctx, "--version takes a positive integer, not '%s'", version);
        goto out;
    }
    buf_append_str(&path, "/v1/models/");
    strata_escape(&path, slice_of(a->pos[0]));
    buf_append_str(&path, "/provenance");
    if (version)
        buf_printf(&path, "?version=%" PRIu64, v);
    if ((rc = cli_client(ctx, &c)))
        goto out;
    int st = strata_request_json(c, "GET", path.p, NULL, &resp, &err);
    if (st) {
        rc = cli_fail_status(ctx, st, &err);
        goto out;
    }
    const json_t *p = json_object_get(resp, "provenance");
    if (!json_is_object(p)) {
        rc = cli_fail(ctx, CLI_EXIT_SERVER, "the answer holds no \"provenance\" object");
        goto out;
    }
    if (ctx->json)
        cli_print_json(resp);
    else
        print_provenance(p);
out:
    json_decref(resp);
    buf_free(&path);
    err_clear(&err);
    return rc;
}

/* ---- the commands
 * --------------------------------------------------------------------------------- */

static const cli_option lineage_options[] = {
    {"artifact", "ID[,ID...]", "start from these artifacts", true},
    {"execution", "ID[,ID...]", "start from these executions", true},
    {"filter", "F", "start from every artifact matching this ML Metadata filter", false},
    {"direction", "D", "upstream, downstream or both (default both)", false},
    {"max-hops", "N", "hops from the start nodes, 0..100 (default 20)", false},
    {"as-of", "T", "the graph as it stood at this RFC 3339 time", false},
    {"dot", NULL, "print Graphviz DOT (artifacts boxes, executions ellipses)", false},
    {"page-size", "N", "nodes per request, 1..10000 (default 10000); pages are merged", false},
    {NULL, NULL, NULL, false},
};

const cli_command cli_lineage_command = {
    .name = "lineage",
    .synopsis = "",
    .summary = "walk the metadata graph from artifacts or executions (tree, DOT or JSON)",
    .details =
        "Prints the traversal as an indented tree: the start nodes at the root, one level per\n"
        "hop, each line the event type of the edge, then kind, id, type and name. A node is\n"
        "printed once; other edges to it end in \"(see above)\" or \"(see below)\".\n"
        "With --dot: a Graphviz digraph, one edge per event in the direction data flows\n"
        "(strata lineage --artifact 3 --dot | dot -Tsvg > lineage.svg). With --json: the\n"
        "server's answer, every page merged.",
    .options = lineage_options,
    .min_args = 0,
    .max_args = 0,
    .run = run_lineage,
};

static const cli_option provenance_options[] = {
    {"version", "N", "this version (default: the newest)", false},
    {NULL, NULL, NULL, false},
};

const cli_command cli_provenance_command = {
    .name = "provenance",
    .synopsis = "MODEL",
    .summary = "where a model came from: training data, imports, hyperparameters, evaluations",
    .details = "Exit status 0 also when the provenance is incomplete; the \"missing:\" line\n"
               "names what is not recorded yet.",
    .options = provenance_options,
    .min_args = 1,
    .max_args = 1,
    .run = run_provenance,
};
