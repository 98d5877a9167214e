/* libFuzzer target: reading spool files back (store/spool_read.c), bytes a
 * sensor wrote to disk that may be torn or damaged: zstd frames of pcap
 * records, read whole and as one indexed block (first or not). Every frame
 * handed out must fit what was decompressed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../store/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_frame(void *ctx, const struct ts_frame *f)
{
    volatile uint8_t sink = 0;
    (void)ctx;
    if (f->caplen > f->wirelen || (f->caplen && !f->data))
        abort();
    for (uint32_t i = 0; i < f->caplen; i += 64) /* every byte handed out is readable */
        sink ^= f->data[i];
    if (f->caplen)
        sink ^= f->data[f->caplen - 1];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct spool_read_stats st = { 0 };
    size_t end = spool_read_all(data, size, on_frame, NULL, &st);
    if (end > size)
        abort();
    spool_read_block(data, size, true, 1, on_frame, NULL, &st);
    spool_read_block(data, size, false, 101, on_frame, NULL, &st);
    return 0;
}
