// libFuzzer target of blattd's HTTP/1.1 request parsing: the real connection code on a socket.
// Licensed under the Apache License, Version 2.0.
//
// Input: one mode byte (write chunk size = mode % 32 + 1, so the parser is resumed at every
// possible split), then the bytes a client sends. A handler like the router's answers GET at
// once and POST at the end of the body. After the input the client half-closes; the loop runs
// until the server has closed the connection, so every path frees what it allocated.
#include "server/http-private.h"

#include "server/log.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;
static bl_http_server_t *server;

static void on_request(void *app, bl_conn_t *c, const bl_http_request_t *req)
{
    (void)app;
    (void)bl_http_request_header(req, "Host");
    if (strcmp(req->method, "POST"))
        bl_conn_respond_text(c, 200, req->path);
}

static void on_body(void *app, bl_conn_t *c, const uint8_t *d, size_t len)
{
    (void)app;
    size_t *seen = bl_conn_get_userdata(c);
    (void)seen;
    (void)d;
    (void)len;
}

static void on_body_end(void *app, bl_conn_t *c)
{
    (void)app;
    bl_conn_respond_text(c, 201, "stored");
}

static void on_abort(void *app, bl_conn_t *c)
{
    (void)app;
    (void)c;
}

static const bl_http_handler_t handler = {on_request, on_body, on_body_end, on_abort};

static void setup(void)
{
    bl_log_open("/dev/null", BL_LOG_ERROR);
    signal(SIGPIPE, SIG_IGN); // as in blattd: a peer that went away is an error return
    base = event_base_new();
    bl_http_limits_t limits = {.max_header_size = 4096,
                               .max_headers = 20,
                               .request_timeout = 5,
                               .body_timeout = 5,
                               .keepalive_timeout = 5,
                               .max_connections = 10};
    server = bl_http_server_create(base, &limits, NULL, &handler, NULL);
    if (!base || !server)
        abort();
}

static void drain(int fd)
{
    char buf[4096];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base)
        setup();
    if (size < 1)
        return 0;
    size_t chunk = data[0] % 32 + 1;
    data++;
    size--;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    bl_conn_t *c = bl_conn_create(server, sv[0], "fuzz", "localhost", 631, true);
    if (!c || !bl_conn_start(c, NULL))
        abort();
    size_t off = 0;
    for (int spins = 0; off < size && spins < 100000; spins++) {
        size_t n = size - off < chunk ? size - off : chunk;
        ssize_t w = write(sv[1], data + off, n);
        if (w > 0)
            off += (size_t)w;
        event_base_loop(base, EVLOOP_NONBLOCK);
        drain(sv[1]);
    }
    shutdown(sv[1], SHUT_WR);
    for (int i = 0; i < 1000 && bl_http_server_num_conns(server) > 0; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        drain(sv[1]);
        if (i == 500)
            close(sv[1]), sv[1] = -1; // a client that stops reading: the server must let go
    }
    if (sv[1] >= 0)
        close(sv[1]);
    for (int i = 0; i < 100 && bl_http_server_num_conns(server) > 0; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    // A connection still open here waits on a timer: free it the way shutdown does.
    while (server->conns)
        bl_conn_close(server->conns), event_base_loop(base, EVLOOP_NONBLOCK);
    return 0;
}
