// Backend ipp (also ipps): sends a job to an IPP printer and follows it to the end.
// Licensed under the Apache License, Version 2.0.
//
// Flow: Get-Printer-Attributes, Create-Job + Send-Document (streaming stdin; Print-Job from
// a memfd copy when the device lacks Create-Job), then Get-Job-Attributes until the device
// job ends. server-error-busy is retried for as long as it takes. Exit codes: 0 done,
// 1 failed or canceled by SIGTERM (after Cancel-Job), 4 not accepting jobs, 5 canceled at
// the device, 6 unreachable or transfer failed (blattd resends the job later).
// Printer replies are untrusted: only keywords and integers are used, text is sanitised.
#include "drivers/drivers-private.h"
#include "drivers/drv-ipp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PRINT_JOB_MAX_SIZE (2ull << 30)
#define MAX_REASONS 16
#define LOST_CONTACT_LIMIT 60 // polls (about a minute) without an answer after the transfer

typedef struct reasons {
    size_t count;
    char kw[MAX_REASONS][64];
} reasons_t;

typedef struct job_ctx {
    bl_ipp_conn_t conn;
    bl_options_t opts;
    const char *format;
    char job_name[256];
    char user_name[256];
    bool template_attrs;
    char dropped[8][32]; // template attributes the printer reported as unsupported
    size_t num_dropped;
    bool create_job;
    bool told_busy;
    int job_id;
    bool finished;     // the device job ended (or we stopped following it)
    bool canceled;     // Cancel-Job was sent
    reasons_t reasons; // printer-state-reasons we have reported with STATE: +
    long counters[4];  // last reported ATTR values
} job_ctx_t;

// Printer-state-reasons that blattd wants to see (without -error/-warning/-report).
static const char *const interesting_reasons[] = {
    "media-empty",       "media-jam",        "media-needed",        "media-low",
    "toner-empty",       "toner-low",        "marker-supply-empty", "marker-supply-low",
    "marker-waste-full", "cover-open",       "door-open",           "interlock-open",
    "offline",           "output-area-full", "input-tray-missing",  "output-tray-missing",
    "spool-area-full",   "shutdown",         "connecting-to-device"};

static bool keyword_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static bool reason_interesting(const char *kw)
{
    static const char *const suffixes[] = {"-error", "-warning", "-report"};
    size_t n = strlen(kw);
    for (size_t s = 0; s < 3; s++) {
        size_t sl = strlen(suffixes[s]);
        if (n > sl && !strcmp(kw + n - sl, suffixes[s]))
            n -= sl;
    }
    for (size_t i = 0; i < sizeof(interesting_reasons) / sizeof(interesting_reasons[0]); i++)
        if (strlen(interesting_reasons[i]) == n && !strncmp(interesting_reasons[i], kw, n))
            return true;
    return false;
}

static bool reasons_has(const reasons_t *r, const char *kw)
{
    for (size_t i = 0; i < r->count; i++)
        if (!strcmp(r->kw[i], kw))
            return true;
    return false;
}

// Reports printer-state-reasons changes as STATE: +/- lines.
static void update_reasons(job_ctx_t *x, ipp_t *resp)
{
    reasons_t now = {0};
    ipp_attribute_t *a = ippFindAttribute(resp, "printer-state-reasons", IPP_TAG_KEYWORD);
    for (int i = 0; a && i < ippGetCount(a) && now.count < MAX_REASONS; i++) {
        const char *kw = ippGetString(a, i, NULL);
        if (keyword_ok(kw) && reason_interesting(kw) && !reasons_has(&now, kw))
            snprintf(now.kw[now.count++], sizeof(now.kw[0]), "%s", kw);
    }
    // Removals first: blattd shows a bounded number of reasons (BL_PRINTER_DEVICE_REASONS).
    for (size_t i = 0; i < x->reasons.count; i++)
        if (!reasons_has(&now, x->reasons.kw[i]))
            bl_drv_msg("STATE", "-%s", x->reasons.kw[i]);
    for (size_t i = 0; i < now.count; i++)
        if (!reasons_has(&x->reasons, now.kw[i]))
            bl_drv_msg("STATE", "+%s", now.kw[i]);
    x->reasons = now;
}

static void clear_reasons(job_ctx_t *x)
{
    for (size_t i = 0; i < x->reasons.count; i++)
        bl_drv_msg("STATE", "-%s", x->reasons.kw[i]);
    x->reasons.count = 0;
}

// The printer's status-message, sanitised and bounded (or "").
static const char *status_message(ipp_t *resp, char *buf, size_t len)
{
    ipp_attribute_t *a = ippFindAttribute(resp, "status-message", IPP_TAG_TEXT);
    const char *m = a ? ippGetString(a, 0, NULL) : NULL;
    buf[0] = '\0';
    if (m)
        bl_text_sanitize(m, strnlen(m, 200), buf, len);
    return buf;
}

static bool is_busy(ipp_status_t st)
{
    return st == IPP_STATUS_ERROR_BUSY || st == IPP_STATUS_ERROR_SERVICE_UNAVAILABLE ||
           st == IPP_STATUS_ERROR_TEMPORARY;
}

static void poll_printer(job_ctx_t *x);

// Waits before retrying a busy printer: 0.25 s doubling to 5 s. false when canceled.
static bool wait_busy(job_ctx_t *x, long *delay)
{
    if (!x->told_busy)
        bl_drv_msg("INFO", "the printer is busy; waiting for it");
    x->told_busy = true;
    if (x->conn.http)
        poll_printer(x);
    bool ok = bl_drv_sleep_ms(*delay);
    *delay = *delay * 2 > 5000 ? 5000 : *delay * 2;
    return ok;
}

// Exit code for a final IPP error status of a job-creating request.
static int fail_status(ipp_t *resp, const char *what)
{
    char msg[256];
    ipp_status_t st = ippGetStatusCode(resp);
    status_message(resp, msg, sizeof(msg));
    if (st == IPP_STATUS_ERROR_NOT_ACCEPTING_JOBS) {
        bl_drv_msg("ERROR", "the printer is not accepting jobs");
        return BL_EXIT_STOP;
    }
    if (st == IPP_STATUS_ERROR_NOT_AUTHENTICATED || st == IPP_STATUS_ERROR_NOT_AUTHORIZED ||
        st == IPP_STATUS_ERROR_FORBIDDEN) {
        bl_drv_msg("ERROR", "the printer refused %s: %s%s%s", what, ippErrorString(st),
                   *msg ? ": " : "", msg);
        return BL_EXIT_STOP;
    }
    bl_drv_msg("ERROR", "the printer rejected %s: %s%s%s", what, ippErrorString(st),
               *msg ? ": " : "", msg);
    return BL_EXIT_FAILED;
}

static bool dropped(const job_ctx_t *x, const char *name)
{
    for (size_t i = 0; i < x->num_dropped; i++)
        if (!strcmp(x->dropped[i], name))
            return true;
    return false;
}

// Remembers the attributes of the unsupported-attributes group; false when there are none.
static bool drop_unsupported(job_ctx_t *x, ipp_t *resp)
{
    size_t before = x->num_dropped;
    for (ipp_attribute_t *a = ippFirstAttribute(resp); a; a = ippNextAttribute(resp)) {
        const char *name = ippGetName(a);
        if (ippGetGroupTag(a) != IPP_TAG_UNSUPPORTED_GROUP || !keyword_ok(name) ||
            dropped(x, name) || x->num_dropped == 8 || strlen(name) >= sizeof(x->dropped[0]))
            continue;
        snprintf(x->dropped[x->num_dropped++], sizeof(x->dropped[0]), "%s", name);
        bl_drv_msg("WARNING", "the printer does not support %s; sending the job without it", name);
    }
    return x->num_dropped > before;
}

// Adds the job template attributes present in OPTIONS (values validated by blattd).
static void add_template(job_ctx_t *x, ipp_t *req)
{
    const bl_options_t *o = &x->opts;
    long copies = bl_options_get_int(o, "copies", 1, 9999, 0);
    if (copies > 0 && !dropped(x, "copies"))
        ippAddInteger(req, IPP_TAG_JOB, IPP_TAG_INTEGER, "copies", (int)copies);
    static const char *const keywords[] = {"sides", "print-color-mode", "media"};
    for (size_t i = 0; i < 3; i++) {
        const char *v = bl_options_find(o, keywords[i]);
        if (v && !dropped(x, keywords[i]))
            ippAddString(req, IPP_TAG_JOB, IPP_TAG_KEYWORD, keywords[i], NULL, v);
    }
    long quality = bl_options_get_int(o, "print-quality", 3, 5, 0);
    if (quality > 0 && !dropped(x, "print-quality"))
        ippAddInteger(req, IPP_TAG_JOB, IPP_TAG_ENUM, "print-quality", (int)quality);
    const char *res =
        dropped(x, "printer-resolution") ? NULL : bl_options_find(o, "printer-resolution");
    int xr, yr;
    char unit[8];
    if (res && sscanf(res, "%dx%d%7s", &xr, &yr, unit) == 3 && !strcmp(unit, "dpi") && xr > 0 &&
        yr > 0)
        ippAddResolution(req, IPP_TAG_JOB, "printer-resolution", IPP_RES_PER_INCH, xr, yr);
    else if (res && sscanf(res, "%d%7s", &xr, unit) == 2 && !strcmp(unit, "dpi") && xr > 0)
        ippAddResolution(req, IPP_TAG_JOB, "printer-resolution", IPP_RES_PER_INCH, xr, xr);
}

// A Create-Job or Print-Job request with the job's description and template.
static ipp_t *job_request(job_ctx_t *x, ipp_op_t op)
{
    ipp_t *req = bl_ipp_conn_request(&x->conn, op);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL, x->user_name);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "job-name", NULL, x->job_name);
    if (op == IPP_OP_PRINT_JOB)
        ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", NULL, x->format);
    if (x->template_attrs)
        add_template(x, req);
    return req;
}

static bool format_supported(ipp_t *resp, const char *format)
{
    ipp_attribute_t *a = ippFindAttribute(resp, "document-format-supported", IPP_TAG_MIMETYPE);
    if (!a)
        return true;
    // application/octet-stream ("auto-detect") does not promise that every format prints.
    return ippContainsString(a, format);
}

static bool op_supported(ipp_t *resp, int op)
{
    ipp_attribute_t *a = ippFindAttribute(resp, "operations-supported", IPP_TAG_ENUM);
    return a && ippContainsInteger(a, op);
}

// Get-Printer-Attributes: which operations, formats; retries busy and old IPP versions.
static int query_printer(job_ctx_t *x)
{
    static const char *const attrs[] = {"operations-supported", "document-format-supported",
                                        "printer-state", "printer-state-reasons",
                                        "printer-is-accepting-jobs"};
    long delay = 250;
    for (;;) {
        char why[256];
        ipp_t *req = bl_ipp_conn_request(&x->conn, IPP_OP_GET_PRINTER_ATTRIBUTES);
        ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", 5, NULL,
                      attrs);
        ipp_t *resp = bl_ipp_conn_do(&x->conn, req, why, sizeof(why));
        if (bl_drv_terminated) {
            ippDelete(resp);
            return BL_EXIT_FAILED;
        }
        if (!resp) {
            bl_drv_msg("ERROR", "cannot connect to %s:%d: %s", x->conn.host, x->conn.port, why);
            return BL_EXIT_RETRY;
        }
        ipp_status_t st = ippGetStatusCode(resp);
        if (st == IPP_STATUS_ERROR_VERSION_NOT_SUPPORTED && x->conn.version == 20) {
            x->conn.version = 11;
            ippDelete(resp);
            continue;
        }
        if (is_busy(st)) {
            ippDelete(resp);
            if (!wait_busy(x, &delay))
                return BL_EXIT_FAILED;
            continue;
        }
        if (st > IPP_STATUS_OK_EVENTS_COMPLETE) {
            int rc = fail_status(resp, "Get-Printer-Attributes");
            ippDelete(resp);
            return rc;
        }
        update_reasons(x, resp);
        x->create_job =
            op_supported(resp, IPP_OP_CREATE_JOB) && op_supported(resp, IPP_OP_SEND_DOCUMENT);
        bool fmt_ok = format_supported(resp, x->format);
        ippDelete(resp);
        if (!fmt_ok) {
            bl_drv_msg("ERROR", "the printer does not accept %s", x->format);
            return BL_EXIT_FAILED;
        }
        return -1;
    }
}

static void cancel_device_job(job_ctx_t *x);

// Create-Job, retried while busy; on unsupported attributes retried once without them.
static int create_job(job_ctx_t *x)
{
    long delay = 250;
    for (;;) {
        char why[256];
        ipp_t *resp = bl_ipp_conn_do(&x->conn, job_request(x, IPP_OP_CREATE_JOB), why, sizeof(why));
        if (bl_drv_terminated) {
            // Canceled while Create-Job was on its way: a job the printer made must not stay
            // there (it would keep the printer busy for everyone after us).
            ipp_attribute_t *made = resp ? ippFindAttribute(resp, "job-id", IPP_TAG_INTEGER) : NULL;
            if (made && ippGetInteger(made, 0) > 0) {
                x->job_id = ippGetInteger(made, 0);
                cancel_device_job(x);
            }
            ippDelete(resp);
            return BL_EXIT_FAILED;
        }
        if (!resp) {
            bl_drv_msg("ERROR", "cannot connect to %s:%d: %s", x->conn.host, x->conn.port, why);
            return BL_EXIT_RETRY;
        }
        ipp_status_t st = ippGetStatusCode(resp);
        ipp_attribute_t *id = ippFindAttribute(resp, "job-id", IPP_TAG_INTEGER);
        if (st <= IPP_STATUS_OK_EVENTS_COMPLETE && id && ippGetInteger(id, 0) > 0) {
            x->job_id = ippGetInteger(id, 0);
            ippDelete(resp);
            return -1;
        }
        if (st == IPP_STATUS_ERROR_ATTRIBUTES_OR_VALUES && x->template_attrs) {
            if (!drop_unsupported(x, resp)) {
                bl_drv_msg("WARNING", "the printer does not support the job options; "
                                      "sending the job without them");
                x->template_attrs = false;
            }
            ippDelete(resp);
            continue;
        }
        if (is_busy(st)) {
            ippDelete(resp);
            if (!wait_busy(x, &delay))
                return BL_EXIT_FAILED;
            continue;
        }
        int rc =
            st <= IPP_STATUS_OK_EVENTS_COMPLETE ? BL_EXIT_FAILED : fail_status(resp, "the job");
        if (st <= IPP_STATUS_OK_EVENTS_COMPLETE)
            bl_drv_msg("ERROR", "the printer did not return a job-id");
        ippDelete(resp);
        return rc;
    }
}

// Streams fd as the document of req (not consumed). Returns the response or NULL (why).
static ipp_t *send_with_data(job_ctx_t *x, ipp_t *req, int fd, char *why, size_t len)
{
    static uint8_t buf[65536];
    x->conn.stalled = 0;
    x->conn.aborted = false;
    http_status_t st = cupsSendRequest(x->conn.http, req, x->conn.resource, CUPS_LENGTH_VARIABLE);
    while (st == HTTP_STATUS_CONTINUE && !bl_drv_terminated) {
        ssize_t n = bl_fd_read(fd, buf, sizeof(buf));
        if (n < 0) {
            snprintf(why, len, "cannot read the document: %s", strerror(errno));
            return NULL;
        }
        if (n == 0)
            break;
        st = cupsWriteRequestData(x->conn.http, (const char *)buf, (size_t)n);
        x->conn.stalled = 0;
    }
    if (bl_drv_terminated) {
        snprintf(why, len, "canceled");
        return NULL;
    }
    ipp_t *resp = st == HTTP_STATUS_ERROR ? NULL : cupsGetResponse(x->conn.http, x->conn.resource);
    if (!resp) {
        const char *e = cupsLastErrorString();
        snprintf(why, len, "%s",
                 x->conn.aborted ? "the printer stopped reading"
                 : e && *e       ? e
                                 : "no response");
    }
    return resp;
}

// Cancel-Job for the device job on a fresh connection (the old one may be mid-request).
static void cancel_device_job(job_ctx_t *x)
{
    if (x->job_id <= 0 || x->finished || x->canceled)
        return;
    x->canceled = true;
    bl_ipp_conn_t c = x->conn;
    char why[256];
    c.http = NULL;
    c.cancel_proof = true;
    c.stall_limit = 3;
    c.connect_ms = 3000;
    bl_drv_msg("INFO", "canceling job %d at the printer", x->job_id);
    if (!bl_ipp_conn_open(&c, why, sizeof(why))) {
        bl_drv_msg("WARNING", "cannot cancel the job at the printer: %s", why);
        return;
    }
    ipp_t *req = bl_ipp_conn_request(&c, IPP_OP_CANCEL_JOB);
    ippAddInteger(req, IPP_TAG_OPERATION, IPP_TAG_INTEGER, "job-id", x->job_id);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL, x->user_name);
    ippDelete(bl_ipp_conn_do(&c, req, why, sizeof(why)));
    bl_ipp_conn_close(&c);
}

// Send-Document with stdin as the last document of the created job.
static int send_document(job_ctx_t *x)
{
    char why[256];
    ipp_t *req = bl_ipp_conn_request(&x->conn, IPP_OP_SEND_DOCUMENT);
    ippAddInteger(req, IPP_TAG_OPERATION, IPP_TAG_INTEGER, "job-id", x->job_id);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL, x->user_name);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", NULL, x->format);
    ippAddBoolean(req, IPP_TAG_OPERATION, "last-document", 1);
    ipp_t *resp = send_with_data(x, req, STDIN_FILENO, why, sizeof(why));
    ippDelete(req);
    if (bl_drv_terminated) {
        ippDelete(resp);
        return BL_EXIT_FAILED;
    }
    if (!resp) {
        bl_drv_msg("ERROR", "sending the document to %s:%d failed: %s", x->conn.host, x->conn.port,
                   why);
        cancel_device_job(x);
        return BL_EXIT_RETRY;
    }
    ipp_status_t st = ippGetStatusCode(resp);
    int rc = -1;
    if (st > IPP_STATUS_OK_EVENTS_COMPLETE) {
        rc = is_busy(st) ? BL_EXIT_RETRY : fail_status(resp, "the document");
        if (is_busy(st))
            bl_drv_msg("ERROR", "the printer was too busy to take the document");
        cancel_device_job(x);
    }
    ippDelete(resp);
    return rc;
}

// Print-Job from a memory copy of stdin, so that busy replies can be retried.
static int print_job(job_ctx_t *x)
{
    uint64_t size;
    int fd = bl_memfd_slurp(STDIN_FILENO, PRINT_JOB_MAX_SIZE, "document", &size);
    if (fd < 0)
        return BL_EXIT_FAILED;
    long delay = 250;
    for (;;) {
        char why[256];
        ipp_t *req = job_request(x, IPP_OP_PRINT_JOB);
        lseek(fd, 0, SEEK_SET);
        ipp_t *resp = send_with_data(x, req, fd, why, sizeof(why));
        ippDelete(req);
        ipp_status_t st = resp ? ippGetStatusCode(resp) : IPP_STATUS_ERROR_INTERNAL;
        ipp_attribute_t *id = resp ? ippFindAttribute(resp, "job-id", IPP_TAG_INTEGER) : NULL;
        int rc = -1;
        if (bl_drv_terminated)
            rc = BL_EXIT_FAILED;
        else if (!resp) {
            bl_drv_msg("ERROR", "sending the job to %s:%d failed: %s", x->conn.host, x->conn.port,
                       why);
            rc = BL_EXIT_RETRY;
        } else if (st <= IPP_STATUS_OK_EVENTS_COMPLETE) {
            x->job_id = id ? ippGetInteger(id, 0) : 0;
            rc = -1;
        } else if (is_busy(st)) {
            ippDelete(resp);
            // The connection may have been closed under an unread body: start afresh.
            bl_ipp_conn_close(&x->conn);
            if (!wait_busy(x, &delay) || !bl_ipp_conn_open(&x->conn, why, sizeof(why))) {
                close(fd);
                return bl_drv_terminated ? BL_EXIT_FAILED : BL_EXIT_RETRY;
            }
            continue;
        } else
            rc = fail_status(resp, "the job");
        ippDelete(resp);
        close(fd);
        return rc;
    }
}

static long int_attr(ipp_t *resp, const char *name)
{
    ipp_attribute_t *a = ippFindAttribute(resp, name, IPP_TAG_INTEGER);
    int v = a ? ippGetInteger(a, 0) : 0;
    return v > 0 ? v : 0;
}

// Sum of the integer members of a counter collection (job-impressions-completed-col...).
static long col_sum(ipp_t *resp, const char *name, const char *const *members, size_t n)
{
    ipp_attribute_t *a = ippFindAttribute(resp, name, IPP_TAG_BEGIN_COLLECTION);
    ipp_t *col = a ? ippGetCollection(a, 0) : NULL;
    long sum = 0;
    for (size_t i = 0; col && i < n; i++) {
        long v = int_attr(col, members[i]);
        sum = sum + v > INT32_MAX ? INT32_MAX : sum + v;
    }
    return sum;
}

// Reports the device's counters as one ATTR line when they changed (zeros are left out).
static void report_counters(job_ctx_t *x, ipp_t *resp)
{
    static const char *const color[] = {"full-color", "full-color-two-sided", "highlight-color",
                                        "highlight-color-two-sided"};
    static const char *const mono[] = {"monochrome", "monochrome-two-sided"};
    static const char *const all[] = {
        "blank",           "blank-two-sided",           "full-color", "full-color-two-sided",
        "highlight-color", "highlight-color-two-sided", "monochrome", "monochrome-two-sided"};
    static const char *const names[] = {"job-impressions-completed", "job-media-sheets-completed",
                                        "job-impressions-color", "job-impressions-monochrome"};
    long v[4] = {int_attr(resp, "job-impressions-completed"),
                 int_attr(resp, "job-media-sheets-completed"),
                 col_sum(resp, "job-impressions-completed-col", color, 4),
                 col_sum(resp, "job-impressions-completed-col", mono, 2)};
    if (v[0] == 0)
        v[0] = col_sum(resp, "job-impressions-completed-col", all, 8);
    if (v[1] == 0)
        v[1] = col_sum(resp, "job-media-sheets-completed-col", all, 8);
    if (!memcmp(v, x->counters, sizeof(v)) || (!v[0] && !v[1] && !v[2] && !v[3]))
        return;
    char line[256];
    size_t o = 0;
    for (int i = 0; i < 4; i++)
        if (v[i] > 0)
            o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%s=%ld", o ? " " : "", names[i],
                                  v[i]);
    bl_drv_msg("ATTR", "%s", line);
    memcpy(x->counters, v, sizeof(v));
}

// Polls printer-state-reasons (for STATE lines while we wait).
static void poll_printer(job_ctx_t *x)
{
    char why[256];
    ipp_t *req = bl_ipp_conn_request(&x->conn, IPP_OP_GET_PRINTER_ATTRIBUTES);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", NULL,
                 "printer-state-reasons");
    ipp_t *resp = bl_ipp_conn_do(&x->conn, req, why, sizeof(why));
    if (resp && ippGetStatusCode(resp) <= IPP_STATUS_OK_EVENTS_COMPLETE)
        update_reasons(x, resp);
    ippDelete(resp);
}

// Exit code for a device job in a terminal state.
static int job_ended(ipp_t *resp, int state)
{
    if (state == IPP_JSTATE_COMPLETED)
        return BL_EXIT_OK;
    if (state == IPP_JSTATE_CANCELED) {
        bl_drv_msg("INFO", "the job was canceled at the printer");
        return BL_EXIT_CANCEL;
    }
    char text[512];
    size_t o = 0;
    text[0] = '\0';
    ipp_attribute_t *a = ippFindAttribute(resp, "job-state-reasons", IPP_TAG_KEYWORD);
    for (int i = 0; a && i < ippGetCount(a) && i < 8; i++) {
        const char *kw = ippGetString(a, i, NULL);
        if (keyword_ok(kw))
            o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s", o ? ", " : "", kw);
    }
    bl_drv_msg("ERROR", "the printer aborted the job (%s)", o ? text : "no reason given");
    return BL_EXIT_FAILED;
}

// No answer while following the job. The document is delivered: losing contact now must not
// print it twice, so after a minute we give up with success. 1 to stop polling.
static int lost_contact(job_ctx_t *x, int *lost, int *rc, const char *why)
{
    if (++*lost < LOST_CONTACT_LIMIT || bl_drv_terminated)
        return 0;
    bl_drv_msg("WARNING", "lost contact with the printer after sending the job: %s", why);
    x->finished = true;
    *rc = BL_EXIT_OK;
    return 1;
}

// Get-Job-Attributes on the device job: 1 for a terminal state (rc set), 0 to poll again.
static int poll_job(job_ctx_t *x, int *lost, int *rc)
{
    static const char *const attrs[] = {"job-state",
                                        "job-state-reasons",
                                        "job-impressions-completed",
                                        "job-media-sheets-completed",
                                        "job-impressions-completed-col",
                                        "job-media-sheets-completed-col"};
    char why[256];
    if (!x->conn.http && !bl_ipp_conn_open(&x->conn, why, sizeof(why)))
        return lost_contact(x, lost, rc, why);
    ipp_t *req = bl_ipp_conn_request(&x->conn, IPP_OP_GET_JOB_ATTRIBUTES);
    ippAddInteger(req, IPP_TAG_OPERATION, IPP_TAG_INTEGER, "job-id", x->job_id);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL, x->user_name);
    ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", 6, NULL, attrs);
    ipp_t *resp = bl_ipp_conn_do(&x->conn, req, why, sizeof(why));
    if (!resp) {
        bl_ipp_conn_close(&x->conn);
        return lost_contact(x, lost, rc, why);
    }
    *lost = 0;
    ipp_status_t st = ippGetStatusCode(resp);
    int done = 0;
    if (st > IPP_STATUS_OK_EVENTS_COMPLETE && !is_busy(st)) {
        // Not found: the device already forgot the job; anything else: cannot follow it.
        if (st != IPP_STATUS_ERROR_NOT_FOUND)
            bl_drv_msg("WARNING", "cannot follow the job at the printer: %s", ippErrorString(st));
        *rc = BL_EXIT_OK;
        done = 1;
    } else if (st <= IPP_STATUS_OK_EVENTS_COMPLETE) {
        report_counters(x, resp);
        ipp_attribute_t *a = ippFindAttribute(resp, "job-state", IPP_TAG_ENUM);
        int state = a ? ippGetInteger(a, 0) : 0;
        if (state >= IPP_JSTATE_CANCELED && state <= IPP_JSTATE_COMPLETED) {
            *rc = job_ended(resp, state);
            done = 1;
        }
    }
    ippDelete(resp);
    return done;
}

// Follows the device job until it ends: polls from 2 ms growing by half to 1 s (fourteen polls
// in the first second). Most devices end a job just after its last byte; a first poll at
// 100 ms made every job wait ~80 ms more, one at 20 ms still ~20 ms.
static int follow_job(job_ctx_t *x)
{
    long delay = 2, since_printer = 0;
    int lost = 0, rc = BL_EXIT_OK;
    while (!bl_drv_terminated) {
        if (poll_job(x, &lost, &rc)) {
            x->finished = true;
            return rc;
        }
        since_printer += delay;
        if (since_printer >= 1000 && x->conn.http) {
            poll_printer(x);
            since_printer = 0;
        }
        if (!bl_drv_sleep_ms(delay))
            break;
        delay = delay * 3 / 2 + 1 > 1000 ? 1000 : delay * 3 / 2 + 1;
    }
    return BL_EXIT_FAILED;
}

// Fills the job description from argv and the environment; false after an ERROR.
static bool setup(job_ctx_t *x, int argc, char **argv)
{
    char why[256];
    memset(x, 0, sizeof(*x));
    if (!bl_ipp_conn_parse(&x->conn, getenv("DEVICE_URI"), why, sizeof(why))) {
        bl_drv_msg("ERROR", "%s", why);
        return false;
    }
    bl_options_parse(argv[5], &x->opts);
    x->format = getenv("FINAL_CONTENT_TYPE");
    if (!x->format || !*x->format)
        x->format = "application/octet-stream";
    for (const char *p = x->format; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("/.+-", *p)) ||
            p - x->format > 100) {
            bl_drv_msg("ERROR", "bad FINAL_CONTENT_TYPE");
            return false;
        }
    // Job name and user are remote data: only ever IPP values, valid UTF-8, <= 255 bytes.
    bl_text_sanitize(argv[3], strlen(argv[3]), x->job_name, sizeof(x->job_name));
    bl_text_sanitize(argv[2], strlen(argv[2]), x->user_name, sizeof(x->user_name));
    if (!x->job_name[0])
        snprintf(x->job_name, sizeof(x->job_name), "untitled");
    if (!x->user_name[0])
        snprintf(x->user_name, sizeof(x->user_name), "anonymous");
    x->template_attrs = true;
    if (argc == 7) {
        int fd = open(argv[6], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || dup2(fd, STDIN_FILENO) < 0) {
            bl_drv_msg("ERROR", "cannot open the document file");
            return false;
        }
        close(fd);
    }
    return true;
}

int main(int argc, char **argv)
{
    job_ctx_t x;
    char why[256];
    bl_drv_signals_init();
    if (!bl_drv_check_args(argc, argv) || !setup(&x, argc, argv))
        return BL_EXIT_FAILED;
    if (!bl_ipp_conn_open(&x.conn, why, sizeof(why))) {
        if (bl_drv_terminated)
            return BL_EXIT_FAILED;
        bl_drv_msg("ERROR", "cannot connect to %s:%d: %s", x.conn.host, x.conn.port, why);
        return BL_EXIT_RETRY;
    }
    int rc = query_printer(&x);
    if (rc < 0)
        rc = x.create_job ? create_job(&x) : print_job(&x);
    if (rc < 0 && x.create_job)
        rc = send_document(&x);
    if (rc < 0) {
        bl_drv_msg("INFO", "the printer accepted the job (job %d)", x.job_id);
        rc = x.job_id > 0 ? follow_job(&x) : BL_EXIT_OK;
    }
    if (bl_drv_terminated) {
        cancel_device_job(&x);
        rc = x.finished ? rc : BL_EXIT_FAILED;
    }
    clear_reasons(&x);
    bl_ipp_conn_close(&x.conn);
    return rc;
}
