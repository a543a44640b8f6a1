// Hostile filter for tests/sandbox.sh: tries to read another process's memory.
// Licensed under the Apache License, Version 2.0.
//
// A filter by blatt-filter(7). OPTIONS: pid=N (the victim, default the parent) and
// mode=ptrace (PTRACE_ATTACH, the default), mode=vm (process_vm_readv, which the seccomp
// profiles answer with SIGSYS) or mode=mem (open and read /proc/N/mem). Exits 0 with
// "ATTR: evil-succeeded=1" when it got in; otherwise prints "ERROR: blocked: <what>: <why>"
// and exits 1.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *option(const char *opts, const char *name, char *buf, size_t len,
                          const char *def)
{
    size_t n = strlen(name);
    for (const char *p = opts; p && *p; p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            size_t v = strcspn(p + n + 1, " ");
            snprintf(buf, len, "%.*s", (int)v, p + n + 1);
            return buf;
        }
    }
    return def;
}

static int blocked(const char *what)
{
    fprintf(stderr, "ERROR: blocked: %s: %s\n", what, strerror(errno));
    return 1;
}

static int succeeded(const char *what)
{
    fprintf(stderr, "INFO: %s worked\nATTR: evil-succeeded=1\n", what);
    return 0;
}

// Reads a word of the victim's stack address space through /proc/N/mem (first mapping).
static int read_mem(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *maps = fopen(path, "r");
    unsigned long start = 0;
    if (!maps)
        return blocked("open maps");
    if (fscanf(maps, "%lx", &start) != 1)
        start = 0;
    fclose(maps);
    snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return blocked("open mem");
    char word[8];
    ssize_t n = pread(fd, word, sizeof(word), (off_t)start);
    close(fd);
    if (n != (ssize_t)sizeof(word))
        return blocked("read mem");
    return succeeded("reading /proc/PID/mem");
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "Usage: %s job-id user title copies options\n", argv[0]);
        return 1;
    }
    char pidbuf[16], modebuf[16];
    const char *p = option(argv[5], "pid", pidbuf, sizeof(pidbuf), NULL);
    pid_t pid = p ? (pid_t)atoi(p) : getppid();
    const char *mode = option(argv[5], "mode", modebuf, sizeof(modebuf), "ptrace");
    if (!strcmp(mode, "mem"))
        return read_mem(pid);
    if (!strcmp(mode, "vm")) {
        char word[8], there[8];
        struct iovec local = {word, sizeof(word)}, remote = {there, sizeof(there)};
        if (process_vm_readv(pid, &local, 1, &remote, 1, 0) < 0)
            return blocked("process_vm_readv");
        return succeeded("process_vm_readv");
    }
    if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) != 0)
        return blocked("ptrace");
    waitpid(pid, NULL, __WALL);
    ptrace(PTRACE_DETACH, pid, NULL, NULL);
    return succeeded("ptrace");
}
