/* tests/unit/test-db.c: the temporary store shared by the unit tests, the
 * pipeline fixture and the schema rewind (see test-db.h). Test code only. */
#include <string.h>
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

/* ---- a pipeline over the shipped rules ------------------------------------ */

void test_db_pipeline_open(TestDbPipeline *t, const char *prefix, const char *config_rest)
{
  memset(t, 0, sizeof *t);
  test_db_create(prefix, &t->dir, &t->path, &t->store);
  const char *root = g_getenv("KEEL_SOURCE_ROOT");
  g_assert_nonnull(root);
  g_autofree char *conf = g_build_filename(t->dir, "keel.conf", NULL);
  g_autofree char *text = g_strdup_printf("[keel]\ndatabase = %s\nrules = %s/rules\n%s", t->path,
                                          root, config_rest);
  g_assert_true(g_file_set_contents(conf, text, -1, NULL));
  g_autoptr(GError) error = NULL;
  t->config = config_load(conf, &error);
  g_assert_no_error(error);
  g_unlink(conf);
  g_assert_true(verdict_load_rules(t->config->rules, &t->rules, &t->instruction_rules, &error));
  g_assert_no_error(error);
  t->pipeline = pipeline_new(t->config, t->store);
  pipeline_set_rules(t->pipeline, t->rules, t->instruction_rules);
}

void test_db_pipeline_close(TestDbPipeline *t)
{
  g_clear_pointer(&t->pipeline, pipeline_free);
  g_clear_pointer(&t->rules, rules_free);
  g_clear_pointer(&t->instruction_rules, instruction_rules_free);
  g_clear_pointer(&t->config, config_free);
  test_db_remove(&t->dir, &t->path, &t->store);
}

void test_db_pipeline_teardown(TestDbPipeline *t, gconstpointer unused)
{
  (void)unused;
  test_db_pipeline_close(t);
}

GDateTime *test_db_at(const char *iso)
{
  GDateTime *time = g_date_time_new_from_iso8601(iso, NULL);
  g_assert_nonnull(time);
  return time;
}

/* ---- rewinding the schema ------------------------------------------------- */

/* What migration N added (daemon/store/store.c), undone: test_db_undo[N] takes
 * a version-N database back to version N - 1. A new migration needs its line
 * here, or test_db_rewind() fails and says so. */
static const char *const test_db_undo[] = {
  [2] = "DROP TRIGGER message_search_add; DROP TRIGGER message_search_remove;"
        "DROP TABLE message_search; DROP TABLE confirmations; DROP TABLE outbox;"
        "DROP TABLE instructions; DROP TABLE trail_events;",
  [3] = "DROP INDEX IF EXISTS messages_by_client_received;"
        "ALTER TABLE threads DROP COLUMN risk_peak; ALTER TABLE threads DROP COLUMN risk_peak_at;"
        "ALTER TABLE threads DROP COLUMN handled_at;",
  [4] = "", /* reserved: no schema change */
  [5] = "DROP TABLE learned_corrections; DROP TABLE learned_weights;",
  [6] = "DROP TABLE invoice_chases; DROP TABLE invoice_payments; DROP TABLE invoices;",
  [7] = "DROP INDEX messages_by_thread_direction;",
  [8] = "DROP TABLE trail_seal;",
  [9] = "DROP TABLE promises;"
        "ALTER TABLE instructions DROP COLUMN probably_done;"
        "ALTER TABLE instructions DROP COLUMN done_by;"
        "ALTER TABLE threads DROP COLUMN handled_since;"
        "ALTER TABLE threads DROP COLUMN handled_until;",
  [10] = "ALTER TABLE folders DROP COLUMN missing_since;",
  [11] = "CREATE TRIGGER message_search_add AFTER INSERT ON messages BEGIN"
         "  INSERT INTO message_search (rowid, subject, new_text, quoted_text)"
         "  VALUES (new.id, new.subject, coalesce(new.new_text, ''), '');"
         " END;",
};

void test_db_rewind(const char *path, int version)
{
  int latest = store_schema_latest();
  if (latest >= (int)G_N_ELEMENTS(test_db_undo) || !test_db_undo[latest])
    g_error("tests/unit/test-db.c: add what migration %d adds to test_db_undo", latest);
  g_assert_cmpint(version, >=, 1);
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
  for (int v = latest; v > version; v--) {
    char *message = NULL;
    if (sqlite3_exec(db, test_db_undo[v], NULL, NULL, &message) != SQLITE_OK)
      g_error("rewinding migration %d: %s", v, message);
  }
  g_autofree char *pragma = g_strdup_printf("PRAGMA user_version = %d;", version);
  g_assert_cmpint(sqlite3_exec(db, pragma, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close(db);
}
