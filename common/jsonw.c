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

static void newline(struct jsonw *w)
{
    static const char sp[] = "                                                                ";
    if (!w->pretty)
        return;
    put(w, "\n", 1);
    size_t n = (size_t)w->depth * 2;
    put(w, sp, n < sizeof sp - 1 ? n : sizeof sp - 1);
}

/* Separator and state check before any value; is_key: an object key. */
static bool pre_item(struct jsonw *w, bool is_key)
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
    if (w->has_items[w->depth])
        put(w, ",", 1);
    w->has_items[w->depth] = true;
    if (w->depth > 0)
        newline(w);
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
    if (had)
        newline(w);
    put(w, obj ? "}" : "]", 1);
}

void jsonw_obj_begin(struct jsonw *w) { open_c(w, true); }
void jsonw_obj_end(struct jsonw *w) { close_c(w, true); }
void jsonw_arr_begin(struct jsonw *w) { open_c(w, false); }
void jsonw_arr_end(struct jsonw *w) { close_c(w, false); }

static void put_escaped(struct jsonw *w, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t run = 0; /* start of the pending run of plain bytes */
    put(w, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
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
}

void jsonw_key(struct jsonw *w, const char *k)
{
    if (!pre_item(w, true))
        return;
    put_escaped(w, k, strlen(k));
    put(w, w->pretty ? ": " : ":", w->pretty ? 2 : 1);
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

/* Decimal digits of v, right-aligned ending at end; returns the start
 * (printf's format parsing cost more than the rest of a report). */
static char *u64_dec(uint64_t v, char *end)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
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
    int n = snprintf(b, sizeof b, "%.17g", v);
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

void jsonw_bool(struct jsonw *w, bool v)
{
    put_raw_value(w, v ? "true" : "false", v ? 4 : 5);
}

void jsonw_null(struct jsonw *w) { put_raw_value(w, "null", 4); }

void jsonw_kstr(struct jsonw *w, const char *k, const char *v) { jsonw_key(w, k); jsonw_str(w, v); }
void jsonw_kint(struct jsonw *w, const char *k, int64_t v) { jsonw_key(w, k); jsonw_int(w, v); }
void jsonw_kuint(struct jsonw *w, const char *k, uint64_t v) { jsonw_key(w, k); jsonw_uint(w, v); }
void jsonw_kdouble(struct jsonw *w, const char *k, double v, int d) { jsonw_key(w, k); jsonw_double(w, v, d); }
void jsonw_kreal(struct jsonw *w, const char *k, double v) { jsonw_key(w, k); jsonw_real(w, v); }
void jsonw_kbool(struct jsonw *w, const char *k, bool v) { jsonw_key(w, k); jsonw_bool(w, v); }
void jsonw_knull(struct jsonw *w, const char *k) { jsonw_key(w, k); jsonw_null(w); }

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

