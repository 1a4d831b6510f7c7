/*
 * frame.c — the byte layouts of frame.h (bundles, ids, request heads,
 * answer statuses), all through core/codec.h's big-endian helpers. Owns no
 * state; pure, callable from any thread.
 */
#include "frame.h"

#include <string.h>

#include "codec.h"
#include "error.h"

void
gossip_bundle_put(uint8_t *buf, size_t *off, const uint8_t *env, size_t len)
{
    if (*off == 0)
        buf[(*off)++] = GOSSIP_BUNDLE_TAG;
    vl_put_be32(buf + *off, (uint32_t) len);
    memcpy(buf + *off + GOSSIP_BUNDLE_ENTRY_HEAD, env, len);
    *off += GOSSIP_BUNDLE_ENTRY_HEAD + len;
}

int
gossip_bundle_next(const uint8_t *data, size_t size, size_t *off, const uint8_t **env,
                   size_t *len)
{
    if (*off == 0) {
        if (size == 0 || data[0] != GOSSIP_BUNDLE_TAG)
            return VL_ERR_INVALID;
        *off = 1;
    }
    if (*off >= size)
        return 0;
    if (size - *off < GOSSIP_BUNDLE_ENTRY_HEAD)
        return VL_ERR_INVALID;
    size_t n = vl_get_be32(data + *off);
    size_t at = *off + GOSSIP_BUNDLE_ENTRY_HEAD;
    if (n == 0 || n > size - at)
        return VL_ERR_INVALID;
    *env = data + at;
    *len = n;
    *off = at + n;
    return 1;
}

void
gossip_id_put(uint8_t out[GOSSIP_ID_SIZE], uint64_t id)
{
    vl_put_be64(out, id);
}

uint64_t
gossip_id_get(const uint8_t in[GOSSIP_ID_SIZE])
{
    return vl_get_be64(in);
}

void
gossip_head_put(uint8_t out[GOSSIP_HEAD_SIZE], uint32_t kind, uint32_t timeout_ms)
{
    vl_put_be32(out, kind);
    vl_put_be32(out + 4, timeout_ms);
}

void
gossip_head_get(const uint8_t in[GOSSIP_HEAD_SIZE], uint32_t *kind, uint32_t *timeout_ms)
{
    *kind = vl_get_be32(in);
    *timeout_ms = vl_get_be32(in + 4);
}

void
gossip_status_put(uint8_t out[GOSSIP_STATUS_SIZE], int status)
{
    vl_put_be32(out, status < 0 ? (uint32_t) -status : 0);
}

int
gossip_status_get(const uint8_t in[GOSSIP_STATUS_SIZE])
{
    uint32_t code = vl_get_be32(in);
    if (code == 0)
        return 0;
    return code == (uint32_t) -VL_ERR_LIMIT ? VL_ERR_LIMIT : VL_ERR_REFUSED;
}
