/*
 * cli_wallet.c — `vledger wallet deposit CENTS | wallet balance [DID]`.
 *
 * CENTS is passed to the contract exactly as the JSON number the user typed
 * ("12.5" and "-5" included): the wallet contract owns the rules and says
 * why it refuses. Only text that is not a JSON number is bad usage here.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_usage =
    "usage: vledger wallet deposit CENTS\n"
    "       vledger wallet balance [DID]\n";

static const char *const s_help =
    "\n"
    "wallet deposit   deposits CENTS (an integer number of cents) into the\n"
    "                 signer's wallet (--key, else the node's identity).\n"
    "wallet balance   prints the balance of DID (default: the signer).\n";

static int
s_deposit(cli_t *cli, int argc, char **argv)
{
    if (argc != 2)
        return cli_usage(s_usage, "wallet deposit needs exactly one CENTS amount");
    json_t *cents = json_loads(argv[1], JSON_DECODE_ANY, NULL);
    if (!json_is_number(cents)) {
        json_decref(cents);
        return cli_usage(s_usage, "'%s' is not a number of cents", argv[1]);
    }
    json_t *args = json_pack("{s:o}", "cents", cents), *outcome = NULL;
    int rc = cli_transact(cli, NULL, "wallet", "deposit", args, &outcome);
    json_decref(args);
    if (rc != CLI_OK)
        return rc;
    if (cli->json) {
        cli_print_json(outcome);
    } else {
        json_t *result = json_object_get(outcome, "result");
        long long balance = cli_int(result, "balance");
        printf("deposited %s cents into %s", argv[1], cli->did);
        if (balance >= 0)
            printf(" (balance %lld)", balance);
        printf(" in block %lld (tx %s)\n", cli_int(outcome, "height"),
               cli_str(outcome, "txid", "?"));
    }
    json_decref(outcome);
    return CLI_OK;
}

static int
s_balance(cli_t *cli, int argc, char **argv)
{
    if (argc > 2)
        return cli_usage(s_usage, "wallet balance takes at most one DID");
    const char *did = argc == 2 ? argv[1] : NULL;
    if (did && !vl_did_valid(did))
        return cli_usage(s_usage, "'%s' is not a DID (did:vl: and 40 hex digits)", did);
    if (!did) {
        if (cli_load_key(cli) != CLI_OK)
            return CLI_FAIL;
        did = cli->did;
    }
    json_t *params = json_pack("{s:s}", "did", did), *w = NULL;
    int rc = cli_call(cli, "wallet.get", params, &w);
    json_decref(params);
    if (rc != CLI_OK)
        return rc;
    if (cli->json) {
        cli_print_json(w);
    } else {
        char *b = cli_text(json_object_get(w, "balance"));
        printf("%s balance %s cents\n", did, b ? b : "?");
        free(b);
    }
    json_decref(w);
    return CLI_OK;
}

int
cli_wallet(cli_t *cli, int argc, char **argv)
{
    if (argc == 0)
        return cli_usage(s_usage, "wallet needs a verb: deposit or balance");
    if (cli_is_help(argv[0]) || strcmp(argv[0], "help") == 0
        || (argc > 1 && cli_is_help(argv[1]))) {
        printf("%s%s", s_usage, s_help);
        return CLI_OK;
    }
    if (strcmp(argv[0], "deposit") == 0)
        return s_deposit(cli, argc, argv);
    if (strcmp(argv[0], "balance") == 0)
        return s_balance(cli, argc, argv);
    return cli_usage(s_usage, "unknown wallet verb '%s'", argv[0]);
}
