// Hostile filter for tests/sandbox.sh: writes a 2 GiB file into TMPDIR (RLIMIT_FSIZE).
// Licensed under the Apache License, Version 2.0.
//
// By default SIGXFSZ kills it at the limit. With OPTIONS "ignore=1" it ignores SIGXFSZ and
// prints "ERROR: blocked: write after N MiB: <why>" (EFBIG) and exits 1. Exits 0 with
// "ATTR: evil-succeeded=1" when the whole file was written.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOTAL_MIB 2048

int main(int argc, char **argv)
{
    if (argc >= 6 && strstr(argv[5], "ignore=1"))
        signal(SIGXFSZ, SIG_IGN);
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/evil-big", tmp ? tmp : ".");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "ERROR: blocked: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    static char buf[1 << 20];
    memset(buf, 0x5a, sizeof(buf));
    for (int mib = 0; mib < TOTAL_MIB; mib++) {
        if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
            fprintf(stderr, "ERROR: blocked: write after %d MiB: %s\n", mib, strerror(errno));
            return 1;
        }
    }
    fprintf(stderr, "ATTR: evil-succeeded=1\n");
    return 0;
}
