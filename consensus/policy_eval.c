/*
 * policy_eval.c — the questions asked of a resolved policy: is it satisfied
 * by these endorsing organisations, and which organisations to ask (the
 * contract is in policy.h).
 */
#include "policy.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

#define S_PLAN_BUDGET 20000 /* candidate sets the exact plan search may test */

/* ── Satisfaction ─────────────────────────────────────────────────────── */

/* Node i of part (not dropped) under the endorsing set e. */
static bool
s_eval(const policy_part_t *part, size_t i, const org_set_t *e)
{
    const policy_node_t *n = &part->policy.nodes[i];
    if (!POLICY_NODE_IS_GATE(n->kind))
        return org_set_intersects(&part->r[i].cand, e);
    unsigned got = 0;
    for (size_t j = i + 1; j < i + n->size; j += part->policy.nodes[j].size)
        if (!part->r[j].dropped && s_eval(part, j, e) && ++got >= part->r[i].k)
            return true;
    return got >= part->r[i].k;
}

static bool
s_live(const policy_part_t *part)
{
    return !part->r[0].dropped;
}

static bool
s_eval_all(const policy_resolved_t *res, const org_set_t *e)
{
    for (size_t p = 0; p < res->n_parts; p++)
        if (s_live(&res->parts[p]) && !s_eval(&res->parts[p], 0, e))
            return false;
    return true;
}

static org_set_t
s_all_orgs(const orgs_t *orgs)
{
    org_set_t all = { { 0 } };
    for (size_t o = 0; o < orgs->count; o++)
        org_set_add(&all, (int) o);
    return all;
}

/* "org 'a'", "one of 'a', 'b' and 3 more", "any organisation". */
static void
s_describe(const orgs_t *orgs, const org_set_t *cand, char *buf, size_t size)
{
    int count = org_set_count(cand);
    org_set_t all = s_all_orgs(orgs);
    if (count > 1 && count == org_set_count(&all)) {
        snprintf(buf, size, "any organisation");
        return;
    }
    if (count == 1) {
        snprintf(buf, size, "org '%s'", orgs->items[org_set_first(cand)].name);
        return;
    }
    size_t at = (size_t) snprintf(buf, size, "one of ");
    int shown = 0;
    for (size_t o = 0; o < orgs->count && at < size; o++) {
        if (!org_set_has(cand, (int) o))
            continue;
        if (shown == 4) {
            snprintf(buf + at, size - at, " and %d more", count - shown);
            return;
        }
        at += (size_t) snprintf(buf + at, size - at, "%s'%s'", shown ? ", " : "",
                                orgs->items[o].name);
        shown++;
    }
}

/* Says what node i of part (not dropped, not satisfied) still needs: an
 * all-like combinator is explained by its first unmet entry, anything that
 * leaves a choice by itself. */
static void
s_explain(const policy_resolved_t *res, const policy_part_t *part, size_t i, const org_set_t *e,
          vl_err_t *why)
{
    const policy_node_t *n = &part->policy.nodes[i];
    const policy_rnode_t *r = &part->r[i];
    if (!POLICY_NODE_IS_GATE(n->kind)) {
        char who[VL_ERR_MSG_MAX];
        s_describe(res->orgs, &r->cand, who, sizeof who);
        if (part->reason)   /* a guard says why */
            vl_err_set(why, VL_ERR_REFUSED, "%sneeds an endorsement from %s (%s)", part->label,
                       who, part->reason);
        else
            vl_err_set(why, VL_ERR_REFUSED, "%sneeds an endorsement from %s (%.*s)",
                       part->label, who, (int) n->text_len, part->policy.text + n->text_off);
        return;
    }
    unsigned live = 0, got = 0;
    size_t unmet = 0;
    for (size_t j = i + 1; j < i + n->size; j += part->policy.nodes[j].size) {
        if (part->r[j].dropped)
            continue;
        live++;
        if (s_eval(part, j, e))
            got++;
        else if (!unmet)
            unmet = j;
    }
    assert(unmet);
    if (r->k == live) {
        s_explain(res, part, unmet, e, why);
        return;
    }
    vl_err_set(why, VL_ERR_REFUSED, "%sneeds %u of %.*s, has %u", part->label, r->k,
               n->text_len > 160 ? 160 : (int) n->text_len, part->policy.text + n->text_off,
               got);
}

bool
policy_satisfied(const policy_resolved_t *resolved, const org_set_t *endorsing,
                 vl_err_t *why)
{
    org_set_t all = s_all_orgs(resolved->orgs), e = { { 0 } };
    for (int w = 0; w < ORG_SET_WORDS; w++)
        e.words[w] = endorsing->words[w] & all.words[w];
    bool any_live = false;
    for (size_t p = 0; p < resolved->n_parts; p++) {
        const policy_part_t *part = &resolved->parts[p];
        if (!s_live(part))
            continue;
        any_live = true;
        if (!s_eval(part, 0, &e)) {
            s_explain(resolved, part, 0, &e, why);
            return false;
        }
    }
    if (!any_live && org_set_first(&e) < 0) {
        vl_err_set(why, VL_ERR_REFUSED, "needs an endorsement from any organisation (every "
                                        "principal of the policy dropped out)");
        return false;
    }
    return true;
}

/* ── Planning ─────────────────────────────────────────────────────────── */

/* Greedy: extends *s until node i of part is satisfied, preferring what is
 * already chosen, then pref, then the lowest index; for a choice among
 * entries, the one adding the fewest organisations (pref's if tied, else
 * the first). Used as the upper bound and fallback of the exact search. */
static void
s_greedy(const policy_part_t *part, size_t i, int pref, org_set_t *s)
{
    const policy_node_t *n = &part->policy.nodes[i];
    const policy_rnode_t *r = &part->r[i];
    if (!POLICY_NODE_IS_GATE(n->kind)) {
        if (org_set_intersects(&r->cand, s))
            return;
        org_set_add(s, org_set_has(&r->cand, pref) ? pref : org_set_first(&r->cand));
        return;
    }
    while (!s_eval(part, i, s)) {
        org_set_t best = { { 0 } };
        int best_cost = -1;
        bool best_pref = false;
        for (size_t j = i + 1; j < i + n->size; j += part->policy.nodes[j].size) {
            if (part->r[j].dropped || s_eval(part, j, s))
                continue;
            org_set_t t = *s;
            s_greedy(part, j, pref, &t);
            int cost = org_set_count(&t) - org_set_count(s);
            bool has_pref = org_set_has(&t, pref) && !org_set_has(s, pref);
            if (best_cost < 0 || cost < best_cost || (cost == best_cost && has_pref && !best_pref)) {
                best = t;
                best_cost = cost;
                best_pref = has_pref;
            }
        }
        assert(best_cost > 0);   /* an unmet entry always adds someone */
        *s = best;
    }
}

size_t
policy_plan(const policy_resolved_t *resolved, int preferred_org, org_set_t *out)
{
    const orgs_t *orgs = resolved->orgs;
    int pref = preferred_org >= 0 && (size_t) preferred_org < orgs->count ? preferred_org : -1;
    org_set_t greedy = { { 0 } };
    bool any_live = false;
    for (size_t p = 0; p < resolved->n_parts; p++) {
        if (s_live(&resolved->parts[p])) {
            any_live = true;
            s_greedy(&resolved->parts[p], 0, pref, &greedy);
        }
    }
    if (!any_live) {
        /* Everything dropped out: one endorsement from anyone, ourselves
         * if we may. */
        if (orgs->count)
            org_set_add(&greedy, pref >= 0 ? pref : 0);
        *out = greedy;
        return (size_t) org_set_count(&greedy);
    }

    /* Exact search over classes of interchangeable organisations: two
     * organisations that are candidates of exactly the same principals
     * satisfy exactly the same things, so only one per class (pref if it
     * is in the class, else the lowest index) need be tried. A class's
     * signature is the set of principals it is a candidate of.
     *
     * Forced organisations — the one candidate of a part that is a single
     * principal (a guard, org:<name> as a whole policy) — are in every
     * satisfying set, so they are in every candidate set tried, and their
     * classes are left out of the search: any other member of such a
     * class satisfies only what the forced one already does, so no
     * smallest set holds it. The search then looks for the fewest others. */
    org_set_t forced = { { 0 } };
    for (size_t p = 0; p < resolved->n_parts; p++) {
        const policy_part_t *part = &resolved->parts[p];
        if (s_live(part) && !POLICY_NODE_IS_GATE(part->policy.nodes[0].kind) &&
            org_set_count(&part->r[0].cand) == 1)
            org_set_add(&forced, org_set_first(&part->r[0].cand));
    }
    int n_forced = org_set_count(&forced);
    size_t n_princ = 0;
    for (size_t p = 0; p < resolved->n_parts; p++)
        for (size_t i = 0; i < resolved->parts[p].policy.n_nodes; i++)
            n_princ += !POLICY_NODE_IS_GATE(resolved->parts[p].policy.nodes[i].kind);
    size_t words = (n_princ + 63) / 64;
    uint64_t *sig = calloc(orgs->count * words + 1, sizeof *sig);
    int reps[ORGS_MAX], n_reps = 0;
    if (!sig)
        goto fallback;   /* no memory for the search: the greedy plan is still valid */
    size_t bit = 0;
    for (size_t p = 0; p < resolved->n_parts; p++) {
        const policy_part_t *part = &resolved->parts[p];
        for (size_t i = 0; i < part->policy.n_nodes; i++) {
            if (POLICY_NODE_IS_GATE(part->policy.nodes[i].kind))
                continue;
            /* A dropped principal (or one under a dropped part) is nobody's. */
            if (s_live(part) && !part->r[i].dropped)
                for (size_t o = 0; o < orgs->count; o++)
                    if (org_set_has(&part->r[i].cand, (int) o))
                        sig[o * words + bit / 64] |= UINT64_C(1) << (bit % 64);
            bit++;
        }
    }
    for (size_t o = 0; o < orgs->count; o++) {
        const uint64_t *so = &sig[o * words];
        bool relevant = false;
        for (size_t w = 0; w < words; w++)
            relevant |= so[w] != 0;
        if (!relevant)
            continue;
        int cls = -1;
        for (int c = 0; c < n_reps && cls < 0; c++)
            if (memcmp(&sig[(size_t) reps[c] * words], so, words * sizeof *so) == 0)
                cls = c;
        if (cls < 0)
            reps[n_reps++] = (int) o;
        else if ((int) o == pref)
            reps[cls] = (int) o;
    }
    /* Leave out the classes of forced organisations (each is a member of
     * its class, so its signature is the class's). */
    int kept = 0;
    for (int c = 0; c < n_reps; c++) {
        bool covered = false;
        for (size_t o = 0; o < orgs->count && !covered; o++)
            covered = org_set_has(&forced, (int) o) &&
                      memcmp(&sig[(size_t) reps[c] * words], &sig[o * words],
                             words * sizeof *sig) == 0;
        if (!covered)
            reps[kept++] = reps[c];
    }
    n_reps = kept;
    free(sig);
    /* Order: pref's class first, so among sets of one size those with pref
     * are tried first; then by index, so ties go to lower indices. */
    for (int c = 1; c < n_reps; c++) {
        if (reps[c] == pref) {
            memmove(&reps[1], &reps[0], (size_t) c * sizeof *reps);
            reps[0] = pref;
        }
    }
    /* size counts the organisations added to the forced ones; size 0 tries
     * the forced ones alone (the combination loop below runs once). */
    int budget = S_PLAN_BUDGET, limit = org_set_count(&greedy);
    for (int size = 0; n_forced + size <= limit && size <= n_reps; size++) {
        int idx[ORGS_MAX];
        for (int i = 0; i < size; i++)
            idx[i] = i;
        for (;;) {
            if (budget-- <= 0)
                goto fallback;
            org_set_t e = forced;
            for (int i = 0; i < size; i++)
                org_set_add(&e, reps[idx[i]]);
            if (s_eval_all(resolved, &e)) {
                *out = e;
                return (size_t) (n_forced + size);
            }
            /* Next combination in lexicographic order. */
            int i = size - 1;
            while (i >= 0 && idx[i] == n_reps - size + i)
                i--;
            if (i < 0)
                break;
            idx[i]++;
            for (int j = i + 1; j < size; j++)
                idx[j] = idx[j - 1] + 1;
        }
    }
fallback:
    *out = greedy;
    return (size_t) org_set_count(&greedy);
}
