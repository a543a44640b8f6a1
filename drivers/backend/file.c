// Backend file: the virtual printer that writes each job into an admin-configured directory.
// Licensed under the Apache License, Version 2.0.
//
// file:///absolute/dir -> DIR/job-<JOBID>.<ext> (ext from FINAL_CONTENT_TYPE). The data goes
// to DIR/.job-<JOBID>.tmp (O_EXCL|O_NOFOLLOW, mode 0600), is fsynced and renamed. Only the
// numeric job id reaches the path; title and user never do. For PDF output the page count
// (qpdf) is reported as job-impressions-completed.
#include "drivers/drivers-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *extension(const char *type)
{
    static const struct {
        const char *type, *ext;
    } map[] = {{"application/pdf", "pdf"},
               {"image/pwg-raster", "pwg"},
               {"image/urf", "urf"},
               {"image/jpeg", "jpg"}};
    for (size_t i = 0; type && i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(type, map[i].type))
            return map[i].ext;
    return "bin";
}

// The directory of file:///dir (absolute, no "." or ".." components); false when malformed.
static bool parse_uri(const char *uri, char *dir, size_t len)
{
    if (!uri || strncmp(uri, "file://", 7) || uri[7] != '/')
        return false;
    const char *p = uri + 7;
    size_t n = strlen(p);
    if (n >= len || strpbrk(p, "?#%\\"))
        return false;
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return false;
    for (const char *seg = p; seg && *seg;) {
        seg++; // past '/'
        size_t sl = strcspn(seg, "/");
        if ((sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        seg = strchr(seg, '/');
    }
    memcpy(dir, p, n + 1);
    return true;
}

static bool job_id_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 10 && strspn(s, "0123456789") == n;
}

// Creates the temporary file (replacing a leftover of an earlier attempt of this job).
static int create_temp(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST && unlinkat(dirfd, name, 0) == 0)
        fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0)
        (void)fchmod(fd, 0600); // whatever the umask
    return fd;
}

// Reports the page count of the PDF just written (qpdf on the final file).
static void report_pdf_pages(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    char out[64] = "";
    const char *argv[] = {"qpdf", "--show-npages", "/dev/fd/3", NULL};
    bl_exec_t ex = {.argv = argv,
                    .stdin_fd = -1,
                    .stdout_fd = -1,
                    .doc_fd = fd,
                    .capture = out,
                    .capture_size = sizeof(out)};
    int rc = bl_exec_run(&ex);
    close(fd);
    char *end;
    long n = strtol(out, &end, 10);
    if ((rc == 0 || rc == 3) && end != out && n > 0 && n < 10000000)
        bl_drv_msg("ATTR", "job-impressions-completed=%ld", n);
}

// Writes stdin into DIR/tmp, then renames it to DIR/final. Returns an exit code.
static int store(int dirfd, const char *tmp, const char *final)
{
    int fd = create_temp(dirfd, tmp);
    if (fd < 0) {
        bl_drv_msg("ERROR", "cannot create the output file: %s", strerror(errno));
        return BL_EXIT_STOP;
    }
    uint64_t copied;
    bool ok = bl_fd_copy(STDIN_FILENO, fd, &copied);
    int err = errno;
    if (ok && fsync(fd) < 0) {
        ok = false;
        err = errno;
    }
    if (close(fd) < 0 && ok) {
        ok = false;
        err = errno;
    }
    // Nothing came (the filter before failed) or the job was canceled: no output file.
    if (ok && (copied == 0 || bl_drv_terminated)) {
        unlinkat(dirfd, tmp, 0);
        if (!bl_drv_terminated)
            bl_drv_msg("ERROR", "the document is empty; nothing was written");
        return BL_EXIT_FAILED;
    }
    if (!ok || renameat(dirfd, tmp, dirfd, final) < 0) {
        if (ok)
            err = errno;
        unlinkat(dirfd, tmp, 0);
        if (bl_drv_terminated)
            return BL_EXIT_FAILED;
        bl_drv_msg("ERROR", "cannot write the output file: %s", strerror(err));
        return BL_EXIT_FAILED;
    }
    (void)fsync(dirfd);
    bl_drv_msg("INFO", "wrote %llu bytes to %s", (unsigned long long)copied, final);
    return BL_EXIT_OK;
}

int main(int argc, char **argv)
{
    char dir[4096], tmp[64], final[64];
    bl_drv_signals_init();
    if (!bl_drv_check_args(argc, argv))
        return BL_EXIT_FAILED;
    if (!parse_uri(getenv("DEVICE_URI"), dir, sizeof(dir))) {
        bl_drv_msg("ERROR", "bad device URI (expected file:///absolute/directory)");
        return BL_EXIT_STOP;
    }
    if (!job_id_ok(argv[1])) {
        bl_drv_msg("ERROR", "bad job id");
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
    const char *type = getenv("FINAL_CONTENT_TYPE");
    snprintf(tmp, sizeof(tmp), ".job-%s.tmp", argv[1]);
    snprintf(final, sizeof(final), "job-%s.%s", argv[1], extension(type));
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        bl_drv_msg("ERROR", "cannot open the output directory: %s", strerror(errno));
        return BL_EXIT_STOP;
    }
    int rc = store(dirfd, tmp, final);
    if (rc == BL_EXIT_OK && type && !strcmp(type, "application/pdf"))
        report_pdf_pages(dirfd, final);
    close(dirfd);
    return rc;
}
