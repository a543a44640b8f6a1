// Hostile filter for tests/sandbox.sh: allocates and touches 4 GiB (stopped by RLIMIT_AS).
// Licensed under the Apache License, Version 2.0.
//
// Exits 0 with "ATTR: evil-succeeded=1" when it got all of it; otherwise prints
// "ERROR: blocked: malloc after N MiB: <why>" and exits 1.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MIB 64
#define TOTAL_MIB 4096

int main(void)
{
    for (size_t got = 0; got < TOTAL_MIB; got += CHUNK_MIB) {
        char *p = malloc((size_t)CHUNK_MIB << 20);
        if (!p) {
            fprintf(stderr, "ERROR: blocked: malloc after %zu MiB: %s\n", got, strerror(errno));
            return 1;
        }
        memset(p, 0x5a, (size_t)CHUNK_MIB << 20);
    }
    fprintf(stderr, "ATTR: evil-succeeded=1\n");
    return 0;
}
