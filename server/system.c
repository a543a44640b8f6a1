// The Blatt system object: opens state, creates the queues and resumes unfinished jobs.
// Licensed under the Apache License, Version 2.0.
#include "autoconfig.h"

#include "server/system.h"

#include "drivers/graph.h"
#include "server/config.h"
#include "server/job.h"
#include "server/log.h"
#include "server/pipeline.h"
#include "server/printer.h"
#include "server/spool.h"
#include "server/store.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

time_t bl_system_now(void)
{
    return time(NULL);
}

void bl_uuid_make(char *buf, size_t len)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        memset(b, 0, sizeof(b));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(buf, len,
             "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static char *path_join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s", dir, name);
    return p;
}

static bool make_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST) {
        bl_log(BL_LOG_ERROR, "cannot create %s: %s", path, strerror(errno));
        return false;
    }
    if (chmod(path, mode) != 0) {
        bl_log(BL_LOG_ERROR, "cannot set mode of %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

// The system's UUID is kept in the meta table so that it survives restarts.
static void load_uuid(bl_system_t *sys)
{
    sqlite3_stmt *st = bl_store_stmt(sys->store, "SELECT value FROM meta WHERE key='uuid'");
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(sys->uuid, sizeof(sys->uuid), "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        return;
    }
    if (st)
        sqlite3_reset(st);
    bl_uuid_make(sys->uuid, sizeof(sys->uuid));
    if (!bl_store_begin(sys->store))
        return;
    st = bl_store_stmt(sys->store, "INSERT OR REPLACE INTO meta(key, value) VALUES('uuid', ?)");
    if (st) {
        sqlite3_bind_text(st, 1, sys->uuid, -1, SQLITE_STATIC);
        sqlite3_step(st);
    }
}

static bool open_state(bl_system_t *sys)
{
    const bl_config_t *c = sys->config;
    if (!make_dir(c->state_dir, 0700))
        return false;
    sys->spool_dir = path_join(c->state_dir, "spool");
    sys->tmp_dir = path_join(c->state_dir, "tmp");
    char *db = path_join(c->state_dir, "blatt.db");
    char *kek = path_join(c->state_dir, "kek");
    char *formats = path_join(c->data_dir, "formats.conf");
    bool ok = sys->spool_dir && sys->tmp_dir && db && kek && formats &&
              make_dir(sys->spool_dir, 0700) && make_dir(sys->tmp_dir, 0700);
    if (ok && !(sys->store = bl_store_open(db, sys->base)))
        ok = false;
    if (ok && !(sys->kek = bl_kek_load_or_create(kek)))
        ok = false;
    if (ok) {
        char err[512];
        sys->graph = bl_graph_load(formats, err, sizeof(err));
        if (!sys->graph) {
            bl_log(BL_LOG_ERROR, "%s", err);
            ok = false;
        }
    }
    free(db);
    free(kek);
    free(formats);
    return ok;
}

static bool create_printers(bl_system_t *sys)
{
    bl_config_t *c = sys->config;
    sys->printers = calloc(c->num_printers ? c->num_printers : 1, sizeof(*sys->printers));
    if (!sys->printers)
        return false;
    for (const bl_printer_conf_t *pc = c->printers; pc; pc = pc->next) {
        bl_printer_t *p = bl_printer_create(sys, pc);
        if (!p) {
            bl_log(BL_LOG_ERROR, "printer %s: cannot be created", pc->name);
            return false;
        }
        sys->printers[sys->num_printers++] = p;
    }
    if (c->default_printer)
        sys->default_printer = bl_system_find_printer(sys, c->default_printer);
    else if (sys->num_printers)
        sys->default_printer = sys->printers[0];
    return true;
}

#define TICK_SECONDS 2

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bl_system_t *sys = arg;
    if (!sys->shutting_down)
        bl_job_expire(sys);
}

bl_system_t *bl_system_create(struct event_base *base, bl_config_t *config)
{
    bl_system_t *sys = calloc(1, sizeof(*sys));
    if (!sys)
        return NULL;
    sys->base = base;
    sys->config = config;
    sys->boot_time = bl_system_now();
    sys->next_job_id = 1;
    char host[256] = "localhost";
    if (config->server_name && *config->server_name)
        snprintf(host, sizeof(host), "%s", config->server_name);
    else
        gethostname(host, sizeof(host) - 1);
    sys->server_name = strdup(host);
    if (!sys->server_name || !open_state(sys) || !create_printers(sys) || !bl_job_resume_all(sys)) {
        bl_system_delete(sys);
        return NULL;
    }
    load_uuid(sys);
    bl_store_commit(sys->store);
    sys->tick = event_new(base, -1, EV_PERSIST, on_tick, sys);
    struct timeval tv = {TICK_SECONDS, 0};
    if (!sys->tick || event_add(sys->tick, &tv) != 0) {
        bl_system_delete(sys);
        return NULL;
    }
    for (size_t i = 0; i < sys->num_printers; i++) {
        bl_printer_probe(sys->printers[i]);
        bl_printer_schedule(sys->printers[i]);
    }
    bl_log(BL_LOG_INFO, "blattd %s ready: %zu queues, %zu unfinished jobs", PACKAGE_VERSION,
           sys->num_printers, sys->num_active);
    return sys;
}

bl_printer_t *bl_system_find_printer(const bl_system_t *sys, const char *name)
{
    for (size_t i = 0; i < sys->num_printers; i++) {
        if (!strcmp(sys->printers[i]->name, name))
            return sys->printers[i];
    }
    return NULL;
}

void bl_system_shutdown(bl_system_t *sys)
{
    sys->shutting_down = true;
    for (size_t i = 0; i < sys->num_active; i++) {
        bl_job_t *job = sys->active[i];
        if (job->runner) {
            bl_pipeline_cancel(job);
        }
    }
}

void bl_system_delete(bl_system_t *sys)
{
    if (!sys)
        return;
    if (sys->tick)
        event_free(sys->tick);
    if (sys->store)
        bl_store_commit(sys->store);
    for (size_t i = 0; i < sys->num_printers; i++)
        bl_printer_delete(sys->printers[i]);
    free(sys->printers);
    for (size_t i = 0; i < sys->num_active; i++) {
        bl_job_t *job = sys->active[i];
        job->registered = false;
        job->runner = NULL; // the loop is gone: no pipeline comes back
        bl_job_unref(job);
    }
    free(sys->active);
    bl_store_close(sys->store);
    bl_kek_delete(sys->kek);
    bl_graph_delete(sys->graph);
    free(sys->server_name);
    free(sys->spool_dir);
    free(sys->tmp_dir);
    free(sys);
}
