/* libFuzzer target: the whole packet path from link-layer frames through IP
 * fragments, TCP reassembly, SIP framing and the call tracker. Input: a
 * sequence of records [u8 linktype selector][u16 length][frame bytes].
 * Each input gets a fresh engine (deterministic replays); its call tracker is
 * created with 64 dialogs, which makes creation cheap (the default tables cost
 * ~1 ms an input under ASan) and eviction reachable. Run with -max_len=16384.
 * Frames go in the way analyze gives them (engine_decode() with a spare
 * buffer, the prefetches, engine_packet()); for one input in four a second
 * engine takes the same frames through engine_frame() (no SIP parsed ahead),
 * and every counter must agree. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../calls/calls.h"
#include "../../common/hash.h"
#include "../../engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int linktypes[] = { 1, 113, 276, 101, 12, 14, 228, 229, 0, 108 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct calls_config ccfg;
    if (!ccfg.max_dialogs) {
        calls_config_default(&ccfg);
        ccfg.max_dialogs = 64;
    }
    ts_hash_seed_fixed(1, 2);
    struct engine_config cfg = { .dedup = true, .track_calls = true, .calls_cfg = &ccfg };
    struct engine *e = engine_new(&cfg);
    struct engine *plain = size % 4 == 0 ? engine_new(&cfg) : NULL;
    if (!e) {
        engine_free(plain);
        return 0;
    }
    struct bv in = bv_make(data, size);
    uint64_t ts = 1700000000ull * 1000000000ull;
    uint64_t n = 0;
    uint8_t sel;
    uint16_t len;
    while (bv_u8(&in, &sel) && bv_be16(&in, &len)) {
        struct bv frame;
        if (!bv_take(&in, len, &frame))
            frame = in, in = bv_from(in, in.len);
        struct ts_frame f = {
            .ts_ns = ts, .frame_no = ++n, .linktype = linktypes[sel % 10],
            .caplen = (uint32_t)frame.len, .wirelen = (uint32_t)frame.len, .data = frame.p,
        };
        if (sel & 8) /* cut by a snap length: a header-only capture */
            f.wirelen += 1000;
        /* a selector's high bits move time forward, to reach the timeouts */
        ts += (uint64_t)(sel >> 4) * 400000000ull;
        struct ts_pkt p;
        static void *spare; /* the parsed SIP message of a decoded packet */
        if (!spare && !(spare = malloc(engine_decode_spare_size())))
            abort();
        engine_decode(&f, &p, spare);
        if (p.next != PKT_NONE && p.next != PKT_TCP &&
            (p.payload.p < f.data || p.payload.p + p.payload.len > f.data + f.caplen))
            abort(); /* a view beyond its frame */
        if (p.sip && (p.sip_raw.p < p.payload.p ||
                      p.sip_raw.p + p.sip_raw.len > p.payload.p + p.payload.len))
            abort(); /* a parsed message of other bytes */
        if (p.cnt_pre > p.ncnt || p.ncnt > TS_PKT_MAX_COUNTS)
            abort();
        engine_prefetch(e, &f, &p);
        engine_prefetch_more(e, &p);
        engine_packet(e, &f, &p);
        if (plain)
            engine_frame(plain, &f);
    }
    engine_finish(e);
    if (plain) {
        engine_finish(plain);
        if (memcmp(engine_stats(e), engine_stats(plain), sizeof(struct ts_stats)) != 0)
            abort(); /* what the decode added changed a result */
        engine_free(plain);
    }
    engine_free(e);
    return 0;
}
