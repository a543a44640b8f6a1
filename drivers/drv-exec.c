// Runs converters (qpdf, gs) as children: explicit argv, minimal environment, no shell.
// Licensed under the Apache License, Version 2.0.
//
// The child gets stdin/stdout as asked, fd 3 = the document memfd, stderr = a pipe that we
// read line by line. On SIGTERM the child gets SIGTERM, then SIGKILL after a grace period;
// it is always reaped. PR_SET_PDEATHSIG kills it should we be SIGKILLed ourselves.
#include "drivers/drivers-private.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILL_GRACE_MS 3000
#define MAX_DEBUG_LINES 20

typedef struct child_io {
    bl_exec_t *ex;
    const char *name;
    char line[512];
    size_t line_len;
    size_t lines;
    size_t captured;
} child_io_t;

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Finds name in /usr/bin or /bin (the PATH of the sandbox); names with '/' are used as is.
static bool find_program(const char *name, char *path, size_t len)
{
    static const char *const dirs[] = {"/usr/bin", "/bin"};
    if (strchr(name, '/'))
        return snprintf(path, len, "%s", name) < (int)len && access(path, X_OK) == 0;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (snprintf(path, len, "%s/%s", dirs[i], name) < (int)len && access(path, X_OK) == 0)
            return true;
    }
    return false;
}

// In the child: moves the fds to 0..3, closes the rest, execs. Never returns.
static void child_exec(const char *path, bl_exec_t *ex, int out_fd, int err_fd, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    int in_fd = ex->stdin_fd >= 0 ? ex->stdin_fd : open("/dev/null", O_RDONLY | O_CLOEXEC);
    // Lift every source above 3 first so that the dup2 calls below cannot clobber one.
    int src[4] = {in_fd, out_fd, err_fd, ex->doc_fd};
    int high[4];
    for (int i = 0; i < 4; i++) {
        high[i] = src[i] >= 0 ? fcntl(src[i], F_DUPFD_CLOEXEC, 10) : -1;
        if (src[i] >= 0 && high[i] < 0)
            _exit(127);
    }
    for (int i = 0; i < 4; i++)
        if (high[i] >= 0 && dup2(high[i], i) < 0)
            _exit(127);
    closefrom(ex->doc_fd >= 0 ? 4 : 3);
    char *envp[4];
    int n = 0;
    envp[n++] = "PATH=/usr/bin:/bin";
    envp[n++] = "LANG=C";
    static char tmpdir[4096 + 8];
    const char *t = getenv("TMPDIR");
    if (t && t[0] == '/' && strlen(t) < 4096) {
        snprintf(tmpdir, sizeof(tmpdir), "TMPDIR=%s", t);
        envp[n++] = tmpdir;
    }
    envp[n] = NULL;
    execve(path, (char *const *)ex->argv, envp);
    _exit(127);
}

// Forwards one complete stderr line as DEBUG and keeps the first real error.
static void on_child_line(child_io_t *io)
{
    io->line[io->line_len] = '\0';
    const char *l = io->line;
    bool noise = !strncmp(l, "INFO:", 5) || !strncmp(l, "DEBUG:", 6) ||
                 !strncmp(l, "WARNING:", 8) || l[0] == '\0';
    if (!noise && io->ex->first_error[0] == '\0')
        bl_text_sanitize(l, io->line_len, io->ex->first_error, sizeof(io->ex->first_error));
    if (io->lines++ < MAX_DEBUG_LINES)
        bl_drv_msg("DEBUG", "%s: %.200s", io->name, l);
    io->line_len = 0;
}

// Reads what is available on fd; false at EOF or error.
static bool on_child_readable(child_io_t *io, int fd, bool is_stdout)
{
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0) {
        if (!is_stdout && io->line_len > 0)
            on_child_line(io);
        return false;
    }
    if (is_stdout) {
        bl_exec_t *ex = io->ex;
        for (ssize_t i = 0; i < n && io->captured + 1 < ex->capture_size; i++)
            ex->capture[io->captured++] = buf[i];
        if (ex->capture_size)
            ex->capture[io->captured] = '\0';
        return true;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n' || io->line_len + 1 >= sizeof(io->line))
            on_child_line(io);
        if (buf[i] != '\n')
            io->line[io->line_len++] = buf[i];
    }
    return true;
}

// Sends SIGTERM once the job is canceled, SIGKILL after the grace period.
static void stop_if_canceled(pid_t pid, long *term_at)
{
    if (!bl_drv_terminated)
        return;
    if (*term_at == 0) {
        kill(pid, SIGTERM);
        *term_at = now_ms();
    } else if (now_ms() - *term_at > KILL_GRACE_MS) {
        kill(pid, SIGKILL);
    }
}

// Parent side: pumps the pipes until both close, then reaps the child.
static int supervise(pid_t pid, child_io_t *io, int out_fd, int err_fd)
{
    long term_at = 0;
    int fds[2] = {err_fd, out_fd};
    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd pfd[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        stop_if_canceled(pid, &term_at);
        if (poll(pfd, 2, 200) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i] >= 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
                !on_child_readable(io, fds[i], i == 1)) {
                close(fds[i]);
                fds[i] = -1;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return -1;
        stop_if_canceled(pid, &term_at);
        // Its pipes are closed: it is on its way out. A 20 ms nap here made every
        // Ghostscript job 20 ms longer (gs frees its page buffers after closing stdout).
        poll(NULL, 0, 1);
    }
    if (!bl_drv_terminated && WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE &&
        io->ex->stdout_fd == STDOUT_FILENO)
        bl_drv_broken_pipe(); // the child wrote our stdout: the next stage stopped reading
    if (bl_drv_terminated || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

int bl_exec_run(bl_exec_t *ex)
{
    char path[4096];
    child_io_t io = {.ex = ex, .name = ex->argv[0]};
    ex->first_error[0] = '\0';
    if (ex->capture_size)
        ex->capture[0] = '\0';
    if (!find_program(ex->argv[0], path, sizeof(path))) {
        bl_drv_msg("ERROR", "%s is not installed", ex->argv[0]);
        return -1;
    }
    int errp[2], outp[2] = {-1, -1};
    if (pipe2(errp, O_CLOEXEC) < 0)
        return -1;
    if (ex->stdout_fd < 0 && pipe2(outp, O_CLOEXEC) < 0) {
        close(errp[0]);
        close(errp[1]);
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0)
        child_exec(path, ex, ex->stdout_fd >= 0 ? ex->stdout_fd : outp[1], errp[1], parent);
    close(errp[1]);
    if (outp[1] >= 0)
        close(outp[1]);
    if (pid < 0) {
        bl_drv_msg("ERROR", "cannot start %s: %s", ex->argv[0], strerror(errno));
        close(errp[0]);
        if (outp[0] >= 0)
            close(outp[0]);
        return -1;
    }
    int rc = supervise(pid, &io, outp[0], errp[0]);
    if (rc == 127)
        bl_drv_msg("ERROR", "cannot run %s", ex->argv[0]);
    return rc;
}
