/* libFuzzer target: the capture file reader (capture/pcapin over libpcap:
 * pcap with either byte order and resolution, pcapng) on a file made from
 * the input, every frame then decoded by the engine down to the call tracker.
 * The input is written to a memory file and opened by its /proc path, the
 * way `trunkscope analyze` opens a capture. It is read twice: frame by frame
 * into a plain engine, and the way analyze reads it (readahead batches, on a
 * thread for odd sizes, decoded there, with prefetches) into a second
 * engine. Oracles: the same frames in the same order, and the same counters
 * (where the decode ran must never change a result). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../calls/calls.h"
#include "../../capture/pcapin.h"
#include "../../capture/readahead.h"
#include "../../common/hash.h"
#include "../../engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Frames per input: bounds the time an input may take. */
#define MAX_FRAMES 4096

static int memfd = -1;
static struct calls_config ccfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("fuzz_pcap", 0);
        if (memfd < 0)
            abort();
        calls_config_default(&ccfg);
        ccfg.max_dialogs = 64; /* small tables: cheap to create, eviction reachable */
    }
    if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
        abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);

    ts_hash_seed_fixed(1, 2);
    struct engine_config cfg = { .dedup = true, .track_calls = true, .calls_cfg = &ccfg };
    struct engine *e = engine_new(&cfg), *e2 = engine_new(&cfg);
    struct pcapin *in = pcapin_new(), *in2 = pcapin_new();
    char err[512];
    uint64_t n1 = 0, sum1 = 0, n2 = 0, sum2 = 0;
    if (e && e2 && in && in2 && pcapin_add(in, path, err, sizeof err) == 0 &&
        pcapin_add(in2, path, err, sizeof err) == 0) {
        struct ts_frame f;
        int r;
        while (n1 < MAX_FRAMES && (r = pcapin_next(in, &f, err, sizeof err)) != 0) {
            if (r > 0) {
                n1++;
                sum1 = sum1 * 31 + f.caplen + f.ts_ns + (f.caplen ? f.data[f.caplen - 1] : 0);
                engine_frame(e, &f);
            }
        }
        engine_finish(e);
        struct readahead *ra =
            readahead_start(in2, engine_decode, engine_decode_spare_size(), size & 1);
        const struct ra_batch *b;
        while (ra && n2 < MAX_FRAMES && (b = readahead_next(ra))) {
            for (size_t i = 0; i < b->n && n2 < MAX_FRAMES; i++) {
                const struct ts_frame *g = &b->f[i];
                const struct ts_pkt *p = &b->pkt[i];
                if (p->next != PKT_NONE && p->next != PKT_TCP &&
                    (p->payload.p < g->data || p->payload.p + p->payload.len > g->data + g->caplen))
                    abort(); /* a view beyond its frame */
                if (i + 6 < b->n)
                    engine_prefetch(e2, &b->f[i + 6], &b->pkt[i + 6]);
                if (i + 2 < b->n)
                    engine_prefetch_more(e2, &b->pkt[i + 2]);
                n2++;
                sum2 = sum2 * 31 + g->caplen + g->ts_ns + (g->caplen ? g->data[g->caplen - 1] : 0);
                engine_packet(e2, g, p);
            }
        }
        readahead_free(ra);
        engine_finish(e2);
        if (ra && (n1 != n2 || sum1 != sum2))
            abort(); /* readahead lost, added or reordered a frame */
        if (ra && memcmp(engine_stats(e), engine_stats(e2), sizeof(struct ts_stats)) != 0)
            abort(); /* decoding on the reader thread changed a result */
    }
    pcapin_free(in);
    pcapin_free(in2);
    engine_free(e);
    engine_free(e2);
    return 0;
}
