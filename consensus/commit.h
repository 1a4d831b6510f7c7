/*
 * commit.h — the commit pipeline (DESIGN §3 step 5, §7): every block this
 * node applies — built here, received by gossip, or pulled while catching
 * up — goes validate → one synced WriteBatch → after-commit work, in height
 * order, through here and nowhere else.
 *
 * After a block is durable the pipeline removes its transactions from the
 * mempool (a committed tx leaves every mempool) and then calls the
 * subscribers in the order they subscribed (the node: API waiters, event
 * topics, reactor, gossip). A subscriber sees the validated block, the
 * state hash after it and where it came from.
 *
 * Blocks from peers may arrive out of order: commit_offer keeps them in a
 * reorder window (tip+1 .. tip+COMMIT_WINDOW, one slot per height) and
 * commit_drain commits whatever follows the tip. Pulled blocks (catch-up)
 * commit in runs of up to COMMIT_RUN_MAX in one synced batch, each
 * validated against what its predecessors in the run leave (validate_run_t);
 * a node catching up otherwise waits on one fdatasync per block.
 *
 * Failures. A block that fails validation is refused (counted, logged once,
 * nothing changes; the gossip layer pulls that height again). A failed
 * write or an allocation failure while judging is an environment failure:
 * commit_failed() turns true and the node stops rather than run on a
 * replica it cannot write. Invariant: nothing writes world state but this
 * module, and only with a validated block.
 *
 * Thread: the node's loop thread (the ledger's one writer). The pipeline
 * borrows the ledger, members, signature cache and mempool given to
 * commit_new; they must outlive it.
 */
#ifndef VL_COMMIT_H
#define VL_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "members.h"
#include "mempool.h"
#include "sigcache.h"
#include "validate.h"

#define COMMIT_WINDOW 1024            /* reorder slots: at least the gossip pull window */
#define COMMIT_RUN_MAX 256            /* pulled blocks committed in one synced batch */
#define COMMIT_SUBSCRIBERS_MAX 8

typedef enum {
    COMMIT_LOCAL = 0,                 /* built (ordered) by this node */
    COMMIT_GOSSIP = 1,                /* a peer's block, first copy by gossip */
    COMMIT_PULLED = 2,                /* a peer's block, pulled while catching up */
} commit_source_t;

typedef struct {
    const validated_block_t *block;   /* borrowed for the call */
    const uint8_t *state_hash;        /* the state hash after this block (32 bytes) */
    commit_source_t source;
    const int64_t *pending_since_ms;  /* borrowed, NULL when unknown: per tx, the mempool's
                                       * admission time (its now_ms clock), 0 for a tx that
                                       * was not pending here (commit latency) */
} commit_event_t;

typedef void (*commit_subscriber_fn)(void *arg, const commit_event_t *event);

typedef struct {
    ledger_t *ledger;                 /* borrowed */
    const char *chain_id;             /* borrowed */
    const members_t *members;         /* borrowed */
    sigcache_t *sigcache;             /* borrowed */
    mempool_t *mempool;               /* borrowed; NULL = none to clean */
    const orgs_t *orgs;               /* borrowed; NULL = no organisations */
    requirement_cache_t *policies;    /* borrowed, may be NULL */
} commit_config_t;

typedef struct {
    uint64_t committed_remote;        /* peers' blocks committed */
    uint64_t rejected;                /* peers' blocks that failed validation */
} commit_stats_t;

typedef struct commit_t commit_t;

/* NULL when out of memory. */
commit_t *commit_new(const commit_config_t *config);
void commit_destroy(commit_t **self_p);

/* Adds an after-commit subscriber (called in subscription order).
 * VL_ERR_LIMIT past COMMIT_SUBSCRIBERS_MAX. */
int commit_subscribe(commit_t *c, commit_subscriber_fn fn, void *arg);

/* Validates and commits the block that follows the tip, now. Returns 0; a
 * refusal (VL_ERR_INVALID, VL_ERR_SIGNATURE, VL_ERR_STATE: nothing changed,
 * err says why); or an environment failure (VL_ERR_IO, VL_ERR_NOMEM, ...:
 * commit_failed() is then true). bytes are borrowed for the call. */
int commit_block(commit_t *c, const uint8_t *bytes, size_t len, commit_source_t source,
                 vl_err_t *err);

/* Commits a block this node already judged against the current tip
 * (validate_header and validate_txs gave *judged, whose commit.block may
 * point anywhere: it is re-pointed at sealed), now sealed with its commit
 * certificate: only the certificate is checked, and that sealed carries the
 * judged header. Consumes *judged (nulled). VL_ERR_STATE when the tip is no
 * longer the one it was judged against (nothing changed: validate and
 * commit the sealed bytes with commit_block instead); otherwise as
 * commit_block. sealed is borrowed for the call. */
int commit_block_judged(commit_t *c, validated_block_t **judged, const uint8_t *sealed,
                        size_t len, commit_source_t source, vl_err_t *err);

/* Takes a peer's block into the reorder window; ownership of *bytes moves
 * here (nulled) whatever the outcome. *height (may be NULL) is its height,
 * 0 when the bytes carry no header. Returns 0 when it is waiting (or an
 * equal height is already waiting), VL_ERR_EXISTS when at or below the tip,
 * VL_ERR_LIMIT when beyond the window, VL_ERR_INVALID when not a block. */
int commit_offer(commit_t *c, uint8_t **bytes, size_t len, commit_source_t source,
                 uint64_t *height);

/* Commits the waiting blocks that follow the tip, in order, until a gap, a
 * refusal or a failure. Returns how many were committed. */
size_t commit_drain(commit_t *c);

/* True after an environment failure: the node must stop. */
bool commit_failed(const commit_t *c);

/* Header time of the tip block (block time never goes backwards). */
int64_t commit_tip_time_ms(const commit_t *c);

const commit_stats_t *commit_stats(const commit_t *c);
#endif
