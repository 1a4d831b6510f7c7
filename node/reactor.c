/*
 * reactor.c — scheduled payments and deadlines (DESIGN §5): after each
 * committed block, when the earliest schedule/<due-ms>/<id> entry is due by
 * the block's timestamp, the node proposes `schedule.run_due {}` under its
 * key, has it endorsed on the worker pool and admits the transaction. The
 * contract runs what is due as of the proposal time and refuses a second run
 * of the same entry, so a duplicate or retried reactor tx never pays twice.
 *
 * One node acts for the network: the first validator in genesis order.
 * Reactors on every node would race the same due entry into the mempool,
 * and all but one copy would fail validation. Loop thread (a commit subscriber); the contract
 * runs on a worker.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "clock.h"
#include "codec.h"
#include "log.h"
#include "node_internal.h"

typedef struct {
    int64_t due;
    bool found;
} s_first_t;

static int
s_first_cb(void *arg, const char *key, size_t key_len, const char *value, size_t value_len,
           vl_version_t version)
{
    s_first_t *f = arg;
    const char *p = key + strlen("schedule/");
    if (key_len > strlen("schedule/")) {
        f->due = strtoll(p, NULL, 10);
        f->found = true;
    }
    return 1;  /* the first key is enough: keys sort by due time */
}

typedef struct {
    node_t *node;
    int64_t due;
    uint8_t *proposal;            /* owned: SignedProposal bytes */
    size_t proposal_len;
} s_run_t;

static void
s_log(const char *what, int64_t due, const uint8_t *txid, const char *reason)
{
    char hex[65] = "-", q[300];
    if (txid)
        vl_hex_encode(txid, VL_HASH_SIZE, hex);
    if (reason)
        vl_info("reactor", what, "due=%" PRId64 " txid=%s reason=%s", due, hex,
                vl_log_quote(reason, q, sizeof q));
    else
        vl_info("reactor", what, "due=%" PRId64 " txid=%s", due, hex);
}

static void
s_admitted(void *arg, int rc, const uint8_t *txid, const vl_err_t *err)
{
    s_run_t *run = arg;
    s_log(rc == 0 ? "schedule.submitted" : "schedule.skipped", run->due, txid,
          rc == 0 ? NULL : err->msg);
    free(run);
}

static void
s_endorsed(void *arg, int rc, const endorsement_t *en, const vl_err_t *err)
{
    s_run_t *run = arg;
    node_t *node = run->node;
    uint8_t *tx = NULL;
    size_t tx_len = 0;
    vl_err_t e = { "" };
    if (rc == 0)
        rc = client_build_transaction(run->proposal, run->proposal_len, en->result,
                                      en->result_len, vl_key_public(node->key), VL_PUBKEY_SIZE,
                                      en->signature, VL_SIG_SIZE, &tx, &tx_len, &e);
    else
        e = *err;
    free(run->proposal);
    run->proposal = NULL;
    if (rc != 0) {
        s_log("schedule.skipped", run->due, NULL, e.msg);
        free(run);
        return;
    }
    node_admit(node, tx, tx_len, ADMIT_LOCAL, s_admitted, run);
    free(tx);
}

void
reactor_on_commit(void *arg, const commit_event_t *event)
{
    node_t *node = arg;
    int64_t block_ms = event->block->view->header->timestamp_ms;
    if (!node_bft_is_first(node->bft))
        return;
    s_first_t first = { 0, false };
    if (ledger_range(node->ledger, "schedule/", 1, s_first_cb, &first) < 0 || !first.found
        || first.due > block_ms)
        return;
    uint64_t nonce = 0;
    vl_random_bytes(&nonce, sizeof nonce);
    int64_t now = vl_wall_ms();
    if (now < block_ms)
        now = block_ms;
    s_run_t *run = calloc(1, sizeof *run);
    uint8_t txid[VL_HASH_SIZE];
    vl_err_t err = { "" };
    json_t *args = json_object();
    int rc = run ? client_build_proposal(node->key, node->genesis.chain_id, "schedule",
                                         "run_due", args, nonce, now, &run->proposal,
                                         &run->proposal_len, txid, &err)
                 : vl_err_set(&err, VL_ERR_NOMEM, "out of memory");
    json_decref(args);
    if (rc == 0) {
        run->node = node;
        run->due = first.due;
        rc = node_endorse(node, run->proposal, run->proposal_len, s_endorsed, run);
        if (rc != 0)
            vl_err_set(&err, rc, "node is busy (%s)", vl_strerror(rc));
    }
    if (rc != 0) {
        s_log("schedule.skipped", first.due, NULL, err.msg);
        if (run)
            free(run->proposal);
        free(run);
    }
}
