/*
 * validate.h — step 5 of execute-order-validate (DESIGN §3): every node
 * checks a committed block, in order, against its own replica.
 *
 * Block level (any failure rejects the whole block): it unpacks; chain id;
 * height = tip + 1; previous hash = tip hash; state hash = our running state
 * hash (a diverging replica is caught here); data hash; commit certificate.
 *
 * Transaction level (a failure marks that tx invalid with a code; it stays in
 * the block and changes nothing): shape and txid, chain, creator and
 * endorsement signatures and policy, txid not seen before (ledger or earlier
 * in this block), every read version still current and every range read
 * unchanged (MVCC, counting writes of earlier valid txs in the same block).
 */
#ifndef VL_VALIDATE_H
#define VL_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "members.h"
#include "sigcache.h"
#include "tx.h"

typedef struct {
    ledger_t *ledger;             /* borrowed */
    const char *chain_id;         /* borrowed */
    const members_t *members;     /* borrowed */
    sigcache_t *sigcache;         /* borrowed */
} validate_ctx_t;

typedef struct {
    Vl__Block *block;             /* owned */
    Vl__BlockHeader *header;      /* owned */
    uint8_t hash[VL_HASH_SIZE];
    size_t n_txs;
    tx_parsed_t **txs;            /* owned array; NULL entries for malformed txs */
    ledger_tx_effect_t *effects;  /* owned array; writes borrowed from txs */
    ledger_block_t commit;        /* ready for ledger_commit_block; borrows from above */
    size_t n_valid;
} validated_block_t;

/* Validates block bytes (which must stay alive and unchanged until *out is
 * destroyed: commit.block points at them). Returns 0 and *out, or
 * VL_ERR_INVALID / VL_ERR_SIGNATURE / VL_ERR_STATE with a message. */
int validate_block(const validate_ctx_t *ctx, const uint8_t *bytes, size_t len,
                   validated_block_t **out, vl_err_t *err);

void validated_block_destroy(validated_block_t **self_p);

/* A run of consecutive blocks validated before any of them is committed
 * (ledger_commit_blocks commits the run in one synced batch): each block is
 * checked against the state, txids and tip its predecessors in the run
 * leave, exactly as if they had been committed one by one. A block-level
 * failure (VL_ERR_INVALID, VL_ERR_SIGNATURE, VL_ERR_STATE) leaves the run
 * as it was, so the blocks before it can still be committed; after
 * VL_ERR_NOMEM the run is spent. A run serves one ledger_commit_blocks and
 * is then destroyed. */
typedef struct validate_run_t validate_run_t;

/* A run starting at the ledger's tip. NULL when out of memory. */
validate_run_t *validate_run_new(ledger_t *ledger);
void validate_run_destroy(validate_run_t **self_p);
size_t validate_run_count(const validate_run_t *run);   /* blocks validated */

/* validate_block for the next block of the run. */
int validate_block_in_run(const validate_ctx_t *ctx, validate_run_t *run, const uint8_t *bytes,
                          size_t len, validated_block_t **out, vl_err_t *err);
#endif
