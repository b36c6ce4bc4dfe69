/* fuzz_http.c — libFuzzer target: the incremental HTTP/1.1 request parser (http_parse.c) as
 * the server drives it. The first input byte picks how the rest is cut into reads; the
 * verdict (requests parsed, their methods and targets, the error status) must be the same
 * as when all bytes arrive at once. Every complete request is taken, its query and headers
 * read and freed, as a handler would. */
#include "http/http_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct verdict {
    int nreq, err;
    unsigned long sum; /* of the methods', targets' and bodies' lengths and first bytes */
};

static void use_request(struct http_ireq *r, struct verdict *v)
{
    char *q = http_query_get(&r->pub, "filters");
    free(q);
    q = http_query_get(&r->pub, "version");
    free(q);
    for (size_t i = 0; i < r->pub.nheaders; i++)
        (void)http_req_header(&r->pub, r->pub.headers[i].name);
    v->nreq++;
    v->sum = v->sum * 31 + strlen(r->pub.method) * 7 + strlen(r->pub.target) * 13 +
             r->pub.body_len + (unsigned char)r->pub.target[0];
    http_ireq_free(r);
}

static void run(const char *p, size_t n, size_t step, struct verdict *v)
{
    struct http_parser ps;
    http_parser_init(&ps, 4096, 1 << 16);
    memset(v, 0, sizeof(*v));
    size_t off = 0;
    while (off < n) {
        size_t len = n - off < step ? n - off : step;
        size_t used = 0;
        int rc = http_parser_feed(&ps, p + off, len, &used);
        if (used > len)
            abort(); /* consumed more than it was given */
        off += used;
        if (rc == HTTP_PARSE_ERROR) {
            v->err = ps.err_status;
            break;
        }
        if (rc == HTTP_PARSE_DONE)
            use_request(http_parser_take(&ps), v);
        else if (used != len)
            abort(); /* MORE means every byte was taken */
    }
    http_parser_release(&ps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = data[0] % 16 == 0 ? 1 : data[0] % 16;
    struct verdict whole, pieces;
    run((const char *)data + 1, size - 1, size, &whole);
    run((const char *)data + 1, size - 1, step, &pieces);
    if (whole.nreq != pieces.nreq || whole.err != pieces.err || whole.sum != pieces.sum)
        abort(); /* the verdict depends on how the bytes arrived */
    return 0;
}
