// libFuzzer target for the streaming PWG / URF raster validator (drivers/drv-raster.c).
// Licensed under the Apache License, Version 2.0.
//
// The input is a raster file as is (so the corpus holds real files). Its size picks a chunk
// size, so that many ways of splitting the stream are tried; the result must not depend on it.
#include "drivers/drv-raster.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool run(const uint8_t *data, size_t size, size_t chunk, uint32_t *pages)
{
    bl_raster_t r;
    bl_raster_init(&r, NULL, NULL);
    for (size_t i = 0; i < size; i += chunk) {
        size_t n = size - i < chunk ? size - i : chunk;
        if (!bl_raster_feed(&r, data + i, n))
            return false;
    }
    *pages = r.pages;
    return bl_raster_finish(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t chunk = size % 61 + 1;
    uint32_t p1 = 0, p2 = 0;
    bool a = run(data, size, chunk, &p1);
    bool b = run(data, size, size ? size : 1, &p2);
    if (a != b || (a && p1 != p2))
        __builtin_trap();
    return 0;
}
