/* The SDP a stored SIP message carries, summarised for the call page's
 * ladder (GET /api/v1/calls/{id}: messages[].sdp): per media section its
 * type, connection address and port, codecs in offer order and the
 * effective direction (RFC 8866 5.14, 6.7; RFC 3264 5.1, 8.4 for hold).
 * Parsing is the dissector's (dissect/sip.c, dissect/sdp.c); this file only
 * reads their views and hands wire text to JSON through api_jtext. */
#include <stdio.h>
#include <stdlib.h>

#include "../dissect/sdp.h"
#include "../dissect/sip.h"
#include "api_int.h"

static const char *dir_name(enum sdp_dir d)
{
    switch (d) {
    case SDP_DIR_SENDONLY: return "sendonly";
    case SDP_DIR_RECVONLY: return "recvonly";
    case SDP_DIR_INACTIVE: return "inactive";
    default: return "sendrecv";
    }
}

static json_t *bv_json(struct bv b)
{
    return api_jtext((const char *)b.p, b.len);
}

static json_t *media_json(const struct sdp *s, const struct sdp_media *m)
{
    json_t *o = json_object(), *codecs = json_array();
    json_object_set_new(o, "type", bv_json(m->type_str));
    const struct sdp_conn *c = sdp_media_conn(s, m);
    json_object_set_new(o, "addr", c && c->present ? bv_json(c->addr_str) : json_null());
    json_object_set_new(o, "port", json_integer(m->port));
    json_object_set_new(o, "proto", bv_json(m->proto_str));
    for (unsigned i = 0; i < m->nfmt; i++) {
        struct bv name;
        uint32_t clock;
        if (sdp_codec_for_pt(m, m->fmt[i], &name, &clock) && name.len)
            json_array_append_new(codecs, bv_json(name));
        else {
            char pt[16];
            int k = snprintf(pt, sizeof pt, "PT %u", (unsigned)m->fmt[i]);
            json_array_append_new(codecs, json_stringn(pt, k > 0 ? (size_t)k : 0));
        }
    }
    json_object_set_new(o, "codecs", codecs);
    json_object_set_new(o, "dir", json_string(dir_name(m->dir)));
    /* c=0.0.0.0 is the RFC 2543 way of putting a call on hold */
    json_object_set_new(o, "hold", json_boolean(m->dir == SDP_DIR_SENDONLY ||
                                                m->dir == SDP_DIR_INACTIVE ||
                                                (c && c->present && c->hold)));
    json_object_set_new(o, "srtp", json_boolean(m->crypto || m->fingerprint));
    return o;
}

json_t *api_sdp_view(const uint8_t *raw, size_t len)
{
    if (!raw || !len)
        return NULL;
    /* tens of KB of views: not on an API thread's stack */
    struct {
        struct sip_msg msg;
        struct sdp sdp;
    } *w = malloc(sizeof *w);
    if (!w)
        return NULL;
    json_t *out = NULL;
    enum sip_result r = sip_parse(raw, len, false, &w->msg);
    if ((r == SIP_OK || r == SIP_TRUNCATED) && w->msg.body.len) {
        struct bv ct = sip_hdr_get(&w->msg, "Content-Type");
        const struct sdp *s = &w->sdp;
        if (bv_prefix_ci(ct, "application/sdp") && sdp_parse(w->msg.body, &w->sdp) != SDP_UNSUPPORTED &&
            s->nmedia) {
            json_t *media = json_array();
            for (unsigned i = 0; i < s->nmedia; i++)
                json_array_append_new(media, media_json(s, &s->media[i]));
            out = json_object();
            json_object_set_new(out, "media", media);
            json_object_set_new(out, "version", s->origin.present
                                                    ? json_integer((json_int_t)s->origin.sess_version_num)
                                                    : json_null());
        }
    }
    free(w);
    return out;
}
