/* ca_info.c — the TLSInfo block that the Engine API shows for the swarm and each node:
 * the trust root and, base64 DER, the issuer's subject and public key. Any thread. */
#include "ca.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

int ca_tls_info(const char *root_cert_pem, char **subject_b64, char **pubkey_b64, struct err *e)
{
    BIO *bio = BIO_new_mem_buf(root_cert_pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!x)
        return err_set(e, ERR_INVALID, "cannot parse the root CA certificate");
    unsigned char *der = NULL;
    int n = i2d_X509_NAME(X509_get_subject_name(x), &der);
    *subject_b64 = b64_encode(der, n > 0 ? (size_t)n : 0, true);
    OPENSSL_free(der);
    der = NULL;
    n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    *pubkey_b64 = b64_encode(der, n > 0 ? (size_t)n : 0, true);
    OPENSSL_free(der);
    X509_free(x);
    return 0;
}
