/*
 * test_alloc.c — allocation failures (issue 10, point 3): every path that
 * judges a transaction or a block either succeeds or returns an error
 * code; none crashes, leaks (run under ASan or valgrind) or reports a tx
 * VALID that it did not judge.
 *
 * The seam: this program is linked with -Wl,--wrap=malloc,--wrap=calloc,
 * --wrap=realloc (test/unit/consensus/meson.build), so every call to those
 * from our code — the test and the static libraries of every layer, the
 * contract VM's Lua allocator (contracts/meter.c) included — goes through
 * the wrappers below, which fail the N-th allocation after s_arm(N). Each
 * sweep runs its operation with N = 1, 2, ... until a run sees no injected
 * failure (it allocated fewer than N times), which must then succeed.
 *
 * Not reached: allocations inside shared libraries (protobuf-c's unpack
 * and pack, czmq's hashes and lists, LevelDB, OpenSSL, libsodium, Lua's
 * own code only through our allocator) and libc's internal ones (strdup,
 * strndup). --wrap rewrites references at link time only in the objects
 * linked into this executable. Those failures are not simulated here.
 *
 * Single-threaded while armed: LevelDB's background thread allocates
 * inside the shared library, which the wrappers never see.
 */
#include <execinfo.h>
#include <stdlib.h>

#include "blockview.h"
#include "chain_fixture.h"
#include "check.h"
#include "commit.h"
#include "contracts/fake_state.h"
#include "mempool.h"
#include "orderer.h"
#include "tx.h"
#include "vm.h"

/* --- The seam ------------------------------------------------------------ */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static long s_countdown;     /* allocations until the injected failure; 0 = off */
static bool s_injected;      /* the armed failure happened */

static bool
s_fail_now(void)
{
    if (s_countdown <= 0)
        return false;
    if (--s_countdown > 0)
        return false;
    s_injected = true;
    if (getenv("VL_ALLOC_BACKTRACE")) {   /* where each injected failure lands */
        void *frames[12];
        int n = backtrace(frames, 12);
        fprintf(stderr, "# injected allocation failure:\n");
        backtrace_symbols_fd(frames, n, 2);
    }
    return true;
}

void *
__wrap_malloc(size_t n)
{
    return s_fail_now() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
    return s_fail_now() ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
    /* realloc(p, 0) frees: never "fail" it (that would leak p). */
    if (n == 0)
        return __real_realloc(p, n);
    return s_fail_now() ? NULL : __real_realloc(p, n);
}

static void
s_arm(long nth)
{
    s_injected = false;
    s_countdown = nth;
}

/* Disarms; true when the armed failure happened. */
static bool
s_disarm(void)
{
    s_countdown = 0;
    return s_injected;
}

#define SWEEP_MAX 200000

/* Runs op(arg) with the N-th allocation failing, N = 1, 2, ...: each run
 * with an injected failure must return non-zero (op checks the rest) —
 * unless may_recover, for code that legitimately retries an allocation
 * (Lua runs an emergency collection and tries again), when op must then
 * have checked that the result is exactly the unfailing one. The first
 * run without a failure must return 0. Returns how many runs had a failure
 * injected. */
typedef int (*op_fn)(void *arg, bool injected_run);

static long
s_sweep_ex(const char *what, op_fn op, void *arg, bool may_recover)
{
    long recovered = 0;
    for (long n = 1; n < SWEEP_MAX; n++) {
        s_arm(n);
        int rc = op(arg, true);
        bool injected = s_disarm();
        if (!injected) {
            if (rc != 0) {
                CHECK_FAIL_PREFIX_();
                fprintf(stderr, "%s: failed (%d) with no allocation failure\n", what, rc);
                check_failures_++;
            }
            fprintf(stderr, "# %s: %ld allocations failed one by one (%ld recovered)\n", what,
                    n - 1, recovered);
            return n - 1;
        }
        if (rc == 0 && may_recover) {
            recovered++;
        } else if (rc == 0) {
            CHECK_FAIL_PREFIX_();
            fprintf(stderr, "%s: allocation %ld failed, yet it returned 0\n", what, n);
            check_failures_++;
        }
    }
    CHECK(!"sweep did not end");
    return SWEEP_MAX;
}

static long
s_sweep(const char *what, op_fn op, void *arg)
{
    return s_sweep_ex(what, op, arg, false);
}

/* --- tx_parse ------------------------------------------------------------ */

typedef struct {
    const uint8_t *bytes;
    size_t len;
} buf_t;

static int
s_op_tx_parse(void *arg, bool armed)
{
    buf_t *b = arg;
    tx_parsed_t *sentinel = (tx_parsed_t *) b, *p = sentinel;
    int code = -12345;
    vl_err_t err = { "" };
    int rc = tx_parse(b->bytes, b->len, FX_CHAIN, &p, &code, &err);
    if (rc == 0) {
        CHECK_EQ(code, VL__TX_CODE__TX_VALID);
        tx_destroy(&p);
        return 0;
    }
    CHECK_EQ(rc, VL_ERR_NOMEM);
    CHECK_EQ(code, VL__TX_CODE__TX_MALFORMED);   /* always set, never VALID */
    CHECK(p == sentinel);
    return rc;
}

static void
test_alloc_tx_parse(void)
{
    fixture_t f;
    fx_open(&f);
    size_t len;
    uint8_t *tx = fx_tx(&f, &(fx_tx_t) { .nonce = 1, .write_key = "a", .write_value = "1" }, &len);
    buf_t b = { tx, len };
    CHECK(s_sweep("tx_parse", s_op_tx_parse, &b) >= 1);
    free(tx);
    fx_close(&f);
}

/* --- validate_block over a block that exercises every check -------------- */

#define NTX 10

typedef struct {
    fixture_t *f;
    uint8_t *block;
    size_t len;
    int want[NTX];
} vblock_t;

/* Block 1 (committed normally): r/1 {1,0}, r/2 {1,1}, k {1,2}. Block 2, the
 * one under test: reads, writes, ranges seen through earlier writes of the
 * block, a replay, garbage, a bad endorsement, a stale read. */
static void
s_vblock(fixture_t *f, vblock_t *v)
{
    memset(v, 0, sizeof *v);
    v->f = f;
    uint8_t *t1[3];
    size_t l1[3];
    t1[0] = fx_tx(f, &(fx_tx_t) { .nonce = 1, .write_key = "r/1", .write_value = "a" }, &l1[0]);
    t1[1] = fx_tx(f, &(fx_tx_t) { .nonce = 2, .write_key = "r/2", .write_value = "b" }, &l1[1]);
    t1[2] = fx_tx(f, &(fx_tx_t) { .nonce = 3, .write_key = "k", .write_value = "c" }, &l1[2]);
    size_t b1_len;
    uint8_t *b1 = fx_next_block(f, t1, l1, 3, &b1_len);
    int codes[3];
    CHECK_EQ(fx_commit(f, b1, b1_len, codes), 0);
    free(b1);

    fx_read_t k_now = { "k", true, { 1, 2 } }, k_stale = { "k", true, { 0, 0 } };
    fx_read_t r12[] = { { "r/1", true, { 1, 0 } }, { "r/2", true, { 1, 1 } } };
    fx_read_t r123[] = { { "r/1", true, { 1, 0 } }, { "r/2", true, { 1, 1 } },
                         { "r/3", true, { 2, 2 } } };
    uint8_t *t[NTX];
    size_t l[NTX];
    t[0] = fx_tx(f, &(fx_tx_t) { .nonce = 10, .reads = &k_now, .n_reads = 1, .write_key = "w/1",
                                 .write_value = "x", .write_key2 = "w/2" }, &l[0]);
    v->want[0] = VL__TX_CODE__TX_VALID;
    t[1] = fx_tx(f, &(fx_tx_t) { .nonce = 11, .reads = r12, .n_reads = 1, .range_prefix = "r/",
                                 .range_items = r12, .n_range_items = 2 }, &l[1]);
    v->want[1] = VL__TX_CODE__TX_VALID;
    t[2] = fx_tx(f, &(fx_tx_t) { .nonce = 12, .write_key = "r/3", .write_value = "y" }, &l[2]);
    v->want[2] = VL__TX_CODE__TX_VALID;
    t[3] = fx_tx(f, &(fx_tx_t) { .nonce = 13, .range_prefix = "r/", .range_items = r12,
                                 .n_range_items = 2 }, &l[3]);
    v->want[3] = VL__TX_CODE__TX_PHANTOM_READ;   /* r/3 came in earlier in the block */
    t[4] = fx_tx(f, &(fx_tx_t) { .nonce = 14, .range_prefix = "w/" }, &l[4]);
    v->want[4] = VL__TX_CODE__TX_PHANTOM_READ;   /* so did w/1 and w/2 */
    t[5] = malloc(l1[0]);
    memcpy(t[5], t1[0], l1[0]);
    l[5] = l1[0];
    v->want[5] = VL__TX_CODE__TX_DUPLICATE_TXID;
    t[6] = (uint8_t *) strdup("garbage");
    l[6] = 7;
    v->want[6] = VL__TX_CODE__TX_MALFORMED;
    t[7] = fx_tx(f, &(fx_tx_t) { .nonce = 17, .write_key = "z", .write_value = "z",
                                 .bad_endorsement = true }, &l[7]);
    v->want[7] = VL__TX_CODE__TX_BAD_ENDORSEMENT;
    t[8] = fx_tx(f, &(fx_tx_t) { .nonce = 18, .reads = &k_stale, .n_reads = 1,
                                 .write_key = "z", .write_value = "z" }, &l[8]);
    v->want[8] = VL__TX_CODE__TX_MVCC_CONFLICT;
    t[9] = fx_tx(f, &(fx_tx_t) { .nonce = 19, .range_prefix = "r/", .range_items = r123,
                                 .n_range_items = 3, .write_key = "r/1", .write_value = "new" },
                 &l[9]);
    v->want[9] = VL__TX_CODE__TX_VALID;          /* r/3 at the version block 2 gives it */
    v->block = fx_next_block(f, t, l, NTX, &v->len);
    for (int i = 0; i < 3; i++)
        free(t1[i]);
    for (int i = 0; i < NTX; i++)
        free(t[i]);
}

static int
s_op_validate(void *arg, bool armed)
{
    vblock_t *v = arg;
    validate_ctx_t ctx = fx_ctx(v->f);
    validated_block_t *sentinel = (validated_block_t *) v, *vb = sentinel;
    vl_err_t err = { "" };
    int rc = validate_block(&ctx, v->block, v->len, &vb, &err);
    if (rc != 0) {
        CHECK(vb == sentinel);
        CHECK(rc == VL_ERR_NOMEM);
        return rc;
    }
    /* Judged: exactly the codes of an unfailing run. */
    CHECK_EQ(vb->view->n_txs, NTX);
    for (int i = 0; i < NTX; i++)
        CHECK_EQ(vb->effects[i].code, v->want[i]);
    validated_block_destroy(&vb);
    return 0;
}

static void
test_alloc_validate_block(void)
{
    fixture_t f;
    fx_open(&f);
    vblock_t v;
    s_vblock(&f, &v);
    CHECK_EQ(s_op_validate(&v, false), 0);   /* the codes themselves */
    CHECK(s_sweep("validate_block", s_op_validate, &v) > 20);
    CHECK_EQ(ledger_height(f.ledger), 1);
    free(v.block);
    fx_close(&f);
}

/* The commit pipeline: an allocation failure while judging or writing is an
 * environment failure (commit_failed, nothing written); then a fresh
 * pipeline commits the block. */
static void
test_alloc_commit_block(void)
{
    fixture_t f;
    fx_open(&f);
    vblock_t v;
    s_vblock(&f, &v);
    commit_config_t cc = { .ledger = f.ledger, .chain_id = FX_CHAIN, .members = &f.g.members,
                           .sigcache = f.cache, .mempool = NULL };
    long n = 1;
    for (; n < SWEEP_MAX; n++) {
        commit_t *cm = commit_new(&cc);
        vl_err_t err = { "" };
        s_arm(n);
        int rc = commit_block(cm, v.block, v.len, COMMIT_GOSSIP, &err);
        bool injected = s_disarm();
        if (!injected) {
            CHECK_EQ(rc, 0);
            CHECK(!commit_failed(cm));
            commit_destroy(&cm);
            break;
        }
        if (rc == 0 || !commit_failed(cm) || ledger_height(f.ledger) != 1) {
            CHECK_FAIL_PREFIX_();
            fprintf(stderr, "commit_block: allocation %ld failed: rc %d, failed %d, height %llu\n",
                    n, rc, commit_failed(cm), (unsigned long long) ledger_height(f.ledger));
            check_failures_++;
        }
        CHECK_EQ(commit_stats(cm)->rejected, 0);
        commit_destroy(&cm);
    }
    fprintf(stderr, "# commit_block: %ld allocations failed one by one\n", n - 1);
    CHECK(n > 20);
    CHECK_EQ(ledger_height(f.ledger), 2);
    Vl__BlockCodes *codes = NULL;
    CHECK_EQ(ledger_block_codes(f.ledger, 2, &codes), 0);
    for (size_t i = 0; codes && i < codes->n_codes; i++)
        CHECK_EQ(codes->codes[i], v.want[i]);
    vl__block_codes__free_unpacked(codes, NULL);
    free(v.block);
    fx_close(&f);
}

/* --- Block building ------------------------------------------------------ */

static int
s_op_data_hash(void *arg, bool armed)
{
    uint8_t *txs[2] = { (uint8_t *) "a", (uint8_t *) "bc" };
    size_t lens[2] = { 1, 2 };
    uint8_t out[32], want[32];
    memset(out, 0x5a, sizeof out);
    int rc = block_data_hash(txs, lens, 2, out);
    if (rc != 0) {
        CHECK_EQ(rc, VL_ERR_NOMEM);
        return rc;
    }
    uint8_t d[64];
    vl_sha256("a", 1, d);
    vl_sha256("bc", 2, d + 32);
    vl_sha256(d, 64, want);
    CHECK(memcmp(out, want, 32) == 0);
    return 0;
}

static void
test_alloc_data_hash(void)
{
    CHECK(s_sweep("block_data_hash", s_op_data_hash, NULL) >= 1);
}

typedef struct {
    fixture_t *f;
    mempool_t *pool;
} build_t;

static int
s_op_build(void *arg, bool armed)
{
    build_t *b = arg;
    orderer_config_t c = { 10, 1 << 20, 20 };
    orderer_tip_t tip = { FX_CHAIN, ledger_height(b->f->ledger), ledger_last_hash(b->f->ledger),
                          ledger_state_hash(b->f->ledger) };
    uint8_t *sentinel = (uint8_t *) b, *out = sentinel;
    size_t len = 777;
    int rc = orderer_build_block(&c, b->pool, &tip, b->f->validator, 5000, &out, &len);
    if (rc != 0) {
        CHECK_EQ(rc, VL_ERR_NOMEM);
        CHECK(out == sentinel && len == 777);
        return rc;
    }
    /* What was built is a good block (checked unarmed: the failure, if
     * one was injected, stays recorded). */
    s_countdown = 0;
    validate_ctx_t ctx = fx_ctx(b->f);
    validated_block_t *vb = NULL;
    vl_err_t err = { "" };
    CHECK_EQ(validate_block(&ctx, out, len, &vb, &err), 0);
    CHECK(vb && vb->n_valid == 3);
    validated_block_destroy(&vb);
    free(out);
    return 0;
}

static void
test_alloc_orderer_build_block(void)
{
    fixture_t f;
    fx_open(&f);
    build_t b = { &f, mempool_new(10, 1 << 20) };
    for (int i = 0; i < 3; i++) {
        char key[8];
        snprintf(key, sizeof key, "b%d", i);
        size_t len;
        uint8_t *tx = fx_tx(&f, &(fx_tx_t) { .nonce = 40 + (uint64_t) i, .write_key = key,
                                             .write_value = "v" }, &len);
        uint8_t id[32];
        tx_id(tx, len, id);
        CHECK_EQ(mempool_add(b.pool, id, &tx, len, 0, i), 0);
    }
    CHECK(s_sweep("orderer_build_block", s_op_build, &b) >= 5);
    CHECK_EQ(mempool_count(b.pool), 3);
    mempool_destroy(&b.pool);
    fx_close(&f);
}

/* --- block views --------------------------------------------------------- */

static int
s_op_view(void *arg, bool armed)
{
    vblock_t *v = arg;
    block_view_t *sentinel = (block_view_t *) v, *view = sentinel;
    vl_err_t err = { "" };
    int rc = block_view_new(v->block, v->len, FX_CHAIN, BLOCK_VIEW_PARSE_TXS, &view, &err);
    if (rc != 0) {
        CHECK_EQ(rc, VL_ERR_NOMEM);
        CHECK(view == sentinel);
        return rc;
    }
    CHECK_EQ(view->n_txs, NTX);
    CHECK(view->txs[6] == NULL && view->parse_codes[6] == VL__TX_CODE__TX_MALFORMED);
    CHECK(view->txs[0] != NULL);
    block_view_destroy(&view);
    return 0;
}

static void
test_alloc_block_view(void)
{
    fixture_t f;
    fx_open(&f);
    vblock_t v;
    s_vblock(&f, &v);
    CHECK(s_sweep("block_view_new", s_op_view, &v) >= NTX);
    free(v.block);
    fx_close(&f);
}

/* --- The contract VM: read, write and range sets ------------------------- */

typedef struct {
    vm_t *vm;
    fake_state_t fs;
    char *want_json;             /* the unfailing run's answer ... */
    uint8_t *want_endorsed;      /* ... and its endorsed result */
    size_t want_len;
} vmrun_t;

static const uint8_t s_vm_txid[32] = { 1, 2, 3 };

static int
s_op_vm(void *arg, bool armed)
{
    vmrun_t *r = arg;
    vm_state_t view = fake_view(&r->fs);
    vm_request_t req = { .contract = "t", .function = "f", .args_json = "{\"n\":3}",
                         .caller_did = "did:vl:a11ce00000000000000000000000000000000000",
                         .txid = s_vm_txid, .now_ms = 1234 };
    vm_result_t res;
    int rc = vm_execute(r->vm, &view, &req, &res);
    s_countdown = 0;   /* the checks below run unarmed */
    if (rc == 0 && !r->want_endorsed) {
        /* The reference run. */
        Vl__EndorsedResult *er = res.endorsed
                                     ? vl__endorsed_result__unpack(NULL, res.endorsed_len,
                                                                   res.endorsed)
                                     : NULL;
        CHECK(er && er->n_reads >= 2 && er->n_writes == 5 && er->n_ranges == 1);
        if (er)
            vl__endorsed_result__free_unpacked(er, NULL);
        r->want_json = strdup(res.result_json);
        r->want_endorsed = malloc(res.endorsed_len);
        memcpy(r->want_endorsed, res.endorsed, res.endorsed_len);
        r->want_len = res.endorsed_len;
    } else if (rc == 0) {
        /* Succeeded (maybe after Lua recovered from the failure): exactly
         * the unfailing run's result, nothing lost from the rw sets. */
        CHECK(res.endorsed_len == r->want_len
              && memcmp(res.endorsed, r->want_endorsed, r->want_len) == 0);
        CHECK_STR(res.result_json, r->want_json);
    } else {
        CHECK(res.endorsed == NULL);
        CHECK(res.error[0] != 0);
    }
    vm_result_clear(&res);
    return rc;
}

static void
test_alloc_vm_rwset(void)
{
    vmrun_t r;
    memset(&r, 0, sizeof r);
    fake_put(&r.fs, "item/a", "\"A\"");
    fake_put(&r.fs, "item/b", "\"B\"");
    fake_put(&r.fs, "count", "1");
    fake_contract(&r.fs, "t",
                  "return { f = function(a) "
                  "local c = vl.get('count') "
                  "local seen = {} "
                  "for _, kv in ipairs(vl.range('item/')) do seen[#seen + 1] = kv.key end "
                  "vl.put('count', c + a.n) vl.put('item/c', {x = a.n, s = 'long string value "
                  "that is not interned by lua at all'}) vl.del('item/a') "
                  "vl.put('log/' .. vl.txid(), seen) vl.put('m', vl.get('missing') == nil) "
                  "return {c = c, seen = seen} end }",
                  NULL);
    vm_config_t cfg = vm_config_default();
    r.vm = vm_new(&cfg);
    CHECK(r.vm != NULL);
    /* A run unarmed first: the VM's caches (compiled contract) are warm, and
     * the answer is known. */
    CHECK_EQ(s_op_vm(&r, false), 0);
    CHECK(r.want_endorsed != NULL);
    CHECK(s_sweep_ex("vm_execute", s_op_vm, &r, true) >= 10);
    vm_destroy(&r.vm);
    free(r.want_json);
    free(r.want_endorsed);
    fake_free(&r.fs);
}

int
main(void)
{
    RUN(test_alloc_tx_parse);
    RUN(test_alloc_data_hash);
    RUN(test_alloc_block_view);
    RUN(test_alloc_validate_block);
    RUN(test_alloc_commit_block);
    RUN(test_alloc_orderer_build_block);
    RUN(test_alloc_vm_rwset);
    return check_done();
}
