// Unit tests of the document log (server/doclog.c): append, read, shred, rotate, recover.
// Licensed under the Apache License, Version 2.0.
#include "server/doclog.h"

#include "server/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char tmpdir[256];
static char logdir[300];
static bl_kek_t *kek;
// The run's way of writing: through the page cache, or directly (O_DIRECT, 4 KiB places).
static bool direct_mode;

// The room a document of enc bytes takes in its segment.
static int64_t step(size_t enc)
{
    return direct_mode ? (int64_t)((enc + 4095) / 4096 * 4096) : (int64_t)enc;
}

static bl_doclog_t *open_log(void)
{
    bl_doclog_t *log = bl_doclog_open(logdir);
    assert_non_null(log);
    bl_doclog_set_direct(log, direct_mode);
    return log;
}

static uint8_t pattern(size_t i, unsigned seed)
{
    return (uint8_t)((i * 131u + seed * 7u + (i >> 9)) & 0xff);
}

// The encrypted form of a document of len bytes (content from seed), as the daemon makes it.
static uint8_t *encrypt_doc(size_t len, unsigned seed, size_t *enc_len)
{
    bl_spool_writer_t *w = bl_spool_writer_create_mem(kek, "/nonexistent/never-spilled", "job");
    assert_non_null(w);
    uint8_t *plain = malloc(len ? len : 1);
    assert_non_null(plain);
    for (size_t i = 0; i < len; i++)
        plain[i] = pattern(i, seed);
    assert_true(bl_spool_writer_write(w, plain, len));
    free(plain);
    uint8_t *data = NULL;
    uint64_t total = 0;
    assert_true(bl_spool_writer_finish_mem(w, &data, enc_len, &total));
    assert_int_equal(total, len);
    return data;
}

// Appends the encrypted form of a document of len bytes (content from seed).
static void append_doc(bl_doclog_t *log, size_t len, unsigned seed, bl_doclog_ref_t *ref)
{
    size_t enc = 0;
    uint8_t *data = encrypt_doc(len, seed, &enc);
    assert_true(bl_doclog_append(log, data, enc, ref));
    assert_int_equal(ref->len, (int64_t)enc);
}

// Reads one document back; true when it decrypts whole and matches (len, seed).
static bool doc_matches(bl_doclog_t *log, const bl_doclog_ref_t *ref, size_t len, unsigned seed)
{
    bl_spool_reader_t *r = bl_doclog_reader(log, kek, ref, "job");
    if (!r)
        return false;
    uint8_t buf[7000];
    size_t got = 0;
    bool ok = true;
    for (;;) {
        ssize_t n = bl_spool_reader_read(r, buf, sizeof(buf));
        if (n < 0) {
            ok = false;
            break;
        }
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            ok = ok && buf[i] == pattern(got + (size_t)i, seed);
        got += (size_t)n;
    }
    bl_spool_reader_delete(r);
    return ok && got == len;
}

static size_t count_segments(void)
{
    DIR *d = opendir(logdir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strstr(de->d_name, ".seg") != NULL;
    closedir(d);
    return n;
}

static void seg_file(uint32_t seq, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%08u.seg", logdir, seq);
}

static bl_doclog_t *open_fresh(void)
{
    bl_doclog_t *log = open_log();
    size_t shredded = 0;
    assert_true(bl_doclog_recover(log, NULL, 0, 1, NULL, &shredded));
    return log;
}

static void clear_dir(void)
{
    DIR *d = opendir(logdir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", logdir, de->d_name);
        if (de->d_name[0] != '.')
            unlink(p);
    }
    closedir(d);
    rmdir(logdir);
}

static int each_setup(void **state)
{
    (void)state;
    clear_dir();
    return 0;
}

// Documents appended in one pass sit back to back and read back whole.
static void test_append_and_read(void **state)
{
    (void)state;
    bl_doclog_t *log = open_fresh();
    static const size_t sizes[] = {0, 1, 65535, 65536, 65537, 200000, 50961};
    bl_doclog_ref_t refs[7];
    int64_t expect_off = 0;
    for (unsigned i = 0; i < 7; i++) {
        size_t enc = 0;
        uint8_t *data = encrypt_doc(sizes[i], i, &enc);
        assert_true(bl_doclog_append(log, data, enc, &refs[i]));
        assert_int_equal(refs[i].seg, 1);
        assert_int_equal(refs[i].off, expect_off);
        assert_int_equal(refs[i].len, (int64_t)enc);
        expect_off += step(enc);
    }
    assert_true(bl_doclog_sync(log));
    for (unsigned i = 0; i < 7; i++)
        assert_true(doc_matches(log, &refs[i], sizes[i], i));
    // A document read with a neighbour's length fails instead of reading into it.
    bl_doclog_ref_t wrong = refs[2];
    wrong.len += refs[3].len;
    assert_false(doc_matches(log, &wrong, sizes[2], 2));
    bl_doclog_close(log);
    char path[600];
    seg_file(1, path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, expect_off);
    assert_int_equal(st.st_mode & 0777, 0600);
}

// A shredded document cannot be read any more, on disk and when it was still waiting to be
// written; its neighbours are untouched.
static void test_shred(void **state)
{
    (void)state;
    bl_doclog_t *log = open_fresh();
    bl_doclog_ref_t a, b, c;
    append_doc(log, 1000, 1, &a);
    append_doc(log, 2000, 2, &b);
    assert_true(bl_doclog_sync(log));
    assert_true(bl_doclog_shred(log, &a)); // on disk already
    append_doc(log, 3000, 3, &c);
    assert_true(bl_doclog_shred(log, &c)); // still in memory
    assert_true(bl_doclog_sync(log));
    assert_false(doc_matches(log, &a, 1000, 1));
    assert_true(doc_matches(log, &b, 2000, 2));
    assert_false(doc_matches(log, &c, 3000, 3));
    // The framing stays walkable and marks both as shredded.
    char path[600];
    seg_file(1, path, sizeof(path));
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    bl_spool_entry_t e;
    off_t end = c.off + c.len;
    assert_true(bl_spool_entry_walk(fd, a.off, end, &e));
    assert_true(e.shredded && e.complete && e.len == a.len);
    assert_true(bl_spool_entry_walk(fd, b.off, end, &e));
    assert_true(!e.shredded && e.complete && e.len == b.len);
    assert_true(bl_spool_entry_walk(fd, c.off, end, &e));
    assert_true(e.shredded && e.complete && e.len == c.len);
    close(fd);
    bl_doclog_close(log);
}

// Start-up keeps what jobs need and shreds the rest: documents no job names, and a document
// cut by a crash; segments without a live document go, and appends start a new segment.
static void test_recover(void **state)
{
    (void)state;
    bl_doclog_t *log = open_fresh();
    bl_doclog_ref_t r[4];
    size_t enc;
    for (unsigned i = 0; i < 4; i++)
        append_doc(log, 5000 + i, i, &r[i]);
    assert_true(bl_doclog_sync(log));
    bl_doclog_close(log);
    // A crash in the middle of a write: half of a fifth document at the end.
    uint8_t *half = encrypt_doc(9000, 9, &enc);
    char path[600];
    seg_file(1, path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    int64_t torn = st.st_size;
    assert_int_equal(torn, r[3].off + step((size_t)r[3].len));
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, half, enc / 2), (ssize_t)(enc / 2));
    close(fd);
    free(half);
    // A second segment whose only document no job needs.
    char path2[600];
    seg_file(2, path2, sizeof(path2));
    uint8_t *lone = encrypt_doc(100, 5, &enc);
    fd = open(path2, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, lone, enc), (ssize_t)enc);
    close(fd);
    free(lone);

    log = open_log();
    assert_non_null(log);
    bl_doclog_ref_t live[2] = {r[2], r[0]}; // any order
    size_t shredded = 0;
    bool lost[2] = {true, true};
    assert_true(bl_doclog_recover(log, live, 2, 1, lost, &shredded));
    assert_false(lost[0]);
    assert_false(lost[1]);
    assert_int_equal(shredded, 4); // r[1], r[3], the torn one and segment 2's
    assert_true(doc_matches(log, &r[0], 5000, 0));
    assert_false(doc_matches(log, &r[1], 5001, 1));
    assert_true(doc_matches(log, &r[2], 5002, 2));
    assert_false(doc_matches(log, &r[3], 5003, 3));
    assert_int_equal(stat(path2, &st), -1);
    assert_int_equal(errno, ENOENT);
    fd = open(path, O_RDONLY);
    bl_spool_entry_t e;
    assert_true(bl_spool_entry_walk(fd, torn, torn + (int64_t)enc, &e));
    assert_true(e.shredded);
    assert_false(e.complete);
    close(fd);
    // New documents go to a new segment (3: never one that an earlier run wrote to).
    bl_doclog_ref_t n;
    append_doc(log, 10, 7, &n);
    assert_int_equal(n.seg, 3);
    assert_int_equal(n.off, 0);
    assert_true(bl_doclog_sync(log));
    assert_true(doc_matches(log, &n, 10, 7));
    bl_doclog_close(log);
    // Recovering again changes nothing.
    log = open_log();
    bl_doclog_ref_t live2[3] = {r[0], r[2], n};
    bool lost2[3];
    assert_true(bl_doclog_recover(log, live2, 3, 1, lost2, &shredded));
    assert_false(lost2[0] || lost2[1] || lost2[2]);
    assert_int_equal(shredded, 0);
    bl_doclog_close(log);
}

// A full segment is followed by a new one; the old one goes once its last live document is
// shredded and that is durable; an empty segment started last is removed at close.
static void test_rotate_and_retire(void **state)
{
    (void)state;
    bl_doclog_t *log = open_fresh();
    size_t enc = 0;
    uint8_t *big = encrypt_doc(900 * 1024, 1, &enc);
    size_t per_seg = (size_t)(BL_DOCLOG_SEGMENT_MAX / step(enc));
    bl_doclog_ref_t first = {0}, last = {0};
    for (size_t i = 0; i <= per_seg; i++) {
        uint8_t *copy = malloc(enc);
        assert_non_null(copy);
        memcpy(copy, big, enc);
        assert_true(bl_doclog_append(log, copy, enc, &last));
        if (i == 0)
            first = last;
        if (i + 1 < per_seg)
            continue;
        assert_true(bl_doclog_sync(log));
    }
    free(big);
    assert_int_equal(first.seg, 1);
    assert_int_equal(last.seg, 2);
    assert_int_equal(count_segments(), 2);
    // Shred everything of segment 1 (all documents are copies at consecutive offsets).
    for (size_t i = 0; i < per_seg; i++) {
        bl_doclog_ref_t r = {1, (int64_t)i * step(enc), (int64_t)enc};
        assert_true(bl_doclog_shred(log, &r));
    }
    assert_int_equal(count_segments(), 2); // not before the shredding is on disk
    assert_true(bl_doclog_sync(log));
    assert_int_equal(count_segments(), 1);
    assert_true(doc_matches(log, &last, 900 * 1024, 1));
    bl_doclog_close(log);
    assert_int_equal(count_segments(), 1);
}

// Regression (found by an attack on a full disk): a write that failed after its place was
// taken left a hole, and start-up stopped walking there, never saw the documents after it and
// deleted the segment with them. Now the walk finds its way past holes, and every document a
// job needs is checked where it lies.
static void test_recover_past_hole(void **state)
{
    (void)state;
    bl_doclog_t *log = open_fresh();
    bl_doclog_ref_t a, b, c;
    append_doc(log, 3000, 1, &a);
    append_doc(log, 3000, 2, &b);
    append_doc(log, 3000, 3, &c);
    assert_true(bl_doclog_sync(log));
    bl_doclog_close(log);
    // b becomes a hole of zeros, as if its write had failed; a is no longer needed.
    char path[600];
    seg_file(1, path, sizeof(path));
    int fd = open(path, O_WRONLY);
    uint8_t *zeros = calloc(1, (size_t)b.len);
    assert_int_equal(pwrite(fd, zeros, (size_t)b.len, b.off), (ssize_t)b.len);
    free(zeros);
    close(fd);
    log = open_log();
    bl_doclog_ref_t live[2] = {b, c};
    bool lost[2];
    size_t shredded = 0;
    assert_true(bl_doclog_recover(log, live, 2, 1, lost, &shredded));
    assert_true(lost[0]);          // b is gone: its job is told
    assert_false(lost[1]);         // c, after the hole, is kept
    assert_int_equal(shredded, 1); // a
    assert_true(doc_matches(log, &c, 3000, 3));
    bl_doclog_close(log);
}

// Regression: segment numbers went back down once the highest segments were gone, so a new
// document took the place (segment, offset) that a job with a lost document still named, and
// that job printed another user's document. Numbers now never repeat, and the job is told.
static void test_recover_never_reuses_numbers(void **state)
{
    (void)state;
    bl_doclog_t *log = open_fresh();
    bl_doclog_ref_t a;
    append_doc(log, 100, 1, &a);
    assert_true(bl_doclog_sync(log));
    bl_doclog_close(log);
    char path[600];
    seg_file(1, path, sizeof(path));
    assert_int_equal(unlink(path), 0); // gone, while a job still names it
    log = open_log();
    bool lost[1];
    size_t shredded = 0;
    assert_true(bl_doclog_recover(log, &a, 1, 2, lost, &shredded));
    assert_true(lost[0]);
    bl_doclog_ref_t n;
    append_doc(log, 100, 2, &n);
    assert_int_equal(n.seg, 2);
    bl_doclog_close(log);
}

// What is not a segment file under a segment's name is left alone; start-up goes on.
static void test_recover_ignores_strays(void **state)
{
    (void)state;
    bl_doclog_t *log = open_fresh();
    bl_doclog_ref_t a;
    append_doc(log, 100, 1, &a);
    assert_true(bl_doclog_sync(log));
    bl_doclog_close(log);
    char dir[600], link[600], target[600];
    seg_file(5, dir, sizeof(dir));
    assert_int_equal(mkdir(dir, 0700), 0);
    seg_file(6, link, sizeof(link));
    seg_file(1, target, sizeof(target));
    assert_int_equal(symlink(target, link), 0);
    log = open_log();
    bool lost[1];
    size_t shredded = 0;
    assert_true(bl_doclog_recover(log, &a, 1, 1, lost, &shredded));
    assert_false(lost[0]);
    bl_doclog_ref_t n;
    append_doc(log, 100, 2, &n);
    assert_int_equal(n.seg, 7);
    assert_true(bl_doclog_sync(log));
    assert_true(doc_matches(log, &a, 100, 1));
    bl_doclog_close(log);
    rmdir(dir);
    unlink(link);
}

// Direct writes: every document starts on a 4 KiB boundary, zeros fill the gap after it, and
// start-up walks from one document to the next without taking the zeros for damage.
static void test_direct_layout(void **state)
{
    (void)state;
    if (!direct_mode)
        skip();
    char warn_log[400];
    snprintf(warn_log, sizeof(warn_log), "%s/warn.log", tmpdir);
    bl_doclog_t *log = open_fresh();
    static const size_t sizes[] = {1, 4000, 50961, 8192, 300};
    bl_doclog_ref_t r[5];
    for (unsigned i = 0; i < 5; i++) {
        append_doc(log, sizes[i], i, &r[i]);
        assert_int_equal(r[i].off % 4096, 0);
        if (i)
            assert_int_equal(r[i].off, r[i - 1].off + step((size_t)r[i - 1].len));
    }
    assert_true(bl_doclog_sync(log));
    for (unsigned i = 0; i < 5; i++)
        assert_true(doc_matches(log, &r[i], sizes[i], i));
    bl_doclog_close(log);
    char path[600];
    seg_file(1, path, sizeof(path));
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, r[4].off + step((size_t)r[4].len));
    for (unsigned i = 0; i < 5; i++) {
        size_t gap = (size_t)(step((size_t)r[i].len) - r[i].len);
        uint8_t zeros[4096] = {0}, got[4096];
        assert_int_equal(pread(fd, got, gap, r[i].off + r[i].len), (ssize_t)gap);
        assert_memory_equal(got, zeros, gap);
    }
    close(fd);
    // Recovery keeps 0, 2 and 4, shreds 1 and 3, and sees no damage on the way.
    assert_true(bl_log_open(warn_log, BL_LOG_WARN));
    log = open_log();
    bl_doclog_ref_t live[3] = {r[0], r[2], r[4]};
    bool lost[3] = {true, true, true};
    size_t shredded = 0;
    assert_true(bl_doclog_recover(log, live, 3, 1, lost, &shredded));
    assert_false(lost[0] || lost[1] || lost[2]);
    assert_int_equal(shredded, 2);
    assert_true(doc_matches(log, &r[2], sizes[2], 2));
    assert_false(doc_matches(log, &r[3], sizes[3], 3));
    bl_doclog_close(log);
    bl_log_close();
    assert_true(bl_log_open("/dev/null", BL_LOG_ERROR));
    FILE *f = fopen(warn_log, "r");
    assert_non_null(f);
    char line[512];
    while (fgets(line, sizeof(line), f))
        assert_null(strstr(line, "no document"));
    fclose(f);
    unlink(warn_log);
}

static int group_setup(void **state)
{
    (void)state;
    if (!getenv("BL_TEST_VERBOSE"))
        bl_log_open("/dev/null", BL_LOG_ERROR);
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof(tmpdir), "%s/test-doclog-XXXXXX", base);
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(logdir, sizeof(logdir), "%s/doclog", tmpdir);
    char kp[400];
    snprintf(kp, sizeof(kp), "%s/kek", tmpdir);
    kek = bl_kek_load_or_create(kp);
    return kek ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    bl_kek_delete(kek);
    clear_dir();
    char kp[400];
    snprintf(kp, sizeof(kp), "%s/kek", tmpdir);
    unlink(kp);
    return rmdir(tmpdir);
}

// Can the test directory's file system take direct writes at all?
static bool direct_possible(void)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/probe", tmpdir);
    int fd = open(p, O_WRONLY | O_CREAT | O_DIRECT, 0600);
    void *buf = aligned_alloc(4096, 4096);
    bool ok = fd >= 0 && buf && (memset(buf, 0, 4096), pwrite(fd, buf, 4096, 0) == 4096);
    free(buf);
    if (fd >= 0)
        close(fd);
    unlink(p);
    return ok;
}

static int direct_setup(void **state)
{
    if (group_setup(state) != 0)
        return -1;
    direct_mode = direct_possible();
    if (!direct_mode)
        fprintf(stderr, "# %s takes no direct writes: the direct tests are skipped\n", tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_append_and_read, each_setup),
        cmocka_unit_test_setup(test_shred, each_setup),
        cmocka_unit_test_setup(test_recover, each_setup),
        cmocka_unit_test_setup(test_rotate_and_retire, each_setup),
        cmocka_unit_test_setup(test_recover_past_hole, each_setup),
        cmocka_unit_test_setup(test_recover_never_reuses_numbers, each_setup),
        cmocka_unit_test_setup(test_recover_ignores_strays, each_setup),
        cmocka_unit_test_setup(test_direct_layout, each_setup),
    };
    // Every test through the page cache, then every test with direct writes.
    int failed = cmocka_run_group_tests_name("buffered", tests, group_setup, group_teardown);
    return failed + cmocka_run_group_tests_name("direct", tests, direct_setup, group_teardown);
}
