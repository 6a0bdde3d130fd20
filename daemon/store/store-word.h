/* daemon/store/store-word.h: the rows that keep the VA's word (schema v9): her
 * promises, the instructions her replies probably did, and threads she has
 * dealt with (`keel thread handled`). daemon/record/word.c writes them, the
 * digest and `keel promises` / `keel instruction list` / `keel thread list`
 * read them.
 */
#pragma once

#include "daemon/store/store.h"

/* One promise the VA made in a message she sent. */
typedef struct {
  gint64 id;
  gint64 message_row;  /* messages.id of her message */
  char *message_id;    /* owned, her message's Message-ID */
  char *client_id;     /* owned, NULL = unknown */
  char *client;        /* owned: the client's name (the id, or NULL, when none is stored) */
  gint64 thread_id;
  char *subject;       /* owned: the thread's subject ("" when none) */
  char *text;          /* owned: what she wrote */
  char *due;           /* owned, "YYYY-MM-DDTHH:MM" local to the client, NULL = no time */
  GDateTime *due_at;   /* owned, UTC, NULL = no time */
  char *status;        /* owned: open, kept, updated, cancelled */
  char *closed_by;     /* owned: Message-ID of the message that closed it, NULL */
  gboolean history;    /* from mail stored as history */
  GDateTime *created;  /* owned, UTC: her message's Date */
} StorePromiseRow;
void store_promise_row_free(StorePromiseRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StorePromiseRow, store_promise_row_free)

/* Inserts `row` (id, client, subject, status and closed_by ignored: a new
 * promise is open). Returns its id, 0 on error. */
gint64 store_promise_add(Store *store, const StorePromiseRow *row, GError **error);

/* Promises, due first (undated last): all, or only the open ones; only
 * those of `thread_id` when it is > 0. A GPtrArray of StorePromiseRow*. */
GPtrArray *store_promise_list(Store *store, gboolean open_only, gint64 thread_id,
                              GError **error);

/* Closes promise `id` as `status` (kept, updated, cancelled) by message
 * `closed_by` (may be NULL) at `at`. */
gboolean store_promise_close(Store *store, gint64 id, const char *status, const char *closed_by,
                             GDateTime *at, GError **error);

/* The open instructions of `thread_id` given before `before`, not yet marked
 * probably done: StoreInstructionRow*, oldest first. */
GPtrArray *store_instructions_open_in_thread(Store *store, gint64 thread_id, GDateTime *before,
                                             GError **error);

/* Marks instruction `id` probably done by her message `done_by` at `at`, or
 * clears the mark when `at` is NULL. */
gboolean store_instruction_set_probably_done(Store *store, gint64 id, const char *done_by,
                                             GDateTime *at, GError **error);

/* Instructions newest first: all, or only those open (status open, including
 * the probably done); only `client_id`'s when non-NULL. StoreInstructionRow*. */
GPtrArray *store_instruction_list(Store *store, gboolean open_only, const char *client_id,
                                  GError **error);

/* Marks thread `thread_id` handled as of `since` until `until` (NULL: until
 * new client mail). `*found` says whether the thread exists. */
gboolean store_thread_set_handled_until(Store *store, gint64 thread_id, GDateTime *since,
                                        GDateTime *until, gboolean *found, GError **error);

/* Whether thread `thread_id` is out of the digest at `now`: marked handled,
 * its mark not past its `until`, and no client mail stored (received) since
 * the mark. */
gboolean store_thread_is_handled(Store *store, gint64 thread_id, GDateTime *now,
                                 gboolean *handled, GError **error);

/* Whether `message_row` was stored as history (first sync, rescan, import),
 * and its Date; FALSE only on a store error. */
gboolean store_message_history(Store *store, gint64 message_row, gboolean *history,
                               GDateTime **date, GError **error);
