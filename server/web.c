// The small web face of blattd: status page, per-queue pages and the printer icons.
// Licensed under the Apache License, Version 2.0.
//
// Pages show queue state only (no job names, no user names). Every string that reaches HTML
// is escaped, and every page carries a strict Content-Security-Policy.
#include "autoconfig.h"

#include "server/web.h"

#include "server/config.h"
#include "server/log.h"
#include "server/printer.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ICON_MAX (1024 * 1024)

static const char security_headers[] =
    "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "frame-ancestors 'none'\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
    "Cache-Control: no-store\r\n";

typedef struct icon {
    const char *suffix; // "", "-sm", "-lg"
    uint8_t *data;
    size_t len;
    bool tried;
} icon_t;

static icon_t icons[] = {{"", NULL, 0, false}, {"-sm", NULL, 0, false}, {"-lg", NULL, 0, false}};

// Adds text to an HTML page with &<>"' escaped.
static void html_text(struct evbuffer *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            evbuffer_add(b, "&amp;", 5);
            break;
        case '<':
            evbuffer_add(b, "&lt;", 4);
            break;
        case '>':
            evbuffer_add(b, "&gt;", 4);
            break;
        case '"':
            evbuffer_add(b, "&quot;", 6);
            break;
        case '\'':
            evbuffer_add(b, "&#39;", 5);
            break;
        default:
            evbuffer_add(b, s, 1);
            break;
        }
    }
}

static void page_start(struct evbuffer *b, const char *title)
{
    evbuffer_add_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                           "<title>");
    html_text(b, title);
    evbuffer_add_printf(b, "</title><style>body{font-family:sans-serif;margin:2em}"
                           "td,th{padding:.2em 1em;text-align:left}</style></head><body><h1>");
    html_text(b, title);
    evbuffer_add_printf(b, "</h1>\n");
}

static void page_send(bl_conn_t *c, int status, struct evbuffer *b)
{
    evbuffer_add_printf(b, "<p><small>Blatt %s</small></p></body></html>\n", PACKAGE_VERSION);
    bl_conn_respond(c, status, "text/html; charset=utf-8", b, security_headers);
}

static const char *state_name(const bl_printer_t *p)
{
    return p->state == BL_PRINTER_IDLE         ? "idle"
           : p->state == BL_PRINTER_PROCESSING ? "printing"
                                               : "stopped";
}

static void queue_row(struct evbuffer *b, const bl_printer_t *p)
{
    evbuffer_add_printf(b, "<tr><td><a href=\"/printers/");
    html_text(b, p->name);
    evbuffer_add_printf(b, "\">");
    html_text(b, p->name);
    evbuffer_add_printf(b, "</a></td><td>");
    html_text(b, p->conf->info ? p->conf->info : "");
    evbuffer_add_printf(b, "</td><td>%s</td><td>%d</td><td>", state_name(p),
                        bl_printer_queued_jobs(p));
    for (size_t i = 0; i < p->num_reasons; i++) {
        html_text(b, p->reasons[i]);
        evbuffer_add_printf(b, " ");
    }
    evbuffer_add_printf(b, "</td></tr>\n");
}

static void status_page(bl_system_t *sys, bl_conn_t *c)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        bl_conn_respond_text(c, 503, "out of memory");
        return;
    }
    page_start(b, sys->server_name);
    evbuffer_add_printf(b, "<table><tr><th>Queue</th><th>Description</th><th>State</th>"
                           "<th>Jobs</th><th>Reasons</th></tr>\n");
    for (size_t i = 0; i < sys->num_printers; i++)
        queue_row(b, sys->printers[i]);
    evbuffer_add_printf(b, "</table>\n");
    page_send(c, 200, b);
    evbuffer_free(b);
}

// The supplies the device reported (already sanitised text).
static void supplies(struct evbuffer *b, const bl_printer_t *p)
{
    ipp_attribute_t *d =
        p->caps ? ippFindAttribute(p->caps, "printer-supply-description", IPP_TAG_ZERO) : NULL;
    if (!d)
        return;
    evbuffer_add_printf(b, "<h2 id=\"supplies\">Supplies</h2><ul>\n");
    for (int i = 0; i < ippGetCount(d); i++) {
        evbuffer_add_printf(b, "<li>");
        html_text(b, ippGetString(d, i, NULL));
        evbuffer_add_printf(b, "</li>\n");
    }
    evbuffer_add_printf(b, "</ul>\n");
}

// The host (and port) the client used, for URIs shown on pages; host-name characters only.
static void page_host(const bl_http_request_t *req, char *buf, size_t len)
{
    const char *h = bl_http_request_header(req, "Host");
    snprintf(buf, len, "%s", h && *h && strlen(h) < len ? h : "localhost");
    for (char *p = buf; *p; p++) {
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]", *p)) {
            snprintf(buf, len, "localhost");
            return;
        }
    }
}

static void printer_page(bl_system_t *sys, bl_conn_t *c, const bl_http_request_t *req,
                         const char *name)
{
    bl_printer_t *p = bl_system_find_printer(sys, name);
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        bl_conn_respond_text(c, 503, "out of memory");
        return;
    }
    if (!p) {
        page_start(b, "No such printer");
        page_send(c, 404, b);
        evbuffer_free(b);
        return;
    }
    page_start(b, p->name);
    evbuffer_add_printf(b, "<table><tr><th>Description</th><td>");
    html_text(b, p->conf->info ? p->conf->info : "");
    evbuffer_add_printf(b, "</td></tr><tr><th>Location</th><td>");
    html_text(b, p->conf->location ? p->conf->location : "");
    evbuffer_add_printf(b, "</td></tr><tr><th>State</th><td>%s ", state_name(p));
    html_text(b, p->message ? p->message : "");
    evbuffer_add_printf(b,
                        "</td></tr><tr><th>Jobs waiting</th><td>%d</td></tr>"
                        "<tr><th>Release</th><td>%s</td></tr></table>\n",
                        bl_printer_queued_jobs(p),
                        p->conf->release_mode == BL_RELEASE_HOLD ? "at the printer (hold)"
                                                                 : "direct");
    char host[256];
    page_host(req, host, sizeof(host));
    evbuffer_add_printf(b, "<p>Add this printer as an IPP Everywhere printer: <code>ipps://");
    html_text(b, host);
    evbuffer_add_printf(b, "/ipp/print/");
    html_text(b, p->name);
    evbuffer_add_printf(b, "</code></p>\n");
    supplies(b, p);
    page_send(c, 200, b);
    evbuffer_free(b);
}

// Loads an icon from DataDir/icons once; later requests use the copy in memory.
static const icon_t *load_icon(bl_system_t *sys, const char *suffix)
{
    for (size_t i = 0; i < sizeof(icons) / sizeof(icons[0]); i++) {
        icon_t *ic = &icons[i];
        if (strcmp(ic->suffix, suffix))
            continue;
        if (!ic->tried) {
            ic->tried = true;
            char path[1200];
            snprintf(path, sizeof(path), "%s/icons/printer%s.png", sys->config->data_dir, suffix);
            FILE *fp = fopen(path, "rb");
            ic->data = fp ? malloc(ICON_MAX) : NULL;
            ic->len = ic->data ? fread(ic->data, 1, ICON_MAX, fp) : 0;
            if (fp)
                fclose(fp);
            if (!ic->len)
                bl_log(BL_LOG_WARN, "web: icon %s is missing", path);
        }
        return ic->len ? ic : NULL;
    }
    return NULL;
}

// /icons/NAME.png, /icons/NAME-sm.png, /icons/NAME-lg.png
static void icon(bl_system_t *sys, bl_conn_t *c, const char *file)
{
    size_t n = strlen(file);
    const char *suffix = "";
    char name[160];
    if (n < 5 || n >= sizeof(name) || strcmp(file + n - 4, ".png")) {
        bl_conn_respond_text(c, 404, "not found");
        return;
    }
    memcpy(name, file, n - 4);
    name[n - 4] = '\0';
    size_t nl = strlen(name);
    if (nl > 3 && (!strcmp(name + nl - 3, "-sm") || !strcmp(name + nl - 3, "-lg"))) {
        suffix = !strcmp(name + nl - 3, "-sm") ? "-sm" : "-lg";
        name[nl - 3] = '\0';
    }
    const icon_t *ic = bl_system_find_printer(sys, name) ? load_icon(sys, suffix) : NULL;
    if (!ic) {
        bl_conn_respond_text(c, 404, "not found");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        bl_conn_respond_text(c, 503, "out of memory");
        return;
    }
    evbuffer_add_reference(b, ic->data, ic->len, NULL, NULL);
    bl_conn_respond(c, 200, "image/png", b, "Cache-Control: max-age=86400\r\n");
    evbuffer_free(b);
}

void bl_web_get(bl_system_t *sys, bl_conn_t *c, const bl_http_request_t *req)
{
    const char *path = req->path;
    if (!strcmp(path, "/"))
        status_page(sys, c);
    else if (!strncmp(path, "/printers/", 10) && path[10] && !strchr(path + 10, '/'))
        printer_page(sys, c, req, path + 10);
    else if (!strncmp(path, "/icons/", 7) && !strchr(path + 7, '/'))
        icon(sys, c, path + 7);
    else
        bl_conn_respond_text(c, 404, "not found");
}

void bl_web_cleanup(void)
{
    for (size_t i = 0; i < sizeof(icons) / sizeof(icons[0]); i++) {
        free(icons[i].data);
        icons[i] = (icon_t){icons[i].suffix, NULL, 0, false};
    }
}
