/*
 * did.h — decentralised identifiers (DESIGN §2).
 *
 * A DID is "did:vl:" followed by the first 40 lowercase hex digits of the
 * SHA-256 of the identity's raw Ed25519 public key: 47 characters in all.
 */
#ifndef VL_DID_H
#define VL_DID_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto.h"

#define VL_DID_PREFIX "did:vl:"
#define VL_DID_LEN 47               /* 7 prefix + 40 hex */
#define VL_DID_BUF (VL_DID_LEN + 1)

/* Writes the DID of a public key into out (NUL-terminated). */
void vl_did_from_public(const uint8_t pub[VL_PUBKEY_SIZE], char out[VL_DID_BUF]);

/* True when text has exactly the DID shape. */
bool vl_did_valid(const char *text);
#endif
