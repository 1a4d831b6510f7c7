/*
 * sandbox.c — the environment contracts run in, built from an allow-list
 * (research/contract-vm.md §6 items 3-5 and 8).
 *
 * What a contract sees as globals (everything else is nil):
 *   assert error ipairs pairs pcall select tonumber tostring type xpcall
 *   _VERSION string table math utf8 vl
 * with these replacements:
 *   error      raises its message as given (no "chunk:line:" prefix), so a
 *              refusal reads exactly as the contract wrote it;
 *   pairs      iterates keys in sorted order: numbers ascending, then
 *              strings by bytes, then false, true (other key types raise);
 *   tostring   never shows an address ("table", "function", ...);
 *   pcall,     re-raise sticky aborts (gas, memory, depth) so a contract
 *   xpcall     can never catch them, and roll back writes and events made
 *              inside a failed call (a savepoint, as Aergo does);
 *   table.sort a stable merge sort, charged per comparison;
 *   string.rep checked against VM_STRING_MAX and charged before building;
 *   string.format refuses %p and prints tables etc. by type name only;
 *   string.find/match/gmatch/gsub: patterns bounded (subject <= 4 KiB,
 *              pattern <= 64 bytes, at most one * + - repetition, or two
 *              on subjects <= 256 bytes: backtracking is then at most
 *              ~16 M steps), plain
 *              find unbounded, all charged per byte.
 * Left out on purpose: next, raw*, get/setmetatable, collectgarbage, load*,
 * dofile, require, print, warn, coroutine, debug, io, os, package,
 * string.dump, string.pack/unpack/packsize, math.random and the float
 * transcendentals.
 *
 * Invariants:
 *   1. Nothing a contract can reach is shared and writable: library tables
 *      are empty proxies (__index = the real table, __newindex raises,
 *      __metatable locked); the globals table is reachable only through
 *      the per-activation _ENV's metatable, which is locked.
 *   2. The string metatable's __index is the filtered string table, so
 *      method calls ("x"):rep(...) go through the same wrappers.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "vm_internal.h"

static const char s_globals_key = 'g';  /* registry: the frozen globals table */
static const char s_envmt_key = 'e';    /* registry: metatable of every _ENV */

/* --- base -------------------------------------------------------------------- */

const char *
sandbox_typename(lua_State *L, int idx)
{
    return lua_typename(L, lua_type(L, idx));
}

static int
s_tostring(lua_State *L)
{
    luaL_checkany(L, 1);
    switch (lua_type(L, 1)) {
    case LUA_TNIL:
    case LUA_TBOOLEAN:
    case LUA_TNUMBER:
    case LUA_TSTRING:
        luaL_tolstring(L, 1, NULL);
        return 1;
    default:
        lua_pushstring(L, sandbox_typename(L, 1));
        return 1;
    }
}

static int
s_error(lua_State *L)
{
    if (lua_gettop(L) == 0)
        lua_pushnil(L);
    lua_settop(L, 1);
    return lua_error(L);
}

/* pairs: sorted keys. */
typedef struct {
    int kind;          /* 0 number, 1 string, 2 boolean */
    bool is_int;
    lua_Integer i;
    lua_Number f;
    const char *s;
    size_t len;
    int pos;           /* index in the keys table */
} s_pkey_t;

static int
s_num_cmp(const s_pkey_t *a, const s_pkey_t *b)
{
    if (a->is_int && b->is_int)
        return a->i < b->i ? -1 : a->i > b->i;
    if (!a->is_int && !b->is_int)
        return a->f < b->f ? -1 : a->f > b->f;
    /* Mixed: compare exactly, as Lua's own < does. */
    bool a_int = a->is_int;
    lua_Integer iv = a_int ? a->i : b->i;
    lua_Number fv = a_int ? b->f : a->f;
    int c;
    if (fv >= 9223372036854775808.0)
        c = -1;
    else if (fv < -9223372036854775808.0)
        c = 1;
    else {
        lua_Integer fi = (lua_Integer) fv;  /* truncation toward zero */
        if (iv < fi)
            c = -1;
        else if (iv > fi)
            c = 1;
        else
            c = (lua_Number) fi < fv ? -1 : (lua_Number) fi > fv ? 1 : 0;
    }
    return a_int ? c : -c;
}

static int
s_pkey_cmp(const void *x, const void *y)
{
    const s_pkey_t *a = x, *b = y;
    if (a->kind != b->kind)
        return a->kind - b->kind;
    switch (a->kind) {
    case 0:
        return s_num_cmp(a, b);
    case 1: {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->s, b->s, n);
        return c ? c : a->len < b->len ? -1 : a->len > b->len;
    }
    default:
        return (int) a->i - (int) b->i;
    }
}

static int
s_pairs_next(lua_State *L)
{
    lua_Integer n = lua_tointeger(L, lua_upvalueindex(3));
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(4));
    while (++i <= n) {
        lua_rawgeti(L, lua_upvalueindex(2), i);
        lua_pushvalue(L, -1);
        lua_rawget(L, lua_upvalueindex(1));
        if (!lua_isnil(L, -1)) {
            lua_pushinteger(L, i);
            lua_replace(L, lua_upvalueindex(4));
            return 2;
        }
        lua_pop(L, 2);  /* removed during the traversal: skip */
    }
    lua_pushinteger(L, n);
    lua_replace(L, lua_upvalueindex(4));
    return 0;
}

static int
s_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        n++;
        lua_pop(L, 1);
    }
    meter_charge(L, (uint64_t) n * GAS_PAIRS_KEY);
    if (n > INT_MAX / 2)
        return luaL_error(L, "pairs: table too large");
    lua_createtable(L, (int) n, 0);  /* 2: keys in traversal order */
    s_pkey_t *keys = lua_newuserdatauv(L, (size_t) n * sizeof *keys + 1, 0); /* 3 */
    int i = 0;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        s_pkey_t *k = &keys[i];
        memset(k, 0, sizeof *k);
        k->pos = i + 1;
        switch (lua_type(L, -1)) {
        case LUA_TNUMBER:
            k->kind = 0;
            k->is_int = lua_isinteger(L, -1);
            if (k->is_int)
                k->i = lua_tointeger(L, -1);
            else
                k->f = lua_tonumber(L, -1);
            break;
        case LUA_TSTRING:
            k->kind = 1;
            k->s = lua_tolstring(L, -1, &k->len);
            break;
        case LUA_TBOOLEAN:
            k->kind = 2;
            k->i = lua_toboolean(L, -1);
            break;
        default:
            return luaL_error(L, "pairs: a key of type %s has no deterministic order",
                              sandbox_typename(L, -1));
        }
        lua_pushvalue(L, -1);
        lua_rawseti(L, 2, ++i);
    }
    qsort(keys, (size_t) n, sizeof *keys, s_pkey_cmp);
    lua_createtable(L, (int) n, 0);  /* 4: keys sorted */
    for (lua_Integer j = 0; j < n; j++) {
        lua_rawgeti(L, 2, keys[j].pos);
        lua_rawseti(L, 4, j + 1);
    }
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 4);
    lua_pushinteger(L, n);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, s_pairs_next, 4);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int
s_pcall(lua_State *L)
{
    vm_exec_t *ex = vm_exec_of(L);
    luaL_checkany(L, 1);
    meter_check(L);
    rw_savepoint_t sp = rwset_savepoint(&ex->rw);
    int st = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (ex->abort != VM_ABORT_NONE)
        return lua_error(L);  /* invariant: aborts are never caught */
    if (st != LUA_OK) {
        rwset_rollback(&ex->rw, sp);
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    luaL_checkstack(L, 1, "too many results");
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    return lua_gettop(L);
}

static int
s_xpcall(lua_State *L)
{
    vm_exec_t *ex = vm_exec_of(L);
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    meter_check(L);
    /* Stack: f, h, args... -> h, f, args... */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_replace(L, 1);
    lua_replace(L, 2);
    rw_savepoint_t sp = rwset_savepoint(&ex->rw);
    int st = lua_pcall(L, n - 2, LUA_MULTRET, 0);
    if (ex->abort != VM_ABORT_NONE)
        return lua_error(L);
    if (st != LUA_OK) {
        rwset_rollback(&ex->rw, sp);
        /* Stack: h, err. The handler runs unprotected, after the unwinding
         * (there is no traceback to see without debug). */
        lua_call(L, 1, 1);
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_replace(L, 1);
    return lua_gettop(L);
}

/* --- table.sort ----------------------------------------------------------------- */

static bool
s_less(lua_State *L, bool has_cmp, int a, int b)
{
    meter_charge(L, GAS_SORT_CMP);
    bool r;
    if (has_cmp) {
        lua_pushvalue(L, 2);
        lua_rawgeti(L, 3, a);
        lua_rawgeti(L, 3, b);
        lua_call(L, 2, 1);
        r = lua_toboolean(L, -1);
        lua_pop(L, 1);
    } else {
        lua_rawgeti(L, 3, a);
        lua_rawgeti(L, 3, b);
        r = lua_compare(L, -2, -1, LUA_OPLT);
        lua_pop(L, 2);
    }
    return r;
}

static int
s_sort(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    bool has_cmp = !lua_isnoneornil(L, 2);
    if (has_cmp)
        luaL_checktype(L, 2, LUA_TFUNCTION);
    if (n < 2)
        return 0;
    luaL_argcheck(L, n < INT_MAX / 4, 1, "array too big");
    lua_settop(L, 2);
    lua_createtable(L, (int) n, 0);  /* 3: a copy of the values */
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        lua_rawseti(L, 3, i);
    }
    int *idx = lua_newuserdatauv(L, 2 * (size_t) n * sizeof(int), 0);  /* 4 */
    int *a = idx, *tmp = idx + n;
    for (int i = 0; i < n; i++)
        a[i] = i + 1;
    /* Bottom-up merge sort: stable (take left unless right < left). */
    for (lua_Integer width = 1; width < n; width *= 2) {
        for (lua_Integer lo = 0; lo < n; lo += 2 * width) {
            lua_Integer mid = lo + width < n ? lo + width : n;
            lua_Integer hi = lo + 2 * width < n ? lo + 2 * width : n;
            lua_Integer i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = s_less(L, has_cmp, a[j], a[i]) ? a[j++] : a[i++];
            while (i < mid)
                tmp[k++] = a[i++];
            while (j < hi)
                tmp[k++] = a[j++];
        }
        memcpy(a, tmp, (size_t) n * sizeof(int));
    }
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(L, 3, a[i]);
        lua_seti(L, 1, i + 1);
    }
    return 0;
}

/* --- string wrappers -------------------------------------------------------------- */

static int
s_call_original(lua_State *L)
{
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

static int
s_rep(lua_State *L)
{
    size_t l, lsep = 0;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n > 0) {
        /* total = n*l + (n-1)*lsep, computed without overflow */
        unsigned long long per = (unsigned long long) l + lsep;
        if (per && (unsigned long long) n > (VM_STRING_MAX + lsep) / per)
            return luaL_error(L, "string.rep: result exceeds %d bytes", VM_STRING_MAX);
        unsigned long long total = per * (unsigned long long) n - lsep;
        meter_charge(L, GAS_HOST + (total >> GAS_STRING_BYTE_SHIFT));
    }
    return s_call_original(L);
}

static int
s_format(lua_State *L)
{
    size_t fl;
    const char *f = luaL_checklstring(L, 1, &fl);
    int arg = 1;
    meter_charge(L, GAS_HOST + fl);
    for (size_t i = 0; i < fl; i++) {
        if (f[i] != '%')
            continue;
        if (++i < fl && f[i] == '%')
            continue;
        while (i < fl && strchr("-+ #0123456789.", f[i]))
            i++;
        if (i >= fl)
            break;
        arg++;
        if (f[i] == 'p')
            return luaL_error(L, "string.format: '%%p' is not allowed");
        if (f[i] == 's' && arg <= lua_gettop(L)) {
            int t = lua_type(L, arg);
            if (t == LUA_TTABLE || t == LUA_TFUNCTION || t == LUA_TUSERDATA ||
                t == LUA_TTHREAD || t == LUA_TLIGHTUSERDATA) {
                lua_pushstring(L, lua_typename(L, t));
                lua_replace(L, arg);
            }
        }
    }
    return s_call_original(L);
}

/* Counts * + - repetitions outside sets and escapes. */
static int
s_pattern_reps(const char *p, size_t n)
{
    int reps = 0;
    for (size_t i = 0; i < n;) {
        char c = p[i];
        if (c == '%') {
            if (i + 1 < n && p[i + 1] == 'b')
                i += 4;
            else if (i + 1 < n && p[i + 1] == 'f')
                i += 2;  /* the set that follows is skipped as a set */
            else
                i += 2;
        } else if (c == '[') {
            i++;
            if (i < n && p[i] == '^')
                i++;
            if (i < n && p[i] == ']')
                i++;
            while (i < n && p[i] != ']')
                i += p[i] == '%' ? 2 : 1;
            i++;
        } else {
            if (c == '*' || c == '+' || c == '-')
                reps++;
            i++;
        }
    }
    return reps;
}

static int
s_pattern(lua_State *L)
{
    const char *what = lua_tostring(L, lua_upvalueindex(2));
    bool is_find = strcmp(what, "find") == 0;
    size_t ls, lp;
    luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    bool plain = is_find && lua_toboolean(L, 4);
    if (!plain) {
        if (ls > VM_PATTERN_SUBJECT_MAX)
            return luaL_error(L,
                              "string.%s: a pattern subject may not exceed %d bytes "
                              "(got %d)%s",
                              what, VM_PATTERN_SUBJECT_MAX, (int) ls,
                              is_find ? ": use plain=true" : "");
        if (lp > VM_PATTERN_MAX)
            return luaL_error(L, "string.%s: a pattern may not exceed %d bytes", what,
                              VM_PATTERN_MAX);
        int reps = s_pattern_reps(p, lp);
        if (reps > 2 || (reps == 2 && ls > VM_PATTERN_SUBJECT2_MAX))
            return luaL_error(L,
                              "string.%s: a pattern may use at most one '*', '+' or '-' "
                              "(two on subjects up to %d bytes)",
                              what, VM_PATTERN_SUBJECT2_MAX);
        meter_charge(L, GAS_PATTERN + ls * (1 + lp / 8));
    } else {
        meter_charge(L, GAS_PATTERN + ls);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    int n = lua_gettop(L) - 1;
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

/* --- building the environment -------------------------------------------------------- */

static int
s_readonly(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only library table");
}

/* Replaces the table at the top with a frozen empty proxy of it. */
static void
s_freeze(lua_State *L)
{
    lua_newtable(L);                  /* proxy */
    lua_createtable(L, 0, 3);         /* its metatable */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, s_readonly);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

/* Copies src[name] for each name into the table at the top. */
static void
s_copy(lua_State *L, int src, const char *const *names)
{
    for (; *names; names++) {
        lua_getfield(L, src, *names);
        lua_setfield(L, -2, *names);
    }
}

static void
s_wrap(lua_State *L, int src, const char *name, lua_CFunction fn)
{
    lua_getfield(L, src, name);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, name);
}

static void
s_wrap_pattern(lua_State *L, int src, const char *name)
{
    lua_getfield(L, src, name);
    lua_pushstring(L, name);
    lua_pushcclosure(L, s_pattern, 2);
    lua_setfield(L, -2, name);
}

void
sandbox_open(lua_State *L)
{
    luaL_requiref(L, "_G", luaopen_base, 1);
    luaL_requiref(L, "string", luaopen_string, 1);
    luaL_requiref(L, "table", luaopen_table, 1);
    luaL_requiref(L, "math", luaopen_math, 1);
    luaL_requiref(L, "utf8", luaopen_utf8, 1);
    int base = lua_absindex(L, -5), str = base + 1, tab = base + 2, mth = base + 3,
        utf = base + 4;

    lua_newtable(L);  /* the globals contracts see */
    int g = lua_gettop(L);
    static const char *const base_names[] = { "assert", "ipairs", "select", "tonumber",
                                              "type", "_VERSION", NULL };
    s_copy(L, base, base_names);
    lua_pushcfunction(L, s_error);
    lua_setfield(L, g, "error");
    lua_pushcfunction(L, s_pairs);
    lua_setfield(L, g, "pairs");
    lua_pushcfunction(L, s_tostring);
    lua_setfield(L, g, "tostring");
    lua_pushcfunction(L, s_pcall);
    lua_setfield(L, g, "pcall");
    lua_pushcfunction(L, s_xpcall);
    lua_setfield(L, g, "xpcall");

    /* string: filtered table, also the strings' method table. */
    lua_newtable(L);
    static const char *const str_names[] = { "byte", "char", "len", "lower", "upper",
                                             "reverse", "sub", NULL };
    s_copy(L, str, str_names);
    s_wrap(L, str, "rep", s_rep);
    s_wrap(L, str, "format", s_format);
    s_wrap_pattern(L, str, "find");
    s_wrap_pattern(L, str, "match");
    s_wrap_pattern(L, str, "gmatch");
    s_wrap_pattern(L, str, "gsub");
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {      /* the string metatable */
        lua_pushvalue(L, -3);
        lua_setfield(L, -2, "__index");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    s_freeze(L);
    lua_setfield(L, g, "string");

    lua_newtable(L);
    static const char *const tab_names[] = { "concat", "insert", "remove", "unpack",
                                             "pack", "move", NULL };
    s_copy(L, tab, tab_names);
    lua_pushcfunction(L, s_sort);
    lua_setfield(L, -2, "sort");
    s_freeze(L);
    lua_setfield(L, g, "table");

    lua_newtable(L);
    static const char *const math_names[] = { "abs", "max", "min", "floor", "ceil",
                                              "tointeger", "type", "ult", "maxinteger",
                                              "mininteger", NULL };
    s_copy(L, mth, math_names);
    s_freeze(L);
    lua_setfield(L, g, "math");

    lua_newtable(L);
    static const char *const utf_names[] = { "char", "charpattern", "codes", "codepoint",
                                             "len", "offset", NULL };
    s_copy(L, utf, utf_names);
    s_freeze(L);
    lua_setfield(L, g, "utf8");

    host_open(L);
    s_freeze(L);
    lua_setfield(L, g, "vl");

    lua_pushvalue(L, g);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &s_globals_key);

    /* Metatable shared by every activation's _ENV. */
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, g);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &s_envmt_key);

    /* The real globals table is reachable by nobody but us: empty it of the
     * dangerous names anyway, as a second line. */
    static const char *const gone[] = { "load", "loadfile", "dofile", "require",
                                        "collectgarbage", "setmetatable", "getmetatable",
                                        "rawget", "rawset", "rawequal", "rawlen", "next",
                                        "print", "warn", "string", NULL };
    for (const char *const *p = gone; *p; p++) {
        lua_pushnil(L);
        lua_setfield(L, base, *p);
    }
    lua_settop(L, base - 1);
}

void
sandbox_push_env(lua_State *L)
{
    lua_createtable(L, 0, 4);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &s_envmt_key);
    lua_setmetatable(L, -2);
}
