// Unit tests of the store's group commit (server/store.c): callbacks only after the sync
// thread made the batch durable, file work in order, failures reported, synchronous drain.
// Licensed under the Apache License, Version 2.0.
#include "server/store.h"

#include "server/log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/test-loop.h"

static char tmpdir[256];

static const char *tpath(const char *name)
{
    static char bufs[4][512];
    static unsigned next;
    char *buf = bufs[next++ % 4];
    snprintf(buf, sizeof(bufs[0]), "%s/%s", tmpdir, name);
    return buf;
}

typedef struct probe {
    int calls;
    bool ok;
    char file_then[16]; // what the file held when the callback ran
    const char *path;
} probe_t;

static void on_durable(void *arg, bool ok)
{
    probe_t *p = arg;
    p->calls++;
    p->ok = ok;
    int fd = open(p->path, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, p->file_then, sizeof(p->file_then) - 1);
        p->file_then[n > 0 ? n : 0] = '\0';
        close(fd);
    }
}

static uint8_t *dup_text(const char *s)
{
    uint8_t *b = malloc(strlen(s));
    assert_non_null(b);
    memcpy(b, s, strlen(s));
    return b;
}

static void run_until(struct event_base *base, const probe_t *p)
{
    for (int i = 0; i < 2000 && p->calls == 0; i++)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(500);
}

// The callback runs once, after the pass's writes are in the file, in their order.
static void test_callback_after_writes(void **state)
{
    (void)state;
    struct event_base *base = test_base();
    unlink(tpath("a.db"));
    bl_store_t *store = bl_store_open(tpath("a.db"), base);
    assert_non_null(store);
    const char *file = tpath("data");
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    probe_t p = {.path = file};
    assert_true(bl_store_begin(store));
    assert_true(bl_store_exec(store, "INSERT INTO meta(key, value) VALUES('t', '1')"));
    bl_store_sync_borrowed(store, fd, 0, dup_text("first"), 5);
    bl_store_sync_borrowed(store, fd, 0, dup_text("SEC"), 3); // after the first
    bl_store_sync_fd(store, dup(fd));
    bl_store_after_commit(store, on_durable, &p);
    assert_int_equal(p.calls, 0); // never inside the pass
    run_until(base, &p);
    assert_int_equal(p.calls, 1);
    assert_true(p.ok);
    assert_string_equal(p.file_then, "SECst");
    close(fd);
    bl_store_close(store);
    event_base_free(base);
}

// A write that fails makes the whole batch fail: the client is told, not lied to.
static void test_failed_write_fails_batch(void **state)
{
    (void)state;
    struct event_base *base = test_base();
    unlink(tpath("b.db"));
    bl_store_t *store = bl_store_open(tpath("b.db"), base);
    assert_non_null(store);
    const char *file = tpath("ro");
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    close(fd);
    fd = open(file, O_RDONLY); // pwrite fails with EBADF
    probe_t p = {.path = file};
    bl_store_sync_borrowed(store, fd, 0, dup_text("x"), 1);
    bl_store_after_commit(store, on_durable, &p);
    run_until(base, &p);
    assert_int_equal(p.calls, 1);
    assert_false(p.ok);
    close(fd);
    bl_store_close(store);
    event_base_free(base);
}

// A pass whose file work could not be handed on fails, though its own writes succeed.
static void test_failed_pass(void **state)
{
    (void)state;
    struct event_base *base = test_base();
    unlink(tpath("e.db"));
    bl_store_t *store = bl_store_open(tpath("e.db"), base);
    assert_non_null(store);
    const char *file = tpath("e");
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    probe_t p = {.path = file};
    bl_store_sync_borrowed(store, fd, 0, dup_text("ok"), 2);
    bl_store_fail_pass(store, EMFILE);
    bl_store_after_commit(store, on_durable, &p);
    run_until(base, &p);
    assert_int_equal(p.calls, 1);
    assert_false(p.ok);
    // The next pass is not affected.
    probe_t q = {.path = file};
    bl_store_sync_borrowed(store, fd, 0, dup_text("OK"), 2);
    bl_store_after_commit(store, on_durable, &q);
    run_until(base, &q);
    assert_true(q.ok);
    assert_string_equal(q.file_then, "OK");
    close(fd);
    bl_store_close(store);
    event_base_free(base);
}

// bl_store_commit() returns only when everything committed is durable, callbacks run.
static void test_commit_drains(void **state)
{
    (void)state;
    struct event_base *base = test_base();
    unlink(tpath("c.db"));
    bl_store_t *store = bl_store_open(tpath("c.db"), base);
    assert_non_null(store);
    const char *file = tpath("d");
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    probe_t p = {.path = file};
    assert_true(bl_store_begin(store));
    assert_true(bl_store_exec(store, "INSERT INTO meta(key, value) VALUES('u', '2')"));
    bl_store_sync_borrowed(store, fd, 0, dup_text("drained"), 7);
    bl_store_after_commit(store, on_durable, &p);
    assert_true(bl_store_commit(store));
    assert_int_equal(p.calls, 1);
    assert_true(p.ok);
    assert_string_equal(p.file_then, "drained");
    close(fd);
    bl_store_close(store);
    event_base_free(base);
    // The row is there for the next opener.
    store = bl_store_open(tpath("c.db"), NULL);
    sqlite3_stmt *st = bl_store_stmt(store, "SELECT value FROM meta WHERE key = 'u'");
    assert_non_null(st);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "2");
    sqlite3_reset(st);
    bl_store_close(store);
}

typedef struct redo_probe {
    bl_store_t *store;
    int rollbacks, failed, released;
} redo_probe_t;

static void on_rollback(void *arg)
{
    ((redo_probe_t *)arg)->rollbacks++;
}

// A writer that keeps its state in memory: after a failed pass it writes it again.
static void redo_write(void *arg, bool failed)
{
    redo_probe_t *p = arg;
    if (!failed) {
        p->released++;
        return;
    }
    p->failed++;
    assert_true(bl_store_begin(p->store));
    assert_true(
        bl_store_exec(p->store, "INSERT OR REPLACE INTO meta(key, value) VALUES('r', '2')"));
    bl_store_redo(p->store, redo_write, p);
}

static char *meta_value(bl_store_t *store, const char *key)
{
    static char v[32];
    sqlite3_stmt *st = bl_store_stmt(store, "SELECT value FROM meta WHERE key = ?");
    assert_non_null(st);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    snprintf(v, sizeof(v), "%s",
             sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : "-");
    sqlite3_reset(st);
    return v;
}

// A COMMIT that fails (here: the file size limit, as a full disk) rolls the whole pass back.
// The rollback listeners run at once; the pass's redo work a second later, not in a tight loop,
// and once it is written and durable it is released.
static void test_failed_commit_redone(void **state)
{
    (void)state;
    struct event_base *base = test_base();
    unlink(tpath("f.db"));
    bl_store_t *store = bl_store_open(tpath("f.db"), base);
    assert_non_null(store);
    redo_probe_t r = {.store = store};
    assert_true(bl_store_on_rollback(store, on_rollback, &r));
    probe_t p = {.path = tpath("none")};
    assert_true(bl_store_begin(store));
    uint64_t pass = bl_store_pass(store);
    assert_true(bl_store_exec(store, "INSERT INTO meta(key, value) VALUES('r', '1')"));
    bl_store_redo(store, redo_write, &r);
    bl_store_after_commit(store, on_durable, &p);

    struct rlimit old;
    test_disk_full(&old);
    run_until(base, &p);
    test_disk_back(&old);
    assert_int_equal(p.calls, 1);
    assert_false(p.ok);
    assert_int_equal(r.rollbacks, 1);
    assert_int_equal(r.failed, 0); // not at once
    assert_int_equal(r.released, 0);
    assert_true(bl_store_pass(store) > pass);
    assert_string_equal(meta_value(store, "r"), "-"); // rolled back

    for (int i = 0; i < 1000 && r.released == 0; i++)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(5000);
    assert_int_equal(r.failed, 1);
    assert_int_equal(r.released, 1);
    assert_int_equal(r.rollbacks, 1);
    assert_string_equal(meta_value(store, "r"), "2");
    bl_store_off_rollback(store, on_rollback, &r);
    bl_store_close(store);
    event_base_free(base);
}

// A failed commit that nobody registered to write again: the store says that it fails (new
// jobs are refused, nothing prints), and a probe write of its own ends that once the disk takes
// writes again, and says so (bl_store_on_recovered). Regression: without anything to write
// again the retry timer never came, and the store would have stayed failing for good.
static void on_recovered(void *arg)
{
    (*(int *)arg)++;
}

static void test_failing_ends_by_itself(void **state)
{
    (void)state;
    struct event_base *base = test_base();
    unlink(tpath("g.db"));
    bl_store_t *store = bl_store_open(tpath("g.db"), base);
    assert_non_null(store);
    int recovered = 0;
    bl_store_on_recovered(store, on_recovered, &recovered);
    probe_t p = {.path = tpath("none")};
    assert_true(bl_store_begin(store));
    assert_true(bl_store_exec(store, "INSERT INTO meta(key, value) VALUES('g', '1')"));
    bl_store_after_commit(store, on_durable, &p);
    assert_false(bl_store_failing(store));
    struct rlimit old;
    test_disk_full(&old);
    run_until(base, &p);
    assert_false(p.ok);
    assert_true(bl_store_failing(store));
    // Still failing a while later: the probe fails too.
    test_spin(base, 300);
    assert_true(bl_store_failing(store));
    assert_int_equal(recovered, 0);
    test_disk_back(&old);
    for (int i = 0; i < 600 && bl_store_failing(store); i++)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(5000);
    assert_false(bl_store_failing(store));
    assert_int_equal(recovered, 1);
    bl_store_close(store);
    event_base_free(base);
}

static int group_setup(void **state)
{
    (void)state;
    if (!getenv("BL_TEST_VERBOSE"))
        bl_log_open("/dev/null", BL_LOG_ERROR);
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof(tmpdir), "%s/test-store-XXXXXX", base);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    static const char *const names[] = {
        "a.db",     "a.db-wal", "a.db-shm", "b.db", "b.db-wal", "b.db-shm", "c.db",     "c.db-wal",
        "c.db-shm", "data",     "ro",       "d",    "e.db",     "e.db-wal", "e.db-shm", "e",
        "f.db",     "f.db-wal", "f.db-shm", "g.db", "g.db-wal", "g.db-shm"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unlink(tpath(names[i]));
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callback_after_writes),
        cmocka_unit_test(test_failed_write_fails_batch),
        cmocka_unit_test(test_failed_pass),
        cmocka_unit_test(test_commit_drains),
        cmocka_unit_test(test_failed_commit_redone),
        cmocka_unit_test(test_failing_ends_by_itself),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
