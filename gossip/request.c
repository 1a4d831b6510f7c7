/*
 * request.c — the request/response channel between members (gossip.h,
 * "Member requests"): our requests (`R` on the peer's DEALER) waiting for
 * their answers (`P`), and the requests peers send to our ROUTER, handed to
 * the request handler and answered through gossip_respond, at once or later.
 *
 * Who is asking: the key the ZAP handler admitted for the connection the
 * request came in on (zap.c sets the member's DID as the connection's
 * User-Id; gossip_zap_peer reads it back), never anything in the message.
 * Who is answering: the peer whose DEALER the answer arrived on (its server
 * key is pinned by CURVE), and it must be the peer we asked.
 *
 * Owns, in gossip_t: pending (ours; each with one one-shot loop timer),
 * responders (theirs, a list), served[] and asked[].
 *
 * Limits (all named): body size (config.request_max_bytes, both ways); ours
 * outstanding (config.request_outstanding: gossip_request refuses more);
 * a peer's requests we hold unanswered (config.request_per_peer: further
 * ones are answered VL_ERR_LIMIT at once) and all peers' together
 * (GOSSIP_REQUEST_HELD_MAX, expired ones included, so a handler that never
 * answers cannot grow memory); timeout_ms <= GOSSIP_REQUEST_TIMEOUT_MAX_MS.
 *
 * A pending request ends exactly once: by its answer, by its timer
 * (VL_ERR_TIMEOUT), or by gossip_detach (VL_ERR_STATE); each of these first
 * removes it from pending and ends its timer, so no other can follow; an
 * answer for no pending id is a late one, counted and dropped.
 *
 * A responder's slot in served[] is released when it is answered or when
 * its asker's deadline has passed (gossip_request_tick: the asker has given
 * up, so the peer may ask again); the responder itself stays valid for
 * gossip_respond until then or until gossip_destroy frees it.
 *
 * Thread: the gossip's loop thread (gossip_respond included).
 */
#include "gossip_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define ROUTING_ID_MAX 255   /* libzmq's bound on a routing id */

struct gossip_pending_t {
    gossip_t *g;                  /* borrowed: for the timer */
    uint64_t id;
    uint8_t peer[VL_PUBKEY_SIZE];
    int slot;                     /* the peer's member index (asked[]) */
    int timer;
    gossip_reply_fn cb;
    void *arg;
};

struct gossip_responder_t {
    gossip_t *g;                  /* borrowed: gossip_respond checks it */
    gossip_responder_t *prev, *next;   /* on g->responders */
    uint8_t id[GOSSIP_ID_SIZE];   /* the asker's, echoed in the answer */
    uint8_t peer[VL_PUBKEY_SIZE]; /* the asker */
    int slot;                     /* served[] index */
    bool expired;                 /* the asker's deadline passed: slot released */
    int64_t deadline_ms;          /* monotonic */
    size_t who_len;
    uint8_t who[ROUTING_ID_MAX];  /* the asker's routing id on our ROUTER */
};

void
gossip_set_request_handler(gossip_t *g, gossip_request_fn fn, void *arg)
{
    g->on_request = fn;
    g->on_request_arg = arg;
}

/* --- Ours ------------------------------------------------------------------ */

/* Removes pending[i], ends its timer; the caller calls and frees it. */
static gossip_pending_t *
s_take(gossip_t *g, size_t i, evloop_t *loop)
{
    gossip_pending_t *q = g->pending[i];
    g->pending[i] = g->pending[--g->n_pending];
    g->asked[q->slot]--;
    if (q->timer >= 0 && loop)
        evloop_timer_end(loop, q->timer);
    q->timer = -1;
    return q;
}

static int
s_on_timeout(evloop_t *loop, int timer_id, void *arg)
{
    gossip_pending_t *q = arg;
    gossip_t *g = q->g;
    q->timer = -1;   /* fired: nothing to end */
    for (size_t i = 0; i < g->n_pending; i++)
        if (g->pending[i] == q) {
            s_take(g, i, NULL);
            g->stats.request_timeouts++;
            q->cb(q->arg, VL_ERR_TIMEOUT, NULL, 0);
            free(q);
            break;
        }
    return 0;
}

int
gossip_request(gossip_t *g, const uint8_t peer[VL_PUBKEY_SIZE], uint32_t kind,
               const void *body, size_t len, int timeout_ms, gossip_reply_fn cb, void *arg)
{
    if (!g->loop)
        return VL_ERR_STATE;
    if (!cb || timeout_ms <= 0 || timeout_ms > GOSSIP_REQUEST_TIMEOUT_MAX_MS || (!body && len))
        return VL_ERR_INVALID;
    if (len > g->config.request_max_bytes || g->n_pending >= g->config.request_outstanding)
        return VL_ERR_LIMIT;
    gossip_peer_t *p = gossip_members_find(g->members, peer, VL_PUBKEY_SIZE);
    gossip_dealer_t *d = p && p->sync_ep[0] ? gossip_dealer(g, p) : NULL;
    if (!d)
        return VL_ERR_NOT_FOUND;
    gossip_pending_t *q = calloc(1, sizeof *q);
    if (!q)
        return VL_ERR_NOMEM;
    q->g = g;
    q->id = g->next_request_id++;
    memcpy(q->peer, peer, VL_PUBKEY_SIZE);
    q->slot = gossip_index_of(g, p);
    q->cb = cb;
    q->arg = arg;
    q->timer = evloop_timer(g->loop, timeout_ms, 1, s_on_timeout, q);
    if (q->timer < 0) {
        free(q);
        return VL_ERR_NOMEM;
    }
    uint8_t id[GOSSIP_ID_SIZE], head[GOSSIP_HEAD_SIZE];
    gossip_id_put(id, q->id);
    gossip_head_put(head, kind, (uint32_t) timeout_ms);
    gossip_frames_t f = { 4, { (const uint8_t *) "R", id, head, body },
                          { 1, GOSSIP_ID_SIZE, GOSSIP_HEAD_SIZE, len } };
    if (!gossip_send_dealer(g, d, &f, &g->stats.push_dropped)) {
        evloop_timer_end(g->loop, q->timer);
        free(q);
        return VL_ERR_LIMIT;
    }
    g->pending[g->n_pending++] = q;
    g->asked[q->slot]++;
    g->stats.requests_sent++;
    return 0;
}

/* `P` id status body, on the DEALER to peer. */
void
gossip_reply_in(gossip_t *g, const uint8_t peer[VL_PUBKEY_SIZE], const gossip_frames_t *f)
{
    if (f->len[2] != GOSSIP_STATUS_SIZE) {
        if (gossip_log_thin(++g->stats.sync_malformed))
            vl_warn("gossip", "request.malformed_answer", "count=%llu",
                    (unsigned long long) g->stats.sync_malformed);
        return;
    }
    uint64_t id = gossip_id_get(f->data[1]);
    for (size_t i = 0; i < g->n_pending; i++) {
        gossip_pending_t *q = g->pending[i];
        if (q->id != id || memcmp(q->peer, peer, VL_PUBKEY_SIZE) != 0)
            continue;
        s_take(g, i, g->loop);
        int status = gossip_status_get(f->data[2]);
        if (f->len[3] > g->config.request_max_bytes)
            q->cb(q->arg, VL_ERR_LIMIT, NULL, 0);
        else
            q->cb(q->arg, status, f->data[3], f->len[3]);
        free(q);
        return;
    }
    g->stats.late_replies++;
}

void
gossip_request_cancel(gossip_t *g, evloop_t *loop)
{
    /* One at a time from the end: a callback may ask again (refused: we are
     * detached) but cannot add to pending. */
    while (g->n_pending > 0) {
        gossip_pending_t *q = s_take(g, g->n_pending - 1, loop);
        q->cb(q->arg, VL_ERR_STATE, NULL, 0);
        free(q);
    }
}

/* --- Theirs ---------------------------------------------------------------- */

static bool
s_answer(gossip_t *g, const gossip_link_t *to, const uint8_t id[GOSSIP_ID_SIZE], int status,
         const void *body, size_t len)
{
    uint8_t st[GOSSIP_STATUS_SIZE];
    gossip_status_put(st, status);
    if (status == VL_ERR_LIMIT)
        g->stats.requests_limited++;
    else if (status != 0)
        g->stats.requests_refused++;
    gossip_frames_t f = { 4, { (const uint8_t *) "P", id, st, body },
                          { 1, GOSSIP_ID_SIZE, GOSSIP_STATUS_SIZE, len } };
    return gossip_send_answer(g, to, &f, &g->stats.push_dropped);
}

/* `R` id head body, on our ROUTER. */
void
gossip_request_in(gossip_t *g, const gossip_link_t *from, const gossip_frames_t *f)
{
    uint8_t key[VL_PUBKEY_SIZE];
    const uint8_t *peer = from->peer ? from->peer : gossip_zap_peer(g, from->meta);
    int slot = peer ? gossip_peer_slot(g, peer) : -1;
    if (slot < 0 || from->who_len > ROUTING_ID_MAX) {
        /* Not a connection our ZAP handler admitted (cannot happen on a
         * CURVE server socket): nobody to answer. */
        if (gossip_log_thin(++g->stats.sync_malformed))
            vl_warn("gossip", "request.unknown_sender", "count=%llu",
                    (unsigned long long) g->stats.sync_malformed);
        return;
    }
    memcpy(key, peer, VL_PUBKEY_SIZE);   /* stable for the handler's whole call */
    gossip_link_t to = *from;
    to.peer = key;
    uint32_t kind = 0, timeout_ms = 0;
    gossip_head_get(f->data[2], &kind, &timeout_ms);
    if (timeout_ms == 0 || timeout_ms > GOSSIP_REQUEST_TIMEOUT_MAX_MS)
        timeout_ms = GOSSIP_REQUEST_TIMEOUT_MAX_MS;
    const uint8_t *id = f->data[1], *body = f->data[3];
    size_t len = f->len[3];
    if (len > g->config.request_max_bytes) {
        s_answer(g, &to, id, VL_ERR_LIMIT, "request too large", 17);
        return;
    }
    if (g->served[slot] >= g->config.request_per_peer || g->n_responders >= GOSSIP_REQUEST_HELD_MAX) {
        s_answer(g, &to, id, VL_ERR_LIMIT, "too many requests outstanding", 29);
        return;
    }
    if (!g->on_request) {
        s_answer(g, &to, id, VL_ERR_REFUSED, "no request handler", 18);
        return;
    }
    gossip_responder_t *r = calloc(1, sizeof *r);
    if (!r) {
        s_answer(g, &to, id, VL_ERR_LIMIT, "out of memory", 13);
        return;
    }
    r->g = g;
    memcpy(r->id, id, GOSSIP_ID_SIZE);
    memcpy(r->peer, key, VL_PUBKEY_SIZE);
    r->slot = slot;
    r->deadline_ms = vl_mono_ms() + timeout_ms;
    r->who_len = from->who_len;
    memcpy(r->who, from->who, from->who_len);
    r->next = g->responders;
    if (r->next)
        r->next->prev = r;
    g->responders = r;
    g->n_responders++;
    g->served[slot]++;
    g->stats.requests_served++;
    g->on_request(g->on_request_arg, key, kind, body, len, r);
}

int
gossip_respond(gossip_t *g, gossip_responder_t **r_p, int status, const void *body, size_t len)
{
    assert(r_p && *r_p && (*r_p)->g == g);
    assert(status <= 0 && (body || len == 0));
    gossip_responder_t *r = *r_p;
    *r_p = NULL;
    if (r->prev)
        r->prev->next = r->next;
    else
        g->responders = r->next;
    if (r->next)
        r->next->prev = r->prev;
    g->n_responders--;
    if (!r->expired)
        g->served[r->slot]--;
    int rc = 0;
    if (len > g->config.request_max_bytes) {
        status = VL_ERR_LIMIT;
        body = "answer too large";
        len = 16;
        rc = VL_ERR_LIMIT;
    }
    gossip_link_t to = { .kind = GOSSIP_LINK_ROUTER, .peer = r->peer, .who = r->who,
                         .who_len = r->who_len };
    if (!s_answer(g, &to, r->id, status, body, len) && rc == 0)
        rc = VL_ERR_IO;
    free(r);
    return rc;
}

void
gossip_request_tick(gossip_t *g, int64_t now)
{
    for (gossip_responder_t *r = g->responders; r; r = r->next)
        if (!r->expired && now >= r->deadline_ms) {
            r->expired = true;
            g->served[r->slot]--;
        }
}

void
gossip_request_free(gossip_t *g)
{
    while (g->responders) {
        gossip_responder_t *r = g->responders;
        g->responders = r->next;
        free(r);
    }
    g->n_responders = 0;
}
