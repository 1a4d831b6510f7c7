/*
 * blockview.h — a block decoded once: its header, hash, the id of every
 * transaction (tx_id, the one txid rule) and, when asked, every transaction
 * parsed. Validation, the commit pipeline, the API (block.get, tx.get,
 * history), the event topics and the node read blocks through this and do
 * not unpack Block or BlockHeader messages themselves.
 *
 * A view borrows nothing: it owns the unpacked messages (which hold copies
 * of the bytes they came from), so it may outlive the bytes. Not
 * thread-safe to share; a view built on one thread may be handed to another.
 */
#ifndef VL_BLOCKVIEW_H
#define VL_BLOCKVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "error.h"
#include "tx.h"
#include "vledger.pb-c.h"

typedef struct {
    Vl__Block *block;             /* owned */
    Vl__BlockHeader *header;      /* owned */
    uint8_t hash[VL_HASH_SIZE];   /* SHA-256 of the header bytes */
    size_t n_txs;
    uint8_t (*txids)[VL_HASH_SIZE];   /* owned: tx_id of each transaction */
    tx_parsed_t **txs;            /* owned, NULL unless parsed; NULL entries for
                                     transactions that fail tx_parse */
    int *parse_codes;             /* owned, with txs: tx_parse's code per tx */
} block_view_t;

enum {
    BLOCK_VIEW_HEADER = 0,        /* header, hash and txids */
    BLOCK_VIEW_PARSE_TXS = 1,     /* also tx_parse every transaction */
};

/* Decodes block bytes. chain_id is used to parse transactions (may be NULL
 * without BLOCK_VIEW_PARSE_TXS). Returns 0 and *out (owned by the caller,
 * release with block_view_destroy), or VL_ERR_INVALID (not a Block, no or a
 * bad header, more than VL_BLOCK_TXS_MAX transactions) or VL_ERR_NOMEM with
 * a message; *out untouched on failure. A transaction that fails tx_parse
 * does not fail the view: its entry in txs is NULL and parse_codes says why. */
int block_view_new(const uint8_t *bytes, size_t len, const char *chain_id, int flags,
                   block_view_t **out, vl_err_t *err);

void block_view_destroy(block_view_t **self_p);

/* The height in a block's header, or false when the bytes are not a block
 * with a header. Cheaper than a view: nothing but the header is kept. */
bool block_view_height(const uint8_t *bytes, size_t len, uint64_t *height);
#endif
