/* did.c — DID derivation and shape check. */
#include "did.h"

#include <string.h>

#include "codec.h"

void
vl_did_from_public(const uint8_t pub[VL_PUBKEY_SIZE], char out[VL_DID_BUF])
{
    uint8_t digest[VL_HASH_SIZE];
    vl_sha256(pub, VL_PUBKEY_SIZE, digest);
    memcpy(out, VL_DID_PREFIX, 7);
    vl_hex_encode(digest, 20, out + 7);
}

bool
vl_did_valid(const char *text)
{
    if (!text || strlen(text) != VL_DID_LEN || strncmp(text, VL_DID_PREFIX, 7) != 0)
        return false;
    for (const char *p = text + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}
