/*
 * crypto.h — the single interface for hashing, keys and signatures.
 *
 * Ed25519 through OpenSSL 3 EVP (deterministic signatures, no malleability)
 * and SHA-256. Every signature made or checked in vledger goes through here
 * (DESIGN §2), so a verification cache or a parallel checker can be added in
 * one place.
 *
 * Thread rules: a vl_key_t may be used for signing from one thread at a time;
 * vl_verify and the hash functions are thread-safe.
 */
#ifndef VL_CRYPTO_H
#define VL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define VL_HASH_SIZE 32
#define VL_PUBKEY_SIZE 32
#define VL_SIG_SIZE 64

typedef struct vl_key_t vl_key_t;

/* A fresh Ed25519 key pair, or NULL when the RNG or allocation fails. */
vl_key_t *vl_key_generate(void);

/* Loads a PEM private key written by vl_key_save_pem. Returns NULL and a
 * message in err when the file is missing, unreadable or not an Ed25519 key. */
vl_key_t *vl_key_load_pem(const char *path, vl_err_t *err);

/* Writes the private key as PKCS#8 PEM, file mode 0600. Refuses to overwrite
 * an existing file (VL_ERR_EXISTS). */
int vl_key_save_pem(const vl_key_t *key, const char *path, vl_err_t *err);

/* Destroys the key and nulls *self_p; accepts NULL. */
void vl_key_destroy(vl_key_t **self_p);

/* Raw 32-byte public key, borrowed for the key's lifetime. */
const uint8_t *vl_key_public(const vl_key_t *key);

/* Signs msg into sig[64]. Returns 0 or VL_ERR_NOMEM. */
int vl_key_sign(const vl_key_t *key, const void *msg, size_t len, uint8_t sig[VL_SIG_SIZE]);

/* True when sig is a valid Ed25519 signature of msg under pub. Lengths are
 * checked by the caller: pub is 32 bytes, sig is 64. */
bool vl_verify(const uint8_t pub[VL_PUBKEY_SIZE], const void *msg, size_t len,
               const uint8_t sig[VL_SIG_SIZE]);

/* SHA-256 of one buffer. */
void vl_sha256(const void *data, size_t len, uint8_t out[VL_HASH_SIZE]);

/* Incremental SHA-256 for hashes over several parts (state hash, data hash). */
typedef struct vl_hasher_t vl_hasher_t;
vl_hasher_t *vl_hasher_new(void);
void vl_hasher_update(vl_hasher_t *h, const void *data, size_t len);
/* Writes the digest and resets the hasher for reuse. */
void vl_hasher_final(vl_hasher_t *h, uint8_t out[VL_HASH_SIZE]);
void vl_hasher_destroy(vl_hasher_t **self_p);

/* Fills buf with cryptographically random bytes; returns 0 or VL_ERR_IO. */
int vl_random_bytes(void *buf, size_t len);

#endif
