/* Binary min-heap of pending generator events (time, then insertion order). */
#include "evq.h"

#include <stdlib.h>
#include <string.h>

#include "../common/grow.h"

void evq_init(struct evq *q) { memset(q, 0, sizeof *q); }

void evq_cleanup(struct evq *q)
{
    free(q->v);
    memset(q, 0, sizeof *q);
}

static inline bool less(const struct evq_ent *x, const struct evq_ent *y)
{
    return x->t < y->t || (x->t == y->t && x->tie < y->tie);
}

bool evq_push(struct evq *q, uint64_t t, uint8_t kind, void *obj, uint32_t a,
              uint16_t b, uint8_t flags)
{
    if (q->n == q->cap) {
        struct evq_ent *nv = ts_grow(q->v, &q->cap, sizeof *nv, 1024, 0);
        if (!nv)
            return false;
        q->v = nv;
    }
    struct evq_ent e = { t, q->tie++, obj, a, b, kind, flags };
    size_t i = q->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!less(&e, &q->v[p]))
            break;
        q->v[i] = q->v[p];
        i = p;
    }
    q->v[i] = e;
    if (q->n > q->peak)
        q->peak = q->n;
    return true;
}

bool evq_pop(struct evq *q, struct evq_ent *out)
{
    if (q->n == 0)
        return false;
    *out = q->v[0];
    struct evq_ent last = q->v[--q->n];
    size_t i = 0, n = q->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && less(&q->v[c + 1], &q->v[c]))
            c++;
        if (!less(&q->v[c], &last))
            break;
        q->v[i] = q->v[c];
        i = c;
    }
    if (n > 0)
        q->v[i] = last;
    return true;
}
