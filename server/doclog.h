// The document log: small encrypted documents one after another in segment files.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_DOCLOG_H
#define BL_DOCLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/spool.h"

typedef struct bl_doclog bl_doclog_t;

// Where one document lies: its segment (1, 2, ...; 0 = not in the log), offset and length.
typedef struct bl_doclog_ref {
    uint32_t seg;
    int64_t off;
    int64_t len;
} bl_doclog_ref_t;

// A new segment is started when the current one would grow past this.
#define BL_DOCLOG_SEGMENT_MAX (64 * 1024 * 1024)

// Opens the log in `dir` (made with mode 0700 when missing). The daemon calls
// bl_doclog_recover() before the first append; offline tools only read, rewrap and shred.
// NULL on failure (logged). The caller owns the result (bl_doclog_close()).
bl_doclog_t *bl_doclog_open(const char *dir);
// Syncs what is dirty and closes every segment; NULL is ignored.
void bl_doclog_close(bl_doclog_t *log);

// Start-up: refs are the documents that jobs still need. Every other document in every
// segment is shredded in place (holes and damage do not stop the walk), segments without a
// live document are removed, and appends go to a new segment numbered at least min_next_seq
// (one above every segment a job names: a number is never used twice). lost[i] (num_refs
// entries) is set when refs[i] is missing or damaged: its job cannot print. Entries of the
// directory that cannot be opened as segments are left alone (logged). *shredded counts the
// documents shredded now. false on an I/O error or out of memory (logged).
bool bl_doclog_recover(bl_doclog_t *log, const bl_doclog_ref_t *refs, size_t num_refs,
                       uint32_t min_next_seq, bool *lost, size_t *shredded);

// Whether appends may bypass the page cache (O_DIRECT, each document on a 4 KiB boundary):
// yes by default, where the file system takes it. Only before the first append (tests).
void bl_doclog_set_direct(bl_doclog_t *log, bool on);
// Appends one whole encrypted document (the spool format of spool.c; malloc'ed, the log takes
// it, also on failure) and fills *ref. Its place is reserved now; it is written and synced by
// the next bl_doclog_flush() (or bl_doclog_sync()). false on failure (logged).
bool bl_doclog_append(bl_doclog_t *log, uint8_t *data, size_t len, bl_doclog_ref_t *ref);
// Destroys one document's key in place, with the next flush or sync. A finished segment whose
// last live document this was is removed once that is durable.
bool bl_doclog_shred(bl_doclog_t *log, const bl_doclog_ref_t *ref);
// A reader of one document (owner `bind`, its job's uuid: spool.h), on a descriptor of its
// own. NULL on failure (logged).
bl_spool_reader_t *bl_doclog_reader(bl_doclog_t *log, const bl_kek_t *kek,
                                    const bl_doclog_ref_t *ref, const char *bind);
// Rewraps one document's key under new_kek (offline key rotation; bl_doclog_sync() after).
bl_rewrap_t bl_doclog_rewrap(bl_doclog_t *log, const bl_kek_t *old_kek, const bl_kek_t *new_kek,
                             const bl_doclog_ref_t *ref, const char *bind);

typedef struct bl_store bl_store_t;
// Hands the writes, shreds and syncs since the last call to the store's current commit (its
// sync thread does them, in order, while the WAL is synced; store.c). The daemon's sync source.
void bl_doclog_flush(bl_doclog_t *log, bl_store_t *store);
// Does all that now, in this thread (offline tools; closing).
bool bl_doclog_sync(bl_doclog_t *log);

#endif
