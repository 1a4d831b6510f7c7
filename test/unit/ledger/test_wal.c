/* test_wal.c — ledger/wal.h: append, load in key order, reload after close
 * and reopen (the sequence continues), prune, the size limit, injected
 * write faults (nothing written, nothing deleted, no sequence consumed),
 * corrupt keys from disk, and the WAL living beside a real ledger. */
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "check.h"
#include "ledger.h"
#include "store.h"
#include "wal.h"

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

/* Records seen by a wal_load callback, copied. */
#define SEEN_MAX 32
typedef struct {
    size_t n;
    wal_record_t rec[SEEN_MAX];
    char text[SEEN_MAX][32];
    int stop_after;          /* > 0: return 7 after that many */
} seen_t;

static int
s_collect(void *arg, const wal_record_t *r)
{
    seen_t *s = arg;
    if (s->n >= SEEN_MAX)
        return -100;
    s->rec[s->n] = *r;
    size_t len = r->len < 31 ? r->len : 31;
    memcpy(s->text[s->n], r->bytes, len);
    s->text[s->n][len] = 0;
    s->rec[s->n].bytes = NULL; /* borrowed: not valid after the call */
    s->n++;
    if (s->stop_after > 0 && (int) s->n == s->stop_after)
        return 7;
    return 0;
}

static void
s_load(wal_t *w, uint64_t h, seen_t *s)
{
    memset(s, 0, sizeof *s);
    CHECK_EQ(wal_load(w, h, s_collect, s, NULL), 0);
}

static int
s_append(wal_t *w, uint64_t h, uint32_t r, uint8_t t, const char *text)
{
    return wal_append(w, h, r, t, text, strlen(text), NULL, NULL);
}

static store_t *
s_open_store(const char *dir)
{
    store_t *st = NULL;
    vl_err_t err;
    CHECK_EQ(store_open(dir, &st, &err), 0);
    return st;
}

static void
test_append_order_reload(void)
{
    char dir[256];
    CHECK(check_tmpdir(dir, sizeof dir) != NULL);
    store_t *st = s_open_store(dir);
    wal_t *w = NULL;
    vl_err_t err;
    CHECK_EQ(wal_open(st, &w, &err), 0);
    CHECK_EQ(wal_count(w), 0);

    /* Appended out of key order, and across heights whose be64 / rounds
     * whose be32 encodings differ in a high byte. */
    uint64_t seq = 99;
    CHECK_EQ(wal_append(w, 1, 256, 2, "h1 r256 precommit", 17, &seq, &err), 0);
    CHECK_EQ(seq, 0);
    CHECK_EQ(s_append(w, 1, 0, 1, "h1 r0 prevote"), 0);
    CHECK_EQ(s_append(w, 256, 0, 0, "h256 r0 proposal"), 0);
    CHECK_EQ(s_append(w, 1, 0, 0, "h1 r0 proposal"), 0);
    CHECK_EQ(s_append(w, 1, 255, 1, "h1 r255 prevote"), 0);
    CHECK_EQ(s_append(w, 1, 0, 1, "h1 r0 prevote again"), 0);
    CHECK_EQ(s_append(w, 255, 3, 2, "h255 r3 precommit"), 0);
    CHECK_EQ(wal_append(w, 1, 7, 1, NULL, 0, &seq, &err), 0); /* empty record */
    CHECK_EQ(seq, 7);
    CHECK_EQ(wal_count(w), 8);

    seen_t s;
    s_load(w, 1, &s);
    CHECK_EQ(s.n, 6);
    if (s.n == 6) {
        /* (round, type, seq) order; the two r0 prevotes in append order. */
        CHECK_STR(s.text[0], "h1 r0 proposal");
        CHECK_STR(s.text[1], "h1 r0 prevote");
        CHECK_STR(s.text[2], "h1 r0 prevote again");
        CHECK(s.rec[1].seq < s.rec[2].seq);
        CHECK_STR(s.text[3], "");
        CHECK_EQ(s.rec[3].round, 7);
        CHECK_EQ(s.rec[3].len, 0);
        CHECK_STR(s.text[4], "h1 r255 prevote");
        CHECK_STR(s.text[5], "h1 r256 precommit");
        CHECK_EQ(s.rec[5].height, 1);
        CHECK_EQ(s.rec[5].round, 256);
        CHECK_EQ(s.rec[5].type, 2);
        CHECK_EQ(s.rec[5].seq, 0);
    }
    s_load(w, 255, &s);
    CHECK_EQ(s.n, 1);
    s_load(w, 256, &s);
    CHECK_EQ(s.n, 1);
    CHECK_STR(s.text[0], "h256 r0 proposal");
    s_load(w, 2, &s);
    CHECK_EQ(s.n, 0);

    /* A callback's non-zero return stops the walk and is returned. */
    memset(&s, 0, sizeof s);
    s.stop_after = 2;
    CHECK_EQ(wal_load(w, 1, s_collect, &s, NULL), 7);
    CHECK_EQ(s.n, 2);

    /* Close and reopen: everything is there, and the sequence continues past
     * the largest stored one, so a record appended now sorts after the
     * earlier ones of its (height, round, type). */
    wal_close(&w);
    CHECK(w == NULL);
    wal_close(&w); /* NULL is fine */
    store_close(&st);
    st = s_open_store(dir);
    CHECK_EQ(wal_open(st, &w, &err), 0);
    CHECK_EQ(wal_count(w), 8);
    CHECK_EQ(wal_append(w, 1, 0, 1, "after reopen", 12, &seq, &err), 0);
    CHECK_EQ(seq, 8);
    s_load(w, 1, &s);
    CHECK_EQ(s.n, 7);
    CHECK_STR(s.text[3], "after reopen");

    wal_close(&w);
    store_close(&st);
    s_rm_rf(dir);
}

static void
test_prune(void)
{
    char dir[256];
    CHECK(check_tmpdir(dir, sizeof dir) != NULL);
    store_t *st = s_open_store(dir);
    wal_t *w = NULL;
    CHECK_EQ(wal_open(st, &w, NULL), 0);
    for (uint64_t h = 1; h <= 4; h++)
        for (uint32_t r = 0; r < 3; r++)
            CHECK_EQ(s_append(w, h, r, 1, "v"), 0);
    CHECK_EQ(wal_count(w), 12);

    size_t deleted = 99;
    CHECK_EQ(wal_prune(w, 1, &deleted, NULL), 0); /* nothing below height 1 */
    CHECK_EQ(deleted, 0);
    CHECK_EQ(wal_prune(w, 3, &deleted, NULL), 0);
    CHECK_EQ(deleted, 6);
    CHECK_EQ(wal_count(w), 6);
    seen_t s;
    s_load(w, 2, &s);
    CHECK_EQ(s.n, 0);
    s_load(w, 3, &s);
    CHECK_EQ(s.n, 3);

    /* A failed prune deletes nothing and can be retried. */
    store_fail_next_write(st);
    vl_err_t err;
    CHECK_EQ(wal_prune(w, 4, &deleted, &err), VL_ERR_IO);
    CHECK_EQ(wal_count(w), 6);
    CHECK_EQ(wal_prune(w, 4, NULL, NULL), 0);
    CHECK_EQ(wal_count(w), 3);

    /* Pruned records stay pruned after a reopen; the rest survive. */
    wal_close(&w);
    store_close(&st);
    st = s_open_store(dir);
    CHECK_EQ(wal_open(st, &w, NULL), 0);
    CHECK_EQ(wal_count(w), 3);
    CHECK_EQ(wal_prune(w, UINT64_MAX, &deleted, NULL), 0);
    CHECK_EQ(deleted, 3);
    CHECK_EQ(wal_count(w), 0);
    wal_close(&w);
    store_close(&st);
    s_rm_rf(dir);
}

static void
test_errors(void)
{
    char dir[256];
    CHECK(check_tmpdir(dir, sizeof dir) != NULL);
    store_t *st = s_open_store(dir);
    wal_t *w = NULL;
    vl_err_t err;
    CHECK_EQ(wal_open(st, &w, &err), 0);

    /* The size limit is checked before the bytes are read. */
    char small[4] = "abc";
    CHECK_EQ(wal_append(w, 1, 0, 0, small, (size_t) WAL_RECORD_MAX_BYTES + 1, NULL, &err),
             VL_ERR_LIMIT);
    CHECK_CONTAINS(err.msg, "exceeds");

    /* An injected write fault: nothing written, no sequence consumed. */
    store_fail_next_write(st);
    uint64_t seq = 42;
    CHECK_EQ(wal_append(w, 1, 0, 1, "x", 1, &seq, &err), VL_ERR_IO);
    CHECK_EQ(seq, 42);
    CHECK_EQ(wal_count(w), 0);
    CHECK_EQ(wal_append(w, 1, 0, 1, "x", 1, &seq, &err), 0);
    CHECK_EQ(seq, 0);

    /* A "w:" key of the wrong length (from disk) is corruption, reported by
     * open, load and prune, never asserted on. */
    store_batch_t *b = store_batch_new();
    store_batch_put(b, "w:\x00\x00\x00\x00\x00\x00\x00\x01short", 15, "?", 1);
    CHECK_EQ(store_write(st, b, NULL), 0);
    store_batch_destroy(&b);
    seen_t s;
    memset(&s, 0, sizeof s);
    CHECK_EQ(wal_load(w, 1, s_collect, &s, &err), VL_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "corrupt");
    CHECK_EQ(wal_prune(w, 5, NULL, &err), VL_ERR_CORRUPT);
    wal_close(&w);
    CHECK_EQ(wal_open(st, &w, &err), VL_ERR_CORRUPT);
    CHECK(w == NULL);
    store_close(&st);
    s_rm_rf(dir);
}

/* The WAL shares the ledger's LevelDB: its keys do not disturb the ledger's
 * own checks on open, and they survive the ledger being closed. */
static void
test_beside_ledger(void)
{
    char base[256], dir[300];
    CHECK(check_tmpdir(base, sizeof base) != NULL);
    snprintf(dir, sizeof dir, "%s/ledger", base);
    ledger_t *l = NULL;
    vl_err_t err;
    CHECK_EQ(ledger_open(dir, "test-chain", NULL, &l, &err), 0);
    wal_t *w = NULL;
    CHECK_EQ(wal_open(ledger_store(l), &w, &err), 0);
    CHECK_EQ(s_append(w, 1, 0, 0, "proposal"), 0);
    CHECK_EQ(s_append(w, 1, 0, 1, "prevote"), 0);
    wal_close(&w);
    ledger_close(&l);

    CHECK_EQ(ledger_open(dir, "test-chain", NULL, &l, &err), 0);
    CHECK(l != NULL);
    if (l) {
        CHECK(!ledger_has_genesis(l));
        CHECK_EQ(wal_open(ledger_store(l), &w, &err), 0);
        seen_t s;
        s_load(w, 1, &s);
        CHECK_EQ(s.n, 2);
        CHECK_STR(s.text[1], "prevote");
        wal_close(&w);
        ledger_close(&l);
    }
    s_rm_rf(base);
}

int
main(void)
{
    RUN(test_append_order_reload);
    RUN(test_prune);
    RUN(test_errors);
    RUN(test_beside_ledger);
    return check_done();
}
