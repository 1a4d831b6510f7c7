/* deploy.c — cards, the genesis ceremony and node initialisation
 * (deploy.h). */
#include "deploy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "config.h"
#include "did.h"
#include "json.h"

/* --- Cards ------------------------------------------------------------------ */

json_t *
deploy_card_json(const deploy_card_t *card)
{
    json_t *roles = json_array();
    for (size_t i = 0; roles && i < card->n_roles; i++)
        json_array_append_new(roles, json_string(org_role_name(card->roles[i])));
    char *pub = vl_base64_encode(card->public_key, VL_PUBKEY_SIZE);
    char did[VL_DID_BUF];
    vl_did_from_public(card->public_key, did);
    json_t *doc = NULL;
    if (roles && pub)   /* "o" takes the reference, on failure too */
        doc = json_pack("{s:i, s:s, s:o, s:s, s:s, s:s, s:s, s:s}", "vledger_card",
                        DEPLOY_CARD_VERSION, "org", card->org, "roles", roles, "name",
                        card->name, "public_key", pub, "did", did, "gossip", card->gossip,
                        "sync", card->sync);
    else
        json_decref(roles);
    free(pub);
    return doc;
}

int
deploy_parse_roles(const char *spec, org_role_t *roles, size_t *n, vl_err_t *err)
{
    size_t count = 0;
    const char *p = spec ? spec : "";
    while (*p) {
        size_t len = strcspn(p, "+,");
        org_role_t r;
        if (len == 0 || org_role_parse(p, len, &r) != 0) {
            char known[200] = "";
            for (int k = 0; k < ORG_ROLE_COUNT; k++)
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                         k ? ", " : "", org_role_name((org_role_t) k));
            return vl_err_set(err, VL_ERR_INVALID, "unknown role '%.*s' (roles: %s)",
                              (int) (len > 64 ? 64 : len), p, known);
        }
        for (size_t i = 0; i < count; i++)
            if (roles[i] == r)
                return vl_err_set(err, VL_ERR_INVALID, "role '%s' listed twice",
                                  org_role_name(r));
        if (count == ORG_ROLES_MAX)
            return vl_err_set(err, VL_ERR_LIMIT, "more than %d roles", ORG_ROLES_MAX);
        roles[count++] = r;
        p += len;
        if (*p)
            p++;
    }
    *n = count;
    return 0;
}

int
deploy_card_from_json(const json_t *doc, const char *what, deploy_card_t *out, vl_err_t *err)
{
    static const char *known[] = { "vledger_card", "org", "roles", "name", "public_key", "did",
                                   "gossip", "sync", NULL };
    if (!json_is_object(doc))
        return vl_err_set(err, VL_ERR_INVALID, "card %s: not a JSON object", what);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) doc, key, value) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(known[i], key) == 0;
        if (!ok)
            return vl_err_set(err, VL_ERR_INVALID, "card %s: unknown field '%.64s'", what, key);
    }
    deploy_card_t c;
    memset(&c, 0, sizeof c);
    const char *org = NULL, *name = NULL, *pub = NULL, *did = NULL, *gossip = NULL, *sync = NULL;
    int64_t version = 0;
    vl_err_t e = { "" };
    json_t *roles = json_object_get(doc, "roles");
    if (vl_json_get_int(doc, "vledger_card", true, &version, &e)
        || vl_json_get_str(doc, "org", true, &org, &e)
        || vl_json_get_str(doc, "name", true, &name, &e)
        || vl_json_get_str(doc, "public_key", true, &pub, &e)
        || vl_json_get_str(doc, "did", false, &did, &e)
        || vl_json_get_str(doc, "gossip", true, &gossip, &e)
        || vl_json_get_str(doc, "sync", true, &sync, &e))
        return vl_err_set(err, VL_ERR_INVALID, "card %s: %s", what, e.msg);
    if (version != DEPLOY_CARD_VERSION)
        return vl_err_set(err, VL_ERR_INVALID, "card %s: vledger_card %lld is not a version this "
                          "vledgerd reads (%d)", what, (long long) version, DEPLOY_CARD_VERSION);
    if (!orgs_name_valid(org, strlen(org)))
        return vl_err_set(err, VL_ERR_INVALID, "card %s: organisation name '%.64s' is not 1-%d "
                          "of [a-z0-9_-]", what, org, ORG_NAME_MAX);
    snprintf(c.org, sizeof c.org, "%s", org);
    if (!name[0] || strlen(name) >= sizeof c.name)
        return vl_err_set(err, VL_ERR_INVALID, "card %s: 'name' must be 1-63 characters", what);
    snprintf(c.name, sizeof c.name, "%s", name);
    if (roles && !json_is_array(roles))
        return vl_err_set(err, VL_ERR_INVALID, "card %s: 'roles' must be an array", what);
    size_t i;
    json_t *r;
    json_array_foreach(roles, i, r) {
        org_role_t role;
        const char *rn = json_string_value(r);
        if (!rn || org_role_parse(rn, strlen(rn), &role) != 0)
            return vl_err_set(err, VL_ERR_INVALID, "card %s: unknown role '%.64s'", what,
                              rn ? rn : "(not a string)");
        for (size_t k = 0; k < c.n_roles; k++)
            if (c.roles[k] == role)
                return vl_err_set(err, VL_ERR_INVALID, "card %s: role '%s' listed twice", what,
                                  rn);
        if (c.n_roles == ORG_ROLES_MAX)
            return vl_err_set(err, VL_ERR_INVALID, "card %s: too many roles", what);
        c.roles[c.n_roles++] = role;
    }
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    if (vl_base64_decode(pub, &raw, &raw_len) != 0 || raw_len != VL_PUBKEY_SIZE) {
        free(raw);
        return vl_err_set(err, VL_ERR_INVALID, "card %s: 'public_key' must be a base64 32-byte "
                          "Ed25519 key", what);
    }
    memcpy(c.public_key, raw, VL_PUBKEY_SIZE);
    free(raw);
    char want[VL_DID_BUF];
    vl_did_from_public(c.public_key, want);
    if (did && strcmp(did, want) != 0)
        return vl_err_set(err, VL_ERR_INVALID, "card %s: 'did' %.80s is not the DID of its "
                          "public_key (%s): the card was altered", what, did, want);
    if (config_check_endpoint("gossip", gossip, false, &e)
        || config_check_endpoint("sync", sync, false, &e))
        return vl_err_set(err, VL_ERR_INVALID, "card %s: %s", what, e.msg);
    if (strstr(gossip, "://*:") || strstr(gossip, "://0.0.0.0:") || strstr(sync, "://*:")
        || strstr(sync, "://0.0.0.0:"))
        return vl_err_set(err, VL_ERR_INVALID, "card %s: its endpoints must be what other "
                          "hosts dial, not a wildcard bind address", what);
    if (strlen(gossip) >= sizeof c.gossip || strlen(sync) >= sizeof c.sync)
        return vl_err_set(err, VL_ERR_INVALID, "card %s: an endpoint is too long", what);
    snprintf(c.gossip, sizeof c.gossip, "%s", gossip);
    snprintf(c.sync, sizeof c.sync, "%s", sync);
    *out = c;
    return 0;
}

int
deploy_card_load(const char *path, deploy_card_t *out, vl_err_t *err)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return vl_err_set(err, access(path, R_OK) == 0 ? VL_ERR_INVALID : VL_ERR_IO,
                          "cannot read card %s: %s", path, jerr.text);
    int rc = deploy_card_from_json(doc, path, out, err);
    json_decref(doc);
    return rc;
}

/* --- Files -------------------------------------------------------------------- */

int
deploy_write_json(const char *path, const json_t *doc, int mode, vl_err_t *err)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        free(text);
        return vl_err_set(err, errno == EEXIST ? VL_ERR_EXISTS : VL_ERR_IO,
                          "cannot create %s: %s", path, strerror(errno));
    }
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t) n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    free(text);
    if (!ok) {
        unlink(path);
        return vl_err_set(err, VL_ERR_IO, "cannot write %s", path);
    }
    return 0;
}

int
deploy_set_setting(const char *path, const char *key, json_t *value, vl_err_t *err)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc || !json_is_object(doc)) {
        json_decref(doc);
        json_decref(value);
        return vl_err_set(err, VL_ERR_IO, "cannot read %s: %s", path, jerr.text);
    }
    json_object_set_new(doc, key, value);
    char tmp[4096];
    int rc = snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int) sizeof tmp
                 ? vl_err_set(err, VL_ERR_INVALID, "path too long: %s", path)
                 : 0;
    if (rc == 0) {
        unlink(tmp);
        rc = deploy_write_json(tmp, doc, 0644, err);
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = vl_err_set(err, VL_ERR_IO, "cannot replace %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    json_decref(doc);
    return rc;
}

/* --- init --------------------------------------------------------------------- */

static int
s_endpoint(char *out, size_t size, const char *host, int port)
{
    int n = snprintf(out, size, "tcp://%s:%d", host, port);
    return n > 0 && (size_t) n < size ? 0 : VL_ERR_INVALID;
}

int
deploy_init(const deploy_init_t *o, deploy_card_t *card_out, vl_err_t *err)
{
    deploy_card_t card;
    memset(&card, 0, sizeof card);
    vl_err_t e = { "" };
    if (!o->dir || !o->dir[0])
        return vl_err_set(err, VL_ERR_INVALID, "--data DIR is needed: the node's directory");
    if (!o->org || !orgs_name_valid(o->org, strlen(o->org)))
        return vl_err_set(err, VL_ERR_INVALID, "--org '%.64s': an organisation name is 1-%d of "
                          "[a-z0-9_-]", o->org ? o->org : "", ORG_NAME_MAX);
    snprintf(card.org, sizeof card.org, "%s", o->org);
    if (deploy_parse_roles(o->roles, card.roles, &card.n_roles, &e) != 0)
        return vl_err_set(err, VL_ERR_INVALID, "--roles: %s", e.msg);
    int n = o->name ? snprintf(card.name, sizeof card.name, "%s", o->name)
                    : snprintf(card.name, sizeof card.name, "%s-node", o->org);
    if (n <= 0 || (size_t) n >= sizeof card.name)
        return vl_err_set(err, VL_ERR_INVALID, "--name must be 1-63 characters");
    const char *bind = o->bind ? o->bind : o->advertise ? "0.0.0.0" : "127.0.0.1";
    const char *adv = o->advertise ? o->advertise : bind;
    bool wildcard = strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "*") == 0;
    if (!wildcard && config_check_host("--bind", bind, &e) != 0)
        return vl_err_set(err, VL_ERR_INVALID, "%s", e.msg);
    if (!o->advertise && wildcard)
        return vl_err_set(err, VL_ERR_INVALID, "--bind %s listens on every interface: give "
                          "--advertise HOST, the name or address other organisations dial", bind);
    if (config_check_host("--advertise", adv, &e) != 0)
        return vl_err_set(err, VL_ERR_INVALID, "%s", e.msg);
    int ports[4] = { o->gossip_port, o->sync_port, o->api_port, o->events_port };
    for (int k = 0; k < 4; k++)
        if (ports[k] < 0 || ports[k] > 65535 || (k < 2 && ports[k] == 0))
            return vl_err_set(err, VL_ERR_INVALID, "ports must be 1-65535 (gossip and sync are "
                              "on the card, so fixed): --base-port leaves no room");
    card.gossip[0] = card.sync[0] = 0;
    char g_bind[256], s_bind[256], api[256], events[256];
    const char *api_host = o->api_host ? o->api_host : "127.0.0.1";
    if (s_endpoint(card.gossip, sizeof card.gossip, adv, o->gossip_port)
        || s_endpoint(card.sync, sizeof card.sync, adv, o->sync_port)
        || s_endpoint(g_bind, sizeof g_bind, bind, o->gossip_port)
        || s_endpoint(s_bind, sizeof s_bind, bind, o->sync_port)
        || s_endpoint(api, sizeof api, api_host, o->api_port)
        || s_endpoint(events, sizeof events, api_host, o->events_port))
        return vl_err_set(err, VL_ERR_INVALID, "a host name is too long");

    char key_path[4096], json_path[4096], card_path[4096];
    if (snprintf(key_path, sizeof key_path, "%s/node.key", o->dir) >= (int) sizeof key_path
        || snprintf(json_path, sizeof json_path, "%s/node.json", o->dir) >= (int) sizeof json_path
        || snprintf(card_path, sizeof card_path, "%s/card.json", o->dir) >= (int) sizeof card_path)
        return vl_err_set(err, VL_ERR_INVALID, "--data path too long");
    const char *paths[] = { key_path, json_path, card_path };
    for (int k = 0; k < 3; k++)
        if (access(paths[k], F_OK) == 0)
            return vl_err_set(err, VL_ERR_EXISTS, "%s already holds a node (%s exists): refusing "
                              "to overwrite it; choose another --data directory", o->dir,
                              paths[k]);
    if (mkdir(o->dir, 0700) != 0 && errno != EEXIST)
        return vl_err_set(err, VL_ERR_IO, "cannot create %s: %s", o->dir, strerror(errno));

    vl_key_t *key = vl_key_generate();
    if (!key)
        return vl_err_set(err, VL_ERR_NOMEM, "cannot generate a key");
    memcpy(card.public_key, vl_key_public(key), VL_PUBKEY_SIZE);
    int rc = vl_key_save_pem(key, key_path, err);
    vl_key_destroy(&key);
    if (rc != 0)
        return rc;

    json_t *conf = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name",
                             card.name, "org", card.org, "data", "data", "key", "node.key",
                             "genesis", o->genesis ? o->genesis : "genesis.json", "peers",
                             o->peers ? o->peers : "peers.json", "api", api, "events", events,
                             "gossip", g_bind, "sync", s_bind);
    if (conf && o->advertise)
        json_object_set_new(conf, "advertise", json_string(o->advertise));
    if (conf && o->settings)
        json_object_update(conf, (json_t *) o->settings);
    json_t *card_doc = deploy_card_json(&card);
    rc = conf && card_doc ? 0 : vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    if (rc == 0)
        rc = deploy_write_json(json_path, conf, 0644, err);
    if (rc == 0 && (rc = deploy_write_json(card_path, card_doc, 0644, err)) != 0)
        unlink(json_path);
    if (rc != 0)
        unlink(key_path);
    json_decref(conf);
    json_decref(card_doc);
    if (rc == 0 && card_out)
        *card_out = card;
    return rc;
}

/* --- The genesis ceremony -------------------------------------------------------- */

static bool
s_named(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, name, n) == 0)
            return true;
        p += n;
        if (*p)
            p++;
    }
    return false;
}

static bool
s_same_roles(const deploy_card_t *a, const deploy_card_t *b)
{
    if (a->n_roles != b->n_roles)
        return false;
    for (size_t i = 0; i < a->n_roles; i++) {
        bool found = false;
        for (size_t k = 0; k < b->n_roles && !found; k++)
            found = a->roles[i] == b->roles[k];
        if (!found)
            return false;
    }
    return true;
}

int
deploy_genesis_build(const deploy_card_t *cards, size_t n, const char *validators,
                     const char *chain_id, int64_t timestamp_ms, genesis_t *out, vl_err_t *err)
{
    if (n == 0)
        return vl_err_set(err, VL_ERR_INVALID, "no cards: give every organisation's card.json "
                          "with --card");
    if (n > DEPLOY_CARDS_MAX)
        return vl_err_set(err, VL_ERR_LIMIT, "more than %d cards", DEPLOY_CARDS_MAX);
    if (!chain_id || !genesis_chain_id_valid(chain_id))
        return vl_err_set(err, VL_ERR_INVALID, "chain id '%.80s' must be 1-%d characters of "
                          "a-z 0-9 - _", chain_id ? chain_id : "", GENESIS_CHAIN_ID_MAX);
    genesis_t *g = malloc(sizeof *g);
    if (!g)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    genesis_defaults(g);
    snprintf(g->chain_id, sizeof g->chain_id, "%s", chain_id);
    g->timestamp_ms = timestamp_ms;
    int rc = 0;
    /* Organisations, in order of first appearance. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        int at = orgs_find(&g->orgs, cards[i].org);
        if (at >= 0) {
            size_t first = 0;
            while (strcmp(cards[first].org, cards[i].org) != 0)
                first++;
            if (!s_same_roles(&cards[first], &cards[i]))
                rc = vl_err_set(err, VL_ERR_INVALID, "cards %zu and %zu of organisation '%s' ask "
                                "for different roles", first + 1, i + 1, cards[i].org);
            continue;
        }
        const char *roles[ORG_ROLES_MAX + 1];
        size_t k = 0;
        bool validates = validators ? s_named(validators, cards[i].org) : false;
        for (size_t r = 0; r < cards[i].n_roles; r++) {
            if (validators && cards[i].roles[r] == ORG_ROLE_VALIDATOR)
                continue;   /* the list decides */
            roles[k++] = org_role_name(cards[i].roles[r]);
        }
        if (validates && k < ORG_ROLES_MAX)
            roles[k++] = org_role_name(ORG_ROLE_VALIDATOR);
        vl_err_t e;
        if (orgs_add(&g->orgs, cards[i].org, roles, k, &e) != 0)
            rc = vl_err_set(err, VL_ERR_INVALID, "card %zu: %s", i + 1, e.msg);
    }
    /* Every name in --validators is an organisation of the cards. */
    for (const char *p = validators ? validators : ""; *p && rc == 0;) {
        size_t len = strcspn(p, ",");
        char name[ORG_NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s", (int) (len < sizeof name ? len : sizeof name - 1), p);
        if (len == 0 || len > ORG_NAME_MAX || orgs_find(&g->orgs, name) < 0)
            rc = vl_err_set(err, VL_ERR_INVALID, "--validators names '%.*s', which is not the "
                            "organisation of any card", (int) (len > 64 ? 64 : len), p);
        p += len;
        if (*p)
            p++;
    }
    /* One member per card. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        for (size_t k = 0; k < i && rc == 0; k++) {
            if (memcmp(cards[k].public_key, cards[i].public_key, VL_PUBKEY_SIZE) == 0)
                rc = vl_err_set(err, VL_ERR_INVALID, "cards %zu and %zu carry the same public "
                                "key: each node needs its own (`vledgerd init`)", k + 1, i + 1);
            else if (strcmp(cards[k].name, cards[i].name) == 0)
                rc = vl_err_set(err, VL_ERR_INVALID, "cards %zu and %zu both name their node "
                                "'%s': re-run one `vledgerd init` with another --name", k + 1,
                                i + 1, cards[i].name);
        }
        if (rc != 0)
            break;
        int org = orgs_find(&g->orgs, cards[i].org);
        bool validator = org_has_role(&g->orgs.items[org], ORG_ROLE_VALIDATOR);
        if (members_add(&g->members, cards[i].public_key, cards[i].name, org, validator, true)
            != 0)
            rc = vl_err_set(err, VL_ERR_LIMIT, "card %zu: too many members", i + 1);
    }
    if (rc == 0 && members_validator_count(&g->members) == 0)
        rc = vl_err_set(err, VL_ERR_INVALID, "no organisation holds the role validator: name "
                        "the organisations that order blocks with --validators NAME,...");
    if (rc == 0)
        *out = *g;
    free(g);
    return rc;
}

int
deploy_genesis_hash(const genesis_t *g, uint8_t out[VL_HASH_SIZE], vl_err_t *err)
{
    genesis_block_t gb;
    int rc = genesis_block_build(g, &gb, err);
    if (rc != 0)
        return rc;
    memcpy(out, gb.hash, VL_HASH_SIZE);
    genesis_block_clear(&gb);
    return 0;
}

json_t *
deploy_peers_json(const deploy_card_t *cards, size_t n, const char *chain_id,
                  const uint8_t genesis_hash[VL_HASH_SIZE])
{
    char hex[2 * VL_HASH_SIZE + 1];
    vl_hex_encode(genesis_hash, VL_HASH_SIZE, hex);
    json_t *peers = json_array();
    for (size_t i = 0; peers && i < n; i++) {
        char *pub = vl_base64_encode(cards[i].public_key, VL_PUBKEY_SIZE);
        json_t *p = pub ? json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", cards[i].name, "org",
                                    cards[i].org, "public_key", pub, "gossip", cards[i].gossip,
                                    "sync", cards[i].sync)
                        : NULL;
        free(pub);
        if (!p || json_array_append_new(peers, p) != 0) {
            json_decref(peers);
            return NULL;
        }
    }
    return peers ? json_pack("{s:s, s:s, s:o}", "chain_id", chain_id, "genesis_hash", hex,
                             "peers", peers)
                 : NULL;
}
