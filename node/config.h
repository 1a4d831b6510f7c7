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
 *     "block_timeout_ms": 20,            ... or this long after the oldest
 *     "mempool_max_txs": 50000 }
 */
#ifndef VL_CONFIG_H
#define VL_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct {
    char name[64];
    char data_dir[PATH_MAX];
    char key_path[PATH_MAX];
    char genesis_path[PATH_MAX];
    char api_endpoint[256];
    char events_endpoint[256];
    size_t block_max_txs;
    int block_timeout_ms;
    size_t mempool_max_txs;
    size_t mempool_max_bytes;
} node_config_t;

/* Defaults for every field but the paths. */
void config_defaults(node_config_t *c);

/* Reads node.json; unknown keys are refused so a typo does not pass
 * silently. VL_ERR_IO / VL_ERR_INVALID with a message. */
int config_load(const char *path, node_config_t *out, vl_err_t *err);

/* The embedded dev configuration for data directory dir: creates dir (0700),
 * dir/node.key and dir/genesis.json (a one-member network, the node being
 * validator and endorser) on first start; reuses them after. */
int config_dev(const char *dir, node_config_t *out, vl_err_t *err);
#endif
