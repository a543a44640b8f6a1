// blatt-exec: applies the sandbox of one filter or backend, then execs it (see sandbox.h).
// Licensed under the Apache License, Version 2.0.
//
//   blatt-exec [--uid N --gid N] [--no-network] [--tmpfs DIR --tmpfs-mb N] [--cpu SECONDS]
//              [--memory-mb N] [--file-size-mb N] [--open-files N] [--seccomp filter|backend]
//              -- PROGRAM ARGV0 ARGV1 ...
//
// Any failure prints "ERROR: sandbox: <step>: <reason>" and exits 127 with the program not
// run. File descriptors and the environment are passed through untouched. The steps, in order:
//
// 1. Parse the whole command line first (each option once, numbers in range, absolute paths
//    without "." or ".." parts): nothing is changed before the request is known to be valid.
// 2. Namespaces and mounts, while we still hold CAP_SYS_ADMIN and before seccomp forbids them.
//    --no-network: a new network namespace (only a loopback that is down: every connect to an
//    IP address fails with ENETUNREACH). It does not stop AF_UNIX sockets in the file system:
//    that is the filter profile's job. --tmpfs: a new mount namespace, every mount made
//    private (nothing we mount leaks back to the host), the shared world-writable directories
//    /tmp, /var/tmp, /dev/shm and /run/lock bound read-only (nosuid, nodev), then a tmpfs on
//    DIR (size=N MiB, mode 0700, owned by the target uid/gid, nosuid, nodev, noexec), then
//    chdir(DIR): the inherited cwd is the directory *under* the new mount. So DIR is the one
//    place the program can write that no other job sees (other than through the permissions
//    of the target user: run jobs under distinct uids), and it vanishes with the job's last
//    process.
//    When blatt-exec is not root (a daemon run by an unprivileged user, make check), a user
//    namespace that maps only our own ids is created as well, which is what gives us the right
//    to make the other two.
// 3. Resource limits, still as root: hard limits lowered here can never be raised again by
//    the program (no CAP_SYS_RESOURCE after step 4). RLIMIT_CPU soft = N (SIGXCPU), hard = N+1
//    (SIGKILL for a program that ignores SIGXCPU). RLIMIT_CORE is always 0: a core file would
//    hold document data. With --uid, RLIMIT_NPROC is MAX_PROCESSES: the uid is the job's own,
//    so that counts the job's processes and a fork bomb stops there instead of using up the
//    host's pids (without --uid the uid is blattd's, whose other processes would count too).
//    A limit already lower than the one asked for is kept.
// 4. Privileges: the bounding set is emptied, keep-caps cleared, supplementary groups dropped,
//    then setresgid before setresuid (afterwards the gid could not be changed any more). Then
//    we check that the ids are what we asked for, that no capability is left and that
//    setuid(0)/setgid(0) fail. A change of credentials clears the parent-death signal, so the
//    one blattd set is armed again and the parent checked to be still the same process.
// 5. PR_SET_NO_NEW_PRIVS (again: the runner sets it too): no set-uid or file-capability
//    program can give privileges back, and it allows seccomp without CAP_SYS_ADMIN.
// 6. Seccomp last, so that the filter has to allow only what the program needs (and execve),
//    never what our own set-up needed. libseccomp allocates: fine here, we are a fresh
//    process, not the forked child of blattd.
// 7. execve(PROGRAM, ARGV0..., environ).
//
// PR_SET_DUMPABLE is not touched: the kernel makes us non-dumpable at the credential change
// of step 4 and execve() makes a normal, readable program dumpable again, so setting it here
// would change nothing for the program. (Non-dumpable would not break /dev/fd/N either: a
// process may always open its own /proc/self/fd entries.)
//
// Seccomp policy. Default action ERRNO(EPERM): an unknown or unlisted syscall fails cleanly
// and the tool reports an error, instead of dying with a core-less SIGSYS nobody understands.
// Syscalls that no converter or backend has any business with and that are a way out of the
// sandbox or into kernel attack surface kill the whole process (KILL_PROCESS): mount family,
// chroot, pivot_root, process_vm_*, open_by_handle_at, bpf, perf_event_open, userfaultfd,
// module loading, kexec, reboot, swap, acct, quotactl, iopl/ioperm, clock setting. Denied with
// EPERM (by not being allowed), because some libraries probe them and cope: ptrace, unshare,
// setns, keyctl/add_key/request_key, the setuid/setgid/setgroups/capset family, seccomp,
// personality other than PER_LINUX or a query, clone with namespace flags, SysV IPC. clone3
// and io_uring fail with ENOSYS so that glibc and liburing fall back (clone3's flags live in
// memory that seccomp cannot read). The filter profile allows no socket syscall at all; the
// backend profile allows AF_UNIX, AF_INET, AF_INET6 and NETLINK_ROUTE sockets (getaddrinfo)
// and the client calls (connect, send, receive), never listen or accept. Another ABI (i386,
// x32) kills the process. The allow-list was measured with strace -f on every bundled filter
// (with its qpdf and gs children) and backend on the test documents, plus the ordinary calls
// of glibc that such tools make; names unknown on the build's architecture are skipped.
#include "drivers/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

#define NS_CLONE_FLAGS                                                                             \
    (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |     \
     CLONE_NEWCGROUP)
#define DEFAULT_TMPFS_MB 64
#define MAX_PROCESSES 256 // per job uid; the bundled chains use fewer than 10
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct options {
    bl_sandbox_t sb;
    const char *program;
    char **argv; // the program's argv (ARGV0 ...), NULL-terminated, inside main's argv
} options_t;

enum {
    OPT_UID,
    OPT_GID,
    OPT_NO_NETWORK,
    OPT_TMPFS,
    OPT_TMPFS_MB,
    OPT_CPU,
    OPT_MEMORY,
    OPT_FSIZE,
    OPT_NOFILE,
    OPT_SECCOMP,
    NUM_OPTS
};

// Name, whether a value follows, and the range of numeric values (max 0: not a number).
static const struct {
    const char *name;
    bool has_value;
    unsigned long long min, max;
} option_table[NUM_OPTS] = {
    [OPT_UID] = {"--uid", true, 1, 4294967294ULL},
    [OPT_GID] = {"--gid", true, 1, 4294967294ULL},
    [OPT_NO_NETWORK] = {"--no-network", false, 0, 0},
    [OPT_TMPFS] = {"--tmpfs", true, 0, 0},
    [OPT_TMPFS_MB] = {"--tmpfs-mb", true, 1, 1048576},
    [OPT_CPU] = {"--cpu", true, 1, 604800},
    [OPT_MEMORY] = {"--memory-mb", true, 16, 4194304},
    [OPT_FSIZE] = {"--file-size-mb", true, 1, 4194304},
    [OPT_NOFILE] = {"--open-files", true, 16, 1048576},
    [OPT_SECCOMP] = {"--seccomp", true, 0, 0},
};

static _Noreturn void fail_why(const char *step, const char *why)
{
    dprintf(STDERR_FILENO, "ERROR: sandbox: %s: %s\n", step, why);
    _exit(127);
}

static _Noreturn void fail(const char *step)
{
    fail_why(step, strerror(errno));
}

// libseccomp returns -errno.
static void check_rc(int rc, const char *step)
{
    if (rc < 0) {
        errno = -rc;
        fail(step);
    }
}

// Decimal digits only, no sign, within [min, max].
static unsigned long long parse_number(const char *opt, const char *s, unsigned long long min,
                                       unsigned long long max)
{
    unsigned long long v = 0;
    if (*s == '\0')
        fail_why(opt, "not a number");
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            fail_why(opt, "not a number");
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            fail_why(opt, "out of range");
        v = v * 10 + d;
    }
    if (v < min)
        fail_why(opt, "out of range");
    return v;
}

// An absolute path without empty, "." or ".." parts and without a trailing slash.
static bool path_ok(const char *p)
{
    size_t n = strlen(p);
    if (p[0] != '/' || n >= PATH_MAX || n < 2)
        return false;
    for (const char *c = p + 1;;) {
        const char *e = strchr(c, '/');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        if (!e)
            return true;
        c = e + 1;
    }
}

static void apply_option(options_t *o, int opt, const char *v)
{
    unsigned long long n = 0;
    if (option_table[opt].max)
        n = parse_number(option_table[opt].name, v, option_table[opt].min, option_table[opt].max);
    switch (opt) {
    case OPT_UID:
        o->sb.uid = (uid_t)n;
        o->sb.drop_user = true;
        break;
    case OPT_GID:
        o->sb.gid = (gid_t)n;
        break;
    case OPT_NO_NETWORK:
        o->sb.no_network = true;
        break;
    case OPT_TMPFS:
        if (!path_ok(v))
            fail_why("--tmpfs", "not an absolute path");
        o->sb.tmpfs = v;
        break;
    case OPT_TMPFS_MB:
        o->sb.tmpfs_mb = (long)n;
        break;
    case OPT_CPU:
        o->sb.cpu_seconds = (long)n;
        break;
    case OPT_MEMORY:
        o->sb.memory_mb = (long)n;
        break;
    case OPT_FSIZE:
        o->sb.file_size_mb = (long)n;
        break;
    case OPT_NOFILE:
        o->sb.open_files = (long)n;
        break;
    case OPT_SECCOMP:
        if (!strcmp(v, "filter"))
            o->sb.seccomp = BL_SECCOMP_FILTER;
        else if (!strcmp(v, "backend"))
            o->sb.seccomp = BL_SECCOMP_BACKEND;
        else
            fail_why("--seccomp", "not filter or backend");
        break;
    }
}

static int find_option(const char *name)
{
    for (int opt = 0; opt < NUM_OPTS; opt++) {
        if (strcmp(name, option_table[opt].name) == 0)
            return opt;
    }
    fail_why(name, "unknown option");
}

static void parse_options(int argc, char **argv, options_t *o)
{
    bool seen[NUM_OPTS] = {false};
    int i = 1;
    while (i < argc && strcmp(argv[i], "--") != 0) {
        int opt = find_option(argv[i]);
        if (seen[opt])
            fail_why(argv[i], "given twice");
        seen[opt] = true;
        if (option_table[opt].has_value && i + 1 >= argc)
            fail_why(argv[i], "missing value");
        apply_option(o, opt, option_table[opt].has_value ? argv[i + 1] : NULL);
        i += option_table[opt].has_value ? 2 : 1;
    }
    if (seen[OPT_UID] != seen[OPT_GID])
        fail_why("--uid/--gid", "give both or neither");
    if (seen[OPT_UID] && geteuid() != 0)
        fail_why("--uid", "blatt-exec does not run as root");
    if (seen[OPT_TMPFS_MB] && !seen[OPT_TMPFS])
        fail_why("--tmpfs-mb", "without --tmpfs");
    if (seen[OPT_TMPFS] && !seen[OPT_TMPFS_MB])
        o->sb.tmpfs_mb = DEFAULT_TMPFS_MB;
    // argv[i] is "--", then PROGRAM and at least ARGV0.
    if (i + 2 >= argc)
        fail_why("usage", "-- PROGRAM ARGV0 ... missing");
    o->program = argv[i + 1];
    o->argv = &argv[i + 2];
    if (!path_ok(o->program))
        fail_why("PROGRAM", "not an absolute path");
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        fail(path);
    ssize_t n = write(fd, text, strlen(text));
    if (n != (ssize_t)strlen(text))
        fail(path);
    close(fd);
}

// Not root: a user namespace mapping only our own ids gives us the right to the others.
static void unshare_as_user(int flags)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(flags | CLONE_NEWUSER) != 0)
        fail("unshare");
    char map[64];
    write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
    write_file("/proc/self/uid_map", map);
    snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
    write_file("/proc/self/gid_map", map);
}

// Binds dir onto itself read-only, keeping its other flags (locked ones must be repeated).
static void protect_shared_dir(const char *dir)
{
    struct stat st;
    struct statvfs sv;
    char step[64];
    snprintf(step, sizeof(step), "read-only %s", dir);
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT)
            return;
        fail(step);
    }
    if (!S_ISDIR(st.st_mode))
        return; // a symlink (e.g. /dev/shm -> /run/shm): its target is what counts
    if (statvfs(dir, &sv) != 0 || mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) != 0)
        fail(step);
    // Not noexec: read-only is enough (nothing new can land there) and a build tree in /tmp
    // must still run in make check.
    unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        flags |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME)
        flags |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        flags |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        flags |= MS_RELATIME;
    if (mount(NULL, dir, NULL, flags, NULL) != 0)
        fail(step);
}

static void mount_tmpfs(const options_t *o)
{
    static const char *const shared[] = {"/tmp", "/var/tmp", "/dev/shm", "/run/lock"};
    struct stat st;
    if (lstat(o->sb.tmpfs, &st) != 0)
        fail("--tmpfs");
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        fail("--tmpfs");
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        fail("make mounts private");
    for (size_t i = 0; i < COUNT(shared); i++)
        protect_shared_dir(shared[i]);
    uid_t uid = o->sb.drop_user ? o->sb.uid : geteuid();
    gid_t gid = o->sb.drop_user ? o->sb.gid : getegid();
    char data[128];
    snprintf(data, sizeof(data), "size=%ldm,mode=0700,uid=%u,gid=%u", o->sb.tmpfs_mb, (unsigned)uid,
             (unsigned)gid);
    if (mount("blatt-tmp", o->sb.tmpfs, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, data) != 0)
        fail("mount tmpfs");
    // The cwd we inherited is the directory under the new mount: move onto the tmpfs.
    struct statfs sf;
    if (chdir(o->sb.tmpfs) != 0 || statfs(".", &sf) != 0)
        fail("chdir tmpfs");
    if (sf.f_type != TMPFS_MAGIC)
        fail_why("chdir tmpfs", "not on the new tmpfs");
}

static void enter_namespaces(const options_t *o)
{
    int flags = (o->sb.no_network ? CLONE_NEWNET : 0) | (o->sb.tmpfs ? CLONE_NEWNS : 0);
    if (!flags)
        return;
    if (unshare(flags) != 0) {
        if (errno != EPERM || geteuid() == 0 || o->sb.drop_user)
            fail("unshare");
        unshare_as_user(flags);
    }
    if (o->sb.tmpfs)
        mount_tmpfs(o);
}

// Lowers soft and hard limit of res to at most the values asked for.
static void set_limit(int res, rlim_t soft, rlim_t hard, const char *step)
{
    struct rlimit cur;
    if (getrlimit(res, &cur) != 0)
        fail(step);
    struct rlimit want = {soft, hard};
    if (cur.rlim_max != RLIM_INFINITY && cur.rlim_max < want.rlim_max)
        want.rlim_max = cur.rlim_max;
    if (want.rlim_cur > want.rlim_max)
        want.rlim_cur = want.rlim_max;
    if (setrlimit(res, &want) != 0)
        fail(step);
}

static void set_limits(const options_t *o)
{
    const rlim_t mib = 1024 * 1024;
    set_limit(RLIMIT_CORE, 0, 0, "RLIMIT_CORE");
    if (o->sb.cpu_seconds)
        set_limit(RLIMIT_CPU, (rlim_t)o->sb.cpu_seconds, (rlim_t)o->sb.cpu_seconds + 1,
                  "RLIMIT_CPU");
    if (o->sb.memory_mb)
        set_limit(RLIMIT_AS, (rlim_t)o->sb.memory_mb * mib, (rlim_t)o->sb.memory_mb * mib,
                  "RLIMIT_AS");
    if (o->sb.file_size_mb)
        set_limit(RLIMIT_FSIZE, (rlim_t)o->sb.file_size_mb * mib, (rlim_t)o->sb.file_size_mb * mib,
                  "RLIMIT_FSIZE");
    if (o->sb.open_files)
        set_limit(RLIMIT_NOFILE, (rlim_t)o->sb.open_files, (rlim_t)o->sb.open_files,
                  "RLIMIT_NOFILE");
    if (o->sb.drop_user)
        set_limit(RLIMIT_NPROC, MAX_PROCESSES, MAX_PROCESSES, "RLIMIT_NPROC");
}

// True when the thread has no capability left in any set.
static bool no_capabilities(void)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    if (syscall(SYS_capget, &hdr, data) != 0)
        return false;
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
        if (data[i].effective || data[i].permitted || data[i].inheritable)
            return false;
    }
    return true;
}

// After the drop: the ids are the ones asked for and root cannot be had back.
static void verify_dropped(const options_t *o)
{
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0)
        fail("verify ids");
    if (r != o->sb.uid || e != o->sb.uid || s != o->sb.uid || rg != o->sb.gid || eg != o->sb.gid ||
        sg != o->sb.gid || getgroups(0, NULL) != 0)
        fail_why("verify ids", "not the ones asked for");
    if (!no_capabilities())
        fail_why("verify capabilities", "some are left");
    if (setuid(0) == 0 || setgid(0) == 0 || setgroups(0, NULL) == 0)
        fail_why("verify drop", "root could be regained");
}

static void drop_privileges(const options_t *o)
{
    for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
            fail("PR_CAPBSET_DROP");
    }
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
        fail("PR_SET_KEEPCAPS");
    if (setgroups(0, NULL) != 0)
        fail("setgroups");
    if (setresgid(o->sb.gid, o->sb.gid, o->sb.gid) != 0)
        fail("setresgid");
    if (setresuid(o->sb.uid, o->sb.uid, o->sb.uid) != 0)
        fail("setresuid");
    verify_dropped(o);
}

// clang-format off
// The calls every program makes, on both profiles (measured with strace -f, see the top).
static const char *const allow_common[] = {
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "open", "openat", "openat2", "creat", "close", "close_range", "stat", "fstat",
    "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat", "faccessat2",
    "readlink", "readlinkat", "getcwd", "chdir", "fchdir", "getdents", "getdents64", "lseek",
    "fcntl", "flock", "dup", "dup2", "dup3", "pipe", "pipe2", "mkdir", "mkdirat", "rmdir", "unlink",
    "unlinkat", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
    "chmod", "fchmod", "fchmodat", "truncate", "ftruncate", "fallocate", "fsync", "fdatasync",
    "sync_file_range", "fadvise64", "utimensat", "umask", "copy_file_range", "sendfile", "splice",
    "tee", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
    "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "memfd_create", "mmap", "munmap",
    "mremap", "mprotect", "madvise", "msync", "mlock", "munlock", "brk", "membarrier", "poll",
    "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
    "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "timerfd_create", "timerfd_settime",
    "timerfd_gettime", "signalfd", "signalfd4", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigpending", "rt_sigtimedwait", "sigaltstack", "pause", "kill", "tkill",
    "tgkill", "alarm", "setitimer", "getitimer", "timer_create", "timer_settime", "timer_gettime",
    "timer_getoverrun", "timer_delete", "nanosleep", "clock_nanosleep", "clock_gettime",
    "clock_getres", "gettimeofday", "time", "execve", "execveat", "fork", "vfork", "wait4",
    "waitid", "exit", "exit_group", "restart_syscall", "getpid", "getppid", "gettid", "getuid",
    "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "getpgid", "getpgrp",
    "getsid", "setpgid", "setsid", "getrlimit", "setrlimit", "getrusage", "times", "sysinfo",
    "uname", "getpriority", "setpriority", "sched_yield", "sched_getaffinity", "sched_getparam",
    "sched_getscheduler", "getcpu", "futex", "set_robust_list", "set_tid_address", "rseq",
    "arch_prctl", "getrandom", "capget"
};

// Sandbox escapes and kernel attack surface that no converter or backend ever needs.
static const char *const kill_always[] = {
    "mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr", "process_vm_readv", "process_vm_writev",
    "open_by_handle_at", "bpf", "perf_event_open", "userfaultfd", "init_module", "finit_module",
    "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "acct",
    "quotactl", "quotactl_fd", "iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime",
    "uselib", "vhangup", "lookup_dcookie"
};

// Denied so that callers fall back: glibc to clone, liburing users to plain I/O.
static const char *const enosys_always[] = {
    "clone3", "io_uring_setup", "io_uring_enter", "io_uring_register"
};

// The socket calls of a client; socket() and socketpair() themselves have argument rules.
static const char *const allow_backend[] = {
    "connect", "bind", "getsockname", "getpeername", "getsockopt", "setsockopt", "sendto",
    "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown"
};
// clang-format on

static void add_names(scmp_filter_ctx ctx, uint32_t action, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int nr = seccomp_syscall_resolve_name(names[i]);
        if (nr == __NR_SCMP_ERROR || nr < 0)
            continue; // not a syscall of this architecture
        check_rc(seccomp_rule_add(ctx, action, nr, 0), names[i]);
    }
}

#define LOW32 0xffffffffULL

// A condition on argument arg: (arg & mask) == value. LOW32 compares an int argument.
static struct scmp_arg_cmp arg_is(unsigned arg, scmp_datum_t mask, scmp_datum_t value)
{
    return (struct scmp_arg_cmp){
        .arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = value};
}

static void allow_if(scmp_filter_ctx ctx, int nr, struct scmp_arg_cmp cmp, const char *name)
{
    check_rc(seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp), name);
}

// prctl options, ioctl requests, personality values and clone flags that are harmless.
static void add_arg_rules(scmp_filter_ctx ctx)
{
    static const int prctl_ok[] = {
        PR_SET_PDEATHSIG,    PR_GET_PDEATHSIG,    PR_GET_DUMPABLE, PR_SET_DUMPABLE,
        PR_SET_NAME,         PR_GET_NAME,         PR_CAPBSET_READ, PR_GET_SECCOMP,
        PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS, PR_GET_KEEPCAPS,
#ifdef PR_SET_VMA
        PR_SET_VMA,
#endif
    };
    static const unsigned long ioctl_ok[] = {TCGETS,  TIOCGWINSZ, TIOCGPGRP, FIONREAD,
                                             FIONBIO, FIOCLEX,    FIONCLEX};
    for (size_t i = 0; i < COUNT(prctl_ok); i++)
        allow_if(ctx, SCMP_SYS(prctl), arg_is(0, LOW32, (scmp_datum_t)prctl_ok[i]), "prctl");
    for (size_t i = 0; i < COUNT(ioctl_ok); i++)
        allow_if(ctx, SCMP_SYS(ioctl), arg_is(1, LOW32, ioctl_ok[i]), "ioctl");
    // 0 = PER_LINUX, 0xffffffff = query; no ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC...
    allow_if(ctx, SCMP_SYS(personality), arg_is(0, LOW32, 0), "personality");
    allow_if(ctx, SCMP_SYS(personality), arg_is(0, LOW32, 0xffffffffULL), "personality");
    allow_if(ctx, SCMP_SYS(clone), arg_is(0, NS_CLONE_FLAGS, 0), "clone");
    // Limits of our own process only (glibc's getrlimit/setrlimit pass pid 0).
    allow_if(ctx, SCMP_SYS(prlimit64), arg_is(0, LOW32, 0), "prlimit64");
}

static void add_socket_rules(scmp_filter_ctx ctx)
{
    static const int domains[] = {AF_UNIX, AF_INET, AF_INET6};
    for (size_t i = 0; i < COUNT(domains); i++)
        allow_if(ctx, SCMP_SYS(socket), arg_is(0, LOW32, (scmp_datum_t)domains[i]), "socket");
    // Netlink for getaddrinfo's address check only, not the rest of that attack surface.
    struct scmp_arg_cmp netlink[] = {arg_is(0, LOW32, AF_NETLINK), arg_is(2, LOW32, NETLINK_ROUTE)};
    check_rc(seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, netlink), "socket");
    allow_if(ctx, SCMP_SYS(socketpair), arg_is(0, LOW32, AF_UNIX), "socketpair");
    add_names(ctx, SCMP_ACT_ALLOW, allow_backend, COUNT(allow_backend));
}

static void load_seccomp(bl_seccomp_profile_t profile)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) {
        errno = ENOMEM;
        fail("seccomp_init");
    }
    check_rc(seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS), "seccomp");
    // A binary tree instead of a linear list: gs makes millions of calls.
    check_rc(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2), "seccomp");
    add_names(ctx, SCMP_ACT_ALLOW, allow_common, COUNT(allow_common));
    add_names(ctx, SCMP_ACT_KILL_PROCESS, kill_always, COUNT(kill_always));
    add_names(ctx, SCMP_ACT_ERRNO(ENOSYS), enosys_always, COUNT(enosys_always));
    add_arg_rules(ctx);
    if (profile == BL_SECCOMP_BACKEND)
        add_socket_rules(ctx);
    int rc = seccomp_load(ctx);
    seccomp_release(ctx);
    check_rc(rc, "seccomp_load");
}

int main(int argc, char **argv)
{
    // Status lines need a stderr; a missing 0/1 would be taken by the first file we open.
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) < 0)
            _exit(127);
    }
    options_t o = {0};
    parse_options(argc, argv, &o);
    pid_t parent = getppid();
    int death_signal = 0;
    if (prctl(PR_GET_PDEATHSIG, &death_signal, 0, 0, 0) != 0)
        fail("PR_GET_PDEATHSIG");
    enter_namespaces(&o);
    set_limits(&o);
    if (o.sb.drop_user) {
        drop_privileges(&o);
        // The credential change cleared the parent-death signal: arm it again, then make
        // sure the parent did not go away in between.
        if (death_signal && prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0) != 0)
            fail("PR_SET_PDEATHSIG");
        if (getppid() != parent)
            fail_why("parent", "exited");
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        fail("PR_SET_NO_NEW_PRIVS");
    if (o.sb.seccomp != BL_SECCOMP_NONE)
        load_seccomp(o.sb.seccomp);
    execve(o.program, o.argv, environ);
    fail("execve");
}
