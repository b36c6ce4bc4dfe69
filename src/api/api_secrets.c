/* api_secrets.c — GET /secrets/{id} and GET /configs/{id} until secrets and configs are built
 * (their own issue): shoal cannot create either yet (POST /secrets/create, /configs/create and
 * the lists answer 501 from the router), so no ID or name can match one, and the true answer
 * on a manager is dockerd's 404 "secret <ref> not found" / "config <ref> not found"
 * (transcripts cli-20/err-secret-inspect-missing, stack-deploy). That lets the CLI's untyped
 * `docker inspect` end with "No such object" instead of stopping on a 501. A node that is not
 * a manager answers as for every swarm object. Thread: the loop thread. */
#include "api_int.h"

static void not_found(struct api_req *r, const char *kind)
{
    struct err e;
    if (node_require_manager(r->api->node, &e) < 0) {
        api_reply_err(r, &e);
        return;
    }
    api_reply_error(r, ERR_NOT_FOUND, "%s %s not found", kind, r->params[0]);
}

static void h_secret_inspect(struct api_req *r)
{
    not_found(r, "secret");
}

static void h_config_inspect(struct api_req *r)
{
    not_found(r, "config");
}

const struct api_route api_secret_routes[] = {
    {"GET", "/secrets/{id}", h_secret_inspect},
    {"GET", "/configs/{id}", h_config_inspect},
    {NULL, NULL, NULL},
};
