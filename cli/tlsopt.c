/* TLS key options shared by analyze and capture (see tlsopt.h). The file
 * names appear in messages; the keys never do. */
#include "tlsopt.h"

#include <stdio.h>
#include <string.h>

#include "../crypto/tlskeys.h"

int cli_tls_option(struct tlskeys **keys, const char *prog, bool keylog, const char *val)
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
