/* Bounded intrusive hash table with an LRU list, for every table that traffic
 * fills (fragments, TCP connections, dialogs, streams). The owner embeds a
 * struct ht_node in its entry, hashes its key with ts_hash(), and evicts
 * htab_oldest() when htab_full(): the table never allocates per entry. */
#ifndef TS_HTAB_H
#define TS_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ts_container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct ht_node {
    struct ht_node *hnext;          /* bucket chain */
    struct ht_node **pprev;         /* the link that points here: O(1) removal even
                                     * when many entries share a key (multimaps) */
    struct ht_node *lprev, *lnext;  /* LRU list: sentinel.lnext is oldest */
    uint64_t hash;
};

struct htab {
    struct ht_node **buckets;
    size_t mask;
    size_t count;
    size_t max;
    struct ht_node lru; /* sentinel */
};

/* Bucket array sized for max entries; returns 0, or -1 on allocation failure. */
int htab_init(struct htab *t, size_t max_entries);
/* Frees the buckets only: entries belong to the caller. */
void htab_cleanup(struct htab *t);

static inline bool htab_full(const struct htab *t) { return t->count >= t->max; }

/* First node with this hash whose key eq() accepts, or NULL. */
struct ht_node *htab_find(const struct htab *t, uint64_t hash,
                          bool (*eq)(const struct ht_node *n, const void *key),
                          const void *key);
/* Insert as newest. The caller evicts first when htab_full(). */
void htab_insert(struct htab *t, struct ht_node *n, uint64_t hash);
void htab_remove(struct htab *t, struct ht_node *n);
/* Mark as most recently used. */
void htab_touch(struct htab *t, struct ht_node *n);
/* For a lazily ordered LRU, where the owner does not touch an entry on
 * every use (a move costs two cache misses on its list neighbours) but keeps
 * the time it was last queued, *queued_ns, and moves a still used entry when
 * its walk from the oldest reaches it: when n was queued at least `every` ns
 * before now, moves it to the young end, sets *queued_ns = now and returns
 * true. Entries stay ordered by *queued_ns. */
bool htab_requeue(struct htab *t, struct ht_node *n, uint64_t *queued_ns, uint64_t now,
                  uint64_t every);
/* A prefetch the compiler cannot drop: GCC 12 deletes __builtin_prefetch()
 * of an address loaded from memory when inlined with a constant line count,
 * which left htab_prefetch_entry() an empty function. */
static inline void ts_prefetch(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("prefetcht0 %0" : : "m"(*(const char *)p));
#else
    __builtin_prefetch(p);
#endif
}

/* Prefetch hints (speed only): the bucket of hash, then (once it arrived)
 * the first bytes of the first entry of that bucket: every cache line they
 * span, since entries from malloc are not line-aligned. */
static inline void htab_prefetch_bucket(const struct htab *t, uint64_t hash)
{
    ts_prefetch(&t->buckets[hash & t->mask]);
}
static inline void htab_prefetch_entry(const struct htab *t, uint64_t hash, size_t off,
                                       size_t bytes)
{
    const struct ht_node *n = t->buckets[hash & t->mask];
    if (!n || !bytes)
        return;
    uintptr_t a = (uintptr_t)((const char *)n - off);
    uintptr_t first = a & ~(uintptr_t)63, last = (a + bytes - 1) & ~(uintptr_t)63;
    for (uintptr_t p = first; p <= last; p += 64)
        ts_prefetch((const void *)p);
}
/* The LRU list's links, for an owner that keeps some entries on lists of
 * its own for a while (still in the table; htab_touch() brings them back). */
static inline void ht_list_unlink(struct ht_node *n)
{
    n->lprev->lnext = n->lnext;
    n->lnext->lprev = n->lprev;
}
static inline void ht_list_insert_before(struct ht_node *pos, struct ht_node *n)
{
    n->lnext = pos;
    n->lprev = pos->lprev;
    pos->lprev->lnext = n;
    pos->lprev = n;
}
/* Least recently used node, or NULL when empty. */
struct ht_node *htab_oldest(const struct htab *t);

#endif
