/* libFuzzer target: the endpoint quality report parsers (RFC 6035 vq-rtcpxr
 * bodies, X-RTP-Stat / P-RTP-Stat values). The first byte picks the parser;
 * every view returned must lie inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../dissect/vq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(struct bv in, struct bv v)
{
    if (!v.len)
        return;
    if (!in.p || v.p < in.p || v.len > in.len || (size_t)(v.p - in.p) > in.len - v.len)
        abort();
}

static void sane(const struct vq_metrics *m)
{
    /* parsed numbers are non-negative (absent: -1) and below 1e10 */
    const double *d = &m->mos_lq;
    for (size_t i = 0; i < sizeof *m / sizeof *d; i++)
        if (!(d[i] == -1 || (d[i] >= 0 && d[i] < 1e10)))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct bv in = bv_make(data + 1, size - 1);
    struct vq_report r;
    if (data[0] & 1)
        (void)vq_parse_stat(in, &r);
    else
        (void)vq_parse_rtcpxr(in, &r);
    inside(in, r.call_id);
    inside(in, r.local_id);
    inside(in, r.remote_id);
    inside(in, r.codec);
    sane(&r.local);
    sane(&r.remote);
    (void)vq_is_rtcpxr_type(in);
    return 0;
}
