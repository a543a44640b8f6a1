// evil-daemon: hostile filters and backends that blattd itself starts (tests/sandbox-daemon.sh).
// Licensed under the Apache License, Version 2.0.
//
// One program; the attack is chosen by the name it is installed under in the test's FilterDir
// or BackendDir (argv[0]). Parameters come in the job's title (argv[3]): "port=N" (a loopback
// listener of the test) and "pid=N" (the blattd under test). The state directory is found
// from TMPDIR (StateDir/tmp/job-N) and the test's work directory is its parent.
//   evil-net      TCP and UDP to 127.0.0.1:port, AF_UNIX to the blattd socket, netlink, packet
//   evil-write    files in the work directory, StateDir, StateDir/tmp, the spool, /tmp,
//                 /var/tmp, /dev/shm (and, as a control, in its own TMPDIR)
//   evil-fileq    a file in WORKDIR/out, the directory of the test's file queue (which
//                 blattd opens to the sandbox group so that file backends can write there)
//   evil-cpu      ignores SIGXCPU and SIGTERM and burns CPU
//   evil-mem      allocates and touches memory in 16 MiB steps (at most 8 GiB)
//   evil-fsize    writes a file in its TMPDIR in 1 MiB steps (at most 2 GiB)
//   evil-secrets  reads StateDir/kek, blatt.db, its WAL, the spool, blattd's /proc files
//   evil-signal   ptraces and signals blattd (the pid it was given, checked to be named blattd)
//                 and its parent when that is a blattd too (blattd, or the launcher that
//                 starts stages when blattd runs without root), then calls process_vm_readv
//                 on blattd (seccomp kills the process for that)
//   evil-fork     forks up to 400 sleeping children (RLIMIT_NPROC should stop it)
//   evil-orphan   leaves a child behind in a session of its own, with no open files, that
//                 sleeps 120 s (the runner's process-group kill cannot reach it)
//   socket        as a backend (it has the network): evil-secrets, evil-signal without the
//                 process_vm_readv, and evil-write
// Whatever was stopped is summed up in one "ERROR: NAME: blocked ..." line and the program
// exits 1; anything that got through is named in "ERROR: NAME: ESCAPED ..." (exit 1 too). The
// writes use names starting with BLATT-ESCAPED so that the test can look for them.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024L * 1024L)

static char blocked[1024], escaped[1024];
static const char *name;

static void append(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(char *buf, const char *fmt, ...)
{
    size_t n = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    if (n + 2 < 1024) {
        if (n)
            buf[n++] = ' ';
        vsnprintf(buf + n, 1024 - n, fmt, ap);
    }
    va_end(ap);
}

// Records the outcome of one attempt: rc >= 0 is a success (an escape).
static void outcome(const char *what, int rc)
{
    if (rc >= 0)
        append(escaped, "%s", what);
    else
        append(blocked, "%s=%s", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
}

static _Noreturn void finish(void)
{
    if (escaped[0])
        fprintf(stderr, "ERROR: %s: ESCAPED %s (blocked %s)\n", name, escaped, blocked);
    else
        fprintf(stderr, "ERROR: %s: blocked %s\n", name, blocked);
    exit(1);
}

// The value of key=N in the title, 0 when absent.
static long param(const char *title, const char *key)
{
    const char *p = strstr(title, key);
    return p && p[strlen(key)] == '=' ? strtol(p + strlen(key) + 1, NULL, 10) : 0;
}

static char state_dir[4096], work_dir[4096];

static void find_dirs(void)
{
    const char *tmp = getenv("TMPDIR");
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", tmp ? tmp : "/nonexistent/tmp/job");
    snprintf(state_dir, sizeof(state_dir), "%s", dirname(dirname(copy)));
    snprintf(copy, sizeof(copy), "%s", state_dir);
    snprintf(work_dir, sizeof(work_dir), "%s", dirname(copy));
}

static void try_tcp(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
        outcome("tcp-socket", -1);
        return;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    outcome("tcp-connect", connect(s, (struct sockaddr *)&sa, sizeof(sa)));
    close(s);
}

static void try_udp(int port)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) {
        outcome("udp-socket", -1);
        return;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    outcome("udp-send", (int)sendto(s, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa)));
    close(s);
}

static void try_unix(void)
{
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0) {
        outcome("unix-socket", -1);
        return;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char path[4200];
    int n = snprintf(path, sizeof(path), "%s/blattd.sock", work_dir);
    if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
        append(blocked, "unix=path-too-long");
        close(s);
        return;
    }
    memcpy(sa.sun_path, path, (size_t)n + 1);
    outcome("unix-connect", connect(s, (struct sockaddr *)&sa, sizeof(sa)));
    close(s);
}

static void attack_net(long port)
{
    try_tcp((int)port);
    try_udp((int)port);
    try_unix();
    int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    outcome("netlink", s);
    if (s >= 0)
        close(s);
    s = socket(AF_PACKET, SOCK_RAW, 0);
    outcome("packet", s);
    if (s >= 0)
        close(s);
}

static void try_write(const char *label, const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/BLATT-ESCAPED-%s-%d", dir, name, (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    outcome(label, fd);
    if (fd >= 0) {
        if (write(fd, "escaped\n", 8) < 0)
            append(escaped, "(write failed)");
        close(fd);
    }
}

static void attack_write(void)
{
    char dir[4200];
    const char *tmp = getenv("TMPDIR");
    // The control: the job's own TMPDIR must work.
    char own[4200];
    snprintf(own, sizeof(own), "%s/mine", tmp ? tmp : ".");
    int fd = open(own, O_WRONLY | O_CREAT, 0600);
    if (fd < 0)
        append(escaped, "(own TMPDIR not writable: %s)", strerrorname_np(errno));
    else
        close(fd);
    try_write("workdir", work_dir);
    try_write("statedir", state_dir);
    snprintf(dir, sizeof(dir), "%s/tmp", state_dir);
    try_write("statedir-tmp", dir);
    snprintf(dir, sizeof(dir), "%s/spool", state_dir);
    try_write("spool", dir);
    try_write("tmp", "/tmp");
    try_write("var-tmp", "/var/tmp");
    try_write("dev-shm", "/dev/shm");
    snprintf(dir, sizeof(dir), "%s/BLATT-ESCAPED-dir-%d", work_dir, (int)getpid());
    outcome("mkdir-workdir", mkdir(dir, 0755));
}

static void attack_fileq(void)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/out", work_dir);
    try_write("file-queue-dir", dir);
}

static void cpu_ignore(int sig)
{
    (void)sig;
}

static _Noreturn void attack_cpu(void)
{
    signal(SIGXCPU, cpu_ignore);
    signal(SIGTERM, cpu_ignore);
    fprintf(stderr, "INFO: %s: burning CPU, ignoring SIGXCPU and SIGTERM\n", name);
    volatile unsigned long x = 0;
    for (;;)
        x++;
}

static void attack_mem(void)
{
    long got = 0;
    while (got < 8192) {
        char *p = malloc(16 * MIB);
        if (!p)
            break;
        memset(p, 0x5a, 16 * MIB);
        got += 16;
    }
    if (got >= 8192)
        append(escaped, "allocated=%ldMiB", got);
    else
        append(blocked, "allocation-failed-after=%ldMiB", got);
}

static void attack_fsize(void)
{
    const char *tmp = getenv("TMPDIR");
    char path[4200];
    snprintf(path, sizeof(path), "%s/big", tmp ? tmp : ".");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        outcome("open", -1);
        return;
    }
    static char block[1024 * 1024];
    memset(block, 'x', sizeof(block));
    long mb = 0;
    // SIGXFSZ at its default: the kernel ends us when the limit is hit.
    while (mb < 2048 && write(fd, block, sizeof(block)) == (ssize_t)sizeof(block))
        mb++;
    if (mb >= 2048)
        append(escaped, "wrote=%ldMiB", mb);
    else
        append(blocked, "write-failed-after=%ldMiB(%s)", mb, strerrorname_np(errno));
    close(fd);
}

static void try_read(const char *label, const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        char b[16];
        ssize_t n = read(fd, b, sizeof(b));
        close(fd);
        if (n < 0) {
            outcome(label, -1);
            return;
        }
    }
    outcome(label, fd);
}

static void attack_secrets(long pid)
{
    char path[4200];
    static const char *const files[] = {"kek", "blatt.db", "blatt.db-wal", "lock"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", state_dir, files[i]);
        try_read(files[i], path);
    }
    snprintf(path, sizeof(path), "%s/spool", state_dir);
    DIR *d = opendir(path);
    outcome("spool-list", d ? 0 : -1);
    if (d)
        closedir(d);
    snprintf(path, sizeof(path), "%s/blattd.log", work_dir);
    try_read("log", path);
    try_read("shadow", "/etc/shadow");
    if (pid > 0) {
        static const char *const procs[] = {"environ", "mem", "maps", "fd/0", "root/etc/shadow"};
        for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
            snprintf(path, sizeof(path), "/proc/%ld/%s", pid, procs[i]);
            char label[64];
            snprintf(label, sizeof(label), "proc-%s", procs[i]);
            for (char *c = label; *c; c++)
                *c = *c == '/' ? '-' : *c;
            try_read(label, path);
        }
        snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
        d = opendir(path);
        outcome("proc-fd-list", d ? 0 : -1);
        if (d)
            closedir(d);
    }
}

// Whether pid is a process named blattd (the daemon, or its root launcher: a fork of it).
static bool is_blattd(long pid)
{
    char path[64], comm[64] = "";
    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(comm, sizeof(comm), f))
            comm[0] = '\0';
        fclose(f);
    }
    return pid > 1 && !strncmp(comm, "blattd", 6);
}

// Signals one process of the blattd under test; label names it in the summary.
static void attack_one(const char *label, pid_t t)
{
    char what[64];
    snprintf(what, sizeof(what), "%s-ptrace-attach", label);
    outcome(what, (int)ptrace(PTRACE_ATTACH, t, NULL, NULL));
    snprintf(what, sizeof(what), "%s-ptrace-seize", label);
    outcome(what, (int)ptrace(PTRACE_SEIZE, t, NULL, NULL));
    snprintf(what, sizeof(what), "%s-sigstop", label);
    outcome(what, kill(t, SIGSTOP));
    kill(t, SIGCONT);
    snprintf(what, sizeof(what), "%s-sigterm", label);
    outcome(what, kill(t, SIGTERM));
    snprintf(what, sizeof(what), "%s-sigkill", label);
    outcome(what, kill(t, SIGKILL));
}

// The targets: the pid the test gave (checked to be a blattd), and our parent when it is a
// blattd too (blattd itself, or its launcher). Never any other process.
static void attack_signal(long pid, bool vm_read)
{
    if (!is_blattd(pid)) {
        append(escaped, "(pid %ld is not a blattd: nothing tried)", pid);
        return;
    }
    attack_one("blattd", (pid_t)pid);
    pid_t parent = getppid();
    if (parent != (pid_t)pid && is_blattd(parent))
        attack_one("parent", parent);
    if (vm_read) {
        // Say what happened so far: seccomp kills the process at the next call.
        fprintf(stderr, "ERROR: %s: blocked %s; now process_vm_readv\n", name, blocked);
        fflush(stderr);
        char b[16];
        struct iovec local = {b, sizeof(b)}, remote = {(void *)0x400000, sizeof(b)};
        outcome("process-vm-readv", (int)process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0));
    }
}

static void attack_fork(void)
{
    pid_t kids[400];
    int n = 0;
    for (; n < 400; n++) {
        kids[n] = fork();
        if (kids[n] == 0) {
            sleep(30);
            _exit(0);
        }
        if (kids[n] < 0)
            break;
    }
    if (n >= 400)
        append(escaped, "forked=%d", n);
    else
        append(blocked, "fork-failed-after=%d(%s)", n, strerrorname_np(errno));
    for (int i = 0; i < n; i++)
        kill(kids[i], SIGKILL);
    for (int i = 0; i < n; i++)
        waitpid(kids[i], NULL, 0);
}

static void attack_orphan(void)
{
    pid_t p = fork();
    if (p == 0) {
        if (fork() != 0)
            _exit(0);
        setsid();
        for (int fd = 0; fd < 1024; fd++)
            close(fd);
        struct timespec ts = {120, 0};
        nanosleep(&ts, NULL);
        _exit(0);
    }
    if (p > 0)
        waitpid(p, NULL, 0);
    append(blocked, "orphan-left=%s", p > 0 ? "yes(see the test)" : "fork-failed");
}

int main(int argc, char **argv)
{
    name = argc > 0 && argv[0] ? basename(argv[0]) : "evil";
    const char *title = argc > 3 ? argv[3] : "";
    long port = param(title, "port"), pid = param(title, "pid");
    find_dirs();
    if (!strcmp(name, "evil-net"))
        attack_net(port);
    else if (!strcmp(name, "evil-write"))
        attack_write();
    else if (!strcmp(name, "evil-fileq"))
        attack_fileq();
    else if (!strcmp(name, "evil-cpu"))
        attack_cpu();
    else if (!strcmp(name, "evil-mem"))
        attack_mem();
    else if (!strcmp(name, "evil-fsize"))
        attack_fsize();
    else if (!strcmp(name, "evil-secrets"))
        attack_secrets(pid);
    else if (!strcmp(name, "evil-signal"))
        attack_signal(pid, true);
    else if (!strcmp(name, "evil-fork"))
        attack_fork();
    else if (!strcmp(name, "evil-orphan"))
        attack_orphan();
    else if (!strcmp(name, "socket")) {
        attack_secrets(pid);
        attack_signal(pid, false);
        attack_write();
    } else {
        fprintf(stderr, "ERROR: %s: unknown attack\n", name);
        return 2;
    }
    finish();
}
