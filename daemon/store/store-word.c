/* daemon/store/store-word.c: the rows of schema v9 that keep the VA's word:
 * promises, the probably-done mark on instructions, and threads she has
 * marked handled. Plain reads and writes; what they mean is decided in
 * daemon/record/word.c and the digest.
 *
 * Must not: decide anything, read the clock, or know about the config.
 * Every SQLite failure goes through store_set_error() (store.c).
 */
#include "daemon/store/store-private.h"
#include "daemon/store/store-word.h"

void store_promise_row_free(StorePromiseRow *row)
{
  if (!row)
    return;
  g_free(row->message_id);
  g_free(row->client_id);
  g_free(row->client);
  g_free(row->subject);
  g_free(row->text);
  g_free(row->due);
  g_clear_pointer(&row->due_at, g_date_time_unref);
  g_free(row->status);
  g_free(row->closed_by);
  g_clear_pointer(&row->created, g_date_time_unref);
  g_free(row);
}

gint64 store_promise_add(Store *store, const StorePromiseRow *row, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO promises (message_row, message_id, client_id, thread_id, text, due, due_at,"
    " history, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", error);
  if (!stmt)
    return 0;
  if (row->message_row > 0)
    sqlite3_bind_int64(stmt, 1, row->message_row);
  store_bind_text(stmt, 2, row->message_id);
  store_bind_text(stmt, 3, row->client_id);
  if (row->thread_id > 0)
    sqlite3_bind_int64(stmt, 4, row->thread_id);
  store_bind_text(stmt, 5, row->text);
  store_bind_text(stmt, 6, row->due);
  store_bind_time(stmt, 7, row->due_at);
  sqlite3_bind_int(stmt, 8, row->history);
  store_bind_time(stmt, 9, row->created);
  if (!store_run(store, stmt, "recording a promise", error))
    return 0;
  return sqlite3_last_insert_rowid(store->db);
}

static gpointer store_promise_read(sqlite3_stmt *stmt)
{
  StorePromiseRow *row = g_new0(StorePromiseRow, 1);
  row->id = sqlite3_column_int64(stmt, 0);
  row->message_row = sqlite3_column_int64(stmt, 1);
  row->message_id = store_column_text(stmt, 2);
  row->client_id = store_column_text(stmt, 3);
  row->client = store_column_text(stmt, 4);
  row->thread_id = sqlite3_column_int64(stmt, 5);
  row->subject = store_column_text(stmt, 6);
  row->text = store_column_text(stmt, 7);
  row->due = store_column_text(stmt, 8);
  row->due_at = store_column_time(stmt, 9);
  row->status = store_column_text(stmt, 10);
  row->closed_by = store_column_text(stmt, 11);
  row->history = sqlite3_column_int(stmt, 12) != 0;
  row->created = store_column_time(stmt, 13);
  return row;
}

GPtrArray *store_promise_list(Store *store, gboolean open_only, gint64 thread_id,
                              GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT p.id, p.message_row, p.message_id, p.client_id, coalesce(c.name, p.client_id),"
    "  p.thread_id, coalesce(t.subject, ''), p.text, p.due, p.due_at, p.status, p.closed_by,"
    "  p.history, p.created FROM promises p LEFT JOIN clients c ON c.id = p.client_id"
    "  LEFT JOIN threads t ON t.id = p.thread_id"
    " WHERE (?1 = 0 OR p.status = 'open') AND (?2 = 0 OR p.thread_id = ?2)"
    " ORDER BY p.due_at IS NULL, p.due_at, p.id", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int(stmt, 1, open_only);
  sqlite3_bind_int64(stmt, 2, thread_id);
  return store_collect(store, stmt, store_promise_read, (GDestroyNotify)store_promise_row_free, "listing promises", error);
}

gboolean store_promise_close(Store *store, gint64 id, const char *status, const char *closed_by,
                             GDateTime *at, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "UPDATE promises SET status = ?2, closed_by = ?3, closed_at = ?4 WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, id);
  store_bind_text(stmt, 2, status);
  store_bind_text(stmt, 3, closed_by);
  store_bind_time(stmt, 4, at);
  return store_run(store, stmt, "closing a promise", error);
}

static GPtrArray *store_word_instructions(Store *store, sqlite3_stmt *stmt, GError **error)
{
  return store_collect(store, stmt, store_instruction_read, (GDestroyNotify)store_instruction_row_free, "listing instructions", error);
}

GPtrArray *store_instructions_open_in_thread(Store *store, gint64 thread_id, GDateTime *before,
                                             GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT " STORE_INSTRUCTION_COLUMNS " FROM instructions WHERE thread_id = ?1"
    " AND status = 'open' AND probably_done IS NULL AND created <= ?2 ORDER BY created, id",
    error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64(stmt, 1, thread_id);
  store_bind_time(stmt, 2, before);
  return store_word_instructions(store, stmt, error);
}

gboolean store_instruction_set_probably_done(Store *store, gint64 id, const char *done_by,
                                             GDateTime *at, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "UPDATE instructions SET probably_done = ?2, done_by = ?3 WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, id);
  store_bind_time(stmt, 2, at);
  store_bind_text(stmt, 3, at ? done_by : NULL);
  return store_run(store, stmt, "marking an instruction probably done", error);
}

GPtrArray *store_instruction_list(Store *store, gboolean open_only, const char *client_id,
                                  GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT " STORE_INSTRUCTION_COLUMNS " FROM instructions"
    " WHERE (?1 = 0 OR status = 'open') AND (?2 IS NULL OR client_id = ?2)"
    " ORDER BY created DESC, id DESC", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int(stmt, 1, open_only);
  store_bind_text(stmt, 2, client_id);
  return store_word_instructions(store, stmt, error);
}

gboolean store_thread_set_handled_until(Store *store, gint64 thread_id, GDateTime *since,
                                        GDateTime *until, gboolean *found, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "UPDATE threads SET handled_since = ?2, handled_until = ?3 WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, thread_id);
  store_bind_time(stmt, 2, since);
  store_bind_time(stmt, 3, until);
  if (!store_run(store, stmt, "marking a thread handled", error))
    return FALSE;
  *found = sqlite3_changes(store->db) > 0;
  return TRUE;
}

gboolean store_thread_is_handled(Store *store, gint64 thread_id, GDateTime *now,
                                 gboolean *handled, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT 1 FROM threads t WHERE t.id = ?1 AND t.handled_since IS NOT NULL"
    " AND (t.handled_until IS NULL OR t.handled_until > ?2)"
    " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = t.id"
    "  AND m.direction = 'in' AND m.received > t.handled_since)", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, thread_id);
  store_bind_time(stmt, 2, now);
  int rc = store_step(store, stmt, "reading a thread's handled mark", error);
  *handled = rc == SQLITE_ROW;
  return rc >= 0;
}

gboolean store_message_history(Store *store, gint64 message_row, gboolean *history,
                               GDateTime **date, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT first_sync, date FROM messages WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, message_row);
  int rc = store_step(store, stmt, "reading a message's origin", error);
  *history = rc == SQLITE_ROW && sqlite3_column_int(stmt, 0) != 0;
  if (date)
    *date = rc == SQLITE_ROW ? store_column_time(stmt, 1) : NULL;
  return rc >= 0;
}
