/* HEP-carried payloads as raw IP/UDP frames (RFC 791, RFC 8200, RFC 768),
 * so that the collector runs the very same path as a capture: SIP detection,
 * dialogs, correlation, RTCP. Uses engine_frame only. */
#include "engine_hep.h"

#include <string.h>

/* Frame scratch per thread: an IPv6 header + UDP header + 64 KiB. */
static _Thread_local uint8_t frame_buf[40 + 8 + 65536];
static _Thread_local uint16_t ip_id;
static _Thread_local uint64_t frame_no;

static void be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t ip4_csum(const uint8_t *h)
{
    uint32_t s = 0;
    for (int i = 0; i < 20; i += 2)
        s += (uint32_t)h[i] << 8 | h[i + 1];
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

int engine_hep(struct engine *e, const struct hep_msg *h, const char *site, uint64_t recv_ns)
{
    uint8_t fam = h->src.family;
    if ((fam != 4 && fam != 6) || h->dst.family != fam)
        return ENGINE_HEP_BAD_ADDR;
    size_t iph = fam == 4 ? 20 : 40;
    size_t plen = h->payload.len;
    if (plen > 65535 - 8 - (fam == 4 ? 20 : 0))
        return ENGINE_HEP_TOO_BIG;
    uint8_t *p = frame_buf;
    memset(p, 0, iph + 8);
    if (fam == 4) {
        p[0] = 0x45;
        be16(p + 2, (uint16_t)(iph + 8 + plen));
        /* a fresh IP ID per message: SPAN de-duplication must not merge
         * two sensors' copies or genuine retransmissions */
        be16(p + 4, ++ip_id);
        p[8] = 64;
        p[9] = 17;
        memcpy(p + 12, h->src.a, 4);
        memcpy(p + 16, h->dst.a, 4);
        be16(p + 10, ip4_csum(p));
    } else {
        p[0] = 0x60;
        be16(p + 4, (uint16_t)(8 + plen));
        p[6] = 17;
        p[7] = 64;
        memcpy(p + 8, h->src.a, 16);
        memcpy(p + 24, h->dst.a, 16);
    }
    uint8_t *u = p + iph;
    be16(u, h->sport);
    be16(u + 2, h->dport);
    be16(u + 4, (uint16_t)(8 + plen));
    if (plen)
        memcpy(u + 8, h->payload.p, plen);
    struct ts_frame f;
    memset(&f, 0, sizeof f);
    f.ts_ns = h->ts_ns ? h->ts_ns : recv_ns;
    f.frame_no = ++frame_no;
    f.linktype = 101; /* LINKTYPE_RAW */
    f.caplen = f.wirelen = (uint32_t)(iph + 8 + plen);
    f.data = p;
    f.site = site;
    engine_frame(e, &f);
    return ENGINE_HEP_OK;
}
