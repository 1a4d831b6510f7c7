/*
 * sigcache.h — remembers signatures that verified, so no node checks the
 * same signature twice (DESIGN §2): a transaction's signatures are checked
 * when it enters the mempool and found here again when its block commits.
 *
 * The entry key is SHA-256(public key || signature || SHA-256(message)), so
 * a cached (key, signature) pair never vouches for a different message.
 * Fixed capacity with FIFO replacement: memory stays bounded whatever peers
 * send. Thread-safe: the loop thread and the worker pool's threads share
 * one cache (it is sharded, each shard under its own mutex). Two threads
 * checking the same new signature at the same moment may both verify it;
 * the cache is still correct (an entry is only ever added after a check or
 * for a signature this node made).
 */
#ifndef VL_SIGCACHE_H
#define VL_SIGCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

typedef struct sigcache_t sigcache_t;

sigcache_t *sigcache_new(size_t capacity);
void sigcache_destroy(sigcache_t **self_p);

/* Verifies sig over msg under pub, consulting and filling the cache.
 * pub_len and sig_len are checked here (untrusted lengths from the wire). */
bool sigcache_verify(sigcache_t *cache, const uint8_t *pub, size_t pub_len, const void *msg,
                     size_t msg_len, const uint8_t *sig, size_t sig_len);

/* Records a signature this node made itself (it is valid by construction),
 * so the check of it when the transaction comes back costs a hash, not a
 * curve operation. */
void sigcache_add(sigcache_t *cache, const uint8_t pub[VL_PUBKEY_SIZE], const void *msg,
                  size_t msg_len, const uint8_t sig[VL_SIG_SIZE]);

/* Counters for status and benchmarks. */
uint64_t sigcache_hits(const sigcache_t *cache);
uint64_t sigcache_misses(const sigcache_t *cache);
#endif
