// The IPP face of blattd, as the HTTP router sees it: one object per IPP request, no sockets.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_IPP_H
#define BL_IPP_H

#include <cups/ipp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "server/auth.h"
#include "server/system.h"

typedef struct bl_ipp_req bl_ipp_req_t;

// Called once per request with the encoded response (malloc'ed; ownership passes to the callee;
// NULL when it could not be encoded). Possibly called later from the loop (after a group
// commit), possibly before the request body has ended.
typedef void (*bl_ipp_respond_cb)(void *arg, uint8_t *response, size_t len);

typedef struct bl_ipp_peer {
    const char *address; // "127.0.0.1:4711" or "unix"
    const char *host;    // Host header (for URIs in replies), without port
    int port;            // local port the client used (0 for the Unix socket)
    bool tls;
    bool local;   // loopback or Unix socket
    bool has_uid; // peer credentials of a Unix-socket client
    uid_t uid;
    bool content_coded; // the HTTP layer already removed a Content-Encoding
    unsigned schemes;   // BL_SCHEME_* this connection may authenticate with
} bl_ipp_peer_t;

// A request for `path` (the HTTP request path). `respond` is called exactly once unless the
// request is deleted first.
bl_ipp_req_t *bl_ipp_req_create(bl_system_t *sys, const bl_ipp_peer_t *peer, const char *path,
                                bl_ipp_respond_cb respond, void *arg);
// Who is asking, from authentication (before bl_ipp_req_start). trust: requesting-user-name is
// believed (a trust listener, anonymous id); can_login: the connection offers Basic or Bearer.
void bl_ipp_req_set_identity(bl_ipp_req_t *req, const bl_identity_t *id, bool trust,
                             bool can_login);
// After the response callback: the requester was anonymous and the operation needs a login, so
// the answer should be an HTTP 401 challenge rather than the IPP response.
bool bl_ipp_req_needs_auth(const bl_ipp_req_t *req);
// Handles the decoded attribute block (takes ownership of `request`). Returns true when the
// operation wants the document bytes that follow (bl_ipp_req_document/..._end), false otherwise.
bool bl_ipp_req_start(bl_ipp_req_t *req, ipp_t *request);
// Answers a message that could not be framed or decoded.
void bl_ipp_req_fail(bl_ipp_req_t *req, ipp_status_t status, const char *message);
// Document bytes. false: stop sending (the response has been given).
bool bl_ipp_req_document(bl_ipp_req_t *req, const uint8_t *data, size_t len);
void bl_ipp_req_document_end(bl_ipp_req_t *req);
// The connection went away; whatever was not yet accepted is dropped. Frees req.
void bl_ipp_req_delete(bl_ipp_req_t *req);
// Frees what still waits for a later turn of the loop (long Get-Jobs listings) at exit, after
// the connections are gone.
void bl_ipp_cleanup(void);

#endif
