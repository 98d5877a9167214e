/* Streaming JSON writer (RFC 8259): no document tree in memory; strings are
 * UTF-8 checked (RFC 3629) and invalid bytes become U+FFFD. */
#ifndef TS_JSONW_H
#define TS_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Nesting depth: our documents are shallow; deeper is a programming error. */
#define JSONW_MAX_DEPTH 32

enum jsonw_err {
    JSONW_OK = 0,
    JSONW_EDEPTH, /* nesting beyond JSONW_MAX_DEPTH */
    JSONW_ESTATE, /* key where a value belongs, or the reverse */
    JSONW_EIO,    /* the FILE reported an error */
};

struct jsonw {
    FILE *f;
    int depth;
    bool pretty;
    bool after_key;
    bool has_items[JSONW_MAX_DEPTH + 1];
    bool is_obj[JSONW_MAX_DEPTH + 1];
    enum jsonw_err err; /* first error; later calls become no-ops */
    size_t blen;
    char buf[8192];     /* bytes not yet handed to f */
};

/* Start a document on f (not owned). pretty: newline and indent per item. */
void jsonw_init(struct jsonw *w, FILE *f, bool pretty);
/* A writer of items inside an array at depth (1..JSONW_MAX_DEPTH) of some
 * enclosing document: the items of a spooled array, spliced in later. */
void jsonw_init_at(struct jsonw *w, FILE *f, bool pretty, int depth);
void jsonw_obj_begin(struct jsonw *w);
void jsonw_obj_end(struct jsonw *w);
void jsonw_arr_begin(struct jsonw *w);
void jsonw_arr_end(struct jsonw *w);
/* Object key of n bytes, escaped like a string. */
void jsonw_keyn(struct jsonw *w, const char *k, size_t n);
/* Object key (NUL-terminated). Inline, as are the shorthands below, so
 * that a literal key's length is known where it is written. */
static inline void jsonw_key(struct jsonw *w, const char *k) { jsonw_keyn(w, k, strlen(k)); }
/* String value of n bytes (need not be NUL-terminated; may hold NULs). */
void jsonw_strn(struct jsonw *w, const char *s, size_t n);
/* NUL-terminated string value; NULL writes null. */
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_uint(struct jsonw *w, uint64_t v);
/* Fixed-point with `decimals` digits (0..9); NaN and infinities become null. */
void jsonw_double(struct jsonw *w, double v, int decimals);
/* A real as jansson renders it ("%.17g", "1.0" not "1"); NaN and
 * infinities become null. */
void jsonw_real(struct jsonw *w, double v);
/* A real as jansson renders it with JSON_REAL_PRECISION(prec) ("%.*g",
 * prec 1..17), as the API's jansson responses do. */
void jsonw_real_prec(struct jsonw *w, double v, int prec);
/* A value already in JSON text (the caller checked it), written as is. */
void jsonw_raw(struct jsonw *w, const char *json, size_t n);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);
/* Key + value shorthands. */
static inline void jsonw_kstr(struct jsonw *w, const char *k, const char *v)
{
    jsonw_key(w, k);
    jsonw_str(w, v);
}
static inline void jsonw_kint(struct jsonw *w, const char *k, int64_t v)
{
    jsonw_key(w, k);
    jsonw_int(w, v);
}
static inline void jsonw_kuint(struct jsonw *w, const char *k, uint64_t v)
{
    jsonw_key(w, k);
    jsonw_uint(w, v);
}
static inline void jsonw_kdouble(struct jsonw *w, const char *k, double v, int decimals)
{
    jsonw_key(w, k);
    jsonw_double(w, v, decimals);
}
static inline void jsonw_kreal(struct jsonw *w, const char *k, double v)
{
    jsonw_key(w, k);
    jsonw_real(w, v);
}
static inline void jsonw_kbool(struct jsonw *w, const char *k, bool v)
{
    jsonw_key(w, k);
    jsonw_bool(w, v);
}
static inline void jsonw_knull(struct jsonw *w, const char *k)
{
    jsonw_key(w, k);
    jsonw_null(w);
}
/* Hands the buffered bytes to the FILE (no fflush): before anything else
 * writes to it, or reads what it holds. jsonw_end/finish/splice do it. */
void jsonw_flush(struct jsonw *w);
/* Copies everything src holds (from its start; jsonw_init_at() items of
 * the same depth) as the items of the open, still empty array. */
void jsonw_splice(struct jsonw *w, FILE *src);
/* Ends the document with a newline; JSONW_ESTATE if containers are open. */
enum jsonw_err jsonw_end(struct jsonw *w);
/* jsonw_end() and a flush. */
enum jsonw_err jsonw_finish(struct jsonw *w);

/* A quoted JSON string escaped like every other (for small status files
 * written with fprintf). */
void jsonw_fput_str(FILE *f, const char *s);

#endif
