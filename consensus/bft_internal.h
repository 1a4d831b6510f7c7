/*
 * bft_internal.h — the Tendermint state machine's private state, shared by
 * bft.c (the inputs and the upon-rules) and bft_state.c (the numbered
 * invariants and the read-only view). Not for other files.
 */
#ifndef VL_BFT_INTERNAL_H
#define VL_BFT_INTERNAL_H

#include <string.h>

#include "bft.h"

/* Index of a vote type in the per-round arrays. */
#define S_PREVOTE 0
#define S_PRECOMMIT 1

/* One distinct value voted for at (round, type), and who voted for it. */
typedef struct {
    uint8_t hash[BFT_HASH_SIZE];
    bool nil;
    uint16_t count;                 /* = members of voters */
    bft_set_t voters;
} s_tally_t;

/* The log of one round. */
typedef struct {
    bool used;
    int32_t round;
    bool has_proposal;              /* the first proposal from the proposer */
    uint8_t prop_hash[BFT_HASH_SIZE];
    int32_t prop_vr;
    /* vote_of[t][i] = 1 + index into tally[t] of validator i's first vote,
     * 0 = none yet. A later vote for another value is evidence, and counts
     * for that value too (see s_tally_add). */
    uint8_t vote_of[2][BFT_VALIDATORS_MAX];
    s_tally_t tally[2][2 * BFT_VALIDATORS_MAX];
    uint16_t n_tally[2];
    uint16_t n_extra[2];            /* tallies opened by second votes, <= n */
    uint16_t voters[2];             /* validators with a vote of that type */
    int16_t quorum_at[2];           /* first tally to reach a quorum, -1 none */
    bft_set_t equivocated[2];       /* validators reported as EVIDENCE here */
} s_round_t;

/* A verdict of the driver on a block of this height. */
typedef struct {
    bool used;
    bool valid;
    uint8_t hash[BFT_HASH_SIZE];
} s_judged_t;

struct bft_t {
    bft_config_t cfg;
    uint32_t n, quorum, skip;       /* n, floor(2n/3)+1, (n-1)/3+1 */

    /* The paper's state for this height. */
    uint64_t height;
    bft_step_t step;
    int32_t round;
    int32_t locked_round;           /* BFT_NO_ROUND when not locked */
    uint8_t locked_hash[BFT_HASH_SIZE];
    int32_t valid_round;            /* BFT_NO_ROUND when no valid value */
    uint8_t valid_hash[BFT_HASH_SIZE];

    /* "For the first time" of the current round's rules. */
    bool prevote_timeout_set;       /* line 34 fired */
    bool polka_seen;                /* line 36 fired */
    bool precommit_timeout_set;     /* line 47 fired */
    bool build_pending;             /* BUILD_PROPOSAL out, no bft_on_value yet */

    /* What we signed at this height (INV-1, INV-3). Index = bft_msg_t. */
    int32_t own_round[3];           /* round of the last one, -1 none */
    bool own_nil[3];
    uint8_t own_hash[3][BFT_HASH_SIZE];
    int32_t own_lock_round;         /* our last non-nil precommit, -1 none */
    uint8_t own_lock_hash[BFT_HASH_SIZE];

    int32_t commit_round;           /* when COMMITTED */
    uint8_t commit_hash[BFT_HASH_SIZE];

    /* The highest (round, step) reached at this height (INV-5). */
    int32_t hw_round;
    bft_step_t hw_step;

    /* Line 55: the highest round of any message from each validator. */
    int32_t seen_round[BFT_VALIDATORS_MAX];
    bool skip_dirty;                /* seen_round grew since s_rule_skip looked */

    s_round_t rounds[BFT_ROUNDS_KEPT];
    s_judged_t judged[BFT_JUDGED_MAX];
    uint32_t judged_next;           /* ring position of the next new verdict */

    bft_stats_t stats;

    /* Borrowed for the duration of one input. */
    bft_actions_t *out;
    int64_t now_ms;
};


static inline bool
s_same(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, BFT_HASH_SIZE) == 0;
}

static inline bool
s_is_proposer(const bft_t *bft, int32_t round)
{
    return bft_proposer(bft, bft->height, round) == bft->cfg.self;
}

static inline const s_round_t *
s_round_find_c(const bft_t *bft, int32_t round)
{
    for (int i = 0; i < BFT_ROUNDS_KEPT; i++)
        if (bft->rounds[i].used && bft->rounds[i].round == round)
            return &bft->rounds[i];
    return NULL;
}

/* The value with a quorum of votes of type vi at round r, or NULL. */
static inline const s_tally_t *
s_quorum_value(const s_round_t *r, int vi)
{
    return r && r->quorum_at[vi] >= 0 ? &r->tally[vi][r->quorum_at[vi]] : NULL;
}

/* The invariants cheap enough to check after every input: NULL, or the
 * first broken one (bft_state.c). */
const char *bft_check_cheap(const bft_t *bft);

/* Checks replay records without touching the machine (bft_state.c):
 * 0 or VL_ERR_CORRUPT. */
int bft_replay_check(const bft_t *bft, uint64_t height, const bft_own_msg_t *msgs, size_t n);

/* 1 valid, 0 invalid, -1 not judged (bft.c). */
int bft_judged_of(const bft_t *bft, const uint8_t *hash);

#endif
