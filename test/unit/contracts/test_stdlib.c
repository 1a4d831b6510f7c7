/*
 * test_stdlib.c — the standard contracts (the .lua files in contracts/lib) run through
 * the VM against the fake state, seeded with organisations and node identities
 * as genesis writes them (docs/trust.md): every function's happy path and each
 * of its refusal messages; identities, enrolment and has_role; issued money and
 * its conservation; the vehicle's own policy; contract deployment.
 */
#include <stdio.h>

#include <jansson.h>

#include "check.h"
#include "fake_state.h"

#define ALICE "did:vl:a11ce00000000000000000000000000000000000"
#define BOB "did:vl:b0b0000000000000000000000000000000000000"
#define CAROL "did:vl:ca201000000000000000000000000000000000000"
#define EVE "did:vl:e0e0000000000000000000000000000000000000"
#define AGENCY_NODE "did:vl:a9e0c00000000000000000000000000000000000"
#define BANK_NODE "did:vl:ba0c000000000000000000000000000000000000"
#define PEOPLE_NODE "did:vl:9e0910000000000000000000000000000000000000"
#define VIN "1HGCM82633A004352"
#define NOW 1700000000000

static const uint8_t s_txid[32] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                    12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
                                    26, 27, 28 };

static vm_t *s_vm;        /* the VM in use: s_checked or s_plain */
static vm_t *s_checked;   /* with the test policy checker */
static vm_t *s_plain;     /* without one */
static fake_state_t s_fs;
static int s_policy_calls;

/* Stands in for the node's policy parser (consensus/policy.c): refuses text
 * holding "bogus", as the parser would an unknown principal. */
static int
s_policy_check(const char *text, char *msg, size_t size)
{
    s_policy_calls++;
    const char *bad = strstr(text, "bogus");
    if (bad) {
        snprintf(msg, size, "policy: unknown principal 'bogus' at %d", (int) (bad - text) + 1);
        return VL_ERR_INVALID;
    }
    return 0;
}

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

/* Runs (not committed) and expects success with exactly result. */
static void
s_result(const char *did, const char *contract, const char *fn, const char *args,
         const char *result)
{
    vm_result_t r;
    int rc = s_call(did, contract, fn, args, false, &r);
    if (rc != 0)
        fprintf(stderr, "unexpected failure %s.%s %s: %s\n", contract, fn, args, r.error);
    CHECK_EQ(rc, 0);
    if (rc == 0)
        CHECK_STR(r.result_json, result);
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

/* Genesis: the standard contracts, money/supply, three organisations
 * (agency: title_agency, registration_authority, validator; bank: issuer,
 * lender; people: none) with one node identity each. */
static void
s_reset(void)
{
    fake_free(&s_fs);
    fake_genesis(&s_fs);
    fake_org(&s_fs, "agency", "[\"title_agency\",\"registration_authority\",\"validator\"]",
             "[\"" AGENCY_NODE "\"]");
    fake_org(&s_fs, "bank", "[\"issuer\",\"lender\"]", "[\"" BANK_NODE "\"]");
    fake_org(&s_fs, "people", "[]", "[\"" PEOPLE_NODE "\"]");
    fake_node(&s_fs, AGENCY_NODE, "agency-node", "agency");
    fake_node(&s_fs, BANK_NODE, "bank-node", "bank");
    fake_node(&s_fs, PEOPLE_NODE, "people-node", "people");
}

static void
s_register(const char *did, const char *name, const char *org, const char *roles)
{
    char args[256];
    snprintf(args, sizeof args, "{\"name\":\"%s\",\"org\":\"%s\",\"roles\":%s}", name, org,
             roles);
    s_ok(did, "identity", "register", args);
}

static void
s_issue(const char *to, long long cents)
{
    char args[256];
    snprintf(args, sizeof args, "{\"to\":\"%s\",\"cents\":%lld}", to, cents);
    s_ok(BANK_NODE, "wallet", "issue", args);
}

/* The sum of all wallet/ keys = money/supply.issued - money/supply.redeemed. */
static void
s_conserved(void)
{
    long long sum = 0;
    for (size_t i = 0; i < s_fs.n; i++)
        if (strncmp(s_fs.kv[i].key, "wallet/", 7) == 0)
            sum += atoll(s_fs.kv[i].value);
    json_t *sup = json_loads(fake_value(&s_fs, "money/supply"), 0, NULL);
    CHECK(sup != NULL);
    long long issued = (long long) json_integer_value(json_object_get(sup, "issued"));
    long long redeemed = (long long) json_integer_value(json_object_get(sup, "redeemed"));
    json_decref(sup);
    if (sum != issued - redeemed)
        fprintf(stderr, "wallets %lld != issued %lld - redeemed %lld\n", sum, issued, redeemed);
    CHECK_EQ(sum, issued - redeemed);
}

/* The policy text of contract.fn as embedded ("" when not declared). */
static const char *
s_policy_of(const char *contract, const char *fn)
{
    static char out[512];
    out[0] = '\0';
    size_t n;
    const contracts_stdlib_entry_t *e = contracts_stdlib(&n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(e[i].name, contract) != 0)
            continue;
        json_t *p = json_loads(e[i].policy_json, 0, NULL);
        const char *t = json_string_value(json_object_get(p, fn));
        snprintf(out, sizeof out, "%s", t ? t : "");
        json_decref(p);
    }
    return out;
}

static void
test_stdlib_listing(void)
{
    size_t n;
    const contracts_stdlib_entry_t *e = contracts_stdlib(&n);
    CHECK(n >= 4);  /* identity..contract first; lifecycle contracts follow */
    const char *names[] = { "identity", "wallet", "vehicle", "contract" };
    for (size_t i = 0; i < n && i < 4; i++)
        CHECK_STR(e[i].name, names[i]);
    /* Every contract declares a policy object whose default is the creator's
     * organisation, and every expression passes the checker. */
    for (size_t i = 0; i < n; i++) {
        CHECK(strstr(e[i].source, "return M") != NULL);
        json_t *p = json_loads(e[i].policy_json, 0, NULL);
        CHECK(json_is_object(p));
        CHECK_STR(json_string_value(json_object_get(p, "*")), "creator");
        const char *k;
        json_t *v;
        json_object_foreach(p, k, v) {
            char msg[256] = "";
            CHECK(json_is_string(v));
            CHECK_EQ(s_policy_check(json_string_value(v), msg, sizeof msg), 0);
        }
        json_decref(p);
    }
    CHECK_STR(e[0].policy_json, "{\"*\":\"creator\",\"register\":\"arg:org\",\"enrol\":"
                                "\"creator\",\"get\":\"any\",\"has_role\":\"any\"}");
    CHECK_STR(s_policy_of("wallet", "issue"), "creator");
    CHECK_STR(s_policy_of("wallet", "redeem"), "all(creator,arg:from)");
    CHECK_STR(s_policy_of("wallet", "transfer"), "creator");
    CHECK_STR(s_policy_of("vehicle", "register"), "creator");
    CHECK_STR(s_policy_of("vehicle", "set_policy"), "owner");
    CHECK_STR(s_policy_of("contract", "deploy"), "creator");
    CHECK_STR(s_policy_of("title", "request"), "creator");
    CHECK_STR(s_policy_of("title", "respond"), "creator");
    CHECK_STR(s_policy_of("title", "request_registration"), "creator");
    CHECK_STR(s_policy_of("title", "answer"), "all(creator,role:title_agency)");
    CHECK_STR(s_policy_of("title", "register"), "all(creator,role:registration_authority)");
    CHECK_STR(s_policy_of("sale", "request"), "creator");
    CHECK_STR(s_policy_of("sale", "answer"), "creator");
    CHECK_STR(s_policy_of("sale", "offer"), "creator");
    CHECK_STR(s_policy_of("sale", "accept"), "creator");
    CHECK_STR(s_policy_of("sale", "abort"), "creator");
    CHECK_STR(s_policy_of("sale", "confirm"),
              "all(creator,vehicle:title.issuer?,lienholder?,vehicle:insurance.insurer?)");
    CHECK_STR(s_policy_of("insurance", "request"), "creator");
    CHECK_STR(s_policy_of("insurance", "approve"), "all(owner,arg:provider)");
    CHECK_STR(s_policy_of("insurance", "cancel"), "all(creator,vehicle:insurance.insurer?)");
    CHECK_STR(s_policy_of("insurance", "confirm_end"), "creator");
    CHECK_STR(s_policy_of("insurance", "set_rule"), "all(creator,role:registration_authority)");
    CHECK_STR(s_policy_of("keys", "issue"), "owner");
    CHECK_STR(s_policy_of("keys", "revoke"), "owner");
    CHECK_STR(s_policy_of("pairing", "components"), "owner");
    CHECK_STR(s_policy_of("pairing", "approve"), "owner");
    CHECK_STR(s_policy_of("schedule", "run_due"), "any");
    CHECK_STR(s_policy_of("settlement", "settle"), "");  /* nested only: "*" */
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
                    "{\"name\":\"Alice\",\"org\":\"people\",\"roles\":[\"seller\",\"buyer\"],"
                    "\"id_number\":\"X1\"}",
                    true, &r), 0);
    CHECK_STR(r.result_json, "{\"did\":\"" ALICE "\",\"org\":\"people\"}");
    Vl__EndorsedResult *er = vl__endorsed_result__unpack(NULL, r.endorsed_len, r.endorsed);
    CHECK(er != NULL);
    if (er) {
        CHECK_EQ(er->n_writes, 2);
        CHECK_STR(er->writes[0]->key, "did/" ALICE);
        CHECK_STR(er->writes[1]->key, "wallet/" ALICE);
        CHECK_EQ(er->n_events, 1);
        CHECK_STR(er->events[0]->name, "identity.registered");
        CHECK_STR(er->events[0]->payload_json,
                  "{\"did\":\"" ALICE "\",\"name\":\"Alice\",\"org\":\"people\","
                  "\"roles\":[\"seller\",\"buyer\"]}");
        /* read set: the contract record, the DID key (absent), the organisation */
        CHECK_EQ(er->n_reads, 3);
        CHECK_STR(er->reads[0]->key, "contract/identity");
        CHECK(er->reads[0]->exists);
        CHECK_STR(er->reads[1]->key, "did/" ALICE);
        CHECK(!er->reads[1]->exists);
        CHECK_STR(er->reads[2]->key, "org/people");
        CHECK(er->reads[2]->exists);
        CHECK_STR(er->vm_version, vm_version());
        CHECK_EQ(er->txid.len, 32);
        vl__endorsed_result__free_unpacked(er, NULL);
    }
    vm_result_clear(&r);
    CHECK_STR(fake_value(&s_fs, "did/" ALICE),
              "{\"contracts\":{\"generic\":[]},\"did\":\"" ALICE "\",\"id_number\":\"X1\","
              "\"interest\":[],\"name\":\"Alice\",\"org\":\"people\",\"owned\":[],"
              "\"registered_at\":1700000000000,\"roles\":[\"seller\",\"buyer\"]}");
    CHECK_STR(fake_value(&s_fs, "wallet/" ALICE), "0");
    /* roles are optional; what an identity says of itself beyond them is ignored */
    s_ok(BOB, "identity", "register", "{\"name\":\"Bob\",\"org\":\"bank\",\"node\":true,"
         "\"enrolled\":{\"lender\":{\"org\":\"bank\"}}}");
    CHECK_STR(fake_value(&s_fs, "did/" BOB),
              "{\"contracts\":{\"generic\":[]},\"did\":\"" BOB "\",\"interest\":[],"
              "\"name\":\"Bob\",\"org\":\"bank\",\"owned\":[],"
              "\"registered_at\":1700000000000,\"roles\":[]}");
    s_result(BOB, "identity", "has_role", "{\"did\":\"" BOB "\",\"role\":\"lender\"}", "false");
    s_refused(BOB, "identity", "enrol", "{\"did\":\"" BOB "\",\"role\":\"lender\"}",
              "only a node identity of an organisation may enrol identities: " BOB
              " is not one (run `vledger identity enrol` on the organisation's node)");
    s_conserved();
}

static void
test_identity_refusals(void)
{
    s_reset();
    s_register(ALICE, "Alice", "people", "[\"seller\"]");
    s_refused(ALICE, "identity", "register",
              "{\"name\":\"Alice\",\"org\":\"people\",\"roles\":[\"seller\"]}",
              "identity " ALICE " is already registered");
    s_refused(AGENCY_NODE, "identity", "register", "{\"name\":\"N\",\"org\":\"agency\"}",
              "identity " AGENCY_NODE " is already registered");
    s_refused(BOB, "identity", "register", "{\"name\":\"\",\"org\":\"people\"}",
              "name must be a non-empty string");
    s_refused(BOB, "identity", "register", "{\"org\":\"people\"}",
              "name must be a non-empty string");
    char big[300] = "{\"name\":\"";
    memset(big + strlen(big), 'x', 129);
    strcpy(big + 9 + 129, "\",\"org\":\"people\"}");
    s_refused(BOB, "identity", "register", big, "name must be at most 128 characters");
    s_refused(BOB, "identity", "register", "{\"name\":\"Bob\",\"roles\":[\"buyer\"]}",
              "org must name the organisation the identity belongs to (its node's "
              "organisation)");
    s_refused(BOB, "identity", "register", "{\"name\":\"Bob\",\"org\":null}",
              "org must name the organisation the identity belongs to (its node's "
              "organisation)");
    s_refused(BOB, "identity", "register", "{\"name\":\"Bob\",\"org\":\"Big Bank\"}",
              "org must be an organisation name of 1..63 characters from a-z, 0-9, _ and -");
    s_refused(BOB, "identity", "register", "{\"name\":\"Bob\",\"org\":7}",
              "org must be an organisation name of 1..63 characters from a-z, 0-9, _ and -");
    s_refused(BOB, "identity", "register", "{\"name\":\"Bob\",\"org\":\"insurer\"}",
              "organisation 'insurer' does not exist: the network's organisations are "
              "agency, bank, people");
    s_refused(BOB, "identity", "register",
              "{\"name\":\"Bob\",\"org\":\"people\",\"roles\":[\"buyer\",\"x\"]}",
              "unknown role 'x'");
    s_refused(BOB, "identity", "register",
              "{\"name\":\"Bob\",\"org\":\"people\",\"roles\":\"buyer\"}",
              "roles must be an array of roles");
    s_refused(BOB, "identity", "register",
              "{\"name\":\"Bob\",\"org\":\"people\",\"roles\":{\"a\":\"buyer\"}}",
              "roles must be an array of roles");
    /* privileged roles: held only through an organisation that holds them */
    s_refused(BOB, "identity", "register",
              "{\"name\":\"Bob\",\"org\":\"people\",\"roles\":[\"buyer\",\"title_agency\"]}",
              "role 'title_agency' is held only through an organisation that holds it "
              "(agency): ask it to enrol you with `vledger identity enrol " BOB
              " --role title_agency` on its node");
    s_refused(BOB, "identity", "register",
              "{\"name\":\"Bob\",\"org\":\"bank\",\"roles\":[\"lender\"]}",
              "role 'lender' is held only through an organisation that holds it (bank): ask "
              "it to enrol you with `vledger identity enrol " BOB " --role lender` on its "
              "node");
    const char *privileged[] = { "registration_authority", "issuer", "validator" };
    const char *holders[] = { "agency", "bank", "agency" };
    for (size_t i = 0; i < 3; i++) {
        char args[256], msg[512];
        snprintf(args, sizeof args, "{\"name\":\"Bob\",\"org\":\"people\",\"roles\":[\"%s\"]}",
                 privileged[i]);
        snprintf(msg, sizeof msg, "role '%s' is held only through an organisation that holds "
                 "it (%s): ask it to enrol you with `vledger identity enrol " BOB
                 " --role %s` on its node", privileged[i], holders[i], privileged[i]);
        s_refused(BOB, "identity", "register", args, msg);
    }
    s_refused(BOB, "identity", "register",
              "{\"name\":\"Bob\",\"org\":\"people\",\"roles\":[\"insurer\"]}",
              "role 'insurer' is held only through an organisation that holds it, and no "
              "organisation of this network does");
    s_refused(BOB, "identity", "register",
              "{\"name\":\"Bob\",\"org\":\"people\",\"roles\":[\"dealer\"]}",
              "role 'dealer' is held only through an organisation that holds it, and no "
              "organisation of this network does");
    /* every self-declared role is accepted */
    s_register(BOB, "Bob", "people", "[\"buyer\",\"seller\",\"owner\",\"service\",\"buyer\"]");
    CHECK_CONTAINS(fake_value(&s_fs, "did/" BOB),
                   "\"roles\":[\"buyer\",\"seller\",\"owner\",\"service\"]");
    vm_result_t r;
    CHECK_EQ(s_call(BOB, "identity", "nope", "{}", false, &r), VL_ERR_NOT_FOUND);
    CHECK_STR(r.error, "contract 'identity' has no function 'nope'");
    vm_result_clear(&r);
    CHECK_EQ(s_call(BOB, "identity", "get", "{\"did\":\"" ALICE "\"}", false, &r), 0);
    CHECK_CONTAINS(r.result_json, "\"name\":\"Alice\"");
    CHECK_CONTAINS(r.result_json, "\"org\":\"people\"");
    vm_result_clear(&r);
    s_result(BOB, "identity", "get", "{\"did\":\"" CAROL "\"}", "null");
    s_result(BANK_NODE, "identity", "get", "{}",
             "{\"did\":\"" BANK_NODE "\",\"name\":\"bank-node\",\"node\":true,\"org\":\"bank\","
             "\"roles\":[]}");
}

static void
test_identity_enrol(void)
{
    s_reset();
    s_register(ALICE, "Alice", "bank", "[\"buyer\"]");
    s_register(BOB, "Bob", "people", "[\"buyer\"]");
    s_register(CAROL, "Carol", "agency", "[]");
    vm_result_t r;
    CHECK_EQ(s_call(BANK_NODE, "identity", "enrol", "{\"did\":\"" ALICE "\",\"role\":\"lender\"}",
                    true, &r), 0);
    CHECK_STR(r.result_json, "{\"did\":\"" ALICE "\",\"org\":\"bank\",\"role\":\"lender\"}");
    Vl__EndorsedResult *er = vl__endorsed_result__unpack(NULL, r.endorsed_len, r.endorsed);
    CHECK(er && er->n_events == 1 && er->n_writes == 1);
    if (er && er->n_events == 1 && er->n_writes == 1) {
        CHECK_STR(er->events[0]->name, "identity.enrolled");
        CHECK_STR(er->events[0]->payload_json, "{\"by\":\"" BANK_NODE "\",\"did\":\"" ALICE
                  "\",\"org\":\"bank\",\"role\":\"lender\",\"to\":\"" ALICE "\"}");
        CHECK_STR(er->writes[0]->key, "did/" ALICE);
    }
    vl__endorsed_result__free_unpacked(er, NULL);
    vm_result_clear(&r);
    CHECK_CONTAINS(fake_value(&s_fs, "did/" ALICE),
                   "\"enrolled\":{\"lender\":{\"at\":1700000000000,\"by\":\"" BANK_NODE
                   "\",\"org\":\"bank\"}}");
    CHECK_CONTAINS(fake_value(&s_fs, "did/" ALICE), "\"roles\":[\"buyer\",\"lender\"]");
    s_ok(BANK_NODE, "identity", "enrol", "{\"did\":\"" ALICE "\",\"role\":\"issuer\"}");
    CHECK_CONTAINS(fake_value(&s_fs, "did/" ALICE), "\"roles\":[\"buyer\",\"lender\",\"issuer\"]");
    s_ok(AGENCY_NODE, "identity", "enrol", "{\"did\":\"" CAROL "\",\"role\":\"title_agency\"}");
    CHECK_CONTAINS(fake_value(&s_fs, "did/" CAROL), "\"roles\":[\"title_agency\"]");

    /* refusals */
    s_refused(ALICE, "identity", "enrol", "{\"did\":\"" BOB "\",\"role\":\"lender\"}",
              "only a node identity of an organisation may enrol identities: " ALICE
              " is not one (run `vledger identity enrol` on the organisation's node)");
    s_refused(EVE, "identity", "enrol", "{\"did\":\"" BOB "\",\"role\":\"lender\"}",
              "only a node identity of an organisation may enrol identities: " EVE
              " is not one (run `vledger identity enrol` on the organisation's node)");
    s_refused(BANK_NODE, "identity", "enrol", "{\"did\":\"" ALICE "\",\"role\":\"pilot\"}",
              "unknown role 'pilot'");
    s_refused(BANK_NODE, "identity", "enrol", "{\"did\":\"" ALICE "\"}", "role must be a string");
    s_refused(BANK_NODE, "identity", "enrol", "{\"did\":\"" ALICE "\",\"role\":\"seller\"}",
              "role 'seller' is self-declared at registration; only privileged roles are "
              "enrolled");
    s_refused(BANK_NODE, "identity", "enrol", "{\"did\":\"" ALICE "\",\"role\":\"title_agency\"}",
              "organisation 'bank' does not hold the role 'title_agency', so it cannot enrol "
              "anyone in it (held by: agency)");
    s_refused(BANK_NODE, "identity", "enrol", "{\"did\":\"" ALICE "\",\"role\":\"insurer\"}",
              "organisation 'bank' does not hold the role 'insurer', so it cannot enrol "
              "anyone in it");
    s_refused(PEOPLE_NODE, "identity", "enrol", "{\"did\":\"" BOB "\",\"role\":\"lender\"}",
              "organisation 'people' does not hold the role 'lender', so it cannot enrol "
              "anyone in it (held by: bank)");
    s_refused(BANK_NODE, "identity", "enrol", "{\"role\":\"lender\"}",
              "did must be the DID of the identity to enrol");
    s_refused(BANK_NODE, "identity", "enrol", "{\"did\":\"" EVE "\",\"role\":\"lender\"}",
              "identity " EVE " is not registered");
    s_refused(BANK_NODE, "identity", "enrol", "{\"did\":\"" BOB "\",\"role\":\"lender\"}",
              "identity " BOB " belongs to organisation 'people', not 'bank': only its own "
              "organisation may enrol it");
    s_refused(AGENCY_NODE, "identity", "enrol", "{\"did\":\"" ALICE "\",\"role\":\"title_agency\"}",
              "identity " ALICE " belongs to organisation 'bank', not 'agency': only its own "
              "organisation may enrol it");
    s_refused(BANK_NODE, "identity", "enrol", "{\"did\":\"" BANK_NODE "\",\"role\":\"lender\"}",
              "identity " BANK_NODE " is a node identity of 'bank' and holds its roles already");
    s_refused(BANK_NODE, "identity", "enrol", "{\"did\":\"" ALICE "\",\"role\":\"lender\"}",
              "identity " ALICE " is already enrolled in 'lender' by 'bank'");
    s_conserved();
}

/* has_role's truth table: node identities, enrolled identities, self-declared
 * roles, forged documents, and an organisation that does not (or no longer
 * does) hold the role. */
static void
test_has_role(void)
{
    s_reset();
    s_register(ALICE, "Alice", "bank", "[\"buyer\"]");
    s_ok(BANK_NODE, "identity", "enrol", "{\"did\":\"" ALICE "\",\"role\":\"lender\"}");
    s_register(BOB, "Bob", "people", "[\"seller\",\"service\"]");
    /* forged or stale documents (what a careless writer could leave) */
    fake_put(&s_fs, "did/" EVE, "{\"did\":\"" EVE "\",\"org\":\"people\",\"roles\":"
             "[\"title_agency\",\"lender\"],\"enrolled\":{\"title_agency\":{\"org\":\"agency\"},"
             "\"lender\":\"yes\"}}");
    fake_put(&s_fs, "did/" CAROL, "{\"did\":\"" CAROL "\",\"org\":\"ghost\",\"node\":true,"
             "\"roles\":[]}");
    struct {
        const char *did, *role, *result;
    } t[] = {
        { BANK_NODE, "issuer", "true" },        /* node identity: its organisation's roles */
        { BANK_NODE, "lender", "true" },
        { BANK_NODE, "title_agency", "false" },  /* bank does not hold it */
        { BANK_NODE, "buyer", "false" },         /* node identities declare nothing */
        { AGENCY_NODE, "title_agency", "true" },
        { AGENCY_NODE, "registration_authority", "true" },
        { AGENCY_NODE, "validator", "true" },
        { AGENCY_NODE, "issuer", "false" },
        { PEOPLE_NODE, "lender", "false" },      /* people holds no role at all */
        { PEOPLE_NODE, "title_agency", "false" },
        { ALICE, "lender", "true" },             /* enrolled by bank, which holds it */
        { ALICE, "issuer", "false" },            /* bank holds it, Alice is not enrolled */
        { ALICE, "buyer", "true" },              /* self-declared */
        { ALICE, "seller", "false" },
        { BOB, "seller", "true" },
        { BOB, "service", "true" },
        { BOB, "lender", "false" },
        { EVE, "title_agency", "false" },        /* enrolled by another organisation */
        { EVE, "lender", "false" },              /* claimed in roles, no enrolment */
        { CAROL, "lender", "false" },            /* node of an organisation that is not */
        { "did:vl:nobody", "buyer", "false" },   /* unregistered */
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char args[256];
        snprintf(args, sizeof args, "{\"did\":\"%s\",\"role\":\"%s\"}", t[i].did, t[i].role);
        s_result(ALICE, "identity", "has_role", args, t[i].result);
    }
    /* the organisation no longer holds the role: the enrolment no longer counts */
    fake_org(&s_fs, "bank", "[\"issuer\"]", "[\"" BANK_NODE "\"]");
    s_result(ALICE, "identity", "has_role", "{\"did\":\"" ALICE "\",\"role\":\"lender\"}",
             "false");
    s_result(ALICE, "identity", "has_role", "{\"did\":\"" BANK_NODE "\",\"role\":\"lender\"}",
             "false");
    s_result(ALICE, "identity", "has_role", "{\"did\":\"" BANK_NODE "\",\"role\":\"issuer\"}",
             "true");
    /* an identity whose organisation changed: an enrolment by the old one does not count */
    s_ok(BANK_NODE, "identity", "enrol", "{\"did\":\"" ALICE "\",\"role\":\"issuer\"}");
    s_result(ALICE, "identity", "has_role", "{\"did\":\"" ALICE "\",\"role\":\"issuer\"}",
             "true");
    char *doc = strdup(fake_value(&s_fs, "did/" ALICE));
    char *at = strstr(doc, "\"org\":\"bank\",\"owned\"");
    CHECK(at != NULL);
    if (at) {
        char moved[2048];
        snprintf(moved, sizeof moved, "%.*s\"org\":\"agency\",\"owned\"%s", (int) (at - doc), doc,
                 at + strlen("\"org\":\"bank\",\"owned\""));
        fake_put(&s_fs, "did/" ALICE, moved);
        s_result(ALICE, "identity", "has_role", "{\"did\":\"" ALICE "\",\"role\":\"issuer\"}",
                 "false");
    }
    free(doc);
    /* the read set covers what decided it */
    vm_result_t r;
    CHECK_EQ(s_call(BOB, "identity", "has_role", "{\"did\":\"" BANK_NODE "\",\"role\":\"issuer\"}",
                    false, &r), 0);
    Vl__EndorsedResult *er = vl__endorsed_result__unpack(NULL, r.endorsed_len, r.endorsed);
    CHECK(er && er->n_reads == 3);
    if (er && er->n_reads == 3) {
        CHECK_STR(er->reads[1]->key, "did/" BANK_NODE);
        CHECK_STR(er->reads[2]->key, "org/bank");
    }
    vl__endorsed_result__free_unpacked(er, NULL);
    vm_result_clear(&r);
    s_refused(BOB, "identity", "has_role", "{\"did\":\"" ALICE "\",\"role\":\"pilot\"}",
              "unknown role 'pilot'");
    s_refused(BOB, "identity", "has_role", "{\"role\":\"buyer\"}", "did must be a DID");
    s_refused(BOB, "identity", "has_role", "{\"did\":\"" ALICE "\"}", "role must be a string");
}

static void
test_wallet_issue_redeem(void)
{
    s_reset();
    s_register(ALICE, "Alice", "people", "[\"buyer\"]");
    s_register(BOB, "Bob", "bank", "[]");
    s_result(ALICE, "wallet", "supply", "{}", "{\"issued\":0,\"redeemed\":0}");
    vm_result_t r;
    CHECK_EQ(s_call(BANK_NODE, "wallet", "issue", "{\"to\":\"" ALICE "\",\"cents\":150000}", true,
                    &r), 0);
    CHECK_STR(r.result_json, "{\"balance\":150000,\"cents\":150000,\"to\":\"" ALICE "\"}");
    Vl__EndorsedResult *er = vl__endorsed_result__unpack(NULL, r.endorsed_len, r.endorsed);
    CHECK(er && er->n_events == 1 && er->n_writes == 2);
    if (er && er->n_events == 1 && er->n_writes == 2) {
        CHECK_STR(er->events[0]->name, "wallet.issued");
        CHECK_STR(er->events[0]->payload_json,
                  "{\"balance\":150000,\"by\":\"" BANK_NODE "\",\"cents\":150000,"
                  "\"issued\":150000,\"to\":\"" ALICE "\"}");
        CHECK_STR(er->writes[0]->key, "money/supply");
        CHECK_STR(er->writes[1]->key, "wallet/" ALICE);
    }
    vl__endorsed_result__free_unpacked(er, NULL);
    vm_result_clear(&r);
    CHECK_STR(fake_value(&s_fs, "wallet/" ALICE), "150000");
    CHECK_STR(fake_value(&s_fs, "money/supply"), "{\"issued\":150000,\"redeemed\":0}");
    s_conserved();
    /* an identity enrolled as issuer by the issuer organisation may issue too */
    s_ok(BANK_NODE, "identity", "enrol", "{\"did\":\"" BOB "\",\"role\":\"issuer\"}");
    s_ok(BOB, "wallet", "issue", "{\"to\":\"" BOB "\",\"cents\":50}");
    s_issue(BANK_NODE, 1000);
    s_conserved();
    s_result(ALICE, "wallet", "supply", "{}", "{\"issued\":151050,\"redeemed\":0}");

    /* refusals */
    s_refused(ALICE, "wallet", "issue", "{\"to\":\"" ALICE "\",\"cents\":5}",
              "only an identity of an issuer organisation may issue money: " ALICE
              " does not hold the role issuer");
    s_refused(AGENCY_NODE, "wallet", "issue", "{\"to\":\"" ALICE "\",\"cents\":5}",
              "only an identity of an issuer organisation may issue money: " AGENCY_NODE
              " does not hold the role issuer");
    s_refused(CAROL, "wallet", "issue", "{\"to\":\"" ALICE "\",\"cents\":5}",
              "only an identity of an issuer organisation may issue money: " CAROL
              " does not hold the role issuer");
    s_refused(BANK_NODE, "wallet", "issue", "{\"to\":\"" CAROL "\",\"cents\":5}",
              "recipient " CAROL " is not registered");
    s_refused(BANK_NODE, "wallet", "issue", "{\"cents\":5}", "to must be a DID");
    const char *bad[] = { "-5", "0", "12.5", "\"100\"", "null", "1e3" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char args[128];
        snprintf(args, sizeof args, "{\"to\":\"" ALICE "\",\"cents\":%s}", bad[i]);
        s_refused(BANK_NODE, "wallet", "issue", args,
                  "amount must be a positive integer number of cents");
        snprintf(args, sizeof args, "{\"from\":\"" ALICE "\",\"cents\":%s}", bad[i]);
        s_refused(BANK_NODE, "wallet", "redeem", args,
                  "amount must be a positive integer number of cents");
    }
    s_refused(BANK_NODE, "wallet", "issue", "{\"to\":\"" ALICE "\",\"cents\":100000000001}",
              "amount exceeds the limit of 100000000000 cents per transaction");
    s_refused(BANK_NODE, "wallet", "redeem", "{\"from\":\"" ALICE "\",\"cents\":100000000001}",
              "amount exceeds the limit of 100000000000 cents per transaction");
    fake_put(&s_fs, "wallet/" ALICE, "9223372036854775000");
    s_refused(BANK_NODE, "wallet", "issue", "{\"to\":\"" ALICE "\",\"cents\":1000}",
              "balance of " ALICE " would overflow");
    fake_put(&s_fs, "wallet/" ALICE, "150000");
    fake_put(&s_fs, "money/supply", "{\"issued\":\"lots\",\"redeemed\":0}");
    s_refused(BANK_NODE, "wallet", "issue", "{\"to\":\"" ALICE "\",\"cents\":1}",
              "money/supply is corrupt");
    s_refused(ALICE, "wallet", "supply", "{}", "money/supply is corrupt");
    fake_put(&s_fs, "money/supply", "{\"issued\":151050,\"redeemed\":0}");

    /* redeem: the issuer debits a holder; the holder's organisation endorses too */
    CHECK_EQ(s_call(BANK_NODE, "wallet", "redeem", "{\"from\":\"" ALICE "\",\"cents\":50}", true,
                    &r), 0);
    CHECK_STR(r.result_json, "{\"balance\":149950,\"cents\":50,\"from\":\"" ALICE "\"}");
    er = vl__endorsed_result__unpack(NULL, r.endorsed_len, r.endorsed);
    CHECK(er && er->n_events == 1);
    if (er && er->n_events == 1) {
        CHECK_STR(er->events[0]->name, "wallet.redeemed");
        CHECK_STR(er->events[0]->payload_json,
                  "{\"balance\":149950,\"by\":\"" BANK_NODE "\",\"cents\":50,\"from\":\"" ALICE
                  "\",\"redeemed\":50}");
    }
    vl__endorsed_result__free_unpacked(er, NULL);
    vm_result_clear(&r);
    CHECK_STR(fake_value(&s_fs, "money/supply"), "{\"issued\":151050,\"redeemed\":50}");
    s_conserved();
    s_result(ALICE, "wallet", "supply", "{}", "{\"issued\":151050,\"redeemed\":50}");
    s_refused(ALICE, "wallet", "redeem", "{\"from\":\"" ALICE "\",\"cents\":5}",
              "only an identity of an issuer organisation may redeem money: " ALICE
              " does not hold the role issuer");
    s_refused(BANK_NODE, "wallet", "redeem", "{\"from\":\"" ALICE "\",\"cents\":149951}",
              "cannot redeem 149951 cents: the wallet of " ALICE " holds 149950 cents");
    s_refused(BANK_NODE, "wallet", "redeem", "{\"from\":\"" CAROL "\",\"cents\":1}",
              "identity " CAROL " is not registered");
    s_refused(BANK_NODE, "wallet", "redeem", "{\"cents\":1}", "from must be a DID");
    s_ok(BANK_NODE, "wallet", "redeem", "{\"from\":\"" ALICE "\",\"cents\":149950}");
    CHECK_STR(fake_value(&s_fs, "wallet/" ALICE), "0");
    s_conserved();

    /* only as the transaction's own function: no contract an issuer calls
     * issues, redeems or enrols in its name */
    fake_contract(&s_fs, "sly", "return { f = function(a) return vl.call(a.c, a.fn, a.args) "
                  "end }", ALICE);
    s_refused(BANK_NODE, "sly", "f", "{\"c\":\"wallet\",\"fn\":\"issue\",\"args\":{\"to\":\""
              ALICE "\",\"cents\":5}}",
              "wallet.issue must be invoked by the issuer itself, not from contract:sly");
    s_refused(BANK_NODE, "sly", "f", "{\"c\":\"wallet\",\"fn\":\"redeem\",\"args\":{\"from\":\""
              ALICE "\",\"cents\":5}}",
              "wallet.redeem must be invoked by the issuer itself, not from contract:sly");
    s_refused(BANK_NODE, "sly", "f", "{\"c\":\"identity\",\"fn\":\"enrol\",\"args\":"
              "{\"did\":\"" BOB "\",\"role\":\"lender\"}}",
              "identity.enrol must be invoked by the enrolling node itself, not from "
              "contract:sly");

    /* deposit is gone */
    s_refused(ALICE, "wallet", "deposit", "{\"cents\":150000}",
              "wallet.deposit is gone: money is issued by an issuer organisation "
              "(`vledger wallet issue --to DID CENTS` on its node)");
    s_refused(BANK_NODE, "wallet", "deposit", "{\"cents\":1}",
              "wallet.deposit is gone: money is issued by an issuer organisation "
              "(`vledger wallet issue --to DID CENTS` on its node)");
    /* a state without money/supply reads as nothing issued */
    fake_set(&s_fs, "money/supply", NULL, 0, (vl_version_t) { 0, 0 });
    s_result(ALICE, "wallet", "supply", "{}", "{\"issued\":0,\"redeemed\":0}");
}

static void
test_wallet_transfer(void)
{
    s_reset();
    s_register(ALICE, "Alice", "people", "[\"buyer\"]");
    s_register(BOB, "Bob", "people", "[\"seller\"]");
    s_issue(ALICE, 1000);
    vm_result_t r;
    CHECK_EQ(s_call(ALICE, "wallet", "transfer", "{\"to\":\"" BOB "\",\"cents\":400}", true,
                    &r), 0);
    CHECK_STR(r.result_json, "{\"balance\":600,\"cents\":400,\"from\":\"" ALICE
                             "\",\"to\":\"" BOB "\"}");
    vm_result_clear(&r);
    CHECK_STR(fake_value(&s_fs, "wallet/" ALICE), "600");
    CHECK_STR(fake_value(&s_fs, "wallet/" BOB), "400");
    s_conserved();
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
    s_conserved();
}

static void
test_vehicle_register(void)
{
    s_reset();
    s_register(ALICE, "Alice", "people", "[\"seller\"]");
    vm_result_t r;
    CHECK_EQ(s_call(ALICE, "vehicle", "register",
                    "{\"vin\":\"" VIN "\",\"make\":\"Honda\",\"model\":\"Accord\",\"year\":2003,"
                    "\"color\":\"silver\",\"extra\":{\"trim\":\"EX\",\"owner\":\"mallory\","
                    "\"vin\":\"X\",\"endorsement_policy\":\"org:mallory\",\"parking\":{}}}",
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
    s_register(ALICE, "Alice", "people", "[\"seller\"]");
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

static void
test_vehicle_set_policy(void)
{
    s_reset();
    s_register(ALICE, "Alice", "people", "[\"seller\"]");
    s_register(BOB, "Bob", "people", "[\"buyer\"]");
    s_ok(ALICE, "vehicle", "register",
         "{\"vin\":\"" VIN "\",\"make\":\"Honda\",\"model\":\"Accord\",\"year\":2003}");
    s_policy_calls = 0;
    vm_result_t r;
    CHECK_EQ(s_call(ALICE, "vehicle", "set_policy",
                    "{\"vin\":\"" VIN "\",\"policy\":\"all(owner,org:bank)\"}", true, &r), 0);
    CHECK_STR(r.result_json, "{\"endorsement_policy\":\"all(owner,org:bank)\",\"vin\":\"" VIN
                             "\"}");
    Vl__EndorsedResult *er = vl__endorsed_result__unpack(NULL, r.endorsed_len, r.endorsed);
    CHECK(er && er->n_events == 1 && er->n_writes == 1);
    if (er && er->n_events == 1 && er->n_writes == 1) {
        CHECK_STR(er->events[0]->name, "vehicle.policy_set");
        CHECK_STR(er->events[0]->payload_json, "{\"by\":\"" ALICE "\",\"policy\":"
                  "\"all(owner,org:bank)\",\"previous\":null,\"vin\":\"" VIN "\"}");
        CHECK_STR(er->writes[0]->key, "vehicle/" VIN);
    }
    vl__endorsed_result__free_unpacked(er, NULL);
    vm_result_clear(&r);
    CHECK_EQ(s_policy_calls, 1);
    CHECK_CONTAINS(fake_value(&s_fs, "vehicle/" VIN),
                   "\"endorsement_policy\":\"all(owner,org:bank)\"");
    s_refused(ALICE, "vehicle", "set_policy",
              "{\"vin\":\"" VIN "\",\"policy\":\"all(owner,org:bank)\"}",
              "vehicle " VIN " already has the policy all(owner,org:bank)");
    s_ok(ALICE, "vehicle", "set_policy", "{\"vin\":\"" VIN "\",\"policy\":\"owner\"}");
    CHECK_CONTAINS(fake_value(&s_fs, "vehicle/" VIN), "\"endorsement_policy\":\"owner\"");
    /* refusals */
    s_refused(BOB, "vehicle", "set_policy", "{\"vin\":\"" VIN "\",\"policy\":\"any\"}",
              "only the owner " ALICE " of vehicle " VIN " may set its endorsement policy");
    s_refused(ALICE, "vehicle", "set_policy",
              "{\"vin\":\"2HGCM82633A004352\",\"policy\":\"any\"}",
              "vehicle 2HGCM82633A004352 is not registered");
    s_refused(ALICE, "vehicle", "set_policy", "{\"policy\":\"any\"}", "vin must be a string");
    s_refused(ALICE, "vehicle", "set_policy",
              "{\"vin\":\"" VIN "\",\"policy\":\"all(owner,bogus)\"}",
              "endorsement policy refused: policy: unknown principal 'bogus' at 11");
    s_refused(ALICE, "vehicle", "set_policy", "{\"vin\":\"" VIN "\",\"policy\":42}",
              "policy must be a policy expression (a string), or null to remove it");
    s_refused(ALICE, "vehicle", "set_policy", "{\"vin\":\"" VIN "\",\"policy\":[\"owner\"]}",
              "policy must be a policy expression (a string), or null to remove it");
    s_refused(ALICE, "vehicle", "set_policy", "{\"vin\":\"" VIN "\",\"policy\":\"\"}",
              "policy must be 1..1024 characters");
    char big[1200];
    int n = snprintf(big, sizeof big, "{\"vin\":\"" VIN "\",\"policy\":\"");
    memset(big + n, 'a', 1025);
    strcpy(big + n + 1025, "\"}");
    s_refused(ALICE, "vehicle", "set_policy", big, "policy must be 1..1024 characters");
    /* without a checker, no policy can be set */
    s_vm = s_plain;
    s_refused(ALICE, "vehicle", "set_policy", "{\"vin\":\"" VIN "\",\"policy\":\"any\"}",
              "endorsement policy refused: policy checks are not available");
    /* removal needs no check */
    CHECK_EQ(s_call(ALICE, "vehicle", "set_policy", "{\"vin\":\"" VIN "\",\"policy\":null}",
                    true, &r), 0);
    CHECK_STR(r.result_json, "{\"endorsement_policy\":null,\"vin\":\"" VIN "\"}");
    vm_result_clear(&r);
    s_vm = s_checked;
    CHECK(strstr(fake_value(&s_fs, "vehicle/" VIN), "endorsement_policy") == NULL);
    s_refused(ALICE, "vehicle", "set_policy", "{\"vin\":\"" VIN "\"}",
              "vehicle " VIN " has no endorsement policy to remove");
    s_result(BOB, "vehicle", "get", "{\"vin\":\"2HGCM82633A004352\"}", "null");
}

static const char *s_hello =
    "local M = {}\\nfunction M.hi(a) return {msg = 'hi ' .. a.who, v = 1} end\\nreturn M";
static const char *s_hello2 =
    "local M = {}\\nfunction M.hi(a) return {msg = 'hello ' .. a.who, v = 2} end\\nreturn M";

static void
test_contract_deploy(void)
{
    s_reset();
    s_register(ALICE, "Alice", "people", "[\"seller\"]");
    s_register(BOB, "Bob", "people", "[\"buyer\"]");
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
    CHECK_CONTAINS(fake_value(&s_fs, "contract/hello"), "\"policy\":{\"*\":\"creator\"}");
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

    /* A policy: every expression checked. */
    s_policy_calls = 0;
    snprintf(args, sizeof args, "{\"name\":\"pol\",\"source\":\"%s\",\"policy\":"
             "{\"*\":\"creator\",\"hi\":\"all(creator,role:lender)\"}}", s_hello);
    s_ok(BOB, "contract", "deploy", args);
    CHECK_EQ(s_policy_calls, 2);
    CHECK_CONTAINS(fake_value(&s_fs, "contract/pol"),
                   "\"policy\":{\"*\":\"creator\",\"hi\":\"all(creator,role:lender)\"}");
    const struct {
        const char *policy, *msg;
    } bad[] = {
        { "{\"hi\":\"any(owner,bogus)\"}",
          "policy for 'hi' refused: policy: unknown principal 'bogus' at 11" },
        { "{\"*\":\"creator\",\"hi\":\"bogus\"}",
          "policy for 'hi' refused: policy: unknown principal 'bogus' at 1" },
        { "{\"hi\":5}", "policy for 'hi' must be an expression of 1..1024 characters" },
        { "{\"hi\":\"\"}", "policy for 'hi' must be an expression of 1..1024 characters" },
        { "{\"bad name\":\"any\"}",
          "policy entry 'bad name' must be a function name or \"*\"" },
        { "{}", "policy must map at least one function (or \"*\") to an expression" },
        { "[\"any\"]", "policy must be an object {function or \"*\": expression}" },
        { "\"any\"", "policy must be an object {function or \"*\": expression}" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(args, sizeof args, "{\"name\":\"pol2\",\"source\":\"%s\",\"policy\":%s}",
                 s_hello, bad[i].policy);
        s_refused(BOB, "contract", "deploy", args, bad[i].msg);
    }
    s_vm = s_plain;
    snprintf(args, sizeof args, "{\"name\":\"pol2\",\"source\":\"%s\",\"policy\":"
             "{\"*\":\"creator\"}}", s_hello);
    s_refused(BOB, "contract", "deploy", args,
              "policy for '*' refused: policy checks are not available");
    snprintf(args, sizeof args, "{\"name\":\"pol2\",\"source\":\"%s\"}", s_hello);
    s_ok(BOB, "contract", "deploy", args);   /* the default needs no checker */
    s_vm = s_checked;

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
    vm_config_t cfg = vm_config_default();
    cfg.policy_check = s_policy_check;
    s_checked = vm_new(&cfg);
    s_plain = vm_new(NULL);
    s_vm = s_checked;
    RUN(test_stdlib_listing);
    RUN(test_identity_register);
    RUN(test_identity_refusals);
    RUN(test_identity_enrol);
    RUN(test_has_role);
    RUN(test_wallet_issue_redeem);
    RUN(test_wallet_transfer);
    RUN(test_vehicle_register);
    RUN(test_vehicle_refusals);
    RUN(test_vehicle_set_policy);
    RUN(test_contract_deploy);
    vm_destroy(&s_checked);
    vm_destroy(&s_plain);
    /* The same flows in fresh-state mode. */
    cfg.fresh_state = 1;
    s_checked = vm_new(&cfg);
    cfg.policy_check = NULL;
    s_plain = vm_new(&cfg);
    s_vm = s_checked;
    check_variant("fresh_state");
    RUN(test_identity_register);
    RUN(test_identity_enrol);
    RUN(test_has_role);
    RUN(test_wallet_issue_redeem);
    RUN(test_wallet_transfer);
    RUN(test_vehicle_register);
    RUN(test_vehicle_set_policy);
    RUN(test_contract_deploy);
    check_variant(NULL);
    vm_destroy(&s_checked);
    vm_destroy(&s_plain);
    fake_free(&s_fs);
    return check_done();
}
