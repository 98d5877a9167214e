/* libFuzzer target: the SDP parser (RFC 8866, offer/answer RFC 3264) and its
 * lookups: first audio section, effective connection, codec per payload type. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../dissect/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A view the parser returned must lie inside the body. */
static void inside(struct bv body, struct bv v)
{
    if (!v.len)
        return;
    if (!body.p || v.p < body.p || v.len > body.len ||
        (size_t)(v.p - body.p) > body.len - v.len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sdp s;
    struct bv body = bv_make(data, size);
    (void)sdp_parse(body, &s);
    if (s.nmedia > TS_SDP_MAX_MEDIA)
        abort();
    inside(body, s.session_name);
    inside(body, s.origin.addr);
    inside(body, s.conn.addr_str);
    for (size_t i = 0; i < s.nmedia; i++) {
        const struct sdp_media *m = &s.media[i];
        if (m->nfmt > TS_SDP_MAX_FORMATS || m->nrtpmap > TS_SDP_MAX_FORMATS ||
            m->nfmtp > TS_SDP_MAX_FORMATS)
            abort();
        inside(body, m->fmt_str);
        inside(body, m->label);
        for (size_t k = 0; k < m->nrtpmap; k++)
            inside(body, m->rtpmap[k].name);
        for (size_t k = 0; k < m->nfmtp; k++)
            inside(body, m->fmtp[k].params);
        const struct sdp_conn *c = sdp_media_conn(&s, m);
        if (c)
            inside(body, c->addr_str);
        (void)sdp_proto_is_rtp(m->proto);
        for (unsigned pt = 0; pt < 128; pt += 1 + (pt >= 35) * 30) {
            struct bv name;
            uint32_t clock;
            (void)sdp_codec_for_pt(m, (uint8_t)pt, &name, &clock);
        }
    }
    (void)sdp_first_audio(&s);
    return 0;
}
