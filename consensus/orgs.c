/*
 * orgs.c — the genesis organisations: name and role checks, lookup.
 *
 * Lookups are linear: there are at most ORGS_MAX (256) organisations and a
 * policy resolution looks up a handful, so an index would cost more to keep
 * right than it saves.
 */
#include "orgs.h"

#include <string.h>

static const char *const s_role_names[ORG_ROLE_COUNT] = {
#define ORG_ROLE_NAME_(id, name) name,
    ORG_ROLE_LIST(ORG_ROLE_NAME_)
#undef ORG_ROLE_NAME_
};

const char *
org_role_name(org_role_t role)
{
    return (unsigned) role < ORG_ROLE_COUNT ? s_role_names[role] : NULL;
}

int
org_role_parse(const char *name, size_t len, org_role_t *out)
{
    for (int i = 0; i < ORG_ROLE_COUNT; i++) {
        if (strlen(s_role_names[i]) == len && memcmp(s_role_names[i], name, len) == 0) {
            *out = (org_role_t) i;
            return 0;
        }
    }
    return VL_ERR_NOT_FOUND;
}

bool
orgs_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > ORG_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int
orgs_add(orgs_t *orgs, const char *name, const char *const *roles, size_t role_count,
         vl_err_t *err)
{
    size_t nlen = name ? strnlen(name, ORG_NAME_MAX + 1) : 0;
    if (!name || !orgs_name_valid(name, nlen))
        return vl_err_set(err, VL_ERR_INVALID,
                          "organisation name '%.*s' is not 1..%d of [a-z0-9_-]",
                          name ? (int) ORG_NAME_MAX + 1 : 0, name ? name : "", ORG_NAME_MAX);
    if (orgs_find(orgs, name) >= 0)
        return vl_err_set(err, VL_ERR_EXISTS, "organisation '%s' is listed twice", name);
    if (orgs->count >= ORGS_MAX)
        return vl_err_set(err, VL_ERR_LIMIT, "organisation '%s': more than %d organisations",
                          name, ORGS_MAX);
    if (role_count > ORG_ROLES_MAX)
        return vl_err_set(err, VL_ERR_LIMIT, "organisation '%s': more than %d roles", name,
                          ORG_ROLES_MAX);
    /* Build into a local copy so *orgs is untouched on any failure. */
    org_t org = { .role_count = 0 };
    memcpy(org.name, name, nlen + 1);
    for (size_t i = 0; i < role_count; i++) {
        org_role_t role;
        if (!roles[i] || org_role_parse(roles[i], strlen(roles[i]), &role) != 0)
            return vl_err_set(err, VL_ERR_INVALID, "organisation '%s': unknown role '%.64s'",
                              name, roles[i] ? roles[i] : "(null)");
        if (org_has_role(&org, role))
            return vl_err_set(err, VL_ERR_INVALID, "organisation '%s': role '%s' listed twice",
                              name, roles[i]);
        org.roles[org.role_count++] = role;
    }
    orgs->items[orgs->count++] = org;
    return 0;
}

int
orgs_find(const orgs_t *orgs, const char *name)
{
    for (size_t i = 0; i < orgs->count; i++)
        if (strcmp(orgs->items[i].name, name) == 0)
            return (int) i;
    return VL_ERR_NOT_FOUND;
}

bool
org_has_role(const org_t *org, org_role_t role)
{
    for (size_t i = 0; i < org->role_count; i++)
        if (org->roles[i] == role)
            return true;
    return false;
}

org_set_t
orgs_with_role(const orgs_t *orgs, org_role_t role)
{
    org_set_t set = { { 0 } };
    for (size_t i = 0; i < orgs->count; i++)
        if (org_has_role(&orgs->items[i], role))
            org_set_add(&set, (int) i);
    return set;
}
