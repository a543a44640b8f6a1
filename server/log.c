// Error/debug log of blattd and its helpers: levelled lines to stderr or a file.
// Licensed under the Apache License, Version 2.0.
#include "server/log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static bl_log_level_t log_level = BL_LOG_INFO;

bool bl_log_open(const char *path, bl_log_level_t level)
{
    log_level = level;
    if (!path || !strcmp(path, "stderr"))
        return true;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return false;
    if (log_fd > 2)
        close(log_fd);
    log_fd = fd;
    return true;
}

void bl_log_set_level(bl_log_level_t level)
{
    log_level = level;
}

bool bl_log_is(bl_log_level_t level)
{
    return level <= log_level;
}

bool bl_log_level_parse(const char *text, bl_log_level_t *level)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (!strcmp(text, names[i])) {
            *level = (bl_log_level_t)i;
            return true;
        }
    }
    return false;
}

void bl_log(bl_log_level_t level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    char line[2048];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %c ", (long)(tv.tv_usec / 1000),
                          "EWID"[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += (size_t)m;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    // One log line per record: control characters from remote data never split a line.
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)line[i] < 0x20)
            line[i] = ' ';
    }
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, n);
    (void)w;
}

void bl_log_close(void)
{
    if (log_fd > 2)
        close(log_fd);
    log_fd = 2;
}
