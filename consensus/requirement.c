/*
 * requirement.c — a transaction's endorsement requirement (requirement.h).
 * The cache holds policy *text* (parsing a policy is cheap; parsing the
 * contract record it comes from, Lua source included, is not), so no
 * parsed policy is ever shared between threads or freed under a reader.
 */
#include "requirement.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool used;
    char contract[65];
    char function[65];
    vl_version_t version;             /* of contract/<name> */
    char text[POLICY_TEXT_MAX + 1];   /* the function's policy */
} s_entry_t;

struct requirement_cache_t {
    pthread_mutex_t mu;
    s_entry_t entries[REQUIREMENT_CACHE_MAX];
    size_t next;                      /* FIFO replacement */
};

requirement_cache_t *
requirement_cache_new(void)
{
    requirement_cache_t *c = calloc(1, sizeof *c);
    if (c && pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

void
requirement_cache_destroy(requirement_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pthread_mutex_destroy(&(*self_p)->mu);
    free(*self_p);
    *self_p = NULL;
}

static bool
s_cache_get(requirement_cache_t *c, const char *contract, const char *function,
            vl_version_t version, char *text)
{
    bool found = false;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < REQUIREMENT_CACHE_MAX && !found; i++) {
        const s_entry_t *e = &c->entries[i];
        if (e->used && vl_version_eq(e->version, version) && strcmp(e->contract, contract) == 0
            && strcmp(e->function, function) == 0) {
            memcpy(text, e->text, sizeof e->text);
            found = true;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return found;
}

static void
s_cache_put(requirement_cache_t *c, const char *contract, const char *function,
            vl_version_t version, const char *text)
{
    pthread_mutex_lock(&c->mu);
    s_entry_t *e = &c->entries[c->next];
    c->next = (c->next + 1) % REQUIREMENT_CACHE_MAX;
    e->used = true;
    snprintf(e->contract, sizeof e->contract, "%s", contract);
    snprintf(e->function, sizeof e->function, "%s", function);
    e->version = version;
    snprintf(e->text, sizeof e->text, "%s", text);
    pthread_mutex_unlock(&c->mu);
}

/* The function's policy text from contract/<name>, into text. */
static int
s_function_policy(const requirement_env_t *env, const char *contract, const char *function,
                  char *text, vl_err_t *err)
{
    char key[80];
    if (snprintf(key, sizeof key, "contract/%s", contract) >= (int) sizeof key
        || strlen(function) > 64)
        return vl_err_set(err, VL_ERR_REFUSED, "contract or function name too long");
    char *value = NULL;
    size_t len = 0;
    vl_version_t version = { 0, 0 };
    int rc = env->get(env->ctx, key, &value, &len, &version);
    if (rc == VL_ERR_NOT_FOUND)
        return vl_err_set(err, VL_ERR_REFUSED, "contract '%s' is not deployed", contract);
    if (rc != 0)
        return vl_err_set(err, rc, "cannot read %s: %s", key, vl_strerror(rc));
    if (env->cache && s_cache_get(env->cache, contract, function, version, text)) {
        free(value);
        return 0;
    }
    json_t *record = json_loadb(value, len, 0, NULL);
    free(value);
    json_t *policies = json_object_get(record, "policy");
    if (!json_is_object(record) || (policies && !json_is_object(policies))) {
        json_decref(record);
        return vl_err_set(err, VL_ERR_CORRUPT, "the record of contract '%s' is not a contract "
                          "record", contract);
    }
    json_t *p = json_object_get(policies, function);
    if (!p)
        p = json_object_get(policies, "*");
    const char *t = p ? json_string_value(p) : "any";
    if (!t || strlen(t) > POLICY_TEXT_MAX) {
        json_decref(record);
        return vl_err_set(err, VL_ERR_CORRUPT, "contract '%s' has a policy for '%s' that is not "
                          "a policy expression", contract, function);
    }
    snprintf(text, POLICY_TEXT_MAX + 1, "%s", t);
    json_decref(record);
    if (env->cache)
        s_cache_put(env->cache, contract, function, version, text);
    return 0;
}

int
requirement_resolve(const requirement_env_t *env, const Vl__Proposal *p,
                    const char *creator_did, const Vl__EndorsedResult *r,
                    policy_resolved_t **out, vl_err_t *err)
{
    char text[POLICY_TEXT_MAX + 1];
    int rc = s_function_policy(env, p->contract, p->function, text, err);
    if (rc != 0)
        return rc;
    policy_t *policy = NULL;
    vl_err_t perr;
    rc = policy_parse(text, &policy, &perr);
    if (rc != 0)
        return vl_err_set(err, VL_ERR_CORRUPT, "contract '%s', function '%s': %s", p->contract,
                          p->function, perr.msg);
    policy_write_t *writes = calloc(r->n_writes ? r->n_writes : 1, sizeof *writes);
    if (!writes) {
        policy_destroy(&policy);
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->n_writes; i++)
        writes[i] = (policy_write_t) { r->writes[i]->key, r->writes[i]->value.data,
                                       r->writes[i]->value.len, r->writes[i]->is_delete };
    policy_env_t penv = { env->ctx, env->get, p->args_json[0] ? p->args_json : "{}", env->orgs,
                          NULL, creator_did };
    rc = policy_resolve_tx(policy, writes, r->n_writes, &penv, out, err);
    free(writes);
    policy_destroy(&policy);
    return rc;
}

bool
requirement_reads_covered(const policy_resolved_t *resolved, const Vl__EndorsedResult *r,
                          vl_err_t *why)
{
    size_t n = policy_resolved_read_count(resolved);
    for (size_t i = 0; i < n; i++) {
        const policy_read_t *pr = policy_resolved_read(resolved, i);
        /* The read set is sorted by key (vledger.proto, EndorsedResult). */
        const Vl__ReadItem *ri = NULL;
        size_t lo = 0, hi = r->n_reads;
        while (lo < hi && !ri) {
            size_t mid = lo + (hi - lo) / 2;
            int c = strcmp(r->reads[mid]->key, pr->key);
            if (c == 0)
                ri = r->reads[mid];
            else if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        bool covered = ri && ri->exists == pr->found
                       && (!pr->found || (ri->block == pr->version.block
                                          && ri->tx == pr->version.tx));
        if (!covered) {
            vl_err_set(why, VL_ERR_REFUSED, "the policy depends on %.200s, which the endorsed "
                       "result did not read at this version", pr->key);
            return false;
        }
    }
    return true;
}
