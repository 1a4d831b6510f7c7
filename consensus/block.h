/*
 * block.h — building, signing and checking blocks (DESIGN §3.4–3.6).
 *
 * block hash  = SHA-256(header bytes)
 * data hash   = SHA-256(SHA-256(tx_0) || SHA-256(tx_1) || ...)
 * commit      = +2/3 of the validators' PRECOMMIT votes for the block hash;
 *               with one validator (the dev network) its single vote.
 */
#ifndef VL_BLOCK_H
#define VL_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "error.h"
#include "members.h"
#include "sigcache.h"
#include "vledger.pb-c.h"

/* Data hash over transactions in order. 0 or VL_ERR_NOMEM. */
int block_data_hash(uint8_t *const *txs, const size_t *lens, size_t n, uint8_t out[32]);

typedef struct {
    const char *chain_id;
    uint64_t height;
    const uint8_t *previous_hash;      /* 32 bytes, NULL for genesis */
    const uint8_t *state_hash;         /* 32 bytes: state after height-1 */
    const uint8_t *data_hash;          /* 32 bytes */
    int64_t timestamp_ms;
    const uint8_t *proposer;           /* 32-byte public key */
} block_header_fields_t;

/* Packs a header; *out is malloc'd (caller frees). */
int block_header_pack(const block_header_fields_t *f, uint8_t **out, size_t *len);

/* A signed PRECOMMIT vote for block_hash at (height, round). Caller frees
 * *out. */
int block_sign_precommit(const vl_key_t *key, const char *chain_id, uint64_t height,
                         uint32_t round, const uint8_t block_hash[32], int64_t now_ms,
                         uint8_t **out, size_t *len);

/* Packs a Block from header bytes, tx bytes and packed votes (may be 0).
 * *out malloc'd. */
int block_pack(const uint8_t *header, size_t header_len, uint8_t *const *txs, const size_t *lens,
               size_t n_txs, uint8_t *const *votes, const size_t *vote_lens, size_t n_votes,
               uint32_t round, uint8_t **out, size_t *len);

/* Checks that commit holds PRECOMMITs for block_hash at height from more
 * than 2/3 of the validators in members (each counted once, each signature
 * valid, through cache when given). VL_ERR_SIGNATURE with a message
 * otherwise. */
int block_verify_commit(const Vl__Commit *commit, const char *chain_id, uint64_t height,
                        const uint8_t block_hash[32], const members_t *members, sigcache_t *cache,
                        vl_err_t *err);

/* Checks the signature of every vote in commit by a validator of members
 * through cache (entering the good ones), judging nothing else: the worker
 * pool does this ahead of block_verify_commit. Returns how many verified.
 * Thread-safe (the cache is). */
size_t block_precheck_commit(const Vl__Commit *commit, const members_t *members,
                             sigcache_t *cache);
#endif
