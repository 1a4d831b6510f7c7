/* json.c — typed field access and canonical encoding over jansson. */
#include "json.h"

int
vl_json_get_str(const json_t *obj, const char *key, bool required, const char **out,
                vl_err_t *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return vl_err_set(err, VL_ERR_INVALID, "missing parameter '%s'", key);
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return vl_err_set(err, VL_ERR_INVALID, "parameter '%s' must be a string", key);
    *out = json_string_value(v);
    return 0;
}

int
vl_json_get_int(const json_t *obj, const char *key, bool required, int64_t *out, vl_err_t *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return required ? vl_err_set(err, VL_ERR_INVALID, "missing parameter '%s'", key) : 0;
    if (!json_is_integer(v))
        return vl_err_set(err, VL_ERR_INVALID, "parameter '%s' must be an integer", key);
    *out = json_integer_value(v);
    return 0;
}

int
vl_json_get_bool(const json_t *obj, const char *key, bool required, bool *out, vl_err_t *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return required ? vl_err_set(err, VL_ERR_INVALID, "missing parameter '%s'", key) : 0;
    if (!json_is_boolean(v))
        return vl_err_set(err, VL_ERR_INVALID, "parameter '%s' must be true or false", key);
    *out = json_is_true(v);
    return 0;
}

char *
vl_json_canonical(const json_t *value)
{
    return json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

json_t *
vl_json_parse_object(const char *text, size_t len, vl_err_t *err)
{
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        vl_err_set(err, VL_ERR_INVALID, "invalid JSON at line %d column %d: %s", jerr.line,
                   jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        vl_err_set(err, VL_ERR_INVALID, "expected a JSON object");
        return NULL;
    }
    return v;
}
