// TLS for blattd: the server context (TLS 1.2+, modern suites) and the self-signed certificate.
// Licensed under the Apache License, Version 2.0.
#include "server/tls.h"

#include "server/log.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// Forward secrecy and AEAD only for TLS 1.2; TLS 1.3 suites are OpenSSL's (all modern).
#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"     \
    "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#define CERT_DAYS 3650

static void log_ssl_error(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    bl_log(BL_LOG_ERROR, "tls: %s: %s", what, buf);
    ERR_clear_error();
}

// Adds one X509v3 extension given in OpenSSL's config syntax.
static bool add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return false;
    bool ok = X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

// The server name is put into the certificate only when it is a plain host name.
static bool host_name_ok(const char *s)
{
    if (!*s || strlen(s) > 253)
        return false;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '.'))
            return false;
    }
    return true;
}

static X509 *make_cert(EVP_PKEY *key, const char *server_name)
{
    X509 *cert = X509_new();
    if (!cert)
        return NULL;
    unsigned char serial[16];
    RAND_bytes(serial, sizeof(serial));
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    const char *cn = host_name_ok(server_name) ? server_name : "localhost";
    char san[600];
    snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", cn);
    X509_NAME *name = X509_get_subject_name(cert);
    bool ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) &&
              X509_set_version(cert, 2) == 1 && X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
              X509_gmtime_adj(X509_getm_notAfter(cert), (long)CERT_DAYS * 86400) &&
              X509_set_pubkey(cert, key) == 1 &&
              X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Blatt",
                                         -1, -1, 0) == 1 &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
                                         -1, 0) == 1 &&
              X509_set_issuer_name(cert, name) == 1 && add_ext(cert, NID_subject_alt_name, san) &&
              add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") &&
              add_ext(cert, NID_key_usage, "critical,digitalSignature") &&
              add_ext(cert, NID_ext_key_usage, "serverAuth") &&
              X509_sign(cert, key, EVP_sha256()) > 0;
    BN_free(bn);
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

// Writes a PEM file through fn with the given mode, created exclusively.
static bool write_pem(const char *path, mode_t mode, bool (*fn)(FILE *, void *), void *obj)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        bl_log(BL_LOG_ERROR, "tls: cannot create %s: %s", path, strerror(errno));
        return false;
    }
    FILE *fp = fdopen(fd, "w");
    bool ok = fp && fn(fp, obj);
    if (fp)
        ok = fclose(fp) == 0 && ok;
    else
        close(fd);
    if (!ok) {
        bl_log(BL_LOG_ERROR, "tls: cannot write %s", path);
        unlink(path);
    }
    return ok;
}

static bool pem_key(FILE *fp, void *obj)
{
    return PEM_write_PrivateKey(fp, obj, NULL, NULL, 0, NULL, NULL) == 1;
}

static bool pem_cert(FILE *fp, void *obj)
{
    return PEM_write_X509(fp, obj) == 1;
}

// Creates a P-256 key and a self-signed certificate at the given paths.
static bool create_self_signed(const char *cert_path, const char *key_path, const char *server_name)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = key ? make_cert(key, server_name) : NULL;
    bool ok = cert && write_pem(key_path, 0600, pem_key, key) &&
              write_pem(cert_path, 0644, pem_cert, cert);
    if (!cert)
        log_ssl_error("cannot create a self-signed certificate");
    else if (ok)
        bl_log(BL_LOG_INFO, "tls: created a self-signed certificate for %s in %s",
               host_name_ok(server_name) ? server_name : "localhost", cert_path);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ok;
}

SSL_CTX *bl_tls_context_create(const char *cert_path, const char *key_path, const char *server_name,
                               const char *client_ca)
{
    struct stat st;
    bool have_cert = stat(cert_path, &st) == 0, have_key = stat(key_path, &st) == 0;
    if (!have_cert && !have_key && !create_self_signed(cert_path, key_path, server_name))
        return NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        log_ssl_error("cannot create a context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    // Key exchange groups of at least 128-bit strength (no finite-field groups).
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256:X448:P-384:P-521") != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        log_ssl_error(cert_path);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (client_ca && *client_ca) {
        // Ask for a client certificate (clients without one may use other schemes); one that
        // is sent must verify against these CAs.
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca);
        if (!names || SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
            log_ssl_error(client_ca);
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            SSL_CTX_free(ctx);
            return NULL;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_verify_depth(ctx, 4);
    }
    return ctx;
}
