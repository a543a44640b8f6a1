// The sandbox of filters and backends, applied by the small exec helper blatt-exec.
// Licensed under the Apache License, Version 2.0.
//
// blattd never sandboxes in its own forked child (after fork() only async-signal-safe code may
// run, and libseccomp allocates). It execs HelperDir/blatt-exec with the sandbox as options
// and the real program after "--"; blatt-exec applies everything and then execs the program:
//
//   blatt-exec [--uid N --gid N] [--no-network] [--tmpfs DIR --tmpfs-mb N] [--cpu SECONDS]
//              [--memory-mb N] [--file-size-mb N] [--open-files N] [--seccomp filter|backend]
//              -- PROGRAM ARGV0 ARGV1 ...
//
// On any failure it prints "ERROR: sandbox: <why>" on stderr and exits 127 without running
// the program. The environment is passed through unchanged (blattd already built it).
#ifndef BL_SANDBOX_H
#define BL_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef enum bl_seccomp_profile {
    BL_SECCOMP_NONE = 0,
    BL_SECCOMP_FILTER,  // converters: no sockets at all, no process tracing, no mounts...
    BL_SECCOMP_BACKEND, // device I/O: TCP/UDP sockets allowed, the rest as for filters
} bl_seccomp_profile_t;

typedef struct bl_sandbox {
    bool drop_user; // setgroups/setgid/setuid to uid/gid (when blattd runs as root)
    uid_t uid;
    gid_t gid;
    bool no_network;   // a new network namespace with nothing in it
    const char *tmpfs; // mount a private tmpfs here (the job's TMPDIR), NULL = none
    long tmpfs_mb;     // its size
    long cpu_seconds;  // RLIMIT_CPU, 0 = unchanged
    long memory_mb;    // RLIMIT_AS, 0 = unchanged
    long file_size_mb; // RLIMIT_FSIZE, 0 = unchanged
    long open_files;   // RLIMIT_NOFILE, 0 = unchanged
    bl_seccomp_profile_t seccomp;
} bl_sandbox_t;

#define BL_SANDBOX_MAX_ARGS 40

// Kills (SIGKILL) every process running as uid, a sandbox uid whose job has ended: through the
// launcher when there is one, else (blattd is root) by a child that becomes uid and sends
// kill(-1). true when nothing of the uid is left to kill; false with errno.
bool bl_sandbox_kill_uid(uid_t uid);
// The same, done here by a forked child (the caller is root: the launcher, or blattd as root).
bool bl_sandbox_kill_uid_as_root(uid_t uid);

// Builds the argv of blatt-exec for running program with argv (NULL-terminated) under sb,
// into out (at most max entries with the final NULL), using buf for the number strings.
// Runs in blattd before fork(). Returns the number of entries or 0 when they do not fit.
size_t bl_sandbox_argv(const bl_sandbox_t *sb, const char *helper, const char *program,
                       char *const *argv, char **out, size_t max, char *buf, size_t buflen);

#endif
