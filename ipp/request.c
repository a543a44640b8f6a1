// IPP requests: validation common to every operation (RFC 8011 4.1), target look-up, dispatch.
// Licensed under the Apache License, Version 2.0.
#include "ipp/ipp-private.h"

#include "ipp/frame.h"
#include "ipp/printer-attrs.h"
#include "server/config.h"
#include "server/log.h"
#include "server/store.h"

#include <pwd.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Blocks of strings that live as long as their request.
typedef struct bl_ipp_arena {
    struct bl_ipp_arena *next;
    size_t used, cap;
    char data[];
} bl_ipp_arena_t;

#define ARENA_BLOCK (64 * 1024)

static const char *arena_keep(bl_ipp_req_t *req, const char *s)
{
    size_t n = strlen(s) + 1;
    bl_ipp_arena_t *a = req->arena;
    if (!a || a->cap - a->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        a = malloc(sizeof(*a) + cap);
        if (!a)
            return NULL;
        a->next = req->arena;
        a->used = 0;
        a->cap = cap;
        req->arena = a;
    }
    char *p = a->data + a->used;
    memcpy(p, s, n);
    a->used += n;
    return p;
}

void bl_ipp_add_unique(bl_ipp_req_t *req, ipp_tag_t group, ipp_tag_t tag, const char *name,
                       const char *value)
{
    const char *kept = arena_keep(req, value);
    if (kept)
        ippAddString(req->response, group, (ipp_tag_t)(tag | IPP_TAG_COPY), name, NULL, kept);
    else
        ippAddString(req->response, group, tag, name, NULL, value);
}

bl_ipp_req_t *bl_ipp_req_create(bl_system_t *sys, const bl_ipp_peer_t *peer, const char *path,
                                bl_ipp_respond_cb respond, void *arg)
{
    bl_ipp_req_t *req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    req->sys = sys;
    req->peer = *peer;
    snprintf(req->address, sizeof(req->address), "%s", peer->address ? peer->address : "");
    snprintf(req->host, sizeof(req->host), "%s", peer->host ? peer->host : "localhost");
    snprintf(req->path, sizeof(req->path), "%s", path);
    req->peer.address = req->address;
    req->peer.host = req->host;
    req->respond = respond;
    req->arg = arg;
    return req;
}

static void arena_free(bl_ipp_req_t *req)
{
    while (req->arena) {
        bl_ipp_arena_t *next = req->arena->next;
        free(req->arena);
        req->arena = next;
    }
}

bool bl_ipp_add_groups(bl_ipp_req_t *req, ipp_t *groups)
{
    size_t len = 0;
    uint8_t *data = bl_ipp_encode(groups, &len);
    // The message's 8-byte header and its end-of-attributes tag stay out.
    bool ok = data && len >= 9 && data[len - 1] == IPP_TAG_END;
    size_t add = ok ? len - 9 : 0;
    if (ok && req->groups_cap - req->groups_len < add) {
        size_t cap = req->groups_cap ? req->groups_cap : 65536;
        while (cap - req->groups_len < add)
            cap *= 2;
        uint8_t *g = realloc(req->groups, cap);
        ok = g != NULL;
        if (g) {
            req->groups = g;
            req->groups_cap = cap;
        }
    }
    if (ok) {
        memcpy(req->groups + req->groups_len, data + 8, add);
        req->groups_len += add;
    }
    free(data);
    ippDelete(groups); // before the arena its strings are in
    arena_free(req);
    return ok;
}

void bl_ipp_req_delete(bl_ipp_req_t *req)
{
    if (!req)
        return;
    if (req->waiting) {
        // A commit callback still points at req: it frees it.
        req->orphaned = true;
        return;
    }
    if (req->doc_job) {
        bl_job_doc_abort(req->doc_job);
        bl_job_unref(req->doc_job);
        req->doc_job = NULL;
    }
    bl_inflate_delete(req->doc_inflate);
    ippDelete(req->request);
    ippDelete(req->response); // before the arena its strings are in
    arena_free(req);
    free(req->groups);
    free(req);
}

// A reply has one operation group, first (RFC 8010 3.1.1; libcups refuses any other reply as
// "Invalid group tag"): operation attributes added after others (a status-message set after an
// attribute was reported unsupported) move up, the other groups keep their order.
static void operation_group_first(bl_ipp_req_t *req)
{
    ipp_t *r = req->response;
    bool other = false, late = false;
    for (ipp_attribute_t *a = ippFirstAttribute(r); a && !late; a = ippNextAttribute(r)) {
        ipp_tag_t g = ippGetGroupTag(a);
        late = g == IPP_TAG_OPERATION && other;
        other = other || (g != IPP_TAG_OPERATION && g != IPP_TAG_ZERO);
    }
    ipp_t *fixed = late ? ippNew() : NULL;
    if (!fixed)
        return;
    int minor = 0, major = ippGetVersion(r, &minor);
    ippSetVersion(fixed, major, minor);
    ippSetStatusCode(fixed, ippGetStatusCode(r));
    ippSetRequestId(fixed, ippGetRequestId(r));
    for (ipp_attribute_t *a = ippFirstAttribute(r); a; a = ippNextAttribute(r)) {
        if (ippGetGroupTag(a) == IPP_TAG_OPERATION)
            ippCopyAttribute(fixed, a, 0);
    }
    for (ipp_attribute_t *a = ippFirstAttribute(r); a; a = ippNextAttribute(r)) {
        if (ippGetGroupTag(a) == IPP_TAG_OPERATION)
            continue;
        if (ippGetName(a))
            ippCopyAttribute(fixed, a, 0);
        else
            ippAddSeparator(fixed);
    }
    ippDelete(r);
    req->response = fixed;
}

void bl_ipp_respond(bl_ipp_req_t *req)
{
    if (req->responded)
        return;
    req->responded = true;
    if (req->response)
        operation_group_first(req);
    ipp_t *resp = req->response;
    req->response = NULL;
    if (req->orphaned) {
        ippDelete(resp);
        return;
    }
    // Groups encoded ahead belong to a successful reply only.
    bool ok = resp && ippGetStatusCode(resp) < IPP_STATUS_REDIRECTION_OTHER_SITE;
    size_t len = 0;
    uint8_t *data = resp ? bl_ipp_encode(resp, &len) : NULL;
    ippDelete(resp);
    if (data && ok && req->groups_len) {
        // The groups encoded ahead go before the end-of-attributes tag.
        uint8_t *all =
            len > 0 && data[len - 1] == IPP_TAG_END ? realloc(data, len + req->groups_len) : NULL;
        if (all) {
            memcpy(all + len - 1, req->groups, req->groups_len);
            all[len - 1 + req->groups_len] = IPP_TAG_END;
            len += req->groups_len;
        } else {
            free(data);
        }
        data = all;
    }
    free(req->groups);
    req->groups = NULL;
    req->groups_len = req->groups_cap = 0;
    req->respond(req->arg, data, len);
}

bool bl_ipp_can_store(bl_ipp_req_t *req)
{
    if (!bl_store_failing(req->sys->store))
        return true;
    bl_ipp_set_status(req, IPP_STATUS_ERROR_TEMPORARY,
                      "jobs cannot be stored just now (the disk is full or failing); try again "
                      "later");
    return false;
}

void bl_ipp_set_status(bl_ipp_req_t *req, ipp_status_t status, const char *fmt, ...)
{
    ippSetStatusCode(req->response, status);
    if (!fmt)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ipp_attribute_t *old = ippFindAttribute(req->response, "status-message", IPP_TAG_TEXT);
    if (old)
        ippDeleteAttribute(req->response, old);
    ippAddString(req->response, IPP_TAG_OPERATION, IPP_TAG_TEXT, "status-message", NULL, msg);
    if (status >= IPP_STATUS_ERROR_BAD_REQUEST)
        bl_log(BL_LOG_DEBUG, "ipp %s from %s: %s: %s", ippOpString(req->op), req->address,
               ippErrorString(status), msg);
}

void bl_ipp_req_fail(bl_ipp_req_t *req, ipp_status_t status, const char *message)
{
    ippDelete(req->response);
    req->response = ippNew();
    ippSetVersion(req->response, 2, 0);
    ippSetRequestId(req->response, 1);
    ippAddString(req->response, IPP_TAG_OPERATION, IPP_TAG_CHARSET, "attributes-charset", NULL,
                 "utf-8");
    ippAddString(req->response, IPP_TAG_OPERATION, IPP_TAG_LANGUAGE, "attributes-natural-language",
                 NULL, "en");
    bl_ipp_set_status(req, status, "%s", message);
    bl_ipp_respond(req);
}

void bl_ipp_unsupported(bl_ipp_req_t *req, ipp_attribute_t *attr)
{
    const char *name = ippGetName(attr);
    if (!name)
        return;
    for (ipp_attribute_t *a = ippFirstAttribute(req->response); a;
         a = ippNextAttribute(req->response)) {
        if (ippGetGroupTag(a) == IPP_TAG_UNSUPPORTED_GROUP && ippGetName(a) &&
            !strcmp(ippGetName(a), name))
            return; // reported already
    }
    // ippCopyAttribute() keeps the source's group; the copy belongs to the unsupported group.
    ipp_attribute_t *copy = ippCopyAttribute(req->response, attr, 0);
    if (copy)
        ippSetGroupTag(req->response, &copy, IPP_TAG_UNSUPPORTED_GROUP);
}

bool bl_ipp_keyword_ok(const char *s, size_t max)
{
    size_t n = 0;
    if (!s || !*s)
        return false;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= max ||
            !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

void bl_ipp_printer_uri(const bl_ipp_req_t *req, const char *name, char *buf, size_t len)
{
    const char *scheme = req->peer.tls ? "ipps" : "ipp";
    if (req->peer.port)
        httpAssembleURIf(HTTP_URI_CODING_ALL, buf, (int)len, scheme, NULL, req->host,
                         req->peer.port, "/ipp/print/%s", name);
    else
        httpAssembleURIf(HTTP_URI_CODING_ALL, buf, (int)len, scheme, NULL, "localhost", 0,
                         "/ipp/print/%s", name);
}

void bl_ipp_job_uri(const bl_ipp_req_t *req, const bl_job_t *job, char *buf, size_t len)
{
    char base[1024];
    bl_ipp_printer_uri(req, job->printer_name, base, sizeof(base));
    snprintf(buf, len, "%s/%d", base, job->id);
}

bool bl_ipp_wants(ipp_attribute_t *ra, const char *name, const char *group, bool dflt)
{
    if (!ra)
        return dflt;
    return bl_ipp_ra_wants(ra, name, group);
}

void bl_ipp_req_set_identity(bl_ipp_req_t *req, const bl_identity_t *id, bool trust, bool can_login)
{
    req->id = *id;
    req->trust = trust && !id->subject[0];
    req->can_login = can_login;
}

bool bl_ipp_req_needs_auth(const bl_ipp_req_t *req)
{
    return req->needs_auth;
}

// requesting-user-name when it is a clean single name, else NULL.
static const char *requesting_user(const bl_ipp_req_t *req)
{
    ipp_attribute_t *a = ippFindAttribute(req->request, "requesting-user-name", IPP_TAG_ZERO);
    const char *name = NULL;
    if (a && ippGetGroupTag(a) == IPP_TAG_OPERATION &&
        (ippGetValueTag(a) == IPP_TAG_NAME || ippGetValueTag(a) == IPP_TAG_NAMELANG) &&
        ippGetCount(a) == 1)
        name = ippGetString(a, 0, NULL);
    if (!name || !*name || strlen(name) >= sizeof(req->user))
        return NULL;
    // Control characters never reach logs, files or other clients.
    for (size_t i = 0; name[i]; i++) {
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return NULL;
    }
    return name;
}

// Who is asking: the authenticated subject; on a trust listener requesting-user-name; else
// nobody. Once a requester is authenticated, requesting-user-name is never believed.
static void find_user(bl_ipp_req_t *req)
{
    const char *rqn = requesting_user(req);
    if (!req->id.subject[0] && req->trust) {
        // A trusted client that names nobody is the user "anonymous" (as in CUPS).
        req->id.method = BL_AUTH_TRUST;
        snprintf(req->id.subject, sizeof(req->id.subject), "%s", rqn ? rqn : "anonymous");
        snprintf(req->id.name, sizeof(req->id.name), "%s", req->id.subject);
    }
    snprintf(req->user, sizeof(req->user), "%s", req->id.subject);
    snprintf(req->user_name, sizeof(req->user_name), "%s",
             req->id.subject[0] ? (req->id.name[0] ? req->id.name : req->id.subject)
                                : (rqn ? rqn : "anonymous"));
    req->roles = bl_policy_roles(req->sys->policy, &req->id);
}

bool bl_ipp_is_owner(const bl_ipp_req_t *req, const bl_job_t *job)
{
    return req->user[0] && !strcmp(req->user, job->params.user);
}

void bl_ipp_deny(bl_ipp_req_t *req, ipp_status_t status, const char *object, const char *why)
{
    bl_log(BL_LOG_INFO, "ipp %s from %s (%s): refused: %s", ippOpString(req->op), req->address,
           req->user[0] ? req->user : "anonymous", why);
    char result[160];
    snprintf(result, sizeof(result), "denied: %s", why);
    bl_system_audit(req->sys, req->user, req->address, ippOpString(req->op), object, result);
    bl_ipp_set_status(req, status, "%s", why);
}

// Checks version, request-id and the charset/language pair that must come first.
static bool check_header(bl_ipp_req_t *req)
{
    int minor = 0, major = ippGetVersion(req->request, &minor);
    if (major < 1 || major > 2) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_VERSION_NOT_SUPPORTED,
                          "IPP version %d.%d is not supported", major, minor);
        return false;
    }
    if (ippGetRequestId(req->request) <= 0) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "request-id must be positive");
        return false;
    }
    ipp_attribute_t *a = ippFirstAttribute(req->request);
    if (!a || ippGetGroupTag(a) != IPP_TAG_OPERATION || !ippGetName(a) ||
        strcmp(ippGetName(a), "attributes-charset") || ippGetValueTag(a) != IPP_TAG_CHARSET ||
        ippGetCount(a) != 1) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST,
                          "attributes-charset must be the first attribute");
        return false;
    }
    const char *cs = ippGetString(a, 0, NULL);
    a = ippNextAttribute(req->request);
    if (!a || ippGetGroupTag(a) != IPP_TAG_OPERATION || !ippGetName(a) ||
        strcmp(ippGetName(a), "attributes-natural-language") ||
        ippGetValueTag(a) != IPP_TAG_LANGUAGE || ippGetCount(a) != 1) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST,
                          "attributes-natural-language must be the second attribute");
        return false;
    }
    if (!cs || (strcasecmp(cs, "utf-8") && strcasecmp(cs, "us-ascii"))) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_CHARSET, "charset %s is not supported",
                          cs ? cs : "(none)");
        return false;
    }
    return true;
}

// Every attribute must sit in a group and the operation group must not repeat names.
static bool check_groups(bl_ipp_req_t *req)
{
    ipp_tag_t last = IPP_TAG_ZERO;
    const char *op_names[64];
    int num_op = 0;
    for (ipp_attribute_t *a = ippFirstAttribute(req->request); a;
         a = ippNextAttribute(req->request)) {
        ipp_tag_t g = ippGetGroupTag(a);
        const char *name = ippGetName(a);
        if (!name) {
            last = g;
            continue;
        }
        if (g == IPP_TAG_ZERO) {
            bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "attribute outside a group");
            return false;
        }
        if (g < last && g != IPP_TAG_ZERO) {
            bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "attribute groups out of order");
            return false;
        }
        last = g;
        if (ippGetCount(a) < 1) {
            bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "%s has no value", name);
            return false;
        }
        // An operation attribute given twice is ambiguous (which printer-uri counts?).
        if (g == IPP_TAG_OPERATION && ++num_op < 64) {
            for (int i = 0; i + 1 < num_op; i++) {
                if (!strcmp(op_names[i], name)) {
                    bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "%s is given twice", name);
                    return false;
                }
            }
            op_names[num_op - 1] = name;
        }
    }
    return true;
}

// Splits an IPP path into a queue name and an optional job id.
static bool parse_target_path(bl_ipp_req_t *req, const char *path, char *name, size_t len,
                              int *job_id)
{
    name[0] = '\0';
    *job_id = 0;
    const char *rest = NULL;
    if (!strncmp(path, "/ipp/print/", 11))
        rest = path + 11;
    else if (!strncmp(path, "/printers/", 10))
        rest = path + 10;
    else if (!strcmp(path, "/ipp/print") || !strcmp(path, "/")) {
        req->all_printers = !strcmp(path, "/");
        return true;
    } else if (!strncmp(path, "/jobs/", 6)) {
        char *end = NULL;
        long id = strtol(path + 6, &end, 10);
        if (!end || *end || id <= 0 || id > 0x7fffffff)
            return false;
        *job_id = (int)id;
        return true;
    } else
        return false;
    size_t n = strcspn(rest, "/");
    if (n == 0 || n >= len)
        return false;
    memcpy(name, rest, n);
    name[n] = '\0';
    if (rest[n] == '/') {
        char *end = NULL;
        long id = strtol(rest + n + 1, &end, 10);
        if (!end || *end || id <= 0 || id > 0x7fffffff)
            return false;
        *job_id = (int)id;
    }
    return true;
}

static bool is_job_op(ipp_op_t op)
{
    return op == IPP_OP_SEND_DOCUMENT || op == IPP_OP_CLOSE_JOB || op == IPP_OP_CANCEL_JOB ||
           op == IPP_OP_GET_JOB_ATTRIBUTES || op == IPP_OP_HOLD_JOB || op == IPP_OP_RELEASE_JOB ||
           op == IPP_OP_SET_JOB_ATTRIBUTES;
}

static bool is_printer_op(ipp_op_t op)
{
    return op == IPP_OP_PRINT_JOB || op == IPP_OP_VALIDATE_JOB || op == IPP_OP_CREATE_JOB ||
           op == IPP_OP_GET_PRINTER_ATTRIBUTES || op == IPP_OP_GET_JOBS ||
           op == IPP_OP_CANCEL_MY_JOBS || op == IPP_OP_IDENTIFY_PRINTER ||
           op == IPP_OP_CANCEL_JOBS || op == IPP_OP_PURGE_JOBS;
}

// Resolves printer-uri / job-uri (+ job-id) to req->printer and req->job_id.
static bool resolve_target(bl_ipp_req_t *req)
{
    ipp_attribute_t *uri_attr = NULL;
    const char *kind = "printer-uri";
    if (is_job_op(req->op)) {
        uri_attr = ippFindAttribute(req->request, "job-uri", IPP_TAG_ZERO);
        if (uri_attr)
            kind = "job-uri";
    }
    if (!uri_attr)
        uri_attr = ippFindAttribute(req->request, "printer-uri", IPP_TAG_ZERO);
    if (!uri_attr && !strcmp(kind, "printer-uri") && is_job_op(req->op))
        kind = "job-uri";
    if (!uri_attr) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "missing %s", kind);
        return false;
    }
    if (ippGetGroupTag(uri_attr) != IPP_TAG_OPERATION || ippGetValueTag(uri_attr) != IPP_TAG_URI ||
        ippGetCount(uri_attr) != 1) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "bad %s", ippGetName(uri_attr));
        return false;
    }
    char scheme[32], userpass[256], host[256], resource[1024];
    int port;
    if (httpSeparateURI(HTTP_URI_CODING_ALL, ippGetString(uri_attr, 0, NULL), scheme,
                        sizeof(scheme), userpass, sizeof(userpass), host, sizeof(host), &port,
                        resource, sizeof(resource)) < HTTP_URI_STATUS_OK ||
        (strcmp(scheme, "ipp") && strcmp(scheme, "ipps") && strcmp(scheme, "http") &&
         strcmp(scheme, "https"))) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "bad %s", ippGetName(uri_attr));
        return false;
    }
    char name[128];
    int job_id = 0;
    if (!parse_target_path(req, resource, name, sizeof(name), &job_id)) {
        bl_log(BL_LOG_DEBUG, "ipp %s: no object at %s", ippOpString(req->op), resource);
        bl_ipp_set_status(req, IPP_STATUS_ERROR_NOT_FOUND, "%s not found", ippGetName(uri_attr));
        return false;
    }
    if (name[0]) {
        req->printer = bl_system_find_printer(req->sys, name);
        if (!req->printer) {
            bl_ipp_set_status(req, IPP_STATUS_ERROR_NOT_FOUND, "no such printer");
            return false;
        }
    } else if (!job_id && !req->all_printers) {
        req->printer = req->sys->default_printer;
        if (!req->printer) {
            bl_ipp_set_status(req, IPP_STATUS_ERROR_NOT_FOUND, "no default printer");
            return false;
        }
    }
    if (is_job_op(req->op)) {
        if (!strcmp(ippGetName(uri_attr), "printer-uri") || !job_id) {
            ipp_attribute_t *id = ippFindAttribute(req->request, "job-id", IPP_TAG_ZERO);
            if (!id || ippGetValueTag(id) != IPP_TAG_INTEGER || ippGetCount(id) != 1 ||
                ippGetGroupTag(id) != IPP_TAG_OPERATION || ippGetInteger(id, 0) <= 0) {
                bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "missing or bad job-id");
                return false;
            }
            job_id = ippGetInteger(id, 0);
        }
        req->job_id = job_id;
    } else if (job_id) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "printer-uri names a job");
        return false;
    }
    if (req->all_printers && req->op != IPP_OP_GET_JOBS && req->op != IPP_OP_CANCEL_MY_JOBS &&
        req->op != IPP_OP_CANCEL_JOBS && req->op != IPP_OP_PURGE_JOBS && !is_job_op(req->op)) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_NOT_FOUND, "no such printer");
        return false;
    }
    return true;
}

static void on_state_durable(void *arg, bool ok)
{
    bl_ipp_req_t *req = arg;
    req->waiting = false;
    if (!ok)
        bl_ipp_set_status(req, IPP_STATUS_ERROR_INTERNAL, "the change could not be stored");
    bl_ipp_respond(req);
    if (req->orphaned)
        bl_ipp_req_delete(req);
}

static bl_op_class_t op_class(ipp_op_t op)
{
    switch (op) {
    case IPP_OP_PRINT_JOB:
    case IPP_OP_VALIDATE_JOB:
    case IPP_OP_CREATE_JOB:
        return BL_OP_PRINT;
    case IPP_OP_SEND_DOCUMENT:
    case IPP_OP_CLOSE_JOB:
        return BL_OP_DOCUMENT;
    case IPP_OP_CANCEL_JOB:
    case IPP_OP_HOLD_JOB:
    case IPP_OP_SET_JOB_ATTRIBUTES:
    case IPP_OP_CANCEL_MY_JOBS:
        return BL_OP_MANAGE_JOB;
    case IPP_OP_RELEASE_JOB:
        return BL_OP_RELEASE;
    case IPP_OP_GET_JOB_ATTRIBUTES:
    case IPP_OP_GET_JOBS:
        return BL_OP_READ_JOBS;
    case IPP_OP_CANCEL_JOBS:
    case IPP_OP_PURGE_JOBS:
        return BL_OP_CANCEL_ALL;
    case IPP_OP_IDENTIFY_PRINTER:
        return BL_OP_IDENTIFY;
    case IPP_OP_GET_PRINTER_ATTRIBUTES:
    case IPP_OP_GET_SYSTEM_ATTRIBUTES:
    case IPP_OP_GET_PRINTERS:
    case IPP_OP_CUPS_GET_PRINTERS:
    case IPP_OP_CUPS_GET_DEFAULT:
        return BL_OP_QUERY;
    default:
        return BL_OP_COUNT; // not an operation blattd implements: dispatch says so
    }
}

// An anonymous requester asks for something that needs a login: challenge when the
// connection offers one, else refuse.
static bool need_login(bl_ipp_req_t *req, const char *object)
{
    if (req->can_login) {
        req->needs_auth = true;
        bl_ipp_set_status(req, IPP_STATUS_ERROR_NOT_AUTHENTICATED, "this operation needs a login");
        return false;
    }
    bl_ipp_deny(req, IPP_STATUS_ERROR_NOT_AUTHENTICATED, object,
                "this operation needs a login, and this connection offers none");
    return false;
}

// Whether the requester may do this operation on its target (blatt-policy.conf(5)). Operations
// on many jobs (Get-Jobs, Cancel-Jobs, ...) narrow what they touch to what the requester may see.
static bool authorize(bl_ipp_req_t *req)
{
    const bl_policy_t *pol = req->sys->policy;
    bl_op_class_t c = op_class(req->op);
    bool anon = !req->user[0];
    char object[160];
    if (req->job_id)
        snprintf(object, sizeof(object), "job %d", req->job_id);
    else if (req->printer)
        snprintf(object, sizeof(object), "printer %s", req->printer->name);
    else
        snprintf(object, sizeof(object), "system");
    switch (c) {
    case BL_OP_QUERY:
    case BL_OP_COUNT: // unsupported: answered as such by dispatch
        return true;
    case BL_OP_PRINT:
        if (req->printer && bl_policy_may_print(pol, req->printer->name, &req->id) &&
            (!anon || req->op != IPP_OP_CREATE_JOB))
            return true;
        if (anon)
            return need_login(req, object);
        bl_ipp_deny(req, IPP_STATUS_ERROR_NOT_AUTHORIZED, object,
                    "you may not print on this printer");
        return false;
    case BL_OP_IDENTIFY:
        if (anon)
            return need_login(req, object);
        if (bl_policy_role_may(pol, BL_OP_IDENTIFY, req->roles) && req->printer &&
            bl_policy_may_print(pol, req->printer->name, &req->id))
            return true;
        bl_ipp_deny(req, IPP_STATUS_ERROR_NOT_AUTHORIZED, object, "you may not use this printer");
        return false;
    default:
        break;
    }
    if (anon)
        return need_login(req, object);
    if (!req->job_id)
        return true; // Get-Jobs, Cancel-My-Jobs, Cancel-Jobs, Purge-Jobs: filtered by owner
    bl_job_t *job = bl_job_lookup(req->sys, req->job_id);
    if (!job)
        return true; // the operation answers not-found
    bool ok = bl_ipp_is_owner(req, job) ||
              (c != BL_OP_DOCUMENT && bl_policy_role_may(pol, c, req->roles));
    if (job->history)
        bl_job_unref(job);
    if (!ok)
        bl_ipp_deny(req, IPP_STATUS_ERROR_NOT_AUTHORIZED, object, "this is not your job");
    return ok;
}

// Runs the operation. Returns true when it wants the document bytes.
static bool dispatch(bl_ipp_req_t *req)
{
    switch (req->op) {
    case IPP_OP_PRINT_JOB:
        return bl_ipp_print_job(req);
    case IPP_OP_SEND_DOCUMENT:
        return bl_ipp_send_document(req);
    case IPP_OP_VALIDATE_JOB:
        bl_ipp_validate_job(req);
        break;
    case IPP_OP_CREATE_JOB:
        bl_ipp_create_job(req);
        break;
    case IPP_OP_CLOSE_JOB:
        bl_ipp_close_job(req);
        break;
    case IPP_OP_CANCEL_JOB:
        bl_ipp_cancel_job(req);
        break;
    case IPP_OP_CANCEL_MY_JOBS:
    case IPP_OP_CANCEL_JOBS:
    case IPP_OP_PURGE_JOBS:
        // Own jobs; Cancel-Jobs and Purge-Jobs every job for the roles that may.
        bl_ipp_cancel_my_jobs(req);
        break;
    case IPP_OP_SET_JOB_ATTRIBUTES:
        bl_ipp_set_job_attributes(req);
        break;
    case IPP_OP_HOLD_JOB:
        bl_ipp_hold_job(req);
        break;
    case IPP_OP_RELEASE_JOB:
        bl_ipp_release_job(req);
        break;
    case IPP_OP_GET_JOB_ATTRIBUTES:
        bl_ipp_get_job_attributes(req);
        break;
    case IPP_OP_GET_JOBS:
        bl_ipp_get_jobs(req);
        break;
    case IPP_OP_GET_PRINTER_ATTRIBUTES:
        bl_ipp_get_printer_attributes(req);
        break;
    case IPP_OP_IDENTIFY_PRINTER:
        bl_ipp_identify_printer(req);
        break;
    case IPP_OP_GET_SYSTEM_ATTRIBUTES:
        bl_ipp_get_system_attributes(req);
        break;
    case IPP_OP_GET_PRINTERS:
    case IPP_OP_CUPS_GET_PRINTERS:
        bl_ipp_get_printers(req);
        break;
    case IPP_OP_CUPS_GET_DEFAULT:
        bl_ipp_cups_get_default(req);
        break;
    default:
        bl_ipp_set_status(req, IPP_STATUS_ERROR_OPERATION_NOT_SUPPORTED,
                          "operation 0x%04x is not supported", (unsigned)req->op);
        break;
    }
    if (!req->waiting && bl_store_dirty(req->sys->store)) {
        // The operation changed state (Cancel-Job, Hold-Job, ...): answer once it is on disk.
        req->waiting = true;
        bl_store_after_commit(req->sys->store, on_state_durable, req);
    }
    if (!req->waiting)
        bl_ipp_respond(req);
    return false;
}

bool bl_ipp_req_start(bl_ipp_req_t *req, ipp_t *request)
{
    bl_ipp_ra_reset();
    req->request = request;
    req->op = ippGetOperation(request);
    req->response = ippNewResponse(request);
    if (!req->response) {
        bl_ipp_req_fail(req, IPP_STATUS_ERROR_INTERNAL, "out of memory");
        return false;
    }
    // ippNewResponse copies charset/language only when present; keep the reply well-formed.
    if (!ippFindAttribute(req->response, "attributes-charset", IPP_TAG_ZERO)) {
        ippDelete(req->response);
        req->response = NULL;
        bl_ipp_req_fail(req, IPP_STATUS_ERROR_BAD_REQUEST,
                        "attributes-charset must be the first attribute");
        return false;
    }
    // ippNewResponse() echoes the request-id, even a bad 0 (RFC 8011 4.1.1 wants that back).
    if (!check_header(req) || !check_groups(req)) {
        bl_ipp_respond(req);
        return false;
    }
    find_user(req);
    if ((is_printer_op(req->op) || is_job_op(req->op)) && !resolve_target(req)) {
        bl_ipp_respond(req);
        return false;
    }
    bl_log(BL_LOG_DEBUG, "ipp %s from %s user %s path %s", ippOpString(req->op), req->address,
           req->user[0] ? req->user : "(anonymous)", req->path);
    if (!authorize(req)) {
        bl_ipp_respond(req);
        return false;
    }
    return dispatch(req);
}

bool bl_ipp_doc_compression(bl_ipp_req_t *req)
{
    ipp_attribute_t *a = ippFindAttribute(req->request, "compression", IPP_TAG_ZERO);
    if (!a)
        return true;
    const char *s = ippGetString(a, 0, NULL);
    bl_coding_t coding;
    // IPP keywords are lower case: "GZIP" is not one (HTTP codings are case-insensitive).
    if (ippGetValueTag(a) != IPP_TAG_KEYWORD || ippGetCount(a) != 1 ||
        ippGetGroupTag(a) != IPP_TAG_OPERATION || !s ||
        (strcmp(s, "none") && strcmp(s, "gzip") && strcmp(s, "deflate")) ||
        !bl_coding_parse(s, &coding)) {
        bl_ipp_unsupported(req, a);
        bl_ipp_set_status(req, IPP_STATUS_ERROR_COMPRESSION_NOT_SUPPORTED,
                          "compression %s is not supported", s ? s : "(bad)");
        return false;
    }
    // A body sent with Content-Encoding was decoded by the HTTP layer already (that is how
    // libcups clients send `compression`); otherwise the document bytes themselves are coded.
    if (coding == BL_CODING_IDENTITY || req->peer.content_coded)
        return true;
    bl_inflate_delete(req->doc_inflate);
    req->doc_inflate = bl_inflate_create(coding);
    if (!req->doc_inflate) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_INTERNAL, "out of memory");
        return false;
    }
    return true;
}

// The document could not be stored: drop it and answer now.
static void doc_fail(bl_ipp_req_t *req, ipp_status_t status, const char *why)
{
    bl_log(BL_LOG_ERROR, "job %d: cannot spool the document: %s", req->doc_job->id, why);
    bl_job_doc_abort(req->doc_job);
    bl_job_unref(req->doc_job);
    req->doc_job = NULL;
    req->doc_failed = true;
    bl_ipp_set_status(req, status, "%s", why);
    bl_ipp_respond(req);
}

static bool doc_write(void *ctx, const uint8_t *data, size_t len)
{
    bl_ipp_req_t *req = ctx;
    if (bl_job_is_terminal(req->doc_job)) {
        // Canceled while its document was still arriving.
        doc_fail(req, IPP_STATUS_ERROR_JOB_CANCELED, "the job was canceled");
        return false;
    }
    if (bl_job_doc_write(req->doc_job, data, len))
        return true;
    uint64_t max = req->sys->config->max_document_size;
    if (max && req->doc_job->doc_size + len > max)
        doc_fail(req, IPP_STATUS_ERROR_REQUEST_ENTITY, "the document is larger than allowed");
    else {
        char why[160];
        snprintf(why, sizeof(why), "the spool cannot take the document: %s", strerror(errno));
        doc_fail(req, IPP_STATUS_ERROR_DEVICE, why);
    }
    return false;
}

bool bl_ipp_req_document(bl_ipp_req_t *req, const uint8_t *data, size_t len)
{
    if (!req->doc_job || req->responded)
        return false;
    if (!req->doc_inflate)
        return doc_write(req, data, len);
    if (bl_inflate_feed(req->doc_inflate, data, len, doc_write, req))
        return true;
    if (!req->doc_failed)
        doc_fail(req, IPP_STATUS_ERROR_BAD_REQUEST, "the compressed document data is corrupt");
    return false;
}

static void on_doc_durable(void *arg, bl_job_t *job, bool ok)
{
    bl_ipp_req_t *req = arg;
    req->waiting = false;
    req->doc_job = NULL;
    if (!ok) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_DEVICE, "could not store the job");
        bl_log(BL_LOG_ERROR, "job %d: could not be stored", job->id);
    } else {
        bl_ipp_add_job_attrs(req, job, NULL, BL_JOB_ATTRS_CREATED);
    }
    bl_job_unref(job); // the request's (the commit callback holds its own until we return)
    bl_ipp_respond(req);
    if (req->orphaned)
        bl_ipp_req_delete(req);
}

void bl_ipp_req_document_end(bl_ipp_req_t *req)
{
    if (!req->doc_job || req->responded)
        return;
    bl_job_t *job = req->doc_job;
    if (req->doc_inflate && !bl_inflate_finished(req->doc_inflate)) {
        doc_fail(req, IPP_STATUS_ERROR_BAD_REQUEST, "the compressed document data is truncated");
        return;
    }
    if (bl_job_is_terminal(job)) {
        doc_fail(req, IPP_STATUS_ERROR_JOB_CANCELED, "the job was canceled");
        return;
    }
    if (job->doc_size == 0) {
        // No document data: Print-Job is malformed; Send-Document just closes the job.
        req->doc_job = NULL;
        bl_job_doc_abort(job);
        if (req->op == IPP_OP_PRINT_JOB) {
            bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "no document data");
        } else {
            bl_job_close(job);
            ippAddInteger(req->response, IPP_TAG_JOB, IPP_TAG_INTEGER, "job-id", req->job_id);
        }
        bl_job_unref(job);
        bl_ipp_respond(req);
        return;
    }
    req->waiting = true;
    bl_job_doc_finish(job, on_doc_durable, req);
}
