// midway: a filter that dies in the middle of a document (tests/filter-crash.sh).
// Licensed under the Apache License, Version 2.0.
//
// It reads its whole input, writes the first half of it to stdout and then, by the name it is
// installed under: midway-crash kills itself with SIGSEGV, midway-exit exits with 1 after an
// ERROR line, midway-whole writes the rest too and exits 0 (the control). midway-reasons
// reports nine printer-state-reasons and takes one back, writes the whole document, waits 3 s
// and kills itself with SIGSEGV, without taking the others back.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    size_t len = 0, cap = 1 << 16;
    unsigned char *buf = malloc(cap);
    ssize_t n;
    while (buf && (n = read(STDIN_FILENO, buf + len, cap - len)) > 0) {
        len += (size_t)n;
        if (len == cap) {
            unsigned char *more = realloc(buf, cap * 2);
            if (!more)
                break;
            buf = more;
            cap *= 2;
        }
    }
    if (!buf || len < 2) {
        fprintf(stderr, "ERROR: midway: no document\n");
        return 1;
    }
    if (!strcmp(name, "midway-reasons")) {
        fprintf(stderr, "STATE: +media-low-report +toner-low-report +cover-open door-open "
                        "+media-jam +interlock-open +output-area-full +input-tray-missing "
                        "+spool-area-full\nSTATE: -media-low-report\n");
        fflush(stderr);
        if (write_all(buf, len) != 0)
            return 1;
        sleep(3);
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    if (write_all(buf, len / 2) != 0)
        return 1;
    if (!strcmp(name, "midway-crash")) {
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    if (!strcmp(name, "midway-whole"))
        return write_all(buf + len / 2, len - len / 2) != 0;
    fprintf(stderr, "ERROR: midway: giving up half way\n");
    return 1;
}
