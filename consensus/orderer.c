/* orderer.c — the one-validator orderer: role, cut rule, block building. */
#include "orderer.h"

#include <stdlib.h>
#include <string.h>

#include "block.h"

void
orderer_config_defaults(orderer_config_t *c)
{
    c->block_max_txs = ORDERER_BLOCK_MAX_TXS_DEFAULT;
    c->block_max_bytes = ORDERER_BLOCK_MAX_BYTES_DEFAULT;
    c->block_timeout_ms = ORDERER_BLOCK_TIMEOUT_MS_DEFAULT;
}

orderer_role_t
orderer_role(const members_t *members, const uint8_t pub[VL_PUBKEY_SIZE])
{
    const member_t *me = members_find(members, pub, VL_PUBKEY_SIZE);
    return me && me->validator && members_validator_count(members) == 1 ? ORDERER_SOLE_VALIDATOR
                                                                          : ORDERER_FOLLOWER;
}

int64_t
orderer_cut_wait(const orderer_config_t *c, size_t pending, int64_t oldest_ms, int64_t now_ms)
{
    if (pending == 0)
        return -1;
    if (pending >= c->block_max_txs)
        return 0;
    int64_t wait = oldest_ms + c->block_timeout_ms - now_ms;
    return wait > 0 ? wait : 0;
}

int64_t
orderer_block_time(int64_t now_wall_ms, int64_t tip_time_ms)
{
    return now_wall_ms > tip_time_ms ? now_wall_ms : tip_time_ms + 1;
}

int
orderer_build_block(const orderer_config_t *c, const mempool_t *pool, const orderer_tip_t *tip,
                    const vl_key_t *key, int64_t block_time_ms, uint8_t **out, size_t *len)
{
    if (mempool_count(pool) == 0)
        return VL_ERR_NOT_FOUND;
    uint8_t *proposal = NULL, *vote = NULL, hash[VL_HASH_SIZE];
    size_t proposal_len = 0, vote_len = 0;
    int rc = orderer_build_proposal(c, pool, tip, vl_key_public(key), block_time_ms, &proposal,
                                    &proposal_len, hash);
    if (rc == 0)
        rc = block_sign_precommit(key, tip->chain_id, tip->height + 1, 0, hash, block_time_ms,
                                  &vote, &vote_len) != 0 ? VL_ERR_NOMEM : 0;
    if (rc == 0)
        rc = orderer_seal(proposal, proposal_len, &vote, &vote_len, 1, 0, out, len);
    free(proposal);
    free(vote);
    return rc;
}

int
orderer_build_proposal(const orderer_config_t *c, const mempool_t *pool,
                       const orderer_tip_t *tip, const uint8_t proposer[VL_PUBKEY_SIZE],
                       int64_t block_time_ms, uint8_t **out, size_t *len,
                       uint8_t hash[VL_HASH_SIZE])
{
    size_t max = c->block_max_txs;
    mempool_entry_t *txs = calloc(max ? max : 1, sizeof *txs);
    uint8_t **ptrs = calloc(max ? max : 1, sizeof *ptrs);
    size_t *lens = calloc(max ? max : 1, sizeof *lens);
    uint8_t *header = NULL;
    size_t header_len = 0;
    int rc = VL_ERR_NOMEM;
    if (!txs || !ptrs || !lens)
        goto done;
    size_t n = mempool_reap(pool, max, c->block_max_bytes, txs);
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = (uint8_t *) txs[i].bytes;
        lens[i] = txs[i].len;
    }
    uint8_t data_hash[VL_HASH_SIZE];
    if (block_data_hash(ptrs, lens, n, data_hash) != 0)
        goto done;
    block_header_fields_t f = {
        .chain_id = tip->chain_id,
        .height = tip->height + 1,
        .previous_hash = tip->last_hash,
        .state_hash = tip->state_hash,
        .data_hash = data_hash,
        .timestamp_ms = block_time_ms,
        .proposer = proposer,
    };
    if (block_header_pack(&f, &header, &header_len) != 0)
        goto done;
    vl_sha256(header, header_len, hash);
    rc = block_pack(header, header_len, ptrs, lens, n, NULL, NULL, 0, 0, out, len);
done:
    free(txs);
    free(ptrs);
    free(lens);
    free(header);
    return rc;
}

int
orderer_seal(const uint8_t *proposal, size_t len, uint8_t *const *votes, const size_t *vote_lens,
             size_t n_votes, uint32_t round, uint8_t **out, size_t *out_len)
{
    Vl__Block *b = vl__block__unpack(NULL, len, proposal);
    if (!b)
        return VL_ERR_INVALID;
    size_t n = b->n_transactions;
    uint8_t **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    int rc = ptrs && lens ? 0 : VL_ERR_NOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        ptrs[i] = b->transactions[i].data;
        lens[i] = b->transactions[i].len;
    }
    if (rc == 0)
        rc = block_pack(b->header.data, b->header.len, ptrs, lens, n, votes, vote_lens, n_votes,
                        round, out, out_len);
    free(ptrs);
    free(lens);
    vl__block__free_unpacked(b, NULL);
    return rc;
}
