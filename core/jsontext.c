/* jsontext.c — JSON text without a tree: buffer, canonical forms, syntax check. */
#include "jsontext.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

void
vl_buf_free(vl_buf_t *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

int
vl_buf_reserve(vl_buf_t *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < b->len + more + 1)
        ncap *= 2;
    char *p = realloc(b->data, ncap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int
vl_buf_put(vl_buf_t *b, const void *bytes, size_t n)
{
    if (vl_buf_reserve(b, n))
        return -1;
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

size_t
vl_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* The escape for byte c inside a string, or NULL when c is copied as is. */
static const char *
s_escape(unsigned char c, char ubuf[8])
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\b': return "\\b";
    case '\f': return "\\f";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: break;
    }
    if (c >= 0x20)
        return NULL;
    snprintf(ubuf, 8, "\\u%04X", c);
    return ubuf;
}

int
vl_json_put_string(vl_buf_t *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *) str;
    if (vl_buf_put(b, "\"", 1))
        return -1;
    size_t run = 0;  /* start of the pending run of bytes copied verbatim */
    for (size_t i = 0; i < n;) {
        char ubuf[8];
        const char *esc = s_escape(s[i], ubuf);
        if (esc) {
            if (vl_buf_put(b, str + run, i - run) || vl_buf_puts(b, esc))
                return -1;
            run = ++i;
            continue;
        }
        size_t len = vl_utf8_seq(s + i, n - i);
        if (!len)
            return -2;
        i += len;
    }
    if (vl_buf_put(b, str + run, n - run))
        return -1;
    return vl_buf_put(b, "\"", 1);
}

int
vl_json_put_int(vl_buf_t *b, int64_t v)
{
    char num[24];
    int len = snprintf(num, sizeof num, "%" PRId64, v);
    return vl_buf_put(b, num, (size_t) len);
}

/* --- Syntax check ------------------------------------------------------------ */

typedef struct {
    const unsigned char *p, *end;
    int depth_left;
} s_scan_t;

static void
s_ws(s_scan_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool
s_lit(s_scan_t *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t) (s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return false;
    s->p += n;
    return true;
}

static bool
s_digits(s_scan_t *s)
{
    const unsigned char *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > start;
}

static bool
s_number(s_scan_t *s)
{
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (!(s->p < s->end && *s->p >= '1' && *s->p <= '9') || !s_digits(s))
        return false;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!s_digits(s))
            return false;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!s_digits(s))
            return false;
    }
    return true;
}

/* Four hex digits after \u; -1 when they are not. */
static long
s_hex4(s_scan_t *s)
{
    if (s->end - s->p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = *s->p++;
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static bool
s_string(s_scan_t *s)
{
    s->p++;  /* the opening quote */
    while (s->p < s->end) {
        unsigned char c = *s->p;
        if (c == '"') {
            s->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c != '\\') {
            size_t len = vl_utf8_seq(s->p, (size_t) (s->end - s->p));
            if (!len)
                return false;
            s->p += len;
            continue;
        }
        if (++s->p >= s->end)
            return false;
        c = *s->p++;
        if (c == 'u') {
            long u = s_hex4(s);
            if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
                return false;
            /* A high surrogate must be followed by an escaped low one. */
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (!s_lit(s, "\\u"))
                    return false;
                long lo = s_hex4(s);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return false;
            }
        } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
            return false;
        }
    }
    return false;
}

static bool s_value(s_scan_t *s);

/* An array or object; close is ']' or '}'. */
static bool
s_container(s_scan_t *s, unsigned char close)
{
    if (s->depth_left-- <= 0)
        return false;
    s->p++;
    s_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth_left++;
        return true;
    }
    for (;;) {
        if (close == '}') {
            if (!(s->p < s->end && *s->p == '"') || !s_string(s))
                return false;
            s_ws(s);
            if (!(s->p < s->end && *s->p == ':'))
                return false;
            s->p++;
        }
        if (!s_value(s))
            return false;
        s_ws(s);
        if (s->p >= s->end)
            return false;
        unsigned char c = *s->p++;
        if (c == close)
            break;
        if (c != ',')
            return false;
        s_ws(s);
    }
    s->depth_left++;
    return true;
}

static bool
s_value(s_scan_t *s)
{
    s_ws(s);
    if (s->p >= s->end)
        return false;
    switch (*s->p) {
    case '{': return s_container(s, '}');
    case '[': return s_container(s, ']');
    case '"': return s_string(s);
    case 't': return s_lit(s, "true");
    case 'f': return s_lit(s, "false");
    case 'n': return s_lit(s, "null");
    default: return s_number(s);
    }
}

bool
vl_json_text_valid(const char *text, size_t n, int max_depth)
{
    if (!text)
        return false;
    s_scan_t s = { (const unsigned char *) text, (const unsigned char *) text + n, max_depth };
    if (!s_value(&s))
        return false;
    s_ws(&s);
    return s.p == s.end;
}
