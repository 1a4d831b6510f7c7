/*
 * codec.c — the value codec between Lua and JSON. Everything that crosses
 * the sandbox boundary goes through here: args in, results out, vl.put and
 * vl.emit values, vl.get values, and the deep copies vl.call makes.
 *
 * Canonical JSON (what we write) is byte-identical to core's
 * vl_json_canonical (jansson, JSON_COMPACT | JSON_SORT_KEYS): no spaces,
 * object keys sorted by bytes, integers in decimal, strings UTF-8 with only
 * `"`, `\` and control characters escaped (\b \f \n \r \t, else \u00XX).
 *
 * Mapping rules (the contract guide repeats them):
 *   - nil at the top -> null; vl.null <-> null anywhere (never a hole);
 *   - booleans, integers, strings (must be valid UTF-8) map directly;
 *   - floats (including NaN and inf) are refused: money is integer cents.
 *     JSON numbers with a fraction decode to Lua floats, so a contract can
 *     see and refuse them itself;
 *   - a table whose keys are exactly 1..n is an array; a table whose keys
 *     are all strings is an object; anything else is refused;
 *   - an empty table encodes as [] unless it is marked as an object: tables
 *     decoded from {} are marked, and vl.object(t) marks t;
 *   - functions, userdata, threads, cyclic tables, NUL bytes in keys and
 *     nesting deeper than VM_JSON_DEPTH_MAX are refused.
 *
 * The encoder uses raw table access only, so it never runs contract code
 * and never raises except on memory (while pushing a key to look it up),
 * which is a sticky abort; its buffers live in the execution context, so a
 * raise leaks nothing.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"

static const char s_marks_key = 'm';  /* registry: weak set of object-marked tables */
static const char s_null_key = 'n';   /* registry: the vl.null sentinel */

typedef struct {
    lua_State *L;
    vl_buf_t *b;
    size_t max;
    char *err;
    size_t err_len;
    const void *path[VM_JSON_DEPTH_MAX];
    int depth;
    /* key index arena: offsets of key strings, per table level */
    struct s_key *keys;
    size_t n_keys, cap_keys;
} s_enc_t;

struct s_key {
    const char *s;
    size_t len;
};

static int
s_fail(s_enc_t *e, const char *fmt, const char *a)
{
    snprintf(e->err, e->err_len, fmt, a);
    return -1;
}

static int
s_put(s_enc_t *e, const char *s, size_t n)
{
    if (e->b->len + n > e->max) {
        snprintf(e->err, e->err_len, "value exceeds %zu bytes as JSON", e->max);
        return -1;
    }
    if (vl_buf_reserve(e->b, n)) {
        snprintf(e->err, e->err_len, "out of host memory encoding a value");
        return -1;
    }
    memcpy(e->b->data + e->b->len, s, n);
    e->b->len += n;
    e->b->data[e->b->len] = 0;
    return 0;
}

static int
s_put_string(s_enc_t *e, const char *str, size_t n)
{
    int rc = vl_json_put_string(e->b, str, n);
    if (rc == -2)
        return s_fail(e, "%s", "string is not valid UTF-8");
    if (rc)
        return s_fail(e, "%s", "out of host memory encoding a value");
    if (e->b->len > e->max) {
        snprintf(e->err, e->err_len, "value exceeds %zu bytes as JSON", e->max);
        return -1;
    }
    return 0;
}

static int
s_keycmp(const void *a, const void *b)
{
    const struct s_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static bool
s_is_marked(lua_State *L, int idx)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &s_marks_key);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    bool marked = lua_toboolean(L, -1);
    lua_pop(L, 2);
    return marked;
}

static bool
s_is_null(lua_State *L, int idx)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &s_null_key);
    bool is = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return is;
}

static int s_encode(s_enc_t *e, int idx, bool empty_object);

static int
s_encode_table(s_enc_t *e, int idx, bool empty_object)
{
    lua_State *L = e->L;
    const void *self = lua_topointer(L, idx);
    for (int i = 0; i < e->depth; i++)
        if (e->path[i] == self)
            return s_fail(e, "%s", "cannot encode a cyclic table");
    if (e->depth >= VM_JSON_DEPTH_MAX)
        return s_fail(e, "%s", "value nested too deeply");
    if (!lua_checkstack(L, 4))
        return s_fail(e, "%s", "value nested too deeply");
    e->path[e->depth++] = self;

    /* Classify: count entries, integer keys 1..n, string keys. */
    size_t n = 0, n_str = 0;
    lua_Integer max_int = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        n++;
        int kt = lua_type(L, -2);
        if (kt == LUA_TSTRING)
            n_str++;
        else if (kt == LUA_TNUMBER && lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
            lua_Integer k = lua_tointeger(L, -2);
            if (k > max_int)
                max_int = k;
        } else {
            const char *tn = kt == LUA_TNUMBER ? "number (not a positive integer)"
                                               : lua_typename(L, kt);
            lua_pop(L, 2);
            e->depth--;
            return s_fail(e, "cannot encode a table key of type %s", tn);
        }
        lua_pop(L, 1);
    }
    int rc = 0;
    if (n == 0) {
        bool obj = empty_object || s_is_marked(L, idx);
        rc = s_put(e, obj ? "{}" : "[]", 2);
    } else if (n_str == 0 && (size_t) max_int == n) {
        rc = s_put(e, "[", 1);
        for (size_t i = 1; rc == 0 && i <= n; i++) {
            if (i > 1)
                rc = s_put(e, ",", 1);
            if (rc == 0) {
                lua_rawgeti(L, idx, (lua_Integer) i);
                rc = s_encode(e, lua_gettop(L), false);
                lua_pop(L, 1);
            }
        }
        if (rc == 0)
            rc = s_put(e, "]", 1);
    } else if (n_str == n) {
        /* Collect the keys (pointers stay valid: the table holds them). */
        size_t base = e->n_keys;
        if (e->n_keys + n > e->cap_keys) {
            size_t ncap = e->cap_keys ? e->cap_keys * 2 : 64;
            while (ncap < e->n_keys + n)
                ncap *= 2;
            struct s_key *p = realloc(e->keys, ncap * sizeof *p);
            if (!p) {
                e->depth--;
                return s_fail(e, "%s", "out of host memory encoding a value");
            }
            e->keys = p;
            e->cap_keys = ncap;
            vm_exec_of(L)->codec_keys = p;
            vm_exec_of(L)->codec_keys_cap = ncap;
        }
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            struct s_key *k = &e->keys[e->n_keys++];
            k->s = lua_tolstring(L, -2, &k->len);  /* a string: no conversion */
            lua_pop(L, 1);
        }
        qsort(e->keys + base, n, sizeof *e->keys, s_keycmp);
        rc = s_put(e, "{", 1);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            struct s_key k = e->keys[base + i];
            if (memchr(k.s, 0, k.len)) {
                rc = s_fail(e, "%s", "cannot encode a key containing a NUL byte");
                break;
            }
            if (i > 0)
                rc = s_put(e, ",", 1);
            if (rc == 0)
                rc = s_put_string(e, k.s, k.len);
            if (rc == 0)
                rc = s_put(e, ":", 1);
            if (rc == 0) {
                /* Short keys are interned: pushing them does not allocate. */
                lua_pushlstring(L, k.s, k.len);
                lua_rawget(L, idx);
                rc = s_encode(e, lua_gettop(L), false);
                lua_pop(L, 1);
            }
        }
        if (rc == 0)
            rc = s_put(e, "}", 1);
        e->n_keys = base;
    } else {
        rc = s_fail(e, "%s",
                    "cannot encode a table that mixes array items and named fields "
                    "(or an array with holes)");
    }
    e->depth--;
    return rc;
}

static int
s_encode(s_enc_t *e, int idx, bool empty_object)
{
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return s_put(e, "null", 4);
    case LUA_TBOOLEAN:
        return lua_toboolean(L, idx) ? s_put(e, "true", 4) : s_put(e, "false", 5);
    case LUA_TNUMBER: {
        if (!lua_isinteger(L, idx)) {
            char num[64];
            snprintf(num, sizeof num, "%.14g", (double) lua_tonumber(L, idx));
            return s_fail(e, "cannot encode the float %s: use integers (e.g. cents)", num);
        }
        char num[32];
        int len = snprintf(num, sizeof num, "%" PRId64, (int64_t) lua_tointeger(L, idx));
        return s_put(e, num, (size_t) len);
    }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return s_put_string(e, s, len);
    }
    case LUA_TTABLE:
        if (s_is_null(L, idx))
            return s_put(e, "null", 4);
        return s_encode_table(e, idx, empty_object);
    default:
        return s_fail(e, "cannot encode a %s value", lua_typename(L, lua_type(L, idx)));
    }
}

int
codec_encode(lua_State *L, int idx, vl_buf_t *buf, size_t max_bytes, bool empty_object,
             char *err, size_t err_len)
{
    /* The key arena belongs to the execution, so a raise cannot leak it. */
    vm_exec_t *ex = vm_exec_of(L);
    s_enc_t e = { .L = L, .b = buf, .max = max_bytes, .err = err, .err_len = err_len,
                  .keys = ex->codec_keys, .cap_keys = ex->codec_keys_cap };
    idx = lua_absindex(L, idx);
    buf->len = 0;
    if (vl_buf_reserve(buf, 0)) {
        snprintf(err, err_len, "out of host memory encoding a value");
        return -1;
    }
    buf->data[0] = 0;
    int rc = s_encode(&e, idx, empty_object);
    ex->codec_keys = e.keys;
    ex->codec_keys_cap = e.cap_keys;
    return rc;
}

/* --- decoding ----------------------------------------------------------------- */

static void
s_push_json(lua_State *L, json_t *j, int depth)
{
    if (depth > 0 && !lua_checkstack(L, 3))
        luaL_error(L, "JSON value nested too deeply");
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        lua_createtable(L, 0, (int) json_object_size(j));
        if (json_object_size(j) == 0)
            codec_mark_object(L, -1);
        json_object_foreach(j, k, v) {
            lua_pushlstring(L, k, strlen(k));  /* never lua_pushstring: its cache skips allocations */
            s_push_json(L, v, depth + 1);
            lua_rawset(L, -3);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *v;
        lua_createtable(L, (int) json_array_size(j), 0);
        json_array_foreach(j, i, v) {
            s_push_json(L, v, depth + 1);
            lua_rawseti(L, -2, (lua_Integer) i + 1);
        }
        break;
    }
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer) json_integer_value(j));
        break;
    case JSON_REAL:
        lua_pushnumber(L, (lua_Number) json_real_value(j));
        break;
    case JSON_TRUE:
        lua_pushboolean(L, 1);
        break;
    case JSON_FALSE:
        lua_pushboolean(L, 0);
        break;
    case JSON_NULL:
        codec_push_null(L);
        break;
    }
}

static int
s_push_protected(lua_State *L)
{
    json_t *j = lua_touserdata(L, 1);
    s_push_json(L, j, 0);
    return 1;
}

int
codec_push_text(lua_State *L, const char *text, size_t len, char *err, size_t err_len)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES |
                                          JSON_ALLOW_NUL, &jerr);
    if (!j) {
        snprintf(err, err_len, "invalid JSON at line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        return -1;
    }
    /* Push under protection so a memory error cannot leak j; then re-raise. */
    lua_checkstack(L, 3);
    lua_pushcfunction(L, s_push_protected);
    lua_pushlightuserdata(L, j);
    int st = lua_pcall(L, 1, 1, 0);
    json_decref(j);
    if (st != LUA_OK)
        lua_error(L);
    return 0;
}

/* --- marks and null --------------------------------------------------------- */

void
codec_mark_object(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &s_marks_key);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

void
codec_unmark_object(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &s_marks_key);
    lua_pushvalue(L, idx);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

void
codec_push_null(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &s_null_key);
}

static int
s_null_newindex(lua_State *L)
{
    return luaL_error(L, "vl.null is read-only");
}

void
codec_open(lua_State *L)
{
    /* Weak-keyed set of object-marked tables. */
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &s_marks_key);
    /* The null sentinel: an empty, read-only table. */
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, s_null_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &s_null_key);
}
