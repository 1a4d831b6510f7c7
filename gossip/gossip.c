/*
 * gossip.c — the gossip transport on the node's evloop; see gossip.h for the
 * sockets, frames and the receipt pipeline. Decisions are made by the pure
 * modules (envelope, seen, membership, pull); this file moves bytes and
 * reads the clock.
 */
#include "gossip.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "curve.h"
#include "envelope.h"
#include "log.h"
#include "pull.h"
#include "seen.h"
#include "vledger.pb-c.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "vledger"
#define GOSSIP_DRAIN_MAX 64  /* messages read per reader wakeup */
#define GOSSIP_BUNDLE_MS 20        /* joins wait this long for company; heartbeats at least this */
#define GOSSIP_BUNDLE_MAX_MS 1000  /* and heartbeats at most this (large networks) */
#define GOSSIP_BUNDLE_MAX_BYTES (64u << 10)
#define GOSSIP_ROTATE_MS 2000   /* one mesh link replaced this often */
#define GOSSIP_DEALER_IDLE_MS 10000   /* a DEALER unused this long is closed */
#define GOSSIP_STALL_MS 500   /* a tick this late means we were not running */
#define GOSSIP_SUSPECT_MS_PER_PEER 22   /* monitors' thresholds >= members x these */
#define GOSSIP_DEAD_MS_PER_PEER 36
#define GOSSIP_SNAPSHOT_PEERS 2  /* bootstrap peers asked for membership at start */
#define GOSSIP_MEMBERSHIP_PULL_MS 250       /* then one random peer, this often */
#define GOSSIP_MEMBERSHIP_PULL_MAX_MS 8000  /* backing off to this */
#define LOG_FIRST 5          /* bad-input log lines per kind before thinning */

typedef struct {
    gossip_t *g;                  /* borrowed: back pointer for the reader */
    uint8_t key[VL_PUBKEY_SIZE];
    zsock_t *sock;                /* owned */
    char ep[GOSSIP_ENDPOINT_MAX];
    int64_t last_used_ms;         /* monotonic: last send (s_dealer) or answer */
} dealer_t;

struct gossip_t {
    gossip_config_t config;
    const vl_key_t *key;          /* borrowed */
    uint8_t self[VL_PUBKEY_SIZE];
    char did[VL_DID_BUF];
    uint8_t curve_pub[32], curve_secret[32];
    gossip_handler_t handler;
    gossip_members_t *members;    /* owned */
    gossip_seen_t *seen;          /* owned */
    gossip_pull_t *pull;          /* owned */
    uint8_t curve_of[GOSSIP_PEERS_MAX][32];   /* CURVE key of members_at(i) */
    char sub_ep[GOSSIP_PEERS_MAX][GOSSIP_ENDPOINT_MAX];   /* connected SUB endpoint */
    dealer_t *dealers[GOSSIP_PEERS_MAX];     /* owned, by member index */
    zsock_t *pub, *sub, *sync, *zap;         /* owned */
    evloop_t *loop;               /* borrowed while started */
    int timer;
    int64_t period_ms;            /* effective heartbeat period (gossip_start) */
    uint8_t *bundle;              /* owned: GOSSIP_BUNDLE_MAX_BYTES, see s_pub_send */
    size_t bundle_len;            /* 0 = empty */
    int bundle_timer;             /* one-shot flush timer, -1 when none */
    int64_t bundle_ms;            /* heartbeats' bundling window (gossip_start) */
    int64_t bundle_due_ms;        /* monotonic: when bundle_timer fires */
    uint8_t *last_hb[GOSSIP_PEERS_MAX];   /* owned: latest verified heartbeat or
                                           * join of members_at(i), for snapshots */
    size_t last_hb_len[GOSSIP_PEERS_MAX];
    bool no_relay;                /* delivering a snapshot or a direct
                                   * heartbeat: do not relay it */
    bool direct;                  /* delivering a direct heartbeat */
    int64_t next_heartbeat_ms;    /* monotonic: next flooded heartbeat */
    int64_t next_direct_ms;       /* monotonic: next direct heartbeats */
    int64_t last_tick_ms;         /* monotonic: the failure detector's last tick */
    int64_t next_rotate_ms;       /* monotonic: next mesh rotation */
    int64_t next_member_pull_ms;  /* monotonic: next membership pull */
    int64_t member_pull_ms;       /* its current interval (backs off) */
    size_t known_at_pull;         /* members alive when we last pulled */
    bool gap;                     /* the node saw a gap (gossip_note_height): pull now */
    char pub_bound[GOSSIP_ENDPOINT_MAX];
    char sync_bound[GOSSIP_ENDPOINT_MAX];
    uint64_t rnd;
    uint64_t nonce;
    gossip_stats_t stats;
};

void
gossip_config_defaults(gossip_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->degree = 6;
    c->full_mesh_max = 12;
    c->heartbeat_ms = 500;
    c->suspect_ms = 1500;
    c->dead_ms = 2500;
    c->max_hops = 12;
    c->seen_max = 200000;
    c->seen_ttl_ms = 120000;
    c->pull_batch = 256;
    c->pull_outstanding = 4;
    c->pull_timeout_ms = 3000;
    c->hwm = 20000;
}

static bool
s_log_thin(uint64_t count)
{
    return count <= LOG_FIRST || count % 1000 == 0;
}

static int
s_index_of(gossip_t *g, const gossip_peer_t *p)
{
    return (int) (p - gossip_members_at(g->members, 0));
}

gossip_t *
gossip_new(const gossip_config_t *config, const vl_key_t *key, const char *key_pem,
           const gossip_handler_t *handler, vl_err_t *err)
{
    gossip_t *g = calloc(1, sizeof *g);
    if (!g) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    g->config = *config;
    g->key = key;
    g->handler = *handler;
    g->timer = -1;
    g->bundle_timer = -1;
    g->bundle_ms = GOSSIP_BUNDLE_MS;
    memcpy(g->self, vl_key_public(key), VL_PUBKEY_SIZE);
    vl_did_from_public(g->self, g->did);
    if (gossip_curve_keypair_from_pem(key_pem, g->curve_pub, g->curve_secret, err) != 0)
        goto fail;
    uint8_t self_curve[32];
    if (gossip_curve_public(g->self, self_curve) != 0 || memcmp(self_curve, g->curve_pub, 32)) {
        vl_err_set(err, VL_ERR_INVALID, "key %s does not match its own CURVE form", key_pem);
        goto fail;
    }
    vl_random_bytes(&g->rnd, sizeof g->rnd);
    vl_random_bytes(&g->nonce, sizeof g->nonce);
    /* Incarnation: wall-clock ms at start, so a restart always rejoins with
     * a higher one without storing anything. */
    g->members = gossip_members_new(g->self, (uint64_t) vl_wall_ms(), config->suspect_ms,
                                    config->dead_ms);
    g->seen = gossip_seen_new(config->seen_max, config->seen_ttl_ms);
    g->pull = gossip_pull_new(config->pull_outstanding, config->pull_batch,
                              config->pull_timeout_ms);
    g->bundle = malloc(GOSSIP_BUNDLE_MAX_BYTES);
    if (!g->members || !g->seen || !g->pull || !g->bundle) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        goto fail;
    }
    return g;
fail:
    gossip_destroy(&g);
    return NULL;
}

static void
s_dealer_destroy(gossip_t *g, size_t i)
{
    dealer_t *d = g->dealers[i];
    if (!d)
        return;
    if (g->loop)
        evloop_reader_end(g->loop, d->sock);
    zsock_destroy(&d->sock);
    free(d);
    g->dealers[i] = NULL;
}

void
gossip_detach(gossip_t *g)
{
    if (!g || !g->loop)
        return;
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++)
        if (g->dealers[i])
            evloop_reader_end(g->loop, g->dealers[i]->sock);
    if (g->timer >= 0)
        evloop_timer_end(g->loop, g->timer);
    g->timer = -1;
    if (g->bundle_timer >= 0)
        evloop_timer_end(g->loop, g->bundle_timer);
    g->bundle_timer = -1;
    g->bundle_len = 0;
    if (g->sub)
        evloop_reader_end(g->loop, g->sub);
    if (g->sync)
        evloop_reader_end(g->loop, g->sync);
    if (g->zap)
        evloop_reader_end(g->loop, g->zap);
    g->loop = NULL;
}

void
gossip_destroy(gossip_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gossip_t *g = *self_p;
    gossip_detach(g);
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++)
        s_dealer_destroy(g, i);
    zsock_destroy(&g->sub);
    zsock_destroy(&g->pub);
    zsock_destroy(&g->sync);
    zsock_destroy(&g->zap);
    gossip_members_destroy(&g->members);
    gossip_seen_destroy(&g->seen);
    gossip_pull_destroy(&g->pull);
    free(g->bundle);
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++)
        free(g->last_hb[i]);
    memset(g->curve_secret, 0, sizeof g->curve_secret);
    free(g);
    *self_p = NULL;
}

int
gossip_admit(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE], const char *name)
{
    uint8_t curve[32];
    if (gossip_curve_public(key, curve) != 0)
        return VL_ERR_INVALID;
    int rc = gossip_members_admit(g->members, key, name);
    if (rc != 0)
        return rc;
    gossip_peer_t *p = gossip_members_find(g->members, key, VL_PUBKEY_SIZE);
    if (p)
        memcpy(g->curve_of[s_index_of(g, p)], curve, 32);
    return 0;
}

int
gossip_add_peer(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE], const char *gossip_ep,
                const char *sync_ep)
{
    if (memcmp(key, g->self, VL_PUBKEY_SIZE) == 0)
        return 0;
    if (!gossip_members_find(g->members, key, VL_PUBKEY_SIZE))
        return VL_ERR_INVALID;
    gossip_members_set_endpoints(g->members, key, gossip_ep, sync_ep);
    return 0;
}

/* --- Socket helpers ------------------------------------------------------ */

static void
s_curve_server(gossip_t *g, zsock_t *s)
{
    zsock_set_zap_domain(s, ZAP_DOMAIN);
    zsock_set_curve_server(s, 1);
    zsock_set_curve_secretkey_bin(s, g->curve_secret);
}

static void
s_curve_client(gossip_t *g, zsock_t *s, const uint8_t server[32])
{
    zsock_set_curve_publickey_bin(s, g->curve_pub);
    zsock_set_curve_secretkey_bin(s, g->curve_secret);
    zsock_set_curve_serverkey_bin(s, server);
}

static void
s_common_opts(gossip_t *g, zsock_t *s)
{
    zsock_set_linger(s, 0);
    zsock_set_sndhwm(s, g->config.hwm);
    zsock_set_rcvhwm(s, g->config.hwm);
    zsock_set_maxmsgsize(s, (int64_t) GOSSIP_SYNC_MAX_BYTES * 2 + 65536);
    zsock_set_reconnect_ivl(s, 100);
    zsock_set_reconnect_ivl_max(s, 2000);
    zsock_set_handshake_ivl(s, 5000);
}

static int
s_bind(zsock_t *s, const char *endpoint, char *bound, size_t size, vl_err_t *err)
{
    char ep[GOSSIP_ENDPOINT_MAX];
    snprintf(ep, sizeof ep, "%s", endpoint);
    size_t n = strlen(ep);
    if (n > 2 && strcmp(ep + n - 2, ":0") == 0)
        snprintf(ep + n - 1, sizeof ep - n + 1, "*");
    if (zsock_bind(s, "%s", ep) < 0)
        return vl_err_set(err, VL_ERR_IO, "cannot bind %s: %s", endpoint, zmq_strerror(errno));
    char *last = zsock_last_endpoint(s);
    snprintf(bound, size, "%s", last ? last : ep);
    zstr_free(&last);
    return 0;
}

/* Sends up to three frames without blocking; a full queue counts a drop. */
static void
s_send(gossip_t *g, zsock_t *s, const void *a, size_t alen, const void *b, size_t blen,
       const void *c, size_t clen, uint64_t *dropped)
{
    void *h = zsock_resolve(s);
    bool ok = zmq_send(h, a, alen, ZMQ_DONTWAIT | (b ? ZMQ_SNDMORE : 0)) >= 0
              && (!b || zmq_send(h, b, blen, ZMQ_DONTWAIT | (c ? ZMQ_SNDMORE : 0)) >= 0)
              && (!c || zmq_send(h, c, clen, ZMQ_DONTWAIT) >= 0);
    evloop_sent(g->loop, s);   /* evloop.h, rule 3 */
    if (!ok && dropped)
        (*dropped)++;
}

static int s_on_dealer(evloop_t *loop, zsock_t *sock, void *arg);

/* The DEALER to peer p, created on first use (and re-created when the
 * peer's sync endpoint changed). NULL when the peer has no sync endpoint. */
static dealer_t *
s_dealer(gossip_t *g, gossip_peer_t *p)
{
    int i = s_index_of(g, p);
    dealer_t *d = g->dealers[i];
    if (d && strcmp(d->ep, p->sync_ep) == 0) {
        d->last_used_ms = vl_mono_ms();
        return d;
    }
    s_dealer_destroy(g, (size_t) i);
    if (!p->sync_ep[0] || !g->loop)
        return NULL;
    d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->g = g;
    memcpy(d->key, p->key, VL_PUBKEY_SIZE);
    snprintf(d->ep, sizeof d->ep, "%s", p->sync_ep);
    d->sock = zsock_new(ZMQ_DEALER);
    if (!d->sock) {
        free(d);
        return NULL;
    }
    s_common_opts(g, d->sock);
    zsock_set_sndhwm(d->sock, 1000);
    zsock_set_sndtimeo(d->sock, 0);
    s_curve_client(g, d->sock, g->curve_of[i]);
    if (zsock_connect(d->sock, "%s", d->ep) < 0
        || evloop_reader(g->loop, d->sock, s_on_dealer, d) != 0) {
        zsock_destroy(&d->sock);
        free(d);
        return NULL;
    }
    d->last_used_ms = vl_mono_ms();
    g->dealers[i] = d;
    return d;
}

/* Closes DEALERs unused for GOSSIP_DEALER_IDLE_MS (longer than any pull
 * waits for its answer). Pushes go to random mesh peers and the mesh
 * rotates, so without this a node would in time hold a connection to every
 * member, and every socket is polled on every loop wake-up (zmq_poll asks
 * each for its events): at 128 nodes that was a visible share of the CPU. */
static void
s_reap_dealers(gossip_t *g, int64_t now)
{
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        dealer_t *d = g->dealers[i];
        if (d && now - d->last_used_ms > GOSSIP_DEALER_IDLE_MS)
            s_dealer_destroy(g, i);
    }
}

/* --- Publishing ---------------------------------------------------------- */

/* Heartbeats and joins leave the PUB in bundles: one frame holding up to
 * g->bundle_ms worth of them (ours and relayed; GOSSIP_BUNDLE_MS once a
 * join is in: a new member should be known quickly), `0x00` then, per
 * envelope, a 4-byte big-endian length and the envelope bytes. A protobuf
 * Envelope never starts with 0x00 (field number 0 does not exist), so a
 * receiver tells the two apart by the first byte. Every node relays every
 * member's heartbeat to its subscribers; at 128 nodes on one host the cost
 * of one ZeroMQ message (poll wake-ups, pipe, CURVE box, syscalls) per
 * envelope and subscriber was about half the CPU (perf, bench_gossip), and
 * bundling cuts the message count several-fold for a few ms of heartbeat
 * delay per hop. Blocks, transactions and consensus messages go out at
 * once, alone. */
static void
s_bundle_flush(gossip_t *g)
{
    if (g->bundle_len > 1 && g->pub)
        s_send(g, g->pub, g->bundle, g->bundle_len, NULL, 0, NULL, 0, NULL);
    g->bundle_len = 0;
}

static int
s_on_bundle_timer(evloop_t *loop, int timer_id, void *arg)
{
    gossip_t *g = arg;
    g->bundle_timer = -1;
    s_bundle_flush(g);
    return 0;
}

static void
s_pub_send(gossip_t *g, int type, const uint8_t *bytes, size_t len)
{
    if (!g->pub)
        return;
    bool bundled = type == VL__ENVELOPE_TYPE__ENV_HEARTBEAT || type == VL__ENVELOPE_TYPE__ENV_JOIN;
    if (!bundled || !g->loop || len + 5 > GOSSIP_BUNDLE_MAX_BYTES) {
        s_send(g, g->pub, bytes, len, NULL, 0, NULL, 0, NULL);
        return;
    }
    if (g->bundle_len + 4 + len > GOSSIP_BUNDLE_MAX_BYTES)
        s_bundle_flush(g);
    if (g->bundle_len == 0)
        g->bundle[g->bundle_len++] = 0x00;
    uint8_t *p = g->bundle + g->bundle_len;
    p[0] = (uint8_t) (len >> 24);
    p[1] = (uint8_t) (len >> 16);
    p[2] = (uint8_t) (len >> 8);
    p[3] = (uint8_t) len;
    memcpy(p + 4, bytes, len);
    g->bundle_len += 4 + len;
    int64_t window = type == VL__ENVELOPE_TYPE__ENV_JOIN ? GOSSIP_BUNDLE_MS : g->bundle_ms;
    int64_t due = vl_mono_ms() + window;
    if (g->bundle_timer >= 0 && due < g->bundle_due_ms) {
        evloop_timer_end(g->loop, g->bundle_timer);
        g->bundle_timer = -1;
    }
    if (g->bundle_timer < 0) {
        g->bundle_timer = evloop_timer(g->loop, window, 1, s_on_bundle_timer, g);
        g->bundle_due_ms = due;
    }
}

/* Pushes envelope bytes to one random mesh peer's sync socket. */
static void
s_push_random(gossip_t *g, const uint8_t *bytes, size_t len)
{
    size_t n = gossip_members_count(g->members), cands = 0;
    for (size_t i = 0; i < n; i++) {
        gossip_peer_t *p = gossip_members_at(g->members, i);
        cands += p->in_mesh && p->sync_ep[0] && p->state != GOSSIP_PEER_DEAD;
    }
    if (cands == 0)
        return;
    size_t pick = (size_t) (gossip_rand(&g->rnd) % cands);
    for (size_t i = 0; i < n; i++) {
        gossip_peer_t *p = gossip_members_at(g->members, i);
        if (!(p->in_mesh && p->sync_ep[0] && p->state != GOSSIP_PEER_DEAD) || pick-- != 0)
            continue;
        dealer_t *d = s_dealer(g, p);
        if (d)
            s_send(g, d->sock, "E", 1, bytes, len, NULL, 0, &g->stats.push_dropped);
        return;
    }
}

static int
s_seal(gossip_t *g, int type, const void *payload, size_t len, uint8_t **out, size_t *out_len)
{
    int rc = gossip_envelope_seal(g->key, type, payload, len, vl_wall_ms(), g->nonce++, out,
                                  out_len);
    if (rc != 0)
        return rc;
    uint8_t id[32];
    Vl__Envelope *env = vl__envelope__unpack(NULL, *out_len, *out);
    if (env) {
        vl_sha256(env->body.data, env->body.len, id);
        gossip_seen_add(g->seen, id, vl_mono_ms());   /* our own copy comes back: drop it */
        vl__envelope__free_unpacked(env, NULL);
    }
    return 0;
}

int
gossip_publish(gossip_t *g, int type, const void *payload, size_t len)
{
    uint8_t *bytes = NULL;
    size_t n = 0;
    int rc = s_seal(g, type, payload, len, &bytes, &n);
    if (rc != 0)
        return rc;
    s_pub_send(g, type, bytes, n);
    s_push_random(g, bytes, n);
    g->stats.published++;
    free(bytes);
    return 0;
}

/* Our heartbeat: height, incarnation, endpoints and up to max_peers peer
 * infos (0 for a direct heartbeat: its monitors need only our liveness). */
static int
s_heartbeat_bytes(gossip_t *g, size_t max_peers, uint8_t **out, size_t *out_len)
{
    Vl__Heartbeat hb = VL__HEARTBEAT__INIT;
    hb.height = g->handler.height(g->handler.arg);
    hb.incarnation = gossip_members_incarnation(g->members);
    hb.gossip_endpoint = g->pub_bound;
    hb.sync_endpoint = g->sync_bound;
    Vl__PeerInfo infos[GOSSIP_HEARTBEAT_PEERS], *ptrs[GOSSIP_HEARTBEAT_PEERS];
    size_t n = gossip_members_count(g->members), k = 0;
    size_t start = n ? (size_t) (gossip_rand(&g->rnd) % n) : 0;
    if (max_peers > GOSSIP_HEARTBEAT_PEERS)
        max_peers = GOSSIP_HEARTBEAT_PEERS;
    for (size_t j = 0; j < n && k < max_peers; j++) {
        gossip_peer_t *p = gossip_members_at(g->members, (start + j) % n);
        if (p->state == GOSSIP_PEER_UNKNOWN || !p->gossip_ep[0])
            continue;
        Vl__PeerInfo pi = VL__PEER_INFO__INIT;
        pi.node.data = p->key;
        pi.node.len = VL_PUBKEY_SIZE;
        pi.incarnation = p->incarnation;
        pi.state = (uint32_t) p->state;
        pi.gossip_endpoint = p->gossip_ep;
        pi.sync_endpoint = p->sync_ep;
        infos[k] = pi;
        ptrs[k] = &infos[k];
        k++;
    }
    hb.n_peers = k;
    hb.peers = ptrs;
    size_t len = vl__heartbeat__get_packed_size(&hb);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return VL_ERR_NOMEM;
    vl__heartbeat__pack(&hb, buf);
    *out = buf;
    *out_len = len;
    return 0;
}

/* --- Mesh ---------------------------------------------------------------- */

static void
s_repair_mesh(gossip_t *g)
{
    gossip_members_select_mesh(g->members, g->config.degree, g->config.full_mesh_max, &g->rnd);
    size_t n = gossip_members_count(g->members);
    for (size_t i = 0; i < n; i++) {
        gossip_peer_t *p = gossip_members_at(g->members, i);
        bool want = p->in_mesh && p->gossip_ep[0];
        if (g->sub_ep[i][0] && (!want || strcmp(g->sub_ep[i], p->gossip_ep) != 0)) {
            zsock_disconnect(g->sub, "%s", g->sub_ep[i]);
            g->sub_ep[i][0] = 0;
        }
        if (want && !g->sub_ep[i][0]) {
            /* CURVE_SERVERKEY applies to the next connect: pin this peer. */
            zsock_set_curve_serverkey_bin(g->sub, g->curve_of[i]);
            if (zsock_connect(g->sub, "%s", p->gossip_ep) == 0)
                snprintf(g->sub_ep[i], sizeof g->sub_ep[i], "%s", p->gossip_ep);
        }
        if (!p->in_mesh && p->state == GOSSIP_PEER_DEAD && g->dealers[i])
            s_dealer_destroy(g, i);
    }
    evloop_sent(g->loop, g->sub);   /* connect/disconnect read its commands: evloop.h, rule 3 */
}

/* --- Pulls --------------------------------------------------------------- */

/* Pulls whatever we lack from peers that have it, once gossip_pull_due says
 * so (pull.h, Grace: without it, heights in heartbeats made most blocks be
 * fetched twice at 128 nodes). The failure-detector tick calls this, so a
 * grace that runs out is acted on within a tick. */
void
gossip_sync_kick(gossip_t *g)
{
    if (!g->loop)
        return;
    uint64_t local = g->handler.height(g->handler.arg), best = 0;
    size_t n = gossip_members_count(g->members), k = 0;
    gossip_pull_peer_t cands[GOSSIP_PEERS_MAX];
    for (size_t i = 0; i < n; i++) {
        gossip_peer_t *p = gossip_members_at(g->members, i);
        if ((p->state == GOSSIP_PEER_ALIVE || p->state == GOSSIP_PEER_SUSPECT) && p->sync_ep[0]
            && p->height > local) {
            memcpy(cands[k].key, p->key, VL_PUBKEY_SIZE);
            cands[k].height = p->height;
            best = p->height > best ? p->height : best;
            k++;
        }
    }
    int64_t now = vl_mono_ms();
    if (k == 0)
        g->gap = false;
    if (!gossip_pull_due(g->pull, local, best, g->gap, now))
        return;
    gossip_pull_req_t req;
    while (gossip_pull_next(g->pull, local, cands, k, now, &g->rnd, &req)) {
        gossip_peer_t *p = gossip_members_find(g->members, req.peer, VL_PUBKEY_SIZE);
        dealer_t *d = p ? s_dealer(g, p) : NULL;
        if (!d)
            continue;   /* the request times out and the range is asked again */
        Vl__SyncRequest sr = VL__SYNC_REQUEST__INIT;
        sr.from_height = req.from;
        sr.count = req.count;
        size_t len = vl__sync_request__get_packed_size(&sr);
        uint8_t buf[64];
        vl__sync_request__pack(&sr, buf);
        uint8_t id[8];
        for (int b = 0; b < 8; b++)
            id[b] = (uint8_t) (req.id >> (56 - 8 * b));
        s_send(g, d->sock, "Q", 1, id, 8, buf, len, &g->stats.push_dropped);
        g->stats.pull_requests++;
    }
}

int
gossip_fetch_txs(gossip_t *g, const uint8_t (*txids)[32], size_t n)
{
    if (n == 0 || n > GOSSIP_SYNC_MAX_TXS)
        return VL_ERR_INVALID;
    size_t count = gossip_members_count(g->members), cands = 0;
    for (size_t i = 0; i < count; i++) {
        gossip_peer_t *p = gossip_members_at(g->members, i);
        cands += p->state == GOSSIP_PEER_ALIVE && p->sync_ep[0];
    }
    if (cands == 0 || !g->loop)
        return VL_ERR_NOT_FOUND;
    size_t pick = (size_t) (gossip_rand(&g->rnd) % cands);
    gossip_peer_t *peer = NULL;
    for (size_t i = 0; i < count && !peer; i++) {
        gossip_peer_t *p = gossip_members_at(g->members, i);
        if (p->state == GOSSIP_PEER_ALIVE && p->sync_ep[0] && pick-- == 0)
            peer = p;
    }
    dealer_t *d = s_dealer(g, peer);
    if (!d)
        return VL_ERR_NOT_FOUND;
    ProtobufCBinaryData ids[GOSSIP_SYNC_MAX_TXS];
    for (size_t i = 0; i < n; i++) {
        ids[i].data = (uint8_t *) txids[i];
        ids[i].len = 32;
    }
    Vl__SyncRequest sr = VL__SYNC_REQUEST__INIT;
    sr.n_txids = n;
    sr.txids = ids;
    uint8_t buf[GOSSIP_SYNC_MAX_TXS * 36 + 16];
    size_t len = vl__sync_request__pack(&sr, buf);
    s_send(g, d->sock, "Q", 1, "\0\0\0\0\0\0\0\0", 8, buf, len, &g->stats.push_dropped);
    return 0;
}

void
gossip_note_height(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE], uint64_t height)
{
    gossip_peer_t *p = gossip_members_find(g->members, key, VL_PUBKEY_SIZE);
    if (p && height > p->height)
        p->height = height;
    g->gap = true;
    gossip_sync_kick(g);
}

/* --- Receipt ------------------------------------------------------------- */

static void
s_on_heartbeat(gossip_t *g, const gossip_envelope_t *e, int64_t now)
{
    Vl__Heartbeat *hb = vl__heartbeat__unpack(NULL, e->payload_len, e->payload);
    if (!hb) {
        if (s_log_thin(++g->stats.malformed))
            vl_warn("gossip", "heartbeat.malformed", "count=%llu",
                    (unsigned long long) g->stats.malformed);
        return;
    }
    gossip_heard_t r = gossip_members_heard(g->members, e->origin, hb->incarnation, hb->height,
                                            hb->gossip_endpoint, hb->sync_endpoint, now);
    if (r == GOSSIP_HEARD_STALE)
        g->stats.stale++;
    if (g->direct && r >= GOSSIP_HEARD_ALIVE) {
        gossip_members_heard_direct(g->members, e->origin, now);
        g->stats.direct_heartbeats++;
    }
    if (r == GOSSIP_HEARD_UP) {
        gossip_peer_t *p = gossip_members_find(g->members, e->origin, VL_PUBKEY_SIZE);
        vl_info("gossip", "peer.alive", "did=%s name=%s incarnation=%llu height=%llu", p->did,
                p->name, (unsigned long long) p->incarnation, (unsigned long long) p->height);
        s_repair_mesh(g);
    }
    for (size_t i = 0; i < hb->n_peers && i < GOSSIP_HEARTBEAT_PEERS * 2; i++) {
        Vl__PeerInfo *pi = hb->peers[i];
        if (pi->node.len != VL_PUBKEY_SIZE)
            continue;
        if (gossip_members_report(g->members, pi->node.data, pi->incarnation, (int) pi->state))
            vl_info("gossip", "refute", "incarnation=%llu",
                    (unsigned long long) gossip_members_incarnation(g->members));
        gossip_members_set_endpoints(g->members, pi->node.data, pi->gossip_endpoint,
                                     pi->sync_endpoint);
    }
    vl__heartbeat__free_unpacked(hb, NULL);
    gossip_sync_kick(g);
}

static void s_announce(gossip_t *g, int type, bool to_all_bootstrap);

/* A monitor's claim that a member is dead (membership.h). */
static void
s_on_claim(gossip_t *g, const gossip_envelope_t *e, int64_t now)
{
    Vl__MemberClaim *c = vl__member_claim__unpack(NULL, e->payload_len, e->payload);
    if (!c || c->node.len != VL_PUBKEY_SIZE || c->state != GOSSIP_PEER_DEAD) {
        if (s_log_thin(++g->stats.malformed))
            vl_warn("gossip", "claim.malformed", "count=%llu",
                    (unsigned long long) g->stats.malformed);
        vl__member_claim__free_unpacked(c, NULL);
        return;
    }
    gossip_peer_t *by = gossip_members_find(g->members, e->origin, VL_PUBKEY_SIZE);
    gossip_claim_t r = gossip_members_claim(g->members, e->origin, c->node.data, c->incarnation,
                                            now);
    if (r == GOSSIP_CLAIM_REFUSED && s_log_thin(++g->stats.claims_refused))
        vl_warn("gossip", "claim.refused", "by=%s reason=\"not a ring monitor of the subject\"",
                by ? by->name : "?");
    if (r == GOSSIP_CLAIM_REFUTED) {
        vl_info("gossip", "refute", "incarnation=%llu by=%s",
                (unsigned long long) gossip_members_incarnation(g->members), by ? by->name : "?");
        s_announce(g, VL__ENVELOPE_TYPE__ENV_JOIN, false);
    }
    if (r == GOSSIP_CLAIM_ACCEPTED) {
        g->stats.claims_accepted++;
        gossip_peer_t *p = gossip_members_find(g->members, c->node.data, VL_PUBKEY_SIZE);
        vl_info("gossip", "peer.state", "did=%s name=%s state=dead claimed_by=%s", p->did, p->name,
                by ? by->name : "?");
        s_repair_mesh(g);
    }
    vl__member_claim__free_unpacked(c, NULL);
}

static void
s_on_envelope(gossip_t *g, const uint8_t *bytes, size_t len)
{
    g->stats.received++;
    gossip_envelope_t e;
    vl_err_t err = { "" };
    if (gossip_envelope_parse(bytes, len, &e, &err) != 0) {
        if (s_log_thin(++g->stats.malformed))
            vl_warn("gossip", "envelope.malformed", "count=%llu reason=\"%s\"",
                    (unsigned long long) g->stats.malformed, err.msg);
        return;
    }
    if (e.type >= 0 && e.type < GOSSIP_TYPES)
        g->stats.by_type_received[e.type]++;
    int64_t now = vl_mono_ms();
    if (e.hops > g->config.max_hops) {
        g->stats.hop_limit++;
        goto done;
    }
    if (gossip_seen_contains(g->seen, e.id, now)) {
        g->stats.duplicates++;
        goto done;
    }
    if (!gossip_members_is_admitted(g->members, e.origin, VL_PUBKEY_SIZE)) {
        if (s_log_thin(++g->stats.not_member))
            vl_warn("gossip", "envelope.not_member", "count=%llu",
                    (unsigned long long) g->stats.not_member);
        goto done;
    }
    if (!gossip_envelope_verify(&e)) {
        if (s_log_thin(++g->stats.bad_signature))
            vl_warn("gossip", "envelope.bad_signature", "count=%llu",
                    (unsigned long long) g->stats.bad_signature);
        goto done;
    }
    gossip_seen_add(g->seen, e.id, now);
    g->stats.delivered++;
    if (e.type >= 0 && e.type < GOSSIP_TYPES)
        g->stats.by_type_delivered[e.type]++;
    if (memcmp(e.origin, g->self, VL_PUBKEY_SIZE) == 0)
        goto done;   /* ours, seen-cache expired: neither relay nor deliver */
    if (e.type == VL__ENVELOPE_TYPE__ENV_HEARTBEAT || e.type == VL__ENVELOPE_TYPE__ENV_JOIN) {
        gossip_peer_t *p = gossip_members_find(g->members, e.origin, VL_PUBKEY_SIZE);
        uint8_t *copy = p ? malloc(len) : NULL;
        if (copy) {
            int i = s_index_of(g, p);
            memcpy(copy, bytes, len);
            free(g->last_hb[i]);
            g->last_hb[i] = copy;
            g->last_hb_len[i] = len;
        }
    }
    if (e.hops + 1 <= g->config.max_hops && g->pub && !g->no_relay) {
        uint8_t *out = NULL;
        size_t n = 0;
        if (gossip_envelope_pack_hops(&e, e.hops + 1, &out, &n) == 0) {
            s_pub_send(g, e.type, out, n);
            g->stats.relayed++;
            free(out);
        }
    }
    if (e.type == VL__ENVELOPE_TYPE__ENV_HEARTBEAT || e.type == VL__ENVELOPE_TYPE__ENV_JOIN)
        s_on_heartbeat(g, &e, now);
    else if (e.type == VL__ENVELOPE_TYPE__ENV_CLAIM)
        s_on_claim(g, &e, now);
    else if (g->handler.deliver)
        g->handler.deliver(g->handler.arg, e.type, e.origin, e.payload, e.payload_len);
done:
    gossip_envelope_clear(&e);
}

/* Readers drain up to GOSSIP_DRAIN_MAX messages per wakeup: at 128 nodes a
 * node reads thousands of envelopes a second, and a poll of every socket per
 * message was a fifth of the CPU (perf, bench_gossip). Bounded, so the
 * other sockets and the timers still get their turn. */
/* One PUB frame: an envelope, or a bundle of them (s_pub_send). */
static void
s_on_frame(gossip_t *g, const uint8_t *data, size_t size)
{
    if (size == 0 || data[0] != 0x00) {
        s_on_envelope(g, data, size);
        return;
    }
    size_t off = 1;
    while (off < size) {
        if (size - off < 4) {
            g->stats.malformed++;
            return;
        }
        size_t len = (size_t) data[off] << 24 | (size_t) data[off + 1] << 16
                     | (size_t) data[off + 2] << 8 | data[off + 3];
        off += 4;
        if (len == 0 || len > size - off) {
            if (s_log_thin(++g->stats.malformed))
                vl_warn("gossip", "bundle.malformed", "count=%llu",
                        (unsigned long long) g->stats.malformed);
            return;
        }
        s_on_envelope(g, data + off, len);
        off += len;
    }
}

static int
s_on_sub(evloop_t *loop, zsock_t *sock, void *arg)
{
    gossip_t *g = arg;
    void *h = zsock_resolve(sock);
    for (int k = 0; k < GOSSIP_DRAIN_MAX; k++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, h, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        bool extra = zmq_msg_more(&m);
        if (extra)
            g->stats.malformed++;   /* an envelope or a bundle is one frame */
        else
            s_on_frame(g, zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
        while (extra) {   /* drop the rest of a multi-frame message */
            zmq_msg_init(&m);
            extra = zmq_msg_recv(&m, h, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
    }
    return 0;
}

/* Serves one SyncRequest; the answer goes back on the ROUTER. */
static void
s_serve(gossip_t *g, zframe_t *who, const uint8_t id[8], const uint8_t *bytes, size_t len)
{
    Vl__SyncRequest *req = vl__sync_request__unpack(NULL, len, bytes);
    if (!req) {
        if (s_log_thin(++g->stats.sync_malformed))
            vl_warn("gossip", "sync.malformed", "count=%llu reason=\"not a SyncRequest\"",
                    (unsigned long long) g->stats.sync_malformed);
        return;
    }
    g->stats.sync_requests++;
    Vl__SyncResponse resp = VL__SYNC_RESPONSE__INIT;
    uint64_t height = g->handler.height(g->handler.arg);
    resp.height = height;
    ProtobufCBinaryData blocks[GOSSIP_SYNC_MAX_BLOCKS], txs[GOSSIP_SYNC_MAX_TXS];
    size_t nb = 0, nt = 0, total = 0;
    uint32_t count = req->count > GOSSIP_SYNC_MAX_BLOCKS ? GOSSIP_SYNC_MAX_BLOCKS : req->count;
    for (uint64_t h = req->from_height; count && h <= height && nb < count; h++) {
        if (h == 0)
            continue;   /* genesis is built locally from genesis.json */
        uint8_t *b = NULL;
        size_t bl = 0;
        if (g->handler.get_block(g->handler.arg, h, &b, &bl) != 0)
            break;
        if (nb > 0 && total + bl > GOSSIP_SYNC_MAX_BYTES) {
            free(b);
            break;
        }
        blocks[nb].data = b;
        blocks[nb].len = bl;
        nb++;
        total += bl;
    }
    for (size_t i = 0; i < req->n_txids && nt < GOSSIP_SYNC_MAX_TXS; i++) {
        if (req->txids[i].len != 32 || !g->handler.get_tx)
            continue;
        uint8_t *t = NULL;
        size_t tl = 0;
        if (g->handler.get_tx(g->handler.arg, req->txids[i].data, &t, &tl) != 0)
            continue;
        if (total + tl > GOSSIP_SYNC_MAX_BYTES) {
            free(t);
            break;
        }
        txs[nt].data = t;
        txs[nt].len = tl;
        nt++;
        total += tl;
    }
    resp.n_blocks = nb;
    resp.blocks = blocks;
    resp.n_transactions = nt;
    resp.transactions = txs;
    g->stats.sync_blocks_served += nb;
    g->stats.sync_txs_served += nt;
    size_t n = vl__sync_response__get_packed_size(&resp);
    uint8_t *out = malloc(n ? n : 1);
    if (out) {
        vl__sync_response__pack(&resp, out);
        void *h = zsock_resolve(g->sync);
        if (zmq_send(h, zframe_data(who), zframe_size(who), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
            || zmq_send(h, "A", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
            || zmq_send(h, id, 8, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
            || zmq_send(h, out, n, ZMQ_DONTWAIT) < 0)
            g->stats.push_dropped++;
        evloop_sent(g->loop, g->sync);
        free(out);
    }
    for (size_t i = 0; i < nb; i++)
        free(blocks[i].data);
    for (size_t i = 0; i < nt; i++)
        free(txs[i].data);
    vl__sync_request__free_unpacked(req, NULL);
}

/* Answers a membership snapshot request ('H' + id [+ known]): 'S' + id + a
 * bundle (s_pub_send's format) of the latest verified heartbeat of every
 * member heard alive or suspect, and ours, leaving out the members whose
 * keys the asker listed in `known` (n x 32 bytes: those it already has
 * alive). A node that just started pulls this from its bootstrap peers and
 * sees the whole membership at once instead of over a flooded period (CHP's
 * snapshot for late joiners, research note §1); until its view is complete
 * it keeps pulling from random peers (push-pull state sync, as in Serf),
 * so neither a lost join nor a mesh still forming leaves a member unknown
 * for a period. Each envelope keeps its origin's signature and is checked
 * on receipt. */
static bool
s_listed(const uint8_t *known, size_t known_len, const uint8_t *key)
{
    for (size_t off = 0; off + VL_PUBKEY_SIZE <= known_len; off += VL_PUBKEY_SIZE)
        if (memcmp(known + off, key, VL_PUBKEY_SIZE) == 0)
            return true;
    return false;
}

static void
s_serve_snapshot(gossip_t *g, zframe_t *who, const uint8_t id[8], const uint8_t *known,
                 size_t known_len)
{
    g->stats.sync_requests++;
    size_t n = gossip_members_count(g->members), cap = 1;
    uint8_t *own = NULL;
    size_t own_len = 0;
    if (!s_listed(known, known_len, g->self)) {
        uint8_t *hb = NULL;
        size_t hb_len = 0;
        if (s_heartbeat_bytes(g, GOSSIP_HEARTBEAT_PEERS, &hb, &hb_len) == 0
            && s_seal(g, VL__ENVELOPE_TYPE__ENV_HEARTBEAT, hb, hb_len, &own, &own_len) != 0)
            own = NULL;
        free(hb);
    }
    bool *send = calloc(n ? n : 1, sizeof *send);
    if (!send) {
        free(own);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        gossip_peer_t *p = gossip_members_at(g->members, i);
        send[i] = g->last_hb[i] && (p->state == GOSSIP_PEER_ALIVE || p->state == GOSSIP_PEER_SUSPECT)
                  && !s_listed(known, known_len, p->key);
        if (send[i])
            cap += 4 + g->last_hb_len[i];
    }
    if (own)
        cap += 4 + own_len;
    uint8_t *out = cap <= GOSSIP_SYNC_MAX_BYTES ? malloc(cap) : NULL;
    if (!out) {
        free(send);
        free(own);
        return;
    }
    size_t off = 0;
    out[off++] = 0x00;
    for (size_t i = 0; i <= n; i++) {
        const uint8_t *b = i < n ? g->last_hb[i] : own;
        size_t len = i < n ? g->last_hb_len[i] : own_len;
        if (!b || (i < n && !send[i]))
            continue;
        out[off] = (uint8_t) (len >> 24);
        out[off + 1] = (uint8_t) (len >> 16);
        out[off + 2] = (uint8_t) (len >> 8);
        out[off + 3] = (uint8_t) len;
        memcpy(out + off + 4, b, len);
        off += 4 + len;
    }
    void *h = zsock_resolve(g->sync);
    if (zmq_send(h, zframe_data(who), zframe_size(who), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_send(h, "S", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_send(h, id, 8, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_send(h, out, off, ZMQ_DONTWAIT) < 0)
        g->stats.push_dropped++;
    evloop_sent(g->loop, g->sync);
    free(out);
    free(send);
    free(own);
}

static int
s_on_sync_one(gossip_t *g, zsock_t *sock)
{
    zmsg_t *msg = zmsg_recv_nowait(sock);
    if (!msg)
        return -1;
    zframe_t *who = zmsg_first(msg), *cmd = zmsg_next(msg), *a = zmsg_next(msg),
             *b = zmsg_next(msg);
    size_t frames = zmsg_size(msg);
    if (cmd && zframe_size(cmd) == 1 && zframe_data(cmd)[0] == 'E' && frames == 3)
        s_on_envelope(g, zframe_data(a), zframe_size(a));
    else if (cmd && zframe_size(cmd) == 1 && zframe_data(cmd)[0] == 'D' && frames == 3) {
        g->no_relay = g->direct = true;
        s_on_envelope(g, zframe_data(a), zframe_size(a));
        g->no_relay = g->direct = false;
    }
    else if (cmd && zframe_size(cmd) == 1 && zframe_data(cmd)[0] == 'Q' && frames == 4
             && zframe_size(a) == 8)
        s_serve(g, who, zframe_data(a), zframe_data(b), zframe_size(b));
    else if (cmd && zframe_size(cmd) == 1 && zframe_data(cmd)[0] == 'H'
             && (frames == 3 || (frames == 4 && zframe_size(b) % VL_PUBKEY_SIZE == 0
                                 && zframe_size(b) <= (GOSSIP_PEERS_MAX + 1) * VL_PUBKEY_SIZE))
             && zframe_size(a) == 8)
        s_serve_snapshot(g, who, zframe_data(a), b ? zframe_data(b) : NULL, b ? zframe_size(b) : 0);
    else if (s_log_thin(++g->stats.sync_malformed))
        vl_warn("gossip", "sync.malformed", "count=%llu frames=%zu",
                (unsigned long long) g->stats.sync_malformed, frames);
    zmsg_destroy(&msg);
    return 0;
}

static int
s_on_sync(evloop_t *loop, zsock_t *sock, void *arg)
{
    for (int k = 0; k < GOSSIP_DRAIN_MAX && s_on_sync_one(arg, sock) == 0; k++)
        ;
    return 0;
}

static int
s_on_dealer(evloop_t *loop, zsock_t *sock, void *arg)
{
    dealer_t *d = arg;
    gossip_t *g = d->g;
    zmsg_t *msg = zmsg_recv_nowait(sock);
    if (!msg)
        return 0;
    d->last_used_ms = vl_mono_ms();
    zframe_t *cmd = zmsg_first(msg), *idf = zmsg_next(msg), *body = zmsg_next(msg);
    Vl__SyncResponse *resp = NULL;
    if (zmsg_size(msg) == 3 && zframe_size(cmd) == 1 && zframe_data(cmd)[0] == 'S'
        && zframe_size(body) > 0 && zframe_data(body)[0] == 0x00) {
        g->no_relay = true;   /* everyone else has these already */
        s_on_frame(g, zframe_data(body), zframe_size(body));
        g->no_relay = false;
        zmsg_destroy(&msg);
        return 0;
    }
    if (zmsg_size(msg) != 3 || zframe_size(cmd) != 1 || zframe_data(cmd)[0] != 'A'
        || zframe_size(idf) != 8
        || !(resp = vl__sync_response__unpack(NULL, zframe_size(body), zframe_data(body)))) {
        if (s_log_thin(++g->stats.sync_malformed))
            vl_warn("gossip", "pull.malformed_answer", "count=%llu",
                    (unsigned long long) g->stats.sync_malformed);
        zmsg_destroy(&msg);
        return 0;
    }
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = (id << 8) | zframe_data(idf)[i];
    gossip_peer_t *p = gossip_members_find(g->members, d->key, VL_PUBKEY_SIZE);
    if (p && resp->height > p->height)
        p->height = resp->height;
    g->stats.pull_blocks += resp->n_blocks;
    bool known = gossip_pull_done(g->pull, id, (uint32_t) resp->n_blocks, vl_mono_ms());
    if (known)
        for (size_t i = 0; i < resp->n_blocks; i++)
            g->handler.pulled(g->handler.arg, resp->blocks[i].data, resp->blocks[i].len);
    /* Transactions answer gossip_fetch_txs (id 0: not a block pull). */
    for (size_t i = 0; i < resp->n_transactions && i < GOSSIP_SYNC_MAX_TXS; i++) {
        g->stats.pull_txs++;
        if (g->handler.pulled_tx)
            g->handler.pulled_tx(g->handler.arg, resp->transactions[i].data,
                                 resp->transactions[i].len);
    }
    vl__sync_response__free_unpacked(resp, NULL);
    zmsg_destroy(&msg);
    gossip_sync_kick(g);
    return 0;
}

/* ZAP (RFC 27): admit CURVE clients whose key is a member's; NULL-mechanism
 * sockets of this process (the API, the event topics) are not ours to
 * judge and pass. */
static int
s_on_zap(evloop_t *loop, zsock_t *sock, void *arg)
{
    gossip_t *g = arg;
    zmsg_t *msg = zmsg_recv_nowait(sock);
    if (!msg)
        return 0;
    char *version = zmsg_popstr(msg), *reqid = zmsg_popstr(msg);
    char *domain = zmsg_popstr(msg), *address = zmsg_popstr(msg);
    char *identity = zmsg_popstr(msg), *mechanism = zmsg_popstr(msg);
    zframe_t *cred = zmsg_pop(msg);
    const char *status = "400", *text = "not a member";
    char user[VL_DID_BUF] = "";
    if (mechanism && strcmp(mechanism, "CURVE") == 0 && cred && zframe_size(cred) == 32) {
        if (memcmp(zframe_data(cred), g->curve_pub, 32) == 0) {
            status = "200";
            text = "OK";
            snprintf(user, sizeof user, "%s", g->did);
        }
        size_t n = gossip_members_count(g->members);
        for (size_t i = 0; i < n && status[0] != '2'; i++)
            if (memcmp(zframe_data(cred), g->curve_of[i], 32) == 0) {
                status = "200";
                text = "OK";
                snprintf(user, sizeof user, "%s", gossip_members_at(g->members, i)->did);
            }
        if (status[0] != '2' && s_log_thin(++g->stats.zap_denied))
            vl_warn("gossip", "zap.denied", "address=%s count=%llu", address ? address : "?",
                    (unsigned long long) g->stats.zap_denied);
    } else if (mechanism && strcmp(mechanism, "NULL") == 0) {
        status = "200";
        text = "OK";
    }
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    zmsg_addstr(reply, reqid ? reqid : "");
    zmsg_addstr(reply, status);
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, user);
    zmsg_addmem(reply, NULL, 0);
    if (zmsg_send(&reply, sock) != 0)
        zmsg_destroy(&reply);
    zframe_destroy(&cred);
    zstr_free(&version);
    zstr_free(&reqid);
    zstr_free(&domain);
    zstr_free(&address);
    zstr_free(&identity);
    zstr_free(&mechanism);
    zmsg_destroy(&msg);
    return 0;
}

/* --- Heartbeat timer ----------------------------------------------------- */

static void
s_announce(gossip_t *g, int type, bool to_all_bootstrap)
{
    uint8_t *hb = NULL, *env = NULL;
    size_t hb_len = 0, env_len = 0;
    if (s_heartbeat_bytes(g, GOSSIP_HEARTBEAT_PEERS, &hb, &hb_len) != 0)
        return;
    if (s_seal(g, type, hb, hb_len, &env, &env_len) == 0) {
        s_pub_send(g, type, env, env_len);
        g->stats.published++;
        if (to_all_bootstrap) {
            size_t n = gossip_members_count(g->members);
            for (size_t i = 0; i < n; i++) {
                gossip_peer_t *p = gossip_members_at(g->members, i);
                dealer_t *d = p->sync_ep[0] ? s_dealer(g, p) : NULL;
                if (d)
                    s_send(g, d->sock, "E", 1, env, env_len, NULL, 0, &g->stats.push_dropped);
            }
        } else
            s_push_random(g, env, env_len);
    }
    free(hb);
    free(env);
}

/* Sends a snapshot request ('H') to p listing the members we have alive
 * (and us), so the answer holds only what we lack. */
static void
s_request_snapshot(gossip_t *g, gossip_peer_t *p)
{
    dealer_t *d = p->sync_ep[0] ? s_dealer(g, p) : NULL;
    if (!d)
        return;
    size_t n = gossip_members_count(g->members), k = 0;
    uint8_t known[(GOSSIP_PEERS_MAX + 1) * VL_PUBKEY_SIZE];
    memcpy(known, g->self, VL_PUBKEY_SIZE);
    k++;
    for (size_t i = 0; i < n; i++) {
        gossip_peer_t *q = gossip_members_at(g->members, i);
        if (q->state == GOSSIP_PEER_ALIVE)
            memcpy(known + VL_PUBKEY_SIZE * k++, q->key, VL_PUBKEY_SIZE);
    }
    s_send(g, d->sock, "H", 1, "\0\0\0\0\0\0\0\0", 8, known, k * VL_PUBKEY_SIZE,
           &g->stats.push_dropped);
}

/* Asks up to GOSSIP_SNAPSHOT_PEERS bootstrap peers for their membership
 * snapshot (s_serve_snapshot). */
static void
s_request_snapshots(gossip_t *g)
{
    size_t n = gossip_members_count(g->members), sent = 0;
    for (size_t i = 0; i < n && sent < GOSSIP_SNAPSHOT_PEERS; i++) {
        gossip_peer_t *p = gossip_members_at(g->members, i);
        if (!p->sync_ep[0])
            continue;
        s_request_snapshot(g, p);
        sent++;
    }
}

/* While some member is not alive in our view, pulls a snapshot from one
 * random alive peer: every GOSSIP_MEMBERSHIP_PULL_MS while pulls bring new
 * members, backing off (doubling, to GOSSIP_MEMBERSHIP_PULL_MAX_MS) while
 * they bring nobody (e.g. a member that is down for good). When a whole
 * network starts at once, joins go out while the PUB/SUB mesh is still
 * forming and many are lost; what each node knows then spreads by these
 * pulls, doubling the number of nodes that know a member about every round,
 * so the round is short while it is fruitful. Each member's heartbeat is
 * verified once per node however often we pull: the request lists the
 * members we have. */
static void
s_membership_pull(gossip_t *g, int64_t now)
{
    if (now < g->next_member_pull_ms)
        return;
    size_t n = gossip_members_count(g->members), alive = 0;
    for (size_t i = 0; i < n; i++)
        alive += gossip_members_at(g->members, i)->state == GOSSIP_PEER_ALIVE;
    if (alive > g->known_at_pull || g->member_pull_ms == 0)
        g->member_pull_ms = GOSSIP_MEMBERSHIP_PULL_MS;
    else if (g->member_pull_ms < GOSSIP_MEMBERSHIP_PULL_MAX_MS)
        g->member_pull_ms *= 2;
    g->known_at_pull = alive;
    g->next_member_pull_ms = now + g->member_pull_ms;
    if (alive == n || alive == 0)
        return;
    size_t pick = (size_t) (gossip_rand(&g->rnd) % alive);
    for (size_t i = 0; i < n; i++) {
        gossip_peer_t *p = gossip_members_at(g->members, i);
        if (p->state == GOSSIP_PEER_ALIVE && pick-- == 0) {
            s_request_snapshot(g, p);
            return;
        }
    }
}

/* Sends one signed heartbeat to each of our ring monitors ('D', never
 * relayed): what they judge our liveness by (membership.h). */
static void
s_send_direct(gossip_t *g)
{
    gossip_peer_t *mon[GOSSIP_MONITORS_MAX];
    size_t n = gossip_members_monitors(g->members, mon, GOSSIP_MONITORS_MAX);
    if (n == 0)
        return;
    uint8_t *hb = NULL, *env = NULL;
    size_t hb_len = 0, env_len = 0;
    if (s_heartbeat_bytes(g, 0, &hb, &hb_len) != 0)
        return;
    if (s_seal(g, VL__ENVELOPE_TYPE__ENV_HEARTBEAT, hb, hb_len, &env, &env_len) == 0) {
        for (size_t i = 0; i < n; i++) {
            dealer_t *d = mon[i]->sync_ep[0] ? s_dealer(g, mon[i]) : NULL;
            if (d)
                s_send(g, d->sock, "D", 1, env, env_len, NULL, 0, &g->stats.push_dropped);
        }
    }
    free(hb);
    free(env);
}

/* As a monitor, floods a signed claim that p (heard directly, now silent
 * past dead_ms) is dead. */
static void
s_claim_dead(gossip_t *g, const gossip_peer_t *p)
{
    Vl__MemberClaim c = VL__MEMBER_CLAIM__INIT;
    c.node.data = (uint8_t *) p->key;
    c.node.len = VL_PUBKEY_SIZE;
    c.incarnation = p->incarnation;
    c.state = GOSSIP_PEER_DEAD;
    uint8_t buf[VL_PUBKEY_SIZE + 32];
    size_t len = vl__member_claim__pack(&c, buf);
    if (gossip_publish(g, VL__ENVELOPE_TYPE__ENV_CLAIM, buf, len) == 0) {
        g->stats.claims_made++;
        vl_info("gossip", "claim", "did=%s name=%s state=dead incarnation=%llu", p->did, p->name,
                (unsigned long long) p->incarnation);
    }
}

/* The failure detector ticks every GOSSIP_TICK_MS (so a peer is declared
 * suspect or dead within a tick of its deadline, not a heartbeat period
 * later), and so do pull timeouts and pulls; direct heartbeats go to our
 * monitors every configured heartbeat_ms, the mesh rotates (and idle
 * DEALERs close) every GOSSIP_ROTATE_MS, the flooded heartbeat goes out
 * every g->period_ms. */
static int
s_on_timer(evloop_t *loop, int timer_id, void *arg)
{
    gossip_t *g = arg;
    int64_t now = vl_mono_ms();
    /* Judge silence only after reading what has arrived: after a stall
     * timers may run before every reader has drained (a reader takes at most
     * GOSSIP_DRAIN_MAX per turn), and heartbeats queued on our own sockets
     * are not silence. A stall itself (the tick came far too late) is not
     * counted against anyone. */
    s_on_sync(loop, g->sync, g);
    s_on_sub(loop, g->sub, g);
    evloop_sent(loop, g->sync);   /* read outside their handlers: evloop.h, rule 3 */
    evloop_sent(loop, g->sub);
    int64_t late = g->last_tick_ms ? now - g->last_tick_ms - GOSSIP_TICK_MS : 0;
    g->last_tick_ms = now;
    if (late > GOSSIP_STALL_MS) {
        gossip_members_pause(g->members, late);
        vl_warn("gossip", "stalled", "late_ms=%lld", (long long) late);
    }
    size_t n = gossip_members_count(g->members);
    gossip_peer_state_t before[GOSSIP_PEERS_MAX];
    for (size_t i = 0; i < n; i++)
        before[i] = gossip_members_at(g->members, i)->state;
    size_t changed = gossip_members_tick(g->members, now);
    if (changed > 0) {
        for (size_t i = 0; i < n; i++) {
            gossip_peer_t *p = gossip_members_at(g->members, i);
            if (p->state == before[i])
                continue;
            vl_info("gossip", "peer.state", "did=%s name=%s state=%s silent_ms=%lld", p->did,
                    p->name, gossip_peer_state_name(p->state),
                    (long long) (now - p->last_seen_ms));
            if (p->state == GOSSIP_PEER_DEAD && p->monitored && p->last_direct_ms > 0)
                s_claim_dead(g, p);
        }
        s_repair_mesh(g);
    }
    if (now >= g->next_direct_ms) {
        g->next_direct_ms = now + g->config.heartbeat_ms;
        s_send_direct(g);
    }
    s_membership_pull(g, now);
    if (gossip_pull_expire(g->pull, now) > 0)
        g->stats.pull_timeouts++;
    gossip_sync_kick(g);
    if (now >= g->next_rotate_ms) {
        g->next_rotate_ms = now + GOSSIP_ROTATE_MS;
        gossip_members_rotate_mesh(g->members, g->config.degree, g->config.full_mesh_max,
                                   &g->rnd);
        s_repair_mesh(g);
        s_reap_dealers(g, now);
    }
    if (now >= g->next_heartbeat_ms) {
        g->next_heartbeat_ms = now + g->period_ms;
        s_announce(g, VL__ENVELOPE_TYPE__ENV_HEARTBEAT, false);
    }
    return 0;
}

int
gossip_start(gossip_t *g, evloop_t *loop, vl_err_t *err)
{
    g->zap = zsock_new(ZMQ_REP);
    if (!g->zap || zsock_bind(g->zap, ZAP_ENDPOINT) < 0)
        return vl_err_set(err, VL_ERR_IO, "cannot bind the ZAP handler (another in this process?)");
    g->pub = zsock_new(ZMQ_PUB);
    g->sub = zsock_new(ZMQ_SUB);
    g->sync = zsock_new(ZMQ_ROUTER);
    if (!g->pub || !g->sub || !g->sync)
        return vl_err_set(err, VL_ERR_IO, "cannot create gossip sockets");
    s_common_opts(g, g->pub);
    s_common_opts(g, g->sub);
    s_common_opts(g, g->sync);
    s_curve_server(g, g->pub);
    s_curve_server(g, g->sync);
    zsock_set_router_mandatory(g->sync, 0);
    zsock_set_curve_publickey_bin(g->sub, g->curve_pub);
    zsock_set_curve_secretkey_bin(g->sub, g->curve_secret);
    zsock_set_subscribe(g->sub, "");
    if (s_bind(g->pub, g->config.gossip_endpoint, g->pub_bound, sizeof g->pub_bound, err) != 0
        || s_bind(g->sync, g->config.sync_endpoint, g->sync_bound, sizeof g->sync_bound, err)
               != 0)
        return VL_ERR_IO;
    g->loop = loop;
    if (evloop_reader(loop, g->zap, s_on_zap, g) != 0
        || evloop_reader(loop, g->sub, s_on_sub, g) != 0
        || evloop_reader(loop, g->sync, s_on_sync, g) != 0)
        return vl_err_set(err, VL_ERR_IO, "cannot register the gossip sockets with the loop");
    /* Liveness (membership.h): our monitors hear us directly every
     * heartbeat_ms and judge us by suspect_ms/dead_ms; everyone else hears
     * our flooded heartbeat, whose period grows with the membership (every
     * node checks every member's flooded heartbeat: N^2 signature checks
     * per period for the network, all on one host in the benchmarks), and
     * judges by far thresholds of 3 and 5 such periods, or by a monitor's
     * claim. With the defaults: 500 ms up to 3 members, 5.1 s at 32,
     * 10.2 s at 64, 20.5 s at 128. The flood is the fallback: claims bring
     * deaths, direct heartbeats bring heights (a predecessor's, each 500 ms),
     * snapshot pulls bring members; at 40 ms per member (5.1 s at 128) the
     * flood alone kept 128 nodes on 2 cores busy. */
    size_t members = gossip_members_count(g->members) + 1;
    g->period_ms = g->config.heartbeat_ms;
    if ((int64_t) members * GOSSIP_FLOOD_MS_PER_PEER > g->period_ms)
        g->period_ms = (int64_t) members * GOSSIP_FLOOD_MS_PER_PEER;
    int64_t suspect = g->config.suspect_ms, dead = g->config.dead_ms;
    /* Monitors' thresholds grow with N too, but slowly (memberlist scales
     * its suspicion timeout with log N for the same reason): the more
     * members, the more chances that one is briefly starved (GC, swap, a
     * saturated host such as 128 nodes on 2 cores) and claimed dead, and
     * every false claim costs two floods. The configured values hold up to
     * ~70 members; 2.8 s / 4.6 s at 128. */
    if (suspect < (int64_t) members * GOSSIP_SUSPECT_MS_PER_PEER)
        suspect = (int64_t) members * GOSSIP_SUSPECT_MS_PER_PEER;
    if (dead < (int64_t) members * GOSSIP_DEAD_MS_PER_PEER)
        dead = (int64_t) members * GOSSIP_DEAD_MS_PER_PEER;
    if (dead <= suspect)
        dead = suspect + g->config.heartbeat_ms;
    int64_t far_suspect = suspect, far_dead = dead;
    if (far_suspect < 3 * g->period_ms)
        far_suspect = 3 * g->period_ms;
    if (far_dead < 5 * g->period_ms)
        far_dead = 5 * g->period_ms;
    gossip_members_set_timeouts(g->members, suspect, dead);
    gossip_members_set_far_timeouts(g->members, far_suspect, far_dead);
    size_t monitored = gossip_members_set_monitors(g->members, GOSSIP_MONITORS);
    /* Flooded heartbeats wait for company a 20th of their period (20 ms up
     * to 2 members, 256 ms at 32, 1 s from 125): what a node sends per
     * second then stays about constant as N grows, for a delay per hop that
     * is small against the period and the far thresholds (3 periods). At
     * 128 nodes a 200 ms window still left one message per relayed
     * heartbeat and subscriber (the flood carries ~6 heartbeats a second).
     * Claims, blocks and the rest are never held back. */
    g->bundle_ms = g->period_ms / 20;
    if (g->bundle_ms < GOSSIP_BUNDLE_MS)
        g->bundle_ms = GOSSIP_BUNDLE_MS;
    if (g->bundle_ms > GOSSIP_BUNDLE_MAX_MS)
        g->bundle_ms = GOSSIP_BUNDLE_MAX_MS;
    int tick = g->config.heartbeat_ms < GOSSIP_TICK_MS ? g->config.heartbeat_ms : GOSSIP_TICK_MS;
    /* The first heartbeat comes early (with jitter), so peers that missed
     * our join while the mesh was forming hear us within ~half a
     * configured interval rather than a full, possibly scaled, period. */
    g->next_heartbeat_ms = vl_mono_ms() + g->config.heartbeat_ms / 2
                           + (int64_t) (gossip_rand(&g->rnd) % (uint64_t) (g->config.heartbeat_ms / 2 + 1));
    g->next_direct_ms = vl_mono_ms();
    g->next_member_pull_ms = vl_mono_ms() + GOSSIP_MEMBERSHIP_PULL_MS;
    g->timer = evloop_timer(loop, tick, 0, s_on_timer, g);
    s_repair_mesh(g);
    s_announce(g, VL__ENVELOPE_TYPE__ENV_JOIN, true);
    s_request_snapshots(g);
    vl_info("gossip", "start",
            "did=%s gossip=%s sync=%s members=%zu incarnation=%llu heartbeat_ms=%d "
            "flood_ms=%lld suspect_ms=%lld dead_ms=%lld far_suspect_ms=%lld far_dead_ms=%lld "
            "monitoring=%zu",
            g->did, g->pub_bound, g->sync_bound, gossip_members_count(g->members),
            (unsigned long long) gossip_members_incarnation(g->members), g->config.heartbeat_ms,
            (long long) g->period_ms, (long long) suspect, (long long) dead,
            (long long) far_suspect, (long long) far_dead, monitored);
    return 0;
}

const char *
gossip_endpoint(const gossip_t *g)
{
    return g->pub_bound;
}

const char *
gossip_sync_endpoint(const gossip_t *g)
{
    return g->sync_bound;
}

gossip_members_t *
gossip_members(gossip_t *g)
{
    return g->members;
}

const gossip_stats_t *
gossip_stats(const gossip_t *g)
{
    return &g->stats;
}
