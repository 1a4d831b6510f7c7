/*
 * mempool.c — a FIFO (czmq zlistx) plus a txid index (czmq zhashx keyed by
 * the txid's hex) over the same entries; the list owns them. Our own
 * transactions with a resend still to come are also on one list per try:
 * an entry joins list t (at its end) when its t-th resend is scheduled, all
 * entries of list t wait the same period, so each list is ordered by due
 * time and a due scan stops at the first entry not yet due.
 */
#include "mempool.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "error.h"

typedef struct {
    uint8_t txid[VL_HASH_SIZE];
    uint8_t *bytes;              /* owned */
    size_t len;
    int64_t added_ms;
    void *resend_handle;         /* in resend[tries], or NULL */
    int tries;                   /* resends so far */
    int64_t next_resend_ms;
} s_tx_t;

struct mempool_t {
    zlistx_t *fifo;         /* owned: s_tx_t*, oldest first */
    zhashx_t *index;        /* owned: txid hex -> fifo handle */
    zlistx_t *resend[MEMPOOL_RESEND_TRIES];   /* s_tx_t* borrowed from fifo, by tries */
    size_t max_txs, max_bytes;
    size_t bytes;
};

static void
s_tx_destroy(void **item)
{
    s_tx_t *tx = *item;
    if (tx) {
        free(tx->bytes);
        free(tx);
    }
    *item = NULL;
}

static mempool_entry_t
s_entry(const s_tx_t *tx)
{
    return (mempool_entry_t) { tx->txid, tx->bytes, tx->len, tx->added_ms };
}

mempool_t *
mempool_new(size_t max_txs, size_t max_bytes)
{
    mempool_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->fifo = zlistx_new();
    m->index = zhashx_new();
    bool ok = m->fifo && m->index;
    for (size_t i = 0; i < MEMPOOL_RESEND_TRIES; i++)
        ok = (m->resend[i] = zlistx_new()) && ok;
    if (!ok) {
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
    for (size_t i = 0; i < MEMPOOL_RESEND_TRIES; i++)
        zlistx_destroy(&(*self_p)->resend[i]);
    zhashx_destroy(&(*self_p)->index);
    zlistx_destroy(&(*self_p)->fifo);
    free(*self_p);
    *self_p = NULL;
}

int
mempool_add(mempool_t *m, const uint8_t txid[VL_HASH_SIZE], uint8_t **bytes, size_t len,
            int flags, int64_t now_ms)
{
    char hex[65];
    vl_hex_encode(txid, VL_HASH_SIZE, hex);
    int rc = 0;
    s_tx_t *tx = NULL;
    if (zhashx_lookup(m->index, hex))
        rc = VL_ERR_EXISTS;
    else if (zlistx_size(m->fifo) >= m->max_txs || m->bytes + len > m->max_bytes)
        rc = VL_ERR_LIMIT;
    else if (!(tx = calloc(1, sizeof *tx)))
        rc = VL_ERR_NOMEM;
    if (rc != 0) {
        free(*bytes);
        *bytes = NULL;
        return rc;
    }
    memcpy(tx->txid, txid, VL_HASH_SIZE);
    tx->bytes = *bytes;
    tx->len = len;
    tx->added_ms = now_ms;
    *bytes = NULL;
    void *handle = zlistx_add_end(m->fifo, tx);
    zhashx_insert(m->index, hex, handle);
    m->bytes += len;
    if (flags & MEMPOOL_OURS) {
        tx->next_resend_ms = now_ms + MEMPOOL_RESEND_FIRST_MS;
        tx->resend_handle = zlistx_add_end(m->resend[0], tx);
    }
    return 0;
}

static s_tx_t *
s_find(const mempool_t *m, const uint8_t txid[VL_HASH_SIZE], void **handle_out)
{
    char hex[65];
    vl_hex_encode(txid, VL_HASH_SIZE, hex);
    void *handle = zhashx_lookup(m->index, hex);
    if (handle_out)
        *handle_out = handle;
    return handle ? zlistx_handle_item(handle) : NULL;
}

bool
mempool_contains(const mempool_t *m, const uint8_t txid[VL_HASH_SIZE])
{
    return s_find(m, txid, NULL) != NULL;
}

bool
mempool_get(const mempool_t *m, const uint8_t txid[VL_HASH_SIZE], mempool_entry_t *out)
{
    s_tx_t *tx = s_find(m, txid, NULL);
    if (tx)
        *out = s_entry(tx);
    return tx != NULL;
}

size_t
mempool_reap(const mempool_t *m, size_t max_txs, size_t max_bytes, mempool_entry_t *out)
{
    size_t n = 0, bytes = 0;
    for (s_tx_t *tx = zlistx_first(m->fifo); tx && n < max_txs; tx = zlistx_next(m->fifo)) {
        if (n > 0 && bytes + tx->len > max_bytes)
            break;
        bytes += tx->len;
        out[n++] = s_entry(tx);
    }
    return n;
}

void
mempool_remove(mempool_t *m, const uint8_t txid[VL_HASH_SIZE])
{
    void *handle = NULL;
    s_tx_t *tx = s_find(m, txid, &handle);
    if (!tx)
        return;
    char hex[65];
    vl_hex_encode(txid, VL_HASH_SIZE, hex);
    if (tx->resend_handle)
        zlistx_delete(m->resend[tx->tries], tx->resend_handle);
    m->bytes -= tx->len;
    zhashx_delete(m->index, hex);
    zlistx_delete(m->fifo, handle);
}

size_t
mempool_due_resends(mempool_t *m, int64_t now_ms, mempool_entry_t *out, size_t max,
                    size_t *gave_up)
{
    size_t n = 0, ended = 0;
    /* Highest try first, so an entry moved on to the next list is not seen
     * twice in one call. */
    for (int t = MEMPOOL_RESEND_TRIES - 1; t >= 0; t--) {
        zlistx_t *list = m->resend[t];
        s_tx_t *tx;
        while (n < max && (tx = zlistx_first(list)) && tx->next_resend_ms <= now_ms) {
            out[n++] = s_entry(tx);
            zlistx_delete(list, tx->resend_handle);
            tx->resend_handle = NULL;
            tx->tries = t + 1;
            if (tx->tries >= MEMPOOL_RESEND_TRIES) {
                ended++;
                continue;
            }
            tx->next_resend_ms = now_ms + ((int64_t) MEMPOOL_RESEND_FIRST_MS << tx->tries);
            tx->resend_handle = zlistx_add_end(m->resend[tx->tries], tx);
        }
    }
    if (gave_up)
        *gave_up = ended;
    return n;
}

size_t mempool_count(const mempool_t *m) { return zlistx_size(m->fifo); }
size_t mempool_bytes(const mempool_t *m) { return m->bytes; }

int64_t
mempool_oldest_ms(const mempool_t *m)
{
    s_tx_t *tx = zlistx_first(m->fifo);
    return tx ? tx->added_ms : -1;
}
