// Plain TCP connections with a timeout (socket backend; reasons for ipp connect failures).
// Licensed under the Apache License, Version 2.0.
#include "drivers/drivers-private.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Connects one address with a timeout; the socket or -1 (errno set).
static int connect_one(const struct addrinfo *ai, long deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    while (errno == EINPROGRESS || errno == EINTR) {
        long left = deadline - now_ms();
        struct pollfd p = {fd, POLLOUT, 0};
        if (bl_drv_terminated || left <= 0) {
            errno = bl_drv_terminated ? ECANCELED : ETIMEDOUT;
            break;
        }
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            errno = r == 0 ? ETIMEDOUT : errno;
            break;
        }
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0)
            return fd;
        errno = err;
        break;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int bl_net_connect(const char *host, const char *port, int timeout_ms, char *why, size_t len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG}, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(why, len, "%s", gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    long deadline = now_ms() + timeout_ms;
    for (struct addrinfo *ai = res; ai && fd < 0 && !bl_drv_terminated; ai = ai->ai_next) {
        fd = connect_one(ai, deadline);
        err = errno;
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(why, len, "%s", bl_drv_terminated ? "canceled" : strerror(err));
    return fd;
}
