// ippload: the load generator of Blatt's benchmarks (IPP requests from N parallel clients).
// Licensed under the Apache License, Version 2.0.
//
// Each client is a thread with its own keep-alive connection (libcups http_t). It prints one
// line: `requests=N seconds=S rate=R median_ms=M p99_ms=P max_ms=X errors=E` and exits 1
// when any request failed. The same tool drives blattd and cupsd, so the figures compare.
//
//   ippload [-c CLIENTS] [-n REQUESTS] [-o OP] [-f FILE] [-j JOB-ID] [-l LIMIT] [-w WHICH] [-r] URI
//   OP: print (Print-Job of FILE), create-cancel (Create-Job + Cancel-Job: a finished job
//   without a document), print-cancel (Print-Job + Cancel-Job), print-wait (Print-Job, then
//   Get-Job-Attributes every 5 ms on the same connection until the job ended: the
//   submit-to-completed time; it fails unless the job completed), get-jobs, get-job
//   (Get-Job-Attributes of JOB-ID), get-printer, get-printers (CUPS-Get-Printers).
//   -r (get-jobs, get-job, get-printer, get-printers): the reply is read to its last byte but
//   not decoded, so that the time is the server's and the wire's. libcups keeps every string
//   of a decoded reply in one sorted pool, which costs the client seconds for a reply of
//   100,000 jobs; without -r that is part of the time, as any libcups client would see it.
#include <cups/cups.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct load {
    const char *uri, *op, *which;
    char scheme[16], host[256], resource[1024];
    int port;
    int clients, requests, job_id, limit;
    bool raw; // -r
    const uint8_t *doc;
    size_t doc_len;
    double *lat; // milliseconds per request
    int next;    // next request number (under lock)
    int errors;
    pthread_mutex_t lock;
} load_t;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static ipp_t *new_request(const load_t *l, ipp_op_t op)
{
    ipp_t *req = ippNewRequest(op);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", NULL, l->uri);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL, cupsUser());
    return req;
}

// Cancel-Job by job-uri (cupsd 2.4.2 crashes on printer-uri + job-id of a stopped queue).
static bool cancel(const load_t *l, http_t *http, int id)
{
    char uri[1400];
    snprintf(uri, sizeof(uri), "%s://%s:%d/jobs/%d", l->scheme, l->host, l->port, id);
    ipp_t *req = ippNewRequest(IPP_OP_CANCEL_JOB);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "job-uri", NULL, uri);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL, cupsUser());
    ipp_t *resp = cupsDoRequest(http, req, "/jobs");
    bool ok = resp && ippGetStatusCode(resp) <= IPP_STATUS_OK_CONFLICTING;
    ippDelete(resp);
    return ok;
}

// One Print-Job with the document streamed after the attributes; the new job's id or 0.
static int print_job_id(const load_t *l, http_t *http)
{
    ipp_t *req = new_request(l, IPP_OP_PRINT_JOB);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "job-name", NULL, "bench");
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", NULL,
                 "application/pdf");
    // libcups wants the length of the whole body: attributes and document.
    http_status_t st = cupsSendRequest(http, req, l->resource, ippLength(req) + l->doc_len);
    size_t off = 0;
    while (st == HTTP_STATUS_CONTINUE && off < l->doc_len) {
        size_t n = l->doc_len - off > 65536 ? 65536 : l->doc_len - off;
        st = cupsWriteRequestData(http, (const char *)l->doc + off, n);
        off += n;
    }
    ipp_t *resp = cupsGetResponse(http, l->resource);
    ipp_attribute_t *a = resp ? ippFindAttribute(resp, "job-id", IPP_TAG_INTEGER) : NULL;
    int id =
        resp && ippGetStatusCode(resp) <= IPP_STATUS_OK_CONFLICTING && a ? ippGetInteger(a, 0) : 0;
    ippDelete(resp);
    ippDelete(req);
    return id;
}

static bool do_print(const load_t *l, http_t *http)
{
    return print_job_id(l, http) > 0;
}

// The reply read whole and not decoded: true when it is IPP with a successful status.
static bool call_raw(http_t *http, ipp_t *req, const char *resource)
{
    http_status_t st = cupsSendRequest(http, req, resource, ippLength(req));
    ippDelete(req);
    while (st == HTTP_STATUS_CONTINUE)
        st = httpUpdate(http);
    if (st != HTTP_STATUS_OK) {
        httpFlush(http);
        return false;
    }
    static __thread char buf[65536];
    unsigned char head[4] = {0};
    size_t total = 0;
    ssize_t n;
    while ((n = httpRead2(http, buf, sizeof(buf))) > 0) {
        for (size_t i = 0; total + i < sizeof(head) && i < (size_t)n; i++)
            head[total + i] = (unsigned char)buf[i];
        total += (size_t)n;
    }
    // version (2 bytes), status-code (2 bytes): successful-ok .. successful-ok-events-complete
    return n == 0 && total >= 9 && head[2] == 0 && head[3] <= 0x07;
}

static bool do_call(http_t *http, ipp_t *req, const char *resource, int *job_id, bool raw)
{
    if (raw && !job_id)
        return call_raw(http, req, resource);
    ipp_t *resp = cupsDoRequest(http, req, resource);
    bool ok = resp && ippGetStatusCode(resp) <= IPP_STATUS_OK_CONFLICTING;
    ipp_attribute_t *a = resp ? ippFindAttribute(resp, "job-id", IPP_TAG_INTEGER) : NULL;
    if (job_id)
        *job_id = a ? ippGetInteger(a, 0) : 0;
    ippDelete(resp);
    return ok;
}

// Polls job-state until the job ends; true when it completed.
static bool wait_completed(const load_t *l, http_t *http, int id)
{
    for (int i = 0; i < 120000; i++) {
        ipp_t *req = new_request(l, IPP_OP_GET_JOB_ATTRIBUTES);
        ippAddInteger(req, IPP_TAG_OPERATION, IPP_TAG_INTEGER, "job-id", id);
        ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", NULL,
                     "job-state");
        ipp_t *resp = cupsDoRequest(http, req, l->resource);
        ipp_attribute_t *a = resp ? ippFindAttribute(resp, "job-state", IPP_TAG_ENUM) : NULL;
        int state = a ? ippGetInteger(a, 0) : 0;
        ippDelete(resp);
        if (state == IPP_JSTATE_COMPLETED)
            return true;
        if (state == 0 || state >= IPP_JSTATE_CANCELED)
            return false;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static bool do_one(const load_t *l, http_t *http)
{
    const char *op = l->op;
    if (!strcmp(op, "print"))
        return do_print(l, http);
    if (!strcmp(op, "print-wait")) {
        int id = print_job_id(l, http);
        return id > 0 && wait_completed(l, http, id);
    }
    if (!strcmp(op, "create-cancel")) {
        int id = 0;
        if (!do_call(http, new_request(l, IPP_OP_CREATE_JOB), l->resource, &id, false) || id <= 0)
            return false;
        return cancel(l, http, id);
    }
    if (!strcmp(op, "print-cancel")) {
        // Print-Job, then Cancel-Job of the new job: a finished job with a document.
        int id = print_job_id(l, http);
        return id > 0 && cancel(l, http, id);
    }
    if (!strcmp(op, "get-jobs")) {
        ipp_t *req = new_request(l, IPP_OP_GET_JOBS);
        ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "which-jobs", NULL, l->which);
        if (l->limit > 0)
            ippAddInteger(req, IPP_TAG_OPERATION, IPP_TAG_INTEGER, "limit", l->limit);
        static const char *const want[] = {"job-id", "job-name", "job-state",
                                           "job-originating-user-name", "time-at-completed"};
        ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", 5, NULL,
                      want);
        return do_call(http, req, l->resource, NULL, l->raw);
    }
    if (!strcmp(op, "get-job")) {
        ipp_t *req = new_request(l, IPP_OP_GET_JOB_ATTRIBUTES);
        ippAddInteger(req, IPP_TAG_OPERATION, IPP_TAG_INTEGER, "job-id", l->job_id);
        return do_call(http, req, l->resource, NULL, l->raw);
    }
    if (!strcmp(op, "get-printer"))
        return do_call(http, new_request(l, IPP_OP_GET_PRINTER_ATTRIBUTES), l->resource, NULL,
                       l->raw);
    if (!strcmp(op, "get-printers")) {
        ipp_t *req = ippNewRequest(IPP_OP_CUPS_GET_PRINTERS);
        static const char *const want[] = {"printer-name", "printer-state", "printer-uri-supported",
                                           "printer-state-reasons", "printer-is-accepting-jobs"};
        ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", 5, NULL,
                      want);
        return do_call(http, req, "/", NULL, l->raw);
    }
    return false;
}

static void *client(void *arg)
{
    load_t *l = arg;
    http_encryption_t enc =
        strcmp(l->scheme, "ipps") ? HTTP_ENCRYPTION_IF_REQUESTED : HTTP_ENCRYPTION_ALWAYS;
    http_t *http = httpConnect2(l->host, l->port, NULL, AF_UNSPEC, enc, 1, 30000, NULL);
    for (;;) {
        pthread_mutex_lock(&l->lock);
        int i = l->next < l->requests ? l->next++ : -1;
        pthread_mutex_unlock(&l->lock);
        if (i < 0)
            break;
        double t0 = now_ms();
        bool ok = http && do_one(l, http);
        l->lat[i] = now_ms() - t0;
        if (!ok) {
            pthread_mutex_lock(&l->lock);
            if (l->errors++ < 3)
                fprintf(stderr, "ippload: request %d: %s\n", i,
                        cupsLastErrorString() ? cupsLastErrorString() : "no successful IPP reply");
            pthread_mutex_unlock(&l->lock);
        }
    }
    httpClose(http);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bool map_doc(load_t *l, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        fprintf(stderr, "ippload: %s: %s\n", path, strerror(errno));
        return false;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return false;
    l->doc = p;
    l->doc_len = (size_t)st.st_size;
    return true;
}

int main(int argc, char **argv)
{
    load_t l = {.op = "get-printer", .which = "completed", .clients = 1, .requests = 100};
    const char *file = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "c:n:o:f:j:l:w:r")) != -1) {
        switch (opt) {
        case 'c':
            l.clients = atoi(optarg);
            break;
        case 'n':
            l.requests = atoi(optarg);
            break;
        case 'o':
            l.op = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'j':
            l.job_id = atoi(optarg);
            break;
        case 'l':
            l.limit = atoi(optarg);
            break;
        case 'w':
            l.which = optarg;
            break;
        case 'r':
            l.raw = true;
            break;
        default:
            return 2;
        }
    }
    if (optind + 1 != argc || l.clients < 1 || l.requests < 1 ||
        (!strncmp(l.op, "print", 5) && (!file || !map_doc(&l, file)))) {
        fprintf(stderr,
                "usage: ippload [-c N] [-n N] [-o OP] [-f FILE] [-j ID] [-l N] [-w W] URI\n");
        return 2;
    }
    l.uri = argv[optind];
    char user[64];
    if (httpSeparateURI(HTTP_URI_CODING_ALL, l.uri, l.scheme, sizeof(l.scheme), user, sizeof(user),
                        l.host, sizeof(l.host), &l.port, l.resource,
                        sizeof(l.resource)) < HTTP_URI_STATUS_OK)
        return 2;
    l.lat = calloc((size_t)l.requests, sizeof(*l.lat));
    pthread_mutex_init(&l.lock, NULL);
    pthread_t *th = calloc((size_t)l.clients, sizeof(*th));
    double t0 = now_ms();
    for (int i = 0; i < l.clients; i++)
        pthread_create(&th[i], NULL, client, &l);
    for (int i = 0; i < l.clients; i++)
        pthread_join(th[i], NULL);
    double secs = (now_ms() - t0) / 1e3;
    qsort(l.lat, (size_t)l.requests, sizeof(*l.lat), cmp_double);
    size_t p99 = (size_t)(l.requests * 0.99);
    if (p99 >= (size_t)l.requests)
        p99 = (size_t)l.requests - 1;
    printf("requests=%d seconds=%.3f rate=%.1f median_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d\n",
           l.requests, secs, l.requests / secs, l.lat[l.requests / 2], l.lat[p99],
           l.lat[l.requests - 1], l.errors);
    free(th);
    free(l.lat);
    return l.errors ? 1 : 0;
}
