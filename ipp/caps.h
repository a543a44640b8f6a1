// Device capabilities: a printer's Get-Printer-Attributes reply, validated and reduced.
// Licensed under the Apache License, Version 2.0.
//
// A printer's reply is untrusted input. bl_caps_sanitize() keeps only the printer attributes
// that Blatt knows, each checked against its expected syntax, count, length, range and charset;
// everything else is dropped and counted. Nothing from a device reaches a file, a log line or a
// command line without passing through here.
#ifndef BL_CAPS_H
#define BL_CAPS_H

#include <cups/ipp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// A new ipp_t (printer group only) with the validated attributes of `resp`; *dropped counts the
// attributes or values that were refused (may be NULL). NULL when out of memory. Caller owns.
ipp_t *bl_caps_sanitize(ipp_t *resp, size_t *dropped);
// Serialises caps for the store (IPP binary encoding). *data is malloc'd, caller frees.
bool bl_caps_encode(ipp_t *caps, uint8_t **data, size_t *len);
// Decodes stored caps and sanitises them again. NULL when unusable. Caller owns.
ipp_t *bl_caps_decode(const void *data, size_t len);
// Built-in capabilities of a device that cannot be asked (file and socket queues) that takes
// documents of `format` (application/pdf, image/pwg-raster or image/urf). Caller owns.
ipp_t *bl_caps_virtual(const char *format);

#endif
