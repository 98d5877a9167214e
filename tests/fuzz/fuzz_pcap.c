/* libFuzzer target: the capture file reader (capture/pcapin over libpcap:
 * pcap with either byte order and resolution, pcapng) on a file made from
 * the input, every frame then decoded by the engine down to the call tracker.
 * The input is written to a memory file and opened by its /proc path, the
 * way `trunkscope analyze` opens a capture. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../calls/calls.h"
#include "../../capture/pcapin.h"
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
    struct engine *e = engine_new(&cfg);
    struct pcapin *in = pcapin_new();
    char err[512];
    if (e && in && pcapin_add(in, path, err, sizeof err) == 0) {
        struct ts_frame f;
        int r, n = 0;
        while (n++ < MAX_FRAMES && (r = pcapin_next(in, &f, err, sizeof err)) != 0) {
            if (r > 0)
                engine_frame(e, &f);
        }
        engine_finish(e);
    }
    pcapin_free(in);
    engine_free(e);
    return 0;
}
