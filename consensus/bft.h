/*
 * bft.h — the Tendermint consensus algorithm (Buchman, Kwon, Milosevic, "The
 * latest gossip on BFT consensus", 2018, Algorithm 1) as a pure state
 * machine for one validator (DESIGN §3 step 4).
 *
 * Pure: no sockets, no clock reads, no signatures, no allocation after
 * bft_new. The driver (node/, later) feeds it inputs — the start of a
 * height, proposals and votes whose signatures it has checked, its verdict
 * on proposed blocks, fired timeouts, the hash of a block it built — each
 * with the driver's monotonic now_ms, and carries out the actions the input
 * returns, in order, in a caller-provided bft_actions_t.
 *
 * Validators and voting: n validators (1..BFT_VALIDATORS_MAX) in genesis
 * order, equal voting power each. n = 3f+1 tolerates f Byzantine ones; in
 * general f = (n-1)/3. A quorum is more than 2/3 of n (floor(2n/3)+1 =
 * n - f, i.e. 2f+1 for n = 3f+1); f+1 messages from a higher round make a
 * validator skip to it (line 55). The proposer of round r at height h is
 * validator (h + r) mod n of the genesis order: it rotates every round and
 * every height, so a crashed proposer costs one round, and every validator
 * can compute it without state. n = 1 (the dev network) runs the same code:
 * its own votes are a quorum, so it proposes, prevotes, precommits and
 * commits in the one input that hands it its block, with no timeout.
 *
 * What the driver must do:
 *   - Deliver only messages whose signature it has checked and whose signer
 *     it mapped to a validator index; for a proposal, also that the signer
 *     is bft_proposer(h, r). Messages for other heights are ignored here
 *     (the driver may buffer the next height's and feed them after
 *     bft_start_height).
 *   - Validate every proposed block it receives (asynchronously is fine) and
 *     report the verdict with bft_on_judged: a proposal cannot be prevoted
 *     for until judged valid; a block with +2/3 prevotes or precommits can
 *     only be locked on or committed once judged valid (paper: valid(v)).
 *     That includes a second block from one proposer (EVIDENCE): the rest
 *     of the network may be deciding on it.
 *   - BUILD_PROPOSAL: build a block for (h, r) and answer with bft_on_value
 *     (any time later; a stale answer is ignored). It may wait for
 *     transactions first: an idle network then makes no empty blocks.
 *   - BROADCAST_PROPOSAL / BROADCAST_VOTE: persist the message (a WAL
 *     record, synced: wal_append in ledger/wal.h) BEFORE signing and
 *     sending it. The actions of one input may be persisted in one synced
 *     write before any of them is sent. If persisting fails the driver must
 *     stop this validator (send nothing, feed nothing): the state machine
 *     has already moved past that message.
 *   - SCHEDULE_TIMEOUT: call bft_on_timeout(kind, h, r) at at_ms. Stale
 *     timeouts are harmless (ignored), so they need not be cancelled.
 *   - COMMIT: build the commit certificate from the signed precommits of
 *     the validators in signers (it keeps each first signed vote), commit
 *     the block, prune the WAL below h+1, then bft_start_height(h + 1).
 *   - EVIDENCE: keep both signed messages, log and count them.
 *   - Re-send its own signed messages of the current height (the same
 *     bytes, all rounds) every second or so, and to a peer seen behind;
 *     and with them the signed prevotes it holds for validValue at
 *     validRound (bft_valid) and for the current round's proposal at the
 *     valid_round it names (the proof of lock, as CometBFT gossips it).
 *     Algorithm 1 assumes every message between correct validators is
 *     eventually delivered, and no rule fires below 2f+1 votes, so a
 *     network that lost votes (drops, a peer restarting, a peer that
 *     evicted an old round) would otherwise wait forever. The proof of
 *     lock matters on its own: the polka behind a lock may include a
 *     Byzantine prevote that reached only some honest validators and that
 *     its signer never re-sends; without it, the validators locked on v
 *     and those who cannot justify v's valid round livelock.
 *   - Catch up by blocks: a node that sits at a height the network has
 *     committed (a block with a valid certificate arrives) commits it and
 *     calls bft_start_height(h + 1). A validator can be left short of
 *     2f+1 precommits for good — a Byzantine one sent it a different
 *     precommit than the others — and only the certificate gets it out.
 *
 * Restart safety. Per height the driver persists, synced and before sending,
 * every proposal and vote it signs (nothing else is needed). After a
 * restart it calls bft_replay_own(h, records of h) INSTEAD of
 * bft_start_height(h), with h = the ledger's height + 1 — not the height of
 * the last COMMIT action, which may be committed already: replaying a
 * committed height with its WAL pruned would sign its round 0 again.
 * That suffices because this machine signs at most one proposal and one
 * vote of each type per (h, r), and only at the current round when
 * (round, step) moves past it; replay puts (round, step) at or
 * past every persisted message (the last round with a record; PRECOMMIT
 * there if a precommit was recorded, else PREVOTE if a prevote was, else
 * PROPOSE with the proposal marked as sent), so none of those (h, r, type)
 * is signed again; and it restores the lock (the precommit of the highest
 * round for a block v means lockedValue = v, lockedRound = that round),
 * which is the only state the paper's safety argument needs across rounds.
 * A message persisted but never sent counts as sent, which is safe. After
 * replay the driver re-sends the replayed signed messages (the same bytes:
 * never an equivocation) so peers that missed them can count them, and
 * judges again the blocks it holds for the height (verdicts are not
 * persisted; the blocks of its own proposals count as valid).
 *
 * Memory bounds: per height, votes and proposals are kept for at most
 * BFT_ROUNDS_KEPT rounds. The current round, lockedRound, validRound and
 * the valid_round named by the current round's proposal are always kept
 * (the last so that re-sent prevotes can complete the polka line 28 needs:
 * without it, validators locked on v re-proposing v at its valid round and
 * validators that forgot that round livelock); among the others the rounds
 * nearest the current one are kept (round+1 before round-1 before round+2
 * ...), and a message for a round that cannot get a place is dropped
 * (counted in stats). A dropped message still counts for the round skip
 * (line 55), which keeps the highest round seen from each validator. At
 * most BFT_JUDGED_MAX verdicts per height are remembered (the oldest is
 * forgotten; the locked and valid values are always known valid). Dropping
 * costs liveness at worst, never safety, and the re-sends and the block
 * catch-up above restore it.
 *
 * Deviations from the paper, each safe: (1) lines 36 and 49 need a block v
 * that the driver judged valid and 2f+1 votes for it, not the PROPOSAL
 * message for v (as CometBFT: safety rests on the votes; the proposal only
 * delivers v); (2) line 55 counts validators whose highest message is at a
 * round >= R, for the highest such R with f+1 of them (it fires whenever
 * the paper's does, and f+1 still includes an honest validator at or past
 * R); (3) after a replay the timeout of the reached step is scheduled at
 * once (a nil vote or a new round is always safe; without it a network that
 * restarted whole would wait forever for votes lost while down); (4) a
 * proposer that re-proposes its valid value schedules the propose timeout
 * too (it prevotes its own proposal only with the polka at validRound in
 * its log, which a restart loses; as CometBFT, which always schedules it).
 *
 * Thread rules: a bft_t belongs to one thread (the node's loop thread); no
 * function here blocks, allocates (after bft_new) or reads a clock.
 */
#ifndef VL_BFT_H
#define VL_BFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define BFT_VALIDATORS_MAX 64
#define BFT_HASH_SIZE 32
/* Rounds of votes and proposals kept per height (see "Memory bounds"). */
#define BFT_ROUNDS_KEPT 8
/* Block verdicts remembered per height. */
#define BFT_JUDGED_MAX 32
/* Rounds above this are refused as invalid input (bounds timeout
 * arithmetic; at the default timeouts it is years of rounds). */
#define BFT_ROUND_MAX 1000000
/* No round: lockedRound / validRound / a proposal's valid_round unset. */
#define BFT_NO_ROUND (-1)
/* Actions one input can return. Bound: one EVIDENCE; at most one round
 * start (a fired precommit timeout or a round skip — a skip needs a new
 * message, a timeout brings none) with its proposal or build and a propose
 * timeout; one prevote, one precommit, two timeouts (lines 34, 47); one
 * COMMIT: 8. Doubled for room. */
#define BFT_ACTIONS_MAX 16

/* Default timeouts, timeout_X(r) = base_X + r * delta_X (ms). Chosen for a
 * LAN: a block's first gossip copy reached 128 nodes on the shared 2-core
 * host within 0.32-0.39 s at p99 (bench_gossip, commit 622b03a) and
 * validating a block takes tens of ms, so 1 s covers building, spreading
 * and judging a
 * proposal with room to spare; votes are ~150-byte messages and the
 * prevote / precommit timeouts only start once 2f+1 votes are in (lines 34
 * and 47), waiting for the rest, so 0.5 s is ample. Each round adds 0.5 s
 * to all three, so a network slower than assumed (after a partition, an
 * overloaded host) is caught up with in a few rounds — the growth that
 * partial synchrony needs for liveness. CometBFT's WAN defaults are 3 s /
 * 1 s / 1 s, each +0.5 s per round. */
#define BFT_PROPOSE_BASE_MS 1000
#define BFT_PROPOSE_DELTA_MS 500
#define BFT_PREVOTE_BASE_MS 500
#define BFT_PREVOTE_DELTA_MS 500
#define BFT_PRECOMMIT_BASE_MS 500
#define BFT_PRECOMMIT_DELTA_MS 500

typedef struct bft_t bft_t;

/* Message types. The values order the messages of one round as Algorithm 1
 * signs them; the WAL (ledger/wal.h) uses them as its record type. */
typedef enum {
    BFT_PROPOSAL = 0,
    BFT_PREVOTE = 1,
    BFT_PRECOMMIT = 2,
} bft_msg_t;

typedef enum {
    BFT_TIMEOUT_PROPOSE = 0,
    BFT_TIMEOUT_PREVOTE = 1,
    BFT_TIMEOUT_PRECOMMIT = 2,
} bft_timeout_t;

/* Where the machine is within a height. IDLE before the first height starts;
 * COMMITTED after COMMIT until the next bft_start_height. */
typedef enum {
    BFT_STEP_IDLE = 0,
    BFT_STEP_PROPOSE = 1,
    BFT_STEP_PREVOTE = 2,
    BFT_STEP_PRECOMMIT = 3,
    BFT_STEP_COMMITTED = 4,
} bft_step_t;

/* A set of validator indices. */
typedef struct {
    uint64_t bits[(BFT_VALIDATORS_MAX + 63) / 64];
} bft_set_t;

static inline bool
bft_set_has(const bft_set_t *set, uint32_t index)
{
    return index < BFT_VALIDATORS_MAX && (set->bits[index / 64] >> (index % 64)) & 1u;
}

/* Number of validators in set. */
uint32_t bft_set_count(const bft_set_t *set);

typedef enum {
    /* Build a block for (height, round); answer with bft_on_value. */
    BFT_ACT_BUILD_PROPOSAL = 1,
    /* Persist, sign and send PROPOSAL(height, round, hash, valid_round). The
     * block is one the driver built, or (valid_round >= 0) the block of that
     * hash it judged valid earlier at this height. */
    BFT_ACT_BROADCAST_PROPOSAL,
    /* Persist (synced), then sign and send vote `type` (PREVOTE or
     * PRECOMMIT) for (height, round, hash), or nil when nil is set. */
    BFT_ACT_BROADCAST_VOTE,
    /* Call bft_on_timeout(timeout, height, round) at at_ms (= now_ms +
     * delay_ms of the input). */
    BFT_ACT_SCHEDULE_TIMEOUT,
    /* Block hash is decided at height, with the precommits of round from
     * the validators in signers (more than 2/3 of n). */
    BFT_ACT_COMMIT,
    /* Validator signed two different messages of one type at (height,
     * round): hash/nil is the first one received, hash_b/nil_b the second.
     * Reported once per (validator, height, round, type). A second vote
     * still counts for its own value (the paper counts messages; see
     * bft_on_vote); a second proposal is ignored. */
    BFT_ACT_EVIDENCE,
} bft_action_kind_t;

/* One action. Fields not named for a kind are zero. */
typedef struct {
    bft_action_kind_t kind;
    uint64_t height;
    int32_t round;
    bft_msg_t type;             /* BROADCAST_VOTE; EVIDENCE (any type) */
    bool nil;                   /* BROADCAST_VOTE, EVIDENCE: a nil vote */
    uint8_t hash[BFT_HASH_SIZE]; /* BROADCAST_*, COMMIT, EVIDENCE (first) */
    int32_t valid_round;        /* BROADCAST_PROPOSAL: BFT_NO_ROUND or < round */
    bft_timeout_t timeout;      /* SCHEDULE_TIMEOUT */
    int64_t delay_ms;           /* SCHEDULE_TIMEOUT: timeout_X(round) */
    int64_t at_ms;              /* SCHEDULE_TIMEOUT: input's now_ms + delay_ms */
    uint32_t validator;         /* EVIDENCE: the offender */
    bool nil_b;                 /* EVIDENCE: the second message is a nil vote */
    uint8_t hash_b[BFT_HASH_SIZE]; /* EVIDENCE: the second message's hash */
    bft_set_t signers;          /* COMMIT */
} bft_action_t;

/* The actions of one input, to carry out in order. Every input function
 * empties it first; on an error return it is empty. */
typedef struct {
    size_t n;
    bft_action_t items[BFT_ACTIONS_MAX];
} bft_actions_t;

typedef struct {
    int64_t propose_base_ms, propose_delta_ms;
    int64_t prevote_base_ms, prevote_delta_ms;
    int64_t precommit_base_ms, precommit_delta_ms;
} bft_timeouts_t;

typedef struct {
    uint32_t validators;        /* n, 1..BFT_VALIDATORS_MAX, genesis order */
    uint32_t self;              /* this validator's index in that order */
    bft_timeouts_t timeouts;
} bft_config_t;

/* Counters since bft_new, for logs, status and tests. */
typedef struct {
    uint64_t other_height;      /* inputs for another height, ignored */
    uint64_t stale;             /* values / timeouts no longer current, ignored */
    uint64_t duplicates;        /* messages already counted, ignored */
    uint64_t dropped;           /* messages with no round place (memory bound) */
    uint64_t evidence;          /* EVIDENCE actions returned */
    uint64_t skips;             /* rounds entered by line 55 */
    uint64_t nil_rounds;        /* rounds left on +2/3 nil precommits, no timeout */
    uint64_t rounds;            /* rounds started (all heights) */
    uint64_t commits;           /* COMMIT actions returned */
} bft_stats_t;

/* Fills cfg with validators, self and the default timeouts. */
void bft_config_init(bft_config_t *cfg, uint32_t validators, uint32_t self);

/* 0 when cfg is usable: 1 <= validators <= BFT_VALIDATORS_MAX, self <
 * validators, 0 < each base <= 1 day, 0 <= each delta <= 1 day. Else
 * VL_ERR_INVALID with a message. */
int bft_config_check(const bft_config_t *cfg, vl_err_t *err);

/* A machine for cfg (copied), before its first height (step IDLE). NULL
 * when cfg fails bft_config_check or memory runs out. The one allocation
 * of the module (about 100 KiB). */
bft_t *bft_new(const bft_config_t *cfg);
void bft_destroy(bft_t **self_p);

/* timeout_kind(round) = base + round * delta for t. Pure. */
int64_t bft_timeout_ms(const bft_timeouts_t *t, bft_timeout_t kind, int32_t round);

/* Proposer of (height, round): (height + round) mod n. */
uint32_t bft_proposer(const bft_t *bft, uint64_t height, int32_t round);

/* Quorum (more than 2/3 of n) and the round-skip threshold (f+1). */
uint32_t bft_quorum(const bft_t *bft);
uint32_t bft_skip_threshold(const bft_t *bft);

/* --- Inputs ----------------------------------------------------------------
 * Each returns 0 (an input for another height, or no longer current, is
 * ignored with 0 and no actions) or an error with no state change and no
 * actions. out is emptied first in every case. */

/* Starts height (the paper's StartRound(0) with a fresh lock, valid value
 * and message log). Precondition for a validator that signed at this height
 * before a restart: use bft_replay_own instead. VL_ERR_STATE unless height
 * is above the current one (once started, a machine never goes back: it
 * would forget what it signed). */
int bft_start_height(bft_t *bft, uint64_t height, int64_t now_ms, bft_actions_t *out);

/* One own message read back from the WAL. */
typedef struct {
    bft_msg_t type;
    int32_t round;
    bool nil;                   /* votes: a nil vote */
    uint8_t hash[BFT_HASH_SIZE];
    int32_t valid_round;        /* proposals */
} bft_own_msg_t;

/* After a restart: starts height on a fresh machine and restores what it
 * signed there, then continues from the step it reached (see "Restart
 * safety"), returning the actions for that: the timeout of the step, and
 * BUILD_PROPOSAL or a re-proposal of the valid value when it proposes that
 * round and had not yet. msgs come in the WAL's order (by round, then type,
 * as wal_load returns them; identical repeats are fine); n_msgs may be 0.
 * Errors: VL_ERR_STATE when this machine already started a height;
 * VL_ERR_CORRUPT when the records cannot come from this validator (a
 * proposal in a round it does not propose, a round out of range, a nil
 * proposal, two different messages of one (round, type), a precommit
 * without a prevote in its round, records out of order), with nothing
 * applied. */
int bft_replay_own(bft_t *bft, uint64_t height, const bft_own_msg_t *msgs, size_t n_msgs,
                   int64_t now_ms, bft_actions_t *out);

/* The driver's answer to BUILD_PROPOSAL(height, round): the hash of the
 * block it built (counted as judged valid). Ignored (stats.stale) unless
 * the machine is still in step PROPOSE of that round waiting for it. */
int bft_on_value(bft_t *bft, uint64_t height, int32_t round, const uint8_t hash[BFT_HASH_SIZE],
                 int64_t now_ms, bft_actions_t *out);

/* PROPOSAL(height, round, hash, valid_round) signed by validator from.
 * VL_ERR_INVALID when from >= n or is not bft_proposer(height, round),
 * round is outside 0..BFT_ROUND_MAX, or valid_round is not in
 * BFT_NO_ROUND..round-1; also when from is this validator and the message
 * is not the one it signed (another node signs with its key, or its WAL was
 * lost). A second proposal of one (height, round) with another hash is
 * EVIDENCE and otherwise ignored. */
int bft_on_proposal(bft_t *bft, uint64_t height, int32_t round,
                    const uint8_t hash[BFT_HASH_SIZE], int32_t valid_round, uint32_t from,
                    int64_t now_ms, bft_actions_t *out);

/* The driver's verdict on the block hash at height (paper: valid(v)). A
 * later verdict on the same hash replaces the earlier one. */
int bft_on_judged(bft_t *bft, uint64_t height, const uint8_t hash[BFT_HASH_SIZE], bool valid,
                  int64_t now_ms, bft_actions_t *out);

/* Vote type (BFT_PREVOTE or BFT_PRECOMMIT) for (height, round) signed by
 * validator from; hash NULL = nil. VL_ERR_INVALID when type is not a vote,
 * from >= n, round is outside 0..BFT_ROUND_MAX, or from is this validator
 * and the vote is not the one it signed. A second, different vote of one
 * (type, height, round) from one validator is EVIDENCE (once), and counts
 * for its value too, as the paper counts messages: otherwise a validator
 * that heard a Byzantine's "other" vote first can miss, for good, the
 * polka everyone else saw. Safe: two values with 2f+1 votes each at one
 * (round, type) would need 2f+2 honest ones. Its count for the "2f+1 of
 * any kind" rules (34, 47) stays one. */
int bft_on_vote(bft_t *bft, bft_msg_t type, uint64_t height, int32_t round,
                const uint8_t *hash, uint32_t from, int64_t now_ms, bft_actions_t *out);

/* A timeout the machine scheduled has fired (lines 57, 61, 65). */
int bft_on_timeout(bft_t *bft, bft_timeout_t kind, uint64_t height, int32_t round,
                   int64_t now_ms, bft_actions_t *out);

/* --- State (borrowed views; valid until the next input) -------------------- */

uint64_t bft_height(const bft_t *bft);
int32_t bft_round(const bft_t *bft);
bft_step_t bft_step(const bft_t *bft);
/* lockedRound (BFT_NO_ROUND when not locked); hash (may be NULL) receives
 * lockedValue when locked. */
int32_t bft_locked(const bft_t *bft, uint8_t hash[BFT_HASH_SIZE]);
/* validRound and validValue, likewise. */
int32_t bft_valid(const bft_t *bft, uint8_t hash[BFT_HASH_SIZE]);
const bft_stats_t *bft_stats(const bft_t *bft);

/* Checks every invariant of bft.c (the numbered list at its top). NULL when
 * all hold, else a static description of the first one broken ("INV-3:
 * ..."). O(BFT_ROUNDS_KEPT * n); the tests call it after every input, and
 * every input asserts the O(1) subset before returning. */
const char *bft_check_invariants(const bft_t *bft);

/* Names for logs: "propose", "prevote", ...; never NULL. */
const char *bft_step_name(bft_step_t step);
const char *bft_msg_name(bft_msg_t type);
const char *bft_timeout_name(bft_timeout_t kind);
const char *bft_action_name(bft_action_kind_t kind);
#endif
