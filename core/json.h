/*
 * json.h — helpers over jansson for reading untrusted JSON objects with
 * type checks and clear messages, and for canonical output.
 *
 * Canonical JSON in vledger is jansson's compact form with sorted keys and
 * no floats; it is what contracts write and what hashes cover.
 */
#ifndef VL_JSON_H
#define VL_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

/* Reads obj[key] as a string. Missing and !required: *out = NULL, 0.
 * Missing and required, or not a string: VL_ERR_INVALID with a message
 * naming the field. *out is borrowed from obj. */
int vl_json_get_str(const json_t *obj, const char *key, bool required, const char **out,
                    vl_err_t *err);

/* Reads obj[key] as an integer (JSON numbers with a fraction or exponent
 * are refused). Missing and !required leaves *out unchanged. */
int vl_json_get_int(const json_t *obj, const char *key, bool required, int64_t *out,
                    vl_err_t *err);

/* Reads obj[key] as a boolean; missing and !required leaves *out unchanged. */
int vl_json_get_bool(const json_t *obj, const char *key, bool required, bool *out,
                     vl_err_t *err);

/* Canonical text (compact, sorted keys); caller frees. NULL on failure. */
char *vl_json_canonical(const json_t *value);

/* Parses text that must be a JSON object; returns a new reference or NULL
 * with a message in err. */
json_t *vl_json_parse_object(const char *text, size_t len, vl_err_t *err);
#endif
