/* Per-call audio export: the RTP streams the store recorded for one leg
 * of a call, taken from the call's media datagrams as the frame export
 * decodes them (st_export_media: one decode a frame), decoded by
 * media/audio.c and written as a 16-bit stereo WAV: channel 1 the
 * caller's voice, channel 2 the callee's, sample 0 at the call's first
 * INVITE, so a message's time on the ladder is its place in the file.
 * Which party sent a stream comes from the SDP endpoints stored on the leg
 * (RFC 3264: a party receives where its SDP says, so RTP to the caller's
 * endpoint is the callee speaking). SRTP (RFC 3711): each party's SDES
 * keys (RFC 4568 a=crypto: the keys a party sends with) come from the
 * leg's stored SDP, found by the party's media endpoint, and a stream is
 * opened by crypto/srtpdec with the first key that authenticates one of
 * its packets; a packet no key opens (wrong key, tampering) is counted and
 * left out as silence, never decoded as noise. A caller's unprotect hook,
 * when given, is used instead. The telephone-event payload type (RFC
 * 4733) each party's SDP gave lets the decoder render DTMF tones. */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "../common/limits.h"
#include "../crypto/sdes.h"
#include "../crypto/srtpdec.h"
#include "../dissect/rtp.h"
#include "../dissect/sdp.h"
#include "../dissect/sip.h"
#include "../media/audio.h"
#include "../media/media.h"

#define UDP_PAYLOAD_SPACE 65536 /* the largest UDP payload, once (a clear SRTP packet) */

struct atrack {
    struct ts_addr src, dst;
    uint16_t sport, dport;
    uint32_t ssrc;
    bool srtp;
    int party; /* 0 caller, 1 callee */
    enum audio_codec codec;
    uint32_t clock;
    uint8_t pt;
    struct audio_track *t;
    struct srtpdec *dec[2 * TS_AUDIO_SDES_KEYS]; /* its sender's keys, then the other's */
    size_t ndec;
    int chosen; /* the decoder that authenticated a packet; -1 none yet */
};

/* What one party's SDP announced: the SDES keys it sends with, its
 * telephone-event payload type. */
struct party {
    struct sdes_key keys[TS_AUDIO_SDES_KEYS];
    size_t nkeys;
    int te_pt; /* -1 none */
};

struct aexp {
    struct atrack tr[TS_AUDIO_MAX_TRACKS];
    size_t ntr;
    struct party pm[2]; /* caller, callee */
    const struct st_audio_opts *o;
    struct st_audio_result *res;
    uint8_t *clear; /* unprotected packet */
};

static bool ep_is(const struct ts_addr *a, uint16_t port, const struct ts_addr *b, int64_t bport,
                  bool bset)
{
    return bset && port == bport && ts_addr_eq(a, b);
}

/* An SRTP packet of track a into x->clear: its length, 0 when no key
 * opens it (counted). The first decoder that authenticates a packet is
 * kept for the rest of the stream. */
static size_t open_srtp(struct aexp *x, struct atrack *a, struct bv payload)
{
    if (!a->ndec) {
        x->res->srtp_skipped++;
        return 0;
    }
    bool replay = false;
    for (size_t k = 0; k < a->ndec; k++) {
        size_t i = a->chosen >= 0 ? (size_t)a->chosen : k;
        struct bv b = payload;
        size_t out = 0;
        if (!bv_copy(&b, x->clear, payload.len))
            return 0;
        enum srtpdec_result r = srtpdec_rtp(a->dec[i], x->clear, payload.len, &out);
        if (r == SRTPDEC_OK) {
            a->chosen = (int)i;
            x->res->srtp_opened++;
            return out;
        }
        replay = replay || r == SRTPDEC_REPLAY;
        if (a->chosen >= 0)
            break;
    }
    if (replay)
        x->res->srtp_replayed++; /* a copy of a packet already placed */
    else
        x->res->srtp_failed++;
    return 0;
}

/* A datagram of the call's media (st_export_media) into its track. */
static void on_udp(void *ctx, const struct pkt_meta *m, struct bv payload)
{
    struct aexp *x = ctx;
    /* a header-only capture's payload is cut: nothing to decode (a gap) */
    if (m->l4 != TS_L4_UDP || m->cut)
        return;
    for (size_t i = 0; i < x->ntr; i++) {
        struct atrack *a = &x->tr[i];
        if (a->sport != m->sport || a->dport != m->dport || !ts_addr_eq(&a->src, &m->src) ||
            !ts_addr_eq(&a->dst, &m->dst))
            continue;
        struct bv pkt = payload;
        if (a->srtp) {
            size_t n = 0;
            if (x->o && x->o->unprotect) {
                n = x->o->unprotect(x->o->unprotect_ctx, payload, x->clear, UDP_PAYLOAD_SPACE);
                if (n == 0)
                    x->res->srtp_skipped++;
            } else if (payload.len <= UDP_PAYLOAD_SPACE) {
                n = open_srtp(x, a, payload);
            }
            if (n == 0)
                return;
            pkt = bv_make(x->clear, n);
        }
        struct rtp_hdr h;
        if (rtp_parse(pkt, &h) != RTP_OK || h.ssrc != a->ssrc)
            continue;
        struct audio_rtp r = { .arrival_ns = m->ts_ns, .ts = h.ts, .seq = h.seq, .pt = h.pt,
                               .marker = h.marker };
        audio_track_add(a->t, &r, h.payload);
        return;
    }
}

/* The leg's SDP bodies, newest first (at most TS_AUDIO_SDP_MSGS): the
 * a=crypto keys and telephone-event type of each audio section whose
 * endpoint is the caller's or the callee's media endpoint. */
static int load_sdp(sqlite3 *h, int64_t leg_id, const struct ts_addr ep[2], const int64_t port[2],
                    const bool have[2], struct aexp *x)
{
    sqlite3_stmt *s = NULL;
    struct sip_msg *msg = malloc(sizeof *msg);
    struct sdp *sdp = malloc(sizeof *sdp);
    int rc = ST_ERR_NOMEM;
    if (!msg || !sdp)
        goto out;
    rc = ST_ERR_SQL;
    if (sqlite3_prepare_v2(h, "SELECT m.raw FROM sip_links k JOIN sip_messages m ON m.id=k.msg_id"
                           " WHERE k.leg_id=?1 ORDER BY m.ts DESC, m.id DESC LIMIT ?2",
                           -1, &s, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(s, 1, leg_id);
    sqlite3_bind_int(s, 2, TS_AUDIO_SDP_MSGS);
    while (sqlite3_step(s) == SQLITE_ROW) {
        const void *raw = sqlite3_column_blob(s, 0);
        int len = sqlite3_column_bytes(s, 0);
        if (!raw || len <= 0 || sip_parse(raw, (size_t)len, false, msg) != SIP_OK ||
            !bv_starts_with(msg->body, "v="))
            continue;
        sdp_parse(msg->body, sdp);
        for (uint8_t i = 0; i < sdp->nmedia; i++) {
            const struct sdp_media *m = &sdp->media[i];
            const struct sdp_conn *c = sdp_media_conn(sdp, m);
            if (m->type != SDP_MEDIA_AUDIO || !c->present || !c->family)
                continue;
            struct ts_addr a;
            memset(&a, 0, sizeof a);
            a.family = c->family;
            memcpy(a.a, c->addr, sizeof a.a);
            for (int p = 0; p < 2; p++) {
                if (!have[p] || port[p] != m->port || !ts_addr_eq(&a, &ep[p]))
                    continue;
                struct party *pm = &x->pm[p];
                if (pm->te_pt < 0 && m->te_pt >= 0)
                    pm->te_pt = m->te_pt;
                for (uint8_t k = 0; k < m->ncrypto && pm->nkeys < TS_AUDIO_SDES_KEYS; k++) {
                    struct sdes_key key;
                    if (sdes_parse(m->crypto_val[k], &key) != SDES_OK)
                        continue;
                    bool dup = false;
                    for (size_t j = 0; j < pm->nkeys; j++)
                        dup = dup || (pm->keys[j].suite == key.suite &&
                                      !memcmp(pm->keys[j].key, key.key, sizeof key.key));
                    if (!dup)
                        pm->keys[pm->nkeys++] = key;
                }
            }
        }
    }
    rc = ST_OK;
out:
    sqlite3_finalize(s);
    free(msg);
    free(sdp);
    return rc;
}

/* Call times, the chosen leg and its streams into x. */
static int load(sqlite3 *h, int64_t call_id, int leg, struct aexp *x, uint64_t *start,
                uint64_t *end, uint32_t *rate, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int rc = ST_ERR_SQL;
    int64_t leg_id = -1;
    struct ts_addr caller, callee;
    int64_t caller_port = 0, callee_port = 0;
    bool has_caller = false, has_callee = false;

    if (sqlite3_prepare_v2(h, "SELECT start, end FROM calls WHERE id=?", -1, &s, NULL) !=
        SQLITE_OK)
        goto sqlerr;
    sqlite3_bind_int64(s, 1, call_id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        snprintf(err, errlen, "no call with id %lld", (long long)call_id);
        rc = ST_ERR_NOT_FOUND;
        goto out;
    }
    *start = (uint64_t)sqlite3_column_int64(s, 0);
    *end = sqlite3_column_type(s, 1) == SQLITE_NULL ? 0 : (uint64_t)sqlite3_column_int64(s, 1);
    sqlite3_finalize(s);

    /* the leg asked for, or the first one with streams */
    if (sqlite3_prepare_v2(h,
                           "SELECT l.id, l.idx, l.caller_media_addr, l.caller_media_port,"
                           " l.callee_media_addr, l.callee_media_port,"
                           " (SELECT count(*) FROM rtp_streams r WHERE r.leg_id=l.id)"
                           " FROM legs l WHERE l.call_ref=? ORDER BY l.idx, l.id",
                           -1, &s, NULL) != SQLITE_OK)
        goto sqlerr;
    sqlite3_bind_int64(s, 1, call_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        int64_t idx = sqlite3_column_int64(s, 1);
        if (leg >= 0 ? idx != leg : (leg_id >= 0 || sqlite3_column_int64(s, 6) == 0))
            continue;
        leg_id = sqlite3_column_int64(s, 0);
        x->res->leg = (int)idx;
        has_caller = st_addr_parse(st_col_text(s, 2), &caller);
        caller_port = sqlite3_column_int64(s, 3);
        has_callee = st_addr_parse(st_col_text(s, 4), &callee);
        callee_port = sqlite3_column_int64(s, 5);
    }
    sqlite3_finalize(s);
    s = NULL;
    if (leg_id < 0 && leg >= 0) {
        snprintf(err, errlen, "call %lld has no leg %d", (long long)call_id, leg);
        rc = ST_ERR_NOT_FOUND;
        goto out;
    }

    *rate = 8000;
    if (leg_id >= 0) {
        if (sqlite3_prepare_v2(h,
                               "SELECT src, sport, dst, dport, ssrc, payload_type, codec,"
                               " clock_rate, flags FROM rtp_streams WHERE leg_id=?"
                               " ORDER BY first_ts, id",
                               -1, &s, NULL) != SQLITE_OK)
            goto sqlerr;
        sqlite3_bind_int64(s, 1, leg_id);
        while (sqlite3_step(s) == SQLITE_ROW) {
            x->res->streams++;
            struct atrack a;
            memset(&a, 0, sizeof a);
            int64_t sp = sqlite3_column_int64(s, 1), dp = sqlite3_column_int64(s, 3);
            int64_t pt = sqlite3_column_int64(s, 5), clock = sqlite3_column_int64(s, 7);
            if (!st_addr_parse(st_col_text(s, 0), &a.src) ||
                !st_addr_parse(st_col_text(s, 2), &a.dst) || sp <= 0 || sp > 65535 || dp <= 0 ||
                dp > 65535 || pt < 0 || pt > 127 || clock < 0 || clock > 1000000)
                continue;
            a.sport = (uint16_t)sp;
            a.dport = (uint16_t)dp;
            a.ssrc = (uint32_t)sqlite3_column_int64(s, 4);
            a.srtp = (sqlite3_column_int64(s, 8) & MEDIA_F_SRTP) != 0;
            uint32_t native = 0;
            enum audio_codec c =
                audio_codec_of(st_col_text(s, 6), (uint8_t)pt, (uint32_t)clock, &native);
            if (c == AUDIO_NONE || x->ntr >= TS_AUDIO_MAX_TRACKS) {
                x->res->streams_skipped++;
                continue;
            }
            if (ep_is(&a.dst, a.dport, &caller, caller_port, has_caller))
                a.party = 1;
            else if (ep_is(&a.dst, a.dport, &callee, callee_port, has_callee))
                a.party = 0;
            else if (ep_is(&a.src, a.sport, &caller, caller_port, has_caller))
                a.party = 0;
            else if (ep_is(&a.src, a.sport, &callee, callee_port, has_callee))
                a.party = 1;
            else /* no SDP: the first stream's sender is the caller */
                a.party = x->ntr && !ts_addr_eq(&a.src, &x->tr[0].src) ? 1 - x->tr[0].party : 0;
            if (native > *rate)
                *rate = native;
            a.codec = c;
            a.pt = (uint8_t)pt;
            /* the stored clock, else the codec's RTP clock (RFC 3551, 7587) */
            a.clock = clock > 0 ? (uint32_t)clock : c == AUDIO_OPUS ? 48000 : native;
            if (c == AUDIO_G722)
                a.clock = 8000; /* RFC 3551 4.5.2, whatever an SDP claims */
            a.chosen = -1;
            x->tr[x->ntr++] = a;
        }
        sqlite3_finalize(s);
        s = NULL;
        const struct ts_addr ep[2] = { caller, callee };
        const int64_t port[2] = { caller_port, callee_port };
        const bool have[2] = { has_caller, has_callee };
        rc = load_sdp(h, leg_id, ep, port, have, x);
        if (rc == ST_ERR_NOMEM) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        if (rc != ST_OK)
            goto sqlerr;
    }
    rc = ST_OK;
    goto out;
sqlerr:
    snprintf(err, errlen, "database: %s", sqlite3_errmsg(h));
    rc = ST_ERR_SQL;
out:
    sqlite3_finalize(s);
    return rc;
}

int st_export_audio(const char *db_path, int64_t call_id, int leg, FILE *out,
                    const struct st_audio_opts *o, struct st_audio_result *res, char *err,
                    size_t errlen)
{
    struct aexp x;
    struct st_audio_result dummy;
    sqlite3 *h = NULL;
    int16_t *mix = NULL, *ch = NULL;
    uint64_t start = 0, end = 0;
    uint32_t rate = 8000;
    int rc;

    memset(&x, 0, sizeof x);
    x.o = o;
    x.res = res ? res : &dummy;
    memset(x.res, 0, sizeof *x.res);
    x.res->leg = -1;
    x.pm[0].te_pt = x.pm[1].te_pt = -1;

    rc = st_open_handle(db_path, false, &h, err, errlen);
    if (rc != ST_OK)
        goto out;
    rc = load(h, call_id, leg, &x, &start, &end, &rate, err, errlen);
    sqlite3_close(h);
    h = NULL;
    if (rc != ST_OK)
        goto out;
    x.res->rate = rate;
    for (size_t i = 0; i < x.ntr; i++) {
        struct atrack *a = &x.tr[i];
        a->t = audio_track_new(a->codec, a->clock, a->pt, rate, start);
        if (!a->t) {
            snprintf(err, errlen, "out of memory");
            rc = ST_ERR_NOMEM;
            goto out;
        }
        int te = x.pm[a->party].te_pt >= 0 ? x.pm[a->party].te_pt : x.pm[1 - a->party].te_pt;
        if (te >= 0 && te != a->pt)
            audio_track_set_events(a->t, (uint8_t)te);
        /* the sender's keys first (RFC 4568 6.1), then the other party's in
         * case the endpoints did not match the SDP (NAT) */
        for (int p = 0; a->srtp && p < 2; p++) {
            const struct party *pm = &x.pm[p == 0 ? a->party : 1 - a->party];
            for (size_t k = 0; k < pm->nkeys && a->ndec < sizeof a->dec / sizeof *a->dec; k++) {
                struct srtpdec *d = srtpdec_new(&pm->keys[k]);
                if (d)
                    a->dec[a->ndec++] = d;
            }
        }
    }
    x.clear = malloc(UDP_PAYLOAD_SPACE);
    if (!x.clear) {
        snprintf(err, errlen, "out of memory");
        rc = ST_ERR_NOMEM;
        goto out;
    }
    if (x.ntr) {
        rc = st_export_media(db_path, call_id, on_udp, &x, err, errlen);
        if (rc != ST_OK)
            goto out;
    }

    /* the file runs from the first INVITE to the call's end (or its last
     * audio while it is still up), at most TS_AUDIO_MAX_SECONDS */
    uint64_t frames = end > start ? (end - start) / 1000 * rate / 1000000 : 0;
    uint64_t last = 0;
    for (size_t i = 0; i < x.ntr; i++) {
        uint64_t e = audio_track_finish(x.tr[i].t);
        if (e > last)
            last = e;
    }
    if (!end)
        frames = last;
    if (frames > (uint64_t)TS_AUDIO_MAX_SECONDS * rate) {
        frames = (uint64_t)TS_AUDIO_MAX_SECONDS * rate;
        x.res->cut = true;
    }
    x.res->frames = frames;

    uint8_t hdr[44];
    audio_wav_header(hdr, rate, 2, (uint32_t)frames);
    bool werr = fwrite(hdr, 1, sizeof hdr, out) != sizeof hdr;
    size_t chunk = rate; /* one second a write */
    mix = malloc(chunk * 2 * sizeof *mix);
    ch = malloc(chunk * 2 * sizeof *ch);
    if (!mix || !ch) {
        snprintf(err, errlen, "out of memory");
        rc = ST_ERR_NOMEM;
        goto out;
    }
    for (uint64_t at = 0; at < frames && !werr; at += chunk) {
        size_t n = (size_t)(frames - at < chunk ? frames - at : chunk);
        memset(ch, 0, n * 2 * sizeof *ch);
        for (size_t i = 0; i < x.ntr; i++)
            audio_track_render(x.tr[i].t, at, ch + (size_t)x.tr[i].party * chunk, n);
        for (size_t k = 0; k < n; k++) {
            int16_t l = ch[k], r = ch[chunk + k];
            uint8_t *b = (uint8_t *)(mix + 2 * k);
            b[0] = (uint8_t)l, b[1] = (uint8_t)((uint16_t)l >> 8);
            b[2] = (uint8_t)r, b[3] = (uint8_t)((uint16_t)r >> 8);
        }
        werr = fwrite(mix, 2 * sizeof *mix, n, out) != n;
    }
    for (size_t i = 0; i < x.ntr; i++) {
        const struct audio_stats *as = audio_track_stats(x.tr[i].t);
        x.res->packets += as->packets;
        x.res->decoded += as->decoded;
        x.res->late += as->late;
        x.res->lost += as->lost;
        x.res->bad += as->bad;
        x.res->tones += as->tones;
        x.res->tracks++;
        x.res->codec[x.tr[i].party] = (int)x.tr[i].codec;
    }
    if (werr) {
        snprintf(err, errlen, "write error");
        rc = ST_ERR_IO;
    }
out:
    for (size_t i = 0; i < x.ntr; i++) {
        audio_track_free(x.tr[i].t);
        for (size_t k = 0; k < x.tr[i].ndec; k++)
            srtpdec_free(x.tr[i].dec[k]);
    }
    sqlite3_close(h);
    free(x.clear);
    free(mix);
    free(ch);
    return rc;
}
