// IPP client connection helpers shared by the ipp backend and the probe helper (libcups).
// Licensed under the Apache License, Version 2.0.
#ifndef BL_DRV_IPP_H
#define BL_DRV_IPP_H

#include <cups/cups.h>
#include <stdbool.h>
#include <stddef.h>

#define BL_IPP_CONNECT_MS 10000

typedef struct bl_ipp_conn {
    http_t *http;
    char host[256];
    char resource[1024];
    char uri[2048]; // printer-uri: the device URI without user information
    int port;
    http_encryption_t encryption;
    int version;       // IPP version * 10 (20, or 11 for old devices)
    int connect_ms;    // connect timeout (BL_IPP_CONNECT_MS unless changed)
    int stalled;       // seconds without progress (timeout callback)
    int stall_limit;   // give up after this many seconds without progress
    bool aborted;      // the timeout callback gave up (cancel or stall)
    bool cancel_proof; // SIGTERM does not end waits (for sending Cancel-Job after it)
} bl_ipp_conn_t;

// Splits an ipp:// or ipps:// URI into c. false (reason in why) when it is not one.
bool bl_ipp_conn_parse(bl_ipp_conn_t *c, const char *device_uri, char *why, size_t len);

// Connects (timeout connect_ms; TLS for ipps). false with the reason in why.
bool bl_ipp_conn_open(bl_ipp_conn_t *c, char *why, size_t len);

void bl_ipp_conn_close(bl_ipp_conn_t *c);

// A new request for operation op, with printer-uri and the connection's IPP version.
ipp_t *bl_ipp_conn_request(const bl_ipp_conn_t *c, ipp_op_t op);

// Sends req (consumed) and returns the response (caller deletes), NULL when the exchange
// failed at the transport level (reason copied into why).
ipp_t *bl_ipp_conn_do(bl_ipp_conn_t *c, ipp_t *req, char *why, size_t len);

// Sleeps ms milliseconds unless the job is canceled first; false when canceled.
bool bl_drv_sleep_ms(long ms);

#endif
