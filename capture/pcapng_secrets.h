/* TLS key logs inside pcapng files: the Decryption Secrets Blocks (block
 * type 0x0000000A, draft-ietf-opsawg-pcapng section 4.7) that
 * `editcap --inject-secrets tls,KEYLOG` writes, secrets type 0x544c534b
 * ("TLSK": NSS key log lines). libpcap skips these blocks, so this walks the
 * file's block structure itself (every section's byte order from its
 * Section Header Block) and hands each TLS key log to a callback, before the
 * analysis reads the packets. Other secrets types (WireGuard, ZigBee, ...)
 * and malformed blocks are counted, never fatal. */
#ifndef TS_PCAPNG_SECRETS_H
#define TS_PCAPNG_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/bv.h"

struct pcapng_secrets_counts {
    uint64_t blocks;      /* TLS key log blocks handed over */
    uint64_t truncated;   /* a block longer than the rest of the file */
    uint64_t malformed;   /* a block length or secrets length that cannot be */
    uint64_t unsupported; /* secrets of another kind than a TLS key log */
    uint64_t over_limit;  /* key logs beyond TS_PCAPNG_SECRETS_BYTES_MAX per file */
};

/* Called with the key log text of one block (the view lies in the file). */
typedef void (*pcapng_secrets_fn)(void *ctx, struct bv keylog);

/* Pure: walks the blocks of a whole pcapng file in memory. A file that is
 * not pcapng (classic pcap) is no error: nothing is found. The walk stops
 * at the first block whose length is unusable (counted). */
void pcapng_secrets_scan(struct bv file, pcapng_secrets_fn fn, void *ctx,
                         struct pcapng_secrets_counts *c);

/* The same over a file on disk (mapped, not copied). Standard input ("-")
 * and other files that cannot be mapped are not scanned: returns -1, the
 * packets are still read by pcapin; 0 when scanned. */
int pcapng_secrets_file(const char *path, pcapng_secrets_fn fn, void *ctx,
                        struct pcapng_secrets_counts *c);

#endif
