// What blattd.conf(5) and blatt-policy.conf(5) share as text: reading the file (bounded), one
// call per line (bounded, no NUL bytes), comments and white space, "Name value" splitting and
// "FILE:LINE: " errors. Licensed under the Apache License, Version 2.0.
#ifndef BL_CONFFILE_H
#define BL_CONFFILE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define BL_CONFFILE_MAX_LINE 4096
#define BL_CONFFILE_MAX_SIZE (4u * 1024 * 1024)

// Reads path whole into *buf (malloc'd, the caller frees) of *len bytes, at most
// BL_CONFFILE_MAX_SIZE. false with "PATH: why" in err.
bool bl_conffile_read(const char *path, char **buf, size_t *len, char *err, size_t errlen);

// Calls line_fn(ctx, number, line) for every line of text (line is a writable copy, without
// its newline); stops at the first false. A line longer than BL_CONFFILE_MAX_LINE or holding
// a NUL byte is an error "FILE:N: ..." in err. true when every line was taken.
typedef bool (*bl_conffile_line_fn)(void *ctx, int number, char *line);
bool bl_conffile_lines(const char *text, size_t len, const char *file, char *err, size_t errlen,
                       bl_conffile_line_fn line_fn, void *ctx);

// Trims white space and drops a comment (a '#' that starts the line or follows white space).
// Returns the rest, "" for an empty line.
char *bl_conffile_trim(char *line);
// Splits a trimmed "Name value" line: line keeps the name, the return value is the value with
// its leading white space skipped ("" when there is none).
char *bl_conffile_value(char *line);

// Writes "FILE:LINE: " and the message into err. Returns false (for `return fail(...)`).
bool bl_conffile_verror(char *err, size_t errlen, const char *file, int line, const char *fmt,
                        va_list ap) __attribute__((format(printf, 5, 0)));

#endif
