// SQLite store of blattd: schema, prepared statements and group commit once per loop pass.
// Licensed under the Apache License, Version 2.0.
//
// Design: the daemon is the only writer. Handlers call bl_store_begin() before a write; the
// first write of a loop pass opens a transaction and activates a low-priority event, which runs
// after every other event of the pass and commits once. The after-commit callbacks, which send
// the responses that promise durability, run once the commit is on disk.
//
// Durability off the loop: in the daemon the database runs with synchronous=NORMAL, so COMMIT
// only writes the WAL. The pass's batch goes to one sync thread: its callbacks, and the file
// work that must be on disk before anyone is answered (writes of the document log, then
// fdatasync() of its segments, of spool files and of their directory). The thread does that
// work in order while a second thread syncs the WAL (one wait for the disk instead of two in a
// row; batch_sync_both()), and hands the batch back to the loop when both are done. While it
// syncs, the loop goes on parsing and committing the next passes; their batches merge and follow
// in one sync when the thread is free (one sync in flight at a time, so the thread's fsyncs
// always cover everything committed before they started). A client is answered only after the
// sync that covers its change returned: what got successful-ok survives a crash of blattd or of
// the machine. SQLite's WAL checksums make a commit that was not yet synced at a crash simply
// absent after it. Offline tools (no event base) commit with synchronous=FULL and no thread.
#include "server/store.h"

#include "server/log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define STMT_CACHE 64

typedef struct pending_cb {
    bl_store_commit_cb cb;
    void *arg;
} pending_cb_t;

// File work of a batch: pwrite() buf at off, or (buf NULL) fdatasync(). The item closes fd
// when it owns it; a borrowed fd stays open for as long as the lender promised (doclog.c).
typedef struct item {
    int fd;
    off_t off;
    uint8_t *buf;
    size_t len;
    bool own_fd;
} item_t;

// Committed changes waiting to become durable: callbacks to run, file work to do first.
typedef struct batch {
    pending_cb_t *cbs;
    size_t num_cbs, cap_cbs;
    item_t *items;
    size_t num_items, cap_items;
    int err; // errno of the first failed write or sync (set by the thread)
} batch_t;

// A write to do again if its pass fails (bl_store_redo).
typedef struct redo {
    bl_store_t *store;
    bl_store_redo_fn fn;
    void *arg;
    struct redo *next;
} redo_t;

#define MAX_ROLLBACK_FNS 4

struct bl_store {
    sqlite3 *db;
    struct event *commit_ev;     // lowest priority: after every other event of the pass
    struct event *commit_now_ev; // highest: right after the current callback
    bool in_txn;
    batch_t pass; // this loop pass: callbacks and descriptors added since the last commit
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } cache[STMT_CACHE];
    // The sync thread (daemon only).
    bool async;
    int wal_fd;
    bl_store_sync_source_fn source;
    void *source_arg;
    batch_t waiting;  // committed, waiting for the thread
    batch_t inflight; // the thread's while QUEUED; the loop's again when DONE
    enum { SYNC_IDLE, SYNC_QUEUED, SYNC_DONE } sync_state; // under lock
    bool thread_busy; // the loop's own view: from kick() until the batch is taken back
    bool stop;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    // The WAL's own thread: it syncs the WAL while the sync thread does a batch's file work.
    pthread_t wal_thread;
    bool wal_started;
    pthread_cond_t wal_cond;
    uint64_t wal_asked, wal_synced; // under lock
    int wal_err;                    // under lock: errno of the last failed sync
    int efd;
    struct event *done_ev;
    // Memory ahead of a failed pass: redo work due at redo_ev, and who rereads on a rollback.
    uint64_t passes;
    redo_t *redo_head, **redo_tail;
    struct event *redo_ev;
    struct {
        bl_store_rollback_fn fn;
        void *arg;
    } rollback[MAX_ROLLBACK_FNS];
    size_t num_rollback;
    bool failing; // a commit or sync failed, and none succeeded since
    time_t failing_since;
    uint64_t failed_passes;
    bl_store_recovered_fn recovered; // told when changes are durable again
    void *recovered_arg;
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
    " user_name TEXT DEFAULT '', doc_seg INTEGER DEFAULT 0, doc_off INTEGER DEFAULT 0,"
    " doc_len INTEGER DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, id);"
    // Encrypted documents that blattd before schema 3 kept with their job (the spool format of
    // spool.c); they are still read and shredded. Now small documents go to the document log
    // (jobs.doc_seg/doc_off/doc_len, doclog.c) and larger ones are files in StateDir/spool.
    "CREATE TABLE IF NOT EXISTS documents(job INTEGER PRIMARY KEY, data BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS jobs_printer ON jobs(printer, state, id);"
    // The history newest first (Get-Jobs which-jobs=completed): walked in order and cut at its
    // limit instead of sorted whole, for everyone, one user and one queue (job.c).
    "CREATE INDEX IF NOT EXISTS jobs_done ON jobs(completed, id);"
    "CREATE INDEX IF NOT EXISTS jobs_user_done ON jobs(user, completed, id);"
    "CREATE INDEX IF NOT EXISTS jobs_printer_done ON jobs(printer, completed, id);";

static void on_commit_due(evutil_socket_t fd, short what, void *arg);
static void on_redo_due(evutil_socket_t fd, short what, void *arg);
static size_t run_redo(bl_store_t *store, bool failed);

#define SCHEMA_VERSION 3

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
    // Version 3: where a document lies in the document log.
    if (has_jobs && version < 3 &&
        (!bl_store_exec(store, "ALTER TABLE jobs ADD COLUMN doc_seg INTEGER DEFAULT 0") ||
         !bl_store_exec(store, "ALTER TABLE jobs ADD COLUMN doc_off INTEGER DEFAULT 0") ||
         !bl_store_exec(store, "ALTER TABLE jobs ADD COLUMN doc_len INTEGER DEFAULT 0")))
        return false;
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", SCHEMA_VERSION);
    return bl_store_exec(store, sql);
}

// ---------------------------------------------------------------------------------------------
// Batches

static bool batch_add_cb(batch_t *b, bl_store_commit_cb cb, void *arg)
{
    if (b->num_cbs == b->cap_cbs) {
        size_t cap = b->cap_cbs ? b->cap_cbs * 2 : 16;
        pending_cb_t *p = realloc(b->cbs, cap * sizeof(*p));
        if (!p)
            return false;
        b->cbs = p;
        b->cap_cbs = cap;
    }
    b->cbs[b->num_cbs++] = (pending_cb_t){cb, arg};
    return true;
}

static bool batch_add_item(batch_t *b, item_t it)
{
    if (b->num_items == b->cap_items) {
        size_t cap = b->cap_items ? b->cap_items * 2 : 16;
        item_t *p = realloc(b->items, cap * sizeof(*p));
        if (!p)
            return false;
        b->items = p;
        b->cap_items = cap;
    }
    b->items[b->num_items++] = it;
    return true;
}

// Moves everything of `from` to the end of `to` (from is empty afterwards). false: out of
// memory, and `from` is left as it was.
static bool batch_merge(batch_t *to, batch_t *from)
{
    if (!to->num_cbs && !to->num_items && !to->cbs && !to->items) {
        *to = *from;
        *from = (batch_t){0};
        return true;
    }
    size_t cbs = to->num_cbs + from->num_cbs, items = to->num_items + from->num_items;
    if (cbs > to->cap_cbs) {
        pending_cb_t *p = realloc(to->cbs, cbs * sizeof(*p));
        if (!p)
            return false;
        to->cbs = p;
        to->cap_cbs = cbs;
    }
    if (items > to->cap_items) {
        item_t *p = realloc(to->items, items * sizeof(*p));
        if (!p)
            return false;
        to->items = p;
        to->cap_items = items;
    }
    if (from->num_cbs)
        memcpy(to->cbs + to->num_cbs, from->cbs, from->num_cbs * sizeof(*from->cbs));
    if (from->num_items)
        memcpy(to->items + to->num_items, from->items, from->num_items * sizeof(*from->items));
    to->num_cbs = cbs;
    to->num_items = items;
    if (from->err && !to->err)
        to->err = from->err;
    free(from->cbs);
    free(from->items);
    *from = (batch_t){0};
    return true;
}

static bool pwrite_all(int fd, const uint8_t *buf, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return false;
        }
        buf += n;
        len -= (size_t)n;
        off += n;
    }
    return true;
}

// Does a batch's file work in order, then syncs the WAL (any thread). The items are done with
// afterwards (descriptors closed, buffers freed).
static void batch_sync(batch_t *b, int wal_fd)
{
    for (size_t i = 0; i < b->num_items; i++) {
        item_t *it = &b->items[i];
        bool ok = it->buf ? pwrite_all(it->fd, it->buf, it->len, it->off) : fdatasync(it->fd) == 0;
        if (!ok && !b->err)
            b->err = errno;
        if (it->own_fd)
            close(it->fd);
        free(it->buf);
    }
    b->num_items = 0;
    if (wal_fd >= 0 && fdatasync(wal_fd) != 0 && !b->err)
        b->err = errno;
}

// The redo work, and the probe while the store fails, in a second (on_redo_due).
static void arm_redo(bl_store_t *store)
{
    if (store->redo_ev && !evtimer_pending(store->redo_ev, NULL)) {
        struct timeval tv = {1, 0};
        evtimer_add(store->redo_ev, &tv);
    }
}

// Commits work again: said once, with how long they did not.
static void store_recovered(bl_store_t *store)
{
    if (!store->failing)
        return;
    store->failing = false;
    bl_log(BL_LOG_WARN, "store: changes are durable again after %lld s (%llu failed passes)",
           (long long)(time(NULL) - store->failing_since),
           (unsigned long long)store->failed_passes);
    if (store->recovered)
        store->recovered(store->recovered_arg);
}

// A commit or its sync failed: the first failure is logged, the rest of the outage at debug.
// The probe comes even when nothing registered to be written again.
static void store_failed(bl_store_t *store)
{
    store->failed_passes++;
    arm_redo(store);
    if (store->failing)
        return;
    store->failing = true;
    store->failing_since = time(NULL);
    store->failed_passes = 1;
}

// Runs a batch's callbacks in order (on the loop) and empties it. Callbacks may write again.
static void batch_finish(bl_store_t *store, batch_t *b, bool ok)
{
    batch_t done = *b;
    *b = (batch_t){0};
    for (size_t i = 0; i < done.num_items; i++) {
        if (done.items[i].own_fd)
            close(done.items[i].fd);
        free(done.items[i].buf);
    }
    if (!ok || done.err) {
        if (!store->failing)
            bl_log(BL_LOG_ERROR, "store: a commit could not be made durable: %s",
                   done.err ? strerror(done.err) : "commit failed");
        store_failed(store);
    } else if (done.num_cbs || done.num_items) {
        store_recovered(store);
    }
    for (size_t i = 0; i < done.num_cbs; i++)
        done.cbs[i].cb(done.cbs[i].arg, ok && !done.err);
    free(done.cbs);
    free(done.items);
}

// ---------------------------------------------------------------------------------------------
// The sync thread

// The WAL thread: syncs the WAL each time the sync thread asks.
static void *wal_main(void *arg)
{
    bl_store_t *store = arg;
    pthread_mutex_lock(&store->lock);
    for (;;) {
        while (store->wal_synced == store->wal_asked && !store->stop)
            pthread_cond_wait(&store->wal_cond, &store->lock);
        if (store->wal_synced == store->wal_asked)
            break;
        uint64_t asked = store->wal_asked;
        pthread_mutex_unlock(&store->lock);
        int err = fdatasync(store->wal_fd) != 0 ? errno : 0;
        pthread_mutex_lock(&store->lock);
        if (err)
            store->wal_err = err;
        store->wal_synced = asked;
        pthread_cond_broadcast(&store->wal_cond);
    }
    pthread_mutex_unlock(&store->lock);
    return NULL;
}

// The sync thread's batch: its file work here and the WAL's sync on the WAL thread, at the same
// time, so that a batch waits for one sync instead of two in a row. The WAL can thus reach the
// disk before the documents it records, as it always could (the kernel writes dirty WAL pages
// back when it likes): nobody was answered for such a commit yet, and a start after a crash
// ends a job whose document never arrived as aborted (job.c, recover_doclog(); a missing spool
// file, pipeline.c). A client is answered only when both syncs returned.
static void batch_sync_both(bl_store_t *store, batch_t *b)
{
    if (!store->wal_started || !b->num_items) {
        batch_sync(b, store->wal_fd);
        return;
    }
    pthread_mutex_lock(&store->lock);
    uint64_t ticket = ++store->wal_asked;
    pthread_cond_broadcast(&store->wal_cond);
    pthread_mutex_unlock(&store->lock);
    batch_sync(b, -1);
    pthread_mutex_lock(&store->lock);
    while (store->wal_synced < ticket)
        pthread_cond_wait(&store->wal_cond, &store->lock);
    int err = store->wal_err;
    store->wal_err = 0;
    pthread_mutex_unlock(&store->lock);
    if (err && !b->err)
        b->err = err;
}

static void *sync_main(void *arg)
{
    bl_store_t *store = arg;
    pthread_mutex_lock(&store->lock);
    for (;;) {
        while (store->sync_state != SYNC_QUEUED && !store->stop)
            pthread_cond_wait(&store->cond, &store->lock);
        if (store->sync_state != SYNC_QUEUED)
            break;
        pthread_mutex_unlock(&store->lock);
        batch_sync_both(store, &store->inflight);
        pthread_mutex_lock(&store->lock);
        store->sync_state = SYNC_DONE;
        pthread_cond_broadcast(&store->cond);
        uint64_t one = 1;
        ssize_t n;
        do
            n = write(store->efd, &one, sizeof(one));
        while (n < 0 && errno == EINTR);
    }
    pthread_mutex_unlock(&store->lock);
    return NULL;
}

// Hands the waiting batch to the thread (the loop; only when the thread has none).
static void kick(bl_store_t *store)
{
    if (store->thread_busy || (!store->waiting.num_cbs && !store->waiting.num_items))
        return;
    store->thread_busy = true;
    pthread_mutex_lock(&store->lock);
    store->inflight = store->waiting;
    store->waiting = (batch_t){0};
    store->sync_state = SYNC_QUEUED;
    pthread_cond_broadcast(&store->cond);
    pthread_mutex_unlock(&store->lock);
}

// Takes a synced batch back from the thread (wait: until it is synced). Returns whether one was
// taken; the thread is then free.
static bool take_done(bl_store_t *store, bool wait, batch_t *done)
{
    pthread_mutex_lock(&store->lock);
    while (wait && store->sync_state == SYNC_QUEUED)
        pthread_cond_wait(&store->cond, &store->lock);
    bool got = store->sync_state == SYNC_DONE;
    if (got) {
        *done = store->inflight;
        store->inflight = (batch_t){0};
        store->sync_state = SYNC_IDLE;
    }
    pthread_mutex_unlock(&store->lock);
    if (got)
        store->thread_busy = false;
    return got;
}

static void on_synced(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    bl_store_t *store = arg;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        bl_log(BL_LOG_WARN, "store: eventfd: %s", strerror(errno));
    batch_t done;
    if (!take_done(store, false, &done))
        return;
    kick(store); // the next batch syncs while this one's answers go out
    batch_finish(store, &done, true);
}

// Waits until the thread has no batch (the loop, at shutdown and for bl_store_commit()).
static void wait_idle(bl_store_t *store)
{
    batch_t done;
    if (store->thread_started && take_done(store, true, &done))
        batch_finish(store, &done, true);
}

// Opens our own descriptor of the WAL (fdatasync() of any descriptor of a file syncs it) and
// starts the sync thread. false: the store stays synchronous (synchronous=FULL).
static bool start_async(bl_store_t *store, const char *path, struct event_base *base)
{
    char wal[4200];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    store->wal_fd = open(wal, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    store->efd = eventfd(0, EFD_CLOEXEC);
    if (store->wal_fd < 0 || store->efd < 0) {
        bl_log(BL_LOG_WARN, "store: commits stay synchronous: %s", strerror(errno));
        return false;
    }
    evutil_make_socket_nonblocking(store->efd);
    store->done_ev = event_new(base, store->efd, EV_READ | EV_PERSIST, on_synced, store);
    if (!store->done_ev || event_add(store->done_ev, NULL) != 0)
        return false;
    pthread_mutex_init(&store->lock, NULL);
    pthread_cond_init(&store->cond, NULL);
    pthread_cond_init(&store->wal_cond, NULL);
    if (pthread_create(&store->thread, NULL, sync_main, store) != 0) {
        bl_log(BL_LOG_WARN, "store: commits stay synchronous: no sync thread");
        pthread_mutex_destroy(&store->lock);
        pthread_cond_destroy(&store->cond);
        pthread_cond_destroy(&store->wal_cond);
        return false;
    }
    store->thread_started = true;
    // Without it the sync thread syncs the WAL itself, after the file work.
    store->wal_started = pthread_create(&store->wal_thread, NULL, wal_main, store) == 0;
    if (!bl_store_exec(store, "PRAGMA synchronous=NORMAL"))
        return false;
    store->async = true;
    return true;
}

static void stop_async(bl_store_t *store)
{
    if (store->thread_started) {
        wait_idle(store);
        pthread_mutex_lock(&store->lock);
        store->stop = true;
        pthread_cond_broadcast(&store->cond);
        pthread_cond_broadcast(&store->wal_cond);
        pthread_mutex_unlock(&store->lock);
        pthread_join(store->thread, NULL);
        if (store->wal_started)
            pthread_join(store->wal_thread, NULL);
        pthread_mutex_destroy(&store->lock);
        pthread_cond_destroy(&store->cond);
        pthread_cond_destroy(&store->wal_cond);
        store->thread_started = store->wal_started = false;
    }
    if (store->done_ev)
        event_free(store->done_ev);
    store->done_ev = NULL;
    if (store->efd >= 0)
        close(store->efd);
    if (store->wal_fd >= 0)
        close(store->wal_fd);
    store->efd = store->wal_fd = -1;
    store->async = false;
}

// ---------------------------------------------------------------------------------------------
// Open and close

bl_store_t *bl_store_open(const char *path, struct event_base *base)
{
    bl_store_t *store = calloc(1, sizeof(*store));
    if (!store)
        return NULL;
    store->wal_fd = store->efd = -1;
    store->redo_tail = &store->redo_head;
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
        store->commit_now_ev = event_new(base, -1, 0, on_commit_due, store);
        store->redo_ev = evtimer_new(base, on_redo_due, store);
        if (!store->commit_ev || !store->commit_now_ev || !store->redo_ev) {
            bl_store_close(store);
            return NULL;
        }
        event_priority_set(store->commit_ev, event_base_get_npriorities(base) - 1);
        event_priority_set(store->commit_now_ev, 0);
        if (!start_async(store, path, base))
            stop_async(store);
    }
    return store;
}

bl_store_t *bl_store_open_readonly(const char *path)
{
    bl_store_t *store = calloc(1, sizeof(*store));
    if (!store)
        return NULL;
    store->wal_fd = store->efd = -1;
    store->redo_tail = &store->redo_head;
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
    if (store->in_txn || store->pass.num_cbs || store->pass.num_items || store->thread_busy ||
        store->waiting.num_cbs || store->waiting.num_items)
        bl_store_commit(store);
    stop_async(store);
    if (run_redo(store, false))
        bl_log(BL_LOG_ERROR, "store: closed with changes of a failed commit not written again");
    if (store->redo_ev)
        event_free(store->redo_ev);
    for (size_t i = 0; i < STMT_CACHE; i++)
        sqlite3_finalize(store->cache[i].stmt);
    if (store->commit_ev)
        event_free(store->commit_ev);
    if (store->commit_now_ev)
        event_free(store->commit_now_ev);
    sqlite3_close(store->db);
    free(store->pass.cbs);
    free(store->pass.items);
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
        bl_log(bl_store_error_level(store), "store: %s", err ? err : "unknown error");
        sqlite3_free(err);
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// Transactions and group commit

// A commit is due. While the sync thread is busy, it waits for the end of the pass, so that
// everything until then joins one batch. While the thread is idle, it runs right after the
// current callback (activating an event of higher priority makes libevent end the run of
// callbacks there): the thread starts on it at once, and what the rest of the pass brings
// follows as the next batch. So the loop and the disk overlap instead of taking turns.
static void commit_due(bl_store_t *store)
{
    if (!store->commit_ev)
        return;
    bool now = store->async && !store->thread_busy;
    event_active(now ? store->commit_now_ev : store->commit_ev, EV_TIMEOUT, 0);
}

bool bl_store_begin(bl_store_t *store)
{
    if (store->in_txn)
        return true;
    if (!bl_store_exec(store, "BEGIN IMMEDIATE"))
        return false;
    store->in_txn = true;
    commit_due(store);
    return true;
}

void bl_store_after_commit(bl_store_t *store, bl_store_commit_cb cb, void *arg)
{
    if (!store->in_txn && !store->commit_ev) {
        cb(arg, true);
        return;
    }
    if (!batch_add_cb(&store->pass, cb, arg)) {
        cb(arg, false);
        return;
    }
    commit_due(store);
}

// Adds file work to the pass; when out of memory it is done here and now instead.
static void add_item(bl_store_t *store, item_t it)
{
    if (!batch_add_item(&store->pass, it)) {
        batch_t one = {.items = &it, .num_items = 1, .cap_items = 1};
        batch_sync(&one, -1);
        if (one.err)
            bl_log(BL_LOG_ERROR, "store: cannot write or sync a file: %s", strerror(one.err));
    }
    commit_due(store);
}

void bl_store_sync_fd(bl_store_t *store, int fd)
{
    add_item(store, (item_t){fd, 0, NULL, 0, true});
}

void bl_store_sync_borrowed(bl_store_t *store, int fd, off_t off, uint8_t *buf, size_t len)
{
    add_item(store, (item_t){fd, off, buf, len, false});
}

void bl_store_fail_pass(bl_store_t *store, int err)
{
    if (!store->pass.err)
        store->pass.err = err ? err : EIO;
    commit_due(store);
}

void bl_store_set_sync_source(bl_store_t *store, bl_store_sync_source_fn fn, void *arg)
{
    store->source = fn;
    store->source_arg = arg;
}

// ---------------------------------------------------------------------------------------------
// Memory ahead of a failed pass

static void on_redo_outcome(void *arg, bool ok)
{
    redo_t *r = arg;
    bl_store_t *store = r->store;
    if (ok || !store->redo_ev) {
        r->fn(r->arg, false);
        free(r);
        return;
    }
    // Not at once: with the disk still full every pass would fail and retry again.
    r->next = NULL;
    *store->redo_tail = r;
    store->redo_tail = &r->next;
    arm_redo(store);
}

// Takes the pending redo work and calls each with failed (write again) or not (release).
static size_t run_redo(bl_store_t *store, bool failed)
{
    redo_t *r = store->redo_head;
    store->redo_head = NULL;
    store->redo_tail = &store->redo_head;
    size_t n = 0;
    while (r) {
        redo_t *next = r->next;
        r->fn(r->arg, failed);
        free(r);
        r = next;
        n++;
    }
    return n;
}

// The probe's callback: it makes the probe a batch that is synced, and batch_finish() ends the
// outage or arms the next probe.
static void on_probe(void *arg, bool ok)
{
    (void)arg;
    (void)ok;
}

static void on_redo_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bl_store_t *store = arg;
    size_t n = run_redo(store, true);
    bl_log(store->failing && store->failed_passes > 1 ? BL_LOG_DEBUG : BL_LOG_WARN,
           "store: %zu change(s) of a failed commit written again", n);
    // Still failing: a small write of its own tells when the disk is back, also when nothing
    // else is to be written again (new jobs are refused meanwhile).
    if (store->failing && bl_store_begin(store) &&
        bl_store_exec(store, "INSERT OR REPLACE INTO meta(key, value) VALUES('probe', "
                             "strftime('%s', 'now'))"))
        bl_store_after_commit(store, on_probe, store);
}

void bl_store_redo(bl_store_t *store, bl_store_redo_fn fn, void *arg)
{
    redo_t *r = malloc(sizeof(*r));
    if (!r) {
        fn(arg, false);
        return;
    }
    *r = (redo_t){store, fn, arg, NULL};
    bl_store_after_commit(store, on_redo_outcome, r);
}

void bl_store_redo_later(bl_store_t *store, bl_store_redo_fn fn, void *arg)
{
    redo_t *r = malloc(sizeof(*r));
    if (!r) {
        fn(arg, false);
        return;
    }
    *r = (redo_t){store, fn, arg, NULL};
    on_redo_outcome(r, false);
}

bool bl_store_failing(const bl_store_t *store)
{
    return store->failing;
}

bl_log_level_t bl_store_error_level(const bl_store_t *store)
{
    return store->failing ? BL_LOG_DEBUG : BL_LOG_ERROR;
}

void bl_store_on_recovered(bl_store_t *store, bl_store_recovered_fn fn, void *arg)
{
    store->recovered = fn;
    store->recovered_arg = arg;
}

uint64_t bl_store_pass(const bl_store_t *store)
{
    return store->passes;
}

bool bl_store_on_rollback(bl_store_t *store, bl_store_rollback_fn fn, void *arg)
{
    if (store->num_rollback >= MAX_ROLLBACK_FNS)
        return false;
    store->rollback[store->num_rollback].fn = fn;
    store->rollback[store->num_rollback].arg = arg;
    store->num_rollback++;
    return true;
}

void bl_store_off_rollback(bl_store_t *store, bl_store_rollback_fn fn, void *arg)
{
    for (size_t i = 0; i < store->num_rollback; i++) {
        if (store->rollback[i].fn == fn && store->rollback[i].arg == arg) {
            store->rollback[i] = store->rollback[--store->num_rollback];
            return;
        }
    }
}

void bl_store_flush_redo(bl_store_t *store)
{
    if (store->redo_ev)
        evtimer_del(store->redo_ev);
    if (!store->redo_head)
        return;
    run_redo(store, true);
    bl_store_commit(store);
    size_t n = run_redo(store, false);
    if (n)
        bl_log(BL_LOG_ERROR,
               "store: %zu change(s) could not be written before the stop: the database keeps "
               "their earlier state",
               n);
}

// Commits the pass's transaction (no fsync in the daemon) and moves the pass's batch, plus the
// descriptors the sync source reports, to `out`. false when the COMMIT failed: then the pass's
// callbacks have run with ok=false already.
static bool commit_pass(bl_store_t *store, batch_t *out)
{
    bool ok = true;
    store->passes++;
    if (store->in_txn) {
        ok = bl_store_exec(store, "COMMIT");
        if (!ok && !sqlite3_get_autocommit(store->db))
            bl_store_exec(store, "ROLLBACK");
        store->in_txn = false;
    }
    if (!ok) {
        if (!store->failing)
            bl_log(BL_LOG_ERROR, "store: a commit failed and was rolled back: its changes are "
                                 "written again from memory every second until the disk takes "
                                 "them (further failures are logged at debug level)");
        else
            bl_log(BL_LOG_DEBUG, "store: a commit failed again");
        for (size_t i = 0; i < store->num_rollback; i++)
            store->rollback[i].fn(store->rollback[i].arg);
        batch_finish(store, &store->pass, false);
        return false;
    }
    if (store->source)
        store->source(store->source_arg, store);
    if (!batch_merge(out, &store->pass)) {
        // Out of memory: make this pass durable here and now.
        batch_sync(&store->pass, store->wal_fd);
        batch_finish(store, &store->pass, true);
    }
    return true;
}

bool bl_store_commit(bl_store_t *store)
{
    bool had_txn = store->in_txn;
    if (!store->async) {
        // synchronous=FULL: COMMIT is durable when it returns.
        batch_t b = {0};
        bool ok = commit_pass(store, &b);
        if (ok)
            batch_sync(&b, -1);
        batch_finish(store, &b, ok);
        return ok;
    }
    // Everything committed before must be durable when this returns: wait for the thread, then
    // sync the rest here.
    wait_idle(store);
    bool ok = commit_pass(store, &store->waiting);
    batch_t rest = store->waiting;
    store->waiting = (batch_t){0};
    if (had_txn || rest.num_items || rest.num_cbs)
        batch_sync(&rest, store->wal_fd);
    batch_finish(store, &rest, true);
    return ok;
}

// A statement left on a row between passes holds a read transaction, and the WAL cannot be
// checkpointed past it. Every walk ends within its callback, so one still open at the end of a
// pass is a bug: it is said, and reset.
static void reset_left_open(bl_store_t *store)
{
    for (size_t i = 0; i < STMT_CACHE; i++) {
        if (store->cache[i].stmt && sqlite3_stmt_busy(store->cache[i].stmt)) {
            bl_log(BL_LOG_ERROR, "store: a statement was left open (a bug): %.60s",
                   store->cache[i].sql);
            sqlite3_reset(store->cache[i].stmt);
        }
    }
}

static void on_commit_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bl_store_t *store = arg;
    reset_left_open(store);
    if (!store->async) {
        bl_store_commit(store);
        return;
    }
    bool wrote = store->in_txn;
    if (!commit_pass(store, &store->waiting))
        return;
    // Nothing written and nothing on its way to the disk: the callbacks need not wait.
    if (!wrote && !store->thread_busy && !store->waiting.num_items) {
        batch_finish(store, &store->waiting, true);
        return;
    }
    kick(store);
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
