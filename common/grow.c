/* Growable arrays (see grow.h). */
#include "grow.h"

#include <stdint.h>
#include <stdlib.h>

void *ts_grow(void *arr, size_t *cap, size_t elem, size_t first, size_t max)
{
    if (max && *cap >= max)
        return NULL;
    if (*cap > SIZE_MAX / 2 / (elem ? elem : 1))
        return NULL;
    size_t n = *cap ? *cap * 2 : first;
    if (max && n > max)
        n = max;
    void *p = realloc(arr, n * elem);
    if (p)
        *cap = n;
    return p;
}
