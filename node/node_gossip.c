/*
 * node_gossip.c — the node's gossip wiring. With "gossip" in node.json the
 * node joins the mesh (gossip/):
 *
 *   - a block this node committed is published (ENV_BLOCK) by its
 *     proposer only (node_gossip_on_commit, a commit subscriber): every
 *     validator commits it, each with its own certificate, so each
 *     publishing would carry every block across the mesh once per
 *     validator. Another validator holds its copy and publishes it only
 *     if no copy of that height came by gossip within
 *     NODE_BLOCK_FALLBACK_MS (a proposer that crashed right after
 *     committing);
 *   - a peer's block, first copy by gossip or pulled, has its signatures
 *     checked on the worker pool (node_preverify_block) and is then offered
 *     to the commit pipeline's reorder window and drained in height order;
 *     gossiped blocks drain at once (latency), pulled ones on a short timer
 *     so a whole answer is verified ahead of the commits and committed in
 *     runs; a gap asks gossip to pull;
 *   - a transaction admitted from our API (or built by our reactor) is
 *     published (ENV_TRANSACTION) so the validators' mempools get it, and
 *     re-published on the mempool's resend schedule until it commits; one
 *     that arrives by gossip is admitted without re-publishing (the gossip
 *     layer relays it);
 *   - peers ask for blocks by height and transactions by id over the sync
 *     ROUTER: from the ledger, or pending ones from the mempool.
 */
#include "node_internal.h"

#include <stdlib.h>
#include <string.h>

#include "blockview.h"
#include "codec.h"
#include "log.h"

#define RESENDS_PER_TICK 256

#define NODE_BLOCK_FALLBACK_MS 1000

static void
s_drop_held(node_t *node)
{
    if (node->held_block_timer >= 0 && node->loop)
        evloop_timer_end(node->loop, node->held_block_timer);
    node->held_block_timer = -1;
    free(node->held_block);
    node->held_block = NULL;
    node->held_block_len = 0;
}

static int
s_held_due(evloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    node_t *node = arg;
    node->held_block_timer = -1;
    if (node->held_block && node->block_gossip_height < node->held_block_height) {
        gossip_publish(node->gossip, VL__ENVELOPE_TYPE__ENV_BLOCK, node->held_block,
                       node->held_block_len);
        node->blocks_published_late++;
    }
    s_drop_held(node);
    return 0;
}

void
node_gossip_on_commit(void *arg, const commit_event_t *event)
{
    node_t *node = arg;
    if (!node->gossip || event->source != COMMIT_LOCAL)
        return;
    const ledger_block_t *b = &event->block->commit;
    const Vl__BlockHeader *h = event->block->view->header;
    bool proposer = h->proposer.len == VL_PUBKEY_SIZE
                    && memcmp(h->proposer.data, vl_key_public(node->key), VL_PUBKEY_SIZE) == 0;
    if (proposer) {
        if (!node->config.test_withhold_blocks)
            gossip_publish(node->gossip, VL__ENVELOPE_TYPE__ENV_BLOCK, b->block, b->block_len);
        return;
    }
    s_drop_held(node);   /* a newer block: the older one's fate no longer matters */
    node->held_block = malloc(b->block_len ? b->block_len : 1);
    if (!node->held_block || !node->loop) {
        s_drop_held(node);
        gossip_publish(node->gossip, VL__ENVELOPE_TYPE__ENV_BLOCK, b->block, b->block_len);
        return;
    }
    memcpy(node->held_block, b->block, b->block_len);
    node->held_block_len = b->block_len;
    node->held_block_height = h->height;
    node->held_block_timer = evloop_timer(node->loop, NODE_BLOCK_FALLBACK_MS, 1, s_held_due, node);
    if (node->held_block_timer < 0) {
        gossip_publish(node->gossip, VL__ENVELOPE_TYPE__ENV_BLOCK, b->block, b->block_len);
        s_drop_held(node);
    }
}

void
node_gossip_release(node_t *node)
{
    s_drop_held(node);
}

void
node_gossip_tx(node_t *node, const uint8_t *bytes, size_t len)
{
    if (node->gossip)
        gossip_publish(node->gossip, VL__ENVELOPE_TYPE__ENV_TRANSACTION, bytes, len);
}

void
node_gossip_housekeeping(node_t *node)
{
    if (!node->gossip)
        return;
    mempool_entry_t due[RESENDS_PER_TICK];
    size_t gave_up = 0;
    size_t n = mempool_due_resends(node->mempool, node_now_ms(node), due, RESENDS_PER_TICK,
                                   &gave_up);
    for (size_t i = 0; i < n; i++)
        gossip_publish(node->gossip, VL__ENVELOPE_TYPE__ENV_TRANSACTION, due[i].bytes,
                       due[i].len);
    node->txs_resent += n;
    if (gave_up)
        vl_warn("node", "tx.resend_gave_up", "count=%zu tries=%d", gave_up,
                MEMPOOL_RESEND_TRIES);
}

/* --- Blocks in ---------------------------------------------------------------- */

static int
s_on_drain_timer(evloop_t *loop, int timer_id, void *arg)
{
    node_t *node = arg;
    node->drain_timer = -1;
    commit_drain(node->commit);
    gossip_sync_kick(node->gossip);   /* the window moved: ask for more */
    return node_failed(node) ? -1 : 0;
}

/* A peer's block after its signatures were checked. arg: the origin's key
 * (owned copy), or NULL for pulled blocks. */
static void
s_block_checked(node_t *node, uint8_t *bytes, size_t len, void *arg)
{
    uint8_t *origin = arg;
    uint64_t h = 0;
    commit_source_t source = origin ? COMMIT_GOSSIP : COMMIT_PULLED;
    int rc = commit_offer(node->commit, &bytes, len, source, &h);
    if (rc == 0 && !origin) {
        /* Pulled blocks come an answer at a time: commit them in runs. */
        if (node->drain_timer < 0 && node->loop)
            node->drain_timer = evloop_timer(node->loop, 1, 1, s_on_drain_timer, node);
    } else if (rc == 0) {
        commit_drain(node->commit);
        if (ledger_height(node->ledger) < h)
            gossip_note_height(node->gossip, origin, h);   /* a gap: pull it */
    }
    free(origin);
}

static void
s_receive_block(node_t *node, const uint8_t *bytes, size_t len, const uint8_t *origin)
{
    uint64_t h = 0, tip = ledger_height(node->ledger);
    bool parsed = block_view_height(bytes, len, &h);
    if (parsed && origin && h > node->block_gossip_height)
        node->block_gossip_height = h;   /* a copy of h is out: no need to publish ours */
    if (origin)   /* arrival time, apart from validation and the synced commit */
        vl_info("node", "block.gossip", "height=%llu tip=%llu", (unsigned long long) h,
                (unsigned long long) tip);
    if (!parsed || h <= tip || h > tip + COMMIT_WINDOW)
        return;   /* malformed, have it, or too far ahead (pulled later) */
    uint8_t *copy = malloc(len ? len : 1);
    uint8_t *who = origin ? malloc(VL_PUBKEY_SIZE) : NULL;
    if (!copy || (origin && !who)) {
        free(copy);
        free(who);
        return;   /* pulled again later */
    }
    memcpy(copy, bytes, len);
    if (who)
        memcpy(who, origin, VL_PUBKEY_SIZE);
    node_preverify_block(node, copy, len, s_block_checked, who);
}

/* --- Gossip callbacks ------------------------------------------------------------ */

static void
s_g_deliver(void *arg, int type, const uint8_t origin[VL_PUBKEY_SIZE], const uint8_t *payload,
            size_t len)
{
    node_t *node = arg;
    if (type == VL__ENVELOPE_TYPE__ENV_BLOCK) {
        node->blocks_received++;
        s_receive_block(node, payload, len, origin);
    } else if (type == VL__ENVELOPE_TYPE__ENV_TRANSACTION) {
        node_admit(node, payload, len, ADMIT_GOSSIP, NULL, NULL);
    } else if (type == VL__ENVELOPE_TYPE__ENV_PROPOSAL || type == VL__ENVELOPE_TYPE__ENV_VOTE) {
        node_bft_on_message(node->bft, type, payload, len);
    }
}

static uint64_t
s_g_height(void *arg)
{
    node_t *node = arg;
    return ledger_height(node->ledger);
}

static int
s_g_get_block(void *arg, uint64_t height, uint8_t **bytes, size_t *len)
{
    node_t *node = arg;
    return ledger_block_get(node->ledger, height, bytes, len);
}

static int
s_copy_out(const uint8_t *data, size_t len, uint8_t **bytes, size_t *out_len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return VL_ERR_NOMEM;
    memcpy(copy, data, len);
    *bytes = copy;
    *out_len = len;
    return 0;
}

/* A transaction by id for a peer's SyncRequest.txids: pending ones from the
 * mempool, else from its block in the ledger. */
static int
s_g_get_tx(void *arg, const uint8_t txid[32], uint8_t **bytes, size_t *len)
{
    node_t *node = arg;
    mempool_entry_t pending;
    int rc;
    if (mempool_get(node->mempool, txid, &pending)) {
        rc = s_copy_out(pending.bytes, pending.len, bytes, len);
    } else {
        ledger_tx_info_t info;
        uint8_t *block = NULL;
        size_t block_len = 0;
        block_view_t *view = NULL;
        vl_err_t err;
        rc = ledger_tx_get(node->ledger, txid, &info);
        if (rc == 0)
            rc = ledger_block_get(node->ledger, info.height, &block, &block_len);
        if (rc == 0)
            rc = block_view_new(block, block_len, NULL, BLOCK_VIEW_HEADER, &view, &err);
        free(block);
        if (rc == 0 && info.index < view->n_txs)
            rc = s_copy_out(view->block->transactions[info.index].data,
                            view->block->transactions[info.index].len, bytes, len);
        else if (rc == 0)
            rc = VL_ERR_NOT_FOUND;
        block_view_destroy(&view);
    }
    if (rc == 0)
        node->txs_served++;
    return rc;
}

static void
s_g_pulled_tx(void *arg, const uint8_t *bytes, size_t len)
{
    node_admit(arg, bytes, len, ADMIT_PULLED, NULL, NULL);
}

static void
s_g_pulled(void *arg, const uint8_t *bytes, size_t len)
{
    node_t *node = arg;
    node->blocks_pulled++;
    s_receive_block(node, bytes, len, NULL);
}

int
node_gossip_new(node_t *node, vl_err_t *err)
{
    const node_config_t *c = &node->config;
    if (!c->gossip_on)
        return 0;
    /* Each of these payloads is checked by its own signatures before it
     * counts: a transaction's on admission, a proposal's and a vote's by
     * the consensus driver, a block's certificate before the commit. */
    uint32_t checked = (1u << VL__ENVELOPE_TYPE__ENV_TRANSACTION)
                       | (1u << VL__ENVELOPE_TYPE__ENV_PROPOSAL)
                       | (1u << VL__ENVELOPE_TYPE__ENV_VOTE)
                       | (1u << VL__ENVELOPE_TYPE__ENV_BLOCK);
    gossip_handler_t h = { node,       s_g_deliver,   s_g_height, s_g_get_block, s_g_get_tx,
                           s_g_pulled, s_g_pulled_tx, checked };
    node->gossip = gossip_new(&c->gossip, node->key, c->key_path, &h, err);
    if (!node->gossip)
        return VL_ERR_INVALID;
    node_gateway_attach(node);
    for (size_t i = 0; i < node->genesis.members.count; i++) {
        const member_t *m = &node->genesis.members.items[i];
        if (gossip_admit(node->gossip, m->public_key, m->name) != 0)
            return vl_err_set(err, VL_ERR_INVALID, "member %s has no CURVE form", m->did);
    }
    for (size_t i = 0; i < c->n_peers; i++) {
        uint8_t *pk = NULL;
        size_t pk_len = 0;
        int rc = vl_base64_decode(c->peers[i].public_key, &pk, &pk_len);
        if (rc != 0 || pk_len != VL_PUBKEY_SIZE
            || gossip_add_peer(node->gossip, pk, c->peers[i].gossip, c->peers[i].sync) != 0) {
            free(pk);
            return vl_err_set(err, VL_ERR_INVALID, "peers[%zu]: public_key is not a genesis "
                              "member's base64 key", i);
        }
        free(pk);
    }
    return 0;
}

/* --- Status ------------------------------------------------------------------- */

static json_t *
s_peer_json(const gossip_peer_t *p, int64_t now)
{
    json_t *o = json_object();
    json_object_set_new(o, "did", json_string(p->did));
    json_object_set_new(o, "name", json_string(p->name));
    json_object_set_new(o, "state", json_string(gossip_peer_state_name(p->state)));
    json_object_set_new(o, "height", json_integer((json_int_t) p->height));
    json_object_set_new(o, "last_seen_ms",
                        p->last_seen_ms ? json_integer(now - p->last_seen_ms) : json_null());
    json_object_set_new(o, "incarnation", json_integer((json_int_t) p->incarnation));
    json_object_set_new(o, "mesh", json_boolean(p->in_mesh));
    json_object_set_new(o, "gossip", json_string(p->gossip_ep));
    json_object_set_new(o, "sync", json_string(p->sync_ep));
    if (p->refused)   /* its heartbeats carry another genesis hash */
        json_object_set_new(o, "refused", json_string(p->refused_reason));
    return o;
}

static void
s_count(json_t *o, const char *name, uint64_t value)
{
    json_object_set_new(o, name, json_integer((json_int_t) value));
}

void
node_gossip_status(node_t *node, json_t *status)
{
    if (!node->gossip || !status)
        return;
    json_t *peers = json_array();
    gossip_members_t *m = gossip_members(node->gossip);
    int64_t now = node_now_ms(node);
    for (size_t i = 0; i < gossip_members_count(m); i++)
        json_array_append_new(peers, s_peer_json(gossip_members_at(m, i), now));
    json_object_set_new(status, "peers", peers);
    json_t *ep = json_object_get(status, "endpoints");
    if (ep) {
        json_object_set_new(ep, "gossip", json_string(gossip_endpoint(node->gossip)));
        json_object_set_new(ep, "sync", json_string(gossip_sync_endpoint(node->gossip)));
        json_object_set_new(ep, "advertised",
                            json_pack("{s:s, s:s}", "gossip",
                                      gossip_advertised_endpoint(node->gossip), "sync",
                                      gossip_advertised_sync_endpoint(node->gossip)));
    }
    const gossip_stats_t *s = gossip_stats(node->gossip);
    const commit_stats_t *cs = commit_stats(node->commit);
    json_t *g = json_object();
    s_count(g, "received", s->received);
    s_count(g, "delivered", s->delivered);
    s_count(g, "duplicates", s->duplicates);
    s_count(g, "relayed", s->relayed);
    s_count(g, "published", s->published);
    s_count(g, "malformed", s->malformed);
    s_count(g, "bad_signature", s->bad_signature);
    s_count(g, "payload_checked", s->payload_checked);
    s_count(g, "relay_skipped", s->relay_skipped);
    s_count(g, "not_member", s->not_member);
    s_count(g, "hop_limit", s->hop_limit);
    s_count(g, "sync_requests", s->sync_requests);
    s_count(g, "sync_malformed", s->sync_malformed);
    s_count(g, "pull_requests", s->pull_requests);
    s_count(g, "pull_blocks", s->pull_blocks);
    s_count(g, "pull_timeouts", s->pull_timeouts);
    s_count(g, "zap_denied", s->zap_denied);
    s_count(g, "genesis_refused", s->genesis_refused);
    s_count(g, "blocks_received", node->blocks_received);
    s_count(g, "blocks_pulled", node->blocks_pulled);
    s_count(g, "blocks_committed", cs->committed_remote);
    s_count(g, "blocks_rejected", cs->rejected);
    s_count(g, "block_envelopes", s->by_type_delivered[VL__ENVELOPE_TYPE__ENV_BLOCK]);
    s_count(g, "block_copies", s->by_type_received[VL__ENVELOPE_TYPE__ENV_BLOCK]);
    s_count(g, "txs_resent", node->txs_resent);
    s_count(g, "txs_served", node->txs_served);
    s_count(g, "sigs_preverified", node->sigs_preverified);
    s_count(g, "orderer", node->role == ORDERER_SOLE_VALIDATOR);
    s_count(g, "claims_made", s->claims_made);
    s_count(g, "claims_accepted", s->claims_accepted);
    s_count(g, "claims_refused", s->claims_refused);
    s_count(g, "direct_heartbeats", s->direct_heartbeats);
    s_count(g, "blocks_published_late", node->blocks_published_late);
    /* Envelopes by type: copies received (each one CURVE-decrypted) and
     * first copies delivered (each one signature-checked). */
    static const char *const type_names[] = { "unknown", "tx", "proposal", "vote", "block",
                                              "event", "heartbeat", "join", "claim" };
    json_t *rx = json_object(), *dl = json_object();
    for (size_t t = 0; t < sizeof type_names / sizeof type_names[0] && t < GOSSIP_TYPES; t++) {
        s_count(rx, type_names[t], s->by_type_received[t]);
        s_count(dl, type_names[t], s->by_type_delivered[t]);
    }
    json_object_set_new(g, "received_by_type", rx);
    json_object_set_new(g, "delivered_by_type", dl);
    json_object_set_new(status, "gossip", g);
}
