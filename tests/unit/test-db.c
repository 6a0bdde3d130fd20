/* tests/unit/test-db.c: the temporary store shared by the unit tests (see
 * test-db.h). Test code only. */
#include <glib/gstdio.h>
#include <sqlite3.h>
#include "tests/unit/test-db.h"

void test_db_create(const char *prefix, char **dir, char **path, Store **store)
{
  g_autofree char *pattern = g_strconcat(prefix, "-XXXXXX", NULL);
  *dir = g_dir_make_tmp(pattern, NULL);
  g_assert_nonnull(*dir);
  *path = g_build_filename(*dir, "keel.db", NULL);
  g_autoptr(GError) error = NULL;
  *store = store_open(*path, &error);
  g_assert_no_error(error);
}

void test_db_remove(char **dir, char **path, Store **store)
{
  g_clear_pointer(store, store_close);
  const char *suffixes[] = { "", "-wal", "-shm" };
  for (gsize i = 0; i < G_N_ELEMENTS(suffixes); i++) {
    g_autofree char *file = g_strconcat(*path, suffixes[i], NULL);
    g_unlink(file);
  }
  g_rmdir(*dir);
  g_clear_pointer(path, g_free);
  g_clear_pointer(dir, g_free);
}

gint64 test_db_int(const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
  gint64 value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}
