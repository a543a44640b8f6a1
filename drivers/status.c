// Status lines that filters and backends write on stderr (CUPS-compatible, untrusted).
// Licensed under the Apache License, Version 2.0.
//
// A filter is a plug-in: its stderr is treated like network input. Keywords and attribute names
// are limited to a-z 0-9 '-', integers to 0..2^31-1, text to printable UTF-8.
#include "drivers/status.h"

#include <stdint.h>
#include <string.h>

// Copies printable UTF-8 from src into dst (NUL-terminated); other bytes become '?'.
static void sanitize(const char *src, size_t len, char *dst, size_t dlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < dlen;) {
        unsigned char c = (unsigned char)src[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xE0) == 0xC0 ? 2
                   : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4
                                        : 0;
        bool ok = n > 0 && i + n <= len && (n > 1 || (c >= 0x20 && c != 0x7f));
        for (size_t k = 1; ok && k < n; k++)
            ok = ((unsigned char)src[i + k] & 0xC0) == 0x80;
        if (ok && n == 2 && c < 0xC2)
            ok = false; // overlong
        if (!ok || o + n >= dlen) {
            dst[o++] = '?';
            i++;
            continue;
        }
        memcpy(dst + o, src + i, n);
        o += n;
        i += n;
    }
    dst[o] = '\0';
}

static bool keyword_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

static bool parse_long(const char *s, size_t n, long *out)
{
    if (n == 0 || n > 10)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > INT32_MAX)
        return false;
    *out = (long)v;
    return true;
}

// Next whitespace-separated token of [*p, end).
static bool next_token(const char **p, const char *end, const char **tok, size_t *len)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
    if (*p >= end)
        return false;
    *tok = *p;
    while (*p < end && **p != ' ' && **p != '\t')
        (*p)++;
    *len = (size_t)(*p - *tok);
    return true;
}

static void parse_state(const char *p, const char *end, bl_status_t *out)
{
    const char *tok;
    size_t n;
    while (out->num_reasons < BL_STATUS_MAX_ITEMS && next_token(&p, end, &tok, &n)) {
        bl_status_reason_op_t op = BL_STATUS_REASON_SET;
        if (*tok == '+' || *tok == '-') {
            op = *tok == '+' ? BL_STATUS_REASON_ADD : BL_STATUS_REASON_REMOVE;
            tok++;
            n--;
        }
        // CUPS reasons may carry -error/-warning/-report suffixes: they are keywords too.
        if (!keyword_ok(tok, n))
            continue;
        out->reasons[out->num_reasons].op = op;
        memcpy(out->reasons[out->num_reasons].keyword, tok, n);
        out->reasons[out->num_reasons++].keyword[n] = '\0';
    }
}

static void parse_attr(const char *p, const char *end, bl_status_t *out)
{
    const char *tok;
    size_t n;
    while (out->num_attrs < BL_STATUS_MAX_ITEMS && next_token(&p, end, &tok, &n)) {
        const char *eq = memchr(tok, '=', n);
        long v;
        if (!eq || !keyword_ok(tok, (size_t)(eq - tok)) ||
            !parse_long(eq + 1, n - (size_t)(eq - tok) - 1, &v))
            continue;
        size_t nl = (size_t)(eq - tok);
        memcpy(out->attrs[out->num_attrs].name, tok, nl);
        out->attrs[out->num_attrs].name[nl] = '\0';
        out->attrs[out->num_attrs++].value = v;
    }
}

static void parse_page(const char *p, const char *end, bl_status_t *out)
{
    const char *a, *b;
    size_t na, nb;
    if (!next_token(&p, end, &a, &na) || !next_token(&p, end, &b, &nb))
        return;
    long v;
    if (na == 5 && !memcmp(a, "total", 5) && parse_long(b, nb, &v))
        out->page_total = v;
    else if (parse_long(a, na, &v))
        out->page_number = v;
}

bool bl_status_parse(const char *line, size_t len, bl_status_t *out)
{
    static const struct {
        const char *prefix;
        bl_status_kind_t kind;
    } prefixes[] = {
        {"STATE:", BL_STATUS_STATE}, {"ATTR:", BL_STATUS_ATTR},   {"PAGE:", BL_STATUS_PAGE},
        {"INFO:", BL_STATUS_INFO},   {"NOTICE:", BL_STATUS_INFO}, {"WARNING:", BL_STATUS_WARNING},
        {"ERROR:", BL_STATUS_ERROR}, {"CRIT:", BL_STATUS_ERROR},  {"ALERT:", BL_STATUS_ERROR},
        {"EMERG:", BL_STATUS_ERROR}, {"DEBUG:", BL_STATUS_DEBUG}, {"DEBUG2:", BL_STATUS_DEBUG}};
    memset(out, 0, sizeof(*out));
    out->page_total = out->page_number = -1;
    if (len && line[len - 1] == '\r')
        len--;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i].prefix);
        if (len < n || memcmp(line, prefixes[i].prefix, n))
            continue;
        const char *p = line + n, *end = line + len;
        while (p < end && *p == ' ')
            p++;
        out->kind = prefixes[i].kind;
        sanitize(p, (size_t)(end - p), out->message, sizeof(out->message));
        if (out->kind == BL_STATUS_STATE)
            parse_state(p, end, out);
        else if (out->kind == BL_STATUS_ATTR)
            parse_attr(p, end, out);
        else if (out->kind == BL_STATUS_PAGE)
            parse_page(p, end, out);
        return true;
    }
    out->kind = BL_STATUS_NONE;
    sanitize(line, len, out->message, sizeof(out->message));
    return false;
}
