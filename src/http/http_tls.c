/* http_tls.c — server-side TLS for the http module with OpenSSL over memory BIOs.
 *
 * No socket I/O here: the connection feeds received ciphertext in and sends what comes
 * out, so TLS runs on the libuv loop without blocking. Minimum protocol TLS 1.2. With a
 * client CA the handshake requires a client certificate that verifies against it; the
 * subject's CN/OU/O of a verified certificate are kept for the request accessors.
 * SSL_MODE_RELEASE_BUFFERS keeps idle connections small.
 *
 * Thread: the loop thread that owns the connection. */
#include "http/http_int.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

struct http_tls {
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    bool handshake_done;
    char *cn, *ou, *org;
};

static int tls_err(struct err *e, const char *what, const char *file)
{
    unsigned long code = ERR_get_error();
    char msg[256];
    ERR_error_string_n(code, msg, sizeof(msg));
    ERR_clear_error();
    return err_set(e, ERR_INVALID, "tls: %s %s: %s", what, file ? file : "", msg);
}

int http_tls_ctx_new(const struct http_tls_config *cfg, SSL_CTX **out, struct err *e)
{
    if (!cfg->cert_file || !cfg->key_file)
        return err_set(e, ERR_INVALID, "tls: certificate and key files are required");
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return tls_err(e, "creating context", NULL);
    int rc = 0;
    SSL_CTX_set_min_proto_version(ctx, cfg->tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_num_tickets(ctx, 0);
    static const unsigned char sid[] = "shoal-http";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
        rc = tls_err(e, "loading certificate", cfg->cert_file);
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
        rc = tls_err(e, "loading key", cfg->key_file);
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        rc = tls_err(e, "key does not match certificate", cfg->key_file);
        goto out;
    }
    if (cfg->client_ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, cfg->client_ca_file, NULL) != 1) {
            rc = tls_err(e, "loading client CA", cfg->client_ca_file);
            goto out;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->client_ca_file);
        if (!names) {
            rc = tls_err(e, "reading client CA names", cfg->client_ca_file);
            goto out;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx,
                           SSL_VERIFY_PEER |
                               (cfg->client_cert_optional ? 0 : SSL_VERIFY_FAIL_IF_NO_PEER_CERT),
                           NULL);
    }
out:
    if (rc < 0) {
        SSL_CTX_free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

void http_tls_ctx_free(SSL_CTX *ctx)
{
    SSL_CTX_free(ctx);
}

struct http_tls *http_tls_new(SSL_CTX *ctx)
{
    struct http_tls *t = xcalloc(1, sizeof(*t));
    t->ssl = SSL_new(ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    BUG_ON(!t->ssl || !t->rbio || !t->wbio);
    /* an empty read BIO means "want more", not EOF */
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_accept_state(t->ssl);
    return t;
}

void http_tls_free(struct http_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t->cn);
    free(t->ou);
    free(t->org);
    free(t);
}

static void flush_out(struct http_tls *t, struct buf *out)
{
    size_t pending;
    while ((pending = BIO_ctrl_pending(t->wbio)) > 0) {
        buf_reserve(out, pending);
        int n = BIO_read(t->wbio, out->p + out->len, (int)pending);
        if (n <= 0)
            break;
        out->len += (size_t)n;
        out->p[out->len] = 0;
    }
}

static char *name_field(X509_NAME *name, int nid)
{
    int idx = X509_NAME_get_index_by_NID(name, nid, -1);
    if (idx < 0)
        return NULL;
    ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, d);
    if (n < 0)
        return NULL;
    char *s = xstrndup((const char *)utf8, (size_t)n);
    OPENSSL_free(utf8);
    return s;
}

static void read_peer(struct http_tls *t)
{
    X509 *cert = SSL_get1_peer_certificate(t->ssl);
    if (!cert)
        return;
    if (SSL_get_verify_result(t->ssl) == X509_V_OK) {
        X509_NAME *name = X509_get_subject_name(cert);
        t->cn = name_field(name, NID_commonName);
        t->ou = name_field(name, NID_organizationalUnitName);
        t->org = name_field(name, NID_organizationName);
    }
    X509_free(cert);
}

int http_tls_feed(struct http_tls *t, const void *data, size_t len, struct buf *plain,
                  struct buf *cipher_out)
{
    ERR_clear_error();
    if (len && BIO_write(t->rbio, data, (int)len) != (int)len)
        return -1;
    if (!t->handshake_done) {
        int r = SSL_do_handshake(t->ssl);
        flush_out(t, cipher_out);
        if (r != 1) {
            int err = SSL_get_error(t->ssl, r);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
                return 0;
            log_debug("http: tls handshake failed: %s",
                      ERR_reason_error_string(ERR_peek_error()) ?: "connection error");
            ERR_clear_error();
            return -1;
        }
        t->handshake_done = true;
        read_peer(t);
    }
    for (;;) {
        buf_reserve(plain, 16384);
        int n = SSL_read(t->ssl, plain->p + plain->len, 16384);
        if (n > 0) {
            plain->len += (size_t)n;
            plain->p[plain->len] = 0;
            continue;
        }
        int err = SSL_get_error(t->ssl, n);
        flush_out(t, cipher_out);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            return 0;
        if (err == SSL_ERROR_ZERO_RETURN)
            return 1;
        ERR_clear_error();
        return -1;
    }
}

int http_tls_write(struct http_tls *t, const void *data, size_t len, struct buf *cipher_out)
{
    ERR_clear_error();
    const char *p = data;
    while (len) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        int n = SSL_write(t->ssl, p, chunk);
        flush_out(t, cipher_out);
        if (n <= 0) {
            ERR_clear_error();
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void http_tls_shutdown(struct http_tls *t, struct buf *cipher_out)
{
    ERR_clear_error();
    if (t->handshake_done)
        SSL_shutdown(t->ssl);
    flush_out(t, cipher_out);
    ERR_clear_error();
}

const char *http_tls_peer_cn(const struct http_tls *t)
{
    return t->cn;
}

const char *http_tls_peer_ou(const struct http_tls *t)
{
    return t->ou;
}

const char *http_tls_peer_org(const struct http_tls *t)
{
    return t->org;
}
