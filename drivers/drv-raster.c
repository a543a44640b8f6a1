// Streaming validator of PWG raster (PWG 5102.4) and Apple raster (URF) documents.
// Licensed under the Apache License, Version 2.0.
//
// Both formats carry pages of a header then lines compressed the same way: one line-repeat
// byte (the line stands for n+1 lines), then opcodes until the line is full: 0..127 = the
// next pixel n+1 times, 129..255 = 257-n literal pixels, 128 = fill the rest of the line.
// A "pixel" is a compression unit of ceil(bits_per_pixel/8) bytes. The parser walks this
// structure byte by byte from any chunking of the input and never stores pixel data.
#include "drivers/drv-raster.h"

#include <stdio.h>
#include <string.h>

enum {
    ST_MAGIC,
    ST_FILE_HEADER,
    ST_PAGE_HEADER,
    ST_LINE,
    ST_OPCODE,
    ST_SKIP,
    ST_ERROR,
};

#define URF_FILE_HEADER 12

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool fail(bl_raster_t *r, const char *why)
{
    snprintf(r->error, sizeof(r->error), "%s (page %u, byte %llu)", why, r->pages + 1,
             (unsigned long long)r->offset);
    r->state = ST_ERROR;
    return false;
}

void bl_raster_init(bl_raster_t *r, bl_raster_page_cb on_page, void *ctx)
{
    memset(r, 0, sizeof(*r));
    r->state = ST_MAGIC;
    r->on_page = on_page;
    r->ctx = ctx;
}

// Checks the geometry common to both formats and sets up the line walk.
static bool start_page(bl_raster_t *r)
{
    bl_raster_page_t *p = &r->page;
    if (p->width == 0 || p->height == 0 || p->width > BL_RASTER_MAX_SIDE ||
        p->height > BL_RASTER_MAX_SIDE)
        return fail(r, "absurd page dimensions");
    if (p->xres == 0 || p->yres == 0 || p->xres > 100000 || p->yres > 100000)
        return fail(r, "absurd resolution");
    uint64_t bits = (uint64_t)p->width * p->bits_per_pixel;
    if ((bits + 7) / 8 != p->bytes_per_line || p->bytes_per_line > BL_RASTER_MAX_BYTES_PER_LINE)
        return fail(r, "bytes per line do not match width and bits per pixel");
    r->unit = (p->bits_per_pixel + 7) / 8;
    if (p->bytes_per_line % r->unit)
        return fail(r, "bytes per line not a whole number of pixels");
    r->units_per_line = p->bytes_per_line / r->unit;
    r->line = 0;
    r->state = ST_LINE;
    return true;
}

static bool valid_pwg_bits(uint32_t bpc, uint32_t bpp)
{
    if (bpc != 1 && bpc != 2 && bpc != 4 && bpc != 8 && bpc != 16)
        return false;
    if (bpp == 0 || bpp % bpc || bpp / bpc > 15)
        return false;
    return bpp < 8 ? bpp == bpc : bpp % 8 == 0;
}

static bool parse_pwg_header(bl_raster_t *r)
{
    const uint8_t *h = r->hdr;
    bl_raster_page_t *p = &r->page;
    memset(p, 0, sizeof(*p));
    p->duplex = be32(h + 272) != 0;
    p->xres = be32(h + 276);
    p->yres = be32(h + 280);
    p->tumble = be32(h + 368) != 0;
    p->width = be32(h + 372);
    p->height = be32(h + 376);
    uint32_t bpc = be32(h + 384);
    p->bits_per_pixel = be32(h + 388);
    p->bytes_per_line = be32(h + 392);
    p->color_space = be32(h + 400);
    if (!valid_pwg_bits(bpc, p->bits_per_pixel))
        return fail(r, "unsupported bits per colour or pixel");
    if (be32(h + 396) != 0)
        return fail(r, "colour order is not chunked");
    if (p->color_space > 62)
        return fail(r, "unknown colour space");
    return start_page(r);
}

static bool parse_urf_header(bl_raster_t *r)
{
    const uint8_t *h = r->hdr;
    bl_raster_page_t *p = &r->page;
    memset(p, 0, sizeof(*p));
    p->bits_per_pixel = h[0];
    p->color_space = h[1];
    p->duplex = h[2] >= 2;
    p->tumble = h[2] == 2;
    p->width = be32(h + 12);
    p->height = be32(h + 16);
    p->xres = p->yres = be32(h + 20);
    if (p->bits_per_pixel == 0 || p->bits_per_pixel % 8 || p->bits_per_pixel > 64)
        return fail(r, "unsupported bits per pixel");
    if (p->color_space > 6)
        return fail(r, "unknown colour space");
    p->bytes_per_line = (uint32_t)(((uint64_t)p->width * p->bits_per_pixel + 7) / 8 & 0xffffffffu);
    if ((uint64_t)p->width * p->bits_per_pixel / 8 > BL_RASTER_MAX_BYTES_PER_LINE)
        return fail(r, "bytes per line too large");
    return start_page(r);
}

// Collects header bytes; returns how many of data it used.
static size_t collect(bl_raster_t *r, const uint8_t *data, size_t len, size_t want)
{
    size_t n = want - r->hdr_len < len ? want - r->hdr_len : len;
    memcpy(r->hdr + r->hdr_len, data, n);
    r->hdr_len += n;
    return n;
}

static bool on_magic(bl_raster_t *r)
{
    if (!memcmp(r->hdr, "RaS2", 4)) {
        r->format = BL_RASTER_PWG;
        r->state = ST_PAGE_HEADER;
        r->hdr_len = 0;
        return true;
    }
    if (!memcmp(r->hdr, "UNIR", 4)) {
        r->format = BL_RASTER_URF;
        r->state = ST_FILE_HEADER;
        return true;
    }
    return fail(r, "not PWG or Apple raster (bad sync word)");
}

// A line group is complete: count its lines, and the page when they are all there.
static void end_line(bl_raster_t *r)
{
    r->line += r->line_count;
    r->state = ST_LINE;
    if (r->line < r->page.height)
        return;
    r->pages++;
    r->state = ST_PAGE_HEADER;
    r->hdr_len = 0;
    if (r->on_page)
        r->on_page(r->ctx, &r->page, r->pages);
}

static bool on_opcode(bl_raster_t *r, uint8_t c)
{
    uint32_t left = r->units_per_line - r->x;
    if (c == 128) {
        r->x = r->units_per_line;
        end_line(r);
        return true;
    }
    uint32_t n = c > 128 ? 257u - c : c + 1u;
    if (n > left)
        return fail(r, c > 128 ? "literal pixels run past the end of a line"
                               : "repeated pixels run past the end of a line");
    r->x += n;
    r->skip = (uint64_t)(c > 128 ? n : 1) * r->unit;
    r->state = ST_SKIP;
    return true;
}

// Consumes bytes of the header states; returns how many, or 0 after an error.
static size_t feed_header(bl_raster_t *r, const uint8_t *data, size_t len)
{
    size_t used;
    switch (r->state) {
    case ST_MAGIC:
        used = collect(r, data, len, 4);
        if (r->hdr_len == 4 && !on_magic(r))
            return 0;
        return used;
    case ST_FILE_HEADER:
        used = collect(r, data, len, URF_FILE_HEADER);
        if (r->hdr_len == URF_FILE_HEADER) {
            if (memcmp(r->hdr, "UNIRAST", 8)) {
                fail(r, "not PWG or Apple raster (bad sync word)");
                return 0;
            }
            r->declared_pages = be32(r->hdr + 8);
            r->state = ST_PAGE_HEADER;
            r->hdr_len = 0;
        }
        return used;
    default: {
        size_t size = r->format == BL_RASTER_PWG ? BL_RASTER_PWG_HEADER : BL_RASTER_URF_HEADER;
        used = collect(r, data, len, size);
        if (r->hdr_len == size &&
            !(r->format == BL_RASTER_PWG ? parse_pwg_header(r) : parse_urf_header(r)))
            return 0;
        return used;
    }
    }
}

bool bl_raster_feed(bl_raster_t *r, const uint8_t *data, size_t len)
{
    size_t i = 0;
    uint64_t base = r->offset;
    while (i < len) {
        size_t used = 1;
        r->offset = base + i;
        switch (r->state) {
        case ST_ERROR:
            return false;
        case ST_MAGIC:
        case ST_FILE_HEADER:
        case ST_PAGE_HEADER:
            used = feed_header(r, data + i, len - i);
            if (used == 0)
                return false;
            break;
        case ST_LINE:
            r->line_count = (uint32_t)data[i] + 1;
            if (r->line_count > r->page.height - r->line)
                return fail(r, "line repeat runs past the end of the page");
            r->x = 0;
            r->state = ST_OPCODE;
            break;
        case ST_OPCODE:
            if (!on_opcode(r, data[i]))
                return false;
            break;
        case ST_SKIP:
            used = r->skip < len - i ? (size_t)r->skip : len - i;
            r->skip -= used;
            if (r->skip == 0 && r->x == r->units_per_line)
                end_line(r);
            else if (r->skip == 0)
                r->state = ST_OPCODE;
            break;
        }
        i += used;
    }
    r->offset = base + len;
    return true;
}

bool bl_raster_finish(bl_raster_t *r)
{
    if (r->state == ST_ERROR)
        return false;
    if (r->state == ST_MAGIC || r->state == ST_FILE_HEADER)
        return fail(r, r->offset == 0 ? "empty document" : "truncated file header");
    if (r->state != ST_PAGE_HEADER || r->hdr_len != 0)
        return fail(r,
                    r->state == ST_PAGE_HEADER ? "truncated page header" : "truncated page data");
    if (r->pages == 0)
        return fail(r, "no pages");
    return true;
}
