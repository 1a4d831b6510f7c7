/*
 * sync.c — the sync protocol on the ROUTER (ours, bound at `sync`) and the
 * DEALERs (ours, one per peer): the frame tables that dispatch every sync
 * message by its first frame's first byte (gossip.h tables the frames),
 * serving pulls (blocks by height, transactions by id) and membership
 * snapshots, reading their answers, and scheduling our own pulls.
 *
 * Owns, in gossip_t: the pull scheduler's use (pull, gap). Pushed envelopes
 * (`E`, `D`) go on to transport.c's receipt, member requests (`R`, `P`) to
 * request.c; the pull decisions are pull.c's (pure).
 *
 * A message whose first byte has no entry, whose frame count is outside
 * the entry's range, or whose id frame is not 8 bytes is counted in
 * stats.sync_malformed and dropped: bad peer input is answered by nothing,
 * never crashed on.
 *
 * Thread: the gossip's loop thread.
 */
#include "gossip_internal.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "vledger.pb-c.h"

/* --- Serving (ROUTER side) ----------------------------------------------- */

static void
s_router_malformed(gossip_t *g, size_t frames)
{
    if (gossip_log_thin(++g->stats.sync_malformed))
        vl_warn("gossip", "sync.malformed", "count=%llu frames=%zu",
                (unsigned long long) g->stats.sync_malformed, frames);
}

/* `E`: an envelope pushed to us. */
static void
s_on_push(gossip_t *g, const gossip_link_t *from, const gossip_frames_t *f)
{
    gossip_on_envelope(g, f->data[1], f->len[1]);
}

/* `D`: a direct heartbeat from a member we monitor: never relayed. */
static void
s_on_direct(gossip_t *g, const gossip_link_t *from, const gossip_frames_t *f)
{
    g->no_relay = g->direct = true;
    gossip_on_envelope(g, f->data[1], f->len[1]);
    g->no_relay = g->direct = false;
}

/* `Q`: serves one SyncRequest; the answer goes back on the ROUTER. */
static void
s_on_pull_request(gossip_t *g, const gossip_link_t *from, const gossip_frames_t *f)
{
    Vl__SyncRequest *req = vl__sync_request__unpack(NULL, f->len[2], f->data[2]);
    if (!req) {
        if (gossip_log_thin(++g->stats.sync_malformed))
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
        gossip_frames_t a = { 3, { (const uint8_t *) "A", f->data[1], out },
                              { 1, GOSSIP_ID_SIZE, n } };
        gossip_send_answer(g, from, &a, &g->stats.push_dropped);
        free(out);
    }
    for (size_t i = 0; i < nb; i++)
        free(blocks[i].data);
    for (size_t i = 0; i < nt; i++)
        free(txs[i].data);
    vl__sync_request__free_unpacked(req, NULL);
}

/* `H` id [known]: answered `S` id + a bundle (frame.h) of the latest
 * verified heartbeat of every member heard alive or suspect, and ours,
 * leaving out the members whose keys the asker listed in `known` (n x 32
 * bytes: those it already has alive). A node that just started pulls this
 * from its bootstrap peers and sees the whole membership at once instead of
 * over a flooded period (CHP's snapshot for late joiners, research note
 * §1); until its view is complete it keeps pulling from random peers
 * (push-pull state sync, as in Serf; membership_driver.c), so neither a lost
 * join nor a mesh still forming leaves a member unknown for a period. Each
 * envelope keeps its origin's signature and is checked on receipt. */
static bool
s_listed(const uint8_t *known, size_t known_len, const uint8_t *key)
{
    for (size_t off = 0; off + VL_PUBKEY_SIZE <= known_len; off += VL_PUBKEY_SIZE)
        if (memcmp(known + off, key, VL_PUBKEY_SIZE) == 0)
            return true;
    return false;
}

static void
s_on_snapshot_request(gossip_t *g, const gossip_link_t *from, const gossip_frames_t *f)
{
    const uint8_t *known = f->n == 3 ? f->data[2] : NULL;
    size_t known_len = f->n == 3 ? f->len[2] : 0;
    if (known_len % VL_PUBKEY_SIZE != 0 || known_len > (GOSSIP_PEERS_MAX + 1) * VL_PUBKEY_SIZE) {
        s_router_malformed(g, f->n + 1);
        return;
    }
    g->stats.sync_requests++;
    size_t n = gossip_members_count(g->members), cap = 1;
    uint8_t *own = NULL;
    size_t own_len = 0;
    if (!s_listed(known, known_len, g->self)) {
        uint8_t *hb = NULL;
        size_t hb_len = 0;
        if (gossip_heartbeat_bytes(g, GOSSIP_HEARTBEAT_PEERS, &hb, &hb_len) == 0
            && gossip_seal(g, VL__ENVELOPE_TYPE__ENV_HEARTBEAT, hb, hb_len, &own, &own_len) != 0)
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
            cap += GOSSIP_BUNDLE_ENTRY_HEAD + g->last_hb_len[i];
    }
    if (own)
        cap += GOSSIP_BUNDLE_ENTRY_HEAD + own_len;
    uint8_t *out = cap <= GOSSIP_SYNC_MAX_BYTES ? malloc(cap) : NULL;
    if (!out) {
        free(send);
        free(own);
        return;
    }
    size_t off = 0;
    out[off++] = GOSSIP_BUNDLE_TAG;   /* an empty snapshot is still a bundle */
    for (size_t i = 0; i <= n; i++) {
        const uint8_t *b = i < n ? g->last_hb[i] : own;
        size_t len = i < n ? g->last_hb_len[i] : own_len;
        if (!b || (i < n && !send[i]))
            continue;
        gossip_bundle_put(out, &off, b, len);
    }
    gossip_frames_t s = { 3, { (const uint8_t *) "S", f->data[1], out },
                          { 1, GOSSIP_ID_SIZE, off } };
    gossip_send_answer(g, from, &s, &g->stats.push_dropped);
    free(out);
    free(send);
    free(own);
}

/* --- Answers (DEALER side) ------------------------------------------------- */

static void
s_dealer_malformed(gossip_t *g)
{
    if (gossip_log_thin(++g->stats.sync_malformed))
        vl_warn("gossip", "pull.malformed_answer", "count=%llu",
                (unsigned long long) g->stats.sync_malformed);
}

/* `A` id SyncResponse: blocks we pulled, or transactions we fetched. */
static void
s_on_pull_answer(gossip_t *g, const uint8_t peer[VL_PUBKEY_SIZE], const gossip_frames_t *f)
{
    Vl__SyncResponse *resp = vl__sync_response__unpack(NULL, f->len[2], f->data[2]);
    if (!resp) {
        s_dealer_malformed(g);
        return;
    }
    uint64_t id = gossip_id_get(f->data[1]);
    gossip_peer_t *p = gossip_members_find(g->members, peer, VL_PUBKEY_SIZE);
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
    gossip_sync_kick(g);
}

/* `S` id bundle: a membership snapshot. */
static void
s_on_snapshot(gossip_t *g, const uint8_t peer[VL_PUBKEY_SIZE], const gossip_frames_t *f)
{
    if (f->len[2] == 0 || f->data[2][0] != GOSSIP_BUNDLE_TAG) {
        s_dealer_malformed(g);
        return;
    }
    g->no_relay = true;   /* everyone else has these already */
    gossip_on_frame(g, f->data[2], f->len[2]);
    g->no_relay = false;
}

/* --- The frame tables ------------------------------------------------------ */

typedef struct {
    uint8_t min, max;             /* frames, the command frame included */
    bool id;                      /* the second frame is an 8-byte id */
    void (*fn)(gossip_t *g, const gossip_link_t *from, const gossip_frames_t *f);
} router_op_t;

typedef struct {
    uint8_t min, max;
    bool id;
    void (*fn)(gossip_t *g, const uint8_t peer[VL_PUBKEY_SIZE], const gossip_frames_t *f);
} dealer_op_t;

/* What a peer may send to our ROUTER, by its first frame's byte. */
static const router_op_t s_router_ops[256] = {
    ['E'] = { 2, 2, false, s_on_push },
    ['D'] = { 2, 2, false, s_on_direct },
    ['Q'] = { 3, 3, true, s_on_pull_request },
    ['H'] = { 2, 3, true, s_on_snapshot_request },
    ['R'] = { 4, 4, true, gossip_request_in },
};

/* What a peer's ROUTER may answer on our DEALER. */
static const dealer_op_t s_dealer_ops[256] = {
    ['A'] = { 3, 3, true, s_on_pull_answer },
    ['S'] = { 3, 3, true, s_on_snapshot },
    ['P'] = { 4, 4, true, gossip_reply_in },
};

/* The entry's shape checks; the command is one byte. */
static bool
s_fits(const gossip_frames_t *f, uint8_t min, uint8_t max, bool id)
{
    return f->n >= min && f->n <= max && (!id || f->len[1] == GOSSIP_ID_SIZE);
}

void
gossip_sync_router_in(gossip_t *g, const gossip_link_t *from, const gossip_frames_t *f)
{
    const router_op_t *op = f->n > 0 && f->len[0] == 1 ? &s_router_ops[f->data[0][0]] : NULL;
    if (!op || !op->fn || !s_fits(f, op->min, op->max, op->id)) {
        s_router_malformed(g, f->n + 1);
        return;
    }
    /* A refused member (another genesis) is served nothing; its envelopes
     * (E, D) still come in, since a heartbeat with our genesis hash ends
     * the refusal. */
    uint8_t c = f->data[0][0];
    const uint8_t *peer = from->peer ? from->peer : from->meta ? gossip_zap_peer(g, from->meta)
                                                               : NULL;
    if (c != 'E' && c != 'D' && peer && gossip_peer_refused(g, peer)) {
        g->stats.genesis_refused++;
        return;
    }
    op->fn(g, from, f);
}

void
gossip_sync_dealer_in(gossip_t *g, const uint8_t peer[VL_PUBKEY_SIZE], const gossip_frames_t *f)
{
    const dealer_op_t *op = f->n > 0 && f->len[0] == 1 ? &s_dealer_ops[f->data[0][0]] : NULL;
    if (!op || !op->fn || !s_fits(f, op->min, op->max, op->id)) {
        s_dealer_malformed(g);
        return;
    }
    op->fn(g, peer, f);
}

/* The frames of msg from its current position; false when there are more
 * than GOSSIP_FRAMES_MAX. Borrowed from msg. */
static bool
s_frames(zmsg_t *msg, zframe_t *first, gossip_frames_t *f)
{
    f->n = 0;
    for (zframe_t *fr = first; fr; fr = zmsg_next(msg)) {
        if (f->n == GOSSIP_FRAMES_MAX)
            return false;
        f->data[f->n] = zframe_data(fr);
        f->len[f->n] = zframe_size(fr);
        f->n++;
    }
    return true;
}

static int
s_on_sync_one(gossip_t *g, zsock_t *sock)
{
    zmsg_t *msg = zmsg_recv_nowait(sock);
    if (!msg)
        return -1;
    zframe_t *who = zmsg_first(msg), *cmd = zmsg_next(msg);
    gossip_frames_t f;
    gossip_link_t from = { .kind = GOSSIP_LINK_ROUTER, .who = zframe_data(who),
                           .who_len = zframe_size(who), .meta = cmd ? cmd : who };
    if (!s_frames(msg, cmd, &f))
        s_router_malformed(g, zmsg_size(msg));
    else if (!g->faults || gossip_faults_in(g, &from, &f))
        gossip_sync_router_in(g, &from, &f);
    zmsg_destroy(&msg);
    return 0;
}

int
gossip_on_sync(evloop_t *loop, zsock_t *sock, void *arg)
{
    for (int k = 0; k < GOSSIP_DRAIN_MAX && s_on_sync_one(arg, sock) == 0; k++)
        ;
    return 0;
}

int
gossip_on_dealer(evloop_t *loop, zsock_t *sock, void *arg)
{
    gossip_dealer_t *d = arg;
    gossip_t *g = d->g;
    zmsg_t *msg = zmsg_recv_nowait(sock);
    if (!msg)
        return 0;
    d->last_used_ms = vl_mono_ms();
    uint8_t peer[VL_PUBKEY_SIZE];
    memcpy(peer, d->key, VL_PUBKEY_SIZE);   /* a handler may close d */
    gossip_frames_t f;
    gossip_link_t from = { .kind = GOSSIP_LINK_DEALER, .peer = peer, .dealer = d };
    if (!s_frames(msg, zmsg_first(msg), &f))
        s_dealer_malformed(g);
    else if (!g->faults || gossip_faults_in(g, &from, &f))
        gossip_sync_dealer_in(g, peer, &f);
    zmsg_destroy(&msg);
    return 0;
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
        gossip_dealer_t *d = p ? gossip_dealer(g, p) : NULL;
        if (!d)
            continue;   /* the request times out and the range is asked again */
        Vl__SyncRequest sr = VL__SYNC_REQUEST__INIT;
        sr.from_height = req.from;
        sr.count = req.count;
        size_t len = vl__sync_request__get_packed_size(&sr);
        uint8_t buf[64], id[GOSSIP_ID_SIZE];
        vl__sync_request__pack(&sr, buf);
        gossip_id_put(id, req.id);
        gossip_frames_t q = { 3, { (const uint8_t *) "Q", id, buf }, { 1, GOSSIP_ID_SIZE, len } };
        gossip_send_dealer(g, d, &q, &g->stats.push_dropped);
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
    gossip_dealer_t *d = gossip_dealer(g, peer);
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
    uint8_t buf[GOSSIP_SYNC_MAX_TXS * 36 + 16], id[GOSSIP_ID_SIZE];
    size_t len = vl__sync_request__pack(&sr, buf);
    gossip_id_put(id, 0);   /* not a block pull: pull.c knows no id 0 */
    gossip_frames_t q = { 3, { (const uint8_t *) "Q", id, buf }, { 1, GOSSIP_ID_SIZE, len } };
    gossip_send_dealer(g, d, &q, &g->stats.push_dropped);
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
