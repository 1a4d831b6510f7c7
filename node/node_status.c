/*
 * node_status.c — the `status` result (INTERFACE.md: at least height,
 * state_hash, did, roles, validators, peers, mempool, endpoints), built one
 * field per line so a field is added or found in one place.
 */
#include "node_internal.h"
#include "node_reactors.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"

static json_t *
s_hex(const uint8_t *data, size_t len)
{
    char buf[2 * 32 + 1];
    vl_hex_encode(data, len, buf);
    return json_string(buf);
}

static void
s_set_count(json_t *o, const char *name, uint64_t value)
{
    json_object_set_new(o, name, json_integer((json_int_t) value));
}

static int
s_sum_wallet(void *arg, const char *key, size_t key_len, const char *value, size_t value_len,
             vl_version_t version)
{
    json_int_t *sum = arg;
    json_t *v = json_loadb(value, value_len, JSON_DECODE_ANY, NULL);
    if (json_is_integer(v))
        *sum += json_integer_value(v);
    json_decref(v);
    return 0;
}

/* {issued, redeemed}: money/supply; with wallets, and the sum of every
 * wallet, so Σ wallets = issued − redeemed can be checked at this height. */
static json_t *
s_money(node_t *node, bool wallets)
{
    json_int_t issued = 0, redeemed = 0, sum = 0;
    char *value = NULL;
    size_t len = 0;
    if (ledger_get(node->ledger, "money/supply", &value, &len, NULL) == 0) {
        json_t *doc = json_loadb(value, len, 0, NULL);
        issued = json_integer_value(json_object_get(doc, "issued"));
        redeemed = json_integer_value(json_object_get(doc, "redeemed"));
        json_decref(doc);
        free(value);
    }
    json_t *m = json_pack("{s:I, s:I}", "issued", issued, "redeemed", redeemed);
    if (wallets && ledger_range(node->ledger, "wallet/", 0, s_sum_wallet, &sum) < 0) {
        json_decref(m);
        return json_null();
    }
    if (wallets)
        json_object_set_new(m, "wallets", json_integer(sum));
    return m;
}

/* This node's organisation {name, roles}, or null. */
static json_t *
s_org(node_t *node)
{
    const member_t *me = members_find(&node->genesis.members, vl_key_public(node->key),
                                      VL_PUBKEY_SIZE);
    const org_t *o = genesis_org_of(&node->genesis, me);
    if (!o)
        return json_null();
    json_t *roles = json_array();
    for (size_t r = 0; r < o->role_count; r++)
        json_array_append_new(roles, json_string(org_role_name(o->roles[r])));
    return json_pack("{s:s, s:o}", "name", o->name, "roles", roles);
}

json_t *
node_status(node_t *node, bool wallets)
{
    json_t *validators = json_array(), *roles = json_array();
    for (size_t i = 0; i < node->genesis.members.count; i++) {
        const member_t *m = &node->genesis.members.items[i];
        if (m->validator)
            json_array_append_new(validators, json_string(m->did));
        if (strcmp(m->did, node->did) == 0) {
            if (m->validator)
                json_array_append_new(roles, json_string("validator"));
            if (m->endorser)
                json_array_append_new(roles, json_string("endorser"));
        }
    }
    char *pub = vl_base64_encode(vl_key_public(node->key), VL_PUBKEY_SIZE);
    json_t *s = json_object();
    json_t *endpoints = json_object();
    json_object_set_new(endpoints, "api", json_string(api_endpoint(node->api)));
    json_object_set_new(endpoints, "events", json_string(events_endpoint(node->events)));
    json_object_set_new(endpoints, "gossip", json_null());
    json_object_set_new(endpoints, "sync", json_null());
    json_object_set_new(endpoints, "metrics",
                        node->metrics ? json_string(metrics_url(node->metrics)) : json_null());

    json_object_set_new(s, "name", json_string(node->config.name));
    json_object_set_new(s, "version", json_string("vledger 0.1.0"));
    json_object_set_new(s, "chain_id", json_string(node->genesis.chain_id));
    json_object_set_new(s, "genesis_hash", s_hex(node->genesis_hash, VL_HASH_SIZE));
    json_object_set_new(s, "height", json_integer((json_int_t) ledger_height(node->ledger)));
    json_object_set_new(s, "state_hash", s_hex(ledger_state_hash(node->ledger), 32));
    json_object_set_new(s, "last_hash", s_hex(ledger_last_hash(node->ledger), 32));
    json_object_set_new(s, "did", json_string(node->did));
    json_object_set_new(s, "public_key", json_string(pub ? pub : ""));
    json_object_set_new(s, "roles", roles);
    json_object_set_new(s, "validators", validators);
    json_object_set_new(s, "peers", json_array());
    json_object_set_new(s, "mempool", json_integer((json_int_t) mempool_count(node->mempool)));
    json_object_set_new(s, "endpoints", endpoints);
    json_object_set_new(s, "org", s_org(node));
    json_object_set_new(s, "money", s_money(node, wallets));
    json_object_set_new(s, "reactors", node_reactors_status(node->reactors));
    json_object_set_new(s, "consensus", node_bft_status(node->bft));
    free(pub);

    node_gossip_status(node, s);   /* peers, gossip endpoints and counters */

    if (node->loop) {
        /* sweep_found > 0 means a socket's message waited for the loop's
         * sweep: a missed evloop_sent (net/evloop.h, rule 4). */
        const evloop_stats_t *ls = evloop_stats(node->loop);
        json_t *loop = json_object();
        s_set_count(loop, "wakeups", ls->wakeups);
        s_set_count(loop, "dispatches", ls->dispatches);
        s_set_count(loop, "sweep_found", ls->sweep_found);
        json_object_set_new(s, "loop", loop);
    }
    pool_stats_t ps = pool_stats(node->pool);
    json_t *workers = json_object();
    s_set_count(workers, "threads", pool_threads(node->pool));
    s_set_count(workers, "jobs", ps.completed);
    s_set_count(workers, "refused", ps.refused);
    s_set_count(workers, "queued_max", ps.queued_max);
    s_set_count(workers, "sigcache_hits", sigcache_hits(node->sigcache));
    s_set_count(workers, "sigcache_misses", sigcache_misses(node->sigcache));
    json_object_set_new(s, "workers", workers);
    return s;
}
