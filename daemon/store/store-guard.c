/* daemon/store/store-guard.c: what keel reads before it lets anyone speak
 * through it: who counts in a thread's risk (the client and the VA, never a
 * stranger), a thread's remembered risk peak (schema v3), how many replies,
 * alerts and messages a client or a day has had, whether a Message-ID is one
 * keel generated, and which account a folder belongs to.
 *
 * Every count is by the time keel recorded the row (outbox.created,
 * messages.received), never by a Date header a sender can forge.
 *
 * Must not: decide anything (the callers do), write anything but the peak and
 * the handled mark, log message contents.
 */
#include "daemon/store/store-private.h"

/* The messages of a thread that move its risk: the VA's (out), and in a
 * client's thread the client's, in a thread without client its first
 * correspondent's. */
#define STORE_GUARD_PARTY \
  "(m.direction = 'out' OR (t.client_id IS NOT NULL AND m.client_id = t.client_id)" \
  " OR (t.client_id IS NULL AND lower(m.from_address) = lower(t.counterpart)))"

GPtrArray *store_thread_party_entries(Store *store, gint64 thread_id, GDateTime *since,
                                      GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT m.id, m.date, m.direction, COALESCE(m.risk, 0), m.scored"
    " FROM messages m JOIN threads t ON t.id = m.thread_id"
    " WHERE m.thread_id = ?1 AND (?2 IS NULL OR m.date >= ?2) AND " STORE_GUARD_PARTY
    " ORDER BY m.date, m.id", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64(stmt, 1, thread_id);
  store_bind_time(stmt, 2, since);
  return store_collect(store, stmt, store_thread_entry_read,
                       (GDestroyNotify)store_thread_entry_free, "reading a thread", error);
}

int store_message_is_party(Store *store, gint64 row_id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT " STORE_GUARD_PARTY " FROM messages m JOIN threads t ON t.id = m.thread_id"
    " WHERE m.id = ?1", error);
  if (!stmt)
    return -1;
  sqlite3_bind_int64(stmt, 1, row_id);
  int rc = store_step(store, stmt, "reading who wrote a message", error);
  if (rc < 0)
    return -1;
  return rc == SQLITE_ROW && sqlite3_column_int(stmt, 0) != 0;
}

gboolean store_thread_peak(Store *store, gint64 thread_id, StoreThreadPeak *peak,
                           GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT t.risk, t.risk_peak, t.risk_peak_at, t.handled_at,"
    "  (SELECT MAX(m.date) FROM messages m WHERE m.thread_id = t.id AND m.direction = 'out'"
    "     AND m.message_id NOT IN (SELECT message_id FROM outbox))"
    " FROM threads t WHERE t.id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, thread_id);
  int rc = store_step(store, stmt, "reading a thread's risk peak", error);
  if (rc < 0)
    return FALSE;
  *peak = (StoreThreadPeak){ 0 };
  if (rc != SQLITE_ROW)
    return TRUE;
  peak->risk = sqlite3_column_double(stmt, 0);
  peak->peak = sqlite3_column_double(stmt, 1);
  peak->peak_at = store_column_time(stmt, 2);
  peak->handled_at = store_column_time(stmt, 3);
  peak->last_human_reply = store_column_time(stmt, 4);
  return TRUE;
}

void store_thread_peak_clear(StoreThreadPeak *peak)
{
  g_clear_pointer(&peak->peak_at, g_date_time_unref);
  g_clear_pointer(&peak->handled_at, g_date_time_unref);
  g_clear_pointer(&peak->last_human_reply, g_date_time_unref);
}

gboolean store_thread_set_peak(Store *store, gint64 thread_id, double peak, GDateTime *at,
                               GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "UPDATE threads SET risk_peak = ?2, risk_peak_at = ?3 WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, thread_id);
  sqlite3_bind_double(stmt, 2, peak);
  store_bind_time(stmt, 3, at);
  return store_run(store, stmt, "remembering a thread's risk peak", error);
}

gboolean store_thread_set_handled(Store *store, gint64 thread_id, GDateTime *at,
                                  gboolean *found, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "UPDATE threads SET handled_at = ?2 WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, thread_id);
  store_bind_time(stmt, 2, at);
  if (!store_run(store, stmt, "marking a thread handled", error))
    return FALSE;
  if (found)
    *found = sqlite3_changes(store->db) > 0;
  return TRUE;
}

/* Runs a one-integer query with an optional text ?1 and a time ?2. */
static gint64 store_guard_count(Store *store, const char *sql, const char *text,
                                GDateTime *since, const char *what, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store, sql, error);
  if (!stmt)
    return -1;
  store_bind_text(stmt, 1, text);
  store_bind_time(stmt, 2, since);
  return store_step_count(store, stmt, what, error);
}

gint64 store_outbox_count_client(Store *store, const char *kind, const char *client_id,
                                 GDateTime *since, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT COUNT(*) FROM outbox WHERE kind = ?3 AND created >= ?2"
    " AND (?1 IS NULL OR client_id = ?1)", error);
  if (!stmt)
    return -1;
  store_bind_text(stmt, 1, client_id);
  store_bind_time(stmt, 2, since);
  store_bind_text(stmt, 3, kind);
  return store_step_count(store, stmt, "counting outbox rows", error);
}

gint64 store_client_received_count(Store *store, const char *client_id, GDateTime *since,
                                   GError **error)
{
  return store_guard_count(store,
    "SELECT COUNT(*) FROM messages WHERE client_id = ?1 AND direction = 'in'"
    " AND first_sync = 0 AND received >= ?2", client_id, since,
    "counting a client's messages", error);
}

int store_outbox_generated(Store *store, const char *message_id, GError **error)
{
  if (!message_id)
    return 0;
  gint64 n = store_guard_count(store,
    "SELECT COUNT(*) FROM outbox WHERE message_id = ?1 AND ?2 IS NULL", message_id, NULL,
    "looking up a Message-ID keel generated", error);
  return n < 0 ? -1 : n > 0;
}

gboolean store_folder_name(Store *store, gint64 folder_id, char **account, char **folder,
                           GError **error)
{
  *account = *folder = NULL;
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT account, name FROM folders WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, folder_id);
  int rc = store_step(store, stmt, "reading a folder's account", error);
  if (rc == SQLITE_ROW) {
    *account = store_column_text(stmt, 0);
    *folder = store_column_text(stmt, 1);
  }
  return rc >= 0;
}

double store_client_thread_risk(Store *store, const char *client_id, GDateTime *since,
                                GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT COALESCE(MAX(risk), 0) FROM threads WHERE client_id = ?1 AND last_date >= ?2",
    error);
  if (!stmt)
    return -1;
  store_bind_text(stmt, 1, client_id);
  store_bind_time(stmt, 2, since);
  if (store_step(store, stmt, "reading a client's thread risk", error) != SQLITE_ROW)
    return -1;
  return sqlite3_column_double(stmt, 0);
}

gint64 store_trail_count_kind(Store *store, const char *kind, const char *message_id,
                              GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT COUNT(*) FROM trail_events WHERE kind = ?1 AND message_id = ?2", error);
  if (!stmt)
    return -1;
  store_bind_text(stmt, 1, kind);
  store_bind_text(stmt, 2, message_id);
  return store_step_count(store, stmt, "counting trail events", error);
}
