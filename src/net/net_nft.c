/* net_nft.c — libnftables, loaded with dlopen the first time a script runs (so a daemon that
 * never attaches a container never maps it, nor libnftnl, libgmp and the rest it pulls
 * in), then kept for the life of the process. One nft context, made at the first
 * call. Runs on the caller's thread (the loop's); not thread-safe. */
#include "net_int.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
/* The header gives the prototypes, so the pointers below are checked against the library's
 * own declarations; nothing is linked against it. */
#include <nftables/libnftables.h>

static struct {
    void *lib;
    struct nft_ctx *ctx;
    __typeof__(nft_ctx_new) *ctx_new;
    __typeof__(nft_ctx_buffer_output) *buffer_output;
    __typeof__(nft_ctx_buffer_error) *buffer_error;
    __typeof__(nft_ctx_get_output_buffer) *get_output_buffer;
    __typeof__(nft_ctx_get_error_buffer) *get_error_buffer;
    __typeof__(nft_run_cmd_from_buffer) *run_cmd_from_buffer;
} nft;

static int nft_load(struct err *e)
{
    if (nft.ctx)
        return 0;
    void *lib = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return err_set(e, ERR_INTERNAL, "load libnftables: %s", dlerror());
    *(void **)&nft.ctx_new = dlsym(lib, "nft_ctx_new");
    *(void **)&nft.buffer_output = dlsym(lib, "nft_ctx_buffer_output");
    *(void **)&nft.buffer_error = dlsym(lib, "nft_ctx_buffer_error");
    *(void **)&nft.get_output_buffer = dlsym(lib, "nft_ctx_get_output_buffer");
    *(void **)&nft.get_error_buffer = dlsym(lib, "nft_ctx_get_error_buffer");
    *(void **)&nft.run_cmd_from_buffer = dlsym(lib, "nft_run_cmd_from_buffer");
    if (!nft.ctx_new || !nft.buffer_output || !nft.buffer_error || !nft.get_error_buffer ||
        !nft.get_output_buffer || !nft.run_cmd_from_buffer) {
        dlclose(lib);
        return err_set(e, ERR_INTERNAL, "libnftables lacks an entry point");
    }
    struct nft_ctx *ctx = nft.ctx_new(NFT_CTX_DEFAULT);
    if (!ctx) {
        dlclose(lib);
        return err_set(e, ERR_INTERNAL, "nft_ctx_new failed");
    }
    /* output and errors go to buffers, never to the daemon's stdout/stderr */
    nft.buffer_output(ctx);
    nft.buffer_error(ctx);
    nft.lib = lib;
    nft.ctx = ctx;
    return 0;
}

int netf_run(const char *script, struct err *e)
{
    int rc = nft_load(e);
    if (rc < 0)
        return rc;
    int failed = nft.run_cmd_from_buffer(nft.ctx, script);
    /* reading a buffer rewinds it: read both every time so neither grows across calls */
    nft.get_output_buffer(nft.ctx);
    const char *msg = nft.get_error_buffer(nft.ctx);
    if (failed) {
        char first[256];
        snprintf(first, sizeof(first), "%s", msg && *msg ? msg : "failed");
        char *nl = strchr(first, '\n');
        if (nl)
            *nl = 0;
        return err_set(e, ERR_INTERNAL, "nftables: %s", first);
    }
    return 0;
}
