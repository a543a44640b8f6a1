// qpdf helpers shared by the PDF filters: input in a memfd, page count, error text.
// Licensed under the Apache License, Version 2.0.
#include "drivers/drv-pdf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

// Strips qpdf's "qpdf: /dev/fd/3: " / "WARNING: /dev/fd/3: " prefixes from a message.
static const char *strip_prefix(const char *msg)
{
    const char *p = strstr(msg, "/dev/fd/3");
    if (p) {
        p += strlen("/dev/fd/3");
        if (*p == ':')
            p++;
        while (*p == ' ')
            p++;
        return *p ? p : msg;
    }
    return msg;
}

int bl_pdf_open_input(int argc, char **argv, uint64_t *len)
{
    int in = STDIN_FILENO;
    if (argc == 7) {
        in = open(argv[6], O_RDONLY | O_CLOEXEC);
        if (in < 0) {
            bl_drv_msg("ERROR", "cannot open the document file");
            return -1;
        }
    }
    int fd = bl_memfd_slurp(in, BL_PDF_MAX_SIZE, "document", len);
    if (in != STDIN_FILENO)
        close(in);
    if (fd >= 0 && *len == 0) {
        bl_drv_msg("ERROR", "the document is empty");
        close(fd);
        return -1;
    }
    return fd;
}

long bl_pdf_count_pages(int doc_fd)
{
    char out[64] = "";
    const char *argv[] = {"qpdf", "--show-npages", "/dev/fd/3", NULL};
    bl_exec_t ex = {.argv = argv,
                    .stdin_fd = -1,
                    .stdout_fd = -1,
                    .doc_fd = doc_fd,
                    .capture = out,
                    .capture_size = sizeof(out)};
    int rc = bl_exec_run(&ex);
    if (rc < 0)
        return -1;
    char *end;
    long n = strtol(out, &end, 10);
    // qpdf: 0 = fine, 3 = warnings (repaired), 2 = errors.
    if ((rc != 0 && rc != 3) || end == out || n < 1 || n > 10000000) {
        if (strstr(ex.first_error, "password")) {
            bl_drv_msg("ERROR", "the PDF is password-protected");
            return -1;
        }
        bl_drv_msg("ERROR", "the document is not a valid PDF (%s)",
                   ex.first_error[0] ? strip_prefix(ex.first_error) : "no pages");
        return -1;
    }
    if (rc == 3)
        bl_drv_msg("WARNING", "the PDF is damaged; qpdf repaired it");
    return n;
}

pid_t bl_pdf_count_pages_start(int doc_fd)
{
    pid_t pid = fork();
    if (pid != 0) {
        if (pid < 0)
            bl_drv_msg("ERROR", "cannot start the page count: %s", strerror(errno));
        return pid;
    }
    // The child: it must not hold the next stage's input open.
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0)
        dup2(null, STDOUT_FILENO);
    long n = bl_pdf_count_pages(doc_fd);
    if (n < 0)
        _exit(1);
    bl_drv_msg("PAGE", "total %ld", n);
    _exit(0);
}

bool bl_pdf_count_pages_wait(pid_t pid)
{
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, bl_drv_terminated ? 0 : WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return false;
        if (bl_drv_terminated)
            kill(pid, SIGKILL);
        else if (r == 0)
            poll(NULL, 0, 5);
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool bl_pdf_rewrite(int doc_fd, const char *page_spec, int out_fd, char *err, size_t errlen)
{
    const char *argv[12];
    int n = 0;
    argv[n++] = "qpdf";
    argv[n++] = "--decrypt";
    argv[n++] = "/dev/fd/3";
    if (page_spec) {
        argv[n++] = "--pages";
        argv[n++] = ".";
        argv[n++] = page_spec;
        argv[n++] = "--";
    }
    argv[n++] = "-";
    argv[n] = NULL;
    bl_exec_t ex = {.argv = argv, .stdin_fd = -1, .stdout_fd = out_fd, .doc_fd = doc_fd};
    int rc = bl_exec_run(&ex);
    if (rc == 0 || rc == 3)
        return true;
    char text[600] = "";
    if (rc > 0)
        snprintf(text, sizeof(text), "the document is not a valid PDF (%s)",
                 ex.first_error[0] ? strip_prefix(ex.first_error) : "qpdf failed");
    if (err)
        snprintf(err, errlen, "%s", text);
    else if (text[0])
        bl_drv_msg("ERROR", "%s", text);
    return false;
}
