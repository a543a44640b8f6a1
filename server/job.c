// Jobs: creation, document spooling, state changes, persistence and history look-ups.
// Licensed under the Apache License, Version 2.0.
//
// Active jobs live in memory (sys->active, sorted by id) and in the database; finished jobs
// live only in the database and are loaded on demand, so history can grow without bound.
// Each printer keeps the list of its jobs that are ready to print (by id), so that picking the
// next job costs the same with ten jobs held as with a hundred thousand.
//
// Documents: up to BL_INLINE_DOCUMENT_MAX (encrypted) they are collected in memory and then
// appended to the document log (doclog.c) in one write; larger ones stream into a spool file
// of their own. Either way the store syncs them before the commit that records them (store.c),
// and the job may print only after that (doc_durable).
#include "server/job.h"

#include "server/audit.h"

#include "server/config.h"
#include "server/log.h"
#include "server/pipeline.h"
#include "server/printer.h"
#include "server/spool.h"
#include "server/store.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void spool_path(const bl_job_t *job, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%d.bls", job->sys->spool_dir, job->id);
}

const char *bl_job_state_string(bl_job_state_t state)
{
    static const char *const names[] = {
        "pending",  "pending-held", "processing", "processing-stopped",
        "canceled", "aborted",      "completed"};
    if (state < BL_JOB_PENDING || state > BL_JOB_COMPLETED)
        return "unknown";
    return names[state - BL_JOB_PENDING];
}

bool bl_job_is_terminal(const bl_job_t *job)
{
    return job->state >= BL_JOB_CANCELED;
}

bl_job_t *bl_job_create(bl_printer_t *printer, const bl_job_params_t *params)
{
    bl_job_t *job = calloc(1, sizeof(*job));
    if (!job)
        return NULL;
    job->sys = printer->sys;
    job->printer = printer;
    snprintf(job->printer_name, sizeof(job->printer_name), "%s", printer->name);
    job->params = *params;
    job->id = printer->sys->next_job_id++;
    bl_uuid_make(job->uuid, sizeof(job->uuid));
    job->state = BL_JOB_PENDING;
    job->created = bl_system_now();
    job->refs = 1;
    return job;
}

void bl_job_ref(bl_job_t *job)
{
    job->refs++;
}

void bl_job_unref(bl_job_t *job)
{
    if (!job || --job->refs > 0)
        return;
    assert(!job->registered && !job->runner);
    if (job->writer)
        bl_spool_writer_abort(job->writer);
    free(job);
}

static bool job_is_ready(const bl_job_t *job)
{
    const bl_printer_t *p = job->printer;
    return job->registered && p && job->state == BL_JOB_PENDING &&
           job->doc_state == BL_DOC_SPOOLED && job->doc_durable && !job->runner &&
           p->active_job != job;
}

static void ready_unlink(bl_job_t *job)
{
    bl_printer_t *p = job->printer;
    if (job->ready_prev)
        job->ready_prev->ready_next = job->ready_next;
    else
        p->ready_head = job->ready_next;
    if (job->ready_next)
        job->ready_next->ready_prev = job->ready_prev;
    else
        p->ready_tail = job->ready_prev;
    job->ready_prev = job->ready_next = NULL;
    job->ready = false;
}

// Inserts by id: new jobs go to the tail, a job that comes back (a retry) near the head.
static void ready_insert(bl_job_t *job)
{
    bl_printer_t *p = job->printer;
    bl_job_t *after = p->ready_tail;
    if (p->ready_head && job->id < p->ready_head->id)
        after = NULL;
    else
        while (after && after->id > job->id)
            after = after->ready_prev;
    job->ready_prev = after;
    job->ready_next = after ? after->ready_next : p->ready_head;
    if (job->ready_next)
        job->ready_next->ready_prev = job;
    else
        p->ready_tail = job;
    if (after)
        after->ready_next = job;
    else
        p->ready_head = job;
    job->ready = true;
}

void bl_job_update_ready(bl_job_t *job)
{
    bool want = job_is_ready(job);
    if (want && !job->ready)
        ready_insert(job);
    else if (!want && job->ready)
        ready_unlink(job);
}

// Active list: append keeps it sorted since ids only grow.
static bool active_add(bl_job_t *job)
{
    bl_system_t *sys = job->sys;
    if (sys->num_active == sys->cap_active) {
        size_t cap = sys->cap_active ? sys->cap_active * 2 : 64;
        bl_job_t **a = realloc(sys->active, cap * sizeof(*a));
        if (!a)
            return false;
        sys->active = a;
        sys->cap_active = cap;
    }
    size_t i = sys->num_active;
    while (i > 0 && sys->active[i - 1]->id > job->id) {
        sys->active[i] = sys->active[i - 1];
        i--;
    }
    sys->active[i] = job;
    sys->num_active++;
    if (job->printer)
        job->printer->num_jobs++;
    return true;
}

static ssize_t active_index(bl_system_t *sys, int id)
{
    size_t lo = 0, hi = sys->num_active;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sys->active[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < sys->num_active && sys->active[lo]->id == id)
        return (ssize_t)lo;
    return -1;
}

static void active_remove(bl_job_t *job)
{
    bl_system_t *sys = job->sys;
    ssize_t i = active_index(sys, job->id);
    if (i < 0)
        return;
    memmove(&sys->active[i], &sys->active[i + 1],
            (sys->num_active - (size_t)i - 1) * sizeof(*sys->active));
    sys->num_active--;
    if (job->ready)
        ready_unlink(job);
    if (job->printer)
        job->printer->num_jobs--;
}

bl_job_t *bl_job_find(bl_system_t *sys, int id)
{
    ssize_t i = active_index(sys, id);
    return i < 0 ? NULL : sys->active[i];
}

static void reasons_join(const bl_job_t *job, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < job->num_reasons; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, "%s%s", i ? "," : "", job->reasons[i]);
    }
}

static const char save_sql[] =
    "INSERT OR REPLACE INTO jobs(id, uuid, printer, user, origin_host, name, state, reasons, "
    "message,"
    " format, copies, sides, color_mode, media, resolution, quality, hold, created, processing,"
    " completed, impressions, sheets, impressions_color, impressions_mono, pages, doc_state,"
    " doc_size, attempts, page_ranges, user_name, doc_seg, doc_off, doc_len)"
    " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

// A pass that saved the job failed: memory is ahead of the database; save it again.
static void job_redo(void *arg, bool failed)
{
    bl_job_t *job = arg;
    if (failed) {
        // Every second of a full disk, for every such job: the store says it once.
        bl_log(BL_LOG_DEBUG, "job %d: its state is written again after a failed commit", job->id);
        bl_job_save(job);
    }
    bl_job_unref(job);
}

bool bl_job_save(bl_job_t *job)
{
    bl_store_t *store = job->sys->store;
    if (!bl_store_begin(store))
        return false;
    uint64_t pass = bl_store_pass(store) + 1;
    if (job->redo_pass != pass) {
        job->redo_pass = pass;
        bl_job_ref(job);
        bl_store_redo(store, job_redo, job);
    }
    sqlite3_stmt *st = bl_store_stmt(store, save_sql);
    if (!st)
        return false;
    char reasons[BL_JOB_MAX_REASONS * 48];
    reasons_join(job, reasons, sizeof(reasons));
    const bl_job_params_t *p = &job->params;
    const char *format = job->format_detected[0] ? job->format_detected : p->format;
    int i = 1;
    sqlite3_bind_int(st, i++, job->id);
    sqlite3_bind_text(st, i++, job->uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, job->printer_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, p->user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, p->origin_host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, i++, job->state);
    sqlite3_bind_text(st, i++, reasons, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, i++, job->message, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, format, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, i++, p->copies);
    sqlite3_bind_text(st, i++, p->sides, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, p->color_mode, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, p->media, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, i++, p->resolution);
    sqlite3_bind_int(st, i++, p->quality);
    sqlite3_bind_int(st, i++, p->hold);
    sqlite3_bind_int64(st, i++, job->created);
    sqlite3_bind_int64(st, i++, job->processing);
    sqlite3_bind_int64(st, i++, job->completed);
    sqlite3_bind_int(st, i++, job->impressions);
    sqlite3_bind_int(st, i++, job->sheets);
    sqlite3_bind_int(st, i++, job->impressions_color);
    sqlite3_bind_int(st, i++, job->impressions_mono);
    sqlite3_bind_int(st, i++, job->pages);
    sqlite3_bind_int(st, i++, job->doc_state);
    sqlite3_bind_int64(st, i++, (sqlite3_int64)job->doc_size);
    sqlite3_bind_int(st, i++, job->attempts);
    sqlite3_bind_text(st, i++, p->page_ranges, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, p->user_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, i++, job->doc_ref.seg);
    sqlite3_bind_int64(st, i++, job->doc_ref.off);
    sqlite3_bind_int64(st, i++, job->doc_ref.len);
    if (sqlite3_step(st) != SQLITE_DONE) {
        bl_log(bl_store_error_level(store), "job %d: cannot save: %s", job->id,
               sqlite3_errmsg(bl_store_db(store)));
        return false;
    }
    return true;
}

static const char load_cols[] =
    "id, uuid, printer, user, origin_host, name, state, reasons, message, format, copies, sides,"
    " color_mode, media, resolution, quality, hold, created, processing, completed, impressions,"
    " sheets, impressions_color, impressions_mono, pages, doc_state, doc_size, attempts,"
    " page_ranges, user_name, doc_seg, doc_off, doc_len";

static void copy_col(sqlite3_stmt *st, int col, char *buf, size_t len)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
    n = n < len ? n : len - 1;
    if (n)
        memcpy(buf, t, n);
    buf[n] = '\0';
}

static void split_reasons(bl_job_t *job, const char *list)
{
    job->num_reasons = 0;
    while (list && *list && job->num_reasons < BL_JOB_MAX_REASONS) {
        size_t n = strcspn(list, ",");
        if (n > 0 && n < sizeof(job->reasons[0])) {
            memcpy(job->reasons[job->num_reasons], list, n);
            job->reasons[job->num_reasons++][n] = '\0';
        }
        list += n;
        if (*list == ',')
            list++;
    }
}

// Builds a job from a row selected with load_cols. Caller owns it.
static bl_job_t *job_from_row(bl_system_t *sys, sqlite3_stmt *st)
{
    bl_job_t *job = calloc(1, sizeof(*job));
    if (!job)
        return NULL;
    bl_job_params_t *p = &job->params;
    char reasons[BL_JOB_MAX_REASONS * 48];
    job->refs = 1;
    job->sys = sys;
    job->id = sqlite3_column_int(st, 0);
    copy_col(st, 1, job->uuid, sizeof(job->uuid));
    copy_col(st, 2, job->printer_name, sizeof(job->printer_name));
    job->printer = bl_system_find_printer(sys, job->printer_name);
    copy_col(st, 3, p->user, sizeof(p->user));
    copy_col(st, 4, p->origin_host, sizeof(p->origin_host));
    copy_col(st, 5, p->name, sizeof(p->name));
    job->state = (bl_job_state_t)sqlite3_column_int(st, 6);
    copy_col(st, 7, reasons, sizeof(reasons));
    split_reasons(job, reasons);
    copy_col(st, 8, job->message, sizeof(job->message));
    copy_col(st, 9, p->format, sizeof(p->format));
    p->copies = sqlite3_column_int(st, 10);
    copy_col(st, 11, p->sides, sizeof(p->sides));
    copy_col(st, 12, p->color_mode, sizeof(p->color_mode));
    copy_col(st, 13, p->media, sizeof(p->media));
    p->resolution = sqlite3_column_int(st, 14);
    p->quality = sqlite3_column_int(st, 15);
    p->hold = sqlite3_column_int(st, 16) != 0;
    job->created = sqlite3_column_int64(st, 17);
    job->processing = sqlite3_column_int64(st, 18);
    job->completed = sqlite3_column_int64(st, 19);
    job->impressions = sqlite3_column_int(st, 20);
    job->sheets = sqlite3_column_int(st, 21);
    job->impressions_color = sqlite3_column_int(st, 22);
    job->impressions_mono = sqlite3_column_int(st, 23);
    job->pages = sqlite3_column_int(st, 24);
    job->doc_state = (bl_doc_state_t)sqlite3_column_int(st, 25);
    job->doc_size = (uint64_t)sqlite3_column_int64(st, 26);
    job->attempts = sqlite3_column_int(st, 27);
    copy_col(st, 28, p->page_ranges, sizeof(p->page_ranges));
    copy_col(st, 29, p->user_name, sizeof(p->user_name));
    sqlite3_int64 seg = sqlite3_column_int64(st, 30);
    if (seg > 0 && seg <= UINT32_MAX)
        job->doc_ref = (bl_doclog_ref_t){(uint32_t)seg, sqlite3_column_int64(st, 31),
                                         sqlite3_column_int64(st, 32)};
    if (!p->user_name[0])
        snprintf(p->user_name, sizeof(p->user_name), "%s", p->user);
    job->history = true;
    return job;
}

bl_job_t *bl_job_lookup(bl_system_t *sys, int id)
{
    bl_job_t *job = bl_job_find(sys, id);
    if (job)
        return job;
    static char sql[512];
    if (!sql[0])
        snprintf(sql, sizeof(sql), "SELECT %s FROM jobs WHERE id=?", load_cols);
    sqlite3_stmt *st = bl_store_stmt(sys->store, sql);
    if (!st)
        return NULL;
    sqlite3_bind_int(st, 1, id);
    job = sqlite3_step(st) == SQLITE_ROW ? job_from_row(sys, st) : NULL;
    // Reset at once: a statement left on its row keeps a read transaction open, and the WAL
    // can then never be checkpointed (it grew without end, and after a full disk blattd
    // refused every job until some request happened to reuse the statement).
    sqlite3_reset(st);
    return job;
}

// The parts of a walk of the history: from the newest job, the jobs that ended in the same
// second as the last one seen but before it (lower id), and the jobs that ended earlier.
enum { WALK_ALL, WALK_SAME_SECOND, WALK_EARLIER };

// One part of a walk; false when fn stopped it (or it failed). *count counts the jobs passed.
static bool walk_history(bl_system_t *sys, int part, const char *printer, const char *user,
                         int limit, int *count, bl_history_pos_t *pos, bl_job_visit_fn fn,
                         void *arg)
{
    // One statement per filter combination and part, so that each walks its index (store.c:
    // jobs_done, jobs_user_done, jobs_printer_done) newest first and stops at the limit;
    // "+state" keeps the planner off jobs_state, which would make it sort the whole history.
    // The two parts after a position seek in the same index: (completed, id) as a row value
    // would bound `completed` alone and scan every job of that second again on every turn.
    static char sql[12][768];
    static const char *const range[] = {"", " AND completed=?4 AND id<?5", " AND completed<?4"};
    int v = (printer ? 1 : 0) | (user ? 2 : 0);
    char *q = sql[part * 4 + v];
    if (!q[0])
        snprintf(q, sizeof(sql[0]),
                 "SELECT %s FROM jobs%s WHERE +state>=7%s%s%s ORDER BY completed DESC, id DESC"
                 " LIMIT ?3",
                 load_cols,
                 v == 0   ? " INDEXED BY jobs_done"
                 : v == 1 ? " INDEXED BY jobs_printer_done"
                          : " INDEXED BY jobs_user_done",
                 printer ? " AND printer=?1" : "", user ? " AND user=?2" : "", range[part]);
    sqlite3_stmt *st = bl_store_stmt(sys->store, q);
    if (!st)
        return false;
    if (printer)
        sqlite3_bind_text(st, 1, printer, -1, SQLITE_TRANSIENT);
    if (user)
        sqlite3_bind_text(st, 2, user, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, limit > 0 ? limit - *count : -1);
    if (part != WALK_ALL)
        sqlite3_bind_int64(st, 4, (sqlite3_int64)pos->completed);
    if (part == WALK_SAME_SECOND)
        sqlite3_bind_int(st, 5, pos->id);
    int rc;
    bool more = true;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bl_job_t *job = job_from_row(sys, st);
        if (!job) {
            more = false; // out of memory
            break;
        }
        *pos = (bl_history_pos_t){true, job->completed, job->id};
        (*count)++;
        more = fn(arg, job);
        bl_job_unref(job);
        if (!more) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        bl_log(BL_LOG_ERROR, "store: reading the job history failed: %s",
               sqlite3_errmsg(bl_store_db(sys->store)));
        more = false;
    }
    sqlite3_reset(st);
    return more && (limit <= 0 || *count < limit);
}

void bl_job_visit_history(bl_system_t *sys, const char *printer, const char *user, int limit,
                          bl_history_pos_t *pos, bl_job_visit_fn fn, void *arg)
{
    bl_history_pos_t own = {false, 0, 0};
    if (!pos)
        pos = &own;
    int count = 0;
    if (!pos->set) {
        walk_history(sys, WALK_ALL, printer, user, limit, &count, pos, fn, arg);
        return;
    }
    // The first part leaves pos in the same second (its completed time is the bound of both).
    if (walk_history(sys, WALK_SAME_SECOND, printer, user, limit, &count, pos, fn, arg))
        walk_history(sys, WALK_EARLIER, printer, user, limit, &count, pos, fn, arg);
}

bool bl_job_has_reason(const bl_job_t *job, const char *reason)
{
    for (size_t i = 0; i < job->num_reasons; i++) {
        if (!strcmp(job->reasons[i], reason))
            return true;
    }
    return false;
}

void bl_job_add_reason(bl_job_t *job, const char *reason)
{
    for (size_t i = 0; i < job->num_reasons; i++) {
        if (!strcmp(job->reasons[i], reason))
            return;
    }
    if (job->num_reasons < BL_JOB_MAX_REASONS)
        snprintf(job->reasons[job->num_reasons++], sizeof(job->reasons[0]), "%s", reason);
}

void bl_job_remove_reason(bl_job_t *job, const char *reason)
{
    for (size_t i = 0; i < job->num_reasons; i++) {
        if (!strcmp(job->reasons[i], reason)) {
            memmove(job->reasons[i], job->reasons[i + 1],
                    (job->num_reasons - i - 1) * sizeof(job->reasons[0]));
            job->num_reasons--;
            return;
        }
    }
}

// Shreds the document once a job has ended.
static void job_shred(bl_job_t *job)
{
    if (job->doc_state != BL_DOC_SPOOLED && job->doc_state != BL_DOC_INCOMING)
        return;
    char path[1024];
    spool_path(job, path, sizeof(path));
    if (job->writer) {
        bl_spool_writer_abort(job->writer);
        job->writer = NULL;
    }
    if (job->doc_ref.seg) {
        // In the log: its key is destroyed in place, synced with this pass's commit.
        if (!bl_doclog_shred(job->sys->doclog, &job->doc_ref))
            bl_log(BL_LOG_ERROR, "job %d: could not shred its document", job->id);
        job->doc_state = BL_DOC_SHREDDED;
        return;
    }
    if (!bl_spool_shred(path))
        bl_log(BL_LOG_ERROR, "job %d: could not shred %s", job->id, path);
    // A document kept in the database by an older blattd: the row goes (secure_delete
    // overwrites its pages).
    sqlite3_stmt *st = bl_store_begin(job->sys->store)
                           ? bl_store_stmt(job->sys->store, "DELETE FROM documents WHERE job = ?")
                           : NULL;
    if (st) {
        sqlite3_bind_int(st, 1, job->id);
        if (sqlite3_step(st) != SQLITE_DONE)
            bl_log(BL_LOG_ERROR, "job %d: could not delete its document", job->id);
        sqlite3_reset(st);
    }
    job->doc_state = BL_DOC_SHREDDED;
}

void bl_job_set_state(bl_job_t *job, bl_job_state_t state, const char *reason, const char *message)
{
    bl_job_state_t old = job->state;
    job->state = state;
    if (reason)
        bl_job_add_reason(job, reason);
    if (message)
        snprintf(job->message, sizeof(job->message), "%s", message);
    if (state == BL_JOB_PROCESSING && !job->processing)
        job->processing = bl_system_now();
    if (old != state)
        bl_log(BL_LOG_INFO, "job %d: %s -> %s%s%s", job->id, bl_job_state_string(old),
               bl_job_state_string(state), message ? ": " : "", message ? message : "");
    if (state >= BL_JOB_CANCELED && old < BL_JOB_CANCELED && job->registered) {
        char object[64], result[300];
        snprintf(object, sizeof(object), "job %d", job->id);
        const char *st = bl_job_state_string(state);
        bool say = job->message[0] && strcmp(job->message, st);
        snprintf(result, sizeof(result), "%s%s%s", st, say ? ": " : "", say ? job->message : "");
        bl_system_audit(job->sys, "blattd", "-", "job-end", object, result);
    }
    if (state >= BL_JOB_CANCELED) {
        job->completed = bl_system_now();
        bl_job_remove_reason(job, "job-incoming");
        bl_job_remove_reason(job, "job-queued");
        bl_job_remove_reason(job, "job-printing");
        bl_job_remove_reason(job, "job-hold-until-specified");
        job_shred(job);
    }
    if (job->registered)
        bl_job_save(job);
    bl_job_update_ready(job);
    if (state >= BL_JOB_CANCELED && job->registered && !job->runner) {
        // Terminal and no pipeline left: the record lives on in the database only.
        active_remove(job);
        job->registered = false;
        bl_printer_t *p = job->printer;
        if (p && p->active_job == job)
            p->active_job = NULL;
        // The active list's reference; a request that still uses the job keeps its own.
        bl_job_unref(job);
        if (p)
            bl_printer_schedule(p);
    }
}

static bool job_add_registered(bl_job_t *job)
{
    if (!active_add(job))
        return false;
    job->registered = true;
    bl_job_ref(job); // the active list's
    char object[200];
    snprintf(object, sizeof(object), "job %d on printer %s", job->id, job->printer_name);
    bl_system_audit(job->sys, job->params.user, job->params.origin_host, "job-create", object,
                    "ok");
    return bl_job_save(job);
}

typedef struct done_ctx {
    bl_job_t *job;
    bl_job_done_cb cb;
    void *arg;
} done_ctx_t;

static void on_job_durable(void *arg, bool ok)
{
    done_ctx_t *d = arg;
    bl_job_t *job = d->job;
    bl_printer_t *p = job->registered ? job->printer : NULL;
    if (ok && job->doc_state == BL_DOC_SPOOLED) {
        job->doc_durable = true;
        bl_job_update_ready(job);
    }
    d->cb(d->arg, job, ok);
    free(d);
    // The client was told that the job failed: it must not print after all.
    if (!ok && job->registered && !bl_job_is_terminal(job))
        bl_job_set_state(job, BL_JOB_ABORTED, "aborted-by-system",
                         "the job could not be stored durably");
    bl_job_unref(job);
    if (ok && p)
        bl_printer_schedule(p);
}

static void after_commit(bl_job_t *job, bl_job_done_cb cb, void *arg)
{
    done_ctx_t *d = malloc(sizeof(*d));
    if (!d) {
        cb(arg, job, false);
        return;
    }
    *d = (done_ctx_t){job, cb, arg};
    bl_job_ref(job); // until the callback has run
    bl_store_after_commit(job->sys->store, on_job_durable, d);
}

void bl_job_register(bl_job_t *job, bl_job_done_cb cb, void *arg)
{
    bl_job_add_reason(job, "job-incoming");
    job->doc_deadline = bl_system_now() + job->sys->config->multiple_operation_timeout;
    if (!job_add_registered(job)) {
        cb(arg, job, false);
        return;
    }
    after_commit(job, cb, arg);
}

bool bl_job_doc_open(bl_job_t *job)
{
    char path[1024];
    spool_path(job, path, sizeof(path));
    // In memory first: a small document goes into the database with its job, a large one
    // spills into its spool file.
    job->writer = bl_spool_writer_create_mem(job->sys->kek, path, job->uuid);
    if (!job->writer)
        return false;
    job->doc_state = BL_DOC_INCOMING;
    job->doc_size = 0;
    return true;
}

bool bl_job_doc_write(bl_job_t *job, const void *data, size_t len)
{
    if (!job->writer)
        return false;
    uint64_t max = job->sys->config->max_document_size;
    if (max && job->doc_size + len > max) {
        errno = EFBIG;
        return false;
    }
    // Sniff the format from the first bytes when the client did not name one.
    if (job->doc_size == 0 && len >= 4 && !job->format_detected[0]) {
        const unsigned char *b = data;
        const char *fmt = NULL;
        if (!memcmp(b, "%PDF", 4))
            fmt = "application/pdf";
        else if (b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
            fmt = "image/jpeg";
        else if (!memcmp(b, "RaS2", 4))
            fmt = "image/pwg-raster";
        else if (len >= 7 && !memcmp(b, "UNIRAST", 7))
            fmt = "image/urf";
        if (fmt)
            snprintf(job->format_detected, sizeof(job->format_detected), "%s", fmt);
    }
    if (!bl_spool_writer_write(job->writer, data, len))
        return false;
    if (bl_spool_writer_in_memory(job->writer) &&
        bl_spool_writer_size(job->writer) > BL_INLINE_DOCUMENT_MAX &&
        !bl_spool_writer_spill(job->writer))
        return false;
    job->doc_size += len;
    return true;
}

void bl_job_doc_finish(bl_job_t *job, bl_job_done_cb cb, void *arg)
{
    uint64_t plain = 0;
    bl_spool_writer_t *w = job->writer;
    job->writer = NULL;
    bool ok = w != NULL;
    if (ok && bl_spool_writer_in_memory(w)) {
        uint8_t *data = NULL;
        size_t len = 0;
        // The log takes the encrypted bytes; they are written off the loop (doclog.c).
        ok = bl_spool_writer_finish_mem(w, &data, &len, &plain) &&
             bl_doclog_append(job->sys->doclog, data, len, &job->doc_ref);
    } else if (ok) {
        // A large document: its file and its name are synced with this pass's commit.
        int fd = -1, dir = -1;
        ok = bl_spool_writer_finish_nosync(w, &plain, &fd) &&
             (dir = dup(job->sys->spool_dir_fd)) >= 0;
        if (fd >= 0)
            bl_store_sync_fd(job->sys->store, fd);
        if (dir >= 0)
            bl_store_sync_fd(job->sys->store, dir);
    }
    if (!ok) {
        job->doc_state = BL_DOC_NONE;
        cb(arg, job, false);
        return;
    }
    job->doc_state = BL_DOC_SPOOLED;
    bl_job_remove_reason(job, "job-incoming");
    if (job->params.hold) {
        job->state = BL_JOB_HELD;
        bl_job_add_reason(job, "job-hold-until-specified");
    } else {
        bl_job_add_reason(job, "job-queued");
    }
    ok = job->registered ? bl_job_save(job) : job_add_registered(job);
    if (!ok) {
        cb(arg, job, false);
        return;
    }
    after_commit(job, cb, arg);
}

void bl_job_doc_abort(bl_job_t *job)
{
    if (job->writer) {
        bl_spool_writer_abort(job->writer);
        job->writer = NULL;
    }
    if (!bl_job_is_terminal(job))
        job->doc_state = BL_DOC_NONE;
    // A job that waits for its document again gets the full multiple-operation time-out.
    job->doc_deadline = bl_system_now() + job->sys->config->multiple_operation_timeout;
}

void bl_job_close(bl_job_t *job)
{
    if (job->doc_state == BL_DOC_NONE && !bl_job_is_terminal(job))
        bl_job_set_state(job, BL_JOB_ABORTED, "aborted-by-system", "job closed without a document");
}

void bl_job_cancel(bl_job_t *job, const char *reason)
{
    if (bl_job_is_terminal(job))
        return;
    job->cancel_requested = true;
    bl_job_add_reason(job, reason ? reason : "job-canceled-by-user");
    if (job->runner) {
        // The pipeline's exit handler moves the job to canceled. Until then the wish is on
        // disk too, so that a restart in between does not print the job after all.
        bl_job_add_reason(job, "processing-to-stop-point");
        bl_job_save(job);
        bl_pipeline_cancel(job);
        return;
    }
    bl_job_set_state(job, BL_JOB_CANCELED, NULL, "canceled");
}

bool bl_job_hold(bl_job_t *job)
{
    if (job->state != BL_JOB_PENDING && job->state != BL_JOB_HELD)
        return false;
    job->params.hold = true;
    if (job->doc_state == BL_DOC_SPOOLED || job->doc_state == BL_DOC_NONE) {
        bl_job_remove_reason(job, "job-queued");
        bl_job_set_state(job, BL_JOB_HELD, "job-hold-until-specified", NULL);
    }
    return true;
}

bool bl_job_release(bl_job_t *job)
{
    if (job->state != BL_JOB_HELD)
        return false;
    job->params.hold = false;
    bl_job_remove_reason(job, "job-hold-until-specified");
    bl_job_add_reason(job, "job-queued");
    bl_job_set_state(job, BL_JOB_PENDING, NULL, NULL);
    if (job->printer)
        bl_printer_schedule(job->printer);
    return true;
}

// Is `name` the spool file of an active job with a spooled document?
static bool spool_owned(bl_system_t *sys, const char *name)
{
    char *end = NULL;
    long id = strtol(name, &end, 10);
    if (!end || strcmp(end, ".bls") != 0 || id <= 0 || id > 0x7fffffff)
        return false;
    bl_job_t *job = bl_job_find(sys, (int)id);
    return job && job->doc_state == BL_DOC_SPOOLED;
}

static int rm_tree_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    return ftw->level > 0 ? remove(path) : 0;
}

// Filter TMPDIRs left by a blattd that was killed: nothing runs yet, they all go.
static void sweep_tmp(bl_system_t *sys)
{
    nftw(sys->tmp_dir, rm_tree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void sweep_spool(bl_system_t *sys)
{
    DIR *dir = opendir(sys->spool_dir);
    if (!dir)
        return;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.' || spool_owned(sys, de->d_name))
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", sys->spool_dir, de->d_name);
        bl_log(BL_LOG_INFO, "spool: shredding orphan %s", de->d_name);
        bl_spool_shred(path);
    }
    closedir(dir);
}

void bl_job_expire(bl_system_t *sys)
{
    time_t now = bl_system_now();
    for (size_t i = 0; i < sys->num_active;) {
        bl_job_t *job = sys->active[i];
        if (job->doc_state != BL_DOC_NONE || bl_job_is_terminal(job) || now < job->doc_deadline ||
            job->refs > 1) {
            i++; // a document is on its way (refs > 1) or there is time left
            continue;
        }
        bl_log(BL_LOG_INFO, "job %d: no document came within %d s", job->id,
               sys->config->multiple_operation_timeout);
        bl_job_set_state(job, BL_JOB_ABORTED, "aborted-by-system",
                         "no document came within multiple-operation-time-out");
    }
}

void bl_job_retention(bl_system_t *sys)
{
    const bl_config_t *c = sys->config;
    bl_store_t *store = sys->store;
    time_t now = bl_system_now();
    int hashed = 0, purged = 0;
    if (c->job_name_retention > 0 && sys->audit) {
        sqlite3_stmt *st = bl_store_stmt(
            store, "SELECT id, name FROM jobs WHERE state >= ? AND completed > 0 AND completed < ?"
                   " AND name NOT LIKE 'hashed-%' LIMIT 1000");
        int ids[1000];
        char names[1000][24];
        int n = 0;
        if (st) {
            sqlite3_bind_int(st, 1, BL_JOB_CANCELED);
            sqlite3_bind_int64(st, 2, (sqlite3_int64)(now - c->job_name_retention));
            while (n < 1000 && sqlite3_step(st) == SQLITE_ROW) {
                const unsigned char *t = sqlite3_column_text(st, 1);
                ids[n] = sqlite3_column_int(st, 0);
                bl_audit_hash_text(sys->audit, t ? (const char *)t : "", names[n],
                                   sizeof(names[n]));
                n++;
            }
            sqlite3_reset(st);
        }
        sqlite3_stmt *up = n && bl_store_begin(store)
                               ? bl_store_stmt(store, "UPDATE jobs SET name = ? WHERE id = ?")
                               : NULL;
        for (int i = 0; up && i < n; i++) {
            sqlite3_bind_text(up, 1, names[i], -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(up, 2, ids[i]);
            if (sqlite3_step(up) == SQLITE_DONE)
                hashed++;
            sqlite3_reset(up);
        }
    }
    if (c->job_retention > 0 && bl_store_begin(store)) {
        sqlite3_stmt *st = bl_store_stmt(
            store, "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state >= ? AND"
                   " completed > 0 AND completed < ? LIMIT 5000)");
        if (st) {
            sqlite3_bind_int(st, 1, BL_JOB_CANCELED);
            sqlite3_bind_int64(st, 2, (sqlite3_int64)(now - c->job_retention));
            if (sqlite3_step(st) == SQLITE_DONE)
                purged = sqlite3_changes(bl_store_db(store));
            sqlite3_reset(st);
        }
    }
    if (hashed || purged) {
        char result[96];
        snprintf(result, sizeof(result), "%d names hashed, %d records deleted", hashed, purged);
        bl_log(BL_LOG_INFO, "retention: %s", result);
        bl_system_audit(sys, "blattd", "-", "retention", "job history", result);
    }
}

// The document log keeps what the active jobs' documents need and shreds everything else.
// A job whose document is lost (a crash before its upload was answered, damage) ends
// aborted here, instead of failing only when it is released or printed.
static bool recover_doclog(bl_system_t *sys)
{
    bl_doclog_ref_t *live = calloc(sys->num_active + 1, sizeof(*live));
    bl_job_t **owner = calloc(sys->num_active + 1, sizeof(*owner));
    bool *lost = calloc(sys->num_active + 1, sizeof(*lost));
    size_t n = 0, shredded = 0;
    uint32_t next_seq = 1;
    sqlite3_stmt *st = bl_store_stmt(sys->store, "SELECT max(doc_seg) FROM jobs");
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_int64 m = sqlite3_column_int64(st, 0);
        if (m > 0 && m < UINT32_MAX)
            next_seq = (uint32_t)m + 1;
    }
    if (st)
        sqlite3_reset(st);
    for (size_t i = 0; live && owner && i < sys->num_active; i++) {
        bl_job_t *job = sys->active[i];
        if (job->doc_ref.seg && job->doc_state == BL_DOC_SPOOLED) {
            owner[n] = job;
            live[n++] = job->doc_ref;
        }
    }
    bool ok =
        live && owner && lost && bl_doclog_recover(sys->doclog, live, n, next_seq, lost, &shredded);
    for (size_t i = 0; ok && i < n; i++) {
        if (!lost[i])
            continue;
        bl_job_t *job = owner[i];
        job->doc_ref.seg = 0; // nothing left to shred or to read
        job->doc_state = BL_DOC_SHREDDED;
        bl_job_set_state(job, BL_JOB_ABORTED, "aborted-by-system",
                         "its document was lost (damaged, or never written before a crash)");
    }
    free(live);
    free(owner);
    free(lost);
    if (shredded)
        bl_log(BL_LOG_INFO, "doclog: shredded %zu documents that no job needs", shredded);
    return ok;
}

bool bl_job_resume_all(bl_system_t *sys)
{
    sqlite3_stmt *st = bl_store_stmt(sys->store, "SELECT max(id) FROM jobs");
    if (!st || sqlite3_step(st) != SQLITE_ROW)
        return false;
    sqlite3_int64 max_id = sqlite3_column_int64(st, 0);
    sys->next_job_id = max_id >= 0x7ffffff0 ? 0x7ffffff0 : (int)max_id + 1;
    sqlite3_reset(st);

    static char sql[512];
    snprintf(sql, sizeof(sql), "SELECT %s FROM jobs WHERE state<7 ORDER BY id", load_cols);
    st = bl_store_stmt(sys->store, sql);
    if (!st)
        return false;
    size_t resumed = 0;
    bl_job_t **dropped = NULL;
    size_t num_dropped = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        bl_job_t *job = job_from_row(sys, st);
        if (!job)
            return false;
        job->history = false;
        job->registered = true;
        active_add(job);
        if (job->state == BL_JOB_PROCESSING || job->state == BL_JOB_STOPPED) {
            job->state = BL_JOB_PENDING;
            bl_job_remove_reason(job, "job-printing");
        }
        if (job->doc_state == BL_DOC_NONE)
            job->doc_deadline = bl_system_now() + job->sys->config->multiple_operation_timeout;
        // Canceled while printing, and blattd stopped before the filters did.
        if (bl_job_has_reason(job, "processing-to-stop-point"))
            job->cancel_requested = true;
        if (job->doc_state == BL_DOC_INCOMING || !job->printer) {
            bl_job_t **d = realloc(dropped, (num_dropped + 1) * sizeof(*d));
            if (d) {
                dropped = d;
                dropped[num_dropped++] = job;
            }
        }
        resumed++;
    }
    sqlite3_reset(st);
    // What was committed is durable (the last run synced before it answered anyone).
    for (size_t i = 0; i < sys->num_active; i++)
        sys->active[i]->doc_durable = sys->active[i]->doc_state == BL_DOC_SPOOLED;
    if (!recover_doclog(sys)) {
        free(dropped);
        return false;
    }
    for (size_t i = 0; i < sys->num_active; i++)
        bl_job_update_ready(sys->active[i]);
    for (size_t i = 0; i < sys->num_active;) {
        bl_job_t *job = sys->active[i];
        if (!job->cancel_requested || !job->printer || job->doc_state == BL_DOC_INCOMING) {
            i++;
            continue;
        }
        bl_job_remove_reason(job, "processing-to-stop-point");
        bl_job_set_state(job, BL_JOB_CANCELED, NULL, "canceled");
    }
    // Uploads cut by the restart never got successful-ok; queues that left the config are gone.
    for (size_t i = 0; i < num_dropped; i++) {
        bl_job_t *job = dropped[i];
        bl_job_set_state(job, BL_JOB_ABORTED, "aborted-by-system",
                         job->printer ? "document upload was interrupted by a restart"
                                      : "queue no longer exists");
    }
    free(dropped);
    // Inline documents of jobs that ended (or never were) go too.
    bl_store_exec(sys->store, "DELETE FROM documents WHERE job NOT IN"
                              " (SELECT id FROM jobs WHERE state < 7 AND doc_state = 2)");
    sweep_spool(sys);
    sweep_tmp(sys);
    if (resumed)
        bl_log(BL_LOG_INFO, "resumed %zu unfinished jobs (%zu ended)", resumed, num_dropped);
    return true;
}
