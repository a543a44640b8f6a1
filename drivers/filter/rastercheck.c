// Filter rastercheck: validates PWG raster / URF while copying it to stdout, counts pages.
// Licensed under the Apache License, Version 2.0.
//
// image/pwg-raster -> image/pwg-raster, image/urf -> image/urf. Prints "PAGE: N 1" after
// each page and "PAGE: total N" at the end. Run without arguments it reads stdin the same
// way (a page counter for tests).
#include "drivers/drivers-private.h"
#include "drivers/drv-raster.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_page(void *ctx, const bl_raster_page_t *page, uint32_t number)
{
    (void)ctx;
    (void)page;
    bl_drv_msg("PAGE", "%u 1", number);
}

// The format CONTENT_TYPE announces, BL_RASTER_UNKNOWN when unset or other.
static bl_raster_format_t expected_format(void)
{
    const char *t = getenv("CONTENT_TYPE");
    if (t && !strcmp(t, "image/pwg-raster"))
        return BL_RASTER_PWG;
    if (t && !strcmp(t, "image/urf"))
        return BL_RASTER_URF;
    return BL_RASTER_UNKNOWN;
}

int main(int argc, char **argv)
{
    static uint8_t buf[65536];
    bl_raster_t r;
    bl_drv_signals_init();
    if (argc != 1 && !bl_drv_check_args(argc, argv))
        return BL_EXIT_FAILED;
    bl_raster_format_t want = expected_format();
    bl_raster_init(&r, on_page, NULL);
    for (;;) {
        ssize_t n = bl_fd_read(STDIN_FILENO, buf, sizeof(buf));
        if (n == 0)
            break;
        if (n < 0) {
            if (!bl_drv_terminated)
                bl_drv_msg("ERROR", "cannot read the document: %s", strerror(errno));
            return BL_EXIT_FAILED;
        }
        if (!bl_raster_feed(&r, buf, (size_t)n)) {
            bl_drv_msg("ERROR", "the raster document is malformed: %s", r.error);
            return BL_EXIT_FAILED;
        }
        if (want != BL_RASTER_UNKNOWN && r.format != BL_RASTER_UNKNOWN && r.format != want) {
            bl_drv_msg("ERROR", "the document is not %s",
                       want == BL_RASTER_PWG ? "PWG raster" : "Apple raster (URF)");
            return BL_EXIT_FAILED;
        }
        if (!bl_fd_write_all(STDOUT_FILENO, buf, (size_t)n)) {
            if (!bl_drv_terminated)
                bl_drv_msg("ERROR", "cannot write the document: %s", strerror(errno));
            return BL_EXIT_FAILED;
        }
    }
    if (!bl_raster_finish(&r)) {
        bl_drv_msg("ERROR", "the raster document is malformed: %s", r.error);
        return BL_EXIT_FAILED;
    }
    if (r.format == BL_RASTER_URF && r.declared_pages && r.declared_pages != r.pages)
        bl_drv_msg("WARNING", "the URF header announces %u pages, the document has %u",
                   r.declared_pages, r.pages);
    bl_drv_msg("PAGE", "total %u", r.pages);
    return BL_EXIT_OK;
}
