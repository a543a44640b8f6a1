// Encrypted spool files: AES-256-GCM segments under a per-document key wrapped by the KEK.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_SPOOL_H
#define BL_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// Plaintext bytes per segment written by bl_spool_writer_t.
#define BL_SPOOL_SEGMENT_SIZE 65536u
// Size in bytes of the fixed file header (see the format notes in spool.c).
#define BL_SPOOL_HEADER_SIZE 84u

// The server's key-encryption key (32 bytes); wiped when deleted.
typedef struct bl_kek bl_kek_t;

// Loads the 32-byte KEK from `path`, or creates it (O_EXCL, mode 0600, random) when missing.
// Refuses a key file that is group/world readable or of the wrong size. NULL on failure (logged).
// The caller owns the result (bl_kek_delete()).
bl_kek_t *bl_kek_load_or_create(const char *path);
// Wipes and frees a KEK; NULL is ignored.
void bl_kek_delete(bl_kek_t *kek);

// Streams one document into an encrypted spool file.
typedef struct bl_spool_writer bl_spool_writer_t;

// Creates `path` (O_EXCL, 0600) and writes the header. NULL on failure. The document is bound
// to `bind` (its job's uuid; up to 255 bytes are used): it opens only for that binding.
// The writer keeps neither `kek` nor `bind`; the caller owns the writer until finish/abort.
bl_spool_writer_t *bl_spool_writer_create(const bl_kek_t *kek, const char *path, const char *bind);
// The same, but the encrypted bytes go to memory until bl_spool_writer_spill() moves them to
// spill_path; small documents then go to the document log in one write (doclog.h).
bl_spool_writer_t *bl_spool_writer_create_mem(const bl_kek_t *kek, const char *spill_path,
                                              const char *bind);
bool bl_spool_writer_in_memory(const bl_spool_writer_t *w);
// Bytes of the encrypted form written so far.
uint64_t bl_spool_writer_size(const bl_spool_writer_t *w);
// Moves an in-memory writer's bytes to its spill_path (O_EXCL, 0600) and continues there.
bool bl_spool_writer_spill(bl_spool_writer_t *w);
// Ends an in-memory writer: *data (malloc'ed, caller frees) holds the whole encrypted form.
// Frees w in all cases.
bool bl_spool_writer_finish_mem(bl_spool_writer_t *w, uint8_t **data, size_t *len,
                                uint64_t *plain_bytes);
// Appends plaintext; encrypts and writes each full segment. false on I/O error (e.g. ENOSPC;
// errno kept). After a failure, only bl_spool_writer_abort() is useful.
bool bl_spool_writer_write(bl_spool_writer_t *w, const void *data, size_t len);
// Writes the final segment, fdatasync()s the file and its directory, closes. Frees w in all cases.
// *plain_bytes = total plaintext length (may be NULL). false on error (file removed).
bool bl_spool_writer_finish(bl_spool_writer_t *w, uint64_t *plain_bytes);
// The same without any sync: *fd (the caller closes it) is the written file, which is durable
// only once the caller has fdatasync()ed it and fsync()ed its directory. Frees w in all cases.
bool bl_spool_writer_finish_nosync(bl_spool_writer_t *w, uint64_t *plain_bytes, int *fd);
// Drops a writer: closes and unlinks the partial file. Frees w. NULL is ignored.
void bl_spool_writer_abort(bl_spool_writer_t *w);

// Reads one document back; only authenticated plaintext is ever returned.
typedef struct bl_spool_reader bl_spool_reader_t;

// Opens `path` and unwraps its data key with `kek`, for the owner `bind` (a document bound to
// another fails; one written before binding existed opens for any). NULL on failure (logged):
// errno is EBADMSG when the document is damaged, not a document or not this owner's, else the
// error of opening or reading it (which may pass: EMFILE, EACCES, EIO).
bl_spool_reader_t *bl_spool_reader_create(const bl_kek_t *kek, const char *path, const char *bind);
// Reads an encrypted form held in memory (from the database).
bl_spool_reader_t *bl_spool_reader_create_mem(const bl_kek_t *kek, const uint8_t *data, size_t len,
                                              const char *bind);
// Same on an open file positioned at the header; the reader owns `fd` (closed on failure too).
bl_spool_reader_t *bl_spool_reader_create_fd(const bl_kek_t *kek, int fd, const char *bind);
// Same on the len bytes at off of fd (a document of the log); len -1: to the end of the file.
// The reader owns `fd`; bytes past off + len are never read.
bl_spool_reader_t *bl_spool_reader_create_range(const bl_kek_t *kek, int fd, off_t off, off_t len,
                                                const char *bind);
// Reads up to len plaintext bytes: >0 bytes, 0 at authenticated end, -1 on error/tamper/truncation
// (logged). Once it returned -1, every later call returns -1.
ssize_t bl_spool_reader_read(bl_spool_reader_t *r, void *buf, size_t len);
// Closes, wipes and frees a reader; NULL is ignored.
void bl_spool_reader_delete(bl_spool_reader_t *r);

// Shreds a spool file: overwrites the wrapped key in the header with random bytes, fdatasync,
// unlink. After this the document is unrecoverable even from a disk image. true if gone (also if
// missing). Caveat: on copy-on-write file systems and SSDs the old header block may survive the
// overwrite; there the guarantee needs KEK rotation too (see the notes at the top of spool.c).
bool bl_spool_shred(const char *path);
// Key rotation: rewraps a document's data key (owner `bind`) under new_kek. DONE; ALREADY when
// new_kek opens it (an interrupted rotation did it); UNREADABLE when neither key opens it or it
// is not a document (damaged: its job cannot print anyway); FAILED on an I/O error.
typedef enum bl_rewrap {
    BL_REWRAP_DONE,
    BL_REWRAP_ALREADY,
    BL_REWRAP_UNREADABLE,
    BL_REWRAP_FAILED,
} bl_rewrap_t;
// A spool file (the header rewritten in place, then fsync).
bl_rewrap_t bl_spool_rewrap(const bl_kek_t *old_kek, const bl_kek_t *new_kek, const char *path,
                            const char *bind);
// The document at off of an open file (no sync; `what` names it in the log).
bl_rewrap_t bl_spool_rewrap_at(const bl_kek_t *old_kek, const bl_kek_t *new_kek, int fd, off_t off,
                               const char *what, const char *bind);
// An encrypted form in memory (its header is rewritten in place).
bl_rewrap_t bl_spool_rewrap_mem(const bl_kek_t *old_kek, const bl_kek_t *new_kek, uint8_t *data,
                                size_t len, const char *bind);

// Documents one after another in one file (doclog.c). The walk reads only the framing: the
// header's magic and sizes and each segment's length, none of the ciphertext.
typedef struct bl_spool_entry {
    bool shredded; // the key was destroyed in place
    bool complete; // the framing is whole; otherwise the entry is cut short or damaged
    off_t len;     // bytes of the entry (to `end` when it is not complete)
} bl_spool_entry_t;

// Is there a document (its magic) at off of fd, whose data ends at `end`? Fills *e.
bool bl_spool_entry_walk(int fd, off_t off, off_t end, bl_spool_entry_t *e);
// Destroys the key of the document at off in place (no sync): the nonce prefix and the wrapped
// key become random bytes and the flags say so; the framing stays walkable. `end` bounds what
// may be read (a cut header is shredded as far as it goes).
bool bl_spool_shred_at(int fd, off_t off, off_t end);
// The same on a document held in memory (buf: its first len bytes).
bool bl_spool_shred_buffer(uint8_t *buf, size_t len);
// A shredded header as bl_spool_shred_at() leaves one of this writer's documents (segment size
// BL_SPOOL_SEGMENT_SIZE): BL_SPOOL_HEADER_SIZE bytes into h; bytes 10.. are what changes.
bool bl_spool_shred_bytes(uint8_t *h);

#endif
