/* trunkscope command-line entry: dispatches to the subcommands. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: trunkscope analyze|gen ...\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "trunkscope: unknown command '%s'\n", argv[1]);
    return 2;
}
