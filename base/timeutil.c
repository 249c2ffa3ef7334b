/* timeutil.c - clocks and RFC 3339 in microseconds, with no locale or TZ state. */
#include "base/timeutil.h"

#include <time.h>

int64_t time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * TIME_US_PER_SEC + ts.tv_nsec / 1000;
}

uint64_t time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Howard Hinnant's days_from_civil. */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

void time_to_civil(int64_t us, time_civil *out)
{
    int64_t secs = us / TIME_US_PER_SEC;
    if (us % TIME_US_PER_SEC < 0)
        secs -= 1;
    int64_t days = secs / 86400;
    int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (unsigned)(rem / 3600);
    out->minute = (unsigned)(rem / 60 % 60);
    out->second = (unsigned)(rem % 60);
    /* 1970-01-01 was a Thursday (4). */
    int64_t wd = (days % 7 + 7 + 4) % 7;
    out->weekday = (unsigned)wd;
}

int64_t time_from_civil(int64_t year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                        unsigned second)
{
    int64_t days = time_days_from_civil(year, month, day);
    return (days * 86400 + hour * 3600 + minute * 60 + second) * TIME_US_PER_SEC;
}

static int digits(const char *p, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int time_parse_rfc3339(slice s, int64_t *out_us)
{
    const char *p = s.p;
    size_t n = s.n;
    unsigned y, mo, d, h, mi, se;
    if (n < 20)
        return -1;
    if (digits(p, 4, &y) || p[4] != '-' || digits(p + 5, 2, &mo) || p[7] != '-' ||
        digits(p + 8, 2, &d))
        return -1;
    if (p[10] != 'T' && p[10] != 't' && p[10] != ' ')
        return -1;
    if (digits(p + 11, 2, &h) || p[13] != ':' || digits(p + 14, 2, &mi) || p[16] != ':' ||
        digits(p + 17, 2, &se))
        return -1;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        se > 59)
        return -1;
    size_t i = 19;
    int64_t frac = 0;
    if (i < n && p[i] == '.') {
        i++;
        size_t start = i;
        int64_t scale = 100000;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            frac += (p[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start)
            return -1;
    }
    if (i >= n)
        return -1;
    int64_t offset_s = 0;
    if (p[i] == 'Z' || p[i] == 'z') {
        i++;
    } else if (p[i] == '+' || p[i] == '-') {
        unsigned oh, om;
        if (n - i < 6 || digits(p + i + 1, 2, &oh) || p[i + 3] != ':' ||
            digits(p + i + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset_s = (int64_t)(oh * 3600 + om * 60) * (p[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return -1;
    }
    if (i != n)
        return -1;
    int64_t days = time_days_from_civil(y, mo, d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_s;
    int64_t us = secs * TIME_US_PER_SEC + frac;
    if (us < TIME_MIN_US || us > TIME_MAX_US)
        return -1;
    *out_us = us;
    return 0;
}

static char *put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* Hand-formatted: this runs for every value an online read returns, and
 * snprintf was a measurable share of a read's CPU. */
size_t time_format_rfc3339(int64_t us, char *out, size_t cap)
{
    if (cap < TIME_RFC3339_MAX) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    if (us < TIME_MIN_US)
        us = TIME_MIN_US;
    if (us > TIME_MAX_US)
        us = TIME_MAX_US;
    int64_t secs = us / TIME_US_PER_SEC;
    int64_t frac = us % TIME_US_PER_SEC;
    if (frac < 0) {
        frac += TIME_US_PER_SEC;
        secs -= 1;
    }
    int64_t days = secs / 86400;
    int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    char *p = out;
    p = put_digits(p, (unsigned)y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned)(rem / 3600), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(rem / 60 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(rem % 60), 2);
    if (frac) {
        *p++ = '.';
        p = put_digits(p, (unsigned)frac, 6);
    }
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - out);
}

void buf_put_rfc3339(buf *b, int64_t us)
{
    char tmp[TIME_RFC3339_MAX];
    size_t n = time_format_rfc3339(us, tmp, sizeof tmp);
    buf_append(b, tmp, n);
}
