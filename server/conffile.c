// Config file text: reading, lines, comments, splitting, errors (see conffile.h).
// Licensed under the Apache License, Version 2.0.
#include "server/conffile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool bl_conffile_read(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    char *b = malloc(BL_CONFFILE_MAX_SIZE + 1);
    size_t n = b ? fread(b, 1, BL_CONFFILE_MAX_SIZE + 1, fp) : 0;
    bool bad = !b || ferror(fp);
    fclose(fp);
    if (bad || n > BL_CONFFILE_MAX_SIZE) {
        snprintf(err, errlen, "%s: %s", path, bad ? "cannot read" : "file is larger than 4 MiB");
        free(b);
        return false;
    }
    *buf = b;
    *len = n;
    return true;
}

static bool line_error(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static bool line_error(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bl_conffile_verror(err, errlen, file, line, fmt, ap);
    va_end(ap);
    return false;
}

bool bl_conffile_lines(const char *text, size_t len, const char *file, char *err, size_t errlen,
                       bl_conffile_line_fn line_fn, void *ctx)
{
    char line[BL_CONFFILE_MAX_LINE + 1];
    int number = 0;
    for (size_t pos = 0; pos < len;) {
        number++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        if (n > BL_CONFFILE_MAX_LINE)
            return line_error(err, errlen, file, number, "line longer than %d bytes",
                              BL_CONFFILE_MAX_LINE);
        if (memchr(text + pos, '\0', n))
            return line_error(err, errlen, file, number, "NUL byte in line");
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + (nl ? 1 : 0);
        if (!line_fn(ctx, number, line))
            return false;
    }
    return true;
}

char *bl_conffile_trim(char *line)
{
    line += strspn(line, " \t\r");
    for (char *h = line; (h = strchr(h, '#')); h++) {
        if (h == line || h[-1] == ' ' || h[-1] == '\t') {
            *h = '\0';
            break;
        }
    }
    char *end = line + strlen(line);
    while (end > line && strchr(" \t\r", end[-1]))
        *--end = '\0';
    return line;
}

char *bl_conffile_value(char *line)
{
    char *v = line + strcspn(line, " \t");
    if (*v)
        *v++ = '\0';
    return v + strspn(v, " \t");
}

bool bl_conffile_verror(char *err, size_t errlen, const char *file, int line, const char *fmt,
                        va_list ap)
{
    int n = snprintf(err, errlen, "%s:%d: ", file, line);
    if (n < 0 || (size_t)n >= errlen)
        return false;
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    return false;
}
