// Internals of the IPP face: the request object and the operation handlers per object.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_IPP_PRIVATE_H
#define BL_IPP_PRIVATE_H

#include "ipp/ipp.h"
#include "server/inflate.h"
#include "server/job.h"
#include "server/policy.h"
#include "server/printer.h"

#include <cups/cups.h>

struct bl_ipp_req {
    bl_system_t *sys;
    bl_ipp_peer_t peer; // strings point into the buffers below
    char address[64];
    char host[256];
    char path[512];
    bl_ipp_respond_cb respond;
    void *arg;
    bool responded;
    bool orphaned;   // connection gone while a commit is pending: free on completion
    bool waiting;    // a commit callback will come back to this request
    ipp_t *request;  // owned
    ipp_t *response; // owned until handed to respond()
    ipp_op_t op;
    bl_printer_t *printer;      // target queue (borrowed), NULL for system/all
    bool all_printers;          // printer-uri names the server root (CUPS-style Get-Jobs)
    int job_id;                 // target job id (job operations)
    char user[256];             // the requester's subject (owns jobs); "" = anonymous
    char user_name[256];        // for display (job-originating-user-name)
    bl_identity_t id;           // from authentication (subject "" = none)
    bool trust;                 // a trust listener: requesting-user-name is believed
    bool can_login;             // the connection offers a login scheme (a 401 makes sense)
    bool needs_auth;            // anonymous, and the operation needs a login: the router sends 401
    unsigned roles;             // BL_ROLE_* of the requester
    bl_job_t *doc_job;          // job receiving the document (Print-Job/Send-Document)
    bl_inflate_t *doc_inflate;  // `compression` of the document data (owned)
    bool doc_failed;            // the document could not be stored; the answer is out
    struct bl_ipp_arena *arena; // strings of the response added with IPP_TAG_COPY (bl_ipp_keep)
    uint8_t *groups;            // job groups encoded ahead (bl_ipp_add_groups)
    size_t groups_len, groups_cap;
};

// request.c
void bl_ipp_respond(bl_ipp_req_t *req);
// Encodes the attribute groups of `groups` now; they follow the response's own groups when it
// is sent, and the arena is emptied. A long Get-Jobs reply thus never holds more than a chunk of
// jobs as libcups attributes (about 600 bytes a job) next to its encoding. false when out of
// memory (nothing added).
bool bl_ipp_add_groups(bl_ipp_req_t *req, ipp_t *groups);
// false (with server-error-temporary-error) while nothing can be stored (a full disk): a job
// or document is refused before its data is read, instead of being held in memory for a
// commit that cannot succeed.
bool bl_ipp_can_store(bl_ipp_req_t *req);
// Adds a string that is new for each job (job-uri, job-uuid, job-name) to the response. libcups
// keeps every string value in one sorted global pool, where each new string costs a memmove of
// the whole pool: a reply listing 100,000 jobs spent seconds on that alone. These strings are
// kept in an arena of the request instead and added with IPP_TAG_COPY (the response is encoded
// and deleted before the request).
void bl_ipp_add_unique(bl_ipp_req_t *req, ipp_tag_t group, ipp_tag_t tag, const char *name,
                       const char *value);
void bl_ipp_set_status(bl_ipp_req_t *req, ipp_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// Puts a copy of attr into the unsupported group.
void bl_ipp_unsupported(bl_ipp_req_t *req, ipp_attribute_t *attr);
// The printer URI for a queue as this client reaches it.
void bl_ipp_printer_uri(const bl_ipp_req_t *req, const char *name, char *buf, size_t len);
void bl_ipp_job_uri(const bl_ipp_req_t *req, const bl_job_t *job, char *buf, size_t len);
// requested-attributes says name (or a group holding it) is wanted. NULL ra = `dflt`.
bool bl_ipp_wants(ipp_attribute_t *ra, const char *name, const char *group, bool dflt);
// A keyword/name value is safe to keep (charset, length).
bool bl_ipp_keyword_ok(const char *s, size_t max);

// The requester owns job (a non-empty subject equal to the job's owner).
bool bl_ipp_is_owner(const bl_ipp_req_t *req, const bl_job_t *job);
// Records a refusal in the audit chain and answers status (not-authorized or forbidden).
void bl_ipp_deny(bl_ipp_req_t *req, ipp_status_t status, const char *object, const char *why);

// printer-ipp.c
void bl_ipp_get_printer_attributes(bl_ipp_req_t *req);
void bl_ipp_add_printer_attrs(bl_ipp_req_t *req, bl_printer_t *p, ipp_attribute_t *ra);
bool bl_ipp_print_job(bl_ipp_req_t *req);
void bl_ipp_validate_job(bl_ipp_req_t *req);
void bl_ipp_create_job(bl_ipp_req_t *req);
void bl_ipp_identify_printer(bl_ipp_req_t *req);
// job-template.c: fills params from the request; false when the request must be refused.
bool bl_ipp_job_params(bl_ipp_req_t *req, bl_printer_t *p, bl_job_params_t *params);

// job-ipp.c
bool bl_ipp_send_document(bl_ipp_req_t *req);
void bl_ipp_close_job(bl_ipp_req_t *req);
void bl_ipp_cancel_job(bl_ipp_req_t *req);
void bl_ipp_cancel_my_jobs(bl_ipp_req_t *req);
void bl_ipp_hold_job(bl_ipp_req_t *req);
void bl_ipp_release_job(bl_ipp_req_t *req);
void bl_ipp_set_job_attributes(bl_ipp_req_t *req);
void bl_ipp_get_job_attributes(bl_ipp_req_t *req);
void bl_ipp_get_jobs(bl_ipp_req_t *req);
typedef enum bl_job_attrs {
    BL_JOB_ATTRS_CREATED, // reply to Print-Job/Create-Job/Send-Document: ids and state
    BL_JOB_ATTRS_LIST,    // Get-Jobs: job-id and job-uri unless requested-attributes says more
    BL_JOB_ATTRS_ALL,     // Get-Job-Attributes: everything unless requested-attributes says less
} bl_job_attrs_t;
void bl_ipp_add_job_attrs(bl_ipp_req_t *req, bl_job_t *job, ipp_attribute_t *ra,
                          bl_job_attrs_t mode);
// Document streaming shared by Print-Job and Send-Document.
bool bl_ipp_doc_begin(bl_ipp_req_t *req, bl_job_t *job);
// Checks the `compression` operation attribute and prepares decoding; false when refused.
bool bl_ipp_doc_compression(bl_ipp_req_t *req);

// system-ipp.c
void bl_ipp_get_system_attributes(bl_ipp_req_t *req);
void bl_ipp_get_printers(bl_ipp_req_t *req);
void bl_ipp_cups_get_default(bl_ipp_req_t *req);

#endif
