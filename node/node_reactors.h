/*
 * node_reactors.h — participants' reactor rules run by their own node
 * (node_reactors.c, docs/reactors.md). Loop thread only.
 */
#ifndef VL_NODE_REACTORS_H
#define VL_NODE_REACTORS_H

#include <jansson.h>

#include "node_internal.h"

/* The reactors of node: its own key and node->config.identities (each
 * checked like the node key: mode 600). Reads DATA/reactor.checkpoint.
 * NULL with err naming a key that cannot be used. node is borrowed. */
node_reactors_t *node_reactors_new(node_t *node, vl_err_t *err);
void node_reactors_destroy(node_reactors_t **self_p);

/* Runs the rules over the committed blocks above the checkpoint (call once
 * the loop runs, before new blocks arrive). */
void node_reactors_replay(node_reactors_t *r);

/* Commit subscriber: settles our follow-ups in the block, then runs the
 * rules its events trigger. */
void node_reactors_on_commit(void *arg, const commit_event_t *event);

/* When a time rule fires in the block whose time is now_ms, the previous
 * block's prev_ms: the latest of at, at + every_ms, at + 2 * every_ms, ...
 * (every_ms 0: at only) in (prev_ms, now_ms], or -1 for none. Pure. */
int64_t node_reactors_due(int64_t at, int64_t every_ms, int64_t prev_ms, int64_t now_ms);

/* status.reactors {identities, rules, pending, runs, proposed, done,
 * already_done, failed, retries, checkpoint}. */
json_t *node_reactors_status(const node_reactors_t *r);

#endif
