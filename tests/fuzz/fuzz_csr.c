/* fuzz_csr.c — libFuzzer target: a CSR as the join and renew handlers take it — ca_issue
 * verifies and signs it with the swarm's root (made once) — and the same bytes as a
 * certificate chain for ca_verify, ca_cert_issuer and ca_tls_info. First byte odd: the rest
 * is DER, wrapped here in PEM armour (so mutations reach the ASN.1, not the base64); even:
 * the rest is used as it is. */
#include "ca/ca.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *root_cert, *root_key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err e;
    if (!root_cert && ca_root_new(&root_cert, &root_key, &e) < 0)
        abort();
    if (size < 1)
        return 0;
    char *s;
    if (data[0] & 1) {
        char *b = b64_encode(data + 1, size - 1, true);
        s = xasprintf("-----BEGIN %s-----\n%s\n-----END %s-----\n",
                      data[0] & 2 ? "CERTIFICATE" : "CERTIFICATE REQUEST", b,
                      data[0] & 2 ? "CERTIFICATE" : "CERTIFICATE REQUEST");
        free(b);
    } else {
        s = strndup((const char *)data + 1, size - 1);
    }
    struct ca_identity id = {0};
    snprintf(id.cn, sizeof(id.cn), "n0de0000000000000000000000");
    snprintf(id.ou, sizeof(id.ou), "swarm-worker");
    snprintf(id.org, sizeof(id.org), "c1uster000000000000000000");
    const char *ips[] = {"10.0.0.1"};
    char *cert = NULL;
    if (ca_issue(root_cert, root_key, s, &id, 3600LL * 1000000000LL, ips, 1, &cert, &e) == 0) {
        struct ca_identity got;
        if (ca_verify(root_cert, cert, &got, &e) < 0 || strcmp(got.cn, id.cn) != 0)
            abort(); /* what the root just signed must verify as the identity it was given */
        free(cert);
    }
    struct ca_identity got;
    (void)ca_verify(root_cert, s, &got, &e);
    char *issuer = NULL;
    if (ca_cert_issuer(s, root_cert, &issuer, &e) == 0)
        free(issuer);
    char *subj = NULL, *pub = NULL;
    if (ca_tls_info(s, &subj, &pub, &e) == 0) {
        free(subj);
        free(pub);
    }
    free(s);
    return 0;
}
