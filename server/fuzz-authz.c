// libFuzzer target of the Authorization header parser (bl_auth_parse_header).
// Licensed under the Apache License, Version 2.0.
#include "server/auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // The HTTP layer hands over a NUL-terminated header value.
    char *value = malloc(size + 1);
    if (!value)
        return 0;
    memcpy(value, data, size);
    value[size] = '\0';
    static bl_auth_header_t h;
    unsigned scheme = 0;
    bool ok = bl_auth_parse_header(value, &h, &scheme);
    if (ok) {
        // What it accepts is bounded, terminated and of the scheme it names.
        if (scheme != BL_SCHEME_BASIC && scheme != BL_SCHEME_BEARER)
            abort();
        if (h.scheme != scheme || strnlen(h.user, sizeof(h.user)) == sizeof(h.user) ||
            strnlen(h.password, sizeof(h.password)) == sizeof(h.password) ||
            strnlen(h.token, sizeof(h.token)) == sizeof(h.token))
            abort();
        if (scheme == BL_SCHEME_BASIC && (!h.user[0] || strchr(h.user, ':')))
            abort();
        if (scheme == BL_SCHEME_BEARER && !h.token[0])
            abort();
    } else if (scheme && scheme != BL_SCHEME_BASIC && scheme != BL_SCHEME_BEARER) {
        abort();
    }
    free(value);
    return 0;
}
