// The job pipeline: decrypt from the spool -> filters -> backend, as child processes on pipes.
// Licensed under the Apache License, Version 2.0.
//
// blattd itself is the decrypt stage: it feeds plaintext into the first pipe only when the pipe is
// writable, so the document is never written to disk in the clear. Filters and backends report on
// stderr (blatt-filter(7)); the exit code of the chain decides the job's end.
#include "server/job.h"

#include "drivers/graph.h"
#include "drivers/runner.h"
#include "server/config.h"
#include "server/log.h"
#include "server/printer.h"
#include "server/spool.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_STAGES 8

typedef struct pipeline {
    bl_job_t *job;
    bl_spool_reader_t *reader;
    char last_error[256];
    char *argv[MAX_STAGES][7];
    char *envp[MAX_STAGES][12];
    char paths[MAX_STAGES][1024];
    char strings[MAX_STAGES][12][1100];
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
        snprintf(pl->last_error, sizeof(pl->last_error), "spooled document failed its integrity check");
    return n;
}

static void on_status(void *ctx, size_t stage, const bl_status_t *st)
{
    pipeline_t *pl = ctx;
    bl_job_t *job = pl->job;
    bl_printer_t *p = job->printer;
    switch (st->kind) {
    case BL_STATUS_ATTR:
        for (size_t i = 0; i < st->num_attrs; i++) {
            const char *n = st->attrs[i].name;
            int v = (int)st->attrs[i].value;
            if (!strcmp(n, "job-impressions-completed"))
                job->impressions = v;
            else if (!strcmp(n, "job-media-sheets-completed"))
                job->sheets = v;
            else if (!strcmp(n, "job-impressions-color"))
                job->impressions_color = v;
            else if (!strcmp(n, "job-impressions-monochrome"))
                job->impressions_mono = v;
            else if (!strcmp(n, "job-pages"))
                job->pages = v;
        }
        break;
    case BL_STATUS_PAGE:
        if (st->page_total > 0)
            job->pages = (int)st->page_total;
        break;
    case BL_STATUS_STATE:
        for (size_t i = 0; p && i < st->num_reasons; i++) {
            if (st->reasons[i].op == BL_STATUS_REASON_REMOVE)
                bl_printer_remove_reason(p, st->reasons[i].keyword);
            else
                bl_printer_add_reason(p, st->reasons[i].keyword);
        }
        break;
    case BL_STATUS_ERROR:
        snprintf(pl->last_error, sizeof(pl->last_error), "%s", st->message);
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

// Maps the chain's exit to the job's next state (CUPS backend exit codes).
static void on_done(void *ctx, const bl_runner_result_t *res)
{
    pipeline_t *pl = ctx;
    bl_job_t *job = pl->job;
    bl_printer_t *p = job->printer;
    bl_spool_reader_delete(pl->reader);
    job->runner = NULL;
    remove_tmpdir(job);
    bl_job_remove_reason(job, "job-printing");
    if (p && p->active_job == job)
        p->active_job = NULL;
    size_t last = res->num_stages - 1;
    int fs = res->failed_stage;
    int code = fs >= 0 ? res->exit_code[fs] : 0;
    char msg[400];
    if (job->sys->shutting_down) {
        bl_job_set_state(job, BL_JOB_PENDING, NULL, NULL);
    } else if (job->cancel_requested || res->canceled) {
        bl_job_set_state(job, BL_JOB_CANCELED, NULL, "canceled");
    } else if (res->timed_out) {
        bl_job_set_state(job, BL_JOB_ABORTED, "aborted-by-system", "the job took longer than FilterTimeout");
    } else if (fs < 0) {
        if (p)
            bl_printer_device_up(p);
        bl_job_set_state(job, BL_JOB_COMPLETED, "job-completed-successfully", "completed");
    } else if ((size_t)fs == last && (code == 6 || code == 7 || code == 4)) {
        bl_job_add_reason(job, "job-queued");
        bl_job_set_state(job, BL_JOB_PENDING, NULL, "waiting for the device");
        if (p)
            bl_printer_device_down(p, pl->last_error[0] ? pl->last_error : "the device cannot be reached");
    } else if ((size_t)fs == last && code == 5) {
        bl_job_set_state(job, BL_JOB_CANCELED, "job-canceled-at-device", "canceled at the device");
    } else {
        if (res->term_signal[fs])
            snprintf(msg, sizeof(msg), "stage %d was killed by signal %d%s%s", fs,
                     res->term_signal[fs], pl->last_error[0] ? ": " : "", pl->last_error);
        else
            snprintf(msg, sizeof(msg), "%s %d failed (exit %d)%s%s",
                     (size_t)fs == last ? "backend" : "filter stage", fs, code,
                     pl->last_error[0] ? ": " : "", pl->last_error);
        bl_job_set_state(job, BL_JOB_ABORTED, "aborted-by-system", msg);
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

// The CUPS-style options string: only values that passed validation, never free text.
static void job_options(const bl_job_t *job, const char *format, char *buf, size_t len)
{
    const bl_job_params_t *p = &job->params;
    int n = snprintf(buf, len, "copies=%d document-format=%s", p->copies > 0 ? p->copies : 1, format);
    if (p->sides[0])
        n += snprintf(buf + n, len - (size_t)n, " sides=%s", p->sides);
    if (p->color_mode[0])
        n += snprintf(buf + n, len - (size_t)n, " print-color-mode=%s", p->color_mode);
    if (p->media[0])
        n += snprintf(buf + n, len - (size_t)n, " media=%s", p->media);
    if (p->resolution)
        n += snprintf(buf + n, len - (size_t)n, " printer-resolution=%ddpi", p->resolution);
    if (p->quality)
        snprintf(buf + n, len - (size_t)n, " print-quality=%d", p->quality);
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

// Fills stage i of the chain.
static void set_stage(pipeline_t *pl, bl_stage_t *stage, size_t i, const char *dir,
                      const char *program, const char *from, const char *to, const char *options)
{
    bl_job_t *job = pl->job;
    char (*s)[1100] = pl->strings[i];
    snprintf(pl->paths[i], sizeof(pl->paths[i]), "%s/%s", dir, program);
    snprintf(s[0], sizeof(s[0]), "%s", program);
    snprintf(s[1], sizeof(s[1]), "%d", job->id);
    snprintf(s[2], sizeof(s[2]), "%s", job->params.user);
    snprintf(s[3], sizeof(s[3]), "%s", job->params.name);
    snprintf(s[4], sizeof(s[4]), "%d", job->params.copies > 0 ? job->params.copies : 1);
    snprintf(s[5], sizeof(s[5]), "%s", options);
    for (int k = 0; k < 6; k++)
        pl->argv[i][k] = s[k];
    pl->argv[i][6] = NULL;
    snprintf(s[6], sizeof(s[6]), "CONTENT_TYPE=%s", from);
    snprintf(s[7], sizeof(s[7]), "FINAL_CONTENT_TYPE=%s", to);
    snprintf(s[8], sizeof(s[8]), "DEVICE_URI=%s", job->printer->conf->device_uri);
    snprintf(s[9], sizeof(s[9]), "PRINTER=%s", job->printer->name);
    snprintf(s[10], sizeof(s[10]), "TMPDIR=%s", job->tmpdir);
    const char *const fixed[] = {"PATH=/usr/bin:/bin", "LANG=C"};
    int e = 0;
    for (int k = 6; k <= 10; k++)
        pl->envp[i][e++] = s[k];
    for (size_t k = 0; k < 2; k++)
        pl->envp[i][e++] = (char *)fixed[k];
    pl->envp[i][e] = NULL;
    stage->path = pl->paths[i];
    stage->argv = pl->argv[i];
    stage->envp = pl->envp[i];
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
        if (!path.steps[i].program[0] || !strcmp(path.steps[i].program, "-"))
            continue;
        set_stage(pl, &stages[*n], *n, cfg->filter_dir, path.steps[i].program,
                  path.steps[i].from, path.dest, options);
        (*n)++;
    }
    set_stage(pl, &stages[*n], *n, cfg->backend_dir, backend, path.dest, path.dest, options);
    (*n)++;
    return true;
}

void bl_pipeline_start(bl_job_t *job)
{
    bl_printer_t *p = job->printer;
    pipeline_t *pl = calloc(1, sizeof(*pl));
    char spool[1024], why[300] = "";
    snprintf(spool, sizeof(spool), "%s/%d.bls", job->sys->spool_dir, job->id);
    snprintf(job->tmpdir, sizeof(job->tmpdir), "%s/job-%d", job->sys->tmp_dir, job->id);
    if (!pl || (mkdir(job->tmpdir, 0700) != 0 && errno != EEXIST)) {
        free(pl);
        p->active_job = NULL;
        bl_log(BL_LOG_ERROR, "job %d: cannot prepare its pipeline", job->id);
        return;
    }
    pl->job = job;
    pl->reader = bl_spool_reader_create(job->sys->kek, spool);
    bl_stage_t stages[MAX_STAGES];
    size_t n = 0;
    const char *reason = "aborted-by-system";
    if (!pl->reader) {
        snprintf(why, sizeof(why), "the spooled document cannot be read");
    } else if (!plan(pl, stages, &n, why, sizeof(why))) {
        reason = "document-format-error";
    } else {
        static const bl_runner_callbacks_t cb = {on_feed, NULL, on_status, on_done};
        job->attempts++;
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
    free(pl);
    remove_tmpdir(job);
    if (p->active_job == job)
        p->active_job = NULL;
    bl_job_set_state(job, BL_JOB_ABORTED, reason, why);
}
