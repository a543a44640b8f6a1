// Streaming validator of PWG raster (PWG 5102.4) and Apple raster (URF) documents.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_DRV_RASTER_H
#define BL_DRV_RASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BL_RASTER_MAX_SIDE 0x00ffffffu           // pixels per side (as libcups)
#define BL_RASTER_MAX_BYTES_PER_LINE (16u << 20) // as libcups
#define BL_RASTER_PWG_HEADER 1796
#define BL_RASTER_URF_HEADER 32

typedef enum bl_raster_format {
    BL_RASTER_UNKNOWN,
    BL_RASTER_PWG,
    BL_RASTER_URF,
} bl_raster_format_t;

typedef struct bl_raster_page {
    uint32_t width, height;  // pixels
    uint32_t bits_per_pixel; // 1..240 (PWG), 8..64 (URF)
    uint32_t bytes_per_line; // uncompressed
    uint32_t color_space;    // cupsColorSpace (PWG) or URF colour space code
    uint32_t xres, yres;     // dpi
    bool duplex, tumble;
} bl_raster_page_t;

typedef void (*bl_raster_page_cb)(void *ctx, const bl_raster_page_t *page, uint32_t number);

// Parser state; opaque to callers except the public fields marked so.
typedef struct bl_raster {
    bl_raster_format_t format; // public: known after the first bytes
    uint32_t pages;            // public: pages completed
    uint32_t declared_pages;   // public: URF page count in the file header (0 = unknown)
    bl_raster_page_t page;     // public: current page
    uint64_t offset;           // public: bytes consumed
    char error[160];           // public: why feed/finish failed
    int state;
    uint8_t hdr[BL_RASTER_PWG_HEADER];
    size_t hdr_len;
    uint32_t unit; // bytes per compression unit (pixel, or byte below 8 bpp)
    uint32_t units_per_line;
    uint32_t line;       // lines completed in this page
    uint32_t line_count; // lines the current line group stands for
    uint32_t x;          // units completed in the current line
    uint64_t skip;       // pixel bytes still to pass over
    bl_raster_page_cb on_page;
    void *ctx;
} bl_raster_t;

// Starts a parser; on_page (may be NULL) is called after each complete page.
void bl_raster_init(bl_raster_t *r, bl_raster_page_cb on_page, void *ctx);

// Consumes data[0..len). false (error set) on malformed input; then stop feeding.
bool bl_raster_feed(bl_raster_t *r, const uint8_t *data, size_t len);

// Checks that the stream ended at a page boundary with at least one page.
bool bl_raster_finish(bl_raster_t *r);

#endif
