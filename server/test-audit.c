// Unit tests of the audit chain (server/audit.c): the record hash against known answers made
// from the format's definition (so a faster hash cannot silently change it), and pseudonyms.
// Licensed under the Apache License, Version 2.0.
#include "server/audit.h"

#include "server/log.h"
#include "server/store.h"

#include <event2/event.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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

// Two records whose hashes were computed outside Blatt (Python's hashlib) from the definition in
// audit.c: SHA-256(prev "\n" seq "|" time "|" actor "|" source "|" action "|" object "|"
// result), with '\' and '|' escaped by a backslash.
static const char *const known[2][9] = {
    {"1", "2026-12-04T07:00:00Z", "p-0123456789abcdef", "127.0.0.1", "job-create",
     "job 1 on printer a|b", "ok\\done",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "ce9112056561a6fe26ed1d64776c16e738e0b3393550ebe1bcee1493ec8026b2"},
    {"2", "2026-12-04T07:00:01Z", "blattd", "-", "job-end", "job 1", "completed",
     "ce9112056561a6fe26ed1d64776c16e738e0b3393550ebe1bcee1493ec8026b2",
     "2f380dc05a3fa2051219bf352bb56869d0fdb07fca966ae25cbc193d752ef442"},
};

static bl_store_t *open_chain(const char *db)
{
    unlink(tpath(db));
    bl_store_t *store = bl_store_open(tpath(db), NULL);
    assert_non_null(store);
    bl_audit_t *a = bl_audit_open(store, tpath("audit.key"));
    assert_non_null(a); // creates the table
    bl_audit_close(a);
    return store;
}

static void insert(bl_store_t *store, const char *const rec[9])
{
    sqlite3_stmt *st = bl_store_stmt(store, "INSERT INTO audit(seq, time, actor, source, action,"
                                            " object, result, prev, hash)"
                                            " VALUES(?,?,?,?,?,?,?,?,?)");
    assert_non_null(st);
    sqlite3_bind_int64(st, 1, atoll(rec[0]));
    for (int i = 1; i < 9; i++)
        sqlite3_bind_text(st, i + 1, rec[i], -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_reset(st);
}

static void test_known_answers_verify(void **state)
{
    (void)state;
    bl_store_t *store = open_chain("a.db");
    insert(store, known[0]);
    insert(store, known[1]);
    bl_audit_report_t r;
    assert_true(bl_audit_verify(store, &r));
    assert_int_equal(r.records, 2);
    bl_store_close(store);
}

static void test_changed_byte_fails(void **state)
{
    (void)state;
    bl_store_t *store = open_chain("b.db");
    const char *rec[9];
    memcpy(rec, known[1], sizeof(rec));
    insert(store, known[0]);
    rec[6] = "completeD";
    insert(store, rec);
    bl_audit_report_t r;
    assert_false(bl_audit_verify(store, &r));
    assert_int_equal(r.first_bad, 2);
    bl_store_close(store);
}

// What the daemon appends verifies, and the chain continues from a known head.
static void test_append_continues_chain(void **state)
{
    (void)state;
    bl_store_t *store = open_chain("c.db");
    insert(store, known[0]);
    insert(store, known[1]);
    bl_audit_t *a = bl_audit_open(store, tpath("audit.key"));
    assert_non_null(a);
    assert_true(bl_audit_add(a, "alice", "10.0.0.1", "job-create", "job 2|x", "ok\\y"));
    assert_true(bl_audit_add(a, "bob", "10.0.0.2", "job-create", "job 3", "ok"));
    assert_true(bl_audit_add(a, "alice", "10.0.0.1", "job-end", "job 2", "completed"));
    assert_true(bl_store_commit(store));
    bl_audit_report_t r;
    assert_true(bl_audit_verify(store, &r));
    assert_int_equal(r.records, 5);
    // People are pseudonyms: the same one each time, different ones for different people.
    char pa[64], pb[64];
    bl_audit_pseudonym(a, "alice", pa, sizeof(pa));
    bl_audit_pseudonym(a, "bob", pb, sizeof(pb));
    assert_int_equal(strlen(pa), 18);
    assert_string_not_equal(pa, pb);
    sqlite3_stmt *st = bl_store_stmt(store, "SELECT actor FROM audit WHERE seq IN (3, 4, 5)"
                                            " ORDER BY seq");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), pa);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), pb);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), pa);
    sqlite3_reset(st);
    bl_audit_close(a);
    bl_store_close(store);
}

static void on_outcome(void *arg, bool ok)
{
    *(int *)arg = ok ? 1 : -1;
}

static void loop_until(struct event_base *base, const int *flag, int want)
{
    for (int i = 0; i < 1000 && *flag != want; i++)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(5000);
    assert_int_equal(*flag, want);
}

// A store and chain in db with alice's record stored, and bob's (and with job_end a record of
// job 1's end) in a pass that failed at COMMIT, as on a full disk.
static bl_audit_t *bob_rolled_back(struct event_base *base, const char *db, bl_store_t **store,
                                   bool job_end)
{
    unlink(tpath(db));
    *store = bl_store_open(tpath(db), base);
    assert_non_null(*store);
    bl_audit_t *a = bl_audit_open(*store, tpath("audit.key"));
    assert_non_null(a);
    assert_true(bl_audit_add(a, "alice", "-", "job-create", "job 1", "ok"));
    assert_true(bl_store_commit(*store));
    assert_true(bl_audit_add(a, "bob", "-", "job-create", "job 2", "ok"));
    if (job_end)
        assert_true(bl_audit_add(a, "blattd", "-", "job-end", "job 1", "completed"));
    int outcome = 0;
    bl_store_after_commit(*store, on_outcome, &outcome);
    struct rlimit old;
    test_disk_full(&old);
    loop_until(base, &outcome, -1);
    test_disk_back(&old);
    return a;
}

// A full disk at COMMIT rolls the pass back with its records: the chain goes on from the last
// stored record (no link to a record that does not exist), and the lost records are appended
// again a second later. Nothing is missing and the chain verifies.
static void test_rolled_back_records_appended_again(void **state)
{
    (void)state;
    struct event_base *base = test_base();
    bl_store_t *store;
    bl_audit_t *a = bob_rolled_back(base, "d.db", &store, true);
    // Meanwhile the next record, then the lost ones again.
    assert_true(bl_audit_add(a, "carol", "-", "job-create", "job 3", "ok"));
    int outcome = 0;
    bl_store_after_commit(store, on_outcome, &outcome);
    loop_until(base, &outcome, 1);
    bl_audit_report_t r;
    assert_true(bl_audit_verify(store, &r));
    assert_int_equal(r.records, 2);
    for (int i = 0; i < 1000 && r.records < 4; i++) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(5000);
        assert_true(bl_audit_verify(store, &r));
    }
    assert_true(bl_store_commit(store));
    assert_true(bl_audit_verify(store, &r));
    assert_int_equal(r.records, 4);
    const char *want[4] = {"job 1", "job 3", "job 2", "job 1"};
    sqlite3_stmt *st = bl_store_stmt(store, "SELECT seq, object, actor FROM audit ORDER BY seq");
    char pb[64];
    bl_audit_pseudonym(a, "bob", pb, sizeof(pb));
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), i + 1);
        assert_string_equal((const char *)sqlite3_column_text(st, 1), want[i]);
        if (i == 2)
            assert_string_equal((const char *)sqlite3_column_text(st, 2), pb);
    }
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_reset(st);
    // bob's pseudonym mapping, rolled back with his record, is there again.
    st = bl_store_stmt(store, "SELECT subject FROM audit_actors WHERE pseudonym = ?");
    sqlite3_bind_text(st, 1, pb, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "bob");
    sqlite3_reset(st);
    bl_audit_close(a);
    bl_store_close(store);
    event_base_free(base);
}

// Regression (found by an attack on a full disk): a record whose append failed again when it
// was written again (no transaction could even begin) was dropped with a log line, and the
// chain still verified without it. It is now tried every second until it is stored.
static void test_record_kept_while_nothing_can_begin(void **state)
{
    (void)state;
    struct event_base *base = test_base();
    bl_store_t *store;
    bl_audit_t *a = bob_rolled_back(base, "e.db", &store, false);
    // Another writer holds the database: writing bob's record again cannot even begin.
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(tpath("e.db"), &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_busy_timeout(bl_store_db(store), 1);
    test_spin(base, 300); // 1.5 s: the retry a second after the failure comes and fails
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    sqlite3_busy_timeout(bl_store_db(store), 5000);
    bl_audit_report_t r;
    assert_true(bl_audit_verify(store, &r));
    assert_int_equal(r.records, 1);
    for (int i = 0; i < 600 && r.records < 2; i++) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(5000);
        assert_true(bl_audit_verify(store, &r));
    }
    assert_true(bl_store_commit(store));
    assert_true(bl_audit_verify(store, &r));
    assert_int_equal(r.records, 2);
    sqlite3_stmt *st = bl_store_stmt(store, "SELECT object FROM audit WHERE seq = 2");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "job 2");
    sqlite3_reset(st);
    bl_audit_close(a);
    bl_store_close(store);
    event_base_free(base);
}

static int group_setup(void **state)
{
    (void)state;
    if (!getenv("BL_TEST_VERBOSE"))
        bl_log_open("/dev/null", BL_LOG_ERROR);
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof(tmpdir), "%s/test-audit-XXXXXX", base);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    static const char *const names[] = {"a.db",     "a.db-wal", "a.db-shm", "b.db",
                                        "b.db-wal", "b.db-shm", "c.db",     "c.db-wal",
                                        "c.db-shm", "d.db",     "d.db-wal", "d.db-shm",
                                        "e.db",     "e.db-wal", "e.db-shm", "audit.key"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unlink(tpath(names[i]));
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers_verify),
        cmocka_unit_test(test_changed_byte_fails),
        cmocka_unit_test(test_append_continues_chain),
        cmocka_unit_test(test_rolled_back_records_appended_again),
        cmocka_unit_test(test_record_kept_while_nothing_can_begin),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
