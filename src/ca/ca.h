/* ca.h — the swarm's certificate authority and secrets: root CA (ECDSA P-256), node keys,
 * CSRs and certificates, chain verification, join tokens, unlock keys, and AES-256-GCM
 * sealing for encryption at rest. All PEM in, PEM out; OpenSSL underneath.
 *
 * Pure functions with no I/O besides the CSPRNG; any thread. Every heap string returned
 * belongs to the caller (free()). Functions return 0 or a negative ERR_* code and fill e. */
#ifndef SHOAL_CA_H
#define SHOAL_CA_H

#include "base/base.h"

/* Default validity of node certificates (Docker: 90 days) and of the root (20 years). */
#define CA_NODE_EXPIRY_NS (90LL * 24 * 3600 * 1000000000LL)
#define CA_ROOT_EXPIRY_NS (20LL * 365 * 24 * 3600 * 1000000000LL)

/* Creates a self-signed root CA: ECDSA P-256 key, CN "swarm-ca", CA:TRUE, keyCertSign. */
int ca_root_new(char **cert_pem, char **key_pem, struct err *e);

/* ---- the etcd CA ----
 * A second, separate authority that only managers hold: etcd trusts it alone (client and
 * peer ports), so no swarm certificate (a worker's, a manager's, either root's) opens etcd.
 * Its certificates are issued with ca_issue() (OU CA_ETCD_OU); removed members' serials go
 * into a CRL that etcd re-reads on every new connection (--client-crl-file/--peer-crl-file). */
#define CA_ETCD_OU "shoal-etcd"
/* Like ca_root_new() with CN "shoal-etcd-ca". */
int ca_etcd_root_new(char **cert_pem, char **key_pem, struct err *e);
/* True if cert_pem's subjectAltNames hold the IP address ip (text). */
bool ca_cert_has_ip(const char *cert_pem, const char *ip);
/* The serial number of the first certificate of cert_pem as upper-case hex, two digits a
 * byte (OpenSSL's BN_bn2hex form, the form ca_crl_new() takes). */
int ca_cert_serial(const char *cert_pem, char **serial_hex, struct err *e);
/* A v2 CRL signed by ca_key_pem listing the n serials (hex; a bad one → ERR_INVALID), valid
 * from now for the CA's remaining life, PEM ("X509 CRL"). n may be 0 (an empty list: etcd
 * refuses every connection while its CRL file is missing or unparsable). */
int ca_crl_new(const char *ca_cert_pem, const char *ca_key_pem, const char *const *serials,
               size_t n, char **crl_pem, struct err *e);

/* Creates a new ECDSA P-256 private key and a CSR for it (subject left empty; the CA sets
 * the subject when it signs). */
int ca_key_csr_new(char **key_pem, char **csr_pem, struct err *e);

/* What a node certificate says: CN = node ID, OU = role ("swarm-manager" |
 * "swarm-worker"), O = cluster ID. */
struct ca_identity {
    char cn[128];
    char ou[64];
    char org[128];
    int64_t not_before_ns, not_after_ns;
};

/* Signs csr_pem with the root, setting subject CN/OU/O from id (times ignored), validity
 * [now - 1 min, now + expiry_ns], serverAuth+clientAuth, and subjectAltNames: DNS names
 * "swarm-manager"/"swarm-worker" (the OU), the CN, "localhost", plus the given IP
 * addresses (nips may be 0). The CSR signature is verified first (bad → ERR_INVALID). */
int ca_issue(const char *root_cert_pem, const char *root_key_pem, const char *csr_pem,
             const struct ca_identity *id, int64_t expiry_ns, const char *const *ips, size_t nips,
             char **cert_pem, struct err *e);

/* Verifies cert_pem chains to a root in root_cert_pem (one root, or a bundle of roots during
 * a rotation) and is within its validity now; fills *id.
 * Another CA's certificate, an expired one, garbage → ERR_UNAUTHORIZED (or ERR_INVALID
 * for unparsable PEM). */
int ca_verify(const char *root_cert_pem, const char *cert_pem, struct ca_identity *id,
              struct err *e);
/* The same at a given time (ns since the epoch). Logic that decides on expiry (renewal checks)
 * calls this with the `now` it was given; ca_verify reads the clock itself, for I/O code that
 * checks a certificate it has just received (a join's answer). */
int ca_verify_at(const char *root_cert_pem, const char *cert_pem, int64_t now_ns,
                 struct ca_identity *id, struct err *e);

/* ---- renewal (the time is the caller's: logic never reads a clock) ---- */
/* When a certificate valid over [not_before, not_after] renews: between 50% and 80% of its
 * life, r in [0, 1] (clamped) picking the point, as swarmkit does, so a swarm never has a wave
 * of renewals and no certificate expires in service. */
int64_t ca_renew_at(int64_t not_before_ns, int64_t not_after_ns, double r);
/* The renewal check's decision for cert_pem at now_ns: <0 it does not verify against ca_pem
 * then (expired, not yet valid, another CA; e says why), 1 it is due for renewal (r as
 * ca_renew_at), 0 keep it. */
int ca_cert_due(const char *ca_pem, const char *cert_pem, double r, int64_t now_ns, struct err *e);

/* Root rotation: a certificate with the new root's subject and public key signed by the old
 * root (CA:TRUE), valid no longer than either. Appended to node certificates issued by the
 * new root, it lets peers that still trust only the old root verify them. */
int ca_cross_sign(const char *old_cert_pem, const char *old_key_pem, const char *new_cert_pem,
                  char **cross_pem, struct err *e);

/* Which root of bundle_pem signed the first certificate of cert_pem: *issuer_pem gets that
 * root's PEM; ERR_NOT_FOUND if none did. */
int ca_cert_issuer(const char *bundle_pem, const char *cert_pem, char **issuer_pem, struct err *e);

/* Checks that key_pem is the private key of cert_pem. */
int ca_key_matches(const char *cert_pem, const char *key_pem, struct err *e);

/* Digest of the root CA as join tokens carry it: sha256 over the PEM bytes exactly as
 * given, base36 lower-case, left-padded with '0' to 50 characters. */
char *ca_digest(const char *root_cert_pem);

/* ---- join tokens: "SWMTKN-1-<50-char digest>-<25-char secret>" ---- */
#define CA_TOKEN_DIGEST_LEN 50
#define CA_TOKEN_SECRET_LEN 25
/* A new token for root_cert_pem with a fresh 25-char base36 secret from the CSPRNG. */
char *ca_token_new(const char *root_cert_pem);
/* Splits a token; anything malformed (prefix, version, lengths, alphabet) → ERR_INVALID
 * with Docker's words: "invalid join token". */
int ca_token_parse(const char *token, char digest[CA_TOKEN_DIGEST_LEN + 1],
                   char secret[CA_TOKEN_SECRET_LEN + 1], struct err *e);

/* Compares two tokens in time that depends only on their lengths, not on where they differ
 * (a join's secret must not leak through timing). */
bool ca_token_equal(const char *a, const char *b);

/* ---- unlock keys: "SWMKEY-1-" + base64 (std alphabet, no padding) of 32 random bytes ---- */
char *ca_unlock_key_new(void);
/* Decodes an unlock key into its 32 key bytes; malformed → ERR_INVALID. */
int ca_unlock_key_parse(const char *key, uint8_t out[32], struct err *e);

/* ---- AES-256-GCM sealing ----
 * Sealed format: 12-byte random nonce || ciphertext || 16-byte tag. */
#define CA_SEAL_OVERHEAD 28
void ca_seal(const uint8_t key[32], const void *plain, size_t n, struct buf *out);
/* Tampered data or the wrong key → ERR_UNAUTHORIZED ("invalid key provided"). */
int ca_unseal(const uint8_t key[32], const void *sealed, size_t n, struct buf *out, struct err *e);

/* The TLSInfo fields of the Engine API for a root: base64 DER of its subject and of its
 * SubjectPublicKeyInfo (CertIssuerSubject, CertIssuerPublicKey). */
int ca_tls_info(const char *root_cert_pem, char **subject_b64, char **pubkey_b64, struct err *e);

#endif
