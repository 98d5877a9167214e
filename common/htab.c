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

void htab_insert(struct htab *t, struct ht_node *n, uint64_t hash)
{
    struct ht_node **b = &t->buckets[hash & t->mask];
    n->hash = hash;
    n->hnext = *b;
    if (*b)
        (*b)->pprev = &n->hnext;
    n->pprev = b;
    *b = n;
    ht_list_insert_before(&t->lru, n);
    t->count++;
}

void htab_remove(struct htab *t, struct ht_node *n)
{
    if (n->pprev) {
        *n->pprev = n->hnext;
        if (n->hnext)
            n->hnext->pprev = n->pprev;
        ht_list_unlink(n);
        t->count--;
    }
    n->hnext = n->lprev = n->lnext = NULL;
    n->pprev = NULL;
}

void htab_touch(struct htab *t, struct ht_node *n)
{
    if (t->lru.lprev == n)
        return;
    ht_list_unlink(n);
    ht_list_insert_before(&t->lru, n);
}

bool htab_requeue(struct htab *t, struct ht_node *n, uint64_t *queued_ns, uint64_t now,
                  uint64_t every)
{
    /* a difference, not a sum: capture times near 2^64 must not wrap into
     * "long ago" (the idle walk would requeue the same entry forever) */
    if (now < *queued_ns || now - *queued_ns < every)
        return false;
    htab_touch(t, n);
    *queued_ns = now;
    return true;
}

struct ht_node *htab_oldest(const struct htab *t)
{
    return t->lru.lnext == &t->lru ? NULL : t->lru.lnext;
}
