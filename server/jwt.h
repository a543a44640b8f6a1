// OAuth2 / OpenID Connect bearer tokens: JWKS key sets and JWT verification (OpenSSL EVP).
// Licensed under the Apache License, Version 2.0.
//
// A token is accepted only when its signature verifies with a key of the issuer's JWKS whose
// algorithm is pinned (RS256 for RSA keys, ES256 for P-256 keys: the token's "alg" must match
// the key, "none" and HMAC are always refused), and iss, aud, exp and nbf hold (with a small
// clock skew). JSON is parsed with jansson and JSON_REJECT_DUPLICATES.
#ifndef BL_JWT_H
#define BL_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define BL_JWT_MAX_GROUPS 32

typedef struct bl_jwks bl_jwks_t;

// Parses a JWKS document ({"keys":[...]}); keys of other types or algorithms are skipped.
// NULL with a reason in why when nothing usable is in it. Caller owns (bl_jwks_delete()).
bl_jwks_t *bl_jwks_parse(const char *json, size_t len, char *why, size_t whylen);
void bl_jwks_delete(bl_jwks_t *jwks);
// Number of usable keys.
size_t bl_jwks_count(const bl_jwks_t *jwks);
// The kid of key i (borrowed), NULL when it has none or i is out of range.
const char *bl_jwks_kid(const bl_jwks_t *jwks, size_t i);

typedef struct bl_jwt_rules {
    const char *issuer;      // required "iss" (exact match)
    const char *audience;    // required in "aud" (string or array)
    const char *group_claim; // claim holding the groups (array of strings or one string), or NULL
    int skew;                // seconds of clock skew allowed for exp/nbf/iat (e.g. 60)
} bl_jwt_rules_t;

typedef struct bl_jwt_claims {
    char subject[256]; // "sub"
    char name[256];    // "preferred_username", else "name", else "email", else sub
    char groups[BL_JWT_MAX_GROUPS][128];
    size_t num_groups;
    time_t expires; // "exp"
} bl_jwt_claims_t;

// Verifies a compact JWS token (header.payload.signature, base64url) against jwks and rules at
// time now. true and *out filled when valid; false with a reason (never the token) in why.
bool bl_jwt_verify(const bl_jwks_t *jwks, const char *token, const bl_jwt_rules_t *rules,
                   time_t now, bl_jwt_claims_t *out, char *why, size_t whylen);

// Whether token is a well-formed RS256/ES256 token whose header names a kid that jwks (which
// may be NULL) lacks: the sign that the issuer rotated its keys. Checks no signature.
bool bl_jwt_names_unknown_kid(const bl_jwks_t *jwks, const char *token);

// The jwks_uri of an issuer's metadata (OpenID Connect Discovery 1.0 or RFC 8414 JSON, at
// most 64 KiB), once its "issuer" equals issuer exactly. false with a reason in why. The URI
// is only checked to be printable ASCII; the caller decides whether it may be fetched.
bool bl_oidc_metadata_jwks_uri(const char *json, size_t len, const char *issuer, char *out,
                               size_t outlen, char *why, size_t whylen);

#endif
