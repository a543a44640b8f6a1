// The document log: small encrypted documents one after another in segment files.
// Licensed under the Apache License, Version 2.0.
//
// Why: a document that rides in SQLite is written twice (WAL, then checkpoint) and costs
// dozens of page writes; one file per document costs a file sync and a directory sync each.
// Here every document finished in a loop pass is one pwrite() at the end of the current
// segment, and the segment is synced once, before the WAL that records where the documents
// lie. Only documents up to BL_INLINE_DOCUMENT_MAX come here; larger ones stream into files
// of their own.
//
// Writes leave the loop: an append only reserves its place and keeps the encrypted bytes;
// bl_doclog_flush() hands this pass's writes, shreds and syncs to the store's sync thread,
// which does them in order before it syncs the WAL (store.c). A document is read only after
// its job's commit is durable, so never before its bytes are on disk. Offline tools, which
// have no sync thread, write with bl_doclog_sync().
//
// Direct writes: appends bypass the page cache (O_DIRECT) where the file system takes it. A
// document is written once and read back once, when it prints; copying it into page-cache
// memory first cost more CPU than anything else in taking a job (on a VM, whose fresh memory
// is slow to touch, a quarter of blattd's time), and fdatasync() then had that copy to write
// back. Direct writes need aligned places and lengths: each document then starts on a
// DIRECT_ALIGN boundary and the gap after it is zeros. The first segment of a run tries one
// such write; where it fails (tmpfs of old kernels, some network file systems) documents are
// written through the page cache, back to back, as before. Shredding and key rotation write a
// few bytes in place through the ordinary descriptor.
//
// Layout: DIR/NNNNNNNN.seg (decimal segment number, 8 digits), each a sequence of documents in
// the spool format (spool.c) from offset 0, back to back or each on a DIRECT_ALIGN boundary
// with zeros between (both kinds are read). Jobs record (segment, offset,
// length). A new segment starts when the current one would pass BL_DOCLOG_SEGMENT_MAX, and
// after every start (a segment is never appended to by two runs of the daemon).
//
// Shredding: a document's key is destroyed in place (bl_spool_shred_at): the framing stays, so
// a segment can always be walked. A segment whose documents are all shredded is synced and
// removed. A crash can leave documents whose key survived: ones appended in a pass that never
// committed, and ones whose shredding was not yet on disk when the commit that ended their job
// was. bl_doclog_recover() walks every segment at start-up and shreds every document that no
// job needs, so neither kind outlives the next start.
#include "server/doclog.h"

#include "server/log.h"
#include "server/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// Place and length alignment of direct writes (4 KiB covers every common block size).
#define DIRECT_ALIGN 4096

typedef struct segment {
    uint32_t seq;
    int fd;        // -1 until needed
    int dfd;       // O_DIRECT descriptor for appends (segments started in this run), or -1
    int64_t size;  // bytes written or reserved (the current segment), or the file's size
    size_t live;   // documents jobs still need (counted by bl_doclog_recover())
    bool dirty;    // written since the last sync
    bool retiring; // no live document left: removed once its shredding is durable
} segment_t;

// A write not yet handed on: an appended document, or the shredding bytes of one.
typedef struct op {
    uint32_t seq;
    int64_t off;
    uint8_t *buf;
    size_t len;
    size_t space; // the room taken: len, or len rounded up to DIRECT_ALIGN
    bool direct;  // a document for the segment's dfd, at an aligned place
} op_t;

// One write of the ops: direct appends one after another become one aligned buffer.
typedef struct wr {
    uint32_t seq;
    int64_t off;
    uint8_t *buf;
    size_t len;
    bool direct;
} wr_t;

// The most one direct write gathers.
#define GATHER_MAX (8 * 1024 * 1024)

struct bl_doclog {
    char *dir;
    int dir_fd;
    bool dir_dirty;  // a segment was created since the last sync
    bool tracking;   // live counts are known (after bl_doclog_recover())
    segment_t *segs; // sorted by seq
    size_t num_segs, cap_segs;
    uint32_t next_seq;
    uint32_t cur; // seq of the segment appended to, 0 = none yet
    int direct;   // appends bypass the page cache: 1 yes, -1 no, 0 not tried yet
    op_t *ops;    // in order
    size_t num_ops, cap_ops;
};

static void seg_path(const bl_doclog_t *log, uint32_t seq, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%08u.seg", log->dir, seq);
}

// The segment number of a file name "NNNNNNNN.seg", or 0.
static uint32_t parse_name(const char *name)
{
    if (strlen(name) != 12 || strcmp(name + 8, ".seg") != 0)
        return 0;
    uint32_t seq = 0;
    for (int i = 0; i < 8; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        seq = seq * 10 + (uint32_t)(name[i] - '0');
    }
    return seq;
}

static segment_t *seg_find(bl_doclog_t *log, uint32_t seq)
{
    size_t lo = 0, hi = log->num_segs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (log->segs[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < log->num_segs && log->segs[lo].seq == seq ? &log->segs[lo] : NULL;
}

// Adds a segment to the table (kept sorted); NULL when out of memory.
static segment_t *seg_add(bl_doclog_t *log, uint32_t seq)
{
    if (log->num_segs == log->cap_segs) {
        size_t cap = log->cap_segs ? log->cap_segs * 2 : 16;
        segment_t *s = realloc(log->segs, cap * sizeof(*s));
        if (!s) {
            bl_log(BL_LOG_ERROR, "doclog: out of memory");
            return NULL;
        }
        log->segs = s;
        log->cap_segs = cap;
    }
    size_t i = log->num_segs;
    while (i > 0 && log->segs[i - 1].seq > seq) {
        log->segs[i] = log->segs[i - 1];
        i--;
    }
    log->segs[i] = (segment_t){.seq = seq, .fd = -1, .dfd = -1};
    log->num_segs++;
    if (seq >= log->next_seq)
        log->next_seq = seq + 1;
    return &log->segs[i];
}

static void seg_remove(bl_doclog_t *log, segment_t *s)
{
    if (s->fd >= 0)
        close(s->fd);
    if (s->dfd >= 0)
        close(s->dfd);
    size_t i = (size_t)(s - log->segs);
    memmove(&log->segs[i], &log->segs[i + 1], (log->num_segs - i - 1) * sizeof(*s));
    log->num_segs--;
}

// Opens a known segment's file when it is not open yet.
static bool seg_open(bl_doclog_t *log, segment_t *s)
{
    if (s->fd >= 0)
        return true;
    char path[1100];
    seg_path(log, s->seq, path, sizeof(path));
    s->fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (s->fd < 0 || fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = s->fd < 0 ? errno : EINVAL; // EINVAL: not a regular file
        bl_log(BL_LOG_ERROR, "doclog: cannot open %s: %s", path,
               s->fd < 0 ? strerror(err) : "not a regular file");
        if (s->fd >= 0)
            close(s->fd);
        s->fd = -1;
        errno = err;
        return false;
    }
    s->size = st.st_size;
    return true;
}

// Lists the segment files of the directory into the table.
static bool scan_dir(bl_doclog_t *log)
{
    DIR *d = opendir(log->dir);
    if (!d) {
        bl_log(BL_LOG_ERROR, "doclog: cannot read %s: %s", log->dir, strerror(errno));
        return false;
    }
    struct dirent *de;
    bool ok = true;
    while (ok && (de = readdir(d)) != NULL) {
        uint32_t seq = parse_name(de->d_name);
        if (seq && !seg_find(log, seq))
            ok = seg_add(log, seq) != NULL;
    }
    closedir(d);
    return ok;
}

bl_doclog_t *bl_doclog_open(const char *dir)
{
    bl_doclog_t *log = calloc(1, sizeof(*log));
    if (!log || !(log->dir = strdup(dir))) {
        bl_log(BL_LOG_ERROR, "doclog: out of memory");
        free(log);
        return NULL;
    }
    log->next_seq = 1;
    log->dir_fd = -1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        bl_log(BL_LOG_ERROR, "doclog: cannot create %s: %s", dir, strerror(errno));
        bl_doclog_close(log);
        return NULL;
    }
    log->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (log->dir_fd < 0) {
        bl_log(BL_LOG_ERROR, "doclog: cannot open %s: %s", dir, strerror(errno));
        bl_doclog_close(log);
        return NULL;
    }
    if (!scan_dir(log)) {
        bl_doclog_close(log);
        return NULL;
    }
    return log;
}

void bl_doclog_close(bl_doclog_t *log)
{
    if (!log)
        return;
    bl_doclog_sync(log);
    for (size_t i = 0; i < log->num_segs; i++) {
        if (log->segs[i].fd >= 0)
            close(log->segs[i].fd);
        if (log->segs[i].dfd >= 0)
            close(log->segs[i].dfd);
    }
    // A segment that was started but never written to goes.
    segment_t *cur = log->cur ? seg_find(log, log->cur) : NULL;
    if (cur && cur->size == 0) {
        char path[1100];
        seg_path(log, cur->seq, path, sizeof(path));
        unlink(path);
    }
    if (log->dir_fd >= 0)
        close(log->dir_fd);
    free(log->ops);
    free(log->segs);
    free(log->dir);
    free(log);
}

static void seg_retire(bl_doclog_t *log, segment_t *s);

// A live reference and its place in the caller's array (recovery sorts a copy).
typedef struct live_ref {
    bl_doclog_ref_t ref;
    size_t idx;
} live_ref_t;

static int cmp_live(const void *a, const void *b)
{
    const bl_doclog_ref_t *x = &((const live_ref_t *)a)->ref, *y = &((const live_ref_t *)b)->ref;
    if (x->seg != y->seg)
        return x->seg < y->seg ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

static bool is_live(const live_ref_t *live, size_t n, uint32_t seg, int64_t off)
{
    live_ref_t key = {{seg, off, 0}, 0};
    return n && bsearch(&key, live, n, sizeof(*live), cmp_live) != NULL;
}

// The offset of the next document's magic after `from`, or -1: how the walk finds its way
// past a hole (a write that failed after its place was taken) or bytes a crash left.
static int64_t next_magic(int fd, int64_t from, int64_t end)
{
    static const char magic[] = "BLSPOOL1";
    char buf[65536 + 8];
    for (int64_t at = from; at < end; at += 65536) {
        size_t want = end - at < (int64_t)sizeof(buf) ? (size_t)(end - at) : sizeof(buf);
        ssize_t n = pread(fd, buf, want, at);
        if (n < 8)
            return -1;
        for (ssize_t k = 0; k + 8 <= n; k++) {
            if (buf[k] == 'B' && !memcmp(buf + k, magic, 8))
                return at + k;
        }
    }
    return -1;
}

// The place after a document's end: past the zeros up to the next DIRECT_ALIGN boundary when
// the document was written directly (nothing but zeros there), else `off` itself.
static int64_t past_padding(int fd, int64_t off, int64_t end)
{
    int64_t next = (off + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN;
    if (next == off || off >= end)
        return off;
    if (next > end)
        next = end;
    uint8_t buf[DIRECT_ALIGN];
    size_t want = (size_t)(next - off);
    if (pread(fd, buf, want, off) != (ssize_t)want)
        return off;
    for (size_t i = 0; i < want; i++) {
        if (buf[i])
            return off;
    }
    return next;
}

// Walks one segment from start to end, past holes, and shreds every document with a key
// that no job needs. The live documents are checked one by one elsewhere (check_live).
static bool shred_orphans(bl_doclog_t *log, segment_t *s, const live_ref_t *live, size_t num_live,
                          size_t *shredded)
{
    int64_t off = 0, junk = 0;
    size_t shred_here = 0;
    bl_spool_entry_t e;
    while (off < s->size) {
        if (!bl_spool_entry_walk(s->fd, off, s->size, &e)) {
            int64_t next = next_magic(s->fd, off + 1, s->size);
            junk += (next < 0 ? s->size : next) - off;
            if (next < 0)
                break;
            off = next;
            continue;
        }
        if (!e.shredded && !is_live(live, num_live, s->seq, off)) {
            if (!bl_spool_shred_at(s->fd, off, s->size))
                return false;
            shred_here++;
        }
        // A damaged document may hide others after it: look for the next one.
        if (!e.complete) {
            off += 8;
            continue;
        }
        off = past_padding(s->fd, off + e.len, s->size);
    }
    if (junk)
        bl_log(BL_LOG_WARN,
               "doclog: segment %u holds %lld bytes that are no document (a write that failed"
               " or was cut by a crash)",
               s->seq, (long long)junk);
    if (shred_here && fdatasync(s->fd) != 0) {
        bl_log(BL_LOG_ERROR, "doclog: cannot sync segment %u: %s", s->seq, strerror(errno));
        return false;
    }
    *shredded += shred_here;
    return true;
}

// Is the document a job needs there, whole and with its key? false (logged) when not.
static bool check_live(bl_doclog_t *log, const bl_doclog_ref_t *r)
{
    segment_t *s = seg_find(log, r->seg);
    bl_spool_entry_t e;
    const char *why = NULL;
    if (!s || s->fd < 0)
        why = "its segment is missing or unusable";
    else if (r->off < 0 || r->len <= 0 || r->off + r->len > s->size)
        why = "it lies beyond the end of its segment (never written: a crash or a full disk)";
    else if (!bl_spool_entry_walk(s->fd, r->off, s->size, &e))
        why = "there is no document at its place";
    else if (e.shredded)
        why = "its key was destroyed";
    else if (!e.complete || e.len != r->len)
        why = "it is cut short or damaged";
    if (!why)
        return true;
    bl_log(BL_LOG_ERROR, "doclog: the document at %u:%lld is lost: %s", r->seg, (long long)r->off,
           why);
    return false;
}

bool bl_doclog_recover(bl_doclog_t *log, const bl_doclog_ref_t *refs, size_t num_refs,
                       uint32_t min_next_seq, bool *lost, size_t *shredded)
{
    *shredded = 0;
    live_ref_t *live = calloc(num_refs + 1, sizeof(*live));
    if (!live) {
        bl_log(BL_LOG_ERROR, "doclog: out of memory");
        return false;
    }
    for (size_t i = 0; i < num_refs; i++) {
        live[i] = (live_ref_t){refs[i], i};
        lost[i] = false;
    }
    if (num_refs)
        qsort(live, num_refs, sizeof(*live), cmp_live);
    // Never a segment number that a job may still name (its segment may be gone).
    if (min_next_seq > log->next_seq)
        log->next_seq = min_next_seq;
    // What is not a segment file (a directory, a symlink, a fifo) is left alone. A segment
    // that cannot be opened just now (no descriptors, no permission) stops the start: going
    // on would throw away the documents that acknowledged jobs need.
    for (size_t i = 0; i < log->num_segs;) {
        segment_t *s = &log->segs[i];
        if (seg_open(log, s)) {
            i++;
            continue;
        }
        if (errno != ELOOP && errno != EISDIR && errno != EINVAL && errno != ENOENT &&
            errno != ENXIO) {
            bl_log(BL_LOG_ERROR,
                   "doclog: segment %u cannot be opened: %s; blattd will not start"
                   " until it can (nothing was changed)",
                   s->seq, strerror(errno));
            free(live);
            return false;
        }
        bl_log(BL_LOG_WARN, "doclog: %08u.seg is not a usable segment: left alone", s->seq);
        if (s->seq >= min_next_seq)
            min_next_seq = s->seq + 1; // its name stays taken
        seg_remove(log, s);
    }
    bool ok = true;
    for (size_t i = 0; ok && i < log->num_segs; i++)
        ok = shred_orphans(log, &log->segs[i], live, num_refs, shredded);
    for (size_t i = 0; ok && i < num_refs; i++) {
        segment_t *s = seg_find(log, live[i].ref.seg);
        if (check_live(log, &live[i].ref))
            s->live++;
        else
            lost[live[i].idx] = true;
    }
    free(live);
    if (!ok)
        return false;
    // Segments without a live document go (their documents are shredded by now).
    for (size_t i = 0; i < log->num_segs;) {
        segment_t *s = &log->segs[i];
        if (s->live)
            i++;
        else
            seg_retire(log, s);
    }
    // Numbers from here on: above every segment seen (kept or removed), every name left alone
    // and every segment a job names. Only when a removed stray file used up the numbers
    // (99999999.seg) do they start again above what is kept and named.
    uint32_t floor = min_next_seq > 0 ? min_next_seq : 1;
    for (size_t i = 0; i < log->num_segs; i++) {
        if (log->segs[i].seq >= floor)
            floor = log->segs[i].seq + 1;
        // Descriptors are opened again when needed: one per segment adds up.
        close(log->segs[i].fd);
        log->segs[i].fd = -1;
    }
    if (log->next_seq < floor || log->next_seq > 99999999)
        log->next_seq = floor;
    log->tracking = true;
    log->cur = 0; // the next append starts a new segment
    return true;
}

// Removes a finished segment without live documents (its shredding is on disk by now).
static void seg_retire(bl_doclog_t *log, segment_t *s)
{
    char path[1100];
    seg_path(log, s->seq, path, sizeof(path));
    if (unlink(path) != 0)
        bl_log(BL_LOG_WARN, "doclog: cannot remove %s: %s", path, strerror(errno));
    seg_remove(log, s);
}

static bool push_op(bl_doclog_t *log, op_t op)
{
    if (log->num_ops == log->cap_ops) {
        size_t cap = log->cap_ops ? log->cap_ops * 2 : 64;
        op_t *p = realloc(log->ops, cap * sizeof(*p));
        if (!p) {
            bl_log(BL_LOG_ERROR, "doclog: out of memory");
            return false;
        }
        log->ops = p;
        log->cap_ops = cap;
    }
    log->ops[log->num_ops++] = op;
    return true;
}

// A descriptor for direct appends to a new segment; the run's first one tries an aligned write.
static void open_direct(bl_doclog_t *log, segment_t *s, const char *path)
{
    int dfd = open(path, O_WRONLY | O_DIRECT | O_NOFOLLOW | O_CLOEXEC);
    int err = errno;
    if (dfd >= 0 && log->direct == 0) {
        void *probe = aligned_alloc(DIRECT_ALIGN, DIRECT_ALIGN);
        bool ok = probe != NULL;
        if (ok) {
            memset(probe, 0, DIRECT_ALIGN);
            ok = pwrite(dfd, probe, DIRECT_ALIGN, 0) == DIRECT_ALIGN;
            err = errno;
            ok = ftruncate(s->fd, 0) == 0 && ok;
        }
        free(probe);
        if (!ok) {
            close(dfd);
            dfd = -1;
        }
    }
    if (dfd < 0 && log->direct == 0)
        bl_log(BL_LOG_INFO,
               "doclog: %s takes no direct writes (%s): documents go through the page cache",
               log->dir, strerror(err));
    if (log->direct == 0)
        log->direct = dfd >= 0 ? 1 : -1;
    s->dfd = dfd;
}

// The segment to append len bytes to: the current one, or a new one.
static segment_t *seg_for_append(bl_doclog_t *log, size_t len)
{
    segment_t *s = log->cur ? seg_find(log, log->cur) : NULL;
    if (s && (s->size == 0 || s->size + (int64_t)len <= BL_DOCLOG_SEGMENT_MAX))
        return s;
    uint32_t seq = log->next_seq;
    if (seq > 99999999) {
        // 10^8 segments of 64 MiB are never filled: a stray file with a high number was put
        // into the directory. Names have eight digits; none is used twice.
        bl_log(BL_LOG_ERROR,
               "doclog: no segment numbers left after %u (remove the stray"
               " file from %s)",
               seq - 1, log->dir);
        errno = ENOSPC;
        return NULL;
    }
    char path[1100];
    seg_path(log, seq, path, sizeof(path));
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int err = errno;
        bl_log(BL_LOG_ERROR, "doclog: cannot create %s: %s", path, strerror(err));
        errno = err;
        return NULL;
    }
    // The previous segment is finished: it goes once nothing in it is live.
    if (s && log->tracking && s->live == 0)
        s->retiring = true;
    s = seg_add(log, seq);
    if (!s) {
        close(fd);
        unlink(path);
        errno = ENOMEM;
        return NULL;
    }
    s->fd = fd;
    log->cur = seq;
    log->dir_dirty = true;
    if (log->direct >= 0)
        open_direct(log, s, path);
    return s;
}

void bl_doclog_set_direct(bl_doclog_t *log, bool on)
{
    log->direct = on ? 0 : -1;
}

bool bl_doclog_append(bl_doclog_t *log, uint8_t *data, size_t len, bl_doclog_ref_t *ref)
{
    size_t padded = (len + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN;
    segment_t *s = seg_for_append(log, log->direct >= 0 ? padded : len);
    if (!s) {
        free(data);
        return false;
    }
    op_t op = {s->seq, s->size, data, len, len, false};
    if (s->dfd >= 0 && s->size % DIRECT_ALIGN == 0 && len > 0)
        op = (op_t){s->seq, s->size, data, len, padded, true};
    if (!push_op(log, op)) {
        free(data);
        return false;
    }
    *ref = (bl_doclog_ref_t){s->seq, s->size, (int64_t)len};
    s->size += (int64_t)op.space;
    s->live++;
    return true;
}

// The bytes that shred a document in place from its flags on (bl_spool_shred_at's layout): its
// write, if still waiting here, is changed instead.
static bool shred_op(bl_doclog_t *log, const bl_doclog_ref_t *ref)
{
    for (size_t i = log->num_ops; i-- > 0;) {
        op_t *op = &log->ops[i];
        if (op->seq == ref->seg && op->off == ref->off && op->len >= BL_SPOOL_HEADER_SIZE)
            return bl_spool_shred_buffer(op->buf, op->len);
    }
    uint8_t *buf = malloc(BL_SPOOL_HEADER_SIZE);
    if (!buf || !bl_spool_shred_bytes(buf)) {
        free(buf);
        return false;
    }
    // Bytes 10.. of the header: flags, segment size, nonce prefix, wrapped key, tag.
    memmove(buf, buf + 10, BL_SPOOL_HEADER_SIZE - 10);
    size_t n = BL_SPOOL_HEADER_SIZE - 10;
    if (!push_op(log, (op_t){ref->seg, ref->off + 10, buf, n, n, false})) {
        free(buf);
        return false;
    }
    return true;
}

bool bl_doclog_shred(bl_doclog_t *log, const bl_doclog_ref_t *ref)
{
    segment_t *s = seg_find(log, ref->seg);
    if (!s) {
        bl_log(BL_LOG_ERROR, "doclog: no segment %u to shred in", ref->seg);
        return false;
    }
    if (ref->len < BL_SPOOL_HEADER_SIZE || !shred_op(log, ref))
        return false;
    if (log->tracking && s->live > 0 && --s->live == 0 && s->seq != log->cur)
        s->retiring = true;
    return true;
}

bl_spool_reader_t *bl_doclog_reader(bl_doclog_t *log, const bl_kek_t *kek,
                                    const bl_doclog_ref_t *ref, const char *bind)
{
    char path[1100];
    seg_path(log, ref->seg, path, sizeof(path));
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        bl_log(BL_LOG_ERROR, "doclog: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    return bl_spool_reader_create_range(kek, fd, ref->off, ref->len, bind);
}

bl_rewrap_t bl_doclog_rewrap(bl_doclog_t *log, const bl_kek_t *old_kek, const bl_kek_t *new_kek,
                             const bl_doclog_ref_t *ref, const char *bind)
{
    segment_t *s = seg_find(log, ref->seg);
    char what[64];
    snprintf(what, sizeof(what), "document %u:%lld", ref->seg, (long long)ref->off);
    if (!s) {
        bl_log(BL_LOG_ERROR, "doclog: %s: its segment is missing", what);
        return BL_REWRAP_UNREADABLE;
    }
    if (!seg_open(log, s)) {
        // Gone, or not a file: the document is lost. Anything else may pass (no descriptor
        // left, no permission): then the old key must stay, or an intact document is lost.
        return errno == ENOENT || errno == ELOOP || errno == EISDIR || errno == EINVAL
                   ? BL_REWRAP_UNREADABLE
                   : BL_REWRAP_FAILED;
    }
    bl_rewrap_t r = bl_spool_rewrap_at(old_kek, new_kek, s->fd, ref->off, what, bind);
    if (r == BL_REWRAP_DONE)
        s->dirty = true;
    return r;
}

typedef struct retire_ctx {
    bl_doclog_t *log;
    uint32_t seq;
} retire_ctx_t;

static void on_retire_durable(void *arg, bool ok)
{
    retire_ctx_t *r = arg;
    segment_t *s = seg_find(r->log, r->seq);
    if (s && ok)
        seg_retire(r->log, s);
    else if (s)
        s->retiring = true; // try again after the next durable commit
    free(r);
}

// The next write of the ops from *i on (*i moves past what it takes; their buffers are the
// write's or freed). Direct appends placed one after another in a segment go in one aligned
// buffer with zeros after each document: one write, one wait for the device. Without memory
// for that copy, a document goes through the page cache at its place (the gap after it reads
// as zeros anyway).
static wr_t next_write(bl_doclog_t *log, size_t *i)
{
    op_t *op = &log->ops[*i];
    size_t end = *i + 1, total = op->space;
    if (op->direct) {
        while (end < log->num_ops && log->ops[end].direct && log->ops[end].seq == op->seq &&
               log->ops[end].off == op->off + (int64_t)total &&
               total + log->ops[end].space <= GATHER_MAX) {
            total += log->ops[end].space;
            end++;
        }
        uint8_t *buf = aligned_alloc(DIRECT_ALIGN, total);
        if (buf) {
            size_t at = 0;
            for (size_t k = *i; k < end; k++) {
                op_t *o = &log->ops[k];
                memcpy(buf + at, o->buf, o->len);
                memset(buf + at + o->len, 0, o->space - o->len);
                at += o->space;
                free(o->buf);
            }
            wr_t w = {op->seq, op->off, buf, total, true};
            *i = end;
            return w;
        }
    }
    (*i)++;
    return (wr_t){op->seq, op->off, op->buf, op->len, false};
}

void bl_doclog_flush(bl_doclog_t *log, bl_store_t *store)
{
    // Writes in order, on the segments' own descriptors: they stay open until a segment is
    // retired, which happens only after a commit with its last write is durable.
    for (size_t i = 0; i < log->num_ops;) {
        wr_t w = next_write(log, &i);
        segment_t *s = seg_find(log, w.seq);
        if (!s || !seg_open(log, s)) {
            // The documents of this pass cannot be written: the pass must not count as durable.
            bl_log(BL_LOG_ERROR, "doclog: segment %u cannot be written to", w.seq);
            bl_store_fail_pass(store, errno);
            free(w.buf);
            continue;
        }
        bl_store_sync_borrowed(store, w.direct ? s->dfd : s->fd, w.off, w.buf, w.len);
        s->dirty = true;
    }
    log->num_ops = 0;
    for (size_t i = 0; i < log->num_segs; i++) {
        segment_t *s = &log->segs[i];
        if (s->dirty && s->fd >= 0) {
            bl_store_sync_borrowed(store, s->fd, 0, NULL, 0);
            s->dirty = false;
        }
        retire_ctx_t *r = s->retiring ? malloc(sizeof(*r)) : NULL;
        if (r) {
            // Removed once this commit, with the shredding in it, is durable.
            *r = (retire_ctx_t){log, s->seq};
            s->retiring = false;
            bl_store_after_commit(store, on_retire_durable, r);
        }
    }
    if (log->dir_dirty) {
        bl_store_sync_borrowed(store, log->dir_fd, 0, NULL, 0);
        log->dir_dirty = false;
    }
}

bool bl_doclog_sync(bl_doclog_t *log)
{
    bool ok = true;
    for (size_t i = 0; i < log->num_ops;) {
        wr_t w = next_write(log, &i);
        segment_t *s = seg_find(log, w.seq);
        size_t done = 0;
        while (s && seg_open(log, s) && done < w.len) {
            int fd = w.direct ? s->dfd : s->fd;
            ssize_t n = pwrite(fd, w.buf + done, w.len - done, w.off + (off_t)done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            done += (size_t)n;
        }
        if (done < w.len) {
            bl_log(BL_LOG_ERROR, "doclog: cannot write segment %u: %s", w.seq, strerror(errno));
            ok = false;
        }
        if (s)
            s->dirty = true;
        free(w.buf);
    }
    log->num_ops = 0;
    for (size_t i = 0; i < log->num_segs; i++) {
        segment_t *s = &log->segs[i];
        if (s->dirty && s->fd >= 0 && fdatasync(s->fd) != 0) {
            bl_log(BL_LOG_ERROR, "doclog: cannot sync segment %u: %s", s->seq, strerror(errno));
            ok = false;
        }
        s->dirty = false;
    }
    if (log->dir_dirty && fsync(log->dir_fd) != 0) {
        bl_log(BL_LOG_ERROR, "doclog: cannot sync %s: %s", log->dir, strerror(errno));
        ok = false;
    }
    log->dir_dirty = false;
    for (size_t i = 0; ok && i < log->num_segs;) {
        if (log->segs[i].retiring)
            seg_retire(log, &log->segs[i]);
        else
            i++;
    }
    return ok;
}
