// Builds the command line of the exec helper blatt-exec from a sandbox (see sandbox.h).
// Licensed under the Apache License, Version 2.0.
//
// Runs in blattd before fork(): nothing is allocated, the numbers are written into the
// caller's buffer, and out points into sb, argv, buf and string literals (valid as long as
// they are). out = {helper, options..., "--", program, argv[0], argv[1], ..., NULL}; the
// return value is the number of entries before the NULL (the argc of blatt-exec).
#include "drivers/sandbox.h"

#include "drivers/launcher.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct builder {
    char **out;
    size_t max, n;
    char *buf;
    size_t buflen, used;
    bool ok;
} builder_t;

// Appends s, keeping one slot for the final NULL.
static void add(builder_t *b, const char *s)
{
    if (b->n + 1 >= b->max) {
        b->ok = false;
        return;
    }
    b->out[b->n++] = (char *)s;
}

// Appends opt and the decimal value, which is written into the buffer.
static void add_number(builder_t *b, const char *opt, unsigned long long v)
{
    add(b, opt);
    size_t room = b->buflen - b->used;
    int len = snprintf(b->buf + b->used, room, "%llu", v);
    if (len < 0 || (size_t)len >= room) {
        b->ok = false;
        return;
    }
    add(b, b->buf + b->used);
    b->used += (size_t)len + 1;
}

// Appends opt value when value > 0 (0 = unchanged).
static void add_limit(builder_t *b, const char *opt, long value)
{
    if (value > 0)
        add_number(b, opt, (unsigned long long)value);
}

static bool sandbox_ok(const bl_sandbox_t *sb)
{
    return sb->cpu_seconds >= 0 && sb->memory_mb >= 0 && sb->file_size_mb >= 0 &&
           sb->open_files >= 0 && sb->tmpfs_mb >= 0 && (sb->tmpfs || sb->tmpfs_mb == 0) &&
           sb->seccomp >= BL_SECCOMP_NONE && sb->seccomp <= BL_SECCOMP_BACKEND;
}

size_t bl_sandbox_argv(const bl_sandbox_t *sb, const char *helper, const char *program,
                       char *const *argv, char **out, size_t max, char *buf, size_t buflen)
{
    if (!sb || !helper || !program || !argv || !argv[0] || !out || !buf || !sandbox_ok(sb))
        return 0;
    builder_t b = {.out = out, .max = max, .buf = buf, .buflen = buflen, .ok = true};
    add(&b, helper);
    if (sb->drop_user) {
        add_number(&b, "--uid", (unsigned long long)sb->uid);
        add_number(&b, "--gid", (unsigned long long)sb->gid);
    }
    if (sb->no_network)
        add(&b, "--no-network");
    if (sb->tmpfs) {
        add(&b, "--tmpfs");
        add(&b, sb->tmpfs);
        add_limit(&b, "--tmpfs-mb", sb->tmpfs_mb);
    }
    add_limit(&b, "--cpu", sb->cpu_seconds);
    add_limit(&b, "--memory-mb", sb->memory_mb);
    add_limit(&b, "--file-size-mb", sb->file_size_mb);
    add_limit(&b, "--open-files", sb->open_files);
    if (sb->seccomp != BL_SECCOMP_NONE) {
        add(&b, "--seccomp");
        add(&b, sb->seccomp == BL_SECCOMP_FILTER ? "filter" : "backend");
    }
    add(&b, "--");
    add(&b, program);
    for (size_t i = 0; argv[i]; i++)
        add(&b, argv[i]);
    if (!b.ok)
        return 0;
    out[b.n] = NULL;
    return b.n;
}

bool bl_sandbox_kill_uid_as_root(uid_t uid)
{
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        // kill(-1) reaches exactly the processes whose real or saved uid is ours now (never
        // root's, never blattd's, never this child itself).
        if (setgroups(0, NULL) != 0 || setresgid(uid, uid, uid) != 0 ||
            setresuid(uid, uid, uid) != 0)
            _exit(1);
        _exit(kill(-1, SIGKILL) == 0 || errno == ESRCH ? 0 : 1);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return false;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        errno = EPERM;
        return false;
    }
    return true;
}

bool bl_sandbox_kill_uid(uid_t uid)
{
    if (bl_launcher_active())
        return bl_launcher_kill_uid(uid);
    if (geteuid() != 0)
        return true; // no uid of its own per job: nothing to do
    return bl_sandbox_kill_uid_as_root(uid);
}
