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
#include "server/auth.h"
#include "server/system.h"
#include <openssl/crypto.h>
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
    unsigned schemes;           // what this connection may authenticate with
    bl_auth_pending_t *pending; // credentials being checked
    char claimed[256];          // the user name a Basic login claims (for the audit)
} route_t;

static void route_free(route_t *r)
{
    if (!r)
        return;
    bl_auth_cancel(r->pending);
    bl_ipp_req_delete(r->ipp);
    free(r->head);
    free(r);
}

// 401 with a challenge for each scheme this connection may use.
static void challenge(bl_conn_t *c, unsigned schemes, const char *why, bool bad_token)
{
    // A password is only taken over TLS or the local socket: no Basic challenge elsewhere.
    uid_t uid;
    if (!bl_conn_is_tls(c) && !bl_conn_peer_uid(c, &uid))
        schemes &= ~BL_SCHEME_BASIC;
    char hdr[512] = "";
    size_t n = 0;
    if (schemes & BL_SCHEME_BASIC)
        n += (size_t)snprintf(hdr + n, sizeof(hdr) - n,
                              "WWW-Authenticate: Basic realm=\"Blatt\", charset=\"UTF-8\"\r\n");
    if (schemes & BL_SCHEME_BEARER)
        snprintf(hdr + n, sizeof(hdr) - n, "WWW-Authenticate: Bearer realm=\"Blatt\"%s\r\n",
                 bad_token ? ", error=\"invalid_token\"" : "");
    struct evbuffer *b = evbuffer_new();
    if (b)
        evbuffer_add_printf(b, "%s\n", why);
    bl_conn_respond(c, 401, "text/plain; charset=utf-8", b, hdr[0] ? hdr : NULL);
    if (b)
        evbuffer_free(b);
}

static void on_ipp_response(void *arg, uint8_t *data, size_t len)
{
    route_t *r = arg;
    r->responded = true;
    if (bl_ipp_req_needs_auth(r->ipp)) {
        // Anonymous, and the operation needs a login: the HTTP challenge makes clients ask.
        free(data);
        challenge(r->conn, r->schemes, "this operation needs a login", false);
        return;
    }
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

static void on_auth_done(void *arg, bool ok, const bl_identity_t *id, const char *why, bool fresh)
{
    route_t *r = arg;
    bool waited = r->pending != NULL;
    r->pending = NULL;
    const char *src = bl_conn_peer(r->conn);
    if (!ok) {
        bl_log(BL_LOG_INFO, "auth %s: login refused: %s", src, why ? why : "");
        bl_system_audit(r->sys, r->claimed, src, "login", "-", why ? why : "failed");
        r->responded = true;
        challenge(r->conn, r->schemes, "the credentials were not accepted", true);
    } else {
        if (fresh)
            bl_system_audit(r->sys, id->subject, src, "login", "-", "ok");
        bl_ipp_req_set_identity(r->ipp, id, false, true);
    }
    if (waited)
        bl_conn_set_reading(r->conn, true); // the body (or its rest, to drain) comes now
}

// Who is asking: the Authorization header (checked, maybe in a worker thread), else what the
// connection itself says (Unix-socket peer, verified client certificate, trust listener).
static void authenticate(bl_system_t *sys, bl_conn_t *c, route_t *r, const bl_http_request_t *req)
{
    uid_t uid;
    bool is_unix = bl_conn_peer_uid(c, &uid), tls = bl_conn_is_tls(c);
    r->schemes = bl_conn_tag(c) & bl_auth_available(sys->auth);
    const char *authz = bl_http_request_header(req, "Authorization");
    size_t num_authz = 0;
    for (size_t i = 0; i < req->num_headers; i++)
        num_authz += !strcasecmp(req->headers[i].name, "Authorization");
    if (num_authz > 1) {
        // Which one would count? Neither: an ambiguous request is malformed.
        bl_system_audit(sys, "", bl_conn_peer(c), "login", "-", "two Authorization headers");
        r->responded = true;
        bl_conn_respond_text(c, 400, "more than one Authorization header");
        return;
    }
    bl_identity_t id;
    if (!authz) {
        char subject[256];
        if (is_unix)
            bl_auth_local_identity(uid, &id);
        else if ((r->schemes & BL_SCHEME_CERT) && bl_conn_peer_cert(c, subject, sizeof(subject)))
            bl_auth_cert_identity(subject, &id);
        else
            memset(&id, 0, sizeof(id));
        bl_ipp_req_set_identity(r->ipp, &id, !is_unix && (r->schemes & BL_SCHEME_TRUST),
                                (r->schemes & BL_SCHEME_BEARER) ||
                                    ((r->schemes & BL_SCHEME_BASIC) && (tls || is_unix)));
        return;
    }
    static bl_auth_header_t h; // 9 KB: not on the stack; the loop is single-threaded
    unsigned scheme = 0;
    bool parsed = bl_auth_parse_header(authz, &h, &scheme);
    snprintf(r->claimed, sizeof(r->claimed), "%s", scheme == BL_SCHEME_BASIC ? h.user : "");
    const char *why = NULL;
    // A scheme this listener does not take is refused, never ignored (CVE-2025-58060 class).
    if (!scheme || !(r->schemes & scheme))
        why = "this kind of credentials is not accepted here";
    else if (!parsed)
        why = "malformed credentials";
    else if (scheme == BL_SCHEME_BASIC && !tls && !is_unix)
        why = "a password is only accepted over TLS";
    if (why) {
        OPENSSL_cleanse(&h, sizeof(h));
        bl_system_audit(sys, r->claimed, bl_conn_peer(c), "login", "-", why);
        r->responded = true;
        challenge(c, r->schemes, why, scheme == BL_SCHEME_BEARER);
        return;
    }
    r->pending = (bl_auth_pending_t *)1; // the callback may come before bl_auth_check returns
    bl_auth_pending_t *p = bl_auth_check(sys->auth, &h, on_auth_done, r);
    OPENSSL_cleanse(&h, sizeof(h));
    if (r->pending) {
        r->pending = p;
        bl_conn_set_reading(c, false); // no body before we know who sends it
    }
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
        .schemes = bl_conn_tag(c) & bl_auth_available(sys->auth),
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
    authenticate(sys, c, r, req);
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
