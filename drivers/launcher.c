// The launcher (see launcher.h): spawns checked blatt-exec command lines and checks PAM
// passwords as root, for a blattd that has dropped root.
// Licensed under the Apache License, Version 2.0.
//
// Messages are SOCK_SEQPACKET datagrams (one request, one reply). Spawn request:
//   u32 type=1, then NUL-terminated strings: path, cwd, argc decimal, argv..., envc decimal,
//   envp...; three descriptors (stdin, stdout, stderr) as SCM_RIGHTS. Reply: i32 pid or -errno.
// Kill request: u32 type=2, i32 pgid, i32 signal. Reply: i32 0 or -errno.
// Exit events (own socket): i32 pid, i32 wait status.
// PAM request (own socket, own process): user NUL password NUL. Reply: one byte, 1 = accepted.
#include "drivers/launcher.h"

#include "drivers/runner.h"
#include "drivers/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MSG_MAX (128 * 1024)
#define MAX_ARGS 64
#define MAX_ENV 32
#define MAX_CHILDREN 4096
#define UID_SLOTS 1024u

enum { REQ_SPAWN = 1, REQ_KILL = 2, REQ_KILL_UID = 3 };

static int req_fd = -1, event_fd = -1, pam_fd = -1;
static pthread_mutex_t pam_lock = PTHREAD_MUTEX_INITIALIZER;

// --- the launcher process ----------------------------------------------------------------

typedef struct lconf {
    char helper[PATH_MAX];
    char dirs[3][PATH_MAX];
    char tmp_dir[PATH_MAX];
    unsigned uid_base;
} lconf_t;

static pid_t children[MAX_CHILDREN];
static size_t num_children;

static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return dir[0] && !strncmp(path, dir, n) && path[n] == '/';
}

static bool parse_uint(const char *s, unsigned long *out)
{
    char *end = NULL;
    if (!s || !*s || *s == '-')
        return false;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return !errno && end && !*end;
}

// The whole policy of what may run as root's child. Returns 0 or an errno.
static int check_spawn(const lconf_t *c, const char *path, char **argv, const char *cwd)
{
    char real[PATH_MAX];
    if (!realpath(path, real) || strcmp(real, c->helper))
        return EPERM;
    bool uid_ok = false, gid_ok = false;
    unsigned long uid = 0, gid = 0;
    size_t i = 1;
    for (; argv[i] && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--uid")) {
            if (uid_ok || !parse_uint(argv[++i], &uid) || uid < c->uid_base ||
                uid > c->uid_base + UID_SLOTS)
                return EPERM;
            uid_ok = true;
        } else if (!strcmp(argv[i], "--gid")) {
            if (gid_ok || !parse_uint(argv[++i], &gid))
                return EPERM;
            gid_ok = true;
        }
        if (!argv[i])
            return EINVAL;
    }
    // The group: the shared one of the file queues (backends) or the uid's own (filters).
    if (!uid_ok || !gid_ok || (gid != c->uid_base && gid != uid) || !argv[i] || !argv[i + 1])
        return EPERM;
    struct stat st;
    if (!realpath(argv[i + 1], real) || stat(real, &st) != 0 || !S_ISREG(st.st_mode))
        return EPERM;
    if (!under(real, c->dirs[0]) && !under(real, c->dirs[1]) && !under(real, c->dirs[2]))
        return EPERM;
    if (strcmp(cwd, "/")) {
        if (!realpath(cwd, real) || !under(real, c->tmp_dir))
            return EPERM;
    }
    return 0;
}

// Splits the NUL-separated strings of a spawn request. false when malformed.
static bool unpack(char *p, size_t len, char **path, char **cwd, char **argv, char **envp)
{
    char *end = p + len;
    char *s[4];
    for (int k = 0; k < 3; k++) {
        char *z = memchr(p, '\0', (size_t)(end - p));
        if (!z)
            return false;
        s[k] = p;
        p = z + 1;
    }
    *path = s[0];
    *cwd = s[1];
    unsigned long argc;
    if (!parse_uint(s[2], &argc) || argc < 1 || argc >= MAX_ARGS)
        return false;
    for (unsigned long i = 0; i <= argc; i++) {
        char *z = memchr(p, '\0', (size_t)(end - p));
        if (!z)
            return false;
        if (i < argc)
            argv[i] = p;
        else
            s[3] = p; // envc
        p = z + 1;
    }
    argv[argc] = NULL;
    unsigned long envc;
    if (!parse_uint(s[3], &envc) || envc >= MAX_ENV)
        return false;
    for (unsigned long i = 0; i < envc; i++) {
        char *z = memchr(p, '\0', (size_t)(end - p));
        if (!z)
            return false;
        envp[i] = p;
        p = z + 1;
    }
    envp[envc] = NULL;
    return p == end;
}

static int32_t do_spawn(const lconf_t *c, char *buf, size_t len, int fds[3])
{
    char *path, *cwd, *argv[MAX_ARGS + 1], *envp[MAX_ENV + 1];
    if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || !unpack(buf, len, &path, &cwd, argv, envp))
        return -EINVAL;
    int e = check_spawn(c, path, argv, cwd);
    if (e)
        return -e;
    if (num_children >= MAX_CHILDREN)
        return -EAGAIN;
    // We ignore SIGTERM; bl_runner_fork_exec keeps a cancel right after the spawn from being
    // discarded by the child before it has reset its handlers.
    pid_t pid = bl_runner_fork_exec(path, argv, envp, cwd, fds[0], fds[1], fds[2]);
    if (pid < 0)
        return -errno;
    children[num_children++] = pid;
    return pid;
}

static int32_t do_kill(int32_t pgid, int32_t sig)
{
    for (size_t i = 0; i < num_children; i++) {
        if (children[i] == pgid)
            return kill(-pgid, sig) == 0 || errno == ESRCH ? 0 : -errno;
    }
    return -ESRCH;
}

// Every process of a sandbox uid (drivers/sandbox.c), and only of one.
static int32_t do_kill_uid(const lconf_t *c, int32_t uid)
{
    if (uid < 0 || (uint32_t)uid < c->uid_base || (uint32_t)uid > c->uid_base + UID_SLOTS)
        return -EPERM;
    return bl_sandbox_kill_uid_as_root((uid_t)uid) ? 0 : -errno;
}

static void reap(int events)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < num_children; i++) {
            if (children[i] == pid) {
                children[i] = children[--num_children];
                int32_t ev[2] = {pid, status};
                ssize_t w = send(events, ev, sizeof(ev), MSG_NOSIGNAL);
                (void)w;
                break;
            }
        }
    }
}

static void handle_request(const lconf_t *c, int sock)
{
    static char buf[MSG_MAX];
    int fds[3] = {-1, -1, -1};
    char cbuf[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {buf, sizeof(buf)};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    if (n <= 0) {
        // blattd is gone: so is everything it asked for.
        for (size_t i = 0; i < num_children; i++)
            kill(-children[i], SIGKILL);
        _exit(0);
    }
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len == CMSG_LEN(3 * sizeof(int)))
            memcpy(fds, CMSG_DATA(cm), sizeof(fds));
    }
    int32_t reply = -EINVAL;
    uint32_t type = 0;
    if (n >= 4 && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        memcpy(&type, buf, 4);
        if (type == REQ_SPAWN)
            reply = do_spawn(c, buf + 4, (size_t)n - 4, fds);
        else if (type == REQ_KILL && n == 12) {
            int32_t a[2];
            memcpy(a, buf + 4, 8);
            reply = do_kill(a[0], a[1]);
        } else if (type == REQ_KILL_UID && n == 8) {
            int32_t uid;
            memcpy(&uid, buf + 4, 4);
            reply = do_kill_uid(c, uid);
        }
    }
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
    }
    ssize_t w = send(sock, &reply, sizeof(reply), MSG_NOSIGNAL);
    (void)w;
}

// A stop signal to the whole service reaches us too: we go when blattd closes our socket,
// after it has stopped its pipelines in order.
static void ignore_stop_signals(void)
{
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
}

static void launcher_main(const lconf_t *c, int sock, int events)
{
    ignore_stop_signals();
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC);
    if (sfd < 0)
        _exit(1);
    for (;;) {
        struct pollfd p[2] = {{sock, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            ssize_t r = read(sfd, &si, sizeof(si));
            (void)r;
            reap(events);
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
            handle_request(c, sock);
    }
}

// --- the PAM process -----------------------------------------------------------------------

static int conv_fn(int n, const struct pam_message **msg, struct pam_response **resp, void *arg)
{
    if (n <= 0 || n > PAM_MAX_NUM_MSG)
        return PAM_CONV_ERR;
    struct pam_response *r = calloc((size_t)n, sizeof(*r));
    if (!r)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF && !(r[i].resp = strdup(arg))) {
            for (int k = 0; k < i; k++)
                free(r[k].resp);
            free(r);
            return PAM_BUF_ERR;
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

bool bl_pam_check(const char *service, const char *user, const char *password)
{
    struct pam_conv conv = {conv_fn, (void *)password};
    pam_handle_t *ph = NULL;
    int rc = pam_start(service, user, &conv, &ph);
    if (rc == PAM_SUCCESS)
        rc = pam_authenticate(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
    if (rc == PAM_SUCCESS)
        rc = pam_acct_mgmt(ph, PAM_SILENT);
    if (ph)
        pam_end(ph, rc);
    return rc == PAM_SUCCESS;
}

static void pam_main(const char *service, int sock)
{
    static char buf[1024];
    ignore_stop_signals();
    for (;;) {
        ssize_t n = recv(sock, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
            _exit(0);
        buf[n] = '\0';
        const char *user = buf;
        size_t ul = strnlen(buf, (size_t)n);
        uint8_t ok = 0;
        if (ul > 0 && ul + 1 < (size_t)n)
            ok = bl_pam_check(service, user, buf + ul + 1);
        explicit_bzero(buf, sizeof(buf));
        ssize_t w = send(sock, &ok, 1, MSG_NOSIGNAL);
        (void)w;
    }
}

// --- blattd's side -------------------------------------------------------------------------

static pid_t fork_helper(int keep[2])
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent)
        _exit(0);
    prctl(PR_SET_NAME, "blattd-launcher", 0, 0, 0);
    // Only our end of our own sockets stays open.
    for (int fd = 3; fd < 1024; fd++) {
        if (fd != keep[0] && fd != keep[1])
            close(fd);
    }
    return 0;
}

bool bl_launcher_start(const bl_launcher_conf_t *conf)
{
    lconf_t c;
    memset(&c, 0, sizeof(c));
    if (!realpath(conf->helper, c.helper) || !realpath(conf->tmp_dir, c.tmp_dir))
        return false;
    for (int i = 0; i < 3; i++) {
        if (!realpath(conf->dirs[i], c.dirs[i]))
            c.dirs[i][0] = '\0';
    }
    c.uid_base = conf->uid_base;
    int rq[2], ev[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rq) != 0)
        return false;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ev) != 0) {
        close(rq[0]);
        close(rq[1]);
        return false;
    }
    int keep[2] = {rq[1], ev[1]};
    pid_t pid = fork_helper(keep);
    if (pid == 0)
        launcher_main(&c, rq[1], ev[1]);
    close(rq[1]);
    close(ev[1]);
    if (pid < 0) {
        close(rq[0]);
        close(ev[0]);
        return false;
    }
    req_fd = rq[0];
    event_fd = ev[0];
    fcntl(event_fd, F_SETFL, fcntl(event_fd, F_GETFL) | O_NONBLOCK);
    if (conf->pam_service && conf->pam_service[0]) {
        int pp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pp) != 0)
            return false;
        int keep2[2] = {pp[1], -1};
        char service[64];
        snprintf(service, sizeof(service), "%s", conf->pam_service);
        pid = fork_helper(keep2);
        if (pid == 0)
            pam_main(service, pp[1]);
        close(pp[1]);
        if (pid < 0) {
            close(pp[0]);
            return false;
        }
        pam_fd = pp[0];
    }
    return true;
}

bool bl_launcher_active(void)
{
    return req_fd >= 0;
}

bool bl_launcher_has_pam(void)
{
    return pam_fd >= 0;
}

int bl_launcher_event_fd(void)
{
    return event_fd;
}

static int32_t call(const void *msg, size_t len, const int *fds)
{
    char cbuf[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {(void *)msg, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fds) {
        memset(cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof(cbuf);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(3 * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, 3 * sizeof(int));
    }
    if (sendmsg(req_fd, &mh, MSG_NOSIGNAL) != (ssize_t)len)
        return -EPIPE;
    int32_t reply;
    ssize_t n;
    do {
        n = recv(req_fd, &reply, sizeof(reply), 0);
    } while (n < 0 && errno == EINTR);
    return n == sizeof(reply) ? reply : -EPIPE;
}

static bool put(char *buf, size_t *off, const char *s)
{
    size_t n = strlen(s) + 1;
    if (*off + n > MSG_MAX)
        return false;
    memcpy(buf + *off, s, n);
    *off += n;
    return true;
}

pid_t bl_launcher_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd,
                        int in, int out, int err)
{
    static char buf[MSG_MAX];
    uint32_t type = REQ_SPAWN;
    size_t off = 4, argc = 0, envc = 0;
    memcpy(buf, &type, 4);
    while (argv[argc])
        argc++;
    while (envp[envc])
        envc++;
    char num[24];
    bool ok = put(buf, &off, path) && put(buf, &off, cwd ? cwd : "/");
    snprintf(num, sizeof(num), "%zu", argc);
    ok = ok && put(buf, &off, num);
    for (size_t i = 0; ok && i < argc; i++)
        ok = put(buf, &off, argv[i]);
    snprintf(num, sizeof(num), "%zu", envc);
    ok = ok && put(buf, &off, num);
    for (size_t i = 0; ok && i < envc; i++)
        ok = put(buf, &off, envp[i]);
    if (!ok) {
        errno = E2BIG;
        return -1;
    }
    int fds[3] = {in, out, err};
    int32_t r = call(buf, off, fds);
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return (pid_t)r;
}

bool bl_launcher_kill(pid_t pgid, int sig)
{
    char msg[12];
    uint32_t type = REQ_KILL;
    int32_t a[2] = {(int32_t)pgid, sig};
    memcpy(msg, &type, 4);
    memcpy(msg + 4, a, 8);
    int32_t r = call(msg, sizeof(msg), NULL);
    if (r < 0) {
        errno = -r;
        return false;
    }
    return true;
}

bool bl_launcher_kill_uid(uid_t uid)
{
    char msg[8];
    uint32_t type = REQ_KILL_UID;
    int32_t u = (int32_t)uid;
    memcpy(msg, &type, 4);
    memcpy(msg + 4, &u, 4);
    int32_t r = call(msg, sizeof(msg), NULL);
    if (r < 0) {
        errno = -r;
        return false;
    }
    return true;
}

bool bl_launcher_next_exit(pid_t *pid, int *status)
{
    int32_t ev[2];
    ssize_t n = recv(event_fd, ev, sizeof(ev), MSG_DONTWAIT);
    if (n != sizeof(ev))
        return false;
    *pid = ev[0];
    *status = ev[1];
    return true;
}

bool bl_launcher_pam(const char *user, const char *password)
{
    if (pam_fd < 0)
        return false;
    char buf[1024];
    size_t ul = strlen(user), pl = strlen(password);
    if (ul + pl + 2 > sizeof(buf))
        return false;
    memcpy(buf, user, ul + 1);
    memcpy(buf + ul + 1, password, pl + 1);
    uint8_t ok = 0;
    pthread_mutex_lock(&pam_lock);
    bool sent = send(pam_fd, buf, ul + pl + 2, MSG_NOSIGNAL) == (ssize_t)(ul + pl + 2);
    ssize_t n = sent ? recv(pam_fd, &ok, 1, 0) : -1;
    pthread_mutex_unlock(&pam_lock);
    explicit_bzero(buf, sizeof(buf));
    return n == 1 && ok == 1;
}
