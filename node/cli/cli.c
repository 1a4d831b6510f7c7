/*
 * cli.c — `vledger`, the command-line client: global options, dispatch to a
 * noun, and the helpers every noun shares (connection, key, messages,
 * output). The nouns live in cli_<noun>.c.
 *
 *   vledger [--data DIR] [--node ENDPOINT] [--key FILE] [--json]
 *           [--timeout MS] NOUN VERB [ARGS...]
 *
 * Exit codes: 0 success, 1 refused or failed request (stderr says why),
 * 2 bad usage (stderr has a usage line). Nothing is sent to a node before
 * the arguments of the whole command have been checked, so a usage error
 * never has an effect.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_usage =
    "usage: vledger [--data DIR] [--node ENDPOINT] [--key FILE] [--json] [--timeout MS]\n"
    "               NOUN VERB [ARGS...]\n";

static const char *const s_help =
    "vledger — client for a vledger node (JSON-RPC over ZeroMQ).\n"
    "\n"
    "Global options (before the noun):\n"
    "  --data DIR         data directory of a local node (default $VLEDGER_DATA,\n"
    "                     else ~/.vledger); its endpoints.json locates the node\n"
    "                     and its node.key is the default signing key\n"
    "  --node ENDPOINT    node api endpoint, e.g. tcp://127.0.0.1:7001\n"
    "                     (default $VLEDGER_NODE, else DATA/endpoints.json)\n"
    "  --key FILE         PEM key that signs transactions (default DATA/node.key)\n"
    "  --json             print one JSON object per command\n"
    "  --timeout MS       wait per request (default 5000); also bounds the wait\n"
    "                     for a transaction's commit (default 10000)\n"
    "  --help             this text; `vledger NOUN --help` for a noun\n"
    "\n"
    "Commands:\n"
    "  status                                   chain, height, peers, endpoints\n"
    "  identity new --name NAME --role ROLE [--role ROLE...] [--id-number X]\n"
    "               [--org ORG] [--out KEYFILE] make and register a key\n"
    "  identity enrol DID --role ROLE           grant one of the organisation's roles\n"
    "  identity show [DID]                      an identity document\n"
    "  wallet issue --to DID CENTS | redeem --from DID CENTS   issuers only\n"
    "  wallet transfer --to DID CENTS           move money from the signer\n"
    "  wallet balance [DID] | wallet supply     a balance; issued and redeemed\n"
    "  vehicle register --vin VIN --make M --model M --year Y [--color C]\n"
    "                   [--set KEY=VALUE...]    register a vehicle\n"
    "  vehicle show VIN [--history]             a vehicle document and its history\n"
    "  tx show TXID                             a transaction and its effects\n"
    "  block show HEIGHT                        a block\n"
    "  verify [--peers]                         this replica's tip; with --peers compared\n"
    "                                           with every live peer's (exit 1 if one differs)\n"
    "  contract deploy --name N --file F.lua [--attach vehicle:VIN|did:DID]\n"
    "  contract invoke NAME FUNCTION [JSON]     run any contract function\n"
    "  contract policy show NAME | policy set --key vehicle/VIN --policy EXPR\n"
    "  reactor add --topic T --contract C [--function F] [--match K=V...] [--id ID]\n"
    "  reactor list [DID] | reactor remove ID | reactor status   rules run by the node\n"
    "  sale request|answer|offer|accept|confirm|abort  purchase (`vledger sale help`)\n"
    "  title, registration, keys, insurance, pairing, schedule   lifecycle verbs\n"
    "  rpc METHOD [PARAMS-JSON]                 call any API method, print the result\n"
    "  rpc --raw TEXT                           send TEXT verbatim, print the reply\n"
    "  events [--topic P]... [--from-block H] [--count N] [--no-follow]\n"
    "                                           event topics as JSON lines\n"
    "\n"
    "Exit status: 0 success, 1 refused or failed request, 2 bad usage.\n";

typedef struct {
    const char *noun;
    int (*run)(cli_t *, int, char **);
} s_noun_t;

static const s_noun_t s_nouns[] = {
    { "status", cli_status },     { "identity", cli_identity }, { "wallet", cli_wallet },
    { "vehicle", cli_vehicle },   { "tx", cli_tx },             { "block", cli_block },
    { "rpc", cli_rpc },           { "events", cli_events },     { "verify", cli_verify },
    /* lifecycle nouns (cli_contract.c, cli_lifecycle.c) */
    { "contract", cli_contract }, { "sale", cli_sale },         { "title", cli_title },
    { "registration", cli_registration }, { "keys", cli_keys }, { "insurance", cli_insurance },
    { "pairing", cli_pairing },   { "schedule", cli_schedule }, { "reactor", cli_reactor },
};

/* --- Failure and usage ----------------------------------------------------- */

int
cli_fail(int code, const char *msg)
{
    fprintf(stderr, "vledger: %s: %s\n", vl_strerror(code), msg);
    return CLI_FAIL;
}

int
cli_usage(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vledger: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fputs(usage ? usage : s_usage, stderr);
    return CLI_USAGE;
}

/* --- Argument helpers ------------------------------------------------------- */

int
cli_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

bool
cli_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

bool
cli_is_option(const char *arg)
{
    return arg[0] == '-' && arg[1] == '-';
}

/* --- Connection and key ------------------------------------------------------- */

int
cli_connect(cli_t *cli)
{
    if (cli->client)
        return CLI_OK;
    char endpoint[CLIENT_ENDPOINT_MAX];
    vl_err_t err = { "" };
    int rc = client_resolve_endpoint(cli->node_opt, cli->data_dir[0] ? cli->data_dir : NULL,
                                     endpoint, sizeof endpoint, &err);
    if (rc)
        return cli_fail(rc, err.msg);
    cli->client = client_new(endpoint, cli->timeout_ms, &err);
    if (!cli->client)
        return cli_fail(VL_ERR_INVALID, err.msg);
    return CLI_OK;
}

int
cli_load_key(cli_t *cli)
{
    if (cli->key)
        return CLI_OK;
    if (cli->key_path) {
        snprintf(cli->key_file, sizeof cli->key_file, "%s", cli->key_path);
    } else if (cli->data_dir[0]) {
        /* The running node says where its key is (a --config node keeps it
         * beside node.json, not in its data directory); else DATA/node.key. */
        char path[4200];
        snprintf(path, sizeof path, "%s/endpoints.json", cli->data_dir);
        json_t *ep = json_load_file(path, 0, NULL);
        const char *node_key = json_string_value(json_object_get(ep, "key"));
        if (node_key)
            snprintf(cli->key_file, sizeof cli->key_file, "%s", node_key);
        else
            snprintf(cli->key_file, sizeof cli->key_file, "%s/node.key", cli->data_dir);
        json_decref(ep);
    } else {
        return cli_fail(VL_ERR_NOT_FOUND, "no signing key: pass --key FILE or --data DIR");
    }
    vl_err_t err = { "" };
    cli->key = vl_key_load_pem(cli->key_file, &err);
    if (!cli->key) {
        char msg[VL_ERR_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "%s%s", err.msg,
                 cli->key_path ? "" : " (pass --key FILE, or --data DIR of a node)");
        return cli_fail(VL_ERR_IO, msg);
    }
    vl_did_from_public(vl_key_public(cli->key), cli->did);
    return CLI_OK;
}

int
cli_did_or_signer(cli_t *cli, const char *usage, const char *arg, const char **did)
{
    if (arg && !vl_did_valid(arg))
        return cli_usage(usage, "'%s' is not a DID (did:vl: and 40 hex digits)", arg);
    if (!arg && cli_load_key(cli) != CLI_OK)
        return CLI_FAIL;
    *did = arg ? arg : cli->did;
    return CLI_OK;
}

int
cli_call(cli_t *cli, const char *method, json_t *params, json_t **result)
{
    if (cli_connect(cli) != CLI_OK)
        return CLI_FAIL;
    vl_err_t err = { "" };
    int rc = client_call(cli->client, method, params, result, &err);
    return rc ? cli_fail(rc, err.msg) : CLI_OK;
}

int
cli_ensure_chain(cli_t *cli)
{
    if (cli->chain_id)
        return CLI_OK;
    json_t *status = NULL;
    if (cli_call(cli, "status", NULL, &status) != CLI_OK)
        return CLI_FAIL;
    const char *id = cli_str(status, "chain_id", NULL);
    cli->chain_id = id ? strdup(id) : NULL;
    const char *org = cli_str(json_object_get(status, "org"), "name", NULL);
    free(cli->org);
    cli->org = org ? strdup(org) : NULL;
    json_decref(status);
    if (!cli->chain_id)
        return cli_fail(VL_ERR_INVALID, "the node's status has no chain_id");
    return CLI_OK;
}

int
cli_query(cli_t *cli, const char *contract, const char *function, json_t *args,
          json_t **result)
{
    json_t *params = json_pack("{s:s, s:s, s:o}", "contract", contract, "function", function,
                               "args", args ? json_incref(args) : json_object()), *r = NULL;
    int rc = cli_call(cli, "query", params, &r);
    json_decref(params);
    if (rc != CLI_OK)
        return rc;
    json_t *value = json_object_get(r, "result");
    *result = json_incref(value ? value : json_null());
    json_decref(r);
    return CLI_OK;
}

int
cli_transact(cli_t *cli, const vl_key_t *key, const char *contract, const char *function,
             json_t *args, json_t **outcome)
{
    if (!key) {
        if (cli_load_key(cli) != CLI_OK)
            return CLI_FAIL;
        key = cli->key;
    }
    if (cli_ensure_chain(cli) != CLI_OK)
        return CLI_FAIL;
    vl_err_t err = { "" };
    int wait_ms = cli->timeout_given ? cli->timeout_ms : CLIENT_DEFAULT_WAIT_MS;
    int rc = client_transact(cli->client, key, cli->chain_id, contract, function, args, wait_ms,
                             outcome, &err);
    /* A transaction that lost a race with a concurrent one on the same keys
     * (it read a version another tx changed first) changed nothing; running
     * the request again against the new state is what the user would do by
     * hand. Bounded, and said on stderr. */
    for (int retry = 1; rc != 0 && retry <= CLI_CONFLICT_RETRIES
                        && client_last_tx_fate(cli->client) == CLIENT_TX_INVALID
                        && (strstr(err.msg, "MVCC_CONFLICT") || strstr(err.msg, "PHANTOM_READ"));
         retry++) {
        fprintf(stderr, "vledger: %s; retrying against the new state (%d of %d)\n", err.msg,
                retry, CLI_CONFLICT_RETRIES);
        rc = client_transact(cli->client, key, cli->chain_id, contract, function, args, wait_ms,
                             outcome, &err);
    }
    if (rc == 0)
        return CLI_OK;
    cli_fail(rc, err.msg);
    char signer[VL_DID_BUF];
    vl_did_from_public(vl_key_public(key), signer);
    if (strstr(err.msg, "is not registered") && strstr(err.msg, signer)) {
        const char *file = key == cli->key ? cli->key_file : NULL;
        fprintf(stderr,
                "vledger: %s is the identity of the signing key%s%s%s; register it with "
                "`vledger identity new --name NAME --role ROLE`, or sign with --key FILE of "
                "a registered identity\n",
                signer, file ? " (" : "", file ? file : "", file ? ")" : "");
    }
    if (client_last_tx_fate(cli->client) == CLIENT_TX_UNKNOWN) {
        const char *txid = client_last_txid(cli->client);
        fprintf(stderr,
                "vledger: transaction %s was submitted and may still commit; "
                "check with `vledger tx show %s`\n",
                txid, txid);
    }
    return CLI_FAIL;
}

/* --- Output ------------------------------------------------------------------- */

void
cli_print_json(const json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text) {
        puts(text);
        free(text);
    }
}

char *
cli_text(const json_t *value)
{
    if (json_is_string(value))
        return strdup(json_string_value(value));
    if (!value)
        return strdup("-");
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    return text ? text : strdup("?");
}

void
cli_print_fields(const json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *) obj, key, v) {
        if (strcmp(key, "_version") == 0) {
            printf("  version: block %lld tx %lld\n", cli_int(v, "block"), cli_int(v, "tx"));
            continue;
        }
        if (key[0] == '_')
            continue;
        char *t = cli_text(v);
        printf("  %s: %s\n", key, t ? t : "?");
        free(t);
    }
}

long long
cli_int(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long long) json_integer_value(v) : -1;
}

const char *
cli_str(const json_t *obj, const char *key, const char *fallback)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v ? v : fallback;
}

/* --- main ---------------------------------------------------------------------- */

static int
s_parse_timeout(const char *text, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v <= 0 || v > 24L * 3600 * 1000)
        return -1;
    *out = (int) v;
    return 0;
}

int
main(int argc, char **argv)
{
    cli_t cli = { .timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS };
    int i = 1, rc = CLI_USAGE;
    for (; i < argc && (cli_is_option(argv[i]) || cli_is_help(argv[i])); i++) {
        const char *v = NULL;
        int m;
        if (cli_is_help(argv[i])) {
            fputs(s_help, stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            cli.json = true;
        } else if ((m = cli_opt(argc, argv, &i, "--data", &v)) != 0) {
            if (m < 0)
                return cli_usage(s_usage, "missing directory after --data");
            if (!*v || strlen(v) >= sizeof cli.data_dir)
                return cli_usage(s_usage, "bad --data directory");
            snprintf(cli.data_dir, sizeof cli.data_dir, "%s", v);
            cli.data_given = true;
        } else if ((m = cli_opt(argc, argv, &i, "--node", &v)) != 0) {
            if (m < 0 || !*v)
                return cli_usage(s_usage, "missing endpoint after --node");
            cli.node_opt = v;
        } else if ((m = cli_opt(argc, argv, &i, "--key", &v)) != 0) {
            if (m < 0 || !*v)
                return cli_usage(s_usage, "missing file after --key");
            cli.key_path = v;
        } else if ((m = cli_opt(argc, argv, &i, "--timeout", &v)) != 0) {
            if (m < 0 || s_parse_timeout(v, &cli.timeout_ms) != 0)
                return cli_usage(s_usage, "--timeout needs a positive number of milliseconds");
            cli.timeout_given = true;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            return cli_usage(s_usage, "unknown option '%s'", argv[i]);
        }
    }
    if (i >= argc)
        return cli_usage(s_usage, "no command given (try `vledger --help`)");
    const char *noun = argv[i];
    if (strcmp(noun, "help") == 0) {
        fputs(s_help, stdout);
        return CLI_OK;
    }
    if (!cli.data_given) {
        vl_err_t err = { "" };
        if (client_default_data_dir(cli.data_dir, sizeof cli.data_dir, &err) != 0)
            cli.data_dir[0] = '\0';   /* only an error once something needs it */
    }

    const s_noun_t *found = NULL;
    for (size_t k = 0; k < sizeof s_nouns / sizeof s_nouns[0]; k++)
        if (strcmp(s_nouns[k].noun, noun) == 0)
            found = &s_nouns[k];
    if (!found)
        return cli_usage(s_usage, "unknown command '%s' (try `vledger --help`)", noun);
    rc = found->run(&cli, argc - i - 1, argv + i + 1);

    fflush(stdout);
    client_destroy(&cli.client);
    vl_key_destroy(&cli.key);
    free(cli.chain_id);
    free(cli.org);
    return rc;
}
