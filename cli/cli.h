/* Subcommands of the trunkscope command line. Each returns the exit code:
 * 0 success, 2 bad usage or an input that could not be read. */
#ifndef TS_CLI_H
#define TS_CLI_H

#include <stdbool.h>
#include <stddef.h>

int cmd_analyze(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_collect(int argc, char **argv);
struct api_server;
/* Wait for SIGINT/SIGTERM, then stop the server; returns the exit code. */
int serve_until_signal(struct api_server *s);
/* Call before starting the server (see serve.c). */
void serve_prepare_signals(void);
const char *cli_default_static_dir(void);
/* Whether ADDR:PORT can be listened on now (checked before a long analysis
 * that ends by serving it); false with a one-line reason in err. */
bool cli_listen_ok(const char *spec, char *err, size_t errlen);

#endif
