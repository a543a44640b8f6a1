// Hostile filter for tests/sandbox.sh: tries to open network connections.
// Licensed under the Apache License, Version 2.0.
//
// A filter by blatt-filter(7): argv JOB USER TITLE COPIES OPTIONS. OPTIONS: port=N (connect to
// 127.0.0.1:N) and/or unix=PATH (connect to a listening AF_UNIX socket: a network namespace
// does not stop those). Exits 0 with "ATTR: evil-succeeded=1" when any connection was made;
// otherwise prints "ERROR: blocked: <what>: <why>" for each attempt and exits 1.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

// Copies the value of name=... in the space-separated options into buf; false when absent.
static bool option(const char *opts, const char *name, char *buf, size_t len)
{
    size_t n = strlen(name);
    for (const char *p = opts; p && *p; p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            size_t v = strcspn(p + n + 1, " ");
            snprintf(buf, len, "%.*s", (int)v, p + n + 1);
            return true;
        }
    }
    return false;
}

static bool try_connect(int domain, const struct sockaddr *sa, socklen_t salen, const char *what)
{
    int fd = socket(domain, SOCK_STREAM, 0);
    if (fd < 0) {
        fprintf(stderr, "ERROR: blocked: socket %s: %s\n", what, strerror(errno));
        return false;
    }
    if (connect(fd, sa, salen) != 0) {
        fprintf(stderr, "ERROR: blocked: connect %s: %s\n", what, strerror(errno));
        close(fd);
        return false;
    }
    fprintf(stderr, "INFO: connected to %s\n", what);
    close(fd);
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "Usage: %s job-id user title copies options\n", argv[0]);
        return 1;
    }
    char port[16], path[108];
    bool escaped = false;
    if (option(argv[5], "port", port, sizeof(port))) {
        struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
        in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        escaped |= try_connect(AF_INET, (struct sockaddr *)&in, sizeof(in), "inet");
    }
    if (option(argv[5], "unix", path, sizeof(path))) {
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
        escaped |= try_connect(AF_UNIX, (struct sockaddr *)&un, sizeof(un), "unix");
    }
    if (!escaped)
        return 1;
    fprintf(stderr, "ATTR: evil-succeeded=1\n");
    return 0;
}
