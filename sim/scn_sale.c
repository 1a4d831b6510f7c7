/*
 * scn_sale.c — the `sale` scenario: the financed sale of ./scripts/demo,
 * again and again, each time with a fresh vehicle and the same five
 * parties, the steps of the organisations run by their own nodes' rules
 * (reactors) and the steps of people sent by the simulator.
 *
 * The network is the demo's (--orgs agency:title_agency+registration_
 * authority+validator,seller:dealer+validator,buyer,lender:lender+issuer+
 * validator,insurer:insurer+validator; more followers of their own may
 * follow). One party per organisation, its key held by its organisation's
 * node (prepare: node.json "identities"), so that node runs its rules.
 *
 * One flow, who acts, and what the simulator waits for (polling
 * vehicle.get / sale.get through a party's node, bounded in time):
 *
 *   seller  title.onboard {vin, make, model, year, extra, agency}
 *           (agency's rule: title.answer issue)       -> title valid
 *   seller  title.request_registration {vin, authority}
 *           (agency's rule: title.register)           -> registered
 *   buyer   sale.request {vin, price 800000, finance {lender, 700000}, ...}
 *           (seller's rule answers with its floor 850000, the seller's
 *            conditions judged on its node; buyer's rule accepts;
 *            lender's rule confirms)                  -> agreed, lender confirmed
 *   seller  sale.confirm {vin, id}; buyer sale.confirm {vin, id}: settles
 *           (agency's rule: title.register for the buyer) -> registered to buyer
 *   buyer   insurance.request {vin, provider, policy, coverage, premium, ...}
 *           (insurer's rule: insurance.approve)       -> insurance active
 *   buyer   keys.use {vin, key_id}                   -> done
 *
 * The next step is read from the ledger each time (never from a counter),
 * so a transaction whose outcome was unknown, lost to MVCC or was seen late
 * by a lagging replica is simply looked at again. A flow that makes no
 * progress for SALE_STUCK_MS is given up with a "sale_completed"
 * violation; one still running when the run ends is driven on by finish
 * until its deadline.
 *
 * Concurrency: at most SALE_FLOWS_MAX workers run flows (the others return
 * at once): every flow moves the same five wallets, and more flows at once
 * would mostly measure MVCC retries of the rules. Each worker signs with
 * its own copies of the parties' keys (a vl_key_t is one thread's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "did.h"
#include "scenario.h"

#define SALE_FLOWS_MAX 3
#define SALE_POLL_MS 100
#define SALE_STUCK_MS 120000
#define SALE_PRICE 800000
#define SALE_FINANCED 700000
#define SALE_YEAR_MS (365LL * 86400000LL)

enum { P_AGENCY, P_SELLER, P_BUYER, P_LENDER, P_INSURER, P_COUNT };

static const struct {
    const char *org, *role, *contract, *file;
    const char *topics[2], *functions[2];
} s_cast[P_COUNT] = {
    { "agency", "owner", "agency_rules", "rules/agency.lua",
      { "event.title.requested", "event.registration.requested" },
      { "on_title", "on_registration" } },
    { "seller", "seller", "seller_rules", "rules/seller.lua",
      { "event.sale.requested", "event.sale.offered" }, { "on_request", "on_offer" } },
    { "buyer", "buyer", "buyer_rules", "rules/buyer.lua",
      { "event.sale.offered", NULL }, { "on_offer", NULL } },
    { "lender", "owner", "lender_rules", "rules/lender.lua",
      { "event.sale.agreed", NULL }, { "on_agreed", NULL } },
    { "insurer", "owner", "insurer_rules", "rules/insurer.lua",
      { "event.insurance.requested", NULL }, { "on_request", NULL } },
};

/* The privileged roles each organisation's node enrols its party in. */
static const struct {
    int party;
    const char *role;
} s_enrol[] = {
    { P_AGENCY, "title_agency" }, { P_AGENCY, "registration_authority" },
    { P_SELLER, "dealer" }, { P_LENDER, "lender" }, { P_INSURER, "insurer" },
};

static const struct {
    int party;
    long long cents;
} s_money[] = {
    { P_SELLER, 1000000 }, { P_BUYER, 2000000000LL }, { P_LENDER, 4000000000LL },
};

typedef struct {
    int node;                         /* its organisation's (first) node */
    char did[VL_DID_BUF];
    char pem[SIM_PATH_MAX + 64];      /* DIR/nodeI/ORG.pem, held by that node */
} s_party_t;

typedef struct {
    bool active;
    char vin[18];
    char sale_id[40];
    int reader;                       /* party whose node the last step went through */
    int64_t started_ms, progress_ms;
    char stage[64];                   /* what it is at / waits for */
    bool vin_added, insurance_asked;
} s_flow_t;

typedef struct {
    vl_key_t *keys[P_COUNT];          /* owned: this worker's copies */
    s_flow_t flow;
    uint64_t rnd;
    uint64_t flows;                   /* flows started */
    uint64_t completed;
} s_worker_t;

typedef struct {
    s_party_t party[P_COUNT];
    int flows_max;
    s_worker_t *w;                    /* owned: [flows_max] */
} s_sale_t;

static void
s_destroy(sim_scn_t *s)
{
    s_sale_t *st = s->state;
    if (!st)
        return;
    for (int k = 0; st->w && k < st->flows_max; k++)
        for (int p = 0; p < P_COUNT; p++)
            vl_key_destroy(&st->w[k].keys[p]);
    free(st->w);
    free(st);
    s->state = NULL;
}

static int
s_prepare(sim_scn_t *s, vl_err_t *err)
{
    s_sale_t *st = calloc(1, sizeof *st);
    if (!st)
        return vl_err_set(err, VL_ERR_NOMEM, "sale prepare: out of memory");
    s->state = st;
    st->flows_max = s->workers < SALE_FLOWS_MAX ? (s->workers > 0 ? s->workers : 1)
                                                 : SALE_FLOWS_MAX;
    st->w = calloc((size_t) st->flows_max, sizeof *st->w);
    if (!st->w)
        return vl_err_set(err, VL_ERR_NOMEM, "sale prepare: out of memory");
    for (int p = 0; p < P_COUNT; p++) {
        s_party_t *pt = &st->party[p];
        pt->node = sim_net_find_org(s->net, s_cast[p].org);
        if (pt->node < 0)
            return vl_err_set(err, VL_ERR_STATE, "sale prepare: the network has no "
                              "organisation '%s' (the sale scenario needs the demo's --orgs)",
                              s_cast[p].org);
        vl_key_t *key = NULL;
        int rc = sim_scn_hold_key(s, pt->node, s_cast[p].org, &key, err);
        if (rc)
            return rc;
        vl_did_from_public(vl_key_public(key), pt->did);
        vl_key_destroy(&key);
        snprintf(pt->pem, sizeof pt->pem, "%s/%s.pem", s->net->node[pt->node].dir,
                 s_cast[p].org);
    }
    return 0;
}

/* Loads the five keys into keys[] (owned by the caller). */
static int
s_load_keys(const s_sale_t *st, vl_key_t **keys, vl_err_t *err)
{
    for (int p = 0; p < P_COUNT; p++) {
        if (keys[p])
            continue;
        vl_err_t e = { "" };
        if (!(keys[p] = vl_key_load_pem(st->party[p].pem, &e)))
            return vl_err_set(err, VL_ERR_INVALID, "sale: the key of %s: %s", s_cast[p].org,
                              e.msg);
    }
    return 0;
}

static int
s_setup_steps(sim_scn_t *s, s_sale_t *st, vl_key_t **keys, client_t **slots, vl_err_t *err)
{
    char step[160];
    int rc = 0;
    for (int p = 0; p < P_COUNT && rc == 0; p++) {
        rc = sim_scn_register(s, st->party[p].node, slots, keys[p], s_cast[p].org,
                              s_cast[p].role, err);
        sim_scn_add_did(s, st->party[p].did);
    }
    for (size_t k = 0; k < sizeof s_enrol / sizeof s_enrol[0] && rc == 0; k++) {
        const s_party_t *pt = &st->party[s_enrol[k].party];
        vl_err_t e = { "" };
        vl_key_t *node_key = vl_key_load_pem(s->net->node[pt->node].key, &e);
        if (!node_key)
            return vl_err_set(err, VL_ERR_INVALID, "sale set-up: node%d's key: %s", pt->node,
                              e.msg);
        json_t *args = json_pack("{s:s, s:s}", "did", pt->did, "role", s_enrol[k].role);
        snprintf(step, sizeof step, "enrolling %s as %s", s_cast[s_enrol[k].party].org,
                 s_enrol[k].role);
        rc = sim_scn_setup_tx(s, pt->node, slots, node_key, step, "identity", "enrol", args,
                              NULL, err);
        json_decref(args);
        vl_key_destroy(&node_key);
    }
    int issuer = -1;
    for (int i = 0; i < s->net->n && issuer < 0; i++)
        issuer = s->net->node[i].issuer ? i : -1;
    if (rc == 0 && issuer < 0)
        return vl_err_set(err, VL_ERR_STATE, "sale set-up: no organisation holds issuer");
    vl_err_t e = { "" };
    vl_key_t *issuer_key = rc == 0 ? vl_key_load_pem(s->net->node[issuer].key, &e) : NULL;
    if (rc == 0 && !issuer_key)
        return vl_err_set(err, VL_ERR_INVALID, "sale set-up: node%d's key: %s", issuer, e.msg);
    for (size_t k = 0; k < sizeof s_money / sizeof s_money[0] && rc == 0; k++) {
        json_t *args = json_pack("{s:s, s:I}", "to", st->party[s_money[k].party].did, "cents",
                                 (json_int_t) s_money[k].cents);
        snprintf(step, sizeof step, "issuing money to %s", s_cast[s_money[k].party].org);
        rc = sim_scn_setup_tx(s, issuer, slots, issuer_key, step, "wallet", "issue", args, NULL,
                              err);
        json_decref(args);
    }
    vl_key_destroy(&issuer_key);
    for (int p = 0; p < P_COUNT && rc == 0; p++) {
        char *source = NULL;
        if ((rc = sim_scn_read_contract(s_cast[p].file, &source, err)) != 0)
            break;
        json_t *args = json_pack("{s:s, s:s}", "name", s_cast[p].contract, "source", source);
        free(source);
        snprintf(step, sizeof step, "deploying %s", s_cast[p].contract);
        rc = sim_scn_setup_tx(s, st->party[p].node, slots, keys[p], step, "contract", "deploy",
                              args, NULL, err);
        json_decref(args);
        for (int t = 0; t < 2 && s_cast[p].topics[t] && rc == 0; t++) {
            args = json_pack("{s:s, s:s, s:s, s:{}}", "topic", s_cast[p].topics[t], "contract",
                             s_cast[p].contract, "function", s_cast[p].functions[t], "match");
            snprintf(step, sizeof step, "adding the %s rule %s.%s", s_cast[p].org,
                     s_cast[p].contract, s_cast[p].functions[t]);
            rc = sim_scn_setup_tx(s, st->party[p].node, slots, keys[p], step, "reactor", "add",
                                  args, NULL, err);
            json_decref(args);
        }
    }
    return rc;
}

static int
s_setup(sim_scn_t *s, vl_err_t *err)
{
    s_sale_t *st = s->state;
    if (!st)
        return vl_err_set(err, VL_ERR_STATE, "sale set-up: prepare did not run");
    vl_key_t *keys[P_COUNT] = { 0 };
    client_t *slots[SIM_NODES_MAX] = { 0 };
    int rc = s_load_keys(st, keys, err);
    if (rc == 0)
        rc = s_setup_steps(s, st, keys, slots, err);
    sim_scn_clients_destroy(slots);
    for (int p = 0; p < P_COUNT; p++)
        vl_key_destroy(&keys[p]);
    for (int k = 0; k < st->flows_max; k++)
        st->w[k].rnd = s->seed ^ (0x5a1e0000ULL + (uint64_t) k);
    if (rc == 0 && !s->quiet)
        fprintf(stderr, "sale: 5 parties at nodes %d..%d, rules deployed; %d flows at a time\n",
                st->party[0].node, st->party[P_COUNT - 1].node, st->flows_max);
    return rc;
}

/* --- One flow ------------------------------------------------------------ */

/* A client for a party's node: the one the flow last went through first (a
 * replica that has the flow's last commit), else any party's node up. */
static client_t *
s_reader(sim_scn_t *s, const s_sale_t *st, s_flow_t *f, client_t **slots)
{
    client_t *c = sim_scn_client(s, st->party[f->reader].node, slots, 0);
    for (int p = 0; p < P_COUNT && !c; p++)
        if ((c = sim_scn_client(s, st->party[p].node, slots, 0)) != NULL)
            f->reader = p;
    return c;
}

static void
s_stage(s_flow_t *f, const char *stage)
{
    if (strcmp(f->stage, stage) != 0) {
        snprintf(f->stage, sizeof f->stage, "%s", stage);
        f->progress_ms = vl_wall_ms();
    }
}

/* party acts: contract.function(args) through its own node; args stolen. A
 * commit counts as progress. Returns client_transact's code (VL_ERR_STATE
 * when the party's node is not up). */
static int
s_act(sim_scn_t *s, const s_sale_t *st, s_worker_t *w, client_t **slots, int party,
      const char *contract, const char *function, json_t *args, json_t **result)
{
    s_flow_t *f = &w->flow;
    client_t *c = sim_scn_client(s, st->party[party].node, slots, 0);
    if (!c) {
        json_decref(args);
        sim_scn_nap(SALE_POLL_MS);
        return VL_ERR_STATE;
    }
    json_t *out = NULL;
    vl_err_t e = { "" };
    int rc = sim_transact(s, c, w->keys[party], contract, function, args, &out, &e);
    json_decref(args);
    f->reader = party;
    if (rc == 0) {
        f->progress_ms = vl_wall_ms();
        if (result)
            *result = json_incref(json_object_get(out, "result"));
    } else {
        /* Lost, refused or unknown: the next look at the ledger decides. */
        sim_scn_nap(SALE_POLL_MS);
    }
    json_decref(out);
    return rc;
}

/* The key id of the newest unrevoked key held by did, or NULL (borrowed from v). */
static const char *
s_key_of(const json_t *v, const char *did)
{
    json_t *keys = json_object_get(v, "keys");
    for (size_t i = json_array_size(keys); i > 0; i--) {
        json_t *k = json_array_get(keys, i - 1);
        if (strcmp(sim_str(k, "holder"), did) == 0 && !json_is_true(json_object_get(k, "revoked")))
            return json_string_value(json_object_get(k, "key_id"));
    }
    return NULL;
}

/* The steps of an open sale of the flow's vehicle. 1: keep going. */
static int
s_sale_steps(sim_scn_t *s, const s_sale_t *st, s_worker_t *w, client_t **slots, client_t *c)
{
    s_flow_t *f = &w->flow;
    vl_err_t e = { "" };
    json_t *q = NULL, *args = json_pack("{s:s}", "vin", f->vin);
    if (f->sale_id[0])
        json_object_set_new(args, "id", json_string(f->sale_id));
    int rc = sim_scn_query(c, "sale", "get", args, &q, &e);
    json_decref(args);
    if (rc) {
        sim_scn_nap(SALE_POLL_MS);
        return 1;
    }
    if (!f->sale_id[0]) {
        /* A request whose answer was lost may have committed: adopt it. */
        size_t i;
        json_t *sale;
        json_array_foreach(json_object_get(q, "sales"), i, sale) {
            const char *status = sim_str(sale, "status");
            if (strcmp(sim_str(sale, "buyer"), st->party[P_BUYER].did) == 0
                && (!strcmp(status, "requested") || !strcmp(status, "negotiating")
                    || !strcmp(status, "agreed")))
                snprintf(f->sale_id, sizeof f->sale_id, "%s", sim_str(sale, "id"));
        }
        json_decref(q);
        if (f->sale_id[0])
            return 1;
        s_stage(f, "purchase request");
        json_t *res = NULL;
        args = json_pack("{s:s, s:i, s:{s:s, s:i}, s:i, s:I}", "vin", f->vin, "price",
                         SALE_PRICE, "finance", "lender", st->party[P_LENDER].did, "amount",
                         SALE_FINANCED, "months", 12, "period_ms", (json_int_t) 2592000000LL);
        if (s_act(s, st, w, slots, P_BUYER, "sale", "request", args, &res) == 0)
            snprintf(f->sale_id, sizeof f->sale_id, "%s", sim_str(res, "id"));
        json_decref(res);
        return 1;
    }
    const char *status = sim_str(q, "status");
    json_t *conf = json_object_get(q, "confirmations");
    if (!strcmp(status, "negotiating") || !strcmp(status, "requested")) {
        s_stage(f, "the seller's and buyer's rules to agree");
        sim_scn_nap(SALE_POLL_MS);
    } else if (!strcmp(status, "agreed") && !json_object_get(conf, "lender")) {
        s_stage(f, "the lender's rule to confirm");
        sim_scn_nap(SALE_POLL_MS);
    } else if (!strcmp(status, "agreed")) {
        int who = !json_object_get(conf, "seller") ? P_SELLER : P_BUYER;
        s_stage(f, who == P_SELLER ? "seller's confirmation" : "buyer's confirmation");
        args = json_pack("{s:s, s:s}", "vin", f->vin, "id", f->sale_id);
        s_act(s, st, w, slots, who, "sale", "confirm", args, NULL);
    } else if (!strcmp(status, "settled")) {
        s_stage(f, "the settlement to be seen");   /* a lagging replica */
        sim_scn_nap(SALE_POLL_MS);
    } else {
        snprintf(f->stage, sizeof f->stage, "sale %.16s ended %.24s", f->sale_id, status);
        json_decref(q);
        return -1;
    }
    json_decref(q);
    return 1;
}

/* One look at the flow's vehicle and at most one step: 1 keep going, 0
 * done, -1 failed (f->stage says where). */
static int
s_step(sim_scn_t *s, const s_sale_t *st, s_worker_t *w, client_t **slots)
{
    s_flow_t *f = &w->flow;
    client_t *c = s_reader(s, st, f, slots);
    if (!c) {
        sim_scn_nap(SALE_POLL_MS);
        return 1;
    }
    json_t *v = NULL, *params = json_pack("{s:s}", "vin", f->vin), *args = NULL;
    vl_err_t e = { "" };
    int rc = client_call(c, "vehicle.get", params, &v, &e);
    json_decref(params);
    if (rc == VL_ERR_NOT_FOUND) {
        s_stage(f, "onboarding");
        args = json_pack("{s:s, s:s, s:s, s:i, s:{s:i, s:s}, s:s}", "vin", f->vin, "make",
                         "Honda", "model", "Accord", "year", 2019, "extra", "mileage", 42000,
                         "color", "silver", "agency", st->party[P_AGENCY].did);
        s_act(s, st, w, slots, P_SELLER, "title", "onboard", args, NULL);
        return 1;
    }
    if (rc) {
        sim_scn_nap(SALE_POLL_MS);
        return 1;
    }
    if (!f->vin_added) {
        sim_scn_add_vin(s, f->vin);
        f->vin_added = true;
    }
    const char *owner = sim_str(v, "owner");
    json_t *title = json_object_get(v, "title"), *reg = json_object_get(v, "registration");
    json_t *ins = json_object_get(v, "insurance");
    const char *reg_status = sim_str(reg, "status");
    int result = 1;
    if (!strcmp(owner, st->party[P_SELLER].did)) {
        if (strcmp(sim_str(title, "status"), "valid") != 0) {
            s_stage(f, "the agency's rule to issue the title");
            sim_scn_nap(SALE_POLL_MS);
        } else if (!strcmp(reg_status, "pending")) {
            s_stage(f, "the agency's rule to register");
            sim_scn_nap(SALE_POLL_MS);
        } else if (strcmp(reg_status, "registered") != 0) {
            s_stage(f, "registration request");
            args = json_pack("{s:s, s:s}", "vin", f->vin, "authority", st->party[P_AGENCY].did);
            s_act(s, st, w, slots, P_SELLER, "title", "request_registration", args, NULL);
        } else {
            result = s_sale_steps(s, st, w, slots, c);
        }
    } else if (!strcmp(owner, st->party[P_BUYER].did)) {
        const char *key_id = s_key_of(v, owner);
        if (strcmp(reg_status, "registered") != 0 || strcmp(sim_str(reg, "holder"), owner) != 0) {
            s_stage(f, "the agency's rule to register to the buyer");
            sim_scn_nap(SALE_POLL_MS);
        } else if (strcmp(sim_str(ins, "state"), "active") != 0 && f->insurance_asked) {
            s_stage(f, "the insurer's rule to approve");
            sim_scn_nap(SALE_POLL_MS);
        } else if (strcmp(sim_str(ins, "state"), "active") != 0) {
            s_stage(f, "insurance request");
            char policy[40];
            snprintf(policy, sizeof policy, "POL-%s", f->vin + 9);
            args = json_pack("{s:s, s:s, s:s, s:i, s:i, s:I, s:I}", "vin", f->vin, "provider",
                             st->party[P_INSURER].did, "policy", policy, "coverage", 3000000,
                             "premium", 9000, "period_ms", (json_int_t) 2592000000LL,
                             "valid_until", (json_int_t) (vl_wall_ms() + SALE_YEAR_MS));
            f->insurance_asked = s_act(s, st, w, slots, P_BUYER, "insurance", "request", args,
                                       NULL) == 0;
        } else if (!key_id) {
            snprintf(f->stage, sizeof f->stage, "no key of the buyer after the sale");
            result = -1;
        } else {
            s_stage(f, "key use");
            args = json_pack("{s:s, s:s}", "vin", f->vin, "key_id", key_id);
            json_t *res = NULL;
            if (s_act(s, st, w, slots, P_BUYER, "keys", "use", args, &res) == 0) {
                result = 0;
                if (!json_is_true(json_object_get(res, "allowed")))
                    sim_rec_violation(s->rec, "sale_key_use", -1, -1,
                                      "vehicle %s: the buyer's key use was denied: %.120s",
                                      f->vin, sim_str(res, "message"));
            }
            json_decref(res);
        }
    } else {
        snprintf(f->stage, sizeof f->stage, "owned by neither party (%.36s)", owner);
        result = -1;
    }
    json_decref(v);
    return result;
}

static void
s_start(sim_scn_t *s, s_worker_t *w, int worker)
{
    s_flow_t *f = &w->flow;
    memset(f, 0, sizeof *f);
    f->active = true;
    f->reader = P_SELLER;
    sim_scn_vin('S', worker, w->flows++, &w->rnd, f->vin);
    f->started_ms = f->progress_ms = vl_wall_ms();
    snprintf(f->stage, sizeof f->stage, "start");
}

static void
s_fail(sim_scn_t *s, s_flow_t *f, const char *why)
{
    sim_rec_violation(s->rec, "sale_completed", -1, -1,
                      "vehicle %s (sale %s) did not complete: %s at '%s' after %lld s", f->vin,
                      f->sale_id[0] ? f->sale_id : "-", why, f->stage,
                      (long long) ((vl_wall_ms() - f->started_ms) / 1000));
    f->active = false;
}

/* Drives w's flow until it ends or until_ms; true when it is no longer active. */
static bool
s_drive(sim_scn_t *s, s_sale_t *st, s_worker_t *w, client_t **slots, int64_t until_ms,
        bool once)
{
    s_flow_t *f = &w->flow;
    do {
        int r = s_step(s, st, w, slots);
        if (r == 0) {
            f->active = false;
            w->completed++;
        } else if (r < 0) {
            s_fail(s, f, "the sale went wrong");
        } else if (vl_wall_ms() - f->progress_ms > SALE_STUCK_MS) {
            s_fail(s, f, "no progress");
        }
    } while (f->active && !once && vl_wall_ms() < until_ms);
    return !f->active;
}

static void
s_work(sim_scn_t *s, int worker, int64_t end_ms)
{
    s_sale_t *st = s->state;
    if (!st || worker >= st->flows_max)
        return;
    s_worker_t *w = &st->w[worker];
    vl_err_t e = { "" };
    if (s_load_keys(st, w->keys, &e) != 0) {
        sim_rec_violation(s->rec, "sale_completed", -1, -1, "worker %d: %s", worker, e.msg);
        return;
    }
    client_t *slots[SIM_NODES_MAX] = { 0 };
    int64_t next = 0;
    while (vl_wall_ms() < end_ms) {
        if (!w->flow.active) {
            if (!sim_pace(s, worker, &next, end_ms))
                break;
            s_start(s, w, worker);
        }
        s_drive(s, st, w, slots, end_ms, false);
    }
    sim_scn_clients_destroy(slots);
}

static int
s_finish(sim_scn_t *s, int64_t deadline_ms, vl_err_t *err)
{
    s_sale_t *st = s->state;
    if (!st)
        return 0;
    client_t *slots[SIM_NODES_MAX] = { 0 };
    /* Round robin, so one slow flow does not eat the others' time. */
    bool any = true;
    while (any && vl_wall_ms() < deadline_ms) {
        any = false;
        for (int k = 0; k < st->flows_max; k++)
            if (st->w[k].flow.active && st->w[k].keys[0])
                any = !s_drive(s, st, &st->w[k], slots, deadline_ms, true) || any;
    }
    sim_scn_clients_destroy(slots);
    uint64_t started = 0, completed = 0;
    for (int k = 0; k < st->flows_max; k++) {
        if (st->w[k].flow.active)
            s_fail(s, &st->w[k].flow, "still running at the deadline");
        started += st->w[k].flows;
        completed += st->w[k].completed;
    }
    if (!s->quiet)
        fprintf(stderr, "sale: %llu flows started, %llu completed\n",
                (unsigned long long) started, (unsigned long long) completed);
    return 0;
}

const sim_scenario_t sim_scenario_sale = {
    .name = "sale", .prepare = s_prepare, .setup = s_setup, .work = s_work,
    .finish = s_finish, .destroy = s_destroy,
};
