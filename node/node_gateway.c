/*
 * node_gateway.c — endorsements gathered from each party's own node (the
 * Fabric Gateway pattern, docs/trust.md). Two halves:
 *
 * The gateway (node_transact): a client sends its signed proposal to its own
 * organisation's node only. That node
 *   1. endorses it itself (a worker: contract, requirement reads, its
 *      organisation's rule),
 *   2. resolves the transaction's requirement against its replica
 *      (requirement.h) and plans the organisations whose endorsements
 *      satisfy it, preferring its own (policy_plan),
 *   3. sends the signed proposal to a node of each other planned
 *      organisation over the member request channel (CURVE, members only),
 *      trying that organisation's next node when one does not answer,
 *   4. checks every answer: signed by a node of the organisation asked, over
 *      a result byte-identical to its own,
 *   5. assembles the transaction (tx_build) and admits it like a client's
 *      submit (node_admit: mempool, gossip to the validators).
 * An organisation none of whose nodes answers within endorse_timeout_ms
 * fails the call naming it; a refusal is passed on naming who refused;
 * endorsers whose results differ are named. Nothing is submitted then.
 *
 * The endorser (s_on_request, which also hands tip requests to
 * node_verify.c): a member asks this node to endorse (NODE_REQ_ENDORSE,
 * body = SignedProposal). It endorses exactly as for
 * its own clients (node_endorse: the contract against its own replica and
 * its organisation's rule) and answers an EndorseReply, or refuses with the
 * reason. Its own judgement is all it signs.
 *
 * Loop thread; the executions run on the worker pool.
 */
#include "node_internal.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "log.h"
#include "policy.h"
#include "tx.h"


/* --- The endorser side ---------------------------------------------------- */

typedef struct {
    node_t *node;
    gossip_responder_t *r;        /* owned until answered */
} s_serve_t;

static const org_t *
s_org_of_key(const node_t *node, const uint8_t *key)
{
    return genesis_org_of(&node->genesis,
                          members_find(&node->genesis.members, key, VL_PUBKEY_SIZE));
}

static void
s_served(void *arg, int rc, const endorsement_t *en, const vl_err_t *err)
{
    s_serve_t *s = arg;
    node_t *node = s->node;
    if (rc != 0) {
        gossip_respond(node->gossip, &s->r, VL_ERR_REFUSED, err->msg, strlen(err->msg));
        free(s);
        return;
    }
    const org_t *org = s_org_of_key(node, vl_key_public(node->key));
    uint8_t result_hash[VL_HASH_SIZE];
    vl_sha256(en->result, en->result_len, result_hash);
    Vl__Endorsement e = VL__ENDORSEMENT__INIT;
    e.endorser = (ProtobufCBinaryData) { VL_PUBKEY_SIZE, (uint8_t *) vl_key_public(node->key) };
    e.signature = (ProtobufCBinaryData) { VL_SIG_SIZE, (uint8_t *) en->signature };
    e.org = (char *) (org ? org->name : "");
    e.result_hash = (ProtobufCBinaryData) { VL_HASH_SIZE, result_hash };
    Vl__EndorseReply reply = VL__ENDORSE_REPLY__INIT;
    reply.result = (ProtobufCBinaryData) { en->result_len, en->result };
    reply.endorsement = &e;
    size_t len = vl__endorse_reply__get_packed_size(&reply);
    uint8_t *bytes = malloc(len ? len : 1);
    if (!bytes) {
        gossip_respond(node->gossip, &s->r, VL_ERR_NOMEM, "out of memory", 13);
    } else {
        vl__endorse_reply__pack(&reply, bytes);
        gossip_respond(node->gossip, &s->r, 0, bytes, len);
    }
    free(bytes);
    free(s);
}

static void
s_on_request(void *arg, const uint8_t peer[VL_PUBKEY_SIZE], uint32_t kind, const uint8_t *body,
             size_t len, gossip_responder_t *r)
{
    node_t *node = arg;
    if (kind == NODE_REQ_TIP) {
        node_verify_serve(node, body, len, r);
        return;
    }
    if (kind != NODE_REQ_ENDORSE) {
        static const char msg[] = "this node answers endorsement and tip requests only";
        gossip_respond(node->gossip, &r, VL_ERR_REFUSED, msg, sizeof msg - 1);
        return;
    }
    node->endorsements_asked++;
    s_serve_t *s = calloc(1, sizeof *s);
    int rc = s ? 0 : VL_ERR_NOMEM;
    if (s) {
        *s = (s_serve_t) { node, r };
        rc = node_endorse(node, body, len, s_served, s);
    }
    if (rc != 0) {
        char msg[96];
        int n = snprintf(msg, sizeof msg, "node is busy (%s); retry later", vl_strerror(rc));
        gossip_respond(node->gossip, &r, VL_ERR_REFUSED, msg, (size_t) n);
        free(s);
    }
}

void
node_gateway_attach(node_t *node)
{
    if (node->gossip)
        gossip_set_request_handler(node->gossip, s_on_request, node);
}

/* --- The gateway side --------------------------------------------------------- */

typedef enum { ASK_NONE = 0, ASK_PENDING, ASK_DONE, ASK_REFUSED, ASK_OFFLINE, ASK_MISMATCH } s_ask_state_t;

typedef struct s_gw s_gw_t;

typedef struct {
    s_gw_t *gw;
    int org;                      /* index into genesis orgs */
    s_ask_state_t state;
    size_t tried;                 /* nodes of the organisation asked so far */
    uint8_t endorser[VL_PUBKEY_SIZE];
    uint8_t signature[VL_SIG_SIZE];
    char reason[VL_ERR_MSG_MAX];
} s_ask_t;

struct s_gw {
    node_t *node;
    uint8_t *proposal;            /* owned: SignedProposal bytes */
    size_t proposal_len;
    node_transact_fn cb;
    void *arg;
    uint8_t txid[VL_HASH_SIZE];
    uint8_t *result;              /* owned: our own result, the one all must match */
    size_t result_len;
    char *result_json;            /* owned */
    s_ask_t asks[ORGS_MAX];       /* one per planned organisation */
    size_t n_asks;
    size_t pending;
};

static void
s_gw_free(s_gw_t *gw)
{
    free(gw->proposal);
    free(gw->result);
    free(gw->result_json);
    free(gw);
}

static void
s_fail(s_gw_t *gw, int rc, const char *msg)
{
    vl_err_t err;
    vl_err_set(&err, rc, "%s", msg);
    gw->cb(gw->arg, rc, gw->txid, NULL, &err);
    s_gw_free(gw);
}

static const char *
s_org_name(const s_gw_t *gw, int org)
{
    return org >= 0 && (size_t) org < gw->node->genesis.orgs.count
               ? gw->node->genesis.orgs.items[org].name
               : "";
}

/* Every answer is in: assemble and admit, or say who failed. */
static void
s_admitted(void *arg, int rc, const uint8_t *txid, const vl_err_t *err)
{
    s_gw_t *gw = arg;
    gw->cb(gw->arg, rc, txid ? txid : gw->txid, rc == 0 ? gw->result_json : NULL, err);
    s_gw_free(gw);
}

static void
s_finish(s_gw_t *gw)
{
    char msg[VL_ERR_MSG_MAX] = "";
    size_t off = 0;
    int rc = 0;
    /* Disagreement first: it says an endorser lied or state diverged. */
    for (int pass = 0; pass < 3 && rc == 0; pass++) {
        s_ask_state_t want = pass == 0 ? ASK_MISMATCH : pass == 1 ? ASK_REFUSED : ASK_OFFLINE;
        for (size_t i = 0; i < gw->n_asks; i++) {
            const s_ask_t *a = &gw->asks[i];
            if (a->state != want)
                continue;
            if (rc == 0)
                rc = want == ASK_OFFLINE ? VL_ERR_TIMEOUT : VL_ERR_REFUSED;
            int n = snprintf(msg + off, sizeof msg - off, "%s%s", off ? "; " : "", a->reason);
            off += n > 0 && (size_t) n < sizeof msg - off ? (size_t) n : 0;
        }
    }
    if (rc != 0) {
        s_fail(gw, rc, msg);
        return;
    }
    node_t *node = gw->node;
    tx_endorsement_t ends[ORGS_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < gw->n_asks; i++)
        ends[n++] = (tx_endorsement_t) { gw->asks[i].endorser, gw->asks[i].signature,
                                         s_org_name(gw, gw->asks[i].org) };
    uint8_t *tx = NULL;
    size_t tx_len = 0;
    vl_err_t err = { "" };
    rc = tx_build(gw->proposal, gw->proposal_len, gw->result, gw->result_len, ends, n, &tx,
                  &tx_len, &err);
    if (rc != 0) {
        s_fail(gw, rc, err.msg);
        return;
    }
    node_admit(node, tx, tx_len, ADMIT_API, s_admitted, gw);
    free(tx);
}

static void s_ask_next(s_ask_t *a);

static void
s_done_one(s_ask_t *a)
{
    s_gw_t *gw = a->gw;
    if (--gw->pending == 0)
        s_finish(gw);
}

/* An organisation's answer. */
static void
s_reply(void *arg, int status, const uint8_t *body, size_t len)
{
    s_ask_t *a = arg;
    s_gw_t *gw = a->gw;
    const char *org = s_org_name(gw, a->org);
    if (status == VL_ERR_TIMEOUT || status == VL_ERR_LIMIT || status == VL_ERR_STATE) {
        s_ask_next(a);   /* that node did not answer: the organisation's next one */
        return;
    }
    if (status != 0) {
        a->state = ASK_REFUSED;
        snprintf(a->reason, sizeof a->reason, "organisation '%s' refused to endorse: %.*s", org,
                 (int) (len < 180 ? len : 180), body ? (const char *) body : "");
        s_done_one(a);
        return;
    }
    Vl__EndorseReply *r = vl__endorse_reply__unpack(NULL, len, body);
    const Vl__Endorsement *e = r ? r->endorsement : NULL;
    bool shape = e && e->endorser.len == VL_PUBKEY_SIZE && e->signature.len == VL_SIG_SIZE
                 && memcmp(e->endorser.data, a->endorser, VL_PUBKEY_SIZE) == 0
                 && vl_verify(a->endorser, r->result.data, r->result.len, e->signature.data);
    if (!shape) {
        a->state = ASK_REFUSED;
        snprintf(a->reason, sizeof a->reason, "organisation '%s' answered with an endorsement "
                 "that does not verify", org);
    } else if (r->result.len != gw->result_len
               || memcmp(r->result.data, gw->result, gw->result_len) != 0) {
        a->state = ASK_MISMATCH;
        const org_t *own = s_org_of_key(gw->node, vl_key_public(gw->node->key));
        snprintf(a->reason, sizeof a->reason, "endorsers disagree: organisation '%s' computed "
                 "another result than organisation '%s'", org, own ? own->name : "(this node)");
    } else {
        a->state = ASK_DONE;
        memcpy(a->signature, e->signature.data, VL_SIG_SIZE);
    }
    if (r)
        vl__endorse_reply__free_unpacked(r, NULL);
    s_done_one(a);
}

/* Asks the organisation's next endorsing node (live ones first); with none
 * left, the organisation is offline. */
static void
s_ask_next(s_ask_t *a)
{
    s_gw_t *gw = a->gw;
    node_t *node = gw->node;
    const members_t *ms = &node->genesis.members;
    /* Its nodes in order: alive ones first, then the others. */
    const member_t *order[MEMBERS_MAX];
    size_t n = 0;
    for (int alive = 1; alive >= 0; alive--)
        for (size_t i = 0; i < ms->count; i++) {
            const member_t *m = &ms->items[i];
            if (m->org != a->org || !m->endorser
                || memcmp(m->public_key, vl_key_public(node->key), VL_PUBKEY_SIZE) == 0)
                continue;
            const gossip_peer_t *p = gossip_members_find(gossip_members(node->gossip),
                                                         m->public_key, VL_PUBKEY_SIZE);
            bool up = p && p->state == GOSSIP_PEER_ALIVE;
            if (up == (alive == 1))
                order[n++] = m;
        }
    while (a->tried < n) {
        const member_t *m = order[a->tried++];
        memcpy(a->endorser, m->public_key, VL_PUBKEY_SIZE);
        if (gossip_request(node->gossip, m->public_key, NODE_REQ_ENDORSE, gw->proposal,
                           gw->proposal_len, node->config.endorse_timeout_ms, s_reply, a) == 0)
            return;
    }
    a->state = ASK_OFFLINE;
    snprintf(a->reason, sizeof a->reason, "organisation '%s' did not answer the endorsement "
             "request within %d ms (its node%s %s)", s_org_name(gw, a->org),
             node->config.endorse_timeout_ms, n == 1 ? " is" : "s are",
             n ? "offline or unreachable" : "not known to this node");
    s_done_one(a);
}

static int
s_ledger_get(void *ctx, const char *key, char **value, size_t *len, vl_version_t *version)
{
    return ledger_get(ctx, key, value, len, version);
}

/* Whom to ask: the smallest set of organisations whose endorsements meet
 * the requirement, preferring ours. */
static int
s_plan(s_gw_t *gw, org_set_t *out, vl_err_t *err)
{
    node_t *node = gw->node;
    Vl__SignedProposal *sp = vl__signed_proposal__unpack(NULL, gw->proposal_len, gw->proposal);
    Vl__Proposal *p = sp ? vl__proposal__unpack(NULL, sp->proposal.len, sp->proposal.data) : NULL;
    Vl__EndorsedResult *r = vl__endorsed_result__unpack(NULL, gw->result_len, gw->result);
    int rc = p && r ? 0 : vl_err_set(err, VL_ERR_INVALID, "proposal or result does not decode");
    if (rc == 0) {
        char did[VL_DID_BUF];
        vl_did_from_public(p->creator.data, did);
        requirement_env_t env = { s_ledger_get, node->ledger, &node->genesis.orgs,
                                  node->policies };
        policy_resolved_t *res = NULL;
        rc = requirement_resolve(&env, p, did, r, &res, err);
        if (rc == 0) {
            const member_t *me = members_find(&node->genesis.members, vl_key_public(node->key),
                                              VL_PUBKEY_SIZE);
            policy_plan(res, me ? me->org : -1, out);
        }
        policy_resolved_destroy(&res);
    }
    if (r)
        vl__endorsed_result__free_unpacked(r, NULL);
    if (p)
        vl__proposal__free_unpacked(p, NULL);
    if (sp)
        vl__signed_proposal__free_unpacked(sp, NULL);
    return rc;
}

/* Our own endorsement is in: plan, then ask the others. */
static void
s_own_endorsed(void *arg, int rc, const endorsement_t *en, const vl_err_t *err)
{
    s_gw_t *gw = arg;
    node_t *node = gw->node;
    if (rc != 0) {
        gw->cb(gw->arg, rc, gw->txid, NULL, err);
        s_gw_free(gw);
        return;
    }
    memcpy(gw->txid, en->txid, VL_HASH_SIZE);
    gw->result = malloc(en->result_len ? en->result_len : 1);
    gw->result_json = strdup(en->result_json ? en->result_json : "null");
    if (!gw->result || !gw->result_json) {
        s_fail(gw, VL_ERR_NOMEM, "out of memory");
        return;
    }
    memcpy(gw->result, en->result, en->result_len);
    gw->result_len = en->result_len;
    org_set_t plan = { { 0 } };
    vl_err_t perr = { "" };
    int prc = s_plan(gw, &plan, &perr);
    if (prc != 0) {
        s_fail(gw, prc == VL_ERR_NOMEM || prc == VL_ERR_IO ? prc : VL_ERR_REFUSED, perr.msg);
        return;
    }
    const member_t *me = members_find(&node->genesis.members, vl_key_public(node->key),
                                      VL_PUBKEY_SIZE);
    int own = me ? me->org : -1;
    /* Our own endorsement always goes in: it is the result we checked. */
    s_ask_t *mine = &gw->asks[gw->n_asks++];
    *mine = (s_ask_t) { .gw = gw, .org = own, .state = ASK_DONE };
    memcpy(mine->endorser, vl_key_public(node->key), VL_PUBKEY_SIZE);
    memcpy(mine->signature, en->signature, VL_SIG_SIZE);
    for (size_t i = 0; i < node->genesis.orgs.count; i++)
        if ((int) i != own && org_set_has(&plan, (int) i))
            gw->asks[gw->n_asks++] = (s_ask_t) { .gw = gw, .org = (int) i, .state = ASK_PENDING };
    gw->pending = gw->n_asks - 1 + 1;   /* + 1: held while asking */
    for (size_t i = 1; i < gw->n_asks; i++) {
        if (!node->gossip) {
            s_ask_t *a = &gw->asks[i];
            a->state = ASK_OFFLINE;
            snprintf(a->reason, sizeof a->reason, "organisation '%s' must endorse, but this "
                     "node is not on a network (no gossip)", s_org_name(gw, a->org));
            gw->pending--;
            continue;
        }
        s_ask_next(&gw->asks[i]);
    }
    s_done_one(mine);   /* the hold */
}

int
node_transact(node_t *node, const uint8_t *proposal, size_t len, node_transact_fn cb, void *arg)
{
    s_gw_t *gw = calloc(1, sizeof *gw);
    uint8_t *copy = gw ? malloc(len ? len : 1) : NULL;
    if (!copy) {
        free(gw);
        return VL_ERR_NOMEM;
    }
    memcpy(copy, proposal, len);
    *gw = (s_gw_t) { .node = node, .proposal = copy, .proposal_len = len, .cb = cb, .arg = arg };
    vl_sha256(copy, len, gw->txid);   /* replaced by the proposal's txid once endorsed */
    int rc = node_endorse(node, proposal, len, s_own_endorsed, gw);
    if (rc != 0)
        s_gw_free(gw);
    return rc;
}
