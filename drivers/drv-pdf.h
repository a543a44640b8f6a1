// qpdf helpers shared by the PDF filters: input in a memfd, page count, rewriting.
// Licensed under the Apache License, Version 2.0.
#ifndef BL_DRV_PDF_H
#define BL_DRV_PDF_H

#include "drivers/drivers-private.h"

#include <fcntl.h>

#define BL_PDF_MAX_SIZE (2ull << 30) // 2 GiB

// Reads the document (stdin, or argv[6] as CUPS filters allow) into a sealed memfd.
// Returns the fd or -1 after printing an ERROR line; *len is its size.
int bl_pdf_open_input(int argc, char **argv, uint64_t *len);

// Pages of the PDF in doc_fd (qpdf --show-npages), or -1 after printing an ERROR line.
long bl_pdf_count_pages(int doc_fd);
// The same in a child process, beside the caller's own work (the count is off the critical
// path): the child prints "PAGE: total N" or the ERROR line itself. Returns its pid or -1.
pid_t bl_pdf_count_pages_start(int doc_fd);
// Reaps that child (killing it when this filter was canceled); true when the count succeeded.
bool bl_pdf_count_pages_wait(pid_t pid);

// Writes a normalised copy of the PDF to out_fd (qpdf), keeping only the pages of
// page_spec (a qpdf page list such as "1-3,5") unless it is NULL. false after an ERROR line,
// or with the ERROR text in err (errlen bytes) instead when err is not NULL.
bool bl_pdf_rewrite(int doc_fd, const char *page_spec, int out_fd, char *err, size_t errlen);

#endif
