/*
 * host.c — the `vl` module: the only way a contract touches the world
 * (DESIGN §4). Every function charges gas before doing work, checks its
 * arguments, and goes through the transaction overlay (rwset.c), never to
 * committed state directly, so reads see this transaction's own writes and
 * everything read from committed state lands in the read set.
 *
 *   vl.get(key)              decoded JSON value or nil
 *   vl.put(key, value)       value: JSON-able (see codec.c)
 *   vl.del(key)
 *   vl.range(prefix)         {{key=, value=}, ...} sorted by key, merged with
 *                            this tx's writes; recorded for phantom checks
 *   vl.emit(name, payload)   payload: a table encoded as a JSON object
 *   vl.call(contract, fn, args)  nested call (see below)
 *   vl.caller()              the proposal creator's DID at the top level;
 *                            "contract:<name>" of the calling contract
 *                            inside vl.call
 *   vl.creator()             always the proposal creator's DID
 *   vl.txid()                64 hex digits
 *   vl.now()                 the proposal timestamp (ms)
 *   vl.transfer(from, to, cents)
 *   vl.require(cond, msg)    raises msg (as is) when cond is false/nil
 *   vl.check_source(src)     true, or false and the compile error
 *   vl.check_policy(text)    true, or false and the reason: an endorsement
 *                            policy expression checked by the node's
 *                            vm_config_t.policy_check (false, "policy checks
 *                            are not available" without one)
 *   vl.null, vl.object(t), vl.array(t)   JSON null and empty-table shape
 *   vl.verify(pubkey_hex, message, signature_hex)  Ed25519 check (pairing)
 *
 * Keys are printable ASCII (0x20-0x7E), 1..VL_KEY_MAX bytes. Keys under
 * contract/ wallet/ money/ did/ org/ vehicle/ sale/ schedule/
 * title_request/ service_request/ rule/ are written only by system
 * contracts (record author "genesis"); see s_reserved.
 *
 * vl.call: depth is capped at VM_CALL_DEPTH_MAX contracts (the top-level
 * one counts) and a contract may not appear twice in the active chain
 * (reentrancy); both are sticky aborts naming the chain. Args and results
 * are deep-copied through the JSON codec, so caller and callee share no
 * table. The callee runs inside a savepoint: if it fails, its writes and
 * events are undone and its error propagates to the caller unchanged (a
 * caller's pcall can catch an ordinary error, never an abort).
 *
 * vl.transfer authorisation: `from` must be the proposal creator
 * (vl.creator()), unless the running contract is a system contract (its
 * record's author is "genesis"), which may move funds between any wallets
 * because its own code enforces who may. Amounts are integer cents > 0;
 * both wallets must exist; the arithmetic is checked.
 *
 * Strings are pushed with lua_pushlstring only: lua_pushstring's cache by
 * C pointer would skip allocating (and charging) a long string in a reused
 * state but not in a fresh one, and gas must not differ between them.
 *
 * C rules (research §6 item 11): every function gathers its arguments
 * (which may raise), then does its C work without calling Lua, then pushes
 * results; nothing malloc'd is held across a call that can raise, except
 * buffers owned by the execution context.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"

bool
vm_key_valid(const char *key, size_t len)
{
    if (len < 1 || len > VL_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) key[i] < 0x20 || (unsigned char) key[i] > 0x7E)
            return false;
    return true;
}

bool
vm_contract_name_valid(const char *name, size_t len)
{
    if (len < 1 || len > VM_NAME_MAX || name[0] < 'a' || name[0] > 'z')
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static const char *
s_check_key(lua_State *L, int idx, const char *fn, size_t *len)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "%s: key must be a string, got %s", fn, sandbox_typename(L, idx));
    const char *key = lua_tolstring(L, idx, len);
    if (!vm_key_valid(key, *len))
        luaL_error(L, "%s: a key must be 1..%d printable ASCII characters", fn, VL_KEY_MAX);
    return key;
}

/* Raises a refusal: the message as is, without "chunk:line:" (business
 * outcomes such as insufficient funds read like the contract's own). */
static int
s_refuse(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return lua_error(L);
}

static int
s_host_error(lua_State *L, const char *what)
{
    vm_exec_t *ex = vm_exec_of(L);
    meter_abort(ex, VM_ABORT_HOST, "host error: %s", what);
    return meter_raise(L);
}

int
vm_overlay_get(vm_exec_t *ex, const char *key, size_t key_len, const char **value,
               size_t *value_len)
{
    const rw_write_t *w = rwset_find_write(&ex->rw, key, key_len);
    if (w) {
        *value = w->is_delete ? NULL : w->value;
        *value_len = w->value_len;
        return 0;
    }
    const rw_read_t *r = rwset_find_read(&ex->rw, key, key_len);
    if (!r) {
        char *v = NULL;
        size_t vlen = 0;
        vl_version_t ver = { 0, 0 };
        int rc = ex->state->get(ex->state->ctx, key, &v, &vlen, &ver);
        if (rc != 0 && rc != VL_ERR_NOT_FOUND) {
            free(v);
            return VL_ERR_IO;
        }
        if (rc == VL_ERR_NOT_FOUND) {
            free(v);
            v = NULL;
            vlen = 0;
            ver = (vl_version_t) { 0, 0 };
        }
        rc = rwset_add_read(&ex->rw, key, key_len, v, vlen, v != NULL, ver, &r);
        free(v);
        if (rc)
            return rc;
    }
    *value = r->exists ? r->value : NULL;
    *value_len = r->value_len;
    return 0;
}

/* Pushes the decoded value, or nil. */
static void
s_push_value(lua_State *L, const char *value, size_t len, const char *key)
{
    if (!value) {
        lua_pushnil(L);
        return;
    }
    char err[200];
    if (codec_push_text(L, value, len, err, sizeof err) != 0)
        luaL_error(L, "state value at '%s' is not valid JSON: %s", key, err);
}

static int
s_get(lua_State *L)
{
    vm_exec_t *ex = vm_exec_of(L);
    size_t klen;
    const char *key = s_check_key(L, 1, "vl.get", &klen);
    meter_charge(L, GAS_GET + klen);
    const char *v;
    size_t vlen;
    int rc = vm_overlay_get(ex, key, klen, &v, &vlen);
    if (rc)
        return s_host_error(L, rc == VL_ERR_NOMEM ? "out of memory" : "state read failed");
    meter_charge(L, vlen * GAS_GET_BYTE);
    s_push_value(L, v, vlen, key);
    return 1;
}

static void
s_write(lua_State *L, const char *fn, const char *key, size_t klen, const char *value,
        size_t vlen)
{
    vm_exec_t *ex = vm_exec_of(L);
    meter_charge(L, GAS_PUT + (klen + vlen) * GAS_PUT_BYTE);
    if (!rwset_find_write(&ex->rw, key, klen) && ex->rw.n_writes >= VM_WRITES_MAX)
        luaL_error(L, "%s: more than %d keys written in one transaction", fn, VM_WRITES_MAX);
    if (ex->rw.write_bytes + klen + vlen > VM_WRITESET_BYTES_MAX)
        luaL_error(L, "%s: the write set exceeds %d bytes", fn, VM_WRITESET_BYTES_MAX);
    if (rwset_put(&ex->rw, key, klen, value, vlen))
        s_host_error(L, "out of memory");
}

/* Keys under these prefixes hold the ledger's own documents (DESIGN §2):
 * only system contracts (record author "genesis") may put or delete them,
 * so a participant contract cannot rewrite a contract record, mint money
 * (wallet/, money/supply), edit an identity, an organisation (org/, which
 * only genesis writes) or a vehicle, or forge the standard contracts' own
 * records (a title request naming another agency, an insurance request, the
 * agency's insurance rule) behind their checks. vl.transfer writes wallets
 * itself, under its own rule. */
static const char *const s_reserved[] = { "contract/", "wallet/", "money/", "did/", "org/",
                                          "vehicle/", "sale/", "schedule/", "title_request/",
                                          "service_request/", "rule/", "cause/", "reactor/", NULL };

static void
s_check_writable(lua_State *L, const char *fn, const char *key)
{
    vm_exec_t *ex = vm_exec_of(L);
    const vm_frame_t *running = &ex->frames[ex->depth - 1];
    if (running->system)
        return;
    for (const char *const *p = s_reserved; *p; p++)
        if (strncmp(key, *p, strlen(*p)) == 0)
            luaL_error(L, "%s: contract '%s' may not write '%s': keys under %s are written "
                          "only by system contracts",
                       fn, running->name, key, *p);
}

static int
s_put(lua_State *L)
{
    vm_exec_t *ex = vm_exec_of(L);
    size_t klen;
    const char *key = s_check_key(L, 1, "vl.put", &klen);
    s_check_writable(L, "vl.put", key);
    luaL_checkany(L, 2);
    if (lua_isnil(L, 2))
        return luaL_error(L, "vl.put: value for '%s' is nil: use vl.del to delete", key);
    char err[200];
    if (codec_encode(L, 2, &ex->scratch, VL_VALUE_MAX, false, err, sizeof err) != 0)
        return luaL_error(L, "vl.put('%s'): %s", key, err);
    s_write(L, "vl.put", key, klen, ex->scratch.data, ex->scratch.len);
    return 0;
}

static int
s_del(lua_State *L)
{
    size_t klen;
    const char *key = s_check_key(L, 1, "vl.del", &klen);
    s_check_writable(L, "vl.del", key);
    s_write(L, "vl.del", key, klen, NULL, 0);
    return 0;
}

/* --- range ---------------------------------------------------------------------- */

typedef struct {
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
    vl_version_t version;
} s_row_t;

struct vm_range_tmp {
    s_row_t *rows;
    size_t n, cap;
    bool overflow;
    bool nomem;
};

void
host_range_tmp_free(vm_exec_t *ex)
{
    struct vm_range_tmp *t = ex->range_tmp;
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->rows[i].key);
        free(t->rows[i].value);
    }
    free(t->rows);
    free(t);
    ex->range_tmp = NULL;
}

static int
s_range_cb(void *arg, const char *key, size_t key_len, const char *value, size_t value_len,
           vl_version_t version)
{
    struct vm_range_tmp *t = arg;
    if (t->n >= VM_RANGE_MAX) {
        t->overflow = true;
        return 1;
    }
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        s_row_t *p = realloc(t->rows, ncap * sizeof *p);
        if (!p) {
            t->nomem = true;
            return 1;
        }
        t->rows = p;
        t->cap = ncap;
    }
    s_row_t r = { .key = malloc(key_len + 1), .key_len = key_len,
                  .value = malloc(value_len + 1), .value_len = value_len, .version = version };
    if (!r.key || !r.value) {
        free(r.key);
        free(r.value);
        t->nomem = true;
        return 1;
    }
    memcpy(r.key, key, key_len);
    r.key[key_len] = 0;
    memcpy(r.value, value, value_len);
    r.value[value_len] = 0;
    t->rows[t->n++] = r;
    return 0;
}

static int
s_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    return c ? c : alen < blen ? -1 : alen > blen;
}

static int
s_range(lua_State *L)
{
    vm_exec_t *ex = vm_exec_of(L);
    size_t plen;
    const char *prefix = s_check_key(L, 1, "vl.range", &plen);
    meter_charge(L, GAS_RANGE + plen);
    host_range_tmp_free(ex);
    struct vm_range_tmp *t = calloc(1, sizeof *t);
    if (!t)
        return s_host_error(L, "out of memory");
    ex->range_tmp = t;
    if (ex->state->range) {
        int rc = ex->state->range(ex->state->ctx, prefix, VM_RANGE_MAX + 1, s_range_cb, t);
        if (t->nomem)
            return s_host_error(L, "out of memory");
        if (rc < 0)
            return s_host_error(L, "state range failed");
    }
    if (t->overflow)
        return luaL_error(L, "vl.range: more than %d keys start with '%s'", VM_RANGE_MAX,
                          prefix);
    /* Record the committed keys seen (phantom protection). */
    rw_range_item_t *items = calloc(t->n + 1, sizeof *items);
    if (!items)
        return s_host_error(L, "out of memory");
    for (size_t i = 0; i < t->n; i++) {
        items[i].key = strdup(t->rows[i].key);
        items[i].version = t->rows[i].version;
        if (!items[i].key) {
            for (size_t j = 0; j < i; j++)
                free(items[j].key);
            free(items);
            return s_host_error(L, "out of memory");
        }
    }
    if (rwset_add_range(&ex->rw, prefix, items, t->n))
        return s_host_error(L, "out of memory");

    /* Merge committed rows with this tx's writes under the prefix. Writes
     * are sorted; find the first with the prefix. */
    const rwset_t *rw = &ex->rw;
    size_t wi = 0;
    while (wi < rw->n_writes && s_cmp(rw->writes[wi].key, rw->writes[wi].key_len, prefix,
                                      plen) < 0)
        wi++;
    size_t ci = 0, out = 0;
    lua_createtable(L, (int) t->n, 0);
    int res = lua_gettop(L);
    for (;;) {
        const rw_write_t *w = NULL;
        if (wi < rw->n_writes && rw->writes[wi].key_len >= plen &&
            memcmp(rw->writes[wi].key, prefix, plen) == 0)
            w = &rw->writes[wi];
        const s_row_t *c = ci < t->n ? &t->rows[ci] : NULL;
        if (!w && !c)
            break;
        const char *key, *val;
        size_t klen, vlen;
        int order = !w ? 1 : !c ? -1 : s_cmp(w->key, w->key_len, c->key, c->key_len);
        if (order <= 0) {  /* the write wins (and hides the committed row) */
            if (order == 0)
                ci++;
            wi++;
            if (w->is_delete)
                continue;
            key = w->key, klen = w->key_len, val = w->value, vlen = w->value_len;
        } else {
            ci++;
            key = c->key, klen = c->key_len, val = c->value, vlen = c->value_len;
        }
        if (++out > VM_RANGE_MAX)
            return luaL_error(L, "vl.range: more than %d keys start with '%s'", VM_RANGE_MAX,
                              prefix);
        meter_charge(L, GAS_RANGE_KEY + vlen * GAS_GET_BYTE);
        lua_createtable(L, 0, 2);
        lua_pushlstring(L, key, klen);
        lua_setfield(L, -2, "key");
        s_push_value(L, val, vlen, key);
        lua_setfield(L, -2, "value");
        lua_rawseti(L, res, (lua_Integer) out);
    }
    host_range_tmp_free(ex);
    return 1;
}

/* --- events ------------------------------------------------------------------------ */

static int
s_emit(lua_State *L)
{
    vm_exec_t *ex = vm_exec_of(L);
    size_t nlen;
    const char *name = luaL_checklstring(L, 1, &nlen);
    if (nlen < 1 || nlen > VM_EVENT_NAME_MAX)
        return luaL_error(L, "vl.emit: an event name must be 1..%d characters",
                          VM_EVENT_NAME_MAX);
    for (size_t i = 0; i < nlen; i++)
        if ((unsigned char) name[i] <= 0x20 || (unsigned char) name[i] > 0x7E)
            return luaL_error(L, "vl.emit: an event name must be printable ASCII without "
                                 "spaces");
    if (lua_isnoneornil(L, 2)) {
        lua_settop(L, 1);
        lua_newtable(L);
    }
    if (!lua_istable(L, 2))
        return luaL_error(L, "vl.emit('%s'): the payload must be a table, got %s", name,
                          sandbox_typename(L, 2));
    if (ex->rw.n_events >= VM_EVENTS_MAX)
        return luaL_error(L, "vl.emit: more than %d events in one transaction",
                          VM_EVENTS_MAX);
    char err[200];
    if (codec_encode(L, 2, &ex->scratch, VM_EVENT_MAX, true, err, sizeof err) != 0)
        return luaL_error(L, "vl.emit('%s'): %s", name, err);
    if (ex->scratch.data[0] != '{')
        return luaL_error(L, "vl.emit('%s'): the payload must be an object, not an array",
                          name);
    meter_charge(L, GAS_EMIT + (nlen + ex->scratch.len) * GAS_EMIT_BYTE);
    if (rwset_add_event(&ex->rw, name, ex->scratch.data, ex->scratch.len))
        return s_host_error(L, "out of memory");
    return 0;
}

/* --- identity and context ------------------------------------------------------------ */

static int
s_caller(lua_State *L)
{
    vm_exec_t *ex = vm_exec_of(L);
    meter_charge(L, GAS_HOST);
    if (ex->depth <= 1)
        lua_pushlstring(L, ex->req->caller_did, strlen(ex->req->caller_did));
    else
        lua_pushfstring(L, "contract:%s", ex->frames[ex->depth - 2].name);
    return 1;
}

static int
s_creator(lua_State *L)
{
    meter_charge(L, GAS_HOST);
    const char *did = vm_exec_of(L)->req->caller_did;
    lua_pushlstring(L, did, strlen(did));
    return 1;
}

static int
s_txid(lua_State *L)
{
    meter_charge(L, GAS_HOST);
    lua_pushlstring(L, vm_exec_of(L)->txid_hex, 64);
    return 1;
}

static int
s_now(lua_State *L)
{
    meter_charge(L, GAS_HOST);
    lua_pushinteger(L, (lua_Integer) vm_exec_of(L)->req->now_ms);
    return 1;
}

static int
s_require(lua_State *L)
{
    meter_charge(L, GAS_HOST);
    if (lua_toboolean(L, 1))
        return 0;
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_settop(L, 2);
    } else {
        lua_settop(L, 0);
        lua_pushliteral(L, "requirement failed");
    }
    return lua_error(L);
}

/* --- transfer ------------------------------------------------------------------------- */

/* Reads wallet/<did> as an integer; returns false when absent. */
static bool
s_wallet(lua_State *L, const char *did, int64_t *balance)
{
    vm_exec_t *ex = vm_exec_of(L);
    char key[VL_KEY_MAX + 1];
    int klen = snprintf(key, sizeof key, "wallet/%s", did);
    if (klen < 0 || !vm_key_valid(key, (size_t) klen))
        luaL_error(L, "vl.transfer: '%s' is not a valid DID", did);
    const char *v;
    size_t vlen;
    int rc = vm_overlay_get(ex, key, (size_t) klen, &v, &vlen);
    if (rc)
        s_host_error(L, "state read failed");
    if (!v)
        return false;
    char *end;
    errno = 0;
    long long b = strtoll(v, &end, 10);
    if (errno || end == v || *end || vlen == 0 || b < 0)
        luaL_error(L, "vl.transfer: the wallet of %s does not hold an integer balance", did);
    *balance = b;
    return true;
}

static void
s_set_wallet(lua_State *L, const char *did, int64_t balance)
{
    char key[VL_KEY_MAX + 1], val[32];
    int klen = snprintf(key, sizeof key, "wallet/%s", did);
    int vlen = snprintf(val, sizeof val, "%" PRId64, balance);
    s_write(L, "vl.transfer", key, (size_t) klen, val, (size_t) vlen);
}

static int
s_transfer(lua_State *L)
{
    vm_exec_t *ex = vm_exec_of(L);
    const char *from = luaL_checkstring(L, 1);
    const char *to = luaL_checkstring(L, 2);
    meter_charge(L, GAS_TRANSFER);
    if (!lua_isinteger(L, 3) || lua_tointeger(L, 3) <= 0)
        return luaL_error(L, "vl.transfer: amount must be a positive integer number of cents");
    int64_t cents = (int64_t) lua_tointeger(L, 3);
    const vm_frame_t *running = &ex->frames[ex->depth - 1];
    if (!running->system && strcmp(from, ex->req->caller_did) != 0)
        return s_refuse(L,
                          "vl.transfer: contract '%s' may only move funds of the proposal "
                          "creator %s, not of %s",
                          running->name, ex->req->caller_did, from);
    if (strcmp(from, to) == 0)
        return s_refuse(L, "vl.transfer: sender and recipient are the same wallet");
    int64_t fb, tb;
    if (!s_wallet(L, from, &fb))
        return s_refuse(L, "vl.transfer: %s has no wallet", from);
    if (!s_wallet(L, to, &tb))
        return s_refuse(L, "vl.transfer: %s has no wallet", to);
    if (fb < cents)
        return s_refuse(L, "insufficient funds: %s has %I cents, needs %I", from,
                          (lua_Integer) fb, (lua_Integer) cents);
    if (tb > INT64_MAX - cents)
        return s_refuse(L, "vl.transfer: the balance of %s would overflow", to);
    s_set_wallet(L, from, fb - cents);
    s_set_wallet(L, to, tb + cents);
    return 0;
}

/* --- nested calls -------------------------------------------------------------------- */

static int
s_call_protected(lua_State *L)
{
    /* Stack: name, fn, args. */
    const char *name = lua_tostring(L, 1);
    const char *fn = lua_tostring(L, 2);
    vm_invoke(L, name, fn);
    return 1;
}

static void
s_deep_copy(lua_State *L, int idx, const char *what, bool empty_object)
{
    vm_exec_t *ex = vm_exec_of(L);
    char err[200];
    if (codec_encode(L, idx, &ex->scratch, VL_VALUE_MAX, empty_object, err, sizeof err) != 0)
        luaL_error(L, "vl.call: %s: %s", what, err);
    meter_charge(L, ex->scratch.len * GAS_CALL_BYTE);
    if (codec_push_text(L, ex->scratch.data, ex->scratch.len, err, sizeof err) != 0)
        luaL_error(L, "vl.call: %s: %s", what, err);
}

static int
s_call(lua_State *L)
{
    vm_exec_t *ex = vm_exec_of(L);
    size_t nlen, flen;
    const char *name = luaL_checklstring(L, 1, &nlen);
    luaL_checklstring(L, 2, &flen);
    meter_charge(L, GAS_CALL);
    if (lua_isnoneornil(L, 3)) {
        lua_settop(L, 2);
        lua_newtable(L);
    }
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    if (!vm_contract_name_valid(name, nlen))
        return luaL_error(L, "vl.call: invalid contract name '%s'", name);
    lua_pushcfunction(L, s_call_protected);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    s_deep_copy(L, 3, "args", true);
    rw_savepoint_t sp = rwset_savepoint(&ex->rw);
    int depth = ex->depth;
    int st = lua_pcall(L, 3, 1, 0);
    ex->depth = depth;
    if (ex->abort != VM_ABORT_NONE)
        return lua_error(L);
    if (st != LUA_OK) {
        rwset_rollback(&ex->rw, sp);
        return lua_error(L);  /* the callee's error, unchanged */
    }
    s_deep_copy(L, -1, "result", false);
    return 1;
}

/* --- source check (for contract.deploy) -------------------------------------------- */

static int
s_check_source(lua_State *L)
{
    vm_exec_t *ex = vm_exec_of(L);
    size_t len;
    const char *src = luaL_checklstring(L, 1, &len);
    meter_charge(L, GAS_CHECK_SOURCE + len * GAS_CHECK_SOURCE_BYTE);
    int st = luaL_loadbufferx(L, src, len, "=source", "t");
    if (ex->abort != VM_ABORT_NONE)
        return meter_raise(L);
    if (st == LUA_OK) {
        lua_pop(L, 1);  /* compiled, never run */
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

/* --- policy check (for contract.deploy and vehicle.set_policy) ------------------ */

/* vl.check_policy(text) -> true, or false and the reason. The expression is
 * checked by the node's policy language (vm_config_t.policy_check), so the
 * contracts need not know its grammar and the VM need not link consensus/. */
static int
s_check_policy(lua_State *L)
{
    vm_exec_t *ex = vm_exec_of(L);
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "vl.check_policy: the policy must be a string, got %s",
                          sandbox_typename(L, 1));
    size_t len;
    const char *text = lua_tolstring(L, 1, &len);
    meter_charge(L, GAS_CHECK_POLICY + len * GAS_CHECK_POLICY_BYTE);
    char msg[VM_POLICY_MSG_MAX];
    msg[0] = '\0';
    int bad;
    if (!ex->vm->config.policy_check) {
        snprintf(msg, sizeof msg, "policy checks are not available");
        bad = 1;
    } else if (memchr(text, '\0', len)) {
        snprintf(msg, sizeof msg, "a policy may not contain a NUL byte");
        bad = 1;
    } else {
        bad = ex->vm->config.policy_check(text, msg, sizeof msg) != 0;
        msg[sizeof msg - 1] = '\0';
        if (bad && !msg[0])
            snprintf(msg, sizeof msg, "the policy does not parse");
    }
    lua_pushboolean(L, !bad);
    if (!bad)
        return 1;
    lua_pushlstring(L, msg, strlen(msg));
    return 2;
}

/* --- JSON shape helpers ---------------------------------------------------------------- */

static int
s_object(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    codec_mark_object(L, 1);
    return 1;
}

static int
s_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    codec_unmark_object(L, 1);
    return 1;
}

/* --- signature check (vl.verify; added for device pairing, contracts/lib/pairing.lua) --- */

#include "crypto.h"

#define GAS_VERIFY 20000              /* one Ed25519 verify ... */
#define GAS_VERIFY_BYTE 2             /* ... plus per message byte */

static bool
s_unhex(const char *hex, size_t len, uint8_t *out, size_t n)
{
    if (len != 2 * n)
        return false;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = hex[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return false;
        out[i / 2] = (uint8_t) (i % 2 ? (out[i / 2] << 4) | d : d);
    }
    return true;
}

/* vl.verify(pubkey_hex, message, signature_hex) -> true when the Ed25519
 * signature (128 hex digits) by the key (64 hex digits) over message
 * verifies; false otherwise (also for malformed hex). */
static int
s_verify(lua_State *L)
{
    size_t plen, mlen, slen;
    const char *pk = luaL_checklstring(L, 1, &plen);
    const char *msg = luaL_checklstring(L, 2, &mlen);
    const char *sig = luaL_checklstring(L, 3, &slen);
    meter_charge(L, GAS_VERIFY + mlen * GAS_VERIFY_BYTE);
    uint8_t pub[VL_PUBKEY_SIZE], sg[VL_SIG_SIZE];
    bool ok = s_unhex(pk, plen, pub, sizeof pub) && s_unhex(sig, slen, sg, sizeof sg)
              && vl_verify(pub, msg, mlen, sg);
    lua_pushboolean(L, ok);
    return 1;
}

/* --- end of vl.verify ------------------------------------------------------------------ */

/* Every vl.* function first refuses to run after an abort. */
static int
s_guard(lua_State *L)
{
    meter_check(L);
    lua_CFunction fn = lua_tocfunction(L, lua_upvalueindex(1));
    return fn(L);
}

void
host_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "get", s_get },         { "put", s_put },       { "del", s_del },
        { "range", s_range },     { "emit", s_emit },     { "call", s_call },
        { "caller", s_caller },   { "creator", s_creator }, { "txid", s_txid },
        { "now", s_now },         { "transfer", s_transfer }, { "require", s_require },
        { "check_source", s_check_source }, { "object", s_object }, { "array", s_array },
        { "verify", s_verify },   { "check_policy", s_check_policy },
        { NULL, NULL },
    };
    lua_newtable(L);
    for (const luaL_Reg *r = fns; r->name; r++) {
        lua_pushcfunction(L, r->func);
        lua_pushcclosure(L, s_guard, 1);
        lua_setfield(L, -2, r->name);
    }
    codec_push_null(L);
    lua_setfield(L, -2, "null");
}
