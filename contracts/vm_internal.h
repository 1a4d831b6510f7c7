/*
 * vm_internal.h — what the files of contracts/ share and nobody else sees.
 *
 * The VM is split by concern:
 *   vm.c         lifecycle of vm_t and its lua_State, vm_execute, contract
 *                loading and activation, the chunk cache, result packing;
 *   sandbox.c    the allow-listed environment, frozen library proxies and
 *                the replaced base functions (pairs, tostring, pcall, sort,
 *                bounded patterns, ...);
 *   meter.c      gas and memory: the count hook, the capped allocator,
 *                prices, sticky aborts;
 *   codec.c      Lua values <-> canonical JSON;
 *   rwset.c      the transaction overlay: read set with versions, write set,
 *                range reads, events, savepoints;
 *   host.c       the `vl` module;
 *   state_view.c vm_state_t over ledger_get / ledger_range.
 *
 * One execution context (vm_exec_t) exists per vm_execute call; the
 * lua_State's extra space points at the vm_t, whose `exec` field points at
 * the running context (NULL between executions).
 */
#ifndef VL_VM_INTERNAL_H
#define VL_VM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "jsontext.h"
#include "vm.h"

/* --- Named limits ----------------------------------------------------------- */
#define VM_CALL_DEPTH_MAX 8            /* contracts in one vl.call chain */
#define VM_LUA_FRAMES_MAX 200          /* nested Lua/C frames (recursion) */
#define VM_STRING_MAX (1024 * 1024)    /* bytes in one Lua string */
#define VM_EVENT_MAX (64 * 1024)       /* bytes in one event payload */
#define VM_EVENTS_MAX 256              /* events per transaction */
#define VM_WRITES_MAX 4096             /* distinct keys written per transaction */
#define VM_WRITESET_BYTES_MAX (2 * 1024 * 1024) /* bytes of keys+values written */
#define VM_RESULT_MAX (256 * 1024)     /* bytes of the result JSON */
#define VM_RANGE_MAX 1000              /* keys returned by one vl.range */
#define VM_JSON_DEPTH_MAX 64           /* nesting of one encoded value */
#define VM_NAME_MAX 64                 /* contract / function name bytes */
#define VM_EVENT_NAME_MAX 128          /* event name bytes */
#define VM_PATTERN_SUBJECT_MAX 4096    /* subject bytes for Lua patterns */
#define VM_PATTERN_SUBJECT2_MAX 256    /* subject bytes for two repetitions */
#define VM_PATTERN_MAX 64              /* pattern bytes */
#define VM_STATE_REUSE_MAX 1000        /* executions before a reused state is renewed */
#define VM_HOOK_COUNT 1000             /* instructions between hook firings */
#define VM_POLICY_MSG_MAX 256          /* bytes of a vl.check_policy reason */
#define VM_CAUSE_MAX 80                /* bytes of args.cause ("<txid>:<event index>") */

/* --- Prices (gas) ----------------------------------------------------------- */
#define GAS_BASE 1000                  /* per execution */
#define GAS_LOAD 500                   /* per contract activation ... */
#define GAS_LOAD_BYTE 1                /* ... plus per byte of source */
#define GAS_GET 500
#define GAS_GET_BYTE 1
#define GAS_PUT 2000
#define GAS_PUT_BYTE 20
#define GAS_RANGE 500
#define GAS_RANGE_KEY 200
#define GAS_EMIT 500
#define GAS_EMIT_BYTE 10
#define GAS_CALL 1000
#define GAS_CALL_BYTE 2
#define GAS_TRANSFER 5000
#define GAS_PAIRS_KEY 20
#define GAS_SORT_CMP 10
#define GAS_STRING_BYTE_SHIFT 4        /* long strings: 1 per 16 bytes */
#define GAS_PATTERN 100
#define GAS_CHECK_SOURCE 1000
#define GAS_CHECK_SOURCE_BYTE 5
#define GAS_CHECK_POLICY 1000          /* vl.check_policy ... */
#define GAS_CHECK_POLICY_BYTE 5        /* ... plus per byte of text */
#define GAS_HOST 10                    /* any other host call */

/* --- rwset.c: the transaction overlay -------------------------------------- */
typedef struct {
    char *key;
    size_t key_len;
    char *value;          /* owned; NULL when absent */
    size_t value_len;
    bool exists;
    vl_version_t version;
} rw_read_t;

typedef struct {
    char *key;
    size_t key_len;
    char *value;          /* owned canonical JSON; NULL when is_delete */
    size_t value_len;
    bool is_delete;
} rw_write_t;

typedef struct {
    char *key;            /* owned */
    size_t key_len;
    bool had;             /* the write set held key before this write */
    rw_write_t old;       /* previous entry (owned) when had */
} rw_undo_t;

typedef struct {
    char *name;
    char *payload;
    size_t payload_len;
} rw_event_t;

typedef struct {
    char *key;
    vl_version_t version;
} rw_range_item_t;

typedef struct {
    char *prefix;
    rw_range_item_t *items;
    size_t n_items;
} rw_range_t;

typedef struct {
    rw_read_t *reads;     /* sorted by key */
    size_t n_reads, cap_reads;
    rw_write_t *writes;   /* sorted by key */
    size_t n_writes, cap_writes;
    size_t write_bytes;
    rw_undo_t *undo;      /* in write order */
    size_t n_undo, cap_undo;
    rw_event_t *events;   /* in emission order */
    size_t n_events, cap_events;
    rw_range_t *ranges;   /* sorted by prefix */
    size_t n_ranges, cap_ranges;
} rwset_t;

typedef struct {
    size_t n_undo;
    size_t n_events;
} rw_savepoint_t;

void rwset_init(rwset_t *rw);
/* Forgets everything, keeping capacity / releasing the arrays too. */
void rwset_clear(rwset_t *rw);
void rwset_destroy(rwset_t *rw);
/* Looks key up in the write set (read-your-writes). Returns the entry or NULL. */
const rw_write_t *rwset_find_write(const rwset_t *rw, const char *key, size_t key_len);
/* The read-set entry of key, or NULL if never read from committed state. */
const rw_read_t *rwset_find_read(const rwset_t *rw, const char *key, size_t key_len);
/* Records a committed read (value copied; NULL value = absent). */
int rwset_add_read(rwset_t *rw, const char *key, size_t key_len, const char *value,
                   size_t value_len, bool exists, vl_version_t version,
                   const rw_read_t **out);
/* Writes (value != NULL) or deletes (value == NULL) key; value copied. */
int rwset_put(rwset_t *rw, const char *key, size_t key_len, const char *value,
              size_t value_len);
int rwset_add_event(rwset_t *rw, const char *name, const char *payload, size_t payload_len);
/* Records a range read; items taken over (owned) on success and failure. */
int rwset_add_range(rwset_t *rw, const char *prefix, rw_range_item_t *items, size_t n_items);
rw_savepoint_t rwset_savepoint(const rwset_t *rw);
void rwset_rollback(rwset_t *rw, rw_savepoint_t sp);

/* --- meter.c: gas, memory, aborts ------------------------------------------ */
typedef enum {
    VM_ABORT_NONE = 0,
    VM_ABORT_GAS,
    VM_ABORT_MEMORY,
    VM_ABORT_DEPTH,       /* Lua frames, vl.call depth or reentrancy */
    VM_ABORT_HOST,        /* the host failed (I/O, allocation outside Lua) */
} vm_abort_t;

/* Per lua_State allocation accounting; the allocator's ud. */
typedef struct vm_mem_t {
    size_t live;          /* bytes currently allocated by this state */
    size_t limit;         /* live may not exceed this while metering */
    bool metering;        /* caps and string charges apply */
    struct vm_exec_t *exec; /* borrowed: running execution or NULL */
} vm_mem_t;

void *meter_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
/* Arms the count hook (resets the counter). */
void meter_arm(lua_State *L);
void meter_hook(lua_State *L, lua_Debug *ar);
/* Adds gas; on exhaustion sets the sticky abort and returns false (no raise). */
bool meter_add(struct vm_exec_t *ex, uint64_t gas);
/* Adds gas and raises the abort error on exhaustion. */
void meter_charge(lua_State *L, uint64_t gas);
/* Sets a sticky abort with a message (first one wins). */
void meter_abort(struct vm_exec_t *ex, vm_abort_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Raises the current sticky abort as a Lua error (never returns). */
int meter_raise(lua_State *L);
/* Raises if an abort is pending. */
void meter_check(lua_State *L);

/* --- codec.c: Lua <-> JSON --------------------------------------------------- */

/* Encodes the value at idx as canonical JSON into buf (appended, NUL kept
 * after len). Never raises. Returns 0, or -1 with a message in err.
 * max_bytes bounds the output. empty_object: an unmarked empty table at
 * the top encodes as {} instead of []. */
int codec_encode(lua_State *L, int idx, vl_buf_t *buf, size_t max_bytes, bool empty_object,
                 char *err, size_t err_len);
/* Parses JSON text (any value) and pushes it. May raise (memory). Returns 0,
 * or -1 with nothing pushed and a message in err for malformed text. */
int codec_push_text(lua_State *L, const char *text, size_t len, char *err, size_t err_len);
/* Pushes a new table marked as a JSON object (encodes as {} when empty). */
void codec_mark_object(lua_State *L, int idx);
void codec_unmark_object(lua_State *L, int idx);
/* Registry setup for the codec (marks table, null sentinel). */
void codec_open(lua_State *L);
/* Pushes the vl.null sentinel. */
void codec_push_null(lua_State *L);
void vm_buf_free(vl_buf_t *buf);

/* --- sandbox.c ----------------------------------------------------------------- */
/* Builds the frozen global table and leaves it in the registry. */
void sandbox_open(lua_State *L);
/* Pushes a new per-activation _ENV whose __index is the frozen globals. */
void sandbox_push_env(lua_State *L);
/* Our tostring, shared with the codec's error messages. */
const char *sandbox_typename(lua_State *L, int idx);

typedef struct vm_exec_t vm_exec_t;
/* --- host.c -------------------------------------------------------------------- */
/* Pushes the real (unfrozen) vl module table. */
void host_open(lua_State *L);
/* Frees the range rows a raise may have left in ex. */
void host_range_tmp_free(vm_exec_t *ex);
bool vm_key_valid(const char *key, size_t len);
bool vm_contract_name_valid(const char *name, size_t len);

/* --- vm.c: execution context ------------------------------------------------ */
typedef struct {
    char name[VM_NAME_MAX + 1];
    bool system;          /* record author is "genesis" */
} vm_frame_t;

typedef struct vm_exec_t {
    vm_t *vm;                       /* borrowed */
    const vm_state_t *state;        /* borrowed */
    const vm_request_t *req;        /* borrowed */
    char txid_hex[65];
    uint64_t gas_used;
    uint64_t gas_limit;
    vm_abort_t abort;
    char abort_msg[256];
    int status;                     /* set by the runner for NOT_FOUND / IO etc. */
    char status_msg[256];
    rwset_t rw;
    vm_frame_t frames[VM_CALL_DEPTH_MAX];
    int depth;                      /* frames in use */
    vl_buf_t scratch;               /* encoder output, reused */
    void *codec_keys;               /* codec.c key arena (owned) */
    size_t codec_keys_cap;
    struct vm_range_tmp *range_tmp; /* host.c: committed range rows being merged (owned) */
} vm_exec_t;

struct vm_t {
    vm_config_t config;
    lua_State *L;                   /* owned; NULL until first use */
    vm_mem_t mem;                   /* allocator accounting for L */
    unsigned executions;            /* since L was created */
    bool renew;                     /* close L before the next execution */
    vm_exec_t *exec;                /* running execution or NULL */
};

static inline vm_exec_t *
vm_exec_of(lua_State *L)
{
    vm_t *vm = *(vm_t **) lua_getextraspace(L);
    return vm->exec;
}

/* Reads key through the overlay: writes first, then the read cache, then
 * committed state (recorded). *value borrowed until the next overlay
 * change; NULL when absent. Returns 0 or VL_ERR_IO. */
int vm_overlay_get(vm_exec_t *ex, const char *key, size_t key_len, const char **value,
                   size_t *value_len);
/* Runs contract `name`.`fn` with the args value at the top of the stack
 * (popped); pushes the result. Used for the top level and by vl.call. Raises
 * on any failure. */
void vm_invoke(lua_State *L, const char *name, const char *fn);
#endif
