// libFuzzer target of the spool reader: header parsing, key unwrap and segment framing.
// Licensed under the Apache License, Version 2.0.
//
// Input: one mode byte, then bytes. Mode bit 0 clear: the bytes are a whole spool file. Bit 0
// set: the bytes follow a valid header made at start-up (so the segment parser runs with a real
// key). Bits 1-2 pick the read sizes. The KEK is fixed (32 x 0x42), so seed files written with
// it (tests/fuzz/spool/) decrypt fully. Every input is also walked as a segment of the
// document log (bl_spool_entry_walk, as start-up recovery does) and its documents are read
// through byte-range readers.
#include "server/spool.h"

#include "server/log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bl_kek_t *fuzz_kek;
static uint8_t valid_header[BL_SPOOL_HEADER_SIZE];
static char tmpdir[] = "/tmp/fuzz-spool-XXXXXX";

// Writes the fixed KEK to a private temporary file, loads it and makes one valid header.
static bool fuzz_init(void)
{
    char path[64];
    uint8_t key[32];
    memset(key, 0x42, sizeof(key));
    bl_log_open("/dev/null", BL_LOG_ERROR);
    if (!mkdtemp(tmpdir))
        return false;
    snprintf(path, sizeof(path), "%s/kek", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) || close(fd) != 0)
        abort();
    fuzz_kek = bl_kek_load_or_create(path);
    unlink(path);

    snprintf(path, sizeof(path), "%s/hdr", tmpdir);
    bl_spool_writer_t *w = bl_spool_writer_create(fuzz_kek, path, "fuzz");
    if (!fuzz_kek || !w || !bl_spool_writer_finish(w, NULL))
        abort();
    FILE *fp = fopen(path, "rb");
    if (!fp || fread(valid_header, 1, sizeof(valid_header), fp) != sizeof(valid_header))
        abort();
    fclose(fp);
    unlink(path);
    rmdir(tmpdir);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    static const size_t read_sizes[4][3] = {
        {65536, 65536, 65536}, {1, 7, 4096}, {70000, 3, 1}, {13, 65535, 2}};
    if (!ready)
        ready = fuzz_init();
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;

    int fd = memfd_create("fuzz-spool", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    bool ok = (mode & 1) == 0 ||
              write(fd, valid_header, sizeof(valid_header)) == (ssize_t)sizeof(valid_header);
    ok = ok && (size == 0 || write(fd, data, size) == (ssize_t)size) && lseek(fd, 0, SEEK_SET) == 0;
    if (!ok)
        abort();
    static uint8_t buf[70000];
    const size_t *sizes = read_sizes[(mode >> 1) & 3];
    // The document log's view: documents back to back, each read within its own range.
    off_t end = lseek(fd, 0, SEEK_END), off = 0;
    bl_spool_entry_t e;
    while (off < end && bl_spool_entry_walk(fd, off, end, &e)) {
        if (e.len <= 0 || e.len > end - off)
            abort(); // the walk must never step backwards or past the end
        int dfd = dup(fd);
        bl_spool_reader_t *r =
            dfd >= 0 ? bl_spool_reader_create_range(fuzz_kek, dfd, off, e.len, "fuzz") : NULL;
        while (r && bl_spool_reader_read(r, buf, sizeof(buf)) > 0)
            ;
        bl_spool_reader_delete(r);
        off += e.len;
        if (!e.complete)
            break;
    }
    lseek(fd, 0, SEEK_SET);
    bl_spool_reader_t *r = bl_spool_reader_create_fd(fuzz_kek, fd, "fuzz");
    if (!r)
        return 0;
    for (int i = 0;; i++) {
        ssize_t n = bl_spool_reader_read(r, buf, sizes[i % 3]);
        if (n <= 0)
            break;
    }
    bl_spool_reader_delete(r);
    return 0;
}
