/*
 * reactor.c — scheduled payments and deadlines run when block time passes
 * their date (see reactor.h). Runs on the node's loop thread, from the
 * commit path; uses the node's VM and key like the API's endorse method.
 */
#include "reactor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "clock.h"
#include "codec.h"
#include "endorser.h"
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

void
reactor_after_block(node_t *node, int64_t block_ms)
{
    /* One node acts for the network: the orderer. Reactors on every node
     * would race the same due entry into the mempool, and all but one copy
     * would fail validation. */
    if (!node->orderer)
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
    uint8_t *proposal = NULL, *tx = NULL;
    size_t proposal_len = 0, tx_len = 0;
    uint8_t txid[VL_HASH_SIZE];
    vl_err_t err = { "" };
    endorsement_t en = { 0 };
    json_t *args = json_object();
    int rc = client_build_proposal(node->key, node->genesis.chain_id, "schedule", "run_due",
                                   args, nonce, now, &proposal,
                                   &proposal_len, txid, &err);
    json_decref(args);
    if (rc == 0) {
        endorser_ctx_t ctx = { node->genesis.chain_id, node->key, node->ledger, node->vm,
                               node->sigcache, now };
        rc = endorser_endorse(&ctx, proposal, proposal_len, &en, &err);
    }
    if (rc == 0)
        rc = client_build_transaction(proposal, proposal_len, en.result, en.result_len,
                                      vl_key_public(node->key), VL_PUBKEY_SIZE, en.signature,
                                      VL_SIG_SIZE, &tx, &tx_len, &err);
    int rpc_code = 0;
    if (rc == 0)
        rc = node_admit_tx(node, tx, tx_len, txid, &rpc_code, &err);
    char hex[65];
    vl_hex_encode(txid, sizeof txid, hex);
    if (rc == 0)
        vl_info("reactor", "schedule.submitted", "due=%" PRId64 " txid=%s", first.due, hex);
    else {
        char q[300];
        vl_info("reactor", "schedule.skipped", "due=%" PRId64 " reason=%s", first.due,
                vl_log_quote(err.msg, q, sizeof q));
    }
    endorsement_clear(&en);
    free(proposal);
    free(tx);
}
