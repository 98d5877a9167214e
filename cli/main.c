/* trunkscope command-line entry: dispatches to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "../common/version.h"
#include "cli.h"
#include "hugepages.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: trunkscope COMMAND [options]\n"
            "  analyze FILE...   analyse pcap/pcapng files ('-' = stdin)\n"
            "  capture -i IFACE  live sensor on a mirror (SPAN) port\n"
            "  serve --db FILE   JSON API and dashboard (serve --help)\n"
            "  collect --hep-listen ADDR:PORT  central HEP collector for many sensors\n"
            "  gen -o FILE.pcap  generate SIP trunk traffic with a truth file\n"
            "  export --db FILE --call ID -o OUT.pcap\n"
            "                    one call's SIP (all legs) and RTP/RTCP as pcap\n"
            "run 'trunkscope COMMAND --help' for the options of a command,\n"
            "'trunkscope --version' (or COMMAND --version) for the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    /* --version anywhere on the line answers before any other work; no
     * option takes a value spelt "--version" */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--version") == 0 || (i == 1 && strcmp(argv[i], "version") == 0)) {
            printf("trunkscope %s\n", ts_version());
            return 0;
        }
    /* the packet paths: their tables want huge pages (hugepages.c says why) */
    if (strcmp(cmd, "analyze") == 0 || strcmp(cmd, "capture") == 0 || strcmp(cmd, "collect") == 0)
        hugepages_reexec(argv);
    if (strcmp(cmd, "analyze") == 0)
        return cmd_analyze(argc - 1, argv + 1);
    if (strcmp(cmd, "collect") == 0)
        return cmd_collect(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "capture") == 0)
        return cmd_capture(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0)
        return cmd_export(argc - 1, argv + 1);
    if (strcmp(cmd, "gen") == 0)
        return cmd_gen(argc - 1, argv + 1);
    fprintf(stderr, "trunkscope: unknown command '%s' (try --help)\n", cmd);
    return 2;
}
