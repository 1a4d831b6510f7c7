/*
 * bench_ledger.c — synced block commits per second.
 *
 * Each block holds BENCH_TXS transactions; each valid tx writes two keys with
 * ~300-byte JSON values (a vehicle document and a wallet), and carries ~1 KB
 * of transaction bytes in the block. Every commit is one synced LevelDB
 * WriteBatch, as in production. Runs BENCH_TRIALS trials in fresh temporary
 * directories; each trial commits up to BENCH_BLOCKS blocks or stops after
 * BENCH_TRIAL_MS of commit time, so the whole run stays around 10 s. Only the
 * ledger_commit_block calls are timed (building the blocks is the caller's
 * cost). Prints each trial and the median blocks/s and tx/s.
 *
 *   bench_ledger [blocks-per-trial]
 */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "ledger.h"
#include "vledger.pb-c.h"

#define BENCH_TXS 100
#define BENCH_WRITES 2
#define BENCH_TX_BYTES 1024
#define BENCH_TRIALS 5
#define BENCH_BLOCKS 600
#define BENCH_TRIAL_MS 1500.0

static double
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int
s_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    return remove(path);
}

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* One block's worth of inputs, rebuilt for each height. */
typedef struct {
    char keys[BENCH_TXS][BENCH_WRITES][64];
    char values[BENCH_TXS][BENCH_WRITES][400];
    Vl__WriteItem items[BENCH_TXS][BENCH_WRITES];
    const Vl__WriteItem *ptrs[BENCH_TXS][BENCH_WRITES];
    ledger_tx_effect_t txs[BENCH_TXS];
    uint8_t tx_bytes[BENCH_TXS][BENCH_TX_BYTES];
    ProtobufCBinaryData tx_data[BENCH_TXS];
    uint8_t *bytes; /* owned: packed Block */
    ledger_block_t blk;
} bench_block_t;

static void
s_build(bench_block_t *b, uint64_t height, const uint8_t *prev, int trial)
{
    for (int i = 0; i < BENCH_TXS; i++) {
        char name[64];
        snprintf(name, sizeof name, "t%d-%" PRIu64 "-%d", trial, height, i);
        vl_sha256(name, strlen(name), b->txs[i].txid);
        unsigned long long vin = height * BENCH_TXS + (unsigned) i;
        snprintf(b->keys[i][0], 64, "vehicle/VLBENCH%010llu", vin);
        snprintf(b->keys[i][1], 64, "wallet/did:vl:%040d", i);
        int n = snprintf(b->values[i][0], 400,
                         "{\"vin\":\"VLBENCH%010llu\",\"make\":\"Volvo\",\"model\":\"EX30\","
                         "\"year\":2025,\"color\":\"moss\",\"title\":{\"status\":\"clean\","
                         "\"number\":\"T-%llu\",\"issuer\":\"did:vl:agency\"},"
                         "\"registration\":{\"status\":\"active\",\"plate\":\"VL-%llu\"},"
                         "\"owners\":[{\"did\":\"did:vl:%040d\",\"since\":1700000000000}]",
                         vin, vin, vin, i);
        snprintf(b->values[i][0] + n, 400 - (size_t) n, ",\"pad\":\"%*s\"}",
                 n < 280 ? 280 - n : 1, "");
        snprintf(b->values[i][1], 400,
                 "{\"did\":\"did:vl:%040d\",\"balance\":%llu,\"currency\":\"EUR\","
                 "\"updated\":%" PRIu64 ",\"memo\":\"%*s\"}",
                 i, 1000000ULL - height, height, 180, "");
        for (int w = 0; w < BENCH_WRITES; w++) {
            vl__write_item__init(&b->items[i][w]);
            b->items[i][w].key = b->keys[i][w];
            b->items[i][w].value.data = (uint8_t *) b->values[i][w];
            b->items[i][w].value.len = strlen(b->values[i][w]);
            b->ptrs[i][w] = &b->items[i][w];
        }
        b->txs[i].code = VL__TX_CODE__TX_VALID;
        b->txs[i].writes = b->ptrs[i];
        b->txs[i].n_writes = BENCH_WRITES;
        memset(b->tx_bytes[i], (int) (i + height), BENCH_TX_BYTES);
        b->tx_data[i].data = b->tx_bytes[i];
        b->tx_data[i].len = BENCH_TX_BYTES;
    }
    Vl__BlockHeader hdr = VL__BLOCK_HEADER__INIT;
    hdr.chain_id = (char *) "bench";
    hdr.height = height;
    if (height) {
        hdr.previous_hash.data = (uint8_t *) prev;
        hdr.previous_hash.len = 32;
    }
    hdr.timestamp_ms = 1700000000000 + (int64_t) height;
    uint8_t hbytes[256];
    size_t hlen = vl__block_header__pack(&hdr, hbytes);
    Vl__Block blk = VL__BLOCK__INIT;
    blk.header.data = hbytes;
    blk.header.len = hlen;
    blk.transactions = b->tx_data;
    blk.n_transactions = BENCH_TXS;
    size_t len = vl__block__get_packed_size(&blk);
    free(b->bytes);
    b->bytes = malloc(len);
    if (!b->bytes) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    vl__block__pack(&blk, b->bytes);
    b->blk.height = height;
    b->blk.block = b->bytes;
    b->blk.block_len = len;
    vl_sha256(hbytes, hlen, b->blk.block_hash);
    b->blk.chain_id = "bench";
    b->blk.txs = b->txs;
    b->blk.n_txs = BENCH_TXS;
}

/* One trial: returns committed blocks per second, or -1 on error. */
static double
s_trial(int trial, int max_blocks, bench_block_t *b, int *blocks_done)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512];
    snprintf(dir, sizeof dir, "%s/vlbench.XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return -1;
    }
    ledger_t *l = NULL;
    vl_err_t err = { "" };
    double rate = -1;
    if (ledger_open(dir, "bench", NULL, &l, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        goto done;
    }
    double spent_ms = 0;
    int n = 0;
    for (uint64_t h = 0; n < max_blocks && spent_ms < BENCH_TRIAL_MS; h++) {
        s_build(b, h, ledger_last_hash(l), trial);
        double t0 = s_now_ms();
        if (ledger_commit_block(l, &b->blk, &err) != 0) {
            fprintf(stderr, "commit %" PRIu64 ": %s\n", h, err.msg);
            goto done;
        }
        double dt = s_now_ms() - t0;
        if (h > 0) { /* genesis is setup, not measured */
            spent_ms += dt;
            n++;
        }
    }
    *blocks_done = n;
    rate = n / (spent_ms / 1e3);
done:
    ledger_close(&l);
    nftw(dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rate;
}

int
main(int argc, char **argv)
{
    int max_blocks = argc > 1 ? atoi(argv[1]) : BENCH_BLOCKS;
    if (max_blocks <= 0)
        max_blocks = BENCH_BLOCKS;
    bench_block_t *b = calloc(1, sizeof *b);
    if (!b)
        return 1;
    double rates[BENCH_TRIALS];
    printf("ledger commit: %d txs/block, %d writes/tx (~300-byte JSON), %d-byte txs, "
           "synced WriteBatch\n",
           BENCH_TXS, BENCH_WRITES, BENCH_TX_BYTES);
    s_build(b, 1, b->blk.block_hash, 0);
    size_t total = 0;
    for (int i = 0; i < BENCH_TXS; i++)
        for (int w = 0; w < BENCH_WRITES; w++)
            total += b->items[i][w].value.len;
    printf("mean value %zu bytes, block %zu bytes\n", total / (BENCH_TXS * BENCH_WRITES),
           b->blk.block_len);
    for (int t = 0; t < BENCH_TRIALS; t++) {
        int done = 0;
        rates[t] = s_trial(t, max_blocks, b, &done);
        if (rates[t] < 0) {
            free(b->bytes);
            free(b);
            return 1;
        }
        printf("trial %d: %d blocks, %.1f blocks/s, %.0f tx/s\n", t + 1, done, rates[t],
               rates[t] * BENCH_TXS);
    }
    qsort(rates, BENCH_TRIALS, sizeof rates[0], s_cmp_double);
    double median = rates[BENCH_TRIALS / 2];
    printf("median: %.1f blocks/s, %.0f tx/s\n", median, median * BENCH_TXS);
    free(b->bytes);
    free(b);
    return 0;
}
