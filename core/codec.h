/* codec.h — hex and base64 text encodings of byte strings, and the
 * big-endian integer packing used in store keys. */
#ifndef VL_CODEC_H
#define VL_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes 2*len lowercase hex digits and a NUL into out (size 2*len+1). */
void vl_hex_encode(const uint8_t *data, size_t len, char *out);

/* Decodes exactly out_len bytes from hex text of length 2*out_len.
 * Returns 0 or VL_ERR_INVALID (wrong length or non-hex digit). */
int vl_hex_decode(const char *text, uint8_t *out, size_t out_len);

/* Base64 (standard alphabet, padded). The returned string is owned by the
 * caller (free()); NULL on allocation failure. */
char *vl_base64_encode(const uint8_t *data, size_t len);

/* Decodes base64 text; *out is malloc'd and owned by the caller.
 * Returns 0, VL_ERR_INVALID or VL_ERR_NOMEM. */
int vl_base64_decode(const char *text, uint8_t **out, size_t *out_len);

/* The last occurrence of length-delimited field `field` in a top-level
 * protobuf message (data borrowed from bytes), as protobuf decoders resolve
 * a repeated singular field. False when the bytes are not a well-formed
 * message at the top level (bad key, unknown or group wire type, a length
 * past the end) or the field is absent. Nested messages are not examined. */
bool vl_pb_find_bytes(const uint8_t *bytes, size_t len, uint64_t field, const uint8_t **data,
                      size_t *data_len);

static inline void
vl_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

static inline uint64_t
vl_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void
vl_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

static inline uint32_t
vl_get_be32(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}
#endif
