// Unit tests of the JPEG header parser (drivers/drv-jpeg.c).
// Licensed under the Apache License, Version 2.0.
#include "drivers/drv-jpeg.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

typedef struct jpeg_buf {
    uint8_t data[512];
    size_t len;
} jpeg_buf_t;

static void put(jpeg_buf_t *b, const void *p, size_t n)
{
    assert_true(b->len + n <= sizeof(b->data));
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_segment(jpeg_buf_t *b, uint8_t marker, const uint8_t *body, size_t n)
{
    uint8_t head[4] = {0xFF, marker, (uint8_t)((n + 2) >> 8), (uint8_t)(n + 2)};
    put(b, head, 4);
    put(b, body, n);
}

// SOI, optional APP14, SOFn of w x h with nc components, SOS, a little data, EOI.
static void make_jpeg(jpeg_buf_t *b, uint8_t sof, uint32_t w, uint32_t h, uint8_t nc, bool adobe)
{
    static const uint8_t soi[2] = {0xFF, 0xD8}, eoi[2] = {0xFF, 0xD9};
    static const uint8_t app0[14] = {'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0};
    static const uint8_t app14[12] = {'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 2};
    uint8_t sofb[6 + 12] = {8, (uint8_t)(h >> 8), (uint8_t)h, (uint8_t)(w >> 8), (uint8_t)w, nc};
    for (int i = 0; i < nc && i < 4; i++) {
        sofb[6 + 3 * i] = (uint8_t)(i + 1);
        sofb[6 + 3 * i + 1] = 0x11;
        sofb[6 + 3 * i + 2] = 0;
    }
    uint8_t sos[4 + 2 * 4] = {nc};
    for (int i = 0; i < nc && i < 4; i++) {
        sos[1 + 2 * i] = (uint8_t)(i + 1);
        sos[2 + 2 * i] = 0;
    }
    b->len = 0;
    put(b, soi, 2);
    put_segment(b, 0xE0, app0, sizeof(app0));
    if (adobe)
        put_segment(b, 0xEE, app14, sizeof(app14));
    put_segment(b, sof, sofb, 6 + 3 * (size_t)(nc <= 4 ? nc : 0));
    put_segment(b, 0xDA, sos, 4 + 2 * (size_t)(nc <= 4 ? nc : 0));
    static const uint8_t scan[6] = {0x12, 0x34, 0xFF, 0x00, 0x56, 0x78};
    put(b, scan, sizeof(scan));
    put(b, eoi, 2);
}

static bool parse(const jpeg_buf_t *b, bl_jpeg_info_t *info, char *err)
{
    return bl_jpeg_parse(b->data, b->len, info, err, 160);
}

static void test_valid_rgb(void **state)
{
    (void)state;
    jpeg_buf_t b;
    bl_jpeg_info_t info;
    char err[160];
    make_jpeg(&b, 0xC0, 640, 480, 3, false);
    assert_true(parse(&b, &info, err));
    assert_int_equal(info.width, 640);
    assert_int_equal(info.height, 480);
    assert_int_equal(info.components, 3);
    assert_false(info.progressive);
    assert_false(info.adobe);
    assert_int_equal(info.adobe_transform, -1);
}

static void test_valid_gray_progressive(void **state)
{
    (void)state;
    jpeg_buf_t b;
    bl_jpeg_info_t info;
    char err[160];
    make_jpeg(&b, 0xC2, 1, 65535 > BL_JPEG_MAX_SIDE ? BL_JPEG_MAX_SIDE : 65535, 1, false);
    assert_true(parse(&b, &info, err));
    assert_int_equal(info.components, 1);
    assert_true(info.progressive);
}

static void test_adobe_cmyk(void **state)
{
    (void)state;
    jpeg_buf_t b;
    bl_jpeg_info_t info;
    char err[160];
    make_jpeg(&b, 0xC1, 10, 20, 4, true);
    assert_true(parse(&b, &info, err));
    assert_int_equal(info.components, 4);
    assert_true(info.adobe);
    assert_int_equal(info.adobe_transform, 2);
}

static void test_fill_bytes_and_rst(void **state)
{
    (void)state;
    jpeg_buf_t b;
    bl_jpeg_info_t info;
    char err[160];
    make_jpeg(&b, 0xC0, 8, 8, 1, false);
    // Insert fill bytes and a stray RST marker after SOI.
    static const uint8_t extra[4] = {0xFF, 0xFF, 0xFF, 0xD0};
    memmove(b.data + 6, b.data + 2, b.len - 2);
    memcpy(b.data + 2, extra, 4);
    b.len += 4;
    assert_true(parse(&b, &info, err));
}

static void test_rejects(void **state)
{
    (void)state;
    jpeg_buf_t b;
    bl_jpeg_info_t info;
    char err[160];
    make_jpeg(&b, 0xC0, 0, 10, 3, false);
    assert_false(parse(&b, &info, err)); // zero width
    make_jpeg(&b, 0xC0, 10, 0, 3, false);
    assert_false(parse(&b, &info, err)); // zero height (DNL)
    make_jpeg(&b, 0xC0, 40000, 10, 3, false);
    assert_false(parse(&b, &info, err)); // too wide
    make_jpeg(&b, 0xC0, 30000, 30000, 1, false);
    assert_false(parse(&b, &info, err)); // too many pixels
    make_jpeg(&b, 0xC0, 10, 10, 0, false);
    assert_false(parse(&b, &info, err)); // zero components
    make_jpeg(&b, 0xC0, 10, 10, 2, false);
    assert_false(parse(&b, &info, err)); // two components
    make_jpeg(&b, 0xC3, 10, 10, 3, false);
    assert_false(parse(&b, &info, err)); // lossless
    make_jpeg(&b, 0xC9, 10, 10, 3, false);
    assert_false(parse(&b, &info, err)); // arithmetic
    assert_non_null(strstr(err, "unsupported"));
}

static void test_rejects_structure(void **state)
{
    (void)state;
    jpeg_buf_t b;
    bl_jpeg_info_t info;
    char err[160];
    make_jpeg(&b, 0xC0, 10, 10, 3, false);
    jpeg_buf_t t = b;
    t.data[1] = 0xD9;
    assert_false(parse(&t, &info, err)); // no SOI
    for (size_t n = 0; n < 40; n++) {
        t = b;
        t.len = n;
        assert_false(parse(&t, &info, err)); // truncated before SOS
    }
    t = b;
    t.data[4] = 0xFF; // APP0 length 0xFF10: past the end
    assert_false(parse(&t, &info, err));
    t = b;
    t.data[4] = 0;
    t.data[5] = 1; // length 1 < 2
    assert_false(parse(&t, &info, err));
    t = b;
    t.data[2 + 18 + 4] = 12; // precision 12
    assert_false(parse(&t, &info, err));
    t = b;
    t.data[2 + 18 + 4 + 6 + 1] = 0x51; // H sampling factor 5
    assert_false(parse(&t, &info, err));
}

static void test_sos_before_sof(void **state)
{
    (void)state;
    static const uint8_t data[] = {0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x08, 1,
                                   1,    0,    0,    63,   0,    0xFF, 0xD9};
    bl_jpeg_info_t info;
    char err[160];
    assert_false(bl_jpeg_parse(data, sizeof(data), &info, err, sizeof(err)));
    assert_non_null(strstr(err, "scan before frame"));
}

static void test_second_sof(void **state)
{
    (void)state;
    jpeg_buf_t b;
    bl_jpeg_info_t info;
    char err[160];
    make_jpeg(&b, 0xC0, 10, 10, 1, false);
    // Duplicate the SOF segment (at 2 + 18, 13 bytes with 1 component).
    memmove(b.data + 20 + 13, b.data + 20, b.len - 20);
    b.len += 13;
    assert_false(parse(&b, &info, err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_rgb),      cmocka_unit_test(test_valid_gray_progressive),
        cmocka_unit_test(test_adobe_cmyk),     cmocka_unit_test(test_fill_bytes_and_rst),
        cmocka_unit_test(test_rejects),        cmocka_unit_test(test_rejects_structure),
        cmocka_unit_test(test_sos_before_sof), cmocka_unit_test(test_second_sof),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
