/*
 * state_view.c — vm_state_t over a ledger: the committed world state the
 * VM executes against in a node. A thin adapter, so the VM itself depends
 * only on the vm_state_t seam (tests use an in-memory fake).
 *
 * The ledger is borrowed and must outlive the view. ledger_get and
 * ledger_range may run concurrently with a block commit (LevelDB gives each
 * read a consistent view), but one execution may then see two heights;
 * that is safe because MVCC validation rejects any read that is stale at
 * commit time.
 */
#include "ledger.h"
#include "vm.h"

static int
s_get(void *ctx, const char *key, char **value, size_t *len, vl_version_t *version)
{
    return ledger_get((ledger_t *) ctx, key, value, len, version);
}

static int
s_range(void *ctx, const char *prefix, size_t limit, ledger_range_fn fn, void *arg)
{
    return ledger_range((ledger_t *) ctx, prefix, limit, fn, arg);
}

vm_state_t
vm_state_of_ledger(ledger_t *ledger)
{
    return (vm_state_t) { .ctx = ledger, .get = s_get, .range = s_range };
}
