// The audit chain: an append-only, hash-chained table of every security-relevant event.
// Licensed under the Apache License, Version 2.0.
//
// hash(n) = SHA-256(hash(n-1) || "\n" || seq "|" time "|" actor "|" source "|" action "|" object
// "|" result), hex-encoded; hash(0) is 64 zeros. Fields are escaped ('\' and '|' get a
// backslash) so that no two records serialise alike. Records are written in the loop pass's
// transaction, so a record exists exactly when the change it describes was committed. The
// chain head (last seq and hash) is cached in memory after open.
#include "server/audit.h"

#include "server/log.h"
#include "server/store.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define KEY_LEN 32
#define FIELD_MAX 255
#define HASH_HEX 65

struct bl_audit {
    bl_store_t *store;
    uint8_t key[KEY_LEN];
    EVP_MAC_CTX *mac; // HMAC-SHA256 keyed with key: duplicated for each pseudonym
    uint64_t last_seq;
    char last_hash[HASH_HEX];
    bool to_syslog;
    // The last pseudonym made (people print in runs): subject and result.
    char cached_subject[FIELD_MAX + 1];
    char cached_pseudonym[32];
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY, time TEXT NOT NULL,"
    " actor TEXT NOT NULL, source TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL,"
    " result TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS audit_actors(pseudonym TEXT PRIMARY KEY, subject TEXT NOT NULL)"
    " WITHOUT ROWID;"
    // Append-only at the database level too: changes need dropping the triggers first,
    // which the chain then shows.
    "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only'); END;";

static const char zero_hash[HASH_HEX] =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Copies text for the chain: at most FIELD_MAX bytes, control characters replaced by '?'.
static void clean(const char *in, char *out, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; in && in[i] && o + 1 < len && o < FIELD_MAX; i++) {
        unsigned char c = (unsigned char)in[i];
        out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[o] = '\0';
}

// Appends a field with '\' and '|' escaped to buf (room for twice its length + 1 is there).
static size_t put_field(char *buf, const char *s, bool last)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s == '\\' || *s == '|')
            buf[n++] = '\\';
        buf[n++] = *s;
    }
    if (!last)
        buf[n++] = '|';
    return n;
}

static void hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

// The hash of one record given the previous hash; false if OpenSSL failed. The record is
// escaped into one buffer and hashed in one call (fields that verify reads from the table
// may be longer than FIELD_MAX: then the buffer comes from the heap).
static bool record_hash(const char *prev, uint64_t seq, const char *const f[6], char *out)
{
    char stack[2 * HASH_HEX + 64 + 6 * (2 * FIELD_MAX + 2)];
    size_t need = strlen(prev) + 1 + 2 * 24 + 1;
    for (int i = 0; i < 6; i++)
        need += 2 * strlen(f[i]) + 1;
    char *buf = need <= sizeof(stack) ? stack : malloc(need);
    if (!buf)
        return false;
    char num[24];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);
    size_t n = strlen(prev);
    memcpy(buf, prev, n);
    buf[n++] = '\n';
    n += put_field(buf + n, num, false);
    for (int i = 0; i < 6; i++)
        n += put_field(buf + n, f[i], i == 5);
    unsigned char d[32];
    unsigned int dl = 0;
    bool ok = EVP_Digest(buf, n, d, &dl, EVP_sha256(), NULL) == 1 && dl == 32;
    if (buf != stack)
        free(buf);
    if (ok)
        hex(d, 32, out);
    return ok;
}

// Loads or creates the pseudonym key (32 random bytes, 0600).
static bool load_key(bl_audit_t *a, const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        uint8_t k[KEY_LEN];
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        bool ok = fd >= 0 && RAND_priv_bytes(k, KEY_LEN) == 1 && write(fd, k, KEY_LEN) == KEY_LEN &&
                  fsync(fd) == 0;
        OPENSSL_cleanse(k, sizeof(k));
        if (fd >= 0)
            close(fd);
        if (!ok) {
            bl_log(BL_LOG_ERROR, "audit: cannot create %s: %s", path, strerror(errno));
            unlink(path);
            return false;
        }
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
    struct stat st;
    bool ok = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && !(st.st_mode & 077) &&
              st.st_size == KEY_LEN && read(fd, a->key, KEY_LEN) == KEY_LEN;
    if (fd >= 0)
        close(fd);
    if (!ok)
        bl_log(BL_LOG_ERROR, "audit: %s is missing, unreadable, not 32 bytes or not mode 0600",
               path);
    return ok;
}

static void audit_rolled_back(void *arg);

static bool load_head(bl_audit_t *a)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = bl_store_db(a->store);
    if (sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", -1, &st,
                           NULL) != SQLITE_OK)
        return false;
    a->last_seq = 0;
    snprintf(a->last_hash, sizeof(a->last_hash), "%s", zero_hash);
    if (sqlite3_step(st) == SQLITE_ROW) {
        a->last_seq = (uint64_t)sqlite3_column_int64(st, 0);
        const unsigned char *h = sqlite3_column_text(st, 1);
        snprintf(a->last_hash, sizeof(a->last_hash), "%s", h ? (const char *)h : "");
    }
    sqlite3_finalize(st);
    return true;
}

// Keys the HMAC context that pseudonyms are made with.
static bool init_mac(bl_audit_t *a)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    a->mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (!a->mac || EVP_MAC_init(a->mac, a->key, KEY_LEN, params) != 1) {
        bl_log(BL_LOG_ERROR, "audit: no HMAC-SHA256");
        return false;
    }
    return true;
}

bl_audit_t *bl_audit_open(bl_store_t *store, const char *key_path)
{
    bl_audit_t *a = OPENSSL_secure_zalloc(sizeof(*a));
    if (!a)
        return NULL;
    a->store = store;
    if (!load_key(a, key_path) || !init_mac(a) || !bl_store_exec(store, schema) || !load_head(a) ||
        !bl_store_on_rollback(store, audit_rolled_back, a)) {
        a->store = NULL;
        bl_audit_close(a);
        return NULL;
    }
    return a;
}

bl_audit_t *bl_audit_open_key(const char *key_path)
{
    bl_audit_t *a = OPENSSL_secure_zalloc(sizeof(*a));
    if (a && (!load_key(a, key_path) || !init_mac(a))) {
        bl_audit_close(a);
        return NULL;
    }
    return a;
}

void bl_audit_close(bl_audit_t *a)
{
    if (!a)
        return;
    if (a->store)
        bl_store_off_rollback(a->store, audit_rolled_back, a);
    EVP_MAC_CTX_free(a->mac);
    OPENSSL_secure_clear_free(a, sizeof(*a));
}

void bl_audit_set_syslog(bl_audit_t *a, bool on)
{
    a->to_syslog = on;
    if (on)
        openlog("blattd", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
}

void bl_audit_pseudonym(const bl_audit_t *a, const char *subject, char *out, size_t len)
{
    unsigned char mac[32];
    size_t ml = 0;
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(a->mac);
    bool ok = c && EVP_MAC_update(c, (const unsigned char *)subject, strlen(subject)) == 1 &&
              EVP_MAC_final(c, mac, &ml, sizeof(mac)) == 1 && ml == sizeof(mac);
    EVP_MAC_CTX_free(c);
    if (!ok) {
        // Never a name in place of a pseudonym.
        bl_log(BL_LOG_ERROR, "audit: HMAC failed");
        memset(mac, 0, sizeof(mac));
    }
    char h[17];
    hex(mac, 8, h);
    snprintf(out, len, "p-%s", h);
}

void bl_audit_hash_text(const bl_audit_t *a, const char *text, char *out, size_t len)
{
    unsigned char mac[32];
    unsigned int ml = 0;
    static const char domain[] = "job-name\n"; // never equal to a subject's pseudonym
    uint8_t key[32];
    HMAC(EVP_sha256(), a->key, KEY_LEN, (const unsigned char *)domain, sizeof(domain) - 1, key,
         &ml);
    HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)text, strlen(text), mac, &ml);
    OPENSSL_cleanse(key, sizeof(key));
    snprintf(out, len, "hashed-%02x%02x%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3],
             mac[4], mac[5], mac[6], mac[7]);
}

// The chain's actor for a subject: "" and "blattd" stay as they are, people get pseudonyms
// whose mapping is kept beside the chain.
static bool actor_of(bl_audit_t *a, const char *subject, char *out, size_t len)
{
    if (!subject || !*subject) {
        snprintf(out, len, "anonymous");
        return true;
    }
    if (!strcmp(subject, "blattd")) {
        snprintf(out, len, "blattd");
        return true;
    }
    if (strcmp(a->cached_subject, subject) != 0) {
        bl_audit_pseudonym(a, subject, a->cached_pseudonym, sizeof(a->cached_pseudonym));
        snprintf(a->cached_subject, sizeof(a->cached_subject), "%s", subject);
    }
    snprintf(out, len, "%s", a->cached_pseudonym);
    sqlite3_stmt *st = bl_store_stmt(
        a->store, "INSERT OR IGNORE INTO audit_actors(pseudonym, subject) VALUES(?, ?)");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, out, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, subject, -1, SQLITE_TRANSIENT);
    return sqlite3_step(st) == SQLITE_DONE;
}

// A record kept until its pass is durable: if the pass fails, it is appended again.
typedef struct audit_redo {
    bl_audit_t *a;
    uint64_t seq;
    char hash[HASH_HEX];
    char subject[FIELD_MAX + 1];
    char f[6][FIELD_MAX + 1]; // f[1], the actor, is made again from subject
} audit_redo_t;

static bool append(bl_audit_t *a, const char *subject, char f[6][FIELD_MAX + 1], bool first);

static void audit_redo(void *arg, bool failed)
{
    audit_redo_t *r = arg;
    if (failed) {
        // Not there: its pass was rolled back. There: only its sync failed; a later one
        // covers it.
        sqlite3_stmt *st =
            bl_store_stmt(r->a->store, "SELECT 1 FROM audit WHERE seq = ? AND hash = ?");
        bool there = false;
        if (st) {
            sqlite3_bind_int64(st, 1, (sqlite3_int64)r->seq);
            sqlite3_bind_text(st, 2, r->hash, -1, SQLITE_STATIC);
            there = sqlite3_step(st) == SQLITE_ROW;
            sqlite3_reset(st);
        }
        if (!there && !append(r->a, r->subject, r->f, false)) {
            // Not even into a transaction (the disk is still full): kept, and tried again in a
            // second, for as long as it takes. The trail stays complete.
            bl_store_redo_later(r->a->store, audit_redo, r);
            return;
        }
    }
    OPENSSL_cleanse(r, sizeof(*r));
    free(r);
}

// A commit failed and took its records with it: the chain goes on from the last one stored.
static void audit_rolled_back(void *arg)
{
    bl_audit_t *a = arg;
    if (!load_head(a))
        bl_log(BL_LOG_ERROR, "audit: cannot read the chain's head again: %s",
               sqlite3_errmsg(bl_store_db(a->store)));
}

// Appends one record (f[0] time, f[2] source ... f[5] result; f[1] is set here) to the pass's
// transaction and keeps a copy until the pass is durable. first: new, not appended again.
static bool append(bl_audit_t *a, const char *subject, char f[6][FIELD_MAX + 1], bool first)
{
    char who[64], hash[HASH_HEX];
    if (!bl_store_begin(a->store) || !actor_of(a, subject, who, sizeof(who)))
        return false;
    snprintf(f[1], FIELD_MAX + 1, "%s", who);
    const char *fields[6] = {f[0], f[1], f[2], f[3], f[4], f[5]};
    uint64_t seq = a->last_seq + 1;
    sqlite3_stmt *st = bl_store_stmt(a->store, "INSERT INTO audit(seq, time, actor, source, "
                                               "action, object, result, prev, hash)"
                                               " VALUES(?,?,?,?,?,?,?,?,?)");
    if (!st || !record_hash(a->last_hash, seq, fields, hash))
        return false;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    for (int i = 0; i < 6; i++)
        sqlite3_bind_text(st, i + 2, fields[i], -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, a->last_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 9, hash, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    uint64_t head = a->last_seq;
    if (rc == SQLITE_CONSTRAINT && load_head(a) && a->last_seq != head) {
        // The head in memory was behind the stored chain (a rollback it did not see): go on
        // from the stored one.
        sqlite3_reset(st);
        return append(a, subject, f, first);
    }
    if (rc != SQLITE_DONE) {
        bl_log(bl_store_error_level(a->store), "audit: cannot append: %s",
               sqlite3_errmsg(bl_store_db(a->store)));
        return false;
    }
    a->last_seq = seq;
    memcpy(a->last_hash, hash, HASH_HEX);
    audit_redo_t *r = malloc(sizeof(*r));
    if (r) {
        r->a = a;
        r->seq = seq;
        memcpy(r->hash, hash, HASH_HEX);
        snprintf(r->subject, sizeof(r->subject), "%s", subject);
        memcpy(r->f, f, sizeof(r->f));
        bl_store_redo(a->store, audit_redo, r);
    } else {
        bl_log(BL_LOG_WARN, "audit: out of memory: record %llu is not kept for a failed commit",
               (unsigned long long)seq);
    }
    if (first && a->to_syslog)
        syslog(LOG_NOTICE, "audit seq=%llu actor=%s source=%s action=%s object=%s result=%s",
               (unsigned long long)seq, f[1], f[2], f[3], f[4], f[5]);
    return true;
}

bool bl_audit_add(bl_audit_t *a, const char *actor, const char *source, const char *action,
                  const char *object, const char *result)
{
    char f[6][FIELD_MAX + 1], subject[FIELD_MAX + 1];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(f[0], sizeof(f[0]), "%Y-%m-%dT%H:%M:%SZ", &tm);
    f[1][0] = '\0';
    clean(actor, subject, sizeof(subject));
    clean(source && *source ? source : "-", f[2], sizeof(f[2]));
    clean(action, f[3], sizeof(f[3]));
    clean(object && *object ? object : "-", f[4], sizeof(f[4]));
    clean(result, f[5], sizeof(f[5]));
    return append(a, subject, f, true);
}

bool bl_audit_verify(bl_store_t *store, bl_audit_report_t *r)
{
    memset(r, 0, sizeof(*r));
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bl_store_db(store),
                           "SELECT seq, time, actor, source, action, object, result, prev, hash"
                           " FROM audit ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(r->why, sizeof(r->why), "no audit table");
        return false;
    }
    char prev[HASH_HEX], want[HASH_HEX];
    snprintf(prev, sizeof(prev), "%s", zero_hash);
    uint64_t expect = 1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
        const char *f[6];
        for (int i = 0; i < 6; i++) {
            const unsigned char *t = sqlite3_column_text(st, i + 1);
            f[i] = t ? (const char *)t : "";
        }
        const char *stored_prev = (const char *)sqlite3_column_text(st, 7);
        const char *stored = (const char *)sqlite3_column_text(st, 8);
        const char *why = NULL;
        if (seq != expect)
            why = seq > expect ? "records are missing before it" : "out of order";
        else if (!stored_prev || strcmp(stored_prev, prev))
            why = "its link to the previous record is wrong";
        else if (!record_hash(prev, seq, f, want) || !stored || strcmp(stored, want))
            why = "its content does not match its hash";
        if (why) {
            r->first_bad = seq;
            snprintf(r->why, sizeof(r->why), "%s", why);
            sqlite3_finalize(st);
            return false;
        }
        snprintf(prev, sizeof(prev), "%s", stored ? stored : "");
        r->records++;
        expect++;
    }
    sqlite3_finalize(st);
    return true;
}

bool bl_audit_visit(bl_store_t *store, const char *since, bl_audit_visit_fn fn, void *arg)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bl_store_db(store),
                           "SELECT a.seq, a.time, a.actor, m.subject, a.source, a.action,"
                           " a.object, a.result, a.hash FROM audit a LEFT JOIN audit_actors m"
                           " ON m.pseudonym = a.actor WHERE a.time >= ? ORDER BY a.seq",
                           -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, since ? since : "", -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *c[9];
        for (int i = 1; i < 9; i++) {
            const unsigned char *t = sqlite3_column_text(st, i);
            c[i] = t ? (const char *)t : "";
        }
        if (!fn(arg, (uint64_t)sqlite3_column_int64(st, 0), c[1], c[2], c[3], c[4], c[5], c[6],
                c[7], c[8]))
            break;
    }
    sqlite3_finalize(st);
    return true;
}

bool bl_audit_forget(bl_store_t *store, const bl_audit_t *a, const char *subject)
{
    char p[64];
    bl_audit_pseudonym(a, subject, p, sizeof(p));
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(bl_store_db(store), "DELETE FROM audit_actors WHERE pseudonym = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, p, -1, SQLITE_TRANSIENT);
    bool ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(bl_store_db(store)) > 0;
    sqlite3_finalize(st);
    return ok;
}
