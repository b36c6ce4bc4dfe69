/* api_int.h — private to src/api/: the request context handlers get, response helpers,
 * and the per-resource handler tables. */
#ifndef SHOAL_API_INT_H
#define SHOAL_API_INT_H

#include "api.h"
#include "store/store.h"

#include <jansson.h>

struct api_events;
struct api_filters;
struct api_image_wait;

struct api {
    uv_loop_t *loop;
    struct node *node;
    struct api_config cfg;
    struct http_server *http;
    struct api_events *events;
    int64_t started_ns;
    /* image changes run one at a time (the helper process and the store's files): */
    struct image_job *image_job;          /* the helper running, or NULL */
    struct api_image_wait *image_waiting; /* requests queued behind it, oldest first */
    bool image_draining;                  /* run_waiting is calling queued handlers */
    bool closing;
    void (*images_closed)(struct api *a); /* api_images_close's cb, once the helper ended */
    void (*close_cb)(void *data);
    void *close_data;
};

#define API_MAX_PARAMS 2

/* One request as a handler sees it. */
struct api_req {
    struct api *api;
    struct http_req *http;
    const char *params[API_MAX_PARAMS]; /* {id}-style path segments, percent-decoded */
    int vmajor, vminor;                 /* the path's /vX.Y (0.0 when unversioned) */
    char *param_store;
};

typedef void (*api_handler)(struct api_req *r);

struct api_route {
    const char *method;
    const char *pattern; /* "/nodes/{id}/update"; {x*} spans slashes ("/images/{name*}/json") */
    api_handler fn;
};

/* Route tables, one per resource file. Each ends with {NULL}. */
extern const struct api_route api_system_routes[];
extern const struct api_route api_swarm_routes[];
extern const struct api_route api_node_routes[];
extern const struct api_route api_task_routes[];
extern const struct api_route api_service_routes[];
extern const struct api_route api_volume_routes[];
extern const struct api_route api_network_routes[];
extern const struct api_route api_plugin_routes[];
extern const struct api_route api_secret_routes[];

/* ---- networks (api_networks.c): the pure parts ---- */
/* runconfig.IsPreDefinedNetwork: "bridge", "host", "none", "default" (type=builtin). */
bool api_network_predefined(const char *name);
/* Docker's NetworkResource of a local network: Scope "local", IPAM driver "default" with
 * ipam_config (an array, [] when NULL), options and containers ({} when NULL), Labels {}.
 * Takes the references it is given. */
json_t *api_network_json(const char *name, const char *id, int64_t created_ns, const char *driver,
                         json_t *ipam_config, json_t *options, json_t *containers);
/* Filters of GET /networks as dockerd checks them: keys dangling, driver, id, label, name,
 * scope, type ("Invalid filter 'x'", 400); dangling one value of 1, true, 0, false (400 with
 * dockerd's words); type builtin or custom (500 "invalid filter: 'type'='x'", as dockerd
 * 20.10 answers it). */
int api_network_filters_check(const struct api_filters *f, struct err *e);
/* The networks of nets (an array of NetworkResource objects) that checked filters keep, as
 * dockerd's FilterNetworks: driver and scope exact, name and id exact or a regular
 * expression found in them, label as everywhere, dangling (not predefined and no
 * containers), type (builtin: predefined names). A new array of the same objects. */
json_t *api_networks_filter(json_t *nets, const struct api_filters *f);
/* The network ref names, as dockerd's getNetwork finds it: the full ID, else the full name,
 * else a unique ID prefix; a non-empty scope keeps only networks of that scope. Borrowed from
 * nets; NULL with e: 404 "network <ref> not found", 400 "<n> matches found based on ID
 * prefix: network <ref> is ambiguous" (or "based on name"). */
json_t *api_network_find(json_t *nets, const char *ref, const char *scope, struct err *e);

/* ---- plugins (api_plugins.c): the pure part ---- */
/* Filters of GET /plugins: keys capability, enabled ("Invalid filter 'x'"); enabled must
 * have true or false among its values ("Invalid filter 'enabled=[x]'"). */
int api_plugin_filters_check(const struct api_filters *f, struct err *e);

/* ---- volumes (api_volumes.c): the pure parts ---- */
/* Filters of GET /volumes: keys name, driver, label, dangling ("Invalid filter 'x'"); dangling
 * true, 1, false or 0 ("Invalid filter 'dangling=[x]'"). */
int api_volume_filters_check(const struct api_filters *f, struct err *e);
/* vol (Docker's Volume object) used by `users` containers against checked filters: name= a
 * substring of the name, driver= the driver, label= as everywhere, dangling= no users. */
bool api_volume_filters_match(const struct api_filters *f, json_t *vol, size_t users);
/* Filters of POST /volumes/prune: label, label!, all (a Go bool); *all says whether named
 * volumes are pruned too. */
int api_volume_prune_check(const struct api_filters *f, bool *all, struct err *e);
/* Whether prune removes vol: unused, anonymous unless all, label= matched, label! not. */
bool api_volume_prune_match(const struct api_filters *f, bool all, json_t *vol, bool anonymous,
                            size_t users);

/* ---- services (api_services.c): the pure parts ---- */
/* ServiceStatus as dockerd computes it for GET /services?status=true, from the tasks (an
 * array of task objects, any services): Running = tasks in state running, Completed = in
 * state complete, among the tasks desired running or complete; Desired = Replicas
 * (replicated), MaxConcurrent (replicated job), or the tasks desired running (global modes). */
struct api_service_status {
    uint64_t running, desired, completed;
};
void api_service_status_count(json_t *svc, json_t *tasks, struct api_service_status *out);
/* Filters of GET /services: keys id, label, mode, name ("Invalid filter 'x'"); mode values
 * replicated, global, replicated-job, global-job ("Invalid filter: 'mode'='x'"). */
int api_service_filters_check(const struct api_filters *f, struct err *e);
/* id: ID prefix; name: name prefix; label: Spec.Labels; mode. */
bool api_service_filters_match(const struct api_filters *f, json_t *svc);
extern const struct api_route api_log_routes[];
extern const struct api_route api_image_routes[];
extern const struct api_route api_container_routes[];

/* ---- responses (each ends the request and frees r) ---- */
/* Sends body (takes the reference) as JSON with a trailing newline. */
void api_reply_json(struct api_req *r, int status, json_t *body);
/* Sends {"message": e->msg} with e's status. */
void api_reply_err(struct api_req *r, const struct err *e);
void api_reply_error(struct api_req *r, int kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Empty body with Content-Length: 0 and no Content-Type. */
void api_reply_empty(struct api_req *r, int status);
/* A node_done_cb for writes that answer 200 with an empty body (data is the api_req). */
void api_done_empty(void *data, int rc, struct err *e);
/* Ends r after a streaming answer was completed by the handler. */
void api_req_free(struct api_req *r);

/* ---- request helpers ---- */
/* Decodes the first JSON value of p[0..n) as Go's json.Decoder does, with its error words
 * (400); an empty body is "got EOF while reading request body". New reference or NULL. */
json_t *api_json_decode(const char *p, size_t n, struct err *e);
/* api_json_decode of the request body. */
json_t *api_body_json(struct api_req *r, struct err *e);
/* A query flag as dockerd's httputils.BoolValue reads it (force=): trimmed, any case; only
 * "", "0", "no", "false" and "none" are false. api_bool_value is the pure part. */
bool api_query_bool(struct api_req *r, const char *key);
bool api_bool_value(const char *v);
/* A query flag dockerd reads with strconv.ParseBool (rotateWorkerToken=): absent or empty is
 * false; anything ParseBool refuses is 400 "invalid value for <key>: <v>". */
int api_query_parse_bool(struct api_req *r, const char *key, bool *out, struct err *e);
/* Appends s quoted as Go's strconv.Quote (%q) writes it: in double quotes, `"` and `\`
 * escaped, control bytes as \n or \xNN, stray non-UTF-8 bytes as \xNN. */
void api_go_quote(const char *s, struct buf *out);
/* ?version= as Docker parses it; fills e with Docker's message on failure. */
int api_query_version(struct api_req *r, const char *what, uint64_t *version, struct err *e);

/* ---- filters: ?filters={"key":{"value":true}} or {"key":["value"]} ---- */
struct api_filters {
    json_t *map; /* key → array of strings */
};
/* Decodes a ?filters= value (raw[0..n), n may be 0) as moby's filters.FromJSON; on failure
 * 400 "invalid filter". f->map is set either way (release it with api_filters_release). */
int api_filters_decode(const char *raw, size_t n, struct api_filters *f, struct err *e);
/* api_filters_decode of the request's ?filters=. */
int api_filters_parse(struct api_req *r, struct api_filters *f, struct err *e);
void api_filters_release(struct api_filters *f);
/* Refuses keys outside `allowed` (NULL-terminated) with Docker's "Invalid filter 'x'". */
int api_filters_validate(const struct api_filters *f, const char *const *allowed, struct err *e);
/* Values for key (borrowed array), or NULL if the filter is not set. */
json_t *api_filters_get(const struct api_filters *f, const char *key);
/* A filter's values (from api_filters_get) against s: true when vals is NULL (the filter
 * is not set) or one of them is a prefix of s (ID and name filters). */
bool api_filter_any_prefix(json_t *vals, const char *s);
/* Label filter: every "k" or "k=v" value of filter `key` matches labels (an object). */
bool api_filters_match_labels(const struct api_filters *f, const char *key, json_t *labels);

/* ---- tasks (api_tasks.c) ---- */
/* A task's name as swarmkit's naming.Task gives it (the name filter matches its prefix):
 * <service name>.<slot>.<task ID>, or <service name>.<node ID>.<task ID> for global modes.
 * Caller frees. */
char *api_task_name(struct store *st, json_t *task);
/* The `_up-to-date` filter: the task's Spec is its service's current Spec.TaskTemplate. */
bool api_task_up_to_date(struct store *st, json_t *task);
/* ---- images (api_images.c) ---- */
/* At close: answers queued image requests and kills a running helper; then calls cb(a)
 * (at once when no helper runs, else once it has ended). */
void api_images_close(struct api *a, void (*cb)(struct api *a));

/* ---- containers (api_containers.c): pure helpers ---- */
/* go-units' HumanDuration ("Less than a second", "3 seconds", "About a minute", ...). */
void api_human_duration(int64_t ns, char *out, size_t cap);
/* `docker ps`'s Status: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created". */
void api_container_status_text(const struct exec_state *st, enum exec_health_status health,
                               int64_t now_ns, char *out, size_t cap);
/* From the facts the adapter kept (meta.json "extra": "network", "config", "port_bindings"),
 * each a new object. NetworkSettings as dockerd shows a task container on one bridge
 * network: the node network's entry (NET_NETWORK_NAME) and the top-level copy of its address
 * (Docker's DefaultNetworkSettings, kept for the node network), Ports {"8080/tcp": [{"HostIp":
 * "0.0.0.0", "HostPort": "18080"}]} with exposed but unpublished ports null; a container that is
 * not running has released them, as dockerd's: Ports {}, no sandbox, the entry keeps only its
 * NetworkID. */
json_t *api_container_net_settings(const json_t *extra, bool running);
/* `docker ps`: the item's Ports ([{IP, PrivatePort, PublicPort, Type}], exposed only:
 * {PrivatePort, Type}; none unless running) and NetworkSettings ({"Networks": ...}). */
json_t *api_container_list_ports(const json_t *extra, bool running);
json_t *api_container_list_net(const json_t *extra, bool running);
/* HostConfig.PortBindings. */
json_t *api_container_port_bindings(const json_t *extra);

/* ---- events (api_events.c) ---- */
struct api_events *api_events_new(struct api *a);
void api_events_free(struct api_events *ev);
/* Ends every open event stream (daemon shutdown). */
void api_events_close_streams(struct api_events *ev);
/* Publishes one event: Type, Action, Actor ID, attributes (taken), scope. */
void api_events_publish(struct api_events *ev, const char *type, const char *action,
                        const char *actor_id, json_t *attrs, const char *scope);
void api_events_handle(struct api_req *r);
/* A since/until value as dockerd takes it ("seconds[.fraction]"; shoal also takes RFC 3339)
 * into nanoseconds; outside int64 nanoseconds or malformed → 400 naming key. */
int api_events_parse_time(const char *key, const char *s, int64_t *ns, struct err *e);

#endif
