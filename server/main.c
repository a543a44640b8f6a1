// blattd: the Blatt print server daemon (flags, start-up, signals, the event loop).
// Licensed under the Apache License, Version 2.0.
#include "drivers/launcher.h"
#include "ipp/ipp.h"
#include "server/config.h"
#include "server/http.h"
#include "server/log.h"
#include "server/router.h"
#include "server/system.h"
#include "server/tls.h"
#include "server/web.h"
#include "drivers/graph.h"
#include "drivers/runner.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef BL_SYSCONFDIR
#define BL_SYSCONFDIR "/etc"
#endif

typedef struct daemon_ctx {
    struct event_base *base;
    bl_system_t *sys;
    bl_http_server_t *http;
    bl_http_server_t *local;
    struct event *sig_term, *sig_int, *sig_hup, *exit_timer;
    int exit_ticks;
    SSL_CTX *tls;
} daemon_ctx_t;

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: blattd [-f] [-t] [-c FILE] [-h]\n"
            "  -c FILE  configuration file (default %s/blatt/blattd.conf)\n"
            "  -f       stay in the foreground\n"
            "  -t       check the configuration and exit\n"
            "  -h       show this help\n",
            BL_SYSCONFDIR);
}

// Polls for the filters to stop after a stop signal: up to 5 s, then the loop ends anyway
// (jobs still running then stay pending in the database and print after the next start).
static void on_exit_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    daemon_ctx_t *d = arg;
    if (bl_runner_count() == 0 || ++d->exit_ticks >= 50) {
        event_base_loopbreak(d->base);
        return;
    }
    struct timeval tv = {0, 100000};
    event_add(d->exit_timer, &tv);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    daemon_ctx_t *d = arg;
    bl_log(BL_LOG_INFO, "signal %d: stopping", (int)sig);
    // No new connections from now on; requests in flight are answered.
    bl_http_server_close_listeners(d->http);
    bl_http_server_close_listeners(d->local);
    bl_system_shutdown(d->sys);
    // Pipelines get a moment to exit; their jobs stay pending and resume at the next start.
    struct timeval tv = {0, 50000};
    event_add(d->exit_timer, &tv);
}

// The certificate and key blattd serves: TLSCertificate/TLSKey, or the self-signed pair in
// StateDir/tls.
static bool tls_paths(const bl_config_t *c, char *cert, char *key, size_t len)
{
    snprintf(cert, len, "%s", c->tls_certificate && *c->tls_certificate ? c->tls_certificate : "");
    snprintf(key, len, "%s", c->tls_key && *c->tls_key ? c->tls_key : "");
    if (cert[0] && key[0])
        return true;
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/tls", c->state_dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        bl_log(BL_LOG_ERROR, "cannot create %s: %s", dir, strerror(errno));
        return false;
    }
    snprintf(cert, len, "%s/server.crt", dir);
    snprintf(key, len, "%s/server.key", dir);
    return true;
}

// SIGHUP: the log is reopened (log rotation), the certificate and key are loaded again (new
// connections get them; a broken pair keeps the old one) and the policy file is reread.
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    daemon_ctx_t *d = arg;
    const bl_config_t *c = d->sys->config;
    bl_log_open(c->log_file, c->log_level);
    bl_log(BL_LOG_INFO, "SIGHUP: log reopened");
    char cert[1100], key[1100];
    SSL_CTX *tls = tls_paths(c, cert, key, sizeof(cert))
                       ? bl_tls_context_create(cert, key, d->sys->server_name, c->tls_client_ca)
                       : NULL;
    if (tls) {
        bl_http_server_set_tls(d->http, tls);
        SSL_CTX_free(d->tls);
        d->tls = tls;
        bl_log(BL_LOG_INFO, "SIGHUP: certificate %s loaded", cert);
    } else {
        bl_log(BL_LOG_ERROR, "SIGHUP: the certificate could not be loaded; the old one stays");
    }
    bl_system_audit(d->sys, "blattd", "local", "config-reload", "tls certificate",
                    tls ? "ok" : "failed: the old certificate stays");
    bl_system_reload_policy(d->sys);
}

static bool open_listeners(daemon_ctx_t *d, bl_config_t *c)
{
    bl_http_limits_t limits = {
        .max_header_size = c->max_header_size,
        .max_headers = c->max_headers,
        .request_timeout = c->request_timeout,
        .body_timeout = c->body_timeout,
        .keepalive_timeout = c->keepalive_timeout,
        .max_connections = c->max_connections,
        .allow_plain_remote = c->allow_plain_remote,
    };
    char cert[1100], key[1100];
    if (!tls_paths(c, cert, key, sizeof(cert)))
        return false;
    SSL_CTX *tls = bl_tls_context_create(cert, key, d->sys->server_name, c->tls_client_ca);
    if (!tls)
        return false;
    d->tls = tls;
    d->http = bl_http_server_create(d->base, &limits, tls, bl_router_handler(), d->sys);
    d->local = bl_http_server_create(d->base, &limits, NULL, bl_router_handler(), d->sys);
    if (!d->http || !d->local)
        return false;
    for (size_t i = 0; i < c->num_listen; i++) {
        const bl_listen_conf_t *l = &c->listen[i];
        unsigned schemes = l->schemes ? l->schemes : c->auth_schemes;
        bool ok = l->path ? bl_http_server_listen_unix(d->local, l->path, 0666, schemes)
                          : bl_http_server_listen_tcp(d->http, l->host, l->port, schemes);
        if (!ok)
            return false;
    }
    // The socket's directory (/run/blatt by default) is made when missing: systemd makes it
    // (RuntimeDirectory=), a blattd started by hand must too. Only the last component.
    if (c->local_socket && *c->local_socket) {
        char dir[1100];
        snprintf(dir, sizeof(dir), "%s", c->local_socket);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            if (mkdir(dir, 0755) == 0)
                bl_log(BL_LOG_INFO, "created %s for the local socket", dir);
        }
    }
    if (c->local_socket && *c->local_socket &&
        !bl_http_server_listen_unix(d->local, c->local_socket, 0666, 0))
        return false;
    if (c->access_log && strcmp(c->access_log, "none")) {
        int fd = strcmp(c->access_log, "stderr")
                     ? open(c->access_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)
                     : 2;
        if (fd < 0) {
            bl_log(BL_LOG_ERROR, "cannot open AccessLog %s: %s", c->access_log, strerror(errno));
            return false;
        }
        bl_http_server_set_access_log(d->http, fd);
        bl_http_server_set_access_log(d->local, fd);
    }
    return true;
}

// What -t checks beyond the syntax: the format graph and the program directories exist, and
// every file queue's directory is a writable directory.
static bool check_installation(const bl_config_t *c)
{
    bool ok = true;
    char path[1200], err[600];
    snprintf(path, sizeof(path), "%s/formats.conf", c->data_dir);
    bl_graph_t *g = bl_graph_load(path, err, sizeof(err));
    if (!g) {
        fprintf(stderr, "blattd: %s (see DataDir)\n", err);
        ok = false;
    }
    bl_graph_delete(g);
    const char *dirs[][2] = {
        {"FilterDir", c->filter_dir}, {"BackendDir", c->backend_dir}, {"HelperDir", c->helper_dir}};
    for (size_t i = 0; i < 3; i++) {
        struct stat st;
        if (stat(dirs[i][1], &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "blattd: %s %s is not a directory\n", dirs[i][0], dirs[i][1]);
            ok = false;
        }
    }
    for (const bl_printer_conf_t *p = c->printers; p; p = p->next) {
        if (strncmp(p->device_uri, "file://", 7))
            continue;
        const char *dir = p->device_uri + 7;
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK) != 0) {
            fprintf(stderr, "blattd: printer %s: %s is not a writable directory\n", p->name, dir);
            ok = false;
        }
    }
    return ok;
}

static bool daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid > 0)
        _exit(0);
    setsid();
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        if (fd > 2)
            close(fd);
    }
    return true;
}

// Every connection is a descriptor: raise the soft limit towards MaxConnections (the hard
// limit permitting), and warn when MaxConnections cannot be reached.
static void raise_nofile(bl_config_t *c)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)c->max_connections + 256;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want && rl.rlim_cur > 128) {
        // Keep descriptors for spool files, the database and filter pipes: refuse more
        // connections with 503 instead of running out.
        int max = (int)rl.rlim_cur - 96;
        bl_log(BL_LOG_WARN, "only %llu file descriptors: MaxConnections lowered from %d to %d",
               (unsigned long long)rl.rlim_cur, c->max_connections, max);
        c->max_connections = max;
    }
}

// The account blattd drops to (User): NULL when it stays as it is (not root, or User root).
static const struct passwd *drop_target(const bl_config_t *c, bool *fail)
{
    *fail = false;
    if (geteuid() != 0 || !c->user[0] || !strcmp(c->user, "root"))
        return NULL;
    const struct passwd *pw = getpwnam(c->user);
    if (!pw || pw->pw_uid == 0) {
        bl_log(BL_LOG_ERROR,
               "User %s does not exist (or is root): create it (useradd --system --home-dir "
               "%s --shell /usr/sbin/nologin %s) or set User root to keep root (not "
               "recommended)",
               c->user, c->state_dir, c->user);
        *fail = true;
        return NULL;
    }
    return pw;
}

// Hands StateDir (and what blattd created in it as root) and the log files to uid/gid.
static bool give_state(const bl_config_t *c, uid_t uid, gid_t gid)
{
    const char *subdirs[] = {"", "/spool", "/tmp", "/tls", "/doclog"};
    for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
        char dir[1100];
        snprintf(dir, sizeof(dir), "%s%s", c->state_dir, subdirs[i]);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        if (fchown(dirfd(d), uid, gid) != 0) {
            bl_log(BL_LOG_ERROR, "cannot hand %s to User: %s", dir, strerror(errno));
            closedir(d);
            return false;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
                continue;
            struct stat st;
            if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                (S_ISREG(st.st_mode) || (i == 2 && S_ISDIR(st.st_mode))))
                fchownat(dirfd(d), de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW);
        }
        closedir(d);
    }
    const char *logs[] = {c->log_file, c->access_log};
    for (size_t i = 0; i < 2; i++) {
        struct stat st;
        if (logs[i] && logs[i][0] == '/' && lstat(logs[i], &st) == 0 && S_ISREG(st.st_mode) &&
            chown(logs[i], uid, gid) != 0)
            bl_log(BL_LOG_WARN, "cannot hand %s to User (SIGHUP cannot reopen it): %s", logs[i],
                   strerror(errno));
    }
    return true;
}

// Becomes pw for good: no way back to root, and not dumpable (no ptrace, no core with keys).
static bool drop_root(const struct passwd *pw, bool sandbox)
{
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
        setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
        bl_log(BL_LOG_ERROR, "cannot become %s: %s", pw->pw_name, strerror(errno));
        return false;
    }
    if (setuid(0) == 0 || seteuid(0) == 0) {
        bl_log(BL_LOG_ERROR, "root could be regained after dropping it: refusing to run");
        return false;
    }
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (sandbox)
        bl_log(BL_LOG_INFO,
               "running as %s (uid %u); filters start in the sandbox, through the"
               " launcher",
               pw->pw_name, (unsigned)pw->pw_uid);
    else
        bl_log(BL_LOG_WARN,
               "running as %s (uid %u); Sandbox No: filters and backends run"
               " unconfined, as %s",
               pw->pw_name, (unsigned)pw->pw_uid, pw->pw_name);
    return true;
}

static int run(bl_config_t *config, const char *conf_path, bool foreground)
{
    daemon_ctx_t d = {0};
    int rc = 0;
    // Fork before the loop exists: an epoll instance does not survive fork().
    if (!foreground && !daemonize())
        return 1;
    // As root: the launcher keeps root for the sandbox and PAM, blattd gives it up below.
    bool fail;
    const struct passwd *target = drop_target(config, &fail);
    uid_t drop_uid = target ? target->pw_uid : 0;
    gid_t drop_gid = target ? target->pw_gid : 0;
    char drop_name[64];
    snprintf(drop_name, sizeof(drop_name), "%s", target ? target->pw_name : "");
    if (fail)
        return 1;
    if (target) {
        char helper[1100], tmp[1100];
        snprintf(helper, sizeof(helper), "%s/blatt-exec", config->helper_dir);
        snprintf(tmp, sizeof(tmp), "%s/tmp", config->state_dir);
        mkdir(config->state_dir, 0700);
        mkdir(tmp, 0700);
        bl_launcher_conf_t lc = {
            .helper = helper,
            .dirs = {config->filter_dir, config->backend_dir, config->helper_dir},
            .tmp_dir = tmp,
            .uid_base = (unsigned)config->sandbox_uid_base,
            .pam_service = config->pam_service,
        };
        if (!bl_launcher_start(&lc)) {
            bl_log(BL_LOG_ERROR, "cannot start the launcher: %s", strerror(errno));
            return 1;
        }
    }
    // Three priorities: the store's early commit (store.c), I/O, the end of the pass. libevent
    // ends a run of callbacks as soon as one of them activates an event of higher priority, so
    // the early commit follows the callback that asked for it without a limit on how many
    // callbacks run per pass (a limit of one cost an epoll_wait() after every callback).
    d.base = event_base_new();
    if (!d.base || event_base_priority_init(d.base, 3) != 0) {
        fprintf(stderr, "blattd: cannot create the event loop\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    // A file size limit (LimitFSIZE=) fails the write like a full disk instead of killing blattd.
    signal(SIGXFSZ, SIG_IGN);
    raise_nofile(config);
    d.sys = bl_system_create(d.base, config);
    if (!d.sys || !open_listeners(&d, config)) {
        bl_log(BL_LOG_ERROR, "start-up failed");
        rc = 1;
        goto out;
    }
    if (target) {
        struct passwd pw = {.pw_name = drop_name, .pw_uid = drop_uid, .pw_gid = drop_gid};
        if (!give_state(config, drop_uid, drop_gid) || !drop_root(&pw, config->sandbox)) {
            bl_log(BL_LOG_ERROR, "start-up failed");
            rc = 1;
            goto out;
        }
    }
    bl_system_started(d.sys, conf_path);
    d.sig_term = evsignal_new(d.base, SIGTERM, on_stop_signal, &d);
    d.sig_int = evsignal_new(d.base, SIGINT, on_stop_signal, &d);
    d.sig_hup = evsignal_new(d.base, SIGHUP, on_hup, &d);
    d.exit_timer = evtimer_new(d.base, on_exit_timer, &d);
    event_add(d.sig_term, NULL);
    event_add(d.sig_int, NULL);
    event_add(d.sig_hup, NULL);
    bl_log(BL_LOG_INFO, "listening");
    event_base_dispatch(d.base);
out:
    bl_http_server_delete(d.http);
    bl_http_server_delete(d.local);
    bl_ipp_cleanup();
    SSL_CTX_free(d.tls);
    if (d.sys)
        bl_system_delete(d.sys);
    struct event *evs[] = {d.sig_term, d.sig_int, d.sig_hup, d.exit_timer};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        if (evs[i])
            event_free(evs[i]);
    }
    bl_runner_cleanup();
    bl_web_cleanup();
    event_base_free(d.base);
    if (rc == 0)
        bl_log(BL_LOG_INFO, "stopped");
    return rc;
}

int main(int argc, char **argv)
{
    const char *conf_path = BL_SYSCONFDIR "/blatt/blattd.conf";
    bool foreground = false, test_only = false;
    int opt;
    while ((opt = getopt(argc, argv, "c:fth")) != -1) {
        switch (opt) {
        case 'c':
            conf_path = optarg;
            break;
        case 'f':
            foreground = true;
            break;
        case 't':
            test_only = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    // Nothing blattd creates (database, keys, spool) is for anyone else to read.
    umask(077);
    char err[1024];
    bl_config_t *config = bl_config_load(conf_path, err, sizeof(err));
    if (!config) {
        fprintf(stderr, "blattd: %s\n", err);
        return 1;
    }
    if (test_only) {
        bool ok = check_installation(config);
        if (ok)
            printf("%s: configuration OK (%zu printers)\n", conf_path, config->num_printers);
        bl_config_delete(config);
        return ok ? 0 : 1;
    }
    if (!bl_log_open(config->log_file, config->log_level)) {
        fprintf(stderr, "blattd: cannot open log %s\n", config->log_file);
        bl_config_delete(config);
        return 1;
    }
    int rc = run(config, conf_path, foreground);
    bl_config_delete(config);
    return rc;
}
