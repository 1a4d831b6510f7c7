/*
 * policy_resolve.c — resolution of endorsement policies against world state
 * (policy_resolve, policy_resolve_tx; the contract is in policy.h).
 *
 * Resolution reads through a small per-call cache keyed by state key: the
 * same document (a vehicle read by `owner` and `lienholder`, an identity
 * named twice) is fetched and parsed once, and the cache is the read set
 * handed back, each key once, in first-read order.
 */
#include "policy.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "did.h"
#include "json.h"
#include "policy_internal.h"

#define S_VIN_MAX 64

typedef struct {
    char *key;              /* owned until moved into the result */
    bool found;
    vl_version_t version;
    bool checked;           /* the value was looked at for a document */
    json_t *doc;            /* owned: the parsed value, when it was needed */
} s_entry_t;

typedef struct {
    const policy_env_t *env;
    json_t *args;           /* owned */
    s_entry_t *e;           /* owned: the read cache, in first-read order */
    size_t n, cap;
    uint32_t *slot;         /* owned: open-addressing index, entry + 1; 0 = empty */
    size_t slots;           /* a power of two, > 2 n */
    vl_err_t *err;
} s_ctx_t;

enum { S_DOC, S_DOC_IF_POLICY };

static uint32_t
s_hash(const char *s)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 16777619u;
    return h;
}

static int
s_index_grow(s_ctx_t *cx)
{
    size_t slots = cx->slots ? cx->slots * 2 : 64;
    uint32_t *slot = calloc(slots, sizeof *slot);
    if (!slot)
        return VL_ERR_NOMEM;
    for (size_t i = 0; i < cx->n; i++) {
        size_t j = s_hash(cx->e[i].key) & (slots - 1);
        while (slot[j])
            j = (j + 1) & (slots - 1);
        slot[j] = (uint32_t) i + 1;
    }
    free(cx->slot);
    cx->slot = slot;
    cx->slots = slots;
    return 0;
}

static int
s_parse_doc(s_ctx_t *cx, const char *key, const char *value, size_t len, json_t **doc)
{
    json_error_t jerr;
    *doc = json_loadb(value, len, JSON_DECODE_ANY, &jerr);
    if (!*doc)
        return vl_err_set(cx->err, VL_ERR_CORRUPT, "policy: state value %s is not JSON: %s",
                          key, jerr.text);
    return 0;
}

/* Reads key through the cache: each key is fetched from state once, except
 * that a value looked at only for a key policy (and not kept) is fetched
 * again if a principal then needs it as a document. mode: S_DOC parses the
 * value; S_DOC_IF_POLICY parses it only if it may hold POLICY_KEY_FIELD. */
static int
s_read(s_ctx_t *cx, const char *key, int mode, s_entry_t **out)
{
    size_t j = 0;
    s_entry_t *e = NULL;
    if (cx->slots) {
        j = s_hash(key) & (cx->slots - 1);
        for (; cx->slot[j]; j = (j + 1) & (cx->slots - 1)) {
            if (strcmp(cx->e[cx->slot[j] - 1].key, key) == 0) {
                e = &cx->e[cx->slot[j] - 1];
                break;
            }
        }
    }
    if (e && (!e->found || e->doc || (mode == S_DOC_IF_POLICY && e->checked))) {
        *out = e;
        return 0;
    }
    char *value = NULL;
    size_t len = 0;
    vl_version_t ver = { 0, 0 };
    int rc = cx->env->get(cx->env->ctx, key, &value, &len, &ver);
    if (rc != 0 && rc != VL_ERR_NOT_FOUND) {
        free(value);
        return vl_err_set(cx->err, rc, "policy: reading %s: %s", key, vl_strerror(rc));
    }
    bool found = rc == 0;
    json_t *doc = NULL;
    if (found) {
        /* A value is canonical JSON written by the VM; a key policy shows as
         * the field name verbatim, or could hide behind a \u escape. Neither
         * present: no policy, and the (possibly large) value is not parsed. */
        bool may = mode == S_DOC ||
                   memmem(value, len, "\"" POLICY_KEY_FIELD "\"", strlen(POLICY_KEY_FIELD) + 2) ||
                   memmem(value, len, "\\u", 2);
        if (may && (rc = s_parse_doc(cx, key, value, len, &doc)) != 0) {
            free(value);
            return rc;
        }
    }
    free(value);
    if (e) {
        /* A second fetch of a key already recorded: state is one snapshot
         * for the call, so the first recorded version stands. */
        e->doc = doc;
        e->checked = true;
        *out = e;
        return 0;
    }
    if (cx->n == cx->cap) {
        size_t cap = cx->cap ? cx->cap * 2 : 16;
        s_entry_t *ne = realloc(cx->e, cap * sizeof *ne);
        if (!ne) {
            json_decref(doc);
            return vl_err_set(cx->err, VL_ERR_NOMEM, "policy: out of memory");
        }
        cx->e = ne;
        cx->cap = cap;
    }
    char *kc = strdup(key);
    if (!kc || ((cx->n + 1) * 2 >= cx->slots && s_index_grow(cx) != 0)) {
        free(kc);
        json_decref(doc);
        return vl_err_set(cx->err, VL_ERR_NOMEM, "policy: out of memory");
    }
    cx->e[cx->n] = (s_entry_t) { .key = kc, .found = found, .checked = true,
                                 .version = found ? ver : (vl_version_t) { 0, 0 }, .doc = doc };
    j = s_hash(key) & (cx->slots - 1);
    while (cx->slot[j])
        j = (j + 1) & (cx->slots - 1);
    cx->slot[j] = (uint32_t) ++cx->n;
    *out = &cx->e[cx->n - 1];
    return 0;
}

/* Sets cx->err to "<where><what>" and returns code. where is the context a
 * failure is reported in: "[key K: ]policy principal 'P': " (s_where) or
 * "policy guard for K: ". */
static int
s_werr(s_ctx_t *cx, const char *where, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
s_werr(s_ctx_t *cx, const char *where, int code, const char *fmt, ...)
{
    char what[VL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return vl_err_set(cx->err, code, "%s%s", where, what);
}

/* The context of node i of part's failures. */
static void
s_where(const policy_part_t *part, size_t i, char *buf, size_t size)
{
    const policy_node_t *n = &part->policy.nodes[i];
    snprintf(buf, size, "%spolicy principal '%.*s': ", part->label, (int) n->text_len,
             part->policy.text + n->text_off);
}

static bool
s_vin_valid(const char *s, size_t n)
{
    if (n == 0 || n > S_VIN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!policy_word_char(s[i]))
            return false;
    return true;
}

/* Walks the dotted path (a valid field, see policy.c) down from obj: true
 * with *out the value there, NULL when it or an object on the way is
 * missing or null; false when a value on the way is not an object, with
 * *at the length of the path's prefix that names it. */
static bool
s_walk(json_t *obj, const char *path, json_t **out, size_t *at)
{
    json_t *cur = obj;
    const char *seg = path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t) (dot - seg) : strlen(seg);
        char name[POLICY_FIELD_MAX + 1];
        assert(n <= POLICY_FIELD_MAX);
        memcpy(name, seg, n);
        name[n] = '\0';
        cur = json_object_get(cur, name);
        if (!cur || json_is_null(cur)) {
            *out = NULL;
            return true;
        }
        if (!dot) {
            *out = cur;
            return true;
        }
        if (!json_is_object(cur)) {
            *at = (size_t) (dot - path);
            return false;
        }
        seg = dot + 1;
    }
}

/* args.<path>: *out is NULL when the argument (or an object on the way to
 * it) is missing or null. */
static int
s_arg(s_ctx_t *cx, const char *where, const char *path, json_t **out)
{
    size_t at = 0;
    if (!s_walk(cx->args, path, out, &at))
        return s_werr(cx, where, VL_ERR_REFUSED, "argument '%.*s' is not an object", (int) at,
                      path);
    return 0;
}

/* The VIN a vehicle principal of part refers to, or NULL when there is none. */
static int
s_vin(s_ctx_t *cx, const policy_part_t *part, const char *where, const char **vin)
{
    if (part->vin) {
        *vin = part->vin;
        return 0;
    }
    json_t *v = json_object_get(cx->args, "vin");
    if (!v || json_is_null(v)) {
        *vin = NULL;
        return 0;
    }
    if (!json_is_string(v) || !s_vin_valid(json_string_value(v), json_string_length(v)))
        return s_werr(cx, where, VL_ERR_REFUSED, "argument 'vin' is not a VIN");
    *vin = json_string_value(v);
    return 0;
}

/* The organisation of identity did, from did/<DID> field "org". */
static int
s_org_of(s_ctx_t *cx, const char *where, const char *did, int *org)
{
    char key[8 + VL_DID_BUF];
    snprintf(key, sizeof key, "did/%s", did);
    s_entry_t *e;
    int rc = s_read(cx, key, S_DOC, &e);
    if (rc)
        return rc;
    if (!e->found)
        return s_werr(cx, where, VL_ERR_REFUSED, "identity %s is not registered", did);
    if (!json_is_object(e->doc))
        return s_werr(cx, where, VL_ERR_CORRUPT, "%s is not a JSON object", key);
    json_t *o = json_object_get(e->doc, "org");
    if (!o || json_is_null(o))
        return s_werr(cx, where, VL_ERR_REFUSED, "identity %s belongs to no organisation", did);
    if (!json_is_string(o))
        return s_werr(cx, where, VL_ERR_CORRUPT, "identity %s has an 'org' that is not a string",
                      did);
    int idx = orgs_find(cx->env->orgs, json_string_value(o));
    if (idx < 0)
        return s_werr(cx, where, VL_ERR_REFUSED,
                      "identity %s belongs to organisation '%.64s', which is not in the network",
                      did, json_string_value(o));
    *org = idx;
    return 0;
}

/* The DID at dotted path of vehicle/<vin>, or NULL when it names nothing
 * and optional (the vehicle is not registered, the path holds nothing or
 * null). "owner" and "financing.lender" have the shape the vehicle schema
 * fixes, so a bad value there is corrupt state; a bad value at any other
 * path is the policy's problem, a refusal (policy.h, "Meaning"). */
static int
s_vehicle_at(s_ctx_t *cx, const char *where, const char *vin, const char *path,
             bool optional, const char **did)
{
    bool is_owner = strcmp(path, "owner") == 0;
    bool is_lender = strcmp(path, "financing.lender") == 0;
    int bad = is_owner || is_lender ? VL_ERR_CORRUPT : VL_ERR_REFUSED;
    char key[16 + S_VIN_MAX];
    snprintf(key, sizeof key, "vehicle/%s", vin);
    *did = NULL;
    s_entry_t *e;
    int rc = s_read(cx, key, S_DOC, &e);
    if (rc)
        return rc;
    if (!e->found)
        return optional ? 0
                        : s_werr(cx, where, VL_ERR_REFUSED, "vehicle %s is not registered", vin);
    if (!json_is_object(e->doc))
        return s_werr(cx, where, VL_ERR_CORRUPT, "%s is not a JSON object", key);
    json_t *d;
    size_t at = 0;
    if (!s_walk(e->doc, path, &d, &at))
        return s_werr(cx, where, bad, "vehicle %s has a '%.*s' that is not an object", vin,
                      (int) at, path);
    if (!d) {
        if (is_owner)   /* a registered vehicle always has one */
            return s_werr(cx, where, VL_ERR_CORRUPT, "vehicle %s has no owner DID", vin);
        if (optional)
            return 0;
        if (is_lender)
            return s_werr(cx, where, VL_ERR_REFUSED, "vehicle %s has no lien", vin);
        return s_werr(cx, where, VL_ERR_REFUSED, "vehicle %s has nothing at '%s'", vin, path);
    }
    if (!json_is_string(d) || !vl_did_valid(json_string_value(d))) {
        if (is_owner)
            return s_werr(cx, where, VL_ERR_CORRUPT, "vehicle %s has no owner DID", vin);
        if (is_lender)
            return s_werr(cx, where, VL_ERR_CORRUPT,
                          "vehicle %s has a financing lender that is not a DID", vin);
        return s_werr(cx, where, VL_ERR_REFUSED, "vehicle %s has a '%s' that is not a DID", vin,
                      path);
    }
    *did = json_string_value(d);   /* borrowed from the cache, which outlives the call */
    return 0;
}

/* The DID node i of part (owner, lienholder, vehicle:<path>) names, or NULL
 * when it names nothing and is optional. */
static int
s_vehicle_did(s_ctx_t *cx, const policy_part_t *part, size_t i, const char *where,
              const char **did)
{
    const policy_node_t *n = &part->policy.nodes[i];
    const char *path = n->kind == POLICY_NODE_OWNER  ? "owner"
                     : n->kind == POLICY_NODE_LIEN ? "financing.lender"
                                                     : part->policy.names + n->name;
    const char *vin = NULL;
    int rc = s_vin(cx, part, where, &vin);
    if (rc)
        return rc;
    *did = NULL;
    if (!vin)
        return n->optional ? 0
                           : s_werr(cx, where, VL_ERR_REFUSED,
                                    "the proposal has no argument 'vin'");
    return s_vehicle_at(cx, where, vin, path, n->optional, did);
}

/* Resolves node i of part (and its subtree) into part->r. */
static int
s_resolve_node(s_ctx_t *cx, policy_part_t *part, size_t i)
{
    const policy_node_t *n = &part->policy.nodes[i];
    const orgs_t *orgs = cx->env->orgs;
    policy_rnode_t *r = &part->r[i];
    memset(r, 0, sizeof *r);
    int rc, org = -1;
    const char *did = NULL;
    if (POLICY_NODE_IS_GATE(n->kind)) {
        unsigned live = 0;
        for (size_t j = i + 1; j < i + n->size; j += part->policy.nodes[j].size) {
            if ((rc = s_resolve_node(cx, part, j)) != 0)
                return rc;
            live += !part->r[j].dropped;
        }
        r->dropped = live == 0;
        r->k = (uint16_t) (n->kind == POLICY_NODE_ALL ? live
                           : n->kind == POLICY_NODE_ANY ? (live ? 1 : 0)
                           : (n->k < live ? n->k : live));
        return 0;
    }
    char where[VL_ERR_MSG_MAX];
    s_where(part, i, where, sizeof where);
    switch (n->kind) {
    case POLICY_NODE_ANYORG:
        for (size_t o = 0; o < orgs->count; o++)
            org_set_add(&r->cand, (int) o);
        if (!orgs->count)
            return s_werr(cx, where, VL_ERR_REFUSED, "the network has no organisations");
        return 0;
    case POLICY_NODE_ROLE:
        r->cand = orgs_with_role(orgs, (org_role_t) n->role);
        if (org_set_first(&r->cand) < 0)
            return s_werr(cx, where, VL_ERR_REFUSED, "no organisation holds role '%s'",
                          org_role_name((org_role_t) n->role));
        return 0;
    case POLICY_NODE_ORG:
        org = orgs_find(orgs, part->policy.names + n->name);
        if (org < 0)
            return s_werr(cx, where, VL_ERR_REFUSED, "organisation '%s' is not in the network",
                          part->policy.names + n->name);
        break;
    case POLICY_NODE_ID:
        did = part->policy.names + n->name;
        break;
    case POLICY_NODE_CREATOR:
        did = cx->env->creator_did;
        if (!did)
            return s_werr(cx, where, VL_ERR_REFUSED, "the proposal names no creator");
        break;
    case POLICY_NODE_OWNER:
    case POLICY_NODE_LIEN:
    case POLICY_NODE_VEHICLE:
        if ((rc = s_vehicle_did(cx, part, i, where, &did)) != 0)
            return rc;
        if (!did) {
            r->dropped = true;
            return 0;
        }
        break;
    case POLICY_NODE_ARG: {
        const char *path = part->policy.names + n->name;
        json_t *v;
        if ((rc = s_arg(cx, where, path, &v)) != 0)
            return rc;
        if (!v) {
            if (n->optional) {
                r->dropped = true;
                return 0;
            }
            return s_werr(cx, where, VL_ERR_REFUSED, "the proposal has no argument '%s'", path);
        }
        const char *s = json_string_value(v);   /* NULL unless a string */
        if (s && vl_did_valid(s)) {
            did = s;
        } else if (s && orgs_name_valid(s, json_string_length(v))) {
            org = orgs_find(orgs, s);
            if (org < 0)
                return s_werr(cx, where, VL_ERR_REFUSED,
                              "argument '%s' names organisation '%s', which is not in the "
                              "network", path, s);
        } else {
            return s_werr(cx, where, VL_ERR_REFUSED,
                          "argument '%s' is not a DID or an organisation name", path);
        }
        break;
    }
    default:
        assert(0 && "policy node kind");
        return VL_ERR_CORRUPT;
    }
    if (did && (rc = s_org_of(cx, where, did, &org)) != 0)
        return rc;
    assert(org >= 0);
    org_set_add(&r->cand, org);
    return 0;
}

/* The parts being built: parts [0, first_guard) are the function's and the
 * key policies, [first_guard, n) the guards. */
typedef struct {
    policy_part_t *v;       /* owned */
    size_t n, cap;
    size_t first_guard;
} s_parts_t;

static void
s_parts_free(policy_part_t *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(parts[i].label);
        free(parts[i].vin);
        free(parts[i].reason);
    }
    free(parts);
}

static void
s_ctx_free(s_ctx_t *cx)
{
    for (size_t i = 0; i < cx->n; i++) {
        free(cx->e[i].key);
        json_decref(cx->e[i].doc);
    }
    free(cx->e);
    free(cx->slot);
    json_decref(cx->args);
}

/* Appends a part for policy (copied); label and vin are copied too. *out
 * (may be NULL) is the new part, valid until the next append. */
static int
s_add_part(s_parts_t *ps, const policy_t *policy, const char *label, const char *vin,
           policy_part_t **out)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 4;
        policy_part_t *np = realloc(ps->v, cap * sizeof *np);
        if (!np)
            return VL_ERR_NOMEM;
        ps->v = np;
        ps->cap = cap;
    }
    policy_part_t *p = &ps->v[ps->n];
    memset(p, 0, sizeof *p);
    p->policy = *policy;
    p->label = strdup(label);
    p->vin = vin ? strdup(vin) : NULL;
    ps->n++;   /* counted now, so a failed strdup is freed with the rest */
    if (out)
        *out = p;
    return p->label && (!vin || p->vin) ? 0 : VL_ERR_NOMEM;
}

/* The key policy of written key, if its current value carries one: parsed
 * into *policy (NULL when none). */
static int
s_key_policy(s_ctx_t *cx, const char *key, policy_t **policy)
{
    s_entry_t *e;
    int rc = s_read(cx, key, S_DOC_IF_POLICY, &e);
    if (rc)
        return rc;
    *policy = NULL;
    json_t *t = json_is_object(e->doc) ? json_object_get(e->doc, POLICY_KEY_FIELD) : NULL;
    if (!t || json_is_null(t))
        return 0;
    if (!json_is_string(t))
        return vl_err_set(cx->err, VL_ERR_CORRUPT, "key %s: its %s is not a string", key,
                          POLICY_KEY_FIELD);
    /* No NUL inside: values are parsed without JSON_ALLOW_NUL. */
    vl_err_t perr;
    if (policy_parse(json_string_value(t), policy, &perr) != 0)
        return vl_err_set(cx->err, VL_ERR_CORRUPT, "key %s: its %s does not parse: %s", key,
                          POLICY_KEY_FIELD, perr.msg);
    return 0;
}

/* The VIN of a key "vehicle/<VIN>", or NULL for any other key. */
static const char *
s_key_vin(const char *key)
{
    const char *prefix = "vehicle/";
    if (strncmp(key, prefix, strlen(prefix)) != 0)
        return NULL;
    const char *vin = key + strlen(prefix);
    return s_vin_valid(vin, strlen(vin)) ? vin : NULL;
}

/* The DID of a key "<prefix><DID>", or NULL for any other key. */
static const char *
s_key_did(const char *key, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(key, prefix, n) == 0 && vl_did_valid(key + n) ? key + n : NULL;
}

/* ── Guards (policy.h, "The ledger's own guards"; policy_resolve_tx) ──── */

/* Fills *p with the policy "org:<name>", the one principal a guard is. */
static void
s_org_policy(const char *name, policy_t *p)
{
    size_t n = strlen(name);
    assert(n >= 1 && n <= ORG_NAME_MAX);
    memset(p, 0, sizeof *p);
    p->nodes[0] = (policy_node_t) { .kind = POLICY_NODE_ORG, .size = 1, .name = 0,
                                    .text_off = 0, .text_len = (uint16_t) (4 + n) };
    p->n_nodes = 1;
    memcpy(p->names, name, n + 1);
    p->names_len = n + 1;
    p->text_len = (size_t) snprintf(p->text, sizeof p->text, "org:%s", name);
}

/* Requires org for the reason given, unless a guard already requires it
 * (the first reason stands): guards are one per organisation. */
static int
s_add_guard(s_ctx_t *cx, s_parts_t *ps, int org, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
s_add_guard(s_ctx_t *cx, s_parts_t *ps, int org, const char *fmt, ...)
{
    assert(org >= 0 && (size_t) org < cx->env->orgs->count);
    for (size_t i = ps->first_guard; i < ps->n; i++)
        if (org_set_has(&ps->v[i].r[0].cand, org))
            return 0;
    assert(ps->n - ps->first_guard < POLICY_GUARDS_MAX);
    char reason[VL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    policy_t g;
    s_org_policy(cx->env->orgs->items[org].name, &g);
    policy_part_t *part = NULL;
    int rc = s_add_part(ps, &g, "", NULL, &part);
    if (!rc && !(part->reason = strdup(reason)))
        rc = VL_ERR_NOMEM;
    if (rc)
        return vl_err_set(cx->err, rc, "policy: out of memory");
    org_set_add(&part->r[0].cand, org);   /* resolved: invariant 3 */
    return 0;
}

/* vehicle/<VIN> written without a key policy: its current owner. */
static int
s_guard_vehicle(s_ctx_t *cx, s_parts_t *ps, const char *key, const char *vin)
{
    s_entry_t *e;
    int rc = s_read(cx, key, S_DOC, &e);
    if (rc)
        return rc;
    if (!e->found)
        return 0;   /* not registered yet: creation is the function policy's business */
    /* s_key_policy has vetted the field: a string (a key policy), null or absent. */
    if (json_is_object(e->doc) && json_is_string(json_object_get(e->doc, POLICY_KEY_FIELD)))
        return 0;
    char where[VL_ERR_MSG_MAX];
    snprintf(where, sizeof where, "policy guard for %s: ", key);
    const char *did = NULL;
    int org = -1;
    if ((rc = s_vehicle_at(cx, where, vin, "owner", false, &did)) != 0 ||
        (rc = s_org_of(cx, where, did, &org)) != 0)
        return rc;
    return s_add_guard(cx, ps, org, "%s is written: its owner", key);
}

/* wallet/<DID> lowered: that identity's organisation. */
static int
s_guard_wallet(s_ctx_t *cx, s_parts_t *ps, const policy_write_t *w, const char *did)
{
    char where[VL_ERR_MSG_MAX];
    snprintf(where, sizeof where, "policy guard for %s: ", w->key);
    json_int_t to = 0, from = 0;
    if (!w->is_delete) {
        json_error_t jerr;
        json_t *v = json_loadb(w->len ? (const char *) w->value : "", w->len, JSON_DECODE_ANY,
                               &jerr);
        bool ok = json_is_integer(v);
        if (ok)
            to = json_integer_value(v);
        json_decref(v);
        if (!ok)
            return s_werr(cx, where, VL_ERR_INVALID, "the written value is not a JSON integer");
    }
    s_entry_t *e;
    int rc = s_read(cx, w->key, S_DOC, &e);
    if (rc)
        return rc;
    if (e->found) {
        if (!json_is_integer(e->doc))
            return s_werr(cx, where, VL_ERR_CORRUPT, "%s is not a JSON integer", w->key);
        from = json_integer_value(e->doc);
    }
    if (to >= from)
        return 0;   /* a credit, or no change */
    int org = -1;
    if ((rc = s_org_of(cx, where, did, &org)) != 0)
        return rc;
    return s_add_guard(cx, ps, org, "%s is debited", w->key);
}

/* did/<DID> written: the organisation it belongs to, and the one it moves
 * to. */
static int
s_guard_did(s_ctx_t *cx, s_parts_t *ps, const policy_write_t *w)
{
    const orgs_t *orgs = cx->env->orgs;
    char where[VL_ERR_MSG_MAX];
    snprintf(where, sizeof where, "policy guard for %s: ", w->key);
    s_entry_t *e;
    int rc = s_read(cx, w->key, S_DOC, &e);
    if (rc)
        return rc;
    int from = -1;
    if (e->found) {
        if (!json_is_object(e->doc))
            return s_werr(cx, where, VL_ERR_CORRUPT, "%s is not a JSON object", w->key);
        json_t *o = json_object_get(e->doc, "org");
        if (o && !json_is_null(o)) {
            if (!json_is_string(o))
                return s_werr(cx, where, VL_ERR_CORRUPT, "its 'org' is not a string");
            if ((from = orgs_find(orgs, json_string_value(o))) < 0)
                return s_werr(cx, where, VL_ERR_REFUSED,
                              "it belongs to organisation '%.64s', which is not in the network",
                              json_string_value(o));
            if ((rc = s_add_guard(cx, ps, from, "%s belongs to it", w->key)) != 0)
                return rc;
        }
    }
    if (w->is_delete)
        return 0;
    json_error_t jerr;
    json_t *doc = json_loadb(w->len ? (const char *) w->value : "", w->len, 0, &jerr);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return s_werr(cx, where, VL_ERR_INVALID, "the written value is not a JSON object");
    }
    json_t *o = json_object_get(doc, "org");
    rc = 0;
    if (o && !json_is_null(o)) {
        int to = json_is_string(o) ? orgs_find(orgs, json_string_value(o)) : -1;
        if (to < 0 && json_is_string(o))
            rc = s_werr(cx, where, VL_ERR_REFUSED,
                        "its new 'org' '%.64s' is not an organisation of the network",
                        json_string_value(o));
        else if (to < 0)
            rc = s_werr(cx, where, VL_ERR_REFUSED, "its new 'org' is not an organisation name");
        else if (to != from)
            rc = s_add_guard(cx, ps, to, from >= 0 ? "%s moves to it" : "%s joins it", w->key);
    }
    json_decref(doc);
    return rc;
}

static int
s_guards(s_ctx_t *cx, s_parts_t *ps, const policy_write_t *w)
{
    const char *vin = s_key_vin(w->key), *did;
    if (vin)
        return s_guard_vehicle(cx, ps, w->key, vin);
    if ((did = s_key_did(w->key, "wallet/")) != NULL)
        return s_guard_wallet(cx, ps, w, did);
    if (s_key_did(w->key, "did/"))
        return s_guard_did(cx, ps, w);
    return 0;
}

/* ── policy_resolve_tx ────────────────────────────────────────────────── */

/* The bounds on the write set, before anything is read. */
static int
s_check_writes(const policy_write_t *writes, size_t n_writes, vl_err_t *err)
{
    if (n_writes > POLICY_WRITES_MAX)
        return vl_err_set(err, VL_ERR_LIMIT, "policy: more than %d written keys",
                          POLICY_WRITES_MAX);
    size_t bytes = 0;
    for (size_t w = 0; w < n_writes; w++) {
        assert(writes[w].key);
        assert(writes[w].is_delete || writes[w].value || writes[w].len == 0);
        size_t kl = strnlen(writes[w].key, POLICY_WRITE_BYTES_MAX + 1);
        size_t vl = writes[w].is_delete ? 0 : writes[w].len;
        if (kl > POLICY_WRITE_BYTES_MAX - bytes || vl > POLICY_WRITE_BYTES_MAX - bytes - kl)
            return vl_err_set(err, VL_ERR_LIMIT,
                              "policy: more than %d bytes of written keys and values",
                              POLICY_WRITE_BYTES_MAX);
        bytes += kl + vl;
    }
    return 0;
}

int
policy_resolve_tx(const policy_t *function_policy, const policy_write_t *writes,
                  size_t n_writes, const policy_env_t *env, policy_resolved_t **out,
                  vl_err_t *err)
{
    assert(function_policy && env && env->get && env->orgs && out);
    assert(n_writes == 0 || writes);
    int rc = s_check_writes(writes, n_writes, err);
    if (rc)
        return rc;
    if (env->vin && !s_vin_valid(env->vin, strlen(env->vin)))
        return vl_err_set(err, VL_ERR_INVALID, "policy: '%.64s' is not a VIN", env->vin);
    if (env->creator_did && !vl_did_valid(env->creator_did))
        return vl_err_set(err, VL_ERR_INVALID, "policy: creator '%.64s' is not a DID",
                          env->creator_did);
    s_ctx_t cx = { .env = env, .err = err };
    s_parts_t ps = { 0 };
    policy_resolved_t *res = NULL;

    if (env->args_json) {
        cx.args = vl_json_parse_object(env->args_json, strlen(env->args_json), err);
        if (!cx.args) {
            char m[VL_ERR_MSG_MAX];
            snprintf(m, sizeof m, "%s", err ? err->msg : "");
            rc = vl_err_set(err, VL_ERR_INVALID, "policy: proposal args: %s", m);
            goto done;
        }
    } else if (!(cx.args = json_object())) {
        rc = vl_err_set(err, VL_ERR_NOMEM, "policy: out of memory");
        goto done;
    }

    /* The function's policy is part 0 when it applies at all; it is added
     * after the key policies are known, so reserve nothing yet. */
    bool uncovered = n_writes == 0;
    size_t n_key_parts = 0;
    for (size_t w = 0; w < n_writes; w++) {
        const char *key = writes[w].key;
        policy_t *kp = NULL;
        if ((rc = s_key_policy(&cx, key, &kp)) != 0)
            goto done;
        if (!kp) {
            uncovered = true;
            continue;
        }
        const char *vin = s_key_vin(key);
        if (!vin)
            vin = env->vin;
        /* Two keys with the same policy about the same vehicle are one
         * requirement: keep the first, so the message names that key. */
        bool dup = false;
        for (size_t i = 0; i < ps.n && !dup; i++)
            dup = strcmp(ps.v[i].policy.text, kp->text) == 0 &&
                  ((!ps.v[i].vin && !vin) || (ps.v[i].vin && vin && !strcmp(ps.v[i].vin, vin)));
        if (!dup && ++n_key_parts > POLICY_KEY_PARTS_MAX) {
            policy_destroy(&kp);
            rc = vl_err_set(err, VL_ERR_LIMIT,
                            "policy: more than %d distinct key policies in one transaction",
                            POLICY_KEY_PARTS_MAX);
            goto done;
        }
        if (!dup) {
            char label[VL_KEY_MAX + 16];
            snprintf(label, sizeof label, "key %.*s: ", 200, key);
            rc = s_add_part(&ps, kp, label, vin, NULL);
        }
        policy_destroy(&kp);
        if (rc) {
            rc = vl_err_set(err, rc, "policy: out of memory");
            goto done;
        }
    }
    if (uncovered) {
        /* Insert the function's policy in front: it is reported first. */
        if ((rc = s_add_part(&ps, function_policy, "", env->vin, NULL)) != 0) {
            rc = vl_err_set(err, rc, "policy: out of memory");
            goto done;
        }
        policy_part_t fn = ps.v[ps.n - 1];
        memmove(&ps.v[1], &ps.v[0], (ps.n - 1) * sizeof *ps.v);
        ps.v[0] = fn;
    }
    for (size_t i = 0; i < ps.n; i++)
        if ((rc = s_resolve_node(&cx, &ps.v[i], 0)) != 0)
            goto done;

    /* The guards, after the policies: they are reported last. */
    ps.first_guard = ps.n;
    for (size_t w = 0; w < n_writes; w++)
        if ((rc = s_guards(&cx, &ps, &writes[w])) != 0)
            goto done;

    res = calloc(1, sizeof *res);
    if (!res || (cx.n && !(res->reads = calloc(cx.n, sizeof *res->reads)))) {
        free(res);
        res = NULL;
        rc = vl_err_set(err, VL_ERR_NOMEM, "policy: out of memory");
        goto done;
    }
    res->orgs = env->orgs;
    res->parts = ps.v;
    res->n_parts = ps.n;
    ps.v = NULL;    /* moved */
    ps.n = 0;
    for (size_t i = 0; i < cx.n; i++) {
        res->reads[i] = (policy_read_t) { cx.e[i].key, cx.e[i].found, cx.e[i].version };
        cx.e[i].key = NULL;    /* moved */
    }
    res->n_reads = cx.n;
    *out = res;
done:
    s_parts_free(ps.v, ps.n);
    s_ctx_free(&cx);
    return rc;
}

int
policy_resolve(const policy_t *policy, const policy_env_t *env, policy_resolved_t **out,
               vl_err_t *err)
{
    return policy_resolve_tx(policy, NULL, 0, env, out, err);
}

void
policy_resolved_destroy(policy_resolved_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    policy_resolved_t *self = *self_p;
    s_parts_free(self->parts, self->n_parts);
    for (size_t i = 0; i < self->n_reads; i++)
        free((char *) self->reads[i].key);
    free(self->reads);
    free(self);
    *self_p = NULL;
}

size_t
policy_resolved_read_count(const policy_resolved_t *resolved)
{
    return resolved->n_reads;
}

const policy_read_t *
policy_resolved_read(const policy_resolved_t *resolved, size_t i)
{
    assert(i < resolved->n_reads);
    return &resolved->reads[i];
}
