/*
 * invariants.c — the end-of-run checks of the simulator (invariants.h).
 */
#include "invariants.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

#define SIM_INV_CALL_MS 10000

static bool
s_allowed(const char *did, const char *const *allowed)
{
    for (int i = 0; allowed && allowed[i]; i++)
        if (strcmp(allowed[i], did) == 0)
            return true;
    return false;
}

int
sim_inv_compare(const sim_tip_t *tips, int n, const char *const *allowed, sim_rec_t *rec)
{
    int found = 0;
    const sim_tip_t *ref = NULL;
    for (int i = 0; i < n; i++)
        if (tips[i].live && !ref)
            ref = &tips[i];
    if (!ref) {
        sim_rec_violation(rec, "same_state", -1, -1, "no replica is live at the end");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        const sim_tip_t *t = &tips[i];
        if (!t->live || t == ref)
            continue;
        if (t->height != ref->height) {
            sim_rec_violation(rec, "same_state", t->node, t->height,
                              "height %lld, node%d is at %lld", t->height, ref->node, ref->height);
            found++;
        } else if (strcmp(t->last_hash, ref->last_hash) != 0) {
            sim_rec_violation(rec, "same_state", t->node, t->height,
                              "block hash %.16s, node%d has %.16s", t->last_hash, ref->node,
                              ref->last_hash);
            found++;
        } else if (strcmp(t->state_hash, ref->state_hash) != 0) {
            sim_rec_violation(rec, "same_state", t->node, t->height,
                              "state hash %.16s, node%d has %.16s", t->state_hash, ref->node,
                              ref->state_hash);
            found++;
        }
    }
    for (int i = 0; i < n; i++) {
        size_t k;
        json_t *ev;
        json_array_foreach(tips[i].evidence, k, ev) {
            const char *did = json_string_value(json_object_get(ev, "validator"));
            if (!did || s_allowed(did, allowed))
                continue;
            sim_rec_violation(rec, "double_sign", tips[i].node,
                              json_integer_value(json_object_get(ev, "height")),
                              "evidence against honest validator %s (%s)", did,
                              json_string_value(json_object_get(ev, "type")) ?: "?");
            found++;
        }
    }
    return found;
}

static json_t *
s_call(client_t *c, const char *method, json_t *params)
{
    vl_err_t err = { "" };
    json_t *r = NULL;
    int rc = client_call(c, method, params, &r, &err);
    json_decref(params);
    return rc == 0 ? r : NULL;
}

static json_t *
s_query(client_t *c, const char *contract, const char *function, json_t *args)
{
    json_t *r = s_call(c, "query", json_pack("{s:s, s:s, s:o}", "contract", contract,
                                             "function", function, "args", args));
    json_t *v = json_incref(json_object_get(r, "result"));
    json_decref(r);
    return v;
}

/* Status of every up node into tips (statuses kept in sts[i], owned). */
static void
s_tips(sim_net_t *net, client_t **clients, sim_tip_t *tips, json_t **sts)
{
    for (int i = 0; i < net->n; i++) {
        json_decref(sts[i]);
        sts[i] = NULL;
        sim_tip_t *t = &tips[i];
        memset(t, 0, sizeof *t);
        t->node = i;
        client_t *c = sim_net_client(net, i, &clients[i], SIM_INV_CALL_MS);
        json_t *st = c ? s_call(c, "status", json_pack("{s:b}", "wallets", 1)) : NULL;
        if (!st)
            continue;
        sts[i] = st;
        t->live = true;
        t->height = json_integer_value(json_object_get(st, "height"));
        snprintf(t->last_hash, sizeof t->last_hash, "%s",
                 json_string_value(json_object_get(st, "last_hash")) ?: "");
        snprintf(t->state_hash, sizeof t->state_hash, "%s",
                 json_string_value(json_object_get(st, "state_hash")) ?: "");
        t->evidence = json_object_get(json_object_get(st, "consensus"), "evidence");
    }
}

static bool
s_converged(const sim_tip_t *tips, int n)
{
    const sim_tip_t *ref = NULL;
    for (int i = 0; i < n; i++) {
        if (!tips[i].live)
            continue;
        if (!ref)
            ref = &tips[i];
        else if (tips[i].height != ref->height || strcmp(tips[i].last_hash, ref->last_hash))
            return false;
    }
    return ref != NULL;
}

/* Block hashes height by height on up to SIM_INV_FULL_NODES live nodes
 * against ref's, and ref's valid txids counted into counts {txid: n}. */
static int
s_chain(sim_net_t *net, client_t **clients, const sim_tip_t *tips, int ref, sim_rec_t *rec,
        json_t *counts, json_t *summary)
{
    long long height = tips[ref].height;
    char (*hashes)[65] = calloc((size_t) height + 1, sizeof *hashes);
    if (!hashes)
        return 0;
    int found = 0;
    for (long long h = 1; h <= height; h++) {
        json_t *b = s_call(clients[ref], "block.get", json_pack("{s:I}", "height", (json_int_t) h));
        if (!b) {
            sim_rec_violation(rec, "same_state", ref, h, "block.get failed on the reference");
            found++;
            break;
        }
        snprintf(hashes[h], sizeof hashes[h], "%s", json_string_value(json_object_get(b, "hash")) ?: "");
        size_t k;
        json_t *tx;
        json_array_foreach(json_object_get(b, "txs"), k, tx) {
            if (json_integer_value(json_object_get(tx, "code")) != 0)
                continue;
            const char *id = json_string_value(json_object_get(tx, "txid"));
            json_t *n = json_object_get(counts, id);
            json_object_set_new(counts, id, json_integer(n ? json_integer_value(n) + 1 : 1));
        }
        json_decref(b);
    }
    json_t *full = json_array();
    json_array_append_new(full, json_sprintf("node%d", ref));
    int compared = 1;
    for (int i = 0; i < net->n && compared < SIM_INV_FULL_NODES; i++) {
        if (i == ref || !tips[i].live || !clients[i])
            continue;
        /* Validators first: they are the ones that could fork. */
        if (!net->node[i].validator && compared < net->validators)
            continue;
        compared++;
        json_array_append_new(full, json_sprintf("node%d", i));
        for (long long h = 1; h <= height; h++) {
            json_t *b = s_call(clients[i], "block.get",
                               json_pack("{s:I}", "height", (json_int_t) h));
            const char *hash = json_string_value(json_object_get(b, "hash"));
            if (!hash || strcmp(hash, hashes[h]) != 0) {
                sim_rec_violation(rec, "same_state", i, h, "block hash %.16s, node%d has %.16s",
                                  hash ?: "(none)", ref, hashes[h]);
                found++;
                json_decref(b);
                break;
            }
            json_decref(b);
        }
    }
    json_object_set_new(summary, "every_height_compared_on", full);
    free(hashes);
    return found;
}

/* one_owner and sold_once for one vehicle, on the reference. */
static int
s_vehicle(client_t *c, int ref, const char *vin, sim_rec_t *rec)
{
    json_t *v = s_call(c, "vehicle.get", json_pack("{s:s}", "vin", vin));
    const char *owner = json_string_value(json_object_get(v, "owner"));
    int found = 0;
    if (!owner || !*owner) {
        sim_rec_violation(rec, "one_owner", ref, -1, "vehicle %s has no owner", vin);
        json_decref(v);
        return 1;
    }
    json_t *id = s_call(c, "identity.get", json_pack("{s:s}", "did", owner));
    if (!id) {
        sim_rec_violation(rec, "one_owner", ref, -1, "vehicle %s is owned by %s, not a "
                                                     "registered identity", vin, owner);
        found++;
    }
    json_decref(id);
    json_decref(v);

    json_t *hist = s_call(c, "vehicle.history", json_pack("{s:s}", "vin", vin));
    json_t *sales = s_query(c, "sale", "get", json_pack("{s:s}", "vin", vin));
    json_t *list = json_object_get(sales, "sales");
    const char *prev = NULL;
    int changes = 0, settled = 0;
    size_t k;
    json_t *s;
    json_array_foreach(list, k, s) settled += json_is_string(json_object_get(s, "status"))
                                              && !strcmp(json_string_value(json_object_get(s, "status")), "settled");
    json_t *e;
    json_array_foreach(json_object_get(hist, "history"), k, e) {
        const char *o = json_string_value(json_object_get(json_object_get(e, "value"), "owner"));
        if (!o)
            continue;
        if (prev && strcmp(prev, o) != 0) {
            changes++;
            const char *txid = json_string_value(json_object_get(e, "txid"));
            bool matched = false;
            size_t j;
            json_t *sl;
            json_array_foreach(list, j, sl) {
                const char *st = json_string_value(json_object_get(sl, "settlement_txid"));
                if (!st || !txid || strcmp(st, txid) != 0)
                    continue;
                const char *seller = json_string_value(json_object_get(sl, "seller"));
                const char *buyer = json_string_value(json_object_get(sl, "buyer"));
                matched = seller && buyer && !strcmp(seller, prev) && !strcmp(buyer, o);
            }
            if (!matched) {
                sim_rec_violation(rec, "sold_once", ref, json_integer_value(json_object_get(e, "block")),
                                  "vehicle %s passed from %s to %s in tx %.16s, not the "
                                  "settlement of a sale by %s", vin, prev, o, txid ?: "?", prev);
                found++;
            }
        }
        prev = o;
    }
    if (changes != settled) {
        sim_rec_violation(rec, "sold_once", ref, -1, "vehicle %s changed owner %d times but %d "
                                                     "sales settled", vin, changes, settled);
        found++;
    }
    json_decref(hist);
    json_decref(sales);
    return found;
}

int
sim_inv_check(sim_net_t *net, sim_rec_t *rec, json_t *vins, json_t *dids,
              const char *const *allowed, int converge_ms, json_t **summary)
{
    client_t **clients = calloc((size_t) net->n, sizeof *clients);
    json_t **sts = calloc((size_t) net->n, sizeof *sts);
    sim_tip_t *tips = calloc((size_t) net->n, sizeof *tips);
    *summary = json_object();
    if (!clients || !sts || !tips) {
        free(clients);
        free(sts);
        free(tips);
        return 0;
    }
    int64_t deadline = vl_wall_ms() + converge_ms;
    for (;;) {
        s_tips(net, clients, tips, sts);
        if (s_converged(tips, net->n) || vl_wall_ms() >= deadline)
            break;
        struct timespec ts = { 0, 200 * 1000000L };
        nanosleep(&ts, NULL);   /* polling other processes' progress, bounded by deadline */
    }
    int found = sim_inv_compare(tips, net->n, allowed, rec);
    int ref = -1, live = 0;
    for (int i = 0; i < net->n; i++)
        if (tips[i].live) {
            live++;
            if (ref < 0 || (net->node[i].validator && !net->node[ref].validator))
                ref = i;
        }
    json_object_set_new(*summary, "live_replicas", json_integer(live));
    if (ref >= 0) {
        json_object_set_new(*summary, "height", json_integer(tips[ref].height));
        json_object_set_new(*summary, "state_hash", json_string(tips[ref].state_hash));

        /* acked_tx: the client's acknowledgements against the chain. */
        json_t *counts = json_object();
        found += s_chain(net, clients, tips, ref, rec, counts, *summary);
        size_t missing = 0, twice = 0;
        pthread_mutex_lock(&rec->lock);
        for (size_t i = 0; i < rec->n_acked; i++) {
            json_int_t n = json_integer_value(json_object_get(counts, rec->acked[i].txid));
            if (n == 1)
                continue;
            n == 0 ? missing++ : twice++;
            if (missing + twice <= 20) {
                pthread_mutex_unlock(&rec->lock);
                sim_rec_violation(rec, "acked_tx", ref, -1, "acknowledged tx %.16s is in the "
                                  "chain %lld times", rec->acked[i].txid, (long long) n);
                pthread_mutex_lock(&rec->lock);
            }
        }
        json_object_set_new(*summary, "acked_txs_checked", json_integer((json_int_t) rec->n_acked));
        pthread_mutex_unlock(&rec->lock);
        found += (int) (missing + twice);
        json_decref(counts);

        /* money: on every replica, the sum of the wallets = issued − redeemed; and the
         * scenario's holders hold all of it. */
        long long wallets_ref = -1;
        for (int i = 0; i < net->n; i++) {
            json_t *m = sts[i] ? json_object_get(sts[i], "money") : NULL;
            if (!m)
                continue;
            long long issued = json_integer_value(json_object_get(m, "issued"));
            long long redeemed = json_integer_value(json_object_get(m, "redeemed"));
            long long wallets = json_integer_value(json_object_get(m, "wallets"));
            if (i == ref)
                wallets_ref = wallets;
            if (wallets != issued - redeemed) {
                sim_rec_violation(rec, "money", i, tips[i].height, "wallets hold %lld, issued "
                                  "%lld - redeemed %lld = %lld", wallets, issued, redeemed,
                                  issued - redeemed);
                found++;
            }
        }
        long long held = 0;
        size_t k;
        json_t *d;
        json_array_foreach(dids, k, d) {
            json_t *w = s_call(clients[ref], "wallet.get", json_pack("{s:O}", "did", d));
            held += json_integer_value(json_object_get(w, "balance"));
            json_decref(w);
        }
        if (json_array_size(dids) && held != wallets_ref) {
            sim_rec_violation(rec, "money", ref, tips[ref].height, "the scenario's %zu holders "
                              "hold %lld, the ledger's wallets %lld", json_array_size(dids), held,
                              wallets_ref);
            found++;
        }
        json_object_set_new(*summary, "money_in_wallets", json_integer(wallets_ref));

        json_t *vin;
        json_array_foreach(vins, k, vin)
            found += s_vehicle(clients[ref], ref, json_string_value(vin), rec);
        json_object_set_new(*summary, "vehicles_checked", json_integer((json_int_t) json_array_size(vins)));
    }
    for (int i = 0; i < net->n; i++) {
        client_destroy(&clients[i]);
        json_decref(sts[i]);
    }
    free(clients);
    free(sts);
    free(tips);
    return found;
}
