/* Bounded intrusive hash table with LRU order (see htab.h). */
#include "htab.h"

#include <stdlib.h>

int htab_init(struct htab *t, size_t max_entries)
{
    size_t n = 16;
    if (max_entries == 0)
        max_entries = 1;
    while (n < max_entries && n < ((size_t)1 << 40))
        n <<= 1;
    t->buckets = calloc(n, sizeof *t->buckets);
    if (!t->buckets)
        return -1;
    t->mask = n - 1;
    t->count = 0;
    t->max = max_entries;
    t->lru.lprev = t->lru.lnext = &t->lru;
    t->lru.hnext = NULL;
    t->lru.pprev = NULL;
    t->lru.hash = 0;
    return 0;
}

void htab_cleanup(struct htab *t)
{
    free(t->buckets);
    t->buckets = NULL;
    t->count = 0;
}

struct ht_node *htab_find(const struct htab *t, uint64_t hash,
                          bool (*eq)(const struct ht_node *n, const void *key),
                          const void *key)
{
    for (struct ht_node *n = t->buckets[hash & t->mask]; n; n = n->hnext)
        if (n->hash == hash && eq(n, key))
            return n;
    return NULL;
}

static void lru_unlink(struct ht_node *n)
{
    n->lprev->lnext = n->lnext;
    n->lnext->lprev = n->lprev;
}

static void lru_append(struct htab *t, struct ht_node *n)
{
    n->lprev = t->lru.lprev;
    n->lnext = &t->lru;
    t->lru.lprev->lnext = n;
    t->lru.lprev = n;
}

void htab_insert(struct htab *t, struct ht_node *n, uint64_t hash)
{
    struct ht_node **b = &t->buckets[hash & t->mask];
    n->hash = hash;
    n->hnext = *b;
    if (*b)
        (*b)->pprev = &n->hnext;
    n->pprev = b;
    *b = n;
    lru_append(t, n);
    t->count++;
}

void htab_remove(struct htab *t, struct ht_node *n)
{
    if (n->pprev) {
        *n->pprev = n->hnext;
        if (n->hnext)
            n->hnext->pprev = n->pprev;
        lru_unlink(n);
        t->count--;
    }
    n->hnext = n->lprev = n->lnext = NULL;
    n->pprev = NULL;
}

void htab_touch(struct htab *t, struct ht_node *n)
{
    if (t->lru.lprev == n)
        return;
    lru_unlink(n);
    lru_append(t, n);
}

struct ht_node *htab_oldest(const struct htab *t)
{
    return t->lru.lnext == &t->lru ? NULL : t->lru.lnext;
}
