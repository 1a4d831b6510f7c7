/*
 * jsontext.h — JSON as text, without building a tree: a growable byte
 * buffer, the canonical string and integer forms, and a syntax check for
 * JSON text that came from elsewhere.
 *
 * The string form is the one canonical JSON uses (json.h): UTF-8 kept as
 * is, only `"`, `\` and control characters escaped (\b \f \n \r \t, else
 * \u00XX), byte-identical to jansson's compact output. Hot paths that emit
 * many small documents (event bodies) write them here instead of packing
 * and dumping a jansson tree.
 */
#ifndef VL_JSONTEXT_H
#define VL_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A growable buffer; data stays NUL-terminated after len once anything was
 * reserved. Zero-initialise it; vl_buf_free releases data. */
typedef struct {
    char *data;
    size_t len, cap;
} vl_buf_t;

void vl_buf_free(vl_buf_t *buf);
/* Room for `more` bytes plus the NUL. 0, or -1 out of memory. */
int vl_buf_reserve(vl_buf_t *buf, size_t more);
/* Appends n bytes. 0, or -1 out of memory (buf unchanged). */
int vl_buf_put(vl_buf_t *buf, const void *bytes, size_t n);
static inline int
vl_buf_puts(vl_buf_t *buf, const char *s)
{
    return vl_buf_put(buf, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if s does not start
 * one (overlong forms, surrogates and code points above U+10FFFF are
 * invalid). n > 0 bytes are readable. */
size_t vl_utf8_seq(const unsigned char *s, size_t n);

/* Appends str[0..n) as a quoted JSON string. 0; -1 out of memory; -2 when
 * str is not valid UTF-8 (buf then holds a partial string: the caller
 * truncates or discards it). */
int vl_json_put_string(vl_buf_t *buf, const char *str, size_t n);
/* Appends a decimal integer. 0, or -1 out of memory. */
int vl_json_put_int(vl_buf_t *buf, int64_t v);

/* True when text[0..n) is exactly one JSON value (RFC 8259, optional
 * surrounding whitespace), strings valid UTF-8, nesting at most max_depth
 * arrays and objects. Allocates nothing. Duplicate object keys are not
 * looked for: this is a syntax check for text embedded verbatim. */
bool vl_json_text_valid(const char *text, size_t n, int max_depth);

#endif
