/*
 * frame.h — byte layouts inside gossip frames (the frame sequences
 * themselves are tabled in gossip.h): the bundle of envelopes that PUB
 * frames and membership snapshots use, the 8-byte request ids, the head of
 * a member request and the status of its answer. Every integer is big-endian
 * through core/codec.h's vl_put_be32/64 and vl_get_be32/64.
 *
 *   bundle   0x00, then per envelope: length (4, big-endian, > 0), bytes
 *   id       8 bytes, big-endian
 *   head     kind (4) | timeout_ms (4)              of an `R` request
 *   status   4 bytes: 0 ok, else minus a VL_ERR_*   of a `P` answer
 *
 * A protobuf Envelope never starts with 0x00 (field number 0 does not
 * exist), so a receiver tells a bundle from a lone envelope by the first
 * byte.
 *
 * Pure: no sockets. Parsing never trusts its input.
 */
#ifndef VL_GOSSIP_FRAME_H
#define VL_GOSSIP_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define GOSSIP_BUNDLE_TAG 0x00
#define GOSSIP_BUNDLE_ENTRY_HEAD 4   /* bytes before each envelope in a bundle */
#define GOSSIP_ID_SIZE 8
#define GOSSIP_HEAD_SIZE 8
#define GOSSIP_STATUS_SIZE 4

/* Appends one envelope (len > 0) to a bundle of *off bytes in buf (*off == 0
 * starts the bundle with its tag). The caller has checked that buf holds
 * *off + 1 + GOSSIP_BUNDLE_ENTRY_HEAD + len bytes. */
void gossip_bundle_put(uint8_t *buf, size_t *off, const uint8_t *env, size_t len);

/* Walks a bundle: *off starts at 0. Returns 1 with the next envelope in
 * *env / *len (borrowed from data) and *off advanced, 0 at the end, or
 * VL_ERR_INVALID for a missing tag, a truncated length, a zero length or
 * a length past the end. */
int gossip_bundle_next(const uint8_t *data, size_t size, size_t *off, const uint8_t **env,
                       size_t *len);

void gossip_id_put(uint8_t out[GOSSIP_ID_SIZE], uint64_t id);
uint64_t gossip_id_get(const uint8_t in[GOSSIP_ID_SIZE]);

void gossip_head_put(uint8_t out[GOSSIP_HEAD_SIZE], uint32_t kind, uint32_t timeout_ms);
void gossip_head_get(const uint8_t in[GOSSIP_HEAD_SIZE], uint32_t *kind, uint32_t *timeout_ms);

/* status: 0 or a negative VL_ERR_* code. */
void gossip_status_put(uint8_t out[GOSSIP_STATUS_SIZE], int status);
/* 0, VL_ERR_LIMIT or VL_ERR_REFUSED: every other code a peer may send is
 * read as refused (a peer does not get to make us see a local condition
 * such as a timeout). */
int gossip_status_get(const uint8_t in[GOSSIP_STATUS_SIZE]);
#endif
