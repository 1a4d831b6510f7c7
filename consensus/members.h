/*
 * members.h — the network's membership as fixed by genesis: the node keys,
 * the organisation each speaks for (an index into the genesis orgs_t,
 * consensus/orgs.h), validators (who order and sign commit certificates)
 * and endorsers (nodes that may sign endorsements). Pure data; no I/O.
 */
#ifndef VL_MEMBERS_H
#define VL_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "did.h"

#define MEMBERS_MAX 256

typedef struct {
    uint8_t public_key[VL_PUBKEY_SIZE];
    char did[VL_DID_BUF];
    char name[64];
    int org;                  /* index into the genesis organisations, -1 = none */
    bool validator;
    bool endorser;
} member_t;

typedef struct {
    member_t items[MEMBERS_MAX];
    size_t count;
} members_t;

/* Adds a member of organisation org (-1: none); VL_ERR_LIMIT when full,
 * VL_ERR_EXISTS for a repeated key. */
int members_add(members_t *m, const uint8_t pub[VL_PUBKEY_SIZE], const char *name, int org,
                bool validator, bool endorser);

/* The member with this key, or NULL. Borrowed from m. */
const member_t *members_find(const members_t *m, const uint8_t *pub, size_t pub_len);

/* Number of validators. */
size_t members_validator_count(const members_t *m);
#endif
