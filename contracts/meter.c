/*
 * meter.c — gas and memory for one execution: the count hook, the capped
 * allocator, and the sticky aborts that no contract can catch.
 *
 * Gas used = hook firings x VM_HOOK_COUNT + host charges + long-string
 * charges (1 per 16 bytes of every string longer than LUAI_MAXSHORTLEN,
 * since those are never interned and are created anew by every run). All
 * three are functions of the contract's code and inputs only, so endorsers
 * agree on gas_used bit for bit, in reused- and fresh-state mode alike. The
 * memory high-water mark is not part of gas (it depends on GC timing).
 *
 * Invariants:
 *   1. Once ex->abort != VM_ABORT_NONE it never goes back within the
 *      execution: the hook raises at every instruction, the allocator
 *      refuses every growth, and the pcall/xpcall/vl.call wrappers
 *      re-raise (sandbox.c, host.c). The final error text is
 *      ex->abort_msg, whatever Lua error object reached the top.
 *   2. The allocator never raises (Lua forbids it); it only refuses by
 *      returning NULL, after setting the abort, when mem->metering is on.
 *      Shrinks and frees always succeed.
 *   3. mem->live is the exact number of bytes this lua_State holds.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "vm_internal.h"

/* Size Lua allocates for a string of n bytes: sizeof(TString) (24 on LP64)
 * + n + 1. Anything bigger than a 40-byte short string is a long string. */
#define S_SHORTSTR_ALLOC_MAX (24 + 40 + 1)

void
meter_abort(vm_exec_t *ex, vm_abort_t kind, const char *fmt, ...)
{
    if (ex->abort != VM_ABORT_NONE)
        return;
    ex->abort = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ex->abort_msg, sizeof ex->abort_msg, fmt, ap);
    va_end(ap);
}

bool
meter_add(vm_exec_t *ex, uint64_t gas)
{
    if (ex->abort != VM_ABORT_NONE)
        return false;
    ex->gas_used = ex->gas_used + gas < ex->gas_used ? UINT64_MAX : ex->gas_used + gas;
    if (ex->gas_used > ex->gas_limit) {
        meter_abort(ex, VM_ABORT_GAS, "out of gas: used %llu of limit %llu",
                    (unsigned long long) ex->gas_used, (unsigned long long) ex->gas_limit);
        return false;
    }
    return true;
}

int
meter_raise(lua_State *L)
{
    vm_exec_t *ex = vm_exec_of(L);
    /* From now on every instruction traps (invariant 1). */
    lua_sethook(L, meter_hook, LUA_MASKCOUNT, 1);
    /* Pushing may itself be refused (memory abort): then Lua raises its own
     * memory error, which is just as fatal. */
    lua_pushstring(L, ex && ex->abort_msg[0] ? ex->abort_msg : "execution aborted");
    return lua_error(L);
}

void
meter_charge(lua_State *L, uint64_t gas)
{
    vm_exec_t *ex = vm_exec_of(L);
    if (!meter_add(ex, gas))
        meter_raise(L);
}

void
meter_check(lua_State *L)
{
    vm_exec_t *ex = vm_exec_of(L);
    if (ex && ex->abort != VM_ABORT_NONE)
        meter_raise(L);
}

void
meter_hook(lua_State *L, lua_Debug *ar)
{
    (void) ar;
    vm_exec_t *ex = vm_exec_of(L);
    if (!ex)
        return;
    if (ex->abort != VM_ABORT_NONE || !meter_add(ex, VM_HOOK_COUNT))
        meter_raise(L);
    lua_Debug probe;
    if (lua_getstack(L, VM_LUA_FRAMES_MAX, &probe)) {
        meter_abort(ex, VM_ABORT_DEPTH,
                    "call stack overflow: more than %d nested function calls",
                    VM_LUA_FRAMES_MAX);
        meter_raise(L);
    }
}

void
meter_arm(lua_State *L)
{
    lua_sethook(L, meter_hook, LUA_MASKCOUNT, VM_HOOK_COUNT);
}

void *
meter_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    vm_mem_t *m = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        m->live -= old;
        return NULL;
    }
    if (m->metering && nsize > old && m->exec) {
        vm_exec_t *ex = m->exec;
        if (ex->abort != VM_ABORT_NONE)
            return NULL;
        if (!ptr && osize == LUA_TSTRING && nsize > S_SHORTSTR_ALLOC_MAX) {
            if (nsize - S_SHORTSTR_ALLOC_MAX + 40 > VM_STRING_MAX) {
                meter_abort(ex, VM_ABORT_MEMORY,
                            "out of memory: a string of %zu bytes exceeds the limit of %d",
                            nsize - 25, VM_STRING_MAX);
                return NULL;
            }
            if (!meter_add(ex, nsize >> GAS_STRING_BYTE_SHIFT))
                return NULL;
        }
        if (nsize - old > m->limit - (m->live < m->limit ? m->live : m->limit)) {
            meter_abort(ex, VM_ABORT_MEMORY,
                        "out of memory: the contract used more than %zu bytes",
                        ex->vm->config.memory_max_bytes);
            return NULL;
        }
    }
    void *p = realloc(ptr, nsize);
    if (p)
        m->live = m->live - old + nsize;
    return p;
}
