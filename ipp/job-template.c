// Job template attributes of Print-Job, Validate-Job and Create-Job, checked against the queue.
// Licensed under the Apache License, Version 2.0.
#include "ipp/ipp-private.h"

#include "server/config.h"

#include <stdio.h>
#include <string.h>

// One string-ish value of a given syntax, or NULL (and the attribute is reported).
static const char *one_string(bl_ipp_req_t *req, ipp_attribute_t *a, ipp_tag_t t1, ipp_tag_t t2,
                              size_t max)
{
    ipp_tag_t t = ippGetValueTag(a);
    const char *s = ippGetString(a, 0, NULL);
    if (ippGetCount(a) != 1 || (t != t1 && t != t2) || !s || strlen(s) > max) {
        bl_ipp_unsupported(req, a);
        return NULL;
    }
    return s;
}

static bool doc_format_ok(bl_printer_t *p, const char *fmt)
{
    if (!strcmp(fmt, "application/octet-stream"))
        return true;
    for (size_t i = 0; i < p->num_formats; i++) {
        if (!strcmp(p->formats[i], fmt))
            return true;
    }
    return false;
}

// Operation attributes: job-name, document-format, compression, job-password...
static bool operation_attrs(bl_ipp_req_t *req, bl_printer_t *p, bl_job_params_t *params)
{
    ipp_attribute_t *a;
    if ((a = ippFindAttribute(req->request, "job-name", IPP_TAG_ZERO))) {
        const char *s = one_string(req, a, IPP_TAG_NAME, IPP_TAG_NAMELANG, 255);
        if (s)
            snprintf(params->name, sizeof(params->name), "%s", s);
    } else if ((a = ippFindAttribute(req->request, "document-name", IPP_TAG_ZERO))) {
        const char *s = one_string(req, a, IPP_TAG_NAME, IPP_TAG_NAMELANG, 255);
        if (s)
            snprintf(params->name, sizeof(params->name), "%s", s);
    }
    if (!bl_ipp_doc_compression(req))
        return false;
    if ((a = ippFindAttribute(req->request, "document-format", IPP_TAG_ZERO))) {
        const char *s = one_string(req, a, IPP_TAG_MIMETYPE, IPP_TAG_MIMETYPE, 127);
        if (!s) {
            bl_ipp_set_status(req, IPP_STATUS_ERROR_BAD_REQUEST, "bad document-format");
            return false;
        }
        if (!doc_format_ok(p, s)) {
            bl_ipp_unsupported(req, a);
            bl_ipp_set_status(req, IPP_STATUS_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED,
                              "document-format %s is not supported", s);
            return false;
        }
        snprintf(params->format, sizeof(params->format), "%s", s);
    }
    return true;
}

// A keyword job template attribute that must be one of name-supported on the queue.
static bool keyword_attr(bl_ipp_req_t *req, bl_printer_t *p, const char *name, char *out,
                         size_t len)
{
    ipp_attribute_t *a = ippFindAttribute(req->request, name, IPP_TAG_ZERO);
    if (!a || ippGetGroupTag(a) != IPP_TAG_JOB)
        return true;
    const char *s = one_string(req, a, IPP_TAG_KEYWORD, IPP_TAG_NAME, len - 1);
    if (!s)
        return false;
    if (!bl_ipp_keyword_ok(s, len - 1) || !bl_printer_supports(p, name, s)) {
        bl_ipp_unsupported(req, a);
        return false;
    }
    snprintf(out, len, "%s", s);
    return true;
}

// One integer (or enum, per `tag`) job template attribute in [lo, hi].
static bool integer_attr(bl_ipp_req_t *req, const char *name, ipp_tag_t tag, int lo, int hi,
                         int *out)
{
    ipp_attribute_t *a = ippFindAttribute(req->request, name, IPP_TAG_ZERO);
    if (!a || ippGetGroupTag(a) != IPP_TAG_JOB)
        return true;
    ipp_tag_t t = ippGetValueTag(a);
    if (ippGetCount(a) != 1 || t != tag || ippGetInteger(a, 0) < lo || ippGetInteger(a, 0) > hi) {
        bl_ipp_unsupported(req, a);
        return false;
    }
    *out = ippGetInteger(a, 0);
    return true;
}

// media-col with a media-size: map it to a media keyword.
static bool media_col_attr(bl_ipp_req_t *req, bl_printer_t *p, bl_job_params_t *params)
{
    ipp_attribute_t *a = ippFindAttribute(req->request, "media-col", IPP_TAG_ZERO);
    if (!a || ippGetGroupTag(a) != IPP_TAG_JOB)
        return true;
    if (ippGetValueTag(a) != IPP_TAG_BEGIN_COLLECTION || ippGetCount(a) != 1) {
        bl_ipp_unsupported(req, a);
        return false;
    }
    ipp_t *col = ippGetCollection(a, 0);
    ipp_attribute_t *size = ippFindAttribute(col, "media-size", IPP_TAG_BEGIN_COLLECTION);
    if (!size)
        return true; // media-source/-type alone: the device default size is kept
    ipp_t *sz = ippGetCollection(size, 0);
    ipp_attribute_t *x = ippFindAttribute(sz, "x-dimension", IPP_TAG_INTEGER);
    ipp_attribute_t *y = ippFindAttribute(sz, "y-dimension", IPP_TAG_INTEGER);
    pwg_media_t *pwg = (x && y) ? pwgMediaForSize(ippGetInteger(x, 0), ippGetInteger(y, 0)) : NULL;
    if (!pwg || !bl_printer_supports(p, "media", pwg->pwg)) {
        bl_ipp_unsupported(req, a);
        return false;
    }
    snprintf(params->media, sizeof(params->media), "%s", pwg->pwg);
    return true;
}

static bool resolution_attr(bl_ipp_req_t *req, bl_job_params_t *params)
{
    ipp_attribute_t *a = ippFindAttribute(req->request, "printer-resolution", IPP_TAG_ZERO);
    if (!a || ippGetGroupTag(a) != IPP_TAG_JOB)
        return true;
    ipp_res_t units = IPP_RES_PER_INCH;
    int yres = 0, xres = 0;
    if (ippGetValueTag(a) == IPP_TAG_RESOLUTION && ippGetCount(a) == 1)
        xres = ippGetResolution(a, 0, &yres, &units);
    if (xres < 72 || xres > 2400 || xres != yres || units != IPP_RES_PER_INCH) {
        bl_ipp_unsupported(req, a);
        return false;
    }
    params->resolution = xres;
    return true;
}

// page-ranges: ascending, non-overlapping 1-based ranges, kept as "1-3,5".
static bool page_ranges_attr(bl_ipp_req_t *req, bl_job_params_t *params)
{
    ipp_attribute_t *a = ippFindAttribute(req->request, "page-ranges", IPP_TAG_ZERO);
    if (!a || ippGetGroupTag(a) != IPP_TAG_JOB)
        return true;
    int n = ippGetCount(a), prev = 0;
    size_t used = 0;
    bool ok = ippGetValueTag(a) == IPP_TAG_RANGE && n >= 1 && n <= 32;
    for (int i = 0; ok && i < n; i++) {
        int upper, lower = ippGetRange(a, i, &upper);
        ok = lower > prev && upper >= lower && upper <= 999999;
        int w = ok ? snprintf(params->page_ranges + used, sizeof(params->page_ranges) - used,
                              "%s%d-%d", i ? "," : "", lower, upper)
                   : 0;
        ok = ok && w > 0 && used + (size_t)w < sizeof(params->page_ranges);
        used += ok ? (size_t)w : 0;
        prev = upper;
    }
    if (!ok) {
        params->page_ranges[0] = '\0';
        bl_ipp_unsupported(req, a);
    }
    return ok;
}

static bool hold_attr(bl_ipp_req_t *req, bl_job_params_t *params)
{
    ipp_attribute_t *a = ippFindAttribute(req->request, "job-hold-until", IPP_TAG_ZERO);
    if (!a || ippGetGroupTag(a) != IPP_TAG_JOB)
        return true;
    const char *s = one_string(req, a, IPP_TAG_KEYWORD, IPP_TAG_NAME, 63);
    if (!s)
        return false;
    if (!strcmp(s, "no-hold"))
        params->hold = false;
    else if (!strcmp(s, "indefinite"))
        params->hold = true;
    else {
        bl_ipp_unsupported(req, a);
        return false;
    }
    return true;
}

// Job attributes we do not honour: unsupported (ignored unless ipp-attribute-fidelity).
static void unknown_job_attrs(bl_ipp_req_t *req, bool *bad)
{
    static const char *const known[] = {"copies",
                                        "sides",
                                        "print-color-mode",
                                        "media",
                                        "media-col",
                                        "printer-resolution",
                                        "print-quality",
                                        "job-hold-until",
                                        "job-priority",
                                        "multiple-document-handling",
                                        "orientation-requested",
                                        "print-scaling",
                                        "print-content-optimize",
                                        "job-sheets",
                                        "page-ranges",
                                        "number-up",
                                        "output-bin",
                                        "finishings",
                                        "print-rendering-intent"};
    for (ipp_attribute_t *a = ippFirstAttribute(req->request); a;
         a = ippNextAttribute(req->request)) {
        if (ippGetGroupTag(a) != IPP_TAG_JOB || !ippGetName(a))
            continue;
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || !strcmp(known[i], ippGetName(a));
        if (!ok) {
            bl_ipp_unsupported(req, a);
            *bad = true;
        }
    }
}

static bool is_mono(const char *mode)
{
    return !strcmp(mode, "monochrome") || !strcmp(mode, "process-monochrome") ||
           !strcmp(mode, "auto-monochrome") || !strcmp(mode, "bi-level") ||
           !strcmp(mode, "process-bi-level");
}

// The requester's rules from blatt-policy.conf (colour, copies, forced sides and colour mode).
// *changed: a value was substituted. false: refused (answered).
static bool apply_rules(bl_ipp_req_t *req, bl_printer_t *p, bl_job_params_t *params, bool fidelity,
                        bool *changed)
{
    bl_job_rules_t rules;
    bl_policy_rules(req->sys->policy, &req->id, &rules);
    char object[160];
    snprintf(object, sizeof(object), "printer %s", p->name);
    if (rules.max_copies && params->copies > rules.max_copies) {
        char why[96];
        snprintf(why, sizeof(why), "you may print at most %d copies", rules.max_copies);
        bl_ipp_deny(req, IPP_STATUS_ERROR_NOT_AUTHORIZED, object, why);
        return false;
    }
    if (rules.force_sides[0] && strcmp(params->sides, rules.force_sides) &&
        bl_printer_supports(p, "sides", rules.force_sides)) {
        snprintf(params->sides, sizeof(params->sides), "%s", rules.force_sides);
        *changed = true;
    }
    if (rules.force_color_mode[0] && strcmp(params->color_mode, rules.force_color_mode) &&
        bl_printer_supports(p, "print-color-mode", rules.force_color_mode)) {
        snprintf(params->color_mode, sizeof(params->color_mode), "%s", rules.force_color_mode);
        *changed = true;
    }
    if (!rules.color_allowed && (!params->color_mode[0] || !is_mono(params->color_mode))) {
        ipp_attribute_t *a = ippFindAttribute(req->request, "print-color-mode", IPP_TAG_ZERO);
        if (a && fidelity) {
            bl_ipp_deny(req, IPP_STATUS_ERROR_NOT_AUTHORIZED, object,
                        "you may not print in colour");
            return false;
        }
        snprintf(params->color_mode, sizeof(params->color_mode), "monochrome");
        *changed = *changed || a != NULL;
    }
    return true;
}

bool bl_ipp_job_params(bl_ipp_req_t *req, bl_printer_t *p, bl_job_params_t *params)
{
    const bl_printer_conf_t *conf = p->conf;
    memset(params, 0, sizeof(*params));
    snprintf(params->name, sizeof(params->name), "Untitled");
    snprintf(params->user, sizeof(params->user), "%s", req->user);
    snprintf(params->user_name, sizeof(params->user_name), "%s", req->user_name);
    snprintf(params->origin_host, sizeof(params->origin_host), "%s", req->address);
    snprintf(params->format, sizeof(params->format), "application/octet-stream");
    params->copies = 1;
    params->hold = conf->release_mode == BL_RELEASE_HOLD;
    // Queue defaults where the device can do them: duplex and monochrome save paper and toner.
    if (bl_printer_supports(p, "sides", conf->default_sides))
        snprintf(params->sides, sizeof(params->sides), "%s", conf->default_sides);
    if (bl_printer_supports(p, "print-color-mode", conf->default_color_mode))
        snprintf(params->color_mode, sizeof(params->color_mode), "%s", conf->default_color_mode);
    if (bl_printer_supports(p, "media", conf->default_media))
        snprintf(params->media, sizeof(params->media), "%s", conf->default_media);

    if (!operation_attrs(req, p, params))
        return false;
    bool bad = false;
    int priority = 50;
    bad |= !integer_attr(req, "copies", IPP_TAG_INTEGER, 1, 999, &params->copies);
    bad |= !integer_attr(req, "print-quality", IPP_TAG_ENUM, 3, 5, &params->quality);
    bad |= !integer_attr(req, "job-priority", IPP_TAG_INTEGER, 1, 100, &priority);
    bad |= !keyword_attr(req, p, "sides", params->sides, sizeof(params->sides));
    bad |=
        !keyword_attr(req, p, "print-color-mode", params->color_mode, sizeof(params->color_mode));
    bad |= !keyword_attr(req, p, "media", params->media, sizeof(params->media));
    bad |= !media_col_attr(req, p, params);
    bad |= !resolution_attr(req, params);
    bad |= !hold_attr(req, params);
    bad |= !page_ranges_attr(req, params);
    unknown_job_attrs(req, &bad);
    if (conf->release_mode == BL_RELEASE_HOLD)
        params->hold = true; // pull printing: the owner releases every job at the printer

    ipp_attribute_t *fid =
        ippFindAttribute(req->request, "ipp-attribute-fidelity", IPP_TAG_BOOLEAN);
    bool fidelity = fid && ippGetBoolean(fid, 0);
    if (bad && fidelity) {
        bl_ipp_set_status(req, IPP_STATUS_ERROR_ATTRIBUTES_OR_VALUES,
                          "some job attributes are not supported");
        return false;
    }
    bool changed = false;
    if (!apply_rules(req, p, params, fidelity, &changed))
        return false;
    if (bad || changed)
        ippSetStatusCode(req->response, IPP_STATUS_OK_IGNORED_OR_SUBSTITUTED);
    return true;
}
