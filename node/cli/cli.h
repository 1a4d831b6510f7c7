/*
 * cli.h — what the `vledger` command files share: the global options, the
 * lazily opened connection and signing key, argument helpers, and output
 * helpers that keep human and --json output consistent.
 *
 * One command runs per process, on the main thread. Each noun lives in its
 * own file (cli_identity.c, cli_wallet.c, cli_vehicle.c, cli_chain.c,
 * cli_rpc.c) as `int cli_NOUN(cli_t *, int argc, char **argv)` returning
 * the process exit code; argv[0] is the verb.
 */
#ifndef VL_CLI_H
#define VL_CLI_H

#include <stdbool.h>

#include <jansson.h>

#include "client.h"
#include "crypto.h"
#include "did.h"

/* Exit codes (INTERFACE.md). */
enum {
    CLI_OK = 0,      /* success */
    CLI_FAIL = 1,    /* refused or failed request; stderr says why */
    CLI_USAGE = 2,   /* bad usage; stderr has a usage line */
};

/* How often a transaction invalidated by a concurrent one (MVCC_CONFLICT,
 * PHANTOM_READ) is run again against the new state before giving up. */
#define CLI_CONFLICT_RETRIES 3

typedef struct {
    /* Global options. */
    char data_dir[4096];      /* --data, else the default data dir ("" if none) */
    bool data_given;          /* --data was passed */
    const char *node_opt;     /* --node, borrowed from argv, or NULL */
    const char *key_path;     /* --key, borrowed from argv, or NULL */
    bool json;                /* --json */
    int timeout_ms;           /* --timeout, per call */
    bool timeout_given;       /* --timeout was passed (also bounds submit waits) */
    /* Opened on first use. */
    client_t *client;         /* owned */
    vl_key_t *key;            /* owned */
    char key_file[4200];      /* path the key was loaded from */
    char did[VL_DID_BUF];     /* DID of key */
    char *chain_id;           /* owned, from `status` */
    char *org;                /* owned, the node's organisation from `status`, or NULL */
} cli_t;

/* --- Failure and usage ---------------------------------------------------- */

/* Prints "vledger: KIND: MSG" (KIND from the VL_ERR_* code) and returns
 * CLI_FAIL. */
int cli_fail(int code, const char *msg);

/* Prints "vledger: MSG" then "usage: USAGE" on stderr, returns CLI_USAGE. */
int cli_usage(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- Argument helpers ------------------------------------------------------ */

/* Matches argv[*i] against the option name ("--vin") in the forms
 * "--vin VALUE" and "--vin=VALUE". Returns 1 and sets *value (advancing *i
 * past a separate value), 0 when argv[*i] is another argument, -1 when the
 * value is missing (the caller prints the usage). */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **value);

/* True for "--help" / "-h". */
bool cli_is_help(const char *arg);

/* True when arg looks like an option ("--x"; "-" alone and "-5" are not). */
bool cli_is_option(const char *arg);

/* --- Connection and key ------------------------------------------------------ */

/* Opens cli->client (endpoint resolution, client_new). CLI_OK or CLI_FAIL
 * (message printed). */
int cli_connect(cli_t *cli);

/* Loads the signing key: --key, else DATA/node.key. CLI_OK or CLI_FAIL. */
int cli_load_key(cli_t *cli);

/* The DID a read is about: arg when given (bad usage unless it is a DID),
 * else the signer's (the key is loaded). CLI_OK with *did (borrowed from
 * arg or cli), CLI_USAGE or CLI_FAIL with the reason printed. */
int cli_did_or_signer(cli_t *cli, const char *usage, const char *arg, const char **did);

/* client_call with messages: on failure prints why and returns CLI_FAIL. */
int cli_call(cli_t *cli, const char *method, json_t *params, json_t **result);

/* Fetches and caches cli->chain_id and cli->org from `status` (also proves
 * the node answers). CLI_OK or CLI_FAIL. */
int cli_ensure_chain(cli_t *cli);

/* Runs contract.function(args) read-only through `query` (no transaction,
 * no block; args borrowed, NULL is {}). CLI_OK with *result (owned: the
 * contract's return value), or CLI_FAIL with the reason printed. */
int cli_query(cli_t *cli, const char *contract, const char *function, json_t *args,
              json_t **result);

/* Runs a transaction signed by key (NULL: the CLI's key, loaded on demand),
 * again up to CLI_CONFLICT_RETRIES times when a concurrent transaction
 * invalidated it (MVCC_CONFLICT, PHANTOM_READ),
 * and prints why on failure, naming the txid when its fate is unknown.
 * CLI_OK with *outcome (owned), or CLI_FAIL. */
int cli_transact(cli_t *cli, const vl_key_t *key, const char *contract, const char *function,
                 json_t *args, json_t **outcome);

/* --- Output ---------------------------------------------------------------- */

/* Prints value as one compact JSON line on stdout. */
void cli_print_json(const json_t *value);

/* A JSON value as short text for human output: strings bare, others
 * compact JSON. Caller frees. */
char *cli_text(const json_t *value);

/* Integer field of obj, or -1 when missing. */
long long cli_int(const json_t *obj, const char *key);

/* Prints each field of obj as "  key: value" (cli_text), skipping keys
 * starting with '_' except _version, which prints as "block B tx T". */
void cli_print_fields(const json_t *obj);

/* String field of obj, or fallback. */
const char *cli_str(const json_t *obj, const char *key, const char *fallback);

/* --- Nouns ----------------------------------------------------------------- */
int cli_status(cli_t *cli, int argc, char **argv);
int cli_identity(cli_t *cli, int argc, char **argv);
int cli_wallet(cli_t *cli, int argc, char **argv);
int cli_vehicle(cli_t *cli, int argc, char **argv);
int cli_tx(cli_t *cli, int argc, char **argv);
int cli_block(cli_t *cli, int argc, char **argv);
int cli_rpc(cli_t *cli, int argc, char **argv);
int cli_events(cli_t *cli, int argc, char **argv);
int cli_verify(cli_t *cli, int argc, char **argv);
int cli_reactor(cli_t *cli, int argc, char **argv);   /* cli_reactor.c */
/* lifecycle (cli_contract.c, cli_lifecycle.c) */
int cli_contract(cli_t *cli, int argc, char **argv);
int cli_contract_policy(cli_t *cli, int argc, char **argv);   /* cli_policy.c */
int cli_sale(cli_t *cli, int argc, char **argv);
int cli_title(cli_t *cli, int argc, char **argv);
int cli_registration(cli_t *cli, int argc, char **argv);
int cli_keys(cli_t *cli, int argc, char **argv);
int cli_insurance(cli_t *cli, int argc, char **argv);
int cli_pairing(cli_t *cli, int argc, char **argv);
int cli_schedule(cli_t *cli, int argc, char **argv);
/* Helpers of cli_contract.c: a whole file (malloc'd) or NULL with err; a
 * transaction's outcome printed (exit 1 when its result carries a
 * "message": a condition not met, a key use denied); a contract file
 * deployed through contract.deploy. */
char *cli_read_file(const char *path, char *err, size_t errlen);
int cli_report_outcome(cli_t *cli, const char *what, json_t *outcome);
int cli_deploy_file(cli_t *cli, const char *name, const char *file, const char *attach,
                    json_t **outcome);

#endif
