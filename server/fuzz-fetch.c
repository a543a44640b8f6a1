// libFuzzer target of what a key fetch reads from the network (server/fetch.c, server/jwt.c).
// Licensed under the Apache License, Version 2.0.
//
// The first byte picks what the rest is:
//   0: an HTTP/1.1 answer up to the end of the connection (bl_fetch_parse_response, 4 KiB cap);
//   1: a URL (bl_url_parse, bl_url_is_fetchable), as found in an issuer's metadata;
//   2: an issuer's metadata JSON (bl_oidc_metadata_jwks_uri for issuer https://idp.example).
#include "server/fetch.h"
#include "server/jwt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODY 4096

static void fuzz_answer(const uint8_t *data, size_t size)
{
    char *body = NULL, why[160] = "";
    size_t len = 0;
    if (bl_fetch_parse_response(data, size, MAX_BODY, &body, &len, why, sizeof(why))) {
        if (!body || len > MAX_BODY || body[len] != '\0')
            abort();
    } else if (body || !why[0]) {
        abort();
    }
    free(body);
}

static void fuzz_url(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return;
    memcpy(s, data, size);
    s[size] = '\0';
    bl_url_t u;
    char why[160] = "";
    if (bl_url_parse(s, &u)) {
        if (!u.host[0] || u.port < 1 || u.port > 65535 || u.path[0] != '/')
            abort();
        for (const char *p = u.path; *p; p++) {
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                abort();
        }
        if (!bl_url_is_fetchable(s, why, sizeof(why)) && (u.tls || bl_url_is_loopback(&u)))
            abort();
    } else if (bl_url_is_fetchable(s, why, sizeof(why))) {
        abort();
    }
    free(s);
}

static void fuzz_metadata(const uint8_t *data, size_t size)
{
    char uri[1024], why[160] = "";
    if (bl_oidc_metadata_jwks_uri((const char *)data, size, "https://idp.example", uri, sizeof(uri),
                                  why, sizeof(why))) {
        if (!uri[0] || strlen(uri) >= sizeof(uri))
            abort();
    } else if (uri[0] || !why[0]) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 70000)
        return 0;
    uint8_t mode = data[0] % 3;
    data++, size--;
    if (mode == 0)
        fuzz_answer(data, size);
    else if (mode == 1)
        fuzz_url(data, size);
    else
        fuzz_metadata(data, size);
    return 0;
}
