/*
 * genesis.h — the network's founding document and its block 0.
 *
 * genesis.json (written by `vledgerd --dev`, or from the organisations'
 * public cards by `vledgerd genesis` and `vledger-sim net create`,
 * node/deploy.h):
 *
 *   { "chain_id": "vledger-dev-1a2b3c4d",
 *     "timestamp_ms": 1763900000000,
 *     "gas_max": 20000000,
 *     "organisations": [ { "name": "agency", "roles": ["title_agency", "validator"] } ],
 *     "members": [ { "name": "agency-node", "org": "agency",
 *                    "public_key": "<base64 raw Ed25519>",
 *                    "validator": true, "endorser": true } ] }
 *
 * Every member is a node of one organisation (docs/trust.md). A member is
 * a validator exactly when its organisation holds the role `validator`
 * ("validator" may be left out; a value that contradicts the role is
 * refused).
 *
 * Block 0 carries no transactions; its data hash covers the canonical
 * genesis document and every write it installs into state, so two nodes
 * agree on the genesis hash only if they agree on both. It installs the
 * standard contracts (contract/<name>), each organisation (org/<name> =
 * {name, roles, nodes: [DID...]}), each node's identity (did/<DID> = {did,
 * name, org, node: true, roles: [], owned: [], interest: [], contracts:
 * {generic: []}} and wallet/<DID> = 0) and the money supply (money/supply =
 * {issued: 0, redeemed: 0}). The genesis writes are indexed under the data
 * hash as their txid.
 */
#ifndef VL_GENESIS_H
#define VL_GENESIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ledger.h"
#include "members.h"
#include "orgs.h"

#define GENESIS_CHAIN_ID_MAX 64

typedef struct {
    char chain_id[GENESIS_CHAIN_ID_MAX + 1];
    int64_t timestamp_ms;
    uint64_t gas_max;
    orgs_t orgs;
    members_t members;            /* member.org indexes orgs */
} genesis_t;

/* The organisation a member speaks for, or NULL. Borrowed from g. */
const org_t *genesis_org_of(const genesis_t *g, const member_t *m);

/* An empty genesis with the network defaults (gas_max: the VM's
 * maximum, vm_config_default); the caller names the chain, sets the time
 * and adds members. */
void genesis_defaults(genesis_t *g);

/* True when s is a chain id: 1-64 characters of [a-z0-9_-]. */
bool genesis_chain_id_valid(const char *s);

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
