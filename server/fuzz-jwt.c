// libFuzzer target of JWKS parsing and JWT verification (server/jwt.c).
// Licensed under the Apache License, Version 2.0.
//
// The first byte picks what the rest is:
//   0: a JWKS document (bl_jwks_parse);
//   1: a compact token, verified against the fixed JWKS below;
//   2: a payload (claims JSON), signed here with the fixed EC key so that the claim checks
//      after the signature are reached;
//   3: header JSON, a newline, payload JSON, signed the same way.
// The keys are test keys made for this target only; their private halves protect nothing.
#include "server/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// kid "fuzz-rsa" (RSA-2048, RS256) and kid "fuzz-ec" (P-256, ES256).
static const char fixed_jwks[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"fuzz-rsa\",\"n\":"
    "\"jq0tZD7QGvuL5DBziKFOg5mq1FhPSMdDB0dW9oL8Kuo1HmSPQKyL_3340b5tiEsI3x-BCpEt8Vtbea7DS_ONJJmq"
    "9n-NJU92mG9eC-9ueitSbgOJaMlRPuYD8o8w8zrQIWmQENrEWQg5jLPVVcN7QfPsc3WDZ3ti0bG88wqhOhP8xb4XNG"
    "8vu31P7QrZd5qJF_siG9O5vdixfFKPUgouGUP8qW_c1pY8eAK9FRBH6dZBE3P4V7v-BMifqAxEpXg-AGKM1LgYUmLM"
    "h11bgeaRL9ySThWCN6iF0QJFMdHsCilU35e7eyTUqYbbEok-gGHmmsPJ788iF8lCeKtfjV2vZQ\",\"e\":\"AQAB"
    "\"},{\"kty\":\"EC\",\"use\":\"sig\",\"alg\":\"ES256\",\"kid\":\"fuzz-ec\",\"crv\":\"P-256"
    "\",\"x\":\"XCArjX-mosvlKiwYA1Wk3s8VsPjTV2Cc2m_ecunKFS4\",\"y\":\"5IUOZQX2l9M6DS3oPomBa8f7m"
    "X5Q96ZpAINMu0xTTbA\"}]}";

// The private half of "fuzz-ec" (PKCS#8), for the signing modes.
static const char fixed_ec_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgvErwBfPkqEZOhu+R\n"
    "E6kvAvcJxPp5QU+MPwXhK+jHDi+hRANCAARcICuNf6aiy+UqLBgDVaTezxWw+NNX\n"
    "YJzab95y6coVLuSFDmUF9pfTOg0t6D6JgWvH+5l+UPemaQCDTLtMU02w\n"
    "-----END PRIVATE KEY-----\n";

// 2033-05-18: tokens in the corpus are signed with exp before and after it.
#define FUZZ_NOW ((time_t)2000000000)

static bl_jwks_t *jwks;
static EVP_PKEY *ec_key;

static void init_once(void)
{
    if (jwks)
        return;
    char why[256];
    jwks = bl_jwks_parse(fixed_jwks, sizeof(fixed_jwks) - 1, why, sizeof(why));
    BIO *bio = BIO_new_mem_buf(fixed_ec_pem, -1);
    ec_key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!jwks || bl_jwks_count(jwks) != 2 || !ec_key)
        abort();
}

// Appends unpadded base64url of len bytes at out; returns the characters written.
static size_t b64url(const uint8_t *p, size_t len, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        size_t chars = len - i >= 3 ? 4 : len - i + 1;
        for (size_t c = 0; c < chars; c++)
            out[o++] = abc[(v >> (18 - 6 * c)) & 63];
    }
    return o;
}

// header.payload signed with the fixed EC key (raw R || S). Caller frees; NULL on failure.
static char *sign_es256(const uint8_t *header, size_t hlen, const uint8_t *payload, size_t plen)
{
    char *tok = malloc((hlen + plen) / 3 * 4 + 8 + 90);
    if (!tok)
        return NULL;
    size_t o = b64url(header, hlen, tok);
    tok[o++] = '.';
    o += b64url(payload, plen, tok + o);
    uint8_t der[80], raw[64];
    size_t der_len = sizeof(der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, ec_key, NULL) == 1 &&
             EVP_DigestSign(md, der, &der_len, (const uint8_t *)tok, o) == 1;
    EVP_MD_CTX_free(md);
    const uint8_t *p = der;
    ECDSA_SIG *es = ok ? d2i_ECDSA_SIG(NULL, &p, (long)der_len) : NULL;
    if (!es || BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) != 32) {
        ECDSA_SIG_free(es);
        free(tok);
        return NULL;
    }
    ECDSA_SIG_free(es);
    tok[o++] = '.';
    o += b64url(raw, 64, tok + o);
    tok[o] = '\0';
    return tok;
}

// Verifies token and checks what the interface promises either way.
static void verify(const char *token)
{
    static const bl_jwt_rules_t rules = {"https://idp.example", "blatt", "groups", 60};
    bl_jwt_claims_t c;
    char why[128] = "";
    if (bl_jwt_verify(jwks, token, &rules, FUZZ_NOW, &c, why, sizeof(why))) {
        if (!c.subject[0] || !c.name[0] || c.num_groups > BL_JWT_MAX_GROUPS)
            abort();
        for (size_t i = 0; i < c.num_groups; i++) {
            if (!c.groups[i][0] || strlen(c.groups[i]) > 127)
                abort();
        }
    } else if (!why[0] || c.subject[0]) {
        abort();
    }
}

static void fuzz_jwks(const uint8_t *data, size_t size)
{
    char why[128] = "";
    bl_jwks_t *j = bl_jwks_parse((const char *)data, size, why, sizeof(why));
    if ((j && bl_jwks_count(j) == 0) || (!j && !why[0]))
        abort();
    bl_jwks_delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 70000)
        return 0;
    init_once();
    uint8_t mode = data[0] % 4;
    data++, size--;
    if (mode == 0) {
        fuzz_jwks(data, size);
        return 0;
    }
    char *token;
    if (mode == 1) {
        token = malloc(size + 1);
        if (token) {
            memcpy(token, data, size);
            token[size] = '\0';
        }
    } else if (mode == 2) {
        static const char h[] = "{\"alg\":\"ES256\",\"kid\":\"fuzz-ec\"}";
        token = sign_es256((const uint8_t *)h, sizeof(h) - 1, data, size);
    } else {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t hlen = nl ? (size_t)(nl - data) : size;
        token = sign_es256(data, hlen, nl ? nl + 1 : data + size, nl ? size - hlen - 1 : 0);
    }
    if (token)
        verify(token);
    free(token);
    return 0;
}
