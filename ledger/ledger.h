/*
 * ledger.h — the node's LevelDB replica (DESIGN §1, §3.5–3.6).
 *
 * Owns one LevelDB database holding the block store, the versioned world
 * state, per-key history, the tx index and metadata (height, last block hash,
 * running state hash, chain identity), and the validator's consensus WAL
 * records (wal.h, its own module over the same store). A block and
 * everything it changes are committed in ONE synced WriteBatch
 * (ledger_commit_block), so a crash at any moment leaves either the whole
 * block or none of it.
 *
 * Invariants (checked by ledger_open):
 *   1. meta height H is set iff genesis (block 0) was committed;
 *   2. block H exists and SHA-256(its header bytes) == meta last_hash;
 *   3. the store's chain id and genesis hash match the caller's, if given.
 *
 * Thread rules: one writer (the node's loop thread) calls ledger_commit_block;
 * reads (state, blocks, txs, history) may run from any thread concurrently
 * with it — LevelDB gives each read a consistent view.
 *
 * Key schema (store.c is the only file that calls leveldb_*):
 *
 * | key                              | value                                   |
 * |----------------------------------|-----------------------------------------|
 * | "m:format"                       | "vledger-ledger-1"                      |
 * | "m:chain"                        | chain id (text)                         |
 * | "m:genesis"                      | genesis block hash (32 bytes)           |
 * | "m:tip"                          | height be64 | block hash | state hash   |
 * | "b:" height be64                 | Block bytes (with commit)               |
 * | "c:" height be64                 | BlockCodes bytes (validation results)   |
 * | "s:" key                         | version (be64 block, be32 tx) | value   |
 * | "h:" key 0x00 be64 block be32 tx | txid (32) | flag (1: 0 put, 1 del) | value |
 * | "t:" txid (32)                   | TxRecord bytes                          |
 * | "w:" be64 height be32 round      | consensus WAL record (wal.h): a signed  |
 * |      u8 type be64 seq            | own proposal or vote, opaque bytes      |
 */
#ifndef VL_LEDGER_H
#define VL_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "error.h"
#include "types.h"
#include "vledger.pb-c.h"

typedef struct ledger_t ledger_t;

/* Opens (creating if absent) the replica in directory dir.
 * chain_id / genesis_hash: when non-NULL and the store already has a genesis,
 * they must match, else VL_ERR_FOREIGN ("data directory belongs to chain X").
 * Errors: VL_ERR_LOCKED (another process holds the directory, message says
 * so), VL_ERR_CORRUPT (LevelDB or invariant check failed), VL_ERR_IO. */
int ledger_open(const char *dir, const char *chain_id, const uint8_t *genesis_hash,
                ledger_t **out, vl_err_t *err);

/* Closes the store and nulls *self_p; accepts NULL. */
void ledger_close(ledger_t **self_p);

/* True once a genesis block has been committed. */
bool ledger_has_genesis(const ledger_t *ledger);

/* Height of the last committed block (0 = genesis only). */
uint64_t ledger_height(const ledger_t *ledger);

/* Borrowed, valid until the next commit: hash of the last block's header,
 * and the running state hash after it. All zero before genesis. */
const uint8_t *ledger_last_hash(const ledger_t *ledger);
const uint8_t *ledger_state_hash(const ledger_t *ledger);

/* The state value of key. *value is malloc'd and owned by the caller (NUL
 * terminated for convenience, len excludes the NUL). VL_ERR_NOT_FOUND when
 * the key is absent or deleted. version may be NULL. */
int ledger_get(ledger_t *ledger, const char *key, char **value, size_t *len,
               vl_version_t *version);

/* Calls fn for each live key starting with prefix, in byte order, up to
 * limit entries (0 = no limit). key/value are borrowed for the call only
 * (both NUL terminated; the lengths exclude the NUL). Deleted keys are not
 * seen. fn returns 0 to go on, non-zero to stop (that value is returned).
 * Otherwise returns 0, VL_ERR_CORRUPT, VL_ERR_IO or VL_ERR_NOMEM. The walk
 * reads one consistent view of the store. */
typedef int (*ledger_range_fn)(void *arg, const char *key, size_t key_len, const char *value,
                               size_t value_len, vl_version_t version);
int ledger_range(ledger_t *ledger, const char *prefix, size_t limit, ledger_range_fn fn,
                 void *arg);

/* Calls fn for each historic write of key by a valid tx, oldest first,
 * deletes included (is_delete, empty value). value is borrowed for the call
 * and NUL terminated. Returns like ledger_range. */
typedef int (*ledger_history_fn)(void *arg, vl_version_t version, const uint8_t txid[32],
                                 bool is_delete, const char *value, size_t value_len);
int ledger_history(ledger_t *ledger, const char *key, ledger_history_fn fn, void *arg);

/* Raw Block bytes at height (caller frees). VL_ERR_NOT_FOUND past the tip. */
int ledger_block_get(ledger_t *ledger, uint64_t height, uint8_t **bytes, size_t *len);

/* Validation codes of the block at height; caller frees with
 * vl__block_codes__free_unpacked. */
int ledger_block_codes(ledger_t *ledger, uint64_t height, Vl__BlockCodes **out);

/* Where a transaction landed. VL_ERR_NOT_FOUND if never committed. */
typedef struct {
    uint64_t height;
    uint32_t index;
    int code;                 /* Vl__TxCode */
} ledger_tx_info_t;
int ledger_tx_get(ledger_t *ledger, const uint8_t txid[32], ledger_tx_info_t *info);

/* One transaction's effect in a block being committed. */
typedef struct {
    uint8_t txid[32];
    int code;                          /* Vl__TxCode; writes apply only if VALID */
    const Vl__WriteItem *const *writes; /* borrowed; may be NULL when n_writes = 0 */
    size_t n_writes;
    bool skip_index;                   /* keep the tx index entry another tx with this
                                          id holds (validate.h, "Duplicates") */
} ledger_tx_effect_t;

/* Everything ledger_commit_block needs about one block. */
typedef struct {
    uint64_t height;                   /* must be ledger_height()+1, or 0 for genesis */
    const uint8_t *block;              /* Block bytes as stored and served */
    size_t block_len;
    uint8_t block_hash[32];            /* SHA-256 of the header bytes */
    const char *chain_id;              /* genesis only: recorded in meta */
    const ledger_tx_effect_t *txs;     /* in block order */
    size_t n_txs;
} ledger_block_t;

/* Commits the block, its codes, tx index entries, valid writes (state and
 * history, versions {height, tx index}) and the new tip with the folded
 * state hash, in one synced WriteBatch. The state hash fold is:
 *   S_h = SHA-256(S_{h-1} || be64 h || for each valid tx, for each write in
 *         order: be32 len(key) key u8 is_delete be32 len(value) value)
 * Errors: VL_ERR_STATE (wrong height), VL_ERR_IO (nothing was written),
 * VL_ERR_FOREIGN (a genesis block whose chain id or hash differs from the
 * ones given to ledger_open), VL_ERR_NOMEM. On any error the tip, the state
 * and the store are unchanged and the ledger stays usable.
 * Preconditions (asserted): block_hash == SHA-256(header of the Block bytes).
 * A tx whose code is TX_DUPLICATE_TXID, or whose skip_index is set, does not
 * overwrite the tx index entry of the earlier tx with that id (its code is
 * still kept in the block codes).
 * Writer thread only; ledger_height/last_hash/state_hash change after it. */
int ledger_commit_block(ledger_t *ledger, const ledger_block_t *block, vl_err_t *err);

/* Commits n consecutive blocks (tip+1 .. tip+n) in one synced WriteBatch:
 * all of them or none, each exactly as ledger_commit_block would, the tip
 * moving to the last. A node catching up commits a run of pulled blocks
 * this way (one fdatasync instead of n), having validated each against the
 * state its predecessors leave (validate.h, validate_run_t). The genesis
 * block commits alone. Errors as ledger_commit_block. */
int ledger_commit_blocks(ledger_t *ledger, const ledger_block_t *const *blocks, size_t n,
                         vl_err_t *err);

/* The state hash after block from the one before it (the fold above), as
 * ledger_commit_block computes it; pure. VL_ERR_NOMEM. */
int ledger_state_fold(const uint8_t prev[VL_HASH_SIZE], const ledger_block_t *block,
                      uint8_t out[VL_HASH_SIZE]);

/* The store under the ledger (borrowed until ledger_close): the consensus
 * WAL lives in it (wal_open in wal.h), and tests inject write faults through
 * it (store_fail_next_write in store.h). */
struct store_t;
struct store_t *ledger_store(ledger_t *ledger);

/* Test seam (vledgerd --test-skew-state): the next committed block's state
 * hash is folded wrongly, so this replica diverges from the others and the
 * checks that must catch a diverged replica can be exercised. */
void ledger_test_skew_state(ledger_t *ledger);
#endif
