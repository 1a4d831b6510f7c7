/*
 * client_private.h — the client_t layout, shared by the files of the client
 * library only (client.c: transport; client_tx.c: transactions). Not
 * installed, not included outside node/client/.
 */
#ifndef VL_CLIENT_PRIVATE_H
#define VL_CLIENT_PRIVATE_H

#include "client.h"

struct client_t {
    void *ctx;                          /* owned ZeroMQ context */
    void *socket;                       /* owned DEALER, connected to endpoint */
    char endpoint[CLIENT_ENDPOINT_MAX]; /* as given to client_new */
    int timeout_ms;                     /* per-call wait for a reply */
    uint64_t next_id;                   /* next request id; random start */
    int last_rpc_code;                  /* JSON-RPC code of the last call, 0 if none */
    client_tx_fate_t last_fate;         /* of the last client_transact */
    char last_txid[2 * VL_HASH_SIZE + 1]; /* hex txid of the last transact, or "" */
    char chain_id[128];                 /* the node's, from its status once; "" = not yet */
};

#endif
