/*
 * test_sim.c — the simulator's pure decisions: the fault plan drawn from a
 * seed (replayable, at most one validator faulty at a time, every window
 * inside the run, only the kinds asked for, lane B on followers only) and
 * the end-of-run comparison of replicas (heights, tip and state hashes,
 * evidence against honest validators).
 */
#include <stdbool.h>
#include <string.h>

#include "check.h"
#include "faultplan.h"
#include "invariants.h"
#include "pace.h"
#include "record.h"

#define N 12

static bool s_validator[N] = { true, true, false, true, true };   /* 0,1,3,4 */
static bool s_endorser[N] = { true, true, true, true, true };

static sim_plan_in_t
s_in(uint64_t seed, unsigned kinds)
{
    return (sim_plan_in_t) { seed, 60000, kinds, N, s_validator, s_endorser };
}

static bool
s_touches(const sim_fault_t *f, int node)
{
    if (f->node == node)
        return true;
    for (int i = 0; i < f->n_set; i++)
        if (f->set[i] == node)
            return true;
    return false;
}

/* The invariants every plan must keep, checked over the whole plan. */
static void
s_check_plan(const sim_plan_in_t *in, const sim_fault_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        CHECK(in->kinds & (1u << f[i].kind));
        CHECK(f[i].start_ms >= in->duration_ms / 10);
        CHECK(f[i].end_ms <= in->duration_ms * 4 / 5);
        CHECK(f[i].start_ms < f[i].end_ms);
        if (i)
            CHECK(f[i - 1].start_ms <= f[i].start_ms);
        if (f[i].lane == 1) {
            CHECK(f[i].kind == SIM_FAULT_KILL || f[i].kind == SIM_FAULT_PAUSE);
            CHECK(f[i].node >= 0 && !in->validator[f[i].node]);
        }
        if (f[i].kind == SIM_FAULT_BYZANTINE && f[i].byz != SIM_BYZ_LIE_ENDORSE)
            CHECK(in->validator[f[i].node]);
        for (size_t j = 0; j < n; j++) {
            if (i == j || f[j].start_ms >= f[i].end_ms || f[i].start_ms >= f[j].end_ms)
                continue;
            /* Overlapping faults: never two in lane A, never one node twice. */
            CHECK(f[i].lane != f[j].lane);
            for (int node = 0; node < N; node++)
                CHECK(!(s_touches(&f[i], node) && s_touches(&f[j], node)));
        }
    }
    /* At every moment at most one validator is faulty. */
    for (int64_t t = 0; t < in->duration_ms; t += 100) {
        int faulty = 0;
        for (int v = 0; v < N; v++) {
            if (!in->validator[v])
                continue;
            bool hit = false;
            for (size_t i = 0; i < n; i++)
                hit |= f[i].start_ms <= t && t < f[i].end_ms && s_touches(&f[i], v)
                       && f[i].kind != SIM_FAULT_DELAY;
            faulty += hit;
        }
        CHECK(faulty <= 1);
    }
}

static void
test_plan_replays_from_its_seed(void)
{
    unsigned all = (1u << SIM_FAULT_KINDS) - 1;
    sim_fault_t a[SIM_FAULTS_MAX], b[SIM_FAULTS_MAX], c[SIM_FAULTS_MAX];
    size_t na, nb, nc;
    vl_err_t err;
    sim_plan_in_t in = s_in(7, all);
    CHECK_EQ(sim_faultplan(&in, a, SIM_FAULTS_MAX, &na, &err), 0);
    CHECK_EQ(sim_faultplan(&in, b, SIM_FAULTS_MAX, &nb, &err), 0);
    CHECK_EQ(na, nb);
    CHECK(na > 4);
    CHECK(memcmp(a, b, na * sizeof a[0]) == 0);
    in.seed = 8;
    CHECK_EQ(sim_faultplan(&in, c, SIM_FAULTS_MAX, &nc, &err), 0);
    CHECK(nc != na || memcmp(a, c, na * sizeof a[0]) != 0);
}

static void
test_plan_keeps_its_invariants_over_many_seeds(void)
{
    unsigned all = (1u << SIM_FAULT_KINDS) - 1;
    sim_fault_t f[SIM_FAULTS_MAX];
    size_t n;
    vl_err_t err;
    bool kinds_seen[SIM_FAULT_KINDS] = { false }, lane_b = false;
    for (uint64_t seed = 0; seed < 200; seed++) {
        sim_plan_in_t in = s_in(seed, seed % 3 ? all : (1u << SIM_FAULT_KILL));
        CHECK_EQ(sim_faultplan(&in, f, SIM_FAULTS_MAX, &n, &err), 0);
        s_check_plan(&in, f, n);
        for (size_t i = 0; i < n; i++) {
            kinds_seen[f[i].kind] = true;
            lane_b |= f[i].lane == 1;
        }
    }
    for (int k = 0; k < SIM_FAULT_KINDS; k++)
        CHECK(kinds_seen[k]);
    CHECK(lane_b);
}

static void
test_plan_refuses_what_cannot_be_done(void)
{
    sim_fault_t f[SIM_FAULTS_MAX];
    size_t n = 99;
    vl_err_t err;
    bool one[N] = { true };
    sim_plan_in_t in = { 1, 60000, 1u << SIM_FAULT_BYZANTINE, N, one, NULL };
    CHECK(sim_faultplan(&in, f, SIM_FAULTS_MAX, &n, &err) == VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "4 validators");
    in = s_in(1, 1u << SIM_FAULT_KILL);
    in.duration_ms = 3000;
    CHECK(sim_faultplan(&in, f, SIM_FAULTS_MAX, &n, &err) == VL_ERR_INVALID);
    in = s_in(1, 0);
    CHECK_EQ(sim_faultplan(&in, f, SIM_FAULTS_MAX, &n, &err), 0);
    CHECK_EQ(n, 0);
}

static void
test_kinds_parse(void)
{
    unsigned k;
    vl_err_t err;
    CHECK_EQ(sim_fault_kinds_parse("kill,pause,partition,delay,byzantine", &k, &err), 0);
    CHECK_EQ(k, (1u << SIM_FAULT_KINDS) - 1);
    CHECK_EQ(sim_fault_kinds_parse("none", &k, &err), 0);
    CHECK_EQ(k, 0);
    CHECK(sim_fault_kinds_parse("kill,flood", &k, &err) == VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "flood");
}

static sim_tip_t
s_tip(int node, long long h, const char *hash, const char *state)
{
    sim_tip_t t = { .node = node, .live = true, .height = h };
    snprintf(t.last_hash, sizeof t.last_hash, "%s", hash);
    snprintf(t.state_hash, sizeof t.state_hash, "%s", state);
    return t;
}

static size_t
s_violations(sim_rec_t *rec, const char *check)
{
    size_t n = 0, k;
    json_t *v;
    json_array_foreach(rec->violations, k, v)
        n += strcmp(json_string_value(json_object_get(v, "check")), check) == 0;
    return n;
}

static void
test_compare_finds_each_divergence(void)
{
    sim_rec_t rec;
    CHECK_EQ(sim_rec_init(&rec, 0), 0);
    sim_tip_t same[3] = { s_tip(0, 9, "aa", "s1"), s_tip(1, 9, "aa", "s1"), s_tip(2, 9, "aa", "s1") };
    same[2].live = false;
    strcpy(same[2].last_hash, "zz");   /* a dead replica is not compared */
    CHECK_EQ(sim_inv_compare(same, 3, NULL, &rec), 0);
    sim_tip_t bad[4] = { s_tip(0, 9, "aa", "s1"), s_tip(1, 8, "bb", "s0"),
                         s_tip(2, 9, "ab", "s1"), s_tip(3, 9, "aa", "s2") };
    CHECK_EQ(sim_inv_compare(bad, 4, NULL, &rec), 3);
    CHECK_EQ(s_violations(&rec, "same_state"), 3);
    json_t *third = json_array_get(rec.violations, 2);
    CHECK_STR(json_string_value(json_object_get(third, "node")), "node3");
    CHECK_CONTAINS(json_string_value(json_object_get(third, "detail")), "state hash");
    sim_tip_t none[1] = { s_tip(0, 1, "a", "b") };
    none[0].live = false;
    CHECK_EQ(sim_inv_compare(none, 1, NULL, &rec), 1);
    sim_rec_free(&rec);
}

static void
test_compare_evidence_only_against_honest_validators(void)
{
    sim_rec_t rec;
    CHECK_EQ(sim_rec_init(&rec, 0), 0);
    json_t *ev = json_pack("[{s:s, s:i, s:s}, {s:s, s:i, s:s}]", "validator", "did:vl:byz",
                           "height", 4, "type", "prevote", "validator", "did:vl:honest",
                           "height", 5, "type", "precommit");
    sim_tip_t t[2] = { s_tip(0, 9, "aa", "s1"), s_tip(1, 9, "aa", "s1") };
    t[1].evidence = ev;
    const char *allowed[] = { "did:vl:byz", NULL };
    CHECK_EQ(sim_inv_compare(t, 2, allowed, &rec), 1);
    json_t *v = json_array_get(rec.violations, 0);
    CHECK_STR(json_string_value(json_object_get(v, "check")), "double_sign");
    CHECK_EQ(json_integer_value(json_object_get(v, "height")), 5);
    CHECK_CONTAINS(json_string_value(json_object_get(v, "detail")), "did:vl:honest");
    CHECK_EQ(sim_inv_compare(t, 2, NULL, &rec), 2);
    json_decref(ev);
    sim_rec_free(&rec);
}

static void
test_record_outcomes_and_restart(void)
{
    sim_rec_t rec;
    CHECK_EQ(sim_rec_init(&rec, 1000), 0);
    char txid[SIM_TXID_HEX];
    memset(txid, 'a', SIM_TXID_HEX - 1);
    txid[SIM_TXID_HEX - 1] = '\0';
    sim_rec_tx(&rec, SIM_OUT_COMMITTED, txid, 1000, 1100, NULL);
    sim_rec_tx(&rec, SIM_OUT_INVALID, "", 1000, 1200, "MVCC_CONFLICT");
    sim_rec_tx(&rec, SIM_OUT_UNKNOWN, "", 1000, 9000, NULL);
    CHECK_EQ(rec.count[SIM_OUT_COMMITTED], 1);
    CHECK_EQ(rec.n_acked, 1);
    CHECK_EQ(rec.per_second[0], 1);
    CHECK_EQ(json_integer_value(json_object_get(rec.invalid_codes, "MVCC_CONFLICT")), 1);
    CHECK(sim_rec_percentile(&rec, 50) == 100.0);
    sim_rec_restart(&rec, 5000);
    CHECK_EQ(rec.count[SIM_OUT_COMMITTED], 0);
    CHECK_EQ(rec.n_latency, 0);
    CHECK_EQ(rec.n_acked, 1);   /* still checked at the end */
    CHECK(sim_outcome_of(0, CLIENT_TX_COMMITTED) == SIM_OUT_COMMITTED);
    CHECK(sim_outcome_of(VL_ERR_REFUSED, CLIENT_TX_INVALID) == SIM_OUT_INVALID);
    CHECK(sim_outcome_of(VL_ERR_TIMEOUT, CLIENT_TX_UNKNOWN) == SIM_OUT_UNKNOWN);
    CHECK(sim_outcome_of(VL_ERR_REFUSED, CLIENT_TX_NONE) == SIM_OUT_REFUSED);
    sim_rec_free(&rec);
}

/* Paced workers together offer a steady stream: 64 workers at 320 tx/s
 * send every 200 ms each, the first sends spread evenly over the first
 * 200 ms (one every 3.125 ms, never two workers in one slot of a burst);
 * then each keeps its interval, and one held up for over a second restarts
 * from now instead of bursting through what it missed. */
static void
test_pace_spreads_workers(void)
{
    int64_t interval = sim_pace_interval(320.0, 64);
    CHECK_EQ(interval, 200);
    CHECK_EQ(sim_pace_interval(1e9, 4), 1);
    int64_t now = 1000000, first[64];
    for (int w = 0; w < 64; w++) {
        first[w] = sim_pace_due(0, now, interval, w, 64);
        CHECK(first[w] >= now && first[w] < now + interval);
        if (w > 0)
            CHECK(first[w] > first[w - 1]);
    }
    CHECK_EQ(first[0], now);
    CHECK_EQ(first[32], now + 100);
    /* In between: the schedule stands (the caller adds the interval). */
    CHECK_EQ(sim_pace_due(first[5] + interval, now + 150, interval, 5, 64), first[5] + interval);
    /* Late by under a second: caught up one send at a time. */
    CHECK_EQ(sim_pace_due(now + 200, now + 1100, interval, 5, 64), now + 200);
    /* Late by over a second: from now. */
    CHECK_EQ(sim_pace_due(now + 200, now + 1300, interval, 5, 64), now + 1300);
    /* No workers given counts as one. */
    CHECK_EQ(sim_pace_due(0, now, interval, 3, 0), now);
}

int
main(void)
{
    RUN(test_plan_replays_from_its_seed);
    RUN(test_plan_keeps_its_invariants_over_many_seeds);
    RUN(test_plan_refuses_what_cannot_be_done);
    RUN(test_kinds_parse);
    RUN(test_compare_finds_each_divergence);
    RUN(test_compare_evidence_only_against_honest_validators);
    RUN(test_record_outcomes_and_restart);
    RUN(test_pace_spreads_workers);
    return check_done();
}
