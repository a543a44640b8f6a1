// The OIDC issuer's signing keys: a JWKS file, or fetched off the loop, cached and refreshed.
// Licensed under the Apache License, Version 2.0.
//
// Design notes:
// - A fetch runs in a worker thread (server/worker.c): the issuer's metadata
//   (ISSUER/.well-known/openid-configuration, whose "issuer" must be ISSUER exactly), then its
//   jwks_uri, both with server/fetch.c (https verified, http to loopback only, size caps, one
//   deadline each). An OIDCKeys URL skips the metadata. The thread only fills its job; the
//   loop swaps the key set in when the job comes back, so verifiers on the loop never see a
//   set change under them.
// - Fetches: one at start, then every OIDCKeysRefresh. A token naming a kid the set lacks (the
//   issuer rotated its keys), or any token while no keys are loaded, asks for one more fetch,
//   at most once per OIDCKeysMinInterval; its request is held until that fetch ends (bounded by
//   OIDCFetchTimeout) and then judged with the new keys. Too soon, it is refused at once.
// - A failed fetch keeps the keys already loaded (tokens keep working while the issuer is
//   unreachable) and is retried after MinInterval, doubling up to the refresh interval. Until
//   the first fetch succeeds, bearer tokens are refused (401) with the reason in the log.
// - Only one fetch is in flight; at shutdown it is canceled and waited for (its thread checks
//   the cancel flag at least every 200 ms), then freed.
#include "server/auth-keys.h"

#include "server/config.h"
#include "server/fetch.h"
#include "server/log.h"
#include "server/worker.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define METADATA_MAX (64 * 1024)
#define JWKS_FILE_MAX (1024 * 1024)
#define JWKS_MAX (256 * 1024)
#define MAX_WAITERS 1024
#define WELL_KNOWN "/.well-known/openid-configuration"

// One fetch, shared with a worker thread: the loop fills the inputs before it is queued and
// reads the outputs after `busy` went to 0; the thread touches nothing else.
typedef struct job {
    atomic_int busy, cancel;
    char issuer[512], keys_url[BL_URL_MAX + 1], ca_file[1024];
    int timeout_ms;
    bl_jwks_t *jwks; // out: the new set, or NULL with why
    unsigned char digest[32];
    char jwks_uri[BL_URL_MAX + 1];
    char why[640];
    bl_auth_keys_t *owner;
} job_t;

struct bl_auth_keys_waiter {
    bl_auth_keys_waiter_t *next, *prev;
    bl_auth_keys_t *keys;
    bl_auth_keys_fn fn;
    void *arg;
    bool firing; // on the list being woken, not the one waiting
};

struct bl_auth_keys {
    struct event_base *base;
    bl_worker_t *worker;
    struct event *timer;
    bool fetched; // from the network (else from a file, read once)
    char issuer[512], keys_url[BL_URL_MAX + 1], ca_file[1024];
    int refresh, min_interval, timeout;
    bl_jwks_t *jwks;
    unsigned char digest[32];
    char source[BL_URL_MAX + 1]; // where the current set came from
    time_t loaded, last_start;
    int failures;
    char problem[700];
    job_t *job;
    bl_auth_keys_waiter_t *waiters, *firing;
    size_t num_waiters;
};

// ---------------------------------------------------------------------------------------------
// Worker side

// GETs url into a fresh buffer; false with j->why set.
static bool download(job_t *j, const char *what, const char *url, size_t max, char **body,
                     size_t *len)
{
    bl_fetch_opts_t o = {max, j->timeout_ms, j->ca_file, &j->cancel};
    char why[300];
    if (bl_fetch_get(url, &o, body, len, why, sizeof(why)))
        return true;
    snprintf(j->why, sizeof(j->why), "%s %.300s: %.300s", what, url, why);
    return false;
}

// Finds the jwks_uri in the issuer's metadata.
static bool discover(job_t *j)
{
    char url[sizeof(j->issuer) + sizeof(WELL_KNOWN)];
    size_t n = strlen(j->issuer);
    // OpenID Connect Discovery 1.0, 4: a terminating '/' of the issuer is removed first.
    if (n && j->issuer[n - 1] == '/')
        n--;
    snprintf(url, sizeof(url), "%.*s%s", (int)n, j->issuer, WELL_KNOWN);
    char *body = NULL, why[200];
    size_t len = 0;
    if (!download(j, "metadata", url, METADATA_MAX, &body, &len))
        return false;
    bool ok = bl_oidc_metadata_jwks_uri(body, len, j->issuer, j->jwks_uri, sizeof(j->jwks_uri), why,
                                        sizeof(why));
    free(body);
    if (!ok)
        snprintf(j->why, sizeof(j->why), "metadata %.300s: %.200s", url, why);
    // Keys of an https issuer come over https too, never from some loopback http service.
    else if (!strncasecmp(j->issuer, "https:", 6) && strncasecmp(j->jwks_uri, "https:", 6))
        snprintf(j->why, sizeof(j->why), "metadata %.300s: jwks_uri is not https", url);
    return !j->why[0];
}

static void on_fetch_work(void *arg)
{
    job_t *j = arg;
    if (j->keys_url[0])
        snprintf(j->jwks_uri, sizeof(j->jwks_uri), "%s", j->keys_url);
    char *body = NULL, why[200];
    size_t len = 0;
    if ((j->keys_url[0] || discover(j)) &&
        download(j, "key set", j->jwks_uri, JWKS_MAX, &body, &len)) {
        j->jwks = bl_jwks_parse(body, len, why, sizeof(why));
        if (!j->jwks)
            snprintf(j->why, sizeof(j->why), "key set %.300s: %.200s", j->jwks_uri, why);
        unsigned int dl = 0;
        EVP_Digest(body, len, j->digest, &dl, EVP_sha256(), NULL);
    }
    free(body);
    // The last touch of the job from this thread: after it the loop may free it.
    atomic_store(&j->busy, 0);
}

// ---------------------------------------------------------------------------------------------
// Loop side

static void on_fetch_done(void *arg);

static void schedule(bl_auth_keys_t *k, int seconds)
{
    struct timeval tv = {seconds, 0};
    evtimer_add(k->timer, &tv);
}

static bool start_fetch(bl_auth_keys_t *k)
{
    if (k->job)
        return true;
    job_t *j = calloc(1, sizeof(*j));
    if (!j)
        return false;
    snprintf(j->issuer, sizeof(j->issuer), "%s", k->issuer);
    snprintf(j->keys_url, sizeof(j->keys_url), "%s", k->keys_url);
    snprintf(j->ca_file, sizeof(j->ca_file), "%s", k->ca_file);
    j->timeout_ms = k->timeout * 1000;
    j->owner = k;
    atomic_init(&j->busy, 1);
    atomic_init(&j->cancel, 0);
    k->last_start = time(NULL);
    if (!bl_worker_submit(k->worker, on_fetch_work, on_fetch_done, j)) {
        bl_log(BL_LOG_WARN, "auth: cannot queue a fetch of the OIDC signing keys (busy)");
        free(j);
        schedule(k, k->min_interval);
        return false;
    }
    k->job = j;
    return true;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    bl_auth_keys_t *k = arg;
    bl_log(BL_LOG_DEBUG, "auth: fetching the OIDC signing keys of %s", k->issuer);
    start_fetch(k);
}

// "kid a, b, c" of a set, for the log (kids are public key names, not secrets).
static void kid_list(const bl_jwks_t *jwks, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < bl_jwks_count(jwks) && n + 1 < len; i++) {
        const char *kid = bl_jwks_kid(jwks, i);
        int w = snprintf(out + n, len - n, "%s%.64s", i ? ", " : "", kid ? kid : "(none)");
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

static void take_keys(bl_auth_keys_t *k, job_t *j)
{
    k->failures = 0;
    k->problem[0] = '\0';
    k->loaded = time(NULL);
    if (k->jwks && !memcmp(k->digest, j->digest, sizeof(k->digest))) {
        bl_log(BL_LOG_DEBUG, "auth: the OIDC signing keys at %s are unchanged", j->jwks_uri);
        bl_jwks_delete(j->jwks);
    } else {
        char kids[256];
        kid_list(j->jwks, kids, sizeof(kids));
        bl_log(BL_LOG_INFO, "auth: %zu OIDC signing keys (kid %s) from %s", bl_jwks_count(j->jwks),
               kids, j->jwks_uri);
        bl_jwks_delete(k->jwks);
        k->jwks = j->jwks;
        memcpy(k->digest, j->digest, sizeof(k->digest));
        snprintf(k->source, sizeof(k->source), "%s", j->jwks_uri);
    }
    j->jwks = NULL;
    schedule(k, k->refresh);
}

static void keep_keys(bl_auth_keys_t *k, job_t *j)
{
    // Retry soon, then less often: MinInterval, doubling, at most the refresh interval.
    k->failures++;
    int delay = k->min_interval;
    for (int i = 1; i < k->failures && delay < k->refresh; i++)
        delay *= 2;
    if (delay > k->refresh)
        delay = k->refresh;
    if (k->jwks) {
        bl_log(BL_LOG_WARN,
               "auth: cannot refresh the OIDC signing keys: %s; keeping the %zu keys fetched "
               "%lld s ago; next try in %d s",
               j->why, bl_jwks_count(k->jwks), (long long)(time(NULL) - k->loaded), delay);
    } else {
        snprintf(k->problem, sizeof(k->problem), "no OIDC signing keys yet (%s)", j->why);
        bl_log(BL_LOG_WARN,
               "auth: cannot fetch the OIDC signing keys: %s; bearer tokens are refused until "
               "it works; next try in %d s",
               j->why, delay);
    }
    schedule(k, delay);
}

// Unlinks w from the list it is on.
static void unlink_waiter(bl_auth_keys_waiter_t *w)
{
    bl_auth_keys_t *k = w->keys;
    if (w->prev)
        w->prev->next = w->next;
    else if (w->firing)
        k->firing = w->next;
    else
        k->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    if (!w->firing)
        k->num_waiters--;
}

// On the loop, after on_fetch_work: swap the keys in and wake the waiters.
static void on_fetch_done(void *arg)
{
    job_t *j = arg;
    bl_auth_keys_t *k = j->owner;
    k->job = NULL;
    if (j->jwks)
        take_keys(k, j);
    else
        keep_keys(k, j);
    free(j);
    // Each waiter leaves the list and is freed before its callback runs; a callback may
    // cancel other waiters or wait again.
    for (bl_auth_keys_waiter_t *w = k->waiters; w; w = w->next)
        w->firing = true;
    k->firing = k->waiters;
    k->waiters = NULL;
    k->num_waiters = 0;
    while (k->firing) {
        bl_auth_keys_waiter_t *w = k->firing;
        unlink_waiter(w);
        bl_auth_keys_fn fn = w->fn;
        void *warg = w->arg;
        free(w);
        fn(warg);
    }
}

static bool load_file(bl_auth_keys_t *k, const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        bl_log(BL_LOG_ERROR, "auth: cannot read OIDCKeys %s: %s", path, strerror(errno));
        return false;
    }
    char *buf = malloc(JWKS_FILE_MAX);
    size_t n = buf ? fread(buf, 1, JWKS_FILE_MAX - 1, fp) : 0;
    fclose(fp);
    char why[200] = "out of memory";
    if (buf)
        k->jwks = bl_jwks_parse(buf, n, why, sizeof(why));
    free(buf);
    if (!k->jwks) {
        bl_log(BL_LOG_ERROR, "auth: OIDCKeys %s: %s", path, why);
        return false;
    }
    char kids[256];
    kid_list(k->jwks, kids, sizeof(kids));
    bl_log(BL_LOG_INFO, "auth: %zu OIDC signing keys (kid %s) from %s", bl_jwks_count(k->jwks),
           kids, path);
    snprintf(k->source, sizeof(k->source), "%s", path);
    return true;
}

bl_auth_keys_t *bl_auth_keys_create(struct event_base *base, const bl_config_t *c,
                                    bl_worker_t *worker)
{
    bl_auth_keys_t *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->base = base;
    k->worker = worker;
    snprintf(k->issuer, sizeof(k->issuer), "%s", c->oidc_issuer);
    snprintf(k->ca_file, sizeof(k->ca_file), "%s", c->oidc_ca_file);
    k->refresh = c->oidc_keys_refresh;
    k->min_interval = c->oidc_keys_min_interval;
    k->timeout = c->oidc_fetch_timeout;
    if (c->oidc_keys[0] == '/') {
        if (!load_file(k, c->oidc_keys)) {
            bl_auth_keys_delete(k);
            return NULL;
        }
        return k;
    }
    k->fetched = true;
    snprintf(k->keys_url, sizeof(k->keys_url), "%s", c->oidc_keys);
    char why[200];
    const char *what = k->keys_url[0] ? "OIDCKeys" : "OIDCIssuer";
    if (!bl_url_is_fetchable(k->keys_url[0] ? k->keys_url : k->issuer, why, sizeof(why))) {
        bl_log(BL_LOG_ERROR, "auth: %s %s: %s", what, k->keys_url[0] ? k->keys_url : k->issuer,
               why);
        bl_auth_keys_delete(k);
        return NULL;
    }
    snprintf(k->problem, sizeof(k->problem), "no OIDC signing keys yet (the first fetch runs)");
    if (!(k->timer = evtimer_new(base, on_timer, k))) {
        bl_auth_keys_delete(k);
        return NULL;
    }
    bl_log(BL_LOG_INFO, "auth: fetching the OIDC signing keys of %s%s%s", k->issuer,
           k->keys_url[0] ? " from " : "", k->keys_url);
    start_fetch(k);
    return k;
}

void bl_auth_keys_delete(bl_auth_keys_t *k)
{
    if (!k)
        return;
    if (k->job) {
        atomic_store(&k->job->cancel, 1);
        struct timespec ts = {0, 10 * 1000 * 1000};
        while (atomic_load(&k->job->busy))
            nanosleep(&ts, NULL);
        bl_jwks_delete(k->job->jwks);
        free(k->job);
    }
    while (k->waiters)
        bl_auth_keys_cancel(k->waiters);
    if (k->timer)
        event_free(k->timer);
    bl_jwks_delete(k->jwks);
    free(k);
}

const bl_jwks_t *bl_auth_keys_find(const bl_auth_keys_t *k)
{
    return k ? k->jwks : NULL;
}

const char *bl_auth_keys_problem(const bl_auth_keys_t *k)
{
    return k && k->problem[0] ? k->problem : "no OIDC signing keys are loaded";
}

bl_auth_keys_waiter_t *bl_auth_keys_wait(bl_auth_keys_t *k, const char *reason, bl_auth_keys_fn fn,
                                         void *arg)
{
    if (!k || !k->fetched || k->num_waiters >= MAX_WAITERS)
        return NULL;
    if (!k->job) {
        time_t since = time(NULL) - k->last_start;
        if (since < k->min_interval) {
            bl_log(BL_LOG_DEBUG, "auth: %s, but the keys were fetched %lld s ago", reason,
                   (long long)since);
            return NULL;
        }
        bl_log(BL_LOG_INFO, "auth: %s: fetching the OIDC signing keys of %s again", reason,
               k->issuer);
        if (!start_fetch(k))
            return NULL;
    }
    bl_auth_keys_waiter_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    *w = (bl_auth_keys_waiter_t){k->waiters, NULL, k, fn, arg, false};
    if (k->waiters)
        k->waiters->prev = w;
    k->waiters = w;
    k->num_waiters++;
    return w;
}

void bl_auth_keys_cancel(bl_auth_keys_waiter_t *w)
{
    if (!w)
        return;
    unlink_waiter(w);
    free(w);
}
