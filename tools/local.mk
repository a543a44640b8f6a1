# tools/: the blatt command line.
bin_PROGRAMS += blatt
blatt_SOURCES = tools/blatt.c
blatt_CPPFLAGS = $(AM_CPPFLAGS) $(CUPS_CFLAGS)
blatt_LDADD = server/libblcommon.a $(CUPS_LIBS)

EXTRA_DIST += tools/install-deps.sh
