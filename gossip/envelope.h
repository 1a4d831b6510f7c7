/*
 * envelope.h — signed gossip envelopes (DESIGN §6).
 *
 * An Envelope {body, signature, hops} carries an EnvelopeBody {type, origin,
 * payload, created_ms, nonce}. The origin signs the body bytes verbatim with
 * its Ed25519 key; the envelope id is SHA-256(body bytes), so every relayed
 * copy of one message has the same id whoever relays it. `hops` counts
 * relays and is not signed: a relay can only raise it (it is capped by the
 * receiver), and lowering it buys at most a few extra relays of a message
 * that the seen-cache drops anyway.
 *
 * Pure functions: no sockets, no clock reads (created_ms is passed in).
 * Parsing never trusts its input: every malformed envelope is an error
 * code, never an assert.
 */
#ifndef VL_GOSSIP_ENVELOPE_H
#define VL_GOSSIP_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "error.h"
#include "vledger.pb-c.h"

/* Named limits. */
#define GOSSIP_ENVELOPE_MAX (8u << 20)   /* bytes in one envelope on the wire */

/* A parsed envelope. Pointers borrow from the unpacked messages, which the
 * struct owns until gossip_envelope_clear. */
typedef struct {
    Vl__Envelope *env;            /* owned */
    Vl__EnvelopeBody *body;       /* owned */
    uint8_t id[VL_HASH_SIZE];     /* SHA-256(body bytes) */
    int type;                     /* Vl__EnvelopeType */
    const uint8_t *origin;        /* borrowed: 32-byte public key */
    const uint8_t *payload;       /* borrowed */
    size_t payload_len;
    uint32_t hops;
    int64_t created_ms;
} gossip_envelope_t;

/* Builds and signs an envelope of type with payload (may be empty) and
 * hops 0. *out is malloc'd (caller frees). VL_ERR_INVALID for an unknown
 * type or an oversized payload, VL_ERR_NOMEM. */
int gossip_envelope_seal(const vl_key_t *key, int type, const void *payload, size_t len,
                         int64_t created_ms, uint64_t nonce, uint8_t **out, size_t *out_len);

/* Parses bytes into *out and computes the id; does NOT check the
 * signature (so a duplicate can be dropped before paying for a verify).
 * VL_ERR_INVALID with a message for anything malformed: not an Envelope,
 * no body, a body that is not an EnvelopeBody, an unknown type, an origin
 * that is not 32 bytes, a signature that is not 64 bytes, oversize. */
int gossip_envelope_parse(const uint8_t *bytes, size_t len, gossip_envelope_t *out,
                          vl_err_t *err);

/* Ed25519 verification through libsodium (about twice as fast here as
 * vl_verify through OpenSSL 3's EVP layer; same signatures, see
 * envelope.c). Lengths are checked. */
bool gossip_ed25519_verify(const uint8_t *pub, size_t pub_len, const void *msg, size_t len,
                           const uint8_t *sig, size_t sig_len);

/* True when the origin's signature over the body bytes verifies. */
bool gossip_envelope_verify(const gossip_envelope_t *e);

/* The envelope re-packed with hops set (for relaying). *out malloc'd. */
int gossip_envelope_pack_hops(const gossip_envelope_t *e, uint32_t hops, uint8_t **out,
                              size_t *out_len);

/* Releases what parse allocated; accepts a zeroed or cleared struct. */
void gossip_envelope_clear(gossip_envelope_t *e);

/* Name of an envelope type ("block", ...), "unknown" otherwise. */
const char *gossip_envelope_type_name(int type);
#endif
