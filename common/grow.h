/* Growable arrays: the one place that doubles a capacity, caps it at its
 * limit and checks the multiplication, for every table that grows by
 * realloc(). */
#ifndef TS_GROW_H
#define TS_GROW_H

#include <stddef.h>

/* Room for more elements of size elem in arr (capacity *cap): the array
 * reallocated to twice *cap (first when empty), at most max (0: no limit).
 * Returns the new array and updates *cap; NULL, with arr and *cap as they
 * were, when *cap is already max or memory ran out. */
void *ts_grow(void *arr, size_t *cap, size_t elem, size_t first, size_t max);

#endif
