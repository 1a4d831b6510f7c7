/*
 * cli_wallet.c — `vledger wallet issue|redeem|transfer|balance|supply`
 * (docs/trust.md "Money").
 *
 * Money is issued, never self-credited: issue and redeem are for
 * identities of an issuer organisation (the contract checks the role on
 * the ledger and says who holds it); everyone moves money with transfer.
 * `wallet deposit` is gone and says so.
 *
 * CENTS is passed to the contract exactly as the JSON number the user typed
 * ("12.5" and "-5" included): the wallet contract owns the rules and says
 * why it refuses. Only text that is not a JSON number is bad usage here.
 * balance and supply are reads (wallet.get, a query): no transaction.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_usage =
    "usage: vledger wallet issue --to DID CENTS\n"
    "       vledger wallet redeem --from DID CENTS\n"
    "       vledger wallet transfer --to DID CENTS\n"
    "       vledger wallet balance [DID]\n"
    "       vledger wallet supply\n";

static const char *const s_help =
    "\n"
    "wallet issue     credits CENTS (an integer number of cents) to DID's wallet:\n"
    "                 new money, recorded in the supply. Only an identity of an\n"
    "                 issuer organisation may (a bank's node, or one it enrolled).\n"
    "wallet redeem    debits CENTS from DID's wallet and records it as redeemed;\n"
    "                 issuer only, endorsed by DID's organisation too.\n"
    "wallet transfer  moves CENTS from the signer (--key, else the node's\n"
    "                 identity) to DID.\n"
    "wallet balance   prints the balance of DID (default: the signer).\n"
    "wallet supply    prints issued, redeemed and in circulation (issued -\n"
    "                 redeemed, which equals the sum of every wallet).\n";

/* "--to DID CENTS" / "--from DID CENTS" in any order: *did and *cents. */
static int
s_did_and_cents(int argc, char **argv, const char *opt, const char **did, json_t **cents)
{
    const char *amount = NULL;
    *did = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if ((m = cli_opt(argc, argv, &i, opt, &v)) != 0) {
            if (m < 0 || !*v)
                return cli_usage(s_usage, "%s needs a DID", opt);
            *did = v;
        } else if (!amount && (!cli_is_option(argv[i]))) {
            amount = argv[i];
        } else {
            return cli_usage(s_usage, "unexpected argument '%s' to wallet %s", argv[i], argv[0]);
        }
    }
    if (!*did || !amount)
        return cli_usage(s_usage, "wallet %s needs %s DID and a CENTS amount", argv[0], opt);
    if (!vl_did_valid(*did))
        return cli_usage(s_usage, "'%s' is not a DID (did:vl: and 40 hex digits)", *did);
    *cents = json_loads(amount, JSON_DECODE_ANY, NULL);
    if (!json_is_number(*cents)) {
        json_decref(*cents);
        *cents = NULL;
        return cli_usage(s_usage, "'%s' is not a number of cents", amount);
    }
    return CLI_OK;
}

/* issue, redeem and transfer: function with {opt_key: DID, cents}. */
static int
s_move(cli_t *cli, int argc, char **argv, const char *opt, const char *opt_key)
{
    const char *did = NULL;
    json_t *cents = NULL;
    int rc = s_did_and_cents(argc, argv, opt, &did, &cents);
    if (rc != CLI_OK)
        return rc;
    json_t *args = json_pack("{s:s, s:o}", opt_key, did, "cents", cents), *outcome = NULL;
    rc = cli_transact(cli, NULL, "wallet", argv[0], args, &outcome);
    json_decref(args);
    if (rc != CLI_OK)
        return rc;
    if (cli->json) {
        cli_print_json(outcome);
    } else {
        json_t *result = json_object_get(outcome, "result");
        char *amount = cli_text(json_object_get(result, "cents"));
        if (strcmp(argv[0], "issue") == 0)
            printf("issued %s cents to %s", amount ? amount : "?", did);
        else if (strcmp(argv[0], "redeem") == 0)
            printf("redeemed %s cents from %s", amount ? amount : "?", did);
        else
            printf("transferred %s cents from %s to %s", amount ? amount : "?", cli->did, did);
        free(amount);
        long long balance = cli_int(result, "balance");
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
    int checked = cli_did_or_signer(cli, s_usage, did, &did);
    if (checked != CLI_OK)
        return checked;
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

static int
s_supply(cli_t *cli, int argc, char **argv)
{
    (void) argv;
    if (argc != 1)
        return cli_usage(s_usage, "wallet supply takes no arguments");
    json_t *r = NULL;
    int rc = cli_query(cli, "wallet", "supply", NULL, &r);
    if (rc != CLI_OK)
        return rc;
    long long issued = cli_int(r, "issued"), redeemed = cli_int(r, "redeemed");
    if (cli->json) {
        json_object_set_new(r, "circulating", json_integer(issued - redeemed));
        cli_print_json(r);
    } else {
        printf("issued %lld cents, redeemed %lld, in circulation %lld\n", issued, redeemed,
               issued - redeemed);
    }
    json_decref(r);
    return CLI_OK;
}

int
cli_wallet(cli_t *cli, int argc, char **argv)
{
    if (argc == 0)
        return cli_usage(s_usage,
                         "wallet needs a verb: issue, redeem, transfer, balance or supply");
    if (cli_is_help(argv[0]) || strcmp(argv[0], "help") == 0
        || (argc > 1 && cli_is_help(argv[1]))) {
        printf("%s%s", s_usage, s_help);
        return CLI_OK;
    }
    if (strcmp(argv[0], "issue") == 0 || strcmp(argv[0], "transfer") == 0)
        return s_move(cli, argc, argv, "--to", "to");
    if (strcmp(argv[0], "redeem") == 0)
        return s_move(cli, argc, argv, "--from", "from");
    if (strcmp(argv[0], "balance") == 0)
        return s_balance(cli, argc, argv);
    if (strcmp(argv[0], "supply") == 0)
        return s_supply(cli, argc, argv);
    if (strcmp(argv[0], "deposit") == 0)
        return cli_fail(VL_ERR_REFUSED,
                        "wallet deposit is gone: money is issued by an issuer organisation "
                        "(`vledger wallet issue --to DID CENTS` on its node); others move it "
                        "with `wallet transfer`");
    return cli_usage(s_usage, "unknown wallet verb '%s'", argv[0]);
}
