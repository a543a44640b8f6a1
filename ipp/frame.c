// IPP message framing: find the end of the attribute block, then decode it once from memory.
// Licensed under the Apache License, Version 2.0.
//
// libcups' ippReadIO() cannot resume after a short read, so the daemon never hands it a socket:
// the HTTP layer collects bytes until bl_ipp_frame_scan() says the attribute block is complete,
// then bl_ipp_decode() reads exactly those bytes in one call. Bytes after the block are document
// data.
#include "ipp/frame.h"

#include <stdlib.h>
#include <string.h>

bl_frame_result_t bl_ipp_frame_scan_resume(bl_frame_state_t *st, const uint8_t *buf, size_t len,
                                           size_t max, size_t *block_len)
{
    if (st->pos == 0)
        st->pos = 8; // version(2) operation-id(2) request-id(4)
    for (;;) {
        size_t pos = st->pos;
        if (pos > max)
            return BL_FRAME_TOO_BIG;
        if (pos >= len)
            return BL_FRAME_NEED_MORE;
        uint8_t tag = buf[pos];
        if (tag == IPP_TAG_END) {
            if (st->depth != 0)
                return BL_FRAME_MALFORMED;
            *block_len = pos + 1;
            return *block_len > max ? BL_FRAME_TOO_BIG : BL_FRAME_COMPLETE;
        }
        if (tag < 0x10) {
            // A delimiter (group) tag; 0x00 and 0x06..0x0F are reserved.
            if (tag == IPP_TAG_ZERO || tag > IPP_TAG_DOCUMENT)
                return BL_FRAME_MALFORMED;
            st->pos++;
            continue;
        }
        if (tag == IPP_TAG_EXTENSION)
            return BL_FRAME_MALFORMED;
        // value-tag name-length name value-length value; the state moves only past whole
        // record heads, so a resumed scan never counts a record twice.
        if (len - pos < 3)
            return BL_FRAME_NEED_MORE;
        size_t name_len = ((size_t)buf[pos + 1] << 8) | buf[pos + 2];
        // libcups cannot read a name or value longer than 32767 bytes (IPP_MAX_LENGTH).
        if (name_len > BL_FRAME_MAX_LENGTH)
            return BL_FRAME_MALFORMED;
        size_t vpos = pos + 3 + name_len;
        if (vpos > max)
            return BL_FRAME_TOO_BIG;
        if (len < vpos + 2)
            return BL_FRAME_NEED_MORE;
        size_t value_len = ((size_t)buf[vpos] << 8) | buf[vpos + 1];
        if (value_len > BL_FRAME_MAX_LENGTH)
            return BL_FRAME_MALFORMED;
        // A crafted message with thousands of nested collections crashes ippReadIO().
        int depth = st->depth + (tag == IPP_TAG_BEGIN_COLLECTION) - (tag == IPP_TAG_END_COLLECTION);
        if (depth > BL_FRAME_MAX_DEPTH || depth < 0)
            return BL_FRAME_MALFORMED;
        st->depth = depth;
        st->pos = vpos + 2 + value_len;
    }
}

bl_frame_result_t bl_ipp_frame_scan(const uint8_t *buf, size_t len, size_t max, size_t *block_len)
{
    bl_frame_state_t st = {0, 0};
    return bl_ipp_frame_scan_resume(&st, buf, len, max, block_len);
}

typedef struct mem_reader {
    const uint8_t *buf;
    size_t len, pos;
} mem_reader_t;

static ssize_t mem_read(void *ctx, ipp_uchar_t *data, size_t bytes)
{
    mem_reader_t *r = ctx;
    size_t n = r->len - r->pos;
    if (n > bytes)
        n = bytes;
    memcpy(data, r->buf + r->pos, n);
    r->pos += n;
    return (ssize_t)n;
}

ipp_t *bl_ipp_decode(const uint8_t *buf, size_t len)
{
    mem_reader_t r = {buf, len, 0};
    ipp_t *msg = ippNew();
    if (!msg)
        return NULL;
    ipp_state_t st = ippReadIO(&r, mem_read, 1, NULL, msg);
    if (st != IPP_STATE_DATA || r.pos != len) {
        ippDelete(msg);
        return NULL;
    }
    return msg;
}

typedef struct mem_writer {
    uint8_t *buf;
    size_t len, cap;
    int failed;
} mem_writer_t;

static ssize_t mem_write(void *ctx, ipp_uchar_t *data, size_t bytes)
{
    mem_writer_t *w = ctx;
    if (w->len + bytes > w->cap) {
        size_t cap = w->cap ? w->cap : 1024;
        while (cap < w->len + bytes)
            cap *= 2;
        uint8_t *nb = realloc(w->buf, cap);
        if (!nb) {
            w->failed = 1;
            return -1;
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, data, bytes);
    w->len += bytes;
    return (ssize_t)bytes;
}

uint8_t *bl_ipp_encode(ipp_t *msg, size_t *len)
{
    mem_writer_t w = {NULL, 0, 0, 0};
    ippSetState(msg, IPP_STATE_IDLE);
    ipp_state_t st;
    while ((st = ippWriteIO(&w, mem_write, 1, NULL, msg)) != IPP_STATE_DATA) {
        if (st == IPP_STATE_ERROR || w.failed) {
            free(w.buf);
            return NULL;
        }
    }
    *len = w.len;
    return w.buf;
}
