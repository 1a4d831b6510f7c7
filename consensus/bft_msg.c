/* bft_msg.c — signed votes and proposals (bft_msg.h). */
#include "bft_msg.h"

#include <stdlib.h>
#include <string.h>

#include "blockview.h"
#include "codec.h"
#include "vledger.pb-c.h"

int
bft_validators_of(const members_t *members, bft_validators_t *out)
{
    bft_validators_t v = { 0 };
    for (size_t i = 0; i < members->count; i++) {
        if (!members->items[i].validator)
            continue;
        if (v.n == BFT_VALIDATORS_MAX)
            return VL_ERR_LIMIT;
        memcpy(v.keys[v.n++], members->items[i].public_key, VL_PUBKEY_SIZE);
    }
    if (v.n == 0)
        return VL_ERR_INVALID;
    *out = v;
    return 0;
}

int
bft_validators_find(const bft_validators_t *v, const uint8_t *key, size_t len)
{
    if (len != VL_PUBKEY_SIZE)
        return -1;
    for (uint32_t i = 0; i < v->n; i++)
        if (memcmp(v->keys[i], key, VL_PUBKEY_SIZE) == 0)
            return (int) i;
    return -1;
}

static uint8_t *
s_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(*len ? *len : 1);
    if (b)
        protobuf_c_message_pack(m, b);
    return b;
}

int
bft_msg_vote_sign(const vl_key_t *key, const char *chain_id, bft_msg_t type, uint64_t height,
                  int32_t round, const uint8_t *hash, int64_t now_ms, uint8_t **out, size_t *len)
{
    Vl__VoteBody body = VL__VOTE_BODY__INIT;
    body.chain_id = (char *) chain_id;
    body.type = type == BFT_PREVOTE ? VL__VOTE_TYPE__VOTE_PREVOTE : VL__VOTE_TYPE__VOTE_PRECOMMIT;
    body.height = height;
    body.round = (uint32_t) round;
    if (hash)
        body.block_hash = (ProtobufCBinaryData) { BFT_HASH_SIZE, (uint8_t *) hash };
    body.validator = (ProtobufCBinaryData) { VL_PUBKEY_SIZE, (uint8_t *) vl_key_public(key) };
    body.timestamp_ms = now_ms;
    size_t body_len = 0;
    uint8_t *body_bytes = s_pack(&body.base, &body_len);
    if (!body_bytes)
        return VL_ERR_NOMEM;
    uint8_t sig[VL_SIG_SIZE];
    int rc = vl_key_sign(key, body_bytes, body_len, sig);
    if (rc == 0) {
        Vl__Vote vote = VL__VOTE__INIT;
        vote.body = (ProtobufCBinaryData) { body_len, body_bytes };
        vote.signature = (ProtobufCBinaryData) { VL_SIG_SIZE, sig };
        *out = s_pack(&vote.base, len);
        rc = *out ? 0 : VL_ERR_NOMEM;
    }
    free(body_bytes);
    return rc;
}

int
bft_msg_vote_open(const uint8_t *bytes, size_t len, const char *chain_id,
                  const bft_validators_t *v, sigcache_t *cache, bft_vote_t *out, vl_err_t *err)
{
    Vl__Vote *vote = vl__vote__unpack(NULL, len, bytes);
    Vl__VoteBody *b = vote ? vl__vote_body__unpack(NULL, vote->body.len, vote->body.data) : NULL;
    int rc = 0;
    int who = b ? bft_validators_find(v, b->validator.data, b->validator.len) : -1;
    if (!b)
        rc = vl_err_set(err, VL_ERR_INVALID, "not a Vote");
    else if (strcmp(b->chain_id, chain_id) != 0)
        rc = vl_err_set(err, VL_ERR_INVALID, "vote for another chain");
    else if (b->type != VL__VOTE_TYPE__VOTE_PREVOTE && b->type != VL__VOTE_TYPE__VOTE_PRECOMMIT)
        rc = vl_err_set(err, VL_ERR_INVALID, "vote of unknown type %d", (int) b->type);
    else if (b->round > BFT_ROUND_MAX)
        rc = vl_err_set(err, VL_ERR_INVALID, "vote round %u out of range", b->round);
    else if (b->block_hash.len != 0 && b->block_hash.len != BFT_HASH_SIZE)
        rc = vl_err_set(err, VL_ERR_INVALID, "vote hash is not 32 bytes");
    else if (who < 0)
        rc = vl_err_set(err, VL_ERR_SIGNATURE, "vote by a key that is not a validator");
    else if (!(cache ? sigcache_verify(cache, b->validator.data, b->validator.len,
                                       vote->body.data, vote->body.len, vote->signature.data,
                                       vote->signature.len)
                     : vote->signature.len == VL_SIG_SIZE
                           && vl_verify(b->validator.data, vote->body.data, vote->body.len,
                                        vote->signature.data)))
        rc = vl_err_set(err, VL_ERR_SIGNATURE, "vote signature does not verify");
    if (rc == 0) {
        *out = (bft_vote_t) { .type = b->type == VL__VOTE_TYPE__VOTE_PREVOTE ? BFT_PREVOTE
                                                                             : BFT_PRECOMMIT,
                              .height = b->height,
                              .round = (int32_t) b->round,
                              .nil = b->block_hash.len == 0,
                              .validator = (uint32_t) who };
        if (!out->nil)
            memcpy(out->hash, b->block_hash.data, BFT_HASH_SIZE);
    }
    if (b)
        vl__vote_body__free_unpacked(b, NULL);
    if (vote)
        vl__vote__free_unpacked(vote, NULL);
    return rc;
}

/* The bytes a proposal's signature covers (bft_msg.h). */
static uint8_t *
s_proposal_signed(const char *chain_id, uint64_t height, int32_t round, int32_t valid_round,
                  const uint8_t hash[BFT_HASH_SIZE], size_t *len)
{
    static const char tag[] = "vl-proposal";
    size_t clen = strlen(chain_id), n = sizeof tag - 1 + clen + 1 + 8 + 4 + 4 + BFT_HASH_SIZE;
    uint8_t *b = malloc(n);
    if (!b)
        return NULL;
    uint8_t *p = b;
    memcpy(p, tag, sizeof tag - 1);
    p += sizeof tag - 1;
    memcpy(p, chain_id, clen + 1);
    p += clen + 1;
    vl_put_be64(p, height);
    vl_put_be32(p + 8, (uint32_t) round);
    vl_put_be32(p + 12, (uint32_t) valid_round);
    memcpy(p + 16, hash, BFT_HASH_SIZE);
    *len = n;
    return b;
}

int
bft_msg_proposal_sign(const vl_key_t *key, const char *chain_id, uint64_t height, int32_t round,
                      int32_t valid_round, const uint8_t hash[BFT_HASH_SIZE],
                      const uint8_t *block, size_t block_len, uint8_t **out, size_t *len)
{
    size_t slen = 0;
    uint8_t *signed_bytes = s_proposal_signed(chain_id, height, round, valid_round, hash, &slen);
    if (!signed_bytes)
        return VL_ERR_NOMEM;
    uint8_t sig[VL_SIG_SIZE];
    int rc = vl_key_sign(key, signed_bytes, slen, sig);
    free(signed_bytes);
    if (rc != 0)
        return rc;
    Vl__BlockProposal p = VL__BLOCK_PROPOSAL__INIT;
    p.block = (ProtobufCBinaryData) { block_len, (uint8_t *) block };
    p.round = (uint32_t) round;
    p.valid_round = valid_round;
    p.proposer = (ProtobufCBinaryData) { VL_PUBKEY_SIZE, (uint8_t *) vl_key_public(key) };
    p.signature = (ProtobufCBinaryData) { VL_SIG_SIZE, sig };
    *out = s_pack(&p.base, len);
    return *out ? 0 : VL_ERR_NOMEM;
}

int
bft_msg_proposal_open(const uint8_t *bytes, size_t len, const char *chain_id,
                      const bft_validators_t *v, bft_proposal_t *out, Vl__BlockProposal **pb,
                      vl_err_t *err)
{
    Vl__BlockProposal *p = vl__block_proposal__unpack(NULL, len, bytes);
    if (!p)
        return vl_err_set(err, VL_ERR_INVALID, "not a BlockProposal");
    block_view_t *view = NULL;
    int rc = block_view_new(p->block.data, p->block.len, NULL, BLOCK_VIEW_HEADER, &view, err);
    int who = bft_validators_find(v, p->proposer.data, p->proposer.len);
    if (rc != 0)
        ;   /* err says why */
    else if (strcmp(view->header->chain_id, chain_id) != 0)
        rc = vl_err_set(err, VL_ERR_INVALID, "proposal for another chain");
    else if (p->round > BFT_ROUND_MAX || p->valid_round < BFT_NO_ROUND
             || p->valid_round >= (int32_t) p->round)
        rc = vl_err_set(err, VL_ERR_INVALID, "proposal rounds out of range");
    else if (view->block->commit)
        rc = vl_err_set(err, VL_ERR_INVALID, "a proposed block carries no certificate");
    else if (who < 0 || p->signature.len != VL_SIG_SIZE)
        rc = vl_err_set(err, VL_ERR_SIGNATURE, "proposal by a key that is not a validator");
    if (rc == 0) {
        size_t slen = 0;
        uint8_t *sb = s_proposal_signed(chain_id, view->header->height, (int32_t) p->round,
                                        p->valid_round, view->hash, &slen);
        if (!sb)
            rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        else if (!vl_verify(p->proposer.data, sb, slen, p->signature.data))
            rc = vl_err_set(err, VL_ERR_SIGNATURE, "proposal signature does not verify");
        free(sb);
    }
    if (rc == 0) {
        *out = (bft_proposal_t) { .height = view->header->height,
                                  .round = (int32_t) p->round,
                                  .valid_round = p->valid_round,
                                  .proposer = (uint32_t) who,
                                  .block = p->block.data,
                                  .block_len = p->block.len };
        memcpy(out->hash, view->hash, BFT_HASH_SIZE);
        *pb = p;
        p = NULL;
    }
    block_view_destroy(&view);
    if (p)
        vl__block_proposal__free_unpacked(p, NULL);
    return rc;
}
