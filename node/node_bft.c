/*
 * node_bft.c — the driver of Tendermint ordering (consensus/bft.h) among
 * the genesis validators: the wiring between the pure state machine, the
 * node's loop, its signing key, the consensus WAL, gossip and the commit
 * pipeline. Every validator runs it; one validator (the dev network) is the
 * same code with n = 1. A follower has none: it applies blocks by their
 * commit certificates (commit.h).
 *
 * What it does for the machine (bft.h, "What the driver must do"):
 *   - starts a height when there is work: the cut rule (orderer_cut_wait)
 *     says a block is due, or a validator's message for that height
 *     arrives; an idle network makes no blocks and runs no rounds;
 *   - BUILD_PROPOSAL: builds a block of the oldest pending transactions
 *     (orderer_build_proposal) and answers bft_on_value;
 *   - BROADCAST_PROPOSAL / BROADCAST_VOTE: signs every message one input
 *     produces, writes them to the WAL in one synced batch, and only then
 *     publishes them (ENV_PROPOSAL, ENV_VOTE); a failed WAL write halts this
 *     validator (it sends nothing more);
 *   - judges proposed blocks: signatures on the worker pool, then header and
 *     transactions against the replica (validate_header, validate_txs), and
 *     reports bft_on_judged;
 *   - SCHEDULE_TIMEOUT: one-shot loop timers (stale ones are harmless);
 *   - COMMIT: seals the block with the precommits of the signers
 *     (orderer_seal) and commits it through the pipeline, which publishes
 *     it to every node; EVIDENCE: logs and keeps both signed messages;
 *   - every NB_RESEND_MS re-publishes its own signed messages of the height
 *     and the prevotes behind its valid value (the proof of lock);
 *   - catches up by blocks: whatever commits height h (its own COMMIT, a
 *     peer's block by gossip or pull) moves it to h + 1 (a commit
 *     subscriber), pruning the WAL below it;
 *   - after a restart, replays its own WAL records of ledger height + 1
 *     (bft_replay_own) and re-sends them.
 *
 * Messages for the next height are buffered (bounded) and fed once it
 * starts; others are dropped. Everything is bounded per height: signed votes
 * (NB_VOTES_MAX), blocks (NB_BLOCKS_MAX), timers (NB_TIMERS_MAX).
 *
 * Test-only Byzantine modes (vledgerd --test-byzantine MODE, never from
 * node.json): equivocate (a second, different vote beside every non-nil
 * vote, and a second empty block beside every proposal), unknown (votes for
 * a block nobody proposed), garbage (random bytes as proposals and votes
 * each resend tick).
 *
 * Loop thread only.
 */
#include "node_internal.h"

#include <stdlib.h>
#include <string.h>

#include "bft.h"
#include "bft_msg.h"
#include "blockview.h"
#include "clock.h"
#include "codec.h"
#include "log.h"
#include "store.h"
#include "wal.h"

#define NB_VOTES_MAX (BFT_VALIDATORS_MAX * BFT_ROUNDS_KEPT * 2 * 2)
#define NB_BLOCKS_MAX BFT_JUDGED_MAX
#define NB_FUTURE_MAX 512
#define NB_TIMERS_MAX 64
#define NB_RESEND_MS 1000
#define NB_EVIDENCE_KEPT 8
#define NB_WAL_PRUNE_EVERY 64   /* heights between prunes of the vote WAL */

typedef struct {
    bft_vote_t v;
    uint8_t *bytes;               /* owned: Vote bytes */
    size_t len;
} nb_vote_t;

typedef struct {
    uint8_t hash[BFT_HASH_SIZE];
    uint8_t *block;               /* owned: Block bytes without certificate */
    size_t len;
    uint8_t *proposal;            /* owned: the signed BlockProposal we saw, or NULL */
    size_t proposal_len;
    bool own;                     /* we proposed it */
    validated_block_t *judged;    /* owned: judged valid against the tip, or NULL */
    uint8_t *judged_bytes;        /* owned: what judged->commit.block points at */
} nb_block_t;

typedef struct {
    int type;                     /* VL__ENVELOPE_TYPE__ENV_PROPOSAL / _VOTE */
    uint8_t *bytes;               /* owned */
    size_t len;
} nb_msg_t;

typedef struct {
    node_bft_t *nb;
    bool used;
    bft_timeout_t kind;
    uint64_t height;
    int32_t round;
} nb_timer_t;

typedef struct {
    uint32_t validator;
    uint64_t height;
    int32_t round;
    bft_msg_t type;
    int64_t at_ms;
} nb_evidence_t;

struct node_bft {
    node_t *node;                 /* borrowed */
    bft_t *bft;                   /* owned; NULL for a follower */
    wal_t *wal;                   /* owned */
    bft_validators_t vals;
    int self;                     /* our validator index, -1 for a follower */
    uint64_t height;              /* the height being decided: ledger height + 1 */
    bool started;
    bool halted;                  /* a WAL write failed: this validator sends no more */
    nb_vote_t votes[NB_VOTES_MAX];
    size_t n_votes;
    nb_block_t blocks[NB_BLOCKS_MAX];
    size_t n_blocks;
    nb_msg_t future[NB_FUTURE_MAX];
    size_t n_future;
    nb_timer_t timers[NB_TIMERS_MAX];
    int resend_timer;
    int byzantine;                /* NODE_BYZ_* */
    uint64_t rng;
    /* status */
    uint64_t timeouts_fired, messages_bad, rounds_at_height, last_rounds;
    uint64_t commits_judged;      /* commits that reused the judgement of the proposal */
    nb_evidence_t evidence[NB_EVIDENCE_KEPT];
    size_t n_evidence;
    uint64_t evidence_total;
};

static void s_do(node_bft_t *nb, bft_actions_t *acts);
static void s_feed_vote(node_bft_t *nb, const uint8_t *bytes, size_t len);
static void s_feed_proposal(node_bft_t *nb, const uint8_t *bytes, size_t len);

static int64_t
s_now(const node_bft_t *nb)
{
    return node_now_ms(nb->node);
}

/* --- Per-height state --------------------------------------------------------- */

static void
s_clear_height(node_bft_t *nb)
{
    for (size_t i = 0; i < nb->n_votes; i++)
        free(nb->votes[i].bytes);
    nb->n_votes = 0;
    for (size_t i = 0; i < nb->n_blocks; i++) {
        free(nb->blocks[i].block);
        free(nb->blocks[i].proposal);
        validated_block_destroy(&nb->blocks[i].judged);
        free(nb->blocks[i].judged_bytes);
    }
    nb->n_blocks = 0;
    nb->rounds_at_height = 0;
}

static nb_block_t *
s_block(node_bft_t *nb, const uint8_t hash[BFT_HASH_SIZE])
{
    for (size_t i = 0; i < nb->n_blocks; i++)
        if (memcmp(nb->blocks[i].hash, hash, BFT_HASH_SIZE) == 0)
            return &nb->blocks[i];
    return NULL;
}

/* Keeps a block of this height (copies); NULL when full or out of memory. */
static nb_block_t *
s_keep_block(node_bft_t *nb, const uint8_t hash[BFT_HASH_SIZE], const uint8_t *block,
             size_t len, bool own)
{
    nb_block_t *b = s_block(nb, hash);
    if (b)
        return b;
    if (nb->n_blocks == NB_BLOCKS_MAX)
        return NULL;
    b = &nb->blocks[nb->n_blocks];
    *b = (nb_block_t) { .own = own };
    memcpy(b->hash, hash, BFT_HASH_SIZE);
    b->block = malloc(len ? len : 1);
    if (!b->block)
        return NULL;
    memcpy(b->block, block, len);
    b->len = len;
    nb->n_blocks++;
    return b;
}

/* Keeps a signed vote of this height (one per validator, round, type and
 * value: an equivocator's two are both kept, as evidence). */
static void
s_keep_vote(node_bft_t *nb, const bft_vote_t *v, const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < nb->n_votes; i++) {
        const bft_vote_t *o = &nb->votes[i].v;
        if (o->validator == v->validator && o->round == v->round && o->type == v->type
            && o->nil == v->nil && (v->nil || memcmp(o->hash, v->hash, BFT_HASH_SIZE) == 0))
            return;
    }
    if (nb->n_votes == NB_VOTES_MAX)
        return;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, bytes, len);
    nb->votes[nb->n_votes++] = (nb_vote_t) { *v, copy, len };
}

/* --- Messages out ---------------------------------------------------------------- */

/* A sole validator's proposals and votes concern nobody else: every node
 * receives its blocks with their certificates, so flooding the messages
 * too would only carry each block across the mesh twice. */
static void
s_publish(node_bft_t *nb, int type, const uint8_t *bytes, size_t len)
{
    if (nb->node->gossip && !nb->halted && nb->vals.n > 1)
        gossip_publish(nb->node->gossip, type, bytes, len);
}

static void
s_halt(node_bft_t *nb, const vl_err_t *err)
{
    char q[300];
    vl_error("bft", "halted", "height=%llu reason=%s", (unsigned long long) nb->height,
             vl_log_quote(err->msg, q, sizeof q));
    nb->halted = true;
}

/* A signed message waiting for its WAL write, then its send. */
typedef struct {
    int type;                     /* ENV_PROPOSAL / ENV_VOTE */
    uint8_t *bytes;
    size_t len;
    int32_t round;
    bft_msg_t msg;
} s_out_t;

/* Signs the action's message into o. */
static int
s_sign(node_bft_t *nb, const bft_action_t *a, s_out_t *o)
{
    node_t *node = nb->node;
    const char *chain = node->genesis.chain_id;
    if (a->kind == BFT_ACT_BROADCAST_VOTE) {
        uint8_t fake[BFT_HASH_SIZE];
        const uint8_t *hash = a->nil ? NULL : a->hash;
        if (nb->byzantine == NODE_BYZ_UNKNOWN && hash) {
            vl_random_bytes(fake, sizeof fake);
            hash = fake;
        }
        *o = (s_out_t) { VL__ENVELOPE_TYPE__ENV_VOTE, NULL, 0, a->round, a->type };
        return bft_msg_vote_sign(node->key, chain, a->type, a->height, a->round, hash,
                                 vl_wall_ms(), &o->bytes, &o->len);
    }
    nb_block_t *b = s_block(nb, a->hash);
    if (!b)
        return VL_ERR_NOT_FOUND;
    *o = (s_out_t) { VL__ENVELOPE_TYPE__ENV_PROPOSAL, NULL, 0, a->round, BFT_PROPOSAL };
    return bft_msg_proposal_sign(node->key, chain, a->height, a->round, a->valid_round, b->hash,
                                 b->block, b->len, &o->bytes, &o->len);
}

/* Test-only: a second, different message beside o. */
static void
s_equivocate(node_bft_t *nb, const bft_action_t *a)
{
    node_t *node = nb->node;
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (a->kind == BFT_ACT_BROADCAST_VOTE && !a->nil) {
        uint8_t other[BFT_HASH_SIZE];
        vl_random_bytes(other, sizeof other);
        if (bft_msg_vote_sign(node->key, node->genesis.chain_id, a->type, a->height, a->round,
                              other, vl_wall_ms(), &bytes, &len) == 0)
            s_publish(nb, VL__ENVELOPE_TYPE__ENV_VOTE, bytes, len);
    } else if (a->kind == BFT_ACT_BROADCAST_PROPOSAL) {
        orderer_tip_t tip = { node->genesis.chain_id, ledger_height(node->ledger),
                              ledger_last_hash(node->ledger), ledger_state_hash(node->ledger) };
        mempool_t *empty = mempool_new(1, 1);
        uint8_t *block = NULL, hash[BFT_HASH_SIZE];
        size_t block_len = 0;
        int64_t when = orderer_block_time(vl_wall_ms(), commit_tip_time_ms(node->commit)) + 1;
        if (empty && orderer_build_proposal(&node->config.orderer, empty, &tip,
                                            vl_key_public(node->key), when, &block, &block_len,
                                            hash) == 0
            && bft_msg_proposal_sign(node->key, node->genesis.chain_id, a->height, a->round,
                                     a->valid_round, hash, block, block_len, &bytes, &len) == 0)
            s_publish(nb, VL__ENVELOPE_TYPE__ENV_PROPOSAL, bytes, len);
        free(block);
        mempool_destroy(&empty);
    }
    free(bytes);
}

/* --- Timers ---------------------------------------------------------------------- */

static int
s_on_timeout(evloop_t *loop, int timer_id, void *arg)
{
    nb_timer_t *t = arg;
    node_bft_t *nb = t->nb;
    t->used = false;
    if (!nb->bft || nb->halted)
        return 0;
    /* Ignored ones (a later step, round or height) are counted in stale or
     * other_height; the rest were current: the round waited them out. */
    uint64_t ignored = bft_stats(nb->bft)->stale + bft_stats(nb->bft)->other_height;
    bft_actions_t acts;
    if (bft_on_timeout(nb->bft, t->kind, t->height, t->round, s_now(nb), &acts) == 0)
        s_do(nb, &acts);
    if (bft_stats(nb->bft)->stale + bft_stats(nb->bft)->other_height == ignored)
        nb->timeouts_fired++;
    return node_failed(nb->node) ? -1 : 0;
}

static void
s_schedule(node_bft_t *nb, const bft_action_t *a)
{
    if (!nb->node->loop)
        return;
    for (size_t i = 0; i < NB_TIMERS_MAX; i++) {
        nb_timer_t *t = &nb->timers[i];
        if (t->used)
            continue;
        *t = (nb_timer_t) { nb, true, a->timeout, a->height, a->round };
        if (evloop_timer(nb->node->loop, a->delay_ms > 0 ? a->delay_ms : 1, 1, s_on_timeout, t)
            < 0)
            t->used = false;
        return;
    }
    vl_warn("bft", "timeout.dropped", "height=%llu round=%d reason=\"all timer slots in use\"",
            (unsigned long long) a->height, a->round);
}

/* --- Actions ------------------------------------------------------------------------- */

static void
s_build(node_bft_t *nb, const bft_action_t *a)
{
    node_t *node = nb->node;
    orderer_tip_t tip = { node->genesis.chain_id, ledger_height(node->ledger),
                          ledger_last_hash(node->ledger), ledger_state_hash(node->ledger) };
    if (tip.height + 1 != a->height)
        return;   /* stale */
    int64_t when = orderer_block_time(vl_wall_ms(), commit_tip_time_ms(node->commit));
    uint8_t *block = NULL, hash[BFT_HASH_SIZE];
    size_t len = 0;
    if (orderer_build_proposal(&node->config.orderer, node->mempool, &tip,
                               vl_key_public(node->key), when, &block, &len, hash) != 0) {
        vl_error("bft", "build_failed", "height=%llu", (unsigned long long) a->height);
        return;
    }
    nb_block_t *b = s_keep_block(nb, hash, block, len, true);
    free(block);
    if (!b)
        return;
    bft_actions_t acts;
    if (bft_on_value(nb->bft, a->height, a->round, hash, s_now(nb), &acts) == 0)
        s_do(nb, &acts);
}

static void
s_commit(node_bft_t *nb, const bft_action_t *a)
{
    node_t *node = nb->node;
    if (ledger_height(node->ledger) + 1 != a->height)
        return;   /* committed already (a peer's block arrived first) */
    nb_block_t *b = s_block(nb, a->hash);
    if (!b) {
        vl_warn("bft", "commit.no_block", "height=%llu: the block is pulled from peers",
                (unsigned long long) a->height);
        gossip_sync_kick(node->gossip);
        return;
    }
    uint8_t *votes[BFT_VALIDATORS_MAX];
    size_t lens[BFT_VALIDATORS_MAX], n = 0;
    bool taken[BFT_VALIDATORS_MAX] = { false };
    for (size_t i = 0; i < nb->n_votes && n < BFT_VALIDATORS_MAX; i++) {
        const nb_vote_t *v = &nb->votes[i];
        if (v->v.type != BFT_PRECOMMIT || v->v.round != a->round || v->v.nil
            || memcmp(v->v.hash, a->hash, BFT_HASH_SIZE) != 0 || taken[v->v.validator]
            || !bft_set_has(&a->signers, v->v.validator))
            continue;
        taken[v->v.validator] = true;
        votes[n] = v->bytes;
        lens[n++] = v->len;
    }
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    vl_err_t err = { "" };
    if (orderer_seal(b->block, b->len, votes, lens, n, (uint32_t) a->round, &sealed,
                     &sealed_len) != 0) {
        vl_error("bft", "seal_failed", "height=%llu", (unsigned long long) a->height);
        return;
    }
    nb->last_rounds = (uint64_t) a->round + 1;
    /* Judged against this tip already: only the certificate is new. */
    int rc = VL_ERR_STATE;
    if (b->judged) {
        /* Taken from b first: the commit's subscribers start the next
         * height, which clears this height's blocks. */
        validated_block_t *judged = b->judged;
        uint8_t *judged_bytes = b->judged_bytes;
        b->judged = NULL;
        b->judged_bytes = NULL;
        rc = commit_block_judged(node->commit, &judged, sealed, sealed_len, COMMIT_LOCAL, &err);
        free(judged_bytes);
        nb->commits_judged += rc != VL_ERR_STATE;
    }
    if (rc == VL_ERR_STATE)
        commit_block(node->commit, sealed, sealed_len, COMMIT_LOCAL, &err);
    free(sealed);
}

static void
s_evidence(node_bft_t *nb, const bft_action_t *a)
{
    char did[VL_DID_BUF];
    vl_did_from_public(nb->vals.keys[a->validator], did);
    char h1[17], h2[17];
    vl_hex_encode(a->hash, 8, h1);
    vl_hex_encode(a->hash_b, 8, h2);
    vl_warn("bft", "evidence", "validator=%s height=%llu round=%d type=%s first=%s second=%s",
            did, (unsigned long long) a->height, a->round, bft_msg_name(a->type),
            a->nil ? "nil" : h1, a->nil_b ? "nil" : h2);
    nb->evidence_total++;
    nb->evidence[nb->n_evidence++ % NB_EVIDENCE_KEPT] =
        (nb_evidence_t) { a->validator, a->height, a->round, a->type, vl_wall_ms() };
}

/* Carries out one input's actions: every message signed and persisted in
 * one synced WAL write first, then each action in order. */
static void
s_do(node_bft_t *nb, bft_actions_t *acts)
{
    if (nb->halted)
        return;
    s_out_t outs[BFT_ACTIONS_MAX];
    wal_entry_t entries[BFT_ACTIONS_MAX];
    size_t n_out = 0;
    vl_err_t err = { "" };
    int rc = 0;
    for (size_t i = 0; i < acts->n && rc == 0; i++) {
        const bft_action_t *a = &acts->items[i];
        if (a->kind != BFT_ACT_BROADCAST_VOTE && a->kind != BFT_ACT_BROADCAST_PROPOSAL)
            continue;
        rc = s_sign(nb, a, &outs[n_out]);
        if (rc == 0) {
            entries[n_out] = (wal_entry_t) { a->height, (uint32_t) a->round,
                                             (uint8_t) outs[n_out].msg, outs[n_out].bytes,
                                             outs[n_out].len };
            n_out++;
        } else {
            vl_err_set(&err, rc, "cannot sign a %s for height %llu",
                       a->kind == BFT_ACT_BROADCAST_VOTE ? "vote" : "proposal",
                       (unsigned long long) a->height);
        }
    }
    if (rc == 0 && n_out > 0)
        rc = wal_append_many(nb->wal, entries, n_out, &err);
    if (rc != 0) {
        s_halt(nb, &err);
        for (size_t i = 0; i < n_out; i++)
            free(outs[i].bytes);
        return;
    }
    size_t next = 0;
    for (size_t i = 0; i < acts->n; i++) {
        const bft_action_t *a = &acts->items[i];
        switch (a->kind) {
        case BFT_ACT_BROADCAST_VOTE:
        case BFT_ACT_BROADCAST_PROPOSAL: {
            s_out_t *o = &outs[next++];
            if (o->type == VL__ENVELOPE_TYPE__ENV_VOTE) {
                bft_vote_t v = { a->type, a->height, a->round, a->nil, { 0 }, (uint32_t) nb->self };
                memcpy(v.hash, a->hash, BFT_HASH_SIZE);
                if (nb->byzantine != NODE_BYZ_UNKNOWN)
                    s_keep_vote(nb, &v, o->bytes, o->len);
            } else {
                nb_block_t *b = s_block(nb, a->hash);
                if (b && !b->proposal) {
                    b->proposal = o->bytes;
                    b->proposal_len = o->len;
                    o->bytes = NULL;
                    s_publish(nb, o->type, b->proposal, b->proposal_len);
                }
            }
            if (o->bytes)
                s_publish(nb, o->type, o->bytes, o->len);
            free(o->bytes);
            if (nb->byzantine == NODE_BYZ_EQUIVOCATE)
                s_equivocate(nb, a);
            break;
        }
        case BFT_ACT_BUILD_PROPOSAL:
            s_build(nb, a);
            break;
        case BFT_ACT_SCHEDULE_TIMEOUT:
            s_schedule(nb, a);
            break;
        case BFT_ACT_COMMIT:
            s_commit(nb, a);
            break;
        case BFT_ACT_EVIDENCE:
            s_evidence(nb, a);
            break;
        }
        if (nb->halted || node_failed(nb->node))
            return;
    }
}

/* --- Heights ------------------------------------------------------------------------ */

static void
s_start(node_bft_t *nb)
{
    if (!nb->bft || nb->started || nb->halted)
        return;
    nb->started = true;
    bft_actions_t acts;
    if (bft_start_height(nb->bft, nb->height, s_now(nb), &acts) == 0)
        s_do(nb, &acts);
    /* Messages that came for this height before it started. */
    size_t n = nb->n_future;
    nb_msg_t held[NB_FUTURE_MAX];
    memcpy(held, nb->future, n * sizeof *held);
    nb->n_future = 0;
    for (size_t i = 0; i < n; i++) {
        if (held[i].type == VL__ENVELOPE_TYPE__ENV_VOTE)
            s_feed_vote(nb, held[i].bytes, held[i].len);
        else
            s_feed_proposal(nb, held[i].bytes, held[i].len);
        free(held[i].bytes);
    }
}

void
node_bft_kick(node_bft_t *nb)
{
    if (!nb || !nb->bft || nb->started || nb->halted)
        return;
    node_t *node = nb->node;
    int64_t wait = orderer_cut_wait(&node->config.orderer, mempool_count(node->mempool),
                                    mempool_oldest_ms(node->mempool), node_now_ms(node));
    if (wait == 0)
        s_start(nb);
    else if (wait > 0 && node->cut_timer < 0 && node->loop)
        node->cut_timer = evloop_timer(node->loop, wait, 1, node_on_cut_timer, node);
}

void
node_bft_on_commit(void *arg, const commit_event_t *event)
{
    node_bft_t *nb = arg;
    uint64_t h = event->block->commit.height;
    if (!nb || h < nb->height)
        return;
    vl_err_t err = { "" };
    /* Only the current height's records matter to a restart (wal_load
     * reads one height), so older ones go in one synced batch every
     * NB_WAL_PRUNE_EVERY heights rather than one sync per commit. */
    if (nb->wal && h % NB_WAL_PRUNE_EVERY == 0 && wal_prune(nb->wal, h + 1, NULL, &err) != 0)
        vl_warn("bft", "wal.prune_failed", "height=%llu reason=\"%s\"", (unsigned long long) h,
                err.msg);
    s_clear_height(nb);
    nb->height = h + 1;
    nb->started = false;
    /* Buffered messages of the new height start it (a peer is at work);
     * drop the rest. */
    size_t keep = 0;
    bool any = false;
    for (size_t i = 0; i < nb->n_future; i++) {
        uint64_t mh = 0;
        bool ours = false;
        if (nb->future[i].type == VL__ENVELOPE_TYPE__ENV_VOTE) {
            bft_vote_t v;
            ours = bft_msg_vote_open(nb->future[i].bytes, nb->future[i].len,
                                     nb->node->genesis.chain_id, &nb->vals, nb->node->sigcache,
                                     &v, &err) == 0;
            mh = v.height;
        } else {
            ours = block_view_height(nb->future[i].bytes, nb->future[i].len, &mh);
            ours = true;   /* a proposal's height is checked when fed */
        }
        if (ours && mh >= nb->height) {
            nb->future[keep++] = nb->future[i];
            any = true;
        } else {
            free(nb->future[i].bytes);
        }
    }
    nb->n_future = keep;
    if (any)
        s_start(nb);
    else
        node_bft_kick(nb);
}

/* --- Messages in -------------------------------------------------------------------- */

static bool
s_hold_future(node_bft_t *nb, int type, const uint8_t *bytes, size_t len)
{
    if (nb->n_future == NB_FUTURE_MAX)
        return false;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return false;
    memcpy(copy, bytes, len);
    nb->future[nb->n_future++] = (nb_msg_t) { type, copy, len };
    return true;
}

static void
s_feed_vote(node_bft_t *nb, const uint8_t *bytes, size_t len)
{
    bft_vote_t v;
    vl_err_t err = { "" };
    if (bft_msg_vote_open(bytes, len, nb->node->genesis.chain_id, &nb->vals, nb->node->sigcache,
                          &v, &err) != 0) {
        nb->messages_bad++;
        return;
    }
    if (v.height != nb->height) {
        if (v.height == nb->height + 1)
            s_hold_future(nb, VL__ENVELOPE_TYPE__ENV_VOTE, bytes, len);
        return;
    }
    s_keep_vote(nb, &v, bytes, len);
    if (!nb->started) {
        s_start(nb);   /* feeds what it held, this vote was kept */
    }
    bft_actions_t acts;
    if (bft_on_vote(nb->bft, v.type, v.height, v.round, v.nil ? NULL : v.hash, v.validator,
                    s_now(nb), &acts) == 0)
        s_do(nb, &acts);
}

/* The verdict on a proposed block, after its signatures were checked on the
 * pool: header and transactions against the replica. */
static void
s_judge(node_t *node, uint8_t *bytes, size_t len, void *arg)
{
    node_bft_t *nb = node->bft;
    uint8_t hash[BFT_HASH_SIZE];
    memcpy(hash, arg, BFT_HASH_SIZE);
    free(arg);
    uint64_t h = 0;
    if (!nb || !block_view_height(bytes, len, &h) || h != nb->height
        || ledger_height(node->ledger) + 1 != h) {
        free(bytes);
        return;   /* stale */
    }
    validate_ctx_t ctx = { node->ledger, node->genesis.chain_id, &node->genesis.members,
                           node->sigcache, &node->genesis.orgs, node->policies };
    validate_run_t *run = validate_run_new(node->ledger);
    block_view_t *view = NULL;
    validated_block_t *vb = NULL;
    vl_err_t err = { "" };
    bool valid = run && block_view_new(bytes, len, node->genesis.chain_id, BLOCK_VIEW_PARSE_TXS,
                                       &view, &err) == 0
                 && validate_header(&ctx, run, view, &err) == 0
                 && validate_txs(&ctx, run, &view, bytes, len, &vb, &err) == 0;
    if (!valid) {
        char q[300];
        vl_warn("bft", "proposal.invalid", "height=%llu reason=%s", (unsigned long long) h,
                vl_log_quote(err.msg, q, sizeof q));
    }
    block_view_destroy(&view);
    /* Kept for the commit, if the tip is still this one then. */
    nb_block_t *b = valid ? s_block(nb, hash) : NULL;
    if (b && !b->judged) {
        b->judged = vb;
        b->judged_bytes = bytes;
        vb = NULL;
        bytes = NULL;
    }
    validated_block_destroy(&vb);
    validate_run_destroy(&run);
    free(bytes);
    bft_actions_t acts;
    if (bft_on_judged(nb->bft, h, hash, valid, s_now(nb), &acts) == 0)
        s_do(nb, &acts);
}

static void
s_feed_proposal(node_bft_t *nb, const uint8_t *bytes, size_t len)
{
    node_t *node = nb->node;
    bft_proposal_t p;
    Vl__BlockProposal *pb = NULL;
    vl_err_t err = { "" };
    if (bft_msg_proposal_open(bytes, len, node->genesis.chain_id, &nb->vals, &p, &pb, &err)
        != 0) {
        nb->messages_bad++;
        return;
    }
    if (p.height != nb->height) {
        if (p.height == nb->height + 1)
            s_hold_future(nb, VL__ENVELOPE_TYPE__ENV_PROPOSAL, bytes, len);
        vl__block_proposal__free_unpacked(pb, NULL);
        return;
    }
    if (bft_proposer(nb->bft, p.height, p.round) != p.proposer) {
        nb->messages_bad++;
        vl__block_proposal__free_unpacked(pb, NULL);
        return;
    }
    bool known = s_block(nb, p.hash) != NULL;
    nb_block_t *b = s_keep_block(nb, p.hash, p.block, p.block_len, false);
    if (b && !b->proposal) {
        b->proposal = malloc(len ? len : 1);
        if (b->proposal) {
            memcpy(b->proposal, bytes, len);
            b->proposal_len = len;
        }
    }
    if (!nb->started)
        s_start(nb);
    bft_actions_t acts;
    if (bft_on_proposal(nb->bft, p.height, p.round, p.hash, p.valid_round, p.proposer,
                        s_now(nb), &acts) == 0)
        s_do(nb, &acts);
    if (b && !known && !b->own) {
        uint8_t *copy = malloc(p.block_len ? p.block_len : 1);
        uint8_t *h = malloc(BFT_HASH_SIZE);
        if (copy && h) {
            memcpy(copy, p.block, p.block_len);
            memcpy(h, p.hash, BFT_HASH_SIZE);
            node_preverify_block(node, copy, p.block_len, s_judge, h);
        } else {
            free(copy);
            free(h);
        }
    }
    vl__block_proposal__free_unpacked(pb, NULL);
}

void
node_bft_on_message(node_bft_t *nb, int type, const uint8_t *bytes, size_t len)
{
    if (!nb || !nb->bft || nb->halted)
        return;   /* a follower orders nothing: it applies certified blocks */
    if (type == VL__ENVELOPE_TYPE__ENV_VOTE)
        s_feed_vote(nb, bytes, len);
    else if (type == VL__ENVELOPE_TYPE__ENV_PROPOSAL)
        s_feed_proposal(nb, bytes, len);
}

/* --- Re-sends -------------------------------------------------------------------------- */

static int
s_on_resend(evloop_t *loop, int timer_id, void *arg)
{
    node_bft_t *nb = arg;
    if (!nb->started || nb->halted)
        return 0;
    if (nb->byzantine == NODE_BYZ_GARBAGE) {
        uint8_t junk[96];
        vl_random_bytes(junk, sizeof junk);
        s_publish(nb, VL__ENVELOPE_TYPE__ENV_VOTE, junk, sizeof junk);
        s_publish(nb, VL__ENVELOPE_TYPE__ENV_PROPOSAL, junk, sizeof junk);
    }
    uint8_t valid_hash[BFT_HASH_SIZE];
    int32_t valid_round = bft_valid(nb->bft, valid_hash);
    for (size_t i = 0; i < nb->n_votes; i++) {
        const nb_vote_t *v = &nb->votes[i];
        bool own = v->v.validator == (uint32_t) nb->self;
        bool proof = valid_round != BFT_NO_ROUND && v->v.type == BFT_PREVOTE
                     && v->v.round == valid_round && !v->v.nil
                     && memcmp(v->v.hash, valid_hash, BFT_HASH_SIZE) == 0;
        if (own || proof)
            s_publish(nb, VL__ENVELOPE_TYPE__ENV_VOTE, v->bytes, v->len);
    }
    for (size_t i = 0; i < nb->n_blocks; i++)
        if (nb->blocks[i].own && nb->blocks[i].proposal)
            s_publish(nb, VL__ENVELOPE_TYPE__ENV_PROPOSAL, nb->blocks[i].proposal,
                      nb->blocks[i].proposal_len);
    return 0;
}

/* --- Restart ----------------------------------------------------------------------------- */

typedef struct {
    node_bft_t *nb;
    bft_own_msg_t msgs[BFT_ROUNDS_KEPT * 3 * 4];
    size_t n;
    int rc;
} s_replay_t;

static int
s_replay_record(void *arg, const wal_record_t *rec)
{
    s_replay_t *r = arg;
    node_bft_t *nb = r->nb;
    node_t *node = nb->node;
    vl_err_t err = { "" };
    if (r->n == sizeof r->msgs / sizeof r->msgs[0])
        return 0;   /* more than the machine keeps: the latest rounds suffice */
    bft_own_msg_t *m = &r->msgs[r->n];
    if (rec->type == BFT_PROPOSAL) {
        bft_proposal_t p;
        Vl__BlockProposal *pb = NULL;
        if (bft_msg_proposal_open(rec->bytes, rec->len, node->genesis.chain_id, &nb->vals, &p,
                                  &pb, &err) != 0 || p.proposer != (uint32_t) nb->self)
            return 0;   /* not ours: skip */
        *m = (bft_own_msg_t) { BFT_PROPOSAL, p.round, false, { 0 }, p.valid_round };
        memcpy(m->hash, p.hash, BFT_HASH_SIZE);
        nb_block_t *b = s_keep_block(nb, p.hash, p.block, p.block_len, true);
        if (b && !b->proposal && (b->proposal = malloc(rec->len))) {
            memcpy(b->proposal, rec->bytes, rec->len);
            b->proposal_len = rec->len;
        }
        vl__block_proposal__free_unpacked(pb, NULL);
    } else {
        bft_vote_t v;
        if (bft_msg_vote_open(rec->bytes, rec->len, node->genesis.chain_id, &nb->vals, NULL, &v,
                              &err) != 0 || v.validator != (uint32_t) nb->self)
            return 0;
        *m = (bft_own_msg_t) { v.type, v.round, v.nil, { 0 }, BFT_NO_ROUND };
        memcpy(m->hash, v.hash, BFT_HASH_SIZE);
        s_keep_vote(nb, &v, rec->bytes, rec->len);
    }
    r->n++;
    return 0;
}

static void
s_replay(node_bft_t *nb)
{
    s_replay_t *r = calloc(1, sizeof *r);
    vl_err_t err = { "" };
    if (!r)
        return;
    r->nb = nb;
    if (wal_load(nb->wal, nb->height, s_replay_record, r, &err) != 0) {
        s_halt(nb, &err);
    } else if (r->n > 0) {
        nb->started = true;
        bft_actions_t acts;
        int rc = bft_replay_own(nb->bft, nb->height, r->msgs, r->n, s_now(nb), &acts);
        vl_info("bft", "replay", "height=%llu records=%zu rc=%d", (unsigned long long) nb->height,
                r->n, rc);
        if (rc == 0)
            s_do(nb, &acts);
        s_on_resend(NULL, -1, nb);   /* the same bytes again: peers may have missed them */
    }
    free(r);
}

/* --- Lifecycle ---------------------------------------------------------------------------- */

node_bft_t *
node_bft_new(node_t *node, int byzantine, vl_err_t *err)
{
    node_bft_t *nb = calloc(1, sizeof *nb);
    if (!nb) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    nb->node = node;
    nb->resend_timer = -1;
    nb->byzantine = byzantine;
    nb->height = ledger_height(node->ledger) + 1;
    if (bft_validators_of(&node->genesis.members, &nb->vals) != 0) {
        vl_err_set(err, VL_ERR_INVALID, "genesis has no validators, or more than %d",
                   BFT_VALIDATORS_MAX);
        node_bft_destroy(&nb);
        return NULL;
    }
    nb->self = bft_validators_find(&nb->vals, vl_key_public(node->key), VL_PUBKEY_SIZE);
    if (nb->self < 0)
        return nb;   /* a follower */
    bft_config_t cfg;
    bft_config_init(&cfg, nb->vals.n, (uint32_t) nb->self);
    nb->bft = bft_new(&cfg);
    if (!nb->bft || wal_open(ledger_store(node->ledger), &nb->wal, err) != 0) {
        if (!nb->bft)
            vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        node_bft_destroy(&nb);
        return NULL;
    }
    return nb;
}

int
node_bft_attach(node_bft_t *nb, evloop_t *loop)
{
    if (!nb || !nb->bft)
        return 0;
    nb->resend_timer = evloop_timer(loop, NB_RESEND_MS, 0, s_on_resend, nb);
    if (nb->resend_timer < 0)
        return VL_ERR_NOMEM;
    s_replay(nb);
    node_bft_kick(nb);
    return 0;
}

void
node_bft_destroy(node_bft_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    node_bft_t *nb = *self_p;
    s_clear_height(nb);
    for (size_t i = 0; i < nb->n_future; i++)
        free(nb->future[i].bytes);
    bft_destroy(&nb->bft);
    wal_close(&nb->wal);
    free(nb);
    *self_p = NULL;
}

bool node_bft_is_validator(const node_bft_t *nb) { return nb && nb->bft; }
bool node_bft_is_first(const node_bft_t *nb) { return nb && nb->bft && nb->self == 0; }

void
node_bft_counters(const node_bft_t *nb, uint64_t *rounds, uint64_t *timeouts)
{
    *rounds = nb && nb->bft ? bft_stats(nb->bft)->rounds : 0;
    *timeouts = nb ? nb->timeouts_fired : 0;
}

json_t *
node_bft_status(node_bft_t *nb)
{
    if (!nb)
        return json_null();
    json_t *s = json_object();
    json_object_set_new(s, "height", json_integer((json_int_t) nb->height));
    json_object_set_new(s, "validator", json_boolean(nb->bft != NULL));
    json_object_set_new(s, "halted", json_boolean(nb->halted));
    json_t *vals = json_array();
    for (uint32_t i = 0; i < nb->vals.n; i++) {
        char did[VL_DID_BUF];
        vl_did_from_public(nb->vals.keys[i], did);
        json_t *v = json_pack("{s:s}", "did", did);
        /* Its last vote of this height we hold. */
        for (size_t k = nb->n_votes; k-- > 0;) {
            const nb_vote_t *x = &nb->votes[k];
            if (x->v.validator != i)
                continue;
            char h[17];
            vl_hex_encode(x->v.hash, 8, h);
            json_object_set_new(v, "last_vote",
                                json_pack("{s:s, s:i, s:s}", "type", bft_msg_name(x->v.type),
                                          "round", x->v.round, "hash", x->v.nil ? "nil" : h));
            break;
        }
        json_array_append_new(vals, v);
    }
    json_object_set_new(s, "validators", vals);
    json_t *ev = json_array();
    size_t kept = nb->n_evidence < NB_EVIDENCE_KEPT ? nb->n_evidence : NB_EVIDENCE_KEPT;
    for (size_t i = 0; i < kept; i++) {
        const nb_evidence_t *e = &nb->evidence[i];
        char did[VL_DID_BUF];
        vl_did_from_public(nb->vals.keys[e->validator], did);
        json_array_append_new(ev, json_pack("{s:s, s:I, s:i, s:s, s:I}", "validator", did,
                                            "height", (json_int_t) e->height, "round", e->round,
                                            "type", bft_msg_name(e->type), "at_ms",
                                            (json_int_t) e->at_ms));
    }
    json_object_set_new(s, "evidence", ev);
    json_object_set_new(s, "evidence_total", json_integer((json_int_t) nb->evidence_total));
    json_object_set_new(s, "timeouts_fired", json_integer((json_int_t) nb->timeouts_fired));
    json_object_set_new(s, "commits_judged", json_integer((json_int_t) nb->commits_judged));
    json_object_set_new(s, "messages_bad", json_integer((json_int_t) nb->messages_bad));
    json_object_set_new(s, "rounds_last_height", json_integer((json_int_t) nb->last_rounds));
    if (nb->bft) {
        const bft_stats_t *st = bft_stats(nb->bft);
        json_object_set_new(s, "round", json_integer(bft_round(nb->bft)));
        json_object_set_new(s, "step", json_string(nb->started ? bft_step_name(bft_step(nb->bft))
                                                               : "idle"));
        char did[VL_DID_BUF];
        vl_did_from_public(nb->vals.keys[bft_proposer(nb->bft, nb->height, bft_round(nb->bft))],
                           did);
        json_object_set_new(s, "proposer", json_string(did));
        json_object_set_new(s, "rounds", json_integer((json_int_t) st->rounds));
        json_object_set_new(s, "commits", json_integer((json_int_t) st->commits));
        json_object_set_new(s, "skips", json_integer((json_int_t) st->skips));
        json_object_set_new(s, "nil_rounds", json_integer((json_int_t) st->nil_rounds));
    }
    return s;
}
