// HTTP/1.1 server connections of blattd: listeners, TLS detection, llhttp parsing, responses.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_HTTP_H
#define BL_HTTP_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct evbuffer;

typedef struct bl_http_server bl_http_server_t;
typedef struct bl_conn bl_conn_t;

typedef struct bl_http_limits {
    size_t max_header_size; // request line + all headers
    int max_headers;
    int request_timeout;   // seconds from the first byte of a request to the end of its headers
    int body_timeout;      // seconds of silence allowed while a body streams in
    int keepalive_timeout; // seconds an idle keep-alive connection stays open
    int max_connections;
    bool allow_plain_remote; // plain HTTP from non-loopback peers (else 403 "use TLS")
} bl_http_limits_t;

typedef struct bl_http_header {
    const char *name;
    const char *value;
} bl_http_header_t;

// One parsed request head. Valid from on_request until on_abort.
typedef struct bl_http_request {
    const char *method; // "GET", "POST", ...
    const char *target; // request target as sent ("/ipp/print/q?x")
    const char *path;   // target without query, percent-decoding not applied
    const char *query;  // after '?', or ""
    const bl_http_header_t *headers;
    size_t num_headers;
    int version_minor;       // HTTP/1.x
    bool has_body;           // Content-Length > 0 or chunked
    uint64_t content_length; // 0 when chunked
    bool chunked;
    bool content_coded; // Content-Encoding gzip/deflate: on_body gets the decoded bytes
} bl_http_request_t;

// Case-insensitive header look-up; NULL when absent.
const char *bl_http_request_header(const bl_http_request_t *req, const char *name);

// The application's side of a connection. All callbacks run on the loop. A handler may call
// bl_conn_respond() from any of them or later; on_abort always comes last for each request
// that got on_request, whether it was answered, the peer went away or the server closed it.
typedef struct bl_http_handler {
    void (*on_request)(void *app, bl_conn_t *c, const bl_http_request_t *req);
    void (*on_body)(void *app, bl_conn_t *c, const uint8_t *data, size_t len);
    void (*on_body_end)(void *app, bl_conn_t *c);
    void (*on_abort)(void *app, bl_conn_t *c);
} bl_http_handler_t;

// A server: listeners share limits, TLS context (NULL = plain only) and handler.
bl_http_server_t *bl_http_server_create(struct event_base *base, const bl_http_limits_t *limits,
                                        SSL_CTX *tls, const bl_http_handler_t *handler, void *app);
// New connections use tls from now on (certificate reload); connections already open keep the
// context they started with. The caller still owns both contexts (SSL keeps a reference).
void bl_http_server_set_tls(bl_http_server_t *s, SSL_CTX *tls);
// Closes every connection and listener; frees the server (not the SSL_CTX).
void bl_http_server_delete(bl_http_server_t *s);
// Listens on host:port ("*" = all addresses, "localhost" = loopback v4 and v6); connections
// from it carry `tag` (bl_conn_tag()).
bool bl_http_server_listen_tcp(bl_http_server_t *s, const char *host, int port, unsigned tag);
// Listens on a Unix socket (an old socket file is replaced) with the given mode.
bool bl_http_server_listen_unix(bl_http_server_t *s, const char *path, int mode, unsigned tag);
// Stops accepting connections (at shutdown); open connections are served on.
void bl_http_server_close_listeners(bl_http_server_t *s);
// Port of the first TCP listener (useful with port 0), or 0.
int bl_http_server_port(const bl_http_server_t *s);
// One line per request to fd (not owned).
void bl_http_server_set_access_log(bl_http_server_t *s, int fd);
// Connections now open.
size_t bl_http_server_num_conns(const bl_http_server_t *s);

// Sends the response to the current request. body may be NULL; its bytes are moved out.
// extra_headers: NULL or "Name: value\r\n..." lines. Once per request; later calls are ignored.
// A response sent before the request body ended makes the connection discard the rest of the
// body (or close, when it is large).
void bl_conn_respond(bl_conn_t *c, int status, const char *content_type, struct evbuffer *body,
                     const char *extra_headers);
// A short text/plain response.
void bl_conn_respond_text(bl_conn_t *c, int status, const char *text);
// Stops (false) or resumes (true) reading the request body (back-pressure, or while the
// credentials of a request are checked: called from on_request, the body waits, and so does
// the 100 Continue).
void bl_conn_set_reading(bl_conn_t *c, bool on);
void bl_conn_set_userdata(bl_conn_t *c, void *data);
void *bl_conn_get_userdata(const bl_conn_t *c);
// Peer address as "ip:port" or "unix".
const char *bl_conn_peer(const bl_conn_t *c);
// Local host the peer connected to (an address literal), for URIs when no Host header came.
const char *bl_conn_host(const bl_conn_t *c);
int bl_conn_local_port(const bl_conn_t *c);
bool bl_conn_is_tls(const bl_conn_t *c);
// Loopback peer or Unix socket.
bool bl_conn_is_local(const bl_conn_t *c);
// Peer credentials of a Unix-socket client.
bool bl_conn_peer_uid(const bl_conn_t *c, uid_t *uid);
// The tag of the listener the connection came through.
unsigned bl_conn_tag(const bl_conn_t *c);
// The common name (or first e-mail address) of a TLS client certificate that verified against
// the server's client CAs. false without one.
bool bl_conn_peer_cert(const bl_conn_t *c, char *subject, size_t len);

#endif
