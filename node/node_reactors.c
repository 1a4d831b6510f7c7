/*
 * node_reactors.c — each party's own node acts (docs/reactors.md).
 *
 * A node runs the reactor rules (reactor/<DID>/<id>, contracts/lib/
 * reactor.lua) of the identities whose keys it holds: its own and those of
 * node.json "identities" / --identity. For every contract event of a valid
 * transaction in a committed block:
 *
 *   event.<name> committed --> rules of held DIDs with that topic whose
 *   match fields equal the payload's --> the rule's contract.function run
 *   read-only here (a worker: node_query) with {event, rule, self}
 *       |  null: nothing to do
 *       v  {contract, function, args}
 *   args.cause = "<txid>:<event index>"; proposal signed with the rule
 *   owner's key; the gateway (node_transact) gathers the endorsements
 *       |  admitted: pending until its commit is seen here
 *       v
 *   committed VALID: done | MVCC/PHANTOM, another organisation's refusal
 *   (its replica may lag behind ours), or endorsers whose replicas
 *   disagreed: retried (the rule runs again) after reactor_retry_ms,
 *   doubling, at most REACTOR_TRIES attempts | an organisation the gateway
 *   could not reach: retried the same way, the backoff capped at
 *   REACTOR_BACKOFF_CAP times reactor_retry_ms (so a node that is back is
 *   found soon), for up to reactor_patience_ms (its node may be down for a
 *   while; the flow goes on when it is back) | refused, other codes: failed
 *   (logged).
 *
 * A rule of topic "time" fires when a committed block's time passes its
 * `at` (and each `every_ms` after it): at most once per block, the latest
 * time passed, with the cause "<rule hash>:<time>" — a replay or a second
 * node of the organisation makes no second follow-up for that time.
 *
 * Exactly once comes from the VM (vm.c s_record_cause): a cause already
 * recorded for that participant is refused ("already recorded": counted as
 * done, not failed), so replays, retries and two nodes of one organisation
 * holding one key commit at most one follow-up per (cause, participant).
 *
 * Restart: DATA/reactor.checkpoint holds the height below which every
 * event has been handled and every follow-up settled, and the identities
 * it covers; on start the blocks above it are replayed through the same
 * path — for an identity the node did not hold before, from the block that
 * stored its first rule.
 *
 * Loop thread only (commit subscriber, timers, callbacks); the rule
 * contracts run on the worker pool.
 */
#include "node_reactors.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockview.h"
#include "client.h"
#include "clock.h"
#include "codec.h"
#include "log.h"
#include "tx.h"

#define REACTOR_TRIES 5              /* failed attempts per follow-up, besides unanswered ones */
#define REACTOR_BACKOFF_CAP 8        /* the doubling backoff stops at this many reactor_retry_ms */
#define REACTOR_RULES_SCAN_MAX 256   /* rules read per identity per block */
#define REACTOR_CAUSE_MAX 96
#define REACTOR_CHECKPOINT_MS 1000   /* the checkpoint file is rewritten at most this often */

typedef struct s_attempt s_attempt_t;

struct node_reactors {
    node_t *node;                    /* borrowed */
    vl_key_t *keys[CONFIG_IDENTITIES_MAX + 1];   /* [0] borrowed (node key), others owned */
    char dids[CONFIG_IDENTITIES_MAX + 1][VL_DID_BUF];
    size_t n_keys;
    char checkpoint_path[PATH_MAX + 32];
    uint64_t checkpoint;             /* every event at or below is settled (on disk) */
    bool covered[CONFIG_IDENTITIES_MAX + 1];   /* keys[k] was held when it was written */
    bool identities_changed;         /* the file does not list every held identity yet */
    int64_t checkpoint_ms;           /* when it was last written (monotonic) */
    uint64_t seen;                   /* highest height handed to the rules */
    int64_t seen_time_ms;            /* that block's timestamp (time rules) */
    s_attempt_t *attempts;           /* live follow-ups (list) */
    json_t *rules_of[CONFIG_IDENTITIES_MAX + 1];   /* owned: the held identities' rules */
    bool rules_loaded;               /* rules_of is current (reloaded when a block writes reactor/) */
    uint64_t rules, runs, proposed, done, duplicates, failed, retries, nothing;
};

struct s_attempt {
    s_attempt_t *next;
    node_reactors_t *r;
    size_t key;                      /* index into r->keys */
    uint64_t height;                 /* of the triggering event */
    char cause[REACTOR_CAUSE_MAX];
    json_t *rule;                    /* owned */
    json_t *event;                   /* owned: {name, payload, txid, index, height} */
    int tries;                       /* attempts made */
    int failures;                    /* of them, failed other than unanswered */
    int64_t first_ms;                /* monotonic time of the first attempt */
    int timer;                       /* retry timer, -1 when none */
    bool submitted;                  /* waiting for its commit */
    uint8_t txid[VL_HASH_SIZE];
};

static void s_run_rule(s_attempt_t *a);
static void s_attempt(node_reactors_t *r, size_t k, json_t *rule, uint64_t height,
                      const char *cause, json_t *event);

/* --- bookkeeping ------------------------------------------------------------- */

static void
s_log(const s_attempt_t *a, const char *what, const char *detail)
{
    char q[400];
    vl_info("reactor", what, "owner=%s rule=%s cause=%s try=%d%s%s", a->r->dids[a->key],
            json_string_value(json_object_get(a->rule, "id")), a->cause, a->tries,
            detail ? " reason=" : "", detail ? vl_log_quote(detail, q, sizeof q) : "");
}

/* The checkpoint advances to the lowest height with a live follow-up
 * (minus one), or to what the rules have seen; it is written at most every
 * REACTOR_CHECKPOINT_MS (and when the node stops): after a crash the rules
 * run again over at most that much, and the cause records make that
 * harmless. A file per block on every node would cost more than it saves. */
static void
s_checkpoint(node_reactors_t *r, bool force)
{
    uint64_t h = r->seen;
    for (s_attempt_t *a = r->attempts; a; a = a->next)
        if (a->height - 1 < h)
            h = a->height - 1;
    int64_t now = vl_mono_ms();
    if ((h <= r->checkpoint && !r->identities_changed)
        || (!force && now - r->checkpoint_ms < REACTOR_CHECKPOINT_MS))
        return;
    r->checkpoint_ms = now;
    char tmp[PATH_MAX + 40];
    snprintf(tmp, sizeof tmp, "%s.tmp", r->checkpoint_path);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fprintf(f, "%" PRIu64 "\n", h) > 0;
    for (size_t k = 0; ok && k < r->n_keys; k++)
        ok = fprintf(f, "%s\n", r->dids[k]) > 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, r->checkpoint_path) != 0) {
        vl_warn("reactor", "checkpoint.failed", "path=%s", r->checkpoint_path);
        return;
    }
    r->checkpoint = h;
    r->identities_changed = false;
}

static void
s_finish(s_attempt_t *a)
{
    node_reactors_t *r = a->r;
    for (s_attempt_t **p = &r->attempts; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            break;
        }
    if (a->timer >= 0 && r->node->loop)
        evloop_timer_end(r->node->loop, a->timer);
    json_decref(a->rule);
    json_decref(a->event);
    free(a);
    s_checkpoint(r, false);
}

static int
s_retry_fire(evloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_attempt_t *a = arg;
    a->timer = -1;
    s_run_rule(a);
    return 0;
}

/* Another attempt after the backoff, or failed after the last: after
 * REACTOR_TRIES, or, when an organisation did not answer (unreachable),
 * once the patience is spent. */
static void
s_retry(s_attempt_t *a, const char *why, bool unreachable)
{
    node_reactors_t *r = a->r;
    const node_config_t *cfg = &r->node->config;
    a->submitted = false;
    if (!unreachable)
        a->failures++;
    bool spent = unreachable ? vl_mono_ms() - a->first_ms >= cfg->reactor_patience_ms
                             : a->failures >= REACTOR_TRIES;
    if (spent || !r->node->loop) {
        r->failed++;
        s_log(a, "reactor.failed", why);
        s_finish(a);
        return;
    }
    int shift = a->tries - 1 < 16 ? a->tries - 1 : 16;
    int64_t delay = (int64_t) cfg->reactor_retry_ms << shift;
    if (delay > (int64_t) cfg->reactor_retry_ms * REACTOR_BACKOFF_CAP)
        delay = (int64_t) cfg->reactor_retry_ms * REACTOR_BACKOFF_CAP;
    r->retries++;
    s_log(a, "reactor.retry", why);
    a->timer = evloop_timer(r->node->loop, delay, 1, s_retry_fire, a);
    if (a->timer < 0) {
        r->failed++;
        s_log(a, "reactor.failed", "cannot arm the retry timer");
        s_finish(a);
    }
}

/* --- the follow-up ------------------------------------------------------------- */

static void
s_transacted(void *arg, int rc, const uint8_t *txid, const char *result_json,
             const vl_err_t *err)
{
    (void) result_json;
    s_attempt_t *a = arg;
    node_reactors_t *r = a->r;
    if (rc == 0) {
        memcpy(a->txid, txid, VL_HASH_SIZE);
        a->submitted = true;
        r->proposed++;
        char hex[65];
        vl_hex_encode(txid, VL_HASH_SIZE, hex);
        s_log(a, "reactor.proposed", hex);
        return;
    }
    if (strstr(err->msg, "already recorded")) {
        r->duplicates++;
        s_log(a, "reactor.already_done", err->msg);
        s_finish(a);
    } else if (rc == VL_ERR_TIMEOUT) {
        s_retry(a, err->msg, true);   /* an organisation's node did not answer */
    } else if (rc == VL_ERR_LIMIT || rc == VL_ERR_NOMEM || rc == VL_ERR_IO || rc == VL_ERR_STATE
               || strstr(err->msg, "endorsers disagree") || strstr(err->msg, "refused to endorse")) {
        /* An organisation did not answer, the node was busy, or replicas
         * at different heights computed different results — or another
         * organisation's node refused what ran here: its replica has not
         * yet committed the block whose event this rule answers (the
         * follow-up then fails there, e.g. "no registration is pending").
         * Worth another try once they move on; a refusal that stands
         * fails after REACTOR_TRIES like any other. */
        s_retry(a, err->msg, false);
    } else {
        r->failed++;
        s_log(a, "reactor.refused", err->msg);
        s_finish(a);
    }
}

/* The rule's answer: null (nothing to do) or {contract, function, args}. */
static void
s_ruled(void *arg, const vm_result_t *res)
{
    s_attempt_t *a = arg;
    node_reactors_t *r = a->r;
    node_t *node = r->node;
    if (res->status != 0) {
        r->failed++;
        s_log(a, "reactor.rule_failed", res->error);
        s_finish(a);
        return;
    }
    json_t *out = json_loads(res->result_json ? res->result_json : "null", JSON_DECODE_ANY, NULL);
    if (!out || json_is_null(out)) {
        json_decref(out);
        r->nothing++;
        s_finish(a);
        return;
    }
    const char *contract = json_string_value(json_object_get(out, "contract"));
    const char *function = json_string_value(json_object_get(out, "function"));
    json_t *args = json_object_get(out, "args");
    if (!contract || !function || (args && !json_is_object(args))) {
        json_decref(out);
        r->failed++;
        s_log(a, "reactor.rule_failed",
              "the rule must return null or {contract, function, args (an object)}");
        s_finish(a);
        return;
    }
    json_t *call_args = args ? json_deep_copy(args) : json_object();
    json_object_set_new(call_args, "cause", json_string(a->cause));
    uint64_t nonce = 0;
    vl_random_bytes(&nonce, sizeof nonce);
    uint8_t *proposal = NULL, txid[VL_HASH_SIZE];
    size_t len = 0;
    vl_err_t err = { "" };
    int rc = client_build_proposal(r->keys[a->key], node->genesis.chain_id, contract, function,
                                   call_args, nonce, vl_wall_ms(), &proposal, &len, txid, &err);
    json_decref(call_args);
    json_decref(out);
    if (rc == 0)
        rc = node_transact(node, proposal, len, s_transacted, a);
    free(proposal);
    if (rc != 0)
        s_retry(a, err.msg[0] ? err.msg : vl_strerror(rc), false);
}

static void
s_run_rule(s_attempt_t *a)
{
    node_reactors_t *r = a->r;
    a->tries++;
    r->runs++;
    json_t *ctx = json_pack("{s:O, s:O, s:s}", "event", a->event, "rule", a->rule, "self",
                            r->dids[a->key]);
    char *text = ctx ? json_dumps(ctx, JSON_COMPACT) : NULL;
    json_decref(ctx);
    int rc = text ? node_query(r->node, json_string_value(json_object_get(a->rule, "contract")),
                               json_string_value(json_object_get(a->rule, "function")), text,
                               s_ruled, a)
                  : VL_ERR_NOMEM;
    free(text);
    if (rc != 0)
        s_retry(a, "the worker pool is busy", false);
}

/* --- events to rules ----------------------------------------------------------- */

typedef struct {
    json_t *rules;                   /* array being filled */
} s_scan_t;

static int
s_scan_cb(void *arg, const char *key, size_t key_len, const char *value, size_t value_len,
          vl_version_t version)
{
    (void) key;
    (void) key_len;
    s_scan_t *s = arg;
    json_t *rule = json_loadb(value, value_len, 0, NULL);
    if (json_is_object(rule)) {
        /* Where the rule was written: it answers only what commits later. */
        json_object_set_new(rule, "_block", json_integer((json_int_t) version.block));
        json_array_append_new(s->rules, rule);
    }
    else
        json_decref(rule);
    return 0;
}

/* Every field of match equals the payload's. */
static bool
s_matches(const json_t *rule, const json_t *payload)
{
    const char *k;
    json_t *v;
    json_t *match = json_object_get(rule, "match");
    json_object_foreach(match, k, v) {
        if (!json_equal(json_object_get(payload, k), v))
            return false;
    }
    return true;
}

/* The events of one valid transaction at (height, index). */
static void
s_on_tx(node_reactors_t *r, json_t *const *rules, uint64_t height, const uint8_t txid[32],
        const Vl__EndorsedResult *result)
{
    char hex[65];
    vl_hex_encode(txid, VL_HASH_SIZE, hex);
    for (size_t e = 0; e < result->n_events; e++) {
        const Vl__Event *ev = result->events[e];
        char topic[200];
        snprintf(topic, sizeof topic, "event.%s", ev->name ? ev->name : "");
        json_t *payload = NULL;
        for (size_t k = 0; k < r->n_keys; k++) {
            size_t i;
            json_t *rule;
            json_array_foreach(rules[k], i, rule) {
                if (strcmp(json_string_value(json_object_get(rule, "topic")) ?: "", topic) != 0)
                    continue;
                /* A rule answers what commits after it exists, also when a
                 * replay reaches further back. */
                if ((json_int_t) height <= json_integer_value(json_object_get(rule, "_block")))
                    continue;
                if (!payload)
                    payload = json_loads(ev->payload_json ? ev->payload_json : "null",
                                         JSON_DECODE_ANY, NULL);
                if (!s_matches(rule, payload))
                    continue;
                char cause[REACTOR_CAUSE_MAX];
                snprintf(cause, sizeof cause, "%s:%zu", hex, e);
                s_attempt(r, k, rule, height, cause,
                          json_pack("{s:s, s:O, s:s, s:i, s:I}", "name", ev->name, "payload",
                                    payload ? payload : json_null(), "txid", hex, "index",
                                    (int) e, "height", (json_int_t) height));
            }
        }
        json_decref(payload);
    }
}

/* A new attempt of rule (held key k) for event; runs the rule. */
static void
s_attempt(node_reactors_t *r, size_t k, json_t *rule, uint64_t height, const char *cause,
          json_t *event)
{
    s_attempt_t *a = calloc(1, sizeof *a);
    if (!a || !event) {
        free(a);
        json_decref(event);
        r->failed++;
        return;
    }
    *a = (s_attempt_t) { .r = r, .key = k, .height = height, .timer = -1,
                         .first_ms = vl_mono_ms(), .rule = json_incref(rule), .event = event };
    snprintf(a->cause, sizeof a->cause, "%s", cause);
    a->next = r->attempts;
    r->attempts = a;
    s_run_rule(a);
}

int64_t
node_reactors_due(int64_t at, int64_t every_ms, int64_t prev_ms, int64_t now_ms)
{
    if (at <= 0 || every_ms < 0 || now_ms < at)
        return -1;
    int64_t t = every_ms > 0 ? at + (now_ms - at) / every_ms * every_ms : at;
    return t > prev_ms ? t : -1;
}

/* The time rules a block's time passes (prev_ms: the previous block's). */
static void
s_on_time(node_reactors_t *r, json_t *const *rules, uint64_t height, int64_t prev_ms,
          int64_t now_ms)
{
    for (size_t k = 0; k < r->n_keys; k++) {
        size_t i;
        json_t *rule;
        json_array_foreach(rules[k], i, rule) {
            json_int_t stored = json_integer_value(json_object_get(rule, "_block"));
            if (strcmp(json_string_value(json_object_get(rule, "topic")) ?: "", "time") != 0
                || (json_int_t) height <= stored)
                continue;
            int64_t t = node_reactors_due(json_integer_value(json_object_get(rule, "at")),
                                          json_integer_value(json_object_get(rule, "every_ms")),
                                          prev_ms, now_ms);
            if (t < 0)
                continue;
            /* The cause names the rule (owner, id, where it was stored) and the time. */
            char who[VL_DID_BUF + 96], hex[65], cause[REACTOR_CAUSE_MAX];
            uint8_t h[VL_HASH_SIZE];
            int n = snprintf(who, sizeof who, "time|%s|%s|%lld", r->dids[k],
                             json_string_value(json_object_get(rule, "id")) ?: "",
                             (long long) stored);
            vl_sha256(who, (size_t) n, h);
            vl_hex_encode(h, 16, hex);
            snprintf(cause, sizeof cause, "%s:%lld", hex, (long long) t);
            json_t *event = json_pack("{s:s, s:{s:I, s:I, s:O}, s:s, s:i, s:I}", "name", "time",
                                      "payload", "at", (json_int_t) t, "block_time",
                                      (json_int_t) now_ms, "rule", json_object_get(rule, "id"),
                                      "txid", "", "index", 0, "height", (json_int_t) height);
            s_attempt(r, k, rule, height, cause, event);
        }
    }
}

/* The timestamp of committed block h, or 0 when it cannot be read. */
static int64_t
s_block_time(node_reactors_t *r, uint64_t h)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    block_view_t *view = NULL;
    vl_err_t err = { "" };
    int64_t t = 0;
    if (h > 0 && ledger_block_get(r->node->ledger, h, &bytes, &len) == 0
        && block_view_new(bytes, len, r->node->genesis.chain_id, BLOCK_VIEW_HEADER, &view,
                          &err) == 0)
        t = view->header->timestamp_ms;
    block_view_destroy(&view);
    free(bytes);
    return t;
}

/* The rules of every held identity, read from the ledger. */
static void
s_load_rules(node_reactors_t *r, json_t **rules)
{
    r->rules = 0;
    for (size_t k = 0; k < r->n_keys; k++) {
        rules[k] = json_array();
        char prefix[VL_DID_BUF + 16];
        snprintf(prefix, sizeof prefix, "reactor/%s/", r->dids[k]);
        s_scan_t s = { rules[k] };
        ledger_range(r->node->ledger, prefix, REACTOR_RULES_SCAN_MAX, s_scan_cb, &s);
        r->rules += json_array_size(rules[k]);
    }
}

static void
s_free_rules(node_reactors_t *r, json_t **rules)
{
    for (size_t k = 0; k < r->n_keys; k++)
        json_decref(rules[k]);
}

/* A follow-up of ours committed: done, retried or failed. */
static void
s_settle(node_reactors_t *r, const uint8_t txid[32], int code)
{
    for (s_attempt_t *a = r->attempts; a; a = a->next) {
        if (!a->submitted || memcmp(a->txid, txid, VL_HASH_SIZE) != 0)
            continue;
        if (code == VL__TX_CODE__TX_VALID) {
            r->done++;
            s_log(a, "reactor.done", NULL);
            s_finish(a);
        } else if (code == VL__TX_CODE__TX_MVCC_CONFLICT
                   || code == VL__TX_CODE__TX_PHANTOM_READ) {
            s_retry(a, tx_code_name(code), false);
        } else {
            r->failed++;
            s_log(a, "reactor.invalid", tx_code_name(code));
            s_finish(a);
        }
        return;
    }
}

/* True when a valid transaction of the block wrote a rule. */
static bool
s_writes_rules(const validated_block_t *vb)
{
    for (size_t i = 0; i < vb->view->n_txs; i++)
        for (size_t w = 0; vb->effects[i].code == VL__TX_CODE__TX_VALID
                           && w < vb->effects[i].n_writes; w++)
            if (strncmp(vb->effects[i].writes[w]->key, "reactor/", 8) == 0)
                return true;
    return false;
}

void
node_reactors_on_commit(void *arg, const commit_event_t *event)
{
    node_reactors_t *r = arg;
    const validated_block_t *vb = event->block;
    uint64_t height = vb->commit.height;
    if (height <= r->seen)
        return;   /* replayed at start already */
    for (size_t i = 0; i < vb->view->n_txs; i++)
        if (r->attempts)
            s_settle(r, vb->effects[i].txid, vb->effects[i].code);
    /* The rules are read again only when a block changes one, not per block. */
    if (!r->rules_loaded || s_writes_rules(vb)) {
        if (r->rules_loaded)
            s_free_rules(r, r->rules_of);
        s_load_rules(r, r->rules_of);
        r->rules_loaded = true;
    }
    if (r->rules > 0)
        for (size_t i = 0; i < vb->view->n_txs; i++)
            if (vb->effects[i].code == VL__TX_CODE__TX_VALID && vb->view->txs
                && vb->view->txs[i])
                s_on_tx(r, r->rules_of, height, vb->effects[i].txid, vb->view->txs[i]->result);
    int64_t now_ms = vb->view->header->timestamp_ms;
    if (r->rules > 0)
        s_on_time(r, r->rules_of, height, r->seen_time_ms, now_ms);
    r->seen_time_ms = now_ms;
    r->seen = height;
    s_checkpoint(r, false);
}

/* --- lifecycle --------------------------------------------------------------- */

node_reactors_t *
node_reactors_new(node_t *node, vl_err_t *err)
{
    node_reactors_t *r = calloc(1, sizeof *r);
    if (!r) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    r->node = node;
    r->keys[0] = node->key;
    snprintf(r->dids[0], sizeof r->dids[0], "%s", node->did);
    r->n_keys = 1;
    for (size_t i = 0; i < node->config.n_identities; i++) {
        const char *path = node->config.identities[i];
        vl_key_t *k = config_check_key(path, err) == 0 ? vl_key_load_pem(path, err) : NULL;
        if (!k) {
            char msg[VL_ERR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", err->msg);
            vl_err_set(err, VL_ERR_INVALID, "identity %s: %s", path, msg);
            node_reactors_destroy(&r);
            return NULL;
        }
        r->keys[r->n_keys] = k;
        vl_did_from_public(vl_key_public(k), r->dids[r->n_keys]);
        r->n_keys++;
    }
    snprintf(r->checkpoint_path, sizeof r->checkpoint_path, "%s/reactor.checkpoint",
             node->config.data_dir);
    /* "<height>\n<did>\n...": an identity not listed was not held then.
     * A file without the list (an older node) covers every identity. */
    FILE *f = fopen(r->checkpoint_path, "r");
    bool listed = false;
    if (f) {
        char line[VL_DID_BUF + 8];
        if (fscanf(f, "%" SCNu64 "\n", &r->checkpoint) != 1)
            r->checkpoint = 0;
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = '\0';
            listed = true;
            for (size_t k = 0; k < r->n_keys; k++)
                if (strcmp(line, r->dids[k]) == 0)
                    r->covered[k] = true;
        }
        fclose(f);
    }
    for (size_t k = 0; k < r->n_keys; k++) {
        if (!listed)
            r->covered[k] = true;
        if (!r->covered[k])
            r->identities_changed = true;
    }
    r->seen = r->checkpoint;
    return r;
}

void
node_reactors_replay(node_reactors_t *r)
{
    uint64_t tip = ledger_height(r->node->ledger);
    if (r->seen > tip)
        r->seen = r->checkpoint = tip;
    if (r->seen < tip)
        vl_info("reactor", "replay", "from=%" PRIu64 " to=%" PRIu64, r->seen + 1, tip);
    json_t *rules[CONFIG_IDENTITIES_MAX + 1];
    s_load_rules(r, rules);
    /* An identity this node did not hold at the checkpoint: its rules
     * answer every event since the block that stored them. */
    for (size_t k = 0; k < r->n_keys; k++) {
        size_t i;
        json_t *rule;
        json_array_foreach(rules[k], i, rule) {
            json_int_t stored = json_integer_value(json_object_get(rule, "_block"));
            if (!r->covered[k] && stored >= 0 && (uint64_t) stored < r->seen) {
                vl_info("reactor", "replay.identity", "did=%s from=%lld", r->dids[k],
                        (long long) stored + 1);
                r->seen = (uint64_t) stored;
            }
        }
    }
    r->seen_time_ms = s_block_time(r, r->seen);
    for (uint64_t h = r->seen + 1; r->rules > 0 && h <= tip; h++) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        block_view_t *view = NULL;
        vl_err_t err = { "" };
        if (ledger_block_get(r->node->ledger, h, &bytes, &len) != 0
            || block_view_new(bytes, len, r->node->genesis.chain_id, BLOCK_VIEW_PARSE_TXS, &view,
                              &err) != 0) {
            free(bytes);
            vl_warn("reactor", "replay.failed", "height=%" PRIu64, h);
            break;
        }
        free(bytes);
        for (size_t i = 0; i < view->n_txs; i++) {
            ledger_tx_info_t info;
            if (view->txs[i] && ledger_tx_get(r->node->ledger, view->txids[i], &info) == 0
                && info.height == h && info.index == i && info.code == VL__TX_CODE__TX_VALID)
                s_on_tx(r, rules, h, view->txids[i], view->txs[i]->result);
        }
        s_on_time(r, rules, h, r->seen_time_ms, view->header->timestamp_ms);
        r->seen_time_ms = view->header->timestamp_ms;
        block_view_destroy(&view);
        r->seen = h;
    }
    s_free_rules(r, rules);
    if (r->seen != tip)
        r->seen_time_ms = s_block_time(r, tip);
    r->seen = tip;
    s_checkpoint(r, true);
}

void
node_reactors_destroy(node_reactors_t **self_p)
{
    node_reactors_t *r = self_p ? *self_p : NULL;
    if (!r)
        return;
    if (r->checkpoint_path[0])
        s_checkpoint(r, true);   /* a clean stop leaves nothing to replay */
    if (r->rules_loaded)
        s_free_rules(r, r->rules_of);
    while (r->attempts) {
        s_attempt_t *a = r->attempts;
        r->attempts = a->next;
        json_decref(a->rule);
        json_decref(a->event);
        free(a);
    }
    for (size_t k = 1; k < r->n_keys; k++)
        vl_key_destroy(&r->keys[k]);
    free(r);
    *self_p = NULL;
}

json_t *
node_reactors_status(const node_reactors_t *r)
{
    json_t *ids = json_array();
    for (size_t k = 0; k < r->n_keys; k++)
        json_array_append_new(ids, json_string(r->dids[k]));
    size_t pending = 0;
    for (const s_attempt_t *a = r->attempts; a; a = a->next)
        pending++;
    return json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "identities", ids,
                     "rules", (json_int_t) r->rules, "pending", (json_int_t) pending, "runs",
                     (json_int_t) r->runs, "proposed", (json_int_t) r->proposed, "done",
                     (json_int_t) r->done, "already_done", (json_int_t) r->duplicates,
                     "failed", (json_int_t) r->failed, "retries", (json_int_t) r->retries,
                     "checkpoint", (json_int_t) r->checkpoint);
}
