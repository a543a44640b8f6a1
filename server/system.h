// The Blatt system object: everything one blattd owns (config, loop, store, keys, queues, jobs).
// Licensed under the Apache License, Version 2.0.
#ifndef BL_SYSTEM_H
#define BL_SYSTEM_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct event_base;
struct event;
typedef struct bl_config bl_config_t;
typedef struct bl_store bl_store_t;
typedef struct bl_kek bl_kek_t;
typedef struct bl_graph bl_graph_t;
typedef struct bl_printer bl_printer_t;
typedef struct bl_job bl_job_t;
typedef struct bl_audit bl_audit_t;
typedef struct bl_auth bl_auth_t;
typedef struct bl_policy bl_policy_t;
typedef struct bl_worker bl_worker_t;
typedef struct bl_doclog bl_doclog_t;

// Sandbox uids for jobs (SandboxUIDBase + slot); SandboxUIDBase + BL_UID_SLOTS is the probes'.
#define BL_UID_SLOTS 1024

typedef struct bl_system {
    struct event_base *base;
    bl_config_t *config;     // owned
    bl_store_t *store;       // owned
    bl_kek_t *kek;           // owned
    bl_graph_t *graph;       // owned
    bl_audit_t *audit;       // owned
    bl_policy_t *policy;     // owned
    bl_worker_t *worker;     // owned: threads for password checks
    bl_auth_t *auth;         // owned
    bl_printer_t **printers; // owned, in config order
    size_t num_printers;
    bl_printer_t *default_printer; // borrowed from printers
    bl_job_t **active;             // jobs not yet in a terminal state, sorted by id (owned)
    size_t num_active, cap_active;
    int next_job_id;
    time_t boot_time;
    char uuid[48];
    char *server_name;   // owned
    char *spool_dir;     // owned: StateDir/spool (documents too large for the log)
    int spool_dir_fd;    // open on spool_dir: synced after a spool file was created
    bl_doclog_t *doclog; // owned: StateDir/doclog, the small documents
    char *tmp_dir;       // owned: StateDir/tmp (per-job private TMPDIRs for filters)
    bool shutting_down;
    int lock_fd;        // StateDir/lock, held (flock) while blattd runs
    struct event *tick; // housekeeping every few seconds (expired jobs, retention)
    // The sandbox uids SandboxUIDBase + 0..1023 that a running pipeline holds: no two jobs
    // ever share one, so that the uid's processes can be killed when its job ends.
    bool uid_busy[BL_UID_SLOTS];
} bl_system_t;

// Opens state (StateDir, database, keys, format graph), creates the queues and resumes jobs.
bl_system_t *bl_system_create(struct event_base *base, bl_config_t *config);
void bl_system_delete(bl_system_t *sys);
// Cancels running pipelines for shutdown (jobs stay pending and resume at next start).
void bl_system_shutdown(bl_system_t *sys);
// Records the start in the audit chain, with a config-change record for every configuration
// file (blattd.conf, Policy, UserFile) that differs from the last start.
void bl_system_started(bl_system_t *sys, const char *config_path);
// Rereads the Policy file (SIGHUP); a broken file keeps the old policy.
void bl_system_reload_policy(bl_system_t *sys);
bl_printer_t *bl_system_find_printer(const bl_system_t *sys, const char *name);
// Appends to the audit chain (see server/audit.h for the fields); failures are logged.
void bl_system_audit(bl_system_t *sys, const char *actor, const char *source, const char *action,
                     const char *object, const char *result);
struct bl_sandbox;
// The sandbox of a job's programs (filters, or the backend) under uid slot `slot` (from
// bl_system_take_uid; -1: the probes' uid), with its private TMPDIR at tmpdir (NULL: none),
// from the Filter* and Sandbox* directives. Filters get a group of their own (gid = uid),
// backends the shared SandboxUIDBase group of the file queues' directories.
void bl_system_sandbox(const bl_system_t *sys, int slot, bool backend, const char *tmpdir,
                       struct bl_sandbox *sb);
// A free uid slot for job_id's pipeline (job_id % BL_UID_SLOTS when free), or -1 when blattd
// does not change uids (or, beyond 1024 running pipelines, all are taken: the probes' uid).
int bl_system_take_uid(bl_system_t *sys, int job_id);
// The pipeline ended: every process left under the slot's uid is killed (a filter's child in
// a session of its own escapes the process-group kill), and the slot is free again.
void bl_system_give_uid(bl_system_t *sys, int slot);
// Time of this loop pass.
time_t bl_system_now(void);
// A random (version 4) UUID as "urn:uuid:..." into buf (at least 46 bytes).
void bl_uuid_make(char *buf, size_t len);

#endif
