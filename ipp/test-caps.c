// Unit tests of device caps: hostile replies are reduced, real ones kept, the store round-trips.
// Licensed under the Apache License, Version 2.0.
#include "ipp/caps.h"

#include "ipp/frame.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define P IPP_TAG_PRINTER

// The source tree: SRCDIR from the build, else $srcdir (automake's test harness), else ".".
static const char *source_dir(void)
{
#ifdef SRCDIR
    return SRCDIR;
#else
    const char *s = getenv("srcdir");
    return s ? s : ".";
#endif
}

// A corpus file of tests/fuzz/caps. Caller frees.
static uint8_t *read_corpus(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/fuzz/caps/%s", source_dir(), name);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    uint8_t *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 20, fp);
    fclose(fp);
    return buf;
}

// Frames and decodes a corpus file as blattd does with a probe reply. Caller owns.
static ipp_t *decode_corpus(const char *name)
{
    size_t len, block = 0;
    uint8_t *data = read_corpus(name, &len);
    assert_int_equal(bl_ipp_frame_scan(data, len, 1 << 20, &block), BL_FRAME_COMPLETE);
    ipp_t *msg = bl_ipp_decode(data, block);
    free(data);
    assert_non_null(msg);
    return msg;
}

static const char *str(ipp_t *caps, const char *name, int i)
{
    ipp_attribute_t *a = ippFindAttribute(caps, name, IPP_TAG_ZERO);
    return a ? ippGetString(a, i, NULL) : NULL;
}

static int count(ipp_t *caps, const char *name)
{
    return ippGetCount(ippFindAttribute(caps, name, IPP_TAG_ZERO));
}

static int num_attrs(ipp_t *ipp)
{
    int n = 0;
    for (ipp_attribute_t *a = ippFirstAttribute(ipp); a; a = ippNextAttribute(ipp))
        n++;
    return n;
}

// Every attribute of `caps` is in `src` with the same syntax and values.
static void assert_same_values(ipp_t *caps, ipp_t *src)
{
    for (ipp_attribute_t *a = ippFirstAttribute(caps); a; a = ippNextAttribute(caps)) {
        ipp_attribute_t *b = ippFindAttribute(src, ippGetName(a), IPP_TAG_ZERO);
        assert_non_null(b);
        assert_int_equal(ippGetValueTag(a), ippGetValueTag(b));
        assert_int_equal(ippGetCount(a), ippGetCount(b));
        static char va[65536], vb[65536];
        ippAttributeString(a, va, sizeof(va));
        ippAttributeString(b, vb, sizeof(vb));
        assert_string_equal(va, vb);
        assert_int_equal(ippGetGroupTag(a), IPP_TAG_PRINTER);
    }
}

// The attributes of the ippeveprinter reply that Blatt keeps.
static const char *const kept[] = {"color-supported",
                                   "copies-default",
                                   "copies-supported",
                                   "finishings-col-database",
                                   "finishings-col-default",
                                   "finishings-col-ready",
                                   "finishings-col-supported",
                                   "finishings-default",
                                   "finishings-ready",
                                   "finishings-supported",
                                   "media-bottom-margin-supported",
                                   "media-col-database",
                                   "media-col-default",
                                   "media-col-ready",
                                   "media-default",
                                   "media-left-margin-supported",
                                   "media-right-margin-supported",
                                   "media-ready",
                                   "media-supported",
                                   "media-size-supported",
                                   "media-source-supported",
                                   "media-top-margin-supported",
                                   "media-type-supported",
                                   "orientation-requested-default",
                                   "orientation-requested-supported",
                                   "output-bin-default",
                                   "output-bin-supported",
                                   "page-ranges-supported",
                                   "pages-per-minute",
                                   "print-color-mode-default",
                                   "print-color-mode-supported",
                                   "print-content-optimize-default",
                                   "print-content-optimize-supported",
                                   "print-quality-default",
                                   "print-quality-supported",
                                   "print-rendering-intent-default",
                                   "print-rendering-intent-supported",
                                   "printer-device-id",
                                   "printer-input-tray",
                                   "printer-make-and-model",
                                   "printer-resolution-default",
                                   "printer-resolution-supported",
                                   "printer-supply",
                                   "printer-supply-description",
                                   "pwg-raster-document-resolution-supported",
                                   "pwg-raster-document-type-supported",
                                   "sides-default",
                                   "sides-supported",
                                   "compression-supported",
                                   "document-format-default",
                                   "document-format-supported",
                                   "identify-actions-default",
                                   "identify-actions-supported",
                                   "ipp-features-supported",
                                   "ipp-versions-supported",
                                   "job-creation-attributes-supported",
                                   "media-col-supported",
                                   "operations-supported",
                                   "printer-geo-location",
                                   "printer-is-accepting-jobs",
                                   "printer-info",
                                   "printer-location",
                                   "printer-uuid",
                                   "printer-config-change-date-time",
                                   "printer-config-change-time",
                                   "printer-current-time",
                                   "printer-more-info",
                                   "printer-state",
                                   "printer-state-message",
                                   "printer-state-reasons",
                                   "printer-supply-info-uri",
                                   "queued-job-count"};

static void test_real_reply_kept(void **state)
{
    (void)state;
    ipp_t *resp = decode_corpus("ippeveprinter-reply");
    size_t dropped = 99;
    ipp_t *caps = bl_caps_sanitize(resp, &dropped);
    assert_non_null(caps);
    assert_int_equal(dropped, 0);
    assert_int_equal(num_attrs(caps), (int)(sizeof(kept) / sizeof(kept[0])));
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        assert_non_null(ippFindAttribute(caps, kept[i], IPP_TAG_ZERO));
    assert_same_values(caps, resp);
    // Server-side attributes of the device are not kept.
    assert_null(ippFindAttribute(caps, "printer-uri-supported", IPP_TAG_ZERO));
    assert_null(ippFindAttribute(caps, "printer-name", IPP_TAG_ZERO));
    assert_string_equal(str(caps, "printer-make-and-model", 0), "Example Printer");
    assert_int_equal(count(caps, "media-col-database"), 5);
    ippDelete(caps);
    ippDelete(resp);
}

static void test_duplex_color_reply_kept(void **state)
{
    (void)state;
    ipp_t *resp = decode_corpus("ippeveprinter-duplex-color-reply");
    size_t dropped = 99;
    ipp_t *caps = bl_caps_sanitize(resp, &dropped);
    assert_int_equal(dropped, 0);
    assert_same_values(caps, resp);
    assert_int_equal(count(caps, "sides-supported"), 3);
    assert_int_equal(count(caps, "urf-supported"), 8);
    assert_string_equal(str(caps, "urf-supported", 0), "CP1");
    assert_string_equal(str(caps, "pwg-raster-document-sheet-back", 0), "rotated");
    assert_int_equal(count(caps, "printer-supply"), 5);
    ippDelete(caps);
    ippDelete(resp);
}

// One collection value of media-col-ready with the given members.
static ipp_t *media_col(int x, int y, const char *source)
{
    ipp_t *col = ippNew(), *size = ippNew();
    ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "x-dimension", x);
    ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "y-dimension", y);
    ippAddCollection(col, IPP_TAG_ZERO, "media-size", size);
    ippDelete(size);
    ippAddString(col, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-size-name", NULL, "iso_a4_210x297mm");
    ippAddString(col, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-source", NULL, source);
    return col;
}

// A collection nested `depth` times under member `name`, ending in an integer.
static ipp_t *bomb(const char *name, int depth)
{
    ipp_t *inner = ippNew();
    ippAddInteger(inner, IPP_TAG_ZERO, IPP_TAG_INTEGER, name, 1);
    for (int i = 0; i < depth; i++) {
        ipp_t *outer = ippNew();
        ippAddCollection(outer, IPP_TAG_ZERO, name, inner);
        ippDelete(inner);
        inner = outer;
    }
    return inner;
}

// media-col-ready: a good value, one whose x-dimension is a collection bomb (plus an unknown
// bomb member), one with nothing valid. 3 refusals.
static void add_hostile_media_col(ipp_t *r)
{
    ipp_t *good = media_col(21000, 29700, "main");
    ipp_t *evil = ippNew(), *size = bomb("x-dimension", 20), *unknown = bomb("evil-member", 30);
    ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "y-dimension", 100);
    ippAddCollection(evil, IPP_TAG_ZERO, "media-size", size);
    ippAddCollection(evil, IPP_TAG_ZERO, "evil-member", unknown);
    ipp_t *empty = ippNew();
    ippAddString(empty, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-source", NULL, "Bad Source");
    ipp_attribute_t *a = ippAddCollection(r, P, "media-col-ready", good);
    ippSetCollection(r, &a, 1, evil);
    ippSetCollection(r, &a, 2, empty);
    ippDelete(good);
    ippDelete(evil);
    ippDelete(size);
    ippDelete(unknown);
    ippDelete(empty);
}

// Strings: control characters, quotes, bad UTF-8, size, URIs, keywords. 15 refusals.
static void add_hostile_strings(ipp_t *r)
{
    ippAddString(r, P, IPP_TAG_TEXT, "printer-make-and-model", NULL, "Evil\nPrinter");
    ippAddString(r, P, IPP_TAG_TEXT, "printer-device-id", NULL, "MFG:Evil\";MDL:x;");
    char *huge = malloc(100 * 1024 + 1);
    memset(huge, 'a', 100 * 1024);
    huge[100 * 1024] = '\0';
    ippAddString(r, P, IPP_TAG_TEXT, "printer-info", NULL, huge);
    free(huge);
    ippAddString(r, P, IPP_TAG_TEXTLANG, "printer-location", "de", "B\xc3\xbcro 1");
    ippAddString(r, P, IPP_TAG_TEXT, "printer-location", NULL, "second"); // repeated
    const char *supplies[] = {"Black", "\xff\xfe", "Cyan"};
    ippAddStrings(r, P, IPP_TAG_TEXT, "printer-supply-description", 3, NULL, supplies);
    ippAddString(r, P, IPP_TAG_URI, "printer-more-info", NULL, "http://evil.example/a b");
    ippAddString(r, P, IPP_TAG_URI, "printer-supply-info-uri", NULL, "javascript:alert(1)");
    ippAddString(r, P, IPP_TAG_URI, "printer-geo-location", NULL, "file:///etc/passwd");
    ippAddString(r, P, IPP_TAG_URI, "printer-uuid", NULL,
                 "urn:uuid:12345678-1234-4234-8234-123456789abc");
    const char *reasons[] = {"none", "Bad Keyword", "media-low-warning"};
    ippAddStrings(r, P, IPP_TAG_KEYWORD, "printer-state-reasons", 3, NULL, reasons);
    const char *formats[] = {"application/pdf", "text/plain; charset=utf-8", "image/jpeg"};
    ippAddStrings(r, P, IPP_TAG_MIMETYPE, "document-format-supported", 3, NULL, formats);
    const char *modes[] = {"monochrome", "Color", "auto"};
    ippAddStrings(r, P, IPP_TAG_KEYWORD, "print-color-mode-supported", 3, NULL, modes);
    const char *urf[] = {"V1.4", "RS300-600", "W8 SRGB24"};
    ippAddStrings(r, P, IPP_TAG_KEYWORD, "urf-supported", 3, NULL, urf);
    ippAddString(r, P, IPP_TAG_TEXT, "printer-state-message", NULL, "Ready\xc2\x85now"); // NEL
    ippAddString(r, P, IPP_TAG_TEXT, "printer-alert-description", NULL, "\xe2\x80\xa8"); // LS
    ippAddString(r, P, IPP_TAG_TEXT, "printer-firmware-string-version", NULL, "\xc0\xaf");
}

// Numbers and syntaxes: negative ranges, wrong tags, booleans, enums. 8 refusals.
static void add_hostile_numbers(ipp_t *r)
{
    ippAddRange(r, P, "copies-supported", -5, 10);
    ippAddInteger(r, P, IPP_TAG_INTEGER, "copies-default", -1);
    ippAddString(r, P, IPP_TAG_TEXT, "sides-supported", NULL, "one-sided");
    ipp_attribute_t *res =
        ippAddResolution(r, P, "printer-resolution-supported", IPP_RES_PER_INCH, 600, 600);
    ippSetResolution(r, &res, 1, IPP_RES_PER_INCH, 600000, 600000);
    ippAddBoolean(r, P, "color-supported", 2);
    ippAddOutOfBand(r, P, IPP_TAG_NOVALUE, "media-default");
    static const int ops[] = {IPP_OP_PRINT_JOB, 0, 0x7fffffff};
    ippAddIntegers(r, P, IPP_TAG_ENUM, "operations-supported", 3, ops);
    ippAddInteger(r, P, IPP_TAG_INTEGER, "pages-per-minute", 30);
    ippAddInteger(r, P, IPP_TAG_ENUM, "printer-state", IPP_PSTATE_IDLE);
    ippAddString(r, P, IPP_TAG_KEYWORD, "printer-kind", NULL, "document");
    ippAddOutOfBand(r, P, IPP_TAG_NOVALUE, "printer-is-accepting-jobs");
}

// Attributes Blatt does not know, and other groups: ignored and not counted. 5000 media: 1.
static void add_hostile_rest(ipp_t *r)
{
    ippAddString(r, P, IPP_TAG_TEXT, "printer-evil", NULL, "ignored\n");
    ippAddString(r, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "sides-default", NULL, "one-sided");
    ippAddString(r, IPP_TAG_JOB, IPP_TAG_KEYWORD, "print-quality-default", NULL, "x");
    ipp_attribute_t *media = NULL;
    for (int i = 0; i < 5000; i++) {
        char v[64];
        snprintf(v, sizeof(v), "custom_w%d_1x1in", i);
        if (media)
            ippSetString(r, &media, i, v);
        else
            media = ippAddString(r, P, IPP_TAG_KEYWORD, "media-supported", NULL, v);
    }
}

// An empty successful response, as a printer would start its reply.
static ipp_t *new_reply(void)
{
    ipp_t *r = ippNew();
    ippSetStatusCode(r, IPP_STATUS_OK);
    ippSetRequestId(r, 1);
    ippAddString(r, IPP_TAG_OPERATION, IPP_TAG_CHARSET, "attributes-charset", NULL, "utf-8");
    ippAddString(r, IPP_TAG_OPERATION, IPP_TAG_LANGUAGE, "attributes-natural-language", NULL, "en");
    return r;
}

static ipp_t *hostile_reply(void)
{
    ipp_t *r = new_reply();
    assert_non_null(r);
    add_hostile_strings(r);
    add_hostile_numbers(r);
    add_hostile_media_col(r);
    add_hostile_rest(r);
    return r;
}

static void test_hostile_reply_reduced(void **state)
{
    (void)state;
    ipp_t *r = hostile_reply();
    size_t dropped = 0;
    ipp_t *caps = bl_caps_sanitize(r, &dropped);
    assert_non_null(caps);
    assert_int_equal(dropped, 15 + 8 + 3 + 1);
    // Refused as a whole.
    static const char *const gone[] = {"printer-make-and-model",
                                       "printer-device-id",
                                       "printer-info",
                                       "printer-more-info",
                                       "printer-supply-info-uri",
                                       "printer-geo-location",
                                       "copies-supported",
                                       "copies-default",
                                       "sides-supported",
                                       "color-supported",
                                       "printer-state-message",
                                       "printer-alert-description",
                                       "printer-firmware-string-version",
                                       "printer-evil",
                                       "sides-default",
                                       "print-quality-default",
                                       "printer-is-accepting-jobs"};
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
        assert_null(ippFindAttribute(caps, gone[i], IPP_TAG_ZERO));
    // Kept, or reduced to the valid values.
    ipp_attribute_t *loc = ippFindAttribute(caps, "printer-location", IPP_TAG_ZERO);
    assert_int_equal(ippGetValueTag(loc), IPP_TAG_TEXT);
    assert_string_equal(ippGetString(loc, 0, NULL), "B\xc3\xbcro 1");
    assert_int_equal(count(caps, "printer-supply-description"), 2);
    assert_string_equal(str(caps, "printer-supply-description", 1), "Cyan");
    assert_string_equal(str(caps, "printer-uuid", 0),
                        "urn:uuid:12345678-1234-4234-8234-123456789abc");
    assert_int_equal(count(caps, "printer-state-reasons"), 2);
    assert_string_equal(str(caps, "printer-state-reasons", 1), "media-low-warning");
    assert_int_equal(count(caps, "document-format-supported"), 2);
    assert_string_equal(str(caps, "document-format-supported", 1), "image/jpeg");
    assert_int_equal(count(caps, "print-color-mode-supported"), 2);
    assert_string_equal(str(caps, "print-color-mode-supported", 1), "auto");
    assert_int_equal(count(caps, "urf-supported"), 2);
    assert_int_equal(count(caps, "printer-resolution-supported"), 1);
    ipp_attribute_t *ops = ippFindAttribute(caps, "operations-supported", IPP_TAG_ENUM);
    assert_int_equal(ippGetCount(ops), 1);
    assert_int_equal(ippGetInteger(ops, 0), IPP_OP_PRINT_JOB);
    assert_int_equal(ippGetValueTag(ippFindAttribute(caps, "media-default", IPP_TAG_ZERO)),
                     IPP_TAG_NOVALUE);
    assert_int_equal(count(caps, "media-supported"), 1000);
    assert_string_equal(str(caps, "media-supported", 999), "custom_w999_1x1in");
    ippDelete(caps);
    ippDelete(r);
}

static void test_collection_bombs(void **state)
{
    (void)state;
    ipp_t *r = hostile_reply();
    ipp_t *caps = bl_caps_sanitize(r, NULL);
    ipp_attribute_t *ready = ippFindAttribute(caps, "media-col-ready", IPP_TAG_BEGIN_COLLECTION);
    assert_int_equal(ippGetCount(ready), 2);
    // The good value is intact.
    ipp_t *good = ippGetCollection(ready, 0);
    assert_string_equal(ippGetString(ippFindAttribute(good, "media-source", IPP_TAG_ZERO), 0, NULL),
                        "main");
    ipp_attribute_t *x = ippFindAttribute(good, "media-size/x-dimension", IPP_TAG_INTEGER);
    assert_int_equal(ippGetInteger(x, 0), 21000);
    // The bomb lost its nested x-dimension and the unknown member; y-dimension remains.
    ipp_t *evil = ippGetCollection(ready, 1);
    assert_int_equal(num_attrs(evil), 1);
    ipp_t *size = ippGetCollection(ippFindAttribute(evil, "media-size", IPP_TAG_ZERO), 0);
    assert_int_equal(num_attrs(size), 1);
    assert_int_equal(ippGetInteger(ippFindAttribute(size, "y-dimension", IPP_TAG_INTEGER), 0), 100);
    ippDelete(caps);
    ippDelete(r);
}

static void test_hostile_wire_replies(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        size_t dropped;
        int attrs;
    } cases[] = {
        // make-and-model, device-id, info, location, more-info, supply-info-uri, 2 formats,
        // 2 reasons: 10; only document-format-supported and printer-state-reasons are left.
        {"hostile-strings", 10, 2},
        // copies x2, sides, quality, resolution, boolean, margin, repeated location, printer-state
        // no-value: 9; printer-location and media-default (no-value) are left.
        {"hostile-types", 9, 2},
        {"hostile-many-values", 1, 1},
        // The bomb's media-size holds only an unknown member: the empty media-size is refused
        // (1) and the entry keeps media-source.
        {"hostile-nested", 1, 1},
        {"hostile-groups", 1, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ipp_t *r = decode_corpus(cases[i].file);
        size_t dropped = 0;
        ipp_t *caps = bl_caps_sanitize(r, &dropped);
        print_message("%s: dropped %zu, %d attributes\n", cases[i].file, dropped, num_attrs(caps));
        assert_int_equal(dropped, cases[i].dropped);
        assert_int_equal(num_attrs(caps), cases[i].attrs);
        ippDelete(caps);
        ippDelete(r);
    }
}

static void test_store_round_trip(void **state)
{
    (void)state;
    ipp_t *resp = decode_corpus("ippeveprinter-duplex-color-reply");
    ipp_t *caps = bl_caps_sanitize(resp, NULL);
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_true(bl_caps_encode(caps, &blob, &len));
    assert_true(len > 1000);
    ipp_t *back = bl_caps_decode(blob, len);
    assert_non_null(back);
    assert_int_equal(num_attrs(back), num_attrs(caps));
    assert_same_values(back, caps);
    // A damaged blob is refused, never half-used.
    assert_null(bl_caps_decode(blob, len - 1));
    assert_null(bl_caps_decode(blob, 5));
    assert_null(bl_caps_decode(NULL, 0));
    blob[8] = 0x00; // a reserved delimiter where the first group starts
    assert_null(bl_caps_decode(blob, len));
    free(blob);
    assert_false(bl_caps_encode(NULL, &blob, &len));
    ippDelete(back);
    ippDelete(caps);
    ippDelete(resp);
}

static void test_decode_resanitises(void **state)
{
    (void)state;
    // What the store holds is checked again: a newline smuggled into the blob is refused.
    ipp_t *m = new_reply();
    ippAddString(m, P, IPP_TAG_TEXT, "printer-make-and-model", NULL, "Bad\nName");
    ippAddString(m, P, IPP_TAG_KEYWORD, "sides-supported", NULL, "one-sided");
    size_t len = 0;
    uint8_t *blob = bl_ipp_encode(m, &len);
    ipp_t *caps = bl_caps_decode(blob, len);
    assert_non_null(caps);
    assert_null(ippFindAttribute(caps, "printer-make-and-model", IPP_TAG_ZERO));
    assert_string_equal(str(caps, "sides-supported", 0), "one-sided");
    ippDelete(caps);
    free(blob);
    ippDelete(m);
    // Collections nested deeper than libcups can safely read are refused before decoding.
    size_t dlen;
    uint8_t *deep = read_corpus("hostile-deep", &dlen);
    assert_null(bl_caps_decode(deep, dlen));
    free(deep);
}

static void test_virtual_caps(void **state)
{
    (void)state;
    static const char *const formats[] = {"application/pdf", "image/pwg-raster", "image/urf"};
    for (size_t i = 0; i < 3; i++) {
        ipp_t *v = bl_caps_virtual(formats[i]);
        size_t dropped = 99;
        ipp_t *caps = bl_caps_sanitize(v, &dropped);
        assert_int_equal(dropped, 0); // the built-in caps pass the allow-list
        assert_int_equal(num_attrs(caps), num_attrs(v));
        assert_int_equal(count(caps, "document-format-supported"), 1);
        assert_string_equal(str(caps, "document-format-supported", 0), formats[i]);
        assert_string_equal(str(caps, "printer-make-and-model", 0), "Blatt virtual printer");
        assert_int_equal(count(caps, "sides-supported"), 3);
        assert_int_equal(count(caps, "print-color-mode-supported"), 3);
        assert_int_equal(count(caps, "media-supported"), 6);
        assert_int_equal(count(caps, "media-col-database"), 6);
        assert_int_equal(count(caps, "media-col-ready"), 2);
        assert_string_equal(str(caps, "media-default", 0), "iso_a4_210x297mm");
        assert_int_equal(count(caps, "printer-resolution-supported"), 2);
        assert_int_equal(count(caps, "print-quality-supported"), 3);
        int hi, lo = ippGetRange(ippFindAttribute(caps, "copies-supported", IPP_TAG_RANGE), 0, &hi);
        assert_int_equal(lo, 1);
        assert_int_equal(hi, 999);
        assert_int_equal(ippGetInteger(ippFindAttribute(caps, "printer-state", IPP_TAG_ENUM), 0),
                         IPP_PSTATE_IDLE);
        bool pwg = i == 1, urf = i == 2;
        assert_int_equal(count(caps, "pwg-raster-document-resolution-supported"), pwg ? 3 : 0);
        assert_int_equal(count(caps, "pwg-raster-document-type-supported"), pwg ? 3 : 0);
        assert_int_equal(count(caps, "urf-supported"), urf ? 6 : 0);
        ippDelete(caps);
        ippDelete(v);
    }
    ipp_t *v = bl_caps_virtual(NULL); // unknown: PDF
    assert_string_equal(str(v, "document-format-supported", 0), "application/pdf");
    ippDelete(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_reply_kept),
        cmocka_unit_test(test_duplex_color_reply_kept),
        cmocka_unit_test(test_hostile_reply_reduced),
        cmocka_unit_test(test_collection_bombs),
        cmocka_unit_test(test_hostile_wire_replies),
        cmocka_unit_test(test_store_round_trip),
        cmocka_unit_test(test_decode_resanitises),
        cmocka_unit_test(test_virtual_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
