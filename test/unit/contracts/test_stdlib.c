/*
 * test_stdlib.c — the standard contracts (the .lua files in contracts/lib) run through
 * the VM against the fake state: every function's happy path and each of
 * its refusal messages.
 */
#include <stdio.h>

#include "check.h"
#include "fake_state.h"

#define ALICE "did:vl:a11ce00000000000000000000000000000000000"
#define BOB "did:vl:b0b0000000000000000000000000000000000000"
#define CAROL "did:vl:ca201000000000000000000000000000000000000"
#define VIN "1HGCM82633A004352"
#define NOW 1700000000000

static const uint8_t s_txid[32] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                    12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
                                    26, 27, 28 };

static vm_t *s_vm;
static fake_state_t s_fs;

/* Runs one invocation; commits its writes on success when commit. */
static int
s_call(const char *did, const char *contract, const char *fn, const char *args, bool commit,
       vm_result_t *r)
{
    vm_state_t view = fake_view(&s_fs);
    vm_request_t req = { .contract = contract, .function = fn, .args_json = args,
                         .caller_did = did, .txid = s_txid, .now_ms = NOW };
    int rc = vm_execute(s_vm, &view, &req, r);
    if (rc == 0 && commit)
        fake_commit(&s_fs, r->endorsed, r->endorsed_len);
    return rc;
}

/* Runs and expects success (committed); returns nothing. */
static void
s_ok(const char *did, const char *contract, const char *fn, const char *args)
{
    vm_result_t r;
    int rc = s_call(did, contract, fn, args, true, &r);
    if (rc != 0)
        fprintf(stderr, "unexpected failure %s.%s: %s\n", contract, fn, r.error);
    CHECK_EQ(rc, 0);
    vm_result_clear(&r);
}

/* Runs and expects a refusal with exactly msg. */
static void
s_refused(const char *did, const char *contract, const char *fn, const char *args,
          const char *msg)
{
    vm_result_t r;
    int rc = s_call(did, contract, fn, args, false, &r);
    CHECK_EQ(rc, VL_ERR_REFUSED);
    CHECK_STR(r.error, msg);
    CHECK(r.endorsed == NULL);
    vm_result_clear(&r);
}

static void
s_reset(void)
{
    fake_free(&s_fs);
    fake_genesis(&s_fs);
}

static void
s_register(const char *did, const char *name, const char *roles)
{
    char args[256];
    snprintf(args, sizeof args, "{\"name\":\"%s\",\"roles\":%s}", name, roles);
    s_ok(did, "identity", "register", args);
}

static void
test_stdlib_listing(void)
{
    size_t n;
    const contracts_stdlib_entry_t *e = contracts_stdlib(&n);
    CHECK(n >= 4);  /* identity..contract first; lifecycle contracts follow */
    const char *names[] = { "identity", "wallet", "vehicle", "contract" };
    for (size_t i = 0; i < n && i < 4; i++) {
        CHECK_STR(e[i].name, names[i]);
        CHECK(strstr(e[i].source, "return M") != NULL);
        CHECK_STR(e[i].policy_json, "{\"*\":\"any\"}");
    }
    char *rec = contracts_record_json("x", "return {}", "genesis", 1, NULL);
    CHECK_STR(rec, "{\"author\":\"genesis\",\"name\":\"x\",\"policy\":{\"*\":\"any\"},"
                   "\"source\":\"return {}\",\"version\":1}");
    free(rec);
    CHECK(contracts_record_json("x", "", "a", 1, "[1]") == NULL);
}

static void
test_identity_register(void)
{
    s_reset();
    vm_result_t r;
    CHECK_EQ(s_call(ALICE, "identity", "register",
                    "{\"name\":\"Alice\",\"roles\":[\"seller\",\"buyer\"],\"id_number\":\"X1\"}",
                    true, &r), 0);
    CHECK_STR(r.result_json, "{\"did\":\"" ALICE "\"}");
    Vl__EndorsedResult *er = vl__endorsed_result__unpack(NULL, r.endorsed_len, r.endorsed);
    CHECK(er != NULL);
    if (er) {
        CHECK_EQ(er->n_writes, 2);
        CHECK_STR(er->writes[0]->key, "did/" ALICE);
        CHECK_STR(er->writes[1]->key, "wallet/" ALICE);
        CHECK_EQ(er->n_events, 1);
        CHECK_STR(er->events[0]->name, "identity.registered");
        CHECK_STR(er->events[0]->payload_json,
                  "{\"did\":\"" ALICE "\",\"name\":\"Alice\",\"roles\":[\"seller\",\"buyer\"]}");
        /* read set: the contract record and the DID key (absent) */
        CHECK_EQ(er->n_reads, 2);
        CHECK_STR(er->reads[0]->key, "contract/identity");
        CHECK(er->reads[0]->exists);
        CHECK_STR(er->reads[1]->key, "did/" ALICE);
        CHECK(!er->reads[1]->exists);
        CHECK_STR(er->vm_version, vm_version());
        CHECK_EQ(er->txid.len, 32);
        vl__endorsed_result__free_unpacked(er, NULL);
    }
    vm_result_clear(&r);
    CHECK_STR(fake_value(&s_fs, "did/" ALICE),
              "{\"contracts\":{\"generic\":[]},\"did\":\"" ALICE "\",\"id_number\":\"X1\","
              "\"interest\":[],\"name\":\"Alice\",\"owned\":[],\"registered_at\":1700000000000,"
              "\"roles\":[\"seller\",\"buyer\"]}");
    CHECK_STR(fake_value(&s_fs, "wallet/" ALICE), "0");
}

static void
test_identity_refusals(void)
{
    s_reset();
    s_register(ALICE, "Alice", "[\"seller\"]");
    s_refused(ALICE, "identity", "register", "{\"name\":\"Alice\",\"roles\":[\"seller\"]}",
              "identity " ALICE " is already registered");
    s_refused(BOB, "identity", "register", "{\"name\":\"\",\"roles\":[\"seller\"]}",
              "name must be a non-empty string");
    s_refused(BOB, "identity", "register", "{\"roles\":[\"seller\"]}",
              "name must be a non-empty string");
    char big[300] = "{\"name\":\"";
    memset(big + strlen(big), 'x', 129);
    strcpy(big + 9 + 129, "\",\"roles\":[\"buyer\"]}");
    s_refused(BOB, "identity", "register", big, "name must be at most 128 characters");
    s_refused(BOB, "identity", "register", "{\"name\":\"Bob\",\"roles\":[\"buyer\",\"x\"]}",
              "unknown role 'x'");
    s_refused(BOB, "identity", "register", "{\"name\":\"Bob\",\"roles\":[]}",
              "roles must be a non-empty array of roles");
    s_refused(BOB, "identity", "register", "{\"name\":\"Bob\",\"roles\":\"buyer\"}",
              "roles must be a non-empty array of roles");
    vm_result_t r;
    CHECK_EQ(s_call(BOB, "identity", "nope", "{}", false, &r), VL_ERR_NOT_FOUND);
    CHECK_STR(r.error, "contract 'identity' has no function 'nope'");
    vm_result_clear(&r);
    CHECK_EQ(s_call(BOB, "identity", "get", "{\"did\":\"" ALICE "\"}", false, &r), 0);
    CHECK_CONTAINS(r.result_json, "\"name\":\"Alice\"");
    vm_result_clear(&r);
}

static void
test_wallet_deposit(void)
{
    s_reset();
    s_register(ALICE, "Alice", "[\"buyer\"]");
    vm_result_t r;
    CHECK_EQ(s_call(ALICE, "wallet", "deposit", "{\"cents\":150000}", true, &r), 0);
    CHECK_STR(r.result_json, "{\"balance\":150000,\"did\":\"" ALICE "\"}");
    Vl__EndorsedResult *er = vl__endorsed_result__unpack(NULL, r.endorsed_len, r.endorsed);
    CHECK(er && er->n_events == 1);
    if (er && er->n_events == 1)
        CHECK_STR(er->events[0]->payload_json,
                  "{\"balance\":150000,\"cents\":150000,\"did\":\"" ALICE "\"}");
    vl__endorsed_result__free_unpacked(er, NULL);
    vm_result_clear(&r);
    s_ok(ALICE, "wallet", "deposit", "{\"cents\":50}");
    CHECK_STR(fake_value(&s_fs, "wallet/" ALICE), "150050");

    const char *bad[] = { "{\"cents\":-5}", "{\"cents\":0}", "{\"cents\":12.5}",
                          "{\"cents\":\"100\"}", "{}", "{\"cents\":1e3}" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        s_refused(ALICE, "wallet", "deposit", bad[i],
                  "amount must be a positive integer number of cents");
    s_refused(ALICE, "wallet", "deposit", "{\"cents\":100000000001}",
              "amount exceeds the deposit limit of 100000000000 cents");
    s_refused(BOB, "wallet", "deposit", "{\"cents\":5}",
              "identity " BOB " is not registered: run `vledger identity new` first");
}

static void
test_wallet_transfer(void)
{
    s_reset();
    s_register(ALICE, "Alice", "[\"buyer\"]");
    s_register(BOB, "Bob", "[\"seller\"]");
    s_ok(ALICE, "wallet", "deposit", "{\"cents\":1000}");
    vm_result_t r;
    CHECK_EQ(s_call(ALICE, "wallet", "transfer", "{\"to\":\"" BOB "\",\"cents\":400}", true,
                    &r), 0);
    CHECK_STR(r.result_json, "{\"balance\":600,\"cents\":400,\"from\":\"" ALICE
                             "\",\"to\":\"" BOB "\"}");
    vm_result_clear(&r);
    CHECK_STR(fake_value(&s_fs, "wallet/" ALICE), "600");
    CHECK_STR(fake_value(&s_fs, "wallet/" BOB), "400");
    s_refused(ALICE, "wallet", "transfer", "{\"to\":\"" BOB "\",\"cents\":601}",
              "insufficient funds: " ALICE " has 600 cents, needs 601");
    s_refused(ALICE, "wallet", "transfer", "{\"to\":\"" CAROL "\",\"cents\":1}",
              "recipient " CAROL " is not registered");
    s_refused(ALICE, "wallet", "transfer", "{\"to\":\"" BOB "\",\"cents\":2.5}",
              "amount must be a positive integer number of cents");
    s_refused(CAROL, "wallet", "transfer", "{\"to\":\"" BOB "\",\"cents\":1}",
              "identity " CAROL " is not registered: run `vledger identity new` first");
    CHECK_EQ(s_call(BOB, "wallet", "balance", "{}", false, &r), 0);
    CHECK_STR(r.result_json, "{\"balance\":400,\"did\":\"" BOB "\"}");
    vm_result_clear(&r);
}

static void
test_vehicle_register(void)
{
    s_reset();
    s_register(ALICE, "Alice", "[\"dealer\"]");
    vm_result_t r;
    CHECK_EQ(s_call(ALICE, "vehicle", "register",
                    "{\"vin\":\"" VIN "\",\"make\":\"Honda\",\"model\":\"Accord\",\"year\":2003,"
                    "\"color\":\"silver\",\"extra\":{\"trim\":\"EX\",\"owner\":\"mallory\","
                    "\"vin\":\"X\"}}",
                    true, &r), 0);
    CHECK_STR(r.result_json, "{\"owner\":\"" ALICE "\",\"vin\":\"" VIN "\"}");
    Vl__EndorsedResult *er = vl__endorsed_result__unpack(NULL, r.endorsed_len, r.endorsed);
    if (er) {
        CHECK_EQ(er->n_events, 1);
        CHECK_STR(er->events[0]->name, "vehicle.registered");
        CHECK_STR(er->events[0]->payload_json, "{\"owner\":\"" ALICE "\",\"vin\":\"" VIN "\"}");
        CHECK_EQ(er->n_writes, 2);
        CHECK_STR(er->writes[0]->key, "did/" ALICE);
        CHECK_STR(er->writes[1]->key, "vehicle/" VIN);
    }
    vl__endorsed_result__free_unpacked(er, NULL);
    vm_result_clear(&r);
    CHECK_STR(fake_value(&s_fs, "vehicle/" VIN),
              "{\"color\":\"silver\",\"contracts\":{\"generic\":[],\"owner\":[]},\"devices\":[],"
              "\"keys\":[],\"make\":\"Honda\",\"model\":\"Accord\",\"owner\":\"" ALICE "\","
              "\"owners\":[{\"did\":\"" ALICE "\",\"since\":1700000000000}],"
              "\"purchase_requests\":[],\"registration\":{\"status\":\"unregistered\"},"
              "\"title\":{\"status\":\"none\"},\"trim\":\"EX\",\"vin\":\"" VIN "\","
              "\"year\":2003}");
    CHECK_CONTAINS(fake_value(&s_fs, "did/" ALICE),
                   "\"owned\":[{\"contracts\":[],\"keys\":[],\"vin\":\"" VIN "\"}]");
}

static void
test_vehicle_refusals(void)
{
    s_reset();
    s_register(ALICE, "Alice", "[\"dealer\"]");
    s_ok(ALICE, "vehicle", "register",
         "{\"vin\":\"" VIN "\",\"make\":\"Honda\",\"model\":\"Accord\",\"year\":2003}");
    s_refused(ALICE, "vehicle", "register",
              "{\"vin\":\"" VIN "\",\"make\":\"Honda\",\"model\":\"Accord\",\"year\":2003}",
              "vehicle " VIN " is already registered");
    const char *bad_vins[] = { "1HGCM82633A00435", "1HGCM82633A0043521", "1HGCM82633I004352",
                               "1HGCM82633O004352", "1HGCM82633Q004352", "1hgcm82633a004352" };
    for (size_t i = 0; i < sizeof bad_vins / sizeof *bad_vins; i++) {
        char args[256], msg[256];
        snprintf(args, sizeof args,
                 "{\"vin\":\"%s\",\"make\":\"Honda\",\"model\":\"Accord\",\"year\":2003}",
                 bad_vins[i]);
        snprintf(msg, sizeof msg,
                 "invalid VIN '%s': a VIN is 17 characters from A-H, J-N, P, R-Z and 0-9",
                 bad_vins[i]);
        s_refused(ALICE, "vehicle", "register", args, msg);
    }
    s_refused(ALICE, "vehicle", "register",
              "{\"vin\":\"2HGCM82633A004352\",\"make\":\"\",\"model\":\"A\",\"year\":2003}",
              "make must be a non-empty string of at most 128 characters");
    s_refused(ALICE, "vehicle", "register",
              "{\"vin\":\"2HGCM82633A004352\",\"make\":\"H\",\"model\":\"A\",\"year\":1885}",
              "year must be an integer from 1886 to 2100");
    s_refused(ALICE, "vehicle", "register",
              "{\"vin\":\"2HGCM82633A004352\",\"make\":\"H\",\"model\":\"A\",\"year\":2003.5}",
              "year must be an integer from 1886 to 2100");
    s_refused(BOB, "vehicle", "register",
              "{\"vin\":\"2HGCM82633A004352\",\"make\":\"H\",\"model\":\"A\",\"year\":2003}",
              "identity " BOB " is not registered: run `vledger identity new` first");
}

static const char *s_hello =
    "local M = {}\\nfunction M.hi(a) return {msg = 'hi ' .. a.who, v = 1} end\\nreturn M";
static const char *s_hello2 =
    "local M = {}\\nfunction M.hi(a) return {msg = 'hello ' .. a.who, v = 2} end\\nreturn M";

static void
test_contract_deploy(void)
{
    s_reset();
    s_register(ALICE, "Alice", "[\"dealer\"]");
    s_register(BOB, "Bob", "[\"buyer\"]");
    s_ok(ALICE, "vehicle", "register",
         "{\"vin\":\"" VIN "\",\"make\":\"Honda\",\"model\":\"Accord\",\"year\":2003}");
    char args[1024];
    snprintf(args, sizeof args,
             "{\"name\":\"hello\",\"source\":\"%s\",\"attach\":\"vehicle:" VIN "\"}", s_hello);
    vm_result_t r;
    CHECK_EQ(s_call(ALICE, "contract", "deploy", args, true, &r), 0);
    CHECK_STR(r.result_json, "{\"name\":\"hello\",\"version\":1}");
    vm_result_clear(&r);
    CHECK_CONTAINS(fake_value(&s_fs, "vehicle/" VIN), "\"contracts\":{\"generic\":[],"
                                                      "\"owner\":[\"hello\"]}");
    CHECK_CONTAINS(fake_value(&s_fs, "did/" ALICE), "\"contracts\":[\"hello\"]");
    CHECK_CONTAINS(fake_value(&s_fs, "contract/hello"), "\"author\":\"" ALICE "\"");
    CHECK_EQ(s_call(BOB, "hello", "hi", "{\"who\":\"bob\"}", false, &r), 0);
    CHECK_STR(r.result_json, "{\"msg\":\"hi bob\",\"v\":1}");
    vm_result_clear(&r);

    /* Upgrade by the author: version 2, version 1 kept. */
    snprintf(args, sizeof args, "{\"name\":\"hello\",\"source\":\"%s\",\"attach\":\"did:" ALICE
                                "\"}", s_hello2);
    CHECK_EQ(s_call(ALICE, "contract", "deploy", args, true, &r), 0);
    CHECK_STR(r.result_json, "{\"name\":\"hello\",\"version\":2}");
    vm_result_clear(&r);
    CHECK_CONTAINS(fake_value(&s_fs, "contract/hello@1"), "\"version\":1");
    CHECK_CONTAINS(fake_value(&s_fs, "contract/hello"), "\"version\":2");
    CHECK_CONTAINS(fake_value(&s_fs, "did/" ALICE), "\"generic\":[\"hello\"]");
    CHECK_EQ(s_call(BOB, "hello", "hi", "{\"who\":\"bob\"}", false, &r), 0);
    CHECK_STR(r.result_json, "{\"msg\":\"hello bob\",\"v\":2}");
    vm_result_clear(&r);

    /* Refusals. */
    snprintf(args, sizeof args, "{\"name\":\"hello\",\"source\":\"%s\"}", s_hello);
    s_refused(BOB, "contract", "deploy", args,
              "only the author " ALICE " may upgrade contract 'hello'");
    snprintf(args, sizeof args, "{\"name\":\"identity\",\"source\":\"%s\"}", s_hello);
    s_refused(BOB, "contract", "deploy", args,
              "only the author genesis may upgrade contract 'identity'");
    s_refused(BOB, "contract", "deploy", "{\"name\":\"Bad-Name\",\"source\":\"return {}\"}",
              "invalid contract name 'Bad-Name': use [a-z][a-z0-9_]{0,63}");
    s_refused(BOB, "contract", "deploy", "{\"name\":\"broken\",\"source\":\"return {\"}",
              "contract 'broken' does not compile: source:1: unexpected symbol near <eof>");
    snprintf(args, sizeof args,
             "{\"name\":\"bobs\",\"source\":\"%s\",\"attach\":\"vehicle:" VIN "\"}", s_hello);
    s_refused(BOB, "contract", "deploy", args,
              "only the owner of vehicle " VIN " may attach contracts to it");
    s_refused(CAROL, "contract", "deploy", "{\"name\":\"c\",\"source\":\"return {}\"}",
              "identity " CAROL " is not registered: run `vledger identity new` first");
}

int
main(void)
{
    s_vm = vm_new(NULL);
    RUN(test_stdlib_listing);
    RUN(test_identity_register);
    RUN(test_identity_refusals);
    RUN(test_wallet_deposit);
    RUN(test_wallet_transfer);
    RUN(test_vehicle_register);
    RUN(test_vehicle_refusals);
    RUN(test_contract_deploy);
    vm_destroy(&s_vm);
    /* The same flows in fresh-state mode. */
    vm_config_t cfg = vm_config_default();
    cfg.fresh_state = 1;
    s_vm = vm_new(&cfg);
    check_variant("fresh_state");
    RUN(test_identity_register);
    RUN(test_wallet_transfer);
    RUN(test_vehicle_register);
    RUN(test_contract_deploy);
    check_variant(NULL);
    vm_destroy(&s_vm);
    fake_free(&s_fs);
    return check_done();
}
