/*
 * test_policy.c — the genesis organisations (orgs.h) and the endorsement
 * policy language (policy.h): parsing (every error and its message),
 * canonical text, resolution of each principal against an in-memory state
 * (../contracts/fake_state.h) with the read set it records, optional
 * principals, satisfaction, plans (minimal, preferring the gateway's own
 * organisation, deterministic), per-key policies, and the limits.
 *
 * Deterministic: the "random" policies come from a fixed-seed LCG.
 */
#include <stdarg.h>
#include <stdlib.h>

#include "check.h"
#include "stdcontracts.h"
#include <jansson.h>
#include "contracts/fake_state.h"
#include "orgs.h"
#include "policy.h"

/* ── Fixture: six organisations, a few identities and vehicles ────────── */

enum { AGENCY1, AGENCY2, LENDER1, DEALER1, INSURER1, PEOPLE, N_ORGS };

#define HEX40(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define DID_SELLER "did:vl:" HEX40("1")   /* dealer1 */
#define DID_BUYER "did:vl:" HEX40("2")    /* people */
#define DID_LENDER "did:vl:" HEX40("3")   /* lender1 */
#define DID_NOORG "did:vl:" HEX40("4")    /* registered, no org */
#define DID_GHOST "did:vl:" HEX40("5")    /* names an org not in the network */
#define DID_UNREG "did:vl:" HEX40("6")    /* not registered */
#define DID_BADORG "did:vl:" HEX40("7")   /* "org": 5 */
#define DID_AGENT "did:vl:" HEX40("8")    /* agency2 */
#define DID_DEALER2 "did:vl:" HEX40("9")  /* dealer1 */

#define VIN_LIEN "1HGCM82633A000001"      /* seller's, financed by lender1 */
#define VIN_FREE "1HGCM82633A000002"      /* buyer's, no financing */
#define VIN_NULLF "1HGCM82633A000003"     /* seller's, "financing": null */
#define VIN_NOLENDER "1HGCM82633A000004"  /* seller's, financing without lender */
#define VIN_NOORG "1HGCM82633A000005"     /* owner has no organisation */
#define VIN_UNREG "1HGCM82633A004352"     /* not registered */
#define VIN_KEYPOL "1HGCM82633A000006"    /* seller's, its own policy */
#define VIN_BADPOL "1HGCM82633A000007"    /* a stored policy that does not parse */
#define VIN_TITLE "1HGCM82633A000008"     /* seller's, title issued by DID_AGENT */
#define VIN_POLINS "1HGCM82633A000009"    /* seller's, its own policy org:insurer1 */

/* fake_set with the value's length and a version {block, tx}. */
#define FSET(fs, key, value, block, tx) \
    fake_set((fs), (key), (value), strlen(value), (vl_version_t) { (block), (tx) })

static orgs_t g_orgs;
static fake_state_t g_fs;

static void
s_put(const char *key, const char *value, uint64_t block, uint32_t tx)
{
    fake_set(&g_fs, key, value, strlen(value), (vl_version_t) { block, tx });
}

static void
s_fixture(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    const char *a1[] = { "title_agency", "registration_authority" };
    const char *a2[] = { "title_agency" };
    const char *l1[] = { "lender" };
    const char *d1[] = { "dealer" };
    const char *i1[] = { "insurer" };
    vl_err_t err;
    CHECK_EQ(orgs_add(&g_orgs, "agency1", a1, 2, &err), 0);
    CHECK_EQ(orgs_add(&g_orgs, "agency2", a2, 1, &err), 0);
    CHECK_EQ(orgs_add(&g_orgs, "lender1", l1, 1, &err), 0);
    CHECK_EQ(orgs_add(&g_orgs, "dealer1", d1, 1, &err), 0);
    CHECK_EQ(orgs_add(&g_orgs, "insurer1", i1, 1, &err), 0);
    CHECK_EQ(orgs_add(&g_orgs, "people", NULL, 0, &err), 0);
    CHECK_EQ(g_orgs.count, N_ORGS);

    s_put("did/" DID_SELLER, "{\"name\":\"S\",\"org\":\"dealer1\"}", 3, 1);
    s_put("did/" DID_BUYER, "{\"name\":\"B\",\"org\":\"people\"}", 4, 0);
    s_put("did/" DID_LENDER, "{\"name\":\"L\",\"org\":\"lender1\"}", 2, 5);
    s_put("did/" DID_NOORG, "{\"name\":\"N\"}", 2, 6);
    s_put("did/" DID_GHOST, "{\"name\":\"G\",\"org\":\"nowhere\"}", 2, 7);
    s_put("did/" DID_BADORG, "{\"name\":\"X\",\"org\":5}", 2, 8);
    s_put("vehicle/" VIN_LIEN,
          "{\"vin\":\"" VIN_LIEN "\",\"owner\":\"" DID_SELLER "\","
          "\"financing\":{\"lender\":\"" DID_LENDER "\",\"balance\":100}}", 7, 2);
    s_put("vehicle/" VIN_FREE, "{\"vin\":\"" VIN_FREE "\",\"owner\":\"" DID_BUYER "\"}", 8, 0);
    s_put("vehicle/" VIN_NULLF,
          "{\"vin\":\"" VIN_NULLF "\",\"owner\":\"" DID_SELLER "\",\"financing\":null}", 8, 1);
    s_put("vehicle/" VIN_NOLENDER,
          "{\"owner\":\"" DID_SELLER "\",\"financing\":{\"balance\":3}}", 8, 2);
    s_put("vehicle/" VIN_NOORG, "{\"owner\":\"" DID_NOORG "\"}", 8, 3);
    s_put("vehicle/" VIN_KEYPOL,
          "{\"endorsement_policy\":\"all(owner,org:agency1)\",\"owner\":\"" DID_SELLER "\"}",
          9, 4);
    s_put("vehicle/" VIN_BADPOL, "{\"endorsement_policy\":\"ownr\",\"owner\":\"" DID_SELLER "\"}",
          9, 5);
    s_put("wallet/" DID_SELLER, "500", 9, 6);
    s_put("did/" DID_AGENT, "{\"name\":\"A\",\"org\":\"agency2\"}", 2, 9);
    s_put("did/" DID_DEALER2, "{\"name\":\"D2\",\"org\":\"dealer1\"}", 2, 10);
    s_put("wallet/" DID_AGENT, "100", 9, 7);
    s_put("wallet/" DID_DEALER2, "50", 9, 8);
    s_put("vehicle/" VIN_TITLE,
          "{\"vin\":\"" VIN_TITLE "\",\"owner\":\"" DID_SELLER "\","
          "\"title\":{\"issuer\":\"" DID_AGENT "\",\"previous\":null}}", 9, 9);
    s_put("vehicle/" VIN_POLINS,
          "{\"endorsement_policy\":\"org:insurer1\",\"owner\":\"" DID_SELLER "\"}", 9, 10);
}

static org_set_t
s_set(int first, ...)
{
    org_set_t s = { { 0 } };
    va_list ap;
    va_start(ap, first);
    for (int o = first; o >= 0; o = va_arg(ap, int))
        org_set_add(&s, o);
    va_end(ap);
    return s;
}

static bool
s_set_eq(org_set_t a, org_set_t b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* NULL-tolerant wrappers: a resolution that failed has already failed a
 * check, and the run goes on to show every other failure. */
static bool
s_sat(const policy_resolved_t *r, const org_set_t *e, vl_err_t *why)
{
    return r && policy_satisfied(r, e, why);
}

static size_t
s_plan_of(const policy_resolved_t *r, int pref, org_set_t *out)
{
    memset(out, 0, sizeof *out);
    return r ? policy_plan(r, pref, out) : 0;
}

static size_t
s_nreads(const policy_resolved_t *r)
{
    return r ? policy_resolved_read_count(r) : 0;
}

static const policy_read_t *
s_read_at(const policy_resolved_t *r, size_t i)
{
    static const policy_read_t none = { "(no read)", false, { 0, 0 } };
    return r && i < policy_resolved_read_count(r) ? policy_resolved_read(r, i) : &none;
}

static policy_env_t
s_env(const char *args)
{
    return (policy_env_t) { .ctx = &g_fs, .get = fake_get, .args_json = args, .orgs = &g_orgs };
}

/* Parses and resolves text against the fixture; NULL (with a failed check)
 * if either fails. */
static policy_resolved_t *
s_resolved(const char *text, const char *args)
{
    policy_t *p = NULL;
    policy_resolved_t *r = NULL;
    vl_err_t err = { "" };
    policy_env_t env = s_env(args);
    if (policy_parse(text, &p, &err) != 0 || policy_resolve(p, &env, &r, &err) != 0) {
        fprintf(stderr, "  %s with %s: %s\n", text, args ? args : "{}", err.msg);
        CHECK(!"policy parses and resolves");
    }
    policy_destroy(&p);
    return r;
}

/* The resolution error code of text, with its message in *err. */
static int
s_resolve_fails(const char *text, const char *args, vl_err_t *err)
{
    policy_t *p = NULL;
    policy_resolved_t *r = (policy_resolved_t *) &r;   /* sentinel: must stay */
    policy_env_t env = s_env(args);
    int rc = policy_parse(text, &p, err);
    CHECK_EQ(rc, 0);
    if (rc)
        return rc;
    rc = policy_resolve(p, &env, &r, err);
    CHECK(r == (policy_resolved_t *) &r);   /* untouched on failure */
    if (rc == 0) {
        r = NULL;
        CHECK(!"resolution fails");
    }
    policy_destroy(&p);
    return rc;
}

/* The plan for text/args with preference pref. */
static org_set_t
s_plan(const char *text, const char *args, int pref)
{
    org_set_t out = { { 0 } };
    policy_resolved_t *r = s_resolved(text, args);
    if (r) {
        size_t n = s_plan_of(r, pref, &out);
        CHECK_EQ(n, org_set_count(&out));
        CHECK(s_sat(r, &out, NULL));   /* a plan always satisfies */
    }
    policy_resolved_destroy(&r);
    return out;
}

/* ── orgs ─────────────────────────────────────────────────────────────── */

static void
test_orgs(void)
{
    orgs_t o = { .count = 0 };
    vl_err_t err;
    const char *roles[] = { "lender", "insurer" };
    CHECK_EQ(orgs_add(&o, "bank-1_a", roles, 2, &err), 0);
    CHECK_EQ(o.count, 1);
    CHECK_EQ(orgs_find(&o, "bank-1_a"), 0);
    CHECK_EQ(orgs_find(&o, "bank"), VL_ERR_NOT_FOUND);
    CHECK(org_has_role(&o.items[0], ORG_ROLE_LENDER));
    CHECK(org_has_role(&o.items[0], ORG_ROLE_INSURER));
    CHECK(!org_has_role(&o.items[0], ORG_ROLE_DEALER));

    CHECK_EQ(orgs_add(&o, "bank-1_a", NULL, 0, &err), VL_ERR_EXISTS);
    CHECK_STR(err.msg, "organisation 'bank-1_a' is listed twice");
    CHECK_EQ(orgs_add(&o, "Bank", NULL, 0, &err), VL_ERR_INVALID);
    CHECK_STR(err.msg, "organisation name 'Bank' is not 1..63 of [a-z0-9_-]");
    CHECK_EQ(orgs_add(&o, "", NULL, 0, &err), VL_ERR_INVALID);
    CHECK_EQ(orgs_add(&o, NULL, NULL, 0, &err), VL_ERR_INVALID);
    char longname[80];
    memset(longname, 'a', 64);
    longname[64] = '\0';
    CHECK_EQ(orgs_add(&o, longname, NULL, 0, &err), VL_ERR_INVALID);
    longname[63] = '\0';
    CHECK_EQ(orgs_add(&o, longname, NULL, 0, &err), 0);   /* 63 is the maximum */
    const char *bad[] = { "lender", "lendr" };
    CHECK_EQ(orgs_add(&o, "bank2", bad, 2, &err), VL_ERR_INVALID);
    CHECK_STR(err.msg, "organisation 'bank2': unknown role 'lendr'");
    const char *twice[] = { "dealer", "dealer" };
    CHECK_EQ(orgs_add(&o, "bank2", twice, 2, &err), VL_ERR_INVALID);
    CHECK_STR(err.msg, "organisation 'bank2': role 'dealer' listed twice");
    const char *many[ORG_ROLES_MAX + 1];
    for (int i = 0; i <= ORG_ROLES_MAX; i++)
        many[i] = "dealer";
    CHECK_EQ(orgs_add(&o, "bank2", many, ORG_ROLES_MAX + 1, &err), VL_ERR_LIMIT);
    CHECK_STR(err.msg, "organisation 'bank2': more than 16 roles");
    CHECK_EQ(o.count, 2);   /* failures left it unchanged */
    CHECK_EQ(orgs_find(&o, "bank2"), VL_ERR_NOT_FOUND);

    /* Every known role round-trips by name. */
    for (int r = 0; r < ORG_ROLE_COUNT; r++) {
        org_role_t back;
        const char *name = org_role_name((org_role_t) r);
        CHECK(name != NULL);
        CHECK_EQ(org_role_parse(name, strlen(name), &back), 0);
        CHECK_EQ(back, r);
    }
    org_role_t x;
    CHECK(org_role_name(ORG_ROLE_COUNT) == NULL);
    CHECK_EQ(org_role_parse("lende", 5, &x), VL_ERR_NOT_FOUND);
    CHECK_EQ(org_role_parse("lender", 5, &x), VL_ERR_NOT_FOUND);
    CHECK_EQ(org_role_parse("validator", 9, &x), 0);
    CHECK_EQ(x, ORG_ROLE_VALIDATOR);

    /* Full network. */
    orgs_t full = { .count = 0 };
    for (int i = 0; i < ORGS_MAX; i++) {
        char name[16];
        snprintf(name, sizeof name, "o%d", i);
        CHECK_EQ(orgs_add(&full, name, NULL, 0, &err), 0);
    }
    CHECK_EQ(orgs_add(&full, "one-more", NULL, 0, &err), VL_ERR_LIMIT);
    char want[80];
    snprintf(want, sizeof want, "organisation 'one-more': more than %d organisations", ORGS_MAX);
    CHECK_STR(err.msg, want);
    CHECK_EQ(orgs_find(&full, "o63"), 63);

    /* Sets. */
    org_set_t s = { { 0 } };
    CHECK_EQ(org_set_first(&s), -1);
    org_set_add(&s, 63);
    org_set_add(&s, 5);
    CHECK_EQ(org_set_count(&s), 2);
    CHECK_EQ(org_set_first(&s), 5);
    CHECK(org_set_has(&s, 63) && !org_set_has(&s, 6) && !org_set_has(&s, -1));
    CHECK(!org_set_has(&s, ORGS_MAX));
    s_fixture();
    CHECK(s_set_eq(orgs_with_role(&g_orgs, ORG_ROLE_TITLE_AGENCY), s_set(AGENCY1, AGENCY2, -1)));
    CHECK(s_set_eq(orgs_with_role(&g_orgs, ORG_ROLE_ISSUER), s_set(-1)));
}

/* ── parsing ──────────────────────────────────────────────────────────── */

static void
test_parse_good(void)
{
    static const struct {
        const char *in, *canonical;
    } cases[] = {
        { "owner", "owner" },
        { "  owner \n", "owner" },
        { "any", "any" },
        { "lienholder?", "lienholder?" },
        { "lienholder ?", "lienholder?" },
        { "owner?", "owner?" },
        { "role:title_agency", "role:title_agency" },
        { "role : registration_authority", "role:registration_authority" },
        { "org:lender1", "org:lender1" },
        { "org:a-b_9", "org:a-b_9" },
        { "id:" DID_SELLER, "id:" DID_SELLER },
        { "arg:buyer", "arg:buyer" },
        { "arg:finance.lender?", "arg:finance.lender?" },
        { "arg:A_b.C9", "arg:A_b.C9" },
        { "all(owner, arg:buyer, role:title_agency, lienholder?)",
          "all(owner,arg:buyer,role:title_agency,lienholder?)" },
        { "any(owner,arg:buyer)", "any(owner,arg:buyer)" },
        { "any (owner)", "any(owner)" },
        { "k_of(2, owner, arg:buyer, lienholder?)", "k_of(2,owner,arg:buyer,lienholder?)" },
        { "k_of( 02 ,owner,owner)", "k_of(2,owner,owner)" },
        { "\tall(\r\n any( org:a , org:b ) ,\n k_of(1, any) )",
          "all(any(org:a,org:b),k_of(1,any))" },
        { "all(all(all(owner)))", "all(all(all(owner)))" },
        { "all(owner,owner)", "all(owner,owner)" },
        /* the standard contracts' policies (contracts/lib/ *.lua) */
        { "all(owner,role:title_agency,lienholder?)", "all(owner,role:title_agency,lienholder?)" },
        { "role:registration_authority", "role:registration_authority" },
        /* creator and vehicle paths; owner and lienholder keep their spelling */
        { "creator", "creator" },
        { " creator\n", "creator" },
        { "vehicle:title.issuer", "vehicle:title.issuer" },
        { "vehicle : owner ?", "vehicle:owner?" },
        { "vehicle:financing.lender", "vehicle:financing.lender" },
        { "all(owner, vehicle:owner, lienholder?, vehicle:financing.lender?)",
          "all(owner,vehicle:owner,lienholder?,vehicle:financing.lender?)" },
        { "all(creator, arg:org, vehicle:title.issuer?)",
          "all(creator,arg:org,vehicle:title.issuer?)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        policy_t *p = NULL, *q = NULL;
        vl_err_t err = { "" };
        int rc = policy_parse(cases[i].in, &p, &err);
        if (rc)
            fprintf(stderr, "  '%s': %s\n", cases[i].in, err.msg);
        CHECK_EQ(rc, 0);
        if (!p)
            continue;
        CHECK_STR(policy_text(p), cases[i].canonical);
        /* the canonical text parses to itself */
        CHECK_EQ(policy_parse(policy_text(p), &q, &err), 0);
        if (q)
            CHECK_STR(policy_text(q), cases[i].canonical);
        policy_destroy(&p);
        policy_destroy(&q);
        CHECK(p == NULL);
    }
    policy_destroy(NULL);   /* accepted */
}

static void
test_parse_errors(void)
{
    static const struct {
        const char *in;
        int code;
        const char *msg;
    } cases[] = {
        { "", VL_ERR_INVALID, "policy: empty policy at 1" },
        { "  \n", VL_ERR_INVALID, "policy: empty policy at 4" },
        { "ownr", VL_ERR_INVALID, "policy: unknown principal 'ownr' at 1" },
        { "all(ownr)", VL_ERR_INVALID, "policy: unknown principal 'ownr' at 5" },
        { "Owner", VL_ERR_INVALID, "policy: unknown principal 'Owner' at 1" },
        { ",", VL_ERR_INVALID, "policy: expected a principal or combinator, found ',' at 1" },
        { "\x01", VL_ERR_INVALID,
          "policy: expected a principal or combinator, found byte 0x01 at 1" },
        { "all(", VL_ERR_INVALID,
          "policy: expected a principal or combinator, found the end at 5" },
        { "all", VL_ERR_INVALID, "policy: expected '(' after 'all', found the end at 4" },
        { "k_of owner", VL_ERR_INVALID, "policy: expected '(' after 'k_of', found 'o' at 6" },
        { "all()", VL_ERR_INVALID, "policy: all() needs at least one entry at 5" },
        { "any( )", VL_ERR_INVALID, "policy: any() needs at least one entry at 6" },
        { "k_of(1,)", VL_ERR_INVALID,
          "policy: k_of() needs at least one entry at 8" },
        { "all(owner", VL_ERR_INVALID,
          "policy: expected ',' or ')' in all(...), found the end at 10" },
        { "all(owner owner)", VL_ERR_INVALID,
          "policy: expected ',' or ')' in all(...), found 'o' at 11" },
        { "all(owner,)", VL_ERR_INVALID,
          "policy: expected a principal or combinator, found ')' at 11" },
        { "k_of(,owner)", VL_ERR_INVALID, "policy: k_of needs a number k first, found ',' at 6" },
        { "k_of(0,owner)", VL_ERR_INVALID, "policy: k_of: k must be at least 1 at 6" },
        { "k_of(99999,owner)", VL_ERR_INVALID, "policy: k_of: k is too large at 6" },
        { "k_of(2 owner)", VL_ERR_INVALID, "policy: expected ',' after k_of's k, found 'o' at 8" },
        { "k_of(3, owner, arg:buyer)", VL_ERR_INVALID,
          "policy: k_of: k=3 but only 2 entries at 6" },
        { "role lender", VL_ERR_INVALID, "policy: expected ':' after 'role', found 'l' at 6" },
        { "role:", VL_ERR_INVALID, "policy: missing name after 'role:', found the end at 6" },
        { "org:,", VL_ERR_INVALID, "policy: missing name after 'org:', found ',' at 5" },
        { "role:banker", VL_ERR_INVALID, "policy: unknown role 'banker' at 6" },
        { "org:Bank!", VL_ERR_INVALID,
          "policy: bad organisation name 'Bank!' (1..63 of [a-z0-9_-]) at 5" },
        { "id:did:vl:123", VL_ERR_INVALID, "policy: 'did:vl:123' is not a DID at 4" },
        { "id:did:vl:" HEX40("A"), VL_ERR_INVALID,
          "policy: 'did:vl:" HEX40("A") "' is not a DID at 4" },
        { "arg:a..b", VL_ERR_INVALID,
          "policy: bad argument field 'a..b' (names of [A-Za-z0-9_] joined by '.', at most 63 "
          "bytes) at 5" },
        { "arg:.a", VL_ERR_INVALID,
          "policy: bad argument field '.a' (names of [A-Za-z0-9_] joined by '.', at most 63 "
          "bytes) at 5" },
        { "arg:a-b", VL_ERR_INVALID,
          "policy: bad argument field 'a-b' (names of [A-Za-z0-9_] joined by '.', at most 63 "
          "bytes) at 5" },
        { "role:lender?", VL_ERR_INVALID,
          "policy: 'role:lender' cannot be optional (only owner, lienholder, vehicle: and arg: "
          "can name nothing) at 12" },
        { "any ?", VL_ERR_INVALID,
          "policy: 'any' cannot be optional (only owner, lienholder, vehicle: and arg: can "
          "name nothing) at 5" },
        { "org:x?", VL_ERR_INVALID,
          "policy: 'org:x' cannot be optional (only owner, lienholder, vehicle: and arg: can "
          "name nothing) at 6" },
        { "owner??", VL_ERR_INVALID, "policy: unexpected '?' after the end of the policy at 7" },
        { "owner owner", VL_ERR_INVALID,
          "policy: unexpected 'o' after the end of the policy at 7" },
        { "owner)", VL_ERR_INVALID, "policy: unexpected ')' after the end of the policy at 6" },
        { "all(owner))", VL_ERR_INVALID,
          "policy: unexpected ')' after the end of the policy at 11" },
        { "creator?", VL_ERR_INVALID,
          "policy: 'creator' cannot be optional (only owner, lienholder, vehicle: and arg: "
          "can name nothing) at 8" },
        { "creator:x", VL_ERR_INVALID, "policy: unexpected ':' after the end of the policy at 8" },
        { "Creator", VL_ERR_INVALID, "policy: unknown principal 'Creator' at 1" },
        { "vehicle", VL_ERR_INVALID, "policy: expected ':' after 'vehicle', found the end at 8" },
        { "vehicle:", VL_ERR_INVALID,
          "policy: missing name after 'vehicle:', found the end at 9" },
        { "vehicle:a..b", VL_ERR_INVALID,
          "policy: bad vehicle path 'a..b' (names of [A-Za-z0-9_] joined by '.', at most 63 "
          "bytes) at 9" },
        { "vehicle:title-x", VL_ERR_INVALID,
          "policy: bad vehicle path 'title-x' (names of [A-Za-z0-9_] joined by '.', at most 63 "
          "bytes) at 9" },
        { "all(any?)", VL_ERR_INVALID,
          "policy: 'any' cannot be optional (only owner, lienholder, vehicle: and arg: can "
          "name nothing) at 8" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        policy_t *p = (policy_t *) &p;   /* sentinel: must stay untouched */
        vl_err_t err = { "" };
        int rc = policy_parse(cases[i].in, &p, &err);
        if (rc != cases[i].code || strcmp(err.msg, cases[i].msg) != 0)
            fprintf(stderr, "  case %zu '%s'\n", i, cases[i].in);
        CHECK_EQ(rc, cases[i].code);
        CHECK_STR(err.msg, cases[i].msg);
        CHECK(p == (policy_t *) &p);
    }
    /* A NULL err is allowed. */
    policy_t *p = NULL;
    CHECK_EQ(policy_parse("ownr", &p, NULL), VL_ERR_INVALID);
    CHECK(p == NULL);
}

/* Builds "all(all(...(owner)...))" with depth combinators. */
static void
s_nested(char *buf, size_t size, int depth)
{
    size_t at = 0;
    for (int i = 0; i < depth; i++)
        at += (size_t) snprintf(buf + at, size - at, "all(");
    at += (size_t) snprintf(buf + at, size - at, "owner");
    for (int i = 0; i < depth; i++)
        at += (size_t) snprintf(buf + at, size - at, ")");
}

static void
test_parse_limits(void)
{
    char buf[POLICY_TEXT_MAX + 64];
    policy_t *p = NULL;
    vl_err_t err;

    /* depth */
    s_nested(buf, sizeof buf, POLICY_DEPTH_MAX);
    CHECK_EQ(policy_parse(buf, &p, &err), 0);
    policy_destroy(&p);
    s_nested(buf, sizeof buf, POLICY_DEPTH_MAX + 1);
    CHECK_EQ(policy_parse(buf, &p, &err), VL_ERR_LIMIT);
    CHECK_STR(err.msg, "policy: combinators nested deeper than 8 at 33");
    /* depth counts nesting, not combinators in sequence */
    size_t at = (size_t) snprintf(buf, sizeof buf, "all(");
    for (int i = 0; i < 20; i++)
        at += (size_t) snprintf(buf + at, sizeof buf - at, "%sany(owner)", i ? "," : "");
    snprintf(buf + at, sizeof buf - at, ")");
    CHECK_EQ(policy_parse(buf, &p, &err), 0);
    policy_destroy(&p);

    /* nodes: all(...) with 63 entries is 64 nodes; 64 entries is one too many */
    for (int entries = POLICY_NODES_MAX - 1; entries <= POLICY_NODES_MAX; entries++) {
        at = (size_t) snprintf(buf, sizeof buf, "all(");
        for (int i = 0; i < entries; i++)
            at += (size_t) snprintf(buf + at, sizeof buf - at, "%sany", i ? "," : "");
        snprintf(buf + at, sizeof buf - at, ")");
        int rc = policy_parse(buf, &p, &err);
        if (entries < POLICY_NODES_MAX) {
            CHECK_EQ(rc, 0);
        } else {
            CHECK_EQ(rc, VL_ERR_LIMIT);
            CHECK_STR(err.msg, "policy: more than 64 principals and combinators at 257");
        }
        policy_destroy(&p);
    }

    /* text: 1024 bytes (padded with whitespace) is fine, 1025 is not */
    memset(buf, ' ', POLICY_TEXT_MAX);
    memcpy(buf, "owner", 5);
    buf[POLICY_TEXT_MAX] = '\0';
    CHECK_EQ(policy_parse(buf, &p, &err), 0);
    if (p)
        CHECK_STR(policy_text(p), "owner");
    policy_destroy(&p);
    buf[POLICY_TEXT_MAX] = ' ';
    buf[POLICY_TEXT_MAX + 1] = '\0';
    CHECK_EQ(policy_parse(buf, &p, &err), VL_ERR_LIMIT);
    CHECK_STR(err.msg, "policy: text is longer than 1024 bytes");

    /* a long bad token is quoted, bounded */
    memset(buf, 'x', 300);
    buf[300] = '\0';
    CHECK_EQ(policy_parse(buf, &p, &err), VL_ERR_INVALID);
    CHECK(strlen(err.msg) < 120);
    CHECK_CONTAINS(err.msg, "policy: unknown principal 'xxxx");

    /* an argument field of 63 bytes is fine, 64 is not */
    char field[70];
    memset(field, 'f', 64);
    field[63] = '\0';
    snprintf(buf, sizeof buf, "arg:%s", field);
    CHECK_EQ(policy_parse(buf, &p, &err), 0);
    policy_destroy(&p);
    field[63] = 'f';
    field[64] = '\0';
    snprintf(buf, sizeof buf, "arg:%s", field);
    CHECK_EQ(policy_parse(buf, &p, &err), VL_ERR_INVALID);
}

/* A deterministic pseudo-random generator for the property tests. */
static uint64_t g_seed = 0x9e3779b97f4a7c15u;

static unsigned
s_rand(unsigned n)
{
    g_seed = g_seed * 6364136223846793005u + 1442695040888963407u;
    return (unsigned) (g_seed >> 33) % n;
}

static const char *
s_ws(void)
{
    static const char *const ws[] = { "", "", "", " ", "\n\t", "  " };
    return ws[s_rand(6)];
}

/* A random policy over the fixture's organisations: principals that always
 * resolve (with args {"vin": VIN_LIEN, "buyer": DID_BUYER}). */
static size_t
s_random_policy(char *buf, size_t size, int depth, int *nodes)
{
    static const char *const leaves[] = {
        "org:agency1", "org:agency2", "org:lender1", "org:dealer1", "org:insurer1",
        "org:people", "role:title_agency", "role:lender", "owner", "lienholder",
        "lienholder?", "arg:buyer", "arg:nobody?", "any", "id:" DID_LENDER,
        "role:registration_authority",
    };
    (*nodes)++;
    if (depth >= 3 || *nodes > 40 || s_rand(3) == 0)
        return (size_t) snprintf(buf, size, "%s%s%s", s_ws(), leaves[s_rand(16)], s_ws());
    unsigned n = 1 + s_rand(4), kind = s_rand(3);
    size_t at = 0;
    if (kind == 2)
        at += (size_t) snprintf(buf, size, "k_of(%s%u%s,", s_ws(), 1 + s_rand(n), s_ws());
    else
        at += (size_t) snprintf(buf, size, "%s%s(", kind ? "any" : "all", s_ws());
    for (unsigned i = 0; i < n && at < size; i++) {
        if (i)
            at += (size_t) snprintf(buf + at, size - at, ",");
        at += s_random_policy(buf + at, size - at, depth + 1, nodes);
    }
    at += (size_t) snprintf(buf + at, size - at, ")");
    return at;
}

static void
test_canonical_roundtrip(void)
{
    char buf[4096];
    for (int round = 0; round < 300; round++) {
        int nodes = 0;
        s_random_policy(buf, sizeof buf, 0, &nodes);
        if (strlen(buf) > POLICY_TEXT_MAX)
            continue;
        policy_t *p = NULL, *q = NULL;
        vl_err_t err = { "" };
        int rc = policy_parse(buf, &p, &err);
        if (rc)
            fprintf(stderr, "  '%s': %s\n", buf, err.msg);
        CHECK_EQ(rc, 0);
        if (!p)
            continue;
        const char *t = policy_text(p);
        CHECK(strpbrk(t, " \t\r\n") == NULL);
        CHECK(strlen(t) <= strlen(buf));
        CHECK_EQ(policy_parse(t, &q, &err), 0);
        if (q)
            CHECK_STR(policy_text(q), t);
        policy_destroy(&p);
        policy_destroy(&q);
    }
}

/* ── resolution ───────────────────────────────────────────────────────── */

#define ARGS_SALE "{\"vin\":\"" VIN_LIEN "\",\"buyer\":\"" DID_BUYER "\"," \
                  "\"finance\":{\"lender\":\"" DID_LENDER "\"}}"

static void
test_resolve_principals(void)
{
    s_fixture();
    static const struct {
        const char *policy, *args;
        int org;            /* the single organisation it resolves to; -1: several */
    } cases[] = {
        { "org:lender1", NULL, LENDER1 },
        { "id:" DID_SELLER, NULL, DEALER1 },
        { "owner", ARGS_SALE, DEALER1 },
        { "owner", "{\"vin\":\"" VIN_FREE "\"}", PEOPLE },
        { "lienholder", ARGS_SALE, LENDER1 },
        { "arg:buyer", ARGS_SALE, PEOPLE },
        { "arg:finance.lender", ARGS_SALE, LENDER1 },
        { "role:lender", NULL, LENDER1 },
        { "role:registration_authority", NULL, AGENCY1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        policy_resolved_t *r = s_resolved(cases[i].policy, cases[i].args);
        if (!r)
            continue;
        org_set_t none = { { 0 } }, out;
        for (int o = 0; o < N_ORGS; o++) {
            org_set_t one = s_set(o, -1);
            bool ok = s_sat(r, &one, NULL);
            if (ok != (o == cases[i].org))
                fprintf(stderr, "  %s: org %d\n", cases[i].policy, o);
            CHECK_EQ(ok, o == cases[i].org);
        }
        CHECK(!s_sat(r, &none, NULL));
        CHECK_EQ(s_plan_of(r, PEOPLE, &out), 1);
        CHECK(s_set_eq(out, s_set(cases[i].org, -1)));
        policy_resolved_destroy(&r);
        CHECK(r == NULL);
    }
    policy_resolved_destroy(NULL);

    /* role:title_agency: any one of the two agencies */
    policy_resolved_t *r = s_resolved("role:title_agency", NULL);
    org_set_t a1 = s_set(AGENCY1, -1), a2 = s_set(AGENCY2, -1), l1 = s_set(LENDER1, -1);
    vl_err_t why;
    CHECK(s_sat(r, &a1, NULL));
    CHECK(s_sat(r, &a2, NULL));
    CHECK(!s_sat(r, &l1, &why));
    CHECK_STR(why.msg,
              "needs an endorsement from one of 'agency1', 'agency2' (role:title_agency)");
    policy_resolved_destroy(&r);

    /* any: every organisation */
    r = s_resolved("any", NULL);
    for (int o = 0; o < N_ORGS; o++) {
        org_set_t one = s_set(o, -1);
        CHECK(s_sat(r, &one, NULL));
    }
    org_set_t none = { { 0 } };
    CHECK(!s_sat(r, &none, &why));
    CHECK_STR(why.msg, "needs an endorsement from any organisation (any)");
    /* indices outside the network do not count */
    org_set_t outside = s_set(N_ORGS, ORGS_MAX - 1, -1);
    CHECK(!s_sat(r, &outside, NULL));
    policy_resolved_destroy(&r);

    /* env.vin overrides args.vin */
    policy_t *p = NULL;
    vl_err_t err;
    CHECK_EQ(policy_parse("owner", &p, &err), 0);
    policy_env_t env = s_env("{\"vin\":\"" VIN_LIEN "\"}");
    env.vin = VIN_FREE;
    CHECK_EQ(policy_resolve(p, &env, &r, &err), 0);
    org_set_t people = s_set(PEOPLE, -1);
    CHECK(r && s_sat(r, &people, NULL));
    policy_resolved_destroy(&r);
    env.vin = "bad/vin";
    CHECK_EQ(policy_resolve(p, &env, &r, &err), VL_ERR_INVALID);
    CHECK_STR(err.msg, "policy: 'bad/vin' is not a VIN");
    policy_destroy(&p);
}

static void
test_resolve_errors(void)
{
    s_fixture();
    static const struct {
        const char *policy, *args;
        int code;
        const char *msg;
    } cases[] = {
        { "owner", NULL, VL_ERR_REFUSED,
          "policy principal 'owner': the proposal has no argument 'vin'" },
        { "owner", "{\"vin\":null}", VL_ERR_REFUSED,
          "policy principal 'owner': the proposal has no argument 'vin'" },
        { "owner", "{\"vin\":\"" VIN_UNREG "\"}", VL_ERR_REFUSED,
          "policy principal 'owner': vehicle " VIN_UNREG " is not registered" },
        { "lienholder", "{\"vin\":\"" VIN_UNREG "\"}", VL_ERR_REFUSED,
          "policy principal 'lienholder': vehicle " VIN_UNREG " is not registered" },
        { "owner", "{\"vin\":5}", VL_ERR_REFUSED,
          "policy principal 'owner': argument 'vin' is not a VIN" },
        { "owner", "{\"vin\":\"../x\"}", VL_ERR_REFUSED,
          "policy principal 'owner': argument 'vin' is not a VIN" },
        { "owner", "{\"vin\":\"" VIN_NOORG "\"}", VL_ERR_REFUSED,
          "policy principal 'owner': identity " DID_NOORG " belongs to no organisation" },
        { "lienholder", "{\"vin\":\"" VIN_FREE "\"}", VL_ERR_REFUSED,
          "policy principal 'lienholder': vehicle " VIN_FREE " has no lien" },
        { "lienholder", "{\"vin\":\"" VIN_NULLF "\"}", VL_ERR_REFUSED,
          "policy principal 'lienholder': vehicle " VIN_NULLF " has no lien" },
        { "lienholder", "{\"vin\":\"" VIN_NOLENDER "\"}", VL_ERR_REFUSED,
          "policy principal 'lienholder': vehicle " VIN_NOLENDER " has no lien" },
        { "arg:buyer", "{\"buyer\":\"" DID_UNREG "\"}", VL_ERR_REFUSED,
          "policy principal 'arg:buyer': identity " DID_UNREG " is not registered" },
        { "arg:buyer", "{\"buyer\":\"" DID_GHOST "\"}", VL_ERR_REFUSED,
          "policy principal 'arg:buyer': identity " DID_GHOST
          " belongs to organisation 'nowhere', which is not in the network" },
        { "arg:buyer", "{\"buyer\":\"" DID_BADORG "\"}", VL_ERR_CORRUPT,
          "policy principal 'arg:buyer': identity " DID_BADORG
          " has an 'org' that is not a string" },
        /* not a DID, so an organisation's name, which no organisation has */
        { "arg:buyer", "{\"buyer\":\"bob\"}", VL_ERR_REFUSED,
          "policy principal 'arg:buyer': argument 'buyer' names organisation 'bob', which is "
          "not in the network" },
        { "arg:buyer", "{\"buyer\":7}", VL_ERR_REFUSED,
          "policy principal 'arg:buyer': argument 'buyer' is not a DID or an organisation "
          "name" },
        { "arg:buyer", "{}", VL_ERR_REFUSED,
          "policy principal 'arg:buyer': the proposal has no argument 'buyer'" },
        { "arg:finance.lender", "{\"finance\":{}}", VL_ERR_REFUSED,
          "policy principal 'arg:finance.lender': the proposal has no argument "
          "'finance.lender'" },
        { "arg:finance.lender?", "{\"finance\":\"x\"}", VL_ERR_REFUSED,
          "policy principal 'arg:finance.lender?': argument 'finance' is not an object" },
        /* "?" never excuses a name that does not resolve */
        { "arg:lender?", "{\"lender\":\"" DID_UNREG "\"}", VL_ERR_REFUSED,
          "policy principal 'arg:lender?': identity " DID_UNREG " is not registered" },
        { "owner?", "{\"vin\":\"" VIN_NOORG "\"}", VL_ERR_REFUSED,
          "policy principal 'owner?': identity " DID_NOORG " belongs to no organisation" },
        { "id:" DID_UNREG, NULL, VL_ERR_REFUSED,
          "policy principal 'id:" DID_UNREG "': identity " DID_UNREG " is not registered" },
        { "org:bank9", NULL, VL_ERR_REFUSED,
          "policy principal 'org:bank9': organisation 'bank9' is not in the network" },
        { "role:issuer", NULL, VL_ERR_REFUSED,
          "policy principal 'role:issuer': no organisation holds role 'issuer'" },
        { "all(any, any(org:lender1, org:bank9))", NULL, VL_ERR_REFUSED,
          "policy principal 'org:bank9': organisation 'bank9' is not in the network" },
        { "owner", "[1]", VL_ERR_INVALID, "policy: proposal args: expected a JSON object" },
        { "owner", "{", VL_ERR_INVALID, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vl_err_t err = { "" };
        int rc = s_resolve_fails(cases[i].policy, cases[i].args, &err);
        if (rc != cases[i].code || (cases[i].msg && strcmp(err.msg, cases[i].msg)))
            fprintf(stderr, "  case %zu %s\n", i, cases[i].policy);
        CHECK_EQ(rc, cases[i].code);
        if (cases[i].msg)
            CHECK_STR(err.msg, cases[i].msg);
        else
            CHECK_CONTAINS(err.msg, "policy: proposal args: invalid JSON");
    }

    /* Corrupt state documents. */
    fake_state_t fs = { 0 };
    FSET(&fs, "vehicle/" VIN_LIEN, "not json", 1, 0);
    FSET(&fs, "vehicle/" VIN_FREE, "[]", 1, 1);
    FSET(&fs, "vehicle/" VIN_NULLF, "{\"owner\":7}", 1, 2);
    FSET(&fs, "vehicle/" VIN_NOLENDER, "{\"owner\":\"" DID_SELLER "\",\"financing\":3}", 1, 3);
    FSET(&fs, "vehicle/" VIN_NOORG,
             "{\"owner\":\"" DID_SELLER "\",\"financing\":{\"lender\":\"x\"}}", 1, 4);
    FSET(&fs, "did/" DID_SELLER, "\"str\"", 1, 5);
    static const struct {
        const char *policy, *vin, *msg;
    } bad[] = {
        { "owner", VIN_LIEN, "policy: state value vehicle/" VIN_LIEN " is not JSON" },
        { "owner", VIN_FREE, "policy principal 'owner': vehicle/" VIN_FREE
          " is not a JSON object" },
        { "owner", VIN_NULLF, "policy principal 'owner': vehicle " VIN_NULLF
          " has no owner DID" },
        { "lienholder?", VIN_NOLENDER, "policy principal 'lienholder?': vehicle " VIN_NOLENDER
          " has a 'financing' that is not an object" },
        { "lienholder", VIN_NOORG, "policy principal 'lienholder': vehicle " VIN_NOORG
          " has a financing lender that is not a DID" },
        { "id:" DID_SELLER, NULL, "policy principal 'id:" DID_SELLER "': did/" DID_SELLER
          " is not a JSON object" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        policy_t *p = NULL;
        policy_resolved_t *r = NULL;
        vl_err_t err = { "" };
        CHECK_EQ(policy_parse(bad[i].policy, &p, &err), 0);
        policy_env_t env = { .ctx = &fs, .get = fake_get, .orgs = &g_orgs, .vin = bad[i].vin };
        CHECK_EQ(policy_resolve(p, &env, &r, &err), VL_ERR_CORRUPT);
        CHECK_CONTAINS(err.msg, bad[i].msg);
        CHECK(r == NULL);
        policy_destroy(&p);
    }

    /* A failing store is returned as is, naming the key. */
    policy_t *p = NULL;
    policy_resolved_t *r = NULL;
    vl_err_t err;
    CHECK_EQ(policy_parse("id:" DID_SELLER, &p, &err), 0);
    fs.fail_get = 1;
    policy_env_t env = { .ctx = &fs, .get = fake_get, .orgs = &g_orgs };
    CHECK_EQ(policy_resolve(p, &env, &r, &err), VL_ERR_IO);
    CHECK_STR(err.msg, "policy: reading did/" DID_SELLER ": i/o error");
    CHECK(r == NULL);
    fake_free(&fs);

    /* A network without organisations has nobody for `any`. */
    orgs_t empty = { .count = 0 };
    policy_destroy(&p);
    CHECK_EQ(policy_parse("any", &p, &err), 0);
    env = (policy_env_t) { .ctx = &g_fs, .get = fake_get, .orgs = &empty };
    CHECK_EQ(policy_resolve(p, &env, &r, &err), VL_ERR_REFUSED);
    CHECK_STR(err.msg, "policy principal 'any': the network has no organisations");
    policy_destroy(&p);
}

static void
test_optional(void)
{
    s_fixture();
    org_set_t owner = s_set(DEALER1, -1), both = s_set(DEALER1, LENDER1, -1);
    vl_err_t why;
    static const char *const no_lien[] = {
        "{\"vin\":\"" VIN_NULLF "\"}",      /* financing: null */
        "{\"vin\":\"" VIN_NOLENDER "\"}",   /* financing without a lender */
    };
    for (size_t i = 0; i < 2; i++) {
        policy_resolved_t *r = s_resolved("all(owner, lienholder?)", no_lien[i]);
        CHECK(r && s_sat(r, &owner, NULL));
        policy_resolved_destroy(&r);
    }
    /* with a lien the lender is required */
    policy_resolved_t *r = s_resolved("all(owner, lienholder?)", "{\"vin\":\"" VIN_LIEN "\"}");
    CHECK(!s_sat(r, &owner, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'lender1' (lienholder?)");
    CHECK(s_sat(r, &both, NULL));
    policy_resolved_destroy(&r);

    /* The sale settlement policy (DESIGN §3) on a financed and a free car. */
    r = s_resolved("all(owner, arg:buyer, role:title_agency, lienholder?)", ARGS_SALE);
    org_set_t e = s_set(DEALER1, PEOPLE, AGENCY2, -1);
    CHECK(!s_sat(r, &e, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'lender1' (lienholder?)");
    org_set_add(&e, LENDER1);
    CHECK(s_sat(r, &e, NULL));
    policy_resolved_destroy(&r);
    r = s_resolved("all(owner, arg:buyer, role:title_agency, lienholder?)",
                   "{\"vin\":\"" VIN_FREE "\",\"buyer\":\"" DID_SELLER "\"}");
    e = s_set(PEOPLE, DEALER1, AGENCY1, -1);
    CHECK(s_sat(r, &e, NULL));
    e = s_set(PEOPLE, DEALER1, -1);
    CHECK(!s_sat(r, &e, &why));
    CHECK_STR(why.msg,
              "needs an endorsement from one of 'agency1', 'agency2' (role:title_agency)");
    policy_resolved_destroy(&r);

    /* An unregistered vehicle has no lien (its absence is in the read set). */
    r = s_resolved("all(any, lienholder?)", "{\"vin\":\"" VIN_UNREG "\"}");
    org_set_t people = s_set(PEOPLE, -1);
    CHECK(r && s_sat(r, &people, NULL));
    CHECK_EQ(s_nreads(r), 1);
    CHECK_STR(s_read_at(r, 0)->key, "vehicle/" VIN_UNREG);
    CHECK(!s_read_at(r, 0)->found);
    policy_resolved_destroy(&r);

    /* Missing and null arguments drop out; owner? without a vin too. */
    static const char *const dropping[] = { "{}", "{\"lender\":null}" };
    for (size_t i = 0; i < 2; i++) {
        r = s_resolved("all(org:people, arg:lender?, owner?)", dropping[i]);
        CHECK(r && s_sat(r, &people, NULL));
        CHECK(r && s_nreads(r) == 0);
        policy_resolved_destroy(&r);
    }
    r = s_resolved("all(org:people, arg:lender?)", "{\"lender\":\"" DID_LENDER "\"}");
    CHECK(!s_sat(r, &people, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'lender1' (arg:lender?)");
    policy_resolved_destroy(&r);
    r = s_resolved("owner?", "{\"vin\":\"" VIN_UNREG "\"}");
    CHECK(r && s_sat(r, &people, NULL));   /* dropped entirely: anyone */
    policy_resolved_destroy(&r);

    /* k_of caps k at what remains: without a lien k_of(2, owner, lienholder?)
     * is owner alone; with one it needs both. */
    r = s_resolved("k_of(2, owner, lienholder?)", "{\"vin\":\"" VIN_NULLF "\"}");
    CHECK(s_sat(r, &owner, NULL));
    policy_resolved_destroy(&r);
    r = s_resolved("k_of(2, owner, lienholder?)", "{\"vin\":\"" VIN_LIEN "\"}");
    CHECK(!s_sat(r, &owner, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'lender1' (lienholder?)");
    CHECK(s_sat(r, &both, NULL));
    policy_resolved_destroy(&r);
    /* k_of(2, a, b, lienholder?) without a lien: still 2 of the 2 left */
    r = s_resolved("k_of(2, org:agency1, org:insurer1, lienholder?)",
                   "{\"vin\":\"" VIN_FREE "\"}");
    org_set_t a1 = s_set(AGENCY1, -1), ai = s_set(AGENCY1, INSURER1, -1);
    CHECK(!s_sat(r, &a1, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'insurer1' (org:insurer1)");
    CHECK(s_sat(r, &ai, NULL));
    policy_resolved_destroy(&r);

    /* Everything drops out: one endorsement from anyone, never none. */
    r = s_resolved("any(lienholder?, all(arg:x?, arg:y?))", "{\"vin\":\"" VIN_FREE "\"}");
    org_set_t none = { { 0 } }, out;
    CHECK(!s_sat(r, &none, &why));
    CHECK_STR(why.msg, "needs an endorsement from any organisation (every principal of the "
                       "policy dropped out)");
    CHECK(s_sat(r, &a1, NULL));
    CHECK_EQ(s_plan_of(r, INSURER1, &out), 1);
    CHECK(s_set_eq(out, s_set(INSURER1, -1)));
    CHECK_EQ(s_plan_of(r, -1, &out), 1);
    CHECK(s_set_eq(out, s_set(AGENCY1, -1)));
    policy_resolved_destroy(&r);
    /* any(x, dropped) is x, not "satisfied by the dropped one" */
    r = s_resolved("any(org:lender1, lienholder?)", "{\"vin\":\"" VIN_FREE "\"}");
    CHECK(!s_sat(r, &a1, NULL));
    policy_resolved_destroy(&r);
}

static void
test_read_set(void)
{
    s_fixture();
    policy_resolved_t *r = s_resolved(
        "all(owner, lienholder, arg:buyer, id:" DID_SELLER ", arg:finance.lender, org:agency1, "
        "role:lender, any(owner, lienholder?))", ARGS_SALE);
    if (!r)
        return;
    static const struct {
        const char *key;
        uint64_t block;
        uint32_t tx;
    } want[] = {
        { "vehicle/" VIN_LIEN, 7, 2 },
        { "did/" DID_SELLER, 3, 1 },
        { "did/" DID_LENDER, 2, 5 },
        { "did/" DID_BUYER, 4, 0 },
    };
    CHECK_EQ(s_nreads(r), 4);   /* each key once */
    for (size_t i = 0; i < 4 && i < s_nreads(r); i++) {
        const policy_read_t *rd = s_read_at(r, i);
        CHECK_STR(rd->key, want[i].key);
        CHECK(rd->found);
        CHECK_EQ(rd->version.block, want[i].block);
        CHECK_EQ(rd->version.tx, want[i].tx);
    }
    policy_resolved_destroy(&r);

    /* fixed principals read nothing */
    r = s_resolved("all(org:agency1, role:title_agency, any)", NULL);
    CHECK(r && s_nreads(r) == 0);
    policy_resolved_destroy(&r);

    /* a read of an absent key is recorded as absent */
    r = s_resolved("owner?", "{\"vin\":\"" VIN_UNREG "\"}");
    CHECK(r && s_nreads(r) == 1);
    if (r) {
        const policy_read_t *rd = s_read_at(r, 0);
        CHECK(!rd->found);
        CHECK_EQ(rd->version.block, 0);
        CHECK_EQ(rd->version.tx, 0);
    }
    policy_resolved_destroy(&r);

    /* A change of owner after resolution shows as a new version of a key in
     * the read set: what MVCC at commit relies on. */
    fake_state_t fs = { 0 };
    FSET(&fs, "vehicle/" VIN_FREE, "{\"owner\":\"" DID_BUYER "\"}", 10, 0);
    FSET(&fs, "did/" DID_BUYER, "{\"org\":\"people\"}", 1, 0);
    FSET(&fs, "did/" DID_SELLER, "{\"org\":\"dealer1\"}", 1, 1);
    policy_t *p = NULL;
    vl_err_t err;
    CHECK_EQ(policy_parse("owner", &p, &err), 0);
    policy_env_t env = { .ctx = &fs, .get = fake_get, .orgs = &g_orgs, .vin = VIN_FREE };
    CHECK_EQ(policy_resolve(p, &env, &r, &err), 0);
    FSET(&fs, "vehicle/" VIN_FREE, "{\"owner\":\"" DID_SELLER "\"}", 11, 3);
    const policy_read_t *rd = r ? s_read_at(r, 0) : NULL;
    CHECK(rd && !strcmp(rd->key, "vehicle/" VIN_FREE) && rd->version.block == 10);
    vl_version_t now;
    char *v = NULL;
    size_t len;
    CHECK_EQ(fake_get(&fs, "vehicle/" VIN_FREE, &v, &len, &now), 0);
    CHECK(rd && !vl_version_eq(rd->version, now));
    free(v);
    policy_resolved_destroy(&r);
    policy_destroy(&p);
    fake_free(&fs);
}

/* ── satisfaction ─────────────────────────────────────────────────────── */

static void
test_satisfied(void)
{
    s_fixture();
    vl_err_t why;
    policy_resolved_t *r =
        s_resolved("k_of(2, org:agency1, org:lender1, org:insurer1)", NULL);
    org_set_t e = s_set(AGENCY1, -1);
    CHECK(!s_sat(r, &e, &why));
    CHECK_STR(why.msg, "needs 2 of k_of(2,org:agency1,org:lender1,org:insurer1), has 1");
    e = s_set(AGENCY1, INSURER1, -1);
    CHECK(s_sat(r, &e, NULL));
    e = s_set(LENDER1, INSURER1, DEALER1, -1);
    CHECK(s_sat(r, &e, NULL));
    policy_resolved_destroy(&r);

    /* nesting: any(all(a, b), c) */
    r = s_resolved("any(all(org:agency1, org:lender1), org:insurer1)", NULL);
    e = s_set(AGENCY1, -1);
    CHECK(!s_sat(r, &e, &why));
    CHECK_STR(why.msg, "needs 1 of any(all(org:agency1,org:lender1),org:insurer1), has 0");
    e = s_set(AGENCY1, LENDER1, -1);
    CHECK(s_sat(r, &e, NULL));
    e = s_set(INSURER1, -1);
    CHECK(s_sat(r, &e, NULL));
    policy_resolved_destroy(&r);

    /* all(...) is explained by its first unmet entry, down the tree */
    r = s_resolved("all(org:agency1, all(org:dealer1, any(org:lender1, org:insurer1)))", NULL);
    e = s_set(AGENCY1, DEALER1, -1);
    CHECK(!s_sat(r, &e, &why));
    CHECK_STR(why.msg, "needs 1 of any(org:lender1,org:insurer1), has 0");
    e = s_set(AGENCY1, -1);
    CHECK(!s_sat(r, &e, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'dealer1' (org:dealer1)");
    policy_resolved_destroy(&r);

    /* an organisation's endorsement satisfies every principal resolving to it */
    r = s_resolved("all(owner, arg:buyer, id:" DID_SELLER ", role:dealer)",
                   "{\"vin\":\"" VIN_LIEN "\",\"buyer\":\"" DID_SELLER "\"}");
    e = s_set(DEALER1, -1);
    CHECK(s_sat(r, &e, NULL));
    policy_resolved_destroy(&r);
    r = s_resolved("k_of(2, org:dealer1, owner, org:agency1)", "{\"vin\":\"" VIN_LIEN "\"}");
    CHECK(s_sat(r, &e, NULL));   /* counts entries, not organisations */
    policy_resolved_destroy(&r);

    /* a list of more than four candidates is shortened */
    orgs_t many = { .count = 0 };
    const char *lender[] = { "lender" };
    vl_err_t err;
    for (int i = 0; i < 7; i++) {
        char name[16];
        snprintf(name, sizeof name, "l%d", i);
        CHECK_EQ(orgs_add(&many, name, lender, 1, &err), 0);
    }
    CHECK_EQ(orgs_add(&many, "other", NULL, 0, &err), 0);
    policy_t *p = NULL;
    CHECK_EQ(policy_parse("role:lender", &p, &err), 0);
    policy_env_t env = { .ctx = &g_fs, .get = fake_get, .orgs = &many };
    CHECK_EQ(policy_resolve(p, &env, &r, &err), 0);
    e = s_set(7, -1);
    CHECK(!s_sat(r, &e, &why));
    CHECK_STR(why.msg,
              "needs an endorsement from one of 'l0', 'l1', 'l2', 'l3' and 3 more (role:lender)");
    policy_resolved_destroy(&r);
    policy_destroy(&p);
}

/* ── plans ────────────────────────────────────────────────────────────── */

static void
test_plan(void)
{
    s_fixture();
    /* the preferred organisation when it holds the role, else the lowest */
    CHECK(s_set_eq(s_plan("role:title_agency", NULL, AGENCY2), s_set(AGENCY2, -1)));
    CHECK(s_set_eq(s_plan("role:title_agency", NULL, DEALER1), s_set(AGENCY1, -1)));
    CHECK(s_set_eq(s_plan("role:title_agency", NULL, -1), s_set(AGENCY1, -1)));
    CHECK(s_set_eq(s_plan("role:title_agency", NULL, 99), s_set(AGENCY1, -1)));
    /* any: ourselves */
    CHECK(s_set_eq(s_plan("any", NULL, INSURER1), s_set(INSURER1, -1)));
    CHECK(s_set_eq(s_plan("any", NULL, -1), s_set(AGENCY1, -1)));
    /* minimal: one organisation can cover two principals */
    CHECK(s_set_eq(s_plan("all(role:title_agency, org:agency2)", NULL, -1),
                   s_set(AGENCY2, -1)));
    CHECK(s_set_eq(s_plan("all(role:title_agency, role:registration_authority)", NULL, AGENCY2),
                   s_set(AGENCY1, -1)));
    CHECK(s_set_eq(s_plan("all(org:lender1, any)", NULL, PEOPLE), s_set(LENDER1, -1)));
    CHECK(s_set_eq(s_plan("any(all(org:agency1, org:lender1), org:insurer1)", NULL, -1),
                   s_set(INSURER1, -1)));
    /* among equally small plans, the one with the preferred organisation */
    CHECK(s_set_eq(s_plan("k_of(2, org:agency1, org:lender1, org:insurer1)", NULL, INSURER1),
                   s_set(AGENCY1, INSURER1, -1)));
    CHECK(s_set_eq(s_plan("k_of(2, org:agency1, org:lender1, org:insurer1)", NULL, -1),
                   s_set(AGENCY1, LENDER1, -1)));
    CHECK(s_set_eq(s_plan("any(org:lender1, org:insurer1)", NULL, INSURER1),
                   s_set(INSURER1, -1)));
    /* the settlement: owner, buyer, an agency (ours) and the lender */
    CHECK(s_set_eq(s_plan("all(owner, arg:buyer, role:title_agency, lienholder?)", ARGS_SALE,
                          AGENCY2),
                   s_set(DEALER1, PEOPLE, AGENCY2, LENDER1, -1)));
    CHECK(s_set_eq(s_plan("all(owner, arg:buyer, role:title_agency, lienholder?)",
                          "{\"vin\":\"" VIN_FREE "\",\"buyer\":\"" DID_SELLER "\"}", PEOPLE),
                   s_set(PEOPLE, DEALER1, AGENCY1, -1)));
    /* dropped principals are not planned for */
    CHECK(s_set_eq(s_plan("all(org:people, lienholder?)", "{\"vin\":\"" VIN_FREE "\"}", -1),
                   s_set(PEOPLE, -1)));
    /* deterministic: the same answer every time */
    for (int i = 0; i < 5; i++)
        CHECK(s_set_eq(s_plan("k_of(2, role:title_agency, org:lender1, any)", NULL, DEALER1),
                       s_plan("k_of(2, role:title_agency, org:lender1, any)", NULL, DEALER1)));
}

/* The smallest satisfying set by brute force over all subsets. */
static int
s_min_plan(const policy_resolved_t *r)
{
    int best = N_ORGS + 1;
    for (unsigned m = 0; m < (1u << N_ORGS); m++) {
        org_set_t e = { { m } };
        int n = __builtin_popcount(m);
        if (n < best && s_sat(r, &e, NULL))
            best = n;
    }
    return best;
}

static void
test_plan_minimal_random(void)
{
    s_fixture();
    char buf[4096];
    int checked = 0;
    for (int round = 0; round < 200; round++) {
        int nodes = 0;
        s_random_policy(buf, sizeof buf, 0, &nodes);
        policy_t *p = NULL;
        policy_resolved_t *r = NULL;
        vl_err_t err;
        if (policy_parse(buf, &p, &err) != 0)
            continue;   /* too long or too many nodes: not this test's subject */
        policy_env_t env = s_env("{\"vin\":\"" VIN_LIEN "\",\"buyer\":\"" DID_BUYER "\"}");
        CHECK_EQ(policy_resolve(p, &env, &r, &err), 0);
        if (r) {
            int pref = (int) s_rand(N_ORGS + 1) - 1;
            org_set_t out, again;
            size_t n = s_plan_of(r, pref, &out);
            CHECK(s_sat(r, &out, NULL));
            int min = s_min_plan(r);
            if ((int) n != min)
                fprintf(stderr, "  %s: plan %zu, minimum %d\n", policy_text(p), n, min);
            CHECK_EQ(n, min);
            s_plan_of(r, pref, &again);
            CHECK(s_set_eq(out, again));
            /* if some smallest plan includes pref, this one does */
            if (pref >= 0 && !org_set_has(&out, pref)) {
                for (unsigned m = 0; m < (1u << N_ORGS); m++) {
                    org_set_t e = { { m } };
                    if ((m >> pref & 1) && __builtin_popcount(m) == min)
                        CHECK(!s_sat(r, &e, NULL));
                }
            }
            checked++;
        }
        policy_resolved_destroy(&r);
        policy_destroy(&p);
    }
    CHECK(checked > 100);
}

static void
test_plan_budget(void)
{
    /* 40 organisations each named once: the exact search runs out of budget
     * long before size 40 and the greedy plan (here also the minimum) is
     * returned. */
    orgs_t big = { .count = 0 };
    vl_err_t err;
    char text[POLICY_TEXT_MAX + 1];
    size_t at = (size_t) snprintf(text, sizeof text, "all(");
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof name, "o%d", i);
        CHECK_EQ(orgs_add(&big, name, NULL, 0, &err), 0);
        at += (size_t) snprintf(text + at, sizeof text - at, "%sorg:%s", i ? "," : "", name);
    }
    snprintf(text + at, sizeof text - at, ")");
    policy_t *p = NULL;
    policy_resolved_t *r = NULL;
    CHECK_EQ(policy_parse(text, &p, &err), 0);
    policy_env_t env = { .ctx = &g_fs, .get = fake_get, .orgs = &big };
    CHECK_EQ(policy_resolve(p, &env, &r, &err), 0);
    org_set_t out;
    CHECK_EQ(s_plan_of(r, 3, &out), 40);
    CHECK(s_sat(r, &out, NULL));
    policy_resolved_destroy(&r);
    policy_destroy(&p);

    /* The greedy fallback still prefers the gateway's own organisation:
     * all(org:o0..org:o35, role:lender) where o36..o39 are lenders. */
    orgs_t big2 = { .count = 0 };
    const char *lender[] = { "lender" };
    at = (size_t) snprintf(text, sizeof text, "all(");
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof name, "o%d", i);
        CHECK_EQ(orgs_add(&big2, name, i >= 36 ? lender : NULL, i >= 36, &err), 0);
        if (i < 36)
            at += (size_t) snprintf(text + at, sizeof text - at, "org:%s,", name);
    }
    snprintf(text + at, sizeof text - at, "role:lender)");
    CHECK_EQ(policy_parse(text, &p, &err), 0);
    env.orgs = &big2;
    CHECK_EQ(policy_resolve(p, &env, &r, &err), 0);
    CHECK_EQ(s_plan_of(r, 38, &out), 37);
    CHECK(org_set_has(&out, 38) && !org_set_has(&out, 36));
    CHECK_EQ(s_plan_of(r, 2, &out), 37);
    CHECK(org_set_has(&out, 36) && !org_set_has(&out, 38));
    CHECK(s_sat(r, &out, NULL));
    policy_resolved_destroy(&r);
    policy_destroy(&p);
}

/* ── per-key policies ─────────────────────────────────────────────────── */

/* A write of value (NUL-terminated) to key, and a delete of key. */
#define W(key, value) ((policy_write_t) { (key), (const uint8_t *) (value), strlen(value), false })
#define WDEL(key) ((policy_write_t) { (key), NULL, 0, true })

/* Resolves fn's policy for a tx with the write set ws against fs; NULL
 * (failed check) on error. */
static policy_resolved_t *
s_resolved_tx_in(fake_state_t *fs, const char *fn, const policy_write_t *ws, size_t n,
                 const char *args)
{
    policy_t *p = NULL;
    policy_resolved_t *r = NULL;
    vl_err_t err = { "" };
    policy_env_t env = s_env(args);
    env.ctx = fs;
    if (policy_parse(fn, &p, &err) != 0 || policy_resolve_tx(p, ws, n, &env, &r, &err) != 0) {
        fprintf(stderr, "  %s: %s\n", fn, err.msg);
        CHECK(!"policy resolves for the transaction");
    }
    policy_destroy(&p);
    return r;
}

static policy_resolved_t *
s_resolved_tx(const char *fn, const policy_write_t *ws, size_t n, const char *args)
{
    return s_resolved_tx_in(&g_fs, fn, ws, n, args);
}

/* The error code of resolving fn for ws against fs (NULL: the fixture),
 * with its message in *err; the output must stay untouched. */
static int
s_tx_fails(fake_state_t *fs, const char *fn, const policy_write_t *ws, size_t n, vl_err_t *err)
{
    policy_t *p = NULL;
    policy_resolved_t *r = (policy_resolved_t *) &r;   /* sentinel: must stay */
    CHECK_EQ(policy_parse(fn, &p, err), 0);
    policy_env_t env = s_env(NULL);
    env.ctx = fs ? fs : &g_fs;
    int rc = p ? policy_resolve_tx(p, ws, n, &env, &r, err) : VL_ERR_INVALID;
    CHECK(r == (policy_resolved_t *) &r);
    if (rc == 0) {
        CHECK(!"resolution fails");
        policy_resolved_destroy(&r);
    }
    policy_destroy(&p);
    return rc;
}

/* The single organisation (or -1) that, alone, satisfies r. */
static int
s_only_org(const policy_resolved_t *r)
{
    int found = -1;
    for (int o = 0; o < N_ORGS; o++) {
        org_set_t one = s_set(o, -1);
        if (s_sat(r, &one, NULL))
            found = found == -1 ? o : -2;
    }
    return found;
}

static void
test_key_policies(void)
{
    s_fixture();
    vl_err_t why;
    /* The vehicle's own policy replaces the function's for it. */
    const policy_write_t one[] = { W("vehicle/" VIN_KEYPOL, "{}") };
    policy_resolved_t *r = s_resolved_tx("any", one, 1, NULL);
    org_set_t ins = s_set(INSURER1, -1), ok = s_set(DEALER1, AGENCY1, -1);
    CHECK(!s_sat(r, &ins, &why));   /* `any` alone no longer does */
    CHECK_STR(why.msg, "key vehicle/" VIN_KEYPOL ": needs an endorsement from org 'dealer1' "
                       "(owner)");
    CHECK(s_sat(r, &ok, NULL));
    org_set_t out;
    CHECK_EQ(s_plan_of(r, AGENCY1, &out), 2);
    CHECK(s_set_eq(out, ok));
    /* the written key is in the read set (its policy could change) */
    CHECK_EQ(s_nreads(r), 2);
    CHECK_STR(s_read_at(r, 0)->key, "vehicle/" VIN_KEYPOL);
    CHECK_EQ(s_read_at(r, 0)->version.block, 9);
    CHECK_EQ(s_read_at(r, 0)->version.tx, 4);
    CHECK_STR(s_read_at(r, 1)->key, "did/" DID_SELLER);
    policy_resolved_destroy(&r);

    /* Also writing a key without its own policy brings the function's back. */
    const policy_write_t two[] = { W("vehicle/" VIN_KEYPOL, "{}"),
                                   W("wallet/" DID_SELLER, "500") };
    r = s_resolved_tx("org:insurer1", two, 2, NULL);
    CHECK(!s_sat(r, &ok, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'insurer1' (org:insurer1)");
    org_set_t all3 = s_set(DEALER1, AGENCY1, INSURER1, -1);
    CHECK(s_sat(r, &all3, NULL));
    CHECK_EQ(s_nreads(r), 3);   /* both written keys and the owner */
    CHECK_STR(s_read_at(r, 1)->key, "wallet/" DID_SELLER);
    CHECK(s_read_at(r, 1)->found);
    policy_resolved_destroy(&r);

    /* A key that does not exist yet has no policy (setting the first one
     * needs the function's); its absence is recorded. */
    const policy_write_t fresh[] = { W("vehicle/" VIN_UNREG, "{\"owner\":\"" DID_BUYER "\"}") };
    r = s_resolved_tx("org:insurer1", fresh, 1, NULL);
    CHECK(s_sat(r, &ins, NULL));
    CHECK_EQ(s_nreads(r), 1);
    CHECK(!s_read_at(r, 0)->found);
    policy_resolved_destroy(&r);

    /* Writing nothing: the function's policy. */
    r = s_resolved_tx("org:insurer1", NULL, 0, NULL);
    CHECK(s_sat(r, &ins, NULL));
    CHECK(!s_sat(r, &ok, NULL));
    policy_resolved_destroy(&r);

    /* `owner` in vehicle/<VIN>'s policy is that vehicle's owner, whatever
     * args.vin names; and the function's policy is not resolved at all when
     * every written key has its own (here it could not be: no buyer). */
    r = s_resolved_tx("arg:buyer", one, 1, "{\"vin\":\"" VIN_FREE "\"}");
    CHECK(r && s_sat(r, &ok, NULL));
    policy_resolved_destroy(&r);

    /* A policy stored in a non-vehicle key uses args.vin; equal policies
     * about the same vehicle are one requirement. */
    fake_state_t fs = { 0 };
    const char *pol = "{\"endorsement_policy\":\"all(owner, org:agency2)\"}";
    char keys[40][32];
    policy_write_t kp[40];
    for (int i = 0; i < 40; i++) {
        snprintf(keys[i], sizeof keys[i], "sale/%d", i);
        kp[i] = W(keys[i], "{}");
        fake_set(&fs, keys[i], pol, strlen(pol), (vl_version_t) { 5, (uint32_t) i });
    }
    FSET(&fs, "vehicle/" VIN_FREE, "{\"owner\":\"" DID_BUYER "\"}", 1, 0);
    FSET(&fs, "did/" DID_BUYER, "{\"org\":\"people\"}", 1, 1);
    policy_t *any = NULL;
    vl_err_t err;
    CHECK_EQ(policy_parse("any", &any, &err), 0);
    policy_env_t env = { .ctx = &fs, .get = fake_get, .orgs = &g_orgs,
                         .args_json = "{\"vin\":\"" VIN_FREE "\"}" };
    CHECK_EQ(policy_resolve_tx(any, kp, 40, &env, &r, &err), 0);   /* 40 keys, 1 policy */
    org_set_t pa = s_set(PEOPLE, AGENCY2, -1);
    CHECK(r && s_sat(r, &pa, NULL));
    CHECK(r && !s_sat(r, &ins, &why));
    CHECK_STR(why.msg, "key sale/0: needs an endorsement from org 'people' (owner)");
    CHECK(r && s_nreads(r) == 42);
    policy_resolved_destroy(&r);

    /* More than POLICY_KEY_PARTS_MAX distinct ones is refused. */
    for (int i = 0; i < 40; i++) {
        char v[96];
        snprintf(v, sizeof v, "{\"endorsement_policy\":\"k_of(1,any,org:agency%d)\"}", 1 + i % 2);
        if (i >= 2)
            snprintf(v, sizeof v, "{\"endorsement_policy\":\"all(any,arg:f%d?)\"}", i);
        fake_set(&fs, keys[i], v, strlen(v), (vl_version_t) { 6, (uint32_t) i });
    }
    CHECK_EQ(policy_resolve_tx(any, kp, POLICY_KEY_PARTS_MAX, &env, &r, &err), 0);
    policy_resolved_destroy(&r);
    r = (policy_resolved_t *) &r;
    CHECK_EQ(policy_resolve_tx(any, kp, POLICY_KEY_PARTS_MAX + 1, &env, &r, &err),
             VL_ERR_LIMIT);
    CHECK_STR(err.msg, "policy: more than 32 distinct key policies in one transaction");
    CHECK(r == (policy_resolved_t *) &r);

    /* A value that is not an object, or an object without the field, has
     * no policy; a field hidden behind a \u escape is still found. */
    FSET(&fs, "n/1", "42", 1, 0);
    FSET(&fs, "n/2", "\"endorsement_policy\"", 1, 0);
    FSET(&fs, "n/3", "{\"x\":{\"endorsement_policy\":\"org:people\"}}", 1, 0);
    const char *esc = "{\"\\u0065ndorsement_policy\":\"org:people\"}";
    fake_set(&fs, "n/4", esc, strlen(esc), (vl_version_t) { 1, 0 });
    FSET(&fs, "n/5", "{\"endorsement_policy\":null}", 1, 0);
    const policy_write_t plain[] = { W("n/1", "1"), W("n/2", "2"), W("n/3", "3"), WDEL("n/5") };
    policy_destroy(&any);
    CHECK_EQ(policy_parse("org:insurer1", &any, &err), 0);
    CHECK_EQ(policy_resolve_tx(any, plain, 4, &env, &r, &err), 0);
    CHECK(r && s_sat(r, &ins, NULL));
    policy_resolved_destroy(&r);
    const policy_write_t escaped[] = { W("n/4", "{}") };
    CHECK_EQ(policy_resolve_tx(any, escaped, 1, &env, &r, &err), 0);
    org_set_t people = s_set(PEOPLE, -1);
    CHECK(r && s_sat(r, &people, NULL) && !s_sat(r, &ins, NULL));
    policy_resolved_destroy(&r);

    /* Stored policies that are not usable are corrupt state. */
    FSET(&fs, "bad/1", "{\"endorsement_policy\":7}", 1, 0);
    FSET(&fs, "bad/2", "{\"endorsement_policy\":\"ownr\"}", 1, 0);
    FSET(&fs, "bad/3", "{\"endorsement_policy\":\"x\\u0000y\"}", 1, 0);
    FSET(&fs, "bad/4", "{\"endorsement_policy\": ", 1, 0);
    static const struct {
        const char *key, *msg;
    } bad[] = {
        { "bad/1", "key bad/1: its endorsement_policy is not a string" },
        { "bad/2", "key bad/2: its endorsement_policy does not parse: policy: unknown "
                   "principal 'ownr' at 1" },
        { "bad/3", "policy: state value bad/3 is not JSON" },   /* jansson refuses \u0000 */
        { "bad/4", "policy: state value bad/4 is not JSON" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = (policy_resolved_t *) &r;
        policy_write_t bw = W(bad[i].key, "{}");
        CHECK_EQ(policy_resolve_tx(any, &bw, 1, &env, &r, &err), VL_ERR_CORRUPT);
        CHECK_CONTAINS(err.msg, bad[i].msg);
        CHECK(r == (policy_resolved_t *) &r);
    }
    policy_destroy(&any);
    fake_free(&fs);

    /* A key policy's principal errors name the key. */
    const policy_write_t badpol[] = { W("vehicle/" VIN_BADPOL, "{}") };
    policy_t *p = NULL;
    CHECK_EQ(policy_parse("any", &p, &err), 0);
    env = s_env(NULL);
    CHECK_EQ(policy_resolve_tx(p, badpol, 1, &env, &r, &err), VL_ERR_CORRUPT);
    CHECK_STR(err.msg, "key vehicle/" VIN_BADPOL ": its endorsement_policy does not parse: "
                       "policy: unknown principal 'ownr' at 1");
    fake_state_t fs2 = { 0 };
    FSET(&fs2, "vehicle/" VIN_NOORG,
             "{\"endorsement_policy\":\"owner\",\"owner\":\"" DID_NOORG "\"}", 1, 0);
    FSET(&fs2, "did/" DID_NOORG, "{}", 1, 1);
    const policy_write_t noorg[] = { W("vehicle/" VIN_NOORG, "{}") };
    env = (policy_env_t) { .ctx = &fs2, .get = fake_get, .orgs = &g_orgs };
    CHECK_EQ(policy_resolve_tx(p, noorg, 1, &env, &r, &err), VL_ERR_REFUSED);
    CHECK_STR(err.msg, "key vehicle/" VIN_NOORG ": policy principal 'owner': identity " DID_NOORG
                       " belongs to no organisation");
    fake_free(&fs2);

    /* The written-key bound. */
    static policy_write_t lots[POLICY_WRITES_MAX + 1];
    for (int i = 0; i <= POLICY_WRITES_MAX; i++)
        lots[i] = W("wallet/" DID_SELLER, "500");   /* unchanged: no guard */
    env = s_env(NULL);
    CHECK_EQ(policy_resolve_tx(p, lots, POLICY_WRITES_MAX + 1, &env, &r, &err), VL_ERR_LIMIT);
    CHECK_STR(err.msg, "policy: more than 4096 written keys");
    CHECK_EQ(policy_resolve_tx(p, lots, POLICY_WRITES_MAX, &env, &r, &err), 0);
    CHECK(r && s_nreads(r) == 1);   /* one key, read once */
    policy_resolved_destroy(&r);
    policy_destroy(&p);
}

/* ── creator, vehicle:<path>, arg: naming an organisation ─────────────── */

static void
test_creator(void)
{
    s_fixture();
    policy_t *p = NULL;
    policy_resolved_t *r = NULL;
    vl_err_t err;
    CHECK_EQ(policy_parse("creator", &p, &err), 0);
    policy_env_t env = s_env(NULL);
    env.creator_did = DID_SELLER;
    CHECK_EQ(policy_resolve(p, &env, &r, &err), 0);
    CHECK_EQ(s_only_org(r), DEALER1);
    CHECK_EQ(s_nreads(r), 1);   /* the creator's identity, for MVCC */
    CHECK_STR(s_read_at(r, 0)->key, "did/" DID_SELLER);
    CHECK_EQ(s_read_at(r, 0)->version.block, 3);
    vl_err_t why;
    org_set_t people = s_set(PEOPLE, -1);
    CHECK(!s_sat(r, &people, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'dealer1' (creator)");
    policy_resolved_destroy(&r);
    env.creator_did = DID_LENDER;
    CHECK_EQ(policy_resolve(p, &env, &r, &err), 0);
    CHECK_EQ(s_only_org(r), LENDER1);
    policy_resolved_destroy(&r);

    /* Unresolvable creators are refused, naming them. */
    static const struct {
        const char *creator;
        int code;
        const char *msg;
    } bad[] = {
        { NULL, VL_ERR_REFUSED, "policy principal 'creator': the proposal names no creator" },
        { DID_UNREG, VL_ERR_REFUSED,
          "policy principal 'creator': identity " DID_UNREG " is not registered" },
        { DID_NOORG, VL_ERR_REFUSED,
          "policy principal 'creator': identity " DID_NOORG " belongs to no organisation" },
        { DID_GHOST, VL_ERR_REFUSED,
          "policy principal 'creator': identity " DID_GHOST
          " belongs to organisation 'nowhere', which is not in the network" },
        { "did:vl:xyz", VL_ERR_INVALID, "policy: creator 'did:vl:xyz' is not a DID" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        env.creator_did = bad[i].creator;
        r = (policy_resolved_t *) &r;
        CHECK_EQ(policy_resolve(p, &env, &r, &err), bad[i].code);
        CHECK_STR(err.msg, bad[i].msg);
        CHECK(r == (policy_resolved_t *) &r);
    }
    policy_destroy(&p);
    /* a malformed creator DID is refused even by a policy that does not use it */
    CHECK_EQ(policy_parse("any", &p, &err), 0);
    r = NULL;
    CHECK_EQ(policy_resolve(p, &env, &r, &err), VL_ERR_INVALID);
    policy_destroy(&p);

    /* In a key policy: the same creator. */
    fake_state_t fs = { 0 };
    FSET(&fs, "sale/1", "{\"endorsement_policy\":\"creator\"}", 3, 0);
    FSET(&fs, "did/" DID_BUYER, "{\"org\":\"people\"}", 1, 0);
    CHECK_EQ(policy_parse("org:insurer1", &p, &err), 0);
    env = (policy_env_t) { .ctx = &fs, .get = fake_get, .orgs = &g_orgs,
                           .creator_did = DID_BUYER };
    policy_write_t w = W("sale/1", "{}");
    CHECK_EQ(policy_resolve_tx(p, &w, 1, &env, &r, &err), 0);
    org_set_t ins = s_set(INSURER1, -1);
    CHECK(!s_sat(r, &ins, &why));
    CHECK_STR(why.msg, "key sale/1: needs an endorsement from org 'people' (creator)");
    CHECK(s_sat(r, &people, NULL));
    policy_resolved_destroy(&r);
    policy_destroy(&p);
    fake_free(&fs);
}

static void
test_vehicle_path(void)
{
    s_fixture();
#define ARGS_VIN(v) "{\"vin\":\"" v "\"}"
    static const struct {
        const char *policy, *args;
        int org;            /* the one organisation that satisfies it; -1: dropped (anyone) */
    } cases[] = {
        { "vehicle:title.issuer", ARGS_VIN(VIN_TITLE), AGENCY2 },
        { "vehicle:title.issuer?", ARGS_VIN(VIN_TITLE), AGENCY2 },
        { "vehicle:owner", ARGS_VIN(VIN_LIEN), DEALER1 },
        { "vehicle:owner", ARGS_VIN(VIN_FREE), PEOPLE },
        { "vehicle:financing.lender", ARGS_VIN(VIN_LIEN), LENDER1 },
        { "vehicle:financing.lender?", ARGS_VIN(VIN_LIEN), LENDER1 },
        /* optional: nothing there, null there, no vehicle, no vin */
        { "all(org:people, vehicle:title.issuer?)", ARGS_VIN(VIN_FREE), PEOPLE },
        { "all(org:people, vehicle:title.previous?)", ARGS_VIN(VIN_TITLE), PEOPLE },
        { "all(org:people, vehicle:title.issuer?)", ARGS_VIN(VIN_UNREG), PEOPLE },
        { "all(org:people, vehicle:title.issuer?)", NULL, PEOPLE },
        { "all(org:people, vehicle:financing.lender?)", ARGS_VIN(VIN_NULLF), PEOPLE },
        { "all(org:people, vehicle:financing.lender?)", ARGS_VIN(VIN_NOLENDER), PEOPLE },
        { "all(org:people, vehicle:owner?)", ARGS_VIN(VIN_UNREG), PEOPLE },
        { "vehicle:title.issuer?", ARGS_VIN(VIN_FREE), -1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        policy_resolved_t *r = s_resolved(cases[i].policy, cases[i].args);
        int got = s_only_org(r);
        if (got != (cases[i].org >= 0 ? cases[i].org : -2))
            fprintf(stderr, "  case %zu %s: %d\n", i, cases[i].policy, got);
        CHECK_EQ(got, cases[i].org >= 0 ? cases[i].org : -2);   /* -2: several do */
        policy_resolved_destroy(&r);
    }

    /* owner is vehicle:owner, lienholder vehicle:financing.lender: the same
     * organisations whatever the vehicle, but each keeps its spelling. */
    static const char *const vins[] = { VIN_LIEN, VIN_FREE, VIN_NULLF, VIN_TITLE };
    for (size_t i = 0; i < 4; i++) {
        char args[64];
        snprintf(args, sizeof args, "{\"vin\":\"%s\"}", vins[i]);
        policy_resolved_t *a = s_resolved("all(owner, lienholder?)", args);
        policy_resolved_t *b = s_resolved("all(vehicle:owner, vehicle:financing.lender?)", args);
        for (unsigned m = 0; m < (1u << N_ORGS); m++) {
            org_set_t e = { { m } };
            CHECK_EQ(s_sat(a, &e, NULL), s_sat(b, &e, NULL));
        }
        policy_resolved_destroy(&a);
        policy_resolved_destroy(&b);
    }

    /* The read set: the vehicle, then the identity at the path. */
    policy_resolved_t *r = s_resolved("vehicle:title.issuer", ARGS_VIN(VIN_TITLE));
    CHECK_EQ(s_nreads(r), 2);
    CHECK_STR(s_read_at(r, 0)->key, "vehicle/" VIN_TITLE);
    CHECK_EQ(s_read_at(r, 0)->version.block, 9);
    CHECK_EQ(s_read_at(r, 0)->version.tx, 9);
    CHECK_STR(s_read_at(r, 1)->key, "did/" DID_AGENT);
    vl_err_t why;
    org_set_t a1 = s_set(AGENCY1, -1);
    CHECK(!s_sat(r, &a1, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'agency2' (vehicle:title.issuer)");
    policy_resolved_destroy(&r);

    /* Errors: any path but the two the schema fixes is the policy's choice,
     * so what is not there is a refusal. */
    static const struct {
        const char *policy, *args;
        int code;
        const char *msg;
    } bad[] = {
        { "vehicle:title.issuer", ARGS_VIN(VIN_FREE), VL_ERR_REFUSED,
          "policy principal 'vehicle:title.issuer': vehicle " VIN_FREE
          " has nothing at 'title.issuer'" },
        { "vehicle:title.previous", ARGS_VIN(VIN_TITLE), VL_ERR_REFUSED,
          "policy principal 'vehicle:title.previous': vehicle " VIN_TITLE
          " has nothing at 'title.previous'" },
        { "vehicle:title.issuer", ARGS_VIN(VIN_UNREG), VL_ERR_REFUSED,
          "policy principal 'vehicle:title.issuer': vehicle " VIN_UNREG " is not registered" },
        { "vehicle:title.issuer", NULL, VL_ERR_REFUSED,
          "policy principal 'vehicle:title.issuer': the proposal has no argument 'vin'" },
        { "vehicle:title.issuer", "{\"vin\":7}", VL_ERR_REFUSED,
          "policy principal 'vehicle:title.issuer': argument 'vin' is not a VIN" },
        { "vehicle:vin", ARGS_VIN(VIN_TITLE), VL_ERR_REFUSED,
          "policy principal 'vehicle:vin': vehicle " VIN_TITLE " has a 'vin' that is not a DID" },
        { "vehicle:title", ARGS_VIN(VIN_TITLE), VL_ERR_REFUSED,
          "policy principal 'vehicle:title': vehicle " VIN_TITLE
          " has a 'title' that is not a DID" },
        { "vehicle:vin.x?", ARGS_VIN(VIN_TITLE), VL_ERR_REFUSED,
          "policy principal 'vehicle:vin.x?': vehicle " VIN_TITLE
          " has a 'vin' that is not an object" },
        { "vehicle:financing.lender", ARGS_VIN(VIN_FREE), VL_ERR_REFUSED,
          "policy principal 'vehicle:financing.lender': vehicle " VIN_FREE " has no lien" },
        { "vehicle:owner", ARGS_VIN(VIN_NOORG), VL_ERR_REFUSED,
          "policy principal 'vehicle:owner': identity " DID_NOORG " belongs to no organisation" },
        /* "?" never excuses a name that does not resolve */
        { "vehicle:owner?", ARGS_VIN(VIN_NOORG), VL_ERR_REFUSED,
          "policy principal 'vehicle:owner?': identity " DID_NOORG
          " belongs to no organisation" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vl_err_t err = { "" };
        int rc = s_resolve_fails(bad[i].policy, bad[i].args, &err);
        if (rc != bad[i].code || strcmp(err.msg, bad[i].msg))
            fprintf(stderr, "  case %zu %s\n", i, bad[i].policy);
        CHECK_EQ(rc, bad[i].code);
        CHECK_STR(err.msg, bad[i].msg);
    }

    /* Corrupt vehicles: vehicle:owner and vehicle:financing.lender are as
     * corrupt as owner and lienholder; another path is only refused. */
    fake_state_t fs = { 0 };
    FSET(&fs, "vehicle/" VIN_NULLF, "{\"owner\":7}", 1, 2);
    FSET(&fs, "vehicle/" VIN_NOLENDER, "{\"owner\":\"" DID_SELLER "\",\"financing\":3}", 1, 3);
    FSET(&fs, "vehicle/" VIN_NOORG,
         "{\"owner\":\"" DID_SELLER "\",\"financing\":{\"lender\":\"x\"}}", 1, 4);
    FSET(&fs, "vehicle/" VIN_FREE, "[]", 1, 1);
    static const struct {
        const char *policy, *vin;
        int code;
        const char *msg;
    } corrupt[] = {
        { "vehicle:owner", VIN_NULLF, VL_ERR_CORRUPT,
          "policy principal 'vehicle:owner': vehicle " VIN_NULLF " has no owner DID" },
        { "vehicle:owner?", VIN_NULLF, VL_ERR_CORRUPT,
          "policy principal 'vehicle:owner?': vehicle " VIN_NULLF " has no owner DID" },
        { "vehicle:financing.lender?", VIN_NOLENDER, VL_ERR_CORRUPT,
          "policy principal 'vehicle:financing.lender?': vehicle " VIN_NOLENDER
          " has a 'financing' that is not an object" },
        { "vehicle:financing.lender", VIN_NOORG, VL_ERR_CORRUPT,
          "policy principal 'vehicle:financing.lender': vehicle " VIN_NOORG
          " has a financing lender that is not a DID" },
        { "vehicle:financing.bank", VIN_NOLENDER, VL_ERR_REFUSED,
          "policy principal 'vehicle:financing.bank': vehicle " VIN_NOLENDER
          " has a 'financing' that is not an object" },
        { "vehicle:financing.lender", VIN_FREE, VL_ERR_CORRUPT,
          "policy principal 'vehicle:financing.lender': vehicle/" VIN_FREE
          " is not a JSON object" },
        { "vehicle:x", VIN_FREE, VL_ERR_CORRUPT,   /* the document itself is corrupt */
          "policy principal 'vehicle:x': vehicle/" VIN_FREE " is not a JSON object" },
    };
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        policy_t *p = NULL;
        vl_err_t err = { "" };
        r = NULL;
        CHECK_EQ(policy_parse(corrupt[i].policy, &p, &err), 0);
        policy_env_t env = { .ctx = &fs, .get = fake_get, .orgs = &g_orgs,
                             .vin = corrupt[i].vin };
        CHECK_EQ(policy_resolve(p, &env, &r, &err), corrupt[i].code);
        CHECK_STR(err.msg, corrupt[i].msg);
        CHECK(r == NULL);
        policy_destroy(&p);
    }
    fake_free(&fs);

    /* In vehicle/<VIN>'s own policy the path is that vehicle's, whatever
     * args.vin says (and the key policy replaces the owner's guard). */
    FSET(&fs, "vehicle/" VIN_TITLE,
         "{\"endorsement_policy\":\"vehicle:title.issuer\",\"owner\":\"" DID_SELLER "\","
         "\"title\":{\"issuer\":\"" DID_AGENT "\"}}", 4, 0);
    FSET(&fs, "did/" DID_AGENT, "{\"org\":\"agency2\"}", 1, 0);
    const policy_write_t w[] = { W("vehicle/" VIN_TITLE, "{}") };
    r = s_resolved_tx_in(&fs, "org:insurer1", w, 1, ARGS_VIN(VIN_FREE));
    CHECK_EQ(s_only_org(r), AGENCY2);
    org_set_t ins = s_set(INSURER1, -1);
    CHECK(!s_sat(r, &ins, &why));
    CHECK_STR(why.msg, "key vehicle/" VIN_TITLE ": needs an endorsement from org 'agency2' "
                       "(vehicle:title.issuer)");
    policy_resolved_destroy(&r);
    fake_free(&fs);
#undef ARGS_VIN
}

static void
test_arg_org_name(void)
{
    s_fixture();
    static const struct {
        const char *policy, *args;
        int org;
    } cases[] = {
        { "arg:org", "{\"org\":\"lender1\"}", LENDER1 },
        { "arg:org?", "{\"org\":\"people\"}", PEOPLE },
        { "arg:deal.org", "{\"deal\":{\"org\":\"insurer1\"}}", INSURER1 },
        { "arg:org", "{\"org\":\"" DID_LENDER "\"}", LENDER1 },   /* a DID still works */
        { "all(arg:org, arg:buyer)", "{\"org\":\"people\",\"buyer\":\"" DID_BUYER "\"}", PEOPLE },
        { "all(org:people, arg:org?)", "{\"org\":null}", PEOPLE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        policy_resolved_t *r = s_resolved(cases[i].policy, cases[i].args);
        CHECK_EQ(s_only_org(r), cases[i].org);
        policy_resolved_destroy(&r);
    }
    /* an organisation's name reads nothing */
    policy_resolved_t *r = s_resolved("arg:org", "{\"org\":\"lender1\"}");
    CHECK(r && s_nreads(r) == 0);
    vl_err_t why;
    org_set_t people = s_set(PEOPLE, -1);
    CHECK(!s_sat(r, &people, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'lender1' (arg:org)");
    policy_resolved_destroy(&r);

    static const struct {
        const char *policy, *args, *msg;
    } bad[] = {
        { "arg:org", "{\"org\":\"bank9\"}",
          "policy principal 'arg:org': argument 'org' names organisation 'bank9', which is not "
          "in the network" },
        { "arg:org?", "{\"org\":\"bank9\"}",
          "policy principal 'arg:org?': argument 'org' names organisation 'bank9', which is not "
          "in the network" },
        { "arg:org", "{\"org\":\"Bank\"}",
          "policy principal 'arg:org': argument 'org' is not a DID or an organisation name" },
        { "arg:org", "{\"org\":\"\"}",
          "policy principal 'arg:org': argument 'org' is not a DID or an organisation name" },
        { "arg:org", "{\"org\":\"did:vl:12\"}",
          "policy principal 'arg:org': argument 'org' is not a DID or an organisation name" },
        { "arg:org", "{\"org\":true}",
          "policy principal 'arg:org': argument 'org' is not a DID or an organisation name" },
        { "arg:org", "{\"org\":{\"name\":\"people\"}}",
          "policy principal 'arg:org': argument 'org' is not a DID or an organisation name" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vl_err_t err = { "" };
        CHECK_EQ(s_resolve_fails(bad[i].policy, bad[i].args, &err), VL_ERR_REFUSED);
        CHECK_STR(err.msg, bad[i].msg);
    }
}

/* ── the ledger's guards ──────────────────────────────────────────────── */

static void
test_guard_wallet(void)
{
    s_fixture();
    vl_err_t why, err;
    org_set_t ins = s_set(INSURER1, -1), ins_d = s_set(INSURER1, DEALER1, -1), out;
    /* A debit needs the identity's organisation, whatever the function's
     * policy says. */
    const policy_write_t debit[] = { W("wallet/" DID_SELLER, "400") };
    policy_resolved_t *r = s_resolved_tx("org:insurer1", debit, 1, NULL);
    CHECK(!s_sat(r, &ins, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'dealer1' (wallet/" DID_SELLER
                       " is debited)");
    org_set_t d = s_set(DEALER1, -1);
    CHECK(!s_sat(r, &d, &why));   /* and the function's policy still applies */
    CHECK_STR(why.msg, "needs an endorsement from org 'insurer1' (org:insurer1)");
    CHECK(s_sat(r, &ins_d, NULL));
    CHECK_EQ(s_plan_of(r, INSURER1, &out), 2);
    CHECK(s_set_eq(out, ins_d));
    CHECK_EQ(s_plan_of(r, -1, &out), 2);
    CHECK(s_set_eq(out, ins_d));
    /* both keys the guard read are in the read set, with their versions */
    CHECK_EQ(s_nreads(r), 2);
    CHECK_STR(s_read_at(r, 0)->key, "wallet/" DID_SELLER);
    CHECK_EQ(s_read_at(r, 0)->version.block, 9);
    CHECK_EQ(s_read_at(r, 0)->version.tx, 6);
    CHECK_STR(s_read_at(r, 1)->key, "did/" DID_SELLER);
    CHECK_EQ(s_read_at(r, 1)->version.block, 3);
    CHECK_EQ(s_read_at(r, 1)->version.tx, 1);
    policy_resolved_destroy(&r);

    /* A credit, or the same value, needs nothing more. */
    static const char *const not_lower[] = { "600", "500", " 500 ", "9007199254740993" };
    for (size_t i = 0; i < 4; i++) {
        const policy_write_t w[] = { W("wallet/" DID_SELLER, not_lower[i]) };
        r = s_resolved_tx("org:insurer1", w, 1, NULL);
        CHECK(s_sat(r, &ins, NULL));
        CHECK_EQ(s_nreads(r), 1);   /* the wallet only: no identity was needed */
        policy_resolved_destroy(&r);
    }

    /* A new wallet starts at 0; a delete lowers to 0. */
    org_set_t ins_p = s_set(INSURER1, PEOPLE, -1);
    const struct {
        policy_write_t w;
        bool guarded;
    } edge[] = {
        { W("wallet/" DID_BUYER, "0"), false },
        { W("wallet/" DID_BUYER, "25"), false },
        { W("wallet/" DID_BUYER, "-1"), true },
        { WDEL("wallet/" DID_BUYER), false },   /* absent: 0 to 0 */
    };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        r = s_resolved_tx("org:insurer1", &edge[i].w, 1, NULL);
        CHECK_EQ(s_sat(r, &ins, &why), !edge[i].guarded);
        if (edge[i].guarded)
            CHECK_STR(why.msg, "needs an endorsement from org 'people' (wallet/" DID_BUYER
                               " is debited)");
        CHECK(s_sat(r, &ins_p, NULL));
        CHECK(!s_read_at(r, 0)->found);   /* the absent wallet is recorded absent */
        policy_resolved_destroy(&r);
    }
    const policy_write_t del[] = { WDEL("wallet/" DID_SELLER) };
    r = s_resolved_tx("org:insurer1", del, 1, NULL);
    CHECK(!s_sat(r, &ins, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'dealer1' (wallet/" DID_SELLER
                       " is debited)");
    CHECK(s_sat(r, &ins_d, NULL));
    policy_resolved_destroy(&r);

    /* Two debits in one organisation are one guard, named by the first;
     * debits in two organisations need both. */
    const policy_write_t two[] = { W("wallet/" DID_DEALER2, "0"), W("wallet/" DID_SELLER, "1") };
    r = s_resolved_tx("org:insurer1", two, 2, NULL);
    CHECK(!s_sat(r, &ins, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'dealer1' (wallet/" DID_DEALER2
                       " is debited)");
    CHECK(s_sat(r, &ins_d, NULL));
    CHECK_EQ(s_plan_of(r, -1, &out), 2);
    policy_resolved_destroy(&r);
    const policy_write_t both[] = { W("wallet/" DID_SELLER, "1"), W("wallet/" DID_BUYER, "-3") };
    r = s_resolved_tx("org:insurer1", both, 2, NULL);
    CHECK(!s_sat(r, &ins_d, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'people' (wallet/" DID_BUYER
                       " is debited)");
    CHECK_EQ(s_plan_of(r, PEOPLE, &out), 3);
    CHECK(s_set_eq(out, s_set(INSURER1, DEALER1, PEOPLE, -1)));
    policy_resolved_destroy(&r);

    /* A wallet write must be an integer: anything else could hide a debit. */
    static const char *const bad_values[] = { "\"400\"", "4.5", "", "{}", "null", "400x",
                                              "99999999999999999999" };
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        const policy_write_t w[] = { W("wallet/" DID_SELLER, bad_values[i]) };
        CHECK_EQ(s_tx_fails(NULL, "any", w, 1, &err), VL_ERR_INVALID);
        CHECK_STR(err.msg, "policy guard for wallet/" DID_SELLER
                           ": the written value is not a JSON integer");
    }

    /* Stored wallets that are not integers are corrupt; a debit of an
     * unregistered identity's wallet cannot be endorsed; a key under
     * wallet/ that is not a DID is nobody's wallet. */
    fake_state_t fs = { 0 };
    FSET(&fs, "wallet/" DID_SELLER, "\"x\"", 1, 0);
    FSET(&fs, "wallet/" DID_UNREG, "10", 1, 1);
    FSET(&fs, "wallet/abc", "10", 1, 2);
    const policy_write_t w1[] = { W("wallet/" DID_SELLER, "1") };
    CHECK_EQ(s_tx_fails(&fs, "any", w1, 1, &err), VL_ERR_CORRUPT);
    CHECK_STR(err.msg, "policy guard for wallet/" DID_SELLER ": wallet/" DID_SELLER
                       " is not a JSON integer");
    const policy_write_t w2[] = { W("wallet/" DID_UNREG, "5") };
    CHECK_EQ(s_tx_fails(&fs, "any", w2, 1, &err), VL_ERR_REFUSED);
    CHECK_STR(err.msg, "policy guard for wallet/" DID_UNREG ": identity " DID_UNREG
                       " is not registered");
    const policy_write_t w3[] = { W("wallet/abc", "0"), W("wallet/" DID_UNREG, "11") };
    r = s_resolved_tx_in(&fs, "org:insurer1", w3, 2, NULL);
    CHECK(s_sat(r, &ins, NULL));
    policy_resolved_destroy(&r);
    fake_free(&fs);
}

static void
test_guard_did(void)
{
    s_fixture();
    vl_err_t why, err;
    org_set_t ins = s_set(INSURER1, -1), ins_p = s_set(INSURER1, PEOPLE, -1), out;
    /* A write to an identity needs the organisation it belongs to. */
    const policy_write_t same[] = { W("did/" DID_BUYER, "{\"name\":\"B2\",\"org\":\"people\"}") };
    policy_resolved_t *r = s_resolved_tx("org:insurer1", same, 1, NULL);
    CHECK(!s_sat(r, &ins, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'people' (did/" DID_BUYER
                       " belongs to it)");
    CHECK(s_sat(r, &ins_p, NULL));
    CHECK_EQ(s_nreads(r), 1);
    CHECK_STR(s_read_at(r, 0)->key, "did/" DID_BUYER);
    CHECK_EQ(s_read_at(r, 0)->version.block, 4);
    policy_resolved_destroy(&r);

    /* Moving it to another organisation needs that one too. */
    const policy_write_t move[] = { W("did/" DID_BUYER, "{\"org\":\"lender1\"}") };
    r = s_resolved_tx("org:insurer1", move, 1, NULL);
    CHECK(!s_sat(r, &ins_p, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'lender1' (did/" DID_BUYER " moves to it)");
    org_set_t ipl = s_set(INSURER1, PEOPLE, LENDER1, -1);
    CHECK(s_sat(r, &ipl, NULL));
    org_set_t il = s_set(INSURER1, LENDER1, -1);
    CHECK(!s_sat(r, &il, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'people' (did/" DID_BUYER
                       " belongs to it)");
    CHECK_EQ(s_plan_of(r, -1, &out), 3);
    CHECK(s_set_eq(out, ipl));
    policy_resolved_destroy(&r);

    /* A new identity (or one of no organisation) needs the one it joins;
     * one that names none needs nothing more. */
    const struct {
        policy_write_t w;
        int org;            /* the guard's organisation; -1: none */
        const char *msg;
    } cases[] = {
        { W("did/" DID_UNREG, "{\"org\":\"people\"}"), PEOPLE,
          "needs an endorsement from org 'people' (did/" DID_UNREG " joins it)" },
        { W("did/" DID_NOORG, "{\"org\":\"people\"}"), PEOPLE,
          "needs an endorsement from org 'people' (did/" DID_NOORG " joins it)" },
        { W("did/" DID_UNREG, "{\"name\":\"x\"}"), -1, NULL },
        { W("did/" DID_UNREG, "{\"org\":null}"), -1, NULL },
        { W("did/" DID_NOORG, "{\"name\":\"N2\"}"), -1, NULL },
        /* leaving an organisation, or being deleted, needs it */
        { W("did/" DID_BUYER, "{\"name\":\"B\"}"), PEOPLE,
          "needs an endorsement from org 'people' (did/" DID_BUYER " belongs to it)" },
        { WDEL("did/" DID_BUYER), PEOPLE,
          "needs an endorsement from org 'people' (did/" DID_BUYER " belongs to it)" },
        { WDEL("did/" DID_UNREG), -1, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r = s_resolved_tx("org:insurer1", &cases[i].w, 1, NULL);
        bool ok = s_sat(r, &ins, &why);
        CHECK_EQ(ok, cases[i].org < 0);
        if (cases[i].msg)
            CHECK_STR(why.msg, cases[i].msg);
        if (cases[i].org >= 0) {
            org_set_t e = s_set(INSURER1, cases[i].org, -1);
            CHECK(s_sat(r, &e, NULL));
        }
        policy_resolved_destroy(&r);
    }

    /* Errors. */
    const struct {
        policy_write_t w;
        int code;
        const char *msg;
    } bad[] = {
        { W("did/" DID_BUYER, "{\"org\":\"bank9\"}"), VL_ERR_REFUSED,
          "policy guard for did/" DID_BUYER ": its new 'org' 'bank9' is not an organisation "
          "of the network" },
        { W("did/" DID_UNREG, "{\"org\":\"Bank\"}"), VL_ERR_REFUSED,
          "policy guard for did/" DID_UNREG ": its new 'org' 'Bank' is not an organisation "
          "of the network" },
        { W("did/" DID_BUYER, "{\"org\":5}"), VL_ERR_REFUSED,
          "policy guard for did/" DID_BUYER ": its new 'org' is not an organisation name" },
        { W("did/" DID_BUYER, "[1]"), VL_ERR_INVALID,
          "policy guard for did/" DID_BUYER ": the written value is not a JSON object" },
        { W("did/" DID_BUYER, "\"people\""), VL_ERR_INVALID,
          "policy guard for did/" DID_BUYER ": the written value is not a JSON object" },
        { W("did/" DID_BUYER, "{"), VL_ERR_INVALID,
          "policy guard for did/" DID_BUYER ": the written value is not a JSON object" },
        { W("did/" DID_GHOST, "{}"), VL_ERR_REFUSED,
          "policy guard for did/" DID_GHOST ": it belongs to organisation 'nowhere', which is "
          "not in the network" },
        { W("did/" DID_BADORG, "{}"), VL_ERR_CORRUPT,
          "policy guard for did/" DID_BADORG ": its 'org' is not a string" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = s_tx_fails(NULL, "any", &bad[i].w, 1, &err);
        if (rc != bad[i].code || strcmp(err.msg, bad[i].msg))
            fprintf(stderr, "  case %zu\n", i);
        CHECK_EQ(rc, bad[i].code);
        CHECK_STR(err.msg, bad[i].msg);
    }
    fake_state_t fs = { 0 };
    FSET(&fs, "did/" DID_BUYER, "[]", 1, 0);
    CHECK_EQ(s_tx_fails(&fs, "any", &same[0], 1, &err), VL_ERR_CORRUPT);
    CHECK_STR(err.msg, "policy guard for did/" DID_BUYER ": did/" DID_BUYER
                       " is not a JSON object");

    /* Guards are additive: a key policy replaces the function's policy,
     * never a guard. */
    FSET(&fs, "did/" DID_BUYER, "{\"org\":\"people\",\"endorsement_policy\":\"org:agency1\"}",
         5, 0);
    r = s_resolved_tx_in(&fs, "org:insurer1", same, 1, NULL);
    org_set_t a1 = s_set(AGENCY1, -1), a1p = s_set(AGENCY1, PEOPLE, -1);
    CHECK(!s_sat(r, &a1, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'people' (did/" DID_BUYER
                       " belongs to it)");
    CHECK(!s_sat(r, &ins_p, &why));
    CHECK_STR(why.msg, "key did/" DID_BUYER ": needs an endorsement from org 'agency1' "
                       "(org:agency1)");
    CHECK(s_sat(r, &a1p, NULL));
    policy_resolved_destroy(&r);
    fake_free(&fs);
}

static void
test_guard_vehicle(void)
{
    s_fixture();
    vl_err_t why, err;
    org_set_t a1 = s_set(AGENCY1, -1), out;
    /* A write to a vehicle without its own policy needs its owner as
     * before the transaction (here it is sold to the seller: the buyer,
     * its current owner, must endorse; the new owner does not count). */
    const policy_write_t sale[] = {
        W("vehicle/" VIN_FREE, "{\"owner\":\"" DID_SELLER "\"}") };
    policy_resolved_t *r = s_resolved_tx("org:agency1", sale, 1, NULL);
    CHECK(!s_sat(r, &a1, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'people' (vehicle/" VIN_FREE
                       " is written: its owner)");
    org_set_t a1p = s_set(AGENCY1, PEOPLE, -1), a1d = s_set(AGENCY1, DEALER1, -1);
    CHECK(s_sat(r, &a1p, NULL));
    CHECK(!s_sat(r, &a1d, NULL));
    CHECK_EQ(s_plan_of(r, DEALER1, &out), 2);
    CHECK(s_set_eq(out, a1p));
    CHECK_EQ(s_nreads(r), 2);
    CHECK_STR(s_read_at(r, 0)->key, "vehicle/" VIN_FREE);
    CHECK_EQ(s_read_at(r, 0)->version.block, 8);
    CHECK_STR(s_read_at(r, 1)->key, "did/" DID_BUYER);
    CHECK_EQ(s_read_at(r, 1)->version.block, 4);
    policy_resolved_destroy(&r);
    /* a delete too */
    const policy_write_t del[] = { WDEL("vehicle/" VIN_FREE) };
    r = s_resolved_tx("org:agency1", del, 1, NULL);
    CHECK(!s_sat(r, &a1, NULL));
    CHECK(s_sat(r, &a1p, NULL));
    policy_resolved_destroy(&r);
    /* when the function's policy already asks the owner: one endorsement */
    r = s_resolved_tx("owner", sale, 1, "{\"vin\":\"" VIN_FREE "\"}");
    CHECK_EQ(s_plan_of(r, AGENCY1, &out), 1);
    CHECK(s_set_eq(out, s_set(PEOPLE, -1)));
    policy_resolved_destroy(&r);

    /* With its own key policy, the key policy alone (it may not ask the owner). */
    org_set_t ins = s_set(INSURER1, -1);
    const policy_write_t own[] = { W("vehicle/" VIN_POLINS, "{}") };
    r = s_resolved_tx("org:agency1", own, 1, NULL);
    CHECK(s_sat(r, &ins, NULL));
    CHECK_EQ(s_plan_of(r, -1, &out), 1);
    policy_resolved_destroy(&r);

    /* Not registered yet: no guard (creation is the function's business). */
    const policy_write_t fresh[] = { W("vehicle/" VIN_UNREG, "{\"owner\":\"" DID_BUYER "\"}") };
    r = s_resolved_tx("org:agency1", fresh, 1, NULL);
    CHECK(s_sat(r, &a1, NULL));
    CHECK_EQ(s_nreads(r), 1);
    policy_resolved_destroy(&r);

    /* Owners that cannot be resolved. */
    const policy_write_t noorg[] = { W("vehicle/" VIN_NOORG, "{}") };
    CHECK_EQ(s_tx_fails(NULL, "any", noorg, 1, &err), VL_ERR_REFUSED);
    CHECK_STR(err.msg, "policy guard for vehicle/" VIN_NOORG ": identity " DID_NOORG
                       " belongs to no organisation");
    fake_state_t fs = { 0 };
    FSET(&fs, "vehicle/" VIN_LIEN, "{\"owner\":7}", 1, 0);
    FSET(&fs, "vehicle/" VIN_FREE, "[]", 1, 1);
    FSET(&fs, "vehicle/x.y", "{\"owner\":\"" DID_SELLER "\"}", 1, 2);
    const policy_write_t c1[] = { W("vehicle/" VIN_LIEN, "{}") };
    CHECK_EQ(s_tx_fails(&fs, "any", c1, 1, &err), VL_ERR_CORRUPT);
    CHECK_STR(err.msg, "policy guard for vehicle/" VIN_LIEN ": vehicle " VIN_LIEN
                       " has no owner DID");
    const policy_write_t c2[] = { W("vehicle/" VIN_FREE, "{}") };
    CHECK_EQ(s_tx_fails(&fs, "any", c2, 1, &err), VL_ERR_CORRUPT);
    CHECK_STR(err.msg, "policy guard for vehicle/" VIN_FREE ": vehicle/" VIN_FREE
                       " is not a JSON object");
    /* a key under vehicle/ that is not a VIN is not a vehicle */
    const policy_write_t other[] = { W("vehicle/x.y", "{}") };
    r = s_resolved_tx_in(&fs, "org:insurer1", other, 1, NULL);
    CHECK(s_sat(r, &ins, NULL));
    policy_resolved_destroy(&r);
    fake_free(&fs);
}

static void
test_guard_plan(void)
{
    s_fixture();
    org_set_t out;
    /* A guard's organisation may satisfy the function's policy too. */
    const policy_write_t agent[] = { W("wallet/" DID_AGENT, "1") };
    policy_resolved_t *r = s_resolved_tx("role:title_agency", agent, 1, NULL);
    CHECK_EQ(s_plan_of(r, AGENCY1, &out), 1);
    CHECK(s_set_eq(out, s_set(AGENCY2, -1)));
    policy_resolved_destroy(&r);
    /* owner, an agency (ours), the lender the buyer moves to */
    const policy_write_t move[] = { W("did/" DID_BUYER, "{\"org\":\"lender1\"}") };
    r = s_resolved_tx("all(owner, role:title_agency)", move, 1, "{\"vin\":\"" VIN_FREE "\"}");
    CHECK_EQ(s_plan_of(r, AGENCY2, &out), 3);
    CHECK(s_set_eq(out, s_set(PEOPLE, LENDER1, AGENCY2, -1)));
    CHECK_EQ(s_plan_of(r, -1, &out), 3);
    CHECK(s_set_eq(out, s_set(PEOPLE, LENDER1, AGENCY1, -1)));
    policy_resolved_destroy(&r);

    /* Random policies with random guards: every plan is a smallest one,
     * prefers the gateway's organisation when it can, and is stable. */
    const policy_write_t pool[] = {
        W("wallet/" DID_SELLER, "1"),                   /* dealer1 */
        W("wallet/" DID_AGENT, "1"),                    /* agency2 */
        W("did/" DID_BUYER, "{\"org\":\"lender1\"}"),   /* people, lender1 */
        W("vehicle/" VIN_FREE, "{}"),                   /* people */
        W("wallet/" DID_DEALER2, "1"),                  /* dealer1 */
        W("did/" DID_LENDER, "{\"org\":\"insurer1\"}"), /* lender1, insurer1 */
        W("wallet/" DID_BUYER, "5"),                    /* a credit: none */
    };
    char buf[4096];
    int checked = 0;
    for (int round = 0; round < 200; round++) {
        int nodes = 0;
        s_random_policy(buf, sizeof buf, 0, &nodes);
        policy_write_t ws[8];
        size_t n = 0;
        for (size_t i = 0; i < sizeof pool / sizeof pool[0]; i++)
            if (s_rand(3) == 0)
                ws[n++] = pool[i];
        policy_t *p = NULL;
        vl_err_t err;
        if (policy_parse(buf, &p, &err) != 0)
            continue;
        policy_env_t env = s_env("{\"vin\":\"" VIN_LIEN "\",\"buyer\":\"" DID_BUYER "\"}");
        r = NULL;
        CHECK_EQ(policy_resolve_tx(p, ws, n, &env, &r, &err), 0);
        if (r) {
            int pref = (int) s_rand(N_ORGS + 1) - 1;
            org_set_t again;
            size_t got = s_plan_of(r, pref, &out);
            CHECK(s_sat(r, &out, NULL));
            int min = s_min_plan(r);
            if ((int) got != min)
                fprintf(stderr, "  %s with %zu writes: plan %zu, minimum %d\n", policy_text(p),
                        n, got, min);
            CHECK_EQ(got, min);
            s_plan_of(r, pref, &again);
            CHECK(s_set_eq(out, again));
            if (pref >= 0 && !org_set_has(&out, pref)) {
                for (unsigned m = 0; m < (1u << N_ORGS); m++) {
                    org_set_t e = { { m } };
                    if ((m >> pref & 1) && __builtin_popcount(m) == min)
                        CHECK(!s_sat(r, &e, NULL));
                }
            }
            checked++;
        }
        policy_resolved_destroy(&r);
        policy_destroy(&p);
    }
    CHECK(checked > 100);

    /* Many guards stay exact: 30 organisations forced by debits, and a
     * function policy the greedy plan gets wrong (it takes o31 and o32
     * where o30 alone does); without leaving the forced organisations out
     * of the search, its budget would run out first. */
    orgs_t big = { .count = 0 };
    fake_state_t fs = { 0 };
    static char keys[30][64];
    policy_write_t debits[30];
    vl_err_t err;
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof name, "o%d", i);
        CHECK_EQ(orgs_add(&big, name, NULL, 0, &err), 0);
        if (i >= 30)
            continue;
        char key[64], doc[64];
        snprintf(key, sizeof key, "did/did:vl:%040x", i);
        snprintf(doc, sizeof doc, "{\"org\":\"%s\"}", name);
        FSET(&fs, key, doc, 1, (uint32_t) i);
        snprintf(keys[i], sizeof keys[i], "wallet/did:vl:%040x", i);
        FSET(&fs, keys[i], "10", 1, (uint32_t) i);
        debits[i] = W(keys[i], "5");
    }
    policy_t *p = NULL;
    CHECK_EQ(policy_parse("all(any(org:o31, org:o30), any(org:o32, org:o30))", &p, &err), 0);
    policy_env_t env = { .ctx = &fs, .get = fake_get, .orgs = &big };
    r = NULL;
    CHECK_EQ(policy_resolve_tx(p, debits, 30, &env, &r, &err), 0);
    CHECK_EQ(s_plan_of(r, -1, &out), 31);
    for (int i = 0; i <= 30; i++)
        CHECK(org_set_has(&out, i));
    CHECK(s_sat(r, &out, NULL));
    CHECK_EQ(s_nreads(r), 60);   /* each wallet and each identity */
    vl_err_t why;
    org_set_t some = s_set(30, -1);
    CHECK(r && !s_sat(r, &some, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'o0' (wallet/did:vl:"
                       "0000000000000000000000000000000000000000 is debited)");
    policy_resolved_destroy(&r);
    policy_destroy(&p);
    fake_free(&fs);
}

static void
test_write_limits(void)
{
    s_fixture();
    policy_t *p = NULL;
    policy_resolved_t *r = NULL;
    vl_err_t err;
    CHECK_EQ(policy_parse("any", &p, &err), 0);
    policy_env_t env = s_env(NULL);
    /* keys and values together: POLICY_WRITE_BYTES_MAX is fine, one more is not */
    uint8_t *big = calloc(1, POLICY_WRITE_BYTES_MAX);
    policy_write_t w[2] = { { "x/1", big, POLICY_WRITE_BYTES_MAX - 3 - 3, false },
                            { "x/2", NULL, 0, false } };
    CHECK_EQ(policy_resolve_tx(p, w, 2, &env, &r, &err), 0);
    policy_resolved_destroy(&r);
    w[0].len++;
    r = (policy_resolved_t *) &r;
    CHECK_EQ(policy_resolve_tx(p, w, 2, &env, &r, &err), VL_ERR_LIMIT);
    CHECK_STR(err.msg, "policy: more than 2097152 bytes of written keys and values");
    CHECK(r == (policy_resolved_t *) &r);
    /* a delete's value does not count */
    w[0].is_delete = true;
    w[0].len = SIZE_MAX;
    r = NULL;
    CHECK_EQ(policy_resolve_tx(p, w, 2, &env, &r, &err), 0);
    policy_resolved_destroy(&r);
    /* nor can a huge length wrap the count */
    w[0].is_delete = false;
    r = (policy_resolved_t *) &r;
    CHECK_EQ(policy_resolve_tx(p, w, 2, &env, &r, &err), VL_ERR_LIMIT);
    free(big);
    policy_destroy(&p);
}

/* The stored copy: a resolved policy outlives the policy it came from. */
static void
test_ownership(void)
{
    s_fixture();
    policy_t *p = NULL;
    policy_resolved_t *r = NULL;
    vl_err_t err;
    CHECK_EQ(policy_parse("all(owner, lienholder?)", &p, &err), 0);
    policy_env_t env = s_env("{\"vin\":\"" VIN_LIEN "\"}");
    CHECK_EQ(policy_resolve(p, &env, &r, &err), 0);
    policy_destroy(&p);
    org_set_t e = s_set(DEALER1, -1);
    vl_err_t why;
    CHECK(r && !s_sat(r, &e, &why));
    CHECK_STR(why.msg, "needs an endorsement from org 'lender1' (lienholder?)");
    policy_resolved_destroy(&r);
}

/* Every expression the standard contracts declare on their "--! policy"
 * line parses with the real grammar (the contracts' own tests use a
 * stand-in checker). */
static void
test_stdlib_policies_parse(void)
{
    size_t n = 0;
    const contracts_stdlib_entry_t *lib = contracts_stdlib(&n);
    CHECK(n > 5);
    size_t parsed = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *map = json_loads(lib[i].policy_json, 0, NULL);
        CHECK(json_is_object(map));
        const char *fn;
        json_t *v;
        json_object_foreach(map, fn, v) {
            policy_t *p = NULL;
            vl_err_t err = { "" };
            int rc = policy_parse(json_string_value(v) ? json_string_value(v) : "", &p, &err);
            if (rc != 0)
                fprintf(stderr, "%s.%s: %s\n", lib[i].name, fn, err.msg);
            CHECK_EQ(rc, 0);
            parsed += rc == 0;
            policy_destroy(&p);
        }
        json_decref(map);
    }
    CHECK(parsed > 20);
}

int
main(void)
{
    RUN(test_orgs);
    RUN(test_parse_good);
    RUN(test_parse_errors);
    RUN(test_parse_limits);
    RUN(test_canonical_roundtrip);
    RUN(test_resolve_principals);
    RUN(test_resolve_errors);
    RUN(test_optional);
    RUN(test_read_set);
    RUN(test_satisfied);
    RUN(test_plan);
    RUN(test_plan_minimal_random);
    RUN(test_plan_budget);
    RUN(test_key_policies);
    RUN(test_creator);
    RUN(test_vehicle_path);
    RUN(test_arg_org_name);
    RUN(test_guard_wallet);
    RUN(test_guard_did);
    RUN(test_guard_vehicle);
    RUN(test_guard_plan);
    RUN(test_write_limits);
    RUN(test_ownership);
    fake_free(&g_fs);
    RUN(test_stdlib_policies_parse);
    return check_done();
}
