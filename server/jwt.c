// OAuth2 / OpenID Connect bearer tokens: JWKS key sets and JWS (RS256, ES256) verification.
// Licensed under the Apache License, Version 2.0.
//
// Design notes:
// - Every key is pinned to one algorithm when the JWKS is parsed (RSA >= 2048 bits: RS256,
//   EC P-256: ES256). A token is verified only with a key whose pinned algorithm equals the
//   token's "alg", so "none", HMAC (the RSA-public-key-as-HMAC-secret confusion) and PS*/ES384
//   never reach OpenSSL.
// - Input is bounded before it is decoded: token 16 KiB, header 8 KiB, payload 64 KiB, JWKS
//   256 KiB. base64url is strict (no padding, no whitespace, canonical trailing bits).
// - JSON is parsed with JSON_REJECT_DUPLICATES: two "sub" or two "alg" in one object are an
//   attack on whoever reads the other one. jansson's error texts quote the input, so they are
//   never passed on; reasons name claims, never their values.
// - Keys come only from the JWKS given: "jwk", "jku", "x5u" and "x5c" in a token's header are
//   ignored, "crit" is refused (no extension is understood).
// - The payload's JSON is parsed before the signature is checked (so fuzzing reaches it), its
//   claims are only looked at after the signature verified.
// - No logging here: the caller logs `why`, which never holds token bytes.
#include "server/jwt.h"

#include <jansson.h>
#include <math.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TOKEN_MAX (16 * 1024)
#define HEADER_MAX (8 * 1024)
#define PAYLOAD_MAX (64 * 1024)
#define SIG_MAX 1024
#define JWKS_MAX (256 * 1024)
#define JWKS_MAX_KEYS 64
#define RSA_MIN_BITS 2048
#define RSA_MAX_BYTES 1024 // 8192 bits
#define RSA_E_MAX_BYTES 8
#define KID_MAX 255
#define SUB_MAX 255
#define GROUP_MAX 127
#define METADATA_MAX (64 * 1024)

typedef enum jwt_alg {
    ALG_RS256 = 1,
    ALG_ES256,
} jwt_alg_t;

typedef struct jwk {
    EVP_PKEY *pkey;
    jwt_alg_t alg; // the only algorithm this key verifies
    char *kid;     // NULL when the JWK has none
} jwk_t;

struct bl_jwks {
    jwk_t *keys;
    size_t num;
};

// Copies a fixed reason into why (which may be NULL or empty).
static void set_why(char *why, size_t whylen, const char *reason)
{
    if (why && whylen > 0)
        snprintf(why, whylen, "%s", reason);
}

// ---- base64url ----

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

// Decodes unpadded base64url of len chars into a new buffer of at most max bytes (*outlen).
// NULL on a bad character, padding, an impossible length, non-zero trailing bits or when the
// result would exceed max. Caller frees.
static uint8_t *b64url_decode(const char *in, size_t len, size_t max, size_t *outlen)
{
    if (len % 4 == 1 || len / 4 > max / 3 + 1)
        return NULL;
    size_t n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (n > max)
        return NULL;
    uint8_t *out = malloc(n + 1);
    if (!out)
        return NULL;
    uint32_t acc = 0;
    size_t bits = 0, o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    // Leftover bits must be zero, or two encodings would decode to the same bytes.
    if (acc != 0) {
        free(out);
        return NULL;
    }
    *outlen = o;
    return out;
}

// Decodes a base64url JSON string member of obj (NULL if absent, not a string or bad).
static uint8_t *b64url_member(json_t *obj, const char *name, size_t max, size_t *outlen)
{
    json_t *v = json_object_get(obj, name);
    if (!json_is_string(v))
        return NULL;
    return b64url_decode(json_string_value(v), json_string_length(v), max, outlen);
}

// ---- UTF-8 text checks ----

// Decodes one UTF-8 code point at s (n bytes left); its length, or 0 when malformed.
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t c = s[0], min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0) {
        len = 2, c &= 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, c &= 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

// Control and invisible formatting characters (C0, DEL, C1, zero-width, bidi overrides, BOM)
// would let a name or group look like another one in logs and pages.
static bool is_printable(uint32_t cp)
{
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
        return false;
    if ((cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e))
        return false;
    if ((cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb))
        return false;
    return true;
}

// true when s (len bytes) is 1..max bytes of printable UTF-8; then copied to out (max + 1).
static bool copy_printable(const char *s, size_t len, size_t max, char *out)
{
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next((const unsigned char *)s + i, len - i, &cp);
        if (n == 0 || !is_printable(cp))
            return false;
        i += n;
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

// Copies the printable characters of s into out (outlen >= 1), whole characters only and at
// most outlen - 1 bytes. Returns the bytes written.
static size_t sanitize_text(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next((const unsigned char *)s + i, len - i, &cp);
        if (n == 0) {
            i++;
            continue;
        }
        if (is_printable(cp)) {
            if (o + n > outlen - 1)
                break;
            memcpy(out + o, s + i, n);
            o += n;
        }
        i += n;
    }
    out[o] = '\0';
    return o;
}

// ---- JWKS ----

// A public key from OSSL_PARAMs (type "RSA" or "EC"); NULL when OpenSSL refuses them.
static EVP_PKEY *key_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

// An RSA public key from the JWK's n and e; NULL with a reason when unusable.
static EVP_PKEY *rsa_from_jwk(json_t *jwk, const char **reason)
{
    size_t nlen = 0, elen = 0;
    uint8_t *n = b64url_member(jwk, "n", RSA_MAX_BYTES + 1, &nlen);
    uint8_t *e = b64url_member(jwk, "e", RSA_E_MAX_BYTES, &elen);
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    *reason = "RSA key with bad n or e";
    if (!n || !e || nlen == 0 || elen == 0)
        goto out;
    bn_n = BN_bin2bn(n, (int)nlen, NULL);
    bn_e = BN_bin2bn(e, (int)elen, NULL);
    if (!bn_n || !bn_e || !BN_is_odd(bn_n) || !BN_is_odd(bn_e) || BN_is_one(bn_e))
        goto out;
    if (BN_num_bits(bn_n) < RSA_MIN_BITS) {
        *reason = "RSA key under 2048 bits";
        goto out;
    }
    if (BN_num_bytes(bn_n) > RSA_MAX_BYTES) {
        *reason = "RSA key over 8192 bits";
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
        pkey = key_from_params("RSA", bld);
    if (pkey && EVP_PKEY_get_bits(pkey) < RSA_MIN_BITS) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    free(n);
    free(e);
    return pkey;
}

// true when OpenSSL's full public key check (on the curve, in the group) passes.
static bool public_key_ok(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    bool ok = ctx && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

// A P-256 public key from the JWK's crv, x and y; NULL with a reason when unusable.
static EVP_PKEY *ec_from_jwk(json_t *jwk, const char **reason)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    if (!crv || strcmp(crv, "P-256") != 0) {
        *reason = "EC key not on P-256";
        return NULL;
    }
    size_t xlen = 0, ylen = 0;
    uint8_t *x = b64url_member(jwk, "x", 32, &xlen);
    uint8_t *y = b64url_member(jwk, "y", 32, &ylen);
    EVP_PKEY *pkey = NULL;
    *reason = "EC key with bad x or y";
    if (x && y && xlen == 32 && ylen == 32) {
        uint8_t point[65];
        point[0] = 0x04; // uncompressed
        memcpy(point + 1, x, 32);
        memcpy(point + 33, y, 32);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (bld &&
            OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
            pkey = key_from_params("EC", bld);
        OSSL_PARAM_BLD_free(bld);
        if (!pkey)
            *reason = "EC point not on the curve";
    }
    if (pkey && !public_key_ok(pkey)) {
        *reason = "EC point not on the curve";
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    free(x);
    free(y);
    return pkey;
}

// Checks "use", "key_ops", "kid" and the absence of private parts; NULL or a reason.
static const char *jwk_usage_problem(json_t *jwk)
{
    json_t *use = json_object_get(jwk, "use");
    if (use && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
        return "key not for signatures";
    json_t *ops = json_object_get(jwk, "key_ops");
    if (ops) {
        bool verify = false;
        size_t i;
        json_t *op;
        json_array_foreach(ops, i, op)
        {
            if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
                verify = true;
        }
        if (!verify)
            return "key not for verification";
    }
    json_t *kid = json_object_get(jwk, "kid");
    if (kid &&
        (!json_is_string(kid) || json_string_length(kid) == 0 || json_string_length(kid) > KID_MAX))
        return "key with a bad kid";
    // A published private key means anyone can sign: trust nothing from it.
    if (json_object_get(jwk, "d") || json_object_get(jwk, "p") || json_object_get(jwk, "k"))
        return "key with private parts";
    return NULL;
}

// The key and its pinned algorithm from one JWK, or false with a reason (key skipped).
static bool jwk_parse(json_t *jwk, jwk_t *out, const char **reason)
{
    *reason = jwk_usage_problem(jwk);
    if (!json_is_object(jwk))
        *reason = "key is not an object";
    if (*reason)
        return false;
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    json_t *alg = json_object_get(jwk, "alg");
    const char *want;
    if (kty && strcmp(kty, "RSA") == 0) {
        out->alg = ALG_RS256, want = "RS256";
    } else if (kty && strcmp(kty, "EC") == 0) {
        out->alg = ALG_ES256, want = "ES256";
    } else {
        *reason = "key type not supported";
        return false;
    }
    if (alg && (!json_is_string(alg) || strcmp(json_string_value(alg), want) != 0)) {
        *reason = "key algorithm not supported";
        return false;
    }
    out->pkey = out->alg == ALG_RS256 ? rsa_from_jwk(jwk, reason) : ec_from_jwk(jwk, reason);
    if (!out->pkey)
        return false;
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    out->kid = kid ? strdup(kid) : NULL;
    if (kid && !out->kid) {
        EVP_PKEY_free(out->pkey);
        *reason = "out of memory";
        return false;
    }
    return true;
}

// The "keys" array of a JWKS document, or NULL with a reason. Caller json_decref()s it.
static json_t *jwks_keys(const char *json, size_t len, char *why, size_t whylen)
{
    if (!json || len > JWKS_MAX) {
        set_why(why, whylen, "JWKS too large");
        return NULL;
    }
    json_error_t err;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!doc) {
        set_why(why, whylen,
                json_error_code(&err) == json_error_duplicate_key ? "duplicate key in JWKS"
                                                                  : "JWKS is not valid JSON");
        return NULL;
    }
    json_t *keys = json_incref(json_object_get(doc, "keys"));
    json_decref(doc);
    if (!json_is_array(keys)) {
        json_decref(keys);
        set_why(why, whylen, "JWKS has no keys array");
        return NULL;
    }
    return keys;
}

bl_jwks_t *bl_jwks_parse(const char *json, size_t len, char *why, size_t whylen)
{
    json_t *keys = jwks_keys(json, len, why, whylen);
    if (!keys)
        return NULL;
    size_t total = json_array_size(keys);
    if (total > JWKS_MAX_KEYS)
        total = JWKS_MAX_KEYS;
    bl_jwks_t *jwks = calloc(1, sizeof(*jwks));
    if (jwks && total > 0)
        jwks->keys = calloc(total, sizeof(jwk_t));
    if (!jwks || (total > 0 && !jwks->keys)) {
        free(jwks);
        json_decref(keys);
        set_why(why, whylen, "out of memory");
        return NULL;
    }
    const char *reason = "JWKS has no keys";
    for (size_t i = 0; i < total; i++) {
        if (jwk_parse(json_array_get(keys, i), &jwks->keys[jwks->num], &reason))
            jwks->num++;
    }
    json_decref(keys);
    ERR_clear_error(); // refused keys leave OpenSSL errors that are no one else's business
    if (jwks->num == 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "no usable key in JWKS (%s)", reason);
        set_why(why, whylen, msg);
        bl_jwks_delete(jwks);
        return NULL;
    }
    return jwks;
}

void bl_jwks_delete(bl_jwks_t *jwks)
{
    if (!jwks)
        return;
    for (size_t i = 0; i < jwks->num; i++) {
        EVP_PKEY_free(jwks->keys[i].pkey);
        free(jwks->keys[i].kid);
    }
    free(jwks->keys);
    free(jwks);
}

const char *bl_jwks_kid(const bl_jwks_t *jwks, size_t i)
{
    return jwks && i < jwks->num ? jwks->keys[i].kid : NULL;
}

size_t bl_jwks_count(const bl_jwks_t *jwks)
{
    return jwks ? jwks->num : 0;
}

// ---- JWS ----

typedef struct jws {
    const char *signing_input; // header.payload, not NUL-terminated at the second dot
    size_t signing_len;
    json_t *header;
    json_t *payload;
    uint8_t *sig;
    size_t sig_len;
} jws_t;

static void jws_clear(jws_t *j)
{
    json_decref(j->header);
    json_decref(j->payload);
    free(j->sig);
    memset(j, 0, sizeof(*j));
}

// Decodes one base64url JSON object part; NULL with the reason in *reason.
static json_t *decode_json_part(const char *s, size_t len, bool header, const char **reason)
{
    static const char *const bad_b64[] = {"bad base64url in header", "bad base64url in payload"};
    static const char *const bad_json[] = {"header is not a JSON object",
                                           "payload is not a JSON object"};
    static const char *const dup[] = {"duplicate key in header", "duplicate key in payload"};
    int w = header ? 0 : 1;
    size_t n = 0;
    uint8_t *raw = b64url_decode(s, len, header ? HEADER_MAX : PAYLOAD_MAX, &n);
    if (!raw) {
        *reason = bad_b64[w];
        return NULL;
    }
    json_error_t err;
    json_t *obj = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, &err);
    free(raw);
    if (!obj) {
        *reason = json_error_code(&err) == json_error_duplicate_key ? dup[w] : bad_json[w];
        return NULL;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        *reason = bad_json[w];
        return NULL;
    }
    return obj;
}

// Splits and decodes a compact JWS (exactly three parts). false with a reason.
static bool jws_parse(const char *token, jws_t *j, const char **reason)
{
    memset(j, 0, sizeof(*j));
    size_t len = token ? strnlen(token, TOKEN_MAX + 1) : 0;
    if (len == 0) {
        *reason = "no token";
        return false;
    }
    if (len > TOKEN_MAX) {
        *reason = "token too long";
        return false;
    }
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token))) {
        *reason = "token is not three base64url parts";
        return false;
    }
    j->signing_input = token;
    j->signing_len = (size_t)(d2 - token);
    j->header = decode_json_part(token, (size_t)(d1 - token), true, reason);
    if (j->header)
        j->payload = decode_json_part(d1 + 1, (size_t)(d2 - d1 - 1), false, reason);
    if (j->payload) {
        j->sig = b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - token), SIG_MAX, &j->sig_len);
        if (!j->sig)
            *reason = "bad base64url in signature";
    }
    if (!j->sig) {
        jws_clear(j);
        return false;
    }
    return true;
}

// The token's algorithm from a header, or 0 with a clear reason for refused ones.
static jwt_alg_t header_alg(json_t *header, const char **reason)
{
    const char *alg = json_string_value(json_object_get(header, "alg"));
    if (!alg) {
        *reason = "header has no alg";
        return 0;
    }
    if (strcmp(alg, "RS256") == 0)
        return ALG_RS256;
    if (strcmp(alg, "ES256") == 0)
        return ALG_ES256;
    if (strcasecmp(alg, "none") == 0)
        *reason = "alg none refused (unsigned token)";
    else if (strncasecmp(alg, "HS", 2) == 0)
        *reason = "HMAC alg refused (only RS256, ES256)";
    else
        *reason = "alg not supported (only RS256, ES256)";
    return 0;
}

// Checks the header's alg, typ and crit; the algorithm, or 0 with a reason.
static jwt_alg_t header_check(json_t *header, const char **reason)
{
    jwt_alg_t alg = header_alg(header, reason);
    if (!alg)
        return 0;
    json_t *typ = json_object_get(header, "typ");
    if (typ) {
        const char *t = json_string_value(typ);
        if (t && strncasecmp(t, "application/", 12) == 0)
            t += 12;
        if (!t || (strcasecmp(t, "JWT") != 0 && strcasecmp(t, "at+jwt") != 0)) {
            *reason = "typ not JWT or at+jwt";
            return 0;
        }
    }
    if (json_object_get(header, "crit")) {
        *reason = "crit header refused";
        return 0;
    }
    json_t *kid = json_object_get(header, "kid");
    if (kid && (!json_is_string(kid) || json_string_length(kid) > KID_MAX)) {
        *reason = "bad kid in header";
        return 0;
    }
    return alg;
}

// Converts a raw ES256 signature (R || S, 32 bytes each) to DER. Caller OPENSSL_free()s.
static uint8_t *es256_to_der(const uint8_t *sig, size_t sig_len, size_t *der_len)
{
    if (sig_len != 64)
        return NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    uint8_t *der = NULL;
    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return NULL;
    }
    int n = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    if (n <= 0)
        return NULL;
    *der_len = (size_t)n;
    return der;
}

// true when j's signature verifies with key k (SHA-256; PKCS#1 v1.5 or ECDSA).
static bool signature_ok(const jwk_t *k, const jws_t *j)
{
    const uint8_t *sig = j->sig;
    size_t sig_len = j->sig_len;
    uint8_t *der = NULL;
    if (k->alg == ALG_RS256 && sig_len != (size_t)EVP_PKEY_get_size(k->pkey))
        return false;
    if (k->alg == ALG_ES256) {
        der = es256_to_der(j->sig, j->sig_len, &sig_len);
        if (!der)
            return false;
        sig = der;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = md && EVP_DigestVerifyInit_ex(md, &pctx, "SHA256", NULL, NULL, k->pkey, NULL) == 1;
    if (ok && k->alg == ALG_RS256)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    ok = ok &&
         EVP_DigestVerify(md, sig, sig_len, (const uint8_t *)j->signing_input, j->signing_len) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    return ok;
}

// Verifies j with the key its kid names, or with each key of its algorithm when it has none.
static bool jws_verify(const bl_jwks_t *jwks, const jws_t *j, jwt_alg_t alg, const char **reason)
{
    const char *kid = json_string_value(json_object_get(j->header, "kid"));
    bool named = false, tried = false;
    for (size_t i = 0; i < jwks->num; i++) {
        const jwk_t *k = &jwks->keys[i];
        if (kid && (!k->kid || strcmp(k->kid, kid) != 0))
            continue;
        named = true;
        if (k->alg != alg)
            continue;
        tried = true;
        if (signature_ok(k, j))
            return true;
    }
    ERR_clear_error();
    if (kid && !named)
        *reason = "unknown kid";
    else if (!tried)
        *reason = kid ? "key of kid is not for this alg" : "no key for this alg";
    else
        *reason = "bad signature";
    return false;
}

// ---- claims ----

// A NumericDate claim as seconds; false when present but not a usable number.
static bool numeric_date(json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || d < -1e15 || d > 1e15)
            return false;
        *out = (long long)d;
        return true;
    }
    return false;
}

// exp (required), nbf and iat against now with skew; false with a reason.
static bool times_ok(json_t *p, const bl_jwt_rules_t *rules, time_t now, time_t *expires,
                     const char **reason)
{
    long long skew = rules->skew > 0 ? (rules->skew < 86400 ? rules->skew : 86400) : 0;
    long long t = (long long)now, exp, nbf, iat;
    json_t *v = json_object_get(p, "exp");
    if (!v || !numeric_date(v, &exp)) {
        *reason = v ? "bad exp claim" : "no exp claim";
        return false;
    }
    if (exp <= t - skew) {
        *reason = "token expired";
        return false;
    }
    v = json_object_get(p, "nbf");
    if (v && (!numeric_date(v, &nbf) || nbf > t + skew)) {
        *reason = json_is_number(v) ? "token not yet valid (nbf)" : "bad nbf claim";
        return false;
    }
    v = json_object_get(p, "iat");
    if (v && (!numeric_date(v, &iat) || iat > t + skew)) {
        *reason = json_is_number(v) ? "token issued in the future (iat)" : "bad iat claim";
        return false;
    }
    *expires = (time_t)exp;
    return true;
}

// true when v is a string equal to s (no embedded NUL games: lengths must match too).
static bool string_is(json_t *v, const char *s)
{
    return json_is_string(v) && json_string_length(v) == strlen(s) &&
           memcmp(json_string_value(v), s, json_string_length(v)) == 0;
}

// iss exact, aud a string or an array holding the audience; false with a reason.
static bool iss_aud_ok(json_t *p, const bl_jwt_rules_t *rules, const char **reason)
{
    json_t *iss = json_object_get(p, "iss");
    if (!string_is(iss, rules->issuer)) {
        *reason = iss ? "wrong iss" : "no iss claim";
        return false;
    }
    json_t *aud = json_object_get(p, "aud");
    if (string_is(aud, rules->audience))
        return true;
    size_t i;
    json_t *a;
    json_array_foreach(aud, i, a)
    {
        if (string_is(a, rules->audience))
            return true;
    }
    *reason = aud ? "wrong aud" : "no aud claim";
    return false;
}

// Fills subject, name and groups from the payload; false with a reason.
static bool identity_ok(json_t *p, const bl_jwt_rules_t *rules, bl_jwt_claims_t *c,
                        const char **reason)
{
    json_t *sub = json_object_get(p, "sub");
    if (!json_is_string(sub)) {
        *reason = sub ? "bad sub claim" : "no sub claim";
        return false;
    }
    if (!copy_printable(json_string_value(sub), json_string_length(sub), SUB_MAX, c->subject)) {
        *reason = "bad sub claim";
        return false;
    }
    static const char *const name_claims[] = {"preferred_username", "name", "email"};
    c->name[0] = '\0';
    for (size_t i = 0; i < sizeof(name_claims) / sizeof(name_claims[0]) && !c->name[0]; i++) {
        json_t *v = json_object_get(p, name_claims[i]);
        if (json_is_string(v))
            sanitize_text(json_string_value(v), json_string_length(v), c->name, sizeof(c->name));
    }
    if (!c->name[0])
        memcpy(c->name, c->subject, sizeof(c->name));
    c->num_groups = 0;
    json_t *g = rules->group_claim ? json_object_get(p, rules->group_claim) : NULL;
    if (json_is_string(g) &&
        copy_printable(json_string_value(g), json_string_length(g), GROUP_MAX, c->groups[0]))
        c->num_groups = 1;
    size_t i;
    json_t *v;
    json_array_foreach(g, i, v)
    {
        if (c->num_groups == BL_JWT_MAX_GROUPS)
            break;
        if (json_is_string(v) && copy_printable(json_string_value(v), json_string_length(v),
                                                GROUP_MAX, c->groups[c->num_groups]))
            c->num_groups++;
    }
    return true;
}

bool bl_jwt_verify(const bl_jwks_t *jwks, const char *token, const bl_jwt_rules_t *rules,
                   time_t now, bl_jwt_claims_t *out, char *why, size_t whylen)
{
    const char *reason = "invalid token";
    bl_jwt_claims_t c;
    jws_t j;
    bool ok = false;
    memset(&c, 0, sizeof(c));
    if (out)
        memset(out, 0, sizeof(*out));
    if (!jwks || jwks->num == 0 || !rules || !rules->issuer || !rules->audience || !out) {
        set_why(why, whylen, "no keys or rules configured");
        return false;
    }
    if (!jws_parse(token, &j, &reason)) {
        set_why(why, whylen, reason);
        return false;
    }
    // Claims are looked at only once the signature holds.
    jwt_alg_t alg = header_check(j.header, &reason);
    if (alg && jws_verify(jwks, &j, alg, &reason))
        ok = times_ok(j.payload, rules, now, &c.expires, &reason) &&
             iss_aud_ok(j.payload, rules, &reason) && identity_ok(j.payload, rules, &c, &reason);
    jws_clear(&j);
    if (!ok) {
        set_why(why, whylen, reason);
        return false;
    }
    *out = c;
    return true;
}

bool bl_jwt_names_unknown_kid(const bl_jwks_t *jwks, const char *token)
{
    const char *reason = NULL;
    jws_t j;
    if (!jws_parse(token, &j, &reason))
        return false;
    const char *kid = header_check(j.header, &reason)
                          ? json_string_value(json_object_get(j.header, "kid"))
                          : NULL;
    bool unknown = kid != NULL;
    for (size_t i = 0; unknown && jwks && i < jwks->num; i++) {
        if (jwks->keys[i].kid && strcmp(jwks->keys[i].kid, kid) == 0)
            unknown = false;
    }
    jws_clear(&j);
    return unknown;
}

// ---- issuer metadata ----

bool bl_oidc_metadata_jwks_uri(const char *json, size_t len, const char *issuer, char *out,
                               size_t outlen, char *why, size_t whylen)
{
    if (outlen)
        out[0] = '\0';
    if (len > METADATA_MAX) {
        set_why(why, whylen, "metadata too large");
        return false;
    }
    json_error_t err;
    json_t *m = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(m)) {
        set_why(why, whylen,
                m || json_error_code(&err) != json_error_duplicate_key
                    ? "metadata is not a JSON object"
                    : "duplicate key in metadata");
        json_decref(m);
        return false;
    }
    // OpenID Connect Discovery 1.0, 4.3 and RFC 8414, 3.3: the issuer must be the one asked.
    json_t *iss = json_object_get(m, "issuer");
    json_t *uri = json_object_get(m, "jwks_uri");
    const char *reason = NULL;
    if (!string_is(iss, issuer))
        reason = iss ? "metadata names another issuer" : "metadata has no issuer";
    else if (!json_is_string(uri) || json_string_length(uri) == 0 ||
             json_string_length(uri) >= outlen ||
             strlen(json_string_value(uri)) != json_string_length(uri))
        reason = "metadata has no usable jwks_uri";
    for (size_t i = 0; !reason && i < json_string_length(uri); i++) {
        unsigned char c = (unsigned char)json_string_value(uri)[i];
        if (c <= 0x20 || c >= 0x7f)
            reason = "metadata has no usable jwks_uri";
    }
    if (!reason)
        memcpy(out, json_string_value(uri), json_string_length(uri) + 1);
    json_decref(m);
    if (reason)
        set_why(why, whylen, reason);
    return reason == NULL;
}
