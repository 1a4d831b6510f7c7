/*
 * orderer.h — what this node is in ordering, and, for the network whose
 * only validator it is (the embedded dev network and today's configured
 * networks with one validator), when to cut a block and how to build it.
 *
 * The cut rule: a block is cut as soon as block_max_txs transactions are
 * pending, or when the oldest pending one has waited block_timeout_ms.
 * Block time is the proposer's wall clock, but never earlier than the
 * previous block's time + 1 ms (block time never goes backwards, across
 * restarts too). A sole validator's precommit is the whole commit
 * certificate.
 *
 * Pure except orderer_build_block, which signs with the key it is given.
 * Time is always an argument. Thread: any (no shared state).
 */
#ifndef VL_ORDERER_H
#define VL_ORDERER_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "error.h"
#include "members.h"
#include "mempool.h"

#define ORDERER_BLOCK_MAX_TXS_DEFAULT 500
#define ORDERER_BLOCK_MAX_BYTES_DEFAULT (8u << 20)
/* Short: with several validators a height itself takes tens of ms, in
 * which the next block's transactions gather; waiting longer for the oldest
 * to age only idles the validators between heights (closed-loop clients
 * submit right after their last commit). */
#define ORDERER_BLOCK_TIMEOUT_MS_DEFAULT 5

typedef enum {
    ORDERER_FOLLOWER = 0,        /* receives blocks from the validators */
    ORDERER_SOLE_VALIDATOR = 1,  /* the network's one validator: cuts every block */
} orderer_role_t;

typedef struct {
    size_t block_max_txs;        /* cut at this many pending txs ... */
    size_t block_max_bytes;      /* ... (a block holds at most this many tx bytes) */
    int block_timeout_ms;        /* ... or when the oldest has waited this long */
} orderer_config_t;

void orderer_config_defaults(orderer_config_t *c);

/* This node's part in ordering, from the genesis membership. */
orderer_role_t orderer_role(const members_t *members, const uint8_t pub[VL_PUBKEY_SIZE]);

/* The cut rule: 0 = cut now, > 0 = look again in that many ms, -1 = nothing
 * pending. oldest_ms and now_ms are monotonic. */
int64_t orderer_cut_wait(const orderer_config_t *c, size_t pending, int64_t oldest_ms,
                         int64_t now_ms);

/* The next block's time from the wall clock and the tip's block time. */
int64_t orderer_block_time(int64_t now_wall_ms, int64_t tip_time_ms);

/* The tip a block extends. All pointers borrowed for the call. */
typedef struct {
    const char *chain_id;
    uint64_t height;             /* of the tip; the block is height + 1 */
    const uint8_t *last_hash;    /* 32 bytes */
    const uint8_t *state_hash;   /* 32 bytes: state after the tip */
} orderer_tip_t;

/* Builds a proposal for the next block from the oldest pending
 * transactions (reaped, not removed) with time block_time_ms by proposer:
 * a Block without commit certificate (the validators' precommits are
 * attached when it is decided: orderer_seal). *out malloc'd; hash = its
 * block hash. An empty pool gives an empty block. VL_ERR_NOMEM. */
int orderer_build_proposal(const orderer_config_t *c, const mempool_t *pool,
                           const orderer_tip_t *tip, const uint8_t proposer[VL_PUBKEY_SIZE],
                           int64_t block_time_ms, uint8_t **out, size_t *len,
                           uint8_t hash[VL_HASH_SIZE]);

/* The proposal's block with its commit certificate: the signed precommit
 * votes (Vote bytes) of round. *out malloc'd. VL_ERR_INVALID (a proposal
 * or vote that does not decode), VL_ERR_NOMEM. */
int orderer_seal(const uint8_t *proposal, size_t len, uint8_t *const *votes,
                 const size_t *vote_lens, size_t n_votes, uint32_t round, uint8_t **out,
                 size_t *out_len);

/* orderer_build_proposal, then key's precommit as the whole certificate,
 * sealed: the block a network of one validator decides, in one call (tools
 * and tests; the node decides through Tendermint even with one validator,
 * node/node_bft.c). The transactions are reaped, not removed (the commit
 * takes them out of the pool).
 * *out is malloc'd (caller frees). VL_ERR_NOT_FOUND when nothing is pending,
 * VL_ERR_NOMEM. */
int orderer_build_block(const orderer_config_t *c, const mempool_t *pool, const orderer_tip_t *tip,
                        const vl_key_t *key, int64_t block_time_ms, uint8_t **out, size_t *len);
#endif
