/*
 * genesis.h — the network's founding document and its block 0.
 *
 * genesis.json (written by `vledgerd --dev` or `vledger-sim net create`):
 *
 *   { "chain_id": "vledger-dev-1a2b3c4d",
 *     "timestamp_ms": 1763900000000,
 *     "gas_max": 20000000,
 *     "members": [ { "name": "seller", "public_key": "<base64 raw Ed25519>",
 *                    "validator": true, "endorser": true } ] }
 *
 * Block 0 carries no transactions; its data hash covers the canonical
 * genesis document and the standard contracts installed into state, so two
 * nodes agree on the genesis hash only if they agree on both. The genesis
 * writes are indexed under the data hash as their txid.
 */
#ifndef VL_GENESIS_H
#define VL_GENESIS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ledger.h"
#include "members.h"

#define GENESIS_CHAIN_ID_MAX 64

typedef struct {
    char chain_id[GENESIS_CHAIN_ID_MAX + 1];
    int64_t timestamp_ms;
    uint64_t gas_max;
    members_t members;
} genesis_t;

/* An empty genesis with the network defaults (gas_max: the VM's
 * maximum, vm_config_default); the caller names the chain, sets the time
 * and adds members. */
void genesis_defaults(genesis_t *g);

/* Reads and checks genesis.json. VL_ERR_IO / VL_ERR_INVALID with a message
 * naming the file and the problem. */
int genesis_load(const char *path, genesis_t *out, vl_err_t *err);

/* Writes g as genesis.json (0644); refuses to overwrite (VL_ERR_EXISTS). */
int genesis_save(const genesis_t *g, const char *path, vl_err_t *err);

/* Block 0 built from g. Owned buffers in *out; release with
 * genesis_block_clear. out->commit is ready for ledger_commit_block. */
typedef struct {
    uint8_t *bytes;               /* owned: Block bytes */
    size_t len;
    uint8_t hash[32];
    ledger_tx_effect_t effect;    /* the contract installs */
    Vl__WriteItem **writes;       /* owned */
    ledger_block_t commit;        /* borrows from the fields above */
} genesis_block_t;

int genesis_block_build(const genesis_t *g, genesis_block_t *out, vl_err_t *err);
void genesis_block_clear(genesis_block_t *b);
#endif
