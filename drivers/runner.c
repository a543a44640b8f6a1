// Process runner: a chain of filter/backend processes joined by pipes, watched from the loop.
// Licensed under the Apache License, Version 2.0.
//
// Stage i's stdout is stage i+1's stdin (a kernel pipe, blattd is not in between). blattd
// writes the first stdin from the feed callback only when the pipe is writable, reads every
// stage's stderr line by line (status lines, bl_status_parse) and the last stdout when asked.
// Children are reaped from one SIGCHLD event; a runner ends when all of its stages have exited
// and their pipes are drained (or DRAIN_SECONDS after the last exit, in case a grandchild keeps
// a pipe open). No shell is ever involved: execve() with an explicit argv and environment.
//
// The last stage (the backend) must not take a truncated document for a whole one: a filter
// that crashes mid-document closes its stdout just like one that finished. So blattd holds a
// second write end of the backend's stdin (hold_fd), and the backend sees the end of its input
// only when every stage before it has exited with 0. When one has not, the backend is stopped
// (SIGTERM, SIGKILL after a grace period) before its input ends: it drops what it has, and no
// half document is filed or printed.
#include "drivers/runner.h"

#include "drivers/launcher.h"

#include "server/log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define FEED_CHUNK 65536
#define LINE_MAX_LEN 2048
#define KILL_GRACE_SECONDS 5
#define DRAIN_SECONDS 2

typedef struct stage_io {
    pid_t pid;
    bool launched; // started by the launcher (runs as another user)
    bool exited;
    int status;
    int err_fd; // stderr read end
    struct event *err_ev;
    char line[LINE_MAX_LEN];
    size_t line_len;
    bool line_overflow;
} stage_io_t;

struct bl_runner {
    bl_runner_t *next;
    struct event_base *base;
    const bl_runner_callbacks_t *cb;
    void *ctx;
    size_t n;
    stage_io_t st[BL_RUNNER_MAX_STAGES];
    char names[BL_RUNNER_MAX_STAGES][64];
    int feed_fd; // first stdin, write end
    struct event *feed_ev;
    uint8_t *feed_buf;
    size_t feed_len, feed_off;
    int out_fd; // last stdout, read end
    struct event *out_ev;
    int hold_fd;         // a write end of the last stage's stdin, until the stages before it exited
    struct event *timer; // timeout, then grace and drain timers
    bool canceled, timed_out, feed_failed, abandoned, killed, finished, term_sent;
    bool last_stopped; // the last stage got SIGTERM because a stage before it failed
};

static bl_runner_t *runners;
static struct event *sigchld_ev, *launcher_ev;
static size_t num_runners;

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void drop_event(struct event **ev)
{
    if (*ev)
        event_free(*ev);
    *ev = NULL;
}

// Signals a stage's process group: through the launcher when the launcher started it (it runs
// as another user), else directly.
static void kill_group(pid_t pgid, int sig, bool launched)
{
    if (launched)
        bl_launcher_kill(pgid, sig);
    else
        kill(-pgid, sig);
}

static void signal_all(bl_runner_t *r, int sig)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->st[i].pid > 0 && !r->st[i].exited)
            kill_group(r->st[i].pid, sig, r->st[i].launched);
    }
}

static void runner_unlink(bl_runner_t *r)
{
    for (bl_runner_t **pp = &runners; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            num_runners--;
            return;
        }
    }
}

static void runner_free(bl_runner_t *r)
{
    runner_unlink(r);
    for (size_t i = 0; i < r->n; i++) {
        drop_event(&r->st[i].err_ev);
        close_fd(&r->st[i].err_fd);
    }
    drop_event(&r->feed_ev);
    close_fd(&r->feed_fd);
    drop_event(&r->out_ev);
    close_fd(&r->out_fd);
    close_fd(&r->hold_fd);
    drop_event(&r->timer);
    free(r->feed_buf);
    free(r);
}

// The stage to blame for the chain's outcome (see runner.h).
static int blame(const bl_runner_result_t *res, bool last_stopped)
{
    size_t last = res->num_stages - 1;
    int code = res->exit_code[last];
    // Not when we stopped it ourselves: what it says then is about our SIGTERM.
    if (!last_stopped && res->term_signal[last] == 0 && code >= 4 && code <= 7)
        return (int)last;
    int first_pipe = -1;
    for (size_t i = 0; i < res->num_stages; i++) {
        if (res->exit_code[i] == 0 && res->term_signal[i] == 0)
            continue;
        if (res->term_signal[i] == SIGPIPE) {
            if (first_pipe < 0)
                first_pipe = (int)i;
            continue;
        }
        return (int)i;
    }
    return first_pipe;
}

static bool all_done(const bl_runner_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        if (!r->st[i].exited || r->st[i].err_fd >= 0)
            return false;
    }
    return r->out_fd < 0;
}

static bool all_exited(const bl_runner_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        if (!r->st[i].exited)
            return false;
    }
    return true;
}

// Reports the result and frees the runner.
static void finish(bl_runner_t *r)
{
    if (r->finished)
        return;
    r->finished = true;
    bl_runner_result_t res = {.num_stages = r->n,
                              .canceled = r->canceled,
                              .timed_out = r->timed_out,
                              .feed_failed = r->feed_failed};
    for (size_t i = 0; i < r->n; i++) {
        int s = r->st[i].status;
        res.exit_code[i] = WIFEXITED(s) ? WEXITSTATUS(s) : -1;
        res.term_signal[i] = WIFSIGNALED(s) ? WTERMSIG(s) : 0;
    }
    res.failed_stage = blame(&res, r->last_stopped);
    const bl_runner_callbacks_t *cb = r->cb;
    void *ctx = r->ctx;
    bool abandoned = r->abandoned;
    runner_free(r);
    if (!abandoned && cb->done)
        cb->done(ctx, &res);
}

static void on_timer(evutil_socket_t fd, short what, void *arg);

static void arm_timer(bl_runner_t *r, int seconds)
{
    struct timeval tv = {seconds, 0};
    evtimer_add(r->timer, &tv);
}

// Called whenever a process exits or a pipe closes.
static void check_done(bl_runner_t *r)
{
    if (all_done(r)) {
        finish(r);
        return;
    }
    if (all_exited(r) && !r->killed) {
        // Every stage is gone; a grandchild may still hold a pipe: give it a moment.
        r->killed = true;
        arm_timer(r, DRAIN_SECONDS);
    }
}

static void deliver_line(bl_runner_t *r, size_t i, const char *line, size_t len)
{
    bl_status_t st;
    bl_status_parse(line, len, &st);
    if (!r->abandoned && r->cb->status)
        r->cb->status(r->ctx, i, &st);
    else
        bl_log(BL_LOG_DEBUG, "%s: %s", r->names[i], st.message);
}

// Splits stderr bytes into lines; over-long lines are cut (the rest until newline is dropped).
static void take_stderr(bl_runner_t *r, size_t i, const char *buf, size_t n)
{
    stage_io_t *s = &r->st[i];
    for (size_t k = 0; k < n; k++) {
        if (buf[k] == '\n') {
            if (!s->line_overflow || s->line_len)
                deliver_line(r, i, s->line, s->line_len);
            s->line_len = 0;
            s->line_overflow = false;
            continue;
        }
        if (s->line_len < sizeof(s->line))
            s->line[s->line_len++] = buf[k];
        else if (!s->line_overflow) {
            deliver_line(r, i, s->line, s->line_len);
            s->line_len = 0;
            s->line_overflow = true;
        }
    }
}

static void on_stderr(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    bl_runner_t *r = arg;
    size_t i = 0;
    while (i < r->n && r->st[i].err_fd != fd)
        i++;
    if (i == r->n)
        return;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0) {
        take_stderr(r, i, buf, (size_t)n);
        return;
    }
    stage_io_t *s = &r->st[i];
    if (s->line_len)
        deliver_line(r, i, s->line, s->line_len);
    s->line_len = 0;
    drop_event(&s->err_ev);
    close_fd(&s->err_fd);
    check_done(r);
}

static void on_output(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    bl_runner_t *r = arg;
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0) {
        if (!r->abandoned && r->cb->output)
            r->cb->output(r->ctx, buf, (size_t)n);
        return;
    }
    drop_event(&r->out_ev);
    close_fd(&r->out_fd);
    check_done(r);
}

static void stop_feeding(bl_runner_t *r)
{
    drop_event(&r->feed_ev);
    close_fd(&r->feed_fd);
}

static void on_feed(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    bl_runner_t *r = arg;
    if (r->feed_off == r->feed_len) {
        ssize_t n = r->abandoned ? 0 : r->cb->feed(r->ctx, r->feed_buf, FEED_CHUNK);
        if (n < 0) {
            // The document cannot be read (tamper, I/O): a filter must not see half of it.
            r->feed_failed = true;
            r->term_sent = true;
            stop_feeding(r);
            signal_all(r, SIGTERM); // a backend drops its partial output; SIGKILL follows
            arm_timer(r, KILL_GRACE_SECONDS);
            return;
        }
        if (n == 0) {
            stop_feeding(r);
            return;
        }
        r->feed_len = (size_t)n;
        r->feed_off = 0;
    }
    ssize_t w = write(fd, r->feed_buf + r->feed_off, r->feed_len - r->feed_off);
    if (w < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (w <= 0) {
        // The first stage stopped reading (EPIPE): its exit status tells the rest.
        stop_feeding(r);
        return;
    }
    r->feed_off += (size_t)w;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bl_runner_t *r = arg;
    if (all_exited(r)) {
        // Drain time is over: stop waiting for pipes held by strays.
        for (size_t i = 0; i < r->n; i++) {
            if (r->st[i].err_fd >= 0)
                kill_group(r->st[i].pid, SIGKILL, r->st[i].launched);
            drop_event(&r->st[i].err_ev);
            close_fd(&r->st[i].err_fd);
        }
        drop_event(&r->out_ev);
        close_fd(&r->out_fd);
        finish(r);
        return;
    }
    if (!r->canceled && !r->killed && !r->term_sent) {
        // The timeout: ask first (a backend cleans up its partial output), then kill.
        r->timed_out = true;
        r->term_sent = true;
        stop_feeding(r);
        signal_all(r, SIGTERM);
        arm_timer(r, KILL_GRACE_SECONDS);
        return;
    }
    r->killed = true;
    stop_feeding(r);
    signal_all(r, SIGKILL);
    arm_timer(r, DRAIN_SECONDS + KILL_GRACE_SECONDS);
}

// Once every stage before the last has exited: all with 0, and the last stage's input may end
// (hold_fd closes); else the last stage is stopped first and its input never ends cleanly.
static void release_last(bl_runner_t *r)
{
    if (r->hold_fd < 0)
        return;
    stage_io_t *last = &r->st[r->n - 1];
    bool whole = true;
    for (size_t i = 0; i + 1 < r->n; i++) {
        if (!r->st[i].exited)
            return;
        int s = r->st[i].status;
        whole = whole && WIFEXITED(s) && WEXITSTATUS(s) == 0;
    }
    if (whole || last->exited) {
        close_fd(&r->hold_fd);
        return;
    }
    if (!r->term_sent && !r->canceled && !r->killed) {
        // Like a cancel: the backend drops its partial output; SIGKILL follows the grace.
        // (A cancel, time-out or kill has signalled it already, and armed its own timer.)
        bl_log(BL_LOG_DEBUG, "runner: a stage before the last failed: the last is stopped "
                             "before its input ends");
        r->term_sent = true;
        r->last_stopped = true;
        kill_group(last->pid, SIGTERM, last->launched);
        arm_timer(r, KILL_GRACE_SECONDS);
    }
    // hold_fd stays open until the last stage has exited (or the runner ends).
}

// A stage exited: its runner may be done.
static void child_exited(pid_t pid, int status)
{
    for (bl_runner_t *r = runners; r; r = r->next) {
        for (size_t i = 0; i < r->n; i++) {
            if (r->st[i].pid == pid && !r->st[i].exited) {
                r->st[i].exited = true;
                r->st[i].status = status;
                release_last(r);
                // The next runner may be freed by check_done: stop walking now.
                check_done(r);
                return;
            }
        }
    }
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        child_exited(pid, status);
}

static void on_launcher_exit(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    int status;
    pid_t pid;
    while (bl_launcher_next_exit(&pid, &status))
        child_exited(pid, status);
}

static bool nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

static bool watch(bl_runner_t *r, struct event **ev, int fd, short what, event_callback_fn fn)
{
    *ev = event_new(r->base, fd, what | EV_PERSIST, fn, r);
    return *ev && nonblock(fd) && event_add(*ev, NULL) == 0;
}

static bool init_sigchld(struct event_base *base)
{
    if (sigchld_ev)
        return true;
    if (bl_launcher_active()) {
        launcher_ev =
            event_new(base, bl_launcher_event_fd(), EV_READ | EV_PERSIST, on_launcher_exit, NULL);
        if (!launcher_ev || event_add(launcher_ev, NULL) != 0)
            return false;
    }
    sigchld_ev = evsignal_new(base, SIGCHLD, on_sigchld, NULL);
    return sigchld_ev && event_add(sigchld_ev, NULL) == 0;
}

// Forks stage i with stdin `in` and stdout `out` (both closed here); sets up its stderr.
static bool spawn_stage(bl_runner_t *r, size_t i, const bl_stage_t *stage, int in, int out,
                        const char *cwd)
{
    int errp[2];
    if (pipe2(errp, O_CLOEXEC) != 0) {
        close(in);
        close(out);
        return false;
    }
    if (bl_launcher_active() && stage->sandboxed) {
        r->st[i].launched = true;
        pid_t pid = bl_launcher_spawn(stage->path, stage->argv, stage->envp, cwd, in, out, errp[1]);
        int e = errno;
        close(in);
        close(out);
        close(errp[1]);
        if (pid < 0) {
            close(errp[0]);
            bl_log(BL_LOG_ERROR, "runner: the launcher refused %s: %s", stage->path, strerror(e));
            errno = e;
            return false;
        }
        r->st[i].pid = pid;
        r->st[i].err_fd = errp[0];
        return watch(r, &r->st[i].err_ev, errp[0], EV_READ, on_stderr);
    }
    // (A SIGTERM that reached the child before it reset its handlers would run blattd's own
    // handler there, write into the loop's signal pipe, and stop blattd: bl_runner_fork_exec.)
    pid_t pid = bl_runner_fork_exec(stage->path, stage->argv, stage->envp, cwd, in, out, errp[1]);
    int e = errno;
    close(in);
    close(out);
    close(errp[1]);
    if (pid < 0) {
        close(errp[0]);
        bl_log(BL_LOG_ERROR, "runner: fork failed: %s", strerror(e));
        return false;
    }
    r->st[i].pid = pid;
    r->st[i].err_fd = errp[0];
    return watch(r, &r->st[i].err_ev, errp[0], EV_READ, on_stderr);
}

// Wires and forks every stage; on failure the stages already started are killed.
static bool spawn_all(bl_runner_t *r, const bl_stage_t *stages, const char *cwd)
{
    int prev_read = -1;
    if (r->cb->feed) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0)
            return false;
        prev_read = p[0];
        r->feed_fd = p[1];
    } else if ((prev_read = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        return false;
    }
    for (size_t i = 0; i < r->n; i++) {
        int p[2] = {-1, -1};
        bool last = i + 1 == r->n;
        if (last && !r->cb->output) {
            p[1] = open("/dev/null", O_WRONLY | O_CLOEXEC);
            if (p[1] < 0) {
                close(prev_read);
                return false;
            }
        } else if (pipe2(p, O_CLOEXEC) != 0) {
            close(prev_read);
            return false;
        }
        // The pipe into the last stage: blattd keeps a write end of it (see release_last).
        if (i + 2 == r->n && (r->hold_fd = fcntl(p[1], F_DUPFD_CLOEXEC, 3)) < 0) {
            close(prev_read);
            close(p[0]);
            close(p[1]);
            return false;
        }
        if (!spawn_stage(r, i, &stages[i], prev_read, p[1], cwd)) {
            if (p[0] >= 0)
                close(p[0]);
            return false;
        }
        prev_read = p[0];
    }
    if (prev_read >= 0) {
        r->out_fd = prev_read;
        if (!watch(r, &r->out_ev, r->out_fd, EV_READ, on_output))
            return false;
    }
    return r->feed_fd < 0 || watch(r, &r->feed_ev, r->feed_fd, EV_WRITE, on_feed);
}

bl_runner_t *bl_runner_start(struct event_base *base, const bl_stage_t *stages, size_t n,
                             const char *cwd, int timeout_seconds, const bl_runner_callbacks_t *cb,
                             void *ctx)
{
    if (n < 1 || n > BL_RUNNER_MAX_STAGES || !init_sigchld(base))
        return NULL;
    bl_runner_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->base = base;
    r->cb = cb;
    r->ctx = ctx;
    r->n = n;
    r->feed_fd = r->out_fd = r->hold_fd = -1;
    for (size_t i = 0; i < n; i++) {
        r->st[i].err_fd = -1;
        const char *slash = strrchr(stages[i].path, '/');
        snprintf(r->names[i], sizeof(r->names[i]), "%s", slash ? slash + 1 : stages[i].path);
    }
    r->next = runners;
    runners = r;
    num_runners++;
    r->timer = evtimer_new(base, on_timer, r);
    r->feed_buf = cb->feed ? malloc(FEED_CHUNK) : NULL;
    if (!r->timer || (cb->feed && !r->feed_buf) || !spawn_all(r, stages, cwd)) {
        bl_log(BL_LOG_ERROR, "runner: cannot start %s: %s", r->names[0], strerror(errno));
        signal_all(r, SIGKILL);
        // The killed children are reaped by the SIGCHLD handler; nobody is called back.
        for (size_t i = 0; i < n; i++)
            r->st[i].exited = r->st[i].exited || r->st[i].pid <= 0;
        r->abandoned = true;
        stop_feeding(r);
        if (all_exited(r))
            runner_free(r);
        return NULL;
    }
    if (timeout_seconds > 0)
        arm_timer(r, timeout_seconds);
    return r;
}

void bl_runner_cancel(bl_runner_t *r)
{
    if (!r || r->finished || r->canceled)
        return;
    r->canceled = true;
    stop_feeding(r);
    // A time-out, a failed feed or a failed stage has signalled the chain already: its grace
    // timer runs on, and SIGKILL is not put off by the cancel.
    if (r->term_sent || r->killed)
        return;
    signal_all(r, SIGTERM);
    arm_timer(r, KILL_GRACE_SECONDS);
}

void bl_runner_abandon(bl_runner_t *r)
{
    if (!r || r->finished)
        return;
    r->abandoned = true;
    stop_feeding(r);
    signal_all(r, SIGKILL);
    if (!r->killed) {
        r->killed = true;
        arm_timer(r, DRAIN_SECONDS);
    }
}

size_t bl_runner_count(void)
{
    return num_runners;
}

void bl_runner_cleanup(void)
{
    drop_event(&sigchld_ev);
    drop_event(&launcher_ev);
}
