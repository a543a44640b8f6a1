// Streaming decompression of request bodies and documents (gzip, deflate) with zlib.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_INFLATE_H
#define BL_INFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum bl_coding {
    BL_CODING_IDENTITY,
    BL_CODING_GZIP,
    BL_CODING_DEFLATE, // zlib-wrapped or raw deflate (libcups sends raw), detected
} bl_coding_t;

typedef struct bl_inflate bl_inflate_t;

// Receives decompressed bytes; returns false to stop.
typedef bool (*bl_inflate_out_fn)(void *ctx, const uint8_t *data, size_t len);

// Parses a content coding name ("gzip", "x-gzip", "deflate", "identity"); false if unknown.
bool bl_coding_parse(const char *name, bl_coding_t *out);
// A decoder for coding (not IDENTITY). NULL when out of memory.
bl_inflate_t *bl_inflate_create(bl_coding_t coding);
void bl_inflate_delete(bl_inflate_t *z);
// Decodes len bytes, passing output to fn. false on corrupt data or when fn said stop.
bool bl_inflate_feed(bl_inflate_t *z, const uint8_t *data, size_t len, bl_inflate_out_fn fn,
                     void *ctx);
// true when the compressed stream ended properly (call after the last feed).
bool bl_inflate_finished(const bl_inflate_t *z);

#endif
