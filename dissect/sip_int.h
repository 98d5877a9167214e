/* Private to dissect/sip.c (the message, start lines, header names) and
 * dissect/sip_value.c (header value parsers): RFC 3261 25.1 character
 * classes and the small view helpers both use. */
#ifndef TS_DISSECT_SIP_INT_H
#define TS_DISSECT_SIP_INT_H

#include "sip.h"


/* RFC 3261 token characters: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" */
static const uint8_t tok_tab[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
    ['-'] = 1, ['.'] = 1, ['!'] = 1, ['%'] = 1, ['*'] = 1, ['_'] = 1, ['+'] = 1, ['`'] = 1,
    ['\''] = 1, ['~'] = 1,
};

static inline bool is_token(int c) { return c >= 0 && tok_tab[c]; }
static inline bool is_digit(int c) { return c >= '0' && c <= '9'; }
static inline bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static inline bool is_sp(int c) { return c == ' ' || c == '\t'; }
static inline bool is_lws(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static inline bool is_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static inline int lc(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

static inline size_t skip_lws(struct bv b, size_t i)
{
    while (is_lws(bv_at(b, i)))
        i++;
    return i;
}

static inline size_t skip_token(struct bv b, size_t i)
{
    while (is_token(bv_at(b, i)))
        i++;
    return i;
}

/* [a, b) of v; empty view when out of range. */
static inline struct bv span(struct bv v, size_t a, size_t b)
{
    struct bv out = BV_NULL;
    if (b >= a && bv_sub(v, a, b - a, &out))
        return out;
    return bv_make(v.p, 0);
}

/* Case-insensitive compare with a literal of known length. */
static inline bool eq_ci(struct bv b, const char *s, size_t n)
{
    if (b.len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lc(bv_at(b, i)) != lc((unsigned char)s[i]))
            return false;
    return true;
}
#define EQ(b, lit) eq_ci((b), (lit), sizeof(lit) - 1)

static inline bool all_token(struct bv b)
{
    if (!b.len)
        return false;
    return skip_token(b, 0) == b.len;
}

/* Next non-empty element of a comma list starting at *off; commas inside
 * quoted strings and <> do not split. */
static inline bool list_next(struct bv v, size_t *off, struct bv *elem)
{
    size_t i = *off;
    for (;;) {
        while (i < v.len && (is_lws(bv_at(v, i)) || bv_at(v, i) == ','))
            i++;
        if (i >= v.len) {
            *off = i;
            return false;
        }
        size_t start = i;
        bool inq = false, inang = false;
        while (i < v.len) {
            int c = bv_at(v, i);
            if (inq) {
                if (c == '\\')
                    i++;
                else if (c == '"')
                    inq = false;
            } else if (c == '"') {
                inq = true;
            } else if (c == '<') {
                inang = true;
            } else if (c == '>') {
                inang = false;
            } else if (c == ',' && !inang) {
                break;
            }
            i++;
        }
        if (i > v.len)
            i = v.len;
        *elem = bv_trim(span(v, start, i));
        *off = i;
        if (elem->len)
            return true;
    }
}

#endif
