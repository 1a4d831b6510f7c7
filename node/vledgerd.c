/*
 * vledgerd.c — the node daemon's entry point: options, configuration, and
 * signal set-up. All state lives in the node_t made here.
 *
 *   vledgerd --dev [--data DIR]     one-node network with embedded defaults
 *   vledgerd --config FILE          a node of a configured network
 *   vledgerd init ... / genesis ... forming a network (deploy.h; s_init,
 *                                   s_genesis below)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <czmq.h>

#include "clock.h"
#include "codec.h"
#include "config.h"
#include "deploy.h"
#include "log.h"
#include "node.h"

/* "  NAME  text" with text wrapped at 78 columns under itself. */
static void
s_wrap(FILE *out, const char *name, const char *text)
{
    enum { INDENT = 23, WIDTH = 78 - INDENT };
    fprintf(out, "  %-20s ", name);
    while (*text) {
        size_t n = strlen(text);
        if (n > WIDTH) {
            n = WIDTH;
            while (n > 0 && text[n] != ' ')
                n--;
            if (n == 0)
                n = WIDTH;
        }
        fprintf(out, "%.*s\n", (int) n, text);
        text += n;
        while (*text == ' ')
            text++;
        if (*text)
            fprintf(out, "%*s", INDENT, "");
    }
}

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: vledgerd --dev [--data DIR]\n"
            "       vledgerd --config FILE\n"
            "       vledgerd init --org NAME [--roles ROLE+ROLE...] --data DIR [--advertise HOST]\n"
            "                     [--bind HOST] [--name NAME] [--base-port P]\n"
            "       vledgerd genesis --card FILE... [--validators NAME,...] [--chain-id ID]\n"
            "                     --out genesis.json [--peers-out FILE]\n"
            "       vledgerd genesis --show genesis.json\n"
            "\n"
            "Runs one vledger node: a replica of the vehicle ledger that endorses,\n"
            "orders (as a validator), validates and commits transactions, and serves\n"
            "the JSON-RPC client API and the event topics.\n"
            "\n"
            "  --dev          start a complete one-node network with no configuration;\n"
            "                 the first start creates DIR/node.key and DIR/genesis.json,\n"
            "                 later starts reuse them\n"
            "  --data DIR     data directory for --dev (default: $VLEDGER_DATA, else\n"
            "                 $HOME/.vledger)\n"
            "  --config FILE  node configuration (node.json, settings below; `vledgerd\n"
            "                 init` or `vledger-sim net create` writes one per node)\n"
            "  --api ENDPOINT override the API endpoint (e.g. tcp://127.0.0.1:7101;\n"
            "                 port 0 = any free port; the bound endpoints are written to\n"
            "                 DATA/endpoints.json)\n"
            "  --identity KEYFILE  also run the reactor rules of this participant's key\n"
            "                 and sign its follow-ups (repeatable; node.json\n"
            "                 \"identities\" does the same; docs/reactors.md)\n"
            "  --help         this text\n"
            "\n"
            "Forming a network, one node per organisation on its own host (README,\n"
            "\"Deploying\"):\n"
            "  init           makes DIR/node.key (the private key, mode 600; it never\n"
            "                 leaves DIR), DIR/node.json and DIR/card.json (public: the\n"
            "                 organisation, the roles it asks for, the node's public key\n"
            "                 and the gossip/sync endpoints others dial); refuses to\n"
            "                 overwrite a node. Ports: gossip P, sync P+1, api P+2, events\n"
            "                 P+3 (P = --base-port, default %d); gossip/sync bind --bind\n"
            "                 (default 0.0.0.0 with --advertise, else 127.0.0.1), api and\n"
            "                 events 127.0.0.1. Send card.json to whoever builds genesis.\n"
            "  genesis        builds genesis.json from every organisation's card only,\n"
            "                 one member per card (--validators: exactly these\n"
            "                 organisations hold `validator`; default: the roles the\n"
            "                 cards ask for), writes peers.json beside it (every card's\n"
            "                 endpoints) and prints the genesis hash for everyone to\n"
            "                 compare out of band; each organisation copies both files\n"
            "                 into its DIR, where node.json names them. --show prints an\n"
            "                 existing genesis file's organisations and hash.\n"
            "\n"
            "node.json settings (paths relative to the file; unknown ones are refused):\n",
            DEPLOY_BASE_PORT_DEFAULT);
    for (size_t i = 0; config_keys_help[i]; i += 2)
        s_wrap(out, config_keys_help[i], config_keys_help[i + 1]);
    fprintf(out,
            "\n"
            "Test-only switches (never in node.json, so a production configuration\n"
            "cannot set them; vledger-sim and the tests use them):\n"
            "  --test-faults        the gossip fault hooks (drop, delay, partition) may be\n"
            "                       set through the API method test.faults\n"
            "  --test-lie-endorse   endorse results this node did not compute (one extra\n"
            "                       write), to test that lying endorsers are caught\n"
            "  --test-byzantine MODE  a validator that misbehaves in ordering: equivocate\n"
            "                       (two different votes / proposals), unknown (votes for\n"
            "                       blocks nobody proposed), garbage (random consensus\n"
            "                       messages)\n"
            "  --test-skew-state    fold the next block's state hash wrongly (a diverged\n"
            "                       replica: verify and the next block must catch it)\n"
            "  --test-withhold-blocks  never publish the blocks this node proposed (a\n"
            "                       proposer that dies right after committing: the other\n"
            "                       validators must publish them)\n"
            "\n"
            "SIGTERM or SIGINT stop the node cleanly (exit 0). Logs go to stderr, one\n"
            "key=value line per event.\n");
}

/* --- init -------------------------------------------------------------------- */

static long
s_port_arg(const char *text)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);
    return *text && !*end && v >= 1 && v <= 65532 ? v : -1;
}

static int
s_init(int argc, char **argv)
{
    deploy_init_t o = { 0 };
    long base = DEPLOY_BASE_PORT_DEFAULT;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            s_usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "vledgerd init: option '%s' needs a value (or is unknown)\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--org")) o.org = v;
        else if (!strcmp(a, "--roles")) o.roles = v;
        else if (!strcmp(a, "--data")) o.dir = v;
        else if (!strcmp(a, "--advertise")) o.advertise = v;
        else if (!strcmp(a, "--bind")) o.bind = v;
        else if (!strcmp(a, "--name")) o.name = v;
        else if (!strcmp(a, "--base-port")) {
            if ((base = s_port_arg(v)) < 0) {
                fprintf(stderr, "vledgerd init: --base-port must be 1-65532 (it uses P to P+3), "
                                "not '%s'\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "vledgerd init: unknown option '%s'\n", a);
            return 2;
        }
    }
    if (!o.org || !o.dir) {
        fprintf(stderr, "vledgerd init: needs --org NAME and --data DIR\n");
        return 2;
    }
    o.gossip_port = (int) base;
    o.sync_port = (int) base + 1;
    o.api_port = (int) base + 2;
    o.events_port = (int) base + 3;
    deploy_card_t card;
    vl_err_t err = { "" };
    int rc = deploy_init(&o, &card, &err);
    if (rc != 0) {
        fprintf(stderr, "vledgerd init: %s\n", err.msg);
        return rc == VL_ERR_IO ? 1 : rc == VL_ERR_EXISTS ? 1 : 2;
    }
    char did[VL_DID_BUF];
    vl_did_from_public(card.public_key, did);
    printf("node %s of organisation %s: %s\n"
           "  %s/node.key   private key (mode 600): it never leaves this directory\n"
           "  %s/node.json  configuration (gossip %s, sync %s)\n"
           "  %s/card.json  public card: send it to whoever builds the genesis\n"
           "then copy genesis.json and peers.json from `vledgerd genesis` into %s and run\n"
           "  vledgerd --config %s/node.json\n",
           card.name, card.org, did, o.dir, o.dir, card.gossip, card.sync, o.dir, o.dir, o.dir);
    return 0;
}

/* --- genesis ------------------------------------------------------------------- */

/* What operators compare: the chain, each organisation with its roles and
 * members, and the hash. */
static void
s_print_genesis(const genesis_t *g, const uint8_t hash[VL_HASH_SIZE])
{
    printf("chain %s, %zu organisations, %zu members (%zu validators)\n", g->chain_id,
           g->orgs.count, g->members.count, members_validator_count(&g->members));
    for (size_t i = 0; i < g->orgs.count; i++) {
        const org_t *o = &g->orgs.items[i];
        printf("  %-16s roles:", o->name);
        for (size_t r = 0; r < o->role_count; r++)
            printf(" %s", org_role_name(o->roles[r]));
        printf("%s\n", o->role_count ? "" : " (none)");
        for (size_t k = 0; k < g->members.count; k++)
            if (g->members.items[k].org == (int) i)
                printf("    %s %s\n", g->members.items[k].name, g->members.items[k].did);
    }
    char hex[2 * VL_HASH_SIZE + 1];
    vl_hex_encode(hash, VL_HASH_SIZE, hex);
    printf("genesis hash %s\n", hex);
}

static int
s_genesis(int argc, char **argv)
{
    const char *out = NULL, *peers_out = NULL, *validators = NULL, *chain = NULL, *show = NULL;
    const char **card_paths = calloc((size_t) argc + 1, sizeof *card_paths);
    size_t n_cards = 0;
    int rc = 2;
    deploy_card_t *cards = NULL;
    genesis_t *g = malloc(sizeof *g);
    vl_err_t err = { "" };
    if (!card_paths || !g) {
        fprintf(stderr, "vledgerd genesis: out of memory\n");
        goto done;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            s_usage(stdout);
            rc = 0;
            goto done;
        }
        if (!strcmp(a, "--card")) {
            /* --card FILE... : every argument up to the next option. */
            if (!v || !strncmp(v, "--", 2)) {
                fprintf(stderr, "vledgerd genesis: --card needs at least one FILE\n");
                goto done;
            }
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                card_paths[n_cards++] = argv[++i];
            continue;
        }
        if (!v) {
            fprintf(stderr, "vledgerd genesis: option '%s' needs a value (or is unknown)\n", a);
            goto done;
        }
        i++;
        if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--peers-out")) peers_out = v;
        else if (!strcmp(a, "--validators")) validators = v;
        else if (!strcmp(a, "--chain-id")) chain = v;
        else if (!strcmp(a, "--show")) show = v;
        else {
            fprintf(stderr, "vledgerd genesis: unknown option '%s'\n", a);
            goto done;
        }
    }
    uint8_t hash[VL_HASH_SIZE];
    if (show) {
        rc = 1;
        if (genesis_load(show, g, &err) != 0 || deploy_genesis_hash(g, hash, &err) != 0) {
            fprintf(stderr, "vledgerd genesis: %s\n", err.msg);
            goto done;
        }
        s_print_genesis(g, hash);
        rc = 0;
        goto done;
    }
    if (!n_cards || !out) {
        fprintf(stderr, "vledgerd genesis: needs --card FILE... (every organisation's "
                        "card.json) and --out genesis.json\n");
        goto done;
    }
    rc = 1;
    cards = calloc(n_cards, sizeof *cards);
    if (!cards) {
        fprintf(stderr, "vledgerd genesis: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < n_cards; i++)
        if (deploy_card_load(card_paths[i], &cards[i], &err) != 0) {
            fprintf(stderr, "vledgerd genesis: %s\n", err.msg);
            goto done;
        }
    char chain_buf[GENESIS_CHAIN_ID_MAX + 1];
    if (!chain) {
        uint8_t rnd[4];
        char hex[9];
        vl_random_bytes(rnd, sizeof rnd);
        vl_hex_encode(rnd, sizeof rnd, hex);
        snprintf(chain_buf, sizeof chain_buf, "vledger-%s", hex);
        chain = chain_buf;
    }
    char peers_buf[PATH_MAX];
    if (!peers_out) {
        const char *slash = strrchr(out, '/');
        snprintf(peers_buf, sizeof peers_buf, "%.*speers.json",
                 slash ? (int) (slash - out + 1) : 0, out);
        peers_out = peers_buf;
    }
    if (deploy_genesis_build(cards, n_cards, validators, chain, vl_wall_ms(), g, &err) != 0
        || deploy_genesis_hash(g, hash, &err) != 0) {
        fprintf(stderr, "vledgerd genesis: %s\n", err.msg);
        goto done;
    }
    if (access(peers_out, F_OK) == 0) {
        fprintf(stderr, "vledgerd genesis: %s exists: refusing to overwrite it\n", peers_out);
        goto done;
    }
    if (genesis_save(g, out, &err) != 0) {
        fprintf(stderr, "vledgerd genesis: %s\n", err.msg);
        goto done;
    }
    json_t *peers = deploy_peers_json(cards, n_cards, g->chain_id, hash);
    if (!peers || deploy_write_json(peers_out, peers, 0644, &err) != 0) {
        fprintf(stderr, "vledgerd genesis: %s\n", peers ? err.msg : "out of memory");
        json_decref(peers);
        unlink(out);
        goto done;
    }
    json_decref(peers);
    s_print_genesis(g, hash);
    printf("wrote %s and %s: every organisation checks the hash above (`vledgerd genesis "
           "--show genesis.json`)\nand copies both files into its node's directory\n", out,
           peers_out);
    rc = 0;
done:
    free(cards);
    free(card_paths);
    free(g);
    return rc;
}

/* --- the node ------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
    /* A reader that stops early (`vledgerd --help | grep -q ...`) gets
     * EPIPE on our writes, not a signal that kills us mid-text. */
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && !strcmp(argv[1], "init"))
        return s_init(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "genesis"))
        return s_genesis(argc - 2, argv + 2);
    const char *data = NULL, *config_path = NULL, *api = NULL;
    const char *identities[CONFIG_IDENTITIES_MAX];
    size_t n_identities = 0;
    bool dev = false, test_faults = false, test_lie = false;
    int byzantine = 0;
    bool test_skew = false, test_withhold = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--dev") == 0)
            dev = true;
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_path = argv[++i];
        else if (strcmp(argv[i], "--api") == 0 && i + 1 < argc)
            api = argv[++i];
        else if (strcmp(argv[i], "--identity") == 0 && i + 1 < argc) {
            if (n_identities == CONFIG_IDENTITIES_MAX) {
                fprintf(stderr, "vledgerd: at most %d identities\n", CONFIG_IDENTITIES_MAX);
                return 2;
            }
            identities[n_identities++] = argv[++i];
        }
        else if (strcmp(argv[i], "--test-faults") == 0)
            test_faults = true;
        else if (strcmp(argv[i], "--test-lie-endorse") == 0)
            test_lie = true;
        else if (strcmp(argv[i], "--test-skew-state") == 0)
            test_skew = true;
        else if (strcmp(argv[i], "--test-withhold-blocks") == 0)
            test_withhold = true;
        else if (strcmp(argv[i], "--test-byzantine") == 0 && i + 1 < argc) {
            const char *m = argv[++i];
            byzantine = !strcmp(m, "equivocate") ? 1 : !strcmp(m, "unknown") ? 2
                        : !strcmp(m, "garbage") ? 3 : -1;
            if (byzantine < 0) {
                fprintf(stderr, "vledgerd: --test-byzantine takes equivocate, unknown or "
                                "garbage, not '%s'\n", m);
                return 2;
            }
        }
        else {
            fprintf(stderr, "vledgerd: unknown or incomplete option '%s'\n", argv[i]);
            s_usage(stderr);
            return 2;
        }
    }
    if (dev == (config_path != NULL)) {
        fprintf(stderr, "vledgerd: give exactly one of --dev or --config FILE\n");
        s_usage(stderr);
        return 2;
    }
    if (config_path && data) {
        fprintf(stderr, "vledgerd: --data goes with --dev; node.json names the data directory\n");
        return 2;
    }
    char default_dir[PATH_MAX];
    if (dev && !data) {
        const char *env = getenv("VLEDGER_DATA"), *home = getenv("HOME");
        if (env && *env)
            data = env;
        else {
            snprintf(default_dir, sizeof default_dir, "%s/.vledger", home ? home : ".");
            data = default_dir;
        }
    }

    /* Signals arrive through a signalfd read by the node's loop; block them
     * before any thread (ZeroMQ's I/O threads) starts so none takes them. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    zsys_handler_set(NULL);   /* czmq would install its own SIGINT/SIGTERM handler */

    node_config_t config;
    vl_err_t err = { "" };
    int rc = dev ? config_dev(data, &config, &err) : config_load(config_path, &config, &err);
    if (rc == 0)
        rc = config_check_key(config.key_path, &err);
    if (rc != 0) {
        fprintf(stderr, "vledgerd: %s\n", err.msg);
        return 1;
    }
    if (api)
        snprintf(config.api_endpoint, sizeof config.api_endpoint, "%s", api);
    for (size_t k = 0; k < n_identities; k++) {
        if (config.n_identities == CONFIG_IDENTITIES_MAX) {
            fprintf(stderr, "vledgerd: at most %d identities (node.json and --identity)\n",
                    CONFIG_IDENTITIES_MAX);
            return 2;
        }
        snprintf(config.identities[config.n_identities++], PATH_MAX, "%s", identities[k]);
    }
    config.test_faults = config.gossip.faults_allowed = test_faults;
    config.test_lie_endorse = test_lie;
    config.test_byzantine = byzantine;
    config.test_skew_state = test_skew;
    config.test_withhold_blocks = test_withhold;
    if (test_faults || test_lie || byzantine || test_skew || test_withhold)
        fprintf(stderr, "vledgerd: test-only switches on (%s%s%s): not for production\n",
                test_faults ? "--test-faults " : "", test_lie ? "--test-lie-endorse " : "",
                byzantine ? "--test-byzantine" : "");
    node_t *node = node_new(&config, &err);
    if (!node) {
        fprintf(stderr, "vledgerd: %s\n", err.msg);
        return 1;
    }
    rc = node_run(node, sfd);
    node_destroy(&node);
    close(sfd);
    zsys_shutdown();
    return rc == 0 ? 0 : 1;
}
