/* getopt_long with trunkscope's rules (opts.h): the C library walks argv,
 * this file only rejects abbreviations and words the two errors the way
 * every command always has. */
#include "opts.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One message: to o->err when the caller gave a buffer, else a line on stderr. */
static void say(const struct opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (o->err && o->errlen) {
        vsnprintf(o->err, o->errlen, fmt, ap);
    } else {
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    va_end(ap);
}

int opts_next(struct opts *o, int argc, char **argv, const char **arg)
{
    char spec[64];
    /* '-': operands come back in order as 1; ':': a missing value is ':' */
    snprintf(spec, sizeof spec, "-:%s", o->shorts ? o->shorts : "");
    if (!o->started) {
        o->started = true;
        optind = 0; /* glibc: start over for this argv */
    }
    opterr = 0;
    int at = optind ? optind : 1;
    const char *cur = at < argc ? argv[at] : "";
    if (strcmp(cur, "--") == 0) { /* no command takes operands that look like options */
        say(o, "%s: unknown option '--'%s", o->prog, o->unknown_suffix ? o->unknown_suffix : "");
        return OPTS_ERROR;
    }
    int li = -1;
    int c = getopt_long(argc, argv, spec, o->table, &li);
    *arg = optarg;
    if (c == -1)
        return OPTS_END;
    if (c == 1)
        return OPTS_OPERAND;
    if (c == ':') {
        say(o, "%s: %s needs a value", o->prog, argv[optind - 1]);
        return OPTS_ERROR;
    }
    /* a long option must be spelt out: "--js" is not "--json" */
    if (c != '?' && li >= 0 && strncmp(cur, "--", 2) == 0 &&
        strcspn(cur + 2, "=") != strlen(o->table[li].name))
        c = '?';
    if (c == '?') {
        say(o, "%s: unknown option '%s'%s", o->prog, cur,
            o->unknown_suffix ? o->unknown_suffix : "");
        return OPTS_ERROR;
    }
    return c;
}
