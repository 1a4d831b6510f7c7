/*
 * cli_contract.c — `vledger contract deploy|invoke|show`.
 *
 * deploy transacts `contract.deploy {name, source, attach?}` with the text
 * of --file; invoke transacts NAME.FUNCTION(JSON-ARGS) and prints its result
 * (the generic fallback for flows without a dedicated verb). A result
 * carrying a "message" next to a negative outcome (a condition not met, a
 * key use denied) is printed on stderr and exits 1, like a refusal, though
 * the transaction (and its notification events) committed.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_usage =
    "usage: vledger contract deploy --name NAME --file F.lua [--attach vehicle:VIN|did:DID]\n"
    "       vledger contract invoke NAME FUNCTION [JSON-ARGS]\n"
    "       vledger contract show NAME [--version N]\n"
    "       vledger contract policy show NAME | policy set --key vehicle/VIN --policy EXPR|none\n";

static const char *const s_help =
    "\n"
    "contract deploy   deploys (or, as its author, upgrades) a contract; --attach\n"
    "                  adds it to a vehicle you own or to your own identity, where\n"
    "                  the sale contract finds condition contracts.\n"
    "contract invoke   runs FUNCTION of contract NAME with JSON-ARGS (an object)\n"
    "                  as a transaction and prints its result.\n"
    "contract show     prints a contract's record: author, version, policy and\n"
    "                  source (an older version with --version N).\n"
    "contract policy   show: the endorsement policy of each function of NAME\n"
    "                  (who must endorse; docs/trust.md). set: a vehicle's own\n"
    "                  policy, replacing the functions' for every write to it\n"
    "                  (its owner sets it; changing it needs the current one).\n";

char *
cli_read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read '%s'", path);
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            break;
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1 || ferror(f))
            break;
        char *grown = realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        snprintf(err, errlen, "cannot read '%s'", path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int
cli_report_outcome(cli_t *cli, const char *what, json_t *outcome)
{
    json_t *result = json_object_get(outcome, "result");
    const char *message = cli_str(result, "message", NULL);
    if (cli->json) {
        cli_print_json(outcome);
    } else {
        char *text = cli_text(result);
        printf("%s committed in block %lld (tx %s): %s\n", what, cli_int(outcome, "height"),
               cli_str(outcome, "txid", "?"), text ? text : "null");
        free(text);
    }
    if (message) {
        fprintf(stderr, "vledger: refused: %s\n", message);
        return CLI_FAIL;
    }
    return CLI_OK;
}

int
cli_deploy_file(cli_t *cli, const char *name, const char *file, const char *attach,
                json_t **outcome)
{
    char err[300];
    char *source = cli_read_file(file, err, sizeof err);
    if (!source)
        return cli_fail(VL_ERR_IO, err);
    json_t *args = json_pack("{s:s, s:s}", "name", name, "source", source);
    free(source);
    if (attach)
        json_object_set_new(args, "attach", json_string(attach));
    int rc = cli_transact(cli, NULL, "contract", "deploy", args, outcome);
    json_decref(args);
    return rc;
}

static int
s_deploy(cli_t *cli, int argc, char **argv)
{
    const char *name = NULL, *file = NULL, *attach = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if ((m = cli_opt(argc, argv, &i, "--name", &v)) != 0)
            name = v;
        else if ((m = cli_opt(argc, argv, &i, "--file", &v)) != 0)
            file = v;
        else if ((m = cli_opt(argc, argv, &i, "--attach", &v)) != 0)
            attach = v;
        else
            return cli_usage(s_usage, "unexpected argument '%s' to contract deploy", argv[i]);
        if (m < 0)
            return cli_usage(s_usage, "%s needs a value", argv[i]);
    }
    if (!name || !file)
        return cli_usage(s_usage, "contract deploy needs --name and --file");
    json_t *outcome = NULL;
    int rc = cli_deploy_file(cli, name, file, attach, &outcome);
    if (rc != CLI_OK)
        return rc;
    rc = cli_report_outcome(cli, "contract deploy", outcome);
    json_decref(outcome);
    return rc;
}

static int
s_invoke(cli_t *cli, int argc, char **argv)
{
    if (argc < 3 || argc > 4)
        return cli_usage(s_usage, "contract invoke needs NAME FUNCTION [JSON-ARGS]");
    json_t *args = json_object();
    if (argc == 4) {
        json_decref(args);
        json_error_t jerr;
        args = json_loads(argv[3], 0, &jerr);
        if (!json_is_object(args)) {
            json_decref(args);
            return cli_usage(s_usage, "JSON-ARGS must be a JSON object: %s",
                             jerr.text[0] ? jerr.text : "not an object");
        }
    }
    json_t *outcome = NULL;
    int rc = cli_transact(cli, NULL, argv[1], argv[2], args, &outcome);
    json_decref(args);
    if (rc != CLI_OK)
        return rc;
    char what[160];
    snprintf(what, sizeof what, "%s.%s", argv[1], argv[2]);
    rc = cli_report_outcome(cli, what, outcome);
    json_decref(outcome);
    return rc;
}

/* `contract show NAME [--version N]`: the record through a read-only query
 * of the system contract, so no transaction is made. */
static int
s_show(cli_t *cli, int argc, char **argv)
{
    const char *name = NULL, *version = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (cli_opt(argc, argv, &i, "--version", &v) == 1)
            version = v;
        else if (!name && !cli_is_option(argv[i]))
            name = argv[i];
        else
            return cli_usage(s_usage, "unexpected argument '%s' to contract show", argv[i]);
    }
    if (!name)
        return cli_usage(s_usage, "contract show needs NAME");
    json_t *args = json_pack("{s:s}", "name", name);
    if (version) {
        char *end;
        long long n = strtoll(version, &end, 10);
        if (*end || n < 1) {
            json_decref(args);
            return cli_usage(s_usage, "--version needs a positive integer");
        }
        json_object_set_new(args, "version", json_integer(n));
    }
    json_t *params = json_pack("{s:s, s:s, s:o}", "contract", "contract", "function", "get",
                               "args", args), *r = NULL;
    int rc = cli_call(cli, "query", params, &r);
    json_decref(params);
    if (rc != CLI_OK)
        return rc;
    json_t *rec = json_object_get(r, "result");
    if (!json_is_object(rec)) {
        json_decref(r);
        char msg[160];
        snprintf(msg, sizeof msg, "contract '%s'%s%s is not deployed", name,
                 version ? " version " : "", version ? version : "");
        return cli_fail(VL_ERR_NOT_FOUND, msg);
    }
    if (cli->json) {
        cli_print_json(rec);
    } else {
        printf("contract %s version %lld by %s\n", name, cli_int(rec, "version"),
               cli_str(rec, "author", "?"));
        char *policy = cli_text(json_object_get(rec, "policy"));
        printf("  policy: %s\n", policy ? policy : "?");
        free(policy);
        printf("  source:\n%s\n", cli_str(rec, "source", ""));
    }
    json_decref(r);
    return CLI_OK;
}

int
cli_contract(cli_t *cli, int argc, char **argv)
{
    if (argc == 0)
        return cli_usage(s_usage, "contract needs a verb: deploy, invoke, show or policy");
    if (cli_is_help(argv[0]) || strcmp(argv[0], "help") == 0
        || (argc > 1 && cli_is_help(argv[1]))) {
        printf("%s%s", s_usage, s_help);
        return CLI_OK;
    }
    if (strcmp(argv[0], "deploy") == 0)
        return s_deploy(cli, argc, argv);
    if (strcmp(argv[0], "invoke") == 0)
        return s_invoke(cli, argc, argv);
    if (strcmp(argv[0], "show") == 0)
        return s_show(cli, argc, argv);
    if (strcmp(argv[0], "policy") == 0)
        return cli_contract_policy(cli, argc - 1, argv + 1);
    return cli_usage(s_usage, "unknown contract verb '%s'", argv[0]);
}
