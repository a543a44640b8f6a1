// libFuzzer target for the JPEG header parser (drivers/drv-jpeg.c).
// Licensed under the Apache License, Version 2.0.
#include "drivers/drv-jpeg.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bl_jpeg_info_t info;
    char err[160];
    if (bl_jpeg_parse(data, size, &info, err, sizeof(err))) {
        // What the PDF writer relies on.
        if (info.width == 0 || info.height == 0 || info.width > BL_JPEG_MAX_SIDE ||
            info.height > BL_JPEG_MAX_SIDE ||
            (info.components != 1 && info.components != 3 && info.components != 4))
            __builtin_trap();
    } else if (memchr(err, '\0', sizeof(err)) == NULL) {
        __builtin_trap();
    }
    return 0;
}
