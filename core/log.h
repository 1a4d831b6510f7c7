/*
 * log.h — structured log lines on stderr, one event per line:
 *
 *   ts=2026-11-23T19:40:00.123Z level=info mod=ledger ev=block.commit height=3 txs=10
 *
 * The caller supplies the key=value tail with printf formatting; values that
 * may hold spaces are quoted by the caller with vl_log_quote(). No global
 * state: the line is written with one write(2) so concurrent threads do not
 * interleave within a line.
 */
#ifndef VL_LOG_H
#define VL_LOG_H

#include <stddef.h>

typedef enum { VL_LOG_DEBUG, VL_LOG_INFO, VL_LOG_WARN, VL_LOG_ERROR } vl_log_level_t;

void vl_log(vl_log_level_t level, const char *module, const char *event,
            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Writes `"text"` with quotes and backslashes escaped and control characters
 * replaced, truncated to fit out (size >= 3). Returns out. */
const char *vl_log_quote(const char *text, char *out, size_t size);

#define vl_info(mod, ev, ...)  vl_log(VL_LOG_INFO, mod, ev, __VA_ARGS__)
#define vl_warn(mod, ev, ...)  vl_log(VL_LOG_WARN, mod, ev, __VA_ARGS__)
#define vl_error(mod, ev, ...) vl_log(VL_LOG_ERROR, mod, ev, __VA_ARGS__)
#endif
