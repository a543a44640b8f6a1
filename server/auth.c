// Authentication of blattd's requests: Basic (user file or PAM), Bearer (OIDC JWT), peers.
// Licensed under the Apache License, Version 2.0.
//
// Basic credentials are checked in a worker thread (argon2id costs ~100 ms and 64 MiB on
// purpose; PAM may sleep) and the outcome is cached for a few minutes under a salted hash of
// user and password, so a client that sends Basic with every request costs one check. A
// failed check takes at least a second (in the worker), which slows guessing without
// blocking anyone else. Bearer tokens are verified on the loop (a signature check is cheap)
// against the issuer's key set (server/auth-keys.c: a file, or fetched by a worker); a token
// that arrives before the first keys, or names a kid the set lacks, waits for one fetch.
#include "server/auth.h"

#include "drivers/launcher.h"

#include "server/auth-keys.h"
#include "server/config.h"
#include "server/jwt.h"
#include "server/log.h"
#include "server/worker.h"

#include <argon2.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define CACHE_SIZE 256
#define CACHE_SECONDS 300
#define FAIL_DELAY_US 1000000
#define MAX_USERS 10000
#define ARGON_T 3
#define ARGON_M_KIB 65536
#define ARGON_P 1

typedef struct user {
    char name[65];
    char hash[160];
    char groups[BL_AUTH_MAX_GROUPS][64];
    size_t num_groups;
} user_t;

typedef struct cache_entry {
    unsigned char key[32];
    time_t until;
    bl_identity_t id;
} cache_entry_t;

struct bl_auth {
    bl_worker_t *worker;
    char pam_service[64];
    user_t *users;
    size_t num_users;
    unsigned char salt[32];
    cache_entry_t cache[CACHE_SIZE];
    size_t cache_next;
    bl_auth_keys_t *keys; // NULL when no OIDCIssuer is set
    bl_jwt_rules_t rules;
    char issuer[512], audience[256], group_claim[64];
};

struct bl_auth_pending {
    bl_auth_t *auth;
    bool canceled;
    bl_auth_done_fn done;
    void *arg;
    char user[256], password[256];
    char *token;                   // a bearer token waiting for keys
    bl_auth_keys_waiter_t *waiter; // its place in the queue
    unsigned char key[32];
    bool ok;
    char why[128];
    bl_identity_t id;
};

// ---------------------------------------------------------------------------------------------
// The Authorization header

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

// Strict base64 (with padding) into out; the length or -1.
static long b64_decode(const char *in, unsigned char *out, size_t cap)
{
    size_t n = strlen(in), o = 0;
    if (n == 0 || n % 4)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            if (in[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if ((v[k] = b64_value((unsigned char)in[i + k])) < 0 || pad) {
                return -1;
            }
        }
        unsigned long w = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
                          (unsigned long)v[2] << 6 | (unsigned long)v[3];
        unsigned char b[3] = {(unsigned char)(w >> 16), (unsigned char)(w >> 8), (unsigned char)w};
        for (int k = 0; k < 3 - pad; k++) {
            if (o >= cap)
                return -1;
            out[o++] = b[k];
        }
    }
    return (long)o;
}

static bool basic_credentials(const char *b64, bl_auth_header_t *out)
{
    unsigned char buf[600];
    long n = strlen(b64) > 800 ? -1 : b64_decode(b64, buf, sizeof(buf) - 1);
    if (n < 0)
        return false;
    buf[n] = '\0';
    unsigned char *colon = memchr(buf, ':', (size_t)n);
    if (!colon || memchr(buf, '\0', (size_t)n))
        return false;
    size_t ul = (size_t)(colon - buf), pl = (size_t)n - ul - 1;
    if (ul == 0 || ul >= sizeof(out->user) || pl >= sizeof(out->password))
        return false;
    for (size_t i = 0; i < ul; i++) {
        if (buf[i] < 0x20 || buf[i] == 0x7f)
            return false;
    }
    memcpy(out->user, buf, ul);
    out->user[ul] = '\0';
    memcpy(out->password, colon + 1, pl);
    out->password[pl] = '\0';
    OPENSSL_cleanse(buf, sizeof(buf));
    return true;
}

// RFC 6750 b64token: [A-Za-z0-9-._~+/]+ followed by '='s.
static bool bearer_token(const char *t, bl_auth_header_t *out)
{
    size_t n = strlen(t), i = 0;
    if (n == 0 || n >= sizeof(out->token))
        return false;
    while (i < n && (isalnum((unsigned char)t[i]) || strchr("-._~+/", t[i])))
        i++;
    while (i < n && t[i] == '=')
        i++;
    if (i != n || t[0] == '=')
        return false;
    memcpy(out->token, t, n + 1);
    return true;
}

bool bl_auth_parse_header(const char *value, bl_auth_header_t *out, unsigned *scheme_out)
{
    memset(out, 0, sizeof(*out));
    *scheme_out = 0;
    if (!value)
        return false;
    size_t sl = strcspn(value, " ");
    const char *cred = value + sl;
    while (*cred == ' ')
        cred++;
    if (sl == 5 && !strncasecmp(value, "Basic", 5))
        *scheme_out = BL_SCHEME_BASIC;
    else if (sl == 6 && !strncasecmp(value, "Bearer", 6))
        *scheme_out = BL_SCHEME_BEARER;
    else
        return false;
    out->scheme = *scheme_out;
    bool ok =
        *scheme_out == BL_SCHEME_BASIC ? basic_credentials(cred, out) : bearer_token(cred, out);
    if (!ok)
        OPENSSL_cleanse(out, sizeof(*out));
    return ok;
}

// ---------------------------------------------------------------------------------------------
// Users

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && !strchr("._@-", s[i]))
            return false;
    }
    return true;
}

static void add_groups(char groups[][64], size_t *num, const char *list)
{
    while (list && *list && *num < BL_AUTH_MAX_GROUPS) {
        size_t n = strcspn(list, ",");
        if (n > 0 && n < 64) {
            memcpy(groups[*num], list, n);
            groups[(*num)++][n] = '\0';
        }
        list += n + (list[n] == ',');
    }
}

// UserFile: `name:$argon2id$...[:group,group]` per line, `#` comments.
static bool load_users(bl_auth_t *a, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        bl_log(BL_LOG_ERROR, "auth: cannot read UserFile %s: %s", path, strerror(errno));
        return false;
    }
    char line[1024];
    int lineno = 0;
    bool ok = true;
    a->users = calloc(MAX_USERS, sizeof(*a->users));
    while (ok && a->users && fgets(line, sizeof(line), fp)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        char *hash = strchr(line, ':');
        char *groups = hash ? strchr(hash + 1, ':') : NULL;
        if (hash)
            *hash++ = '\0';
        if (groups)
            *groups++ = '\0';
        if (!hash || !name_ok(line) || strncmp(hash, "$argon2id$", 10) ||
            strlen(hash) >= sizeof(a->users[0].hash) || a->num_users == MAX_USERS) {
            bl_log(BL_LOG_ERROR, "auth: %s:%d: expected name:$argon2id$...[:groups]", path, lineno);
            ok = false;
            break;
        }
        user_t *u = &a->users[a->num_users++];
        snprintf(u->name, sizeof(u->name), "%s", line);
        snprintf(u->hash, sizeof(u->hash), "%s", hash);
        add_groups(u->groups, &u->num_groups, groups);
    }
    fclose(fp);
    OPENSSL_cleanse(line, sizeof(line));
    return ok && a->users;
}

static const user_t *find_user(const bl_auth_t *a, const char *name)
{
    for (size_t i = 0; i < a->num_users; i++) {
        if (!strcmp(a->users[i].name, name))
            return &a->users[i];
    }
    return NULL;
}

// System groups of a local account (for PAM and Unix-socket users).
static void system_groups(const char *user, gid_t gid, bl_identity_t *id)
{
    gid_t list[BL_AUTH_MAX_GROUPS];
    int n = BL_AUTH_MAX_GROUPS;
    if (getgrouplist(user, gid, list, &n) < 0)
        n = BL_AUTH_MAX_GROUPS;
    for (int i = 0; i < n && id->num_groups < BL_AUTH_MAX_GROUPS; i++) {
        char buf[4096];
        struct group gr, *res = NULL;
        if (getgrgid_r(list[i], &gr, buf, sizeof(buf), &res) == 0 && res &&
            strlen(res->gr_name) < sizeof(id->groups[0]))
            snprintf(id->groups[id->num_groups++], sizeof(id->groups[0]), "%s", res->gr_name);
    }
}

void bl_auth_local_identity(uid_t uid, bl_identity_t *id)
{
    memset(id, 0, sizeof(*id));
    id->method = BL_AUTH_LOCAL;
    id->local_root = uid == 0;
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res) {
        snprintf(id->subject, sizeof(id->subject), "%s", res->pw_name);
        system_groups(res->pw_name, res->pw_gid, id);
    } else {
        snprintf(id->subject, sizeof(id->subject), "uid-%u", (unsigned)uid);
    }
    snprintf(id->name, sizeof(id->name), "%s", id->subject);
}

void bl_auth_cert_identity(const char *subject, bl_identity_t *id)
{
    memset(id, 0, sizeof(*id));
    id->method = BL_AUTH_CERT;
    snprintf(id->subject, sizeof(id->subject), "%s", subject);
    snprintf(id->name, sizeof(id->name), "%s", subject);
}

// ---------------------------------------------------------------------------------------------
// Basic: worker side

static void basic_work(void *arg)
{
    bl_auth_pending_t *p = arg;
    bl_auth_t *a = p->auth;
    const user_t *u = find_user(a, p->user);
    memset(&p->id, 0, sizeof(p->id));
    if (u) {
        p->ok = argon2id_verify(u->hash, p->password, strlen(p->password)) == ARGON2_OK;
        for (size_t i = 0; p->ok && i < u->num_groups; i++)
            snprintf(p->id.groups[p->id.num_groups++], sizeof(p->id.groups[0]), "%s", u->groups[i]);
    } else if (a->pam_service[0]) {
        // Without root (blattd dropped it), the launcher's PAM process asks PAM as root.
        p->ok = bl_launcher_has_pam() ? bl_launcher_pam(p->user, p->password)
                                      : bl_pam_check(a->pam_service, p->user, p->password);
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (p->ok && getpwnam_r(p->user, &pw, buf, sizeof(buf), &res) == 0 && res)
            system_groups(res->pw_name, res->pw_gid, &p->id);
    }
    OPENSSL_cleanse(p->password, sizeof(p->password));
    if (!p->ok) {
        snprintf(p->why, sizeof(p->why), "wrong user name or password");
        usleep(FAIL_DELAY_US);
        return;
    }
    p->id.method = BL_AUTH_BASIC;
    snprintf(p->id.subject, sizeof(p->id.subject), "%s", p->user);
    snprintf(p->id.name, sizeof(p->id.name), "%s", p->user);
}

static void cache_put(bl_auth_t *a, const unsigned char key[32], const bl_identity_t *id)
{
    cache_entry_t *e = &a->cache[a->cache_next++ % CACHE_SIZE];
    memcpy(e->key, key, 32);
    e->until = time(NULL) + CACHE_SECONDS;
    e->id = *id;
}

static const bl_identity_t *cache_get(const bl_auth_t *a, const unsigned char key[32])
{
    time_t now = time(NULL);
    for (size_t i = 0; i < CACHE_SIZE; i++) {
        const cache_entry_t *e = &a->cache[i];
        if (e->until > now && CRYPTO_memcmp(e->key, key, 32) == 0)
            return &e->id;
    }
    return NULL;
}

static void basic_done(void *arg)
{
    bl_auth_pending_t *p = arg;
    if (p->ok)
        cache_put(p->auth, p->key, &p->id);
    if (!p->canceled)
        p->done(p->arg, p->ok, &p->id, p->why, true);
    OPENSSL_cleanse(p, sizeof(*p));
    free(p);
}

// SHA-256(salt || user || 0 || password): the cache key (no password is kept in memory).
static void credential_key(const bl_auth_t *a, const bl_auth_header_t *h, unsigned char key[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, a->salt, sizeof(a->salt));
    EVP_DigestUpdate(md, h->user, strlen(h->user) + 1);
    EVP_DigestUpdate(md, h->password, strlen(h->password));
    EVP_DigestFinal_ex(md, key, &n);
    EVP_MD_CTX_free(md);
}

static bl_auth_pending_t *check_basic(bl_auth_t *a, const bl_auth_header_t *h, bl_auth_done_fn done,
                                      void *arg)
{
    unsigned char key[32];
    credential_key(a, h, key);
    const bl_identity_t *cached = cache_get(a, key);
    if (cached) {
        done(arg, true, cached, NULL, false);
        return NULL;
    }
    bl_auth_pending_t *p = calloc(1, sizeof(*p));
    if (!p) {
        done(arg, false, NULL, "out of memory", true);
        return NULL;
    }
    p->auth = a;
    p->done = done;
    p->arg = arg;
    memcpy(p->key, key, sizeof(key));
    snprintf(p->user, sizeof(p->user), "%s", h->user);
    snprintf(p->password, sizeof(p->password), "%s", h->password);
    if (!bl_worker_submit(a->worker, basic_work, basic_done, p)) {
        OPENSSL_cleanse(p, sizeof(*p));
        free(p);
        done(arg, false, NULL, "too many logins at once", true);
        return NULL;
    }
    return p;
}

// ---------------------------------------------------------------------------------------------
// Bearer

static void token_key(const bl_auth_t *a, const char *token, unsigned char key[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, a->salt, sizeof(a->salt));
    EVP_DigestUpdate(md, "bearer", 7);
    EVP_DigestUpdate(md, token, strlen(token));
    EVP_DigestFinal_ex(md, key, &n);
    EVP_MD_CTX_free(md);
}

// The identity of verified claims, cached until the token expires (at most CACHE_SECONDS).
static void bearer_identity(bl_auth_t *a, const unsigned char key[32],
                            const bl_jwt_claims_t *claims, bl_identity_t *id)
{
    memset(id, 0, sizeof(*id));
    id->method = BL_AUTH_BEARER;
    snprintf(id->subject, sizeof(id->subject), "%s", claims->subject);
    snprintf(id->name, sizeof(id->name), "%s", claims->name);
    // A group name that does not fit is left out, never cut short into another group's name.
    for (size_t i = 0; i < claims->num_groups && id->num_groups < BL_AUTH_MAX_GROUPS; i++) {
        if (strlen(claims->groups[i]) < sizeof(id->groups[0]))
            snprintf(id->groups[id->num_groups++], sizeof(id->groups[0]), "%s", claims->groups[i]);
    }
    cache_put(a, key, id);
    cache_entry_t *e = &a->cache[(a->cache_next - 1) % CACHE_SIZE];
    if (claims->expires < e->until)
        e->until = claims->expires;
}

// Verifies token with the keys loaded now; true with *id, else false with why.
static bool verify_bearer(bl_auth_t *a, const char *token, const unsigned char key[32],
                          bl_identity_t *id, char *why, size_t whylen)
{
    const bl_jwks_t *jwks = bl_auth_keys_find(a->keys);
    if (!jwks) {
        snprintf(why, whylen, "%s", bl_auth_keys_problem(a->keys));
        return false;
    }
    bl_jwt_claims_t claims;
    if (!bl_jwt_verify(jwks, token, &a->rules, time(NULL), &claims, why, whylen))
        return false;
    bearer_identity(a, key, &claims, id);
    OPENSSL_cleanse(&claims, sizeof(claims));
    return true;
}

static void pending_free(bl_auth_pending_t *p)
{
    if (p->token) {
        OPENSSL_cleanse(p->token, strlen(p->token));
        free(p->token);
    }
    OPENSSL_cleanse(p, sizeof(*p));
    free(p);
}

// A held token: the fetch it waited for ended; judge it with what is loaded now.
static void on_keys_ready(void *arg)
{
    bl_auth_pending_t *p = arg;
    p->waiter = NULL;
    char why[200];
    p->ok = verify_bearer(p->auth, p->token, p->key, &p->id, why, sizeof(why));
    p->done(p->arg, p->ok, p->ok ? &p->id : NULL, p->ok ? NULL : why, true);
    pending_free(p);
}

static bl_auth_pending_t *check_bearer(bl_auth_t *a, const bl_auth_header_t *h,
                                       bl_auth_done_fn done, void *arg)
{
    unsigned char key[32];
    token_key(a, h->token, key);
    const bl_identity_t *cached = cache_get(a, key);
    if (cached) {
        done(arg, true, cached, NULL, false);
        return NULL;
    }
    bl_identity_t id;
    char why[200];
    if (verify_bearer(a, h->token, key, &id, why, sizeof(why))) {
        done(arg, true, &id, NULL, true);
        return NULL;
    }
    // No keys yet, or a kid the set lacks (rotated at the issuer): hold it for one fetch.
    const bl_jwks_t *jwks = bl_auth_keys_find(a->keys);
    bl_auth_pending_t *p = NULL;
    if (!jwks || bl_jwt_names_unknown_kid(jwks, h->token)) {
        p = calloc(1, sizeof(*p));
        if (p && (p->token = strdup(h->token))) {
            p->auth = a;
            p->done = done;
            p->arg = arg;
            memcpy(p->key, key, sizeof(key));
            p->waiter = bl_auth_keys_wait(
                a->keys, jwks ? "a token names an unknown key" : "a token came before the keys",
                on_keys_ready, p);
        }
        if (p && !p->waiter) {
            pending_free(p);
            p = NULL;
        }
    }
    if (!p)
        done(arg, false, NULL, why, true);
    return p;
}

bl_auth_pending_t *bl_auth_check(bl_auth_t *a, const bl_auth_header_t *h, bl_auth_done_fn done,
                                 void *arg)
{
    if (h->scheme == BL_SCHEME_BASIC && (a->num_users || a->pam_service[0]))
        return check_basic(a, h, done, arg);
    if (h->scheme == BL_SCHEME_BEARER && a->keys)
        return check_bearer(a, h, done, arg);
    done(arg, false, NULL, "this kind of credentials is not set up", true);
    return NULL;
}

void bl_auth_cancel(bl_auth_pending_t *p)
{
    if (!p)
        return;
    if (p->waiter) {
        // A held token is the loop's alone: it goes now.
        bl_auth_keys_cancel(p->waiter);
        pending_free(p);
        return;
    }
    p->canceled = true; // a worker still has it; basic_done frees it
}

// ---------------------------------------------------------------------------------------------
// Set-up

bl_auth_t *bl_auth_create(struct event_base *base, const bl_config_t *c, bl_worker_t *worker)
{
    bl_auth_t *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->worker = worker;
    RAND_bytes(a->salt, sizeof(a->salt));
    snprintf(a->pam_service, sizeof(a->pam_service), "%s", c->pam_service);
    snprintf(a->issuer, sizeof(a->issuer), "%s", c->oidc_issuer);
    snprintf(a->audience, sizeof(a->audience), "%s", c->oidc_audience);
    snprintf(a->group_claim, sizeof(a->group_claim), "%s", c->oidc_group_claim);
    a->rules = (bl_jwt_rules_t){a->issuer, a->audience, a->group_claim[0] ? a->group_claim : NULL,
                                c->oidc_clock_skew};
    bool ok = (!c->user_file[0] || load_users(a, c->user_file)) &&
              (!c->oidc_issuer[0] || (a->keys = bl_auth_keys_create(base, c, worker)));
    if (!ok) {
        bl_auth_delete(a);
        return NULL;
    }
    return a;
}

void bl_auth_delete(bl_auth_t *a)
{
    if (!a)
        return;
    if (a->users)
        OPENSSL_cleanse(a->users, MAX_USERS * sizeof(*a->users));
    free(a->users);
    bl_auth_keys_delete(a->keys);
    OPENSSL_cleanse(a, sizeof(*a));
    free(a);
}

unsigned bl_auth_available(const bl_auth_t *a)
{
    unsigned s = BL_SCHEME_TRUST | BL_SCHEME_CERT;
    if (a->num_users || a->pam_service[0])
        s |= BL_SCHEME_BASIC;
    if (a->keys)
        s |= BL_SCHEME_BEARER;
    return s;
}

bool bl_auth_hash_password(const char *password, char *out, size_t len)
{
    unsigned char salt[16];
    if (RAND_bytes(salt, sizeof(salt)) != 1)
        return false;
    return argon2id_hash_encoded(ARGON_T, ARGON_M_KIB, ARGON_P, password, strlen(password), salt,
                                 sizeof(salt), 32, out, len) == ARGON2_OK;
}
