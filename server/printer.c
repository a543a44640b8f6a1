// Printers (queues): device capabilities, state and reasons, the per-queue scheduler.
// Licensed under the Apache License, Version 2.0.
//
// Capabilities come from the device through the `probe` helper (a child process, so no network
// I/O happens on the loop), are sanitised (a printer's reply is untrusted), cached in SQLite and
// refreshed every PrinterRefreshInterval. A virtual `file` queue has built-in capabilities.
#include "server/printer.h"

#include "drivers/sandbox.h"

#include "drivers/graph.h"
#include "drivers/runner.h"
#include "ipp/caps.h"
#include "ipp/frame.h"
#include "server/config.h"
#include "server/job.h"
#include "server/log.h"
#include "server/pipeline.h"
#include "server/store.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_MAX_BYTES (4 * 1024 * 1024)

static bool is_virtual(const bl_printer_t *p)
{
    return strncmp(p->conf->device_uri, "ipp://", 6) && strncmp(p->conf->device_uri, "ipps://", 7);
}

void bl_printer_add_reason(bl_printer_t *p, const char *reason)
{
    if (bl_printer_has_reason(p, reason) || p->num_reasons >= BL_PRINTER_MAX_REASONS)
        return;
    char *copy = strndup(reason, BL_PRINTER_REASON_MAX);
    if (!copy)
        return;
    p->reasons[p->num_reasons++] = copy;
    p->state_time = bl_system_now();
}

void bl_printer_remove_reason(bl_printer_t *p, const char *reason)
{
    for (size_t i = 0; i < p->num_reasons; i++) {
        if (!strncmp(p->reasons[i], reason, BL_PRINTER_REASON_MAX)) {
            free(p->reasons[i]);
            memmove(&p->reasons[i], &p->reasons[i + 1],
                    (p->num_reasons - i - 1) * sizeof(p->reasons[0]));
            p->reasons[--p->num_reasons] = NULL;
            p->state_time = bl_system_now();
            return;
        }
    }
}

bool bl_printer_has_reason(const bl_printer_t *p, const char *reason)
{
    for (size_t i = 0; i < p->num_reasons; i++) {
        if (!strncmp(p->reasons[i], reason, BL_PRINTER_REASON_MAX))
            return true;
    }
    return false;
}

void bl_printer_set_state(bl_printer_t *p, bl_printer_state_t state)
{
    if (p->state != state) {
        p->state = state;
        p->state_time = bl_system_now();
    }
}

void bl_printer_set_message(bl_printer_t *p, const char *message)
{
    free(p->message);
    p->message = message && *message ? strdup(message) : NULL;
}

bool bl_printer_supports(bl_printer_t *p, const char *name, const char *value)
{
    if (!p->caps || !value || !*value)
        return false;
    char attr[128];
    snprintf(attr, sizeof(attr), "%s-supported", name);
    ipp_attribute_t *a = ippFindAttribute(p->caps, attr, IPP_TAG_ZERO);
    return a && ippContainsString(a, value);
}

int bl_printer_queued_jobs(const bl_printer_t *p)
{
    return p->num_jobs;
}

// Lists of document formats, each kept once for all the queues that have it: a thousand
// queues to the same kind of device have one list between them.
typedef struct bl_format_list {
    struct bl_format_list *next;
    char **formats; // owned, as bl_graph_sources gave it
    size_t num_formats;
    size_t users;
} bl_format_list_t;
static bl_format_list_t *format_lists;

static void free_formats(char **formats, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(formats[i]);
    free(formats);
}

static bool same_formats(char **a, size_t na, char **b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        if (strcmp(a[i], b[i]))
            return false;
    }
    return true;
}

static void drop_formats(bl_printer_t *p)
{
    bl_format_list_t *l = p->format_list, **pp = &format_lists;
    p->format_list = NULL;
    p->formats = NULL;
    p->num_formats = 0;
    if (!l || --l->users > 0)
        return;
    while (*pp != l)
        pp = &(*pp)->next;
    *pp = l->next;
    free_formats(l->formats, l->num_formats);
    free(l);
}

// Takes a list of formats (owned) for p, sharing it with the queues that have the same.
static void set_formats(bl_printer_t *p, char **formats, size_t n)
{
    drop_formats(p);
    if (!formats)
        return;
    bl_format_list_t *l = format_lists;
    while (l && !same_formats(l->formats, l->num_formats, formats, n))
        l = l->next;
    if (l) {
        free_formats(formats, n);
    } else if ((l = calloc(1, sizeof(*l)))) {
        l->formats = formats;
        l->num_formats = n;
        l->next = format_lists;
        format_lists = l;
    } else {
        free_formats(formats, n);
        return;
    }
    l->users++;
    p->format_list = l;
    p->formats = l->formats;
    p->num_formats = l->num_formats;
}

// document-format-supported of the queue: what the format graph can turn into what the device
// takes.
static void update_formats(bl_printer_t *p)
{
    size_t n = 0;
    ipp_attribute_t *a =
        p->caps ? ippFindAttribute(p->caps, "document-format-supported", IPP_TAG_MIMETYPE) : NULL;
    if (!a) {
        // Device not reached yet: take what can become any of the usual device formats.
        static const char *const usual[] = {"application/pdf", "image/pwg-raster", "image/urf"};
        char **formats = bl_graph_sources(p->sys->graph, usual, 3, &n);
        set_formats(p, formats, n);
        return;
    }
    size_t num_dests = (size_t)ippGetCount(a);
    const char **dests = calloc(num_dests ? num_dests : 1, sizeof(*dests));
    if (!dests) {
        drop_formats(p);
        return;
    }
    for (size_t i = 0; i < num_dests; i++)
        dests[i] = ippGetString(a, (int)i, NULL);
    char **formats = bl_graph_sources(p->sys->graph, dests, num_dests, &n);
    free(dests);
    set_formats(p, formats, n);
}

// Virtual queues (file, socket) with the same DocumentFormat have the same capabilities: one
// copy serves them all (a thousand queues would otherwise hold a thousand, ~10 KB each).
typedef struct shared_caps {
    char *format; // DocumentFormat, "" for none
    ipp_t *caps;
    size_t users;
} shared_caps_t;
static shared_caps_t shared_caps[16];

static ipp_t *share_virtual_caps(const char *format, bool *shared)
{
    const char *key = format ? format : "";
    shared_caps_t *free_slot = NULL;
    for (size_t i = 0; i < sizeof(shared_caps) / sizeof(shared_caps[0]); i++) {
        shared_caps_t *s = &shared_caps[i];
        if (s->caps && !strcmp(s->format, key)) {
            s->users++;
            *shared = true;
            return s->caps;
        }
        if (!s->caps && !free_slot)
            free_slot = s;
    }
    ipp_t *caps = bl_caps_virtual(format);
    *shared = false;
    if (caps && free_slot && (free_slot->format = strdup(key))) {
        free_slot->caps = caps;
        free_slot->users = 1;
        *shared = true;
    }
    return caps;
}

static void drop_caps(bl_printer_t *p)
{
    if (!p->caps_shared) {
        ippDelete(p->caps);
    } else {
        for (size_t i = 0; i < sizeof(shared_caps) / sizeof(shared_caps[0]); i++) {
            shared_caps_t *s = &shared_caps[i];
            if (s->caps == p->caps && --s->users == 0) {
                ippDelete(s->caps);
                free(s->format);
                memset(s, 0, sizeof(*s));
            }
        }
    }
    p->caps = NULL;
    p->caps_shared = false;
}

// Takes new sanitised caps (owned), stores them and rebuilds what depends on them.
static void set_caps(bl_printer_t *p, ipp_t *caps, bool save)
{
    drop_caps(p);
    p->caps = caps;
    ippDelete(p->attrs);
    p->attrs = NULL;
    update_formats(p);
    if (!save)
        return;
    uint8_t *data = NULL;
    size_t len = 0;
    if (!bl_caps_encode(caps, &data, &len) || !bl_store_begin(p->sys->store))
        return;
    sqlite3_stmt *st =
        bl_store_stmt(p->sys->store, "UPDATE printers SET caps=?, caps_time=? WHERE name=?");
    if (st) {
        sqlite3_bind_blob(st, 1, data, (int)len, free);
        data = NULL;
        sqlite3_bind_int64(st, 2, bl_system_now());
        sqlite3_bind_text(st, 3, p->name, -1, SQLITE_STATIC);
        sqlite3_step(st);
    }
    free(data);
}

static void on_printer_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bl_printer_t *p = arg;
    if (p->spool_wait) {
        p->spool_wait = false;
        bl_printer_set_message(p, NULL);
        bl_printer_schedule(p);
        if (!p->device_down)
            return;
    }
    if (is_virtual(p)) {
        // Nothing to ask a file or socket device: the next job attempt tells.
        if (p->device_down) {
            bl_printer_device_up(p);
            bl_printer_schedule(p);
        }
        return;
    }
    bl_printer_probe(p);
}

static void arm_timer(bl_printer_t *p, int seconds)
{
    struct timeval tv = {seconds, 0};
    evtimer_add(p->timer, &tv);
}

void bl_printer_device_down(bl_printer_t *p, const char *why)
{
    if (!p->device_down)
        bl_log(BL_LOG_WARN, "printer %s: device unreachable: %s", p->name, why);
    p->device_down = true;
    bl_printer_set_message(p, why);
    bl_printer_add_reason(p, "offline-report");
    bl_printer_set_state(p, BL_PRINTER_STOPPED);
    arm_timer(p, p->sys->config->job_retry_interval);
}

void bl_printer_spool_wait(bl_printer_t *p, const char *why)
{
    p->spool_wait = true;
    bl_printer_set_message(p, why);
    if (!p->device_down)
        bl_printer_set_state(p, BL_PRINTER_IDLE);
    arm_timer(p, p->sys->config->job_retry_interval);
}

void bl_printer_device_up(bl_printer_t *p)
{
    if (p->device_down)
        bl_log(BL_LOG_INFO, "printer %s: device is back", p->name);
    p->device_down = false;
    bl_printer_set_message(p, NULL);
    bl_printer_remove_reason(p, "offline-report");
    bl_printer_remove_reason(p, "connecting-to-device");
    bl_printer_set_state(p, p->active_job ? BL_PRINTER_PROCESSING : BL_PRINTER_IDLE);
}

static ssize_t probe_feed(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
    return 0;
}

static void probe_output(void *ctx, const void *data, size_t len)
{
    bl_printer_t *p = ctx;
    if (evbuffer_get_length(p->probe_out) + len <= PROBE_MAX_BYTES)
        evbuffer_add(p->probe_out, data, len);
    else
        p->probe_overflow = true;
}

static void probe_status(void *ctx, size_t stage, const bl_status_t *st)
{
    bl_printer_t *p = ctx;
    (void)stage;
    if (st->kind == BL_STATUS_ERROR)
        bl_log(BL_LOG_DEBUG, "printer %s: probe: %s", p->name, st->message);
}

// Decodes and sanitises the probe's reply; NULL when unusable.
static ipp_t *probe_caps(bl_printer_t *p)
{
    size_t len = evbuffer_get_length(p->probe_out);
    const uint8_t *data = evbuffer_pullup(p->probe_out, -1);
    size_t block = 0;
    if (!data || bl_ipp_frame_scan(data, len, PROBE_MAX_BYTES, &block) != BL_FRAME_COMPLETE)
        return NULL;
    ipp_t *resp = bl_ipp_decode(data, block);
    if (!resp)
        return NULL;
    size_t dropped = 0;
    ipp_t *caps = NULL;
    if (ippGetStatusCode(resp) < IPP_STATUS_REDIRECTION_OTHER_SITE)
        caps = bl_caps_sanitize(resp, &dropped);
    ippDelete(resp);
    if (dropped)
        bl_log(BL_LOG_WARN, "printer %s: dropped %zu invalid attributes from the device", p->name,
               dropped);
    return caps;
}

static void probe_done(void *ctx, const bl_runner_result_t *res)
{
    bl_printer_t *p = ctx;
    p->probe = NULL;
    // A reply past the cap is refused whole: a truncated one could still decode.
    ipp_t *caps = res->failed_stage < 0 && !p->probe_overflow ? probe_caps(p) : NULL;
    if (p->probe_overflow)
        bl_log(BL_LOG_WARN, "printer %s: the device's attributes exceed %d bytes; refused", p->name,
               PROBE_MAX_BYTES);
    p->probe_overflow = false;
    evbuffer_drain(p->probe_out, evbuffer_get_length(p->probe_out));
    if (caps) {
        set_caps(p, caps, true);
        bl_printer_device_up(p);
        arm_timer(p, p->sys->config->printer_refresh_interval);
        bl_printer_schedule(p);
    } else {
        bl_printer_device_down(p, res->timed_out ? "the device did not answer in time"
                                                 : "the device cannot be reached");
    }
}

void bl_printer_probe(bl_printer_t *p)
{
    if (p->probe || is_virtual(p) || p->sys->shutting_down)
        return;
    char path[1024];
    snprintf(path, sizeof(path), "%s/probe", p->sys->config->helper_dir);
    char *argv[] = {"probe", (char *)p->conf->device_uri, NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", "LANG=C", NULL};
    bl_stage_t stage = {path, argv, envp, false};
    // The probe talks to the device like a backend, in the same sandbox.
    char helper[1024], *sb_argv[BL_SANDBOX_MAX_ARGS], sb_buf[256];
    if (p->sys->config->sandbox) {
        bl_sandbox_t sb;
        bl_system_sandbox(p->sys, -1, true, NULL, &sb);
        snprintf(helper, sizeof(helper), "%s/blatt-exec", p->sys->config->helper_dir);
        if (bl_sandbox_argv(&sb, helper, path, argv, sb_argv, BL_SANDBOX_MAX_ARGS, sb_buf,
                            sizeof(sb_buf))) {
            stage.path = helper;
            stage.argv = sb_argv;
            stage.sandboxed = true;
        }
    }
    // The reply's buffer is made on the first probe: virtual queues never need one.
    if (!p->probe_out && !(p->probe_out = evbuffer_new())) {
        bl_printer_device_down(p, "out of memory for the probe's reply");
        return;
    }
    static const bl_runner_callbacks_t cb = {probe_feed, probe_output, probe_status, probe_done};
    p->probe = bl_runner_start(p->sys->base, &stage, 1, NULL, 30, &cb, p);
    if (!p->probe)
        bl_printer_device_down(p, "cannot start the probe helper");
}

// Loads the queue's row (uuid, cached caps) or creates it.
static bool load_row(bl_printer_t *p)
{
    bl_store_t *store = p->sys->store;
    sqlite3_stmt *st = bl_store_stmt(store, "SELECT uuid, caps FROM printers WHERE name=?");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(p->uuid, sizeof(p->uuid), "%s", (const char *)sqlite3_column_text(st, 0));
        const void *blob = sqlite3_column_blob(st, 1);
        int len = sqlite3_column_bytes(st, 1);
        ipp_t *caps = blob && len > 0 ? bl_caps_decode(blob, (size_t)len) : NULL;
        sqlite3_reset(st);
        if (caps)
            set_caps(p, caps, false);
        return true;
    }
    sqlite3_reset(st);
    bl_uuid_make(p->uuid, sizeof(p->uuid));
    if (!bl_store_begin(store))
        return false;
    st = bl_store_stmt(store, "INSERT INTO printers(name, uuid, config_time) VALUES(?,?,?)");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->uuid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, bl_system_now());
    return sqlite3_step(st) == SQLITE_DONE;
}

bl_printer_t *bl_printer_create(bl_system_t *sys, const bl_printer_conf_t *conf)
{
    bl_printer_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->sys = sys;
    p->conf = conf;
    p->name = conf->name;
    p->state = BL_PRINTER_IDLE;
    p->accepting = conf->accepting;
    p->state_time = p->config_time = bl_system_now();
    p->timer = evtimer_new(sys->base, on_printer_timer, p);
    if (!p->timer || !load_row(p)) {
        bl_printer_delete(p);
        return NULL;
    }
    if (is_virtual(p)) {
        bool shared;
        ipp_t *caps = share_virtual_caps(p->conf->document_format, &shared);
        set_caps(p, caps, false);
        p->caps_shared = shared;
    } else if (!p->caps)
        update_formats(p);
    return p;
}

void bl_printer_delete(bl_printer_t *p)
{
    if (!p)
        return;
    if (p->probe)
        bl_runner_abandon(p->probe);
    if (p->timer)
        event_free(p->timer);
    if (p->probe_out)
        evbuffer_free(p->probe_out);
    drop_formats(p);
    for (size_t i = 0; i < p->num_reasons; i++)
        free(p->reasons[i]);
    free(p->message);
    drop_caps(p);
    ippDelete(p->attrs);
    free(p->attrs_key);
    free(p);
}

void bl_printer_schedule(bl_printer_t *p)
{
    if (p->active_job || p->sys->shutting_down || !p->caps || p->spool_wait)
        return;
    // Nothing prints while no change can be stored: a job that printed then would still be
    // pending in the database, and print again after a restart (system.c schedules every
    // queue once the store works again).
    if (bl_store_failing(p->sys->store))
        return;
    if (p->device_down && evtimer_pending(p->timer, NULL))
        return; // wait for the retry timer
    bl_job_t *job = p->ready_head;
    if (job) {
        p->active_job = job;
        bl_job_update_ready(job); // off the list while it runs
        bl_printer_set_state(p, BL_PRINTER_PROCESSING);
        bl_pipeline_start(job);
        return;
    }
    if (!p->device_down)
        bl_printer_set_state(p, BL_PRINTER_IDLE);
}
