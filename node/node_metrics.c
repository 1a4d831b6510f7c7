/*
 * node_metrics.c — what the node counts for its Prometheus endpoint
 * (metrics.h) and the snapshot it publishes each housekeeping tick. With
 * node.json "metrics" the node starts the endpoint (node_metrics_new); the
 * counting (commit subscriber, endorsement counters) runs either way, so
 * status could show it too.
 *
 * Thread: the loop thread fills and publishes; metrics_publish copies under
 * the endpoint's mutex, and nothing else crosses to MHD's thread.
 */
#include "node_internal.h"

#include <string.h>

void
node_metrics_on_commit(void *arg, const commit_event_t *event)
{
    node_t *node = arg;
    const validated_block_t *vb = event->block;
    node->blocks_committed++;
    node->txs_committed += vb->view->n_txs;
    if (!event->pending_since_ms)
        return;
    int64_t now = node_now_ms(node);
    for (size_t i = 0; i < vb->view->n_txs; i++)
        if (event->pending_since_ms[i] > 0)
            metrics_histogram_observe(&node->commit_latency, now - event->pending_since_ms[i]);
}

int
node_metrics_new(node_t *node, vl_err_t *err)
{
    const node_config_t *c = &node->config;
    if (!c->metrics_on)
        return 0;
    node->metrics = metrics_new(c->metrics_host, c->metrics_port, err);
    if (!node->metrics)
        return VL_ERR_IO;
    node_metrics_publish(node);
    return 0;
}

void
node_metrics_publish(node_t *node)
{
    if (!node->metrics)
        return;
    metrics_snapshot_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.chain_id, sizeof s.chain_id, "%s", node->genesis.chain_id);
    snprintf(s.node, sizeof s.node, "%s", node->config.name);
    const member_t *me = members_find(&node->genesis.members, vl_key_public(node->key),
                                      VL_PUBKEY_SIZE);
    const org_t *org = genesis_org_of(&node->genesis, me);
    snprintf(s.org, sizeof s.org, "%s", org ? org->name : "");
    s.height = ledger_height(node->ledger);
    s.mempool_txs = mempool_count(node->mempool);
    s.mempool_bytes = mempool_bytes(node->mempool);
    s.blocks_committed = node->blocks_committed;
    s.txs_committed = node->txs_committed;
    s.commit_latency = node->commit_latency;
    s.endorsements_served = node->endorsements_signed;
    s.endorsements_refused = node->endorsements_refused;
    node_bft_counters(node->bft, &s.consensus_rounds, &s.consensus_timeouts);
    if (node->gossip) {
        gossip_members_t *m = gossip_members(node->gossip);
        for (size_t i = 0; i < gossip_members_count(m); i++) {
            const gossip_peer_t *p = gossip_members_at(m, i);
            int k = p->refused ? METRICS_PEER_REFUSED
                    : p->state == GOSSIP_PEER_ALIVE ? METRICS_PEER_ALIVE
                    : p->state == GOSSIP_PEER_SUSPECT ? METRICS_PEER_SUSPECT
                    : p->state == GOSSIP_PEER_DEAD ? METRICS_PEER_DEAD
                                                    : METRICS_PEER_UNKNOWN;
            s.peers[k]++;
        }
        const gossip_stats_t *g = gossip_stats(node->gossip);
        s.gossip_received = g->received;
        s.gossip_duplicates = g->duplicates;
        s.gossip_relayed = g->relayed;
        s.gossip_published = g->published;
        s.pull_requests = g->pull_requests;
        s.pull_blocks = g->pull_blocks;
        s.pull_timeouts = g->pull_timeouts;
        s.refused_genesis = g->genesis_refused;
        s.refused_not_member = g->not_member + g->zap_denied;
        s.refused_bad_signature = g->bad_signature;
    }
    metrics_publish(node->metrics, &s);
}
