// Fuzz target: a printer's Get-Printer-Attributes reply through caps, description and store.
// Licensed under the Apache License, Version 2.0.
//
// Mirrors blattd: frame and decode the reply, sanitise it, build a queue's description over the
// result, then encode the caps for the store and decode them again.
#include "ipp/caps.h"
#include "ipp/frame.h"
#include "ipp/printer-attrs.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BLOCK (1 << 20)
#define MAX_NESTING 16

// libcups' ippReadIO() recurses once per collection level without a limit (about 10,000
// levels overflow the stack): skip such inputs, as bl_caps_decode() refuses them.
static bool nesting_ok(const uint8_t *buf, size_t len)
{
    size_t pos = 8;
    int depth = 0;
    while (pos < len && buf[pos] != IPP_TAG_END) {
        uint8_t tag = buf[pos];
        if (tag < 0x10) {
            pos++;
            continue;
        }
        if (len - pos < 5)
            return false;
        size_t name_len = ((size_t)buf[pos + 1] << 8) | buf[pos + 2];
        if (len - pos - 3 < name_len + 2)
            return false;
        size_t value_pos = pos + 3 + name_len;
        pos = value_pos + 2 + (((size_t)buf[value_pos] << 8) | buf[value_pos + 1]);
        if (tag == IPP_TAG_BEGIN_COLLECTION && ++depth > MAX_NESTING)
            return false;
        if (tag == IPP_TAG_END_COLLECTION)
            depth--;
    }
    return true;
}

// The description of a queue over caps, with every requested-attributes form.
static void describe(ipp_t *caps)
{
    static const char *const uris[] = {"ipp://localhost:631/ipp/print/q"};
    static const char *const security[] = {"none"};
    static const char *const formats[] = {"application/pdf", "image/pwg-raster", "image/urf",
                                          "image/jpeg"};
    bl_queue_info_t q = {.name = "q",
                         .uuid = "urn:uuid:00000000-0000-4000-8000-000000000000",
                         .uris = uris,
                         .uri_security = security,
                         .num_uris = 1,
                         .formats = formats,
                         .num_formats = 4,
                         .default_sides = "two-sided-long-edge",
                         .default_color_mode = "monochrome",
                         .default_media = "iso_a4_210x297mm",
                         .icons_base = "http://localhost:631/icons/q"};
    ipp_t *attrs = bl_printer_attrs_build(&q, caps);
    ipp_t *req = ippNew();
    static const char *const ra[] = {"job-template", "printer-description", "media-col-database"};
    ipp_attribute_t *ra_attr =
        ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", 3, NULL, ra);
    ipp_t *out = ippNew();
    bl_ipp_copy_requested(out, attrs, NULL);
    bl_ipp_copy_requested(out, attrs, ra_attr);
    size_t len = 0;
    free(bl_ipp_encode(out, &len));
    ippDelete(out);
    ippDelete(req);
    ippDelete(attrs);
}

// Store round trip: what decode gives back must sanitise to itself without drops.
static void round_trip(ipp_t *caps)
{
    uint8_t *blob = NULL;
    size_t len = 0;
    if (!bl_caps_encode(caps, &blob, &len))
        abort();
    ipp_t *back = bl_caps_decode(blob, len);
    if (!back)
        abort();
    size_t dropped = 0;
    ipp_t *again = bl_caps_sanitize(back, &dropped);
    if (dropped)
        abort();
    ippDelete(again);
    ippDelete(back);
    free(blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t block = 0;
    if (bl_ipp_frame_scan(data, size, MAX_BLOCK, &block) != BL_FRAME_COMPLETE ||
        !nesting_ok(data, block))
        return 0;
    ipp_t *resp = bl_ipp_decode(data, block);
    if (!resp)
        return 0;
    size_t dropped = 0;
    ipp_t *caps = bl_caps_sanitize(resp, &dropped);
    ippDelete(resp);
    if (!caps)
        return 0;
    describe(caps);
    round_trip(caps);
    ippDelete(caps);
    ippDelete(bl_caps_decode(data, block));
    return 0;
}
