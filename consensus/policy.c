/*
 * policy.c — endorsement policies: parser, resolution against state,
 * satisfaction and planning (the contract of each is in policy.h).
 *
 * Representation. A parsed policy is one flat, fixed-size struct: its nodes
 * in preorder (a combinator is followed by its entries' subtrees; `size`
 * says how many nodes its subtree spans, so walking needs no pointers), a
 * buffer of the names the principals carry, and the canonical text. Being
 * flat, a policy is copied into a resolved policy by assignment, so the
 * resolved policy owns what it refers to and the caller may drop the
 * policy it resolved. Each node remembers where its own canonical text
 * lies in the policy's text: messages quote the principal exactly as it
 * is written ("(lienholder?)") without re-printing.
 *
 * Resolution reads through a small per-call cache keyed by state key: the
 * same document (a vehicle read by `owner` and `lienholder`, an identity
 * named twice) is fetched and parsed once, and the cache is the read set
 * handed back, each key once, in first-read order.
 *
 * Invariants:
 *   1. nodes[0] is the root; for every node i, i + nodes[i].size <=
 *      n_nodes, and a combinator's entries tile (i, i + size) exactly.
 *   2. the canonical text is never longer than the text parsed (it only
 *      drops whitespace and leading zeros), so it fits POLICY_TEXT_MAX.
 *   3. in a resolved part, a principal that is not dropped has a non-empty
 *      candidate set of valid organisation indices; a combinator that is
 *      not dropped has 1 <= k <= its live entries. So every resolved
 *      policy is satisfiable (by all organisations at once), and
 *      policy_plan always finds a plan.
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

enum {
    S_ALL,
    S_ANY,
    S_KOF,
    S_ROLE,         /* role:<name> */
    S_ORG,          /* org:<name> */
    S_ID,           /* id:<DID> */
    S_OWNER,
    S_LIEN,         /* lienholder */
    S_ARG,          /* arg:<field> */
    S_ANYORG,       /* the principal `any` */
};

#define S_IS_GATE(kind) ((kind) <= S_KOF)
#define S_ARG_FIELD_MAX 63
#define S_VIN_MAX 64
#define S_K_DIGITS_MAX 4    /* more digits cannot be <= POLICY_NODES_MAX anyway */
#define S_PLAN_BUDGET 20000 /* candidate sets the exact plan search may test */
#define S_QUOTE_MAX 64      /* bytes of a bad token quoted in a message */

typedef struct {
    uint8_t kind;
    bool optional;
    uint8_t role;           /* S_ROLE: an org_role_t */
    uint16_t k;             /* S_KOF as written; S_ALL: entries; S_ANY: 1 */
    uint16_t size;          /* nodes in this subtree, this one included */
    uint16_t name;          /* S_ORG, S_ID, S_ARG: offset into names */
    uint16_t text_off;      /* this subtree's canonical text in text */
    uint16_t text_len;
} s_node_t;

struct policy_t {
    s_node_t nodes[POLICY_NODES_MAX];     /* preorder, invariant 1 */
    size_t n_nodes;
    char names[POLICY_TEXT_MAX + POLICY_NODES_MAX + 1];   /* NUL-separated */
    size_t names_len;
    char text[POLICY_TEXT_MAX + 1];       /* canonical, NUL-terminated */
    size_t text_len;
};

/* ── Parser ───────────────────────────────────────────────────────────── */

typedef struct {
    const char *src;
    size_t len;
    size_t at;              /* next byte to read */
    int depth;              /* combinators open around at */
    policy_t *p;
    vl_err_t *err;
} s_parser_t;

static bool
s_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
s_is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

/* What ends a name after "role:", "org:", "id:" or "arg:". */
static bool
s_is_delim(char c)
{
    return s_is_ws(c) || c == ',' || c == '(' || c == ')' || c == '?';
}

static void
s_skip_ws(s_parser_t *ps)
{
    while (ps->at < ps->len && s_is_ws(ps->src[ps->at]))
        ps->at++;
}

/* "policy: <what> at <1-based position>", the form every parse error has. */
static int
s_fail(s_parser_t *ps, int code, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
s_fail(s_parser_t *ps, int code, size_t pos, const char *fmt, ...)
{
    char what[VL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return vl_err_set(ps->err, code, "policy: %s at %zu", what, pos + 1);
}

/* Describes the byte at pos for "found ..." messages; control bytes and
 * bytes past the end are not printed raw. */
static const char *
s_found(const s_parser_t *ps, size_t pos, char buf[16])
{
    if (pos >= ps->len)
        return "the end";
    unsigned char c = (unsigned char) ps->src[pos];
    if (c >= 0x21 && c < 0x7f)
        snprintf(buf, 16, "'%c'", c);
    else
        snprintf(buf, 16, "byte 0x%02x", c);
    return buf;
}

static void
s_emit(s_parser_t *ps, const char *s, size_t n)
{
    assert(ps->p->text_len + n <= POLICY_TEXT_MAX);   /* invariant 2 */
    memcpy(ps->p->text + ps->p->text_len, s, n);
    ps->p->text_len += n;
    ps->p->text[ps->p->text_len] = '\0';
}

static uint16_t
s_keep_name(s_parser_t *ps, const char *s, size_t n)
{
    policy_t *p = ps->p;
    assert(p->names_len + n + 1 <= sizeof p->names);
    uint16_t off = (uint16_t) p->names_len;
    memcpy(p->names + off, s, n);
    p->names[off + n] = '\0';
    p->names_len += n + 1;
    return off;
}

static bool
s_field_valid(const char *s, size_t n)
{
    if (n == 0 || n > S_ARG_FIELD_MAX || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (s[i + 1] == '.')
                return false;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9') || c == '_')) {
            return false;
        }
    }
    return true;
}

static bool
s_word_is(const char *w, size_t n, const char *kw)
{
    return strlen(kw) == n && memcmp(w, kw, n) == 0;
}

static int s_expr(s_parser_t *ps);

/* The entries of a combinator, from just after "(" (and k) to after ")". */
static int
s_list(s_parser_t *ps, const char *gate, size_t *count)
{
    char fb[16];
    s_skip_ws(ps);
    if (ps->at < ps->len && ps->src[ps->at] == ')')
        return s_fail(ps, VL_ERR_INVALID, ps->at, "%s() needs at least one entry", gate);
    *count = 0;
    for (;;) {
        int rc = s_expr(ps);
        if (rc)
            return rc;
        (*count)++;
        s_skip_ws(ps);
        if (ps->at < ps->len && ps->src[ps->at] == ',') {
            ps->at++;
            s_emit(ps, ",", 1);
            continue;
        }
        if (ps->at < ps->len && ps->src[ps->at] == ')') {
            ps->at++;
            s_emit(ps, ")", 1);
            return 0;
        }
        return s_fail(ps, VL_ERR_INVALID, ps->at, "expected ',' or ')' in %s(...), found %s",
                      gate, s_found(ps, ps->at, fb));
    }
}

static int
s_gate(s_parser_t *ps, s_node_t *node, const char *word, size_t start)
{
    char fb[16];
    if (++ps->depth > POLICY_DEPTH_MAX)
        return s_fail(ps, VL_ERR_LIMIT, start, "combinators nested deeper than %d",
                      POLICY_DEPTH_MAX);
    ps->at++;   /* the "(" the caller saw */
    s_emit(ps, word, strlen(word));
    s_emit(ps, "(", 1);
    node->kind = word[0] == 'k' ? S_KOF : word[1] == 'l' ? S_ALL : S_ANY;
    unsigned k = 0;
    size_t k_at = 0;
    if (node->kind == S_KOF) {
        s_skip_ws(ps);
        k_at = ps->at;
        size_t n = 0;
        while (ps->at < ps->len && ps->src[ps->at] >= '0' && ps->src[ps->at] <= '9') {
            if (++n > S_K_DIGITS_MAX)
                return s_fail(ps, VL_ERR_INVALID, k_at, "k_of: k is too large");
            k = k * 10 + (unsigned) (ps->src[ps->at++] - '0');
        }
        if (n == 0)
            return s_fail(ps, VL_ERR_INVALID, k_at, "k_of needs a number k first, found %s",
                          s_found(ps, k_at, fb));
        if (k == 0)
            return s_fail(ps, VL_ERR_INVALID, k_at, "k_of: k must be at least 1");
        s_skip_ws(ps);
        if (ps->at >= ps->len || ps->src[ps->at] != ',')
            return s_fail(ps, VL_ERR_INVALID, ps->at, "expected ',' after k_of's k, found %s",
                          s_found(ps, ps->at, fb));
        ps->at++;
        char kb[16];
        int kn = snprintf(kb, sizeof kb, "%u,", k);
        s_emit(ps, kb, (size_t) kn);
    }
    size_t count = 0;
    int rc = s_list(ps, word, &count);
    if (rc)
        return rc;
    if (node->kind == S_KOF && k > count)
        return s_fail(ps, VL_ERR_INVALID, k_at, "k_of: k=%u but only %zu entries", k, count);
    node->k = (uint16_t) (node->kind == S_KOF ? k : node->kind == S_ALL ? count : 1);
    ps->depth--;
    return 0;
}

/* The name after "role:", "org:", "id:" or "arg:", checked and kept. */
static int
s_named(s_parser_t *ps, s_node_t *node, const char *word)
{
    char fb[16];
    s_skip_ws(ps);
    if (ps->at >= ps->len || ps->src[ps->at] != ':')
        return s_fail(ps, VL_ERR_INVALID, ps->at, "expected ':' after '%s', found %s", word,
                      s_found(ps, ps->at, fb));
    ps->at++;
    s_skip_ws(ps);
    size_t start = ps->at;
    while (ps->at < ps->len && !s_is_delim(ps->src[ps->at]))
        ps->at++;
    const char *v = ps->src + start;
    size_t n = ps->at - start;
    int qn = n > S_QUOTE_MAX ? S_QUOTE_MAX : (int) n;
    if (n == 0)
        return s_fail(ps, VL_ERR_INVALID, start, "missing name after '%s:', found %s", word,
                      s_found(ps, start, fb));
    switch (word[0]) {
    case 'r': {
        org_role_t role;
        if (org_role_parse(v, n, &role) != 0)
            return s_fail(ps, VL_ERR_INVALID, start, "unknown role '%.*s'", qn, v);
        node->kind = S_ROLE;
        node->role = (uint8_t) role;
        break;
    }
    case 'o':
        if (!orgs_name_valid(v, n))
            return s_fail(ps, VL_ERR_INVALID, start,
                          "bad organisation name '%.*s' (1..%d of [a-z0-9_-])", qn, v,
                          ORG_NAME_MAX);
        node->kind = S_ORG;
        break;
    case 'i': {
        char did[VL_DID_BUF] = "";
        if (n == VL_DID_LEN) {
            memcpy(did, v, n);
            did[n] = '\0';
        }
        if (!vl_did_valid(did))
            return s_fail(ps, VL_ERR_INVALID, start, "'%.*s' is not a DID", qn, v);
        node->kind = S_ID;
        break;
    }
    default:
        if (!s_field_valid(v, n))
            return s_fail(ps, VL_ERR_INVALID, start,
                          "bad argument field '%.*s' (names of [A-Za-z0-9_] joined by '.', "
                          "at most %d bytes)", qn, v, S_ARG_FIELD_MAX);
        node->kind = S_ARG;
        break;
    }
    if (node->kind != S_ROLE)
        node->name = s_keep_name(ps, v, n);
    s_emit(ps, word, strlen(word));
    s_emit(ps, ":", 1);
    s_emit(ps, v, n);
    return 0;
}

static int
s_expr(s_parser_t *ps)
{
    char fb[16];
    policy_t *p = ps->p;
    s_skip_ws(ps);
    size_t start = ps->at;
    while (ps->at < ps->len && s_is_word(ps->src[ps->at]))
        ps->at++;
    const char *w = ps->src + start;
    size_t n = ps->at - start;
    if (n == 0)
        return s_fail(ps, VL_ERR_INVALID, start,
                      "expected a principal or combinator, found %s", s_found(ps, start, fb));
    if (p->n_nodes >= POLICY_NODES_MAX)
        return s_fail(ps, VL_ERR_LIMIT, start, "more than %d principals and combinators",
                      POLICY_NODES_MAX);
    size_t idx = p->n_nodes++;
    s_node_t *node = &p->nodes[idx];
    memset(node, 0, sizeof *node);
    node->text_off = (uint16_t) p->text_len;
    int rc = 0;
    bool gate = s_word_is(w, n, "all") || s_word_is(w, n, "any") || s_word_is(w, n, "k_of");
    if (gate) {
        s_skip_ws(ps);
        if (ps->at < ps->len && ps->src[ps->at] == '(') {
            char word[8];
            memcpy(word, w, n);
            word[n] = '\0';
            rc = s_gate(ps, node, word, start);
        } else if (s_word_is(w, n, "any")) {
            node->kind = S_ANYORG;
            s_emit(ps, "any", 3);
        } else {
            rc = s_fail(ps, VL_ERR_INVALID, ps->at, "expected '(' after '%.*s', found %s",
                        (int) n, w, s_found(ps, ps->at, fb));
        }
    } else if (s_word_is(w, n, "owner") || s_word_is(w, n, "lienholder")) {
        node->kind = w[0] == 'o' ? S_OWNER : S_LIEN;
        s_emit(ps, w, n);
    } else if (s_word_is(w, n, "role") || s_word_is(w, n, "org") || s_word_is(w, n, "id") ||
               s_word_is(w, n, "arg")) {
        char word[8];
        memcpy(word, w, n);
        word[n] = '\0';
        rc = s_named(ps, node, word);
    } else {
        rc = s_fail(ps, VL_ERR_INVALID, start, "unknown principal '%.*s'",
                    n > S_QUOTE_MAX ? S_QUOTE_MAX : (int) n, w);
    }
    if (rc)
        return rc;
    if (!S_IS_GATE(node->kind)) {
        s_skip_ws(ps);
        if (ps->at < ps->len && ps->src[ps->at] == '?') {
            if (node->kind != S_OWNER && node->kind != S_LIEN && node->kind != S_ARG)
                return s_fail(ps, VL_ERR_INVALID, ps->at,
                              "'%.*s' cannot be optional (only owner, lienholder and arg: "
                              "can name nothing)",
                              (int) (p->text_len - node->text_off), p->text + node->text_off);
            node->optional = true;
            ps->at++;
            s_emit(ps, "?", 1);
        }
    }
    node->size = (uint16_t) (p->n_nodes - idx);
    node->text_len = (uint16_t) (p->text_len - node->text_off);
    return 0;
}

int
policy_parse(const char *text, policy_t **out, vl_err_t *err)
{
    assert(text && out);
    size_t len = strnlen(text, POLICY_TEXT_MAX + 1);
    if (len > POLICY_TEXT_MAX)
        return vl_err_set(err, VL_ERR_LIMIT, "policy: text is longer than %d bytes",
                          POLICY_TEXT_MAX);
    policy_t *p = calloc(1, sizeof *p);
    if (!p)
        return vl_err_set(err, VL_ERR_NOMEM, "policy: out of memory");
    s_parser_t ps = { .src = text, .len = len, .p = p, .err = err };
    s_skip_ws(&ps);
    int rc;
    if (ps.at == len) {
        rc = s_fail(&ps, VL_ERR_INVALID, ps.at, "empty policy");
    } else {
        rc = s_expr(&ps);
        s_skip_ws(&ps);
        char fb[16];
        if (!rc && ps.at < len)
            rc = s_fail(&ps, VL_ERR_INVALID, ps.at, "unexpected %s after the end of the policy",
                        s_found(&ps, ps.at, fb));
    }
    if (rc) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void
policy_destroy(policy_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

const char *
policy_text(const policy_t *policy)
{
    return policy->text;
}

/* ── Resolution ───────────────────────────────────────────────────────── */

typedef struct {
    bool dropped;
    uint16_t k;             /* combinators: entries needed, after drops */
    org_set_t cand;         /* principals: any one of these satisfies it */
} s_rnode_t;

typedef struct {
    policy_t policy;        /* a copy: the resolved policy owns it */
    char *label;            /* owned: "" for the function's policy, "key <key>: " */
    char *vin;              /* owned or NULL: the vehicle owner/lienholder mean */
    s_rnode_t r[POLICY_NODES_MAX];   /* per node of policy */
} s_part_t;

struct policy_resolved_t {
    const orgs_t *orgs;     /* borrowed: the network's organisations */
    s_part_t *parts;        /* owned; parts[i] all must be satisfied */
    size_t n_parts;
    policy_read_t *reads;   /* owned, keys owned */
    size_t n_reads;
};

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
s_perr(s_ctx_t *cx, const s_part_t *part, size_t i, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
s_perr(s_ctx_t *cx, const s_part_t *part, size_t i, int code, const char *fmt, ...)
{
    char what[VL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const s_node_t *n = &part->policy.nodes[i];
    return vl_err_set(cx->err, code, "%spolicy principal '%.*s': %s", part->label,
                      (int) n->text_len, part->policy.text + n->text_off, what);
}

static bool
s_vin_valid(const char *s, size_t n)
{
    if (n == 0 || n > S_VIN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!s_is_word(s[i]))
            return false;
    return true;
}

/* args.<path>: *out is NULL when the argument (or an object on the way to
 * it) is missing or null. */
static int
s_arg(s_ctx_t *cx, const s_part_t *part, size_t i, const char *path, json_t **out)
{
    json_t *cur = cx->args;
    const char *seg = path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t) (dot - seg) : strlen(seg);
        char name[S_ARG_FIELD_MAX + 1];
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
s_vin(s_ctx_t *cx, const s_part_t *part, size_t i, const char **vin)
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
s_org_of(s_ctx_t *cx, const s_part_t *part, size_t i, const char *did, int *org)
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

/* The DID of vehicle/<VIN>'s owner (S_OWNER) or lender (S_LIEN), or NULL
 * when the principal names nothing (no vin, no vehicle, no lien). */
static int
s_vehicle_did(s_ctx_t *cx, const s_part_t *part, size_t i, const char **did)
{
    const s_node_t *n = &part->policy.nodes[i];
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
    if (n->kind == S_OWNER) {
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
s_resolve_node(s_ctx_t *cx, s_part_t *part, size_t i)
{
    const s_node_t *n = &part->policy.nodes[i];
    const orgs_t *orgs = cx->env->orgs;
    s_rnode_t *r = &part->r[i];
    memset(r, 0, sizeof *r);
    int rc, org = -1;
    const char *did = NULL;
    switch (n->kind) {
    case S_ALL:
    case S_ANY:
    case S_KOF: {
        unsigned live = 0;
        for (size_t j = i + 1; j < i + n->size; j += part->policy.nodes[j].size) {
            if ((rc = s_resolve_node(cx, part, j)) != 0)
                return rc;
            live += !part->r[j].dropped;
        }
        r->dropped = live == 0;
        r->k = (uint16_t) (n->kind == S_ALL ? live
                           : n->kind == S_ANY ? (live ? 1 : 0)
                           : (n->k < live ? n->k : live));
        return 0;
    }
    case S_ANYORG:
        for (size_t o = 0; o < orgs->count; o++)
            org_set_add(&r->cand, (int) o);
        if (!orgs->count)
            return s_perr(cx, part, i, VL_ERR_REFUSED, "the network has no organisations");
        return 0;
    case S_ROLE:
        r->cand = orgs_with_role(orgs, (org_role_t) n->role);
        if (org_set_first(&r->cand) < 0)
            return s_perr(cx, part, i, VL_ERR_REFUSED, "no organisation holds role '%s'",
                          org_role_name((org_role_t) n->role));
        return 0;
    case S_ORG:
        org = orgs_find(orgs, part->policy.names + n->name);
        if (org < 0)
            return s_perr(cx, part, i, VL_ERR_REFUSED,
                          "organisation '%s' is not in the network",
                          part->policy.names + n->name);
        break;
    case S_ID:
        did = part->policy.names + n->name;
        break;
    case S_OWNER:
    case S_LIEN:
        if ((rc = s_vehicle_did(cx, part, i, &did)) != 0)
            return rc;
        if (!did) {
            r->dropped = true;
            return 0;
        }
        break;
    case S_ARG: {
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
s_parts_free(s_part_t *parts, size_t n)
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
s_add_part(s_part_t **parts, size_t *n, const policy_t *policy, const char *label,
           const char *vin)
{
    s_part_t *np = realloc(*parts, (*n + 1) * sizeof *np);
    if (!np)
        return VL_ERR_NOMEM;
    *parts = np;
    s_part_t *p = &np[*n];
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
    s_part_t *parts = NULL;
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
        s_part_t fn = parts[n_parts - 1];
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

/* ── Satisfaction ─────────────────────────────────────────────────────── */

/* Node i of part (not dropped) under the endorsing set e. */
static bool
s_eval(const s_part_t *part, size_t i, const org_set_t *e)
{
    const s_node_t *n = &part->policy.nodes[i];
    if (!S_IS_GATE(n->kind))
        return org_set_intersects(&part->r[i].cand, e);
    unsigned got = 0;
    for (size_t j = i + 1; j < i + n->size; j += part->policy.nodes[j].size)
        if (!part->r[j].dropped && s_eval(part, j, e) && ++got >= part->r[i].k)
            return true;
    return got >= part->r[i].k;
}

static bool
s_live(const s_part_t *part)
{
    return !part->r[0].dropped;
}

static bool
s_eval_all(const policy_resolved_t *res, const org_set_t *e)
{
    for (size_t p = 0; p < res->n_parts; p++)
        if (s_live(&res->parts[p]) && !s_eval(&res->parts[p], 0, e))
            return false;
    return true;
}

static org_set_t
s_all_orgs(const orgs_t *orgs)
{
    org_set_t all = { { 0 } };
    for (size_t o = 0; o < orgs->count; o++)
        org_set_add(&all, (int) o);
    return all;
}

/* "org 'a'", "one of 'a', 'b' and 3 more", "any organisation". */
static void
s_describe(const orgs_t *orgs, const org_set_t *cand, char *buf, size_t size)
{
    int count = org_set_count(cand);
    org_set_t all = s_all_orgs(orgs);
    if (count > 1 && count == org_set_count(&all)) {
        snprintf(buf, size, "any organisation");
        return;
    }
    if (count == 1) {
        snprintf(buf, size, "org '%s'", orgs->items[org_set_first(cand)].name);
        return;
    }
    size_t at = (size_t) snprintf(buf, size, "one of ");
    int shown = 0;
    for (size_t o = 0; o < orgs->count && at < size; o++) {
        if (!org_set_has(cand, (int) o))
            continue;
        if (shown == 4) {
            snprintf(buf + at, size - at, " and %d more", count - shown);
            return;
        }
        at += (size_t) snprintf(buf + at, size - at, "%s'%s'", shown ? ", " : "",
                                orgs->items[o].name);
        shown++;
    }
}

/* Says what node i of part (not dropped, not satisfied) still needs: an
 * all-like combinator is explained by its first unmet entry, anything that
 * leaves a choice by itself. */
static void
s_explain(const policy_resolved_t *res, const s_part_t *part, size_t i, const org_set_t *e,
          vl_err_t *why)
{
    const s_node_t *n = &part->policy.nodes[i];
    const s_rnode_t *r = &part->r[i];
    if (!S_IS_GATE(n->kind)) {
        char who[VL_ERR_MSG_MAX];
        s_describe(res->orgs, &r->cand, who, sizeof who);
        vl_err_set(why, VL_ERR_REFUSED, "%sneeds an endorsement from %s (%.*s)", part->label,
                   who, (int) n->text_len, part->policy.text + n->text_off);
        return;
    }
    unsigned live = 0, got = 0;
    size_t unmet = 0;
    for (size_t j = i + 1; j < i + n->size; j += part->policy.nodes[j].size) {
        if (part->r[j].dropped)
            continue;
        live++;
        if (s_eval(part, j, e))
            got++;
        else if (!unmet)
            unmet = j;
    }
    assert(unmet);
    if (r->k == live) {
        s_explain(res, part, unmet, e, why);
        return;
    }
    vl_err_set(why, VL_ERR_REFUSED, "%sneeds %u of %.*s, has %u", part->label, r->k,
               n->text_len > 160 ? 160 : (int) n->text_len, part->policy.text + n->text_off,
               got);
}

bool
policy_satisfied(const policy_resolved_t *resolved, const org_set_t *endorsing,
                 vl_err_t *why)
{
    org_set_t all = s_all_orgs(resolved->orgs), e = { { 0 } };
    for (int w = 0; w < ORG_SET_WORDS; w++)
        e.words[w] = endorsing->words[w] & all.words[w];
    bool any_live = false;
    for (size_t p = 0; p < resolved->n_parts; p++) {
        const s_part_t *part = &resolved->parts[p];
        if (!s_live(part))
            continue;
        any_live = true;
        if (!s_eval(part, 0, &e)) {
            s_explain(resolved, part, 0, &e, why);
            return false;
        }
    }
    if (!any_live && org_set_first(&e) < 0) {
        vl_err_set(why, VL_ERR_REFUSED, "needs an endorsement from any organisation (every "
                                        "principal of the policy dropped out)");
        return false;
    }
    return true;
}

/* ── Planning ─────────────────────────────────────────────────────────── */

/* Greedy: extends *s until node i of part is satisfied, preferring what is
 * already chosen, then pref, then the lowest index; for a choice among
 * entries, the one adding the fewest organisations (pref's if tied, else
 * the first). Used as the upper bound and fallback of the exact search. */
static void
s_greedy(const s_part_t *part, size_t i, int pref, org_set_t *s)
{
    const s_node_t *n = &part->policy.nodes[i];
    const s_rnode_t *r = &part->r[i];
    if (!S_IS_GATE(n->kind)) {
        if (org_set_intersects(&r->cand, s))
            return;
        org_set_add(s, org_set_has(&r->cand, pref) ? pref : org_set_first(&r->cand));
        return;
    }
    while (!s_eval(part, i, s)) {
        org_set_t best = { { 0 } };
        int best_cost = -1;
        bool best_pref = false;
        for (size_t j = i + 1; j < i + n->size; j += part->policy.nodes[j].size) {
            if (part->r[j].dropped || s_eval(part, j, s))
                continue;
            org_set_t t = *s;
            s_greedy(part, j, pref, &t);
            int cost = org_set_count(&t) - org_set_count(s);
            bool has_pref = org_set_has(&t, pref) && !org_set_has(s, pref);
            if (best_cost < 0 || cost < best_cost || (cost == best_cost && has_pref && !best_pref)) {
                best = t;
                best_cost = cost;
                best_pref = has_pref;
            }
        }
        assert(best_cost > 0);   /* an unmet entry always adds someone */
        *s = best;
    }
}

size_t
policy_plan(const policy_resolved_t *resolved, int preferred_org, org_set_t *out)
{
    const orgs_t *orgs = resolved->orgs;
    int pref = preferred_org >= 0 && (size_t) preferred_org < orgs->count ? preferred_org : -1;
    org_set_t greedy = { { 0 } };
    bool any_live = false;
    for (size_t p = 0; p < resolved->n_parts; p++) {
        if (s_live(&resolved->parts[p])) {
            any_live = true;
            s_greedy(&resolved->parts[p], 0, pref, &greedy);
        }
    }
    if (!any_live) {
        /* Everything dropped out: one endorsement from anyone, ourselves
         * if we may. */
        if (orgs->count)
            org_set_add(&greedy, pref >= 0 ? pref : 0);
        *out = greedy;
        return (size_t) org_set_count(&greedy);
    }

    /* Exact search over classes of interchangeable organisations: two
     * organisations that are candidates of exactly the same principals
     * satisfy exactly the same things, so only one per class (pref if it
     * is in the class, else the lowest index) need be tried. A class's
     * signature is the set of principals it is a candidate of. */
    size_t n_princ = 0;
    for (size_t p = 0; p < resolved->n_parts; p++)
        for (size_t i = 0; i < resolved->parts[p].policy.n_nodes; i++)
            n_princ += !S_IS_GATE(resolved->parts[p].policy.nodes[i].kind);
    size_t words = (n_princ + 63) / 64;
    uint64_t *sig = calloc(orgs->count * words + 1, sizeof *sig);
    int reps[ORGS_MAX], n_reps = 0;
    if (!sig)
        goto fallback;   /* no memory for the search: the greedy plan is still valid */
    size_t bit = 0;
    for (size_t p = 0; p < resolved->n_parts; p++) {
        const s_part_t *part = &resolved->parts[p];
        for (size_t i = 0; i < part->policy.n_nodes; i++) {
            if (S_IS_GATE(part->policy.nodes[i].kind))
                continue;
            /* A dropped principal (or one under a dropped part) is nobody's. */
            if (s_live(part) && !part->r[i].dropped)
                for (size_t o = 0; o < orgs->count; o++)
                    if (org_set_has(&part->r[i].cand, (int) o))
                        sig[o * words + bit / 64] |= UINT64_C(1) << (bit % 64);
            bit++;
        }
    }
    for (size_t o = 0; o < orgs->count; o++) {
        const uint64_t *so = &sig[o * words];
        bool relevant = false;
        for (size_t w = 0; w < words; w++)
            relevant |= so[w] != 0;
        if (!relevant)
            continue;
        int cls = -1;
        for (int c = 0; c < n_reps && cls < 0; c++)
            if (memcmp(&sig[(size_t) reps[c] * words], so, words * sizeof *so) == 0)
                cls = c;
        if (cls < 0)
            reps[n_reps++] = (int) o;
        else if ((int) o == pref)
            reps[cls] = (int) o;
    }
    free(sig);
    /* Order: pref's class first, so among sets of one size those with pref
     * are tried first; then by index, so ties go to lower indices. */
    for (int c = 1; c < n_reps; c++) {
        if (reps[c] == pref) {
            memmove(&reps[1], &reps[0], (size_t) c * sizeof *reps);
            reps[0] = pref;
        }
    }
    int budget = S_PLAN_BUDGET, limit = org_set_count(&greedy);
    for (int size = 1; size <= limit && size <= n_reps; size++) {
        int idx[ORGS_MAX];
        for (int i = 0; i < size; i++)
            idx[i] = i;
        for (;;) {
            if (budget-- <= 0)
                goto fallback;
            org_set_t e = { { 0 } };
            for (int i = 0; i < size; i++)
                org_set_add(&e, reps[idx[i]]);
            if (s_eval_all(resolved, &e)) {
                *out = e;
                return (size_t) size;
            }
            /* Next combination in lexicographic order. */
            int i = size - 1;
            while (i >= 0 && idx[i] == n_reps - size + i)
                i--;
            if (i < 0)
                break;
            idx[i]++;
            for (int j = i + 1; j < size; j++)
                idx[j] = idx[j - 1] + 1;
        }
    }
fallback:
    *out = greedy;
    return (size_t) org_set_count(&greedy);
}
