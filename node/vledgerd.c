/*
 * vledgerd.c — the node daemon's entry point: options, configuration, and
 * signal set-up. All state lives in the node_t made here.
 *
 *   vledgerd --dev [--data DIR]     one-node network with embedded defaults
 *   vledgerd --config FILE          a node of a configured network
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <czmq.h>

#include "config.h"
#include "log.h"
#include "node.h"

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: vledgerd --dev [--data DIR]\n"
            "       vledgerd --config FILE\n"
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
            "  --config FILE  node configuration (node.json: name, data, key, genesis,\n"
            "                 api, events, block_max_txs, block_timeout_ms,\n"
            "                 mempool_max_txs; gossip, sync, peers, gossip_degree,\n"
            "                 gossip_full_mesh_max, heartbeat_ms, suspect_ms, dead_ms;\n"
            "                 `vledger-sim net create` writes one per node)\n"
            "  --api ENDPOINT override the API endpoint (e.g. tcp://127.0.0.1:7101;\n"
            "                 port 0 = any free port; the bound endpoints are written to\n"
            "                 DATA/endpoints.json)\n"
            "  --help         this text\n"
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
            "\n"
            "SIGTERM or SIGINT stop the node cleanly (exit 0). Logs go to stderr, one\n"
            "key=value line per event.\n");
}

int
main(int argc, char **argv)
{
    const char *data = NULL, *config_path = NULL, *api = NULL;
    bool dev = false, test_faults = false, test_lie = false;
    int byzantine = 0;
    bool test_skew = false;
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
        else if (strcmp(argv[i], "--test-faults") == 0)
            test_faults = true;
        else if (strcmp(argv[i], "--test-lie-endorse") == 0)
            test_lie = true;
        else if (strcmp(argv[i], "--test-skew-state") == 0)
            test_skew = true;
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
    if (rc != 0) {
        fprintf(stderr, "vledgerd: %s\n", err.msg);
        return 1;
    }
    if (api)
        snprintf(config.api_endpoint, sizeof config.api_endpoint, "%s", api);
    config.test_faults = config.gossip.faults_allowed = test_faults;
    config.test_lie_endorse = test_lie;
    config.test_byzantine = byzantine;
    config.test_skew_state = test_skew;
    if (test_faults || test_lie || byzantine || test_skew)
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
