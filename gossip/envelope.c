/* envelope.c — signed gossip envelopes; see envelope.h. */
#include "envelope.h"

#include <stdlib.h>
#include <string.h>

int
gossip_envelope_seal(const vl_key_t *key, int type, const void *payload, size_t len,
                     int64_t created_ms, uint64_t nonce, uint8_t **out, size_t *out_len)
{
    if (type <= VL__ENVELOPE_TYPE__ENV_UNKNOWN || type > VL__ENVELOPE_TYPE__ENV_CLAIM
        || len > GOSSIP_ENVELOPE_MAX - 1024)
        return VL_ERR_INVALID;
    Vl__EnvelopeBody body = VL__ENVELOPE_BODY__INIT;
    body.type = (Vl__EnvelopeType) type;
    body.origin.data = (uint8_t *) vl_key_public(key);
    body.origin.len = VL_PUBKEY_SIZE;
    body.payload.data = (uint8_t *) payload;
    body.payload.len = len;
    body.created_ms = created_ms;
    body.nonce = nonce;
    size_t body_len = vl__envelope_body__get_packed_size(&body);
    uint8_t *body_bytes = malloc(body_len ? body_len : 1);
    if (!body_bytes)
        return VL_ERR_NOMEM;
    vl__envelope_body__pack(&body, body_bytes);
    uint8_t sig[VL_SIG_SIZE];
    if (vl_key_sign(key, body_bytes, body_len, sig) != 0) {
        free(body_bytes);
        return VL_ERR_NOMEM;
    }
    Vl__Envelope env = VL__ENVELOPE__INIT;
    env.body.data = body_bytes;
    env.body.len = body_len;
    env.signature.data = sig;
    env.signature.len = sizeof sig;
    size_t n = vl__envelope__get_packed_size(&env);
    uint8_t *buf = malloc(n);
    if (!buf) {
        free(body_bytes);
        return VL_ERR_NOMEM;
    }
    vl__envelope__pack(&env, buf);
    free(body_bytes);
    *out = buf;
    *out_len = n;
    return 0;
}

int
gossip_envelope_parse(const uint8_t *bytes, size_t len, gossip_envelope_t *out, vl_err_t *err)
{
    if (!bytes || len == 0)
        return vl_err_set(err, VL_ERR_INVALID, "empty envelope");
    if (len > GOSSIP_ENVELOPE_MAX)
        return vl_err_set(err, VL_ERR_INVALID, "envelope of %zu bytes exceeds %u", len,
                          GOSSIP_ENVELOPE_MAX);
    Vl__Envelope *env = vl__envelope__unpack(NULL, len, bytes);
    if (!env)
        return vl_err_set(err, VL_ERR_INVALID, "not an Envelope");
    Vl__EnvelopeBody *body = NULL;
    if (env->body.len == 0) {
        vl_err_set(err, VL_ERR_INVALID, "envelope has no body");
        goto fail;
    }
    if (env->signature.len != VL_SIG_SIZE) {
        vl_err_set(err, VL_ERR_INVALID, "envelope signature is %zu bytes, not 64",
                   env->signature.len);
        goto fail;
    }
    body = vl__envelope_body__unpack(NULL, env->body.len, env->body.data);
    if (!body) {
        vl_err_set(err, VL_ERR_INVALID, "envelope body is not an EnvelopeBody");
        goto fail;
    }
    if (body->type <= VL__ENVELOPE_TYPE__ENV_UNKNOWN || body->type > VL__ENVELOPE_TYPE__ENV_CLAIM) {
        vl_err_set(err, VL_ERR_INVALID, "unknown envelope type %d", (int) body->type);
        goto fail;
    }
    if (body->origin.len != VL_PUBKEY_SIZE) {
        vl_err_set(err, VL_ERR_INVALID, "envelope origin is %zu bytes, not 32", body->origin.len);
        goto fail;
    }
    memset(out, 0, sizeof *out);
    out->env = env;
    out->body = body;
    vl_sha256(env->body.data, env->body.len, out->id);
    out->type = body->type;
    out->origin = body->origin.data;
    out->payload = body->payload.data;
    out->payload_len = body->payload.len;
    out->hops = env->hops;
    out->created_ms = body->created_ms;
    return 0;
fail:
    if (body)
        vl__envelope_body__free_unpacked(body, NULL);
    vl__envelope__free_unpacked(env, NULL);
    return VL_ERR_INVALID;
}

/* vl_verify (libsodium) behind the length checks a peer's bytes need. */
bool
gossip_ed25519_verify(const uint8_t *pub, size_t pub_len, const void *msg, size_t len,
                      const uint8_t *sig, size_t sig_len)
{
    return pub && sig && pub_len == VL_PUBKEY_SIZE && sig_len == VL_SIG_SIZE
           && vl_verify(pub, msg, len, sig);
}

bool
gossip_envelope_verify(const gossip_envelope_t *e)
{
    return e->env && e->origin
           && gossip_ed25519_verify(e->origin, VL_PUBKEY_SIZE, e->env->body.data,
                                    e->env->body.len, e->env->signature.data,
                                    e->env->signature.len);
}

int
gossip_envelope_pack_hops(const gossip_envelope_t *e, uint32_t hops, uint8_t **out,
                          size_t *out_len)
{
    Vl__Envelope env = *e->env;
    env.hops = hops;
    size_t n = vl__envelope__get_packed_size(&env);
    uint8_t *buf = malloc(n);
    if (!buf)
        return VL_ERR_NOMEM;
    vl__envelope__pack(&env, buf);
    *out = buf;
    *out_len = n;
    return 0;
}

void
gossip_envelope_clear(gossip_envelope_t *e)
{
    if (!e)
        return;
    if (e->body)
        vl__envelope_body__free_unpacked(e->body, NULL);
    if (e->env)
        vl__envelope__free_unpacked(e->env, NULL);
    memset(e, 0, sizeof *e);
}

const char *
gossip_envelope_type_name(int type)
{
    switch (type) {
    case VL__ENVELOPE_TYPE__ENV_TRANSACTION: return "transaction";
    case VL__ENVELOPE_TYPE__ENV_PROPOSAL: return "proposal";
    case VL__ENVELOPE_TYPE__ENV_VOTE: return "vote";
    case VL__ENVELOPE_TYPE__ENV_BLOCK: return "block";
    case VL__ENVELOPE_TYPE__ENV_EVENT: return "event";
    case VL__ENVELOPE_TYPE__ENV_HEARTBEAT: return "heartbeat";
    case VL__ENVELOPE_TYPE__ENV_JOIN: return "join";
    case VL__ENVELOPE_TYPE__ENV_CLAIM: return "claim";
    default: return "unknown";
    }
}
