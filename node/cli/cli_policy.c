/*
 * cli_policy.c — `vledger contract policy show NAME | policy set --key KEY
 * --policy EXPR` (docs/trust.md "Policies").
 *
 * show reads the contract's record through `query` (contract.get): the
 * endorsement policy of each function, "*" for the rest. set is
 * state-based endorsement: a vehicle carries its own policy, which replaces
 * the function's for every write to vehicle/<VIN>; it is set by the owner
 * through vehicle.set_policy, and changing an existing one needs the
 * current one (the ledger checks that). "--policy none" removes it.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_usage =
    "usage: vledger contract policy show NAME\n"
    "       vledger contract policy set --key vehicle/VIN --policy EXPR|none\n";

static int
s_show(cli_t *cli, int argc, char **argv)
{
    if (argc != 2 || cli_is_option(argv[1]))
        return cli_usage(s_usage, "contract policy show needs exactly one contract NAME");
    json_t *args = json_pack("{s:s}", "name", argv[1]), *rec = NULL;
    int rc = cli_query(cli, "contract", "get", args, &rec);
    json_decref(args);
    if (rc != CLI_OK)
        return rc;
    if (!json_is_object(rec)) {
        json_decref(rec);
        char msg[200];
        snprintf(msg, sizeof msg, "contract '%s' is not deployed", argv[1]);
        return cli_fail(VL_ERR_NOT_FOUND, msg);
    }
    json_t *policy = json_object_get(rec, "policy");
    if (cli->json) {
        cli_print_json(policy ? policy : json_null());
    } else if (json_is_object(policy)) {
        printf("contract %s version %lld: endorsement policy by function\n", argv[1],
               cli_int(rec, "version"));
        const char *fn;
        json_t *expr;
        json_object_foreach(policy, fn, expr) {
            char *text = cli_text(expr);
            printf("  %-20s %s\n", fn, text ? text : "?");
            free(text);
        }
    } else {
        char *text = cli_text(policy);
        printf("contract %s: policy %s\n", argv[1], text ? text : "(none)");
        free(text);
    }
    json_decref(rec);
    return CLI_OK;
}

static int
s_set(cli_t *cli, int argc, char **argv)
{
    const char *key = NULL, *policy = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if ((m = cli_opt(argc, argv, &i, "--key", &v)) != 0) {
            if (m < 0)
                return cli_usage(s_usage, "--key needs a state key");
            key = v;
        } else if ((m = cli_opt(argc, argv, &i, "--policy", &v)) != 0) {
            if (m < 0)
                return cli_usage(s_usage, "--policy needs an expression (or none)");
            policy = v;
        } else {
            return cli_usage(s_usage, "unexpected argument '%s' to contract policy set",
                             argv[i]);
        }
    }
    if (!key || !policy)
        return cli_usage(s_usage, "contract policy set needs --key and --policy");
    if (strncmp(key, "vehicle/", 8) != 0 || !key[8])
        return cli_usage(s_usage, "'%s': only a vehicle (--key vehicle/VIN) carries its own "
                                  "endorsement policy", key);
    json_t *args = json_pack("{s:s, s:o}", "vin", key + 8, "policy",
                             strcmp(policy, "none") == 0 ? json_null() : json_string(policy));
    json_t *outcome = NULL;
    int rc = cli_transact(cli, NULL, "vehicle", "set_policy", args, &outcome);
    json_decref(args);
    if (rc != CLI_OK)
        return rc;
    if (cli->json)
        cli_print_json(outcome);
    else
        printf("%s endorsement policy %s in block %lld (tx %s)\n", key,
               strcmp(policy, "none") == 0 ? "removed" : policy, cli_int(outcome, "height"),
               cli_str(outcome, "txid", "?"));
    json_decref(outcome);
    return CLI_OK;
}

int
cli_contract_policy(cli_t *cli, int argc, char **argv)
{
    if (argc == 0)
        return cli_usage(s_usage, "contract policy needs a verb: show or set");
    if (strcmp(argv[0], "show") == 0)
        return s_show(cli, argc, argv);
    if (strcmp(argv[0], "set") == 0)
        return s_set(cli, argc, argv);
    return cli_usage(s_usage, "unknown contract policy verb '%s'", argv[0]);
}
