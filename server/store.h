// SQLite store of blattd: schema, prepared statements and group commit once per loop pass.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_STORE_H
#define BL_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct bl_store bl_store_t;

// Called after the transaction holding a change is durable (ok=true) or failed (ok=false).
typedef void (*bl_store_commit_cb)(void *arg, bool ok);

// Opens (creating) the database at path, WAL mode, synchronous=FULL, applies the schema.
// `base` may be NULL (offline tools): then every write commits at once.
bl_store_t *bl_store_open(const char *path, struct event_base *base);
// Opens an existing database for reading only (offline tools while blattd runs).
bl_store_t *bl_store_open_readonly(const char *path);
void bl_store_close(bl_store_t *store);
sqlite3 *bl_store_db(bl_store_t *store);

// Starts the loop pass's write transaction if none is open. Every write calls this first.
bool bl_store_begin(bl_store_t *store);
// Runs cb after the current pass's transaction commits (group commit; one fsync per pass).
void bl_store_after_commit(bl_store_t *store, bl_store_commit_cb cb, void *arg);
// Whether this pass has written something not yet committed.
bool bl_store_dirty(const bl_store_t *store);
// Commits now (used at shutdown and by offline tools).
bool bl_store_commit(bl_store_t *store);

// Prepares (cached by SQL text pointer) a statement; reset and cleared for reuse.
sqlite3_stmt *bl_store_stmt(bl_store_t *store, const char *sql);
// Runs a statement with no result rows; logs the error.
bool bl_store_exec(bl_store_t *store, const char *sql);

#endif
