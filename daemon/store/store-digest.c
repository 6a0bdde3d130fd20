/* daemon/store/store-digest.c: the read-only queries behind the daily digest and
 * the alerts (daemon/digest/digest.c): risky threads, their recent scored messages
 * and rule hits, open instructions with deadlines, client mail the VA has not
 * answered, a client's risk over time, and when the last digest or alert was
 * queued (the outbox rows of kind "digest" and "alert" are the record).
 *
 * Must not: write anything, know about the config, time zones or rendering.
 * Every SQLite failure goes through store_set_error() (store.c).
 */
#include "daemon/store/store-private.h"

/* ---- threads ----------------------------------------------------------- */

#define STORE_DIGEST_THREAD_COLUMNS \
  "SELECT t.id, c.name, t.client_id, t.counterpart, t.subject," \
  "  (SELECT COUNT(*) FROM messages m WHERE m.thread_id = t.id), t.last_date, t.risk" \
  " FROM threads t LEFT JOIN clients c ON c.id = t.client_id"

GPtrArray *store_digest_risky_threads(Store *store, double min_risk, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    STORE_DIGEST_THREAD_COLUMNS " WHERE t.risk >= ?1 ORDER BY t.risk DESC, t.last_date DESC",
    error);
  if (!stmt)
    return NULL;
  sqlite3_bind_double(stmt, 1, min_risk);
  return store_collect(store, stmt, store_thread_row_read,
                       (GDestroyNotify)store_thread_row_free, "listing risky threads", error);
}

StoreThreadRow *store_digest_thread(Store *store, gint64 thread_id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    STORE_DIGEST_THREAD_COLUMNS " WHERE t.id = ?1", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64(stmt, 1, thread_id);
  if (store_step(store, stmt, "reading a thread", error) != SQLITE_ROW)
    return NULL;
  return store_thread_row_read(stmt);
}

/* ---- messages and hits ------------------------------------------------- */

void store_digest_message_free(StoreDigestMessage *message)
{
  if (!message)
    return;
  g_clear_pointer(&message->date, g_date_time_unref);
  g_free(message->flags);
  g_free(message->payment);
  g_free(message->new_text);
  g_free(message->subject);
  g_free(message);
}

#define STORE_DIGEST_MESSAGE_COLUMNS \
  "SELECT id, thread_id, date, coalesce(risk, 0), coalesce(risky, 0), coalesce(flags, '')," \
  "  payment, new_text, subject, direction, automated, first_sync FROM messages"

static gpointer store_digest_message_read(sqlite3_stmt *stmt)
{
  StoreDigestMessage *message = g_new0(StoreDigestMessage, 1);
  message->row_id = sqlite3_column_int64(stmt, 0);
  message->thread_id = sqlite3_column_int64(stmt, 1);
  message->date = store_column_time(stmt, 2);
  message->risk = sqlite3_column_double(stmt, 3);
  message->risky = sqlite3_column_int(stmt, 4) != 0;
  message->flags = store_column_text(stmt, 5);
  message->payment = store_column_text(stmt, 6);
  message->new_text = store_column_text(stmt, 7);
  message->subject = store_column_text(stmt, 8);
  message->direction = g_strcmp0((const char *)sqlite3_column_text(stmt, 9), "out") == 0
                         ? STORE_DIRECTION_OUT : STORE_DIRECTION_IN;
  message->automated = sqlite3_column_int(stmt, 10) != 0;
  message->first_sync = sqlite3_column_int(stmt, 11) != 0;
  return message;
}

GPtrArray *store_digest_thread_messages(Store *store, gint64 thread_id, guint limit,
                                        GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    STORE_DIGEST_MESSAGE_COLUMNS " WHERE thread_id = ?1 AND direction = 'in' AND scored = 1"
    " ORDER BY date DESC, id DESC LIMIT ?2", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64(stmt, 1, thread_id);
  sqlite3_bind_int64(stmt, 2, limit);
  return store_collect(store, stmt, store_digest_message_read,
                       (GDestroyNotify)store_digest_message_free, "reading a thread's messages",
                       error);
}

StoreDigestMessage *store_digest_message(Store *store, gint64 row_id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    STORE_DIGEST_MESSAGE_COLUMNS " WHERE id = ?1", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64(stmt, 1, row_id);
  if (store_step(store, stmt, "reading a message", error) != SQLITE_ROW)
    return NULL;
  return store_digest_message_read(stmt);
}

void store_hit_row_free(StoreHitRow *hit)
{
  if (!hit)
    return;
  g_free(hit->rule);
  g_free(hit->dimension);
  g_free(hit->match);
  g_free(hit->where);
  g_free(hit);
}

static gpointer store_hit_row_read(sqlite3_stmt *stmt)
{
  StoreHitRow *hit = g_new0(StoreHitRow, 1);
  hit->rule = store_column_text(stmt, 0);
  hit->dimension = store_column_text(stmt, 1);
  hit->points = sqlite3_column_double(stmt, 2);
  hit->match = store_column_text(stmt, 3);
  hit->start = sqlite3_column_int64(stmt, 4);
  hit->end = sqlite3_column_int64(stmt, 5);
  hit->where = store_column_text(stmt, 6);
  return hit;
}

GPtrArray *store_digest_message_hits(Store *store, gint64 row_id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT rule, dimension, points, match, coalesce(match_start, -1),"
    "  coalesce(match_end, -1), where_ FROM rule_hits WHERE message_id = ?1"
    " ORDER BY points DESC, id", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64(stmt, 1, row_id);
  return store_collect(store, stmt, store_hit_row_read, (GDestroyNotify)store_hit_row_free,
                       "reading rule hits", error);
}

/* ---- instructions ------------------------------------------------------ */

GPtrArray *store_digest_open_instructions(Store *store, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT " STORE_INSTRUCTION_COLUMNS " FROM instructions"
    " WHERE status = 'open' AND deadline IS NOT NULL"
    " ORDER BY deadline, id", error);
  if (!stmt)
    return NULL;
  return store_collect(store, stmt, store_instruction_read,
                       (GDestroyNotify)store_instruction_row_free, "listing open instructions",
                       error);
}

/* ---- unanswered client mail -------------------------------------------- */

void store_waiting_row_free(StoreWaitingRow *row)
{
  if (!row)
    return;
  g_free(row->client_id);
  g_free(row->client);
  g_free(row->from_address);
  g_free(row->subject);
  g_clear_pointer(&row->since, g_date_time_unref);
  g_free(row);
}

static gpointer store_waiting_row_read(sqlite3_stmt *stmt)
{
  StoreWaitingRow *row = g_new0(StoreWaitingRow, 1);
  row->thread_id = sqlite3_column_int64(stmt, 0);
  row->row_id = sqlite3_column_int64(stmt, 1);
  row->client_id = store_column_text(stmt, 2);
  row->client = store_column_text(stmt, 3);
  row->from_address = store_column_text(stmt, 4);
  row->subject = store_column_text(stmt, 5);
  row->since = store_column_time(stmt, 6);
  return row;
}

GPtrArray *store_digest_unanswered(Store *store, GDateTime *since, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT m.thread_id, m.id, m.client_id, coalesce(c.name, m.client_id), m.from_address,"
    "  m.subject, MIN(m.date) FROM messages m LEFT JOIN clients c ON c.id = m.client_id"
    " WHERE m.direction = 'in' AND m.client_id IS NOT NULL AND m.automated = 0"
    "  AND m.date >= ?1 AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.thread_id ="
    "  m.thread_id AND o.direction = 'out' AND o.date >= m.date)"
    " GROUP BY m.thread_id ORDER BY MIN(m.date), m.thread_id", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64(stmt, 1, since ? g_date_time_to_unix(since) : 0);
  return store_collect(store, stmt, store_waiting_row_read,
                       (GDestroyNotify)store_waiting_row_free, "finding unanswered mail", error);
}

/* ---- risk over time and the last digest -------------------------------- */

GArray *store_digest_client_risks(Store *store, const char *client_id, GDateTime *since,
                                  GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT date, risk FROM messages WHERE client_id = ?1 AND direction = 'in'"
    " AND scored = 1 AND date >= ?2 ORDER BY date", error);
  if (!stmt)
    return NULL;
  store_bind_text(stmt, 1, client_id);
  sqlite3_bind_int64(stmt, 2, since ? g_date_time_to_unix(since) : 0);
  g_autoptr(GArray) points = g_array_new(FALSE, FALSE, sizeof(StoreRiskPoint));
  int rc;
  while ((rc = store_step(store, stmt, "reading a client's risk", error)) == SQLITE_ROW) {
    StoreRiskPoint point = { sqlite3_column_int64(stmt, 0), sqlite3_column_double(stmt, 1) };
    g_array_append_val(points, point);
  }
  return rc == SQLITE_DONE ? g_steal_pointer(&points) : NULL;
}

gboolean store_digest_last_outbox(Store *store, const char *kind, GDateTime **created,
                                  GError **error)
{
  *created = NULL;
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT MAX(created) FROM outbox WHERE kind = ?1", error);
  if (!stmt)
    return FALSE;
  store_bind_text(stmt, 1, kind);
  if (store_step(store, stmt, "reading the last digest", error) != SQLITE_ROW)
    return FALSE;
  *created = store_column_time(stmt, 0);
  return TRUE;
}
