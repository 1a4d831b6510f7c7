/* log.c — formats one logfmt-style line and writes it with a single write(2). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *s_level_name[] = { "debug", "info", "warn", "error" };

void
vl_log(vl_log_level_t level, const char *module, const char *event, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s mod=%s ev=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, s_level_name[level], module, event);
    if (n < 0 || (size_t) n >= sizeof line - 2)
        n = (int) sizeof line - 2;
    if (fmt && *fmt) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - (size_t) n - 1, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += (size_t) m < sizeof line - (size_t) n - 1 ? m : (int) (sizeof line - (size_t) n - 2);
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t) n);
    (void) w;
}

const char *
vl_log_quote(const char *text, char *out, size_t size)
{
    size_t o = 0;
    out[o++] = '"';
    for (const char *p = text ? text : ""; *p && o + 3 < size; p++) {
        unsigned char c = (unsigned char) *p;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char) c;
        } else
            out[o++] = c < 0x20 ? ' ' : (char) c;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}
