// Unit tests of streaming decompression (server/inflate.c): gzip, zlib, raw deflate, damage.
// Licensed under the Apache License, Version 2.0.
#include "server/inflate.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

typedef struct sink {
    uint8_t *buf;
    size_t len, cap;
} sink_t;

static bool collect(void *ctx, const uint8_t *data, size_t len)
{
    sink_t *s = ctx;
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2;
        uint8_t *grown = realloc(s->buf, s->cap);
        if (!grown)
            return false;
        s->buf = grown;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    return true;
}

// Compresses with windowBits (31 gzip, 15 zlib, -15 raw).
static uint8_t *compress_with(const uint8_t *in, size_t len, int bits, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, len) + 64;
    uint8_t *out = malloc(cap);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

static uint8_t *pattern(size_t len)
{
    uint8_t *d = malloc(len);
    for (size_t i = 0; i < len; i++)
        d[i] = (uint8_t)((i * 7) ^ (i >> 10));
    return d;
}

// Feeds in pieces of `step` bytes and checks the output is the original.
static void round_trip(bl_coding_t coding, int bits, size_t step)
{
    size_t len = 300000, clen;
    uint8_t *orig = pattern(len);
    uint8_t *comp = compress_with(orig, len, bits, &clen);
    bl_inflate_t *z = bl_inflate_create(coding);
    sink_t s = {NULL, 0, 0};
    for (size_t off = 0; off < clen; off += step)
        assert_true(
            bl_inflate_feed(z, comp + off, off + step > clen ? clen - off : step, collect, &s));
    assert_true(bl_inflate_finished(z));
    assert_int_equal(s.len, len);
    assert_memory_equal(s.buf, orig, len);
    bl_inflate_delete(z);
    free(s.buf);
    free(comp);
    free(orig);
}

static void test_gzip(void **state)
{
    (void)state;
    round_trip(BL_CODING_GZIP, 31, 1);
    round_trip(BL_CODING_GZIP, 31, 65536);
}

static void test_deflate_both_kinds(void **state)
{
    (void)state;
    round_trip(BL_CODING_DEFLATE, 15, 3);  // zlib-wrapped (RFC 9110)
    round_trip(BL_CODING_DEFLATE, -15, 1); // raw (what libcups sends)
    round_trip(BL_CODING_DEFLATE, -15, 70000);
}

static void test_damage(void **state)
{
    (void)state;
    size_t len = 10000, clen;
    uint8_t *orig = pattern(len);
    uint8_t *comp = compress_with(orig, len, 31, &clen);
    sink_t s = {NULL, 0, 0};
    // Truncated: no error while feeding, but the stream is not finished.
    bl_inflate_t *z = bl_inflate_create(BL_CODING_GZIP);
    assert_true(bl_inflate_feed(z, comp, clen / 2, collect, &s));
    assert_false(bl_inflate_finished(z));
    bl_inflate_delete(z);
    // Corrupt header.
    comp[3] = 0xff;
    comp[10] ^= 0x55;
    z = bl_inflate_create(BL_CODING_GZIP);
    assert_false(bl_inflate_feed(z, comp, clen, collect, &s));
    bl_inflate_delete(z);
    // Trailing garbage after a deflate stream.
    uint8_t *raw = compress_with(orig, len, -15, &clen);
    uint8_t *grown = realloc(raw, clen + 4);
    assert_non_null(grown);
    raw = grown;
    memcpy(raw + clen, "junk", 4);
    z = bl_inflate_create(BL_CODING_DEFLATE);
    assert_false(bl_inflate_feed(z, raw, clen + 4, collect, &s));
    bl_inflate_delete(z);
    free(raw);
    free(comp);
    free(orig);
    free(s.buf);
}

static void test_coding_names(void **state)
{
    (void)state;
    bl_coding_t c;
    assert_true(bl_coding_parse("gzip", &c) && c == BL_CODING_GZIP);
    assert_true(bl_coding_parse("X-GZIP", &c) && c == BL_CODING_GZIP);
    assert_true(bl_coding_parse("deflate", &c) && c == BL_CODING_DEFLATE);
    assert_true(bl_coding_parse(NULL, &c) && c == BL_CODING_IDENTITY);
    assert_false(bl_coding_parse("br", &c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_deflate_both_kinds),
        cmocka_unit_test(test_damage),
        cmocka_unit_test(test_coding_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
