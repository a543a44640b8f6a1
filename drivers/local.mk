# drivers/: the job pipeline's process runner, format graph and status-line parser (linked into
# blattd), and the bundled filters, backends and helpers (separate programs).
noinst_LIBRARIES += drivers/libbldrivers.a
drivers_libbldrivers_a_SOURCES = \
	drivers/status.c drivers/status.h \
	drivers/runner.c drivers/runner.h drivers/child-exec.c \
	drivers/graph.c drivers/graph.h \
	drivers/sandbox.c drivers/sandbox.h \
	drivers/launcher.c drivers/launcher.h
drivers_libbldrivers_a_CPPFLAGS = $(AM_CPPFLAGS) $(LIBEVENT_CFLAGS)

# Shared code of the separate programs (drivers-private.h).
noinst_LIBRARIES += drivers/libbldrv.a
drivers_libbldrv_a_SOURCES = drivers/drivers-private.h \
	drivers/drv-exec.c drivers/drv-io.c drivers/drv-media.c drivers/drv-net.c \
	drivers/drv-options.c drivers/drv-status.c \
	drivers/drv-ipp.c drivers/drv-ipp.h drivers/drv-jpeg.c drivers/drv-jpeg.h \
	drivers/drv-pdf.c drivers/drv-pdf.h drivers/drv-raster.c drivers/drv-raster.h
drivers_libbldrv_a_CPPFLAGS = $(AM_CPPFLAGS) $(CUPS_CFLAGS)
BL_DRV_LIBS = drivers/libbldrv.a $(CUPS_LIBS)

filter_PROGRAMS += drivers/filter/pdfcheck drivers/filter/pdftoraster \
	drivers/filter/jpegtopdf drivers/filter/rastercheck drivers/filter/jpegcheck
drivers_filter_jpegcheck_SOURCES = drivers/filter/jpegcheck.c
drivers_filter_jpegcheck_CPPFLAGS = $(drivers_libbldrv_a_CPPFLAGS)
drivers_filter_jpegcheck_LDADD = $(BL_DRV_LIBS)
drivers_filter_pdfcheck_SOURCES = drivers/filter/pdfcheck.c
drivers_filter_pdfcheck_CPPFLAGS = $(drivers_libbldrv_a_CPPFLAGS)
drivers_filter_pdfcheck_LDADD = $(BL_DRV_LIBS)
drivers_filter_pdftoraster_SOURCES = drivers/filter/pdftoraster.c
drivers_filter_pdftoraster_CPPFLAGS = $(drivers_libbldrv_a_CPPFLAGS)
drivers_filter_pdftoraster_LDADD = $(BL_DRV_LIBS)
drivers_filter_jpegtopdf_SOURCES = drivers/filter/jpegtopdf.c
drivers_filter_jpegtopdf_CPPFLAGS = $(drivers_libbldrv_a_CPPFLAGS)
drivers_filter_jpegtopdf_LDADD = $(BL_DRV_LIBS)
drivers_filter_rastercheck_SOURCES = drivers/filter/rastercheck.c
drivers_filter_rastercheck_CPPFLAGS = $(drivers_libbldrv_a_CPPFLAGS)
drivers_filter_rastercheck_LDADD = $(BL_DRV_LIBS)

backend_PROGRAMS += drivers/backend/ipp drivers/backend/socket drivers/backend/file
drivers_backend_ipp_SOURCES = drivers/backend/ipp.c
drivers_backend_ipp_CPPFLAGS = $(drivers_libbldrv_a_CPPFLAGS)
drivers_backend_ipp_LDADD = $(BL_DRV_LIBS)
drivers_backend_socket_SOURCES = drivers/backend/socket.c
drivers_backend_socket_CPPFLAGS = $(drivers_libbldrv_a_CPPFLAGS)
drivers_backend_socket_LDADD = $(BL_DRV_LIBS)
drivers_backend_file_SOURCES = drivers/backend/file.c
drivers_backend_file_CPPFLAGS = $(drivers_libbldrv_a_CPPFLAGS)
drivers_backend_file_LDADD = $(BL_DRV_LIBS)

# The sandbox every filter and backend starts through (drivers/sandbox.h).
helper_PROGRAMS += drivers/blatt-exec
drivers_blatt_exec_SOURCES = drivers/blatt-exec.c drivers/sandbox.h
drivers_blatt_exec_CPPFLAGS = $(AM_CPPFLAGS) $(SECCOMP_CFLAGS)
drivers_blatt_exec_LDADD = $(SECCOMP_LIBS)
drivers_blatt_exec_CFLAGS = -std=c17 $(WARN_CFLAGS) $(UBSAN_CFLAGS)
drivers_blatt_exec_LDFLAGS = $(UBSAN_CFLAGS)

helper_PROGRAMS += drivers/probe
drivers_probe_SOURCES = drivers/probe.c
drivers_probe_CPPFLAGS = $(drivers_libbldrv_a_CPPFLAGS)
drivers_probe_LDADD = $(BL_DRV_LIBS)
