// Unit tests of the format graph (drivers/graph.c) over the shipped etc/formats.conf.
// Licensed under the Apache License, Version 2.0.
#include "drivers/graph.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifndef SRCDIR
#define SRCDIR "."
#endif

static bl_graph_t *graph;

static int setup(void **state)
{
    (void)state;
    char err[256];
    graph = bl_graph_load(SRCDIR "/etc/formats.conf", err, sizeof(err));
    return graph ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    bl_graph_delete(graph);
    return 0;
}

static void test_pdf_to_pdf_device(void **state)
{
    (void)state;
    const char *dests[] = {"application/octet-stream", "application/pdf", "image/pwg-raster"};
    bl_graph_path_t p;
    assert_true(bl_graph_find(graph, "application/pdf", dests, 3, &p));
    assert_string_equal(p.dest, "application/pdf");
    assert_int_equal(p.num_steps, 1);
    assert_string_equal(p.steps[0].program, "pdfcheck");
}

static void test_pdf_to_raster_device(void **state)
{
    (void)state;
    const char *dests[] = {"image/pwg-raster"};
    bl_graph_path_t p;
    assert_true(bl_graph_find(graph, "application/pdf", dests, 1, &p));
    assert_string_equal(p.dest, "image/pwg-raster");
    assert_int_equal(p.num_steps, 2);
    assert_string_equal(p.steps[0].program, "pdfcheck");
    assert_string_equal(p.steps[1].program, "pdftoraster");
    // JPEG goes through PDF (Ghostscript only ever sees PDF).
    assert_true(bl_graph_find(graph, "image/jpeg", dests, 1, &p));
    assert_int_equal(p.num_steps, 3);
    assert_string_equal(p.steps[0].program, "jpegcheck");
    assert_string_equal(p.steps[1].program, "jpegtopdf");
    assert_string_equal(p.steps[2].program, "pdftoraster");
}

static void test_passthrough_and_none(void **state)
{
    (void)state;
    const char *dests[] = {"image/jpeg", "image/urf"};
    bl_graph_path_t p;
    assert_true(bl_graph_find(graph, "image/jpeg", dests, 2, &p));
    assert_int_equal(p.num_steps, 1);
    assert_string_equal(p.steps[0].program, "jpegcheck");
    assert_string_equal(p.dest, "image/jpeg");
    assert_true(bl_graph_find(graph, "image/urf", dests, 2, &p));
    assert_int_equal(p.num_steps, 1);
    assert_string_equal(p.steps[0].program, "rastercheck");
    const char *pdf_only[] = {"application/pdf"};
    assert_false(bl_graph_find(graph, "image/pwg-raster", pdf_only, 1, &p));
    assert_false(bl_graph_find(graph, "text/plain", pdf_only, 1, &p));
}

static void test_sources(void **state)
{
    (void)state;
    const char *dests[] = {"image/pwg-raster", "application/octet-stream"};
    size_t n = 0;
    char **list = bl_graph_sources(graph, dests, 2, &n);
    assert_int_equal(n, 3);
    assert_string_equal(list[0], "application/pdf");
    assert_string_equal(list[1], "image/jpeg");
    assert_string_equal(list[2], "image/pwg-raster");
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static void test_parse_errors(void **state)
{
    (void)state;
    char err[256];
    static const char *const bad[] = {"a/b c/d 1\n", "a/b c/d x prog\n", "a/b c/d 1 ../prog\n",
                                      "ab c/d 1 prog\n", "a/b c/d -1 prog\n"};
    for (size_t i = 0; i < 5; i++)
        assert_null(bl_graph_parse(bad[i], strlen(bad[i]), "g", err, sizeof(err)));
    assert_string_equal(err, "g:1: COST must be 0..100000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pdf_to_pdf_device),    cmocka_unit_test(test_pdf_to_raster_device),
        cmocka_unit_test(test_passthrough_and_none), cmocka_unit_test(test_sources),
        cmocka_unit_test(test_parse_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
