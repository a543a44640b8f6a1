// The HTTP router: picks the face for each request (IPP now; REST, web and eSCL later).
// Licensed under the Apache License, Version 2.0.
//
// For IPP, the body's first bytes are collected until the attribute block is framed
// (ipp/frame.h), decoded once, and handed to the IPP face; the bytes after it stream on into the
// job's encrypted spool file without ever being held whole in memory.
#include "autoconfig.h"

#include "server/router.h"

#include "ipp/frame.h"
#include "ipp/ipp.h"
#include "server/config.h"
#include "server/http.h"
#include "server/log.h"
#include "server/web.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct route {
    bl_system_t *sys;
    bl_conn_t *conn;
    bl_ipp_req_t *ipp;
    uint8_t *head; // attribute block being collected (when it spans body chunks)
    size_t head_len, head_cap;
    bl_frame_state_t fs; // where framing stopped: every byte is scanned once
    bool framed, want_doc, responded;
} route_t;

static void route_free(route_t *r)
{
    if (!r)
        return;
    bl_ipp_req_delete(r->ipp);
    free(r->head);
    free(r);
}

static void on_ipp_response(void *arg, ipp_t *response)
{
    route_t *r = arg;
    size_t len = 0;
    uint8_t *data = bl_ipp_encode(response, &len);
    ippDelete(response);
    r->responded = true;
    if (!data) {
        bl_conn_respond_text(r->conn, 500, "cannot encode the IPP response");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        free(data);
        bl_conn_respond_text(r->conn, 500, "out of memory");
        return;
    }
    evbuffer_add_reference(b, data, len, (evbuffer_ref_cleanup_cb)(void (*)(void))free, data);
    bl_conn_respond(r->conn, 200, "application/ipp", b, NULL);
    evbuffer_free(b);
}

// Host name the client used, without the port, for URIs in replies.
static void client_host(const bl_http_request_t *req, bl_conn_t *c, char *buf, size_t len)
{
    const char *h = bl_http_request_header(req, "Host");
    if (!h || !*h)
        h = bl_conn_host(c);
    snprintf(buf, len, "%s", h ? h : "localhost");
    char *colon = strrchr(buf, ':');
    char *bracket = strrchr(buf, ']');
    if (colon && (!bracket || colon > bracket))
        *colon = '\0';
    // A Host header is untrusted: keep host-name characters only.
    for (char *p = buf; *p; p++) {
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]", *p)) {
            snprintf(buf, len, "localhost");
            return;
        }
    }
}

static bool is_ipp_path(const char *path)
{
    return !strcmp(path, "/") || !strncmp(path, "/ipp/", 5) || !strcmp(path, "/ipp") ||
           !strncmp(path, "/printers/", 10) || !strncmp(path, "/jobs/", 6) ||
           !strcmp(path, "/jobs") || !strcmp(path, "/printers") || !strcmp(path, "/admin") ||
           !strcmp(path, "/admin/");
}

static void on_request(void *app, bl_conn_t *c, const bl_http_request_t *req)
{
    bl_system_t *sys = app;
    if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD")) {
        bl_web_get(sys, c, req);
        return;
    }
    if (strcmp(req->method, "POST")) {
        bl_conn_respond(c, 405, "text/plain; charset=utf-8", NULL, "Allow: GET, HEAD, POST\r\n");
        return;
    }
    if (!is_ipp_path(req->path)) {
        bl_conn_respond_text(c, 404, "not found");
        return;
    }
    const char *ct = bl_http_request_header(req, "Content-Type");
    if (!ct || strncasecmp(ct, "application/ipp", 15) ||
        (ct[15] && ct[15] != ';' && ct[15] != ' ')) {
        bl_conn_respond_text(c, 415, "Content-Type must be application/ipp");
        return;
    }
    route_t *r = calloc(1, sizeof(*r));
    char host[256];
    client_host(req, c, host, sizeof(host));
    uid_t uid = 0;
    bl_ipp_peer_t peer = {
        .address = bl_conn_peer(c),
        .host = host,
        .port = bl_conn_local_port(c),
        .tls = bl_conn_is_tls(c),
        .local = bl_conn_is_local(c),
        .has_uid = bl_conn_peer_uid(c, &uid),
        .content_coded = req->content_coded,
    };
    peer.uid = uid;
    if (r) {
        r->sys = sys;
        r->conn = c;
        r->head = NULL;
        r->ipp = bl_ipp_req_create(sys, &peer, req->path, on_ipp_response, r);
    }
    if (!r || !r->ipp) {
        route_free(r);
        bl_conn_respond_text(c, 503, "out of memory");
        return;
    }
    bl_conn_set_userdata(c, r);
}

// Keeps body bytes of an attribute block that spans chunks (doubling, bounded by the cap).
static bool head_append(route_t *r, const uint8_t *data, size_t len, size_t max)
{
    if (r->head_len + len > r->head_cap) {
        size_t cap = r->head_cap ? r->head_cap : 4096;
        while (cap < r->head_len + len)
            cap *= 2;
        // The scan stops at max, so no more than max plus one chunk is ever held.
        if (cap > max + 2 * len + 65536)
            cap = max + 2 * len + 65536;
        uint8_t *p = realloc(r->head, cap);
        if (!p)
            return false;
        r->head = p;
        r->head_cap = cap;
    }
    memcpy(r->head + r->head_len, data, len);
    r->head_len += len;
    return true;
}

// Feeds bytes of the IPP message; frames the attribute block first.
static void on_body(void *app, bl_conn_t *c, const uint8_t *data, size_t len)
{
    bl_system_t *sys = app;
    route_t *r = bl_conn_get_userdata(c);
    if (!r || r->responded)
        return;
    if (r->framed) {
        if (r->want_doc && !bl_ipp_req_document(r->ipp, data, len))
            r->want_doc = false;
        return;
    }
    // Scan in place when the block starts in this chunk; collect only what spans chunks.
    const uint8_t *buf = data;
    size_t have = len, block = 0, max = sys->config->max_ipp_attributes_size;
    if (r->head_len) {
        if (!head_append(r, data, len, max)) {
            bl_conn_respond_text(c, 503, "out of memory");
            r->responded = true;
            return;
        }
        buf = r->head;
        have = r->head_len;
    }
    bl_frame_result_t fr = bl_ipp_frame_scan_resume(&r->fs, buf, have, max, &block);
    if (fr == BL_FRAME_NEED_MORE) {
        if (!r->head_len && !head_append(r, data, len, max)) {
            bl_conn_respond_text(c, 503, "out of memory");
            r->responded = true;
        }
        return;
    }
    r->framed = true;
    if (fr == BL_FRAME_TOO_BIG) {
        r->responded = true;
        bl_conn_respond_text(c, 413, "the IPP attribute block is too large");
        return;
    }
    ipp_t *msg = fr == BL_FRAME_COMPLETE ? bl_ipp_decode(buf, block) : NULL;
    if (!msg) {
        bl_ipp_req_fail(r->ipp, IPP_STATUS_ERROR_BAD_REQUEST, "malformed IPP message");
        return;
    }
    r->want_doc = bl_ipp_req_start(r->ipp, msg);
    // `r` may have responded already; the document bytes that came with the block go on.
    if (r->want_doc && have > block && !bl_ipp_req_document(r->ipp, buf + block, have - block))
        r->want_doc = false;
    free(r->head);
    r->head = NULL;
    r->head_len = r->head_cap = 0;
}

static void on_body_end(void *app, bl_conn_t *c)
{
    (void)app;
    route_t *r = bl_conn_get_userdata(c);
    if (!r)
        return;
    if (!r->framed && !r->responded) {
        bl_ipp_req_fail(r->ipp, IPP_STATUS_ERROR_BAD_REQUEST, "truncated IPP message");
    } else if (r->want_doc) {
        r->want_doc = false;
        bl_ipp_req_document_end(r->ipp);
    }
}

// The request is over (answered and read, or the connection died): free its state.
static void on_abort(void *app, bl_conn_t *c)
{
    (void)app;
    route_t *r = bl_conn_get_userdata(c);
    bl_conn_set_userdata(c, NULL);
    route_free(r);
}

const bl_http_handler_t *bl_router_handler(void)
{
    static const bl_http_handler_t handler = {on_request, on_body, on_body_end, on_abort};
    return &handler;
}
