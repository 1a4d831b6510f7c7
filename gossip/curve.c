/* curve.c — Ed25519 identity -> CURVE (X25519) keys; see curve.h. */
#include "curve.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

/* libsodium's conversion: the same map, in constant time and about 1/20 of
 * the CPU of the OpenSSL BIGNUM version this replaced (a node converts every
 * member's key at start: 127 at 128 nodes, ~8 ms of the start-up), and it
 * also refuses points off the curve or of small order. */
int
gossip_curve_public(const uint8_t ed_pub[VL_PUBKEY_SIZE], uint8_t out[GOSSIP_CURVE_KEY_SIZE])
{
    if (sodium_init() < 0)
        return VL_ERR_NOMEM;
    uint8_t u[GOSSIP_CURVE_KEY_SIZE];
    if (crypto_sign_ed25519_pk_to_curve25519(u, ed_pub) != 0)
        return VL_ERR_INVALID;
    memcpy(out, u, sizeof u);
    return 0;
}

int
gossip_curve_keypair_from_pem(const char *path, uint8_t pub[GOSSIP_CURVE_KEY_SIZE],
                              uint8_t secret[GOSSIP_CURVE_KEY_SIZE], vl_err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return vl_err_set(err, VL_ERR_IO, "cannot open key %s", path);
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(key);
        return vl_err_set(err, VL_ERR_INVALID, "%s is not an Ed25519 private key", path);
    }
    uint8_t seed[32], ed_pub[32];
    size_t seed_len = sizeof seed, pub_len = sizeof ed_pub;
    int ok = EVP_PKEY_get_raw_private_key(key, seed, &seed_len)
             && EVP_PKEY_get_raw_public_key(key, ed_pub, &pub_len) && seed_len == 32
             && pub_len == 32;
    EVP_PKEY_free(key);
    if (!ok)
        return vl_err_set(err, VL_ERR_INVALID, "cannot read the raw key in %s", path);
    uint8_t h[64];
    unsigned int hlen = 0;
    if (!EVP_Digest(seed, sizeof seed, h, &hlen, EVP_sha512(), NULL))
        return vl_err_set(err, VL_ERR_NOMEM, "SHA-512 failed");
    h[0] &= 248;
    h[31] &= 127;
    h[31] |= 64;
    uint8_t u[32];
    int rc = gossip_curve_public(ed_pub, u);
    if (rc != 0)
        return vl_err_set(err, rc, "the public key in %s has no X25519 form", path);
    memcpy(secret, h, 32);
    memcpy(pub, u, 32);
    OPENSSL_cleanse(h, sizeof h);
    OPENSSL_cleanse(seed, sizeof seed);
    return 0;
}
