/*
 * test_deploy.c — the deployment steps and configuration checks where they
 * are pure or touch only a temp dir: roles and cards (round trip and every
 * refusal), the genesis from cards (organisations, the validators list,
 * repeated keys and names, roles of one organisation), its hash, the peers
 * file, deploy_init's files and refusals (a node.json it writes loads with
 * config_load), node.json's new settings and checks (endpoints, hosts,
 * advertise, metrics, the peers file, org), the key file's mode, and the
 * metrics text format and histogram.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "codec.h"
#include "config.h"
#include "deploy.h"
#include "metrics.h"

static char s_tmp[] = "/tmp/vl-test-deploy.XXXXXX";

static deploy_card_t
s_card(const char *org, const char *name, const char *roles, int port)
{
    deploy_card_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.org, sizeof c.org, "%s", org);
    snprintf(c.name, sizeof c.name, "%s", name);
    vl_err_t err;
    CHECK_EQ(deploy_parse_roles(roles, c.roles, &c.n_roles, &err), 0);
    vl_key_t *k = vl_key_generate();
    memcpy(c.public_key, vl_key_public(k), VL_PUBKEY_SIZE);
    vl_key_destroy(&k);
    snprintf(c.gossip, sizeof c.gossip, "tcp://127.0.0.2:%d", port);
    snprintf(c.sync, sizeof c.sync, "tcp://127.0.0.2:%d", port + 1);
    return c;
}

static void
test_roles(void)
{
    org_role_t r[ORG_ROLES_MAX];
    size_t n = 99;
    vl_err_t err;
    CHECK_EQ(deploy_parse_roles("lender+issuer", r, &n, &err), 0);
    CHECK_EQ(n, 2);
    CHECK_EQ(r[0], ORG_ROLE_LENDER);
    CHECK_EQ(r[1], ORG_ROLE_ISSUER);
    CHECK_EQ(deploy_parse_roles("insurer,validator", r, &n, &err), 0);
    CHECK_EQ(n, 2);
    CHECK_EQ(deploy_parse_roles("", r, &n, &err), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(deploy_parse_roles(NULL, r, &n, &err), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(deploy_parse_roles("lender+pirate", r, &n, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "unknown role 'pirate'");
    CHECK_CONTAINS(err.msg, "title_agency");
    CHECK_EQ(deploy_parse_roles("lender++issuer", r, &n, &err), VL_ERR_INVALID);
    CHECK_EQ(deploy_parse_roles("lender+lender", r, &n, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "listed twice");
}

static void
test_card_round_trip_and_refusals(void)
{
    deploy_card_t c = s_card("bank", "bank-node", "issuer+lender", 7100), back;
    json_t *j = deploy_card_json(&c);
    vl_err_t err = { "" };
    CHECK(j != NULL);
    CHECK_EQ(deploy_card_from_json(j, "t", &back, &err), 0);
    CHECK_STR(back.org, "bank");
    CHECK_STR(back.name, "bank-node");
    CHECK_EQ(back.n_roles, 2);
    CHECK(memcmp(back.public_key, c.public_key, VL_PUBKEY_SIZE) == 0);
    CHECK_STR(back.gossip, "tcp://127.0.0.2:7100");
    CHECK_STR(back.sync, "tcp://127.0.0.2:7101");
    CHECK(json_object_get(j, "did") != NULL);
    char *text = json_dumps(j, 0);
    CHECK(text && !strstr(text, "PRIVATE"));
    free(text);

    struct { const char *key; json_t *value; const char *want; } bad[] = {
        { "colour", json_string("red"), "unknown field 'colour'" },
        { "vledger_card", json_integer(2), "not a version" },
        { "org", json_string("Big Bank"), "organisation name" },
        { "roles", json_pack("[s]", "pirate"), "unknown role 'pirate'" },
        { "roles", json_pack("[s,s]", "lender", "lender"), "listed twice" },
        { "roles", json_string("lender"), "'roles' must be an array" },
        { "public_key", json_string("AAAA"), "base64 32-byte" },
        { "did", json_string("did:vl:00"), "the card was altered" },
        { "gossip", json_string("127.0.0.2:7100"), "'gossip' must be tcp://HOST:PORT" },
        { "sync", json_string("tcp://0.0.0.0:7101"), "not a wildcard" },
        { "name", json_string(""), "'name' must be" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *k = json_deep_copy(j);
        json_object_set_new(k, bad[i].key, bad[i].value);
        err.msg[0] = 0;
        CHECK_EQ(deploy_card_from_json(k, "c.json", &back, &err), VL_ERR_INVALID);
        CHECK_CONTAINS(err.msg, bad[i].want);
        CHECK_CONTAINS(err.msg, "c.json");
        json_decref(k);
    }
    json_t *k = json_deep_copy(j);
    json_object_del(k, "public_key");
    CHECK_EQ(deploy_card_from_json(k, "c.json", &back, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "missing parameter 'public_key'");
    json_decref(k);
    json_t *one = json_integer(1);
    CHECK_EQ(deploy_card_from_json(one, "c.json", &back, &err), VL_ERR_INVALID);
    json_decref(one);
    CHECK_EQ(deploy_card_load("/nonexistent/card.json", &back, &err), VL_ERR_IO);
    CHECK_CONTAINS(err.msg, "cannot read card");
    json_decref(j);
}

static void
test_genesis_from_cards(void)
{
    deploy_card_t cards[4] = {
        s_card("agency", "agency-node", "title_agency+validator", 7100),
        s_card("bank", "bank-node", "issuer+lender", 7200),
        s_card("buyer", "buyer-node", "", 7300),
        s_card("bank", "bank-node-2", "lender+issuer", 7400),
    };
    genesis_t *g = malloc(sizeof *g);
    vl_err_t err = { "" };
    /* As the cards ask. */
    CHECK_EQ(deploy_genesis_build(cards, 4, NULL, "net-1", 1000, g, &err), 0);
    CHECK_EQ(g->orgs.count, 3);
    CHECK_STR(g->orgs.items[0].name, "agency");
    CHECK_STR(g->orgs.items[1].name, "bank");
    CHECK_EQ(g->members.count, 4);
    CHECK_EQ(g->members.items[3].org, 1);   /* the second bank card: the same organisation */
    CHECK(g->members.items[0].validator && !g->members.items[1].validator);
    CHECK(g->members.items[0].endorser && g->members.items[2].endorser);
    CHECK_STR(g->members.items[2].name, "buyer-node");
    CHECK_STR(g->chain_id, "net-1");
    CHECK_EQ(g->timestamp_ms, 1000);
    /* The list decides: agency loses validator, bank and buyer gain it. */
    CHECK_EQ(deploy_genesis_build(cards, 4, "bank,buyer", "net-1", 1000, g, &err), 0);
    CHECK(!org_has_role(&g->orgs.items[0], ORG_ROLE_VALIDATOR));
    CHECK(org_has_role(&g->orgs.items[0], ORG_ROLE_TITLE_AGENCY));
    CHECK(org_has_role(&g->orgs.items[1], ORG_ROLE_VALIDATOR));
    CHECK(org_has_role(&g->orgs.items[2], ORG_ROLE_VALIDATOR));
    CHECK_EQ(members_validator_count(&g->members), 3);
    /* Refusals. */
    CHECK_EQ(deploy_genesis_build(cards, 4, "bank,nobody", "net-1", 1000, g, &err),
             VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "'nobody', which is not the organisation of any card");
    CHECK_EQ(deploy_genesis_build(cards + 1, 2, NULL, "net-1", 1000, g, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "--validators NAME");
    CHECK_EQ(deploy_genesis_build(cards, 0, NULL, "net-1", 1000, g, &err), VL_ERR_INVALID);
    CHECK_EQ(deploy_genesis_build(cards, 2, NULL, "Net One", 1000, g, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "chain id");
    deploy_card_t dup[2] = { cards[0], cards[0] };
    snprintf(dup[1].name, sizeof dup[1].name, "other");
    CHECK_EQ(deploy_genesis_build(dup, 2, NULL, "net-1", 1000, g, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "same public key");
    deploy_card_t names[2] = { cards[0], cards[2] };
    snprintf(names[1].name, sizeof names[1].name, "agency-node");
    CHECK_EQ(deploy_genesis_build(names, 2, NULL, "net-1", 1000, g, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "both name their node 'agency-node'");
    deploy_card_t roles[2] = { cards[1], cards[3] };
    roles[1].n_roles = 1;
    CHECK_EQ(deploy_genesis_build(roles, 2, "bank", "net-1", 1000, g, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "ask for different roles");
    free(g);
}

static void
test_genesis_hash_and_peers(void)
{
    deploy_card_t cards[2] = { s_card("agency", "a", "validator", 7100),
                               s_card("bank", "b", "issuer", 7200) };
    genesis_t *g = malloc(sizeof *g), *g2 = malloc(sizeof *g2);
    vl_err_t err;
    uint8_t h1[32], h2[32], h3[32];
    CHECK_EQ(deploy_genesis_build(cards, 2, NULL, "net-1", 1000, g, &err), 0);
    CHECK_EQ(deploy_genesis_hash(g, h1, &err), 0);
    CHECK_EQ(deploy_genesis_build(cards, 2, NULL, "net-1", 1000, g2, &err), 0);
    CHECK_EQ(deploy_genesis_hash(g2, h2, &err), 0);
    CHECK(memcmp(h1, h2, 32) == 0);                  /* the same cards, the same hash */
    CHECK_EQ(deploy_genesis_build(cards, 2, NULL, "net-2", 1000, g2, &err), 0);
    CHECK_EQ(deploy_genesis_hash(g2, h3, &err), 0);
    CHECK(memcmp(h1, h3, 32) != 0);                  /* another chain, another hash */
    json_t *p = deploy_peers_json(cards, 2, "net-1", h1);
    char hex[65];
    vl_hex_encode(h1, 32, hex);
    CHECK_STR(json_string_value(json_object_get(p, "genesis_hash")), hex);
    CHECK_STR(json_string_value(json_object_get(p, "chain_id")), "net-1");
    json_t *list = json_object_get(p, "peers");
    CHECK_EQ(json_array_size(list), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 1), "gossip")),
              "tcp://127.0.0.2:7200");
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 1), "org")), "bank");
    json_decref(p);
    free(g);
    free(g2);
}

static void
test_init_files_and_config(void)
{
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "%s/bank", s_tmp);
    deploy_init_t o = { .dir = dir, .org = "bank", .roles = "issuer+lender",
                        .bind = "127.0.0.3", .advertise = "bank.example",
                        .gossip_port = 7100, .sync_port = 7101, .api_port = 7102,
                        .events_port = 7103 };
    deploy_card_t card;
    vl_err_t err = { "" };
    CHECK_EQ(deploy_init(&o, &card, &err), 0);
    CHECK_STR(card.name, "bank-node");
    CHECK_STR(card.gossip, "tcp://bank.example:7100");
    CHECK_STR(card.sync, "tcp://bank.example:7101");
    struct stat st;
    snprintf(path, sizeof path, "%s/node.key", dir);
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_EQ(config_check_key(path, &err), 0);
    snprintf(path, sizeof path, "%s/card.json", dir);
    deploy_card_t loaded;
    CHECK_EQ(deploy_card_load(path, &loaded, &err), 0);
    CHECK(memcmp(loaded.public_key, card.public_key, 32) == 0);
    /* Again: refused, nothing touched. */
    CHECK_EQ(deploy_init(&o, NULL, &err), VL_ERR_EXISTS);
    CHECK_CONTAINS(err.msg, "refusing to overwrite");
    CHECK_EQ(deploy_card_load(path, &loaded, &err), 0);
    CHECK(memcmp(loaded.public_key, card.public_key, 32) == 0);

    /* Its node.json loads once the ceremony's peers file is there. */
    node_config_t *c = malloc(sizeof *c);
    snprintf(path, sizeof path, "%s/node.json", dir);
    CHECK_EQ(config_load(path, c, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "cannot read peers file");
    CHECK_CONTAINS(err.msg, "vledgerd genesis");
    deploy_card_t other = s_card("agency", "agency-node", "validator", 7200);
    deploy_card_t both[2] = { card, other };
    uint8_t hash[32] = { 7 };
    json_t *peers = deploy_peers_json(both, 2, "net-1", hash);
    char peers_path[300];
    snprintf(peers_path, sizeof peers_path, "%s/peers.json", dir);
    CHECK_EQ(deploy_write_json(peers_path, peers, 0644, &err), 0);
    CHECK_EQ(deploy_write_json(peers_path, peers, 0644, &err), VL_ERR_EXISTS);
    json_decref(peers);
    CHECK_EQ(config_load(path, c, &err), 0);
    CHECK_STR(c->org, "bank");
    CHECK_STR(c->name, "bank-node");
    CHECK(c->gossip_on);
    CHECK_STR(c->gossip.gossip_endpoint, "tcp://127.0.0.3:7100");
    CHECK_STR(c->gossip.advertise_host, "bank.example");
    CHECK_STR(c->api_endpoint, "tcp://127.0.0.1:7102");
    CHECK_EQ(c->n_peers, 2);
    CHECK_STR(c->peers[1].gossip, "tcp://127.0.0.2:7200");
    CHECK_EQ(strlen(c->peers_genesis_hash), 64);
    CHECK(!c->metrics_on);
    /* Sim-style: peers replaced by an inline array. */
    CHECK_EQ(deploy_set_setting(path, "peers", json_array(), &err), 0);
    CHECK_EQ(config_load(path, c, &err), 0);
    CHECK_EQ(c->n_peers, 0);
    CHECK_EQ(c->peers_genesis_hash[0], 0);
    free(c);

    /* Options refused before anything is made. */
    char d2[256];
    snprintf(d2, sizeof d2, "%s/x", s_tmp);
    deploy_init_t b = o;
    b.dir = d2;
    b.advertise = NULL;
    b.bind = "0.0.0.0";
    CHECK_EQ(deploy_init(&b, NULL, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "give --advertise HOST");
    b.bind = NULL;
    b.advertise = "tcp://h:1";
    CHECK_EQ(deploy_init(&b, NULL, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "'--advertise' must be");
    b.advertise = NULL;
    b.org = "Big Bank";
    CHECK_EQ(deploy_init(&b, NULL, &err), VL_ERR_INVALID);
    b.org = "bank";
    b.roles = "pirate";
    CHECK_EQ(deploy_init(&b, NULL, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "--roles: unknown role 'pirate'");
    b.roles = NULL;
    b.gossip_port = 0;
    CHECK_EQ(deploy_init(&b, NULL, &err), VL_ERR_INVALID);
    CHECK(access(d2, F_OK) != 0);
    /* Defaults: no advertise, no bind -> 127.0.0.1 both ways. */
    b.gossip_port = 7100;
    b.name = "n1";
    CHECK_EQ(deploy_init(&b, &card, &err), 0);
    CHECK_STR(card.gossip, "tcp://127.0.0.1:7100");
    CHECK_STR(card.name, "n1");
}

static void
test_config_checks(void)
{
    vl_err_t err = { "" };
    CHECK_EQ(config_check_endpoint("gossip", "tcp://127.0.0.2:7100", false, &err), 0);
    CHECK_EQ(config_check_endpoint("gossip", "tcp://*:7100", false, &err), 0);
    CHECK_EQ(config_check_endpoint("gossip", "tcp://node-1.bank.example:0", false, &err), 0);
    CHECK_EQ(config_check_endpoint("api", "ipc:///run/vl.sock", true, &err), 0);
    const char *bad[] = { "127.0.0.2:7100", "tcp://:7100", "tcp://h", "tcp://h:", "tcp://h:x",
                          "tcp://h:70000", "tcp://h:123456", "tcp://[::1]:7100",
                          "tcp://a b:1", "ipc:///x", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(config_check_endpoint("gossip", bad[i], false, &err), VL_ERR_INVALID);
        CHECK_CONTAINS(err.msg, "'gossip' must be tcp://HOST:PORT");
    }
    CHECK_EQ(config_check_host("advertise", "bank.example", &err), 0);
    CHECK_EQ(config_check_host("advertise", "192.0.2.7", &err), 0);
    CHECK_EQ(config_check_host("advertise", "0.0.0.0", &err), VL_ERR_INVALID);
    CHECK_EQ(config_check_host("advertise", "tcp://h", &err), VL_ERR_INVALID);
    CHECK_EQ(config_check_host("advertise", "h:1", &err), VL_ERR_INVALID);
    CHECK_EQ(config_check_host("advertise", "", &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "'advertise' must be");
    char host[64];
    int port = -1;
    CHECK_EQ(config_parse_metrics("127.0.0.1:9464", host, sizeof host, &port, &err), 0);
    CHECK_STR(host, "127.0.0.1");
    CHECK_EQ(port, 9464);
    CHECK_EQ(config_parse_metrics("9465", host, sizeof host, &port, &err), 0);
    CHECK_STR(host, "127.0.0.1");
    CHECK_EQ(port, 9465);
    CHECK_EQ(config_parse_metrics(":0", host, sizeof host, &port, &err), 0);
    CHECK_EQ(port, 0);
    CHECK_EQ(config_parse_metrics("localhost:1", host, sizeof host, &port, &err), 0);
    CHECK_STR(host, "127.0.0.1");
    CHECK_EQ(config_parse_metrics("10.1.2.3:80", host, sizeof host, &port, &err), 0);
    CHECK_STR(host, "10.1.2.3");
    const char *badm[] = { "abc", "127.0.0.1:", "127.0.0.1:99999", "host.example:1", "" };
    for (size_t i = 0; i < sizeof badm / sizeof badm[0]; i++) {
        CHECK_EQ(config_parse_metrics(badm[i], host, sizeof host, &port, &err), VL_ERR_INVALID);
        CHECK_CONTAINS(err.msg, "'metrics' must be");
    }
    /* Every setting is documented, once. */
    size_t n = 0;
    for (size_t i = 0; config_keys_help[i]; i += 2, n++) {
        CHECK(config_keys_help[i + 1] && config_keys_help[i + 1][0]);
        for (size_t k = 0; k < i; k += 2)
            CHECK(strcmp(config_keys_help[k], config_keys_help[i]) != 0);
    }
    CHECK(n >= 22);
}

/* node.json text into s_tmp/conf/node.json; config_load's rc and message. */
static int
s_load(const char *text, node_config_t *c, vl_err_t *err)
{
    char path[300];
    snprintf(path, sizeof path, "%s/conf", s_tmp);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/conf/node.json", s_tmp);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return config_load(path, c, err);
}

static void
test_config_load_settings(void)
{
    node_config_t *c = malloc(sizeof *c);
    vl_err_t err = { "" };
#define BASE "\"data\": \"d\", \"key\": \"k\", \"genesis\": \"g.json\""
    CHECK_EQ(s_load("{" BASE ", \"metrics\": \"9464\", \"org\": \"bank\"}", c, &err), 0);
    CHECK(c->metrics_on);
    CHECK_STR(c->metrics_host, "127.0.0.1");
    CHECK_EQ(c->metrics_port, 9464);
    CHECK_STR(c->org, "bank");
    CHECK(!c->gossip_on);
    CHECK_EQ(s_load("{" BASE ", \"gossip\": \"tcp://*:1\", \"sync\": \"tcp://*:2\", "
                    "\"advertise\": \"h.example\"}", c, &err), 0);
    CHECK_STR(c->gossip.advertise_host, "h.example");
    CHECK_EQ(c->reactor_retry_ms, CONFIG_REACTOR_RETRY_MS_DEFAULT);
    CHECK_EQ(c->reactor_patience_ms, CONFIG_REACTOR_PATIENCE_MS_DEFAULT);
    CHECK_EQ(s_load("{" BASE ", \"reactor_retry_ms\": 250, \"reactor_patience_ms\": 5000}", c,
                    &err), 0);
    CHECK_EQ(c->reactor_retry_ms, 250);
    CHECK_EQ(c->reactor_patience_ms, 5000);
    struct { const char *text, *want; } bad[] = {
        { "{" BASE ", \"reactor_retry_ms\": 99}", "reactor_retry_ms 100-60000" },
        { "{" BASE ", \"reactor_patience_ms\": 999}", "reactor_patience_ms 1000-86400000" },
        { "{" BASE ", \"colour\": 1}", "unknown setting 'colour'" },
        { "{" BASE ", \"gossip\": \"tcp://0.0.0.0:1\", \"sync\": \"tcp://127.0.0.1:2\"}",
          "set 'advertise'" },
        { "{" BASE ", \"gossip\": \"tcp://h:1\", \"sync\": \"tcp://*:2\"}", "'sync' binds every" },
        { "{" BASE ", \"advertise\": \"h\"}", "'advertise' goes with 'gossip'" },
        { "{" BASE ", \"gossip\": \"tcp://h:1\", \"sync\": \"tcp://h:2\", \"advertise\": \"*\"}",
          "'advertise' must be" },
        { "{" BASE ", \"api\": \"127.0.0.1:1\"}", "'api' must be tcp://HOST:PORT" },
        { "{" BASE ", \"events\": \"tcp://h:-1\"}", "'events' must be" },
        { "{" BASE ", \"metrics\": 9464}", "parameter 'metrics' must be a string" },
        { "{" BASE ", \"metrics\": \"x:1\"}", "'metrics' must be" },
        { "{" BASE ", \"peers\": \"p.json\"}", "'peers' goes with 'gossip'" },
        { "{" BASE ", \"gossip\": \"tcp://h:1\", \"sync\": \"tcp://h:2\", \"peers\": \"p.json\"}",
          "cannot read peers file" },
        { "{" BASE ", \"gossip\": \"tcp://h:1\", \"sync\": \"tcp://h:2\", \"peers\": 3}",
          "'peers' must be an array" },
        { "{" BASE ", \"org\": \"\"}", "'org' must be" },
        { "{" BASE ", \"name\": \"\"}", "'name' must be" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = 0;
        CHECK_EQ(s_load(bad[i].text, c, &err), VL_ERR_INVALID);
        CHECK_CONTAINS(err.msg, bad[i].want);
        CHECK_CONTAINS(err.msg, "conf/node.json");
    }
    /* A peers file with a bad entry names the file. */
    char path[300];
    snprintf(path, sizeof path, "%s/conf/p.json", s_tmp);
    FILE *f = fopen(path, "w");
    fputs("{\"peers\": [{\"gossip\": \"tcp://h:1\"}]}", f);
    fclose(f);
    CHECK_EQ(s_load("{" BASE ", \"gossip\": \"tcp://h:1\", \"sync\": \"tcp://h:2\", "
                    "\"peers\": \"p.json\"}", c, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "p.json");
    CHECK_CONTAINS(err.msg, "peers[0]");
#undef BASE
    free(c);
}

static void
test_key_mode(void)
{
    char path[300];
    vl_err_t err = { "" };
    snprintf(path, sizeof path, "%s/k.pem", s_tmp);
    vl_key_t *k = vl_key_generate();
    CHECK_EQ(vl_key_save_pem(k, path, &err), 0);
    vl_key_destroy(&k);
    CHECK_EQ(config_check_key(path, &err), 0);
    chmod(path, 0644);
    CHECK_EQ(config_check_key(path, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "chmod 600");
    CHECK_CONTAINS(err.msg, "mode 0644");
    chmod(path, 0602);
    CHECK_EQ(config_check_key(path, &err), VL_ERR_INVALID);
    chmod(path, 0400);
    CHECK_EQ(config_check_key(path, &err), 0);
    snprintf(path, sizeof path, "%s/missing.pem", s_tmp);
    CHECK_EQ(config_check_key(path, &err), VL_ERR_IO);
    CHECK_CONTAINS(err.msg, "cannot open key file");
    CHECK_CONTAINS(err.msg, "vledgerd init");
    CHECK_EQ(config_check_key(s_tmp, &err), VL_ERR_INVALID);   /* a directory */
}

static void
test_metrics_format(void)
{
    metrics_histogram_t h = { { 0 }, 0, 0 };
    metrics_histogram_observe(&h, 5);       /* le 0.005 */
    metrics_histogram_observe(&h, 6);       /* le 0.01 */
    metrics_histogram_observe(&h, -3);      /* counts as 0 */
    metrics_histogram_observe(&h, 999999);  /* +Inf */
    CHECK_EQ(h.buckets[0], 2);
    CHECK_EQ(h.buckets[1], 1);
    CHECK_EQ(h.buckets[METRICS_LATENCY_BUCKETS], 1);
    CHECK_EQ(h.count, 4);
    CHECK_EQ(h.sum_ms, 5 + 6 + 999999);
    metrics_snapshot_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.chain_id, sizeof s.chain_id, "net-1");
    snprintf(s.node, sizeof s.node, "a\"b\\c");
    snprintf(s.org, sizeof s.org, "bank");
    s.height = 42;
    s.peers[METRICS_PEER_ALIVE] = 3;
    s.peers[METRICS_PEER_REFUSED] = 1;
    s.commit_latency = h;
    s.consensus_timeouts = 7;
    char *buf = malloc(65536);
    int n = metrics_format(&s, buf, 65536);
    CHECK(n > 0 && (size_t) n == strlen(buf));
    CHECK_CONTAINS(buf, "# TYPE vledger_height gauge\nvledger_height 42\n");
    CHECK_CONTAINS(buf, "vledger_info{chain_id=\"net-1\",node=\"a\\\"b\\\\c\",org=\"bank\"} 1\n");
    CHECK_CONTAINS(buf, "vledger_peers{state=\"alive\"} 3\n");
    CHECK_CONTAINS(buf, "vledger_peers{state=\"refused\"} 1\n");
    CHECK_CONTAINS(buf, "vledger_commit_latency_seconds_bucket{le=\"0.005\"} 2\n");
    CHECK_CONTAINS(buf, "vledger_commit_latency_seconds_bucket{le=\"0.01\"} 3\n");
    CHECK_CONTAINS(buf, "vledger_commit_latency_seconds_bucket{le=\"30\"} 3\n");
    CHECK_CONTAINS(buf, "vledger_commit_latency_seconds_bucket{le=\"+Inf\"} 4\n");
    CHECK_CONTAINS(buf, "vledger_commit_latency_seconds_count 4\n");
    CHECK_CONTAINS(buf, "vledger_commit_latency_seconds_sum 1000.010\n");
    CHECK_CONTAINS(buf, "# TYPE vledger_consensus_timeouts_total counter\n"
                        "vledger_consensus_timeouts_total 7\n");
    /* Every TYPE'd family has a HELP before it. */
    for (const char *p = strstr(buf, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
        char name[80];
        sscanf(p, "# TYPE %79s", name);
        char help[100];
        snprintf(help, sizeof help, "# HELP %s ", name);
        CHECK(strstr(buf, help) != NULL && strstr(buf, help) < p);
    }
    CHECK_EQ(metrics_format(&s, buf, 100), -1);
    CHECK_EQ(metrics_format(&s, buf, 0), -1);
    free(buf);
}

int
main(void)
{
    if (!mkdtemp(s_tmp))
        check_bail_out("cannot make a temp dir");
    RUN(test_roles);
    RUN(test_card_round_trip_and_refusals);
    RUN(test_genesis_from_cards);
    RUN(test_genesis_hash_and_peers);
    RUN(test_init_files_and_config);
    RUN(test_config_checks);
    RUN(test_config_load_settings);
    RUN(test_key_mode);
    RUN(test_metrics_format);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_tmp);
    return check_done();
}
