/* codec.c — hex and base64 over OpenSSL's EVP encoders, and a scan of a
 * protobuf message's top-level fields. */
#include "codec.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "error.h"

void
vl_hex_encode(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

static int
s_nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int
vl_hex_decode(const char *text, uint8_t *out, size_t out_len)
{
    if (!text || strlen(text) != 2 * out_len)
        return VL_ERR_INVALID;
    for (size_t i = 0; i < out_len; i++) {
        int hi = s_nibble(text[2 * i]), lo = s_nibble(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return VL_ERR_INVALID;
        out[i] = (uint8_t) (hi << 4 | lo);
    }
    return 0;
}

char *
vl_base64_encode(const uint8_t *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *) out, data, (int) len);
    return out;
}

int
vl_base64_decode(const char *text, uint8_t **out, size_t *out_len)
{
    size_t n = strlen(text);
    if (n % 4 != 0 || n > (size_t) 1 << 30)
        return VL_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                 || c == '+' || c == '/' || (c == '=' && i >= n - 2);
        if (!ok || (i == n - 2 && c == '=' && text[n - 1] != '='))
            return VL_ERR_INVALID;
    }
    uint8_t *buf = malloc(n / 4 * 3 + 1);
    if (!buf)
        return VL_ERR_NOMEM;
    int len = EVP_DecodeBlock(buf, (const unsigned char *) text, (int) n);
    if (len < 0) {
        free(buf);
        return VL_ERR_INVALID;
    }
    /* EVP_DecodeBlock counts padding as zero bytes; take them back off. */
    if (n >= 1 && text[n - 1] == '=') len--;
    if (n >= 2 && text[n - 2] == '=') len--;
    *out = buf;
    *out_len = (size_t) len;
    return 0;
}

/* Reads a protobuf varint at *p (< end); false when truncated or longer
 * than 10 bytes. */
static bool
s_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t) (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

bool
vl_pb_find_bytes(const uint8_t *bytes, size_t len, uint64_t field, const uint8_t **data,
                   size_t *data_len)
{
    const uint8_t *p = bytes, *end = bytes + len;
    bool found = false;
    while (p < end) {
        uint64_t key, n;
        if (!s_varint(&p, end, &key) || (key >> 3) == 0)
            return false;
        switch (key & 7) {
        case 0:
            if (!s_varint(&p, end, &n))
                return false;
            break;
        case 1:
            if (end - p < 8)
                return false;
            p += 8;
            break;
        case 2:
            if (!s_varint(&p, end, &n) || n > (uint64_t) (end - p))
                return false;
            if ((key >> 3) == field) {
                *data = p;
                *data_len = (size_t) n;
                found = true;
            }
            p += n;
            break;
        case 5:
            if (end - p < 4)
                return false;
            p += 4;
            break;
        default:
            return false;
        }
    }
    return found;
}
