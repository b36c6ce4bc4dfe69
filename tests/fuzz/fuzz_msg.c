/* fuzz_msg.c — libFuzzer target: every node-to-node message kind of src/msg. The first byte
 * picks the kind (its index in kinds[], modulo their number: new kinds go at the end, so that
 * the seeds of tests/fuzz/corpus/msg keep theirs); the rest is the body a peer sends. A body
 * that decodes must encode, and what it encodes to must decode again to the same encoding
 * (the receivers store re-encoded objects, so the codec must be stable), and every decoded
 * string must be within its bound. */
#include "msg/msg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KIND(kind)                                                                                 \
    static void fz_##kind(json_t *j)                                                               \
    {                                                                                              \
        struct err e;                                                                              \
        struct msg_##kind m, m2;                                                                   \
        if (msg_##kind##_decode(j, &m, &e) < 0) {                                                  \
            if (m.doc)                                                                             \
                abort(); /* a refusal holds nothing */                                             \
            return;                                                                                \
        }                                                                                          \
        json_t *o = msg_##kind##_encode(&m);                                                       \
        char *s = msg_dump(o);                                                                     \
        json_t *j2 = msg_load(s, strlen(s), #kind, &e);                                            \
        if (!j2 || msg_##kind##_decode(j2, &m2, &e) < 0)                                           \
            abort(); /* what we encode, we decode */                                               \
        json_t *o2 = msg_##kind##_encode(&m2);                                                     \
        if (!json_equal(o, o2))                                                                    \
            abort();                                                                               \
        check_##kind(&m);                                                                          \
        json_decref(o2);                                                                           \
        msg_##kind##_release(&m2);                                                                 \
        json_decref(j2);                                                                           \
        free(s);                                                                                   \
        json_decref(o);                                                                            \
        msg_##kind##_release(&m);                                                                  \
    }

static void bounded(const char *s, size_t max)
{
    if (s && strlen(s) > max)
        abort();
}

static void check_join_req(struct msg_join_req *m)
{
    bounded(m->token, MSG_MAX_SHORT);
    bounded(m->csr, MSG_MAX_PEM);
    bounded(m->desc.hostname, MSG_MAX_SHORT);
    if (m->advertise_port < 0 || m->advertise_port > 65535)
        abort();
}
static void check_join_resp(struct msg_join_resp *m)
{
    if (!id_valid(m->node_id) || !id_valid(m->cluster_id))
        abort();
    size_t i;
    json_t *v;
    json_array_foreach(m->managers, i, v)
    {
        if (!msg_addr_valid(json_string_value(v)))
            abort();
    }
}
static void check_heartbeat_req(struct msg_heartbeat_req *m)
{
    bounded(m->tls.trust_root, MSG_MAX_PEM);
}
static void check_heartbeat_resp(struct msg_heartbeat_resp *m)
{
    if (m->leader && m->leader[0] && !msg_addr_valid(m->leader))
        abort();
}
static void check_csr_req(struct msg_csr_req *m)
{
    bounded(m->csr, MSG_MAX_PEM);
}
static void check_cert_resp(struct msg_cert_resp *m)
{
    bounded(m->cert, MSG_MAX_PEM);
}
static void check_ca_resp(struct msg_ca_resp *m)
{
    bounded(m->root_ca, MSG_MAX_PEM);
}
static void check_assign_req(struct msg_assign_req *m)
{
    bounded(m->session, MSG_MAX_SESSION);
}
static void check_assign_resp(struct msg_assign_resp *m)
{
    for (size_t i = 0; i < m->n_changes; i++) {
        bounded(m->changes[i].task_id, ID_LEN);
        if (!task_state_name(m->changes[i].desired) || !task_state_name(m->changes[i].observed))
            abort();
    }
}
static void check_status_batch(struct msg_status_batch *m)
{
    for (size_t i = 0; i < m->n_updates; i++) {
        bounded(m->updates[i].task_id, ID_LEN);
        bounded(m->updates[i].status.err, MSG_MAX_TEXT);
        if (!task_state_name(m->updates[i].status.state))
            abort();
    }
}
static void check_logs_sub_req(struct msg_logs_sub_req *m)
{
    if (!m->service_id == !m->task_id || (m->want_stdout | m->want_stderr) == 0 || m->tail < -1 ||
        m->since_ns < 0 || m->until_ns < 0)
        abort();
    bounded(m->service_id, ID_LEN);
    bounded(m->task_id, ID_LEN);
}

/* A decoded object ID: 1..ID_LEN of [a-z0-9]. */
static void object_id(const char *s)
{
    if (!s || !s[0] || strlen(s) > ID_LEN ||
        strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(s))
        abort();
}
static void check_logs_listen_req(struct msg_logs_listen_req *m)
{
    if (m->n_serving > MSG_MAX_LOG_SUBS)
        abort();
    for (size_t i = 0; i < m->n_serving; i++)
        object_id(m->serving[i]);
}
static void check_logs_listen_resp(struct msg_logs_listen_resp *m)
{
    if (m->n_subs > MSG_MAX_LOG_SUBS || m->n_closed > MSG_MAX_LOG_SUBS)
        abort();
    for (size_t i = 0; i < m->n_subs; i++) {
        const struct msg_log_sub *s = &m->subs[i];
        object_id(s->id);
        if (s->tail < -1 || s->n_tasks > MSG_MAX_LOG_TASKS)
            abort();
        for (size_t j = 0; j < s->n_tasks; j++)
            object_id(s->task_ids[j]);
    }
    for (size_t i = 0; i < m->n_closed; i++)
        object_id(m->closed[i]);
}
static void check_logs_publish(struct msg_logs_publish *m)
{
    object_id(m->sub_id);
    if (m->n_msgs > MSG_MAX_LOG_MSGS)
        abort();
    for (size_t i = 0; i < m->n_msgs; i++) {
        const struct msg_log_msg *lm = &m->msgs[i];
        object_id(lm->task_id);
        if ((lm->stream != 1 && lm->stream != 2) || lm->len > MSG_MAX_LOG_DATA || !lm->data)
            abort();
        /* the bytes are readable (ASan checks) and were decoded from the document */
        volatile unsigned char sum = 0;
        for (size_t j = 0; j < lm->len; j++)
            sum ^= (unsigned char)lm->data[j];
        (void)sum;
    }
}

KIND(join_req)
KIND(join_resp)
KIND(heartbeat_req)
KIND(heartbeat_resp)
KIND(csr_req)
KIND(cert_resp)
KIND(ca_resp)
KIND(assign_req)
KIND(assign_resp)
KIND(status_batch)
KIND(logs_sub_req)
KIND(logs_listen_req)
KIND(logs_listen_resp)
KIND(logs_publish)

static void (*const kinds[])(json_t *) = {
    fz_join_req,     fz_join_resp,       fz_heartbeat_req,    fz_heartbeat_resp, fz_csr_req,
    fz_cert_resp,    fz_ca_resp,         fz_assign_req,       fz_assign_resp,    fz_status_batch,
    fz_logs_sub_req, fz_logs_listen_req, fz_logs_listen_resp, fz_logs_publish,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct err e;
    json_t *j = msg_load((const char *)data + 1, size - 1, "fuzz", &e);
    if (j)
        kinds[data[0] % (sizeof(kinds) / sizeof(kinds[0]))](j);
    json_decref(j);
    return 0;
}
