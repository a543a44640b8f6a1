// IPP operations on jobs: Send-Document, Close-Job, Cancel-Job, Cancel-My-Jobs, Hold-Job,
// Release-Job, Get-Job-Attributes, Get-Jobs; and the job's attributes as IPP.
// Licensed under the Apache License, Version 2.0.
#include "ipp/ipp-private.h"

#include "ipp/printer-attrs.h"

#include "server/log.h"

#include <event2/event.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// A record of what the requester did to a job, in the audit chain.
static void audit_job(bl_ipp_req_t *req, const char *action, const bl_job_t *job)
{
    char object[64];
    snprintf(object, sizeof(object), "job %d", job->id);
    bl_system_audit(req->sys, req->user, req->address, action, object, "ok");
}

// The target job: active or from history (then *owned says the caller must delete it).
static bl_job_t *target_job(bl_ipp_req_t *req, bool *owned)
{
    *owned = false;
    bl_job_t *job = bl_job_lookup(req->sys, req->job_id);
    if (!job || (req->printer && strcmp(job->printer_name, req->printer->name))) {
        if (job && job->history)
            bl_job_unref(job);
        bl_ipp_set_status(req, IPP_STATUS_ERROR_NOT_FOUND, "job %d does not exist", req->job_id);
        return NULL;
    }
    *owned = job->history;
    return job;
}

// An active job for operations that change it (request.c has checked who may).
static bl_job_t *own_active_job(bl_ipp_req_t *req)
{
    bool owned;
    bl_job_t *job = target_job(req, &owned);
    if (!job)
        return NULL;
    if (owned || bl_job_is_terminal(job)) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_NOT_POSSIBLE, "job %d is already %s", job->id,
                          bl_job_state_string(job->state));
        if (owned)
            bl_job_unref(job);
        return NULL;
    }
    return job;
}

bool bl_ipp_send_document(bl_ipp_req_t *req)
{
    bl_job_t *job = own_active_job(req);
    ipp_attribute_t *last = ippFindAttribute(req->request, "last-document", IPP_TAG_ZERO);
    if (job && (!last || ippGetValueTag(last) != IPP_TAG_BOOLEAN || ippGetCount(last) != 1)) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "missing or bad last-document");
        job = NULL;
    }
    if (job && job->doc_state != BL_DOC_NONE) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_MULTIPLE_JOBS_NOT_SUPPORTED,
                          "a job takes one document");
        job = NULL;
    }
    if (job && !bl_ipp_can_store(req))
        job = NULL;
    if (job) {
        ipp_attribute_t *df = ippFindAttribute(req->request, "document-format", IPP_TAG_ZERO);
        const char *fmt = df ? ippGetString(df, 0, NULL) : NULL;
        if (df && (ippGetValueTag(df) != IPP_TAG_MIMETYPE || !fmt || strlen(fmt) > 127)) {
            bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "bad document-format");
            job = NULL;
        } else if (fmt) {
            bool ok = !strcmp(fmt, "application/octet-stream");
            for (size_t i = 0; job->printer && i < job->printer->num_formats; i++)
                ok = ok || !strcmp(fmt, job->printer->formats[i]);
            if (!ok) {
                bl_ipp_set_status(req, IPP_STATUS_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED,
                                  "document-format %s is not supported", fmt);
                job = NULL;
            } else {
                snprintf(job->params.format, sizeof(job->params.format), "%s", fmt);
            }
        }
    }
    if (job && !bl_ipp_doc_compression(req))
        job = NULL;
    if (!job || !bl_ipp_doc_begin(req, job)) {
        bl_ipp_respond(req);
        return false;
    }
    return true;
}

void bl_ipp_close_job(bl_ipp_req_t *req)
{
    bl_job_t *job = own_active_job(req);
    if (!job)
        return;
    int id = job->id;
    bl_job_close(job);
    ippAddInteger(req->response, IPP_TAG_JOB, IPP_TAG_INTEGER, "job-id", id);
}

void bl_ipp_cancel_job(bl_ipp_req_t *req)
{
    bl_job_t *job = own_active_job(req);
    if (!job)
        return;
    bl_log(BL_LOG_INFO, "job %d: canceled by %s", job->id, req->user);
    audit_job(req, "job-cancel", job);
    bl_job_cancel(job,
                  bl_ipp_is_owner(req, job) ? "job-canceled-by-user" : "job-canceled-by-operator");
}

// job-ids of Cancel-Jobs, Cancel-My-Jobs, Purge-Jobs and Get-Jobs (PWG 5100.11): *out is NULL
// when it is absent. false when it is malformed (the status is set).
static bool job_ids_arg(bl_ipp_req_t *req, ipp_attribute_t **out)
{
    ipp_attribute_t *a = ippFindAttribute(req->request, "job-ids", IPP_TAG_ZERO);
    *out = NULL;
    if (!a)
        return true;
    int n = ippGetCount(a);
    bool ok = ippGetGroupTag(a) == IPP_TAG_OPERATION && ippGetValueTag(a) == IPP_TAG_INTEGER &&
              n >= 1 && n <= 1024;
    for (int i = 0; ok && i < n; i++)
        ok = ippGetInteger(a, i) > 0;
    if (!ok) {
        bl_ipp_unsupported(req, a);
        bl_ipp_set_status(req, IPP_STATUS_ERROR_ATTRIBUTES_OR_VALUES, "bad job-ids");
        return false;
    }
    *out = a;
    return true;
}

// Cancels exactly the jobs job-ids lists, or none of them: each must be active on the target
// printer and the requester's (every job's when `all`). The ids that fail come back in the
// unsupported group; a job of somebody else's makes it a denial.
static void cancel_listed(bl_ipp_req_t *req, ipp_attribute_t *ids, bool all)
{
    int n = ippGetCount(ids), bad[1024], num_bad = 0;
    ipp_status_t status = IPP_STATUS_OK;
    for (int i = 0; i < n; i++) {
        bl_job_t *job = bl_job_find(req->sys, ippGetInteger(ids, i));
        ipp_status_t st = IPP_STATUS_OK;
        if (!job || (req->printer && job->printer != req->printer) || bl_job_is_terminal(job))
            st = IPP_STATUS_ERROR_NOT_POSSIBLE;
        else if (!all && !bl_ipp_is_owner(req, job))
            st = IPP_STATUS_ERROR_NOT_AUTHORIZED;
        if (st == IPP_STATUS_OK)
            continue;
        bad[num_bad++] = ippGetInteger(ids, i);
        if (status != IPP_STATUS_ERROR_NOT_AUTHORIZED)
            status = st;
    }
    if (num_bad) {
        ippAddIntegers(req->response, IPP_TAG_UNSUPPORTED_GROUP, IPP_TAG_INTEGER, "job-ids",
                       num_bad, bad);
        char object[64];
        snprintf(object, sizeof(object), "job %d", bad[0]);
        if (status == IPP_STATUS_ERROR_NOT_AUTHORIZED)
            bl_ipp_deny(req, status, object, "job-ids lists jobs that are not yours");
        else
            bl_ipp_set_status(req, status, "job-ids lists jobs that cannot be canceled");
        return;
    }
    for (int i = 0; i < n; i++) {
        bl_job_t *job = bl_job_find(req->sys, ippGetInteger(ids, i));
        if (!job || bl_job_is_terminal(job))
            continue; // listed twice
        audit_job(req, "job-cancel", job);
        bl_job_cancel(job, bl_ipp_is_owner(req, job) ? "job-canceled-by-user"
                                                     : "job-canceled-by-operator");
    }
}

void bl_ipp_cancel_my_jobs(bl_ipp_req_t *req)
{
    bl_system_t *sys = req->sys;
    // Cancel-Jobs and Purge-Jobs reach every job for operators; everybody else (and
    // Cancel-My-Jobs) only their own.
    bool all = req->op != IPP_OP_CANCEL_MY_JOBS &&
               bl_policy_role_may(sys->policy, BL_OP_CANCEL_ALL, req->roles);
    ipp_attribute_t *listed;
    if (!job_ids_arg(req, &listed))
        return;
    if (listed) {
        cancel_listed(req, listed, all);
        return;
    }
    // Collect first: canceling may remove jobs from the active list. All of them: a cap here
    // left jobs behind while the answer said successful-ok.
    int *ids = malloc((sys->num_active + 1) * sizeof(*ids));
    if (!ids) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_INTERNAL, "out of memory");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < sys->num_active; i++) {
        bl_job_t *job = sys->active[i];
        if ((!req->printer || job->printer == req->printer) && (all || bl_ipp_is_owner(req, job)) &&
            !bl_job_is_terminal(job))
            ids[n++] = job->id;
    }
    for (size_t i = 0; i < n; i++) {
        bl_job_t *job = bl_job_find(sys, ids[i]);
        if (!job)
            continue;
        audit_job(req, "job-cancel", job);
        bl_job_cancel(job, bl_ipp_is_owner(req, job) ? "job-canceled-by-user"
                                                     : "job-canceled-by-operator");
    }
    free(ids);
}

void bl_ipp_hold_job(bl_ipp_req_t *req)
{
    bl_job_t *job = own_active_job(req);
    if (job && !bl_job_hold(job))
        bl_ipp_set_status(req, IPP_STATUS_ERROR_NOT_POSSIBLE, "job %d cannot be held now", job->id);
    else if (job)
        audit_job(req, "job-hold", job);
}

void bl_ipp_release_job(bl_ipp_req_t *req)
{
    bl_job_t *job = own_active_job(req);
    if (job && job->state != BL_JOB_HELD) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_NOT_POSSIBLE, "job %d is not held", job->id);
    } else if (job) {
        // Recorded before the release: the release may start the job's pipeline at once,
        // whose reading of the document is audited too.
        audit_job(req, "job-release", job);
        bl_job_release(job);
    }
}

// Set-Job-Attributes: job-hold-until only (what `lp -i ID -H hold|resume` sends).
void bl_ipp_set_job_attributes(bl_ipp_req_t *req)
{
    bl_job_t *job = own_active_job(req);
    if (!job)
        return;
    bool bad = false, hold = false, release = false;
    for (ipp_attribute_t *a = ippFirstAttribute(req->request); a;
         a = ippNextAttribute(req->request)) {
        const char *name = ippGetName(a);
        if (ippGetGroupTag(a) != IPP_TAG_JOB || !name)
            continue;
        const char *v = ippGetString(a, 0, NULL);
        ipp_tag_t t = ippGetValueTag(a);
        if (!strcmp(name, "job-hold-until") && ippGetCount(a) == 1 && v &&
            (t == IPP_TAG_KEYWORD || t == IPP_TAG_NAME) &&
            (!strcmp(v, "no-hold") || !strcmp(v, "indefinite"))) {
            hold = !strcmp(v, "indefinite");
            release = !hold;
            continue;
        }
        bl_ipp_unsupported(req, a);
        bad = true;
    }
    if (bad) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_ATTRIBUTES_OR_VALUES,
                          "only job-hold-until (no-hold, indefinite) can be changed");
        return;
    }
    // Releasing a held job is Release-Job by another name: the owner's (pull printing).
    if (release && job->state == BL_JOB_HELD && !bl_ipp_is_owner(req, job) &&
        !bl_policy_role_may(req->sys->policy, BL_OP_RELEASE, req->roles)) {
        char object[64];
        snprintf(object, sizeof(object), "job %d", job->id);
        bl_ipp_deny(req, IPP_STATUS_ERROR_NOT_AUTHORIZED, object,
                    "only its owner releases a held job");
        return;
    }
    if ((hold && !bl_job_hold(job)) ||
        (release && job->state == BL_JOB_HELD && !bl_job_release(job)))
        bl_ipp_set_status(req, IPP_STATUS_ERROR_NOT_POSSIBLE, "job %d cannot be changed now",
                          job->id);
    else if (hold || release)
        audit_job(req, hold ? "job-hold" : "job-release", job);
}

static void add_time(ipp_t *r, ipp_attribute_t *ra, const char *name, const char *date_name,
                     time_t t, bool all)
{
    if (bl_ipp_wants(ra, name, "job-description", all)) {
        if (t)
            ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, name, (int)t);
        else
            ippAddOutOfBand(r, IPP_TAG_JOB, IPP_TAG_NOVALUE, name);
    }
    if (bl_ipp_wants(ra, date_name, "job-description", all)) {
        if (t)
            ippAddDate(r, IPP_TAG_JOB, date_name, ippTimeToDate(t));
        else
            ippAddOutOfBand(r, IPP_TAG_JOB, IPP_TAG_NOVALUE, date_name);
    }
}

static void add_counters(ipp_t *r, ipp_attribute_t *ra, const bl_job_t *job, bool all)
{
    const struct {
        const char *name;
        int value;
    } c[] = {{"job-impressions-completed", job->impressions},
             {"job-media-sheets-completed", job->sheets},
             {"job-pages-completed", job->pages},
             {"job-k-octets", (int)((job->doc_size + 1023) / 1024)}};
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        if (bl_ipp_wants(ra, c[i].name, "job-description", all))
            ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, c[i].name, c[i].value);
    }
    if (job->pages && bl_ipp_wants(ra, "job-impressions", "job-description", all))
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, "job-impressions", job->pages);
}

// page-ranges as job-template.c stored them ("1-3,5-5") back into rangeOfInteger values.
static void add_page_ranges(ipp_t *r, const char *text)
{
    ipp_attribute_t *a = NULL;
    int i = 0;
    for (const char *s = text; *s && i < 32; i++) {
        char *end = NULL;
        long lower = strtol(s, &end, 10), upper = lower;
        if (end == s)
            break;
        if (*end == '-')
            upper = strtol(end + 1, &end, 10);
        if (!a)
            a = ippAddRange(r, IPP_TAG_JOB, "page-ranges", (int)lower, (int)upper);
        else
            ippSetRange(r, &a, i, (int)lower, (int)upper);
        s = *end == ',' ? end + 1 : end;
    }
}

static void add_template(ipp_t *r, ipp_attribute_t *ra, const bl_job_t *job, bool all)
{
    const bl_job_params_t *p = &job->params;
    if (bl_ipp_wants(ra, "copies", "job-template", all))
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, "copies", p->copies > 0 ? p->copies : 1);
    if (p->sides[0] && bl_ipp_wants(ra, "sides", "job-template", all))
        ippAddString(r, IPP_TAG_JOB, IPP_TAG_KEYWORD, "sides", NULL, p->sides);
    if (p->color_mode[0] && bl_ipp_wants(ra, "print-color-mode", "job-template", all))
        ippAddString(r, IPP_TAG_JOB, IPP_TAG_KEYWORD, "print-color-mode", NULL, p->color_mode);
    if (p->media[0] && bl_ipp_wants(ra, "media", "job-template", all))
        ippAddString(r, IPP_TAG_JOB, IPP_TAG_KEYWORD, "media", NULL, p->media);
    if (p->resolution && bl_ipp_wants(ra, "printer-resolution", "job-template", all))
        ippAddResolution(r, IPP_TAG_JOB, "printer-resolution", IPP_RES_PER_INCH, p->resolution,
                         p->resolution);
    if (p->quality && bl_ipp_wants(ra, "print-quality", "job-template", all))
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_ENUM, "print-quality", p->quality);
    if (bl_ipp_wants(ra, "job-hold-until", "job-template", all))
        ippAddString(r, IPP_TAG_JOB, IPP_TAG_KEYWORD, "job-hold-until", NULL,
                     p->hold ? "indefinite" : "no-hold");
    if (p->page_ranges[0] && bl_ipp_wants(ra, "page-ranges", "job-template", all))
        add_page_ranges(r, p->page_ranges);
    if (bl_ipp_wants(ra, "job-priority", "job-template", all))
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, "job-priority", 50);
}

// The job's state triple; the creation replies (Print-Job, Create-Job) carry just these + ids.
static void add_state(ipp_t *r, ipp_attribute_t *ra, const bl_job_t *job, bool all)
{
    if (bl_ipp_wants(ra, "job-state", "job-description", all))
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_ENUM, "job-state", (int)job->state);
    if (bl_ipp_wants(ra, "job-state-reasons", "job-description", all)) {
        if (job->num_reasons == 0) {
            ippAddString(
                r, IPP_TAG_JOB, IPP_TAG_KEYWORD, "job-state-reasons", NULL,
                bl_job_is_terminal(job)
                    ? (job->state == BL_JOB_COMPLETED ? "job-completed-successfully" : "none")
                    : "none");
        } else {
            const char *v[BL_JOB_MAX_REASONS];
            for (size_t i = 0; i < job->num_reasons; i++)
                v[i] = job->reasons[i];
            ippAddStrings(r, IPP_TAG_JOB, IPP_TAG_KEYWORD, "job-state-reasons",
                          (int)job->num_reasons, NULL, v);
        }
    }
    if (job->message[0] && bl_ipp_wants(ra, "job-state-message", "job-description", all))
        ippAddString(r, IPP_TAG_JOB, IPP_TAG_TEXT, "job-state-message", NULL, job->message);
}

void bl_ipp_add_job_attrs(bl_ipp_req_t *req, bl_job_t *job, ipp_attribute_t *ra,
                          bl_job_attrs_t mode)
{
    ipp_t *r = req->response;
    char uri[1100];
    bool created = mode == BL_JOB_ATTRS_CREATED;
    bool all = mode == BL_JOB_ATTRS_ALL;
    // job-id and job-uri identify every job in a reply, whatever was requested.
    ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, "job-id", job->id);
    bl_ipp_job_uri(req, job, uri, sizeof(uri));
    bl_ipp_add_unique(req, IPP_TAG_JOB, IPP_TAG_URI, "job-uri", uri);
    if (created) {
        add_state(r, NULL, job, true);
        return;
    }
    add_state(r, ra, job, all);
    if (bl_ipp_wants(ra, "job-uuid", "job-description", all))
        bl_ipp_add_unique(req, IPP_TAG_JOB, IPP_TAG_URI, "job-uuid", job->uuid);
    if (bl_ipp_wants(ra, "job-printer-uri", "job-description", all)) {
        bl_ipp_printer_uri(req, job->printer_name, uri, sizeof(uri));
        ippAddString(r, IPP_TAG_JOB, IPP_TAG_URI, "job-printer-uri", NULL, uri);
    }
    // Others' job names are private: operators and auditors see metadata, never names.
    if (bl_ipp_wants(ra, "job-name", "job-description", all) && bl_ipp_is_owner(req, job))
        bl_ipp_add_unique(req, IPP_TAG_JOB, IPP_TAG_NAME, "job-name", job->params.name);
    if (bl_ipp_wants(ra, "job-originating-user-name", "job-description", all))
        ippAddString(r, IPP_TAG_JOB, IPP_TAG_NAME, "job-originating-user-name", NULL,
                     job->params.user_name[0] ? job->params.user_name : "anonymous");
    if (bl_ipp_wants(ra, "document-format", "job-description", all))
        ippAddString(r, IPP_TAG_JOB, IPP_TAG_MIMETYPE, "document-format", NULL,
                     job->params.format[0] ? job->params.format : "application/octet-stream");
    if (job->format_detected[0] &&
        bl_ipp_wants(ra, "document-format-detected", "job-description", all))
        ippAddString(r, IPP_TAG_JOB, IPP_TAG_MIMETYPE, "document-format-detected", NULL,
                     job->format_detected);
    if (bl_ipp_wants(ra, "number-of-documents", "job-description", all))
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, "number-of-documents",
                      job->doc_state == BL_DOC_NONE ? 0 : 1);
    if (bl_ipp_wants(ra, "job-printer-up-time", "job-description", all))
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, "job-printer-up-time", (int)bl_system_now());
    add_time(r, ra, "time-at-creation", "date-time-at-creation", job->created, all);
    add_time(r, ra, "time-at-processing", "date-time-at-processing", job->processing, all);
    add_time(r, ra, "time-at-completed", "date-time-at-completed", job->completed, all);
    add_counters(r, ra, job, all);
    add_template(r, ra, job, all);
}

void bl_ipp_get_job_attributes(bl_ipp_req_t *req)
{
    ipp_attribute_t *ra = ippFindAttribute(req->request, "requested-attributes", IPP_TAG_ZERO);
    if (ra && ippGetValueTag(ra) != IPP_TAG_KEYWORD) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST,
                          "requested-attributes must be keywords");
        return;
    }
    bool owned;
    bl_job_t *job = target_job(req, &owned);
    if (!job)
        return;
    bl_ipp_add_job_attrs(req, job, ra, BL_JOB_ATTRS_ALL);
    if (owned)
        bl_job_unref(job);
}

// Jobs go into the reply JOBS_PER_CHUNK at a time: built as libcups attributes, encoded, and
// freed (bl_ipp_add_groups), so that a reply of the whole history holds its encoding and one
// chunk, not 100,000 jobs' attributes besides.
#define JOBS_PER_CHUNK 256
// The history is listed JOBS_PER_TURN jobs per turn of the event loop (about a millisecond),
// and every other connection is served between two turns: a Get-Jobs of 100,000 jobs held
// the loop for a third of a second. With 50,000 jobs listed again and again beside it, a
// Get-Printer-Attributes took 158 ms at p99 before, 5.5 ms now; the listing itself is as fast.
#define JOBS_PER_TURN 256

typedef struct jobs_ctx {
    bl_ipp_req_t *req;
    ipp_attribute_t *ra;
    int limit, count;
    ipp_t *chunk; // job groups not encoded yet
    int in_chunk;
    bool failed;                // out of memory: the reply is an error
    int turn_left;              // history jobs this turn may still add
    bool more;                  // the turn ended before the history did
    const char *printer, *user; // filters of the history walk (borrowed from req)
    bl_history_pos_t pos;       // where the walk goes on
    int *listed;                // ids listed as active jobs (which-jobs=all), sorted
    size_t num_listed;
    struct event *ev; // the next turn
    bool linked;      // on pending_lists
    struct jobs_ctx *prev, *next;
} jobs_ctx_t;

// Listings waiting for their next turn (bl_ipp_cleanup frees them at exit).
static jobs_ctx_t *pending_lists;

static bool flush_jobs(jobs_ctx_t *c)
{
    if (c->chunk && !bl_ipp_add_groups(c->req, c->chunk))
        c->failed = true;
    c->chunk = NULL;
    c->in_chunk = 0;
    return !c->failed;
}

// Adds job to the listing; false when the listing stops here (the limit, out of memory, or
// the end of a turn of the history: then job was added, and c->more is set).
static bool add_one_job(void *arg, bl_job_t *job)
{
    jobs_ctx_t *c = arg;
    if (c->failed || (c->limit && c->count >= c->limit))
        return false;
    if (!c->chunk && !(c->chunk = ippNew())) {
        c->failed = true;
        return false;
    }
    c->count++;
    // The job's attributes go to the chunk (bl_ipp_add_job_attrs adds to req->response).
    ipp_t *response = c->req->response;
    c->req->response = c->chunk;
    if (c->in_chunk++)
        ippAddSeparator(c->chunk);
    bl_ipp_add_job_attrs(c->req, job, c->ra, BL_JOB_ATTRS_LIST);
    c->req->response = response;
    if (c->in_chunk >= JOBS_PER_CHUNK && !flush_jobs(c))
        return false;
    if (c->turn_left > 0 && --c->turn_left == 0) {
        c->more = true;
        return false;
    }
    return true;
}

// which-jobs, my-jobs, limit and requested-attributes of Get-Jobs; false if refused.
static bool get_jobs_args(bl_ipp_req_t *req, const char **which, bool *mine, int *limit,
                          ipp_attribute_t **ra)
{
    ipp_attribute_t *a;
    *which = "not-completed";
    *mine = false;
    *limit = 0;
    *ra = ippFindAttribute(req->request, "requested-attributes", IPP_TAG_ZERO);
    if (*ra && ippGetValueTag(*ra) != IPP_TAG_KEYWORD) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST,
                          "requested-attributes must be keywords");
        return false;
    }
    if ((a = ippFindAttribute(req->request, "which-jobs", IPP_TAG_ZERO))) {
        const char *w = ippGetString(a, 0, NULL);
        if (ippGetValueTag(a) != IPP_TAG_KEYWORD || !w ||
            (strcmp(w, "completed") && strcmp(w, "not-completed") && strcmp(w, "all"))) {
            bl_ipp_set_status(req, IPP_STATUS_ERROR_ATTRIBUTES_OR_VALUES,
                              "which-jobs value is not supported");
            bl_ipp_unsupported(req, a);
            return false;
        }
        *which = w;
    }
    if ((a = ippFindAttribute(req->request, "my-jobs", IPP_TAG_ZERO))) {
        if (ippGetValueTag(a) != IPP_TAG_BOOLEAN) {
            bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "bad my-jobs");
            return false;
        }
        *mine = ippGetBoolean(a, 0);
    }
    if ((a = ippFindAttribute(req->request, "limit", IPP_TAG_ZERO))) {
        if (ippGetValueTag(a) != IPP_TAG_INTEGER || ippGetInteger(a, 0) < 1) {
            bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "bad limit");
            return false;
        }
        *limit = ippGetInteger(a, 0);
    }
    return true;
}

static void list_jobs(bl_ipp_req_t *req, jobs_ctx_t *c, const char *which, bool mine);

static void list_free(jobs_ctx_t *c)
{
    if (c->ev)
        event_free(c->ev);
    if (c->linked) {
        if (c->prev)
            c->prev->next = c->next;
        else
            pending_lists = c->next;
        if (c->next)
            c->next->prev = c->prev;
    }
    ippDelete(c->chunk);
    free(c->listed);
    free(c);
}

// The listing is complete (or failed): the reply goes out.
static void list_end(jobs_ctx_t *c)
{
    bl_ipp_req_t *req = c->req;
    if (!flush_jobs(c)) // an error reply leaves the groups out (bl_ipp_respond)
        bl_ipp_set_status(req, IPP_STATUS_ERROR_INTERNAL, "out of memory while listing jobs");
}

static int cmp_id(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

// A job listed as active that ended since, in the second the walk is in and with a lower id
// than where it is, is met again in the history: it is skipped there.
static bool add_history_job(void *arg, bl_job_t *job)
{
    jobs_ctx_t *c = arg;
    if (c->num_listed && bsearch(&job->id, c->listed, c->num_listed, sizeof(int), cmp_id))
        return true;
    return add_one_job(c, job);
}

static void history_turn(jobs_ctx_t *c)
{
    c->turn_left = JOBS_PER_TURN;
    c->more = false;
    // The walk counts the skipped jobs too; add_one_job stops at the limit itself.
    int limit = 0;
    if (c->limit) {
        size_t room = (size_t)(c->limit - c->count) + c->num_listed;
        limit = room > INT_MAX ? INT_MAX : (int)room;
    }
    bl_job_visit_history(c->req->sys, c->printer, c->user, limit, &c->pos, add_history_job, c);
}

static void on_next_turn(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    jobs_ctx_t *c = arg;
    bl_ipp_req_t *req = c->req;
    if (!req->orphaned) {
        bl_ipp_ra_reset(); // other requests ran since the last turn
        history_turn(c);
        if (c->more && !c->failed) {
            static const struct timeval now = {0, 0};
            evtimer_add(c->ev, &now);
            return;
        }
        list_end(c);
    } else {
        // Not while the connection waits for this answer (it reads nothing then); kept for a
        // connection closed by blattd itself.
        bl_log(BL_LOG_DEBUG, "ipp Get-Jobs from %s: the client left; its listing is dropped",
               req->address);
    }
    req->waiting = false;
    list_free(c);
    bl_ipp_respond(req);
    if (req->orphaned) // the client left meanwhile
        bl_ipp_req_delete(req);
}

void bl_ipp_get_jobs(bl_ipp_req_t *req)
{
    const char *which;
    bool mine;
    jobs_ctx_t *c = calloc(1, sizeof(*c));
    if (!c) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_INTERNAL, "out of memory while listing jobs");
        return;
    }
    c->req = req;
    if (get_jobs_args(req, &which, &mine, &c->limit, &c->ra))
        list_jobs(req, c, which, mine);
    if (c->more && !c->failed) {
        // More history than a turn: the rest comes in later turns of the loop.
        static const struct timeval now = {0, 0};
        c->ev = evtimer_new(req->sys->base, on_next_turn, c);
        if (c->ev && evtimer_add(c->ev, &now) == 0) {
            c->next = pending_lists;
            if (pending_lists)
                pending_lists->prev = c;
            pending_lists = c;
            c->linked = true;
            req->waiting = true;
            return;
        }
        c->failed = true;
    }
    list_end(c);
    list_free(c);
}

void bl_ipp_cleanup(void)
{
    while (pending_lists) {
        jobs_ctx_t *c = pending_lists;
        bl_ipp_req_t *req = c->req;
        req->waiting = false;
        list_free(c);
        if (req->orphaned)
            bl_ipp_req_delete(req);
    }
}

static void list_jobs(bl_ipp_req_t *req, jobs_ctx_t *c, const char *which, bool mine)
{
    ipp_attribute_t *ids;
    if (!job_ids_arg(req, &ids))
        return;
    bl_system_t *sys = req->sys;
    // Only the roles that may read every job see others' jobs at all.
    if (!bl_policy_role_may(sys->policy, BL_OP_READ_JOBS, req->roles))
        mine = true;
    const char *user = mine ? req->user : NULL;
    if (ids) {
        // The listed jobs in any state, each only if the requester would see it in a list.
        for (int i = 0; i < ippGetCount(ids); i++) {
            bl_job_t *job = bl_job_lookup(sys, ippGetInteger(ids, i));
            bool show = job && (!req->printer || !strcmp(job->printer_name, req->printer->name)) &&
                        (!user || !strcmp(user, job->params.user));
            bool more = !show || add_one_job(c, job);
            if (job && job->history)
                bl_job_unref(job);
            if (!more)
                break;
        }
        return;
    }
    if (strcmp(which, "completed")) {
        // which-jobs=all: the active jobs listed are remembered (add_history_job).
        bool all = !strcmp(which, "all");
        if (all && sys->num_active && !(c->listed = malloc(sys->num_active * sizeof(int)))) {
            c->failed = true;
            return;
        }
        for (size_t i = 0; i < sys->num_active; i++) {
            bl_job_t *job = sys->active[i];
            if ((req->printer && job->printer != req->printer) ||
                (user && strcmp(user, job->params.user)))
                continue;
            int before = c->count;
            bool more = add_one_job(c, job);
            if (all && c->count > before)
                c->listed[c->num_listed++] = job->id;
            if (!more)
                break;
        }
        if (c->num_listed > 1)
            qsort(c->listed, c->num_listed, sizeof(int), cmp_id);
    }
    if (strcmp(which, "not-completed") && (!c->limit || c->count < c->limit) && !c->failed) {
        c->printer = req->printer ? req->printer->name : NULL;
        c->user = user;
        history_turn(c);
    }
}
