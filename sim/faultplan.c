/*
 * faultplan.c — the seeded fault schedule of a simulator run (faultplan.h).
 */
#include "faultplan.h"

#include <stdio.h>
#include <string.h>

static const char *const s_kind_names[SIM_FAULT_KINDS] = {
    "kill", "pause", "partition", "delay", "byzantine",
};
static const char *const s_byz_names[SIM_BYZ_MODES] = {
    "equivocate", "unknown", "garbage", "lie-endorse",
};

const char *
sim_fault_kind_name(sim_fault_kind_t kind)
{
    return kind < SIM_FAULT_KINDS ? s_kind_names[kind] : "?";
}

const char *
sim_byz_mode_name(sim_byz_mode_t mode)
{
    return mode < SIM_BYZ_MODES ? s_byz_names[mode] : "?";
}

int
sim_fault_kinds_parse(const char *list, unsigned *kinds, vl_err_t *err)
{
    *kinds = 0;
    if (!list || !*list || strcmp(list, "none") == 0)
        return 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int k = 0; k < SIM_FAULT_KINDS; k++)
            if (strlen(s_kind_names[k]) == len && strncmp(p, s_kind_names[k], len) == 0)
                found = k;
        if (found < 0)
            return vl_err_set(err, VL_ERR_INVALID,
                              "unknown fault '%.*s' (kill, pause, partition, delay, byzantine)",
                              (int) len, p);
        *kinds |= 1u << found;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* splitmix64 */
static uint64_t
s_next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t
s_between(uint64_t *x, int64_t lo, int64_t hi)
{
    return hi <= lo ? lo : lo + (int64_t) (s_next(x) % (uint64_t) (hi - lo + 1));
}

/* A random node i with want(i); -1 when none. */
static int
s_pick(uint64_t *x, const sim_plan_in_t *in, int want)
{
    int count = 0;
    for (int i = 0; i < in->n; i++)
        count += (want == 0 && in->validator[i]) || (want == 1 && !in->validator[i])
                 || (want == 2) || (want == 3 && in->endorser && in->endorser[i]);
    if (!count)
        return -1;
    int k = (int) (s_next(x) % (uint64_t) count);
    for (int i = 0; i < in->n; i++) {
        bool ok = (want == 0 && in->validator[i]) || (want == 1 && !in->validator[i])
                  || (want == 2) || (want == 3 && in->endorser && in->endorser[i]);
        if (ok && k-- == 0)
            return i;
    }
    return -1;
}

enum { WANT_VALIDATOR = 0, WANT_FOLLOWER = 1, WANT_ANY = 2, WANT_ENDORSER = 3 };

/* Fills f as a lane-A fault of kind, or returns false when no node can
 * take it. */
static bool
s_lane_a(uint64_t *x, const sim_plan_in_t *in, sim_fault_kind_t kind, sim_fault_t *f)
{
    f->node = -1;
    f->n_set = 0;
    int followers = 0, validators = 0;
    for (int i = 0; i < in->n; i++)
        in->validator[i] ? validators++ : followers++;
    switch (kind) {
    case SIM_FAULT_KILL:
    case SIM_FAULT_PAUSE:
        f->node = s_pick(x, in, WANT_ANY);
        return f->node >= 0;
    case SIM_FAULT_PARTITION: {
        /* One side: one validator and up to a quarter of the followers, or
         * (no validator to spare) a quarter of the nodes. */
        int v = s_pick(x, in, WANT_VALIDATOR);
        if (v >= 0)
            f->set[f->n_set++] = v;
        int extra = followers / 4;
        for (int i = 0; i < in->n && f->n_set < SIM_FAULT_SET_MAX && extra > 0; i++)
            if (!in->validator[i] && s_next(x) % 4 == 0) {
                f->set[f->n_set++] = i;
                extra--;
            }
        return f->n_set > 0 && f->n_set < in->n;
    }
    case SIM_FAULT_DELAY:
        /* A third of the nodes (at least one) slowed and lossy. */
        for (int i = 0; i < in->n && f->n_set < SIM_FAULT_SET_MAX; i++)
            if (s_next(x) % 3 == 0)
                f->set[f->n_set++] = i;
        if (!f->n_set)
            f->set[f->n_set++] = (int) (s_next(x) % (uint64_t) in->n);
        f->drop_ppm = (uint32_t) s_between(x, 10000, 50000);
        f->delay_ppm = (uint32_t) s_between(x, 200000, 600000);
        f->delay_ms = (int) s_between(x, 20, 150);
        f->jitter_ms = (int) s_between(x, 0, 100);
        return true;
    case SIM_FAULT_BYZANTINE: {
        bool endorsers = false;
        for (int i = 0; in->endorser && i < in->n; i++)
            endorsers |= in->endorser[i];
        f->byz = (sim_byz_mode_t) (s_next(x) % (endorsers ? SIM_BYZ_MODES : SIM_BYZ_LIE_ENDORSE));
        f->node = s_pick(x, in, f->byz == SIM_BYZ_LIE_ENDORSE ? WANT_ENDORSER : WANT_VALIDATOR);
        (void) validators;
        return f->node >= 0;
    }
    default:
        return false;
    }
}

int
sim_faultplan(const sim_plan_in_t *in, sim_fault_t *out, size_t max, size_t *n, vl_err_t *err)
{
    *n = 0;
    if (!in->kinds)
        return 0;
    if (in->duration_ms < 5000)
        return vl_err_set(err, VL_ERR_INVALID, "faults need a run of at least 5 s");
    int validators = 0;
    for (int i = 0; i < in->n; i++)
        validators += in->validator[i];
    if ((in->kinds & (1u << SIM_FAULT_BYZANTINE)) && validators < 4)
        return vl_err_set(err, VL_ERR_INVALID, "byzantine faults need at least 4 validators "
                                               "(f = 1 of 4), not %d", validators);
    if ((in->kinds & (1u << SIM_FAULT_PARTITION)) && in->n < 2)
        return vl_err_set(err, VL_ERR_INVALID, "a partition needs at least 2 nodes");
    sim_fault_kind_t wanted[SIM_FAULT_KINDS];
    int n_wanted = 0;
    for (int k = 0; k < SIM_FAULT_KINDS; k++)
        if (in->kinds & (1u << k))
            wanted[n_wanted++] = (sim_fault_kind_t) k;

    uint64_t x = in->seed ^ 0x5eedfa17ULL;
    /* Faults begin after a tenth of the run and end by four fifths. */
    int64_t first = in->duration_ms / 10, last = in->duration_ms * 4 / 5;
    int64_t longest = in->duration_ms / 6 < 6000 ? in->duration_ms / 6 : 6000;
    int64_t shortest = longest < 1000 ? longest : 1000;

    /* Lane A: every wanted kind in turn (shuffled per round), one at a time. */
    int64_t t = first;
    for (int round = 0; t < last && *n < max; round++) {
        int order[SIM_FAULT_KINDS];
        for (int i = 0; i < n_wanted; i++)
            order[i] = i;
        for (int i = n_wanted - 1; i > 0; i--) {
            int j = (int) (s_next(&x) % (uint64_t) (i + 1)), tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        for (int i = 0; i < n_wanted && t < last && *n < max; i++) {
            sim_fault_t f = { .kind = wanted[order[i]], .lane = 0 };
            int64_t len = s_between(&x, shortest, longest);
            if (t + len > last)
                len = last - t;
            if (len < shortest / 2 + 1 || !s_lane_a(&x, in, f.kind, &f))
                break;
            f.start_ms = t;
            f.end_ms = t + len;
            out[(*n)++] = f;
            t += len + s_between(&x, 500, 2000);
        }
        if (round > 1000)
            break;
    }
    if (*n == 0)
        return vl_err_set(err, VL_ERR_INVALID, "no node can take the faults asked for");

    /* Lane B: followers killed or paused, one at a time, beside lane A. */
    int followers = in->n - validators;
    bool lane_b = followers >= 2 && (in->kinds & ((1u << SIM_FAULT_KILL) | (1u << SIM_FAULT_PAUSE)));
    for (t = first + 500; lane_b && t < last && *n < max;) {
        sim_fault_t f = { .lane = 1, .n_set = 0 };
        bool kill = (in->kinds & (1u << SIM_FAULT_KILL)) != 0;
        bool pause = (in->kinds & (1u << SIM_FAULT_PAUSE)) != 0;
        f.kind = kill && pause ? (s_next(&x) % 2 ? SIM_FAULT_KILL : SIM_FAULT_PAUSE)
                               : (kill ? SIM_FAULT_KILL : SIM_FAULT_PAUSE);
        f.node = s_pick(&x, in, WANT_FOLLOWER);
        int64_t len = s_between(&x, shortest, longest);
        if (t + len > last)
            break;
        /* Not the node lane A is faulting then. */
        bool clash = false;
        for (size_t k = 0; k < *n; k++) {
            const sim_fault_t *a = &out[k];
            if (a->lane != 0 || a->end_ms <= t || a->start_ms >= t + len)
                continue;
            clash |= a->node == f.node;
            for (int s = 0; s < a->n_set; s++)
                clash |= a->set[s] == f.node;
        }
        if (!clash) {
            f.start_ms = t;
            f.end_ms = t + len;
            out[(*n)++] = f;
        }
        t += len + s_between(&x, 300, 1500);
    }
    /* By start time (insertion sort: a few hundred at most). */
    for (size_t i = 1; i < *n; i++) {
        sim_fault_t f = out[i];
        size_t j = i;
        while (j > 0 && out[j - 1].start_ms > f.start_ms) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = f;
    }
    return 0;
}
