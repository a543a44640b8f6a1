// Unit tests of IPP framing: block boundaries, truncation, size caps and bad tags.
// Licensed under the Apache License, Version 2.0.
#include "ipp/frame.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

// A Get-Printer-Attributes request encoded by libcups, plus `extra` document bytes.
static uint8_t *make_request(size_t *len, size_t *block, const char *extra)
{
    ipp_t *req = ippNewRequest(IPP_OP_GET_PRINTER_ATTRIBUTES);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", NULL,
                 "ipp://localhost/ipp/print/q");
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL, "alice");
    uint8_t *data = bl_ipp_encode(req, block);
    ippDelete(req);
    assert_non_null(data);
    size_t n = strlen(extra);
    uint8_t *grown = realloc(data, *block + n);
    assert_non_null(grown);
    data = grown;
    memcpy(data + *block, extra, n);
    *len = *block + n;
    return data;
}

static void test_complete_block(void **state)
{
    (void)state;
    size_t len, block, found = 0;
    uint8_t *data = make_request(&len, &block, "%PDF-1.7 document bytes");
    assert_int_equal(bl_ipp_frame_scan(data, len, 65536, &found), BL_FRAME_COMPLETE);
    assert_int_equal(found, block);
    ipp_t *msg = bl_ipp_decode(data, found);
    assert_non_null(msg);
    assert_int_equal(ippGetOperation(msg), IPP_OP_GET_PRINTER_ATTRIBUTES);
    ipp_attribute_t *a = ippFindAttribute(msg, "requesting-user-name", IPP_TAG_NAME);
    assert_string_equal(ippGetString(a, 0, NULL), "alice");
    ippDelete(msg);
    free(data);
}

static void test_every_prefix_needs_more(void **state)
{
    (void)state;
    size_t len, block, found;
    uint8_t *data = make_request(&len, &block, "");
    for (size_t n = 0; n < block; n++)
        assert_int_equal(bl_ipp_frame_scan(data, n, 65536, &found), BL_FRAME_NEED_MORE);
    // A prefix is never decodable as a whole message.
    assert_null(bl_ipp_decode(data, block - 1));
    free(data);
}

static void test_size_cap(void **state)
{
    (void)state;
    size_t len, block, found;
    uint8_t *data = make_request(&len, &block, "");
    assert_int_equal(bl_ipp_frame_scan(data, len, block - 1, &found), BL_FRAME_TOO_BIG);
    assert_int_equal(bl_ipp_frame_scan(data, len, block, &found), BL_FRAME_COMPLETE);
    free(data);
}

static void test_bad_tags(void **state)
{
    (void)state;
    size_t found;
    // Reserved delimiter 0x00 and extension 0x7F are refused.
    const uint8_t zero[] = {2, 0, 0, 0xb, 0, 0, 0, 1, 0x00};
    const uint8_t ext[] = {2, 0, 0, 0xb, 0, 0, 0, 1, 0x01, 0x7f, 0, 0};
    assert_int_equal(bl_ipp_frame_scan(zero, sizeof(zero), 1024, &found), BL_FRAME_MALFORMED);
    assert_int_equal(bl_ipp_frame_scan(ext, sizeof(ext), 1024, &found), BL_FRAME_MALFORMED);
    // A 0xFFFF name length can never be read by libcups: malformed, whatever the cap.
    const uint8_t big[] = {2, 0, 0, 0xb, 0, 0, 0, 1, 0x01, 0x47, 0xff, 0xff};
    assert_int_equal(bl_ipp_frame_scan(big, sizeof(big), 4096, &found), BL_FRAME_MALFORMED);
    // A 40000-byte name within a bigger cap is over the small cap.
    const uint8_t cap[] = {2, 0, 0, 0xb, 0, 0, 0, 1, 0x01, 0x47, 0x7f, 0xff};
    assert_int_equal(bl_ipp_frame_scan(cap, sizeof(cap), 4096, &found), BL_FRAME_TOO_BIG);
}

// Appends one record: tag, name, empty value.
static size_t put_record(uint8_t *buf, size_t pos, uint8_t tag, const char *name)
{
    size_t n = strlen(name);
    buf[pos++] = tag;
    buf[pos++] = (uint8_t)(n >> 8);
    buf[pos++] = (uint8_t)n;
    memcpy(buf + pos, name, n);
    pos += n;
    buf[pos++] = 0;
    buf[pos++] = 0;
    return pos;
}

// Regression: libcups' reader recursed without limit on nested collections and crashed.
static void test_collection_depth(void **state)
{
    (void)state;
    uint8_t buf[4096] = {2, 0, 0, 0xb, 0, 0, 0, 1, 0x01};
    size_t pos = 9, found = 0;
    for (int i = 0; i < BL_FRAME_MAX_DEPTH; i++)
        pos = put_record(buf, pos, IPP_TAG_BEGIN_COLLECTION, i ? "" : "media-col");
    for (int i = 0; i < BL_FRAME_MAX_DEPTH; i++)
        pos = put_record(buf, pos, IPP_TAG_END_COLLECTION, "");
    buf[pos++] = IPP_TAG_END;
    assert_int_equal(bl_ipp_frame_scan(buf, pos, sizeof(buf), &found), BL_FRAME_COMPLETE);
    assert_int_equal(found, pos);
    pos = 9;
    for (int i = 0; i <= BL_FRAME_MAX_DEPTH; i++)
        pos = put_record(buf, pos, IPP_TAG_BEGIN_COLLECTION, "");
    assert_int_equal(bl_ipp_frame_scan(buf, pos, sizeof(buf), &found), BL_FRAME_MALFORMED);
    // An end without a begin, and a begin never closed, are malformed too.
    pos = put_record(buf, 9, IPP_TAG_END_COLLECTION, "");
    assert_int_equal(bl_ipp_frame_scan(buf, pos, sizeof(buf), &found), BL_FRAME_MALFORMED);
    pos = put_record(buf, 9, IPP_TAG_BEGIN_COLLECTION, "media-col");
    buf[pos++] = IPP_TAG_END;
    assert_int_equal(bl_ipp_frame_scan(buf, pos, sizeof(buf), &found), BL_FRAME_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_block),   cmocka_unit_test(test_every_prefix_needs_more),
        cmocka_unit_test(test_size_cap),         cmocka_unit_test(test_bad_tags),
        cmocka_unit_test(test_collection_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
