# tests/: unit tests (cmocka, beside their code), fuzz corpus replays and integration tests
# (bash + TAP, the real daemon with real peers on loopback).

BL_UNIT_CPPFLAGS = $(AM_CPPFLAGS) $(CMOCKA_CFLAGS) $(CUPS_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(OPENSSL_CFLAGS) $(SQLITE_CFLAGS) -I$(LLHTTP_INC) -DSRCDIR='"$(abs_top_srcdir)"'

BL_IT =

# Unit tests.
BL_UNIT_TESTS = test-spool test-doclog test-store test-audit test-frame test-config test-status \
	test-graph test-inflate
check_PROGRAMS += $(BL_UNIT_TESTS)
test_spool_SOURCES = server/test-spool.c
test_spool_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
test_spool_LDADD = $(BL_SERVER_LIBS) $(CMOCKA_LIBS)
test_doclog_SOURCES = server/test-doclog.c
test_doclog_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
test_doclog_LDADD = $(BL_SERVER_LIBS) $(CMOCKA_LIBS)
test_audit_SOURCES = server/test-audit.c server/test-loop.h
test_audit_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
test_audit_LDADD = $(BL_SERVER_LIBS) $(CMOCKA_LIBS)
test_store_SOURCES = server/test-store.c server/test-loop.h
test_store_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
test_store_LDADD = $(BL_SERVER_LIBS) $(CMOCKA_LIBS)
test_frame_SOURCES = ipp/test-frame.c
test_frame_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
test_frame_LDADD = $(BL_SERVER_LIBS) $(CMOCKA_LIBS)
test_config_SOURCES = server/test-config.c
test_config_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
test_config_LDADD = server/libblcommon.a $(CMOCKA_LIBS)
test_status_SOURCES = drivers/test-status.c
test_status_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
test_status_LDADD = drivers/libbldrivers.a $(CMOCKA_LIBS)
test_graph_SOURCES = drivers/test-graph.c
test_graph_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
test_graph_LDADD = drivers/libbldrivers.a $(CMOCKA_LIBS)
test_inflate_SOURCES = server/test-inflate.c
test_inflate_CPPFLAGS = $(BL_UNIT_CPPFLAGS) $(ZLIB_CFLAGS)
test_inflate_LDADD = server/libblserver.a $(ZLIB_LIBS) $(CMOCKA_LIBS)

# Fuzz targets, linked with tests/fuzz/replay.c so that `make check` replays their corpora
# (tests/fuzz/TARGET/). `make fuzz` builds them for libFuzzer with clang.
BL_FUZZ_TARGETS = fuzz-spool fuzz-ipp fuzz-http fuzz-config fuzz-status
check_PROGRAMS += $(BL_FUZZ_TARGETS)
fuzz_spool_SOURCES = server/fuzz-spool.c tests/fuzz/replay.c
fuzz_spool_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
fuzz_spool_LDADD = $(BL_SERVER_LIBS)
fuzz_ipp_SOURCES = ipp/fuzz-ipp.c tests/fuzz/replay.c
fuzz_ipp_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
fuzz_ipp_LDADD = $(BL_SERVER_LIBS)
fuzz_http_SOURCES = server/fuzz-http.c tests/fuzz/replay.c
fuzz_http_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
fuzz_http_LDADD = $(BL_SERVER_LIBS)
fuzz_config_SOURCES = server/fuzz-config.c tests/fuzz/replay.c
fuzz_config_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
fuzz_config_LDADD = server/libblcommon.a
fuzz_status_SOURCES = drivers/fuzz-status.c tests/fuzz/replay.c
fuzz_status_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
fuzz_status_LDADD = drivers/libbldrivers.a

BL_UNIT_TESTS += test-caps test-printer-attrs
test_caps_SOURCES = ipp/test-caps.c
test_caps_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
test_caps_LDADD = ipp/libblipp.a $(CUPS_LIBS) $(CMOCKA_LIBS)
test_printer_attrs_SOURCES = ipp/test-printer-attrs.c
test_printer_attrs_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
test_printer_attrs_LDADD = ipp/libblipp.a $(CUPS_LIBS) $(CMOCKA_LIBS)
BL_FUZZ_TARGETS += fuzz-caps
fuzz_caps_SOURCES = ipp/fuzz-caps.c tests/fuzz/replay.c
fuzz_caps_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
fuzz_caps_LDADD = ipp/libblipp.a $(CUPS_LIBS)

BL_UNIT_TESTS += test-drv-options test-drv-jpeg test-drv-raster
test_drv_options_SOURCES = drivers/test-options.c
test_drv_options_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
test_drv_options_LDADD = drivers/libbldrv.a $(CMOCKA_LIBS)
test_drv_jpeg_SOURCES = drivers/test-jpeg.c
test_drv_jpeg_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
test_drv_jpeg_LDADD = drivers/libbldrv.a $(CMOCKA_LIBS)
test_drv_raster_SOURCES = drivers/test-raster.c
test_drv_raster_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
test_drv_raster_LDADD = drivers/libbldrv.a $(CMOCKA_LIBS)

# Corpora: tests/fuzz/jpeg/ and tests/fuzz/raster/ (fuzz-replay.sh maps fuzz-X -> tests/fuzz/X).
BL_FUZZ_TARGETS += fuzz-jpeg fuzz-raster
fuzz_jpeg_SOURCES = drivers/fuzz-jpeg.c tests/fuzz/replay.c
fuzz_jpeg_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
fuzz_jpeg_LDADD = drivers/libbldrv.a
fuzz_raster_SOURCES = drivers/fuzz-raster.c tests/fuzz/replay.c
fuzz_raster_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
fuzz_raster_LDADD = drivers/libbldrv.a

# Real qpdf, gs, ippeveprinter (private D-Bus) and a perl TCP listener, all on loopback.
BL_IT += tests/drivers.sh

# Benchmarks (tests/bench/): the load generator, the connection holder and the library floor.
check_PROGRAMS += tests/bench/ippload tests/bench/connhold tests/bench/libfloor
tests_bench_ippload_SOURCES = tests/bench/ippload.c
tests_bench_ippload_CPPFLAGS = $(AM_CPPFLAGS) $(CUPS_CFLAGS)
tests_bench_ippload_LDADD = $(CUPS_LIBS) -lpthread
tests_bench_connhold_SOURCES = tests/bench/connhold.c
tests_bench_libfloor_SOURCES = tests/bench/libfloor.c
tests_bench_libfloor_LDADD = -ldl
BL_IT += tests/bench-quick.sh
EXTRA_DIST += tests/bench/bench.sh

# `make bench`: the full benchmarks side by side with cupsd; the report goes to
# tests/bench/report.md.
bench: all tests/bench/ippload tests/bench/connhold tests/bench/libfloor
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
		$(BASH) $(srcdir)/tests/bench/bench.sh
.PHONY: bench

# Integration tests: bash scripts that print TAP.
BL_IT += tests/fuzz-replay.sh tests/config.sh tests/http.sh tests/print.sh tests/ipptool.sh \
	tests/durability.sh tests/printer-down.sh tests/plaintext.sh tests/bad-input.sh \
	tests/slow-client.sh tests/cli.sh tests/man.sh tests/cancel.sh tests/robustness.sh \
	tests/doclog.sh tests/commitfail.sh tests/filter-crash.sh

TESTS += $(BL_UNIT_TESTS) $(BL_IT)
TEST_EXTENSIONS = .sh
SH_LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
SH_LOG_COMPILER = $(BASH)
AM_TESTS_ENVIRONMENT = top_srcdir='$(abs_top_srcdir)'; top_builddir='$(abs_top_builddir)'; \
	BL_FUZZ_TARGETS='$(BL_FUZZ_TARGETS)'; BL_SANITIZED='$(SAN_CFLAGS)'; \
	export top_srcdir top_builddir BL_FUZZ_TARGETS BL_SANITIZED;
EXTRA_DIST += $(BL_IT) tests/lib.sh tests/fuzz tests/ipp
clean-local:
	rm -rf tests/work

# OAuth2 / OIDC bearer tokens: the JWT/JWKS verifier, its fuzz target, and a real provider
# (npm oidc-provider on loopback, tests/oidc/) that issues the tokens jwtcheck and blattd judge.
BL_UNIT_TESTS += test-jwt
test_jwt_SOURCES = server/test-jwt.c
test_jwt_CPPFLAGS = $(BL_UNIT_CPPFLAGS) $(JANSSON_CFLAGS)
test_jwt_LDADD = server/libblserver.a $(OPENSSL_LIBS) $(JANSSON_LIBS) $(CMOCKA_LIBS)
BL_FUZZ_TARGETS += fuzz-jwt
fuzz_jwt_SOURCES = server/fuzz-jwt.c tests/fuzz/replay.c
fuzz_jwt_CPPFLAGS = $(BL_UNIT_CPPFLAGS) $(JANSSON_CFLAGS)
fuzz_jwt_LDADD = server/libblserver.a $(OPENSSL_LIBS) $(JANSSON_LIBS)
check_PROGRAMS += tests/oidc/jwtcheck
tests_oidc_jwtcheck_SOURCES = tests/oidc/jwtcheck.c
tests_oidc_jwtcheck_CPPFLAGS = $(AM_CPPFLAGS) $(OPENSSL_CFLAGS)
tests_oidc_jwtcheck_LDADD = server/libblserver.a $(OPENSSL_LIBS) $(JANSSON_LIBS)
BL_IT += tests/oidc-jwt.sh
EXTRA_DIST += tests/oidc/provider.mjs tests/oidc/get-token.sh tests/oidc/package.json \
	tests/oidc/package-lock.json

# blattd with bearer tokens end to end: the issuer's keys fetched off the loop (server/fetch.c,
# server/auth-keys.c), rotation, refresh, https; Basic against PAM with real test users (root).
BL_UNIT_TESTS += test-fetch
test_fetch_SOURCES = server/test-fetch.c
test_fetch_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
test_fetch_LDADD = server/libblserver.a server/libllhttp.a $(OPENSSL_LIBS) $(CMOCKA_LIBS) \
	$(AX_PTHREAD_LIBS)
BL_FUZZ_TARGETS += fuzz-fetch
fuzz_fetch_SOURCES = server/fuzz-fetch.c tests/fuzz/replay.c
fuzz_fetch_CPPFLAGS = $(BL_UNIT_CPPFLAGS) $(JANSSON_CFLAGS)
fuzz_fetch_LDADD = server/libblserver.a server/libllhttp.a $(OPENSSL_LIBS) $(JANSSON_LIBS)
BL_IT += tests/oidc-blattd.sh tests/pam.sh

# The sandbox of filters and backends: hostile programs that blatt-exec must stop.
BL_SANDBOX_EVIL = tests/sandbox/evil-net tests/sandbox/evil-write tests/sandbox/evil-cpu \
	tests/sandbox/evil-mem tests/sandbox/evil-fsize tests/sandbox/evil-ptrace \
	tests/sandbox/evil-setuid tests/sandbox/evil-ns
check_PROGRAMS += $(BL_SANDBOX_EVIL) tests/sandbox/sandbox-argv
tests_sandbox_evil_net_SOURCES = tests/sandbox/evil-net.c
tests_sandbox_evil_write_SOURCES = tests/sandbox/evil-write.c
tests_sandbox_evil_cpu_SOURCES = tests/sandbox/evil-cpu.c
tests_sandbox_evil_mem_SOURCES = tests/sandbox/evil-mem.c
tests_sandbox_evil_fsize_SOURCES = tests/sandbox/evil-fsize.c
tests_sandbox_evil_ptrace_SOURCES = tests/sandbox/evil-ptrace.c
tests_sandbox_evil_setuid_SOURCES = tests/sandbox/evil-setuid.c
tests_sandbox_evil_ns_SOURCES = tests/sandbox/evil-ns.c
# They run under the sandbox's memory limit, which ASan cannot (configure.ac: UBSAN_CFLAGS).
BL_UBSAN_ONLY_CFLAGS = -std=c17 $(WARN_CFLAGS) $(UBSAN_CFLAGS)
tests_sandbox_evil_net_CFLAGS = $(BL_UBSAN_ONLY_CFLAGS)
tests_sandbox_evil_write_CFLAGS = $(BL_UBSAN_ONLY_CFLAGS)
tests_sandbox_evil_cpu_CFLAGS = $(BL_UBSAN_ONLY_CFLAGS)
tests_sandbox_evil_mem_CFLAGS = $(BL_UBSAN_ONLY_CFLAGS)
tests_sandbox_evil_fsize_CFLAGS = $(BL_UBSAN_ONLY_CFLAGS)
tests_sandbox_evil_ptrace_CFLAGS = $(BL_UBSAN_ONLY_CFLAGS)
tests_sandbox_evil_setuid_CFLAGS = $(BL_UBSAN_ONLY_CFLAGS)
tests_sandbox_evil_ns_CFLAGS = $(BL_UBSAN_ONLY_CFLAGS)
tests_sandbox_evil_net_LDFLAGS = $(UBSAN_CFLAGS)
tests_sandbox_evil_write_LDFLAGS = $(UBSAN_CFLAGS)
tests_sandbox_evil_cpu_LDFLAGS = $(UBSAN_CFLAGS)
tests_sandbox_evil_mem_LDFLAGS = $(UBSAN_CFLAGS)
tests_sandbox_evil_fsize_LDFLAGS = $(UBSAN_CFLAGS)
tests_sandbox_evil_ptrace_LDFLAGS = $(UBSAN_CFLAGS)
tests_sandbox_evil_setuid_LDFLAGS = $(UBSAN_CFLAGS)
tests_sandbox_evil_ns_LDFLAGS = $(UBSAN_CFLAGS)
tests_sandbox_sandbox_argv_SOURCES = tests/sandbox/sandbox-argv.c
tests_sandbox_sandbox_argv_LDADD = drivers/libbldrivers.a $(PAM_LIBS) $(AX_PTHREAD_LIBS)
BL_IT += tests/sandbox.sh

# The audit chain, data-subject commands, key rotation, retention, certificate reload; TLS as
# sslscan sees it; TLS client certificates (mtls.sh).
BL_IT += tests/audit.sh tests/tls.sh tests/mtls.sh

# Fuzz targets of the policy file and of the Authorization header.
BL_FUZZ_TARGETS += fuzz-policy fuzz-authz
fuzz_policy_SOURCES = server/fuzz-policy.c tests/fuzz/replay.c
fuzz_policy_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
fuzz_policy_LDADD = server/libblcommon.a
fuzz_authz_SOURCES = server/fuzz-authz.c tests/fuzz/replay.c
fuzz_authz_CPPFLAGS = $(BL_UNIT_CPPFLAGS)
fuzz_authz_LDADD = $(BL_SERVER_LIBS)

# Hostile printer (tests/hostile/): a fake IPP printer whose replies attack blattd, a decoder
# that checks stored caps and replies, and a spy that records a stage's argv and environment.
check_PROGRAMS += tests/hostile/hostile-printer tests/hostile/capsdump tests/hostile/spy
tests_hostile_hostile_printer_SOURCES = tests/hostile/hostile-printer.c
tests_hostile_capsdump_SOURCES = tests/hostile/capsdump.c
tests_hostile_capsdump_CPPFLAGS = $(AM_CPPFLAGS) $(CUPS_CFLAGS)
tests_hostile_capsdump_LDADD = $(CUPS_LIBS)
tests_hostile_spy_SOURCES = tests/hostile/spy.c
tests_hostile_spy_CPPFLAGS = $(AM_CPPFLAGS) -DBL_BUILDDIR='"$(abs_top_builddir)"'
BL_IT += tests/hostile-printer.sh

# The sandbox through the daemon: hostile filters and a backend that blattd starts itself.
check_PROGRAMS += tests/sandbox/evil-daemon tests/midway
tests_midway_SOURCES = tests/midway.c
# Run by blattd as a sandboxed filter, where LeakSanitizer cannot run (see BL_UBSAN_ONLY_CFLAGS).
tests_midway_CFLAGS = $(BL_UBSAN_ONLY_CFLAGS)
tests_midway_LDFLAGS = $(UBSAN_CFLAGS)
tests_sandbox_evil_daemon_SOURCES = tests/sandbox/evil-daemon.c
tests_sandbox_evil_daemon_CFLAGS = $(BL_UBSAN_ONLY_CFLAGS)
tests_sandbox_evil_daemon_LDFLAGS = $(UBSAN_CFLAGS)
BL_IT += tests/sandbox-daemon.sh

# Authorisation: the matrix of tests/authz-matrix.txt and the CUPS failure classes (document
# fetching, Basic on a bearer listener, names differing in case, requesting-user-name), driven
# by a small libcups client.
check_PROGRAMS += tests/authz/ippreq
tests_authz_ippreq_SOURCES = tests/authz/ippreq.c
tests_authz_ippreq_CPPFLAGS = $(AM_CPPFLAGS) $(CUPS_CFLAGS)
tests_authz_ippreq_LDADD = $(CUPS_LIBS)
BL_IT += tests/authz.sh tests/authz-cve.sh
EXTRA_DIST += tests/authz-matrix.txt tests/authz/common.sh
