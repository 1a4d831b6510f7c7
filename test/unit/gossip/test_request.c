/*
 * test_request.c — the gossip transport live, in one process on 127.0.0.1:
 * the sync frame tables (an unknown first byte is malformed), the member
 * request channel between two gossip instances on one evloop (answered,
 * deferred, refused, timed out exactly once, a late answer counted, the
 * per-peer limit, a non-member refused by ZAP before any handler runs,
 * cancelled at destroy), and the fault hooks (refused unless allowed; a
 * partition makes requests time out both ways; delays hold messages
 * without blocking the loop).
 *
 * No sleeps: the loop runs until a condition holds, bounded by a deadline
 * that fails the check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "crypto.h"
#include "evloop.h"
#include "gossip_internal.h"

#define DEADLINE_MS 10000   /* any wait below; a loaded host stays far inside it */
#define HELD_MAX 8

typedef enum { ANSWER_NOW, DEFER, REFUSE } tmode_t;

typedef struct {
    vl_key_t *key;
    char pem[300];
    gossip_t *g;
    /* the request handler's record */
    tmode_t mode;
    int requests;
    uint32_t last_kind;
    uint8_t last_peer[32];
    char last_body[64];
    gossip_responder_t *held[HELD_MAX];
    size_t n_held;
} tnode_t;

typedef struct {
    int calls;
    int status;
    char body[64];
    int64_t at_ms;
} reply_t;

static char s_dir[256];
static int s_seq;

static uint64_t
s_height(void *arg)
{
    return 0;
}

static int
s_get_block(void *arg, uint64_t height, uint8_t **bytes, size_t *len)
{
    return VL_ERR_NOT_FOUND;
}

static void
s_pulled(void *arg, const uint8_t *bytes, size_t len)
{
}

static void
s_on_request(void *arg, const uint8_t peer[VL_PUBKEY_SIZE], uint32_t kind, const uint8_t *body,
             size_t len, gossip_responder_t *r)
{
    tnode_t *n = arg;
    n->requests++;
    n->last_kind = kind;
    memcpy(n->last_peer, peer, 32);
    snprintf(n->last_body, sizeof n->last_body, "%.*s", (int) len, (const char *) body);
    if (n->mode == ANSWER_NOW) {
        char out[80];
        int k = snprintf(out, sizeof out, "re:%s", n->last_body);
        CHECK_EQ(gossip_respond(n->g, &r, 0, out, (size_t) k), 0);
        CHECK(r == NULL);
    } else if (n->mode == REFUSE) {
        CHECK_EQ(gossip_respond(n->g, &r, VL_ERR_CONFLICT, "stale read", 10), 0);
    } else if (n->n_held < HELD_MAX) {
        n->held[n->n_held++] = r;
    } else {
        gossip_respond(n->g, &r, VL_ERR_LIMIT, NULL, 0);
    }
}

static void
s_reply(void *arg, int status, const uint8_t *body, size_t len)
{
    reply_t *r = arg;
    r->calls++;
    r->status = status;
    r->at_ms = vl_mono_ms();
    snprintf(r->body, sizeof r->body, "%.*s", (int) len, body ? (const char *) body : "");
}

static uint8_t s_genesis_byte;   /* the next s_node's genesis hash: 32 of these */

static void
s_node(tnode_t *n, bool faults_allowed)
{
    memset(n, 0, sizeof *n);
    n->key = vl_key_generate();
    snprintf(n->pem, sizeof n->pem, "%s/k%d.pem", s_dir, s_seq++);
    vl_err_t err = { "" };
    CHECK_EQ(vl_key_save_pem(n->key, n->pem, &err), 0);
    gossip_config_t c;
    gossip_config_defaults(&c);
    snprintf(c.gossip_endpoint, sizeof c.gossip_endpoint, "tcp://127.0.0.1:0");
    snprintf(c.sync_endpoint, sizeof c.sync_endpoint, "tcp://127.0.0.1:0");
    c.request_per_peer = 2;
    c.faults_allowed = faults_allowed;
    memset(c.genesis_hash, s_genesis_byte, sizeof c.genesis_hash);
    gossip_handler_t h = { .arg = n, .height = s_height, .get_block = s_get_block,
                           .pulled = s_pulled };
    n->g = gossip_new(&c, n->key, n->pem, &h, &err);
    CHECK(n->g != NULL);
    gossip_set_request_handler(n->g, s_on_request, n);
}

static void
s_node_free(tnode_t *n)
{
    gossip_destroy(&n->g);
    unlink(n->pem);
    vl_key_destroy(&n->key);
}

/* a admits b (and learns its endpoints once b is started). */
static void
s_admit(tnode_t *a, tnode_t *b)
{
    CHECK_EQ(gossip_admit(a->g, vl_key_public(b->key), "peer"), 0);
}

static void
s_learn(tnode_t *a, tnode_t *b)
{
    CHECK_EQ(gossip_add_peer(a->g, vl_key_public(b->key), gossip_endpoint(b->g),
                             gossip_sync_endpoint(b->g)),
             0);
}

static void
s_start(tnode_t *n, evloop_t *loop)
{
    vl_err_t err = { "" };
    CHECK_EQ(gossip_start(n->g, loop, &err), 0);
    CHECK_CONTAINS(gossip_sync_endpoint(n->g), "tcp://127.0.0.1:");
}

/* --- Running the loop until a condition holds ------------------------------ */

typedef bool (*cond_fn)(void *arg);

typedef struct {
    cond_fn cond;
    void *arg;
    bool met;
} wait_t;

static int
s_poll(evloop_t *loop, int id, void *arg)
{
    wait_t *w = arg;
    if (w->cond && w->cond(w->arg)) {
        w->met = true;
        return -1;
    }
    return 0;
}

static int
s_deadline(evloop_t *loop, int id, void *arg)
{
    return -1;
}

/* Runs loop until cond(arg) (NULL: for ms), at most ms; returns whether it
 * held (NULL cond: true once ms have passed). */
static bool
s_run(evloop_t *loop, cond_fn cond, void *arg, int64_t ms)
{
    wait_t w = { cond, arg, false };
    int poll = evloop_timer(loop, 2, 0, s_poll, &w);
    int deadline = evloop_timer(loop, ms, 1, s_deadline, NULL);
    evloop_run(loop);
    evloop_timer_end(loop, poll);
    evloop_timer_end(loop, deadline);
    return cond ? w.met : true;
}

static bool
s_replied(void *arg)
{
    return ((reply_t *) arg)->calls > 0;
}

typedef struct {
    tnode_t *n;
    size_t held;
} held_t;

static bool
s_holds(void *arg)
{
    held_t *h = arg;
    return h->n->n_held >= h->held;
}

/* Two members on one loop, each knowing the other. */
static void
s_pair(evloop_t *loop, tnode_t *a, tnode_t *b, bool faults_allowed)
{
    s_node(a, faults_allowed);
    s_node(b, faults_allowed);
    s_admit(a, b);
    s_admit(b, a);
    s_start(a, loop);
    s_start(b, loop);
    s_learn(a, b);
    s_learn(b, a);
}

/* --- Frame tables ---------------------------------------------------------- */

static void
s_router(gossip_t *g, const char *cmd, size_t cmd_len, const void *a, size_t alen,
         const void *b, size_t blen)
{
    gossip_frames_t f = { 1, { (const uint8_t *) cmd }, { cmd_len } };
    if (a) {
        f.data[f.n] = a;
        f.len[f.n++] = alen;
    }
    if (b) {
        f.data[f.n] = b;
        f.len[f.n++] = blen;
    }
    gossip_link_t from = { .kind = GOSSIP_LINK_ROUTER, .who = (const uint8_t *) "w", .who_len = 1 };
    gossip_sync_router_in(g, &from, &f);
}

static void
test_frame_tables(void)
{
    tnode_t n;
    s_node(&n, false);
    const gossip_stats_t *st = gossip_stats(n.g);
    uint8_t id[8] = { 0 };
    /* Unknown first bytes, on either side, are malformed. */
    for (int c = 0; c < 256; c++) {
        if (strchr("EDQHR", c) && c)
            continue;
        char cmd = (char) c;
        uint64_t before = st->sync_malformed;
        s_router(n.g, &cmd, 1, id, 8, "x", 1);
        CHECK_EQ(st->sync_malformed, before + 1);
    }
    uint64_t before = st->sync_malformed;
    gossip_frames_t z = { 3, { (const uint8_t *) "Z", id, (const uint8_t *) "x" }, { 1, 8, 1 } };
    gossip_sync_dealer_in(n.g, vl_key_public(n.key), &z);
    CHECK_EQ(st->sync_malformed, before + 1);
    /* Known bytes in the wrong shape: a two-byte command, a short id, too
     * many frames, an empty message. */
    s_router(n.g, "QQ", 2, id, 8, "x", 1);
    s_router(n.g, "Q", 1, id, 7, "x", 1);
    s_router(n.g, "E", 1, "x", 1, "y", 1);
    gossip_frames_t none = { 0 };
    gossip_link_t from = { .kind = GOSSIP_LINK_ROUTER, .who = (const uint8_t *) "w", .who_len = 1 };
    gossip_sync_router_in(n.g, &from, &none);
    gossip_frames_t a_short = { 2, { (const uint8_t *) "A", id }, { 1, 8 } };
    gossip_sync_dealer_in(n.g, vl_key_public(n.key), &a_short);
    CHECK_EQ(st->sync_malformed, before + 6);
    /* The right shape reaches its handler: garbage in an `E` is a malformed
     * envelope, not a malformed sync frame. */
    uint64_t env_before = st->malformed;
    s_router(n.g, "E", 1, "garbage", 7, NULL, 0);
    CHECK_EQ(st->malformed, env_before + 1);
    CHECK_EQ(st->sync_malformed, before + 6);
    /* An answer to no pending request is counted late; a request from a
     * connection nobody authenticated is dropped. */
    uint8_t status[4] = { 0 };
    gossip_frames_t p = { 4, { (const uint8_t *) "P", id, status, (const uint8_t *) "" },
                          { 1, 8, 4, 0 } };
    gossip_sync_dealer_in(n.g, vl_key_public(n.key), &p);
    CHECK_EQ(st->late_replies, 1);
    uint8_t head[8] = { 0 };
    gossip_frames_t r = { 4, { (const uint8_t *) "R", id, head, (const uint8_t *) "b" },
                          { 1, 8, 8, 1 } };
    gossip_sync_router_in(n.g, &from, &r);
    CHECK_EQ(st->sync_malformed, before + 7);
    CHECK_EQ(n.requests, 0);
    s_node_free(&n);
}

/* --- Requests -------------------------------------------------------------- */

static void
test_request_answered(void)
{
    evloop_t *loop = evloop_new();
    tnode_t a, b;
    s_pair(loop, &a, &b, false);
    reply_t rep = { 0 };
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 7, "ping", 4, 5000, s_reply, &rep), 0);
    CHECK_EQ(rep.calls, 0);   /* never from inside gossip_request */
    CHECK(s_run(loop, s_replied, &rep, DEADLINE_MS));
    CHECK_EQ(rep.calls, 1);
    CHECK_EQ(rep.status, 0);
    CHECK_STR(rep.body, "re:ping");
    CHECK_EQ(b.requests, 1);
    CHECK_EQ(b.last_kind, 7);
    CHECK(memcmp(b.last_peer, vl_key_public(a.key), 32) == 0);   /* CURVE's word, not the message's */
    CHECK_STR(b.last_body, "ping");
    CHECK_EQ(gossip_stats(a.g)->requests_sent, 1);
    CHECK_EQ(gossip_stats(b.g)->requests_served, 1);
    /* An empty body, the other way round. */
    reply_t back = { 0 };
    CHECK_EQ(gossip_request(b.g, vl_key_public(a.key), 0, NULL, 0, 5000, s_reply, &back), 0);
    CHECK(s_run(loop, s_replied, &back, DEADLINE_MS));
    CHECK_EQ(back.status, 0);
    CHECK_STR(back.body, "re:");
    /* Refused by the handler (any code arrives as refused, with its reason),
     * and with no handler at all. */
    b.mode = REFUSE;
    reply_t no = { 0 };
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 8, "x", 1, 5000, s_reply, &no), 0);
    CHECK(s_run(loop, s_replied, &no, DEADLINE_MS));
    CHECK_EQ(no.status, VL_ERR_REFUSED);
    CHECK_STR(no.body, "stale read");
    gossip_set_request_handler(b.g, NULL, NULL);
    reply_t none = { 0 };
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 9, "x", 1, 5000, s_reply, &none), 0);
    CHECK(s_run(loop, s_replied, &none, DEADLINE_MS));
    CHECK_EQ(none.status, VL_ERR_REFUSED);
    CHECK_STR(none.body, "no request handler");
    CHECK_EQ(gossip_stats(b.g)->requests_refused, 2);
    /* Refused before sending: bad arguments, unknown peers, oversize. */
    reply_t bad = { 0 };
    uint8_t stranger[32] = { 9 };
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 1, "x", 1, 0, s_reply, &bad),
             VL_ERR_INVALID);
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 1, "x", 1, 5000, NULL, &bad),
             VL_ERR_INVALID);
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 1, NULL, 1, 5000, s_reply, &bad),
             VL_ERR_INVALID);
    CHECK_EQ(gossip_request(a.g, stranger, 1, "x", 1, 5000, s_reply, &bad), VL_ERR_NOT_FOUND);
    CHECK_EQ(gossip_request(a.g, vl_key_public(a.key), 1, "x", 1, 5000, s_reply, &bad),
             VL_ERR_NOT_FOUND);
    uint8_t *big = calloc(1, GOSSIP_REQUEST_MAX_BYTES + 1);
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 1, big, GOSSIP_REQUEST_MAX_BYTES + 1, 5000,
                            s_reply, &bad),
             VL_ERR_LIMIT);
    free(big);
    CHECK_EQ(bad.calls, 0);
    s_node_free(&a);
    s_node_free(&b);
    evloop_destroy(&loop);
    /* Not started. */
    tnode_t c;
    s_node(&c, false);
    CHECK_EQ(gossip_request(c.g, vl_key_public(c.key), 1, "x", 1, 5000, s_reply, &bad),
             VL_ERR_STATE);
    s_node_free(&c);
}

static int
s_answer_held(evloop_t *loop, int id, void *arg)
{
    tnode_t *n = arg;
    for (size_t i = 0; i < n->n_held; i++)
        CHECK_EQ(gossip_respond(n->g, &n->held[i], 0, "later", 5), 0);
    n->n_held = 0;
    return 0;
}

/* The handler keeps the responder; the answer goes out later from the loop
 * (as a worker's result posted back would). */
static void
test_request_deferred(void)
{
    evloop_t *loop = evloop_new();
    tnode_t a, b;
    s_pair(loop, &a, &b, false);
    b.mode = DEFER;
    reply_t rep = { 0 };
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 3, "slow", 4, 5000, s_reply, &rep), 0);
    held_t h = { &b, 1 };
    CHECK(s_run(loop, s_holds, &h, DEADLINE_MS));
    CHECK_EQ(rep.calls, 0);
    evloop_timer(loop, 30, 1, s_answer_held, &b);
    CHECK(s_run(loop, s_replied, &rep, DEADLINE_MS));
    CHECK_EQ(rep.calls, 1);
    CHECK_EQ(rep.status, 0);
    CHECK_STR(rep.body, "later");
    /* Oversize answer: the asker hears limit. */
    reply_t big = { 0 };
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 3, "big", 3, 5000, s_reply, &big), 0);
    CHECK(s_run(loop, s_holds, &h, DEADLINE_MS));
    uint8_t *body = calloc(1, GOSSIP_REQUEST_MAX_BYTES + 1);
    CHECK_EQ(gossip_respond(b.g, &b.held[0], 0, body, GOSSIP_REQUEST_MAX_BYTES + 1), VL_ERR_LIMIT);
    CHECK(b.held[0] == NULL);
    b.n_held = 0;
    free(body);
    CHECK(s_run(loop, s_replied, &big, DEADLINE_MS));
    CHECK_EQ(big.status, VL_ERR_LIMIT);
    s_node_free(&a);
    s_node_free(&b);
    evloop_destroy(&loop);
}

/* A timeout fires once; the answer after it is dropped and counted; a
 * timed-out request's slot on the server is freed at the asker's deadline. */
static void
test_request_timeout(void)
{
    evloop_t *loop = evloop_new();
    tnode_t a, b;
    s_pair(loop, &a, &b, false);
    b.mode = DEFER;
    reply_t rep = { 0 };
    int64_t t0 = vl_mono_ms();
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 1, "x", 1, 150, s_reply, &rep), 0);
    held_t h = { &b, 1 };
    CHECK(s_run(loop, s_holds, &h, DEADLINE_MS));
    CHECK(s_run(loop, s_replied, &rep, DEADLINE_MS));
    CHECK_EQ(rep.status, VL_ERR_TIMEOUT);
    CHECK(rep.at_ms - t0 >= 150);
    CHECK_EQ(b.n_held, 1);
    s_run(loop, NULL, NULL, 300);   /* nothing more may come */
    CHECK_EQ(rep.calls, 1);
    CHECK_EQ(gossip_stats(a.g)->request_timeouts, 1);
    /* The server's slot was released at the deadline (the tick). */
    int slot = gossip_peer_slot(b.g, vl_key_public(a.key));
    CHECK(slot >= 0);
    CHECK_EQ(b.g->served[slot], 0);
    CHECK_EQ(b.g->n_responders, 1);
    /* The answer comes late. */
    CHECK_EQ(gossip_respond(b.g, &b.held[0], 0, "late", 4), 0);
    b.n_held = 0;
    CHECK_EQ(b.g->n_responders, 0);
    CHECK_EQ(b.g->served[slot], 0);
    int64_t until = vl_mono_ms() + DEADLINE_MS;
    while (gossip_stats(a.g)->late_replies == 0 && vl_mono_ms() < until)
        s_run(loop, NULL, NULL, 20);
    CHECK_EQ(gossip_stats(a.g)->late_replies, 1);
    CHECK_EQ(rep.calls, 1);
    CHECK_EQ(a.g->n_pending, 0);
    s_node_free(&a);
    s_node_free(&b);
    evloop_destroy(&loop);
}

/* request_per_peer (2 here) held: the next request is answered limit at
 * once; answering frees the slots. */
static void
test_request_per_peer_limit(void)
{
    evloop_t *loop = evloop_new();
    tnode_t a, b;
    s_pair(loop, &a, &b, false);
    b.mode = DEFER;
    reply_t r[3] = { { 0 } };
    for (int i = 0; i < 3; i++)
        CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 1, "x", 1, 5000, s_reply, &r[i]), 0);
    CHECK(s_run(loop, s_replied, &r[2], DEADLINE_MS));
    CHECK_EQ(r[2].status, VL_ERR_LIMIT);
    CHECK_EQ(r[0].calls + r[1].calls, 0);
    CHECK_EQ(b.n_held, 2);
    CHECK_EQ(b.requests, 2);   /* the third never reached the handler */
    CHECK_EQ(gossip_stats(b.g)->requests_limited, 1);
    s_answer_held(loop, 0, &b);
    CHECK(s_run(loop, s_replied, &r[1], DEADLINE_MS));
    CHECK_EQ(r[0].status, 0);
    CHECK_EQ(r[1].status, 0);
    /* Free again. */
    reply_t again = { 0 };
    b.mode = ANSWER_NOW;
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 1, "y", 1, 5000, s_reply, &again), 0);
    CHECK(s_run(loop, s_replied, &again, DEADLINE_MS));
    CHECK_EQ(again.status, 0);
    /* Our own bound: config.request_outstanding. */
    a.g->config.request_outstanding = 1;
    b.mode = DEFER;
    reply_t one = { 0 }, two = { 0 };
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 1, "z", 1, 5000, s_reply, &one), 0);
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 1, "z", 1, 5000, s_reply, &two),
             VL_ERR_LIMIT);
    /* Destroying the asker cancels what it waits for; destroying the server
     * frees the responders it holds (ASan checks both). */
    held_t h = { &b, 1 };
    CHECK(s_run(loop, s_holds, &h, DEADLINE_MS));
    s_node_free(&a);
    CHECK_EQ(one.calls, 1);
    CHECK_EQ(one.status, VL_ERR_STATE);
    CHECK_EQ(two.calls, 0);
    s_node_free(&b);
    evloop_destroy(&loop);
}

typedef struct {
    tnode_t *n;
    reply_t *rep;
} denied_t;

static bool
s_denied_and_replied(void *arg)
{
    denied_t *d = arg;
    return gossip_stats(d->n->g)->zap_denied > 0 && d->rep->calls > 0;
}

/* c knows b, but b does not admit c: the CURVE handshake is refused by
 * ZAP, so c's request never reaches b's handler, and c times out. */
static void
test_request_non_member(void)
{
    evloop_t *loop = evloop_new();
    tnode_t b, c;
    s_node(&b, false);
    s_node(&c, false);
    s_admit(&c, &b);
    s_start(&b, loop);
    s_start(&c, loop);
    s_learn(&c, &b);
    reply_t rep = { 0 };
    CHECK_EQ(gossip_request(c.g, vl_key_public(b.key), 1, "let me in", 9, 300, s_reply, &rep), 0);
    denied_t d = { &b, &rep };
    CHECK(s_run(loop, s_denied_and_replied, &d, DEADLINE_MS));
    CHECK_EQ(rep.status, VL_ERR_TIMEOUT);
    CHECK_EQ(b.requests, 0);
    CHECK_EQ(gossip_stats(b.g)->requests_served, 0);
    CHECK(gossip_stats(b.g)->zap_denied > 0);
    s_node_free(&c);
    s_node_free(&b);
    evloop_destroy(&loop);
}

/* --- Fault hooks ----------------------------------------------------------- */

static void
test_faults_not_allowed(void)
{
    static gossip_faults_t f;
    memset(&f, 0, sizeof f);
    tnode_t n, m;
    s_node(&n, false);
    s_node(&m, true);
    CHECK_EQ(gossip_set_faults(n.g, &f), VL_ERR_STATE);
    CHECK_EQ(gossip_set_faults(n.g, NULL), VL_ERR_STATE);
    CHECK(n.g->faults == NULL);
    f.drop_ppm = GOSSIP_FAULT_PPM + 1;
    CHECK_EQ(gossip_set_faults(m.g, &f), VL_ERR_INVALID);
    f.drop_ppm = 0;
    CHECK_EQ(gossip_set_faults(m.g, &f), 0);
    CHECK_EQ(gossip_set_faults(m.g, NULL), 0);
    s_node_free(&n);
    s_node_free(&m);
}

/* a holds a partition {b}: a's requests to b and b's to a time out (a
 * drops on send and on receipt); lifting it restores the link. */
static void
test_faults_partition_times_out(void)
{
    evloop_t *loop = evloop_new();
    tnode_t a, b;
    s_pair(loop, &a, &b, true);
    /* First a working link, so what follows is the partition's doing. */
    reply_t ok = { 0 };
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 1, "hi", 2, 5000, s_reply, &ok), 0);
    CHECK(s_run(loop, s_replied, &ok, DEADLINE_MS));
    CHECK_EQ(ok.status, 0);
    static gossip_faults_t f;
    memset(&f, 0, sizeof f);
    f.seed = 1;
    memcpy(f.partition[0], vl_key_public(b.key), 32);
    f.n_partition = 1;
    CHECK_EQ(gossip_set_faults(a.g, &f), 0);
    int served = b.requests;
    reply_t to_b = { 0 }, to_a = { 0 };
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 1, "cut", 3, 200, s_reply, &to_b), 0);
    CHECK_EQ(gossip_request(b.g, vl_key_public(a.key), 1, "cut", 3, 200, s_reply, &to_a), 0);
    CHECK(s_run(loop, s_replied, &to_b, DEADLINE_MS));
    CHECK(s_run(loop, s_replied, &to_a, DEADLINE_MS));
    CHECK_EQ(to_b.status, VL_ERR_TIMEOUT);
    CHECK_EQ(to_a.status, VL_ERR_TIMEOUT);
    CHECK_EQ(b.requests, served);
    CHECK_EQ(a.requests, 0);
    CHECK(gossip_stats(a.g)->faults_dropped >= 2);
    CHECK_EQ(gossip_set_faults(a.g, NULL), 0);
    reply_t healed = { 0 };
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 1, "back", 4, 5000, s_reply, &healed), 0);
    CHECK(s_run(loop, s_replied, &healed, DEADLINE_MS));
    CHECK_EQ(healed.status, 0);
    CHECK_STR(healed.body, "re:back");
    s_node_free(&a);
    s_node_free(&b);
    evloop_destroy(&loop);
}

static int
s_tick_count(evloop_t *loop, int id, void *arg)
{
    (*(int *) arg)++;
    return 0;
}

/* Every message of a's delayed by 80 ms, both ways: the answer comes after
 * two delays, and the loop kept running meanwhile (a 5 ms timer ticked). */
static void
test_faults_delay(void)
{
    evloop_t *loop = evloop_new();
    tnode_t a, b;
    s_pair(loop, &a, &b, true);
    static gossip_faults_t f;
    memset(&f, 0, sizeof f);
    f.seed = 7;
    f.delay_ppm = GOSSIP_FAULT_PPM;
    f.delay_ms = 80;
    CHECK_EQ(gossip_set_faults(a.g, &f), 0);
    int ticks = 0;
    int t = evloop_timer(loop, 5, 0, s_tick_count, &ticks);
    reply_t rep = { 0 };
    int64_t t0 = vl_mono_ms();
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 1, "wait", 4, 5000, s_reply, &rep), 0);
    CHECK(s_run(loop, s_replied, &rep, DEADLINE_MS));
    evloop_timer_end(loop, t);
    CHECK_EQ(rep.status, 0);
    CHECK_STR(rep.body, "re:wait");
    CHECK(rep.at_ms - t0 >= 160);
    CHECK(ticks >= 10);
    CHECK(gossip_stats(a.g)->faults_delayed >= 2);
    /* Detach drops whatever is still delayed (ASan: nothing leaks). */
    reply_t pending = { 0 };
    CHECK_EQ(gossip_request(a.g, vl_key_public(b.key), 1, "never", 5, 5000, s_reply, &pending), 0);
    gossip_detach(a.g);
    CHECK_EQ(pending.calls, 1);
    CHECK_EQ(pending.status, VL_ERR_STATE);
    CHECK(a.g->delayed == NULL);
    s_node_free(&a);
    s_node_free(&b);
    evloop_destroy(&loop);
}

static bool
s_refused_both(void *arg)
{
    tnode_t *n = arg;
    gossip_peer_t *ab = gossip_members_at(gossip_members(n[0].g), 0);
    gossip_peer_t *ba = gossip_members_at(gossip_members(n[1].g), 0);
    return ab->refused && ba->refused;
}

static bool
s_alive_both(void *arg)
{
    tnode_t *n = arg;
    gossip_peer_t *ab = gossip_members_at(gossip_members(n[0].g), 0);
    gossip_peer_t *ba = gossip_members_at(gossip_members(n[1].g), 0);
    return !ab->refused && !ba->refused && ab->state == GOSSIP_PEER_ALIVE
           && ba->state == GOSSIP_PEER_ALIVE;
}

/* Two members whose heartbeats carry different genesis hashes refuse each
 * other (each side, with the reason; counted), never mark the other alive,
 * and serve it nothing; members of one genesis come alive. */
static void
test_genesis_mismatch_refused(void)
{
    evloop_t *loop = evloop_new();
    tnode_t n[2];
    s_genesis_byte = 1;
    s_node(&n[0], false);
    s_genesis_byte = 2;
    s_node(&n[1], false);
    s_genesis_byte = 0;
    s_admit(&n[0], &n[1]);
    s_admit(&n[1], &n[0]);
    s_start(&n[0], loop);
    s_start(&n[1], loop);
    s_learn(&n[0], &n[1]);
    s_learn(&n[1], &n[0]);
    CHECK(s_run(loop, s_refused_both, n, DEADLINE_MS));
    gossip_peer_t *p = gossip_members_at(gossip_members(n[0].g), 0);
    CHECK_CONTAINS(p->refused_reason, "genesis hash differs: ours 0101010101010101..., theirs "
                                      "0202020202020202...");
    CHECK(p->state != GOSSIP_PEER_ALIVE);
    CHECK(!p->in_mesh);
    CHECK(gossip_stats(n[0].g)->genesis_refused > 0);
    CHECK(gossip_stats(n[1].g)->genesis_refused > 0);
    /* Nothing is sent to a refused peer. */
    reply_t rep = { 0 };
    CHECK_EQ(gossip_request(n[0].g, vl_key_public(n[1].key), 7, "ping", 4, 300, s_reply, &rep),
             VL_ERR_NOT_FOUND);
    CHECK_EQ(n[1].requests, 0);
    s_node_free(&n[0]);
    s_node_free(&n[1]);
    /* The same genesis: alive, not refused. */
    s_genesis_byte = 3;
    s_pair(loop, &n[0], &n[1], false);
    s_genesis_byte = 0;
    CHECK(s_run(loop, s_alive_both, n, DEADLINE_MS));
    CHECK_EQ(gossip_stats(n[0].g)->genesis_refused, 0);
    s_node_free(&n[0]);
    s_node_free(&n[1]);
    evloop_destroy(&loop);
}

/* --- Which envelope signatures are checked --------------------------------- */

typedef struct {
    int calls;
    int last_type;
} deliveries_t;

static void
s_deliver(void *arg, int type, const uint8_t origin[VL_PUBKEY_SIZE], const uint8_t *payload,
          size_t len)
{
    deliveries_t *d = arg;
    d->calls++;
    d->last_type = type;
}

/* A member's envelope of type with its signature broken. */
static void
s_forge(const vl_key_t *key, int type, uint64_t nonce, uint8_t **out, size_t *len)
{
    CHECK_EQ(gossip_envelope_seal(key, type, "payload", 7, vl_wall_ms(), nonce, out, len), 0);
    (*out)[*len - 1] ^= 0xff;
}

/* Types the handler checks by their payloads' own signatures are delivered
 * without the envelope's signature check (counted); every other type's
 * forged envelope is refused and counted, and heartbeats, joins and claims
 * stay checked even when a handler names them. */
static void
test_payload_checked_types(void)
{
    vl_key_t *self = vl_key_generate(), *member = vl_key_generate();
    gossip_config_t c;
    gossip_config_defaults(&c);
    deliveries_t d = { 0 };
    gossip_handler_t h = { .arg = &d, .deliver = s_deliver, .height = s_height,
                           .get_block = s_get_block, .pulled = s_pulled,
                           .payload_checked_types = (1u << VL__ENVELOPE_TYPE__ENV_TRANSACTION)
                                                    | (1u << VL__ENVELOPE_TYPE__ENV_HEARTBEAT)
                                                    | (1u << VL__ENVELOPE_TYPE__ENV_CLAIM) };
    vl_err_t err = { "" };
    char pem[300];
    snprintf(pem, sizeof pem, "%s/k%d.pem", s_dir, s_seq++);
    CHECK_EQ(vl_key_save_pem(self, pem, &err), 0);
    gossip_t *g = gossip_new(&c, self, pem, &h, &err);
    CHECK(g != NULL);
    if (!g)
        return;
    CHECK_EQ(gossip_admit(g, vl_key_public(member), "member"), 0);
    uint8_t *b = NULL;
    size_t n = 0;
    s_forge(member, VL__ENVELOPE_TYPE__ENV_TRANSACTION, 1, &b, &n);
    gossip_on_envelope(g, b, n);
    free(b);
    CHECK_EQ(d.calls, 1);
    CHECK_EQ(d.last_type, VL__ENVELOPE_TYPE__ENV_TRANSACTION);
    CHECK_EQ(gossip_stats(g)->payload_checked, 1);
    CHECK_EQ(gossip_stats(g)->bad_signature, 0);
    static const int checked[] = { VL__ENVELOPE_TYPE__ENV_VOTE, VL__ENVELOPE_TYPE__ENV_HEARTBEAT,
                                   VL__ENVELOPE_TYPE__ENV_CLAIM, VL__ENVELOPE_TYPE__ENV_JOIN };
    for (size_t i = 0; i < sizeof checked / sizeof *checked; i++) {
        s_forge(member, checked[i], 10 + i, &b, &n);
        gossip_on_envelope(g, b, n);
        free(b);
        CHECK_EQ(gossip_stats(g)->bad_signature, i + 1);
    }
    CHECK_EQ(d.calls, 1);
    CHECK_EQ(gossip_stats(g)->payload_checked, 1);
    /* A non-member's envelope is refused before any signature question. */
    vl_key_t *stranger = vl_key_generate();
    CHECK_EQ(gossip_envelope_seal(stranger, VL__ENVELOPE_TYPE__ENV_TRANSACTION, "p", 1,
                                  vl_wall_ms(), 99, &b, &n),
             0);
    gossip_on_envelope(g, b, n);
    free(b);
    CHECK_EQ(d.calls, 1);
    CHECK_EQ(gossip_stats(g)->not_member, 1);
    gossip_destroy(&g);
    unlink(pem);
    vl_key_destroy(&stranger);
    vl_key_destroy(&self);
    vl_key_destroy(&member);
}

/* In a full mesh a copy straight from its origin is relayed only for the
 * small types (heartbeats, joins, claims, votes); a relayed copy (hops > 0)
 * and every type beyond full mesh are relayed. */
static void
test_full_mesh_relay(void)
{
    evloop_t *loop = evloop_new();
    vl_key_t *member = vl_key_generate();
    for (int full = 1; full >= 0; full--) {
        tnode_t a;
        s_node(&a, false);
        if (!full)
            a.g->config.full_mesh_max = 0;
        s_start(&a, loop);
        CHECK_EQ(gossip_admit(a.g, vl_key_public(member), "member"), 0);
        static const int types[] = { VL__ENVELOPE_TYPE__ENV_TRANSACTION,
                                     VL__ENVELOPE_TYPE__ENV_PROPOSAL,
                                     VL__ENVELOPE_TYPE__ENV_BLOCK, VL__ENVELOPE_TYPE__ENV_VOTE };
        for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
            uint8_t *b = NULL;
            size_t n = 0;
            CHECK_EQ(gossip_envelope_seal(member, types[i], "p", 1, vl_wall_ms(), i, &b, &n), 0);
            gossip_on_envelope(a.g, b, n);
            free(b);
        }
        const gossip_stats_t *st = gossip_stats(a.g);
        CHECK_EQ(st->relayed, full ? 1 : 4);
        CHECK_EQ(st->relay_skipped, full ? 3 : 0);
        /* A copy that was relayed on its way here is relayed on. */
        gossip_envelope_t e;
        uint8_t *b = NULL, *hop = NULL;
        size_t n = 0, hn = 0;
        vl_err_t err = { "" };
        CHECK_EQ(gossip_envelope_seal(member, VL__ENVELOPE_TYPE__ENV_TRANSACTION, "q", 1,
                                      vl_wall_ms(), 9, &b, &n),
                 0);
        CHECK_EQ(gossip_envelope_parse(b, n, &e, &err), 0);
        CHECK_EQ(gossip_envelope_pack_hops(&e, 1, &hop, &hn), 0);
        gossip_envelope_clear(&e);
        gossip_on_envelope(a.g, hop, hn);
        free(b);
        free(hop);
        CHECK_EQ(st->relayed, full ? 2 : 5);
        s_node_free(&a);
    }
    vl_key_destroy(&member);
    evloop_destroy(&loop);
}

int
main(void)
{
    if (!check_tmpdir(s_dir, sizeof s_dir)) {
        fprintf(stderr, "no temporary directory\n");
        return 1;
    }
    RUN(test_frame_tables);
    RUN(test_request_answered);
    RUN(test_request_deferred);
    RUN(test_request_timeout);
    RUN(test_request_per_peer_limit);
    RUN(test_request_non_member);
    RUN(test_faults_not_allowed);
    RUN(test_faults_partition_times_out);
    RUN(test_faults_delay);
    RUN(test_genesis_mismatch_refused);
    RUN(test_payload_checked_types);
    RUN(test_full_mesh_relay);
    rmdir(s_dir);
    return check_done();
}
