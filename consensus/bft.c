/*
 * bft.c — Algorithm 1 of the Tendermint paper as a pure state machine (the
 * contract with the driver, the restart rules and the memory bounds are in
 * bft.h). Line numbers below are the paper's.
 *
 * The machine keeps one height: the paper's round_p, step_p, lockedValue /
 * lockedRound, validValue / validRound, the message log of the height
 * (bounded: BFT_ROUNDS_KEPT round records of proposals and vote tallies),
 * the driver's block verdicts, what it signed itself, and the highest round
 * heard from each validator. Every input first updates the log, then
 * s_progress applies the upon-rules until none fires. The rules are guarded
 * by the step and by "first time" flags, so applying them to a fixed point
 * is exactly the paper's "upon ... do" semantics, with one order among
 * rules enabled together: commit (49), skip (55), nil precommits (not in
 * the paper: s_rule_precommit_nil), prevote (22/28), polka (36), nil polka
 * (44), then the timeouts (34, 47) — so a validator whose
 * own votes make the quorum (n = 1) moves on before scheduling a timeout.
 *
 * Thread rules: one thread (the node's loop thread); nothing here blocks,
 * allocates after bft_new, or reads a clock (now_ms comes with the input).
 *
 * State diagram of one height, and the function behind each transition:
 *
 *   IDLE ----------- bft_start_height / bft_replay_own ----------> PROPOSE(0)
 *                    (replay: to the step of the last record)
 *   PROPOSE(r) ----- s_rule_prevote (lines 22, 28) --------------> PREVOTE(r)
 *   PROPOSE(r) ----- bft_on_timeout PROPOSE (line 57) -----------> PREVOTE(r)
 *   PREVOTE(r) ----- s_rule_polka (line 36; locks) --------------> PRECOMMIT(r)
 *   PREVOTE(r) ----- s_rule_polka_nil (line 44) -----------------> PRECOMMIT(r)
 *   PREVOTE(r) ----- bft_on_timeout PREVOTE (line 61) -----------> PRECOMMIT(r)
 *   any step of r -- bft_on_timeout PRECOMMIT (line 65) ---------> PROPOSE(r+1)
 *   any step of r -- s_rule_precommit_nil (+2/3 nil precommits) -> PROPOSE(r+1)
 *   any step of r -- s_rule_skip (line 55) ----------------------> PROPOSE(R > r)
 *   any step ------- s_rule_commit (line 49, any round) ---------> COMMITTED
 *   COMMITTED ------ bft_start_height(h' > h) -------------------> PROPOSE(0)
 *
 *   Rules that do not change the step: s_rule_polka in PRECOMMIT (validValue
 *   only, line 42), s_rule_prevote_timeout (line 34), s_rule_precommit_
 *   timeout (line 47); entering PROPOSE(r) is s_start_round (lines 11-21).
 *
 * Invariants: INV-1..INV-9, listed and checked in bft_state.c (every input
 * asserts the O(1) ones before it returns).
 */
#include "bft_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(BFT_ROUNDS_KEPT > 4, "the pinned rounds need a place, plus one to evict");
_Static_assert(2 * BFT_VALIDATORS_MAX < 256, "vote_of holds 1 + a tally index in a byte");

/* --- Small helpers ------------------------------------------------------- */

static void
s_set_add(bft_set_t *set, uint32_t i)
{
    set->bits[i / 64] |= (uint64_t) 1 << (i % 64);
}

uint32_t
bft_set_count(const bft_set_t *set)
{
    uint32_t n = 0;
    for (size_t w = 0; w < sizeof set->bits / sizeof set->bits[0]; w++)
        n += (uint32_t) __builtin_popcountll(set->bits[w]);
    return n;
}

static int
s_vi(bft_msg_t type)
{
    return type == BFT_PREVOTE ? S_PREVOTE : S_PRECOMMIT;
}

/* A new action at the end of the input's list; the bound is derived at
 * BFT_ACTIONS_MAX, so running out is a bug here, not bad input. */
static bft_action_t *
s_emit(bft_t *bft, bft_action_kind_t kind, int32_t round)
{
    assert(bft->out && bft->out->n < BFT_ACTIONS_MAX);
    bft_action_t *a = &bft->out->items[bft->out->n++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->height = bft->height;
    a->round = round;
    return a;
}

/* --- The round log --------------------------------------------------------- */

static s_round_t *
s_round_find(bft_t *bft, int32_t round)
{
    for (int i = 0; i < BFT_ROUNDS_KEPT; i++)
        if (bft->rounds[i].used && bft->rounds[i].round == round)
            return &bft->rounds[i];
    return NULL;
}

/* The valid_round named by the current round's proposal, or -1: line 28
 * needs the polka there, and a validator that evicted that round (or
 * restarted) can only prevote the proposal once re-sent prevotes fill it
 * again — so it must keep a place for them. */
static int32_t
s_proposal_vr(const bft_t *bft)
{
    for (int i = 0; i < BFT_ROUNDS_KEPT; i++)
        if (bft->rounds[i].used && bft->rounds[i].round == bft->round)
            return bft->rounds[i].has_proposal ? bft->rounds[i].prop_vr : BFT_NO_ROUND;
    return BFT_NO_ROUND;
}

/* Rounds that are never evicted: at most four (the current one, lockedRound,
 * validRound, the current proposal's valid_round; after a commit its round,
 * but then nothing new is stored). */
static bool
s_pinned(const bft_t *bft, int32_t round)
{
    return round == bft->round || round == bft->locked_round || round == bft->valid_round
           || (round >= 0 && round == s_proposal_vr(bft))
           || (bft->step == BFT_STEP_COMMITTED && round == bft->commit_round);
}

/* How far a round is from the current one, as an eviction rank (higher is
 * evicted first): round+1 -> 1, round-1 -> 2, round+2 -> 3, ... The next
 * round's votes are what a validator needs soonest; the previous round's
 * can still finish a commit (line 49) or a polka for a proposal's
 * valid_round (line 28). */
static int64_t
s_rank(const bft_t *bft, int32_t round)
{
    if (s_pinned(bft, round))
        return 0;
    int64_t d = (int64_t) round - bft->round;
    return d > 0 ? 2 * d - 1 : -2 * d;
}

static void
s_round_init(s_round_t *r, int32_t round)
{
    memset(r, 0, sizeof *r);
    r->used = true;
    r->round = round;
    r->prop_vr = BFT_NO_ROUND;
    r->quorum_at[0] = r->quorum_at[1] = -1;
}

/* The log of round, made if absent. With force (a pinned round) a place is
 * always found: at most four rounds are pinned and BFT_ROUNDS_KEPT > 4.
 * Without, a round ranking no better than the worst kept one gets no
 * place: NULL. */
static s_round_t *
s_round_get(bft_t *bft, int32_t round, bool force)
{
    s_round_t *r = s_round_find(bft, round);
    if (r)
        return r;
    s_round_t *victim = NULL;
    int64_t worst = -1;
    for (int i = 0; i < BFT_ROUNDS_KEPT; i++) {
        s_round_t *c = &bft->rounds[i];
        if (!c->used) {
            s_round_init(c, round);
            return c;
        }
        int64_t rank = s_rank(bft, c->round);
        if (rank > worst && rank > 0) {
            worst = rank;
            victim = c;
        }
    }
    if (!victim || (!force && s_rank(bft, round) >= worst)) {
        assert(!force);
        return NULL;
    }
    s_round_init(victim, round);
    return victim;
}

/* Adding one vote to a round's tallies. */
typedef enum { S_ADDED, S_DUPLICATE, S_CONFLICT } s_add_t;

/* Counts from's vote of type vi for hash (NULL = nil). The first vote of a
 * validator always counts (distinct first votes <= n tallies). A later vote
 * for another value is S_CONFLICT (*first: the first vote) and counts for
 * its value as well — the paper counts messages, and a Byzantine
 * validator's two prevotes are two: an honest validator that heard its
 * "other" vote first must still see the polka the rest of the network saw,
 * or it can be left out of every quorum for good. That is safe: two values
 * with 2f+1 each at one (round, type) would need f+1 honest votes each,
 * 2f+2 > n - f. Memory stays bounded: a second vote joins an existing tally
 * for free and opens a new one only while second votes opened fewer than n
 * (beyond that it is evidence only). Each validator counts at most once per
 * value. */
static s_add_t
s_tally_add(bft_t *bft, s_round_t *r, int vi, uint32_t from, const uint8_t *hash,
            const s_tally_t **first)
{
    bool nil = hash == NULL;
    int idx = -1;
    for (int i = 0; i < r->n_tally[vi]; i++) {
        const s_tally_t *t = &r->tally[vi][i];
        if (t->nil == nil && (nil || s_same(t->hash, hash))) {
            idx = i;
            break;
        }
    }
    if (idx >= 0 && bft_set_has(&r->tally[vi][idx].voters, from))
        return S_DUPLICATE;
    uint8_t cur = r->vote_of[vi][from];
    if (cur)
        *first = &r->tally[vi][cur - 1];
    if (idx < 0) {
        if (cur && r->n_extra[vi] >= bft->n)
            return S_CONFLICT; /* evidence only */
        assert(r->n_tally[vi] < 2 * bft->n);
        idx = r->n_tally[vi]++;
        if (cur)
            r->n_extra[vi]++;
        s_tally_t *t = &r->tally[vi][idx];
        memset(t, 0, sizeof *t);
        t->nil = nil;
        if (!nil)
            memcpy(t->hash, hash, BFT_HASH_SIZE);
    }
    s_tally_t *t = &r->tally[vi][idx];
    t->count++;
    s_set_add(&t->voters, from);
    if (t->count >= bft->quorum && r->quorum_at[vi] < 0)
        r->quorum_at[vi] = (int16_t) idx;
    if (cur)
        return S_CONFLICT;
    r->vote_of[vi][from] = (uint8_t) (idx + 1);
    r->voters[vi]++;
    return S_ADDED;
}


/* --- Verdicts -------------------------------------------------------------- */

/* 1 valid, 0 invalid, -1 not judged. The locked and valid values were judged
 * valid when they were set (lines 36-43), and validation of one height is
 * deterministic, so they stay valid. */
int
bft_judged_of(const bft_t *bft, const uint8_t *hash)
{
    if (bft->locked_round >= 0 && s_same(bft->locked_hash, hash))
        return 1;
    if (bft->valid_round >= 0 && s_same(bft->valid_hash, hash))
        return 1;
    for (int i = 0; i < BFT_JUDGED_MAX; i++)
        if (bft->judged[i].used && s_same(bft->judged[i].hash, hash))
            return bft->judged[i].valid ? 1 : 0;
    return -1;
}

static void
s_judge(bft_t *bft, const uint8_t *hash, bool valid)
{
    for (int i = 0; i < BFT_JUDGED_MAX; i++)
        if (bft->judged[i].used && s_same(bft->judged[i].hash, hash)) {
            bft->judged[i].valid = valid;
            return;
        }
    s_judged_t *j = &bft->judged[bft->judged_next];
    bft->judged_next = (bft->judged_next + 1) % BFT_JUDGED_MAX;
    j->used = true;
    j->valid = valid;
    memcpy(j->hash, hash, BFT_HASH_SIZE);
}

/* --- Steps and signing ------------------------------------------------------ */

/* Records the (round, step) high-water mark; INV-5 compares against it, so a
 * transition that went back is caught by the next check. */
static void
s_mark(bft_t *bft)
{
    if (bft->round > bft->hw_round || (bft->round == bft->hw_round && bft->step > bft->hw_step)) {
        bft->hw_round = bft->round;
        bft->hw_step = bft->step;
    }
}

static void
s_set_step(bft_t *bft, bft_step_t step)
{
    assert(step > bft->step);
    bft->step = step;
    if (step != BFT_STEP_PROPOSE)
        bft->build_pending = false;
    s_mark(bft);
}

static void
s_schedule(bft_t *bft, bft_timeout_t kind)
{
    bft_action_t *a = s_emit(bft, BFT_ACT_SCHEDULE_TIMEOUT, bft->round);
    a->timeout = kind;
    a->delay_ms = bft_timeout_ms(&bft->cfg.timeouts, kind, bft->round);
    a->at_ms = bft->now_ms + a->delay_ms;
}

/* Signs (through the driver) our proposal for the current round and delivers
 * it to ourselves. The block is ours or the valid value: judged valid. */
static void
s_propose(bft_t *bft, const uint8_t *hash, int32_t valid_round)
{
    assert(bft->step == BFT_STEP_PROPOSE && s_is_proposer(bft, bft->round));
    assert(bft->own_round[BFT_PROPOSAL] < bft->round); /* INV-1 */
    bft->own_round[BFT_PROPOSAL] = bft->round;
    bft->own_nil[BFT_PROPOSAL] = false;
    memcpy(bft->own_hash[BFT_PROPOSAL], hash, BFT_HASH_SIZE);
    bft->build_pending = false;

    bft_action_t *a = s_emit(bft, BFT_ACT_BROADCAST_PROPOSAL, bft->round);
    memcpy(a->hash, hash, BFT_HASH_SIZE);
    a->valid_round = valid_round;

    s_round_t *r = s_round_get(bft, bft->round, true);
    assert(!r->has_proposal);
    r->has_proposal = true;
    memcpy(r->prop_hash, hash, BFT_HASH_SIZE);
    r->prop_vr = valid_round;
    s_judge(bft, hash, true);
}

/* Signs (through the driver) our vote of type for the current round, hash
 * NULL = nil, and counts it. */
static void
s_vote(bft_t *bft, bft_msg_t type, const uint8_t *hash)
{
    assert(bft->own_round[type] < bft->round); /* INV-1 */
    bft->own_round[type] = bft->round;
    bft->own_nil[type] = hash == NULL;
    memset(bft->own_hash[type], 0, BFT_HASH_SIZE);
    if (hash)
        memcpy(bft->own_hash[type], hash, BFT_HASH_SIZE);
    if (type == BFT_PRECOMMIT && hash) {
        bft->own_lock_round = bft->round;
        memcpy(bft->own_lock_hash, hash, BFT_HASH_SIZE);
    }

    bft_action_t *a = s_emit(bft, BFT_ACT_BROADCAST_VOTE, bft->round);
    a->type = type;
    a->nil = hash == NULL;
    if (hash)
        memcpy(a->hash, hash, BFT_HASH_SIZE);

    s_round_t *r = s_round_get(bft, bft->round, true);
    const s_tally_t *first = NULL;
    s_add_t added = s_tally_add(bft, r, s_vi(type), bft->cfg.self, hash, &first);
    assert(added == S_ADDED);
    (void) added;
    if (bft->seen_round[bft->cfg.self] < bft->round)
        bft->seen_round[bft->cfg.self] = bft->round;
}

/* StartRound(round), lines 11-21. */
static void
s_start_round(bft_t *bft, int32_t round)
{
    assert(round >= 0 && round <= BFT_ROUND_MAX);
    assert(bft->step == BFT_STEP_IDLE || round > bft->round);
    bft->round = round;
    bft->step = BFT_STEP_PROPOSE;
    bft->prevote_timeout_set = bft->polka_seen = bft->precommit_timeout_set = false;
    bft->build_pending = false;
    bft->stats.rounds++;
    s_mark(bft);
    s_round_get(bft, round, true);
    if (s_is_proposer(bft, round)) {
        if (bft->valid_round >= 0) {
            /* Re-proposing the valid value, we prevote it only with the
             * polka at validRound in the log (line 28), which a restart
             * loses; the paper's proposer has no timeout here, and would
             * wait in PROPOSE for good. A nil prevote is always safe. */
            s_propose(bft, bft->valid_hash, bft->valid_round);
            s_schedule(bft, BFT_TIMEOUT_PROPOSE);
        } else {
            s_emit(bft, BFT_ACT_BUILD_PROPOSAL, round);
            bft->build_pending = true;
        }
    } else {
        s_schedule(bft, BFT_TIMEOUT_PROPOSE);
    }
}

/* --- The upon-rules ----------------------------------------------------------
 * Each returns true when it fired (changed state or emitted an action). */

/* Line 49: a block with +2/3 precommits at any round, judged valid. */
static bool
s_rule_commit(bft_t *bft)
{
    for (int i = 0; i < BFT_ROUNDS_KEPT; i++) {
        const s_round_t *r = &bft->rounds[i];
        if (!r->used)
            continue;
        const s_tally_t *t = s_quorum_value(r, S_PRECOMMIT);
        if (!t || t->nil || bft_judged_of(bft, t->hash) != 1)
            continue;
        bft->commit_round = r->round;
        memcpy(bft->commit_hash, t->hash, BFT_HASH_SIZE);
        s_set_step(bft, BFT_STEP_COMMITTED);
        bft_action_t *a = s_emit(bft, BFT_ACT_COMMIT, r->round);
        memcpy(a->hash, t->hash, BFT_HASH_SIZE);
        a->signers = t->voters;
        bft->stats.commits++;
        return true;
    }
    return false;
}

/* The highest round R such that at least f+1 validators sent a message at a
 * round >= R (the (f+1)-th largest of seen_round), or -1. */
static int32_t
s_skip_round(const bft_t *bft)
{
    int32_t top[BFT_VALIDATORS_MAX]; /* the skip largest so far, descending */
    uint32_t k = 0;
    for (uint32_t i = 0; i < bft->n; i++) {
        int32_t v = bft->seen_round[i];
        uint32_t pos = k < bft->skip ? k : bft->skip;
        while (pos > 0 && top[pos - 1] < v) {
            if (pos < bft->skip)
                top[pos] = top[pos - 1];
            pos--;
        }
        if (pos < bft->skip) {
            top[pos] = v;
            if (k < bft->skip)
                k++;
        }
    }
    return k == bft->skip ? top[bft->skip - 1] : -1;
}

/* Line 55: f+1 validators are past our round. */
static bool
s_rule_skip(bft_t *bft)
{
    if (!bft->skip_dirty)
        return false;
    bft->skip_dirty = false;
    int32_t target = s_skip_round(bft);
    if (target <= bft->round)
        return false;
    bft->stats.skips++;
    s_start_round(bft, target);
    return true;
}

/* Lines 22-33: prevote on the round's proposal. A verdict still pending
 * waits, unless the lock decides the vote (nil) whatever it says. */
static bool
s_rule_prevote(bft_t *bft)
{
    if (bft->step != BFT_STEP_PROPOSE)
        return false;
    const s_round_t *r = s_round_find(bft, bft->round);
    if (!r || !r->has_proposal)
        return false;
    const uint8_t *v = r->prop_hash;
    int32_t vr = r->prop_vr;
    bool lock_allows;
    if (vr == BFT_NO_ROUND) {
        /* Line 23: lockedRound = -1 or lockedValue = v. */
        lock_allows = bft->locked_round == BFT_NO_ROUND || s_same(bft->locked_hash, v);
    } else {
        /* Line 28 also needs 2f+1 prevotes for v at vr (vr < round by input
         * validation); then line 29: lockedRound <= vr or lockedValue = v. */
        const s_tally_t *polka = s_quorum_value(s_round_find(bft, vr), S_PREVOTE);
        if (!polka || polka->nil || !s_same(polka->hash, v))
            return false;
        lock_allows = bft->locked_round <= vr || s_same(bft->locked_hash, v);
    }
    const uint8_t *vote = NULL;
    if (lock_allows) {
        int j = bft_judged_of(bft, v);
        if (j < 0)
            return false;
        vote = j ? v : NULL;
    }
    s_vote(bft, BFT_PREVOTE, vote);
    s_set_step(bft, BFT_STEP_PREVOTE);
    return true;
}

/* Lines 36-43: +2/3 prevotes for a valid block in this round. */
static bool
s_rule_polka(bft_t *bft)
{
    if (bft->polka_seen || bft->step < BFT_STEP_PREVOTE)
        return false;
    const s_tally_t *t = s_quorum_value(s_round_find(bft, bft->round), S_PREVOTE);
    if (!t || t->nil || bft_judged_of(bft, t->hash) != 1)
        return false;
    bft->polka_seen = true;
    uint8_t v[BFT_HASH_SIZE];
    memcpy(v, t->hash, BFT_HASH_SIZE);
    if (bft->step == BFT_STEP_PREVOTE) {
        bft->locked_round = bft->round;
        memcpy(bft->locked_hash, v, BFT_HASH_SIZE);
        s_vote(bft, BFT_PRECOMMIT, v);
        s_set_step(bft, BFT_STEP_PRECOMMIT);
    }
    bft->valid_round = bft->round;
    memcpy(bft->valid_hash, v, BFT_HASH_SIZE);
    return true;
}

/* Lines 44-46: +2/3 prevotes for nil. */
static bool
s_rule_polka_nil(bft_t *bft)
{
    if (bft->step != BFT_STEP_PREVOTE)
        return false;
    const s_tally_t *t = s_quorum_value(s_round_find(bft, bft->round), S_PREVOTE);
    if (!t || !t->nil)
        return false;
    s_vote(bft, BFT_PRECOMMIT, NULL);
    s_set_step(bft, BFT_STEP_PRECOMMIT);
    return true;
}

/* Not in Algorithm 1: +2/3 precommits for nil at the current round move
 * to the next round at once, as line 65 would when timeoutPrecommit fires.
 * The wait cannot end in a decision at this round: a validator precommits
 * once per round, so a value could gather at most the other n - 2f - 1 plus
 * f equivocators, fewer than 2f + 1. Leaving a round early is safe (locks
 * carry safety), and a late precommit quorum for a value of this round
 * still commits by line 49. It saves the precommit timeout each time a
 * proposer is down. */
static bool
s_rule_precommit_nil(bft_t *bft)
{
    const s_tally_t *t = s_quorum_value(s_round_find(bft, bft->round), S_PRECOMMIT);
    if (!t || !t->nil || bft->round >= BFT_ROUND_MAX)
        return false;
    bft->stats.nil_rounds++;
    s_start_round(bft, bft->round + 1);
    return true;
}

/* Lines 34-35: +2/3 prevotes of any kind, first time. */
static bool
s_rule_prevote_timeout(bft_t *bft)
{
    if (bft->step != BFT_STEP_PREVOTE || bft->prevote_timeout_set)
        return false;
    const s_round_t *r = s_round_find(bft, bft->round);
    if (!r || r->voters[S_PREVOTE] < bft->quorum)
        return false;
    bft->prevote_timeout_set = true;
    s_schedule(bft, BFT_TIMEOUT_PREVOTE);
    return true;
}

/* Lines 47-48: +2/3 precommits of any kind, first time. */
static bool
s_rule_precommit_timeout(bft_t *bft)
{
    if (bft->precommit_timeout_set)
        return false;
    const s_round_t *r = s_round_find(bft, bft->round);
    if (!r || r->voters[S_PRECOMMIT] < bft->quorum)
        return false;
    bft->precommit_timeout_set = true;
    s_schedule(bft, BFT_TIMEOUT_PRECOMMIT);
    return true;
}

/* Applies the rules until none fires. Each firing advances the step, the
 * round, or sets a first-time flag, so the loop is short; the guard only
 * catches a rule that fires without changing anything. */
static void
s_progress(bft_t *bft)
{
    for (int guard = 0;; guard++) {
        assert(guard < 4 * BFT_ACTIONS_MAX);
        if (bft->step == BFT_STEP_COMMITTED || bft->step == BFT_STEP_IDLE)
            return;
        if (s_rule_commit(bft))
            return;
        if (s_rule_skip(bft) || s_rule_precommit_nil(bft) || s_rule_prevote(bft)
            || s_rule_polka(bft) || s_rule_polka_nil(bft) || s_rule_prevote_timeout(bft)
            || s_rule_precommit_timeout(bft))
            continue;
        return;
    }
}

/* --- Inputs ---------------------------------------------------------------- */

static void
s_begin(bft_t *bft, bft_actions_t *out, int64_t now_ms)
{
    assert(bft && out);
    out->n = 0;
    bft->out = out;
    bft->now_ms = now_ms;
}

/* Ends an input: applies the rules (unless it failed) and checks the cheap
 * invariants. An error leaves no actions. */
static int
s_end(bft_t *bft, int rc)
{
    if (rc == 0)
        s_progress(bft);
    else
        bft->out->n = 0;
    const char *why = bft_check_cheap(bft);
    (void) why;
    assert(why == NULL);
    bft->out = NULL;
    return rc;
}

/* A message signed with our key reached us (a relay of our own). It is in
 * the log already, so it is only checked: VL_ERR_INVALID when it
 * contradicts what we know we signed — another message at our last round
 * of that type, any at a later round, or another one than the log holds —
 * meaning another node uses our key or our WAL was lost. Otherwise 0 and
 * not counted: it is what we signed, or a round before our last whose log
 * does not hold our message (evicted, or not kept by a replay), where we
 * cannot tell. hash NULL = a nil vote. */
static int
s_own_echo(bft_t *bft, bft_msg_t type, int32_t round, const s_round_t *r, const uint8_t *hash,
           int32_t valid_round)
{
    bool nil = hash == NULL;
    bool match;
    if (round == bft->own_round[type]) {
        match = bft->own_nil[type] == nil && (nil || s_same(bft->own_hash[type], hash));
    } else if (round > bft->own_round[type]) {
        match = false;
    } else if (!r) {
        match = true;
    } else if (type == BFT_PROPOSAL) {
        /* Only our own proposal is ever stored for a round we propose. */
        match = !r->has_proposal || s_same(r->prop_hash, hash);
    } else {
        uint8_t k = r->vote_of[s_vi(type)][bft->cfg.self];
        const s_tally_t *t = k ? &r->tally[s_vi(type)][k - 1] : NULL;
        match = !t || (t->nil == nil && (nil || s_same(t->hash, hash)));
    }
    if (match && type == BFT_PROPOSAL && r && r->has_proposal && r->round == round
        && r->prop_vr != valid_round)
        match = false;
    if (!match)
        return VL_ERR_INVALID;
    bft->stats.duplicates++;
    return 0;
}

/* True (and counted) when an input is not for the height being decided. */
static bool
s_elsewhere(bft_t *bft, uint64_t height)
{
    if (bft->step == BFT_STEP_IDLE || height != bft->height) {
        bft->stats.other_height++;
        return true;
    }
    if (bft->step == BFT_STEP_COMMITTED) {
        bft->stats.stale++;
        return true;
    }
    return false;
}

static void
s_saw(bft_t *bft, uint32_t from, int32_t round)
{
    if (round > bft->seen_round[from]) {
        bft->seen_round[from] = round;
        bft->skip_dirty = true;
    }
}

/* Forgets the height and starts over at height (no round started). */
static void
s_reset_height(bft_t *bft, uint64_t height)
{
    bft->height = height;
    bft->step = BFT_STEP_IDLE;
    bft->round = 0;
    bft->locked_round = bft->valid_round = BFT_NO_ROUND;
    memset(bft->locked_hash, 0, sizeof bft->locked_hash);
    memset(bft->valid_hash, 0, sizeof bft->valid_hash);
    bft->prevote_timeout_set = bft->polka_seen = bft->precommit_timeout_set = false;
    bft->build_pending = false;
    for (int t = 0; t < 3; t++) {
        bft->own_round[t] = BFT_NO_ROUND;
        bft->own_nil[t] = false;
    }
    memset(bft->own_hash, 0, sizeof bft->own_hash);
    bft->own_lock_round = BFT_NO_ROUND;
    memset(bft->own_lock_hash, 0, sizeof bft->own_lock_hash);
    bft->commit_round = BFT_NO_ROUND;
    memset(bft->commit_hash, 0, sizeof bft->commit_hash);
    bft->hw_round = BFT_NO_ROUND;
    bft->hw_step = BFT_STEP_IDLE;
    for (uint32_t i = 0; i < BFT_VALIDATORS_MAX; i++)
        bft->seen_round[i] = BFT_NO_ROUND;
    bft->skip_dirty = false;
    memset(bft->rounds, 0, sizeof bft->rounds);
    memset(bft->judged, 0, sizeof bft->judged);
    bft->judged_next = 0;
}

int
bft_start_height(bft_t *bft, uint64_t height, int64_t now_ms, bft_actions_t *out)
{
    s_begin(bft, out, now_ms);
    if (bft->hw_round != BFT_NO_ROUND && height <= bft->height)
        return s_end(bft, VL_ERR_STATE);
    s_reset_height(bft, height);
    s_start_round(bft, 0);
    return s_end(bft, 0);
}

int
bft_replay_own(bft_t *bft, uint64_t height, const bft_own_msg_t *msgs, size_t n_msgs,
               int64_t now_ms, bft_actions_t *out)
{
    s_begin(bft, out, now_ms);
    assert(msgs || n_msgs == 0);
    if (bft->hw_round != BFT_NO_ROUND)
        return s_end(bft, VL_ERR_STATE);
    if (bft_replay_check(bft, height, msgs, n_msgs) != 0)
        return s_end(bft, VL_ERR_CORRUPT);
    s_reset_height(bft, height);

    /* What we signed: the last message of each type, the lock from the
     * precommits (INV-3), the valid value from the lock or a proposal's
     * valid_round, whichever round is higher. */
    int32_t round = 0;
    int32_t valid_round = BFT_NO_ROUND;
    const uint8_t *valid_hash = NULL;
    for (size_t i = 0; i < n_msgs; i++) {
        const bft_own_msg_t *m = &msgs[i];
        round = m->round;
        bft->own_round[m->type] = m->round;
        bft->own_nil[m->type] = m->nil;
        memset(bft->own_hash[m->type], 0, BFT_HASH_SIZE);
        if (!m->nil)
            memcpy(bft->own_hash[m->type], m->hash, BFT_HASH_SIZE);
        if (m->type == BFT_PRECOMMIT && !m->nil) {
            bft->own_lock_round = m->round;
            memcpy(bft->own_lock_hash, m->hash, BFT_HASH_SIZE);
        }
        if (m->type == BFT_PROPOSAL && m->valid_round > valid_round) {
            valid_round = m->valid_round;
            valid_hash = m->hash;
        }
    }
    bft->round = round;
    bft->locked_round = bft->own_lock_round;
    memcpy(bft->locked_hash, bft->own_lock_hash, BFT_HASH_SIZE);
    bft->valid_round = bft->locked_round;
    memcpy(bft->valid_hash, bft->locked_hash, BFT_HASH_SIZE);
    if (valid_round > bft->valid_round) {
        bft->valid_round = valid_round;
        memcpy(bft->valid_hash, valid_hash, BFT_HASH_SIZE);
    }
    bft->step = bft->own_round[BFT_PRECOMMIT] == round ? BFT_STEP_PRECOMMIT
                : bft->own_round[BFT_PREVOTE] == round ? BFT_STEP_PREVOTE
                                                        : BFT_STEP_PROPOSE;
    bft->polka_seen = bft->step == BFT_STEP_PRECOMMIT && !bft->own_nil[BFT_PRECOMMIT];
    bft->stats.rounds++;
    s_mark(bft);

    /* The pinned rounds first, then our messages into whatever fits. */
    s_round_get(bft, round, true);
    if (bft->locked_round >= 0)
        s_round_get(bft, bft->locked_round, true);
    if (bft->valid_round >= 0)
        s_round_get(bft, bft->valid_round, true);
    for (size_t i = 0; i < n_msgs; i++) {
        const bft_own_msg_t *m = &msgs[i];
        s_round_t *r = s_round_get(bft, m->round, false);
        if (m->type == BFT_PROPOSAL)
            s_judge(bft, m->hash, true);
        if (!r)
            continue;
        if (m->type == BFT_PROPOSAL) {
            r->has_proposal = true;
            memcpy(r->prop_hash, m->hash, BFT_HASH_SIZE);
            r->prop_vr = m->valid_round;
        } else {
            const s_tally_t *first = NULL;
            s_tally_add(bft, r, s_vi(m->type), bft->cfg.self, m->nil ? NULL : m->hash, &first);
        }
    }
    bft->seen_round[bft->cfg.self] = n_msgs ? round : BFT_NO_ROUND;

    /* Continue from the reached step. Its timeout is scheduled now, not
     * after 2f+1 votes (lines 34/47): the votes that would start it may have
     * been sent while we were down, and a nil vote or a new round is always
     * safe. */
    switch (bft->step) {
    case BFT_STEP_PROPOSE:
        if (s_is_proposer(bft, round) && bft->own_round[BFT_PROPOSAL] < round) {
            if (bft->valid_round >= 0) {
                s_propose(bft, bft->valid_hash, bft->valid_round);
                s_schedule(bft, BFT_TIMEOUT_PROPOSE);
            } else {
                s_emit(bft, BFT_ACT_BUILD_PROPOSAL, round);
                bft->build_pending = true;
            }
        } else {
            s_schedule(bft, BFT_TIMEOUT_PROPOSE);
        }
        break;
    case BFT_STEP_PREVOTE:
        bft->prevote_timeout_set = true;
        s_schedule(bft, BFT_TIMEOUT_PREVOTE);
        break;
    default:
        bft->precommit_timeout_set = true;
        s_schedule(bft, BFT_TIMEOUT_PRECOMMIT);
        break;
    }
    return s_end(bft, 0);
}

int
bft_on_value(bft_t *bft, uint64_t height, int32_t round, const uint8_t hash[BFT_HASH_SIZE],
             int64_t now_ms, bft_actions_t *out)
{
    s_begin(bft, out, now_ms);
    assert(hash);
    if (s_elsewhere(bft, height))
        return s_end(bft, 0);
    if (!bft->build_pending || round != bft->round) {
        bft->stats.stale++;
        return s_end(bft, 0);
    }
    /* build_pending implies no valid value (INV-9): propose the new block. */
    s_judge(bft, hash, true);
    s_propose(bft, hash, BFT_NO_ROUND);
    return s_end(bft, 0);
}

int
bft_on_proposal(bft_t *bft, uint64_t height, int32_t round, const uint8_t hash[BFT_HASH_SIZE],
                int32_t valid_round, uint32_t from, int64_t now_ms, bft_actions_t *out)
{
    s_begin(bft, out, now_ms);
    assert(hash);
    if (from >= bft->n || round < 0 || round > BFT_ROUND_MAX || valid_round < BFT_NO_ROUND
        || valid_round >= round || bft_proposer(bft, height, round) != from)
        return s_end(bft, VL_ERR_INVALID);
    if (s_elsewhere(bft, height))
        return s_end(bft, 0);
    s_round_t *r = s_round_find(bft, round);
    if (from == bft->cfg.self)
        return s_end(bft, s_own_echo(bft, BFT_PROPOSAL, round, r, hash, valid_round));
    s_saw(bft, from, round);
    if (!r)
        r = s_round_get(bft, round, false);
    if (!r) {
        bft->stats.dropped++;
        return s_end(bft, 0);
    }
    if (r->has_proposal) {
        if (s_same(r->prop_hash, hash)) {
            /* Same block (a different valid_round is not a second block):
             * the first one stands. */
            bft->stats.duplicates++;
        } else {
            bft_action_t *a = s_emit(bft, BFT_ACT_EVIDENCE, round);
            a->type = BFT_PROPOSAL;
            a->validator = from;
            memcpy(a->hash, r->prop_hash, BFT_HASH_SIZE);
            memcpy(a->hash_b, hash, BFT_HASH_SIZE);
            bft->stats.evidence++;
        }
        return s_end(bft, 0);
    }
    r->has_proposal = true;
    memcpy(r->prop_hash, hash, BFT_HASH_SIZE);
    r->prop_vr = valid_round;
    return s_end(bft, 0);
}

int
bft_on_judged(bft_t *bft, uint64_t height, const uint8_t hash[BFT_HASH_SIZE], bool valid,
              int64_t now_ms, bft_actions_t *out)
{
    s_begin(bft, out, now_ms);
    assert(hash);
    if (s_elsewhere(bft, height))
        return s_end(bft, 0);
    s_judge(bft, hash, valid);
    return s_end(bft, 0);
}

int
bft_on_vote(bft_t *bft, bft_msg_t type, uint64_t height, int32_t round, const uint8_t *hash,
            uint32_t from, int64_t now_ms, bft_actions_t *out)
{
    s_begin(bft, out, now_ms);
    if ((type != BFT_PREVOTE && type != BFT_PRECOMMIT) || from >= bft->n || round < 0
        || round > BFT_ROUND_MAX)
        return s_end(bft, VL_ERR_INVALID);
    if (s_elsewhere(bft, height))
        return s_end(bft, 0);
    int vi = s_vi(type);
    s_round_t *r = s_round_find(bft, round);
    if (from == bft->cfg.self)
        return s_end(bft, s_own_echo(bft, type, round, r, hash, BFT_NO_ROUND));
    s_saw(bft, from, round);
    if (!r)
        r = s_round_get(bft, round, false);
    if (!r) {
        bft->stats.dropped++;
        return s_end(bft, 0);
    }
    const s_tally_t *first = NULL;
    switch (s_tally_add(bft, r, vi, from, hash, &first)) {
    case S_ADDED:
        break;
    case S_DUPLICATE:
        bft->stats.duplicates++;
        break;
    case S_CONFLICT: {
        if (bft_set_has(&r->equivocated[vi], from)) {
            bft->stats.duplicates++;
            break; /* reported already: one proof is enough */
        }
        s_set_add(&r->equivocated[vi], from);
        bft_action_t *a = s_emit(bft, BFT_ACT_EVIDENCE, round);
        a->type = type;
        a->validator = from;
        a->nil = first->nil;
        memcpy(a->hash, first->hash, BFT_HASH_SIZE);
        a->nil_b = hash == NULL;
        if (hash)
            memcpy(a->hash_b, hash, BFT_HASH_SIZE);
        bft->stats.evidence++;
        break;
    }
    }
    return s_end(bft, 0);
}

int
bft_on_timeout(bft_t *bft, bft_timeout_t kind, uint64_t height, int32_t round, int64_t now_ms,
               bft_actions_t *out)
{
    s_begin(bft, out, now_ms);
    if (kind != BFT_TIMEOUT_PROPOSE && kind != BFT_TIMEOUT_PREVOTE
        && kind != BFT_TIMEOUT_PRECOMMIT)
        return s_end(bft, VL_ERR_INVALID);
    if (s_elsewhere(bft, height))
        return s_end(bft, 0);
    if (round != bft->round) {
        bft->stats.stale++;
        return s_end(bft, 0);
    }
    if (kind == BFT_TIMEOUT_PROPOSE && bft->step == BFT_STEP_PROPOSE) {
        /* Line 57. */
        s_vote(bft, BFT_PREVOTE, NULL);
        s_set_step(bft, BFT_STEP_PREVOTE);
    } else if (kind == BFT_TIMEOUT_PREVOTE && bft->step == BFT_STEP_PREVOTE) {
        /* Line 61. */
        s_vote(bft, BFT_PRECOMMIT, NULL);
        s_set_step(bft, BFT_STEP_PRECOMMIT);
    } else if (kind == BFT_TIMEOUT_PRECOMMIT && round < BFT_ROUND_MAX) {
        /* Line 65. */
        s_start_round(bft, round + 1);
    } else {
        bft->stats.stale++;
    }
    return s_end(bft, 0);
}
