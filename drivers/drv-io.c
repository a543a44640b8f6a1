// Pipe and memory-file helpers: plaintext documents never touch a disk.
// Licensed under the Apache License, Version 2.0.
#include "drivers/drivers-private.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define IO_CHUNK 65536

bool bl_fd_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR && !bl_drv_terminated)
                continue;
            if (errno == EPIPE && fd == STDOUT_FILENO)
                bl_drv_broken_pipe();
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

// Waits until fd can be read, or SIGTERM/SIGINT came: false then. The signals stay blocked
// from the check of bl_drv_terminated until ppoll() unblocks them atomically, so one that
// comes just before the wait cannot be missed (blattd keeps a backend's input open until the
// filters before it have exited, and stops it with SIGTERM when one failed: a missed signal
// would leave the backend waiting for input that never ends).
static bool wait_readable(int fd)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    if (sigprocmask(SIG_BLOCK, &block, &old) != 0)
        return !bl_drv_terminated;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (!bl_drv_terminated && ppoll(&p, 1, NULL, &old) < 0 && errno == EINTR)
        ;
    sigprocmask(SIG_SETMASK, &old, NULL);
    return !bl_drv_terminated;
}

ssize_t bl_fd_read(int fd, void *buf, size_t len)
{
    for (;;) {
        if (!wait_readable(fd)) {
            errno = EINTR;
            return -1;
        }
        ssize_t n = read(fd, buf, len);
        if (n >= 0 || errno != EINTR || bl_drv_terminated)
            return n;
    }
}

bool bl_fd_copy(int in_fd, int out_fd, uint64_t *copied)
{
    static uint8_t buf[IO_CHUNK];
    *copied = 0;
    for (;;) {
        ssize_t n = bl_fd_read(in_fd, buf, sizeof(buf));
        if (n == 0)
            return true;
        if (n < 0 || !bl_fd_write_all(out_fd, buf, (size_t)n))
            return false;
        *copied += (uint64_t)n;
    }
}

int bl_memfd_slurp(int in_fd, uint64_t cap, const char *name, uint64_t *len)
{
    static uint8_t buf[IO_CHUNK];
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        bl_drv_msg("ERROR", "cannot create a memory file: %s", strerror(errno));
        return -1;
    }
    *len = 0;
    for (;;) {
        ssize_t n = bl_fd_read(in_fd, buf, sizeof(buf));
        if (n == 0)
            break;
        if (n < 0) {
            if (!bl_drv_terminated)
                bl_drv_msg("ERROR", "cannot read the document: %s", strerror(errno));
            close(fd);
            return -1;
        }
        if (*len + (uint64_t)n > cap) {
            bl_drv_msg("ERROR", "the document is larger than %llu MiB",
                       (unsigned long long)(cap >> 20));
            close(fd);
            return -1;
        }
        if (!bl_fd_write_all(fd, buf, (size_t)n)) {
            bl_drv_msg("ERROR", "cannot buffer the document in memory: %s", strerror(errno));
            close(fd);
            return -1;
        }
        *len += (uint64_t)n;
    }
    // Sealed: the tools we hand it to cannot change what we checked.
    (void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    if (lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

uint8_t *bl_fd_slurp_alloc(int in_fd, size_t cap, size_t *len)
{
    size_t size = 0, alloc = 0;
    uint8_t *data = NULL;
    for (;;) {
        if (size == alloc) {
            size_t next = alloc ? alloc * 2 : IO_CHUNK * 4;
            if (next > cap + 1)
                next = cap + 1;
            uint8_t *p = realloc(data, next);
            if (!p) {
                bl_drv_msg("ERROR", "out of memory reading the document");
                free(data);
                return NULL;
            }
            data = p;
            alloc = next;
        }
        ssize_t n = bl_fd_read(in_fd, data + size, alloc - size);
        if (n == 0)
            break;
        if (n < 0) {
            if (!bl_drv_terminated)
                bl_drv_msg("ERROR", "cannot read the document: %s", strerror(errno));
            free(data);
            return NULL;
        }
        size += (size_t)n;
        if (size > cap) {
            bl_drv_msg("ERROR", "the document is larger than %zu MiB", cap >> 20);
            free(data);
            return NULL;
        }
    }
    *len = size;
    return data;
}
