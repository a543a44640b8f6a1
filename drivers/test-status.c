// Unit tests of the status-line parser (drivers/status.c): kinds, values, hostile input.
// Licensed under the Apache License, Version 2.0.
#include "drivers/status.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static bl_status_t parse(const char *line)
{
    bl_status_t st;
    bl_status_parse(line, strlen(line), &st);
    return st;
}

static void test_state(void **state)
{
    (void)state;
    bl_status_t st = parse("STATE: +media-empty-warning -toner-low Bad_Key +ok");
    assert_int_equal(st.kind, BL_STATUS_STATE);
    assert_int_equal(st.num_reasons, 3);
    assert_int_equal(st.reasons[0].op, BL_STATUS_REASON_ADD);
    assert_string_equal(st.reasons[0].keyword, "media-empty-warning");
    assert_int_equal(st.reasons[1].op, BL_STATUS_REASON_REMOVE);
    assert_string_equal(st.reasons[1].keyword, "toner-low");
    assert_string_equal(st.reasons[2].keyword, "ok");
}

static void test_attr(void **state)
{
    (void)state;
    bl_status_t st = parse("ATTR: job-impressions-completed=3 job-media-sheets-completed=2 "
                           "huge=99999999999 neg=-1 x= Up=4 job-pages=7");
    assert_int_equal(st.kind, BL_STATUS_ATTR);
    assert_int_equal(st.num_attrs, 3);
    assert_string_equal(st.attrs[0].name, "job-impressions-completed");
    assert_int_equal(st.attrs[0].value, 3);
    assert_int_equal(st.attrs[1].value, 2);
    assert_string_equal(st.attrs[2].name, "job-pages");
    assert_int_equal(st.attrs[2].value, 7);
}

static void test_page(void **state)
{
    (void)state;
    bl_status_t st = parse("PAGE: total 12");
    assert_int_equal(st.kind, BL_STATUS_PAGE);
    assert_int_equal(st.page_total, 12);
    st = parse("PAGE: 3 1");
    assert_int_equal(st.page_number, 3);
    assert_int_equal(st.page_total, -1);
    st = parse("PAGE: total -5");
    assert_int_equal(st.page_total, -1);
}

static void test_messages(void **state)
{
    (void)state;
    bl_status_t st = parse("ERROR: bad \x1b[31mred\x01 text\r");
    assert_int_equal(st.kind, BL_STATUS_ERROR);
    assert_string_equal(st.message, "bad ?[31mred? text");
    st = parse("INFO: gr\xc3\xbc\xc3\x9f \xff");
    assert_int_equal(st.kind, BL_STATUS_INFO);
    assert_string_equal(st.message, "gr\xc3\xbc\xc3\x9f ?");
    st = parse("no prefix");
    assert_int_equal(st.kind, BL_STATUS_NONE);
    assert_string_equal(st.message, "no prefix");
    char longline[1000];
    memset(longline, 'a', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    memcpy(longline, "WARNING: ", 9);
    st = parse(longline);
    assert_int_equal(strlen(st.message), sizeof(st.message) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state),
        cmocka_unit_test(test_attr),
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
