/*
 * cli_verify.c — `vledger verify [--peers]`: this replica's height, block
 * hash and state hash; with --peers, compared with every live peer's at a
 * common height. Exit 1 naming the first peer that differs.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char *const s_usage = "usage: vledger [--json] verify [--peers]\n";

int
cli_verify(cli_t *cli, int argc, char **argv)
{
    bool peers = false;
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(s_usage, stdout);
            puts("Prints this replica's height, block hash and state hash. With --peers,\n"
                 "asks every live peer for its block and state hash at a common height\n"
                 "and exits 1 naming the first that differs (peers it cannot reach are\n"
                 "listed, not counted as differences).");
            return CLI_OK;
        }
        if (strcmp(argv[i], "--peers") == 0)
            peers = true;
        else
            return cli_usage(s_usage, "unknown argument '%s'", argv[i]);
    }
    json_t *r = NULL, *params = json_pack("{s:b}", "peers", peers);
    int rc = cli_call(cli, "verify", params, &r);   /* params are borrowed */
    json_decref(params);
    if (rc != CLI_OK)
        return CLI_FAIL;
    bool agree = json_is_true(json_object_get(r, "agree"));
    if (cli->json) {
        cli_print_json(r);
    } else {
        printf("this replica  height %lld  block %.16s  state %.16s\n", cli_int(r, "height"),
               cli_str(r, "block_hash", "-"), cli_str(r, "state_hash", "-"));
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(r, "peers"), i, p) {
            const char *error = cli_str(p, "error", NULL);
            if (error)
                printf("  %-14s %s\n", cli_str(p, "name", "?"), error);
            else
                printf("  %-14s height %lld, at %lld: %s\n", cli_str(p, "name", "?"),
                       cli_int(p, "height"), cli_int(p, "compared_at"),
                       json_is_true(json_object_get(p, "agree")) ? "same block and state"
                                                                 : "DIFFERENT");
        }
    }
    if (!agree)
        fprintf(stderr, "vledger: replicas differ: %s\n", cli_str(r, "first_difference", "?"));
    json_decref(r);
    return agree ? CLI_OK : CLI_FAIL;
}
