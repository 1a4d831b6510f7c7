/*
 * node.h — one vledgerd node: wires ledger, contract VM, endorser, mempool,
 * orderer, validator and the client API into one event loop (DESIGN §7).
 *
 * Thread rules: everything runs on the thread that calls node_run; the node
 * owns its sockets, its ledger handle and its VM.
 */
#ifndef VL_NODE_H
#define VL_NODE_H

#include "config.h"
#include "error.h"

typedef struct node_t node_t;

/* Opens the ledger (committing genesis on first start), loads the key,
 * binds the API and event sockets. Errors carry a message for the operator:
 * a data directory in use, a foreign or corrupt store, a bad key or genesis,
 * an endpoint that cannot be bound. */
node_t *node_new(const node_config_t *config, vl_err_t *err);

/* Runs until SIGTERM or SIGINT arrive (the caller blocks both and passes a
 * signalfd) or a fatal environment failure. Returns 0 after a clean stop,
 * VL_ERR_IO after a failure that made the node stop. */
int node_run(node_t *node, int signal_fd);

void node_destroy(node_t **self_p);
#endif
