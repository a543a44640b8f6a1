// The HTTP router: picks the face for each request (IPP now; REST, web and eSCL later).
// Licensed under the Apache License, Version 2.0.
#ifndef BL_ROUTER_H
#define BL_ROUTER_H

#include "server/http.h"

// Handler table for bl_http_server_create(); `app` is the bl_system_t.
const bl_http_handler_t *bl_router_handler(void);

#endif
