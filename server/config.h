// blattd.conf: the parsed configuration of blattd and the blatt tool (see blattd.conf(5)).
// Licensed under the Apache License, Version 2.0.
#ifndef BL_CONFIG_H
#define BL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/auth.h"
#include "server/log.h"

typedef enum bl_release_mode {
    BL_RELEASE_DIRECT = 0, // jobs print as soon as they are spooled
    BL_RELEASE_HOLD = 1,   // pull printing: every job waits until its owner releases it
} bl_release_mode_t;

// One Listen directive: a TCP address (host + port) or a Unix socket path.
typedef struct bl_listen_conf {
    char *host; // "*", "localhost", "127.0.0.1", "::1", ... (NULL for a socket path)
    int port;
    char *path;       // absolute socket path (NULL for TCP)
    unsigned schemes; // BL_SCHEME_* accepted here; 0 = AuthSchemes
} bl_listen_conf_t;

// One <Printer NAME> block.
typedef struct bl_printer_conf {
    struct bl_printer_conf *next;
    char *name;
    char *device_uri;
    char *info;       // NULL = the name
    char *location;   // NULL = ""
    char *make_model; // NULL = from the device
    bl_release_mode_t release_mode;
    char *default_sides;
    char *default_color_mode;
    char *default_media;
    char *document_format; // what a file or socket device takes (an IPP device says itself)
    bool accepting;
    int line; // where the block starts (for messages)
} bl_printer_conf_t;

// The whole file. Strings are owned (strdup) and never NULL unless documented.
typedef struct bl_config {
    bl_listen_conf_t *listen;
    size_t num_listen;
    char *local_socket; // "" = none
    char *state_dir;
    bl_log_level_t log_level;
    char *log_file;    // path or "stderr"
    char *access_log;  // path, "stderr" or "none"
    char *server_name; // "" = the host name
    char *data_dir;
    char *filter_dir;
    char *backend_dir;
    char *helper_dir;
    char *tls_certificate; // "" = self-signed in StateDir/tls
    char *tls_key;
    int max_connections;
    size_t max_header_size;
    int max_headers;
    size_t max_ipp_attributes_size;
    uint64_t max_document_size; // 0 = no limit
    int request_timeout;
    int body_timeout;
    int keepalive_timeout;
    int filter_timeout;
    int job_retry_interval;
    int printer_refresh_interval;
    char *default_printer; // NULL = the first printer
    bool preserve_job_history;
    int max_active_jobs;            // unfinished jobs at most (server-error-too-many-jobs beyond)
    int multiple_operation_timeout; // seconds a Create-Job waits for its document
    unsigned auth_schemes;          // default schemes of listeners (BL_SCHEME_*)
    char *user_file;                // Blatt's own users (argon2id), "" = none
    char *pam_service;              // PAM service for Basic, "" = none
    char *oidc_issuer, *oidc_audience, *oidc_group_claim;
    char *oidc_keys;                 // JWKS file path or URL; "" = the issuer's jwks_uri
    char *oidc_authorization_server; // advertised as oauth-authorization-server-uri
    char *oidc_ca_file;              // CAs trusted for the issuer's https, "" = the system's
    int oidc_keys_refresh;           // seconds between fetches of the issuer's keys
    int oidc_keys_min_interval;      // seconds at least between fetches asked for by tokens
    int oidc_fetch_timeout;          // seconds for one metadata or key-set download
    int oidc_clock_skew;             // seconds of clock skew allowed for exp, nbf and iat
    char *tls_client_ca;             // CAs of client certificates, "" = none
    char *policy_file;               // blatt-policy.conf, "" = the built-in policy
    bool audit_syslog;
    char *user;                    // drop to this account after binding ("" = stay as started)
    bool sandbox;                  // filters and backends start through blatt-exec
    int sandbox_uid_base;          // as root: job N's programs run as uid/gid base + N % 1024
    size_t filter_memory_limit;    // RLIMIT_AS of every filter/backend, 0 = none
    size_t filter_file_size_limit; // RLIMIT_FSIZE
    size_t filter_tmp_size;        // the private TMPDIR (tmpfs)
    int filter_open_files;         // RLIMIT_NOFILE
    int job_name_retention;        // seconds after a job's end until its name is hashed, 0 = never
    int job_retention;             // seconds after a job's end until its record goes, 0 = never
    bool allow_plain_remote;       // plain HTTP/IPP from non-loopback peers
    bl_printer_conf_t *printers;
    size_t num_printers;
} bl_config_t;

// A configuration with every default and no printers. NULL when out of memory.
bl_config_t *bl_config_defaults(void);
// Parses text (len bytes) named `filename` for messages. NULL on error with "file:line: what"
// in err. The caller owns the result.
bl_config_t *bl_config_parse(const char *text, size_t len, const char *filename, char *err,
                             size_t errlen);
// Reads and parses a file (at most 4 MiB).
bl_config_t *bl_config_load(const char *path, char *err, size_t errlen);
void bl_config_delete(bl_config_t *c);
// The block of printer `name` (borrowed) or NULL.
const bl_printer_conf_t *bl_config_find_printer(const bl_config_t *c, const char *name);

#endif
