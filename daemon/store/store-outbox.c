/* daemon/store/store-outbox.c: the outbox rows (schema v2). A row holds the whole
 * message, built once when it was queued, so a retry sends the same bytes
 * with the same Message-ID.
 *
 * States are daemon/outbox/outbox.c's business: it says which moves are allowed.
 * The store only makes each move atomic ("from this state to that one, or
 * not at all"), so two senders can never both claim a row.
 *
 * Must not: send mail, know about SMTP or IMAP, log message bytes.
 */
#include "daemon/store/store-private.h"

void store_outbox_row_free(StoreOutboxRow *row)
{
  if (!row)
    return;
  g_free(row->account);
  g_free(row->kind);
  g_free(row->client_id);
  g_free(row->message_id);
  g_free(row->mail_from);
  g_free(row->rcpt);
  g_free(row->subject);
  g_clear_pointer(&row->raw, g_bytes_unref);
  g_free(row->state);
  g_clear_pointer(&row->next_attempt, g_date_time_unref);
  g_free(row->last_error);
  g_clear_pointer(&row->created, g_date_time_unref);
  g_clear_pointer(&row->updated, g_date_time_unref);
  g_free(row);
}

static void store_outbox_bind(sqlite3_stmt *stmt, const StoreOutboxRow *row)
{
  store_bind_text(stmt, 1, row->account);
  store_bind_text(stmt, 2, row->kind);
  store_bind_text(stmt, 3, row->client_id);
  if (row->thread_id > 0)
    sqlite3_bind_int64(stmt, 4, row->thread_id);
  store_bind_text(stmt, 5, row->message_id);
  store_bind_text(stmt, 6, row->mail_from);
  store_bind_text(stmt, 7, row->rcpt);
  store_bind_text(stmt, 8, row->subject ? row->subject : "");
  gsize size = 0;
  const void *data = row->raw ? g_bytes_get_data(row->raw, &size) : "";
  sqlite3_bind_blob64(stmt, 9, data, size, SQLITE_TRANSIENT);
  store_bind_text(stmt, 10, row->state);
  sqlite3_bind_int(stmt, 11, row->attempts);
  store_bind_time(stmt, 12, row->next_attempt);
  store_bind_text(stmt, 13, row->last_error);
  store_bind_time(stmt, 14, row->created);
}

gint64 store_outbox_insert(Store *store, const StoreOutboxRow *row, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO outbox (account, kind, client_id, thread_id, message_id, mail_from, rcpt,"
    " subject, raw, state, attempts, next_attempt, last_error, created, updated)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)", error);
  if (!stmt)
    return 0;
  store_outbox_bind(stmt, row);
  if (!store_run(store, stmt, "queueing a message", error))
    return 0;
  return sqlite3_last_insert_rowid(store->db);
}

/* Reads a row selected with OUTBOX_COLUMNS; column 9 may be NULL (no raw). */
static gpointer store_outbox_read(sqlite3_stmt *stmt)
{
  StoreOutboxRow *row = g_new0(StoreOutboxRow, 1);
  row->id = sqlite3_column_int64(stmt, 0);
  row->account = store_column_text(stmt, 1);
  row->kind = store_column_text(stmt, 2);
  row->client_id = store_column_text(stmt, 3);
  row->thread_id = sqlite3_column_int64(stmt, 4);
  row->message_id = store_column_text(stmt, 5);
  row->mail_from = store_column_text(stmt, 6);
  row->rcpt = store_column_text(stmt, 7);
  row->subject = store_column_text(stmt, 8);
  if (sqlite3_column_type(stmt, 9) != SQLITE_NULL)
    row->raw = g_bytes_new(sqlite3_column_blob(stmt, 9), (gsize)sqlite3_column_bytes(stmt, 9));
  row->state = store_column_text(stmt, 10);
  row->attempts = sqlite3_column_int(stmt, 11);
  row->next_attempt = store_column_time(stmt, 12);
  row->last_error = store_column_text(stmt, 13);
  row->created = store_column_time(stmt, 14);
  row->updated = store_column_time(stmt, 15);
  return row;
}

#define OUTBOX_COLUMNS(raw) \
  "SELECT id, account, kind, client_id, thread_id, message_id, mail_from, rcpt, subject, " \
  raw ", state, attempts, next_attempt, last_error, created, updated FROM outbox"

static GPtrArray *store_outbox_collect(Store *store, sqlite3_stmt *stmt, GError **error)
{
  return store_collect(store, stmt, store_outbox_read, (GDestroyNotify)store_outbox_row_free, "listing the outbox", error);
}

GPtrArray *store_outbox_list(Store *store, const char *state, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store, OUTBOX_COLUMNS("raw")
    " WHERE ?1 IS NULL OR state = ?1 ORDER BY id", error);
  if (!stmt)
    return NULL;
  store_bind_text(stmt, 1, state);
  return store_outbox_collect(store, stmt, error);
}

GPtrArray *store_outbox_due(Store *store, const char *const *states, GDateTime *now,
                            GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store, OUTBOX_COLUMNS("NULL")
    " WHERE state IN (?1, ?2, ?3, ?4) AND (next_attempt IS NULL OR next_attempt <= ?5)"
    " ORDER BY id", error);
  if (!stmt)
    return NULL;
  for (int i = 0; i < 4 && states && states[i]; i++)
    store_bind_text(stmt, i + 1, states[i]);
  store_bind_time(stmt, 5, now);
  return store_outbox_collect(store, stmt, error);
}

StoreOutboxRow *store_outbox_get(Store *store, gint64 id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store, OUTBOX_COLUMNS("raw") " WHERE id = ?1",
                                            error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64(stmt, 1, id);
  int rc = store_step(store, stmt, "reading an outbox row", error);
  return rc == SQLITE_ROW ? store_outbox_read(stmt) : NULL;
}

gboolean store_outbox_move(Store *store, gint64 id, const char *from, const char *to,
                           int attempts, GDateTime *next_attempt, const char *last_error,
                           GDateTime *now, gboolean *moved, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "UPDATE outbox SET state = ?3, attempts = ?4, next_attempt = ?5, last_error = ?6,"
    " updated = ?7 WHERE id = ?1 AND state = ?2", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, id);
  store_bind_text(stmt, 2, from);
  store_bind_text(stmt, 3, to);
  sqlite3_bind_int(stmt, 4, attempts);
  store_bind_time(stmt, 5, next_attempt);
  store_bind_text(stmt, 6, last_error);
  store_bind_time(stmt, 7, now);
  if (!store_run(store, stmt, "changing an outbox row's state", error))
    return FALSE;
  *moved = sqlite3_changes(store->db) == 1;
  return TRUE;
}

gint64 store_outbox_count_thread(Store *store, gint64 thread_id, const char *kind,
                                 GDateTime *since, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT COUNT(*) FROM outbox WHERE thread_id = ?1 AND kind = ?2 AND created >= ?3", error);
  if (!stmt)
    return -1;
  sqlite3_bind_int64(stmt, 1, thread_id);
  store_bind_text(stmt, 2, kind);
  store_bind_time(stmt, 3, since);
  return store_step_count(store, stmt, "counting replies in a thread", error);
}

gint64 store_outbox_count_state(Store *store, const char *state, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT COUNT(*) FROM outbox WHERE state = ?1", error);
  if (!stmt)
    return -1;
  store_bind_text(stmt, 1, state);
  if (store_step(store, stmt, "counting outbox rows", error) != SQLITE_ROW)
    return -1;
  return sqlite3_column_int64(stmt, 0);
}
