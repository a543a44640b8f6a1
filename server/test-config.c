// Unit tests of the blattd.conf parser (server/config.c): values, defaults and file:line errors.
// Licensed under the Apache License, Version 2.0.
#include "server/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static bl_config_t *parse(const char *text, char *err, size_t errlen)
{
    return bl_config_parse(text, strlen(text), "t.conf", err, errlen);
}

static void test_full_config(void **state)
{
    (void)state;
    char err[256];
    bl_config_t *c =
        parse("Listen 127.0.0.1:8631\nListen [::1]:8632\nListen /run/b.sock\n"
              "StateDir /var/tmp/b\nLogLevel debug\nMaxHeaderSize 8K\n"
              "BodyTimeout 2m\nMaxDocumentSize 2G\nDefaultPrinter b\n"
              "<Printer a>\n DeviceURI ipp://10.0.0.5/ipp/print\n Info A # c\n"
              " ReleaseMode hold\n</Printer>\n<Printer b>\n DeviceURI file:///srv/o\n"
              " DocumentFormat image/pwg-raster\n DefaultColorMode color\n</Printer>\n",
              err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(c->num_listen, 3);
    assert_string_equal(c->listen[0].host, "127.0.0.1");
    assert_int_equal(c->listen[0].port, 8631);
    assert_string_equal(c->listen[1].host, "::1");
    assert_int_equal(c->listen[1].port, 8632);
    assert_string_equal(c->listen[2].path, "/run/b.sock");
    assert_string_equal(c->state_dir, "/var/tmp/b");
    assert_int_equal(c->log_level, BL_LOG_DEBUG);
    assert_int_equal(c->max_header_size, 8192);
    assert_int_equal(c->body_timeout, 120);
    assert_true(c->max_document_size == 2ULL * 1024 * 1024 * 1024);
    assert_int_equal(c->num_printers, 2);
    const bl_printer_conf_t *a = bl_config_find_printer(c, "a");
    assert_non_null(a);
    assert_string_equal(a->info, "A");
    assert_int_equal(a->release_mode, BL_RELEASE_HOLD);
    // Duplex and monochrome unless the admin says otherwise.
    assert_string_equal(a->default_sides, "two-sided-long-edge");
    assert_string_equal(a->default_color_mode, "monochrome");
    assert_string_equal(a->document_format, "application/pdf");
    const bl_printer_conf_t *b = bl_config_find_printer(c, "b");
    assert_string_equal(b->default_color_mode, "color");
    assert_string_equal(b->document_format, "image/pwg-raster");
    assert_string_equal(c->default_printer, "b");
    bl_config_delete(c);
}

static void test_defaults(void **state)
{
    (void)state;
    char err[256];
    bl_config_t *c = parse("# nothing\n\n", err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(c->num_listen, 1);
    assert_string_equal(c->listen[0].host, "localhost");
    assert_int_equal(c->listen[0].port, 631);
    assert_string_equal(c->state_dir, BL_LOCALSTATEDIR "/lib/blatt");
    assert_int_equal(c->max_headers, 100);
    assert_int_equal(c->request_timeout, 30);
    assert_false(c->allow_plain_remote);
    bl_config_delete(c);
}

// Each bad input must fail and name the right line.
static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"Foo bar\n", "t.conf:1: unknown directive \"Foo\""},
        {"LogLevel info\nStateDir /a\nStateDir /b\n", "t.conf:3: StateDir given twice"},
        {"<Printer a>\n<Printer b>\n", "t.conf:2: <Printer> blocks cannot nest"},
        {"<Printer a>\n DeviceURI ipp://h/\n", "t.conf:2: <Printer a> is not closed"},
        {"<Printer a>\n</Printer>\n", "t.conf:2: printer \"a\" has no DeviceURI"},
        {"Listen 127.0.0.1:99999\n", "t.conf:1: bad port in Listen \"127.0.0.1:99999\""},
        {"MaxHeaders 5\n", "t.conf:1: MaxHeaders: 5 is out of range (8..1000)"},
        {"\n\nMaxHeaderSize 9Q\n", "t.conf:3: MaxHeaderSize: bad number \"9Q\""},
        {"<Printer a>\nDeviceURI lpd://h/q\n</Printer>\n",
         "t.conf:2: DeviceURI scheme must be ipp, ipps, socket or file"},
        {"<Printer a>\nDeviceURI file:///tmp/../etc\n</Printer>\n",
         "t.conf:2: a file DeviceURI must be file:///absolute/directory"},
        {"DeviceURI ipp://x/\n", "t.conf:1: DeviceURI is not allowed outside <Printer>"},
        {"<Printer q>\nDeviceURI file:///dev/shm/out\n</Printer>\n",
         "t.conf:1: <Printer q>: a file queue cannot live under /dev/shm: the sandbox makes it "
         "read-only for the backend (use a directory elsewhere)"},
        {"<Printer a/b>\n", "t.conf:1: invalid printer name \"a/b\" (1-127 of A-Z a-z 0-9 _ . -)"},
        {"DefaultPrinter zz\n", "t.conf:1: DefaultPrinter \"zz\" is not a defined printer"},
        {"<Printer a>\nDeviceURI ipp://h/\nReleaseMode later\n</Printer>\n",
         "t.conf:3: ReleaseMode: \"later\" is not one of direct|hold"},
        {"StateDir relative\n", "t.conf:1: StateDir must be an absolute path"},
        {"MaxDocumentSize 99999999999999999999G\n",
         "t.conf:1: MaxDocumentSize: bad number \"99999999999999999999G\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        bl_config_t *c = parse(cases[i].text, err, sizeof(err));
        assert_null(c);
        assert_string_equal(err, cases[i].msg);
    }
}

static void test_nul_byte(void **state)
{
    (void)state;
    char err[256];
    static const char text[] = "StateDir /a\0b\n";
    assert_null(bl_config_parse(text, sizeof(text) - 1, "t.conf", err, sizeof(err)));
    assert_string_equal(err, "t.conf:1: NUL byte in line");
}

// The OIDC directives: defaults, values, and what does not fit together.
static void test_oidc(void **state)
{
    (void)state;
    char err[256];
    bl_config_t *c = parse("", err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(c->oidc_keys_refresh, 3600);
    assert_int_equal(c->oidc_keys_min_interval, 30);
    assert_int_equal(c->oidc_fetch_timeout, 10);
    assert_int_equal(c->oidc_clock_skew, 60);
    assert_string_equal(c->oidc_keys, "");
    assert_string_equal(c->oidc_ca_file, "");
    bl_config_delete(c);
    c = parse("OIDCIssuer https://idp.example.org/realms/b\nOIDCAudience blatt\n"
              "OIDCKeys https://idp.example.org/certs\nOIDCKeysRefresh 15m\n"
              "OIDCKeysMinInterval 5s\nOIDCFetchTimeout 3s\nOIDCClockSkew 0\n"
              "OIDCCAFile /etc/ssl/idp.pem\n",
              err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(c->oidc_keys, "https://idp.example.org/certs");
    assert_int_equal(c->oidc_keys_refresh, 900);
    assert_int_equal(c->oidc_keys_min_interval, 5);
    assert_int_equal(c->oidc_fetch_timeout, 3);
    assert_int_equal(c->oidc_clock_skew, 0);
    assert_string_equal(c->oidc_ca_file, "/etc/ssl/idp.pem");
    bl_config_delete(c);
    c = parse("OIDCIssuer http://127.0.0.1:5556\nOIDCAudience b\nOIDCKeys /etc/blatt/jwks.json\n",
              err, sizeof(err));
    assert_non_null(c);
    bl_config_delete(c);

    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"OIDCIssuer http://idp.example.org\nOIDCAudience b\n",
         "t.conf:2: OIDCIssuer must be an https:// URL (http:// on loopback only)"},
        {"OIDCIssuer http://127.0.0.1.evil.example\nOIDCAudience b\n",
         "t.conf:2: OIDCIssuer must be an https:// URL (http:// on loopback only)"},
        {"OIDCIssuer idp.example.org\nOIDCAudience b\n",
         "t.conf:2: OIDCIssuer must be an https:// URL (http:// on loopback only)"},
        {"OIDCIssuer https://idp.example.org\n",
         "t.conf:1: OIDCIssuer needs OIDCAudience (what the tokens for blattd say in aud)"},
        {"OIDCIssuer https://i\nOIDCAudience b\nOIDCKeys jwks.json\n",
         "t.conf:3: OIDCKeys must be an absolute path or an https:// URL (http:// on loopback "
         "only)"},
        {"OIDCKeys /etc/blatt/jwks.json\n",
         "t.conf:1: OIDCKeys needs OIDCIssuer (the iss every token must have)"},
        {"OIDCKeysRefresh 5s\n", "t.conf:1: OIDCKeysRefresh: 5s is out of range (10..604800)"},
        {"OIDCFetchTimeout 0\n", "t.conf:1: OIDCFetchTimeout: 0 is out of range (1..300)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char e[256] = "";
        assert_null(parse(cases[i].text, e, sizeof(e)));
        assert_string_equal(e, cases[i].msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_config), cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors),      cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_oidc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
