/*
 * cli_lifecycle.c — the vehicle lifecycle nouns over contracts/lib:
 *
 *   vledger sale request --vin VIN --price CENTS [--conditions F.lua]
 *                        [--finance LENDER-DID:CENTS] [--agency DID] [--authority DID]
 *                        [--months N] [--period-ms MS] [--window-ms MS]
 *   vledger sale answer --vin VIN [--id ID] [--price CENTS]   (the seller)
 *   vledger sale offer --vin VIN --price CENTS [--id ID]
 *   vledger sale accept|confirm|abort --vin VIN [--id ID] [--reason TEXT]
 *   vledger sale show VIN [--id ID]; title show VIN   (query: no transaction)
 *   vledger title onboard --vin VIN --make M --model M --year Y [--agency DID]
 *   vledger title check|request --vin VIN [--agency DID]
 *   vledger title answer --vin VIN --decision issue|clarify [--number N] [--question Q]
 *   vledger title respond --vin VIN --answer TEXT
 *   vledger registration request --vin VIN --authority DID
 *   vledger registration issue --vin VIN --plate PLATE
 *   vledger keys issue --vin VIN --holder DID [--scope owner|operator]
 *   vledger keys revoke|use --vin VIN --key-id K [--function F]
 *   vledger insurance request --vin VIN --provider DID --policy P --coverage C
 *                        --premium C --period-ms MS --valid-until MS [--kind parking --zone Z]
 *   vledger insurance approve|correct --vin VIN --id ID [...]; cancel --vin VIN
 *   vledger insurance confirm-end --vin VIN --id ID   (the provider, after a sale)
 *   vledger pairing components --vin VIN --component NAME=KEYFILE...
 *   vledger pairing prepair --vin VIN --device ID --component NAME=KEYFILE...
 *                        [--at X,Y] [--vehicle-at X,Y]
 *   vledger pairing approve --vin VIN --pairing-id P
 *   vledger schedule run | arrears --vin VIN
 *
 * Every --some-option VALUE becomes args.some_option (VALUE as JSON when it
 * is a number, else the string); --finance, --conditions, --component,
 * --at and --vehicle-at are shaped as described in each contract's header.
 * pairing --component signs "vledger-pair:<VIN>:<device>" with each
 * component's key file (standing in for the vehicle's head unit and key
 * ECU). A committed result with a "message" (a condition not met, a key
 * use denied) exits 1 with that message, like a refusal.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"


typedef struct {
    const char *noun, *verb, *contract, *function;
} s_route_t;

static const s_route_t s_routes[] = {
    { "sale", "request", "sale", "request" },
    { "sale", "answer", "sale", "answer" },
    { "sale", "offer", "sale", "offer" },
    { "sale", "accept", "sale", "accept" },
    { "sale", "confirm", "sale", "confirm" },
    { "sale", "abort", "sale", "abort" },
    { "sale", "expire", "sale", "expire" },
    { "title", "onboard", "title", "onboard" },
    { "title", "check", "title", "check" },
    { "title", "request", "title", "request" },
    { "title", "answer", "title", "answer" },
    { "title", "respond", "title", "respond" },
    { "registration", "request", "title", "request_registration" },
    { "registration", "issue", "title", "register" },
    { "keys", "issue", "keys", "issue" },
    { "keys", "revoke", "keys", "revoke" },
    { "keys", "use", "keys", "use" },
    { "insurance", "request", "insurance", "request" },
    { "insurance", "approve", "insurance", "approve" },
    { "insurance", "correct", "insurance", "correct" },
    { "insurance", "cancel", "insurance", "cancel" },
    { "insurance", "confirm-end", "insurance", "confirm_end" },
    { "insurance", "rule", "insurance", "set_rule" },
    { "pairing", "components", "pairing", "components" },
    { "pairing", "prepair", "pairing", "prepair" },
    { "pairing", "approve", "pairing", "approve" },
    { "pairing", "common", "pairing", "prepair_common" },
    { "pairing", "unpair", "pairing", "unpair" },
    { "schedule", "run", "schedule", "run_due" },
    { "schedule", "arrears", "schedule", "pay_arrears" },
};

static const char *const s_usage =
    "usage: vledger sale request --vin VIN --price CENTS [--conditions F.lua]\n"
    "                            [--finance LENDER-DID:CENTS] [--agency DID] [--authority DID]\n"
    "       vledger sale answer|offer|accept|confirm|abort --vin VIN [--id ID] [--price CENTS]\n"
    "       vledger sale show VIN [--id ID] | title show VIN    (reads: no transaction)\n"
    "       vledger title onboard|check|request|answer|respond --vin VIN [--OPTION VALUE...]\n"
    "       vledger registration request|issue --vin VIN [--authority DID|--plate PLATE]\n"
    "       vledger keys issue|revoke|use --vin VIN [--holder DID --scope S|--key-id K]\n"
    "       vledger insurance request|approve|correct|cancel|confirm-end|rule --vin VIN [--OPTION VALUE...]\n"
    "       vledger pairing components|prepair|approve|common|unpair --vin VIN [...]\n"
    "       vledger schedule run | schedule arrears --vin VIN\n"
    "(each --some-option VALUE becomes the contract argument some_option; see\n"
    " contracts/lib/<contract>.lua and docs/lifecycle.md)\n";

/* "X,Y" -> {x, y}, or NULL. */
static json_t *
s_point(const char *v)
{
    long long x, y;
    char tail;
    if (sscanf(v, "%lld,%lld%c", &x, &y, &tail) != 2)
        return NULL;
    return json_pack("{s:I, s:I}", "x", (json_int_t) x, "y", (json_int_t) y);
}

/* "NAME=KEYFILE": loads the key; *name points into v (copied to buf). */
static vl_key_t *
s_component(const char *v, char *name, size_t size, char *err, size_t errlen)
{
    const char *eq = strchr(v, '=');
    if (!eq || eq == v || (size_t) (eq - v) >= size) {
        snprintf(err, errlen, "--component needs NAME=KEYFILE, got '%s'", v);
        return NULL;
    }
    memcpy(name, v, (size_t) (eq - v));
    name[eq - v] = '\0';
    vl_err_t e = { "" };
    vl_key_t *k = vl_key_load_pem(eq + 1, &e);
    if (!k)
        snprintf(err, errlen, "component %s: %s", name, e.msg);
    return k;
}

static int
s_run(cli_t *cli, const s_route_t *route, int argc, char **argv)
{
    json_t *args = json_object();
    json_t *components = NULL;          /* pairing: NAME=KEYFILE list */
    const char *conditions = NULL;
    int rc = CLI_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            cli_usage(s_usage, "unexpected argument '%s' to %s %s", arg, route->noun,
                      route->verb);
            goto done;
        }
        char opt[64];
        const char *value;
        const char *eq = strchr(arg, '=');
        size_t olen = eq ? (size_t) (eq - arg) : strlen(arg);
        if (olen >= sizeof opt) {
            cli_usage(s_usage, "option '%s' is too long", arg);
            goto done;
        }
        memcpy(opt, arg, olen);
        opt[olen] = '\0';
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            cli_usage(s_usage, "%s needs a value", opt);
            goto done;
        }
        char field[64];
        size_t k = 0;
        for (const char *p = opt + 2; *p && k + 1 < sizeof field; p++)
            field[k++] = *p == '-' ? '_' : *p;
        field[k] = '\0';
        if (strcmp(opt, "--finance") == 0) {
            const char *colon = strrchr(value, ':');
            char *end = NULL;
            long long cents = colon ? strtoll(colon + 1, &end, 10) : 0;
            if (!colon || !end || *end || colon == value) {
                cli_usage(s_usage, "--finance needs LENDER-DID:CENTS, got '%s'", value);
                goto done;
            }
            json_object_set_new(args, "finance",
                                json_pack("{s:s%, s:I}", "lender", value,
                                          (size_t) (colon - value), "amount",
                                          (json_int_t) cents));
        } else if (strcmp(opt, "--conditions") == 0) {
            conditions = value;
        } else if (strcmp(opt, "--component") == 0) {
            if (!components)
                components = json_array();
            json_array_append_new(components, json_string(value));
        } else if (strcmp(opt, "--at") == 0 || strcmp(opt, "--vehicle-at") == 0) {
            json_t *p = s_point(value);
            if (!p) {
                cli_usage(s_usage, "%s needs X,Y in integer metres, got '%s'", opt, value);
                goto done;
            }
            json_object_set_new(args, opt[2] == 'a' ? "device_position" : "vehicle_position",
                                p);
        } else if (strcmp(opt, "--device") == 0 && strcmp(route->function, "prepair") == 0) {
            json_object_set_new(args, "device_id_", json_string(value));
        } else {
            json_t *j = json_loads(value, JSON_DECODE_ANY, NULL);
            if (j && (json_is_number(j) || json_is_boolean(j) || json_is_object(j)
                      || json_is_array(j)))
                json_object_set_new(args, field, j);
            else {
                json_decref(j);
                json_object_set_new(args, field, json_string(value));
            }
        }
    }
    if (cli_load_key(cli) != CLI_OK) {
        rc = CLI_FAIL;
        goto done;
    }
    /* pairing: component keys */
    if (components) {
        const char *vin = cli_str(args, "vin", NULL);
        if (!vin) {
            cli_usage(s_usage, "pairing needs --vin");
            goto done;
        }
        json_t *pubs = json_object(), *ids = json_array();
        const char *device = cli_str(args, "device_id_", "");
        char msg[512];
        snprintf(msg, sizeof msg, "vledger-pair:%s:%s", vin, device);
        size_t n;
        json_t *c;
        json_array_foreach(components, n, c) {
            char name[65], err[400];
            vl_key_t *key = s_component(json_string_value(c), name, sizeof name, err, sizeof err);
            if (!key) {
                json_decref(pubs);
                json_decref(ids);
                rc = cli_fail(VL_ERR_INVALID, err);
                goto done;
            }
            char hex[129];
            vl_hex_encode(vl_key_public(key), VL_PUBKEY_SIZE, hex);
            json_object_set_new(pubs, name, json_string(hex));
            uint8_t sig[VL_SIG_SIZE];
            vl_key_sign(key, msg, strlen(msg), sig);
            vl_hex_encode(sig, VL_SIG_SIZE, hex);
            json_array_append_new(ids, json_pack("{s:s, s:s, s:s}", "component", name, "vin",
                                                 vin, "signature", hex));
            vl_key_destroy(&key);
        }
        if (strcmp(route->function, "components") == 0) {
            json_object_set_new(args, "components", pubs);
            json_decref(ids);
        } else {
            json_object_set_new(args, "identifications", ids);
            json_decref(pubs);
        }
    }
    if (json_object_get(args, "device_id_")) {
        json_object_set_new(args, "device",
                            json_pack("{s:O, s:s}", "id", json_object_get(args, "device_id_"),
                                      "owner", cli->did));
        json_object_del(args, "device_id_");
    }
    if (conditions) {
        /* deploy the buyer's conditions file and attach it to the buyer's NFT-DID */
        char name[64];
        snprintf(name, sizeof name, "cond_%.12s", cli->did + 7);
        char attach[128];
        snprintf(attach, sizeof attach, "did:%s", cli->did);
        json_t *outcome = NULL;
        rc = cli_deploy_file(cli, name, conditions, attach, &outcome);
        json_decref(outcome);
        if (rc != CLI_OK)
            goto done;
    }
    json_t *outcome = NULL;
    rc = cli_transact(cli, NULL, route->contract, route->function, args, &outcome);
    if (rc == CLI_OK) {
        char what[128];
        snprintf(what, sizeof what, "%s %s", route->noun, route->verb);
        rc = cli_report_outcome(cli, what, outcome);
    }
    json_decref(outcome);
done:
    json_decref(args);
    json_decref(components);
    return rc;
}

/* `sale show VIN [--id ID]`, `title show VIN`: CONTRACT.get through
 * `query` — a read makes no transaction and no block. */
static int
s_show(cli_t *cli, const char *contract, int argc, char **argv)
{
    const char *vin = NULL, *id = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(contract, "sale") == 0 && cli_opt(argc, argv, &i, "--id", &v) == 1)
            id = v;
        else if (!vin && !cli_is_option(argv[i]))
            vin = argv[i];
        else
            return cli_usage(s_usage, "unexpected argument '%s' to %s show", argv[i], contract);
    }
    if (!vin)
        return cli_usage(s_usage, "%s show needs VIN", contract);
    json_t *args = json_pack("{s:s}", "vin", vin), *r = NULL;
    if (id)
        json_object_set_new(args, "id", json_string(id));
    int rc = cli_query(cli, contract, "get", args, &r);
    json_decref(args);
    if (rc != CLI_OK)
        return rc;
    if (json_is_null(r)) {
        json_decref(r);
        char msg[200];
        snprintf(msg, sizeof msg, "no %s%s%s for vehicle %s", strcmp(contract, "sale") == 0
                 ? "sale" : "title", id ? " " : "", id ? id : "", vin);
        return cli_fail(VL_ERR_NOT_FOUND, msg);
    }
    if (cli->json) {
        cli_print_json(r);
    } else {
        printf("%s of vehicle %s\n", contract, vin);
        cli_print_fields(r);
    }
    json_decref(r);
    return CLI_OK;
}

static int
cli_lifecycle(cli_t *cli, const char *noun, int argc, char **argv)
{
    if (argc == 0 || cli_is_help(argv[0]) || strcmp(argv[0], "help") == 0) {
        printf("%s", s_usage);
        return argc == 0 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[0], "show") == 0 && (strcmp(noun, "sale") == 0 || strcmp(noun, "title") == 0))
        return s_show(cli, noun, argc, argv);
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++)
        if (strcmp(s_routes[i].noun, noun) == 0 && strcmp(s_routes[i].verb, argv[0]) == 0)
            return s_run(cli, &s_routes[i], argc, argv);
    return cli_usage(s_usage, "unknown %s verb '%s'", noun, argv[0]);
}

int cli_sale(cli_t *cli, int argc, char **argv) { return cli_lifecycle(cli, "sale", argc, argv); }
int cli_title(cli_t *cli, int argc, char **argv) { return cli_lifecycle(cli, "title", argc, argv); }
int cli_registration(cli_t *cli, int argc, char **argv)
{
    return cli_lifecycle(cli, "registration", argc, argv);
}
int cli_keys(cli_t *cli, int argc, char **argv) { return cli_lifecycle(cli, "keys", argc, argv); }
int cli_insurance(cli_t *cli, int argc, char **argv)
{
    return cli_lifecycle(cli, "insurance", argc, argv);
}
int cli_pairing(cli_t *cli, int argc, char **argv)
{
    return cli_lifecycle(cli, "pairing", argc, argv);
}
int cli_schedule(cli_t *cli, int argc, char **argv)
{
    return cli_lifecycle(cli, "schedule", argc, argv);
}
