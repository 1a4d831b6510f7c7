/* block.c — header packing, data hash, precommit votes and certificates. */
#include "block.h"

#include <stdlib.h>
#include <string.h>

int
block_data_hash(uint8_t *const *txs, const size_t *lens, size_t n, uint8_t out[32])
{
    vl_hasher_t *h = vl_hasher_new();
    if (!h)
        return VL_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        uint8_t d[VL_HASH_SIZE];
        vl_sha256(txs[i], lens[i], d);
        vl_hasher_update(h, d, sizeof d);
    }
    vl_hasher_final(h, out);
    vl_hasher_destroy(&h);
    return 0;
}

static int
s_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return VL_ERR_NOMEM;
    protobuf_c_message_pack(msg, buf);
    *out = buf;
    *len = n;
    return 0;
}

int
block_header_pack(const block_header_fields_t *f, uint8_t **out, size_t *len)
{
    Vl__BlockHeader h = VL__BLOCK_HEADER__INIT;
    h.chain_id = (char *) f->chain_id;
    h.height = f->height;
    if (f->previous_hash)
        h.previous_hash = (ProtobufCBinaryData) { VL_HASH_SIZE, (uint8_t *) f->previous_hash };
    h.data_hash = (ProtobufCBinaryData) { VL_HASH_SIZE, (uint8_t *) f->data_hash };
    h.state_hash = (ProtobufCBinaryData) { VL_HASH_SIZE, (uint8_t *) f->state_hash };
    h.timestamp_ms = f->timestamp_ms;
    h.proposer = (ProtobufCBinaryData) { VL_PUBKEY_SIZE, (uint8_t *) f->proposer };
    return s_pack(&h.base, out, len);
}

int
block_sign_precommit(const vl_key_t *key, const char *chain_id, uint64_t height, uint32_t round,
                     const uint8_t block_hash[32], int64_t now_ms, uint8_t **out, size_t *len)
{
    Vl__VoteBody body = VL__VOTE_BODY__INIT;
    body.chain_id = (char *) chain_id;
    body.type = VL__VOTE_TYPE__VOTE_PRECOMMIT;
    body.height = height;
    body.round = round;
    body.block_hash = (ProtobufCBinaryData) { VL_HASH_SIZE, (uint8_t *) block_hash };
    body.validator = (ProtobufCBinaryData) { VL_PUBKEY_SIZE, (uint8_t *) vl_key_public(key) };
    body.timestamp_ms = now_ms;
    uint8_t *body_bytes = NULL;
    size_t body_len = 0;
    if (s_pack(&body.base, &body_bytes, &body_len) != 0)
        return VL_ERR_NOMEM;
    uint8_t sig[VL_SIG_SIZE];
    int rc = vl_key_sign(key, body_bytes, body_len, sig);
    if (rc == 0) {
        Vl__Vote vote = VL__VOTE__INIT;
        vote.body = (ProtobufCBinaryData) { body_len, body_bytes };
        vote.signature = (ProtobufCBinaryData) { VL_SIG_SIZE, sig };
        rc = s_pack(&vote.base, out, len);
    }
    free(body_bytes);
    return rc;
}

int
block_pack(const uint8_t *header, size_t header_len, uint8_t *const *txs, const size_t *lens,
           size_t n_txs, uint8_t *const *votes, const size_t *vote_lens, size_t n_votes,
           uint32_t round, uint8_t **out, size_t *len)
{
    int rc = VL_ERR_NOMEM;
    Vl__Block block = VL__BLOCK__INIT;
    Vl__Commit commit = VL__COMMIT__INIT;
    ProtobufCBinaryData *tx_items = calloc(n_txs ? n_txs : 1, sizeof *tx_items);
    Vl__Vote **vote_msgs = calloc(n_votes ? n_votes : 1, sizeof *vote_msgs);
    size_t unpacked = 0;
    if (!tx_items || !vote_msgs)
        goto done;
    for (size_t i = 0; i < n_txs; i++)
        tx_items[i] = (ProtobufCBinaryData) { lens[i], txs[i] };
    for (; unpacked < n_votes; unpacked++) {
        vote_msgs[unpacked] = vl__vote__unpack(NULL, vote_lens[unpacked], votes[unpacked]);
        if (!vote_msgs[unpacked]) {
            rc = VL_ERR_INVALID;
            goto done;
        }
    }
    block.header = (ProtobufCBinaryData) { header_len, (uint8_t *) header };
    block.n_transactions = n_txs;
    block.transactions = tx_items;
    commit.round = round;
    commit.n_precommits = n_votes;
    commit.precommits = vote_msgs;
    block.commit = n_votes ? &commit : NULL;
    rc = s_pack(&block.base, out, len);
done:
    for (size_t i = 0; i < unpacked; i++)
        vl__vote__free_unpacked(vote_msgs[i], NULL);
    free(vote_msgs);
    free(tx_items);
    return rc;
}

/* The vote's signature by a validator m, through the cache when given. */
static bool
s_vote_signed(const Vl__Vote *v, const member_t *m, sigcache_t *cache)
{
    if (cache)
        return sigcache_verify(cache, m->public_key, VL_PUBKEY_SIZE, v->body.data, v->body.len,
                               v->signature.data, v->signature.len);
    return v->signature.len == VL_SIG_SIZE
           && vl_verify(m->public_key, v->body.data, v->body.len, v->signature.data);
}

size_t
block_precheck_commit(const Vl__Commit *commit, const members_t *members, sigcache_t *cache)
{
    size_t good = 0;
    for (size_t i = 0; commit && i < commit->n_precommits; i++) {
        const Vl__Vote *v = commit->precommits[i];
        Vl__VoteBody *b = vl__vote_body__unpack(NULL, v->body.len, v->body.data);
        const member_t *m = b ? members_find(members, b->validator.data, b->validator.len) : NULL;
        if (m && m->validator && s_vote_signed(v, m, cache))
            good++;
        if (b)
            vl__vote_body__free_unpacked(b, NULL);
    }
    return good;
}

int
block_verify_commit(const Vl__Commit *commit, const char *chain_id, uint64_t height,
                    const uint8_t block_hash[32], const members_t *members, sigcache_t *cache,
                    vl_err_t *err)
{
    size_t validators = members_validator_count(members);
    if (!commit)
        return vl_err_set(err, VL_ERR_SIGNATURE, "block %llu carries no commit certificate",
                          (unsigned long long) height);
    bool counted[MEMBERS_MAX] = { false };
    size_t power = 0;
    for (size_t i = 0; i < commit->n_precommits; i++) {
        const Vl__Vote *v = commit->precommits[i];
        Vl__VoteBody *b = vl__vote_body__unpack(NULL, v->body.len, v->body.data);
        if (!b)
            continue;
        const member_t *m = members_find(members, b->validator.data, b->validator.len);
        bool ok = m && m->validator && b->type == VL__VOTE_TYPE__VOTE_PRECOMMIT
                  && b->height == height && b->round == commit->round
                  && strcmp(b->chain_id, chain_id) == 0 && b->block_hash.len == VL_HASH_SIZE
                  && memcmp(b->block_hash.data, block_hash, VL_HASH_SIZE) == 0
                  && s_vote_signed(v, m, cache);
        if (ok) {
            size_t idx = (size_t) (m - members->items);
            if (!counted[idx]) {
                counted[idx] = true;
                power++;
            }
        }
        vl__vote_body__free_unpacked(b, NULL);
    }
    if (3 * power <= 2 * validators)
        return vl_err_set(err, VL_ERR_SIGNATURE,
                          "commit certificate for block %llu has %zu of %zu validator signatures "
                          "(needs more than 2/3)",
                          (unsigned long long) height, power, validators);
    return 0;
}
