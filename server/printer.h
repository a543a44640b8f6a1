// Printers (queues): device capabilities, state and reasons, the per-queue scheduler.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_PRINTER_H
#define BL_PRINTER_H

#include <cups/ipp.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "server/system.h"

typedef struct bl_printer_conf bl_printer_conf_t;
typedef struct bl_runner bl_runner_t;

#define BL_PRINTER_MAX_REASONS 8
// A backend's STATE: lines may fill all but one: blattd's own offline-report always fits.
#define BL_PRINTER_DEVICE_REASONS (BL_PRINTER_MAX_REASONS - 1)
#define BL_PRINTER_REASON_MAX 63 // longer reasons are cut

typedef enum bl_printer_state {
    BL_PRINTER_IDLE = 3,
    BL_PRINTER_PROCESSING = 4,
    BL_PRINTER_STOPPED = 5,
} bl_printer_state_t;

struct bl_printer {
    bl_system_t *sys;
    const bl_printer_conf_t *conf; // borrowed from sys->config
    const char *name;              // conf->name
    char uuid[48];
    ipp_t *caps;      // sanitised device capabilities, NULL while unknown (owned, or shared)
    bool caps_shared; // caps are the virtual queues' copy for their DocumentFormat
    ipp_t *attrs;     // static printer description for attrs_key (owned; the IPP face builds
                      // it, the domain drops it when caps or config change)
    char *attrs_key;  // owned, NULL while attrs is
    // document-format-supported, from the format graph: queues with the same list share one
    // copy (format_list owns it, printer.c counts its users).
    char **formats;
    size_t num_formats;
    struct bl_format_list *format_list;
    bl_printer_state_t state;
    char *reasons[BL_PRINTER_MAX_REASONS]; // keywords, BL_PRINTER_REASON_MAX bytes at most (owned)
    size_t num_reasons;
    char *message; // printer-state-message (owned), NULL for none
    bool accepting;
    bool device_down;
    bool spool_wait; // a document could not be read: wait for the timer before the next try
    time_t state_time, config_time;
    bl_job_t *active_job;              // job whose pipeline runs (borrowed from sys->active)
    bl_job_t *ready_head, *ready_tail; // jobs it may start next, by id (job.c keeps the list)
    int num_jobs;                      // its jobs in sys->active
    bl_runner_t *probe;                // running capability probe
    struct evbuffer *probe_out;        // probe's stdout (made by the first probe)
    bool probe_overflow;               // ... was longer than PROBE_MAX_BYTES: the reply is refused
    struct event *timer;               // retry / refresh timer
    time_t next_probe;
};

bl_printer_t *bl_printer_create(bl_system_t *sys, const bl_printer_conf_t *conf);
void bl_printer_delete(bl_printer_t *p);
// Starts a capability probe of the device (async); no-op while one runs.
void bl_printer_probe(bl_printer_t *p);
// Count of jobs not yet terminal on this queue.
int bl_printer_queued_jobs(const bl_printer_t *p);
void bl_printer_add_reason(bl_printer_t *p, const char *reason);
void bl_printer_remove_reason(bl_printer_t *p, const char *reason);
bool bl_printer_has_reason(const bl_printer_t *p, const char *reason);
void bl_printer_set_state(bl_printer_t *p, bl_printer_state_t state);
// printer-state-message; NULL or "" clears it.
void bl_printer_set_message(bl_printer_t *p, const char *message);
// Looks for the next job to run on p and starts its pipeline (call when something changed).
void bl_printer_schedule(bl_printer_t *p);
// Device could not be reached: mark the queue stopped and retry after JobRetryInterval.
void bl_printer_device_down(bl_printer_t *p, const char *why);
// A job's document could not be read just now: the queue starts nothing for JobRetryInterval.
void bl_printer_spool_wait(bl_printer_t *p, const char *why);
void bl_printer_device_up(bl_printer_t *p);
// Whether the device supports a keyword value for `name-supported`.
bool bl_printer_supports(bl_printer_t *p, const char *name, const char *value);

#endif
