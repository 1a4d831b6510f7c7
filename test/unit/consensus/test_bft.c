/*
 * test_bft.c — consensus/bft.h, the Tendermint state machine.
 *
 * Two halves. Direct tests drive one machine by hand through each rule of
 * Algorithm 1 and each error: configuration and thresholds, the one-
 * validator network, bad input, verdicts, evidence, our own messages coming
 * back, the locking scenario of the paper, timeouts growing per round, the
 * round skip, the memory bound, replay after a restart.
 *
 * Then a deterministic in-process network: n machines (1, 4, 7) driven
 * through the pure interface by a seeded scheduler — message delays,
 * reordering, drops, duplicates, relays, timeouts firing, crashes (also
 * between persisting a message and sending it) and restarts through
 * bft_replay_own, and a Byzantine validator that equivocates. After every
 * input it checks bft_check_invariants; across each run, agreement (no two
 * machines commit different blocks at one height), validity (a committed
 * block was proposed and is valid), that a commit's signers did precommit
 * it, that no honest validator ever signs two different messages of one
 * (h, r, type) — across restarts too — and that EVIDENCE only names the
 * Byzantine one. Every run is bounded by an event budget.
 */
#include <stdlib.h>

#include "bft.h"
#include "check.h"

/* --- Helpers for the direct tests --------------------------------------- */

static uint8_t *
s_hash(uint8_t out[BFT_HASH_SIZE], int tag)
{
    memset(out, 0, BFT_HASH_SIZE);
    out[0] = (uint8_t) tag;
    out[1] = (uint8_t) (tag >> 8);
    out[31] = 0x5a;
    return out;
}

/* A fresh machine for validator self of n at height 1 (step PROPOSE, round
 * 0), default timeouts. */
static bft_t *
s_machine(uint32_t n, uint32_t self, bft_actions_t *acts)
{
    bft_config_t cfg;
    bft_config_init(&cfg, n, self);
    bft_t *b = bft_new(&cfg);
    CHECK(b != NULL);
    CHECK_EQ(bft_start_height(b, 1, 0, acts), 0);
    CHECK(bft_check_invariants(b) == NULL);
    return b;
}

/* The index of the first action of kind (and, for votes, type) in acts, or
 * -1. */
static int
s_find(const bft_actions_t *acts, bft_action_kind_t kind, int type)
{
    for (size_t i = 0; i < acts->n; i++)
        if (acts->items[i].kind == kind
            && (type < 0 || (int) acts->items[i].type == type))
            return (int) i;
    return -1;
}

static int
s_count(const bft_actions_t *acts, bft_action_kind_t kind)
{
    int n = 0;
    for (size_t i = 0; i < acts->n; i++)
        n += acts->items[i].kind == kind;
    return n;
}

/* Checks the invariants and fails with the reason. */
#define CHECK_INV(b)                                                                          \
    do {                                                                                      \
        const char *why_ = bft_check_invariants(b);                                           \
        if (why_)                                                                             \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, why_);                         \
        CHECK(why_ == NULL);                                                                  \
    } while (0)

static void
s_vote(bft_t *b, bft_msg_t type, int32_t round, const uint8_t *hash, uint32_t from,
       bft_actions_t *acts)
{
    CHECK_EQ(bft_on_vote(b, type, bft_height(b), round, hash, from, 0, acts), 0);
    CHECK_INV(b);
}

/* --- Direct tests ---------------------------------------------------------- */

static void
test_config(void)
{
    bft_config_t cfg;
    bft_config_init(&cfg, 4, 1);
    vl_err_t err;
    CHECK_EQ(bft_config_check(&cfg, &err), 0);
    CHECK_EQ(cfg.timeouts.propose_base_ms, 1000);
    CHECK_EQ(cfg.timeouts.propose_delta_ms, 500);
    CHECK_EQ(cfg.timeouts.prevote_base_ms, 500);
    CHECK_EQ(cfg.timeouts.precommit_delta_ms, 500);

    bft_config_t bad = cfg;
    bad.validators = 0;
    CHECK_EQ(bft_config_check(&bad, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "validators");
    CHECK(bft_new(&bad) == NULL);
    bad.validators = BFT_VALIDATORS_MAX + 1;
    CHECK_EQ(bft_config_check(&bad, &err), VL_ERR_INVALID);
    bad = cfg;
    bad.self = 4;
    CHECK_EQ(bft_config_check(&bad, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "index");
    bad = cfg;
    bad.timeouts.prevote_base_ms = 0;
    CHECK_EQ(bft_config_check(&bad, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "timeouts");
    bad = cfg;
    bad.timeouts.propose_delta_ms = -1;
    CHECK_EQ(bft_config_check(&bad, &err), VL_ERR_INVALID);
    bad = cfg;
    bad.timeouts.precommit_delta_ms = 24LL * 3600 * 1000 + 1;
    CHECK_EQ(bft_config_check(&bad, &err), VL_ERR_INVALID);

    /* Quorum = floor(2n/3)+1 = n - f; skip = f+1, f = (n-1)/3. */
    static const struct {
        uint32_t n, quorum, skip;
    } t[] = { { 1, 1, 1 }, { 2, 2, 1 }, { 3, 3, 1 }, { 4, 3, 2 }, { 5, 4, 2 },
              { 6, 5, 2 }, { 7, 5, 3 }, { 10, 7, 4 }, { 64, 43, 22 } };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        bft_config_init(&cfg, t[i].n, 0);
        bft_t *b = bft_new(&cfg);
        CHECK(b != NULL);
        CHECK_EQ(bft_quorum(b), t[i].quorum);
        CHECK_EQ(bft_skip_threshold(b), t[i].skip);
        CHECK(3 * bft_quorum(b) > 2 * t[i].n);
        CHECK_EQ(bft_step(b), BFT_STEP_IDLE);
        CHECK_INV(b);
        bft_destroy(&b);
        CHECK(b == NULL);
    }
    bft_destroy(NULL);

    /* The proposer rotates over rounds and heights: (h + r) mod n. */
    bft_config_init(&cfg, 4, 0);
    bft_t *b = bft_new(&cfg);
    CHECK_EQ(bft_proposer(b, 1, 0), 1);
    CHECK_EQ(bft_proposer(b, 1, 1), 2);
    CHECK_EQ(bft_proposer(b, 1, 3), 0);
    CHECK_EQ(bft_proposer(b, 2, 0), 2);
    CHECK_EQ(bft_proposer(b, UINT64_MAX, 1), (UINT64_MAX % 4 + 1) % 4);
    CHECK_EQ(bft_proposer(b, 7, BFT_ROUND_MAX), (7 + BFT_ROUND_MAX) % 4);
    bft_destroy(&b);

    /* timeout_X(r) = base + r * delta. */
    bft_config_init(&cfg, 4, 0);
    CHECK_EQ(bft_timeout_ms(&cfg.timeouts, BFT_TIMEOUT_PROPOSE, 0), 1000);
    CHECK_EQ(bft_timeout_ms(&cfg.timeouts, BFT_TIMEOUT_PROPOSE, 3), 2500);
    CHECK_EQ(bft_timeout_ms(&cfg.timeouts, BFT_TIMEOUT_PREVOTE, 2), 1500);
    CHECK_EQ(bft_timeout_ms(&cfg.timeouts, BFT_TIMEOUT_PRECOMMIT, 1), 1000);
    CHECK_EQ(bft_timeout_ms(&cfg.timeouts, BFT_TIMEOUT_PRECOMMIT, BFT_ROUND_MAX),
             500 + 500LL * BFT_ROUND_MAX);

    CHECK_STR(bft_step_name(BFT_STEP_PRECOMMIT), "precommit");
    CHECK_STR(bft_msg_name(BFT_PREVOTE), "prevote");
    CHECK_STR(bft_timeout_name(BFT_TIMEOUT_PROPOSE), "propose");
    CHECK_STR(bft_action_name(BFT_ACT_EVIDENCE), "evidence");
    CHECK_STR(bft_step_name((bft_step_t) 99), "?");
    bft_set_t set = { { 0 } };
    CHECK_EQ(bft_set_count(&set), 0);
    CHECK(!bft_set_has(&set, 3));
    CHECK(!bft_set_has(&set, BFT_VALIDATORS_MAX));
}

/* n = 1: the whole height in the input that hands over the block, through
 * the same rules, with no timeout. */
static void
test_single_validator(void)
{
    bft_config_t cfg;
    bft_config_init(&cfg, 1, 0);
    bft_t *b = bft_new(&cfg);
    bft_actions_t acts;
    for (uint64_t h = 1; h <= 5; h++) {
        CHECK_EQ(bft_start_height(b, h, (int64_t) h * 100, &acts), 0);
        CHECK_INV(b);
        CHECK_EQ(acts.n, 1);
        CHECK_EQ(acts.items[0].kind, BFT_ACT_BUILD_PROPOSAL);
        CHECK_EQ(acts.items[0].height, h);
        CHECK_EQ(acts.items[0].round, 0);
        uint8_t v[32];
        s_hash(v, (int) h);
        /* A stale answer (wrong round) is ignored. */
        CHECK_EQ(bft_on_value(b, h, 1, v, 0, &acts), 0);
        CHECK_EQ(acts.n, 0);
        CHECK_EQ(bft_on_value(b, h, 0, v, 0, &acts), 0);
        CHECK_INV(b);
        CHECK_EQ(acts.n, 4);
        if (acts.n == 4) {
            CHECK_EQ(acts.items[0].kind, BFT_ACT_BROADCAST_PROPOSAL);
            CHECK_EQ(acts.items[0].valid_round, BFT_NO_ROUND);
            CHECK(memcmp(acts.items[0].hash, v, 32) == 0);
            CHECK_EQ(acts.items[1].kind, BFT_ACT_BROADCAST_VOTE);
            CHECK_EQ(acts.items[1].type, BFT_PREVOTE);
            CHECK(!acts.items[1].nil);
            CHECK_EQ(acts.items[2].kind, BFT_ACT_BROADCAST_VOTE);
            CHECK_EQ(acts.items[2].type, BFT_PRECOMMIT);
            CHECK(memcmp(acts.items[2].hash, v, 32) == 0);
            CHECK_EQ(acts.items[3].kind, BFT_ACT_COMMIT);
            CHECK_EQ(acts.items[3].height, h);
            CHECK_EQ(acts.items[3].round, 0);
            CHECK(memcmp(acts.items[3].hash, v, 32) == 0);
            CHECK_EQ(bft_set_count(&acts.items[3].signers), 1);
            CHECK(bft_set_has(&acts.items[3].signers, 0));
        }
        CHECK_EQ(s_count(&acts, BFT_ACT_SCHEDULE_TIMEOUT), 0);
        CHECK_EQ(bft_step(b), BFT_STEP_COMMITTED);
        /* After the commit the height takes nothing more. */
        CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PRECOMMIT, h, 0, 0, &acts), 0);
        CHECK_EQ(acts.n, 0);
        CHECK_EQ(bft_step(b), BFT_STEP_COMMITTED);
    }
    CHECK_EQ(bft_stats(b)->commits, 5);
    bft_destroy(&b);
}

static void
test_bad_input(void)
{
    bft_actions_t acts;
    bft_t *b = s_machine(4, 0, &acts);
    uint8_t v[32];
    s_hash(v, 1);
    /* Proposer of (1, 0) is 1. */
    CHECK_EQ(bft_on_proposal(b, 1, 0, v, -1, 2, 0, &acts), VL_ERR_INVALID);
    CHECK_EQ(bft_on_proposal(b, 1, 0, v, -1, 4, 0, &acts), VL_ERR_INVALID);
    CHECK_EQ(bft_on_proposal(b, 1, 0, v, 0, 1, 0, &acts), VL_ERR_INVALID);  /* vr >= r */
    CHECK_EQ(bft_on_proposal(b, 1, 0, v, -2, 1, 0, &acts), VL_ERR_INVALID);
    CHECK_EQ(bft_on_proposal(b, 1, -1, v, -1, 0, 0, &acts), VL_ERR_INVALID);
    CHECK_EQ(bft_on_proposal(b, 1, BFT_ROUND_MAX + 1, v, -1, 1, 0, &acts), VL_ERR_INVALID);
    CHECK_EQ(bft_on_vote(b, BFT_PROPOSAL, 1, 0, v, 1, 0, &acts), VL_ERR_INVALID);
    CHECK_EQ(bft_on_vote(b, BFT_PREVOTE, 1, 0, v, 4, 0, &acts), VL_ERR_INVALID);
    CHECK_EQ(bft_on_vote(b, BFT_PREVOTE, 1, -1, v, 1, 0, &acts), VL_ERR_INVALID);
    CHECK_EQ(bft_on_vote(b, BFT_PREVOTE, 1, BFT_ROUND_MAX + 1, v, 1, 0, &acts),
             VL_ERR_INVALID);
    CHECK_EQ(bft_on_timeout(b, (bft_timeout_t) 7, 1, 0, 0, &acts), VL_ERR_INVALID);
    CHECK_EQ(acts.n, 0);
    CHECK_INV(b);

    /* Other heights are ignored (the driver buffers the next one). */
    CHECK_EQ(bft_on_vote(b, BFT_PREVOTE, 2, 0, v, 1, 0, &acts), 0);
    CHECK_EQ(bft_on_proposal(b, 0, 0, v, -1, 0, 0, &acts), 0);
    CHECK_EQ(bft_on_judged(b, 2, v, true, 0, &acts), 0);
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PROPOSE, 2, 0, 0, &acts), 0);
    CHECK_EQ(bft_on_value(b, 2, 0, v, 0, &acts), 0);
    CHECK_EQ(bft_stats(b)->other_height, 5);
    CHECK_EQ(acts.n, 0);
    /* A stale timeout and an unrequested value. */
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PROPOSE, 1, 3, 0, &acts), 0);
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PREVOTE, 1, 0, 0, &acts), 0); /* in PROPOSE */
    CHECK_EQ(bft_on_value(b, 1, 0, v, 0, &acts), 0); /* not our round */
    CHECK_EQ(bft_stats(b)->stale, 3);
    CHECK_EQ(acts.n, 0);
    CHECK_EQ(bft_step(b), BFT_STEP_PROPOSE);

    /* A machine never goes back a height, and replays only when fresh. */
    CHECK_EQ(bft_start_height(b, 1, 0, &acts), VL_ERR_STATE);
    CHECK_EQ(bft_start_height(b, 0, 0, &acts), VL_ERR_STATE);
    CHECK_EQ(bft_replay_own(b, 5, NULL, 0, 0, &acts), VL_ERR_STATE);
    CHECK_EQ(bft_height(b), 1);
    CHECK_EQ(bft_start_height(b, 3, 0, &acts), 0); /* skipping ahead is fine */
    CHECK_EQ(bft_height(b), 3);
    CHECK_INV(b);
    /* Before any height every message is ignored. */
    bft_config_t cfg;
    bft_config_init(&cfg, 4, 0);
    bft_t *idle = bft_new(&cfg);
    CHECK_EQ(bft_on_vote(idle, BFT_PREVOTE, 0, 0, v, 1, 0, &acts), 0);
    CHECK_EQ(bft_stats(idle)->other_height, 1);
    CHECK_INV(idle);
    bft_destroy(&idle);
    bft_destroy(&b);
}

/* Until the driver judges a block, it cannot be prevoted for; its verdict
 * decides between the block and nil. */
static void
test_judged(void)
{
    bft_actions_t acts;
    uint8_t v[32];
    s_hash(v, 9);
    for (int verdict = 0; verdict < 2; verdict++) {
        bft_t *b = s_machine(4, 0, &acts);
        CHECK_EQ(s_find(&acts, BFT_ACT_SCHEDULE_TIMEOUT, -1), 0);
        CHECK_EQ(acts.items[0].timeout, BFT_TIMEOUT_PROPOSE);
        CHECK_EQ(acts.items[0].delay_ms, 1000);
        CHECK_EQ(acts.items[0].at_ms, 1000);
        CHECK_EQ(bft_on_proposal(b, 1, 0, v, -1, 1, 5, &acts), 0);
        CHECK_EQ(acts.n, 0);
        CHECK_EQ(bft_step(b), BFT_STEP_PROPOSE);
        /* A verdict on another block changes nothing. */
        uint8_t w[32];
        CHECK_EQ(bft_on_judged(b, 1, s_hash(w, 10), true, 6, &acts), 0);
        CHECK_EQ(acts.n, 0);
        CHECK_EQ(bft_on_judged(b, 1, v, verdict == 1, 7, &acts), 0);
        CHECK_INV(b);
        CHECK_EQ(acts.n, 1);
        CHECK_EQ(acts.items[0].kind, BFT_ACT_BROADCAST_VOTE);
        CHECK_EQ(acts.items[0].type, BFT_PREVOTE);
        CHECK_EQ(acts.items[0].nil, verdict == 0);
        CHECK_EQ(bft_step(b), BFT_STEP_PREVOTE);
        bft_destroy(&b);
    }

    /* 2f+1 precommits for a block not yet judged: no commit until it is; an
     * invalid block is never committed. */
    bft_t *b = s_machine(4, 0, &acts);
    for (uint32_t i = 1; i <= 3; i++)
        s_vote(b, BFT_PRECOMMIT, 0, v, i, &acts);
    CHECK_EQ(bft_step(b), BFT_STEP_PROPOSE);
    CHECK_EQ(s_find(&acts, BFT_ACT_COMMIT, -1), -1);
    CHECK_EQ(bft_on_judged(b, 1, v, false, 0, &acts), 0);
    CHECK_EQ(s_find(&acts, BFT_ACT_COMMIT, -1), -1);
    CHECK_EQ(bft_on_judged(b, 1, v, true, 0, &acts), 0); /* a later verdict replaces it */
    CHECK_INV(b);
    int c = s_find(&acts, BFT_ACT_COMMIT, -1);
    CHECK(c >= 0);
    if (c >= 0) {
        CHECK_EQ(bft_set_count(&acts.items[c].signers), 3);
        CHECK(!bft_set_has(&acts.items[c].signers, 0));
    }
    CHECK_EQ(bft_step(b), BFT_STEP_COMMITTED);
    bft_destroy(&b);
}

/* Two different messages of one type at one (h, r) from one validator:
 * EVIDENCE with both, and only the first counts. */
static void
test_evidence(void)
{
    bft_actions_t acts;
    bft_t *b = s_machine(4, 0, &acts);
    uint8_t v[32], w[32];
    s_hash(v, 1);
    s_hash(w, 2);
    s_vote(b, BFT_PREVOTE, 0, v, 2, &acts);
    CHECK_EQ(acts.n, 0);
    s_vote(b, BFT_PREVOTE, 0, v, 2, &acts); /* the same vote again */
    CHECK_EQ(acts.n, 0);
    CHECK_EQ(bft_stats(b)->duplicates, 1);
    s_vote(b, BFT_PREVOTE, 0, w, 2, &acts);
    CHECK_EQ(acts.n, 1);
    const bft_action_t *e = &acts.items[0];
    CHECK_EQ(e->kind, BFT_ACT_EVIDENCE);
    CHECK_EQ(e->validator, 2);
    CHECK_EQ(e->type, BFT_PREVOTE);
    CHECK_EQ(e->height, 1);
    CHECK_EQ(e->round, 0);
    CHECK(!e->nil && !e->nil_b);
    CHECK(memcmp(e->hash, v, 32) == 0 && memcmp(e->hash_b, w, 32) == 0);
    s_vote(b, BFT_PREVOTE, 0, NULL, 2, &acts); /* reported already at (0, prevote) */
    CHECK_EQ(s_count(&acts, BFT_ACT_EVIDENCE), 0);
    /* Precommits: nil first, then a block. */
    s_vote(b, BFT_PRECOMMIT, 0, NULL, 3, &acts);
    s_vote(b, BFT_PRECOMMIT, 0, v, 3, &acts); /* nil differs from a block too */
    CHECK_EQ(s_count(&acts, BFT_ACT_EVIDENCE), 1);
    CHECK(acts.items[0].nil && !acts.items[0].nil_b);
    CHECK_EQ(acts.items[0].type, BFT_PRECOMMIT);
    /* Two proposals from the proposer of (1, 0) = 1. */
    CHECK_EQ(bft_on_proposal(b, 1, 0, v, -1, 1, 0, &acts), 0);
    CHECK_EQ(bft_on_proposal(b, 1, 0, w, -1, 1, 0, &acts), 0);
    CHECK_EQ(s_count(&acts, BFT_ACT_EVIDENCE), 1);
    CHECK_EQ(acts.items[0].type, BFT_PROPOSAL);
    CHECK_EQ(acts.items[0].validator, 1);
    CHECK(memcmp(acts.items[0].hash, v, 32) == 0);
    /* Once per (validator, round, type): validator 2's nil prevote above
     * was not reported again; resending its votes reports nothing. */
    CHECK_EQ(bft_stats(b)->evidence, 3);
    s_vote(b, BFT_PREVOTE, 0, w, 2, &acts);
    s_vote(b, BFT_PREVOTE, 0, v, 2, &acts);
    CHECK_EQ(acts.n, 0);
    CHECK_EQ(bft_stats(b)->evidence, 3);
    bft_destroy(&b);

    /* A second vote counts for its own value too: validator 2 prevoted v
     * (which we heard first) and w; 1 and 3 prevote w — that is the polka
     * for w the rest of the network sees, and we see it as well. */
    b = s_machine(4, 0, &acts);
    CHECK_EQ(bft_on_judged(b, 1, w, true, 0, &acts), 0);
    s_vote(b, BFT_PREVOTE, 0, v, 2, &acts);
    s_vote(b, BFT_PREVOTE, 0, w, 2, &acts);
    CHECK_EQ(s_count(&acts, BFT_ACT_EVIDENCE), 1);
    s_vote(b, BFT_PREVOTE, 0, w, 1, &acts);
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PROPOSE, 1, 0, 0, &acts), 0); /* we prevote nil */
    CHECK_EQ(s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PRECOMMIT), -1);
    s_vote(b, BFT_PREVOTE, 0, w, 3, &acts);
    int pc = s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PRECOMMIT);
    CHECK(pc >= 0 && !acts.items[pc].nil && memcmp(acts.items[pc].hash, w, 32) == 0);
    /* Still one validator for "2f+1 of any kind": 0, 1, 2, 3 voted = 4. */
    CHECK_INV(b);
    bft_destroy(&b);

    /* The bound: a validator sending many values opens at most n tallies
     * with its later votes; the rest is dropped, reported once. */
    b = s_machine(4, 0, &acts);
    for (int k = 0; k < 20; k++) {
        uint8_t x[32];
        s_vote(b, BFT_PRECOMMIT, 0, s_hash(x, 100 + k), 3, &acts);
    }
    CHECK_EQ(bft_stats(b)->evidence, 1);
    CHECK_INV(b);
    bft_destroy(&b);
}

/* Our own messages relayed back: the one we signed is a duplicate, anything
 * else signed with our key is refused. */
static void
test_own_echo(void)
{
    bft_actions_t acts;
    bft_t *b = s_machine(4, 1, &acts); /* proposer of (1, 0) */
    CHECK_EQ(s_find(&acts, BFT_ACT_BUILD_PROPOSAL, -1), 0);
    uint8_t v[32], w[32];
    s_hash(v, 1);
    s_hash(w, 2);
    CHECK_EQ(bft_on_value(b, 1, 0, v, 0, &acts), 0);
    CHECK_INV(b);
    CHECK_EQ(s_find(&acts, BFT_ACT_BROADCAST_PROPOSAL, -1), 0);
    CHECK_EQ(s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PREVOTE), 1);
    CHECK_EQ(bft_on_proposal(b, 1, 0, v, -1, 1, 0, &acts), 0);
    CHECK_EQ(bft_on_vote(b, BFT_PREVOTE, 1, 0, v, 1, 0, &acts), 0);
    CHECK_EQ(bft_stats(b)->duplicates, 2);
    CHECK_EQ(bft_on_proposal(b, 1, 0, w, -1, 1, 0, &acts), VL_ERR_INVALID);
    CHECK_EQ(bft_on_vote(b, BFT_PREVOTE, 1, 0, NULL, 1, 0, &acts), VL_ERR_INVALID);
    CHECK_EQ(bft_on_vote(b, BFT_PRECOMMIT, 1, 0, v, 1, 0, &acts), VL_ERR_INVALID);
    CHECK_EQ(bft_on_vote(b, BFT_PREVOTE, 1, 2, v, 1, 0, &acts), VL_ERR_INVALID);
    CHECK_EQ(bft_stats(b)->evidence, 0);
    CHECK_INV(b);
    bft_destroy(&b);
}

/* The paper's locking: a validator locked on v in round r does not prevote
 * another value later unless it sees a polka for it at a round >= its
 * lockedRound; it still prevotes v. */
static void
test_locking(void)
{
    bft_actions_t acts;
    bft_t *b = s_machine(4, 0, &acts);
    uint8_t v[32], w[32], lock[32];
    s_hash(v, 1);
    s_hash(w, 2);

    /* Round 0 (proposer 1): v, a polka for v: we lock v at 0. */
    CHECK_EQ(bft_on_proposal(b, 1, 0, v, -1, 1, 0, &acts), 0);
    CHECK_EQ(bft_on_judged(b, 1, v, true, 0, &acts), 0);
    CHECK_EQ(s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PREVOTE), 0);
    s_vote(b, BFT_PREVOTE, 0, v, 1, &acts);
    s_vote(b, BFT_PREVOTE, 0, v, 2, &acts);
    int pc = s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PRECOMMIT);
    CHECK(pc >= 0 && !acts.items[pc].nil && memcmp(acts.items[pc].hash, v, 32) == 0);
    CHECK_EQ(bft_locked(b, lock), 0);
    CHECK(memcmp(lock, v, 32) == 0);
    CHECK_EQ(bft_valid(b, NULL), 0);
    CHECK_EQ(bft_step(b), BFT_STEP_PRECOMMIT);
    /* Precommits of others are nil: no commit; 2f+1 of any kind start the
     * precommit timeout; it moves us to round 1. */
    s_vote(b, BFT_PRECOMMIT, 0, NULL, 1, &acts);
    s_vote(b, BFT_PRECOMMIT, 0, NULL, 2, &acts);
    int t = s_find(&acts, BFT_ACT_SCHEDULE_TIMEOUT, -1);
    CHECK(t >= 0 && acts.items[t].timeout == BFT_TIMEOUT_PRECOMMIT);
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PRECOMMIT, 1, 0, 0, &acts), 0);
    CHECK_INV(b);
    CHECK_EQ(bft_round(b), 1);

    /* Round 1 (proposer 2) proposes w, no valid round: we prevote nil, at
     * once (the lock decides; no verdict is needed). */
    CHECK_EQ(bft_on_proposal(b, 1, 1, w, -1, 2, 0, &acts), 0);
    CHECK_INV(b);
    int pv = s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PREVOTE);
    CHECK(pv >= 0 && acts.items[pv].nil);
    CHECK_EQ(bft_on_judged(b, 1, w, true, 0, &acts), 0);
    CHECK_EQ(acts.n, 0);
    /* The others form a polka for w at round 1; we are in PREVOTE: we lock
     * w at 1 (a polka at a round above our lock). */
    s_vote(b, BFT_PREVOTE, 1, w, 1, &acts);
    s_vote(b, BFT_PREVOTE, 1, w, 2, &acts);
    CHECK_EQ(s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PRECOMMIT), -1);
    s_vote(b, BFT_PREVOTE, 1, w, 3, &acts);
    pc = s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PRECOMMIT);
    CHECK(pc >= 0 && memcmp(acts.items[pc].hash, w, 32) == 0);
    CHECK_EQ(bft_locked(b, lock), 1);
    CHECK(memcmp(lock, w, 32) == 0);
    bft_destroy(&b);

    /* Again, but the later proposals do not justify w enough. */
    b = s_machine(4, 0, &acts);
    CHECK_EQ(bft_on_proposal(b, 1, 0, v, -1, 1, 0, &acts), 0);
    CHECK_EQ(bft_on_judged(b, 1, v, true, 0, &acts), 0);
    CHECK_EQ(bft_on_judged(b, 1, w, true, 0, &acts), 0);
    s_vote(b, BFT_PREVOTE, 0, v, 1, &acts);
    s_vote(b, BFT_PREVOTE, 0, v, 2, &acts);
    CHECK_EQ(bft_locked(b, NULL), 0);
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PRECOMMIT, 1, 0, 0, &acts), 0);
    CHECK_EQ(bft_round(b), 1);
    /* Round 1: w with valid_round 0 — but the polka at 0 was for v: no rule
     * fires (line 28 needs 2f+1 prevotes for w at 0); the timeout gives nil. */
    CHECK_EQ(bft_on_proposal(b, 1, 1, w, 0, 2, 0, &acts), 0);
    CHECK_EQ(acts.n, 0);
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PROPOSE, 1, 1, 0, &acts), 0);
    pv = s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PREVOTE);
    CHECK(pv >= 0 && acts.items[pv].nil);
    /* Others prevote w at 1, but only two: no polka. Round 1 ends. */
    s_vote(b, BFT_PREVOTE, 1, w, 2, &acts);
    s_vote(b, BFT_PREVOTE, 1, w, 3, &acts);
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PREVOTE, 1, 1, 0, &acts), 0);
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PRECOMMIT, 1, 1, 0, &acts), 0);
    CHECK_EQ(bft_round(b), 2);
    /* Round 2 (proposer 3): w with valid_round 1 — no polka at 1: nothing. */
    CHECK_EQ(bft_on_proposal(b, 1, 2, w, 1, 3, 0, &acts), 0);
    CHECK_EQ(s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PREVOTE), -1);
    /* A late third prevote for w at round 1 makes the polka: now lockedRound
     * 0 <= vr 1, line 28 fires, we prevote w. */
    s_vote(b, BFT_PREVOTE, 1, w, 1, &acts);
    pv = s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PREVOTE);
    CHECK(pv >= 0 && !acts.items[pv].nil && memcmp(acts.items[pv].hash, w, 32) == 0);
    CHECK_EQ(acts.items[pv].round, 2);
    CHECK_EQ(bft_locked(b, lock), 0); /* the lock moves only with a precommit */
    CHECK(memcmp(lock, v, 32) == 0);
    bft_destroy(&b);

    /* Locked on v at 0; round 1 proposes v again with no valid round: we
     * prevote it (lockedValue = v); a fresh w is nil. */
    b = s_machine(4, 0, &acts);
    CHECK_EQ(bft_on_proposal(b, 1, 0, v, -1, 1, 0, &acts), 0);
    CHECK_EQ(bft_on_judged(b, 1, v, true, 0, &acts), 0);
    s_vote(b, BFT_PREVOTE, 0, v, 1, &acts);
    s_vote(b, BFT_PREVOTE, 0, v, 2, &acts);
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PRECOMMIT, 1, 0, 0, &acts), 0);
    CHECK_EQ(bft_on_proposal(b, 1, 1, v, -1, 2, 0, &acts), 0);
    pv = s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PREVOTE);
    CHECK(pv >= 0 && !acts.items[pv].nil);
    CHECK_INV(b);
    /* The lock decides without a verdict: w unjudged, prevote nil at once.
     * (+2/3 nil precommits end round 1 with no timeout.) */
    for (uint32_t i = 1; i <= 3; i++)
        s_vote(b, BFT_PRECOMMIT, 1, NULL, i, &acts);
    CHECK_EQ(bft_round(b), 2);
    uint8_t x[32];
    s_hash(x, 3);
    CHECK_EQ(bft_on_proposal(b, 1, 2, x, -1, 3, 0, &acts), 0);
    pv = s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PREVOTE);
    CHECK(pv >= 0 && acts.items[pv].nil);
    CHECK_INV(b);

    /* Round 3: we propose (3 mod 4 + 1 = 0): the valid value v at its valid
     * round 0, not a new block. */
    for (uint32_t i = 1; i <= 3; i++)
        s_vote(b, BFT_PRECOMMIT, 2, NULL, i, &acts);
    CHECK_EQ(bft_round(b), 3);
    CHECK_EQ(bft_proposer(b, 1, 3), 0);
    int p = s_find(&acts, BFT_ACT_BROADCAST_PROPOSAL, -1);
    CHECK(p >= 0 && acts.items[p].valid_round == 0 && memcmp(acts.items[p].hash, v, 32) == 0);
    CHECK_EQ(s_find(&acts, BFT_ACT_BUILD_PROPOSAL, -1), -1);
    /* And we prevote our own re-proposal (polka at 0 is still kept). */
    CHECK(s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PREVOTE) > p);
    CHECK_INV(b);
    bft_destroy(&b);
}

/* Timeouts grow per round: a validator alone in its rounds (nobody answers)
 * walks them on timeouts, each longer than the last. */
static void
test_timeouts_grow(void)
{
    bft_actions_t acts;
    bft_t *b = s_machine(4, 0, &acts);
    int64_t now = 0;
    int64_t last[3] = { 0, 0, 0 };
    for (int32_t r = 0; r < 6; r++) {
        CHECK_EQ(bft_round(b), r);
        int t = s_find(&acts, BFT_ACT_SCHEDULE_TIMEOUT, -1);
        if (bft_proposer(b, 1, r) == 0) {
            /* Our round: we build (the paper's proposer waits for its
             * block, no propose timeout) and answer at once. */
            CHECK_EQ(t, -1);
            uint8_t v[32];
            CHECK_EQ(bft_on_value(b, 1, r, s_hash(v, 100 + r), now, &acts), 0);
        } else {
            CHECK(t >= 0);
            if (t >= 0) {
                CHECK_EQ(acts.items[t].timeout, BFT_TIMEOUT_PROPOSE);
                CHECK_EQ(acts.items[t].delay_ms, 1000 + 500 * r);
                CHECK_EQ(acts.items[t].at_ms, now + 1000 + 500 * r);
                CHECK(acts.items[t].delay_ms > last[0]);
                last[0] = acts.items[t].delay_ms;
            }
            CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PROPOSE, 1, r, now, &acts), 0);
        }
        /* The others' nil prevotes start the prevote timeout (line 34). */
        s_vote(b, BFT_PREVOTE, r, NULL, 1, &acts);
        s_vote(b, BFT_PREVOTE, r, NULL, 2, &acts);
        t = s_find(&acts, BFT_ACT_SCHEDULE_TIMEOUT, -1);
        /* With our own prevote that is 2f+1 prevotes of any kind; nil ones
         * from 1 and 2 plus ours make a nil polka only when ours is nil. */
        if (t >= 0 && acts.items[t].timeout == BFT_TIMEOUT_PREVOTE) {
            CHECK_EQ(acts.items[t].delay_ms, 500 + 500 * r);
            CHECK(acts.items[t].delay_ms > last[1]);
            last[1] = acts.items[t].delay_ms;
            CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PREVOTE, 1, r, now, &acts), 0);
        }
        CHECK_EQ(bft_step(b), BFT_STEP_PRECOMMIT);
        /* One of them for a value: 2f+1 precommits of any kind, no nil
         * quorum, start the precommit timeout (line 47). */
        uint8_t w[32];
        s_vote(b, BFT_PRECOMMIT, r, NULL, 1, &acts);
        s_vote(b, BFT_PRECOMMIT, r, s_hash(w, 200 + r), 2, &acts);
        t = s_find(&acts, BFT_ACT_SCHEDULE_TIMEOUT, -1);
        CHECK(t >= 0 && acts.items[t].timeout == BFT_TIMEOUT_PRECOMMIT);
        if (t >= 0) {
            CHECK_EQ(acts.items[t].delay_ms, 500 + 500 * r);
            CHECK(acts.items[t].delay_ms > last[2]);
            last[2] = acts.items[t].delay_ms;
        }
        now += 10000;
        CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PRECOMMIT, 1, r, now, &acts), 0);
        CHECK_INV(b);
    }
    CHECK_EQ(bft_round(b), 6);
    CHECK(last[1] > 0);
    bft_destroy(&b);
}

/* +2/3 nil precommits end the round at once (not in Algorithm 1: no value
 * can reach a precommit quorum at that round any more); fewer, or a mix,
 * wait for the precommit timeout; a late quorum for a value of the round
 * left still commits (line 49). */
static void
test_nil_precommits(void)
{
    bft_actions_t acts;
    bft_t *b = s_machine(4, 0, &acts);
    uint8_t v[32];
    s_hash(v, 7);
    /* Round 0 (proposer 1) proposes v; we prevote it; the others' nil
     * prevotes make a nil polka: we precommit nil. */
    CHECK_EQ(bft_on_proposal(b, 1, 0, v, -1, 1, 0, &acts), 0);
    CHECK_EQ(bft_on_judged(b, 1, v, true, 0, &acts), 0);
    s_vote(b, BFT_PREVOTE, 0, NULL, 2, &acts);
    s_vote(b, BFT_PREVOTE, 0, NULL, 3, &acts);
    s_vote(b, BFT_PREVOTE, 0, NULL, 1, &acts);
    CHECK_EQ(bft_step(b), BFT_STEP_PRECOMMIT);
    /* Ours and one more: no quorum of any kind, nothing happens. */
    s_vote(b, BFT_PRECOMMIT, 0, NULL, 2, &acts);
    CHECK_EQ(acts.n, 0);
    CHECK_EQ(bft_round(b), 0);
    /* A value precommit makes 2f+1 of any kind: the timeout, no new round. */
    s_vote(b, BFT_PRECOMMIT, 0, v, 1, &acts);
    int t = s_find(&acts, BFT_ACT_SCHEDULE_TIMEOUT, -1);
    CHECK(t >= 0 && acts.items[t].timeout == BFT_TIMEOUT_PRECOMMIT);
    CHECK_EQ(bft_round(b), 0);
    /* The third nil one: round 1 at once, without the timeout firing. */
    s_vote(b, BFT_PRECOMMIT, 0, NULL, 3, &acts);
    CHECK_EQ(bft_round(b), 1);
    CHECK_EQ(bft_step(b), BFT_STEP_PROPOSE);
    CHECK_EQ(bft_stats(b)->nil_rounds, 1);
    t = s_find(&acts, BFT_ACT_SCHEDULE_TIMEOUT, -1);
    CHECK(t >= 0 && acts.items[t].timeout == BFT_TIMEOUT_PROPOSE && acts.items[t].round == 1);
    /* The stale timeout of round 0 is ignored. */
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PRECOMMIT, 1, 0, 0, &acts), 0);
    CHECK_EQ(acts.n, 0);
    CHECK_EQ(bft_round(b), 1);
    bft_destroy(&b);

    /* Seven validators: five nil precommits at round 1 take us there (line
     * 55) and past it at once; a precommit quorum for v at round 0 that
     * arrives later still commits v by line 49, from round 2. */
    b = s_machine(7, 0, &acts); /* f = 2, quorum 5 */
    CHECK_EQ(bft_on_proposal(b, 1, 0, v, -1, 1, 0, &acts), 0);
    CHECK_EQ(bft_on_judged(b, 1, v, true, 0, &acts), 0);
    for (uint32_t i = 1; i <= 5; i++)
        s_vote(b, BFT_PRECOMMIT, 1, NULL, i, &acts);
    CHECK_EQ(bft_round(b), 2);
    CHECK_EQ(bft_stats(b)->nil_rounds, 1);
    for (uint32_t i = 1; i <= 4; i++)
        s_vote(b, BFT_PRECOMMIT, 0, v, i, &acts);
    CHECK_EQ(s_find(&acts, BFT_ACT_COMMIT, -1), -1);
    s_vote(b, BFT_PRECOMMIT, 0, v, 5, &acts);
    int c = s_find(&acts, BFT_ACT_COMMIT, -1);
    CHECK(c >= 0 && memcmp(acts.items[c].hash, v, 32) == 0);
    CHECK_EQ(bft_step(b), BFT_STEP_COMMITTED);
    bft_destroy(&b);
}

/* Line 55: f+1 validators seen at higher rounds make us skip to the highest
 * round at least f+1 of them reached; f alone do not. */
static void
test_round_skip(void)
{
    bft_actions_t acts;
    bft_t *b = s_machine(4, 0, &acts); /* f = 1: two needed */
    uint8_t v[32];
    s_hash(v, 1);
    s_vote(b, BFT_PREVOTE, 7, v, 1, &acts);
    CHECK_EQ(bft_round(b), 0);
    s_vote(b, BFT_PRECOMMIT, 9, NULL, 1, &acts);
    CHECK_EQ(bft_round(b), 0);
    /* Validator 2 at round 5: two validators at >= 5 (1 at 9, 2 at 5). */
    s_vote(b, BFT_PREVOTE, 5, NULL, 2, &acts);
    CHECK_EQ(bft_round(b), 5);
    CHECK_EQ(bft_step(b), BFT_STEP_PROPOSE);
    CHECK_EQ(bft_stats(b)->skips, 1);
    int t = s_find(&acts, BFT_ACT_SCHEDULE_TIMEOUT, -1); /* proposer of (1,5) is 2 */
    CHECK(t >= 0 && acts.items[t].round == 5 && acts.items[t].delay_ms == 1000 + 5 * 500);
    CHECK_INV(b);
    /* A proposal counts as a message too: proposer of (1, 9) is 2. */
    CHECK_EQ(bft_on_proposal(b, 1, 9, v, -1, 2, 0, &acts), 0);
    CHECK_EQ(bft_round(b), 9);
    /* The votes kept for round 9 are there when we arrive: 1's precommit. */
    CHECK_INV(b);
    bft_destroy(&b);

    /* n = 7, f = 2: three needed. */
    b = s_machine(7, 0, &acts);
    s_vote(b, BFT_PREVOTE, 3, v, 1, &acts);
    s_vote(b, BFT_PREVOTE, 3, v, 2, &acts);
    CHECK_EQ(bft_round(b), 0);
    s_vote(b, BFT_PRECOMMIT, 4, v, 3, &acts);
    CHECK_EQ(bft_round(b), 3);
    bft_destroy(&b);
}

/* Votes are kept for BFT_ROUNDS_KEPT rounds; a flood of rounds from one
 * validator is dropped beyond that and breaks nothing. */
static void
test_memory_bound(void)
{
    bft_actions_t acts;
    bft_t *b = s_machine(4, 0, &acts);
    uint8_t v[32];
    s_hash(v, 1);
    for (int32_t r = 1; r <= 40; r++)
        s_vote(b, BFT_PREVOTE, r, v, 3, &acts);
    CHECK_EQ(bft_round(b), 0);
    CHECK(bft_stats(b)->dropped >= (uint64_t) (40 - BFT_ROUNDS_KEPT));
    uint64_t dropped = bft_stats(b)->dropped;
    /* Nearer rounds replace farther ones: round 1 still has its place. */
    s_vote(b, BFT_PREVOTE, 1, v, 2, &acts);
    CHECK_EQ(bft_stats(b)->dropped, dropped);
    CHECK_EQ(bft_round(b), 1); /* 2 and 3 both at >= 1: skip */
    /* The current round works as usual: a commit in round 1. */
    CHECK_EQ(bft_on_judged(b, 1, v, true, 0, &acts), 0);
    for (uint32_t i = 1; i <= 3; i++)
        s_vote(b, BFT_PRECOMMIT, 1, v, i, &acts);
    CHECK_EQ(bft_step(b), BFT_STEP_COMMITTED);
    CHECK_INV(b);
    bft_destroy(&b);
}

/* Line 49 is for any round: precommits of an earlier round finish it. */
static void
test_commit_earlier_round(void)
{
    bft_actions_t acts;
    bft_t *b = s_machine(4, 0, &acts);
    uint8_t v[32];
    s_hash(v, 1);
    CHECK_EQ(bft_on_proposal(b, 1, 0, v, -1, 1, 0, &acts), 0);
    CHECK_EQ(bft_on_judged(b, 1, v, true, 0, &acts), 0);
    s_vote(b, BFT_PREVOTE, 0, v, 1, &acts);
    s_vote(b, BFT_PREVOTE, 0, v, 2, &acts);
    s_vote(b, BFT_PRECOMMIT, 0, NULL, 3, &acts);
    s_vote(b, BFT_PRECOMMIT, 0, v, 2, &acts);
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PRECOMMIT, 1, 0, 0, &acts), 0);
    CHECK_EQ(bft_round(b), 1);
    s_vote(b, BFT_PRECOMMIT, 0, v, 1, &acts);
    int c = s_find(&acts, BFT_ACT_COMMIT, -1);
    CHECK(c >= 0 && acts.items[c].round == 0);
    if (c >= 0) {
        CHECK(bft_set_has(&acts.items[c].signers, 0));
        CHECK(bft_set_has(&acts.items[c].signers, 1));
        CHECK(bft_set_has(&acts.items[c].signers, 2));
        CHECK(!bft_set_has(&acts.items[c].signers, 3));
    }
    CHECK_INV(b);
    bft_destroy(&b);
}

/* Replay restores the step of the last message and the lock, and never
 * signs again what was signed. */
static void
test_replay(void)
{
    bft_config_t cfg;
    bft_config_init(&cfg, 4, 0);
    bft_actions_t acts;
    uint8_t v[32], w[32], lock[32];
    s_hash(v, 1);
    s_hash(w, 2);

    /* Prevoted and precommitted v at 0, prevoted nil at 1. */
    bft_own_msg_t recs[] = {
        { .type = BFT_PREVOTE, .round = 0 },
        { .type = BFT_PRECOMMIT, .round = 0 },
        { .type = BFT_PREVOTE, .round = 1, .nil = true },
    };
    memcpy(recs[0].hash, v, 32);
    memcpy(recs[1].hash, v, 32);
    bft_t *b = bft_new(&cfg);
    CHECK_EQ(bft_replay_own(b, 1, recs, 3, 50, &acts), 0);
    CHECK_INV(b);
    CHECK_EQ(bft_height(b), 1);
    CHECK_EQ(bft_round(b), 1);
    CHECK_EQ(bft_step(b), BFT_STEP_PREVOTE);
    CHECK_EQ(bft_locked(b, lock), 0);
    CHECK(memcmp(lock, v, 32) == 0);
    CHECK_EQ(acts.n, 1);
    CHECK_EQ(acts.items[0].kind, BFT_ACT_SCHEDULE_TIMEOUT);
    CHECK_EQ(acts.items[0].timeout, BFT_TIMEOUT_PREVOTE);
    CHECK_EQ(acts.items[0].at_ms, 50 + 1000);
    /* Round 1's proposal no longer gets a prevote from us. */
    CHECK_EQ(bft_on_proposal(b, 1, 1, w, -1, 2, 0, &acts), 0);
    CHECK_EQ(bft_on_judged(b, 1, w, true, 0, &acts), 0);
    CHECK_EQ(s_count(&acts, BFT_ACT_BROADCAST_VOTE), 0);
    /* Our replayed votes are counted: two more prevotes for v at 0 make the
     * polka that line 28 wants; our own precommit there counts for line 49. */
    s_vote(b, BFT_PRECOMMIT, 0, v, 1, &acts);
    s_vote(b, BFT_PRECOMMIT, 0, v, 2, &acts);
    CHECK_EQ(bft_step(b), BFT_STEP_COMMITTED);
    bft_destroy(&b);

    /* Only a proposal of ours at round 0 (we propose (4, 0)): no second
     * block is built; we prevote it. */
    bft_own_msg_t prop = { .type = BFT_PROPOSAL, .round = 0, .valid_round = -1 };
    memcpy(prop.hash, v, 32);
    b = bft_new(&cfg);
    CHECK_EQ(bft_replay_own(b, 4, &prop, 1, 0, &acts), 0);
    CHECK_INV(b);
    CHECK_EQ(s_find(&acts, BFT_ACT_BUILD_PROPOSAL, -1), -1);
    CHECK_EQ(s_find(&acts, BFT_ACT_BROADCAST_PROPOSAL, -1), -1);
    int pv = s_find(&acts, BFT_ACT_BROADCAST_VOTE, BFT_PREVOTE);
    CHECK(pv >= 0 && memcmp(acts.items[pv].hash, v, 32) == 0);
    CHECK_EQ(bft_on_value(b, 4, 0, w, 0, &acts), 0); /* a late build answer: stale */
    CHECK_EQ(acts.n, 0);
    bft_destroy(&b);

    /* Precommitted nil at 2 with a lock from 0 and a proposal of ours at 1
     * (we propose (3, 1)) naming a valid round 0: round 2, PRECOMMIT, locked
     * v at 0, valid v at 0; the precommit timeout is scheduled. */
    bft_own_msg_t more[] = {
        { .type = BFT_PREVOTE, .round = 0 },
        { .type = BFT_PRECOMMIT, .round = 0 },
        { .type = BFT_PROPOSAL, .round = 1, .valid_round = 0 },
        { .type = BFT_PREVOTE, .round = 1 },
        { .type = BFT_PREVOTE, .round = 1 }, /* a repeat is fine */
        { .type = BFT_PREVOTE, .round = 2, .nil = true },
        { .type = BFT_PRECOMMIT, .round = 2, .nil = true },
    };
    memcpy(more[0].hash, v, 32);
    memcpy(more[1].hash, v, 32);
    memcpy(more[2].hash, v, 32);
    memcpy(more[3].hash, v, 32);
    memcpy(more[4].hash, v, 32);
    b = bft_new(&cfg);
    CHECK_EQ(bft_replay_own(b, 3, more, 7, 0, &acts), 0);
    CHECK_INV(b);
    CHECK_EQ(bft_round(b), 2);
    CHECK_EQ(bft_step(b), BFT_STEP_PRECOMMIT);
    CHECK_EQ(bft_locked(b, lock), 0);
    CHECK_EQ(bft_valid(b, NULL), 0);
    CHECK_EQ(acts.n, 1);
    CHECK_EQ(acts.items[0].timeout, BFT_TIMEOUT_PRECOMMIT);
    /* The timeout takes us to round 3 (proposer (3+3)%4 = 2). */
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PRECOMMIT, 3, 2, 0, &acts), 0);
    CHECK_EQ(bft_round(b), 3);
    CHECK_INV(b);
    bft_destroy(&b);

    /* Replay lands in PROPOSE of a round we propose with a valid value: we
     * re-propose it, and still schedule the propose timeout (the polka
     * behind the valid value was lost with the restart). */
    bft_own_msg_t pr[] = {
        { .type = BFT_PROPOSAL, .round = 1, .valid_round = -1 },
    };
    memcpy(pr[0].hash, w, 32);
    bft_own_msg_t lk[] = {
        { .type = BFT_PREVOTE, .round = 0 },
        { .type = BFT_PRECOMMIT, .round = 0 },
        { .type = BFT_PREVOTE, .round = 4, .nil = true },
    };
    memcpy(lk[0].hash, v, 32);
    memcpy(lk[1].hash, v, 32);
    (void) pr;
    b = bft_new(&cfg);
    /* Height 1: we propose round 3 ((1+3)%4 = 0). Records up to round 2. */
    lk[2].round = 2;
    CHECK_EQ(bft_replay_own(b, 1, lk, 3, 0, &acts), 0);
    CHECK_EQ(bft_round(b), 2);
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PREVOTE, 1, 2, 0, &acts), 0);
    CHECK_EQ(bft_on_timeout(b, BFT_TIMEOUT_PRECOMMIT, 1, 2, 0, &acts), 0);
    int p = s_find(&acts, BFT_ACT_BROADCAST_PROPOSAL, -1);
    CHECK(p >= 0 && acts.items[p].valid_round == 0 && memcmp(acts.items[p].hash, v, 32) == 0);
    CHECK_INV(b);
    bft_destroy(&b);

    /* No records: the same as bft_start_height. */
    b = bft_new(&cfg);
    CHECK_EQ(bft_replay_own(b, 2, NULL, 0, 0, &acts), 0);
    CHECK_EQ(bft_round(b), 0);
    CHECK_EQ(bft_step(b), BFT_STEP_PROPOSE);
    CHECK_EQ(s_find(&acts, BFT_ACT_BUILD_PROPOSAL, -1), -1); /* (2+0)%4 = 2 proposes */
    CHECK_EQ(s_find(&acts, BFT_ACT_SCHEDULE_TIMEOUT, -1), 0);
    CHECK_INV(b);
    bft_destroy(&b);

    /* Records that cannot be ours: nothing applied, the machine stays fresh. */
    bft_own_msg_t bad[3];
    memset(bad, 0, sizeof bad);
    b = bft_new(&cfg);
    bad[0] = (bft_own_msg_t) { .type = BFT_PROPOSAL, .round = 0 }; /* (1,0) is 1's */
    CHECK_EQ(bft_replay_own(b, 1, bad, 1, 0, &acts), VL_ERR_CORRUPT);
    bad[0] = (bft_own_msg_t) { .type = BFT_PROPOSAL, .round = 3, .valid_round = 3 };
    CHECK_EQ(bft_replay_own(b, 1, bad, 1, 0, &acts), VL_ERR_CORRUPT);
    bad[0] = (bft_own_msg_t) { .type = BFT_PROPOSAL, .round = 3, .nil = true, .valid_round = -1 };
    CHECK_EQ(bft_replay_own(b, 1, bad, 1, 0, &acts), VL_ERR_CORRUPT);
    bad[0] = (bft_own_msg_t) { .type = BFT_PREVOTE, .round = BFT_ROUND_MAX + 1 };
    CHECK_EQ(bft_replay_own(b, 1, bad, 1, 0, &acts), VL_ERR_CORRUPT);
    bad[0] = (bft_own_msg_t) { .type = (bft_msg_t) 5, .round = 0 };
    CHECK_EQ(bft_replay_own(b, 1, bad, 1, 0, &acts), VL_ERR_CORRUPT);
    bad[0] = (bft_own_msg_t) { .type = BFT_PRECOMMIT, .round = 0, .nil = true };
    CHECK_EQ(bft_replay_own(b, 1, bad, 1, 0, &acts), VL_ERR_CORRUPT); /* no prevote */
    bad[0] = (bft_own_msg_t) { .type = BFT_PREVOTE, .round = 1, .nil = true };
    bad[1] = (bft_own_msg_t) { .type = BFT_PREVOTE, .round = 0, .nil = true };
    CHECK_EQ(bft_replay_own(b, 1, bad, 2, 0, &acts), VL_ERR_CORRUPT); /* out of order */
    bad[1] = (bft_own_msg_t) { .type = BFT_PREVOTE, .round = 1 };
    memcpy(bad[1].hash, v, 32);
    CHECK_EQ(bft_replay_own(b, 1, bad, 2, 0, &acts), VL_ERR_CORRUPT); /* nil then v */
    bad[0] = (bft_own_msg_t) { .type = BFT_PRECOMMIT, .round = 1, .nil = true };
    bad[1] = (bft_own_msg_t) { .type = BFT_PREVOTE, .round = 1, .nil = true };
    CHECK_EQ(bft_replay_own(b, 1, bad, 2, 0, &acts), VL_ERR_CORRUPT); /* type order */
    CHECK_EQ(acts.n, 0);
    CHECK_EQ(bft_step(b), BFT_STEP_IDLE);
    CHECK_INV(b);
    CHECK_EQ(bft_start_height(b, 1, 0, &acts), 0);
    CHECK_INV(b);
    bft_destroy(&b);
}

/* --- The network simulator -------------------------------------------------- */

#define SIM_NODES_MAX 7
#define SIM_HEIGHTS_MAX 16
#define SIM_WAL_MAX 4096
#define SIM_FUTURE_MAX 512
#define SIM_SEEN_MAX 2048
#define SIM_RECV_MAX 2048
#define SIM_REG_BITS 15
#define SIM_REG_VALUES 4 /* the Byzantine node signs up to 3 values per (h, r, type) */
#define SIM_BYZ_MAX 4096
#define SIM_INVALID_TAG 0xEE /* hash[13] of a block every driver judges invalid */

typedef struct {
    bft_msg_t type;
    uint64_t height;
    int32_t round;
    bool nil;
    uint8_t hash[BFT_HASH_SIZE];
    int32_t valid_round;
    uint32_t from;
} sim_msg_t;

typedef enum {
    EV_MSG,
    EV_TIMEOUT,
    EV_BUILT,
    EV_JUDGED,
    EV_START,
    EV_CRASH,
    EV_RESTART,
    EV_SYNC,
} ev_kind_t;

typedef struct {
    int64_t at;
    uint64_t seq;
    ev_kind_t kind;
    int node;
    uint32_t epoch;             /* local events die with their incarnation */
    sim_msg_t msg;              /* EV_MSG; height/round/hash for BUILT, JUDGED */
    bft_timeout_t timeout;
} ev_t;

/* A signed message in the registry of everything anyone signed. */
typedef struct {
    bool used;
    int node;
    uint64_t height;
    int32_t round;
    bft_msg_t type;
    int n_values;               /* > 1 only for the Byzantine node */
    bool nil[SIM_REG_VALUES];
    uint8_t hash[SIM_REG_VALUES][BFT_HASH_SIZE];
} sim_reg_t;

typedef struct {
    bft_t *bft;                 /* owned; NULL when down or Byzantine */
    bool up;
    bool byzantine;
    bool stays_down;            /* crashed for good in this scenario */
    uint32_t epoch;
    uint64_t height;            /* consensus height: the ledger's + 1 (set at COMMIT) */
    int64_t height_since;
    bool starting;              /* EV_START pending */
    bft_own_msg_t wal[SIM_WAL_MAX]; /* own messages of `height`, in sign order */
    size_t n_wal;
    uint8_t judged[64][BFT_HASH_SIZE];
    size_t n_judged;
    sim_msg_t future[SIM_FUTURE_MAX];
    size_t n_future;
    sim_msg_t proposal;         /* the last proposal received at `height` */
    bool has_proposal;
    sim_msg_t recv[SIM_RECV_MAX]; /* prevotes received at `height` */
    size_t n_recv;
    uint64_t seen[SIM_SEEN_MAX]; /* relay dedup fingerprints (ring) */
    size_t seen_next;
    int decided;                /* heights committed by its own machine */
    int caught_up;              /* heights taken from the catch-up path */
} sim_node_t;

typedef struct {
    /* knobs */
    int n;
    uint64_t seed;
    int delay_min, delay_max;   /* ms per delivery */
    int drop_pct, dup_pct;
    bool relay;                 /* honest nodes relay every message once */
    int crash_pct;              /* per mille per node per second of a random crash */
    int crash_in_send_pct;      /* chance that a crash hits between persist and send */
    int byzantine;              /* index of the Byzantine node, -1 none */
    int32_t bad_rounds;         /* blocks built for (1, r < bad_rounds) are invalid */
    bool resend;                /* drivers re-send their signed messages every second */
    bool catchup;
    bool fault_budget;          /* crash only while Byzantine + down < f */
    uint64_t target;            /* stop when every live honest node passed this height */
    long max_events;
    int64_t max_ms;

    sim_node_t node[SIM_NODES_MAX];
    uint64_t rng;
    int64_t now;
    ev_t *heap;
    size_t n_heap, cap_heap;
    uint64_t seq;
    long events;
    bool failed;

    bool decided[SIM_HEIGHTS_MAX + 2];
    uint8_t decision[SIM_HEIGHTS_MAX + 2][BFT_HASH_SIZE];
    int32_t decision_round[SIM_HEIGHTS_MAX + 2];
    int commit_rounds_max;
    sim_reg_t *reg;
    long n_reg;
    uint64_t evidence[3];       /* EVIDENCE by type, against the Byzantine node */
    uint64_t timeouts_scheduled;
    uint64_t restarts;
    int64_t propose_delay[32];  /* node 0's propose timeout per round, height 1 */
    uint64_t by_kind[8];        /* events handled, by ev_kind_t */
    uint64_t byz_acted[SIM_BYZ_MAX];
    size_t n_byz_acted;
} sim_t;

static sim_t g_sim;

/* Seeds per scenario: base times $VLEDGER_BFT_SEEDS (default 1), for soak
 * runs outside the suite. */
static uint64_t
s_seeds(uint64_t base)
{
    const char *e = getenv("VLEDGER_BFT_SEEDS");
    long k = e ? atol(e) : 1;
    return base * (uint64_t) (k > 0 ? k : 1);
}

static uint64_t
s_rand(sim_t *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int
s_range(sim_t *s, int lo, int hi)
{
    return hi <= lo ? lo : lo + (int) (s_rand(s) % (uint64_t) (hi - lo + 1));
}

static bool
s_chance(sim_t *s, int pct)
{
    return pct > 0 && (int) (s_rand(s) % 100) < pct;
}

#define SIM_FAIL(s, ...)                                                                      \
    do {                                                                                      \
        fprintf(stderr, "%s:%d: seed %llu n %d t %lld: ", __FILE__, __LINE__,                 \
                (unsigned long long) (s)->seed, (s)->n, (long long) (s)->now);                \
        fprintf(stderr, __VA_ARGS__);                                                         \
        fprintf(stderr, "\n");                                                                \
        (s)->failed = true;                                                                   \
        check_failures_++;                                                                    \
    } while (0)

/* A block hash: who proposed it where, and a variant (the Byzantine node
 * makes several; SIM_INVALID_TAG marks one every driver refuses). */
static void
s_value(uint8_t out[BFT_HASH_SIZE], uint64_t h, int32_t r, int node, int variant)
{
    memset(out, 0xab, BFT_HASH_SIZE);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t) (h >> (8 * i));
    for (int i = 0; i < 4; i++)
        out[8 + i] = (uint8_t) ((uint32_t) r >> (8 * i));
    out[12] = (uint8_t) node;
    out[13] = (uint8_t) variant;
}

static bool
s_value_valid(const uint8_t *hash)
{
    return hash[13] != SIM_INVALID_TAG;
}

/* True when a crash now keeps faults within what liveness is promised for:
 * Byzantine plus down <= f. Without a budget, always. */
static bool
s_may_crash(const sim_t *s)
{
    if (!s->fault_budget)
        return true;
    int faulty = s->byzantine >= 0;
    for (int i = 0; i < s->n; i++)
        faulty += !s->node[i].byzantine && !s->node[i].up;
    return faulty < (s->n - 1) / 3;
}

/* --- Event heap --------------------------------------------------------- */

static bool
s_ev_less(const ev_t *a, const ev_t *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void
s_push(sim_t *s, ev_t e)
{
    if (s->n_heap == s->cap_heap) {
        s->cap_heap = s->cap_heap ? 2 * s->cap_heap : 1024;
        s->heap = realloc(s->heap, s->cap_heap * sizeof *s->heap);
        if (!s->heap)
            abort();
    }
    e.seq = s->seq++;
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!s_ev_less(&e, &s->heap[p]))
            break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
}

static bool
s_pop(sim_t *s, ev_t *out)
{
    if (s->n_heap == 0)
        return false;
    *out = s->heap[0];
    ev_t last = s->heap[--s->n_heap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->n_heap)
            break;
        if (c + 1 < s->n_heap && s_ev_less(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!s_ev_less(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->n_heap > 0)
        s->heap[i] = last;
    return true;
}

static void
s_local(sim_t *s, int node, ev_kind_t kind, int64_t at, const sim_msg_t *m)
{
    ev_t e;
    memset(&e, 0, sizeof e);
    e.at = at;
    e.kind = kind;
    e.node = node;
    e.epoch = s->node[node].epoch;
    if (m)
        e.msg = *m;
    s_push(s, e);
}

/* --- Registry of signed messages ---------------------------------------- */

static sim_reg_t *
s_reg_find(sim_t *s, int node, uint64_t h, int32_t r, bft_msg_t type, bool create)
{
    uint64_t k = ((uint64_t) node * 0x9e3779b97f4a7c15ull) ^ (h * 0xbf58476d1ce4e5b9ull)
                 ^ ((uint64_t) r * 0x94d049bb133111ebull) ^ ((uint64_t) type << 60);
    size_t mask = ((size_t) 1 << SIM_REG_BITS) - 1;
    for (size_t i = (size_t) (k ^ (k >> 29)) & mask, probes = 0; probes <= mask;
         i = (i + 1) & mask, probes++) {
        sim_reg_t *e = &s->reg[i];
        if (!e->used) {
            if (!create)
                return NULL;
            e->used = true;
            e->node = node;
            e->height = h;
            e->round = r;
            e->type = type;
            s->n_reg++;
            return e;
        }
        if (e->node == node && e->height == h && e->round == r && e->type == type)
            return e;
    }
    return NULL;
}

/* Records a signed message; an honest node's second different message of
 * one (h, r, type) is the failure this whole module exists to prevent. */
static void
s_register(sim_t *s, int node, uint64_t h, int32_t r, bft_msg_t type, bool nil,
           const uint8_t *hash)
{
    sim_reg_t *e = s_reg_find(s, node, h, r, type, true);
    if (!e) {
        SIM_FAIL(s, "registry full");
        return;
    }
    for (int i = 0; i < e->n_values; i++)
        if (e->nil[i] == nil && (nil || memcmp(e->hash[i], hash, 32) == 0))
            return;
    if (e->n_values > 0 && !s->node[node].byzantine)
        SIM_FAIL(s, "honest node %d signed two different %s at (%llu, %d)", node,
                 bft_msg_name(type), (unsigned long long) h, r);
    if (e->n_values < SIM_REG_VALUES) {
        e->nil[e->n_values] = nil;
        if (!nil)
            memcpy(e->hash[e->n_values], hash, 32);
        e->n_values++;
    }
}

static bool
s_registered(sim_t *s, int node, uint64_t h, int32_t r, bft_msg_t type, const uint8_t *hash)
{
    sim_reg_t *e = s_reg_find(s, node, h, r, type, false);
    if (!e)
        return false;
    for (int i = 0; i < e->n_values; i++)
        if (!e->nil[i] && memcmp(e->hash[i], hash, 32) == 0)
            return true;
    return false;
}

/* --- Sending -------------------------------------------------------------- */

static uint64_t
s_fingerprint(const sim_msg_t *m)
{
    uint64_t f = 1469598103934665603ull;
    const uint8_t *p = (const uint8_t *) m;
    sim_msg_t c;
    memset(&c, 0, sizeof c); /* padding must not count */
    c.type = m->type;
    c.height = m->height;
    c.round = m->round;
    c.nil = m->nil;
    memcpy(c.hash, m->hash, 32);
    c.valid_round = m->valid_round;
    c.from = m->from;
    p = (const uint8_t *) &c;
    for (size_t i = 0; i < sizeof c; i++)
        f = (f ^ p[i]) * 1099511628211ull;
    return f ? f : 1;
}

static void
s_deliver(sim_t *s, int to, const sim_msg_t *m)
{
    if (s_chance(s, s->drop_pct))
        return;
    int copies = s_chance(s, s->dup_pct) ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        ev_t e;
        memset(&e, 0, sizeof e);
        e.at = s->now + s_range(s, s->delay_min, s->delay_max);
        e.kind = EV_MSG;
        e.node = to;
        e.msg = *m;
        s_push(s, e);
    }
}

static void
s_send_all(sim_t *s, int from_node, const sim_msg_t *m)
{
    for (int j = 0; j < s->n; j++)
        if (j != from_node)
            s_deliver(s, j, m);
}

/* --- The driver ------------------------------------------------------------ */

static void s_feed(sim_t *s, int i, const sim_msg_t *m);

static void
s_check_machine(sim_t *s, int i)
{
    const char *why = bft_check_invariants(s->node[i].bft);
    if (why)
        SIM_FAIL(s, "node %d: %s", i, why);
}

static void
s_crash(sim_t *s, int i)
{
    sim_node_t *nd = &s->node[i];
    bft_destroy(&nd->bft);
    nd->up = false;
    nd->epoch++;
    nd->n_future = 0;
    nd->n_judged = 0;
    nd->n_recv = 0;
    nd->has_proposal = false;
    nd->starting = false;
}

/* Begins height h at node i (after a commit or a catch-up). */
static void
s_begin_height(sim_t *s, int i, uint64_t h);

static void
s_run_actions(sim_t *s, int i, const bft_actions_t *acts)
{
    sim_node_t *nd = &s->node[i];
    for (size_t k = 0; k < acts->n && nd->up; k++) {
        const bft_action_t *a = &acts->items[k];
        if (a->height != nd->height)
            SIM_FAIL(s, "node %d: action for height %llu at %llu", i,
                     (unsigned long long) a->height, (unsigned long long) nd->height);
        switch (a->kind) {
        case BFT_ACT_BUILD_PROPOSAL: {
            sim_msg_t m = { .height = a->height, .round = a->round };
            s_value(m.hash, a->height, a->round, i,
                    a->height == 1 && a->round < s->bad_rounds ? SIM_INVALID_TAG : 0);
            s_local(s, i, EV_BUILT, s->now + s_range(s, 0, 30), &m);
            break;
        }
        case BFT_ACT_BROADCAST_PROPOSAL:
        case BFT_ACT_BROADCAST_VOTE: {
            bool prop = a->kind == BFT_ACT_BROADCAST_PROPOSAL;
            sim_msg_t m = { .type = prop ? BFT_PROPOSAL : a->type,
                            .height = a->height,
                            .round = a->round,
                            .nil = !prop && a->nil,
                            .valid_round = prop ? a->valid_round : BFT_NO_ROUND,
                            .from = (uint32_t) i };
            memcpy(m.hash, a->hash, 32);
            if (prop && a->valid_round >= a->round)
                SIM_FAIL(s, "node %d proposed with valid_round %d at round %d", i,
                         a->valid_round, a->round);
            /* Persist (synced), then sign and send. */
            if (nd->n_wal >= SIM_WAL_MAX) {
                SIM_FAIL(s, "WAL full");
                break;
            }
            bft_own_msg_t *w = &nd->wal[nd->n_wal++];
            memset(w, 0, sizeof *w);
            w->type = m.type;
            w->round = m.round;
            w->nil = m.nil;
            memcpy(w->hash, m.hash, 32);
            w->valid_round = m.valid_round;
            if (s_chance(s, s->crash_in_send_pct) && s_may_crash(s)) {
                /* Crashed after the synced write, before signing: the
                 * record counts as signed, nothing went out. */
                s_register(s, i, m.height, m.round, m.type, m.nil, m.hash);
                s_crash(s, i);
                s_local(s, i, EV_RESTART, s->now + s_range(s, 50, 2000), NULL);
                return;
            }
            s_register(s, i, m.height, m.round, m.type, m.nil, m.hash);
            s_send_all(s, i, &m);
            break;
        }
        case BFT_ACT_SCHEDULE_TIMEOUT: {
            s->timeouts_scheduled++;
            if (a->at_ms != s->now + a->delay_ms
                || a->delay_ms != bft_timeout_ms(&(bft_timeouts_t) { 1000, 500, 500, 500, 500,
                                                                      500 },
                                                 a->timeout, a->round))
                SIM_FAIL(s, "node %d: timeout %lld at %lld", i, (long long) a->delay_ms,
                         (long long) a->at_ms);
            if (i == 0 && a->height == 1 && a->timeout == BFT_TIMEOUT_PROPOSE && a->round < 32)
                s->propose_delay[a->round] = a->delay_ms;
            ev_t e;
            memset(&e, 0, sizeof e);
            e.at = a->at_ms;
            e.kind = EV_TIMEOUT;
            e.node = i;
            e.epoch = nd->epoch;
            e.timeout = a->timeout;
            e.msg.height = a->height;
            e.msg.round = a->round;
            s_push(s, e);
            break;
        }
        case BFT_ACT_COMMIT: {
            uint64_t h = a->height;
            if (!s_value_valid(a->hash))
                SIM_FAIL(s, "node %d committed an invalid block", i);
            /* Validity: the block was proposed by someone (rounds beyond
             * the commit round are searched too: a late re-proposal). */
            bool proposed = false;
            for (int32_t r = 0; r <= a->round + 64 && !proposed; r++)
                proposed = s_registered(s, (int) bft_proposer(nd->bft, h, r), h, r,
                                        BFT_PROPOSAL, a->hash);
            if (!proposed)
                SIM_FAIL(s, "node %d committed a block nobody proposed", i);
            if (bft_set_count(&a->signers) < bft_quorum(nd->bft))
                SIM_FAIL(s, "node %d: commit with %u signers", i, bft_set_count(&a->signers));
            for (int j = 0; j < s->n; j++)
                if (bft_set_has(&a->signers, (uint32_t) j)
                    && !s_registered(s, j, h, a->round, BFT_PRECOMMIT, a->hash))
                    SIM_FAIL(s, "node %d: signer %d never precommitted that block", i, j);
            if (h <= SIM_HEIGHTS_MAX) {
                if (s->decided[h] && memcmp(s->decision[h], a->hash, 32) != 0)
                    SIM_FAIL(s, "AGREEMENT: node %d committed another block at %llu", i,
                             (unsigned long long) h);
                if (!s->decided[h]) {
                    s->decided[h] = true;
                    memcpy(s->decision[h], a->hash, 32);
                    s->decision_round[h] = a->round;
                }
            }
            if (a->round > s->commit_rounds_max)
                s->commit_rounds_max = a->round;
            nd->decided++;
            /* Commit the block (the ledger is at h now: a restart from here
             * replays h + 1), prune the WAL, start the next height. */
            nd->n_wal = 0;
            nd->height = h + 1;
            nd->starting = true;
            sim_msg_t m = { .height = h + 1 };
            s_local(s, i, EV_START, s->now + s_range(s, 1, 10), &m);
            break;
        }
        case BFT_ACT_EVIDENCE:
            if (s->byzantine < 0 || a->validator != (uint32_t) s->byzantine)
                SIM_FAIL(s, "node %d reported evidence against honest %u", i, a->validator);
            else
                s->evidence[a->type]++;
            break;
        }
    }
}

static void
s_judge_later(sim_t *s, int i, const sim_msg_t *m)
{
    sim_node_t *nd = &s->node[i];
    for (size_t k = 0; k < nd->n_judged; k++)
        if (memcmp(nd->judged[k], m->hash, 32) == 0)
            return;
    if (nd->n_judged < 64)
        memcpy(nd->judged[nd->n_judged++], m->hash, 32);
    sim_msg_t j = { .height = m->height };
    memcpy(j.hash, m->hash, 32);
    s_local(s, i, EV_JUDGED, s->now + s_range(s, 1, 20), &j);
}

/* An honest node's driver receives a message. */
static void
s_feed(sim_t *s, int i, const sim_msg_t *m)
{
    sim_node_t *nd = &s->node[i];
    if (m->height > nd->height || nd->starting) {
        if (m->height >= nd->height && nd->n_future < SIM_FUTURE_MAX)
            nd->future[nd->n_future++] = *m;
        return;
    }
    if (m->height < nd->height)
        return;
    bft_actions_t acts;
    int rc;
    if (m->type == BFT_PROPOSAL) {
        rc = bft_on_proposal(nd->bft, m->height, m->round, m->hash, m->valid_round, m->from,
                             s->now, &acts);
        if (!nd->has_proposal || m->round >= nd->proposal.round) {
            nd->proposal = *m;
            nd->has_proposal = true;
        }
        s_judge_later(s, i, m);
    } else {
        rc = bft_on_vote(nd->bft, m->type, m->height, m->round, m->nil ? NULL : m->hash,
                         m->from, s->now, &acts);
        if (m->type == BFT_PREVOTE && !m->nil) {
            bool known = false;
            for (size_t k = 0; k < nd->n_recv && !known; k++)
                known = nd->recv[k].from == m->from && nd->recv[k].round == m->round
                        && memcmp(nd->recv[k].hash, m->hash, 32) == 0;
            if (!known && nd->n_recv < SIM_RECV_MAX)
                nd->recv[nd->n_recv++] = *m;
        }
    }
    if (rc != 0)
        SIM_FAIL(s, "node %d refused a message: %d", i, rc);
    s_check_machine(s, i);
    s_run_actions(s, i, &acts);
}

static void
s_begin_height(sim_t *s, int i, uint64_t h)
{
    sim_node_t *nd = &s->node[i];
    nd->height = h;
    nd->height_since = s->now;
    nd->starting = false;
    nd->n_wal = 0;
    nd->n_judged = 0;
    nd->n_recv = 0;
    nd->has_proposal = false;
    bft_actions_t acts;
    if (bft_start_height(nd->bft, h, s->now, &acts) != 0)
        SIM_FAIL(s, "node %d: start height %llu refused", i, (unsigned long long) h);
    s_check_machine(s, i);
    s_run_actions(s, i, &acts);
    /* The buffered messages of this height, now (older ones are dropped). */
    sim_msg_t keep[SIM_FUTURE_MAX];
    size_t n_keep = 0, n = nd->n_future;
    sim_msg_t now_msgs[SIM_FUTURE_MAX];
    size_t n_now = 0;
    for (size_t k = 0; k < n; k++) {
        if (nd->future[k].height == h)
            now_msgs[n_now++] = nd->future[k];
        else if (nd->future[k].height > h)
            keep[n_keep++] = nd->future[k];
    }
    memcpy(nd->future, keep, n_keep * sizeof keep[0]);
    nd->n_future = n_keep;
    for (size_t k = 0; k < n_now && nd->up && nd->height == h && !nd->starting; k++)
        s_feed(s, i, &now_msgs[k]);
}

/* Re-sends what node i signed at its height (the same messages: never an
 * equivocation): after a restart, and every second, since Algorithm 1
 * assumes messages between correct validators eventually arrive. With
 * them, the prevotes it holds of the polka behind its validRound and
 * behind the current proposal's valid_round (proof of lock, as CometBFT
 * gossips it): such a polka may include a Byzantine vote that reached only
 * some honest validators. */
static void
s_resend(sim_t *s, int i)
{
    sim_node_t *nd = &s->node[i];
    uint8_t vh[32];
    int32_t vr = nd->bft ? bft_valid(nd->bft, vh) : BFT_NO_ROUND;
    const sim_msg_t *p = nd->has_proposal && nd->bft && nd->proposal.round == bft_round(nd->bft)
                             ? &nd->proposal
                             : NULL;
    for (size_t k = 0; k < nd->n_recv; k++) {
        const sim_msg_t *v = &nd->recv[k];
        if ((vr >= 0 && v->round == vr && memcmp(v->hash, vh, 32) == 0)
            || (p && p->valid_round >= 0 && v->round == p->valid_round
                && memcmp(v->hash, p->hash, 32) == 0))
            s_send_all(s, i, v);
    }
    for (size_t k = 0; k < nd->n_wal; k++) {
        sim_msg_t m = { .type = nd->wal[k].type,
                        .height = nd->height,
                        .round = nd->wal[k].round,
                        .nil = nd->wal[k].nil,
                        .valid_round = nd->wal[k].valid_round,
                        .from = (uint32_t) i };
        memcpy(m.hash, nd->wal[k].hash, 32);
        s_send_all(s, i, &m);
    }
}

static void
s_restart(sim_t *s, int i)
{
    sim_node_t *nd = &s->node[i];
    bft_config_t cfg;
    bft_config_init(&cfg, (uint32_t) s->n, (uint32_t) i);
    nd->bft = bft_new(&cfg);
    nd->up = true;
    nd->starting = false;
    nd->height_since = s->now;
    s->restarts++;
    bft_actions_t acts;
    int rc = bft_replay_own(nd->bft, nd->height, nd->wal, nd->n_wal, s->now, &acts);
    if (rc != 0) {
        SIM_FAIL(s, "node %d: replay refused: %d", i, rc);
        return;
    }
    s_check_machine(s, i);
    /* At least at the step of the last message it signed. */
    if (nd->n_wal > 0) {
        const bft_own_msg_t *last = &nd->wal[nd->n_wal - 1];
        bft_step_t need = last->type == BFT_PRECOMMIT ? BFT_STEP_PRECOMMIT
                          : last->type == BFT_PREVOTE ? BFT_STEP_PREVOTE
                                                      : BFT_STEP_PROPOSE;
        if (bft_round(nd->bft) < last->round
            || (bft_round(nd->bft) == last->round && bft_step(nd->bft) < need))
            SIM_FAIL(s, "node %d: replay left it before its last message", i);
    }
    s_resend(s, i);
    s_run_actions(s, i, &acts);
}

/* The Byzantine node: for every (h, r) it hears of it proposes two blocks
 * (when it is the proposer; one of them invalid now and then) and sends
 * two different prevotes and precommits, each to overlapping halves. */
static void
s_byzantine(sim_t *s, int b, const sim_msg_t *in)
{
    uint64_t key = in->height * 1000003u + (uint64_t) in->round;
    for (size_t k = 0; k < s->n_byz_acted; k++)
        if (s->byz_acted[k] == key)
            return;
    if (s->n_byz_acted < SIM_BYZ_MAX)
        s->byz_acted[s->n_byz_acted++] = key;
    uint64_t h = in->height;
    int32_t r = in->round;
    uint8_t a[32], c[32];
    if (in->type == BFT_PROPOSAL)
        memcpy(a, in->hash, 32);
    else
        s_value(a, h, r, b, 1);
    s_value(c, h, r, b, s_chance(s, 30) ? SIM_INVALID_TAG : 2);
    bool proposer = (int) ((h + (uint64_t) r) % (uint64_t) s->n) == b;
    for (int j = 0; j < s->n; j++) {
        if (j == b)
            continue;
        bool first_half = j < s->n / 2;
        if (proposer) {
            sim_msg_t p = { .type = BFT_PROPOSAL, .height = h, .round = r,
                            .valid_round = BFT_NO_ROUND, .from = (uint32_t) b };
            uint8_t mine[32];
            s_value(mine, h, r, b, 1);
            memcpy(p.hash, first_half ? mine : c, 32);
            s_register(s, b, h, r, BFT_PROPOSAL, false, p.hash);
            s_deliver(s, j, &p);
        }
        for (int t = BFT_PREVOTE; t <= BFT_PRECOMMIT; t++) {
            sim_msg_t v = { .type = (bft_msg_t) t, .height = h, .round = r,
                            .from = (uint32_t) b };
            memcpy(v.hash, a, 32);
            s_register(s, b, h, r, v.type, false, v.hash);
            s_deliver(s, j, &v);
            if (first_half || s_chance(s, 50)) {
                sim_msg_t w = v;
                if (s_chance(s, 50)) {
                    w.nil = true;
                    memset(w.hash, 0, 32);
                } else {
                    memcpy(w.hash, c, 32);
                }
                s_register(s, b, h, r, w.type, w.nil, w.hash);
                s_deliver(s, j, &w);
            }
        }
    }
}

static void
s_event(sim_t *s, const ev_t *e)
{
    int i = e->node;
    sim_node_t *nd = &s->node[i];
    bft_actions_t acts;
    switch (e->kind) {
    case EV_MSG:
        if (nd->byzantine) {
            s_byzantine(s, i, &e->msg);
            return;
        }
        if (!nd->up)
            return;
        if (s->relay) {
            uint64_t f = s_fingerprint(&e->msg);
            for (size_t k = 0; k < SIM_SEEN_MAX; k++)
                if (nd->seen[k] == f)
                    goto fed;
            nd->seen[nd->seen_next] = f;
            nd->seen_next = (nd->seen_next + 1) % SIM_SEEN_MAX;
            s_send_all(s, i, &e->msg);
        }
    fed:
        s_feed(s, i, &e->msg);
        return;
    case EV_TIMEOUT:
    case EV_BUILT:
    case EV_JUDGED:
    case EV_START:
        if (!nd->up || e->epoch != nd->epoch || nd->byzantine)
            return;
        break;
    case EV_CRASH:
        if (nd->up && !nd->byzantine)
            s_crash(s, i);
        return;
    case EV_RESTART:
        if (!nd->up && !nd->byzantine && !nd->stays_down)
            s_restart(s, i);
        return;
    case EV_SYNC:
        /* The driver's block catch-up: a node that has sat at a height the
         * network decided long ago takes the committed block (with its
         * certificate) and moves on. Also the random crash schedule. */
        for (int j = 0; j < s->n; j++) {
            sim_node_t *x = &s->node[j];
            if (x->byzantine)
                continue;
            if (x->up && s->crash_pct > 0 && (int) (s_rand(s) % 2000) < s->crash_pct
                && s_may_crash(s)) {
                s_crash(s, j);
                s_local(s, j, EV_RESTART, s->now + s_range(s, 50, 3000), NULL);
                continue;
            }
            if (s->resend && x->up && !x->starting && (s->now / 500) % 2 == 0)
                s_resend(s, j);
            if (s->catchup && x->up && !x->starting && x->height <= SIM_HEIGHTS_MAX
                && s->decided[x->height] && s->now - x->height_since > 3000) {
                /* Pulls every decided block it lacks, as one run. */
                uint64_t h = x->height;
                while (h <= SIM_HEIGHTS_MAX && s->decided[h]) {
                    x->caught_up++;
                    h++;
                }
                x->n_wal = 0;
                s_begin_height(s, j, h);
            }
        }
        s_local(s, 0, EV_SYNC, s->now + 500, NULL); /* no epoch check: global */
        return;
    }
    int rc = 0;
    switch (e->kind) {
    case EV_TIMEOUT:
        rc = bft_on_timeout(nd->bft, e->timeout, e->msg.height, e->msg.round, s->now, &acts);
        break;
    case EV_BUILT:
        rc = bft_on_value(nd->bft, e->msg.height, e->msg.round, e->msg.hash, s->now, &acts);
        break;
    case EV_JUDGED:
        rc = bft_on_judged(nd->bft, e->msg.height, e->msg.hash, s_value_valid(e->msg.hash),
                           s->now, &acts);
        break;
    case EV_START:
        if (nd->starting && e->msg.height == nd->height)
            s_begin_height(s, i, e->msg.height);
        return;
    default:
        return;
    }
    if (rc != 0)
        SIM_FAIL(s, "node %d: input refused: %d", i, rc);
    s_check_machine(s, i);
    s_run_actions(s, i, &acts);
}

/* A simulation with default knobs: n nodes, no faults, 20 ms delays. */
static sim_t *
s_sim_new(int n, uint64_t seed)
{
    sim_t *s = &g_sim;
    sim_reg_t *reg = s->reg;
    ev_t *heap = s->heap;
    size_t cap = s->cap_heap;
    memset(s, 0, sizeof *s);
    s->reg = reg ? reg : calloc((size_t) 1 << SIM_REG_BITS, sizeof *s->reg);
    if (!s->reg)
        abort();
    memset(s->reg, 0, ((size_t) 1 << SIM_REG_BITS) * sizeof *s->reg);
    s->heap = heap;
    s->cap_heap = cap;
    s->n = n;
    s->seed = seed;
    s->rng = seed * 0x2545f4914f6cdd1dull + 1;
    s->delay_min = 1;
    s->delay_max = 20;
    s->byzantine = -1;
    s->target = 3;
    s->max_events = 400000;
    s->max_ms = 600000;
    return s;
}

static void
s_sim_free(void)
{
    free(g_sim.reg);
    free(g_sim.heap);
    g_sim.reg = NULL;
    g_sim.heap = NULL;
    g_sim.cap_heap = 0;
}

/* True when every node that is honest and not down for good passed target. */
static bool
s_done(const sim_t *s)
{
    for (int i = 0; i < s->n; i++) {
        const sim_node_t *nd = &s->node[i];
        if (nd->byzantine || nd->stays_down)
            continue;
        if (nd->height <= s->target)
            return false;
    }
    return true;
}

/* Starts every node at height 1 and runs until done, failed, or out of
 * budget (events or simulated time). Returns true when done. */
static bool
s_sim_run(sim_t *s, int64_t until_ms)
{
    if (s->events == 0) {
        for (int i = 0; i < s->n; i++) {
            sim_node_t *nd = &s->node[i];
            nd->height = 1;
            if (nd->byzantine)
                continue;
            if (nd->stays_down && !nd->up)
                continue;
            bft_config_t cfg;
            bft_config_init(&cfg, (uint32_t) s->n, (uint32_t) i);
            nd->bft = bft_new(&cfg);
            nd->up = true;
            s_begin_height(s, i, 1);
        }
        if (s->catchup || s->crash_pct || s->resend)
            s_local(s, 0, EV_SYNC, 500, NULL);
    }
    ev_t e;
    while (!s->failed && !s_done(s) && s->events < s->max_events && s->now < until_ms
           && s->heap && s->n_heap > 0) {
        if (s->heap[0].at > until_ms)
            break;
        s_pop(s, &e);
        s->now = e.at;
        s->events++;
        s->by_kind[e.kind]++;
        s_event(s, &e);
    }
    return s_done(s);
}

/* Where every node is, for a run that did not finish. */
static void
s_dump(const sim_t *s)
{
    fprintf(stderr,
            "  seed %llu n %d byz %d relay %d drop %d delay %d-%d now %lld events %ld "
            "restarts %llu\n",
            (unsigned long long) s->seed, s->n, s->byzantine, s->relay, s->drop_pct,
            s->delay_min, s->delay_max, (long long) s->now, s->events,
            (unsigned long long) s->restarts);
    fprintf(stderr, "  events: msg %llu timeout %llu built %llu judged %llu start %llu sync %llu\n",
            (unsigned long long) s->by_kind[EV_MSG], (unsigned long long) s->by_kind[EV_TIMEOUT],
            (unsigned long long) s->by_kind[EV_BUILT], (unsigned long long) s->by_kind[EV_JUDGED],
            (unsigned long long) s->by_kind[EV_START], (unsigned long long) s->by_kind[EV_SYNC]);
    for (int i = 0; i < s->n; i++) {
        const sim_node_t *nd = &s->node[i];
        if (nd->byzantine || !nd->bft) {
            fprintf(stderr, "  node %d %s\n", i, nd->byzantine ? "byzantine" : "down");
            continue;
        }
        uint8_t l[32];
        int32_t lr = bft_locked(nd->bft, l);
        const bft_stats_t *st = bft_stats(nd->bft);
        fprintf(stderr,
                "  node %d h %llu r %d %s locked %d (%02x%02x) valid %d decided %d caught %d "
                "wal %zu dropped %llu skips %llu\n",
                i, (unsigned long long) nd->height, bft_round(nd->bft),
                bft_step_name(bft_step(nd->bft)), lr, lr >= 0 ? l[12] : 0, lr >= 0 ? l[13] : 0,
                bft_valid(nd->bft, NULL), nd->decided, nd->caught_up, nd->n_wal,
                (unsigned long long) st->dropped, (unsigned long long) st->skips);
    }
}

static void
s_sim_end(sim_t *s)
{
    for (int i = 0; i < s->n; i++)
        bft_destroy(&s->node[i].bft);
}

/* --- Scenarios ----------------------------------------------------------------- */

static void
test_sim_single(void)
{
    sim_t *s = s_sim_new(1, 1);
    s->target = 10;
    CHECK(s_sim_run(s, s->max_ms));
    CHECK(!s->failed);
    CHECK_EQ(s->node[0].decided, 10);
    CHECK_EQ(s->commit_rounds_max, 0);
    CHECK_EQ(s->timeouts_scheduled, 0);
    s_sim_end(s);
}

/* Happy path: every height commits in round 0, for n = 4 and 7. */
static void
test_sim_happy(void)
{
    static const int ns[] = { 4, 7 };
    for (int k = 0; k < 2; k++)
        for (uint64_t seed = 1; seed <= 10; seed++) {
            sim_t *s = s_sim_new(ns[k], seed);
            s->target = 5;
            CHECK(s_sim_run(s, s->max_ms));
            CHECK(!s->failed);
            CHECK_EQ(s->commit_rounds_max, 0);
            for (int i = 0; i < s->n; i++)
                CHECK_EQ(s->node[i].decided, 5);
            s_sim_end(s);
        }
}

/* The proposer of (1, 0) is down: height 1 commits in round 1. */
static void
test_sim_proposer_crashed(void)
{
    for (uint64_t seed = 1; seed <= 10; seed++) {
        sim_t *s = s_sim_new(4, seed);
        s->node[1].stays_down = true; /* proposer of (1, 0) */
        s->target = 2;
        CHECK(s_sim_run(s, s->max_ms));
        CHECK(!s->failed);
        CHECK(s->decided[1] && s->decision_round[1] == 1);
        CHECK(s->decided[2] && s->decision_round[2] == 0); /* 2 proposes (2, 0) */
        s_sim_end(s);
    }
}

/* Two of four down: no quorum of any kind, so no rule fires and nothing
 * commits (Algorithm 1 waits; it never times out below 2f+1 votes). One
 * comes back (a restart through replay) and hears the votes the others
 * re-send: commit. */
static void
test_sim_two_down(void)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        sim_t *s = s_sim_new(4, seed);
        s->node[2].stays_down = true;
        s->node[3].stays_down = true;
        s->resend = true;
        s->target = 1;
        CHECK(!s_sim_run(s, 20000));
        CHECK(!s->failed);
        CHECK(!s->decided[1]);
        CHECK_EQ(bft_round(s->node[0].bft), 0);
        CHECK_EQ(bft_step(s->node[0].bft), BFT_STEP_PREVOTE);
        s->node[2].stays_down = false;
        s_local(s, 2, EV_RESTART, s->now + 1, NULL);
        CHECK(s_sim_run(s, s->max_ms));
        CHECK(!s->failed);
        CHECK(s->decided[1]);
        CHECK_EQ(s->decision_round[1], 0);
        s_sim_end(s);
    }
}

/* The first rounds' blocks are judged invalid: every validator prevotes and
 * precommits nil and moves on by timeouts, each round's propose timeout
 * 500 ms longer than the last, until a valid block commits. */
static void
test_sim_timeouts_grow(void)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        sim_t *s = s_sim_new(4, seed);
        s->bad_rounds = 3;
        s->target = 1;
        CHECK(s_sim_run(s, s->max_ms));
        CHECK(!s->failed);
        CHECK(s->decided[1]);
        CHECK_EQ(s->decision_round[1], 3);
        /* Node 0 proposes (1, 3); it waited in rounds 0-2. */
        for (int r = 0; r < 3; r++)
            CHECK_EQ(s->propose_delay[r], 1000 + 500 * r);
        s_sim_end(s);
    }
}

/* One Byzantine validator of four (f = 1) equivocating everywhere: agreement
 * holds, the honest ones report it, and they still make progress. */
static void
test_sim_byzantine(void)
{
    uint64_t evidence[3] = { 0, 0, 0 };
    for (uint64_t seed = 1; seed <= s_seeds(60); seed++) {
        sim_t *s = s_sim_new(seed % 3 == 0 ? 7 : 4, seed);
        s->byzantine = (int) (seed % (uint64_t) s->n);
        s->node[s->byzantine].byzantine = true;
        s->relay = seed % 2 == 0;
        s->delay_max = 40;
        s->catchup = true;
        s->resend = true;
        s->target = 5;
        bool ok = s_sim_run(s, s->max_ms);
        CHECK(ok);
        if (!ok)
            s_dump(s);
        CHECK(!s->failed);
        for (int t = 0; t < 3; t++)
            evidence[t] += s->evidence[t];
        s_sim_end(s);
    }
    CHECK(evidence[BFT_PROPOSAL] > 0);
    CHECK(evidence[BFT_PREVOTE] > 0);
    CHECK(evidence[BFT_PRECOMMIT] > 0);
}

/* Crashes and restarts (also between persisting and sending): replay never
 * leads to a second, different own message at one (h, r, type) — the
 * registry fails the run if it does — and the network keeps committing. */
static void
test_sim_restarts(void)
{
    for (uint64_t seed = 1; seed <= s_seeds(80); seed++) {
        sim_t *s = s_sim_new(seed % 4 == 0 ? 7 : 4, seed);
        s->crash_pct = 150;
        s->crash_in_send_pct = 4;
        s->catchup = true;
        s->resend = true;
        s->delay_max = 60;
        s->target = 5;
        /* At least one crash per run, early, mid-height. */
        s_local(s, (int) (seed % (uint64_t) s->n), EV_CRASH, s_range(s, 5, 300), NULL);
        s_local(s, (int) (seed % (uint64_t) s->n), EV_RESTART, 400 + s_range(s, 0, 400), NULL);
        bool ok = s_sim_run(s, s->max_ms);
        CHECK(ok);
        if (!ok)
            s_dump(s);
        CHECK(!s->failed);
        CHECK(s->restarts > 0);
        s_sim_end(s);
    }
}

/* Everything at once over many seeds: n in {1, 4, 7}, delays up to 200 ms,
 * drops, duplicates, relays, crashes, a Byzantine validator when n > 1.
 * Crashes stay within the fault budget (Byzantine + down <= f), the
 * condition Tendermint promises liveness under, so every run must finish;
 * test_sim_restarts crashes without that budget. */
static void
test_sim_random(void)
{
    long events = 0;
    int runs = 0, done = 0;
    for (uint64_t seed = 1000; seed < 1000 + s_seeds(300); seed++) {
        static const int ns[] = { 1, 4, 4, 7 };
        sim_t *s = s_sim_new(ns[seed % 4], seed);
        s->delay_min = s_range(s, 0, 5);
        s->delay_max = s_range(s, 10, 200);
        s->drop_pct = s_range(s, 0, 15);
        s->dup_pct = s_range(s, 0, 10);
        s->relay = s_chance(s, 50);
        s->catchup = true;
        s->resend = true;
        s->fault_budget = true;
        s->crash_pct = s_chance(s, 50) ? s_range(s, 0, 100) : 0;
        s->crash_in_send_pct = s_range(s, 0, 5);
        if (s->n > 1 && s_chance(s, 60)) {
            s->byzantine = s_range(s, 0, s->n - 1);
            s->node[s->byzantine].byzantine = true;
        }
        s->target = 4;
        bool ok = s_sim_run(s, s->max_ms);
        if (!ok && !s->failed) {
            fprintf(stderr, "seed %llu n %d: not done after %ld events, %lld ms\n",
                    (unsigned long long) seed, s->n, s->events, (long long) s->now);
            s_dump(s);
        }
        CHECK(ok);
        CHECK(!s->failed);
        events += s->events;
        runs++;
        done += ok;
        s_sim_end(s);
    }
    printf("# random: %d runs, %d done, %ld events\n", runs, done, events);
}

int
main(void)
{
    RUN(test_config);
    RUN(test_single_validator);
    RUN(test_bad_input);
    RUN(test_judged);
    RUN(test_evidence);
    RUN(test_own_echo);
    RUN(test_locking);
    RUN(test_timeouts_grow);
    RUN(test_nil_precommits);
    RUN(test_round_skip);
    RUN(test_memory_bound);
    RUN(test_commit_earlier_round);
    RUN(test_replay);
    RUN(test_sim_single);
    RUN(test_sim_happy);
    RUN(test_sim_proposer_crashed);
    RUN(test_sim_two_down);
    RUN(test_sim_timeouts_grow);
    RUN(test_sim_byzantine);
    RUN(test_sim_restarts);
    RUN(test_sim_random);
    s_sim_free();
    return check_done();
}
