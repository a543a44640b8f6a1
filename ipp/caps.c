// Device capabilities: the allow-list that sanitises a printer's Get-Printer-Attributes reply.
// Licensed under the Apache License, Version 2.0.
//
// Design notes
// - A hostile or broken printer controls every byte of its reply (the 2024 cups-browsed/libppd
//   class: newlines and quotes smuggled into strings that later became PPD lines). The caps a
//   queue keeps are therefore rebuilt value by value from a table: for each printer attribute
//   Blatt uses, the value syntaxes it may take, how many values, how long a string, which
//   integer range, which URI schemes and, for collections, which members (recursively, at most
//   MAX_DEPTH collections deep).
// - Strings: valid UTF-8 without C0, DEL or C1 controls, without U+2028/U+2029 and the bidi
//   embedding/override/isolate controls (U+202A-E, U+2066-9), without '"' and '\'. Keywords
//   are PWG keywords [a-z0-9][a-z0-9._-]* (urf-supported also allows A-Z). mimeMediaType is
//   type/subtype of [A-Za-z0-9.+-]. URIs are printable ASCII without spaces, quotes,
//   backslashes or angle brackets, with a scheme from the attribute's list. octetString values
//   (printer-supply, trays, alerts) are printable ASCII. textWithLanguage and nameWithLanguage
//   become text and name (the language is dropped). Media dimensions are at least 1.
// - A bad value drops only that value when others remain; an attribute left without values is
//   not kept. *dropped counts each refused value, each refused attribute (wrong syntax, repeated
//   name) and each attribute cut at its value limit (once). Attributes and collection members
//   the table does not name are ignored and not counted: a normal reply drops nothing.
#include "ipp/caps.h"

#include "ipp/frame.h"

#include <cups/pwg.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

// Value syntaxes an attribute may take (bit set).
enum {
    S_KEYWORD = 1u << 0,
    S_NAME = 1u << 1,
    S_TEXT = 1u << 2,
    S_URI = 1u << 3,
    S_MIME = 1u << 4,
    S_INTEGER = 1u << 5,
    S_ENUM = 1u << 6,
    S_BOOLEAN = 1u << 7,
    S_RANGE = 1u << 8,
    S_RESOLUTION = 1u << 9,
    S_COLLECTION = 1u << 10,
    S_OCTET = 1u << 11,
    S_DATE = 1u << 12,
    S_NOVALUE = 1u << 13,
    S_UNKNOWN = 1u << 14,
};

// Flags: keyword charset and URI schemes.
enum {
    F_UPPER = 1u << 0, // keyword may contain A-Z (urf-supported: "V1.4", "RS300-600")
    F_HTTP = 1u << 1,  // http, https
    F_IPP = 1u << 2,   // ipp, ipps
    F_GEO = 1u << 3,   // geo (RFC 5870)
    F_URN = 1u << 4,   // urn (printer-uuid)
};

#define MAX_DEPTH 3      // collections inside collections (media-col > media-size is 2)
#define MAX_NESTING 16   // begin-collection nesting accepted on the wire by bl_caps_decode
#define SHORT_LEN 255    // keywords, names, mimeMediaType
#define LONG_LEN 1023    // text, URIs, octetString
#define DIM_MAX 10000000 // media dimensions and margins, hundredths of mm (100 m)

typedef struct attr_spec attr_spec_t;
struct attr_spec {
    const char *name;
    unsigned syntax;            // S_* bits
    int max_values;             // values kept at most
    int max_len;                // bytes per string value
    int min, max;               // integer, enum and rangeOfInteger bounds
    unsigned flags;             // F_*
    const attr_spec_t *members; // collection members, ended by a NULL name
};

// One-line table entries (clang-format would split each macro over four lines).
// clang-format off
#define A_KW(n, c) {n, S_KEYWORD, c, SHORT_LEN, 0, 0, 0, NULL}
#define A_KWN(n, c) {n, S_KEYWORD | S_NAME, c, SHORT_LEN, 0, 0, 0, NULL}
#define A_NAME(n, c) {n, S_NAME, c, SHORT_LEN, 0, 0, 0, NULL}
#define A_TEXT(n, c, l) {n, S_TEXT, c, l, 0, 0, 0, NULL}
#define A_MIME(n, c) {n, S_MIME, c, SHORT_LEN, 0, 0, 0, NULL}
#define A_URI(n, f) {n, S_URI, 1, LONG_LEN, 0, 0, f, NULL}
#define A_INT(n, c, lo, hi) {n, S_INTEGER, c, 0, lo, hi, 0, NULL}
#define A_ENUM(n, c, lo, hi) {n, S_ENUM, c, 0, lo, hi, 0, NULL}
#define A_BOOL(n) {n, S_BOOLEAN, 1, 0, 0, 1, 0, NULL}
#define A_RES(n, c) {n, S_RESOLUTION, c, 0, 1, 10000, 0, NULL}
#define A_OCTET(n, c) {n, S_OCTET, c, LONG_LEN, 0, 0, 0, NULL}
#define A_DATE(n) {n, S_DATE, 1, 0, 0, 0, 0, NULL}
#define A_COLL(n, c, m) {n, S_COLLECTION, c, 0, 0, 0, 0, m}
#define END_SPECS {NULL, 0, 0, 0, 0, 0, 0, NULL}
// clang-format on

// A size of 0 is no size (custom size ranges start at 1 too).
static const attr_spec_t media_size_members[] = {
    {"x-dimension", S_INTEGER | S_RANGE, 1, 0, 1, DIM_MAX, 0, NULL},
    {"y-dimension", S_INTEGER | S_RANGE, 1, 0, 1, DIM_MAX, 0, NULL},
    END_SPECS,
};

static const attr_spec_t media_source_properties_members[] = {
    A_KW("media-source-feed-direction", 1),
    A_ENUM("media-source-feed-orientation", 1, 3, 6),
    END_SPECS,
};

static const attr_spec_t media_col_members[] = {
    A_KWN("media-back-coating", 1),
    A_INT("media-bottom-margin", 1, 0, DIM_MAX),
    A_KWN("media-color", 1),
    A_KWN("media-front-coating", 1),
    A_KWN("media-grain", 1),
    A_INT("media-hole-count", 1, 0, 1000),
    A_TEXT("media-info", 1, SHORT_LEN),
    A_KWN("media-key", 1),
    A_INT("media-left-margin", 1, 0, DIM_MAX),
    A_INT("media-order-count", 1, 1, 1000),
    A_KWN("media-pre-printed", 1),
    A_KWN("media-recycled", 1),
    A_INT("media-right-margin", 1, 0, DIM_MAX),
    A_COLL("media-size", 1, media_size_members),
    A_KWN("media-size-name", 1),
    A_KWN("media-source", 1),
    A_COLL("media-source-properties", 1, media_source_properties_members),
    A_INT("media-thickness", 1, 0, 100000),
    A_KWN("media-tooth", 1),
    A_INT("media-top-margin", 1, 0, DIM_MAX),
    A_KWN("media-type", 1),
    A_INT("media-weight-metric", 1, 0, 100000),
    END_SPECS,
};

static const attr_spec_t stitching_members[] = {
    A_INT("stitching-angle", 1, 0, 359), A_INT("stitching-locations", 20, 0, DIM_MAX),
    A_KW("stitching-method", 1),         A_INT("stitching-offset", 1, 0, DIM_MAX),
    A_KW("stitching-reference-edge", 1), END_SPECS,
};

static const attr_spec_t punching_members[] = {
    A_INT("punching-locations", 20, 0, DIM_MAX),
    A_INT("punching-offset", 1, 0, DIM_MAX),
    A_KW("punching-reference-edge", 1),
    END_SPECS,
};

static const attr_spec_t folding_members[] = {
    A_KW("folding-direction", 1),
    A_INT("folding-offset", 1, 0, DIM_MAX),
    A_KW("folding-reference-edge", 1),
    END_SPECS,
};

static const attr_spec_t trimming_members[] = {
    A_INT("trimming-offset", 1, 0, DIM_MAX),
    A_KW("trimming-reference-edge", 1),
    A_KW("trimming-type", 1),
    A_KW("trimming-when", 1),
    END_SPECS,
};

static const attr_spec_t finishings_col_members[] = {
    A_KWN("finishing-template", 1),
    A_COLL("folding", 10, folding_members),
    A_KWN("imposition-template", 1),
    A_COLL("media-size", 1, media_size_members),
    A_KWN("media-size-name", 1),
    A_COLL("punching", 1, punching_members),
    A_COLL("stitching", 1, stitching_members),
    A_COLL("trimming", 10, trimming_members),
    END_SPECS,
};

static const attr_spec_t icc_profile_members[] = {
    A_NAME("profile-name", 1),
    A_URI("profile-url", F_HTTP),
    END_SPECS,
};

// sanitize_collection() tracks repeated members in a 64-bit mask.
#define MEMBERS_FIT(t) _Static_assert(sizeof(t) / sizeof(t[0]) <= 64, #t " has too many members")
MEMBERS_FIT(media_col_members);
MEMBERS_FIT(finishings_col_members);

// Every printer attribute Blatt keeps from a device.
static const attr_spec_t printer_specs[] = {
    // Identity and hints (never used as identifiers)
    A_TEXT("printer-make-and-model", 1, SHORT_LEN),
    A_TEXT("printer-device-id", 1, LONG_LEN),
    A_TEXT("printer-info", 1, SHORT_LEN),
    A_TEXT("printer-location", 1, SHORT_LEN),
    A_URI("printer-uuid", F_URN),
    A_URI("printer-more-info", F_HTTP),
    A_URI("printer-supply-info-uri", F_HTTP),
    {"printer-geo-location", S_URI | S_UNKNOWN, 1, LONG_LEN, 0, 0, F_GEO, NULL},
    A_KW("printer-kind", 20),
    A_NAME("printer-firmware-name", 20),
    A_TEXT("printer-firmware-string-version", 20, SHORT_LEN),
    A_TEXT("mopria-certified", 1, 63),
    A_COLL("printer-icc-profiles-supported", 64, icc_profile_members),
    A_KW("ipp-versions-supported", 16),
    A_KW("ipp-features-supported", 64),
    A_INT("pages-per-minute", 1, 0, 100000),
    A_INT("pages-per-minute-color", 1, 0, 100000),
    A_BOOL("color-supported"),
    A_ENUM("operations-supported", 200, 1, 0xffff),
    A_KW("compression-supported", 16),
    A_KW("job-creation-attributes-supported", 300),
    A_KW("identify-actions-supported", 8),
    A_KW("identify-actions-default", 8),
    A_MIME("document-format-supported", 100),
    A_MIME("document-format-default", 1),
    // State and supplies
    A_ENUM("printer-state", 1, 3, 5),
    A_KW("printer-state-reasons", 100),
    A_TEXT("printer-state-message", 1, LONG_LEN),
    A_BOOL("printer-is-accepting-jobs"),
    A_INT("queued-job-count", 1, 0, INT_MAX),
    A_INT("printer-config-change-time", 1, 0, INT_MAX),
    A_DATE("printer-config-change-date-time"),
    A_DATE("printer-current-time"),
    A_OCTET("printer-supply", 100),
    A_TEXT("printer-supply-description", 100, SHORT_LEN),
    A_OCTET("printer-input-tray", 100),
    A_OCTET("printer-output-tray", 100),
    A_OCTET("printer-alert", 100),
    A_TEXT("printer-alert-description", 100, SHORT_LEN),
    // Job template: copies, sides, colour, resolution, quality
    {"copies-supported", S_RANGE, 1, 0, 1, 1000000, 0, NULL},
    A_INT("copies-default", 1, 1, 1000000),
    A_KW("sides-supported", 3),
    A_KW("sides-default", 1),
    A_KW("print-color-mode-supported", 16),
    A_KW("print-color-mode-default", 1),
    A_RES("printer-resolution-supported", 50),
    A_RES("printer-resolution-default", 1),
    A_ENUM("print-quality-supported", 3, 3, 5),
    A_ENUM("print-quality-default", 1, 3, 5),
    // Raster formats
    A_RES("pwg-raster-document-resolution-supported", 20),
    A_KW("pwg-raster-document-type-supported", 40),
    A_KW("pwg-raster-document-sheet-back", 1),
    {"urf-supported", S_KEYWORD, 64, 63, 0, 0, F_UPPER, NULL},
    // Media
    A_KWN("media-supported", 1000),
    {"media-default", S_KEYWORD | S_NAME | S_NOVALUE, 1, SHORT_LEN, 0, 0, 0, NULL},
    A_KWN("media-ready", 100),
    A_COLL("media-col-database", 1000, media_col_members),
    {"media-col-default", S_COLLECTION | S_NOVALUE, 1, 0, 0, 0, 0, media_col_members},
    A_COLL("media-col-ready", 100, media_col_members),
    A_KW("media-col-supported", 50),
    A_COLL("media-size-supported", 1000, media_size_members),
    A_KWN("media-source-supported", 100),
    A_KWN("media-type-supported", 200),
    A_KWN("media-color-supported", 100),
    A_INT("media-bottom-margin-supported", 20, 0, DIM_MAX),
    A_INT("media-left-margin-supported", 20, 0, DIM_MAX),
    A_INT("media-right-margin-supported", 20, 0, DIM_MAX),
    A_INT("media-top-margin-supported", 20, 0, DIM_MAX),
    // Finishing and output
    A_ENUM("finishings-supported", 100, 3, 1000),
    A_ENUM("finishings-default", 20, 3, 1000),
    A_ENUM("finishings-ready", 100, 3, 1000),
    A_KW("finishings-col-supported", 50),
    A_COLL("finishings-col-database", 200, finishings_col_members),
    {"finishings-col-default", S_COLLECTION | S_NOVALUE, 20, 0, 0, 0, 0, finishings_col_members},
    A_COLL("finishings-col-ready", 100, finishings_col_members),
    A_KWN("finishing-template-supported", 100),
    A_KWN("output-bin-supported", 50),
    A_KWN("output-bin-default", 1),
    A_ENUM("orientation-requested-supported", 8, 3, 7),
    {"orientation-requested-default", S_ENUM | S_NOVALUE, 1, 0, 3, 7, 0, NULL},
    A_KW("print-scaling-supported", 10),
    A_KW("print-scaling-default", 1),
    A_KW("print-content-optimize-supported", 10),
    A_KW("print-content-optimize-default", 1),
    A_KW("print-rendering-intent-supported", 10),
    A_KW("print-rendering-intent-default", 1),
    A_BOOL("page-ranges-supported"),
    A_KW("feed-orientation-supported", 4),
    A_KW("feed-orientation-default", 1),
    A_BOOL("job-pages-per-set-supported"),
    END_SPECS,
};

#define NUM_PRINTER_SPECS (sizeof(printer_specs) / sizeof(printer_specs[0]) - 1)

static const attr_spec_t *find_spec(const attr_spec_t *specs, const char *name, size_t *index)
{
    for (size_t i = 0; specs[i].name; i++) {
        if (!strcmp(specs[i].name, name)) {
            *index = i;
            return &specs[i];
        }
    }
    return NULL;
}

// The S_* bit of a value tag, 0 for syntaxes Blatt never keeps.
static unsigned syntax_of(ipp_tag_t tag)
{
    switch (tag) {
    case IPP_TAG_KEYWORD:
        return S_KEYWORD;
    case IPP_TAG_NAME:
    case IPP_TAG_NAMELANG:
        return S_NAME;
    case IPP_TAG_TEXT:
    case IPP_TAG_TEXTLANG:
        return S_TEXT;
    case IPP_TAG_URI:
        return S_URI;
    case IPP_TAG_MIMETYPE:
        return S_MIME;
    case IPP_TAG_INTEGER:
        return S_INTEGER;
    case IPP_TAG_ENUM:
        return S_ENUM;
    case IPP_TAG_BOOLEAN:
        return S_BOOLEAN;
    case IPP_TAG_RANGE:
        return S_RANGE;
    case IPP_TAG_RESOLUTION:
        return S_RESOLUTION;
    case IPP_TAG_BEGIN_COLLECTION:
        return S_COLLECTION;
    case IPP_TAG_STRING:
        return S_OCTET;
    case IPP_TAG_DATE:
        return S_DATE;
    case IPP_TAG_NOVALUE:
        return S_NOVALUE;
    case IPP_TAG_UNKNOWN:
        return S_UNKNOWN;
    default:
        return 0;
    }
}

// Length of the UTF-8 sequence at s that encodes one allowed character, 0 when invalid.
static size_t utf8_char(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return c >= 0x20 && c != 0x7f && c != '"' && c != '\\';
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (n == 0 || c > 0xf4)
        return 0;
    unsigned cp = c & (0x3f >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const unsigned min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0; // overlong, beyond Unicode, or a surrogate
    if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029)
        return 0; // C1 controls and the Unicode line/paragraph separators
    if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
        return 0; // bidi embeddings, overrides and isolates: they make text show as other text
    return n;
}

// text and name values: valid UTF-8 of allowed characters, at most max bytes.
static bool text_ok(const char *s, size_t max)
{
    if (!s || strlen(s) > max)
        return false;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_char(p);
        if (!n)
            return false;
        p += n;
    }
    return true;
}

// PWG keyword: [a-z0-9][a-z0-9._-]* (with F_UPPER also A-Z).
static bool keyword_ok(const char *s, size_t max, bool upper)
{
    if (!s || !*s || strlen(s) > max)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alnum =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (upper && c >= 'A' && c <= 'Z');
        if (!alnum && (p == s || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

static bool mime_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '+' || c == '-';
}

// mimeMediaType: type/subtype, both non-empty runs of [A-Za-z0-9.+-], no parameters.
static bool mime_ok(const char *s, size_t max)
{
    if (!s || strlen(s) > max)
        return false;
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1])
        return false;
    for (const char *p = s; *p; p++) {
        if (p != slash && !mime_char(*p))
            return false;
    }
    return true;
}

// Does the URI's scheme (up to the first ':') belong to the attribute's list?
static bool scheme_ok(const char *s, unsigned flags)
{
    static const struct {
        const char *prefix;
        unsigned flag;
    } schemes[] = {{"http://", F_HTTP}, {"https://", F_HTTP}, {"ipp://", F_IPP},
                   {"ipps://", F_IPP},  {"geo:", F_GEO},      {"urn:", F_URN}};
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i].prefix);
        if ((flags & schemes[i].flag) && !strncasecmp(s, schemes[i].prefix, n) && s[n])
            return true;
    }
    return false;
}

// uri: printable ASCII without space, quotes, backslash, angle brackets, braces or '|'.
static bool uri_ok(const char *s, size_t max, unsigned flags)
{
    if (!s || strlen(s) > max || !scheme_ok(s, flags))
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || strchr("\"'\\<>`{}|^", c))
            return false;
    }
    return true;
}

// octetString values Blatt keeps are printable ASCII key=value lists.
static bool octet_ok(const void *data, int len, int max)
{
    if (!data || len <= 0 || len > max)
        return false;
    const unsigned char *p = data;
    for (int i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e)
            return false;
    }
    return true;
}

// dateTime (RFC 2579): every field in range.
static bool date_ok(const ipp_uchar_t *d)
{
    return d && d[2] >= 1 && d[2] <= 12 && d[3] >= 1 && d[3] <= 31 && d[4] <= 23 && d[5] <= 59 &&
           d[6] <= 60 && d[7] <= 9 && (d[8] == '+' || d[8] == '-') && d[9] <= 14 && d[10] <= 59;
}

// Value i of a (of tag) is acceptable under s. Collections are checked by the caller.
static bool value_ok(ipp_attribute_t *a, int i, ipp_tag_t tag, const attr_spec_t *s)
{
    size_t max = (size_t)s->max_len;
    switch (tag) {
    case IPP_TAG_KEYWORD:
        return keyword_ok(ippGetString(a, i, NULL), max, s->flags & F_UPPER);
    case IPP_TAG_NAME:
    case IPP_TAG_NAMELANG:
    case IPP_TAG_TEXT:
    case IPP_TAG_TEXTLANG:
        return text_ok(ippGetString(a, i, NULL), max);
    case IPP_TAG_URI:
        return uri_ok(ippGetString(a, i, NULL), max, s->flags);
    case IPP_TAG_MIMETYPE:
        return mime_ok(ippGetString(a, i, NULL), max);
    case IPP_TAG_INTEGER:
    case IPP_TAG_ENUM:
        return ippGetInteger(a, i) >= s->min && ippGetInteger(a, i) <= s->max;
    case IPP_TAG_BOOLEAN:
        return ippGetBoolean(a, i) == 0 || ippGetBoolean(a, i) == 1;
    case IPP_TAG_RANGE: {
        int upper, lower = ippGetRange(a, i, &upper);
        return lower >= s->min && lower <= upper && upper <= s->max;
    }
    case IPP_TAG_RESOLUTION: {
        ipp_res_t units;
        int yres, xres = ippGetResolution(a, i, &yres, &units);
        return (units == IPP_RES_PER_INCH || units == IPP_RES_PER_CM) && xres >= s->min &&
               xres <= s->max && yres >= s->min && yres <= s->max;
    }
    case IPP_TAG_STRING: {
        int len = 0;
        const void *data = ippGetOctetString(a, i, &len);
        return octet_ok(data, len, s->max_len);
    }
    case IPP_TAG_DATE:
        return date_ok(ippGetDate(a, i));
    default:
        return false;
    }
}

// Creates *out with value i of src, or appends it. col: the sanitised collection value.
static bool append_value(ipp_t *dst, ipp_attribute_t **out, ipp_tag_t group, const char *name,
                         ipp_attribute_t *src, int i, ipp_t *col)
{
    ipp_tag_t tag = ippGetValueTag(src);
    int n = *out ? ippGetCount(*out) : 0;
    switch (tag) {
    case IPP_TAG_INTEGER:
    case IPP_TAG_ENUM: {
        int v = ippGetInteger(src, i);
        return *out ? ippSetInteger(dst, out, n, v)
                    : (*out = ippAddInteger(dst, group, tag, name, v)) != NULL;
    }
    case IPP_TAG_BOOLEAN: {
        int v = ippGetBoolean(src, i);
        return *out ? ippSetBoolean(dst, out, n, v)
                    : (*out = ippAddBoolean(dst, group, name, (char)v)) != NULL;
    }
    case IPP_TAG_RANGE: {
        int hi, lo = ippGetRange(src, i, &hi);
        return *out ? ippSetRange(dst, out, n, lo, hi)
                    : (*out = ippAddRange(dst, group, name, lo, hi)) != NULL;
    }
    case IPP_TAG_RESOLUTION: {
        ipp_res_t u;
        int y, x = ippGetResolution(src, i, &y, &u);
        return *out ? ippSetResolution(dst, out, n, u, x, y)
                    : (*out = ippAddResolution(dst, group, name, u, x, y)) != NULL;
    }
    case IPP_TAG_STRING: {
        int len = 0;
        const void *d = ippGetOctetString(src, i, &len);
        return *out ? ippSetOctetString(dst, out, n, d, len)
                    : (*out = ippAddOctetString(dst, group, name, d, len)) != NULL;
    }
    case IPP_TAG_DATE: {
        const ipp_uchar_t *d = ippGetDate(src, i);
        return *out ? ippSetDate(dst, out, n, d) : (*out = ippAddDate(dst, group, name, d)) != NULL;
    }
    case IPP_TAG_BEGIN_COLLECTION:
        return *out ? ippSetCollection(dst, out, n, col)
                    : (*out = ippAddCollection(dst, group, name, col)) != NULL;
    default: {
        // String syntaxes; the *WithLanguage forms lose their language.
        ipp_tag_t t = tag == IPP_TAG_TEXTLANG   ? IPP_TAG_TEXT
                      : tag == IPP_TAG_NAMELANG ? IPP_TAG_NAME
                                                : tag;
        const char *s = ippGetString(src, i, NULL);
        return *out ? ippSetString(dst, out, n, s)
                    : (*out = ippAddString(dst, group, t, name, NULL, s)) != NULL;
    }
    }
}

static ipp_t *sanitize_collection(ipp_t *col, const attr_spec_t *members, int depth,
                                  size_t *dropped);

// Copies the acceptable values of a into dst under spec s. depth: collections above a.
static void copy_checked(ipp_t *dst, ipp_tag_t group, ipp_attribute_t *a, const attr_spec_t *s,
                         int depth, size_t *dropped)
{
    ipp_tag_t tag = ippGetValueTag(a);
    unsigned syntax = syntax_of(tag);
    if (!(syntax & s->syntax)) {
        (*dropped)++;
        return;
    }
    if (syntax & (S_NOVALUE | S_UNKNOWN)) {
        if (!ippAddOutOfBand(dst, group, tag, s->name))
            (*dropped)++;
        return;
    }
    ipp_attribute_t *out = NULL;
    int n = ippGetCount(a), kept = 0;
    for (int i = 0; i < n; i++) {
        if (kept >= s->max_values) {
            (*dropped)++; // the surplus counts once
            break;
        }
        ipp_t *col = NULL;
        bool ok;
        if (tag == IPP_TAG_BEGIN_COLLECTION)
            ok = depth < MAX_DEPTH && (col = sanitize_collection(ippGetCollection(a, i), s->members,
                                                                 depth + 1, dropped)) != NULL;
        else
            ok = value_ok(a, i, tag, s);
        if (ok && append_value(dst, &out, group, s->name, a, i, col))
            kept++;
        else
            (*dropped)++;
        ippDelete(col); // the attribute holds its own reference
    }
}

// A new collection with the acceptable members of col; NULL when none is left.
static ipp_t *sanitize_collection(ipp_t *col, const attr_spec_t *members, int depth,
                                  size_t *dropped)
{
    if (!col || !members)
        return NULL;
    ipp_t *out = ippNew();
    if (!out)
        return NULL;
    unsigned long long seen = 0; // member tables have fewer than 64 entries
    for (ipp_attribute_t *m = ippFirstAttribute(col); m; m = ippNextAttribute(col)) {
        size_t k = 0;
        const char *name = ippGetName(m);
        const attr_spec_t *s = name ? find_spec(members, name, &k) : NULL;
        if (!s)
            continue;
        if (seen & (1ull << k)) {
            (*dropped)++;
            continue;
        }
        seen |= 1ull << k;
        copy_checked(out, IPP_TAG_ZERO, m, s, depth, dropped);
    }
    if (!ippFirstAttribute(out)) {
        ippDelete(out);
        return NULL;
    }
    return out;
}

ipp_t *bl_caps_sanitize(ipp_t *resp, size_t *dropped)
{
    size_t local = 0;
    if (!dropped)
        dropped = &local;
    *dropped = 0;
    ipp_t *caps = ippNew();
    if (!caps)
        return NULL;
    ippSetStatusCode(caps, IPP_STATUS_OK);
    ippSetRequestId(caps, 1);
    bool seen[NUM_PRINTER_SPECS] = {false};
    for (ipp_attribute_t *a = resp ? ippFirstAttribute(resp) : NULL; a;
         a = ippNextAttribute(resp)) {
        size_t k = 0;
        const char *name = ippGetName(a);
        if (ippGetGroupTag(a) != IPP_TAG_PRINTER || !name)
            continue;
        const attr_spec_t *s = find_spec(printer_specs, name, &k);
        if (!s)
            continue;
        if (seen[k]) {
            (*dropped)++; // a repeated attribute (or a second printer group)
            continue;
        }
        seen[k] = true;
        copy_checked(caps, IPP_TAG_PRINTER, a, s, 0, dropped);
    }
    return caps;
}

bool bl_caps_encode(ipp_t *caps, uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    if (!caps)
        return false;
    *data = bl_ipp_encode(caps, len);
    return *data != NULL;
}

// Begin-collection nesting of a framed message stays within MAX_NESTING: libcups' ippReadIO()
// recurses once per level without a limit (about 10,000 levels overflow the stack).
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
        size_t value_len = ((size_t)buf[value_pos] << 8) | buf[value_pos + 1];
        pos = value_pos + 2 + value_len;
        if (tag == IPP_TAG_BEGIN_COLLECTION && ++depth > MAX_NESTING)
            return false;
        if (tag == IPP_TAG_END_COLLECTION)
            depth--;
    }
    return true;
}

ipp_t *bl_caps_decode(const void *data, size_t len)
{
    size_t block = 0;
    if (!data || bl_ipp_frame_scan(data, len, len, &block) != BL_FRAME_COMPLETE || block != len ||
        !nesting_ok(data, len))
        return NULL;
    ipp_t *msg = bl_ipp_decode(data, len);
    if (!msg)
        return NULL;
    ipp_t *caps = bl_caps_sanitize(msg, NULL);
    ippDelete(msg);
    return caps;
}

// One media-col value: size (hundredths of mm), name, equal margins, optional source and type.
static ipp_t *media_col(const pwg_media_t *m, int margin, const char *source, const char *type)
{
    ipp_t *col = ippNew(), *size = ippNew();
    ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "x-dimension", m->width);
    ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "y-dimension", m->length);
    ippAddString(col, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-key", NULL, m->pwg);
    ippAddCollection(col, IPP_TAG_ZERO, "media-size", size);
    ippDelete(size);
    ippAddString(col, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-size-name", NULL, m->pwg);
    static const char *const edges[] = {"media-bottom-margin", "media-left-margin",
                                        "media-right-margin", "media-top-margin"};
    for (size_t i = 0; i < 4; i++)
        ippAddInteger(col, IPP_TAG_ZERO, IPP_TAG_INTEGER, edges[i], margin);
    if (source)
        ippAddString(col, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-source", NULL, source);
    if (type)
        ippAddString(col, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-type", NULL, type);
    return col;
}

// Adds a collection value to *attr (creating it), dropping our reference.
static void add_col(ipp_t *caps, ipp_attribute_t **attr, const char *name, ipp_t *col)
{
    if (*attr)
        ippSetCollection(caps, attr, ippGetCount(*attr), col);
    else
        *attr = ippAddCollection(caps, IPP_TAG_PRINTER, name, col);
    ippDelete(col);
}

#define VIRTUAL_MARGIN 423 // 1/6 inch, safe on the usual laser engines

// Media of a virtual device: A4 default, the common office sizes, one tray.
static void add_virtual_media(ipp_t *caps)
{
    static const char *const sizes[] = {"iso_a4_210x297mm",  "na_letter_8.5x11in",
                                        "na_legal_8.5x14in", "iso_a3_297x420mm",
                                        "iso_a5_148x210mm",  "na_executive_7.25x10.5in"};
    const size_t n = sizeof(sizes) / sizeof(sizes[0]);
    ippAddStrings(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "media-supported", (int)n, NULL, sizes);
    ippAddString(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "media-default", NULL, sizes[0]);
    ippAddStrings(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "media-ready", 2, NULL, sizes);
    ipp_attribute_t *db = NULL, *ready = NULL, *ss = NULL;
    for (size_t i = 0; i < n; i++) {
        pwg_media_t *m = pwgMediaForPWG(sizes[i]);
        if (!m)
            continue;
        add_col(caps, &db, "media-col-database", media_col(m, VIRTUAL_MARGIN, NULL, NULL));
        if (i < 2)
            add_col(caps, &ready, "media-col-ready",
                    media_col(m, VIRTUAL_MARGIN, "main", "stationery"));
        ipp_t *size = ippNew();
        ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "x-dimension", m->width);
        ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "y-dimension", m->length);
        add_col(caps, &ss, "media-size-supported", size);
    }
    pwg_media_t *a4 = pwgMediaForPWG(sizes[0]);
    if (a4) {
        ipp_t *dflt = media_col(a4, VIRTUAL_MARGIN, "main", "stationery");
        ippAddCollection(caps, IPP_TAG_PRINTER, "media-col-default", dflt);
        ippDelete(dflt);
    }
    static const char *const members[] = {
        "media-bottom-margin", "media-left-margin", "media-right-margin", "media-size",
        "media-size-name",     "media-source",      "media-top-margin",   "media-type"};
    ippAddStrings(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "media-col-supported", 8, NULL, members);
    static const char *const sources[] = {"auto", "main"}, *const types[] = {"auto", "stationery"};
    ippAddStrings(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "media-source-supported", 2, NULL,
                  sources);
    ippAddStrings(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "media-type-supported", 2, NULL, types);
    static const char *const edges[] = {
        "media-bottom-margin-supported", "media-left-margin-supported",
        "media-right-margin-supported", "media-top-margin-supported"};
    for (size_t i = 0; i < 4; i++)
        ippAddInteger(caps, IPP_TAG_PRINTER, IPP_TAG_INTEGER, edges[i], VIRTUAL_MARGIN);
}

// Raster capabilities: PWG Raster or Apple Raster (URF) at 150-600 dpi.
static void add_virtual_raster(ipp_t *caps, const char *format)
{
    if (!strcmp(format, "image/pwg-raster")) {
        static const int dpi[] = {150, 300, 600};
        ipp_attribute_t *a =
            ippAddResolution(caps, IPP_TAG_PRINTER, "pwg-raster-document-resolution-supported",
                             IPP_RES_PER_INCH, dpi[0], dpi[0]);
        for (int i = 1; i < 3; i++)
            ippSetResolution(caps, &a, i, IPP_RES_PER_INCH, dpi[i], dpi[i]);
        static const char *const types[] = {"black_1", "sgray_8", "srgb_8"};
        ippAddStrings(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "pwg-raster-document-type-supported",
                      3, NULL, types);
        ippAddString(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "pwg-raster-document-sheet-back", NULL,
                     "normal");
    } else if (!strcmp(format, "image/urf")) {
        static const char *const urf[] = {"V1.4", "CP1", "W8", "SRGB24", "RS300-600", "DM1"};
        ippAddStrings(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "urf-supported", 6, NULL, urf);
    }
}

// Job template defaults of a virtual device (sides, colour, quality, resolution, copies...).
static void add_virtual_template(ipp_t *caps)
{
    static const char *const sides[] = {"one-sided", "two-sided-long-edge", "two-sided-short-edge"};
    ippAddStrings(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "sides-supported", 3, NULL, sides);
    ippAddString(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "sides-default", NULL, sides[0]);
    static const char *const modes[] = {"monochrome", "color", "auto"};
    ippAddStrings(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "print-color-mode-supported", 3, NULL,
                  modes);
    ippAddString(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "print-color-mode-default", NULL, "auto");
    ippAddBoolean(caps, IPP_TAG_PRINTER, "color-supported", 1);
    ipp_attribute_t *res = ippAddResolution(caps, IPP_TAG_PRINTER, "printer-resolution-supported",
                                            IPP_RES_PER_INCH, 300, 300);
    ippSetResolution(caps, &res, 1, IPP_RES_PER_INCH, 600, 600);
    ippAddResolution(caps, IPP_TAG_PRINTER, "printer-resolution-default", IPP_RES_PER_INCH, 600,
                     600);
    static const int quality[] = {IPP_QUALITY_DRAFT, IPP_QUALITY_NORMAL, IPP_QUALITY_HIGH};
    ippAddIntegers(caps, IPP_TAG_PRINTER, IPP_TAG_ENUM, "print-quality-supported", 3, quality);
    ippAddInteger(caps, IPP_TAG_PRINTER, IPP_TAG_ENUM, "print-quality-default", IPP_QUALITY_NORMAL);
    ippAddRange(caps, IPP_TAG_PRINTER, "copies-supported", 1, 999);
    ippAddInteger(caps, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "copies-default", 1);
    ippAddInteger(caps, IPP_TAG_PRINTER, IPP_TAG_ENUM, "finishings-supported", IPP_FINISHINGS_NONE);
    ippAddInteger(caps, IPP_TAG_PRINTER, IPP_TAG_ENUM, "finishings-default", IPP_FINISHINGS_NONE);
    static const int orient[] = {IPP_ORIENT_PORTRAIT, IPP_ORIENT_LANDSCAPE,
                                 IPP_ORIENT_REVERSE_LANDSCAPE, IPP_ORIENT_REVERSE_PORTRAIT};
    ippAddIntegers(caps, IPP_TAG_PRINTER, IPP_TAG_ENUM, "orientation-requested-supported", 4,
                   orient);
    ippAddInteger(caps, IPP_TAG_PRINTER, IPP_TAG_ENUM, "orientation-requested-default",
                  IPP_ORIENT_PORTRAIT);
    ippAddString(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "output-bin-supported", NULL, "face-down");
    ippAddString(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "output-bin-default", NULL, "face-down");
}

ipp_t *bl_caps_virtual(const char *format)
{
    if (!format || !mime_ok(format, SHORT_LEN))
        format = "application/pdf";
    ipp_t *caps = ippNew();
    if (!caps)
        return NULL;
    ippSetStatusCode(caps, IPP_STATUS_OK);
    ippSetRequestId(caps, 1);
    ippAddString(caps, IPP_TAG_PRINTER, IPP_TAG_TEXT, "printer-make-and-model", NULL,
                 "Blatt virtual printer");
    ippAddString(caps, IPP_TAG_PRINTER, IPP_TAG_MIMETYPE, "document-format-supported", NULL,
                 format);
    ippAddString(caps, IPP_TAG_PRINTER, IPP_TAG_MIMETYPE, "document-format-default", NULL, format);
    ippAddString(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "printer-kind", NULL, "document");
    ippAddInteger(caps, IPP_TAG_PRINTER, IPP_TAG_ENUM, "printer-state", IPP_PSTATE_IDLE);
    ippAddString(caps, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "printer-state-reasons", NULL, "none");
    ippAddBoolean(caps, IPP_TAG_PRINTER, "printer-is-accepting-jobs", 1);
    add_virtual_template(caps);
    add_virtual_media(caps);
    add_virtual_raster(caps, format);
    return caps;
}
