// Backend socket: streams the document to an AppSocket/JetDirect printer (socket://host:port).
// Licensed under the Apache License, Version 2.0.
//
// Non-blocking connect with a timeout, then stdin is copied to the socket while whatever the
// printer sends back is read and dropped (so neither side can block the other). At EOF the
// write side is shut down and the back-channel drained until EOF or 10 s.
// Exit codes: 0 sent, 1 bad URI or canceled, 6 unreachable or the connection broke.
#include "drivers/drivers-private.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 10000
#define DRAIN_TIMEOUT_MS 10000

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Splits socket://host[:port][/...] ([v6] hosts allowed). false when malformed.
static bool parse_uri(const char *uri, char *host, size_t hlen, char *port, size_t plen)
{
    if (!uri || strncmp(uri, "socket://", 9))
        return false;
    const char *h = uri + 9, *end;
    size_t n;
    if (*h == '[') {
        end = strchr(h, ']');
        if (!end)
            return false;
        n = (size_t)(end - h - 1);
        h++;
        end++;
    } else {
        end = h + strcspn(h, ":/?");
        n = (size_t)(end - h);
    }
    if (n == 0 || n >= hlen)
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    snprintf(port, plen, "9100");
    if (*end == ':') {
        size_t pl = strspn(end + 1, "0123456789");
        long p = pl > 0 && pl <= 5 ? strtol(end + 1, NULL, 10) : 0;
        if (p < 1 || p > 65535 || (end[1 + pl] && end[1 + pl] != '/' && end[1 + pl] != '?'))
            return false;
        snprintf(port, plen, "%ld", p);
    }
    return true;
}

// Reads and drops back-channel data; false at EOF or error.
static bool drain(int fd)
{
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
}

// Copies stdin to the socket; false after an ERROR line (or cancel).
static bool send_document(int fd, uint64_t *sent)
{
    static uint8_t buf[65536];
    size_t len = 0, off = 0;
    bool eof = false, peer_open = true;
    while (!eof || off < len) {
        // A negative fd is ignored by poll: no busy loop on a hung-up stdin we do not want.
        struct pollfd p[2] = {{fd, (peer_open ? POLLIN : 0) | (off < len ? POLLOUT : 0), 0},
                              {off < len || eof ? -1 : STDIN_FILENO, POLLIN, 0}};
        if (bl_drv_terminated)
            return false;
        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            return false;
        if (peer_open && (p[0].revents & POLLIN))
            peer_open = drain(fd);
        if (p[0].revents & POLLOUT) {
            ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                bl_drv_msg("ERROR", "the printer closed the connection: %s", strerror(errno));
                return false;
            }
            off += n > 0 ? (size_t)n : 0;
            *sent += n > 0 ? (uint64_t)n : 0;
        } else if (p[0].revents & (POLLERR | POLLHUP)) {
            bl_drv_msg("ERROR", "the printer closed the connection");
            return false;
        }
        if (off == len && !eof && (p[1].revents & (POLLIN | POLLHUP))) {
            ssize_t n = bl_fd_read(STDIN_FILENO, buf, sizeof(buf));
            if (n < 0)
                return false;
            eof = n == 0;
            len = (size_t)n;
            off = 0;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    char host[256], port[8];
    bl_drv_signals_init();
    if (!bl_drv_check_args(argc, argv))
        return BL_EXIT_FAILED;
    if (!parse_uri(getenv("DEVICE_URI"), host, sizeof(host), port, sizeof(port))) {
        bl_drv_msg("ERROR", "bad device URI (expected socket://host[:port])");
        return BL_EXIT_FAILED;
    }
    if (argc == 7) {
        int in = open(argv[6], O_RDONLY | O_CLOEXEC);
        if (in < 0 || dup2(in, STDIN_FILENO) < 0) {
            bl_drv_msg("ERROR", "cannot open the document file");
            return BL_EXIT_FAILED;
        }
        close(in);
    }
    char why[256];
    int fd = bl_net_connect(host, port, CONNECT_TIMEOUT_MS, why, sizeof(why));
    if (fd < 0) {
        if (bl_drv_terminated)
            return BL_EXIT_FAILED;
        bl_drv_msg("ERROR", "cannot connect to %s:%s: %s", host, port, why);
        return BL_EXIT_RETRY;
    }
    uint64_t sent = 0;
    if (!send_document(fd, &sent)) {
        close(fd);
        return bl_drv_terminated ? BL_EXIT_FAILED : BL_EXIT_RETRY;
    }
    shutdown(fd, SHUT_WR);
    // The printer may answer (PJL status) or close when done: wait for that, bounded.
    long deadline = now_ms() + DRAIN_TIMEOUT_MS;
    for (bool open_ = true; open_ && !bl_drv_terminated && now_ms() < deadline;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) > 0)
            open_ = drain(fd);
    }
    close(fd);
    if (bl_drv_terminated)
        return BL_EXIT_FAILED;
    bl_drv_msg("INFO", "sent %llu bytes to %s:%s", (unsigned long long)sent, host, port);
    return BL_EXIT_OK;
}
