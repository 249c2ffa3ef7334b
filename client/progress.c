/*
 * progress.c - the terminal progress bar (see progress.h).
 *
 * The rate is the average since the start: steadier than an instantaneous
 * rate for bursty work such as batched HTTP writes, and ETA follows from it.
 * The line never exceeds the terminal width, so it cannot wrap and leave
 * debris behind when redrawn with '\r'.
 */
#include "client/progress.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sys/ioctl.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/timeutil.h"

#define REDRAW_NS 100000000ull /* 10 redraws a second is smooth and cheap */
#define BAR_MIN 10
#define BAR_MAX 40
#define LABEL_MAX 48
#define UNIT_MAX 16

struct progress {
    FILE *out;
    char label[LABEL_MAX];
    char unit[UNIT_MAX];
    uint64_t total;
    uint64_t done;
    uint64_t start_ns;
    uint64_t last_draw_ns;
    uint64_t drawn_done; /* `done` shown by the last redraw */
    bool drawn;
};

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src ? src : "");
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

progress *progress_open(FILE *out, const char *label, const char *unit, uint64_t total)
{
    progress *p = NULL;
    if (!out || !isatty(fileno(out)))
        return NULL;
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->out = out;
    copy_str(p->label, sizeof p->label, label);
    copy_str(p->unit, sizeof p->unit, unit);
    p->total = total;
    p->start_ns = time_mono_ns();
    return p;
}

void progress_set_total(progress *p, uint64_t total)
{
    if (p)
        p->total = total;
}

void progress_format_amount(uint64_t n, const char *unit, char *out, size_t cap)
{
    static const char *const bin[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    static const char *const dec[] = {"k", "M", "G", "T", "P"};
    bool bytes = strcmp(unit, "B") == 0;
    double base = bytes ? 1024.0 : 1000.0;
    if ((double)n < base) {
        snprintf(out, cap, "%llu %s", (unsigned long long)n, unit);
        return;
    }
    double v = (double)n / base;
    size_t i = 0;
    while (v >= base && i + 1 < sizeof bin / sizeof bin[0]) {
        v /= base;
        i++;
    }
    if (bytes)
        snprintf(out, cap, "%.1f %s", v, bin[i]);
    else
        snprintf(out, cap, "%.1f%s %s", v, dec[i], unit);
}

static void format_duration(uint64_t s, char *out, size_t cap)
{
    if (s >= 3600)
        snprintf(out, cap, "%llu:%02llu:%02llu", (unsigned long long)(s / 3600),
                 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
    else
        snprintf(out, cap, "%llu:%02llu", (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
}

static size_t term_width(FILE *out)
{
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

static void draw(progress *p, uint64_t now)
{
    buf line = BUF_INIT, tail = BUF_INIT;
    char done[32], total[32], rate[48], eta[24];
    double secs = (double)(now - p->start_ns) / 1e9;
    double per_s = secs > 0.05 ? (double)p->done / secs : 0.0;

    progress_format_amount(p->done, p->unit, done, sizeof done);
    progress_format_amount((uint64_t)per_s, p->unit, rate, sizeof rate);
    if (p->total) {
        uint64_t d = p->done < p->total ? p->done : p->total;
        progress_format_amount(p->total, p->unit, total, sizeof total);
        buf_printf(&tail, " %3u%%  %s / %s  %s/s", (unsigned)(d * 100 / p->total), done, total,
                   rate);
        if (per_s > 0) {
            format_duration((uint64_t)((double)(p->total - d) / per_s + 0.5), eta, sizeof eta);
            buf_printf(&tail, "  ETA %s", eta);
        }
    } else {
        buf_printf(&tail, "  %s  %s/s", done, rate);
    }

    size_t width = term_width(p->out) - 1; /* the last column would wrap on some terminals */
    buf_printf(&line, "\r%s ", p->label);
    if (p->total) {
        size_t used = strlen(p->label) + 3 + tail.n;
        size_t bar = width > used + BAR_MIN ? width - used : BAR_MIN;
        if (bar > BAR_MAX)
            bar = BAR_MAX;
        size_t fill = (size_t)((double)bar * (double)(p->done < p->total ? p->done : p->total) /
                               (double)p->total);
        buf_putc(&line, '[');
        for (size_t i = 0; i < bar; i++)
            buf_putc(&line, i < fill ? '#' : '.');
        buf_putc(&line, ']');
    }
    buf_append(&line, tail.p, tail.n);
    if (line.n - 1 > width) /* minus the leading '\r' */
        line.n = width + 1;
    buf_append_str(&line, "\033[K"); /* clear what a longer previous line left */
    fwrite(line.p, 1, line.n, p->out);
    fflush(p->out);
    p->drawn = true;
    p->drawn_done = p->done;
    p->last_draw_ns = now;
    buf_free(&line);
    buf_free(&tail);
}

void progress_update(progress *p, uint64_t done)
{
    if (!p)
        return;
    p->done = done;
    uint64_t now = time_mono_ns();
    /* Always show completion, even inside the throttle window, but only once. */
    bool finished = p->total && done >= p->total && done != p->drawn_done;
    if (!p->drawn || now - p->last_draw_ns >= REDRAW_NS || finished)
        draw(p, now);
}

void progress_close(progress *p)
{
    if (!p)
        return;
    if (p->drawn) {
        fputs("\r\033[K", p->out);
        fflush(p->out);
    }
    free(p);
}
