/* daemon/store/store-learned.c: the rows of the learned signals (schema v5):
 * learned_corrections (one per message and dimension; a later correction of
 * the same message replaces the earlier one) and learned_weights (the sum of
 * every correction's change to each feature, per dimension).
 *
 * Must not: compute model changes (daemon/record/corrections.c does), log
 * message text.
 */
#include "daemon/store/store-learned.h"
#include "daemon/store/store-private.h"

void store_correction_free(StoreCorrection *row)
{
  if (!row)
    return;
  g_free(row->message_id);
  g_free(row->dimension);
  g_free(row->source);
  g_free(row->subject);
  g_free(row->new_text);
  g_clear_pointer(&row->created, g_date_time_unref);
  g_free(row);
}

int store_correction_label(Store *store, const char *message_id, const char *dimension,
                           GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT label FROM learned_corrections WHERE message_id = ?1 AND dimension = ?2", error);
  if (!stmt)
    return -2;
  store_bind_text(stmt, 1, message_id);
  store_bind_text(stmt, 2, dimension);
  int rc = store_step(store, stmt, "reading a correction", error);
  if (rc < 0)
    return -2;
  return rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
}

gboolean store_correction_save(Store *store, const StoreCorrection *row, gint64 *id,
                               GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT OR REPLACE INTO learned_corrections (message_id, message_row, dimension, label,"
    " source, subject, new_text, step, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    error);
  if (!stmt)
    return FALSE;
  store_bind_text(stmt, 1, row->message_id);
  if (row->message_row > 0)
    sqlite3_bind_int64(stmt, 2, row->message_row);
  store_bind_text(stmt, 3, row->dimension);
  sqlite3_bind_int(stmt, 4, row->label ? 1 : 0);
  store_bind_text(stmt, 5, row->source);
  store_bind_text(stmt, 6, row->subject ? row->subject : "");
  store_bind_text(stmt, 7, row->new_text ? row->new_text : "");
  sqlite3_bind_double(stmt, 8, row->step);
  store_bind_time(stmt, 9, row->created);
  if (!store_run(store, stmt, "saving a correction", error))
    return FALSE;
  if (id)
    *id = sqlite3_last_insert_rowid(store->db);
  return TRUE;
}

static gpointer store_correction_read(sqlite3_stmt *stmt)
{
  StoreCorrection *row = g_new0(StoreCorrection, 1);
  row->id = sqlite3_column_int64(stmt, 0);
  row->message_id = store_column_text(stmt, 1);
  row->message_row = sqlite3_column_int64(stmt, 2);
  row->dimension = store_column_text(stmt, 3);
  row->label = sqlite3_column_int(stmt, 4) != 0;
  row->source = store_column_text(stmt, 5);
  row->subject = store_column_text(stmt, 6);
  row->new_text = store_column_text(stmt, 7);
  row->step = sqlite3_column_double(stmt, 8);
  row->created = store_column_time(stmt, 9);
  return row;
}

GPtrArray *store_corrections(Store *store, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT id, message_id, message_row, dimension, label, source, subject, new_text, step,"
    " created FROM learned_corrections ORDER BY id", error);
  if (!stmt)
    return NULL;
  return store_collect(store, stmt, store_correction_read, (GDestroyNotify)store_correction_free, "reading corrections", error);
}

gboolean store_learned_add(Store *store, const char *dimension, GHashTable *deltas,
                           GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO learned_weights (dimension, feature, delta) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (dimension, feature) DO UPDATE SET delta = delta + excluded.delta", error);
  if (!stmt)
    return FALSE;
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init(&iter, deltas);
  while (g_hash_table_iter_next(&iter, &key, &value)) {
    sqlite3_reset(stmt);
    store_bind_text(stmt, 1, dimension);
    store_bind_text(stmt, 2, key);
    sqlite3_bind_double(stmt, 3, *(double *)value);
    if (!store_run(store, stmt, "saving the learned model", error))
      return FALSE;
  }
  return TRUE;
}

gboolean store_learned_each(Store *store,
                            void (*func)(const char *dimension, const char *feature, double delta,
                                         gpointer data),
                            gpointer data, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT dimension, feature, delta FROM learned_weights ORDER BY dimension, feature", error);
  if (!stmt)
    return FALSE;
  int rc;
  while ((rc = store_step(store, stmt, "reading the learned model", error)) == SQLITE_ROW)
    func((const char *)sqlite3_column_text(stmt, 0), (const char *)sqlite3_column_text(stmt, 1),
         sqlite3_column_double(stmt, 2), data);
  return rc == SQLITE_DONE;
}

GBytes *store_learned_message_raw(Store *store, gint64 row_id, const char *message_id,
                                  gint64 *found_row, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store, row_id > 0
    ? "SELECT id, raw FROM messages WHERE id = ?1"
    : "SELECT id, raw FROM messages WHERE message_id = ?2", error);
  if (!stmt)
    return NULL;
  if (row_id > 0)
    sqlite3_bind_int64(stmt, 1, row_id);
  else
    store_bind_text(stmt, 2, message_id);
  int rc = store_step(store, stmt, "reading a message", error);
  if (rc != SQLITE_ROW || sqlite3_column_type(stmt, 1) == SQLITE_NULL)
    return NULL;
  *found_row = sqlite3_column_int64(stmt, 0);
  return g_bytes_new(sqlite3_column_blob(stmt, 1), (gsize)sqlite3_column_bytes(stmt, 1));
}
