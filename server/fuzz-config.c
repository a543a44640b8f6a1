// libFuzzer target of the blattd.conf parser (bl_config_parse).
// Licensed under the Apache License, Version 2.0.
#include "server/config.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    bl_config_t *c = bl_config_parse((const char *)data, size, "fuzz.conf", err, sizeof(err));
    if (!c && !strchr(err, ':'))
        abort(); // every refusal names file:line
    bl_config_delete(c);
    return 0;
}
