// capsdump: prints an IPP message (a stored caps blob, a Get-Printer-Attributes reply) and
// checks that every value in it is one a validator should have let through.
// Licensed under the Apache License, Version 2.0.
//
//   capsdump FILE
//
// One line per attribute: "GROUP NAME TAG xCOUNT = VALUE | VALUE ..." (at most 8 values, each
// cut at 120 bytes, every byte outside printable ASCII written as \xNN, so the output itself
// is safe to grep and to show). Then one "VIOLATION: NAME: WHY" line per value that breaks the
// rules below, and "summary attributes=N values=N violations=N". Exit 0 without violations,
// 1 with, 2 when the file is not an IPP message.
//
// Rules: strings are valid UTF-8 of at most 1023 bytes without C0/DEL/C1 controls, U+2028/9
// or bidi embedding/override/isolate controls; text and name without '"' and '\'; keywords
// are [A-Za-z0-9._-]; URIs and MIME types printable ASCII without spaces or quotes;
// octetStrings printable ASCII; at most 1000 values; integers, enums and ranges not negative,
// ranges not inverted, copies-supported from 1; resolutions positive in dpi or dpcm; media
// dimensions positive; booleans 0 or 1; no attribute twice in one group or collection.
#include <cups/ipp.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_VALUES 1000
#define MAX_LEN 1023
#define SHOW_VALUES 8
#define SHOW_BYTES 120

static int violations, num_attrs, num_values;
static bool quiet;  // check values without printing them
static FILE *found; // violations of the current attribute, printed after its line
static char *found_buf;
static size_t found_len;

static void violation(const char *path, const char *why, int i)
{
    fprintf(found, "VIOLATION: %s[%d]: %s\n", path, i, why);
    violations++;
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

// Writes s (len bytes) escaped.
static void show(const unsigned char *s, size_t len)
{
    size_t n = len < SHOW_BYTES ? len : SHOW_BYTES;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
            out("%c", s[i]);
        else
            out("\\x%02x", s[i]);
    }
    if (n < len)
        out("...(%zu bytes)", len);
}

// Code point of the UTF-8 sequence at s (n bytes left) in *cp; its length, 0 when invalid.
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len = c < 0x80                 ? 1
                 : c >= 0xc2 && c <= 0xdf ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    if (len == 0 || len > n)
        return 0;
    unsigned v = len == 1 ? c : c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

static bool bad_code_point(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

static void check_string(const char *path, int i, ipp_tag_t tag, const char *s)
{
    size_t len = strlen(s);
    if (len > MAX_LEN)
        violation(path, "longer than 1023 bytes", i);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t k = 0; k < len;) {
        unsigned cp = 0;
        size_t n = utf8_decode(p + k, len - k, &cp);
        if (n == 0) {
            violation(path, "invalid UTF-8", i);
            return;
        }
        if (bad_code_point(cp)) {
            violation(path, "control character", i);
            return;
        }
        k += n;
    }
    bool text = tag == IPP_TAG_TEXT || tag == IPP_TAG_NAME || tag == IPP_TAG_TEXTLANG ||
                tag == IPP_TAG_NAMELANG;
    if (text && (strchr(s, '"') || strchr(s, '\\')))
        violation(path, "quote or backslash in text", i);
    if (tag == IPP_TAG_KEYWORD && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789._-") != len)
        violation(path, "not a keyword", i);
    if ((tag == IPP_TAG_URI || tag == IPP_TAG_MIMETYPE || tag == IPP_TAG_CHARSET ||
         tag == IPP_TAG_LANGUAGE) &&
        strpbrk(s, " \"'\\<>`"))
        violation(path, "space or quote in a URI, type or language", i);
}

static void dump_attr(ipp_attribute_t *a, const char *prefix, int depth);

// The attributes of msg in order, in a new array (caller frees); *n their number.
static ipp_attribute_t **attrs_of(ipp_t *msg, size_t *n)
{
    size_t cap = 64;
    ipp_attribute_t **v = malloc(cap * sizeof(*v));
    *n = 0;
    if (!v)
        return NULL;
    for (ipp_attribute_t *a = ippFirstAttribute(msg); a; a = ippNextAttribute(msg)) {
        if (*n == cap) {
            ipp_attribute_t **w = realloc(v, (cap *= 2) * sizeof(*v));
            if (!w) {
                free(v);
                return NULL;
            }
            v = w;
        }
        v[(*n)++] = a;
    }
    return v;
}

// Attribute k of v[0..n) has a name given again later in the same group.
static bool repeated(ipp_attribute_t **v, size_t n, size_t k)
{
    const char *name = ippGetName(v[k]);
    for (size_t j = k + 1; name && j < n && ippGetGroupTag(v[j]) == ippGetGroupTag(v[k]); j++) {
        if (ippGetName(v[j]) && !strcmp(ippGetName(v[j]), name))
            return true;
    }
    return false;
}

static void collection(ipp_t *col, const char *path, int i, int depth)
{
    out("{");
    if (depth > 8) {
        violation(path, "collections nested too deep", i);
        out(" }");
        return;
    }
    char sub[1024];
    if (snprintf(sub, sizeof(sub), "%s/", path) >= (int)sizeof(sub))
        violation(path, "names nested too long", i);
    size_t n = 0;
    ipp_attribute_t **v = attrs_of(col, &n);
    for (size_t k = 0; v && k < n; k++) {
        if (repeated(v, n, k))
            violation(path, "member given twice", i);
        out(" ");
        dump_attr(v[k], sub, depth + 1);
    }
    free(v);
    out(" }");
}

// Checks value i of a (path names it) and prints it.
static void value(ipp_attribute_t *a, int i, const char *path, int depth)
{
    ipp_tag_t tag = ippGetValueTag(a);
    const char *name = ippGetName(a) ? ippGetName(a) : "";
    bool dimension = !strcmp(name, "x-dimension") || !strcmp(name, "y-dimension");
    num_values++;
    switch (tag) {
    case IPP_TAG_INTEGER:
    case IPP_TAG_ENUM: {
        int v = ippGetInteger(a, i);
        out("%d", v);
        if (v < 0)
            violation(path, "negative", i);
        if (v <= 0 && dimension)
            violation(path, "media dimension not positive", i);
        break;
    }
    case IPP_TAG_BOOLEAN: {
        int v = ippGetBoolean(a, i);
        out("%s", v == 1 ? "true" : v == 0 ? "false" : "?");
        if (v != 0 && v != 1)
            violation(path, "boolean neither 0 nor 1", i);
        break;
    }
    case IPP_TAG_RANGE: {
        int hi, lo = ippGetRange(a, i, &hi);
        out("%d-%d", lo, hi);
        if (lo < 0 || lo > hi)
            violation(path, "negative or inverted range", i);
        if (!strcmp(name, "copies-supported") && lo < 1)
            violation(path, "copies from less than 1", i);
        if (lo <= 0 && dimension)
            violation(path, "media dimension not positive", i);
        break;
    }
    case IPP_TAG_RESOLUTION: {
        ipp_res_t u;
        int y, x = ippGetResolution(a, i, &y, &u);
        out("%dx%d%s", x, y, u == IPP_RES_PER_INCH ? "dpi" : u == IPP_RES_PER_CM ? "dpcm" : "?");
        if (x <= 0 || y <= 0 || (u != IPP_RES_PER_INCH && u != IPP_RES_PER_CM))
            violation(path, "resolution not positive or bad units", i);
        break;
    }
    case IPP_TAG_STRING: {
        int len = 0;
        const unsigned char *d = ippGetOctetString(a, i, &len);
        show(d, d ? (size_t)len : 0);
        for (int k = 0; d && k < len; k++) {
            if (d[k] < 0x20 || d[k] > 0x7e) {
                violation(path, "octetString not printable ASCII", i);
                break;
            }
        }
        if (len > MAX_LEN)
            violation(path, "longer than 1023 bytes", i);
        break;
    }
    case IPP_TAG_DATE:
        out("(date)");
        break;
    case IPP_TAG_BEGIN_COLLECTION:
        collection(ippGetCollection(a, i), path, i, depth);
        break;
    default: {
        const char *lang = NULL;
        const char *s = ippGetString(a, i, &lang);
        if (!s) {
            out("(%s)", ippTagString(tag));
            break;
        }
        show((const unsigned char *)s, strlen(s));
        check_string(path, i, tag, s);
        if (lang) {
            out(" [lang ");
            show((const unsigned char *)lang, strlen(lang));
            out("]");
            check_string(path, i, IPP_TAG_LANGUAGE, lang);
        }
        break;
    }
    }
}

// Prints "NAME TAG xCOUNT = values" (collections inline) and checks every value; only the
// first few values are shown.
static void dump_attr(ipp_attribute_t *a, const char *prefix, int depth)
{
    const char *name = ippGetName(a) ? ippGetName(a) : "";
    char path[1024];
    if (snprintf(path, sizeof(path), "%s%s", prefix, name) >= (int)sizeof(path))
        violation(prefix, "names nested too long", -1);
    int n = ippGetCount(a);
    out("%s %s x%d =", name, ippTagString(ippGetValueTag(a)), n);
    check_string(path, -1, IPP_TAG_KEYWORD, name);
    if (n > MAX_VALUES)
        violation(path, "more than 1000 values", n);
    bool was_quiet = quiet;
    for (int i = 0; i < n; i++) {
        if (i == SHOW_VALUES) {
            out(" | ...");
            quiet = true;
        }
        out(i ? " | " : " ");
        value(a, i, path, depth);
    }
    quiet = was_quiet;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: capsdump FILE\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    ipp_t *msg = ippNew();
    if (fd < 0 || ippReadFile(fd, msg) != IPP_STATE_DATA) {
        fprintf(stderr, "capsdump: %s is not an IPP message\n", argv[1]);
        return 2;
    }
    close(fd);
    size_t n = 0;
    ipp_attribute_t **v = attrs_of(msg, &n);
    for (size_t k = 0; v && k < n; k++) {
        if (!ippGetName(v[k]))
            continue; // a group separator
        num_attrs++;
        found = open_memstream(&found_buf, &found_len);
        if (!found)
            return 2;
        if (repeated(v, n, k))
            violation(ippGetName(v[k]), "attribute given twice in one group", 0);
        printf("%s ", ippTagString(ippGetGroupTag(v[k])));
        dump_attr(v[k], "", 0);
        printf("\n");
        fclose(found);
        fputs(found_buf, stdout);
        free(found_buf);
        found_buf = NULL;
    }
    free(v);
    printf("summary attributes=%d values=%d violations=%d\n", num_attrs, num_values, violations);
    ippDelete(msg);
    return violations ? 1 : 0;
}
