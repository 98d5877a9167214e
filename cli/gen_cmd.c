/* `trunkscope gen`: writes a synthetic SIP trunk capture and its truth file. */
#include <stdio.h>
#include <string.h>

#include "../gen/gen.h"

int cmd_gen(int argc, char **argv);

/* argv[0] is the subcommand name ("gen"); options follow. Exit status:
 * 0 done, 2 bad usage or an output that cannot be written (one line, as every
 * other command), 1 out of memory or an internal failure. */
int cmd_gen(int argc, char **argv)
{
    struct gen_opts o;
    char err[256];
    gen_opts_default(&o);
    enum gen_err e = gen_parse_args(&o, argc, argv, err, sizeof err);
    if (e != GEN_OK) {
        if (strcmp(err, "help") == 0) {
            fputs(gen_usage(), stdout);
            return 0;
        }
        fprintf(stderr, "trunkscope %s\n", err);
        return 2;
    }
    struct gen_result r;
    e = gen_run_files(&o, &r, err, sizeof err);
    if (e != GEN_OK) {
        fprintf(stderr, "trunkscope %s\n", err);
        return e == GEN_EUSAGE || e == GEN_EIO ? 2 : 1;
    }
    fprintf(stderr, "gen: %llu calls, %llu packets (%llu SIP, %llu RTP, %llu RTCP), %llu frames -> %s\n",
            (unsigned long long)r.calls, (unsigned long long)r.packets,
            (unsigned long long)r.sip_messages, (unsigned long long)r.rtp_packets,
            (unsigned long long)r.rtcp_packets, (unsigned long long)r.frames, o.out_path);
    return 0;
}
