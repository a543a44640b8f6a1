// Filter jpegcheck: validates a JPEG (markers, dimensions, end of image) and passes it on.
// Licensed under the Apache License, Version 2.0.
//
// image/jpeg -> image/jpeg, for printers that take JPEG themselves: a printer parses what it
// gets, so what it gets must at least be a JPEG of sane size that ends. The image is read
// into memory (at most 256 MiB), checked with the same parser as jpegtopdf, then written out
// unchanged. Prints "PAGE: total 1".
#include "drivers/drivers-private.h"
#include "drivers/drv-jpeg.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_JPEG (256u * 1024 * 1024)

int main(int argc, char **argv)
{
    bl_drv_signals_init();
    if (!bl_drv_check_args(argc, argv))
        return BL_EXIT_FAILED;
    size_t len = 0;
    uint8_t *data = bl_fd_slurp_alloc(STDIN_FILENO, MAX_JPEG, &len);
    if (!data) {
        bl_drv_msg("ERROR", "the image cannot be read or is larger than 256 MiB");
        return BL_EXIT_FAILED;
    }
    bl_jpeg_info_t info;
    char why[200];
    if (!bl_jpeg_parse(data, len, &info, why, sizeof(why))) {
        bl_drv_msg("ERROR", "the document is not a valid JPEG (%s)", why);
        free(data);
        return BL_EXIT_FAILED;
    }
    if (!bl_jpeg_has_eoi(data, len)) {
        bl_drv_msg("ERROR", "the JPEG is truncated (no end-of-image marker)");
        free(data);
        return BL_EXIT_FAILED;
    }
    bl_drv_msg("DEBUG", "JPEG %ux%u, %d components", info.width, info.height, info.components);
    bool ok = bl_fd_write_all(STDOUT_FILENO, data, len);
    free(data);
    if (!ok) {
        if (!bl_drv_terminated)
            bl_drv_msg("ERROR", "cannot pass the image on");
        return BL_EXIT_FAILED;
    }
    bl_drv_msg("PAGE", "total 1");
    return BL_EXIT_OK;
}
