/* Analysis engine: decoded payloads -> SIP detection on any port (RFC 3261
 * section 18), TLS recognition on any port (dissect/tls.c), TCP stream framing, SIP
 * message counting and hand-off to the call tracker. */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../capture/decode.h"
#include "../capture/tcp_reasm.h"
#include "../common/hash.h"
#include "../common/htab.h"
#include "../common/limits.h"
#include "../dissect/sipframe.h"
#include "../dissect/tls.h"
#include "../crypto/tlsdec.h"
#include "../crypto/tlskeys.h"
#include "../dissect/hep.h"
#include "../dissect/rtp.h"
#include "../dissect/ws.h"
#include "../calls/calls.h"
#include "../calls/tlspeers.h"
#include "../crypto/x509.h"
#include "../dissect/sdp.h"
#include "../media/media.h"
#include "oflows.h"

/* Distinct Call-IDs: an open-addressing set of 64-bit seeded hashes. */
struct idset {
    uint64_t *slots;
    size_t cap, count;
};

struct engine {
    struct engine_config cfg;
    struct ts_stats st;
    struct decoder *dec;
    struct tcp_reasm *tcp;
    struct calls *calls;
    struct media *media;
    struct idset callids;
    uint64_t methods[SIP_M_COUNT];
    uint64_t classes[7];
    uint64_t last_tick_ns;
    engine_sip_fn sip_hook;
    void *sip_hook_ctx;
    void (*rtcp_hook)(void *ctx, const struct pkt_meta *m, struct bv rtcp);
    void *rtcp_hook_ctx;
    engine_frame_fn frame_hook;
    void *frame_hook_ctx;
    const struct ts_frame *cur_frame; /* while engine_frame runs */
    struct engine_frame_info fi;      /* what it found in cur_frame */
    struct tlspeers *tlspeers;
    struct oflows *oflows;       /* flows that are neither SIP nor RTP (nDPI) */
    engine_tls_fn tls_sink;
    void *tls_sink_ctx;
    struct sip_msg msg; /* scratch: large, so not on the stack */
    uint8_t hep_buf[TS_SIP_MAX_MSG]; /* inflated HEP payloads */
};

/* Per TCP connection state (one slot of tcp_reasm). */
enum conn_kind { CONN_UNKNOWN, CONN_SIP, CONN_TLS, CONN_WS_HTTP, CONN_WS, CONN_OTHER };

struct conn {
    uint8_t kind;
    bool other;                  /* not SIP: its bytes go to the other flows (nDPI) */
    uint32_t probed[2];          /* bytes looked at while undecided */
    uint32_t seq[2];             /* bytes seen per direction (other flows' TCP numbers) */
    struct sip_stream sip[2];
    struct ws_stream ws[2];
    struct tlsc *tls;            /* CONN_TLS: the handshake's facts */
};

/* A TLS connection: the parser's state, the addresses of each direction's
 * sender and the leaf certificates read (server [0], client [1]). */
struct tlsc {
    struct tls_conn tls;
    struct ts_addr addr[2];
    uint16_t port[2];
    uint64_t first_ns, last_ns;
    struct x509_facts cert[2];
    bool have_cert[2], cert_bad[2];
    bool reported;               /* handed to the peer table and the sink */
    struct tlsdec *dec;          /* with keys: decryption (crypto/tlsdec.c) */
    struct conn *owner;          /* whose SIP framers take the decrypted bytes */
    const struct pkt_meta *m;    /* of the segment being fed */
    char site[TS_SITE_LEN];
};

/* How many bytes of an unknown TCP direction we inspect for SIP. */
#define PROBE_BYTES 8192
#define TICK_NS 1000000000ull

static bool is_sip_port(uint16_t p)
{
    return p == 5060 || p == 5067 || p == 5068 || p == 5070 || p == 5080;
}

static bool is_tls_sip_port(uint16_t p)
{
    return p == 5061 || p == 5067;
}

/* ---- Call-ID set ---- */

static void idset_add(struct engine *e, struct bv id)
{
    struct idset *s = &e->callids;
    if (s->count * 2 >= s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 1024;
        if (ncap / 2 > TS_MAX_CALLID_SET) {
            TS_INC(&e->st, SIP_CALLID_SET_FULL);
            return;
        }
        uint64_t *ns = calloc(ncap, sizeof *ns);
        if (!ns) {
            TS_INC(&e->st, SIP_CALLID_SET_FULL);
            return;
        }
        for (size_t i = 0; i < s->cap; i++) {
            uint64_t h = s->slots[i];
            if (!h)
                continue;
            size_t j = h & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = h;
        }
        free(s->slots);
        s->slots = ns;
        s->cap = ncap;
    }
    uint64_t h = ts_hash(id.p, id.len) | 1; /* 0 marks an empty slot */
    size_t j = h & (s->cap - 1);
    while (s->slots[j]) {
        if (s->slots[j] == h)
            return;
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = h;
    s->count++;
    e->st.v[TS_SIP_CALL_IDS] = s->count;
}

/* ---- SIP messages ---- */

/* One SIP message; parsed: raw already parsed when the packet was decoded
 * (p->sip, with its result), else NULL. */
static void sip_message(struct engine *e, const struct pkt_meta *m, struct bv raw, bool stream,
                        const struct ts_pkt *parsed)
{
    const struct sip_msg *msg;
    enum sip_result r;
    if (parsed) {
        msg = parsed->sip;
        r = (enum sip_result)parsed->sip_r;
    } else {
        r = sip_parse(raw.p, raw.len, stream, &e->msg);
        msg = &e->msg;
    }
    TS_INC(&e->st, SIP_MESSAGES);
    switch (r) {
    case SIP_OK:
        break;
    case SIP_TRUNCATED:
        TS_INC(&e->st, SIP_TRUNCATED);
        break;
    case SIP_UNSUPPORTED:
        TS_INC(&e->st, SIP_UNSUPPORTED);
        break;
    default:
        TS_INC(&e->st, SIP_MALFORMED);
        break;
    }
    /* A truncated message (cut by the snap length, or short of its
     * Content-Length) still has a start line and headers worth counting. */
    if (r != SIP_OK && r != SIP_TRUNCATED) {
        if (e->sip_hook)
            e->sip_hook(e->sip_hook_ctx, m, raw, NULL);
        return;
    }
    if (e->sip_hook)
        e->sip_hook(e->sip_hook_ctx, m, raw, msg);
    if (msg->flags)
        TS_INC(&e->st, SIP_FLAGGED);
    if (msg->is_request) {
        TS_INC(&e->st, SIP_REQUESTS);
        e->methods[msg->method]++;
    } else {
        TS_INC(&e->st, SIP_RESPONSES);
        e->classes[msg->status / 100 <= 6 ? msg->status / 100 : 0]++;
    }
    if (msg->call_id.len)
        idset_add(e, msg->call_id);
    /* Dialogs need the whole header block: only a datagram cut short of its
     * Content-Length qualifies among the truncated ones. */
    if (e->calls && (r == SIP_OK || (msg->flags & SIP_F_CL_MISMATCH)))
        calls_sip(e->calls, m, msg);
}

/* p: the decoded packet whose datagram this is, or NULL (HEP's payload,
 * a unit the decoder found later). */
static void sip_datagram(struct engine *e, const struct pkt_meta *m, struct bv payload,
                         const struct ts_pkt *p)
{
    if (p && p->sip) { /* split and parsed on decoding: one message */
        sip_message(e, m, p->sip_raw, false, p);
        return;
    }
    struct bv msgs[8];
    size_t n = sip_datagram_split(payload, msgs, 8);
    for (size_t i = 0; i < n; i++)
        sip_message(e, m, msgs[i], false, NULL);
}

/* Keep-alive datagrams on SIP ports: CRLF pings (RFC 5626) or a few bytes of
 * vendor junk ("hello"). Counted, not SIP. */
static bool only_crlf(struct bv b)
{
    for (size_t i = 0; i < b.len; i++) {
        int c = bv_at(b, i);
        if (c != '\r' && c != '\n' && c != 0)
            return false;
    }
    return true;
}

/* HEP inside a capture (port 9060, or HEP3 magic on any port): the carried
 * SIP is analysed with the sender's addresses and timestamps. */
static bool hep_packet(struct engine *e, const struct pkt_meta *m, struct bv payload)
{
    bool port = m->sport == 9060 || m->dport == 9060;
    if (!port && bv_at(payload, 0) != 'H') /* one byte for every RTP packet */
        return false;
    if (!bv_starts_with(payload, "HEP3") && !(port && hep_looks_like(payload)))
        return false;
    struct hep_msg h;
    TS_INC(&e->st, HEP_PACKETS);
    switch (hep_parse(payload, &h, e->hep_buf, sizeof e->hep_buf)) {
    case HEP_OK:
        break;
    case HEP_TRUNCATED:
        TS_INC(&e->st, HEP_TRUNCATED);
        return true;
    case HEP_UNSUPPORTED:
        TS_INC(&e->st, HEP_UNSUPPORTED);
        return true;
    default:
        TS_INC(&e->st, HEP_MALFORMED);
        return true;
    }
    if (h.proto_type != HEP_PROTO_SIP) {
        TS_INC(&e->st, HEP_OTHER);
        return true;
    }
    struct pkt_meta hm = *m;
    hm.src = h.src;
    hm.dst = h.dst;
    hm.sport = h.sport;
    hm.dport = h.dport;
    hm.ipver = h.family;
    hm.l4 = h.ip_proto == TS_L4_TCP ? TS_L4_TCP : TS_L4_UDP;
    if (h.ts_ns)
        hm.ts_ns = h.ts_ns;
    sip_datagram(e, &hm, h.payload, NULL);
    return true;
}

/* A UDP datagram; p: the decoded packet it is the unit of, or NULL. */
static void udp_unit(struct engine *e, const struct pkt_meta *m, struct bv payload,
                     const struct ts_pkt *p)
{
    if (m->cut) { /* header-only capture: of a cut datagram RTP/RTCP headers serve */
        if (sip_looks_like(payload))
            TS_INC(&e->st, SIP_TRUNCATED);
        else if (e->media)
            (void)media_udp(e->media, m, payload, p ? p->stream_hash : 0);
        return;
    }
    if (hep_packet(e, m, payload))
        return;
    if (sip_looks_like(payload)) {
        sip_datagram(e, m, payload, p);
        return;
    }
    if (e->media && media_udp(e->media, m, payload, p ? p->stream_hash : 0)) {
        if (e->frame_hook && e->cur_frame) {
            struct bv whole = bv_make(e->cur_frame->data, e->cur_frame->caplen);
            e->fi.media = true;
            e->fi.payload_off = (uint32_t)bv_offset_of(whole, payload);
            uint64_t h = ts_hash_mix(ts_hash(m->src.a, sizeof m->src.a), m->dst.a,
                                     sizeof m->dst.a);
            uint32_t ports = (uint32_t)m->sport << 16 | m->dport;
            e->fi.flow = ts_hash_mix(h, &ports, sizeof ports);
        }
        if (e->rtcp_hook && rtcp_looks_like(payload))
            e->rtcp_hook(e->rtcp_hook_ctx, m, payload);
        return;
    }
    if (is_sip_port(m->sport) || is_sip_port(m->dport) || m->l4 == TS_L4_SCTP) {
        if (only_crlf(payload))
            TS_INC(&e->st, SIP_KEEPALIVES);
        else
            TS_INC(&e->st, SIP_JUNK);
        return;
    }
    oflows_packet(e->oflows, m, NULL, -1, payload);
}

static void on_udp(void *ctx, const struct pkt_meta *m, struct bv payload)
{
    udp_unit(ctx, m, payload, NULL);
}

static void on_pkt_udp(void *ctx, const struct ts_pkt *p)
{
    udp_unit(ctx, &p->m, p->payload, p);
}

/* An ICMP error about a SIP datagram: the call layer decides. */
static void on_unreach(void *ctx, const struct pkt_meta *m, const struct pkt_meta *q,
                       uint8_t code, struct bv quoted)
{
    struct engine *e = ctx;
    if (e->calls)
        calls_unreach(e->calls, m, q, code, quoted);
}

/* ---- TCP ---- */

struct emit_ctx {
    struct engine *e;
    const struct pkt_meta *m;
};

static void emit_stream_msg(void *ctx, struct bv msg)
{
    struct emit_ctx *c = ctx;
    sip_message(c->e, c->m, msg, true, NULL);
}

static void emit_ws_payload(void *ctx, struct bv payload)
{
    struct emit_ctx *c = ctx;
    if (sip_looks_like(payload))
        sip_message(c->e, c->m, payload, true, NULL);
}

static struct conn *conn_get(void **user)
{
    if (!*user)
        *user = calloc(1, sizeof(struct conn));
    return *user;
}

/* The first line of an HTTP/1.x request or response: "HTTP/1." or a
 * method, a space, a target and " HTTP/1." (an OPTIONS request of SIP ends
 * in "SIP/2.0" instead). */
static bool http_start(struct bv d)
{
    if (bv_prefix_ci(d, "HTTP/1."))
        return true;
    long eol = bv_index(d, '\n');
    struct bv line = bv_trim(eol >= 0 ? bv_head(d, (size_t)eol) : d);
    return line.len > 9 && bv_find(line, " ", 1) > 0 &&
           bv_prefix_ci(bv_from(line, line.len - 8), "HTTP/1.");
}

static void classify(struct engine *e, struct conn *c, const struct pkt_meta *m, int dir,
                     struct bv data)
{
    uint16_t sp = m->sport, dp = m->dport;
    /* TLS on any port by its first record (a hello); on the SIP-TLS ports
     * any record, for connections picked up mid-stream */
    bool tls_port = is_tls_sip_port(sp) || is_tls_sip_port(dp);
    if (tls_looks_like_hello(data) || (tls_port && tls_record_plausible(data))) {
        c->tls = calloc(1, sizeof *c->tls);
        if (!c->tls) {
            c->kind = CONN_OTHER;
            return;
        }
        tls_conn_init(&c->tls->tls);
        c->tls->first_ns = m->ts_ns;
        c->tls->owner = c;
        if (e->cfg.tls_keys)
            c->tls->dec = tlsdec_new(e->cfg.tls_keys, &e->st);
        if (m->site)
            snprintf(c->tls->site, sizeof c->tls->site, "%s", m->site);
        c->kind = CONN_TLS;
        TS_INC(&e->st, TLS_CONNS);
        if (tls_port)
            TS_INC(&e->st, SIP_TLS_FLOWS);
        return;
    }
    if (bv_prefix_ci(data, "GET ") && bv_find(data, "Upgrade", 7) >= 0 &&
        bv_find(data, "websocket", 9) >= 0) {
        c->kind = CONN_WS_HTTP;
        return;
    }
    if (http_start(data)) { /* HTTP on a SIP port is not SIP (nor its CRLFs keep-alives) */
        c->kind = CONN_OTHER;
        TS_INC(&e->st, SIP_HTTP_FLOWS);
        return;
    }
    if (is_sip_port(sp) || is_sip_port(dp) || bv_find(data, "SIP/2.0", 7) >= 0) {
        c->kind = CONN_SIP;
        return;
    }
    c->probed[dir] += (uint32_t)(data.len < PROBE_BYTES ? data.len : PROBE_BYTES);
    if (c->probed[0] + c->probed[1] >= 2 * PROBE_BYTES)
        c->kind = CONN_OTHER;
}

/* ---- TLS ---- */

/* The leaf certificate of each side, read by libcrypto (crypto/x509.c). */
static void tls_cert(void *ctx, struct tls_conn *tc, bool from_server, unsigned index,
                     struct bv der)
{
    struct engine *e = ctx;
    struct tlsc *t = ts_container_of(tc, struct tlsc, tls);
    int k = from_server ? 0 : 1;
    if (index != 0)
        return;
    if (x509_parse(der, &t->cert[k])) {
        t->have_cert[k] = true;
    } else {
        t->cert_bad[k] = true;
        TS_INC(&e->st, TLS_CERT_BAD);
    }
}

/* The handshake ended (or the connection did): into the peer table and
 * to the sink, once; with keys, again when the connection ends (closed),
 * with the decryption's verdict. */
static void tls_report(struct engine *e, struct tlsc *t, bool closed)
{
    int cd = t->tls.client_dir >= 0 ? t->tls.client_dir : 0;
    if (t->tls.client_dir < 0 && is_tls_sip_port(t->port[0]) && !is_tls_sip_port(t->port[1]))
        cd = 1; /* picked up mid-stream: the SIP-TLS port is the server's */
    struct tlspeer_conn pc = {
        .client = t->addr[cd], .server = t->addr[1 - cd],
        .cport = t->port[cd], .sport = t->port[1 - cd],
        .first_ns = t->first_ns, .last_ns = t->last_ns, .tls = &t->tls,
        .cert = { t->have_cert[0] ? &t->cert[0] : NULL, t->have_cert[1] ? &t->cert[1] : NULL },
        .cert_bad = { t->cert_bad[0], t->cert_bad[1] },
        .site = t->site[0] ? t->site : NULL,
        .again = t->reported, .keys = t->dec != NULL, .dec_final = closed && t->dec,
    };
    t->reported = true;
    if (t->dec)
        tlsdec_facts(t->dec, &pc.dec);
    if (e->tlspeers) {
        uint64_t dropped = tlspeers_conns_dropped(e->tlspeers);
        tlspeers_add(e->tlspeers, &pc);
        /* older connections the list of verdicts let go */
        e->st.v[TS_TLS_DEC_UNLISTED] += tlspeers_conns_dropped(e->tlspeers) - dropped;
    }
    if (e->tls_sink)
        e->tls_sink(e->tls_sink_ctx, &pc);
}

/* Decrypted application data: the SIP framer, as for plaintext TCP. */
struct tls_plain_ctx {
    struct engine *e;
    struct tlsc *t;
};

static void tls_plain(void *ctx, int dir, const struct pkt_meta *m, struct bv plain)
{
    struct tls_plain_ctx *pc = ctx;
    struct emit_ctx ec = { pc->e, m ? m : pc->t->m };
    sip_stream_feed(&pc->t->owner->sip[dir], plain, emit_stream_msg, &ec, &pc->e->st);
}

static void tls_record(void *ctx, struct tls_conn *tc, int dir, uint8_t type, uint16_t version,
                       struct bv body, uint64_t off)
{
    struct tls_plain_ctx pc = { ctx, ts_container_of(tc, struct tlsc, tls) };
    (void)off;
    tlsdec_record(pc.t->dec, dir, pc.t->m, type, version, body, tls_plain, &pc);
}

static void tls_handshake(void *ctx, struct tls_conn *tc, int dir, uint8_t type, struct bv msg,
                          uint64_t off)
{
    struct tlsc *t = ts_container_of(tc, struct tlsc, tls);
    (void)ctx;
    (void)type;
    (void)off;
    tlsdec_handshake(t->dec, dir, t->m, msg);
}

static void tls_data(struct engine *e, struct tlsc *t, int dir, const struct pkt_meta *m,
                     struct bv data)
{
    t->addr[dir] = m->src;
    t->port[dir] = m->sport;
    t->addr[1 - dir] = m->dst;
    t->port[1 - dir] = m->dport;
    t->last_ns = m->ts_ns;
    struct tls_cb cb = { .ctx = e, .cert = tls_cert };
    if (t->dec) {
        cb.want_records = true;
        cb.record = tls_record;
        cb.handshake = tls_handshake;
    }
    t->m = m;
    tls_conn_feed(&t->tls, dir, data, &cb, &e->st);
    t->m = NULL;
    if (!t->reported && (t->tls.state == TLS_ST_ESTABLISHED || t->tls.state == TLS_ST_FAILED))
        tls_report(e, t, false);
}

static void tcp_data(void *ctx, void **user, int dir, const struct pkt_meta *m, struct bv data)
{
    struct engine *e = ctx;
    struct conn *c = conn_get(user);
    if (!c)
        return;
    if (c->kind == CONN_UNKNOWN) {
        classify(e, c, m, dir, data);
        /* what is not SIP yet, is not TLS on a SIP port and not a
         * WebSocket goes to the other flows: nDPI needs the first bytes */
        c->other = c->kind == CONN_UNKNOWN || c->kind == CONN_OTHER ||
                   (c->kind == CONN_TLS && !is_sip_port(m->sport) && !is_sip_port(m->dport) &&
                    !is_tls_sip_port(m->sport) && !is_tls_sip_port(m->dport));
    }
    if (c->kind == CONN_SIP || c->kind == CONN_WS_HTTP)
        c->other = false;
    if (c->other) {
        struct tcp_seg s = { .seq = c->seq[dir], .ack = c->seq[1 - dir],
                             .flags = TCP_F_ACK | TCP_F_PSH, .window = 65535, .payload = data };
        c->seq[dir] += (uint32_t)data.len;
        oflows_packet(e->oflows, m, &s, dir, data);
    }
    struct emit_ctx ec = { e, m };
    switch (c->kind) {
    case CONN_SIP:
        sip_stream_feed(&c->sip[dir], data, emit_stream_msg, &ec, &e->st);
        break;
    case CONN_TLS:
        tls_data(e, c->tls, dir, m, data);
        break;
    case CONN_WS_HTTP:
        /* The HTTP upgrade exchange ends with an empty line in each
         * direction; frames follow. */
        if (bv_find(data, "\r\n\r\n", 4) >= 0 && dir == 1)
            c->kind = CONN_WS;
        break;
    case CONN_WS:
        ws_stream_feed(&c->ws[dir], data, emit_ws_payload, &ec, &e->st);
        break;
    default:
        break;
    }
}

static void tcp_gap(void *ctx, void **user, int dir, uint64_t nbytes)
{
    struct engine *e = ctx;
    struct conn *c = *user;
    (void)nbytes;
    if (!c)
        return;
    if (c->kind == CONN_SIP)
        sip_stream_gap(&c->sip[dir], &e->st);
    else if (c->kind == CONN_TLS) {
        tls_conn_gap(&c->tls->tls, dir);
        if (c->tls->dec) {
            tlsdec_gap(c->tls->dec, dir);
            sip_stream_gap(&c->sip[dir], &e->st);
        }
    }
    else if (c->kind == CONN_WS)
        ws_stream_gap(&c->ws[dir]);
}

static void tcp_close(void *ctx, void **user)
{
    struct engine *e = ctx;
    struct conn *c = *user;
    if (!c)
        return;
    if (c->tls) {
        struct tlsc *t = c->tls;
        if (t->tls.state == TLS_ST_NONE)
            TS_INC(&e->st, TLS_MIDSTREAM);
        tls_conn_close(&t->tls, &e->st);
        if (t->dec) /* with keys every connection ends with its verdict, mid-stream ones too */
            tls_report(e, t, true);
        else if (!t->reported && t->tls.have_ch)
            tls_report(e, t, false);
        tlsdec_free(t->dec);
        free(t);
    }
    for (int i = 0; i < 2; i++) {
        sip_stream_cleanup(&c->sip[i]);
        ws_stream_cleanup(&c->ws[i]);
    }
    free(c);
    *user = NULL;
}

static void on_tcp(void *ctx, const struct pkt_meta *m, const struct tcp_seg *seg)
{
    struct engine *e = ctx;
    tcp_reasm_segment(e->tcp, m, seg);
}

/* ---- media hooks of the call layer ---- */

/* Every m= section of an offer or answer becomes an expected RTP endpoint of
 * its leg (re-INVITE/UPDATE bodies replace earlier ones). */
static void hook_sdp(void *ctx, uint64_t leg_ref, const struct sdp *s, enum sdp_result r,
                     uint64_t ts)
{
    struct engine *e = ctx;
    if (r != SDP_OK && !s->nmedia) {
        TS_INC(&e->st, SDP_MALFORMED);
        return;
    }
    TS_INC(&e->st, SDP_BODIES);
    for (unsigned i = 0; i < s->nmedia; i++) {
        const struct sdp_media *sm = &s->media[i];
        const struct sdp_conn *c = sdp_media_conn(s, sm);
        if (!c || !c->present || !c->family || c->hold || !sm->port)
            continue;
        struct ts_addr a = { .family = c->family };
        memcpy(a.a, c->addr, 16);
        struct media_sdp_info info;
        media_sdp_info_from(sm, &info);
        media_expect(e->media, &a, sm->port, sm->rtcp_mux, leg_ref, leg_ref, ts, &info);
        if (info.keys.n)
            explicit_bzero(&info.keys, sizeof info.keys); /* SDES keys: copied where used */
    }
}

static void hook_answered(void *ctx, uint64_t leg_ref, uint64_t ts)
{
    struct engine *e = ctx;
    media_leg_answered(e->media, leg_ref, ts);
}

static void hook_ended(void *ctx, uint64_t leg_ref, uint64_t ts)
{
    struct engine *e = ctx;
    media_leg_ended(e->media, leg_ref, ts);
}

static void hook_bye(void *ctx, uint64_t leg_ref, uint64_t ts)
{
    struct engine *e = ctx;
    media_leg_bye(e->media, leg_ref, ts);
}

/* ---- engine ---- */

struct engine *engine_new(const struct engine_config *cfg)
{
    struct engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    if (cfg)
        e->cfg = *cfg;
    struct decode_cb dcb = { .ctx = e, .udp = on_udp, .pkt_udp = on_pkt_udp, .tcp = on_tcp,
                             .unreach = on_unreach };
    struct tcp_reasm_cb tcb = { .ctx = e, .data = tcp_data, .gap = tcp_gap, .close = tcp_close };
    e->dec = decoder_new(&e->st, &dcb);
    e->tcp = tcp_reasm_new(&e->st, &tcb);
    e->tlspeers = tlspeers_new();
    e->oflows = oflows_new(&e->st);
    if (!e->dec || !e->tcp || !e->tlspeers || !e->oflows) {
        engine_free(e);
        return NULL;
    }
    decoder_set_dedup(e->dec, e->cfg.dedup);
    struct media_config mcfg;
    media_config_default(&mcfg);
    if (e->cfg.no_report)
        mcfg.max_report = 0;
    e->media = media_new(&mcfg, &e->st);
    if (!e->media) {
        engine_free(e);
        return NULL;
    }
    if (e->cfg.track_calls) {
        struct calls_config cc;
        if (e->cfg.calls_cfg)
            cc = *e->cfg.calls_cfg;
        else
            calls_config_default(&cc);
        cc.no_report = e->cfg.no_report;
        e->calls = calls_new(&cc, &e->st);
        if (!e->calls) {
            engine_free(e);
            return NULL;
        }
        struct calls_media_hooks mh = { e, hook_sdp, hook_answered, hook_ended, hook_bye };
        calls_set_media_hooks(e->calls, &mh);
    }
    return e;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    tcp_reasm_free(e->tcp);
    tlspeers_free(e->tlspeers);
    oflows_free(e->oflows);
    decoder_free(e->dec);
    calls_free(e->calls);
    media_free(e->media);
    free(e->callids.slots);
    free(e);
}

/* The key log's counters into the engine's (the file is read again as it
 * grows: a live sensor's keys can arrive after their handshake). */
static void tls_keys_tick(struct engine *e, uint64_t now)
{
    struct keylog_counts kc;
    if (!e->cfg.tls_keys)
        return;
    if (now)
        tlskeys_refresh(e->cfg.tls_keys, now);
    keylog_counts(tlskeys_keylog(e->cfg.tls_keys), &kc);
    e->st.v[TS_TLS_KEYLOG_LINES] = kc.lines;
    e->st.v[TS_TLS_KEYLOG_BAD] = kc.bad;
}

static void tick(struct engine *e, uint64_t now)
{
    tls_keys_tick(e, now);
    decoder_expire(e->dec, now);
    tcp_reasm_expire(e->tcp, now);
    oflows_expire(e->oflows, now);
    if (e->calls)
        calls_tick(e->calls, now);
    media_tick(e->media, now);
}

void engine_tick(struct engine *e, uint64_t now_ns)
{
    if (now_ns >= e->last_tick_ns + TICK_NS) {
        tick(e, now_ns);
        e->last_tick_ns = now_ns;
    }
}

void engine_note_drop(struct engine *e, uint64_t ts_ns, uint64_t count)
{
    if (!count)
        return;
    /* drop counters are polled about once a second: the loss lies in the
     * second before the report */
    media_capture_gap(e->media, ts_ns > TICK_NS ? ts_ns - TICK_NS : 0, ts_ns);
    if (e->calls)
        calls_note_drop(e->calls, ts_ns > TICK_NS ? ts_ns - TICK_NS : 0, ts_ns);
}

size_t engine_decode_spare_size(void)
{
    return sizeof(struct sip_msg);
}

/* A datagram holding one SIP message is parsed into spare (sip_message()
 * takes it from there); more than one, or no spare: the Call-ID is peeked. */
static bool decode_sip(struct ts_pkt *p, void *spare)
{
    struct bv msgs[2];
    if (!spare || sip_datagram_split(p->payload, msgs, 2) != 1) {
        p->dialog_hash = calls_callid_hash(sip_callid_peek(p->payload));
        return false;
    }
    struct sip_msg *msg = spare;
    enum sip_result r = sip_parse(msgs[0].p, msgs[0].len, false, msg);
    p->sip = msg;
    p->sip_raw = msgs[0];
    p->sip_r = (int16_t)r;
    p->sip_lines = (uint16_t)((msg->nhdrs * sizeof msg->hdrs[0] + 63) / 64);
    if (msg->call_id.len)
        p->dialog_hash = calls_callid_hash(msg->call_id);
    return true;
}

bool engine_decode(const struct ts_frame *f, struct ts_pkt *p, void *spare)
{
    decoder_decode(f, p);
    if (p->next != PKT_UDP)
        return false;
    if ((p->stream_hash = media_stream_hash(&p->m, p->payload)))
        media_endpoint_slots(&p->m, p->ep_slot);
    else if (sip_looks_like(p->payload))
        return decode_sip(p, spare);
    return false;
}

void engine_prefetch(struct engine *e, const struct ts_frame *f, const struct ts_pkt *p)
{
    if (p->stream_hash)
        media_prefetch_bucket(e->media, p->stream_hash, p->ep_slot);
    if (p->dialog_hash && e->calls)
        calls_prefetch_bucket(e->calls, p->dialog_hash);
    if (p->sip) { /* written on the other core: its head, headers and tail */
        const struct sip_msg *msg = p->sip;
        const char *b = (const char *)msg;
        for (size_t o = 0; o < offsetof(struct sip_msg, hdrs); o += 64)
            ts_prefetch(b + o);
        for (unsigned i = 0; i <= p->sip_lines; i++) /* hdrs need not start a line */
            ts_prefetch((const char *)msg->hdrs + 64 * i);
        for (size_t o = offsetof(struct sip_msg, first); o < sizeof *msg; o += 64)
            ts_prefetch(b + o);
    }
    if (p->dedup)
        decoder_prefetch_dedup(e->dec, p->dedup_fp);
    /* link, IP and transport headers and the start of the payload, which
     * the reader thread wrote on the other core */
    if (f->caplen)
        ts_prefetch(f->data);
    if (f->caplen > 64)
        ts_prefetch(f->data + 64);
}

void engine_prefetch_more(struct engine *e, const struct ts_pkt *p)
{
    if (p->stream_hash)
        media_prefetch_stream(e->media, p->stream_hash);
    if (p->dialog_hash && e->calls)
        calls_prefetch_dialog(e->calls, p->dialog_hash);
}

void engine_packet(struct engine *e, const struct ts_frame *f, const struct ts_pkt *p)
{
    TS_INC(&e->st, PACKETS);
    TS_ADD(&e->st, BYTES, f->wirelen);
    if (f->ts_ns > TS_MAX_TIME_NS) {
        /* a time past 2262 cannot be stored or compared: the frame is
         * counted and left out, and it does not move the clock */
        TS_INC(&e->st, BAD_TIME);
        return;
    }
    if (e->frame_hook) {
        memset(&e->fi, 0, sizeof e->fi);
        e->cur_frame = f;
    }
    decoder_packet(e->dec, p);
    if (e->frame_hook) {
        e->cur_frame = NULL;
        e->frame_hook(e->frame_hook_ctx, f, &e->fi);
    }
    if (f->ts_ns >= e->last_tick_ns + TICK_NS) {
        if (e->last_tick_ns)
            tick(e, f->ts_ns);
        e->last_tick_ns = f->ts_ns;
    }
}

void engine_frame(struct engine *e, const struct ts_frame *f)
{
    struct ts_pkt p;
    engine_decode(f, &p, NULL);
    engine_packet(e, f, &p);
}

void engine_finish(struct engine *e)
{
    tls_keys_tick(e, 0);
    tcp_reasm_flush(e->tcp);
    oflows_finish(e->oflows);
    if (e->calls)
        calls_finish(e->calls);
    media_finish(e->media);
}

const struct ts_stats *engine_stats(const struct engine *e) { return &e->st; }

void engine_count(struct engine *e, enum ts_stat s, uint64_t n)
{
    if ((unsigned)s < TS_STAT_MAX)
        e->st.v[s] += n;
}

uint64_t engine_method_count(const struct engine *e, enum sip_method m)
{
    return (unsigned)m < SIP_M_COUNT ? e->methods[m] : 0;
}

uint64_t engine_status_class_count(const struct engine *e, int cls)
{
    return cls >= 1 && cls <= 6 ? e->classes[cls] : 0;
}

size_t engine_linktypes(const struct engine *e, int *types, uint64_t *counts, size_t max)
{
    struct linktype_count lc[32];
    size_t n = decoder_linktypes(e->dec, lc, max < 32 ? max : 32);
    for (size_t i = 0; i < n; i++) {
        types[i] = lc[i].linktype;
        counts[i] = lc[i].packets;
    }
    return n;
}

const struct calls *engine_calls(const struct engine *e) { return e->calls; }

void engine_set_calls_config(struct engine *e, const struct calls_config *cfg)
{
    if (e->calls && cfg)
        calls_set_config(e->calls, cfg);
}

const struct media *engine_media(const struct engine *e) { return e->media; }

const struct tlspeers *engine_tlspeers(const struct engine *e) { return e->tlspeers; }

const struct oflows *engine_oflows(const struct engine *e) { return e->oflows; }

void engine_set_oflow_sink(struct engine *e, void (*fn)(void *ctx, const struct oflow_done *f),
                           void *ctx)
{
    oflows_set_sink(e->oflows, fn, ctx);
}

void engine_set_tls_sink(struct engine *e, engine_tls_fn fn, void *ctx)
{
    e->tls_sink = fn;
    e->tls_sink_ctx = ctx;
}

void engine_set_sip_hook(struct engine *e, engine_sip_fn fn, void *ctx)
{
    e->sip_hook = fn;
    e->sip_hook_ctx = ctx;
}

void engine_set_frame_hook(struct engine *e, engine_frame_fn fn, void *ctx)
{
    e->frame_hook = fn;
    e->frame_hook_ctx = ctx;
}

void engine_set_rtcp_hook(struct engine *e,
                          void (*fn)(void *ctx, const struct pkt_meta *m, struct bv rtcp),
                          void *ctx)
{
    e->rtcp_hook = fn;
    e->rtcp_hook_ctx = ctx;
}

void engine_set_stream_sink(struct engine *e,
                            void (*fn)(void *ctx, const struct media_stream *s), void *ctx)
{
    media_set_sink(e->media, fn, ctx);
}

void engine_set_call_sink(struct engine *e, void (*fn)(void *ctx, const struct calls_call *c),
                          void *ctx)
{
    if (e->calls)
        calls_set_sink(e->calls, fn, ctx);
}
