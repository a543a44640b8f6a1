// Error/debug log of blattd and its helpers: levelled lines to stderr or a file.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_LOG_H
#define BL_LOG_H

#include <stdbool.h>

typedef enum bl_log_level {
    BL_LOG_ERROR = 0,
    BL_LOG_WARN = 1,
    BL_LOG_INFO = 2,
    BL_LOG_DEBUG = 3,
} bl_log_level_t;

// Sends log lines to `path` (appended, created 0640) or stderr when NULL.
bool bl_log_open(const char *path, bl_log_level_t level);
// Changes the level at run time.
void bl_log_set_level(bl_log_level_t level);
bool bl_log_is(bl_log_level_t level);
// Parses "error", "warn", "info", "debug".
bool bl_log_level_parse(const char *text, bl_log_level_t *level);
// One line: "<UTC time> <L> message". Never pass document content, passwords or tokens.
void bl_log(bl_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bl_log_close(void);

#endif
