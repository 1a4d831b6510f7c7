/*
 * cli_identity.c — `vledger identity new|enrol|show` (docs/trust.md
 * "Identities and roles").
 *
 * `identity new` makes a key, saves it (0600, never overwriting) and
 * registers it with `identity.register {name, org, roles, id_number?}`
 * signed by the new key itself, so the DID is proven by its own signature.
 * The organisation is --org, else the organisation of the node the CLI
 * talks to (`status.org`): an identity joins the organisation whose node
 * serves it. Only self-declared roles (buyer, seller, owner, service) are
 * taken at registration; the contract refuses a privileged one naming the
 * organisations that can grant it, and `identity enrol`, run on such an
 * organisation's node under its node key, grants it.
 *
 * When registration fails the key file is removed if and only if the
 * registration provably cannot take effect (the node refused it at endorse
 * or submit, or it committed as invalid): a leftover key would only block a
 * retry with the same name. When the outcome is unknown (no answer to
 * submit, commit wait timed out) the key is kept and its path printed: the
 * identity may exist on the ledger, and its key must not be lost.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLI_ROLES_MAX 16

static const char *const s_usage =
    "usage: vledger identity new --name NAME --role ROLE [--role ROLE...] [--id-number X]\n"
    "                            [--org ORG] [--out KEYFILE]\n"
    "       vledger identity enrol DID --role ROLE\n"
    "       vledger identity show [DID]\n";

static const char *const s_help =
    "\n"
    "identity new    generates an Ed25519 key, saves it to KEYFILE (default\n"
    "                DATA/keys/NAME.pem, mode 0600; an existing file is never\n"
    "                overwritten) and registers the identity signed by the new\n"
    "                key. Prints the DID and the key path. If the node refuses,\n"
    "                the new key file is removed; if the outcome is unknown it\n"
    "                is kept. ORG defaults to the node's organisation. Roles\n"
    "                taken here: buyer, seller, owner, service; a privileged\n"
    "                role (title_agency, registration_authority, lender,\n"
    "                insurer, dealer, issuer, validator) is granted by an\n"
    "                organisation that holds it, with identity enrol.\n"
    "identity enrol  grants DID (a member of the node's organisation) one of\n"
    "                the organisation's privileged roles; signed by the node's\n"
    "                own key (run it on the organisation's node, without --key).\n"
    "identity show   prints an identity document with its organisation and\n"
    "                roles (default: the signer's DID).\n";

/* mkdir that accepts an existing directory. */
static int
s_mkdir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    return -1;
}

static int
s_new(cli_t *cli, int argc, char **argv)
{
    const char *name = NULL, *id_number = NULL, *out = NULL, *org = NULL;
    const char *roles[CLI_ROLES_MAX];
    int n_roles = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if ((m = cli_opt(argc, argv, &i, "--name", &v)) != 0) {
            if (m < 0)
                return cli_usage(s_usage, "--name needs a value");
            name = v;
        } else if ((m = cli_opt(argc, argv, &i, "--role", &v)) != 0) {
            if (m < 0 || !*v)
                return cli_usage(s_usage, "--role needs a value");
            if (n_roles == CLI_ROLES_MAX)
                return cli_usage(s_usage, "at most %d roles", CLI_ROLES_MAX);
            roles[n_roles++] = v;
        } else if ((m = cli_opt(argc, argv, &i, "--id-number", &v)) != 0) {
            if (m < 0)
                return cli_usage(s_usage, "--id-number needs a value");
            id_number = v;
        } else if ((m = cli_opt(argc, argv, &i, "--org", &v)) != 0) {
            if (m < 0 || !*v)
                return cli_usage(s_usage, "--org needs an organisation name");
            org = v;
        } else if ((m = cli_opt(argc, argv, &i, "--out", &v)) != 0) {
            if (m < 0 || !*v)
                return cli_usage(s_usage, "--out needs a file name");
            out = v;
        } else {
            return cli_usage(s_usage, "unexpected argument '%s' to identity new", argv[i]);
        }
    }
    if (!name || !*name)
        return cli_usage(s_usage, "identity new needs --name NAME");
    if (n_roles == 0)
        return cli_usage(s_usage, "identity new needs at least one --role ROLE");

    char path[4400];
    if (out) {
        snprintf(path, sizeof path, "%s", out);
    } else {
        if (strchr(name, '/') || name[0] == '.')
            return cli_usage(s_usage, "name '%s' cannot be a key file name; pass --out KEYFILE",
                             name);
        if (!cli->data_dir[0])
            return cli_fail(VL_ERR_NOT_FOUND, "no data directory for the key: pass --data DIR "
                                              "or --out KEYFILE");
        snprintf(path, sizeof path, "%s/keys/%s.pem", cli->data_dir, name);
    }

    json_t *args = json_pack("{s:s, s:[]}", "name", name, "roles");
    for (int k = 0; k < n_roles; k++)
        json_array_append_new(json_object_get(args, "roles"), json_string(roles[k]));
    if (id_number)
        json_object_set_new(args, "id_number", json_string(id_number));

    /* Reach the node before creating anything. */
    int rc = cli_ensure_chain(cli);
    if (rc != CLI_OK) {
        json_decref(args);
        return rc;
    }
    if (!org)
        org = cli->org;
    if (!org) {
        json_decref(args);
        return cli_fail(VL_ERR_INVALID, "the node reports no organisation: pass --org ORG "
                                        "(an organisation of the network's genesis)");
    }
    json_object_set_new(args, "org", json_string(org));
    if (!out) {
        char keys[4300];
        snprintf(keys, sizeof keys, "%s/keys", cli->data_dir);
        if (s_mkdir(cli->data_dir) != 0 || s_mkdir(keys) != 0) {
            char msg[4400];
            snprintf(msg, sizeof msg, "cannot create %s: %s", keys, strerror(errno));
            json_decref(args);
            return cli_fail(VL_ERR_IO, msg);
        }
    }
    vl_key_t *key = vl_key_generate();
    if (!key) {
        json_decref(args);
        return cli_fail(VL_ERR_NOMEM, "cannot generate a key");
    }
    vl_err_t err = { "" };
    if ((rc = vl_key_save_pem(key, path, &err)) != 0) {
        vl_key_destroy(&key);
        json_decref(args);
        return cli_fail(rc, err.msg);
    }
    char did[VL_DID_BUF];
    vl_did_from_public(vl_key_public(key), did);

    json_t *outcome = NULL;
    rc = cli_transact(cli, key, "identity", "register", args, &outcome);
    json_decref(args);
    vl_key_destroy(&key);
    if (rc != CLI_OK) {
        client_tx_fate_t fate = cli->client ? client_last_tx_fate(cli->client) : CLIENT_TX_NONE;
        if (fate == CLIENT_TX_UNKNOWN) {
            fprintf(stderr, "vledger: kept the key of %s in %s\n", did, path);
        } else if (unlink(path) == 0) {
            fprintf(stderr, "vledger: %s was not registered; removed its key file %s\n", did,
                    path);
        } else {
            fprintf(stderr, "vledger: %s was not registered; cannot remove %s: %s\n", did, path,
                    strerror(errno));
        }
        return rc;
    }
    if (cli->json) {
        json_object_set_new(outcome, "did", json_string(did));
        json_object_set_new(outcome, "key_file", json_string(path));
        cli_print_json(outcome);
    } else {
        printf("registered identity %s (%s) of organisation %s in block %lld (tx %s)\n", did,
               name, org, cli_int(outcome, "height"), cli_str(outcome, "txid", "?"));
        printf("key saved to %s; sign as this identity with --key %s\n", path, path);
    }
    json_decref(outcome);
    return CLI_OK;
}

static int
s_enrol(cli_t *cli, int argc, char **argv)
{
    const char *did = NULL, *role = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if ((m = cli_opt(argc, argv, &i, "--role", &v)) != 0) {
            if (m < 0 || !*v)
                return cli_usage(s_usage, "--role needs a value");
            if (role)
                return cli_usage(s_usage, "identity enrol grants one role at a time");
            role = v;
        } else if (!did && !cli_is_option(argv[i])) {
            did = argv[i];
        } else {
            return cli_usage(s_usage, "unexpected argument '%s' to identity enrol", argv[i]);
        }
    }
    if (!did || !role)
        return cli_usage(s_usage, "identity enrol needs DID and --role ROLE");
    if (!vl_did_valid(did))
        return cli_usage(s_usage, "'%s' is not a DID (did:vl: and 40 hex digits)", did);
    json_t *args = json_pack("{s:s, s:s}", "did", did, "role", role), *outcome = NULL;
    int rc = cli_transact(cli, NULL, "identity", "enrol", args, &outcome);
    json_decref(args);
    if (rc != CLI_OK)
        return rc;
    if (cli->json)
        cli_print_json(outcome);
    else
        printf("enrolled %s as %s (by %s) in block %lld (tx %s)\n", did, role, cli->did,
               cli_int(outcome, "height"), cli_str(outcome, "txid", "?"));
    json_decref(outcome);
    return CLI_OK;
}

static int
s_show(cli_t *cli, int argc, char **argv)
{
    const char *did = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_option(argv[i]) || did)
            return cli_usage(s_usage, "unexpected argument '%s' to identity show", argv[i]);
        did = argv[i];
    }
    int checked = cli_did_or_signer(cli, s_usage, did, &did);
    if (checked != CLI_OK)
        return checked;
    json_t *params = json_pack("{s:s}", "did", did), *doc = NULL;
    int rc = cli_call(cli, "identity.get", params, &doc);
    json_decref(params);
    if (rc != CLI_OK)
        return rc;
    if (cli->json) {
        cli_print_json(doc);
    } else {
        printf("identity %s\n", did);
        cli_print_fields(doc);
    }
    json_decref(doc);
    return CLI_OK;
}

int
cli_identity(cli_t *cli, int argc, char **argv)
{
    if (argc == 0)
        return cli_usage(s_usage, "identity needs a verb: new, enrol or show");
    if (cli_is_help(argv[0]) || strcmp(argv[0], "help") == 0
        || (argc > 1 && cli_is_help(argv[1]))) {
        printf("%s%s", s_usage, s_help);
        return CLI_OK;
    }
    if (strcmp(argv[0], "new") == 0)
        return s_new(cli, argc, argv);
    if (strcmp(argv[0], "enrol") == 0 || strcmp(argv[0], "enroll") == 0)
        return s_enrol(cli, argc, argv);
    if (strcmp(argv[0], "show") == 0)
        return s_show(cli, argc, argv);
    return cli_usage(s_usage, "unknown identity verb '%s'", argv[0]);
}
