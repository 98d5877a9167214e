/* `trunkscope export --db FILE --call ID -o OUT.pcap`: one call's SIP
 * messages (all legs) and RTP/RTCP, re-read from the analysed captures. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/num.h"
#include "../store/store.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: trunkscope export --db FILE --call ID -o OUT.pcap\n"
               "  writes every SIP message of every leg of call ID and its RTP/RTCP,\n"
               "  in time order, read again from the capture files that were analysed\n");
}

int cmd_export(int argc, char **argv)
{
    const char *db = NULL, *out = NULL, *call = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        const char **dst = strcmp(a, "--db") == 0                         ? &db
                           : strcmp(a, "--call") == 0                     ? &call
                           : (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) ? &out
                                                                          : NULL;
        if (!dst) {
            fprintf(stderr, "trunkscope export: unknown option '%s'\n", a);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "trunkscope export: %s needs a value\n", a);
            return 2;
        }
        *dst = argv[++i];
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
    struct st_export_stats st;
    char err[512];
    if (st_export_call(db, (int64_t)id, out, &st, err, sizeof err) != ST_OK) {
        fprintf(stderr, "trunkscope export: %s\n", err);
        return 2;
    }
    printf("call %lld: %u legs, %llu SIP frames, %llu RTP/RTCP frames -> %s\n", (long long)id, st.legs,
           (unsigned long long)st.sip_frames, (unsigned long long)st.media_frames, out);
    if (st.skipped_linktype)
        printf("  %llu frames of another link type left out\n",
               (unsigned long long)st.skipped_linktype);
    return 0;
}
