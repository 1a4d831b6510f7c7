/* test_ledger.c — ledger/ (ledger.h and the store.h wrapper under it):
 * every public function and every error it returns, including LevelDB lock,
 * corruption and injected write faults. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "codec.h"
#include "crypto.h"
#include "ledger.h"
#include "store.h"
#include "vledger.pb-c.h"

/* --- Helpers ------------------------------------------------------------- */

static int
s_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    return remove(path);
}

static void
s_rm_rf(const char *dir)
{
    nftw(dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh data directory path (not yet created: ledger_open creates it). */
static void
s_fresh_dir(char *out, size_t size)
{
    char base[200];
    CHECK(check_tmpdir(base, sizeof base) != NULL);
    snprintf(out, size, "%s/ledger", base);
}

static void
s_cleanup(const char *dir)
{
    char base[256];
    snprintf(base, sizeof base, "%s", dir);
    char *slash = strrchr(base, '/');
    if (slash)
        *slash = 0;
    s_rm_rf(base);
}

static const uint8_t ZERO[32];

/* Builds a minimal but valid Block (packed header with chain, height,
 * previous hash) plus the effects ledger_commit_block takes. */
#define TB_MAX_TXS 16
#define TB_MAX_WRITES 32
typedef struct {
    uint64_t height;
    uint8_t prev[32];
    Vl__WriteItem items[TB_MAX_WRITES];
    const Vl__WriteItem *ptrs[TB_MAX_WRITES];
    size_t n_items;
    ledger_tx_effect_t txs[TB_MAX_TXS];
    size_t n_txs;
    uint8_t *bytes;
    ledger_block_t blk;
} tblock_t;

static void
tb_init(tblock_t *b, uint64_t height, const uint8_t *prev)
{
    memset(b, 0, sizeof *b);
    b->height = height;
    if (prev)
        memcpy(b->prev, prev, 32);
}

static void
tb_tx(tblock_t *b, int code, const char *name)
{
    CHECK(b->n_txs < TB_MAX_TXS);
    ledger_tx_effect_t *tx = &b->txs[b->n_txs++];
    vl_sha256(name, strlen(name), tx->txid);
    tx->code = code;
    tx->writes = &b->ptrs[b->n_items];
    tx->n_writes = 0;
}

static void
tb_write(tblock_t *b, const char *key, const char *value, bool is_delete)
{
    CHECK(b->n_items < TB_MAX_WRITES && b->n_txs > 0);
    Vl__WriteItem *w = &b->items[b->n_items];
    vl__write_item__init(w);
    w->key = (char *) key;
    w->value.data = (uint8_t *) value;
    w->value.len = value ? strlen(value) : 0;
    w->is_delete = is_delete;
    b->ptrs[b->n_items++] = w;
    b->txs[b->n_txs - 1].n_writes++;
}

static void
tb_put(tblock_t *b, const char *key, const char *value)
{
    tb_write(b, key, value, false);
}

static void
tb_del(tblock_t *b, const char *key)
{
    tb_write(b, key, NULL, true);
}

static const ledger_block_t *
tb_finish(tblock_t *b, const char *chain)
{
    Vl__BlockHeader hdr = VL__BLOCK_HEADER__INIT;
    hdr.chain_id = (char *) chain;
    hdr.height = b->height;
    if (b->height > 0) {
        hdr.previous_hash.data = b->prev;
        hdr.previous_hash.len = 32;
    }
    hdr.timestamp_ms = 1700000000000 + (int64_t) b->height;
    size_t hlen = vl__block_header__get_packed_size(&hdr);
    uint8_t *hbytes = malloc(hlen);
    vl__block_header__pack(&hdr, hbytes);

    Vl__Block blk = VL__BLOCK__INIT;
    blk.header.data = hbytes;
    blk.header.len = hlen;
    ProtobufCBinaryData txs[TB_MAX_TXS];
    for (size_t i = 0; i < b->n_txs; i++) {
        txs[i].data = b->txs[i].txid;
        txs[i].len = 32;
    }
    blk.transactions = txs;
    blk.n_transactions = b->n_txs;
    size_t len = vl__block__get_packed_size(&blk);
    b->bytes = malloc(len);
    vl__block__pack(&blk, b->bytes);

    b->blk.height = b->height;
    b->blk.block = b->bytes;
    b->blk.block_len = len;
    vl_sha256(hbytes, hlen, b->blk.block_hash);
    b->blk.chain_id = chain;
    b->blk.txs = b->txs;
    b->blk.n_txs = b->n_txs;
    free(hbytes);
    return &b->blk;
}

static void
tb_free(tblock_t *b)
{
    free(b->bytes);
    b->bytes = NULL;
}

/* Commits a block with one valid tx putting key=value; returns rc. */
static int
s_commit_one(ledger_t *l, uint64_t height, const char *chain, const char *key, const char *value)
{
    tblock_t b;
    tb_init(&b, height, ledger_last_hash(l));
    char name[64];
    snprintf(name, sizeof name, "tx-%s-%" PRIu64 "-%s", chain, height, key);
    tb_tx(&b, VL__TX_CODE__TX_VALID, name);
    tb_put(&b, key, value);
    vl_err_t err = { "" };
    int rc = ledger_commit_block(l, tb_finish(&b, chain), &err);
    tb_free(&b);
    return rc;
}

static ledger_t *
s_open(const char *dir)
{
    ledger_t *l = NULL;
    vl_err_t err = { "" };
    int rc = ledger_open(dir, NULL, NULL, &l, &err);
    if (rc != 0)
        fprintf(stderr, "ledger_open(%s): %s\n", dir, err.msg);
    CHECK_EQ(rc, 0);
    return l;
}

/* Expects key to hold value (and version, if ver_block >= 0). */
static void
s_expect(ledger_t *l, const char *key, const char *value, long long ver_block, long long ver_tx)
{
    char *v = NULL;
    size_t len = 0;
    vl_version_t ver = { 99, 99 };
    int rc = ledger_get(l, key, &v, &len, &ver);
    CHECK_EQ(rc, 0);
    if (rc != 0)
        return;
    CHECK_STR(v, value);
    CHECK_EQ(len, strlen(value));
    if (ver_block >= 0) {
        CHECK_EQ(ver.block, ver_block);
        CHECK_EQ(ver.tx, ver_tx);
    }
    free(v);
}

static void
s_expect_absent(ledger_t *l, const char *key)
{
    char *v = (char *) "untouched";
    size_t len = 12345;
    CHECK_EQ(ledger_get(l, key, &v, &len, NULL), VL_ERR_NOT_FOUND);
    CHECK_STR(v, "untouched"); /* outputs untouched on failure */
    CHECK_EQ(len, 12345);
}

static void
s_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CREAT, 0644);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK_EQ(write(fd, data, len), (long long) len);
    close(fd);
}

/* --- Open, create, reopen ------------------------------------------------ */

static void
test_open_create_reopen(void)
{
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_open(dir);
    if (!l)
        return;
    CHECK(!ledger_has_genesis(l));
    CHECK_EQ(ledger_height(l), 0);
    CHECK(memcmp(ledger_last_hash(l), ZERO, 32) == 0);
    CHECK(memcmp(ledger_state_hash(l), ZERO, 32) == 0);

    CHECK_EQ(s_commit_one(l, 0, "c1", "did/a", "{\"name\":\"a\"}"), 0);
    CHECK(ledger_has_genesis(l));
    uint8_t genesis[32];
    memcpy(genesis, ledger_last_hash(l), 32);
    CHECK(memcmp(ledger_state_hash(l), ZERO, 32) != 0); /* genesis folds too */
    CHECK_EQ(s_commit_one(l, 1, "c1", "vehicle/V1", "{\"vin\":\"V1\"}"), 0);
    CHECK_EQ(ledger_height(l), 1);
    uint8_t last[32], state[32];
    memcpy(last, ledger_last_hash(l), 32);
    memcpy(state, ledger_state_hash(l), 32);
    ledger_close(&l);
    CHECK(l == NULL);
    ledger_close(&l); /* accepts NULL */
    ledger_close(NULL);

    /* Reopen (with the right identity) keeps height, hashes and state. */
    vl_err_t err = { "" };
    CHECK_EQ(ledger_open(dir, "c1", genesis, &l, &err), 0);
    if (!l)
        return;
    CHECK(ledger_has_genesis(l));
    CHECK_EQ(ledger_height(l), 1);
    CHECK(memcmp(ledger_last_hash(l), last, 32) == 0);
    CHECK(memcmp(ledger_state_hash(l), state, 32) == 0);
    s_expect(l, "did/a", "{\"name\":\"a\"}", 0, 0);
    s_expect(l, "vehicle/V1", "{\"vin\":\"V1\"}", 1, 0);
    /* And it keeps committing from there. */
    CHECK_EQ(s_commit_one(l, 2, "c1", "did/b", "{}"), 0);
    CHECK_EQ(ledger_height(l), 2);
    ledger_close(&l);
    s_cleanup(dir);
}

static void
test_open_errors_io(void)
{
    /* A path whose parent does not exist, and a plain file. */
    ledger_t *l = NULL;
    vl_err_t err = { "" };
    CHECK_EQ(ledger_open("/nonexistent-vl/a/b", NULL, NULL, &l, &err), VL_ERR_IO);
    CHECK_CONTAINS(err.msg, "/nonexistent-vl/a/b");
    CHECK(l == NULL);
    char base[200], file[256];
    CHECK(check_tmpdir(base, sizeof base) != NULL);
    snprintf(file, sizeof file, "%s/plain", base);
    s_write_file(file, "x", 1);
    CHECK_EQ(ledger_open(file, NULL, NULL, &l, &err), VL_ERR_IO);
    CHECK_CONTAINS(err.msg, "cannot read data directory");
    CHECK(l == NULL);
    s_rm_rf(base);
}

/* --- Commits -------------------------------------------------------------- */

static void
test_commit_genesis_then_blocks(void)
{
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_open(dir);
    if (!l)
        return;
    tblock_t g;
    tb_init(&g, 0, NULL);
    tb_tx(&g, VL__TX_CODE__TX_VALID, "g0");
    tb_put(&g, "did/a", "A0");
    tb_put(&g, "wallet/a", "100");
    tb_tx(&g, VL__TX_CODE__TX_VALID, "g1");
    tb_put(&g, "did/b", "B0");
    vl_err_t err = { "" };
    CHECK_EQ(ledger_commit_block(l, tb_finish(&g, "c"), &err), 0);
    CHECK(memcmp(ledger_last_hash(l), g.blk.block_hash, 32) == 0);

    tblock_t b1;
    tb_init(&b1, 1, ledger_last_hash(l));
    tb_tx(&b1, VL__TX_CODE__TX_VALID, "t0");
    tb_put(&b1, "wallet/a", "90");
    tb_tx(&b1, VL__TX_CODE__TX_VALID, "t1");
    tb_tx(&b1, VL__TX_CODE__TX_VALID, "t2"); /* a tx with no writes is fine */
    tb_put(&b1, "wallet/b", "10");
    CHECK_EQ(ledger_commit_block(l, tb_finish(&b1, "c"), &err), 0);
    CHECK_EQ(ledger_height(l), 1);

    /* Versions are {height, tx index}. */
    s_expect(l, "did/a", "A0", 0, 0);
    s_expect(l, "did/b", "B0", 0, 1);
    s_expect(l, "wallet/a", "90", 1, 0);
    s_expect(l, "wallet/b", "10", 1, 2);
    s_expect_absent(l, "did/c");
    char *v = NULL;
    size_t len = 0;
    CHECK_EQ(ledger_get(l, "did/a", &v, &len, NULL), 0); /* version may be NULL */
    free(v);

    /* Blocks come back byte for byte; past the tip is NOT_FOUND. */
    uint8_t *bytes = NULL;
    CHECK_EQ(ledger_block_get(l, 0, &bytes, &len), 0);
    CHECK_EQ(len, g.blk.block_len);
    CHECK(bytes && memcmp(bytes, g.bytes, len) == 0);
    free(bytes);
    CHECK_EQ(ledger_block_get(l, 1, &bytes, &len), 0);
    CHECK(bytes && len == b1.blk.block_len && memcmp(bytes, b1.bytes, len) == 0);
    free(bytes);
    bytes = NULL;
    CHECK_EQ(ledger_block_get(l, 2, &bytes, &len), VL_ERR_NOT_FOUND);
    CHECK(bytes == NULL);

    /* Codes. */
    Vl__BlockCodes *codes = NULL;
    CHECK_EQ(ledger_block_codes(l, 1, &codes), 0);
    CHECK(codes && codes->n_codes == 3);
    vl__block_codes__free_unpacked(codes, NULL);
    codes = NULL;
    CHECK_EQ(ledger_block_codes(l, 7, &codes), VL_ERR_NOT_FOUND);
    CHECK(codes == NULL);

    /* Tx index. */
    ledger_tx_info_t info = { 0 };
    CHECK_EQ(ledger_tx_get(l, b1.txs[2].txid, &info), 0);
    CHECK_EQ(info.height, 1);
    CHECK_EQ(info.index, 2);
    CHECK_EQ(info.code, VL__TX_CODE__TX_VALID);
    CHECK_EQ(ledger_tx_get(l, g.txs[1].txid, &info), 0);
    CHECK_EQ(info.height, 0);
    CHECK_EQ(info.index, 1);
    uint8_t unknown[32];
    vl_sha256("never", 5, unknown);
    info.height = 77;
    CHECK_EQ(ledger_tx_get(l, unknown, &info), VL_ERR_NOT_FOUND);
    CHECK_EQ(info.height, 77);

    tb_free(&g);
    tb_free(&b1);
    ledger_close(&l);
    s_cleanup(dir);
}

static void
test_wrong_height_refused(void)
{
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_open(dir);
    if (!l)
        return;
    vl_err_t err = { "" };
    /* Before genesis only height 0 is accepted. */
    tblock_t b;
    tb_init(&b, 1, NULL);
    tb_tx(&b, VL__TX_CODE__TX_VALID, "early");
    tb_put(&b, "k", "v");
    CHECK_EQ(ledger_commit_block(l, tb_finish(&b, "c"), &err), VL_ERR_STATE);
    CHECK_CONTAINS(err.msg, "expected 0");
    CHECK(!ledger_has_genesis(l));
    tb_free(&b);
    s_expect_absent(l, "k");

    CHECK_EQ(s_commit_one(l, 0, "c", "g", "1"), 0);
    CHECK_EQ(s_commit_one(l, 1, "c", "a", "1"), 0);
    uint8_t last[32], state[32];
    memcpy(last, ledger_last_hash(l), 32);
    memcpy(state, ledger_state_hash(l), 32);

    uint64_t wrong[] = { 0, 1, 3, 100 };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        tb_init(&b, wrong[i], last);
        tb_tx(&b, VL__TX_CODE__TX_VALID, "wrong");
        tb_put(&b, "k", "v");
        err.msg[0] = 0;
        CHECK_EQ(ledger_commit_block(l, tb_finish(&b, "c"), &err), VL_ERR_STATE);
        CHECK_CONTAINS(err.msg, "expected 2");
        tb_free(&b);
    }
    /* Nothing was written and the tip did not move. */
    CHECK_EQ(ledger_height(l), 1);
    CHECK(memcmp(ledger_last_hash(l), last, 32) == 0);
    CHECK(memcmp(ledger_state_hash(l), state, 32) == 0);
    s_expect_absent(l, "k");
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_EQ(ledger_block_get(l, 3, &bytes, &len), VL_ERR_NOT_FOUND);
    uint8_t txid[32];
    vl_sha256("wrong", 5, txid);
    ledger_tx_info_t info;
    CHECK_EQ(ledger_tx_get(l, txid, &info), VL_ERR_NOT_FOUND);
    ledger_close(&l);

    /* ... also after a reopen. */
    l = s_open(dir);
    if (l) {
        CHECK_EQ(ledger_height(l), 1);
        s_expect_absent(l, "k");
    }
    ledger_close(&l);
    s_cleanup(dir);
}

static void
test_invalid_txs_recorded_not_applied(void)
{
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_open(dir);
    if (!l)
        return;
    CHECK_EQ(s_commit_one(l, 0, "c", "genesis", "1"), 0);
    tblock_t b;
    tb_init(&b, 1, ledger_last_hash(l));
    tb_tx(&b, VL__TX_CODE__TX_VALID, "ok0");
    tb_put(&b, "a", "A");
    tb_tx(&b, VL__TX_CODE__TX_MVCC_CONFLICT, "bad1");
    tb_put(&b, "b", "B");
    tb_put(&b, "a", "clobbered");
    tb_tx(&b, VL__TX_CODE__TX_POLICY_FAILURE, "bad2");
    tb_del(&b, "genesis");
    tb_tx(&b, VL__TX_CODE__TX_VALID, "ok3");
    tb_put(&b, "c", "C");
    vl_err_t err = { "" };
    CHECK_EQ(ledger_commit_block(l, tb_finish(&b, "c"), &err), 0);

    s_expect(l, "a", "A", 1, 0);
    s_expect_absent(l, "b");
    s_expect(l, "genesis", "1", 0, 0);
    s_expect(l, "c", "C", 1, 3);

    ledger_tx_info_t info;
    CHECK_EQ(ledger_tx_get(l, b.txs[1].txid, &info), 0);
    CHECK_EQ(info.height, 1);
    CHECK_EQ(info.index, 1);
    CHECK_EQ(info.code, VL__TX_CODE__TX_MVCC_CONFLICT);
    CHECK_EQ(ledger_tx_get(l, b.txs[2].txid, &info), 0);
    CHECK_EQ(info.index, 2);
    CHECK_EQ(info.code, VL__TX_CODE__TX_POLICY_FAILURE);
    CHECK_EQ(ledger_tx_get(l, b.txs[3].txid, &info), 0);
    CHECK_EQ(info.code, VL__TX_CODE__TX_VALID);

    Vl__BlockCodes *codes = NULL;
    CHECK_EQ(ledger_block_codes(l, 1, &codes), 0);
    if (codes) {
        CHECK_EQ(codes->n_codes, 4);
        if (codes->n_codes == 4) {
            CHECK_EQ(codes->codes[0], VL__TX_CODE__TX_VALID);
            CHECK_EQ(codes->codes[1], VL__TX_CODE__TX_MVCC_CONFLICT);
            CHECK_EQ(codes->codes[2], VL__TX_CODE__TX_POLICY_FAILURE);
            CHECK_EQ(codes->codes[3], VL__TX_CODE__TX_VALID);
        }
        vl__block_codes__free_unpacked(codes, NULL);
    }
    tb_free(&b);
    ledger_close(&l);
    s_cleanup(dir);
}

static void
test_duplicate_keeps_original_index(void)
{
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_open(dir);
    if (!l)
        return;
    CHECK_EQ(s_commit_one(l, 0, "c", "g", "1"), 0);
    tblock_t b;
    tb_init(&b, 1, ledger_last_hash(l));
    tb_tx(&b, VL__TX_CODE__TX_VALID, "original");
    tb_put(&b, "x", "1");
    vl_err_t err = { "" };
    CHECK_EQ(ledger_commit_block(l, tb_finish(&b, "c"), &err), 0);
    tb_free(&b);

    /* The same txid replayed in block 2 (and twice more in it). */
    tb_init(&b, 2, ledger_last_hash(l));
    tb_tx(&b, VL__TX_CODE__TX_VALID, "other");
    tb_tx(&b, VL__TX_CODE__TX_DUPLICATE_TXID, "original");
    tb_put(&b, "x", "2");
    CHECK_EQ(ledger_commit_block(l, tb_finish(&b, "c"), &err), 0);
    ledger_tx_info_t info;
    CHECK_EQ(ledger_tx_get(l, b.txs[1].txid, &info), 0);
    CHECK_EQ(info.height, 1);
    CHECK_EQ(info.index, 0);
    CHECK_EQ(info.code, VL__TX_CODE__TX_VALID);
    s_expect(l, "x", "1", 1, 0);
    Vl__BlockCodes *codes = NULL;
    CHECK_EQ(ledger_block_codes(l, 2, &codes), 0);
    if (codes) {
        CHECK_EQ(codes->n_codes, 2);
        if (codes->n_codes == 2)
            CHECK_EQ(codes->codes[1], VL__TX_CODE__TX_DUPLICATE_TXID);
        vl__block_codes__free_unpacked(codes, NULL);
    }
    tb_free(&b);
    ledger_close(&l);
    s_cleanup(dir);
}

static void
test_empty_block(void)
{
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_open(dir);
    if (!l)
        return;
    tblock_t b;
    tb_init(&b, 0, NULL);
    vl_err_t err = { "" };
    CHECK_EQ(ledger_commit_block(l, tb_finish(&b, "c"), &err), 0);
    tb_free(&b);
    /* S_0 = SHA-256(zero || be64 0) for a genesis without writes. */
    uint8_t in[40] = { 0 }, want[32];
    vl_sha256(in, sizeof in, want);
    CHECK(memcmp(ledger_state_hash(l), want, 32) == 0);
    Vl__BlockCodes *codes = NULL;
    CHECK_EQ(ledger_block_codes(l, 0, &codes), 0);
    CHECK(codes && codes->n_codes == 0);
    vl__block_codes__free_unpacked(codes, NULL);
    tb_init(&b, 1, ledger_last_hash(l));
    CHECK_EQ(ledger_commit_block(l, tb_finish(&b, "c"), &err), 0);
    CHECK_EQ(ledger_height(l), 1);
    tb_free(&b);
    ledger_close(&l);
    s_cleanup(dir);
}

static void
test_commit_asserts_block_hash(void)
{
    /* A block_hash that is not SHA-256(header) is a caller bug: assert. */
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_open(dir);
    if (!l)
        return;
    tblock_t b;
    tb_init(&b, 0, NULL);
    tb_finish(&b, "c");
    b.blk.block_hash[0] ^= 1;
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        vl_err_t err;
        ledger_commit_block(l, &b.blk, &err);
        _exit(0);
    }
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(!ledger_has_genesis(l));
    tb_free(&b);
    ledger_close(&l);
    s_cleanup(dir);
}

/* --- Deletes, history, range ---------------------------------------------- */

typedef struct {
    int n;
    char keys[16][32];
    char values[16][32];
    vl_version_t versions[16];
    bool deletes[16];
    uint8_t txids[16][32];
    int stop_at; /* return 7 at this call index, -1 never */
} collect_t;

static int
s_collect_range(void *arg, const char *key, size_t key_len, const char *value, size_t value_len,
                vl_version_t version)
{
    collect_t *c = arg;
    CHECK_EQ(strlen(key), key_len); /* NUL terminated */
    CHECK_EQ(strlen(value), value_len);
    if (c->n < 16) {
        snprintf(c->keys[c->n], 32, "%s", key);
        snprintf(c->values[c->n], 32, "%s", value);
        c->versions[c->n] = version;
    }
    return c->n++ == c->stop_at ? 7 : 0;
}

static int
s_collect_history(void *arg, vl_version_t version, const uint8_t txid[32], bool is_delete,
                  const char *value, size_t value_len)
{
    collect_t *c = arg;
    CHECK_EQ(strlen(value), value_len);
    if (c->n < 16) {
        snprintf(c->values[c->n], 32, "%s", value);
        c->versions[c->n] = version;
        c->deletes[c->n] = is_delete;
        memcpy(c->txids[c->n], txid, 32);
    }
    return c->n++ == c->stop_at ? 9 : 0;
}

static void
test_deletes(void)
{
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_open(dir);
    if (!l)
        return;
    CHECK_EQ(s_commit_one(l, 0, "c", "key", "v0"), 0);
    tblock_t b;
    tb_init(&b, 1, ledger_last_hash(l));
    tb_tx(&b, VL__TX_CODE__TX_VALID, "del");
    tb_del(&b, "key");
    tb_del(&b, "never-existed"); /* deleting an absent key is harmless */
    vl_err_t err = { "" };
    CHECK_EQ(ledger_commit_block(l, tb_finish(&b, "c"), &err), 0);
    tb_free(&b);
    s_expect_absent(l, "key");
    s_expect_absent(l, "never-existed");
    /* Put again after the delete: a new version. */
    CHECK_EQ(s_commit_one(l, 2, "c", "key", "v2"), 0);
    s_expect(l, "key", "v2", 2, 0);
    /* Put and delete in one block: the later tx wins. */
    tb_init(&b, 3, ledger_last_hash(l));
    tb_tx(&b, VL__TX_CODE__TX_VALID, "p");
    tb_put(&b, "tmp", "t");
    tb_tx(&b, VL__TX_CODE__TX_VALID, "d");
    tb_del(&b, "tmp");
    CHECK_EQ(ledger_commit_block(l, tb_finish(&b, "c"), &err), 0);
    tb_free(&b);
    s_expect_absent(l, "tmp");
    ledger_close(&l);
    s_cleanup(dir);
}

static void
test_history(void)
{
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_open(dir);
    if (!l)
        return;
    CHECK_EQ(s_commit_one(l, 0, "c", "ab", "v0"), 0);
    CHECK_EQ(s_commit_one(l, 1, "c", "abc", "other key"), 0);
    tblock_t b;
    tb_init(&b, 2, ledger_last_hash(l));
    tb_tx(&b, VL__TX_CODE__TX_VALID, "h-put");
    tb_put(&b, "ab", "v2a");
    tb_tx(&b, VL__TX_CODE__TX_MVCC_CONFLICT, "h-bad");
    tb_put(&b, "ab", "never");
    tb_tx(&b, VL__TX_CODE__TX_VALID, "h-del");
    tb_del(&b, "ab");
    vl_err_t err = { "" };
    CHECK_EQ(ledger_commit_block(l, tb_finish(&b, "c"), &err), 0);
    CHECK_EQ(s_commit_one(l, 3, "c", "ab", "v3"), 0);

    collect_t c = { .stop_at = -1 };
    CHECK_EQ(ledger_history(l, "ab", s_collect_history, &c), 0);
    CHECK_EQ(c.n, 4); /* oldest first; "abc" is another key; invalid tx absent */
    if (c.n == 4) {
        CHECK_STR(c.values[0], "v0");
        CHECK_EQ(c.versions[0].block, 0);
        CHECK(!c.deletes[0]);
        CHECK_STR(c.values[1], "v2a");
        CHECK_EQ(c.versions[1].block, 2);
        CHECK_EQ(c.versions[1].tx, 0);
        CHECK(memcmp(c.txids[1], b.txs[0].txid, 32) == 0);
        CHECK(c.deletes[2]);
        CHECK_STR(c.values[2], "");
        CHECK_EQ(c.versions[2].block, 2);
        CHECK_EQ(c.versions[2].tx, 2);
        CHECK(memcmp(c.txids[2], b.txs[2].txid, 32) == 0);
        CHECK_STR(c.values[3], "v3");
        CHECK_EQ(c.versions[3].block, 3);
        CHECK(!c.deletes[3]);
    }
    memset(&c, 0, sizeof c);
    c.stop_at = -1;
    CHECK_EQ(ledger_history(l, "abc", s_collect_history, &c), 0);
    CHECK_EQ(c.n, 1);
    memset(&c, 0, sizeof c);
    c.stop_at = -1;
    CHECK_EQ(ledger_history(l, "a", s_collect_history, &c), 0);
    CHECK_EQ(c.n, 0);
    /* fn stops the walk with its own value. */
    memset(&c, 0, sizeof c);
    c.stop_at = 1;
    CHECK_EQ(ledger_history(l, "ab", s_collect_history, &c), 9);
    CHECK_EQ(c.n, 2);
    tb_free(&b);
    ledger_close(&l);
    s_cleanup(dir);
}

static void
test_range(void)
{
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_open(dir);
    if (!l)
        return;
    tblock_t b;
    tb_init(&b, 0, NULL);
    tb_tx(&b, VL__TX_CODE__TX_VALID, "r0");
    tb_put(&b, "vehicle/V3", "3");
    tb_put(&b, "vehicle/V1", "1");
    tb_put(&b, "vehicle/V2", "2");
    tb_put(&b, "vehicle/V4", "4");
    tb_put(&b, "did/x", "x");
    tb_put(&b, "vehiclez", "z");
    vl_err_t err = { "" };
    CHECK_EQ(ledger_commit_block(l, tb_finish(&b, "c"), &err), 0);
    tb_free(&b);
    tb_init(&b, 1, ledger_last_hash(l));
    tb_tx(&b, VL__TX_CODE__TX_VALID, "r1");
    tb_tx(&b, VL__TX_CODE__TX_VALID, "r2");
    tb_del(&b, "vehicle/V2");
    tb_put(&b, "vehicle/V4", "44");
    CHECK_EQ(ledger_commit_block(l, tb_finish(&b, "c"), &err), 0);
    tb_free(&b);

    collect_t c = { .stop_at = -1 };
    CHECK_EQ(ledger_range(l, "vehicle/", 0, s_collect_range, &c), 0);
    CHECK_EQ(c.n, 3); /* byte order; V2 deleted; "vehiclez" outside the prefix */
    if (c.n == 3) {
        CHECK_STR(c.keys[0], "vehicle/V1");
        CHECK_STR(c.values[0], "1");
        CHECK_EQ(c.versions[0].block, 0);
        CHECK_STR(c.keys[1], "vehicle/V3");
        CHECK_STR(c.keys[2], "vehicle/V4");
        CHECK_STR(c.values[2], "44");
        CHECK_EQ(c.versions[2].block, 1);
        CHECK_EQ(c.versions[2].tx, 1);
    }
    memset(&c, 0, sizeof c);
    c.stop_at = -1;
    CHECK_EQ(ledger_range(l, "vehicle/", 2, s_collect_range, &c), 0);
    CHECK_EQ(c.n, 2);
    memset(&c, 0, sizeof c);
    c.stop_at = -1;
    CHECK_EQ(ledger_range(l, "", 0, s_collect_range, &c), 0);
    CHECK_EQ(c.n, 5);
    if (c.n == 5)
        CHECK_STR(c.keys[0], "did/x");
    memset(&c, 0, sizeof c);
    c.stop_at = -1;
    CHECK_EQ(ledger_range(l, "nothing/", 0, s_collect_range, &c), 0);
    CHECK_EQ(c.n, 0);
    memset(&c, 0, sizeof c);
    c.stop_at = 0;
    CHECK_EQ(ledger_range(l, "vehicle", 0, s_collect_range, &c), 7);
    CHECK_EQ(c.n, 1);
    ledger_close(&l);
    s_cleanup(dir);
}

/* --- State hash ------------------------------------------------------------ */

/* Commits the same three blocks (or a variant with one different value). */
static void
s_feed(ledger_t *l, bool variant, uint8_t hashes[3][32])
{
    vl_err_t err = { "" };
    for (uint64_t h = 0; h < 3; h++) {
        tblock_t b;
        tb_init(&b, h, ledger_last_hash(l));
        tb_tx(&b, VL__TX_CODE__TX_VALID, h == 0 ? "f0" : h == 1 ? "f1" : "f2");
        tb_put(&b, "k1", h == 1 && variant ? "one!" : "one");
        tb_put(&b, "k2", "two");
        tb_tx(&b, VL__TX_CODE__TX_MVCC_CONFLICT, "fx");
        tb_put(&b, "k3", h == 2 && variant ? "ignored-variant" : "ignored");
        if (h == 2) {
            tb_tx(&b, VL__TX_CODE__TX_VALID, "fd");
            tb_del(&b, "k2");
        }
        CHECK_EQ(ledger_commit_block(l, tb_finish(&b, "c"), &err), 0);
        memcpy(hashes[h], ledger_state_hash(l), 32);
        tb_free(&b);
    }
}

static void
test_state_hash_deterministic(void)
{
    char d1[256], d2[256], d3[256];
    s_fresh_dir(d1, sizeof d1);
    s_fresh_dir(d2, sizeof d2);
    s_fresh_dir(d3, sizeof d3);
    ledger_t *a = s_open(d1), *b = s_open(d2), *c = s_open(d3);
    if (!a || !b || !c)
        return;
    uint8_t ha[3][32], hb[3][32], hc[3][32];
    s_feed(a, false, ha);
    s_feed(b, false, hb);
    s_feed(c, true, hc);
    CHECK(memcmp(ha, hb, sizeof ha) == 0);
    CHECK(memcmp(ha[0], hc[0], 32) == 0);
    CHECK(memcmp(ha[1], hc[1], 32) != 0); /* a different write differs ... */
    CHECK(memcmp(ha[2], hc[2], 32) != 0); /* ... and stays different */
    CHECK(memcmp(ha[0], ha[1], 32) != 0);

    /* The fold is exactly the one ledger.h specifies: recompute S_0..S_2. */
    vl_hasher_t *h = vl_hasher_new();
    uint8_t s[32] = { 0 }, be[8], n4[4], flag;
    for (uint64_t height = 0; height < 3; height++) {
        vl_hasher_update(h, s, 32);
        vl_put_be64(be, height);
        vl_hasher_update(h, be, 8);
        const char *wk[3] = { "k1", "k2", "k2" };
        const char *wv[3] = { "one", "two", "" };
        int nw = height == 2 ? 3 : 2;
        for (int i = 0; i < nw; i++) {
            vl_put_be32(n4, (uint32_t) strlen(wk[i]));
            vl_hasher_update(h, n4, 4);
            vl_hasher_update(h, wk[i], strlen(wk[i]));
            flag = i == 2;
            vl_hasher_update(h, &flag, 1);
            vl_put_be32(n4, (uint32_t) strlen(wv[i]));
            vl_hasher_update(h, n4, 4);
            vl_hasher_update(h, wv[i], strlen(wv[i]));
        }
        vl_hasher_final(h, s);
        CHECK(memcmp(s, ha[height], 32) == 0);
    }
    vl_hasher_destroy(&h);

    /* The state hash survives a reopen. */
    ledger_close(&a);
    a = s_open(d1);
    if (a)
        CHECK(memcmp(ledger_state_hash(a), ha[2], 32) == 0);
    ledger_close(&a);
    ledger_close(&b);
    ledger_close(&c);
    s_cleanup(d1);
    s_cleanup(d2);
    s_cleanup(d3);
}

/* --- Identity, lock, corruption ------------------------------------------- */

static void
test_foreign_chain_refused(void)
{
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = NULL;
    vl_err_t err = { "" };
    CHECK_EQ(ledger_open(dir, "alpha", NULL, &l, &err), 0);
    if (!l)
        return;
    /* A genesis for another chain than the one we opened for. */
    CHECK_EQ(s_commit_one(l, 0, "beta", "k", "v"), VL_ERR_FOREIGN);
    CHECK(!ledger_has_genesis(l));
    CHECK_EQ(s_commit_one(l, 0, "alpha", "k", "v"), 0);
    uint8_t genesis[32];
    memcpy(genesis, ledger_last_hash(l), 32);
    char hex[65];
    vl_hex_encode(genesis, 32, hex);
    ledger_close(&l);

    CHECK_EQ(ledger_open(dir, "beta", NULL, &l, &err), VL_ERR_FOREIGN);
    CHECK(l == NULL);
    CHECK_CONTAINS(err.msg, "belongs to chain alpha");
    CHECK_CONTAINS(err.msg, "not beta");
    CHECK_CONTAINS(err.msg, dir);
    hex[16] = 0;
    CHECK_CONTAINS(err.msg, hex);

    uint8_t other[32];
    vl_sha256("other genesis", 13, other);
    CHECK_EQ(ledger_open(dir, "alpha", other, &l, &err), VL_ERR_FOREIGN);
    CHECK(l == NULL);
    CHECK_CONTAINS(err.msg, "belongs to chain alpha");
    CHECK_EQ(ledger_open(dir, NULL, other, &l, &err), VL_ERR_FOREIGN);

    CHECK_EQ(ledger_open(dir, "alpha", genesis, &l, &err), 0);
    ledger_close(&l);
    CHECK_EQ(ledger_open(dir, NULL, NULL, &l, &err), 0);
    ledger_close(&l);

    /* A genesis whose hash is not the one we opened for. */
    char dir2[256];
    s_fresh_dir(dir2, sizeof dir2);
    CHECK_EQ(ledger_open(dir2, NULL, other, &l, &err), 0);
    if (l) {
        CHECK_EQ(s_commit_one(l, 0, "alpha", "k", "v"), VL_ERR_FOREIGN);
        CHECK(!ledger_has_genesis(l));
    }
    ledger_close(&l);
    s_cleanup(dir);
    s_cleanup(dir2);
}

static const char *self_exe;

static void
test_second_open_locked(void)
{
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_open(dir);
    if (!l)
        return;
    /* A second handle in this process ... */
    ledger_t *l2 = NULL;
    vl_err_t err = { "" };
    CHECK_EQ(ledger_open(dir, NULL, NULL, &l2, &err), VL_ERR_LOCKED);
    CHECK(l2 == NULL);
    CHECK_CONTAINS(err.msg, "is in use by another vledgerd (LevelDB lock held)");
    CHECK_CONTAINS(err.msg, dir);

    /* ... and another process (this binary re-executed, see main). This runs
     * after the in-process attempt on purpose: LevelDB alone would have let
     * that attempt drop our fcntl lock (store.c's top comment). */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        execl(self_exe, self_exe, "--try-open", dir, (char *) NULL);
        _exit(127);
    }
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), -VL_ERR_LOCKED);

    /* Once closed, the directory opens again. */
    ledger_close(&l);
    CHECK_EQ(ledger_open(dir, NULL, NULL, &l2, &err), 0);
    ledger_close(&l2);
    s_cleanup(dir);
}

static ledger_t *
s_make_two_blocks(const char *dir)
{
    ledger_t *l = s_open(dir);
    if (!l)
        return NULL;
    CHECK_EQ(s_commit_one(l, 0, "c", "a", "1"), 0);
    CHECK_EQ(s_commit_one(l, 1, "c", "b", "2"), 0);
    return l;
}

static void
test_not_a_ledger_refused(void)
{
    vl_err_t err = { "" };
    ledger_t *l = NULL;
    /* A non-empty directory without a database. */
    char base[200], file[256];
    CHECK(check_tmpdir(base, sizeof base) != NULL);
    snprintf(file, sizeof file, "%s/notes.txt", base);
    s_write_file(file, "hello", 5);
    CHECK_EQ(ledger_open(base, NULL, NULL, &l, &err), VL_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "holds no ledger database");
    CHECK(l == NULL);
    s_rm_rf(base);

    /* A LevelDB database without the format marker. */
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    store_t *s = NULL;
    CHECK_EQ(store_open(dir, &s, &err), 0);
    store_batch_t *batch = store_batch_new();
    if (s && batch) {
        store_batch_put(batch, "foo", 3, "bar", 3);
        CHECK_EQ(store_write(s, batch, &err), 0);
    }
    store_close(&s);
    CHECK_EQ(ledger_open(dir, NULL, NULL, &l, &err), VL_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "not a vledger ledger");

    /* A different format marker. */
    CHECK_EQ(store_open(dir, &s, &err), 0);
    if (s && batch) {
        store_batch_clear(batch);
        store_batch_put(batch, "m:format", 8, "vledger-ledger-9\n", 17);
        CHECK_EQ(store_write(s, batch, &err), 0);
    }
    store_close(&s);
    CHECK_EQ(ledger_open(dir, NULL, NULL, &l, &err), VL_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "format \"vledger-ledger-9?\"");
    store_batch_destroy(&batch);
    s_cleanup(dir);
}

static void
test_corrupt_current_refused(void)
{
    char dir[256], path[300];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_make_two_blocks(dir);
    ledger_close(&l);
    snprintf(path, sizeof path, "%s/CURRENT", dir);
    s_write_file(path, "garbage", 7);
    vl_err_t err = { "" };
    CHECK_EQ(ledger_open(dir, NULL, NULL, &l, &err), VL_ERR_CORRUPT);
    CHECK(l == NULL);
    CHECK_CONTAINS(err.msg, "is corrupt: Corruption:");
    CHECK_CONTAINS(err.msg, dir);

    /* A database that lost CURRENT is not silently replaced by a new one. */
    unlink(path);
    CHECK_EQ(ledger_open(dir, NULL, NULL, &l, &err), VL_ERR_CORRUPT);
    CHECK(l == NULL);
    s_cleanup(dir);
}

static void
test_corrupt_log_refused(void)
{
    char dir[256], path[300];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_make_two_blocks(dir);
    ledger_close(&l);
    /* The committed blocks sit in the write-ahead log (*.log): garble it,
     * a full log block's worth so LevelDB cannot take it for a torn tail. */
    DIR *d = opendir(dir);
    int garbled = 0;
    struct dirent *e;
    static uint8_t junk[40000];
    memset(junk, 0xab, sizeof junk);
    while (d && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".log") == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            s_write_file(path, junk, sizeof junk);
            garbled++;
        }
    }
    if (d)
        closedir(d);
    CHECK(garbled > 0);
    vl_err_t err = { "" };
    CHECK_EQ(ledger_open(dir, NULL, NULL, &l, &err), VL_ERR_CORRUPT);
    CHECK(l == NULL);
    CHECK_CONTAINS(err.msg, "is corrupt: Corruption:");
    s_cleanup(dir);
}

/* Rewrites one meta/store key of a closed ledger through the store seam. */
static void
s_poke(const char *dir, const char *key, size_t key_len, const void *value, size_t value_len,
       bool del)
{
    store_t *s = NULL;
    vl_err_t err = { "" };
    CHECK_EQ(store_open(dir, &s, &err), 0);
    store_batch_t *batch = store_batch_new();
    if (s && batch) {
        if (del)
            store_batch_delete(batch, key, key_len);
        else
            store_batch_put(batch, key, key_len, value, value_len);
        CHECK_EQ(store_write(s, batch, &err), 0);
    }
    store_batch_destroy(&batch);
    store_close(&s);
}

static void
test_invariants_checked_on_open(void)
{
    char dir[256];
    vl_err_t err = { "" };
    ledger_t *l = NULL;

    /* Invariant 1: genesis recorded but no tip. */
    s_fresh_dir(dir, sizeof dir);
    l = s_make_two_blocks(dir);
    ledger_close(&l);
    s_poke(dir, "m:tip", 5, NULL, 0, true);
    CHECK_EQ(ledger_open(dir, NULL, NULL, &l, &err), VL_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "tip (m:tip) is missing");
    CHECK(l == NULL);
    s_cleanup(dir);

    /* Malformed tip. */
    s_fresh_dir(dir, sizeof dir);
    l = s_make_two_blocks(dir);
    ledger_close(&l);
    s_poke(dir, "m:tip", 5, "short", 5, false);
    CHECK_EQ(ledger_open(dir, NULL, NULL, &l, &err), VL_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "malformed metadata");
    s_cleanup(dir);

    /* Invariant 2: the tip's hash is not its block's. */
    s_fresh_dir(dir, sizeof dir);
    l = s_make_two_blocks(dir);
    uint8_t tip[72];
    vl_put_be64(tip, 1);
    memset(tip + 8, 0x5a, 32);
    if (l)
        memcpy(tip + 40, ledger_state_hash(l), 32);
    ledger_close(&l);
    s_poke(dir, "m:tip", 5, tip, sizeof tip, false);
    CHECK_EQ(ledger_open(dir, NULL, NULL, &l, &err), VL_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "block 1 hashes to");
    s_cleanup(dir);

    /* Invariant 2: the tip block is missing / does not decode. */
    s_fresh_dir(dir, sizeof dir);
    l = s_make_two_blocks(dir);
    ledger_close(&l);
    uint8_t bkey[10] = { 'b', ':' };
    vl_put_be64(bkey + 2, 1);
    s_poke(dir, (const char *) bkey, sizeof bkey, NULL, 0, true);
    CHECK_EQ(ledger_open(dir, NULL, NULL, &l, &err), VL_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "tip block 1 is missing");
    s_poke(dir, (const char *) bkey, sizeof bkey, "\xff\xff\xff", 3, false);
    CHECK_EQ(ledger_open(dir, NULL, NULL, &l, &err), VL_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "does not decode");
    s_cleanup(dir);
}

/* --- Faults ---------------------------------------------------------------- */

static int hook_calls;
static int
s_fail_hook(void *arg)
{
    hook_calls++;
    return *(int *) arg;
}

static void
test_injected_write_failure(void)
{
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_make_two_blocks(dir);
    if (!l)
        return;
    uint8_t last[32], state[32];
    memcpy(last, ledger_last_hash(l), 32);
    memcpy(state, ledger_state_hash(l), 32);

    tblock_t b;
    tb_init(&b, 2, last);
    tb_tx(&b, VL__TX_CODE__TX_VALID, "doomed");
    tb_put(&b, "x", "X");
    const ledger_block_t *blk = tb_finish(&b, "c");
    vl_err_t err = { "" };
    store_fail_next_write(ledger_store(l));
    CHECK_EQ(ledger_commit_block(l, blk, &err), VL_ERR_IO);
    CHECK_CONTAINS(err.msg, "injected");
    CHECK_EQ(ledger_height(l), 1);
    CHECK(memcmp(ledger_last_hash(l), last, 32) == 0);
    CHECK(memcmp(ledger_state_hash(l), state, 32) == 0);
    s_expect_absent(l, "x");
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_EQ(ledger_block_get(l, 2, &bytes, &len), VL_ERR_NOT_FOUND);
    ledger_tx_info_t info;
    CHECK_EQ(ledger_tx_get(l, b.txs[0].txid, &info), VL_ERR_NOT_FOUND);

    /* Through the write hook as well. */
    int fail = 1;
    hook_calls = 0;
    store_set_write_hook(ledger_store(l), s_fail_hook, &fail);
    CHECK_EQ(ledger_commit_block(l, blk, &err), VL_ERR_IO);
    CHECK_EQ(hook_calls, 1);
    CHECK_EQ(ledger_height(l), 1);
    CHECK(memcmp(ledger_state_hash(l), state, 32) == 0);

    /* The ledger stays usable: the same block commits once the fault is gone,
     * with the state hash a clean ledger would compute. */
    fail = 0;
    CHECK_EQ(ledger_commit_block(l, blk, &err), 0);
    store_set_write_hook(ledger_store(l), NULL, NULL);
    CHECK_EQ(ledger_height(l), 2);
    s_expect(l, "x", "X", 2, 0);
    uint8_t after[32];
    memcpy(after, ledger_state_hash(l), 32);
    ledger_close(&l);

    char dir2[256];
    s_fresh_dir(dir2, sizeof dir2);
    ledger_t *clean = s_make_two_blocks(dir2);
    if (clean) {
        CHECK_EQ(ledger_commit_block(clean, blk, &err), 0);
        CHECK(memcmp(ledger_state_hash(clean), after, 32) == 0);
    }
    ledger_close(&clean);
    tb_free(&b);
    s_cleanup(dir);
    s_cleanup(dir2);
}

static void
test_reopen_after_failure(void)
{
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    ledger_t *l = s_make_two_blocks(dir);
    if (!l)
        return;
    uint8_t last[32], state[32];
    memcpy(last, ledger_last_hash(l), 32);
    memcpy(state, ledger_state_hash(l), 32);
    store_fail_next_write(ledger_store(l));
    CHECK_EQ(s_commit_one(l, 2, "c", "lost", "1"), VL_ERR_IO);
    ledger_close(&l);
    l = s_open(dir);
    if (!l)
        return;
    CHECK_EQ(ledger_height(l), 1);
    CHECK(memcmp(ledger_last_hash(l), last, 32) == 0);
    CHECK(memcmp(ledger_state_hash(l), state, 32) == 0);
    s_expect_absent(l, "lost");
    CHECK_EQ(s_commit_one(l, 2, "c", "kept", "1"), 0);
    ledger_close(&l);
    s_cleanup(dir);
}

/* A run of blocks committed in one batch ends exactly where committing
 * them one by one does (tip, state hash, state, history); ledger_state_fold
 * agrees with the commit; gaps, a multi-block genesis and a failed write
 * change nothing. */
static void
test_commit_blocks_run(void)
{
    char da[256], db[256];
    s_fresh_dir(da, sizeof da);
    s_fresh_dir(db, sizeof db);
    ledger_t *a = s_open(da), *b = s_open(db);
    if (!a || !b)
        return;
    CHECK_EQ(s_commit_one(a, 0, "c", "g", "1"), 0);
    CHECK_EQ(s_commit_one(b, 0, "c", "g", "1"), 0);
    CHECK(memcmp(ledger_state_hash(a), ledger_state_hash(b), 32) == 0);
    uint8_t s0[32];
    memcpy(s0, ledger_state_hash(a), 32);

    tblock_t t1, t2, t3;
    tb_init(&t1, 1, ledger_last_hash(a));
    tb_tx(&t1, VL__TX_CODE__TX_VALID, "run-1");
    tb_put(&t1, "k", "1");
    const ledger_block_t *b1 = tb_finish(&t1, "c");
    tb_init(&t2, 2, b1->block_hash);
    tb_tx(&t2, VL__TX_CODE__TX_VALID, "run-2");
    tb_put(&t2, "k", "2");
    tb_put(&t2, "m", "x");
    tb_tx(&t2, VL__TX_CODE__TX_MVCC_CONFLICT, "run-2b");
    tb_put(&t2, "k", "never");
    const ledger_block_t *b2 = tb_finish(&t2, "c");
    tb_init(&t3, 3, b2->block_hash);
    tb_tx(&t3, VL__TX_CODE__TX_VALID, "run-3");
    tb_del(&t3, "m");
    const ledger_block_t *b3 = tb_finish(&t3, "c");

    vl_err_t err = { "" };
    uint8_t s1[32], folded[32];
    CHECK_EQ(ledger_commit_block(a, b1, &err), 0);
    memcpy(s1, ledger_state_hash(a), 32);
    CHECK_EQ(ledger_state_fold(s0, b1, folded), 0);
    CHECK(memcmp(folded, s1, 32) == 0);
    CHECK_EQ(ledger_commit_block(a, b2, &err), 0);
    CHECK_EQ(ledger_commit_block(a, b3, &err), 0);

    /* A gap is refused and changes nothing. */
    const ledger_block_t *gap[] = { b1, b3 };
    CHECK_EQ(ledger_commit_blocks(b, gap, 2, &err), VL_ERR_STATE);
    CHECK_EQ(ledger_height(b), 0);
    s_expect_absent(b, "k");
    /* A failed write changes nothing either. */
    const ledger_block_t *run[] = { b1, b2, b3 };
    store_fail_next_write(ledger_store(b));
    CHECK_EQ(ledger_commit_blocks(b, run, 3, &err), VL_ERR_IO);
    CHECK_EQ(ledger_height(b), 0);
    CHECK(memcmp(ledger_state_hash(b), s0, 32) == 0);
    s_expect_absent(b, "k");
    /* The run. */
    CHECK_EQ(ledger_commit_blocks(b, run, 3, &err), 0);
    CHECK_EQ(ledger_height(b), 3);
    CHECK(memcmp(ledger_last_hash(b), ledger_last_hash(a), 32) == 0);
    CHECK(memcmp(ledger_state_hash(b), ledger_state_hash(a), 32) == 0);
    s_expect(b, "k", "2", 2, 0);
    s_expect_absent(b, "m");
    ledger_tx_info_t info;
    CHECK_EQ(ledger_tx_get(b, t2.txs[1].txid, &info), 0);
    CHECK_EQ(info.code, VL__TX_CODE__TX_MVCC_CONFLICT);
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_EQ(ledger_block_get(b, 2, &bytes, &len), 0);
    free(bytes);
    /* Durable: the tip survives a reopen. */
    ledger_close(&b);
    b = s_open(db);
    if (b) {
        CHECK_EQ(ledger_height(b), 3);
        CHECK(memcmp(ledger_state_hash(b), ledger_state_hash(a), 32) == 0);
    }
    tb_free(&t1);
    tb_free(&t2);
    tb_free(&t3);
    ledger_close(&a);
    ledger_close(&b);
    s_cleanup(da);
    s_cleanup(db);

    /* Genesis commits alone. */
    char dc[256];
    s_fresh_dir(dc, sizeof dc);
    ledger_t *c = s_open(dc);
    if (!c)
        return;
    tblock_t g0, g1;
    tb_init(&g0, 0, NULL);
    const ledger_block_t *bg0 = tb_finish(&g0, "c");
    tb_init(&g1, 1, bg0->block_hash);
    const ledger_block_t *bg1 = tb_finish(&g1, "c");
    const ledger_block_t *both[] = { bg0, bg1 };
    CHECK_EQ(ledger_commit_blocks(c, both, 2, &err), VL_ERR_STATE);
    CHECK_CONTAINS(err.msg, "alone");
    CHECK(!ledger_has_genesis(c));
    tb_free(&g0);
    tb_free(&g1);
    ledger_close(&c);
    s_cleanup(dc);
}

/* --- store.h directly ------------------------------------------------------ */

static void
test_store_wrapper(void)
{
    char dir[256];
    s_fresh_dir(dir, sizeof dir);
    store_t *s = NULL;
    vl_err_t err = { "" };
    CHECK_EQ(store_open(dir, &s, &err), 0);
    if (!s)
        return;
    CHECK(store_is_empty(s));
    store_batch_t *b = store_batch_new();
    CHECK(b != NULL);
    store_batch_put(b, "p:1", 3, "one", 3);
    store_batch_put(b, "p:2", 3, "", 0); /* empty value */
    store_batch_put(b, "q:1", 3, "q", 1);
    store_batch_put(b, "p:3", 3, "three", 5);
    store_batch_delete(b, "p:3", 3); /* in order: the delete wins */
    CHECK_EQ(store_write(s, b, &err), 0);
    CHECK(!store_is_empty(s));
    CHECK(store_has(s, "p:1", 3));
    CHECK(!store_has(s, "p:3", 3));

    uint8_t *v = NULL;
    size_t len = 0;
    CHECK_EQ(store_get(s, "p:1", 3, &v, &len, &err), 0);
    CHECK_EQ(len, 3);
    CHECK_STR((char *) v, "one");
    free(v);
    CHECK_EQ(store_get(s, "p:2", 3, &v, &len, &err), 0);
    CHECK_EQ(len, 0);
    free(v);
    v = NULL;
    CHECK_EQ(store_get(s, "zz", 2, &v, &len, &err), VL_ERR_NOT_FOUND);
    CHECK(v == NULL);

    store_iter_t *it = store_iter_new(s, "p:", 2);
    int n = 0;
    for (; it && store_iter_valid(it); store_iter_next(it)) {
        size_t kl = 0, vl = 0;
        const uint8_t *k = store_iter_key(it, &kl);
        store_iter_value(it, &vl);
        CHECK(kl == 3 && memcmp(k, "p:", 2) == 0);
        n++;
    }
    CHECK_EQ(n, 2);
    CHECK_EQ(store_iter_status(it, &err), 0);
    store_iter_destroy(&it);
    CHECK(it == NULL);
    store_iter_destroy(&it);
    it = store_iter_new(s, NULL, 0);
    for (n = 0; it && store_iter_valid(it); store_iter_next(it))
        n++;
    CHECK_EQ(n, 3);
    store_iter_destroy(&it);

    /* Fault seam: one injected failure, then normal again. */
    store_batch_clear(b);
    store_batch_put(b, "r", 1, "r", 1);
    store_fail_next_write(s);
    CHECK_EQ(store_write(s, b, &err), VL_ERR_IO);
    CHECK(!store_has(s, "r", 1));
    CHECK_EQ(store_write(s, b, &err), 0);
    CHECK(store_has(s, "r", 1));

    /* Read seam: the third read from now fails (an iterator counts), once. */
    store_fail_nth_read(s, 3);
    CHECK(store_has(s, "r", 1));
    CHECK_EQ(store_get(s, "p:1", 3, &v, &len, &err), 0);
    free(v);
    v = NULL;
    err.msg[0] = 0;
    CHECK_EQ(store_get(s, "p:1", 3, &v, &len, &err), VL_ERR_IO);
    CHECK(v == NULL);
    CHECK_CONTAINS(err.msg, "injected");
    CHECK_EQ(store_get(s, "p:1", 3, &v, &len, &err), 0);
    free(v);
    store_fail_nth_read(s, 1);
    it = store_iter_new(s, "p:", 2);
    CHECK(it && !store_iter_valid(it));
    CHECK_EQ(store_iter_status(it, &err), VL_ERR_IO);
    store_iter_destroy(&it);
    it = store_iter_new(s, "p:", 2);
    CHECK(it && store_iter_valid(it));
    CHECK_EQ(store_iter_status(it, &err), 0);
    store_iter_destroy(&it);
    store_fail_nth_read(s, 1);
    store_fail_nth_read(s, 0);   /* disarmed */
    CHECK(store_has(s, "r", 1));

    /* Lock: a second store on the same directory. */
    store_t *s2 = NULL;
    CHECK_EQ(store_open(dir, &s2, &err), VL_ERR_LOCKED);
    CHECK(s2 == NULL);
    store_batch_destroy(&b);
    CHECK(b == NULL);
    store_batch_destroy(&b);
    store_close(&s);
    CHECK(s == NULL);
    store_close(&s);
    s_cleanup(dir);
}

int
main(int argc, char **argv)
{
    /* Child mode for test_second_open_locked: exit with -rc of ledger_open. */
    if (argc == 3 && strcmp(argv[1], "--try-open") == 0) {
        ledger_t *l = NULL;
        vl_err_t err = { "" };
        int rc = ledger_open(argv[2], NULL, NULL, &l, &err);
        if (rc != 0)
            fprintf(stderr, "child: %s\n", err.msg);
        ledger_close(&l);
        return -rc;
    }
    self_exe = "/proc/self/exe";
    static char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        self_exe = exe;
    }

    RUN(test_open_create_reopen);
    RUN(test_open_errors_io);
    RUN(test_commit_genesis_then_blocks);
    RUN(test_wrong_height_refused);
    RUN(test_invalid_txs_recorded_not_applied);
    RUN(test_duplicate_keeps_original_index);
    RUN(test_empty_block);
    RUN(test_commit_asserts_block_hash);
    RUN(test_deletes);
    RUN(test_history);
    RUN(test_range);
    RUN(test_state_hash_deterministic);
    RUN(test_foreign_chain_refused);
    RUN(test_second_open_locked);
    RUN(test_not_a_ledger_refused);
    RUN(test_corrupt_current_refused);
    RUN(test_corrupt_log_refused);
    RUN(test_invariants_checked_on_open);
    RUN(test_injected_write_failure);
    RUN(test_reopen_after_failure);
    RUN(test_commit_blocks_run);
    RUN(test_store_wrapper);
    return check_done();
}
