// HTTP listeners of blattd: TCP and Unix sockets, accept, TLS-or-plain detection, reaping.
// Licensed under the Apache License, Version 2.0.
//
// TLS and plain HTTP share a port: the first byte of a connection decides (0x16 starts a TLS
// handshake record). Plain HTTP is served to loopback and Unix-socket peers only, unless the
// admin allows it (AllowPlainRemote): everyone else must use ipps:// or https://.
#include "server/http-private.h"

#include "server/log.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BACKLOG 512

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bl_http_server_t *s = arg;
    while (s->closing) {
        bl_conn_t *c = s->closing;
        s->closing = c->next_closing;
        bl_conn_free(c);
    }
}

static void on_resume_accept(evutil_socket_t fd, short what, void *arg);

void bl_http_server_set_tls(bl_http_server_t *s, SSL_CTX *tls)
{
    s->tls = tls;
}

bl_http_server_t *bl_http_server_create(struct event_base *base, const bl_http_limits_t *limits,
                                        SSL_CTX *tls, const bl_http_handler_t *handler, void *app)
{
    bl_http_server_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->base = base;
    s->limits = *limits;
    s->tls = tls;
    s->handler = handler;
    s->app = app;
    s->access_log_fd = -1;
    s->reap_ev = event_new(base, -1, 0, on_reap, s);
    s->resume_ev = evtimer_new(base, on_resume_accept, s);
    if (!s->reap_ev || !s->resume_ev) {
        if (s->reap_ev)
            event_free(s->reap_ev);
        free(s);
        return NULL;
    }
    return s;
}

void bl_http_server_close_listeners(bl_http_server_t *s)
{
    for (size_t i = 0; i < s->num_listeners; i++) {
        evconnlistener_free(s->listeners[i]->evl);
        if (s->listeners[i]->path) {
            unlink(s->listeners[i]->path);
            free(s->listeners[i]->path);
        }
        free(s->listeners[i]);
    }
    free(s->listeners);
    s->listeners = NULL;
    s->num_listeners = 0;
}

void bl_http_server_delete(bl_http_server_t *s)
{
    if (!s)
        return;
    bl_http_server_close_listeners(s);
    while (s->conns)
        bl_conn_close(s->conns), on_reap(-1, 0, s);
    on_reap(-1, 0, s);
    event_free(s->reap_ev);
    event_free(s->resume_ev);
    free(s);
}

void bl_http_server_set_access_log(bl_http_server_t *s, int fd)
{
    s->access_log_fd = fd;
}

size_t bl_http_server_num_conns(const bl_http_server_t *s)
{
    return s->num_conns;
}

int bl_http_server_port(const bl_http_server_t *s)
{
    for (size_t i = 0; i < s->num_listeners; i++) {
        if (!s->listeners[i]->unix_socket)
            return s->listeners[i]->port;
    }
    return 0;
}

// Numeric "host" (v6 in brackets) and port of a socket address; loopback is reported.
static void addr_text(const struct sockaddr *sa, socklen_t len, char *host, size_t hlen, int *port,
                      bool *loopback)
{
    char h[INET6_ADDRSTRLEN + 8] = "?", p[16] = "0";
    getnameinfo(sa, len, h, sizeof(h), p, sizeof(p), NI_NUMERICHOST | NI_NUMERICSERV);
    const char *shown = h;
    bool v6 = sa->sa_family == AF_INET6;
    if (v6 && !strncmp(h, "::ffff:", 7) && strchr(h + 7, '.')) {
        shown = h + 7; // IPv4-mapped
        v6 = false;
    }
    if (v6)
        snprintf(host, hlen, "[%s]", shown);
    else
        snprintf(host, hlen, "%s", shown);
    *port = atoi(p);
    *loopback = !strncmp(shown, "127.", 4) || !strcmp(shown, "::1");
}

// Starts serving an accepted connection whose protocol is now known.
static void conn_begin(bl_conn_t *c, bool use_tls)
{
    if (!bl_conn_start(c, use_tls ? c->server->tls : NULL)) {
        bl_log(BL_LOG_ERROR, "http %s: cannot set up the connection", c->peer);
        bl_conn_close(c);
    }
}

static void on_detect(evutil_socket_t fd, short what, void *arg)
{
    bl_conn_t *c = arg;
    if (what & EV_TIMEOUT) {
        bl_conn_close(c);
        return;
    }
    unsigned char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        struct timeval tv = {c->server->limits.request_timeout, 0};
        event_add(c->detect_ev, &tv);
        return;
    }
    if (n <= 0) {
        bl_conn_close(c);
        return;
    }
    event_free(c->detect_ev);
    c->detect_ev = NULL;
    if (b != 0x16 && !c->local && !c->server->limits.allow_plain_remote)
        c->refuse_plain = true;
    conn_begin(c, b == 0x16);
}

// A rejected connection (too many open) gets a short answer without entering the loop.
static void refuse_busy(int fd)
{
    static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                              "Connection: close\r\nRetry-After: 5\r\n\r\n";
    ssize_t w = send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)w;
    close(fd);
}

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)evl;
    bl_listener_t *listener = arg;
    bl_http_server_t *s = listener->server;
    if (s->num_conns >= (size_t)s->limits.max_connections) {
        bl_log(BL_LOG_WARN, "http: MaxConnections (%d) reached, refusing a connection",
               s->limits.max_connections);
        refuse_busy(fd);
        return;
    }
    char peer[64] = "unix", local[64] = "localhost";
    int peer_port = 0, local_port = 0;
    bool loopback = true, is_unix = sa->sa_family == AF_UNIX;
    if (!is_unix) {
        char host[56];
        addr_text(sa, (socklen_t)salen, host, sizeof(host), &peer_port, &loopback);
        snprintf(peer, sizeof(peer), "%s:%d", host, peer_port);
        struct sockaddr_storage ls;
        socklen_t ll = sizeof(ls);
        bool dummy;
        if (getsockname(fd, (struct sockaddr *)&ls, &ll) == 0)
            addr_text((struct sockaddr *)&ls, ll, local, sizeof(local), &local_port, &dummy);
    }
    if (!is_unix) {
        // Answers are small and complete: send them at once (no Nagle delay).
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    bl_conn_t *c = bl_conn_create(s, fd, peer, local, local_port, loopback);
    if (!c) {
        close(fd);
        return;
    }
    c->tag = listener->tag;
    if (is_unix) {
        struct ucred cred;
        socklen_t cl = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
            c->has_uid = true;
            c->uid = cred.uid;
        }
        conn_begin(c, false);
        return;
    }
    if (!loopback && !s->limits.allow_plain_remote && !s->tls) {
        bl_conn_close(c);
        return;
    }
    if (!s->tls) {
        conn_begin(c, false);
        return;
    }
    c->detect_ev = event_new(s->base, fd, EV_READ, on_detect, c);
    struct timeval tv = {s->limits.request_timeout, 0};
    if (!c->detect_ev || event_add(c->detect_ev, &tv) != 0) {
        bl_conn_close(c);
        return;
    }
    bl_conn_set_state(c, CONN_DETECT);
}

static void on_resume_accept(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bl_http_server_t *s = arg;
    for (size_t i = 0; i < s->num_listeners; i++)
        evconnlistener_enable(s->listeners[i]->evl);
}

// Out of file descriptors (or kernel memory): a listener that stays enabled would spin on
// accept() and flood the log. Pause all listeners for a moment; say so at most every 10 s.
static void on_accept_error(struct evconnlistener *evl, void *arg)
{
    (void)evl;
    bl_http_server_t *s = ((bl_listener_t *)arg)->server;
    int err = errno;
    time_t now = time(NULL);
    if (now - s->last_accept_error >= 10) {
        bl_log(BL_LOG_WARN, "http: accept failed: %s; pausing new connections", strerror(err));
        s->last_accept_error = now;
    }
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
        return;
    for (size_t i = 0; i < s->num_listeners; i++)
        evconnlistener_disable(s->listeners[i]->evl);
    struct timeval tv = {0, 250000};
    evtimer_add(s->resume_ev, &tv);
}

static bool add_listener(bl_http_server_t *s, int fd, int port, const char *path, unsigned tag)
{
    bl_listener_t **all = realloc(s->listeners, (s->num_listeners + 1) * sizeof(*all));
    bl_listener_t *l = all ? calloc(1, sizeof(*l)) : NULL;
    if (all)
        s->listeners = all;
    if (!l) {
        close(fd);
        return false;
    }
    *l = (bl_listener_t){s, NULL, path != NULL, port, tag, path ? strdup(path) : NULL};
    l->evl = evconnlistener_new(s->base, on_accept, l,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, BACKLOG, fd);
    if (!l->evl) {
        bl_log(BL_LOG_ERROR, "http: cannot listen: %s", strerror(errno));
        close(fd);
        free(l->path);
        free(l);
        return false;
    }
    evconnlistener_set_error_cb(l->evl, on_accept_error);
    s->listeners[s->num_listeners++] = l;
    return true;
}

// Binds one address; *port learns the port when it was 0.
static int bind_one(const struct addrinfo *ai, int *port)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
        return -1;
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            *port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return fd;
}

bool bl_http_server_listen_tcp(bl_http_server_t *s, const char *host, int port, unsigned tag)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    const char *node = !strcmp(host, "*") ? NULL : host;
    int rc = getaddrinfo(node, ps, &hints, &res);
    if (rc != 0) {
        bl_log(BL_LOG_ERROR, "Listen %s:%d: %s", host, port, gai_strerror(rc));
        return false;
    }
    int bound = 0, chosen = port;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int p = chosen;
        if (ai->ai_family == AF_INET)
            ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((uint16_t)p);
        else if (ai->ai_family == AF_INET6)
            ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((uint16_t)p);
        int fd = bind_one(ai, &p);
        if (fd < 0) {
            // A host without IPv6 (or v4) still serves on what it has.
            if (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)
                continue;
            bl_log(BL_LOG_ERROR, "Listen %s:%d: %s", host, port, strerror(errno));
            freeaddrinfo(res);
            return false;
        }
        chosen = p; // with port 0, every address gets the port of the first one
        if (!add_listener(s, fd, p, NULL, tag)) {
            freeaddrinfo(res);
            return false;
        }
        bound++;
    }
    freeaddrinfo(res);
    if (!bound)
        bl_log(BL_LOG_ERROR, "Listen %s:%d: no usable address", host, port);
    else
        bl_log(BL_LOG_INFO, "listening on %s:%d", host, chosen);
    return bound > 0;
}

bool bl_http_server_listen_unix(bl_http_server_t *s, const char *path, int mode, unsigned tag)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) {
        bl_log(BL_LOG_ERROR, "Listen %s: path too long", path);
        return false;
    }
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    // Replace a stale socket file, but never another kind of file.
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 || chmod(path, (mode_t)mode) != 0) {
        bl_log(BL_LOG_ERROR, "Listen %s: %s", path, strerror(errno));
        close(fd);
        return false;
    }
    bl_log(BL_LOG_INFO, "listening on %s", path);
    return add_listener(s, fd, 0, path, tag);
}
