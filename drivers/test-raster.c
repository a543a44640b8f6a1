// Unit tests of the streaming PWG / URF raster validator (drivers/drv-raster.c).
// Licensed under the Apache License, Version 2.0.
#include "drivers/drv-raster.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct stream {
    uint8_t *data;
    size_t len, cap;
} stream_t;

static void put(stream_t *s, const void *p, size_t n)
{
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->data = realloc(s->data, s->cap);
        assert_non_null(s->data);
    }
    memcpy(s->data + s->len, p, n);
    s->len += n;
}

static void put_byte(stream_t *s, uint8_t b)
{
    put(s, &b, 1);
}

static void be32_at(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void pwg_header(stream_t *s, uint32_t w, uint32_t h, uint32_t bpc, uint32_t bpp,
                       uint32_t bpl)
{
    uint8_t hdr[BL_RASTER_PWG_HEADER] = {0};
    memcpy(hdr, "PwgRaster", 9);
    be32_at(hdr + 272, 1); // Duplex
    be32_at(hdr + 276, 300);
    be32_at(hdr + 280, 300);
    be32_at(hdr + 372, w);
    be32_at(hdr + 376, h);
    be32_at(hdr + 384, bpc);
    be32_at(hdr + 388, bpp);
    be32_at(hdr + 392, bpl);
    be32_at(hdr + 400, 18); // sGray
    put(s, hdr, sizeof(hdr));
}

// One page of h lines of w 8-bit gray pixels: each line group covers 2 lines and is
// written as a repeat run, a literal run and a fill.
static void pwg_gray_page(stream_t *s, uint32_t w, uint32_t h)
{
    pwg_header(s, w, h, 8, 8, w);
    for (uint32_t y = 0; y < h; y += 2) {
        put_byte(s, y + 1 < h ? 1 : 0); // line repeat
        put_byte(s, 2);                 // 3 x the next pixel
        put_byte(s, 0x00);
        put_byte(s, 257 - 2); // 2 literal pixels
        put_byte(s, 0x10);
        put_byte(s, 0x20);
        if (w > 5)
            put_byte(s, 0x80); // fill the rest
    }
}

static void urf_file(stream_t *s, uint32_t pages)
{
    uint8_t head[12] = {'U', 'N', 'I', 'R', 'A', 'S', 'T', 0};
    be32_at(head + 8, pages);
    put(s, head, sizeof(head));
}

static void urf_rgb_page(stream_t *s, uint32_t w, uint32_t h)
{
    uint8_t hdr[BL_RASTER_URF_HEADER] = {24, 1, 3, 4};
    be32_at(hdr + 12, w);
    be32_at(hdr + 16, h);
    be32_at(hdr + 20, 300);
    put(s, hdr, sizeof(hdr));
    for (uint32_t y = 0; y < h; y++) {
        static const uint8_t px[3] = {1, 2, 3};
        put_byte(s, 0);
        put_byte(s, (uint8_t)(w - 1)); // w x one pixel (w <= 128)
        put(s, px, 3);
    }
}

static uint32_t pages_seen;

static void on_page(void *ctx, const bl_raster_page_t *page, uint32_t number)
{
    (void)ctx;
    (void)page;
    pages_seen = number;
}

// Feeds s in chunks of chunk bytes; true when feed and finish both succeed.
static bool check(const stream_t *s, size_t chunk, bl_raster_t *r)
{
    bl_raster_init(r, on_page, NULL);
    pages_seen = 0;
    for (size_t i = 0; i < s->len; i += chunk) {
        size_t n = s->len - i < chunk ? s->len - i : chunk;
        if (!bl_raster_feed(r, s->data + i, n))
            return false;
    }
    return bl_raster_finish(r);
}

static void test_pwg_valid_any_chunking(void **state)
{
    (void)state;
    stream_t s = {0};
    bl_raster_t r;
    put(&s, "RaS2", 4);
    pwg_gray_page(&s, 100, 7);
    pwg_gray_page(&s, 5, 3);
    static const size_t chunks[] = {1, 2, 3, 7, 1796, 65536};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        assert_true(check(&s, chunks[i], &r));
        assert_int_equal(r.pages, 2);
        assert_int_equal(pages_seen, 2);
        assert_int_equal(r.format, BL_RASTER_PWG);
        assert_int_equal(r.page.width, 5);
        assert_true(r.page.duplex);
    }
    free(s.data);
}

static void test_pwg_bilevel(void **state)
{
    (void)state;
    stream_t s = {0};
    bl_raster_t r;
    put(&s, "RaS2", 4);
    pwg_header(&s, 17, 1, 1, 1, 3); // 17 pixels -> 3 bytes, units are bytes
    put_byte(&s, 0);
    put_byte(&s, 2);
    put_byte(&s, 0xff);
    assert_true(check(&s, 4096, &r));
    free(s.data);
}

static void test_pwg_bad_headers(void **state)
{
    (void)state;
    bl_raster_t r;
    struct {
        uint32_t w, h, bpc, bpp, bpl;
    } bad[] = {
        {0, 10, 8, 8, 0},                  // zero width
        {10, 0, 8, 8, 10},                 // zero height
        {0x1000000, 1, 8, 8, 0x1000000},   // absurd width
        {10, 10, 8, 8, 11},                // bytes per line mismatch
        {10, 10, 3, 3, 4},                 // 3 bits per colour
        {10, 10, 8, 12, 15},               // bpp not a multiple of 8
        {0x900000, 1, 16, 240, 0x10E0000}, // a line of more than 16 MiB
        {0xffffff, 1, 16, 0xfffffff0, 0},  // width * bpp overflows 32 bits
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        stream_t s = {0};
        put(&s, "RaS2", 4);
        pwg_header(&s, bad[i].w, bad[i].h, bad[i].bpc, bad[i].bpp, bad[i].bpl);
        put_byte(&s, 0);
        bl_raster_init(&r, NULL, NULL);
        assert_false(bl_raster_feed(&r, s.data, s.len)); // the header alone is refused
        assert_int_not_equal(r.error[0], '\0');
        free(s.data);
    }
}

static void test_pwg_overruns(void **state)
{
    (void)state;
    bl_raster_t r;
    stream_t s = {0};
    put(&s, "RaS2", 4);
    pwg_header(&s, 4, 2, 8, 8, 4);
    put_byte(&s, 0);
    put_byte(&s, 4); // 5 repeated pixels in a 4-pixel line
    put_byte(&s, 0);
    assert_false(check(&s, 4096, &r));
    assert_non_null(strstr(r.error, "past the end of a line"));
    s.len = 4 + BL_RASTER_PWG_HEADER;
    put_byte(&s, 0);
    put_byte(&s, 257 - 5); // 5 literal pixels in a 4-pixel line
    assert_false(check(&s, 4096, &r));
    s.len = 4 + BL_RASTER_PWG_HEADER;
    put_byte(&s, 2); // 3 lines on a 2-line page
    assert_false(check(&s, 4096, &r));
    assert_non_null(strstr(r.error, "past the end of the page"));
    free(s.data);
}

static void test_truncated_and_junk(void **state)
{
    (void)state;
    bl_raster_t r;
    stream_t s = {0};
    put(&s, "RaS2", 4);
    pwg_gray_page(&s, 50, 4);
    for (size_t n = 0; n < s.len; n++) {
        stream_t t = s;
        t.len = n;
        assert_false(check(&t, 1000, &r));
    }
    assert_true(check(&s, 1000, &r));
    put_byte(&s, 0x55); // a stray byte after the last page: truncated header
    assert_false(check(&s, 1000, &r));
    free(s.data);
    stream_t bad = {0};
    put(&bad, "RaS3xxxxxxxx", 12);
    assert_false(check(&bad, 1000, &r));
    assert_non_null(strstr(r.error, "sync"));
    free(bad.data);
}

static void test_urf_valid(void **state)
{
    (void)state;
    bl_raster_t r;
    stream_t s = {0};
    urf_file(&s, 2);
    urf_rgb_page(&s, 20, 3);
    urf_rgb_page(&s, 128, 2);
    assert_true(check(&s, 5, &r));
    assert_int_equal(r.format, BL_RASTER_URF);
    assert_int_equal(r.pages, 2);
    assert_int_equal(r.declared_pages, 2);
    assert_int_equal(r.page.bits_per_pixel, 24);
    assert_true(r.page.duplex);
    assert_false(r.page.tumble);
    free(s.data);
}

static void test_urf_bad(void **state)
{
    (void)state;
    bl_raster_t r;
    stream_t s = {0};
    urf_file(&s, 1);
    urf_rgb_page(&s, 20, 1);
    s.data[12] = 12; // 12 bits per pixel
    assert_false(check(&s, 4096, &r));
    s.data[12] = 24;
    s.data[13] = 9; // colour space
    assert_false(check(&s, 4096, &r));
    s.data[13] = 1;
    s.data[12 + 20] = 0; // resolution 0
    s.data[12 + 21] = 0;
    s.data[12 + 22] = 0;
    s.data[12 + 23] = 0;
    assert_false(check(&s, 4096, &r));
    free(s.data);
    stream_t t = {0};
    put(&t, "UNIRASX\0\0\0\0\1", 12);
    assert_false(check(&t, 4096, &r));
    free(t.data);
}

static void test_empty_and_no_pages(void **state)
{
    (void)state;
    bl_raster_t r;
    stream_t s = {0};
    assert_false(check(&s, 1, &r));
    put(&s, "RaS2", 4);
    assert_false(check(&s, 1, &r));
    assert_non_null(strstr(r.error, "no pages"));
    free(s.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pwg_valid_any_chunking),
        cmocka_unit_test(test_pwg_bilevel),
        cmocka_unit_test(test_pwg_bad_headers),
        cmocka_unit_test(test_pwg_overruns),
        cmocka_unit_test(test_truncated_and_junk),
        cmocka_unit_test(test_urf_valid),
        cmocka_unit_test(test_urf_bad),
        cmocka_unit_test(test_empty_and_no_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
