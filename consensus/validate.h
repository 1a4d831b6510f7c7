/*
 * validate.h — step 5 of execute-order-validate (DESIGN §3): every node
 * checks a committed block, in order, against its own replica.
 *
 * Block level (any failure rejects the whole block): it unpacks; chain id;
 * height = tip + 1; previous hash = tip hash; state hash = our running state
 * hash (a diverging replica is caught here); data hash; commit certificate.
 *
 * Transaction level (a failure marks that tx invalid with a code; it stays in
 * the block and changes nothing): txid (tx_id) not committed valid before
 * (ledger or earlier in the run), shape, chain, creator and endorsement
 * signatures, every read version still current and every range read
 * unchanged (MVCC, counting writes of earlier valid txs in the same block),
 * then the endorsement requirement (requirement.h: the function's policy,
 * key policies and guards, resolved as of the transaction) satisfied by
 * the endorsing organisations.
 *
 * Duplicates. Only a transaction committed VALID makes its txid taken: an
 * invalid copy (malformed, unsigned, stale reads) never blocks the genuine
 * transaction, which anyone could otherwise censor by racing a broken copy
 * of its proposal into an earlier block. The tx index keeps the first entry
 * for an id unless a valid transaction with that id arrives later, which
 * replaces it (effect.skip_index says which entries are not written).
 */
#ifndef VL_VALIDATE_H
#define VL_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blockview.h"
#include "ledger.h"
#include "members.h"
#include "orgs.h"
#include "requirement.h"
#include "sigcache.h"
#include "tx.h"

typedef struct {
    ledger_t *ledger;             /* borrowed */
    const char *chain_id;         /* borrowed */
    const members_t *members;     /* borrowed */
    sigcache_t *sigcache;         /* borrowed */
    const orgs_t *orgs;           /* borrowed; NULL = no organisations and no policy
                                     check (unit tests of the other rules) */
    requirement_cache_t *policies;/* borrowed, may be NULL */
} validate_ctx_t;

typedef struct {
    block_view_t *view;           /* owned: header, hash, txids, parsed txs */
    ledger_tx_effect_t *effects;  /* owned array; writes borrowed from view->txs */
    ledger_block_t commit;        /* ready for ledger_commit_block; borrows from above
                                     and from the block bytes */
    size_t n_valid;
} validated_block_t;

/* Validates block bytes (which must stay alive and unchanged until *out is
 * destroyed: commit.block points at them): the header against the tip, the
 * commit certificate, then the transactions. Returns 0 and *out, or
 * VL_ERR_INVALID / VL_ERR_SIGNATURE / VL_ERR_STATE with a message for a
 * block to refuse, VL_ERR_CORRUPT for a certified block whose state hash
 * differs from this replica's (the replica diverged: the node must halt;
 * the message names the height and both hashes), or VL_ERR_NOMEM /
 * VL_ERR_IO when this node could not judge it (nothing is decided; try
 * again). */
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

/* The three parts of validate_block_in_run, so a proposed block can be
 * judged (header and transactions) before a commit certificate exists.
 *
 * validate_header: chain id, height = the run's tip + 1, previous hash =
 * the run's tip hash, data hash over the transactions, and last the state
 * hash = the run's running state hash. VL_ERR_INVALID or VL_ERR_STATE
 * (wrong height), or VL_ERR_CONFLICT for a state hash that differs
 * (validate_block_in_run turns it into VL_ERR_CORRUPT when the block is
 * certified) with a message naming both hashes.
 *
 * validate_certificate: more than 2/3 of the validators' PRECOMMITs for the
 * block's hash at its height (block_verify_commit). VL_ERR_SIGNATURE.
 *
 * validate_txs: every transaction judged in order against the state the run
 * leaves (codes in the effects; invalid ones stay in the block and change
 * nothing); takes ownership of *view on success and on failure. On success
 * the run moves to this block and *out is ready for the ledger, with
 * commit.block = bytes (borrowed). VL_ERR_NOMEM / VL_ERR_IO leave the run
 * usable only for VL_ERR_IO (VL_ERR_NOMEM spends it, as above). */
int validate_header(const validate_ctx_t *ctx, const validate_run_t *run,
                    const block_view_t *view, vl_err_t *err);
int validate_certificate(const validate_ctx_t *ctx, const block_view_t *view, vl_err_t *err);
int validate_txs(const validate_ctx_t *ctx, validate_run_t *run, block_view_t **view,
                 const uint8_t *bytes, size_t len, validated_block_t **out, vl_err_t *err);
#endif
