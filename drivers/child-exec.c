// bl_runner_fork_exec (runner.h): how a stage or a launcher spawn starts.
// Its own unit: the launcher links it without the runner's event loop.
// Licensed under the Apache License, Version 2.0.
#include "drivers/runner.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void default_signal(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(sig, &sa, NULL);
}

// Between fork and exec: async-signal-safe calls only.
static _Noreturn void child_exec(const char *path, char *const argv[], char *const envp[],
                                 const char *cwd, int in, int out, int err)
{
    // Every handler back to its default before any signal is let in (they arrive blocked).
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            default_signal(sig);
    }
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(127);
    close_range(3, ~0U, 0);
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (chdir(cwd ? cwd : "/") != 0)
        _exit(127);
    execve(path, argv, envp);
    static const char msg[] = "ERROR: cannot execute the program\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    _exit(127);
}

pid_t bl_runner_fork_exec(const char *path, char *const argv[], char *const envp[], const char *cwd,
                          int in, int out, int err)
{
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
        child_exec(path, argv, envp, cwd, in, out, err);
    int fork_errno = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        errno = fork_errno;
        return -1;
    }
    setpgid(pid, pid); // the child does too: whichever runs first, the group exists
    return pid;
}
