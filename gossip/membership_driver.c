/*
 * membership_driver.c — the membership protocol's I/O around the pure
 * membership module (membership.h): our heartbeats (flooded, and direct to
 * our ring monitors), joins and announcements, the receipt of heartbeats and
 * of monitors' claims, the snapshot pulls that complete a new node's view,
 * and the failure-detector tick that drives all of it (and the pull
 * timeouts, mesh rotation and the request channel's housekeeping).
 *
 * Owns, in gossip_t: the timer and its schedules (next_*_ms, last_tick_ms,
 * member_pull_ms, known_at_pull), the effective periods (period_ms,
 * bundle_ms) and the timeouts handed to membership.c at start. Sends go
 * through transport.c; snapshots are answered by sync.c.
 *
 * Thread: the gossip's loop thread.
 */
#include "gossip_internal.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "codec.h"
#include "log.h"
#include "vledger.pb-c.h"

#define GOSSIP_ROTATE_MS 2000   /* one mesh link replaced this often */
#define GOSSIP_STALL_MS 500   /* a tick this late means we were not running */
#define GOSSIP_SUSPECT_MS_PER_PEER 22   /* monitors' thresholds >= members x these */
#define GOSSIP_DEAD_MS_PER_PEER 36
#define GOSSIP_SNAPSHOT_PEERS 2  /* bootstrap peers asked for membership at start */
#define GOSSIP_MEMBERSHIP_PULL_MS 250       /* then one random peer, this often */
#define GOSSIP_MEMBERSHIP_PULL_MAX_MS 8000  /* backing off to this */

/* Our heartbeat: height, incarnation, endpoints and up to max_peers peer
 * infos (0 for a direct heartbeat: its monitors need only our liveness). */
int
gossip_heartbeat_bytes(gossip_t *g, size_t max_peers, uint8_t **out, size_t *out_len)
{
    Vl__Heartbeat hb = VL__HEARTBEAT__INIT;
    hb.height = g->handler.height(g->handler.arg);
    hb.incarnation = gossip_members_incarnation(g->members);
    hb.gossip_endpoint = g->pub_adv;
    hb.sync_endpoint = g->sync_adv;
    hb.genesis_hash.data = g->config.genesis_hash;
    hb.genesis_hash.len = sizeof g->config.genesis_hash;
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

/* --- Receipt ------------------------------------------------------------- */

/* The genesis check (gossip.h, config.genesis_hash): true when the hash a
 * member's heartbeat carries is ours, which also ends a refusal; false
 * refuses the member (logged on each change, with both hashes). */
bool
gossip_check_genesis(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE], const uint8_t *hash,
                     size_t len)
{
    gossip_peer_t *p = gossip_members_find(g->members, key, VL_PUBKEY_SIZE);
    if (!p)
        return true;   /* not a member: membership says so */
    bool ours = len == sizeof g->config.genesis_hash
                && memcmp(hash, g->config.genesis_hash, len) == 0;
    if (ours) {
        if (p->refused) {
            p->refused = false;
            p->refused_reason[0] = 0;
            vl_info("gossip", "peer.accepted", "did=%s name=%s reason=\"its genesis hash is ours "
                    "now\"", p->did, p->name);
        }
        return true;
    }
    g->stats.genesis_refused++;
    if (!p->refused) {
        char mine[17], theirs[17] = "none";
        vl_hex_encode(g->config.genesis_hash, 8, mine);
        if (len >= 8)
            vl_hex_encode(hash, 8, theirs);
        snprintf(p->refused_reason, sizeof p->refused_reason, "genesis hash differs: ours %s..., "
                 "theirs %s... (another network, or started with another genesis.json)", mine,
                 theirs);
        p->refused = true;
        vl_warn("gossip", "peer.refused", "did=%s name=%s reason=\"%s\"", p->did, p->name,
                p->refused_reason);
        gossip_repair_mesh(g);   /* out of the mesh; gossip_dealer closes its DEALER */
        int i = gossip_index_of(g, p);
        gossip_dealer_destroy(g, (size_t) i);
    }
    return false;
}

bool
gossip_peer_refused(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE])
{
    gossip_peer_t *p = gossip_members_find(g->members, key, VL_PUBKEY_SIZE);
    return p && p->refused;
}

void
gossip_on_heartbeat(gossip_t *g, const gossip_envelope_t *e, const Vl__Heartbeat *hb,
                    int64_t now)
{
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
        gossip_repair_mesh(g);
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
    gossip_sync_kick(g);
}

static void s_announce(gossip_t *g, int type, bool to_all_bootstrap);

/* A monitor's claim that a member is dead (membership.h). */
void
gossip_on_claim(gossip_t *g, const gossip_envelope_t *e, int64_t now)
{
    Vl__MemberClaim *c = vl__member_claim__unpack(NULL, e->payload_len, e->payload);
    if (!c || c->node.len != VL_PUBKEY_SIZE || c->state != GOSSIP_PEER_DEAD) {
        if (gossip_log_thin(++g->stats.malformed))
            vl_warn("gossip", "claim.malformed", "count=%llu",
                    (unsigned long long) g->stats.malformed);
        vl__member_claim__free_unpacked(c, NULL);
        return;
    }
    gossip_peer_t *by = gossip_members_find(g->members, e->origin, VL_PUBKEY_SIZE);
    gossip_claim_t r = gossip_members_claim(g->members, e->origin, c->node.data, c->incarnation,
                                            now);
    if (r == GOSSIP_CLAIM_REFUSED && gossip_log_thin(++g->stats.claims_refused))
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
        gossip_repair_mesh(g);
    }
    vl__member_claim__free_unpacked(c, NULL);
}

/* --- Sending ------------------------------------------------------------- */

static void
s_announce(gossip_t *g, int type, bool to_all_bootstrap)
{
    uint8_t *hb = NULL, *env = NULL;
    size_t hb_len = 0, env_len = 0;
    if (gossip_heartbeat_bytes(g, GOSSIP_HEARTBEAT_PEERS, &hb, &hb_len) != 0)
        return;
    if (gossip_seal(g, type, hb, hb_len, &env, &env_len) == 0) {
        gossip_pub_send(g, type, env, env_len);
        g->stats.published++;
        if (to_all_bootstrap) {
            gossip_frames_t f = { 2, { (const uint8_t *) "E", env }, { 1, env_len } };
            size_t n = gossip_members_count(g->members);
            for (size_t i = 0; i < n; i++) {
                gossip_peer_t *p = gossip_members_at(g->members, i);
                gossip_dealer_t *d = p->sync_ep[0] ? gossip_dealer(g, p) : NULL;
                if (d)
                    gossip_send_dealer(g, d, &f, &g->stats.push_dropped);
            }
        } else
            gossip_push_random(g, env, env_len);
    }
    free(hb);
    free(env);
}

/* Sends a snapshot request (`H`, answered by sync.c) to p listing the
 * members we have alive (and us), so the answer holds only what we lack. */
static void
s_request_snapshot(gossip_t *g, gossip_peer_t *p)
{
    gossip_dealer_t *d = p->sync_ep[0] ? gossip_dealer(g, p) : NULL;
    if (!d)
        return;
    size_t n = gossip_members_count(g->members), k = 0;
    uint8_t known[(GOSSIP_PEERS_MAX + 1) * VL_PUBKEY_SIZE], id[GOSSIP_ID_SIZE];
    memcpy(known, g->self, VL_PUBKEY_SIZE);
    k++;
    for (size_t i = 0; i < n; i++) {
        gossip_peer_t *q = gossip_members_at(g->members, i);
        if (q->state == GOSSIP_PEER_ALIVE)
            memcpy(known + VL_PUBKEY_SIZE * k++, q->key, VL_PUBKEY_SIZE);
    }
    gossip_id_put(id, 0);
    gossip_frames_t f = { 3, { (const uint8_t *) "H", id, known },
                          { 1, GOSSIP_ID_SIZE, k * VL_PUBKEY_SIZE } };
    gossip_send_dealer(g, d, &f, &g->stats.push_dropped);
}

/* Asks up to GOSSIP_SNAPSHOT_PEERS bootstrap peers for their membership
 * snapshot. */
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

/* Sends one signed heartbeat to each of our ring monitors (`D`, never
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
    if (gossip_heartbeat_bytes(g, 0, &hb, &hb_len) != 0)
        return;
    if (gossip_seal(g, VL__ENVELOPE_TYPE__ENV_HEARTBEAT, hb, hb_len, &env, &env_len) == 0) {
        gossip_frames_t f = { 2, { (const uint8_t *) "D", env }, { 1, env_len } };
        for (size_t i = 0; i < n; i++) {
            gossip_dealer_t *d = mon[i]->sync_ep[0] ? gossip_dealer(g, mon[i]) : NULL;
            if (d)
                gossip_send_dealer(g, d, &f, &g->stats.push_dropped);
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

/* --- The tick ------------------------------------------------------------ */

/* The failure detector ticks every GOSSIP_TICK_MS (so a peer is declared
 * suspect or dead within a tick of its deadline, not a heartbeat period
 * later), and so do pull timeouts, pulls and the request channel's
 * housekeeping; direct heartbeats go to our monitors every configured
 * heartbeat_ms, the mesh rotates (and idle DEALERs close) every
 * GOSSIP_ROTATE_MS, the flooded heartbeat goes out every g->period_ms. */
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
    gossip_on_sync(loop, g->sync, g);
    gossip_on_sub(loop, g->sub, g);
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
        gossip_repair_mesh(g);
    }
    if (now >= g->next_direct_ms) {
        g->next_direct_ms = now + g->config.heartbeat_ms;
        s_send_direct(g);
    }
    s_membership_pull(g, now);
    if (gossip_pull_expire(g->pull, now) > 0)
        g->stats.pull_timeouts++;
    gossip_sync_kick(g);
    gossip_request_tick(g, now);
    if (now >= g->next_rotate_ms) {
        g->next_rotate_ms = now + GOSSIP_ROTATE_MS;
        gossip_members_rotate_mesh(g->members, g->config.degree, g->config.full_mesh_max,
                                   &g->rnd);
        gossip_repair_mesh(g);
        gossip_reap_dealers(g, now);
    }
    if (now >= g->next_heartbeat_ms) {
        g->next_heartbeat_ms = now + g->period_ms;
        s_announce(g, VL__ENVELOPE_TYPE__ENV_HEARTBEAT, false);
    }
    return 0;
}

void
gossip_driver_start(gossip_t *g)
{
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
    g->timer = evloop_timer(g->loop, tick, 0, s_on_timer, g);
    gossip_repair_mesh(g);
    s_announce(g, VL__ENVELOPE_TYPE__ENV_JOIN, true);
    s_request_snapshots(g);
    vl_info("gossip", "start",
            "did=%s gossip=%s sync=%s advertised=%s,%s members=%zu incarnation=%llu "
            "heartbeat_ms=%d flood_ms=%lld suspect_ms=%lld dead_ms=%lld far_suspect_ms=%lld "
            "far_dead_ms=%lld monitoring=%zu",
            g->did, g->pub_bound, g->sync_bound, g->pub_adv, g->sync_adv,
            gossip_members_count(g->members),
            (unsigned long long) gossip_members_incarnation(g->members), g->config.heartbeat_ms,
            (long long) g->period_ms, (long long) suspect, (long long) dead,
            (long long) far_suspect, (long long) far_dead, monitored);
}
