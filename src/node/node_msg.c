/* node_msg.c — the shapes of the JSON bodies nodes exchange on /swarm-rpc/ (node_rpc.c
 * serves them; node_join.c, node_agent.c, node_certs.c and node_role.c send them and read
 * the answers). Each receiver checks a body here before it reads a field, so a peer —
 * a worker with a valid certificate, or a manager answering a worker — cannot hand it a
 * value of a type it does not expect, an address that is not an IP, a port out of range,
 * or a TLSInfo with fields of its own choosing (the leader stores a worker's TLSInfo in
 * the node object).
 *
 * Invariant: a body that passes node_msg_check has every listed field absent/null or of
 * its listed type, every required field present, and the extra bounds of its kind; the
 * receivers may then read fields with json_string_value/json_integer_value and trust them.
 * Pure functions; any thread. */
#include "node_int.h"

#include <arpa/inet.h>
#include <string.h>

enum ftype { F_STR, F_INT, F_OBJ, F_STRS /* array of strings */ };

struct mfield {
    const char *key;
    enum ftype type;
    bool required;
};

#define END                                                                                        \
    {                                                                                              \
        NULL, F_STR, false                                                                         \
    }

static const struct mfield join_req[] = {
    {"Token", F_STR, true},         {"CSR", F_STR, true},
    {"Addr", F_STR, true},          {"Availability", F_STR, false},
    {"Description", F_OBJ, true},   {"AdvertisePort", F_INT, false},
    {"EtcdPeerPort", F_INT, false}, END};
static const struct mfield join_answer[] = {{"NodeID", F_STR, true},
                                            {"ClusterID", F_STR, true},
                                            {"Role", F_STR, true},
                                            {"Cert", F_STR, true},
                                            {"Managers", F_STRS, false},
                                            {"HeartbeatPeriod", F_INT, false},
                                            {"TrustBundle", F_STR, false},
                                            {"InitialCluster", F_STR, false},
                                            {"UnlockKey", F_STR, false},
                                            {"DEK", F_STR, false},
                                            END};
static const struct mfield beat_req[] = {{"TLSInfo", F_OBJ, false}, END};
static const struct mfield beat_answer[] = {{"HeartbeatPeriod", F_INT, false},
                                            {"Managers", F_STRS, false},
                                            {"Role", F_STR, false},
                                            {"TrustBundle", F_STR, false},
                                            {"SigningRoot", F_STR, false},
                                            {"Leader", F_STR, false},
                                            {"message", F_STR, false},
                                            END};
static const struct mfield csr_req[] = {
    {"CSR", F_STR, true}, {"AdvertisePort", F_INT, false}, {"EtcdPeerPort", F_INT, false}, END};
static const struct mfield cert_answer[] = {{"Cert", F_STR, true}, END};
static const struct mfield ca_answer[] = {{"RootCA", F_STR, true}, END};
static const struct mfield tls_info[] = {{"TrustRoot", F_STR, false},
                                         {"CertIssuerSubject", F_STR, false},
                                         {"CertIssuerPublicKey", F_STR, false},
                                         END};

static const struct mfield *const kinds[NODE_MSG_COUNT] = {
    [NODE_MSG_JOIN_REQ] = join_req,   [NODE_MSG_JOIN_ANSWER] = join_answer,
    [NODE_MSG_BEAT_REQ] = beat_req,   [NODE_MSG_BEAT_ANSWER] = beat_answer,
    [NODE_MSG_RENEW_REQ] = csr_req,   [NODE_MSG_CERT_ANSWER] = cert_answer,
    [NODE_MSG_PROMOTE_REQ] = csr_req, [NODE_MSG_CA_ANSWER] = ca_answer,
};

static const char *const kind_names[NODE_MSG_COUNT] = {
    [NODE_MSG_JOIN_REQ] = "join request",
    [NODE_MSG_JOIN_ANSWER] = "join answer",
    [NODE_MSG_BEAT_REQ] = "heartbeat",
    [NODE_MSG_BEAT_ANSWER] = "heartbeat answer",
    [NODE_MSG_RENEW_REQ] = "renewal request",
    [NODE_MSG_CERT_ANSWER] = "certificate answer",
    [NODE_MSG_PROMOTE_REQ] = "promotion request",
    [NODE_MSG_CA_ANSWER] = "CA answer",
};

static bool type_ok(json_t *v, enum ftype t)
{
    switch (t) {
    case F_STR:
        return json_is_string(v);
    case F_INT:
        return json_is_integer(v);
    case F_OBJ:
        return json_is_object(v);
    case F_STRS: {
        if (!json_is_array(v))
            return false;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (!json_is_string(x))
                return false;
        }
        return true;
    }
    }
    return false;
}

/* only_these: a key outside f is refused too (for objects that are stored as sent). */
static int check_fields(const char *what, json_t *body, const struct mfield *f, bool only_these,
                        struct err *e)
{
    if (!json_is_object(body))
        return err_set(e, ERR_INVALID, "malformed %s: not a JSON object", what);
    for (const struct mfield *g = f; g->key; g++) {
        json_t *v = json_object_get(body, g->key);
        if ((!v || json_is_null(v)) && g->required)
            return err_set(e, ERR_INVALID, "malformed %s: %s is missing", what, g->key);
        if (v && !json_is_null(v) && !type_ok(v, g->type))
            return err_set(e, ERR_INVALID, "malformed %s: %s has the wrong type", what, g->key);
    }
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        bool known = !only_these;
        for (const struct mfield *g = f; !known && g->key; g++)
            known = !strcmp(g->key, k);
        if (!known)
            return err_set(e, ERR_INVALID, "malformed %s: unknown field %s", what, k);
    }
    return 0;
}

static bool port_ok(json_t *body, const char *key)
{
    json_t *v = json_object_get(body, key);
    return !v || json_is_null(v) || (json_integer_value(v) >= 1 && json_integer_value(v) <= 65535);
}

static bool ip_ok(const char *s)
{
    unsigned char tmp[16];
    return s && (inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1);
}

int node_msg_check(enum node_msg_kind k, json_t *body, struct err *e)
{
    BUG_ON(k < 0 || k >= NODE_MSG_COUNT);
    const char *what = kind_names[k];
    if (check_fields(what, body, kinds[k], false, e) < 0)
        return -ERR_INVALID;
    if (!port_ok(body, "AdvertisePort") || !port_ok(body, "EtcdPeerPort"))
        return err_set(e, ERR_INVALID, "malformed %s: port out of range", what);
    json_t *hb = json_object_get(body, "HeartbeatPeriod");
    if (hb && json_integer_value(hb) < 0)
        return err_set(e, ERR_INVALID, "malformed %s: negative HeartbeatPeriod", what);
    switch (k) {
    case NODE_MSG_JOIN_REQ: {
        if (!ip_ok(json_string_value(json_object_get(body, "Addr"))))
            return err_set(e, ERR_INVALID, "malformed %s: Addr is not an IP address", what);
        break;
    }
    case NODE_MSG_JOIN_ANSWER: {
        const char *role = json_string_value(json_object_get(body, "Role"));
        if (!id_valid(json_string_value(json_object_get(body, "NodeID"))) ||
            !id_valid(json_string_value(json_object_get(body, "ClusterID"))) ||
            (strcmp(role, "manager") && strcmp(role, "worker")))
            return err_set(e, ERR_INVALID, "malformed %s: bad identity", what);
        break;
    }
    case NODE_MSG_BEAT_REQ: {
        json_t *tls = json_object_get(body, "TLSInfo");
        if (tls && !json_is_null(tls)) {
            /* the leader stores it as sent: nothing but these strings goes in */
            if (check_fields("heartbeat TLSInfo", tls, tls_info, true, e) < 0)
                return -ERR_INVALID;
        }
        break;
    }
    default:
        break;
    }
    return 0;
}

json_t *node_msg_decode(enum node_msg_kind k, const char *p, size_t n, struct err *e)
{
    json_error_t je;
    json_t *j = json_loadb(p, n, 0, &je);
    if (!j) {
        err_set(e, ERR_INVALID, "malformed %s: %s", kind_names[k], je.text);
        return NULL;
    }
    if (node_msg_check(k, j, e) < 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}
