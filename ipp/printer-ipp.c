// IPP operations on a printer: Get-Printer-Attributes, Print-Job, Validate-Job, Create-Job,
// Identify-Printer. Licensed under the Apache License, Version 2.0.
#include "ipp/ipp-private.h"

#include "ipp/printer-attrs.h"
#include "server/config.h"
#include "server/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The static description of p as this client reaches it (URIs carry host and port).
// printer-uri-supported names the one way this client can use: ipps:// over TLS, ipp:// over
// plain HTTP (loopback only unless AllowPlainRemote). One value also keeps libcups working: it
// joins a multi-valued one with commas and then uses that as the queue's URI.
static ipp_t *printer_attrs(bl_ipp_req_t *req, bl_printer_t *p)
{
    ipp_t **slot = &p->attrs;
    // How this client authenticates (one value: the URI it uses).
    unsigned sch = req->peer.schemes;
    const char *auth = (sch & BL_SCHEME_BEARER)                   ? "oauth"
                       : (sch & BL_SCHEME_BASIC) && req->peer.tls ? "basic"
                       : (sch & BL_SCHEME_CERT) && req->peer.tls  ? "certificate"
                       : (sch & BL_SCHEME_TRUST)                  ? "requesting-user-name"
                                                                  : "none";
    char key[320];
    snprintf(key, sizeof(key), "%s:%d:%d:%s", req->host, req->peer.port, req->peer.tls, auth);
    if (*slot && p->attrs_key && !strcmp(key, p->attrs_key))
        return *slot;
    ippDelete(*slot);
    *slot = NULL;

    char ipp_uri[1024], ipps_uri[1024], more[1024], icons[1024];
    const char *host = req->peer.port ? req->host : "localhost";
    const char *web = req->peer.tls ? "https" : "http";
    httpAssembleURIf(HTTP_URI_CODING_ALL, ipp_uri, sizeof(ipp_uri), "ipp", NULL, host,
                     req->peer.port, "/ipp/print/%s", p->name);
    httpAssembleURIf(HTTP_URI_CODING_ALL, ipps_uri, sizeof(ipps_uri), "ipps", NULL, host,
                     req->peer.port, "/ipp/print/%s", p->name);
    httpAssembleURIf(HTTP_URI_CODING_ALL, more, sizeof(more), web, NULL, host, req->peer.port,
                     "/printers/%s", p->name);
    httpAssembleURIf(HTTP_URI_CODING_ALL, icons, sizeof(icons), web, NULL, host, req->peer.port,
                     "/icons/%s", p->name);
    const char *uris[2] = {ipp_uri, ipps_uri};
    const char *security[2] = {"none", "tls"};
    size_t first = req->peer.tls ? 1 : 0, num = 1;
    const bl_printer_conf_t *c = p->conf;
    bl_queue_info_t q = {
        .name = p->name,
        .info = c->info ? c->info : p->name,
        .location = c->location ? c->location : "",
        .make_model = c->make_model,
        .uuid = p->uuid,
        .uris = uris + first,
        .uri_security = security + first,
        .uri_authentication = auth,
        .oauth_authorization_server = req->sys->config->oidc_authorization_server[0]
                                          ? req->sys->config->oidc_authorization_server
                                          : req->sys->config->oidc_issuer,
        .num_uris = num,
        .formats = (const char *const *)p->formats,
        .num_formats = p->num_formats,
        .default_sides = c->default_sides,
        .default_color_mode = c->default_color_mode,
        .default_media = c->default_media,
        .hold_by_default = c->release_mode == BL_RELEASE_HOLD,
        .more_info_uri = more,
        .icons_base = icons,
        .supply_info_uri = more,
        .multiple_operation_timeout = req->sys->config->multiple_operation_timeout,
    };
    *slot = bl_printer_attrs_build(&q, p->caps);
    free(p->attrs_key);
    p->attrs_key = strdup(key); // NULL: built again next time
    return *slot;
}

void bl_ipp_add_printer_attrs(bl_ipp_req_t *req, bl_printer_t *p, ipp_attribute_t *ra)
{
    ipp_t *all = printer_attrs(req, p);
    if (all)
        bl_ipp_copy_requested(req->response, all, ra);
    const char *reasons[BL_PRINTER_MAX_REASONS + 1];
    size_t n = 0;
    for (size_t i = 0; i < p->num_reasons; i++)
        reasons[n++] = p->reasons[i];
    if (n == 0)
        reasons[n++] = "none";
    bl_queue_state_t s = {
        .state = (int)p->state,
        .reasons = reasons,
        .num_reasons = n,
        .accepting = p->accepting,
        .queued_job_count = bl_printer_queued_jobs(p),
        .state_change_time = p->state_time,
        .config_change_time = p->config_time,
        .boot_time = p->sys->boot_time,
        .now = bl_system_now(),
        .message = p->message,
    };
    bl_printer_attrs_add_state(req->response, &s, ra);
    // The device URI may carry credentials (ipps://user:pass@...): operators and admins only.
    if (bl_ipp_wants(ra, "device-uri", "printer-description", true) && p->conf->device_uri &&
        (req->roles & (BL_ROLE_ADMIN | BL_ROLE_OPERATOR)))
        ippAddString(req->response, IPP_TAG_PRINTER, IPP_TAG_URI, "device-uri", NULL,
                     p->conf->device_uri);
}

// requested-attributes must be keywords.
static bool requested_ok(bl_ipp_req_t *req, ipp_attribute_t **ra)
{
    *ra = ippFindAttribute(req->request, "requested-attributes", IPP_TAG_ZERO);
    if (*ra &&
        (ippGetValueTag(*ra) != IPP_TAG_KEYWORD || ippGetGroupTag(*ra) != IPP_TAG_OPERATION)) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST,
                          "requested-attributes must be keywords");
        return false;
    }
    return true;
}

void bl_ipp_get_printer_attributes(bl_ipp_req_t *req)
{
    ipp_attribute_t *ra;
    if (!requested_ok(req, &ra))
        return;
    ipp_attribute_t *df = ippFindAttribute(req->request, "document-format", IPP_TAG_ZERO);
    if (df && ippGetValueTag(df) != IPP_TAG_MIMETYPE) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "bad document-format");
        return;
    }
    bl_ipp_add_printer_attrs(req, req->printer, ra);
}

static bool accepting(bl_ipp_req_t *req)
{
    if (!bl_ipp_can_store(req))
        return false;
    if (!req->printer->accepting) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_NOT_ACCEPTING_JOBS,
                          "the queue is not accepting jobs");
        return false;
    }
    if (req->sys->num_active >= (size_t)req->sys->config->max_active_jobs) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_TOO_MANY_JOBS,
                          "too many unfinished jobs (MaxActiveJobs)");
        return false;
    }
    if (req->sys->next_job_id >= 0x7ffffff0) {
        bl_log(BL_LOG_ERROR, "job ids are used up: no new jobs");
        bl_ipp_set_status(req, IPP_STATUS_ERROR_TOO_MANY_JOBS, "job ids are used up");
        return false;
    }
    return true;
}

void bl_ipp_validate_job(bl_ipp_req_t *req)
{
    bl_job_params_t params;
    if (!accepting(req) || !bl_ipp_job_params(req, req->printer, &params))
        return;
}

bool bl_ipp_doc_begin(bl_ipp_req_t *req, bl_job_t *job)
{
    if (!bl_job_doc_open(job)) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_DEVICE, "the spool cannot take the document");
        return false;
    }
    // The request keeps the job while its document streams in (it may end meanwhile).
    bl_job_ref(job);
    req->doc_job = job;
    return true;
}

bool bl_ipp_print_job(bl_ipp_req_t *req)
{
    bl_job_params_t params;
    if (!accepting(req) || !bl_ipp_job_params(req, req->printer, &params)) {
        bl_ipp_respond(req);
        return false;
    }
    bl_job_t *job = bl_job_create(req->printer, &params);
    bool ok = job && bl_ipp_doc_begin(req, job);
    if (!job)
        bl_ipp_set_status(req, IPP_STATUS_ERROR_INTERNAL, "out of memory");
    bl_job_unref(job); // the creator's; doc_begin took the request's
    if (!ok)
        bl_ipp_respond(req);
    return ok;
}

static void on_job_registered(void *arg, bl_job_t *job, bool ok)
{
    bl_ipp_req_t *req = arg;
    req->waiting = false;
    if (ok)
        bl_ipp_add_job_attrs(req, job, NULL, BL_JOB_ATTRS_CREATED);
    else
        bl_ipp_set_status(req, IPP_STATUS_ERROR_DEVICE, "could not store the job");
    bl_ipp_respond(req);
    if (req->orphaned)
        bl_ipp_req_delete(req);
}

void bl_ipp_create_job(bl_ipp_req_t *req)
{
    bl_job_params_t params;
    if (!accepting(req) || !bl_ipp_job_params(req, req->printer, &params))
        return;
    bl_job_t *job = bl_job_create(req->printer, &params);
    if (!job) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_INTERNAL, "out of memory");
        return;
    }
    req->waiting = true;
    bl_job_register(job, on_job_registered, req);
    bl_job_unref(job); // the creator's: the active list and the commit callback hold theirs
}

void bl_ipp_identify_printer(bl_ipp_req_t *req)
{
    ipp_attribute_t *a = ippFindAttribute(req->request, "identify-actions", IPP_TAG_ZERO);
    if (a && ippGetValueTag(a) != IPP_TAG_KEYWORD) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "bad identify-actions");
        return;
    }
    // A Blatt queue identifies itself in the log; the device is not disturbed.
    bl_log(BL_LOG_INFO, "printer %s: identify requested by %s", req->printer->name, req->user);
}
