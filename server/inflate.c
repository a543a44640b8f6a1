// Streaming decompression of request bodies and documents (gzip, deflate) with zlib.
// Licensed under the Apache License, Version 2.0.
//
// "deflate" is ambiguous in practice: RFC 9110 means the zlib format, libcups sends raw
// deflate. The first two bytes decide (a zlib header is 0x78 0x?? with a check sum of 31).
// Concatenated gzip members are decoded one after the other, as gunzip does.
#include "server/inflate.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define OUT_CHUNK 65536

struct bl_inflate {
    z_stream zs;
    bl_coding_t coding;
    bool started; // inflateInit2 done
    bool ended;   // Z_STREAM_END seen
    uint8_t first[2];
    size_t nfirst;
    uint8_t out[OUT_CHUNK];
};

bool bl_coding_parse(const char *name, bl_coding_t *out)
{
    if (!name || !*name || !strcasecmp(name, "identity") || !strcasecmp(name, "none"))
        *out = BL_CODING_IDENTITY;
    else if (!strcasecmp(name, "gzip") || !strcasecmp(name, "x-gzip"))
        *out = BL_CODING_GZIP;
    else if (!strcasecmp(name, "deflate"))
        *out = BL_CODING_DEFLATE;
    else
        return false;
    return true;
}

bl_inflate_t *bl_inflate_create(bl_coding_t coding)
{
    bl_inflate_t *z = calloc(1, sizeof(*z));
    if (z)
        z->coding = coding;
    return z;
}

void bl_inflate_delete(bl_inflate_t *z)
{
    if (!z)
        return;
    if (z->started)
        inflateEnd(&z->zs);
    free(z);
}

static bool start(bl_inflate_t *z)
{
    int bits = 15 + 16; // gzip
    if (z->coding == BL_CODING_DEFLATE) {
        bool zlib = (z->first[0] & 0x0f) == 8 && ((z->first[0] << 8) | z->first[1]) % 31 == 0;
        bits = zlib ? 15 : -15;
    }
    if (inflateInit2(&z->zs, bits) != Z_OK)
        return false;
    z->started = true;
    return true;
}

// Runs inflate over the input now in z->zs.
static bool pump(bl_inflate_t *z, bl_inflate_out_fn fn, void *ctx)
{
    while (z->zs.avail_in > 0) {
        if (z->ended) {
            // Another gzip member may follow; anything after a deflate stream is an error.
            if (z->coding != BL_CODING_GZIP || inflateReset(&z->zs) != Z_OK)
                return false;
            z->ended = false;
        }
        z->zs.next_out = z->out;
        z->zs.avail_out = sizeof(z->out);
        int rc = inflate(&z->zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            return false;
        size_t produced = sizeof(z->out) - z->zs.avail_out;
        if (produced && !fn(ctx, z->out, produced))
            return false;
        if (rc == Z_STREAM_END)
            z->ended = true;
        else if (rc == Z_BUF_ERROR && produced == 0)
            return z->zs.avail_in == 0;
    }
    // Flush what inflate still holds for this input.
    for (;;) {
        z->zs.next_out = z->out;
        z->zs.avail_out = sizeof(z->out);
        int rc = inflate(&z->zs, Z_NO_FLUSH);
        size_t produced = sizeof(z->out) - z->zs.avail_out;
        if (produced && !fn(ctx, z->out, produced))
            return false;
        if (rc == Z_STREAM_END)
            z->ended = true;
        if (produced == 0 || rc != Z_OK)
            return rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR;
    }
}

bool bl_inflate_feed(bl_inflate_t *z, const uint8_t *data, size_t len, bl_inflate_out_fn fn,
                     void *ctx)
{
    if (!z->started) {
        // Collect the two bytes that tell zlib from raw deflate.
        while (z->nfirst < 2 && len > 0) {
            z->first[z->nfirst++] = *data++;
            len--;
        }
        if (z->nfirst < 2)
            return true;
        if (!start(z))
            return false;
        z->zs.next_in = z->first;
        z->zs.avail_in = 2;
        if (!pump(z, fn, ctx))
            return false;
    }
    if (len == 0)
        return true;
    z->zs.next_in = (Bytef *)data;
    z->zs.avail_in = (uInt)len;
    return pump(z, fn, ctx);
}

bool bl_inflate_finished(const bl_inflate_t *z)
{
    return z->started ? z->ended : z->nfirst == 0;
}
