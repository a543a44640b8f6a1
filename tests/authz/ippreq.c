// ippreq: the IPP client of the authorisation tests: one request per line of stdin, one result
// line per request on stdout, with exactly the credentials the line names.
// Licensed under the Apache License, Version 2.0.
//
//   ippreq [-p] HOST PORT       (-p: plain HTTP; default: TLS from the first byte)
//
// Request line:  CRED OPERATION RESOURCE [NAME=VALUE | job.NAME=VALUE | @file=PATH |
//                @dump=PATH | @nouri | @new]...
//   CRED         anon | basic:USER:PASSWORD | header:SCHEME:DATA ("Authorization: SCHEME DATA",
//                sent as given, even when malformed)
//   OPERATION    an IPP operation name (Print-Job, CUPS-Get-Document, ...) or 0xNNNN
//   RESOURCE     the HTTP path; printer-uri (system-uri for /ipp/system) is made from it unless
//                the line gives one or says @nouri
//   NAME=VALUE   an operation attribute (job.NAME: a job template attribute); the syntax comes
//                from the table below; comma-separated values make a multi-valued keyword or
//                integer
//   @file=PATH   document data after the attributes; @dump=PATH keeps the raw response body;
//                @new uses a fresh connection
// Result line:   http=CODE ipp=STATUS-KEYWORD [www=SCHEME,...] [printers=N]
//                [job=ID[,state=S][,name=N][,user=U][,docs=D]]... bytes=N extra=N [msg=TEXT]
//   extra counts the body bytes after the IPP message (document data a server returned).
//   Values are %XX-escaped outside [A-Za-z0-9._@+/:-]. Connections are kept alive per CRED.
#include <cups/cups.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONNS 32
#define MAX_BODY (16 * 1024 * 1024)

typedef struct conn {
    char cred[4096];
    http_t *http;
} conn_t;

typedef struct client {
    const char *host;
    int port;
    bool tls;
    conn_t conns[MAX_CONNS];
    size_t num_conns;
} client_t;

typedef struct attr_type {
    const char *name;
    ipp_tag_t tag;
} attr_type_t;

// The syntax of every attribute a test line may send.
static const attr_type_t attr_types[] = {
    {"job-id", IPP_TAG_INTEGER},
    {"job-ids", IPP_TAG_INTEGER},
    {"limit", IPP_TAG_INTEGER},
    {"document-number", IPP_TAG_INTEGER},
    {"copies", IPP_TAG_INTEGER},
    {"my-jobs", IPP_TAG_BOOLEAN},
    {"last-document", IPP_TAG_BOOLEAN},
    {"ipp-attribute-fidelity", IPP_TAG_BOOLEAN},
    {"which-jobs", IPP_TAG_KEYWORD},
    {"requested-attributes", IPP_TAG_KEYWORD},
    {"identify-actions", IPP_TAG_KEYWORD},
    {"compression", IPP_TAG_KEYWORD},
    {"job-hold-until", IPP_TAG_KEYWORD},
    {"sides", IPP_TAG_KEYWORD},
    {"print-color-mode", IPP_TAG_KEYWORD},
    {"requesting-user-name", IPP_TAG_NAME},
    {"job-name", IPP_TAG_NAME},
    {"document-name", IPP_TAG_NAME},
    {"document-format", IPP_TAG_MIMETYPE},
    {"printer-uri", IPP_TAG_URI},
    {"job-uri", IPP_TAG_URI},
    {"system-uri", IPP_TAG_URI},
};

typedef struct result {
    int http;
    ipp_t *resp;
    size_t bytes, extra;
    char www[256];
} result_t;

typedef struct membuf {
    const unsigned char *data;
    size_t len, pos;
} membuf_t;

// Prints s with everything outside a safe set as %XX (names and messages are untrusted).
static void put_escaped(const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("._@+/:-", c))
            putchar(c);
        else
            printf("%%%02X", c);
    }
}

static ssize_t mem_read(void *ctx, ipp_uchar_t *buf, size_t len)
{
    membuf_t *m = ctx;
    size_t n = m->len - m->pos < len ? m->len - m->pos : len;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

static const attr_type_t *find_type(const char *name)
{
    for (size_t i = 0; i < sizeof(attr_types) / sizeof(attr_types[0]); i++) {
        if (!strcmp(attr_types[i].name, name))
            return &attr_types[i];
    }
    return NULL;
}

// One NAME=VALUE word into req; false (with a message) when the name is unknown.
static bool add_attr(ipp_t *req, const char *word)
{
    bool job = !strncmp(word, "job.", 4);
    const char *name = job ? word + 4 : word;
    const char *eq = strchr(name, '=');
    char key[128];
    if (!eq || (size_t)(eq - name) >= sizeof(key))
        return false;
    memcpy(key, name, (size_t)(eq - name));
    key[eq - name] = '\0';
    const char *value = eq + 1;
    const attr_type_t *t = find_type(key);
    if (!t) {
        fprintf(stderr, "ippreq: unknown attribute %s\n", key);
        return false;
    }
    ipp_tag_t group = job ? IPP_TAG_JOB : IPP_TAG_OPERATION;
    switch (t->tag) {
    case IPP_TAG_INTEGER: {
        // Comma-separated: one value each (job-ids).
        int vals[64], n = 0;
        for (const char *v = value; *v && n < 64;) {
            size_t len = strcspn(v, ",");
            vals[n++] = atoi(v);
            v += len + (v[len] == ',');
        }
        if (n == 0)
            vals[n++] = 0;
        ippAddIntegers(req, group, IPP_TAG_INTEGER, key, n, vals);
        break;
    }
    case IPP_TAG_BOOLEAN:
        ippAddBoolean(req, group, key, !strcmp(value, "true"));
        break;
    case IPP_TAG_KEYWORD: {
        // Comma-separated: one value each.
        char copy[1024], *save = NULL;
        const char *vals[64];
        int n = 0;
        snprintf(copy, sizeof(copy), "%s", value);
        for (char *v = strtok_r(copy, ",", &save); v && n < 64; v = strtok_r(NULL, ",", &save))
            vals[n++] = v;
        if (n)
            ippAddStrings(req, group, IPP_TAG_KEYWORD, key, n, NULL, vals);
        break;
    }
    default:
        ippAddString(req, group, t->tag, key, NULL, value);
        break;
    }
    return true;
}

// The connection for cred (opened on first use; fresh when asked).
static conn_t *get_conn(client_t *cl, const char *cred, bool fresh)
{
    conn_t *c = NULL;
    for (size_t i = 0; i < cl->num_conns && !c; i++) {
        if (!strcmp(cl->conns[i].cred, cred))
            c = &cl->conns[i];
    }
    if (!c && cl->num_conns < MAX_CONNS) {
        c = &cl->conns[cl->num_conns++];
        snprintf(c->cred, sizeof(c->cred), "%s", cred);
    } else if (!c) {
        c = &cl->conns[0]; // reuse the first slot
        httpClose(c->http);
        c->http = NULL;
        snprintf(c->cred, sizeof(c->cred), "%s", cred);
    }
    if (c->http && fresh) {
        httpClose(c->http);
        c->http = NULL;
    }
    if (!c->http)
        c->http =
            httpConnect2(cl->host, cl->port, NULL, AF_UNSPEC,
                         cl->tls ? HTTP_ENCRYPTION_ALWAYS : HTTP_ENCRYPTION_NEVER, 1, 10000, NULL);
    return c->http ? c : NULL;
}

// Sets the Authorization header that cred names (none for anon). libcups sends the field as
// it is; its own auth string is left unset, so that it never answers a challenge by itself.
static void set_auth(http_t *http, const char *cred)
{
    char value[4200] = "";
    if (!strncmp(cred, "basic:", 6)) {
        char b64[4096];
        httpEncode64_2(b64, sizeof(b64), cred + 6, (int)strlen(cred + 6));
        snprintf(value, sizeof(value), "Basic %s", b64);
    } else if (!strncmp(cred, "header:", 7)) {
        const char *data = strchr(cred + 7, ':');
        size_t n = data ? (size_t)(data - cred - 7) : strlen(cred + 7);
        snprintf(value, sizeof(value), "%.*s%s%s", (int)n, cred + 7, data ? " " : "",
                 data ? data + 1 : "");
    }
    if (value[0])
        httpSetField(http, HTTP_FIELD_AUTHORIZATION, value);
}

// Reads the whole response body into memory (bounded).
static unsigned char *read_body(http_t *http, size_t *len)
{
    size_t cap = 65536, n = 0;
    unsigned char *buf = malloc(cap);
    ssize_t r;
    while (buf && (r = httpRead2(http, (char *)buf + n, cap - n)) > 0) {
        n += (size_t)r;
        if (n == cap && cap < MAX_BODY) {
            unsigned char *p = realloc(buf, cap * 2);
            if (!p)
                break;
            buf = p;
            cap *= 2;
        } else if (n == cap) {
            break;
        }
    }
    *len = n;
    return buf;
}

// One HTTP POST of req (+ doc); false when the connection failed before any response.
static bool exchange(http_t *http, const char *cred, const char *resource, ipp_t *req,
                     const unsigned char *doc, size_t doc_len, const char *dump, result_t *res)
{
    httpClearFields(http);
    httpSetField(http, HTTP_FIELD_CONTENT_TYPE, "application/ipp");
    set_auth(http, cred);
    httpSetLength(http, ippLength(req) + doc_len);
    if (httpPost(http, resource))
        return false;
    ippSetState(req, IPP_STATE_IDLE);
    ipp_state_t st;
    while ((st = ippWrite(http, req)) != IPP_STATE_DATA && st != IPP_STATE_ERROR)
        ;
    // A server may answer before it read the document (a 401): the answer still counts.
    if (st == IPP_STATE_DATA && doc_len)
        httpWrite2(http, (const char *)doc, doc_len);
    http_status_t s;
    while ((s = httpUpdate(http)) == HTTP_STATUS_CONTINUE)
        ;
    if (s == HTTP_STATUS_ERROR)
        return false;
    res->http = (int)s;
    snprintf(res->www, sizeof(res->www), "%s", httpGetField(http, HTTP_FIELD_WWW_AUTHENTICATE));
    size_t len = 0;
    unsigned char *body = read_body(http, &len);
    res->bytes = len;
    if (dump) {
        FILE *fp = fopen(dump, "wb");
        if (fp) {
            fwrite(body, 1, len, fp);
            fclose(fp);
        }
    }
    if (s == HTTP_STATUS_OK && body) {
        membuf_t m = {body, len, 0};
        res->resp = ippNew();
        if (ippReadIO(&m, mem_read, 1, NULL, res->resp) != IPP_STATE_DATA) {
            ippDelete(res->resp);
            res->resp = NULL;
        }
        res->extra = res->resp ? len - m.pos : 0;
    }
    free(body);
    return true;
}

static const char *state_word(int s)
{
    static const char *const w[] = {"pending",  "held",    "processing", "stopped",
                                    "canceled", "aborted", "completed"};
    return s >= 3 && s <= 9 ? w[s - 3] : "unknown";
}

// The result line: status, challenge, and per job what the tests look at.
static void print_result(const result_t *res)
{
    ipp_t *r = res->resp;
    printf("http=%d ipp=%s", res->http,
           r                  ? ippErrorString(ippGetStatusCode(r))
           : res->http == 200 ? "unreadable"
                              : "none");
    if (res->www[0]) {
        printf(" www=");
        put_escaped(res->www);
    }
    int printers = 0;
    bool in_job = false;
    for (ipp_attribute_t *a = r ? ippFirstAttribute(r) : NULL; a; a = ippNextAttribute(r)) {
        const char *name = ippGetName(a);
        ipp_tag_t g = ippGetGroupTag(a);
        if (!name) {
            in_job = false;
            continue;
        }
        if (g == IPP_TAG_PRINTER && !strcmp(name, "printer-name"))
            printers++;
        if (g != IPP_TAG_JOB)
            continue;
        if (!strcmp(name, "job-id")) {
            printf(" job=%d", ippGetInteger(a, 0));
            in_job = true;
        } else if (in_job && !strcmp(name, "job-state")) {
            printf(",state=%s", state_word(ippGetInteger(a, 0)));
        } else if (in_job &&
                   (!strcmp(name, "job-name") || !strcmp(name, "job-originating-user-name"))) {
            printf(",%s=", !strcmp(name, "job-name") ? "name" : "user");
            put_escaped(ippGetString(a, 0, NULL));
        } else if (in_job && !strcmp(name, "number-of-documents")) {
            printf(",docs=%d", ippGetInteger(a, 0));
        }
    }
    if (printers)
        printf(" printers=%d", printers);
    printf(" bytes=%zu extra=%zu", res->bytes, res->extra);
    ipp_attribute_t *msg = r ? ippFindAttribute(r, "status-message", IPP_TAG_TEXT) : NULL;
    if (msg) {
        printf(" msg=");
        put_escaped(ippGetString(msg, 0, NULL));
    }
    putchar('\n');
}

static unsigned char *load_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    unsigned char *buf = malloc(MAX_BODY);
    *len = buf ? fread(buf, 1, MAX_BODY, fp) : 0;
    fclose(fp);
    return buf;
}

// Builds the request of one line's words (after CRED OP RESOURCE); NULL on a bad word.
static ipp_t *build_request(const client_t *cl, ipp_op_t op, const char *resource, char **words,
                            int n, const char **file, const char **dump, bool *fresh)
{
    ipp_t *req = ippNewRequest(op);
    bool nouri = false, has_uri = false;
    for (int i = 0; i < n; i++) {
        if (!strcmp(words[i], "@nouri"))
            nouri = true;
        else if (strstr(words[i], "-uri="))
            has_uri = true;
    }
    if (!nouri && !has_uri) {
        char uri[1024];
        bool sys = !strncmp(resource, "/ipp/system", 11);
        httpAssembleURI(HTTP_URI_CODING_ALL, uri, sizeof(uri), cl->tls ? "ipps" : "ipp", NULL,
                        cl->host, cl->port, resource);
        ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, sys ? "system-uri" : "printer-uri", NULL,
                     uri);
    }
    for (int i = 0; i < n; i++) {
        if (!strncmp(words[i], "@file=", 6))
            *file = words[i] + 6;
        else if (!strncmp(words[i], "@dump=", 6))
            *dump = words[i] + 6;
        else if (!strcmp(words[i], "@new"))
            *fresh = true;
        else if (strcmp(words[i], "@nouri") && !add_attr(req, words[i])) {
            ippDelete(req);
            return NULL;
        }
    }
    return req;
}

// One request line: send it (retrying once on a dead keep-alive connection), print the result.
static void run_line(client_t *cl, char *line)
{
    char *words[64], *save = NULL;
    int n = 0;
    for (char *w = strtok_r(line, " \t\r\n", &save); w && n < 64;
         w = strtok_r(NULL, " \t\r\n", &save))
        words[n++] = w;
    if (n < 3) {
        printf("error=usage\n");
        return;
    }
    ipp_op_t op =
        !strncmp(words[1], "0x", 2) ? (ipp_op_t)strtol(words[1], NULL, 16) : ippOpValue(words[1]);
    const char *file = NULL, *dump = NULL;
    bool fresh = false;
    ipp_t *req =
        op > 0 ? build_request(cl, op, words[2], words + 3, n - 3, &file, &dump, &fresh) : NULL;
    if (!req) {
        printf("error=bad-request-line\n");
        return;
    }
    size_t doc_len = 0;
    unsigned char *doc = file ? load_file(file, &doc_len) : NULL;
    result_t res = {0};
    bool done = false;
    for (int attempt = 0; attempt < 2 && !done; attempt++) {
        conn_t *c = get_conn(cl, words[0], fresh || attempt > 0);
        done = c && exchange(c->http, words[0], words[2], req, doc, doc_len, dump, &res);
    }
    if (done)
        print_result(&res);
    else
        printf("http=0 ipp=none error=connection\n");
    ippDelete(res.resp);
    ippDelete(req);
    free(doc);
}

int main(int argc, char **argv)
{
    client_t cl = {0};
    int i = 1;
    cl.tls = true;
    if (argc > 1 && !strcmp(argv[1], "-p")) {
        cl.tls = false;
        i++;
    }
    if (argc - i != 2) {
        fprintf(stderr, "usage: ippreq [-p] HOST PORT < requests\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    cl.host = argv[i];
    cl.port = atoi(argv[i + 1]);
    char line[8192];
    while (fgets(line, sizeof(line), stdin))
        run_line(&cl, line);
    for (size_t k = 0; k < cl.num_conns; k++)
        httpClose(cl.conns[k].http);
    return 0;
}
