// Unit tests of the HTTP(S) GET client of worker threads (server/fetch.c): URLs, the answer
// parser, and the limits of a real exchange on loopback (time-out, cancel, size, plain http).
// Licensed under the Apache License, Version 2.0.
#include "server/fetch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static void test_url_parse(void **state)
{
    (void)state;
    bl_url_t u;
    assert_true(bl_url_parse("https://idp.example.org/realms/blatt?x=1", &u));
    assert_true(u.tls);
    assert_string_equal(u.host, "idp.example.org");
    assert_int_equal(u.port, 443);
    assert_string_equal(u.path, "/realms/blatt?x=1");
    assert_false(u.ip_literal);
    assert_true(bl_url_parse("http://127.0.0.1:8080", &u));
    assert_false(u.tls);
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/");
    assert_true(u.ip_literal);
    assert_true(bl_url_parse("HTTPS://[::1]:9443/jwks", &u));
    assert_true(u.ipv6 && u.ip_literal);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.path, "/jwks");
    assert_true(bl_url_parse("http://localhost?q", &u));
    assert_string_equal(u.path, "/?q");
    assert_int_equal(u.port, 80);

    static const char *const bad[] = {
        "",
        "ftp://x/",
        "https://",
        "https:///path",
        "https://user@idp.example/",
        "https://user:pw@idp.example/",
        "https://idp.example/a#frag",
        "https://idp.example/a b",
        "https://idp.example/\x01",
        "https://idp.example/\xc3\xa4",
        "https://idp.example:0/",
        "https://idp.example:65536/",
        "https://idp.example:12a/",
        "https://idp.example:/",
        "https://idp.example:123456/",
        "https://[::1/",
        "https://[zz::1]/",
        "https://[::1]x/",
        "https://idp_example/",
        "https://idp.example\\@evil/",
        "idp.example/jwks",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (bl_url_parse(bad[i], &u))
            fail_msg("accepted %s", bad[i]);
    }
    char longurl[1100] = "https://x/";
    memset(longurl + 10, 'a', 1030);
    longurl[1040] = '\0';
    assert_false(bl_url_parse(longurl, &u));
}

static void test_loopback(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        bool loopback;
    } cases[] = {
        {"http://localhost/", true},
        {"http://LocalHost:1/", true},
        {"http://127.0.0.1/", true},
        {"http://127.200.3.4/", true},
        {"http://[::1]/", true},
        {"http://128.0.0.1/", false},
        {"http://10.0.0.1/", false},
        {"http://[::2]/", false},
        {"http://127.example.org/", false},
        {"http://localhost.example/", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bl_url_t u;
        assert_true(bl_url_parse(cases[i].url, &u));
        if (bl_url_is_loopback(&u) != cases[i].loopback)
            fail_msg("%s: loopback should be %d", cases[i].url, cases[i].loopback);
    }
    char why[128];
    assert_true(bl_url_is_fetchable("https://idp.example/", why, sizeof(why)));
    assert_true(bl_url_is_fetchable("http://127.0.0.1:5556/", why, sizeof(why)));
    assert_false(bl_url_is_fetchable("http://idp.example/", why, sizeof(why)));
    assert_non_null(strstr(why, "loopback only"));
    assert_false(bl_url_is_fetchable("file:///etc/passwd", why, sizeof(why)));
}

// Parses a canned answer; the body or NULL with why.
static char *parse(const char *resp, size_t max, char *why, size_t whylen)
{
    char *body = NULL;
    size_t len = 0;
    why[0] = '\0';
    bool ok =
        bl_fetch_parse_response((const uint8_t *)resp, strlen(resp), max, &body, &len, why, whylen);
    if (ok) {
        assert_non_null(body);
        assert_int_equal(strlen(body), len);
    } else {
        assert_null(body);
        assert_true(why[0] != '\0');
    }
    return body;
}

static void test_response(void **state)
{
    (void)state;
    char why[160], *b;
    b = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 100, why, sizeof(why));
    assert_string_equal(b, "hello");
    free(b);
    // Chunked, and bytes after the answer are ignored.
    b = parse(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        "HTTP/1.1 200 OK\r\n",
        100, why, sizeof(why));
    assert_string_equal(b, "abcde");
    free(b);
    // Up to the end of the connection.
    b = parse("HTTP/1.0 200 OK\r\n\r\n{\"keys\":[]}", 100, why, sizeof(why));
    assert_string_equal(b, "{\"keys\":[]}");
    free(b);
    b = parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 100, why, sizeof(why));
    assert_string_equal(b, "");
    free(b);

    assert_null(
        parse("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 100, why, sizeof(why)));
    assert_string_equal(why, "the server answered 404");
    assert_null(
        parse("HTTP/1.1 302 Found\r\nLocation: http://evil/\r\n\r\n", 100, why, sizeof(why)));
    assert_non_null(strstr(why, "redirects are not followed"));
    assert_null(parse("HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", 100, why, sizeof(why)));
    assert_non_null(strstr(why, "larger than 100 bytes"));
    assert_null(
        parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n"
              "0123456789012345678901234567890123456789012345678901234567890123\r\n0\r\n\r\n",
              63, why, sizeof(why)));
    assert_non_null(strstr(why, "larger than 63 bytes"));
    assert_null(parse("HTTP/1.0 200 OK\r\n\r\n0123456789", 9, why, sizeof(why)));
    assert_non_null(strstr(why, "larger than"));
    assert_null(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", 100, why, sizeof(why)));
    assert_string_equal(why, "the answer ended early");
    assert_null(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 100, why,
                      sizeof(why)));
    assert_string_equal(why, "the answer ended early");
    assert_null(parse("", 100, why, sizeof(why)));
    assert_string_equal(why, "the answer ended early");
    assert_null(parse("SSH-2.0-OpenSSH\r\n", 100, why, sizeof(why)));
    assert_non_null(strstr(why, "malformed HTTP answer"));
    assert_null(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 100,
                      why, sizeof(why)));

    // Headers: 16 KiB and 100 lines at most.
    char *big = malloc(40000);
    assert_non_null(big);
    int n = sprintf(big, "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(big + n, 'a', 17000);
    strcpy(big + n + 17000, "\r\nContent-Length: 0\r\n\r\n");
    assert_null(parse(big, 100, why, sizeof(why)));
    assert_non_null(strstr(why, "headers are too large"));
    n = sprintf(big, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 120; i++)
        n += sprintf(big + n, "X-%d: 1\r\n", i);
    strcpy(big + n, "Content-Length: 0\r\n\r\n");
    assert_null(parse(big, 100, why, sizeof(why)));
    assert_non_null(strstr(why, "headers are too large"));
    free(big);
}

// A loopback listener (never accepting: the kernel completes the handshake) and its port.
static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static long long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct server {
    int fd;
    const char *answer;
} server_t;

// Accepts one connection, reads the request head, writes the canned answer, closes.
static void *serve_one(void *arg)
{
    server_t *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    char buf[4096];
    size_t n = 0;
    while (n < sizeof(buf) - 1) {
        ssize_t r = read(c, buf + n, sizeof(buf) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n") || strncmp(buf, "GET ", n < 4 ? n : 4))
            break; // the head, or not HTTP at all (a TLS ClientHello)
    }
    if (!strncmp(buf, "GET /jwks HTTP/1.1\r\nHost: 127.0.0.1:", 36) &&
        strstr(buf, "Connection: close"))
        (void)!write(c, s->answer, strlen(s->answer));
    close(c);
    return NULL;
}

static void test_exchange(void **state)
{
    (void)state;
    int port, fd = listener(&port);
    char url[64], why[200];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/jwks", port);
    server_t s = {fd, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"keys\":[]}"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, serve_one, &s), 0);
    char *body = NULL;
    size_t len = 0;
    bl_fetch_opts_t o = {1024, 5000, NULL, NULL};
    bool ok = bl_fetch_get(url, &o, &body, &len, why, sizeof(why));
    pthread_join(t, NULL);
    if (!ok)
        fail_msg("fetch failed: %s", why);
    assert_string_equal(body, "{\"keys\":[]}");
    assert_int_equal(len, 11);
    free(body);

    // Too large for max_body.
    s.answer = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"keys\":[]}";
    assert_int_equal(pthread_create(&t, NULL, serve_one, &s), 0);
    o.max_body = 10;
    assert_false(bl_fetch_get(url, &o, &body, &len, why, sizeof(why)));
    pthread_join(t, NULL);
    assert_null(body);
    assert_non_null(strstr(why, "larger than 10 bytes"));

    // Nobody answers: the deadline holds.
    o.timeout_ms = 300;
    long long t0 = ms_now();
    assert_false(bl_fetch_get(url, &o, &body, &len, why, sizeof(why)));
    long long took = ms_now() - t0;
    assert_string_equal(why, "timed out");
    assert_true(took >= 250 && took < 1500);

    // A cancel flag stops it within a poll slice.
    atomic_int cancel;
    atomic_init(&cancel, 1);
    o.timeout_ms = 10000;
    o.cancel = &cancel;
    t0 = ms_now();
    assert_false(bl_fetch_get(url, &o, &body, &len, why, sizeof(why)));
    assert_string_equal(why, "canceled");
    assert_true(ms_now() - t0 < 1000);
    close(fd);

    // Nothing listens: refused at once.
    o.cancel = NULL;
    assert_false(bl_fetch_get(url, &o, &body, &len, why, sizeof(why)));
    assert_non_null(strstr(why, "connect:"));

    // No plain request leaves loopback; https to a plain listener fails in TLS.
    assert_false(bl_fetch_get("http://192.0.2.1/jwks", &o, &body, &len, why, sizeof(why)));
    assert_non_null(strstr(why, "loopback only"));
    fd = listener(&port);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/jwks", port);
    s = (server_t){fd, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"keys\":[]}"};
    assert_int_equal(pthread_create(&t, NULL, serve_one, &s), 0);
    o.timeout_ms = 3000;
    assert_false(bl_fetch_get(url, &o, &body, &len, why, sizeof(why)));
    pthread_join(t, NULL);
    assert_null(body);
    assert_non_null(strstr(why, "TLS"));
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_exchange),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
