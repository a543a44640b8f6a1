// Encrypted spool files of blattd: streaming AES-256-GCM writer and reader, KEK, shred, rewrap.
// Licensed under the Apache License, Version 2.0.
//
// On-disk format, version 2 (all integers big-endian):
//
//   offset size  header field
//        0    8  magic "BLSPOOL1"
//        8    2  format version (2; 1 = a document of blattd before 0.2, still read)
//       10    2  flags (0; 0xFFFF marks a document of the log whose key was shredded in place)
//       12    4  segment size S: plaintext bytes per full segment (writer: 65536)
//       16    8  nonce prefix P: random per file
//       24   12  wrap nonce: random per wrap
//       36   32  wrapped data key: AES-256-GCM(KEK, wrap nonce, AAD = header bytes 0..23 ||
//                 binding); the binding (version 2) names the owner, the job's uuid
//       68   16  wrap tag
//       84       first segment
//
//   segment i (i = 0, 1, ...):
//        4  ciphertext length L (0 <= L <= S)
//        L  ciphertext: AES-256-GCM(data key, nonce = P || u32 i, AAD = u32 i || u8 last)
//       16  tag
//
// Every segment but the last holds exactly S bytes; the last one holds fewer (0..S-1, so an
// empty last segment follows a document whose length is a multiple of S). A reader therefore
// knows from L alone whether a segment claims to be the last, and the AAD makes the claim
// authentic: dropping the final segment leaves a full segment followed by end of file (error),
// cutting a segment short fails its read, reordering changes the index in the AAD, a short
// segment relabelled as full fails its tag, and bytes after the last segment are an error.
// Splicing between files fails because every file has its own data key. The header is bound by
// the wrap AAD, so flipping any header byte makes the unwrap fail. So is the owner: a document
// read for another job than its own does not unwrap, whatever mix-up of file names or of log
// places (segment, offset) led there.
//
// Keys: a fresh 256-bit data key per document (RAND_priv_bytes), wrapped under the server's KEK
// with a random 96-bit nonce. Key material lives in OpenSSL's secure heap when one is set up and
// is wiped (OPENSSL_cleanse) when freed; so are plaintext buffers. bl_spool_shred() overwrites
// the header (wrapped key) with random bytes before unlinking. On copy-on-write file systems and
// SSDs an in-place overwrite may leave the old block behind; the lasting guarantee then comes
// from rotating the KEK (bl_spool_rewrap() the live files, then destroy the old KEK).
#include "server/spool.h"

#include "server/log.h"
#include "server/random.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "BLSPOOL1"
#define MAGIC_LEN 8
#define VERSION 2
#define VERSION_UNBOUND 1 // no binding in the wrap AAD (documents of blattd before 0.2)
#define BIND_MAX 255
#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define PREFIX_LEN 8
#define OFF_PREFIX 16
#define OFF_WRAP_NONCE 24
#define OFF_WRAPPED 36
#define OFF_WRAP_TAG 68
#define HDR_LEN BL_SPOOL_HEADER_SIZE
#define SEG_MIN 4096u
#define SEG_MAX (4u * 1024 * 1024)
#define LEN_FIELD 4
#define AAD_LEN 5
// Flags of a document whose key was destroyed in place (bl_spool_shred_at): readers refuse it.
#define FLAG_SHREDDED 0xFFFFu

struct bl_kek {
    uint8_t key[KEY_LEN];
    // Keyed once; each wrap or unwrap only sets its nonce (the loop's thread only).
    EVP_CIPHER_CTX *seal, *open;
};

struct bl_spool_writer {
    int fd;
    char *path;
    EVP_CIPHER_CTX *ctx;
    uint8_t prefix[PREFIX_LEN];
    uint32_t seg_size;
    uint32_t index; // next segment's index
    uint64_t total; // plaintext bytes accepted
    uint8_t *plain; // partial segment
    size_t fill;
    size_t plain_used; // bytes of plain ever written (what writer_free wipes)
    uint8_t *out;      // length + ciphertext + tag of one segment
    bool failed;
    bool in_memory; // in `mem` until spilled to `path` (bl_spool_writer_create_mem)
    uint8_t *mem;   // the encrypted form while in memory (ciphertext only)
    size_t mem_cap;
    uint64_t written; // bytes of the encrypted file so far
};

struct bl_spool_reader {
    int fd;
    off_t at;  // where the next byte is read (pread)
    off_t end; // the document's end in the file, or -1: the end of the file
    EVP_CIPHER_CTX *ctx;
    uint8_t prefix[PREFIX_LEN];
    uint32_t seg_size;
    uint32_t index;
    uint8_t *in;    // ciphertext + tag of one segment
    uint8_t *plain; // authenticated plaintext of the current segment
    size_t avail, pos;
    size_t plain_used; // bytes of plain ever written (what the delete wipes)
    bool done;         // the last segment was read and authenticated
    bool failed;
};

static_assert(OFF_WRAP_TAG + TAG_LEN == HDR_LEN, "header layout");
static_assert(BL_SPOOL_SEGMENT_SIZE >= SEG_MIN && BL_SPOOL_SEGMENT_SIZE <= SEG_MAX, "segment");

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

// Writes all of buf, retrying short writes and EINTR; errno is set on failure.
static bool write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

// Reads up to len bytes at off, stopping early only at end of file: the count, or -1 (errno
// set). The file offset does not move.
static ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
    uint8_t *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, p + got, len - got, off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

// Makes a directory entry change (create, unlink) of `path` durable.
static bool sync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy) {
        bl_log(BL_LOG_ERROR, "spool: out of memory");
        return false;
    }
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool ok = fd >= 0 && fsync(fd) == 0;
    if (!ok)
        bl_log(BL_LOG_ERROR, "spool: cannot sync directory of %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(copy);
    return ok;
}

static EVP_CIPHER *gcm;

static void fetch_gcm(void)
{
    gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

// AES-256-GCM, fetched once: an init with EVP_aes_256_gcm() fetches it again every time.
static const EVP_CIPHER *aes_gcm(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, fetch_gcm);
    return gcm ? gcm : EVP_aes_256_gcm();
}

// Wipes plaintext or key bytes (memset that the compiler keeps).
static void wipe(void *p, size_t len)
{
    if (p && len)
        explicit_bzero(p, len);
}

// One AES-256-GCM seal. With key == NULL the context keeps its key and only takes the nonce.
static bool gcm_seal(EVP_CIPHER_CTX *ctx, const uint8_t *key, const uint8_t *nonce,
                     const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
                     uint8_t *out, uint8_t *tag)
{
    int n = 0;
    if (EVP_EncryptInit_ex(ctx, key ? aes_gcm() : NULL, NULL, key, nonce) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
        (len > 0 && EVP_EncryptUpdate(ctx, out, &n, in, (int)len) != 1) ||
        EVP_EncryptFinal_ex(ctx, out + len, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1) {
        bl_log(BL_LOG_ERROR, "spool: AES-GCM encryption failed");
        return false;
    }
    return true;
}

// One AES-256-GCM open; false when the tag does not match (out then holds no valid data).
static bool gcm_open(EVP_CIPHER_CTX *ctx, const uint8_t *key, const uint8_t *nonce,
                     const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
                     const uint8_t *tag, uint8_t *out)
{
    int n = 0;
    if (EVP_DecryptInit_ex(ctx, key ? aes_gcm() : NULL, NULL, key, nonce) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
        (len > 0 && EVP_DecryptUpdate(ctx, out, &n, in, (int)len) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *)tag) != 1)
        return false;
    return EVP_DecryptFinal_ex(ctx, out + len, &n) == 1;
}

// ---------------------------------------------------------------------------------------------
// Key-encryption key

static bl_kek_t *kek_alloc(void)
{
    bl_kek_t *kek = OPENSSL_secure_zalloc(sizeof(*kek));
    if (!kek)
        bl_log(BL_LOG_ERROR, "spool: out of memory for the KEK");
    return kek;
}

void bl_kek_delete(bl_kek_t *kek)
{
    if (!kek)
        return;
    EVP_CIPHER_CTX_free(kek->seal);
    EVP_CIPHER_CTX_free(kek->open);
    OPENSSL_secure_clear_free(kek, sizeof(*kek));
}

// Keys the wrap contexts of a loaded KEK; NULL (kek deleted) on failure.
static bl_kek_t *kek_prepare(bl_kek_t *kek)
{
    if (!kek)
        return NULL;
    kek->seal = EVP_CIPHER_CTX_new();
    kek->open = EVP_CIPHER_CTX_new();
    if (!kek->seal || !kek->open ||
        EVP_EncryptInit_ex(kek->seal, aes_gcm(), NULL, kek->key, NULL) != 1 ||
        EVP_DecryptInit_ex(kek->open, aes_gcm(), NULL, kek->key, NULL) != 1) {
        bl_log(BL_LOG_ERROR, "spool: cannot set up the KEK");
        bl_kek_delete(kek);
        return NULL;
    }
    return kek;
}

// As root, a key owned by the owner of its directory (the User blattd runs as) is ours too.
static bool owned_like_dir(const char *path, uid_t uid)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    struct stat st;
    return stat(dirname(dir), &st) == 0 && st.st_uid == uid;
}

// Reads an existing key file after checking its type, owner, mode and size; closes fd.
static bl_kek_t *kek_read(int fd, const char *path)
{
    struct stat st;
    bl_kek_t *kek = NULL;
    if (fstat(fd, &st) != 0) {
        bl_log(BL_LOG_ERROR, "spool: cannot stat KEK %s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        bl_log(BL_LOG_ERROR, "spool: KEK %s is not a regular file", path);
    } else if (st.st_mode & 077) {
        bl_log(BL_LOG_ERROR, "spool: KEK %s has mode %04o; refusing (must be 0600 or 0400)", path,
               (unsigned)(st.st_mode & 07777));
    } else if (st.st_uid != geteuid() && !(geteuid() == 0 && owned_like_dir(path, st.st_uid))) {
        bl_log(BL_LOG_ERROR, "spool: KEK %s is owned by uid %u, not by us; refusing", path,
               (unsigned)st.st_uid);
    } else if (st.st_size != KEY_LEN) {
        bl_log(BL_LOG_ERROR, "spool: KEK %s has %lld bytes, expected %d", path,
               (long long)st.st_size, KEY_LEN);
    } else if ((kek = kek_alloc()) != NULL && pread_full(fd, kek->key, KEY_LEN, 0) != KEY_LEN) {
        bl_log(BL_LOG_ERROR, "spool: cannot read KEK %s", path);
        bl_kek_delete(kek);
        kek = NULL;
    }
    close(fd);
    return kek;
}

// Creates a new random key file; NULL with errno EEXIST when another process won the race.
static bl_kek_t *kek_create(const char *path)
{
    bl_kek_t *kek = kek_alloc();
    if (!kek)
        return NULL;
    if (RAND_priv_bytes(kek->key, KEY_LEN) != 1) {
        bl_log(BL_LOG_ERROR, "spool: no random bytes for a new KEK");
        bl_kek_delete(kek);
        return NULL;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int err = errno;
        if (err != EEXIST)
            bl_log(BL_LOG_ERROR, "spool: cannot create KEK %s: %s", path, strerror(err));
        bl_kek_delete(kek);
        errno = err;
        return NULL;
    }
    bool ok = write_all(fd, kek->key, KEY_LEN) && fsync(fd) == 0;
    if (!ok)
        bl_log(BL_LOG_ERROR, "spool: cannot write KEK %s: %s", path, strerror(errno));
    close(fd);
    if (ok)
        ok = sync_parent_dir(path);
    if (!ok) {
        unlink(path);
        bl_kek_delete(kek);
        errno = EIO;
        return NULL;
    }
    bl_log(BL_LOG_INFO, "spool: created a new KEK in %s", path);
    return kek;
}

bl_kek_t *bl_kek_load_or_create(const char *path)
{
    // Two rounds: if another process creates the file between our open and O_EXCL, load it.
    for (int round = 0; round < 2; round++) {
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
            return kek_prepare(kek_read(fd, path));
        if (errno != ENOENT) {
            bl_log(BL_LOG_ERROR, "spool: cannot open KEK %s: %s", path, strerror(errno));
            return NULL;
        }
        bl_kek_t *kek = kek_create(path);
        if (kek || errno != EEXIST)
            return kek_prepare(kek);
    }
    bl_log(BL_LOG_ERROR, "spool: KEK %s keeps appearing and vanishing", path);
    return NULL;
}

// ---------------------------------------------------------------------------------------------
// Header

// Fills the fields that the wrap authenticates (magic .. nonce prefix).
static bool header_init(uint8_t *h, uint32_t seg_size)
{
    memcpy(h, MAGIC, MAGIC_LEN);
    put_be16(h + 8, VERSION);
    put_be16(h + 10, 0);
    put_be32(h + 12, seg_size);
    if (!bl_random_public(h + OFF_PREFIX, PREFIX_LEN)) {
        bl_log(BL_LOG_ERROR, "spool: no random bytes for a nonce prefix");
        return false;
    }
    return true;
}

// Checks magic, version, flags and segment size bounds (before they are authenticated).
static bool header_check(const uint8_t *h, const char *what, uint32_t *seg_size)
{
    if (memcmp(h, MAGIC, MAGIC_LEN) != 0) {
        bl_log(BL_LOG_ERROR, "spool: %s is not a spool file (bad magic)", what);
        return false;
    }
    uint16_t version = get_be16(h + 8);
    if ((version != VERSION && version != VERSION_UNBOUND) || get_be16(h + 10) != 0) {
        bl_log(BL_LOG_ERROR, "spool: %s has unsupported version %u flags %u", what, version,
               get_be16(h + 10));
        return false;
    }
    *seg_size = get_be32(h + 12);
    if (*seg_size < SEG_MIN || *seg_size > SEG_MAX) {
        bl_log(BL_LOG_ERROR, "spool: %s has bad segment size %u", what, *seg_size);
        return false;
    }
    return true;
}

// The wrap's AAD: the header's first 24 bytes, then (version 2) the binding. Returns its length.
static size_t wrap_aad(const uint8_t *h, const char *bind, uint8_t *aad)
{
    memcpy(aad, h, OFF_WRAP_NONCE);
    size_t n = OFF_WRAP_NONCE;
    if (get_be16(h + 8) != VERSION_UNBOUND && bind) {
        size_t b = strnlen(bind, BIND_MAX);
        memcpy(aad + n, bind, b);
        n += b;
    }
    return n;
}

// Wraps dk under kek with a fresh nonce into the header's wrap fields, bound to `bind`.
static bool key_wrap(const bl_kek_t *kek, uint8_t *h, const uint8_t *dk, const char *bind)
{
    if (!bl_random_public(h + OFF_WRAP_NONCE, NONCE_LEN)) {
        bl_log(BL_LOG_ERROR, "spool: no random bytes for a wrap nonce");
        return false;
    }
    uint8_t aad[OFF_WRAP_NONCE + BIND_MAX];
    size_t n = wrap_aad(h, bind, aad);
    return gcm_seal(kek->seal, NULL, h + OFF_WRAP_NONCE, aad, n, dk, KEY_LEN, h + OFF_WRAPPED,
                    h + OFF_WRAP_TAG);
}

// Unwraps the header's data key into dk; false for a wrong KEK, a changed header or another
// owner (logged unless quiet).
static bool key_unwrap(const bl_kek_t *kek, const uint8_t *h, const char *what, uint8_t *dk,
                       const char *bind, bool quiet)
{
    uint8_t aad[OFF_WRAP_NONCE + BIND_MAX];
    size_t n = wrap_aad(h, bind, aad);
    bool ok = gcm_open(kek->open, NULL, h + OFF_WRAP_NONCE, aad, n, h + OFF_WRAPPED, KEY_LEN,
                       h + OFF_WRAP_TAG, dk);
    if (!ok) {
        OPENSSL_cleanse(dk, KEY_LEN);
        if (!quiet)
            bl_log(BL_LOG_ERROR,
                   "spool: cannot unwrap the data key of %s (wrong KEK, tampered, or not this"
                   " job's document)",
                   what);
    }
    return ok;
}

// Segment nonce (prefix || index) and AAD (index || last flag).
static void segment_iv(const uint8_t *prefix, uint32_t index, bool last, uint8_t *nonce,
                       uint8_t *aad)
{
    memcpy(nonce, prefix, PREFIX_LEN);
    put_be32(nonce + PREFIX_LEN, index);
    put_be32(aad, index);
    aad[4] = last ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Writer

// Frees a writer's memory after closing its file (the file itself is left alone).
static void writer_free(bl_spool_writer_t *w)
{
    if (w->fd >= 0)
        close(w->fd);
    if (w->plain) {
        wipe(w->plain, w->plain_used);
        free(w->plain);
    }
    free(w->out);
    free(w->mem);
    EVP_CIPHER_CTX_free(w->ctx);
    free(w->path);
    free(w);
}

// Appends encrypted bytes to the writer's memory or file; errno set on failure.
static bool writer_emit(bl_spool_writer_t *w, const uint8_t *buf, size_t len)
{
    if (!w->in_memory)
        return write_all(w->fd, buf, len);
    if (w->written + len > w->mem_cap) {
        size_t cap = w->mem_cap ? w->mem_cap : 16384;
        while (cap < w->written + len)
            cap *= 2;
        uint8_t *m = realloc(w->mem, cap);
        if (!m) {
            errno = ENOMEM;
            return false;
        }
        w->mem = m;
        w->mem_cap = cap;
    }
    memcpy(w->mem + w->written, buf, len);
    return true;
}

// Creates the key, context and header of a new writer whose file is open.
static bool writer_start(bl_spool_writer_t *w, const bl_kek_t *kek, const char *bind)
{
    uint8_t h[HDR_LEN];
    uint8_t dk[KEY_LEN];
    bool ok = RAND_priv_bytes(dk, KEY_LEN) == 1 && header_init(h, w->seg_size) &&
              key_wrap(kek, h, dk, bind) &&
              EVP_EncryptInit_ex(w->ctx, aes_gcm(), NULL, dk, NULL) == 1;
    OPENSSL_cleanse(dk, sizeof(dk));
    if (!ok) {
        bl_log(BL_LOG_ERROR, "spool: cannot set up the keys of %s", w->path);
        return false;
    }
    memcpy(w->prefix, h + OFF_PREFIX, PREFIX_LEN);
    if (!writer_emit(w, h, HDR_LEN)) {
        bl_log(BL_LOG_ERROR, "spool: cannot write %s: %s", w->path, strerror(errno));
        return false;
    }
    w->written = HDR_LEN;
    return true;
}

static bl_spool_writer_t *writer_new(const char *path);
static bool writer_seal(bl_spool_writer_t *w, const uint8_t *data, size_t len, bool last);

// A writer on a new spool file at path, or in memory (path is then where it spills to).
static bl_spool_writer_t *writer_create(const bl_kek_t *kek, const char *path, bool in_memory,
                                        const char *bind)
{
    bl_spool_writer_t *w = writer_new(path);
    if (!w)
        return NULL;
    w->in_memory = in_memory;
    if (!in_memory)
        w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (!in_memory && w->fd < 0) {
        bl_log(BL_LOG_ERROR, "spool: cannot create %s: %s", path, strerror(errno));
        writer_free(w);
        return NULL;
    }
    if (!writer_start(w, kek, bind)) {
        bl_spool_writer_abort(w);
        return NULL;
    }
    return w;
}

bl_spool_writer_t *bl_spool_writer_create(const bl_kek_t *kek, const char *path, const char *bind)
{
    return writer_create(kek, path, false, bind);
}

bl_spool_writer_t *bl_spool_writer_create_mem(const bl_kek_t *kek, const char *spill_path,
                                              const char *bind)
{
    return writer_create(kek, spill_path, true, bind);
}

bool bl_spool_writer_in_memory(const bl_spool_writer_t *w)
{
    return w->in_memory;
}

uint64_t bl_spool_writer_size(const bl_spool_writer_t *w)
{
    return w->written;
}

bool bl_spool_writer_spill(bl_spool_writer_t *w)
{
    if (!w->in_memory || w->failed)
        return !w->failed;
    int fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        bl_log(BL_LOG_ERROR, "spool: cannot create %s: %s", w->path, strerror(errno));
        w->failed = true;
        return false;
    }
    if (!write_all(fd, w->mem, w->written)) {
        int err = errno;
        bl_log(BL_LOG_ERROR, "spool: cannot write %s: %s", w->path, strerror(err));
        close(fd);
        unlink(w->path);
        w->failed = true;
        errno = err;
        return false;
    }
    free(w->mem);
    w->mem = NULL;
    w->mem_cap = 0;
    w->fd = fd;
    w->in_memory = false;
    return true;
}

bool bl_spool_writer_finish_mem(bl_spool_writer_t *w, uint8_t **data, size_t *len,
                                uint64_t *plain_bytes)
{
    *data = NULL;
    *len = 0;
    if (w->failed || !w->in_memory || !writer_seal(w, w->plain, w->fill, true)) {
        bl_spool_writer_abort(w);
        return false;
    }
    *data = w->mem;
    *len = w->written;
    w->mem = NULL;
    if (plain_bytes)
        *plain_bytes = w->total;
    writer_free(w);
    return true;
}

static bl_spool_writer_t *writer_new(const char *path)
{
    bl_spool_writer_t *w = calloc(1, sizeof(*w));
    if (!w) {
        bl_log(BL_LOG_ERROR, "spool: out of memory");
        return NULL;
    }
    w->fd = -1;
    w->seg_size = BL_SPOOL_SEGMENT_SIZE;
    w->path = strdup(path);
    w->plain = malloc(w->seg_size);
    w->out = malloc(LEN_FIELD + w->seg_size + TAG_LEN);
    w->ctx = EVP_CIPHER_CTX_new();
    if (!w->path || !w->plain || !w->out || !w->ctx) {
        bl_log(BL_LOG_ERROR, "spool: out of memory");
        writer_free(w);
        return NULL;
    }
    return w;
}

// Encrypts and writes one segment of len plaintext bytes; errno kept on I/O failure.
static bool writer_seal(bl_spool_writer_t *w, const uint8_t *data, size_t len, bool last)
{
    uint8_t nonce[NONCE_LEN], aad[AAD_LEN];
    if (w->index == UINT32_MAX && !last) {
        bl_log(BL_LOG_ERROR, "spool: %s is too large", w->path);
        errno = EFBIG;
        return false;
    }
    segment_iv(w->prefix, w->index, last, nonce, aad);
    put_be32(w->out, (uint32_t)len);
    if (!gcm_seal(w->ctx, NULL, nonce, aad, sizeof(aad), data, len, w->out + LEN_FIELD,
                  w->out + LEN_FIELD + len)) {
        errno = EIO;
        return false;
    }
    if (!writer_emit(w, w->out, LEN_FIELD + len + TAG_LEN)) {
        int err = errno;
        bl_log(BL_LOG_ERROR, "spool: cannot write %s: %s", w->path, strerror(err));
        errno = err;
        return false;
    }
    w->written += LEN_FIELD + len + TAG_LEN;
    w->index++;
    return true;
}

bool bl_spool_writer_write(bl_spool_writer_t *w, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (w->failed) {
        errno = EIO;
        return false;
    }
    while (len > 0) {
        // Full segments straight from the caller's buffer save a copy.
        if (w->fill == 0 && len >= w->seg_size) {
            if (!writer_seal(w, p, w->seg_size, false))
                goto fail;
            p += w->seg_size;
            len -= w->seg_size;
            w->total += w->seg_size;
            continue;
        }
        size_t n = w->seg_size - w->fill;
        if (n > len)
            n = len;
        memcpy(w->plain + w->fill, p, n);
        w->fill += n;
        if (w->fill > w->plain_used)
            w->plain_used = w->fill;
        p += n;
        len -= n;
        w->total += n;
        // A full buffer is never the last segment: the last one is always shorter.
        if (w->fill == w->seg_size) {
            if (!writer_seal(w, w->plain, w->seg_size, false))
                goto fail;
            w->fill = 0;
        }
    }
    return true;
fail:
    w->failed = true;
    return false;
}

bool bl_spool_writer_finish(bl_spool_writer_t *w, uint64_t *plain_bytes)
{
    char *path = strdup(w->path);
    int fd = -1;
    bool ok = path && bl_spool_writer_finish_nosync(w, plain_bytes, &fd);
    if (!path)
        bl_spool_writer_abort(w);
    if (ok && fdatasync(fd) != 0) {
        bl_log(BL_LOG_ERROR, "spool: cannot sync %s: %s", path, strerror(errno));
        ok = false;
    }
    if (fd >= 0)
        close(fd);
    ok = ok && sync_parent_dir(path);
    if (!ok && path)
        unlink(path);
    free(path);
    return ok;
}

bool bl_spool_writer_finish_nosync(bl_spool_writer_t *w, uint64_t *plain_bytes, int *fd)
{
    *fd = -1;
    if (w->failed || w->in_memory) {
        bl_spool_writer_abort(w);
        return false;
    }
    if (!writer_seal(w, w->plain, w->fill, true)) {
        bl_spool_writer_abort(w);
        return false;
    }
    if (plain_bytes)
        *plain_bytes = w->total;
    *fd = w->fd;
    w->fd = -1;
    writer_free(w);
    return true;
}

void bl_spool_writer_abort(bl_spool_writer_t *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
    }
    if (!w->in_memory && w->path && unlink(w->path) != 0 && errno != ENOENT)
        bl_log(BL_LOG_WARN, "spool: cannot remove %s: %s", w->path, strerror(errno));
    writer_free(w);
}

// ---------------------------------------------------------------------------------------------
// Reader

bl_spool_reader_t *bl_spool_reader_create(const bl_kek_t *kek, const char *path, const char *bind)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        bl_log(BL_LOG_ERROR, "spool: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    return bl_spool_reader_create_fd(kek, fd, bind);
}

// Reads up to len bytes of the document at the reader's position (never past its end).
static ssize_t reader_take(bl_spool_reader_t *r, void *buf, size_t len)
{
    if (r->end >= 0 && (off_t)len > r->end - r->at)
        len = (size_t)(r->end - r->at);
    ssize_t n = pread_full(r->fd, buf, len, r->at);
    if (n > 0)
        r->at += n;
    return n;
}

// Reads and checks the header, unwraps the key and prepares the context of a new reader.
static bool reader_start(bl_spool_reader_t *r, const bl_kek_t *kek, const char *bind)
{
    uint8_t h[HDR_LEN];
    uint8_t dk[KEY_LEN];
    ssize_t n = reader_take(r, h, HDR_LEN);
    if (n != (ssize_t)HDR_LEN) {
        // errno tells the caller: an I/O error may pass, a short header does not.
        int err = n < 0 ? errno : EBADMSG;
        bl_log(BL_LOG_ERROR, "spool: spool file header is short or unreadable");
        errno = err;
        return false;
    }
    if (!header_check(h, "spool file", &r->seg_size) ||
        !key_unwrap(kek, h, "spool file", dk, bind, false)) {
        errno = EBADMSG;
        return false;
    }
    memcpy(r->prefix, h + OFF_PREFIX, PREFIX_LEN);
    r->ctx = EVP_CIPHER_CTX_new();
    bool ok = r->ctx && EVP_DecryptInit_ex(r->ctx, aes_gcm(), NULL, dk, NULL) == 1;
    OPENSSL_cleanse(dk, sizeof(dk));
    r->in = malloc(r->seg_size + TAG_LEN);
    r->plain = malloc(r->seg_size);
    if (!ok || !r->in || !r->plain) {
        bl_log(BL_LOG_ERROR, "spool: out of memory for a reader");
        return false;
    }
    return true;
}

bl_spool_reader_t *bl_spool_reader_create_mem(const bl_kek_t *kek, const uint8_t *data, size_t len,
                                              const char *bind)
{
    int fd = memfd_create("blatt-document", MFD_CLOEXEC);
    if (fd < 0) {
        bl_log(BL_LOG_ERROR, "spool: memfd_create: %s", strerror(errno));
        return NULL;
    }
    if (!write_all(fd, data, len) || lseek(fd, 0, SEEK_SET) != 0) {
        bl_log(BL_LOG_ERROR, "spool: cannot stage a document in memory: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    return bl_spool_reader_create_fd(kek, fd, bind);
}

bl_spool_reader_t *bl_spool_reader_create_fd(const bl_kek_t *kek, int fd, const char *bind)
{
    off_t pos = lseek(fd, 0, SEEK_CUR);
    return bl_spool_reader_create_range(kek, fd, pos < 0 ? 0 : pos, -1, bind);
}

bl_spool_reader_t *bl_spool_reader_create_range(const bl_kek_t *kek, int fd, off_t off, off_t len,
                                                const char *bind)
{
    bl_spool_reader_t *r = calloc(1, sizeof(*r));
    if (!r) {
        bl_log(BL_LOG_ERROR, "spool: out of memory");
        close(fd);
        return NULL;
    }
    r->fd = fd;
    r->at = off;
    r->end = len < 0 ? -1 : off + len;
    if (!reader_start(r, kek, bind)) {
        bl_spool_reader_delete(r);
        return NULL;
    }
    return r;
}

// Reads, authenticates and decrypts the next segment into r->plain.
static bool reader_next(bl_spool_reader_t *r)
{
    uint8_t lenbuf[LEN_FIELD], nonce[NONCE_LEN], aad[AAD_LEN], extra;
    ssize_t n = reader_take(r, lenbuf, LEN_FIELD);
    if (n != LEN_FIELD) {
        const char *why = n == 0 ? "final segment missing" : "truncated length";
        bl_log(BL_LOG_ERROR, "spool: %s at segment %u", n < 0 ? strerror(errno) : why, r->index);
        return false;
    }
    uint32_t len = get_be32(lenbuf);
    if (len > r->seg_size) {
        bl_log(BL_LOG_ERROR, "spool: segment %u has bad length %u", r->index, len);
        return false;
    }
    bool last = len < r->seg_size;
    if (!last && r->index == UINT32_MAX) {
        bl_log(BL_LOG_ERROR, "spool: too many segments");
        return false;
    }
    n = reader_take(r, r->in, (size_t)len + TAG_LEN);
    if (n != (ssize_t)len + TAG_LEN) {
        bl_log(BL_LOG_ERROR, "spool: segment %u is truncated", r->index);
        return false;
    }
    segment_iv(r->prefix, r->index, last, nonce, aad);
    if (len > r->plain_used)
        r->plain_used = len;
    if (!gcm_open(r->ctx, NULL, nonce, aad, sizeof(aad), r->in, len, r->in + len, r->plain)) {
        OPENSSL_cleanse(r->plain, len);
        bl_log(BL_LOG_ERROR, "spool: segment %u fails authentication", r->index);
        return false;
    }
    if (last && reader_take(r, &extra, 1) != 0) {
        OPENSSL_cleanse(r->plain, len);
        bl_log(BL_LOG_ERROR, "spool: data after the final segment");
        return false;
    }
    r->index++;
    r->avail = len;
    r->pos = 0;
    r->done = last;
    return true;
}

ssize_t bl_spool_reader_read(bl_spool_reader_t *r, void *buf, size_t len)
{
    if (r->failed)
        return -1;
    while (r->pos == r->avail) {
        if (r->done)
            return 0;
        if (!reader_next(r)) {
            r->failed = true;
            return -1;
        }
    }
    size_t n = r->avail - r->pos;
    if (n > len)
        n = len;
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    memcpy(buf, r->plain + r->pos, n);
    r->pos += n;
    return (ssize_t)n;
}

void bl_spool_reader_delete(bl_spool_reader_t *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    if (r->plain) {
        wipe(r->plain, r->plain_used);
        free(r->plain);
    }
    free(r->in);
    EVP_CIPHER_CTX_free(r->ctx);
    free(r);
}

// ---------------------------------------------------------------------------------------------
// Shred and rewrap

bool bl_spool_shred(const char *path)
{
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return true;
        bl_log(BL_LOG_ERROR, "spool: cannot open %s to shred: %s", path, strerror(errno));
        return false;
    }
    // Random bytes over the whole header destroy the wrapped key (and the nonce prefix).
    struct stat st;
    uint8_t noise[HDR_LEN];
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    size_t len = ok && st.st_size < (off_t)HDR_LEN ? (size_t)st.st_size : HDR_LEN;
    ok = ok && RAND_bytes(noise, sizeof(noise)) == 1 &&
         (len == 0 || pwrite(fd, noise, len, 0) == (ssize_t)len) && fdatasync(fd) == 0;
    if (!ok)
        bl_log(BL_LOG_ERROR, "spool: cannot overwrite the key of %s: %s", path, strerror(errno));
    close(fd);
    if (!ok)
        return false;
    if (unlink(path) != 0 && errno != ENOENT) {
        bl_log(BL_LOG_ERROR, "spool: cannot remove %s: %s", path, strerror(errno));
        return false;
    }
    return sync_parent_dir(path);
}

// Rewraps a header in memory: under the new KEK already (an interrupted rotation did it), or
// from the old one.
static bl_rewrap_t rewrap_header(const bl_kek_t *old_kek, const bl_kek_t *new_kek, uint8_t *h,
                                 const char *what, const char *bind)
{
    uint8_t dk[KEY_LEN];
    uint32_t seg_size;
    if (!header_check(h, what, &seg_size))
        return BL_REWRAP_UNREADABLE;
    if (key_unwrap(new_kek, h, what, dk, bind, true)) {
        OPENSSL_cleanse(dk, sizeof(dk));
        return BL_REWRAP_ALREADY;
    }
    if (!key_unwrap(old_kek, h, what, dk, bind, false))
        return BL_REWRAP_UNREADABLE;
    bool ok = key_wrap(new_kek, h, dk, bind);
    OPENSSL_cleanse(dk, sizeof(dk));
    return ok ? BL_REWRAP_DONE : BL_REWRAP_FAILED;
}

bl_rewrap_t bl_spool_rewrap_mem(const bl_kek_t *old_kek, const bl_kek_t *new_kek, uint8_t *data,
                                size_t len, const char *bind)
{
    if (len < HDR_LEN)
        return BL_REWRAP_UNREADABLE;
    return rewrap_header(old_kek, new_kek, data, "(database)", bind);
}

bl_rewrap_t bl_spool_rewrap_at(const bl_kek_t *old_kek, const bl_kek_t *new_kek, int fd, off_t off,
                               const char *what, const char *bind)
{
    uint8_t h[HDR_LEN];
    ssize_t n = pread_full(fd, h, HDR_LEN, off);
    if (n != (ssize_t)HDR_LEN) {
        bl_log(BL_LOG_ERROR, "spool: cannot read the header of %s%s%s", what, n < 0 ? ": " : "",
               n < 0 ? strerror(errno) : "");
        return n < 0 ? BL_REWRAP_FAILED : BL_REWRAP_UNREADABLE;
    }
    bl_rewrap_t r = rewrap_header(old_kek, new_kek, h, what, bind);
    // The header is one write inside one sector.
    if (r == BL_REWRAP_DONE && pwrite(fd, h, HDR_LEN, off) != (ssize_t)HDR_LEN) {
        bl_log(BL_LOG_ERROR, "spool: cannot rewrite the header of %s: %s", what, strerror(errno));
        r = BL_REWRAP_FAILED;
    }
    return r;
}

bl_rewrap_t bl_spool_rewrap(const bl_kek_t *old_kek, const bl_kek_t *new_kek, const char *path,
                            const char *bind)
{
    int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        bl_log(BL_LOG_ERROR, "spool: cannot open %s to rewrap: %s", path, strerror(errno));
        return errno == ENOENT ? BL_REWRAP_UNREADABLE : BL_REWRAP_FAILED;
    }
    bl_rewrap_t r = bl_spool_rewrap_at(old_kek, new_kek, fd, 0, path, bind);
    if (r == BL_REWRAP_DONE && fdatasync(fd) != 0) {
        bl_log(BL_LOG_ERROR, "spool: cannot sync %s: %s", path, strerror(errno));
        r = BL_REWRAP_FAILED;
    }
    close(fd);
    return r;
}

// ---------------------------------------------------------------------------------------------
// Documents one after another in one file (the document log, doclog.c)

// Shreds the first avail bytes of a header in memory: magic, version and segment size stay,
// so that the file can still be walked; the flags mark the document, and random bytes replace
// the nonce prefix and the wrapped key.
static bool shred_header(uint8_t *h, size_t avail)
{
    if (avail <= OFF_PREFIX)
        return true; // cut before any key material
    put_be16(h + 10, FLAG_SHREDDED);
    if (RAND_bytes(h + OFF_PREFIX, (int)(avail - OFF_PREFIX)) != 1) {
        bl_log(BL_LOG_ERROR, "spool: no random bytes to shred with");
        return false;
    }
    return true;
}

bool bl_spool_shred_buffer(uint8_t *buf, size_t len)
{
    if (len < MAGIC_LEN || memcmp(buf, MAGIC, MAGIC_LEN) != 0) {
        bl_log(BL_LOG_ERROR, "spool: no document to shred in memory");
        return false;
    }
    return shred_header(buf, len < HDR_LEN ? len : HDR_LEN);
}

bool bl_spool_shred_bytes(uint8_t *h)
{
    memcpy(h, MAGIC, MAGIC_LEN);
    put_be16(h + 8, VERSION);
    put_be32(h + 12, BL_SPOOL_SEGMENT_SIZE);
    return shred_header(h, HDR_LEN);
}

bool bl_spool_shred_at(int fd, off_t off, off_t end)
{
    uint8_t h[HDR_LEN];
    size_t avail = end - off < (off_t)HDR_LEN ? (size_t)(end - off) : HDR_LEN;
    if (end <= off || pread_full(fd, h, avail, off) != (ssize_t)avail || avail < MAGIC_LEN ||
        memcmp(h, MAGIC, MAGIC_LEN) != 0) {
        bl_log(BL_LOG_ERROR, "spool: no document at offset %lld to shred", (long long)off);
        return false;
    }
    if (avail <= OFF_PREFIX)
        return true;
    if (!shred_header(h, avail))
        return false;
    if (pwrite(fd, h + 10, avail - 10, off + 10) != (ssize_t)(avail - 10)) {
        bl_log(BL_LOG_ERROR, "spool: cannot overwrite a key: %s", strerror(errno));
        return false;
    }
    return true;
}

bool bl_spool_entry_walk(int fd, off_t off, off_t end, bl_spool_entry_t *e)
{
    memset(e, 0, sizeof(*e));
    uint8_t h[HDR_LEN];
    size_t avail = end - off < (off_t)HDR_LEN ? (size_t)(end - off) : HDR_LEN;
    if (end <= off || pread_full(fd, h, avail, off) != (ssize_t)avail || avail < MAGIC_LEN ||
        memcmp(h, MAGIC, MAGIC_LEN) != 0)
        return false;
    e->len = end - off; // until proven shorter: a damaged entry reaches to the end
    if (avail < HDR_LEN)
        return true;
    uint16_t flags = get_be16(h + 10);
    uint32_t seg = get_be32(h + 12);
    uint16_t version = get_be16(h + 8);
    if ((version != VERSION && version != VERSION_UNBOUND) ||
        (flags != 0 && flags != FLAG_SHREDDED) || seg < SEG_MIN || seg > SEG_MAX)
        return true;
    e->shredded = flags == FLAG_SHREDDED;
    off_t p = off + HDR_LEN;
    for (;;) {
        uint8_t lb[LEN_FIELD];
        if (end - p < LEN_FIELD || pread_full(fd, lb, LEN_FIELD, p) != LEN_FIELD)
            return true;
        uint32_t len = get_be32(lb);
        if (len > seg || end - p < (off_t)(LEN_FIELD + len + TAG_LEN))
            return true;
        p += LEN_FIELD + len + TAG_LEN;
        if (len < seg)
            break;
    }
    e->complete = true;
    e->len = p - off;
    return true;
}
