/* daemon/store/store-messages.c: messages, threads and scores in the store.
 *
 * store_add_message() is the exactly-once step: inside one transaction (or a
 * SAVEPOINT within the caller's) it de-duplicates on Message-ID, finds or
 * makes the thread, inserts the message and its references, and advances the
 * folder's last UID. A duplicate changes nothing but the UID.
 *
 * Threading, first match wins:
 *   1. a message this one names in In-Reply-To or References (newest first)
 *      is stored: its thread;
 *   2. a stored message names this one in its references (it arrived before
 *      its parent): its thread;
 *   3. a thread with the same normalised subject (subject_normalise()) and the
 *      same client (or, with no known client, the same counterpart address)
 *      active within STORE_THREAD_WINDOW_DAYS of this message's date;
 *   4. a new thread.
 * Two threads that turn out later to belong together (a message linking both
 * arrives after them) are left apart: merging would rewrite thread ids that
 * the trail and digests may already name.
 *
 * Must not: parse mail (the caller hands over a KeelMessage), log bodies.
 */
#include <string.h>
#include "daemon/store/store-private.h"

#define STORE_THREAD_WINDOW_DAYS 60

/* ---- threading --------------------------------------------------------- */

/* The thread of the stored message with Message-ID `ref`, or 0. -1 on error. */
static gint64 store_thread_of_message_id(Store *store, const char *ref, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT thread_id FROM messages WHERE message_id = ?1", error);
  if (!stmt)
    return -1;
  store_bind_text(stmt, 1, ref);
  int rc = store_step(store, stmt, "looking up a referenced message", error);
  return rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : rc == SQLITE_DONE ? 0 : -1;
}

/* The thread of a stored message that references `message_id`, or 0. */
static gint64 store_thread_of_referrer(Store *store, const char *message_id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT m.thread_id FROM message_refs r JOIN messages m ON m.id = r.message_id"
    " WHERE r.ref = ?1 ORDER BY m.date LIMIT 1", error);
  if (!stmt)
    return -1;
  store_bind_text(stmt, 1, message_id);
  int rc = store_step(store, stmt, "looking up replies", error);
  return rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : rc == SQLITE_DONE ? 0 : -1;
}

/* Steps 1 and 2 of threading. */
static gint64 store_thread_by_references(Store *store, const KeelMessage *message,
                                         GError **error)
{
  gint64 thread = 0;
  if (message->in_reply_to)
    thread = store_thread_of_message_id(store, message->in_reply_to, error);
  for (guint i = message->references ? message->references->len : 0; thread == 0 && i > 0; i--)
    thread = store_thread_of_message_id(store, message->references->pdata[i - 1], error);
  if (thread == 0)
    thread = store_thread_of_referrer(store, message->message_id, error);
  return thread;
}

/* Step 3: same normalised subject, same client (or counterpart), near in time. */
static gint64 store_thread_by_subject(Store *store, const char *subject_key,
                                      const char *client_id, const char *counterpart,
                                      GDateTime *date, GError **error)
{
  if (!subject_key[0] || (!client_id && !counterpart))
    return 0;
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT id FROM threads WHERE subject_key = ?1"
    " AND ((?2 IS NOT NULL AND client_id = ?2)"
    "   OR (?2 IS NULL AND client_id IS NULL AND counterpart = ?3))"
    " AND last_date >= ?4 - ?5 AND first_date <= ?4 + ?5"
    " ORDER BY last_date DESC LIMIT 1", error);
  if (!stmt)
    return -1;
  store_bind_text(stmt, 1, subject_key);
  store_bind_text(stmt, 2, client_id);
  store_bind_text(stmt, 3, counterpart);
  store_bind_time(stmt, 4, date);
  sqlite3_bind_int64(stmt, 5, (gint64)STORE_THREAD_WINDOW_DAYS * 86400);
  int rc = store_step(store, stmt, "looking up a thread by subject", error);
  return rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : rc == SQLITE_DONE ? 0 : -1;
}

static gint64 store_thread_create(Store *store, const KeelMessage *message,
                                  const char *subject_key, const char *client_id,
                                  const char *counterpart, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO threads (client_id, counterpart, subject, subject_key, first_date, last_date)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?5)", error);
  if (!stmt)
    return -1;
  store_bind_text(stmt, 1, client_id);
  store_bind_text(stmt, 2, counterpart);
  store_bind_text(stmt, 3, message->subject ? message->subject : "");
  store_bind_text(stmt, 4, subject_key);
  store_bind_time(stmt, 5, message->date);
  if (!store_run(store, stmt, "creating a thread", error))
    return -1;
  return sqlite3_last_insert_rowid(store->db);
}

/* Widens the thread's dates to include this message; gives it a client if it
 * had none. */
static gboolean store_thread_touch(Store *store, gint64 thread_id, GDateTime *date,
                                   const char *client_id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "UPDATE threads SET first_date = MIN(first_date, ?2), last_date = MAX(last_date, ?2),"
    " client_id = COALESCE(client_id, ?3) WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, thread_id);
  store_bind_time(stmt, 2, date);
  store_bind_text(stmt, 3, client_id);
  return store_run(store, stmt, "updating a thread", error);
}

/* The other party: the sender of mail in, the first recipient of mail out.
 * Lower-case, NULL when there is none. */
static char *store_counterpart(const StoreOrigin *origin, const KeelMessage *message)
{
  const KeelAddress *address = NULL;
  if (origin->direction == STORE_DIRECTION_IN)
    address = message->from;
  else if (message->to && message->to->len > 0)
    address = message->to->pdata[0];
  if (!address || !address->address || !address->address[0])
    return NULL;
  return g_ascii_strdown(address->address, -1);
}

/* Finds or makes the thread of `message`: see the essay at the top. */
static gint64 store_thread_for(Store *store, const StoreOrigin *origin,
                               const KeelMessage *message, GError **error)
{
  gint64 thread = store_thread_by_references(store, message, error);
  if (thread != 0)
    return thread;
  g_autofree char *key = subject_normalise(message->subject ? message->subject : "");
  g_autofree char *counterpart = store_counterpart(origin, message);
  thread = store_thread_by_subject(store, key, origin->client_id, counterpart, message->date,
                                   error);
  if (thread != 0)
    return thread;
  return store_thread_create(store, message, key, origin->client_id, counterpart, error);
}

/* ---- adding a message -------------------------------------------------- */

static gboolean store_client_ensure(Store *store, const char *client_id, GError **error)
{
  if (!client_id)
    return TRUE;
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO clients (id, name) VALUES (?1, ?1) ON CONFLICT DO NOTHING", error);
  if (!stmt)
    return FALSE;
  store_bind_text(stmt, 1, client_id);
  return store_run(store, stmt, "adding a client", error);
}

gboolean store_client_set(Store *store, const char *id, const char *name, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO clients (id, name) VALUES (?1, ?2)"
    " ON CONFLICT (id) DO UPDATE SET name = ?2 WHERE name IS NOT ?2", error);
  if (!stmt)
    return FALSE;
  store_bind_text(stmt, 1, id);
  store_bind_text(stmt, 2, name ? name : id);
  return store_run(store, stmt, "recording a client", error);
}

/* The row and thread of an already stored Message-ID: 1 found, 0 not, -1 error. */
static int store_find_message(Store *store, const char *message_id, gint64 *row_id,
                              gint64 *thread_id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT id, thread_id FROM messages WHERE message_id = ?1", error);
  if (!stmt)
    return -1;
  store_bind_text(stmt, 1, message_id);
  int rc = store_step(store, stmt, "looking up a Message-ID", error);
  if (rc != SQLITE_ROW)
    return rc == SQLITE_DONE ? 0 : -1;
  *row_id = sqlite3_column_int64(stmt, 0);
  *thread_id = sqlite3_column_int64(stmt, 1);
  return 1;
}

static char *store_references_text(const KeelMessage *message)
{
  if (!message->references || message->references->len == 0)
    return NULL;
  GString *text = g_string_new(NULL);
  for (guint i = 0; i < message->references->len; i++)
    g_string_append_printf(text, "%s<%s>", i ? " " : "",
                           (const char *)message->references->pdata[i]);
  return g_string_free(text, FALSE);
}

static void store_bind_message(sqlite3_stmt *stmt, const StoreOrigin *origin, GBytes *raw,
                               const KeelMessage *message, gint64 thread_id)
{
  gsize size = 0;
  const void *data = raw ? g_bytes_get_data(raw, &size) : NULL;
  store_bind_text(stmt, 1, message->message_id);
  if (origin->folder_id) {
    sqlite3_bind_int64(stmt, 2, origin->folder_id);
    sqlite3_bind_int64(stmt, 3, origin->uid);
  }
  if (data && !message->too_large)
    sqlite3_bind_blob64(stmt, 4, data, size, SQLITE_STATIC);
  sqlite3_bind_int64(stmt, 5, (gint64)(message->size ? message->size : size));
  sqlite3_bind_int(stmt, 6, message->too_large);
  store_bind_text(stmt, 7, origin->direction == STORE_DIRECTION_OUT ? "out" : "in");
  store_bind_text(stmt, 8, origin->client_id);
  sqlite3_bind_int64(stmt, 9, thread_id);
  sqlite3_bind_int(stmt, 10, message->automated);
  store_bind_text(stmt, 11, message->automated_reason);
  store_bind_text(stmt, 12, message->from ? message->from->address : NULL);
  store_bind_text(stmt, 13, message->from ? message->from->name : NULL);
  store_bind_text(stmt, 14, message->subject ? message->subject : "");
  store_bind_time(stmt, 15, message->date);
  sqlite3_bind_int(stmt, 16, message->date_fallback);
  store_bind_text(stmt, 18, message->in_reply_to);
  sqlite3_bind_text(stmt, 19, store_references_text(message), -1, g_free);
  store_bind_text(stmt, 20, message->new_text);
  sqlite3_bind_int(stmt, 21, origin->first_sync);
}

static gint64 store_insert_message(Store *store, const StoreOrigin *origin, GBytes *raw,
                                   const KeelMessage *message, gint64 thread_id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO messages (message_id, folder_id, uid, raw, size, too_large, direction,"
    " client_id, thread_id, automated, automated_reason, from_address, from_name, subject,"
    " date, date_fallback, received, in_reply_to, references_text, new_text, first_sync)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
    " ?18, ?19, ?20, ?21)", error);
  if (!stmt)
    return -1;
  store_bind_message(stmt, origin, raw, message, thread_id);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc();
  store_bind_time(stmt, 17, origin->received ? origin->received : now);
  if (!store_run(store, stmt, "storing a message", error))
    return -1;
  gint64 row_id = sqlite3_last_insert_rowid(store->db);
  /* indexed at the outermost commit, with what was stored */
  store_search_queue(store, row_id, message->subject ? message->subject : "", message->new_text);
  return row_id;
}

/* Remembers what `row_id` refers to (In-Reply-To and References). */
static gboolean store_insert_refs(Store *store, gint64 row_id, const KeelMessage *message,
                                  GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO message_refs (message_id, ref) VALUES (?1, ?2) ON CONFLICT DO NOTHING", error);
  if (!stmt)
    return FALSE;
  guint count = message->references ? message->references->len : 0;
  for (guint i = 0; i <= count; i++) {
    const char *ref = i < count ? message->references->pdata[i] : message->in_reply_to;
    if (!ref || !ref[0])
      continue;
    sqlite3_reset(stmt);
    sqlite3_bind_int64(stmt, 1, row_id);
    store_bind_text(stmt, 2, ref);
    if (!store_run(store, stmt, "storing references", error))
      return FALSE;
  }
  return TRUE;
}

/* The body of store_add_message(), inside its transaction. Returns 1 added,
 * 0 duplicate, -1 error. */
static int store_add_message_locked(Store *store, const StoreOrigin *origin, GBytes *raw,
                                    const KeelMessage *message, gint64 *row_id,
                                    gint64 *thread_id, GError **error)
{
  int found = store_find_message(store, message->message_id, row_id, thread_id, error);
  if (found != 0)
    return found < 0 || !store_folder_advance(store, origin->folder_id, origin->uid, error)
           ? -1 : 0;
  if (!store_client_ensure(store, origin->client_id, error))
    return -1;
  *thread_id = store_thread_for(store, origin, message, error);
  if (*thread_id < 0)
    return -1;
  *row_id = store_insert_message(store, origin, raw, message, *thread_id, error);
  if (*row_id < 0 || !store_insert_refs(store, *row_id, message, error)
      || !store_thread_touch(store, *thread_id, message->date, origin->client_id, error)
      || !store_folder_advance(store, origin->folder_id, origin->uid, error))
    return -1;
  return 1;
}

StoreAddResult store_add_message(Store *store, const StoreOrigin *origin, GBytes *raw,
                                 const KeelMessage *message, gint64 *row_id,
                                 gint64 *thread_id, GError **error)
{
  gint64 row = 0, thread = 0;
  if (!store_begin(store, error))
    return STORE_FAILED;
  int added = store_add_message_locked(store, origin, raw, message, &row, &thread, error);
  if (added < 0) {
    store_rollback(store);
    g_prefix_error(error, "message <%s>: ", message->message_id);
    return STORE_FAILED;
  }
  if (!store_commit(store, error))
    return STORE_FAILED;
  if (row_id)
    *row_id = row;
  if (thread_id)
    *thread_id = thread;
  return added ? STORE_ADDED : STORE_DUPLICATE;
}

/* ---- verdicts ---------------------------------------------------------- */

static gboolean store_clear_scores(Store *store, gint64 row_id, GError **error)
{
  g_autoptr(StoreStmt) scores = store_prepare(store,
    "DELETE FROM scores WHERE message_id = ?1", error);
  g_autoptr(StoreStmt) hits = scores ? store_prepare(store,
    "DELETE FROM rule_hits WHERE message_id = ?1", error) : NULL;
  if (!hits)
    return FALSE;
  sqlite3_bind_int64(scores, 1, row_id);
  sqlite3_bind_int64(hits, 1, row_id);
  return store_run(store, scores, "clearing scores", error)
         && store_run(store, hits, "clearing rule hits", error);
}

static gboolean store_insert_scores(Store *store, gint64 row_id, GHashTable *scores,
                                    GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO scores (message_id, dimension, points) VALUES (?1, ?2, ?3)", error);
  if (!stmt)
    return FALSE;
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init(&iter, scores);
  while (g_hash_table_iter_next(&iter, &key, &value)) {
    sqlite3_reset(stmt);
    sqlite3_bind_int64(stmt, 1, row_id);
    store_bind_text(stmt, 2, key);
    sqlite3_bind_double(stmt, 3, *(const double *)value);
    if (!store_run(store, stmt, "storing a score", error))
      return FALSE;
  }
  return TRUE;
}

static gboolean store_insert_hits(Store *store, gint64 row_id, GPtrArray *hits, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO rule_hits (message_id, rule, dimension, points, match, match_start, match_end,"
    " where_) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", error);
  if (!stmt)
    return FALSE;
  for (guint i = 0; i < hits->len; i++) {
    const StoreHit *hit = hits->pdata[i];
    sqlite3_reset(stmt);
    sqlite3_bind_int64(stmt, 1, row_id);
    store_bind_text(stmt, 2, hit->rule);
    store_bind_text(stmt, 3, hit->dimension);
    sqlite3_bind_double(stmt, 4, hit->points);
    store_bind_text(stmt, 5, hit->match);
    sqlite3_bind_int64(stmt, 6, hit->start);
    sqlite3_bind_int64(stmt, 7, hit->end);
    store_bind_text(stmt, 8, hit->where);
    if (!store_run(store, stmt, "storing a rule hit", error))
      return FALSE;
  }
  return TRUE;
}

static gboolean store_update_verdict(Store *store, gint64 row_id, double risk, gboolean risky,
                                     int urgency, const char *payment, const char *flags_csv,
                                     GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "UPDATE messages SET scored = 1, risk = ?2, risky = ?3, urgency = ?4, payment = ?5,"
    " flags = ?6 WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, row_id);
  sqlite3_bind_double(stmt, 2, risk);
  sqlite3_bind_int(stmt, 3, risky ? 1 : 0);
  sqlite3_bind_int(stmt, 4, urgency);
  store_bind_text(stmt, 5, payment);
  store_bind_text(stmt, 6, flags_csv);
  return store_run(store, stmt, "storing a verdict", error);
}

gboolean store_save_verdict(Store *store, gint64 row_id, GHashTable *scores, GPtrArray *hits,
                            double risk, gboolean risky, int urgency, const char *payment,
                            const char *flags_csv, GError **error)
{
  if (!store_begin(store, error))
    return FALSE;
  if (!store_clear_scores(store, row_id, error)
      || (scores && !store_insert_scores(store, row_id, scores, error))
      || (hits && !store_insert_hits(store, row_id, hits, error))
      || !store_update_verdict(store, row_id, risk, risky, urgency, payment, flags_csv, error)) {
    store_rollback(store);
    return FALSE;
  }
  return store_commit(store, error);
}

gboolean store_set_thread_risk(Store *store, gint64 thread_id, double risk, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "UPDATE threads SET risk = ?2 WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, thread_id);
  sqlite3_bind_double(stmt, 2, risk);
  return store_run(store, stmt, "storing a thread's risk", error);
}

/* ---- listing ----------------------------------------------------------- */

void store_thread_row_free(StoreThreadRow *row)
{
  if (!row)
    return;
  g_free(row->client);
  g_free(row->client_id);
  g_free(row->counterpart);
  g_free(row->subject);
  g_clear_pointer(&row->last_date, g_date_time_unref);
  g_free(row);
}

gpointer store_thread_row_read(sqlite3_stmt *stmt)
{
  StoreThreadRow *row = g_new0(StoreThreadRow, 1);
  row->id = sqlite3_column_int64(stmt, 0);
  row->client = store_column_text(stmt, 1);
  row->client_id = store_column_text(stmt, 2);
  row->counterpart = store_column_text(stmt, 3);
  row->subject = store_column_text(stmt, 4);
  row->message_count = sqlite3_column_int64(stmt, 5);
  row->last_date = store_column_time(stmt, 6);
  row->risk = sqlite3_column_double(stmt, 7);
  return row;
}

GPtrArray *store_list_threads(Store *store, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT t.id, c.name, t.client_id, t.counterpart, t.subject,"
    "  (SELECT COUNT(*) FROM messages m WHERE m.thread_id = t.id), t.last_date, t.risk"
    " FROM threads t LEFT JOIN clients c ON c.id = t.client_id"
    " ORDER BY t.last_date DESC, t.id DESC", error);
  if (!stmt)
    return NULL;
  return store_collect(store, stmt, store_thread_row_read,
                       (GDestroyNotify)store_thread_row_free, "listing threads", error);
}

/* Hands one row of the foreach query to `func`. */
static gboolean store_message_row_call(sqlite3_stmt *stmt, StoreMessageFunc func,
                                       gpointer user_data, GError **error)
{
  g_autoptr(GBytes) raw = g_bytes_new(sqlite3_column_blob(stmt, 2),
                                      (gsize)sqlite3_column_bytes(stmt, 2));
  g_autoptr(GDateTime) date = store_column_time(stmt, 5);
  g_autoptr(GDateTime) received = store_column_time(stmt, 6);
  StoreMessageRow row = {
    .row_id = sqlite3_column_int64(stmt, 0),
    .thread_id = sqlite3_column_int64(stmt, 1),
    .raw = raw,
    .direction = g_strcmp0((const char *)sqlite3_column_text(stmt, 3), "out") == 0
                   ? STORE_DIRECTION_OUT : STORE_DIRECTION_IN,
    .client_id = (const char *)sqlite3_column_text(stmt, 4),
    .date = date,
    .received = received,
  };
  return func(&row, user_data, error);
}

gboolean store_foreach_message(Store *store, GDateTime *since, StoreMessageFunc func,
                               gpointer user_data, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT id, thread_id, raw, direction, client_id, date, received FROM messages"
    " WHERE raw IS NOT NULL AND (?1 IS NULL OR date >= ?1) ORDER BY date, id", error);
  if (!stmt)
    return FALSE;
  store_bind_time(stmt, 1, since);
  int rc;
  while ((rc = store_step(store, stmt, "reading messages", error)) == SQLITE_ROW)
    if (!store_message_row_call(stmt, func, user_data, error))
      return FALSE;
  return rc == SQLITE_DONE;
}

void store_thread_entry_free(StoreThreadEntry *entry)
{
  if (!entry)
    return;
  g_clear_pointer(&entry->date, g_date_time_unref);
  g_free(entry);
}

gpointer store_thread_entry_read(sqlite3_stmt *stmt)
{
  StoreThreadEntry *entry = g_new0(StoreThreadEntry, 1);
  entry->row_id = sqlite3_column_int64(stmt, 0);
  entry->date = store_column_time(stmt, 1);
  entry->direction = g_strcmp0((const char *)sqlite3_column_text(stmt, 2), "out") == 0
                       ? STORE_DIRECTION_OUT : STORE_DIRECTION_IN;
  entry->risk = sqlite3_column_double(stmt, 3);
  entry->scored = sqlite3_column_int(stmt, 4) != 0;
  return entry;
}

GPtrArray *store_thread_entries(Store *store, gint64 thread_id, GError **error)
{
  return store_thread_entries_since(store, thread_id, NULL, error);
}

GPtrArray *store_thread_entries_since(Store *store, gint64 thread_id, GDateTime *since,
                                      GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT id, date, direction, COALESCE(risk, 0), scored FROM messages"
    " WHERE thread_id = ?1 AND (?2 IS NULL OR date >= ?2) ORDER BY date, id", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64(stmt, 1, thread_id);
  store_bind_time(stmt, 2, since);
  return store_collect(store, stmt, store_thread_entry_read,
                       (GDestroyNotify)store_thread_entry_free, "reading a thread", error);
}

/* The VA's last message in the thread dated before `before`: 1 found (its
 * date and id), 0 none, -1 error. */
static int store_thread_last_reply(Store *store, gint64 thread_id, GDateTime *before,
                                   gint64 *date, gint64 *id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT date, id FROM messages WHERE thread_id = ?1 AND direction = 'out' AND date < ?2"
    " ORDER BY date DESC, id DESC LIMIT 1", error);
  if (!stmt)
    return -1;
  sqlite3_bind_int64(stmt, 1, thread_id);
  store_bind_time(stmt, 2, before);
  int rc = store_step(store, stmt, "finding the last reply in a thread", error);
  if (rc != SQLITE_ROW)
    return rc == SQLITE_DONE ? 0 : -1;
  *date = sqlite3_column_int64(stmt, 0);
  *id = sqlite3_column_int64(stmt, 1);
  return 1;
}

/* Incoming messages of the thread dated before `before` and after the
 * (date, id) `after`; -1 on error. */
static gint64 store_thread_count_in(Store *store, gint64 thread_id, GDateTime *before,
                                    gint64 after_date, gint64 after_id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT COUNT(*) FROM messages WHERE thread_id = ?1 AND direction = 'in' AND date < ?2"
    " AND (date > ?3 OR (date = ?3 AND id > ?4))", error);
  if (!stmt)
    return -1;
  sqlite3_bind_int64(stmt, 1, thread_id);
  store_bind_time(stmt, 2, before);
  sqlite3_bind_int64(stmt, 3, after_date);
  sqlite3_bind_int64(stmt, 4, after_id);
  return store_step_count(store, stmt, "counting a thread's messages", error);
}

gboolean store_thread_history(Store *store, gint64 thread_id, GDateTime *before,
                              StoreThreadHistory *history, GError **error)
{
  gint64 reply_date = G_MININT64, reply_id = G_MININT64;
  int found = store_thread_last_reply(store, thread_id, before, &reply_date, &reply_id, error);
  if (found < 0)
    return FALSE;
  gint64 since_reply = store_thread_count_in(store, thread_id, before, reply_date, reply_id,
                                             error);
  gint64 day_ago = g_date_time_to_unix(before) - 24 * 3600;
  gint64 last_24h = since_reply < 0 ? -1
    : store_thread_count_in(store, thread_id, before, day_ago, G_MININT64, error);
  if (last_24h < 0)
    return FALSE;
  history->in_since_reply = since_reply;
  history->in_last_24h = last_24h;
  history->last_reply = found ? g_date_time_new_from_unix_utc(reply_date) : NULL;
  return TRUE;
}

gint64 store_messages_count_since(Store *store, GDateTime *since, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT COUNT(*) FROM messages WHERE received >= ?1", error);
  if (!stmt)
    return -1;
  store_bind_time(stmt, 1, since);
  if (store_step(store, stmt, "counting today's messages", error) != SQLITE_ROW)
    return -1;
  return sqlite3_column_int64(stmt, 0);
}
