// Hostile filter for tests/sandbox.sh: tries new namespaces (a way to regain capabilities
// in a user namespace), mount(), and the other system call ABIs of x86_64.
// Licensed under the Apache License, Version 2.0.
//
// OPTIONS: mode=ns (the default: unshare(CLONE_NEWUSER) and clone(CLONE_NEWUSER)),
// mode=mount (mount a tmpfs on TMPDIR), mode=x32 (getpid with the x32 bit) or mode=i386
// (getpid through int 0x80). The seccomp profiles answer the last three with SIGSYS. Exits
// 0 with "ATTR: evil-succeeded=1" when one worked; otherwise prints
// "ERROR: blocked: <call>: <why>" for each and exits 1 (2: mode not on this architecture).
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static bool report(const char *call, long rc)
{
    if (rc >= 0) {
        fprintf(stderr, "INFO: %s worked\n", call);
        return true;
    }
    fprintf(stderr, "ERROR: blocked: %s: %s\n", call, strerror(errno));
    return false;
}

// A system call through another ABI than the native one; false when there is none here.
static bool other_abi(const char *mode, long *rc)
{
#if defined(__x86_64__)
    if (!strcmp(mode, "x32")) {
        *rc = syscall(0x40000000L | SYS_getpid);
        return true;
    }
    long ret = 20; // getpid in the i386 table
    __asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
    *rc = ret;
    return true;
#else
    (void)mode;
    (void)rc;
    return false;
#endif
}

int main(int argc, char **argv)
{
    bool escaped = false;
    const char *mode = argc >= 6 && strstr(argv[5], "mode=") ? strstr(argv[5], "mode=") + 5 : "";
    if (!strncmp(mode, "x32", 3) || !strncmp(mode, "i386", 4)) {
        long rc;
        if (!other_abi(mode[0] == 'x' ? "x32" : "i386", &rc)) {
            fprintf(stderr, "ERROR: no other ABI on this architecture\n");
            return 2;
        }
        if (rc < 0 && rc > -4096) {
            errno = (int)-rc;
            rc = -1;
        }
        escaped |= report(mode[0] == 'x' ? "x32 getpid" : "i386 getpid", rc);
    } else if (!strncmp(mode, "mount", 5)) {
        const char *tmp = getenv("TMPDIR");
        escaped |= report("mount", mount("evil", tmp ? tmp : ".", "tmpfs", 0, NULL));
    } else {
        // The raw syscall, as glibc's clone() needs a stack: the child just exits.
        long pid = syscall(SYS_clone, (long)(CLONE_NEWUSER | SIGCHLD), 0L, 0L, 0L, 0L);
        if (pid == 0)
            _exit(0);
        if (pid > 0)
            waitpid((pid_t)pid, NULL, 0);
        escaped |= report("clone(CLONE_NEWUSER)", pid);
        escaped |= report("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
    }
    if (!escaped)
        return 1;
    fprintf(stderr, "ATTR: evil-succeeded=1\n");
    return 0;
}
