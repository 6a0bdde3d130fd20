/* daemon/store/store-search.c: the messages stored in the open transaction
 * that are not in the FTS5 search index (message_search) yet.
 *
 * Why: SQLite 3.40's FTS5 writes its pending terms out as a new index
 * segment at every SAVEPOINT and at the end of every statement that changes
 * anything once the index has been written to in the transaction; with the
 * index filled per message (by a trigger, before schema 11) an initial sync
 * wrote two segments per message and merged them again, about a seventh of
 * its time. So store_add_message() only queues the row here
 * (store_search_queue), store_search_set_quoted() fills in the quoted text
 * while it is queued, and the outermost store_commit() indexes every queued
 * row just before COMMIT (store_search_flush): the index and the messages
 * are still committed together, in one transaction, and one segment is
 * written per batch. A rolled-back SAVEPOINT drops what was queued after it
 * (store_search_mark / store_search_unwind).
 *
 * Must not: log message text, open or end transactions itself.
 */
#include "daemon/store/store-private.h"

typedef struct {
  gint64 row_id;
  char *subject;     /* owned */
  char *new_text;    /* owned, NULL: none */
  char *quoted_text; /* owned, NULL: none (yet) */
} StoreSearchPending;

static void store_search_pending_clear(gpointer data)
{
  StoreSearchPending *pending = data;
  g_free(pending->subject);
  g_free(pending->new_text);
  g_free(pending->quoted_text);
}

void store_search_init(Store *store)
{
  store->search_pending = g_array_new(FALSE, FALSE, sizeof(StoreSearchPending));
  g_array_set_clear_func(store->search_pending, store_search_pending_clear);
  store->search_marks = g_array_new(FALSE, FALSE, sizeof(guint));
}

void store_search_clear(Store *store)
{
  g_clear_pointer(&store->search_pending, g_array_unref);
  g_clear_pointer(&store->search_marks, g_array_unref);
}

void store_search_queue(Store *store, gint64 row_id, const char *subject, const char *new_text)
{
  StoreSearchPending pending = { .row_id = row_id, .subject = g_strdup(subject),
                                 .new_text = g_strdup(new_text) };
  g_array_append_val(store->search_pending, pending);
}

gboolean store_search_queued_set_quoted(Store *store, gint64 row_id, const char *quoted_text)
{
  for (guint i = store->search_pending->len; i > 0; i--) {
    StoreSearchPending *pending = &g_array_index(store->search_pending, StoreSearchPending, i - 1);
    if (pending->row_id == row_id) {
      g_free(pending->quoted_text);
      pending->quoted_text = g_strdup(quoted_text);
      return TRUE;
    }
  }
  return FALSE;
}

void store_search_mark(Store *store)
{
  g_array_append_val(store->search_marks, store->search_pending->len);
}

void store_search_unwind(Store *store, gboolean rolled_back)
{
  guint marks = store->search_marks->len;
  g_return_if_fail(marks > 0);
  guint mark = g_array_index(store->search_marks, guint, marks - 1);
  g_array_set_size(store->search_marks, marks - 1);
  if (rolled_back && mark < store->search_pending->len)
    g_array_set_size(store->search_pending, mark);
}

gboolean store_search_flush(Store *store, GError **error)
{
  if (store->search_pending->len == 0)
    return TRUE;
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "INSERT INTO message_search (rowid, subject, new_text, quoted_text)"
    " VALUES (?1, ?2, ?3, ?4)", error);
  for (guint i = 0; stmt && i < store->search_pending->len; i++) {
    const StoreSearchPending *pending =
      &g_array_index(store->search_pending, StoreSearchPending, i);
    sqlite3_reset(stmt);
    sqlite3_bind_int64(stmt, 1, pending->row_id);
    store_bind_text(stmt, 2, pending->subject ? pending->subject : "");
    store_bind_text(stmt, 3, pending->new_text ? pending->new_text : "");
    store_bind_text(stmt, 4, pending->quoted_text ? pending->quoted_text : "");
    if (!store_run(store, stmt, "indexing messages for search", error))
      return FALSE;
  }
  g_array_set_size(store->search_pending, 0);
  return stmt != NULL;
}
