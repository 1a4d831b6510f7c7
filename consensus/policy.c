/*
 * policy.c — endorsement policies: the parser and the canonical text (the
 * contract is in policy.h; the representation and its invariants in
 * policy_internal.h).
 */
#include "policy.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "did.h"
#include "policy_internal.h"

#define S_K_DIGITS_MAX 4    /* more digits cannot be <= POLICY_NODES_MAX anyway */
#define S_QUOTE_MAX 64      /* bytes of a bad token quoted in a message */

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

/* What ends a name after "role:", "org:", "id:", "arg:" or "vehicle:". */
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
    if (n == 0 || n > POLICY_FIELD_MAX || s[0] == '.' || s[n - 1] == '.')
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
s_gate(s_parser_t *ps, policy_node_t *node, const char *word, size_t start)
{
    char fb[16];
    if (++ps->depth > POLICY_DEPTH_MAX)
        return s_fail(ps, VL_ERR_LIMIT, start, "combinators nested deeper than %d",
                      POLICY_DEPTH_MAX);
    ps->at++;   /* the "(" the caller saw */
    s_emit(ps, word, strlen(word));
    s_emit(ps, "(", 1);
    node->kind = word[0] == 'k' ? POLICY_NODE_KOF : word[1] == 'l' ? POLICY_NODE_ALL : POLICY_NODE_ANY;
    unsigned k = 0;
    size_t k_at = 0;
    if (node->kind == POLICY_NODE_KOF) {
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
    if (node->kind == POLICY_NODE_KOF && k > count)
        return s_fail(ps, VL_ERR_INVALID, k_at, "k_of: k=%u but only %zu entries", k, count);
    node->k = (uint16_t) (node->kind == POLICY_NODE_KOF ? k : node->kind == POLICY_NODE_ALL ? count : 1);
    ps->depth--;
    return 0;
}

/* The name after "role:", "org:", "id:", "arg:" or "vehicle:", checked and
 * kept. */
static int
s_named(s_parser_t *ps, policy_node_t *node, const char *word)
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
        node->kind = POLICY_NODE_ROLE;
        node->role = (uint8_t) role;
        break;
    }
    case 'o':
        if (!orgs_name_valid(v, n))
            return s_fail(ps, VL_ERR_INVALID, start,
                          "bad organisation name '%.*s' (1..%d of [a-z0-9_-])", qn, v,
                          ORG_NAME_MAX);
        node->kind = POLICY_NODE_ORG;
        break;
    case 'i': {
        char did[VL_DID_BUF] = "";
        if (n == VL_DID_LEN) {
            memcpy(did, v, n);
            did[n] = '\0';
        }
        if (!vl_did_valid(did))
            return s_fail(ps, VL_ERR_INVALID, start, "'%.*s' is not a DID", qn, v);
        node->kind = POLICY_NODE_ID;
        break;
    }
    case 'v':
        if (!s_field_valid(v, n))
            return s_fail(ps, VL_ERR_INVALID, start,
                          "bad vehicle path '%.*s' (names of [A-Za-z0-9_] joined by '.', "
                          "at most %d bytes)", qn, v, POLICY_FIELD_MAX);
        node->kind = POLICY_NODE_VEHICLE;
        break;
    default:
        if (!s_field_valid(v, n))
            return s_fail(ps, VL_ERR_INVALID, start,
                          "bad argument field '%.*s' (names of [A-Za-z0-9_] joined by '.', "
                          "at most %d bytes)", qn, v, POLICY_FIELD_MAX);
        node->kind = POLICY_NODE_ARG;
        break;
    }
    if (node->kind != POLICY_NODE_ROLE)
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
    while (ps->at < ps->len && policy_word_char(ps->src[ps->at]))
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
    policy_node_t *node = &p->nodes[idx];
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
            node->kind = POLICY_NODE_ANYORG;
            s_emit(ps, "any", 3);
        } else {
            rc = s_fail(ps, VL_ERR_INVALID, ps->at, "expected '(' after '%.*s', found %s",
                        (int) n, w, s_found(ps, ps->at, fb));
        }
    } else if (s_word_is(w, n, "owner") || s_word_is(w, n, "lienholder") ||
               s_word_is(w, n, "creator")) {
        node->kind = w[0] == 'o' ? POLICY_NODE_OWNER
                   : w[0] == 'l' ? POLICY_NODE_LIEN
                                 : POLICY_NODE_CREATOR;
        s_emit(ps, w, n);
    } else if (s_word_is(w, n, "role") || s_word_is(w, n, "org") || s_word_is(w, n, "id") ||
               s_word_is(w, n, "arg") || s_word_is(w, n, "vehicle")) {
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
    if (!POLICY_NODE_IS_GATE(node->kind)) {
        s_skip_ws(ps);
        if (ps->at < ps->len && ps->src[ps->at] == '?') {
            if (node->kind != POLICY_NODE_OWNER && node->kind != POLICY_NODE_LIEN &&
                node->kind != POLICY_NODE_VEHICLE && node->kind != POLICY_NODE_ARG)
                return s_fail(ps, VL_ERR_INVALID, ps->at,
                              "'%.*s' cannot be optional (only owner, lienholder, vehicle: and "
                              "arg: can name nothing)",
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

int
policy_check(const char *text, char *msg, size_t size)
{
    policy_t *p = NULL;
    vl_err_t err = { "" };
    int rc = policy_parse(text, &p, &err);
    policy_destroy(&p);
    if (rc != 0 && msg && size)
        snprintf(msg, size, "%s", err.msg);
    return rc;
}
