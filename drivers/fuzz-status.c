// libFuzzer target of the filter status-line parser (bl_status_parse), line by line.
// Licensed under the Apache License, Version 2.0.
#include "drivers/status.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Every text that comes out must be printable (no control bytes reach a log).
static void check_text(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        bl_status_t st;
        bl_status_parse(p, len, &st);
        check_text(st.message);
        for (size_t i = 0; i < st.num_reasons; i++)
            check_text(st.reasons[i].keyword);
        for (size_t i = 0; i < st.num_attrs; i++) {
            check_text(st.attrs[i].name);
            if (st.attrs[i].value < 0 || st.attrs[i].value > INT32_MAX)
                abort();
        }
        p += len + 1;
    }
    return 0;
}
