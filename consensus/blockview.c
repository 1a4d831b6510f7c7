/* blockview.c — a block decoded once (blockview.h). */
#include "blockview.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "types.h"

void
block_view_destroy(block_view_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    block_view_t *v = *self_p;
    for (size_t i = 0; v->txs && i < v->n_txs; i++)
        tx_destroy(&v->txs[i]);
    free(v->txs);
    free(v->parse_codes);
    free(v->txids);
    if (v->header)
        vl__block_header__free_unpacked(v->header, NULL);
    if (v->block)
        vl__block__free_unpacked(v->block, NULL);
    free(v);
    *self_p = NULL;
}

int
block_view_new(const uint8_t *bytes, size_t len, const char *chain_id, int flags,
               block_view_t **out, vl_err_t *err)
{
    int rc = VL_ERR_NOMEM;
    block_view_t *v = calloc(1, sizeof *v);
    if (!v)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    v->block = vl__block__unpack(NULL, len, bytes);
    if (!v->block || v->block->header.len == 0) {
        rc = vl_err_set(err, VL_ERR_INVALID, "not a valid Block message");
        goto fail;
    }
    v->header = vl__block_header__unpack(NULL, v->block->header.len, v->block->header.data);
    if (!v->header) {
        rc = vl_err_set(err, VL_ERR_INVALID, "block header does not unpack");
        goto fail;
    }
    vl_sha256(v->block->header.data, v->block->header.len, v->hash);
    size_t n = v->block->n_transactions;
    if (n > VL_BLOCK_TXS_MAX) {
        rc = vl_err_set(err, VL_ERR_INVALID, "block holds %zu transactions (limit %d)", n,
                        VL_BLOCK_TXS_MAX);
        goto fail;
    }
    v->n_txs = n;
    v->txids = calloc(n ? n : 1, sizeof *v->txids);
    if (!v->txids) {
        rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        tx_id(v->block->transactions[i].data, v->block->transactions[i].len, v->txids[i]);
    if (flags & BLOCK_VIEW_PARSE_TXS) {
        v->txs = calloc(n ? n : 1, sizeof *v->txs);
        v->parse_codes = calloc(n ? n : 1, sizeof *v->parse_codes);
        if (!v->txs || !v->parse_codes) {
            rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            vl_err_t ignore;
            int prc = tx_parse(v->block->transactions[i].data, v->block->transactions[i].len,
                               chain_id, &v->txs[i], &v->parse_codes[i], &ignore);
            if (prc == VL_ERR_NOMEM) {
                rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
                goto fail;
            }
        }
    }
    *out = v;
    return 0;
fail:
    block_view_destroy(&v);
    return rc;
}

bool
block_view_height(const uint8_t *bytes, size_t len, uint64_t *height)
{
    const uint8_t *header = NULL;
    size_t header_len = 0;
    if (!vl_pb_find_bytes(bytes, len, 1, &header, &header_len) || header_len == 0)
        return false;
    Vl__BlockHeader *h = vl__block_header__unpack(NULL, header_len, header);
    if (!h)
        return false;
    *height = h->height;
    vl__block_header__free_unpacked(h, NULL);
    return true;
}
