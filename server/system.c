// The Blatt system object: opens state, creates the queues and resumes unfinished jobs.
// Licensed under the Apache License, Version 2.0.
#include "autoconfig.h"

#include "server/system.h"

#include "drivers/launcher.h"
#include "drivers/sandbox.h"

#include "drivers/graph.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/policy.h"
#include "server/worker.h"
#include "server/config.h"
#include "server/job.h"
#include "server/log.h"
#include "server/pipeline.h"
#include "server/printer.h"
#include "server/random.h"
#include "server/doclog.h"
#include "server/spool.h"
#include "server/store.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

time_t bl_system_now(void)
{
    return time(NULL);
}

void bl_uuid_make(char *buf, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char b[16];
    if (!bl_random_public(b, sizeof(b)))
        memset(b, 0, sizeof(b));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    char text[48] = "urn:uuid:";
    size_t n = 9;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            text[n++] = '-';
        text[n++] = digits[b[i] >> 4];
        text[n++] = digits[b[i] & 15];
    }
    text[n] = '\0';
    snprintf(buf, len, "%s", text);
}

static char *path_join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s", dir, name);
    return p;
}

static bool make_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST) {
        bl_log(BL_LOG_ERROR, "cannot create %s: %s", path, strerror(errno));
        return false;
    }
    if (chmod(path, mode) != 0) {
        bl_log(BL_LOG_ERROR, "cannot set mode of %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

// The system's UUID is kept in the meta table so that it survives restarts.
static void load_uuid(bl_system_t *sys)
{
    sqlite3_stmt *st = bl_store_stmt(sys->store, "SELECT value FROM meta WHERE key='uuid'");
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(sys->uuid, sizeof(sys->uuid), "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        return;
    }
    if (st)
        sqlite3_reset(st);
    bl_uuid_make(sys->uuid, sizeof(sys->uuid));
    if (!bl_store_begin(sys->store))
        return;
    st = bl_store_stmt(sys->store, "INSERT OR REPLACE INTO meta(key, value) VALUES('uuid', ?)");
    if (st) {
        sqlite3_bind_text(st, 1, sys->uuid, -1, SQLITE_STATIC);
        sqlite3_step(st);
    }
}

// The audit chain, the policy and the authenticator (with its worker threads).
static bool open_security(bl_system_t *sys)
{
    const bl_config_t *c = sys->config;
    char *key = path_join(c->state_dir, "audit.key");
    sys->audit = key ? bl_audit_open(sys->store, key) : NULL;
    free(key);
    if (!sys->audit)
        return false;
    bl_audit_set_syslog(sys->audit, c->audit_syslog);
    char err[512];
    if (!(sys->policy = bl_policy_load(c->policy_file, err, sizeof(err)))) {
        bl_log(BL_LOG_ERROR, "%s", err);
        return false;
    }
    sys->worker = bl_worker_create(sys->base, 2);
    sys->auth = sys->worker ? bl_auth_create(sys->base, c, sys->worker) : NULL;
    return sys->auth != NULL;
}

void bl_system_audit(bl_system_t *sys, const char *actor, const char *source, const char *action,
                     const char *object, const char *result)
{
    if (sys->audit && !bl_audit_add(sys->audit, actor, source, action, object, result))
        bl_log(BL_LOG_ERROR, "audit: the record %s %s could not be written", action, object);
}

static bool changes_uids(void)
{
    return geteuid() == 0 || bl_launcher_active();
}

int bl_system_take_uid(bl_system_t *sys, int job_id)
{
    if (!changes_uids() || !sys->config->sandbox)
        return -1;
    int first = job_id > 0 ? job_id % BL_UID_SLOTS : 0;
    for (int k = 0; k < BL_UID_SLOTS; k++) {
        int slot = (first + k) % BL_UID_SLOTS;
        if (!sys->uid_busy[slot]) {
            sys->uid_busy[slot] = true;
            return slot;
        }
    }
    return -1;
}

void bl_system_give_uid(bl_system_t *sys, int slot)
{
    if (slot < 0 || slot >= BL_UID_SLOTS)
        return;
    uid_t uid = (uid_t)sys->config->sandbox_uid_base + (uid_t)slot;
    if (!bl_sandbox_kill_uid(uid))
        bl_log(BL_LOG_WARN, "sandbox: the processes of uid %u could not be killed: %s",
               (unsigned)uid, strerror(errno));
    sys->uid_busy[slot] = false;
}

void bl_system_sandbox(const bl_system_t *sys, int slot, bool backend, const char *tmpdir,
                       bl_sandbox_t *sb)
{
    const bl_config_t *c = sys->config;
    const long mib = 1024 * 1024;
    memset(sb, 0, sizeof(*sb));
    if (changes_uids()) {
        // Every job its own uid: its programs cannot reach another job's processes or files.
        sb->drop_user = true;
        sb->uid = (uid_t)c->sandbox_uid_base +
                  (uid_t)(slot >= 0 && slot < BL_UID_SLOTS ? slot : BL_UID_SLOTS);
        // A filter's group is its own; a backend shares the group of the file queues.
        sb->gid = backend ? (gid_t)c->sandbox_uid_base : (gid_t)sb->uid;
    }
    sb->no_network = !backend;
    sb->tmpfs = tmpdir;
    sb->tmpfs_mb = tmpdir ? (long)(c->filter_tmp_size / (size_t)mib) : 0;
    sb->cpu_seconds = c->filter_timeout;
#if defined(__SANITIZE_ADDRESS__)
    sb->memory_mb = 0; // ASan reserves terabytes of address space
#else
    sb->memory_mb = (long)(c->filter_memory_limit / (size_t)mib);
#endif
    sb->file_size_mb = (long)(c->filter_file_size_limit / (size_t)mib);
    sb->open_files = c->filter_open_files;
    sb->seccomp = backend ? BL_SECCOMP_BACKEND : BL_SECCOMP_FILTER;
}

static void doclog_flush(void *arg, bl_store_t *store)
{
    bl_doclog_flush(arg, store);
}

// Printing waits while the store fails (printer.c); it goes on once changes are durable again.
static void on_store_recovered(void *arg)
{
    bl_system_t *sys = arg;
    for (size_t i = 0; i < sys->num_printers && !sys->shutting_down; i++)
        bl_printer_schedule(sys->printers[i]);
}

static bool open_state(bl_system_t *sys)
{
    const bl_config_t *c = sys->config;
    if (!make_dir(c->state_dir, 0700))
        return false;
    // One writer of this state at a time: another blattd, or blatt user erase / key rotate.
    char *lock = path_join(c->state_dir, "lock");
    sys->lock_fd = lock ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600) : -1;
    if (sys->lock_fd < 0 || flock(sys->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        bl_log(BL_LOG_ERROR,
               "state: %s is in use by another blattd or a blatt maintenance "
               "command (%s)",
               c->state_dir, strerror(errno));
        free(lock);
        return false;
    }
    free(lock);
    char *next = path_join(c->state_dir, "kek.next");
    if (next && access(next, F_OK) == 0) {
        bl_log(BL_LOG_ERROR,
               "state: a key rotation was interrupted (%s exists); run `blatt key "
               "rotate` again to finish it",
               next);
        free(next);
        return false;
    }
    free(next);
    sys->spool_dir = path_join(c->state_dir, "spool");
    sys->tmp_dir = path_join(c->state_dir, "tmp");
    char *db = path_join(c->state_dir, "blatt.db");
    char *kek = path_join(c->state_dir, "kek");
    char *formats = path_join(c->data_dir, "formats.conf");
    bool ok = sys->spool_dir && sys->tmp_dir && db && kek && formats &&
              make_dir(sys->spool_dir, 0700) && make_dir(sys->tmp_dir, 0700);
    if (ok && c->sandbox && geteuid() == 0) {
        // Sandboxed programs run as other uids: they must reach their TMPDIR (StateDir/tmp/
        // job-N, a tmpfs of their own) but list nothing on the way.
        if (chmod(c->state_dir, 0711) != 0 || chmod(sys->tmp_dir, 0711) != 0) {
            bl_log(BL_LOG_ERROR, "state: cannot set the mode of %s: %s", c->state_dir,
                   strerror(errno));
            ok = false;
        }
    }
    if (ok && !(sys->store = bl_store_open(db, sys->base)))
        ok = false;
    char *doclog = ok ? path_join(c->state_dir, "doclog") : NULL;
    if (ok && !(doclog && (sys->doclog = bl_doclog_open(doclog))))
        ok = false;
    free(doclog);
    if (ok) {
        sys->spool_dir_fd = open(sys->spool_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sys->spool_dir_fd < 0) {
            bl_log(BL_LOG_ERROR, "state: cannot open %s: %s", sys->spool_dir, strerror(errno));
            ok = false;
        }
    }
    // Every commit first syncs the document log segments it wrote to (store.c).
    if (ok) {
        bl_store_set_sync_source(sys->store, doclog_flush, sys->doclog);
        bl_store_on_recovered(sys->store, on_store_recovered, sys);
    }
    if (ok && !(sys->kek = bl_kek_load_or_create(kek)))
        ok = false;
    if (ok) {
        char err[512];
        sys->graph = bl_graph_load(formats, err, sizeof(err));
        if (!sys->graph) {
            bl_log(BL_LOG_ERROR, "%s", err);
            ok = false;
        }
    }
    if (ok)
        ok = open_security(sys);
    free(db);
    free(kek);
    free(formats);
    return ok;
}

// A file queue's directory as root: whoever runs the backends may create files there (sticky:
// nobody removes another's; the files themselves are 0600, so no job reads another's output).
// With the sandbox that is the shared group of all jobs' backends (each job has a uid of its
// own); without it, blattd's User, which then starts the backends itself.
static void prepare_file_queue(const bl_system_t *sys, const char *dir)
{
    const bl_config_t *c = sys->config;
    struct stat st;
    if (geteuid() != 0 || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return;
    gid_t gid = (gid_t)c->sandbox_uid_base;
    if (!c->sandbox) {
        const struct passwd *pw = c->user && *c->user ? getpwnam(c->user) : NULL;
        if (!pw || pw->pw_uid == 0)
            return; // blattd stays root: it can write anywhere
        gid = pw->pw_gid;
    }
    mode_t want = (st.st_mode & 07777) | S_ISVTX | S_IRGRP | S_IWGRP | S_IXGRP;
    if (st.st_gid == gid && (st.st_mode & 07777) == want)
        return;
    if (chown(dir, (uid_t)-1, gid) != 0 || chmod(dir, want) != 0)
        bl_log(BL_LOG_WARN, "file queue %s: cannot open it to group %u: %s", dir, (unsigned)gid,
               strerror(errno));
    else
        bl_log(BL_LOG_INFO, "file queue %s: group %u may now write there (mode %04o)", dir,
               (unsigned)gid, (unsigned)want);
}

static bool create_printers(bl_system_t *sys)
{
    bl_config_t *c = sys->config;
    sys->printers = calloc(c->num_printers ? c->num_printers : 1, sizeof(*sys->printers));
    if (!sys->printers)
        return false;
    for (const bl_printer_conf_t *pc = c->printers; pc; pc = pc->next) {
        bl_printer_t *p = bl_printer_create(sys, pc);
        if (!p) {
            bl_log(BL_LOG_ERROR, "printer %s: cannot be created", pc->name);
            return false;
        }
        sys->printers[sys->num_printers++] = p;
        if (!strncmp(pc->device_uri, "file://", 7))
            prepare_file_queue(sys, pc->device_uri + 7);
    }
    if (c->default_printer)
        sys->default_printer = bl_system_find_printer(sys, c->default_printer);
    else if (sys->num_printers)
        sys->default_printer = sys->printers[0];
    return true;
}

#define TICK_SECONDS 2

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bl_system_t *sys = arg;
    if (sys->shutting_down)
        return;
    bl_job_expire(sys);
    // Retention runs at start and then every few minutes (bounded batches).
    static time_t last_retention;
    time_t now = bl_system_now();
    if (!last_retention || now - last_retention >= 300) {
        last_retention = now;
        bl_job_retention(sys);
    }
}

bl_system_t *bl_system_create(struct event_base *base, bl_config_t *config)
{
    bl_system_t *sys = calloc(1, sizeof(*sys));
    if (!sys)
        return NULL;
    sys->base = base;
    sys->config = config;
    sys->boot_time = bl_system_now();
    sys->lock_fd = -1;
    sys->spool_dir_fd = -1;
    sys->next_job_id = 1;
    char host[256] = "localhost";
    if (config->server_name && *config->server_name)
        snprintf(host, sizeof(host), "%s", config->server_name);
    else
        gethostname(host, sizeof(host) - 1);
    sys->server_name = strdup(host);
    if (!sys->server_name || !open_state(sys) || !create_printers(sys) || !bl_job_resume_all(sys)) {
        bl_system_delete(sys);
        return NULL;
    }
    load_uuid(sys);
    bl_store_commit(sys->store);
    sys->tick = event_new(base, -1, EV_PERSIST, on_tick, sys);
    struct timeval tv = {TICK_SECONDS, 0};
    if (!sys->tick || event_add(sys->tick, &tv) != 0) {
        bl_system_delete(sys);
        return NULL;
    }
    for (size_t i = 0; i < sys->num_printers; i++) {
        bl_printer_probe(sys->printers[i]);
        bl_printer_schedule(sys->printers[i]);
    }
    bl_log(BL_LOG_INFO, "blattd %s ready: %zu queues, %zu unfinished jobs", PACKAGE_VERSION,
           sys->num_printers, sys->num_active);
    return sys;
}

bl_printer_t *bl_system_find_printer(const bl_system_t *sys, const char *name)
{
    for (size_t i = 0; i < sys->num_printers; i++) {
        if (!strcmp(sys->printers[i]->name, name))
            return sys->printers[i];
    }
    return NULL;
}

void bl_system_reload_policy(bl_system_t *sys)
{
    char err[512];
    bl_policy_t *p = bl_policy_load(sys->config->policy_file, err, sizeof(err));
    if (p) {
        bl_policy_delete(sys->policy);
        sys->policy = p;
        bl_log(BL_LOG_INFO, "policy reloaded");
    } else {
        bl_log(BL_LOG_ERROR, "policy not reloaded, the old one stays: %s", err);
    }
    bl_system_audit(sys, "blattd", "local", "config-reload", "policy",
                    p ? "ok" : "failed: the old policy stays");
}

// SHA-256 of a file as hex ("" when unreadable).
static void file_sha256(const char *path, char *out, size_t len)
{
    out[0] = '\0';
    FILE *fp = path ? fopen(path, "rb") : NULL;
    if (!fp)
        return;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char buf[8192], d[32];
    unsigned int dl = 0;
    size_t n;
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    while (ok && (n = fread(buf, 1, sizeof(buf), fp)) > 0)
        ok = EVP_DigestUpdate(md, buf, n) == 1;
    ok = ok && !ferror(fp) && EVP_DigestFinal_ex(md, d, &dl) == 1;
    EVP_MD_CTX_free(md);
    fclose(fp);
    for (unsigned i = 0; ok && i < dl && 2 * i + 2 < len; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

void bl_system_started(bl_system_t *sys, const char *config_path)
{
    char files[3][65];
    const char *names[3] = {"config", "policy", "users"};
    const char *paths[3] = {config_path, sys->config->policy_file, sys->config->user_file};
    for (int i = 0; i < 3; i++) {
        file_sha256(paths[i] && *paths[i] ? paths[i] : NULL, files[i], sizeof(files[i]));
        // A changed configuration is an admin change: the audit names which file changed.
        char key[32];
        snprintf(key, sizeof(key), "%s_sha256", names[i]);
        sqlite3_stmt *st = bl_store_stmt(sys->store, "SELECT value FROM meta WHERE key=?");
        char old[65] = "";
        bool known = false;
        if (st) {
            sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW) {
                const unsigned char *t = sqlite3_column_text(st, 0);
                snprintf(old, sizeof(old), "%s", t ? (const char *)t : "");
                known = true;
            }
            sqlite3_reset(st);
        }
        if (known && !strcmp(old, files[i]))
            continue;
        char object[1100], result[200];
        snprintf(object, sizeof(object), "%s %s", names[i], paths[i] && *paths[i] ? paths[i] : "-");
        snprintf(result, sizeof(result), "%s sha256 %.16s", known ? "changed" : "first seen",
                 files[i][0] ? files[i] : "(none)");
        bl_system_audit(sys, "blattd", "local", "config-change", object, result);
        st = bl_store_begin(sys->store)
                 ? bl_store_stmt(sys->store, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)")
                 : NULL;
        if (st) {
            sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, files[i], -1, SQLITE_STATIC);
            sqlite3_step(st);
            sqlite3_reset(st);
        }
    }
    char result[160];
    snprintf(result, sizeof(result), "blattd %s, %zu printers, %zu unfinished jobs",
             PACKAGE_VERSION, sys->num_printers, sys->num_active);
    bl_system_audit(sys, "blattd", "local", "start", "server", result);
    bl_store_commit(sys->store);
}

void bl_system_shutdown(bl_system_t *sys)
{
    if (!sys->shutting_down)
        bl_system_audit(sys, "blattd", "local", "stop", "server", "ok");
    sys->shutting_down = true;
    for (size_t i = 0; i < sys->num_active; i++) {
        bl_job_t *job = sys->active[i];
        if (job->runner) {
            bl_pipeline_cancel(job);
        }
    }
}

void bl_system_delete(bl_system_t *sys)
{
    if (!sys)
        return;
    if (sys->tick)
        event_free(sys->tick);
    if (sys->store) {
        bl_store_commit(sys->store);
        bl_store_flush_redo(sys->store);
    }
    for (size_t i = 0; i < sys->num_printers; i++)
        bl_printer_delete(sys->printers[i]);
    free(sys->printers);
    for (size_t i = 0; i < sys->num_active; i++) {
        bl_job_t *job = sys->active[i];
        job->registered = false;
        job->runner = NULL; // the loop is gone: no pipeline comes back
        bl_job_unref(job);
    }
    free(sys->active);
    bl_auth_delete(sys->auth);
    bl_worker_delete(sys->worker);
    bl_policy_delete(sys->policy);
    bl_audit_close(sys->audit);
    bl_store_close(sys->store);
    bl_doclog_close(sys->doclog);
    if (sys->spool_dir_fd >= 0)
        close(sys->spool_dir_fd);
    bl_kek_delete(sys->kek);
    bl_graph_delete(sys->graph);
    free(sys->server_name);
    free(sys->spool_dir);
    free(sys->tmp_dir);
    if (sys->lock_fd >= 0)
        close(sys->lock_fd);
    free(sys);
}
