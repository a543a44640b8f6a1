// Hostile filter for tests/sandbox.sh: tries to become root again after the drop.
// Licensed under the Apache License, Version 2.0.
//
// Exits 0 with "ATTR: evil-succeeded=1" when any of setuid(0), setresuid(0,0,0), setgid(0),
// setgroups() succeeded; otherwise prints "ERROR: blocked: <call>: <why>" for each, exits 1.
#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool report(const char *call, int rc)
{
    if (rc == 0) {
        fprintf(stderr, "INFO: %s worked\n", call);
        return true;
    }
    fprintf(stderr, "ERROR: blocked: %s: %s\n", call, strerror(errno));
    return false;
}

int main(void)
{
    gid_t root_group = 0;
    bool escaped = false;
    escaped |= report("setgroups", setgroups(1, &root_group));
    escaped |= report("setgid", setgid(0));
    escaped |= report("setresgid", setresgid(0, 0, 0));
    escaped |= report("setuid", setuid(0));
    escaped |= report("setresuid", setresuid(0, 0, 0));
    if (!escaped && getuid() != 0 && geteuid() != 0)
        return 1;
    fprintf(stderr, "ATTR: evil-succeeded=1\n");
    return 0;
}
