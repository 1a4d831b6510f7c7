/*
 * mempool.h — transactions admitted (shape and signatures checked) and
 * waiting to be ordered, oldest first, with a txid set for duplicate checks.
 * Bounded by count and bytes: a full pool refuses new transactions
 * (VL_ERR_LIMIT) rather than grow. Owned by the node's loop thread.
 */
#ifndef VL_MEMPOOL_H
#define VL_MEMPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

typedef struct mempool_t mempool_t;

typedef struct {
    uint8_t txid[VL_HASH_SIZE];
    uint8_t *bytes;              /* owned: Transaction bytes */
    size_t len;
    int64_t added_ms;            /* monotonic time of admission */
} mempool_tx_t;

mempool_t *mempool_new(size_t max_txs, size_t max_bytes);
void mempool_destroy(mempool_t **self_p);

/* Takes ownership of *bytes (nulls it) on success and on failure.
 * VL_ERR_EXISTS for a txid already pending, VL_ERR_LIMIT when full. */
int mempool_add(mempool_t *pool, const uint8_t txid[VL_HASH_SIZE], uint8_t **bytes, size_t len,
                int64_t now_ms);

bool mempool_contains(const mempool_t *pool, const uint8_t txid[VL_HASH_SIZE]);

/* Removes up to max_txs oldest transactions into out (caller owns each
 * entry's bytes; free with mempool_tx_free). Returns how many. */
size_t mempool_take(mempool_t *pool, mempool_tx_t *out, size_t max_txs);

/* Drops a pending tx (it was committed through another path). */
void mempool_remove(mempool_t *pool, const uint8_t txid[VL_HASH_SIZE]);

size_t mempool_count(const mempool_t *pool);
size_t mempool_bytes(const mempool_t *pool);
/* Monotonic admission time of the oldest pending tx; -1 when empty. */
int64_t mempool_oldest_ms(const mempool_t *pool);

void mempool_tx_free(mempool_tx_t *tx);
#endif
