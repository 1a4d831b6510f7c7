/* types.h — small value types shared by every layer. */
#ifndef VL_TYPES_H
#define VL_TYPES_H

#include <stdbool.h>
#include <stdint.h>

/* The version of a world-state value: the block and the transaction index
 * within it that last wrote the key (DESIGN §3, MVCC). Genesis writes are
 * version {0, i}. */
typedef struct {
    uint64_t block;
    uint32_t tx;
} vl_version_t;

static inline bool
vl_version_eq(vl_version_t a, vl_version_t b)
{
    return a.block == b.block && a.tx == b.tx;
}

/* Limits that bound what a peer or client can make a node hold. */
#define VL_KEY_MAX 512                      /* bytes in a world-state key */
#define VL_VALUE_MAX (1024 * 1024)          /* bytes in a world-state value */
#define VL_TX_MAX (4 * 1024 * 1024)         /* bytes in one transaction */
#define VL_BLOCK_TXS_MAX 10000              /* transactions in one block */
#endif
