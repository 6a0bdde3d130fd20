/* daemon/ingest/sync.h: one poll cycle of one account: for each watched folder and
 * the Sent folder, ask the server what changed, fetch what is new and hand
 * the messages to the pipeline, in batches of one transaction each (with the
 * folder's last UID).
 *
 * Entry points:
 *   sync_account()          one cycle (blocking; run it in a worker thread)
 *   sync_backoff_seconds()  when to try again after failures
 *
 * Thread safety: sync_account() may run for several accounts at once in
 * different threads. The store is one SQLite connection opened without a
 * mutex, so every store call made here holds SyncContext.store_lock. */
#pragma once

#include <gio/gio.h>
#include "daemon/base/config.h"
#include "daemon/store/store.h"
#include "daemon/ingest/pipeline.h"

typedef struct {
  const KeelConfig *config;  /* borrowed */
  Store *store;              /* borrowed; used only under store_lock */
  Pipeline *pipeline;        /* borrowed; used only under store_lock */
  GMutex *store_lock;        /* borrowed */
  GCancellable *cancellable; /* borrowed, may be NULL: checked between messages */
  gint *progress;            /* borrowed, may be NULL: incremented (atomically) after each
                              * step (a folder checked, a message fetched, a batch stored),
                              * for the daemon's watchdog */
} SyncContext;

typedef struct {
  guint folders;   /* folders polled */
  guint stored;    /* messages newly stored */
  guint duplicates;/* fetched but already stored (same Message-ID) */
  guint skipped;   /* too large or unreadable: recorded, not stored */
  guint commands;  /* IMAP commands sent, login included */
} SyncStats;

/* Polls every folder of `account`. Logs one line per problem naming the
 * account and folder, records the outcome with store_account_record_poll()
 * at `now`, and returns FALSE with the first error (KEEL_MAIL_ERROR codes
 * for the server, KEEL_CONFIG_ERROR for a missing password, KEEL_STORE_ERROR
 * for the database). */
gboolean sync_account(const SyncContext *context, const KeelAccount *account, SyncStats *stats,
                      GError **error);

/* TRUE when `error` concerns one folder only (the server refused a command
 * on it, e.g. the folder does not exist): the other folders were polled, so
 * the account's next cycle comes at its usual interval, not after a backoff. */
gboolean sync_error_is_folder_only(const GError *error);

/* Seconds to wait before the next attempt after `failures` consecutive
 * failed cycles (>= 1): 30 s doubling up to 30 min, +-10 % jitter, never less
 * than `poll_interval`. A denied login waits the cap at once. */
guint sync_backoff_seconds(guint failures, gboolean login_denied, guint poll_interval);
