/* daemon/store/store-trail.c: the rows of the trail (schema v2): trail events,
 * instructions, the links from confirmations to instructions, and the FTS5
 * search over stored message text.
 *
 * The store keeps trail events exactly as daemon/record/trail.c hands them over; it
 * does not compute or check hashes (trail.c does both, so that one file says
 * what the chain is). Events are never updated or deleted by keel.
 *
 * Must not: know about IMAP, SMTP or the config; log message text.
 */
#include <string.h>
#include "daemon/store/store-private.h"

/* ---- trail events ------------------------------------------------------ */

void store_trail_event_free(StoreTrailEvent *event)
{
  if (!event)
    return;
  g_clear_pointer(&event->at, g_date_time_unref);
  g_free(event->kind);
  g_free(event->client_id);
  g_free(event->message_id);
  g_free(event->detail);
  g_free(event->prev_hash);
  g_free(event->hash);
  g_free(event);
}

gboolean store_trail_head(Store *store, gint64 *id, char **hash, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT id, hash FROM trail_events ORDER BY id DESC LIMIT 1", error);
  if (!stmt)
    return FALSE;
  int rc = store_step(store, stmt, "reading the newest trail event", error);
  if (rc < 0)
    return FALSE;
  *id = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  *hash = rc == SQLITE_ROW ? store_column_text(stmt, 1) : NULL;
  return TRUE;
}

gboolean store_trail_seal(Store *store, gint64 count, const char *hash, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO trail_seal (one, count, hash) VALUES (1, ?1, ?2)"
    " ON CONFLICT (one) DO UPDATE SET count = excluded.count, hash = excluded.hash", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, count);
  store_bind_text(stmt, 2, hash);
  return store_run(store, stmt, "sealing the trail", error);
}

gboolean store_trail_sealed(Store *store, gint64 *count, char **hash, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT count, hash FROM trail_seal WHERE one = 1", error);
  if (!stmt)
    return FALSE;
  int rc = store_step(store, stmt, "reading the trail's seal", error);
  if (rc < 0)
    return FALSE;
  *count = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  *hash = rc == SQLITE_ROW ? store_column_text(stmt, 1) : NULL;
  return TRUE;
}

static void store_bind_id(sqlite3_stmt *stmt, int index, gint64 id)
{
  if (id > 0)
    sqlite3_bind_int64(stmt, index, id);
  else
    sqlite3_bind_null(stmt, index);
}

gboolean store_trail_insert(Store *store, const StoreTrailEvent *event, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO trail_events (id, at, kind, client_id, thread_id, message_id, ref_id,"
    " detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, event->id);
  store_bind_time(stmt, 2, event->at);
  store_bind_text(stmt, 3, event->kind);
  store_bind_text(stmt, 4, event->client_id);
  store_bind_id(stmt, 5, event->thread_id);
  store_bind_text(stmt, 6, event->message_id);
  store_bind_id(stmt, 7, event->ref_id);
  store_bind_text(stmt, 8, event->detail);
  store_bind_text(stmt, 9, event->prev_hash);
  store_bind_text(stmt, 10, event->hash);
  return store_run(store, stmt, "adding a trail event", error);
}

static gpointer store_trail_event_read(sqlite3_stmt *stmt)
{
  StoreTrailEvent *event = g_new0(StoreTrailEvent, 1);
  event->id = sqlite3_column_int64(stmt, 0);
  event->at = store_column_time(stmt, 1);
  if (!event->at)
    event->at = g_date_time_new_from_unix_utc(0);
  event->kind = store_column_text(stmt, 2);
  event->client_id = store_column_text(stmt, 3);
  event->thread_id = sqlite3_column_int64(stmt, 4);
  event->message_id = store_column_text(stmt, 5);
  event->ref_id = sqlite3_column_int64(stmt, 6);
  event->detail = store_column_text(stmt, 7);
  event->prev_hash = store_column_text(stmt, 8);
  event->hash = store_column_text(stmt, 9);
  return event;
}

GPtrArray *store_trail_list(Store *store, const char *client_id, GDateTime *since,
                            GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT id, at, kind, client_id, thread_id, message_id, ref_id, detail, prev_hash, hash"
    " FROM trail_events WHERE (?1 IS NULL OR client_id = ?1) AND (?2 IS NULL OR at >= ?2)"
    " ORDER BY id", error);
  if (!stmt)
    return NULL;
  store_bind_text(stmt, 1, client_id);
  store_bind_time(stmt, 2, since);
  return store_collect(store, stmt, store_trail_event_read, (GDestroyNotify)store_trail_event_free, "reading the trail", error);
}

/* ---- instructions ------------------------------------------------------ */

void store_instruction_row_free(StoreInstructionRow *row)
{
  if (!row)
    return;
  g_free(row->message_id);
  g_free(row->client_id);
  g_free(row->text);
  g_free(row->deadline);
  g_free(row->status);
  g_clear_pointer(&row->created, g_date_time_unref);
  g_clear_pointer(&row->probably_done, g_date_time_unref);
  g_free(row);
}

gint64 store_instruction_add(Store *store, const StoreInstructionRow *row, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO instructions (message_row, message_id, client_id, thread_id, text, deadline,"
    " urgency, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", error);
  if (!stmt)
    return 0;
  store_bind_id(stmt, 1, row->message_row);
  store_bind_text(stmt, 2, row->message_id);
  store_bind_text(stmt, 3, row->client_id);
  store_bind_id(stmt, 4, row->thread_id);
  store_bind_text(stmt, 5, row->text);
  store_bind_text(stmt, 6, row->deadline);
  sqlite3_bind_int(stmt, 7, row->urgency);
  store_bind_time(stmt, 8, row->created);
  if (!store_run(store, stmt, "recording an instruction", error))
    return 0;
  return sqlite3_last_insert_rowid(store->db);
}

gpointer store_instruction_read(sqlite3_stmt *stmt)
{
  StoreInstructionRow *row = g_new0(StoreInstructionRow, 1);
  row->id = sqlite3_column_int64(stmt, 0);
  row->message_row = sqlite3_column_int64(stmt, 1);
  row->message_id = store_column_text(stmt, 2);
  row->client_id = store_column_text(stmt, 3);
  row->thread_id = sqlite3_column_int64(stmt, 4);
  row->text = store_column_text(stmt, 5);
  row->deadline = store_column_text(stmt, 6);
  row->urgency = sqlite3_column_int(stmt, 7);
  row->status = store_column_text(stmt, 8);
  row->created = store_column_time(stmt, 9);
  row->probably_done = store_column_time(stmt, 10);
  row->history = sqlite3_column_int(stmt, 11) != 0;
  return row;
}

StoreInstructionRow *store_instruction_get(Store *store, gint64 id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT " STORE_INSTRUCTION_COLUMNS " FROM instructions WHERE id = ?1", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64(stmt, 1, id);
  if (store_step(store, stmt, "reading an instruction", error) != SQLITE_ROW)
    return NULL;
  return store_instruction_read(stmt);
}

gboolean store_instruction_set_status(Store *store, gint64 id, const char *status,
                                      GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "UPDATE instructions SET status = ?2 WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, id);
  store_bind_text(stmt, 2, status);
  return store_run(store, stmt, "changing an instruction's status", error);
}

gboolean store_confirmation_link(Store *store, gint64 outbox_id, gint64 instruction_id,
                                 GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT OR IGNORE INTO confirmations (outbox_id, instruction_id) VALUES (?1, ?2)", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, outbox_id);
  sqlite3_bind_int64(stmt, 2, instruction_id);
  return store_run(store, stmt, "linking a confirmation", error);
}

/* ---- search ------------------------------------------------------------ */

void store_search_hit_free(StoreSearchHit *hit)
{
  if (!hit)
    return;
  g_free(hit->message_id);
  g_free(hit->from_address);
  g_free(hit->client_id);
  g_free(hit->subject);
  g_clear_pointer(&hit->date, g_date_time_unref);
  g_free(hit->snippet);
  g_free(hit);
}

/* The user's words as an FTS5 query: each word a quoted string (so AND, OR,
 * quotes and column names are plain words), a trailing * kept as a prefix
 * search. NULL when there is no word. */
static char *store_search_query(const char *query)
{
  g_auto(GStrv) words = g_strsplit_set(query, " \t\r\n", -1);
  g_autoptr(GString) fts = g_string_new(NULL);
  for (guint i = 0; words[i]; i++) {
    gsize len = strlen(words[i]);
    gboolean prefix = len > 1 && words[i][len - 1] == '*';
    if (prefix)
      words[i][len - 1] = '\0';
    if (words[i][0] == '\0')
      continue;
    g_autofree char *escaped = NULL;
    g_auto(GStrv) parts = g_strsplit(words[i], "\"", -1);
    escaped = g_strjoinv("\"\"", parts);
    g_string_append_printf(fts, "%s\"%s\"%s", fts->len ? " " : "", escaped, prefix ? "*" : "");
  }
  return fts->len ? g_string_free(g_steal_pointer(&fts), FALSE) : NULL;
}

static StoreSearchHit *store_search_hit_read(sqlite3_stmt *stmt)
{
  StoreSearchHit *hit = g_new0(StoreSearchHit, 1);
  hit->row_id = sqlite3_column_int64(stmt, 0);
  hit->message_id = store_column_text(stmt, 1);
  hit->from_address = store_column_text(stmt, 2);
  hit->client_id = store_column_text(stmt, 3);
  hit->subject = store_column_text(stmt, 4);
  hit->date = store_column_time(stmt, 5);
  hit->snippet = store_column_text(stmt, 6);
  return hit;
}

GPtrArray *store_search(Store *store, const char *query, guint limit, GError **error)
{
  g_autoptr(GPtrArray) hits =
    g_ptr_array_new_with_free_func((GDestroyNotify)store_search_hit_free);
  g_autofree char *fts = store_search_query(query);
  if (!fts)
    return g_steal_pointer(&hits);
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT m.id, m.message_id, m.from_address, m.client_id, m.subject, m.date,"
    " snippet(message_search, -1, '[', ']', '…', 12)"
    " FROM message_search JOIN messages m ON m.id = message_search.rowid"
    " WHERE message_search MATCH ?1 ORDER BY rank, m.date DESC LIMIT ?2", error);
  if (!stmt)
    return NULL;
  store_bind_text(stmt, 1, fts);
  sqlite3_bind_int64(stmt, 2, limit ? limit : G_MAXINT32);
  int rc;
  while ((rc = store_step(store, stmt, "searching messages", error)) == SQLITE_ROW)
    g_ptr_array_add(hits, store_search_hit_read(stmt));
  return rc == SQLITE_DONE ? g_steal_pointer(&hits) : NULL;
}

gboolean store_search_set_quoted(Store *store, gint64 row_id, const char *quoted_text,
                                 GError **error)
{
  if (store_search_queued_set_quoted(store, row_id, quoted_text ? quoted_text : ""))
    return TRUE; /* stored in this transaction: indexed with it at the commit */
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "UPDATE message_search SET quoted_text = ?2 WHERE rowid = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, row_id);
  store_bind_text(stmt, 2, quoted_text ? quoted_text : "");
  return store_run(store, stmt, "indexing quoted text", error);
}
