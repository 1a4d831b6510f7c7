/*
 * scenario.c — the table of `vledger-sim run` scenarios and what they share
 * (scenario.h): the recorded transact, the facts, pacing, seeded randomness,
 * and the set-up steps every scenario takes (a node's client, a recorded
 * set-up transaction that survives an unlucky moment, an identity, a
 * contract file, a key a node holds).
 *
 * Thread rules: sim_transact, sim_pace and the helpers run on any worker
 * thread with that thread's own clients (client_t is one thread's); the
 * facts are guarded by s->lock.
 */
#include "scenario.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "pace.h"

#define SCN_SETUP_TRIES 4          /* attempts of one set-up transaction */
#define SCN_SETUP_WAIT_MS 30000    /* for a node to be up during set-up */
#define SCN_POLL_MS 50             /* between looks at a node that is not up */

static const sim_scenario_t *const s_scenarios[] = {
    &sim_scenario_sale, &sim_scenario_market, &sim_scenario_load, &sim_scenario_churn,
};

const sim_scenario_t *
sim_scenario_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof s_scenarios / sizeof s_scenarios[0]; i++)
        if (strcmp(s_scenarios[i]->name, name) == 0)
            return s_scenarios[i];
    return NULL;
}

int
sim_transact(sim_scn_t *s, client_t *c, const vl_key_t *key, const char *contract,
             const char *function, json_t *args, json_t **outcome, vl_err_t *err)
{
    vl_err_t own = { "" };
    if (!err)
        err = &own;
    json_t *out = NULL;
    int64_t sent = vl_wall_ms();
    int rc = client_transact(c, key, s->net->chain_id[0] ? s->net->chain_id : NULL, contract,
                             function, args, s->timeout_ms, &out, err);
    int64_t done = vl_wall_ms();
    client_tx_fate_t fate = client_last_tx_fate(c);
    /* A reply without a commit (a node that ignored wait) is not an
     * acknowledgement: recording it as one would make the run look for it. */
    sim_outcome_t o = sim_outcome_of(rc == 0 && fate == CLIENT_TX_UNKNOWN ? VL_ERR_TIMEOUT : rc,
                                     fate);
    char code[64] = "";
    if (o == SIM_OUT_INVALID) {
        /* client_transact says "transaction TXID was invalidated: CODE_NAME" */
        const char *at = strstr(err->msg, "invalidated: ");
        snprintf(code, sizeof code, "%s", at ? at + 13 : "UNKNOWN_CODE");
        code[strcspn(code, " ;,")] = '\0';
    }
    sim_rec_tx(s->rec, o, client_last_txid(c), sent, done, code[0] ? code : NULL);
    if (rc == 0 && outcome)
        *outcome = out;
    else
        json_decref(out);
    return rc;
}

static void
s_add_fact(sim_scn_t *s, json_t *list, const char *value)
{
    pthread_mutex_lock(&s->lock);
    size_t i;
    json_t *v;
    bool seen = false;
    json_array_foreach(list, i, v) {
        if (strcmp(json_string_value(v), value) == 0) {
            seen = true;
            break;
        }
    }
    if (!seen)
        json_array_append_new(list, json_string(value));
    pthread_mutex_unlock(&s->lock);
}

void
sim_scn_add_vin(sim_scn_t *s, const char *vin)
{
    s_add_fact(s, s->vins, vin);
}

void
sim_scn_add_did(sim_scn_t *s, const char *did)
{
    s_add_fact(s, s->dids, did);
}

void
sim_scn_nap(int ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool
sim_pace(sim_scn_t *s, int worker, int64_t *next_ms, int64_t end_ms)
{
    if (s->rate <= 0)
        return true;
    int64_t interval = sim_pace_interval(s->rate, s->workers);
    int64_t now = vl_wall_ms();
    *next_ms = sim_pace_due(*next_ms, now, interval, worker, s->workers);
    while (now < *next_ms) {
        if (*next_ms >= end_ms)
            return false;
        int64_t left = *next_ms - now;
        sim_scn_nap((int) (left < 100 ? left : 100));
        now = vl_wall_ms();
    }
    if (now >= end_ms)
        return false;
    *next_ms += interval;
    return true;
}

uint64_t
sim_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

client_t *
sim_scn_client(sim_scn_t *s, int i, client_t **slots, int64_t until_ms)
{
    int call_ms = s->timeout_ms > 0 ? s->timeout_ms : CLIENT_DEFAULT_TIMEOUT_MS;
    for (;;) {
        client_t *c = sim_net_client(s->net, i, &slots[i], call_ms);
        if (c || vl_wall_ms() >= until_ms)
            return c;
        sim_scn_nap(SCN_POLL_MS);
    }
}

void
sim_scn_clients_destroy(client_t **slots)
{
    for (int i = 0; i < SIM_NODES_MAX; i++)
        client_destroy(&slots[i]);
}

int
sim_scn_query(client_t *c, const char *contract, const char *function, json_t *args,
              json_t **result, vl_err_t *err)
{
    json_t *params = json_pack("{s:s, s:s, s:o}", "contract", contract, "function", function,
                               "args", args ? json_incref(args) : json_object()), *r = NULL;
    if (!params)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    int rc = client_call(c, "query", params, &r, err);
    json_decref(params);
    if (rc)
        return rc;
    json_t *v = json_object_get(r, "result");
    *result = json_incref(v ? v : json_null());
    json_decref(r);
    return 0;
}

int
sim_scn_setup_tx(sim_scn_t *s, int i, client_t **slots, const vl_key_t *key, const char *step,
                 const char *contract, const char *function, json_t *args, json_t **outcome,
                 vl_err_t *err)
{
    vl_err_t e = { "" };
    int rc = VL_ERR_TIMEOUT;
    bool unknown = false;
    for (int attempt = 0; attempt < SCN_SETUP_TRIES; attempt++) {
        if (attempt > 0)
            sim_scn_nap(200 * attempt);
        client_t *c = sim_scn_client(s, i, slots, vl_wall_ms() + SCN_SETUP_WAIT_MS);
        if (!c) {
            rc = vl_err_set(&e, VL_ERR_TIMEOUT, "the node is not up");
            break;
        }
        json_t *out = NULL;
        rc = sim_transact(s, c, key, contract, function, args, &out, &e);
        if (rc == 0 && client_last_tx_fate(c) == CLIENT_TX_COMMITTED) {
            if (outcome)
                *outcome = out;
            else
                json_decref(out);
            return 0;
        }
        json_decref(out);
        client_tx_fate_t fate = client_last_tx_fate(c);
        if (unknown && fate != CLIENT_TX_UNKNOWN && strstr(e.msg, "already")) {
            if (outcome)
                *outcome = NULL;
            return 0;
        }
        if (fate == CLIENT_TX_UNKNOWN || rc == VL_ERR_TIMEOUT) {
            unknown = true;
            rc = rc ? rc : VL_ERR_TIMEOUT;
            continue;
        }
        if (fate != CLIENT_TX_INVALID)
            break;   /* refused: trying again would be refused again */
    }
    return vl_err_set(err, rc, "%s at node%d: %s", step, i, e.msg);
}

int
sim_scn_register(sim_scn_t *s, int i, client_t **slots, const vl_key_t *key, const char *name,
                 const char *role, vl_err_t *err)
{
    json_t *args = json_pack("{s:s, s:s, s:[s]}", "name", name, "org", s->net->node[i].org,
                             "roles", role);
    if (!args)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    char step[96];
    snprintf(step, sizeof step, "registering identity %s", name);
    int rc = sim_scn_setup_tx(s, i, slots, key, step, "identity", "register", args, NULL, err);
    json_decref(args);
    return rc;
}

int
sim_scn_read_contract(const char *rel, char **text, vl_err_t *err)
{
    /* $VLEDGER_CONTRACTS, the sources' contracts/lib from the working
     * directory or from a build tree (BUILD/sim/vledger-sim, BUILD one
     * level under the sources), then an installed tree (PREFIX/bin ->
     * PREFIX/share/vledger/contracts). */
    char tried[4][PATH_MAX + 64];
    const char *env = getenv("VLEDGER_CONTRACTS");
    snprintf(tried[0], sizeof tried[0], "%s/%s", env && *env ? env : "contracts/lib", rel);
    snprintf(tried[1], sizeof tried[1], "contracts/lib/%s", rel);
    char exe[PATH_MAX] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    const char *bin = dirname(exe);
    snprintf(tried[2], sizeof tried[2], "%s/../../contracts/lib/%s", bin, rel);
    snprintf(tried[3], sizeof tried[3], "%s/../share/vledger/contracts/%s", bin, rel);
    for (int k = 0; k < 4; k++) {
        FILE *f = fopen(tried[k], "rb");
        if (!f)
            continue;
        size_t cap = 64 * 1024, len = 0;
        char *buf = malloc(cap);
        while (buf) {
            len += fread(buf + len, 1, cap - len - 1, f);
            if (len < cap - 1 || ferror(f))
                break;
            char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                buf = NULL;
            }
            buf = grown;
            cap *= 2;
        }
        bool bad = ferror(f);
        fclose(f);
        if (!buf || bad) {
            free(buf);
            return vl_err_set(err, VL_ERR_IO, "cannot read %s", tried[k]);
        }
        buf[len] = '\0';
        *text = buf;
        return 0;
    }
    return vl_err_set(err, VL_ERR_NOT_FOUND, "contract file %s not found (looked in %s, %s and "
                      "%s; set VLEDGER_CONTRACTS to the contracts/lib directory)", rel, tried[0],
                      tried[2], tried[3]);
}

int
sim_scn_hold_key(sim_scn_t *s, int i, const char *name, vl_key_t **key, vl_err_t *err)
{
    const sim_node_t *nd = &s->net->node[i];
    char file[96], path[SIM_PATH_MAX + 128], config[SIM_PATH_MAX + 32], tmp[SIM_PATH_MAX + 40];
    snprintf(file, sizeof file, "%s.pem", name);
    snprintf(path, sizeof path, "%s/%s", nd->dir, file);
    snprintf(config, sizeof config, "%s/node.json", nd->dir);
    snprintf(tmp, sizeof tmp, "%s/node.json.tmp", nd->dir);
    vl_key_t *k = vl_key_generate();
    if (!k)
        return vl_err_set(err, VL_ERR_NOMEM, "prepare: cannot generate the key of %s", name);
    vl_err_t e = { "" };
    int rc = vl_key_save_pem(k, path, &e);
    if (rc) {
        vl_key_destroy(&k);
        return vl_err_set(err, rc, "prepare: key of %s at node%d: %s", name, i, e.msg);
    }
    json_error_t je;
    json_t *doc = json_load_file(config, JSON_REJECT_DUPLICATES, &je);
    json_t *list = json_object_get(doc, "identities");
    if (!list && doc) {
        list = json_array();
        json_object_set_new(doc, "identities", list);
    }
    rc = VL_ERR_IO;
    if (!json_is_array(list) || json_array_append_new(list, json_string(file)) != 0)
        vl_err_set(err, VL_ERR_INVALID, "prepare: node%d: cannot read %s: %s", i, config,
                   doc ? "\"identities\" is not an array" : je.text);
    else if (json_dump_file(doc, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0
             || rename(tmp, config) != 0)
        vl_err_set(err, VL_ERR_IO, "prepare: node%d: cannot write %s: %s", i, config,
                   strerror(errno));
    else
        rc = 0;
    json_decref(doc);
    if (rc) {
        vl_key_destroy(&k);
        return rc;
    }
    *key = k;
    return 0;
}

void
sim_scn_vin(char tag, int worker, uint64_t n, uint64_t *rnd, char out[18])
{
    static const char alphabet[] = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789";   /* no I, O, Q */
    const uint64_t base = sizeof alphabet - 1;
    out[0] = tag;
    uint64_t w = (uint64_t) worker;
    for (int k = 2; k >= 1; k--, w /= base)
        out[k] = alphabet[w % base];
    for (int k = 8; k >= 3; k--, n /= base)
        out[k] = alphabet[n % base];
    uint64_t r = sim_rand(rnd);
    for (int k = 9; k < 17; k++, r /= base)
        out[k] = alphabet[r % base];
    out[17] = '\0';
}

const char *
sim_str(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}
