// The audit chain: an append-only, hash-chained table of every security-relevant event.
// Licensed under the Apache License, Version 2.0.
//
// Each record holds its sequence number, the time (UTC, RFC 3339), the actor (a pseudonym of
// the subject, see below), the source address, the action, the object, the result, the hash
// of the previous record and its own: SHA-256 over prev || the record's fields. Changing,
// deleting, inserting or reordering any row breaks the chain at that row.
//
// Actors are pseudonyms: "p-" and 16 hex digits of HMAC-SHA256(audit key, subject). The
// mapping pseudonym -> subject is kept outside the chain (audit_actors), so that erasing a
// person (blatt user erase) deletes the mapping and leaves a chain that still verifies.
#ifndef BL_AUDIT_H
#define BL_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bl_store bl_store_t;
typedef struct bl_audit bl_audit_t;

// Opens the chain in the store (creating its tables) with the pseudonym key from key_path
// (32 random bytes, created 0600 when missing). NULL on failure (logged).
bl_audit_t *bl_audit_open(bl_store_t *store, const char *key_path);
// The key only (an existing key_path), for pseudonyms and hashes: bl_audit_add is not allowed.
bl_audit_t *bl_audit_open_key(const char *key_path);
void bl_audit_close(bl_audit_t *a);
// Sends every record also to syslog (facility authpriv), as a copy outside the database.
void bl_audit_set_syslog(bl_audit_t *a, bool on);

// Appends one record inside the loop pass's transaction. actor: a subject ("" = anonymous,
// "blattd" = the daemon itself); source: "127.0.0.1:4711", "unix" or "-"; action: a keyword
// such as "job-create" or "login"; object: "job 12", "printer office", ...; result: "ok",
// "denied", "failed" or a short reason. Text is cut at 255 bytes and control characters are
// replaced. false when the record could not be written (logged).
bool bl_audit_add(bl_audit_t *a, const char *actor, const char *source, const char *action,
                  const char *object, const char *result);

// The pseudonym of a subject ("p-0123456789abcdef"), as stored in the chain.
void bl_audit_pseudonym(const bl_audit_t *a, const char *subject, char *out, size_t len);

// A keyed hash of text for retention ("hashed-" and 16 hex digits): equal names stay equal
// (statistics), but the name cannot be read back or guessed without the audit key.
void bl_audit_hash_text(const bl_audit_t *a, const char *text, char *out, size_t len);

typedef struct bl_audit_report {
    uint64_t records;   // records checked
    uint64_t first_bad; // sequence number of the first broken record, 0 when whole
    char why[160];      // what is wrong there
} bl_audit_report_t;

// Walks the whole chain. true when it is whole; otherwise names the first broken record.
bool bl_audit_verify(bl_store_t *store, bl_audit_report_t *report);

// Calls fn for each record with seq > after_seq and time >= since ("" = all), in order; the
// actor is resolved to the subject where the mapping still exists.
typedef bool (*bl_audit_visit_fn)(void *arg, uint64_t seq, const char *time, const char *actor,
                                  const char *subject, const char *source, const char *action,
                                  const char *object, const char *result, const char *hash);
bool bl_audit_visit(bl_store_t *store, const char *since, bl_audit_visit_fn fn, void *arg);

// Deletes the pseudonym mapping of a subject (data-subject erasure). true when it existed.
bool bl_audit_forget(bl_store_t *store, const bl_audit_t *a, const char *subject);

#endif
