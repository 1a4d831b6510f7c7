/*
 * cli_chain.c — read-only views of the chain: `vledger status`,
 * `vledger tx show TXID`, `vledger block show HEIGHT`. With --json each
 * prints the node's result object unchanged.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_status_usage = "usage: vledger [--json] status [--wallets]\n";
static const char *const s_tx_usage = "usage: vledger [--json] tx show TXID\n";
static const char *const s_block_usage = "usage: vledger [--json] block show HEIGHT\n";

/* Prints "  label  v1, v2, ..." for an array of strings (or "-"). */
static void
s_print_list(const char *label, const json_t *list)
{
    printf("%-12s ", label);
    if (!json_is_array(list) || json_array_size(list) == 0) {
        puts("-");
        return;
    }
    size_t k;
    json_t *v;
    json_array_foreach(list, k, v) {
        char *t = cli_text(v);
        printf("%s%s", k ? ", " : "", t ? t : "?");
        free(t);
    }
    putchar('\n');
}

int
cli_status(cli_t *cli, int argc, char **argv)
{
    if (argc > 0 && cli_is_help(argv[0])) {
        fputs(s_status_usage, stdout);
        puts("Shows the node's chain, height, state hash, identity, roles, validators,\n"
             "peers, mempool size and endpoints. --wallets adds the sum of every wallet\n"
             "(money.wallets, = issued - redeemed on a sound replica); it reads them all.");
        return CLI_OK;
    }
    bool wallets = argc == 1 && strcmp(argv[0], "--wallets") == 0;
    if (argc > (wallets ? 1 : 0))
        return cli_usage(s_status_usage, "status takes only --wallets, got '%s'", argv[0]);
    json_t *st = NULL, *params = wallets ? json_pack("{s:b}", "wallets", 1) : NULL;
    int rc = cli_call(cli, "status", params, &st);   /* params borrowed */
    json_decref(params);
    if (rc != CLI_OK)
        return CLI_FAIL;
    if (cli->json) {
        cli_print_json(st);
        json_decref(st);
        return CLI_OK;
    }
    printf("%-12s %s\n", "chain", cli_str(st, "chain_id", "-"));
    printf("%-12s %lld\n", "height", cli_int(st, "height"));
    printf("%-12s %s\n", "state hash", cli_str(st, "state_hash", "-"));
    printf("%-12s %s\n", "did", cli_str(st, "did", "-"));
    s_print_list("roles", json_object_get(st, "roles"));
    s_print_list("validators", json_object_get(st, "validators"));
    json_t *peers = json_object_get(st, "peers");
    printf("%-12s %zu\n", "peers", json_array_size(peers));
    size_t k;
    json_t *p;
    json_array_foreach(peers, k, p) {
        char *state = cli_text(json_object_get(p, "state"));
        printf("  %s %s height %lld last seen %lld ms\n", cli_str(p, "did", "?"),
               state ? state : "?", cli_int(p, "height"), cli_int(p, "last_seen_ms"));
        free(state);
    }
    json_t *mempool = json_object_get(st, "mempool");
    char *m = cli_text(mempool);
    printf("%-12s %s\n", "mempool", m ? m : "-");
    free(m);
    json_t *money = json_object_get(st, "money");
    if (json_is_object(money)) {
        printf("%-12s issued %lld, redeemed %lld", "money", cli_int(money, "issued"),
               cli_int(money, "redeemed"));
        if (json_object_get(money, "wallets"))
            printf(", in wallets %lld", cli_int(money, "wallets"));
        putchar('\n');
    }
    json_t *eps = json_object_get(st, "endpoints");
    const char *name;
    json_t *ep;
    json_object_foreach(eps, name, ep) {
        char label[32];
        snprintf(label, sizeof label, "%s", name);
        printf("%-12s %s\n", label, json_string_value(ep) ? json_string_value(ep) : "-");
    }
    json_decref(st);
    return CLI_OK;
}

/* True when text is 64 lowercase or uppercase hex digits. */
static bool
s_is_txid(const char *text)
{
    if (strlen(text) != 64)
        return false;
    for (const char *p = text; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
            return false;
    return true;
}

int
cli_tx(cli_t *cli, int argc, char **argv)
{
    if (argc == 0)
        return cli_usage(s_tx_usage, "tx needs a verb");
    if (cli_is_help(argv[0]) || strcmp(argv[0], "help") == 0) {
        fputs(s_tx_usage, stdout);
        puts("Shows a transaction: its block, validation code, call, result, events and\n"
             "writes.");
        return CLI_OK;
    }
    if (strcmp(argv[0], "show") != 0)
        return cli_usage(s_tx_usage, "unknown tx verb '%s'", argv[0]);
    if (argc != 2)
        return cli_usage(s_tx_usage, "tx show needs exactly one TXID");
    if (!s_is_txid(argv[1]))
        return cli_usage(s_tx_usage, "'%s' is not a txid (64 hex digits)", argv[1]);
    char txid[65];
    for (int k = 0; k < 65; k++)
        txid[k] = (char) (argv[1][k] >= 'A' && argv[1][k] <= 'F' ? argv[1][k] + 32 : argv[1][k]);
    json_t *params = json_pack("{s:s}", "txid", txid), *tx = NULL;
    int rc = cli_call(cli, "tx.get", params, &tx);
    json_decref(params);
    if (rc != CLI_OK)
        return rc;
    if (cli->json) {
        cli_print_json(tx);
        json_decref(tx);
        return CLI_OK;
    }
    printf("tx %s\n", cli_str(tx, "txid", txid));
    printf("  block %lld index %lld: %s\n", cli_int(tx, "height"), cli_int(tx, "index"),
           cli_str(tx, "code_name", "?"));
    char *args = cli_text(json_object_get(tx, "args"));
    printf("  call %s.%s %s\n", cli_str(tx, "contract", "?"), cli_str(tx, "function", "?"),
           args ? args : "");
    free(args);
    printf("  creator %s\n", cli_str(tx, "creator", "?"));
    char *result = cli_text(json_object_get(tx, "result"));
    printf("  result %s\n", result ? result : "");
    free(result);
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(tx, "events"), k, v) {
        char *payload = cli_text(json_object_get(v, "payload"));
        printf("  event %s %s\n", cli_str(v, "name", "?"), payload ? payload : "");
        free(payload);
    }
    json_array_foreach(json_object_get(tx, "writes"), k, v) {
        json_t *del = json_object_get(v, "deleted");
        printf("  %s %s\n", json_is_true(del) ? "delete" : "write", cli_str(v, "key", "?"));
    }
    json_decref(tx);
    return CLI_OK;
}

int
cli_block(cli_t *cli, int argc, char **argv)
{
    if (argc == 0)
        return cli_usage(s_block_usage, "block needs a verb");
    if (cli_is_help(argv[0]) || strcmp(argv[0], "help") == 0) {
        fputs(s_block_usage, stdout);
        puts("Shows a block's header and its transactions with their validation codes.");
        return CLI_OK;
    }
    if (strcmp(argv[0], "show") != 0)
        return cli_usage(s_block_usage, "unknown block verb '%s'", argv[0]);
    if (argc != 2)
        return cli_usage(s_block_usage, "block show needs exactly one HEIGHT");
    char *end = NULL;
    errno = 0;
    long long height = strtoll(argv[1], &end, 10);
    if (errno || end == argv[1] || *end || height < 0)
        return cli_usage(s_block_usage, "'%s' is not a block height", argv[1]);
    json_t *params = json_pack("{s:I}", "height", (json_int_t) height), *b = NULL;
    int rc = cli_call(cli, "block.get", params, &b);
    json_decref(params);
    if (rc != CLI_OK)
        return rc;
    if (cli->json) {
        cli_print_json(b);
        json_decref(b);
        return CLI_OK;
    }
    printf("block %lld\n", cli_int(b, "height"));
    printf("  hash      %s\n", cli_str(b, "hash", "-"));
    printf("  previous  %s\n", cli_str(b, "previous_hash", "-"));
    printf("  state     %s\n", cli_str(b, "state_hash", "-"));
    printf("  time ms   %lld\n", cli_int(b, "timestamp_ms"));
    printf("  proposer  %s\n", cli_str(b, "proposer", "-"));
    json_t *txs = json_object_get(b, "txs");
    printf("  txs       %zu\n", json_array_size(txs));
    size_t k;
    json_t *v;
    json_array_foreach(txs, k, v) {
        printf("    %s %s\n", cli_str(v, "txid", "?"), cli_str(v, "code_name", "?"));
    }
    json_decref(b);
    return CLI_OK;
}
