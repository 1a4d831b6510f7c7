/*
 * bft_msg.h — Tendermint's messages on the wire: votes and proposals
 * signed by validators, their checks, and the validator set they are
 * checked against (DESIGN §3 step 4; vledger.proto Vote, VoteBody,
 * BlockProposal). What the driver (node/node_bft.c) feeds the pure state
 * machine (bft.h) comes only through bft_msg_vote_open /
 * bft_msg_proposal_open: shape, chain, a known validator, its signature.
 *
 * Signed bytes. A vote signs its VoteBody bytes, carried verbatim in
 * Vote.body. A proposal signs "vl-proposal" || chain_id || 0x00 || be64
 * height || be32 round || be32 valid_round (two's complement, -1 = none)
 * || block hash, in BlockProposal.signature; the block itself travels in
 * BlockProposal.block without its commit certificate (its hash is its
 * header's, so the certificate attached later does not change it).
 *
 * Thread: any; the signature cache given is thread-safe.
 */
#ifndef VL_BFT_MSG_H
#define VL_BFT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bft.h"
#include "crypto.h"
#include "error.h"
#include "members.h"
#include "sigcache.h"
#include "vledger.pb-c.h"

/* The validators in genesis order (bft.h's indices). */
typedef struct {
    uint32_t n;
    uint8_t keys[BFT_VALIDATORS_MAX][VL_PUBKEY_SIZE];
} bft_validators_t;

/* The validators of members, in their order. VL_ERR_LIMIT past
 * BFT_VALIDATORS_MAX, VL_ERR_INVALID with none. */
int bft_validators_of(const members_t *members, bft_validators_t *out);

/* The index of key, or -1. */
int bft_validators_find(const bft_validators_t *v, const uint8_t *key, size_t len);

/* A vote as opened. */
typedef struct {
    bft_msg_t type;               /* BFT_PREVOTE or BFT_PRECOMMIT */
    uint64_t height;
    int32_t round;
    bool nil;
    uint8_t hash[BFT_HASH_SIZE];
    uint32_t validator;           /* index */
} bft_vote_t;

/* Signs a vote; *out (Vote bytes) malloc'd. hash NULL = nil. */
int bft_msg_vote_sign(const vl_key_t *key, const char *chain_id, bft_msg_t type,
                      uint64_t height, int32_t round, const uint8_t *hash, int64_t now_ms,
                      uint8_t **out, size_t *len);

/* Checks Vote bytes: decodes, our chain, a PREVOTE/PRECOMMIT, a round in
 * range, a 32-byte hash or nil, a validator of v, its signature (through
 * cache when given). 0 with *out, or VL_ERR_INVALID / VL_ERR_SIGNATURE
 * with a message. */
int bft_msg_vote_open(const uint8_t *bytes, size_t len, const char *chain_id,
                      const bft_validators_t *v, sigcache_t *cache, bft_vote_t *out,
                      vl_err_t *err);

/* A proposal as opened; block borrowed from the bytes opened. */
typedef struct {
    uint64_t height;
    int32_t round;
    int32_t valid_round;
    uint32_t proposer;            /* index */
    uint8_t hash[BFT_HASH_SIZE];
    const uint8_t *block;         /* Block bytes without certificate */
    size_t block_len;
} bft_proposal_t;

/* Signs a proposal of block (bytes without certificate, hash its block
 * hash); *out (BlockProposal bytes) malloc'd. */
int bft_msg_proposal_sign(const vl_key_t *key, const char *chain_id, uint64_t height,
                          int32_t round, int32_t valid_round, const uint8_t hash[BFT_HASH_SIZE],
                          const uint8_t *block, size_t block_len, uint8_t **out, size_t *len);

/* Checks BlockProposal bytes: decodes, the block's header (chain, height,
 * hash), rounds in range, a proposer of v, its signature. The caller checks
 * the proposer is bft_proposer(height, round) and judges the block. *pb is
 * the unpacked message the proposal's block points into (owned by the
 * caller: free with vl__block_proposal__free_unpacked). */
int bft_msg_proposal_open(const uint8_t *bytes, size_t len, const char *chain_id,
                          const bft_validators_t *v, bft_proposal_t *out,
                          Vl__BlockProposal **pb, vl_err_t *err);
#endif
