/*
 * node.c — the daemon's lifecycle and its one event loop.
 *
 * The loop (net/evloop.h, on the thread that calls node_run) owns:
 *   - the API ROUTER: requests are answered in api.c; `submit` admits a tx
 *     to the mempool (node_admit_tx) and may park a waiter;
 *   - the orderer: with one validator (the embedded default) this node cuts
 *     a block when the mempool holds block_max_txs transactions or the
 *     oldest has waited block_timeout_ms (s_cut_block), signs its precommit,
 *     and hands the block to the same validation and commit path that blocks
 *     from other validators will take (s_commit_block);
 *   - a housekeeping timer (every 100 ms): expires waiters, publishes the
 *     heartbeat each second;
 *   - the signal fd: SIGTERM/SIGINT end the loop; the node then replies to
 *     waiters, removes endpoints.json and closes the ledger.
 *
 * Invariant: nothing writes world state except ledger_commit_block, called
 * only from s_commit_block with a validated block.
 */
#include "node_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block.h"
#include "clock.h"
#include "codec.h"
#include "envelope.h"
#include "log.h"
#include "reactor.h"
#include "tx.h"

#define HOUSEKEEPING_MS 100

static int s_commit_block(node_t *node, const uint8_t *bytes, size_t len);
static void s_schedule_cut(node_t *node);
static void s_gossip_block(node_t *node, const uint8_t *bytes, size_t len);
static void s_gossip_tx(node_t *node, const uint8_t txid[32], const uint8_t *bytes, size_t len,
                        bool ours);
static int s_gossip_new(node_t *node, vl_err_t *err);
static void s_pv_destroy(struct node_preverify **pv_p);

static void
s_waiter_destroy(void **item)
{
    waiter_t *w = *item;
    if (w) {
        api_request_clear(&w->req);
        free(w);
    }
    *item = NULL;
}

static void
s_waiters_destroy(void **item)
{
    zlistx_destroy((zlistx_t **) item);
}

static void
s_free_item(void **item)
{
    free(*item);
    *item = NULL;
}

static int
s_bind(zsock_t **sock, int type, const char *endpoint, char *bound, size_t size, vl_err_t *err)
{
    *sock = zsock_new(type);
    if (!*sock)
        return vl_err_set(err, VL_ERR_IO, "cannot create socket");
    /* czmq defaults linger to 0; keep it so a stopping node never blocks on
     * a vanished client, which is the behaviour we want for both sockets. */
    zsock_set_linger(*sock, 0);
    if (type == ZMQ_PUB)
        zsock_set_sndhwm(*sock, 100000);   /* a whole block's burst of topics */
    if (type == ZMQ_ROUTER)
        zsock_set_router_mandatory(*sock, 0);
    zsock_set_maxmsgsize(*sock, 8 << 20);
    /* ":0" asks for any free port; czmq spells that "*". */
    char ep[256];
    snprintf(ep, sizeof ep, "%s", endpoint);
    size_t n = strlen(ep);
    if (n > 2 && strcmp(ep + n - 2, ":0") == 0)
        snprintf(ep + n - 1, sizeof ep - n + 1, "*");
    if (zsock_bind(*sock, "%s", ep) < 0)
        return vl_err_set(err, VL_ERR_IO, "cannot bind %s: %s", endpoint, zmq_strerror(errno));
    char *last = zsock_last_endpoint(*sock);
    snprintf(bound, size, "%s", last ? last : ep);
    zstr_free(&last);
    return 0;
}

/* endpoints.json tells local clients (the CLI with --data) where we listen;
 * written atomically once the node is ready to serve. */
static int
s_write_endpoints(node_t *node, vl_err_t *err)
{
    snprintf(node->endpoints_path, sizeof node->endpoints_path, "%s/endpoints.json",
             node->config.data_dir);
    char tmp[PATH_MAX + 40];
    snprintf(tmp, sizeof tmp, "%s.tmp", node->endpoints_path);
    json_t *doc = json_pack("{s:s, s:s, s:I}", "api", node->api_bound, "events",
                            node->events_bound, "pid", (json_int_t) getpid());
    if (node->gossip) {
        json_object_set_new(doc, "gossip", json_string(gossip_endpoint(node->gossip)));
        json_object_set_new(doc, "sync", json_string(gossip_sync_endpoint(node->gossip)));
    }
    int rc = json_dump_file(doc, tmp, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    if (rc != 0 || rename(tmp, node->endpoints_path) != 0)
        return vl_err_set(err, VL_ERR_IO, "cannot write %s", node->endpoints_path);
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
    rc = ledger_open(dir, node->genesis.chain_id, gb.hash, &node->ledger, err);
    if (rc == 0 && !ledger_has_genesis(node->ledger)) {
        rc = ledger_commit_block(node->ledger, &gb.commit, err);
        if (rc == 0) {
            char hex[65];
            vl_hex_encode(gb.hash, 32, hex);
            vl_info("node", "genesis.commit", "chain=%s hash=%s", node->genesis.chain_id, hex);
        }
    }
    genesis_block_clear(&gb);
    if (rc == 0) {
        /* Block time never goes backwards, across restarts too. */
        uint8_t *bytes = NULL;
        size_t len = 0;
        if (ledger_block_get(node->ledger, ledger_height(node->ledger), &bytes, &len) == 0) {
            Vl__Block *b = vl__block__unpack(NULL, len, bytes);
            Vl__BlockHeader *h = b ? vl__block_header__unpack(NULL, b->header.len, b->header.data)
                                   : NULL;
            if (h)
                node->last_block_ms = h->timestamp_ms;
            if (h) vl__block_header__free_unpacked(h, NULL);
            if (b) vl__block__free_unpacked(b, NULL);
            free(bytes);
        }
    }
    return rc;
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
    if (genesis_load(config->genesis_path, &node->genesis, err) != 0)
        goto fail;
    node->key = vl_key_load_pem(config->key_path, err);
    if (!node->key)
        goto fail;
    vl_did_from_public(vl_key_public(node->key), node->did);
    if (s_open_ledger(node, err) != 0)
        goto fail;
    vm_config_t vmc = vm_config_default();
    vmc.gas_max = node->genesis.gas_max;
    node->vm = vm_new(&vmc);
    node->sigcache = sigcache_new(200000);
    node->mempool = mempool_new(config->mempool_max_txs, config->mempool_max_bytes);
    node->waiters = zhashx_new();
    node->topic_seq = zhashx_new();
    if (!node->vm || !node->sigcache || !node->mempool || !node->waiters || !node->topic_seq) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        goto fail;
    }
    zhashx_set_destructor(node->waiters, s_waiters_destroy);
    zhashx_set_destructor(node->topic_seq, s_free_item);
    vl_random_bytes(&node->stream_id, sizeof node->stream_id);
    node->stream_id &= 0x1fffffffffffffULL;   /* exact in a JSON double */
    if (s_bind(&node->api, ZMQ_ROUTER, config->api_endpoint, node->api_bound,
               sizeof node->api_bound, err) != 0
        || s_bind(&node->events, ZMQ_PUB, config->events_endpoint, node->events_bound,
                  sizeof node->events_bound, err) != 0)
        goto fail;
    if (s_gossip_new(node, err) != 0)
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
    gossip_destroy(&node->gossip);
    if (node->pending) {
        for (size_t i = 0; i < NODE_PENDING_MAX; i++)
            free(node->pending[i].bytes);
        free(node->pending);
    }
    s_pv_destroy(&node->preverify);
    for (size_t i = 0; node->txcache && i < NODE_TXCACHE_MAX; i++)
        free(node->txcache[i].bytes);
    free(node->txcache);
    for (size_t i = 0; node->resend && i < NODE_RESEND_MAX; i++)
        free(node->resend[i].bytes);
    free(node->resend);
    zhashx_destroy(&node->waiters);
    zhashx_destroy(&node->topic_seq);
    zsock_destroy(&node->api);
    zsock_destroy(&node->events);
    mempool_destroy(&node->mempool);
    sigcache_destroy(&node->sigcache);
    vm_destroy(&node->vm);
    ledger_close(&node->ledger);
    vl_key_destroy(&node->key);
    free(node);
    *self_p = NULL;
}

/* --- Waiters ------------------------------------------------------------- */

void
node_add_waiter(node_t *node, const uint8_t txid[32], api_request_t *req, int64_t timeout_ms)
{
    char hex[65];
    vl_hex_encode(txid, 32, hex);
    zlistx_t *list = zhashx_lookup(node->waiters, hex);
    if (!list) {
        list = zlistx_new();
        zlistx_set_destructor(list, s_waiter_destroy);
        zhashx_insert(node->waiters, hex, list);
    }
    waiter_t *w = calloc(1, sizeof *w);
    if (!w) {
        api_reply_error(node, req, RPC_INTERNAL, "out of memory");
        api_request_clear(req);
        return;
    }
    w->req = *req;
    memset(req, 0, sizeof *req);   /* ownership moved into the waiter */
    w->deadline_ms = vl_mono_ms() + timeout_ms;
    zlistx_add_end(list, w);
}

static void
s_notify_waiters(node_t *node, const uint8_t txid[32], uint64_t height, uint32_t index, int code)
{
    char hex[65];
    vl_hex_encode(txid, 32, hex);
    zlistx_t *list = zhashx_lookup(node->waiters, hex);
    if (!list)
        return;
    for (waiter_t *w = zlistx_first(list); w; w = zlistx_next(list)) {
        json_t *r = json_pack("{s:s, s:s, s:I, s:i, s:i, s:s}", "txid", hex, "status",
                              "committed", "height", (json_int_t) height, "index", (int) index,
                              "code", code, "code_name", tx_code_name(code));
        api_reply_result(node, &w->req, r);
    }
    zhashx_delete(node->waiters, hex);
}

static void
s_expire_waiters(node_t *node, bool all)
{
    int64_t now = vl_mono_ms();
    zlist_t *empty = zlist_new();
    for (zlistx_t *list = zhashx_first(node->waiters); list; list = zhashx_next(node->waiters)) {
        waiter_t *w = zlistx_first(list);
        while (w) {
            void *handle = zlistx_cursor(list);
            waiter_t *next = zlistx_next(list);
            if (all || w->deadline_ms <= now) {
                api_reply_error(node, &w->req, all ? RPC_INTERNAL : RPC_TIMEOUT,
                                all ? "node is shutting down; the transaction may still commit "
                                      "after restart if it was ordered"
                                    : "transaction not committed within timeout_ms; it may "
                                      "still commit (check with tx.get)");
                zlistx_delete(list, handle);   /* the cursor already moved on */
            }
            w = next;
        }
        if (zlistx_size(list) == 0)
            zlist_append(empty, (void *) zhashx_cursor(node->waiters));
    }
    for (const char *k = zlist_first(empty); k; k = zlist_next(empty))
        zhashx_delete(node->waiters, k);
    zlist_destroy(&empty);
}

/* --- Admission, ordering and commit ---------------------------------------- */

int
node_admit_tx(node_t *node, const uint8_t *bytes, size_t len, uint8_t txid[32], int *rpc_code,
              vl_err_t *err)
{
    tx_parsed_t *tx = NULL;
    int code;
    int rc = tx_parse(bytes, len, node->genesis.chain_id, &tx, &code, err);
    if (rc != 0) {
        *rpc_code = RPC_INVALID_PARAMS;
        return rc;
    }
    rc = tx_check_signatures(tx, &node->genesis.members, node->sigcache, &code, err);
    if (rc != 0) {
        *rpc_code = RPC_BAD_SIGNATURE;
        tx_destroy(&tx);
        return rc;
    }
    memcpy(txid, tx->txid, 32);
    tx_destroy(&tx);
    char hex[65];
    vl_hex_encode(txid, 32, hex);
    ledger_tx_info_t info;
    if (ledger_tx_get(node->ledger, txid, &info) == 0) {
        *rpc_code = RPC_DUPLICATE;
        return vl_err_set(err, VL_ERR_EXISTS, "transaction %s is already committed in block %llu",
                          hex, (unsigned long long) info.height);
    }
    uint8_t *copy = malloc(len);
    if (!copy) {
        *rpc_code = RPC_INTERNAL;
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    }
    memcpy(copy, bytes, len);
    rc = mempool_add(node->mempool, txid, &copy, len, vl_mono_ms());
    if (rc == VL_ERR_EXISTS) {
        *rpc_code = RPC_DUPLICATE;
        return vl_err_set(err, rc, "transaction %s is already pending", hex);
    }
    if (rc != 0) {
        *rpc_code = RPC_REFUSED;
        return vl_err_set(err, rc, "mempool is full (%zu transactions); retry later",
                          mempool_count(node->mempool));
    }
    s_gossip_tx(node, txid, bytes, len, !node->from_gossip);
    return 0;
}

/* After a block is durable: log it, answer waiters, publish its events and
 * let the reactor look at its time. state: the state hash after it. */
static void
s_after_commit(node_t *node, const validated_block_t *vb, const uint8_t state[VL_HASH_SIZE])
{
    node->last_block_ms = vb->header->timestamp_ms;
    char hex[65];
    vl_hex_encode(state, 32, hex);
    vl_info("node", "block.commit", "height=%llu txs=%zu valid=%zu state=%.16s",
            (unsigned long long) vb->commit.height, vb->n_txs, vb->n_valid, hex);
    for (size_t i = 0; i < vb->n_txs; i++) {
        mempool_remove(node->mempool, vb->effects[i].txid);
        s_notify_waiters(node, vb->effects[i].txid, vb->commit.height, (uint32_t) i,
                         vb->effects[i].code);
    }
    events_publish_block(node, vb, state);
    reactor_after_block(node, vb->header->timestamp_ms);   /* due schedules (reactor.c) */
}

/* A commit failure is an environment failure: the node stops rather than
 * run on a replica it cannot write. */
static void
s_commit_failed(node_t *node, uint64_t height, const vl_err_t *err)
{
    char q[300];
    vl_error("node", "block.commit_failed", "height=%llu reason=%s", (unsigned long long) height,
             vl_log_quote(err->msg, q, sizeof q));
    node->failed = true;
}

static void
s_log_reject(const vl_err_t *err)
{
    char q[300];
    vl_warn("node", "block.reject", "reason=%s", vl_log_quote(err->msg, q, sizeof q));
}

/* Validates and commits a block (ours or a peer's, through gossip or pull), then answers
 * waiters and publishes events. */
static int
s_commit_block(node_t *node, const uint8_t *bytes, size_t len)
{
    validate_ctx_t ctx = { node->ledger, node->genesis.chain_id, &node->genesis.members,
                           node->sigcache };
    validated_block_t *vb = NULL;
    vl_err_t err = { "" };
    int rc = validate_block(&ctx, bytes, len, &vb, &err);
    if (rc != 0) {
        s_log_reject(&err);
        return rc;
    }
    rc = ledger_commit_block(node->ledger, &vb->commit, &err);
    if (rc != 0)
        s_commit_failed(node, vb->commit.height, &err);
    else
        s_after_commit(node, vb, ledger_state_hash(node->ledger));
    validated_block_destroy(&vb);
    return rc;
}

/* The one-validator orderer: build the next block from the mempool, sign
 * its precommit (the whole commit certificate when we are the only
 * validator), and commit it through the common path. */
static int
s_cut_block(node_t *node)
{
    size_t max = node->config.block_max_txs;
    mempool_tx_t *txs = calloc(max, sizeof *txs);
    uint8_t **ptrs = calloc(max, sizeof *ptrs);
    size_t *lens = calloc(max, sizeof *lens);
    uint8_t *header = NULL, *vote = NULL, *block = NULL;
    size_t header_len = 0, vote_len = 0, block_len = 0, n = 0;
    int rc = VL_ERR_NOMEM;
    if (!txs || !ptrs || !lens)
        goto done;
    n = mempool_take(node->mempool, txs, max);
    if (n == 0) {
        rc = 0;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = txs[i].bytes;
        lens[i] = txs[i].len;
    }
    uint8_t data_hash[32];
    block_data_hash(ptrs, lens, n, data_hash);
    int64_t ts = vl_wall_ms();
    if (ts <= node->last_block_ms)
        ts = node->last_block_ms + 1;   /* block time never goes backwards */
    block_header_fields_t f = {
        .chain_id = node->genesis.chain_id,
        .height = ledger_height(node->ledger) + 1,
        .previous_hash = ledger_last_hash(node->ledger),
        .state_hash = ledger_state_hash(node->ledger),
        .data_hash = data_hash,
        .timestamp_ms = ts,
        .proposer = vl_key_public(node->key),
    };
    uint8_t hash[32];
    if (block_header_pack(&f, &header, &header_len) != 0)
        goto done;
    vl_sha256(header, header_len, hash);
    if (block_sign_precommit(node->key, node->genesis.chain_id, f.height, 0, hash, ts, &vote,
                             &vote_len) != 0
        || block_pack(header, header_len, ptrs, lens, n, &vote, &vote_len, 1, 0, &block,
                      &block_len) != 0)
        goto done;
    rc = s_commit_block(node, block, block_len);
    if (rc == 0)
        s_gossip_block(node, block, block_len);
done:
    for (size_t i = 0; i < n; i++)
        mempool_tx_free(&txs[i]);
    free(txs);
    free(ptrs);
    free(lens);
    free(header);
    free(vote);
    free(block);
    return rc;
}

/* --- Loop handlers -------------------------------------------------------- */

static int
s_on_cut_timer(evloop_t *loop, int timer_id, void *arg)
{
    node_t *node = arg;
    node->cut_timer = -1;
    s_cut_block(node);
    s_schedule_cut(node);
    return node->failed ? -1 : 0;
}

/* Cuts now while a full block is waiting; otherwise arms a timer for the
 * oldest pending tx's deadline. */
static void
s_schedule_cut(node_t *node)
{
    if (!node->orderer)
        return;   /* followers receive blocks through gossip */
    while (!node->failed && mempool_count(node->mempool) >= node->config.block_max_txs)
        s_cut_block(node);
    if (node->failed || mempool_count(node->mempool) == 0 || node->cut_timer >= 0)
        return;
    int64_t wait = mempool_oldest_ms(node->mempool) + node->config.block_timeout_ms
                   - vl_mono_ms();
    node->cut_timer = evloop_timer(node->loop, wait > 0 ? wait : 1, 1, s_on_cut_timer, node);
}

static int
s_on_api(evloop_t *loop, zsock_t *sock, void *arg)
{
    node_t *node = arg;
    zmsg_t *msg = zmsg_recv(sock);
    if (msg)
        api_handle(node, &msg);
    zmsg_destroy(&msg);
    s_schedule_cut(node);
    return node->failed ? -1 : 0;
}

static int
s_on_housekeeping(evloop_t *loop, int timer_id, void *arg)
{
    node_t *node = arg;
    s_expire_waiters(node, false);
    node_gossip_housekeeping(node);
    static const int beats = 1000 / HOUSEKEEPING_MS;
    if (++node->heartbeat_tick >= beats) {
        node->heartbeat_tick = 0;
        events_publish_heartbeat(node);
    }
    return 0;
}

static int
s_on_signal(evloop_t *loop, int fd, void *arg)
{
    struct signalfd_siginfo si;
    ssize_t n = read(fd, &si, sizeof si);
    vl_info("node", "signal", "signo=%d", n == sizeof si ? (int) si.ssi_signo : -1);
    return -1;   /* ends evloop_run */
}

int
node_run(node_t *node, int signal_fd)
{
    vl_err_t err = { "" };
    node->loop = evloop_new();
    if (!node->loop)
        return VL_ERR_NOMEM;
    if (evloop_reader(node->loop, node->api, s_on_api, node) != 0
        || evloop_timer(node->loop, HOUSEKEEPING_MS, 0, s_on_housekeeping, node) < 0
        || (signal_fd >= 0 && evloop_fd(node->loop, signal_fd, s_on_signal, node) != 0)) {
        vl_error("node", "start_failed",
                 "reason=\"cannot register the API socket, timer or signal fd\"");
        evloop_destroy(&node->loop);
        return VL_ERR_IO;
    }
    if (node->gossip && gossip_start(node->gossip, node->loop, &err) != 0) {
        vl_error("node", "start_failed", "reason=\"%s\"", err.msg);
        gossip_detach(node->gossip);
        evloop_destroy(&node->loop);
        return VL_ERR_IO;
    }
    if (s_write_endpoints(node, &err) != 0) {
        gossip_detach(node->gossip);
        vl_error("node", "start_failed", "reason=\"%s\"", err.msg);
        evloop_destroy(&node->loop);
        return VL_ERR_IO;
    }
    char hex[65];
    vl_hex_encode(ledger_state_hash(node->ledger), 32, hex);
    vl_info("node", "ready", "name=%s did=%s chain=%s height=%llu state=%.16s api=%s events=%s",
            node->config.name, node->did, node->genesis.chain_id,
            (unsigned long long) ledger_height(node->ledger), hex, node->api_bound,
            node->events_bound);
    if (evloop_run(node->loop) != 0)
        vl_error("node", "loop_failed", "reason=\"epoll_wait: %s\"", strerror(errno));
    s_expire_waiters(node, true);
    gossip_detach(node->gossip);
    evloop_destroy(&node->loop);
    vl_info("node", "stopped", "height=%llu failed=%d",
            (unsigned long long) ledger_height(node->ledger), node->failed);
    return node->failed ? VL_ERR_IO : 0;
}

/* --- Gossip wiring ----------------------------------------------------------
 *
 * With "gossip" in node.json the node joins the mesh (gossip/): the orderer
 * publishes each block it commits (ENV_BLOCK); every other node receives
 * blocks only through gossip or pulls, checks them with validate_block and
 * commits them through s_commit_block, in height order. A block that arrives
 * ahead of its predecessor waits in node->pending (bounded) while the
 * missing range is pulled. A transaction admitted through the API is
 * gossiped (ENV_TRANSACTION) so the orderer's mempool gets it; one that
 * arrives by gossip is admitted the same way, without re-publishing (the
 * gossip layer relays it). */

static void
s_gossip_block(node_t *node, const uint8_t *bytes, size_t len)
{
    if (node->gossip)
        gossip_publish(node->gossip, VL__ENVELOPE_TYPE__ENV_BLOCK, bytes, len);
}

/* Remembers an admitted tx for serving by id (ring: the oldest goes). */
static void
s_txcache_add(node_t *node, const uint8_t txid[32], const uint8_t *bytes, size_t len)
{
    if (!node->txcache)
        return;
    struct node_txcache *c = &node->txcache[node->txcache_next];
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, bytes, len);
    free(c->bytes);
    memcpy(c->txid, txid, 32);
    c->bytes = copy;
    c->len = len;
    node->txcache_next = (node->txcache_next + 1) % NODE_TXCACHE_MAX;
}

/* A tx admitted here: cached for serving by id; one of ours (from the API)
 * is also gossiped to the orderer and, on a follower, kept for re-gossip
 * until it commits. */
static void
s_gossip_tx(node_t *node, const uint8_t txid[32], const uint8_t *bytes, size_t len, bool ours)
{
    if (!node->gossip)
        return;
    s_txcache_add(node, txid, bytes, len);
    if (!ours)
        return;
    gossip_publish(node->gossip, VL__ENVELOPE_TYPE__ENV_TRANSACTION, bytes, len);
    if (node->orderer || !node->resend)
        return;
    struct node_resend *slot = NULL;
    for (size_t i = 0; i < NODE_RESEND_MAX && !slot; i++)
        if (!node->resend[i].bytes)
            slot = &node->resend[i];
    uint8_t *copy = slot ? malloc(len ? len : 1) : NULL;
    if (!copy)
        return;   /* full: this one relies on the first copy (counted nowhere) */
    memcpy(copy, bytes, len);
    memcpy(slot->txid, txid, 32);
    slot->bytes = copy;
    slot->len = len;
    slot->tries = 0;
    slot->next_ms = vl_mono_ms() + NODE_RESEND_FIRST_MS;
}

void
node_gossip_housekeeping(node_t *node)
{
    if (!node->gossip || !node->resend)
        return;
    int64_t now = vl_mono_ms();
    for (size_t i = 0; i < NODE_RESEND_MAX; i++) {
        struct node_resend *r = &node->resend[i];
        if (!r->bytes || now < r->next_ms)
            continue;
        ledger_tx_info_t info;
        if (ledger_tx_get(node->ledger, r->txid, &info) == 0 || r->tries >= NODE_RESEND_TRIES) {
            if (r->tries >= NODE_RESEND_TRIES && ledger_tx_get(node->ledger, r->txid, &info) != 0) {
                char hex[65];
                vl_hex_encode(r->txid, 32, hex);
                vl_warn("node", "tx.resend_gave_up", "txid=%s tries=%d", hex, r->tries);
            }
            free(r->bytes);
            r->bytes = NULL;
            continue;
        }
        gossip_publish(node->gossip, VL__ENVELOPE_TYPE__ENV_TRANSACTION, r->bytes, r->len);
        node->txs_resent++;
        r->tries++;
        r->next_ms = now + ((int64_t) NODE_RESEND_FIRST_MS << r->tries);
    }
}

/* Height of a block's header, or 0 when the bytes do not parse. */
static uint64_t
s_block_height(const uint8_t *bytes, size_t len)
{
    Vl__Block *b = vl__block__unpack(NULL, len, bytes);
    Vl__BlockHeader *h = b ? vl__block_header__unpack(NULL, b->header.len, b->header.data) : NULL;
    uint64_t height = h ? h->height : 0;
    if (h)
        vl__block_header__free_unpacked(h, NULL);
    if (b)
        vl__block__free_unpacked(b, NULL);
    return height;
}

/* --- Pre-verification of pulled blocks ----------------------------------------
 *
 * A catching-up node has seen none of the transactions it pulls, so every
 * signature validate_block checks misses the signature cache: signature
 * checks were ~60% of its CPU and fdatasync most of the rest (perf,
 * bench_gossip catchup). A worker thread therefore checks the transaction
 * signatures of pulled blocks ahead of the commit path (vl_verify, ~53 us
 * each here), overlapping the loop thread's
 * fsyncs on the second core; the loop thread enters the good ones in the
 * signature cache (a hash each) just before it validates the block, and
 * validate_block still decides: a bad signature is simply not cached and is
 * found and reported there as before.
 *
 * The worker touches only its job slots (mutex) and libsodium/protobuf-c;
 * the signature cache stays on the loop thread (it is not thread-safe).
 * Job states: FREE -> QUEUED (loop: s_pv_submit) -> RUNNING -> DONE
 * (worker) -> FREE (loop: s_pv_apply); a QUEUED job the loop no longer
 * wants goes back to FREE and the worker never sees it. */

#define PV_JOBS 512
enum { PV_FREE = 0, PV_QUEUED, PV_RUNNING, PV_DONE };

struct pv_job {
    int state;
    uint64_t height;
    uint8_t *bytes;               /* owned copy of the block */
    size_t len;
    uint8_t *ok;                  /* owned: 1 per signature that verified, traversal order */
    size_t n_ok;
};

struct node_preverify {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work;          /* a job was queued, or stop */
    pthread_cond_t done;          /* a job finished */
    bool stop;
    struct pv_job jobs[PV_JOBS];
};

typedef void (*s_sig_fn)(void *arg, size_t idx, const uint8_t *pub, size_t pub_len,
                         const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len);

/* Calls fn for each transaction signature of a block, in a fixed order (the
 * creator's, then each endorsement's, transaction by transaction). Returns
 * how many. Thread-safe (only protobuf-c unpacking). */
static size_t
s_each_sig(const uint8_t *bytes, size_t len, s_sig_fn fn, void *arg)
{
    size_t idx = 0;
    Vl__Block *b = vl__block__unpack(NULL, len, bytes);
    for (size_t i = 0; b && i < b->n_transactions; i++) {
        Vl__Transaction *tx = vl__transaction__unpack(NULL, b->transactions[i].len,
                                                      b->transactions[i].data);
        Vl__Proposal *p = tx ? vl__proposal__unpack(NULL, tx->proposal.len, tx->proposal.data)
                             : NULL;
        if (p)
            fn(arg, idx++, p->creator.data, p->creator.len, tx->proposal.data, tx->proposal.len,
               tx->proposal_signature.data, tx->proposal_signature.len);
        for (size_t k = 0; p && k < tx->n_endorsements; k++) {
            const Vl__Endorsement *e = tx->endorsements[k];
            fn(arg, idx++, e->endorser.data, e->endorser.len, tx->result.data, tx->result.len,
               e->signature.data, e->signature.len);
        }
        if (p)
            vl__proposal__free_unpacked(p, NULL);
        if (tx)
            vl__transaction__free_unpacked(tx, NULL);
    }
    if (b)
        vl__block__free_unpacked(b, NULL);
    return idx;
}

typedef struct {
    uint8_t *ok;
    size_t cap;
} s_pv_result_t;

static void
s_pv_check(void *arg, size_t idx, const uint8_t *pub, size_t pub_len, const uint8_t *msg,
           size_t msg_len, const uint8_t *sig, size_t sig_len)
{
    s_pv_result_t *r = arg;
    if (idx >= r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        while (cap <= idx)
            cap *= 2;
        uint8_t *ok = realloc(r->ok, cap);
        if (!ok)
            return;
        memset(ok + r->cap, 0, cap - r->cap);
        r->ok = ok;
        r->cap = cap;
    }
    r->ok[idx] = gossip_ed25519_verify(pub, pub_len, msg, msg_len, sig, sig_len);
}

static void *
s_pv_worker(void *arg)
{
    struct node_preverify *pv = arg;
    pthread_mutex_lock(&pv->mu);
    for (;;) {
        struct pv_job *job = NULL;
        for (size_t i = 0; i < PV_JOBS; i++)   /* lowest height first: commit order */
            if (pv->jobs[i].state == PV_QUEUED && (!job || pv->jobs[i].height < job->height))
                job = &pv->jobs[i];
        if (pv->stop)
            break;
        if (!job) {
            pthread_cond_wait(&pv->work, &pv->mu);
            continue;
        }
        job->state = PV_RUNNING;
        const uint8_t *bytes = job->bytes;
        size_t len = job->len;
        pthread_mutex_unlock(&pv->mu);
        s_pv_result_t r = { NULL, 0 };
        size_t n = s_each_sig(bytes, len, s_pv_check, &r);
        pthread_mutex_lock(&pv->mu);
        job->ok = r.ok;
        job->n_ok = r.ok ? n : 0;
        job->state = PV_DONE;
        pthread_cond_broadcast(&pv->done);
    }
    pthread_mutex_unlock(&pv->mu);
    return NULL;
}

static void
s_pv_free_job(struct pv_job *job)
{
    free(job->bytes);
    free(job->ok);
    memset(job, 0, sizeof *job);
}

static struct node_preverify *
s_pv_new(void)
{
    struct node_preverify *pv = calloc(1, sizeof *pv);
    if (!pv)
        return NULL;
    pthread_mutex_init(&pv->mu, NULL);
    pthread_cond_init(&pv->work, NULL);
    pthread_cond_init(&pv->done, NULL);
    if (pthread_create(&pv->thread, NULL, s_pv_worker, pv) != 0) {
        pthread_mutex_destroy(&pv->mu);
        pthread_cond_destroy(&pv->work);
        pthread_cond_destroy(&pv->done);
        free(pv);
        return NULL;
    }
    return pv;
}

static void
s_pv_destroy(struct node_preverify **pv_p)
{
    struct node_preverify *pv = *pv_p;
    if (!pv)
        return;
    pthread_mutex_lock(&pv->mu);
    pv->stop = true;
    pthread_cond_broadcast(&pv->work);
    pthread_mutex_unlock(&pv->mu);
    pthread_join(pv->thread, NULL);
    for (size_t i = 0; i < PV_JOBS; i++)
        s_pv_free_job(&pv->jobs[i]);
    pthread_mutex_destroy(&pv->mu);
    pthread_cond_destroy(&pv->work);
    pthread_cond_destroy(&pv->done);
    free(pv);
    *pv_p = NULL;
}

/* Queues a pulled block for the worker (no-op when all slots are busy or
 * the height is queued already: the commit path then verifies inline). */
static void
s_pv_submit(node_t *node, uint64_t height, const uint8_t *bytes, size_t len)
{
    struct node_preverify *pv = node->preverify;
    if (!pv)
        return;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, bytes, len);
    pthread_mutex_lock(&pv->mu);
    struct pv_job *slot = NULL;
    for (size_t i = 0; i < PV_JOBS; i++) {
        if (pv->jobs[i].state != PV_FREE && pv->jobs[i].height == height) {
            slot = NULL;
            break;
        }
        if (!slot && pv->jobs[i].state == PV_FREE)
            slot = &pv->jobs[i];
    }
    if (slot) {
        slot->state = PV_QUEUED;
        slot->height = height;
        slot->bytes = copy;
        slot->len = len;
        copy = NULL;
        pthread_cond_signal(&pv->work);
    }
    pthread_mutex_unlock(&pv->mu);
    free(copy);
}

typedef struct {
    node_t *node;
    const uint8_t *ok;            /* NULL: verify inline */
    size_t n_ok;
} s_pv_apply_t;

static void
s_pv_cache(void *arg, size_t idx, const uint8_t *pub, size_t pub_len, const uint8_t *msg,
           size_t msg_len, const uint8_t *sig, size_t sig_len)
{
    s_pv_apply_t *a = arg;
    bool good = a->ok ? idx < a->n_ok && a->ok[idx]
                      : gossip_ed25519_verify(pub, pub_len, msg, msg_len, sig, sig_len);
    if (good && pub_len == VL_PUBKEY_SIZE && sig_len == VL_SIG_SIZE) {
        sigcache_add(a->node->sigcache, pub, msg, msg_len, sig);
        a->node->sigs_preverified++;
    }
}

/* Before the commit of pulled block `height`: enters its verified
 * signatures in the cache, from the worker's job (waiting for it if it is
 * running) or, when the worker never got it, verified here. */
static void
s_pv_apply(node_t *node, uint64_t height, const uint8_t *bytes, size_t len)
{
    struct node_preverify *pv = node->preverify;
    struct pv_job job = { 0 };
    if (pv) {
        pthread_mutex_lock(&pv->mu);
        for (size_t i = 0; i < PV_JOBS; i++) {
            struct pv_job *j = &pv->jobs[i];
            if (j->state == PV_FREE || j->height != height)
                continue;
            while (j->state == PV_RUNNING)
                pthread_cond_wait(&pv->done, &pv->mu);   /* at most one block's checks */
            if (j->state == PV_DONE)
                job = *j;                                 /* take ownership */
            else
                free(j->bytes);                           /* queued: drop, verify here */
            memset(j, 0, sizeof *j);
            break;
        }
        pthread_mutex_unlock(&pv->mu);
    }
    s_pv_apply_t a = { node, job.state == PV_DONE ? job.ok : NULL, job.n_ok };
    if (job.state == PV_DONE && job.bytes && (job.len != len || memcmp(job.bytes, bytes, len)))
        a.ok = NULL, a.n_ok = 0;   /* another copy of that height: verify this one here */
    s_each_sig(bytes, len, s_pv_cache, &a);
    s_pv_free_job(&job);
}

/* Commits the run of pulled blocks waiting right after the tip (at most
 * NODE_COMMIT_RUN_MAX) in one synced batch: each validated against what the
 * ones before it leave (validate_run_t), then ledger_commit_blocks, then
 * each block's after-commit work in order. A node catching up used to wait
 * on one fdatasync per block: 45% of a catch-up was idle (perf). Returns
 * false when a block was rejected or the commit failed (the pull path asks
 * for the rejected height again). */
static bool
s_commit_pulled_run(node_t *node)
{
    validate_ctx_t ctx = { node->ledger, node->genesis.chain_id, &node->genesis.members,
                           node->sigcache };
    validate_run_t *run = validate_run_new(node->ledger);
    validated_block_t *vbs[NODE_COMMIT_RUN_MAX];
    uint8_t *raw[NODE_COMMIT_RUN_MAX];
    const ledger_block_t *blocks[NODE_COMMIT_RUN_MAX];
    uint8_t states[NODE_COMMIT_RUN_MAX][VL_HASH_SIZE];
    size_t n = 0;
    bool ok = run != NULL;
    uint64_t tip = ledger_height(node->ledger);
    while (ok && n < NODE_COMMIT_RUN_MAX) {
        uint64_t h = tip + 1 + n;
        struct node_pending *slot = &node->pending[h % NODE_PENDING_MAX];
        if (slot->height != h || !slot->pulled)
            break;
        uint8_t *bytes = slot->bytes;
        size_t len = slot->len;
        slot->bytes = NULL;
        slot->height = 0;
        s_pv_apply(node, h, bytes, len);
        vl_err_t err = { "" };
        if (validate_block_in_run(&ctx, run, bytes, len, &vbs[n], &err) != 0) {
            s_log_reject(&err);
            node->blocks_rejected++;
            free(bytes);
            ok = false;
            break;
        }
        raw[n] = bytes;
        blocks[n] = &vbs[n]->commit;
        /* The state after block i is what block i+1's header must carry;
         * the run checked it, so it can be read from there. */
        if (n > 0)
            memcpy(states[n - 1], vbs[n]->header->state_hash.data, VL_HASH_SIZE);
        n++;
    }
    validate_run_destroy(&run);
    if (n > 0) {
        vl_err_t err = { "" };
        if (ledger_commit_blocks(node->ledger, blocks, n, &err) != 0) {
            s_commit_failed(node, blocks[0]->height, &err);
            ok = false;
        } else {
            memcpy(states[n - 1], ledger_state_hash(node->ledger), VL_HASH_SIZE);
            for (size_t i = 0; i < n; i++) {
                node->blocks_committed_remote++;
                s_after_commit(node, vbs[i], states[i]);
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        validated_block_destroy(&vbs[i]);
        free(raw[i]);
    }
    return ok && n > 0;
}

/* Commits pending blocks that now follow the tip. */
static void
s_drain_pending(node_t *node)
{
    for (;;) {
        uint64_t next = ledger_height(node->ledger) + 1;
        struct node_pending *slot = &node->pending[next % NODE_PENDING_MAX];
        if (slot->height != next || node->failed)
            return;
        if (slot->pulled) {
            if (!s_commit_pulled_run(node))
                return;
            continue;
        }
        uint8_t *bytes = slot->bytes;
        size_t len = slot->len;
        slot->bytes = NULL;
        slot->height = 0;
        if (s_commit_block(node, bytes, len) == 0)
            node->blocks_committed_remote++;
        else
            node->blocks_rejected++;
        free(bytes);
        if (ledger_height(node->ledger) < next)
            return;   /* rejected: the pull path asks again */
    }
}

static int
s_on_drain_timer(evloop_t *loop, int timer_id, void *arg)
{
    node_t *node = arg;
    node->drain_timer = -1;
    s_drain_pending(node);
    gossip_sync_kick(node->gossip);   /* the window moved: ask for more */
    return node->failed ? -1 : 0;
}

/* A block from a peer (gossip or pull). origin: who published it, or
 * NULL for pulled blocks. */
static void
s_receive_block(node_t *node, const uint8_t *bytes, size_t len, const uint8_t *origin)
{
    uint64_t h = s_block_height(bytes, len);
    uint64_t tip = ledger_height(node->ledger);
    if (origin)   /* arrival time, apart from validation and the synced commit */
        vl_info("node", "block.gossip", "height=%llu tip=%llu", (unsigned long long) h,
                (unsigned long long) tip);
    if (h <= tip || h > tip + NODE_PENDING_MAX)
        return;   /* have it already (or malformed), or too far ahead: pulled later */
    struct node_pending *slot = &node->pending[h % NODE_PENDING_MAX];
    if (slot->height != h) {
        uint8_t *copy = malloc(len);
        if (!copy)
            return;
        memcpy(copy, bytes, len);
        free(slot->bytes);
        slot->bytes = copy;
        slot->len = len;
        slot->height = h;
        slot->pulled = origin == NULL;
        if (slot->pulled)
            s_pv_submit(node, h, bytes, len);
    }
    if (!origin && node->loop) {
        /* Pulled blocks come a response at a time: commit them once the
         * whole response is queued for the pre-verification worker, so it
         * runs ahead of the commits instead of behind them. */
        if (node->drain_timer < 0)
            node->drain_timer = evloop_timer(node->loop, 1, 1, s_on_drain_timer, node);
        return;
    }
    s_drain_pending(node);
    if (origin && ledger_height(node->ledger) < h)
        gossip_note_height(node->gossip, origin, h);   /* a gap: pull it */
}

static void
s_g_deliver(void *arg, int type, const uint8_t origin[VL_PUBKEY_SIZE], const uint8_t *payload,
            size_t len)
{
    node_t *node = arg;
    if (type == VL__ENVELOPE_TYPE__ENV_BLOCK) {
        node->blocks_received++;
        s_receive_block(node, payload, len, origin);
    } else if (type == VL__ENVELOPE_TYPE__ENV_TRANSACTION) {
        uint8_t txid[32];
        int rpc_code;
        vl_err_t err = { "" };
        node->from_gossip = true;
        node_admit_tx(node, payload, len, txid, &rpc_code, &err);
        node->from_gossip = false;
        s_schedule_cut(node);
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

/* A transaction by id for a peer's SyncRequest.txids: from the recent
 * cache (pending or just committed), else from its block in the ledger. */
static int
s_g_get_tx(void *arg, const uint8_t txid[32], uint8_t **bytes, size_t *len)
{
    node_t *node = arg;
    for (size_t i = 0; node->txcache && i < NODE_TXCACHE_MAX; i++) {
        struct node_txcache *c = &node->txcache[i];
        if (c->bytes && memcmp(c->txid, txid, 32) == 0) {
            uint8_t *copy = malloc(c->len ? c->len : 1);
            if (!copy)
                return VL_ERR_NOMEM;
            memcpy(copy, c->bytes, c->len);
            *bytes = copy;
            *len = c->len;
            node->txs_served++;
            return 0;
        }
    }
    ledger_tx_info_t info;
    uint8_t *block = NULL;
    size_t block_len = 0;
    int rc = ledger_tx_get(node->ledger, txid, &info);
    if (rc == 0)
        rc = ledger_block_get(node->ledger, info.height, &block, &block_len);
    if (rc != 0)
        return rc;
    Vl__Block *b = vl__block__unpack(NULL, block_len, block);
    free(block);
    if (!b || info.index >= b->n_transactions) {
        if (b)
            vl__block__free_unpacked(b, NULL);
        return VL_ERR_NOT_FOUND;
    }
    ProtobufCBinaryData *t = &b->transactions[info.index];
    uint8_t *copy = malloc(t->len ? t->len : 1);
    if (copy)
        memcpy(copy, t->data, t->len);
    *bytes = copy;
    *len = t->len;
    vl__block__free_unpacked(b, NULL);
    if (!copy)
        return VL_ERR_NOMEM;
    node->txs_served++;
    return 0;
}

/* A transaction a peer sent in a SyncResponse: admitted like a gossiped one. */
static void
s_g_pulled_tx(void *arg, const uint8_t *bytes, size_t len)
{
    s_g_deliver(arg, VL__ENVELOPE_TYPE__ENV_TRANSACTION, NULL, bytes, len);
}

static void
s_g_pulled(void *arg, const uint8_t *bytes, size_t len)
{
    node_t *node = arg;
    node->blocks_pulled++;
    s_receive_block(node, bytes, len, NULL);
}

static int
s_gossip_new(node_t *node, vl_err_t *err)
{
    const member_t *me = members_find(&node->genesis.members, vl_key_public(node->key),
                                      VL_PUBKEY_SIZE);
    node->orderer = me && me->validator && members_validator_count(&node->genesis.members) == 1;
    const node_config_t *c = &node->config;
    if (!c->gossip_endpoint[0])
        return 0;
    if (!me)
        return vl_err_set(err, VL_ERR_INVALID, "this node's key is not a member in %s: a "
                          "non-member cannot join the gossip mesh", c->genesis_path);
    node->pending = calloc(NODE_PENDING_MAX, sizeof *node->pending);
    if (!node->pending)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    gossip_config_t gc;
    gossip_config_defaults(&gc);
    snprintf(gc.gossip_endpoint, sizeof gc.gossip_endpoint, "%s", c->gossip_endpoint);
    snprintf(gc.sync_endpoint, sizeof gc.sync_endpoint, "%s", c->sync_endpoint);
    gc.degree = (size_t) c->gossip_degree;
    gc.full_mesh_max = (size_t) c->gossip_full_mesh_max;
    gc.heartbeat_ms = c->heartbeat_ms;
    gc.suspect_ms = c->suspect_ms;
    gc.dead_ms = c->dead_ms;
    node->preverify = s_pv_new();   /* NULL: pulled blocks are verified inline */
    node->drain_timer = -1;
    node->txcache = calloc(NODE_TXCACHE_MAX, sizeof *node->txcache);
    node->resend = calloc(NODE_RESEND_MAX, sizeof *node->resend);
    if (!node->txcache || !node->resend)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    gossip_handler_t h = { node,       s_g_deliver, s_g_height, s_g_get_block, s_g_get_tx,
                           s_g_pulled, s_g_pulled_tx };
    node->gossip = gossip_new(&gc, node->key, c->key_path, &h, err);
    if (!node->gossip)
        return VL_ERR_INVALID;
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

void
node_status_gossip(node_t *node, json_t *status)
{
    if (!node->gossip || !status)
        return;
    json_t *peers = json_array();
    gossip_members_t *m = gossip_members(node->gossip);
    int64_t now = vl_mono_ms();
    for (size_t i = 0; i < gossip_members_count(m); i++) {
        const gossip_peer_t *p = gossip_members_at(m, i);
        json_t *seen = p->last_seen_ms ? json_integer(now - p->last_seen_ms) : json_null();
        json_array_append_new(peers, json_pack("{s:s, s:s, s:s, s:I, s:o, s:I, s:b, s:s, s:s}",
                                               "did", p->did, "name", p->name, "state",
                                               gossip_peer_state_name(p->state), "height",
                                               (json_int_t) p->height, "last_seen_ms", seen,
                                               "incarnation", (json_int_t) p->incarnation,
                                               "mesh", p->in_mesh, "gossip", p->gossip_ep,
                                               "sync", p->sync_ep));
    }
    json_object_set_new(status, "peers", peers);
    json_t *ep = json_object_get(status, "endpoints");
    if (ep) {
        json_object_set_new(ep, "gossip", json_string(gossip_endpoint(node->gossip)));
        json_object_set_new(ep, "sync", json_string(gossip_sync_endpoint(node->gossip)));
    }
    const gossip_stats_t *s = gossip_stats(node->gossip);
    json_object_set_new(
        status, "gossip",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                  "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                  "received", (json_int_t) s->received, "delivered", (json_int_t) s->delivered,
                  "duplicates", (json_int_t) s->duplicates, "relayed", (json_int_t) s->relayed,
                  "published", (json_int_t) s->published, "malformed", (json_int_t) s->malformed,
                  "bad_signature", (json_int_t) s->bad_signature, "not_member",
                  (json_int_t) s->not_member, "hop_limit", (json_int_t) s->hop_limit,
                  "sync_requests", (json_int_t) s->sync_requests, "sync_malformed",
                  (json_int_t) s->sync_malformed, "pull_requests", (json_int_t) s->pull_requests,
                  "pull_blocks", (json_int_t) s->pull_blocks, "pull_timeouts",
                  (json_int_t) s->pull_timeouts, "zap_denied", (json_int_t) s->zap_denied,
                  "blocks_received", (json_int_t) node->blocks_received, "blocks_pulled",
                  (json_int_t) node->blocks_pulled, "blocks_committed",
                  (json_int_t) node->blocks_committed_remote, "blocks_rejected",
                  (json_int_t) node->blocks_rejected, "block_envelopes",
                  (json_int_t) s->by_type_delivered[VL__ENVELOPE_TYPE__ENV_BLOCK],
                  "block_copies", (json_int_t) s->by_type_received[VL__ENVELOPE_TYPE__ENV_BLOCK],
                  "txs_resent", (json_int_t) node->txs_resent, "txs_served",
                  (json_int_t) node->txs_served, "sigs_preverified",
                  (json_int_t) node->sigs_preverified,
                  "orderer", (json_int_t) node->orderer));
    json_t *g = json_object_get(status, "gossip");
    json_object_set_new(g, "claims_made", json_integer((json_int_t) s->claims_made));
    json_object_set_new(g, "claims_accepted", json_integer((json_int_t) s->claims_accepted));
    json_object_set_new(g, "claims_refused", json_integer((json_int_t) s->claims_refused));
    json_object_set_new(g, "direct_heartbeats", json_integer((json_int_t) s->direct_heartbeats));
}
