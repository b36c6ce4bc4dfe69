/* msg_task.c — the task messages (see msg.h): the assignments long poll and its answer
 * (incremental changes), and the batched task status reports. Pure functions; any thread. */
#include "msg_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- assignments ---- */

json_t *msg_assign_req_encode(const struct msg_assign_req *m)
{
    json_t *j = json_pack("{s:s}", "Session", m->session ? m->session : "");
    if (m->has_ack)
        json_object_set_new(j, "Ack", json_integer((json_int_t)m->ack));
    return j;
}

int msg_assign_req_decode(json_t *j, struct msg_assign_req *m, struct err *e)
{
    static const char what[] = "assignments request";
    int64_t ack;
    memset(m, 0, sizeof(*m));
    if (msg_is_object(j, what, e) < 0 ||
        msg_get_str(j, what, "Session", MSG_MAX_SESSION, false, &m->session, e) < 0 ||
        msg_get_int(j, what, "Ack", 0, INT64_MAX, false, &ack, &m->has_ack, e) < 0) {
        memset(m, 0, sizeof(*m));
        return -ERR_INVALID;
    }
    if (!m->session)
        m->session = "";
    m->ack = (uint64_t)ack;
    m->doc = json_incref(j);
    return 0;
}

void msg_assign_req_release(struct msg_assign_req *m)
{
    json_decref(m->doc);
    memset(m, 0, sizeof(*m));
}

json_t *msg_assign_resp_encode(const struct msg_assign_resp *m)
{
    json_t *changes = json_array();
    for (size_t i = 0; i < m->n_changes; i++) {
        const struct msg_assign_change *c = &m->changes[i];
        if (c->removed)
            json_array_append_new(changes, json_pack("{s:s}", "Removed", c->removed));
        else
            json_array_append_new(changes, json_pack("{s:O, s:s}", "Task", c->task, "ServiceName",
                                                     c->service_name ? c->service_name : ""));
    }
    return json_pack("{s:I, s:b, s:o}", "Seq", (json_int_t)m->seq, "Full", m->full, "Changes",
                     changes);
}

static int change_decode(json_t *c, size_t i, struct msg_assign_change *out, struct err *e)
{
    char what[64];
    snprintf(what, sizeof(what), "assignments answer change %zu", i);
    json_t *task, *status;
    if (msg_is_object(c, what, e) < 0 || msg_get_obj(c, what, "Task", false, false, &task, e) < 0 ||
        msg_get_str(c, what, "Removed", ID_LEN, false, &out->removed, e) < 0 ||
        msg_get_str(c, what, "ServiceName", MSG_MAX_SHORT, false, &out->service_name, e) < 0)
        return -ERR_INVALID;
    if (!task == !out->removed)
        return err_set(e, ERR_INVALID, "malformed %s: needs one of Task and Removed", what);
    if (out->removed) {
        if (!msg_task_id_valid(out->removed))
            return err_set(e, ERR_INVALID, "malformed %s: Removed is not a task ID", what);
        out->task_id = out->removed;
        return 0;
    }
    out->task = task;
    if (!out->service_name)
        out->service_name = "";
    snprintf(what, sizeof(what), "assignments answer task %zu", i);
    json_t *spec;
    if (msg_get_str(task, what, "ID", ID_LEN, true, &out->task_id, e) < 0 ||
        msg_get_state(task, what, "DesiredState", true, &out->desired, NULL, e) < 0 ||
        msg_get_obj(task, what, "Spec", false, false, &spec, e) < 0 ||
        msg_get_obj(task, what, "Status", false, false, &status, e) < 0)
        return -ERR_INVALID;
    if (!msg_task_id_valid(out->task_id))
        return err_set(e, ERR_INVALID, "malformed %s: ID is not a task ID", what);
    if (status && msg_get_state(status, what, "State", false, &out->observed, NULL, e) < 0)
        return -ERR_INVALID;
    return 0;
}

int msg_assign_resp_decode(json_t *j, struct msg_assign_resp *m, struct err *e)
{
    static const char what[] = "assignments answer";
    json_t *changes;
    int64_t seq;
    memset(m, 0, sizeof(*m));
    if (msg_is_object(j, what, e) < 0 ||
        msg_get_int(j, what, "Seq", 0, INT64_MAX, false, &seq, NULL, e) < 0 ||
        msg_get_bool(j, what, "Full", &m->full, e) < 0 ||
        msg_get_obj(j, what, "Changes", true, true, &changes, e) < 0)
        goto bad;
    if (json_array_size(changes) > MSG_MAX_CHANGES) {
        err_set(e, ERR_INVALID, "malformed %s: more than %d changes", what, MSG_MAX_CHANGES);
        goto bad;
    }
    m->seq = (uint64_t)seq;
    m->n_changes = json_array_size(changes);
    m->changes = xcalloc(m->n_changes ? m->n_changes : 1, sizeof(*m->changes));
    for (size_t i = 0; i < m->n_changes; i++)
        if (change_decode(json_array_get(changes, i), i, &m->changes[i], e) < 0)
            goto bad;
    m->doc = json_incref(j);
    return 0;
bad:
    free(m->changes);
    memset(m, 0, sizeof(*m));
    return -ERR_INVALID;
}

void msg_assign_resp_release(struct msg_assign_resp *m)
{
    json_decref(m->doc);
    free(m->changes);
    memset(m, 0, sizeof(*m));
}

/* ---- status reports ---- */

static json_t *port_encode(const struct msg_port *p)
{
    json_t *j = json_object();
    if (p->name)
        json_object_set_new(j, "Name", json_string(p->name));
    if (p->protocol)
        json_object_set_new(j, "Protocol", json_string(p->protocol));
    json_object_set_new(j, "TargetPort", json_integer(p->target_port));
    json_object_set_new(j, "PublishedPort", json_integer(p->published_port));
    if (p->publish_mode)
        json_object_set_new(j, "PublishMode", json_string(p->publish_mode));
    return j;
}

json_t *msg_task_status_encode(const struct msg_task_status *s)
{
    json_t *j =
        json_pack("{s:s, s:s}", "Timestamp", s->timestamp, "State", task_state_name(s->state));
    BUG_ON(!j); /* no timestamp, or a state out of range */
    if (s->message)
        json_object_set_new(j, "Message", json_string(s->message));
    if (s->err)
        json_object_set_new(j, "Err", json_string(s->err));
    if (s->has_container)
        json_object_set_new(j, "ContainerStatus",
                            json_pack("{s:s, s:I, s:I}", "ContainerID",
                                      s->container_id ? s->container_id : "", "PID",
                                      (json_int_t)s->pid, "ExitCode", (json_int_t)s->exit_code));
    json_t *ps = json_object();
    if (s->n_ports) {
        json_t *ports = json_array();
        for (size_t i = 0; i < s->n_ports; i++)
            json_array_append_new(ports, port_encode(&s->ports[i]));
        json_object_set_new(ps, "Ports", ports);
    }
    json_object_set_new(j, "PortStatus", ps);
    return j;
}

json_t *msg_status_update_encode(const struct msg_status_update *u)
{
    return json_pack("{s:s, s:o}", "TaskID", u->task_id, "Status",
                     msg_task_status_encode(&u->status));
}

json_t *msg_status_batch_wrap(json_t *updates)
{
    return json_pack("{s:o}", "Updates", updates);
}

json_t *msg_status_batch_encode(const struct msg_status_batch *m)
{
    json_t *ups = json_array();
    for (size_t i = 0; i < m->n_updates; i++)
        json_array_append_new(ups, msg_status_update_encode(&m->updates[i]));
    return msg_status_batch_wrap(ups);
}

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(s, *set))
            return true;
    return false;
}

static int port_decode(json_t *o, const char *what, struct msg_port *p, struct err *e)
{
    static const char *const protos[] = {"tcp", "udp", "sctp", NULL};
    static const char *const modes[] = {"ingress", "host", NULL};
    if (msg_is_object(o, what, e) < 0 ||
        msg_get_str(o, what, "Name", MSG_MAX_SHORT, false, &p->name, e) < 0 ||
        msg_get_str(o, what, "Protocol", MSG_MAX_SHORT, false, &p->protocol, e) < 0 ||
        msg_get_int(o, what, "TargetPort", 0, 65535, false, &p->target_port, NULL, e) < 0 ||
        msg_get_int(o, what, "PublishedPort", 0, 65535, false, &p->published_port, NULL, e) < 0 ||
        msg_get_str(o, what, "PublishMode", MSG_MAX_SHORT, false, &p->publish_mode, e) < 0)
        return -ERR_INVALID;
    if (p->protocol && !one_of(p->protocol, protos))
        return err_set(e, ERR_INVALID, "malformed %s: unknown Protocol %.16s", what, p->protocol);
    if (p->publish_mode && !one_of(p->publish_mode, modes))
        return err_set(e, ERR_INVALID, "malformed %s: unknown PublishMode %.16s", what,
                       p->publish_mode);
    return 0;
}

static bool hex_id(const char *s)
{
    size_t n = strlen(s);
    if (n != 0 && n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static int status_decode(json_t *o, const char *what, struct msg_task_status *s, struct err *e)
{
    json_t *ctr, *ps, *ports = NULL;
    int64_t ts;
    if (msg_is_object(o, what, e) < 0 ||
        msg_get_str(o, what, "Timestamp", MSG_MAX_SHORT, true, &s->timestamp, e) < 0 ||
        msg_get_state(o, what, "State", true, &s->state, NULL, e) < 0 ||
        msg_get_str(o, what, "Message", MSG_MAX_TEXT, false, &s->message, e) < 0 ||
        msg_get_str(o, what, "Err", MSG_MAX_TEXT, false, &s->err, e) < 0 ||
        msg_get_obj(o, what, "ContainerStatus", false, false, &ctr, e) < 0 ||
        msg_get_obj(o, what, "PortStatus", false, false, &ps, e) < 0)
        return -ERR_INVALID;
    if (time_parse_rfc3339(s->timestamp, &ts) != 0)
        return err_set(e, ERR_INVALID, "malformed %s: Timestamp is not an RFC 3339 time", what);
    if (ctr) {
        s->has_container = true;
        if (msg_get_str(ctr, what, "ContainerID", 64, false, &s->container_id, e) < 0 ||
            msg_get_int(ctr, what, "PID", 0, INT32_MAX, false, &s->pid, NULL, e) < 0 ||
            msg_get_int(ctr, what, "ExitCode", INT32_MIN, INT32_MAX, false, &s->exit_code, NULL,
                        e) < 0)
            return -ERR_INVALID;
        if (!s->container_id)
            s->container_id = "";
        if (!hex_id(s->container_id))
            return err_set(e, ERR_INVALID, "malformed %s: ContainerID is not a container ID", what);
    }
    if (ps && msg_get_obj(ps, what, "Ports", true, false, &ports, e) < 0)
        return -ERR_INVALID;
    if (json_array_size(ports) > MSG_MAX_PORTS)
        return err_set(e, ERR_INVALID, "malformed %s: more than %d ports", what, MSG_MAX_PORTS);
    s->n_ports = json_array_size(ports);
    if (!s->n_ports)
        return 0;
    s->ports = xcalloc(s->n_ports, sizeof(*s->ports));
    for (size_t i = 0; i < s->n_ports; i++)
        if (port_decode(json_array_get(ports, i), what, &s->ports[i], e) < 0)
            return -ERR_INVALID;
    return 0;
}

int msg_status_batch_decode(json_t *j, struct msg_status_batch *m, struct err *e)
{
    static const char what[] = "status report";
    json_t *ups;
    memset(m, 0, sizeof(*m));
    if (msg_is_object(j, what, e) < 0 || msg_get_obj(j, what, "Updates", true, true, &ups, e) < 0)
        return -ERR_INVALID;
    if (json_array_size(ups) > MSG_MAX_UPDATES)
        return err_set(e, ERR_INVALID, "malformed %s: more than %d updates", what, MSG_MAX_UPDATES);
    m->n_updates = json_array_size(ups);
    m->updates = xcalloc(m->n_updates ? m->n_updates : 1, sizeof(*m->updates));
    for (size_t i = 0; i < m->n_updates; i++) {
        char uwhat[64];
        snprintf(uwhat, sizeof(uwhat), "status report update %zu", i);
        json_t *u = json_array_get(ups, i);
        json_t *st;
        struct msg_status_update *mu = &m->updates[i];
        if (msg_is_object(u, uwhat, e) < 0 ||
            msg_get_str(u, uwhat, "TaskID", ID_LEN, true, &mu->task_id, e) < 0 ||
            msg_get_obj(u, uwhat, "Status", false, true, &st, e) < 0 ||
            status_decode(st, uwhat, &mu->status, e) < 0)
            goto bad;
        if (!msg_task_id_valid(mu->task_id)) {
            err_set(e, ERR_INVALID, "malformed %s: TaskID is not a task ID", uwhat);
            goto bad;
        }
    }
    m->doc = json_incref(j);
    return 0;
bad:
    msg_status_batch_release(m);
    return -ERR_INVALID;
}

void msg_status_batch_release(struct msg_status_batch *m)
{
    for (size_t i = 0; m->updates && i < m->n_updates; i++)
        free(m->updates[i].status.ports);
    free(m->updates);
    json_decref(m->doc);
    memset(m, 0, sizeof(*m));
}
