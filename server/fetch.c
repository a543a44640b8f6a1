// A small blocking HTTP(S) GET client for worker threads (OIDC discovery and key sets).
// Licensed under the Apache License, Version 2.0.
//
// Design notes:
// - One GET per connection ("Connection: close"), no redirects, no content codings, no
//   cookies, no proxies: what an issuer's metadata needs and nothing an attacker could steer.
// - Bounded: the whole exchange has one deadline (timeout_ms), every wait is a poll() of at
//   most 200 ms so that a cancel flag stops it quickly, the status line and headers are capped
//   at 16 KiB and 100 lines, the body at max_body.
// - https verifies the certificate chain (the system's store or a given CA file) and the host
//   name or IP address, TLS 1.2 at least (OpenSSL; libcups' GnuTLS client leaves chain checks
//   to its caller). Plain http is refused unless the URL's host and every address connected to
//   are loopback.
// - The answer is framed by llhttp (Content-Length, chunked, or up to the end of the
//   connection), so a truncated answer is an error, never a short document.
#include "server/fetch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <llhttp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEADER_BYTES_MAX (16 * 1024)
#define HEADER_LINES_MAX 100
#define POLL_SLICE_MS 200

// ---------------------------------------------------------------------------------------------
// URLs

static bool host_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
}

// Host and optional port of an authority (no user info); false when malformed.
static bool parse_authority(const char *s, size_t n, bl_url_t *out)
{
    const char *port = NULL;
    size_t hl;
    if (n > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb)
            return false;
        hl = (size_t)(rb - s - 1);
        if (hl == 0 || hl >= 64)
            return false;
        memcpy(out->host, s + 1, hl);
        out->host[hl] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, out->host, &a6) != 1)
            return false;
        out->ip_literal = out->ipv6 = true;
        size_t rest = n - (size_t)(rb + 1 - s);
        if (rest && rb[1] != ':')
            return false;
        port = rest ? rb + 1 : NULL;
    } else {
        const char *colon = memchr(s, ':', n);
        hl = colon ? (size_t)(colon - s) : n;
        if (hl == 0 || hl >= sizeof(out->host))
            return false;
        for (size_t i = 0; i < hl; i++) {
            if (!host_char((unsigned char)s[i]))
                return false;
        }
        memcpy(out->host, s, hl);
        out->host[hl] = '\0';
        struct in_addr a4;
        out->ip_literal = inet_pton(AF_INET, out->host, &a4) == 1;
        port = colon;
    }
    out->port = out->tls ? 443 : 80;
    if (port) {
        size_t pl = n - (size_t)(port + 1 - s);
        long v = 0;
        if (pl == 0 || pl > 5)
            return false;
        for (size_t i = 0; i < pl; i++) {
            if (port[1 + i] < '0' || port[1 + i] > '9')
                return false;
            v = v * 10 + (port[1 + i] - '0');
        }
        if (v < 1 || v > 65535)
            return false;
        out->port = (int)v;
    }
    return true;
}

bool bl_url_parse(const char *url, bl_url_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t n = url ? strlen(url) : 0;
    if (n == 0 || n > BL_URL_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f || c == '#' || c == '\\')
            return false;
    }
    const char *rest;
    if (!strncasecmp(url, "https://", 8)) {
        out->tls = true;
        rest = url + 8;
    } else if (!strncasecmp(url, "http://", 7)) {
        rest = url + 7;
    } else {
        return false;
    }
    size_t al = strcspn(rest, "/?");
    if (memchr(rest, '@', al) || !parse_authority(rest, al, out))
        return false;
    const char *path = rest + al;
    snprintf(out->path, sizeof(out->path), "%s%s", *path == '/' ? "" : "/", path);
    return true;
}

static bool addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
    }
    return false;
}

bool bl_url_is_loopback(const bl_url_t *u)
{
    if (!strcasecmp(u->host, "localhost"))
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (!u->ipv6 && inet_pton(AF_INET, u->host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return u->ipv6 && inet_pton(AF_INET6, u->host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static void set_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || !whylen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

bool bl_url_is_fetchable(const char *url, char *why, size_t whylen)
{
    bl_url_t u;
    if (!bl_url_parse(url, &u)) {
        set_why(why, whylen, "not an http:// or https:// URL");
        return false;
    }
    if (!u.tls && !bl_url_is_loopback(&u)) {
        set_why(why, whylen, "plain http:// is allowed to loopback only (use https://)");
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// The answer

typedef struct resp {
    llhttp_t parser;
    llhttp_settings_t settings;
    size_t max_body;
    size_t header_bytes;
    int header_lines;
    bool complete, too_big, headers_too_big, oom;
    int status; // when not 200
    char *body;
    size_t len, cap;
} resp_t;

static int on_head_data(llhttp_t *p, const char *at, size_t n)
{
    (void)at;
    resp_t *r = p->data;
    r->header_bytes += n;
    if (r->header_bytes > HEADER_BYTES_MAX) {
        r->headers_too_big = true;
        return -1;
    }
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    resp_t *r = p->data;
    if (++r->header_lines > HEADER_LINES_MAX) {
        r->headers_too_big = true;
        return -1;
    }
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    resp_t *r = p->data;
    if (p->status_code != 200) {
        r->status = p->status_code;
        return -1;
    }
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > r->max_body) {
        r->too_big = true;
        return -1;
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    resp_t *r = p->data;
    if (n > r->max_body - r->len) {
        r->too_big = true;
        return -1;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 8192;
        while (cap < r->len + n + 1)
            cap *= 2;
        if (cap > r->max_body + 1)
            cap = r->max_body + 1;
        char *b = realloc(r->body, cap);
        if (!b) {
            r->oom = true;
            return -1;
        }
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, at, n);
    r->len += n;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    resp_t *r = p->data;
    r->complete = true;
    return HPE_PAUSED; // anything after the answer is ignored
}

static void resp_init(resp_t *r, size_t max_body)
{
    memset(r, 0, sizeof(*r));
    llhttp_settings_init(&r->settings);
    r->settings.on_status = on_head_data;
    r->settings.on_header_field = on_head_data;
    r->settings.on_header_value = on_head_data;
    r->settings.on_header_field_complete = on_header_field_complete;
    r->settings.on_headers_complete = on_headers_complete;
    r->settings.on_body = on_body;
    r->settings.on_message_complete = on_message_complete;
    llhttp_init(&r->parser, HTTP_RESPONSE, &r->settings);
    r->parser.data = r;
    r->max_body = max_body;
}

// Why the answer failed, from what the callbacks saw or llhttp's error.
static void resp_why(const resp_t *r, char *why, size_t whylen)
{
    if (r->status >= 300 && r->status < 400)
        set_why(why, whylen, "the server answered %d (redirects are not followed)", r->status);
    else if (r->status)
        set_why(why, whylen, "the server answered %d", r->status);
    else if (r->too_big)
        set_why(why, whylen, "the answer is larger than %zu bytes", r->max_body);
    else if (r->headers_too_big)
        set_why(why, whylen, "the answer's headers are too large");
    else if (r->oom)
        set_why(why, whylen, "out of memory");
    else
        set_why(why, whylen, "malformed HTTP answer (%s)",
                llhttp_errno_name(llhttp_get_errno(&r->parser)));
}

// Feeds bytes; 1 = the answer is complete, 0 = more please, -1 = failed.
static int resp_feed(resp_t *r, const char *data, size_t n)
{
    llhttp_errno_t e = llhttp_execute(&r->parser, data, n);
    if (r->complete)
        return 1;
    return e == HPE_OK ? 0 : -1;
}

// The connection ended: an answer delimited by the end of the connection completes now.
static int resp_finish(resp_t *r)
{
    if (r->complete)
        return 1;
    llhttp_finish(&r->parser);
    return r->complete ? 1 : -1;
}

// Hands the body over (NUL-terminated) or frees it.
static bool resp_take(resp_t *r, int state, char **body, size_t *len, char *why, size_t whylen)
{
    if (state == 1 && !r->body && !(r->body = malloc(1)))
        state = -1, r->oom = true;
    if (state != 1) {
        if (state == 0 || (!r->status && !r->too_big && !r->headers_too_big && !r->oom &&
                           llhttp_get_errno(&r->parser) == HPE_OK))
            set_why(why, whylen, "the answer ended early");
        else
            resp_why(r, why, whylen);
        free(r->body);
        r->body = NULL;
        return false;
    }
    r->body[r->len] = '\0';
    *body = r->body;
    *len = r->len;
    r->body = NULL;
    return true;
}

bool bl_fetch_parse_response(const uint8_t *data, size_t size, size_t max_body, char **body,
                             size_t *len, char *why, size_t whylen)
{
    resp_t r;
    *body = NULL;
    *len = 0;
    resp_init(&r, max_body);
    int state = resp_feed(&r, (const char *)data, size);
    if (state == 0)
        state = resp_finish(&r);
    return resp_take(&r, state, body, len, why, whylen);
}

// ---------------------------------------------------------------------------------------------
// The connection

typedef struct conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    long long deadline; // ms, CLOCK_MONOTONIC
    const atomic_int *cancel;
    char *why;
    size_t whylen;
} conn_t;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Waits until fd has events, in slices so that the cancel flag is seen; false on time-out or
// cancel (with why set).
static bool conn_wait(conn_t *c, short events)
{
    for (;;) {
        if (c->cancel && atomic_load(c->cancel)) {
            set_why(c->why, c->whylen, "canceled");
            return false;
        }
        long long left = c->deadline - now_ms();
        if (left <= 0) {
            set_why(c->why, c->whylen, "timed out");
            return false;
        }
        struct pollfd pfd = {c->fd, events, 0};
        int n = poll(&pfd, 1, left < POLL_SLICE_MS ? (int)left : POLL_SLICE_MS);
        if (n > 0)
            return true;
        if (n < 0 && errno != EINTR) {
            set_why(c->why, c->whylen, "poll: %s", strerror(errno));
            return false;
        }
    }
}

// A non-blocking connect to one address; true once connected.
static bool connect_addr(conn_t *c, const struct addrinfo *ai)
{
    c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (c->fd < 0) {
        set_why(c->why, c->whylen, "socket: %s", strerror(errno));
        return false;
    }
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return true;
    int err = errno;
    if (err == EINPROGRESS && conn_wait(c, POLLOUT)) {
        socklen_t sl = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
            err = errno;
        if (err == 0)
            return true;
    }
    if (err != EINPROGRESS)
        set_why(c->why, c->whylen, "connect: %s", strerror(err));
    close(c->fd);
    c->fd = -1;
    return false;
}

// Resolves and connects; plain connections to loopback addresses only.
static bool conn_connect(conn_t *c, const bl_url_t *u)
{
    char port[8];
    snprintf(port, sizeof(port), "%d", u->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    if (u->ip_literal)
        hints.ai_flags = AI_NUMERICHOST;
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(u->host, port, &hints, &res);
    if (rc != 0) {
        set_why(c->why, c->whylen, "cannot resolve %s: %s", u->host, gai_strerror(rc));
        return false;
    }
    set_why(c->why, c->whylen, "no address of %s may be used", u->host);
    bool ok = false;
    for (const struct addrinfo *ai = res; ai && !ok; ai = ai->ai_next) {
        if (!u->tls && !addr_is_loopback(ai->ai_addr))
            continue; // a name that resolves elsewhere gets no plain request
        ok = connect_addr(c, ai);
        if (c->cancel && atomic_load(c->cancel))
            break;
    }
    freeaddrinfo(res);
    if (ok)
        set_why(c->why, c->whylen, "%s", "");
    return ok;
}

// Drives one SSL call to completion through WANT_READ/WANT_WRITE; its result or -1.
static int ssl_call(conn_t *c, int (*fn)(SSL *, void *, int), void *buf, int n)
{
    for (;;) {
        ERR_clear_error();
        int r = fn(c->ssl, buf, n);
        if (r > 0)
            return r;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (!conn_wait(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT))
                return -1;
            continue;
        }
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        char err[160] = "";
        ERR_error_string_n(ERR_peek_last_error(), err, sizeof(err));
        set_why(c->why, c->whylen, "TLS: %s", err[0] ? err : "connection failed");
        return -1;
    }
}

static int do_handshake(SSL *ssl, void *buf, int n)
{
    (void)buf, (void)n;
    return SSL_connect(ssl);
}

static int do_read(SSL *ssl, void *buf, int n)
{
    return SSL_read(ssl, buf, n);
}

static int do_write(SSL *ssl, void *buf, int n)
{
    return SSL_write(ssl, buf, n);
}

// TLS with the chain checked against ca_file (or the system's store) and the host named.
static bool conn_tls(conn_t *c, const bl_url_t *u, const char *ca_file)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx || !SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION)) {
        set_why(c->why, c->whylen, "TLS: cannot set up");
        return false;
    }
    SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    bool cas = ca_file && ca_file[0] ? SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) == 1
                                     : SSL_CTX_set_default_verify_paths(c->ctx) == 1;
    if (!cas) {
        set_why(c->why, c->whylen, "TLS: cannot load the trusted CAs%s%s",
                ca_file && ca_file[0] ? " of " : "", ca_file && ca_file[0] ? ca_file : "");
        return false;
    }
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        set_why(c->why, c->whylen, "TLS: cannot set up");
        return false;
    }
    X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    bool named = u->ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(param, u->host) == 1
                               : SSL_set_tlsext_host_name(c->ssl, u->host) == 1 &&
                                     SSL_set1_host(c->ssl, u->host) == 1;
    if (!named) {
        set_why(c->why, c->whylen, "TLS: cannot set the expected host name");
        return false;
    }
    int r = ssl_call(c, do_handshake, NULL, 0);
    if (r <= 0) {
        long v = SSL_get_verify_result(c->ssl);
        if (r == 0)
            set_why(c->why, c->whylen, "TLS: the server closed the connection in the handshake");
        else if (v != X509_V_OK)
            set_why(c->why, c->whylen, "TLS: the certificate of %s is not trusted: %s", u->host,
                    X509_verify_cert_error_string(v));
        return false;
    }
    return true;
}

static void conn_close(conn_t *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
}

// Writes all n bytes; false with why set.
static bool conn_write(conn_t *c, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t w;
        if (c->ssl) {
            w = ssl_call(c, do_write, (void *)data, n > 65536 ? 65536 : (int)n);
            if (w <= 0) {
                if (w == 0)
                    set_why(c->why, c->whylen, "the server closed the connection");
                return false;
            }
        } else {
            w = send(c->fd, data, n, MSG_NOSIGNAL);
            if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (!conn_wait(c, POLLOUT))
                    return false;
                continue;
            }
            if (w < 0) {
                set_why(c->why, c->whylen, "send: %s", strerror(errno));
                return false;
            }
        }
        data += w;
        n -= (size_t)w;
    }
    return true;
}

// Reads what is there (waiting for it): bytes, 0 at the end, -1 on error with why set.
static ssize_t conn_read(conn_t *c, char *buf, size_t cap)
{
    if (c->ssl)
        return ssl_call(c, do_read, buf, cap > 65536 ? 65536 : (int)cap);
    for (;;) {
        ssize_t n = recv(c->fd, buf, cap, 0);
        if (n >= 0)
            return n;
        if (errno != EAGAIN && errno != EINTR) {
            set_why(c->why, c->whylen, "recv: %s", strerror(errno));
            return -1;
        }
        if (!conn_wait(c, POLLIN))
            return -1;
    }
}

bool bl_fetch_get(const char *url, const bl_fetch_opts_t *o, char **body, size_t *len, char *why,
                  size_t whylen)
{
    *body = NULL;
    *len = 0;
    bl_url_t u;
    if (!bl_url_is_fetchable(url, why, whylen) || !bl_url_parse(url, &u))
        return false;
    conn_t c = {.fd = -1, .cancel = o->cancel, .why = why, .whylen = whylen};
    char req[BL_URL_MAX + 512];
    int rl = snprintf(req, sizeof(req),
                      "GET %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nAccept: application/json\r\n"
                      "User-Agent: blattd\r\nConnection: close\r\n\r\n",
                      u.path, u.ipv6 ? "[" : "", u.host, u.ipv6 ? "]" : "", u.port);
    if (rl < 0 || (size_t)rl >= sizeof(req)) {
        set_why(why, whylen, "URL too long");
        return false;
    }
    bool ok = false;
    c.deadline = now_ms() + (o->timeout_ms > 0 ? o->timeout_ms : 10000);
    if (conn_connect(&c, &u) && (!u.tls || conn_tls(&c, &u, o->ca_file)) &&
        conn_write(&c, req, (size_t)rl)) {
        resp_t r;
        resp_init(&r, o->max_body);
        char buf[16384];
        int state = 0;
        bool io_error = false;
        while (state == 0 && !io_error) {
            ssize_t n = conn_read(&c, buf, sizeof(buf));
            if (n < 0)
                io_error = true;
            else
                state = n == 0 ? resp_finish(&r) : resp_feed(&r, buf, (size_t)n);
        }
        if (io_error)
            free(r.body);
        else
            ok = resp_take(&r, state, body, len, why, whylen);
    }
    conn_close(&c);
    return ok;
}
