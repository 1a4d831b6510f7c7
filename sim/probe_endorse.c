/*
 * probe_endorse.c — `vledger-sim probe endorse-one`: a client that skips
 * the gateway. It asks one node alone to `endorse` a proposal signed with
 * --key and `submit`s the transaction with that single endorsement, as an
 * organisation trying to change what another organisation's policy guards
 * would. Tests use it to show that every replica marks such a transaction
 * invalid (ENDORSEMENT_POLICY_FAILURE) and applies none of it.
 *
 *   vledger-sim probe endorse-one --endpoint API --key PEM --contract C
 *                                 --function F [--args JSON] [--timeout-ms T]
 *
 * Prints the submit reply ({txid, status, height, code, code_name}) as one
 * JSON line and exits 0 once the node answered with a commit, whatever its
 * code; 1 with the node's message when endorse or submit was refused or
 * timed out; 2 on bad usage.
 */
#include "probe_endorse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client.h"
#include "clock.h"
#include "codec.h"
#include "crypto.h"

static int
s_b64(json_t *obj, const char *key, uint8_t **out, size_t *len)
{
    const char *t = json_string_value(json_object_get(obj, key));
    return t ? vl_base64_decode(t, out, len) : VL_ERR_INVALID;
}

int
probe_endorse_one(int argc, char **argv)
{
    const char *ep = NULL, *key_path = NULL, *contract = NULL, *function = NULL;
    const char *args_text = "{}";
    long timeout = 10000;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--endpoint")) ep = argv[i + 1];
        else if (!strcmp(argv[i], "--key")) key_path = argv[i + 1];
        else if (!strcmp(argv[i], "--contract")) contract = argv[i + 1];
        else if (!strcmp(argv[i], "--function")) function = argv[i + 1];
        else if (!strcmp(argv[i], "--args")) args_text = argv[i + 1];
        else if (!strcmp(argv[i], "--timeout-ms")) timeout = strtol(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "vledger-sim: probe endorse-one: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    json_t *args = json_loads(args_text, 0, NULL);
    if (!ep || !key_path || !contract || !function || !json_is_object(args) || timeout < 1
        || timeout > 600000) {
        fprintf(stderr, "vledger-sim: probe endorse-one needs --endpoint, --key, --contract, "
                        "--function, a JSON object for --args and --timeout-ms 1-600000\n");
        json_decref(args);
        return 2;
    }
    vl_err_t err = { "" };
    vl_key_t *key = vl_key_load_pem(key_path, &err);
    client_t *c = key ? client_new(ep, (int) timeout, &err) : NULL;
    json_t *st = NULL, *en = NULL, *reply = NULL, *p = NULL;
    uint8_t *sp = NULL, *res = NULL, *endorser = NULL, *sig = NULL, *tx = NULL;
    size_t sp_len = 0, res_len = 0, e_len = 0, sig_len = 0, tx_len = 0;
    uint8_t txid[32];
    uint64_t nonce;
    char *b64 = NULL;
    int rc = c ? client_call(c, "status", NULL, &st, &err) : VL_ERR_INVALID;
    const char *chain = json_string_value(json_object_get(st, "chain_id"));
    if (rc == 0 && !chain)
        rc = vl_err_set(&err, VL_ERR_INVALID, "the node's status has no chain_id");
    if (rc == 0 && vl_random_bytes(&nonce, sizeof nonce) != 0)
        rc = vl_err_set(&err, VL_ERR_IO, "no random bytes");
    if (rc == 0)
        rc = client_build_proposal(key, chain, contract, function, args, nonce, vl_wall_ms(),
                                   &sp, &sp_len, txid, &err);
    if (rc == 0 && !(b64 = vl_base64_encode(sp, sp_len)))
        rc = vl_err_set(&err, VL_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        p = json_pack("{s:s}", "proposal", b64);
        rc = client_call(c, "endorse", p, &en, &err);
        json_decref(p);
        free(b64);
        b64 = NULL;
    }
    if (rc == 0
        && (s_b64(en, "result", &res, &res_len) || s_b64(en, "endorser", &endorser, &e_len)
            || s_b64(en, "signature", &sig, &sig_len)))
        rc = vl_err_set(&err, VL_ERR_INVALID, "the node's endorse reply is malformed");
    if (rc == 0)
        rc = client_build_transaction(sp, sp_len, res, res_len, endorser, e_len, sig, sig_len,
                                      &tx, &tx_len, &err);
    if (rc == 0 && !(b64 = vl_base64_encode(tx, tx_len)))
        rc = vl_err_set(&err, VL_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        p = json_pack("{s:s, s:b, s:I}", "transaction", b64, "wait", 1, "timeout_ms",
                      (json_int_t) timeout);
        rc = client_call_timeout(c, "submit", p, (int) timeout * 2, &reply, &err);
        json_decref(p);
    }
    if (rc == 0) {
        char *text = json_dumps(reply, JSON_COMPACT | JSON_SORT_KEYS);
        printf("%s\n", text ? text : "{}");
        free(text);
    } else {
        fprintf(stderr, "vledger-sim: probe endorse-one: %s\n", err.msg);
    }
    free(b64);
    free(tx);
    free(sig);
    free(endorser);
    free(res);
    free(sp);
    json_decref(reply);
    json_decref(en);
    json_decref(st);
    json_decref(args);
    client_destroy(&c);
    vl_key_destroy(&key);
    return rc == 0 ? 0 : 1;
}
