/* members.c — lookup over the genesis membership list (linear: at most a few
 * dozen organisations, looked up once per signature). */
#include "members.h"

#include <stdio.h>
#include <string.h>

#include "error.h"

int
members_add(members_t *m, const uint8_t pub[VL_PUBKEY_SIZE], const char *name, int org,
            bool validator, bool endorser)
{
    if (members_find(m, pub, VL_PUBKEY_SIZE))
        return VL_ERR_EXISTS;
    if (m->count == MEMBERS_MAX)
        return VL_ERR_LIMIT;
    member_t *x = &m->items[m->count++];
    memset(x, 0, sizeof *x);
    memcpy(x->public_key, pub, VL_PUBKEY_SIZE);
    vl_did_from_public(pub, x->did);
    snprintf(x->name, sizeof x->name, "%s", name ? name : "");
    x->org = org;
    x->validator = validator;
    x->endorser = endorser;
    return 0;
}

const member_t *
members_find(const members_t *m, const uint8_t *pub, size_t pub_len)
{
    if (pub_len != VL_PUBKEY_SIZE)
        return NULL;
    for (size_t i = 0; i < m->count; i++)
        if (memcmp(m->items[i].public_key, pub, VL_PUBKEY_SIZE) == 0)
            return &m->items[i];
    return NULL;
}

size_t
members_validator_count(const members_t *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->count; i++)
        n += m->items[i].validator;
    return n;
}
