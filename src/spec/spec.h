/* spec.h — object specs (services, nodes, the swarm) as typed C structures, decoded the way
 * dockerd's Go decoder fills its structs, validated with dockerd's and swarmkit's checks and
 * words, defaulted as dockerd stores them, and encoded as `docker ... inspect` shows them.
 *
 * The pieces, for every object kind:
 *   - a field table (struct spec_type) that says, per JSON key, where the value goes in the C
 *     struct and which Go type it has; spec_decode() walks JSON with it as encoding/json
 *     walks a Go struct: keys match case-insensitively (an exact match first), unknown keys
 *     are dropped, null leaves a field as it is (pointers, slices and maps become empty), a
 *     value of the wrong JSON type or out of the Go type's range gives Go's words
 *     ("json: cannot unmarshal number -1 into Go struct field ReplicatedService.Mode.
 *     Replicated.Replicas of type uint64"), kind ERR_INVALID;
 *   - spec_<kind>_validate(): what dockerd's converter and swarmkit's controlapi refuse, in
 *     their words ("rpc error: code = InvalidArgument desc = ..." for swarmkit's);
 *   - spec_<kind>_defaults(): what dockerd writes into the stored spec (a service without a
 *     mode gets 1 replica, a restart policy without a condition gets "any", ...);
 *   - spec_<kind>_encode(): the JSON inspect shows, with Go's omitempty rules, so that what
 *     inspect shows is exactly what was understood.
 *
 * Everything here is pure (no I/O, no clock; randomness only for a generated service name)
 * and may run on any thread. Strings in the structs are heap copies owned by the struct;
 * the *_free / spec_release functions free them. */
#ifndef SHOAL_SPEC_H
#define SHOAL_SPEC_H

#include "base/base.h"
#include "manager/orchestrator/orch.h"
#include "manager/scheduler/sched.h"

#include <jansson.h>
#include <stddef.h>

/* ---- generic containers ---- */
struct spec_strv { /* Go []string */
    char **v;
    size_t n;
};
struct spec_kv {
    char *key, *value;
};
struct spec_map { /* Go map[string]string: sorted by key, keys unique (later JSON keys win) */
    struct spec_kv *v;
    size_t n;
};
/* The value for key, NULL if absent. */
const char *spec_map_get(const struct spec_map *m, const char *key);

/* ---- the table-driven decoder (spec_decode.c) ---- */
enum spec_kind {
    SPEC_STR,    /* char * (NULL when absent; "" is kept as "") */
    SPEC_BOOL,   /* bool */
    SPEC_INT,    /* int64_t, range of a Go intN with N = bits (time.Duration is int64) */
    SPEC_UINT,   /* uint64_t, range of a Go uintN */
    SPEC_FLOAT,  /* double, Go float32 (bits 32) or float64 */
    SPEC_STRV,   /* struct spec_strv */
    SPEC_MAP,    /* struct spec_map */
    SPEC_STRUCT, /* a nested struct stored inline; with SPEC_PTR a Go pointer to struct */
    SPEC_LIST,   /* a Go slice of structs: a heap array at off, its length (size_t) at aux */
    SPEC_RAW,    /* char *: the value's JSON text, kept as it came (Go json.RawMessage) */
};
enum {
    SPEC_OMITEMPTY = 1, /* `json:",omitempty"`: encode skips the zero value */
    SPEC_PTR = 2,       /* a Go pointer: a bool at aux says whether it is set (encode: nil) */
    SPEC_EMPTY_OBJ = 4, /* a map encoded as {} rather than null when empty */
    SPEC_RAW_OBJ = 8,   /* SPEC_RAW of a Go struct type: anything but an object is an error */
};

struct spec_type;
struct spec_field {
    const char *name; /* the JSON key (Go field name or its json tag) */
    enum spec_kind kind;
    size_t off;
    const char *gotype; /* as Go prints it; NULL: "string", "bool", "[]string", ... */
    unsigned bits;      /* SPEC_INT, SPEC_UINT, SPEC_FLOAT */
    unsigned flags;
    size_t aux;                  /* SPEC_PTR: offset of the bool; SPEC_LIST: of the count */
    const struct spec_type *sub; /* SPEC_STRUCT, SPEC_LIST */
};
struct spec_type {
    const char *name;   /* Go struct name, as in error messages: "ContainerSpec" */
    const char *gotype; /* package-qualified: "swarm.ContainerSpec" */
    size_t size;
    const struct spec_field *fields; /* in Go's field order (the encoding order) */
    size_t nfields;
};

/* Decodes one JSON value (the raw bytes p[0..n), as Go's json.Decoder reads them: only the
 * first value counts) into *obj, which must be zeroed or hold a previous decode of the same
 * type (Go merges into existing values). Syntax errors and type errors in Go's words, kind
 * ERR_INVALID; on error obj holds what was decoded so far (release it either way). */
int spec_decode(const struct spec_type *t, const char *p, size_t n, void *obj, struct err *e);
/* The same from a jansson value (dumped and re-read, so number literals are canonical). */
int spec_decode_json(const struct spec_type *t, json_t *v, void *obj, struct err *e);
/* Encodes obj with Go's rules (field order, omitempty, nil pointers as null). */
json_t *spec_encode(const struct spec_type *t, const void *obj);
/* Frees what obj owns (not obj itself) and zeroes it. */
void spec_release(const struct spec_type *t, void *obj);
/* Deep copy of src into dst (dst is overwritten, not released). */
void spec_copy(const struct spec_type *t, void *dst, const void *src);

/* ---- service spec (Engine API ServiceSpec, as types/swarm in dockerd 20.10) ---- */
struct spec_driver {
    char *name;
    struct spec_map options;
};
struct spec_mount {
    char *type; /* bind | volume | tmpfs | npipe (any case on input) */
    char *source, *target;
    bool read_only;
    char *consistency; /* not kept by dockerd: defaults drop it */
    bool has_bind;
    struct {
        char *propagation;
        bool non_recursive;
    } bind;
    bool has_volume;
    struct {
        bool no_copy;
        struct spec_map labels;
        bool has_driver;
        struct spec_driver driver;
    } volume;
    bool has_tmpfs;
    struct {
        int64_t size_bytes;
        uint64_t mode;
    } tmpfs;
};
struct spec_file_target {
    char *name, *uid, *gid;
    uint64_t mode;
};
struct spec_secret_ref {
    bool has_file;
    struct spec_file_target file;
    char *secret_id, *secret_name;
};
struct spec_config_ref {
    bool has_file;
    struct spec_file_target file;
    bool has_runtime;
    char *config_id, *config_name;
};
struct spec_ulimit {
    char *name;
    int64_t hard, soft;
};
struct spec_health {
    struct spec_strv test;
    int64_t interval, timeout, start_period, start_interval; /* ns */
    int64_t retries;                                         /* Go int */
};
struct spec_container {
    char *image;
    struct spec_map labels;
    struct spec_strv command, args;
    char *hostname;
    struct spec_strv env;
    char *dir, *user;
    struct spec_strv groups;
    bool has_privileges;
    struct {
        bool has_credential_spec;
        struct {
            char *config, *file, *registry;
        } credential_spec;
        bool has_selinux;
        struct {
            bool disable;
            char *user, *role, *type, *level;
        } selinux;
    } privileges;
    bool has_init, init;
    char *stop_signal;
    bool tty, open_stdin, read_only;
    struct spec_mount *mounts;
    size_t nmounts;
    bool has_stop_grace_period;
    int64_t stop_grace_period;
    bool has_healthcheck;
    struct spec_health healthcheck;
    struct spec_strv hosts;
    bool has_dns;
    struct {
        struct spec_strv nameservers, search, options;
    } dns;
    struct spec_secret_ref *secrets;
    size_t nsecrets;
    struct spec_config_ref *configs;
    size_t nconfigs;
    char *isolation;
    struct spec_map sysctls;
    struct spec_strv cap_add, cap_drop;
    struct spec_ulimit *ulimits;
    size_t nulimits;
};
struct spec_generic_resource {
    bool has_named;
    struct {
        char *kind, *value;
    } named;
    bool has_discrete;
    struct {
        char *kind;
        int64_t value;
    } discrete;
};
struct spec_resources {
    bool has_limits;
    struct {
        int64_t nano_cpus, memory_bytes, pids;
    } limits;
    bool has_reservations;
    struct {
        int64_t nano_cpus, memory_bytes;
        struct spec_generic_resource *generic;
        size_t ngeneric;
    } reservations;
};
struct spec_restart {
    char *condition; /* none | on-failure | any */
    bool has_delay;
    int64_t delay;
    bool has_max_attempts;
    uint64_t max_attempts;
    bool has_window;
    int64_t window;
};
struct spec_pref {
    bool has_spread;
    char *spread_descriptor;
};
struct spec_platform {
    char *architecture, *os;
};
struct spec_placement {
    struct spec_strv constraints;
    struct spec_pref *prefs;
    size_t nprefs;
    uint64_t max_replicas;
    struct spec_platform *platforms;
    size_t nplatforms;
};
struct spec_network {
    char *target;
    struct spec_strv aliases;
    struct spec_map driver_opts;
};
struct spec_task {
    bool has_container;
    struct spec_container container;
    char *plugin_spec; /* raw JSON; plugins are not supported (validate refuses them) */
    char *attachment_spec;
    bool has_resources;
    struct spec_resources resources;
    bool has_restart;
    struct spec_restart restart;
    bool has_placement;
    struct spec_placement placement;
    struct spec_network *networks;
    size_t nnetworks;
    bool has_log_driver;
    struct spec_driver log_driver;
    uint64_t force_update;
    char *runtime; /* "" | container (plugin, attachment: refused) */
};
struct spec_update {
    uint64_t parallelism;
    int64_t delay, monitor;
    char *failure_action; /* pause | continue | rollback */
    double max_failure_ratio;
    char *order; /* stop-first | start-first */
};
struct spec_port {
    char *name, *protocol; /* tcp | udp | sctp */
    uint64_t target_port, published_port;
    char *publish_mode; /* ingress | host */
};
struct spec_service {
    char *name;
    struct spec_map labels;
    struct spec_task task;
    struct {
        bool has_replicated;
        bool has_replicas;
        uint64_t replicas;
        bool has_global;
        bool has_replicated_job;
        bool has_max_concurrent;
        uint64_t max_concurrent;
        bool has_total_completions;
        uint64_t total_completions;
        bool has_global_job;
    } mode;
    bool has_update;
    struct spec_update update;
    bool has_rollback;
    struct spec_update rollback;
    struct spec_network *networks; /* deprecated top-level Networks */
    size_t nnetworks;
    bool has_endpoint;
    struct {
        char *mode; /* vip | dnsrr */
        struct spec_port *ports;
        size_t nports;
    } endpoint;
};
extern const struct spec_type spec_type_service;

/* Decodes a ServiceSpec from raw bytes (any bytes: safe to fuzz). On success *out is a new
 * spec (free with spec_service_free); on error *out is NULL and e has Go's words. Only
 * decoding: call spec_service_validate and spec_service_defaults next. */
int spec_service_decode(const char *json, size_t n, struct spec_service **out, struct err *e);
int spec_service_decode_json(json_t *v, struct spec_service **out, struct err *e);
void spec_service_free(struct spec_service *s); /* NULL is a no-op */
struct spec_service *spec_service_dup(const struct spec_service *s);

/* The whole way of a create or update body, as dockerd 20.10 takes it: decode, strip what
 * the client's API version (major.minor, 0.0 for unversioned paths: nothing stripped)
 * predates, validate, fill dockerd's defaults. On success *out is the spec to store; on
 * error nothing is allocated and e has Docker's words and kind. */
int spec_service_prepare(const char *json, size_t n, int api_major, int api_minor,
                         struct spec_service **out, struct err *e);

/* What dockerd (its converter) and swarmkit (controlapi) refuse in a service spec, checked
 * in their order, with their words and kinds: ERR_INVALID (400) for most; ERR_INTERNAL
 * (500) for a bad constraint, which swarmkit returns as "rpc error: code = Unknown desc =
 * ...". Call before spec_service_defaults (an unnamed service is fine here: defaults names
 * it). */
int spec_service_validate(const struct spec_service *s, struct err *e);

/* Fills what dockerd stores for a created or updated service: a generated name if none;
 * mode Replicated with 1 replica if none (and replicas 1 when Replicated has none); job
 * defaults (MaxConcurrent 1, TotalCompletions = MaxConcurrent); restart condition "any",
 * MaxAttempts 0; update/rollback FailureAction "pause", Order "stop-first"; endpoint mode
 * "vip", port protocol "tcp", publish mode "ingress" (unknown values become those, as the
 * protobuf enums do); mount type "bind", lower-cased enums, bind options only when set,
 * Consistency dropped; Isolation "default"; Runtime "container"; placement preferences
 * without Spread dropped. Call on a validated spec. */
void spec_service_defaults(struct spec_service *s);

/* What ?insertDefaults=true adds on top (swarmkit's api/defaults.InterpolateService, for
 * each part left unset): StopGracePeriod 10 s, DNSConfig {}, Resources {}, restart {any,
 * 0 attempts} and a restart Delay of 5 s, Placement {}, update and rollback {1, pause, 0,
 * stop-first} and their Monitor 5 s when zero. No EndpointSpec: swarmkit has no default. */
void spec_service_insert_defaults(struct spec_service *s);

/* What dockerd 20.10's router strips for older clients before anything else (its
 * adjustForAPIVersion): below API 1.40 Sysctls, CredentialSpec.Config, config Runtime
 * targets and MaxReplicas; below 1.41 capabilities, ulimits, Pids and the job modes. */
void spec_service_adjust_for_version(struct spec_service *s, int major, int minor);

/* What dockerd's executor checks when a task of this spec reaches its node (the task is
 * then rejected with these words as its Err): mount targets absolute (npipe aside), bind
 * sources absolute, volume sources not, tmpfs without a source, npipe with one. Call on a
 * spec that went through spec_service_defaults. ERR_INVALID. */
int spec_container_check_task(const struct spec_container *c, struct err *e);

/* swarmkit's UpdateService checks between the stored spec and the new one (both already
 * through spec_service_defaults, so an unnamed update carries a generated name and is a
 * rename, as in dockerd): top-level Networks changed alone, a mode change, a rename; all
 * "rpc error: code = Unimplemented desc = ...", ERR_NOT_IMPLEMENTED (501). */
int spec_service_check_update(const struct spec_service *cur, const struct spec_service *next,
                              struct err *e);

/* The Spec object `docker service inspect` shows. Caller owns the result. */
json_t *spec_service_encode(const struct spec_service *s);

/* ---- views for the manager ---- */
/* The scheduler's inputs for the tasks of this service (see struct sched_group): borrowed
 * pointers into s, except the parsed constraints, ports, platforms and prefs, which the
 * view owns (spec_placement_view_release). service_id is left NULL for the caller. */
struct spec_placement_view {
    struct sched_group group;
    struct sched_constraint *constraints;
    struct sched_platform *platforms;
    struct sched_port *ports;
    const char **prefs;
};
int spec_placement_view(const struct spec_service *s, struct spec_placement_view *v, struct err *e);
void spec_placement_view_release(struct spec_placement_view *v);
/* The restart policy as the orchestrator reads it (defaults: any, 5 s, unlimited, no
 * window), and the mode (replicated with its replicas, or global). */
void spec_restart_view(const struct spec_service *s, struct orch_restart *out);
void spec_mode_view(const struct spec_service *s, enum orch_mode *mode, uint64_t *replicas);

/* ---- node spec (NodeSpec) ---- */
struct spec_node {
    char *name;
    struct spec_map labels;
    char *role;         /* worker | manager */
    char *availability; /* active | pause | drain */
};
extern const struct spec_type spec_type_node;
int spec_node_decode(const char *json, size_t n, struct spec_node *out, struct err *e);
int spec_node_decode_json(json_t *v, struct spec_node *out, struct err *e);
/* dockerd's NodeSpecToGRPC: Role and Availability are matched case-insensitively and must
 * be known (`invalid Role: "x"`, `invalid Availability: "x"`, also for ""), then lower-cased. */
int spec_node_validate(struct spec_node *n, struct err *e);
json_t *spec_node_encode(const struct spec_node *n); /* Labels always an object */
void spec_node_release(struct spec_node *n);

/* ---- swarm (cluster) spec (swarm.Spec) ---- */
struct spec_external_ca {
    char *protocol, *url;
    struct spec_map options;
    char *ca_cert;
};
struct spec_swarm {
    char *name;
    struct spec_map labels;
    bool has_task_history;
    int64_t task_history; /* Orchestration.TaskHistoryRetentionLimit */
    struct {
        uint64_t snapshot_interval;
        bool has_keep_old_snapshots;
        uint64_t keep_old_snapshots;
        uint64_t log_entries_for_slow_followers;
        int64_t election_tick, heartbeat_tick;
    } raft;
    int64_t heartbeat_period; /* Dispatcher, ns */
    struct {
        int64_t node_cert_expiry;
        struct spec_external_ca *external_cas;
        size_t nexternal_cas;
        char *signing_ca_cert, *signing_ca_key;
        uint64_t force_rotate;
    } ca;
    bool has_task_log_driver;
    struct spec_driver task_log_driver; /* TaskDefaults.LogDriver */
    bool autolock;                      /* EncryptionConfig.AutoLockManagers */
};
extern const struct spec_type spec_type_swarm;
int spec_swarm_decode(const char *json, size_t n, struct spec_swarm *out, struct err *e);
int spec_swarm_decode_json(json_t *v, struct spec_swarm *out, struct err *e);
/* swarmkit's validateClusterSpec and dockerd's converter: heartbeat period not negative,
 * cert expiry (when set) at least 1 h, external CA protocol known (`invalid protocol:
 * "x"`, lower-cased after). */
int spec_swarm_validate(struct spec_swarm *s, struct err *e);
/* The values swarmkit gives a new cluster where the spec leaves zeros: name "default",
 * task history 5, snapshot interval 10000, 500 log entries for slow followers, election
 * tick 10, heartbeat tick 1, dispatcher heartbeat 5 s, node cert expiry 90 days. */
void spec_swarm_defaults(struct spec_swarm *s);
json_t *spec_swarm_encode(const struct spec_swarm *s);
void spec_swarm_release(struct spec_swarm *s);

/* The bodies of POST /swarm/init, /swarm/join and /swarm/unlock (swarm.InitRequest,
 * JoinRequest, UnlockRequest), for spec_decode / spec_release: type errors in Go's words
 * ("json: cannot unmarshal number into Go struct field InitRequest.ListenAddr of type
 * string", "... RaftConfig.Spec.Raft.SnapshotInterval ..."); the checks of their values
 * stay with the node module. */
struct spec_swarm_init {
    char *listen_addr, *advertise_addr, *data_path_addr;
    uint64_t data_path_port; /* uint32 */
    bool force_new_cluster;
    struct spec_swarm spec;
    bool autolock;
    char *availability;
    struct spec_strv default_addr_pool;
    uint64_t subnet_size; /* uint32 */
};
extern const struct spec_type spec_type_swarm_init;
struct spec_swarm_join {
    char *listen_addr, *advertise_addr, *data_path_addr;
    struct spec_strv remote_addrs;
    char *join_token, *availability;
};
extern const struct spec_type spec_type_swarm_join;
struct spec_swarm_unlock {
    char *unlock_key;
};
extern const struct spec_type spec_type_swarm_unlock;

/* A byte as Go's scanner quotes it in a syntax error ("invalid character 'x' ..."): 'x',
 * '\'', '"', '\n', '\x01' for control bytes, '\ufffd' for a stray byte >= 0x80. Shared by
 * this module's reader and the API's body decoder. */
void spec_go_quote_byte(unsigned char c, char out[16]);

#endif
