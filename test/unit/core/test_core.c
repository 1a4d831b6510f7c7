/* test_core.c — keys, signatures, hashes, DIDs, encodings, JSON helpers. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "codec.h"
#include "crypto.h"
#include "did.h"
#include "json.h"
#include "jsontext.h"
#include "vledger.pb-c.h"

static void
test_sign_verify(void)
{
    vl_key_t *key = vl_key_generate();
    CHECK(key != NULL);
    uint8_t sig[VL_SIG_SIZE];
    CHECK_EQ(vl_key_sign(key, "hello", 5, sig), 0);
    CHECK(vl_verify(vl_key_public(key), "hello", 5, sig));
    CHECK(!vl_verify(vl_key_public(key), "hellO", 5, sig));
    sig[10] ^= 1;
    CHECK(!vl_verify(vl_key_public(key), "hello", 5, sig));
    /* Ed25519 is deterministic: the same message signs the same. */
    uint8_t a[VL_SIG_SIZE], b[VL_SIG_SIZE];
    vl_key_sign(key, "x", 1, a);
    vl_key_sign(key, "x", 1, b);
    CHECK(memcmp(a, b, VL_SIG_SIZE) == 0);
    vl_key_destroy(&key);
    CHECK(key == NULL);
    vl_key_destroy(&key);
}

/* RFC 8032 section 7.1, tests 1 and 2: a key loaded from its seed (a PKCS#8
 * PEM file, as vledgerd writes them) signs exactly the standard's bytes. */
static void
test_sign_rfc8032(void)
{
    static const struct { const char *seed, *pub, *msg, *sig; } v[] = {
        { "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
          "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
          "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
          "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
        { "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
          "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
          "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
          "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        /* PKCS#8 OneAsymmetricKey for Ed25519 (RFC 8410): 16 bytes, then the seed. */
        uint8_t der[48], pub[32], msg[1], want[64], sig[64];
        CHECK_EQ(vl_hex_decode("302e020100300506032b657004220420", der, 16), 0);
        CHECK_EQ(vl_hex_decode(v[i].seed, der + 16, 32), 0);
        CHECK_EQ(vl_hex_decode(v[i].pub, pub, 32), 0);
        CHECK_EQ(vl_hex_decode(v[i].sig, want, 64), 0);
        size_t mlen = strlen(v[i].msg) / 2;
        if (mlen)
            CHECK_EQ(vl_hex_decode(v[i].msg, msg, mlen), 0);
        char *b64 = vl_base64_encode(der, sizeof der);
        char path[] = "/tmp/vl-rfc8032-XXXXXX";
        int fd = mkstemp(path);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        CHECK(f != NULL);
        if (!f) {
            free(b64);
            continue;
        }
        fprintf(f, "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n", b64);
        fclose(f);
        free(b64);
        vl_err_t err = { "" };
        vl_key_t *key = vl_key_load_pem(path, &err);
        unlink(path);
        CHECK(key != NULL);
        if (!key)
            continue;
        CHECK(memcmp(vl_key_public(key), pub, 32) == 0);
        CHECK_EQ(vl_key_sign(key, msg, mlen, sig), 0);
        CHECK(memcmp(sig, want, 64) == 0);
        CHECK(vl_verify(pub, msg, mlen, sig));
        vl_key_destroy(&key);
    }
}

static void
test_key_files(void)
{
    char dir[256], path[300];
    CHECK(check_tmpdir(dir, sizeof dir) != NULL);
    snprintf(path, sizeof path, "%s/k.pem", dir);
    vl_key_t *key = vl_key_generate();
    vl_err_t err = { "" };
    CHECK_EQ(vl_key_save_pem(key, path, &err), 0);
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_EQ(vl_key_save_pem(key, path, &err), VL_ERR_EXISTS);
    CHECK_CONTAINS(err.msg, "cannot create key file");
    vl_key_t *loaded = vl_key_load_pem(path, &err);
    CHECK(loaded != NULL);
    if (loaded)
        CHECK(memcmp(vl_key_public(key), vl_key_public(loaded), VL_PUBKEY_SIZE) == 0);
    CHECK(vl_key_load_pem("/nonexistent/k.pem", &err) == NULL);
    CHECK_CONTAINS(err.msg, "cannot open key file");
    FILE *f = fopen(path, "w");
    fputs("garbage\n", f);
    fclose(f);
    CHECK(vl_key_load_pem(path, &err) == NULL);
    CHECK_CONTAINS(err.msg, "not a PEM private key");
    unlink(path);
    rmdir(dir);
    vl_key_destroy(&key);
    vl_key_destroy(&loaded);
}

static void
test_sha256(void)
{
    uint8_t d[VL_HASH_SIZE];
    char hex[65];
    vl_sha256("abc", 3, d);
    vl_hex_encode(d, 32, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    vl_hasher_t *h = vl_hasher_new();
    vl_hasher_update(h, "a", 1);
    vl_hasher_update(h, "bc", 2);
    uint8_t e[VL_HASH_SIZE];
    vl_hasher_final(h, e);
    CHECK(memcmp(d, e, 32) == 0);
    vl_hasher_update(h, "abc", 3);   /* final resets for reuse */
    vl_hasher_final(h, e);
    CHECK(memcmp(d, e, 32) == 0);
    vl_hasher_destroy(&h);
    /* FIPS 180-2's two-block vector: the padding spills into a second block */
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    vl_sha256(two, strlen(two), d);
    vl_hex_encode(d, 32, hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void
test_did(void)
{
    vl_key_t *key = vl_key_generate();
    char did[VL_DID_BUF];
    vl_did_from_public(vl_key_public(key), did);
    CHECK_EQ(strlen(did), VL_DID_LEN);
    CHECK(strncmp(did, "did:vl:", 7) == 0);
    CHECK(vl_did_valid(did));
    CHECK(!vl_did_valid("did:vl:xyz"));
    CHECK(!vl_did_valid("did:xx:0123456789012345678901234567890123456789"));
    CHECK(!vl_did_valid("did:vl:0123456789012345678901234567890123456789a"));
    CHECK(!vl_did_valid("did:vl:012345678901234567890123456789012345678G"));
    CHECK(vl_did_valid("did:vl:0123456789012345678901234567890123456789"));
    vl_key_destroy(&key);
}

static void
test_codecs(void)
{
    uint8_t raw[3] = { 0x00, 0xab, 0xff }, back[3];
    char hex[7];
    vl_hex_encode(raw, 3, hex);
    CHECK_STR(hex, "00abff");
    CHECK_EQ(vl_hex_decode("00ABff", back, 3), 0);
    CHECK(memcmp(raw, back, 3) == 0);
    CHECK_EQ(vl_hex_decode("00ab", back, 3), VL_ERR_INVALID);
    CHECK_EQ(vl_hex_decode("00abzz", back, 3), VL_ERR_INVALID);
    for (size_t n = 0; n < 7; n++) {
        uint8_t src[6] = { 1, 2, 3, 250, 0, 7 };
        char *b64 = vl_base64_encode(src, n);
        uint8_t *dec = NULL;
        size_t len = 99;
        CHECK_EQ(vl_base64_decode(b64, &dec, &len), 0);
        CHECK_EQ(len, n);
        CHECK(n == 0 || memcmp(dec, src, n) == 0);
        free(dec);
        free(b64);
    }
    uint8_t *dec = NULL;
    size_t len = 0;
    CHECK_EQ(vl_base64_decode("abc", &dec, &len), VL_ERR_INVALID);
    CHECK_EQ(vl_base64_decode("ab!d", &dec, &len), VL_ERR_INVALID);
    CHECK_EQ(vl_base64_decode("a=bc", &dec, &len), VL_ERR_INVALID);
    uint8_t be[8];
    vl_put_be64(be, 0x0102030405060708ULL);
    CHECK_EQ(be[0], 1);
    CHECK(vl_get_be64(be) == 0x0102030405060708ULL);
}

static void
test_json(void)
{
    vl_err_t err = { "" };
    CHECK(vl_json_parse_object("[1]", 3, &err) == NULL);
    CHECK_CONTAINS(err.msg, "expected a JSON object");
    CHECK(vl_json_parse_object("{", 1, &err) == NULL);
    CHECK_CONTAINS(err.msg, "invalid JSON");
    CHECK(vl_json_parse_object("{\"a\":1,\"a\":2}", 13, &err) == NULL);
    json_t *o = vl_json_parse_object("{\"s\":\"x\",\"i\":5,\"f\":1.5,\"b\":true}", 32, &err);
    CHECK(o != NULL);
    const char *s = NULL;
    int64_t i = 0;
    bool b = false;
    CHECK_EQ(vl_json_get_str(o, "s", true, &s, &err), 0);
    CHECK_STR(s, "x");
    CHECK_EQ(vl_json_get_str(o, "i", true, &s, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "'i' must be a string");
    CHECK_EQ(vl_json_get_str(o, "zz", true, &s, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "missing parameter 'zz'");
    CHECK_EQ(vl_json_get_int(o, "i", true, &i, &err), 0);
    CHECK_EQ(i, 5);
    CHECK_EQ(vl_json_get_int(o, "f", true, &i, &err), VL_ERR_INVALID);
    CHECK_EQ(vl_json_get_bool(o, "b", true, &b, &err), 0);
    CHECK(b);
    char *canon = vl_json_canonical(o);
    CHECK_STR(canon, "{\"b\":true,\"f\":1.5,\"i\":5,\"s\":\"x\"}");
    free(canon);
    json_decref(o);
}

static void
test_proto_roundtrip(void)
{
    Vl__Proposal p = VL__PROPOSAL__INIT;
    p.contract = "vehicle";
    p.function = "register";
    p.args_json = "{}";
    p.nonce = 42;
    size_t n = vl__proposal__get_packed_size(&p);
    uint8_t *buf = malloc(n);
    vl__proposal__pack(&p, buf);
    Vl__Proposal *q = vl__proposal__unpack(NULL, n, buf);
    CHECK(q != NULL);
    if (q) {
        CHECK_STR(q->contract, "vehicle");
        CHECK_EQ(q->nonce, 42);
        vl__proposal__free_unpacked(q, NULL);
    }
    /* Garbage is refused, not crashed on. */
    uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
    CHECK(vl__proposal__unpack(NULL, sizeof junk, junk) == NULL);
    free(buf);
}

/* vl_pb_find_bytes: the scan behind tx_id. Every malformed top-level shape
 * is "not found", whatever came before it; the last occurrence wins. */
static bool
s_find(const uint8_t *b, size_t n, uint64_t field, const uint8_t **d, size_t *dl)
{
    *d = NULL;
    *dl = 999;
    return vl_pb_find_bytes(b, n, field, d, dl);
}

static void
test_pb_find_bytes(void)
{
    const uint8_t *d;
    size_t dl;
    /* varint 150, fixed64, fixed32, then field 1 = "hi" */
    const uint8_t mix[] = { 0x10, 0x96, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8,
                            0x25, 1, 2, 3, 4, 0x0a, 2, 'h', 'i' };
    CHECK(s_find(mix, sizeof mix, 1, &d, &dl));
    CHECK(d == mix + 19 && dl == 2);
    CHECK(!s_find(mix, sizeof mix, 5, &d, &dl));          /* absent */
    CHECK(!s_find(mix, 0, 1, &d, &dl));                   /* empty */
    /* Repeated: the last one, as decoders take it. */
    const uint8_t rep[] = { 0x0a, 3, 'a', 'b', 'c', 0x12, 1, 'z', 0x0a, 2, 'x', 'y' };
    CHECK(s_find(rep, sizeof rep, 1, &d, &dl));
    CHECK(d == rep + 10 && dl == 2);
    CHECK(s_find(rep, sizeof rep, 2, &d, &dl));
    CHECK(d == rep + 7 && dl == 1);
    /* Present but empty. */
    const uint8_t empty[] = { 0x0a, 0 };
    CHECK(s_find(empty, sizeof empty, 1, &d, &dl));
    CHECK_EQ(dl, 0);
    /* Nested messages are not looked into. */
    const uint8_t nested[] = { 0x12, 3, 0x0a, 1, 'z' };
    CHECK(!s_find(nested, sizeof nested, 1, &d, &dl));

    struct {
        const char *what;
        uint8_t b[16];
        size_t n;
    } bad[] = {
        { "truncated key varint", { 0x0a, 1, 'a', 0x80 }, 4 },
        { "truncated value varint", { 0x0a, 1, 'a', 0x08, 0x80 }, 5 },
        { "truncated length varint", { 0x0a, 0x81 }, 2 },
        { "varint longer than 10 bytes",
          { 0x0a, 1, 'a', 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 },
          15 },
        { "field number 0", { 0x02, 0, 0x0a, 1, 'a' }, 5 },
        { "wire type 3 (group start)", { 0x0a, 1, 'a', 0x1b }, 4 },
        { "wire type 4 (group end)", { 0x0a, 1, 'a', 0x1c }, 4 },
        { "wire type 6", { 0x0a, 1, 'a', 0x1e, 0 }, 5 },
        { "wire type 7", { 0x0a, 1, 'a', 0x1f, 0 }, 5 },
        { "length past the end", { 0x0a, 5, 'a', 'b' }, 4 },
        { "a huge length", { 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 'a' },
          11 },
        { "later length past the end", { 0x0a, 1, 'a', 0x12, 9, 'b' }, 6 },
        { "truncated fixed64", { 0x0a, 1, 'a', 0x09, 1, 2, 3 }, 7 },
        { "truncated fixed32", { 0x0a, 1, 'a', 0x0d, 1, 2 }, 6 },
        /* one byte short, exactly */
        { "fixed64 one byte short", { 0x0a, 1, 'a', 0x09, 1, 2, 3, 4, 5, 6, 7 }, 11 },
        { "fixed32 one byte short", { 0x0a, 1, 'a', 0x0d, 1, 2, 3 }, 7 },
        { "length one byte past the end", { 0x0a, 1, 'a', 0x12, 3, 'b', 'c' }, 7 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (s_find(bad[i].b, bad[i].n, 1, &d, &dl)) {
            CHECK_FAIL_PREFIX_();
            fprintf(stderr, "found field 1 in a message with a %s\n", bad[i].what);
            check_failures_++;
        }
    }
    /* The same shapes cut short of the defect are fine. */
    CHECK(s_find(bad[0].b, 3, 1, &d, &dl));
    CHECK(s_find(bad[12].b, 3, 1, &d, &dl));
    const uint8_t exact[] = { 0x0a, 1, 'a', 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0x0d, 1, 2, 3, 4,
                              0x12, 2, 'b', 'c' };
    CHECK(s_find(exact, sizeof exact, 1, &d, &dl));   /* every field ends at the end */
    CHECK(d == exact + 2 && dl == 1);
}

/* The string form is jansson's compact one, byte for byte. */
static void
test_jsontext_strings(void)
{
    static const char *const samples[] = {
        "", "plain", "q\"uote", "back\\slash", "\b\f\n\r\t", "\x01\x1f ctl", "sl/ash",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x97", "\x7f",
    };
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
        vl_buf_t b = { 0 };
        CHECK_EQ(vl_json_put_string(&b, samples[i], strlen(samples[i])), 0);
        json_t *j = json_string(samples[i]);
        char *ref = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        CHECK_STR(b.data, ref);
        free(ref);
        json_decref(j);
        vl_buf_free(&b);
    }
    /* A NUL inside the span is escaped, not a terminator. */
    vl_buf_t b = { 0 };
    CHECK_EQ(vl_json_put_string(&b, "a\0b", 3), 0);
    CHECK_STR(b.data, "\"a\\u0000b\"");
    b.len = 0;
    /* Not UTF-8: a lone continuation byte, an overlong '/', a surrogate,
     * a code point past U+10FFFF, a truncated sequence. */
    static const char *const bad[] = { "\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                       "ab\xe2\x82" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        b.len = 0;
        CHECK_EQ(vl_json_put_string(&b, bad[i], strlen(bad[i])), -2);
    }
    b.len = 0;
    CHECK_EQ(vl_json_put_int(&b, INT64_MIN), 0);
    CHECK_STR(b.data, "-9223372036854775808");
    b.len = 0;
    CHECK_EQ(vl_buf_puts(&b, "x"), 0);
    CHECK_EQ(vl_buf_put(&b, "yz", 2), 0);
    CHECK_STR(b.data, "xyz");
    CHECK_EQ(b.len, 3);
    vl_buf_free(&b);
    CHECK(b.data == NULL && b.cap == 0);
}

static void
test_jsontext_valid(void)
{
    static const char *const good[] = {
        "0", "-0", "1.5e+10", "-12.0E-3", "true", "false", "null", "\"\"", " {} ", "[]",
        "{\"a\":[1,{\"b\":null}],\"c\":\"\\u00e9\\n\\/\"}", "[\"\\ud83d\\ude97\"]",
        "\"caf\xc3\xa9\"", "\"\\u0000\"", "\t[ 1 , 2 ]\r\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        bool ok = vl_json_text_valid(good[i], strlen(good[i]), 8);
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "    refused: %s\n", good[i]);
    }
    static const char *const bad[] = {
        "", " ", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "[1,]", "[,1]", "{\"a\"}",
        "{\"a\":}", "{a:1}", "{\"a\":1,}", "[1 2]", "\"open", "\"tab\there\"", "\"\\x\"",
        "\"\\u12g4\"", "\"\\ude97\"", "\"\\ud83d\"", "\"\\ud83dx\"", "\"\x80\"", "1 2", "[1]]",
        "{\"a\":1}}", "NaN", "[",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bool ok = vl_json_text_valid(bad[i], strlen(bad[i]), 8);
        CHECK(!ok);
        if (ok)
            fprintf(stderr, "    accepted: %s\n", bad[i]);
    }
    /* Length, not NUL, ends the text; NULL is never valid. */
    CHECK(vl_json_text_valid("[1]xyz", 3, 8));
    CHECK(!vl_json_text_valid("\"a\0\"", 4, 8));
    CHECK(!vl_json_text_valid(NULL, 0, 8));
    /* Depth: exactly max_depth containers pass, one more fails. */
    CHECK(vl_json_text_valid("[[[]]]", 6, 3));
    CHECK(!vl_json_text_valid("[[[[]]]]", 8, 3));
    CHECK(vl_json_text_valid("[{\"a\":[]},[]]", 13, 3));
    CHECK(!vl_json_text_valid("{\"a\":{\"b\":{\"c\":{}}}}", 20, 3));
}

int
main(void)
{
    RUN(test_sign_verify);
    RUN(test_sign_rfc8032);
    RUN(test_key_files);
    RUN(test_sha256);
    RUN(test_did);
    RUN(test_codecs);
    RUN(test_json);
    RUN(test_jsontext_strings);
    RUN(test_jsontext_valid);
    RUN(test_proto_roundtrip);
    RUN(test_pb_find_bytes);
    return check_done();
}
