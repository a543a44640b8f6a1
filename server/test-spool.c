// Unit tests of the encrypted spool (server/spool.c): round trips, tampering, keys, shred, rewrap.
// Licensed under the Apache License, Version 2.0.
#include "server/spool.h"

#include "server/log.h"
#include "server/random.h"

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

#define SEG BL_SPOOL_SEGMENT_SIZE
#define HDR BL_SPOOL_HEADER_SIZE
#define SEG_REC (4 + SEG + 16) // bytes of one full segment on disk

static char tmpdir[256];
static bl_kek_t *kek;

// Builds a path inside the test directory (eight rotating buffers, so a few can be alive).
static const char *tpath(const char *name)
{
    static char bufs[8][512];
    static unsigned next;
    char *buf = bufs[next++ % 8];
    snprintf(buf, sizeof(bufs[0]), "%s/%s", tmpdir, name);
    return buf;
}

// Deterministic test content: byte i of a document.
static uint8_t pattern(size_t i)
{
    return (uint8_t)((i * 131u + (i >> 9)) & 0xff);
}

static uint8_t *make_data(size_t len)
{
    uint8_t *data = malloc(len ? len : 1);
    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = pattern(i);
    return data;
}

// Writes data in pieces whose sizes cycle through `pieces` (0-terminated; NULL = one write).
static void write_doc(const bl_kek_t *k, const char *path, const uint8_t *data, size_t len,
                      const size_t *pieces)
{
    unlink(path);
    bl_spool_writer_t *w = bl_spool_writer_create(k, path, "job-a");
    assert_non_null(w);
    size_t off = 0, pi = 0;
    while (off < len) {
        size_t n = pieces ? pieces[pi] : len;
        pi = pieces && pieces[pi + 1] ? pi + 1 : 0;
        if (n > len - off)
            n = len - off;
        assert_true(bl_spool_writer_write(w, data + off, n));
        off += n;
    }
    uint64_t total = 0;
    assert_true(bl_spool_writer_finish(w, &total));
    assert_int_equal(total, len);
}

// Reads a whole document with read sizes cycling 13, 70000, 1; false if anything failed.
static bool read_doc(const bl_kek_t *k, const char *path, uint8_t **out, size_t *out_len)
{
    static const size_t sizes[] = {13, 70000, 1};
    bl_spool_reader_t *r = bl_spool_reader_create(k, path, "job-a");
    if (!r)
        return false;
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    bool ok = true;
    for (int i = 0;; i++) {
        size_t want = sizes[i % 3];
        if (len + want > cap) {
            cap = (len + want) * 2;
            uint8_t *grown = realloc(buf, cap);
            assert_non_null(grown);
            buf = grown;
        }
        ssize_t n = bl_spool_reader_read(r, buf + len, want);
        if (n < 0) {
            ok = false;
            // A failed reader stays failed.
            assert_int_equal(bl_spool_reader_read(r, buf, 1), -1);
            break;
        }
        if (n == 0)
            break;
        assert_true((size_t)n <= want);
        len += (size_t)n;
    }
    bl_spool_reader_delete(r);
    if (ok && out) {
        *out = buf;
        *out_len = len;
    } else {
        free(buf);
    }
    return ok;
}

static void check_round_trip(size_t len, const size_t *pieces)
{
    const char *path = tpath("rt.spool");
    uint8_t *data = make_data(len);
    write_doc(kek, path, data, len, pieces);
    uint8_t *back = NULL;
    size_t back_len = 0;
    assert_true(read_doc(kek, path, &back, &back_len));
    assert_int_equal(back_len, len);
    if (len)
        assert_memory_equal(back, data, len);
    free(back);
    free(data);
    assert_int_equal(unlink(path), 0);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    *len = (size_t)size;
    return buf;
}

static void spit(const char *path, const uint8_t *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
    chmod(path, 0600);
}

static void test_round_trip_empty(void **state)
{
    (void)state;
    check_round_trip(0, NULL);
}

static void test_round_trip_one_byte(void **state)
{
    (void)state;
    check_round_trip(1, NULL);
}

static void test_round_trip_one_segment(void **state)
{
    (void)state;
    check_round_trip(SEG, NULL);
    // Exactly one full segment, then an empty final one.
    const char *path = tpath("one.spool");
    uint8_t *data = make_data(SEG);
    write_doc(kek, path, data, SEG, NULL);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, HDR + SEG_REC + 4 + 16);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(data);
    unlink(path);
}

static void test_round_trip_many_odd_writes(void **state)
{
    (void)state;
    static const size_t pieces[] = {7, 100 * 1024, 7, 7, 1, 0};
    static const size_t sevens[] = {7, 0};
    check_round_trip(3 * 1024 * 1024, pieces);
    check_round_trip(3 * 1024 * 1024 + 5, sevens);
    check_round_trip(2 * SEG - 1, pieces);
    check_round_trip(2 * SEG + 1, NULL);
}

static void test_plaintext_not_in_file(void **state)
{
    (void)state;
    static const char marker[] = "BLATT-SECRET-MARKER-4f1c9e";
    const char *path = tpath("marker.spool");
    size_t len = 200000;
    uint8_t *data = malloc(len);
    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)marker[i % (sizeof(marker) - 1)];
    write_doc(kek, path, data, len, NULL);
    size_t flen;
    uint8_t *file = slurp(path, &flen);
    assert_null(memmem(file, flen, marker, sizeof(marker) - 1));
    assert_null(memmem(file, flen, "MARKER", 6));
    assert_memory_equal(file, "BLSPOOL1", 8);
    free(file);
    free(data);
    unlink(path);
}

// Writes a 3-segment document (2 full + 1 short) and returns its bytes.
static uint8_t *three_segments(const char *path, size_t *flen)
{
    uint8_t *data = make_data(2 * SEG + 1000);
    write_doc(kek, path, data, 2 * SEG + 1000, NULL);
    free(data);
    uint8_t *file = slurp(path, flen);
    assert_int_equal(*flen, HDR + 2 * SEG_REC + 4 + 1000 + 16);
    return file;
}

// Writes a modified copy of `file` and checks that reading it fails.
static void expect_fail(const uint8_t *file, size_t len)
{
    const char *path = tpath("bad.spool");
    spit(path, file, len);
    assert_false(read_doc(kek, path, NULL, NULL));
    unlink(path);
}

static void flip_and_expect_fail(const uint8_t *file, size_t flen, size_t off)
{
    uint8_t *copy = malloc(flen);
    assert_non_null(copy);
    memcpy(copy, file, flen);
    copy[off] ^= 0x01;
    expect_fail(copy, flen);
    free(copy);
}

static void test_flip_header_byte_fails(void **state)
{
    (void)state;
    size_t flen;
    uint8_t *file = three_segments(tpath("orig.spool"), &flen);
    for (size_t off = 0; off < HDR; off++)
        flip_and_expect_fail(file, flen, off);
    free(file);
    unlink(tpath("orig.spool"));
}

static void test_flip_segment_byte_fails(void **state)
{
    (void)state;
    size_t flen;
    uint8_t *file = three_segments(tpath("orig.spool"), &flen);
    const size_t seg1 = HDR + SEG_REC;
    const size_t seg2 = HDR + 2 * SEG_REC;
    flip_and_expect_fail(file, flen, HDR + 4);            // first ciphertext byte
    flip_and_expect_fail(file, flen, seg1 + 4 + 12345);   // middle segment
    flip_and_expect_fail(file, flen, seg1 + 4 + SEG + 3); // a tag byte
    flip_and_expect_fail(file, flen, seg2 + 4 + 999);     // short final segment
    flip_and_expect_fail(file, flen, flen - 1);           // final tag
    flip_and_expect_fail(file, flen, seg1 + 2);           // length field
    flip_and_expect_fail(file, flen, seg2 + 3);           // final length field
    free(file);
    unlink(tpath("orig.spool"));
}

static void test_truncation_fails(void **state)
{
    (void)state;
    size_t flen;
    uint8_t *file = three_segments(tpath("orig.spool"), &flen);
    expect_fail(file, HDR + 2 * SEG_REC);   // final segment dropped
    expect_fail(file, HDR + SEG_REC);       // last two dropped
    expect_fail(file, HDR);                 // header only
    expect_fail(file, HDR + SEG_REC + 100); // cut mid-segment
    expect_fail(file, HDR + SEG_REC + 2);   // cut inside a length field
    expect_fail(file, flen - 1);            // cut inside the final tag
    expect_fail(file, 40);                  // cut inside the header
    expect_fail(file, 0);                   // empty file
    free(file);

    // A document of exactly one segment: dropping its empty final segment must fail too.
    uint8_t *data = make_data(SEG);
    write_doc(kek, tpath("orig.spool"), data, SEG, NULL);
    file = slurp(tpath("orig.spool"), &flen);
    expect_fail(file, HDR + SEG_REC);
    free(data);
    free(file);
    unlink(tpath("orig.spool"));
}

static void test_trailing_data_fails(void **state)
{
    (void)state;
    size_t flen;
    uint8_t *file = three_segments(tpath("orig.spool"), &flen);
    uint8_t *longer = malloc(flen + 24);
    assert_non_null(longer);
    memcpy(longer, file, flen);
    memset(longer + flen, 0, 24);
    expect_fail(longer, flen + 24);
    // Appending a copy of the final segment after itself fails as well.
    memcpy(longer + flen, file + flen - 20, 20);
    expect_fail(longer, flen + 20);
    free(longer);
    free(file);
    unlink(tpath("orig.spool"));
}

static void test_reorder_segments_fails(void **state)
{
    (void)state;
    size_t flen;
    uint8_t *file = three_segments(tpath("orig.spool"), &flen);
    uint8_t *copy = malloc(flen);
    assert_non_null(copy);
    memcpy(copy, file, HDR);
    memcpy(copy + HDR, file + HDR + SEG_REC, SEG_REC);
    memcpy(copy + HDR + SEG_REC, file + HDR, SEG_REC);
    memcpy(copy + HDR + 2 * SEG_REC, file + HDR + 2 * SEG_REC, flen - HDR - 2 * SEG_REC);
    expect_fail(copy, flen);
    // Dropping a middle segment (index shift) fails too.
    memcpy(copy, file, HDR + SEG_REC);
    memcpy(copy + HDR + SEG_REC, file + HDR + 2 * SEG_REC, flen - HDR - 2 * SEG_REC);
    expect_fail(copy, flen - SEG_REC);
    free(copy);
    free(file);
    unlink(tpath("orig.spool"));
}

static void test_splice_between_files_fails(void **state)
{
    (void)state;
    size_t alen, blen;
    uint8_t *a = three_segments(tpath("a.spool"), &alen);
    uint8_t *b = three_segments(tpath("b.spool"), &blen);
    assert_int_equal(alen, blen);
    // Same plaintext, yet independent keys: b's segment 1 in a's place fails.
    assert_memory_not_equal(a + HDR, b + HDR, 64);
    memcpy(a + HDR + SEG_REC, b + HDR + SEG_REC, SEG_REC);
    expect_fail(a, alen);
    // b's header on a's segments fails.
    memcpy(b + HDR, a + HDR, alen - HDR);
    expect_fail(b, blen);
    free(a);
    free(b);
    unlink(tpath("a.spool"));
    unlink(tpath("b.spool"));
}

static void test_wrong_kek_fails(void **state)
{
    (void)state;
    const char *kpath = tpath("other.kek");
    unlink(kpath);
    bl_kek_t *other = bl_kek_load_or_create(kpath);
    assert_non_null(other);
    uint8_t *data = make_data(5000);
    write_doc(kek, tpath("k.spool"), data, 5000, NULL);
    assert_null(bl_spool_reader_create(other, tpath("k.spool"), "job-a"));
    assert_true(read_doc(kek, tpath("k.spool"), NULL, NULL));
    free(data);
    bl_kek_delete(other);
    unlink(kpath);
    unlink(tpath("k.spool"));
}

static void test_shred_removes_file(void **state)
{
    (void)state;
    const char *path = tpath("shred.spool");
    uint8_t *data = make_data(100000);
    write_doc(kek, path, data, 100000, NULL);
    // Keep a hard link to see what shred leaves in the blocks: the wrapped key is gone.
    const char *link_path = tpath("shred-link.spool");
    unlink(link_path);
    assert_int_equal(link(path, link_path), 0);
    size_t before_len, after_len;
    uint8_t *before = slurp(path, &before_len);
    assert_true(bl_spool_shred(path));
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(errno, ENOENT);
    uint8_t *after = slurp(link_path, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_not_equal(after + 36, before + 36, 32);
    assert_false(read_doc(kek, link_path, NULL, NULL));
    // Already gone is success.
    assert_true(bl_spool_shred(path));
    free(before);
    free(after);
    free(data);
    unlink(link_path);
}

static void test_rewrap(void **state)
{
    (void)state;
    const char *kpath = tpath("new.kek");
    const char *path = tpath("rewrap.spool");
    unlink(kpath);
    bl_kek_t *new_kek = bl_kek_load_or_create(kpath);
    assert_non_null(new_kek);
    size_t len = 3 * SEG + 77;
    uint8_t *data = make_data(len);
    write_doc(kek, path, data, len, NULL);
    // A key pair that does not open it leaves the file alone (a damaged or foreign document),
    // and so does another owner.
    const char *kpath2 = tpath("other.kek");
    unlink(kpath2);
    bl_kek_t *other = bl_kek_load_or_create(kpath2);
    assert_non_null(other);
    assert_int_equal(bl_spool_rewrap(other, new_kek, path, "job-a"), BL_REWRAP_UNREADABLE);
    assert_int_equal(bl_spool_rewrap(kek, new_kek, path, "job-b"), BL_REWRAP_UNREADABLE);
    bl_kek_delete(other);
    unlink(kpath2);
    assert_true(read_doc(kek, path, NULL, NULL));
    assert_int_equal(bl_spool_rewrap(kek, new_kek, path, "job-a"), BL_REWRAP_DONE);
    // Run again (an interrupted rotation): the new key opens it already.
    assert_int_equal(bl_spool_rewrap(kek, new_kek, path, "job-a"), BL_REWRAP_ALREADY);
    uint8_t *back = NULL;
    size_t back_len = 0;
    assert_true(read_doc(new_kek, path, &back, &back_len));
    assert_int_equal(back_len, len);
    assert_memory_equal(back, data, len);
    assert_false(read_doc(kek, path, NULL, NULL));
    free(back);
    free(data);
    bl_kek_delete(new_kek);
    unlink(kpath);
    unlink(path);
}

static void test_kek_file_modes(void **state)
{
    (void)state;
    const char *kpath = tpath("mode.kek");
    unlink(kpath);
    bl_kek_t *k1 = bl_kek_load_or_create(kpath);
    assert_non_null(k1);
    struct stat st;
    assert_int_equal(stat(kpath, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 32);

    // Loading again gives the same key: what k1 wrote, k2 reads.
    bl_kek_t *k2 = bl_kek_load_or_create(kpath);
    assert_non_null(k2);
    uint8_t *data = make_data(10);
    write_doc(k1, tpath("m.spool"), data, 10, NULL);
    assert_true(read_doc(k2, tpath("m.spool"), NULL, NULL));
    bl_kek_delete(k2);

    assert_int_equal(chmod(kpath, 0644), 0);
    assert_null(bl_kek_load_or_create(kpath));
    assert_int_equal(chmod(kpath, 0640), 0);
    assert_null(bl_kek_load_or_create(kpath));
    assert_int_equal(chmod(kpath, 0400), 0);
    k2 = bl_kek_load_or_create(kpath);
    assert_non_null(k2);
    bl_kek_delete(k2);

    // Wrong size is refused, and the file is not replaced.
    unlink(kpath);
    uint8_t short_key[31] = {0};
    spit(kpath, short_key, sizeof(short_key));
    assert_null(bl_kek_load_or_create(kpath));
    assert_int_equal(stat(kpath, &st), 0);
    assert_int_equal(st.st_size, 31);

    // A symlink is not followed.
    unlink(kpath);
    assert_int_equal(symlink(tpath("nowhere.kek"), kpath), 0);
    assert_null(bl_kek_load_or_create(kpath));
    assert_int_equal(access(tpath("nowhere.kek"), F_OK), -1);

    bl_kek_delete(k1);
    free(data);
    unlink(kpath);
    unlink(tpath("m.spool"));
}

static void test_writer_abort_and_exclusive(void **state)
{
    (void)state;
    const char *path = tpath("abort.spool");
    unlink(path);
    bl_spool_writer_t *w = bl_spool_writer_create(kek, path, "job-a");
    assert_non_null(w);
    // O_EXCL: a second writer on the same path is refused.
    assert_null(bl_spool_writer_create(kek, path, "job-a"));
    uint8_t *data = make_data(SEG + 10);
    assert_true(bl_spool_writer_write(w, data, SEG + 10));
    assert_int_equal(access(path, F_OK), 0);
    bl_spool_writer_abort(w);
    assert_int_equal(access(path, F_OK), -1);
    // The refused second create did not remove the first writer's file either.
    w = bl_spool_writer_create(kek, path, "job-a");
    assert_non_null(w);
    assert_null(bl_spool_writer_create(kek, path, "job-a"));
    assert_int_equal(access(path, F_OK), 0);
    bl_spool_writer_abort(w);
    bl_spool_writer_abort(NULL);
    assert_null(bl_spool_writer_create(kek, tpath("no-such-dir/x.spool"), "job-a"));
    free(data);
}

// A document opens only for the owner it was written for: read for another job (a mix-up of
// file names or log places) it fails, and tells why.
static void test_binding(void **state)
{
    (void)state;
    const char *path = tpath("bound.spool");
    uint8_t *data = make_data(5000);
    write_doc(kek, path, data, 5000, NULL);
    bl_spool_reader_t *r = bl_spool_reader_create(kek, path, "job-b");
    assert_null(r);
    r = bl_spool_reader_create(kek, path, "");
    assert_null(r);
    assert_true(read_doc(kek, path, NULL, NULL)); // "job-a", as written
    free(data);
    unlink(path);
}

// Public random bytes from the buffer: never handed out twice (1000 16-byte values over
// several refills), and not all zero.
static void test_random_public_unique(void **state)
{
    (void)state;
    enum { N = 1000 };
    static uint8_t v[N][16];
    for (int i = 0; i < N; i++)
        assert_true(bl_random_public(v[i], sizeof(v[i])));
    for (int i = 0; i < N; i++) {
        static const uint8_t zero[16];
        assert_memory_not_equal(v[i], zero, 16);
        for (int j = i + 1; j < N; j++)
            assert_memory_not_equal(v[i], v[j], 16);
    }
}

static int group_setup(void **state)
{
    (void)state;
    if (!getenv("BL_TEST_VERBOSE"))
        bl_log_open("/dev/null", BL_LOG_ERROR);
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof(tmpdir), "%s/test-spool-XXXXXX", base);
    if (!mkdtemp(tmpdir))
        return -1;
    kek = bl_kek_load_or_create(tpath("server.kek"));
    return kek ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    bl_kek_delete(kek);
    unlink(tpath("server.kek"));
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_empty),
        cmocka_unit_test(test_round_trip_one_byte),
        cmocka_unit_test(test_round_trip_one_segment),
        cmocka_unit_test(test_round_trip_many_odd_writes),
        cmocka_unit_test(test_plaintext_not_in_file),
        cmocka_unit_test(test_flip_header_byte_fails),
        cmocka_unit_test(test_flip_segment_byte_fails),
        cmocka_unit_test(test_truncation_fails),
        cmocka_unit_test(test_trailing_data_fails),
        cmocka_unit_test(test_reorder_segments_fails),
        cmocka_unit_test(test_splice_between_files_fails),
        cmocka_unit_test(test_wrong_kek_fails),
        cmocka_unit_test(test_shred_removes_file),
        cmocka_unit_test(test_rewrap),
        cmocka_unit_test(test_kek_file_modes),
        cmocka_unit_test(test_writer_abort_and_exclusive),
        cmocka_unit_test(test_random_public_unique),
        cmocka_unit_test(test_binding),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
