/* Private to store/: the SQLite handle, schema set-up and small helpers
 * shared by the writer, the reader and the exporter. */
#ifndef TS_STORE_INT_H
#define TS_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

struct st_db {
    sqlite3 *h;
};

/* Open path, set WAL/synchronous/busy timeout and bring the schema to
 * ST_SCHEMA_VERSION (unless readonly). ST_OK, ST_ERR_NEWER, ST_ERR_OPEN. */
int st_open_handle(const char *path, bool readonly, sqlite3 **out, char *err, size_t errlen);
/* Create the schema of one version from scratch (v1 exists for migration
 * tests), or run the forward migrations from the current user_version. */
int st_schema_migrate(sqlite3 *h, char *err, size_t errlen);
/* "1.2.3.4" / "2001:db8::1"; "" for family 0. */
void st_addr_text(const struct ts_addr *a, char *buf, size_t cap);
bool st_addr_parse(const char *s, struct ts_addr *out);
/* Column i of the current row as text, "" for NULL; valid until the next
 * step, reset or finalize of s. */
const char *st_col_text(sqlite3_stmt *s, int i);
/* sqlmem.c: before the process's first connection (every open in store/
 * calls it), SQLite's memory statistics off and its allocator counted per
 * thread; st_sqlmem_used() is the bytes SQLite holds now (its own
 * sqlite3_memory_used() when SQLite was initialised before, and counting
 * is off: st_sqlmem_counting()). */
void st_sqlmem_setup(void);
uint64_t st_sqlmem_used(void);
bool st_sqlmem_counting(void);

#endif
