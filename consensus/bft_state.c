/*
 * bft_state.c — the Tendermint machine's configuration and lifetime, its
 * numbered invariants (bft.c's header lists INV-1..INV-9;
 * bft_check_invariants), its read-only view (height, round, step, lock,
 * valid value, stats, names) and the check of replayed own messages. Pure.
 *
 * Invariants (bft_check_invariants checks all of them; every input asserts
 * the O(1) ones — all but INV-7 and INV-8 — before it returns):
 *
 *   INV-1  No equivocation of our own: at one height we sign at most one
 *          proposal and one vote of each type per round, in increasing
 *          rounds (own_round[type] only grows, and we sign only at the
 *          current round), so never two different messages of one (h, r,
 *          type); our proposals are only in rounds we propose; every own
 *          message in the log equals what we recorded signing.
 *   INV-2  -1 <= lockedRound <= validRound <= round; when lockedRound =
 *          validRound >= 0 the two values are the same block.
 *   INV-3  The lock is our last non-nil precommit: if we precommitted v at
 *          r and at no higher round for a block, then lockedValue = v and
 *          lockedRound = r (the lock changes only with a precommit, line
 *          36, and replay restores it from the precommits).
 *   INV-4  COMMITTED only with more than 2/3 precommits for the committed
 *          hash at one round in the log, and that block judged valid.
 *   INV-5  (round, step) never goes back: it equals the highest (round,
 *          step) the height reached; within a round the step only advances
 *          PROPOSE -> PREVOTE -> PRECOMMIT (-> COMMITTED).
 *   INV-6  The step says what we signed this round: step >= PREVOTE iff we
 *          prevoted in this round, step >= PRECOMMIT iff we precommitted.
 *   INV-7  Tallies match the votes: one tally per value, at most 2n per
 *          (round, type); each validator's first vote is in the tally of
 *          its value and counted once in `voters`; a validator is in a
 *          second value's tally only with evidence against it; counts,
 *          voter sets and the quorum marker agree.
 *   INV-8  The log has one record per kept round, within BFT_ROUND_MAX, and
 *          always one for the current round, lockedRound and validRound
 *          (the current proposal's valid_round is kept once it exists).
 *   INV-9  A BUILD_PROPOSAL is outstanding only in PROPOSE of a round we
 *          propose, with no valid value and no proposal of ours yet.
 */
#include "bft_internal.h"

#include <assert.h>
#include <stdlib.h>

/* --- Configuration ------------------------------------------------------- */

void
bft_config_init(bft_config_t *cfg, uint32_t validators, uint32_t self)
{
    assert(cfg);
    memset(cfg, 0, sizeof *cfg);
    cfg->validators = validators;
    cfg->self = self;
    cfg->timeouts = (bft_timeouts_t) {
        .propose_base_ms = BFT_PROPOSE_BASE_MS,
        .propose_delta_ms = BFT_PROPOSE_DELTA_MS,
        .prevote_base_ms = BFT_PREVOTE_BASE_MS,
        .prevote_delta_ms = BFT_PREVOTE_DELTA_MS,
        .precommit_base_ms = BFT_PRECOMMIT_BASE_MS,
        .precommit_delta_ms = BFT_PRECOMMIT_DELTA_MS,
    };
}

#define S_DAY_MS (24LL * 3600 * 1000)

/* A day each keeps base + BFT_ROUND_MAX * delta far inside int64. */
static bool
s_timeout_ok(int64_t base, int64_t delta)
{
    return base > 0 && base <= S_DAY_MS && delta >= 0 && delta <= S_DAY_MS;
}

int
bft_config_check(const bft_config_t *cfg, vl_err_t *err)
{
    assert(cfg);
    if (cfg->validators < 1 || cfg->validators > BFT_VALIDATORS_MAX)
        return vl_err_set(err, VL_ERR_INVALID, "%u validators (1 to %d supported)",
                          cfg->validators, BFT_VALIDATORS_MAX);
    if (cfg->self >= cfg->validators)
        return vl_err_set(err, VL_ERR_INVALID, "validator index %u is not below %u",
                          cfg->self, cfg->validators);
    const bft_timeouts_t *t = &cfg->timeouts;
    if (!s_timeout_ok(t->propose_base_ms, t->propose_delta_ms)
        || !s_timeout_ok(t->prevote_base_ms, t->prevote_delta_ms)
        || !s_timeout_ok(t->precommit_base_ms, t->precommit_delta_ms))
        return vl_err_set(err, VL_ERR_INVALID,
                          "consensus timeouts need 0 < base <= 1 day and 0 <= delta <= 1 day");
    return 0;
}

bft_t *
bft_new(const bft_config_t *cfg)
{
    assert(cfg);
    if (bft_config_check(cfg, NULL) != 0)
        return NULL;
    bft_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->n = cfg->validators;
    self->quorum = 2 * self->n / 3 + 1;
    self->skip = (self->n - 1) / 3 + 1;
    self->step = BFT_STEP_IDLE;
    self->round = 0;
    self->locked_round = self->valid_round = BFT_NO_ROUND;
    self->commit_round = BFT_NO_ROUND;
    self->own_lock_round = BFT_NO_ROUND;
    self->hw_round = BFT_NO_ROUND;
    for (int t = 0; t < 3; t++)
        self->own_round[t] = BFT_NO_ROUND;
    return self;
}

void
bft_destroy(bft_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

int64_t
bft_timeout_ms(const bft_timeouts_t *t, bft_timeout_t kind, int32_t round)
{
    assert(t && round >= 0);
    int64_t r = round;
    switch (kind) {
    case BFT_TIMEOUT_PROPOSE:
        return t->propose_base_ms + r * t->propose_delta_ms;
    case BFT_TIMEOUT_PREVOTE:
        return t->prevote_base_ms + r * t->prevote_delta_ms;
    case BFT_TIMEOUT_PRECOMMIT:
        return t->precommit_base_ms + r * t->precommit_delta_ms;
    }
    assert(!"timeout kind");
    return 0;
}

uint32_t
bft_proposer(const bft_t *bft, uint64_t height, int32_t round)
{
    assert(bft && round >= 0);
    return (uint32_t) ((height % bft->n + (uint64_t) round % bft->n) % bft->n);
}

uint32_t
bft_quorum(const bft_t *bft)
{
    return bft->quorum;
}

uint32_t
bft_skip_threshold(const bft_t *bft)
{
    return bft->skip;
}

/* --- Invariants ---------------------------------------------------------- */

const char *
bft_check_cheap(const bft_t *bft)
{
    if (bft->step == BFT_STEP_IDLE)
        return NULL;
    /* INV-1 */
    for (int t = 0; t < 3; t++)
        if (bft->own_round[t] > bft->round)
            return "INV-1: we signed a message at a round above the current one";
    if (bft->own_round[BFT_PROPOSAL] >= 0
        && !s_is_proposer(bft, bft->own_round[BFT_PROPOSAL]))
        return "INV-1: we proposed in a round we do not propose";
    /* INV-2 */
    if (bft->locked_round < BFT_NO_ROUND || bft->locked_round > bft->valid_round
        || bft->valid_round > bft->round || bft->round > BFT_ROUND_MAX)
        return "INV-2: not -1 <= lockedRound <= validRound <= round";
    if (bft->locked_round >= 0 && bft->locked_round == bft->valid_round
        && !s_same(bft->locked_hash, bft->valid_hash))
        return "INV-2: locked and valid values differ at one round";
    /* INV-3 */
    if (bft->locked_round != bft->own_lock_round
        || (bft->locked_round >= 0 && !s_same(bft->locked_hash, bft->own_lock_hash)))
        return "INV-3: the lock is not our last non-nil precommit";
    /* INV-5 */
    if (bft->round != bft->hw_round || bft->step != bft->hw_step)
        return "INV-5: (round, step) went back";
    /* INV-6 */
    if (bft->step != BFT_STEP_COMMITTED) {
        if ((bft->step >= BFT_STEP_PREVOTE) != (bft->own_round[BFT_PREVOTE] == bft->round))
            return "INV-6: step and our prevote of this round disagree";
        if ((bft->step >= BFT_STEP_PRECOMMIT) != (bft->own_round[BFT_PRECOMMIT] == bft->round))
            return "INV-6: step and our precommit of this round disagree";
    }
    /* INV-9 */
    if (bft->build_pending
        && (bft->step != BFT_STEP_PROPOSE || !s_is_proposer(bft, bft->round)
            || bft->own_round[BFT_PROPOSAL] >= bft->round || bft->valid_round >= 0))
        return "INV-9: a block is being built outside our PROPOSE step";
    /* INV-4 */
    if (bft->step == BFT_STEP_COMMITTED) {
        const s_tally_t *t = s_quorum_value(s_round_find_c(bft, bft->commit_round), S_PRECOMMIT);
        if (!t || t->nil || !s_same(t->hash, bft->commit_hash) || t->count < bft->quorum
            || bft_judged_of(bft, bft->commit_hash) != 1)
            return "INV-4: committed without +2/3 precommits for a valid block";
    }
    return NULL;
}

static const char *
s_check_round(const bft_t *bft, const s_round_t *r)
{
    if (r->round < 0 || r->round > BFT_ROUND_MAX)
        return "INV-8: a kept round out of range";
    for (int vi = 0; vi < 2; vi++) {
        if (r->n_tally[vi] > 2 * bft->n || r->n_extra[vi] > bft->n)
            return "INV-7: more tallies than the bound";
        bool any_quorum = false;
        for (int i = 0; i < r->n_tally[vi]; i++) {
            const s_tally_t *t = &r->tally[vi][i];
            if (t->count != bft_set_count(&t->voters) || t->count == 0)
                return "INV-7: a tally's count is not its number of voters";
            any_quorum |= t->count >= bft->quorum;
            for (int j = 0; j < i; j++)
                if (r->tally[vi][j].nil == t->nil
                    && (t->nil || s_same(r->tally[vi][j].hash, t->hash)))
                    return "INV-7: two tallies for one value";
        }
        if (any_quorum != (r->quorum_at[vi] >= 0)
            || (r->quorum_at[vi] >= 0
                && r->tally[vi][r->quorum_at[vi]].count < bft->quorum))
            return "INV-7: the quorum marker disagrees with the tallies";
        uint32_t with_vote = 0;
        for (uint32_t v = 0; v < bft->n; v++) {
            uint8_t k = r->vote_of[vi][v];
            uint32_t in = 0;
            for (int i = 0; i < r->n_tally[vi]; i++)
                in += bft_set_has(&r->tally[vi][i].voters, v);
            if (!k) {
                if (in)
                    return "INV-7: a validator counted with no first vote";
                continue;
            }
            with_vote++;
            if (k > r->n_tally[vi] || !bft_set_has(&r->tally[vi][k - 1].voters, v))
                return "INV-7: a first vote is not in the tally of its value";
            if (in > 1 && !bft_set_has(&r->equivocated[vi], v))
                return "INV-7: a validator counted for two values without evidence";
        }
        if (with_vote != r->voters[vi])
            return "INV-7: voters is not the number of validators with a vote";
        if (bft_set_has(&r->equivocated[vi], bft->cfg.self))
            return "INV-1: evidence against ourselves in the log";
        /* INV-1: our vote in the log is the one we signed. */
        bft_msg_t type = vi == S_PREVOTE ? BFT_PREVOTE : BFT_PRECOMMIT;
        uint8_t k = r->vote_of[vi][bft->cfg.self];
        if (r->round == bft->own_round[type]) {
            if (r->round == bft->round && !k)
                return "INV-1: our vote of this round is not counted";
            if (k) {
                const s_tally_t *t = &r->tally[vi][k - 1];
                if (t->nil != bft->own_nil[type]
                    || (!t->nil && !s_same(t->hash, bft->own_hash[type])))
                    return "INV-1: the log holds a vote of ours we did not sign";
            }
        } else if (k && r->round > bft->own_round[type]) {
            return "INV-1: the log holds a vote of ours from a round we did not vote in";
        }
    }
    if (r->has_proposal && r->round == bft->own_round[BFT_PROPOSAL]
        && !s_same(r->prop_hash, bft->own_hash[BFT_PROPOSAL]))
        return "INV-1: the log holds a proposal of ours we did not sign";
    return NULL;
}

const char *
bft_check_invariants(const bft_t *bft)
{
    assert(bft);
    const char *why = bft_check_cheap(bft);
    if (why || bft->step == BFT_STEP_IDLE)
        return why;
    for (int i = 0; i < BFT_ROUNDS_KEPT; i++) {
        const s_round_t *r = &bft->rounds[i];
        if (!r->used)
            continue;
        for (int j = i + 1; j < BFT_ROUNDS_KEPT; j++)
            if (bft->rounds[j].used && bft->rounds[j].round == r->round)
                return "INV-8: two logs for one round";
        if ((why = s_check_round(bft, r)) != NULL)
            return why;
    }
    if (!s_round_find_c(bft, bft->round))
        return "INV-8: no log for the current round";
    if (bft->locked_round >= 0 && !s_round_find_c(bft, bft->locked_round))
        return "INV-8: no log for lockedRound";
    if (bft->valid_round >= 0 && !s_round_find_c(bft, bft->valid_round))
        return "INV-8: no log for validRound";
    return NULL;
}

/* --- State ------------------------------------------------------------------ */

uint64_t
bft_height(const bft_t *bft)
{
    return bft->height;
}

int32_t
bft_round(const bft_t *bft)
{
    return bft->round;
}

bft_step_t
bft_step(const bft_t *bft)
{
    return bft->step;
}

int32_t
bft_locked(const bft_t *bft, uint8_t hash[BFT_HASH_SIZE])
{
    if (hash && bft->locked_round >= 0)
        memcpy(hash, bft->locked_hash, BFT_HASH_SIZE);
    return bft->locked_round;
}

int32_t
bft_valid(const bft_t *bft, uint8_t hash[BFT_HASH_SIZE])
{
    if (hash && bft->valid_round >= 0)
        memcpy(hash, bft->valid_hash, BFT_HASH_SIZE);
    return bft->valid_round;
}

const bft_stats_t *
bft_stats(const bft_t *bft)
{
    return &bft->stats;
}

const char *
bft_step_name(bft_step_t step)
{
    switch (step) {
    case BFT_STEP_IDLE:
        return "idle";
    case BFT_STEP_PROPOSE:
        return "propose";
    case BFT_STEP_PREVOTE:
        return "prevote";
    case BFT_STEP_PRECOMMIT:
        return "precommit";
    case BFT_STEP_COMMITTED:
        return "committed";
    }
    return "?";
}

const char *
bft_msg_name(bft_msg_t type)
{
    switch (type) {
    case BFT_PROPOSAL:
        return "proposal";
    case BFT_PREVOTE:
        return "prevote";
    case BFT_PRECOMMIT:
        return "precommit";
    }
    return "?";
}

const char *
bft_timeout_name(bft_timeout_t kind)
{
    switch (kind) {
    case BFT_TIMEOUT_PROPOSE:
        return "propose";
    case BFT_TIMEOUT_PREVOTE:
        return "prevote";
    case BFT_TIMEOUT_PRECOMMIT:
        return "precommit";
    }
    return "?";
}

const char *
bft_action_name(bft_action_kind_t kind)
{
    switch (kind) {
    case BFT_ACT_BUILD_PROPOSAL:
        return "build-proposal";
    case BFT_ACT_BROADCAST_PROPOSAL:
        return "broadcast-proposal";
    case BFT_ACT_BROADCAST_VOTE:
        return "broadcast-vote";
    case BFT_ACT_SCHEDULE_TIMEOUT:
        return "schedule-timeout";
    case BFT_ACT_COMMIT:
        return "commit";
    case BFT_ACT_EVIDENCE:
        return "evidence";
    }
    return "?";
}

static bool
s_own_equal(const bft_own_msg_t *a, const bft_own_msg_t *b)
{
    if (a->nil != b->nil || (!a->nil && !s_same(a->hash, b->hash)))
        return false;
    return a->type != BFT_PROPOSAL || a->valid_round == b->valid_round;
}

/* Checks replay records without touching the machine: in WAL order (round,
 * then type), each possible for this validator, one message per (round,
 * type), a precommit only after a prevote of its round. */
int
bft_replay_check(const bft_t *bft, uint64_t height, const bft_own_msg_t *msgs, size_t n)
{
    int32_t prevote_round = BFT_NO_ROUND;
    for (size_t i = 0; i < n; i++) {
        const bft_own_msg_t *m = &msgs[i];
        if ((m->type != BFT_PROPOSAL && m->type != BFT_PREVOTE && m->type != BFT_PRECOMMIT)
            || m->round < 0 || m->round > BFT_ROUND_MAX)
            return VL_ERR_CORRUPT;
        if (m->type == BFT_PROPOSAL
            && (m->nil || bft_proposer(bft, height, m->round) != bft->cfg.self
                || m->valid_round < BFT_NO_ROUND
                || m->valid_round >= m->round))
            return VL_ERR_CORRUPT;
        if (i > 0) {
            const bft_own_msg_t *p = &msgs[i - 1];
            if (m->round < p->round || (m->round == p->round && m->type < p->type))
                return VL_ERR_CORRUPT;
            if (m->round == p->round && m->type == p->type && !s_own_equal(m, p))
                return VL_ERR_CORRUPT;
        }
        if (m->type == BFT_PREVOTE)
            prevote_round = m->round;
        if (m->type == BFT_PRECOMMIT && prevote_round != m->round)
            return VL_ERR_CORRUPT;
    }
    return 0;
}
