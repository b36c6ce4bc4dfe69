/* msg_logs.c — the request a manager sends the leader to relay service or task logs to its
 * own API client (see msg.h). Pure functions; any thread. */
#include "msg_int.h"

#include <string.h>

json_t *msg_logs_sub_req_encode(const struct msg_logs_sub_req *m)
{
    json_t *j = json_pack("{s:b, s:b, s:b, s:b, s:b, s:I, s:I, s:I}", "Follow", m->follow, "Stdout",
                          m->want_stdout, "Stderr", m->want_stderr, "Timestamps", m->timestamps,
                          "Details", m->details, "Tail", (json_int_t)m->tail, "Since",
                          (json_int_t)m->since_ns, "Until", (json_int_t)m->until_ns);
    if (m->service_id)
        json_object_set_new(j, "ServiceID", json_string(m->service_id));
    if (m->task_id)
        json_object_set_new(j, "TaskID", json_string(m->task_id));
    return j;
}

int msg_logs_sub_req_decode(json_t *j, struct msg_logs_sub_req *m, struct err *e)
{
    static const char what[] = "logs subscription";
    bool has_tail;
    memset(m, 0, sizeof(*m));
    if (msg_is_object(j, what, e) < 0 ||
        msg_get_str(j, what, "ServiceID", ID_LEN, false, &m->service_id, e) < 0 ||
        msg_get_str(j, what, "TaskID", ID_LEN, false, &m->task_id, e) < 0 ||
        msg_get_bool(j, what, "Follow", &m->follow, e) < 0 ||
        msg_get_bool(j, what, "Stdout", &m->want_stdout, e) < 0 ||
        msg_get_bool(j, what, "Stderr", &m->want_stderr, e) < 0 ||
        msg_get_bool(j, what, "Timestamps", &m->timestamps, e) < 0 ||
        msg_get_bool(j, what, "Details", &m->details, e) < 0 ||
        msg_get_int(j, what, "Tail", -1, INT64_MAX, false, &m->tail, &has_tail, e) < 0 ||
        msg_get_int(j, what, "Since", 0, INT64_MAX, false, &m->since_ns, NULL, e) < 0 ||
        msg_get_int(j, what, "Until", 0, INT64_MAX, false, &m->until_ns, NULL, e) < 0)
        goto bad;
    if (!m->service_id == !m->task_id) {
        err_set(e, ERR_INVALID, "malformed %s: exactly one of ServiceID and TaskID is needed",
                what);
        goto bad;
    }
    const char *id = m->service_id ? m->service_id : m->task_id;
    if (!msg_task_id_valid(id)) {
        err_set(e, ERR_INVALID, "malformed %s: %s is not an object ID", what,
                m->service_id ? "ServiceID" : "TaskID");
        goto bad;
    }
    if (!m->want_stdout && !m->want_stderr) {
        err_set(e, ERR_INVALID, "malformed %s: neither Stdout nor Stderr", what);
        goto bad;
    }
    if (!has_tail)
        m->tail = -1;
    m->doc = json_incref(j);
    return 0;
bad:
    memset(m, 0, sizeof(*m));
    return -ERR_INVALID;
}

void msg_logs_sub_req_release(struct msg_logs_sub_req *m)
{
    json_decref(m->doc);
    memset(m, 0, sizeof(*m));
}
