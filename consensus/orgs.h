/*
 * orgs.h — the network's organisations as fixed by genesis (DESIGN §2,
 * "Organisations"): a name and the roles each holds. Pure data; no I/O,
 * no allocation, no keys (which node keys speak for which organisation is
 * consensus/members.h's business; a member refers to an organisation by
 * its index here).
 *
 * An organisation's index is its position in genesis order and never
 * changes for the life of the network, so indices are what endorsement
 * policies resolve to (consensus/policy.h) and what org_set_t holds.
 *
 * Roles are a closed list (ORG_ROLE_LIST below): a policy's `role:<name>`
 * and a contract's role check mean the same thing on every node only if a
 * misspelt role in genesis is refused rather than silently held by nobody.
 *
 * Errors (orgs_add): VL_ERR_INVALID for a bad name, an unknown or repeated
 * role; VL_ERR_EXISTS for a repeated name; VL_ERR_LIMIT past ORGS_MAX
 * organisations or ORG_ROLES_MAX roles. Each with a message naming the
 * organisation and the problem; *orgs is unchanged on failure.
 *
 * Thread rules: none of its own; an orgs_t is read-only once genesis is
 * loaded and may then be read from any thread.
 */
#ifndef VL_ORGS_H
#define VL_ORGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define ORGS_MAX 256            /* organisations in one network (= MEMBERS_MAX) */
#define ORG_ROLES_MAX 16        /* roles one organisation holds */
#define ORG_NAME_MAX 63         /* bytes in a name: [a-z0-9_-]{1,63} */

/* The known roles: X(enum suffix, name as written in genesis and policies). */
#define ORG_ROLE_LIST(X)                                  \
    X(TITLE_AGENCY, "title_agency")                       \
    X(REGISTRATION_AUTHORITY, "registration_authority")   \
    X(LENDER, "lender")                                   \
    X(INSURER, "insurer")                                 \
    X(DEALER, "dealer")                                   \
    X(ISSUER, "issuer")                                   \
    X(VALIDATOR, "validator")

typedef enum {
#define ORG_ROLE_ENUM_(id, name) ORG_ROLE_##id,
    ORG_ROLE_LIST(ORG_ROLE_ENUM_)
#undef ORG_ROLE_ENUM_
    ORG_ROLE_COUNT
} org_role_t;

typedef struct {
    char name[ORG_NAME_MAX + 1];      /* NUL-terminated */
    org_role_t roles[ORG_ROLES_MAX];  /* distinct, in genesis order */
    size_t role_count;
} org_t;

typedef struct {
    org_t items[ORGS_MAX];            /* index = genesis order */
    size_t count;
} orgs_t;

/* A set of organisation indices (e.g. the organisations that endorsed a
 * transaction). Zero-initialise for the empty set. */
#define ORG_SET_WORDS ((ORGS_MAX + 63) / 64)
typedef struct {
    uint64_t words[ORG_SET_WORDS];
} org_set_t;

/* The name of a role ("title_agency"); NULL for a value outside the enum. */
const char *org_role_name(org_role_t role);

/* The role called name[0..len), or VL_ERR_NOT_FOUND. */
int org_role_parse(const char *name, size_t len, org_role_t *out);

/* True when name[0..len) is a valid organisation name: [a-z0-9_-]{1,63}. */
bool orgs_name_valid(const char *name, size_t len);

/* Appends an organisation holding the given roles (names as in
 * ORG_ROLE_LIST); its index is orgs->count - 1 afterwards. Errors as in the
 * file comment; the message names the organisation, e.g. "organisation
 * 'bank1': unknown role 'lendr'". */
int orgs_add(orgs_t *orgs, const char *name, const char *const *roles, size_t role_count,
             vl_err_t *err);

/* The index of the organisation called name, or VL_ERR_NOT_FOUND. */
int orgs_find(const orgs_t *orgs, const char *name);

/* True when org holds role. */
bool org_has_role(const org_t *org, org_role_t role);

/* The set of organisations holding role (empty if none does). */
org_set_t orgs_with_role(const orgs_t *orgs, org_role_t role);

/* Small set helpers; index must be in [0, ORGS_MAX). */
static inline void
org_set_add(org_set_t *set, int index)
{
    set->words[index / 64] |= UINT64_C(1) << (index % 64);
}

static inline bool
org_set_has(const org_set_t *set, int index)
{
    return index >= 0 && index < ORGS_MAX &&
           (set->words[index / 64] >> (index % 64) & 1) != 0;
}

static inline bool
org_set_intersects(const org_set_t *a, const org_set_t *b)
{
    for (int i = 0; i < ORG_SET_WORDS; i++)
        if (a->words[i] & b->words[i])
            return true;
    return false;
}

static inline int
org_set_count(const org_set_t *set)
{
    int n = 0;
    for (int i = 0; i < ORG_SET_WORDS; i++)
        n += __builtin_popcountll(set->words[i]);
    return n;
}

/* The lowest index in set, or -1 when it is empty. */
static inline int
org_set_first(const org_set_t *set)
{
    for (int i = 0; i < ORG_SET_WORDS; i++)
        if (set->words[i])
            return i * 64 + __builtin_ctzll(set->words[i]);
    return -1;
}
#endif
