/* daemon/digest/digest-word.c: the digest's "your word" section and the
 * filters that keep history and handled threads out of the other sections.
 *
 * One line per: promise of hers due today or overdue ("You told Acme Lettings
 * you'd send the report by Fri 6 Mar 17:00"), client instruction her reply
 * probably did (with its ID, for `keel instruction done|reopen ID`), and calm
 * holding draft waiting in her Drafts folder. Items from mail stored as
 * history are left out unless dated within [keel] history_window days.
 *
 * Must not: change anything; read the clock (the digest's `now` is used).
 */
#include "daemon/digest/digest-private.h"
#include "daemon/record/word.h"
#include "daemon/store/store-word.h"

#define DIGEST_WORD_DEFAULT_WINDOW 3

guint digest_word_window(const KeelConfig *config)
{
  return config ? config->history_window : DIGEST_WORD_DEFAULT_WINDOW;
}

gboolean digest_word_instruction_listed(const KeelConfig *config, const StoreInstructionRow *row,
                                        GDateTime *now)
{
  return !row->probably_done
         && word_history_listed(row->history, row->created, now, digest_word_window(config));
}

gboolean digest_word_waiting_listed(Store *store, const KeelConfig *config, gint64 row_id,
                                    GDateTime *now, gboolean *listed, GError **error)
{
  gboolean history = FALSE;
  g_autoptr(GDateTime) date = NULL;
  if (!store_message_history(store, row_id, &history, &date, error))
    return FALSE;
  *listed = word_history_listed(history, date, now, digest_word_window(config));
  return TRUE;
}

/* "You told Acme Lettings ..." for a promise due today or overdue; NULL otherwise. */
static char *digest_word_promise(const KeelConfig *config, const StorePromiseRow *row,
                                 GDateTime *now)
{
  if (!row->due_at || !word_history_listed(row->history, row->created, now,
                                           digest_word_window(config)))
    return NULL;
  g_autoptr(GDateTime) due = g_date_time_to_timezone(row->due_at,
                                                     g_date_time_get_timezone(now));
  g_autofree char *due_day = g_date_time_format(due, "%F");
  g_autofree char *today = g_date_time_format(now, "%F");
  gboolean overdue = g_date_time_compare(due, now) < 0;
  if (!overdue && g_strcmp0(due_day, today) != 0)
    return NULL;
  g_autofree char *when = word_format_when(due, now);
  return g_strdup_printf("%s: you told %s (due %s): \"%s\" (thread %" G_GINT64_FORMAT
                         ", \"%s\"; promise %" G_GINT64_FORMAT ")",
                         overdue ? "OVERDUE" : "today", row->client ? row->client : "a client",
                         when, row->text, row->thread_id, row->subject, row->id);
}

static gboolean digest_word_promises(Store *store, const KeelConfig *config, Digest *digest,
                                     GError **error)
{
  g_autoptr(GPtrArray) rows = store_promise_list(store, TRUE, 0, error);
  if (!rows)
    return FALSE;
  for (guint i = 0; i < rows->len; i++) {
    char *line = digest_word_promise(config, rows->pdata[i], digest->now);
    if (line)
      g_ptr_array_add(digest->word, line);
  }
  return TRUE;
}

static gboolean digest_word_probably_done(Store *store, const KeelConfig *config,
                                          Digest *digest, GError **error)
{
  g_autoptr(GPtrArray) rows = store_instruction_list(store, TRUE, NULL, error);
  if (!rows)
    return FALSE;
  for (guint i = 0; i < rows->len; i++) {
    const StoreInstructionRow *row = rows->pdata[i];
    if (!row->probably_done || g_date_time_compare(row->probably_done, digest->now) > 0)
      continue; /* as of `now`: her reply came after it */
    const KeelClient *client = config ? config_client_by_name(config, row->client_id) : NULL;
    g_ptr_array_add(digest->word, g_strdup_printf(
      "probably done (your reply said so): ID %" G_GINT64_FORMAT " %s: %s (keel instruction "
      "done %" G_GINT64_FORMAT " to confirm, reopen %" G_GINT64_FORMAT " if not)", row->id,
      client ? client->name : row->client_id ? row->client_id : "(note)", row->text, row->id,
      row->id));
  }
  return TRUE;
}

/* Holding drafts keel put in her Drafts folder since the last digest. */
static gboolean digest_word_holding(Store *store, Digest *digest, GError **error)
{
  g_autoptr(GPtrArray) rows = store_outbox_list(store, NULL, error);
  if (!rows)
    return FALSE;
  g_autoptr(GDateTime) day_ago = g_date_time_add_days(digest->now, -1);
  GDateTime *since = digest->since ? digest->since : day_ago;
  for (guint i = 0; i < rows->len; i++) {
    const StoreOutboxRow *row = rows->pdata[i];
    if (g_strcmp0(row->kind, "holding") == 0 && g_date_time_compare(row->created, since) >= 0)
      g_ptr_array_add(digest->word, g_strdup_printf(
        "a calm holding draft waits in your Drafts folder for %s: \"%s\" (read it, choose, "
        "send it yourself)", row->rcpt, row->subject));
  }
  return TRUE;
}

gboolean digest_gather_word(Store *store, const KeelConfig *config, Digest *digest,
                            GError **error)
{
  return digest_word_promises(store, config, digest, error)
         && digest_word_probably_done(store, config, digest, error)
         && digest_word_holding(store, digest, error);
}
