/* Transparent huge pages for malloc's heap on the packet paths (analyze,
 * capture, collect): glibc asks the kernel for them only when its tunable
 * glibc.malloc.hugetlb=1 is set before the process starts. */
#ifndef TS_CLI_HUGEPAGES_H
#define TS_CLI_HUGEPAGES_H

#include <stdbool.h>
#include <stddef.h>

/* The GLIBC_TUNABLES value to run with (current: the environment's, or
 * NULL) when the kernel's policy (the text of
 * /sys/kernel/mm/transparent_hugepage/enabled, or NULL) gives huge pages
 * only to memory that asks for them. false when nothing is to change: the
 * tunable already set either way (the user's choice), another policy, or
 * no room in out. */
bool thp_tunables(const char *current, const char *policy, char *out, size_t cap);

/* Runs this program again (same argv and pid) with the tunable set when
 * thp_tunables says so; returns when it does not, or when exec fails. */
void thp_reexec(char **argv);

#endif
