/*
 * crypto.c — Ed25519 keys and signatures, SHA-256 (libsodium and OpenSSL 3).
 *
 * A vl_key_t owns one EVP_PKEY and caches the raw public key. Verification
 * goes through libsodium instead: OpenSSL 3 needs a key object, a context and
 * provider look-ups per call, ~120 us per verify on the 2-core host against
 * ~53 us for libsodium's crypto_sign_verify_detached, and every node checks
 * every transaction and block signature (with 128 nodes on that host,
 * libcrypto was 13% of all CPU while blocks flowed). Same RFC 8032
 * signatures; libsodium is only stricter (it refuses small-order keys and
 * non-canonical S, which vl_sign never produces), and every node uses it,
 * so every replica judges a signature alike. Signing goes through libsodium
 * too (crypto_sign_detached with the key's expanded secret, ~35 us against
 * ~84 us through EVP_DigestSign on that host; Ed25519 signatures are
 * deterministic, so both give the same bytes): the key object keeps the
 * 64-byte secret beside the EVP_PKEY, which remains for PEM files.
 *
 * SHA-256 goes through OpenSSL's low-level SHA256_* functions: deprecated in
 * OpenSSL 3, but EVP_Digest with EVP_sha256() fetches the algorithm from the
 * provider on every call, and every envelope, txid and signature-cache key
 * is hashed; the low-level calls run the same SHA-NI code without the
 * look-up. libsodium's crypto_hash_sha256 has no SHA-NI path.
 */
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OPENSSL_SUPPRESS_DEPRECATED   /* SHA256_*: see above */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sodium.h>

struct vl_key_t {
    EVP_PKEY *pkey;                 /* owned: the private key (PEM in and out) */
    uint8_t pub[VL_PUBKEY_SIZE];    /* raw public key, cached */
    uint8_t secret[crypto_sign_SECRETKEYBYTES];   /* seed || public key: signs */
};

struct vl_hasher_t {
    SHA256_CTX ctx;                 /* initialised */
};

static vl_key_t *
s_key_wrap(EVP_PKEY *pkey)
{
    vl_key_t *key = calloc(1, sizeof *key);
    uint8_t seed[crypto_sign_SEEDBYTES], pub[crypto_sign_PUBLICKEYBYTES];
    size_t len = VL_PUBKEY_SIZE, seed_len = sizeof seed;
    bool ok = key && sodium_init() >= 0
              && EVP_PKEY_get_raw_public_key(pkey, key->pub, &len) == 1 && len == VL_PUBKEY_SIZE
              && EVP_PKEY_get_raw_private_key(pkey, seed, &seed_len) == 1
              && seed_len == sizeof seed
              && crypto_sign_seed_keypair(pub, key->secret, seed) == 0
              && memcmp(pub, key->pub, VL_PUBKEY_SIZE) == 0;
    sodium_memzero(seed, sizeof seed);
    if (!ok) {
        if (key)
            sodium_memzero(key->secret, sizeof key->secret);
        free(key);
        EVP_PKEY_free(pkey);
        return NULL;
    }
    key->pkey = pkey;
    return key;
}

vl_key_t *
vl_key_generate(void)
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    if (!ctx)
        return NULL;
    if (EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pkey ? s_key_wrap(pkey) : NULL;
}

vl_key_t *
vl_key_load_pem(const char *path, vl_err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        vl_err_set(err, VL_ERR_IO, "cannot open key file %s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!pkey) {
        vl_err_set(err, VL_ERR_INVALID, "%s is not a PEM private key", path);
        return NULL;
    }
    if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pkey);
        vl_err_set(err, VL_ERR_INVALID, "%s is not an Ed25519 key", path);
        return NULL;
    }
    vl_key_t *key = s_key_wrap(pkey);
    if (!key)
        vl_err_set(err, VL_ERR_NOMEM, "out of memory loading %s", path);
    return key;
}

int
vl_key_save_pem(const vl_key_t *key, const char *path, vl_err_t *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int code = errno == EEXIST ? VL_ERR_EXISTS : VL_ERR_IO;
        return vl_err_set(err, code, "cannot create key file %s: %s", path, strerror(errno));
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(path);
        return vl_err_set(err, VL_ERR_IO, "cannot write key file %s", path);
    }
    int ok = PEM_write_PrivateKey(f, key->pkey, NULL, NULL, 0, NULL, NULL) == 1;
    ok = fflush(f) == 0 && fsync(fd) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        unlink(path);
        return vl_err_set(err, VL_ERR_IO, "cannot write key file %s", path);
    }
    return 0;
}

void
vl_key_destroy(vl_key_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    EVP_PKEY_free((*self_p)->pkey);
    sodium_memzero((*self_p)->secret, sizeof (*self_p)->secret);
    free(*self_p);
    *self_p = NULL;
}

const uint8_t *
vl_key_public(const vl_key_t *key)
{
    return key->pub;
}

int
vl_key_sign(const vl_key_t *key, const void *msg, size_t len, uint8_t sig[VL_SIG_SIZE])
{
    return crypto_sign_detached(sig, NULL, msg, len, key->secret) == 0 ? 0 : VL_ERR_NOMEM;
}

bool
vl_verify(const uint8_t pub[VL_PUBKEY_SIZE], const void *msg, size_t len,
          const uint8_t sig[VL_SIG_SIZE])
{
    /* sodium_init: idempotent and thread-safe, cheap after the first call */
    return sodium_init() >= 0 && crypto_sign_verify_detached(sig, msg, len, pub) == 0;
}

void
vl_sha256(const void *data, size_t len, uint8_t out[VL_HASH_SIZE])
{
    SHA256_CTX c;
    if (SHA256_Init(&c) != 1 || SHA256_Update(&c, data, len) != 1 || SHA256_Final(out, &c) != 1)
        abort();   /* SHA-256 cannot fail short of memory corruption */
}

vl_hasher_t *
vl_hasher_new(void)
{
    vl_hasher_t *h = calloc(1, sizeof *h);
    if (h && SHA256_Init(&h->ctx) != 1)
        abort();
    return h;
}

void
vl_hasher_update(vl_hasher_t *h, const void *data, size_t len)
{
    if (SHA256_Update(&h->ctx, data, len) != 1)
        abort();
}

void
vl_hasher_final(vl_hasher_t *h, uint8_t out[VL_HASH_SIZE])
{
    if (SHA256_Final(out, &h->ctx) != 1 || SHA256_Init(&h->ctx) != 1)
        abort();
}

void
vl_hasher_destroy(vl_hasher_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

int
vl_random_bytes(void *buf, size_t len)
{
    return RAND_bytes(buf, (int) len) == 1 ? 0 : VL_ERR_IO;
}
