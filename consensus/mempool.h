/*
 * mempool.h — transactions admitted (shape and signatures checked) and
 * waiting to be ordered, oldest first, with lookup by id and a resend
 * schedule for the ones this node's clients submitted.
 *
 * Fit for rounds: a proposer reaps the oldest transactions without removing
 * them (mempool_reap); a transaction leaves only when a block carrying it
 * commits (mempool_remove, called by the commit pipeline for every tx of
 * every committed block), so a tx left out of a round that failed is still
 * here for the next one.
 *
 * Resends: PUB/SUB may drop the first copy of a transaction on its way to
 * the validators, so a tx admitted with MEMPOOL_OURS (from this node's API)
 * is due for re-gossip MEMPOOL_RESEND_FIRST_MS after admission, then after
 * twice that, and so on, MEMPOOL_RESEND_TRIES times; committing it ends the
 * schedule (it leaves the pool).
 *
 * Bounded by count and bytes: a full pool refuses new transactions
 * (VL_ERR_LIMIT) rather than grow. Owned by the node's loop thread; time is
 * an argument (now_ms, monotonic), never read here.
 */
#ifndef VL_MEMPOOL_H
#define VL_MEMPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define MEMPOOL_RESEND_TRIES 5
#define MEMPOOL_RESEND_FIRST_MS 1000

enum {
    MEMPOOL_OURS = 1,            /* submitted through this node: resend until committed */
};

typedef struct mempool_t mempool_t;

/* A pending transaction as the pool lends it: borrowed until the next
 * mempool_add, mempool_remove or mempool_destroy. */
typedef struct {
    const uint8_t *txid;          /* 32 bytes */
    const uint8_t *bytes;         /* Transaction bytes */
    size_t len;
    int64_t added_ms;             /* monotonic time of admission */
} mempool_entry_t;

mempool_t *mempool_new(size_t max_txs, size_t max_bytes);
void mempool_destroy(mempool_t **self_p);

/* Takes ownership of *bytes (nulls it) on success and on failure.
 * flags: MEMPOOL_OURS or 0. VL_ERR_EXISTS for a txid already pending,
 * VL_ERR_LIMIT when full, VL_ERR_NOMEM. */
int mempool_add(mempool_t *pool, const uint8_t txid[VL_HASH_SIZE], uint8_t **bytes, size_t len,
                int flags, int64_t now_ms);

bool mempool_contains(const mempool_t *pool, const uint8_t txid[VL_HASH_SIZE]);

/* The pending tx with this id, or false. */
bool mempool_get(const mempool_t *pool, const uint8_t txid[VL_HASH_SIZE], mempool_entry_t *out);

/* Lends up to max_txs oldest transactions whose lengths sum to at most
 * max_bytes (at least one when any is pending, so an oversized tx cannot
 * block the pool) into out, oldest first, without removing them. Returns
 * how many. */
size_t mempool_reap(const mempool_t *pool, size_t max_txs, size_t max_bytes,
                    mempool_entry_t *out);

/* Drops a pending tx (its block committed). No-op for an unknown id. */
void mempool_remove(mempool_t *pool, const uint8_t txid[VL_HASH_SIZE]);

/* Lends up to max of our transactions whose resend is due at now_ms into
 * out and moves each one's next resend on (or ends its schedule after the
 * last try; *gave_up counts those, may be NULL). Returns how many. */
size_t mempool_due_resends(mempool_t *pool, int64_t now_ms, mempool_entry_t *out, size_t max,
                           size_t *gave_up);

size_t mempool_count(const mempool_t *pool);
size_t mempool_bytes(const mempool_t *pool);
/* Monotonic admission time of the oldest pending tx; -1 when empty. */
int64_t mempool_oldest_ms(const mempool_t *pool);
#endif
