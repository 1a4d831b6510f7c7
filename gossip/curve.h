/*
 * curve.h — CURVE transport keys derived from the node's Ed25519 identity.
 *
 * A member's genesis entry holds only its Ed25519 public key, so every node
 * can compute every member's CURVE (X25519) public key from it with the
 * standard birational map u = (1 + y) / (1 - y) mod 2^255 - 19, and each
 * node derives its own X25519 secret from its Ed25519 seed as
 * SHA-512(seed)[0..32) (RFC 8032 §5.1.5, the same scalar the signing key
 * uses; X25519 clamps it). No separate certificates to distribute: the
 * genesis member list is the CURVE allow-list, and pinning a peer's server
 * key pins its identity.
 */
#ifndef VL_GOSSIP_CURVE_H
#define VL_GOSSIP_CURVE_H

#include <stdint.h>

#include "crypto.h"
#include "error.h"

#define GOSSIP_CURVE_KEY_SIZE 32

/* X25519 public key of an Ed25519 public key. VL_ERR_INVALID when the
 * input is not a valid point (y >= p, off the curve, small order). */
int gossip_curve_public(const uint8_t ed_pub[VL_PUBKEY_SIZE],
                        uint8_t out[GOSSIP_CURVE_KEY_SIZE]);

/* Loads the Ed25519 PEM key at path (as written by vl_key_save_pem) and
 * derives its X25519 key pair. VL_ERR_IO / VL_ERR_INVALID with a message. */
int gossip_curve_keypair_from_pem(const char *path, uint8_t pub[GOSSIP_CURVE_KEY_SIZE],
                                  uint8_t secret[GOSSIP_CURVE_KEY_SIZE], vl_err_t *err);
#endif
