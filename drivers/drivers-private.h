// Shared helpers of the bundled filters, backends and the probe helper (separate programs).
// Licensed under the Apache License, Version 2.0.
//
// Every program here follows blatt-filter(7) / blatt-backend(7): argv = {name, JOB-ID, USER,
// TITLE, COPIES, OPTIONS}, the document on stdin (a pipe), status lines on stderr. Plaintext
// document data lives only in pipes and memory (memfd); external tools get a memfd as
// /dev/fd/3.
#ifndef BL_DRIVERS_PRIVATE_H
#define BL_DRIVERS_PRIVATE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// Exit codes shared with blattd (the CUPS backend codes).
enum {
    BL_EXIT_OK = 0,
    BL_EXIT_FAILED = 1,
    BL_EXIT_STOP = 4,
    BL_EXIT_CANCEL = 5,
    BL_EXIT_RETRY = 6,
    BL_EXIT_RETRY_CURRENT = 7,
};

// ---- drv-options.c: the OPTIONS argument and page ranges ----

#define BL_OPTIONS_MAX 64
#define BL_OPTION_NAME_MAX 64
#define BL_OPTION_VALUE_MAX 256

typedef struct bl_options {
    size_t count;
    struct {
        char name[BL_OPTION_NAME_MAX];
        char value[BL_OPTION_VALUE_MAX];
    } items[BL_OPTIONS_MAX];
} bl_options_t;

// Parses "name=value name=value ..." (NULL is empty). Malformed pairs are skipped; a later
// pair replaces an earlier one of the same name.
void bl_options_parse(const char *text, bl_options_t *out);

// Value of name, borrowed from opts, or NULL.
const char *bl_options_find(const bl_options_t *opts, const char *name);

// Integer value of name when it is all digits and within [min, max], else def.
long bl_options_get_int(const bl_options_t *opts, const char *name, long min, long max, long def);

#define BL_PAGE_RANGES_MAX 64

typedef struct bl_page_ranges {
    size_t count;
    struct {
        long first, last;
    } r[BL_PAGE_RANGES_MAX];
} bl_page_ranges_t;

// Parses "1-3,5,7-" style page ranges (1-based; "7-" runs to the end). false when malformed.
bool bl_page_ranges_parse(const char *text, bl_page_ranges_t *out);

// Clips ranges to a document of npages pages and writes them as a qpdf page list ("1-3,5")
// into spec. Returns the number of pages selected (0: none), -1 when spec is too small.
long bl_page_ranges_clip(const bl_page_ranges_t *ranges, long npages, char *spec, size_t len);

// ---- drv-media.c: media sizes (libcups) ----

// Size in points of a PWG self-describing media name; false when unknown.
bool bl_media_get_size(const char *pwg_name, double *width_pt, double *height_pt);

// ---- drv-status.c: status lines and signals ----

// Set by SIGTERM (and SIGINT): the job is being canceled.
extern volatile sig_atomic_t bl_drv_terminated;

// Installs the SIGTERM/SIGINT handler (no SA_RESTART) and ignores SIGPIPE.
void bl_drv_signals_init(void);
// The next stage stopped reading our stdout (EPIPE, or a child writing there died of SIGPIPE):
// dies of SIGPIPE, as a program without our handlers would, so that the runner blames the
// stage that stopped (drivers/runner.c) and not this one. Never returns.
_Noreturn void bl_drv_broken_pipe(void);

// Writes "PREFIX: text\n" to stderr in one write; the text is sanitised to printable UTF-8.
void bl_drv_msg(const char *prefix, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Copies printable UTF-8 of src[0..len) into dst (NUL-terminated, at most dlen-1 bytes);
// control characters and invalid bytes become '?'.
void bl_text_sanitize(const char *src, size_t len, char *dst, size_t dlen);

// Checks the argument count of a filter or backend (6 or 7); prints usage on error.
bool bl_drv_check_args(int argc, char **argv);

// ---- drv-io.c: pipes and memory files ----

// Writes all of buf (retries EINTR and short writes). false on error (errno set).
bool bl_fd_write_all(int fd, const void *buf, size_t len);

// read() that retries EINTR unless the job was canceled.
ssize_t bl_fd_read(int fd, void *buf, size_t len);

// Copies in_fd to out_fd until EOF. false on error or cancel; *copied counts bytes written.
bool bl_fd_copy(int in_fd, int out_fd, uint64_t *copied);

// Reads in_fd to EOF into a new sealed memfd (at most cap bytes). Returns the fd (offset 0)
// or -1 after printing an ERROR line. *len receives the size.
int bl_memfd_slurp(int in_fd, uint64_t cap, const char *name, uint64_t *len);

// Reads in_fd to EOF into malloc'd memory (at most cap bytes; caller frees). NULL after
// printing an ERROR line.
uint8_t *bl_fd_slurp_alloc(int in_fd, size_t cap, size_t *len);

// ---- drv-net.c: TCP ----

// Resolves host and connects to port (each address in turn) within timeout_ms. Returns a
// non-blocking socket, or -1 with the reason in why. SIGTERM ends the attempt.
int bl_net_connect(const char *host, const char *port, int timeout_ms, char *why, size_t len);

// ---- drv-exec.c: running qpdf and gs ----

typedef struct bl_exec {
    const char *const *argv; // argv[0] is a program name looked up in /usr/bin, /bin
    int stdin_fd;            // child's stdin, -1 for /dev/null
    int stdout_fd;           // child's stdout, -1 to capture it into capture[]
    int doc_fd;              // becomes the child's fd 3 (/dev/fd/3), -1 for none
    char *capture;           // captured stdout (NUL-terminated, truncated to capture_size-1)
    size_t capture_size;
    char first_error[200]; // first stderr line but INFO/DEBUG/WARNING ones (sanitised)
} bl_exec_t;

// Runs a program with an explicit argv and a minimal environment (no shell), forwards
// SIGTERM to it and reaps it. Its stderr becomes DEBUG lines (bounded). Returns its exit
// status (0..255), or -1 when it could not start, died of a signal or was canceled.
int bl_exec_run(bl_exec_t *ex);

#endif
