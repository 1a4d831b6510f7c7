/*
 * client_endpoint.c — where the node is: the order of precedence users rely
 * on (INTERFACE.md): --node, then $VLEDGER_NODE, then the `api` entry the
 * dev node wrote into DATA/endpoints.json once it was ready to serve.
 * Reads the environment and one small file; no sockets.
 */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies text into out, or VL_ERR_LIMIT naming what did not fit. */
static int
s_copy(char *out, size_t size, const char *text, const char *what, vl_err_t *err)
{
    size_t n = strlen(text);
    if (n >= size)
        return vl_err_set(err, VL_ERR_LIMIT, "%s is too long (%zu characters)", what, n);
    memcpy(out, text, n + 1);
    return 0;
}

int
client_default_data_dir(char *out, size_t size, vl_err_t *err)
{
    const char *env = getenv("VLEDGER_DATA");
    if (env && *env)
        return s_copy(out, size, env, "$VLEDGER_DATA", err);
    const char *home = getenv("HOME");
    if (!home || !*home)
        return vl_err_set(err, VL_ERR_NOT_FOUND,
                          "no data directory: neither $VLEDGER_DATA nor $HOME is set "
                          "(pass --data DIR)");
    int n = snprintf(out, size, "%s/.vledger", home);
    if (n < 0 || (size_t) n >= size)
        return vl_err_set(err, VL_ERR_LIMIT, "data directory path is too long");
    return 0;
}

int
client_resolve_endpoint(const char *node_opt, const char *data_dir, char *out, size_t size,
                        vl_err_t *err)
{
    if (node_opt)
        return s_copy(out, size, node_opt, "--node endpoint", err);
    const char *env = getenv("VLEDGER_NODE");
    if (env && *env)
        return s_copy(out, size, env, "$VLEDGER_NODE", err);

    char dir[4096];
    if (!data_dir) {
        int rc = client_default_data_dir(dir, sizeof dir, err);
        if (rc)
            return rc;
        data_dir = dir;
    }
    char path[4096 + 32];
    int n = snprintf(path, sizeof path, "%s/endpoints.json", data_dir);
    if (n < 0 || (size_t) n >= sizeof path)
        return vl_err_set(err, VL_ERR_LIMIT, "data directory path is too long");

    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return vl_err_set(err, VL_ERR_NOT_FOUND,
                              "no node endpoint: %s not found (start one with "
                              "`vledgerd --dev --data %s` or pass --node)",
                              path, data_dir);
        return vl_err_set(err, VL_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    }
    json_error_t jerr;
    json_t *doc = json_loadf(f, 0, &jerr);
    fclose(f);
    if (!doc)
        return vl_err_set(err, VL_ERR_INVALID, "%s is not valid JSON: %s", path, jerr.text);
    const char *api = json_string_value(json_object_get(doc, "api"));
    int rc;
    if (!api || !*api)
        rc = vl_err_set(err, VL_ERR_INVALID, "%s has no \"api\" endpoint string", path);
    else
        rc = s_copy(out, size, api, "api endpoint in endpoints.json", err);
    json_decref(doc);
    return rc;
}
