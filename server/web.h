// The small web face of blattd: status page, per-queue pages and the printer icons.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_WEB_H
#define BL_WEB_H

#include "server/http.h"
#include "server/system.h"

// Answers a GET or HEAD request for a page or an icon (404 for anything else).
void bl_web_get(bl_system_t *sys, bl_conn_t *c, const bl_http_request_t *req);
// Frees the cached icons (at exit).
void bl_web_cleanup(void);

#endif
