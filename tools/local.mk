# tools/: the blatt command line.
bin_PROGRAMS += blatt
blatt_SOURCES = tools/blatt.c tools/admin.c tools/admin.h
blatt_CPPFLAGS = $(AM_CPPFLAGS) $(CUPS_CFLAGS) $(OPENSSL_CFLAGS) $(SQLITE_CFLAGS) $(JANSSON_CFLAGS)
blatt_LDADD = $(BL_SERVER_LIBS)

EXTRA_DIST += tools/install-deps.sh
