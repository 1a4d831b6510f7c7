/*
 * scn_market.c — the `market` scenario: many vehicles and traders on many
 * nodes, every step a real contract call sent by the simulator (no rules:
 * the people of each organisation are the simulator), picked at random.
 *
 * Parties (set-up): the agency A (title_agency + registration_authority),
 * the lender L and the insurer I, each registered at its organisation's
 * node and enrolled there; MARKET_TRADERS_PER_WORKER traders per worker
 * (at least MARKET_TRADERS_MIN), registered round robin at the seller's,
 * the buyer's and every follower's node (each joins the organisation of
 * the node it registers at), each issued MARKET_ISSUE_CENTS; a third of
 * them carry a buyer condition on their NFT-DID (price_ceiling,
 * mileage_ceiling or delivery_location from contracts/lib/conditions/).
 * Every key is saved in DIR/net/market/ so each worker signs with its own
 * copies (a vl_key_t is one thread's).
 *
 * Each worker keeps its own list of vehicles and loops, drawing from its
 * own stream (seed, worker) among:
 *   new vehicle   trader title.onboard {.., agency A}; A title.answer issue;
 *                 trader title.request_registration; A title.register
 *   sale          maybe a seller condition first (contract.deploy of
 *                 min_price | cash_only | accepted_lenders, attached to the
 *                 vehicle); buyer sale.request (cash or financed by L);
 *                 seller sale.answer, judged by the seller's conditions;
 *                 rounds of sale.offer by either side; sale.accept, judged
 *                 by the accepter's conditions (or sale.abort when nothing is
 *                 acceptable); sale.confirm by seller, buyer and L in a
 *                 random order, the last one settling; A title.register for
 *                 the new owner
 *   insurance     owner insurance.request (sometimes below the agency's
 *                 minimum: insurance.correct follows); I insurance.approve
 *   keys          owner keys.issue (owner key, maybe an operator key to
 *                 another trader); keys.use by a holder
 *   pairing       owner pairing.components (two component keys made
 *                 here); pairing.prepair of a device by its owner (now and
 *                 then too far away: refused); a key holder's device waits
 *                 for the owner's pairing.approve
 *   rival buyers  two buyers on different nodes request (the seller answers
 *                 both), accept and confirm
 *                 one vehicle at the same moment (a thread per buyer, a
 *                 barrier before each step): exactly one settlement may
 *                 commit; the other ends invalid (MVCC) or refused, which is
 *                 recorded as such; the loser then aborts its sale
 * A party whose node is away is skipped (the action is dropped); before a
 * party acts, its node is given a moment to reach the height of the
 * previous step (a poll of status, bounded), so steps read what came
 * before them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "codec.h"
#include "did.h"
#include "scenario.h"

#define MARKET_TRADERS_PER_WORKER 4
#define MARKET_TRADERS_MIN 8
#define MARKET_TRADERS_MAX 512
#define MARKET_VEHICLES_MAX 48         /* per worker */
#define MARKET_ISSUE_CENTS 1000000000LL
#define MARKET_NODE_WAIT_MS 1000       /* for a party's node to be up */
#define MARKET_CATCH_UP_MS 2000        /* for it to reach the previous step's height */
#define MARKET_RIVALS 2
#define MARKET_STAFF_MAX 8             /* identities per staff role */

/* Staff roles: the agency, the lender, the insurer (a pool of each). */
enum { M_AGENCY, M_LENDER, M_INSURER, M_ROLES };

typedef struct {
    int node;
    char did[VL_DID_BUF];
    char pem[SIM_PATH_MAX + 64];
} m_party_t;

typedef struct {
    char vin[18];
    int owner;                  /* party index, as last seen */
    int holder;                 /* an operator key's holder, or -1 */
    char owner_key[24], holder_key[24];
    vl_key_t *comp[2];          /* owned: its components' keys, once recorded */
    bool maybe;                 /* its onboarding's outcome is unknown: not a fact yet */
    int devices;
    uint64_t deploys;
} m_vehicle_t;

typedef struct {
    vl_key_t **keys;            /* owned: [n_parties], loaded on first use */
    client_t *slots[SIM_NODES_MAX];
    int staff[M_ROLES];         /* its agency, lender and insurer (party indices) */
    uint64_t rnd;
    long long height;           /* of the last step's commit */
    client_tx_fate_t fate;      /* of the last step */
    m_vehicle_t veh[MARKET_VEHICLES_MAX];
    int n_veh;
    uint64_t made;
} m_worker_t;

typedef struct {
    int n_parties;
    int staff;                  /* identities per staff role: parties [0, M_ROLES * staff) */
    int trader0;                /* the first trader's party index */
    m_party_t *party;           /* owned */
    int workers;
    m_worker_t *w;              /* owned: [workers] */
} m_state_t;

/* --- Set-up -------------------------------------------------------------- */

static void
s_worker_free(m_state_t *st, m_worker_t *w)
{
    for (int p = 0; w->keys && p < st->n_parties; p++)
        vl_key_destroy(&w->keys[p]);
    free(w->keys);
    w->keys = NULL;
    for (int v = 0; v < w->n_veh; v++)
        for (int k = 0; k < 2; k++)
            vl_key_destroy(&w->veh[v].comp[k]);
    sim_scn_clients_destroy(w->slots);
}

static void
s_destroy(sim_scn_t *s)
{
    m_state_t *st = s->state;
    if (!st)
        return;
    for (int k = 0; st->w && k < st->workers; k++)
        s_worker_free(st, &st->w[k]);
    free(st->w);
    free(st->party);
    free(st);
    s->state = NULL;
}

/* The nodes traders register at: the seller's, the buyer's and followers'. */
static int
s_trader_nodes(const sim_net_t *net, int *out)
{
    int n = 0;
    for (int i = 0; i < net->n; i++) {
        const sim_node_t *nd = &net->node[i];
        bool named = !strcmp(nd->org, "agency") || !strcmp(nd->org, "lender")
                     || !strcmp(nd->org, "insurer");
        if (!named)
            out[n++] = i;
    }
    return n;
}

static int
s_node_key_tx(sim_scn_t *s, client_t **slots, int node, const char *step, const char *contract,
              const char *function, json_t *args, vl_err_t *err)
{
    vl_err_t e = { "" };
    vl_key_t *key = vl_key_load_pem(s->net->node[node].key, &e);
    if (!key)
        return vl_err_set(err, VL_ERR_INVALID, "%s: node%d's key: %s", step, node, e.msg);
    int rc = sim_scn_setup_tx(s, node, slots, key, step, contract, function, args, NULL, err);
    vl_key_destroy(&key);
    return rc;
}

/* Makes party p at node: a key saved to its pem, registered, facts. */
static int
s_make_party(sim_scn_t *s, m_state_t *st, client_t **slots, int p, int node, const char *name,
             const char *role, vl_err_t *err)
{
    m_party_t *pt = &st->party[p];
    pt->node = node;
    snprintf(pt->pem, sizeof pt->pem, "%s/market/%s.pem", s->net->dir, name);
    vl_key_t *key = vl_key_generate();
    if (!key)
        return vl_err_set(err, VL_ERR_NOMEM, "market set-up: cannot generate a key");
    vl_err_t e = { "" };
    int rc = vl_key_save_pem(key, pt->pem, &e);
    if (rc)
        rc = vl_err_set(err, rc, "market set-up: the key of %s: %s", name, e.msg);
    vl_did_from_public(vl_key_public(key), pt->did);
    if (rc == 0)
        rc = sim_scn_register(s, node, slots, key, name, role, err);
    if (rc == 0)
        sim_scn_add_did(s, pt->did);
    vl_key_destroy(&key);
    return rc;
}

static int
s_setup_parties(sim_scn_t *s, m_state_t *st, client_t **slots, vl_err_t *err)
{
    sim_net_t *net = s->net;
    static const char *const named[3] = { "agency", "lender", "insurer" };
    int issuer = -1;
    for (int i = 0; i < net->n && issuer < 0; i++)
        issuer = net->node[i].issuer ? i : -1;
    if (issuer < 0)
        return vl_err_set(err, VL_ERR_STATE, "market set-up: no organisation holds issuer");
    static const char *const roles[M_ROLES][2] = {
        { "title_agency", "registration_authority" }, { "lender", NULL }, { "insurer", NULL },
    };
    int rc = 0;
    for (int p = 0; p < st->trader0 && rc == 0; p++) {
        int role = p / st->staff, node = sim_net_find_org(net, named[role]);
        if (node < 0)
            return vl_err_set(err, VL_ERR_STATE, "market set-up: the network has no "
                              "organisation '%s' (market needs the demo's --orgs)", named[role]);
        char name[32];
        snprintf(name, sizeof name, "%s-%d", named[role], p % st->staff);
        rc = s_make_party(s, st, slots, p, node, name, "owner", err);
        for (int r = 0; r < 2 && roles[role][r] && rc == 0; r++) {
            json_t *args = json_pack("{s:s, s:s}", "did", st->party[p].did, "role",
                                     roles[role][r]);
            char step[80];
            snprintf(step, sizeof step, "enrolling %s as %s", name, roles[role][r]);
            rc = s_node_key_tx(s, slots, node, step, "identity", "enrol", args, err);
            json_decref(args);
        }
        /* A lender finances loans: it needs money too. */
        json_t *args = json_pack("{s:s, s:I}", "to", st->party[p].did, "cents",
                                 (json_int_t) (MARKET_ISSUE_CENTS * 10));
        if (rc == 0 && role == M_LENDER)
            rc = s_node_key_tx(s, slots, issuer, "issuing money to a lender", "wallet", "issue",
                               args, err);
        json_decref(args);
    }
    int nodes[SIM_NODES_MAX];
    int n_nodes = s_trader_nodes(net, nodes);
    if (n_nodes == 0)
        return vl_err_set(err, VL_ERR_STATE, "market set-up: no node for traders");
    static const char *const buyer_cond[3] = { "price_ceiling", "mileage_ceiling",
                                               "delivery_location" };
    for (int p = st->trader0; p < st->n_parties && rc == 0; p++) {
        char name[32];
        snprintf(name, sizeof name, "trader-%d", p - st->trader0);
        int node = nodes[(p - st->trader0) % n_nodes];
        rc = s_make_party(s, st, slots, p, node, name, "buyer", err);
        json_t *args = json_pack("{s:s, s:I}", "to", st->party[p].did, "cents",
                                 (json_int_t) MARKET_ISSUE_CENTS);
        char step[80];
        snprintf(step, sizeof step, "issuing money to %s", name);
        if (rc == 0)
            rc = s_node_key_tx(s, slots, issuer, step, "wallet", "issue", args, err);
        json_decref(args);
        if (rc == 0 && (p - st->trader0) % 3 == 1) {
            const char *cond = buyer_cond[((p - st->trader0) / 3) % 3];
            char rel[64], cname[40], attach[64], *source = NULL;
            snprintf(rel, sizeof rel, "conditions/%s.lua", cond);
            snprintf(cname, sizeof cname, "bc_%.16s", st->party[p].did + 7);
            snprintf(attach, sizeof attach, "did:%s", st->party[p].did);
            if ((rc = sim_scn_read_contract(rel, &source, err)) == 0) {
                vl_err_t e = { "" };
                vl_key_t *key = vl_key_load_pem(st->party[p].pem, &e);
                json_t *d = json_pack("{s:s, s:s, s:s}", "name", cname, "source", source,
                                      "attach", attach);
                snprintf(step, sizeof step, "deploying %s's buyer condition %s", name, cond);
                rc = key ? sim_scn_setup_tx(s, node, slots, key, step, "contract", "deploy", d,
                                            NULL, err)
                         : vl_err_set(err, VL_ERR_INVALID, "%s: %s", name, e.msg);
                json_decref(d);
                vl_key_destroy(&key);
                free(source);
            }
        }
    }
    return rc;
}

static int
s_setup(sim_scn_t *s, vl_err_t *err)
{
    m_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return vl_err_set(err, VL_ERR_NOMEM, "market set-up: out of memory");
    s->state = st;
    st->workers = s->workers > 0 ? s->workers : 1;
    int traders = st->workers * MARKET_TRADERS_PER_WORKER;
    traders = traders < MARKET_TRADERS_MIN ? MARKET_TRADERS_MIN : traders;
    traders = traders > MARKET_TRADERS_MAX ? MARKET_TRADERS_MAX : traders;
    st->staff = st->workers < MARKET_STAFF_MAX ? st->workers : MARKET_STAFF_MAX;
    st->trader0 = M_ROLES * st->staff;
    st->n_parties = st->trader0 + traders;
    st->party = calloc((size_t) st->n_parties, sizeof *st->party);
    st->w = calloc((size_t) st->workers, sizeof *st->w);
    if (!st->party || !st->w)
        return vl_err_set(err, VL_ERR_NOMEM, "market set-up: out of memory");
    char dir[SIM_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/market", s->net->dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return vl_err_set(err, VL_ERR_IO, "market set-up: cannot create %s: %s", dir,
                          strerror(errno));
    client_t *slots[SIM_NODES_MAX] = { 0 };
    int rc = s_setup_parties(s, st, slots, err);
    sim_scn_clients_destroy(slots);
    for (int k = 0; k < st->workers; k++) {
        st->w[k].rnd = s->seed ^ (0x3a2c0000ULL + (uint64_t) k * 0x9e3779b97f4a7c15ULL);
        for (int r = 0; r < M_ROLES; r++)
            st->w[k].staff[r] = r * st->staff + k % st->staff;
    }
    if (rc == 0 && !s->quiet)
        fprintf(stderr, "market: %d traders on %d nodes; %d each of agency, lender, insurer "
                "identities at nodes %d, %d, %d\n", traders, s->net->n, st->staff,
                st->party[0].node, st->party[st->staff].node, st->party[2 * st->staff].node);
    return rc;
}

/* --- Acting -------------------------------------------------------------- */

static uint64_t
s_pick(m_worker_t *w, uint64_t n)
{
    return n ? sim_rand(&w->rnd) % n : 0;
}

static const vl_key_t *
s_key(m_state_t *st, m_worker_t *w, int p)
{
    if (!w->keys && !(w->keys = calloc((size_t) st->n_parties, sizeof *w->keys)))
        return NULL;
    if (!w->keys[p]) {
        vl_err_t e = { "" };
        w->keys[p] = vl_key_load_pem(st->party[p].pem, &e);
    }
    return w->keys[p];
}

/* Gives node c a moment to reach height (the previous step's commit). */
static void
s_catch_up(client_t *c, long long height)
{
    int64_t until = vl_wall_ms() + MARKET_CATCH_UP_MS;
    while (height > 0 && vl_wall_ms() < until) {
        json_t *st = NULL;
        vl_err_t e = { "" };
        if (client_call(c, "status", NULL, &st, &e) != 0)
            return;
        long long h = (long long) json_integer_value(json_object_get(st, "height"));
        json_decref(st);
        if (h >= height)
            return;
        sim_scn_nap(20);
    }
}

/* Party p sends contract.function(args) (stolen) through its own node.
 * *result (may be NULL) gets the contract's return value on a commit.
 * Returns client_transact's code, VL_ERR_STATE when the node is away. */
static int
s_act(sim_scn_t *s, m_state_t *st, m_worker_t *w, int p, const char *contract,
      const char *function, json_t *args, json_t **result)
{
    const vl_key_t *key = s_key(st, w, p);
    client_t *c = key ? sim_scn_client(s, st->party[p].node, w->slots,
                                       vl_wall_ms() + MARKET_NODE_WAIT_MS)
                      : NULL;
    if (!c || !args) {
        json_decref(args);
        return VL_ERR_STATE;
    }
    s_catch_up(c, w->height);
    json_t *out = NULL;
    vl_err_t e = { "" };
    int rc = sim_transact(s, c, key, contract, function, args, &out, &e);
    w->fate = client_last_tx_fate(c);
    json_decref(args);
    if (rc == 0) {
        w->height = (long long) json_integer_value(json_object_get(out, "height"));
        if (result)
            *result = json_incref(json_object_get(out, "result"));
    }
    json_decref(out);
    return rc;
}

/* A read through party p's node (any node up if it is away); owned. */
static json_t *
s_read(sim_scn_t *s, m_state_t *st, m_worker_t *w, int p, const char *contract, json_t *args)
{
    client_t *c = sim_scn_client(s, st->party[p].node, w->slots, 0);
    for (int i = 0; i < s->net->n && !c; i++)
        c = sim_scn_client(s, i, w->slots, 0);
    json_t *r = NULL;
    vl_err_t e = { "" };
    if (c)
        s_catch_up(c, w->height);
    if (!c || sim_scn_query(c, contract, "get", args, &r, &e) != 0)
        r = NULL;
    json_decref(args);
    return r;
}

static int
s_party_of(m_state_t *st, const char *did)
{
    for (int p = 0; p < st->n_parties; p++)
        if (!strcmp(st->party[p].did, did))
            return p;
    return -1;
}

/* A trader other than not (and than also_not), on another node when one exists. */
static int
s_other_trader(m_state_t *st, m_worker_t *w, int not, int also_not)
{
    int n = st->n_parties - st->trader0, best = -1;
    for (int tries = 0; tries < 8; tries++) {
        int p = st->trader0 + (int) s_pick(w, (uint64_t) n);
        if (p == not || p == also_not)
            continue;
        best = p;
        if (st->party[p].node != st->party[not].node)
            break;
    }
    return best;
}

/* The agency registers vin (pending) for its owner. */
static void
s_agency_register(sim_scn_t *s, m_state_t *st, m_worker_t *w, const char *vin)
{
    char plate[16];
    snprintf(plate, sizeof plate, "M-%06llu", (unsigned long long) (sim_rand(&w->rnd) % 1000000));
    s_act(s, st, w, w->staff[M_AGENCY], "title", "register",
          json_pack("{s:s, s:s}", "vin", vin, "plate", plate), NULL);
}

/* --- The actions ------------------------------------------------------- */

static void
s_new_vehicle(sim_scn_t *s, m_state_t *st, m_worker_t *w, int worker)
{
    if (w->n_veh == MARKET_VEHICLES_MAX)
        return;
    m_vehicle_t *v = &w->veh[w->n_veh];
    memset(v, 0, sizeof *v);
    v->holder = -1;
    v->owner = st->trader0 + (int) s_pick(w, (uint64_t) (st->n_parties - st->trader0));
    sim_scn_vin('M', worker, w->made++, &w->rnd, v->vin);
    static const char *const makes[4] = { "Honda", "Toyota", "Volvo", "Skoda" };
    json_t *args = json_pack("{s:s, s:s, s:s, s:i, s:{s:i, s:s, s:s}, s:s}", "vin", v->vin,
                             "make", makes[s_pick(w, 4)], "model", "M", "year",
                             2000 + (int) s_pick(w, 25), "extra", "mileage",
                             (int) (5000 + s_pick(w, 150000)), "color", "blue", "location",
                             s_pick(w, 2) ? "Berlin" : "Paris", "agency",
                             st->party[w->staff[M_AGENCY]].did);
    int rc = s_act(s, st, w, v->owner, "title", "onboard", args, NULL);
    if (rc != 0 && w->fate != CLIENT_TX_UNKNOWN)
        return;   /* it cannot exist: forget it */
    v->maybe = rc != 0;
    if (rc == 0)
        sim_scn_add_vin(s, v->vin);
    w->n_veh++;
    if (rc != 0)
        return;
    char number[24];
    snprintf(number, sizeof number, "T-%s", v->vin + 9);
    if (s_act(s, st, w, w->staff[M_AGENCY], "title", "answer",
              json_pack("{s:s, s:s, s:s}", "vin", v->vin, "decision", "issue", "number", number),
              NULL) != 0)
        return;
    if (s_act(s, st, w, v->owner, "title", "request_registration",
              json_pack("{s:s, s:s}", "vin", v->vin, "authority", st->party[w->staff[M_AGENCY]].did),
              NULL) == 0)
        s_agency_register(s, st, w, v->vin);
}

/* The current owner of v as the ledger says (v->owner updated); -1 if unread. */
static int
s_refresh(sim_scn_t *s, m_state_t *st, m_worker_t *w, m_vehicle_t *v, json_t **doc)
{
    client_t *c = sim_scn_client(s, st->party[v->owner].node, w->slots, 0);
    for (int i = 0; i < s->net->n && !c; i++)
        c = sim_scn_client(s, i, w->slots, 0);
    json_t *d = NULL, *params = json_pack("{s:s}", "vin", v->vin);
    vl_err_t e = { "" };
    if (c)
        s_catch_up(c, w->height);
    int rc = c ? client_call(c, "vehicle.get", params, &d, &e) : VL_ERR_STATE;
    json_decref(params);
    int p = rc == 0 ? s_party_of(st, sim_str(d, "owner")) : -1;
    if (rc == 0 && v->maybe) {
        sim_scn_add_vin(s, v->vin);
        v->maybe = false;
    }
    if (p >= 0)
        v->owner = p;
    if (doc && p >= 0)
        *doc = d;
    else
        json_decref(d);
    return p;
}

/* The latest offer of sale id: {by, price, status}, and the sale's status. */
static json_t *
s_sale(sim_scn_t *s, m_state_t *st, m_worker_t *w, int p, const char *vin, const char *id)
{
    return s_read(s, st, w, p, "sale", json_pack("{s:s, s:s}", "vin", vin, "id", id));
}

static void
s_settle(sim_scn_t *s, m_state_t *st, m_worker_t *w, m_vehicle_t *v, const char *id, int buyer,
         bool financed)
{
    int order[3] = { v->owner, buyer, w->staff[M_LENDER] };
    int n = financed ? 3 : 2;
    for (int k = n - 1; k > 0; k--) {
        int j = (int) s_pick(w, (uint64_t) k + 1), t = order[k];
        order[k] = order[j];
        order[j] = t;
    }
    for (int k = 0; k < n; k++)
        if (s_act(s, st, w, order[k], "sale", "confirm",
                  json_pack("{s:s, s:s}", "vin", v->vin, "id", id), NULL) != 0)
            return;
    if (s_refresh(s, st, w, v, NULL) == buyer)
        s_agency_register(s, st, w, v->vin);
}

static void
s_sale_action(sim_scn_t *s, m_state_t *st, m_worker_t *w, m_vehicle_t *v)
{
    if (s_refresh(s, st, w, v, NULL) < st->trader0)
        return;
    int seller = v->owner, buyer = s_other_trader(st, w, seller, -1);
    if (buyer < 0)
        return;
    static const char *const seller_cond[3] = { "min_price", "cash_only", "accepted_lenders" };
    if (s_pick(w, 3) == 0) {
        const char *cond = seller_cond[s_pick(w, 3)];
        char rel[64], name[48], attach[40], vin_lc[18], *source = NULL;
        for (int k = 0; k < 18; k++)
            vin_lc[k] = (char) (v->vin[k] >= 'A' && v->vin[k] <= 'Z' ? v->vin[k] + 32 : v->vin[k]);
        snprintf(rel, sizeof rel, "conditions/%s.lua", cond);
        snprintf(name, sizeof name, "sc_%s_%llu", vin_lc, (unsigned long long) v->deploys++);
        snprintf(attach, sizeof attach, "vehicle:%s", v->vin);
        vl_err_t e = { "" };
        if (sim_scn_read_contract(rel, &source, &e) == 0)
            s_act(s, st, w, seller, "contract", "deploy",
                  json_pack("{s:s, s:s, s:s}", "name", name, "source", source, "attach", attach),
                  NULL);
        free(source);
    }
    long long price = 500000 + (long long) s_pick(w, 2000000);
    bool financed = s_pick(w, 2) == 0;
    json_t *args = json_pack("{s:s, s:I, s:i, s:I}", "vin", v->vin, "price", (json_int_t) price,
                             "months", 12, "period_ms", (json_int_t) 2592000000LL);
    if (financed)
        json_object_set_new(args, "finance", json_pack("{s:s, s:I}", "lender",
                                                       st->party[w->staff[M_LENDER]].did, "amount",
                                                       (json_int_t) (price / 2)));
    json_t *res = NULL;
    if (s_act(s, st, w, buyer, "sale", "request", args, &res) != 0)
        return;
    char id[40];
    snprintf(id, sizeof id, "%s", sim_str(res, "id"));
    json_decref(res);
    res = NULL;
    if (!id[0])
        return;
    /* The seller answers on its own node, judging the request by its conditions. */
    if (s_act(s, st, w, seller, "sale", "answer", json_pack("{s:s, s:s}", "vin", v->vin, "id", id),
              &res) != 0)
        return;
    bool open = !strcmp(sim_str(res, "status"), "negotiating");
    json_decref(res);
    if (!open)
        return;   /* the seller's conditions were not met: the buyer was told why */
    /* Negotiation: up to four moves, then accept or give up. */
    int rounds = (int) s_pick(w, 4);
    for (int move = 0; move <= rounds + 2; move++) {
        json_t *sale = s_sale(s, st, w, buyer, v->vin, id);
        json_t *offers = json_object_get(sale, "offers");
        json_t *last = json_array_get(offers, json_array_size(offers) - 1);
        const char *status = sim_str(sale, "status");
        int by = s_party_of(st, sim_str(last, "by")), other = by == seller ? buyer : seller;
        long long at = (long long) json_integer_value(json_object_get(last, "price"));
        bool last_open = !strcmp(sim_str(last, "status"), "open");
        bool agreed = !strcmp(status, "agreed"), negotiating = !strcmp(status, "negotiating");
        json_decref(sale);
        if (agreed)
            break;
        if (!negotiating || by < 0)
            return;
        if (last_open && move >= rounds) {
            if (s_act(s, st, w, other, "sale", "accept",
                      json_pack("{s:s, s:s}", "vin", v->vin, "id", id), NULL) != 0)
                return;
            continue;
        }
        if (move == rounds + 2) {
            s_act(s, st, w, buyer, "sale", "abort",
                  json_pack("{s:s, s:s, s:s}", "vin", v->vin, "id", id, "reason",
                            "no acceptable offer"), NULL);
            return;
        }
        /* A counter-offer: the buyer goes lower, the seller meets half way. */
        long long counter = other == buyer ? at - at / 10 : at + (price - at) / 2 + 1000;
        if (s_act(s, st, w, other, "sale", "offer",
                  json_pack("{s:s, s:s, s:I}", "vin", v->vin, "id", id, "price",
                            (json_int_t) counter), NULL) != 0)
            return;
    }
    s_settle(s, st, w, v, id, buyer, financed);
}

static void
s_insurance(sim_scn_t *s, m_state_t *st, m_worker_t *w, m_vehicle_t *v)
{
    if (s_refresh(s, st, w, v, NULL) < st->trader0)
        return;
    bool low = s_pick(w, 5) == 0;
    char policy[32];
    snprintf(policy, sizeof policy, "P-%s-%llu", v->vin + 9,
             (unsigned long long) s_pick(w, 1000));
    json_t *res = NULL;
    int rc = s_act(s, st, w, v->owner, "insurance", "request",
                   json_pack("{s:s, s:s, s:s, s:i, s:i, s:I, s:I}", "vin", v->vin, "provider",
                             st->party[w->staff[M_INSURER]].did, "policy", policy, "coverage",
                             low ? 1000000 : 3000000, "premium", 9000 + (int) s_pick(w, 5000),
                             "period_ms", (json_int_t) 2592000000LL, "valid_until",
                             (json_int_t) (vl_wall_ms() + 365LL * 86400000LL)), &res);
    char id[40];
    snprintf(id, sizeof id, "%s", sim_str(res, "id"));
    bool corrections = !strcmp(sim_str(res, "status"), "needs_correction");
    json_decref(res);
    if (rc != 0 || !id[0])
        return;
    if (corrections
        && s_act(s, st, w, v->owner, "insurance", "correct",
                 json_pack("{s:s, s:s, s:i}", "vin", v->vin, "id", id, "coverage", 3000000),
                 NULL) != 0)
        return;
    s_act(s, st, w, w->staff[M_INSURER], "insurance", "approve",
          json_pack("{s:s, s:s, s:s}", "vin", v->vin, "id", id, "provider",
                    st->party[w->staff[M_INSURER]].did), NULL);
}

/* The newest unrevoked key of did on doc, into out ("" when none). */
static void
s_key_of(const json_t *doc, const char *did, char *out, size_t size)
{
    json_t *keys = json_object_get(doc, "keys");
    out[0] = '\0';
    for (size_t i = json_array_size(keys); i > 0 && !out[0]; i--) {
        json_t *k = json_array_get(keys, i - 1);
        if (!strcmp(sim_str(k, "holder"), did) && !json_is_true(json_object_get(k, "revoked")))
            snprintf(out, size, "%s", sim_str(k, "key_id"));
    }
}

static void
s_keys(sim_scn_t *s, m_state_t *st, m_worker_t *w, m_vehicle_t *v)
{
    json_t *doc = NULL;
    if (s_refresh(s, st, w, v, &doc) < st->trader0)
        return;
    s_key_of(doc, st->party[v->owner].did, v->owner_key, sizeof v->owner_key);
    if (v->holder >= 0)
        s_key_of(doc, st->party[v->holder].did, v->holder_key, sizeof v->holder_key);
    json_decref(doc);
    json_t *res = NULL;
    if (!v->owner_key[0]) {
        if (s_act(s, st, w, v->owner, "keys", "issue",
                  json_pack("{s:s, s:s, s:s}", "vin", v->vin, "holder", st->party[v->owner].did,
                            "scope", "owner"), &res) == 0)
            snprintf(v->owner_key, sizeof v->owner_key, "%s", sim_str(res, "key_id"));
        json_decref(res);
        return;
    }
    if (s_pick(w, 3) == 0 && (v->holder < 0 || !v->holder_key[0])) {
        int h = s_other_trader(st, w, v->owner, -1);
        if (h >= 0
            && s_act(s, st, w, v->owner, "keys", "issue",
                     json_pack("{s:s, s:s, s:s}", "vin", v->vin, "holder", st->party[h].did,
                               "scope", "operator"), &res) == 0) {
            v->holder = h;
            snprintf(v->holder_key, sizeof v->holder_key, "%s", sim_str(res, "key_id"));
        }
        json_decref(res);
        return;
    }
    static const char *const fns[4] = { "start", "unlock", "trunk", "lock" };
    bool by_holder = v->holder >= 0 && v->holder_key[0] && s_pick(w, 2);
    s_act(s, st, w, by_holder ? v->holder : v->owner, "keys", "use",
          json_pack("{s:s, s:s, s:s}", "vin", v->vin, "key_id",
                    by_holder ? v->holder_key : v->owner_key, "function", fns[s_pick(w, 4)]),
          NULL);
}

static void
s_pairing(sim_scn_t *s, m_state_t *st, m_worker_t *w, m_vehicle_t *v)
{
    if (s_refresh(s, st, w, v, NULL) < st->trader0)
        return;
    static const char *const names[2] = { "head_unit", "key_ecu" };
    if (!v->comp[0]) {
        v->comp[0] = vl_key_generate();
        v->comp[1] = vl_key_generate();
        json_t *comps = json_object();
        for (int k = 0; k < 2 && v->comp[k]; k++) {
            char hex[2 * VL_PUBKEY_SIZE + 1];
            vl_hex_encode(vl_key_public(v->comp[k]), VL_PUBKEY_SIZE, hex);
            json_object_set_new(comps, names[k], json_string(hex));
        }
        if (s_act(s, st, w, v->owner, "pairing", "components",
                  json_pack("{s:s, s:o}", "vin", v->vin, "components", comps), NULL) != 0) {
            vl_key_destroy(&v->comp[0]);
            vl_key_destroy(&v->comp[1]);
        }
        return;
    }
    /* A key holder's device once the owner's own is paired; else the owner's. */
    bool second = v->devices > 0 && v->holder >= 0 && v->holder_key[0] && s_pick(w, 2);
    int dev_owner = second ? v->holder : v->owner;
    char dev[48], msg[96];
    snprintf(dev, sizeof dev, "dev-%s-%d", v->vin + 9, v->devices);
    snprintf(msg, sizeof msg, "vledger-pair:%s:%s", v->vin, dev);
    json_t *ids = json_array();
    for (int k = 0; k < 2; k++) {
        uint8_t sig[VL_SIG_SIZE];
        char hex[2 * VL_SIG_SIZE + 1];
        vl_key_sign(v->comp[k], msg, strlen(msg), sig);
        vl_hex_encode(sig, VL_SIG_SIZE, hex);
        json_array_append_new(ids, json_pack("{s:s, s:s, s:s}", "component", names[k], "vin",
                                             v->vin, "signature", hex));
    }
    int far = s_pick(w, 6) == 0 ? 40 : 3;   /* now and then out of range: refused */
    json_t *res = NULL;
    int rc = s_act(s, st, w, dev_owner, "pairing", "prepair",
                   json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:i, s:i}, s:{s:i, s:i}}", "vin",
                             v->vin, "device", "id", dev, "owner", st->party[dev_owner].did,
                             "identifications", ids, "device_position", "x", far, "y", 0,
                             "vehicle_position", "x", 0, "y", 0), &res);
    if (rc == 0) {
        v->devices++;
        if (!strcmp(sim_str(res, "status"), "awaiting_approval"))
            s_act(s, st, w, v->owner, "pairing", "approve",
                  json_pack("{s:s, s:s}", "vin", v->vin, "pairing_id",
                            sim_str(res, "pairing_id")), NULL);
    }
    json_decref(res);
}

/* --- Rival buyers -------------------------------------------------------- */

typedef struct {
    sim_scn_t *s;
    m_state_t *st;
    m_worker_t w;               /* the rival's own keys, clients and stream */
    const char *vin;
    int buyer;
    int phase;                  /* 0 request, 1 accept, 2 confirm */
    long long price;
    char id[40];
    bool answered;              /* the seller offered (its conditions were met) */
    bool agreed;
    int confirm_rc;
} m_rival_t;

/* One rival's step of the current phase (on its own thread). */
static void *
s_rival(void *arg)
{
    m_rival_t *r = arg;
    json_t *res = NULL;
    if (r->phase == 0) {
        if (s_act(r->s, r->st, &r->w, r->buyer, "sale", "request",
                  json_pack("{s:s, s:I}", "vin", r->vin, "price", (json_int_t) r->price),
                  &res) == 0
            && !strcmp(sim_str(res, "status"), "requested"))
            snprintf(r->id, sizeof r->id, "%s", sim_str(res, "id"));
        json_decref(res);
    } else if (r->phase == 1 && r->answered) {
        r->agreed = s_act(r->s, r->st, &r->w, r->buyer, "sale", "accept",
                          json_pack("{s:s, s:s}", "vin", r->vin, "id", r->id), NULL) == 0;
    } else if (r->phase == 2 && r->agreed) {
        r->confirm_rc = s_act(r->s, r->st, &r->w, r->buyer, "sale", "confirm",
                              json_pack("{s:s, s:s}", "vin", r->vin, "id", r->id), NULL);
    }
    return NULL;
}

/* Every rival takes phase's step at the same moment, each from its own
 * thread and node (inline when a thread cannot be had). */
static void
s_rivals_step(m_rival_t *r, int n, int phase)
{
    pthread_t t[MARKET_RIVALS];
    bool started[MARKET_RIVALS] = { false };
    for (int k = 0; k < n; k++) {
        r[k].phase = phase;
        started[k] = pthread_create(&t[k], NULL, s_rival, &r[k]) == 0;
    }
    for (int k = 0; k < n; k++) {
        if (started[k])
            pthread_join(t[k], NULL);
        else
            s_rival(&r[k]);
    }
}

static void
s_rivals(sim_scn_t *s, m_state_t *st, m_worker_t *w, m_vehicle_t *v)
{
    if (s_refresh(s, st, w, v, NULL) < st->trader0 || st->n_parties - st->trader0 < 3)
        return;
    int seller = v->owner, n = 0;
    m_rival_t r[MARKET_RIVALS];
    memset(r, 0, sizeof r);
    long long price = 600000 + (long long) s_pick(w, 400000);
    for (int k = 0; k < MARKET_RIVALS; k++) {
        int b = s_other_trader(st, w, seller, n ? r[0].buyer : -1);
        if (b < 0)
            break;
        r[n] = (m_rival_t) { .s = s, .st = st, .vin = v->vin, .buyer = b, .price = price,
                             .confirm_rc = VL_ERR_STATE };
        r[n].w.rnd = sim_rand(&w->rnd);
        memcpy(r[n].w.staff, w->staff, sizeof w->staff);
        r[n].w.height = w->height;
        n++;
    }
    s_rivals_step(r, n, 0);
    for (int k = 0; k < n; k++) {
        json_t *res = NULL;
        w->height = r[k].w.height > w->height ? r[k].w.height : w->height;
        r[k].answered = r[k].id[0]
                        && s_act(s, st, w, seller, "sale", "answer",
                                 json_pack("{s:s, s:s}", "vin", v->vin, "id", r[k].id), &res) == 0
                        && !strcmp(sim_str(res, "status"), "negotiating");
        json_decref(res);
    }
    for (int k = 0; k < n; k++)
        r[k].w.height = w->height;
    s_rivals_step(r, n, 1);
    for (int k = 0; k < n; k++) {
        w->height = r[k].w.height > w->height ? r[k].w.height : w->height;
        if (r[k].agreed)
            s_act(s, st, w, seller, "sale", "confirm",
                  json_pack("{s:s, s:s}", "vin", v->vin, "id", r[k].id), NULL);
    }
    for (int k = 0; k < n; k++)
        r[k].w.height = w->height;
    s_rivals_step(r, n, 2);
    int won = 0;
    for (int k = 0; k < n; k++) {
        won += r[k].confirm_rc == 0;
        w->height = r[k].w.height > w->height ? r[k].w.height : w->height;
    }
    if (won > 1)
        sim_rec_violation(s->rec, "rival_buyers", -1, -1,
                          "vehicle %s: %d rival buyers' settlements all committed", v->vin, won);
    int owner = s_refresh(s, st, w, v, NULL);
    if (owner != seller && owner >= 0)
        s_agency_register(s, st, w, v->vin);
    /* The losers end their sales. */
    for (int k = 0; k < n; k++)
        if (r[k].id[0] && r[k].buyer != owner)
            s_act(s, st, w, r[k].buyer, "sale", "abort",
                  json_pack("{s:s, s:s, s:s}", "vin", v->vin, "id", r[k].id, "reason",
                            "another buyer was faster"), NULL);
    for (int k = 0; k < n; k++)
        s_worker_free(st, &r[k].w);
}

static void
s_work(sim_scn_t *s, int worker, int64_t end_ms)
{
    m_state_t *st = s->state;
    if (!st || worker >= st->workers)
        return;
    m_worker_t *w = &st->w[worker];
    int64_t next = 0;
    while (vl_wall_ms() < end_ms && sim_pace(s, worker, &next, end_ms)) {
        uint64_t roll = s_pick(w, 20);
        if (w->n_veh < 2 || roll < 3) {
            s_new_vehicle(s, st, w, worker);
            continue;
        }
        m_vehicle_t *v = &w->veh[s_pick(w, (uint64_t) w->n_veh)];
        if (roll < 9)
            s_sale_action(s, st, w, v);
        else if (roll < 12)
            s_insurance(s, st, w, v);
        else if (roll < 15)
            s_keys(s, st, w, v);
        else if (roll < 18)
            s_pairing(s, st, w, v);
        else
            s_rivals(s, st, w, v);
    }
    sim_scn_clients_destroy(w->slots);
}

/* Vehicles whose onboarding's outcome was unknown become facts if they exist. */
static int
s_finish(sim_scn_t *s, int64_t deadline_ms, vl_err_t *err)
{
    m_state_t *st = s->state;
    for (int k = 0; st && k < st->workers && vl_wall_ms() < deadline_ms; k++)
        for (int v = 0; v < st->w[k].n_veh; v++)
            if (st->w[k].veh[v].maybe)
                s_refresh(s, st, &st->w[k], &st->w[k].veh[v], NULL);
    for (int k = 0; st && k < st->workers; k++)
        sim_scn_clients_destroy(st->w[k].slots);
    return 0;
}

const sim_scenario_t sim_scenario_market = {
    .name = "market", .prepare = NULL, .setup = s_setup, .work = s_work, .finish = s_finish,
    .destroy = s_destroy,
};
