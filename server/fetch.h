// A small blocking HTTP(S) GET client for worker threads (the OIDC discovery document and the
// issuer's key set): bounded in size and time, https with certificate and host name checks,
// plain http to loopback only. Never call it on the loop.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_FETCH_H
#define BL_FETCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BL_URL_MAX 1023

typedef struct bl_url {
    bool tls;        // https
    char host[256];  // a DNS name or an IP literal (IPv6 without brackets)
    bool ip_literal; // host is an IPv4 or IPv6 address
    bool ipv6;       // host is an IPv6 address (bracketed in the Host header)
    int port;
    char path[BL_URL_MAX + 1]; // path and query, starting with '/'
} bl_url_t;

// Parses an absolute http:// or https:// URL: no user info, no fragment, no white space,
// control or non-ASCII characters. false when it is not such a URL.
bool bl_url_parse(const char *url, bl_url_t *out);
// Whether the URL's host is this machine's loopback (localhost, 127.0.0.0/8, ::1).
bool bl_url_is_loopback(const bl_url_t *u);
// Whether url may be fetched at all: https anywhere, http to loopback only. false with a
// reason in why.
bool bl_url_is_fetchable(const char *url, char *why, size_t whylen);

typedef struct bl_fetch_opts {
    size_t max_body;          // a longer answer fails
    int timeout_ms;           // connect, TLS, request and answer together (name look-up aside)
    const char *ca_file;      // PEM CAs trusted for https; NULL or "" = the system's store
    const atomic_int *cancel; // non-zero aborts within 200 ms; may be NULL
} bl_fetch_opts_t;

// GETs url. true with the body of a 200 answer in *body (NUL-terminated, *len bytes without
// the NUL; caller frees); false with a short reason (never body bytes) in why.
bool bl_fetch_get(const char *url, const bl_fetch_opts_t *o, char **body, size_t *len, char *why,
                  size_t whylen);

// The answer parser of bl_fetch_get on bytes in memory (for tests and fuzzing): data is a
// whole HTTP/1.1 response up to the end of the connection. Same results as bl_fetch_get.
bool bl_fetch_parse_response(const uint8_t *data, size_t size, size_t max_body, char **body,
                             size_t *len, char *why, size_t whylen);

#endif
