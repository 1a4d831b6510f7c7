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

/* The principal's failure: "[key K: ]policy principal 'P': <what>". */
static int
s_perr(s_ctx_t *cx, const policy_part_t *part, size_t i, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
s_perr(s_ctx_t *cx, const policy_part_t *part, size_t i, int code, const char *fmt, ...)
{
    char what[VL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const policy_node_t *n = &part->policy.nodes[i];
    return vl_err_set(cx->err, code, "%spolicy principal '%.*s': %s", part->label,
                      (int) n->text_len, part->policy.text + n->text_off, what);
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

/* args.<path>: *out is NULL when the argument (or an object on the way to
 * it) is missing or null. */
static int
s_arg(s_ctx_t *cx, const policy_part_t *part, size_t i, const char *path, json_t **out)
{
    json_t *cur = cx->args;
    const char *seg = path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t) (dot - seg) : strlen(seg);
        char name[POLICY_FIELD_MAX + 1];
        memcpy(name, seg, n);
        name[n] = '\0';
        cur = json_object_get(cur, name);
        if (!cur || json_is_null(cur)) {
            *out = NULL;
            return 0;
        }
        if (!dot)
            break;
        if (!json_is_object(cur))
            return s_perr(cx, part, i, VL_ERR_REFUSED, "argument '%.*s' is not an object",
                          (int) (dot - path), path);
        seg = dot + 1;
    }
    *out = cur;
    return 0;
}

/* The VIN owner/lienholder refer to, or NULL when there is none. */
static int
s_vin(s_ctx_t *cx, const policy_part_t *part, size_t i, const char **vin)
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
        return s_perr(cx, part, i, VL_ERR_REFUSED, "argument 'vin' is not a VIN");
    *vin = json_string_value(v);
    return 0;
}

/* The organisation of identity did, from did/<DID> field "org". */
static int
s_org_of(s_ctx_t *cx, const policy_part_t *part, size_t i, const char *did, int *org)
{
    char key[8 + VL_DID_BUF];
    snprintf(key, sizeof key, "did/%s", did);
    s_entry_t *e;
    int rc = s_read(cx, key, S_DOC, &e);
    if (rc)
        return rc;
    if (!e->found)
        return s_perr(cx, part, i, VL_ERR_REFUSED, "identity %s is not registered", did);
    if (!json_is_object(e->doc))
        return s_perr(cx, part, i, VL_ERR_CORRUPT, "%s is not a JSON object", key);
    json_t *o = json_object_get(e->doc, "org");
    if (!o || json_is_null(o))
        return s_perr(cx, part, i, VL_ERR_REFUSED, "identity %s belongs to no organisation",
                      did);
    if (!json_is_string(o))
        return s_perr(cx, part, i, VL_ERR_CORRUPT, "identity %s has an 'org' that is not a string",
                      did);
    int idx = orgs_find(cx->env->orgs, json_string_value(o));
    if (idx < 0)
        return s_perr(cx, part, i, VL_ERR_REFUSED,
                      "identity %s belongs to organisation '%.64s', which is not in the network",
                      did, json_string_value(o));
    *org = idx;
    return 0;
}

/* The DID of vehicle/<VIN>'s owner (POLICY_NODE_OWNER) or lender (POLICY_NODE_LIEN), or NULL
 * when the principal names nothing (no vin, no vehicle, no lien). */
static int
s_vehicle_did(s_ctx_t *cx, const policy_part_t *part, size_t i, const char **did)
{
    const policy_node_t *n = &part->policy.nodes[i];
    const char *vin = NULL;
    int rc = s_vin(cx, part, i, &vin);
    if (rc)
        return rc;
    *did = NULL;
    if (!vin)
        return n->optional ? 0
                           : s_perr(cx, part, i, VL_ERR_REFUSED,
                                    "the proposal has no argument 'vin'");
    char key[16 + S_VIN_MAX];
    snprintf(key, sizeof key, "vehicle/%s", vin);
    s_entry_t *e;
    if ((rc = s_read(cx, key, S_DOC, &e)) != 0)
        return rc;
    if (!e->found)
        return n->optional ? 0
                           : s_perr(cx, part, i, VL_ERR_REFUSED, "vehicle %s is not registered",
                                    vin);
    if (!json_is_object(e->doc))
        return s_perr(cx, part, i, VL_ERR_CORRUPT, "%s is not a JSON object", key);
    json_t *d;
    if (n->kind == POLICY_NODE_OWNER) {
        d = json_object_get(e->doc, "owner");
        if (!json_is_string(d) || !vl_did_valid(json_string_value(d)))
            return s_perr(cx, part, i, VL_ERR_CORRUPT, "vehicle %s has no owner DID", vin);
    } else {
        json_t *f = json_object_get(e->doc, "financing");
        d = json_is_object(f) ? json_object_get(f, "lender") : NULL;
        if (f && !json_is_null(f) && !json_is_object(f))
            return s_perr(cx, part, i, VL_ERR_CORRUPT,
                          "vehicle %s has a 'financing' that is not an object", vin);
        if (!d || json_is_null(d))
            return n->optional ? 0
                               : s_perr(cx, part, i, VL_ERR_REFUSED, "vehicle %s has no lien",
                                        vin);
        if (!json_is_string(d) || !vl_did_valid(json_string_value(d)))
            return s_perr(cx, part, i, VL_ERR_CORRUPT,
                          "vehicle %s has a financing lender that is not a DID", vin);
    }
    *did = json_string_value(d);
    return 0;
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
    switch (n->kind) {
    case POLICY_NODE_ALL:
    case POLICY_NODE_ANY:
    case POLICY_NODE_KOF: {
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
    case POLICY_NODE_ANYORG:
        for (size_t o = 0; o < orgs->count; o++)
            org_set_add(&r->cand, (int) o);
        if (!orgs->count)
            return s_perr(cx, part, i, VL_ERR_REFUSED, "the network has no organisations");
        return 0;
    case POLICY_NODE_ROLE:
        r->cand = orgs_with_role(orgs, (org_role_t) n->role);
        if (org_set_first(&r->cand) < 0)
            return s_perr(cx, part, i, VL_ERR_REFUSED, "no organisation holds role '%s'",
                          org_role_name((org_role_t) n->role));
        return 0;
    case POLICY_NODE_ORG:
        org = orgs_find(orgs, part->policy.names + n->name);
        if (org < 0)
            return s_perr(cx, part, i, VL_ERR_REFUSED,
                          "organisation '%s' is not in the network",
                          part->policy.names + n->name);
        break;
    case POLICY_NODE_ID:
        did = part->policy.names + n->name;
        break;
    case POLICY_NODE_OWNER:
    case POLICY_NODE_LIEN:
        if ((rc = s_vehicle_did(cx, part, i, &did)) != 0)
            return rc;
        if (!did) {
            r->dropped = true;
            return 0;
        }
        break;
    case POLICY_NODE_ARG: {
        const char *path = part->policy.names + n->name;
        json_t *v;
        if ((rc = s_arg(cx, part, i, path, &v)) != 0)
            return rc;
        if (!v) {
            if (n->optional) {
                r->dropped = true;
                return 0;
            }
            return s_perr(cx, part, i, VL_ERR_REFUSED, "the proposal has no argument '%s'",
                          path);
        }
        if (!json_is_string(v) || !vl_did_valid(json_string_value(v)))
            return s_perr(cx, part, i, VL_ERR_REFUSED, "argument '%s' is not a DID", path);
        did = json_string_value(v);
        break;
    }
    default:
        assert(0 && "policy node kind");
        return VL_ERR_CORRUPT;
    }
    if (did && (rc = s_org_of(cx, part, i, did, &org)) != 0)
        return rc;
    assert(org >= 0);
    org_set_add(&r->cand, org);
    return 0;
}

static void
s_parts_free(policy_part_t *parts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(parts[i].label);
        free(parts[i].vin);
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

/* Appends a part for policy (copied); label and vin are copied too. */
static int
s_add_part(policy_part_t **parts, size_t *n, const policy_t *policy, const char *label,
           const char *vin)
{
    policy_part_t *np = realloc(*parts, (*n + 1) * sizeof *np);
    if (!np)
        return VL_ERR_NOMEM;
    *parts = np;
    policy_part_t *p = &np[*n];
    memset(p, 0, sizeof *p);
    p->policy = *policy;
    p->label = strdup(label);
    p->vin = vin ? strdup(vin) : NULL;
    (*n)++;   /* counted now, so a failed strdup is freed with the rest */
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

int
policy_resolve_tx(const policy_t *function_policy, const char *const *written,
                  size_t n_written, const policy_env_t *env, policy_resolved_t **out,
                  vl_err_t *err)
{
    assert(function_policy && env && env->get && env->orgs && out);
    assert(n_written == 0 || written);
    if (n_written > POLICY_WRITES_MAX)
        return vl_err_set(err, VL_ERR_LIMIT, "policy: more than %d written keys",
                          POLICY_WRITES_MAX);
    if (env->vin && !s_vin_valid(env->vin, strlen(env->vin)))
        return vl_err_set(err, VL_ERR_INVALID, "policy: '%.64s' is not a VIN", env->vin);
    s_ctx_t cx = { .env = env, .err = err };
    policy_part_t *parts = NULL;
    size_t n_parts = 0;
    policy_resolved_t *res = NULL;
    int rc = 0;

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
    bool uncovered = n_written == 0;
    size_t n_key_parts = 0;
    for (size_t w = 0; w < n_written; w++) {
        policy_t *kp = NULL;
        if ((rc = s_key_policy(&cx, written[w], &kp)) != 0)
            goto done;
        if (!kp) {
            uncovered = true;
            continue;
        }
        const char *vin = s_key_vin(written[w]);
        if (!vin)
            vin = env->vin;
        /* Two keys with the same policy about the same vehicle are one
         * requirement: keep the first, so the message names that key. */
        bool dup = false;
        for (size_t i = 0; i < n_parts && !dup; i++)
            dup = strcmp(parts[i].policy.text, kp->text) == 0 &&
                  ((!parts[i].vin && !vin) || (parts[i].vin && vin && !strcmp(parts[i].vin, vin)));
        if (!dup && ++n_key_parts > POLICY_KEY_PARTS_MAX) {
            policy_destroy(&kp);
            rc = vl_err_set(err, VL_ERR_LIMIT,
                            "policy: more than %d distinct key policies in one transaction",
                            POLICY_KEY_PARTS_MAX);
            goto done;
        }
        if (!dup) {
            char label[VL_KEY_MAX + 16];
            snprintf(label, sizeof label, "key %.*s: ", 200, written[w]);
            rc = s_add_part(&parts, &n_parts, kp, label, vin);
        }
        policy_destroy(&kp);
        if (rc) {
            rc = vl_err_set(err, rc, "policy: out of memory");
            goto done;
        }
    }
    if (uncovered) {
        /* Insert the function's policy in front: it is reported first. */
        if ((rc = s_add_part(&parts, &n_parts, function_policy, "", env->vin)) != 0) {
            rc = vl_err_set(err, rc, "policy: out of memory");
            goto done;
        }
        policy_part_t fn = parts[n_parts - 1];
        memmove(&parts[1], &parts[0], (n_parts - 1) * sizeof *parts);
        parts[0] = fn;
    }
    for (size_t i = 0; i < n_parts; i++)
        if ((rc = s_resolve_node(&cx, &parts[i], 0)) != 0)
            goto done;

    res = calloc(1, sizeof *res);
    if (!res || (cx.n && !(res->reads = calloc(cx.n, sizeof *res->reads)))) {
        free(res);
        res = NULL;
        rc = vl_err_set(err, VL_ERR_NOMEM, "policy: out of memory");
        goto done;
    }
    res->orgs = env->orgs;
    res->parts = parts;
    res->n_parts = n_parts;
    parts = NULL;    /* moved */
    n_parts = 0;
    for (size_t i = 0; i < cx.n; i++) {
        res->reads[i] = (policy_read_t) { cx.e[i].key, cx.e[i].found, cx.e[i].version };
        cx.e[i].key = NULL;    /* moved */
    }
    res->n_reads = cx.n;
    *out = res;
done:
    s_parts_free(parts, n_parts);
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
