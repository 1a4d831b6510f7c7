/*
 * node.c — the daemon's lifecycle, its one event loop and the ordering
 * driver. The node is wiring (DESIGN §7): the consensus layer decides
 * (orderer.h: what this node is, when to cut, how a block is built;
 * commit.h: how a block is applied), the node feeds it the mempool, the
 * clock and the sockets, and carries out what it returns.
 *
 * The loop (net/evloop.h, on the thread that calls node_run) owns:
 *   - the API ROUTER (api.c) and the event PUB (events.c);
 *   - the worker pool's completions (net/pool.h): contract executions and
 *     signature checks run on the workers and finish here;
 *   - ordering: a validator runs Tendermint (node_bft.c) with the others,
 *     starting a height when the cut rule (orderer_cut_wait) says a block
 *     is due; decided blocks commit through the commit pipeline like every
 *     block from a peer;
 *   - a housekeeping timer (every HOUSEKEEPING_MS): expires waiters,
 *     re-gossips our pending txs, publishes the metrics snapshot (when the
 *     Prometheus endpoint is on: node_metrics.c, whose MHD thread serves
 *     only that copy) and the heartbeat each second;
 *   - gossip's sockets and timers (gossip/, wired in node_gossip.c);
 *   - the signal fd: SIGTERM/SIGINT end the loop; the node then answers
 *     waiters, removes endpoints.json and closes the ledger.
 *
 * After-commit work subscribes to the pipeline in this order: API waiters,
 * event topics, the reactor, gossip (publishing the blocks we decided), the
 * Tendermint driver (the next height), the metrics counters.
 */
#include "node_internal.h"
#include "node_reactors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "codec.h"
#include "log.h"

#define HOUSEKEEPING_MS 100
#define SIGCACHE_ENTRIES 200000

int64_t
node_now_ms(const node_t *node)
{
    return node->loop ? evloop_now(node->loop) : vl_mono_ms();
}

bool
node_failed(const node_t *node)
{
    return commit_failed(node->commit);
}

/* endpoints.json tells local clients (the CLI with --data) where we listen
 * and where the node's key file is;
 * written atomically once the node is ready to serve. */
static int
s_write_endpoints(node_t *node, vl_err_t *err)
{
    snprintf(node->endpoints_path, sizeof node->endpoints_path, "%s/endpoints.json",
             node->config.data_dir);
    char tmp[PATH_MAX + 40];
    snprintf(tmp, sizeof tmp, "%s.tmp", node->endpoints_path);
    json_t *doc = json_pack("{s:s, s:s, s:I}", "api", api_endpoint(node->api), "events",
                            events_endpoint(node->events), "pid", (json_int_t) getpid());
    if (node->gossip) {
        json_object_set_new(doc, "gossip", json_string(gossip_endpoint(node->gossip)));
        json_object_set_new(doc, "sync", json_string(gossip_sync_endpoint(node->gossip)));
    }
    if (node->metrics)
        json_object_set_new(doc, "metrics", json_string(metrics_url(node->metrics)));
    /* Where the node's own key is, so the CLI of this host's operator signs
     * as the node (enrolment, issuing) with just --data. A path, never the
     * key: reading it still needs the file's own permissions. */
    char key_path[PATH_MAX];
    if (realpath(node->config.key_path, key_path))
        json_object_set_new(doc, "key", json_string(key_path));
    int rc = json_dump_file(doc, tmp, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    if (rc != 0 || rename(tmp, node->endpoints_path) != 0)
        return vl_err_set(err, VL_ERR_IO, "cannot write %s", node->endpoints_path);
    return 0;
}

/* The genesis must list this node's key (under node.json's "org" when it
 * names one): a node of no organisation cannot join, and one started with
 * another network's genesis would be refused by every peer. */
static int
s_check_member(node_t *node, vl_err_t *err)
{
    const node_config_t *c = &node->config;
    const member_t *me = members_find(&node->genesis.members, vl_key_public(node->key),
                                      VL_PUBKEY_SIZE);
    const org_t *org = genesis_org_of(&node->genesis, me);
    if (!me)
        return vl_err_set(err, VL_ERR_INVALID, "this node's key %s (%s) is not a member of "
                          "genesis %s: its card was not among those given to `vledgerd "
                          "genesis`, or 'genesis' names another network's file", c->key_path,
                          node->did, c->genesis_path);
    if (c->org[0] && (!org || strcmp(org->name, c->org) != 0))
        return vl_err_set(err, VL_ERR_INVALID, "genesis %s lists this node's key under "
                          "organisation '%s', but node.json says 'org': '%s'", c->genesis_path,
                          org ? org->name : "(none)", c->org);
    return 0;
}

static int
s_open_ledger(node_t *node, vl_err_t *err)
{
    genesis_block_t gb;
    int rc = genesis_block_build(&node->genesis, &gb, err);
    if (rc != 0)
        return rc;
    if (mkdir(node->config.data_dir, 0700) != 0 && errno != EEXIST) {
        genesis_block_clear(&gb);
        return vl_err_set(err, VL_ERR_IO, "cannot create data directory %s: %s",
                          node->config.data_dir, strerror(errno));
    }
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/ledger", node->config.data_dir);
    memcpy(node->genesis_hash, gb.hash, VL_HASH_SIZE);
    memcpy(node->config.gossip.genesis_hash, gb.hash, VL_HASH_SIZE);   /* heartbeats carry it */
    char hash_hex[65];
    vl_hex_encode(gb.hash, VL_HASH_SIZE, hash_hex);
    if (node->config.peers_genesis_hash[0]
        && strcmp(node->config.peers_genesis_hash, hash_hex) != 0) {
        genesis_block_clear(&gb);
        return vl_err_set(err, VL_ERR_INVALID, "peers file %s was written for genesis %.16s..., "
                          "but %s hashes to %.16s...: copy genesis.json and peers.json from the "
                          "same `vledgerd genesis`", node->config.peers_path,
                          node->config.peers_genesis_hash, node->config.genesis_path, hash_hex);
    }
    rc = ledger_open(dir, node->genesis.chain_id, gb.hash, &node->ledger, err);
    /* After the store's own check (a data directory of another chain says
     * so first), before anything is committed to a fresh one. */
    if (rc == 0)
        rc = s_check_member(node, err);
    if (rc == 0 && !ledger_has_genesis(node->ledger)) {
        rc = ledger_commit_block(node->ledger, &gb.commit, err);
        if (rc == 0) {
            char hex[65];
            vl_hex_encode(gb.hash, 32, hex);
            vl_info("node", "genesis.commit", "chain=%s hash=%s", node->genesis.chain_id, hex);
        }
    }
    genesis_block_clear(&gb);
    return rc;
}

/* The commit pipeline and its subscribers, in order. */
static int
s_commit_new(node_t *node, vl_err_t *err)
{
    commit_config_t cc = { node->ledger,   node->genesis.chain_id, &node->genesis.members,
                           node->sigcache, node->mempool,          &node->genesis.orgs,
                           node->policies };
    node->commit = commit_new(&cc);
    if (!node->commit
        || commit_subscribe(node->commit, api_on_commit, node->api) != 0
        || commit_subscribe(node->commit, events_on_commit, node->events) != 0
        || commit_subscribe(node->commit, reactor_on_commit, node) != 0
        || commit_subscribe(node->commit, node_reactors_on_commit, node->reactors) != 0
        || commit_subscribe(node->commit, node_gossip_on_commit, node) != 0
        || commit_subscribe(node->commit, node_bft_on_commit, node->bft) != 0
        || commit_subscribe(node->commit, node_metrics_on_commit, node) != 0)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    return 0;
}

node_t *
node_new(const node_config_t *config, vl_err_t *err)
{
    node_t *node = calloc(1, sizeof *node);
    if (!node) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    node->config = *config;
    node->cut_timer = -1;
    node->drain_timer = -1;
    node->admit_timer = -1;
    node->held_block_timer = -1;
    if (genesis_load(config->genesis_path, &node->genesis, err) != 0)
        goto fail;
    node->key = vl_key_load_pem(config->key_path, err);
    if (!node->key)
        goto fail;
    vl_did_from_public(vl_key_public(node->key), node->did);
    node->role = orderer_role(&node->genesis.members, vl_key_public(node->key));
    if (s_open_ledger(node, err) != 0)
        goto fail;
    if (config->test_skew_state)
        ledger_test_skew_state(node->ledger);
    node->sigcache = sigcache_new(SIGCACHE_ENTRIES);
    node->policies = requirement_cache_new();
    node->mempool = mempool_new(config->mempool_max_txs, config->mempool_max_bytes);
    pool_worker_t worker = node_work_worker(node);
    node->pool = pool_new(0, &worker);
    if (!node->sigcache || !node->policies || !node->mempool || !node->pool) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory (or threads) for the node");
        goto fail;
    }
    node->api = api_new(node, config->api_endpoint, err);
    if (!node->api)
        goto fail;
    node->events = events_new(config->events_endpoint, node->ledger, node->genesis.chain_id, err);
    if (!node->events)
        goto fail;
    node->bft = node_bft_new(node, config->test_byzantine, err);
    if (node->bft)
        node->reactors = node_reactors_new(node, err);
    if (!node->bft || !node->reactors || s_commit_new(node, err) != 0 || node_gossip_new(node, err) != 0
        || node_metrics_new(node, err) != 0)
        goto fail;
    return node;
fail:
    node_destroy(&node);
    return NULL;
}

void
node_destroy(node_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    node_t *node = *self_p;
    if (node->endpoints_path[0])
        unlink(node->endpoints_path);
    metrics_destroy(&node->metrics);   /* its thread reads only its own snapshot */
    /* The pool first: its last completions still answer through the API. */
    node_admit_flush(node);
    pool_destroy(&node->pool);
    gossip_destroy(&node->gossip);
    commit_destroy(&node->commit);
    node_reactors_destroy(&node->reactors);   /* after the pool and gateway answered */
    node_bft_destroy(&node->bft);
    api_destroy(&node->api);
    events_destroy(&node->events);
    mempool_destroy(&node->mempool);
    sigcache_destroy(&node->sigcache);
    requirement_cache_destroy(&node->policies);
    ledger_close(&node->ledger);
    vl_key_destroy(&node->key);
    free(node);
    *self_p = NULL;
}

/* --- Ordering ------------------------------------------------------------------ */

int
node_on_cut_timer(evloop_t *loop, int timer_id, void *arg)
{
    node_t *node = arg;
    node->cut_timer = -1;
    node_bft_kick(node->bft);
    return node_failed(node) ? -1 : 0;
}

void
node_schedule_cut(node_t *node)
{
    if (node->loop && !node_failed(node))
        node_bft_kick(node->bft);
}

/* --- Loop handlers -------------------------------------------------------- */

static int
s_on_housekeeping(evloop_t *loop, int timer_id, void *arg)
{
    node_t *node = arg;
    api_housekeeping(node->api, node_now_ms(node));
    node_gossip_housekeeping(node);
    node_metrics_publish(node);
    static const int beats = 1000 / HOUSEKEEPING_MS;
    if (++node->heartbeat_tick >= beats) {
        node->heartbeat_tick = 0;
        events_publish_heartbeat(node->events, ledger_height(node->ledger),
                                 mempool_count(node->mempool));
    }
    return node_failed(node) ? -1 : 0;
}

static int
s_on_signal(evloop_t *loop, int fd, void *arg)
{
    struct signalfd_siginfo si;
    ssize_t n = read(fd, &si, sizeof si);
    vl_info("node", "signal", "signo=%d", n == sizeof si ? (int) si.ssi_signo : -1);
    return -1;   /* ends evloop_run */
}

static void
s_detach(node_t *node)
{
    node_admit_flush(node);
    api_detach(node->api);
    pool_detach(node->pool);
    gossip_detach(node->gossip);
}

int
node_run(node_t *node, int signal_fd)
{
    vl_err_t err = { "" };
    node->loop = evloop_new();
    if (!node->loop)
        return VL_ERR_NOMEM;
    int rc = VL_ERR_IO;
    if (api_attach(node->api, node->loop) != 0 || pool_attach(node->pool, node->loop) != 0
        || evloop_timer(node->loop, HOUSEKEEPING_MS, 0, s_on_housekeeping, node) < 0
        || (signal_fd >= 0 && evloop_fd(node->loop, signal_fd, s_on_signal, node) != 0)) {
        vl_error("node", "start_failed",
                 "reason=\"cannot register the API socket, pool, timer or signal fd\"");
        goto done;
    }
    if ((node->gossip && gossip_start(node->gossip, node->loop, &err) != 0)
        || node_bft_attach(node->bft, node->loop) != 0 || s_write_endpoints(node, &err) != 0) {
        vl_error("node", "start_failed", "reason=\"%s\"", err.msg);
        goto done;
    }
    node_reactors_replay(node->reactors);
    char hex[65];
    vl_hex_encode(ledger_state_hash(node->ledger), 32, hex);
    vl_info("node", "ready", "name=%s did=%s chain=%s height=%llu state=%.16s api=%s events=%s "
            "workers=%zu", node->config.name, node->did, node->genesis.chain_id,
            (unsigned long long) ledger_height(node->ledger), hex, api_endpoint(node->api),
            events_endpoint(node->events), pool_threads(node->pool));
    if (evloop_run(node->loop) != 0)
        vl_error("node", "loop_failed", "reason=\"epoll_wait: %s\"", strerror(errno));
    rc = node_failed(node) ? VL_ERR_IO : 0;
    vl_info("node", "stopped", "height=%llu failed=%d",
            (unsigned long long) ledger_height(node->ledger), node_failed(node));
done:
    s_detach(node);
    node_gossip_release(node);
    evloop_destroy(&node->loop);
    return rc;
}
