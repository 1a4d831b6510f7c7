/*
 * reactor.h — the node's reactor for scheduled work (DESIGN §5): after each
 * committed block, when the earliest schedule/<due-ms>/<id> entry is due by
 * the block's timestamp, it proposes `schedule.run_due {}` under the node's
 * key, endorses it locally and admits it to the mempool. The contract runs
 * what is due as of the proposal time and refuses a second run of the same
 * entry, so a duplicate or retried reactor tx never pays twice.
 */
#ifndef VL_NODE_REACTOR_H
#define VL_NODE_REACTOR_H

#include <stdint.h>

typedef struct node_t node_t;

/* Called by the commit path after a block with header time block_ms. */
void reactor_after_block(node_t *node, int64_t block_ms);
#endif
