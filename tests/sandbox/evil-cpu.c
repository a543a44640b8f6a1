// Hostile filter for tests/sandbox.sh: burns CPU time forever (stopped by RLIMIT_CPU).
// Licensed under the Apache License, Version 2.0.
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "INFO: burning CPU\n");
    volatile unsigned long n = 0;
    for (;;)
        n++;
}
