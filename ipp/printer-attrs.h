// The IPP Everywhere description of a Blatt queue, built from its config and device caps.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_PRINTER_ATTRS_H
#define BL_PRINTER_ATTRS_H

#include <cups/ipp.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

// What the queue says about itself (all strings borrowed for the call).
typedef struct bl_queue_info {
    const char *name;
    const char *info;
    const char *location;
    const char *make_model;  // NULL: "<device make-and-model> via Blatt" or "Blatt virtual printer"
    const char *uuid;        // urn:uuid:...
    const char *const *uris; // printer-uri-supported, parallel to uri_security
    const char *const *uri_security;
    const char *uri_authentication; // for every URI: none, basic, oauth, certificate, ...
    size_t num_uris;
    const char *oauth_authorization_server; // oauth-authorization-server-uri, NULL = none
    const char *const *formats; // document-format-supported (what the format graph can take)
    size_t num_formats;
    const char *default_sides; // queue defaults, used only where caps support them
    const char *default_color_mode;
    const char *default_media;
    bool hold_by_default; // ReleaseMode hold: job-hold-until-default = indefinite
    const char *more_info_uri;
    const char *icons_base; // "http://host:port/icons/NAME" -> -sm.png, .png, -lg.png
    const char *supply_info_uri;
    int multiple_operation_timeout; // seconds (0: 300)
} bl_queue_info_t;

// The attributes that change while the queue runs.
typedef struct bl_queue_state {
    int state; // ipp_pstate_t
    const char *const *reasons;
    size_t num_reasons;
    bool accepting;
    int queued_job_count;
    time_t state_change_time, config_change_time, boot_time, now;
    const char *message;
} bl_queue_state_t;

// The static printer description (printer group) of a queue over sanitised device caps (may be
// NULL while unknown). Caller owns the result.
ipp_t *bl_printer_attrs_build(const bl_queue_info_t *q, ipp_t *caps);
// Adds the dynamic attributes (printer-state, -reasons, -message, times, queued-job-count...).
// Adds the state attributes that ra asks for (NULL: all) straight to dst: a temporary ipp_t
// would make libcups free and re-create their names in its global string pool for every queue
// (CUPS-Get-Printers over 1000 queues spent 36 % of its time there).
void bl_printer_attrs_add_state(ipp_t *dst, const bl_queue_state_t *s, ipp_attribute_t *ra);
// Copies the attributes of src that requested-attributes `ra` asks for into dst (printer group).
// ra NULL means "all" minus media-col-database; group names all, printer-description and
// job-template expand; media-col-database only when named.
void bl_ipp_copy_requested(ipp_t *dst, ipp_t *src, ipp_attribute_t *ra);
// Whether requested-attributes ra names `name` (a set built once per request: O(log n)).
bool bl_ipp_ra_has(ipp_attribute_t *ra, const char *name);
// Whether ra names `name`, "all" or `group` (a string constant: its answer is kept while the
// same group is asked about).
bool bl_ipp_ra_wants(ipp_attribute_t *ra, const char *name, const char *group);
// Forgets the cached set: called when a new request starts (its ra may reuse an address).
void bl_ipp_ra_reset(void);

#endif
