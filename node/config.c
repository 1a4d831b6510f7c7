/* config.c — node.json parsing and the --dev embedded configuration. */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "codec.h"
#include "crypto.h"
#include "genesis.h"
#include "json.h"

void
config_defaults(node_config_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "node");
    snprintf(c->api_endpoint, sizeof c->api_endpoint, "tcp://127.0.0.1:0");
    snprintf(c->events_endpoint, sizeof c->events_endpoint, "tcp://127.0.0.1:0");
    c->mempool_max_txs = CONFIG_MEMPOOL_MAX_TXS_DEFAULT;
    c->mempool_max_bytes = CONFIG_MEMPOOL_MAX_BYTES_DEFAULT;
    c->endorse_timeout_ms = CONFIG_ENDORSE_TIMEOUT_MS_DEFAULT;
    orderer_config_defaults(&c->orderer);
    gossip_config_defaults(&c->gossip);
}

/* The gossip settings of node.json: "gossip", "sync", "peers" and the
 * tuning knobs. Gossip stays off without a "gossip" endpoint. */
static int
s_load_gossip(json_t *doc, node_config_t *c, vl_err_t *err)
{
    const char *gossip = NULL, *sync = NULL;
    gossip_config_t *gc = &c->gossip;
    int64_t degree = (int64_t) gc->degree, full = (int64_t) gc->full_mesh_max,
            hb = gc->heartbeat_ms, suspect = gc->suspect_ms, dead = gc->dead_ms;
    if (vl_json_get_str(doc, "gossip", false, &gossip, err)
        || vl_json_get_str(doc, "sync", false, &sync, err)
        || vl_json_get_int(doc, "gossip_degree", false, &degree, err)
        || vl_json_get_int(doc, "gossip_full_mesh_max", false, &full, err)
        || vl_json_get_int(doc, "heartbeat_ms", false, &hb, err)
        || vl_json_get_int(doc, "suspect_ms", false, &suspect, err)
        || vl_json_get_int(doc, "dead_ms", false, &dead, err))
        return VL_ERR_INVALID;
    if (degree < 1 || degree > 64 || full < 0 || full > 256 || hb < 10 || hb > 60000
        || suspect < hb || dead <= suspect || dead > 600000)
        return vl_err_set(err, VL_ERR_INVALID,
                          "gossip_degree must be 1-64, gossip_full_mesh_max 0-256, heartbeat_ms "
                          "10-60000, heartbeat_ms <= suspect_ms < dead_ms <= 600000");
    if ((gossip != NULL) != (sync != NULL))
        return vl_err_set(err, VL_ERR_INVALID, "'gossip' and 'sync' go together");
    if ((gossip && strlen(gossip) >= sizeof gc->gossip_endpoint)
        || (sync && strlen(sync) >= sizeof gc->sync_endpoint))
        return vl_err_set(err, VL_ERR_INVALID, "an endpoint is too long");
    c->gossip_on = gossip != NULL;
    snprintf(gc->gossip_endpoint, sizeof gc->gossip_endpoint, "%s", gossip ? gossip : "");
    snprintf(gc->sync_endpoint, sizeof gc->sync_endpoint, "%s", sync ? sync : "");
    gc->degree = (size_t) degree;
    gc->full_mesh_max = (size_t) full;
    gc->heartbeat_ms = (int) hb;
    gc->suspect_ms = (int) suspect;
    gc->dead_ms = (int) dead;
    json_t *peers = json_object_get(doc, "peers");
    if (!peers)
        return 0;
    if (!json_is_array(peers) || json_array_size(peers) > CONFIG_PEERS_MAX)
        return vl_err_set(err, VL_ERR_INVALID, "'peers' must be an array of at most %d objects",
                          CONFIG_PEERS_MAX);
    size_t i;
    json_t *p;
    json_array_foreach(peers, i, p) {
        const char *pk = NULL, *g = NULL, *s = NULL;
        if (!json_is_object(p) || vl_json_get_str(p, "public_key", true, &pk, err)
            || vl_json_get_str(p, "gossip", false, &g, err)
            || vl_json_get_str(p, "sync", false, &s, err))
            return vl_err_set(err, VL_ERR_INVALID, "peers[%zu]: needs public_key (and gossip, "
                                                   "sync endpoints)", i);
        config_peer_t *cp = &c->peers[i];
        if (strlen(pk) >= sizeof cp->public_key || (g && strlen(g) >= sizeof cp->gossip)
            || (s && strlen(s) >= sizeof cp->sync))
            return vl_err_set(err, VL_ERR_INVALID, "peers[%zu]: a value is too long", i);
        snprintf(cp->public_key, sizeof cp->public_key, "%s", pk);
        snprintf(cp->gossip, sizeof cp->gossip, "%s", g ? g : "");
        snprintf(cp->sync, sizeof cp->sync, "%s", s ? s : "");
    }
    c->n_peers = json_array_size(peers);
    return 0;
}

/* "endorsement_rules": {"contract.function"|"contract.*"|"*": "rule_contract"}. */
static int
s_load_rules(json_t *doc, node_config_t *c, vl_err_t *err)
{
    json_t *rules = json_object_get(doc, "endorsement_rules");
    if (!rules)
        return 0;
    if (!json_is_object(rules) || json_object_size(rules) > CONFIG_RULES_MAX)
        return vl_err_set(err, VL_ERR_INVALID, "'endorsement_rules' must be an object of at most "
                          "%d \"contract.function\": \"rule contract\" pairs", CONFIG_RULES_MAX);
    const char *target;
    json_t *v;
    json_object_foreach(rules, target, v) {
        const char *name = json_string_value(v);
        config_rule_t *r = &c->rules[c->n_rules];
        if (!name || !name[0] || strlen(name) >= sizeof r->contract || !target[0]
            || strlen(target) >= sizeof r->target)
            return vl_err_set(err, VL_ERR_INVALID, "endorsement_rules['%.64s']: the value must "
                              "name a contract (1-64 characters)", target);
        snprintf(r->target, sizeof r->target, "%s", target);
        snprintf(r->contract, sizeof r->contract, "%s", name);
        c->n_rules++;
    }
    return 0;
}

static int
s_path(char *out, size_t size, const char *base_dir, const char *value)
{
    int n = value[0] == '/' ? snprintf(out, size, "%s", value)
                            : snprintf(out, size, "%s/%s", base_dir, value);
    return n > 0 && (size_t) n < size ? 0 : VL_ERR_INVALID;
}

int
config_load(const char *path, node_config_t *out, vl_err_t *err)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return vl_err_set(err, access(path, R_OK) == 0 ? VL_ERR_INVALID : VL_ERR_IO,
                          "cannot read config %s: %s (line %d)", path, jerr.text, jerr.line);
    static const char *known[] = { "name", "data", "key", "genesis", "api", "events", "gossip",
                                   "sync", "peers", "block_max_txs", "block_timeout_ms",
                                   "mempool_max_txs", "gossip_degree", "gossip_full_mesh_max",
                                   "heartbeat_ms", "suspect_ms", "dead_ms", "endorsement_rules",
                                   "endorse_timeout_ms", NULL };
    node_config_t c;
    config_defaults(&c);
    char dir_buf[PATH_MAX];
    snprintf(dir_buf, sizeof dir_buf, "%s", path);
    const char *base = dirname(dir_buf);
    int rc = VL_ERR_INVALID;
    vl_err_t e = { "" };
    const char *key;
    json_t *value;
    if (!json_is_object(doc)) {
        vl_err_set(err, rc, "config %s: not a JSON object", path);
        goto done;
    }
    json_object_foreach(doc, key, value) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(known[i], key) == 0;
        if (!ok) {
            vl_err_set(err, rc, "config %s: unknown setting '%s'", path, key);
            goto done;
        }
    }
    const char *name = NULL, *data = NULL, *keyf = NULL, *gen = NULL, *api = NULL, *ev = NULL;
    int64_t max_txs = (int64_t) c.orderer.block_max_txs, timeout = c.orderer.block_timeout_ms,
            pool = (int64_t) c.mempool_max_txs, endorse_timeout = c.endorse_timeout_ms;
    if (vl_json_get_str(doc, "name", false, &name, &e) || vl_json_get_str(doc, "data", true, &data, &e)
        || vl_json_get_str(doc, "key", true, &keyf, &e)
        || vl_json_get_str(doc, "genesis", true, &gen, &e)
        || vl_json_get_str(doc, "api", false, &api, &e)
        || vl_json_get_str(doc, "events", false, &ev, &e)
        || vl_json_get_int(doc, "block_max_txs", false, &max_txs, &e)
        || vl_json_get_int(doc, "block_timeout_ms", false, &timeout, &e)
        || vl_json_get_int(doc, "mempool_max_txs", false, &pool, &e)
        || vl_json_get_int(doc, "endorse_timeout_ms", false, &endorse_timeout, &e)) {
        vl_err_set(err, rc, "config %s: %s", path, e.msg);
        goto done;
    }
    if (max_txs < 1 || max_txs > 10000 || timeout < 1 || timeout > 60000 || pool < 1
        || pool > 1000000 || endorse_timeout < 100 || endorse_timeout > 60000) {
        vl_err_set(err, rc, "config %s: block_max_txs must be 1-10000, block_timeout_ms 1-60000, "
                            "mempool_max_txs 1-1000000, endorse_timeout_ms 100-60000", path);
        goto done;
    }
    if (name)
        snprintf(c.name, sizeof c.name, "%s", name);
    if ((api && snprintf(c.api_endpoint, sizeof c.api_endpoint, "%s", api) < 0)
        || (ev && snprintf(c.events_endpoint, sizeof c.events_endpoint, "%s", ev) < 0)
        || s_path(c.data_dir, sizeof c.data_dir, base, data)
        || s_path(c.key_path, sizeof c.key_path, base, keyf)
        || s_path(c.genesis_path, sizeof c.genesis_path, base, gen)) {
        vl_err_set(err, rc, "config %s: a path is too long", path);
        goto done;
    }
    if (s_load_gossip(doc, &c, &e) != 0 || s_load_rules(doc, &c, &e) != 0) {
        vl_err_set(err, rc, "config %s: %s", path, e.msg);
        goto done;
    }
    c.orderer.block_max_txs = (size_t) max_txs;
    c.orderer.block_timeout_ms = (int) timeout;
    c.mempool_max_txs = (size_t) pool;
    c.endorse_timeout_ms = (int) endorse_timeout;
    *out = c;
    rc = 0;
done:
    json_decref(doc);
    return rc;
}

int
config_dev(const char *dir, node_config_t *out, vl_err_t *err)
{
    node_config_t c;
    config_defaults(&c);
    snprintf(c.name, sizeof c.name, "dev");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return vl_err_set(err, VL_ERR_IO, "cannot create data directory %s: %s", dir,
                          strerror(errno));
    if (snprintf(c.data_dir, sizeof c.data_dir, "%s", dir) >= (int) sizeof c.data_dir
        || snprintf(c.key_path, sizeof c.key_path, "%s/node.key", dir) >= (int) sizeof c.key_path
        || snprintf(c.genesis_path, sizeof c.genesis_path, "%s/genesis.json", dir)
               >= (int) sizeof c.genesis_path)
        return vl_err_set(err, VL_ERR_INVALID, "data directory path is too long");

    vl_key_t *key = NULL;
    if (access(c.key_path, F_OK) == 0) {
        key = vl_key_load_pem(c.key_path, err);
        if (!key)
            return VL_ERR_INVALID;
    } else {
        key = vl_key_generate();
        if (!key)
            return vl_err_set(err, VL_ERR_NOMEM, "cannot generate a key");
        int rc = vl_key_save_pem(key, c.key_path, err);
        if (rc != 0) {
            vl_key_destroy(&key);
            return rc;
        }
    }
    int rc = 0;
    if (access(c.genesis_path, F_OK) != 0) {
        genesis_t g;
        genesis_defaults(&g);
        uint8_t rnd[4];
        vl_random_bytes(rnd, sizeof rnd);
        char hex[9];
        vl_hex_encode(rnd, sizeof rnd, hex);
        snprintf(g.chain_id, sizeof g.chain_id, "vledger-dev-%s", hex);
        g.timestamp_ms = vl_wall_ms();
        /* One organisation holding every role: the quick start alone. */
        const char *roles[ORG_ROLE_COUNT];
        for (int r = 0; r < ORG_ROLE_COUNT; r++)
            roles[r] = org_role_name((org_role_t) r);
        rc = orgs_add(&g.orgs, "dev", roles, ORG_ROLE_COUNT, err);
        if (rc == 0)
            rc = members_add(&g.members, vl_key_public(key), "dev", 0, true, true);
        if (rc == 0)
            rc = genesis_save(&g, c.genesis_path, err);
    }
    vl_key_destroy(&key);
    if (rc == 0)
        *out = c;
    return rc;
}
