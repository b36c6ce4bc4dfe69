/* msg_node.c — the membership messages (see msg.h): join and its answer, heartbeat and its
 * answer, certificate renewal and promotion, the CA fetch. Pure functions; any thread. */
#include "msg_int.h"

#include <string.h>

#define MAX_PERIOD_MS ((int64_t)INT32_MAX)

/* ---- TLSInfo and Description ---- */

json_t *msg_tls_info_encode(const struct msg_tls_info *t)
{
    json_t *j = json_object();
    if (t->trust_root)
        json_object_set_new(j, "TrustRoot", json_string(t->trust_root));
    if (t->issuer_subject)
        json_object_set_new(j, "CertIssuerSubject", json_string(t->issuer_subject));
    if (t->issuer_public_key)
        json_object_set_new(j, "CertIssuerPublicKey", json_string(t->issuer_public_key));
    return j;
}

/* The leader stores it as sent: nothing but the three strings may be in it. */
static int tls_info_decode(json_t *o, const char *what, struct msg_tls_info *t, struct err *e)
{
    static const char *const keys[] = {"TrustRoot", "CertIssuerSubject", "CertIssuerPublicKey"};
    if (msg_is_object(o, what, e) < 0)
        return -ERR_INVALID;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
            known = known || !strcmp(k, keys[i]);
        if (!known)
            return err_set(e, ERR_INVALID, "malformed %s: unknown field %s", what, k);
    }
    if (msg_get_str(o, what, "TrustRoot", MSG_MAX_PEM, false, &t->trust_root, e) < 0 ||
        msg_get_str(o, what, "CertIssuerSubject", MSG_MAX_PEM, false, &t->issuer_subject, e) < 0 ||
        msg_get_str(o, what, "CertIssuerPublicKey", MSG_MAX_PEM, false, &t->issuer_public_key, e) <
            0)
        return -ERR_INVALID;
    return 0;
}

json_t *msg_node_desc_encode(const struct msg_node_desc *d)
{
    json_t *j = json_object();
    if (d->hostname)
        json_object_set_new(j, "Hostname", json_string(d->hostname));
    if (d->arch || d->os) {
        json_t *p = json_object();
        if (d->arch)
            json_object_set_new(p, "Architecture", json_string(d->arch));
        if (d->os)
            json_object_set_new(p, "OS", json_string(d->os));
        json_object_set_new(j, "Platform", p);
    }
    if (d->has_resources)
        json_object_set_new(j, "Resources",
                            json_pack("{s:I, s:I}", "NanoCPUs", (json_int_t)d->nano_cpus,
                                      "MemoryBytes", (json_int_t)d->memory_bytes));
    if (d->engine_version || d->engine_labels) {
        json_t *en = json_object();
        if (d->engine_version)
            json_object_set_new(en, "EngineVersion", json_string(d->engine_version));
        if (d->engine_labels)
            json_object_set(en, "Labels", d->engine_labels);
        json_object_set_new(j, "Engine", en);
    }
    return j;
}

int msg_node_desc_decode(json_t *o, struct msg_node_desc *d, struct err *e)
{
    static const char what[] = "join request Description";
    json_t *plat, *res, *eng;
    bool has_cpus, has_mem;
    memset(d, 0, sizeof(*d));
    if (msg_is_object(o, what, e) < 0 ||
        msg_get_str(o, what, "Hostname", MSG_MAX_SHORT, false, &d->hostname, e) < 0 ||
        msg_get_obj(o, what, "Platform", false, false, &plat, e) < 0 ||
        msg_get_obj(o, what, "Resources", false, false, &res, e) < 0 ||
        msg_get_obj(o, what, "Engine", false, false, &eng, e) < 0)
        return -ERR_INVALID;
    if (plat && (msg_get_str(plat, what, "Architecture", MSG_MAX_SHORT, false, &d->arch, e) < 0 ||
                 msg_get_str(plat, what, "OS", MSG_MAX_SHORT, false, &d->os, e) < 0))
        return -ERR_INVALID;
    if (res &&
        (msg_get_int(res, what, "NanoCPUs", 0, INT64_MAX, false, &d->nano_cpus, &has_cpus, e) < 0 ||
         msg_get_int(res, what, "MemoryBytes", 0, INT64_MAX, false, &d->memory_bytes, &has_mem, e) <
             0))
        return -ERR_INVALID;
    d->has_resources = res != NULL;
    if (!eng)
        return 0;
    if (msg_get_str(eng, what, "EngineVersion", MSG_MAX_SHORT, false, &d->engine_version, e) < 0 ||
        msg_get_obj(eng, what, "Labels", false, false, &d->engine_labels, e) < 0)
        return -ERR_INVALID;
    if (json_object_size(d->engine_labels) > MSG_MAX_LABELS)
        return err_set(e, ERR_INVALID, "malformed %s: more than %d engine labels", what,
                       MSG_MAX_LABELS);
    const char *k;
    json_t *v;
    json_object_foreach(d->engine_labels, k, v)
    {
        if (strlen(k) > MSG_MAX_SHORT || !json_is_string(v) || json_string_length(v) > MSG_MAX_TEXT)
            return err_set(e, ERR_INVALID, "malformed %s: engine label %.64s", what, k);
    }
    return 0;
}

/* Every decoded structure ends with `json_t *doc`; release drops it and zeroes the rest. */
#define RELEASE(kind)                                                                              \
    void msg_##kind##_release(struct msg_##kind *m)                                                \
    {                                                                                              \
        json_decref(m->doc);                                                                       \
        memset(m, 0, sizeof(*m));                                                                  \
    }
RELEASE(join_req)
RELEASE(join_resp)
RELEASE(heartbeat_req)
RELEASE(heartbeat_resp)
RELEASE(csr_req)
RELEASE(cert_resp)
RELEASE(ca_resp)

static int bad(void *m, size_t size)
{
    memset(m, 0, size);
    return -ERR_INVALID;
}

static int port(json_t *o, const char *what, const char *key, int *out, struct err *e)
{
    int64_t v;
    if (msg_get_int(o, what, key, 1, 65535, false, &v, NULL, e) < 0)
        return -ERR_INVALID;
    *out = (int)v;
    return 0;
}

/* ---- join ---- */

json_t *msg_join_req_encode(const struct msg_join_req *m)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "Token", m->token, "CSR", m->csr, "Addr", m->addr);
    BUG_ON(!j); /* a required field is NULL */
    if (m->availability)
        json_object_set_new(j, "Availability", json_string(m->availability));
    json_object_set_new(j, "Description", msg_node_desc_encode(&m->desc));
    if (m->advertise_port)
        json_object_set_new(j, "AdvertisePort", json_integer(m->advertise_port));
    if (m->etcd_peer_port)
        json_object_set_new(j, "EtcdPeerPort", json_integer(m->etcd_peer_port));
    return j;
}

int msg_join_req_decode(json_t *j, struct msg_join_req *m, struct err *e)
{
    static const char what[] = "join request";
    json_t *desc;
    memset(m, 0, sizeof(*m));
    if (msg_is_object(j, what, e) < 0 ||
        msg_get_str(j, what, "Token", MSG_MAX_SHORT, true, &m->token, e) < 0 ||
        msg_get_str(j, what, "CSR", MSG_MAX_PEM, true, &m->csr, e) < 0 ||
        msg_get_str(j, what, "Addr", MSG_MAX_ADDR, true, &m->addr, e) < 0 ||
        msg_get_str(j, what, "Availability", MSG_MAX_SHORT, false, &m->availability, e) < 0 ||
        msg_get_obj(j, what, "Description", false, true, &desc, e) < 0 ||
        port(j, what, "AdvertisePort", &m->advertise_port, e) < 0 ||
        port(j, what, "EtcdPeerPort", &m->etcd_peer_port, e) < 0)
        return bad(m, sizeof(*m));
    if (!msg_ip_valid(m->addr)) {
        err_set(e, ERR_INVALID, "malformed %s: Addr is not an IP address", what);
        return bad(m, sizeof(*m));
    }
    const char *a = m->availability;
    if (a && a[0] && strcmp(a, "active") && strcmp(a, "pause") && strcmp(a, "drain")) {
        err_set(e, ERR_INVALID, "malformed %s: invalid Availability %.32s", what, a);
        return bad(m, sizeof(*m));
    }
    if (a && !a[0])
        m->availability = NULL;
    if (msg_node_desc_decode(desc, &m->desc, e) < 0)
        return bad(m, sizeof(*m));
    m->doc = json_incref(j);
    return 0;
}

json_t *msg_join_resp_encode(const struct msg_join_resp *m)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "NodeID", m->node_id, "ClusterID", m->cluster_id,
                          "Role", m->role, "Cert", m->cert);
    BUG_ON(!j); /* a required field is NULL */
    json_object_set_new(j, "Managers", m->managers ? json_incref(m->managers) : json_array());
    if (m->heartbeat_ms)
        json_object_set_new(j, "HeartbeatPeriod", json_integer(m->heartbeat_ms));
    const struct {
        const char *key, *v;
    } opt[] = {{"TrustBundle", m->trust_bundle},
               {"InitialCluster", m->initial_cluster},
               {"UnlockKey", m->unlock_key},
               {"DEK", m->dek}};
    for (size_t i = 0; i < ARRAY_SIZE(opt); i++)
        if (opt[i].v)
            json_object_set_new(j, opt[i].key, json_string(opt[i].v));
    if (m->etcd_ca_cert && m->etcd_ca_key)
        json_object_set_new(
            j, "EtcdCA", json_pack("{s:s, s:s}", "Cert", m->etcd_ca_cert, "Key", m->etcd_ca_key));
    return j;
}

int msg_join_resp_decode(json_t *j, struct msg_join_resp *m, struct err *e)
{
    static const char what[] = "join answer";
    json_t *etcd;
    memset(m, 0, sizeof(*m));
    if (msg_is_object(j, what, e) < 0 ||
        msg_get_str(j, what, "NodeID", MSG_MAX_SHORT, true, &m->node_id, e) < 0 ||
        msg_get_str(j, what, "ClusterID", MSG_MAX_SHORT, true, &m->cluster_id, e) < 0 ||
        msg_get_str(j, what, "Role", MSG_MAX_SHORT, true, &m->role, e) < 0 ||
        msg_get_str(j, what, "Cert", MSG_MAX_PEM, true, &m->cert, e) < 0 ||
        msg_get_addrs(j, what, "Managers", &m->managers, e) < 0 ||
        msg_get_int(j, what, "HeartbeatPeriod", 0, MAX_PERIOD_MS, false, &m->heartbeat_ms, NULL,
                    e) < 0 ||
        msg_get_str(j, what, "TrustBundle", MSG_MAX_PEM, false, &m->trust_bundle, e) < 0 ||
        msg_get_str(j, what, "InitialCluster", MSG_MAX_PEM, false, &m->initial_cluster, e) < 0 ||
        msg_get_str(j, what, "UnlockKey", MSG_MAX_SHORT, false, &m->unlock_key, e) < 0 ||
        msg_get_str(j, what, "DEK", MSG_MAX_SHORT, false, &m->dek, e) < 0 ||
        msg_get_obj(j, what, "EtcdCA", false, false, &etcd, e) < 0)
        return bad(m, sizeof(*m));
    if (etcd &&
        (msg_get_str(etcd, "join answer EtcdCA", "Cert", MSG_MAX_PEM, true, &m->etcd_ca_cert, e) <
             0 ||
         msg_get_str(etcd, "join answer EtcdCA", "Key", MSG_MAX_PEM, true, &m->etcd_ca_key, e) < 0))
        return bad(m, sizeof(*m));
    if (!id_valid(m->node_id) || !id_valid(m->cluster_id)) {
        err_set(e, ERR_INVALID, "malformed %s: bad identity", what);
        return bad(m, sizeof(*m));
    }
    if (strcmp(m->role, "manager") && strcmp(m->role, "worker")) {
        err_set(e, ERR_INVALID, "malformed %s: Role must be manager or worker", what);
        return bad(m, sizeof(*m));
    }
    m->doc = json_incref(j);
    return 0;
}

/* ---- heartbeat ---- */

json_t *msg_heartbeat_req_encode(const struct msg_heartbeat_req *m)
{
    json_t *j = json_object();
    if (m->has_tls)
        json_object_set_new(j, "TLSInfo", msg_tls_info_encode(&m->tls));
    return j;
}

int msg_heartbeat_req_decode(json_t *j, struct msg_heartbeat_req *m, struct err *e)
{
    static const char what[] = "heartbeat";
    json_t *tls;
    memset(m, 0, sizeof(*m));
    if (msg_is_object(j, what, e) < 0 || msg_get_obj(j, what, "TLSInfo", false, false, &tls, e) < 0)
        return bad(m, sizeof(*m));
    if (tls && tls_info_decode(tls, "heartbeat TLSInfo", &m->tls, e) < 0)
        return bad(m, sizeof(*m));
    m->has_tls = tls != NULL;
    m->doc = json_incref(j);
    return 0;
}

json_t *msg_heartbeat_resp_encode(const struct msg_heartbeat_resp *m)
{
    json_t *j = json_object();
    if (m->message)
        json_object_set_new(j, "message", json_string(m->message));
    if (m->heartbeat_ms)
        json_object_set_new(j, "HeartbeatPeriod", json_integer(m->heartbeat_ms));
    if (m->managers)
        json_object_set(j, "Managers", m->managers);
    const struct {
        const char *key, *v;
    } opt[] = {{"Role", m->role},
               {"TrustBundle", m->trust_bundle},
               {"SigningRoot", m->signing_root},
               {"Leader", m->leader}};
    for (size_t i = 0; i < ARRAY_SIZE(opt); i++)
        if (opt[i].v)
            json_object_set_new(j, opt[i].key, json_string(opt[i].v));
    return j;
}

int msg_heartbeat_resp_decode(json_t *j, struct msg_heartbeat_resp *m, struct err *e)
{
    static const char what[] = "heartbeat answer";
    memset(m, 0, sizeof(*m));
    if (msg_is_object(j, what, e) < 0 ||
        msg_get_str(j, what, "message", MSG_MAX_TEXT, false, &m->message, e) < 0 ||
        msg_get_int(j, what, "HeartbeatPeriod", 0, MAX_PERIOD_MS, false, &m->heartbeat_ms, NULL,
                    e) < 0 ||
        msg_get_addrs(j, what, "Managers", &m->managers, e) < 0 ||
        msg_get_str(j, what, "Role", MSG_MAX_SHORT, false, &m->role, e) < 0 ||
        msg_get_str(j, what, "TrustBundle", MSG_MAX_PEM, false, &m->trust_bundle, e) < 0 ||
        msg_get_str(j, what, "SigningRoot", MSG_MAX_PEM, false, &m->signing_root, e) < 0 ||
        msg_get_str(j, what, "Leader", MSG_MAX_ADDR, false, &m->leader, e) < 0)
        return bad(m, sizeof(*m));
    if (m->role && m->role[0] && strcmp(m->role, "manager") && strcmp(m->role, "worker")) {
        err_set(e, ERR_INVALID, "malformed %s: Role must be manager or worker", what);
        return bad(m, sizeof(*m));
    }
    if (m->leader && m->leader[0] && !msg_addr_valid(m->leader)) {
        err_set(e, ERR_INVALID, "malformed %s: Leader is not an IP:port address", what);
        return bad(m, sizeof(*m));
    }
    m->doc = json_incref(j);
    return 0;
}

/* ---- certificates ---- */

json_t *msg_csr_req_encode(const struct msg_csr_req *m)
{
    json_t *j = json_pack("{s:s}", "CSR", m->csr);
    if (m->advertise_port)
        json_object_set_new(j, "AdvertisePort", json_integer(m->advertise_port));
    if (m->etcd_peer_port)
        json_object_set_new(j, "EtcdPeerPort", json_integer(m->etcd_peer_port));
    return j;
}

int msg_csr_req_decode(json_t *j, struct msg_csr_req *m, struct err *e)
{
    static const char what[] = "certificate request";
    memset(m, 0, sizeof(*m));
    if (msg_is_object(j, what, e) < 0 ||
        msg_get_str(j, what, "CSR", MSG_MAX_PEM, true, &m->csr, e) < 0 ||
        port(j, what, "AdvertisePort", &m->advertise_port, e) < 0 ||
        port(j, what, "EtcdPeerPort", &m->etcd_peer_port, e) < 0)
        return bad(m, sizeof(*m));
    m->doc = json_incref(j);
    return 0;
}

json_t *msg_cert_resp_encode(const struct msg_cert_resp *m)
{
    return json_pack("{s:s}", "Cert", m->cert);
}

int msg_cert_resp_decode(json_t *j, struct msg_cert_resp *m, struct err *e)
{
    static const char what[] = "certificate answer";
    memset(m, 0, sizeof(*m));
    if (msg_is_object(j, what, e) < 0 ||
        msg_get_str(j, what, "Cert", MSG_MAX_PEM, true, &m->cert, e) < 0)
        return bad(m, sizeof(*m));
    m->doc = json_incref(j);
    return 0;
}

json_t *msg_ca_resp_encode(const struct msg_ca_resp *m)
{
    return json_pack("{s:s}", "RootCA", m->root_ca);
}

int msg_ca_resp_decode(json_t *j, struct msg_ca_resp *m, struct err *e)
{
    static const char what[] = "CA answer";
    memset(m, 0, sizeof(*m));
    if (msg_is_object(j, what, e) < 0 ||
        msg_get_str(j, what, "RootCA", MSG_MAX_PEM, true, &m->root_ca, e) < 0)
        return bad(m, sizeof(*m));
    m->doc = json_incref(j);
    return 0;
}
