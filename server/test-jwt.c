// Unit tests of JWKS parsing and JWT verification (server/jwt.c) with keys made by OpenSSL here.
// Licensed under the Apache License, Version 2.0.
#include "server/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ISS "https://idp.example.org/realms/blatt"
#define AUD "blatt"
#define SUB "u-4711"

typedef struct keys {
    EVP_PKEY *rsa, *ec, *rsa1024;
    char *jwks_json;
    bl_jwks_t *jwks;
} keys_t;

static keys_t K;
static time_t now_s;
static const bl_jwt_rules_t rules = {ISS, AUD, "groups", 60};

// Unpadded base64url of len bytes. Caller frees.
static char *b64url(const void *data, size_t len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const uint8_t *p = data;
    char *out = malloc(len / 3 * 4 + 5);
    size_t o = 0, i = 0;
    assert_non_null(out);
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        for (int s = 18; s >= 0; s -= 6)
            out[o++] = abc[(v >> s) & 63];
    }
    if (len - i == 1) {
        out[o++] = abc[p[i] >> 2];
        out[o++] = abc[(p[i] & 3) << 4];
    } else if (len - i == 2) {
        out[o++] = abc[p[i] >> 2];
        out[o++] = abc[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
        out[o++] = abc[(p[i + 1] & 15) << 2];
    }
    out[o] = '\0';
    return out;
}

static char *b64url_str(const char *s)
{
    return b64url(s, strlen(s));
}

// base64url of a BIGNUM parameter of pkey, left-padded to pad bytes (0: minimal).
static char *bn_param_b64(EVP_PKEY *pkey, const char *name, int pad)
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(pkey, name, &bn), 1);
    int n = pad ? pad : BN_num_bytes(bn);
    uint8_t *buf = malloc((size_t)n);
    assert_int_equal(BN_bn2binpad(bn, buf, n), n);
    char *out = b64url(buf, (size_t)n);
    free(buf);
    BN_free(bn);
    return out;
}

static char *rsa_jwk(EVP_PKEY *pkey, const char *kid)
{
    char *n = bn_param_b64(pkey, OSSL_PKEY_PARAM_RSA_N, 0);
    char *e = bn_param_b64(pkey, OSSL_PKEY_PARAM_RSA_E, 0);
    char *out = malloc(strlen(n) + 256);
    sprintf(out,
            "{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":"
            "\"%s\"}",
            kid, n, e);
    free(n);
    free(e);
    return out;
}

// The JWK of an EC key; off_curve adds one to y so that the point leaves the curve.
static char *ec_jwk(EVP_PKEY *pkey, const char *kid, bool off_curve)
{
    BIGNUM *y = NULL;
    uint8_t yb[32];
    char *x = bn_param_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32);
    assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
    if (off_curve)
        BN_add_word(y, 1);
    assert_int_equal(BN_bn2binpad(y, yb, 32), 32);
    char *ys = b64url(yb, 32);
    char *out = malloc(512);
    sprintf(out, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}", kid,
            x, ys);
    BN_free(y);
    free(x);
    free(ys);
    return out;
}

// {"keys":[a, b]} (b may be NULL).
static char *jwks_of(const char *a, const char *b)
{
    char *out = malloc(strlen(a) + (b ? strlen(b) : 0) + 32);
    sprintf(out, "{\"keys\":[%s%s%s]}", a, b ? "," : "", b ? b : "");
    return out;
}

// Signs "h.p" with pkey (RS256 or ES256, raw R||S for EC); the base64url signature.
static char *sign_input(EVP_PKEY *pkey, const char *input)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t len = 0;
    assert_int_equal(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, pkey, NULL), 1);
    assert_int_equal(EVP_DigestSign(md, NULL, &len, (const uint8_t *)input, strlen(input)), 1);
    uint8_t *sig = malloc(len);
    assert_int_equal(EVP_DigestSign(md, sig, &len, (const uint8_t *)input, strlen(input)), 1);
    EVP_MD_CTX_free(md);
    char *out;
    if (EVP_PKEY_is_a(pkey, "EC")) {
        const uint8_t *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
        uint8_t raw[64];
        assert_non_null(es);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
        ECDSA_SIG_free(es);
        out = b64url(raw, 64);
    } else {
        out = b64url(sig, len);
    }
    free(sig);
    return out;
}

// header.payload (both raw JSON) signed with pkey; pkey NULL: empty signature. Caller frees.
static char *token_of(const char *header, const char *payload, EVP_PKEY *pkey)
{
    char *h = b64url_str(header), *p = b64url_str(payload);
    char *input = malloc(strlen(h) + strlen(p) + 2);
    sprintf(input, "%s.%s", h, p);
    char *sig = pkey ? sign_input(pkey, input) : strdup("");
    char *out = malloc(strlen(input) + strlen(sig) + 2);
    sprintf(out, "%s.%s", input, sig);
    free(h);
    free(p);
    free(input);
    free(sig);
    return out;
}

// The usual claims with exp = now + exp_in; extra is spliced in (starts with a comma or "").
static char *claims(long exp_in, const char *extra)
{
    char *out = malloc(1024 + strlen(extra));
    sprintf(out,
            "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"exp\":%lld,"
            "\"iat\":%lld,\"preferred_username\":\"alice\",\"groups\":[\"staff\",\"students\"]%s}",
            (long long)now_s + exp_in, (long long)now_s - 10, extra);
    return out;
}

static char *rs_token(const char *payload)
{
    return token_of("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"rsa-1\"}", payload, K.rsa);
}

// Asserts that token is refused with a reason containing want that does not leak the claims.
static void refused(const bl_jwks_t *jwks, const char *token, const bl_jwt_rules_t *r,
                    const char *want)
{
    bl_jwt_claims_t c;
    char why[256] = "";
    assert_false(bl_jwt_verify(jwks, token, r, now_s, &c, why, sizeof(why)));
    if (!strstr(why, want))
        fail_msg("reason '%s' does not contain '%s'", why, want);
    assert_null(strstr(why, SUB));
    assert_null(strstr(why, "alice"));
    assert_null(strstr(why, "eyJ"));
    assert_string_equal(c.subject, "");
}

static void accepted(const char *token, const bl_jwt_rules_t *r, bl_jwt_claims_t *c)
{
    char why[256] = "";
    if (!bl_jwt_verify(K.jwks, token, r, now_s, c, why, sizeof(why)))
        fail_msg("refused: %s", why);
}

static int setup(void **state)
{
    now_s = time(NULL);
    K.rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    K.rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    K.ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!K.rsa || !K.rsa1024 || !K.ec)
        return -1;
    char *a = rsa_jwk(K.rsa, "rsa-1"), *b = ec_jwk(K.ec, "ec-1", false);
    K.jwks_json = jwks_of(a, b);
    free(a);
    free(b);
    char why[128];
    K.jwks = bl_jwks_parse(K.jwks_json, strlen(K.jwks_json), why, sizeof(why));
    return K.jwks ? 0 : -1;
}

static int teardown(void **state)
{
    bl_jwks_delete(K.jwks);
    free(K.jwks_json);
    EVP_PKEY_free(K.rsa);
    EVP_PKEY_free(K.rsa1024);
    EVP_PKEY_free(K.ec);
    return 0;
}

static void test_jwks_both_keys(void **state)
{
    assert_int_equal(bl_jwks_count(K.jwks), 2);
    assert_int_equal(bl_jwks_count(NULL), 0);
}

static void test_valid_rs256(void **state)
{
    char *p = claims(300, ""), *t = rs_token(p);
    bl_jwt_claims_t c;
    accepted(t, &rules, &c);
    assert_string_equal(c.subject, SUB);
    assert_string_equal(c.name, "alice");
    assert_int_equal(c.num_groups, 2);
    assert_string_equal(c.groups[0], "staff");
    assert_string_equal(c.groups[1], "students");
    assert_int_equal(c.expires, now_s + 300);
    free(p);
    free(t);
}

static void test_valid_es256(void **state)
{
    char *p = claims(300, ""), *t = token_of("{\"alg\":\"ES256\",\"kid\":\"ec-1\"}", p, K.ec);
    bl_jwt_claims_t c;
    accepted(t, &rules, &c);
    assert_string_equal(c.subject, SUB);
    free(t);
    // Without kid, the keys of the token's algorithm are tried; typ at+jwt is fine.
    t = token_of("{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}", p, K.ec);
    accepted(t, &rules, &c);
    free(t);
    t = token_of("{\"alg\":\"RS256\",\"typ\":\"application/at+jwt\"}", p, K.rsa);
    accepted(t, &rules, &c);
    free(t);
    free(p);
}

static void test_expired(void **state)
{
    char *p = claims(-120, ""), *t = rs_token(p);
    refused(K.jwks, t, &rules, "expired");
    free(p);
    free(t);
    // Within the clock skew it still holds.
    bl_jwt_claims_t c;
    p = claims(-30, "");
    t = rs_token(p);
    accepted(t, &rules, &c);
    free(p);
    free(t);
}

static void test_not_yet_valid(void **state)
{
    char extra[64];
    snprintf(extra, sizeof(extra), ",\"nbf\":%lld", (long long)now_s + 600);
    char *p = claims(900, extra), *t = rs_token(p);
    refused(K.jwks, t, &rules, "not yet valid");
    free(p);
    free(t);
    p = malloc(512);
    sprintf(p, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"x\",\"exp\":%lld,\"iat\":%lld}",
            (long long)now_s + 900, (long long)now_s + 600);
    t = rs_token(p);
    refused(K.jwks, t, &rules, "iat");
    free(p);
    free(t);
}

static void test_wrong_iss_aud(void **state)
{
    char *p = claims(300, ""), *t = rs_token(p);
    bl_jwt_rules_t r = rules;
    r.issuer = ISS "/";
    refused(K.jwks, t, &r, "wrong iss");
    r = rules;
    r.audience = "other";
    refused(K.jwks, t, &r, "wrong aud");
    r.audience = "blat";
    refused(K.jwks, t, &r, "wrong aud");
    free(p);
    free(t);
}

static void test_aud_array(void **state)
{
#define AUD_FMT "{\"iss\":\"" ISS "\",\"aud\":%s,\"sub\":\"" SUB "\",\"exp\":%lld}"
    char p[512];
    bl_jwt_claims_t c;
    snprintf(p, sizeof(p), AUD_FMT, "[\"account\",\"blatt\"]", (long long)now_s + 60);
    char *t = rs_token(p);
    accepted(t, &rules, &c);
    assert_string_equal(c.name, SUB); // no name claims: the subject
    assert_int_equal(c.num_groups, 0);
    free(t);
    snprintf(p, sizeof(p), AUD_FMT, "[\"account\",\"blatt2\",7]", (long long)now_s + 60);
    t = rs_token(p);
    refused(K.jwks, t, &rules, "wrong aud");
    free(t);
}

static void test_missing_sub(void **state)
{
    char p[512];
    snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld}",
             (long long)now_s + 60);
    char *t = rs_token(p);
    refused(K.jwks, t, &rules, "no sub");
    free(t);
    snprintf(p, sizeof(p),
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"a\\u0007b\",\"exp\":%lld}",
             (long long)now_s + 60);
    t = rs_token(p);
    refused(K.jwks, t, &rules, "bad sub");
    free(t);
    snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\"}");
    t = rs_token(p);
    refused(K.jwks, t, &rules, "no exp");
    free(t);
}

// Replaces the payload part of token with base64url(payload), keeping header and signature.
static char *swap_payload(const char *token, const char *payload)
{
    const char *d1 = strchr(token, '.'), *d2 = strrchr(token, '.');
    char *p = b64url_str(payload);
    char *out = malloc(strlen(token) + strlen(p) + 1);
    sprintf(out, "%.*s.%s%s", (int)(d1 - token), token, p, d2);
    free(p);
    return out;
}

static void test_tampered_payload(void **state)
{
    char *p = claims(300, ""), *t = rs_token(p);
    char *sub = strstr(p, SUB);
    sub[strlen(SUB) - 1] ^= 1; // u-4711 -> u-4710: one byte
    char *t2 = swap_payload(t, p);
    refused(K.jwks, t2, &rules, "bad signature");
    free(t2);
    // One base64url character of the payload changed (to another valid one).
    char *mid = strchr(t, '.') + 20;
    *mid = *mid == 'A' ? 'B' : 'A';
    refused(K.jwks, t, &rules, "");
    free(p);
    free(t);
}

static void test_tampered_signature(void **state)
{
    char *p = claims(300, ""), *t = rs_token(p);
    char *s = strrchr(t, '.') + 40;
    *s = *s == 'A' ? 'B' : 'A';
    refused(K.jwks, t, &rules, "bad signature");
    free(t);
    t = token_of("{\"alg\":\"ES256\",\"kid\":\"ec-1\"}", p, K.ec);
    s = strrchr(t, '.') + 10;
    *s = *s == 'A' ? 'B' : 'A';
    refused(K.jwks, t, &rules, "bad signature");
    // A signature of the wrong length.
    strcpy(strrchr(t, '.') + 1, "AAAA");
    refused(K.jwks, t, &rules, "bad signature");
    free(t);
    free(p);
}

static void test_alg_none(void **state)
{
    char *p = claims(300, ""), *t = token_of("{\"alg\":\"none\"}", p, NULL);
    refused(K.jwks, t, &rules, "alg none refused");
    free(t);
    t = token_of("{\"alg\":\"NONE\",\"kid\":\"rsa-1\"}", p, NULL);
    refused(K.jwks, t, &rules, "alg none refused");
    free(t);
    t = token_of("{\"typ\":\"JWT\"}", p, NULL);
    refused(K.jwks, t, &rules, "no alg");
    free(t);
    free(p);
}

// HMAC-SHA256 of input keyed with the RSA public key (PEM, as a naive verifier would use it).
static char *hs256_with_public_key(const char *input)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, K.rsa), 1);
    char *pem;
    long pem_len = BIO_get_mem_data(bio, &pem);
    uint8_t mac[32];
    size_t mac_len = 0;
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, pem, (size_t)pem_len,
                              (const uint8_t *)input, strlen(input), mac, sizeof(mac), &mac_len));
    BIO_free(bio);
    return b64url(mac, mac_len);
}

static void test_hs256_key_confusion(void **state)
{
    char *p = claims(300, "");
    char *h = b64url_str("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"rsa-1\"}");
    char *bp = b64url_str(p);
    char input[4096], token[8192];
    snprintf(input, sizeof(input), "%s.%s", h, bp);
    char *mac = hs256_with_public_key(input);
    snprintf(token, sizeof(token), "%s.%s", input, mac);
    refused(K.jwks, token, &rules, "HMAC alg refused");
    free(mac);
    free(bp);
    free(h);
    char *t = token_of("{\"alg\":\"PS256\",\"kid\":\"rsa-1\"}", p, K.rsa);
    refused(K.jwks, t, &rules, "alg not supported");
    free(t);
    free(p);
}

static void test_kid_mismatch(void **state)
{
    char *p = claims(300, "");
    char *t = token_of("{\"alg\":\"RS256\",\"kid\":\"ec-1\"}", p, K.rsa);
    refused(K.jwks, t, &rules, "not for this alg");
    free(t);
    t = token_of("{\"alg\":\"ES256\",\"kid\":\"rsa-1\"}", p, K.ec);
    refused(K.jwks, t, &rules, "not for this alg");
    free(t);
    t = token_of("{\"alg\":\"RS256\",\"kid\":\"rsa-2\"}", p, K.rsa);
    refused(K.jwks, t, &rules, "unknown kid");
    free(t);
    // A key that is not in the set, without kid.
    t = token_of("{\"alg\":\"RS256\"}", p, K.rsa1024);
    refused(K.jwks, t, &rules, "bad signature");
    free(t);
    free(p);
}

static void test_duplicate_keys(void **state)
{
    char *p = claims(300, ",\"sub\":\"admin\""), *t = rs_token(p);
    refused(K.jwks, t, &rules, "duplicate key in payload");
    free(t);
    free(p);
    p = claims(300, "");
    t = token_of("{\"alg\":\"RS256\",\"alg\":\"none\"}", p, K.rsa);
    refused(K.jwks, t, &rules, "duplicate key in header");
    free(t);
    free(p);
    const char *dup = "{\"keys\":[],\"keys\":[]}";
    char why[128];
    assert_null(bl_jwks_parse(dup, strlen(dup), why, sizeof(why)));
    assert_non_null(strstr(why, "duplicate"));
}

static void test_oversized(void **state)
{
    char *big = malloc(20000);
    memset(big, 'A', 19999);
    big[19999] = '\0';
    refused(K.jwks, big, &rules, "too long");
    // A properly signed token whose claims make it too long.
    char *extra = malloc(14000);
    strcpy(extra, ",\"pad\":\"");
    memset(extra + 8, 'x', 13000);
    strcpy(extra + 8 + 13000, "\"");
    char *p = claims(300, extra), *t = rs_token(p);
    refused(K.jwks, t, &rules, "too long");
    free(t);
    free(p);
    free(extra);
    free(big);
}

static void test_bad_base64(void **state)
{
    char *p = claims(300, ""), *t = rs_token(p);
    char *d1 = strchr(t, '.');
    size_t len = strlen(t);
    char *bad = malloc(len + 8);
    const char *const cases[] = {"+", "/", "=", " ", "\n", "*"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sprintf(bad, "%.*s%s%s", (int)(d1 - t - 2), t, cases[i], d1 - 1);
        refused(K.jwks, bad, &rules, "bad base64url in header");
    }
    // Padding at the end of the header, and a length of 4n+1.
    sprintf(bad, "%.*s==%s", (int)(d1 - t), t, d1);
    refused(K.jwks, bad, &rules, "bad base64url");
    assert_int_equal((d1 - t) % 4, 3); // 41 bytes of header
    sprintf(bad, "%.*sAA%s", (int)(d1 - t), t, d1);
    refused(K.jwks, bad, &rules, "bad base64url");
    free(bad);
    free(t);
    free(p);
    // Non-canonical trailing bits: "e30" is "{}", "e31" decodes the same way if bits are ignored.
    refused(K.jwks, "e31.e30.AAAA", &rules, "bad base64url in header");
    refused(K.jwks, "e30.e30.AAA=", &rules, "bad base64url in signature");
}

static void test_parts(void **state)
{
    char *p = claims(300, ""), *t = rs_token(p);
    char *more = malloc(strlen(t) + 8);
    sprintf(more, "%s.AAAA", t);
    refused(K.jwks, more, &rules, "three");
    sprintf(more, "%s.", t);
    refused(K.jwks, more, &rules, "three");
    *strrchr(t, '.') = '\0';
    refused(K.jwks, t, &rules, "three");
    refused(K.jwks, "", &rules, "no token");
    refused(K.jwks, NULL, &rules, "no token");
    refused(K.jwks, "..", &rules, "header");
    free(more);
    free(t);
    free(p);
}

static void test_header_rules(void **state)
{
    char *p = claims(300, "");
    char *t = token_of("{\"alg\":\"RS256\",\"crit\":[\"exp\"],\"exp\":1}", p, K.rsa);
    refused(K.jwks, t, &rules, "crit");
    free(t);
    t = token_of("{\"alg\":\"RS256\",\"typ\":\"JWE\"}", p, K.rsa);
    refused(K.jwks, t, &rules, "typ");
    free(t);
    t = token_of("[\"RS256\"]", p, K.rsa);
    refused(K.jwks, t, &rules, "header is not a JSON object");
    free(t);
    free(p);
}

static void test_jwks_rsa_1024_skipped(void **state)
{
    char why[128] = "";
    char *weak = rsa_jwk(K.rsa1024, "weak"), *ec = ec_jwk(K.ec, "ec-1", false);
    char *only = jwks_of(weak, NULL), *both = jwks_of(weak, ec);
    assert_null(bl_jwks_parse(only, strlen(only), why, sizeof(why)));
    assert_non_null(strstr(why, "under 2048"));
    bl_jwks_t *j = bl_jwks_parse(both, strlen(both), why, sizeof(why));
    assert_int_equal(bl_jwks_count(j), 1);
    // A token signed with the weak key is refused: its kid is not in the set.
    char *p = claims(300, ""), *t = token_of("{\"alg\":\"RS256\",\"kid\":\"weak\"}", p, K.rsa1024);
    refused(j, t, &rules, "unknown kid");
    bl_jwks_delete(j);
    free(t);
    free(p);
    free(only);
    free(both);
    free(weak);
    free(ec);
}

static void test_jwks_off_curve_skipped(void **state)
{
    char why[128] = "";
    char *bad = ec_jwk(K.ec, "ec-bad", true), *rsa = rsa_jwk(K.rsa, "rsa-1");
    char *only = jwks_of(bad, NULL), *both = jwks_of(bad, rsa);
    assert_null(bl_jwks_parse(only, strlen(only), why, sizeof(why)));
    assert_non_null(strstr(why, "not on the curve"));
    bl_jwks_t *j = bl_jwks_parse(both, strlen(both), why, sizeof(why));
    assert_int_equal(bl_jwks_count(j), 1);
    bl_jwks_delete(j);
    free(only);
    free(both);
    free(bad);
    free(rsa);
}

// Keys of the wrong use, algorithm, curve or type are skipped; private keys too.
static void test_jwks_skips(void **state)
{
    char *good = rsa_jwk(K.rsa, "rsa-1");
    const char *const skipped[] = {
        "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}",
        "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}",
        "\"not a key\"",
    };
    char why[128];
    for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++) {
        char *s = jwks_of(skipped[i], good);
        bl_jwks_t *j = bl_jwks_parse(s, strlen(s), why, sizeof(why));
        assert_int_equal(bl_jwks_count(j), 1);
        bl_jwks_delete(j);
        free(s);
    }
    // The same RSA key pinned to PS256, or marked for encryption: nothing usable.
    char *ps = strdup(good);
    memcpy(strstr(ps, "RS256"), "PS256", 5);
    char *s = jwks_of(ps, NULL);
    assert_null(bl_jwks_parse(s, strlen(s), why, sizeof(why)));
    assert_non_null(strstr(why, "algorithm"));
    free(s);
    free(ps);
    assert_null(bl_jwks_parse("{\"keys\":{}}", 11, why, sizeof(why)));
    assert_null(bl_jwks_parse("{\"keys\":[]", 10, why, sizeof(why)));
    free(good);
}

static void test_groups(void **state)
{
    bl_jwt_claims_t c;
    char *p = claims(300, ",\"roles\":\"admins\""), *t = rs_token(p);
    bl_jwt_rules_t r = rules;
    r.group_claim = "roles";
    accepted(t, &r, &c);
    assert_int_equal(c.num_groups, 1);
    assert_string_equal(c.groups[0], "admins");
    r.group_claim = NULL;
    accepted(t, &r, &c);
    assert_int_equal(c.num_groups, 0);
    free(t);
    free(p);
    // 40 groups and some bad ones: the bad ones are dropped, at most 32 kept.
    char extra[4096] = ",\"roles\":[\"a\\u0001b\",1,\"\",\"";
    memset(extra + strlen(extra), 'g', 200);
    strcat(extra, "\"");
    for (int i = 0; i < 40; i++)
        sprintf(extra + strlen(extra), ",\"g%d\"", i);
    strcat(extra, "]");
    p = claims(300, extra);
    t = rs_token(p);
    r.group_claim = "roles";
    accepted(t, &r, &c);
    assert_int_equal(c.num_groups, BL_JWT_MAX_GROUPS);
    assert_string_equal(c.groups[0], "g0");
    assert_string_equal(c.groups[31], "g31");
    free(t);
    free(p);
}

static void test_name_sanitised(void **state)
{
    bl_jwt_claims_t c;
    char p[512];
    snprintf(p, sizeof(p),
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"exp\":%lld,"
             "\"name\":\"Ren\\u00e9\\u202e\\u0000x\\n\",\"email\":\"r@example.org\"}",
             (long long)now_s + 60);
    char *t = rs_token(p);
    // \u0000 is refused by jansson: the payload is not JSON.
    refused(K.jwks, t, &rules, "payload");
    free(t);
    snprintf(p, sizeof(p),
             "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"exp\":%lld,"
             "\"name\":\"Ren\\u00e9\\u202e\\tB\\n\",\"email\":\"r@example.org\"}",
             (long long)now_s + 60);
    t = rs_token(p);
    accepted(t, &rules, &c);
    assert_string_equal(c.name, "Ren\xc3\xa9"
                                "B");
    free(t);
}

static void test_unknown_kid(void **state)
{
    char *p = claims(300, "");
    char *t = token_of("{\"alg\":\"RS256\",\"kid\":\"rsa-2\"}", p, K.rsa);
    assert_true(bl_jwt_names_unknown_kid(K.jwks, t));
    assert_true(bl_jwt_names_unknown_kid(NULL, t));
    free(t);
    t = token_of("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", p, K.rsa);
    assert_false(bl_jwt_names_unknown_kid(K.jwks, t));
    free(t);
    // No kid, a refused alg or a broken token never asks for a fetch of the keys.
    t = token_of("{\"alg\":\"RS256\"}", p, K.rsa);
    assert_false(bl_jwt_names_unknown_kid(K.jwks, t));
    free(t);
    char *h = b64url_str("{\"alg\":\"none\",\"kid\":\"rsa-9\"}"), *pp = b64url_str(p);
    char none[4096];
    snprintf(none, sizeof(none), "%s.%s.", h, pp);
    assert_false(bl_jwt_names_unknown_kid(K.jwks, none));
    assert_false(bl_jwt_names_unknown_kid(K.jwks, "a.b.c"));
    assert_false(bl_jwt_names_unknown_kid(K.jwks, ""));
    free(h);
    free(pp);
    free(p);
    assert_string_equal(bl_jwks_kid(K.jwks, 0), "rsa-1");
    assert_null(bl_jwks_kid(K.jwks, 99));
}

static void metadata_is(const char *json, const char *issuer, const char *want, const char *why)
{
    char uri[256], reason[128] = "";
    bool ok = bl_oidc_metadata_jwks_uri(json, strlen(json), issuer, uri, sizeof(uri), reason,
                                        sizeof(reason));
    if (want) {
        assert_true(ok);
        assert_string_equal(uri, want);
    } else {
        assert_false(ok);
        assert_string_equal(uri, "");
        assert_non_null(strstr(reason, why));
    }
}

static void test_metadata(void **state)
{
    metadata_is("{\"issuer\":\"" ISS "\",\"jwks_uri\":\"" ISS "/certs\"}", ISS, ISS "/certs", "");
    metadata_is("{\"issuer\":\"" ISS "/\",\"jwks_uri\":\"https://x/k\"}", ISS, NULL,
                "another issuer");
    metadata_is("{\"issuer\":\"https://evil.example\",\"jwks_uri\":\"https://x/k\"}", ISS, NULL,
                "another issuer");
    metadata_is("{\"jwks_uri\":\"https://x/k\"}", ISS, NULL, "no issuer");
    metadata_is("{\"issuer\":\"" ISS "\"}", ISS, NULL, "no usable jwks_uri");
    metadata_is("{\"issuer\":\"" ISS "\",\"jwks_uri\":7}", ISS, NULL, "no usable jwks_uri");
    metadata_is("{\"issuer\":\"" ISS "\",\"jwks_uri\":\"https://x/a b\"}", ISS, NULL,
                "no usable jwks_uri");
    // jansson refuses \u0000 itself; either way no URI with a NUL in it comes out.
    metadata_is("{\"issuer\":\"" ISS "\",\"jwks_uri\":\"https://x/\\u0000k\"}", ISS, NULL, "");
    metadata_is("{\"issuer\":\"" ISS "\",\"issuer\":\"" ISS "\",\"jwks_uri\":\"h\"}", ISS, NULL,
                "duplicate key");
    metadata_is("[]", ISS, NULL, "not a JSON object");
    metadata_is("{", ISS, NULL, "not a JSON object");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwks_both_keys),
        cmocka_unit_test(test_valid_rs256),
        cmocka_unit_test(test_valid_es256),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_not_yet_valid),
        cmocka_unit_test(test_wrong_iss_aud),
        cmocka_unit_test(test_aud_array),
        cmocka_unit_test(test_missing_sub),
        cmocka_unit_test(test_tampered_payload),
        cmocka_unit_test(test_tampered_signature),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_hs256_key_confusion),
        cmocka_unit_test(test_kid_mismatch),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_bad_base64),
        cmocka_unit_test(test_parts),
        cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_jwks_rsa_1024_skipped),
        cmocka_unit_test(test_jwks_off_curve_skipped),
        cmocka_unit_test(test_jwks_skips),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_name_sanitised),
        cmocka_unit_test(test_unknown_kid),
        cmocka_unit_test(test_metadata),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
