# drivers/: the job pipeline's process runner, format graph and status-line parser (linked into
# blattd), and the bundled filters, backends and helpers (separate programs).
noinst_LIBRARIES += drivers/libbldrivers.a
drivers_libbldrivers_a_SOURCES = \
	drivers/status.c drivers/status.h \
	drivers/runner.c drivers/runner.h \
	drivers/graph.c drivers/graph.h
drivers_libbldrivers_a_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS)
