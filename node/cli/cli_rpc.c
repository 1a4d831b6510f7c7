/*
 * cli_rpc.c — `vledger rpc METHOD [PARAMS-JSON]` and `vledger rpc --raw
 * TEXT`: any API method by hand, for operators and for tests of how the node
 * answers malformed input. The first prints the raw `result` JSON (exit 1 on
 * a JSON-RPC error, with its code and message); --raw prints whatever the
 * node replied, byte for byte, and exits 0 whenever a reply came.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_usage =
    "usage: vledger rpc METHOD [PARAMS-JSON]\n"
    "       vledger rpc --raw TEXT\n";

static int
s_raw(cli_t *cli, const char *text)
{
    if (cli_connect(cli) != CLI_OK)
        return CLI_FAIL;
    char *reply = NULL;
    vl_err_t err = { "" };
    int rc = client_call_raw(cli->client, text, strlen(text), &reply, &err);
    if (rc)
        return cli_fail(rc, err.msg);
    puts(reply);
    free(reply);
    return CLI_OK;
}

int
cli_rpc(cli_t *cli, int argc, char **argv)
{
    if (argc == 0)
        return cli_usage(s_usage, "rpc needs a METHOD or --raw TEXT");
    if (cli_is_help(argv[0]) || strcmp(argv[0], "help") == 0) {
        fputs(s_usage, stdout);
        puts("\nrpc METHOD   calls METHOD with PARAMS-JSON (default {}) and prints the\n"
             "             result; see docs/api.md for the methods.\n"
             "rpc --raw    sends TEXT as it is and prints the node's reply as it is.");
        return CLI_OK;
    }
    if (strcmp(argv[0], "--raw") == 0) {
        if (argc != 2)
            return cli_usage(s_usage, "rpc --raw needs exactly one TEXT");
        return s_raw(cli, argv[1]);
    }
    if (cli_is_option(argv[0]))
        return cli_usage(s_usage, "unknown rpc option '%s'", argv[0]);
    if (argc > 2)
        return cli_usage(s_usage, "rpc takes a METHOD and at most one PARAMS-JSON");
    json_t *params = NULL;
    if (argc == 2) {
        json_error_t jerr;
        params = json_loads(argv[1], JSON_DECODE_ANY, &jerr);
        if (!params)
            return cli_usage(s_usage, "PARAMS-JSON is not JSON: %s", jerr.text);
    }
    if (cli_connect(cli) != CLI_OK) {
        json_decref(params);
        return CLI_FAIL;
    }
    json_t *result = NULL;
    vl_err_t err = { "" };
    int rc = client_call(cli->client, argv[0], params, &result, &err);
    json_decref(params);
    if (rc) {
        int code = client_last_rpc_code(cli->client);
        if (code)
            fprintf(stderr, "vledger: rpc error %d: %s\n", code, err.msg);
        else
            cli_fail(rc, err.msg);
        return CLI_FAIL;
    }
    cli_print_json(result);
    json_decref(result);
    return CLI_OK;
}
