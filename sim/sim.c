/*
 * sim.c — vledger-sim: generates networks and drives them from outside, as
 * an operator would (DESIGN §8). `net create` is a thin wrapper over the
 * operators' own steps (node/deploy.h: `vledgerd init` per node, `vledgerd
 * genesis` from the cards, bootstrap peers from the cards), all on one host.
 * This first part:
 *
 *   vledger-sim net create --nodes N [--validators V] [--orgs NAME[:ROLE+ROLE...],...]
 *                          --out DIR [--base-port P] [--degree D] [--full-mesh-max F]
 *                          [--bootstrap K] [--block-max-txs B] [--heartbeat-ms H]
 *       DIR/genesis.json (organisations and all members; node I belongs to
 *       the I-th organisation of --orgs (a name listed again: another node
 *       of that organisation), a node past the list to an
 *       organisation of its own named nodeI; without --orgs node I's
 *       organisation is nodeI, holding `validator` for I < V, and node 0's
 *       also `issuer`), DIR/nodeI/card.json, DIR/nodeI/node.key (Ed25519 PEM; the
 *       CURVE transport keys derive from it, gossip/curve.h) and
 *       DIR/nodeI/node.json with gossip on 127.0.0.1:P+2I and sync on
 *       P+2I+1 (checked free at creation), api/events on free ports (see
 *       DIR/nodeI/data/endpoints.json once started), K bootstrap peers;
 *       --heartbeat-ms H also sets suspect_ms 3H and dead_ms 5H (node.json
 *       defaults otherwise: 500 / 1,500 / 2,500, slowed with the size).
 *       Start a node with `vledgerd --config DIR/nodeI/node.json`.
 *   vledger-sim load --node ENDPOINT --count N [--timeout-ms T]
 *       N identity registrations under fresh keys, endorsed and submitted
 *       without waiting (bounded by N and T): test load that makes blocks.
 *   vledger-sim probe sub|push|garbage ... — hostile-peer checks for tests
 *       (see s_probe).
 *   vledger-sim run ... / bench ... — scenarios under faults with invariant
 *       checks and a report (run.c), and the throughput benchmark (bench.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "client.h"
#include "clock.h"
#include "codec.h"
#include "crypto.h"
#include "curve.h"
#include "envelope.h"
#include "block.h"
#include "deploy.h"
#include "genesis.h"
#include "probe_endorse.h"
#include "run.h"

static const char *s_usage =
    "usage: vledger-sim net create --nodes N [--validators V] [--orgs NAME[:ROLE+ROLE...],...]\n"
    "                              --out DIR [--base-port P]\n"
    "                              [--degree D] [--full-mesh-max F] [--bootstrap K]\n"
    "                              [--block-max-txs B] [--heartbeat-ms H]\n"
    "       vledger-sim run --nodes N [--validators V] --scenario sale|market|load|churn\n"
    "                       [--duration SECONDS] [--rate TX_PER_S] [--workers W]\n"
    "                       [--faults kill,pause,partition,delay,byzantine] [--seed S]\n"
    "                       [--report DIR] [--vledgerd PATH] [--keep] [--plan]\n"
    "       vledger-sim bench [--nodes N] [--validators V] [--duration SECONDS] [--clients K]\n"
    "                         [--kill]\n"
    "       vledger-sim load --node ENDPOINT --count N [--timeout-ms T]\n"
    "       vledger-sim probe sub --key PEM --server-key B64 --endpoint E [--ms T]\n"
    "       vledger-sim probe push --key PEM --server-key B64 --endpoint SYNC\n"
    "       vledger-sim probe garbage --endpoint E\n"
    "       vledger-sim probe block --key PEM --server-key B64 --endpoint SYNC --chain C\n"
    "                               --height H --prev HEX --state HEX\n"
    "       vledger-sim probe txget --key PEM --server-key B64 --endpoint SYNC --txid HEX\n"
    "       vledger-sim probe endorse-one --endpoint API --key PEM --contract C --function F\n"
    "                                     [--args JSON] [--timeout-ms T]\n";

static bool
s_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t) port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *) &a, sizeof a) == 0;
    close(fd);
    return ok;
}

static long
s_num(const char *text, long lo, long hi, const char *what)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < lo || v > hi) {
        fprintf(stderr, "vledger-sim: %s must be an integer %ld-%ld, not '%s'\n", what, lo, hi,
                text);
        exit(2);
    }
    return v;
}

/* The organisation of each of the n nodes (node_org[i]) from --orgs
 * "NAME[:ROLE+ROLE...],...": node i belongs to the i-th listed; a name
 * listed again is another node of that organisation (its roles given once,
 * or the same again). Nodes past the list (and, without --orgs, every node)
 * get one of their own named nodeI, with `validator` for I < validators and
 * node 0's with `issuer` too when no --orgs. orgs collects the distinct
 * organisations. */
static int
s_orgs(const char *spec, long n, long validators, orgs_t *orgs, org_t *node_org, vl_err_t *err)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", spec ? spec : "");
    char *save = NULL;
    long listed = 0;
    for (char *item = spec ? strtok_r(buf, ",", &save) : NULL; item;
         item = strtok_r(NULL, ",", &save)) {
        if (listed == n)
            return vl_err_set(err, VL_ERR_INVALID, "more organisations than --nodes %ld", n);
        const char *roles[ORG_ROLES_MAX];
        size_t n_roles = 0;
        char *colon = strchr(item, ':');
        if (colon) {
            *colon = '\0';
            char *rsave = NULL;
            for (char *r = strtok_r(colon + 1, "+", &rsave); r; r = strtok_r(NULL, "+", &rsave)) {
                if (n_roles == ORG_ROLES_MAX)
                    return vl_err_set(err, VL_ERR_LIMIT, "organisation '%s': too many roles",
                                      item);
                roles[n_roles++] = r;
            }
        }
        int at = orgs_find(orgs, item);
        if (at >= 0) {
            orgs_t one;
            memset(&one, 0, sizeof one);
            if (n_roles > 0 && (orgs_add(&one, item, roles, n_roles, err) != 0
                                || one.items[0].role_count != orgs->items[at].role_count
                                || memcmp(one.items[0].roles, orgs->items[at].roles,
                                          one.items[0].role_count * sizeof one.items[0].roles[0])))
                return vl_err_set(err, VL_ERR_INVALID, "organisation '%s' is listed again with "
                                  "other roles: give its roles once", item);
        } else if (orgs_add(orgs, item, roles, n_roles, err) != 0) {
            return VL_ERR_INVALID;
        } else {
            at = (int) orgs->count - 1;
        }
        node_org[listed++] = orgs->items[at];
    }
    for (long i = listed; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "node%ld", i);
        const char *roles[2];
        size_t n_roles = 0;
        if (!spec && i < validators)
            roles[n_roles++] = "validator";
        if (!spec && i == 0)
            roles[n_roles++] = "issuer";
        if (orgs_add(orgs, name, roles, n_roles, err) != 0)
            return VL_ERR_INVALID;
        node_org[i] = orgs->items[orgs->count - 1];
    }
    return 0;
}

static int
s_net_create(int argc, char **argv)
{
    long n = 0, v = -1, base = 17000, degree = 6, full = 12, boot = -1, max_txs = 500, hb = 0;
    const char *out = NULL, *orgs_arg = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) {
            fprintf(stderr, "vledger-sim: option '%s' needs a value\n%s", a, s_usage);
            return 2;
        }
        i++;
        if (!strcmp(a, "--nodes")) n = s_num(val, 1, 256, "--nodes");
        else if (!strcmp(a, "--validators")) v = s_num(val, 1, 256, "--validators");
        else if (!strcmp(a, "--out")) out = val;
        else if (!strcmp(a, "--orgs")) orgs_arg = val;
        else if (!strcmp(a, "--base-port")) base = s_num(val, 1024, 65000, "--base-port");
        else if (!strcmp(a, "--degree")) degree = s_num(val, 1, 64, "--degree");
        else if (!strcmp(a, "--full-mesh-max")) full = s_num(val, 0, 256, "--full-mesh-max");
        else if (!strcmp(a, "--bootstrap")) boot = s_num(val, 1, 64, "--bootstrap");
        else if (!strcmp(a, "--block-max-txs")) max_txs = s_num(val, 1, 10000, "--block-max-txs");
        else if (!strcmp(a, "--heartbeat-ms")) hb = s_num(val, 10, 60000, "--heartbeat-ms");
        else {
            fprintf(stderr, "vledger-sim: unknown option '%s'\n%s", a, s_usage);
            return 2;
        }
    }
    if (!n || !out) {
        fprintf(stderr, "vledger-sim: net create needs --nodes and --out\n%s", s_usage);
        return 2;
    }
    orgs_t orgs;
    memset(&orgs, 0, sizeof orgs);
    vl_err_t err = { "" };
    org_t *node_org = calloc((size_t) n, sizeof *node_org);
    if (!node_org) {
        fprintf(stderr, "vledger-sim: out of memory\n");
        return 1;
    }
    if (s_orgs(orgs_arg, n, v < 0 ? 1 : v, &orgs, node_org, &err) != 0) {
        fprintf(stderr, "vledger-sim: --orgs: %s\n", err.msg);
        return 2;
    }
    long validators = 0;
    for (long i = 0; i < n; i++)
        validators += org_has_role(&node_org[i], ORG_ROLE_VALIDATOR);
    if (v >= 0 && orgs_arg && v != validators) {
        fprintf(stderr, "vledger-sim: --validators %ld, but %ld of the nodes' organisations hold "
                        "the role validator\n", v, validators);
        return 2;
    }
    v = validators;
    if (v > n || v == 0) {
        fprintf(stderr, "vledger-sim: a network needs one validator, and no more than nodes\n");
        return 2;
    }
    if (base + 2 * n > 65535) {
        fprintf(stderr, "vledger-sim: --base-port %ld leaves no room for %ld nodes\n", base, n);
        return 2;
    }
    for (long i = 0; i < 2 * n; i++)
        if (!s_port_free((int) (base + i))) {
            fprintf(stderr, "vledger-sim: port %ld on 127.0.0.1 is in use; choose another "
                            "--base-port\n", base + i);
            return 1;
        }
    if (boot < 0)
        boot = n - 1 <= full ? n - 1 : (n - 1 < 4 ? n - 1 : 4);
    if (boot > n - 1)
        boot = n - 1;
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "vledger-sim: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    /* The operators' steps (deploy.h), one organisation per node: init in
     * DIR/nodeI (key, node.json, card), the genesis from the cards alone,
     * then each node.json's bootstrap peers from the cards. */
    uint8_t rnd[4];
    vl_random_bytes(rnd, sizeof rnd);
    char hex[9];
    vl_hex_encode(rnd, sizeof rnd, hex);
    char chain[GENESIS_CHAIN_ID_MAX + 1];
    snprintf(chain, sizeof chain, "vledger-sim-%s", hex);
    deploy_card_t *cards = calloc((size_t) n, sizeof *cards);
    json_t *settings = json_pack("{s:I, s:I, s:I}", "gossip_degree", (json_int_t) degree,
                                 "gossip_full_mesh_max", (json_int_t) full, "block_max_txs",
                                 (json_int_t) max_txs);
    if (!cards || !settings) {
        fprintf(stderr, "vledger-sim: out of memory\n");
        return 1;
    }
    if (hb > 0) {
        json_object_set_new(settings, "heartbeat_ms", json_integer(hb));
        json_object_set_new(settings, "suspect_ms", json_integer(3 * hb));
        json_object_set_new(settings, "dead_ms", json_integer(5 * hb));
    }
    char path[4096];
    for (long i = 0; i < n; i++) {
        const org_t *o = &node_org[i];
        char dir[4096], name[32], roles[ORG_ROLES_MAX * 32] = "";
        snprintf(dir, sizeof dir, "%s/node%ld", out, i);
        snprintf(name, sizeof name, "node%ld", i);
        for (size_t r = 0; r < o->role_count; r++)
            snprintf(roles + strlen(roles), sizeof roles - strlen(roles), "%s%s", r ? "+" : "",
                     org_role_name(o->roles[r]));
        deploy_init_t init = {
            .dir = dir, .org = o->name, .roles = roles, .name = name, .bind = "127.0.0.1",
            .gossip_port = (int) (base + 2 * i), .sync_port = (int) (base + 2 * i + 1),
            .api_port = 0, .events_port = 0, .genesis = "../genesis.json",
            .settings = settings,
        };
        if (deploy_init(&init, &cards[i], &err) != 0) {
            fprintf(stderr, "vledger-sim: %s\n", err.msg);
            return 1;
        }
    }
    json_decref(settings);
    genesis_t *g = malloc(sizeof *g);
    snprintf(path, sizeof path, "%s/genesis.json", out);
    if (!g || deploy_genesis_build(cards, (size_t) n, NULL, chain, vl_wall_ms(), g, &err) != 0
        || genesis_save(g, path, &err) != 0) {
        fprintf(stderr, "vledger-sim: %s\n", g ? err.msg : "out of memory");
        return 1;
    }
    for (long i = 0; i < n; i++) {
        json_t *peers = json_array();
        /* Ring successors: the bootstrap graph is one directed cycle plus
         * chords, so it is connected whatever K is. */
        for (long j = 1; j <= boot; j++) {
            const deploy_card_t *c = &cards[(i + j) % n];
            char *pub = vl_base64_encode(c->public_key, VL_PUBKEY_SIZE);
            json_array_append_new(peers, json_pack("{s:s, s:s, s:s, s:s}", "name", c->name,
                                                   "public_key", pub, "gossip", c->gossip,
                                                   "sync", c->sync));
            free(pub);
        }
        snprintf(path, sizeof path, "%s/node%ld/node.json", out, i);
        if (deploy_set_setting(path, "peers", peers, &err) != 0) {
            fprintf(stderr, "vledger-sim: %s\n", err.msg);
            return 1;
        }
    }
    printf("network %s: %ld nodes (%ld validators), genesis %s/genesis.json, gossip "
           "ports %ld-%ld\nstart each with: vledgerd --config %s/nodeI/node.json\n",
           g->chain_id, n, v, out, base, base + 2 * n - 1, out);
    free(g);
    free(cards);
    free(node_org);
    return 0;
}

/* --- load ------------------------------------------------------------------ */

static int
s_b64_field(json_t *obj, const char *key, uint8_t **out, size_t *len)
{
    const char *t = json_string_value(json_object_get(obj, key));
    return t ? vl_base64_decode(t, out, len) : VL_ERR_INVALID;
}

static int
s_load(int argc, char **argv)
{
    const char *node = NULL;
    long count = 0, timeout = 60000;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--node")) node = argv[i + 1];
        else if (!strcmp(argv[i], "--count")) count = s_num(argv[i + 1], 1, 1000000, "--count");
        else if (!strcmp(argv[i], "--timeout-ms"))
            timeout = s_num(argv[i + 1], 1, 3600000, "--timeout-ms");
        else {
            fprintf(stderr, "vledger-sim: unknown option '%s'\n%s", argv[i], s_usage);
            return 2;
        }
    }
    if (!node || !count) {
        fprintf(stderr, "vledger-sim: load needs --node and --count\n%s", s_usage);
        return 2;
    }
    vl_err_t err = { "" };
    client_t *c = client_new(node, 10000, &err);
    json_t *st = NULL;
    if (!c || client_call(c, "status", NULL, &st, &err) != 0) {
        fprintf(stderr, "vledger-sim: %s\n", err.msg);
        return 1;
    }
    char chain[128], org[80];
    snprintf(chain, sizeof chain, "%s", json_string_value(json_object_get(st, "chain_id")));
    /* Identities belong to the organisation of the node that serves them. */
    const char *org_name = json_string_value(json_object_get(json_object_get(st, "org"), "name"));
    snprintf(org, sizeof org, "%s", org_name ? org_name : "");
    json_decref(st);
    int64_t deadline = vl_mono_ms() + timeout;
    long sent = 0;
    for (long i = 0; i < count && vl_mono_ms() < deadline; i++) {
        vl_key_t *k = vl_key_generate();
        char name[32];
        snprintf(name, sizeof name, "load-%ld", i);
        json_t *args = json_pack("{s:s, s:s, s:[s]}", "name", name, "org", org, "roles", "buyer");
        uint8_t *sp = NULL, *res = NULL, *endorser = NULL, *sig = NULL, *tx = NULL;
        size_t sp_len = 0, res_len = 0, e_len = 0, sig_len = 0, tx_len = 0;
        uint8_t txid[32];
        uint64_t nonce;
        vl_random_bytes(&nonce, sizeof nonce);
        json_t *en = NULL, *sub = NULL;
        int rc = client_build_proposal(k, chain, "identity", "register", args, nonce,
                                       vl_wall_ms(), &sp, &sp_len, txid, &err);
        char *b64 = rc == 0 ? vl_base64_encode(sp, sp_len) : NULL;
        json_t *p = b64 ? json_pack("{s:s}", "proposal", b64) : NULL;
        free(b64);
        if (rc == 0)
            rc = client_call(c, "endorse", p, &en, &err);
        json_decref(p);
        if (rc == 0
            && (s_b64_field(en, "result", &res, &res_len) || s_b64_field(en, "endorser", &endorser,
                                                                         &e_len)
                || s_b64_field(en, "signature", &sig, &sig_len)))
            rc = vl_err_set(&err, VL_ERR_INVALID, "bad endorse reply");
        if (rc == 0)
            rc = client_build_transaction(sp, sp_len, res, res_len, endorser, e_len, sig, sig_len,
                                          &tx, &tx_len, &err);
        if (rc == 0) {
            char *t64 = vl_base64_encode(tx, tx_len);
            json_t *sp2 = json_pack("{s:s, s:b}", "transaction", t64, "wait", 0);
            free(t64);
            rc = client_call(c, "submit", sp2, &sub, &err);
            json_decref(sp2);
        }
        if (rc == 0)
            sent++;
        else
            fprintf(stderr, "vledger-sim: load tx %ld: %s\n", i, err.msg);
        json_decref(en);
        json_decref(sub);
        json_decref(args);
        free(sp);
        free(res);
        free(endorser);
        free(sig);
        free(tx);
        vl_key_destroy(&k);
        if (rc != 0)
            break;
    }
    client_destroy(&c);
    printf("submitted %ld of %ld\n", sent, count);
    return sent == count ? 0 : 1;
}

/* --- probe: a hostile or broken peer for tests ------------------------------ */

static int
s_curve_client(void *sock, const char *key_pem, const char *server_b64)
{
    uint8_t pub[32], sec[32], ed[32], srv[32];
    vl_err_t err = { "" };
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    if (gossip_curve_keypair_from_pem(key_pem, pub, sec, &err) != 0
        || vl_base64_decode(server_b64, &raw, &raw_len) != 0 || raw_len != 32) {
        fprintf(stderr, "vledger-sim: probe: bad key or server key (%s)\n", err.msg);
        free(raw);
        return -1;
    }
    memcpy(ed, raw, 32);
    free(raw);
    if (gossip_curve_public(ed, srv) != 0)
        return -1;
    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 32);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 32);
    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, srv, 32);
    return 0;
}

static int
s_probe(int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "%s", s_usage);
        return 2;
    }
    const char *mode = argv[0], *key = NULL, *server = NULL, *ep = NULL, *txid = NULL;
    const char *chain = NULL, *prev = NULL, *state = NULL;
    long ms = 2000, height = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--key")) key = argv[i + 1];
        else if (!strcmp(argv[i], "--server-key")) server = argv[i + 1];
        else if (!strcmp(argv[i], "--endpoint")) ep = argv[i + 1];
        else if (!strcmp(argv[i], "--ms")) ms = s_num(argv[i + 1], 1, 60000, "--ms");
        else if (!strcmp(argv[i], "--txid")) txid = argv[i + 1];
        else if (!strcmp(argv[i], "--chain")) chain = argv[i + 1];
        else if (!strcmp(argv[i], "--height")) height = s_num(argv[i + 1], 1, 1L << 40, "--height");
        else if (!strcmp(argv[i], "--prev")) prev = argv[i + 1];
        else if (!strcmp(argv[i], "--state")) state = argv[i + 1];
    }
    if (!ep) {
        fprintf(stderr, "vledger-sim: probe needs --endpoint\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    int linger = 0, rc = 0;
    if (!strcmp(mode, "sub")) {
        /* Subscribes with --key and counts what arrives in --ms. */
        void *s = zmq_socket(ctx, ZMQ_SUB);
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        if (!key || !server || s_curve_client(s, key, server) != 0)
            return 2;
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
        zmq_connect(s, ep);
        long got = 0;
        int64_t end = vl_mono_ms() + ms;
        while (vl_mono_ms() < end) {
            zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
            if (zmq_poll(&it, 1, (long) (end - vl_mono_ms())) > 0) {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, s, 0) >= 0)
                    got++;
                zmq_msg_close(&m);
            }
        }
        printf("received %ld\n", got);
        zmq_close(s);
    } else if (!strcmp(mode, "block")) {
        /* Pushes, as member --key (a validator), a block for --height that
         * extends the tip (--prev, --state: hex of status last_hash and
         * state_hash) but carries only its own precommit: a short
         * certificate every node must refuse and count. */
        void *s = zmq_socket(ctx, ZMQ_DEALER);
        /* Linger: the push is queued until the CURVE handshake completes. */
        int keep = (int) ms;
        zmq_setsockopt(s, ZMQ_LINGER, &keep, sizeof keep);
        int sndtimeo = 500;
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
        uint8_t prev_hash[32], state_hash[32], data_hash[32], hash[32];
        vl_err_t err = { "" };
        vl_key_t *k = key ? vl_key_load_pem(key, &err) : NULL;
        if (!k || !server || !chain || !height || !prev || !state
            || vl_hex_decode(prev, prev_hash, 32) != 0 || vl_hex_decode(state, state_hash, 32) != 0
            || s_curve_client(s, key, server) != 0) {
            fprintf(stderr, "vledger-sim: probe block needs --key --server-key --chain --height "
                            "--prev --state\n");
            return 2;
        }
        zmq_connect(s, ep);
        block_data_hash(NULL, NULL, 0, data_hash);
        block_header_fields_t f = { chain, (uint64_t) height, prev_hash, state_hash, data_hash,
                                    vl_wall_ms(), vl_key_public(k) };
        uint8_t *header = NULL, *vote = NULL, *block = NULL, *env = NULL;
        size_t header_len = 0, vote_len = 0, block_len = 0, env_len = 0;
        block_header_pack(&f, &header, &header_len);
        vl_sha256(header, header_len, hash);
        block_sign_precommit(k, chain, (uint64_t) height, 0, hash, vl_wall_ms(), &vote, &vote_len);
        block_pack(header, header_len, NULL, NULL, 0, &vote, &vote_len, 1, 0, &block, &block_len);
        gossip_envelope_seal(k, VL__ENVELOPE_TYPE__ENV_BLOCK, block, block_len, vl_wall_ms(), 3,
                             &env, &env_len);
        rc = zmq_send(s, "E", 1, ZMQ_SNDMORE) < 0 || zmq_send(s, env, env_len, 0) < 0;
        printf("pushed a block for height %ld with 1 precommit: %s\n", height,
               rc ? "send failed" : "sent");
        free(header);
        free(vote);
        free(block);
        free(env);
        vl_key_destroy(&k);
        zmq_close(s);
    } else if (!strcmp(mode, "push")) {
        /* Over the sync socket with --key: a malformed frame set, garbled,
         * unsigned, forged and valid-but-foreign envelopes, then a sync
         * request; prints whether any answer came back. */
        void *s = zmq_socket(ctx, ZMQ_DEALER);
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        /* A refused handshake tears the pipe down and a DEALER without a
         * pipe blocks in send: bound every send. */
        int sndtimeo = 500;
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
        if (!key || !server || s_curve_client(s, key, server) != 0)
            return 2;
        zmq_connect(s, ep);
        vl_err_t err = { "" };
        vl_key_t *k = vl_key_load_pem(key, &err), *stranger = vl_key_generate();
        zmq_send(s, "Z", 1, ZMQ_SNDMORE);
        zmq_send(s, "junk", 4, 0);                          /* unknown command */
        zmq_send(s, "E", 1, ZMQ_SNDMORE);
        zmq_send(s, "\x0a\x05garbled-bytes", 15, 0);        /* garbled envelope */
        uint8_t *b = NULL;
        size_t n = 0;
        /* Forged: signature broken. A heartbeat, whose envelope signature
         * is always checked (a transaction's is left to its own). */
        gossip_envelope_seal(k, VL__ENVELOPE_TYPE__ENV_HEARTBEAT, "payload", 7, vl_wall_ms(), 1,
                             &b, &n);
        b[n - 1] ^= 0xff;
        zmq_send(s, "E", 1, ZMQ_SNDMORE);
        zmq_send(s, b, n, 0);
        free(b);
        gossip_envelope_seal(stranger, 1, "payload", 7, vl_wall_ms(), 2, &b, &n);
        zmq_send(s, "E", 1, ZMQ_SNDMORE);                   /* non-member origin */
        zmq_send(s, b, n, 0);
        free(b);
        zmq_send(s, "Q", 1, ZMQ_SNDMORE);                   /* request, bad body */
        zmq_send(s, "12345678", 8, ZMQ_SNDMORE);
        zmq_send(s, "\xff\xff\xff", 3, 0);
        uint8_t req[16];
        Vl__SyncRequest sr = VL__SYNC_REQUEST__INIT;
        sr.from_height = 1;
        sr.count = 2;
        size_t rl = vl__sync_request__pack(&sr, req);
        zmq_send(s, "Q", 1, ZMQ_SNDMORE);
        zmq_send(s, "\0\0\0\0\0\0\0\1", 8, ZMQ_SNDMORE);
        zmq_send(s, req, rl, 0);
        zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
        bool answered = zmq_poll(&it, 1, ms) > 0;
        printf("answered %s\n", answered ? "yes" : "no");
        vl_key_destroy(&k);
        vl_key_destroy(&stranger);
        zmq_close(s);
    } else if (!strcmp(mode, "txget")) {
        /* A SyncRequest for one transaction by id; prints how many came
         * back and whether the bytes hash to the id. */
        void *s = zmq_socket(ctx, ZMQ_DEALER);
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        int sndtimeo = 500;
        zmq_setsockopt(s, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
        uint8_t raw[32];
        size_t raw_len = sizeof raw;
        if (!key || !server || !txid || strlen(txid) != 64 || s_curve_client(s, key, server) != 0
            || vl_hex_decode(txid, raw, sizeof raw) != 0) {
            fprintf(stderr, "vledger-sim: probe txget needs --key, --server-key and a 64-hex "
                            "--txid\n");
            return 2;
        }
        zmq_connect(s, ep);
        ProtobufCBinaryData id = { raw_len, raw };
        ProtobufCBinaryData *ids = &id;
        Vl__SyncRequest sr = VL__SYNC_REQUEST__INIT;
        sr.n_txids = 1;
        sr.txids = ids;
        uint8_t req[64];
        size_t rl = vl__sync_request__pack(&sr, req);
        zmq_send(s, "Q", 1, ZMQ_SNDMORE);
        zmq_send(s, "\0\0\0\0\0\0\0\7", 8, ZMQ_SNDMORE);
        zmq_send(s, req, rl, 0);
        zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
        long n = -1;
        bool match = false;
        if (zmq_poll(&it, 1, ms) > 0) {
            zmq_msg_t parts[3];
            for (int k = 0; k < 3; k++) {
                zmq_msg_init(&parts[k]);
                zmq_msg_recv(&parts[k], s, ZMQ_DONTWAIT);
            }
            Vl__SyncResponse *resp = vl__sync_response__unpack(NULL, zmq_msg_size(&parts[2]),
                                                               zmq_msg_data(&parts[2]));
            if (resp) {
                n = (long) resp->n_transactions;
                if (n == 1) {
                    Vl__Transaction *t = vl__transaction__unpack(NULL, resp->transactions[0].len,
                                                                 resp->transactions[0].data);
                    uint8_t h[32];
                    if (t) {
                        vl_sha256(t->proposal.data, t->proposal.len, h);
                        match = memcmp(h, raw, 32) == 0;
                        vl__transaction__free_unpacked(t, NULL);
                    }
                }
                vl__sync_response__free_unpacked(resp, NULL);
            }
            for (int k = 0; k < 3; k++)
                zmq_msg_close(&parts[k]);
        }
        if (n < 0)
            printf("no answer\n");
        else
            printf("transactions %ld%s\n", n, n == 1 ? (match ? " id-matches" : " id-differs") : "");
        zmq_close(s);
    } else if (!strcmp(mode, "garbage")) {
        /* Raw bytes on a TCP port, no ZMTP at all. */
        const char *hp = strstr(ep, "://");
        const char *colon = hp ? strrchr(hp + 3, ':') : NULL;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { 0 };
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t) (colon ? atoi(colon + 1) : 0));
        char host[64] = "";
        if (hp && colon && colon - (hp + 3) < (long) sizeof host)
            snprintf(host, sizeof host, "%.*s", (int) (colon - (hp + 3)), hp + 3);
        if (inet_pton(AF_INET, host, &a.sin_addr) != 1)   /* the endpoint's own address */
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, (struct sockaddr *) &a, sizeof a) != 0) {
            printf("connect failed\n");
            rc = 1;
        } else {
            uint8_t junk[4096];
            vl_random_bytes(junk, sizeof junk);
            ssize_t w = write(fd, "\xff\0\0\0\0\0\0\0\x01\x7f", 10);   /* ZMTP-ish start */
            w += write(fd, junk, sizeof junk);
            printf("wrote %zd\n", w);
        }
        if (fd >= 0)
            close(fd);
    } else {
        fprintf(stderr, "vledger-sim: unknown probe '%s'\n", mode);
        rc = 2;
    }
    zmq_ctx_term(ctx);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "net") && !strcmp(argv[2], "create"))
        return s_net_create(argc - 3, argv + 3);
    if (argc >= 2 && !strcmp(argv[1], "run"))
        return sim_run(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "bench"))
        return sim_bench(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "load"))
        return s_load(argc - 2, argv + 2);
    if (argc >= 3 && !strcmp(argv[1], "probe") && !strcmp(argv[2], "endorse-one"))
        return probe_endorse_one(argc - 3, argv + 3);
    if (argc >= 2 && !strcmp(argv[1], "probe"))
        return s_probe(argc - 2, argv + 2);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("%s", s_usage);
        return 0;
    }
    fprintf(stderr, "%s", s_usage);
    return 2;
}
