/*
 * cli_vehicle.c — `vledger vehicle register|show`.
 *
 * register transacts `vehicle.register {vin, make, model, year, color?,
 * extra: {k: v}}`; each --set value is taken as JSON when it parses as JSON
 * (numbers, true, objects, quoted strings), else as the plain string.
 * show prints `vehicle.get`, and with --history every tx that touched the
 * vehicle, oldest first, with the owner after it and what it changed.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_usage =
    "usage: vledger vehicle register --vin VIN --make MAKE --model MODEL --year YEAR\n"
    "                                [--color COLOR] [--set KEY=VALUE...]\n"
    "       vledger vehicle show VIN [--history]\n";

static const char *const s_help =
    "\n"
    "vehicle register   registers a vehicle owned by the signer. --set adds free\n"
    "                   fields (VALUE as JSON when it parses, else as a string).\n"
    "vehicle show       prints the vehicle document; --history lists every\n"
    "                   transaction that touched it, oldest first.\n";

static int
s_register(cli_t *cli, int argc, char **argv)
{
    const char *vin = NULL, *make = NULL, *model = NULL, *year_text = NULL, *color = NULL;
    json_t *extra = json_object();
    int rc = CLI_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if ((m = cli_opt(argc, argv, &i, "--vin", &v)) != 0) {
            vin = v;
        } else if ((m = cli_opt(argc, argv, &i, "--make", &v)) != 0) {
            make = v;
        } else if ((m = cli_opt(argc, argv, &i, "--model", &v)) != 0) {
            model = v;
        } else if ((m = cli_opt(argc, argv, &i, "--year", &v)) != 0) {
            year_text = v;
        } else if ((m = cli_opt(argc, argv, &i, "--color", &v)) != 0) {
            color = v;
        } else if ((m = cli_opt(argc, argv, &i, "--set", &v)) != 0) {
            if (m > 0) {
                const char *eq = strchr(v, '=');
                if (!eq || eq == v) {
                    cli_usage(s_usage, "--set needs KEY=VALUE, got '%s'", v);
                    goto done;
                }
                char key[256];
                if ((size_t) (eq - v) >= sizeof key) {
                    cli_usage(s_usage, "--set key is too long");
                    goto done;
                }
                memcpy(key, v, (size_t) (eq - v));
                key[eq - v] = '\0';
                json_t *value = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
                json_object_set_new(extra, key, value ? value : json_string(eq + 1));
            }
        } else {
            cli_usage(s_usage, "unexpected argument '%s' to vehicle register", argv[i]);
            goto done;
        }
        if (m < 0) {
            cli_usage(s_usage, "%s needs a value", argv[i]);
            goto done;
        }
    }
    if (!vin || !make || !model || !year_text) {
        cli_usage(s_usage, "vehicle register needs --vin, --make, --model and --year");
        goto done;
    }
    char *end = NULL;
    errno = 0;
    long long year = strtoll(year_text, &end, 10);
    if (errno || end == year_text || *end) {
        cli_usage(s_usage, "--year must be an integer, got '%s'", year_text);
        goto done;
    }

    json_t *args = json_pack("{s:s, s:s, s:s, s:I, s:O}", "vin", vin, "make", make, "model",
                             model, "year", (json_int_t) year, "extra", extra);
    if (color)
        json_object_set_new(args, "color", json_string(color));
    json_t *outcome = NULL;
    rc = cli_transact(cli, NULL, "vehicle", "register", args, &outcome);
    json_decref(args);
    if (rc != CLI_OK)
        goto done;
    if (cli->json)
        cli_print_json(outcome);
    else
        printf("registered vehicle %s in block %lld (tx %s)\n", vin, cli_int(outcome, "height"),
               cli_str(outcome, "txid", "?"));
    json_decref(outcome);
done:
    json_decref(extra);
    return rc;
}

/* The current owner's DID in a vehicle document: the last of owners[]. */
static const char *
s_owner(const json_t *doc)
{
    json_t *owners = json_object_get(doc, "owners");
    size_t n = json_array_size(owners);
    if (n == 0)
        return NULL;
    json_t *last = json_array_get(owners, n - 1);
    return json_is_string(last) ? json_string_value(last) : cli_str(last, "did", NULL);
}

/* Prints the top-level fields that differ between two documents. */
static void
s_print_changes(const json_t *before, const json_t *after)
{
    const char *key;
    json_t *v;
    int n = 0;
    json_object_foreach((json_t *) after, key, v) {
        if (key[0] == '_')
            continue;
        if (!json_equal(v, json_object_get(before, key)))
            printf("%s%s", n++ ? ", " : " changed ", key);
    }
    json_object_foreach((json_t *) before, key, v) {
        if (key[0] != '_' && !json_object_get(after, key))
            printf("%s-%s", n++ ? ", " : " changed ", key);
    }
}

static void
s_print_history(const json_t *history)
{
    size_t k;
    json_t *entry;
    const json_t *before = NULL;
    json_array_foreach(history, k, entry) {
        json_t *value = json_object_get(entry, "value");
        printf("  block %lld tx %lld %s", cli_int(entry, "block"), cli_int(entry, "tx"),
               cli_str(entry, "txid", "?"));
        if (json_is_true(json_object_get(entry, "deleted"))) {
            printf(" deleted\n");
            before = NULL;
            continue;
        }
        const char *owner = s_owner(value);
        if (!before)
            printf(" created");
        else
            s_print_changes(before, value);
        if (owner)
            printf("; owner %s", owner);
        putchar('\n');
        before = value;
    }
}

static int
s_show(cli_t *cli, int argc, char **argv)
{
    const char *vin = NULL;
    bool history = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--history") == 0)
            history = true;
        else if (cli_is_option(argv[i]) || vin)
            return cli_usage(s_usage, "unexpected argument '%s' to vehicle show", argv[i]);
        else
            vin = argv[i];
    }
    if (!vin)
        return cli_usage(s_usage, "vehicle show needs a VIN");
    json_t *params = json_pack("{s:s}", "vin", vin), *doc = NULL, *hist = NULL;
    int rc = cli_call(cli, "vehicle.get", params, &doc);
    if (rc == CLI_OK && history)
        rc = cli_call(cli, "vehicle.history", params, &hist);
    json_decref(params);
    if (rc != CLI_OK) {
        json_decref(doc);
        return rc;
    }
    if (cli->json) {
        if (history) {
            /* One object: the history reply plus the current document. */
            json_object_set(hist, "vehicle", doc);
            cli_print_json(hist);
        } else {
            cli_print_json(doc);
        }
    } else {
        printf("vehicle %s", vin);
        const char *owner = s_owner(doc);
        if (owner)
            printf(" owned by %s", owner);
        putchar('\n');
        cli_print_fields(doc);
        if (history) {
            json_t *list = json_object_get(hist, "history");
            printf("history (%zu transactions):\n", json_array_size(list));
            s_print_history(list);
        }
    }
    json_decref(doc);
    json_decref(hist);
    return CLI_OK;
}

int
cli_vehicle(cli_t *cli, int argc, char **argv)
{
    if (argc == 0)
        return cli_usage(s_usage, "vehicle needs a verb: register or show");
    if (cli_is_help(argv[0]) || strcmp(argv[0], "help") == 0
        || (argc > 1 && cli_is_help(argv[1]))) {
        printf("%s%s", s_usage, s_help);
        return CLI_OK;
    }
    if (strcmp(argv[0], "register") == 0)
        return s_register(cli, argc, argv);
    if (strcmp(argv[0], "show") == 0)
        return s_show(cli, argc, argv);
    return cli_usage(s_usage, "unknown vehicle verb '%s'", argv[0]);
}
