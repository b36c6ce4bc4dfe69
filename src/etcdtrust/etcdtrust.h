/* etcdtrust.h — etcd's own trust: only managers reach etcd.
 *
 * etcd (client port 127.0.0.1:2479 and peer port 2480) trusts one CA, the etcd CA, and no
 * swarm root: a swarm certificate of any root (a worker's, a manager's, before or after a root
 * rotation) never opens etcd, so root rotation does not touch etcd's trust at all. The etcd
 * CA (ECDSA P-256, CN "shoal-etcd-ca") is made at `swarm init`; its key is a manager-only
 * secret handed to joining and promoted managers with the data key, never to workers.
 *
 * Files on a manager (all removed on demotion and leave), under the swarm's certs/ and keys/:
 *   certs/etcd-ca.crt   the etcd CA certificate (etcd's --trusted-ca-file/--peer-...)
 *   keys/etcd-ca.key    its key, sealed with the data key (so autolock covers it: while the
 *                       node is locked the DEK, and with it this key, cannot be read)
 *   certs/etcd.crt/.key this manager's etcd certificate (server+client; CN node ID, OU
 *                       CA_ETCD_OU, SANs 127.0.0.1 and the advertise IP), issued by the
 *                       manager itself from the etcd CA when missing, invalid or old
 *   certs/etcd-crl.pem  the CRL etcd checks every new connection against
 *
 * Replicated private records (sealed like every value): "etcdca" {Cert, Key}; "etcdcert-<ID>"
 * {Serials} every etcd certificate serial a manager ever used (each manager records its own
 * once its store is up); "etcdcrl" {Serials, CRL}. Every manager writes the CRL of the record
 * to certs/etcd-crl.pem (atomically); etcd re-reads it per connection, so a revocation takes
 * effect without a restart. The leader revokes the serials of nodes that are no longer
 * managers in the store (demoted, or removed with `node rm --force`) once they are no longer
 * etcd members either, so a demoting manager still reaches its etcd to take itself out
 * (etcdtrust_to_revoke decides; etcd also refuses a removed member ID at the Raft layer).
 *
 * Data roots from before the etcd CA: a manager without it runs etcd with the swarm
 * certificates; the leader creates the etcd CA record if the swarm has none, every manager
 * stores it on disk, and each switches its etcd to it on its next restart.
 *
 * This module keeps the files and the records' contents; the commits of records, the
 * leader's tick and etcd's member list are the wiring's (src/node/node_etcd.c). The decisions
 * (etcdtrust_cert_ok, etcdtrust_to_revoke) are pure, the time an argument. Thread: the loop
 * thread; small blocking file I/O. */
#ifndef SHOAL_ETCDTRUST_H
#define SHOAL_ETCDTRUST_H

#include "base/base.h"

#include <jansson.h>

/* etcd certificates are revoked through the CRL, not by expiring: a long life, re-issued at
 * a manager's start once 80% of it has passed. */
#define ETCDTRUST_CERT_EXPIRY_NS (5LL * 365 * 24 * 3600 * 1000000000LL)

struct etcdtrust {
    char *certs_dir, *keys_dir; /* owned copies */
    char *ca_cert, *ca_key;     /* PEM; NULL on a data root from before the etcd CA */
    bool on;                    /* this manager's etcd runs on the etcd CA (else the swarm's) */
    bool ca_recorded;           /* the swarm's "etcdca" record has been seen (or written) */
    json_t *serials;            /* node ID → [serial] of its etcd certificates, or NULL */
    json_t *revoked;            /* [serial] in etcd's CRL, or NULL */
};
void etcdtrust_init(struct etcdtrust *t, const char *certs_dir, const char *keys_dir);
/* Frees everything (files stay). */
void etcdtrust_release(struct etcdtrust *t);

/* Who this manager is, for its etcd certificate. */
struct etcdtrust_self {
    const char *id, *cluster_id;
    const char *ip; /* advertise IP; "" or NULL: none */
};

/* Writes the etcd CA to disk (key sealed with dek) and keeps it. */
int etcdtrust_ca_install(struct etcdtrust *t, const uint8_t dek[32], const char *cert,
                         const char *key, struct err *e);
/* A new etcd CA, installed (swarm init, or the leader of an older swarm). */
int etcdtrust_ca_create(struct etcdtrust *t, const uint8_t dek[32], struct err *e);
/* Before etcd starts: loads the etcd CA from disk (opened with dek), issues this manager's
 * etcd certificate unless etcdtrust_cert_ok at now_ns, and makes sure a CRL file exists; sets
 * t->on. A data root without the etcd CA is no error (t->on stays false). */
int etcdtrust_prepare(struct etcdtrust *t, const uint8_t dek[32], const struct etcdtrust_self *self,
                      int64_t now_ns, struct err *e);
/* Drops the etcd CA and the records from memory; with remove_files also its files (demotion). */
void etcdtrust_forget(struct etcdtrust *t, bool remove_files);
/* {"Cert", "Key"} for a joining or promoted manager's answer, or NULL (this manager's etcd does
 * not run on the etcd CA: a joiner starts its etcd the way this one runs); new reference. */
json_t *etcdtrust_ca_record(const struct etcdtrust *t);
/* Installs the etcd CA from a join or promotion answer's EtcdCA (both NULL: an older manager,
 * none). */
int etcdtrust_ca_from_answer(struct etcdtrust *t, const uint8_t dek[32], const char *cert,
                             const char *key, struct err *e);
/* Applies the private records "etcdca", "etcdcrl" and "etcdcert-<ID>"; false for others. dek:
 * this node's data key if it is a manager that may store the etcd CA, else NULL. */
bool etcdtrust_apply(struct etcdtrust *t, const uint8_t *dek, const char *name, json_t *rec);
/* The serial of this manager's etcd certificate (certs/etcd.crt), heap. */
int etcdtrust_cert_serial(const struct etcdtrust *t, char **serial, struct err *e);
/* A CRL of the etcd CA listing the serials (a JSON array of strings); heap PEM. */
int etcdtrust_crl_sign(const struct etcdtrust *t, json_t *serials, char **crl, struct err *e);
/* True if the JSON array a holds the string s. */
bool etcdtrust_has(json_t *a, const char *s);

/* ---- decisions (pure) ---- */
/* True if cert_pem and key_pem (either NULL: missing) are a usable etcd certificate for self
 * at now_ns: the key matches, it chains to ca_pem and is valid then, names self->id with
 * CA_ETCD_OU, holds self->ip in its SANs (etcd matches a peer's IP SANs against its address),
 * and is not past 80% of its life. */
bool etcdtrust_cert_ok(const char *ca_pem, const char *cert_pem, const char *key_pem,
                       const struct etcdtrust_self *self, int64_t now_ns);

/* A node that recorded etcd certificate serials, as the leader sees it. */
struct etcdtrust_holder {
    const char *id;
    json_t *serials; /* its "etcdcert-<ID>" serials (borrowed array) */
    bool manager;    /* the store has it as a manager (Spec.Role or ManagerStatus) */
    bool member;     /* etcd lists it as a member (false while not asked) */
};
/* The leader's revocation decision: every serial of a holder that is neither a manager nor an
 * etcd member and that `revoked` (an array, or NULL) lacks. Returns a new array, empty when
 * there is nothing to revoke; the IDs of the holders it names are appended to `who` (an
 * array) unless it is NULL. The leader asks etcd for its members only when a first call
 * without them (member all false) finds something, then decides again with them. */
json_t *etcdtrust_to_revoke(const struct etcdtrust_holder *h, size_t n, json_t *revoked,
                            json_t *who);

#endif
