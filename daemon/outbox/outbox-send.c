/* daemon/outbox/outbox-send.c: one pass of the outbox sender (outbox_run()).
 *
 * Phases, in order:
 *   1. reconcile: every row left SENDING (a crash between the side effect and
 *      the mark) is looked up by Message-ID in Sent (auto) or Drafts
 *      (review): found -> SENT/DRAFTED, not found -> QUEUED. When the lookup
 *      itself fails the row stays SENDING and waits for the next pass:
 *      nothing is sent twice because a server was down.
 *   2. deliver: each QUEUED row, and each TEMPFAIL row whose next attempt
 *      has come, is claimed (-> SENDING, committed), then sent or drafted,
 *      then marked.
 * A test hook, KEEL_TEST_CRASH_AFTER_SEND=1, ends the process with _exit(137)
 * right after SMTP accepted a message and before it is marked: the crash the
 * reconcile phase exists for.
 *
 * Must not: log bodies or passwords; send a row it did not claim.
 */
#include <string.h>
#include <unistd.h>
#include "daemon/mail/imap-writer.h"
#include "daemon/mail/oauth.h"
#include "daemon/mail/folders.h"
#include "daemon/outbox/outbox.h"
#include "daemon/mail/smtp.h"

typedef struct {
  Store *store;                    /* borrowed */
  const KeelConfig *config;        /* borrowed */
  const OutboxSettings *settings;  /* borrowed */
  GDateTime *now;                  /* borrowed */
  OutboxRunStats *stats;           /* borrowed */
} OutboxRun;

static const KeelAccount *outbox_account(const KeelConfig *config, const char *name)
{
  for (guint i = 0; i < config->accounts->len; i++) {
    const KeelAccount *account = config->accounts->pdata[i];
    if (g_strcmp0(account->name, name) == 0)
      return account;
  }
  return NULL;
}

/* An IMAP writer for `account` (password read now). NULL with `error`. */
static ImapWriter *outbox_writer(const KeelAccount *account, GError **error)
{
  g_autofree char *password = oauth_account_secret(account, error);
  if (!password)
    return NULL;
  folders_resolve_account(account, password); /* issue 19: Sent/Drafts by SPECIAL-USE, once */
  ImapWriter *writer = imap_writer_new(account, password, error);
  memset(password, 0, strlen(password));
  return writer;
}

static void outbox_log_failure(const StoreOutboxRow *row, const char *what, const GError *error)
{
  g_warning("outbox %" G_GINT64_FORMAT " <%s>: %s: %s", row->id, row->message_id, what,
            error->message);
}

/* TRUE when `row` becomes a draft for the VA to send (review mode) rather
 * than being sent. Digests and alerts are for the VA herself: always sent. */
static gboolean outbox_row_is_draft(const OutboxRun *run, const StoreOutboxRow *row)
{
  static const char *const for_the_va[] = { "digest", "alert", NULL };
  return run->config->mode == KEEL_MODE_REVIEW
         && !g_strv_contains(for_the_va, row->kind ? row->kind : "");
}

/* Phase 1 for one SENDING row. */
static gboolean outbox_reconcile_row(OutboxRun *run, const StoreOutboxRow *row, GError **error)
{
  const KeelAccount *account = outbox_account(run->config, row->account);
  gboolean review = outbox_row_is_draft(run, row);
  g_autoptr(GError) local = NULL;
  g_autoptr(ImapWriter) writer = account ? outbox_writer(account, &local) : NULL;
  gboolean found = FALSE;
  if (!writer || !imap_writer_find(writer, review ? account->drafts_folder
                                                  : account->sent_folder,
                                   row->message_id, &found, &local)) {
    if (local)
      outbox_log_failure(row, "cannot check whether it went out; left for the next pass",
                         local);
    return TRUE;
  }
  OutboxState to = found ? (review ? OUTBOX_DRAFTED : OUTBOX_SENT) : OUTBOX_QUEUED;
  g_message("outbox %" G_GINT64_FORMAT " <%s>: was in flight; %s", row->id, row->message_id,
            found ? "found on the server, marked done" : "not on the server, queued again");
  if (found)
    run->stats->reconciled++;
  else
    run->stats->requeued++;
  return outbox_move(run->store, row, to, row->attempts, NULL, NULL, run->now, error);
}

static gboolean outbox_reconcile(OutboxRun *run, GError **error)
{
  g_autoptr(GPtrArray) rows = store_outbox_list(run->store, "sending", error);
  if (!rows)
    return FALSE;
  for (guint i = 0; i < rows->len; i++)
    if (!outbox_reconcile_row(run, rows->pdata[i], error))
      return FALSE;
  return TRUE;
}

/* Marks a failed attempt: TEMPFAIL with backoff, or FAILED. */
static gboolean outbox_mark_failure(OutboxRun *run, StoreOutboxRow *row, int attempts,
                                    gboolean permanent, const GError *cause, GError **error)
{
  outbox_log_failure(row, permanent ? "failed, not retried" : "delayed", cause);
  if (permanent || attempts >= OUTBOX_MAX_ATTEMPTS) {
    run->stats->failed++;
    return outbox_move(run->store, row, OUTBOX_FAILED, attempts, NULL, cause->message,
                       run->now, error);
  }
  run->stats->tempfailed++;
  g_autoptr(GDateTime) next = g_date_time_add(run->now, outbox_retry_delay(attempts));
  return outbox_move(run->store, row, OUTBOX_TEMPFAIL, attempts, next, cause->message,
                     run->now, error);
}

/* Review mode: APPEND to Drafts as \Draft. */
static gboolean outbox_draft(OutboxRun *run, const KeelAccount *account, StoreOutboxRow *row,
                             int attempts, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(ImapWriter) writer = outbox_writer(account, &local);
  if (!writer || !imap_writer_append(writer, account->drafts_folder, row->raw, TRUE, NULL,
                                     &local))
    return outbox_mark_failure(run, row, attempts, FALSE, local, error);
  run->stats->drafted++;
  return outbox_move(run->store, row, OUTBOX_DRAFTED, attempts, NULL, NULL, run->now, error);
}

/* After a successful send: the copy in Sent (unless the server files it). */
static void outbox_copy_to_sent(OutboxRun *run, const KeelAccount *account,
                                const StoreOutboxRow *row)
{
  if ((run->settings && run->settings->server_files_sent) || account->server_files_sent)
    return;
  g_autoptr(GError) local = NULL;
  g_autoptr(ImapWriter) writer = outbox_writer(account, &local);
  if (!writer || !imap_writer_append(writer, account->sent_folder, row->raw, FALSE, NULL,
                                     &local))
    outbox_log_failure(row, "sent, but the copy to the Sent folder failed", local);
}

/* Auto mode: SMTP, then mark, then the Sent copy. */
static gboolean outbox_send(OutboxRun *run, const KeelAccount *account, StoreOutboxRow *row,
                            int attempts, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *password = oauth_account_secret(account, &local);
  gboolean sent = password && smtp_send(account, password, row->mail_from, row->rcpt,
                                        row->raw, &local);
  if (password)
    memset(password, 0, strlen(password));
  if (!sent)
    return outbox_mark_failure(run, row, attempts,
                               g_error_matches(local, KEEL_SMTP_ERROR,
                                               KEEL_SMTP_ERROR_PERMANENT), local, error);
  if (g_strcmp0(g_getenv("KEEL_TEST_CRASH_AFTER_SEND"), "1") == 0)
    _exit(137);
  run->stats->sent++;
  if (!outbox_move(run->store, row, OUTBOX_SENT, attempts, NULL, NULL, run->now, error))
    return FALSE;
  outbox_copy_to_sent(run, account, row);
  return TRUE;
}

/* Phase 2 for one due row: claim, then send or draft. */
static gboolean outbox_deliver_row(OutboxRun *run, StoreOutboxRow *row, GError **error)
{
  int attempts = row->attempts + 1;
  g_autoptr(GError) claim = NULL;
  if (!outbox_move(run->store, row, OUTBOX_SENDING, attempts, NULL, row->last_error,
                   run->now, &claim)) {
    if (g_error_matches(claim, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_STATE))
      return TRUE; /* another sender claimed it first */
    g_propagate_error(error, g_steal_pointer(&claim));
    return FALSE;
  }
  g_free(row->state);
  row->state = g_strdup(outbox_state_name(OUTBOX_SENDING));
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

static gboolean outbox_is_due(const StoreOutboxRow *row, GDateTime *now)
{
  if (g_strcmp0(row->state, "queued") == 0)
    return TRUE;
  return g_strcmp0(row->state, "tempfail") == 0
         && (!row->next_attempt || g_date_time_compare(row->next_attempt, now) <= 0);
}

gboolean outbox_run(Store *store, const KeelConfig *config, const OutboxSettings *settings,
                    GDateTime *now, OutboxRunStats *stats, GError **error)
{
  OutboxRunStats ignored = { 0 };
  OutboxRun run = { store, config, settings, now, stats ? stats : &ignored };
  if (!outbox_reconcile(&run, error))
    return FALSE;
  g_autoptr(GPtrArray) rows = store_outbox_list(store, NULL, error);
  if (!rows)
    return FALSE;
  for (guint i = 0; i < rows->len; i++) {
    StoreOutboxRow *row = rows->pdata[i];
    if (outbox_is_due(row, now) && !outbox_deliver_row(&run, row, error))
      return FALSE;
  }
  return TRUE;
}
