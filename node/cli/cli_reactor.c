/*
 * cli_reactor.c — `vledger reactor add|list|remove|status` (docs/reactors.md).
 *
 * add and remove are transactions of the reactor system contract signed by
 * the rule's owner (--key, else the node's identity); list reads through
 * `query` (no transaction); status prints the node's status.reactors: the
 * identities whose rules this node runs and what its reactors did.
 * --match K=V takes V as JSON when it parses (numbers, true), else as text.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_usage =
    "usage: vledger reactor add --topic event.NAME --contract C [--function F]\n"
    "                           [--match FIELD=VALUE...] [--id ID]\n"
    "       vledger reactor add --topic time --at MS [--every-ms MS] --contract C [...]\n"
    "       vledger reactor list [DID]\n"
    "       vledger reactor remove ID\n"
    "       vledger reactor status\n";

static const char *const s_help =
    "\n"
    "reactor add     stores a rule of the signer: when an event of topic\n"
    "                event.NAME commits whose payload has every --match field,\n"
    "                the node holding the signer's key runs C.F (default F:\n"
    "                react) on its replica and proposes the follow-up it\n"
    "                returns, once per event (docs/reactors.md). --topic\n"
    "                time: when block time reaches --at MS (ms since the\n"
    "                epoch), and every --every-ms after it when given.\n"
    "reactor list    the rules of DID (default: the signer); a read.\n"
    "reactor remove  deletes one of the signer's rules.\n"
    "reactor status  the identities this node acts for and its reactors'\n"
    "                counters (runs, proposed, done, failed, retries).\n";

/* args.key = the whole number v (cli_opt's m, v), or a usage error naming opt. */
static int
s_ms_opt(json_t *args, const char *key, const char *opt, int m, const char *v)
{
    char *end = NULL;
    long long n = m > 0 ? strtoll(v, &end, 10) : 0;
    if (m < 0 || !end || *end || end == v)
        return cli_usage(s_usage, "%s needs a whole number of milliseconds", opt);
    json_object_set_new(args, key, json_integer((json_int_t) n));
    return CLI_OK;
}

static int
s_add(cli_t *cli, int argc, char **argv)
{
    json_t *args = json_object(), *match = json_object();
    int rc = CLI_OK;
    for (int i = 1; i < argc && rc == CLI_OK; i++) {
        const char *v = NULL, *key = NULL;
        int m = 0;
        if ((m = cli_opt(argc, argv, &i, "--topic", &v)) != 0) key = "topic";
        else if ((m = cli_opt(argc, argv, &i, "--contract", &v)) != 0) key = "contract";
        else if ((m = cli_opt(argc, argv, &i, "--function", &v)) != 0) key = "function";
        else if ((m = cli_opt(argc, argv, &i, "--id", &v)) != 0) key = "id";
        else if ((m = cli_opt(argc, argv, &i, "--at", &v)) != 0) {
            rc = s_ms_opt(args, "at", "--at", m, v);
            continue;
        } else if ((m = cli_opt(argc, argv, &i, "--every-ms", &v)) != 0) {
            rc = s_ms_opt(args, "every_ms", "--every-ms", m, v);
            continue;
        }
        else if ((m = cli_opt(argc, argv, &i, "--match", &v)) != 0) {
            const char *eq = m > 0 ? strchr(v, '=') : NULL;
            if (!eq || eq == v) {
                rc = cli_usage(s_usage, "--match needs FIELD=VALUE");
                break;
            }
            char field[128];
            snprintf(field, sizeof field, "%.*s", (int) (eq - v), v);
            json_t *val = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
            if (!val || json_is_array(val) || json_is_object(val) || json_is_null(val)) {
                json_decref(val);
                val = json_string(eq + 1);
            }
            json_object_set_new(match, field, val);
            continue;
        } else {
            rc = cli_usage(s_usage, "unexpected argument '%s' to reactor add", argv[i]);
            break;
        }
        if (m < 0)
            rc = cli_usage(s_usage, "%s needs a value", argv[i]);
        else
            json_object_set_new(args, key, json_string(v));
    }
    if (rc == CLI_OK && (!json_object_get(args, "topic") || !json_object_get(args, "contract")))
        rc = cli_usage(s_usage, "reactor add needs --topic and --contract");
    if (rc != CLI_OK) {
        json_decref(args);
        json_decref(match);
        return rc;
    }
    json_object_set_new(args, "match", match);
    json_t *outcome = NULL;
    rc = cli_transact(cli, NULL, "reactor", "add", args, &outcome);
    json_decref(args);
    if (rc != CLI_OK)
        return rc;
    if (cli->json) {
        cli_print_json(outcome);
    } else {
        json_t *rule = json_object_get(outcome, "result");
        printf("rule %s of %s: %s -> %s.%s in block %lld (tx %s)\n", cli_str(rule, "id", "?"),
               cli_str(rule, "owner", "?"), cli_str(rule, "topic", "?"),
               cli_str(rule, "contract", "?"), cli_str(rule, "function", "?"),
               cli_int(outcome, "height"), cli_str(outcome, "txid", "?"));
    }
    json_decref(outcome);
    return CLI_OK;
}

static int
s_list(cli_t *cli, int argc, char **argv)
{
    if (argc > 2)
        return cli_usage(s_usage, "reactor list takes at most one DID");
    const char *did = argc == 2 ? argv[1] : NULL;
    int checked = cli_did_or_signer(cli, s_usage, did, &did);
    if (checked != CLI_OK)
        return checked;
    json_t *args = json_pack("{s:s}", "did", did), *rules = NULL;
    int rc = cli_query(cli, "reactor", "list", args, &rules);
    json_decref(args);
    if (rc != CLI_OK)
        return rc;
    if (cli->json) {
        cli_print_json(rules);
    } else {
        printf("%zu rules of %s\n", json_array_size(rules), did);
        size_t i;
        json_t *r;
        json_array_foreach(rules, i, r) {
            char *m = cli_text(json_object_get(r, "match"));
            printf("  %s: %s %s -> %s.%s\n", cli_str(r, "id", "?"), cli_str(r, "topic", "?"),
                   m ? m : "{}", cli_str(r, "contract", "?"), cli_str(r, "function", "?"));
            free(m);
        }
    }
    json_decref(rules);
    return CLI_OK;
}

static int
s_remove(cli_t *cli, int argc, char **argv)
{
    if (argc != 2 || cli_is_option(argv[1]))
        return cli_usage(s_usage, "reactor remove needs exactly one rule ID");
    json_t *args = json_pack("{s:s}", "id", argv[1]), *outcome = NULL;
    int rc = cli_transact(cli, NULL, "reactor", "remove", args, &outcome);
    json_decref(args);
    if (rc != CLI_OK)
        return rc;
    if (cli->json)
        cli_print_json(outcome);
    else
        printf("removed rule %s in block %lld (tx %s)\n", argv[1], cli_int(outcome, "height"),
               cli_str(outcome, "txid", "?"));
    json_decref(outcome);
    return CLI_OK;
}

static int
s_status(cli_t *cli, int argc, char **argv)
{
    (void) argv;
    if (argc != 1)
        return cli_usage(s_usage, "reactor status takes no arguments");
    json_t *st = NULL;
    int rc = cli_call(cli, "status", NULL, &st);
    if (rc != CLI_OK)
        return rc;
    json_t *r = json_object_get(st, "reactors");
    if (cli->json) {
        cli_print_json(r ? r : json_null());
    } else {
        printf("reactors of this node\n");
        cli_print_fields(r);
    }
    json_decref(st);
    return CLI_OK;
}

int
cli_reactor(cli_t *cli, int argc, char **argv)
{
    if (argc == 0)
        return cli_usage(s_usage, "reactor needs a verb: add, list, remove or status");
    if (cli_is_help(argv[0]) || strcmp(argv[0], "help") == 0
        || (argc > 1 && cli_is_help(argv[1]))) {
        printf("%s%s", s_usage, s_help);
        return CLI_OK;
    }
    if (strcmp(argv[0], "add") == 0)
        return s_add(cli, argc, argv);
    if (strcmp(argv[0], "list") == 0)
        return s_list(cli, argc, argv);
    if (strcmp(argv[0], "remove") == 0)
        return s_remove(cli, argc, argv);
    if (strcmp(argv[0], "status") == 0)
        return s_status(cli, argc, argv);
    return cli_usage(s_usage, "unknown reactor verb '%s'", argv[0]);
}
