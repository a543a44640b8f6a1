// The blatt commands that work on blattd's state directly: the audit chain, data-subject
// requests, key rotation and password hashes (see blatt(1)).
// Licensed under the Apache License, Version 2.0.
//
// Reading (audit verify, audit export, user export) opens the database read-only and works
// while blattd runs. Changing (user erase, key rotate) needs blattd stopped: blattd holds an
// exclusive lock on StateDir/lock for as long as it runs, and these commands take it too, so
// the two never write the audit chain or the spool at the same time.
#include "autoconfig.h"

#include "tools/admin.h"

#include "server/audit.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/log.h"
#include "server/doclog.h"
#include "server/spool.h"
#include "server/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <termios.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

static void path_in(const bl_config_t *c, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", c->state_dir, name);
}

static bl_store_t *open_ro(const bl_config_t *c)
{
    char db[1100];
    path_in(c, "blatt.db", db, sizeof(db));
    if (access(db, R_OK) != 0) {
        fprintf(stderr, "blatt: cannot read %s: %s\n", db, strerror(errno));
        return NULL;
    }
    return bl_store_open_readonly(db);
}

int bl_admin_lock(const bl_config_t *c)
{
    char path[1100];
    path_in(c, "lock", path, sizeof(path));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

// The lock for commands that change state; -1 with a message when blattd runs.
static int lock_offline(const bl_config_t *c)
{
    int fd = bl_admin_lock(c);
    if (fd < 0) {
        if (errno == EWOULDBLOCK)
            fprintf(stderr, "blatt: blattd is running on %s; stop it first\n", c->state_dir);
        else
            fprintf(stderr, "blatt: cannot lock %s: %s\n", c->state_dir, strerror(errno));
    }
    return fd;
}

// Who runs this command, for the audit chain.
static void operator_name(char *buf, size_t len)
{
    struct passwd *pw = getpwuid(getuid());
    snprintf(buf, len, "%s", pw ? pw->pw_name : "unknown");
}

// --- audit -------------------------------------------------------------------------------

static int audit_verify(const bl_config_t *c)
{
    bl_store_t *store = open_ro(c);
    if (!store)
        return 1;
    bl_audit_report_t r;
    bool ok = bl_audit_verify(store, &r);
    bl_store_close(store);
    if (ok) {
        printf("audit chain intact: %llu records\n", (unsigned long long)r.records);
        return 0;
    }
    if (r.first_bad)
        printf("audit chain BROKEN at record %llu: %s (%llu records before it are intact)\n",
               (unsigned long long)r.first_bad, r.why, (unsigned long long)r.records);
    else
        printf("audit chain cannot be checked: %s\n", r.why);
    return 1;
}

static bool print_record(void *arg, uint64_t seq, const char *time, const char *actor,
                         const char *subject, const char *source, const char *action,
                         const char *object, const char *result, const char *hash)
{
    (void)arg;
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "seq", (json_int_t)seq, "time", time,
                          "actor", actor, "source", source, "action", action, "object", object,
                          "result", result, "hash", hash);
    if (!o)
        return false;
    if (subject && *subject)
        json_object_set_new(o, "subject", json_string(subject));
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!line)
        return false;
    bool ok = printf("%s\n", line) >= 0;
    free(line);
    return ok;
}

// "2026-12-01", "2026-12-01T10:00:00Z" or "" -> the comparable RFC 3339 prefix.
static bool parse_since(const char *in, char *out, size_t len)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(in, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end) {
        memset(&tm, 0, sizeof(tm));
        end = strptime(in, "%Y-%m-%d", &tm);
        if (!end || *end)
            return false;
    }
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return true;
}

static int audit_export(const bl_config_t *c, int argc, char **argv)
{
    char since[32] = "";
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--since") && i + 1 < argc) {
            if (!parse_since(argv[++i], since, sizeof(since))) {
                fprintf(stderr, "blatt: --since takes YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            if (strcmp(argv[++i], "jsonl")) {
                fprintf(stderr, "blatt: the only export format is jsonl\n");
                return 2;
            }
        } else {
            fprintf(stderr, "blatt: audit export [--since DATE] [--format jsonl]\n");
            return 2;
        }
    }
    bl_store_t *store = open_ro(c);
    if (!store)
        return 1;
    bool ok = bl_audit_visit(store, since, print_record, NULL);
    bl_store_close(store);
    if (!ok)
        fprintf(stderr, "blatt: cannot read the audit chain\n");
    return ok ? 0 : 1;
}

// --- data subjects ------------------------------------------------------------------------

static const char job_cols[] = "id, uuid, printer, user_name, origin_host, name, state, format,"
                               " copies, sides, color_mode, media, created, processing,"
                               " completed, pages, sheets, impressions, impressions_color,"
                               " impressions_mono, doc_state, doc_size";

static json_t *row_object(sqlite3_stmt *st)
{
    json_t *o = json_object();
    for (int i = 0; o && i < sqlite3_column_count(st); i++) {
        const char *name = sqlite3_column_name(st, i);
        if (sqlite3_column_type(st, i) == SQLITE_INTEGER)
            json_object_set_new(o, name, json_integer(sqlite3_column_int64(st, i)));
        else if (sqlite3_column_type(st, i) == SQLITE_NULL)
            json_object_set_new(o, name, json_null());
        else
            json_object_set_new(o, name, json_string((const char *)sqlite3_column_text(st, i)));
    }
    return o;
}

typedef struct collect {
    json_t *list;
    const char *actor;
} collect_t;

static bool collect_record(void *arg, uint64_t seq, const char *time, const char *actor,
                           const char *subject, const char *source, const char *action,
                           const char *object, const char *result, const char *hash)
{
    collect_t *c = arg;
    (void)subject;
    (void)hash;
    if (strcmp(actor, c->actor))
        return true;
    json_array_append_new(c->list, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "seq", (json_int_t)seq,
                                             "time", time, "source", source, "action", action,
                                             "object", object, "result", result));
    return true;
}

static int user_export(const bl_config_t *c, const char *subject)
{
    // The read-only store cannot create the audit tables; a fresh state has no records anyway.
    bl_store_t *store = open_ro(c);
    if (!store)
        return 1;
    char pseudo[64] = "";
    char key[1100];
    path_in(c, "audit.key", key, sizeof(key));
    if (access(key, F_OK) == 0) {
        bl_audit_t *a = bl_audit_open_key(key);
        if (!a) {
            bl_store_close(store);
            return 1;
        }
        bl_audit_pseudonym(a, subject, pseudo, sizeof(pseudo));
        bl_audit_close(a);
    }
    json_t *jobs = json_array(), *audit = json_array();
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT %s FROM jobs WHERE user = ? ORDER BY id", job_cols);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bl_store_db(store), sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, subject, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(jobs, row_object(st));
    }
    sqlite3_finalize(st);
    collect_t col = {audit, pseudo};
    if (pseudo[0])
        bl_audit_visit(store, "", collect_record, &col);
    bl_store_close(store);
    json_t *doc = json_pack("{s:s,s:s,s:o,s:o}", "subject", subject, "audit_pseudonym", pseudo,
                            "jobs", jobs, "audit", audit);
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!text)
        return 1;
    printf("%s\n", text);
    free(text);
    return 0;
}

static int user_erase(const bl_config_t *c, const char *subject)
{
    int lock = lock_offline(c);
    if (lock < 0)
        return 1;
    char db[1100], key[1100];
    path_in(c, "blatt.db", db, sizeof(db));
    path_in(c, "audit.key", key, sizeof(key));
    bl_store_t *store = bl_store_open(db, NULL);
    bl_audit_t *a = store ? bl_audit_open(store, key) : NULL;
    if (!a) {
        bl_store_close(store);
        close(lock);
        return 1;
    }
    sqlite3 *sdb = bl_store_db(store);
    // Documents of the subject's unfinished jobs are shredded first, then every record goes.
    sqlite3_stmt *st = NULL;
    int shredded = 0, jobs = 0;
    char logdir[1100];
    path_in(c, "doclog", logdir, sizeof(logdir));
    bl_doclog_t *log = bl_doclog_open(logdir);
    if (log && sqlite3_prepare_v2(sdb,
                                  "SELECT id, doc_seg, doc_off, doc_len FROM jobs WHERE user = ?"
                                  " AND doc_state IN (1, 2)",
                                  -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, subject, -1, SQLITE_TRANSIENT);
        while (sqlite3_step(st) == SQLITE_ROW) {
            bl_doclog_ref_t ref = {(uint32_t)sqlite3_column_int64(st, 1),
                                   sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3)};
            char path[1200];
            snprintf(path, sizeof(path), "%s/spool/%d.bls", c->state_dir,
                     sqlite3_column_int(st, 0));
            if (ref.seg ? bl_doclog_shred(log, &ref) : bl_spool_shred(path))
                shredded++;
        }
    }
    sqlite3_finalize(st);
    // The shredded keys are on disk before the records that point to them go.
    if (!log || !bl_doclog_sync(log)) {
        bl_doclog_close(log);
        bl_audit_close(a);
        bl_store_close(store);
        close(lock);
        fprintf(stderr, "blatt: the documents could not be shredded; nothing was erased\n");
        return 1;
    }
    bl_doclog_close(log);
    bool ok = bl_store_begin(store) && sqlite3_prepare_v2(sdb,
                                                          "DELETE FROM documents WHERE job IN"
                                                          " (SELECT id FROM jobs WHERE user = ?)",
                                                          -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(st, 1, subject, -1, SQLITE_TRANSIENT);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    st = NULL;
    ok = ok &&
         sqlite3_prepare_v2(sdb, "DELETE FROM jobs WHERE user = ?", -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(st, 1, subject, -1, SQLITE_TRANSIENT);
        ok = sqlite3_step(st) == SQLITE_DONE;
        jobs = sqlite3_changes(sdb);
    }
    sqlite3_finalize(st);
    char pseudo[64], result[128], who[256];
    bl_audit_pseudonym(a, subject, pseudo, sizeof(pseudo));
    bool mapped = ok && bl_audit_forget(store, a, subject);
    // The chain keeps the pseudonym's records; without the mapping they name nobody.
    snprintf(result, sizeof(result), "%d job records deleted, %d documents shredded", jobs,
             shredded);
    operator_name(who, sizeof(who));
    char actor[300];
    snprintf(actor, sizeof(actor), "blatt:%s", who);
    ok = ok && bl_audit_add(a, actor, "local", "user-erase", pseudo, result);
    ok = bl_store_commit(store) && ok;
    bl_audit_close(a);
    bl_store_close(store);
    close(lock);
    if (!ok) {
        fprintf(stderr, "blatt: the erasure failed; nothing was committed\n");
        return 1;
    }
    printf("erased %s: %s%s\n", pseudo, result,
           mapped ? ", audit pseudonym unlinked" : ", no audit records named them");
    return 0;
}

// --- keys -----------------------------------------------------------------------------------

// What a rotation did: rewrapped now, by an earlier interrupted run, documents nothing opens
// any more (damaged: their jobs cannot print, with or without the rotation), write failures.
typedef struct rotation {
    int done, already, lost, failed;
} rotation_t;

static void count(rotation_t *r, bl_rewrap_t w)
{
    if (w == BL_REWRAP_DONE)
        r->done++;
    else if (w == BL_REWRAP_ALREADY)
        r->already++;
    else if (w == BL_REWRAP_UNREADABLE)
        r->lost++;
    else
        r->failed++;
}

// The owner (uuid) of job `id`, for the binding of its document; false when there is no job.
static bool job_uuid(sqlite3 *db, long id, char *uuid, size_t len)
{
    sqlite3_stmt *st = NULL;
    bool ok =
        sqlite3_prepare_v2(db, "SELECT uuid FROM jobs WHERE id = ?", -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(st, 1, id);
        ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0);
        if (ok)
            snprintf(uuid, len, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return ok;
}

// Spool files (large documents): N.bls belongs to job N. A file without a job is left to
// blattd, which shreds it at its next start.
static void rewrap_spool(const char *spool, sqlite3 *db, const bl_kek_t *old, const bl_kek_t *next,
                         rotation_t *r)
{
    DIR *d = opendir(spool);
    if (!d) {
        if (errno != ENOENT)
            r->failed++;
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end = NULL;
        long id = strtol(de->d_name, &end, 10);
        if (id <= 0 || !end || strcmp(end, ".bls"))
            continue;
        char path[1400], uuid[64];
        snprintf(path, sizeof(path), "%s/%s", spool, de->d_name);
        if (job_uuid(db, id, uuid, sizeof(uuid)))
            count(r, bl_spool_rewrap(old, next, path, uuid));
    }
    closedir(d);
}

// Documents in the document log, synced before the old key may go.
static void rewrap_log(const bl_config_t *c, sqlite3 *db, const bl_kek_t *old, const bl_kek_t *next,
                       rotation_t *r)
{
    char logdir[1100];
    path_in(c, "doclog", logdir, sizeof(logdir));
    bl_doclog_t *log = bl_doclog_open(logdir);
    sqlite3_stmt *st = NULL;
    if (!log || sqlite3_prepare_v2(db,
                                   "SELECT doc_seg, doc_off, doc_len, uuid FROM jobs"
                                   " WHERE doc_seg > 0 AND doc_state = 2 AND state < 7",
                                   -1, &st, NULL) != SQLITE_OK) {
        r->failed++;
        bl_doclog_close(log);
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        bl_doclog_ref_t ref = {(uint32_t)sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                               sqlite3_column_int64(st, 2)};
        const unsigned char *uuid = sqlite3_column_text(st, 3);
        count(r, bl_doclog_rewrap(log, old, next, &ref, uuid ? (const char *)uuid : ""));
    }
    sqlite3_finalize(st);
    if (!bl_doclog_sync(log))
        r->failed++;
    bl_doclog_close(log);
}

// Documents an older blattd kept in the database: rewrapped in one transaction.
static void rewrap_db(bl_store_t *store, const bl_kek_t *old, const bl_kek_t *next, rotation_t *r)
{
    sqlite3 *db = bl_store_db(store);
    sqlite3_stmt *sel = NULL, *up = NULL;
    if (!bl_store_begin(store) ||
        sqlite3_prepare_v2(db,
                           "SELECT d.job, d.data, j.uuid FROM documents d"
                           " LEFT JOIN jobs j ON j.id = d.job",
                           -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE documents SET data = ? WHERE job = ?", -1, &up, NULL) !=
            SQLITE_OK) {
        r->failed++;
        sqlite3_finalize(sel);
        return;
    }
    while (sqlite3_step(sel) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(sel, 1);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf) {
            r->failed++;
            break;
        }
        memcpy(buf, sqlite3_column_blob(sel, 1), len);
        const unsigned char *uuid = sqlite3_column_text(sel, 2);
        bl_rewrap_t w = bl_spool_rewrap_mem(old, next, buf, len, uuid ? (const char *)uuid : "");
        if (w == BL_REWRAP_DONE) {
            sqlite3_bind_blob(up, 1, buf, (int)len, SQLITE_TRANSIENT);
            sqlite3_bind_int64(up, 2, sqlite3_column_int64(sel, 0));
            if (sqlite3_step(up) != SQLITE_DONE)
                w = BL_REWRAP_FAILED;
            sqlite3_reset(up);
        }
        count(r, w);
        free(buf);
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(up);
    if (!bl_store_commit(store))
        r->failed++;
}

static int key_rotate(const bl_config_t *c)
{
    int lock = lock_offline(c);
    if (lock < 0)
        return 1;
    char kek_path[1100], next_path[1100], spool[1100], db[1100], key[1100];
    path_in(c, "kek", kek_path, sizeof(kek_path));
    path_in(c, "kek.next", next_path, sizeof(next_path));
    path_in(c, "spool", spool, sizeof(spool));
    path_in(c, "blatt.db", db, sizeof(db));
    path_in(c, "audit.key", key, sizeof(key));
    int rc = 1;
    // kek.next survives an interrupted rotation: running again finishes it. An empty one is
    // what a crash between creating and writing it leaves: nothing was wrapped under it.
    struct stat nst;
    if (lstat(next_path, &nst) == 0 && S_ISREG(nst.st_mode) && nst.st_size == 0 &&
        unlink(next_path) == 0)
        fprintf(stderr, "blatt: removed an empty %s (left by an interrupted rotation)\n",
                next_path);
    bl_kek_t *old = bl_kek_load_or_create(kek_path);
    bl_kek_t *next = old ? bl_kek_load_or_create(next_path) : NULL;
    bl_store_t *store = next ? bl_store_open(db, NULL) : NULL;
    rotation_t r = {0};
    if (store) {
        rewrap_spool(spool, bl_store_db(store), old, next, &r);
        rewrap_log(c, bl_store_db(store), old, next, &r);
        rewrap_db(store, old, next, &r);
    }
    // Only a failed write keeps the old key: a document nothing opens is lost either way.
    if (store && !r.failed) {
        int dfd = open(c->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rename(next_path, kek_path) == 0 && dfd >= 0 && fsync(dfd) == 0)
            rc = 0;
        if (dfd >= 0)
            close(dfd);
    }
    bl_kek_delete(old);
    bl_kek_delete(next);
    char result[200];
    snprintf(result, sizeof(result),
             "%d documents rewrapped (%d by an earlier run), %d unreadable (their jobs cannot"
             " print), %d failed",
             r.done + r.already, r.already, r.lost, r.failed);
    bl_audit_t *a = store ? bl_audit_open(store, key) : NULL;
    char who[256], actor[300];
    operator_name(who, sizeof(who));
    snprintf(actor, sizeof(actor), "blatt:%s", who);
    if (!a || !bl_audit_add(a, actor, "local", "key-rotate", "kek", rc ? "failed" : result) ||
        !bl_store_commit(store))
        fprintf(stderr, "blatt: the rotation could not be recorded in the audit chain\n");
    bl_audit_close(a);
    bl_store_close(store);
    close(lock);
    if (rc)
        fprintf(stderr,
                "blatt: key rotation incomplete (%s): some documents are under the new key,"
                " the rest under the old one; blattd starts again only after `blatt key"
                " rotate` has finished\n",
                result);
    else
        printf("key rotated: %s\n", result);
    return rc;
}

// --- passwords ------------------------------------------------------------------------------

static int hash_password(void)
{
    char pw[256];
    struct termios old, quiet;
    bool tty = isatty(0) && tcgetattr(0, &old) == 0;
    if (tty) {
        fprintf(stderr, "Password: ");
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(0, TCSAFLUSH, &quiet);
    }
    bool got = fgets(pw, sizeof(pw), stdin) != NULL;
    if (tty) {
        tcsetattr(0, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    if (!got) {
        fprintf(stderr, "blatt: no password on standard input\n");
        return 1;
    }
    pw[strcspn(pw, "\r\n")] = '\0';
    char hash[256];
    bool ok = pw[0] && bl_auth_hash_password(pw, hash, sizeof(hash));
    OPENSSL_cleanse(pw, sizeof(pw));
    if (!ok) {
        fprintf(stderr, "blatt: an empty password is not allowed\n");
        return 1;
    }
    printf("%s\n", hash);
    return 0;
}

int bl_admin_command(const bl_config_t *c, int argc, char **argv)
{
    const char *cmd = argv[0], *sub = argc > 1 ? argv[1] : "";
    bl_log_open(NULL, BL_LOG_ERROR);
    if (!strcmp(cmd, "hash-password") && argc == 1)
        return hash_password();
    if (!strcmp(cmd, "audit") && !strcmp(sub, "verify") && argc == 2)
        return audit_verify(c);
    if (!strcmp(cmd, "audit") && !strcmp(sub, "export"))
        return audit_export(c, argc - 2, argv + 2);
    if (!strcmp(cmd, "user") && !strcmp(sub, "export") && argc == 3)
        return user_export(c, argv[2]);
    if (!strcmp(cmd, "user") && !strcmp(sub, "erase") && argc == 3)
        return user_erase(c, argv[2]);
    if (!strcmp(cmd, "key") && !strcmp(sub, "rotate") && argc == 2)
        return key_rotate(c);
    return 2;
}

bool bl_admin_is_command(const char *cmd)
{
    return !strcmp(cmd, "audit") || !strcmp(cmd, "user") || !strcmp(cmd, "key") ||
           !strcmp(cmd, "hash-password");
}
