/* TLS key options shared by analyze and capture (see tlsopt.h). The file
 * names appear in messages; the keys never do. */
#include "tlsopt.h"

#include <stdio.h>
#include <string.h>

#include "../capture/pcapng_secrets.h"
#include "../crypto/tlskeys.h"
#include "../engine/engine.h"

/* Adds one option's key file to *keys (created on first use). Returns 0,
 * or 2 after one line on stderr ("PROG: FILE: reason"); a file readable
 * by group or others earns a one-line warning. */
static int cli_tls_option(struct tlskeys **keys, const char *prog, bool keylog, const char *val)
{
    char err[512];
    bool warn = false;
    if (!*keys && !(*keys = tlskeys_new())) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 2;
    }
    int r = keylog ? tlskeys_add_keylog(*keys, val, &warn, err, sizeof err)
                   : tlskeys_add_rsa_spec(*keys, val, &warn, err, sizeof err);
    if (r != 0) {
        fprintf(stderr, "%s: %s %s\n", prog, keylog ? "--tls-keylog" : "--tls-key", err);
        return 2;
    }
    if (warn) {
        const char *file = keylog ? val : strchr(val, '=') + 1;
        fprintf(stderr, "%s: warning: %s is readable by others (it holds TLS secrets: chmod 600)\n",
                prog, file);
    }
    return 0;
}

struct secrets_ctx {
    struct tlskeys **keys;
    bool oom;
};

static void secrets_in(void *ctx, struct bv keylog)
{
    struct secrets_ctx *x = ctx;
    if (!*x->keys && !(*x->keys = tlskeys_new())) {
        x->oom = true;
        return;
    }
    tlskeys_feed_keylog(*x->keys, keylog);
}

/* The TLS key logs of the input files' pcapng Decryption Secrets Blocks
 * into *keys (created when one is found), before the analysis; counts in
 * *c. Standard input is not scanned (it can be read once only). Returns 2
 * after a line on stderr when out of memory, else 0. */
static int cli_tls_secrets(struct tlskeys **keys, const char *prog, const char *const *files,
                           size_t n, struct pcapng_secrets_counts *c)
{
    struct secrets_ctx x = { keys, false };
    for (size_t i = 0; i < n; i++)
        if (strcmp(files[i], "-") != 0)
            (void)pcapng_secrets_file(files[i], secrets_in, &x, c); /* errors: pcapin's */
    if (x.oom) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 2;
    }
    return 0;
}

int cli_tls_opts_add(struct cli_tls_opts *o, const char *prog, bool keylog, const char *val)
{
    if (o->n == sizeof o->val / sizeof o->val[0]) {
        fprintf(stderr, "%s: at most %d --tls-key\n", prog, TS_TLS_RSA_KEYS_MAX);
        return 2;
    }
    o->keylog[o->n] = keylog;
    o->val[o->n++] = val;
    return 0;
}

int cli_tls_opts_load(const struct cli_tls_opts *o, struct tlskeys **keys, const char *prog,
                      const char *const *files, size_t n, struct pcapng_secrets_counts *c)
{
    for (size_t i = 0; i < o->n; i++)
        if (cli_tls_option(keys, prog, o->keylog[i], o->val[i]) != 0)
            return 2;
    return cli_tls_secrets(keys, prog, files, n, c);
}

void cli_tls_secrets_count(struct engine *e, const struct pcapng_secrets_counts *c)
{
    engine_count(e, TS_PCAPNG_SECRETS, c->blocks);
    engine_count(e, TS_PCAPNG_TRUNCATED, c->truncated);
    engine_count(e, TS_PCAPNG_MALFORMED, c->malformed);
    engine_count(e, TS_PCAPNG_SECRETS_UNSUPPORTED, c->unsupported);
    engine_count(e, TS_PCAPNG_SECRETS_OVER_LIMIT, c->over_limit);
}
