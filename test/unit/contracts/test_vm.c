/*
 * test_vm.c — the contract VM against the fake state: read/write/range
 * sets, read-your-writes, chained calls, the sandbox's allow-list and
 * replaced functions, gas and memory aborts, the value codec, and
 * determinism (fresh vs reused state, two VMs, repeated runs).
 */
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>

#include "check.h"
#include "fake_state.h"
#include "codec.h"

#include <stdlib.h>
#include <unistd.h>

#define ALICE "did:vl:a11ce00000000000000000000000000000000000"
#define BOB "did:vl:b0b0000000000000000000000000000000000000"

static const uint8_t s_txid[32] = { 0xab, 0xcd, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
                                    29, 30 };

static vm_t *s_vm;
static fake_state_t s_fs;

static int
s_exec_full(vm_t *vm, const char *contract, const char *fn, const char *args, uint64_t gas,
            vm_result_t *r)
{
    vm_state_t view = fake_view(&s_fs);
    vm_request_t req = { .contract = contract, .function = fn, .args_json = args,
                         .caller_did = ALICE, .txid = s_txid, .now_ms = 1234,
                         .gas_limit = gas };
    return vm_execute(vm, &view, &req, r);
}

static int
s_exec(const char *contract, const char *fn, const char *args, vm_result_t *r)
{
    return s_exec_full(s_vm, contract, fn, args, 0, r);
}

/* Deploys `return {f = function(a) BODY end}` style sources. */
static void
s_deploy(const char *name, const char *source)
{
    fake_contract(&s_fs, name, source, "did:vl:author");
}

/* Runs t.FN of a one-off contract "t" and checks the result JSON. */
static void
s_expect(const char *source, const char *args, const char *result)
{
    s_deploy("t", source);
    vm_result_t r;
    int rc = s_exec("t", "f", args ? args : "{}", &r);
    if (rc)
        fprintf(stderr, "  source: %s\n  error: %s\n", source, r.error);
    CHECK_EQ(rc, 0);
    CHECK_STR(r.result_json, result);
    vm_result_clear(&r);
}

/* Runs t.f and expects status with an error containing msg. */
static void
s_expect_err(const char *source, int status, const char *msg)
{
    s_deploy("t", source);
    vm_result_t r;
    int rc = s_exec("t", "f", "{}", &r);
    if (rc != status)
        fprintf(stderr, "  source: %s\n  error: %s\n", source, r.error);
    CHECK_EQ(rc, status);
    CHECK_CONTAINS(r.error, msg);
    CHECK(r.endorsed == NULL);
    vm_result_clear(&r);
}

static Vl__EndorsedResult *
s_unpack(const vm_result_t *r)
{
    return vl__endorsed_result__unpack(NULL, r->endorsed_len, r->endorsed);
}

#define FN(body) "return { f = function(args) " body " end }"

/* --- read/write sets ------------------------------------------------------------ */

static void
test_rwset_versions_and_order(void)
{
    fake_free(&s_fs);
    s_fs.height = 7;
    fake_put(&s_fs, "b/2", "{\"n\":2}");
    s_fs.height = 9;
    fake_put(&s_fs, "a/1", "1");
    s_deploy("t", FN("local x = vl.get('b/2'); local y = vl.get('a/1'); local z = vl.get('zz') "
                     "vl.put('m', 1); vl.put('c', {x.n, y}); vl.put('m', 'last'); vl.del('a/1') "
                     "return {x = x, y = y, z = z == nil}"));
    vm_result_t r;
    CHECK_EQ(s_exec("t", "f", "{}", &r), 0);
    CHECK_STR(r.result_json, "{\"x\":{\"n\":2},\"y\":1,\"z\":true}");
    Vl__EndorsedResult *er = s_unpack(&r);
    CHECK(er != NULL);
    if (er) {
        CHECK_EQ(er->n_reads, 4);
        CHECK_STR(er->reads[0]->key, "a/1");
        CHECK_EQ(er->reads[0]->block, 9);
        CHECK_STR(er->reads[1]->key, "b/2");
        CHECK_EQ(er->reads[1]->block, 7);
        CHECK(er->reads[1]->exists);
        CHECK_STR(er->reads[2]->key, "contract/t");
        CHECK_STR(er->reads[3]->key, "zz");
        CHECK(!er->reads[3]->exists);
        CHECK_EQ(er->n_writes, 3);
        CHECK_STR(er->writes[0]->key, "a/1");
        CHECK(er->writes[0]->is_delete);
        CHECK_EQ(er->writes[0]->value.len, 0);
        CHECK_STR(er->writes[1]->key, "c");
        CHECK_EQ(memcmp(er->writes[1]->value.data, "[2,1]", 5), 0);
        CHECK_STR(er->writes[2]->key, "m");
        CHECK_EQ(er->writes[2]->value.len, 6);
        CHECK_EQ(memcmp(er->writes[2]->value.data, "\"last\"", 6), 0);
        CHECK(er->gas_used > 0);
        CHECK_EQ(er->gas_used, r.gas_used);
        vl__endorsed_result__free_unpacked(er, NULL);
    }
    vm_result_clear(&r);
}

static void
test_read_your_writes(void)
{
    fake_free(&s_fs);
    fake_put(&s_fs, "k", "1");
    s_deploy("t", FN("vl.put('k', 2) local a = vl.get('k') vl.put('n', {v = 3}) "
                     "local b = vl.get('n') b.v = 99 local c = vl.get('n') "
                     "vl.del('k') local d = vl.get('k') "
                     "return {a = a, b = c.v, d = d == nil}"));
    vm_result_t r;
    CHECK_EQ(s_exec("t", "f", "{}", &r), 0);
    CHECK_STR(r.result_json, "{\"a\":2,\"b\":3,\"d\":true}");
    Vl__EndorsedResult *er = s_unpack(&r);
    if (er) {
        /* Only the contract record was read from committed state. */
        CHECK_EQ(er->n_reads, 1);
        CHECK_STR(er->reads[0]->key, "contract/t");
        vl__endorsed_result__free_unpacked(er, NULL);
    }
    vm_result_clear(&r);
}

static void
test_range_and_phantoms(void)
{
    fake_free(&s_fs);
    s_fs.height = 3;
    fake_put(&s_fs, "item/a", "\"A\"");
    fake_put(&s_fs, "item/b", "\"B\"");
    fake_put(&s_fs, "itemz", "0");
    fake_put(&s_fs, "other/x", "1");
    s_deploy("t", FN("vl.put('item/c', 'C') vl.del('item/a') vl.put('item/0', 'Z') "
                     "local out = {} for _, kv in ipairs(vl.range('item/')) do "
                     "out[#out + 1] = kv.key .. '=' .. kv.value end "
                     "local o = vl.range('other/') "
                     "return {items = out, n_other = #o}"));
    vm_result_t r;
    CHECK_EQ(s_exec("t", "f", "{}", &r), 0);
    CHECK_STR(r.result_json, "{\"items\":[\"item/0=Z\",\"item/b=B\",\"item/c=C\"],"
                             "\"n_other\":1}");
    Vl__EndorsedResult *er = s_unpack(&r);
    if (er) {
        CHECK_EQ(er->n_ranges, 2);
        CHECK_STR(er->ranges[0]->prefix, "item/");
        CHECK_EQ(er->ranges[0]->n_items, 2);
        CHECK_STR(er->ranges[0]->items[0]->key, "item/a");
        CHECK_EQ(er->ranges[0]->items[0]->block, 3);
        CHECK_STR(er->ranges[0]->items[1]->key, "item/b");
        CHECK_STR(er->ranges[1]->prefix, "other/");
        vl__endorsed_result__free_unpacked(er, NULL);
    }
    vm_result_clear(&r);
    s_expect_err(FN("return vl.range('')"), VL_ERR_REFUSED, "printable ASCII");
    /* Over the range limit. */
    for (int i = 0; i < 1001; i++) {
        char k[32];
        snprintf(k, sizeof k, "many/%04d", i);
        fake_put(&s_fs, k, "1");
    }
    s_expect_err(FN("return #vl.range('many/')"), VL_ERR_REFUSED,
                 "more than 1000 keys start with 'many/'");
}

/* --- chained calls ------------------------------------------------------------------- */

static void
s_chain_contract(const char *name, const char *next)
{
    char src[1024];
    if (next)
        snprintf(src, sizeof src,
                 "return { f = function(a) vl.put('seen/%s', vl.caller()) "
                 "local r = vl.call('%s', 'f', {n = a.n + 1}) "
                 "return {n = r.n, path = '%s>' .. r.path} end }",
                 name, next, name);
    else
        snprintf(src, sizeof src,
                 "return { f = function(a) vl.put('seen/%s', vl.caller()) "
                 "return {n = a.n, path = '%s:' .. vl.creator()} end }",
                 name, name);
    s_deploy(name, src);
}

static void
test_call_chain(void)
{
    fake_free(&s_fs);
    s_chain_contract("c1", "c2");
    s_chain_contract("c2", "c3");
    s_chain_contract("c3", "c4");
    s_chain_contract("c4", "c5");
    s_chain_contract("c5", NULL);
    vm_result_t r;
    CHECK_EQ(s_exec("c1", "f", "{\"n\":1}", &r), 0);
    CHECK_STR(r.result_json, "{\"n\":5,\"path\":\"c1>c2>c3>c4>c5:" ALICE "\"}");
    Vl__EndorsedResult *er = s_unpack(&r);
    if (er) {
        CHECK_EQ(er->n_writes, 5);
        CHECK_STR(er->writes[0]->key, "seen/c1");
        CHECK_EQ(memcmp(er->writes[0]->value.data, "\"" ALICE "\"", 49), 0);
        CHECK_STR(er->writes[4]->key, "seen/c5");
        CHECK_EQ(memcmp(er->writes[4]->value.data, "\"contract:c4\"", 13), 0);
        CHECK_EQ(er->n_reads, 5);  /* the five contract records */
        vl__endorsed_result__free_unpacked(er, NULL);
    }
    vm_result_clear(&r);

    /* Nine deep: refused at the ninth, even with pcall around the calls. */
    for (int i = 1; i <= 9; i++) {
        char name[8], next[8];
        snprintf(name, sizeof name, "d%d", i);
        snprintf(next, sizeof next, "d%d", i + 1);
        char src[512];
        snprintf(src, sizeof src,
                 "return { f = function(a) %s end }",
                 i == 9 ? "return {}"
                        : i == 1 ? "local ok, e = pcall(vl.call, 'd2', 'f', {}) return {ok}"
                                 : "return vl.call('NEXT', 'f', {})");
        char *p = strstr(src, "NEXT");
        if (p)
            memcpy(p, next, 2), memmove(p + 2, p + 4, strlen(p + 4) + 1);
        s_deploy(name, src);
    }
    CHECK_EQ(s_exec("d1", "f", "{}", &r), VL_ERR_REFUSED);
    CHECK_STR(r.error, "call depth limit of 8 exceeded: d1 -> d2 -> d3 -> d4 -> d5 -> d6 -> "
                       "d7 -> d8 -> d9");
    vm_result_clear(&r);
    CHECK_EQ(s_exec("d2", "f", "{}", &r), 0);  /* 8 deep is fine */
    vm_result_clear(&r);

    /* Reentrancy. */
    s_deploy("ra", FN("return vl.call('rb', 'f', {})"));
    s_deploy("rb", FN("local ok = pcall(vl.call, 'ra', 'f', {}) return {ok}"));
    CHECK_EQ(s_exec("ra", "f", "{}", &r), VL_ERR_REFUSED);
    CHECK_STR(r.error, "reentrant call refused: ra -> rb -> ra");
    vm_result_clear(&r);
}

static void
test_call_failure(void)
{
    fake_free(&s_fs);
    s_deploy("callee", "return { f = function(a) vl.put('callee/x', 1) vl.emit('callee.ev', {}) "
                       "if a.fail then error('callee says no') end return {ok = true, got = a} "
                       "end }");
    s_deploy("caller", FN("vl.put('caller/y', 1) "
                          "local ok, err = pcall(vl.call, 'callee', 'f', {fail = true}) "
                          "vl.put('caller/z', 2) return {ok = ok, err = err}"));
    vm_result_t r;
    CHECK_EQ(s_exec("caller", "f", "{}", &r), 0);
    CHECK_STR(r.result_json, "{\"err\":\"callee says no\",\"ok\":false}");
    Vl__EndorsedResult *er = s_unpack(&r);
    if (er) {
        CHECK_EQ(er->n_writes, 2);  /* callee/x rolled back */
        CHECK_STR(er->writes[0]->key, "caller/y");
        CHECK_STR(er->writes[1]->key, "caller/z");
        CHECK_EQ(er->n_events, 0);
        vl__endorsed_result__free_unpacked(er, NULL);
    }
    vm_result_clear(&r);
    /* Without pcall the callee's message refuses the whole transaction. */
    s_deploy("caller2", FN("vl.put('caller/y', 1) return vl.call('callee', 'f', {fail = true})"));
    CHECK_EQ(s_exec("caller2", "f", "{}", &r), VL_ERR_REFUSED);
    CHECK_STR(r.error, "callee says no");
    vm_result_clear(&r);
    /* Args and results are deep copies. */
    s_deploy("caller3", FN("local t = {n = 1} local r = vl.call('callee', 'f', {t = t}) "
                           "r.got.t.n = 5 return {t.n, r.ok}"));
    CHECK_EQ(s_exec("caller3", "f", "{}", &r), 0);
    CHECK_STR(r.result_json, "[1,true]");
    vm_result_clear(&r);
    /* Missing callee / function are ordinary (catchable) errors. */
    s_deploy("caller4", FN("local ok, e = pcall(vl.call, 'nobody', 'f', {}) "
                           "local ok2, e2 = pcall(vl.call, 'callee', 'nope', {}) "
                           "return {e, e2}"));
    CHECK_EQ(s_exec("caller4", "f", "{}", &r), 0);
    CHECK_STR(r.result_json, "[\"no contract 'nobody' is deployed\","
                             "\"contract 'callee' has no function 'nope'\"]");
    vm_result_clear(&r);
}

/* --- sandbox -------------------------------------------------------------------------- */

static void
test_sandbox_allow_list(void)
{
    fake_free(&s_fs);
    s_expect(FN("local names = {'os', 'io', 'load', 'loadstring', 'dofile', 'loadfile', "
                "'require', 'package', 'debug', 'collectgarbage', 'setmetatable', "
                "'getmetatable', 'rawget', 'rawset', 'rawequal', 'rawlen', 'next', "
                "'coroutine', 'print', 'warn', '_G', 'module', 'newproxy', 'unpack'} "
                "local out = {} for _, n in ipairs(names) do "
                "if _ENV[n] ~= nil then out[#out + 1] = n end end "
                "if string.dump ~= nil then out[#out + 1] = 'string.dump' end "
                "if math.random ~= nil then out[#out + 1] = 'math.random' end "
                "if math.sin ~= nil then out[#out + 1] = 'math.sin' end "
                "if string.pack ~= nil then out[#out + 1] = 'string.pack' end "
                "if ('x').dump ~= nil then out[#out + 1] = 'method dump' end "
                "return vl.array(out)"),
             NULL, "[]");
    s_expect_err(FN("return os.execute('true')"), VL_ERR_REFUSED,
                 "attempt to index a nil value (global 'os')");
    s_expect_err(FN("return io.open('/etc/passwd')"), VL_ERR_REFUSED, "global 'io'");
    s_expect_err(FN("return load('return 1')()"), VL_ERR_REFUSED, "global 'load'");
    s_expect_err(FN("return debug.getinfo(1)"), VL_ERR_REFUSED, "global 'debug'");
    s_expect_err(FN("return string.dump(args)"), VL_ERR_REFUSED, "field 'dump'");
    s_expect_err(FN("setmetatable(_G, nil)"), VL_ERR_REFUSED, "global 'setmetatable'");
    s_expect_err(FN("return coroutine.create(print)"), VL_ERR_REFUSED, "global 'coroutine'");
    /* Library tables are frozen, and the freeze is not shared state. */
    s_expect_err(FN("string.len = nil"), VL_ERR_REFUSED, "read-only library table");
    s_expect_err(FN("vl.get = function() return 1 end"), VL_ERR_REFUSED, "read-only");
    s_expect_err(FN("math.pi = 3"), VL_ERR_REFUSED, "read-only");
    s_expect(FN("return {('abc'):len(), ('ab'):rep(2), string.upper('x')}"), NULL,
             "[3,\"abab\",\"X\"]");
    /* Globals written by one activation are not seen by the next. */
    s_expect(FN("local before = counter counter = 1 return {before == nil}"), NULL, "[true]");
    s_expect(FN("local before = counter counter = 1 return {before == nil}"), NULL, "[true]");
}

static void
test_sandbox_tostring_pairs_sort(void)
{
    fake_free(&s_fs);
    s_expect(FN("return {tostring({}), tostring(print or tostring), tostring(12), "
                "tostring(nil), tostring(true), string.format('%s|%d', {}, 5)}"),
             NULL, "[\"table\",\"function\",\"12\",\"nil\",\"true\",\"table|5\"]");
    s_expect_err(FN("return string.format('%p', {})"), VL_ERR_REFUSED, "'%p' is not allowed");
    /* pairs: numbers, then strings by bytes, then booleans. */
    s_expect(FN("local t = {b = 1, a = 2, [3] = 'x', [1] = 'y', [2.5] = 'z', [true] = 0, "
                "[false] = 0, B = 3, [-1] = 0} local ks = {} "
                "for k in pairs(t) do ks[#ks + 1] = tostring(k) end return ks"),
             NULL, "[\"-1\",\"1\",\"2.5\",\"3\",\"B\",\"a\",\"b\",\"false\",\"true\"]");
    s_expect_err(FN("for k in pairs({[{}] = 1}) do end"), VL_ERR_REFUSED,
                 "a key of type table has no deterministic order");
    /* pairs over 500 string keys: sorted, whatever the hash seed. */
    s_expect(FN("local t = {} for i = 1, 500 do t['k' .. (i * 7919 % 500)] = i end "
                "local prev, n, ok = '', 0, true for k in pairs(t) do "
                "if k <= prev then ok = false end prev = k n = n + 1 end return {n, ok}"),
             NULL, "[500,true]");
    /* Deleting during traversal is allowed. */
    s_expect(FN("local t = {a = 1, b = 2, c = 3} local s = '' "
                "for k, v in pairs(t) do s = s .. k t.b = nil end return s"),
             NULL, "\"ac\"");
    /* Stable sort with ties over 200 elements. */
    s_expect(FN("local t = {} for i = 1, 200 do t[i] = {k = i % 7, i = i} end "
                "table.sort(t, function(a, b) return a.k < b.k end) local ok = true "
                "for i = 2, 200 do local a, b = t[i - 1], t[i] "
                "if a.k > b.k or (a.k == b.k and a.i > b.i) then ok = false end end "
                "local u = {5, 3, 9, 1} table.sort(u) return {ok, u}"),
             NULL, "[true,[1,3,5,9]]");
    /* Bounded patterns. */
    s_expect_err(FN("return string.find(string.rep('a', 400), '.-.-.-b')"), VL_ERR_REFUSED,
                 "at most one");
    s_expect_err(FN("return string.find(string.rep('a', 400), '.-.-b')"), VL_ERR_REFUSED,
                 "two on subjects up to 256 bytes");
    s_expect_err(FN("return string.match(string.rep('a', 5000), 'a+')"), VL_ERR_REFUSED,
                 "may not exceed 4096 bytes");
    s_expect(FN("return {string.find(string.rep('a', 5000) .. 'b', 'b', 1, true), "
                "string.match('key=val', '(%w+)=(%w+)'), select(2, ('a-b-c'):gsub('-', '+'))}"),
             NULL, "[5001,\"key\",2]");
    s_expect_err(FN("return string.rep('x', 2 * 1024 * 1024)"), VL_ERR_REFUSED,
                 "string.rep: result exceeds 1048576 bytes");
}

/* --- limits and aborts -------------------------------------------------------------------- */

static void
test_bad_contracts(void)
{
    fake_free(&s_fs);
    vm_result_t r;
    /* Syntax error. */
    s_deploy("t", "return { f = function( end }");
    CHECK_EQ(s_exec("t", "f", "{}", &r), VL_ERR_REFUSED);
    CHECK_CONTAINS(r.error, "contract 't' does not compile: t:1:");
    vm_result_clear(&r);
    /* Chunk not returning a table. */
    s_expect_err("return 42", VL_ERR_REFUSED, "did not return a table of functions");
    /* Missing contract and function. */
    CHECK_EQ(s_exec("nope", "f", "{}", &r), VL_ERR_NOT_FOUND);
    CHECK_STR(r.error, "no contract 'nope' is deployed");
    vm_result_clear(&r);
    s_deploy("t", FN("return 1"));
    CHECK_EQ(s_exec("t", "g", "{}", &r), VL_ERR_NOT_FOUND);
    CHECK_STR(r.error, "contract 't' has no function 'g'");
    vm_result_clear(&r);
    /* Bad requests. */
    CHECK_EQ(s_exec("t", "f", "[1]", &r), VL_ERR_INVALID);
    vm_result_clear(&r);
    CHECK_EQ(s_exec("t", "f", "{\"a\":", &r), VL_ERR_INVALID);
    CHECK_CONTAINS(r.error, "invalid JSON");
    vm_result_clear(&r);
    CHECK_EQ(s_exec("T!", "f", "{}", &r), VL_ERR_INVALID);
    vm_result_clear(&r);
    /* Infinite loops: plain, and inside pcall in a loop. */
    s_expect_err(FN("while true do end"), VL_ERR_REFUSED, "out of gas: used ");
    s_expect_err(FN("while true do pcall(function() while true do end end) end"),
                 VL_ERR_REFUSED, "out of gas: used 2000");
    s_expect_err(FN("while true do xpcall(function() while true do end end, "
                    "function(e) return e end) end"),
                 VL_ERR_REFUSED, "out of gas");
    /* Memory bombs. */
    s_expect_err(FN("local s = 'xxxxxxxxxxxxxxxx' while true do s = s .. s end"),
                 VL_ERR_REFUSED, "out of memory");
    s_expect_err(FN("local s = 'xxxxxxxxxxxxxxxx' while true do "
                    "pcall(function() while true do s = s .. s end end) end"),
                 VL_ERR_REFUSED, "out of memory");
    s_expect_err(FN("local t = {} for i = 1, 1e9 do t[i] = {i, i, i} end"), VL_ERR_REFUSED,
                 "out of");
    s_expect_err(FN("local s = '' for i = 1, 1e5 do s = s .. 'x' end return #s"),
                 VL_ERR_REFUSED, "out of gas");
    /* Deep recursion, also behind pcall. */
    s_expect_err(FN("local function f(n) return 1 + f(n + 1) end return f(1)"), VL_ERR_REFUSED,
                 "call stack overflow: more than 200 nested function calls");
    s_expect_err(FN("local function f(n) return 1 + f(n + 1) end "
                    "while true do pcall(f, 1) end"),
                 VL_ERR_REFUSED, "call stack overflow");
    /* Recursion through pcall: stopped by the frame check (or, between two
     * hook firings, by Lua's own C-stack limit, a catchable error at a fixed
     * depth); either way it terminates the same way on every node. */
    s_expect_err(FN("local n = 0 local function f() n = n + 1 pcall(f) end f() return n"),
                 VL_ERR_REFUSED, "call stack overflow");
    /* A callee's abort is not caught by the caller's pcall either. */
    s_deploy("spin", FN("while true do end"));
    s_expect_err(FN("local ok = pcall(vl.call, 'spin', 'f', {}) return {ok}"), VL_ERR_REFUSED,
                 "out of gas");
    s_deploy("hog", FN("local s = 'xxxxxxxxxxxxxxxx' while true do s = s .. s end"));
    s_expect_err(FN("local ok = pcall(vl.call, 'hog', 'f', {}) return {ok}"), VL_ERR_REFUSED,
                 "out of memory");
    /* Gas limit from the request, capped by gas_max. */
    s_deploy("t", FN("while true do end"));
    CHECK_EQ(s_exec_full(s_vm, "t", "f", "{}", 50000, &r), VL_ERR_REFUSED);
    CHECK_CONTAINS(r.error, "of limit 50000");
    CHECK(r.gas_used > 50000 && r.gas_used <= 51000);
    vm_result_clear(&r);
    CHECK_EQ(s_exec_full(s_vm, "t", "f", "{}", UINT64_MAX, &r), VL_ERR_REFUSED);
    CHECK_CONTAINS(r.error, "of limit 20000000");
    vm_result_clear(&r);
    /* The VM keeps working after aborts. */
    s_expect(FN("return 'fine'"), NULL, "\"fine\"");
}

typedef struct {
    char data[16384];
    size_t len;
} s_dump_t;

static int
s_writer(lua_State *L, const void *p, size_t sz, void *ud)
{
    (void) L;
    s_dump_t *d = ud;
    if (d->len + sz > sizeof d->data)
        return 1;
    memcpy(d->data + d->len, p, sz);
    d->len += sz;
    return 0;
}

static void
test_bytecode_refused(void)
{
    fake_free(&s_fs);
    /* Build a real bytecode chunk with luaL_loadstring + lua_dump. */
    lua_State *L = luaL_newstate();
    CHECK_EQ(luaL_loadstring(L, "return { f = function() return 1 end }"), 0);
    static s_dump_t d;
    d.len = 0;
    CHECK_EQ(lua_dump(L, s_writer, &d, 0), 0);
    lua_close(L);
    CHECK(d.len > 4 && d.data[0] == 0x1b);
    /* Store it as the record's source, every byte as a \u00XX escape. */
    static char rec[16384 * 6 + 256];
    size_t n = (size_t) snprintf(rec, sizeof rec, "{\"author\":\"x\",\"name\":\"t\","
                                                  "\"policy\":{},\"source\":\"");
    for (size_t i = 0; i < d.len; i++)
        n += (size_t) snprintf(rec + n, sizeof rec - n, "\\u%04x", (unsigned char) d.data[i]);
    snprintf(rec + n, sizeof rec - n, "\",\"version\":1}");
    fake_put(&s_fs, "contract/t", rec);
    vm_result_t r;
    CHECK_EQ(s_exec("t", "f", "{}", &r), VL_ERR_REFUSED);
    CHECK_CONTAINS(r.error, "attempt to load a binary chunk");
    vm_result_clear(&r);
    /* vl.check_source refuses it too. */
    s_deploy("chk", FN("return {vl.check_source(args.src)}"));
    static char args[16384 * 6 + 64];
    n = (size_t) snprintf(args, sizeof args, "{\"src\":\"");
    for (size_t i = 0; i < d.len; i++)
        n += (size_t) snprintf(args + n, sizeof args - n, "\\u%04x", (unsigned char) d.data[i]);
    snprintf(args + n, sizeof args - n, "\"}");
    CHECK_EQ(s_exec("chk", "f", args, &r), 0);
    CHECK_CONTAINS(r.result_json, "[false,\"attempt to load a binary chunk");
    vm_result_clear(&r);
}

static void
test_codec_refusals(void)
{
    fake_free(&s_fs);
    s_expect_err(FN("vl.put('k', function() end)"), VL_ERR_REFUSED,
                 "vl.put('k'): cannot encode a function value");
    s_expect_err(FN("vl.put('k', {x = 0/0})"), VL_ERR_REFUSED, "cannot encode the float");
    s_expect_err(FN("vl.put('k', 1.5)"), VL_ERR_REFUSED,
                 "cannot encode the float 1.5: use integers (e.g. cents)");
    s_expect_err(FN("vl.put('k', 1/0)"), VL_ERR_REFUSED, "cannot encode the float inf");
    s_expect_err(FN("local t = {} t.self = t vl.put('k', t)"), VL_ERR_REFUSED,
                 "cannot encode a cyclic table");
    s_expect_err(FN("vl.put('k', {1, 2, x = 3})"), VL_ERR_REFUSED, "mixes array items");
    s_expect_err(FN("vl.put('k', {[1] = 1, [3] = 3})"), VL_ERR_REFUSED, "holes");
    s_expect_err(FN("vl.put('k', 'bad \\255 utf8')"), VL_ERR_REFUSED, "not valid UTF-8");
    s_expect_err(FN("vl.put('', 1)"), VL_ERR_REFUSED, "1..512 printable ASCII");
    s_expect_err(FN("vl.put(string.rep('k', 513), 1)"), VL_ERR_REFUSED, "1..512");
    s_expect_err(FN("vl.put('k\\n', 1)"), VL_ERR_REFUSED, "printable ASCII");
    s_expect_err(FN("vl.put('k', nil)"), VL_ERR_REFUSED, "use vl.del");
    s_expect_err(FN("vl.emit('big', {s = string.rep('x', 70000)})"), VL_ERR_REFUSED,
                 "value exceeds 65536 bytes as JSON");
    s_expect_err(FN("return function() end"), VL_ERR_REFUSED, "cannot be encoded");
    s_expect_err(FN("vl.emit('x y', {})"), VL_ERR_REFUSED, "without spaces");
    s_expect_err(FN("vl.emit('x', {1, 2})"), VL_ERR_REFUSED, "must be an object");
    /* Canonical form: sorted keys, escapes as jansson, null in arrays, shapes. */
    s_expect(FN("return {b = 1, a = {z = true, y = false}, c = 'q\"\\\\\\n\\1/\\u{e9}'}"), NULL,
             "{\"a\":{\"y\":false,\"z\":true},\"b\":1,\"c\":\"q\\\"\\\\\\n\\u0001/\xc3\xa9\"}");
    s_expect(FN("return args"), "{\"a\":[1,null,3],\"e\":{},\"l\":[],\"n\":null}",
             "{\"a\":[1,null,3],\"e\":{},\"l\":[],\"n\":null}");
    s_expect(FN("return {args.a[2] == vl.null, vl.object({}), vl.array(vl.object({})), {}, "
                "math.maxinteger, math.mininteger}"),
             "{\"a\":[1,null,3]}",
             "[true,{},[],[],9223372036854775807,-9223372036854775808]");
    s_expect(FN("return nil"), NULL, "null");
    s_expect(FN("return {math.type(args.x), math.type(args.y)}"), "{\"x\":12.5,\"y\":12}",
             "[\"float\",\"integer\"]");
}

static void
test_transfer(void)
{
    fake_free(&s_fs);
    fake_put(&s_fs, "wallet/" ALICE, "1000");
    fake_put(&s_fs, "wallet/" BOB, "9223372036854775000");
    s_expect_err(FN("vl.transfer(vl.creator(), 'did:vl:carol', 5) return 1"), VL_ERR_REFUSED,
                 "vl.transfer: did:vl:carol has no wallet");
    s_expect_err(FN("vl.transfer(vl.creator(), '" BOB "', 12.5)"), VL_ERR_REFUSED,
                 "vl.transfer: amount must be a positive integer number of cents");
    s_expect_err(FN("vl.transfer(vl.creator(), '" BOB "', 0)"), VL_ERR_REFUSED,
                 "positive integer");
    s_expect_err(FN("vl.transfer(vl.creator(), '" BOB "', 1000)"), VL_ERR_REFUSED,
                 "vl.transfer: the balance of " BOB " would overflow");
    s_expect_err(FN("vl.transfer(vl.creator(), '" BOB "', math.maxinteger)"), VL_ERR_REFUSED,
                 "insufficient funds: " ALICE " has 1000 cents, needs 9223372036854775807");
    s_expect_err(FN("vl.transfer('" BOB "', vl.creator(), 1)"), VL_ERR_REFUSED,
                 "vl.transfer: contract 't' may only move funds of the proposal creator");
    fake_put(&s_fs, "wallet/did:vl:carol", "0");
    s_expect(FN("vl.transfer(vl.creator(), 'did:vl:carol', 400) "
                "return {vl.get('wallet/' .. vl.creator()), vl.get('wallet/did:vl:carol')}"),
             NULL, "[600,400]");
    /* Participant contracts cannot write the ledger's own documents. */
    s_expect_err(FN("vl.put('wallet/' .. vl.creator(), 1000000)"), VL_ERR_REFUSED,
                 "vl.put: contract 't' may not write 'wallet/" ALICE "': keys under wallet/ "
                 "are written only by system contracts");
    s_expect_err(FN("vl.put('contract/identity', {source = 'return {}'})"), VL_ERR_REFUSED,
                 "keys under contract/ are written only by system contracts");
    s_expect_err(FN("vl.del('did/x')"), VL_ERR_REFUSED, "vl.del: contract 't' may not write");
    /* ... nor the money supply, an organisation, or the standard contracts' records. */
    const char *reserved[] = { "money/supply", "org/bank", "title_request/V", "service_request/V/1",
                               "rule/insurance", "sale/V/1", "schedule/1/x", "vehicle/V" };
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++) {
        char src[256], msg[256];
        snprintf(src, sizeof src, FN("vl.put('%s', {issued = 1})"), reserved[i]);
        snprintf(msg, sizeof msg, "vl.put: contract 't' may not write '%s': keys under %.*s "
                 "are written only by system contracts", reserved[i],
                 (int) (strchr(reserved[i], '/') - reserved[i] + 1), reserved[i]);
        s_expect_err(src, VL_ERR_REFUSED, msg);
    }
    s_expect(FN("vl.put('moneyx/supply', 1) vl.put('organisation/x', 1) return 1"), NULL, "1");
    /* A system contract (author "genesis") may move anyone's funds. */
    fake_contract(&s_fs, "sys", FN("vl.transfer('" BOB "', 'did:vl:carol', 7) "
                                   "return vl.get('wallet/did:vl:carol')"), "genesis");
    vm_result_t r;
    CHECK_EQ(s_exec("sys", "f", "{}", &r), 0);
    CHECK_STR(r.result_json, "7");
    vm_result_clear(&r);
}

static void
test_pcall_rollback_and_context(void)
{
    fake_free(&s_fs);
    s_expect(FN("local ok, e = pcall(function() vl.put('a', 1) vl.emit('e', {}) error('no') end) "
                "local ok2, e2 = pcall(error, {code = 1}) "
                "return {ok, e, vl.get('a') == nil, ok2, type(e2)}"),
             NULL, "[false,\"no\",true,false,\"table\"]");
    s_expect(FN("local ok, v = xpcall(function(x) return x * 2 end, function(e) return e end, 21)"
                " local ok2, v2 = xpcall(function() error('boom') end, "
                "function(e) return 'handled ' .. e end) return {ok, v, ok2, v2}"),
             NULL, "[true,42,false,\"handled boom\"]");
    s_expect(FN("return {vl.caller(), vl.creator(), vl.txid(), vl.now()}"), NULL,
             "[\"" ALICE "\",\"" ALICE "\","
             "\"abcd0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e\",1234]");
    s_expect_err(FN("vl.require(false, 'plain message')"), VL_ERR_REFUSED, "plain message");
    s_expect_err(FN("error('exactly this')"), VL_ERR_REFUSED, "exactly this");
    vm_result_t r;
    s_deploy("t", FN("error('exactly this')"));
    CHECK_EQ(s_exec("t", "f", "{}", &r), VL_ERR_REFUSED);
    CHECK_STR(r.error, "exactly this");
    vm_result_clear(&r);
    s_deploy("t", FN("local x = nil return x.y"));
    CHECK_EQ(s_exec("t", "f", "{}", &r), VL_ERR_REFUSED);
    CHECK_STR(r.error, "t:1: attempt to index a nil value (local 'x')");
    vm_result_clear(&r);
    /* A state I/O failure is VL_ERR_IO, not a refusal. */
    s_deploy("t", FN("return vl.get('x')"));
    s_fs.fail_get = 1;
    CHECK_EQ(s_exec("t", "f", "{}", &r), VL_ERR_IO);
    vm_result_clear(&r);
    s_fs.fail_get = 0;
}

/* --- determinism ---------------------------------------------------------------------- */

static const char *s_det_src =
    "return { f = function(a) "
    "local t = {} for i = 1, 500 do t['key' .. i] = i end "
    "local ks = {} for k, v in pairs(t) do ks[#ks + 1] = k end "
    "local s = string.rep('abcdefghij', 100) .. vl.txid() "
    "vl.put('det/keys', ks) vl.put('det/s', s) vl.emit('det', {n = #ks, first = ks[1]}) "
    "local r = vl.range('det/') "
    "return {first = ks[1], last = ks[#ks], s = #s, ts = tostring({}), n = #r, a = a} end }";

static void
s_det_run(vm_t *vm, vm_result_t *r)
{
    CHECK_EQ(s_exec_full(vm, "det", "f", "{\"x\":[1,2,{\"y\":null}]}", 0, r), 0);
}

static void
test_determinism(void)
{
    fake_free(&s_fs);
    fake_put(&s_fs, "det/old", "\"o\"");
    s_deploy("det", s_det_src);
    vm_config_t fresh = vm_config_default();
    fresh.fresh_state = 1;
    vm_t *a = vm_new(NULL), *b = vm_new(NULL), *f = vm_new(&fresh);
    vm_result_t ra, rb, rf, ra2;
    s_det_run(a, &ra);
    s_det_run(b, &rb);
    s_det_run(f, &rf);
    /* Run other contracts in a's reused state in between, then again. */
    s_deploy("noise", FN("local t = {} for i = 1, 1000 do t[tostring(i)] = {i} end return 1"));
    vm_result_t rn;
    CHECK_EQ(s_exec_full(a, "noise", "f", "{}", 0, &rn), 0);
    vm_result_clear(&rn);
    s_det_run(a, &ra2);
    CHECK(ra.endorsed_len > 0);
    CHECK_EQ(ra.endorsed_len, rb.endorsed_len);
    CHECK_EQ(ra.endorsed_len, rf.endorsed_len);
    CHECK_EQ(ra.endorsed_len, ra2.endorsed_len);
    if (ra.endorsed_len == rb.endorsed_len && ra.endorsed_len == rf.endorsed_len &&
        ra.endorsed_len == ra2.endorsed_len) {
        CHECK_EQ(memcmp(ra.endorsed, rb.endorsed, ra.endorsed_len), 0);
        CHECK_EQ(memcmp(ra.endorsed, rf.endorsed, ra.endorsed_len), 0);
        CHECK_EQ(memcmp(ra.endorsed, ra2.endorsed, ra.endorsed_len), 0);
    }
    CHECK_EQ(ra.gas_used, rf.gas_used);
    CHECK_EQ(ra.gas_used, ra2.gas_used);
    CHECK_STR(ra.result_json, "{\"a\":{\"x\":[1,2,{\"y\":null}]},\"first\":\"key1\","
                              "\"last\":\"key99\",\"n\":3,\"s\":1064,\"ts\":\"table\"}");
    vm_result_clear(&ra);
    vm_result_clear(&rb);
    vm_result_clear(&rf);
    vm_result_clear(&ra2);
    /* Out-of-gas is deterministic too, in both modes. */
    s_deploy("loop", FN("local s = '' while true do s = s .. 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH' "
                        "if #s > 5000 then s = '' end end"));
    CHECK_EQ(s_exec_full(a, "loop", "f", "{}", 300000, &ra), VL_ERR_REFUSED);
    CHECK_EQ(s_exec_full(f, "loop", "f", "{}", 300000, &rf), VL_ERR_REFUSED);
    CHECK_EQ(s_exec_full(a, "loop", "f", "{}", 300000, &ra2), VL_ERR_REFUSED);
    CHECK_STR(ra.error, rf.error);
    CHECK_STR(ra.error, ra2.error);
    CHECK_EQ(ra.gas_used, rf.gas_used);
    vm_result_clear(&ra);
    vm_result_clear(&rf);
    vm_result_clear(&ra2);
    vm_destroy(&a);
    vm_destroy(&b);
    vm_destroy(&f);
    CHECK(a == NULL);
    vm_destroy(NULL);
}

/* --- vl.check_policy ------------------------------------------------------------------ */

static char s_policy_seen[256];
static int s_policy_calls;

/* A stand-in for the node's policy parser: refuses any text holding
 * "bogus" with a parser-like message, "silent" with no message. */
static int
s_policy_check(const char *text, char *msg, size_t size)
{
    s_policy_calls++;
    snprintf(s_policy_seen, sizeof s_policy_seen, "%s", text);
    const char *bad = strstr(text, "bogus");
    if (bad) {
        snprintf(msg, size, "policy: unknown principal 'bogus' at %d", (int) (bad - text) + 1);
        return VL_ERR_INVALID;
    }
    if (strstr(text, "silent"))
        return VL_ERR_INVALID;
    return 0;
}

static void
s_expect_on(vm_t *vm, const char *args, const char *result)
{
    vm_result_t r;
    int rc = s_exec_full(vm, "t", "f", args, 0, &r);
    if (rc)
        fprintf(stderr, "  args: %s\n  error: %s\n", args, r.error);
    CHECK_EQ(rc, 0);
    CHECK_STR(r.result_json, result);
    vm_result_clear(&r);
}

static void
test_check_policy(void)
{
    fake_free(&s_fs);
    /* Without a checker: false and the reason, never true. */
    s_expect(FN("return {vl.check_policy('creator')}"), NULL,
             "[false,\"policy checks are not available\"]");
    s_expect_err(FN("return vl.check_policy(5)"), VL_ERR_REFUSED,
                 "vl.check_policy: the policy must be a string, got number");
    s_expect_err(FN("return vl.check_policy()"), VL_ERR_REFUSED,
                 "vl.check_policy: the policy must be a string, got no value");
    for (int fresh = 0; fresh <= 1; fresh++) {
        vm_config_t cfg = vm_config_default();
        CHECK(cfg.policy_check == NULL);
        cfg.policy_check = s_policy_check;
        cfg.fresh_state = fresh;
        vm_t *vm = vm_new(&cfg);
        s_deploy("t", FN("return {vl.check_policy(args.p)}"));
        s_policy_calls = 0;
        s_expect_on(vm, "{\"p\":\"all(creator,role:lender)\"}", "[true]");
        CHECK_STR(s_policy_seen, "all(creator,role:lender)");
        s_expect_on(vm, "{\"p\":\"any(owner,bogus)\"}",
                    "[false,\"policy: unknown principal 'bogus' at 11\"]");
        s_expect_on(vm, "{\"p\":\"silent\"}", "[false,\"the policy does not parse\"]");
        CHECK_EQ(s_policy_calls, 3);
        s_expect_on(vm, "{\"p\":\"owner\\u0000bogus\"}",
                    "[false,\"a policy may not contain a NUL byte\"]");
        CHECK_EQ(s_policy_calls, 3);  /* refused before the checker */
        /* It costs gas, per byte too. */
        vm_result_t a, b;
        CHECK_EQ(s_exec_full(vm, "t", "f", "{\"p\":\"owner\"}", 0, &a), 0);
        CHECK_EQ(s_exec_full(vm, "t", "f", "{\"p\":\"all(owner,owner,owner,owner)\"}", 0, &b),
                 0);
        CHECK(b.gas_used > a.gas_used);
        vm_result_clear(&a);
        vm_result_clear(&b);
        vm_destroy(&vm);
    }
}

static void
test_misc_api(void)
{
    CHECK_CONTAINS(vm_version(), "lua-5.4");
    vm_config_t c = vm_config_default();
    CHECK_EQ(c.gas_default, 2000000);
    CHECK_EQ(c.gas_max, 20000000);
    CHECK_EQ(c.memory_max_bytes, 16 * 1024 * 1024);
    vm_result_t r;
    CHECK_EQ(vm_execute(s_vm, NULL, NULL, &r), VL_ERR_INVALID);
    vm_result_clear(&r);
    vm_result_clear(NULL);
}

static void
s_all(void)
{
    RUN(test_rwset_versions_and_order);
    RUN(test_read_your_writes);
    RUN(test_range_and_phantoms);
    RUN(test_call_chain);
    RUN(test_call_failure);
    RUN(test_sandbox_allow_list);
    RUN(test_sandbox_tostring_pairs_sort);
    RUN(test_bad_contracts);
    RUN(test_bytecode_refused);
    RUN(test_codec_refusals);
    RUN(test_transfer);
    RUN(test_pcall_rollback_and_context);
}

/* The determinism workload's endorsed bytes as hex, in a fresh vm_t. */
static char *
s_det_hex(int fresh)
{
    fake_free(&s_fs);
    fake_put(&s_fs, "det/old", "\"o\"");
    s_deploy("det", s_det_src);
    vm_config_t cfg = vm_config_default();
    cfg.fresh_state = fresh;
    vm_t *vm = vm_new(&cfg);
    vm_result_t r;
    s_det_run(vm, &r);
    char *hex = malloc(2 * r.endorsed_len + 1);
    vl_hex_encode(r.endorsed, r.endorsed_len, hex);
    vm_result_clear(&r);
    vm_destroy(&vm);
    return hex;
}

/* Byte-identical results across processes: Lua 5.4 seeds its string hash
 * per state from time and addresses (ASLR differs per exec), so only the
 * sandbox's sorted pairs and canonical encoding make these agree. */
static void
test_determinism_processes(void)
{
    char *here = s_det_hex(0);
    for (int fresh = 0; fresh <= 1; fresh++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "/proc/%d/exe --det-child %d", (int) getpid(), fresh);
        FILE *p = popen(cmd, "r");
        CHECK(p != NULL);
        if (!p)
            continue;
        size_t cap = strlen(here) + 16, n = 0;
        char *there = calloc(1, cap);
        int c;
        while ((c = fgetc(p)) != EOF && c != '\n' && n + 1 < cap)
            there[n++] = (char) c;
        CHECK_EQ(pclose(p), 0);
        CHECK(strlen(here) > 100);
        CHECK_STR(there, here);
        free(there);
    }
    free(here);
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--det-child") == 0) {
        char *hex = s_det_hex(atoi(argv[2]));
        printf("%s\n", hex);
        free(hex);
        fake_free(&s_fs);
        return 0;
    }
    s_vm = vm_new(NULL);
    s_all();
    RUN(test_determinism);
    RUN(test_determinism_processes);
    RUN(test_misc_api);
    RUN(test_check_policy);
    vm_destroy(&s_vm);
    /* Everything again with a fresh lua_State per execution. */
    vm_config_t cfg = vm_config_default();
    cfg.fresh_state = 1;
    s_vm = vm_new(&cfg);
    check_variant("fresh_state");
    s_all();
    check_variant(NULL);
    vm_destroy(&s_vm);
    fake_free(&s_fs);
    return check_done();
}
