/* test_gossip.c — the pure gossip modules: envelopes, seen-cache,
 * membership and failure detection, mesh selection, pull scheduling, frame
 * layouts (big-endian lengths and ids), the fault decision function and the
 * delay queue, and the Ed25519 -> CURVE key derivation (checked against
 * libzmq). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "check.h"
#include "crypto.h"
#include "curve.h"
#include "envelope.h"
#include "error.h"
#include "faults.h"
#include "frame.h"
#include "membership.h"
#include "pull.h"
#include "seen.h"

static void
test_envelope_roundtrip(void)
{
    vl_key_t *k = vl_key_generate();
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK_EQ(gossip_envelope_seal(k, VL__ENVELOPE_TYPE__ENV_BLOCK, "hello", 5, 1000, 7, &b, &n), 0);
    gossip_envelope_t e;
    vl_err_t err = { "" };
    CHECK_EQ(gossip_envelope_parse(b, n, &e, &err), 0);
    CHECK_EQ(e.type, VL__ENVELOPE_TYPE__ENV_BLOCK);
    CHECK_EQ(e.payload_len, 5);
    CHECK(memcmp(e.payload, "hello", 5) == 0);
    CHECK(memcmp(e.origin, vl_key_public(k), 32) == 0);
    CHECK_EQ(e.hops, 0);
    CHECK_EQ(e.created_ms, 1000);
    CHECK(gossip_envelope_verify(&e));
    uint8_t id[32];
    memcpy(id, e.id, 32);
    /* Relaying changes hops but not the id, and the signature still holds. */
    uint8_t *r = NULL;
    size_t rn = 0;
    CHECK_EQ(gossip_envelope_pack_hops(&e, 3, &r, &rn), 0);
    gossip_envelope_clear(&e);
    CHECK_EQ(gossip_envelope_parse(r, rn, &e, &err), 0);
    CHECK_EQ(e.hops, 3);
    CHECK(memcmp(e.id, id, 32) == 0);
    CHECK(gossip_envelope_verify(&e));
    gossip_envelope_clear(&e);
    free(r);
    /* Same payload, other nonce: another id. */
    uint8_t *b2 = NULL;
    size_t n2 = 0;
    CHECK_EQ(gossip_envelope_seal(k, VL__ENVELOPE_TYPE__ENV_BLOCK, "hello", 5, 1000, 8, &b2, &n2), 0);
    CHECK_EQ(gossip_envelope_parse(b2, n2, &e, &err), 0);
    CHECK(memcmp(e.id, id, 32) != 0);
    gossip_envelope_clear(&e);
    free(b2);
    CHECK_EQ(gossip_envelope_seal(k, 0, "x", 1, 0, 0, &b2, &n2), VL_ERR_INVALID);
    CHECK_EQ(gossip_envelope_seal(k, 99, "x", 1, 0, 0, &b2, &n2), VL_ERR_INVALID);
    free(b);
    vl_key_destroy(&k);
}

static void
test_envelope_bad_input(void)
{
    vl_key_t *k = vl_key_generate(), *other = vl_key_generate();
    uint8_t *b = NULL;
    size_t n = 0;
    gossip_envelope_seal(k, VL__ENVELOPE_TYPE__ENV_TRANSACTION, "tx", 2, 1, 1, &b, &n);
    gossip_envelope_t e;
    vl_err_t err = { "" };
    CHECK_EQ(gossip_envelope_parse(NULL, 0, &e, &err), VL_ERR_INVALID);
    CHECK_EQ(gossip_envelope_parse((const uint8_t *) "garbage!", 8, &e, &err), VL_ERR_INVALID);
    /* Every truncation is refused or (if it still parses) fails the signature. */
    for (size_t cut = 1; cut < n; cut++) {
        if (gossip_envelope_parse(b, cut, &e, &err) == 0) {
            CHECK(!gossip_envelope_verify(&e));
            gossip_envelope_clear(&e);
        }
    }
    /* Flipping any bit of the body breaks the signature or the parse. */
    for (size_t i = 0; i < n; i++) {
        uint8_t *c = malloc(n);
        memcpy(c, b, n);
        c[i] ^= 0x01;
        if (gossip_envelope_parse(c, n, &e, &err) == 0) {
            CHECK(!gossip_envelope_verify(&e) || e.hops != 0);
            gossip_envelope_clear(&e);
        }
        free(c);
    }
    /* Forged: a body claiming k as origin, signed by another key. */
    Vl__EnvelopeBody body = VL__ENVELOPE_BODY__INIT;
    body.type = VL__ENVELOPE_TYPE__ENV_BLOCK;
    body.origin.data = (uint8_t *) vl_key_public(k);
    body.origin.len = 32;
    uint8_t bb[128];
    size_t bl = vl__envelope_body__pack(&body, bb);
    uint8_t sig[64];
    vl_key_sign(other, bb, bl, sig);
    Vl__Envelope env = VL__ENVELOPE__INIT;
    env.body.data = bb;
    env.body.len = bl;
    env.signature.data = sig;
    env.signature.len = 64;
    uint8_t eb[256];
    size_t el = vl__envelope__pack(&env, eb);
    CHECK_EQ(gossip_envelope_parse(eb, el, &e, &err), 0);
    CHECK(!gossip_envelope_verify(&e));
    gossip_envelope_clear(&e);
    /* Unsigned. */
    env.signature.len = 0;
    el = vl__envelope__pack(&env, eb);
    CHECK_EQ(gossip_envelope_parse(eb, el, &e, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "signature");
    /* Short origin. */
    body.origin.len = 5;
    bl = vl__envelope_body__pack(&body, bb);
    env.body.len = bl;
    env.signature.len = 64;
    el = vl__envelope__pack(&env, eb);
    CHECK_EQ(gossip_envelope_parse(eb, el, &e, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "origin");
    free(b);
    vl_key_destroy(&k);
    vl_key_destroy(&other);
}

static void
s_id(uint8_t id[32], uint32_t i)
{
    vl_sha256(&i, sizeof i, id);
}

static void
test_seen_expiry_and_bound(void)
{
    gossip_seen_t *s = gossip_seen_new(100, 1000);
    uint8_t id[32];
    s_id(id, 1);
    CHECK(!gossip_seen_contains(s, id, 0));
    CHECK(!gossip_seen_add(s, id, 0));
    CHECK(gossip_seen_contains(s, id, 999));
    CHECK(!gossip_seen_contains(s, id, 1000));   /* expired */
    CHECK_EQ(gossip_seen_size(s), 0);
    /* Capacity: the oldest goes first. */
    bool evicted = false;
    for (uint32_t i = 0; i < 250; i++) {
        s_id(id, i);
        evicted |= gossip_seen_add(s, id, 2000 + i / 10);
    }
    CHECK(evicted);
    CHECK_EQ(gossip_seen_size(s), 100);
    for (uint32_t i = 0; i < 250; i++) {
        s_id(id, i);
        CHECK_EQ(gossip_seen_contains(s, id, 2030), i >= 150);
    }
    /* Re-adding is a no-op. */
    s_id(id, 200);
    gossip_seen_add(s, id, 2030);
    CHECK_EQ(gossip_seen_size(s), 100);
    gossip_seen_destroy(&s);
    gossip_seen_destroy(&s);
    /* Heavy churn keeps the index consistent (backward-shift deletes). */
    s = gossip_seen_new(1000, 50);
    for (uint32_t i = 0; i < 100000; i++) {
        s_id(id, i);
        gossip_seen_add(s, id, i / 20);
        if (i % 997 == 0) {
            CHECK(gossip_seen_contains(s, id, i / 20));
            CHECK(gossip_seen_size(s) <= 1000);
        }
    }
    gossip_seen_destroy(&s);
}

static void
s_key(uint8_t k[32], int i)
{
    memset(k, 0, 32);
    k[0] = (uint8_t) i;
    k[1] = 0xAB;
}

static void
test_membership_states(void)
{
    uint8_t self[32], a[32], b[32], stranger[32];
    s_key(self, 0);
    s_key(a, 1);
    s_key(b, 2);
    s_key(stranger, 9);
    gossip_members_t *m = gossip_members_new(self, 100, 1500, 3000);
    CHECK_EQ(gossip_members_admit(m, self, "self"), 0);
    CHECK_EQ(gossip_members_admit(m, a, "a"), 0);
    CHECK_EQ(gossip_members_admit(m, b, "b"), 0);
    CHECK_EQ(gossip_members_admit(m, a, "a"), 0);
    CHECK_EQ(gossip_members_count(m), 2);
    CHECK(gossip_members_is_admitted(m, self, 32));
    CHECK(!gossip_members_is_admitted(m, stranger, 32));
    CHECK(!gossip_members_is_admitted(m, a, 31));
    CHECK_EQ(gossip_members_heard(m, stranger, 1, 0, NULL, NULL, 10), GOSSIP_HEARD_NOT_MEMBER);
    gossip_peer_t *pa = gossip_members_find(m, a, 32);
    CHECK_EQ(pa->state, GOSSIP_PEER_UNKNOWN);
    CHECK_EQ(gossip_members_heard(m, a, 5, 10, "tcp://a:1", "tcp://a:2", 1000), GOSSIP_HEARD_UP);
    CHECK_EQ(pa->state, GOSSIP_PEER_ALIVE);
    CHECK_STR(pa->gossip_ep, "tcp://a:1");
    CHECK_EQ(gossip_members_heard(m, a, 5, 12, NULL, NULL, 1200), GOSSIP_HEARD_ALIVE);
    CHECK_EQ(pa->height, 12);
    CHECK_EQ(gossip_members_max_height(m), 12);
    gossip_members_tick(m, 2600);
    CHECK_EQ(pa->state, GOSSIP_PEER_ALIVE);
    CHECK_EQ(gossip_members_tick(m, 2701), 1);
    CHECK_EQ(pa->state, GOSSIP_PEER_SUSPECT);
    CHECK_EQ(gossip_members_heard(m, a, 5, 12, NULL, NULL, 2800), GOSSIP_HEARD_UP);
    gossip_members_tick(m, 5801);
    CHECK_EQ(pa->state, GOSSIP_PEER_DEAD);
    CHECK_EQ(gossip_members_max_height(m), 0);
    /* A stale incarnation changes nothing; a higher one rejoins. */
    CHECK_EQ(gossip_members_heard(m, a, 4, 99, NULL, NULL, 6000), GOSSIP_HEARD_STALE);
    CHECK_EQ(pa->state, GOSSIP_PEER_DEAD);
    CHECK_EQ(gossip_members_heard(m, a, 6, 3, NULL, NULL, 6000), GOSSIP_HEARD_UP);
    CHECK_EQ(pa->state, GOSSIP_PEER_ALIVE);
    CHECK_EQ(pa->incarnation, 6);
    CHECK_EQ(pa->height, 3);
    /* Refutation: a claim that we are dead at our incarnation raises it. */
    CHECK(!gossip_members_report(m, self, 99, GOSSIP_PEER_ALIVE));
    CHECK(!gossip_members_report(m, self, 50, GOSSIP_PEER_DEAD));
    CHECK(gossip_members_report(m, self, 100, GOSSIP_PEER_SUSPECT));
    CHECK_EQ(gossip_members_incarnation(m), 101);
    CHECK(!gossip_members_report(m, a, 100, GOSSIP_PEER_DEAD));
    CHECK_EQ(pa->state, GOSSIP_PEER_ALIVE);   /* liveness is judged first-hand */
    CHECK(gossip_members_set_endpoints(m, b, "tcp://b:1", ""));
    CHECK(!gossip_members_set_endpoints(m, b, "tcp://b:1", NULL));
    CHECK(!gossip_members_set_endpoints(m, stranger, "tcp://s:1", NULL));
    gossip_members_destroy(&m);
}

static void
test_mesh_selection(void)
{
    uint8_t self[32], k[32];
    s_key(self, 0);
    gossip_members_t *m = gossip_members_new(self, 1, 100, 200);
    for (int i = 1; i <= 40; i++) {
        s_key(k, i);
        gossip_members_admit(m, k, NULL);
        if (i <= 30) {
            char ep[32];
            snprintf(ep, sizeof ep, "tcp://p:%d", i);
            gossip_members_set_endpoints(m, k, ep, ep);
        }
    }
    uint64_t rnd = 42;
    /* Full mesh when small enough: all with endpoints. */
    CHECK_EQ(gossip_members_select_mesh(m, 6, 64, &rnd), 30);
    for (size_t i = 0; i < 40; i++)
        gossip_members_at(m, i)->in_mesh = false;
    /* D peers, alive first. */
    for (int i = 1; i <= 10; i++) {
        s_key(k, i);
        gossip_members_heard(m, k, 1, 0, NULL, NULL, 10);
    }
    CHECK_EQ(gossip_members_select_mesh(m, 6, 12, &rnd), 6);
    size_t alive_in = 0;
    for (size_t i = 0; i < 40; i++) {
        gossip_peer_t *p = gossip_members_at(m, i);
        alive_in += p->in_mesh && p->state == GOSSIP_PEER_ALIVE;
        CHECK(!p->in_mesh || p->gossip_ep[0]);
    }
    CHECK_EQ(alive_in, 6);
    /* Stable: a repair keeps the same peers. */
    bool before[40];
    for (size_t i = 0; i < 40; i++)
        before[i] = gossip_members_at(m, i)->in_mesh;
    gossip_members_select_mesh(m, 6, 12, &rnd);
    for (size_t i = 0; i < 40; i++)
        CHECK_EQ(before[i], gossip_members_at(m, i)->in_mesh);
    /* A lost peer is replaced by another alive one. Keep 1..10 alive. */
    for (int i = 1; i <= 10; i++) {
        s_key(k, i);
        gossip_members_heard(m, k, 1, 0, NULL, NULL, 300);
    }
    size_t lost = 40;
    for (size_t i = 0; i < 40 && lost == 40; i++)
        if (gossip_members_at(m, i)->in_mesh)
            lost = i;
    gossip_members_at(m, lost)->last_seen_ms = 0;
    gossip_members_tick(m, 350);
    CHECK_EQ(gossip_members_at(m, lost)->state, GOSSIP_PEER_DEAD);
    CHECK_EQ(gossip_members_select_mesh(m, 6, 12, &rnd), 6);
    CHECK(!gossip_members_at(m, lost)->in_mesh);
    size_t still = 0;
    for (size_t i = 0; i < 40; i++)
        still += gossip_members_at(m, i)->in_mesh && before[i];
    CHECK_EQ(still, 5);
    gossip_members_destroy(&m);
}

/* A refused peer (another genesis: gossip.c sets refused) is never in the
 * mesh, full or partial, and comes back once the refusal ends. */
static void
test_mesh_refused(void)
{
    uint8_t self[32], k[32];
    s_key(self, 0);
    gossip_members_t *m = gossip_members_new(self, 1, 100, 200);
    for (int i = 1; i <= 20; i++) {
        char ep[32];
        s_key(k, i);
        gossip_members_admit(m, k, NULL);
        snprintf(ep, sizeof ep, "tcp://p:%d", i);
        gossip_members_set_endpoints(m, k, ep, ep);
        gossip_members_heard(m, k, 1, 0, NULL, NULL, 10);
    }
    uint64_t rnd = 7;
    gossip_peer_t *bad = gossip_members_at(m, 3);
    bad->refused = true;
    CHECK_EQ(gossip_members_select_mesh(m, 6, 64, &rnd), 19);    /* full mesh */
    CHECK(!bad->in_mesh);
    for (int round = 0; round < 20; round++) {                   /* partial, many draws */
        for (size_t i = 0; i < 20; i++)
            gossip_members_at(m, i)->in_mesh = i == 3;           /* even if it was in */
        CHECK_EQ(gossip_members_select_mesh(m, 19, 12, &rnd), 19);
        CHECK(!bad->in_mesh);
    }
    bad->refused = false;
    CHECK_EQ(gossip_members_select_mesh(m, 6, 64, &rnd), 20);
    CHECK(bad->in_mesh);
    gossip_members_destroy(&m);
}

static void
test_pull_scheduler(void)
{
    gossip_pull_t *p = gossip_pull_new(3, 100, 1000);
    gossip_pull_peer_t peers[4];
    for (int i = 0; i < 4; i++) {
        s_key(peers[i].key, i + 1);
        peers[i].height = 1000;
    }
    peers[3].height = 5;   /* too short for anything past 5 */
    uint64_t rnd = 7;
    gossip_pull_req_t r[4];
    CHECK(!gossip_pull_next(p, 1000, peers, 4, 0, &rnd, &r[0]));   /* caught up */
    CHECK(gossip_pull_next(p, 10, peers, 4, 0, &rnd, &r[0]));
    CHECK(gossip_pull_next(p, 10, peers, 4, 0, &rnd, &r[1]));
    CHECK(gossip_pull_next(p, 10, peers, 4, 0, &rnd, &r[2]));
    CHECK(!gossip_pull_next(p, 10, peers, 4, 0, &rnd, &r[3]));     /* 3 slots */
    CHECK_EQ(r[0].from, 11);
    CHECK_EQ(r[0].count, 100);
    CHECK_EQ(r[1].from, 111);
    CHECK_EQ(r[2].from, 211);
    /* Spread: three different peers, none of them the short one. */
    CHECK(memcmp(r[0].peer, r[1].peer, 32) && memcmp(r[1].peer, r[2].peer, 32)
          && memcmp(r[0].peer, r[2].peer, 32));
    for (int i = 0; i < 3; i++)
        CHECK(memcmp(r[i].peer, peers[3].key, 32) != 0);
    CHECK_EQ(gossip_pull_outstanding(p), 3);
    CHECK(!gossip_pull_done(p, 999, 0, 0));
    /* A short answer brings the frontier back to the gap. */
    CHECK(gossip_pull_done(p, r[0].id, 40, 10));
    gossip_pull_req_t q;
    CHECK(gossip_pull_next(p, 50, peers, 4, 10, &rnd, &q));
    CHECK_EQ(q.from, 51);
    /* Timeouts free the slot, pull the frontier back, back the peer off. */
    CHECK_EQ(gossip_pull_expire(p, 500), 0);
    CHECK_EQ(gossip_pull_expire(p, 1000), 2);
    CHECK_EQ(gossip_pull_outstanding(p), 1);
    /* Window: never further than 2 x 100 above local. */
    gossip_pull_t *w = gossip_pull_new(2, 100, 1000);
    gossip_pull_req_t x;
    CHECK(gossip_pull_next(w, 0, peers, 3, 0, &rnd, &x));
    CHECK(gossip_pull_next(w, 0, peers, 3, 0, &rnd, &x));
    CHECK_EQ(x.from, 101);
    CHECK(gossip_pull_done(w, x.id, 100, 0));
    CHECK(!gossip_pull_next(w, 0, peers, 3, 0, &rnd, &x));   /* window full */
    CHECK(gossip_pull_next(w, 100, peers, 3, 0, &rnd, &x));
    CHECK_EQ(x.from, 201);
    gossip_pull_destroy(&w);
    gossip_pull_destroy(&p);
    gossip_pull_destroy(&p);
}

/* Grace: a small lag waits GOSSIP_PULL_GRACE_MS without progress; progress
 * restarts the wait; a large lag or a gap is pulled at once; catching up
 * clears the state. */
static void
test_pull_grace(void)
{
    gossip_pull_t *p = gossip_pull_new(4, 256, 3000);
    CHECK(!gossip_pull_due(p, 10, 10, false, 1000));             /* not behind */
    CHECK(!gossip_pull_due(p, 10, 11, false, 1000));             /* behind: wait */
    CHECK(!gossip_pull_due(p, 10, 11, false, 1000 + GOSSIP_PULL_GRACE_MS - 1));
    CHECK(gossip_pull_due(p, 10, 11, false, 1000 + GOSSIP_PULL_GRACE_MS));
    CHECK(!gossip_pull_due(p, 11, 13, false, 1500));             /* progress: wait again */
    CHECK(!gossip_pull_due(p, 11, 13, false, 1500 + GOSSIP_PULL_GRACE_MS - 1));
    CHECK(gossip_pull_due(p, 11, 13, false, 1500 + GOSSIP_PULL_GRACE_MS));
    CHECK(gossip_pull_due(p, 11, 13, true, 1501));               /* a gap: now */
    CHECK(!gossip_pull_due(p, 13, 13, false, 1600));             /* caught up */
    CHECK(!gossip_pull_due(p, 13, 14, false, 5000));             /* a fresh wait */
    CHECK(gossip_pull_due(p, 13, 13 + GOSSIP_PULL_GRACE_BLOCKS + 1, false, 5001));
    gossip_pull_destroy(&p);
}

static void
test_curve_keys(void)
{
    char dir[256], path[300];
    CHECK(check_tmpdir(dir, sizeof dir) != NULL);
    for (int i = 0; i < 20; i++) {
        vl_key_t *k = vl_key_generate();
        snprintf(path, sizeof path, "%s/k%d.pem", dir, i);
        vl_err_t err = { "" };
        CHECK_EQ(vl_key_save_pem(k, path, &err), 0);
        uint8_t pub[32], sec[32], conv[32];
        CHECK_EQ(gossip_curve_keypair_from_pem(path, pub, sec, &err), 0);
        CHECK_EQ(gossip_curve_public(vl_key_public(k), conv), 0);
        CHECK(memcmp(pub, conv, 32) == 0);
        /* libzmq agrees: the public key of our secret is our public key. */
        char sec_z85[41], pub_z85[41], want_z85[41];
        zmq_z85_encode(sec_z85, sec, 32);
        zmq_z85_encode(want_z85, pub, 32);
        CHECK_EQ(zmq_curve_public(pub_z85, sec_z85), 0);
        CHECK_STR(pub_z85, want_z85);
        unlink(path);
        vl_key_destroy(&k);
    }
    uint8_t bad[32], out[32];
    memset(bad, 0xff, 32);   /* y >= p */
    bad[31] = 0x7f;
    CHECK_EQ(gossip_curve_public(bad, out), VL_ERR_INVALID);
    uint8_t identity[32] = { 1 };   /* y = 1: the neutral point, small order */
    CHECK_EQ(gossip_curve_public(identity, out), VL_ERR_INVALID);
    vl_err_t err = { "" };
    uint8_t a[32], b[32];
    CHECK_EQ(gossip_curve_keypair_from_pem("/nonexistent/key.pem", a, b, &err), VL_ERR_IO);
    rmdir(dir);
}

/* Rotation drops exactly one mesh peer beyond full mesh (none in full mesh
 * or below D), and repeated rotation + repair walks the whole candidate set,
 * so a mesh that start-up order made lopsided becomes a random one. */
static void
test_mesh_rotation(void)
{
    uint8_t self[32], k[32];
    s_key(self, 0);
    gossip_members_t *m = gossip_members_new(self, 1, 100, 200);
    for (int i = 1; i <= 30; i++) {
        s_key(k, i);
        gossip_members_admit(m, k, NULL);
        char ep[32];
        snprintf(ep, sizeof ep, "tcp://p:%d", i);
        gossip_members_heard(m, k, 1, 0, ep, ep, 10);
    }
    uint64_t rnd = 7;
    /* Full mesh: nothing to rotate. */
    CHECK_EQ(gossip_members_select_mesh(m, 6, 64, &rnd), 30);
    CHECK(!gossip_members_rotate_mesh(m, 6, 64, &rnd));
    for (size_t i = 0; i < 30; i++)
        gossip_members_at(m, i)->in_mesh = false;
    /* Below D: nothing either. */
    gossip_members_at(m, 0)->in_mesh = true;
    CHECK(!gossip_members_rotate_mesh(m, 6, 12, &rnd));
    CHECK_EQ(gossip_members_select_mesh(m, 6, 12, &rnd), 6);
    bool ever[30] = { false };
    for (int round = 0; round < 400; round++) {
        CHECK(gossip_members_rotate_mesh(m, 6, 12, &rnd));
        size_t size = 0;
        for (size_t i = 0; i < 30; i++)
            size += gossip_members_at(m, i)->in_mesh;
        CHECK_EQ(size, 5);
        CHECK_EQ(gossip_members_select_mesh(m, 6, 12, &rnd), 6);
        for (size_t i = 0; i < 30; i++)
            ever[i] |= gossip_members_at(m, i)->in_mesh;
    }
    size_t visited = 0;
    for (size_t i = 0; i < 30; i++)
        visited += ever[i];
    CHECK_EQ(visited, 30);
    /* Timeouts can be changed (the transport scales them with N). */
    gossip_members_set_timeouts(m, 1000, 2000);
    gossip_peer_t *p = gossip_members_at(m, 0);
    gossip_members_tick(m, 10 + 1000);
    CHECK_EQ(p->state, GOSSIP_PEER_ALIVE);
    gossip_members_tick(m, 10 + 1001);
    CHECK_EQ(p->state, GOSSIP_PEER_SUSPECT);
    gossip_members_tick(m, 10 + 2001);
    CHECK_EQ(p->state, GOSSIP_PEER_DEAD);
    gossip_members_destroy(&m);
}

/* Monitoring rings (keys sorted, cyclic): we monitor our k predecessors and
 * our k successors monitor us; a peer heard directly is judged by the near
 * thresholds, others by the far ones; only a subject's ring monitor may
 * claim it dead; a claimed peer comes back only with a higher incarnation;
 * a claim about us raises our incarnation (refutation). */
static void
test_monitor_rings_and_claims(void)
{
    uint8_t self[32], k[10][32], stranger[32];
    s_key(self, 0);
    s_key(stranger, 99);
    gossip_members_t *m = gossip_members_new(self, 100, 1500, 2500);
    for (int i = 1; i <= 9; i++) {
        s_key(k[i], i);
        gossip_members_admit(m, k[i], NULL);
    }
    gossip_members_set_far_timeouts(m, 5000, 8000);
    CHECK_EQ(gossip_members_set_monitors(m, 3), 3);
    gossip_peer_t *mon[GOSSIP_MONITORS_MAX];
    CHECK_EQ(gossip_members_monitors(m, mon, GOSSIP_MONITORS_MAX), 3);
    CHECK(memcmp(mon[0]->key, k[1], 32) == 0 && memcmp(mon[2]->key, k[3], 32) == 0);
    CHECK(gossip_members_find(m, k[9], 32)->monitored);
    CHECK(gossip_members_find(m, k[7], 32)->monitored);
    CHECK(!gossip_members_find(m, k[6], 32)->monitored);
    CHECK(!gossip_members_find(m, k[1], 32)->monitored);
    CHECK(gossip_members_is_monitor(m, k[5], k[3]));
    CHECK(!gossip_members_is_monitor(m, k[7], k[3]));
    CHECK(gossip_members_is_monitor(m, self, k[8]));      /* wraps around */
    CHECK(gossip_members_is_monitor(m, k[1], k[8]));
    CHECK(!gossip_members_is_monitor(m, stranger, k[8]));

    /* Near thresholds only once heard directly, and only for monitored. */
    gossip_peer_t *p9 = gossip_members_find(m, k[9], 32), *p4 = gossip_members_find(m, k[4], 32);
    gossip_members_heard(m, k[9], 1, 0, NULL, NULL, 1000);
    gossip_members_heard(m, k[4], 1, 0, NULL, NULL, 1000);
    gossip_members_heard_direct(m, k[4], 1000);
    CHECK_EQ(p4->last_direct_ms, 0);
    gossip_members_tick(m, 3600);
    CHECK_EQ(p9->state, GOSSIP_PEER_ALIVE);
    gossip_members_heard(m, k[9], 1, 0, NULL, NULL, 4000);
    gossip_members_heard_direct(m, k[9], 4000);
    gossip_members_tick(m, 5501);
    CHECK_EQ(p9->state, GOSSIP_PEER_SUSPECT);
    CHECK_EQ(p4->state, GOSSIP_PEER_ALIVE);
    gossip_members_tick(m, 6501);
    CHECK_EQ(p9->state, GOSSIP_PEER_DEAD);
    gossip_members_tick(m, 6001 + 100);
    CHECK_EQ(p4->state, GOSSIP_PEER_SUSPECT);
    gossip_members_tick(m, 9001);
    CHECK_EQ(p4->state, GOSSIP_PEER_DEAD);
    /* A restart (higher incarnation) must reach us directly again. */
    CHECK_EQ(gossip_members_heard(m, k[9], 2, 0, NULL, NULL, 9100), GOSSIP_HEARD_UP);
    CHECK_EQ(p9->last_direct_ms, 0);

    /* Claims. */
    gossip_peer_t *p3 = gossip_members_find(m, k[3], 32);
    CHECK_EQ(gossip_members_claim(m, k[5], k[3], 1, 9200), GOSSIP_CLAIM_STALE);   /* unknown */
    gossip_members_heard(m, k[3], 7, 0, NULL, NULL, 9200);
    CHECK_EQ(gossip_members_claim(m, k[7], k[3], 7, 9300), GOSSIP_CLAIM_REFUSED);
    CHECK_EQ(gossip_members_claim(m, stranger, k[3], 7, 9300), GOSSIP_CLAIM_REFUSED);
    CHECK_EQ(gossip_members_claim(m, k[5], k[3], 6, 9300), GOSSIP_CLAIM_STALE);
    CHECK_EQ(p3->state, GOSSIP_PEER_ALIVE);
    CHECK_EQ(gossip_members_claim(m, k[5], k[3], 7, 9300), GOSSIP_CLAIM_ACCEPTED);
    CHECK_EQ(p3->state, GOSSIP_PEER_DEAD);
    CHECK_EQ(gossip_members_claim(m, k[4], k[3], 7, 9300), GOSSIP_CLAIM_STALE);   /* already */
    CHECK_EQ(gossip_members_heard(m, k[3], 7, 0, NULL, NULL, 9400), GOSSIP_HEARD_STALE);
    CHECK_EQ(p3->state, GOSSIP_PEER_DEAD);
    CHECK_EQ(gossip_members_heard(m, k[3], 8, 0, NULL, NULL, 9500), GOSSIP_HEARD_UP);
    CHECK(!p3->claimed_dead);
    /* About us: refuted by a higher incarnation; an old claim is stale. */
    CHECK_EQ(gossip_members_claim(m, k[4], self, 100, 9600), GOSSIP_CLAIM_REFUSED);
    CHECK_EQ(gossip_members_claim(m, k[1], self, 50, 9600), GOSSIP_CLAIM_STALE);
    CHECK_EQ(gossip_members_claim(m, k[1], self, 100, 9600), GOSSIP_CLAIM_REFUTED);
    CHECK_EQ(gossip_members_incarnation(m), 101);
    gossip_members_destroy(&m);

    /* A small network: k is capped by the membership. */
    gossip_members_t *s = gossip_members_new(self, 1, 1500, 2500);
    gossip_members_admit(s, k[1], NULL);
    gossip_members_admit(s, k[2], NULL);
    CHECK_EQ(gossip_members_set_monitors(s, 3), 2);
    CHECK_EQ(gossip_members_monitors(s, mon, GOSSIP_MONITORS_MAX), 2);
    CHECK(gossip_members_is_monitor(s, k[2], k[1]) && gossip_members_is_monitor(s, self, k[1]));
    gossip_members_destroy(&s);
}


/* Bundles: 0x00, then per envelope a 4-byte big-endian length and the
 * bytes; every malformation is an error, never a read past the end. */
static void
test_frame_bundle(void)
{
    uint8_t buf[64];
    size_t off = 0;
    gossip_bundle_put(buf, &off, (const uint8_t *) "abc", 3);
    gossip_bundle_put(buf, &off, (const uint8_t *) "de", 2);
    const uint8_t want[] = { 0x00, 0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 2, 'd', 'e' };
    CHECK_EQ(off, sizeof want);
    CHECK(memcmp(buf, want, sizeof want) == 0);
    size_t at = 0, len = 0;
    const uint8_t *env = NULL;
    CHECK_EQ(gossip_bundle_next(buf, off, &at, &env, &len), 1);
    CHECK_EQ(len, 3);
    CHECK(memcmp(env, "abc", 3) == 0);
    CHECK_EQ(gossip_bundle_next(buf, off, &at, &env, &len), 1);
    CHECK_EQ(len, 2);
    CHECK(memcmp(env, "de", 2) == 0);
    CHECK_EQ(gossip_bundle_next(buf, off, &at, &env, &len), 0);
    /* An empty bundle is just its tag. */
    at = 0;
    CHECK_EQ(gossip_bundle_next(buf, 1, &at, &env, &len), 0);
    /* Missing tag, truncated length, zero length, past the end. */
    at = 0;
    CHECK_EQ(gossip_bundle_next((const uint8_t *) "x", 1, &at, &env, &len), VL_ERR_INVALID);
    at = 0;
    CHECK_EQ(gossip_bundle_next(buf, 0, &at, &env, &len), VL_ERR_INVALID);
    at = 0;
    CHECK_EQ(gossip_bundle_next(buf, 3, &at, &env, &len), VL_ERR_INVALID);
    for (size_t cut = 5; cut < 8; cut++) {   /* the first envelope cut short */
        at = 0;
        CHECK_EQ(gossip_bundle_next(buf, cut, &at, &env, &len), VL_ERR_INVALID);
    }
    const uint8_t zero[] = { 0x00, 0, 0, 0, 0, 'a' };
    at = 0;
    CHECK_EQ(gossip_bundle_next(zero, sizeof zero, &at, &env, &len), VL_ERR_INVALID);
    const uint8_t huge[] = { 0x00, 0xff, 0xff, 0xff, 0xff, 'a' };
    at = 0;
    CHECK_EQ(gossip_bundle_next(huge, sizeof huge, &at, &env, &len), VL_ERR_INVALID);
}

static void
test_frame_ids_heads_status(void)
{
    uint8_t id[GOSSIP_ID_SIZE];
    gossip_id_put(id, 0x0102030405060708ull);
    const uint8_t want[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    CHECK(memcmp(id, want, 8) == 0);
    CHECK(gossip_id_get(id) == 0x0102030405060708ull);
    gossip_id_put(id, UINT64_MAX);
    CHECK(gossip_id_get(id) == UINT64_MAX);
    uint8_t head[GOSSIP_HEAD_SIZE];
    gossip_head_put(head, 0xA1B2C3D4u, 1500);
    const uint8_t want_head[] = { 0xA1, 0xB2, 0xC3, 0xD4, 0, 0, 0x05, 0xDC };
    CHECK(memcmp(head, want_head, 8) == 0);
    uint32_t kind = 0, timeout = 0;
    gossip_head_get(head, &kind, &timeout);
    CHECK(kind == 0xA1B2C3D4u);
    CHECK_EQ(timeout, 1500);
    uint8_t st[GOSSIP_STATUS_SIZE];
    gossip_status_put(st, 0);
    CHECK_EQ(gossip_status_get(st), 0);
    gossip_status_put(st, VL_ERR_LIMIT);
    CHECK(st[3] == 10 && st[0] == 0);
    CHECK_EQ(gossip_status_get(st), VL_ERR_LIMIT);
    gossip_status_put(st, VL_ERR_REFUSED);
    CHECK_EQ(gossip_status_get(st), VL_ERR_REFUSED);
    /* A peer cannot make us see a local condition: anything else is refused. */
    gossip_status_put(st, VL_ERR_TIMEOUT);
    CHECK_EQ(gossip_status_get(st), VL_ERR_REFUSED);
    const uint8_t odd[] = { 0xff, 0xff, 0xff, 0xff };
    CHECK_EQ(gossip_status_get(odd), VL_ERR_REFUSED);
}

/* Seeded, deterministic, rates about right, delays in range. */
static void
test_faults_decide(void)
{
    static gossip_faults_t f;   /* 8 KB: not on the stack */
    memset(&f, 0, sizeof f);
    uint8_t self[32], peer[32];
    s_key(self, 1);
    s_key(peer, 2);
    int64_t d = 0;
    /* No faults: everything passes. */
    for (uint64_t i = 0; i < 1000; i++)
        CHECK_EQ(gossip_faults_decide(&f, self, peer, GOSSIP_FAULT_SEND, i, &d), GOSSIP_FAULT_PASS);
    f.seed = 42;
    f.drop_ppm = 100000;    /* 10 % */
    f.delay_ppm = 250000;   /* 25 % of the rest */
    f.delay_ms = 30;
    f.delay_jitter_ms = 20;
    CHECK_EQ(gossip_faults_check(&f), 0);
    enum { N = 200000 };
    size_t drops = 0, delays = 0, passes = 0;
    int64_t dmin = INT64_MAX, dmax = 0;
    for (uint64_t i = 0; i < N; i++) {
        gossip_fault_action_t a = gossip_faults_decide(&f, self, peer, (gossip_fault_dir_t) (i & 1), i,
                                                       &d);
        drops += a == GOSSIP_FAULT_DROP;
        passes += a == GOSSIP_FAULT_PASS;
        if (a == GOSSIP_FAULT_DELAY) {
            delays++;
            dmin = d < dmin ? d : dmin;
            dmax = d > dmax ? d : dmax;
        }
    }
    /* Expected 20000 drops and 45000 delays; sd ~134 and ~194: +-5 sd. */
    CHECK(drops > 19330 && drops < 20670);
    CHECK(delays > 44030 && delays < 45970);
    CHECK_EQ(drops + delays + passes, N);
    CHECK_EQ(dmin, 30);
    CHECK_EQ(dmax, 50);
    /* A replay gives the same decisions; another seed other ones. */
    size_t same = 0, other = 0;
    for (uint64_t i = 0; i < 10000; i++) {
        int64_t d1 = -1, d2 = -1;
        gossip_fault_action_t a = gossip_faults_decide(&f, self, peer, GOSSIP_FAULT_RECV, i, &d1);
        gossip_fault_action_t b = gossip_faults_decide(&f, self, peer, GOSSIP_FAULT_RECV, i, &d2);
        same += a == b && d1 == d2;
        f.seed = 43;
        other += gossip_faults_decide(&f, self, peer, GOSSIP_FAULT_RECV, i, &d2) != a;
        f.seed = 42;
    }
    CHECK_EQ(same, 10000);
    CHECK(other > 1000);
    /* Every message dropped / delayed. */
    f.drop_ppm = GOSSIP_FAULT_PPM;
    CHECK_EQ(gossip_faults_decide(&f, self, peer, GOSSIP_FAULT_SEND, 7, &d), GOSSIP_FAULT_DROP);
    f.drop_ppm = 0;
    f.delay_ppm = GOSSIP_FAULT_PPM;
    f.delay_jitter_ms = 0;
    CHECK_EQ(gossip_faults_decide(&f, self, NULL, GOSSIP_FAULT_SEND, 7, &d), GOSSIP_FAULT_DELAY);
    CHECK_EQ(d, 30);
    /* Out of range. */
    f.drop_ppm = GOSSIP_FAULT_PPM + 1;
    CHECK_EQ(gossip_faults_check(&f), VL_ERR_INVALID);
    f.drop_ppm = 0;
    f.delay_ms = -1;
    CHECK_EQ(gossip_faults_check(&f), VL_ERR_INVALID);
    f.delay_ms = GOSSIP_FAULT_DELAY_MAX_MS;
    f.delay_jitter_ms = 1;
    CHECK_EQ(gossip_faults_check(&f), VL_ERR_INVALID);
    f.delay_jitter_ms = 0;
    CHECK_EQ(gossip_faults_check(&f), 0);
    f.n_partition = GOSSIP_FAULT_PARTITION_MAX + 1;
    CHECK_EQ(gossip_faults_check(&f), VL_ERR_INVALID);
}

/* The partition set S cuts exactly the pairs with one end in S: symmetric,
 * on both directions, and only where the other end is known. */
static void
test_faults_partition(void)
{
    static gossip_faults_t f;
    memset(&f, 0, sizeof f);
    uint8_t k[6][32];
    for (int i = 0; i < 6; i++)
        s_key(k[i], 10 + i);
    CHECK(!gossip_faults_cut(&f, k[0], k[1]));   /* no set: no cut */
    memcpy(f.partition[0], k[4], 32);
    memcpy(f.partition[1], k[5], 32);
    f.n_partition = 2;
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++) {
            bool cut = gossip_faults_cut(&f, k[a], k[b]);
            CHECK_EQ(cut, gossip_faults_cut(&f, k[b], k[a]));
            CHECK_EQ(cut, (a >= 4) != (b >= 4));
        }
    int64_t d = 0;
    for (int dir = 0; dir < 2; dir++) {
        /* From either side, to and from the other: dropped whatever the seed draws. */
        for (uint64_t i = 0; i < 100; i++) {
            CHECK_EQ(gossip_faults_decide(&f, k[0], k[4], (gossip_fault_dir_t) dir, i, &d),
                     GOSSIP_FAULT_DROP);
            CHECK_EQ(gossip_faults_decide(&f, k[5], k[1], (gossip_fault_dir_t) dir, i, &d),
                     GOSSIP_FAULT_DROP);
            CHECK_EQ(gossip_faults_decide(&f, k[0], k[1], (gossip_fault_dir_t) dir, i, &d),
                     GOSSIP_FAULT_PASS);
            CHECK_EQ(gossip_faults_decide(&f, k[4], k[5], (gossip_fault_dir_t) dir, i, &d),
                     GOSSIP_FAULT_PASS);
            CHECK_EQ(gossip_faults_decide(&f, k[0], NULL, (gossip_fault_dir_t) dir, i, &d),
                     GOSSIP_FAULT_PASS);
        }
    }
}

static void
test_delay_queue(void)
{
    gossip_delayq_t *q = gossip_delayq_new(4, 100);
    CHECK_EQ(gossip_delayq_next_ms(q), INT64_MAX);
    CHECK(gossip_delayq_pop_due(q, 1000000) == NULL);
    int items[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    CHECK_EQ(gossip_delayq_push(q, 50, &items[0], 10), 0);
    CHECK_EQ(gossip_delayq_push(q, 20, &items[1], 10), 0);
    CHECK_EQ(gossip_delayq_push(q, 50, &items[2], 10), 0);   /* after 0: same time, FIFO */
    CHECK_EQ(gossip_delayq_push(q, 10, &items[3], 10), 0);
    CHECK_EQ(gossip_delayq_push(q, 5, &items[4], 10), VL_ERR_LIMIT);   /* 4 items */
    CHECK_EQ(gossip_delayq_size(q), 4);
    CHECK_EQ(gossip_delayq_next_ms(q), 10);
    CHECK(gossip_delayq_pop_due(q, 9) == NULL);
    CHECK(gossip_delayq_pop_due(q, 20) == &items[3]);
    CHECK(gossip_delayq_pop_due(q, 20) == &items[1]);
    CHECK(gossip_delayq_pop_due(q, 20) == NULL);
    /* Room again (the array compacts); a byte bound too. */
    CHECK_EQ(gossip_delayq_push(q, 30, &items[5], 10), 0);
    CHECK_EQ(gossip_delayq_push(q, 60, &items[6], 71), VL_ERR_LIMIT);   /* 30 + 71 > 100 */
    CHECK_EQ(gossip_delayq_push(q, 60, &items[6], 70), 0);
    CHECK(gossip_delayq_pop_due(q, 100) == &items[5]);
    CHECK(gossip_delayq_pop_due(q, 100) == &items[0]);
    CHECK(gossip_delayq_pop_due(q, 100) == &items[2]);
    CHECK(gossip_delayq_pop_due(q, 100) == &items[6]);
    CHECK_EQ(gossip_delayq_size(q), 0);
    gossip_delayq_destroy(&q, NULL);
    CHECK(q == NULL);
    gossip_delayq_destroy(&q, NULL);
    /* Destroy frees what is still queued. */
    q = gossip_delayq_new(16, 1 << 20);
    for (int i = 0; i < 10; i++)
        CHECK_EQ(gossip_delayq_push(q, 100 - i, malloc(8), 8), 0);
    CHECK_EQ(gossip_delayq_next_ms(q), 91);
    gossip_delayq_destroy(&q, free);
}

int
main(void)
{
    RUN(test_envelope_roundtrip);
    RUN(test_envelope_bad_input);
    RUN(test_seen_expiry_and_bound);
    RUN(test_mesh_refused);
    RUN(test_membership_states);
    RUN(test_mesh_selection);
    RUN(test_mesh_rotation);
    RUN(test_monitor_rings_and_claims);
    RUN(test_pull_scheduler);
    RUN(test_pull_grace);
    RUN(test_curve_keys);
    RUN(test_frame_bundle);
    RUN(test_frame_ids_heads_status);
    RUN(test_faults_decide);
    RUN(test_faults_partition);
    RUN(test_delay_queue);
    return check_done();
}
