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
    data = realloc(data, *block + n);
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
    // A 0xFFFF name length is framed (it may be complete) but then over a small cap.
    const uint8_t big[] = {2, 0, 0, 0xb, 0, 0, 0, 1, 0x01, 0x47, 0xff, 0xff};
    assert_int_equal(bl_ipp_frame_scan(big, sizeof(big), 4096, &found), BL_FRAME_TOO_BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_block),
        cmocka_unit_test(test_every_prefix_needs_more),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_bad_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
