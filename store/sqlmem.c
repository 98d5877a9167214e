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

static void *mem_malloc(int n)
{
    void *p = base.xMalloc(n);
    count(p, 1);
    return p;
}

static void mem_free(void *p)
{
    count(p, -1);
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
static int mem_roundup(int n) { return base.xRoundup(n); }
static int mem_init(void *app) { return base.xInit(app); }
static void mem_shutdown(void *app) { base.xShutdown(app); }

static void install(void)
{
    /* Only before SQLite initialises (the first connection of the process):
     * later, both calls fail and SQLite's own statistics stay on. */
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &base) != SQLITE_OK || !base.xSize)
        return;
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
