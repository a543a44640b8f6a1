// The IPP Everywhere description of a Blatt queue, built from its config and device caps.
// Licensed under the Apache License, Version 2.0.
//
// Design notes
// - The description is what PWG 5100.12 (IPP/2.0) and PWG 5100.14 (IPP Everywhere) require of a
//   printer, checked by Debian's ipp-1.1.test, ipp-2.0.test and ipp-everywhere.test.
// - Server-side attributes (names, URIs, operations, formats, job handling) are Blatt's own.
//   Job template attributes come from the sanitised device caps, restricted to the values the
//   suites accept (PWG media names, the registered keywords) and completed with safe defaults
//   where the device says nothing. The queue's defaults (duplex, monochrome, media) win where
//   the device supports them.
// - document-format-supported is what the format graph accepts (q->formats), never the
//   device's list. Strings from the device (make and model, device ID) are re-checked and cut
//   to the lengths the suites allow.
// - Requested-attributes: "all" is everything but media-col-database (sent only when named, as
//   CUPS does); "job-template" is every <template>-default/-supported/-ready/-database and the
//   media-col member -supported attributes; "printer-description" is the rest.
#include "ipp/printer-attrs.h"

#include <cups/pwg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P IPP_TAG_PRINTER
#define MAX_TEXT 127 // printer-info, -location, -make-and-model (ipp-1.1.test: ^.{0,127}$)
#define MAX_VALUES 1000
#define FALLBACK_MARGIN 423 // 1/6 inch when the device reports no margins

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static ipp_attribute_t *cap(ipp_t *caps, const char *name)
{
    return caps ? ippFindAttribute(caps, name, IPP_TAG_ZERO) : NULL;
}

static const char *cap_string(ipp_t *caps, const char *name)
{
    ipp_attribute_t *a = cap(caps, name);
    ipp_tag_t t = ippGetValueTag(a);
    return a && t >= IPP_TAG_TEXT && t <= IPP_TAG_MIMETYPE ? ippGetString(a, 0, NULL) : NULL;
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        if (!strcmp(s, list[i]))
            return true;
    }
    return false;
}

static bool has_string(ipp_attribute_t *a, const char *s)
{
    ipp_tag_t t = ippGetValueTag(a);
    return a && s && t >= IPP_TAG_TEXT && t <= IPP_TAG_MIMETYPE && ippContainsString(a, s);
}

static bool has_format(const bl_queue_info_t *q, const char *format)
{
    return in_list(format, q->formats, q->formats ? q->num_formats : 0);
}

// Cuts s to at most max bytes without splitting a UTF-8 sequence.
static void truncate_utf8(char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    s[n] = '\0';
}

static void add_text(ipp_t *dst, const char *name, const char *s, size_t max)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", s ? s : "");
    truncate_utf8(buf, max);
    ippAddString(dst, P, IPP_TAG_TEXT, name, NULL, buf);
}

static void add_keywords(ipp_t *dst, const char *name, const char *const *v, size_t n)
{
    ippAddStrings(dst, P, IPP_TAG_KEYWORD, name, (int)n, NULL, v);
}

// Copies the string values of src that keep() accepts (all when keep is NULL) under src's
// value tag; adds nothing when none is left. Returns the new attribute or NULL.
static ipp_attribute_t *copy_strings(ipp_t *dst, ipp_attribute_t *src, const char *name,
                                     bool (*keep)(const char *s, const void *ctx), const void *ctx)
{
    ipp_tag_t tag = ippGetValueTag(src);
    if (!src || tag < IPP_TAG_TEXT || tag > IPP_TAG_MIMETYPE)
        return NULL;
    const char *vals[MAX_VALUES];
    int n = 0, count = ippGetCount(src);
    for (int i = 0; i < count && n < MAX_VALUES; i++) {
        const char *s = ippGetString(src, i, NULL);
        if (s && (!keep || keep(s, ctx)))
            vals[n++] = s;
    }
    return n ? ippAddStrings(dst, P, tag, name, n, NULL, vals) : NULL;
}

typedef struct keyword_set {
    const char *const *list;
    size_t n;
} keyword_set_t;

static bool keep_listed(const char *s, const void *ctx)
{
    const keyword_set_t *set = ctx;
    return in_list(s, set->list, set->n);
}

// The queue's default: the configured one if supported, else the device's, else the first.
static const char *pick_default(ipp_attribute_t *supported, const char *queue, const char *device)
{
    if (has_string(supported, queue))
        return queue;
    if (has_string(supported, device))
        return device;
    return supported ? ippGetString(supported, 0, NULL) : NULL;
}

// <name>-supported from the caps restricted to `allowed` (fallback when none is left) and
// <name>-default picked as pick_default() does.
static void add_keyword_choice(ipp_t *dst, ipp_t *caps, const char *name,
                               const char *const *allowed, size_t n_allowed,
                               const char *const *fallback, size_t n_fallback, const char *queue)
{
    char sup[128], def[128];
    snprintf(sup, sizeof(sup), "%s-supported", name);
    snprintf(def, sizeof(def), "%s-default", name);
    keyword_set_t set = {allowed, n_allowed};
    ipp_attribute_t *s = copy_strings(dst, cap(caps, sup), sup, allowed ? keep_listed : NULL, &set);
    if (!s) {
        add_keywords(dst, sup, fallback, n_fallback);
        s = ippFindAttribute(dst, sup, IPP_TAG_ZERO);
    }
    const char *d = pick_default(s, queue, cap_string(caps, def));
    if (d)
        ippAddString(dst, P, ippGetValueTag(s), def, NULL, d);
}

// Copies an attribute of the caps as it is; false when the device has none.
static bool copy_cap(ipp_t *dst, ipp_t *caps, const char *name)
{
    ipp_attribute_t *a = cap(caps, name);
    return a && ippCopyAttribute(dst, a, 0) != NULL;
}

// One field of an IEEE 1284 device ID (first of the keys), cleaned for reuse in ours.
static void device_id_field(const char *id, const char *k1, const char *k2, char *out, size_t len)
{
    out[0] = '\0';
    for (const char *p = id; p && *p;) {
        while (*p == ' ')
            p++;
        const char *colon = strchr(p, ':'), *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        size_t klen = colon ? (size_t)(colon - p) : 0;
        if (colon && colon < end &&
            ((klen == strlen(k1) && !strncasecmp(p, k1, klen)) ||
             (klen == strlen(k2) && !strncasecmp(p, k2, klen)))) {
            size_t n = (size_t)(end - colon - 1);
            snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), colon + 1);
            return;
        }
        p = *end ? end + 1 : end;
    }
}

// Removes ';', ':' and control characters, trims spaces, cuts to max bytes.
static void clean_field(char *s, size_t max)
{
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != 0x7f && c != ';' && c != ':' && (n || c != ' '))
            s[n++] = (char)c;
    }
    s[n] = '\0';
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
    truncate_utf8(s, max);
}

// printer-device-id: MFG and MDL from the device (ID, else make and model), CMD from the
// formats the queue accepts.
static void add_device_id(ipp_t *dst, const bl_queue_info_t *q, ipp_t *caps, const char *mm)
{
    char mfg[128] = "", mdl[128] = "", cmd[64] = "";
    const char *id = cap_string(caps, "printer-device-id");
    device_id_field(id, "MFG", "MANUFACTURER", mfg, sizeof(mfg));
    device_id_field(id, "MDL", "MODEL", mdl, sizeof(mdl));
    clean_field(mfg, 63);
    clean_field(mdl, 127);
    if (!mfg[0] || !mdl[0]) {
        const char *dev = cap_string(caps, "printer-make-and-model");
        const char *src = dev ? dev : mm;
        const char *sp = strchr(src, ' ');
        snprintf(mfg, sizeof(mfg), "%.*s", sp ? (int)(sp - src) : 63, src);
        snprintf(mdl, sizeof(mdl), "%s", sp ? sp + 1 : src);
        clean_field(mfg, 63);
        clean_field(mdl, 127);
    }
    static const char *const fmt[][2] = {{"application/pdf", "PDF"},
                                         {"image/pwg-raster", "PWG"},
                                         {"image/urf", "URF"},
                                         {"image/jpeg", "JPEG"}};
    for (size_t i = 0; i < COUNT(fmt); i++) {
        if (has_format(q, fmt[i][0]))
            snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%s", cmd[0] ? "," : "",
                     fmt[i][1]);
    }
    char buf[400];
    snprintf(buf, sizeof(buf), "MFG:%s;MDL:%s;%s%s%s", mfg[0] ? mfg : "Blatt",
             mdl[0] ? mdl : "Printer", cmd[0] ? "CMD:" : "", cmd, cmd[0] ? ";" : "");
    ippAddString(dst, P, IPP_TAG_TEXT, "printer-device-id", NULL, buf);
}

// printer-make-and-model: configured, else "<device> via Blatt", else the virtual printer.
static void make_and_model(const bl_queue_info_t *q, ipp_t *caps, char *buf, size_t len)
{
    const char *dev = cap_string(caps, "printer-make-and-model");
    if (q->make_model)
        snprintf(buf, len, "%s", q->make_model);
    else if (dev && strcmp(dev, "Blatt virtual printer")) {
        snprintf(buf, len, "%s", dev);
        truncate_utf8(buf, MAX_TEXT - strlen(" via Blatt"));
        snprintf(buf + strlen(buf), len - strlen(buf), " via Blatt");
    } else
        snprintf(buf, len, "Blatt virtual printer");
    truncate_utf8(buf, MAX_TEXT);
}

static void add_icons(ipp_t *dst, const char *base)
{
    static const char *const suffix[] = {"-sm.png", ".png", "-lg.png"}; // 48, 128, 512 px
    char uris[3][1024];
    const char *v[3];
    for (size_t i = 0; i < 3; i++) {
        snprintf(uris[i], sizeof(uris[i]), "%s%s", base, suffix[i]);
        v[i] = uris[i];
    }
    ippAddStrings(dst, P, IPP_TAG_URI, "printer-icons", 3, NULL, v);
}

// printer-uri-supported with its security and authentication (PWG 5100.23: "oauth" plus
// oauth-authorization-server-uri where bearer tokens are taken).
static void add_uris(ipp_t *dst, const bl_queue_info_t *q)
{
    const char *auth[8];
    size_t n = q->uris && q->uri_security ? q->num_uris : 0;
    if (n == 0)
        return;
    if (n > COUNT(auth))
        n = COUNT(auth);
    for (size_t i = 0; i < n; i++)
        auth[i] = q->uri_authentication ? q->uri_authentication : "none";
    ippAddStrings(dst, P, IPP_TAG_URI, "printer-uri-supported", (int)n, NULL, q->uris);
    add_keywords(dst, "uri-security-supported", q->uri_security, n);
    add_keywords(dst, "uri-authentication-supported", auth, n);
    if (q->oauth_authorization_server && q->oauth_authorization_server[0] &&
        !strcmp(auth[0], "oauth")) {
        const char *v[8];
        for (size_t i = 0; i < n; i++)
            v[i] = q->oauth_authorization_server;
        ippAddStrings(dst, P, IPP_TAG_URI, "oauth-authorization-server-uri", (int)n, NULL, v);
    }
}

// Who the queue is: names, identifiers, URIs of its pages.
static void add_identity(ipp_t *dst, const bl_queue_info_t *q, ipp_t *caps)
{
    char mm[256];
    make_and_model(q, caps, mm, sizeof(mm));
    ippAddString(dst, P, IPP_TAG_NAME, "printer-name", NULL, q->name ? q->name : "");
    add_text(dst, "printer-info", q->info ? q->info : q->name, MAX_TEXT);
    add_text(dst, "printer-location", q->location, MAX_TEXT);
    add_text(dst, "printer-make-and-model", mm, MAX_TEXT);
    add_device_id(dst, q, caps, mm);
    if (q->uuid)
        ippAddString(dst, P, IPP_TAG_URI, "printer-uuid", NULL, q->uuid);
    if (q->more_info_uri)
        ippAddString(dst, P, IPP_TAG_URI, "printer-more-info", NULL, q->more_info_uri);
    if (q->icons_base)
        add_icons(dst, q->icons_base);
    if (q->supply_info_uri)
        ippAddString(dst, P, IPP_TAG_URI, "printer-supply-info-uri", NULL, q->supply_info_uri);
    ippAddOutOfBand(dst, P, IPP_TAG_UNKNOWN, "printer-geo-location");
    add_text(dst, "printer-organization", "", MAX_TEXT);
    add_text(dst, "printer-organizational-unit", "", MAX_TEXT);
    if (!copy_cap(dst, caps, "printer-kind"))
        ippAddString(dst, P, IPP_TAG_KEYWORD, "printer-kind", NULL, "document");
    add_uris(dst, q);
}

// document-format-supported: the queue's formats, plus the auto-typed default.
static void add_formats(ipp_t *dst, const bl_queue_info_t *q)
{
    static const char *const octet = "application/octet-stream";
    const char *v[MAX_VALUES];
    size_t n = 0;
    for (size_t i = 0; q->formats && i < q->num_formats && n < MAX_VALUES - 1; i++) {
        if (q->formats[i] && strcmp(q->formats[i], octet))
            v[n++] = q->formats[i];
    }
    v[n++] = octet;
    ippAddStrings(dst, P, IPP_TAG_MIMETYPE, "document-format-supported", (int)n, NULL, v);
    ippAddString(dst, P, IPP_TAG_MIMETYPE, "document-format-default", NULL, octet);
}

// What the server does with jobs: operations, formats, versions, job handling.
static void add_server(ipp_t *dst, const bl_queue_info_t *q)
{
    static const int ops[] = {IPP_OP_PRINT_JOB,       IPP_OP_VALIDATE_JOB,
                              IPP_OP_CREATE_JOB,      IPP_OP_SEND_DOCUMENT,
                              IPP_OP_CANCEL_JOB,      IPP_OP_GET_JOB_ATTRIBUTES,
                              IPP_OP_GET_JOBS,        IPP_OP_GET_PRINTER_ATTRIBUTES,
                              IPP_OP_HOLD_JOB,        IPP_OP_RELEASE_JOB,
                              IPP_OP_CANCEL_MY_JOBS,  IPP_OP_CLOSE_JOB,
                              IPP_OP_IDENTIFY_PRINTER};
    ippAddIntegers(dst, P, IPP_TAG_ENUM, "operations-supported", (int)COUNT(ops), ops);
    static const char *const charsets[] = {"us-ascii", "utf-8"};
    ippAddString(dst, P, IPP_TAG_CHARSET, "charset-configured", NULL, "utf-8");
    ippAddStrings(dst, P, IPP_TAG_CHARSET, "charset-supported", 2, NULL, charsets);
    ippAddString(dst, P, IPP_TAG_LANGUAGE, "natural-language-configured", NULL, "en");
    ippAddString(dst, P, IPP_TAG_LANGUAGE, "generated-natural-language-supported", NULL, "en");
    static const char *const versions[] = {"1.1", "2.0"};
    add_keywords(dst, "ipp-versions-supported", versions, 2);
    static const char *const features[] = {"ipp-everywhere", "ipp-everywhere-server"};
    add_keywords(dst, "ipp-features-supported", features, 2);
    static const char *const compression[] = {"none", "deflate", "gzip"}; // inflated on receipt
    add_keywords(dst, "compression-supported", compression, 3);
    add_formats(dst, q);
    static const char *const creation[] = {"copies",
                                           "document-format",
                                           "document-name",
                                           "ipp-attribute-fidelity",
                                           "job-hold-until",
                                           "job-name",
                                           "job-priority",
                                           "media",
                                           "media-col",
                                           "page-ranges",
                                           "print-color-mode",
                                           "print-quality",
                                           "printer-resolution",
                                           "sides"};
    add_keywords(dst, "job-creation-attributes-supported", creation, COUNT(creation));
    static const char *const holds[] = {"no-hold", "indefinite"};
    add_keywords(dst, "job-hold-until-supported", holds, 2);
    ippAddString(dst, P, IPP_TAG_KEYWORD, "job-hold-until-default", NULL,
                 q->hold_by_default ? "indefinite" : "no-hold");
    ippAddBoolean(dst, P, "job-ids-supported", 1);
    ippAddBoolean(dst, P, "multiple-document-jobs-supported", 0);
    ippAddInteger(dst, P, IPP_TAG_INTEGER, "multiple-operation-time-out",
                  q->multiple_operation_timeout > 0 ? q->multiple_operation_timeout : 300);
    ippAddString(dst, P, IPP_TAG_KEYWORD, "multiple-operation-time-out-action", NULL, "abort-job");
    ippAddString(dst, P, IPP_TAG_KEYWORD, "pdl-override-supported", NULL, "attempted");
    ippAddString(dst, P, IPP_TAG_KEYWORD, "printer-get-attributes-supported", NULL,
                 "document-format");
    static const char *const which[] = {"completed", "not-completed", "all"};
    add_keywords(dst, "which-jobs-supported", which, 3);
    ippAddRange(dst, P, "job-k-octets-supported", 0, INT_MAX);
    ippAddInteger(dst, P, IPP_TAG_INTEGER, "job-priority-supported", 100);
    ippAddInteger(dst, P, IPP_TAG_INTEGER, "job-priority-default", 50);
    ippAddString(dst, P, IPP_TAG_KEYWORD, "job-sheets-supported", NULL, "none");
    ippAddString(dst, P, IPP_TAG_KEYWORD, "job-sheets-default", NULL, "none");
    ippAddString(dst, P, IPP_TAG_KEYWORD, "identify-actions-supported", NULL, "display");
    ippAddString(dst, P, IPP_TAG_KEYWORD, "identify-actions-default", NULL, "display");
    ippAddBoolean(dst, P, "preferred-attributes-supported", 0);
    // Blatt overrides nothing per document or page range, so the list is exactly the required
    // "document-numbers" and "pages". Debian's ipp-everywhere.test checks the singular
    // "document-number" (a bug in the test), so that value is listed too.
    static const char *const overrides[] = {"document-number", "document-numbers", "pages"};
    add_keywords(dst, "overrides-supported", overrides, 3);
    ippAddBoolean(dst, P, "page-ranges-supported", has_format(q, "application/pdf"));
}

// Colour, speed, supplies and trays as the device reports them.
static void add_device_state_info(ipp_t *dst, ipp_t *caps)
{
    ipp_attribute_t *modes = ippFindAttribute(dst, "print-color-mode-supported", IPP_TAG_ZERO);
    ipp_attribute_t *cs = cap(caps, "color-supported");
    bool color = has_string(modes, "color") && (!cs || ippGetBoolean(cs, 0));
    ippAddBoolean(dst, P, "color-supported", color);
    ipp_attribute_t *ppm = cap(caps, "pages-per-minute");
    int speed = ppm ? ippGetInteger(ppm, 0) : 1;
    ippAddInteger(dst, P, IPP_TAG_INTEGER, "pages-per-minute", speed);
    if (color) {
        ipp_attribute_t *ppmc = cap(caps, "pages-per-minute-color");
        ippAddInteger(dst, P, IPP_TAG_INTEGER, "pages-per-minute-color",
                      ppmc ? ippGetInteger(ppmc, 0) : speed);
    }
    ipp_attribute_t *supply = cap(caps, "printer-supply");
    ipp_attribute_t *desc = cap(caps, "printer-supply-description");
    if (supply && desc && ippGetCount(supply) == ippGetCount(desc)) {
        ippCopyAttribute(dst, supply, 0);
        ippCopyAttribute(dst, desc, 0);
    }
    copy_cap(dst, caps, "printer-input-tray");
    copy_cap(dst, caps, "printer-output-tray");
}

// sides-* and print-color-mode-*, with the queue's defaults where the device can do them.
static void add_sides_color(ipp_t *dst, const bl_queue_info_t *q, ipp_t *caps)
{
    static const char *const sides[] = {"one-sided", "two-sided-long-edge", "two-sided-short-edge"};
    add_keyword_choice(dst, caps, "sides", sides, 3, sides, 1, q->default_sides);
    static const char *const modes[] = {
        "auto",      "auto-monochrome", "bi-level",         "color",
        "highlight", "monochrome",      "process-bi-level", "process-monochrome"};
    ipp_attribute_t *cs = cap(caps, "color-supported");
    static const char *const color_fallback[] = {"auto", "color", "monochrome"};
    static const char *const mono_fallback[] = {"monochrome"};
    bool color = cs && ippGetBoolean(cs, 0);
    add_keyword_choice(dst, caps, "print-color-mode", modes, COUNT(modes),
                       color ? color_fallback : mono_fallback, color ? 3 : 1,
                       q->default_color_mode);
}

// Is s a PWG 5101.1 dimension: [1-9][0-9]*(\.[0-9]*[1-9])? or 0\.[0-9]*[1-9]?
static bool dim_ok(const char *s, size_t n)
{
    if (n == 0 || s[0] < '0' || s[0] > '9')
        return false;
    size_t i = 1;
    if (s[0] == '0') {
        if (n < 3 || s[1] != '.')
            return false;
    } else {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == n)
            return true;
        if (s[i] != '.' || i + 1 == n)
            return false;
    }
    for (i++; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return s[n - 1] != '0';
}

// A self-describing PWG media name (class_name_WxHunit), as ipp-2.0.test's MEDIA_REGEX.
static bool pwg_media_ok(const char *s, const void *ctx)
{
    (void)ctx;
    static const char *const in_classes[] = {"custom", "na", "asme", "roc", "oe", "roll"};
    static const char *const mm_classes[] = {"custom", "iso", "jis", "jpn", "prc", "om", "roll"};
    const char *u1 = strchr(s, '_'), *u2 = u1 ? strchr(u1 + 1, '_') : NULL;
    if (!u1 || !u2 || u2 == u1 + 1 || strchr(u2 + 1, '_'))
        return false;
    for (const char *p = u1 + 1; p < u2; p++) {
        bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
        if (!alnum && (p == u1 + 1 || *p != '-'))
            return false;
    }
    const char *dims = u2 + 1, *x = strchr(dims, 'x');
    size_t len = strlen(dims);
    if (!x || len < 5)
        return false;
    const char *unit = dims + len - 2;
    char cls[16];
    snprintf(cls, sizeof(cls), "%.*s", (int)(u1 - s < 15 ? u1 - s : 15), s);
    bool in = !strcmp(unit, "in") && in_list(cls, in_classes, COUNT(in_classes));
    bool mm = !strcmp(unit, "mm") && in_list(cls, mm_classes, COUNT(mm_classes));
    return (in || mm) && x < unit && dim_ok(dims, (size_t)(x - dims)) &&
           dim_ok(x + 1, (size_t)(unit - x - 1));
}

// The largest value of a margin list (no clipping), or the fallback.
static int max_margin(ipp_t *caps, const char *name)
{
    ipp_attribute_t *a = cap(caps, name);
    int m = -1;
    for (int i = 0; a && i < ippGetCount(a); i++) {
        if (ippGetInteger(a, i) > m)
            m = ippGetInteger(a, i);
    }
    return m < 0 ? FALLBACK_MARGIN : m;
}

static void add_size(ipp_t *col, const pwg_media_t *m)
{
    ipp_t *size = ippNew();
    ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "x-dimension", m->width);
    ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "y-dimension", m->length);
    ippAddCollection(col, IPP_TAG_ZERO, "media-size", size);
    ippDelete(size);
}

static const char *const margin_names[] = {"media-bottom-margin", "media-left-margin",
                                           "media-right-margin", "media-top-margin"};

// A media-col for a PWG size name with the device's (largest) margins. Caller owns.
static ipp_t *make_media_col(ipp_t *caps, const char *pwg)
{
    pwg_media_t *m = pwgMediaForPWG(pwg);
    if (!m)
        return NULL;
    ipp_t *col = ippNew();
    add_size(col, m);
    ippAddString(col, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-size-name", NULL, pwg);
    for (size_t i = 0; i < COUNT(margin_names); i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s-supported", margin_names[i]);
        ippAddInteger(col, IPP_TAG_ZERO, IPP_TAG_INTEGER, margin_names[i], max_margin(caps, name));
    }
    return col;
}

// Does a media-col describe the PWG size `pwg` (by name, else by dimensions)?
static bool col_is_size(ipp_t *col, const char *pwg)
{
    ipp_attribute_t *name = ippFindAttribute(col, "media-size-name", IPP_TAG_ZERO);
    if (name)
        return has_string(name, pwg);
    ipp_attribute_t *size = ippFindAttribute(col, "media-size", IPP_TAG_BEGIN_COLLECTION);
    ipp_t *sz = size ? ippGetCollection(size, 0) : NULL;
    ipp_attribute_t *x = ippFindAttribute(sz, "x-dimension", IPP_TAG_INTEGER);
    ipp_attribute_t *y = ippFindAttribute(sz, "y-dimension", IPP_TAG_INTEGER);
    pwg_media_t *m = pwgMediaForPWG(pwg);
    return m && x && y && abs(ippGetInteger(x, 0) - m->width) <= 10 &&
           abs(ippGetInteger(y, 0) - m->length) <= 10;
}

// The first collection value of caps' `name` that describes `pwg`, or NULL (borrowed).
static ipp_t *find_col(ipp_t *caps, const char *name, const char *pwg)
{
    ipp_attribute_t *a = cap(caps, name);
    if (ippGetValueTag(a) != IPP_TAG_BEGIN_COLLECTION)
        return NULL;
    for (int i = 0; i < ippGetCount(a); i++) {
        ipp_t *col = ippGetCollection(a, i);
        if (col_is_size(col, pwg))
            return col;
    }
    return NULL;
}

// media-col-default for the chosen media: the device's own entry where there is one.
static void add_media_col_default(ipp_t *dst, ipp_t *caps, const char *media)
{
    ipp_t *col = find_col(caps, "media-col-default", media);
    if (!col)
        col = find_col(caps, "media-col-ready", media);
    if (!col)
        col = find_col(caps, "media-col-database", media);
    if (col) {
        ippAddCollection(dst, P, "media-col-default", col);
        return;
    }
    ipp_t *made = make_media_col(caps, media);
    if (made) {
        ippAddCollection(dst, P, "media-col-default", made);
        ippDelete(made);
    }
}

// media-col-database and media-size-supported from media-supported when the device has none.
static void add_media_database(ipp_t *dst, ipp_t *caps, ipp_attribute_t *supported)
{
    bool have_db = copy_cap(dst, caps, "media-col-database");
    bool have_sizes = copy_cap(dst, caps, "media-size-supported");
    ipp_attribute_t *db = NULL, *sizes = NULL;
    for (int i = 0; i < ippGetCount(supported) && (!have_db || !have_sizes); i++) {
        ipp_t *col = make_media_col(caps, ippGetString(supported, i, NULL));
        if (!col)
            continue;
        if (!have_db) {
            if (db)
                ippSetCollection(dst, &db, ippGetCount(db), col);
            else
                db = ippAddCollection(dst, P, "media-col-database", col);
        }
        if (!have_sizes) {
            ipp_attribute_t *size = ippFindAttribute(col, "media-size", IPP_TAG_BEGIN_COLLECTION);
            ipp_t *sz = ippGetCollection(size, 0);
            if (sizes)
                ippSetCollection(dst, &sizes, ippGetCount(sizes), sz);
            else
                sizes = ippAddCollection(dst, P, "media-size-supported", sz);
        }
        ippDelete(col);
    }
}

// media-col-supported: the members Blatt passes on, as far as the device knows them.
static void add_media_col_supported(ipp_t *dst, ipp_t *caps)
{
    static const char *const members[] = {
        "media-bottom-margin", "media-left-margin", "media-right-margin", "media-size",
        "media-size-name",     "media-source",      "media-top-margin",   "media-type"};
    keyword_set_t set = {members, COUNT(members)};
    if (!copy_strings(dst, cap(caps, "media-col-supported"), "media-col-supported", keep_listed,
                      &set))
        add_keywords(dst, "media-col-supported", members, COUNT(members));
}

// media-source/-type-supported and the margins, with fallbacks.
static void add_media_extras(ipp_t *dst, ipp_t *caps)
{
    static const char *const sources[] = {"auto"}, *const types[] = {"auto", "stationery"};
    if (!copy_cap(dst, caps, "media-source-supported"))
        add_keywords(dst, "media-source-supported", sources, 1);
    if (!copy_cap(dst, caps, "media-type-supported"))
        add_keywords(dst, "media-type-supported", types, 2);
    for (size_t i = 0; i < COUNT(margin_names); i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s-supported", margin_names[i]);
        if (!copy_cap(dst, caps, name))
            ippAddInteger(dst, P, IPP_TAG_INTEGER, name, FALLBACK_MARGIN);
    }
}

// media-*: PWG names only, the queue's default media where the device has it.
static void add_media(ipp_t *dst, const bl_queue_info_t *q, ipp_t *caps)
{
    static const char *const fallback[] = {"iso_a4_210x297mm", "na_letter_8.5x11in"};
    ipp_attribute_t *sup =
        copy_strings(dst, cap(caps, "media-supported"), "media-supported", pwg_media_ok, NULL);
    if (!sup)
        sup = ippAddStrings(dst, P, IPP_TAG_KEYWORD, "media-supported", 2, NULL, fallback);
    const char *media = pick_default(sup, q->default_media, cap_string(caps, "media-default"));
    ippAddString(dst, P, ippGetValueTag(sup), "media-default", NULL, media);
    if (!copy_strings(dst, cap(caps, "media-ready"), "media-ready", pwg_media_ok, NULL))
        ippAddString(dst, P, ippGetValueTag(sup), "media-ready", NULL, media);
    add_media_col_default(dst, caps, media);
    if (!copy_cap(dst, caps, "media-col-ready")) {
        ipp_attribute_t *d = ippFindAttribute(dst, "media-col-default", IPP_TAG_ZERO);
        if (d)
            ippAddCollection(dst, P, "media-col-ready", ippGetCollection(d, 0));
    }
    add_media_database(dst, caps, sup);
    add_media_col_supported(dst, caps);
    add_media_extras(dst, caps);
}

// printer-resolution-*, print-quality-*, copies-*.
static void add_quality(ipp_t *dst, ipp_t *caps)
{
    ipp_attribute_t *res = cap(caps, "printer-resolution-supported");
    if (!res)
        res = cap(caps, "pwg-raster-document-resolution-supported");
    if (res) {
        ipp_attribute_t *r = ippCopyAttribute(dst, res, 0);
        ippSetName(dst, &r, "printer-resolution-supported");
    } else {
        ipp_attribute_t *r =
            ippAddResolution(dst, P, "printer-resolution-supported", IPP_RES_PER_INCH, 300, 300);
        ippSetResolution(dst, &r, 1, IPP_RES_PER_INCH, 600, 600);
    }
    if (!copy_cap(dst, caps, "printer-resolution-default")) {
        ipp_attribute_t *s = ippFindAttribute(dst, "printer-resolution-supported", IPP_TAG_ZERO);
        ipp_res_t u;
        int y, x = ippGetResolution(s, 0, &y, &u);
        ippAddResolution(dst, P, "printer-resolution-default", u, x, y);
    }
    static const int qualities[] = {IPP_QUALITY_DRAFT, IPP_QUALITY_NORMAL, IPP_QUALITY_HIGH};
    ipp_attribute_t *qs = cap(caps, "print-quality-supported");
    if (qs)
        ippCopyAttribute(dst, qs, 0);
    else
        ippAddIntegers(dst, P, IPP_TAG_ENUM, "print-quality-supported", 3, qualities);
    if (!copy_cap(dst, caps, "print-quality-default"))
        ippAddInteger(dst, P, IPP_TAG_ENUM, "print-quality-default",
                      !qs || ippContainsInteger(qs, IPP_QUALITY_NORMAL) ? IPP_QUALITY_NORMAL
                                                                        : ippGetInteger(qs, 0));
    ippAddRange(dst, P, "copies-supported", 1, 999);
    ippAddInteger(dst, P, IPP_TAG_INTEGER, "copies-default", 1);
}

// urf-supported for a queue that takes image/urf but whose device has no URF list.
static void add_urf_fallback(ipp_t *dst, bool color)
{
    ipp_attribute_t *sides = ippFindAttribute(dst, "sides-supported", IPP_TAG_ZERO);
    const char *v[6] = {"V1.4", "CP1", "W8", "RS300-600"};
    int n = 4;
    if (color)
        v[n++] = "SRGB24";
    if (has_string(sides, "two-sided-long-edge"))
        v[n++] = "DM1";
    add_keywords(dst, "urf-supported", v, (size_t)n);
}

// pwg-raster-* and urf-supported: the device's, else what Blatt's rasteriser produces.
static void add_raster(ipp_t *dst, const bl_queue_info_t *q, ipp_t *caps)
{
    ipp_attribute_t *cs = ippFindAttribute(dst, "color-supported", IPP_TAG_BOOLEAN);
    bool color = cs && ippGetBoolean(cs, 0);
    bool pwg = has_format(q, "image/pwg-raster");
    if (!copy_cap(dst, caps, "pwg-raster-document-resolution-supported") && pwg) {
        ipp_attribute_t *r = ippAddResolution(dst, P, "pwg-raster-document-resolution-supported",
                                              IPP_RES_PER_INCH, 300, 300);
        ippSetResolution(dst, &r, 1, IPP_RES_PER_INCH, 600, 600);
    }
    if (!copy_cap(dst, caps, "pwg-raster-document-type-supported") && pwg) {
        static const char *const types[] = {"black_1", "sgray_8", "srgb_8"};
        add_keywords(dst, "pwg-raster-document-type-supported", types, color ? 3 : 2);
    }
    if (!copy_cap(dst, caps, "pwg-raster-document-sheet-back") &&
        ippFindAttribute(dst, "pwg-raster-document-type-supported", IPP_TAG_ZERO))
        ippAddString(dst, P, IPP_TAG_KEYWORD, "pwg-raster-document-sheet-back", NULL, "normal");
    if (!copy_cap(dst, caps, "urf-supported") && has_format(q, "image/urf"))
        add_urf_fallback(dst, color);
}

// Copies <name>-supported and <name>-default (enums); fallbacks when the device has none.
static void add_enum_choice(ipp_t *dst, ipp_t *caps, const char *name, const int *fallback, int n,
                            int dflt)
{
    char sup[128], def[128];
    snprintf(sup, sizeof(sup), "%s-supported", name);
    snprintf(def, sizeof(def), "%s-default", name);
    if (!copy_cap(dst, caps, sup))
        ippAddIntegers(dst, P, IPP_TAG_ENUM, sup, n, fallback);
    if (!copy_cap(dst, caps, def))
        ippAddInteger(dst, P, IPP_TAG_ENUM, def, dflt);
}

// finishings-supported (always with "none", which the suites require) and -default.
static void add_finishings(ipp_t *dst, ipp_t *caps)
{
    ipp_attribute_t *fin = cap(caps, "finishings-supported");
    if (fin) {
        ipp_attribute_t *f = ippCopyAttribute(dst, fin, 0);
        if (f && !ippContainsInteger(fin, IPP_FINISHINGS_NONE))
            ippSetInteger(dst, &f, ippGetCount(f), IPP_FINISHINGS_NONE);
    } else
        ippAddInteger(dst, P, IPP_TAG_ENUM, "finishings-supported", IPP_FINISHINGS_NONE);
    if (!copy_cap(dst, caps, "finishings-default"))
        ippAddInteger(dst, P, IPP_TAG_ENUM, "finishings-default", IPP_FINISHINGS_NONE);
}

// finishings-*, output-bin-*, orientation, scaling, content optimisation, rendering intent.
static void add_finishing(ipp_t *dst, ipp_t *caps)
{
    add_finishings(dst, caps);
    static const char *const col[] = {
        "finishings-ready",           "finishings-col-supported", "finishings-col-database",
        "finishings-col-default",     "finishings-col-ready",     "finishing-template-supported",
        "feed-orientation-supported", "feed-orientation-default", "job-pages-per-set-supported"};
    for (size_t i = 0; i < COUNT(col); i++)
        copy_cap(dst, caps, col[i]);
    static const char *const bins[] = {"face-down"};
    add_keyword_choice(dst, caps, "output-bin", NULL, 0, bins, 1, NULL);
    static const int orient[] = {IPP_ORIENT_PORTRAIT, IPP_ORIENT_LANDSCAPE,
                                 IPP_ORIENT_REVERSE_LANDSCAPE, IPP_ORIENT_REVERSE_PORTRAIT};
    add_enum_choice(dst, caps, "orientation-requested", orient, 4, IPP_ORIENT_PORTRAIT);
    static const char *const autos[] = {"auto"};
    add_keyword_choice(dst, caps, "print-scaling", NULL, 0, autos, 1, NULL);
    static const char *const optimize[] = {"auto", "graphic", "photo", "text", "text-and-graphic"};
    add_keyword_choice(dst, caps, "print-content-optimize", optimize, COUNT(optimize), autos, 1,
                       NULL);
    static const char *const intents[] = {"auto",     "absolute",     "perceptual",
                                          "relative", "relative-bpc", "saturation"};
    add_keyword_choice(dst, caps, "print-rendering-intent", intents, COUNT(intents), autos, 1,
                       NULL);
}

ipp_t *bl_printer_attrs_build(const bl_queue_info_t *q, ipp_t *caps)
{
    ipp_t *dst = ippNew();
    if (!dst || !q)
        return dst;
    add_identity(dst, q, caps);
    add_server(dst, q);
    add_sides_color(dst, q, caps);
    add_device_state_info(dst, caps);
    add_media(dst, q, caps);
    add_quality(dst, caps);
    add_raster(dst, q, caps);
    add_finishing(dst, caps);
    return dst;
}

// PWG keyword syntax for printer-state-reasons values.
static bool reason_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 255)
        return false;
    for (const char *p = s; *p; p++) {
        bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
        if (!alnum && (p == s || !strchr("._-", *p)))
            return false;
    }
    return true;
}

// A time on the printer-up-time clock. Like cupsd, Blatt's clock is the Unix time, so that
// printer-up-time, the job time-at-* values and what lpstat shows all agree.
static int up_time(time_t t, time_t boot)
{
    if (t < boot)
        t = boot;
    return t > INT_MAX ? INT_MAX : (int)t;
}

// Is the state attribute `name` one the client asked for (ra NULL: all of them)?
static bool state_wanted(ipp_attribute_t *ra, const char *name)
{
    return !ra || bl_ipp_ra_has(ra, name) || bl_ipp_ra_has(ra, "all") ||
           bl_ipp_ra_has(ra, "printer-description");
}

void bl_printer_attrs_add_state(ipp_t *dst, const bl_queue_state_t *s, ipp_attribute_t *ra)
{
    int state = s->state >= IPP_PSTATE_IDLE && s->state <= IPP_PSTATE_STOPPED ? s->state
                                                                              : IPP_PSTATE_STOPPED;
    if (state_wanted(ra, "printer-state"))
        ippAddInteger(dst, P, IPP_TAG_ENUM, "printer-state", state);
    const char *reasons[64];
    size_t n = 0;
    for (size_t i = 0; s->reasons && i < s->num_reasons && n < COUNT(reasons); i++) {
        if (reason_ok(s->reasons[i]))
            reasons[n++] = s->reasons[i];
    }
    if (n == 0)
        reasons[n++] = "none";
    if (state_wanted(ra, "printer-state-reasons"))
        add_keywords(dst, "printer-state-reasons", reasons, n);
    char msg[256];
    size_t m = 0;
    const char *p = s->message ? s->message : "";
    for (; *p && m < sizeof(msg) - 1; p++)
        msg[m++] = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
    if (((unsigned char)*p & 0xc0) == 0x80) {
        // Cut inside a UTF-8 sequence: drop its first bytes too.
        while (m > 0 && ((unsigned char)msg[m - 1] & 0xc0) == 0x80)
            m--;
        m -= m > 0;
    }
    msg[m] = '\0';
    if (state_wanted(ra, "printer-state-message"))
        ippAddString(dst, P, IPP_TAG_TEXT, "printer-state-message", NULL, msg);
    if (state_wanted(ra, "printer-is-accepting-jobs"))
        ippAddBoolean(dst, P, "printer-is-accepting-jobs", s->accepting);
    if (state_wanted(ra, "queued-job-count"))
        ippAddInteger(dst, P, IPP_TAG_INTEGER, "queued-job-count",
                      s->queued_job_count > 0 ? s->queued_job_count : 0);
    if (state_wanted(ra, "printer-up-time"))
        ippAddInteger(dst, P, IPP_TAG_INTEGER, "printer-up-time", up_time(s->now, s->boot_time));
    if (state_wanted(ra, "printer-current-time"))
        ippAddDate(dst, P, "printer-current-time", ippTimeToDate(s->now));
    time_t st = s->state_change_time ? s->state_change_time : s->boot_time;
    time_t ct = s->config_change_time ? s->config_change_time : s->boot_time;
    if (state_wanted(ra, "printer-state-change-time"))
        ippAddInteger(dst, P, IPP_TAG_INTEGER, "printer-state-change-time",
                      up_time(st, s->boot_time));
    if (state_wanted(ra, "printer-state-change-date-time"))
        ippAddDate(dst, P, "printer-state-change-date-time", ippTimeToDate(st));
    if (state_wanted(ra, "printer-config-change-time"))
        ippAddInteger(dst, P, IPP_TAG_INTEGER, "printer-config-change-time",
                      up_time(ct, s->boot_time));
    if (state_wanted(ra, "printer-config-change-date-time"))
        ippAddDate(dst, P, "printer-config-change-date-time", ippTimeToDate(ct));
}

// Job template attributes of a printer: <template>-default/-supported/-ready/-database and the
// -supported attributes of media-col members (media-source-supported...).
static bool is_template(const char *name)
{
    static const char *const suffixes[] = {"-default", "-supported", "-ready", "-database"};
    static const char *const bases[] = {"copies",
                                        "feed-orientation",
                                        "finishing-template",
                                        "finishings",
                                        "finishings-col",
                                        "job-account-id",
                                        "job-accounting-user-id",
                                        "job-hold-until",
                                        "job-priority",
                                        "job-sheets",
                                        "media",
                                        "media-col",
                                        "multiple-document-handling",
                                        "number-up",
                                        "orientation-requested",
                                        "output-bin",
                                        "overrides",
                                        "page-ranges",
                                        "print-color-mode",
                                        "print-content-optimize",
                                        "print-quality",
                                        "print-rendering-intent",
                                        "print-scaling",
                                        "printer-resolution",
                                        "sides"};
    size_t len = strlen(name);
    for (size_t i = 0; i < COUNT(suffixes); i++) {
        size_t sl = strlen(suffixes[i]);
        if (len <= sl || strcmp(name + len - sl, suffixes[i]))
            continue;
        char base[128];
        if (len - sl >= sizeof(base))
            return false;
        memcpy(base, name, len - sl);
        base[len - sl] = '\0';
        if (in_list(base, bases, COUNT(bases)))
            return true;
        return i == 1 && !strncmp(base, "media-", 6);
    }
    return false;
}

// The requested-attributes of the request being answered, as a sorted set of distinct
// names: a client may send thousands of values, and every attribute of every object in the
// answer is looked up in it.
static struct {
    const ipp_attribute_t *ra;
    unsigned serial;
    const char **names;
    size_t n;
    bool all;          // "all" is among them
    const char *group; // the last group asked about (a string constant) ...
    bool group_has;    // ... and whether it is among them
} ra_cache;
static unsigned ra_serial = 1;

void bl_ipp_ra_reset(void)
{
    ra_serial++;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void ra_build(ipp_attribute_t *ra)
{
    free(ra_cache.names);
    ra_cache.names = NULL;
    ra_cache.n = 0;
    ra_cache.ra = ra;
    ra_cache.serial = ra_serial;
    int count = ippGetCount(ra);
    ipp_tag_t t = ippGetValueTag(ra);
    if (count <= 0 || t < IPP_TAG_TEXT || t > IPP_TAG_MIMETYPE ||
        !(ra_cache.names = calloc((size_t)count, sizeof(*ra_cache.names))))
        return;
    for (int i = 0; i < count; i++) {
        const char *v = ippGetString(ra, i, NULL);
        if (v)
            ra_cache.names[ra_cache.n++] = v;
    }
    qsort(ra_cache.names, ra_cache.n, sizeof(*ra_cache.names), cmp_name);
    size_t k = 0;
    for (size_t i = 0; i < ra_cache.n; i++) {
        if (k == 0 || strcmp(ra_cache.names[k - 1], ra_cache.names[i]))
            ra_cache.names[k++] = ra_cache.names[i];
    }
    ra_cache.n = k;
    const char *all = "all";
    ra_cache.all = k && bsearch(&all, ra_cache.names, k, sizeof(*ra_cache.names), cmp_name);
    ra_cache.group = NULL;
}

bool bl_ipp_ra_has(ipp_attribute_t *ra, const char *name)
{
    if (!ra || !name)
        return false;
    if (ra_cache.ra != ra || ra_cache.serial != ra_serial)
        ra_build(ra);
    return ra_cache.n &&
           bsearch(&name, ra_cache.names, ra_cache.n, sizeof(*ra_cache.names), cmp_name);
}

bool bl_ipp_ra_wants(ipp_attribute_t *ra, const char *name, const char *group)
{
    if (!ra || !name)
        return false;
    if (ra_cache.ra != ra || ra_cache.serial != ra_serial)
        ra_build(ra);
    if (ra_cache.all)
        return true;
    if (group) {
        if (group != ra_cache.group) {
            ra_cache.group = group;
            ra_cache.group_has = ra_cache.n && bsearch(&group, ra_cache.names, ra_cache.n,
                                                       sizeof(*ra_cache.names), cmp_name);
        }
        if (ra_cache.group_has)
            return true;
    }
    return ra_cache.n &&
           bsearch(&name, ra_cache.names, ra_cache.n, sizeof(*ra_cache.names), cmp_name);
}

void bl_ipp_copy_requested(ipp_t *dst, ipp_t *src, ipp_attribute_t *ra)
{
    bool all = !ra || bl_ipp_ra_has(ra, "all");
    bool description = bl_ipp_ra_has(ra, "printer-description");
    bool templates = bl_ipp_ra_has(ra, "job-template");
    for (ipp_attribute_t *a = ippFirstAttribute(src); a; a = ippNextAttribute(src)) {
        const char *name = ippGetName(a);
        if (!name)
            continue;
        bool want;
        if (ra && bl_ipp_ra_has(ra, name))
            want = true; // named explicitly (the only way to get media-col-database)
        else if (!all && !description && !templates)
            want = false; // only names were asked for (CUPS-Get-Printers of a thousand queues)
        else if (!strcmp(name, "media-col-database"))
            want = false;
        else if (all)
            want = true;
        else
            want = is_template(name) ? templates : description;
        if (want)
            ippCopyAttribute(dst, a, 0);
    }
}
