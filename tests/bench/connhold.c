// connhold: holds idle keep-alive and slow (one byte per second) connections to a server.
// Licensed under the Apache License, Version 2.0.
//
//   connhold HOST PORT IDLE SLOW SECONDS
// IDLE connections each make one GET / (so they are real keep-alive connections) and then
// stay silent; SLOW connections send a request head one byte per second. After SECONDS it
// prints `idle_open=N slow_open=N` (how many the server still kept) and exits.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char slow_head[] =
    "GET /printers/slow HTTP/1.1\r\nHost: localhost\r\nX-Padding: "
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";

static int dial(const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// Sends GET / and reads the whole answer (Content-Length bytes after the head).
static int warm_up(int fd)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
        return -1;
    char buf[65536];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        char *cl = strcasestr(buf, "Content-Length:");
        if (end && cl && got >= (size_t)(end + 4 - buf) + (size_t)atol(cl + 15))
            return 0;
    }
}

static int alive(int fd);

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: connhold HOST PORT IDLE SLOW SECONDS\n");
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]), nidle = atoi(argv[3]), nslow = atoi(argv[4]);
    int seconds = atoi(argv[5]);
    int *idle = calloc((size_t)nidle + 1, sizeof(int)),
        *slow = calloc((size_t)nslow + 1, sizeof(int));
    if (!idle || !slow)
        return 1;
    for (int i = 0; i < nidle; i++) {
        idle[i] = dial(host, port);
        if (idle[i] < 0 || warm_up(idle[i]) != 0) {
            fprintf(stderr, "connhold: idle connection %d failed: %s\n", i, strerror(errno));
            return 1;
        }
    }
    for (int i = 0; i < nslow; i++) {
        slow[i] = dial(host, port);
        if (slow[i] < 0)
            return 1;
    }
    fprintf(stderr, "connhold: %d idle and %d slow connections open\n", nidle, nslow);
    for (int t = 0; t < seconds; t++) {
        for (int i = 0; i < nslow; i++) {
            if (slow[i] >= 0 && t < (int)sizeof(slow_head) - 1 &&
                send(slow[i], slow_head + t, 1, MSG_NOSIGNAL) != 1) {
                close(slow[i]);
                slow[i] = -1;
            }
        }
        sleep(1);
    }
    int idle_open = 0, slow_open = 0;
    for (int i = 0; i < nidle; i++)
        idle_open += alive(idle[i]);
    for (int i = 0; i < nslow; i++)
        slow_open += slow[i] >= 0 && alive(slow[i]);
    printf("idle_open=%d slow_open=%d\n", idle_open, slow_open);
    free(idle);
    free(slow);
    return 0;
}

// A connection the server has not closed: nothing to read, no EOF.
static int alive(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) == 0)
        return 1;
    char c;
    return recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) > 0;
}
