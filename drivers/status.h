// Status lines that filters and backends write on stderr (CUPS-compatible, untrusted).
// Licensed under the Apache License, Version 2.0.
#ifndef BL_STATUS_H
#define BL_STATUS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum bl_status_kind {
    BL_STATUS_NONE,
    BL_STATUS_STATE,
    BL_STATUS_ATTR,
    BL_STATUS_PAGE,
    BL_STATUS_INFO,
    BL_STATUS_WARNING,
    BL_STATUS_ERROR,
    BL_STATUS_DEBUG,
} bl_status_kind_t;

typedef enum bl_status_reason_op {
    BL_STATUS_REASON_SET,
    BL_STATUS_REASON_ADD,
    BL_STATUS_REASON_REMOVE,
} bl_status_reason_op_t;

#define BL_STATUS_MAX_ITEMS 16

typedef struct bl_status {
    bl_status_kind_t kind;
    char message[256]; // sanitised text: printable UTF-8 only
    struct {
        bl_status_reason_op_t op;
        char keyword[64];
    } reasons[BL_STATUS_MAX_ITEMS];
    size_t num_reasons;
    struct {
        char name[64];
        long value; // 0 .. 2^31-1
    } attrs[BL_STATUS_MAX_ITEMS];
    size_t num_attrs;
    long page_total;  // PAGE: total N (-1 when absent)
    long page_number; // PAGE: N copies (-1 when absent)
} bl_status_t;

// Parses one line (without the newline; any bytes). false when the prefix is unknown: then
// kind is BL_STATUS_NONE and message holds the sanitised line.
bool bl_status_parse(const char *line, size_t len, bl_status_t *out);

#endif
