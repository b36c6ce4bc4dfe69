/* repl_feed.c — etcd's feed into the store: every change under the prefix, in revision
 * order, unsealed with the data key and decoded with the store's codec; objects go to the
 * store with their mod revision as Version.Index, private records to the owner's callback.
 * A value that cannot be unsealed or decoded is logged and skipped (it never came from a
 * commit: commits refuse what would not read back). */
#include "repl_int.h"

#include "ca/ca.h"

#include <string.h>

/* The kind of <prefix><kind>/<id> (-1 if unknown) and its id. */
static int kind_from_key(const char *rest, char *id, size_t idcap)
{
    const char *slash = strchr(rest, '/');
    if (!slash)
        return -1;
    char kind[32];
    snprintf(kind, sizeof(kind), "%.*s", (int)(slash - rest), rest);
    snprintf(id, idcap, "%s", slash + 1);
    return store_kind_parse(kind);
}

void repl_feed(struct repl *r, const struct state_event *ev)
{
    const struct repl_config *cfg = &r->cfg;
    if (!str_has_prefix(ev->key, cfg->prefix))
        return;
    store_note_fed(cfg->store, (uint64_t)ev->mod_revision);
    bool priv = str_has_prefix(ev->key, cfg->private_prefix);
    char id[128];
    int kind = priv ? -1 : kind_from_key(ev->key + strlen(cfg->prefix), id, sizeof(id));
    if (!priv && kind < 0) {
        log_warn("ignoring unknown etcd key %s", ev->key);
        return;
    }
    if (ev->type == STATE_DELETE) {
        if (!priv)
            store_apply_delete(cfg->store, kind, id, (uint64_t)ev->mod_revision);
        return;
    }
    struct buf plain = BUF_INIT;
    struct err e;
    if (ca_unseal(cfg->dek, ev->value, ev->value_len, &plain, &e) < 0) {
        log_error("cannot unseal %s: %s", ev->key, e.msg);
        buf_release(&plain);
        return;
    }
    json_t *obj = store_json_decode(plain.p, plain.len, &e);
    buf_release(&plain);
    if (!obj) {
        log_error("corrupt value at %s: %s", ev->key, e.msg);
        return;
    }
    if (priv) {
        if (cfg->on_private)
            cfg->on_private(cfg->ctx, ev->key + strlen(cfg->private_prefix), obj);
        json_decref(obj);
        return;
    }
    json_object_set_new(obj, "Version", json_pack("{s:I}", "Index", (json_int_t)ev->mod_revision));
    store_apply_put(cfg->store, kind, obj);
}
