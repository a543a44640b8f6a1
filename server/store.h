// SQLite store of blattd: schema, prepared statements and group commit once per loop pass.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_STORE_H
#define BL_STORE_H

#include "server/log.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;

typedef struct bl_store bl_store_t;

// Called after the transaction holding a change is durable (ok=true) or failed (ok=false).
typedef void (*bl_store_commit_cb)(void *arg, bool ok);

// Opens (creating) the database at path in WAL mode and applies the schema. With `base` (the
// daemon) commits are made durable by a sync thread off the loop (see store.c); with NULL
// (offline tools) every commit is synchronous (synchronous=FULL).
bl_store_t *bl_store_open(const char *path, struct event_base *base);
// Opens an existing database for reading only (offline tools while blattd runs).
bl_store_t *bl_store_open_readonly(const char *path);
void bl_store_close(bl_store_t *store);
sqlite3 *bl_store_db(bl_store_t *store);

// Starts the loop pass's write transaction if none is open. Every write calls this first.
bool bl_store_begin(bl_store_t *store);
// Runs cb after the current pass's transaction commits and is durable (group commit).
void bl_store_after_commit(bl_store_t *store, bl_store_commit_cb cb, void *arg);
// File work that must be on disk before the current pass's commit counts as durable, done in
// the order given, off the loop.
// fdatasync(fd) of a spool file, or of a directory after a new name in it; the store closes fd.
void bl_store_sync_fd(bl_store_t *store, int fd);
// pwrite(fd, buf, len, off) when buf, else fdatasync(fd). The store frees buf but only borrows
// fd: the caller keeps it open until every commit handed to the store so far is durable (its
// after-commit callbacks tell).
void bl_store_sync_borrowed(bl_store_t *store, int fd, off_t off, uint8_t *buf, size_t len);
// The current pass cannot become durable (its file work could not be handed on): its
// callbacks get ok=false. err is an errno for the log.
void bl_store_fail_pass(bl_store_t *store, int err);
// Called at every commit, before the batch is handed on: adds file work (document log).
typedef void (*bl_store_sync_source_fn)(void *arg, bl_store_t *store);
void bl_store_set_sync_source(bl_store_t *store, bl_store_sync_source_fn fn, void *arg);
// Memory that is ahead of a failed commit. When a pass's COMMIT fails (a full disk), SQLite
// rolls the whole pass back, while the daemon's memory already shows its changes; when the
// pass's file work fails, the rows stay but are not durable. Either way memory must be written
// again. A writer that keeps state in memory registers once per pass (bl_store_pass() tells
// which one is open): fn(arg, true) runs about a second after the pass failed (write the state
// again; that registers with the pass then open), fn(arg, false) once the pass is durable or the
// store closes (release what arg holds).
typedef void (*bl_store_redo_fn)(void *arg, bool failed);
void bl_store_redo(bl_store_t *store, bl_store_redo_fn fn, void *arg);
// fn(arg, true) about a second from now, without a pass (a writer whose own write failed
// before any pass could take it: it tries again later instead of giving up).
void bl_store_redo_later(bl_store_t *store, bl_store_redo_fn fn, void *arg);
// Whether changes cannot be made durable just now: from a failed commit or sync until one
// succeeds. Nothing irreversible (printing) starts meanwhile, and the writers that try again
// every second log at debug level, so that a full disk does not flood the log.
bool bl_store_failing(const bl_store_t *store);
// The level of a write's error: debug while the store fails (the outage is said once), else
// error.
bl_log_level_t bl_store_error_level(const bl_store_t *store);
// Called once when changes are durable again after bl_store_failing() (printing resumes).
typedef void (*bl_store_recovered_fn)(void *arg);
void bl_store_on_recovered(bl_store_t *store, bl_store_recovered_fn fn, void *arg);
// The number of the pass that writes now (counts commits); with bl_store_redo, once per pass.
uint64_t bl_store_pass(const bl_store_t *store);
// Called right after a COMMIT failed and SQLite rolled the pass back, before that pass's
// callbacks run: state cached from the database (the audit chain's head) is read again.
typedef void (*bl_store_rollback_fn)(void *arg);
bool bl_store_on_rollback(bl_store_t *store, bl_store_rollback_fn fn, void *arg);
void bl_store_off_rollback(bl_store_t *store, bl_store_rollback_fn fn, void *arg);
// At shutdown, after the last commit: writes pending redo work now and commits; what still
// fails is released and logged (the database then keeps the earlier state).
void bl_store_flush_redo(bl_store_t *store);
// Whether this pass has written something not yet committed.
bool bl_store_dirty(const bl_store_t *store);
// Commits now and waits until everything committed so far is durable; runs the callbacks
// (start-up, shutdown and offline tools).
bool bl_store_commit(bl_store_t *store);

// Prepares (cached by SQL text pointer) a statement; reset and cleared for reuse.
sqlite3_stmt *bl_store_stmt(bl_store_t *store, const char *sql);
// Runs a statement with no result rows; logs the error.
bool bl_store_exec(bl_store_t *store, const char *sql);

#endif
