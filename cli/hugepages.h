/* Transparent huge pages for malloc's heap on the packet paths (analyze,
 * capture, collect): glibc asks the kernel for them only when its tunable
 * glibc.malloc.hugetlb=1 is set before the process starts. */
#ifndef TS_CLI_HUGEPAGES_H
#define TS_CLI_HUGEPAGES_H

/* Runs this program again (same argv and pid) with glibc.malloc.hugetlb=1
 * added to GLIBC_TUNABLES when the kernel gives huge pages only to memory
 * that asks (transparent_hugepage/enabled = madvise) and the tunable is
 * not set either way (the user's choice); returns when it does not (a
 * setuid or file-capability start too), or when exec fails. */
void hugepages_reexec(char **argv);

#endif
