/* `trunkscope export --db FILE --call ID -o OUT.pcap`: one call's SIP
 * messages (all legs) and RTP/RTCP, re-read from the analysed captures. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/num.h"
#include "../store/store.h"
#include "cli.h"
#include "opts.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: trunkscope export --db FILE --call ID -o OUT.pcap ('-' = standard output)\n"
               "  writes every SIP message of every leg of call ID and its RTP/RTCP,\n"
               "  in time order, read again from the capture files that were analysed\n");
}

int cmd_export(int argc, char **argv)
{
    const char *db = NULL, *out = NULL, *call = NULL;
    static const struct option table[] = {
        { "db", required_argument, NULL, 'd' },
        { "call", required_argument, NULL, 'c' },
        { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct opts op = { .prog = "trunkscope export", .table = table, .shorts = "ho:" };
    const char *v;
    for (int c; (c = opts_next(&op, argc, argv, &v)) != OPTS_END;) {
        switch (c) {
        case 'd':
            db = v;
            break;
        case 'c':
            call = v;
            break;
        case 'o':
            out = v;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case OPTS_OPERAND:
            fprintf(stderr, "trunkscope export: unknown option '%s'\n", v);
            return 2;
        default:
            return 2;
        }
    }
    if (!db || !out || !call) {
        usage(stderr);
        return 2;
    }
    int64_t id;
    if (!num_i64(call, 1, INT64_MAX, &id)) {
        fprintf(stderr, "trunkscope export: --call needs a positive call id, not '%s'\n", call);
        return 2;
    }
    /* a read-only command: a mistyped path must not leave an empty database */
    struct stat sb;
    if (stat(db, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "trunkscope export: %s: no such database (expected the file given to "
                        "analyze, capture or collect as --db)\n", db);
        return 2;
    }
    struct st_export_stats st;
    char err[512];
    if (st_export_call(db, (int64_t)id, out, &st, err, sizeof err) != ST_OK) {
        fprintf(stderr, "trunkscope export: %s\n", err);
        return 2;
    }
    /* with -o - the pcap is on stdout: the summary goes to stderr */
    FILE *sum = strcmp(out, "-") == 0 ? stderr : stdout;
    fprintf(sum, "call %lld: %u legs, %llu SIP frames, %llu RTP/RTCP frames -> %s\n", (long long)id,
            st.legs, (unsigned long long)st.sip_frames, (unsigned long long)st.media_frames,
            strcmp(out, "-") == 0 ? "standard output" : out);
    if (st.skipped_linktype)
        fprintf(sum, "  %llu frames of another link type left out\n",
               (unsigned long long)st.skipped_linktype);
    return 0;
}
