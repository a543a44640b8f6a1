// HTTP/1.1 server connections of blattd: TLS detection, llhttp parsing, streaming, responses.
// Licensed under the Apache License, Version 2.0.
//
// A connection is an explicit state machine (enum conn_state, conn_set_state() also arms the
// state's timeout). Bytes flow bufferevent -> llhttp -> handler: request bodies are handed to
// the handler as they arrive and never collected. One request is served at a time; bytes of a
// pipelined next request wait in the input buffer until the current response has been written.
// A response sent before the body ended makes the connection drain the rest (up to
// DISCARD_MAX bytes) and close, so the client can read the answer without a reset.
// Connections are never freed inside their own callbacks: conn_close() marks them and a
// deferred reaper frees them after the pass. Listeners live in http-listen.c.
#include "server/http-private.h"

#include "server/log.h"

#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#define DISCARD_MAX (8u * 1024 * 1024)
#define WAIT_TIMEOUT 600 // a handler that never answers: the connection is dropped
#define LINGER_SECONDS 2 // after the last answer, unread input is drained this long

static int on_message_begin(llhttp_t *p);
static int on_url(llhttp_t *p, const char *at, size_t len);
static int on_url_complete(llhttp_t *p);
static int on_header_field(llhttp_t *p, const char *at, size_t len);
static int on_header_field_complete(llhttp_t *p);
static int on_header_value(llhttp_t *p, const char *at, size_t len);
static int on_header_value_complete(llhttp_t *p);
static int on_headers_complete(llhttp_t *p);
static void respond_upgrade(bl_conn_t *c);
static void on_conn_read(struct bufferevent *bev, void *arg);
static void on_conn_write(struct bufferevent *bev, void *arg);
static void on_conn_event(struct bufferevent *bev, short what, void *arg);
static int on_body(llhttp_t *p, const char *at, size_t len);
static int on_message_complete(llhttp_t *p);

static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static const char *reason_phrase(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

const char *bl_http_request_header(const bl_http_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->num_headers; i++) {
        if (!strcasecmp(req->headers[i].name, name))
            return req->headers[i].value;
    }
    return NULL;
}

// ---------------------------------------------------------------------------------------------
// State, timeouts, closing

static void on_conn_timeout(evutil_socket_t fd, short what, void *arg);

// Moves to a state and arms its timeout (0 = none).
void bl_conn_set_state(bl_conn_t *c, bl_conn_state_t state)
{
    const bl_http_limits_t *l = &c->server->limits;
    int seconds = 0;
    switch (state) {
    case CONN_DETECT:
    case CONN_HANDSHAKE:
    case CONN_HEAD:
        seconds = l->request_timeout;
        break;
    case CONN_IDLE:
        seconds = l->keepalive_timeout;
        break;
    case CONN_BODY:
    case CONN_DISCARD:
        seconds = l->body_timeout;
        break;
    case CONN_WAIT:
        seconds = WAIT_TIMEOUT;
        break;
    case CONN_LINGER:
        seconds = LINGER_SECONDS;
        break;
    case CONN_CLOSING:
        seconds = 0;
        break;
    }
    c->state = state;
    if (seconds > 0) {
        struct timeval tv = {seconds, 0};
        evtimer_add(c->timer, &tv);
    } else {
        evtimer_del(c->timer);
    }
}

void bl_conn_close(bl_conn_t *c)
{
    if (c->state == CONN_CLOSING)
        return;
    bl_conn_set_state(c, CONN_CLOSING);
    if (c->bev)
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    c->next_closing = c->server->closing;
    c->server->closing = c;
    event_active(c->server->reap_ev, EV_TIMEOUT, 0);
}

// ---------------------------------------------------------------------------------------------
// Head storage

static bool head_alloc(bl_conn_t *c)
{
    if (c->head)
        return true;
    const bl_http_limits_t *l = &c->server->limits;
    // Twice the limit: head_finish() keeps a copy of the path in the second half.
    c->head_cap = l->max_header_size;
    c->head = malloc(2 * c->head_cap + 2);
    c->headers = calloc((size_t)l->max_headers, sizeof(*c->headers));
    if (!c->head || !c->headers) {
        free(c->head);
        free(c->headers);
        c->head = NULL;
        c->headers = NULL;
        return false;
    }
    return true;
}

static void head_free(bl_conn_t *c)
{
    free(c->head);
    free(c->headers);
    c->head = NULL;
    c->headers = NULL;
    c->head_len = 0;
    c->num_headers = 0;
}

// Appends bytes of the head; fails with 431 when the head grows over the limit.
static int head_append(bl_conn_t *c, const char *at, size_t len)
{
    if (c->head_len + len + 1 > c->head_cap) {
        c->parse_status = 431;
        return HPE_USER;
    }
    memcpy(c->head + c->head_len, at, len);
    c->head_len += len;
    return HPE_OK;
}

static int head_terminate(bl_conn_t *c)
{
    return head_append(c, "", 1);
}

// ---------------------------------------------------------------------------------------------
// llhttp callbacks

static int on_message_begin(llhttp_t *p)
{
    bl_conn_t *c = p->data;
    if (!head_alloc(c)) {
        c->parse_status = 503;
        return HPE_USER;
    }
    c->head_len = 0;
    c->num_headers = 0;
    c->url_off = 0;
    c->in_value = false;
    c->request_start = time(NULL);
    c->paused = c->want_continue = c->continue_sent = false;
    c->bytes_in = 0;
    c->bytes_out = 0;
    if (c->state == CONN_IDLE)
        bl_conn_set_state(c, CONN_HEAD);
    return HPE_OK;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    return head_append(p->data, at, len);
}

static int on_url_complete(llhttp_t *p)
{
    return head_terminate(p->data);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    bl_conn_t *c = p->data;
    if (!c->field_open) {
        if (c->in_value) {
            // The previous header's value ended without its own callback (empty value).
            c->in_value = false;
            int rc = head_terminate(c);
            if (rc != HPE_OK)
                return rc;
            c->num_headers++;
        }
        if (c->num_headers >= (size_t)c->server->limits.max_headers) {
            c->parse_status = 431;
            return HPE_USER;
        }
        c->headers[c->num_headers].name = (const char *)(uintptr_t)c->head_len;
        c->field_open = true;
    }
    return head_append(c, at, len);
}

static int on_header_field_complete(llhttp_t *p)
{
    bl_conn_t *c = p->data;
    c->field_open = false;
    c->in_value = true;
    c->headers[c->num_headers].value = (const char *)(uintptr_t)(c->head_len + 1);
    return head_terminate(c);
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    return head_append(p->data, at, len);
}

static int on_header_value_complete(llhttp_t *p)
{
    bl_conn_t *c = p->data;
    c->in_value = false;
    int rc = head_terminate(c);
    if (rc == HPE_OK)
        c->num_headers++;
    return rc;
}

// Turns the offsets collected during parsing into pointers (the head buffer does not move).
static void head_finish(bl_conn_t *c)
{
    bl_http_request_t *r = &c->req;
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < c->num_headers; i++) {
        c->headers[i].name = c->head + (uintptr_t)c->headers[i].name;
        c->headers[i].value = c->head + (uintptr_t)c->headers[i].value;
        // Trailing whitespace of a value is not part of it.
        char *v = (char *)c->headers[i].value;
        size_t n = strlen(v);
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            v[--n] = '\0';
    }
    r->headers = c->headers;
    r->num_headers = c->num_headers;
    r->target = c->head;
    // The absolute form (RFC 9112 3.2.2) names the same resource as its path.
    if (!strncasecmp(r->target, "http://", 7) || !strncasecmp(r->target, "https://", 8)) {
        const char *slash = strchr(strstr(r->target, "://") + 3, '/');
        r->target = slash ? slash : "/";
    }
    // Split the query off into a copy of the path kept in the head's spare room.
    size_t tl = strlen(r->target);
    size_t ql = strcspn(r->target, "?");
    char *path = c->head + c->head_len;
    memcpy(path, r->target, ql);
    path[ql] = '\0';
    r->path = path;
    r->query = ql < tl ? r->target + ql + 1 : "";
}

// OPTIONS with "Upgrade: TLS/1.2" (RFC 2817) on a plain connection: what CUPS clients send
// when asked for encryption on an ipp:// URI (lp -E). TLS 1.2 or later only.
static bool wants_tls_upgrade(const bl_conn_t *c)
{
    const bl_http_request_t *r = &c->req;
    const char *up = bl_http_request_header(r, "Upgrade");
    if (c->tls || !c->server->tls || !up || !r->method || strcmp(r->method, "OPTIONS") ||
        r->has_body)
        return false;
    for (const char *s = up; *s; s++) {
        if (!strncasecmp(s, "TLS/1.2", 7) || !strncasecmp(s, "TLS/1.3", 7))
            return true;
    }
    return false;
}

// Checks what llhttp leaves to us; returns an HTTP status to refuse the request, or 0.
static int check_request(bl_conn_t *c, llhttp_t *p)
{
    bl_http_request_t *r = &c->req;
    if (p->http_major != 1)
        return 505;
    // A remote plain connection may do one thing: switch to TLS.
    if (c->refuse_plain && !wants_tls_upgrade(c))
        return 403;
    if (r->target[0] != '/' && strcmp(r->target, "*"))
        return 400;
    for (const char *s = r->target; *s; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 400;
    }
    const char *host = bl_http_request_header(r, "Host");
    if (p->http_minor >= 1 && (!host || !*host))
        return 400;
    int hosts = 0, lengths = 0;
    for (size_t i = 0; i < r->num_headers; i++) {
        hosts += !strcasecmp(r->headers[i].name, "Host");
        lengths += !strcasecmp(r->headers[i].name, "Content-Length");
    }
    if (hosts > 1 || lengths > 1)
        return 400;
    // Only "chunked" is a transfer coding Blatt understands ("gzip, chunked" is not).
    const char *te = bl_http_request_header(r, "Transfer-Encoding");
    if (((p->flags & F_TRANSFER_ENCODING) && !(p->flags & F_CHUNKED)) ||
        (te && strcasecmp(te, "chunked")))
        return 501;
    const char *expect = bl_http_request_header(r, "Expect");
    if (expect && strcasecmp(expect, "100-continue"))
        return 417;
    bl_coding_t coding;
    if (!bl_coding_parse(bl_http_request_header(r, "Content-Encoding"), &coding))
        return 415;
    if (coding != BL_CODING_IDENTITY && r->has_body) {
        if (!(c->inflater = bl_inflate_create(coding)))
            return 503;
        r->content_coded = true;
    }
    return 0;
}

// Plain connections write what is to go out straight away when nothing else waits before it:
// an answer usually fits the socket's buffer, and handing it to the bufferevent costs an
// epoll_ctl() to watch for room, a pass of the loop to hear of it and another epoll_ctl() to
// stop watching. What does not fit (or a TLS connection) goes the usual way. buf is emptied.
static void send_out(bl_conn_t *c, struct evbuffer *buf)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (!c->tls && evbuffer_get_length(out) == 0) {
        int fd = bufferevent_getfd(c->bev);
        while (evbuffer_get_length(buf) > 0 && evbuffer_write(buf, fd) > 0)
            ;
        if (evbuffer_get_length(buf) == 0) {
            // All written: the write callback runs as if the bufferevent had written it.
            bufferevent_trigger(c->bev, EV_WRITE,
                                BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
            return;
        }
    }
    evbuffer_add_buffer(out, buf);
}

// 100 Continue (RFC 9110 15.2.1): the client sends the body once it has it.
static void send_continue(bl_conn_t *c)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t done = 0;
    if (!c->tls && evbuffer_get_length(out) == 0) {
        ssize_t n = send(bufferevent_getfd(c->bev), line, sizeof(line) - 1, MSG_NOSIGNAL);
        done = n > 0 ? (size_t)n : 0;
    }
    if (done < sizeof(line) - 1)
        evbuffer_add(out, line + done, sizeof(line) - 1 - done);
    c->continue_sent = true;
}

static int on_headers_complete(llhttp_t *p)
{
    bl_conn_t *c = p->data;
    head_finish(c);
    bl_http_request_t *r = &c->req;
    r->method = llhttp_method_name((llhttp_method_t)p->method);
    r->version_minor = p->http_minor;
    r->chunked = (p->flags & F_CHUNKED) != 0;
    r->content_length = (p->flags & F_CONTENT_LENGTH) ? p->content_length : 0;
    r->has_body = r->chunked || r->content_length > 0;
    c->keep_alive = llhttp_should_keep_alive(p) != 0;
    c->responded = false;
    c->body_done = false;
    c->discarded = 0;
    int refuse = check_request(c, p);
    if (refuse) {
        c->keep_alive = false;
        bl_conn_respond_text(c, refuse, reason_phrase(refuse));
        return HPE_OK;
    }
    if (wants_tls_upgrade(c)) {
        respond_upgrade(c);
        return HPE_OK;
    }
    bl_conn_set_state(c, CONN_BODY);
    c->in_request = true;
    c->server->handler->on_request(c->server->app, c, r);
    if (c->state == CONN_CLOSING)
        return HPE_USER;
    // A client that waits for 100 Continue gets it once the handler wants the body.
    const char *expect = bl_http_request_header(r, "Expect");
    c->want_continue = !c->responded && r->has_body && expect;
    if (c->paused)
        return HPE_PAUSED; // the handler is not ready for the body yet (authentication)
    if (c->want_continue && c->bev) {
        c->want_continue = false;
        send_continue(c);
    }
    return HPE_OK;
}

// Decoded bytes of a Content-Encoding body go to the handler.
static bool on_inflated(void *ctx, const uint8_t *data, size_t len)
{
    bl_conn_t *c = ctx;
    c->server->handler->on_body(c->server->app, c, data, len);
    return c->state != CONN_CLOSING && !c->responded;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    bl_conn_t *c = p->data;
    c->bytes_in += len;
    if (c->responded) {
        c->discarded += len;
        if (c->discarded > DISCARD_MAX) {
            c->keep_alive = false;
            c->parse_status = -1; // close without another response
            return HPE_USER;
        }
        return HPE_OK;
    }
    bl_conn_set_state(c, CONN_BODY); // re-arms the body timeout
    if (c->inflater) {
        if (!bl_inflate_feed(c->inflater, (const uint8_t *)at, len, on_inflated, c) &&
            c->state != CONN_CLOSING && !c->responded) {
            c->parse_status = 400;
            return HPE_USER;
        }
    } else {
        c->server->handler->on_body(c->server->app, c, (const uint8_t *)at, len);
    }
    return c->state == CONN_CLOSING ? HPE_USER : HPE_OK;
}

static int on_message_complete(llhttp_t *p)
{
    bl_conn_t *c = p->data;
    if (c->inflater && !c->responded && !bl_inflate_finished(c->inflater)) {
        c->parse_status = 400; // the compressed body ended in the middle of its stream
        return HPE_USER;
    }
    c->body_done = true;
    if (!c->responded) {
        bl_conn_set_state(c, CONN_WAIT);
        c->server->handler->on_body_end(c->server->app, c);
    }
    if (c->state == CONN_CLOSING)
        return HPE_USER;
    // Serve one request at a time: stop here until the response is out.
    return HPE_PAUSED;
}

// ---------------------------------------------------------------------------------------------
// Request end, reading

static void access_log(bl_conn_t *c)
{
    int fd = c->server->access_log_fd;
    if (fd < 0 || !c->req.method)
        return;
    char line[1200], when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    // The target may be a refused one: only printable ASCII of it gets into the log.
    char target[513];
    size_t t = 0;
    for (const char *s = c->req.target ? c->req.target : "-"; *s && t < sizeof(target) - 1; s++)
        target[t++] = (unsigned char)*s > 0x20 && (unsigned char)*s < 0x7f ? *s : '?';
    target[t] = '\0';
    int n = snprintf(line, sizeof(line), "%s %s %s \"%s %s HTTP/1.%d\" %d %llu %llu %lds\n", when,
                     c->peer, c->tls ? "tls" : "plain", c->req.method, target, c->req.version_minor,
                     c->status, (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
                     (long)(now - c->request_start));
    if (n > 0) {
        ssize_t w = write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
        (void)w;
    }
}

// Closing right away with unread input makes the kernel send a reset, which can destroy the
// answer before the client read it. So: shut the write side, drop what still comes, close.
static void linger(bl_conn_t *c)
{
    bl_conn_set_state(c, CONN_LINGER);
    evbuffer_drain(bufferevent_get_input(c->bev),
                   evbuffer_get_length(bufferevent_get_input(c->bev)));
    if (!c->tls)
        shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    bufferevent_enable(c->bev, EV_READ);
}

// Ends the current request once it was answered, its body read and the answer written.
// After the 101: the same socket continues as a TLS server connection (a filter bufferevent
// over the plain one) and waits for the handshake. false when TLS cannot be set up.
static bool start_tls(bl_conn_t *c)
{
    bl_http_server_t *s = c->server;
    SSL *ssl = SSL_new(s->tls);
    struct bufferevent *tb =
        ssl ? bufferevent_openssl_filter_new(s->base, c->bev, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
            : NULL;
    if (!tb) {
        if (ssl)
            SSL_free(ssl);
        bl_log(BL_LOG_ERROR, "http %s: cannot start TLS after the upgrade", c->peer);
        return false;
    }
    c->bev = tb; // it owns the plain bufferevent now (and frees it with itself)
    c->tls = true;
    c->refuse_plain = false;
    c->upgrade_owed = true;
    bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
    bufferevent_set_max_single_read(tb, 64 * 1024);
    bufferevent_setcb(tb, on_conn_read, on_conn_write, on_conn_event, c);
    struct timeval wt = {s->limits.body_timeout, 0};
    bufferevent_set_timeouts(tb, NULL, &wt);
    bufferevent_enable(tb, EV_READ | EV_WRITE);
    bl_conn_set_state(c, CONN_HANDSHAKE);
    return true;
}

static void request_finish(bl_conn_t *c)
{
    access_log(c);
    if (c->in_request) {
        c->in_request = false;
        c->server->handler->on_abort(c->server->app, c);
    }
    c->userdata = NULL;
    head_free(c);
    bl_inflate_delete(c->inflater);
    c->inflater = NULL;
    memset(&c->req, 0, sizeof(c->req));
    if (!c->keep_alive) {
        linger(c);
        return;
    }
    llhttp_reset(&c->parser);
    c->responded = c->body_done = false;
    if (c->upgrade_tls) {
        c->upgrade_tls = false;
        if (!start_tls(c))
            bl_conn_close(c);
        return;
    }
    bl_conn_set_state(c, CONN_IDLE);
    bufferevent_enable(c->bev, EV_READ);
    // Bytes of a pipelined request may already wait in the input buffer.
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

static void maybe_finish(bl_conn_t *c)
{
    if (c->state == CONN_CLOSING || !c->responded || !c->body_done)
        return;
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
        return; // the write callback comes back when the output is flushed
    request_finish(c);
}

// The parser refused the bytes: answer (if nothing was answered yet) and close.
static void parse_failed(bl_conn_t *c, llhttp_errno_t err)
{
    int status = c->parse_status;
    if (status < 0 || c->responded) {
        if (c->responded && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
            c->keep_alive = false;
            c->body_done = true; // let the write callback finish and close
            return;
        }
        bl_conn_close(c);
        return;
    }
    if (status == 0)
        status = err == HPE_INVALID_CONTENT_LENGTH || err == HPE_UNEXPECTED_CONTENT_LENGTH ? 400
                 : err == HPE_INVALID_VERSION                                              ? 505
                 : err == HPE_INVALID_METHOD                                               ? 501
                                                                                           : 400;
    bl_log(BL_LOG_DEBUG, "http %s: bad request: %s", c->peer, llhttp_errno_name(err));
    c->keep_alive = false;
    c->body_done = true;
    if (!c->req.method)
        c->req.method = "-";
    bl_conn_respond_text(c, status, reason_phrase(status));
}

// Feeds buffered input to llhttp until it is used up or the parser pauses.
static void feed_parser(bl_conn_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (c->state != CONN_CLOSING && !c->paused && evbuffer_get_length(in) > 0) {
        if (c->body_done) {
            // Waiting for this request's response: the next request waits in the buffer.
            bufferevent_disable(c->bev, EV_READ);
            return;
        }
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            return;
        if (c->state == CONN_IDLE)
            bl_conn_set_state(c, CONN_HEAD);
        llhttp_errno_t err = llhttp_execute(&c->parser, v.iov_base, v.iov_len);
        if (err == HPE_OK) {
            evbuffer_drain(in, v.iov_len);
            continue;
        }
        if (err == HPE_PAUSED) {
            const char *pos = llhttp_get_error_pos(&c->parser);
            evbuffer_drain(in, (size_t)(pos - (const char *)v.iov_base));
            llhttp_resume(&c->parser);
            bufferevent_disable(c->bev, EV_READ);
            maybe_finish(c);
            return;
        }
        if (c->state != CONN_CLOSING)
            parse_failed(c, err);
        return;
    }
}

// libevent 2.1 reads at most 4 KiB per call (EVBUFFER_MAX_READ), one call per wake-up of the
// loop. A body on a plain connection is read here in steps of up to 64 KiB instead, into the
// same input buffer; end of file and errors are left to libevent's next read, which reports them.
#define READ_STEP (64 * 1024)
#define READ_STEPS 16 // per callback, so that one fast sender does not hold up the others

static void read_body(bl_conn_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    int fd = bufferevent_getfd(c->bev);
    if (c->continue_sent) {
        // The client waits for it before it sends the body: no read now (the loop wakes when
        // the body comes).
        c->continue_sent = false;
        return;
    }
    for (int i = 0; i < READ_STEPS; i++) {
        if (c->state != CONN_BODY || c->paused || c->body_done || c->responded)
            return;
        // The bufferevent keeps its input's end frozen outside its own reads.
        evbuffer_unfreeze(in, 0);
        struct evbuffer_iovec v[2];
        int n = evbuffer_reserve_space(in, READ_STEP, v, 2);
        if (n <= 0) {
            evbuffer_freeze(in, 0);
            return;
        }
        struct iovec iov[2];
        size_t room = READ_STEP;
        for (int k = 0; k < n; k++) {
            size_t len = v[k].iov_len < room ? v[k].iov_len : room;
            iov[k] = (struct iovec){v[k].iov_base, len};
            room -= len;
        }
        ssize_t r = readv(fd, iov, n);
        size_t left = r > 0 ? (size_t)r : 0;
        for (int k = 0; k < n; k++) {
            v[k].iov_len = v[k].iov_len < left ? v[k].iov_len : left;
            left -= v[k].iov_len;
        }
        evbuffer_commit_space(in, v, n);
        evbuffer_freeze(in, 0);
        if (r <= 0)
            return;
        feed_parser(c);
        if (r < READ_STEP)
            return; // the socket is drained
    }
}

static void process_input(bl_conn_t *c)
{
    feed_parser(c);
    if (!c->tls && c->bev)
        read_body(c);
}

static void on_conn_read(struct bufferevent *bev, void *arg)
{
    bl_conn_t *c = arg;
    if (c->state == CONN_LINGER) {
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    process_input(c);
}

static void on_conn_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    bl_conn_t *c = arg;
    if (c->state == CONN_CLOSING)
        return;
    if (c->responded && c->body_done) {
        maybe_finish(c);
        return;
    }
    // An early answer is out while the body still comes: keep draining, then close.
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    bl_conn_t *c = arg;
    if (c->state == CONN_CLOSING)
        return;
    if (what & BEV_EVENT_CONNECTED) {
        // TLS handshake done. After an upgrade, the OPTIONS request gets its answer now, on
        // the secured connection (RFC 2817 3.3; libcups waits for it).
        if (c->upgrade_owed) {
            c->upgrade_owed = false;
            evbuffer_add_printf(bufferevent_get_output(c->bev),
                                "HTTP/1.1 200 OK\r\nServer: Blatt\r\n"
                                "Allow: GET, HEAD, OPTIONS, POST\r\nContent-Length: 0\r\n"
                                "Connection: keep-alive\r\nKeep-Alive: timeout=%d\r\n\r\n",
                                c->server->limits.keepalive_timeout);
        }
        bl_conn_set_state(c, CONN_IDLE);
        return;
    }
    if ((what & BEV_EVENT_EOF) && c->in_request && c->body_done && !c->responded) {
        // The client half-closed after a whole request: answer it, then close.
        c->keep_alive = false;
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        unsigned long e = bufferevent_get_openssl_error(c->bev);
        if (e)
            bl_log(BL_LOG_DEBUG, "http %s: TLS error: %s", c->peer, ERR_reason_error_string(e));
    }
    if (c->in_request && !c->body_done)
        bl_log(BL_LOG_DEBUG, "http %s: connection lost during a request", c->peer);
    bl_conn_close(c);
}

static void on_conn_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bl_conn_t *c = arg;
    if (c->state == CONN_CLOSING)
        return;
    if (c->state == CONN_HEAD && !c->responded) {
        c->keep_alive = false;
        c->body_done = true;
        if (!c->req.method)
            c->req.method = "-";
        bl_conn_respond_text(c, 408, "Request Timeout");
        // Do not wait for a client that does not read either.
        struct timeval tv = {5, 0};
        evtimer_add(c->timer, &tv);
        c->state = CONN_DISCARD;
        return;
    }
    if (c->state != CONN_IDLE)
        bl_log(BL_LOG_DEBUG, "http %s: timeout in state %d", c->peer, (int)c->state);
    bl_conn_close(c);
}

// ---------------------------------------------------------------------------------------------
// Connections

bl_conn_t *bl_conn_create(bl_http_server_t *s, int fd, const char *peer, const char *local_host,
                          int local_port, bool local)
{
    bl_conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->server = s;
    c->fd = fd;
    c->local = local;
    c->local_port = local_port;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    snprintf(c->local_host, sizeof(c->local_host), "%s", local_host);
    c->timer = evtimer_new(s->base, on_conn_timeout, c);
    if (!c->timer) {
        free(c);
        return NULL;
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->num_conns++;
    return c;
}

// Wraps the connection's socket in a bufferevent (plain, or TLS as the server side).
bool bl_conn_start(bl_conn_t *c, SSL_CTX *tls)
{
    bl_http_server_t *s = c->server;
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    if (tls) {
        SSL *ssl = SSL_new(tls);
        if (!ssl)
            return false;
        c->bev =
            bufferevent_openssl_socket_new(s->base, c->fd, ssl, BUFFEREVENT_SSL_ACCEPTING, opts);
        if (c->bev)
            bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
        c->tls = true;
    } else {
        c->bev = bufferevent_socket_new(s->base, c->fd, opts);
    }
    if (!c->bev)
        return false;
    c->fd = -1; // owned by the bufferevent now
    // The read budget per pass: one fast client cannot starve the others.
    bufferevent_set_max_single_read(c->bev, 64 * 1024);
    bufferevent_setcb(c->bev, on_conn_read, on_conn_write, on_conn_event, c);
    struct timeval wt = {s->limits.body_timeout, 0};
    bufferevent_set_timeouts(c->bev, NULL, &wt);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    bl_conn_set_state(c, tls ? CONN_HANDSHAKE : CONN_IDLE);
    return true;
}

// Frees a connection that was marked closing (from the reaper, never from its callbacks).
void bl_conn_free(bl_conn_t *c)
{
    bl_http_server_t *s = c->server;
    if (c->in_request) {
        c->in_request = false;
        s->handler->on_abort(s->app, c);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->num_conns--;
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->fd >= 0)
        close(c->fd);
    if (c->detect_ev)
        event_free(c->detect_ev);
    event_free(c->timer);
    head_free(c);
    bl_inflate_delete(c->inflater);
    free(c);
}

void bl_conn_respond(bl_conn_t *c, int status, const char *content_type, struct evbuffer *body,
                     const char *extra_headers)
{
    if (c->state == CONN_CLOSING || c->responded || !c->bev)
        return;
    c->responded = true;
    c->status = status;
    // An answer before the body was read: the rest is drained, then the connection closes.
    // An answer before the body ended (IPP answers once the attribute block is framed, often
    // in the same read as the last body byte): the rest of the body is drained. The
    // connection stays open unless a known rest is too big to drain (or draining later fails).
    bool early = !c->body_done && c->req.has_body;
    if (early && !c->req.chunked && c->req.content_length > c->bytes_in &&
        c->req.content_length - c->bytes_in > DISCARD_MAX)
        c->keep_alive = false;
    // Built apart and written at once where it can be (send_out).
    struct evbuffer *own = evbuffer_new();
    struct evbuffer *out = own ? own : bufferevent_get_output(c->bev);
    size_t len = body ? evbuffer_get_length(body) : 0;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: Blatt\r\n", status,
                        reason_phrase(status), date);
    if (content_type)
        evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
    evbuffer_add_printf(out, "Content-Length: %zu\r\n", len);
    if (c->keep_alive)
        evbuffer_add_printf(out, "Connection: keep-alive\r\nKeep-Alive: timeout=%d\r\n",
                            c->server->limits.keepalive_timeout);
    else
        evbuffer_add_printf(out, "Connection: close\r\n");
    if (extra_headers)
        evbuffer_add(out, extra_headers, strlen(extra_headers));
    evbuffer_add(out, "\r\n", 2);
    c->bytes_out += len;
    bool head = c->req.method && !strcmp(c->req.method, "HEAD");
    if (body && !head)
        evbuffer_add_buffer(out, body);
    if (own) {
        send_out(c, own);
        evbuffer_free(own);
    }
    if (early) {
        bl_conn_set_state(c, CONN_DISCARD);
        bufferevent_enable(c->bev, EV_READ);
    }
    // Completion (or the next request) is handled from the write callback.
}

// 101 Switching Protocols to TLS; the switch itself follows once it is written (request_finish).
static void respond_upgrade(bl_conn_t *c)
{
    c->responded = true;
    c->status = 101;
    c->upgrade_tls = true;
    c->keep_alive = true;
    evbuffer_add_printf(bufferevent_get_output(c->bev),
                        "HTTP/1.1 101 Switching Protocols\r\nServer: Blatt\r\n"
                        "Connection: Upgrade\r\nUpgrade: TLS/1.2,HTTP/1.1\r\n\r\n");
}

void bl_conn_respond_text(bl_conn_t *c, int status, const char *text)
{
    struct evbuffer *b = evbuffer_new();
    if (b)
        evbuffer_add_printf(b, "%s\n", text);
    bl_conn_respond(c, status, "text/plain; charset=utf-8", b, NULL);
    if (b)
        evbuffer_free(b);
}

void bl_conn_set_reading(bl_conn_t *c, bool on)
{
    if (c->state == CONN_CLOSING || !c->bev)
        return;
    c->paused = !on;
    if (on) {
        if (c->want_continue && !c->responded) {
            c->want_continue = false;
            send_continue(c);
        }
        bufferevent_enable(c->bev, EV_READ);
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    } else {
        bufferevent_disable(c->bev, EV_READ);
    }
}

void bl_conn_set_userdata(bl_conn_t *c, void *data)
{
    c->userdata = data;
}

void *bl_conn_get_userdata(const bl_conn_t *c)
{
    return c->userdata;
}

const char *bl_conn_peer(const bl_conn_t *c)
{
    return c->peer;
}

const char *bl_conn_host(const bl_conn_t *c)
{
    return c->local_host;
}

int bl_conn_local_port(const bl_conn_t *c)
{
    return c->local_port;
}

bool bl_conn_is_tls(const bl_conn_t *c)
{
    return c->tls;
}

bool bl_conn_is_local(const bl_conn_t *c)
{
    return c->local;
}

bool bl_conn_peer_uid(const bl_conn_t *c, uid_t *uid)
{
    if (!c->has_uid)
        return false;
    *uid = c->uid;
    return true;
}

unsigned bl_conn_tag(const bl_conn_t *c)
{
    return c->tag;
}

bool bl_conn_peer_cert(const bl_conn_t *c, char *subject, size_t len)
{
    SSL *ssl = c->tls && c->bev ? bufferevent_openssl_get_ssl(c->bev) : NULL;
    X509 *cert = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
    bool ok = false;
    if (cert && SSL_get_verify_result(ssl) == X509_V_OK) {
        X509_NAME *name = X509_get_subject_name(cert);
        int n = X509_NAME_get_text_by_NID(name, NID_commonName, subject, (int)len);
        // A subject with control characters or an embedded NUL is not one to trust.
        ok = n > 0 && (size_t)n < len && strlen(subject) == (size_t)n;
        for (int i = 0; ok && i < n; i++)
            ok = (unsigned char)subject[i] >= 0x20 && subject[i] != 0x7f;
    }
    X509_free(cert);
    if (!ok && len)
        subject[0] = '\0';
    return ok;
}
