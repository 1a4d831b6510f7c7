/*
 * mempool.c — a FIFO (czmq zlistx) plus a txid index (czmq zhashx keyed by
 * the txid's hex). Both hold the same mempool_tx_t; the list owns it.
 */
#include "mempool.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "error.h"

struct mempool_t {
    zlistx_t *fifo;         /* owned: mempool_tx_t*, oldest first */
    zhashx_t *index;        /* owned: txid hex -> list handle */
    size_t max_txs, max_bytes;
    size_t bytes;
};

void
mempool_tx_free(mempool_tx_t *tx)
{
    if (tx) {
        free(tx->bytes);
        tx->bytes = NULL;
    }
}

static void
s_tx_destroy(void **item)
{
    mempool_tx_t *tx = *item;
    if (tx) {
        mempool_tx_free(tx);
        free(tx);
    }
    *item = NULL;
}

mempool_t *
mempool_new(size_t max_txs, size_t max_bytes)
{
    mempool_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->fifo = zlistx_new();
    m->index = zhashx_new();
    if (!m->fifo || !m->index) {
        mempool_destroy(&m);
        return NULL;
    }
    zlistx_set_destructor(m->fifo, s_tx_destroy);
    m->max_txs = max_txs;
    m->max_bytes = max_bytes;
    return m;
}

void
mempool_destroy(mempool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->index);
    zlistx_destroy(&(*self_p)->fifo);
    free(*self_p);
    *self_p = NULL;
}

int
mempool_add(mempool_t *m, const uint8_t txid[VL_HASH_SIZE], uint8_t **bytes, size_t len,
            int64_t now_ms)
{
    char hex[65];
    vl_hex_encode(txid, VL_HASH_SIZE, hex);
    if (zhashx_lookup(m->index, hex)) {
        free(*bytes);
        *bytes = NULL;
        return VL_ERR_EXISTS;
    }
    if (zlistx_size(m->fifo) >= m->max_txs || m->bytes + len > m->max_bytes) {
        free(*bytes);
        *bytes = NULL;
        return VL_ERR_LIMIT;
    }
    mempool_tx_t *tx = calloc(1, sizeof *tx);
    if (!tx) {
        free(*bytes);
        *bytes = NULL;
        return VL_ERR_NOMEM;
    }
    memcpy(tx->txid, txid, VL_HASH_SIZE);
    tx->bytes = *bytes;
    tx->len = len;
    tx->added_ms = now_ms;
    *bytes = NULL;
    void *handle = zlistx_add_end(m->fifo, tx);
    zhashx_insert(m->index, hex, handle);
    m->bytes += len;
    return 0;
}

bool
mempool_contains(const mempool_t *m, const uint8_t txid[VL_HASH_SIZE])
{
    char hex[65];
    vl_hex_encode(txid, VL_HASH_SIZE, hex);
    return zhashx_lookup(m->index, hex) != NULL;
}

size_t
mempool_take(mempool_t *m, mempool_tx_t *out, size_t max_txs)
{
    size_t n = 0;
    while (n < max_txs && zlistx_size(m->fifo) > 0) {
        mempool_tx_t *tx = zlistx_detach(m->fifo, NULL);   /* first item, ownership to us */
        char hex[65];
        vl_hex_encode(tx->txid, VL_HASH_SIZE, hex);
        zhashx_delete(m->index, hex);
        m->bytes -= tx->len;
        out[n++] = *tx;
        free(tx);
    }
    return n;
}

void
mempool_remove(mempool_t *m, const uint8_t txid[VL_HASH_SIZE])
{
    char hex[65];
    vl_hex_encode(txid, VL_HASH_SIZE, hex);
    void *handle = zhashx_lookup(m->index, hex);
    if (!handle)
        return;
    mempool_tx_t *tx = zlistx_handle_item(handle);
    m->bytes -= tx->len;
    zhashx_delete(m->index, hex);
    zlistx_delete(m->fifo, handle);
}

size_t mempool_count(const mempool_t *m) { return zlistx_size(m->fifo); }
size_t mempool_bytes(const mempool_t *m) { return m->bytes; }

int64_t
mempool_oldest_ms(const mempool_t *m)
{
    mempool_tx_t *tx = zlistx_first(m->fifo);
    return tx ? tx->added_ms : -1;
}
