// Jobs: creation, document spooling, state changes, persistence and history look-ups.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_JOB_H
#define BL_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "server/doclog.h"
#include "server/system.h"

typedef struct bl_spool_writer bl_spool_writer_t;
typedef struct bl_runner bl_runner_t;

typedef enum bl_job_state {
    BL_JOB_PENDING = 3,
    BL_JOB_HELD = 4,
    BL_JOB_PROCESSING = 5,
    BL_JOB_STOPPED = 6,
    BL_JOB_CANCELED = 7,
    BL_JOB_ABORTED = 8,
    BL_JOB_COMPLETED = 9,
} bl_job_state_t;

typedef enum bl_doc_state {
    BL_DOC_NONE = 0,     // Create-Job done, no document yet
    BL_DOC_INCOMING = 1, // bytes are streaming into the spool
    BL_DOC_SPOOLED = 2,  // encrypted document is durable
    BL_DOC_SHREDDED = 3, // job ended, data key destroyed
} bl_doc_state_t;

// Job template values, validated by the protocol face before they reach a job.
typedef struct bl_job_params {
    char name[256];
    char user[256];      // the owner's subject ("" = anonymous): compared byte for byte
    char user_name[256]; // the owner's name for display (job-originating-user-name)
    char origin_host[256];
    char format[128]; // document-format (may be application/octet-stream: sniffed)
    int copies;
    char sides[32];
    char color_mode[32];
    char media[128];
    int resolution;        // dpi, 0 = device default
    int quality;           // 3..5, 0 = default
    bool hold;             // job-hold-until=indefinite or the queue holds
    char page_ranges[128]; // "1-3,5" (validated, ascending), "" = all pages
} bl_job_params_t;

#define BL_JOB_MAX_REASONS 6

// Documents up to this size (encrypted) are kept in the database with their job: the group
// commit makes both durable with one fsync. Larger ones are files in StateDir/spool.
#define BL_INLINE_DOCUMENT_MAX (1024 * 1024)
// The largest page or impression count one job is believed to have (device counters above it
// are the device's error; 2 x 10^6 x the copies limit of 999 still fits an int).
#define BL_COUNTER_MAX 2000000L

struct bl_job {
    bl_system_t *sys;
    int id;
    char uuid[48];
    char printer_name[128];
    bl_printer_t *printer; // NULL for a history record whose queue is gone
    bl_job_params_t params;
    char format_detected[128];
    bl_job_state_t state;
    char reasons[BL_JOB_MAX_REASONS][48];
    size_t num_reasons;
    char message[256];
    time_t created, processing, completed;
    int impressions, sheets, impressions_color, impressions_mono, pages;
    bl_doc_state_t doc_state;
    bool doc_durable;        // the spooled document's commit is on disk: the job may print
    uint64_t redo_pass;      // the store pass (plus one) whose failure would save it again
    bl_doclog_ref_t doc_ref; // where a small document lies in the log (seg 0: not there)
    uint64_t doc_size;
    int attempts;
    int refs;            // see bl_job_ref()
    time_t doc_deadline; // no document by then: aborted (Create-Job without Send-Document)
    bool registered;     // in sys->active and in the database
    bool history;        // loaded from the database for one look-up: the caller unrefs it
    bool cancel_requested;
    bl_spool_writer_t *writer; // while the document streams in
    bl_runner_t *runner;       // while the pipeline runs
    char tmpdir[512];
    bl_job_t *ready_prev, *ready_next; // on its printer's ready list
    bool ready;
};

typedef void (*bl_job_done_cb)(void *arg, bl_job_t *job, bool ok);

// A new job for printer (not yet visible; id assigned), with one reference for the caller.
bl_job_t *bl_job_create(bl_printer_t *printer, const bl_job_params_t *params);
// Jobs are reference-counted: the active list holds one while the job is registered, and
// anyone who keeps a job across a loop pass (a request uploading its document, a commit
// callback) holds one. A job that ends is taken off the active list at once; its memory goes
// with the last reference.
void bl_job_ref(bl_job_t *job);
void bl_job_unref(bl_job_t *job);
// Makes a document-less job (Create-Job) visible and durable; cb after commit.
void bl_job_register(bl_job_t *job, bl_job_done_cb cb, void *arg);
// Document streaming: open the encrypted spool file, append, finish (durable, then cb).
bool bl_job_doc_open(bl_job_t *job);
bool bl_job_doc_write(bl_job_t *job, const void *data, size_t len);
void bl_job_doc_finish(bl_job_t *job, bl_job_done_cb cb, void *arg);
// Drops a document upload that did not complete (the caller still holds its reference).
void bl_job_doc_abort(bl_job_t *job);
// Close-Job on a job without document: it ends (aborted, no document).
void bl_job_close(bl_job_t *job);

// Active jobs (borrowed) and any job, active or from history.
bl_job_t *bl_job_find(bl_system_t *sys, int id);
// Active job, or a history job loaded from the database (then job->history: caller deletes).
bl_job_t *bl_job_lookup(bl_system_t *sys, int id);
// Where a walk of the history is: the last job it passed to its callback.
typedef struct bl_history_pos {
    bool set; // false: start at the newest job
    time_t completed;
    int id;
} bl_history_pos_t;
// Calls fn for completed/canceled/aborted jobs, newest first, up to limit (0 = all), until fn
// returns false. With pos, the walk starts after *pos (when set) and leaves *pos at the last job
// it passed to fn, so that a later call goes on from there: jobs that end meanwhile are newer
// and not met, except one that ends in pos's second with a lower id than pos's (the order is
// completed time, then id): a caller that listed it as active skips it.
typedef bool (*bl_job_visit_fn)(void *arg, bl_job_t *job);
void bl_job_visit_history(bl_system_t *sys, const char *printer, const char *user, int limit,
                          bl_history_pos_t *pos, bl_job_visit_fn fn, void *arg);

bool bl_job_is_terminal(const bl_job_t *job);
// Puts the job on its printer's ready list (by id) or takes it off, as its state now says:
// ready = registered, pending, document spooled and durable, not running. job.c calls it on
// every change; the scheduler after it picked a job.
void bl_job_update_ready(bl_job_t *job);
void bl_job_cancel(bl_job_t *job, const char *reason);
bool bl_job_hold(bl_job_t *job);
bool bl_job_release(bl_job_t *job);
// State changes from the pipeline.
void bl_job_set_state(bl_job_t *job, bl_job_state_t state, const char *reason, const char *message);
void bl_job_add_reason(bl_job_t *job, const char *reason);
void bl_job_remove_reason(bl_job_t *job, const char *reason);
bool bl_job_has_reason(const bl_job_t *job, const char *reason);
// Writes the job's row (inside the loop pass's transaction).
bool bl_job_save(bl_job_t *job);
// Aborts jobs that have waited for their document longer than MultipleOperationTimeout.
void bl_job_expire(bl_system_t *sys);
// Retention of finished jobs (JobNameRetention, JobRetention): names older than the first are
// replaced by a keyed hash, records older than the second are deleted. Bounded work per call.
void bl_job_retention(bl_system_t *sys);
// Resumes unfinished jobs after a restart; removes spool files no job owns.
bool bl_job_resume_all(bl_system_t *sys);
// Job state keyword ("pending", ...).
const char *bl_job_state_string(bl_job_state_t state);

#endif
