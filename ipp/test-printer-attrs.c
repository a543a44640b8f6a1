// Unit tests of a queue's printer description: IPP Everywhere's required set, queue defaults,
// requested-attributes and state.
// Licensed under the Apache License, Version 2.0.
#include "ipp/printer-attrs.h"

#include "ipp/caps.h"
#include "ipp/frame.h"

#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define P IPP_TAG_PRINTER
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

// PWG 5101.1 self-describing media names and the patterns of ipp-everywhere.test.
#define DIM "([1-9][0-9]*([.][0-9]*[1-9])?|0[.][0-9]*[1-9])"
#define MEDIA_RE                                                                                   \
    "^((custom|na|asme|roc|oe|roll)_[a-z0-9][-a-z0-9]*_" DIM "x" DIM "in|"                         \
    "(custom|iso|jis|jpn|prc|om|roll)_[a-z0-9][-a-z0-9]*_" DIM "x" DIM "mm)$"
#define DEVICE_ID_RE "^([-A-Za-z ]+:[^;]*;)+$"
#define UUID_RE                                                                                    \
    "^urn:uuid:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"

static const char *const test_formats[] = {"application/pdf", "image/jpeg", "image/pwg-raster",
                                           "image/urf"};
static const char *const test_uris[] = {"ipp://localhost:8631/ipp/print/q",
                                        "ipps://localhost:8631/ipp/print/q"};
static const char *const test_security[] = {"none", "tls"};

static bl_queue_info_t test_queue(void)
{
    bl_queue_info_t q = {
        .name = "q",
        .info = "Queue",
        .location = "Room 1",
        .uuid = "urn:uuid:12345678-1234-4234-8234-123456789abc",
        .uris = test_uris,
        .uri_security = test_security,
        .num_uris = 2,
        .formats = test_formats,
        .num_formats = COUNT(test_formats),
        .default_sides = "two-sided-long-edge",
        .default_color_mode = "monochrome",
        .default_media = "iso_a4_210x297mm",
        .more_info_uri = "http://localhost:8631/printers/q",
        .icons_base = "http://localhost:8631/icons/q",
        .supply_info_uri = "http://localhost:8631/printers/q/supplies",
    };
    return q;
}

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

// Sanitised caps from a corpus file of tests/fuzz/caps.
static ipp_t *corpus_caps(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/fuzz/caps/%s", source_dir(), name);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static uint8_t buf[1 << 16];
    size_t len = fread(buf, 1, sizeof(buf), fp), block = 0;
    fclose(fp);
    assert_int_equal(bl_ipp_frame_scan(buf, len, sizeof(buf), &block), BL_FRAME_COMPLETE);
    ipp_t *resp = bl_ipp_decode(buf, block);
    assert_non_null(resp);
    size_t dropped = 99;
    ipp_t *caps = bl_caps_sanitize(resp, &dropped);
    assert_int_equal(dropped, 0);
    ippDelete(resp);
    return caps;
}

static bl_queue_state_t test_state(void)
{
    static const char *const reasons[] = {"none"};
    bl_queue_state_t s = {.state = IPP_PSTATE_IDLE,
                          .reasons = reasons,
                          .num_reasons = 1,
                          .accepting = true,
                          .queued_job_count = 2,
                          .state_change_time = 1700000100,
                          .config_change_time = 1700000050,
                          .boot_time = 1700000000,
                          .now = 1700000200,
                          .message = "Ready"};
    return s;
}

static ipp_attribute_t *find(ipp_t *ipp, const char *name)
{
    return ippFindAttribute(ipp, name, IPP_TAG_ZERO);
}

static const char *str(ipp_t *ipp, const char *name, int i)
{
    return ippGetString(find(ipp, name), i, NULL);
}

static void assert_matches(const char *s, const char *re)
{
    regex_t r;
    assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
    if (!s || regexec(&r, s, 0, NULL, 0)) {
        print_error("\"%s\" does not match %s\n", s ? s : "(null)", re);
        fail();
    }
    regfree(&r);
}

typedef struct required {
    const char *name;
    ipp_tag_t tag, alt; // accepted value tags
    int count;          // 0: any number of values
} required_t;

// What ipp-everywhere.test's first block (with ipp-2.0.test and ipp-1.1.test) requires of a
// printer that supports PDF, JPEG and PWG Raster. Supplies are checked by the callers.
static const required_t everywhere[] = {
    {"charset-configured", IPP_TAG_CHARSET, 0, 1},
    {"charset-supported", IPP_TAG_CHARSET, 0, 0},
    {"color-supported", IPP_TAG_BOOLEAN, 0, 1},
    {"compression-supported", IPP_TAG_KEYWORD, 0, 0},
    {"copies-default", IPP_TAG_INTEGER, 0, 1},
    {"copies-supported", IPP_TAG_RANGE, 0, 1},
    {"document-format-default", IPP_TAG_MIMETYPE, 0, 1},
    {"document-format-supported", IPP_TAG_MIMETYPE, 0, 0},
    {"finishings-default", IPP_TAG_ENUM, 0, 0},
    {"finishings-supported", IPP_TAG_ENUM, 0, 0},
    {"generated-natural-language-supported", IPP_TAG_LANGUAGE, 0, 0},
    {"identify-actions-default", IPP_TAG_KEYWORD, 0, 0},
    {"identify-actions-supported", IPP_TAG_KEYWORD, 0, 0},
    {"ipp-features-supported", IPP_TAG_KEYWORD, 0, 0},
    {"ipp-versions-supported", IPP_TAG_KEYWORD, 0, 0},
    {"job-creation-attributes-supported", IPP_TAG_KEYWORD, 0, 0},
    {"job-hold-until-default", IPP_TAG_KEYWORD, IPP_TAG_NAME, 1},
    {"job-hold-until-supported", IPP_TAG_KEYWORD, IPP_TAG_NAME, 0},
    {"job-ids-supported", IPP_TAG_BOOLEAN, 0, 1},
    {"job-priority-default", IPP_TAG_INTEGER, 0, 1},
    {"job-priority-supported", IPP_TAG_INTEGER, 0, 1},
    {"job-sheets-supported", IPP_TAG_KEYWORD, IPP_TAG_NAME, 0},
    {"media-bottom-margin-supported", IPP_TAG_INTEGER, 0, 0},
    {"media-col-database", IPP_TAG_BEGIN_COLLECTION, 0, 0},
    {"media-col-default", IPP_TAG_BEGIN_COLLECTION, 0, 1},
    {"media-col-ready", IPP_TAG_BEGIN_COLLECTION, 0, 0},
    {"media-default", IPP_TAG_KEYWORD, IPP_TAG_NAME, 1},
    {"media-left-margin-supported", IPP_TAG_INTEGER, 0, 0},
    {"media-ready", IPP_TAG_KEYWORD, IPP_TAG_NAME, 0},
    {"media-right-margin-supported", IPP_TAG_INTEGER, 0, 0},
    {"media-size-supported", IPP_TAG_BEGIN_COLLECTION, 0, 0},
    {"media-source-supported", IPP_TAG_KEYWORD, IPP_TAG_NAME, 0},
    {"media-supported", IPP_TAG_KEYWORD, IPP_TAG_NAME, 0},
    {"media-top-margin-supported", IPP_TAG_INTEGER, 0, 0},
    {"media-type-supported", IPP_TAG_KEYWORD, IPP_TAG_NAME, 0},
    {"multiple-document-jobs-supported", IPP_TAG_BOOLEAN, 0, 1},
    {"multiple-operation-time-out", IPP_TAG_INTEGER, 0, 1},
    {"multiple-operation-time-out-action", IPP_TAG_KEYWORD, 0, 1},
    {"natural-language-configured", IPP_TAG_LANGUAGE, 0, 1},
    {"operations-supported", IPP_TAG_ENUM, 0, 0},
    {"orientation-requested-default", IPP_TAG_ENUM, IPP_TAG_NOVALUE, 1},
    {"orientation-requested-supported", IPP_TAG_ENUM, 0, 0},
    {"output-bin-default", IPP_TAG_KEYWORD, IPP_TAG_NAME, 1},
    {"output-bin-supported", IPP_TAG_KEYWORD, IPP_TAG_NAME, 0},
    {"overrides-supported", IPP_TAG_KEYWORD, 0, 0},
    {"page-ranges-supported", IPP_TAG_BOOLEAN, 0, 1},
    {"pages-per-minute", IPP_TAG_INTEGER, 0, 1},
    {"pdl-override-supported", IPP_TAG_KEYWORD, 0, 1},
    {"preferred-attributes-supported", IPP_TAG_BOOLEAN, 0, 1},
    {"print-color-mode-default", IPP_TAG_KEYWORD, 0, 1},
    {"print-color-mode-supported", IPP_TAG_KEYWORD, 0, 0},
    {"print-content-optimize-default", IPP_TAG_KEYWORD, 0, 1},
    {"print-content-optimize-supported", IPP_TAG_KEYWORD, 0, 0},
    {"print-quality-default", IPP_TAG_ENUM, 0, 1},
    {"print-quality-supported", IPP_TAG_ENUM, 0, 0},
    {"print-rendering-intent-default", IPP_TAG_KEYWORD, 0, 1},
    {"print-rendering-intent-supported", IPP_TAG_KEYWORD, 0, 0},
    {"printer-config-change-date-time", IPP_TAG_DATE, 0, 1},
    {"printer-config-change-time", IPP_TAG_INTEGER, 0, 1},
    {"printer-current-time", IPP_TAG_DATE, 0, 1},
    {"printer-device-id", IPP_TAG_TEXT, 0, 1},
    {"printer-geo-location", IPP_TAG_URI, IPP_TAG_UNKNOWN, 1},
    {"printer-get-attributes-supported", IPP_TAG_KEYWORD, 0, 0},
    {"printer-icons", IPP_TAG_URI, 0, 0},
    {"printer-info", IPP_TAG_TEXT, 0, 1},
    {"printer-is-accepting-jobs", IPP_TAG_BOOLEAN, 0, 1},
    {"printer-location", IPP_TAG_TEXT, 0, 1},
    {"printer-make-and-model", IPP_TAG_TEXT, 0, 1},
    {"printer-more-info", IPP_TAG_URI, 0, 1},
    {"printer-name", IPP_TAG_NAME, 0, 1},
    {"printer-organization", IPP_TAG_TEXT, 0, 0},
    {"printer-organizational-unit", IPP_TAG_TEXT, 0, 0},
    {"printer-resolution-default", IPP_TAG_RESOLUTION, 0, 1},
    {"printer-resolution-supported", IPP_TAG_RESOLUTION, 0, 0},
    {"printer-state", IPP_TAG_ENUM, 0, 1},
    {"printer-state-change-date-time", IPP_TAG_DATE, 0, 1},
    {"printer-state-change-time", IPP_TAG_INTEGER, 0, 1},
    {"printer-state-reasons", IPP_TAG_KEYWORD, 0, 0},
    {"printer-supply-info-uri", IPP_TAG_URI, 0, 1},
    {"printer-up-time", IPP_TAG_INTEGER, 0, 1},
    {"printer-uri-supported", IPP_TAG_URI, 0, 2},
    {"printer-uuid", IPP_TAG_URI, 0, 1},
    {"pwg-raster-document-resolution-supported", IPP_TAG_RESOLUTION, 0, 0},
    {"pwg-raster-document-sheet-back", IPP_TAG_KEYWORD, 0, 1},
    {"pwg-raster-document-type-supported", IPP_TAG_KEYWORD, 0, 0},
    {"queued-job-count", IPP_TAG_INTEGER, 0, 1},
    {"sides-default", IPP_TAG_KEYWORD, 0, 1},
    {"sides-supported", IPP_TAG_KEYWORD, 0, 0},
    {"uri-authentication-supported", IPP_TAG_KEYWORD, 0, 2},
    {"uri-security-supported", IPP_TAG_KEYWORD, 0, 2},
    {"which-jobs-supported", IPP_TAG_KEYWORD, 0, 0},
};

// The required set is there, with the patterns and values the suites check.
static void assert_everywhere(ipp_t *a)
{
    for (size_t i = 0; i < COUNT(everywhere); i++) {
        ipp_attribute_t *attr = find(a, everywhere[i].name);
        if (!attr)
            print_error("missing %s\n", everywhere[i].name);
        assert_non_null(attr);
        ipp_tag_t t = ippGetValueTag(attr);
        assert_true(t == everywhere[i].tag || (everywhere[i].alt && t == everywhere[i].alt));
        assert_int_equal(ippGetGroupTag(attr), IPP_TAG_PRINTER);
        if (everywhere[i].count)
            assert_int_equal(ippGetCount(attr), everywhere[i].count);
    }
    static const int ops[] = {0x02, 0x04, 0x05, 0x06, 0x08, 0x09, 0x0a, 0x0b, 0x39, 0x3b, 0x3c};
    for (size_t i = 0; i < COUNT(ops); i++)
        assert_true(ippContainsInteger(find(a, "operations-supported"), ops[i]));
    assert_true(ippContainsInteger(find(a, "finishings-supported"), IPP_FINISHINGS_NONE));
    assert_true(ippContainsString(find(a, "compression-supported"), "gzip"));
    assert_true(ippContainsString(find(a, "compression-supported"), "deflate"));
    assert_true(ippContainsString(find(a, "ipp-features-supported"), "ipp-everywhere"));
    assert_true(ippContainsString(find(a, "overrides-supported"), "document-number"));
    assert_true(ippContainsString(find(a, "overrides-supported"), "pages"));
    assert_true(ippContainsString(find(a, "printer-get-attributes-supported"), "document-format"));
    assert_true(ippGetBoolean(find(a, "page-ranges-supported"), 0));
    assert_true(ippGetBoolean(find(a, "job-ids-supported"), 0));
    assert_matches(str(a, "printer-device-id", 0), DEVICE_ID_RE);
    assert_matches(str(a, "printer-uuid", 0), UUID_RE);
    assert_matches(str(a, "media-default", 0), MEDIA_RE);
    ipp_attribute_t *media = find(a, "media-supported");
    for (int i = 0; i < ippGetCount(media); i++)
        assert_matches(ippGetString(media, i, NULL), MEDIA_RE);
    static const char *const text[] = {"printer-info", "printer-location",
                                       "printer-make-and-model"};
    for (size_t i = 0; i < COUNT(text); i++)
        assert_true(strlen(str(a, text[i], 0)) <= 127);
    ipp_attribute_t *m = find(a, "media-bottom-margin-supported");
    for (int i = 0; i < ippGetCount(m); i++)
        assert_true(ippGetInteger(m, i) >= 0);
}

// The description plus the state, as Get-Printer-Attributes with "all" gives it.
static ipp_t *describe(const bl_queue_info_t *q, ipp_t *caps)
{
    ipp_t *attrs = bl_printer_attrs_build(q, caps);
    assert_non_null(attrs);
    bl_queue_state_t s = test_state();
    bl_printer_attrs_add_state(attrs, &s, NULL);
    return attrs;
}

static void test_everywhere_over_real_reply(void **state)
{
    (void)state;
    ipp_t *caps = corpus_caps("ippeveprinter-reply");
    bl_queue_info_t q = test_queue();
    ipp_t *a = describe(&q, caps);
    assert_everywhere(a);
    // The device is simplex and monochrome: its defaults stay.
    assert_string_equal(str(a, "sides-default", 0), "one-sided");
    assert_int_equal(ippGetCount(find(a, "sides-supported")), 1);
    assert_string_equal(str(a, "print-color-mode-default", 0), "monochrome");
    assert_false(ippGetBoolean(find(a, "color-supported"), 0));
    assert_null(find(a, "pages-per-minute-color"));
    assert_int_equal(ippGetInteger(find(a, "pages-per-minute"), 0), 10);
    // The queue's media default, with the device's own media-col for it.
    assert_string_equal(str(a, "media-default", 0), "iso_a4_210x297mm");
    ipp_t *col = ippGetCollection(find(a, "media-col-default"), 0);
    assert_string_equal(
        ippGetString(ippFindAttribute(col, "media-size-name", IPP_TAG_ZERO), 0, NULL),
        "iso_a4_210x297mm");
    assert_int_equal(ippGetInteger(ippFindAttribute(col, "media-left-margin", IPP_TAG_ZERO), 0),
                     340);
    // Blatt's own identity, formats and policies.
    assert_string_equal(str(a, "printer-make-and-model", 0), "Example Printer via Blatt");
    assert_string_equal(str(a, "printer-device-id", 0),
                        "MFG:Example;MDL:Printer;CMD:PDF,PWG,URF,JPEG;");
    ipp_attribute_t *df = find(a, "document-format-supported");
    assert_int_equal(ippGetCount(df), 5);
    assert_string_equal(ippGetString(df, 3, NULL), "image/urf");
    assert_string_equal(ippGetString(df, 4, NULL), "application/octet-stream");
    assert_string_equal(str(a, "document-format-default", 0), "application/octet-stream");
    ipp_attribute_t *ov = find(a, "overrides-supported");
    assert_int_equal(ippGetCount(ov), 3);
    assert_string_equal(ippGetString(ov, 1, NULL), "document-numbers");
    assert_string_equal(str(a, "printer-icons", 0), "http://localhost:8631/icons/q-sm.png");
    assert_string_equal(str(a, "printer-icons", 2), "http://localhost:8631/icons/q-lg.png");
    assert_string_equal(str(a, "uri-security-supported", 1), "tls");
    assert_string_equal(str(a, "uri-authentication-supported", 1), "none");
    assert_string_equal(str(a, "job-hold-until-default", 0), "no-hold");
    assert_int_equal(ippGetValueTag(find(a, "printer-geo-location")), IPP_TAG_UNKNOWN);
    // The device's supplies pass through, the same count on both.
    assert_int_equal(ippGetCount(find(a, "printer-supply")), 2);
    assert_int_equal(ippGetCount(find(a, "printer-supply-description")), 2);
    assert_string_equal(str(a, "printer-supply-description", 1), "Black Toner");
    // The device's raster capabilities; sheet-back "normal" when the device has none.
    assert_int_equal(ippGetCount(find(a, "pwg-raster-document-type-supported")), 2);
    assert_string_equal(str(a, "pwg-raster-document-sheet-back", 0), "normal");
    ippDelete(a);
    ippDelete(caps);
}

static void test_queue_defaults_applied(void **state)
{
    (void)state;
    ipp_t *caps = corpus_caps("ippeveprinter-duplex-color-reply");
    bl_queue_info_t q = test_queue();
    q.default_media = "na_legal_8.5x14in";
    q.hold_by_default = true;
    ipp_t *a = describe(&q, caps);
    assert_everywhere(a);
    assert_string_equal(str(a, "sides-default", 0), "two-sided-long-edge");
    assert_string_equal(str(a, "print-color-mode-default", 0), "monochrome"); // device: auto
    assert_true(ippGetBoolean(find(a, "color-supported"), 0));
    assert_int_equal(ippGetInteger(find(a, "pages-per-minute-color"), 0), 10);
    assert_string_equal(str(a, "media-default", 0), "na_legal_8.5x14in");
    ipp_t *col = ippGetCollection(find(a, "media-col-default"), 0);
    assert_string_equal(
        ippGetString(ippFindAttribute(col, "media-size-name", IPP_TAG_ZERO), 0, NULL),
        "na_legal_8.5x14in");
    assert_string_equal(str(a, "job-hold-until-default", 0), "indefinite");
    assert_string_equal(str(a, "pwg-raster-document-sheet-back", 0), "rotated");
    assert_int_equal(ippGetCount(find(a, "urf-supported")), 8);
    assert_int_equal(ippGetCount(find(a, "printer-supply")), 5);
    ippDelete(a);
    // Defaults the device cannot do fall back to the device's own.
    q.default_media = "iso_a3_297x420mm";
    q.default_sides = "two-sided-short-edge";
    q.default_color_mode = "highlight";
    a = describe(&q, caps);
    assert_string_equal(str(a, "media-default", 0), "na_letter_8.5x11in");
    assert_string_equal(str(a, "sides-default", 0), "two-sided-short-edge");
    assert_string_equal(str(a, "print-color-mode-default", 0), "auto");
    ippDelete(a);
    ippDelete(caps);
}

static void test_unknown_and_virtual_devices(void **state)
{
    (void)state;
    bl_queue_info_t q = test_queue();
    // Caps not known yet: safe defaults everywhere, no supplies.
    ipp_t *a = describe(&q, NULL);
    assert_everywhere(a);
    assert_string_equal(str(a, "printer-make-and-model", 0), "Blatt virtual printer");
    assert_string_equal(str(a, "printer-device-id", 0),
                        "MFG:Blatt;MDL:virtual printer;CMD:PDF,PWG,URF,JPEG;");
    assert_string_equal(str(a, "sides-default", 0), "one-sided");
    assert_string_equal(str(a, "media-default", 0), "iso_a4_210x297mm");
    assert_null(find(a, "printer-supply"));
    assert_null(find(a, "printer-supply-description"));
    ippDelete(a);
    // A file queue: the built-in caps, duplex by default.
    ipp_t *caps = bl_caps_virtual("application/pdf");
    static const char *const pdf_only[] = {"application/pdf"};
    q.formats = pdf_only;
    q.num_formats = 1;
    q.make_model = "Finance PDF archive";
    a = describe(&q, caps);
    assert_string_equal(str(a, "printer-make-and-model", 0), "Finance PDF archive");
    assert_string_equal(str(a, "printer-device-id", 0), "MFG:Blatt;MDL:virtual printer;CMD:PDF;");
    assert_string_equal(str(a, "sides-default", 0), "two-sided-long-edge");
    assert_string_equal(str(a, "print-color-mode-default", 0), "monochrome");
    assert_null(find(a, "pwg-raster-document-type-supported")); // neither device nor queue
    assert_null(find(a, "urf-supported"));
    assert_int_equal(ippGetCount(find(a, "media-col-database")), 6);
    assert_int_equal(ippGetCount(find(a, "document-format-supported")), 2);
    ippDelete(a);
    ippDelete(caps);
}

static void test_device_strings_cleaned(void **state)
{
    (void)state;
    ipp_t *caps = ippNew();
    // What passed the sanitiser can still break a device ID or exceed 127 bytes.
    char mm[256];
    snprintf(mm, sizeof(mm), "Acme:Evil;Corp ");
    for (size_t n = strlen(mm); n + 2 < 250; n += 2)
        strcat(mm, "\xc3\xa4"); // a
    ippAddString(caps, P, IPP_TAG_TEXT, "printer-make-and-model", NULL, mm);
    ippAddString(caps, P, IPP_TAG_TEXT, "printer-device-id", NULL,
                 "MANUFACTURER:Acme Corp;MODEL:Laser 9000 Pro;CMD:PCL;");
    static const char *const media[] = {"a4", "iso_a4_210x297mm", "na_letter_8.5x11in_tray"};
    ippAddStrings(caps, P, IPP_TAG_KEYWORD, "media-supported", 3, NULL, media);
    bl_queue_info_t q = test_queue();
    char info[400] = "";
    for (int i = 0; i < 150; i++)
        strcat(info, "\xc3\xb6"); // o
    q.info = info;
    ipp_t *a = describe(&q, caps);
    assert_string_equal(str(a, "printer-device-id", 0),
                        "MFG:Acme Corp;MDL:Laser 9000 Pro;CMD:PDF,PWG,URF,JPEG;");
    const char *m = str(a, "printer-make-and-model", 0);
    assert_true(strlen(m) <= 127);
    assert_int_equal(strncmp(m, "Acme:Evil;Corp ", 15), 0);
    assert_string_equal(m + strlen(m) - 10, " via Blatt");
    assert_int_equal((strlen(m) - 15 - 10) % 2, 0); // no half character
    assert_int_equal(strlen(str(a, "printer-info", 0)), 126);
    ipp_attribute_t *ms = find(a, "media-supported");
    assert_int_equal(ippGetCount(ms), 1); // only the PWG self-describing name
    assert_string_equal(ippGetString(ms, 0, NULL), "iso_a4_210x297mm");
    ippDelete(a);
    // Without a device ID, MFG and MDL come from make and model, cleaned of ':' and ';'.
    ippDeleteAttribute(caps, ippFindAttribute(caps, "printer-device-id", IPP_TAG_ZERO));
    a = describe(&q, caps);
    assert_matches(str(a, "printer-device-id", 0), DEVICE_ID_RE);
    assert_int_equal(strncmp(str(a, "printer-device-id", 0), "MFG:AcmeEvilCorp;MDL:", 21), 0);
    ippDelete(a);
    ippDelete(caps);
}

// Copies what ra (comma-separated keywords, NULL: no requested-attributes) asks for.
static ipp_t *requested(ipp_t *src, const char *list)
{
    ipp_t *dst = ippNew(), *req = ippNew();
    ipp_attribute_t *ra = NULL;
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", list ? list : "");
    for (char *save = NULL, *v = strtok_r(buf, ",", &save); list && v;
         v = strtok_r(NULL, ",", &save)) {
        if (ra)
            ippSetString(req, &ra, ippGetCount(ra), v);
        else
            ra = ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", NULL,
                              v);
    }
    bl_ipp_copy_requested(dst, src, ra);
    ippDelete(req);
    return dst;
}

static int num_attrs(ipp_t *ipp)
{
    int n = 0;
    for (ipp_attribute_t *a = ippFirstAttribute(ipp); a; a = ippNextAttribute(ipp))
        n++;
    return n;
}

static void test_copy_requested(void **state)
{
    (void)state;
    ipp_t *caps = corpus_caps("ippeveprinter-reply");
    bl_queue_info_t q = test_queue();
    ipp_t *src = describe(&q, caps);
    int total = num_attrs(src);
    // No requested-attributes and "all": everything but media-col-database.
    ipp_t *d = requested(src, NULL);
    assert_int_equal(num_attrs(d), total - 1);
    assert_null(find(d, "media-col-database"));
    assert_int_equal(ippGetGroupTag(find(d, "printer-name")), IPP_TAG_PRINTER);
    ippDelete(d);
    d = requested(src, "all");
    assert_int_equal(num_attrs(d), total - 1);
    ippDelete(d);
    d = requested(src, "all,media-col-database");
    assert_int_equal(num_attrs(d), total);
    assert_int_equal(ippGetCount(find(d, "media-col-database")), 5);
    ippDelete(d);
    // Group names.
    d = requested(src, "job-template");
    static const char *const templates[] = {"sides-supported",
                                            "sides-default",
                                            "media-source-supported",
                                            "media-col-ready",
                                            "media-ready",
                                            "copies-default",
                                            "printer-resolution-supported",
                                            "job-hold-until-supported",
                                            "media-bottom-margin-supported",
                                            "overrides-supported"};
    for (size_t i = 0; i < COUNT(templates); i++)
        assert_non_null(find(d, templates[i]));
    assert_null(find(d, "printer-name"));
    assert_null(find(d, "pwg-raster-document-type-supported"));
    assert_null(find(d, "media-col-database"));
    int template_count = num_attrs(d);
    ippDelete(d);
    d = requested(src, "printer-description");
    assert_non_null(find(d, "printer-name"));
    assert_non_null(find(d, "printer-state"));
    assert_non_null(find(d, "pwg-raster-document-type-supported"));
    assert_non_null(find(d, "job-ids-supported"));
    assert_null(find(d, "sides-default"));
    assert_int_equal(num_attrs(d) + template_count, total - 1);
    ippDelete(d);
    // Single names; unknown names are ignored.
    d = requested(src, "printer-uri-supported");
    assert_int_equal(num_attrs(d), 1);
    assert_int_equal(ippGetCount(find(d, "printer-uri-supported")), 2);
    ippDelete(d);
    d = requested(src, "no-such-attribute,media-col-database,printer-state");
    assert_int_equal(num_attrs(d), 2);
    ippDelete(d);
    d = requested(src, "no-such-attribute");
    assert_int_equal(num_attrs(d), 0);
    ippDelete(d);
    ippDelete(src);
    ippDelete(caps);
}

static void test_state_attributes(void **state)
{
    (void)state;
    static const char *const reasons[] = {"media-empty-warning", "Bad\nReason", "paused"};
    bl_queue_state_t s = test_state();
    s.state = IPP_PSTATE_STOPPED;
    s.reasons = reasons;
    s.num_reasons = 3;
    s.accepting = false;
    s.message = "Tray 2\nempty";
    ipp_t *a = ippNew();
    bl_printer_attrs_add_state(a, &s, NULL);
    assert_int_equal(ippGetInteger(find(a, "printer-state"), 0), IPP_PSTATE_STOPPED);
    ipp_attribute_t *r = find(a, "printer-state-reasons");
    assert_int_equal(ippGetCount(r), 2);
    assert_string_equal(ippGetString(r, 1, NULL), "paused");
    assert_string_equal(str(a, "printer-state-message", 0), "Tray 2 empty");
    assert_false(ippGetBoolean(find(a, "printer-is-accepting-jobs"), 0));
    assert_int_equal(ippGetInteger(find(a, "queued-job-count"), 0), 2);
    // The up-time clock is the Unix time (as in cupsd), so lpstat shows real dates.
    assert_int_equal(ippGetInteger(find(a, "printer-up-time"), 0), 1700000200);
    assert_int_equal(ippGetInteger(find(a, "printer-state-change-time"), 0), 1700000100);
    assert_int_equal(ippGetInteger(find(a, "printer-config-change-time"), 0), 1700000050);
    assert_int_equal(ippDateToTime(ippGetDate(find(a, "printer-current-time"), 0)), 1700000200);
    assert_int_equal(ippDateToTime(ippGetDate(find(a, "printer-state-change-date-time"), 0)),
                     1700000100);
    assert_int_equal(ippDateToTime(ippGetDate(find(a, "printer-config-change-date-time"), 0)),
                     1700000050);
    ippDelete(a);
    // No reasons: "none"; a bogus state reads as stopped; times before boot count as boot.
    s.num_reasons = 0;
    s.state = 42;
    s.config_change_time = 1600000000;
    a = ippNew();
    bl_printer_attrs_add_state(a, &s, NULL);
    assert_string_equal(str(a, "printer-state-reasons", 0), "none");
    assert_int_equal(ippGetInteger(find(a, "printer-state"), 0), IPP_PSTATE_STOPPED);
    assert_int_equal(ippGetInteger(find(a, "printer-config-change-time"), 0), 1700000000);
    ippDelete(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_everywhere_over_real_reply),
        cmocka_unit_test(test_queue_defaults_applied),
        cmocka_unit_test(test_unknown_and_virtual_devices),
        cmocka_unit_test(test_device_strings_cleaned),
        cmocka_unit_test(test_copy_requested),
        cmocka_unit_test(test_state_attributes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
