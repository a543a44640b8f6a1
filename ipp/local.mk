# ipp/: IPP framing, validation, attribute sets and operation handlers (no sockets).
noinst_LIBRARIES += ipp/libblipp.a
ipp_libblipp_a_SOURCES = \
	ipp/ipp.h ipp/ipp-private.h \
	ipp/frame.c ipp/frame.h \
	ipp/request.c ipp/job-template.c \
	ipp/caps.c ipp/caps.h ipp/printer-attrs.c ipp/printer-attrs.h \
	ipp/printer-ipp.c ipp/job-ipp.c ipp/system-ipp.c
ipp_libblipp_a_CPPFLAGS = $(AM_CPPFLAGS) $(CUPS_CFLAGS) $(LIBEVENT_CFLAGS) $(SQLITE_CFLAGS)
