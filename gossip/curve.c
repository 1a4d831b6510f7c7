/* curve.c — Ed25519 identity -> CURVE (X25519) keys; see curve.h. */
#include "curve.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

int
gossip_curve_public(const uint8_t ed_pub[VL_PUBKEY_SIZE], uint8_t out[GOSSIP_CURVE_KEY_SIZE])
{
    uint8_t y_le[32];
    memcpy(y_le, ed_pub, 32);
    y_le[31] &= 0x7f;   /* the top bit is the sign of x */
    int rc = VL_ERR_NOMEM;
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *p = BN_new(), *y = BN_lebin2bn(y_le, 32, NULL), *num = BN_new(), *den = BN_new(),
           *u = BN_new();
    if (!ctx || !p || !y || !num || !den || !u)
        goto done;
    /* p = 2^255 - 19 */
    if (!BN_set_bit(p, 255) || !BN_sub_word(p, 19))
        goto done;
    rc = VL_ERR_INVALID;
    if (BN_cmp(y, p) >= 0)
        goto done;
    if (!BN_copy(num, y) || !BN_add_word(num, 1) || !BN_mod(num, num, p, ctx))
        goto done;
    if (!BN_mod_sub(den, BN_value_one(), y, p, ctx) || BN_is_zero(den))
        goto done;
    if (!BN_mod_inverse(den, den, p, ctx) || !BN_mod_mul(u, num, den, p, ctx))
        goto done;
    if (BN_bn2lebinpad(u, out, GOSSIP_CURVE_KEY_SIZE) != GOSSIP_CURVE_KEY_SIZE)
        goto done;
    rc = 0;
done:
    BN_free(u);
    BN_free(den);
    BN_free(num);
    BN_free(y);
    BN_free(p);
    BN_CTX_free(ctx);
    return rc;
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
