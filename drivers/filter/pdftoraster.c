// Filter pdftoraster: rasterises a PDF with Ghostscript into PWG raster or Apple raster.
// Licensed under the Apache License, Version 2.0.
//
// application/pdf -> image/pwg-raster | image/urf (FINAL_CONTENT_TYPE decides). Options:
// raster-resolution, raster-type, media, sides, print-color-mode. page-ranges is NOT applied
// here (pdfcheck does it upstream). Prints "PAGE: total N" (qpdf's page count, counted beside
// Ghostscript: it checks the PDF without delaying the first page). The PDF sits in a sealed
// memfd that gs reads as /dev/fd/3.
#include "drivers/drv-pdf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct raster_type {
    const char *name; // pwg-raster-document-type-supported keyword
    int color_space;  // cups_cspace_t
    int bits_per_color;
} raster_type_t;

static const raster_type_t raster_types[] = {
    {"sgray_8", 18, 8},     {"sgray_16", 18, 16},     {"sgray_1", 18, 1}, {"black_1", 3, 1},
    {"black_8", 3, 8},      {"black_16", 3, 16},      {"srgb_8", 19, 8},  {"srgb_16", 19, 16},
    {"rgb_8", 1, 8},        {"rgb_16", 1, 16},        {"cmyk_8", 6, 8},   {"cmyk_16", 6, 16},
    {"adobe-rgb_8", 20, 8}, {"adobe-rgb_16", 20, 16},
};

// The raster type to render: raster-type when known, else one matching print-color-mode.
static const raster_type_t *choose_type(const bl_options_t *opts, bool urf)
{
    const char *want = bl_options_find(opts, "raster-type");
    const char *mode = bl_options_find(opts, "print-color-mode");
    const char *def = mode && !strcmp(mode, "monochrome") ? "sgray_8" : "srgb_8";
    const raster_type_t *found = NULL;
    for (size_t i = 0; want && i < sizeof(raster_types) / sizeof(raster_types[0]); i++)
        if (!strcmp(raster_types[i].name, want))
            found = &raster_types[i];
    if (want && !found)
        bl_drv_msg("WARNING", "unknown raster-type, using %s", def);
    // Apple raster has no bilevel types.
    if (found && urf && found->bits_per_color == 1) {
        bl_drv_msg("WARNING", "URF cannot carry %s, using sgray_8", found->name);
        found = NULL;
        def = "sgray_8";
    }
    for (size_t i = 0; !found && i < sizeof(raster_types) / sizeof(raster_types[0]); i++)
        if (!strcmp(raster_types[i].name, def))
            found = &raster_types[i];
    return found;
}

// True for the characters of a PWG media name (safe to put in gs's argv).
static bool media_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-' || s[i] == '.'))
            return false;
    return true;
}

typedef struct gs_args {
    char res[32], cs[32], bpc[32], width[48], height[48], size_name[96];
    const char *argv[40];
} gs_args_t;

// Builds gs's argv from the options (all values are numbers or checked keywords).
static bool build_gs_args(const bl_options_t *opts, bool urf, gs_args_t *g)
{
    const raster_type_t *type = choose_type(opts, urf);
    long res = bl_options_get_int(opts, "raster-resolution", 50, 2400, 300);
    const char *media = bl_options_find(opts, "media");
    double w, h;
    if (!media || !media_name_ok(media) || !bl_media_get_size(media, &w, &h)) {
        if (media)
            bl_drv_msg("WARNING", "unknown media size, using iso_a4_210x297mm");
        media = "iso_a4_210x297mm";
        (void)bl_media_get_size(media, &w, &h);
    }
    snprintf(g->res, sizeof(g->res), "-r%ld", res);
    snprintf(g->cs, sizeof(g->cs), "-dcupsColorSpace=%d", type->color_space);
    snprintf(g->bpc, sizeof(g->bpc), "-dcupsBitsPerColor=%d", type->bits_per_color);
    snprintf(g->width, sizeof(g->width), "-dDEVICEWIDTHPOINTS=%.2f", w);
    snprintf(g->height, sizeof(g->height), "-dDEVICEHEIGHTPOINTS=%.2f", h);
    snprintf(g->size_name, sizeof(g->size_name), "-scupsPageSizeName=%s", media);
    const char *sides = bl_options_find(opts, "sides");
    int n = 0;
    const char **a = g->argv;
    a[n++] = "gs";
    a[n++] = "-dSAFER";
    a[n++] = "-dBATCH";
    a[n++] = "-dNOPAUSE";
    a[n++] = "-dQUIET";
    a[n++] = "-sstdout=%stderr"; // PostScript output must not mix with the raster
    // Band lists (rendered page data) stay in memory, never in TMPDIR files.
    a[n++] = "-sBandListStorage=memory";
    a[n++] = urf ? "-sDEVICE=appleraster" : "-sDEVICE=pwgraster";
    a[n++] = g->res;
    a[n++] = g->cs;
    a[n++] = g->bpc;
    a[n++] = g->width;
    a[n++] = g->height;
    a[n++] = "-dFIXEDMEDIA";
    a[n++] = "-dPDFFitPage";
    a[n++] = g->size_name;
    if (sides && strncmp(sides, "two-sided-", 10) == 0)
        a[n++] = "-dDuplex";
    if (sides && strcmp(sides, "two-sided-short-edge") == 0)
        a[n++] = "-dTumble";
    a[n++] = "-sOutputFile=-";
    a[n++] = "-f";
    a[n++] = "/dev/fd/3";
    a[n] = NULL;
    bl_drv_msg("DEBUG", "rendering %s at %ld dpi, %s, %s", type->name, res, media,
               sides ? sides : "one-sided");
    return true;
}

int main(int argc, char **argv)
{
    bl_drv_signals_init();
    if (!bl_drv_check_args(argc, argv))
        return BL_EXIT_FAILED;
    bl_options_t opts;
    bl_options_parse(argv[5], &opts);
    const char *final = getenv("FINAL_CONTENT_TYPE");
    bool urf = final && !strcmp(final, "image/urf");
    if (final && !urf && strcmp(final, "image/pwg-raster")) {
        bl_drv_msg("ERROR", "pdftoraster cannot produce %.64s", final);
        return BL_EXIT_FAILED;
    }
    uint64_t len;
    int doc = bl_pdf_open_input(argc, argv, &len);
    if (doc < 0)
        return BL_EXIT_FAILED;
    gs_args_t g = {0};
    if (!build_gs_args(&opts, urf, &g))
        return BL_EXIT_FAILED;
    pid_t counter = bl_pdf_count_pages_start(doc);
    if (counter < 0)
        return BL_EXIT_FAILED;
    bl_exec_t ex = {.argv = g.argv, .stdin_fd = -1, .stdout_fd = STDOUT_FILENO, .doc_fd = doc};
    int rc = bl_exec_run(&ex);
    // A PDF that qpdf cannot read fails the job even when gs rendered something of it.
    bool counted = bl_pdf_count_pages_wait(counter);
    close(doc);
    if (rc != 0) {
        if (!bl_drv_terminated && counted)
            bl_drv_msg("ERROR", "Ghostscript could not render the document (exit %d)", rc);
        return BL_EXIT_FAILED;
    }
    return counted ? BL_EXIT_OK : BL_EXIT_FAILED;
}
