/* commit.c — the commit pipeline (commit.h). */
#include "commit.h"

#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "blockview.h"
#include "codec.h"
#include "log.h"

/* A block waiting in the reorder window (slot = height % COMMIT_WINDOW). */
typedef struct {
    uint64_t height;                  /* 0 = empty */
    uint8_t *bytes;                   /* owned */
    size_t len;
    commit_source_t source;
} s_slot_t;

typedef struct {
    commit_subscriber_fn fn;
    void *arg;
} s_subscriber_t;

struct commit_t {
    commit_config_t config;           /* borrowed pointers */
    validate_ctx_t vctx;
    s_slot_t *window;                 /* owned: COMMIT_WINDOW slots */
    s_subscriber_t subscribers[COMMIT_SUBSCRIBERS_MAX];
    size_t n_subscribers;
    bool failed;
    int64_t tip_time_ms;
    commit_stats_t stats;
};

commit_t *
commit_new(const commit_config_t *config)
{
    commit_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->config = *config;
    c->vctx = (validate_ctx_t) { config->ledger, config->chain_id, config->members,
                                 config->sigcache, config->orgs, config->policies };
    c->window = calloc(COMMIT_WINDOW, sizeof *c->window);
    if (!c->window) {
        commit_destroy(&c);
        return NULL;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    uint64_t tip = ledger_height(config->ledger);
    if (ledger_has_genesis(config->ledger) && ledger_block_get(config->ledger, tip, &bytes, &len) == 0) {
        block_view_t *view = NULL;
        vl_err_t ignore;
        if (block_view_new(bytes, len, NULL, BLOCK_VIEW_HEADER, &view, &ignore) == 0)
            c->tip_time_ms = view->header->timestamp_ms;
        block_view_destroy(&view);
        free(bytes);
    }
    return c;
}

void
commit_destroy(commit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    commit_t *c = *self_p;
    for (size_t i = 0; c->window && i < COMMIT_WINDOW; i++)
        free(c->window[i].bytes);
    free(c->window);
    free(c);
    *self_p = NULL;
}

int
commit_subscribe(commit_t *c, commit_subscriber_fn fn, void *arg)
{
    if (c->n_subscribers == COMMIT_SUBSCRIBERS_MAX)
        return VL_ERR_LIMIT;
    c->subscribers[c->n_subscribers++] = (s_subscriber_t) { fn, arg };
    return 0;
}

bool commit_failed(const commit_t *c) { return c->failed; }
int64_t commit_tip_time_ms(const commit_t *c) { return c->tip_time_ms; }
const commit_stats_t *commit_stats(const commit_t *c) { return &c->stats; }

/* After a block is durable: log it, clean the mempool, tell subscribers. */
static void
s_after_commit(commit_t *c, const validated_block_t *vb, const uint8_t state[VL_HASH_SIZE],
               commit_source_t source)
{
    c->tip_time_ms = vb->view->header->timestamp_ms;
    if (source != COMMIT_LOCAL)
        c->stats.committed_remote++;
    char hex[65];
    vl_hex_encode(state, VL_HASH_SIZE, hex);
    vl_info("node", "block.commit", "height=%llu txs=%zu valid=%zu state=%.16s",
            (unsigned long long) vb->commit.height, vb->view->n_txs, vb->n_valid, hex);
    int64_t *since = c->config.mempool && vb->view->n_txs
                         ? calloc(vb->view->n_txs, sizeof *since)
                         : NULL;   /* NULL (no latency) when out of memory too */
    for (size_t i = 0; c->config.mempool && i < vb->view->n_txs; i++) {
        mempool_entry_t e;
        if (since && mempool_get(c->config.mempool, vb->effects[i].txid, &e))
            since[i] = e.added_ms;
        mempool_remove(c->config.mempool, vb->effects[i].txid);
    }
    commit_event_t ev = { vb, state, source, since };
    for (size_t i = 0; i < c->n_subscribers; i++)
        c->subscribers[i].fn(c->subscribers[i].arg, &ev);
    free(since);
}

static bool
s_environment_failure(int rc)
{
    return rc != VL_ERR_INVALID && rc != VL_ERR_SIGNATURE && rc != VL_ERR_STATE;
}

static void
s_failed(commit_t *c, uint64_t height, const char *what, const vl_err_t *err)
{
    char q[300];
    vl_error("node", "block.commit_failed", "height=%llu stage=%s reason=%s",
             (unsigned long long) height, what, vl_log_quote(err->msg, q, sizeof q));
    c->failed = true;
}

static void
s_rejected(commit_t *c, commit_source_t source, const vl_err_t *err)
{
    char q[300];
    vl_warn("node", "block.reject", "reason=%s", vl_log_quote(err->msg, q, sizeof q));
    if (source != COMMIT_LOCAL)
        c->stats.rejected++;
}

/* Writes a validated block (one synced batch) and runs the after-commit
 * work; consumes vb. */
static int
s_apply(commit_t *c, validated_block_t *vb, commit_source_t source, vl_err_t *err)
{
    int rc = ledger_commit_block(c->config.ledger, &vb->commit, err);
    if (rc != 0)
        s_failed(c, vb->commit.height, "write", err);
    else
        s_after_commit(c, vb, ledger_state_hash(c->config.ledger), source);
    validated_block_destroy(&vb);
    return rc;
}

int
commit_block(commit_t *c, const uint8_t *bytes, size_t len, commit_source_t source,
             vl_err_t *err)
{
    if (c->failed)
        return vl_err_set(err, VL_ERR_STATE, "the node stopped committing after a failure");
    validated_block_t *vb = NULL;
    uint64_t next = ledger_height(c->config.ledger) + 1;
    int rc = validate_block(&c->vctx, bytes, len, &vb, err);
    if (rc != 0) {
        if (s_environment_failure(rc))
            s_failed(c, next, "validate", err);
        else
            s_rejected(c, source, err);
        return rc;
    }
    return s_apply(c, vb, source, err);
}

int
commit_block_judged(commit_t *c, validated_block_t **judged, const uint8_t *sealed, size_t len,
                    commit_source_t source, vl_err_t *err)
{
    validated_block_t *vb = *judged;
    *judged = NULL;
    if (c->failed) {
        validated_block_destroy(&vb);
        return vl_err_set(err, VL_ERR_STATE, "the node stopped committing after a failure");
    }
    ledger_t *ledger = c->config.ledger;
    const Vl__BlockHeader *hd = vb->view->header;
    if (vb->commit.height != ledger_height(ledger) + 1 || hd->previous_hash.len != VL_HASH_SIZE
        || memcmp(hd->previous_hash.data, ledger_last_hash(ledger), VL_HASH_SIZE) != 0) {
        validated_block_destroy(&vb);
        return vl_err_set(err, VL_ERR_STATE, "the tip moved since the block was judged");
    }
    /* The sealed bytes must carry the judged header (its data hash binds the
     * transactions) and a certificate for it. */
    const uint8_t *header = NULL, *cert = NULL;
    size_t header_len = 0, cert_len = 0;
    uint8_t hash[VL_HASH_SIZE] = { 0 };
    if (vl_pb_find_bytes(sealed, len, 1, &header, &header_len))
        vl_sha256(header, header_len, hash);
    Vl__Commit *commit = vl_pb_find_bytes(sealed, len, 3, &cert, &cert_len)
                             ? vl__commit__unpack(NULL, cert_len, cert)
                             : NULL;
    unsigned long long h = (unsigned long long) vb->commit.height;
    int rc = 0;
    if (!header || memcmp(hash, vb->view->hash, VL_HASH_SIZE) != 0)
        rc = vl_err_set(err, VL_ERR_INVALID, "the sealed block is not the judged block %llu", h);
    else if (!commit)
        rc = vl_err_set(err, VL_ERR_SIGNATURE, "block %llu carries no commit certificate", h);
    else
        rc = block_verify_commit(commit, c->vctx.chain_id, vb->commit.height, vb->view->hash,
                                 c->vctx.members, c->vctx.sigcache, err);
    if (commit)
        vl__commit__free_unpacked(commit, NULL);
    if (rc != 0) {
        s_rejected(c, source, err);
        validated_block_destroy(&vb);
        return rc;
    }
    vb->commit.block = sealed;
    vb->commit.block_len = len;
    return s_apply(c, vb, source, err);
}

int
commit_offer(commit_t *c, uint8_t **bytes, size_t len, commit_source_t source, uint64_t *height)
{
    uint64_t h = 0;
    bool ok = block_view_height(*bytes, len, &h);
    if (height)
        *height = ok ? h : 0;
    uint64_t tip = ledger_height(c->config.ledger);
    int rc = !ok ? VL_ERR_INVALID : h <= tip ? VL_ERR_EXISTS : h > tip + COMMIT_WINDOW
                                                                   ? VL_ERR_LIMIT : 0;
    s_slot_t *slot = rc == 0 ? &c->window[h % COMMIT_WINDOW] : NULL;
    if (slot && slot->height != h) {
        free(slot->bytes);
        *slot = (s_slot_t) { h, *bytes, len, source };
        *bytes = NULL;
    }
    free(*bytes);
    *bytes = NULL;
    return rc;
}

/* Commits the run of pulled blocks waiting right after the tip (at most
 * COMMIT_RUN_MAX) in one synced batch: each validated against what the ones
 * before it leave, then ledger_commit_blocks, then each block's
 * after-commit work in order. Returns how many were committed. */
static size_t
s_commit_pulled_run(commit_t *c)
{
    validate_run_t *run = validate_run_new(c->config.ledger);
    validated_block_t *vbs[COMMIT_RUN_MAX];
    uint8_t *raw[COMMIT_RUN_MAX];
    const ledger_block_t *blocks[COMMIT_RUN_MAX];
    uint8_t states[COMMIT_RUN_MAX][VL_HASH_SIZE];
    size_t n = 0, committed = 0;
    vl_err_t err = { "" };
    if (!run) {
        vl_err_set(&err, VL_ERR_NOMEM, "out of memory");
        s_failed(c, ledger_height(c->config.ledger) + 1, "validate", &err);
        return 0;
    }
    uint64_t tip = ledger_height(c->config.ledger);
    while (n < COMMIT_RUN_MAX) {
        uint64_t h = tip + 1 + n;
        s_slot_t *slot = &c->window[h % COMMIT_WINDOW];
        if (slot->height != h || slot->source != COMMIT_PULLED)
            break;
        uint8_t *bytes = slot->bytes;
        size_t len = slot->len;
        slot->bytes = NULL;
        slot->height = 0;
        int rc = validate_block_in_run(&c->vctx, run, bytes, len, &vbs[n], &err);
        if (rc != 0) {
            if (s_environment_failure(rc))
                s_failed(c, h, "validate", &err);
            else
                s_rejected(c, COMMIT_PULLED, &err);
            free(bytes);
            break;
        }
        raw[n] = bytes;
        blocks[n] = &vbs[n]->commit;
        /* The state after block i is what block i+1's header must carry;
         * the run checked it, so it can be read from there. */
        if (n > 0)
            memcpy(states[n - 1], vbs[n]->view->header->state_hash.data, VL_HASH_SIZE);
        n++;
    }
    validate_run_destroy(&run);
    if (n > 0 && !c->failed) {
        if (ledger_commit_blocks(c->config.ledger, blocks, n, &err) != 0) {
            s_failed(c, blocks[0]->height, "write", &err);
        } else {
            memcpy(states[n - 1], ledger_state_hash(c->config.ledger), VL_HASH_SIZE);
            for (size_t i = 0; i < n; i++)
                s_after_commit(c, vbs[i], states[i], COMMIT_PULLED);
            committed = n;
        }
    }
    for (size_t i = 0; i < n; i++) {
        validated_block_destroy(&vbs[i]);
        free(raw[i]);
    }
    return committed;
}

size_t
commit_drain(commit_t *c)
{
    size_t committed = 0;
    while (!c->failed) {
        uint64_t next = ledger_height(c->config.ledger) + 1;
        s_slot_t *slot = &c->window[next % COMMIT_WINDOW];
        if (slot->height != next)
            break;
        if (slot->source == COMMIT_PULLED) {
            size_t n = s_commit_pulled_run(c);
            committed += n;
            if (n == 0)
                break;
            continue;
        }
        uint8_t *bytes = slot->bytes;
        size_t len = slot->len;
        commit_source_t source = slot->source;
        slot->bytes = NULL;
        slot->height = 0;
        vl_err_t err = { "" };
        int rc = commit_block(c, bytes, len, source, &err);
        free(bytes);
        if (rc != 0)
            break;   /* refused: the pull path asks for that height again */
        committed++;
    }
    return committed;
}
