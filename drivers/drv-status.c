// Status lines on stderr and signal handling for filters and backends.
// Licensed under the Apache License, Version 2.0.
#include "drivers/drivers-private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sys/prctl.h>
#endif

volatile sig_atomic_t bl_drv_terminated;

#if defined(__SANITIZE_ADDRESS__)
// Test builds only. LeakSanitizer stops the world with ptrace, which the sandbox's seccomp
// filter denies, and would end every sandboxed run with a "fatal error" instead of the
// program's status; under seccomp the leak check is off. It runs where the unit and driver
// tests start the same programs without the sandbox; ASan and UBSan stay on everywhere.
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
    return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2;
}
#endif

static void on_terminate(int sig)
{
    (void)sig;
    bl_drv_terminated = 1;
}

_Noreturn void bl_drv_broken_pipe(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(SIGPIPE);
    _exit(BL_EXIT_FAILED);
}

void bl_drv_signals_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_terminate;
    sigemptyset(&sa.sa_mask);
    // No SA_RESTART: blocking reads and sleeps return EINTR so the job can stop promptly.
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

// Length of the valid UTF-8 sequence at s[0..len), 0 when invalid or a control character.
static size_t utf8_len(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return c >= 0x20 && c != 0x7f ? 1 : 0;
    size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || n > len || (n == 2 && c < 0xC2) || (n == 4 && c > 0xF4))
        return 0;
    for (size_t k = 1; k < n; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    if (n == 3 && c == 0xE0 && s[1] < 0xA0)
        return 0; // overlong
    if (n == 3 && c == 0xED && s[1] >= 0xA0)
        return 0; // surrogate
    if (n == 4 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90)))
        return 0;
    if (n == 2 && c == 0xC2 && s[1] < 0xA0)
        return 0; // C1 control characters
    return n;
}

void bl_text_sanitize(const char *src, size_t len, char *dst, size_t dlen)
{
    size_t o = 0;
    if (dlen == 0)
        return;
    for (size_t i = 0; src && i < len && o + 1 < dlen;) {
        size_t n = utf8_len((const unsigned char *)src + i, len - i);
        if (n == 0 || o + n >= dlen) {
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

void bl_drv_msg(const char *prefix, const char *fmt, ...)
{
    char text[1024], line[1100];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t tlen = (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
    size_t plen = strlen(prefix);
    if (plen > 16)
        return;
    memcpy(line, prefix, plen);
    line[plen] = ':';
    line[plen + 1] = ' ';
    bl_text_sanitize(text, tlen, line + plen + 2, sizeof(line) - plen - 3);
    size_t len = strlen(line);
    line[len++] = '\n';
    int saved = errno;
    (void)bl_fd_write_all(STDERR_FILENO, line, len);
    errno = saved;
}

bool bl_drv_check_args(int argc, char **argv)
{
    if (argc == 6 || argc == 7)
        return true;
    bl_drv_msg("ERROR", "usage: %s JOB-ID USER TITLE COPIES OPTIONS [FILE]",
               argc > 0 && argv[0] ? argv[0] : "filter");
    return false;
}
