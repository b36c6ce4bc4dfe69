/* spec_node.c — the node spec (NodeSpec) and the cluster spec (swarm.Spec): their field
 * tables, dockerd's converter checks (NodeSpecToGRPC, SwarmSpecToGRPC), swarmkit's
 * validateClusterSpec, the cluster defaults and the inspect views. Decoding only the known
 * fields is the point: a client that sends extra keys (a stray "version", an ID) gets them
 * dropped, not echoed back in Spec. Pure; any thread. */
#include "spec_tables.h"

#include "ca/ca.h"

#include <stdlib.h>
#include <string.h>

#define RPC_INVALID "rpc error: code = InvalidArgument desc = "

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? xstrdup(v) : NULL;
}

static int enum_index(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(s ? s : "", names[i]))
            return (int)i;
    return -1;
}

/* ---- node ---- */

static const struct spec_field node_f[] = {
    F_STR(struct spec_node, name, "Name", NULL, OE),
    F_MAP(struct spec_node, labels, "Labels", SPEC_EMPTY_OBJ),
    F_STR(struct spec_node, role, "Role", "swarm.NodeRole", OE),
    F_STR(struct spec_node, availability, "Availability", "swarm.NodeAvailability", OE),
};
SPEC_TYPE_PUBLIC(spec_type_node, "NodeSpec", "swarm.NodeSpec", struct spec_node, node_f);

int spec_node_decode(const char *json, size_t n, struct spec_node *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    int rc = spec_decode(&spec_type_node, json, n, out, e);
    if (rc)
        spec_node_release(out);
    return rc;
}

int spec_node_decode_json(json_t *v, struct spec_node *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    int rc = spec_decode_json(&spec_type_node, v, out, e);
    if (rc)
        spec_node_release(out);
    return rc;
}

int spec_node_validate(struct spec_node *n, struct err *e)
{
    static const char *const roles[] = {"worker", "manager"};
    static const char *const avails[] = {"active", "pause", "drain"};
    int r = enum_index(n->role, roles, ARRAY_SIZE(roles));
    if (r < 0)
        return err_set(e, ERR_INVALID, "invalid Role: \"%s\"", n->role ? n->role : "");
    int a = enum_index(n->availability, avails, ARRAY_SIZE(avails));
    if (a < 0)
        return err_set(e, ERR_INVALID, "invalid Availability: \"%s\"",
                       n->availability ? n->availability : "");
    set_str(&n->role, roles[r]);
    set_str(&n->availability, avails[a]);
    return 0;
}

json_t *spec_node_encode(const struct spec_node *n)
{
    return spec_encode(&spec_type_node, n);
}

void spec_node_release(struct spec_node *n)
{
    spec_release(&spec_type_node, n);
}

/* ---- swarm ---- */

typedef __typeof__(((struct spec_swarm *)0)->raft) raft_t;
typedef __typeof__(((struct spec_swarm *)0)->ca) ca_t;

static const struct spec_field driver_f[] = {
    F_STR(struct spec_driver, name, "Name", NULL, OE),
    F_MAP(struct spec_driver, options, "Options", OE),
};
SPEC_TYPE(t_driver, "Driver", "swarm.Driver", struct spec_driver, driver_f);

/* Orchestration, Dispatcher, TaskDefaults and EncryptionConfig keep their one field in the
 * spec_swarm struct itself: size 0, offset 0. */
static const struct spec_field orch_f[] = {
    F_PINT(struct spec_swarm, task_history, has_task_history, "TaskHistoryRetentionLimit", NULL),
};
static const struct spec_type t_orch = {"OrchestrationConfig", "swarm.OrchestrationConfig", 0,
                                        orch_f, ARRAY_SIZE(orch_f)};
static const struct spec_field disp_f[] = {
    F_INT(struct spec_swarm, heartbeat_period, "HeartbeatPeriod", 64, "time.Duration", OE),
};
static const struct spec_type t_disp = {"DispatcherConfig", "swarm.DispatcherConfig", 0, disp_f,
                                        ARRAY_SIZE(disp_f)};
static const struct spec_field taskdef_f[] = {
    F_PSUB(struct spec_swarm, task_log_driver, has_task_log_driver, "LogDriver", t_driver, OE),
};
static const struct spec_type t_taskdef = {"TaskDefaults", "swarm.TaskDefaults", 0, taskdef_f,
                                           ARRAY_SIZE(taskdef_f)};
static const struct spec_field enc_f[] = {
    F_BOOL(struct spec_swarm, autolock, "AutoLockManagers", 0),
};
static const struct spec_type t_enc = {"EncryptionConfig", "swarm.EncryptionConfig", 0, enc_f,
                                       ARRAY_SIZE(enc_f)};

static const struct spec_field raft_f[] = {
    F_UINT(raft_t, snapshot_interval, "SnapshotInterval", 64, NULL, OE),
    F_PUINT(raft_t, keep_old_snapshots, has_keep_old_snapshots, "KeepOldSnapshots"),
    F_UINT(raft_t, log_entries_for_slow_followers, "LogEntriesForSlowFollowers", 64, NULL, OE),
    F_INT(raft_t, election_tick, "ElectionTick", 64, "int", 0),
    F_INT(raft_t, heartbeat_tick, "HeartbeatTick", 64, "int", 0),
};
SPEC_TYPE(t_raft, "RaftConfig", "swarm.RaftConfig", raft_t, raft_f);

static const struct spec_field extca_f[] = {
    F_STR(struct spec_external_ca, protocol, "Protocol", "swarm.ExternalCAProtocol", 0),
    F_STR(struct spec_external_ca, url, "URL", NULL, 0),
    F_MAP(struct spec_external_ca, options, "Options", OE),
    F_STR(struct spec_external_ca, ca_cert, "CACert", NULL, 0),
};
SPEC_TYPE(t_extca, "ExternalCA", "swarm.ExternalCA", struct spec_external_ca, extca_f);

static const struct spec_field ca_f[] = {
    F_INT(ca_t, node_cert_expiry, "NodeCertExpiry", 64, "time.Duration", OE),
    F_LIST(ca_t, external_cas, nexternal_cas, "ExternalCAs", "[]*swarm.ExternalCA", t_extca),
    F_STR(ca_t, signing_ca_cert, "SigningCACert", NULL, OE),
    F_STR(ca_t, signing_ca_key, "SigningCAKey", NULL, OE),
    F_UINT(ca_t, force_rotate, "ForceRotate", 64, NULL, OE),
};
SPEC_TYPE(t_ca, "CAConfig", "swarm.CAConfig", ca_t, ca_f);

static const struct spec_field swarm_f[] = {
    F_STR(struct spec_swarm, name, "Name", NULL, OE),
    F_MAP(struct spec_swarm, labels, "Labels", SPEC_EMPTY_OBJ),
    {"Orchestration", SPEC_STRUCT, 0, NULL, 0, 0, 0, &t_orch},
    F_SUB(struct spec_swarm, raft, "Raft", t_raft),
    {"Dispatcher", SPEC_STRUCT, 0, NULL, 0, 0, 0, &t_disp},
    F_SUB(struct spec_swarm, ca, "CAConfig", t_ca),
    {"TaskDefaults", SPEC_STRUCT, 0, NULL, 0, 0, 0, &t_taskdef},
    {"EncryptionConfig", SPEC_STRUCT, 0, NULL, 0, 0, 0, &t_enc},
};
SPEC_TYPE_PUBLIC(spec_type_swarm, "Spec", "swarm.Spec", struct spec_swarm, swarm_f);

int spec_swarm_decode(const char *json, size_t n, struct spec_swarm *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    int rc = spec_decode(&spec_type_swarm, json, n, out, e);
    if (rc)
        spec_swarm_release(out);
    return rc;
}

int spec_swarm_decode_json(json_t *v, struct spec_swarm *out, struct err *e)
{
    memset(out, 0, sizeof(*out));
    int rc = spec_decode_json(&spec_type_swarm, v, out, e);
    if (rc)
        spec_swarm_release(out);
    return rc;
}

int spec_swarm_validate(struct spec_swarm *s, struct err *e)
{
    for (size_t i = 0; i < s->ca.nexternal_cas; i++) {
        struct spec_external_ca *x = &s->ca.external_cas[i];
        if (strcasecmp(x->protocol ? x->protocol : "", "cfssl"))
            return err_set(e, ERR_INVALID, "invalid protocol: \"%s\"",
                           x->protocol ? x->protocol : "");
        set_str(&x->protocol, "cfssl");
    }
    if (s->ca.node_cert_expiry != 0 && s->ca.node_cert_expiry < 3600LL * 1000000000LL)
        return err_set(e, ERR_INVALID, RPC_INVALID "minimum certificate expiry time is: 1h0m0s");
    if (s->heartbeat_period < 0)
        return err_set(e, ERR_INVALID,
                       RPC_INVALID "heartbeat time period cannot be a negative duration");
    return 0;
}

void spec_swarm_defaults(struct spec_swarm *s)
{
    if (!s->name || !*s->name)
        set_str(&s->name, "default");
    if (!s->has_task_history || !s->task_history) {
        s->has_task_history = true;
        s->task_history = 5;
    }
    if (!s->raft.snapshot_interval)
        s->raft.snapshot_interval = 10000;
    s->raft.has_keep_old_snapshots = true;
    if (!s->raft.log_entries_for_slow_followers)
        s->raft.log_entries_for_slow_followers = 500;
    if (!s->raft.election_tick)
        s->raft.election_tick = 10;
    if (!s->raft.heartbeat_tick)
        s->raft.heartbeat_tick = 1;
    if (!s->heartbeat_period)
        s->heartbeat_period = 5000000000LL;
    if (!s->ca.node_cert_expiry)
        s->ca.node_cert_expiry = CA_NODE_EXPIRY_NS;
}

/* What GET /swarm shows of the spec (dockerd 20.10's SwarmFromGRPC): the signing CA cert
 * and key are write-only, TaskDefaults is not carried, the retention limit and the kept
 * snapshots are always shown. */
json_t *spec_swarm_encode(const struct spec_swarm *s)
{
    struct spec_swarm v;
    spec_copy(&spec_type_swarm, &v, s);
    set_str(&v.ca.signing_ca_cert, NULL);
    set_str(&v.ca.signing_ca_key, NULL);
    spec_release(&t_driver, &v.task_log_driver);
    v.has_task_log_driver = false;
    v.has_task_history = v.raft.has_keep_old_snapshots = true;
    json_t *j = spec_encode(&spec_type_swarm, &v);
    spec_swarm_release(&v);
    return j;
}

void spec_swarm_release(struct spec_swarm *s)
{
    spec_release(&spec_type_swarm, s);
}

/* ---- swarm init / join / unlock requests ---- */

static const struct spec_field init_f[] = {
    F_STR(struct spec_swarm_init, listen_addr, "ListenAddr", NULL, 0),
    F_STR(struct spec_swarm_init, advertise_addr, "AdvertiseAddr", NULL, 0),
    F_STR(struct spec_swarm_init, data_path_addr, "DataPathAddr", NULL, 0),
    F_UINT(struct spec_swarm_init, data_path_port, "DataPathPort", 32, NULL, 0),
    F_BOOL(struct spec_swarm_init, force_new_cluster, "ForceNewCluster", 0),
    F_SUB(struct spec_swarm_init, spec, "Spec", spec_type_swarm),
    F_BOOL(struct spec_swarm_init, autolock, "AutoLockManagers", 0),
    F_STR(struct spec_swarm_init, availability, "Availability", "swarm.NodeAvailability", 0),
    F_STRV(struct spec_swarm_init, default_addr_pool, "DefaultAddrPool", 0),
    F_UINT(struct spec_swarm_init, subnet_size, "SubnetSize", 32, NULL, 0),
};
SPEC_TYPE_PUBLIC(spec_type_swarm_init, "InitRequest", "swarm.InitRequest", struct spec_swarm_init,
                 init_f);

static const struct spec_field join_f[] = {
    F_STR(struct spec_swarm_join, listen_addr, "ListenAddr", NULL, 0),
    F_STR(struct spec_swarm_join, advertise_addr, "AdvertiseAddr", NULL, 0),
    F_STR(struct spec_swarm_join, data_path_addr, "DataPathAddr", NULL, 0),
    F_STRV(struct spec_swarm_join, remote_addrs, "RemoteAddrs", 0),
    F_STR(struct spec_swarm_join, join_token, "JoinToken", NULL, 0),
    F_STR(struct spec_swarm_join, availability, "Availability", "swarm.NodeAvailability", 0),
};
SPEC_TYPE_PUBLIC(spec_type_swarm_join, "JoinRequest", "swarm.JoinRequest", struct spec_swarm_join,
                 join_f);

static const struct spec_field unlock_f[] = {
    F_STR(struct spec_swarm_unlock, unlock_key, "UnlockKey", NULL, 0),
};
SPEC_TYPE_PUBLIC(spec_type_swarm_unlock, "UnlockRequest", "swarm.UnlockRequest",
                 struct spec_swarm_unlock, unlock_f);
