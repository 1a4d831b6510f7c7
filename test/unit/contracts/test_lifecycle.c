/*
 * test_lifecycle.c — the vehicle lifecycle contracts (contracts/lib/title,
 * sale, settlement, insurance, keys, schedule, pairing, and the example
 * condition contracts in contracts/lib/conditions) run through the VM
 * against the fake state, seeded with organisations and node identities as
 * genesis writes them (docs/trust.md): privileged roles are enrolled by
 * their organisation's node, money is issued by the bank's node. Each
 * flow's happy path, each refusal, and money conservation on every path:
 * the sum of all wallets is unchanged by every flow and always equals
 * money/supply issued - redeemed.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "check.h"
#include "codec.h"
#include "crypto.h"
#include "fake_state.h"

#define SELLER "did:vl:5e11e70000000000000000000000000000000000"
#define BUYER "did:vl:b0e7000000000000000000000000000000000000"
#define AGENCY "did:vl:a9e0c70000000000000000000000000000000000"
#define AUTH "did:vl:a07400000000000000000000000000000000000000"
#define LENDER "did:vl:1e0de70000000000000000000000000000000000"
#define INSURER "did:vl:1051e70000000000000000000000000000000000"
#define PARKER "did:vl:9a7c000000000000000000000000000000000000"
#define STRANGER "did:vl:0dd0000000000000000000000000000000000000"
#define AGENCY_NODE "did:vl:a9e0c00000000000000000000000000000000000"
#define BANK_NODE "did:vl:ba0c000000000000000000000000000000000000"
#define INSURE_NODE "did:vl:10511000000000000000000000000000000000000000"
#define OTHERBANK_NODE "did:vl:07e7ba0c00000000000000000000000000000000"
#define PEOPLE_NODE "did:vl:9e0910000000000000000000000000000000000000"
#define VIN "1HGCM82633A004352"
#define VIN2 "2HGCM82633A004353"
#define T0 1700000000000LL
#define DAY 86400000LL

static vm_t *s_vm;
static fake_state_t s_fs;
static long long s_now = T0;
static unsigned s_seq;
static char s_result[1 << 16];
static char s_events[1 << 17];

/* Runs one invocation with a fresh txid at s_now; on success keeps its
 * result and events (as "name payload\n" lines) and commits when asked. */
static int
s_call(const char *did, const char *contract, const char *fn, const char *args, bool commit,
       char *err, size_t errlen)
{
    uint8_t txid[32] = { 0 };
    s_seq++;
    for (int i = 0; i < 32; i++)
        txid[i] = (uint8_t) ((s_seq * 2654435761u) >> (i % 4 * 8)) ^ (uint8_t) (i * 7);
    vm_state_t view = fake_view(&s_fs);
    vm_request_t req = { .contract = contract, .function = fn, .args_json = args,
                         .caller_did = did, .txid = txid, .now_ms = s_now,
                         .gas_limit = 20000000 };
    vm_result_t r;
    int rc = vm_execute(s_vm, &view, &req, &r);
    s_result[0] = s_events[0] = '\0';
    if (rc == 0) {
        snprintf(s_result, sizeof s_result, "%s", r.result_json);
        Vl__EndorsedResult *er = vl__endorsed_result__unpack(NULL, r.endorsed_len, r.endorsed);
        size_t off = 0;
        for (size_t i = 0; er && i < er->n_events && off < sizeof s_events; i++)
            off += (size_t) snprintf(s_events + off, sizeof s_events - off, "%s %s\n",
                                     er->events[i]->name, er->events[i]->payload_json);
        vl__endorsed_result__free_unpacked(er, NULL);
        if (commit)
            fake_commit(&s_fs, r.endorsed, r.endorsed_len);
    } else if (err) {
        snprintf(err, errlen, "%s", r.error);
    }
    vm_result_clear(&r);
    return rc;
}

#define OK(did, c, f, args) s_ok(__LINE__, did, c, f, args)
static void
s_ok(int line, const char *did, const char *c, const char *f, const char *args)
{
    char err[512] = "";
    int rc = s_call(did, c, f, args, true, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "line %d: unexpected failure %s.%s: %s\n", line, c, f, err);
    CHECK_EQ(rc, 0);
}

#define REFUSED(did, c, f, args, msg) s_refused(__LINE__, did, c, f, args, msg)
static void
s_refused(int line, const char *did, const char *c, const char *f, const char *args,
          const char *msg)
{
    char err[512] = "";
    int rc = s_call(did, c, f, args, false, err, sizeof err);
    if (rc == 0 || !strstr(err, msg))
        fprintf(stderr, "line %d: expected refusal '%s' from %s.%s, got rc %d '%s'\n", line, msg,
                c, f, rc, err);
    CHECK(rc != 0);
    CHECK_CONTAINS(err, msg);
}

/* A JSON value from state at key, by a dotted path ("title.status",
 * "owners.1.did"); returned as text ("" when missing), static buffer. */
static const char *
s_at(const char *key, const char *path)
{
    static char out[4096];
    out[0] = '\0';
    const char *text = fake_value(&s_fs, key);
    if (!text)
        return out;
    json_t *root = json_loads(text, JSON_DECODE_ANY, NULL), *cur = root;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && cur;
         tok = strtok_r(NULL, ".", &save)) {
        if (json_is_array(cur))
            cur = json_array_get(cur, (size_t) atoi(tok));
        else
            cur = json_object_get(cur, tok);
    }
    if (cur) {
        if (json_is_string(cur)) {
            snprintf(out, sizeof out, "%s", json_string_value(cur));
        } else {
            char *d = json_dumps(cur, JSON_ENCODE_ANY | JSON_COMPACT);
            snprintf(out, sizeof out, "%s", d ? d : "");
            free(d);
        }
    }
    json_decref(root);
    return out;
}

static long long
s_wallet(const char *did)
{
    char key[128];
    snprintf(key, sizeof key, "wallet/%s", did);
    const char *v = fake_value(&s_fs, key);
    return v ? atoll(v) : -1;
}

static long long
s_total(void)
{
    long long sum = 0;
    for (size_t i = 0; i < s_fs.n; i++)
        if (strncmp(s_fs.kv[i].key, "wallet/", 7) == 0)
            sum += atoll(s_fs.kv[i].value);
    return sum;
}

/* Σ wallets = money/supply issued - redeemed (money is only issued,
 * redeemed or moved). */
static void
s_conserved_at(int line)
{
    json_t *sup = json_loads(fake_value(&s_fs, "money/supply"), 0, NULL);
    long long issued = (long long) json_integer_value(json_object_get(sup, "issued"));
    long long redeemed = (long long) json_integer_value(json_object_get(sup, "redeemed"));
    json_decref(sup);
    if (s_total() != issued - redeemed)
        fprintf(stderr, "line %d: wallets hold %lld, issued %lld - redeemed %lld\n", line,
                s_total(), issued, redeemed);
    CHECK_EQ(s_total(), issued - redeemed);
}
#define CONSERVED() s_conserved_at(__LINE__)

/* The bank's node issues cents to did. */
static void
s_issue(const char *did, long long cents)
{
    char args[256];
    snprintf(args, sizeof args, "{\"to\":\"%s\",\"cents\":%lld}", did, cents);
    OK(BANK_NODE, "wallet", "issue", args);
}

/* node (a node identity) enrols did in role. */
static void
s_enrol(const char *node, const char *did, const char *role)
{
    char args[256];
    snprintf(args, sizeof args, "{\"did\":\"%s\",\"role\":\"%s\"}", did, role);
    OK(node, "identity", "enrol", args);
}

/* Registers did in org with self-declared roles, then issues it money. */
static void
s_register(const char *did, const char *name, const char *org, const char *roles,
           long long issue)
{
    char args[256];
    snprintf(args, sizeof args, "{\"name\":\"%s\",\"org\":\"%s\",\"roles\":%s}", name, org,
             roles);
    OK(did, "identity", "register", args);
    if (issue > 0)
        s_issue(did, issue);
}

/* Sets field (a top-level key of the object at sub, or of the document when
 * sub is NULL) of the state document at key to the JSON value, as another
 * transaction would have. */
static void
s_patch(const char *key, const char *sub, const char *field, const char *value)
{
    json_t *doc = json_loads(fake_value(&s_fs, key), 0, NULL);
    CHECK(doc != NULL);
    json_t *at = sub ? json_object_get(doc, sub) : doc;
    CHECK(at != NULL);
    if (at)
        json_object_set_new(at, field, json_loads(value, JSON_DECODE_ANY, NULL));
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    fake_put(&s_fs, key, text);
    free(text);
    json_decref(doc);
}

/* Deploys contracts/lib/conditions/FILE.lua as NAME attached to target,
 * replacing `from` by `to` in the source first when given. */
static void
s_deploy_condition(const char *did, const char *file, const char *target, const char *from,
                   const char *to)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.lua", COND_DIR, file);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    static char src[16384], out[16384];
    size_t n = fread(src, 1, sizeof src - 1, f);
    fclose(f);
    src[n] = '\0';
    const char *use = src;
    if (from) {
        char *at = strstr(src, from);
        CHECK(at != NULL);
        if (at) {
            snprintf(out, sizeof out, "%.*s%s%s", (int) (at - src), src, to, at + strlen(from));
            use = out;
        }
    }
    json_t *args = json_pack("{s:s, s:s, s:s}", "name", file, "source", use, "attach", target);
    char *text = json_dumps(args, JSON_COMPACT);
    OK(did, "contract", "deploy", text);
    free(text);
    json_decref(args);
}

static void
s_reset(void)
{
    fake_free(&s_fs);
    fake_genesis(&s_fs);
    s_now = T0;
    fake_org(&s_fs, "agency", "[\"title_agency\",\"registration_authority\",\"validator\"]",
             "[\"" AGENCY_NODE "\"]");
    fake_org(&s_fs, "bank", "[\"issuer\",\"lender\"]", "[\"" BANK_NODE "\"]");
    fake_org(&s_fs, "insure", "[\"insurer\"]", "[\"" INSURE_NODE "\"]");
    fake_org(&s_fs, "otherbank", "[\"lender\"]", "[\"" OTHERBANK_NODE "\"]");
    fake_org(&s_fs, "people", "[]", "[\"" PEOPLE_NODE "\"]");
    fake_node(&s_fs, AGENCY_NODE, "agency-node", "agency");
    fake_node(&s_fs, BANK_NODE, "bank-node", "bank");
    fake_node(&s_fs, INSURE_NODE, "insure-node", "insure");
    fake_node(&s_fs, OTHERBANK_NODE, "otherbank-node", "otherbank");
    fake_node(&s_fs, PEOPLE_NODE, "people-node", "people");
    s_register(SELLER, "Seller", "people", "[\"seller\",\"owner\"]", 100000);
    s_register(BUYER, "Buyer", "people", "[\"buyer\"]", 0);
    s_register(AGENCY, "Title Agency", "agency", "[]", 0);
    s_enrol(AGENCY_NODE, AGENCY, "title_agency");
    s_register(AUTH, "DMV", "agency", "[]", 0);
    s_enrol(AGENCY_NODE, AUTH, "registration_authority");
    s_register(LENDER, "Bank", "bank", "[]", 5000000);
    s_enrol(BANK_NODE, LENDER, "lender");
    s_register(INSURER, "Insurer", "insure", "[]", 0);
    s_enrol(INSURE_NODE, INSURER, "insurer");
    s_register(PARKER, "City Parking", "people", "[\"service\"]", 0);
    CONSERVED();
}

/* Onboards VIN for the seller with a valid title and registration. */
static void
s_titled_vehicle(const char *vin, const char *owner)
{
    char a[512];
    snprintf(a, sizeof a, "{\"vin\":\"%s\",\"make\":\"Honda\",\"model\":\"Accord\",\"year\":2003,"
             "\"extra\":{\"mileage\":42000,\"location\":\"Berlin\"},\"agency\":\"" AGENCY "\"}",
             vin);
    OK(owner, "title", "onboard", a);
    snprintf(a, sizeof a, "{\"vin\":\"%s\",\"decision\":\"issue\",\"number\":\"T-%s\"}", vin,
             vin + 11);
    OK(AGENCY, "title", "answer", a);
    snprintf(a, sizeof a, "{\"vin\":\"%s\",\"authority\":\"" AUTH "\"}", vin);
    OK(owner, "title", "request_registration", a);
    snprintf(a, sizeof a, "{\"vin\":\"%s\",\"plate\":\"B-VL-1\"}", vin);
    OK(AUTH, "title", "register", a);
}

/* --- 1. onboarding and title ------------------------------------------------------ */

static void
test_title(void)
{
    s_reset();
    long long total = s_total();
    OK(SELLER, "title", "onboard",
       "{\"vin\":\"" VIN "\",\"make\":\"Honda\",\"model\":\"Accord\",\"year\":2003,"
       "\"extra\":{\"odometer\":1}}");
    CHECK_CONTAINS(s_result, "\"title\":\"none\"");
    CHECK_CONTAINS(s_result, "vledger title request --vin " VIN);
    CHECK_STR(s_at("vehicle/" VIN, "contracts.generic"), "[\"title.check\",\"keys.check_use\"]");
    CHECK_STR(s_at("vehicle/" VIN, "owner"), SELLER);
    CHECK_STR(s_at("vehicle/" VIN, "odometer"), "1");
    CHECK_STR(s_at("did/" SELLER, "owned.0.vin"), VIN);
    CHECK_CONTAINS(s_events, "vehicle.registered");

    REFUSED(BUYER, "title", "request", "{\"vin\":\"" VIN "\",\"agency\":\"" AGENCY "\"}",
            "only the owner " SELLER " of vehicle " VIN " may do this");
    REFUSED(SELLER, "title", "request", "{\"vin\":\"" VIN "\",\"agency\":\"" BUYER "\"}",
            "identity " BUYER " does not hold the role title_agency");
    REFUSED(BUYER, "title", "onboard",
            "{\"vin\":\"" VIN2 "\",\"make\":\"Honda\",\"model\":\"Accord\",\"year\":2003,"
            "\"agency\":\"" AGENCY "\"}",
            "the title fee of 2500 cents cannot be paid: wallet of " BUYER " holds 0 cents");
    OK(SELLER, "title", "request", "{\"vin\":\"" VIN "\",\"agency\":\"" AGENCY "\"}");
    CHECK_EQ(s_wallet(AGENCY), 2500);
    CHECK_STR(s_at("vehicle/" VIN, "title.status"), "requested");
    REFUSED(SELLER, "title", "request", "{\"vin\":\"" VIN "\",\"agency\":\"" AGENCY "\"}",
            "a title request for " VIN " is already open with agency " AGENCY);
    REFUSED(STRANGER, "title", "answer", "{\"vin\":\"" VIN "\",\"decision\":\"issue\","
            "\"number\":\"X\"}", "only the agency " AGENCY " handling the title request");
    REFUSED(SELLER, "title", "respond", "{\"vin\":\"" VIN "\",\"answer\":\"x\"}",
            "no clarification is pending for vehicle " VIN);
    /* two clarification rounds */
    for (int round = 0; round < 2; round++) {
        OK(AGENCY, "title", "answer", "{\"vin\":\"" VIN "\",\"decision\":\"clarify\","
           "\"question\":\"proof of purchase?\"}");
        CHECK_STR(s_at("vehicle/" VIN, "title.status"), "clarification_requested");
        CHECK_CONTAINS(s_events, "title.clarification_requested");
        REFUSED(AGENCY, "title", "answer", "{\"vin\":\"" VIN "\",\"decision\":\"issue\","
                "\"number\":\"X\"}", "the owner must respond before a title is issued");
        OK(SELLER, "title", "respond", "{\"vin\":\"" VIN "\",\"answer\":\"invoice 42\"}");
    }
    OK(AGENCY, "title", "answer", "{\"vin\":\"" VIN "\",\"decision\":\"issue\",\"number\":\"T-1\"}");
    CHECK_STR(s_at("vehicle/" VIN, "title.status"), "valid");
    CHECK_STR(s_at("vehicle/" VIN, "title.holder"), SELLER);
    {
        json_t *rounds = json_loads(s_at("title_request/" VIN, "rounds"), 0, NULL);
        CHECK_EQ(json_array_size(rounds), 5);
        json_decref(rounds);
    }
    OK(SELLER, "title", "check", "{\"vin\":\"" VIN "\"}");
    CHECK_CONTAINS(s_result, "\"title\":\"valid\"");
    REFUSED(SELLER, "title", "request", "{\"vin\":\"" VIN "\",\"agency\":\"" AGENCY "\"}",
            "vehicle " VIN " already has a valid title T-1");
    /* registration */
    REFUSED(SELLER, "title", "request_registration", "{\"vin\":\"" VIN "\",\"authority\":\""
            AGENCY "\"}", "does not hold the role registration_authority");
    OK(SELLER, "title", "request_registration", "{\"vin\":\"" VIN "\",\"authority\":\"" AUTH "\"}");
    REFUSED(AGENCY, "title", "register", "{\"vin\":\"" VIN "\",\"plate\":\"B-1\"}",
            "only the authority " AUTH " may register vehicle " VIN);
    OK(AUTH, "title", "register", "{\"vin\":\"" VIN "\",\"plate\":\"B-1\"}");
    CHECK_STR(s_at("vehicle/" VIN, "registration.plate"), "B-1");
    CHECK_EQ(s_wallet(AUTH), 3000);
    CHECK_EQ(s_total(), total);
    CONSERVED();
}

/* --- 2. purchase: conditions, negotiation, confirmation, abort, deadline ------------ */

static void
test_sale_conditions(void)
{
    s_reset();
    s_titled_vehicle(VIN, SELLER);
    REFUSED(STRANGER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":5000}",
            "buyer " STRANGER " is not registered: run `vledger identity new` first");
    REFUSED(SELLER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":5000}",
            "you already own vehicle " VIN);
    REFUSED(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":0}",
            "price must be a positive integer number of cents");
    REFUSED(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":5000,\"finance\":"
            "{\"lender\":\"" INSURER "\",\"amount\":100}}",
            "lender " INSURER " does not hold the role lender");

    /* A request is recorded and announced to the seller; nothing of the
     * seller's is judged in the buyer's transaction. */
    s_deploy_condition(SELLER, "cash_only", "vehicle:" VIN, NULL, NULL);
    s_issue(BUYER, 1000);
    OK(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":5000}");
    CHECK_CONTAINS(s_result, "\"status\":\"requested\"");
    CHECK_CONTAINS(s_events, "sale.requested");
    CHECK_CONTAINS(s_events, "\"kind\":\"purchase_request\"");
    CHECK(strstr(s_events, "cash_only") == NULL);
    REFUSED(BUYER, "sale", "answer", "{\"vin\":\"" VIN "\"}", "only the seller " SELLER);
    REFUSED(BUYER, "sale", "offer", "{\"vin\":\"" VIN "\",\"price\":4000}",
            "awaits the seller's answer (`vledger sale answer`)");
    REFUSED(BUYER, "sale", "accept", "{\"vin\":\"" VIN "\"}", "has no offer to accept");
    /* seller: cash only, judged in the seller's answer */
    OK(SELLER, "sale", "answer", "{\"vin\":\"" VIN "\"}");
    CHECK_CONTAINS(s_result, "\"status\":\"conditions_unmet\"");
    CHECK_CONTAINS(s_result, "seller condition 'cash_only' not met: buyer wallet holds 1000 "
                             "cents, price is 5000");
    CHECK_CONTAINS(s_events, "sale.notification");
    CHECK_CONTAINS(s_events, "sale.conditions_unmet");
    CHECK_CONTAINS(s_events, "add 4000 cents to the buyer wallet");
    CHECK_CONTAINS(s_events, "vledger wallet issue --to " BUYER " CENTS");
    REFUSED(SELLER, "sale", "answer", "{\"vin\":\"" VIN "\"}", "no open sale of vehicle " VIN);
    OK(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":900,\"finance\":"
       "{\"lender\":\"" LENDER "\",\"amount\":100}}");
    OK(SELLER, "sale", "answer", "{\"vin\":\"" VIN "\"}");
    CHECK_CONTAINS(s_result, "seller condition 'cash_only' not met: the seller accepts cash only");

    /* seller: minimum price (a second contract attached to the seller's DID) */
    s_deploy_condition(SELLER, "min_price", "did:" SELLER, "MIN_PRICE = 1000000", "MIN_PRICE = 800");
    OK(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":700}");
    OK(SELLER, "sale", "answer", "{\"vin\":\"" VIN "\"}");
    CHECK_CONTAINS(s_result, "seller condition 'min_price' not met: price 700 is below the "
                             "minimum 800");

    /* buyer: price ceiling, judged when the buyer accepts; then negotiation */
    s_deploy_condition(BUYER, "price_ceiling", "did:" BUYER, "MAX_PRICE = 2000000",
                       "MAX_PRICE = 950");
    OK(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":1000}");
    char id[32];
    snprintf(id, sizeof id, "%s", strstr(s_result, "\"id\":\"") + 6);
    *strchr(id, '"') = '\0';
    char key[128];
    snprintf(key, sizeof key, "sale/" VIN "/%s", id);
    OK(SELLER, "sale", "answer", "{\"vin\":\"" VIN "\"}");
    CHECK_CONTAINS(s_result, "\"offer\":\"open\"");
    CHECK_CONTAINS(s_result, "\"price\":1000");
    REFUSED(SELLER, "sale", "answer", "{\"vin\":\"" VIN "\"}", "was answered already");
    OK(BUYER, "sale", "accept", "{\"vin\":\"" VIN "\"}");
    CHECK_CONTAINS(s_result, "\"offer\":\"rejected\"");
    CHECK_CONTAINS(s_result, "buyer condition 'price_ceiling' not met: offer 1000 exceeds the "
                             "price ceiling 950");
    CHECK_CONTAINS(s_events, "sale.offer_rejected");
    CHECK_STR(s_at(key, "status"), "negotiating");
    REFUSED(BUYER, "sale", "accept", "{\"vin\":\"" VIN "\"}", "was rejected");
    REFUSED(STRANGER, "sale", "offer", "{\"vin\":\"" VIN "\",\"id\":\"nope\",\"price\":5}",
            "no sale nope for vehicle " VIN);
    /* buyer counters 790: below the seller's minimum, which the seller's
     * acceptance judges */
    OK(BUYER, "sale", "offer", "{\"vin\":\"" VIN "\",\"price\":790}");
    CHECK_CONTAINS(s_result, "\"offer\":\"open\"");
    OK(SELLER, "sale", "accept", "{\"vin\":\"" VIN "\"}");
    CHECK_CONTAINS(s_result, "seller condition 'min_price' not met");
    OK(BUYER, "sale", "offer", "{\"vin\":\"" VIN "\",\"price\":850}");
    CHECK_CONTAINS(s_result, "\"offer\":\"open\"");
    REFUSED(BUYER, "sale", "offer", "{\"vin\":\"" VIN "\",\"price\":860}",
            "you made the latest offer");
    REFUSED(BUYER, "sale", "accept", "{\"vin\":\"" VIN "\"}", "you made the latest offer");
    OK(SELLER, "sale", "offer", "{\"vin\":\"" VIN "\",\"price\":940}");
    CHECK_CONTAINS(s_result, "\"round\":4");
    OK(BUYER, "sale", "accept", "{\"vin\":\"" VIN "\"}");
    CHECK_STR(s_at(key, "status"), "agreed");
    CHECK_STR(s_at(key, "agreed_price"), "940");
    REFUSED(SELLER, "sale", "offer", "{\"vin\":\"" VIN "\",\"price\":999}", "already agreed");

    /* the seller answers with a counter-offer of its own */
    s_reset();
    s_titled_vehicle(VIN, SELLER);
    OK(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":800}");
    OK(SELLER, "sale", "answer", "{\"vin\":\"" VIN "\",\"price\":850}");
    CHECK_CONTAINS(s_result, "\"price\":850");
    CHECK_CONTAINS(s_events, "sale.offered {\"by\":\"" SELLER "\"");

    /* buyer: mileage ceiling and delivery location judge a fresh vehicle */
    s_reset();
    s_titled_vehicle(VIN, SELLER);
    s_deploy_condition(BUYER, "mileage_ceiling", "did:" BUYER, "MAX_MILEAGE = 100000",
                       "MAX_MILEAGE = 40000");
    s_deploy_condition(BUYER, "delivery_location", "did:" BUYER, NULL, NULL);
    OK(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":1000,\"delivery\":"
       "{\"location\":\"Paris\"}}");
    OK(SELLER, "sale", "answer", "{\"vin\":\"" VIN "\"}");
    OK(BUYER, "sale", "accept", "{\"vin\":\"" VIN "\"}");
    CHECK_CONTAINS(s_result, "buyer condition 'mileage_ceiling' not met: mileage 42000 exceeds "
                             "the ceiling 40000");
    CHECK_CONTAINS(s_events, "delivery location Paris is not Berlin");

    /* seller: accepted lenders */
    s_reset();
    s_titled_vehicle(VIN, SELLER);
    s_deploy_condition(SELLER, "accepted_lenders", "vehicle:" VIN,
                       "did:vl:0000000000000000000000000000000000000000", LENDER);
    s_register(STRANGER, "Other Bank", "otherbank", "[]", 0);
    s_enrol(OTHERBANK_NODE, STRANGER, "lender");
    OK(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":1000,\"finance\":"
       "{\"lender\":\"" STRANGER "\",\"amount\":500}}");
    OK(SELLER, "sale", "answer", "{\"vin\":\"" VIN "\"}");
    CHECK_CONTAINS(s_result, "seller condition 'accepted_lenders' not met: lender " STRANGER
                             " is not accepted");
    OK(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":1000,\"finance\":"
       "{\"lender\":\"" LENDER "\",\"amount\":500}}");
    OK(SELLER, "sale", "answer", "{\"vin\":\"" VIN "\"}");
    CHECK_CONTAINS(s_result, "\"offer\":\"open\"");
}

/* A condition contract that tries to move the creator's funds is refused. */
static void
test_sale_condition_moves_funds(void)
{
    s_reset();
    s_titled_vehicle(VIN, SELLER);
    s_issue(BUYER, 1000);
    OK(SELLER, "contract", "deploy", "{\"name\":\"greedy\",\"attach\":\"vehicle:" VIN "\","
       "\"source\":\"return {condition = function(c) vl.transfer(vl.creator(), '" BUYER
       "', 10) return true end}\"}");
    s_issue(SELLER, 1000);
    OK(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":500}");
    REFUSED(SELLER, "sale", "answer", "{\"vin\":\"" VIN "\"}",
            "seller condition 'greedy' moved funds; refused");
}

static char s_sale_id[32];

/* Request + accept at price; leaves s_sale_id. */
static void
s_agree(long long price, const char *finance)
{
    char a[512];
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"price\":%lld,\"authority\":\"" AUTH "\","
             "\"months\":3,\"period_ms\":%lld,\"window_ms\":%lld%s}", price, DAY, 2 * DAY,
             finance ? finance : "");
    OK(BUYER, "sale", "request", a);
    const char *p = strstr(s_result, "\"id\":\"");
    CHECK(p != NULL);
    if (p) {
        snprintf(s_sale_id, sizeof s_sale_id, "%s", p + 6);
        *strchr(s_sale_id, '"') = '\0';
    }
    OK(SELLER, "sale", "answer", "{\"vin\":\"" VIN "\"}");
    CHECK_CONTAINS(s_result, "\"offer\":\"open\"");
    OK(BUYER, "sale", "accept", "{\"vin\":\"" VIN "\"}");
}

static void
test_sale_abort_and_deadline(void)
{
    s_reset();
    s_titled_vehicle(VIN, SELLER);
    long long total = s_total();
    s_agree(1000, NULL);
    REFUSED(STRANGER, "sale", "confirm", "{\"vin\":\"" VIN "\",\"id\":\"%s\"}", "no sale");
    char a[256];
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"id\":\"%s\"}", s_sale_id);
    REFUSED(STRANGER, "sale", "confirm", a, STRANGER " is not a party to sale");
    OK(SELLER, "sale", "confirm", a);
    CHECK_CONTAINS(s_result, "\"waiting_for\":[\"buyer\"]");
    REFUSED(SELLER, "sale", "confirm", a, "the seller already confirmed sale");
    OK(BUYER, "sale", "abort", "{\"vin\":\"" VIN "\",\"reason\":\"changed my mind\"}");
    CHECK_CONTAINS(s_result, "not confirmed by: buyer " BUYER);
    CHECK_CONTAINS(s_events, "sale.aborted");
    REFUSED(BUYER, "sale", "abort", a, "is aborted; nothing to abort");
    CHECK_EQ(s_total(), total);
    CONSERVED();

    /* deadline: nobody but the seller confirms; the schedule expires it */
    s_agree(1000, NULL);
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"id\":\"%s\"}", s_sale_id);
    OK(SELLER, "sale", "confirm", a);
    REFUSED(STRANGER, "sale", "expire", a, "is open until");
    REFUSED(STRANGER, "schedule", "run_due", "{}", "nothing is due as of");
    s_now += 2 * DAY + 1;
    REFUSED(BUYER, "sale", "confirm", a, "passed its deadline");
    REFUSED(BUYER, "sale", "confirm", a, "not confirmed by: buyer " BUYER);
    OK(STRANGER, "schedule", "run_due", "{}");
    CHECK_CONTAINS(s_events, "sale.expired");
    CHECK_CONTAINS(s_events, "not confirmed by: buyer " BUYER);
    char key[128];
    snprintf(key, sizeof key, "sale/" VIN "/%s", s_sale_id);
    CHECK_STR(s_at(key, "status"), "expired");
    REFUSED(STRANGER, "schedule", "run_due", "{}", "nothing is due as of");
    CHECK_STR(s_at("vehicle/" VIN, "owner"), SELLER);
    CHECK_EQ(s_total(), total);
    CONSERVED();
}

/* --- 3. settlement ------------------------------------------------------------------ */

static void
test_settlement_cash(void)
{
    s_reset();
    s_titled_vehicle(VIN, SELLER);
    OK(SELLER, "keys", "issue", "{\"vin\":\"" VIN "\",\"holder\":\"" SELLER "\",\"scope\":\"owner\"}");
    OK(SELLER, "contract", "deploy", "{\"name\":\"hello\",\"attach\":\"vehicle:" VIN "\","
       "\"source\":\"return {}\"}");
    long long total = s_total();
    s_agree(60000, NULL);
    char a[256];
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"id\":\"%s\"}", s_sale_id);
    OK(SELLER, "sale", "confirm", a);
    REFUSED(BUYER, "sale", "confirm", a, "settlement needs 65500 cents from the buyer " BUYER
            " (price 60000 + fees 5500); the buyer wallet holds 0 cents");
    s_issue(BUYER, 70000);
    total += 70000;
    long long seller0 = s_wallet(SELLER);
    OK(BUYER, "sale", "confirm", a);
    CHECK_CONTAINS(s_result, "\"status\":\"settled\"");
    CHECK_EQ(s_total(), total);
    CONSERVED();
    CHECK_EQ(s_wallet(SELLER), seller0 + 60000);
    CHECK_EQ(s_wallet(BUYER), 70000 - 65500);
    CHECK_EQ(s_wallet(AGENCY), 2500 + 2500);
    CHECK_EQ(s_wallet(AUTH), 3000 + 3000);
    CHECK_STR(s_at("vehicle/" VIN, "owner"), BUYER);
    CHECK_STR(s_at("vehicle/" VIN, "owners.1.did"), BUYER);
    CHECK_STR(s_at("vehicle/" VIN, "title.holder"), BUYER);
    CHECK_STR(s_at("vehicle/" VIN, "title.previous"), "T-004352");
    CHECK_STR(s_at("vehicle/" VIN, "registration.status"), "pending");
    CHECK_STR(s_at("vehicle/" VIN, "contracts.owner"), "[]");
    CHECK_STR(s_at("vehicle/" VIN, "keys.0.revoked"), "true");
    CHECK_STR(s_at("vehicle/" VIN, "keys.1.holder"), BUYER);
    CHECK_STR(s_at("vehicle/" VIN, "keys.1.scope"), "owner");
    CHECK_STR(s_at("did/" SELLER, "owned"), "[]");
    CHECK_STR(s_at("did/" BUYER, "owned.0.vin"), VIN);
    CHECK_STR(s_at("did/" BUYER, "owned.0.keys.0"), s_at("vehicle/" VIN, "keys.1.key_id"));
    CHECK_CONTAINS(s_events, "title.transferred");
    CHECK_CONTAINS(s_events, "sale.settled");
    REFUSED(BUYER, "sale", "confirm", a, "is settled; only an agreed sale can be confirmed");
    REFUSED(BUYER, "settlement", "settle", a, "may only be called by the sale contract");
    /* follow-up: the authority registers the new owner */
    OK(AUTH, "title", "register", "{\"vin\":\"" VIN "\",\"plate\":\"B-VL-2\"}");
    REFUSED(AUTH, "title", "register", "{\"vin\":\"" VIN "\",\"plate\":\"B-VL-3\"}",
            "no registration of " VIN " is pending");
    CHECK_EQ(s_total(), total);
    CONSERVED();
}

static void
test_settlement_financed_and_schedule(void)
{
    s_reset();
    s_titled_vehicle(VIN, SELLER);
    s_issue(BUYER, 20000);
    long long total = s_total();
    long long lender0 = s_wallet(LENDER), seller0 = s_wallet(SELLER);
    s_agree(90000, ",\"finance\":{\"lender\":\"" LENDER "\",\"amount\":80000}");
    char a[256];
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"id\":\"%s\"}", s_sale_id);
    OK(SELLER, "sale", "confirm", a);
    OK(BUYER, "sale", "confirm", a);
    CHECK_CONTAINS(s_result, "\"waiting_for\":[\"lender\"]");
    OK(LENDER, "sale", "confirm", a);
    CHECK_CONTAINS(s_result, "\"status\":\"settled\"");
    CHECK_EQ(s_total(), total);
    CONSERVED();
    CHECK_EQ(s_wallet(SELLER), seller0 + 90000);
    CHECK_EQ(s_wallet(LENDER), lender0 + 10000 - 90000);
    CHECK_EQ(s_wallet(BUYER), 20000 - 10000 - 5500);
    CHECK_STR(s_at("vehicle/" VIN, "financing.lender"), LENDER);
    CHECK_STR(s_at("vehicle/" VIN, "financing.principal"), "80000");
    CHECK_STR(s_at("vehicle/" VIN, "financing.instalment"), "26666");
    CHECK_CONTAINS(s_events, "lien.recorded");

    /* instalment 1 paid, 2 missed (late), 3 paid; arrears keep the lien */
    REFUSED(STRANGER, "schedule", "run_due", "{}", "nothing is due as of");
    s_issue(BUYER, 30000);
    total += 30000;
    s_now += DAY;
    OK(STRANGER, "schedule", "run_due", "{}");
    CHECK_CONTAINS(s_events, "payment.made");
    CHECK_EQ(s_wallet(BUYER), 4500 + 30000 - 26666);
    REFUSED(STRANGER, "schedule", "run_due", "{}", "nothing is due as of");
    s_now += DAY;
    OK(STRANGER, "schedule", "run_due", "{}");
    CHECK_CONTAINS(s_events, "payment.missed");
    CHECK_STR(s_at("vehicle/" VIN, "financing.state"), "late");
    s_issue(BUYER, 100000);
    total += 100000;
    s_now += DAY;
    OK(STRANGER, "schedule", "run_due", "{}");
    CHECK_CONTAINS(s_result, "\"cents\":26668");  /* last one takes the remainder */
    CHECK_STR(s_at("vehicle/" VIN, "financing.arrears"), "26666");
    REFUSED(STRANGER, "schedule", "pay_arrears", "{\"vin\":\"" VIN "\"}",
            "only the owner may pay the arrears");
    OK(BUYER, "schedule", "pay_arrears", "{\"vin\":\"" VIN "\"}");
    CHECK_CONTAINS(s_events, "lien.released");
    CHECK_STR(s_at("vehicle/" VIN, "financing"), "");
    CHECK_EQ(s_wallet(LENDER), lender0);  /* lent 80000, repaid 80000 */
    CHECK_EQ(s_total(), total);
    CONSERVED();
    REFUSED(BUYER, "schedule", "pay_arrears", "{\"vin\":\"" VIN "\"}", "has no arrears");
}

static void
test_settlement_lender_short(void)
{
    s_reset();
    s_titled_vehicle(VIN, SELLER);
    s_register(STRANGER, "Poor Bank", "otherbank", "[]", 10);
    s_enrol(OTHERBANK_NODE, STRANGER, "lender");
    s_issue(BUYER, 20000);
    long long total = s_total();
    s_agree(90000, ",\"finance\":{\"lender\":\"" STRANGER "\",\"amount\":80000}");
    char a[256];
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"id\":\"%s\"}", s_sale_id);
    OK(SELLER, "sale", "confirm", a);
    OK(STRANGER, "sale", "confirm", a);
    REFUSED(BUYER, "sale", "confirm", a, "settlement needs 80000 cents from the lender " STRANGER);
    CHECK_STR(s_at("vehicle/" VIN, "owner"), SELLER);
    CHECK_EQ(s_total(), total);
    CONSERVED();
}

/* --- 4. insurance and services ------------------------------------------------------ */

static void
test_insurance(void)
{
    s_reset();
    s_titled_vehicle(VIN, SELLER);
    long long total = s_total();
    char a[512];
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"provider\":\"" INSURER "\",\"policy\":\"P-1\","
             "\"coverage\":100000,\"premium\":1000,\"period_ms\":%lld,\"valid_until\":%lld}",
             DAY, T0 + 10 * DAY);
    REFUSED(STRANGER, "insurance", "request", a, "only the owner of " VIN " or the provider");
    OK(SELLER, "insurance", "request", a);
    CHECK_CONTAINS(s_result, "\"status\":\"needs_correction\"");
    CHECK_CONTAINS(s_result, "coverage 100000 cents is below the agency minimum of 2500000 cents");
    CHECK_CONTAINS(s_events, "service.correction");
    char id[32];
    snprintf(id, sizeof id, "%s", strstr(s_result, "\"id\":\"") + 6);
    *strchr(id, '"') = '\0';
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"id\":\"%s\"}", id);
    REFUSED(INSURER, "insurance", "approve", a, "provider must name the provider " INSURER
            " of request ");
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"id\":\"%s\",\"provider\":\"" PARKER "\"}", id);
    REFUSED(INSURER, "insurance", "approve", a, "provider must name the provider " INSURER
            " of request ");
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"id\":\"%s\",\"provider\":\"" INSURER "\"}",
             id);
    OK(INSURER, "insurance", "approve", a);   /* still short: correction again */
    CHECK_CONTAINS(s_result, "needs_correction");
    /* the agency rule lowered by the authority */
    REFUSED(SELLER, "insurance", "set_rule", "{\"min_coverage\":50000}",
            "only an identity holding the role registration_authority may set service rules");
    OK(AUTH, "insurance", "set_rule", "{\"min_coverage\":50000}");
    REFUSED(SELLER, "insurance", "approve", a, "only " INSURER " may approve request");
    OK(INSURER, "insurance", "approve", a);
    CHECK_STR(s_at("vehicle/" VIN, "insurance.insurer"), INSURER);
    CHECK_STR(s_at("vehicle/" VIN, "insurance.state"), "active");
    REFUSED(INSURER, "insurance", "approve", a, "is approved");
    /* premiums: day 1 paid, the schedule continues */
    s_now += DAY;
    OK(STRANGER, "schedule", "run_due", "{}");
    CHECK_EQ(s_wallet(INSURER), 1000);
    CHECK_CONTAINS(s_result, "\"paid\":true");

    /* a parking permit through the same path, requested by the provider */
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"kind\":\"parking\",\"provider\":\"" PARKER "\","
             "\"policy\":\"Z-9\",\"premium\":200,\"period_ms\":%lld,\"valid_until\":%lld}",
             DAY, T0 + 30 * DAY);
    OK(PARKER, "insurance", "request", a);
    CHECK_CONTAINS(s_result, "a parking permit needs a zone");
    snprintf(id, sizeof id, "%s", strstr(s_result, "\"id\":\"") + 6);
    *strchr(id, '"') = '\0';
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"id\":\"%s\",\"zone\":\"Mitte\","
             "\"provider\":\"" PARKER "\"}", id);
    REFUSED(SELLER, "insurance", "correct", a, "only the requester " PARKER);
    OK(PARKER, "insurance", "correct", a);
    CHECK_CONTAINS(s_result, "awaiting_approval");
    OK(SELLER, "insurance", "approve", a);
    CHECK_STR(s_at("vehicle/" VIN, "parking.zone"), "Mitte");
    OK(INSURER, "insurance", "cancel", "{\"vin\":\"" VIN "\"}");
    CHECK_STR(s_at("vehicle/" VIN, "insurance.state"), "cancelled");
    REFUSED(INSURER, "insurance", "cancel", "{\"vin\":\"" VIN "\"}", "has no active insurance");
    CHECK_EQ(s_total(), total);
    CONSERVED();
}

/* --- 5. digital keys ------------------------------------------------------------------ */

static void
s_insure(long long valid_until)
{
    char a[512];
    OK(AUTH, "insurance", "set_rule", "{\"min_coverage\":1000}");
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"provider\":\"" INSURER "\",\"policy\":\"P-7\","
             "\"coverage\":5000,\"premium\":700,\"period_ms\":%lld,\"valid_until\":%lld}", DAY,
             valid_until);
    OK(INSURER, "insurance", "request", a);
    char id[32];
    snprintf(id, sizeof id, "%s", strstr(s_result, "\"id\":\"") + 6);
    *strchr(id, '"') = '\0';
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"id\":\"%s\",\"provider\":\"" INSURER "\"}",
             id);
    OK(SELLER, "insurance", "approve", a);
}

static void
test_keys(void)
{
    s_reset();
    s_titled_vehicle(VIN, SELLER);
    long long total = s_total();
    REFUSED(BUYER, "keys", "issue", "{\"vin\":\"" VIN "\",\"holder\":\"" BUYER "\"}",
            "only the owner " SELLER " of vehicle " VIN " may issue keys");
    REFUSED(SELLER, "keys", "issue", "{\"vin\":\"" VIN "\",\"holder\":\"" STRANGER "\"}",
            "key holder " STRANGER " is not registered");
    REFUSED(SELLER, "keys", "issue", "{\"vin\":\"" VIN "\",\"holder\":\"" BUYER "\","
            "\"functions\":[\"fly\"]}", "unknown key function 'fly'");
    OK(SELLER, "keys", "issue", "{\"vin\":\"" VIN "\",\"holder\":\"" BUYER "\"}");
    char kid[64];
    snprintf(kid, sizeof kid, "%s", s_at("vehicle/" VIN, "keys.0.key_id"));
    CHECK_STR(s_at("did/" BUYER, "interest.0.keys.0"), kid);
    char a[256];
    /* no insurance yet: denied, owner and insurer notified */
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"key_id\":\"%s\"}", kid);
    REFUSED(SELLER, "keys", "use", a, "is held by " BUYER ", not by " SELLER);
    OK(BUYER, "keys", "use", a);
    CHECK_CONTAINS(s_result, "\"allowed\":false");
    CHECK_CONTAINS(s_result, "key use denied: no insurance");
    CHECK_CONTAINS(s_events, "key.notification {\"holder\"");
    s_insure(T0 + 3 * DAY);
    OK(BUYER, "keys", "use", a);
    CHECK_CONTAINS(s_result, "\"allowed\":true");
    CHECK_CONTAINS(s_events, "key.used");
    OK(BUYER, "keys", "check_use", "{\"vin\":\"" VIN "\"}");
    CHECK_CONTAINS(s_result, "\"ok\":true");
    /* operator scope excludes the trunk */
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"key_id\":\"%s\",\"function\":\"trunk\"}", kid);
    OK(BUYER, "keys", "use", a);
    CHECK_CONTAINS(s_result, "key scope operator does not allow 'trunk'");
    /* premium missed -> insurance late -> denied with the insurer notified */
    s_now += DAY;
    OK(STRANGER, "schedule", "run_due", "{}");
    CHECK_CONTAINS(s_events, "payment.made");
    CHECK_STR(s_at("vehicle/" VIN, "insurance.state"), "active");  /* seller has funds */
    snprintf(a, sizeof a, "{\"to\":\"" AGENCY "\",\"cents\":%lld}", s_wallet(SELLER) - 100);
    OK(SELLER, "wallet", "transfer", a);
    s_now += DAY;
    OK(STRANGER, "schedule", "run_due", "{}");
    CHECK_CONTAINS(s_events, "payment.missed");
    CHECK_STR(s_at("vehicle/" VIN, "insurance.state"), "late");
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"key_id\":\"%s\"}", kid);
    OK(BUYER, "keys", "use", a);
    CHECK_CONTAINS(s_result, "insurance P-7 is late");
    CHECK_CONTAINS(s_events, "\"to\":\"" INSURER "\"");
    /* revoke */
    OK(SELLER, "keys", "revoke", a);
    REFUSED(SELLER, "keys", "revoke", a, "is already revoked");
    OK(BUYER, "keys", "use", a);
    CHECK_CONTAINS(s_result, "is revoked");
    REFUSED(BUYER, "keys", "use", "{\"vin\":\"" VIN "\",\"key_id\":\"KX\"}",
            "vehicle " VIN " has no key KX");
    CHECK_EQ(s_total(), total);
    CONSERVED();
}

/* --- 7. device pairing ------------------------------------------------------------------ */

static void
s_sign_hex(vl_key_t *k, const char *msg, char out[129])
{
    uint8_t sig[VL_SIG_SIZE];
    CHECK_EQ(vl_key_sign(k, msg, strlen(msg), sig), 0);
    vl_hex_encode(sig, sizeof sig, out);
}

static void
s_prepair_args(char *a, size_t n, vl_key_t *hu, vl_key_t *ecu, const char *vin,
               const char *device, const char *owner, const char *ecu_vin, int dx)
{
    char msg[128], s1[129], s2[129];
    snprintf(msg, sizeof msg, "vledger-pair:%s:%s", vin, device);
    s_sign_hex(hu, msg, s1);
    s_sign_hex(ecu, msg, s2);
    snprintf(a, n, "{\"vin\":\"%s\",\"device\":{\"id\":\"%s\",\"owner\":\"%s\"},"
             "\"identifications\":[{\"component\":\"head_unit\",\"vin\":\"%s\",\"signature\":\"%s\"},"
             "{\"component\":\"key_ecu\",\"vin\":\"%s\",\"signature\":\"%s\"}],"
             "\"device_position\":{\"x\":%d,\"y\":0},\"vehicle_position\":{\"x\":0,\"y\":0}}",
             vin, device, owner, vin, s1, ecu_vin, s2, dx);
}

static void
test_pairing(void)
{
    s_reset();
    s_titled_vehicle(VIN, SELLER);
    vl_key_t *hu = vl_key_generate(), *ecu = vl_key_generate(), *rogue = vl_key_generate();
    char phu[65], pecu[65], a[2048];
    vl_hex_encode(vl_key_public(hu), 32, phu);
    vl_hex_encode(vl_key_public(ecu), 32, pecu);
    s_prepair_args(a, sizeof a, hu, ecu, VIN, "phone-1", SELLER, VIN, 3);
    REFUSED(SELLER, "pairing", "prepair", a, "has no recorded components");
    char c[512];
    snprintf(c, sizeof c, "{\"vin\":\"" VIN "\",\"components\":{\"head_unit\":\"%s\","
             "\"key_ecu\":\"%s\"}}", phu, pecu);
    REFUSED(BUYER, "pairing", "components", c, "only the owner of vehicle " VIN);
    OK(SELLER, "pairing", "components", c);
    /* refusals */
    REFUSED(BUYER, "pairing", "prepair", a, "the device owner " SELLER " must sign");
    s_prepair_args(a, sizeof a, hu, ecu, VIN, "phone-1", SELLER, VIN2, 3);
    REFUSED(SELLER, "pairing", "prepair", a, "component 'key_ecu' reports VIN " VIN2 ", not " VIN);
    s_prepair_args(a, sizeof a, hu, rogue, VIN, "phone-1", SELLER, VIN, 3);
    REFUSED(SELLER, "pairing", "prepair", a, "the signature of component 'key_ecu' does not verify");
    s_prepair_args(a, sizeof a, hu, ecu, VIN, "phone-1", SELLER, VIN, 30);
    REFUSED(SELLER, "pairing", "prepair", a, "pairing is enabled only within 10 m");
    {
        char msg[128], s1[129], one[1024];
        snprintf(msg, sizeof msg, "vledger-pair:%s:%s", VIN, "phone-1");
        s_sign_hex(hu, msg, s1);
        snprintf(one, sizeof one, "{\"vin\":\"" VIN "\",\"device\":{\"id\":\"phone-1\",\"owner\":\""
                 SELLER "\"},\"identifications\":[{\"component\":\"head_unit\",\"vin\":\"" VIN
                 "\",\"signature\":\"%s\"}],\"device_position\":{\"x\":0,\"y\":0},"
                 "\"vehicle_position\":{\"x\":0,\"y\":0}}", s1);
        REFUSED(SELLER, "pairing", "prepair", one, "at least two vehicle components, got 1");
    }
    /* a key holder's device before the owner's own: refused */
    OK(SELLER, "keys", "issue", "{\"vin\":\"" VIN "\",\"holder\":\"" BUYER "\"}");
    s_prepair_args(a, sizeof a, hu, ecu, VIN, "tablet-2", BUYER, VIN, 3);
    REFUSED(BUYER, "pairing", "prepair", a, "the owner's own device must be pre-paired");
    s_prepair_args(a, sizeof a, hu, ecu, VIN, "phone-9", STRANGER, VIN, 3);
    s_register(STRANGER, "Stranger", "people", "[\"buyer\"]", 0);
    REFUSED(STRANGER, "pairing", "prepair", a, "neither owns vehicle " VIN
            " nor holds a valid key for it");
    /* the owner's device, then the key holder's with approval */
    s_prepair_args(a, sizeof a, hu, ecu, VIN, "phone-1", SELLER, VIN, 3);
    OK(SELLER, "pairing", "prepair", a);
    CHECK_STR(s_at("vehicle/" VIN, "devices.0.status"), "paired");
    REFUSED(SELLER, "pairing", "prepair", a, "device phone-1 is already paired with " VIN);
    s_prepair_args(a, sizeof a, hu, ecu, VIN, "tablet-2", BUYER, VIN, 3);
    OK(BUYER, "pairing", "prepair", a);
    CHECK_STR(s_at("vehicle/" VIN, "devices.1.status"), "awaiting_approval");
    char pid[64], pa[256];
    snprintf(pid, sizeof pid, "%s", s_at("vehicle/" VIN, "devices.1.pairing_id"));
    snprintf(pa, sizeof pa, "{\"vin\":\"" VIN "\",\"pairing_id\":\"%s\"}", pid);
    REFUSED(BUYER, "pairing", "approve", pa, "only the owner of vehicle " VIN);
    OK(SELLER, "pairing", "approve", pa);
    CHECK_STR(s_at("vehicle/" VIN, "devices.1.status"), "paired");
    /* common ownership: the seller's second vehicle */
    s_titled_vehicle(VIN2, SELLER);
    REFUSED(BUYER, "pairing", "prepair_common", "{\"vin\":\"" VIN2 "\",\"from_vin\":\"" VIN "\","
            "\"device_id\":\"tablet-2\"}", "you do not own vehicle " VIN2);
    REFUSED(SELLER, "pairing", "prepair_common", "{\"vin\":\"" VIN2 "\",\"from_vin\":\"" VIN "\","
            "\"device_id\":\"nope\"}", "device nope is not paired with " VIN);
    OK(SELLER, "pairing", "prepair_common", "{\"vin\":\"" VIN2 "\",\"from_vin\":\"" VIN "\","
       "\"device_id\":\"phone-1\"}");
    CHECK_STR(s_at("vehicle/" VIN2, "devices.0.via"), VIN);
    /* a sale removes the seller's pairings, keeps others' */
    s_issue(BUYER, 100000);
    s_agree(1000, NULL);
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"id\":\"%s\"}", s_sale_id);
    OK(SELLER, "sale", "confirm", a);
    OK(BUYER, "sale", "confirm", a);
    CHECK_CONTAINS(s_events, "pairing.removed");
    CHECK_STR(s_at("vehicle/" VIN, "devices.0.device_id"), "tablet-2");
    CHECK_STR(s_at("vehicle/" VIN, "devices.1"), "");
    vl_key_destroy(&hu);
    vl_key_destroy(&ecu);
    vl_key_destroy(&rogue);
}

/* --- whole story: insurance removed at sale; conservation across everything ------- */

static void
test_sale_removes_insurance(void)
{
    s_reset();
    s_titled_vehicle(VIN, SELLER);
    s_insure(T0 + 30 * DAY);
    s_issue(BUYER, 100000);
    long long total = s_total();
    char req[64], rkey[128], ra[256];
    snprintf(req, sizeof req, "%s", s_at("vehicle/" VIN, "insurance.request"));
    CHECK(req[0] != '\0');
    snprintf(rkey, sizeof rkey, "service_request/" VIN "/%s", req);
    snprintf(ra, sizeof ra, "{\"vin\":\"" VIN "\",\"id\":\"%s\"}", req);
    REFUSED(INSURER, "insurance", "confirm_end", ra, "is approved, not ended by a sale");
    s_agree(1000, NULL);
    char a[256];
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"id\":\"%s\"}", s_sale_id);
    OK(BUYER, "sale", "confirm", a);
    OK(SELLER, "sale", "confirm", a);
    CHECK_CONTAINS(s_events, "insurance.removed {\"holder\":\"" SELLER "\"");
    CHECK_CONTAINS(s_events, "\"to\":\"" INSURER "\"");
    CHECK_STR(s_at("vehicle/" VIN, "insurance"), "");
    /* the seller's insurer confirms the cancellation, once */
    CHECK_STR(s_at(rkey, "status"), "ended_by_sale");
    REFUSED(SELLER, "insurance", "confirm_end", ra, "only the provider " INSURER);
    OK(INSURER, "insurance", "confirm_end", ra);
    CHECK_STR(s_at(rkey, "status"), "ended");
    CHECK_CONTAINS(s_events, "insurance.end_confirmed");
    CHECK_CONTAINS(s_events, "\"to\":\"" SELLER "\"");
    REFUSED(INSURER, "insurance", "confirm_end", ra, "is ended, not ended by a sale");
    /* no premium is charged to the buyer for the seller's policy */
    s_now += DAY;
    REFUSED(STRANGER, "schedule", "run_due", "{}", "nothing is due");
    CHECK_EQ(s_total(), total);
    CONSERVED();
}

/* --- trust: roles through organisations, the parties act in their own right ------ */

#define EVE "did:vl:e0e0000000000000000000000000000000000000"

static void
test_roles_through_organisations(void)
{
    s_reset();
    /* a node identity holds its organisation's roles without enrolment */
    OK(SELLER, "title", "onboard",
       "{\"vin\":\"" VIN "\",\"make\":\"Honda\",\"model\":\"Accord\",\"year\":2003,"
       "\"agency\":\"" AGENCY_NODE "\"}");
    CHECK_EQ(s_wallet(AGENCY_NODE), 2500);
    REFUSED(AGENCY, "title", "answer", "{\"vin\":\"" VIN "\",\"decision\":\"issue\","
            "\"number\":\"X\"}", "only the agency " AGENCY_NODE " handling the title request");
    OK(AGENCY_NODE, "title", "answer", "{\"vin\":\"" VIN "\",\"decision\":\"issue\","
       "\"number\":\"N-1\"}");
    CHECK_STR(s_at("vehicle/" VIN, "title.issuer"), AGENCY_NODE);

    /* an identity of an organisation that does not hold the role is refused,
     * whatever its document claims */
    fake_put(&s_fs, "did/" EVE, "{\"did\":\"" EVE "\",\"name\":\"Eve\",\"org\":\"people\","
             "\"roles\":[\"title_agency\",\"lender\",\"insurer\",\"registration_authority\"],"
             "\"enrolled\":{\"lender\":{\"org\":\"bank\",\"by\":\"" BANK_NODE "\"}}}");
    fake_put(&s_fs, "wallet/" EVE, "0");
    OK(SELLER, "title", "onboard",
       "{\"vin\":\"" VIN2 "\",\"make\":\"Honda\",\"model\":\"Accord\",\"year\":2003}");
    REFUSED(SELLER, "title", "request", "{\"vin\":\"" VIN2 "\",\"agency\":\"" EVE "\"}",
            "identity " EVE " does not hold the role title_agency");
    REFUSED(SELLER, "title", "request", "{\"vin\":\"" VIN2 "\",\"agency\":\"" PEOPLE_NODE "\"}",
            "identity " PEOPLE_NODE " does not hold the role title_agency");
    REFUSED(SELLER, "title", "request_registration", "{\"vin\":\"" VIN "\",\"authority\":\""
            EVE "\"}", "identity " EVE " does not hold the role registration_authority");
    REFUSED(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":5000,\"finance\":"
            "{\"lender\":\"" EVE "\",\"amount\":100}}",
            "lender " EVE " does not hold the role lender");
    REFUSED(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":5000,\"authority\":\""
            EVE "\"}", "authority " EVE " does not hold the role registration_authority");
    char a[512];
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"provider\":\"%s\",\"policy\":\"P-1\","
             "\"coverage\":100000,\"premium\":1000,\"period_ms\":%lld,\"valid_until\":%lld}",
             EVE, DAY, T0 + 10 * DAY);
    REFUSED(SELLER, "insurance", "request", a, "provider " EVE " does not hold the role insurer");
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"provider\":\"%s\",\"policy\":\"P-1\","
             "\"coverage\":100000,\"premium\":1000,\"period_ms\":%lld,\"valid_until\":%lld}",
             PARKER, DAY, T0 + 10 * DAY);
    REFUSED(SELLER, "insurance", "request", a, "provider " PARKER " does not hold the role insurer");
    REFUSED(EVE, "insurance", "set_rule", "{\"min_coverage\":1}",
            "only an identity holding the role registration_authority may set service rules");
    REFUSED(EVE, "wallet", "issue", "{\"to\":\"" EVE "\",\"cents\":1}",
            "only an identity of an issuer organisation may issue money: " EVE
            " does not hold the role issuer");
    /* the lender enrolled by its bank may lend, but not issue */
    REFUSED(LENDER, "wallet", "issue", "{\"to\":\"" LENDER "\",\"cents\":1}",
            "does not hold the role issuer");

    /* an organisation that no longer holds a role: its enrolled identities
     * lose it mid-flow */
    OK(SELLER, "title", "request", "{\"vin\":\"" VIN2 "\",\"agency\":\"" AGENCY "\"}");
    OK(SELLER, "title", "request_registration", "{\"vin\":\"" VIN "\",\"authority\":\"" AUTH "\"}");
    fake_org(&s_fs, "agency", "[\"validator\"]", "[\"" AGENCY_NODE "\"]");
    REFUSED(AGENCY, "title", "answer", "{\"vin\":\"" VIN2 "\",\"decision\":\"issue\","
            "\"number\":\"X\"}", "the agency " AGENCY " no longer holds the role title_agency, "
            "so it cannot answer the request");
    REFUSED(AUTH, "title", "register", "{\"vin\":\"" VIN "\",\"plate\":\"B-1\"}",
            "the authority " AUTH " does not hold the role registration_authority, so it "
            "cannot register vehicles");
    REFUSED(AUTH, "insurance", "set_rule", "{\"min_coverage\":1}",
            "only an identity holding the role registration_authority may set service rules");
    REFUSED(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":5000}",
            "title agency " AGENCY_NODE " does not hold the role title_agency");
    fake_org(&s_fs, "agency", "[\"title_agency\",\"registration_authority\",\"validator\"]",
             "[\"" AGENCY_NODE "\"]");
    OK(AGENCY, "title", "answer", "{\"vin\":\"" VIN2 "\",\"decision\":\"issue\","
       "\"number\":\"X\"}");
    OK(AUTH, "title", "register", "{\"vin\":\"" VIN "\",\"plate\":\"B-1\"}");
    CONSERVED();
}

/* The title is transferred only by the vehicle's own agency; the sale names
 * no other. */
static void
test_sale_agency_is_the_title_issuer(void)
{
    s_reset();
    OK(SELLER, "title", "onboard",
       "{\"vin\":\"" VIN "\",\"make\":\"Honda\",\"model\":\"Accord\",\"year\":2003}");
    REFUSED(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":5000,\"agency\":\""
            AGENCY "\"}", "vehicle " VIN " has no title issued by a title agency: its owner must "
            "obtain one first (`vledger title request --vin " VIN " --agency DID`)");
    OK(SELLER, "title", "request", "{\"vin\":\"" VIN "\",\"agency\":\"" AGENCY "\"}");
    REFUSED(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":5000}",
            "vehicle " VIN " has no title issued by a title agency");
    OK(AGENCY, "title", "answer", "{\"vin\":\"" VIN "\",\"decision\":\"issue\","
       "\"number\":\"T-1\"}");
    /* another agency the buyer names: refused, even one holding the role */
    REFUSED(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":5000,\"agency\":\""
            AGENCY_NODE "\"}", "the title of " VIN " is transferred only by its title agency "
            AGENCY ", which issued it, not by " AGENCY_NODE ": omit agency");
    REFUSED(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":5000,\"agency\":\""
            BUYER "\"}", "is transferred only by its title agency " AGENCY);
    /* naming the vehicle's own agency is fine */
    OK(BUYER, "sale", "request", "{\"vin\":\"" VIN "\",\"price\":5000,\"agency\":\"" AGENCY
       "\"}");
    char key[128], id[32];
    snprintf(id, sizeof id, "%s", strstr(s_result, "\"id\":\"") + 6);
    *strchr(id, '"') = '\0';
    snprintf(key, sizeof key, "sale/" VIN "/%s", id);
    CHECK_STR(s_at(key, "agency"), AGENCY);
    OK(SELLER, "sale", "answer", "{\"vin\":\"" VIN "\"}");
    OK(BUYER, "sale", "accept", "{\"vin\":\"" VIN "\"}");
    s_issue(BUYER, 10000);
    long long total = s_total();
    char a[256];
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"id\":\"%s\"}", id);
    OK(SELLER, "sale", "confirm", a);
    /* the title was reissued by another agency meanwhile: no settlement */
    s_patch("vehicle/" VIN, "title", "issuer", "\"" AGENCY_NODE "\"");
    REFUSED(BUYER, "sale", "confirm", a, "the title of " VIN " was reissued by " AGENCY_NODE
            " since sale ");
    REFUSED(BUYER, "sale", "confirm", a, ": abort it and request the sale again");
    s_patch("vehicle/" VIN, "title", "issuer", "\"" AGENCY "\"");
    /* the agency's organisation dropped title_agency meanwhile */
    fake_org(&s_fs, "agency", "[\"registration_authority\"]", "[\"" AGENCY_NODE "\"]");
    REFUSED(BUYER, "sale", "confirm", a, "the title agency " AGENCY " no longer holds the role "
            "title_agency; the sale cannot settle");
    fake_org(&s_fs, "agency", "[\"title_agency\",\"registration_authority\"]",
             "[\"" AGENCY_NODE "\"]");
    OK(BUYER, "sale", "confirm", a);
    CHECK_CONTAINS(s_result, "\"status\":\"settled\"");
    CHECK_STR(s_at("vehicle/" VIN, "title.issuer"), AGENCY);
    CHECK_CONTAINS(s_events, "title.transferred {\"agency\":\"" AGENCY "\"");
    CHECK_EQ(s_total(), total);
    CONSERVED();
}

/* A financed sale whose lender lost the role does not settle; a seller's
 * vehicle policy does not pass to the buyer. */
static void
test_settlement_trust(void)
{
    s_reset();
    s_titled_vehicle(VIN, SELLER);
    s_register(STRANGER, "Other Bank", "otherbank", "[]", 0);
    s_enrol(OTHERBANK_NODE, STRANGER, "lender");
    s_issue(STRANGER, 100000);
    s_issue(BUYER, 20000);
    long long total = s_total();
    OK(SELLER, "vehicle", "set_policy", "{\"vin\":\"" VIN "\",\"policy\":\"all(owner,org:people)\"}");
    CHECK_STR(s_at("vehicle/" VIN, "endorsement_policy"), "all(owner,org:people)");
    s_agree(90000, ",\"finance\":{\"lender\":\"" STRANGER "\",\"amount\":80000}");
    char a[256];
    snprintf(a, sizeof a, "{\"vin\":\"" VIN "\",\"id\":\"%s\"}", s_sale_id);
    OK(SELLER, "sale", "confirm", a);
    OK(BUYER, "sale", "confirm", a);
    fake_org(&s_fs, "otherbank", "[]", "[\"" OTHERBANK_NODE "\"]");
    REFUSED(STRANGER, "sale", "confirm", a, "the lender " STRANGER " no longer holds the role "
            "lender; the sale cannot settle");
    fake_org(&s_fs, "otherbank", "[\"lender\"]", "[\"" OTHERBANK_NODE "\"]");
    OK(STRANGER, "sale", "confirm", a);
    CHECK_CONTAINS(s_result, "\"status\":\"settled\"");
    CHECK_STR(s_at("vehicle/" VIN, "owner"), BUYER);
    CHECK_STR(s_at("vehicle/" VIN, "endorsement_policy"), "");
    CHECK_CONTAINS(s_events, "vehicle.policy_set {\"by\":\"" BUYER "\",\"policy\":null,"
                             "\"previous\":\"all(owner,org:people)\"");
    REFUSED(SELLER, "vehicle", "set_policy", "{\"vin\":\"" VIN "\",\"policy\":\"owner\"}",
            "only the owner " BUYER " of vehicle " VIN " may set its endorsement policy");
    OK(BUYER, "vehicle", "set_policy", "{\"vin\":\"" VIN "\",\"policy\":\"owner\"}");
    CHECK_EQ(s_total(), total);
    CONSERVED();
    /* money leaves only by redemption, which keeps the books */
    OK(BANK_NODE, "wallet", "redeem", "{\"from\":\"" SELLER "\",\"cents\":1000}");
    CHECK_EQ(s_total(), total - 1000);
    CONSERVED();
}

/* The test's stand-in for the node's policy parser: accepts every text but
 * one holding "bogus". */
static int
s_policy_check(const char *text, char *msg, size_t size)
{
    if (strstr(text, "bogus")) {
        snprintf(msg, size, "policy: unknown principal 'bogus'");
        return VL_ERR_INVALID;
    }
    return 0;
}

int
main(void)
{
    vm_config_t cfg = vm_config_default();
    cfg.policy_check = s_policy_check;
    s_vm = vm_new(&cfg);
    RUN(test_title);
    RUN(test_sale_conditions);
    RUN(test_sale_condition_moves_funds);
    RUN(test_sale_abort_and_deadline);
    RUN(test_settlement_cash);
    RUN(test_settlement_financed_and_schedule);
    RUN(test_settlement_lender_short);
    RUN(test_insurance);
    RUN(test_keys);
    RUN(test_pairing);
    RUN(test_sale_removes_insurance);
    RUN(test_roles_through_organisations);
    RUN(test_sale_agency_is_the_title_issuer);
    RUN(test_settlement_trust);
    fake_free(&s_fs);
    vm_destroy(&s_vm);
    return check_done();
}
