/*
 * deploy.h — forming a network of one node per organisation, each on its
 * own host, from public parts only (INTERFACE.md "Deployment"; README
 * "Deploying"). The steps, as `vledgerd init` / `vledgerd genesis` and
 * `vledger-sim net create` run them:
 *
 *   1. init (each organisation, on its own host): deploy_init makes DIR/
 *      node.key (Ed25519, mode 0600; the private key never leaves DIR),
 *      DIR/node.json (bind and advertised addresses; "genesis" and "peers"
 *      name files the ceremony makes) and DIR/card.json, the public card:
 *
 *        { "vledger_card": 1, "org": "bank", "roles": ["issuer", "lender"],
 *          "name": "bank-node", "public_key": "<base64 raw Ed25519>",
 *          "did": "did:vl:…", "gossip": "tcp://bank.example:7100",
 *          "sync": "tcp://bank.example:7101" }
 *
 *   2. genesis (one organisation, from every card): deploy_genesis_build
 *      makes the genesis (each card's organisation with the roles it asked
 *      for, one member per card; with a validators list exactly the named
 *      organisations hold `validator`); deploy_peers_json the peers file
 *      (every card's advertised endpoints, and the genesis hash they go
 *      with):
 *
 *        { "chain_id": "…", "genesis_hash": "<hex>",
 *          "peers": [ { "name", "org", "public_key", "gossip", "sync" } ] }
 *
 *      Everyone compares the genesis hash (deploy_genesis_hash: the hash of
 *      block 0) out of band, then copies genesis.json and peers.json into
 *      their DIR; node.json already names both.
 *
 *   3. start: `vledgerd --config DIR/node.json`.
 *
 * Pure except deploy_init and the file helpers, which write files (never
 * overwriting one). Main thread, before any node runs.
 */
#ifndef VL_DEPLOY_H
#define VL_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "crypto.h"
#include "error.h"
#include "genesis.h"
#include "orgs.h"

#define DEPLOY_CARD_VERSION 1
#define DEPLOY_CARDS_MAX MEMBERS_MAX
#define DEPLOY_BASE_PORT_DEFAULT 7100   /* gossip P, sync P+1, api P+2, events P+3 */

/* One organisation's public card. */
typedef struct {
    char org[ORG_NAME_MAX + 1];
    org_role_t roles[ORG_ROLES_MAX];   /* the roles it asks for, distinct */
    size_t n_roles;
    char name[64];                     /* its node's member name */
    uint8_t public_key[VL_PUBKEY_SIZE];
    char gossip[256];                  /* advertised endpoints: what others dial */
    char sync[256];
} deploy_card_t;

/* The card as JSON (a new reference; NULL when out of memory). */
json_t *deploy_card_json(const deploy_card_t *card);

/* Reads a card from JSON; unknown keys, a bad organisation name, an unknown
 * role, a bad key, a "did" that is not the key's, or endpoints that are not
 * tcp://HOST:PORT are refused (VL_ERR_INVALID naming the field; `what`
 * names the card in messages, e.g. its file). */
int deploy_card_from_json(const json_t *doc, const char *what, deploy_card_t *out,
                          vl_err_t *err);

/* deploy_card_from_json on a file. VL_ERR_IO when unreadable. */
int deploy_card_load(const char *path, deploy_card_t *out, vl_err_t *err);

/* What deploy_init makes. Ports: 0 = any free one (api/events only make
 * sense so: others must know gossip and sync before the node starts). */
typedef struct {
    const char *dir;              /* the node's directory; created (0700) if missing */
    const char *org;              /* organisation name */
    const char *roles;            /* "ROLE+ROLE..." asked for, or NULL / "" for none */
    const char *name;             /* member name; NULL = "<org>-node" */
    const char *bind;             /* gossip/sync bind host; NULL = 0.0.0.0 with
                                   * advertise, else 127.0.0.1 */
    const char *advertise;        /* host others dial; NULL = the bind host */
    int gossip_port, sync_port, api_port, events_port;
    const char *api_host;         /* NULL = 127.0.0.1 */
    const char *genesis;          /* node.json "genesis"; NULL = "genesis.json" */
    const char *peers;            /* node.json "peers" file; NULL = "peers.json" */
    const json_t *settings;       /* more node.json settings (borrowed; may be NULL) */
} deploy_init_t;

/* Makes the node: refuses (VL_ERR_EXISTS) when dir already holds a
 * node.key, node.json or card.json; VL_ERR_INVALID for a bad name, role or
 * address (the message names the option); VL_ERR_IO when a file cannot be
 * written (whatever was made is removed). *card (may be NULL) gets the
 * card written. */
int deploy_init(const deploy_init_t *opts, deploy_card_t *card, vl_err_t *err);

/* Parses "ROLE+ROLE..." (also ',' separated). VL_ERR_INVALID naming an
 * unknown or repeated role. */
int deploy_parse_roles(const char *spec, org_role_t *roles, size_t *n, vl_err_t *err);

/* The genesis from cards: organisations in order of first appearance
 * (cards of one organisation must ask for the same roles), one member per
 * card (endorser; validator when its organisation holds `validator`).
 * validators: NULL = the roles as the cards ask; else "NAME,NAME..." and
 * exactly those organisations hold `validator`. chain_id must be 1-64 of
 * [a-z0-9_-]. VL_ERR_INVALID for a repeated key or member name, an unknown
 * validator, no validator at all, or too many. *out untouched on failure. */
int deploy_genesis_build(const deploy_card_t *cards, size_t n, const char *validators,
                         const char *chain_id, int64_t timestamp_ms, genesis_t *out,
                         vl_err_t *err);

/* The genesis hash: block 0's hash (genesis_block_build). */
int deploy_genesis_hash(const genesis_t *g, uint8_t out[VL_HASH_SIZE], vl_err_t *err);

/* The peers file for the cards and the genesis they were built into (a new
 * reference; NULL when out of memory). */
json_t *deploy_peers_json(const deploy_card_t *cards, size_t n, const char *chain_id,
                          const uint8_t genesis_hash[VL_HASH_SIZE]);

/* Writes doc as path with mode, refusing to overwrite (VL_ERR_EXISTS);
 * VL_ERR_IO otherwise, nothing left behind. */
int deploy_write_json(const char *path, const json_t *doc, int mode, vl_err_t *err);

/* Replaces the setting key of the node.json at path with value (a
 * reference is taken): how `vledger-sim net create` gives each node its
 * bootstrap peers once every card exists. */
int deploy_set_setting(const char *path, const char *key, json_t *value, vl_err_t *err);
#endif
