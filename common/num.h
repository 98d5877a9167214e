/* The one number parser for text from users and files (options, config,
 * query parameters): whole-string decimal, range-checked, never partial.
 * Wire numbers go through bv_u32dec and friends in bv.h instead. */
#ifndef TS_NUM_H
#define TS_NUM_H

#include <stdbool.h>
#include <stdint.h>

/* s is [0-9]+ (no sign, space or radix prefix) and lo <= value <= hi:
 * true with *out set; false otherwise, *out untouched. */
bool num_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* As num_u64 with an optional leading '-'. */
bool num_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* s is a finite decimal [-]D[.D][e[+-]D] (no hex, inf, nan or space) and
 * lo <= value <= hi: true with *out set; false otherwise. */
bool num_double(const char *s, double lo, double hi, double *out);

#endif
