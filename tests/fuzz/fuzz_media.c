/* libFuzzer target: the RTP, RTCP and SDP parsers and the media analysis
 * (stream table, RTCP state, SDP endpoints) fed with one UDP payload. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dissect/rtp.h"
#include "../../dissect/sdp.h"
#include "../../media/media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct rtcp_compound rc;
    static struct sdp sdp;
    static struct media *m;
    static uint64_t t = 1700000000ull * 1000000000ull;
    struct bv in = bv_make(data, size);
    struct rtp_hdr h;
    struct rtp_event ev;
    if (rtp_parse(in, &h) == RTP_OK)
        (void)rtp_event_parse(h.payload, &ev);
    (void)rtp_looks_like(in);
    (void)rtcp_parse(in, &rc);
    (void)rtcp_looks_like(in);
    (void)sdp_parse(in, &sdp);

    /* One analyser across inputs (bounded by its own limits), recycled now
     * and then so that finishing and freeing are exercised too. */
    if (!m) {
        struct media_config c;
        media_config_default(&c);
        c.max_streams = 64;
        c.max_report = 256;
        m = media_new(&c, NULL);
        if (!m)
            return 0;
    }
    t += 20000000ull;
    struct pkt_meta pm;
    memset(&pm, 0, sizeof pm);
    pm.ts_ns = t;
    pm.l4 = 17;
    pm.ipver = 4;
    pm.src.family = pm.dst.family = 4;
    pm.src.a[0] = 10;
    pm.dst.a[0] = 10;
    pm.src.a[3] = size ? data[0] & 3 : 0;
    pm.dst.a[3] = 9;
    pm.sport = (uint16_t)(4000 + (size > 1 ? data[1] & 7 : 0));
    pm.dport = 5000;
    /* SDP media sections announce endpoints first. */
    for (unsigned i = 0; i < sdp.nmedia && i < TS_SDP_MAX_MEDIA; i++) {
        struct media_sdp_info info;
        media_sdp_info_from(&sdp.media[i], &info);
        media_expect(m, &pm.dst, sdp.media[i].port, sdp.media[i].rtcp_mux, 1 + i, 1, t, &info);
    }
    (void)media_udp(m, &pm, in);
    pm.dport = 5001;
    (void)media_udp(m, &pm, in);
    if (size > 2 && data[2] == 0xff) {
        media_leg_answered(m, 1, t);
        media_leg_ended(m, 1, t);
        media_capture_gap(m, t - 1000000000ull, t);
    }
    media_tick(m, t);
    static unsigned runs;
    if (++runs % 512 == 0) {
        media_finish(m);
        media_free(m);
        m = NULL;
    }
    return 0;
}
