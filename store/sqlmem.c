/* SQLite's memory, counted without its global lock. SQLite's own memory
 * statistics (SQLITE_CONFIG_MEMSTATUS, on by default) take one process-wide
 * mutex around every allocation and free of every connection: 7.5 % of the
 * store writer's samples went to that lock. They are turned off here, and
 * SQLite's default allocator is wrapped by one that adds the size of each
 * block it hands out (xSize: what sqlite3_memory_used() counted) to a
 * counter of the calling thread's slot, and takes it away on free. The
 * slots are summed on demand: the same figure, bytes SQLite holds now in
 * this process, without a shared lock or a shared cache line per call. */
#include "store_int.h"

#include <pthread.h>
#include <stdatomic.h>

/* Counter slots, one cache line each; threads take them round robin (a
 * block freed on another thread than its allocation moves bytes between
 * slots, the sum stays right). */
#define SQLMEM_SLOTS 64

struct sqlmem_slot {
    _Alignas(64) atomic_llong bytes;
};

static struct sqlmem_slot slots[SQLMEM_SLOTS];
static atomic_uint next_slot;
static _Thread_local struct sqlmem_slot *my_slot;
static sqlite3_mem_methods base;
static bool installed;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static struct sqlmem_slot *slot(void)
{
    if (!my_slot)
        my_slot = &slots[atomic_fetch_add_explicit(&next_slot, 1, memory_order_relaxed) %
                         SQLMEM_SLOTS];
    return my_slot;
}

static void count(void *p, long long sign)
{
    if (p)
        atomic_fetch_add_explicit(&slot()->bytes, sign * base.xSize(p), memory_order_relaxed);
}

/* Small blocks kept for reuse by each thread. Debian's SQLite is built
 * with SQLITE_OMIT_LOOKASIDE, so every small allocation of a statement's
 * step (cursors, records, values) went to malloc and came back to free:
 * 8 % of the store writer's instructions, more of its time. A block of at
 * most SQLMEM_SMALL bytes is asked for in a multiple of SQLMEM_CLASS bytes
 * and, when freed, kept on its size's list of the freeing thread (at most
 * SQLMEM_KEEP per size: 544 KiB a thread at most); a thread's lists go back
 * to malloc when it exits. The counters above count blocks SQLite holds,
 * not those kept. */
#define SQLMEM_CLASS 64
#define SQLMEM_SMALL 1024
#define SQLMEM_NCLASS (SQLMEM_SMALL / SQLMEM_CLASS)
#define SQLMEM_KEEP 64

struct sqlmem_cache {
    void *head[SQLMEM_NCLASS]; /* each block's first word: the next one */
    unsigned n[SQLMEM_NCLASS];
    bool keyed;                /* the exit destructor is set for this thread */
};

static _Thread_local struct sqlmem_cache cache;
static pthread_key_t cache_key;
static bool cache_on; /* cache_key was made */

static void cache_drain(void *arg)
{
    struct sqlmem_cache *c = arg;
    for (size_t k = 0; k < SQLMEM_NCLASS; k++) {
        while (c->head[k]) {
            void *p = c->head[k];
            c->head[k] = *(void **)p;
            base.xFree(p);
        }
        c->n[k] = 0;
    }
}

/* The list a block of usable size sz may go to: the largest class it
 * holds whole; -1: none (too small, too large). */
static int cache_class(int sz)
{
    if (sz < SQLMEM_CLASS || sz >= SQLMEM_SMALL + SQLMEM_CLASS)
        return -1;
    return sz / SQLMEM_CLASS - 1;
}

static void *mem_malloc(int n)
{
    void *p = NULL;
    if (cache_on && n > 0 && n <= SQLMEM_SMALL) {
        unsigned k = (unsigned)(n - 1) / SQLMEM_CLASS;
        struct sqlmem_cache *c = &cache;
        if ((p = c->head[k])) {
            c->head[k] = *(void **)p;
            c->n[k]--;
        } else {
            p = base.xMalloc((int)(k + 1) * SQLMEM_CLASS);
        }
    } else {
        p = base.xMalloc(n);
    }
    count(p, 1);
    return p;
}

static void mem_free(void *p)
{
    if (!p)
        return;
    int sz = base.xSize(p);
    atomic_fetch_add_explicit(&slot()->bytes, -(long long)sz, memory_order_relaxed);
    int k = cache_on ? cache_class(sz) : -1;
    struct sqlmem_cache *c = &cache;
    if (k >= 0 && c->n[k] < SQLMEM_KEEP &&
        (c->keyed || (c->keyed = pthread_setspecific(cache_key, c) == 0))) {
        *(void **)p = c->head[k];
        c->head[k] = p;
        c->n[k]++;
        return;
    }
    base.xFree(p);
}

static void *mem_realloc(void *p, int n)
{
    long long before = p ? base.xSize(p) : 0;
    void *q = base.xRealloc(p, n);
    if (q)
        atomic_fetch_add_explicit(&slot()->bytes, base.xSize(q) - before, memory_order_relaxed);
    return q;
}

static int mem_size(void *p) { return base.xSize(p); }
static int mem_roundup(int n)
{
    if (cache_on && n > 0 && n <= SQLMEM_SMALL)
        return (n + SQLMEM_CLASS - 1) / SQLMEM_CLASS * SQLMEM_CLASS;
    return base.xRoundup(n);
}
static int mem_init(void *app) { return base.xInit(app); }
static void mem_shutdown(void *app) { base.xShutdown(app); }

static void install(void)
{
    /* Only before SQLite initialises (the first connection of the process):
     * later, both calls fail and SQLite's own statistics stay on. */
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &base) != SQLITE_OK || !base.xSize)
        return;
    cache_on = pthread_key_create(&cache_key, cache_drain) == 0;
    sqlite3_mem_methods m = base;
    m.xMalloc = mem_malloc;
    m.xFree = mem_free;
    m.xRealloc = mem_realloc;
    m.xSize = mem_size;
    m.xRoundup = mem_roundup;
    m.xInit = mem_init;
    m.xShutdown = mem_shutdown;
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK)
        return;
    installed = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
}

void st_sqlmem_setup(void) { pthread_once(&once, install); }

uint64_t st_sqlmem_used(void)
{
    if (!installed)
        return (uint64_t)sqlite3_memory_used();
    long long sum = 0;
    for (size_t i = 0; i < SQLMEM_SLOTS; i++)
        sum += atomic_load_explicit(&slots[i].bytes, memory_order_relaxed);
    return sum > 0 ? (uint64_t)sum : 0;
}

bool st_sqlmem_counting(void) { return installed; }
