// JPEG header parser (markers up to the first scan) for the jpegtopdf filter; untrusted input.
// Licensed under the Apache License, Version 2.0.
//
// Only what a PDF DCTDecode image needs: size, components, progressive or not, and the
// Adobe APP14 marker. Every length is checked against the buffer before it is used.
#include "drivers/drv-jpeg.h"

#include <stdio.h>
#include <string.h>

#define M_SOF0 0xC0
#define M_SOF2 0xC2
#define M_DHT 0xC4
#define M_JPG 0xC8
#define M_DAC 0xCC
#define M_SOI 0xD8
#define M_EOI 0xD9
#define M_SOS 0xDA
#define M_APP14 0xEE

static bool fail(char *err, size_t errlen, const char *why, size_t offset)
{
    if (errlen)
        snprintf(err, errlen, "%s at byte %zu", why, offset);
    return false;
}

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static bool is_sof(uint8_t m)
{
    return m >= 0xC0 && m <= 0xCF && m != M_DHT && m != M_JPG && m != M_DAC;
}

// Parses a SOFn segment body seg[0..n) (after the length field).
static bool parse_sof(uint8_t marker, const uint8_t *seg, size_t n, size_t off,
                      bl_jpeg_info_t *info, char *err, size_t errlen)
{
    // PDF's DCTDecode takes baseline, extended and progressive Huffman JPEGs, 8 bits only.
    if (marker != M_SOF0 && marker != 0xC1 && marker != M_SOF2)
        return fail(err, errlen, "unsupported JPEG coding (lossless, hierarchical or arithmetic)",
                    off);
    if (n < 6)
        return fail(err, errlen, "short frame header", off);
    if (seg[0] != 8)
        return fail(err, errlen, "unsupported sample precision", off);
    uint32_t h = be16(seg + 1), w = be16(seg + 3), nc = seg[5];
    if (w == 0 || h == 0)
        return fail(err, errlen, "zero image width or height", off);
    if (w > BL_JPEG_MAX_SIDE || h > BL_JPEG_MAX_SIDE ||
        (unsigned long long)w * h > BL_JPEG_MAX_PIXELS)
        return fail(err, errlen, "image dimensions too large", off);
    if (nc != 1 && nc != 3 && nc != 4)
        return fail(err, errlen, "unsupported number of components", off);
    if (n != 6 + 3 * (size_t)nc)
        return fail(err, errlen, "bad frame header length", off);
    for (uint32_t i = 0; i < nc; i++) {
        uint8_t hv = seg[6 + 3 * i + 1];
        if ((hv >> 4) < 1 || (hv >> 4) > 4 || (hv & 15) < 1 || (hv & 15) > 4)
            return fail(err, errlen, "bad sampling factors", off);
        if (seg[6 + 3 * i + 2] > 3)
            return fail(err, errlen, "bad quantisation table number", off);
    }
    info->width = w;
    info->height = h;
    info->components = (int)nc;
    info->progressive = marker == M_SOF2;
    return true;
}

// Parses an APP14 segment body: "Adobe" version(2) flags0(2) flags1(2) transform(1).
static void parse_app14(const uint8_t *seg, size_t n, bl_jpeg_info_t *info)
{
    if (n >= 12 && !memcmp(seg, "Adobe", 5)) {
        info->adobe = true;
        info->adobe_transform = seg[11];
    }
}

bool bl_jpeg_parse(const uint8_t *data, size_t len, bl_jpeg_info_t *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof(*info));
    info->adobe_transform = -1;
    if (errlen)
        err[0] = '\0';
    if (len < 4 || data[0] != 0xFF || data[1] != M_SOI)
        return fail(err, errlen, "not a JPEG file (no SOI marker)", 0);
    bool have_sof = false;
    size_t pos = 2;
    for (;;) {
        if (pos >= len || data[pos] != 0xFF)
            return fail(err, errlen, pos >= len ? "truncated file" : "expected a marker", pos);
        while (pos < len && data[pos] == 0xFF)
            pos++; // fill bytes
        if (pos >= len)
            return fail(err, errlen, "truncated file", pos);
        uint8_t m = data[pos++];
        size_t moff = pos - 2;
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7))
            continue; // TEM, RSTn: no length
        if (m == 0x00 || m == M_SOI || m == M_EOI)
            return fail(err, errlen, m == M_EOI ? "no image data" : "unexpected marker", moff);
        if (len - pos < 2)
            return fail(err, errlen, "truncated marker segment", moff);
        size_t seglen = be16(data + pos);
        if (seglen < 2 || seglen > len - pos)
            return fail(err, errlen, "bad marker segment length", moff);
        const uint8_t *seg = data + pos + 2;
        size_t n = seglen - 2;
        if (is_sof(m)) {
            if (have_sof)
                return fail(err, errlen, "second frame header", moff);
            if (!parse_sof(m, seg, n, moff, info, err, errlen))
                return false;
            have_sof = true;
        } else if (m == M_APP14) {
            parse_app14(seg, n, info);
        } else if (m == M_SOS) {
            if (!have_sof)
                return fail(err, errlen, "scan before frame header", moff);
            if (n < 1 || seg[0] < 1 || seg[0] > info->components || n != 4 + 2 * (size_t)seg[0])
                return fail(err, errlen, "bad scan header", moff);
            return true;
        }
        pos += seglen;
    }
}

bool bl_jpeg_has_eoi(const uint8_t *data, size_t len)
{
    size_t from = len > 4096 ? len - 4096 : 0;
    for (size_t i = len; i-- > from + 1;) {
        if (data[i - 1] == 0xff && data[i] == 0xd9)
            return true;
    }
    return false;
}
