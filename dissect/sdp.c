/* SDP body parser: RFC 8866 5 (v o s c m a lines), 6 (rtpmap, fmtp, ptime,
 * maxptime, direction), RFC 3605 a=rtcp, RFC 5761 a=rtcp-mux, RFC 4568
 * a=crypto, RFC 8122 a=fingerprint, RFC 4574 a=label, RFC 3264 8.4 hold. */
#include "sdp.h"

#include <stddef.h>

#include <arpa/inet.h>
#include <string.h>

#include "rtp.h"

static bool is_sp(int c)
{
    return c == ' ' || c == '\t';
}

/* Next whitespace-separated token of *b; false when none is left. */
static bool sdp_tok(struct bv *b, struct bv *tok)
{
    size_t i = 0;
    while (i < b->len && is_sp(bv_at(*b, i)))
        i++;
    size_t j = i;
    while (j < b->len && !is_sp(bv_at(*b, j)))
        j++;
    if (j == i) {
        *b = bv_from(*b, b->len);
        return false;
    }
    (void)bv_sub(*b, i, j - i, tok);
    *b = bv_from(*b, j);
    return true;
}

/* Split b at the first c: *head before it, *tail after (empty when absent). */
static void sdp_split(struct bv b, uint8_t c, struct bv *head, struct bv *tail)
{
    long i = bv_index(b, c);
    if (i < 0) {
        *head = b;
        *tail = bv_from(b, b.len);
        return;
    }
    *head = bv_head(b, (size_t)i);
    *tail = bv_from(b, (size_t)i + 1);
}

static bool sdp_pt(struct bv t, uint8_t *pt)
{
    uint32_t v;
    if (!bv_u32dec(t, &v) || v > 127)
        return false;
    *pt = (uint8_t)v;
    return true;
}

/* Fill family/addr/hold from an address literal; family 0 for an FQDN. */
static void sdp_addr(struct sdp_conn *c)
{
    char buf[64];
    c->family = 0;
    memset(c->addr, 0, sizeof c->addr);
    if (c->addr_str.len == 0 || c->addr_str.len >= sizeof buf)
        return;
    bv_to_cstr(c->addr_str, buf, sizeof buf);
    /* Try the declared family first; some peers mislabel it. */
    bool v6first = bv_eq_ci(c->addrtype, "IP6");
    for (int k = 0; k < 2; k++) {
        bool v6 = (k == 0) == v6first;
        if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, c->addr) == 1) {
            c->family = v6 ? 6 : 4;
            break;
        }
    }
    if (c->family == 4) {
        static const uint8_t zero[4];
        c->hold = memcmp(c->addr, zero, 4) == 0;
    }
}

/* "nettype addrtype address[/ttl][/count]" (RFC 8866 5.7). */
static bool sdp_conn_parse(struct bv v, struct sdp_conn *c)
{
    struct bv nettype, addrtype, addr, rest;
    memset(c, 0, sizeof *c);
    if (!sdp_tok(&v, &nettype) || !sdp_tok(&v, &addrtype) || !sdp_tok(&v, &addr))
        return false;
    sdp_split(addr, '/', &c->addr_str, &rest);
    if (c->addr_str.len == 0)
        return false;
    c->addrtype = addrtype;
    c->present = true;
    sdp_addr(c);
    return true;
}

static void sdp_origin_parse(struct bv v, struct sdp *s)
{
    struct sdp_origin *o = &s->origin;
    memset(o, 0, sizeof *o);
    if (!sdp_tok(&v, &o->username) || !sdp_tok(&v, &o->sess_id) ||
        !sdp_tok(&v, &o->sess_version) || !sdp_tok(&v, &o->nettype) ||
        !sdp_tok(&v, &o->addrtype) || !sdp_tok(&v, &o->addr)) {
        s->flags |= SDP_F_BAD_ORIGIN;
        return;
    }
    o->present = true;
    if (!bv_u64dec(o->sess_version, &o->sess_version_num))
        o->sess_version_num = 0;
}

static const struct {
    const char *name;
    enum sdp_proto proto;
} protos[] = {
    { "RTP/AVP", SDP_PROTO_RTP_AVP },
    { "RTP/AVPF", SDP_PROTO_RTP_AVPF },
    { "RTP/SAVP", SDP_PROTO_RTP_SAVP },
    { "RTP/SAVPF", SDP_PROTO_RTP_SAVPF },
    { "UDP/TLS/RTP/SAVP", SDP_PROTO_UDP_TLS_RTP_SAVP },
    { "UDP/TLS/RTP/SAVPF", SDP_PROTO_UDP_TLS_RTP_SAVPF },
    { "udptl", SDP_PROTO_UDPTL },
    { "TCP", SDP_PROTO_TCP },
};

static const struct {
    const char *name;
    enum sdp_media_type type;
} media_types[] = {
    { "audio", SDP_MEDIA_AUDIO }, { "video", SDP_MEDIA_VIDEO },
    { "image", SDP_MEDIA_IMAGE }, { "application", SDP_MEDIA_APPLICATION },
    { "text", SDP_MEDIA_TEXT },   { "message", SDP_MEDIA_MESSAGE },
};

/* "media port[/number] proto fmt ..." (RFC 8866 5.14). */
static bool sdp_media_parse(struct bv v, struct sdp_media *m, uint32_t *flags)
{
    struct bv type, portspec, proto, port, nports, t;
    uint32_t n;
    if (!sdp_tok(&v, &type) || !sdp_tok(&v, &portspec) || !sdp_tok(&v, &proto))
        return false;
    sdp_split(portspec, '/', &port, &nports);
    if (!bv_u32dec(port, &n) || n > 65535)
        return false;
    m->port = (uint16_t)n;
    m->nports = 1;
    if (nports.len) {
        if (!bv_u32dec(nports, &n) || n == 0 || n > 65535)
            return false;
        m->nports = (uint16_t)n;
    }
    m->type_str = type;
    for (size_t i = 0; i < sizeof media_types / sizeof media_types[0]; i++)
        if (bv_eq_ci(type, media_types[i].name)) {
            m->type = media_types[i].type;
            break;   /* the names differ: at most one matches */
        }
    m->proto_str = proto;
    for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++)
        if (bv_eq_ci(proto, protos[i].name)) {
            m->proto = protos[i].proto;
            break;
        }
    if (m->proto == SDP_PROTO_OTHER && bv_prefix_ci(proto, "TCP/"))
        m->proto = SDP_PROTO_TCP;
    m->fmt_str = bv_trim(v);
    while (sdp_tok(&v, &t)) {
        uint8_t pt;
        if (!sdp_pt(t, &pt))
            continue; /* "t38", "*", "webrtc-datachannel"... stay in fmt_str */
        if (m->nfmt >= TS_SDP_MAX_FORMATS) {
            *flags |= SDP_F_TOO_MANY_FORMATS;
            continue;
        }
        m->fmt[m->nfmt++] = pt;
    }
    return true;
}

/* "pt encoding/clock[/channels]" (RFC 8866 6.6). */
static bool sdp_rtpmap_parse(struct bv v, struct sdp_rtpmap *r)
{
    struct bv pt, enc, name, rest, clock, chans;
    uint32_t n;
    if (!sdp_tok(&v, &pt) || !sdp_tok(&v, &enc) || !sdp_pt(pt, &r->pt))
        return false;
    sdp_split(enc, '/', &name, &rest);
    sdp_split(rest, '/', &clock, &chans);
    if (name.len == 0 || !bv_u32dec(clock, &r->clock))
        return false;
    r->name = name;
    r->channels = 1;
    if (chans.len) {
        if (!bv_u32dec(chans, &n) || n == 0 || n > 255)
            return false;
        r->channels = (uint8_t)n;
    }
    return true;
}

/* Milliseconds from "20" or "20.0" (some peers write a fraction). */
static bool sdp_ms(struct bv v, uint32_t *out)
{
    struct bv ip, frac;
    sdp_split(bv_trim(v), '.', &ip, &frac);
    return bv_u32dec(ip, out);
}

/* The attributes we read (names are case-insensitive). */
enum sdp_attr_id {
    A_OTHER = 0, A_SENDRECV, A_SENDONLY, A_RECVONLY, A_INACTIVE, A_FINGERPRINT, A_RTPMAP,
    A_FMTP, A_PTIME, A_MAXPTIME, A_RTCP, A_RTCP_MUX, A_CRYPTO, A_LABEL,
};

/* By length first: one comparison per a= line instead of a dozen. */
static enum sdp_attr_id sdp_attr_of(struct bv n)
{
#define A(lit, id) if (bv_eq_ci(n, lit)) return id
    switch (n.len) {
    case 4: A("fmtp", A_FMTP); A("rtcp", A_RTCP); break;
    case 5: A("ptime", A_PTIME); A("label", A_LABEL); break;
    case 6: A("rtpmap", A_RTPMAP); A("crypto", A_CRYPTO); break;
    case 8:
        A("sendrecv", A_SENDRECV); A("sendonly", A_SENDONLY); A("recvonly", A_RECVONLY);
        A("inactive", A_INACTIVE); A("maxptime", A_MAXPTIME); A("rtcp-mux", A_RTCP_MUX);
        break;
    case 11: A("fingerprint", A_FINGERPRINT); break;
    default: break;
    }
#undef A
    return A_OTHER;
}

/* One a= line; m is NULL at session level. */
static void sdp_attr(struct sdp *s, struct sdp_media *m, struct bv v)
{
    struct bv name, val;
    sdp_split(v, ':', &name, &val);
    name = bv_trim(name);
    enum sdp_attr_id id = sdp_attr_of(name);
    if (id == A_OTHER)
        return;
    val = bv_trim(val);
    if (id >= A_SENDRECV && id <= A_INACTIVE) {
        enum sdp_dir d = id == A_SENDRECV   ? SDP_DIR_SENDRECV
                         : id == A_SENDONLY ? SDP_DIR_SENDONLY
                         : id == A_RECVONLY ? SDP_DIR_RECVONLY
                                            : SDP_DIR_INACTIVE;
        if (m)
            m->dir_attr = d;
        else
            s->dir = d;
        return;
    }
    if (id == A_FINGERPRINT) {
        if (m)
            m->fingerprint = true;
        else
            s->fingerprint = true;
        return;
    }
    if (!m)
        return; /* the rest are media-level attributes */
    if (id == A_RTPMAP) {
        struct sdp_rtpmap r = { 0 };
        if (!sdp_rtpmap_parse(val, &r)) {
            s->flags |= SDP_F_BAD_ATTR;
        } else if (m->nrtpmap >= TS_SDP_MAX_FORMATS) {
            s->flags |= SDP_F_TOO_MANY_FORMATS;
        } else {
            m->rtpmap[m->nrtpmap++] = r;
        }
    } else if (id == A_FMTP) {
        struct bv pt;
        struct sdp_fmtp f = { 0 };
        if (!sdp_tok(&val, &pt) || !sdp_pt(pt, &f.pt)) {
            s->flags |= SDP_F_BAD_ATTR;
        } else if (m->nfmtp >= TS_SDP_MAX_FORMATS) {
            s->flags |= SDP_F_TOO_MANY_FORMATS;
        } else {
            f.params = bv_trim(val);
            m->fmtp[m->nfmtp++] = f;
        }
    } else if (id == A_PTIME) {
        if (!sdp_ms(val, &m->ptime))
            s->flags |= SDP_F_BAD_ATTR;
    } else if (id == A_MAXPTIME) {
        if (!sdp_ms(val, &m->maxptime))
            s->flags |= SDP_F_BAD_ATTR;
    } else if (id == A_RTCP) {
        /* "port [nettype addrtype address]" (RFC 3605 2.1) */
        struct bv port;
        uint32_t n;
        if (!sdp_tok(&val, &port) || !bv_u32dec(port, &n) || n == 0 || n > 65535) {
            s->flags |= SDP_F_BAD_ATTR;
            return;
        }
        m->rtcp_port = (uint16_t)n;
        if (bv_trim(val).len && !sdp_conn_parse(val, &m->rtcp_conn))
            s->flags |= SDP_F_BAD_ATTR;
    } else if (id == A_RTCP_MUX) {
        m->rtcp_mux = true;
    } else if (id == A_CRYPTO) {
        m->crypto = true;
        if (m->ncrypto < TS_SDP_MAX_CRYPTO)
            m->crypto_val[m->ncrypto++] = val;
    } else if (id == A_LABEL) {
        m->label = val;
    }
}

/* Effective values once every line is read (lines may come in any order). */
static void sdp_finish(struct sdp *s)
{
    for (uint8_t i = 0; i < s->nmedia; i++) {
        struct sdp_media *m = &s->media[i];
        m->dir = m->dir_attr ? m->dir_attr : s->dir ? s->dir : SDP_DIR_SENDRECV;
        if (s->fingerprint)
            m->fingerprint = true;
        for (uint8_t k = 0; k < m->nrtpmap; k++) {
            if (bv_eq_ci(m->rtpmap[k].name, "telephone-event")) {
                m->te_pt = m->rtpmap[k].pt;
                m->te_clock = m->rtpmap[k].clock;
                break;
            }
        }
    }
}

enum sdp_result sdp_parse(struct bv body, struct sdp *out)
{
    /* media[] is large (TS_SDP_MAX_MEDIA sections): each section is cleared
     * when its m= line is reached, so only the session part is reset here. */
    memset(out, 0, offsetof(struct sdp, media));
    enum sdp_result res = SDP_OK;
    bool unsupported = false;
    bool in_media = false;          /* past the first m= line */
    struct sdp_media *cur = NULL;   /* NULL: session level or ignored section */
    struct bv b = body;

    while (b.len) {
        struct bv line;
        long nl = bv_index(b, '\n');
        if (nl > 0 && bv_at(b, (size_t)nl - 1) != '\r')
            out->flags |= SDP_F_LF_ONLY;
        if (!bv_line(&b, &line)) {
            line = b; /* last line without a line end */
            b = bv_from(b, b.len);
        }
        line = bv_trim(line);
        if (line.len == 0)
            continue;
        if (line.len < 2 || bv_at(line, 1) != '=') {
            out->flags |= SDP_F_BAD_LINE;
            continue;
        }
        struct bv val = bv_from(line, 2);
        switch (bv_at(line, 0)) {
        case 'v':
            if (!bv_u32dec(val, &out->version)) {
                res = SDP_MALFORMED;
                break;
            }
            out->has_version = true;
            if (out->version != 0)
                unsupported = true;
            break;
        case 'o':
            sdp_origin_parse(val, out);
            if (!out->origin.present)
                res = SDP_MALFORMED;
            break;
        case 's':
            out->session_name = val;
            break;
        case 'c': {
            struct sdp_conn c;
            if (!sdp_conn_parse(val, &c)) {
                out->flags |= SDP_F_BAD_CONN;
                res = SDP_MALFORMED;
            } else if (cur) {
                cur->conn = c;
            } else if (!in_media) {
                out->conn = c;
            }
            break;
        }
        case 'm': {
            in_media = true;
            cur = NULL;
            if (out->media_seen < UINT16_MAX)
                out->media_seen++;
            if (out->nmedia >= TS_SDP_MAX_MEDIA) {
                out->flags |= SDP_F_TOO_MANY_MEDIA;
                break;
            }
            struct sdp_media *m = &out->media[out->nmedia];
            memset(m, 0, sizeof *m);
            m->te_pt = -1;
            if (!sdp_media_parse(val, m, &out->flags)) {
                memset(m, 0, sizeof *m);
                out->flags |= SDP_F_BAD_MEDIA;
                res = SDP_MALFORMED;
                break;
            }
            out->nmedia++;
            cur = m;
            break;
        }
        case 'a':
            if (in_media && !cur)
                break; /* attribute of a section we dropped */
            sdp_attr(out, cur, val);
            break;
        default:
            break; /* t= r= z= b= k= i= u= e= p= and unknown letters */
        }
    }
    if (!out->has_version) {
        out->flags |= SDP_F_NO_VERSION;
        res = SDP_MALFORMED;
    }
    sdp_finish(out);
    if (res == SDP_OK && unsupported)
        res = SDP_UNSUPPORTED;
    return res;
}

const struct sdp_media *sdp_first_audio(const struct sdp *s)
{
    const struct sdp_media *first = NULL;
    for (uint8_t i = 0; i < s->nmedia; i++) {
        const struct sdp_media *m = &s->media[i];
        if (m->type != SDP_MEDIA_AUDIO)
            continue;
        if (m->port)
            return m;
        if (!first)
            first = m;
    }
    return first;
}

const struct sdp_conn *sdp_media_conn(const struct sdp *s, const struct sdp_media *m)
{
    return m->conn.present ? &m->conn : &s->conn;
}

bool sdp_codec_for_pt(const struct sdp_media *m, uint8_t pt, struct bv *name,
                      uint32_t *clock)
{
    for (uint8_t i = 0; i < m->nrtpmap; i++) {
        if (m->rtpmap[i].pt == pt) {
            *name = m->rtpmap[i].name;
            *clock = m->rtpmap[i].clock;
            return true;
        }
    }
    const struct rtp_static_pt *sp = rtp_static_pt(pt);
    if (!sp)
        return false;
    *name = bv_cstr(sp->name);
    *clock = sp->clock;
    return true;
}

bool sdp_proto_is_rtp(enum sdp_proto p)
{
    switch (p) {
    case SDP_PROTO_RTP_AVP:
    case SDP_PROTO_RTP_AVPF:
    case SDP_PROTO_RTP_SAVP:
    case SDP_PROTO_RTP_SAVPF:
    case SDP_PROTO_UDP_TLS_RTP_SAVP:
    case SDP_PROTO_UDP_TLS_RTP_SAVPF:
        return true;
    default:
        return false;
    }
}
