/* Benchmark floor: the least any analyser must do with a capture file, that
 * is, read every frame through libpcap (via capture/pcapin) and touch every
 * captured byte. Prints frames, bytes and a checksum so nothing is elided. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "../capture/pcapin.h"
#include "../common/bv.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ts_floor FILE...\n");
        return 2;
    }
    struct pcapin *in = pcapin_new();
    char err[512];
    if (!in)
        return 2;
    for (int i = 1; i < argc; i++) {
        if (pcapin_add(in, argv[i], err, sizeof err) != 0) {
            fprintf(stderr, "ts_floor: %s\n", err);
            pcapin_free(in);
            return 2;
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t frames = 0, bytes = 0, sum = 0;
    struct ts_frame f;
    int r;
    while ((r = pcapin_next(in, &f, err, sizeof err)) != 0) {
        if (r < 0) {
            fprintf(stderr, "ts_floor: %s\n", err);
            continue;
        }
        struct bv b = bv_make(f.data, f.caplen);
        for (size_t i = 0; i < b.len; i++)
            sum += (uint64_t)bv_at(b, i);
        frames++;
        bytes += b.len;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("frames %llu bytes %llu sum %llu (%.3f s)\n", (unsigned long long)frames,
           (unsigned long long)bytes, (unsigned long long)sum, s);
    pcapin_free(in);
    return 0;
}
