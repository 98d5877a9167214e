/* SIP header value parsers (zero-copy views into the message): comma
 * lists, quoted strings and parameters (RFC 3261 7.3.1, 25.1), SIP URIs
 * (RFC 3261 19.1), name-addr (20.10, 20.20, 20.39), Via (20.42), CSeq
 * (20.16), RFC 3326 Reason and RFC 7989 Session-ID. */
#include "sip_int.h"

#include <string.h>

/* ---- lists, quoted strings, parameters ---- */

/* Index just past the closing quote of a quoted string starting at i (which
 * holds '"'); 0 when unterminated. */
static size_t quoted_end(struct bv v, size_t i)
{
    for (i++; i < v.len; i++) {
        int c = bv_at(v, i);
        if (c == '\\')
            i++;
        else if (c == '"')
            return i + 1;
    }
    return 0;
}

/* Next ';'-separated segment of a parameter list (quotes respected). */
static bool param_seg(struct bv p, size_t *off, struct bv *seg)
{
    size_t i = *off;
    if (i > p.len)
        return false;
    size_t start = i;
    while (i < p.len) {
        int c = bv_at(p, i);
        if (c == ';')
            break;
        if (c == '"') {
            size_t e = quoted_end(p, i);
            i = e ? e : p.len;
            continue;
        }
        i++;
    }
    *seg = span(p, start, i);
    *off = i + 1;
    return true;
}

static void param_split(struct bv seg, struct bv *name, struct bv *val, bool *has_eq)
{
    long eq = bv_index(seg, '=');
    *has_eq = eq >= 0;
    if (eq < 0) {
        *name = bv_trim(seg);
        *val = bv_make(seg.p, 0);
        return;
    }
    *name = bv_trim(span(seg, 0, (size_t)eq));
    *val = bv_trim(bv_from(seg, (size_t)eq + 1));
}

bool sip_param_get(struct bv params, const char *name, struct bv *value)
{
    struct bv want = bv_cstr(name), seg;
    size_t off = 0;
    while (param_seg(params, &off, &seg)) {
        struct bv n, v;
        bool has_eq;
        param_split(seg, &n, &v, &has_eq);
        if (n.len != want.len || !eq_ci(n, name, want.len))
            continue;
        if (v.len >= 2 && bv_at(v, 0) == '"' && bv_at(v, v.len - 1) == '"')
            v = span(v, 1, v.len - 1);
        if (value)
            *value = v;
        return true;
    }
    return false;
}

/* Parameter list ";name[=value]..." (leading text before the first ';' must
 * be blank): names are tokens, values tokens, hosts or quoted strings. One
 * pass: also picks the values of up to 3 wanted names (found bit i, quotes
 * stripped). */
static bool params_walk(struct bv p, const char *const *want, int nwant, struct bv *vals,
                        unsigned *found)
{
    struct bv seg;
    size_t off = 0, wlen[3];
    bool first = true;
    *found = 0;
    if (nwant > 3)
        nwant = 3;
    for (int k = 0; k < nwant; k++)
        wlen[k] = strlen(want[k]);
    while (param_seg(p, &off, &seg)) {
        if (first) {
            first = false;
            if (bv_trim(seg).len)
                return false;
            continue;
        }
        struct bv n, v;
        bool has_eq;
        param_split(seg, &n, &v, &has_eq);
        if (!all_token(n))
            return false;
        if (has_eq) {
            if (!v.len)
                return false;
            if (bv_at(v, 0) == '"') {
                if (quoted_end(v, 0) != v.len)
                    return false;
            } else {
                for (size_t i = 0; i < v.len; i++) {
                    int c = bv_at(v, i);
                    if (!is_token(c) && c != ':' && c != '[' && c != ']')
                        return false;
                }
            }
        }
        for (int k = 0; k < nwant; k++) {
            if (!(*found & (1u << k)) && eq_ci(n, want[k], wlen[k])) {
                *found |= 1u << k;
                if (v.len >= 2 && bv_at(v, 0) == '"')
                    v = span(v, 1, v.len - 1);
                vals[k] = v;
            }
        }
    }
    return true;
}

/* ---- URIs ---- */

static bool host_valid(struct bv h, bool bracketed)
{
    if (!h.len)
        return false;
    for (size_t i = 0; i < h.len; i++) {
        int c = bv_at(h, i);
        if (bracketed) {
            if (!is_hex(c) && c != ':' && c != '.')
                return false;
        } else if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_') {
            return false;
        }
    }
    return true;
}

/* host[:port] at the start of v; *end gets the index after it. */
static bool hostport(struct bv v, struct bv *host, uint16_t *port, size_t *end)
{
    size_t i = 0;
    *port = 0;
    if (bv_at(v, 0) == '[') {
        long rb = bv_index(v, ']');
        if (rb < 0)
            return false;
        *host = span(v, 1, (size_t)rb);
        if (!host_valid(*host, true))
            return false;
        i = (size_t)rb + 1;
    } else {
        while (i < v.len) {
            int c = bv_at(v, i);
            if (c == ':' || c == ';' || c == '?' || c == '/' || is_lws(c))
                break;
            i++;
        }
        *host = span(v, 0, i);
        if (!host_valid(*host, false))
            return false;
    }
    if (bv_at(v, i) == ':') {
        size_t s = ++i;
        while (is_digit(bv_at(v, i)))
            i++;
        uint32_t p;
        if (!bv_u32dec(span(v, s, i), &p) || p == 0 || p > 65535)
            return false;
        *port = (uint16_t)p;
    }
    *end = i;
    return true;
}

bool sip_uri_parse(struct bv s, struct sip_uri *out)
{
    memset(out, 0, sizeof(*out));
    if (!s.len)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        int c = bv_at(s, i);
        if (c <= 0x20 || c == 0x7f)
            return false;
    }
    long colon = bv_index(s, ':');
    if (colon < 1)
        return false;
    struct bv scheme = span(s, 0, (size_t)colon);
    if (!is_alpha(bv_at(scheme, 0)))
        return false;
    for (size_t i = 1; i < scheme.len; i++) {
        int c = bv_at(scheme, i);
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
            return false;
    }
    struct bv rest = bv_from(s, (size_t)colon + 1);
    out->scheme = scheme;
    out->opaque = rest;
    if (!rest.len)
        return false;

    bool sip = EQ(scheme, "sip") || EQ(scheme, "sips");
    if (EQ(scheme, "tel")) {
        long semi = bv_index(rest, ';');
        out->user = semi < 0 ? rest : span(rest, 0, (size_t)semi);
        if (semi >= 0)
            out->params = bv_from(rest, (size_t)semi);
        return out->user.len > 0;
    }
    if (!sip) {
        /* Other schemes: only "scheme://[userinfo@]host[:port]" is taken apart. */
        if (rest.len > 2 && bv_at(rest, 0) == '/' && bv_at(rest, 1) == '/') {
            struct bv auth = bv_from(rest, 2);
            size_t e = 0;
            while (e < auth.len && bv_at(auth, e) != '/' && bv_at(auth, e) != '?' &&
                   bv_at(auth, e) != ';')
                e++;
            auth = span(auth, 0, e);
            long at = bv_index(auth, '@');
            if (at >= 0) {
                out->user = span(auth, 0, (size_t)at);
                auth = bv_from(auth, (size_t)at + 1);
            }
            size_t hend;
            struct bv h;
            uint16_t port;
            if (hostport(auth, &h, &port, &hend) && hend == auth.len) {
                out->host = h;
                out->port = port;
            }
        }
        return true;
    }

    /* sip/sips: user cannot hold an unescaped '@', so the first one ends userinfo. */
    long at = bv_index(rest, '@');
    struct bv hp = rest;
    if (at >= 0) {
        struct bv ui = span(rest, 0, (size_t)at);
        long pc = bv_index(ui, ':');
        if (pc >= 0) {
            out->user = span(ui, 0, (size_t)pc);
            out->password = bv_from(ui, (size_t)pc + 1);
        } else {
            out->user = ui;
        }
        if (!out->user.len)
            return false;
        hp = bv_from(rest, (size_t)at + 1);
    }
    size_t e;
    if (!hostport(hp, &out->host, &out->port, &e))
        return false;
    int c = bv_at(hp, e);
    if (c != -1 && c != ';' && c != '?')
        return false;
    struct bv tail = bv_from(hp, e);
    long q = bv_index(tail, '?');
    if (q >= 0) {
        out->params = span(tail, 0, (size_t)q);
        out->headers = bv_from(tail, (size_t)q + 1);
    } else {
        out->params = tail;
    }
    return true;
}

/* ---- name-addr ---- */

bool sip_nameaddr_parse(struct bv v, struct sip_nameaddr *out)
{
    memset(out, 0, sizeof(*out));
    v = bv_trim(v);
    if (!v.len)
        return false;
    size_t i = 0;
    long lt = -1;
    if (bv_at(v, 0) == '"') {
        size_t e = quoted_end(v, 0);
        if (!e)
            return false;
        out->display = span(v, 1, e - 1);
        i = skip_lws(v, e);
        if (bv_at(v, i) != '<')
            return false;
        lt = (long)i;
    } else {
        /* '<' before any ';' marks the name-addr form with a token display name. */
        long semi = bv_index(v, ';');
        lt = bv_index(v, '<');
        if (lt >= 0 && semi >= 0 && semi < lt)
            lt = -1;
        if (lt >= 0) {
            struct bv d = bv_trim(span(v, 0, (size_t)lt));
            for (size_t k = 0; k < d.len; k++) {
                int c = bv_at(d, k);
                if (!is_token(c) && !is_lws(c))
                    return false;
            }
            out->display = d;
        }
    }
    if (lt >= 0) {
        struct bv after = bv_from(v, (size_t)lt + 1);
        long gt = bv_index(after, '>');
        if (gt < 0)
            return false;
        out->uri = span(after, 0, (size_t)gt);
        struct bv rest = bv_trim(bv_from(after, (size_t)gt + 1));
        if (rest.len && bv_at(rest, 0) != ';')
            return false;
        out->params = rest;
    } else {
        /* addr-spec: parameters after the URI belong to the header (RFC 3261 20.10),
         * and the URI itself may not hold ',', ';' or '?'. */
        long semi = bv_index(v, ';');
        out->uri = bv_trim(semi < 0 ? v : span(v, 0, (size_t)semi));
        out->params = semi < 0 ? bv_make(v.p, 0) : bv_from(v, (size_t)semi);
        if (bv_index(out->uri, '?') >= 0 || bv_index(out->uri, ',') >= 0)
            return false;
    }
    if (!sip_uri_parse(out->uri, &out->u))
        return false;
    static const char *const want[] = { "tag" };
    struct bv vals[1];
    unsigned found;
    if (!params_walk(out->params, want, 1, vals, &found))
        return false;
    if (found & 1)
        out->tag = vals[0];
    return true;
}

/* ---- Via ---- */

bool sip_via_parse(struct bv v, struct sip_via *out)
{
    memset(out, 0, sizeof(*out));
    v = bv_trim(v);
    /* sent-protocol = protocol-name SLASH protocol-version SLASH transport, LWS allowed around '/' */
    size_t i = 0, s;
    struct bv part[3];
    for (int k = 0; k < 3; k++) {
        i = skip_lws(v, i);
        s = i;
        i = skip_token(v, i);
        part[k] = span(v, s, i);
        if (!part[k].len)
            return false;
        i = skip_lws(v, i);
        if (k < 2) {
            if (bv_at(v, i) != '/')
                return false;
            i++;
        }
    }
    out->transport = part[2];
    if (!EQ(part[0], "SIP"))
        return false;
    struct bv rest = bv_from(v, i);
    size_t e;
    if (!rest.len || !hostport(rest, &out->host, &out->port, &e))
        return false;
    /* RFC 3261 COLON = SWS ":" SWS; hostport() takes the tight form, allow LWS here. */
    size_t j = skip_lws(rest, e);
    if (!out->port && bv_at(rest, j) == ':') {
        j = skip_lws(rest, j + 1);
        size_t ds = j;
        while (is_digit(bv_at(rest, j)))
            j++;
        uint32_t p;
        if (!bv_u32dec(span(rest, ds, j), &p) || p == 0 || p > 65535)
            return false;
        out->port = (uint16_t)p;
        j = skip_lws(rest, j);
    }
    struct bv params = bv_from(rest, j);
    if (params.len && bv_at(params, 0) != ';')
        return false;
    static const char *const want[] = { "branch", "received", "rport" };
    struct bv vals[3];
    unsigned found;
    if (!params_walk(params, want, 3, vals, &found))
        return false;
    if (found & 1)
        out->branch = vals[0];
    if (found & 2)
        out->received = vals[1];
    if (found & 4) {
        out->has_rport = true;
        out->rport = vals[2];
    }
    return true;
}

/* ---- Reason, Session-ID, CSeq ---- */

bool sip_reason_parse(struct bv v, struct sip_reason *out)
{
    memset(out, 0, sizeof(*out));
    v = bv_trim(v);
    size_t i = skip_token(v, 0);
    out->protocol = span(v, 0, i);
    if (!out->protocol.len)
        return false;
    struct bv params = bv_from(v, skip_lws(v, i));
    if (params.len && bv_at(params, 0) != ';')
        return false;
    struct bv pv;
    if (sip_param_get(params, "cause", &pv) && !bv_u32dec(pv, &out->cause))
        return false;
    if (sip_param_get(params, "text", &pv))
        out->text = pv;
    return true;
}

static bool uuid32(struct bv b)
{
    if (b.len != 32)
        return false;
    for (size_t i = 0; i < 32; i++)
        if (!is_hex(bv_at(b, i)))
            return false;
    return true;
}

bool sip_session_id_parse(struct bv v, struct bv *local, struct bv *remote)
{
    v = bv_trim(v);
    size_t i = 0;
    while (i < v.len && bv_at(v, i) != ';' && !is_lws(bv_at(v, i)))
        i++;
    struct bv l = span(v, 0, i), r = bv_make(v.p, 0), pv;
    if (!uuid32(l))
        return false;
    struct bv params = bv_from(v, skip_lws(v, i));
    if (params.len && bv_at(params, 0) != ';')
        return false;
    if (sip_param_get(params, "remote", &pv)) {
        if (!uuid32(pv))
            return false;
        r = pv;
    }
    *local = l;
    *remote = r;
    return true;
}

bool sip_cseq_parse(struct bv v, uint32_t *seq, struct bv *method)
{
    v = bv_trim(v);
    size_t i = 0;
    while (is_digit(bv_at(v, i)))
        i++;
    uint32_t n;
    if (!bv_u32dec(span(v, 0, i), &n))
        return false;
    size_t j = skip_lws(v, i);
    if (j == i)
        return false;
    size_t k = skip_token(v, j);
    if (k == j || k != v.len)
        return false;
    *seq = n;
    *method = span(v, j, k);
    return true;
}
