// Parser of the OPTIONS argument (name=value pairs) and of page-ranges values.
// Licensed under the Apache License, Version 2.0.
//
// blattd validates the values, but the string is still input: names are limited to
// a-z 0-9 '-', values to printable ASCII without spaces, both bounded in length.
#include "drivers/drivers-private.h"

#include <stdio.h>
#include <string.h>

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool value_char(char c)
{
    return c > 0x20 && c < 0x7f;
}

// Stores one "name=value" token of length n; malformed tokens are ignored.
static void add_pair(bl_options_t *out, const char *tok, size_t n)
{
    const char *eq = memchr(tok, '=', n);
    if (!eq || eq == tok)
        return;
    size_t nl = (size_t)(eq - tok), vl = n - nl - 1;
    if (nl >= BL_OPTION_NAME_MAX || vl >= BL_OPTION_VALUE_MAX)
        return;
    for (size_t i = 0; i < nl; i++)
        if (!name_char(tok[i]))
            return;
    for (size_t i = 0; i < vl; i++)
        if (!value_char(eq[1 + i]))
            return;
    size_t slot = out->count;
    for (size_t i = 0; i < out->count; i++)
        if (strlen(out->items[i].name) == nl && !memcmp(out->items[i].name, tok, nl))
            slot = i;
    if (slot == BL_OPTIONS_MAX)
        return;
    memcpy(out->items[slot].name, tok, nl);
    out->items[slot].name[nl] = '\0';
    memcpy(out->items[slot].value, eq + 1, vl);
    out->items[slot].value[vl] = '\0';
    if (slot == out->count)
        out->count++;
}

void bl_options_parse(const char *text, bl_options_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!text)
        return;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *tok = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (p > tok)
            add_pair(out, tok, (size_t)(p - tok));
    }
}

const char *bl_options_find(const bl_options_t *opts, const char *name)
{
    for (size_t i = 0; i < opts->count; i++)
        if (!strcmp(opts->items[i].name, name))
            return opts->items[i].value;
    return NULL;
}

// Parses a decimal number of at most 9 digits at *p; advances *p.
static bool parse_number(const char **p, long *out)
{
    long v = 0;
    int digits = 0;
    while (**p >= '0' && **p <= '9') {
        if (++digits > 9)
            return false;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return digits > 0;
}

long bl_options_get_int(const bl_options_t *opts, const char *name, long min, long max, long def)
{
    const char *v = bl_options_find(opts, name);
    long n;
    if (!v || !parse_number(&v, &n) || *v != '\0' || n < min || n > max)
        return def;
    return n;
}

bool bl_page_ranges_parse(const char *text, bl_page_ranges_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *p = text;
    if (!p || !*p)
        return false;
    for (;;) {
        long first, last;
        if (out->count == BL_PAGE_RANGES_MAX || !parse_number(&p, &first) || first < 1)
            return false;
        last = first;
        if (*p == '-') {
            p++;
            if (*p == ',' || *p == '\0')
                last = 999999999; // open range: to the end
            else if (!parse_number(&p, &last) || last < first)
                return false;
        }
        // IPP wants ascending, non-overlapping ranges.
        if (out->count > 0 && first <= out->r[out->count - 1].last)
            return false;
        out->r[out->count].first = first;
        out->r[out->count++].last = last;
        if (*p == '\0')
            return true;
        if (*p++ != ',')
            return false;
    }
}

long bl_page_ranges_clip(const bl_page_ranges_t *ranges, long npages, char *spec, size_t len)
{
    long selected = 0;
    size_t o = 0;
    if (len == 0)
        return -1;
    spec[0] = '\0';
    for (size_t i = 0; i < ranges->count; i++) {
        long first = ranges->r[i].first, last = ranges->r[i].last;
        if (first > npages)
            continue;
        if (last > npages)
            last = npages;
        int n = first == last ? snprintf(spec + o, len - o, "%s%ld", o ? "," : "", first)
                              : snprintf(spec + o, len - o, "%s%ld-%ld", o ? "," : "", first, last);
        if (n < 0 || (size_t)n >= len - o)
            return -1;
        o += (size_t)n;
        selected += last - first + 1;
    }
    return selected;
}
