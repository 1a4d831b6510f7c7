/*
 * node_verify.c — `vledger verify [--peers]` (DESIGN §3 step 6): this
 * replica's height, block hash and state hash, and, with peers, the same
 * from every live member, compared at a common height so replicas at
 * different heights are still compared. A peer answers a tip request
 * (member request NODE_REQ_TIP, body = be64 the asker's height) with its
 * values at min(that height, its own): be64 height | 32 block hash |
 * 32 state hash after that block | be64 its tip. The first peer whose
 * block or state hash differs is named.
 *
 * Loop thread.
 */
#include "node_internal.h"

#include <stdlib.h>
#include <string.h>

#include "blockview.h"
#include "codec.h"

#define TIP_REPLY_LEN (8 + 32 + 32 + 8)
#define VERIFY_TIMEOUT_MS 3000

/* This replica's block hash at height and state hash after it. */
static int
s_at(node_t *node, uint64_t height, uint8_t block_hash[32], uint8_t state_hash[32])
{
    uint64_t tip = ledger_height(node->ledger);
    if (height > tip)
        return VL_ERR_NOT_FOUND;
    if (height == tip) {
        memcpy(block_hash, ledger_last_hash(node->ledger), 32);
        memcpy(state_hash, ledger_state_hash(node->ledger), 32);
        return 0;
    }
    for (int k = 0; k < 2; k++) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        block_view_t *view = NULL;
        vl_err_t err;
        int rc = ledger_block_get(node->ledger, height + (uint64_t) k, &bytes, &len);
        if (rc == 0)
            rc = block_view_new(bytes, len, NULL, BLOCK_VIEW_HEADER, &view, &err);
        free(bytes);
        if (rc != 0)
            return rc;
        if (k == 0)
            memcpy(block_hash, view->hash, 32);
        else if (view->header->state_hash.len == 32)
            memcpy(state_hash, view->header->state_hash.data, 32);
        block_view_destroy(&view);
    }
    return 0;
}

void
node_verify_serve(node_t *node, const uint8_t *body, size_t len, gossip_responder_t *r)
{
    uint8_t reply[TIP_REPLY_LEN];
    uint64_t tip = ledger_height(node->ledger);
    uint64_t asked = len == 8 ? vl_get_be64(body) : tip;
    uint64_t h = asked < tip ? asked : tip;
    if (s_at(node, h, reply + 8, reply + 40) != 0) {
        static const char msg[] = "cannot read this replica's blocks";
        gossip_respond(node->gossip, &r, VL_ERR_REFUSED, msg, sizeof msg - 1);
        return;
    }
    vl_put_be64(reply, h);
    vl_put_be64(reply + 72, tip);
    gossip_respond(node->gossip, &r, 0, reply, sizeof reply);
}

typedef struct s_verify s_verify_t;

typedef struct {
    s_verify_t *v;
    const member_t *m;
} s_ask_t;

struct s_verify {
    node_t *node;
    node_verify_fn cb;
    void *arg;
    json_t *peers;                /* owned: one entry per peer asked */
    size_t pending;
    char first[VL_ERR_MSG_MAX];   /* the first difference, "" when none */
    s_ask_t asks[MEMBERS_MAX];
};

static json_t *
s_hex(const uint8_t *d)
{
    char h[65];
    vl_hex_encode(d, 32, h);
    return json_string(h);
}

static json_t *
s_self(node_t *node)
{
    json_t *o = json_object();
    json_object_set_new(o, "height", json_integer((json_int_t) ledger_height(node->ledger)));
    json_object_set_new(o, "block_hash", s_hex(ledger_last_hash(node->ledger)));
    json_object_set_new(o, "state_hash", s_hex(ledger_state_hash(node->ledger)));
    return o;
}

static void
s_done(s_verify_t *v)
{
    if (--v->pending > 0)
        return;
    json_t *r = s_self(v->node);
    json_object_set_new(r, "peers", v->peers);
    json_object_set_new(r, "agree", json_boolean(v->first[0] == 0));
    if (v->first[0])
        json_object_set_new(r, "first_difference", json_string(v->first));
    v->cb(v->arg, r);
    free(v);
}

static void
s_reply(void *arg, int status, const uint8_t *body, size_t len)
{
    s_ask_t *a = arg;
    s_verify_t *v = a->v;
    node_t *node = v->node;
    json_t *p = json_pack("{s:s, s:s}", "did", a->m->did, "name", a->m->name);
    if (status != 0 || len != TIP_REPLY_LEN) {
        json_object_set_new(p, "error", json_string(status == VL_ERR_TIMEOUT
                                                        ? "no answer"
                                                        : "refused or malformed answer"));
    } else {
        uint64_t h = vl_get_be64(body);
        uint8_t mine_b[32], mine_s[32];
        json_object_set_new(p, "height", json_integer((json_int_t) vl_get_be64(body + 72)));
        json_object_set_new(p, "compared_at", json_integer((json_int_t) h));
        json_object_set_new(p, "block_hash", s_hex(body + 8));
        json_object_set_new(p, "state_hash", s_hex(body + 40));
        bool agree = s_at(node, h, mine_b, mine_s) == 0 && memcmp(mine_b, body + 8, 32) == 0
                     && memcmp(mine_s, body + 40, 32) == 0;
        json_object_set_new(p, "agree", json_boolean(agree));
        if (!agree && !v->first[0]) {
            char ours[17], theirs[17];
            bool block_differs = memcmp(mine_b, body + 8, 32) != 0;
            vl_hex_encode(block_differs ? mine_b : mine_s, 8, ours);
            vl_hex_encode(block_differs ? body + 8 : body + 40, 8, theirs);
            snprintf(v->first, sizeof v->first, "peer %s (%s) at height %llu: %s hash %s, "
                     "this replica's %s", a->m->name, a->m->did, (unsigned long long) h,
                     block_differs ? "block" : "state", theirs, ours);
        }
    }
    json_array_append_new(v->peers, p);
    s_done(v);
}

int
node_verify(node_t *node, bool peers, node_verify_fn cb, void *arg)
{
    s_verify_t *v = calloc(1, sizeof *v);
    if (!v)
        return VL_ERR_NOMEM;
    *v = (s_verify_t) { .node = node, .cb = cb, .arg = arg, .peers = json_array(), .pending = 1 };
    uint8_t body[8];
    vl_put_be64(body, ledger_height(node->ledger));
    const members_t *ms = &node->genesis.members;
    for (size_t i = 0; peers && node->gossip && i < ms->count; i++) {
        const member_t *m = &ms->items[i];
        if (memcmp(m->public_key, vl_key_public(node->key), VL_PUBKEY_SIZE) == 0)
            continue;
        const gossip_peer_t *p = gossip_members_find(gossip_members(node->gossip),
                                                     m->public_key, VL_PUBKEY_SIZE);
        if (!p || p->state != GOSSIP_PEER_ALIVE) {
            json_array_append_new(v->peers,
                                  json_pack("{s:s, s:s, s:s}", "did", m->did, "name", m->name,
                                            "error", p ? gossip_peer_state_name(p->state)
                                                       : "unknown"));
            continue;
        }
        s_ask_t *a = &v->asks[i];
        *a = (s_ask_t) { v, m };
        if (gossip_request(node->gossip, m->public_key, NODE_REQ_TIP, body, sizeof body,
                           VERIFY_TIMEOUT_MS, s_reply, a) == 0)
            v->pending++;
    }
    s_done(v);   /* the hold */
    return 0;
}
