// Authentication of blattd's requests: who is asking (Basic, Bearer, client certificate,
// Unix-socket peer, or nobody), checked off the loop where it is slow.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_AUTH_H
#define BL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct event_base;
typedef struct bl_config bl_config_t;
typedef struct bl_worker bl_worker_t;

// Schemes a listener accepts (AuthSchemes / Listen ... auth=...).
#define BL_SCHEME_BASIC 0x1u  // user name and password, over TLS only
#define BL_SCHEME_BEARER 0x2u // OAuth2 / OpenID Connect access tokens (JWT)
#define BL_SCHEME_CERT 0x4u   // TLS client certificates
#define BL_SCHEME_TRUST 0x8u  // loopback only: requesting-user-name is believed (tests, kiosks)

#define BL_AUTH_MAX_GROUPS 32

typedef enum bl_auth_method {
    BL_AUTH_NONE = 0, // anonymous
    BL_AUTH_TRUST,    // requesting-user-name on a trust listener
    BL_AUTH_LOCAL,    // Unix-socket peer credentials
    BL_AUTH_BASIC,
    BL_AUTH_BEARER,
    BL_AUTH_CERT,
} bl_auth_method_t;

typedef struct bl_identity {
    bl_auth_method_t method;
    char subject[256]; // stable id, compared byte for byte; "" = anonymous
    char name[256];    // for display (job-originating-user-name)
    char groups[BL_AUTH_MAX_GROUPS][64];
    size_t num_groups;
    bool local_root; // uid 0 on the Unix socket: the machine's administrator
} bl_identity_t;

// An Authorization header, parsed (never logged).
typedef struct bl_auth_header {
    unsigned scheme; // BL_SCHEME_BASIC or BL_SCHEME_BEARER
    char user[256];
    char password[256];
    char token[8192];
} bl_auth_header_t;

// Parses an Authorization header value. false for an unknown scheme or malformed credentials
// (*scheme_out still names the scheme when it was recognised, else 0).
bool bl_auth_parse_header(const char *value, bl_auth_header_t *out, unsigned *scheme_out);

typedef struct bl_auth bl_auth_t;

// The authenticator of a configuration (user file, PAM service, OIDC issuer and keys).
// NULL on failure (logged). Caller owns.
bl_auth_t *bl_auth_create(struct event_base *base, const bl_config_t *config, bl_worker_t *worker);
void bl_auth_delete(bl_auth_t *a);
// Schemes that are configured at all (Basic needs a UserFile or PAMService, Bearer an issuer).
unsigned bl_auth_available(const bl_auth_t *a);

// Called on the loop with the outcome; why is a short reason for the log (no secrets). fresh
// is true when the credentials were really checked now (not taken from the cache): that is a
// login worth an audit record.
typedef void (*bl_auth_done_fn)(void *arg, bool ok, const bl_identity_t *id, const char *why,
                                bool fresh);
typedef struct bl_auth_pending bl_auth_pending_t;

// Checks Basic or Bearer credentials. The callback may run before this returns (cached or
// cheap checks) or later from the loop; the returned handle (NULL when it already ran) can be
// cancelled when the requester goes away.
bl_auth_pending_t *bl_auth_check(bl_auth_t *a, const bl_auth_header_t *h, bl_auth_done_fn done,
                                 void *arg);
// The callback of a pending check will not be called.
void bl_auth_cancel(bl_auth_pending_t *p);

// The identity of a Unix-socket peer (user name and groups of uid).
void bl_auth_local_identity(uid_t uid, bl_identity_t *id);
// The identity of a verified TLS client certificate's subject.
void bl_auth_cert_identity(const char *subject, bl_identity_t *id);

// Makes an argon2id hash of password for a UserFile ("$argon2id$v=19$m=...").
bool bl_auth_hash_password(const char *password, char *out, size_t len);

#endif
