// Fuzz target: IPP framing and decoding of an untrusted request, as blattd does it.
// Licensed under the Apache License, Version 2.0.
#include "ipp/frame.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t block = 0;
    // Resumable framing: every prefix must give a consistent answer.
    for (size_t n = 0; n <= size && n < 64; n++)
        (void)bl_ipp_frame_scan(data, n, 1 << 20, &block);
    bl_frame_result_t whole = bl_ipp_frame_scan(data, size, 1 << 20, &block);
    // Resumed scanning, a few bytes at a time, must end exactly like one scan of the whole.
    bl_frame_state_t st = {0, 0};
    bl_frame_result_t step = BL_FRAME_NEED_MORE;
    size_t got = 0, n = 0;
    while (step == BL_FRAME_NEED_MORE && n < size) {
        n = n + 7 < size ? n + 7 : size;
        step = bl_ipp_frame_scan_resume(&st, data, n, 1 << 20, &got);
    }
    if (step != whole || (whole == BL_FRAME_COMPLETE && got != block))
        abort();
    if (whole != BL_FRAME_COMPLETE)
        return 0;
    if (block > size)
        abort();
    ipp_t *msg = bl_ipp_decode(data, block);
    if (msg) {
        size_t len = 0;
        uint8_t *out = bl_ipp_encode(msg, &len);
        free(out);
        ippDelete(msg);
    }
    return 0;
}
