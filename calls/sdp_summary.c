/* SDP summary for the call record: first audio stream's address, port,
 * codecs and direction (RFC 3264 offer/answer, hold per RFC 3264 8.4), read
 * with the dissect/sdp.h parser. */
#include "calls_int.h"

#include <string.h>
#include <strings.h>

#include "../dissect/sdp.h"

static uint8_t map_dir(enum sdp_dir d)
{
    switch (d) {
    case SDP_DIR_SENDONLY: return CALLS_MD_SENDONLY;
    case SDP_DIR_RECVONLY: return CALLS_MD_RECVONLY;
    case SDP_DIR_INACTIVE: return CALLS_MD_INACTIVE;
    default: return CALLS_MD_SENDRECV;
    }
}

static bool has_name(const char *list, const char *nm, size_t l)
{
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == l && strncasecmp(p, nm, l) == 0)
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

bool calls_sdp_summary(const struct sdp *s, struct dlg_sdp *out, char *codecs, size_t cap)
{
    memset(out, 0, sizeof *out);
    if (cap)
        codecs[0] = '\0';
    const struct sdp_media *m = sdp_first_audio(s);
    if (!m)
        return false;
    out->present = true;
    out->port = m->port;
    out->dir = map_dir(m->dir);
    out->srtp = m->crypto || m->proto == SDP_PROTO_RTP_SAVP || m->proto == SDP_PROTO_RTP_SAVPF ||
                m->proto == SDP_PROTO_UDP_TLS_RTP_SAVP || m->proto == SDP_PROTO_UDP_TLS_RTP_SAVPF;
    const struct sdp_conn *cn = sdp_media_conn(s, m);
    if (cn && cn->present && (cn->family == 4 || cn->family == 6)) {
        out->addr.family = cn->family;
        memcpy(out->addr.a, cn->addr, cn->family == 4 ? 4 : 16);
    }
    size_t n = 0;
    for (unsigned i = 0; i < m->nfmt; i++) {
        struct bv name;
        uint32_t clock;
        char nm[24];
        if (!sdp_codec_for_pt(m, m->fmt[i], &name, &clock) || !name.len)
            continue;
        calls_cp(nm, sizeof nm, name);
        size_t l = strlen(nm);
        if (has_name(codecs, nm, l))
            continue;   /* AMR-WB twice (octet-aligned and not): list it once */
        if (n + l + 2 > cap)
            break;
        if (n)
            codecs[n++] = ',';
        memcpy(codecs + n, nm, l);
        n += l;
        codecs[n] = '\0';
    }
    return true;
}

enum calls_codec calls_codec_of(const char *codecs)
{
    char first[24];
    size_t i = 0;
    while (codecs[i] && codecs[i] != ',' && i + 1 < sizeof first) {
        first[i] = codecs[i];
        i++;
    }
    first[i] = '\0';
    if (!strcasecmp(first, "PCMU") || !strcasecmp(first, "PCMA"))
        return CALLS_CODEC_G711;
    if (!strcasecmp(first, "G729"))
        return CALLS_CODEC_G729;
    if (!strcasecmp(first, "G722"))
        return CALLS_CODEC_G722;
    if (!strcasecmp(first, "opus"))
        return CALLS_CODEC_OPUS;
    return i ? CALLS_CODEC_OTHER : CALLS_CODEC_G711;
}
