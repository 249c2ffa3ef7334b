/*
 * client.c - libstrata: stratad's HTTP API over one libcurl easy handle.
 *
 * Every request goes through strata_request(): it resets the easy handle (which
 * keeps its live connection, so requests reuse one keep-alive socket), sets the
 * per-request options, collects the body into a capped buffer and turns the
 * outcome into a Strata status plus a one-line message. strata_request_stream()
 * sets the handle up the same way (prepare()) but hands a 2xx body to the
 * caller as it arrives. The typed helpers only build paths and bodies; list
 * helpers follow next_page_token to the end.
 *
 * Invariants: c->url never ends in '/'; every path segment a helper puts into
 * a URL went through strata_escape(); redirects are never followed, so the
 * bearer token only ever goes to the configured URL.
 */
#include "client/strata.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "base/jsonw.h"
#include "base/text.h"
#include "client/client_int.h"

#include "strata_build_id.h" /* STRATA_BUILD_ID, written at build time */

/* The contract's maximum page size: fewest round trips when listing everything. */
#define LIST_PAGE_SIZE 1000
/* Connecting is quick on a LAN or loopback; give up early if nobody answers. */
#define CONNECT_TIMEOUT_MS 10000L

struct strata_client {
    CURL *curl;
    char *url;         /* base URL, no trailing '/' */
    char *auth_header; /* "Authorization: Bearer ..." or NULL */
    char *cacert;      /* NULL: libcurl's default bundle */
    long timeout_ms;
    size_t max_response_bytes;
    char errbuf[CURL_ERROR_SIZE];
};

/* The response body as it arrives, refused past `max` bytes. */
struct sink {
    buf body;
    size_t max;
    bool overflow;
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

static const char *opt_or_env(const char *value, const char *env)
{
    if (value)
        return value;
    const char *e = getenv(env);
    return e && *e ? e : NULL;
}

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

static bool valid_url(const char *u)
{
    size_t skip;
    if (strncasecmp(u, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(u, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    if (u[skip] == '\0' || u[skip] == '/')
        return false;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

int strata_client_open(const strata_client_options *opts, strata_client **out, strata_err *err)
{
    int rc = STRATA_OK;
    strata_client *c = NULL;
    bool global = false;
    strata_client_options none = {0};
    if (!opts)
        opts = &none;
    *out = NULL;

    const char *url = opt_or_env(opts->url, "STRATA_URL");
    const char *token = opt_or_env(opts->token, "STRATA_TOKEN");
    const char *cacert = opt_or_env(opts->cacert, "STRATA_CACERT");
    if (!url)
        url = STRATA_DEFAULT_URL;
    if (!valid_url(url)) {
        char ex[64];
        text_excerpt(slice_of(url), ex, sizeof ex);
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "invalid URL \"%s\": expected http://HOST[:PORT] or https://HOST[:PORT]", ex);
        goto out;
    }
    if (token && (!*token || has_ctl(token))) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT,
                     "invalid token: empty or holds control characters");
        goto out;
    }
    if (opts->timeout_ms < 0) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "invalid timeout %ld ms", opts->timeout_ms);
        goto out;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc = err_set(err, STRATA_INTERNAL, "libcurl initialisation failed");
        goto out;
    }
    global = true;
    c = calloc(1, sizeof *c);
    if (!c) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : STRATA_DEFAULT_TIMEOUT_MS;
    c->max_response_bytes =
        opts->max_response_bytes ? opts->max_response_bytes : STRATA_DEFAULT_MAX_RESPONSE_BYTES;
    c->url = dup_str(url);
    c->curl = curl_easy_init();
    if (!c->url || !c->curl) {
        rc = err_set(err, STRATA_NOMEM, "out of memory");
        goto out;
    }
    size_t n = strlen(c->url);
    while (n > 0 && c->url[n - 1] == '/')
        c->url[--n] = '\0';
    if (token) {
        buf h = BUF_INIT;
        buf_printf(&h, "Authorization: Bearer %s", token);
        c->auth_header = buf_steal(&h, NULL);
    }
    if (cacert) {
        c->cacert = dup_str(cacert);
        if (!c->cacert) {
            rc = err_set(err, STRATA_NOMEM, "out of memory");
            goto out;
        }
    }
    *out = c;
    c = NULL;
    global = false; /* now owned by the client */
out:
    if (c) {
        curl_easy_cleanup(c->curl);
        free(c->url);
        free(c->auth_header);
        free(c->cacert);
        free(c);
    }
    if (global)
        curl_global_cleanup();
    return rc;
}

void strata_client_close(strata_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    if (c->auth_header) /* the token is a secret: do not leave it in freed heap */
        memset(c->auth_header, 0, strlen(c->auth_header));
    free(c->auth_header);
    free(c->url);
    free(c->cacert);
    free(c);
    curl_global_cleanup();
}

const char *strata_client_url(const strata_client *c)
{
    return c->url;
}

void strata_escape(buf *out, slice s)
{
    static const char hex[] = "0123456789ABCDEF";
    buf_reserve(out, s.n);
    for (size_t i = 0; i < s.n; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            buf_putc(out, (char)ch);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            buf_append(out, e, 3);
        }
    }
}

/* "/" + the percent-encoded segment. "." and ".." are dot-segments that URL
 * normalisation (RFC 3986 5.2.4) would resolve away, so their dots are encoded. */
static void path_seg(buf *b, const char *seg)
{
    buf_putc(b, '/');
    if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0) {
        for (; *seg; seg++)
            buf_append_str(b, "%2E");
        return;
    }
    strata_escape(b, slice_of(seg));
}

/* ---- JSON output ----------------------------------------------------------- */

void client_json_write(buf *b, const json_t *j)
{
    jsonw_value(b, j, false);
}

/* ---- requests -------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    if (n > s->max - s->body.n) {
        s->overflow = true;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    buf_append(&s->body, p, n);
    return n;
}

static int status_from_http(long http)
{
    switch (http) {
    case 400:
        return STRATA_INVALID_ARGUMENT;
    case 401:
        return STRATA_UNAUTHENTICATED;
    case 403:
        return STRATA_PERMISSION_DENIED;
    case 404:
        return STRATA_NOT_FOUND;
    case 405:
        return STRATA_METHOD_NOT_ALLOWED;
    case 409:
        return STRATA_ALREADY_EXISTS;
    case 412:
        return STRATA_FAILED_PRECONDITION;
    case 413:
    case 429:
        return STRATA_RESOURCE_EXHAUSTED;
    case 503:
        return STRATA_UNAVAILABLE;
    default:
        return http >= 400 && http < 500 ? STRATA_INVALID_ARGUMENT : STRATA_INTERNAL;
    }
}

/* Fill err from a non-2xx answer: the contract's error body when it is one. */
static int set_http_error(strata_client *c, strata_err *err, long http, const char *method,
                          const char *path, slice body)
{
    int rc = status_from_http(http);
    json_t *doc = NULL;
    const char *msg = NULL;
    if (body.n)
        doc = json_loadb(body.p, body.n, JSON_ALLOW_NUL, NULL);
    json_t *e = json_object_get(doc, "error");
    msg = json_string_value(json_object_get(e, "message"));
    if (msg && *msg) {
        err_set(err, rc, "%s", msg);
    } else {
        char ex[160];
        text_excerpt(body.n ? body : slice_of(""), ex, sizeof ex);
        err_set(err, rc, "stratad at %s answered %s %s with HTTP %ld%s%s", c->url, method, path,
                http, ex[0] ? ": " : "", ex);
    }
    json_t *details = json_object_get(e, "details");
    if (err && json_is_array(details) && json_array_size(details)) {
        json_decref(err->details);
        err->details = json_incref(details);
    }
    json_decref(doc);
    return rc;
}

static int set_transport_error(strata_client *c, strata_err *err, CURLcode cc)
{
    const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);
    bool plain = strncasecmp(c->url, "http://", 7) == 0;
    switch (cc) {
    case CURLE_PEER_FAILED_VERIFICATION:
        /* Certificate or host name not trusted: say how to trust it. */
        return err_set(err, STRATA_IO,
                       "cannot reach stratad at %s: %s (TLS certificate not verified: pass the "
                       "CA that signed it with --cacert FILE or STRATA_CACERT)",
                       c->url, why);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return err_set(err, STRATA_IO, "cannot reach stratad at %s: %s", c->url, why);
    case CURLE_OPERATION_TIMEDOUT:
        return err_set(err, STRATA_IO, "no answer in time from stratad at %s: %s", c->url, why);
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
        /* What a TLS port does to a plaintext request: it hangs up. */
        return err_set(err, STRATA_IO, "lost connection to stratad at %s: %s%s", c->url, why,
                       plain ? " (if stratad serves TLS, use an https:// URL)" : "");
    default:
        return err_set(err, STRATA_IO, "lost connection to stratad at %s: %s", c->url, why);
    }
}

static bool valid_method(const char *m)
{
    if (!m || !*m)
        return false;
    for (; *m; m++)
        if (*m < 'A' || *m > 'Z')
            return false;
    return true;
}

static int add_header(struct curl_slist **list, const char *h)
{
    struct curl_slist *n = curl_slist_append(*list, h);
    if (!n)
        return -1;
    *list = n;
    return 0;
}

/* What a prepared request points to until it is performed. */
struct prepared {
    struct curl_slist *headers;
    buf url, ct;
};

static void prepared_free(struct prepared *q)
{
    curl_slist_free_all(q->headers);
    q->headers = NULL;
    buf_free(&q->url);
    buf_free(&q->ct);
}

/*
 * Check the request and set up c->curl for it: everything strata_request and
 * strata_request_stream share (URL, headers with `accept`, the token and no
 * "Expect:", method and body, TLS verification, protocols, user agent, CA
 * bundle, connect timeout). The caller adds its overall or stall timeout and
 * its write callback, performs, then frees *q (also on failure here).
 */
static int prepare(strata_client *c, const char *method, const char *path, const char *content_type,
                   const void *body, size_t body_len, const char *accept, struct prepared *q,
                   strata_err *err)
{
    CURL *h = c->curl;
    if (!valid_method(method))
        return err_set(err, STRATA_INVALID_ARGUMENT, "invalid HTTP method");
    bool is_get = strcmp(method, "GET") == 0;
    bool is_head = strcmp(method, "HEAD") == 0;
    /* POST, PUT, PATCH always carry a body (maybe empty); others only when given. */
    bool send_body = body != NULL || (!is_get && !is_head && strcmp(method, "DELETE") != 0);
    if (!path || path[0] != '/' || has_ctl(path) || strchr(path, ' '))
        return err_set(err, STRATA_INVALID_ARGUMENT, "invalid request path");
    if (content_type && has_ctl(content_type))
        return err_set(err, STRATA_INVALID_ARGUMENT, "invalid content type");
    buf_append_str(&q->url, c->url);
    buf_append_str(&q->url, path);

    /* Reset keeps the live connection (keep-alive) and the DNS cache. */
    curl_easy_reset(h);
    c->errbuf[0] = '\0';
    if (add_header(&q->headers, accept) ||
        (c->auth_header && add_header(&q->headers, c->auth_header)) ||
        /* stratad answers at once; waiting for "100 Continue" only adds latency. */
        add_header(&q->headers, "Expect:"))
        return err_set(err, STRATA_NOMEM, "out of memory");
    if (send_body) {
        buf_printf(&q->ct, "Content-Type: %s", content_type ? content_type : "application/json");
        if (add_header(&q->headers, q->ct.p))
            return err_set(err, STRATA_NOMEM, "out of memory");
    }
    curl_easy_setopt(h, CURLOPT_URL, q->url.p);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    /* The path is already encoded segment by segment: send it exactly as built. */
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     c->timeout_ms < CONNECT_TIMEOUT_MS ? c->timeout_ms : CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "libstrata/" STRATA_BUILD_ID);
    /* https: always verify the chain and the host name (libcurl's default,
     * stated so a reset cannot lose it). There is no switch to turn this off:
     * a self-signed or private CA is trusted with --cacert instead. */
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (c->cacert)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, q->headers);
    if (is_head) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (is_get && !send_body) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        if (send_body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
        }
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    return STRATA_OK;
}

/* The status of a finished transfer: libcurl's error (an over-long answer
 * when sink->overflow), else the HTTP status with a non-2xx body in
 * sink->body. */
static int outcome(strata_client *c, CURLcode cc, long http, const struct sink *sink,
                   const char *method, const char *path, strata_err *err)
{
    if (cc != CURLE_OK) {
        if (sink->overflow)
            return err_set(err, STRATA_CORRUPT,
                           "answer of stratad at %s to %s %s exceeds %zu bytes", c->url, method,
                           path, c->max_response_bytes);
        return set_transport_error(c, err, cc);
    }
    if (http < 200 || http > 299)
        return set_http_error(c, err, http, method, path, buf_slice(&sink->body));
    return STRATA_OK;
}

int strata_request(strata_client *c, const char *method, const char *path, const char *content_type,
                   const void *body, size_t body_len, strata_response *resp, strata_err *err)
{
    struct prepared q = {NULL, BUF_INIT, BUF_INIT};
    struct sink sink = {BUF_INIT, c->max_response_bytes, false};
    CURL *h = c->curl;

    resp->http_status = 0;
    resp->body = NULL;
    resp->body_len = 0;
    int rc =
        prepare(c, method, path, content_type, body, body_len, "Accept: application/json", &q, err);
    if (rc == STRATA_OK) {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
        CURLcode cc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->http_status);
        rc = outcome(c, cc, resp->http_status, &sink, method, path, err);
        if (sink.body.n)
            resp->body = buf_steal(&sink.body, &resp->body_len);
    }
    prepared_free(&q);
    buf_free(&sink.body);
    return rc;
}

/* A streamed request: a 2xx body goes to the caller's write, any other into sink. */
struct stream {
    CURL *h;
    struct sink sink;
    int (*write)(void *arg, const void *p, size_t n);
    void *arg;
    uint64_t bytes; /* handed to write */
    bool stopped;   /* write asked to stop */
};

static size_t on_stream(char *p, size_t size, size_t nmemb, void *ud)
{
    struct stream *s = ud;
    size_t n = size * nmemb;
    long http = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &http);
    if (http < 200 || http > 299)
        return on_body(p, size, nmemb, &s->sink);
    if (n == 0)
        return 0;
    if (s->write(s->arg, p, n) != 0) {
        s->stopped = true;
        return 0; /* CURLE_WRITE_ERROR */
    }
    s->bytes += n;
    return n;
}

int strata_request_stream(strata_client *c, const char *method, const char *path,
                          const char *content_type, const void *body, size_t body_len,
                          int (*write)(void *arg, const void *p, size_t n), void *arg,
                          long *http_status, strata_err *err)
{
    struct prepared q = {NULL, BUF_INIT, BUF_INIT};
    struct stream s = {c->curl, {BUF_INIT, c->max_response_bytes, false}, write, arg, 0, false};
    long http = 0;
    int rc;

    if (!write)
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "no write function for the answer");
    else
        rc = prepare(c, method, path, content_type, body, body_len, "Accept: */*", &q, err);
    if (rc == STRATA_OK) {
        /* A streamed answer may take any time as long as it moves (an export
         * may think a while before its first byte): no overall timeout, but
         * under 1 byte/s for the client's timeout fails. */
        long secs = (c->timeout_ms + 999) / 1000;
        curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, secs);
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_stream);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
        CURLcode cc = curl_easy_perform(c->curl);
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &http);
        if (s.stopped)
            rc = err_set(err, STRATA_IO,
                         "answer of stratad at %s to %s %s: transfer stopped by the caller after "
                         "%llu bytes",
                         c->url, method, path, (unsigned long long)s.bytes);
        else
            rc = outcome(c, cc, http, &s.sink, method, path, err);
    }
    if (http_status)
        *http_status = http;
    prepared_free(&q);
    buf_free(&s.sink.body);
    return rc;
}

void strata_response_free(strata_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    resp->http_status = 0;
}

int strata_request_json(strata_client *c, const char *method, const char *path, const json_t *body,
                        json_t **out, strata_err *err)
{
    int rc;
    buf req = BUF_INIT;
    strata_response resp = STRATA_RESPONSE_INIT;
    json_t *doc = NULL;
    json_error_t jerr;

    if (out)
        *out = NULL;
    if (body)
        client_json_write(&req, body);
    rc =
        strata_request(c, method, path, "application/json", body ? req.p : NULL, req.n, &resp, err);
    if (rc)
        goto out;
    if (resp.body_len == 0) {
        doc = json_object();
    } else {
        doc = json_loadb(resp.body, resp.body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!doc) {
            rc = err_set(err, STRATA_CORRUPT,
                         "stratad at %s sent invalid JSON for %s %s: %s (byte %d)", c->url, method,
                         path, jerr.text, jerr.position);
            goto out;
        }
    }
    if (out) {
        *out = doc;
        doc = NULL;
    }
out:
    json_decref(doc);
    strata_response_free(&resp);
    buf_free(&req);
    return rc;
}

/* ---- typed helpers --------------------------------------------------------- */

static int need(const char *what, const char *s, strata_err *err)
{
    if (!s || !*s)
        return err_set(err, STRATA_INVALID_ARGUMENT, "%s is empty", what);
    return STRATA_OK;
}

/* A JSON string of s, or NULL when s is not UTF-8 (jansson refuses it). */
static json_t *utf8_string(const char *what, const char *s, strata_err *err)
{
    json_t *j = json_stringn(s, strlen(s));
    if (!j)
        err_set(err, STRATA_INVALID_ARGUMENT, "%s is not valid UTF-8", what);
    return j;
}

/* obj[key] = s; INVALID_ARGUMENT when s is not UTF-8. */
static int put_str(json_t *obj, const char *key, const char *s, strata_err *err)
{
    json_t *j = utf8_string(key, s, err);
    if (!j)
        return STRATA_INVALID_ARGUMENT;
    json_object_set_new(obj, key, j);
    return STRATA_OK;
}

/*
 * GET every page of a list at `path` (which may already hold a query) and
 * return the first page's object with the `key` arrays of all pages joined and
 * next_page_token "".
 */
static int list_all(strata_client *c, const char *path, const char *key, json_t **out,
                    strata_err *err)
{
    int rc = STRATA_OK;
    json_t *result = NULL, *page = NULL;
    buf url = BUF_INIT, token = BUF_INIT;
    char *next = NULL;

    if (out)
        *out = NULL;
    for (;;) {
        buf_reset(&url);
        buf_printf(&url, "%s%cpage_size=%d", path, strchr(path, '?') ? '&' : '?', LIST_PAGE_SIZE);
        if (token.n) {
            buf_append_str(&url, "&page_token=");
            strata_escape(&url, buf_slice(&token));
        }
        rc = strata_request_json(c, "GET", url.p, NULL, &page, err);
        if (rc)
            goto out;
        json_t *items = json_object_get(page, key);
        if (!json_is_array(items)) {
            rc = err_set(err, STRATA_CORRUPT,
                         "answer of stratad at %s to GET %s has no \"%s\" list", c->url, path, key);
            goto out;
        }
        const char *tok = json_string_value(json_object_get(page, "next_page_token"));
        free(next);
        next = tok && *tok ? dup_str(tok) : NULL;
        if (!result) {
            result = page;
        } else {
            json_array_extend(json_object_get(result, key), items);
            json_decref(page);
        }
        page = NULL;
        if (!next)
            break;
        if (token.n && strcmp(next, token.p) == 0) {
            rc = err_set(err, STRATA_CORRUPT, "stratad at %s repeated page token for GET %s",
                         c->url, path);
            goto out;
        }
        buf_reset(&token);
        buf_append_str(&token, next);
    }
    json_object_set_new(result, "next_page_token", json_string(""));
    if (out) {
        *out = result;
        result = NULL;
    }
out:
    free(next);
    json_decref(page);
    json_decref(result);
    buf_free(&url);
    buf_free(&token);
    return rc;
}

int strata_entity_create(strata_client *c, const char *name, const char *description,
                         const json_t *labels, json_t **out, strata_err *err)
{
    int rc;
    json_t *body = NULL;
    if (out)
        *out = NULL;
    if ((rc = need("entity name", name, err)))
        goto out;
    body = json_object();
    if ((rc = put_str(body, "name", name, err)) ||
        (description && (rc = put_str(body, "description", description, err))))
        goto out;
    if (labels)
        json_object_set(body, "labels", (json_t *)labels);
    rc = strata_request_json(c, "POST", "/v1/entities", body, out, err);
out:
    json_decref(body);
    return rc;
}

int strata_entity_list(strata_client *c, json_t **out, strata_err *err)
{
    return list_all(c, "/v1/entities", "entities", out, err);
}

int strata_entity_get(strata_client *c, const char *name, json_t **out, strata_err *err)
{
    int rc;
    buf path = BUF_INIT;
    if (out)
        *out = NULL;
    if ((rc = need("entity name", name, err)))
        goto out;
    buf_append_str(&path, "/v1/entities");
    path_seg(&path, name);
    rc = strata_request_json(c, "GET", path.p, NULL, out, err);
out:
    buf_free(&path);
    return rc;
}

int strata_entity_delete(strata_client *c, const char *name, int force, json_t **out,
                         strata_err *err)
{
    int rc;
    buf path = BUF_INIT;
    if (out)
        *out = NULL;
    if ((rc = need("entity name", name, err)))
        goto out;
    buf_append_str(&path, "/v1/entities");
    path_seg(&path, name);
    if (force)
        buf_append_str(&path, "?force=true");
    rc = strata_request_json(c, "DELETE", path.p, NULL, out, err);
out:
    buf_free(&path);
    return rc;
}

/* "/v1/entities/{entity}/features[/{name}]" */
static void feature_path(buf *b, const char *entity, const char *name)
{
    buf_append_str(b, "/v1/entities");
    path_seg(b, entity);
    buf_append_str(b, "/features");
    if (name)
        path_seg(b, name);
}

int strata_feature_create(strata_client *c, const char *entity, const strata_feature_spec *spec,
                          json_t **out, strata_err *err)
{
    int rc;
    buf path = BUF_INIT;
    json_t *body = NULL;
    if (out)
        *out = NULL;
    if ((rc = need("entity name", entity, err)) || (rc = need("feature name", spec->name, err)) ||
        (rc = need("feature type", spec->type, err)))
        goto out;
    body = json_object();
    if ((rc = put_str(body, "name", spec->name, err)) ||
        (rc = put_str(body, "type", spec->type, err)) ||
        (spec->description && (rc = put_str(body, "description", spec->description, err))))
        goto out;
    json_object_set_new(body, "ttl_seconds", json_integer((json_int_t)spec->ttl_seconds));
    if (spec->labels)
        json_object_set(body, "labels", (json_t *)spec->labels);
    feature_path(&path, entity, NULL);
    rc = strata_request_json(c, "POST", path.p, body, out, err);
out:
    json_decref(body);
    buf_free(&path);
    return rc;
}

int strata_feature_list(strata_client *c, const char *entity, json_t **out, strata_err *err)
{
    int rc;
    buf path = BUF_INIT;
    if (out)
        *out = NULL;
    if ((rc = need("entity name", entity, err)))
        goto out;
    feature_path(&path, entity, NULL);
    rc = list_all(c, path.p, "features", out, err);
out:
    buf_free(&path);
    return rc;
}

int strata_feature_get(strata_client *c, const char *entity, const char *name, json_t **out,
                       strata_err *err)
{
    int rc;
    buf path = BUF_INIT;
    if (out)
        *out = NULL;
    if ((rc = need("entity name", entity, err)) || (rc = need("feature name", name, err)))
        goto out;
    feature_path(&path, entity, name);
    rc = strata_request_json(c, "GET", path.p, NULL, out, err);
out:
    buf_free(&path);
    return rc;
}

int strata_feature_search(strata_client *c, const char *query, const char *type, const char *entity,
                          json_t **out, strata_err *err)
{
    int rc;
    buf path = BUF_INIT;
    buf_append_str(&path, "/v1/features:search?q=");
    strata_escape(&path, slice_of(query ? query : ""));
    if (type) {
        buf_append_str(&path, "&type=");
        strata_escape(&path, slice_of(type));
    }
    if (entity) {
        buf_append_str(&path, "&entity=");
        strata_escape(&path, slice_of(entity));
    }
    rc = list_all(c, path.p, "features", out, err);
    buf_free(&path);
    return rc;
}

int strata_feature_update(strata_client *c, const char *entity, const char *name,
                          const json_t *patch, json_t **out, strata_err *err)
{
    int rc;
    buf path = BUF_INIT;
    if (out)
        *out = NULL;
    if ((rc = need("entity name", entity, err)) || (rc = need("feature name", name, err)))
        goto out;
    if (!json_is_object(patch)) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "feature update is not a JSON object");
        goto out;
    }
    feature_path(&path, entity, name);
    rc = strata_request_json(c, "PATCH", path.p, patch, out, err);
out:
    buf_free(&path);
    return rc;
}

int strata_feature_delete(strata_client *c, const char *entity, const char *name, json_t **out,
                          strata_err *err)
{
    int rc;
    buf path = BUF_INIT;
    if (out)
        *out = NULL;
    if ((rc = need("entity name", entity, err)) || (rc = need("feature name", name, err)))
        goto out;
    feature_path(&path, entity, name);
    rc = strata_request_json(c, "DELETE", path.p, NULL, out, err);
out:
    buf_free(&path);
    return rc;
}

int strata_write(strata_client *c, const char *entity, const json_t *rows, uint64_t *written_values,
                 strata_err *err)
{
    int rc;
    buf path = BUF_INIT;
    json_t *body = NULL, *resp = NULL;
    if (written_values)
        *written_values = 0;
    if ((rc = need("entity name", entity, err)))
        goto out;
    if (!json_is_array(rows)) {
        rc = err_set(err, STRATA_INVALID_ARGUMENT, "rows is not a JSON array");
        goto out;
    }
    buf_append_str(&path, "/v1/entities");
    path_seg(&path, entity);
    buf_append_str(&path, ":write");
    body = json_object();
    json_object_set(body, "rows", (json_t *)rows);
    rc = strata_request_json(c, "POST", path.p, body, &resp, err);
    if (rc)
        goto out;
    json_t *n = json_object_get(resp, "written_values");
    if (!json_is_integer(n) || json_integer_value(n) < 0) {
        rc = err_set(err, STRATA_CORRUPT,
                     "answer of stratad at %s to a write has no written_values", c->url);
        goto out;
    }
    if (written_values)
        *written_values = (uint64_t)json_integer_value(n);
out:
    json_decref(body);
    json_decref(resp);
    buf_free(&path);
    return rc;
}

int strata_online_get(strata_client *c, const char *entity, const char *id,
                      const char *const *features, size_t nfeatures, json_t **out, strata_err *err)
{
    int rc;
    buf path = BUF_INIT;
    if (out)
        *out = NULL;
    if ((rc = need("entity name", entity, err)) || (rc = need("entity id", id, err)))
        goto out;
    buf_append_str(&path, "/v1/entities");
    path_seg(&path, entity);
    buf_append_str(&path, "/values");
    path_seg(&path, id);
    for (size_t i = 0; i < nfeatures; i++) {
        buf_append_str(&path, i ? "," : "?features=");
        strata_escape(&path, slice_of(features[i]));
    }
    rc = strata_request_json(c, "GET", path.p, NULL, out, err);
out:
    buf_free(&path);
    return rc;
}

int strata_online_read(strata_client *c, const char *entity, const char *const *ids, size_t nids,
                       const char *const *features, size_t nfeatures, json_t **out, strata_err *err)
{
    int rc;
    json_t *body = NULL, *jids = NULL, *jfeatures = NULL;
    if (out)
        *out = NULL;
    if ((rc = need("entity name", entity, err)))
        goto out;
    body = json_object();
    if ((rc = put_str(body, "entity", entity, err)))
        goto out;
    jids = json_array();
    for (size_t i = 0; i < nids; i++) {
        json_t *j = utf8_string("entity id", ids[i], err);
        if (!j) {
            rc = STRATA_INVALID_ARGUMENT;
            goto out;
        }
        json_array_append_new(jids, j);
    }
    json_object_set(body, "ids", jids);
    if (nfeatures) {
        jfeatures = json_array();
        for (size_t i = 0; i < nfeatures; i++) {
            json_t *j = utf8_string("feature name", features[i], err);
            if (!j) {
                rc = STRATA_INVALID_ARGUMENT;
                goto out;
            }
            json_array_append_new(jfeatures, j);
        }
        json_object_set(body, "features", jfeatures);
    }
    rc = strata_request_json(c, "POST", "/v1/online:read", body, out, err);
out:
    json_decref(body);
    json_decref(jids);
    json_decref(jfeatures);
    return rc;
}
