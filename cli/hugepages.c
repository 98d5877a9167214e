/* Huge pages for the heap (see hugepages.h). Why: each packet looks up
 * its dialog and stream in hash tables spread over 100 MB and more of
 * malloc'd entries; with 4-KiB pages nearly every lookup misses the TLB,
 * and under a hypervisor each miss is a nested page walk. On c10000 the
 * analysis thread spent a tenth of its time on one prefetch that waited
 * for such walks. glibc 2.35+ madvises its heaps (MADV_HUGEPAGE) when
 * glibc.malloc.hugetlb=1, read once at start: hence the exec. */
#include "hugepages.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#define THP_TUNABLE "glibc.malloc.hugetlb"
#define THP_POLICY "/sys/kernel/mm/transparent_hugepage/enabled"

/* The GLIBC_TUNABLES value to run with, in out; false when nothing is to
 * change: the tunable already set either way, another kernel policy, or
 * no room in out. */
static bool tunables(const char *current, const char *policy, char *out, size_t cap)
{
    /* "always [madvise] never": the brackets mark the kernel's choice */
    if (!policy || !strstr(policy, "[madvise]"))
        return false;
    if (current && strstr(current, THP_TUNABLE))
        return false;
    int n = current && current[0] ? snprintf(out, cap, "%s:" THP_TUNABLE "=1", current)
                                  : snprintf(out, cap, THP_TUNABLE "=1");
    return n > 0 && (size_t)n < cap;
}

void hugepages_reexec(char **argv)
{
    char policy[128] = "", val[1024];
    /* setuid or file capabilities: glibc erases the tunable, and the exec
     * would repeat for ever */
    if (getauxval(AT_SECURE))
        return;
    FILE *f = fopen(THP_POLICY, "r");
    if (!f)
        return;
    if (!fgets(policy, sizeof policy, f))
        policy[0] = '\0';
    fclose(f);
    if (!tunables(getenv("GLIBC_TUNABLES"), policy, val, sizeof val))
        return;
    if (setenv("GLIBC_TUNABLES", val, 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* no /proc, or the binary gone: run as we are, and let the tunable
     * stand for any child (there is none today) */
}
