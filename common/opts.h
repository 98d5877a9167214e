/* Option parsing of every command (trunkscope's subcommands and gen):
 * getopt_long over a table with whole option names only (no
 * abbreviations), a value as the next argument or after '=', operands
 * handed back in order ("--" is no end of options), one message per
 * mistake. Values are read by the one number parser (num.h). */
#ifndef TS_COMMON_OPTS_H
#define TS_COMMON_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

enum { OPTS_END = -1, OPTS_OPERAND = 1, OPTS_ERROR = '?' };

struct opts {
    const char *prog;           /* message prefix, "trunkscope analyze" */
    const char *unknown_suffix; /* after "unknown option 'X'", e.g. " (try --help)" */
    const struct option *table; /* getopt_long's, ended by an all-zero entry */
    const char *shorts;         /* short options in getopt syntax, "hi:" */
    char *err;                  /* NULL: messages go to stderr with a newline; */
    size_t errlen;              /* else into err (errlen bytes), without one */
    bool started;               /* set by opts_next */
};

/* The next option's val with *arg its value (NULL without one),
 * OPTS_OPERAND with *arg the operand, OPTS_END after the last argument, or
 * OPTS_ERROR after one message ("PROG: unknown option 'X'" or
 * "PROG: X needs a value"); the caller exits 2 then. */
int opts_next(struct opts *o, int argc, char **argv, const char **arg);

#endif
