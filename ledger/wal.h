/*
 * wal.h — the consensus write-ahead records of a validator (DESIGN §3.4):
 * its own signed proposals and votes, kept in the ledger's LevelDB so that
 * after a crash it replays them (bft_replay_own in consensus/bft.h) and never
 * signs a second, different message at one (height, round, type).
 *
 * A record is opaque bytes (the driver stores the signed message exactly as
 * sent) under a key of (height, round, type, sequence). The WAL does not
 * interpret the type beyond ordering by it; consensus uses its message types
 * (proposal 0 < prevote 1 < precommit 2), so within a round the key order is
 * the order in which Algorithm 1 signs. The sequence is a counter of this
 * WAL (restored past the largest stored one on open), so several records
 * with one (height, round, type) load in the order they were appended.
 *
 * Every append is one synced LevelDB write: when wal_append returns 0 the
 * record survives a machine crash, which is what lets the driver send the
 * message after it (persist, then sign and send). After block h commits the
 * driver prunes every record below h + 1.
 *
 * Key schema (the "w:" row of the table in ledger.h):
 *
 * | key                                            | value                   |
 * |------------------------------------------------|-------------------------|
 * | "w:" be64 height be32 round u8 type be64 seq   | record bytes (opaque)   |
 *
 * Thread rules: a wal_t belongs to the ledger's writer thread (the node's
 * loop thread), like ledger_commit_block: store_write is single-writer.
 * wal_load may run on any thread.
 *
 * Ownership: the store is borrowed (the ledger's, through ledger_store) and
 * must outlive the wal_t; close the WAL before the ledger. Record bytes
 * given to wal_append are copied; bytes handed to a wal_load callback are
 * borrowed for that call only.
 */
#ifndef VL_WAL_H
#define VL_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

typedef struct wal_t wal_t;

/* The largest record wal_append takes (a proposal record may carry its
 * block). Larger is VL_ERR_LIMIT. */
#define WAL_RECORD_MAX_BYTES (32u << 20)

/* One record as loaded. */
typedef struct {
    uint64_t height;
    uint32_t round;
    uint8_t type;          /* the caller's message type */
    uint64_t seq;          /* append order, unique within the WAL */
    const uint8_t *bytes;  /* borrowed for the callback only */
    size_t len;
} wal_record_t;

/* Opens the WAL over store (borrowed until wal_close) and finds the next
 * sequence number from the stored records. Errors: VL_ERR_CORRUPT (a "w:"
 * key of the wrong length, or LevelDB corruption), VL_ERR_IO, VL_ERR_NOMEM;
 * message in err. */
int wal_open(store_t *store, wal_t **out, vl_err_t *err);

/* Frees the handle (not the store) and nulls *self_p; accepts NULL. */
void wal_close(wal_t **self_p);

/* Appends one record with a synced write; on 0 it is durable. Errors:
 * VL_ERR_LIMIT (len > WAL_RECORD_MAX_BYTES), VL_ERR_IO / VL_ERR_CORRUPT from
 * the store (nothing written), VL_ERR_NOMEM. bytes may be NULL when len = 0.
 * seq_out (may be NULL) receives the record's sequence number. */
int wal_append(wal_t *wal, uint64_t height, uint32_t round, uint8_t type, const void *bytes,
               size_t len, uint64_t *seq_out, vl_err_t *err);

/* One record to append with wal_append_many. */
typedef struct {
    uint64_t height;
    uint32_t round;
    uint8_t type;
    const void *bytes;
    size_t len;
} wal_entry_t;

/* Appends n records in ONE synced write (all durable, or none): the
 * messages one consensus step signs go to disk together before any is
 * sent. Errors as wal_append. */
int wal_append_many(wal_t *wal, const wal_entry_t *entries, size_t n, vl_err_t *err);

/* Calls fn for each record of height in key order (round, type, seq),
 * reading one consistent view. fn returns 0 to go on, non-zero to stop
 * (that value is returned). Otherwise returns 0, VL_ERR_CORRUPT (a key of
 * the wrong length), VL_ERR_IO or VL_ERR_NOMEM. */
typedef int (*wal_record_fn)(void *arg, const wal_record_t *record);
int wal_load(wal_t *wal, uint64_t height, wal_record_fn fn, void *arg, vl_err_t *err);

/* Deletes every record with height < below_height in one synced write.
 * *deleted (may be NULL) receives how many. Errors as wal_append (on
 * failure nothing was deleted). */
int wal_prune(wal_t *wal, uint64_t below_height, size_t *deleted, vl_err_t *err);

/* Number of records stored (all heights); -1 on a read error. For tests
 * and status. */
long wal_count(wal_t *wal);
#endif
