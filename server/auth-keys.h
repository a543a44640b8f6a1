// The OIDC issuer's signing keys (JWKS) for bearer tokens: read from a file, or fetched off the
// loop (the issuer's metadata, then its jwks_uri), cached, and refreshed.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_AUTH_KEYS_H
#define BL_AUTH_KEYS_H

#include "server/jwt.h"

struct event_base;
typedef struct bl_config bl_config_t;
typedef struct bl_worker bl_worker_t;
typedef struct bl_auth_keys bl_auth_keys_t;
typedef struct bl_auth_keys_waiter bl_auth_keys_waiter_t;

// The keys of c's OIDCIssuer: OIDCKeys read from its file now, or fetched by worker from the
// OIDCKeys URL or the issuer's metadata, starting now and then every OIDCKeysRefresh. NULL on
// failure (logged): an unreadable file or a URL that may not be fetched. Caller owns.
bl_auth_keys_t *bl_auth_keys_create(struct event_base *base, const bl_config_t *c,
                                    bl_worker_t *worker);
// Call once the loop has stopped and before worker is deleted: cancels a fetch in flight and
// waits (briefly) for its thread to let go. Waiters are dropped without their callbacks.
void bl_auth_keys_delete(bl_auth_keys_t *k);

// The current key set (borrowed: valid until a fetch completes on the loop), or NULL.
const bl_jwks_t *bl_auth_keys_find(const bl_auth_keys_t *k);
// Why there is no key set, for the log and the client (no secrets in it).
const char *bl_auth_keys_problem(const bl_auth_keys_t *k);

typedef void (*bl_auth_keys_fn)(void *arg);

// Waits for fresh keys on behalf of a token (none are loaded yet, or it names an unknown kid):
// joins the fetch in flight, or starts one when the last began OIDCKeysMinInterval ago or
// more. fn(arg) runs on the loop when that fetch ended, never before this returns. NULL when
// there is nothing to wait for (keys from a file, too soon, too many waiting). reason is
// logged when a fetch starts.
bl_auth_keys_waiter_t *bl_auth_keys_wait(bl_auth_keys_t *k, const char *reason, bl_auth_keys_fn fn,
                                         void *arg);
// fn of w will not run; w is freed.
void bl_auth_keys_cancel(bl_auth_keys_waiter_t *w);

#endif
