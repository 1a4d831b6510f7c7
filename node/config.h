/*
 * config.h — a node's configuration: from `--config FILE` (node.json) or
 * built by `--dev` for the embedded one-node network.
 *
 * node.json (paths relative to the file's directory):
 *
 *   { "name": "seller",
 *     "data": "data",                    ledger and runtime files
 *     "key": "node.key",                 the node's Ed25519 identity (PEM)
 *     "genesis": "../genesis.json",
 *     "api": "tcp://127.0.0.1:7101",     JSON-RPC ROUTER (port 0 = any free)
 *     "events": "tcp://127.0.0.1:7102",  external event topics (PUB)
 *     "block_max_txs": 500,              cut a block at this many txs ...
 *     "block_timeout_ms": 5,             ... or this long after the oldest
 *     "mempool_max_txs": 50000,
 *     "org": "seller",                   optional: the organisation genesis must
 *                                        list this node's key under
 *     "gossip": "tcp://127.0.0.1:17002", gossip PUB bind (absent: gossip off,
 *                                        a one-node network)
 *     "sync": "tcp://127.0.0.1:17003",   anti-entropy ROUTER bind (with gossip)
 *     "advertise": "node1.bank.example", the host other nodes dial for gossip
 *                                        and sync (tcp://HOST:<bound port>);
 *                                        absent: the bind address, which must
 *                                        then not be 0.0.0.0 or *
 *     "peers": [ { "public_key": "<base64 raw Ed25519, a genesis member>",
 *                  "gossip": "tcp://...", "sync": "tcp://..." } ],
 *                                        bootstrap peers; the rest is learned;
 *                                        or a file name: a peers file as
 *                                        `vledgerd genesis` writes (deploy.h)
 *     "metrics": "127.0.0.1:9464",       Prometheus text at http://HOST:PORT/metrics
 *                                        ("PORT" alone: 127.0.0.1; absent: off)
 *     "gossip_degree": 6,                D mesh peers beyond full mesh
 *     "gossip_full_mesh_max": 12,        full mesh up to this many peers
 *     "heartbeat_ms": 500, "suspect_ms": 1500, "dead_ms": 2500,
 *     "endorsement_rules": { "settlement.settle": "agency_rules" },
 *                                        this organisation's own checks before it
 *                                        endorses (config_rule_t)
 *     "endorse_timeout_ms": 5000,        the gateway's wait for each organisation
 *     "reactor_retry_ms": 1000,          a reactor follow-up's first backoff
 *     "reactor_patience_ms": 600000 }    how long one waits for an organisation
 *                                        whose node does not answer
 *                                        (heartbeats slow to >= 10 ms per member,
 *                                        suspect/dead to >= 3 and 4 periods)
 */
#ifndef VL_CONFIG_H
#define VL_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gossip.h"
#include "orderer.h"

#define CONFIG_PEERS_MAX GOSSIP_PEERS_MAX
#define CONFIG_MEMPOOL_MAX_TXS_DEFAULT 50000
#define CONFIG_MEMPOOL_MAX_BYTES_DEFAULT (256u << 20)
#define CONFIG_RULES_MAX 32
#define CONFIG_IDENTITIES_MAX 16      /* participants' keys a node holds for its reactors */
#define CONFIG_ENDORSE_TIMEOUT_MS_DEFAULT 5000
#define CONFIG_REACTOR_RETRY_MS_DEFAULT 1000
#define CONFIG_REACTOR_PATIENCE_MS_DEFAULT 600000

/* One of this organisation's endorsement rules (node.json
 * "endorsement_rules": {"settlement.settle": "agency_rules", "sale.*": ...,
 * "*": ...}): before this node signs an endorsement of a matching call it
 * runs the rule contract's `endorse(ctx)` on its replica; a refusal
 * refuses the endorsement. The most specific match wins. */
typedef struct {
    char target[140];             /* "contract.function", "contract.*" or "*" */
    char contract[65];            /* the rule contract, deployed on the ledger */
} config_rule_t;

typedef struct {
    char public_key[64];          /* base64 as in genesis.json */
    char gossip[256];
    char sync[256];
} config_peer_t;

/* Each layer's settings are that layer's own struct, with its defaults
 * (orderer_config_defaults, gossip_config_defaults); node.json overrides
 * what it names. */
typedef struct {
    char name[64];
    char org[64];                 /* "" = not checked against genesis */
    char data_dir[PATH_MAX];
    char key_path[PATH_MAX];
    char genesis_path[PATH_MAX];
    char api_endpoint[256];
    char events_endpoint[256];
    size_t mempool_max_txs;
    size_t mempool_max_bytes;
    orderer_config_t orderer;
    bool gossip_on;               /* "gossip" given: join the mesh */
    gossip_config_t gossip;       /* endpoints in gossip.gossip_endpoint/sync_endpoint */
    config_peer_t peers[CONFIG_PEERS_MAX];
    size_t n_peers;
    char peers_path[PATH_MAX];    /* the peers file "peers" named; "" = inline */
    char peers_genesis_hash[65];  /* the genesis hash the peers file was written
                                   * for (hex), checked at start; "" = none */
    bool metrics_on;              /* "metrics" given */
    char metrics_host[128];       /* numeric IPv4 address to bind */
    int metrics_port;             /* 0 = any free port */
    config_rule_t rules[CONFIG_RULES_MAX];
    size_t n_rules;
    int endorse_timeout_ms;       /* the gateway waits this long for each organisation */
    int reactor_retry_ms;         /* a reactor follow-up's first backoff; doubles */
    int reactor_patience_ms;      /* retries for an unreachable organisation stop after */
    /* "identities": key files of the participants whose reactor rules this
     * node runs (docs/reactors.md), besides its own key; also --identity. */
    char identities[CONFIG_IDENTITIES_MAX][PATH_MAX];
    size_t n_identities;
    /* Test-only switches: set from vledgerd's command line only, never
     * from node.json (config_load has no key for them). */
    bool test_faults;             /* --test-faults: gossip fault hooks may be set */
    bool test_lie_endorse;        /* --test-lie-endorse: sign results not computed here */
    int test_byzantine;           /* --test-byzantine MODE: NODE_BYZ_* (node_internal.h) */
    bool test_skew_state;         /* --test-skew-state: fold the next block's state wrongly */
    bool test_withhold_blocks;    /* --test-withhold-blocks: never publish our own blocks */
} node_config_t;

/* Defaults for every field but the paths. */
void config_defaults(node_config_t *c);

/* Reads node.json (and the peers file it names); unknown keys are refused
 * so a typo does not pass silently; endpoints and addresses are checked
 * for shape. VL_ERR_IO / VL_ERR_INVALID with a message naming the file,
 * the setting and, where there is one, the fix. */
int config_load(const char *path, node_config_t *out, vl_err_t *err);

/* Every node.json setting with one line saying what it does, for --help
 * (NULL-terminated pairs: name, text). */
extern const char *const config_keys_help[];

/* Checks an endpoint setting's shape: tcp://HOST:PORT (HOST a name, an
 * IPv4 address or * for every interface; PORT 0-65535, 0 = any free), or
 * ipc://PATH when ipc_ok. VL_ERR_INVALID naming `what` and the fix. */
int config_check_endpoint(const char *what, const char *endpoint, bool ipc_ok, vl_err_t *err);

/* Checks a host name or IPv4 address (no scheme, no port, not a wildcard):
 * what "advertise" holds. VL_ERR_INVALID naming `what`. */
int config_check_host(const char *what, const char *host, vl_err_t *err);

/* "metrics": "HOST:PORT", ":PORT" or "PORT" (host 127.0.0.1) into host
 * (an IPv4 address; "localhost" becomes 127.0.0.1) and port.
 * VL_ERR_INVALID with the fix. */
int config_parse_metrics(const char *value, char *host, size_t host_size, int *port,
                         vl_err_t *err);

/* The node's key file may be used: it exists, is readable, and is neither
 * readable nor writable by group or others. VL_ERR_IO / VL_ERR_INVALID
 * naming the file and the fix (e.g. `chmod 600 FILE`). */
int config_check_key(const char *path, vl_err_t *err);

/* The embedded dev configuration for data directory dir: creates dir (0700),
 * dir/node.key and dir/genesis.json (a one-member network, the node being
 * validator and endorser) on first start; reuses them after. */
int config_dev(const char *dir, node_config_t *out, vl_err_t *err);
#endif
