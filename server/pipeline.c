// The job pipeline: decrypt from the spool -> filters -> backend, as child processes on pipes.
// Licensed under the Apache License, Version 2.0.
//
// blattd itself is the decrypt stage: it feeds authenticated plaintext into the first pipe only
// when the pipe is writable, so the document is never written to disk in the clear. Filters and
// backends report on stderr (blatt-filter(7)); the exit codes of the chain decide the job's end.
// Every argv and environment string is built here from validated job values and the admin's
// configuration, never from what a device reported.
#include "server/pipeline.h"

#include "drivers/graph.h"
#include "drivers/runner.h"
#include "drivers/sandbox.h"
#include "server/config.h"
#include "server/doclog.h"
#include "server/log.h"
#include "server/printer.h"
#include "server/spool.h"
#include "server/store.h"

#include <errno.h>
#include <sqlite3.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_STAGES BL_RUNNER_MAX_STAGES
#define NUM_ARGS 6
#define NUM_ENV 8
#define STR_LEN 1100

typedef struct pipeline {
    bl_job_t *job;
    bl_spool_reader_t *reader;
    char last_error[256];          // the feed's (spool) error
    char errors[MAX_STAGES][256];  // the last ERROR: line of each stage
    bool device_counters;          // the backend reported counters from the device
    bool device_counters_rejected; // ... and one of them was implausible (plausible())
    char *argv[MAX_STAGES][NUM_ARGS + 1];
    char *envp[MAX_STAGES][NUM_ENV + 1];
    char paths[MAX_STAGES][1024];
    char strings[MAX_STAGES][NUM_ARGS + NUM_ENV][STR_LEN];
    char *sb_argv[MAX_STAGES][BL_SANDBOX_MAX_ARGS]; // blatt-exec's command line per stage
    char sb_buf[MAX_STAGES][256];
    char helper[1024];
    int uid_slot; // the job's sandbox uid (bl_system_take_uid), -1 for none
    // The printer-state-reasons this job's backend added and has not removed: they go when
    // the chain ends, also when the backend could not say so (it crashed or was killed).
    char dev_reasons[BL_PRINTER_DEVICE_REASONS][BL_PRINTER_REASON_MAX + 1];
    size_t num_dev_reasons;
} pipeline_t;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tmpdir(bl_job_t *job)
{
    if (job->tmpdir[0])
        nftw(job->tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    job->tmpdir[0] = '\0';
}

static ssize_t on_feed(void *ctx, void *buf, size_t len)
{
    pipeline_t *pl = ctx;
    ssize_t n = bl_spool_reader_read(pl->reader, buf, len);
    if (n < 0)
        snprintf(pl->last_error, sizeof(pl->last_error),
                 "the spooled document failed its integrity check");
    return n;
}

// A device counter is believed only when a job of this size could have produced it: at most
// pages x copies impressions (sheets are fewer), and at most BL_COUNTER_MAX when the page count
// is not known. Anything else is the printer's error or its attack: the log says so and the
// job is counted from its pages (estimate_counters).
static bool plausible(pipeline_t *pl, const char *name, long v)
{
    const bl_job_t *job = pl->job;
    long copies = job->params.copies > 0 ? job->params.copies : 1;
    long limit = job->pages > 0 ? (long)job->pages * copies : BL_COUNTER_MAX;
    if (v >= 0 && v <= limit && v <= BL_COUNTER_MAX)
        return true;
    bl_log(BL_LOG_WARN, "job %d: the device reported %s=%ld for %d page(s); not counted", job->id,
           name, v, job->pages);
    pl->device_counters_rejected = true;
    return false;
}

static void take_attrs(pipeline_t *pl, const bl_status_t *st)
{
    bl_job_t *job = pl->job;
    for (size_t i = 0; i < st->num_attrs; i++) {
        const char *n = st->attrs[i].name;
        long lv = st->attrs[i].value;
        if (!strcmp(n, "job-pages")) {
            if (lv > 0 && lv <= BL_COUNTER_MAX)
                job->pages = (int)lv;
            continue;
        }
        if (!plausible(pl, n, lv))
            continue;
        int v = (int)lv;
        if (!strcmp(n, "job-impressions-completed"))
            job->impressions = v, pl->device_counters = true;
        else if (!strcmp(n, "job-media-sheets-completed"))
            job->sheets = v, pl->device_counters = true;
        else if (!strcmp(n, "job-impressions-color"))
            job->impressions_color = v;
        else if (!strcmp(n, "job-impressions-monochrome"))
            job->impressions_mono = v;
    }
}

// Only what this job's stages added: blattd's own reasons (offline-report) are not theirs.
// Where reason is in this job's list, or -1.
static int dev_reason_index(const pipeline_t *pl, const char *reason)
{
    for (size_t i = 0; i < pl->num_dev_reasons; i++) {
        if (!strncmp(pl->dev_reasons[i], reason, BL_PRINTER_REASON_MAX))
            return (int)i;
    }
    return -1;
}

static void device_reason_gone(pipeline_t *pl, bl_printer_t *p, const char *reason)
{
    int i = dev_reason_index(pl, reason);
    if (i < 0)
        return;
    bl_printer_remove_reason(p, reason);
    memmove(pl->dev_reasons[i], pl->dev_reasons[i + 1],
            (pl->num_dev_reasons - (size_t)i - 1) * sizeof(pl->dev_reasons[0]));
    pl->num_dev_reasons--;
}

static void device_reason_added(pipeline_t *pl, bl_printer_t *p, const char *reason)
{
    if (bl_printer_has_reason(p, reason))
        return;
    // Taken from the queue by blattd meanwhile (connecting-to-device when it answers): back.
    bool known = dev_reason_index(pl, reason) >= 0;
    if (p->num_reasons >= BL_PRINTER_DEVICE_REASONS ||
        (!known && pl->num_dev_reasons >= BL_PRINTER_DEVICE_REASONS)) {
        bl_log(BL_LOG_DEBUG, "job %d: printer-state-reason %.63s not shown: the queue has %zu",
               pl->job->id, reason, p->num_reasons);
        return;
    }
    bl_printer_add_reason(p, reason);
    if (!known)
        snprintf(pl->dev_reasons[pl->num_dev_reasons++], sizeof(pl->dev_reasons[0]), "%s", reason);
}

static void on_status(void *ctx, size_t stage, const bl_status_t *st)
{
    pipeline_t *pl = ctx;
    bl_job_t *job = pl->job;
    bl_printer_t *p = job->printer;
    switch (st->kind) {
    case BL_STATUS_ATTR:
        take_attrs(pl, st);
        break;
    case BL_STATUS_PAGE:
        if (st->page_total > 0 && st->page_total <= BL_COUNTER_MAX)
            job->pages = (int)st->page_total;
        break;
    case BL_STATUS_STATE:
        for (size_t i = 0; p && i < st->num_reasons; i++) {
            if (st->reasons[i].op == BL_STATUS_REASON_REMOVE)
                device_reason_gone(pl, p, st->reasons[i].keyword);
            else
                device_reason_added(pl, p, st->reasons[i].keyword);
        }
        break;
    case BL_STATUS_ERROR:
        if (stage < MAX_STAGES)
            snprintf(pl->errors[stage], sizeof(pl->errors[stage]), "%s", st->message);
        bl_log(BL_LOG_WARN, "job %d: stage %zu: %s", job->id, stage, st->message);
        break;
    case BL_STATUS_INFO:
    case BL_STATUS_WARNING:
        bl_log(BL_LOG_INFO, "job %d: stage %zu: %s", job->id, stage, st->message);
        break;
    default:
        bl_log(BL_LOG_DEBUG, "job %d: stage %zu: %s", job->id, stage, st->message);
        break;
    }
}

// What a stage's death by signal says, for the job's message and the log.
static const char *signal_why(int sig)
{
    switch (sig) {
    case SIGXCPU:
        return " (its CPU time limit, FilterTimeout)";
    case SIGXFSZ:
        return " (its file size limit, FilterFileSizeLimit)";
    case SIGSYS:
        return " (a system call the sandbox forbids)";
    case SIGSEGV:
    case SIGBUS:
    case SIGABRT:
    case SIGILL:
    case SIGFPE:
        return " (it crashed)";
    default:
        return "";
    }
}

// Counters for accounting when the device did not report its own: from the page count.
static void estimate_counters(bl_job_t *job)
{
    const bl_job_params_t *p = &job->params;
    int copies = p->copies > 0 ? p->copies : 1;
    if (job->pages <= 0 && job->format_detected[0] && !strcmp(job->format_detected, "image/jpeg"))
        job->pages = 1;
    if (job->pages <= 0)
        return;
    bool duplex = !strncmp(p->sides, "two-sided", 9);
    job->impressions = job->pages * copies;
    job->sheets = (duplex ? (job->pages + 1) / 2 : job->pages) * copies;
    if (!strcmp(p->color_mode, "color"))
        job->impressions_color = job->impressions;
    else
        job->impressions_mono = job->impressions;
}

// The device reported some counters: derive the ones it left out.
static void fill_counters(bl_job_t *job)
{
    if (job->sheets == 0 && job->impressions > 0)
        job->sheets = !strncmp(job->params.sides, "two-sided", 9) ? (job->impressions + 1) / 2
                                                                  : job->impressions;
    if (job->impressions_color == 0 && job->impressions_mono == 0) {
        if (!strcmp(job->params.color_mode, "color"))
            job->impressions_color = job->impressions;
        else
            job->impressions_mono = job->impressions;
    }
}

// The job's next state after a chain that exited with failures (see blatt-backend(7)).
static void end_failed(pipeline_t *pl, const bl_runner_result_t *res)
{
    bl_job_t *job = pl->job;
    bl_printer_t *p = job->printer;
    size_t last = res->num_stages - 1;
    int fs = res->failed_stage;
    int code = res->exit_code[fs];
    // The blamed stage's own words; else the first stage that said something (a later stage
    // that only saw its input end says less about the cause).
    const char *err = pl->errors[fs];
    for (size_t i = 0; !err[0] && i < res->num_stages; i++)
        err = pl->errors[i];
    char msg[400];
    if ((size_t)fs == last && (code == 4 || code == 6 || code == 7)) {
        bl_job_add_reason(job, "job-queued");
        bl_job_set_state(job, BL_JOB_PENDING, NULL, "waiting for the printer");
        if (p)
            bl_printer_device_down(p, err[0] ? err : "the printer cannot be reached");
        return;
    }
    if ((size_t)fs == last && code == 5) {
        bl_job_set_state(job, BL_JOB_CANCELED, "job-canceled-at-device", "canceled at the printer");
        return;
    }
    if (res->term_signal[fs])
        snprintf(msg, sizeof(msg), "%s %d was killed by signal %d%s%s%s",
                 (size_t)fs == last ? "the backend" : "filter", fs, res->term_signal[fs],
                 err[0] ? ": " : "", err, signal_why(res->term_signal[fs]));
    else
        snprintf(msg, sizeof(msg), "%s%s", err[0] ? err : "the job failed",
                 (size_t)fs == last ? "" : " (in a filter)");
    bl_job_set_state(job, BL_JOB_ABORTED,
                     (size_t)fs == last ? "aborted-by-system" : "document-format-error", msg);
}

static void on_done(void *ctx, const bl_runner_result_t *res)
{
    pipeline_t *pl = ctx;
    bl_job_t *job = pl->job;
    bl_printer_t *p = job->printer;
    bl_spool_reader_delete(pl->reader);
    pl->reader = NULL;
    job->runner = NULL;
    while (p && pl->num_dev_reasons)
        device_reason_gone(pl, p, pl->dev_reasons[0]);
    remove_tmpdir(job);
    bl_system_give_uid(job->sys, pl->uid_slot);
    bl_job_remove_reason(job, "job-printing");
    if (p && p->active_job == job)
        p->active_job = NULL;
    bl_job_remove_reason(job, "processing-to-stop-point");
    if (job->cancel_requested) {
        bl_job_set_state(job, BL_JOB_CANCELED, NULL, "canceled");
    } else if (job->sys->shutting_down || res->canceled) {
        // Stopped by the shutdown: it prints again after the next start.
        bl_job_set_state(job, BL_JOB_PENDING, NULL, NULL);
    } else if (res->feed_failed) {
        bl_log(BL_LOG_ERROR, "job %d: %s", job->id, pl->last_error);
        bl_job_set_state(job, BL_JOB_ABORTED, "aborted-by-system", pl->last_error);
    } else if (res->timed_out) {
        bl_job_set_state(job, BL_JOB_ABORTED, "aborted-by-system",
                         "the job took longer than FilterTimeout");
    } else if (res->failed_stage < 0) {
        if (p)
            bl_printer_device_up(p);
        if (pl->device_counters_rejected) {
            job->impressions = job->sheets = 0;
            job->impressions_color = job->impressions_mono = 0;
        }
        if (!pl->device_counters || pl->device_counters_rejected)
            estimate_counters(job);
        else
            fill_counters(job);
        bl_job_set_state(job, BL_JOB_COMPLETED, "job-completed-successfully", "completed");
    } else {
        end_failed(pl, res);
    }
    free(pl);
    if (p)
        bl_printer_schedule(p);
}

void bl_pipeline_cancel(bl_job_t *job)
{
    if (job->runner)
        bl_runner_cancel(job->runner);
}

// Appends " name=value" to the options string when there is room.
static void add_opt(char *buf, size_t len, const char *name, const char *value)
{
    size_t n = strlen(buf);
    if (value && *value)
        snprintf(buf + n, len - n, "%s%s=%s", n ? " " : "", name, value);
}

// The resolution to rasterise at: the requested one when the device takes it, else 300 dpi
// when it can, else the device's lowest (from pwg-raster-document-resolution-supported).
static int raster_resolution(const bl_job_t *job, const char *dest)
{
    ipp_t *caps = job->printer->caps;
    ipp_attribute_t *a =
        ippFindAttribute(caps, "pwg-raster-document-resolution-supported", IPP_TAG_RESOLUTION);
    int want = job->params.resolution ? job->params.resolution : 300, best = 0;
    if (!strcmp(dest, "image/urf") || !a)
        return want == 600 || want == 300 ? want : 300;
    for (int i = 0; i < ippGetCount(a); i++) {
        ipp_res_t units;
        int y, x = ippGetResolution(a, i, &y, &units);
        if (x == want)
            return x;
        if (x == 300 || best == 0 || (best != 300 && x < best))
            best = x;
    }
    return best ? best : 300;
}

// The PWG raster type: grey for monochrome jobs, sRGB for colour, from what the device takes.
static const char *raster_type(const bl_job_t *job)
{
    ipp_attribute_t *a =
        ippFindAttribute(job->printer->caps, "pwg-raster-document-type-supported", IPP_TAG_KEYWORD);
    bool color = !strcmp(job->params.color_mode, "color");
    const char *prefs[] = {color ? "srgb_8" : "sgray_8", color ? "sgray_8" : "srgb_8", "black_1"};
    for (size_t i = 0; i < 3; i++) {
        if (!a || ippContainsString(a, prefs[i]))
            return prefs[i];
    }
    return prefs[0];
}

// The CUPS-style options string: only values that passed validation, never free text.
static void job_options(const bl_job_t *job, const char *dest, char *buf, size_t len)
{
    const bl_job_params_t *p = &job->params;
    char num[32];
    buf[0] = '\0';
    snprintf(num, sizeof(num), "%d", p->copies > 0 ? p->copies : 1);
    add_opt(buf, len, "copies", num);
    add_opt(buf, len, "document-format", dest);
    add_opt(buf, len, "sides", p->sides);
    add_opt(buf, len, "print-color-mode", p->color_mode);
    add_opt(buf, len, "media", p->media);
    if (p->resolution) {
        snprintf(num, sizeof(num), "%ddpi", p->resolution);
        add_opt(buf, len, "printer-resolution", num);
    }
    if (p->quality) {
        snprintf(num, sizeof(num), "%d", p->quality);
        add_opt(buf, len, "print-quality", num);
    }
    add_opt(buf, len, "page-ranges", p->page_ranges);
    if (!strcmp(dest, "image/pwg-raster") || !strcmp(dest, "image/urf")) {
        snprintf(num, sizeof(num), "%d", raster_resolution(job, dest));
        add_opt(buf, len, "raster-resolution", num);
        add_opt(buf, len, "raster-type", raster_type(job));
    }
}

static const char *backend_for(const char *uri)
{
    if (!strncmp(uri, "ipp://", 6) || !strncmp(uri, "ipps://", 7))
        return "ipp";
    if (!strncmp(uri, "socket://", 9))
        return "socket";
    if (!strncmp(uri, "file://", 7))
        return "file";
    return NULL;
}

// A job name as argv text: printable characters only (it is the client's free text).
static void safe_title(const char *in, char *out, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; in[i] && o + 1 < len; i++) {
        unsigned char c = (unsigned char)in[i];
        out[o++] = c < 0x20 || c == 0x7f ? '_' : (char)c;
    }
    out[o] = '\0';
}

// Fills stage i of the chain: program, CUPS-style argv and the whole environment.
static void set_stage(pipeline_t *pl, bl_stage_t *stage, size_t i, const char *dir,
                      const char *program, const char *from, const char *to, const char *options)
{
    bl_job_t *job = pl->job;
    char(*s)[STR_LEN] = pl->strings[i];
    snprintf(pl->paths[i], sizeof(pl->paths[i]), "%s/%s", dir, program);
    snprintf(s[0], STR_LEN, "%s", program);
    snprintf(s[1], STR_LEN, "%d", job->id);
    safe_title(job->params.user_name[0] ? job->params.user_name : "anonymous", s[2], STR_LEN);
    safe_title(job->params.name, s[3], STR_LEN);
    snprintf(s[4], STR_LEN, "%d", job->params.copies > 0 ? job->params.copies : 1);
    snprintf(s[5], STR_LEN, "%s", options);
    for (int k = 0; k < NUM_ARGS; k++)
        pl->argv[i][k] = s[k];
    pl->argv[i][NUM_ARGS] = NULL;
    snprintf(s[6], STR_LEN, "CONTENT_TYPE=%s", from);
    snprintf(s[7], STR_LEN, "FINAL_CONTENT_TYPE=%s", to);
    snprintf(s[8], STR_LEN, "DEVICE_URI=%s", job->printer->conf->device_uri);
    snprintf(s[9], STR_LEN, "PRINTER=%s", job->printer->name);
    snprintf(s[10], STR_LEN, "TMPDIR=%s", job->tmpdir);
    snprintf(s[11], STR_LEN, "PATH=/usr/bin:/bin");
    snprintf(s[12], STR_LEN, "LANG=C");
    snprintf(s[13], STR_LEN, "HOME=%s", job->tmpdir);
    for (int k = 0; k < NUM_ENV; k++)
        pl->envp[i][k] = s[NUM_ARGS + k];
    pl->envp[i][NUM_ENV] = NULL;
    stage->path = pl->paths[i];
    stage->argv = pl->argv[i];
    stage->envp = pl->envp[i];
    stage->sandboxed = false;
}

// Puts stage i inside the sandbox (blatt-exec, drivers/sandbox.h): filters get no network at
// all, backends only client sockets; both a private tmpfs TMPDIR, resource limits, seccomp and,
// when blattd is root, a uid of their own per job. false when the command line does not fit.
static bool sandbox_stage(pipeline_t *pl, bl_stage_t *stage, size_t i, bool backend)
{
    const bl_config_t *cfg = pl->job->sys->config;
    if (!cfg->sandbox)
        return true;
    bl_sandbox_t sb;
    bl_system_sandbox(pl->job->sys, pl->uid_slot, backend, pl->job->tmpdir, &sb);
    snprintf(pl->helper, sizeof(pl->helper), "%s/blatt-exec", cfg->helper_dir);
    if (!bl_sandbox_argv(&sb, pl->helper, stage->path, stage->argv, pl->sb_argv[i],
                         BL_SANDBOX_MAX_ARGS, pl->sb_buf[i], sizeof(pl->sb_buf[i])))
        return false;
    stage->path = pl->helper;
    stage->argv = pl->sb_argv[i];
    stage->sandboxed = true;
    return true;
}

// Plans the chain from the job's format to one the device takes; false (with why) if none.
static bool plan(pipeline_t *pl, bl_stage_t *stages, size_t *n, char *why, size_t whylen)
{
    bl_job_t *job = pl->job;
    bl_printer_t *p = job->printer;
    const bl_config_t *cfg = job->sys->config;
    const char *src = job->format_detected[0] ? job->format_detected : job->params.format;
    ipp_attribute_t *a = ippFindAttribute(p->caps, "document-format-supported", IPP_TAG_MIMETYPE);
    size_t nd = a ? (size_t)ippGetCount(a) : 0;
    const char *dests[64];
    if (nd > 64)
        nd = 64;
    for (size_t i = 0; i < nd; i++)
        dests[i] = ippGetString(a, (int)i, NULL);
    bl_graph_path_t path;
    const char *backend = backend_for(p->conf->device_uri);
    if (!backend || !bl_graph_find(job->sys->graph, src, dests, nd, &path)) {
        snprintf(why, whylen, "no conversion from %s to a format the printer takes", src);
        return false;
    }
    char options[1024];
    job_options(job, path.dest, options, sizeof(options));
    *n = 0;
    for (size_t i = 0; i < path.num_steps && *n < MAX_STAGES - 1; i++) {
        set_stage(pl, &stages[*n], *n, cfg->filter_dir, path.steps[i].program, path.steps[i].from,
                  path.dest, options);
        (*n)++;
    }
    set_stage(pl, &stages[*n], *n, cfg->backend_dir, backend, path.dest, path.dest, options);
    (*n)++;
    for (size_t i = 0; i < *n; i++) {
        if (!sandbox_stage(pl, &stages[i], i, i + 1 == *n)) {
            snprintf(why, whylen, "the sandbox command line does not fit");
            return false;
        }
    }
    bl_log(BL_LOG_DEBUG, "job %d: %s -> %s in %zu stages (%s)", job->id, src, path.dest, *n,
           options);
    return true;
}

// The job's encrypted document: from the document log, from the database (an older blattd kept
// small documents there) or from its spool file.
static bl_spool_reader_t *open_document(bl_job_t *job, const char *spool)
{
    if (job->doc_ref.seg)
        return bl_doclog_reader(job->sys->doclog, job->sys->kek, &job->doc_ref, job->uuid);
    bl_store_t *store = job->sys->store;
    sqlite3_stmt *st = bl_store_stmt(store, "SELECT data FROM documents WHERE job = ?");
    if (!st)
        return NULL;
    sqlite3_bind_int(st, 1, job->id);
    bl_spool_reader_t *r = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        r = bl_spool_reader_create_mem(job->sys->kek, sqlite3_column_blob(st, 0),
                                       (size_t)sqlite3_column_bytes(st, 0), job->uuid);
    else
        r = bl_spool_reader_create(job->sys->kek, spool, job->uuid);
    sqlite3_reset(st);
    return r;
}

void bl_pipeline_start(bl_job_t *job)
{
    static const bl_runner_callbacks_t cb = {on_feed, NULL, on_status, on_done};
    bl_printer_t *p = job->printer;
    pipeline_t *pl = calloc(1, sizeof(*pl));
    char spool[1024], why[300] = "";
    snprintf(spool, sizeof(spool), "%s/%d.bls", job->sys->spool_dir, job->id);
    snprintf(job->tmpdir, sizeof(job->tmpdir), "%s/job-%d", job->sys->tmp_dir, job->id);
    if (!pl || (mkdir(job->tmpdir, 0700) != 0 && errno != EEXIST)) {
        free(pl);
        p->active_job = NULL;
        bl_job_update_ready(job); // it stays pending: back on the ready list
        bl_log(BL_LOG_ERROR, "job %d: cannot prepare its pipeline", job->id);
        return;
    }
    pl->job = job;
    pl->uid_slot = bl_system_take_uid(job->sys, job->id);
    errno = 0;
    pl->reader = open_document(job, spool);
    int read_err = errno;
    bool lost = read_err == 0 || read_err == EBADMSG || read_err == ENOENT || read_err == ELOOP ||
                read_err == EISDIR || read_err == EINVAL || read_err == ENXIO;
    if (!pl->reader && !lost) {
        // The document is there but cannot be read just now (no descriptor left, a
        // permission, an I/O error): the job waits and is tried again, like a printer that is
        // down, instead of being lost.
        snprintf(why, sizeof(why), "the spooled document cannot be read now (%s); trying again",
                 strerror(read_err));
        bl_log(BL_LOG_ERROR, "job %d: %s", job->id, why);
        bl_system_give_uid(job->sys, pl->uid_slot);
        free(pl);
        remove_tmpdir(job);
        p->active_job = NULL;
        bl_job_update_ready(job);
        bl_printer_spool_wait(p, why);
        return;
    }
    if (pl->reader) {
        // The document is decrypted for printing: that is an access to it.
        char object[64], result[200];
        snprintf(object, sizeof(object), "job %d", job->id);
        snprintf(result, sizeof(result), "read for printing on %s", p->name);
        bl_system_audit(job->sys, "blattd", "-", "document-read", object, result);
    }
    bl_stage_t stages[MAX_STAGES];
    size_t n = 0;
    const char *reason = "aborted-by-system";
    if (!pl->reader) {
        snprintf(why, sizeof(why), "the spooled document cannot be read");
        // What does not open for this job may be another's (a damaged or mixed-up place in
        // the log): it is not shredded for this job. Start-up shreds what no job needs.
        job->doc_ref.seg = 0;
    } else if (!plan(pl, stages, &n, why, sizeof(why))) {
        reason = "document-format-error";
    } else {
        job->attempts++;
        // Counters start from zero on every attempt.
        job->impressions = job->sheets = job->impressions_color = job->impressions_mono = 0;
        bl_job_remove_reason(job, "job-queued");
        bl_job_add_reason(job, "job-printing");
        job->runner = bl_runner_start(job->sys->base, stages, n, job->tmpdir,
                                      job->sys->config->filter_timeout, &cb, pl);
        if (job->runner) {
            bl_job_set_state(job, BL_JOB_PROCESSING, NULL, "printing");
            return;
        }
        bl_job_remove_reason(job, "job-printing");
        snprintf(why, sizeof(why), "cannot start the filters");
    }
    // The job ends before a pipeline ran; bl_job_set_state() may free it, so clean up first.
    bl_spool_reader_delete(pl->reader);
    bl_system_give_uid(job->sys, pl->uid_slot);
    free(pl);
    remove_tmpdir(job);
    if (p->active_job == job)
        p->active_job = NULL;
    bl_job_set_state(job, BL_JOB_ABORTED, reason, why);
}
