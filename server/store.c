// SQLite store of blattd: schema, prepared statements and group commit once per loop pass.
// Licensed under the Apache License, Version 2.0.
//
// Design: the daemon is the only writer. Handlers call bl_store_begin() before a write; the
// first write of a loop pass opens a transaction and activates a low-priority event, which runs
// after every other event of the pass, commits once (one WAL fsync with synchronous=FULL) and
// then calls the after-commit callbacks, which send the responses that promise durability.
#include "server/store.h"

#include "server/log.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE 64

typedef struct pending_cb {
    bl_store_commit_cb cb;
    void *arg;
} pending_cb_t;

struct bl_store {
    sqlite3 *db;
    struct event *commit_ev;
    bool in_txn;
    pending_cb_t *pending;
    size_t num_pending, cap_pending;
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } cache[STMT_CACHE];
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS printers("
    " name TEXT PRIMARY KEY, uuid TEXT NOT NULL, caps BLOB, caps_time INTEGER,"
    " config_time INTEGER, state_time INTEGER);"
    "CREATE TABLE IF NOT EXISTS jobs("
    " id INTEGER PRIMARY KEY, uuid TEXT NOT NULL, printer TEXT NOT NULL, user TEXT NOT NULL,"
    " origin_host TEXT, name TEXT, state INTEGER NOT NULL, reasons TEXT, message TEXT,"
    " format TEXT, copies INTEGER, sides TEXT, color_mode TEXT, media TEXT, resolution INTEGER,"
    " quality INTEGER, hold INTEGER, created INTEGER, processing INTEGER, completed INTEGER,"
    " impressions INTEGER DEFAULT 0, sheets INTEGER DEFAULT 0, impressions_color INTEGER DEFAULT 0,"
    " impressions_mono INTEGER DEFAULT 0, pages INTEGER DEFAULT 0, doc_state INTEGER DEFAULT 0,"
    " doc_size INTEGER DEFAULT 0, attempts INTEGER DEFAULT 0, page_ranges TEXT DEFAULT '',"
    " user_name TEXT DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, id);"
    // Encrypted documents small enough to ride in the same transaction as their job (the spool
    // format of spool.c, bytes for bytes); larger ones are files in StateDir/spool.
    "CREATE TABLE IF NOT EXISTS documents(job INTEGER PRIMARY KEY, data BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS jobs_printer ON jobs(printer, state, id);"
    // The history newest first (Get-Jobs which-jobs=completed): walked in order and cut at its
    // limit instead of sorted whole, for everyone, one user and one queue (job.c).
    "CREATE INDEX IF NOT EXISTS jobs_done ON jobs(completed, id);"
    "CREATE INDEX IF NOT EXISTS jobs_user_done ON jobs(user, completed, id);"
    "CREATE INDEX IF NOT EXISTS jobs_printer_done ON jobs(printer, completed, id);";

static void on_commit_due(evutil_socket_t fd, short what, void *arg);

#define SCHEMA_VERSION 2

// A damaged database must not look like an empty one: check it before anything else.
static bool check_integrity(bl_store_t *store, const char *path)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(store->db, "PRAGMA quick_check(3)", -1, &st, NULL) == SQLITE_OK;
    char what[300] = "";
    int rc = SQLITE_ERROR;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (t && strcmp(t, "ok") && !what[0])
            snprintf(what, sizeof(what), "%s", t);
    }
    if (rc != SQLITE_DONE && !what[0])
        snprintf(what, sizeof(what), "%s", sqlite3_errmsg(store->db));
    sqlite3_finalize(st);
    if (!what[0])
        return true;
    bl_log(BL_LOG_ERROR, "store: %s is damaged (%s); restore it from a backup or move it away",
           path, what);
    return false;
}

// Brings a database made by an older blattd to SCHEMA_VERSION (user_version counts steps).
static bool migrate(bl_store_t *store)
{
    sqlite3_stmt *st = NULL;
    int version = 0, has_jobs = 0;
    if (sqlite3_prepare_v2(store->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(store->db, "SELECT count(*) FROM sqlite_master WHERE name='jobs'", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        has_jobs = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > SCHEMA_VERSION) {
        bl_log(BL_LOG_ERROR, "store: the database is from a newer blattd (schema %d > %d)", version,
               SCHEMA_VERSION);
        return false;
    }
    // Version 1: jobs.page_ranges.
    if (has_jobs && version < 1 &&
        !bl_store_exec(store, "ALTER TABLE jobs ADD COLUMN page_ranges TEXT DEFAULT ''"))
        return false;
    // Version 2: jobs.user_name (user is the subject now).
    if (has_jobs && version < 2 &&
        !bl_store_exec(store, "ALTER TABLE jobs ADD COLUMN user_name TEXT DEFAULT ''"))
        return false;
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", SCHEMA_VERSION);
    return bl_store_exec(store, sql);
}

bl_store_t *bl_store_open(const char *path, struct event_base *base)
{
    bl_store_t *store = calloc(1, sizeof(*store));
    if (!store)
        return NULL;
    if (sqlite3_open_v2(path, &store->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        bl_log(BL_LOG_ERROR, "store: cannot open %s: %s", path,
               store->db ? sqlite3_errmsg(store->db) : "out of memory");
        bl_store_close(store);
        return NULL;
    }
    sqlite3_busy_timeout(store->db, 5000);
    if (!bl_store_exec(store, "PRAGMA journal_mode=WAL") ||
        !bl_store_exec(store, "PRAGMA synchronous=FULL") ||
        !bl_store_exec(store, "PRAGMA foreign_keys=ON") ||
        // Deleted rows (shredded documents) are overwritten, not just unlinked.
        !bl_store_exec(store, "PRAGMA secure_delete=ON") || !check_integrity(store, path) ||
        !migrate(store) || !bl_store_exec(store, schema)) {
        bl_store_close(store);
        return NULL;
    }
    if (base) {
        store->commit_ev = event_new(base, -1, 0, on_commit_due, store);
        // The commit runs after the other events of the pass: lowest priority.
        event_priority_set(store->commit_ev, event_base_get_npriorities(base) - 1);
    }
    return store;
}

bl_store_t *bl_store_open_readonly(const char *path)
{
    bl_store_t *store = calloc(1, sizeof(*store));
    if (!store)
        return NULL;
    if (sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        bl_log(BL_LOG_ERROR, "store: cannot open %s: %s", path,
               store->db ? sqlite3_errmsg(store->db) : "out of memory");
        bl_store_close(store);
        return NULL;
    }
    sqlite3_busy_timeout(store->db, 5000);
    return store;
}

void bl_store_close(bl_store_t *store)
{
    if (!store)
        return;
    if (store->in_txn)
        bl_store_commit(store);
    for (size_t i = 0; i < STMT_CACHE; i++)
        sqlite3_finalize(store->cache[i].stmt);
    if (store->commit_ev)
        event_free(store->commit_ev);
    sqlite3_close(store->db);
    free(store->pending);
    free(store);
}

bool bl_store_dirty(const bl_store_t *store)
{
    return store->in_txn;
}

sqlite3 *bl_store_db(bl_store_t *store)
{
    return store->db;
}

bool bl_store_exec(bl_store_t *store, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(store->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        bl_log(BL_LOG_ERROR, "store: %s", err ? err : "unknown error");
        sqlite3_free(err);
        return false;
    }
    return true;
}

bool bl_store_begin(bl_store_t *store)
{
    if (store->in_txn)
        return true;
    if (!bl_store_exec(store, "BEGIN IMMEDIATE"))
        return false;
    store->in_txn = true;
    if (store->commit_ev)
        event_active(store->commit_ev, EV_TIMEOUT, 0);
    return true;
}

void bl_store_after_commit(bl_store_t *store, bl_store_commit_cb cb, void *arg)
{
    if (!store->in_txn && !store->commit_ev) {
        cb(arg, true);
        return;
    }
    if (store->num_pending == store->cap_pending) {
        size_t cap = store->cap_pending ? store->cap_pending * 2 : 16;
        pending_cb_t *p = realloc(store->pending, cap * sizeof(*p));
        if (!p) {
            cb(arg, false);
            return;
        }
        store->pending = p;
        store->cap_pending = cap;
    }
    store->pending[store->num_pending++] = (pending_cb_t){cb, arg};
    if (store->commit_ev)
        event_active(store->commit_ev, EV_TIMEOUT, 0);
}

bool bl_store_commit(bl_store_t *store)
{
    bool ok = true;
    if (store->in_txn) {
        ok = bl_store_exec(store, "COMMIT");
        if (!ok)
            bl_store_exec(store, "ROLLBACK");
        store->in_txn = false;
    }
    // Callbacks may start new writes: take the list first.
    size_t n = store->num_pending;
    pending_cb_t *list = store->pending;
    store->pending = NULL;
    store->num_pending = store->cap_pending = 0;
    for (size_t i = 0; i < n; i++)
        list[i].cb(list[i].arg, ok);
    free(list);
    return ok;
}

static void on_commit_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bl_store_commit(arg);
}

sqlite3_stmt *bl_store_stmt(bl_store_t *store, const char *sql)
{
    size_t slot = ((uintptr_t)sql >> 3) % STMT_CACHE;
    for (size_t i = 0; i < STMT_CACHE; i++) {
        size_t k = (slot + i) % STMT_CACHE;
        if (store->cache[k].sql == sql) {
            sqlite3_reset(store->cache[k].stmt);
            sqlite3_clear_bindings(store->cache[k].stmt);
            return store->cache[k].stmt;
        }
        if (!store->cache[k].sql) {
            if (sqlite3_prepare_v3(store->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                   &store->cache[k].stmt, NULL) != SQLITE_OK) {
                bl_log(BL_LOG_ERROR, "store: prepare failed: %s", sqlite3_errmsg(store->db));
                return NULL;
            }
            store->cache[k].sql = sql;
            return store->cache[k].stmt;
        }
    }
    bl_log(BL_LOG_ERROR, "store: statement cache full");
    return NULL;
}
