/* trunkscope command-line entry: dispatches to the subcommands. */
#include <stdbool.h>
#include <stddef.h>
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

/* packets: a packet path (analyze, capture, collect) */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    bool packets;
} commands[] = {
    { "analyze", cmd_analyze, true }, { "collect", cmd_collect, true },
    { "serve", cmd_serve, false },    { "capture", cmd_capture, true },
    { "export", cmd_export, false },  { "gen", cmd_gen, false },
};

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
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(cmd, commands[i].name) != 0)
            continue;
        if (commands[i].packets) /* their tables want huge pages (hugepages.c) */
            hugepages_reexec(argv);
        return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "trunkscope: unknown command '%s' (try --help)\n", cmd);
    return 2;
}
