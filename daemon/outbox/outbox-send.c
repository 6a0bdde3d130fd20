/* daemon/outbox/outbox-send.c: one pass of the outbox sender (outbox_run()).
 *
 * At most once to a client. Every side effect is preceded by a committed
 * state saying it may have happened, and a crash leaves a row in a state
 * that says what to check:
 *   CLAIMED -> SENDING -> SMTP -> UNFILED -> APPEND to Sent -> SENT
 *   CLAIMED -> SENDING -> APPEND to Drafts with \Draft -> DRAFTED
 * (with server_files_sent the SMTP server's own copy is the Sent copy, and
 * SMTP is followed by SENT at once). Phases, in order:
 *   1. reconcile: a row left CLAIMED was handed to no server: queued again.
 *      A row left SENDING is looked up by Message-ID in Sent
 *      (auto) or Drafts (review). Found: SENT/DRAFTED. Not found: a draft is
 *      queued again (an APPEND either happened whole or not at all, and a
 *      draft reaches nobody); a message that went to SMTP becomes UNCERTAIN,
 *      told to the VA in the digest and sent again only by `keel outbox
 *      retry ID` (also a digest or alert: at most once for every message,
 *      so a crash never mails anyone twice). A row left
 *      UNFILED gets its Sent copy (unless it is already there). When the
 *      lookup itself fails the row stays and waits for the next pass:
 *      nothing is decided because a server was down.
 *   2. deliver: the due rows (QUEUED, or TEMPFAIL whose time has come) are
 *      read without their bytes; each is claimed in its own short
 *      transaction, its bytes read, then sent or drafted with the store
 *      unlocked, then its outcome recorded in another transaction.
 * One IMAP connection per account carries every lookup and APPEND of a pass
 * (imap-writer.c: opened by the first command that needs it, the folder
 * discovery included, reopened once if the server drops it between rows,
 * logged out at the end of the pass). The pass runs from the housekeeping
 * timer, apart from the accounts' IMAP cycles, so it does not share their
 * connections: one connection per account per outbox pass.
 * The store lock (settings->store_lock, may be NULL) is held only around
 * store calls, never across a network call; settings->cancellable aborts
 * SMTP and IMAP within about a second (SIGTERM).
 *
 * Must not: log bodies or passwords; send a row it did not claim; send a
 * row to a client a second time without the VA's say-so.
 */
#include <string.h>
#include <unistd.h>
#include "daemon/base/crash.h"
#include "daemon/mail/imap-writer.h"
#include "daemon/mail/mail-error.h"
#include "daemon/mail/oauth.h"
#include "daemon/mail/folders.h"
#include "daemon/outbox/outbox.h"
#include "daemon/mail/smtp.h"

typedef struct {
  Store *store;                    /* borrowed */
  const KeelConfig *config;        /* borrowed */
  const OutboxSettings *settings;  /* borrowed, never NULL */
  GDateTime *now;                  /* borrowed */
  OutboxRunStats *stats;           /* borrowed */
  GHashTable *writers;             /* owned: account name -> ImapWriter* (one connection each) */
} OutboxRun;

static void outbox_lock(OutboxRun *run)
{
  if (run->settings->store_lock)
    g_mutex_lock(run->settings->store_lock);
}

static void outbox_unlock(OutboxRun *run)
{
  if (run->settings->store_lock)
    g_mutex_unlock(run->settings->store_lock);
}

static const KeelAccount *outbox_account(const KeelConfig *config, const char *name)
{
  for (guint i = 0; i < config->accounts->len; i++) {
    const KeelAccount *account = config->accounts->pdata[i];
    if (g_strcmp0(account->name, name) == 0)
      return account;
  }
  return NULL;
}

/* The pass's IMAP writer for `account` (made on first use; its connection
 * logs in with the first command, the special-use LIST when the Sent or
 * Drafts folder is not known yet). Borrowed. */
static ImapWriter *outbox_writer(OutboxRun *run, const KeelAccount *account, GError **error)
{
  ImapWriter *writer = g_hash_table_lookup(run->writers, account->name);
  if (writer)
    return writer;
  g_autofree char *password = oauth_account_secret(account, error);
  if (!password)
    return NULL;
  writer = imap_writer_new(account, password, run->settings->cancellable, error);
  memset(password, 0, strlen(password));
  folders_resolve_writer(account, writer); /* issue 19: Sent/Drafts by SPECIAL-USE, once */
  if (writer)
    g_hash_table_insert(run->writers, g_strdup(account->name), writer);
  return writer;
}

/* The end of the pass: every writer logs out; their connections are counted. */
static void outbox_close_writers(OutboxRun *run)
{
  GHashTableIter iter;
  gpointer name, writer;
  g_hash_table_iter_init(&iter, run->writers);
  while (g_hash_table_iter_next(&iter, &name, &writer)) {
    guint connections = imap_writer_connections(writer);
    run->stats->connections += connections;
    g_debug("outbox: account '%s': %u IMAP connection%s in this pass", (const char *)name,
            connections, connections == 1 ? "" : "s");
  }
  g_hash_table_remove_all(run->writers);
}

static void outbox_log_failure(const StoreOutboxRow *row, const char *what, const GError *error)
{
  g_warning("outbox %" G_GINT64_FORMAT " <%s>: %s: %s", row->id, row->message_id, what,
            error->message);
}

/* Moves `row` under the store lock and updates its state as read. */
static gboolean outbox_record(OutboxRun *run, StoreOutboxRow *row, OutboxState to, int attempts,
                              GDateTime *next_attempt, const char *last_error, GError **error)
{
  outbox_lock(run);
  gboolean ok = outbox_move(run->store, row, to, attempts, next_attempt, last_error, run->now,
                            error);
  outbox_unlock(run);
  if (ok) {
    g_free(row->state);
    row->state = g_strdup(outbox_state_name(to));
    row->attempts = attempts;
  }
  return ok;
}

/* A message for the VA herself (digest, alert): always sent, never drafted. */
static gboolean outbox_row_is_for_va(const StoreOutboxRow *row)
{
  static const char *const for_the_va[] = { "digest", "alert", NULL };
  return g_strv_contains(for_the_va, row->kind ? row->kind : "");
}

/* TRUE when `row` becomes a draft for the VA to send (review mode) rather
 * than being sent. A holding reply (holding.c) is always a draft, even in
 * auto mode: it is hers to finish. */
static gboolean outbox_row_is_draft(const OutboxRun *run, const StoreOutboxRow *row)
{
  if (g_strcmp0(row->kind, "holding") == 0)
    return TRUE;
  return run->config->mode == KEEL_MODE_REVIEW && !outbox_row_is_for_va(row);
}

static gboolean outbox_server_files_sent(const OutboxRun *run, const KeelAccount *account)
{
  return run->settings->server_files_sent || account->server_files_sent;
}

/* Looks for `row` in `folder`; FALSE (logged, row left alone) when the
 * lookup fails. */
static gboolean outbox_look_for(OutboxRun *run, const KeelAccount *account, StoreOutboxRow *row,
                                gboolean drafts, gboolean *found)
{
  g_autoptr(GError) local = NULL;
  /* the writer first: it finds the Sent and Drafts folders when unset (issue 19) */
  ImapWriter *writer = outbox_writer(run, account, &local);
  const char *folder = drafts ? folders_drafts(account) : folders_sent(account);
  if (writer && folder && imap_writer_find(writer, folder, row->message_id, found, &local))
    return TRUE;
  outbox_log_failure(row, "cannot check whether it went out; left for the next pass", local);
  return FALSE;
}

/* Phase 1 for one SENDING row: what a crash left in flight. */
static gboolean outbox_reconcile_sending(OutboxRun *run, const KeelAccount *account,
                                         StoreOutboxRow *row, GError **error)
{
  gboolean review = outbox_row_is_draft(run, row), found = FALSE;
  if (!outbox_look_for(run, account, row, review, &found))
    return TRUE;
  if (found) {
    g_message("outbox %" G_GINT64_FORMAT " <%s>: was in flight; found on the server, marked "
              "done", row->id, row->message_id);
    run->stats->reconciled++;
    return outbox_record(run, row, review ? OUTBOX_DRAFTED : OUTBOX_SENT, row->attempts, NULL,
                         NULL, error);
  }
  if (review) {
    g_message("outbox %" G_GINT64_FORMAT " <%s>: was in flight; not on the server, queued "
              "again", row->id, row->message_id);
    run->stats->requeued++;
    return outbox_record(run, row, OUTBOX_QUEUED, row->attempts, NULL, NULL, error);
  }
  g_warning("outbox %" G_GINT64_FORMAT " <%s>: was being sent when keel stopped and is not in "
            "%s: it may or may not have gone out; not sent again (keel outbox retry %"
            G_GINT64_FORMAT " sends it)", row->id, row->message_id, folders_sent(account), row->id);
  run->stats->uncertain++;
  g_autofree char *why = g_strdup_printf("keel stopped while sending and the message is not in "
                                         "%s: check it, then keel outbox retry or cancel",
                                         folders_sent(account));
  return outbox_record(run, row, OUTBOX_UNCERTAIN, row->attempts, NULL, why, error);
}

/* Reads `row`'s bytes (they are not in the due list). */
static gboolean outbox_load_raw(OutboxRun *run, StoreOutboxRow *row, GError **error)
{
  if (row->raw)
    return TRUE;
  outbox_lock(run);
  g_autoptr(StoreOutboxRow) full = store_outbox_get(run->store, row->id, error);
  outbox_unlock(run);
  if (!full) {
    if (error && !*error)
      g_set_error(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_NOT_FOUND,
                  "outbox %" G_GINT64_FORMAT " vanished", row->id);
    return FALSE;
  }
  row->raw = g_steal_pointer(&full->raw);
  return TRUE;
}

/* The Sent copy of an UNFILED row, then SENT. Left UNFILED (logged) when
 * IMAP fails: the next pass tries again. */
static gboolean outbox_file_copy(OutboxRun *run, const KeelAccount *account, StoreOutboxRow *row,
                                 gboolean look_first, GError **error)
{
  gboolean found = FALSE;
  if (look_first && !outbox_look_for(run, account, row, FALSE, &found))
    return TRUE;
  g_autoptr(GError) local = NULL;
  ImapWriter *writer = found ? NULL : outbox_writer(run, account, &local);
  if (!found && !outbox_load_raw(run, row, error))
    return FALSE;
  if (!found && (!writer || !imap_writer_append(writer, folders_sent(account), row->raw, FALSE,
                                                NULL, &local))) {
    outbox_log_failure(row, "sent, but its copy to the Sent folder failed; will try again",
                       local);
    return TRUE;
  }
  keel_crash_point("after-sent-append");
  run->stats->filed++;
  return outbox_record(run, row, OUTBOX_SENT, row->attempts, NULL, NULL, error);
}

static gboolean outbox_reconcile_row(OutboxRun *run, StoreOutboxRow *row, GError **error)
{
  const KeelAccount *account = outbox_account(run->config, row->account);
  OutboxState state = OUTBOX_QUEUED;
  if (!account || !outbox_state_parse(row->state, &state))
    return TRUE; /* no account to look with: left for the VA (keel outbox) */
  if (state == OUTBOX_UNFILED)
    return outbox_file_copy(run, account, row, TRUE, error);
  if (state == OUTBOX_CLAIMED) {
    g_message("outbox %" G_GINT64_FORMAT " <%s>: claimed when keel stopped, never handed to a "
              "server: queued again", row->id, row->message_id);
    run->stats->requeued++;
    return outbox_record(run, row, OUTBOX_QUEUED, row->attempts, NULL, NULL, error);
  }
  return outbox_reconcile_sending(run, account, row, error);
}

/* One more row handled, for the daemon's watchdog (OutboxSettings.progress). */
static void outbox_progress(OutboxRun *run)
{
  if (run->settings->progress)
    g_atomic_int_inc(run->settings->progress);
}

static gboolean outbox_reconcile(OutboxRun *run, GError **error)
{
  const char *const states[] = { outbox_state_name(OUTBOX_CLAIMED),
                                 outbox_state_name(OUTBOX_SENDING),
                                 outbox_state_name(OUTBOX_UNFILED), NULL };
  outbox_lock(run);
  g_autoptr(GPtrArray) rows = store_outbox_due(run->store, states, NULL, error);
  outbox_unlock(run);
  if (!rows)
    return FALSE;
  for (guint i = 0; i < rows->len; i++) {
    if (!outbox_reconcile_row(run, rows->pdata[i], error))
      return FALSE;
    outbox_progress(run);
  }
  return TRUE;
}

/* Marks a failed attempt: TEMPFAIL with backoff, or FAILED. */
static gboolean outbox_mark_failure(OutboxRun *run, StoreOutboxRow *row, int attempts,
                                    gboolean permanent, const GError *cause, GError **error)
{
  outbox_log_failure(row, permanent ? "failed, not retried" : "delayed", cause);
  if (permanent || attempts >= OUTBOX_MAX_ATTEMPTS) {
    run->stats->failed++;
    return outbox_record(run, row, OUTBOX_FAILED, attempts, NULL, cause->message, error);
  }
  run->stats->tempfailed++;
  g_autoptr(GDateTime) next = g_date_time_add(run->now, outbox_retry_delay(attempts));
  return outbox_record(run, row, OUTBOX_TEMPFAIL, attempts, next, cause->message, error);
}

/* Review mode: APPEND to Drafts, flagged \Draft by the APPEND itself. */
static gboolean outbox_draft(OutboxRun *run, const KeelAccount *account, StoreOutboxRow *row,
                             int attempts, GError **error)
{
  g_autoptr(GError) local = NULL;
  ImapWriter *writer = outbox_writer(run, account, &local);
  if (!writer)
    return outbox_mark_failure(run, row, attempts, FALSE, local, error);
  if (!outbox_record(run, row, OUTBOX_SENDING, attempts, NULL, row->last_error, error))
    return FALSE;
  if (!imap_writer_append(writer, folders_drafts(account), row->raw, TRUE, NULL, &local))
    return outbox_mark_failure(run, row, attempts, FALSE, local, error);
  keel_crash_point("after-draft-append");
  run->stats->drafted++;
  return outbox_record(run, row, OUTBOX_DRAFTED, attempts, NULL, NULL, error);
}

/* Auto mode: SMTP, then UNFILED and the Sent copy (or SENT at once when the
 * server files its own copy). */
static gboolean outbox_send(OutboxRun *run, const KeelAccount *account, StoreOutboxRow *row,
                            int attempts, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *password = oauth_account_secret(account, &local);
  if (!password)
    return outbox_mark_failure(run, row, attempts, FALSE, local, error);
  gboolean recorded = outbox_record(run, row, OUTBOX_SENDING, attempts, NULL, row->last_error,
                                    error);
  gboolean sent = recorded && smtp_send(account, password, row->mail_from, row->rcpt, row->raw,
                                        run->settings->cancellable, &local);
  memset(password, 0, strlen(password));
  if (!recorded)
    return FALSE;
  if (!sent)
    return outbox_mark_failure(run, row, attempts,
                               mail_error_retry(local) == MAIL_RETRY_FINAL
                               && mail_error_scope(local) == MAIL_SCOPE_MESSAGE, local, error);
  if (g_strcmp0(g_getenv("KEEL_TEST_CRASH_AFTER_SEND"), "1") == 0)
    _exit(137);
  keel_crash_point("after-smtp");
  run->stats->sent++;
  if (outbox_server_files_sent(run, account))
    return outbox_record(run, row, OUTBOX_SENT, attempts, NULL, NULL, error);
  if (!outbox_record(run, row, OUTBOX_UNFILED, attempts, NULL, NULL, error))
    return FALSE;
  return outbox_file_copy(run, account, row, FALSE, error);
}

/* Phase 2 for one due row: claim, read its bytes, then send or draft. */
static gboolean outbox_deliver_row(OutboxRun *run, StoreOutboxRow *row, GError **error)
{
  int attempts = row->attempts + 1;
  g_autoptr(GError) claim = NULL;
  if (!outbox_record(run, row, OUTBOX_CLAIMED, attempts, NULL, row->last_error, &claim)) {
    if (g_error_matches(claim, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_STATE))
      return TRUE; /* another sender claimed it first */
    g_propagate_error(error, g_steal_pointer(&claim));
    return FALSE;
  }
  keel_crash_point("after-claim");
  if (!outbox_load_raw(run, row, error))
    return FALSE;
  const KeelAccount *account = outbox_account(run->config, row->account);
  if (!account) {
    g_autoptr(GError) missing = g_error_new(KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_ACCOUNT,
                                            "no [account %s] in the config any more",
                                            row->account);
    return outbox_mark_failure(run, row, attempts, TRUE, missing, error);
  }
  if (outbox_row_is_draft(run, row))
    return outbox_draft(run, account, row, attempts, error);
  return outbox_send(run, account, row, attempts, error);
}

static gboolean outbox_deliver(OutboxRun *run, GError **error)
{
  const char *const states[] = { outbox_state_name(OUTBOX_QUEUED),
                                 outbox_state_name(OUTBOX_TEMPFAIL), NULL };
  outbox_lock(run);
  g_autoptr(GPtrArray) rows = store_outbox_due(run->store, states, run->now, error);
  outbox_unlock(run);
  if (!rows)
    return FALSE;
  for (guint i = 0; i < rows->len; i++) {
    if (g_cancellable_is_cancelled(run->settings->cancellable))
      break;
    if (!outbox_deliver_row(run, rows->pdata[i], error))
      return FALSE;
    outbox_progress(run);
  }
  return TRUE;
}

gboolean outbox_run(Store *store, const KeelConfig *config, const OutboxSettings *settings,
                    GDateTime *now, OutboxRunStats *stats, GError **error)
{
  OutboxRunStats ignored = { 0 };
  OutboxSettings defaults = { 0 };
  OutboxRun run = { store, config, settings ? settings : &defaults, now,
                    stats ? stats : &ignored,
                    g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify)imap_writer_free) };
  gboolean ok = outbox_reconcile(&run, error) && outbox_deliver(&run, error);
  outbox_close_writers(&run);
  g_hash_table_unref(run.writers);
  return ok;
}
