// TLS for blattd: the server context (TLS 1.2+, modern suites) and the self-signed certificate.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_TLS_H
#define BL_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>

// A server context from cert_path/key_path (PEM). When both files are missing, a self-signed
// certificate for server_name (plus localhost, 127.0.0.1, ::1) and its P-256 key are created
// there first (key mode 0600). With client_ca (a PEM file of CAs, or NULL/""), clients are
// asked for a certificate, and one that is sent must verify. NULL on failure (logged). Caller
// owns (SSL_CTX_free()).
SSL_CTX *bl_tls_context_create(const char *cert_path, const char *key_path, const char *server_name,
                               const char *client_ca);

#endif
