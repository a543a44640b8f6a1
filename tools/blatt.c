// blatt: the command line of Blatt for users and admins (talks IPP to blattd's local socket).
// Licensed under the Apache License, Version 2.0.
//
// blattd stays the only writer of live state: every command here is an IPP request over the
// Unix socket named by LocalSocket, where blattd knows the caller from its peer credentials.
#include "autoconfig.h"

#include "server/config.h"
#include "tools/admin.h"

#include <cups/cups.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef BL_SYSCONFDIR
#define BL_SYSCONFDIR "/etc"
#endif

typedef struct cli {
    bl_config_t *config;
    http_t *http;
    const char *conf_path;
} cli_t;

// One object (printer or job) of a response: its attributes by name.
typedef struct object {
    ipp_attribute_t *attrs[32];
    size_t n;
} object_t;

typedef void (*object_fn)(const object_t *obj, void *arg);

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: blatt [-c FILE] COMMAND [OPTIONS]\n"
            "Commands:\n"
            "  printers               list the queues and their state\n"
            "  jobs [-a] [-p QUEUE]   list unfinished jobs (-a: finished ones too)\n"
            "  release ID             release a held job (pull printing)\n"
            "  cancel ID              cancel a job\n"
            "  audit verify           prove the audit chain, name the first broken record\n"
            "  audit export [--since DATE] [--format jsonl]\n"
            "                         the audit records as JSON lines\n"
            "  user export SUBJECT    everything stored about a person (JSON)\n"
            "  user erase SUBJECT     delete a person's jobs, unlink their audit pseudonym\n"
            "                         (blattd stopped)\n"
            "  key rotate             rewrap every spooled document under a new key\n"
            "                         (blattd stopped)\n"
            "  hash-password          an argon2id hash of a password read from stdin (UserFile)\n"
            "  version                print the version\n"
            "Options:\n"
            "  -c FILE  configuration file (default %s/blatt/blattd.conf)\n"
            "  -h       show this help\n"
            "See blatt(1).\n",
            BL_SYSCONFDIR);
}

static ipp_attribute_t *find(const object_t *o, const char *name)
{
    for (size_t i = 0; i < o->n; i++) {
        if (!strcmp(ippGetName(o->attrs[i]), name))
            return o->attrs[i];
    }
    return NULL;
}

static const char *str(const object_t *o, const char *name)
{
    ipp_attribute_t *a = find(o, name);
    const char *s = a ? ippGetString(a, 0, NULL) : NULL;
    return s ? s : "";
}

static int num(const object_t *o, const char *name)
{
    ipp_attribute_t *a = find(o, name);
    return a ? ippGetInteger(a, 0) : 0;
}

// Calls fn for every object of group `group` in resp.
static void each_object(ipp_t *resp, ipp_tag_t group, object_fn fn, void *arg)
{
    object_t obj = {.n = 0};
    for (ipp_attribute_t *a = ippFirstAttribute(resp); a; a = ippNextAttribute(resp)) {
        if (!ippGetName(a) || ippGetGroupTag(a) != group) {
            if (obj.n)
                fn(&obj, arg);
            obj.n = 0;
            continue;
        }
        if (obj.n < sizeof(obj.attrs) / sizeof(obj.attrs[0]))
            obj.attrs[obj.n++] = a;
    }
    if (obj.n)
        fn(&obj, arg);
}

static bool connect_daemon(cli_t *cli)
{
    const char *sock = cli->config->local_socket;
    if (!sock || !*sock) {
        fprintf(stderr, "blatt: %s sets no LocalSocket\n", cli->conf_path);
        return false;
    }
    cli->http = httpConnect2(sock, 0, NULL, AF_LOCAL, HTTP_ENCRYPTION_NEVER, 1, 10000, NULL);
    if (!cli->http) {
        fprintf(stderr, "blatt: cannot connect to blattd at %s (is it running?)\n", sock);
        return false;
    }
    return true;
}

// Sends a request; the response on success (caller deletes), NULL with a message otherwise.
static ipp_t *call(cli_t *cli, ipp_t *request, const char *resource)
{
    ipp_t *resp = cupsDoRequest(cli->http, request, resource);
    if (!resp || ippGetStatusCode(resp) > IPP_STATUS_OK_CONFLICTING) {
        fprintf(stderr, "blatt: %s\n", cupsLastErrorString());
        ippDelete(resp);
        return NULL;
    }
    return resp;
}

static const char *pstate_name(int s)
{
    return s == IPP_PSTATE_IDLE ? "idle" : s == IPP_PSTATE_PROCESSING ? "processing" : "stopped";
}

static void print_printer(const object_t *o, void *arg)
{
    (void)arg;
    char reasons[256] = "";
    ipp_attribute_t *r = find(o, "printer-state-reasons");
    if (r)
        ippAttributeString(r, reasons, sizeof(reasons));
    ipp_attribute_t *acc = find(o, "printer-is-accepting-jobs");
    const char *msg = str(o, "printer-state-message");
    printf("%-20s %-10s %-9s %5d  %-40s %s%s%s\n", str(o, "printer-name"),
           pstate_name(num(o, "printer-state")), acc && ippGetBoolean(acc, 0) ? "yes" : "no",
           num(o, "queued-job-count"), str(o, "device-uri"), reasons, *msg ? " - " : "", msg);
}

static int cmd_printers(cli_t *cli)
{
    static const char *const want[] = {"printer-name",
                                       "printer-state",
                                       "printer-state-reasons",
                                       "printer-state-message",
                                       "printer-is-accepting-jobs",
                                       "queued-job-count",
                                       "device-uri"};
    ipp_t *req = ippNewRequest(IPP_OP_CUPS_GET_PRINTERS);
    ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes",
                  (int)(sizeof(want) / sizeof(want[0])), NULL, want);
    ipp_t *resp = call(cli, req, "/");
    if (!resp)
        return 1;
    printf("%-20s %-10s %-9s %5s  %-40s %s\n", "QUEUE", "STATE", "ACCEPTING", "JOBS", "DEVICE",
           "REASONS");
    each_object(resp, IPP_TAG_PRINTER, print_printer, NULL);
    ippDelete(resp);
    return 0;
}

static const char *jstate_name(int s)
{
    static const char *const names[] = {"pending",  "held",    "processing", "stopped",
                                        "canceled", "aborted", "completed"};
    return s >= IPP_JSTATE_PENDING && s <= IPP_JSTATE_COMPLETED ? names[s - IPP_JSTATE_PENDING]
                                                                : "?";
}

static void print_job(const object_t *o, void *arg)
{
    (void)arg;
    const char *puri = str(o, "job-printer-uri");
    const char *queue = strrchr(puri, '/');
    char when[32] = "-";
    time_t t = (time_t)num(o, "time-at-creation");
    struct tm tm;
    if (t > 0 && localtime_r(&t, &tm))
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    printf("%6d  %-16s %-12s %-10s %5d %5d %6d  %-19s %s\n", num(o, "job-id"),
           queue ? queue + 1 : "", str(o, "job-originating-user-name"),
           jstate_name(num(o, "job-state")), num(o, "job-k-octets"),
           num(o, "job-impressions-completed"), num(o, "job-media-sheets-completed"), when,
           str(o, "job-name"));
}

// release ID / cancel ID: Release-Job or Cancel-Job of one job (the caller's own).
static int cmd_job_op(cli_t *cli, ipp_op_t op, int argc, char **argv)
{
    char *end = NULL;
    long id = argc == 2 ? strtol(argv[1], &end, 10) : 0;
    if (id <= 0 || id > 0x7fffffff || !end || *end) {
        fprintf(stderr, "blatt: %s needs one job id\n", argv[0]);
        return 2;
    }
    char uri[256];
    snprintf(uri, sizeof(uri), "ipp://localhost/jobs/%ld", id);
    ipp_t *req = ippNewRequest(op);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "job-uri", NULL, uri);
    ipp_t *resp = call(cli, req, "/jobs");
    if (!resp)
        return 1;
    printf("job %ld %s\n", id, op == IPP_OP_RELEASE_JOB ? "released" : "canceled");
    ippDelete(resp);
    return 0;
}

static int cmd_jobs(cli_t *cli, int argc, char **argv)
{
    bool all = false;
    const char *queue = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt(argc, argv, "ap:")) != -1) {
        if (opt == 'a')
            all = true;
        else if (opt == 'p')
            queue = optarg;
        else
            return 2;
    }
    static const char *const want[] = {"job-id",
                                       "job-name",
                                       "job-originating-user-name",
                                       "job-state",
                                       "job-printer-uri",
                                       "job-k-octets",
                                       "time-at-creation",
                                       "job-impressions-completed",
                                       "job-media-sheets-completed"};
    char uri[1024];
    httpAssembleURIf(HTTP_URI_CODING_ALL, uri, sizeof(uri), "ipp", NULL, "localhost", 0,
                     queue ? "/ipp/print/%s" : "/", queue ? queue : "");
    ipp_t *req = ippNewRequest(IPP_OP_GET_JOBS);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", NULL, uri);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "which-jobs", NULL,
                 all ? "all" : "not-completed");
    ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes",
                  (int)(sizeof(want) / sizeof(want[0])), NULL, want);
    ipp_t *resp = call(cli, req, queue ? "/ipp/print" : "/");
    if (!resp)
        return 1;
    printf("%6s  %-16s %-12s %-10s %5s %5s %6s  %-19s %s\n", "ID", "QUEUE", "USER", "STATE", "KB",
           "IMPR", "SHEETS", "CREATED", "NAME");
    each_object(resp, IPP_TAG_JOB, print_job, NULL);
    ippDelete(resp);
    return 0;
}

int main(int argc, char **argv)
{
    cli_t cli = {.conf_path = BL_SYSCONFDIR "/blatt/blattd.conf"};
    int opt;
    while ((opt = getopt(argc, argv, "+c:h")) != -1) {
        if (opt == 'c') {
            cli.conf_path = optarg;
        } else if (opt == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    if (!strcmp(cmd, "version")) {
        printf("blatt %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "hash-password"))
        return bl_admin_command(NULL, argc - optind, argv + optind) == 0 ? 0 : 1;
    if (bl_admin_is_command(cmd)) {
        char err[1024];
        if (!(cli.config = bl_config_load(cli.conf_path, err, sizeof(err)))) {
            fprintf(stderr, "blatt: %s\n", err);
            return 1;
        }
        int rc = bl_admin_command(cli.config, argc - optind, argv + optind);
        if (rc == 2)
            usage(stderr);
        bl_config_delete(cli.config);
        return rc;
    }
    if (strcmp(cmd, "printers") && strcmp(cmd, "jobs") && strcmp(cmd, "release") &&
        strcmp(cmd, "cancel")) {
        fprintf(stderr, "blatt: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return 2;
    }
    char err[1024];
    if (!(cli.config = bl_config_load(cli.conf_path, err, sizeof(err)))) {
        fprintf(stderr, "blatt: %s\n", err);
        return 1;
    }
    int rc = 1;
    if (connect_daemon(&cli)) {
        int n = argc - optind;
        char **args = argv + optind;
        if (!strcmp(cmd, "printers"))
            rc = cmd_printers(&cli);
        else if (!strcmp(cmd, "jobs"))
            rc = cmd_jobs(&cli, n, args);
        else
            rc = cmd_job_op(&cli, !strcmp(cmd, "release") ? IPP_OP_RELEASE_JOB : IPP_OP_CANCEL_JOB,
                            n, args);
    }
    if (rc == 2)
        usage(stderr);
    httpClose(cli.http);
    bl_config_delete(cli.config);
    return rc;
}
