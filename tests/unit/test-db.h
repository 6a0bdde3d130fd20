/* tests/unit/test-db.h: a store in a fresh temporary folder, for the unit
 * tests that need one, and a way to read it behind the store's back. */
#pragma once

#include "daemon/store/store.h"

/* Makes a temporary folder named after `prefix` ("keel-store") and opens a new
 * store in it: `*dir`, `*path` (dir/keel.db) and `*store` are the caller's. */
void test_db_create(const char *prefix, char **dir, char **path, Store **store);
/* Closes the store and removes the database (with its WAL files) and the folder. */
void test_db_remove(char **dir, char **path, Store **store);
/* The first column of the one row `sql` returns, read through a separate
 * read-only connection. */
gint64 test_db_int(const char *path, const char *sql);
