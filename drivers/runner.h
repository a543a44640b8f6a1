// Process runner: a chain of filter/backend processes joined by pipes, watched from the loop.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_RUNNER_H
#define BL_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "drivers/status.h"

struct event_base;

#define BL_RUNNER_MAX_STAGES 8

// One program of the chain: an absolute path, argv and the whole environment (no shell, no
// inherited environment). Strings are copied at start.
typedef struct bl_stage {
    const char *path;
    char **argv;
    char **envp;
    // path is blatt-exec around the real program: when blattd gave up root, the launcher
    // starts it (as root, for the uid change). Other stages (Sandbox No) blattd starts itself.
    bool sandboxed;
} bl_stage_t;

typedef struct bl_runner_result {
    size_t num_stages;
    // The stage to blame: -1 when every stage exited 0. A backend exit of 4..7 (a device
    // condition) wins, unless the backend was stopped because a stage before it failed;
    // otherwise the first stage that failed for a reason other than SIGPIPE.
    int failed_stage;
    int exit_code[BL_RUNNER_MAX_STAGES];   // -1 when killed by a signal
    int term_signal[BL_RUNNER_MAX_STAGES]; // 0 when it exited
    bool canceled;                         // bl_runner_cancel() was called
    bool timed_out;                        // the chain ran past its timeout and was killed
    bool feed_failed; // the feed callback reported an error; the chain was killed
} bl_runner_result_t;

typedef struct bl_runner_callbacks {
    // Fills buf with up to len bytes for the first stage's stdin: >0 bytes, 0 end, -1 error.
    // NULL: stdin is /dev/null.
    ssize_t (*feed)(void *ctx, void *buf, size_t len);
    // Bytes the last stage writes on stdout. NULL: its stdout is /dev/null.
    void (*output)(void *ctx, const void *data, size_t len);
    // One parsed stderr line of a stage (NULL: stderr lines are only logged at debug level).
    void (*status)(void *ctx, size_t stage, const bl_status_t *st);
    // Called once when every stage has exited and its pipes are drained; the runner is freed
    // right after it returns.
    void (*done)(void *ctx, const bl_runner_result_t *res);
} bl_runner_callbacks_t;

typedef struct bl_runner bl_runner_t;

// Forks and executes path in a child: every signal handler back to its default, in/out/err as
// 0/1/2 and nothing else open, its own process group (also set from the parent), no new
// privileges, SIGKILL when the parent dies, cwd (NULL: "/"); the child exits 127 when execve
// fails. Signals stay blocked from before the fork until the child has reset its handlers, so
// one sent right after the fork waits for the child instead of running the parent's handler
// there or being discarded by an inherited SIG_IGN. The child's pid, or -1 with errno. The
// runner's stages and the launcher's spawns start this way; in, out and err stay open here.
pid_t bl_runner_fork_exec(const char *path, char *const argv[], char *const envp[], const char *cwd,
                          int in, int out, int err);

// Starts the chain in the directory `cwd` (NULL: "/"), each stage in its own process group,
// with SIGPIPE at its default and no new privileges. timeout_seconds 0 = none. The callbacks
// struct must outlive the runner. NULL on failure (logged; nothing left running).
bl_runner_t *bl_runner_start(struct event_base *base, const bl_stage_t *stages, size_t n,
                             const char *cwd, int timeout_seconds, const bl_runner_callbacks_t *cb,
                             void *ctx);
// Asks the chain to stop: SIGTERM now, SIGKILL after a grace period. done() still comes.
void bl_runner_cancel(bl_runner_t *r);
// Kills the chain and forgets the callbacks: done() never comes (owner is going away).
void bl_runner_abandon(bl_runner_t *r);
// Number of runners with live processes (for shutdown and tests).
size_t bl_runner_count(void);
// Frees the SIGCHLD watcher (after the last runner ended, at exit).
void bl_runner_cleanup(void);

#endif
