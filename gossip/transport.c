/*
 * transport.c — how gossip bytes move (gossip.h has the socket table and
 * the receipt pipeline): socket options and CURVE roles, the send path
 * every protocol uses (gossip_send) with the test-only fault hooks on it and
 * on receipt, the DEALERs to peers, publishing (bundles of heartbeats, the
 * push that puts our envelopes into the mesh), the SUB connections of the
 * mesh, and the receipt of envelopes (dedup, checks, relay, delivery).
 *
 * Owns, in gossip_t: the sockets' options, the SUB connections (sub_ep),
 * the DEALERs, the bundle and its timer, last_hb (kept for snapshots), the
 * fault state and its delay queue. Decisions are made by the pure modules
 * (envelope, seen, membership, frame, faults); this file moves bytes and
 * reads the clock.
 *
 * Thread: the gossip's loop thread.
 */
#include "gossip_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "vledger.pb-c.h"

bool
gossip_log_thin(uint64_t count)
{
    return count <= GOSSIP_LOG_FIRST || count % 1000 == 0;
}

int
gossip_index_of(gossip_t *g, const gossip_peer_t *p)
{
    return (int) (p - gossip_members_at(g->members, 0));
}

/* --- Socket options ------------------------------------------------------ */

void
gossip_curve_server(gossip_t *g, zsock_t *s)
{
    zsock_set_zap_domain(s, g->zap_domain);
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

void
gossip_common_opts(gossip_t *g, zsock_t *s)
{
    zsock_set_linger(s, 0);
    zsock_set_sndhwm(s, g->config.hwm);
    zsock_set_rcvhwm(s, g->config.hwm);
    zsock_set_maxmsgsize(s, (int64_t) GOSSIP_SYNC_MAX_BYTES * 2 + 65536);
    zsock_set_reconnect_ivl(s, 100);
    zsock_set_reconnect_ivl_max(s, 2000);
    zsock_set_handshake_ivl(s, 5000);
}

/* --- Sending, and the fault hooks ----------------------------------------- */

/* Sends [who,] frames without blocking. */
static bool
s_send_raw(gossip_t *g, zsock_t *s, const uint8_t *who, size_t who_len, const gossip_frames_t *f)
{
    void *h = zsock_resolve(s);
    bool ok = !who || zmq_send(h, who, who_len, ZMQ_DONTWAIT | ZMQ_SNDMORE) >= 0;
    for (size_t i = 0; ok && i < f->n; i++)
        ok = zmq_send(h, f->data[i], f->len[i], ZMQ_DONTWAIT | (i + 1 < f->n ? ZMQ_SNDMORE : 0))
             >= 0;
    evloop_sent(g->loop, s);   /* evloop.h, rule 3 */
    return ok;
}

/* Sends now, past the fault hooks. A DEALER link without a dealer (a
 * delayed message) looks its peer's up; none -> false, not counted. */
static bool
s_send_now(gossip_t *g, const gossip_link_t *to, const gossip_frames_t *f, uint64_t *dropped)
{
    zsock_t *s = NULL;
    if (to->kind == GOSSIP_LINK_PUB)
        s = g->pub;
    else if (to->kind == GOSSIP_LINK_ROUTER)
        s = g->sync;
    else {
        gossip_dealer_t *d = to->dealer;
        if (!d) {
            gossip_peer_t *p = gossip_members_find(g->members, to->peer, VL_PUBKEY_SIZE);
            d = p ? gossip_dealer(g, p) : NULL;
        }
        if (!d)
            return false;
        s = d->sock;
    }
    if (!s)
        return false;
    bool ok = s_send_raw(g, s, to->kind == GOSSIP_LINK_ROUTER ? to->who : NULL, to->who_len, f);
    if (!ok && dropped)
        (*dropped)++;
    return ok;
}

/* A delayed message: its direction, link and frames, copied. */
typedef struct {
    gossip_fault_dir_t dir;
    gossip_link_kind_t kind;
    bool has_peer;
    uint8_t peer[VL_PUBKEY_SIZE];
    size_t who_len;
    size_t n;
    size_t len[GOSSIP_FRAMES_MAX];
    uint8_t data[];               /* who, then the frames */
} delayed_t;

static int s_on_delay(evloop_t *loop, int timer_id, void *arg);

/* (Re)arms the one-shot timer for the earliest delayed message. */
static void
s_delay_arm(gossip_t *g)
{
    int64_t next = g->delayed ? gossip_delayq_next_ms(g->delayed) : INT64_MAX;
    if (next == INT64_MAX || !g->loop || (g->delay_timer >= 0 && g->delay_due_ms <= next))
        return;
    if (g->delay_timer >= 0)
        evloop_timer_end(g->loop, g->delay_timer);
    g->delay_timer = evloop_timer(g->loop, next - vl_mono_ms(), 1, s_on_delay, g);
    g->delay_due_ms = next;
}

static void
s_delay(gossip_t *g, gossip_fault_dir_t dir, const gossip_link_t *link, const gossip_frames_t *f,
        int64_t delay_ms)
{
    size_t who_len = link->kind == GOSSIP_LINK_ROUTER ? link->who_len : 0, total = who_len;
    for (size_t i = 0; i < f->n; i++)
        total += f->len[i];
    if (!g->delayed)
        g->delayed = gossip_delayq_new(GOSSIP_FAULT_QUEUE_MAX, GOSSIP_FAULT_QUEUE_MAX_BYTES);
    delayed_t *d = g->delayed && g->loop ? malloc(sizeof *d + total) : NULL;
    if (!d) {
        g->stats.faults_dropped++;
        return;
    }
    d->dir = dir;
    d->kind = link->kind;
    d->has_peer = link->peer != NULL;
    if (link->peer)
        memcpy(d->peer, link->peer, VL_PUBKEY_SIZE);
    d->who_len = who_len;
    d->n = f->n;
    if (who_len)
        memcpy(d->data, link->who, who_len);
    size_t off = who_len;
    for (size_t i = 0; i < f->n; i++) {
        d->len[i] = f->len[i];
        if (f->len[i])   /* an empty frame may have no pointer */
            memcpy(d->data + off, f->data[i], f->len[i]);
        off += f->len[i];
    }
    if (gossip_delayq_push(g->delayed, vl_mono_ms() + delay_ms, d, sizeof *d + total) != 0) {
        free(d);
        g->stats.faults_dropped++;   /* the queue is full: a bounded loss */
        return;
    }
    g->stats.faults_delayed++;
    s_delay_arm(g);
}

/* A delayed message is due: sent, or handed to its receiver. */
static void
s_delay_deliver(gossip_t *g, delayed_t *d)
{
    gossip_frames_t f = { .n = d->n };
    size_t off = d->who_len;
    for (size_t i = 0; i < d->n; i++) {
        f.data[i] = d->data + off;
        f.len[i] = d->len[i];
        off += d->len[i];
    }
    gossip_link_t link = { .kind = d->kind, .peer = d->has_peer ? d->peer : NULL,
                           .who = d->data, .who_len = d->who_len };
    if (d->dir == GOSSIP_FAULT_SEND)
        s_send_now(g, &link, &f, NULL);
    else if (d->kind == GOSSIP_LINK_PUB)
        gossip_on_frame(g, f.data[0], f.len[0]);
    else if (d->kind == GOSSIP_LINK_DEALER)
        gossip_sync_dealer_in(g, d->peer, &f);
    else
        gossip_sync_router_in(g, &link, &f);
}

static int
s_on_delay(evloop_t *loop, int timer_id, void *arg)
{
    gossip_t *g = arg;
    g->delay_timer = -1;
    int64_t now = vl_mono_ms();
    delayed_t *d;
    while (g->delayed && (d = gossip_delayq_pop_due(g->delayed, now)) != NULL) {
        s_delay_deliver(g, d);
        free(d);
    }
    s_delay_arm(g);
    return 0;
}

void
gossip_faults_clear(gossip_t *g)
{
    if (g->delay_timer >= 0 && g->loop)
        evloop_timer_end(g->loop, g->delay_timer);
    g->delay_timer = -1;
    gossip_delayq_destroy(&g->delayed, free);
}

/* The fault decision for one message; a ROUTER link's peer is resolved
 * from the connection (its key decides the cut). */
static gossip_fault_action_t
s_decide(gossip_t *g, gossip_fault_dir_t dir, const gossip_link_t *link, int64_t *delay_ms)
{
    const uint8_t *peer = link->peer;
    if (!peer && link->kind == GOSSIP_LINK_ROUTER)
        peer = gossip_zap_peer(g, link->meta);
    return gossip_faults_decide(g->faults, g->self, peer, dir, g->fault_seq++, delay_ms);
}

bool
gossip_send(gossip_t *g, const gossip_link_t *to, const gossip_frames_t *f, uint64_t *dropped)
{
    if (g->faults) {
        int64_t delay_ms = 0;
        gossip_fault_action_t a = s_decide(g, GOSSIP_FAULT_SEND, to, &delay_ms);
        if (a == GOSSIP_FAULT_DROP) {
            g->stats.faults_dropped++;
            return true;
        }
        if (a == GOSSIP_FAULT_DELAY) {
            gossip_link_t copy = *to;
            if (!copy.peer && copy.kind == GOSSIP_LINK_ROUTER)
                copy.peer = gossip_zap_peer(g, copy.meta);
            s_delay(g, GOSSIP_FAULT_SEND, &copy, f, delay_ms);
            return true;
        }
    }
    return s_send_now(g, to, f, dropped);
}

bool
gossip_send_dealer(gossip_t *g, gossip_dealer_t *d, const gossip_frames_t *f, uint64_t *dropped)
{
    gossip_link_t to = { .kind = GOSSIP_LINK_DEALER, .peer = d->key, .dealer = d };
    return gossip_send(g, &to, f, dropped);
}

bool
gossip_send_answer(gossip_t *g, const gossip_link_t *from, const gossip_frames_t *f,
                   uint64_t *dropped)
{
    gossip_link_t to = { .kind = GOSSIP_LINK_ROUTER, .peer = from->peer, .who = from->who,
                         .who_len = from->who_len, .meta = from->meta };
    return gossip_send(g, &to, f, dropped);
}

bool
gossip_faults_in(gossip_t *g, gossip_link_t *from, const gossip_frames_t *f)
{
    if (!from->peer && from->kind == GOSSIP_LINK_ROUTER)
        from->peer = gossip_zap_peer(g, from->meta);
    int64_t delay_ms = 0;
    gossip_fault_action_t a = s_decide(g, GOSSIP_FAULT_RECV, from, &delay_ms);
    if (a == GOSSIP_FAULT_PASS)
        return true;
    if (a == GOSSIP_FAULT_DROP)
        g->stats.faults_dropped++;
    else
        s_delay(g, GOSSIP_FAULT_RECV, from, f, delay_ms);
    return false;
}

/* --- DEALERs --------------------------------------------------------------- */

void
gossip_dealer_destroy(gossip_t *g, size_t i)
{
    gossip_dealer_t *d = g->dealers[i];
    if (!d)
        return;
    if (g->loop)
        evloop_reader_end(g->loop, d->sock);
    zsock_destroy(&d->sock);
    free(d);
    g->dealers[i] = NULL;
}

gossip_dealer_t *
gossip_dealer(gossip_t *g, gossip_peer_t *p)
{
    int i = gossip_index_of(g, p);
    gossip_dealer_t *d = g->dealers[i];
    if (d && strcmp(d->ep, p->sync_ep) == 0) {
        d->last_used_ms = vl_mono_ms();
        return d;
    }
    gossip_dealer_destroy(g, (size_t) i);
    if (!p->sync_ep[0] || !g->loop || p->refused)
        return NULL;   /* a refused peer (another genesis) is sent nothing */
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
    gossip_common_opts(g, d->sock);
    zsock_set_sndhwm(d->sock, 1000);
    zsock_set_sndtimeo(d->sock, 0);
    s_curve_client(g, d->sock, g->curve_of[i]);
    if (zsock_connect(d->sock, "%s", d->ep) < 0
        || evloop_reader(g->loop, d->sock, gossip_on_dealer, d) != 0) {
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
 * each for its events): at 128 nodes that was a visible share of the CPU.
 * A DEALER that member requests of ours still wait on stays open (their
 * timeouts may be longer than the idle time). */
void
gossip_reap_dealers(gossip_t *g, int64_t now)
{
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++) {
        gossip_dealer_t *d = g->dealers[i];
        if (d && now - d->last_used_ms > GOSSIP_DEALER_IDLE_MS && g->asked[i] == 0)
            gossip_dealer_destroy(g, i);
    }
}

/* --- Publishing ---------------------------------------------------------- */

/* Heartbeats and joins leave the PUB in bundles: one frame holding up to
 * g->bundle_ms worth of them (ours and relayed; GOSSIP_BUNDLE_MS once a
 * join is in: a new member should be known quickly), in frame.h's bundle
 * layout. Every node relays every member's heartbeat to its subscribers;
 * at 128 nodes on one host the cost of one ZeroMQ message (poll wake-ups,
 * pipe, CURVE box, syscalls) per envelope and subscriber was about half the
 * CPU (perf, bench_gossip), and bundling cuts the message count several-fold
 * for a few ms of heartbeat delay per hop. Blocks, transactions and
 * consensus messages go out at once, alone. */
static void
s_pub(gossip_t *g, const uint8_t *bytes, size_t len)
{
    gossip_link_t to = { .kind = GOSSIP_LINK_PUB };
    gossip_frames_t f = { 1, { bytes }, { len } };
    gossip_send(g, &to, &f, NULL);
}

void
gossip_bundle_flush(gossip_t *g)
{
    if (g->bundle_len > 1 && g->pub)
        s_pub(g, g->bundle, g->bundle_len);
    g->bundle_len = 0;
}

static int
s_on_bundle_timer(evloop_t *loop, int timer_id, void *arg)
{
    gossip_t *g = arg;
    g->bundle_timer = -1;
    gossip_bundle_flush(g);
    return 0;
}

void
gossip_pub_send(gossip_t *g, int type, const uint8_t *bytes, size_t len)
{
    if (!g->pub)
        return;
    bool bundled = type == VL__ENVELOPE_TYPE__ENV_HEARTBEAT || type == VL__ENVELOPE_TYPE__ENV_JOIN;
    if (!bundled || !g->loop || len + 1 + GOSSIP_BUNDLE_ENTRY_HEAD > GOSSIP_BUNDLE_MAX_BYTES) {
        s_pub(g, bytes, len);
        return;
    }
    if (g->bundle_len + GOSSIP_BUNDLE_ENTRY_HEAD + len > GOSSIP_BUNDLE_MAX_BYTES)
        gossip_bundle_flush(g);
    gossip_bundle_put(g->bundle, &g->bundle_len, bytes, len);
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
void
gossip_push_random(gossip_t *g, const uint8_t *bytes, size_t len)
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
        gossip_dealer_t *d = gossip_dealer(g, p);
        gossip_frames_t f = { 2, { (const uint8_t *) "E", bytes }, { 1, len } };
        if (d)
            gossip_send_dealer(g, d, &f, &g->stats.push_dropped);
        return;
    }
}

int
gossip_seal(gossip_t *g, int type, const void *payload, size_t len, uint8_t **out,
            size_t *out_len)
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
    int rc = gossip_seal(g, type, payload, len, &bytes, &n);
    if (rc != 0)
        return rc;
    gossip_pub_send(g, type, bytes, n);
    gossip_push_random(g, bytes, n);
    g->stats.published++;
    free(bytes);
    return 0;
}

/* --- Mesh ---------------------------------------------------------------- */

void
gossip_repair_mesh(gossip_t *g)
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
            gossip_dealer_destroy(g, i);
    }
    evloop_sent(g->loop, g->sub);   /* connect/disconnect read its commands: evloop.h, rule 3 */
}

/* --- Receipt ------------------------------------------------------------- */

/* Types a full mesh still relays straight from their origin (gossip.h). */
static bool
s_relayed_in_full_mesh(int type)
{
    return type == VL__ENVELOPE_TYPE__ENV_HEARTBEAT || type == VL__ENVELOPE_TYPE__ENV_JOIN
           || type == VL__ENVELOPE_TYPE__ENV_CLAIM || type == VL__ENVELOPE_TYPE__ENV_VOTE;
}

void
gossip_on_envelope(gossip_t *g, const uint8_t *bytes, size_t len)
{
    g->stats.received++;
    gossip_envelope_t e;
    Vl__Heartbeat *hb = NULL;     /* owned: the payload of a heartbeat or join */
    vl_err_t err = { "" };
    if (gossip_envelope_parse(bytes, len, &e, &err) != 0) {
        if (gossip_log_thin(++g->stats.malformed))
            vl_warn("gossip", "envelope.malformed", "count=%llu reason=\"%s\"",
                    (unsigned long long) g->stats.malformed, err.msg);
        return;
    }
    if (g->faults && gossip_faults_cut(g->faults, g->self, e.origin)) {
        g->stats.faults_dropped++;   /* a SUB cannot tell the hop: cut by origin (faults.h) */
        goto done;
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
        if (gossip_log_thin(++g->stats.not_member))
            vl_warn("gossip", "envelope.not_member", "count=%llu",
                    (unsigned long long) g->stats.not_member);
        goto done;
    }
    bool payload_checked = e.type > 0 && e.type < 32
                           && (g->handler.payload_checked_types & (1u << e.type));
    if (payload_checked)
        g->stats.payload_checked++;
    else if (!gossip_envelope_verify(&e)) {
        if (gossip_log_thin(++g->stats.bad_signature))
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
    bool is_hb = e.type == VL__ENVELOPE_TYPE__ENV_HEARTBEAT || e.type == VL__ENVELOPE_TYPE__ENV_JOIN;
    if (is_hb) {
        /* Before relay: a member of another network (another genesis) is
         * refused here, so its heartbeats travel no further. */
        hb = vl__heartbeat__unpack(NULL, e.payload_len, e.payload);
        if (!hb) {
            if (gossip_log_thin(++g->stats.malformed))
                vl_warn("gossip", "heartbeat.malformed", "count=%llu",
                        (unsigned long long) g->stats.malformed);
            goto done;
        }
        if (!gossip_check_genesis(g, e.origin, hb->genesis_hash.data, hb->genesis_hash.len))
            goto done;
    } else if (gossip_peer_refused(g, e.origin)) {
        g->stats.genesis_refused++;
        goto done;
    }
    if (is_hb) {
        gossip_peer_t *p = gossip_members_find(g->members, e.origin, VL_PUBKEY_SIZE);
        uint8_t *copy = p ? malloc(len) : NULL;
        if (copy) {
            int i = gossip_index_of(g, p);
            memcpy(copy, bytes, len);
            free(g->last_hb[i]);
            g->last_hb[i] = copy;
            g->last_hb_len[i] = len;
        }
    }
    bool relay = e.hops + 1 <= g->config.max_hops && g->pub && !g->no_relay;
    if (relay && e.hops == 0 && !s_relayed_in_full_mesh(e.type)
        && gossip_members_count(g->members) <= g->config.full_mesh_max) {
        relay = false;   /* the origin sent it to every member (gossip.h) */
        g->stats.relay_skipped++;
    }
    if (relay) {
        uint8_t *out = NULL;
        size_t n = 0;
        if (gossip_envelope_pack_hops(&e, e.hops + 1, &out, &n) == 0) {
            gossip_pub_send(g, e.type, out, n);
            g->stats.relayed++;
            free(out);
        }
    }
    if (is_hb)
        gossip_on_heartbeat(g, &e, hb, now);
    else if (e.type == VL__ENVELOPE_TYPE__ENV_CLAIM)
        gossip_on_claim(g, &e, now);
    else if (g->handler.deliver)
        g->handler.deliver(g->handler.arg, e.type, e.origin, e.payload, e.payload_len);
done:
    vl__heartbeat__free_unpacked(hb, NULL);
    gossip_envelope_clear(&e);
}

/* One PUB frame: an envelope, or a bundle of them (frame.h). */
void
gossip_on_frame(gossip_t *g, const uint8_t *data, size_t size)
{
    if (size == 0 || data[0] != GOSSIP_BUNDLE_TAG) {
        gossip_on_envelope(g, data, size);
        return;
    }
    size_t off = 0, len = 0;
    const uint8_t *env = NULL;
    int rc;
    while ((rc = gossip_bundle_next(data, size, &off, &env, &len)) == 1)
        gossip_on_envelope(g, env, len);
    if (rc < 0 && gossip_log_thin(++g->stats.malformed))
        vl_warn("gossip", "bundle.malformed", "count=%llu",
                (unsigned long long) g->stats.malformed);
}

/* Readers drain up to GOSSIP_DRAIN_MAX messages per wakeup: at 128 nodes a
 * node reads thousands of envelopes a second, and a poll of every socket per
 * message was a fifth of the CPU (perf, bench_gossip). Bounded, so the
 * other sockets and the timers still get their turn. */
int
gossip_on_sub(evloop_t *loop, zsock_t *sock, void *arg)
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
        else {
            gossip_link_t from = { .kind = GOSSIP_LINK_PUB };
            gossip_frames_t f = { 1, { zmq_msg_data(&m) }, { zmq_msg_size(&m) } };
            if (!g->faults || gossip_faults_in(g, &from, &f))
                gossip_on_frame(g, f.data[0], f.len[0]);
        }
        zmq_msg_close(&m);
        while (extra) {   /* drop the rest of a multi-frame message */
            zmq_msg_init(&m);
            extra = zmq_msg_recv(&m, h, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
    }
    return 0;
}
