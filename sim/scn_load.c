/*
 * scn_load.c — the `load` and `churn` scenarios: money moved in small
 * amounts between parties spread over every node, as fast as the network
 * answers or at --rate. churn runs the same workload while the run makes
 * followers leave and join; a payer whose node is away is skipped until it
 * is back.
 *
 * Set-up: LOAD_PAYERS_PER_WORKER payers per worker, payer p registered at
 * node p mod N (followers included: a party belongs to the organisation of
 * the node it registers at), its payee at another node; each payer issued
 * LOAD_ISSUE_CENTS by the first node whose organisation holds `issuer`,
 * signed with that node's key. Work: each worker moves 1 cent from one of
 * its own payers to that payer's payee (wallet.transfer), taking its payers
 * in turn; no two workers touch one wallet, so no MVCC conflicts are made
 * on purpose (after an unknown outcome the next transfer of that payer may
 * still lose to it).
 *
 * State (s->state, owned): the payers' keys, read-only once the workers
 * run; each worker signs only with its own payers' keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "did.h"
#include "scenario.h"

#define LOAD_PAYERS_PER_WORKER 2
#define LOAD_ISSUE_CENTS 100000000   /* a million transfers' worth per payer */
#define LOAD_AWAY_NAP_MS 50          /* when every payer's node of a worker is away */

typedef struct {
    vl_key_t *key;                   /* owned */
    int node;                        /* the node it registered at (its organisation's) */
    char did[VL_DID_BUF];
    char payee[VL_DID_BUF];
} s_payer_t;

typedef struct {
    int per_worker;
    int n;
    s_payer_t *payers;               /* owned: [n], worker w's are [w*per_worker ...] */
} s_load_t;

static void
s_destroy(sim_scn_t *s)
{
    s_load_t *st = s->state;
    if (!st)
        return;
    for (int p = 0; p < st->n; p++)
        vl_key_destroy(&st->payers[p].key);
    free(st->payers);
    free(st);
    s->state = NULL;
}

static int
s_issuer(const sim_net_t *net)
{
    for (int i = 0; i < net->n; i++)
        if (net->node[i].issuer)
            return i;
    return -1;
}

static int
s_setup(sim_scn_t *s, vl_err_t *err)
{
    sim_net_t *net = s->net;
    int issuer = s_issuer(net);
    if (issuer < 0)
        return vl_err_set(err, VL_ERR_STATE, "load set-up: no node's organisation holds the "
                          "role issuer, so nobody can issue the payers' money");
    s_load_t *st = calloc(1, sizeof *st);
    int workers = s->workers > 0 ? s->workers : 1;
    if (st) {
        st->per_worker = net->n > 1 ? LOAD_PAYERS_PER_WORKER : 1;
        st->payers = calloc((size_t) (workers * st->per_worker), sizeof *st->payers);
    }
    if (!st || !st->payers) {
        free(st);
        return vl_err_set(err, VL_ERR_NOMEM, "load set-up: out of memory");
    }
    s->state = st;
    vl_err_t e = { "" };
    vl_key_t *issuer_key = vl_key_load_pem(net->node[issuer].key, &e);
    if (!issuer_key)
        return vl_err_set(err, VL_ERR_INVALID, "load set-up: node%d's key: %s", issuer, e.msg);
    client_t *slots[SIM_NODES_MAX] = { 0 };
    int rc = 0;
    /* Parties live on the nodes running now (churn starts some later). */
    int up[SIM_NODES_MAX], n_up = 0;
    for (int i = 0; i < net->n; i++)
        if (sim_node_up(net, i))
            up[n_up++] = i;
    for (int p = 0; p < workers * st->per_worker && rc == 0; p++) {
        s_payer_t *py = &st->payers[p];
        int k = p % n_up;
        py->node = up[k];
        /* Payees rotate over the other nodes, so every pair of
         * organisations carries some of the traffic. */
        int payee_node = n_up > 1 ? up[(k + 1 + (p / n_up) % (n_up - 1)) % n_up] : up[0];
        vl_key_t *payee = vl_key_generate();
        py->key = vl_key_generate();
        st->n = p + 1;
        if (!payee || !py->key) {
            vl_key_destroy(&payee);
            rc = vl_err_set(err, VL_ERR_NOMEM, "load set-up: cannot generate keys");
            break;
        }
        vl_did_from_public(vl_key_public(py->key), py->did);
        vl_did_from_public(vl_key_public(payee), py->payee);
        char name[32];
        snprintf(name, sizeof name, "payer-%d", p);
        rc = sim_scn_register(s, py->node, slots, py->key, name, "buyer", err);
        snprintf(name, sizeof name, "payee-%d", p);
        if (rc == 0)
            rc = sim_scn_register(s, payee_node, slots, payee, name, "seller", err);
        vl_key_destroy(&payee);
        if (rc == 0) {
            sim_scn_add_did(s, py->did);
            sim_scn_add_did(s, py->payee);
            json_t *args = json_pack("{s:s, s:I}", "to", py->did, "cents",
                                     (json_int_t) LOAD_ISSUE_CENTS);
            char step[80];
            snprintf(step, sizeof step, "issuing money to payer-%d", p);
            rc = sim_scn_setup_tx(s, issuer, slots, issuer_key, step, "wallet", "issue", args,
                                  NULL, err);
            json_decref(args);
        }
    }
    sim_scn_clients_destroy(slots);
    vl_key_destroy(&issuer_key);
    if (rc == 0 && !s->quiet)
        fprintf(stderr, "load: %d payers over %d nodes, money issued by node%d\n", st->n, net->n,
                issuer);
    return rc;
}

static void
s_work(sim_scn_t *s, int worker, int64_t end_ms)
{
    s_load_t *st = s->state;
    if (!st || (worker + 1) * st->per_worker > st->n)
        return;
    s_payer_t *mine = &st->payers[worker * st->per_worker];
    json_t *args[LOAD_PAYERS_PER_WORKER] = { 0 };
    for (int j = 0; j < st->per_worker; j++)
        args[j] = json_pack("{s:s, s:i}", "to", mine[j].payee, "cents", 1);
    client_t *slots[SIM_NODES_MAX] = { 0 };
    int64_t next = 0;
    int turn = 0;
    while (vl_wall_ms() < end_ms) {
        if (!sim_pace(s, worker, &next, end_ms))
            break;
        client_t *c = NULL;
        s_payer_t *py = NULL;
        for (int k = 0; k < st->per_worker && !c; k++) {
            turn = (turn + 1) % st->per_worker;
            py = &mine[turn];
            c = sim_net_client(s->net, py->node, &slots[py->node], s->timeout_ms);
        }
        if (!c) {
            sim_scn_nap(LOAD_AWAY_NAP_MS);
            continue;
        }
        vl_err_t e = { "" };
        sim_transact(s, c, py->key, "wallet", "transfer", args[turn], NULL, &e);
    }
    for (int j = 0; j < st->per_worker; j++)
        json_decref(args[j]);
    sim_scn_clients_destroy(slots);
}

const sim_scenario_t sim_scenario_load = {
    .name = "load", .prepare = NULL, .setup = s_setup, .work = s_work, .finish = NULL,
    .destroy = s_destroy,
};

/* The run makes followers leave and join; the workload is load's. */
const sim_scenario_t sim_scenario_churn = {
    .name = "churn", .prepare = NULL, .setup = s_setup, .work = s_work, .finish = NULL,
    .destroy = s_destroy,
};
