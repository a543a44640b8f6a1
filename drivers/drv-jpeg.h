// JPEG header parser (markers up to the first scan) for the jpegtopdf filter; untrusted input.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_DRV_JPEG_H
#define BL_DRV_JPEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BL_JPEG_MAX_SIDE 30000u         // pixels per side
#define BL_JPEG_MAX_PIXELS 300000000ull // width * height

typedef struct bl_jpeg_info {
    uint32_t width, height;
    int components;      // 1 (gray), 3 (YCbCr/RGB) or 4 (CMYK/YCCK)
    bool progressive;    // SOF2
    bool adobe;          // APP14 "Adobe" marker present (CMYK data is then inverted)
    int adobe_transform; // its transform byte, -1 without the marker
} bl_jpeg_info_t;

// Walks the markers of data[0..len) from SOI to the first SOS. false with a reason in err
// (NUL-terminated, at most errlen bytes) when the file is not a JPEG we can embed in a PDF.
bool bl_jpeg_parse(const uint8_t *data, size_t len, bl_jpeg_info_t *info, char *err, size_t errlen);
// Whether the image ends with the end-of-image marker (FF D9), up to 4 KiB of trailing bytes
// tolerated: a truncated JPEG has none.
bool bl_jpeg_has_eoi(const uint8_t *data, size_t len);

#endif
