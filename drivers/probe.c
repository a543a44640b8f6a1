// Helper probe: fetches a printer's capabilities (Get-Printer-Attributes) for blattd.
// Licensed under the Apache License, Version 2.0.
//
// probe DEVICE-URI: sends Get-Printer-Attributes (requested-attributes all and
// media-col-database) to an ipp:// or ipps:// URI and writes the whole IPP response, binary,
// to stdout; exit 0. On failure an ERROR line and exit 1. blattd decodes and validates the
// reply itself; nothing of it is interpreted here, with one exception: libcups reads names of
// up to 32767 bytes but cannot write names that long, so attributes (and collection members)
// whose names are longer than any IPP keyword (255 bytes) are dropped first; one such
// attribute would otherwise cost the queue all of its capabilities.
#include "drivers/drivers-private.h"
#include "drivers/drv-ipp.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define BUSY_RETRIES 20
#define MAX_NAME 255   // the longest IPP keyword, so the longest attribute name
#define MAX_NESTING 16 // as deep as blattd decodes collections (ipp/frame.h)

// ippWriteIO callback: writes to the fd in ctx.
static ssize_t on_ipp_write(void *ctx, ipp_uchar_t *buf, size_t len)
{
    int fd = *(int *)ctx;
    return bl_fd_write_all(fd, buf, len) ? (ssize_t)len : -1;
}

// One Get-Printer-Attributes exchange; the response (caller deletes) or NULL.
static ipp_t *get_attributes(bl_ipp_conn_t *c, char *why, size_t len)
{
    static const char *const attrs[] = {"all", "media-col-database"};
    ipp_t *req = bl_ipp_conn_request(c, IPP_OP_GET_PRINTER_ATTRIBUTES);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL, "blatt");
    ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", 2, NULL, attrs);
    return bl_ipp_conn_do(c, req, why, len);
}

// Drops the attributes of msg whose names cannot be written back, in collections too. An
// attribute is deleted only once the cursor has moved past it (deleting invalidates it).
static void drop_long_names(ipp_t *msg, int depth)
{
    ipp_attribute_t *doomed = NULL;
    for (ipp_attribute_t *a = ippFirstAttribute(msg); a; a = ippNextAttribute(msg)) {
        if (doomed)
            ippDeleteAttribute(msg, doomed);
        doomed = NULL;
        const char *name = ippGetName(a);
        if (name && strlen(name) > MAX_NAME) {
            doomed = a;
        } else if (ippGetValueTag(a) == IPP_TAG_BEGIN_COLLECTION && depth < MAX_NESTING) {
            for (int i = 0; i < ippGetCount(a); i++)
                drop_long_names(ippGetCollection(a, i), depth + 1);
        }
    }
    if (doomed)
        ippDeleteAttribute(msg, doomed);
}

int main(int argc, char **argv)
{
    bl_ipp_conn_t c;
    char why[256];
    bl_drv_signals_init();
    if (argc != 2) {
        bl_drv_msg("ERROR", "usage: probe DEVICE-URI");
        return 1;
    }
    if (!bl_ipp_conn_parse(&c, argv[1], why, sizeof(why))) {
        bl_drv_msg("ERROR", "%s", why);
        return 1;
    }
    c.stall_limit = 30;
    if (!bl_ipp_conn_open(&c, why, sizeof(why))) {
        bl_drv_msg("ERROR", "cannot connect to %s:%d: %s", c.host, c.port, why);
        return 1;
    }
    ipp_t *resp = NULL;
    for (int attempt = 0; attempt < BUSY_RETRIES && !bl_drv_terminated; attempt++) {
        resp = get_attributes(&c, why, sizeof(why));
        ipp_status_t st = resp ? ippGetStatusCode(resp) : IPP_STATUS_OK;
        if (resp && st == IPP_STATUS_ERROR_VERSION_NOT_SUPPORTED && c.version == 20) {
            c.version = 11;
        } else if (resp &&
                   (st == IPP_STATUS_ERROR_BUSY || st == IPP_STATUS_ERROR_SERVICE_UNAVAILABLE)) {
            bl_drv_sleep_ms(500);
        } else {
            break;
        }
        ippDelete(resp);
        resp = NULL;
    }
    if (!resp) {
        bl_drv_msg("ERROR", "no answer from %s:%d: %s", c.host, c.port,
                   bl_drv_terminated ? "canceled" : why);
        bl_ipp_conn_close(&c);
        return 1;
    }
    ipp_status_t st = ippGetStatusCode(resp);
    if (st > IPP_STATUS_OK_EVENTS_COMPLETE) {
        bl_drv_msg("ERROR", "the printer refused Get-Printer-Attributes: %s", ippErrorString(st));
        ippDelete(resp);
        bl_ipp_conn_close(&c);
        return 1;
    }
    int out = STDOUT_FILENO;
    drop_long_names(resp, 0);
    ippSetState(resp, IPP_STATE_IDLE);
    ipp_state_t ws = ippWriteIO(&out, on_ipp_write, 1, NULL, resp);
    ippDelete(resp);
    bl_ipp_conn_close(&c);
    if (ws != IPP_STATE_DATA) {
        bl_drv_msg("ERROR", "cannot write the printer's answer");
        return 1;
    }
    return 0;
}
