// IPP client connection helpers shared by the ipp backend and the probe helper (libcups).
// Licensed under the Apache License, Version 2.0.
//
// Blocking libcups I/O is fine in these child processes; a timeout callback lets a SIGTERM
// (or a peer that stops answering) end any wait.
#include "drivers/drv-ipp.h"
#include "drivers/drivers-private.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// Called by libcups each second a read or write waits: 0 gives up.
static int on_http_timeout(http_t *http, void *data)
{
    (void)http;
    bl_ipp_conn_t *c = data;
    c->stalled++;
    if ((bl_drv_terminated && !c->cancel_proof) || c->stalled >= c->stall_limit) {
        c->aborted = true;
        return 0;
    }
    return 1;
}

bool bl_ipp_conn_parse(bl_ipp_conn_t *c, const char *device_uri, char *why, size_t len)
{
    char scheme[32], userpass[256];
    memset(c, 0, sizeof(*c));
    c->version = 20;
    c->connect_ms = BL_IPP_CONNECT_MS;
    c->stall_limit = 600;
    if (!device_uri || httpSeparateURI(HTTP_URI_CODING_ALL, device_uri, scheme, sizeof(scheme),
                                       userpass, sizeof(userpass), c->host, sizeof(c->host),
                                       &c->port, c->resource, sizeof(c->resource)) < 0) {
        snprintf(why, len, "bad device URI");
        return false;
    }
    if (strcmp(scheme, "ipp") && strcmp(scheme, "ipps")) {
        snprintf(why, len, "not an ipp:// or ipps:// URI");
        return false;
    }
    c->encryption = !strcmp(scheme, "ipps") ? HTTP_ENCRYPTION_ALWAYS : HTTP_ENCRYPTION_IF_REQUESTED;
    if (httpAssembleURI(HTTP_URI_CODING_ALL, c->uri, sizeof(c->uri), scheme, NULL, c->host, c->port,
                        c->resource) < HTTP_URI_STATUS_OK) {
        snprintf(why, len, "bad device URI");
        return false;
    }
    return true;
}

bool bl_ipp_conn_open(bl_ipp_conn_t *c, char *why, size_t len)
{
    c->aborted = false;
    // libcups polls *cancel while connecting: SIGTERM ends the attempt.
    int *cancel = c->cancel_proof ? NULL : (int *)&bl_drv_terminated;
    c->http = httpConnect2(c->host, c->port, NULL, AF_UNSPEC, c->encryption, 1, BL_IPP_CONNECT_MS,
                           cancel);
    if (!c->http) {
        // libcups says "Host is down" for every failure: ask the network for the reason.
        // cupsLastErrorString() is freed by the next libcups error: copy it now.
        const char *e = cupsLastErrorString();
        char cups_why[256], port[16];
        snprintf(cups_why, sizeof(cups_why), "%s", e ? e : "");
        snprintf(port, sizeof(port), "%d", c->port);
        int fd = bl_drv_terminated
                     ? -1
                     : bl_net_connect(c->host, port, c->connect_ms < 2000 ? c->connect_ms : 2000,
                                      why, len);
        if (fd >= 0 || bl_drv_terminated) {
            if (fd >= 0)
                close(fd);
            bool vague = !cups_why[0] || !strcmp(cups_why, strerror(EHOSTDOWN));
            snprintf(why, len, "%s",
                     !vague                                    ? cups_why
                     : c->encryption == HTTP_ENCRYPTION_ALWAYS ? "TLS handshake failed"
                                                               : "the connection failed");
        }
        return false;
    }
    httpSetTimeout(c->http, 1.0, on_http_timeout, c);
    return true;
}

void bl_ipp_conn_close(bl_ipp_conn_t *c)
{
    if (c->http)
        httpClose(c->http);
    c->http = NULL;
}

ipp_t *bl_ipp_conn_request(const bl_ipp_conn_t *c, ipp_op_t op)
{
    ipp_t *req = ippNewRequest(op);
    ippSetVersion(req, c->version / 10, c->version % 10);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", NULL, c->uri);
    return req;
}

ipp_t *bl_ipp_conn_do(bl_ipp_conn_t *c, ipp_t *req, char *why, size_t len)
{
    c->stalled = 0;
    c->aborted = false;
    if (!c->http) {
        // libcups would fall back to the local CUPS server for a NULL connection.
        ippDelete(req);
        snprintf(why, len, "not connected");
        return NULL;
    }
    ipp_t *resp = cupsDoRequest(c->http, req, c->resource);
    if (!resp) {
        const char *e = cupsLastErrorString();
        snprintf(why, len, "%s", c->aborted ? "no answer" : e && *e ? e : "no response");
    }
    return resp;
}

bool bl_drv_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (!bl_drv_terminated && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return !bl_drv_terminated;
}
