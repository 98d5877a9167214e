/* Subcommands of the trunkscope command line. Each returns the exit code:
 * 0 success, 2 bad usage or an input that could not be read. */
#ifndef TS_CLI_H
#define TS_CLI_H

int cmd_analyze(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_capture(int argc, char **argv);

#endif
