# server/: blattd and the libraries the other folders and tests link.

# llhttp is compiled from Debian's node-llhttp sources (not copied into the tree).
noinst_LIBRARIES += server/libllhttp.a
# (each wrapper #includes one file from LLHTTP_DIR, found by -I only: not server/http.c)
server_libllhttp_a_SOURCES = server/llhttp-llhttp.c server/llhttp-api.c server/llhttp-http.c
server_libllhttp_a_CPPFLAGS = -I$(LLHTTP_DIR) -I$(LLHTTP_INC)
server_libllhttp_a_CFLAGS = -std=c17 -O2 $(SAN_CFLAGS) -w

# config + log: shared with the blatt tool.
noinst_LIBRARIES += server/libblcommon.a
server_libblcommon_a_SOURCES = server/config.c server/config.h server/log.c server/log.h \
	server/conffile.c server/conffile.h \
	server/policy.c server/policy.h server/auth.h

noinst_LIBRARIES += server/libblserver.a
server_libblserver_a_SOURCES = \
	server/store.c server/store.h \
	server/spool.c server/spool.h \
	server/doclog.c server/doclog.h \
	server/random.c server/random.h \
	server/system.c server/system.h \
	server/printer.c server/printer.h \
	server/job.c server/job.h \
	server/pipeline.c server/pipeline.h \
	server/router.c server/router.h \
	server/tls.c server/tls.h \
	server/http.c server/http-listen.c server/http.h server/http-private.h \
	server/inflate.c server/inflate.h \
	server/audit.c server/audit.h \
	server/auth.c server/auth.h \
	server/auth-keys.c server/auth-keys.h \
	server/fetch.c server/fetch.h \
	server/jwt.c server/jwt.h \
	server/worker.c server/worker.h \
	server/web.c server/web.h
server_libblserver_a_CPPFLAGS = $(AM_CPPFLAGS) -I$(LLHTTP_INC) $(CUPS_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(OPENSSL_CFLAGS) $(SQLITE_CFLAGS) $(JANSSON_CFLAGS) $(ARGON2_CFLAGS)

# The domain (server/) and the IPP face (ipp/) call each other: list the first one twice.
BL_SERVER_LIBS = server/libblserver.a ipp/libblipp.a server/libblserver.a drivers/libbldrivers.a \
	server/libblcommon.a \
	server/libllhttp.a $(LIBEVENT_LIBS) $(OPENSSL_LIBS) $(SQLITE_LIBS) $(CUPS_LIBS) $(ZLIB_LIBS) \
	$(JANSSON_LIBS) $(ARGON2_LIBS) $(PAM_LIBS) $(AX_PTHREAD_LIBS)

sbin_PROGRAMS += blattd
blattd_SOURCES = server/main.c
blattd_CPPFLAGS = $(server_libblserver_a_CPPFLAGS)
# libcrypt is linked although blattd calls none of it: ASan (GCC 12) intercepts crypt(), and when
# only a PAM module (pam_unix) loads libcrypt later, the interceptor calls a NULL pointer.
blattd_LDADD = $(BL_SERVER_LIBS) -lcrypt
