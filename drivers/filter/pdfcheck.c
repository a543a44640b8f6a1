// Filter pdfcheck: checks, normalises and page-selects a PDF with qpdf.
// Licensed under the Apache License, Version 2.0.
//
// application/pdf -> application/pdf. Options: page-ranges. Prints "PAGE: total N" (pages
// after selection). A PDF that qpdf cannot read or repair is an ERROR and exit 1. Without
// page-ranges the pages are counted beside the rewrite, so the next stage starts sooner.
#include "drivers/drv-pdf.h"

#include <unistd.h>

int main(int argc, char **argv)
{
    bl_drv_signals_init();
    if (!bl_drv_check_args(argc, argv))
        return BL_EXIT_FAILED;
    bl_options_t opts;
    bl_options_parse(argv[5], &opts);
    uint64_t len;
    int doc = bl_pdf_open_input(argc, argv, &len);
    if (doc < 0)
        return BL_EXIT_FAILED;
    const char *ranges = bl_options_find(&opts, "page-ranges");
    if (!ranges) {
        // The count's error (it names a password, say) wins over the rewrite's.
        char err[600] = "";
        pid_t counter = bl_pdf_count_pages_start(doc);
        bool written = counter >= 0 && bl_pdf_rewrite(doc, NULL, STDOUT_FILENO, err, sizeof(err));
        bool counted = counter >= 0 && bl_pdf_count_pages_wait(counter);
        if (counted && !written && err[0])
            bl_drv_msg("ERROR", "%s", err);
        close(doc);
        return counted && written ? BL_EXIT_OK : BL_EXIT_FAILED;
    }
    long pages = bl_pdf_count_pages(doc);
    if (pages < 0)
        return BL_EXIT_FAILED;
    char spec[1024];
    const char *use_spec = NULL;
    {
        bl_page_ranges_t pr;
        long selected = -1;
        if (bl_page_ranges_parse(ranges, &pr))
            selected = bl_page_ranges_clip(&pr, pages, spec, sizeof(spec));
        if (selected < 0) {
            bl_drv_msg("ERROR", "bad page-ranges value");
            return BL_EXIT_FAILED;
        }
        if (selected == 0) {
            bl_drv_msg("ERROR", "page-ranges selects none of the %ld pages", pages);
            return BL_EXIT_FAILED;
        }
        if (selected != pages)
            use_spec = spec;
        pages = selected;
    }
    bl_drv_msg("PAGE", "total %ld", pages);
    if (!bl_pdf_rewrite(doc, use_spec, STDOUT_FILENO, NULL, 0))
        return BL_EXIT_FAILED;
    close(doc);
    return BL_EXIT_OK;
}
