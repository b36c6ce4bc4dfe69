/* spec_service_tables.c — the field tables of the service spec: every struct of dockerd
 * 20.10's types/swarm ServiceSpec (and mount.Mount, container.HealthConfig, units.Ulimit),
 * keys in Go's field order, Go type names as Go's errors print them. Data only. */
#include "spec_tables.h"

#define MEMBER_T(S, m) __typeof__(((S *)0)->m)

typedef MEMBER_T(struct spec_mount, bind) mount_bind_t;
typedef MEMBER_T(struct spec_mount, volume) mount_volume_t;
typedef MEMBER_T(struct spec_mount, tmpfs) mount_tmpfs_t;
typedef MEMBER_T(struct spec_container, privileges) priv_t;
typedef MEMBER_T(priv_t, credential_spec) credspec_t;
typedef MEMBER_T(priv_t, selinux) selinux_t;
typedef MEMBER_T(struct spec_container, dns) dns_t;
typedef MEMBER_T(struct spec_generic_resource, named) named_res_t;
typedef MEMBER_T(struct spec_generic_resource, discrete) discrete_res_t;
typedef MEMBER_T(struct spec_resources, limits) limits_t;
typedef MEMBER_T(struct spec_resources, reservations) reservations_t;
typedef MEMBER_T(struct spec_service, mode) mode_t_;
typedef MEMBER_T(struct spec_service, endpoint) endpoint_t;

static const struct spec_field driver_f[] = {
    F_STR(struct spec_driver, name, "Name", NULL, OE),
    F_MAP(struct spec_driver, options, "Options", OE),
};
SPEC_TYPE(t_driver, "Driver", "swarm.Driver", struct spec_driver, driver_f);
SPEC_TYPE(t_mount_driver, "Driver", "mount.Driver", struct spec_driver, driver_f);

static const struct spec_field bind_f[] = {
    F_STR(mount_bind_t, propagation, "Propagation", "mount.Propagation", OE),
    F_BOOL(mount_bind_t, non_recursive, "NonRecursive", OE),
};
SPEC_TYPE(t_bind, "BindOptions", "mount.BindOptions", mount_bind_t, bind_f);

static const struct spec_field volume_f[] = {
    F_BOOL(mount_volume_t, no_copy, "NoCopy", OE),
    F_MAP(mount_volume_t, labels, "Labels", OE),
    F_PSUB(mount_volume_t, driver, has_driver, "DriverConfig", t_mount_driver, OE),
};
SPEC_TYPE(t_volume, "VolumeOptions", "mount.VolumeOptions", mount_volume_t, volume_f);

static const struct spec_field tmpfs_f[] = {
    F_INT(mount_tmpfs_t, size_bytes, "SizeBytes", 64, NULL, OE),
    F_UINT(mount_tmpfs_t, mode, "Mode", 32, "fs.FileMode", OE),
};
SPEC_TYPE(t_tmpfs, "TmpfsOptions", "mount.TmpfsOptions", mount_tmpfs_t, tmpfs_f);

static const struct spec_field mount_f[] = {
    F_STR(struct spec_mount, type, "Type", "mount.Type", OE),
    F_STR(struct spec_mount, source, "Source", NULL, OE),
    F_STR(struct spec_mount, target, "Target", NULL, OE),
    F_BOOL(struct spec_mount, read_only, "ReadOnly", OE),
    F_STR(struct spec_mount, consistency, "Consistency", "mount.Consistency", OE),
    F_PSUB(struct spec_mount, bind, has_bind, "BindOptions", t_bind, OE),
    F_PSUB(struct spec_mount, volume, has_volume, "VolumeOptions", t_volume, OE),
    F_PSUB(struct spec_mount, tmpfs, has_tmpfs, "TmpfsOptions", t_tmpfs, OE),
};
SPEC_TYPE(t_mount, "Mount", "mount.Mount", struct spec_mount, mount_f);

static const struct spec_field file_f[] = {
    F_STR(struct spec_file_target, name, "Name", NULL, 0),
    F_STR(struct spec_file_target, uid, "UID", NULL, 0),
    F_STR(struct spec_file_target, gid, "GID", NULL, 0),
    F_UINT(struct spec_file_target, mode, "Mode", 32, "fs.FileMode", 0),
};
SPEC_TYPE(t_secret_file, "SecretReferenceFileTarget", "swarm.SecretReferenceFileTarget",
          struct spec_file_target, file_f);
SPEC_TYPE(t_config_file, "ConfigReferenceFileTarget", "swarm.ConfigReferenceFileTarget",
          struct spec_file_target, file_f);
static const struct spec_type t_config_runtime = {"ConfigReferenceRuntimeTarget",
                                                  "swarm.ConfigReferenceRuntimeTarget", 0, NULL, 0};

static const struct spec_field secret_f[] = {
    F_PSUB(struct spec_secret_ref, file, has_file, "File", t_secret_file, 0),
    F_STR(struct spec_secret_ref, secret_id, "SecretID", NULL, 0),
    F_STR(struct spec_secret_ref, secret_name, "SecretName", NULL, 0),
};
SPEC_TYPE(t_secret, "SecretReference", "swarm.SecretReference", struct spec_secret_ref, secret_f);

static const struct spec_field config_f[] = {
    F_PSUB(struct spec_config_ref, file, has_file, "File", t_config_file, OE),
    {"Runtime", SPEC_STRUCT, offsetof(struct spec_config_ref, has_runtime), NULL, 0, SPEC_PTR | OE,
     offsetof(struct spec_config_ref, has_runtime), &t_config_runtime},
    F_STR(struct spec_config_ref, config_id, "ConfigID", NULL, 0),
    F_STR(struct spec_config_ref, config_name, "ConfigName", NULL, 0),
};
SPEC_TYPE(t_config, "ConfigReference", "swarm.ConfigReference", struct spec_config_ref, config_f);

static const struct spec_field ulimit_f[] = {
    F_STR(struct spec_ulimit, name, "Name", NULL, 0),
    F_INT(struct spec_ulimit, hard, "Hard", 64, NULL, 0),
    F_INT(struct spec_ulimit, soft, "Soft", 64, NULL, 0),
};
SPEC_TYPE(t_ulimit, "Ulimit", "units.Ulimit", struct spec_ulimit, ulimit_f);

static const struct spec_field health_f[] = {
    F_STRV(struct spec_health, test, "Test", OE),
    F_INT(struct spec_health, interval, "Interval", 64, "time.Duration", OE),
    F_INT(struct spec_health, timeout, "Timeout", 64, "time.Duration", OE),
    F_INT(struct spec_health, start_period, "StartPeriod", 64, "time.Duration", OE),
    F_INT(struct spec_health, start_interval, "StartInterval", 64, "time.Duration", OE),
    F_INT(struct spec_health, retries, "Retries", 64, "int", OE),
};
SPEC_TYPE(t_health, "HealthConfig", "container.HealthConfig", struct spec_health, health_f);

static const struct spec_field credspec_f[] = {
    F_STR(credspec_t, config, "Config", NULL, 0),
    F_STR(credspec_t, file, "File", NULL, 0),
    F_STR(credspec_t, registry, "Registry", NULL, 0),
};
SPEC_TYPE(t_credspec, "CredentialSpec", "swarm.CredentialSpec", credspec_t, credspec_f);

static const struct spec_field selinux_f[] = {
    F_BOOL(selinux_t, disable, "Disable", 0),  F_STR(selinux_t, user, "User", NULL, 0),
    F_STR(selinux_t, role, "Role", NULL, 0),   F_STR(selinux_t, type, "Type", NULL, 0),
    F_STR(selinux_t, level, "Level", NULL, 0),
};
SPEC_TYPE(t_selinux, "SELinuxContext", "swarm.SELinuxContext", selinux_t, selinux_f);

static const struct spec_field priv_f[] = {
    F_PSUB(priv_t, credential_spec, has_credential_spec, "CredentialSpec", t_credspec, 0),
    F_PSUB(priv_t, selinux, has_selinux, "SELinuxContext", t_selinux, 0),
};
SPEC_TYPE(t_priv, "Privileges", "swarm.Privileges", priv_t, priv_f);

static const struct spec_field dns_f[] = {
    F_STRV(dns_t, nameservers, "Nameservers", OE),
    F_STRV(dns_t, search, "Search", OE),
    F_STRV(dns_t, options, "Options", OE),
};
SPEC_TYPE(t_dns, "DNSConfig", "swarm.DNSConfig", dns_t, dns_f);

static const struct spec_field container_f[] = {
    F_STR(struct spec_container, image, "Image", NULL, OE),
    F_MAP(struct spec_container, labels, "Labels", OE),
    F_STRV(struct spec_container, command, "Command", OE),
    F_STRV(struct spec_container, args, "Args", OE),
    F_STR(struct spec_container, hostname, "Hostname", NULL, OE),
    F_STRV(struct spec_container, env, "Env", OE),
    F_STR(struct spec_container, dir, "Dir", NULL, OE),
    F_STR(struct spec_container, user, "User", NULL, OE),
    F_STRV(struct spec_container, groups, "Groups", OE),
    F_PSUB(struct spec_container, privileges, has_privileges, "Privileges", t_priv, OE),
    F_PBOOL(struct spec_container, init, has_init, "Init"),
    F_STR(struct spec_container, stop_signal, "StopSignal", NULL, OE),
    F_BOOL(struct spec_container, tty, "TTY", OE),
    F_BOOL(struct spec_container, open_stdin, "OpenStdin", OE),
    F_BOOL(struct spec_container, read_only, "ReadOnly", OE),
    F_LIST(struct spec_container, mounts, nmounts, "Mounts", "[]mount.Mount", t_mount),
    F_PINT(struct spec_container, stop_grace_period, has_stop_grace_period, "StopGracePeriod",
           "time.Duration"),
    F_PSUB(struct spec_container, healthcheck, has_healthcheck, "Healthcheck", t_health, OE),
    F_STRV(struct spec_container, hosts, "Hosts", OE),
    F_PSUB(struct spec_container, dns, has_dns, "DNSConfig", t_dns, OE),
    F_LIST(struct spec_container, secrets, nsecrets, "Secrets", "[]*swarm.SecretReference",
           t_secret),
    F_LIST(struct spec_container, configs, nconfigs, "Configs", "[]*swarm.ConfigReference",
           t_config),
    F_STR(struct spec_container, isolation, "Isolation", "container.Isolation", OE),
    F_MAP(struct spec_container, sysctls, "Sysctls", OE),
    F_STRV(struct spec_container, cap_add, "CapabilityAdd", OE),
    F_STRV(struct spec_container, cap_drop, "CapabilityDrop", OE),
    F_LIST(struct spec_container, ulimits, nulimits, "Ulimits", "[]*units.Ulimit", t_ulimit),
};
SPEC_TYPE(t_container, "ContainerSpec", "swarm.ContainerSpec", struct spec_container, container_f);

static const struct spec_field named_f[] = {
    F_STR(named_res_t, kind, "Kind", NULL, OE),
    F_STR(named_res_t, value, "Value", NULL, OE),
};
SPEC_TYPE(t_named, "NamedGenericResource", "swarm.NamedGenericResource", named_res_t, named_f);
static const struct spec_field discrete_f[] = {
    F_STR(discrete_res_t, kind, "Kind", NULL, OE),
    F_INT(discrete_res_t, value, "Value", 64, NULL, OE),
};
SPEC_TYPE(t_discrete, "DiscreteGenericResource", "swarm.DiscreteGenericResource", discrete_res_t,
          discrete_f);
static const struct spec_field generic_f[] = {
    F_PSUB(struct spec_generic_resource, named, has_named, "NamedResourceSpec", t_named, OE),
    F_PSUB(struct spec_generic_resource, discrete, has_discrete, "DiscreteResourceSpec", t_discrete,
           OE),
};
SPEC_TYPE(t_generic, "GenericResource", "swarm.GenericResource", struct spec_generic_resource,
          generic_f);

static const struct spec_field limits_f[] = {
    F_INT(limits_t, nano_cpus, "NanoCPUs", 64, NULL, OE),
    F_INT(limits_t, memory_bytes, "MemoryBytes", 64, NULL, OE),
    F_INT(limits_t, pids, "Pids", 64, NULL, OE),
};
SPEC_TYPE(t_limits, "Limit", "swarm.Limit", limits_t, limits_f);
static const struct spec_field reservations_f[] = {
    F_INT(reservations_t, nano_cpus, "NanoCPUs", 64, NULL, OE),
    F_INT(reservations_t, memory_bytes, "MemoryBytes", 64, NULL, OE),
    F_LIST(reservations_t, generic, ngeneric, "GenericResources", "[]swarm.GenericResource",
           t_generic),
};
SPEC_TYPE(t_reservations, "Resources", "swarm.Resources", reservations_t, reservations_f);
static const struct spec_field resources_f[] = {
    F_PSUB(struct spec_resources, limits, has_limits, "Limits", t_limits, OE),
    F_PSUB(struct spec_resources, reservations, has_reservations, "Reservations", t_reservations,
           OE),
};
SPEC_TYPE(t_resources, "ResourceRequirements", "swarm.ResourceRequirements", struct spec_resources,
          resources_f);

static const struct spec_field restart_f[] = {
    F_STR(struct spec_restart, condition, "Condition", "swarm.RestartPolicyCondition", OE),
    F_PINT(struct spec_restart, delay, has_delay, "Delay", "time.Duration"),
    F_PUINT(struct spec_restart, max_attempts, has_max_attempts, "MaxAttempts"),
    F_PINT(struct spec_restart, window, has_window, "Window", "time.Duration"),
};
SPEC_TYPE(t_restart, "RestartPolicy", "swarm.RestartPolicy", struct spec_restart, restart_f);

static const struct spec_field spread_f[] = {
    F_STR(struct spec_pref, spread_descriptor, "SpreadDescriptor", NULL, 0),
};
/* size 0: this struct shares its parent's storage (releasing it must not clear the parent) */
static const struct spec_type t_spread = {"SpreadOver", "swarm.SpreadOver", 0, spread_f,
                                          ARRAY_SIZE(spread_f)};
static const struct spec_field pref_f[] = {
    /* Spread's struct is spec_pref itself (one field): offset 0 */
    {"Spread", SPEC_STRUCT, 0, NULL, 0, SPEC_PTR, offsetof(struct spec_pref, has_spread),
     &t_spread},
};
SPEC_TYPE(t_pref, "PlacementPreference", "swarm.PlacementPreference", struct spec_pref, pref_f);
static const struct spec_field platform_f[] = {
    F_STR(struct spec_platform, architecture, "Architecture", NULL, OE),
    F_STR(struct spec_platform, os, "OS", NULL, OE),
};
SPEC_TYPE(t_platform, "Platform", "swarm.Platform", struct spec_platform, platform_f);
static const struct spec_field placement_f[] = {
    F_STRV(struct spec_placement, constraints, "Constraints", OE),
    F_LIST(struct spec_placement, prefs, nprefs, "Preferences", "[]swarm.PlacementPreference",
           t_pref),
    F_UINT(struct spec_placement, max_replicas, "MaxReplicas", 64, NULL, OE),
    F_LIST(struct spec_placement, platforms, nplatforms, "Platforms", "[]swarm.Platform",
           t_platform),
};
SPEC_TYPE(t_placement, "Placement", "swarm.Placement", struct spec_placement, placement_f);

static const struct spec_field network_f[] = {
    F_STR(struct spec_network, target, "Target", NULL, OE),
    F_STRV(struct spec_network, aliases, "Aliases", OE),
    F_MAP(struct spec_network, driver_opts, "DriverOpts", OE),
};
SPEC_TYPE(t_network, "NetworkAttachmentConfig", "swarm.NetworkAttachmentConfig",
          struct spec_network, network_f);

static const struct spec_field task_f[] = {
    F_PSUB(struct spec_task, container, has_container, "ContainerSpec", t_container, OE),
    F_RAW(struct spec_task, plugin_spec, "PluginSpec", "runtime.PluginSpec"),
    F_RAW(struct spec_task, attachment_spec, "NetworkAttachmentSpec",
          "swarm.NetworkAttachmentSpec"),
    F_PSUB(struct spec_task, resources, has_resources, "Resources", t_resources, OE),
    F_PSUB(struct spec_task, restart, has_restart, "RestartPolicy", t_restart, OE),
    F_PSUB(struct spec_task, placement, has_placement, "Placement", t_placement, OE),
    F_LIST(struct spec_task, networks, nnetworks, "Networks", "[]swarm.NetworkAttachmentConfig",
           t_network),
    F_PSUB(struct spec_task, log_driver, has_log_driver, "LogDriver", t_driver, OE),
    F_UINT(struct spec_task, force_update, "ForceUpdate", 64, NULL, 0),
    F_STR(struct spec_task, runtime, "Runtime", "swarm.RuntimeType", OE),
};
SPEC_TYPE(t_task, "TaskSpec", "swarm.TaskSpec", struct spec_task, task_f);

static const struct spec_field replicated_f[] = {
    F_PUINT(mode_t_, replicas, has_replicas, "Replicas"),
};
static const struct spec_type t_replicated = {"ReplicatedService", "swarm.ReplicatedService", 0,
                                              replicated_f, ARRAY_SIZE(replicated_f)};
static const struct spec_field rjob_f[] = {
    F_PUINT(mode_t_, max_concurrent, has_max_concurrent, "MaxConcurrent"),
    F_PUINT(mode_t_, total_completions, has_total_completions, "TotalCompletions"),
};
static const struct spec_type t_rjob = {"ReplicatedJob", "swarm.ReplicatedJob", 0, rjob_f,
                                        ARRAY_SIZE(rjob_f)};
static const struct spec_type t_global = {"GlobalService", "swarm.GlobalService", 0, NULL, 0};
static const struct spec_type t_gjob = {"GlobalJob", "swarm.GlobalJob", 0, NULL, 0};
/* The mode's sub-structs share the mode struct (offset 0, size 0): each has its own fields. */
static const struct spec_field mode_f[] = {
    {"Replicated", SPEC_STRUCT, 0, NULL, 0, SPEC_PTR | OE, offsetof(mode_t_, has_replicated),
     &t_replicated},
    {"Global", SPEC_STRUCT, 0, NULL, 0, SPEC_PTR | OE, offsetof(mode_t_, has_global), &t_global},
    {"ReplicatedJob", SPEC_STRUCT, 0, NULL, 0, SPEC_PTR | OE, offsetof(mode_t_, has_replicated_job),
     &t_rjob},
    {"GlobalJob", SPEC_STRUCT, 0, NULL, 0, SPEC_PTR | OE, offsetof(mode_t_, has_global_job),
     &t_gjob},
};
SPEC_TYPE(t_mode, "ServiceMode", "swarm.ServiceMode", mode_t_, mode_f);

static const struct spec_field update_f[] = {
    F_UINT(struct spec_update, parallelism, "Parallelism", 64, NULL, 0),
    F_INT(struct spec_update, delay, "Delay", 64, "time.Duration", OE),
    F_STR(struct spec_update, failure_action, "FailureAction", "swarm.FailureAction", OE),
    F_INT(struct spec_update, monitor, "Monitor", 64, "time.Duration", OE),
    F_FLOAT(struct spec_update, max_failure_ratio, "MaxFailureRatio", 32, 0),
    F_STR(struct spec_update, order, "Order", "swarm.UpdateOrder", 0),
};
SPEC_TYPE(t_update, "UpdateConfig", "swarm.UpdateConfig", struct spec_update, update_f);

static const struct spec_field port_f[] = {
    F_STR(struct spec_port, name, "Name", NULL, OE),
    F_STR(struct spec_port, protocol, "Protocol", "swarm.PortConfigProtocol", OE),
    F_UINT(struct spec_port, target_port, "TargetPort", 32, NULL, OE),
    F_UINT(struct spec_port, published_port, "PublishedPort", 32, NULL, OE),
    F_STR(struct spec_port, publish_mode, "PublishMode", "swarm.PortConfigPublishMode", OE),
};
SPEC_TYPE(t_port, "PortConfig", "swarm.PortConfig", struct spec_port, port_f);
static const struct spec_field endpoint_f[] = {
    F_STR(endpoint_t, mode, "Mode", "swarm.ResolutionMode", OE),
    F_LIST(endpoint_t, ports, nports, "Ports", "[]swarm.PortConfig", t_port),
};
SPEC_TYPE(t_endpoint, "EndpointSpec", "swarm.EndpointSpec", endpoint_t, endpoint_f);

static const struct spec_field service_f[] = {
    F_STR(struct spec_service, name, "Name", NULL, OE),
    F_MAP(struct spec_service, labels, "Labels", SPEC_EMPTY_OBJ),
    F_SUB(struct spec_service, task, "TaskTemplate", t_task),
    F_SUB(struct spec_service, mode, "Mode", t_mode),
    F_PSUB(struct spec_service, update, has_update, "UpdateConfig", t_update, OE),
    F_PSUB(struct spec_service, rollback, has_rollback, "RollbackConfig", t_update, OE),
    F_LIST(struct spec_service, networks, nnetworks, "Networks", "[]swarm.NetworkAttachmentConfig",
           t_network),
    F_PSUB(struct spec_service, endpoint, has_endpoint, "EndpointSpec", t_endpoint, OE),
};
SPEC_TYPE_PUBLIC(spec_type_service, "ServiceSpec", "swarm.ServiceSpec", struct spec_service,
                 service_f);
