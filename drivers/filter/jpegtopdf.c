// Filter jpegtopdf: wraps a JPEG in a one-page PDF (DCTDecode image), no Ghostscript.
// Licensed under the Apache License, Version 2.0.
//
// image/jpeg -> application/pdf. Options: media (default iso_a4_210x297mm). The image is
// scaled to fit the page keeping its aspect ratio, rotated by 90 degrees when that makes it
// larger, and centred. The JPEG bytes are copied unchanged into the image stream.
#include "drivers/drivers-private.h"
#include "drivers/drv-jpeg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JPEG_MAX_SIZE (256u << 20)

// Output with a running byte offset for the xref table.
typedef struct pdf_out {
    int fd;
    uint64_t offset;
    uint64_t xref[6]; // offsets of objects 1..5
    bool failed;
} pdf_out_t;

static void out_bytes(pdf_out_t *o, const void *data, size_t len)
{
    if (o->failed)
        return;
    if (!bl_fd_write_all(o->fd, data, len)) {
        o->failed = true;
        return;
    }
    o->offset += len;
}

static void out_printf(pdf_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(pdf_out_t *o, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf)) {
        o->failed = true;
        return;
    }
    out_bytes(o, buf, (size_t)n);
}

static void begin_object(pdf_out_t *o, int num)
{
    o->xref[num] = o->offset;
    out_printf(o, "%d 0 obj\n", num);
}

// The content stream placing the unit-square image on the page.
static int placement(const bl_jpeg_info_t *info, double pw, double ph, char *buf, size_t len)
{
    double iw = info->width, ih = info->height;
    // Rotate when the image and the page disagree in orientation.
    bool rotate = (iw > ih && pw < ph) || (iw < ih && pw > ph);
    double ew = rotate ? ih : iw, eh = rotate ? iw : ih;
    double scale = pw / ew < ph / eh ? pw / ew : ph / eh;
    double dw = ew * scale, dh = eh * scale;
    double x0 = (pw - dw) / 2, y0 = (ph - dh) / 2;
    if (rotate) // 90 degrees counter-clockwise: image x runs up the page
        return snprintf(buf, len, "q\n0 %.4f %.4f 0 %.4f %.4f cm\n/Im0 Do\nQ\n", dh, -dw, x0 + dw,
                        y0);
    return snprintf(buf, len, "q\n%.4f 0 0 %.4f %.4f %.4f cm\n/Im0 Do\nQ\n", dw, dh, x0, y0);
}

static const char *color_space(const bl_jpeg_info_t *info)
{
    return info->components == 1   ? "/DeviceGray"
           : info->components == 3 ? "/DeviceRGB"
                                   : "/DeviceCMYK";
}

// Writes the whole PDF: catalog, pages, page, image, contents, xref, trailer.
static bool write_pdf(int fd, const uint8_t *jpeg, size_t len, const bl_jpeg_info_t *info,
                      double pw, double ph)
{
    pdf_out_t o = {.fd = fd};
    char content[256];
    int clen = placement(info, pw, ph, content, sizeof(content));
    if (clen < 0 || (size_t)clen >= sizeof(content))
        return false;
    out_printf(&o, "%%PDF-1.4\n%%\xe2\xe3\xcf\xd3\n");
    begin_object(&o, 1);
    out_printf(&o, "<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    begin_object(&o, 2);
    out_printf(&o, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n");
    begin_object(&o, 3);
    out_printf(&o,
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.4f %.4f] "
               "/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>\nendobj\n",
               pw, ph);
    begin_object(&o, 4);
    // Adobe (Photoshop) CMYK JPEGs store inverted samples.
    out_printf(&o,
               "<< /Type /XObject /Subtype /Image /Width %u /Height %u /ColorSpace %s "
               "/BitsPerComponent 8 /Filter /DCTDecode%s /Length %zu >>\nstream\n",
               info->width, info->height, color_space(info),
               info->components == 4 && info->adobe ? " /Decode [1 0 1 0 1 0 1 0]" : "", len);
    out_bytes(&o, jpeg, len);
    out_printf(&o, "\nendstream\nendobj\n");
    begin_object(&o, 5);
    out_printf(&o, "<< /Length %d >>\nstream\n%sendstream\nendobj\n", clen, content);
    uint64_t xref = o.offset;
    out_printf(&o, "xref\n0 6\n0000000000 65535 f \n");
    for (int i = 1; i <= 5; i++)
        out_printf(&o, "%010llu 00000 n \n", (unsigned long long)o.xref[i]);
    out_printf(&o, "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%llu\n%%%%EOF\n",
               (unsigned long long)xref);
    return !o.failed;
}

int main(int argc, char **argv)
{
    bl_drv_signals_init();
    if (!bl_drv_check_args(argc, argv))
        return BL_EXIT_FAILED;
    bl_options_t opts;
    bl_options_parse(argv[5], &opts);
    const char *media = bl_options_find(&opts, "media");
    double pw, ph;
    if (!media || !bl_media_get_size(media, &pw, &ph)) {
        if (media)
            bl_drv_msg("WARNING", "unknown media size, using iso_a4_210x297mm");
        (void)bl_media_get_size("iso_a4_210x297mm", &pw, &ph);
    }
    int in = argc == 7 ? open(argv[6], O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if (in < 0) {
        bl_drv_msg("ERROR", "cannot open the document file");
        return BL_EXIT_FAILED;
    }
    size_t len;
    uint8_t *jpeg = bl_fd_slurp_alloc(in, JPEG_MAX_SIZE, &len);
    if (!jpeg)
        return BL_EXIT_FAILED;
    bl_jpeg_info_t info;
    char why[160];
    if (!bl_jpeg_parse(jpeg, len, &info, why, sizeof(why))) {
        bl_drv_msg("ERROR", "the document is not a usable JPEG image (%s)", why);
        free(jpeg);
        return BL_EXIT_FAILED;
    }
    if (!bl_jpeg_has_eoi(jpeg, len)) {
        bl_drv_msg("ERROR", "the JPEG is truncated (no end-of-image marker)");
        free(jpeg);
        return BL_EXIT_FAILED;
    }
    bl_drv_msg("DEBUG", "JPEG %ux%u, %d components%s", info.width, info.height, info.components,
               info.progressive ? ", progressive" : "");
    bl_drv_msg("PAGE", "total 1");
    bool ok = write_pdf(STDOUT_FILENO, jpeg, len, &info, pw, ph);
    free(jpeg);
    if (!ok) {
        if (!bl_drv_terminated)
            bl_drv_msg("ERROR", "cannot write the PDF: %s", strerror(errno));
        return BL_EXIT_FAILED;
    }
    return BL_EXIT_OK;
}
