// IPP message framing: find the end of the attribute block, then decode it once from memory.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_IPP_FRAME_H
#define BL_IPP_FRAME_H

#include <cups/ipp.h>
#include <stddef.h>
#include <stdint.h>

// Deepest collection nesting accepted (IPP needs 3-4; libcups' reader recurses per level).
#define BL_FRAME_MAX_DEPTH 16
// Longest name or value libcups reads (IPP_MAX_LENGTH).
#define BL_FRAME_MAX_LENGTH 32767

typedef enum bl_frame_result {
    BL_FRAME_NEED_MORE = 0, // the block is not complete yet
    BL_FRAME_COMPLETE = 1,  // *block_len holds header + attributes through end-of-attributes
    BL_FRAME_TOO_BIG = 2,   // over the size cap
    BL_FRAME_MALFORMED = 3, // a tag or length that cannot be right
} bl_frame_result_t;

// Where a scan stopped; start with {0, 0}.
typedef struct bl_frame_state {
    size_t pos; // offset of the next record head
    int depth;  // collection nesting so far
} bl_frame_state_t;

// Walks the length-prefixed records of an IPP message in buf[0..len) up to end-of-attributes,
// continuing where the last call with the same state stopped: call it again with the same
// buffer grown by new bytes (each byte is looked at once). `max` caps the attribute block.
bl_frame_result_t bl_ipp_frame_scan_resume(bl_frame_state_t *st, const uint8_t *buf, size_t len,
                                           size_t max, size_t *block_len);
// The same from the start of buf.
bl_frame_result_t bl_ipp_frame_scan(const uint8_t *buf, size_t len, size_t max, size_t *block_len);

// Decodes exactly `len` bytes (a framed block) into a new ipp_t; NULL on error.
ipp_t *bl_ipp_decode(const uint8_t *buf, size_t len);

// Encodes msg; returns malloc'd bytes (caller frees) or NULL.
uint8_t *bl_ipp_encode(ipp_t *msg, size_t *len);

#endif
