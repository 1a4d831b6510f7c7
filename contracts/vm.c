/*
 * vm.c — the contract VM's lifecycle and one execution (vm.h).
 *
 * A vm_t owns one lua_State (built lazily) and one execution context. An
 * execution:
 *   1. checks the request (names, args shape) -> VL_ERR_INVALID;
 *   2. gets a ready state: a new one in fresh-state mode, after an abort,
 *      or every VM_STATE_REUSE_MAX executions; otherwise the reused one;
 *   3. arms the count hook, resets the overlay, caps memory at the live
 *      bytes now + memory_max_bytes, and runs s_run under lua_pcall:
 *      decode args, vm_invoke (load `contract/<name>` through the overlay,
 *      so the record is in the read set; compile as a text chunk or take
 *      the cached compile; activate with a new _ENV; call t[FN](args)),
 *      encode the result;
 *   4. packs the EndorsedResult (reads, ranges, writes sorted; events in
 *      order) or reports the error, and always the gas used.
 *
 * State diagram of vm->L:
 *   NULL --s_state_open--> READY --vm_execute--> READY
 *   READY --(abort | fresh_state | reuse limit)--> s_state_close --> NULL
 *
 * Invariants:
 *   1. vm->exec and vm->mem.exec are non-NULL exactly while s_run runs;
 *      between executions nothing is metered and the hook is off.
 *   2. The chunk cache maps a contract name to the exact record bytes it
 *      was compiled from, so an upgraded record is never served stale; it
 *      belongs to the current lua_State and dies with it.
 *   3. Everything charged is identical whether the compile came from the
 *      cache or not (the compiler runs unmetered and loading is charged
 *      per source byte), so both state modes give the same gas_used.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "vledger.pb-c.h"
#include "vm_internal.h"

#define S_CACHE_SLOTS 64
#define S_VM_VERSION "lua-" LUA_VERSION_MAJOR "." LUA_VERSION_MINOR "." LUA_VERSION_RELEASE "/vl-3"

#if LUA_VERSION_NUM != 504
#error "vledger contracts need Lua 5.4"
#endif

typedef struct {
    char *name;           /* owned; NULL = empty slot */
    char *record;         /* owned: the record bytes compiled from */
    size_t record_len;
    size_t source_len;
    bool system;
    int ref;              /* registry ref of the compiled main chunk */
} s_cache_t;

struct vm_impl_t {
    struct vm_t base;
    vm_exec_t ex;
    s_cache_t cache[S_CACHE_SLOTS];
};

const char *
vm_version(void)
{
    return S_VM_VERSION;
}

vm_config_t
vm_config_default(void)
{
    return (vm_config_t) { .gas_default = 2000000, .gas_max = 20000000,
                           .memory_max_bytes = 16u * 1024 * 1024, .fresh_state = 0 };
}

static struct vm_impl_t *
s_impl(vm_t *vm)
{
    return (struct vm_impl_t *) vm;
}

/* --- lua_State lifecycle ------------------------------------------------------ */

static void
s_cache_clear(vm_t *vm)
{
    for (int i = 0; i < S_CACHE_SLOTS; i++) {
        s_cache_t *c = &s_impl(vm)->cache[i];
        free(c->name);
        free(c->record);
        memset(c, 0, sizeof *c);
    }
}

static void
s_state_close(vm_t *vm)
{
    if (vm->L) {
        vm->mem.metering = false;
        vm->mem.exec = NULL;
        lua_sethook(vm->L, NULL, 0, 0);
        lua_gc(vm->L, LUA_GCCOLLECT);  /* CVE-2024-46981: collect before close */
        lua_close(vm->L);
        vm->L = NULL;
    }
    s_cache_clear(vm);
}

static int
s_open_protected(lua_State *L)
{
    codec_open(L);
    sandbox_open(L);
    return 0;
}

static int
s_state_open(vm_t *vm)
{
    memset(&vm->mem, 0, sizeof vm->mem);
    vm->mem.limit = SIZE_MAX;
    lua_State *L = lua_newstate(meter_alloc, &vm->mem);
    if (!L)
        return VL_ERR_NOMEM;
    *(vm_t **) lua_getextraspace(L) = vm;
    lua_pushcfunction(L, s_open_protected);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        lua_close(L);
        return VL_ERR_NOMEM;
    }
    vm->L = L;
    vm->executions = 0;
    vm->renew = false;
    return 0;
}

vm_t *
vm_new(const vm_config_t *config)
{
    struct vm_impl_t *impl = calloc(1, sizeof *impl);
    if (!impl)
        return NULL;
    vm_t *vm = &impl->base;
    vm_config_t def = vm_config_default();
    vm->config = config ? *config : def;
    if (!vm->config.gas_max)
        vm->config.gas_max = def.gas_max;
    if (!vm->config.gas_default)
        vm->config.gas_default = def.gas_default;
    if (!vm->config.memory_max_bytes)
        vm->config.memory_max_bytes = def.memory_max_bytes;
    impl->ex.vm = vm;
    rwset_init(&impl->ex.rw);
    return vm;
}

void
vm_destroy(vm_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vm_t *vm = *self_p;
    struct vm_impl_t *impl = s_impl(vm);
    s_state_close(vm);
    rwset_destroy(&impl->ex.rw);
    vl_buf_free(&impl->ex.scratch);
    free(impl->ex.codec_keys);
    host_range_tmp_free(&impl->ex);
    free(impl);
    *self_p = NULL;
}

/* --- loading and invoking contracts ---------------------------------------------- */

static unsigned
s_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 16777619u;
    return h;
}

static void
s_chain(vm_exec_t *ex, const char *next, char *out, size_t size)
{
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < ex->depth && n < size; i++)
        n += (size_t) snprintf(out + n, size - n, "%s -> ", ex->frames[i].name);
    if (n < size)
        snprintf(out + n, size - n, "%s", next);
}

/* Pushes the compiled main chunk of contract `name` (cached or compiled
 * from the record bytes) and returns its cache slot. Raises on failure. */
static s_cache_t *
s_load(lua_State *L, vm_exec_t *ex, const char *name, const char *rec, size_t rlen)
{
    vm_t *vm = ex->vm;
    s_cache_t *c = &s_impl(vm)->cache[s_hash(name) % S_CACHE_SLOTS];
    if (c->name && strcmp(c->name, name) == 0 && c->record_len == rlen &&
        memcmp(c->record, rec, rlen) == 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
        return c;
    }
    /* Parse the record; keep only what we need before anything can raise. */
    json_error_t jerr;
    json_t *j = json_loadb(rec, rlen, JSON_ALLOW_NUL, &jerr);
    const char *src = j ? json_string_value(json_object_get(j, "source")) : NULL;
    const char *author = j ? json_string_value(json_object_get(j, "author")) : NULL;
    if (!src) {
        json_decref(j);
        luaL_error(L, "contract '%s' has a malformed record (no source)", name);
    }
    size_t slen = json_string_length(json_object_get(j, "source"));
    bool system = author && strcmp(author, "genesis") == 0;
    char chunkname[VM_NAME_MAX + 2];
    snprintf(chunkname, sizeof chunkname, "=%s", name);
    /* The compiler runs unmetered (invariant 3); the source is bounded by
     * VL_VALUE_MAX. Compile errors are returned, not raised. */
    bool metering = vm->mem.metering;
    vm->mem.metering = false;
    int st = luaL_loadbufferx(L, src, slen, chunkname, "t");
    vm->mem.metering = metering;
    json_decref(j);
    if (st != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        luaL_error(L, "contract '%s' does not compile: %s", name, msg ? msg : "?");
    }
    char *name_copy = strdup(name), *rec_copy = malloc(rlen + 1);
    if (!name_copy || !rec_copy) {
        free(name_copy);
        free(rec_copy);
        meter_abort(ex, VM_ABORT_HOST, "host error: out of memory");
        meter_raise(L);
    }
    memcpy(rec_copy, rec, rlen);
    rec_copy[rlen] = 0;
    if (c->name)
        luaL_unref(L, LUA_REGISTRYINDEX, c->ref);
    free(c->name);
    free(c->record);
    lua_pushvalue(L, -1);
    *c = (s_cache_t) { .name = name_copy, .record = rec_copy, .record_len = rlen,
                       .source_len = slen, .system = system,
                       .ref = luaL_ref(L, LUA_REGISTRYINDEX) };
    return c;
}

void
vm_invoke(lua_State *L, const char *name, const char *fn)
{
    vm_exec_t *ex = vm_exec_of(L);
    int top_level = ex->depth == 0;
    char chain[200];
    if (ex->depth >= VM_CALL_DEPTH_MAX) {
        s_chain(ex, name, chain, sizeof chain);
        meter_abort(ex, VM_ABORT_DEPTH, "call depth limit of %d exceeded: %s",
                    VM_CALL_DEPTH_MAX, chain);
        meter_raise(L);
    }
    for (int i = 0; i < ex->depth; i++)
        if (strcmp(ex->frames[i].name, name) == 0) {
            s_chain(ex, name, chain, sizeof chain);
            meter_abort(ex, VM_ABORT_DEPTH, "reentrant call refused: %s", chain);
            meter_raise(L);
        }
    meter_charge(L, GAS_LOAD);
    char key[VM_NAME_MAX + 16];
    int klen = snprintf(key, sizeof key, "contract/%s", name);
    const char *rec;
    size_t rlen;
    int rc = vm_overlay_get(ex, key, (size_t) klen, &rec, &rlen);
    if (rc) {
        meter_abort(ex, VM_ABORT_HOST, "host error: state read of '%s' failed", key);
        meter_raise(L);
    }
    if (!rec) {
        if (top_level)
            ex->status = VL_ERR_NOT_FOUND;
        luaL_error(L, "no contract '%s' is deployed", name);
    }
    s_cache_t *c = s_load(L, ex, name, rec, rlen);  /* pushes main */
    meter_charge(L, c->source_len * GAS_LOAD_BYTE);
    vm_frame_t *f = &ex->frames[ex->depth++];
    snprintf(f->name, sizeof f->name, "%s", name);
    f->system = c->system;
    /* Activate: a new _ENV, then run the chunk for its table of functions. */
    sandbox_push_env(L);
    lua_setupvalue(L, -2, 1);
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1))
        luaL_error(L, "contract '%s' did not return a table of functions", name);
    lua_pushlstring(L, fn, strlen(fn));
    lua_rawget(L, -2);
    if (!lua_isfunction(L, -1)) {
        if (top_level)
            ex->status = VL_ERR_NOT_FOUND;
        luaL_error(L, "contract '%s' has no function '%s'", name, fn);
    }
    /* Stack: args, module, function -> function, args */
    lua_remove(L, -2);
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    ex->depth--;
}

/* Exactly once (docs/reactors.md): a proposal whose args carry
 * `cause` ("<txid>:<event index>", the event it follows up) records
 * cause/<cause>/<creator> in its own write set, having read that key's
 * absence, so a second follow-up of one cause by one participant is
 * refused here and two endorsed at once meet in MVCC. Only the VM writes
 * these keys (host.c reserves the prefix). The args table is on top. */
static void
s_record_cause(lua_State *L, vm_exec_t *ex)
{
    lua_getfield(L, -1, "cause");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    size_t clen = 0;
    const char *cause = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &clen) : NULL;
    bool ok = cause && clen > 0 && clen <= VM_CAUSE_MAX;
    for (size_t i = 0; ok && i < clen; i++)
        ok = (cause[i] >= '0' && cause[i] <= '9') || (cause[i] >= 'a' && cause[i] <= 'f')
             || cause[i] == ':';
    if (!ok) {
        ex->status = VL_ERR_INVALID;
        luaL_error(L, "args.cause must be \"<txid>:<event index>\" (hex digits and ':', at "
                      "most %d characters)", (int) VM_CAUSE_MAX);
    }
    char key[VM_CAUSE_MAX + 300];
    int klen = snprintf(key, sizeof key, "cause/%s/%s", cause, ex->req->caller_did);
    const char *prev = NULL;
    size_t prev_len = 0;
    if (vm_overlay_get(ex, key, (size_t) klen, &prev, &prev_len) != 0) {
        meter_abort(ex, VM_ABORT_HOST, "host error: %s", "state read failed");
        meter_raise(L);
    }
    if (prev) {
        /* lua_pushfstring knows no precision: format here. */
        char msg[VM_CAUSE_MAX + 600];
        snprintf(msg, sizeof msg, "cause %s already recorded for %s: this follow-up was made "
                 "already (%.*s)", cause, ex->req->caller_did,
                 (int) (prev_len > 200 ? 200 : prev_len), prev);
        ex->status = VL_ERR_EXISTS;
        luaL_error(L, "%s", msg);
    }
    char value[200];
    int vlen = snprintf(value, sizeof value, "{\"contract\":\"%s\",\"txid\":\"%s\"}",
                        ex->req->contract, ex->txid_hex);
    if (rwset_put(&ex->rw, key, (size_t) klen, value, (size_t) vlen) != 0) {
        meter_abort(ex, VM_ABORT_HOST, "host error: %s", "out of memory");
        meter_raise(L);
    }
    lua_pop(L, 1);
}

static int
s_run(lua_State *L)
{
    vm_exec_t *ex = vm_exec_of(L);
    const vm_request_t *req = ex->req;
    meter_charge(L, GAS_BASE);
    char err[200];
    const char *args = req->args_json ? req->args_json : "{}";
    size_t alen = strlen(args);
    meter_charge(L, alen * GAS_CALL_BYTE);
    if (codec_push_text(L, args, alen, err, sizeof err) != 0) {
        ex->status = VL_ERR_INVALID;
        luaL_error(L, "args: %s", err);
    }
    s_record_cause(L, ex);
    vm_invoke(L, req->contract, req->function);
    if (codec_encode(L, -1, &ex->scratch, VM_RESULT_MAX, false, err, sizeof err) != 0)
        luaL_error(L, "contract '%s' function '%s' returned a value that cannot be encoded: %s",
                   req->contract, req->function, err);
    return 0;
}

/* --- results -------------------------------------------------------------------------- */

static int
s_pack(vm_exec_t *ex, vm_result_t *out)
{
    const rwset_t *rw = &ex->rw;
    int rc = VL_ERR_NOMEM;
    size_t n_items = 0;
    for (size_t i = 0; i < rw->n_ranges; i++)
        n_items += rw->ranges[i].n_items;
    Vl__ReadItem *reads = calloc(rw->n_reads + 1, sizeof *reads);
    Vl__ReadItem **readp = calloc(rw->n_reads + 1, sizeof *readp);
    Vl__RangeRead *ranges = calloc(rw->n_ranges + 1, sizeof *ranges);
    Vl__RangeRead **rangep = calloc(rw->n_ranges + 1, sizeof *rangep);
    Vl__ReadItem *items = calloc(n_items + 1, sizeof *items);
    Vl__ReadItem **itemp = calloc(n_items + 1, sizeof *itemp);
    Vl__WriteItem *writes = calloc(rw->n_writes + 1, sizeof *writes);
    Vl__WriteItem **writep = calloc(rw->n_writes + 1, sizeof *writep);
    Vl__Event *events = calloc(rw->n_events + 1, sizeof *events);
    Vl__Event **eventp = calloc(rw->n_events + 1, sizeof *eventp);
    char *result_json = strdup(ex->scratch.data ? ex->scratch.data : "null");
    uint8_t *buf = NULL;
    if (!reads || !readp || !ranges || !rangep || !items || !itemp || !writes || !writep ||
        !events || !eventp || !result_json)
        goto done;

    Vl__EndorsedResult er = VL__ENDORSED_RESULT__INIT;
    er.txid.data = (uint8_t *) ex->req->txid;
    er.txid.len = 32;
    for (size_t i = 0; i < rw->n_reads; i++) {
        vl__read_item__init(&reads[i]);
        reads[i].key = rw->reads[i].key;
        reads[i].exists = rw->reads[i].exists;
        reads[i].block = rw->reads[i].version.block;
        reads[i].tx = rw->reads[i].version.tx;
        readp[i] = &reads[i];
    }
    er.n_reads = rw->n_reads;
    er.reads = readp;
    size_t k = 0;
    for (size_t i = 0; i < rw->n_ranges; i++) {
        vl__range_read__init(&ranges[i]);
        ranges[i].prefix = rw->ranges[i].prefix;
        ranges[i].items = &itemp[k];
        ranges[i].n_items = rw->ranges[i].n_items;
        for (size_t j = 0; j < rw->ranges[i].n_items; j++, k++) {
            vl__read_item__init(&items[k]);
            items[k].key = rw->ranges[i].items[j].key;
            items[k].exists = 1;
            items[k].block = rw->ranges[i].items[j].version.block;
            items[k].tx = rw->ranges[i].items[j].version.tx;
            itemp[k] = &items[k];
        }
        rangep[i] = &ranges[i];
    }
    er.n_ranges = rw->n_ranges;
    er.ranges = rangep;
    for (size_t i = 0; i < rw->n_writes; i++) {
        vl__write_item__init(&writes[i]);
        writes[i].key = rw->writes[i].key;
        writes[i].is_delete = rw->writes[i].is_delete;
        writes[i].value.data = (uint8_t *) rw->writes[i].value;
        writes[i].value.len = rw->writes[i].is_delete ? 0 : rw->writes[i].value_len;
        writep[i] = &writes[i];
    }
    er.n_writes = rw->n_writes;
    er.writes = writep;
    for (size_t i = 0; i < rw->n_events; i++) {
        vl__event__init(&events[i]);
        events[i].name = rw->events[i].name;
        events[i].payload_json = rw->events[i].payload;
        eventp[i] = &events[i];
    }
    er.n_events = rw->n_events;
    er.events = eventp;
    er.result_json = result_json;
    er.gas_used = ex->gas_used;
    er.vm_version = (char *) S_VM_VERSION;
    size_t len = vl__endorsed_result__get_packed_size(&er);
    buf = malloc(len ? len : 1);
    if (!buf)
        goto done;
    vl__endorsed_result__pack(&er, buf);
    out->endorsed = buf;
    out->endorsed_len = len;
    out->result_json = result_json;
    result_json = NULL;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    free(result_json);
    free(eventp);
    free(events);
    free(writep);
    free(writes);
    free(itemp);
    free(items);
    free(rangep);
    free(ranges);
    free(readp);
    free(reads);
    return rc;
}

static bool
s_fn_name_valid(const char *fn)
{
    size_t n = strlen(fn);
    if (n < 1 || n > VM_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = fn[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

static int
s_fail(vm_result_t *out, int status, const char *fmt, const char *a)
{
    out->status = status;
    snprintf(out->error, sizeof out->error, fmt, a);
    return status;
}

int
vm_execute(vm_t *vm, const vm_state_t *state, const vm_request_t *req, vm_result_t *out)
{
    memset(out, 0, sizeof *out);
    if (!vm || !state || !state->get || !req)
        return s_fail(out, VL_ERR_INVALID, "%s", "missing VM, state or request");
    if (!req->contract || !vm_contract_name_valid(req->contract, strlen(req->contract)))
        return s_fail(out, VL_ERR_INVALID, "invalid contract name '%s'",
                      req->contract ? req->contract : "");
    if (!req->function || !s_fn_name_valid(req->function))
        return s_fail(out, VL_ERR_INVALID, "invalid function name '%s'",
                      req->function ? req->function : "");
    if (!req->caller_did || !req->caller_did[0] || strlen(req->caller_did) > 256)
        return s_fail(out, VL_ERR_INVALID, "%s", "missing or oversize caller DID");
    if (!req->txid)
        return s_fail(out, VL_ERR_INVALID, "%s", "missing txid");
    if (req->args_json) {
        const char *a = req->args_json;
        while (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r')
            a++;
        if (*a != '{')
            return s_fail(out, VL_ERR_INVALID, "%s", "args must be a JSON object");
        if (strlen(req->args_json) > VL_TX_MAX)
            return s_fail(out, VL_ERR_INVALID, "%s", "args too large");
    }

    if (vm->L && (vm->renew || vm->config.fresh_state ||
                  vm->executions >= VM_STATE_REUSE_MAX))
        s_state_close(vm);
    if (!vm->L && s_state_open(vm))
        return s_fail(out, VL_ERR_NOMEM, "%s", "could not create a Lua interpreter");
    lua_State *L = vm->L;

    vm_exec_t *ex = &s_impl(vm)->ex;
    rwset_clear(&ex->rw);
    host_range_tmp_free(ex);
    ex->state = state;
    ex->req = req;
    ex->gas_used = 0;
    uint64_t limit = req->gas_limit ? req->gas_limit : vm->config.gas_default;
    ex->gas_limit = limit < vm->config.gas_max ? limit : vm->config.gas_max;
    ex->abort = VM_ABORT_NONE;
    ex->abort_msg[0] = 0;
    ex->status = 0;
    ex->depth = 0;
    ex->scratch.len = 0;
    if (ex->scratch.data)
        ex->scratch.data[0] = 0;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        ex->txid_hex[2 * i] = hex[req->txid[i] >> 4];
        ex->txid_hex[2 * i + 1] = hex[req->txid[i] & 15];
    }
    ex->txid_hex[64] = 0;

    vm->exec = ex;
    vm->mem.exec = ex;
    vm->mem.limit = vm->mem.live + vm->config.memory_max_bytes;
    vm->mem.metering = true;
    meter_arm(L);
    lua_settop(L, 0);
    lua_pushcfunction(L, s_run);
    int st = lua_pcall(L, 0, 0, 0);
    vm->mem.metering = false;
    lua_sethook(L, NULL, 0, 0);

    out->gas_used = ex->gas_used;
    if (st == LUA_OK) {
        if (s_pack(ex, out) != 0) {
            out->status = VL_ERR_NOMEM;
            snprintf(out->error, sizeof out->error, "out of memory packing the result");
        }
    } else {
        if (ex->abort != VM_ABORT_NONE) {
            out->status = ex->abort == VM_ABORT_HOST ? VL_ERR_IO : VL_ERR_REFUSED;
            snprintf(out->error, sizeof out->error, "%s", ex->abort_msg);
            vm->renew = true;
        } else {
            out->status = ex->status ? ex->status : VL_ERR_REFUSED;
            int t = lua_type(L, -1);
            if (t == LUA_TSTRING || t == LUA_TNUMBER)
                snprintf(out->error, sizeof out->error, "%s", lua_tostring(L, -1));
            else if (t == LUA_TNIL)
                snprintf(out->error, sizeof out->error, "contract raised an error without a "
                                                        "message");
            else
                snprintf(out->error, sizeof out->error,
                         "contract raised a non-string error (%s)", lua_typename(L, t));
        }
    }
    lua_settop(L, 0);
    vm->exec = NULL;
    vm->mem.exec = NULL;
    rwset_clear(&ex->rw);
    host_range_tmp_free(ex);
    ex->state = NULL;
    ex->req = NULL;
    vm->executions++;
    if (vm->config.fresh_state)
        s_state_close(vm);
    return out->status;
}

void
vm_result_clear(vm_result_t *result)
{
    if (!result)
        return;
    free(result->endorsed);
    free(result->result_json);
    memset(result, 0, sizeof *result);
}
