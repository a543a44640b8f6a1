// Internals of the HTTP layer shared by http.c (connections) and http-listen.c (listeners).
// Licensed under the Apache License, Version 2.0.
#ifndef BL_HTTP_PRIVATE_H
#define BL_HTTP_PRIVATE_H

#include "server/http.h"
#include "server/inflate.h"

#include <llhttp.h>
#include <stdbool.h>
#include <time.h>

struct event;
struct bufferevent;
struct evconnlistener;

typedef enum bl_conn_state {
    CONN_DETECT,    // accepted, waiting for the first byte (TLS or plain?)
    CONN_HANDSHAKE, // TLS handshake
    CONN_IDLE,      // keep-alive, between requests
    CONN_HEAD,      // reading the request line and headers
    CONN_BODY,      // streaming the request body to the handler
    CONN_WAIT,      // request read, the handler has not answered yet
    CONN_DISCARD,   // answered early: draining the rest of the body, then closing
    CONN_LINGER,    // last answer written, write side shut: read and drop until EOF, then close
    CONN_CLOSING,   // marked; the reaper frees it after this loop pass
} bl_conn_state_t;

struct bl_conn {
    bl_http_server_t *server;
    bl_conn_t *next, *prev;  // server->conns
    bl_conn_t *next_closing; // server->closing
    bl_conn_state_t state;
    int fd; // until a bufferevent owns it
    struct bufferevent *bev;
    struct event *timer;     // the state's timeout
    struct event *detect_ev; // first-byte wait
    bool tls, local, has_uid;
    bool refuse_plain; // plain HTTP from a remote peer: every request gets 403
    bool upgrade_tls;  // a 101 to TLS was answered (RFC 2817): TLS starts once it is out
    bool upgrade_owed; // ... and the OPTIONS' own answer follows the handshake (RFC 2817 3.3)
    uid_t uid;
    int local_port;
    unsigned tag; // of the listener it came from
    char peer[64];
    char local_host[64];
    llhttp_t parser;
    int parse_status; // status to answer when a callback refused the bytes (-1: just close)
    // The head of the current request: URL\0 name\0value\0 ... (allocated per request).
    char *head;
    size_t head_len, head_cap, url_off;
    bl_http_header_t *headers;
    size_t num_headers;
    bool field_open, in_value;
    bl_http_request_t req;
    bl_inflate_t *inflater; // Content-Encoding of the current request body
    bool in_request;        // on_request was called; on_abort is still due
    bool responded, body_done, keep_alive;
    bool paused;        // the handler stopped reading (bl_conn_set_reading)
    bool want_continue; // a 100 Continue is owed once reading resumes
    bool continue_sent; // a 100 Continue just went out: the body cannot be there yet
    int status;
    uint64_t discarded, bytes_in, bytes_out;
    time_t request_start;
    void *userdata;
};

typedef struct bl_listener {
    bl_http_server_t *server;
    struct evconnlistener *evl;
    bool unix_socket;
    int port;
    unsigned tag; // the application's word about this listener (bl_conn_tag())
    char *path;   // socket file, removed at the end
} bl_listener_t;

struct bl_http_server {
    struct event_base *base;
    bl_http_limits_t limits;
    SSL_CTX *tls;
    const bl_http_handler_t *handler;
    void *app;
    bl_listener_t **listeners;
    size_t num_listeners;
    bl_conn_t *conns;
    size_t num_conns;
    bl_conn_t *closing;
    struct event *reap_ev;
    struct event *resume_ev; // re-enables the listeners after running out of descriptors
    time_t last_accept_error;
    int access_log_fd;
};

// http.c
bl_conn_t *bl_conn_create(bl_http_server_t *s, int fd, const char *peer, const char *local_host,
                          int local_port, bool local);
bool bl_conn_start(bl_conn_t *c, SSL_CTX *tls);
void bl_conn_free(bl_conn_t *c);
void bl_conn_close(bl_conn_t *c);
void bl_conn_set_state(bl_conn_t *c, bl_conn_state_t state);

#endif
