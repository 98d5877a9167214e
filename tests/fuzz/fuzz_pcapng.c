/* libFuzzer target: the pcapng block walk that finds Decryption Secrets
 * Blocks (capture/pcapng_secrets.c), and the key log parser fed with what
 * it finds (crypto/keylog.c, as analyze does). Oracles: every key log view
 * lies inside the input, the blocks found never exceed the per-file byte
 * limit, and a scan of the same bytes gives the same counts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../capture/pcapng_secrets.h"
#include "../../common/limits.h"
#include "../../crypto/keylog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
    struct bv in;
    struct keylog *k;
    uint64_t bytes;
};

static void got(void *p, struct bv kl)
{
    struct ctx *x = p;
    if (kl.len && (kl.p < x->in.p || kl.len > x->in.len ||
                   (size_t)(kl.p - x->in.p) > x->in.len - kl.len))
        abort();
    x->bytes += kl.len;
    keylog_feed(x->k, kl);
    keylog_feed(x->k, bv_cstr("\n"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ctx x = { bv_make(data, size), keylog_new(), 0 };
    struct pcapng_secrets_counts c = { 0 }, c2 = { 0 };
    if (!x.k)
        return 0;
    pcapng_secrets_scan(x.in, got, &x, &c);
    if (x.bytes > TS_PCAPNG_SECRETS_BYTES_MAX)
        abort();
    uint64_t bytes = x.bytes;
    pcapng_secrets_scan(x.in, got, &x, &c2);
    if (memcmp(&c, &c2, sizeof c) != 0 || x.bytes != 2 * bytes)
        abort();
    keylog_free(x.k);
    return 0;
}
