/* Streaming JSON writer (RFC 8259 section 7 string escaping; RFC 3629 UTF-8
 * validation with U+FFFD replacement, so any bytes give valid JSON). */
#include "jsonw.h"

#include <math.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include "utf8.h"

/* Bytes reach the FILE in blocks: a call per token cost more than the
 * formatting (stdio locks the FILE on each). */
void jsonw_flush(struct jsonw *w)
{
    if (w->err == JSONW_OK && w->blen && fwrite(w->buf, 1, w->blen, w->f) != w->blen)
        w->err = JSONW_EIO;
    w->blen = 0;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
    if (w->err != JSONW_OK || !n)
        return;
    if (n > sizeof w->buf - w->blen) {
        jsonw_flush(w);
        if (n >= sizeof w->buf) {
            if (w->err == JSONW_OK && fwrite(s, 1, n, w->f) != n)
                w->err = JSONW_EIO;
            return;
        }
    }
    memcpy(w->buf + w->blen, s, n);
    w->blen += n;
}

/* Room for n more bytes at the buffer's end (n well under its size),
 * flushing first when needed: the common tokens are written in place
 * rather than through a put() each (a report has millions of items). */
static inline char *room(struct jsonw *w, size_t n)
{
    if (n > sizeof w->buf - w->blen)
        jsonw_flush(w);
    return w->buf + w->blen;
}

/* Separator and state check before any value; is_key: an object key. */
static inline bool pre_item(struct jsonw *w, bool is_key)
{
    if (w->err != JSONW_OK)
        return false;
    bool in_obj = w->depth > 0 && w->is_obj[w->depth];
    bool want_key = in_obj && !w->after_key;
    /* a key outside an object, a value without its key, or a 2nd document */
    if (is_key != want_key || (w->depth == 0 && w->has_items[0])) {
        w->err = JSONW_ESTATE;
        return false;
    }
    if (w->after_key) {
        w->after_key = false;
        return true;
    }
    /* ",", then with pretty a newline and two spaces per level */
    char *p = room(w, 2 + 2 * JSONW_MAX_DEPTH);
    size_t o = 0;
    if (w->has_items[w->depth])
        p[o++] = ',';
    w->has_items[w->depth] = true;
    if (w->pretty && w->depth > 0) {
        p[o++] = '\n';
        memset(p + o, ' ', (size_t)w->depth * 2);
        o += (size_t)w->depth * 2;
    }
    w->blen += o;
    return true;
}

void jsonw_init(struct jsonw *w, FILE *f, bool pretty)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->pretty = pretty;
}

void jsonw_init_at(struct jsonw *w, FILE *f, bool pretty, int depth)
{
    jsonw_init(w, f, pretty);
    if (depth < 1 || depth > JSONW_MAX_DEPTH) {
        w->err = JSONW_EDEPTH;
        return;
    }
    for (int d = 0; d < depth; d++) {
        w->has_items[d] = true;
        w->is_obj[d] = true;
    }
    w->depth = depth;
    w->is_obj[depth] = false;
}

static void open_c(struct jsonw *w, bool obj)
{
    if (!pre_item(w, false))
        return;
    if (w->depth >= JSONW_MAX_DEPTH) {
        w->err = JSONW_EDEPTH;
        return;
    }
    put(w, obj ? "{" : "[", 1);
    w->depth++;
    w->is_obj[w->depth] = obj;
    w->has_items[w->depth] = false;
}

static void close_c(struct jsonw *w, bool obj)
{
    if (w->err != JSONW_OK)
        return;
    if (w->depth == 0 || w->is_obj[w->depth] != obj || w->after_key) {
        w->err = JSONW_ESTATE;
        return;
    }
    bool had = w->has_items[w->depth];
    w->depth--;
    char *p = room(w, 2 + 2 * JSONW_MAX_DEPTH);
    size_t o = 0;
    if (had && w->pretty) {
        p[o++] = '\n';
        memset(p + o, ' ', (size_t)w->depth * 2);
        o += (size_t)w->depth * 2;
    }
    p[o++] = obj ? '}' : ']';
    w->blen += o;
}

void jsonw_obj_begin(struct jsonw *w) { open_c(w, true); }
void jsonw_obj_end(struct jsonw *w) { close_c(w, true); }
void jsonw_arr_begin(struct jsonw *w) { open_c(w, false); }
void jsonw_arr_end(struct jsonw *w) { close_c(w, false); }

/* Bytes a JSON string holds as they are: printable ASCII but '"' and '\\'. */
static inline bool plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* All 8 bytes of x plain: no byte under 0x20 or from 0x80 up, no '"' or
 * '\\' (a borrow in the subtraction starts only at a byte under 0x20, so
 * a flag always means a byte to escape; such a word goes byte by byte). */
static inline bool plain8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    return !(((x - ones * 0x20) | ((q - ones) & ~q) | ((b - ones) & ~b) | x) & high);
}

/* The quoted string, then sfx (sl bytes, for a key's ": "). */
static void put_escaped_sfx(struct jsonw *w, const char *str, size_t n, const char *sfx, size_t sl)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    for (uint64_t x; i + 8 <= n; i += 8) {
        memcpy(&x, s + i, 8);
        if (!plain8(x))
            break;
    }
    while (i < n && plain(s[i]))
        i++;
    if (i == n && n <= 1024) { /* the usual case: all plain, in one go */
        char *p = room(w, n + 2 + sl);
        p[0] = '"';
        memcpy(p + 1, str, n);
        p[n + 1] = '"';
        for (size_t j = 0; j < sl; j++)
            p[n + 2 + j] = sfx[j];
        w->blen += n + 2 + sl;
        return;
    }
    size_t run = 0; /* start of the pending run of plain bytes */
    put(w, "\"", 1);
    while (i < n) {
        unsigned char c = s[i];
        if (plain(c)) {
            i++;
            continue;
        }
        size_t ul = c >= 0x80 ? utf8_seq_len(s + i, n - i) : 1;
        /* U+2028/2029 are valid JSON but break JavaScript string literals */
        bool ls = ul == 3 && c == 0xE2 && s[i + 1] == 0x80 &&
                  (s[i + 2] == 0xA8 || s[i + 2] == 0xA9);
        if (c >= 0x80 && ul > 0 && !ls) {
            i += ul;
            continue;
        }
        put(w, str + run, i - run);
        char esc[8];
        size_t el = 2;
        esc[0] = '\\';
        if (ls) {
            memcpy(esc, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
            el = 6;
            i += 3;
        } else if (c >= 0x80) {
            memcpy(esc, "\\ufffd", 6);
            el = 6;
            i++;
        } else {
            switch (c) {
            case '"': esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            default:
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                el = 6;
            }
            i++;
        }
        put(w, esc, el);
        run = i;
    }
    put(w, str + run, n - run);
    put(w, "\"", 1);
    put(w, sfx, sl);
}

static void put_escaped(struct jsonw *w, const char *str, size_t n)
{
    put_escaped_sfx(w, str, n, "", 0);
}

void jsonw_keyn(struct jsonw *w, const char *k, size_t n)
{
    if (!pre_item(w, true))
        return;
    put_escaped_sfx(w, k, n, ": ", w->pretty ? 2 : 1);
    w->after_key = true;
}

void jsonw_strn(struct jsonw *w, const char *s, size_t n)
{
    if (!pre_item(w, false))
        return;
    put_escaped(w, s ? s : "", s ? n : 0);
}

void jsonw_str(struct jsonw *w, const char *s)
{
    if (!s) {
        jsonw_null(w);
        return;
    }
    jsonw_strn(w, s, strlen(s));
}

static void put_raw_value(struct jsonw *w, const char *buf, int n)
{
    if (!pre_item(w, false))
        return;
    if (n > 0)
        put(w, buf, (size_t)n);
}

/* "00" to "99": digits two at a time. */
static const char dec2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                              "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                              "8081828384858687888990919293949596979899";

/* Decimal digits of v, right-aligned ending at end; returns the start
 * (printf's format parsing cost more than the rest of a report). */
static char *u64_dec(uint64_t v, char *end)
{
    while (v >= 100) {
        end -= 2;
        memcpy(end, dec2 + v % 100 * 2, 2);
        v /= 100;
    }
    if (v >= 10) {
        end -= 2;
        memcpy(end, dec2 + v * 2, 2);
    } else {
        *--end = (char)('0' + v);
    }
    return end;
}

void jsonw_int(struct jsonw *w, int64_t v)
{
    char b[24];
    char *p = u64_dec(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, b + sizeof b);
    if (v < 0)
        *--p = '-';
    put_raw_value(w, p, (int)(b + sizeof b - p));
}

void jsonw_uint(struct jsonw *w, uint64_t v)
{
    char b[24];
    char *p = u64_dec(v, b + sizeof b);
    put_raw_value(w, p, (int)(b + sizeof b - p));
}

void jsonw_double(struct jsonw *w, double v, int decimals)
{
    if (!isfinite(v)) {
        jsonw_null(w);
        return;
    }
    if (decimals < 0)
        decimals = 0;
    if (decimals > 9)
        decimals = 9;
    char b[64];
    int n = snprintf(b, sizeof b, "%.*f", decimals, v);
    if (n <= 0 || (size_t)n >= sizeof b) {
        jsonw_null(w); /* |v| too large for a fixed-point rendering */
        return;
    }
    if (b[0] == '-' && strspn(b + 1, "0.") == (size_t)n - 1)
        memmove(b, b + 1, (size_t)n--); /* no negative zero */
    put_raw_value(w, b, n);
}

__extension__ typedef unsigned __int128 jw_u128;

/* 10^p as a 128-bit integer, p in 0..38. */
static jw_u128 pow10_128(int p)
{
    static const uint64_t t[20] = {
        1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
        100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
        10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
        100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
    };
    return p < 20 ? t[p] : (jw_u128)t[19] * t[p - 19];
}

/* Bits [q, q + 64) of the 192-bit number w (least significant word first). */
static uint64_t bits_from(const uint64_t w[3], int q)
{
    int i = q / 64, s = q % 64;
    uint64_t lo = i < 3 ? w[i] : 0, hi = i + 1 < 3 ? w[i + 1] : 0;
    return s ? lo >> s | hi << (64 - s) : lo;
}

/* Any of the bits [0, q) of w set. */
static bool bits_below(const uint64_t w[3], int q)
{
    for (int j = 0; j < q / 64; j++)
        if (w[j])
            return true;
    return q % 64 && (w[q / 64] & ((1ull << (q % 64)) - 1));
}

/* The text of jsonw_real() for 1e-22 <= v < 1e17 without printf (whose
 * multiple-precision "%.17g" was a fifth of the report's cost): v is m * 2^e
 * exactly, so m * 10^p (192 bits) shifted by -e is v * 10^p, for the p that
 * leaves 17 digits, with its rounding bits: to nearest, ties to even, as
 * glibc's printf rounds. The digits then take "%g"'s layout and jansson's
 * touches. Returns the length written to b (40 bytes), or 0 when v is
 * outside that range (then printf does it). */
static size_t real17(double v, char *b)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int be = (int)(bits >> 52 & 0x7ff);
    if (be == 0 || be == 0x7ff)
        return 0; /* subnormal, or not finite */
    uint64_t m = (bits & ((1ull << 52) - 1)) | 1ull << 52;
    int e = be - 1075;
    if (e > 4)
        return 0; /* v >= 2^57 > 1e17 */
    /* decimal exponent k = floor(log10(v)), first guessed from the binary
     * one (log10(2) ~ 78913 / 2^18), then set by the digit count */
    int eb = be - 1023;
    int k = eb >= 0 ? (eb * 78913) >> 18 : -((-eb * 78913 + (1 << 18) - 1) >> 18);
    uint64_t n = 0;
    for (int tries = 0;; tries++) {
        int p = 16 - k;
        if (tries == 3 || p < 0 || p > 38)
            return 0;
        jw_u128 pw = pow10_128(p);
        jw_u128 lo = (jw_u128)m * (uint64_t)pw, hi = (jw_u128)m * (uint64_t)(pw >> 64);
        jw_u128 mid = (lo >> 64) + (uint64_t)hi;
        uint64_t w[3] = { (uint64_t)lo, (uint64_t)mid, (uint64_t)((hi >> 64) + (mid >> 64)) };
        bool up = false;
        uint64_t fl;
        if (e >= 0) { /* m * 10^p < 2^64 here: v < 2^57 and p <= 1 */
            if (w[1] || w[0] >> (63 - e))
                return 0;
            fl = w[0] << e;
        } else {
            int q = -e;
            if (q > 190 || bits_from(w, q + 64))
                return 0;
            fl = bits_from(w, q);
            bool half = bits_from(w, q - 1) & 1, more = bits_below(w, q - 1);
            up = half && (more || (fl & 1));
        }
        if (fl < 10000000000000000ull) {
            k--;
            continue;
        }
        if (fl >= 100000000000000000ull) {
            k++;
            continue;
        }
        n = fl + up;
        if (n == 100000000000000000ull) {
            n = 10000000000000000ull;
            k++;
        }
        break;
    }
    char d[17];
    u64_dec(n, d + 17); /* n has exactly 17 digits */
    int nd = 17; /* "%g" drops trailing zeros */
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    size_t o = 0;
    if (k < -4) { /* "%g"'s exponent form; k is -5..-22 here */
        b[o++] = d[0];
        if (nd > 1) {
            b[o++] = '.';
            memcpy(b + o, d + 1, (size_t)nd - 1);
            o += (size_t)nd - 1;
        }
        b[o++] = 'e';
        b[o++] = '-';
        if (k <= -10)
            b[o++] = (char)('0' - k / 10);
        b[o++] = (char)('0' - k % 10);
    } else if (k >= 0) {
        memcpy(b + o, d, (size_t)k + 1);
        o += (size_t)k + 1;
        b[o++] = '.';
        if (nd > k + 1) {
            memcpy(b + o, d + k + 1, (size_t)(nd - k - 1));
            o += (size_t)(nd - k - 1);
        } else {
            b[o++] = '0'; /* jansson's ".0" on an integral value */
        }
    } else {
        b[o++] = '0';
        b[o++] = '.';
        for (int i = -1; i > k; i--)
            b[o++] = '0';
        memcpy(b + o, d, (size_t)nd);
        o += (size_t)nd;
    }
    return o;
}

/* "%.*g" with jansson's touches: ".0" on an integer, no '+' or leading
 * zeros in the exponent (v finite). */
static void put_g(struct jsonw *w, double v, int prec)
{
    char b[40];
    int n = snprintf(b, sizeof b, "%.*g", prec, v);
    if (n <= 0 || (size_t)n + 3 > sizeof b) {
        jsonw_null(w);
        return;
    }
    size_t len = (size_t)n;
    if (!strchr(b, '.') && !strchr(b, 'e')) {
        memcpy(b + len, ".0", 3);
        len += 2;
    }
    char *e = strchr(b, 'e');
    if (e) {
        char *start = e + 1, *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - b) + 1);
            len -= (size_t)(end - start);
        }
    }
    put_raw_value(w, b, (int)len);
}

void jsonw_real_prec(struct jsonw *w, double v, int prec)
{
    if (!isfinite(v)) {
        jsonw_null(w);
        return;
    }
    put_g(w, v, prec < 1 ? 1 : prec > 17 ? 17 : prec);
}

void jsonw_raw(struct jsonw *w, const char *json, size_t n)
{
    if (pre_item(w, false))
        put(w, json, n);
}

/* jansson's rendering of a real (what the report always printed): "%.17g",
 * ".0" added when it would read as an integer, no '+' or leading zeros in
 * the exponent. */
void jsonw_real(struct jsonw *w, double v)
{
    if (!isfinite(v)) {
        jsonw_null(w);
        return;
    }
    char b[40];
    if (v == 0) {
        put_raw_value(w, signbit(v) ? "-0.0" : "0.0", signbit(v) ? 4 : 3);
        return;
    }
    size_t fl = real17(v < 0 ? -v : v, b + 1);
    if (fl) {
        b[0] = '-';
        put_raw_value(w, v < 0 ? b : b + 1, (int)(fl + (v < 0)));
        return;
    }
    put_g(w, v, 17);
}

void jsonw_bool(struct jsonw *w, bool v)
{
    put_raw_value(w, v ? "true" : "false", v ? 4 : 5);
}

void jsonw_null(struct jsonw *w) { put_raw_value(w, "null", 4); }


void jsonw_splice(struct jsonw *w, FILE *src)
{
    if (w->err != JSONW_OK)
        return;
    if (w->depth == 0 || w->is_obj[w->depth] || w->has_items[w->depth]) {
        w->err = JSONW_ESTATE;
        return;
    }
    jsonw_flush(w);
    if (fflush(src) != 0 || fseek(src, 0, SEEK_SET) != 0) {
        w->err = JSONW_EIO;
        return;
    }
    /* in the kernel when it can (spool files are large), else through here */
    struct stat st;
    off_t off = 0;
    if (fstat(fileno(src), &st) == 0 && st.st_size > 0 && fflush(w->f) == 0) {
        while (off < st.st_size) {
            ssize_t n = sendfile(fileno(w->f), fileno(src), &off, (size_t)(st.st_size - off));
            if (n <= 0)
                break;
        }
        if (off > 0)
            w->has_items[w->depth] = true;
        if (off == st.st_size)
            return;
        if (fseek(src, off, SEEK_SET) != 0) {
            w->err = JSONW_EIO;
            return;
        }
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, src)) > 0) {
        if (w->err == JSONW_OK && fwrite(buf, 1, n, w->f) != n)
            w->err = JSONW_EIO;
        w->has_items[w->depth] = true;
    }
    if (ferror(src))
        w->err = JSONW_EIO;
}

enum jsonw_err jsonw_end(struct jsonw *w)
{
    if (w->err == JSONW_OK && (w->depth != 0 || w->after_key))
        w->err = JSONW_ESTATE;
    put(w, "\n", 1);
    jsonw_flush(w);
    return w->err;
}

enum jsonw_err jsonw_finish(struct jsonw *w)
{
    jsonw_end(w);
    if (w->err == JSONW_OK && fflush(w->f) != 0)
        w->err = JSONW_EIO;
    return w->err;
}

void jsonw_fput_str(FILE *f, const char *s)
{
    struct jsonw w;
    jsonw_init(&w, f, false);
    put_escaped(&w, s, strlen(s));
    jsonw_flush(&w);
}

