/* rootca.h — root CA rotation (`docker swarm ca --rotate`): the swarm's roots as a manager
 * holds them and the decisions of a rotation, pure (no I/O, no clock; the time is an argument).
 *
 * A rotation, Docker's way: a new root (generated, or given with its key) is cross-signed by
 * the old one; from then on every certificate is issued by the new root with the cross-signed
 * root appended, every node trusts both roots and renews its certificate at once, and each node
 * reports its TLSInfo (what it trusts, who issued its certificate) with its heartbeats. The
 * leader finishes once every node in the store reports a certificate from the new root (a node
 * that reported nothing, or is down, holds the rotation: swarmkit's reconciler waits for it
 * too): the old root is dropped and the join tokens carry the new root's digest.
 *
 * What is decided here: whether a swarm update starts a rotation (rootca_start_wanted), what
 * the cluster and the private record "rootca" become when it starts and when it ends, whether
 * the leader keeps waiting or finishes (rootca_reconcile, with the nodes that lag), and whether
 * a heartbeat answer must carry the roots. Key generation and cross-signing (src/ca), commits
 * and TLS reloads are the wiring's (src/node/node_rotate.c). One thread. */
#ifndef SHOAL_ROOTCA_H
#define SHOAL_ROOTCA_H

#include "base/base.h"

#include <jansson.h>

/* The swarm's roots, from the replicated private record "rootca" {Cert, Key, NewCert, NewKey,
 * Cross}. All PEM, owned; NULL when absent. */
struct rootca_roots {
    char *cert, *key;         /* the root every node trusts; key NULL once a manager demoted */
    char *new_cert, *new_key; /* during a rotation: the root that signs */
    char *cross;              /* new_cert signed by the old root, appended to issued certificates */
};
/* Frees the strings and empties r. */
void rootca_roots_release(struct rootca_roots *r);
/* Replaces r with the record's roots (missing Cert or Key: ""; empty NewCert, NewKey, Cross:
 * NULL). */
void rootca_roots_load(struct rootca_roots *r, json_t *rec);
/* The roots nodes must trust now (both during a rotation, concatenated); heap, NULL if r has
 * no root. */
char *rootca_trust_bundle(const struct rootca_roots *r);
/* The root that signs new certificates now, and its key (borrowed; NULL if unknown). */
const char *rootca_signing_cert(const struct rootca_roots *r);
const char *rootca_signing_key(const struct rootca_roots *r);
/* The chain to hand out with a certificate cert the signing root issued: cert, then the
 * cross-signed root when there is one (peers that trust only the old root follow it). Heap. */
char *rootca_chain(const struct rootca_roots *r, const char *cert);

/* The Engine API's TLSInfo for a root: TrustRoot and the root's subject and public key (base64
 * DER); {} if root_pem does not parse. New reference. */
json_t *rootca_tls_info(const char *root_pem);

/* ---- the start, in swarm update ---- */
enum rootca_start {
    ROOTCA_START_NONE = 0, /* the spec asks for no rotation */
    ROOTCA_START_GENERATE, /* CAConfig.ForceRotate changed: a new root is generated */
    ROOTCA_START_GIVEN,    /* CAConfig.SigningCACert (and SigningCAKey) given */
};
/* What the cluster spec `spec` of a swarm update asks compared with the current cluster:
 * returns an enum rootca_start (GIVEN sets *cert and *key, borrowed from spec), or <0 with e:
 * a signing certificate without its key (shoal signs itself; no external CAs). */
int rootca_start_wanted(json_t *cur_cluster, json_t *spec, const char **cert, const char **key,
                        struct err *e);
/* The private record of a rotation that starts from r's trusted root to new_cert (with its
 * key, cross-signed by the trusted root as cross); new reference. A rotation started while
 * another runs starts again from the root everyone trusts. */
json_t *rootca_start_record(const struct rootca_roots *r, const char *new_cert, const char *new_key,
                            const char *cross);
/* Marks the cluster object obj as rotating to new_cert: TLSInfo of the new root and
 * RootRotationInProgress. */
void rootca_start_cluster(json_t *obj, const char *new_cert);

/* ---- the leader: keep waiting, or finish ---- */
struct rootca_view {
    bool in_progress;   /* the cluster's RootRotationInProgress */
    const char *want;   /* the cluster's TLSInfo.CertIssuerPublicKey: the new root's key */
    bool have_new_root; /* this leader holds the new root (the record reached it) */
    bool finishing;     /* this leader's finish is in flight */
};
/* A node as the store has it: the issuer key its last TLSInfo reported (NULL: none yet). */
struct rootca_node {
    const char *id;
    const char *issuer_key; /* Description.TLSInfo.CertIssuerPublicKey */
};
enum rootca_next {
    ROOTCA_IDLE,   /* no rotation to drive (none, not this leader's to finish yet, finishing) */
    ROOTCA_WAIT,   /* some nodes have no certificate from the new root yet */
    ROOTCA_FINISH, /* every node has one: finish now */
};
/* True if there is a rotation for the leader to drive now, i.e. rootca_reconcile can return
 * anything but IDLE (so the wiring gathers the nodes only then). */
bool rootca_rotating(const struct rootca_view *v);
/* The decision over the store's n nodes. With lagging non-NULL, the IDs (borrowed from nodes)
 * of the nodes that hold the rotation go there, *nlagging of them; the caller provides room
 * for n. */
enum rootca_next rootca_reconcile(const struct rootca_view *v, const struct rootca_node *nodes,
                                  size_t n, const char **lagging, size_t *nlagging);
/* The cluster object that ends the rotation to new_root at now_ns: RootRotationInProgress
 * false, both join tokens with new_root's digest (their secrets kept), UpdatedAt now. New
 * reference (a copy of cluster). */
json_t *rootca_finish_cluster(json_t *cluster, const char *new_root, int64_t now_ns);
/* The private record once the rotation ends: the new root alone, its cross-signed form kept
 * (certificates issued during the rotation carry it). New reference; NULL if r has no new
 * root. */
json_t *rootca_finish_record(const struct rootca_roots *r);

/* ---- heartbeats ---- */
/* Whether a heartbeat answer must carry the roots (bundle and signing root): the node reported
 * that it trusts something other than bundle (trusts NULL: nothing reported), or that its
 * certificate's issuer key is not want (the signing root's). False without a bundle. */
bool rootca_send_roots(const char *bundle, const char *want, const char *trusts,
                       const char *issuer);

#endif
