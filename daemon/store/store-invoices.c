/* daemon/store/store-invoices.c: invoice rows (see store-invoices.h). Plain
 * reads and writes; every SQLite failure goes through store_set_error().
 * Must not: decide anything about chasing (daemon/payments/ does). */
#include "daemon/store/store-invoices.h"
#include "daemon/store/store-private.h"

#define STORE_INVOICE_COLUMNS \
  "id, number, client_id, amount, currency, issued, due, terms, paid, paid_date, state," \
  " pause_reason, promise_date, promise_text, last_step, message_id, thread_id, created"

void store_invoice_row_free(StoreInvoiceRow *row)
{
  if (!row)
    return;
  g_free(row->number);
  g_free(row->client_id);
  g_free(row->currency);
  g_free(row->issued);
  g_free(row->due);
  g_free(row->terms);
  g_free(row->paid_date);
  g_free(row->state);
  g_free(row->pause_reason);
  g_free(row->promise_date);
  g_free(row->promise_text);
  g_free(row->message_id);
  g_clear_pointer(&row->created, g_date_time_unref);
  g_free(row);
}

static gpointer store_invoice_read(sqlite3_stmt *stmt)
{
  StoreInvoiceRow *row = g_new0(StoreInvoiceRow, 1);
  row->id = sqlite3_column_int64(stmt, 0);
  row->number = store_column_text(stmt, 1);
  row->client_id = store_column_text(stmt, 2);
  row->amount = sqlite3_column_int64(stmt, 3);
  row->currency = store_column_text(stmt, 4);
  row->issued = store_column_text(stmt, 5);
  row->due = store_column_text(stmt, 6);
  row->terms = store_column_text(stmt, 7);
  row->paid = sqlite3_column_int64(stmt, 8);
  row->paid_date = store_column_text(stmt, 9);
  row->state = store_column_text(stmt, 10);
  row->pause_reason = store_column_text(stmt, 11);
  row->promise_date = store_column_text(stmt, 12);
  row->promise_text = store_column_text(stmt, 13);
  row->last_step = sqlite3_column_int(stmt, 14);
  row->message_id = store_column_text(stmt, 15);
  row->thread_id = sqlite3_column_int64(stmt, 16);
  row->created = store_column_time(stmt, 17);
  return row;
}

gint64 store_invoice_add(Store *store, const StoreInvoiceRow *row, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO invoices (number, client_id, amount, currency, issued, due, terms, state,"
    " message_id, thread_id, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?9, ?10)",
    error);
  if (!stmt)
    return 0;
  store_bind_text(stmt, 1, row->number);
  store_bind_text(stmt, 2, row->client_id);
  sqlite3_bind_int64(stmt, 3, row->amount);
  store_bind_text(stmt, 4, row->currency);
  store_bind_text(stmt, 5, row->issued);
  store_bind_text(stmt, 6, row->due);
  store_bind_text(stmt, 7, row->terms);
  store_bind_text(stmt, 8, row->message_id);
  if (row->thread_id)
    sqlite3_bind_int64(stmt, 9, row->thread_id);
  store_bind_time(stmt, 10, row->created);
  if (!store_run(store, stmt, "adding an invoice", error))
    return 0;
  return sqlite3_last_insert_rowid(store->db);
}

StoreInvoiceRow *store_invoice_get(Store *store, const char *number, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT " STORE_INVOICE_COLUMNS " FROM invoices WHERE number = ?1", error);
  if (!stmt)
    return NULL;
  store_bind_text(stmt, 1, number);
  int rc = store_step(store, stmt, "reading an invoice", error);
  return rc == SQLITE_ROW ? store_invoice_read(stmt) : NULL;
}

GPtrArray *store_invoice_list(Store *store, const char *client_id, gboolean unpaid_only,
                              GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT " STORE_INVOICE_COLUMNS " FROM invoices WHERE (?1 IS NULL OR client_id = ?1)"
    " AND (?2 = 0 OR state != 'paid') ORDER BY due, number", error);
  if (!stmt)
    return NULL;
  store_bind_text(stmt, 1, client_id);
  sqlite3_bind_int(stmt, 2, unpaid_only);
  return store_collect(store, stmt, store_invoice_read, (GDestroyNotify)store_invoice_row_free, "listing invoices", error);
}

gboolean store_invoice_update(Store *store, const StoreInvoiceRow *row, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "UPDATE invoices SET paid = ?2, paid_date = ?3, state = ?4, pause_reason = ?5,"
    " promise_date = ?6, promise_text = ?7, last_step = ?8, message_id = ?9, thread_id = ?10"
    " WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, row->id);
  sqlite3_bind_int64(stmt, 2, row->paid);
  store_bind_text(stmt, 3, row->paid_date);
  store_bind_text(stmt, 4, row->state);
  store_bind_text(stmt, 5, row->pause_reason);
  store_bind_text(stmt, 6, row->promise_date);
  store_bind_text(stmt, 7, row->promise_text);
  sqlite3_bind_int(stmt, 8, row->last_step);
  store_bind_text(stmt, 9, row->message_id);
  if (row->thread_id)
    sqlite3_bind_int64(stmt, 10, row->thread_id);
  return store_run(store, stmt, "updating an invoice", error);
}

gboolean store_invoice_payment_add(Store *store, gint64 invoice_id, gint64 amount,
                                   const char *date, const char *source, GDateTime *now,
                                   GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO invoice_payments (invoice_id, amount, date, source, created)"
    " VALUES (?1, ?2, ?3, ?4, ?5)", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, invoice_id);
  sqlite3_bind_int64(stmt, 2, amount);
  store_bind_text(stmt, 3, date);
  store_bind_text(stmt, 4, source);
  store_bind_time(stmt, 5, now);
  return store_run(store, stmt, "recording a payment", error);
}

gboolean store_invoice_chase_claim(Store *store, gint64 invoice_id, const char *step,
                                   gint64 outbox_id, GDateTime *now, gboolean *claimed,
                                   GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT OR IGNORE INTO invoice_chases (invoice_id, step, outbox_id, created)"
    " VALUES (?1, ?2, ?3, ?4)", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, invoice_id);
  store_bind_text(stmt, 2, step);
  if (outbox_id)
    sqlite3_bind_int64(stmt, 3, outbox_id);
  store_bind_time(stmt, 4, now);
  if (!store_run(store, stmt, "recording a chase step", error))
    return FALSE;
  *claimed = sqlite3_changes(store->db) > 0;
  return TRUE;
}

gboolean store_invoice_own_mention(Store *store, const char *client_id, const char *number,
                                   GDateTime *since, GDateTime **date, GError **error)
{
  *date = NULL;
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT MAX(m.date) FROM messages m WHERE m.direction = 'out' AND m.client_id = ?1"
    " AND m.date >= ?2 AND (instr(m.subject, ?3) > 0 OR instr(coalesce(m.new_text, ''), ?3) > 0)"
    " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.message_id)", error);
  if (!stmt)
    return FALSE;
  store_bind_text(stmt, 1, client_id);
  store_bind_time(stmt, 2, since);
  store_bind_text(stmt, 3, number);
  if (store_step(store, stmt, "looking for the VA's own chasers", error) != SQLITE_ROW)
    return FALSE;
  *date = store_column_time(stmt, 0);
  return TRUE;
}

gboolean store_invoice_message_reading(Store *store, gint64 row_id, char **payment,
                                       char **new_text, GError **error)
{
  *payment = *new_text = NULL;
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT payment, new_text FROM messages WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, row_id);
  int rc = store_step(store, stmt, "reading a message's payment category", error);
  if (rc == SQLITE_ROW) {
    *payment = store_column_text(stmt, 0);
    *new_text = store_column_text(stmt, 1);
  }
  return rc != -1;
}

double store_invoice_thread_risk(Store *store, gint64 thread_id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store, "SELECT risk FROM threads WHERE id = ?1",
                                            error);
  if (!stmt)
    return 0;
  sqlite3_bind_int64(stmt, 1, thread_id);
  return store_step(store, stmt, "reading a thread's risk", error) == SQLITE_ROW
    ? sqlite3_column_double(stmt, 0) : 0;
}

char *store_invoice_for_thread(Store *store, gint64 thread_id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT i.number FROM invoices i WHERE i.thread_id = ?1 UNION"
    " SELECT i.number FROM invoices i JOIN invoice_chases c ON c.invoice_id = i.id"
    " JOIN outbox o ON o.id = c.outbox_id JOIN messages m ON m.message_id = o.message_id"
    " WHERE m.thread_id = ?1 LIMIT 1", error);
  if (!stmt || thread_id == 0)
    return NULL;
  sqlite3_bind_int64(stmt, 1, thread_id);
  return store_step(store, stmt, "finding a thread's invoice", error) == SQLITE_ROW
    ? store_column_text(stmt, 0) : NULL;
}

void store_client_hit_free(StoreClientHit *hit)
{
  if (!hit)
    return;
  g_clear_pointer(&hit->date, g_date_time_unref);
  g_free(hit->message_id);
  g_free(hit->rule);
  g_free(hit->dimension);
  g_free(hit->match);
  g_free(hit);
}

static gboolean store_hit_wanted(const char *dimension, const char *const *dimensions)
{
  return dimension && (!dimensions || g_strv_contains(dimensions, dimension));
}

GPtrArray *store_invoice_client_hits(Store *store, const char *client_id,
                                     const char *const *dimensions, GDateTime *since,
                                     GDateTime *until, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT m.date, m.message_id, h.rule, h.dimension, h.match FROM rule_hits h"
    " JOIN messages m ON m.id = h.message_id WHERE m.client_id = ?1 AND m.direction = 'in'"
    " AND m.date >= ?2 AND (?3 IS NULL OR m.date < ?3) AND h.points > 0 ORDER BY m.date, h.id", error);
  if (!stmt)
    return NULL;
  store_bind_text(stmt, 1, client_id);
  store_bind_time(stmt, 2, since);
  store_bind_time(stmt, 3, until);
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func((GDestroyNotify)store_client_hit_free);
  int rc;
  while ((rc = store_step(store, stmt, "reading a client's rule hits", error)) == SQLITE_ROW) {
    if (!store_hit_wanted((const char *)sqlite3_column_text(stmt, 3), dimensions))
      continue;
    StoreClientHit *hit = g_new0(StoreClientHit, 1);
    hit->date = store_column_time(stmt, 0);
    hit->message_id = store_column_text(stmt, 1);
    hit->rule = store_column_text(stmt, 2);
    hit->dimension = store_column_text(stmt, 3);
    hit->match = store_column_text(stmt, 4);
    g_ptr_array_add(hits, hit);
  }
  return rc == SQLITE_DONE ? g_steal_pointer(&hits) : NULL;
}

gboolean store_invoice_last_chase(Store *store, gint64 invoice_id, GDateTime **created,
                                  GError **error)
{
  *created = NULL;
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT MAX(created) FROM invoice_chases WHERE invoice_id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, invoice_id);
  if (store_step(store, stmt, "reading an invoice's last chase", error) != SQLITE_ROW)
    return FALSE;
  *created = store_column_time(stmt, 0);
  return TRUE;
}

char **store_invoice_chase_message_ids(Store *store, gint64 invoice_id, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT o.message_id FROM invoice_chases c JOIN outbox o ON o.id = c.outbox_id"
    " WHERE c.invoice_id = ?1 ORDER BY c.created", error);
  if (!stmt)
    return NULL;
  sqlite3_bind_int64(stmt, 1, invoice_id);
  g_autoptr(GStrvBuilder) ids = g_strv_builder_new();
  int rc;
  while ((rc = store_step(store, stmt, "reading an invoice's chases", error)) == SQLITE_ROW)
    g_strv_builder_add(ids, (const char *)sqlite3_column_text(stmt, 0));
  return rc == SQLITE_DONE ? g_strv_builder_end(ids) : NULL;
}

gboolean store_invoice_is_keel_message(Store *store, const char *message_id,
                                       gboolean *is_keel, GError **error)
{
  *is_keel = FALSE;
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT 1 FROM outbox WHERE message_id = ?1", error);
  if (!stmt)
    return FALSE;
  store_bind_text(stmt, 1, message_id);
  int rc = store_step(store, stmt, "looking a message up in the outbox", error);
  *is_keel = rc == SQLITE_ROW;
  return rc != -1;
}
