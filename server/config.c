// blattd.conf: the table-driven configuration parser (see blattd.conf(5)).
// Licensed under the Apache License, Version 2.0.
//
// One directive per line, `#` comments, <Printer NAME> blocks. Each directive is a row of
// `directives`: its value type, bounds, the block it may appear in and where it is stored.
// Every error names file:line. The daemon never writes this file.
#include "server/config.h"

#include "server/conffile.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#ifndef BL_PKGLIBEXECDIR
#define BL_PKGLIBEXECDIR "/usr/libexec/blatt"
#endif
#ifndef BL_PKGDATADIR
#define BL_PKGDATADIR "/usr/share/blatt"
#endif
#ifndef BL_LOCALSTATEDIR
#define BL_LOCALSTATEDIR "/var"
#endif

typedef enum vtype {
    T_STRING,  // free text, max `max` bytes
    T_PATH,    // absolute path
    T_INT,     // integer in [min, max]
    T_BOOL,    // Yes/No/On/Off/True/False
    T_SIZE,    // bytes with K/M/G suffix, in [min, max]
    T_SECONDS, // seconds with s/m/h suffix, in [min, max]
    T_LEVEL,   // log level
    T_LISTEN,  // ADDR:PORT, [v6]:PORT, *:PORT or /path
    T_ENUM,    // one of `choices` (|-separated)
    T_URI,     // DeviceURI
    T_KEYWORD, // PWG keyword charset
    T_NAME,    // printer name (DefaultPrinter)
    T_SCHEMES, // authentication scheme words
} vtype_t;

typedef enum scope { S_GLOBAL, S_PRINTER } scope_t;

typedef struct directive {
    const char *name;
    vtype_t type;
    scope_t scope;
    long long min, max;
    const char *choices;
    size_t offset; // into bl_config_t or bl_printer_conf_t
} directive_t;

#define G(f) offsetof(bl_config_t, f)
#define P(f) offsetof(bl_printer_conf_t, f)

static const directive_t directives[] = {
    {"Listen", T_LISTEN, S_GLOBAL, 0, 0, NULL, 0},
    {"LocalSocket", T_PATH, S_GLOBAL, 0, 0, NULL, G(local_socket)},
    {"StateDir", T_PATH, S_GLOBAL, 0, 0, NULL, G(state_dir)},
    {"LogLevel", T_LEVEL, S_GLOBAL, 0, 0, NULL, G(log_level)},
    {"LogFile", T_STRING, S_GLOBAL, 0, 1023, NULL, G(log_file)},
    {"AccessLog", T_STRING, S_GLOBAL, 0, 1023, NULL, G(access_log)},
    {"ServerName", T_STRING, S_GLOBAL, 0, 255, NULL, G(server_name)},
    {"DataDir", T_PATH, S_GLOBAL, 0, 0, NULL, G(data_dir)},
    {"FilterDir", T_PATH, S_GLOBAL, 0, 0, NULL, G(filter_dir)},
    {"BackendDir", T_PATH, S_GLOBAL, 0, 0, NULL, G(backend_dir)},
    {"HelperDir", T_PATH, S_GLOBAL, 0, 0, NULL, G(helper_dir)},
    {"TLSCertificate", T_PATH, S_GLOBAL, 0, 0, NULL, G(tls_certificate)},
    {"TLSKey", T_PATH, S_GLOBAL, 0, 0, NULL, G(tls_key)},
    {"MaxConnections", T_INT, S_GLOBAL, 1, 100000, NULL, G(max_connections)},
    {"MaxHeaderSize", T_SIZE, S_GLOBAL, 1024, 1024 * 1024, NULL, G(max_header_size)},
    {"MaxHeaders", T_INT, S_GLOBAL, 8, 1000, NULL, G(max_headers)},
    {"MaxIPPAttributesSize", T_SIZE, S_GLOBAL, 4096, 64LL * 1024 * 1024, NULL,
     G(max_ipp_attributes_size)},
    {"MaxDocumentSize", T_SIZE, S_GLOBAL, 0, LLONG_MAX, NULL, G(max_document_size)},
    {"RequestTimeout", T_SECONDS, S_GLOBAL, 1, 86400, NULL, G(request_timeout)},
    {"BodyTimeout", T_SECONDS, S_GLOBAL, 1, 86400, NULL, G(body_timeout)},
    {"KeepAliveTimeout", T_SECONDS, S_GLOBAL, 1, 86400, NULL, G(keepalive_timeout)},
    {"FilterTimeout", T_SECONDS, S_GLOBAL, 1, 7 * 86400, NULL, G(filter_timeout)},
    {"JobRetryInterval", T_SECONDS, S_GLOBAL, 1, 86400, NULL, G(job_retry_interval)},
    {"PrinterRefreshInterval", T_SECONDS, S_GLOBAL, 10, 7 * 86400, NULL,
     G(printer_refresh_interval)},
    {"DefaultPrinter", T_NAME, S_GLOBAL, 0, 0, NULL, G(default_printer)},
    {"PreserveJobHistory", T_BOOL, S_GLOBAL, 0, 0, NULL, G(preserve_job_history)},
    {"MaxActiveJobs", T_INT, S_GLOBAL, 1, 10000000, NULL, G(max_active_jobs)},
    {"MultipleOperationTimeout", T_SECONDS, S_GLOBAL, 1, 86400, NULL,
     G(multiple_operation_timeout)},
    {"AuthSchemes", T_SCHEMES, S_GLOBAL, 0, 0, NULL, G(auth_schemes)},
    {"UserFile", T_PATH, S_GLOBAL, 0, 0, NULL, G(user_file)},
    {"PAMService", T_STRING, S_GLOBAL, 0, 63, NULL, G(pam_service)},
    {"OIDCIssuer", T_STRING, S_GLOBAL, 0, 511, NULL, G(oidc_issuer)},
    {"OIDCAudience", T_STRING, S_GLOBAL, 0, 255, NULL, G(oidc_audience)},
    {"OIDCKeys", T_STRING, S_GLOBAL, 0, 1023, NULL, G(oidc_keys)},
    {"OIDCKeysRefresh", T_SECONDS, S_GLOBAL, 10, 7 * 86400, NULL, G(oidc_keys_refresh)},
    {"OIDCKeysMinInterval", T_SECONDS, S_GLOBAL, 1, 86400, NULL, G(oidc_keys_min_interval)},
    {"OIDCFetchTimeout", T_SECONDS, S_GLOBAL, 1, 300, NULL, G(oidc_fetch_timeout)},
    {"OIDCClockSkew", T_SECONDS, S_GLOBAL, 0, 600, NULL, G(oidc_clock_skew)},
    {"OIDCCAFile", T_PATH, S_GLOBAL, 0, 0, NULL, G(oidc_ca_file)},
    {"OIDCGroupClaim", T_STRING, S_GLOBAL, 0, 63, NULL, G(oidc_group_claim)},
    {"OIDCAuthorizationServer", T_STRING, S_GLOBAL, 0, 511, NULL, G(oidc_authorization_server)},
    {"TLSClientCA", T_PATH, S_GLOBAL, 0, 0, NULL, G(tls_client_ca)},
    {"Policy", T_PATH, S_GLOBAL, 0, 0, NULL, G(policy_file)},
    {"AuditSyslog", T_BOOL, S_GLOBAL, 0, 0, NULL, G(audit_syslog)},
    {"AllowPlainRemote", T_BOOL, S_GLOBAL, 0, 0, NULL, G(allow_plain_remote)},
    {"User", T_STRING, S_GLOBAL, 0, 63, NULL, G(user)},
    {"Sandbox", T_BOOL, S_GLOBAL, 0, 0, NULL, G(sandbox)},
    {"SandboxUIDBase", T_INT, S_GLOBAL, 1000, 2147483647LL - 4096, NULL, G(sandbox_uid_base)},
    {"FilterMemoryLimit", T_SIZE, S_GLOBAL, 0, 1LL << 40, NULL, G(filter_memory_limit)},
    {"FilterFileSizeLimit", T_SIZE, S_GLOBAL, 0, 1LL << 40, NULL, G(filter_file_size_limit)},
    {"FilterTmpSize", T_SIZE, S_GLOBAL, 1024 * 1024, 1LL << 40, NULL, G(filter_tmp_size)},
    {"FilterOpenFiles", T_INT, S_GLOBAL, 16, 65536, NULL, G(filter_open_files)},
    {"JobNameRetention", T_SECONDS, S_GLOBAL, 0, 3650LL * 86400, NULL, G(job_name_retention)},
    {"JobRetention", T_SECONDS, S_GLOBAL, 0, 3650LL * 86400, NULL, G(job_retention)},
    {"DeviceURI", T_URI, S_PRINTER, 0, 1023, NULL, P(device_uri)},
    {"Info", T_STRING, S_PRINTER, 0, 127, NULL, P(info)},
    {"Location", T_STRING, S_PRINTER, 0, 127, NULL, P(location)},
    {"MakeAndModel", T_STRING, S_PRINTER, 0, 127, NULL, P(make_model)},
    {"ReleaseMode", T_ENUM, S_PRINTER, 0, 0, "direct|hold", P(release_mode)},
    {"DefaultSides", T_ENUM, S_PRINTER, 0, 0, "one-sided|two-sided-long-edge|two-sided-short-edge",
     P(default_sides)},
    {"DefaultColorMode", T_ENUM, S_PRINTER, 0, 0, "monochrome|color|auto", P(default_color_mode)},
    {"DefaultMedia", T_KEYWORD, S_PRINTER, 0, 127, NULL, P(default_media)},
    {"AcceptingJobs", T_BOOL, S_PRINTER, 0, 0, NULL, P(accepting)},
    {"DocumentFormat", T_ENUM, S_PRINTER, 0, 0, "application/pdf|image/pwg-raster|image/urf",
     P(document_format)},
};

#define NUM_DIRECTIVES (sizeof(directives) / sizeof(directives[0]))

typedef struct parser {
    const char *file;
    int line;
    char *err;
    size_t errlen;
    bl_config_t *c;
    bl_printer_conf_t *printer; // open block
    bl_printer_conf_t *last;
    unsigned char seen_global[NUM_DIRECTIVES];
    unsigned char seen_printer[NUM_DIRECTIVES];
} parser_t;

static bool fail(parser_t *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(parser_t *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bl_conffile_verror(ps->err, ps->errlen, ps->file, ps->line, fmt, ap);
    va_end(ap);
    return false;
}

bl_config_t *bl_config_defaults(void)
{
    bl_config_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->local_socket = strdup("/run/blatt/blattd.sock");
    c->state_dir = strdup(BL_LOCALSTATEDIR "/lib/blatt");
    c->log_file = strdup("stderr");
    c->access_log = strdup("none");
    c->server_name = strdup("");
    c->data_dir = strdup(BL_PKGDATADIR);
    c->filter_dir = strdup(BL_PKGLIBEXECDIR "/filter");
    c->backend_dir = strdup(BL_PKGLIBEXECDIR "/backend");
    c->helper_dir = strdup(BL_PKGLIBEXECDIR);
    c->tls_certificate = strdup("");
    c->tls_key = strdup("");
    c->log_level = BL_LOG_INFO;
    c->max_connections = 4096;
    c->max_headers = 100;
    c->max_header_size = 16 * 1024;
    c->max_ipp_attributes_size = 1024 * 1024;
    c->request_timeout = 30;
    c->body_timeout = 300;
    c->keepalive_timeout = 60;
    c->filter_timeout = 600;
    c->job_retry_interval = 10;
    c->printer_refresh_interval = 3600;
    c->preserve_job_history = true;
    c->max_active_jobs = 100000;
    c->multiple_operation_timeout = 300;
    c->auth_schemes = BL_SCHEME_BASIC | BL_SCHEME_BEARER | BL_SCHEME_CERT;
    c->user_file = strdup("");
    c->pam_service = strdup("");
    c->oidc_issuer = strdup("");
    c->oidc_audience = strdup("");
    c->oidc_keys = strdup("");
    c->oidc_group_claim = strdup("groups");
    c->oidc_authorization_server = strdup("");
    c->oidc_ca_file = strdup("");
    c->oidc_keys_refresh = 3600;
    c->oidc_keys_min_interval = 30;
    c->oidc_fetch_timeout = 10;
    c->oidc_clock_skew = 60;
    c->tls_client_ca = strdup("");
    c->policy_file = strdup("");
    c->user = strdup("blatt");
    c->sandbox = true;
    c->sandbox_uid_base = 2147000000;
    c->filter_memory_limit = (size_t)2 * 1024 * 1024 * 1024;
    c->filter_file_size_limit = (size_t)1024 * 1024 * 1024;
    c->filter_tmp_size = (size_t)512 * 1024 * 1024;
    c->filter_open_files = 256;
    c->job_name_retention = 7 * 86400;
    c->job_retention = 400 * 86400;
    if (!c->local_socket || !c->state_dir || !c->log_file || !c->access_log || !c->server_name ||
        !c->data_dir || !c->filter_dir || !c->backend_dir || !c->helper_dir ||
        !c->tls_certificate || !c->tls_key || !c->user_file || !c->pam_service || !c->oidc_issuer ||
        !c->oidc_audience || !c->oidc_keys || !c->oidc_group_claim ||
        !c->oidc_authorization_server || !c->oidc_ca_file || !c->tls_client_ca || !c->policy_file ||
        !c->user) {
        bl_config_delete(c);
        return NULL;
    }
    return c;
}

static bl_printer_conf_t *printer_new(const char *name, int line)
{
    bl_printer_conf_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->name = strdup(name);
    p->default_sides = strdup("two-sided-long-edge");
    p->default_color_mode = strdup("monochrome");
    p->default_media = strdup("iso_a4_210x297mm");
    p->document_format = strdup("application/pdf");
    p->accepting = true;
    p->line = line;
    return p;
}

static void printer_free(bl_printer_conf_t *p)
{
    free(p->name);
    free(p->device_uri);
    free(p->info);
    free(p->location);
    free(p->make_model);
    free(p->default_sides);
    free(p->default_color_mode);
    free(p->default_media);
    free(p->document_format);
    free(p);
}

void bl_config_delete(bl_config_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->num_listen; i++) {
        free(c->listen[i].host);
        free(c->listen[i].path);
    }
    free(c->listen);
    char **strs[] = {&c->local_socket,
                     &c->state_dir,
                     &c->log_file,
                     &c->access_log,
                     &c->server_name,
                     &c->data_dir,
                     &c->filter_dir,
                     &c->backend_dir,
                     &c->helper_dir,
                     &c->tls_certificate,
                     &c->tls_key,
                     &c->default_printer,
                     &c->user_file,
                     &c->pam_service,
                     &c->oidc_issuer,
                     &c->oidc_audience,
                     &c->oidc_keys,
                     &c->oidc_group_claim,
                     &c->oidc_authorization_server,
                     &c->oidc_ca_file,
                     &c->tls_client_ca,
                     &c->policy_file,
                     &c->user};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(*strs[i]);
    while (c->printers) {
        bl_printer_conf_t *n = c->printers->next;
        printer_free(c->printers);
        c->printers = n;
    }
    free(c);
}

const bl_printer_conf_t *bl_config_find_printer(const bl_config_t *c, const char *name)
{
    for (const bl_printer_conf_t *p = c->printers; p; p = p->next) {
        if (!strcmp(p->name, name))
            return p;
    }
    return NULL;
}

static bool valid_printer_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 127)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
            return false;
    }
    return true;
}

static bool valid_keyword(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 1 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && !strchr("_.-", s[i]))
            return false;
    }
    return true;
}

// A PWG self-describing media name: class_name_WIDTHxHEIGHTunit (PWG 5101.1).
static bool media_name_ok(const char *s)
{
    const char *last = strrchr(s, '_');
    if (!valid_keyword(s, 127) || !last || last == s || !strchr(s, '_') || strchr(s, '_') == last)
        return false;
    const char *x = strchr(last + 1, 'x');
    size_t n = strlen(s);
    bool unit = n > 2 && (!strcmp(s + n - 2, "mm") || !strcmp(s + n - 2, "in"));
    return x && x > last + 1 && isdigit((unsigned char)last[1]) && isdigit((unsigned char)x[1]) &&
           unit;
}

// Parses a number with an optional unit suffix; `units` maps suffix letters to multipliers.
static bool parse_scaled(const char *v, const char *units, const long long *mult, long long *out)
{
    errno = 0;
    char *end = NULL;
    if (!isdigit((unsigned char)*v))
        return false;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v)
        return false;
    long long m = 1;
    if (*end) {
        const char *u = strchr(units, tolower((unsigned char)*end));
        if (!u || end[1])
            return false;
        m = mult[u - units];
    }
    if (n > LLONG_MAX / m)
        return false;
    *out = n * m;
    return true;
}

// The scheme words of Listen and AuthSchemes ("basic bearer cert trust") as bits.
static bool parse_schemes(parser_t *ps, const char *words, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"basic", BL_SCHEME_BASIC},
                 {"bearer", BL_SCHEME_BEARER},
                 {"cert", BL_SCHEME_CERT},
                 {"trust", BL_SCHEME_TRUST}};
    *out = 0;
    for (const char *w = words; *w;) {
        w += strspn(w, " \t");
        size_t n = strcspn(w, " \t");
        if (!n)
            break;
        bool found = false;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (strlen(names[i].name) == n && !strncasecmp(w, names[i].name, n)) {
                *out |= names[i].bit;
                found = true;
            }
        }
        if (!found)
            return fail(ps, "unknown authentication scheme \"%.*s\" (basic, bearer, cert, trust)",
                        (int)n, w);
        w += n;
    }
    return true;
}

static bool loopback_host(const char *h)
{
    return !strcmp(h, "localhost") || !strncmp(h, "127.", 4) || !strcmp(h, "::1");
}

// Listen ADDR:PORT | [V6]:PORT | /path [SCHEMES...]
static bool parse_listen(parser_t *ps, const char *value)
{
    bl_config_t *c = ps->c;
    bl_listen_conf_t l = {0};
    char v[1100];
    size_t al = strcspn(value, " \t");
    if (al >= sizeof(v))
        return fail(ps, "Listen address too long");
    memcpy(v, value, al);
    v[al] = '\0';
    if (!parse_schemes(ps, value + al, &l.schemes))
        return false;
    if (v[0] == '/') {
        l.path = strdup(v);
    } else {
        const char *colon = strrchr(v, ':');
        const char *host_end = colon;
        const char *host = v;
        if (v[0] == '[') {
            const char *rb = strchr(v, ']');
            if (!rb || rb[1] != ':')
                return fail(ps, "bad Listen address \"%s\"", v);
            host = v + 1;
            host_end = rb;
            colon = rb + 1;
        }
        if (!colon || colon == v)
            return fail(ps, "Listen needs ADDR:PORT or an absolute socket path, got \"%s\"", v);
        char *end = NULL;
        errno = 0;
        long port = strtol(colon + 1, &end, 10);
        if (errno || !end || *end || end == colon + 1 || port < 0 || port > 65535)
            return fail(ps, "bad port in Listen \"%s\"", v);
        l.port = (int)port;
        l.host = strndup(host, (size_t)(host_end - host));
        if (l.host && !*l.host)
            return free(l.host), fail(ps, "missing address in Listen \"%s\"", v);
    }
    if ((!l.path && !l.host)) {
        return fail(ps, "out of memory");
    }
    // Believing requesting-user-name is only ever acceptable for this machine's own users.
    if ((l.schemes & BL_SCHEME_TRUST) && l.host && !loopback_host(l.host)) {
        free(l.host);
        return fail(ps, "trust is allowed on loopback listeners only");
    }
    bl_listen_conf_t *n = realloc(c->listen, (c->num_listen + 1) * sizeof(*n));
    if (!n) {
        free(l.host);
        free(l.path);
        return fail(ps, "out of memory");
    }
    c->listen = n;
    c->listen[c->num_listen++] = l;
    return true;
}

static bool set_string(parser_t *ps, char **slot, const char *v)
{
    char *s = strdup(v);
    if (!s)
        return fail(ps, "out of memory");
    free(*slot);
    *slot = s;
    return true;
}

// Checks and stores one value according to its row in the table.
static bool set_value(parser_t *ps, const directive_t *d, void *base, const char *v)
{
    static const long long size_mult[] = {1024, 1024 * 1024, 1024LL * 1024 * 1024};
    static const long long sec_mult[] = {1, 60, 3600, 86400};
    char *slot = (char *)base + d->offset;
    long long n;
    switch (d->type) {
    case T_LISTEN:
        return parse_listen(ps, v);
    case T_SCHEMES:
        return parse_schemes(ps, v, (unsigned *)(void *)slot);
    case T_PATH:
        if (v[0] != '/' || strlen(v) > 1023)
            return fail(ps, "%s must be an absolute path", d->name);
        return set_string(ps, (char **)(void *)slot, v);
    case T_STRING:
        if (strlen(v) > (size_t)d->max)
            return fail(ps, "%s is longer than %lld bytes", d->name, d->max);
        return set_string(ps, (char **)(void *)slot, v);
    case T_NAME:
        if (!valid_printer_name(v))
            return fail(ps, "invalid printer name \"%s\"", v);
        return set_string(ps, (char **)(void *)slot, v);
    case T_KEYWORD:
        if (!valid_keyword(v, (size_t)d->max))
            return fail(ps, "%s: \"%s\" is not a keyword (a-z, 0-9, _ . -)", d->name, v);
        if (d->offset == P(default_media) && !media_name_ok(v))
            return fail(ps, "%s: \"%s\" is not a PWG media name such as iso_a4_210x297mm", d->name,
                        v);
        return set_string(ps, (char **)(void *)slot, v);
    case T_URI: {
        size_t len = strlen(v);
        if (len > (size_t)d->max)
            return fail(ps, "DeviceURI is longer than %lld bytes", d->max);
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)v[i] <= 0x20 || v[i] == 0x7f)
                return fail(ps, "DeviceURI contains a space or control character");
        }
        if (!strncmp(v, "file:", 5) && strncmp(v, "file://", 7))
            return fail(ps, "a file DeviceURI must be file:///absolute/directory");
        if (strncmp(v, "ipp://", 6) && strncmp(v, "ipps://", 7) && strncmp(v, "socket://", 9) &&
            strncmp(v, "file://", 7))
            return fail(ps, "DeviceURI scheme must be ipp, ipps, socket or file");
        if (!strncmp(v, "file://", 7) &&
            (v[7] != '/' || strstr(v, "/../") || (len >= 3 && !strcmp(v + len - 3, "/.."))))
            return fail(ps, "a file DeviceURI must be file:///absolute/directory");
        if (strncmp(v, "file://", 7) && strlen(strstr(v, "://") + 3) == 0)
            return fail(ps, "DeviceURI has no host");
        return set_string(ps, (char **)(void *)slot, v);
    }
    case T_INT:
    case T_SIZE:
    case T_SECONDS:
        if (!parse_scaled(v,
                          d->type == T_INT    ? ""
                          : d->type == T_SIZE ? "kmg"
                                              : "smhd",
                          d->type == T_SECONDS ? sec_mult : size_mult, &n))
            return fail(ps, "%s: bad number \"%s\"", d->name, v);
        if (n < d->min || n > d->max)
            return fail(ps, "%s: %s is out of range (%lld..%lld)", d->name, v, d->min, d->max);
        if (d->type == T_SIZE && d->offset == G(max_document_size))
            *(uint64_t *)(void *)slot = (uint64_t)n;
        else if (d->type == T_SIZE)
            *(size_t *)(void *)slot = (size_t)n;
        else
            *(int *)(void *)slot = (int)n;
        return true;
    case T_BOOL:
        if (!strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcasecmp(v, "true"))
            *(bool *)(void *)slot = true;
        else if (!strcasecmp(v, "no") || !strcasecmp(v, "off") || !strcasecmp(v, "false"))
            *(bool *)(void *)slot = false;
        else
            return fail(ps, "%s must be Yes or No, got \"%s\"", d->name, v);
        return true;
    case T_LEVEL:
        if (!bl_log_level_parse(v, (bl_log_level_t *)(void *)slot))
            return fail(ps, "LogLevel must be error, warn, info or debug, got \"%s\"", v);
        return true;
    case T_ENUM: {
        size_t vl = strlen(v);
        int index = 0;
        for (const char *c = d->choices; *c; index++) {
            size_t n2 = strcspn(c, "|");
            if (n2 == vl && !strncmp(c, v, vl)) {
                if (d->offset == P(release_mode))
                    *(bl_release_mode_t *)(void *)slot = (bl_release_mode_t)index;
                else
                    return set_string(ps, (char **)(void *)slot, v);
                return true;
            }
            c += n2 + (c[n2] == '|');
        }
        return fail(ps, "%s: \"%s\" is not one of %s", d->name, v, d->choices);
    }
    }
    return fail(ps, "internal error");
}

static bool open_block(parser_t *ps, char *line)
{
    size_t n = strlen(line);
    if (line[n - 1] != '>')
        return fail(ps, "block line must end with '>'");
    line[n - 1] = '\0';
    char *name = line + 1;
    char *arg = name + strcspn(name, " \t");
    if (*arg)
        *arg++ = '\0';
    arg += strspn(arg, " \t");
    char *end = arg + strlen(arg);
    while (end > arg && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    if (strcasecmp(name, "Printer"))
        return fail(ps, "unknown block <%s>", name);
    if (ps->printer)
        return fail(ps, "<Printer> blocks cannot nest");
    if (!valid_printer_name(arg))
        return fail(ps, "invalid printer name \"%s\" (1-127 of A-Z a-z 0-9 _ . -)", arg);
    if (bl_config_find_printer(ps->c, arg))
        return fail(ps, "duplicate printer name \"%s\"", arg);
    bl_printer_conf_t *p = printer_new(arg, ps->line);
    if (!p || !p->name || !p->default_sides || !p->default_color_mode || !p->default_media ||
        !p->document_format) {
        if (p)
            printer_free(p);
        return fail(ps, "out of memory");
    }
    if (ps->last)
        ps->last->next = p;
    else
        ps->c->printers = p;
    ps->last = p;
    ps->c->num_printers++;
    ps->printer = p;
    memset(ps->seen_printer, 0, sizeof(ps->seen_printer));
    return true;
}

static bool close_block(parser_t *ps, const char *line)
{
    if (strcasecmp(line, "</Printer>"))
        return fail(ps, "unknown block end %s", line);
    if (!ps->printer)
        return fail(ps, "</Printer> without <Printer>");
    if (!ps->printer->device_uri)
        return fail(ps, "printer \"%s\" has no DeviceURI", ps->printer->name);
    ps->printer = NULL;
    return true;
}

static bool parse_line(void *ctx, int number, char *line)
{
    parser_t *ps = ctx;
    ps->line = number;
    line = bl_conffile_trim(line);
    if (!*line)
        return true;
    if (line[0] == '<')
        return line[1] == '/' ? close_block(ps, line) : open_block(ps, line);
    char *value = bl_conffile_value(line);
    for (size_t i = 0; i < NUM_DIRECTIVES; i++) {
        const directive_t *d = &directives[i];
        if (strcasecmp(d->name, line))
            continue;
        scope_t here = ps->printer ? S_PRINTER : S_GLOBAL;
        if (d->scope != here)
            return fail(ps, "%s is not allowed %s", d->name,
                        here == S_PRINTER ? "inside <Printer>" : "outside <Printer>");
        if (!*value)
            return fail(ps, "%s needs a value", d->name);
        unsigned char *seen = here == S_PRINTER ? ps->seen_printer : ps->seen_global;
        if (seen[i] && d->type != T_LISTEN)
            return fail(ps, "%s given twice", d->name);
        seen[i] = 1;
        return set_value(ps, d, here == S_PRINTER ? (void *)ps->printer : (void *)ps->c, value);
    }
    return fail(ps, "unknown directive \"%s\"", line);
}

// An https URL, or an http one to loopback, without white space or control characters (the
// URL itself is checked in full when blattd starts).
static bool http_url(const char *s)
{
    bool plain = !strncasecmp(s, "http://", 7);
    if (strncasecmp(s, "https://", 8) && !plain)
        return false;
    const char *host = s + (plain ? 7 : 8);
    size_t hl = strcspn(host, ":/?");
    bool v4 = hl > 4 && !strncmp(host, "127.", 4) && strspn(host, "0123456789.") == hl;
    if (plain &&
        !(v4 || (hl == 9 && !strncasecmp(host, "localhost", 9)) || !strncmp(host, "[::1]", 5)))
        return false;
    for (; *s; s++) {
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return false;
    }
    return true;
}

// The OIDC directives fit together: an issuer URL with an audience; keys from a file or URL.
static bool oidc_ok(parser_t *ps)
{
    const bl_config_t *c = ps->c;
    if (c->oidc_issuer[0] && !http_url(c->oidc_issuer))
        return fail(ps, "OIDCIssuer must be an https:// URL (http:// on loopback only)");
    if (c->oidc_issuer[0] && !c->oidc_audience[0])
        return fail(ps, "OIDCIssuer needs OIDCAudience (what the tokens for blattd say in aud)");
    if (c->oidc_keys[0] && c->oidc_keys[0] != '/' && !http_url(c->oidc_keys))
        return fail(ps, "OIDCKeys must be an absolute path or an https:// URL (http:// on "
                        "loopback only)");
    if (c->oidc_keys[0] && !c->oidc_issuer[0])
        return fail(ps, "OIDCKeys needs OIDCIssuer (the iss every token must have)");
    return true;
}

static bool finish(parser_t *ps)
{
    bl_config_t *c = ps->c;
    if (ps->printer)
        return fail(ps, "<Printer %s> is not closed", ps->printer->name);
    if (c->default_printer && !bl_config_find_printer(c, c->default_printer))
        return fail(ps, "DefaultPrinter \"%s\" is not a defined printer", c->default_printer);
    if (!oidc_ok(ps))
        return false;
    // The sandbox gives every stage /tmp, /var/tmp, /dev/shm and /run/lock read-only (and a
    // private TMPDIR): a file queue there could never be written.
    static const char *const shared_tmp[] = {"/tmp", "/var/tmp", "/dev/shm", "/run/lock"};
    for (const bl_printer_conf_t *p = c->printers; c->sandbox && p; p = p->next) {
        const char *uri = p->device_uri;
        if (!uri || strncmp(uri, "file://", 7))
            continue;
        for (size_t k = 0; k < sizeof(shared_tmp) / sizeof(shared_tmp[0]); k++) {
            size_t n = strlen(shared_tmp[k]);
            if (!strncmp(uri + 7, shared_tmp[k], n) && (uri[7 + n] == '/' || !uri[7 + n])) {
                ps->line = p->line;
                return fail(ps,
                            "<Printer %s>: a file queue cannot live under %s: the sandbox "
                            "makes it read-only for the backend (use a directory elsewhere)",
                            p->name, shared_tmp[k]);
            }
        }
    }
    if (c->num_listen == 0) {
        c->listen = calloc(1, sizeof(*c->listen));
        if (!c->listen || !(c->listen[0].host = strdup("localhost")))
            return fail(ps, "out of memory");
        c->listen[0].port = 631;
        c->num_listen = 1;
    }
    return true;
}

bl_config_t *bl_config_parse(const char *text, size_t len, const char *filename, char *err,
                             size_t errlen)
{
    parser_t ps = {.file = filename ? filename : "(config)", .err = err, .errlen = errlen};
    if (errlen)
        err[0] = '\0';
    ps.c = bl_config_defaults();
    if (!ps.c) {
        snprintf(err, errlen, "%s: out of memory", ps.file);
        return NULL;
    }
    if (!bl_conffile_lines(text, len, ps.file, err, errlen, parse_line, &ps) || !finish(&ps)) {
        bl_config_delete(ps.c);
        return NULL;
    }
    return ps.c;
}

bl_config_t *bl_config_load(const char *path, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    if (!bl_conffile_read(path, &buf, &len, err, errlen))
        return NULL;
    bl_config_t *c = bl_config_parse(buf, len, path, err, errlen);
    free(buf);
    return c;
}
