// IPP operations on the system (PWG 5100.22 basics) and the CUPS operations CUPS clients need.
// Licensed under the Apache License, Version 2.0.
#include "autoconfig.h"

#include "ipp/ipp-private.h"

#include "server/config.h"

#include <stdio.h>
#include <string.h>

void bl_ipp_get_system_attributes(bl_ipp_req_t *req)
{
    ipp_attribute_t *ra = ippFindAttribute(req->request, "requested-attributes", IPP_TAG_ZERO);
    if (ra && ippGetValueTag(ra) != IPP_TAG_KEYWORD) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST,
                          "requested-attributes must be keywords");
        return;
    }
    bl_system_t *sys = req->sys;
    ipp_t *a = ippNew();
    time_t now = bl_system_now();
    static const int ops[] = {IPP_OP_GET_PRINTERS, IPP_OP_GET_SYSTEM_ATTRIBUTES};
    static const char *const versions[] = {"1.1", "2.0"};
    char uri[1024];
    httpAssembleURI(HTTP_URI_CODING_ALL, uri, sizeof(uri), req->peer.tls ? "ipps" : "ipp", NULL,
                    req->peer.port ? req->host : "localhost", req->peer.port, "/ipp/system");
    ippAddString(a, IPP_TAG_SYSTEM, IPP_TAG_CHARSET, "charset-configured", NULL, "utf-8");
    ippAddString(a, IPP_TAG_SYSTEM, IPP_TAG_CHARSET, "charset-supported", NULL, "utf-8");
    ippAddString(a, IPP_TAG_SYSTEM, IPP_TAG_LANGUAGE, "natural-language-configured", NULL, "en");
    ippAddString(a, IPP_TAG_SYSTEM, IPP_TAG_LANGUAGE, "generated-natural-language-supported", NULL,
                 "en");
    ippAddStrings(a, IPP_TAG_SYSTEM, IPP_TAG_KEYWORD, "ipp-versions-supported", 2, NULL, versions);
    ippAddIntegers(a, IPP_TAG_SYSTEM, IPP_TAG_ENUM, "operations-supported", 2, ops);
    ippAddString(a, IPP_TAG_SYSTEM, IPP_TAG_NAME, "system-name", NULL, sys->server_name);
    ippAddString(a, IPP_TAG_SYSTEM, IPP_TAG_TEXT, "system-make-and-model", NULL,
                 "Blatt " PACKAGE_VERSION);
    ippAddString(a, IPP_TAG_SYSTEM, IPP_TAG_URI, "system-uuid", NULL, sys->uuid);
    ippAddString(a, IPP_TAG_SYSTEM, IPP_TAG_URI, "system-xri-supported", NULL, uri);
    ippAddInteger(a, IPP_TAG_SYSTEM, IPP_TAG_ENUM, "system-state", IPP_PSTATE_IDLE);
    ippAddString(a, IPP_TAG_SYSTEM, IPP_TAG_KEYWORD, "system-state-reasons", NULL, "none");
    // The up-time clock is the Unix time (as in cupsd; see printer-attrs.c).
    ippAddInteger(a, IPP_TAG_SYSTEM, IPP_TAG_INTEGER, "system-up-time", (int)now);
    ippAddDate(a, IPP_TAG_SYSTEM, "system-current-time", ippTimeToDate(now));
    ippAddInteger(a, IPP_TAG_SYSTEM, IPP_TAG_INTEGER, "system-config-change-time",
                  (int)sys->boot_time);
    ippAddInteger(a, IPP_TAG_SYSTEM, IPP_TAG_INTEGER, "system-configured-printers-count",
                  (int)sys->num_printers);
    if (sys->default_printer) {
        bl_ipp_printer_uri(req, sys->default_printer->name, uri, sizeof(uri));
        ippAddString(a, IPP_TAG_SYSTEM, IPP_TAG_URI, "system-default-printer-uri", NULL, uri);
    }
    for (ipp_attribute_t *x = ippFirstAttribute(a); x; x = ippNextAttribute(a)) {
        if (bl_ipp_wants(ra, ippGetName(x), "system-description", true))
            ippCopyAttribute(req->response, x, 0);
    }
    ippDelete(a);
}

// CUPS' printer-type bits that lpstat and print dialogs look at.
static int cups_printer_type(bl_printer_t *p)
{
    int type = 0x4; // CUPS_PRINTER_BW
    if (bl_printer_supports(p, "print-color-mode", "color"))
        type |= 0x8; // CUPS_PRINTER_COLOR
    if (bl_printer_supports(p, "sides", "two-sided-long-edge"))
        type |= 0x10; // CUPS_PRINTER_DUPLEX
    if (p->sys->default_printer == p)
        type |= 0x20000; // CUPS_PRINTER_DEFAULT
    return type;
}

static void add_cups_extras(bl_ipp_req_t *req, bl_printer_t *p, ipp_attribute_t *ra)
{
    if (bl_ipp_wants(ra, "printer-type", "printer-description", true))
        ippAddInteger(req->response, IPP_TAG_PRINTER, IPP_TAG_ENUM, "printer-type",
                      cups_printer_type(p));
}

void bl_ipp_get_printers(bl_ipp_req_t *req)
{
    ipp_attribute_t *ra = ippFindAttribute(req->request, "requested-attributes", IPP_TAG_ZERO);
    if (ra && ippGetValueTag(ra) != IPP_TAG_KEYWORD) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST,
                          "requested-attributes must be keywords");
        return;
    }
    ipp_attribute_t *lim = ippFindAttribute(req->request, "limit", IPP_TAG_INTEGER);
    int limit = lim ? ippGetInteger(lim, 0) : 0;
    ipp_attribute_t *first = ippFindAttribute(req->request, "first-printer-name", IPP_TAG_NAME);
    const char *first_name = first ? ippGetString(first, 0, NULL) : NULL;
    int count = 0;
    bool started = first_name == NULL;
    for (size_t i = 0; i < req->sys->num_printers; i++) {
        bl_printer_t *p = req->sys->printers[i];
        if (!started && first_name && !strcmp(first_name, p->name))
            started = true;
        if (!started)
            continue;
        if (limit > 0 && count >= limit)
            break;
        if (count++)
            ippAddSeparator(req->response);
        bl_ipp_add_printer_attrs(req, p, ra);
        add_cups_extras(req, p, ra);
    }
}

void bl_ipp_cups_get_default(bl_ipp_req_t *req)
{
    bl_printer_t *p = req->sys->default_printer;
    if (!p) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_NOT_FOUND, "no default printer");
        return;
    }
    ipp_attribute_t *ra = ippFindAttribute(req->request, "requested-attributes", IPP_TAG_KEYWORD);
    bl_ipp_add_printer_attrs(req, p, ra);
    add_cups_extras(req, p, ra);
}
