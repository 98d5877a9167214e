/* libFuzzer target: the SIP parser and its structured readers, the
 * read-ahead Call-ID peek, the datagram splitter and the stream framer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../dissect/sip.h"
#include "../../dissect/sipframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sip_msg m;
    struct bv in = bv_make(data, size);
    /* the read-ahead Call-ID: a view inside the input, or nothing */
    struct bv cid = sip_callid_peek(in);
    if (cid.p && (cid.p < data || cid.p + cid.len > data + size))
        abort();
    for (int stream = 0; stream < 2; stream++) {
        if (sip_parse(data, size, stream, &m) != SIP_OK)
            continue;
        for (int id = 1; id < SIP_H_COUNT; id++) {
            size_t it = 0;
            struct bv v;
            int guard = 0;
            while (sip_hdr_next(&m, (enum sip_hdr_id)id, &it, &v) && guard++ < 512) {
                struct sip_nameaddr na;
                struct sip_via via;
                struct sip_reason r;
                struct bv l, rem;
                uint32_t seq;
                struct bv meth;
                (void)sip_nameaddr_parse(v, &na);
                (void)sip_via_parse(v, &via);
                (void)sip_reason_parse(v, &r);
                (void)sip_session_id_parse(v, &l, &rem);
                (void)sip_cseq_parse(v, &seq, &meth);
            }
        }
        struct sip_uri u;
        (void)sip_uri_parse(m.ruri, &u);
        (void)sip_hdr_get(&m, "X-CID");
    }
    (void)sip_looks_like(in);
    struct bv msgs[8];
    (void)sip_datagram_split(in, msgs, 8);

    /* Stream framer: the same bytes fed in two pieces. */
    struct sip_stream s;
    struct ts_stats st = { { 0 } };
    sip_stream_init(&s);
    size_t cut = size ? data[0] % (size + 1) : 0;
    sip_stream_feed(&s, bv_make(data, cut), NULL, NULL, &st);
    sip_stream_feed(&s, bv_from(in, cut), NULL, NULL, &st);
    sip_stream_cleanup(&s);
    return 0;
}
