/* endorser.c — proposal checks, contract simulation and result signing. */
#include "endorser.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "did.h"
#include "vledger.pb-c.h"

void
endorsement_clear(endorsement_t *e)
{
    free(e->result);
    free(e->result_json);
    memset(e, 0, sizeof *e);
}

static bool
s_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'))
            return false;
    return true;
}

static int
s_ledger_get(void *ctx, const char *key, char **value, size_t *len, vl_version_t *version)
{
    return ledger_get(ctx, key, value, len, version);
}

static int
s_cmp_read(const void *a, const void *b)
{
    return strcmp((*(Vl__ReadItem *const *) a)->key, (*(Vl__ReadItem *const *) b)->key);
}

/* Resolves the transaction's requirement against the ledger and adds the
 * keys it read to the result's read set (kept sorted by key), re-packing
 * vr->endorsed. */
static int
s_add_requirement_reads(const endorser_ctx_t *ctx, const Vl__Proposal *p, const char *did,
                        vm_result_t *vr, vl_err_t *err)
{
    Vl__EndorsedResult *r = vl__endorsed_result__unpack(NULL, vr->endorsed_len, vr->endorsed);
    if (!r)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    requirement_env_t env = { s_ledger_get, ctx->ledger, ctx->orgs, ctx->policies };
    policy_resolved_t *res = NULL;
    int rc = requirement_resolve(&env, p, did, r, &res, err);
    size_t n = rc == 0 ? policy_resolved_read_count(res) : 0;
    Vl__ReadItem **reads = calloc(r->n_reads + n + 1, sizeof *reads);
    Vl__ReadItem *extra = calloc(n + 1, sizeof *extra);
    size_t n_reads = r->n_reads, n_extra = 0;
    if (rc == 0 && (!reads || !extra))
        rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    if (rc == 0)
        memcpy(reads, r->reads, r->n_reads * sizeof *reads);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const policy_read_t *pr = policy_resolved_read(res, i);
        const Vl__ReadItem *have = NULL;
        for (size_t k = 0; k < r->n_reads && !have; k++)
            if (strcmp(r->reads[k]->key, pr->key) == 0)
                have = r->reads[k];
        if (have) {
            if (have->exists != pr->found
                || (pr->found && (have->block != pr->version.block || have->tx != pr->version.tx)))
                rc = vl_err_set(err, VL_ERR_CONFLICT, "%.200s changed while this transaction was "
                                "endorsed; try again", pr->key);
            continue;
        }
        Vl__ReadItem *x = &extra[n_extra++];
        vl__read_item__init(x);
        x->key = (char *) pr->key;
        x->exists = pr->found;
        x->block = pr->version.block;
        x->tx = pr->version.tx;
        reads[n_reads++] = x;
    }
    if (rc == 0 && n_extra > 0) {
        qsort(reads, n_reads, sizeof *reads, s_cmp_read);
        Vl__ReadItem **orig = r->reads;
        size_t orig_n = r->n_reads;
        r->reads = reads;
        r->n_reads = n_reads;
        size_t len = vl__endorsed_result__get_packed_size(r);
        uint8_t *bytes = malloc(len ? len : 1);
        if (!bytes) {
            rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        } else {
            vl__endorsed_result__pack(r, bytes);
            free(vr->endorsed);
            vr->endorsed = bytes;
            vr->endorsed_len = len;
        }
        r->reads = orig;
        r->n_reads = orig_n;
    }
    free(extra);
    free(reads);
    policy_resolved_destroy(&res);
    vl__endorsed_result__free_unpacked(r, NULL);
    return rc;
}

int
endorser_endorse(const endorser_ctx_t *ctx, const uint8_t *bytes, size_t len, endorsement_t *out,
                 vl_err_t *err)
{
    int rc = VL_ERR_INVALID;
    Vl__SignedProposal *sp = NULL;
    Vl__Proposal *p = NULL;
    vm_result_t vr = { 0 };

    if (len > VL_TX_MAX) {
        rc = vl_err_set(err, VL_ERR_INVALID, "proposal exceeds the 4 MiB limit");
        goto done;
    }
    sp = vl__signed_proposal__unpack(NULL, len, bytes);
    if (!sp || sp->proposal.len == 0) {
        rc = vl_err_set(err, VL_ERR_INVALID, "not a valid SignedProposal message");
        goto done;
    }
    p = vl__proposal__unpack(NULL, sp->proposal.len, sp->proposal.data);
    if (!p) {
        rc = vl_err_set(err, VL_ERR_INVALID, "signed bytes are not a valid Proposal message");
        goto done;
    }
    if (p->creator.len != VL_PUBKEY_SIZE) {
        rc = vl_err_set(err, VL_ERR_INVALID, "proposal creator is not a 32-byte public key");
        goto done;
    }
    bool sig_ok = ctx->sigcache
        ? sigcache_verify(ctx->sigcache, p->creator.data, p->creator.len, sp->proposal.data,
                          sp->proposal.len, sp->signature.data, sp->signature.len)
        : sp->signature.len == VL_SIG_SIZE
              && vl_verify(p->creator.data, sp->proposal.data, sp->proposal.len,
                           sp->signature.data);
    if (!sig_ok) {
        rc = vl_err_set(err, VL_ERR_SIGNATURE, "proposal signature does not verify");
        goto done;
    }
    if (strcmp(p->chain_id, ctx->chain_id) != 0) {
        rc = vl_err_set(err, VL_ERR_INVALID, "proposal is for chain '%s', this node is on '%s'",
                        p->chain_id, ctx->chain_id);
        goto done;
    }
    int64_t skew = p->timestamp_ms - ctx->now_ms;
    if (skew > ENDORSER_CLOCK_SKEW_MS || skew < -ENDORSER_CLOCK_SKEW_MS) {
        rc = vl_err_set(err, VL_ERR_INVALID,
                        "proposal timestamp is %lld s away from this node's clock",
                        (long long) (skew / 1000));
        goto done;
    }
    if (!s_name_ok(p->contract) || !s_name_ok(p->function)) {
        rc = vl_err_set(err, VL_ERR_INVALID, "contract and function names are 1-64 characters "
                                             "from a-z, 0-9, '_' and '.'");
        goto done;
    }
    uint8_t txid[VL_HASH_SIZE];
    vl_sha256(sp->proposal.data, sp->proposal.len, txid);
    ledger_tx_info_t info;
    if (ledger_tx_get(ctx->ledger, txid, &info) == 0 && info.code == VL__TX_CODE__TX_VALID) {
        char hex[65];
        vl_hex_encode(txid, VL_HASH_SIZE, hex);
        rc = vl_err_set(err, VL_ERR_EXISTS, "transaction %s is already committed in block %llu",
                        hex, (unsigned long long) info.height);
        goto done;
    }
    char did[VL_DID_BUF];
    vl_did_from_public(p->creator.data, did);
    vm_state_t state = vm_state_of_ledger(ctx->ledger);
    vm_request_t req = {
        .contract = p->contract,
        .function = p->function,
        .args_json = p->args_json[0] ? p->args_json : "{}",
        .caller_did = did,
        .txid = txid,
        .now_ms = p->timestamp_ms,
        .gas_limit = p->gas_limit,
    };
    if (vm_execute(ctx->vm, &state, &req, &vr) != 0) {
        rc = vl_err_set(err, vr.status, "%s", vr.error);
        goto done;
    }
    if (ctx->orgs && (rc = s_add_requirement_reads(ctx, p, did, &vr, err)) != 0)
        goto done;
    if (vl_key_sign(ctx->key, vr.endorsed, vr.endorsed_len, out->signature) != 0) {
        rc = vl_err_set(err, VL_ERR_NOMEM, "signing failed");
        goto done;
    }
    if (ctx->sigcache)
        sigcache_add(ctx->sigcache, vl_key_public(ctx->key), vr.endorsed, vr.endorsed_len,
                     out->signature);
    memcpy(out->txid, txid, VL_HASH_SIZE);
    out->result = vr.endorsed;
    out->result_len = vr.endorsed_len;
    out->result_json = vr.result_json;
    out->gas_used = vr.gas_used;
    vr.endorsed = NULL;
    vr.result_json = NULL;
    rc = 0;
done:
    vm_result_clear(&vr);
    if (p) vl__proposal__free_unpacked(p, NULL);
    if (sp) vl__signed_proposal__free_unpacked(sp, NULL);
    return rc;
}
