// bl_runner_child_exec (runner.h): the last steps before a stage or a launcher spawn runs.
// Its own unit: the launcher links it without the runner's event loop.
// Licensed under the Apache License, Version 2.0.
#include "drivers/runner.h"

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

_Noreturn void bl_runner_child_exec(const char *path, char *const argv[], char *const envp[],
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
