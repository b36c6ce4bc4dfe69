/* msg_logs.c — the log messages (see msg.h): the request a manager sends the leader to relay
 * service or task logs to its own API client, and the calls of the nodes that serve the
 * leader's log broker (the listen long poll and its answer, the publications). Pure
 * functions; any thread. */
#include "msg_int.h"

#include <stdlib.h>
#include <string.h>

/* The longest base64 text of a message of MSG_MAX_LOG_DATA bytes (padded, no line breaks). */
#define MAX_LOG_B64 ((MSG_MAX_LOG_DATA + 2) / 3 * 4)

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

/* ---- the log broker's calls ---- */

/* v is a string that is an object ID (no NUL inside). */
static const char *id_value(json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) && msg_task_id_valid(s) ? s : NULL;
}

/* A required object ID. */
static int get_id(json_t *o, const char *what, const char *key, const char **out, struct err *e)
{
    if (msg_get_str(o, what, key, ID_LEN, true, out, e) < 0)
        return -ERR_INVALID;
    if (!id_value(json_object_get(o, key))) {
        *out = NULL;
        return err_set(e, ERR_INVALID, "malformed %s: %s is not an object ID", what, key);
    }
    return 0;
}

/* A required array of at most max object IDs: *out a new array of borrowed strings. */
static int get_ids(json_t *o, const char *what, const char *key, size_t max, const char ***out,
                   size_t *n, struct err *e)
{
    json_t *a;
    *out = NULL;
    *n = 0;
    if (msg_get_obj(o, what, key, true, true, &a, e) < 0)
        return -ERR_INVALID;
    size_t len = json_array_size(a);
    if (len > max)
        return err_set(e, ERR_INVALID, "malformed %s: %s has more than %zu IDs", what, key, max);
    const char **ids = xcalloc(len ? len : 1, sizeof(*ids));
    for (size_t i = 0; i < len; i++)
        if (!(ids[i] = id_value(json_array_get(a, i)))) {
            free(ids);
            return err_set(e, ERR_INVALID, "malformed %s: %s[%zu] is not an object ID", what, key,
                           i);
        }
    *out = ids;
    *n = len;
    return 0;
}

static json_t *ids_encode(const char *const *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(ids[i]));
    return a;
}

json_t *msg_logs_listen_req_encode(const struct msg_logs_listen_req *m)
{
    return json_pack("{s:o}", "Serving", ids_encode(m->serving, m->n_serving));
}

int msg_logs_listen_req_decode(json_t *j, struct msg_logs_listen_req *m, struct err *e)
{
    static const char what[] = "logs listen";
    memset(m, 0, sizeof(*m));
    if (msg_is_object(j, what, e) < 0 ||
        get_ids(j, what, "Serving", MSG_MAX_LOG_SUBS, &m->serving, &m->n_serving, e) < 0)
        return -ERR_INVALID;
    m->doc = json_incref(j);
    return 0;
}

void msg_logs_listen_req_release(struct msg_logs_listen_req *m)
{
    free(m->serving);
    json_decref(m->doc);
    memset(m, 0, sizeof(*m));
}

json_t *msg_logs_listen_resp_encode(const struct msg_logs_listen_resp *m)
{
    json_t *subs = json_array();
    for (size_t i = 0; i < m->n_subs; i++) {
        const struct msg_log_sub *s = &m->subs[i];
        json_array_append_new(subs,
                              json_pack("{s:s, s:o, s:b, s:I, s:I, s:I, s:b, s:b}", "ID", s->id,
                                        "TaskIDs", ids_encode(s->task_ids, s->n_tasks), "Follow",
                                        s->follow, "Tail", (json_int_t)s->tail, "Since",
                                        (json_int_t)s->since_ns, "Until", (json_int_t)s->until_ns,
                                        "Stdout", s->want_stdout, "Stderr", s->want_stderr));
    }
    return json_pack("{s:o, s:o}", "Subscriptions", subs, "Closed",
                     ids_encode(m->closed, m->n_closed));
}

static int sub_decode(json_t *o, size_t i, struct msg_log_sub *s, struct err *e)
{
    char what[64];
    snprintf(what, sizeof(what), "logs listen answer subscription %zu", i);
    bool has_tail;
    if (msg_is_object(o, what, e) < 0 || get_id(o, what, "ID", &s->id, e) < 0 ||
        msg_get_bool(o, what, "Follow", &s->follow, e) < 0 ||
        msg_get_int(o, what, "Tail", -1, INT64_MAX, false, &s->tail, &has_tail, e) < 0 ||
        msg_get_int(o, what, "Since", INT64_MIN, INT64_MAX, false, &s->since_ns, NULL, e) < 0 ||
        msg_get_int(o, what, "Until", INT64_MIN, INT64_MAX, false, &s->until_ns, NULL, e) < 0 ||
        msg_get_bool(o, what, "Stdout", &s->want_stdout, e) < 0 ||
        msg_get_bool(o, what, "Stderr", &s->want_stderr, e) < 0 ||
        get_ids(o, what, "TaskIDs", MSG_MAX_LOG_TASKS, &s->task_ids, &s->n_tasks, e) < 0)
        return -ERR_INVALID;
    if (!has_tail)
        s->tail = -1;
    return 0;
}

int msg_logs_listen_resp_decode(json_t *j, struct msg_logs_listen_resp *m, struct err *e)
{
    static const char what[] = "logs listen answer";
    json_t *subs;
    memset(m, 0, sizeof(*m));
    if (msg_is_object(j, what, e) < 0 ||
        msg_get_obj(j, what, "Subscriptions", true, true, &subs, e) < 0)
        return -ERR_INVALID;
    if (json_array_size(subs) > MSG_MAX_LOG_SUBS)
        return err_set(e, ERR_INVALID, "malformed %s: more than %d subscriptions", what,
                       MSG_MAX_LOG_SUBS);
    if (get_ids(j, what, "Closed", MSG_MAX_LOG_SUBS, &m->closed, &m->n_closed, e) < 0)
        return -ERR_INVALID;
    m->n_subs = json_array_size(subs);
    m->subs = xcalloc(m->n_subs ? m->n_subs : 1, sizeof(*m->subs));
    for (size_t i = 0; i < m->n_subs; i++)
        if (sub_decode(json_array_get(subs, i), i, &m->subs[i], e) < 0)
            goto bad;
    m->doc = json_incref(j);
    return 0;
bad:
    msg_logs_listen_resp_release(m);
    return -ERR_INVALID;
}

void msg_logs_listen_resp_release(struct msg_logs_listen_resp *m)
{
    for (size_t i = 0; m->subs && i < m->n_subs; i++)
        free(m->subs[i].task_ids);
    free(m->subs);
    free(m->closed);
    json_decref(m->doc);
    memset(m, 0, sizeof(*m));
}

json_t *msg_log_msg_encode(const struct msg_log_msg *lm)
{
    char *b64 = b64_encode(lm->data, lm->len, true);
    json_t *j = json_pack("{s:s, s:i, s:I, s:s}", "TaskID", lm->task_id, "Stream", lm->stream,
                          "Time", (json_int_t)lm->time_ns, "Data", b64);
    free(b64);
    return j;
}

json_t *msg_logs_publish_wrap(const char *sub_id, json_t *msgs, bool close)
{
    return json_pack("{s:s, s:o, s:b}", "SubscriptionID", sub_id, "Messages", msgs, "Close", close);
}

json_t *msg_logs_publish_encode(const struct msg_logs_publish *m)
{
    json_t *msgs = json_array();
    for (size_t i = 0; i < m->n_msgs; i++)
        json_array_append_new(msgs, msg_log_msg_encode(&m->msgs[i]));
    return msg_logs_publish_wrap(m->sub_id, msgs, m->close);
}

/* One message; its data is appended to bytes (lm->data is set once they are all in). */
static int log_msg_decode(json_t *o, size_t i, struct msg_log_msg *lm, struct buf *bytes,
                          struct err *e)
{
    char what[64];
    snprintf(what, sizeof(what), "log publication message %zu", i);
    int64_t stream;
    const char *b64;
    if (msg_is_object(o, what, e) < 0 || get_id(o, what, "TaskID", &lm->task_id, e) < 0 ||
        msg_get_int(o, what, "Stream", 1, 2, true, &stream, NULL, e) < 0 ||
        msg_get_int(o, what, "Time", INT64_MIN, INT64_MAX, true, &lm->time_ns, NULL, e) < 0 ||
        msg_get_str(o, what, "Data", MAX_LOG_B64, true, &b64, e) < 0)
        return -ERR_INVALID;
    lm->stream = (int)stream;
    size_t at = bytes->len;
    struct err de;
    if (b64_decode(b64, json_string_length(json_object_get(o, "Data")), bytes, &de) < 0)
        return err_set(e, ERR_INVALID, "malformed %s: Data is not base64", what);
    lm->len = bytes->len - at;
    if (lm->len > MSG_MAX_LOG_DATA)
        return err_set(e, ERR_INVALID, "malformed %s: Data is longer than %d bytes", what,
                       MSG_MAX_LOG_DATA);
    return 0;
}

int msg_logs_publish_decode(json_t *j, struct msg_logs_publish *m, struct err *e)
{
    static const char what[] = "log publication";
    json_t *msgs;
    struct buf bytes = BUF_INIT;
    memset(m, 0, sizeof(*m));
    if (msg_is_object(j, what, e) < 0 || get_id(j, what, "SubscriptionID", &m->sub_id, e) < 0 ||
        msg_get_obj(j, what, "Messages", true, false, &msgs, e) < 0 ||
        msg_get_bool(j, what, "Close", &m->close, e) < 0)
        goto bad;
    if (json_array_size(msgs) > MSG_MAX_LOG_MSGS) {
        err_set(e, ERR_INVALID, "malformed %s: more than %d messages", what, MSG_MAX_LOG_MSGS);
        goto bad;
    }
    m->n_msgs = json_array_size(msgs);
    m->msgs = xcalloc(m->n_msgs ? m->n_msgs : 1, sizeof(*m->msgs));
    for (size_t i = 0; i < m->n_msgs; i++)
        if (log_msg_decode(json_array_get(msgs, i), i, &m->msgs[i], &bytes, e) < 0)
            goto bad;
    m->bytes = buf_detach(&bytes, NULL);
    size_t off = 0;
    for (size_t i = 0; i < m->n_msgs; i++) {
        m->msgs[i].data = m->bytes + off;
        off += m->msgs[i].len;
    }
    m->doc = json_incref(j);
    return 0;
bad:
    buf_release(&bytes);
    free(m->msgs);
    memset(m, 0, sizeof(*m));
    return -ERR_INVALID;
}

void msg_logs_publish_release(struct msg_logs_publish *m)
{
    free(m->msgs);
    free(m->bytes);
    json_decref(m->doc);
    memset(m, 0, sizeof(*m));
}
