/* config.c — node.json parsing, its checks (endpoint and address shapes,
 * the key file's mode) and the --dev embedded configuration. Runs before
 * the node exists, on the main thread. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
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

const char *const config_keys_help[] = {
    "name", "this node's name in logs and status (default \"node\")",
    "org", "the organisation genesis must list this node's key under (checked at start)",
    "data", "data directory: ledger, WAL, endpoints.json (required; relative to node.json)",
    "key", "the node's Ed25519 private key, PEM, mode 600 (required)",
    "genesis", "the network's genesis.json (required); its hash is compared with every peer's",
    "api", "JSON-RPC ROUTER bind, tcp://HOST:PORT or ipc://PATH (default tcp://127.0.0.1:0, "
           "0 = any free port)",
    "events", "event topics PUB bind (default tcp://127.0.0.1:0)",
    "gossip", "gossip PUB bind, tcp://HOST:PORT (absent: no gossip, a one-node network)",
    "sync", "sync ROUTER bind, tcp://HOST:PORT (required with gossip)",
    "advertise", "host or address other nodes dial for gossip and sync (default: the bind "
                 "address; required when binding 0.0.0.0 or *)",
    "peers", "bootstrap peers: [{public_key, gossip, sync}], or the name of a peers file "
             "as `vledgerd genesis` writes",
    "metrics", "Prometheus endpoint HOST:PORT or PORT (host 127.0.0.1) serving /metrics "
               "(default off)",
    "block_max_txs", "cut a block at this many transactions (1-10000, default 500)",
    "block_timeout_ms", "... or this long after the oldest pending one (1-60000, default 5)",
    "mempool_max_txs", "pending transactions held at most (1-1000000, default 50000)",
    "gossip_degree", "mesh peers beyond full mesh (1-64, default 6)",
    "gossip_full_mesh_max", "full mesh up to this many peers (0-256, default 12)",
    "heartbeat_ms", "heartbeat period (10-60000, default 500)",
    "suspect_ms", "silence before a peer is suspect (>= heartbeat_ms, default 1500)",
    "dead_ms", "silence before a peer is dead (> suspect_ms, <= 600000, default 2500)",
    "endorsement_rules", "{\"contract.function\"|\"contract.*\"|\"*\": \"rule contract\"}: "
                         "this organisation's checks before it endorses",
    "identities", "[\"KEYFILE\", ...]: participants' keys (PEM, mode 600, relative to node.json) "
    "whose reactor rules this node runs and signs follow-ups for (docs/reactors.md; at most 16)",
    "endorse_timeout_ms", "the gateway's wait for each organisation (100-60000, default 5000)",
    "reactor_retry_ms", "a reactor follow-up's first retry after this long, doubling "
                        "(100-60000, default 1000; docs/reactors.md)",
    "reactor_patience_ms", "a follow-up waiting for an organisation whose node does not answer "
                           "is retried this long (1000-86400000, default 600000)",
    NULL, NULL,
};

static bool
s_host_char(char ch)
{
    return isalnum((unsigned char) ch) || ch == '.' || ch == '-' || ch == '_';
}

int
config_check_host(const char *what, const char *host, vl_err_t *err)
{
    size_t n = strlen(host);
    bool ok = n > 0 && n < 128;
    for (size_t i = 0; ok && i < n; i++)
        ok = s_host_char(host[i]);
    if (!ok || strcmp(host, "0.0.0.0") == 0)
        return vl_err_set(err, VL_ERR_INVALID, "'%s' must be the host name or IPv4 address "
                          "other nodes dial (e.g. node1.bank.example or 192.0.2.7), without "
                          "tcp:// or a port, not '%.100s'", what, host);
    return 0;
}

int
config_check_endpoint(const char *what, const char *ep, bool ipc_ok, vl_err_t *err)
{
    if (ipc_ok && strncmp(ep, "ipc://", 6) == 0 && ep[6])
        return 0;
    const char *colon = strncmp(ep, "tcp://", 6) == 0 ? strrchr(ep + 6, ':') : NULL;
    bool ok = colon && colon > ep + 6 && colon[1] && strlen(colon + 1) <= 5;
    for (const char *p = colon ? colon + 1 : ""; ok && *p; p++)
        ok = isdigit((unsigned char) *p);
    ok = ok && atol(colon + 1) <= 65535;
    bool star = ok && colon - (ep + 6) == 1 && ep[6] == '*';
    for (const char *p = ep + 6; ok && !star && p < colon; p++)
        ok = s_host_char(*p);
    if (!ok)
        return vl_err_set(err, VL_ERR_INVALID, "'%s' must be tcp://HOST:PORT (HOST a name, an "
                          "IPv4 address or * for every interface; PORT 0-65535, 0 = any free)%s, "
                          "not '%.100s'", what, ipc_ok ? " or ipc://PATH" : "", ep);
    return 0;
}

int
config_parse_metrics(const char *value, char *host, size_t host_size, int *port, vl_err_t *err)
{
    const char *colon = strrchr(value, ':');
    const char *digits = colon ? colon + 1 : value;
    char h[128];
    size_t hl = colon ? (size_t) (colon - value) : 0;
    bool ok = *digits && strlen(digits) <= 5 && hl < sizeof h;
    for (const char *p = digits; ok && *p; p++)
        ok = isdigit((unsigned char) *p);
    ok = ok && atol(digits) <= 65535;
    if (ok) {
        memcpy(h, value, hl);
        h[hl] = 0;
        if (!h[0] || strcmp(h, "localhost") == 0)
            snprintf(h, sizeof h, "127.0.0.1");
        struct in_addr a;
        ok = inet_pton(AF_INET, h, &a) == 1 && strlen(h) < host_size;
    }
    if (!ok)
        return vl_err_set(err, VL_ERR_INVALID, "'metrics' must be IPV4:PORT or PORT (e.g. "
                          "\"127.0.0.1:9464\"; host 127.0.0.1 when only a port), not '%.100s'",
                          value);
    snprintf(host, host_size, "%s", h);
    *port = atoi(digits);
    return 0;
}

int
config_check_key(const char *path, vl_err_t *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return vl_err_set(err, VL_ERR_IO, "cannot open key file %s: %s (create the node with "
                          "`vledgerd init`, or set 'key' in node.json to its key)", path,
                          strerror(errno));
    if (!S_ISREG(st.st_mode))
        return vl_err_set(err, VL_ERR_INVALID, "key file %s is not a regular file", path);
    if (st.st_mode & 077)
        return vl_err_set(err, VL_ERR_INVALID, "key file %s is readable or writable by group or "
                          "others (mode %04o): the private key must be the node's alone; run "
                          "`chmod 600 %s`", path, (unsigned) (st.st_mode & 07777), path);
    if (access(path, R_OK) != 0)
        return vl_err_set(err, VL_ERR_IO, "cannot open key file %s: %s (it belongs to uid %u; "
                          "run the node as that user, or chown the file to the node's user)",
                          path, strerror(errno), (unsigned) st.st_uid);
    return 0;
}

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
    c->reactor_retry_ms = CONFIG_REACTOR_RETRY_MS_DEFAULT;
    c->reactor_patience_ms = CONFIG_REACTOR_PATIENCE_MS_DEFAULT;
    orderer_config_defaults(&c->orderer);
    gossip_config_defaults(&c->gossip);
}

static int s_load_peers(json_t *peers, node_config_t *c, vl_err_t *err);

/* The gossip settings of node.json: "gossip", "sync", "advertise", "peers"
 * and the tuning knobs. Gossip stays off without a "gossip" endpoint. */
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
    const char *advertise = NULL;
    if (vl_json_get_str(doc, "advertise", false, &advertise, err)
        || (gossip && config_check_endpoint("gossip", gossip, false, err))
        || (sync && config_check_endpoint("sync", sync, false, err))
        || (advertise && config_check_host("advertise", advertise, err)))
        return VL_ERR_INVALID;
    if (advertise && !gossip)
        return vl_err_set(err, VL_ERR_INVALID, "'advertise' goes with 'gossip' and 'sync'");
    for (int k = 0; gossip && !advertise && k < 2; k++) {
        const char *ep = k ? sync : gossip;
        if (strncmp(ep, "tcp://*:", 8) == 0 || strncmp(ep, "tcp://0.0.0.0:", 14) == 0)
            return vl_err_set(err, VL_ERR_INVALID, "'%s' binds every interface (%s): set "
                              "'advertise' to the host name or address other organisations "
                              "dial", k ? "sync" : "gossip", ep);
    }
    snprintf(gc->advertise_host, sizeof gc->advertise_host, "%s", advertise ? advertise : "");
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
    return s_load_peers(peers, c, err);
}

/* The bootstrap peers: an array, or a peers file ({"peers": [...]} or an
 * array) named relative to node.json's directory (base). */
static int
s_peers_array(json_t *peers, node_config_t *c, vl_err_t *err)
{
    if (!json_is_array(peers) || json_array_size(peers) > CONFIG_PEERS_MAX)
        return vl_err_set(err, VL_ERR_INVALID, "'peers' must be an array of at most %d objects, "
                          "or the name of a peers file", CONFIG_PEERS_MAX);
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

static int
s_load_peers(json_t *peers, node_config_t *c, vl_err_t *err)
{
    if (!json_is_string(peers))
        return s_peers_array(peers, c, err);
    if (!c->gossip_on)
        return vl_err_set(err, VL_ERR_INVALID, "'peers' goes with 'gossip' and 'sync'");
    json_error_t jerr;
    json_t *doc = json_load_file(c->peers_path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return vl_err_set(err, access(c->peers_path, R_OK) == 0 ? VL_ERR_INVALID : VL_ERR_IO,
                          "cannot read peers file %s: %s (copy here the peers.json that "
                          "`vledgerd genesis` wrote beside genesis.json)", c->peers_path,
                          jerr.text);
    json_t *list = json_is_object(doc) ? json_object_get(doc, "peers") : doc;
    const char *hash = json_string_value(json_object_get(doc, "genesis_hash"));
    if (hash && strlen(hash) == 64)
        snprintf(c->peers_genesis_hash, sizeof c->peers_genesis_hash, "%s", hash);
    int rc = list ? s_peers_array(list, c, err)
                  : vl_err_set(err, VL_ERR_INVALID, "'peers' is missing");
    if (rc != 0) {
        char msg[VL_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err->msg);
        vl_err_set(err, rc, "peers file %s: %s", c->peers_path, msg);
    }
    json_decref(doc);
    return rc;
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

/* "identities": ["KEYFILE", ...], relative to node.json's directory. */
static int
s_load_identities(json_t *doc, const char *base, node_config_t *c, vl_err_t *err)
{
    json_t *list = json_object_get(doc, "identities");
    if (!list)
        return 0;
    if (!json_is_array(list) || json_array_size(list) > CONFIG_IDENTITIES_MAX)
        return vl_err_set(err, VL_ERR_INVALID, "'identities' must be an array of at most %d key "
                          "file names", CONFIG_IDENTITIES_MAX);
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const char *f = json_string_value(v);
        if (!f || !f[0] || s_path(c->identities[c->n_identities], PATH_MAX, base, f) != 0)
            return vl_err_set(err, VL_ERR_INVALID, "identities[%zu] must be a key file name", i);
        c->n_identities++;
    }
    return 0;
}

int
config_load(const char *path, node_config_t *out, vl_err_t *err)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return vl_err_set(err, access(path, R_OK) == 0 ? VL_ERR_INVALID : VL_ERR_IO,
                          "cannot read config %s: %s (line %d)", path, jerr.text, jerr.line);
    node_config_t *c = malloc(sizeof *c);   /* large (the peers): not on the stack */
    if (!c) {
        json_decref(doc);
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    }
    config_defaults(c);
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
        for (size_t i = 0; config_keys_help[i] && !ok; i += 2)
            ok = strcmp(config_keys_help[i], key) == 0;
        if (!ok) {
            vl_err_set(err, rc, "config %s: unknown setting '%.64s' (`vledgerd --help` lists "
                       "every setting)", path, key);
            goto done;
        }
    }
    const char *name = NULL, *data = NULL, *keyf = NULL, *gen = NULL, *api = NULL, *ev = NULL;
    const char *org = NULL, *metrics = NULL;
    int64_t max_txs = (int64_t) c->orderer.block_max_txs, timeout = c->orderer.block_timeout_ms,
            pool = (int64_t) c->mempool_max_txs, endorse_timeout = c->endorse_timeout_ms,
            retry = c->reactor_retry_ms, patience = c->reactor_patience_ms;
    if (vl_json_get_str(doc, "name", false, &name, &e) || vl_json_get_str(doc, "data", true, &data, &e)
        || vl_json_get_str(doc, "key", true, &keyf, &e)
        || vl_json_get_str(doc, "genesis", true, &gen, &e)
        || vl_json_get_str(doc, "api", false, &api, &e)
        || vl_json_get_str(doc, "events", false, &ev, &e)
        || vl_json_get_int(doc, "block_max_txs", false, &max_txs, &e)
        || vl_json_get_int(doc, "block_timeout_ms", false, &timeout, &e)
        || vl_json_get_int(doc, "mempool_max_txs", false, &pool, &e)
        || vl_json_get_int(doc, "endorse_timeout_ms", false, &endorse_timeout, &e)
        || vl_json_get_int(doc, "reactor_retry_ms", false, &retry, &e)
        || vl_json_get_int(doc, "reactor_patience_ms", false, &patience, &e)
        || vl_json_get_str(doc, "org", false, &org, &e)
        || vl_json_get_str(doc, "metrics", false, &metrics, &e)
        || (api && config_check_endpoint("api", api, true, &e))
        || (ev && config_check_endpoint("events", ev, true, &e))
        || (metrics && config_parse_metrics(metrics, c->metrics_host, sizeof c->metrics_host,
                                            &c->metrics_port, &e))
        || (name && (!name[0] || strlen(name) >= sizeof c->name)
            && vl_err_set(&e, VL_ERR_INVALID, "'name' must be 1-63 characters"))
        || (org && (!org[0] || strlen(org) >= sizeof c->org)
            && vl_err_set(&e, VL_ERR_INVALID, "'org' must be 1-63 characters"))) {
        vl_err_set(err, rc, "config %s: %s", path, e.msg);
        goto done;
    }
    c->metrics_on = metrics != NULL;
    if (org)
        snprintf(c->org, sizeof c->org, "%s", org);
    if (max_txs < 1 || max_txs > 10000 || timeout < 1 || timeout > 60000 || pool < 1
        || pool > 1000000 || endorse_timeout < 100 || endorse_timeout > 60000 || retry < 100
        || retry > 60000 || patience < 1000 || patience > 86400000) {
        vl_err_set(err, rc, "config %s: block_max_txs must be 1-10000, block_timeout_ms 1-60000, "
                            "mempool_max_txs 1-1000000, endorse_timeout_ms 100-60000, "
                            "reactor_retry_ms 100-60000, reactor_patience_ms 1000-86400000",
                   path);
        goto done;
    }
    if (name)
        snprintf(c->name, sizeof c->name, "%s", name);
    if ((api && snprintf(c->api_endpoint, sizeof c->api_endpoint, "%s", api) < 0)
        || (ev && snprintf(c->events_endpoint, sizeof c->events_endpoint, "%s", ev) < 0)
        || s_path(c->data_dir, sizeof c->data_dir, base, data)
        || s_path(c->key_path, sizeof c->key_path, base, keyf)
        || s_path(c->genesis_path, sizeof c->genesis_path, base, gen)
        || (json_is_string(json_object_get(doc, "peers"))
            && s_path(c->peers_path, sizeof c->peers_path, base,
                      json_string_value(json_object_get(doc, "peers"))))) {
        vl_err_set(err, rc, "config %s: a path is too long", path);
        goto done;
    }
    if (s_load_gossip(doc, c, &e) != 0 || s_load_rules(doc, c, &e) != 0
        || s_load_identities(doc, base, c, &e) != 0) {
        vl_err_set(err, rc, "config %s: %s", path, e.msg);
        goto done;
    }
    c->orderer.block_max_txs = (size_t) max_txs;
    c->orderer.block_timeout_ms = (int) timeout;
    c->mempool_max_txs = (size_t) pool;
    c->endorse_timeout_ms = (int) endorse_timeout;
    c->reactor_retry_ms = (int) retry;
    c->reactor_patience_ms = (int) patience;
    *out = *c;
    rc = 0;
done:
    free(c);
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
