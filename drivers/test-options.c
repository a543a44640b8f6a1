// Unit tests of the OPTIONS and page-ranges parsers (drivers/drv-options.c).
// Licensed under the Apache License, Version 2.0.
#include "drivers/drivers-private.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void test_parse_basic(void **state)
{
    (void)state;
    bl_options_t o;
    bl_options_parse("copies=2 sides=two-sided-long-edge  media=iso_a4_210x297mm", &o);
    assert_int_equal(o.count, 3);
    assert_string_equal(bl_options_find(&o, "copies"), "2");
    assert_string_equal(bl_options_find(&o, "sides"), "two-sided-long-edge");
    assert_string_equal(bl_options_find(&o, "media"), "iso_a4_210x297mm");
    assert_null(bl_options_find(&o, "print-quality"));
}

static void test_parse_empty(void **state)
{
    (void)state;
    bl_options_t o;
    bl_options_parse(NULL, &o);
    assert_int_equal(o.count, 0);
    bl_options_parse("", &o);
    assert_int_equal(o.count, 0);
    bl_options_parse("   \t ", &o);
    assert_int_equal(o.count, 0);
}

static void test_parse_malformed_skipped(void **state)
{
    (void)state;
    bl_options_t o;
    // No '=', empty name, upper case, control byte in value, non-ASCII value.
    bl_options_parse("novalue =x Copies=3 a=\x01 b=\xc3\xa9 ok=1 e=", &o);
    assert_int_equal(o.count, 2);
    assert_string_equal(bl_options_find(&o, "ok"), "1");
    assert_string_equal(bl_options_find(&o, "e"), "");
    assert_null(bl_options_find(&o, "Copies"));
    assert_null(bl_options_find(&o, "a"));
}

static void test_parse_duplicate_last_wins(void **state)
{
    (void)state;
    bl_options_t o;
    bl_options_parse("copies=1 copies=5", &o);
    assert_int_equal(o.count, 1);
    assert_string_equal(bl_options_find(&o, "copies"), "5");
}

static void test_parse_long_tokens(void **state)
{
    (void)state;
    char text[2048];
    memset(text, 'a', 100);
    memcpy(text + 100, "=1 x=", 5);
    memset(text + 105, 'v', 300);
    strcpy(text + 405, " y=2");
    bl_options_t o;
    bl_options_parse(text, &o);
    assert_int_equal(o.count, 1);
    assert_string_equal(bl_options_find(&o, "y"), "2");
}

static void test_parse_many(void **state)
{
    (void)state;
    char text[4096] = "";
    for (int i = 0; i < 100; i++) {
        char pair[16];
        snprintf(pair, sizeof(pair), "o%d=%d ", i, i);
        strcat(text, pair);
    }
    bl_options_t o;
    bl_options_parse(text, &o);
    assert_int_equal(o.count, BL_OPTIONS_MAX);
    assert_string_equal(bl_options_find(&o, "o63"), "63");
    assert_null(bl_options_find(&o, "o64"));
}

static void test_get_int(void **state)
{
    (void)state;
    bl_options_t o;
    bl_options_parse("a=300 b=-1 c=12x d=99999999999 e=0", &o);
    assert_int_equal(bl_options_get_int(&o, "a", 1, 1000, 7), 300);
    assert_int_equal(bl_options_get_int(&o, "a", 1, 100, 7), 7);
    assert_int_equal(bl_options_get_int(&o, "b", 0, 10, 7), 7);
    assert_int_equal(bl_options_get_int(&o, "c", 0, 100, 7), 7);
    assert_int_equal(bl_options_get_int(&o, "d", 0, 2147483647, 7), 7);
    assert_int_equal(bl_options_get_int(&o, "e", 0, 10, 7), 0);
    assert_int_equal(bl_options_get_int(&o, "missing", 0, 10, 7), 7);
}

static void test_page_ranges(void **state)
{
    (void)state;
    bl_page_ranges_t r;
    char spec[64];
    assert_true(bl_page_ranges_parse("1-3,5", &r));
    assert_int_equal(r.count, 2);
    assert_int_equal(bl_page_ranges_clip(&r, 10, spec, sizeof(spec)), 4);
    assert_string_equal(spec, "1-3,5");
    assert_int_equal(bl_page_ranges_clip(&r, 4, spec, sizeof(spec)), 3);
    assert_string_equal(spec, "1-3");
    assert_int_equal(bl_page_ranges_clip(&r, 2, spec, sizeof(spec)), 2);
    assert_string_equal(spec, "1-2");
    assert_true(bl_page_ranges_parse("7-", &r));
    assert_int_equal(bl_page_ranges_clip(&r, 9, spec, sizeof(spec)), 3);
    assert_string_equal(spec, "7-9");
    assert_int_equal(bl_page_ranges_clip(&r, 6, spec, sizeof(spec)), 0);
    assert_true(bl_page_ranges_parse("4", &r));
    assert_int_equal(bl_page_ranges_clip(&r, 9, spec, sizeof(spec)), 1);
    assert_string_equal(spec, "4");
    assert_int_equal(bl_page_ranges_clip(&r, 9, spec, 1), -1);
}

static void test_page_ranges_malformed(void **state)
{
    (void)state;
    bl_page_ranges_t r;
    static const char *const bad[] = {"",   "0",   "3-1", "1,,2",       "1-2,2-3", "5,1",  "a",
                                      "-3", "1-x", "1,",  "1234567890", "1 2",     "1-2-3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(bl_page_ranges_parse(bad[i], &r));
    assert_false(bl_page_ranges_parse(NULL, &r));
}

static void test_sanitize(void **state)
{
    (void)state;
    char out[16];
    bl_text_sanitize("a\nb\x01\xc3\xa9\xff", 7, out, sizeof(out));
    assert_string_equal(out, "a?b?\xc3\xa9?");
    // A multi-byte character that does not fit is not cut in half.
    bl_text_sanitize("abc\xe2\x82\xac", 6, out, 5);
    assert_string_equal(out, "abc?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_basic),
        cmocka_unit_test(test_parse_empty),
        cmocka_unit_test(test_parse_malformed_skipped),
        cmocka_unit_test(test_parse_duplicate_last_wins),
        cmocka_unit_test(test_parse_long_tokens),
        cmocka_unit_test(test_parse_many),
        cmocka_unit_test(test_get_int),
        cmocka_unit_test(test_page_ranges),
        cmocka_unit_test(test_page_ranges_malformed),
        cmocka_unit_test(test_sanitize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
