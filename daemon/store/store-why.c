/* daemon/store/store-why.c: what `keel why` reads about one stored message:
 * the message row itself (found by row id or Message-ID), the replies queued
 * for it (through the instructions it gave: confirmations -> instructions),
 * how many confirmations its thread had just before it, and the trail events
 * that name it or its reply.
 *
 * Read-only: never writes, never opens a transaction.
 */
#include <string.h>
#include "daemon/store/store-private.h"

void store_why_row_free(StoreWhyRow *row)
{
  if (!row)
    return;
  g_clear_pointer(&row->raw, g_bytes_unref);
  g_free(row->message_id);
  g_free(row->client_id);
  g_clear_pointer(&row->received, g_date_time_unref);
  g_free(row);
}

static StoreWhyRow *store_why_row_read(sqlite3_stmt *stmt)
{
  StoreWhyRow *row = g_new0(StoreWhyRow, 1);
  row->row_id = sqlite3_column_int64(stmt, 0);
  row->message_id = store_column_text(stmt, 1);
  row->thread_id = sqlite3_column_int64(stmt, 2);
  row->incoming = g_strcmp0((const char *)sqlite3_column_text(stmt, 3), "in") == 0;
  row->client_id = store_column_text(stmt, 4);
  row->first_sync = sqlite3_column_int(stmt, 5) != 0;
  row->received = store_column_time(stmt, 6);
  if (sqlite3_column_type(stmt, 7) == SQLITE_BLOB)
    row->raw = g_bytes_new(sqlite3_column_blob(stmt, 7), (gsize)sqlite3_column_bytes(stmt, 7));
  return row;
}

StoreWhyRow *store_why_find(Store *store, const char *key, GError **error)
{
  gboolean by_id = key[0] && strspn(key, "0123456789") == strlen(key);
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT id, message_id, thread_id, direction, client_id, first_sync, received, raw"
    " FROM messages WHERE id = ?1 OR message_id = ?2", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64(stmt, 1, by_id ? g_ascii_strtoll(key, NULL, 10) : -1);
  g_autofree char *id = g_strdup(key);
  if (id[0] == '<' && g_str_has_suffix(id, ">")) {
    memmove(id, id + 1, strlen(id));
    id[strlen(id) - 1] = '\0';
  }
  store_bind_text(stmt, 2, by_id ? NULL : id);
  int rc = store_step(store, stmt, "finding the message", error);
  return rc == SQLITE_ROW ? store_why_row_read(stmt) : NULL;
}

/* One reply row of store_why_replies(): the outbox columns `keel why` shows. */
static gpointer store_why_reply_read(sqlite3_stmt *stmt)
{
  StoreOutboxRow *row = g_new0(StoreOutboxRow, 1);
  row->id = sqlite3_column_int64(stmt, 0);
  row->kind = store_column_text(stmt, 1);
  row->state = store_column_text(stmt, 2);
  row->created = store_column_time(stmt, 3);
  row->updated = store_column_time(stmt, 4);
  row->last_error = store_column_text(stmt, 5);
  row->rcpt = store_column_text(stmt, 6);
  row->subject = store_column_text(stmt, 7);
  row->message_id = store_column_text(stmt, 8);
  row->attempts = sqlite3_column_int(stmt, 9);
  return row;
}

GPtrArray *store_why_replies(Store *store, gint64 row_id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT DISTINCT o.id, o.kind, o.state, o.created, o.updated, o.last_error, o.rcpt,"
    "  o.subject, o.message_id, o.attempts FROM outbox o"
    " JOIN confirmations c ON c.outbox_id = o.id"
    " JOIN instructions i ON i.id = c.instruction_id"
    " WHERE i.message_row = ?1 ORDER BY o.id", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64(stmt, 1, row_id);
  return store_collect(store, stmt, store_why_reply_read,
                       (GDestroyNotify)store_outbox_row_free, "reading the replies", error);
}

gint64 store_why_confirmations_before(Store *store, gint64 thread_id, GDateTime *since,
                                      GDateTime *until, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT COUNT(*) FROM outbox WHERE thread_id = ?1 AND kind = 'confirm'"
    " AND created >= ?2 AND created < ?3", error);
  if (!stmt)
    return -1;
  sqlite3_bind_int64(stmt, 1, thread_id);
  store_bind_time(stmt, 2, since);
  store_bind_time(stmt, 3, until);
  return store_step_count(store, stmt, "counting confirmations", error);
}

/* One event of store_why_events() (id, time, kind, detail only). */
static gpointer store_why_event_read(sqlite3_stmt *stmt)
{
  StoreTrailEvent *event = g_new0(StoreTrailEvent, 1);
  event->id = sqlite3_column_int64(stmt, 0);
  event->at = store_column_time(stmt, 1);
  event->kind = store_column_text(stmt, 2);
  event->detail = store_column_text(stmt, 3);
  return event;
}

GPtrArray *store_why_events(Store *store, const char *message_id, gint64 row_id,
                            GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT id, at, kind, detail FROM trail_events WHERE message_id = ?1"
    " OR message_id IN (SELECT o.message_id FROM outbox o"
    "   JOIN confirmations c ON c.outbox_id = o.id"
    "   JOIN instructions i ON i.id = c.instruction_id WHERE i.message_row = ?2)"
    " ORDER BY id", error);
  if (!stmt)
    return NULL;
  store_bind_text(stmt, 1, message_id);
  sqlite3_bind_int64(stmt, 2, row_id);
  return store_collect(store, stmt, store_why_event_read,
                       (GDestroyNotify)store_trail_event_free, "reading the trail", error);
}
