/* daemon/store/store-private.h: what the store-*.c files share and nobody else may
 * see: the Store struct and the small SQLite helpers. Every SQLite failure is
 * turned into a GError by store_set_error() (store.c) and nowhere else. */
#pragma once

#include <sqlite3.h>
#include "daemon/store/store.h"

/* Gives a statement from store_prepare() back: reset, unbound, into its
 * connection's statement cache (store.c), or finalized. */
void store_stmt_release(sqlite3_stmt *stmt);

/* g_autoptr(StoreStmt) releases a statement (store_stmt_release()). (daemon/base/
 * cleanup.h declares a finalizing cleanup for sqlite3_stmt; this alias keeps the
 * store independent of it.) */
typedef sqlite3_stmt StoreStmt;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StoreStmt, store_stmt_release)

struct Store {
  sqlite3 *db;  /* owned */
  char *path;   /* owned, for messages */
  guint depth;  /* open transactions: 0 none, 1 BEGIN, >1 SAVEPOINTs */
  int version;  /* PRAGMA user_version after migration */
  GArray *search_pending; /* owned: messages stored in this transaction, not yet indexed
                           * for search (store-search.c) */
  GArray *search_marks;   /* owned, of guint: search_pending's length at each open
                           * store_begin() */
};

/* The one place an SQLite result code becomes a GError: KEEL_STORE_ERROR_BUSY
 * for SQLITE_BUSY/SQLITE_LOCKED, else `code`. `what` says what keel was doing.
 * Always returns FALSE. */
gboolean store_set_error(Store *store, int rc, KeelStoreError code, const char *what,
                         GError **error);

/* Prepares `sql` (or takes it from the statement cache); NULL with `error` set
 * on failure. Caller owns the statement: g_autoptr(StoreStmt) gives it back. */
sqlite3_stmt *store_prepare(Store *store, const char *sql, GError **error);
/* One step: SQLITE_ROW or SQLITE_DONE, or -1 with `error` set. */
int store_step(Store *store, sqlite3_stmt *stmt, const char *what, GError **error);
/* Steps a `SELECT COUNT(*) ...`: its first column, or -1 (with `error` set
 * when SQLite failed). */
gint64 store_step_count(Store *store, sqlite3_stmt *stmt, const char *what, GError **error);
/* Steps a statement that returns no rows. */
gboolean store_run(Store *store, sqlite3_stmt *stmt, const char *what, GError **error);
/* Runs SQL text that returns no rows (may hold several statements). */
gboolean store_exec(Store *store, const char *sql, GError **error);

/* One row of a statement read into a new object (a StoreThreadRow, ...). */
typedef gpointer (*StoreRowReader)(sqlite3_stmt *stmt);

/* The one row loop: steps `stmt` to its end, reading each row with `read`.
 * Returns a new array that frees its rows with `free_row`, or NULL with
 * `error` set (`what` says what keel was reading). The caller owns it. */
GPtrArray *store_collect(Store *store, sqlite3_stmt *stmt, StoreRowReader read,
                         GDestroyNotify free_row, const char *what, GError **error);

/* One row of messages (id, date, direction, risk, scored) as a
 * StoreThreadEntry, for the thread readers of store-messages.c and
 * store-guard.c. */
gpointer store_thread_entry_read(sqlite3_stmt *stmt);

/* One row of a threads query (id, client name, client id, counterpart,
 * subject, message count, last date, risk) as a StoreThreadRow. */
gpointer store_thread_row_read(sqlite3_stmt *stmt);

/* Binds NULL for a NULL string, else a copy of the text. */
void store_bind_text(sqlite3_stmt *stmt, int index, const char *text);
/* Binds a time as Unix seconds, NULL for a NULL time. */
void store_bind_time(sqlite3_stmt *stmt, int index, GDateTime *time);
/* A column of Unix seconds as a new UTC GDateTime, NULL for SQL NULL. */
GDateTime *store_column_time(sqlite3_stmt *stmt, int column);
/* A text column as a new string, NULL for SQL NULL. */
char *store_column_text(sqlite3_stmt *stmt, int column);

/* The columns store_instruction_read() expects, in its order. */
#define STORE_INSTRUCTION_COLUMNS \
  "id, message_row, message_id, client_id, thread_id, text, deadline, urgency, status, created," \
  " probably_done, coalesce((SELECT m.first_sync FROM messages m" \
  "   WHERE m.id = instructions.message_row), 0)"
/* One instructions row of a statement that selected STORE_INSTRUCTION_COLUMNS. */
gpointer store_instruction_read(sqlite3_stmt *stmt);

/* ---- store-search.c ---------------------------------------------------- */

/* The queue of messages to index for search (store_open / store_close). */
void store_search_init(Store *store);
void store_search_clear(Store *store);
/* Queues the message `row_id`, just inserted with `subject` and `new_text`
 * (copied), for message_search. */
void store_search_queue(Store *store, gint64 row_id, const char *subject, const char *new_text);
/* Sets the quoted text of a queued row: FALSE when `row_id` is not queued. */
gboolean store_search_queued_set_quoted(Store *store, gint64 row_id, const char *quoted_text);
/* At every store_begin(): remembers what is queued. */
void store_search_mark(Store *store);
/* At every store_commit() and store_rollback(): forgets the last mark, and
 * after a rollback what was queued since it. */
void store_search_unwind(Store *store, gboolean rolled_back);
/* Indexes every queued row (the outermost store_commit(), before COMMIT). */
gboolean store_search_flush(Store *store, GError **error);
