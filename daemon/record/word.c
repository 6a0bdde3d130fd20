/* daemon/record/word.c: keeping the VA's word (see word.h).
 *
 * How it works: for each message she sends in a client's thread, the pure
 * core reads her new text (promises_read) in the client's calendar. Then, in
 * order: her earlier open promises in the thread are closed (a message that
 * delivers keeps them, one that updates or promises again updates them); the
 * thread's open instructions given before it are marked probably done when
 * it delivers, or when it carries an attachment and the instruction asks for
 * a file; its own promises are recorded. Every change is a trail event
 * (promise, promise_kept, promise_updated, instruction_probably_done), so the
 * record says why an item left the digest.
 *
 * Must not: read the clock (times come from the message or the caller), send
 * or draft mail, or look at mail from clients for promises.
 */
#include "daemon/record/word.h"

#include <stdio.h>
#include "daemon/record/trail.h"

PromiseRules *word_load_rules(const char *rules_dir, GError **error)
{
  g_autofree char *ppath = g_build_filename(rules_dir, "promises.rules", NULL);
  g_autofree char *dpath = g_build_filename(rules_dir, "deadlines.rules", NULL);
  g_autofree char *ptext = NULL, *dtext = NULL;
  if (!g_file_get_contents(ppath, &ptext, NULL, error)
      || !g_file_get_contents(dpath, &dtext, NULL, error))
    return NULL;
  return promise_rules_compile(ptext, ppath, dtext, dpath, error);
}

/* One trail event about `in`'s thread. */
static gboolean word_event(Store *store, const WordMessage *in, const char *kind, gint64 ref,
                           const char *detail, GError **error)
{
  TrailEntry entry = { .kind = kind, .client_id = in->client->id,
                       .thread_id = in->thread_id, .message_id = in->message->message_id,
                       .ref_id = ref, .detail = detail, .at = in->message->date };
  return trail_append(store, &entry, NULL, error);
}

static gboolean word_close_promises(Store *store, const WordMessage *in,
                                    const PromiseReading *reading, GError **error)
{
  if (!reading->delivers && !reading->updates && reading->promises->len == 0)
    return TRUE;
  g_autoptr(GPtrArray) open = store_promise_list(store, TRUE, in->thread_id, error);
  if (!open)
    return FALSE;
  const char *status = reading->delivers ? "kept" : "updated";
  for (guint i = 0; i < open->len; i++) {
    const StorePromiseRow *row = open->pdata[i];
    if (g_date_time_compare(row->created, in->message->date) > 0)
      continue;
    g_autofree char *kind = g_strconcat("promise_", status, NULL);
    g_autofree char *detail = g_strdup_printf("promise %" G_GINT64_FORMAT " %s by a later "
                                              "message: %s", row->id, status, row->text);
    if (!store_promise_close(store, row->id, status, in->message->message_id, in->message->date,
                             error)
        || !word_event(store, in, kind, row->id, detail, error))
      return FALSE;
  }
  return TRUE;
}

/* The lower-cased words of `text` of four letters or more. */
static GHashTable *word_long_words(const char *text)
{
  GHashTable *words = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *lower = g_utf8_strdown(text, -1);
  g_auto(GStrv) parts = g_regex_split_simple("[^[:alpha:]]+", lower, 0, 0);
  for (char **p = parts; *p; p++)
    if (g_utf8_strlen(*p, -1) >= 4)
      g_hash_table_add(words, g_strdup(*p));
  return words;
}

/* TRUE when one of her new promises shares two long words with `text`: the
 * task is promised in this message, not done by it. */
static gboolean word_promised_instead(const PromiseReading *reading, const char *text)
{
  g_autoptr(GHashTable) task = word_long_words(text);
  for (guint i = 0; i < reading->promises->len; i++) {
    g_autoptr(GHashTable) promise = word_long_words(
      ((const Promise *)reading->promises->pdata[i])->text);
    guint shared = 0;
    GHashTableIter iter;
    gpointer key;
    g_hash_table_iter_init(&iter, promise);
    while (g_hash_table_iter_next(&iter, &key, NULL))
      shared += g_hash_table_contains(task, key);
    if (shared >= 2)
      return TRUE;
  }
  return FALSE;
}

/* Whether her message does the work of instruction `row`: it delivers (and
 * does not promise that very task instead), or carries an attachment after
 * a request for a file. */
static gboolean word_does(const WordMessage *in, const PromiseReading *reading,
                          const StoreInstructionRow *row)
{
  if (word_promised_instead(reading, row->text))
    return FALSE;
  if (reading->delivers)
    return TRUE;
  gboolean attached = in->message->attachments && in->message->attachments->len > 0;
  return attached && promises_asks_for_file(in->rules, row->text);
}

static gboolean word_mark_done(Store *store, const WordMessage *in,
                               const PromiseReading *reading, GError **error)
{
  g_autoptr(GPtrArray) open = store_instructions_open_in_thread(store, in->thread_id,
                                                                in->message->date, error);
  if (!open)
    return FALSE;
  for (guint i = 0; i < open->len; i++) {
    const StoreInstructionRow *row = open->pdata[i];
    if (!word_does(in, reading, row))
      continue;
    g_autofree char *detail = g_strdup_printf("instruction %" G_GINT64_FORMAT " probably done "
                                              "(her reply says so): %s", row->id, row->text);
    if (!store_instruction_set_probably_done(store, row->id, in->message->message_id,
                                             in->message->date, error)
        || !word_event(store, in, "instruction_probably_done", row->id, detail, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean word_record_promise(Store *store, const WordMessage *in, const Promise *promise,
                                    GError **error)
{
  StorePromiseRow row = { .message_row = in->row_id,
                          .message_id = (char *)in->message->message_id,
                          .client_id = in->client->id, .thread_id = in->thread_id,
                          .text = promise->text, .due = promise->due_iso,
                          .due_at = promise->due, .history = in->first_sync,
                          .created = in->message->date };
  gint64 id = store_promise_add(store, &row, error);
  if (id == 0)
    return FALSE;
  g_autofree char *detail = g_strdup_printf("you promised %s: %s (due: %s)", in->client->name,
                                            promise->text,
                                            promise->due_iso ? promise->due_iso : "no time");
  return word_event(store, in, "promise", id, detail, error);
}

gboolean word_after_message(Store *store, const WordMessage *in, GError **error)
{
  if (!in->outgoing || !in->rules || !in->client || !in->config || !in->message->new_text)
    return TRUE;
  InstructionContext ctx;
  g_autoptr(GTimeZone) zone = NULL;
  trail_instruction_context(in->config, in->client, &ctx, &zone);
  g_autoptr(PromiseReading) reading = promises_read(in->rules, in->message->new_text,
                                                    in->message->date, &ctx.dates);
  if (!word_close_promises(store, in, reading, error) || !word_mark_done(store, in, reading, error))
    return FALSE;
  for (guint i = 0; i < reading->promises->len; i++)
    if (!word_record_promise(store, in, reading->promises->pdata[i], error))
      return FALSE;
  return TRUE;
}

/* Inside a transaction: the change and its event. */
static gboolean word_instruction_locked(Store *store, const StoreInstructionRow *row,
                                        const char *status, GDateTime *now, GError **error)
{
  gboolean reopen = g_strcmp0(status, "open") == 0;
  if (!store_instruction_set_status(store, row->id, status, error)
      || (reopen && !store_instruction_set_probably_done(store, row->id, NULL, NULL, error)))
    return FALSE;
  g_autofree char *detail = g_strdup_printf("instruction %" G_GINT64_FORMAT " %s by the VA "
                                            "(was %s%s): %s", row->id,
                                            reopen ? "reopened" : status, row->status,
                                            row->probably_done ? ", probably done" : "",
                                            row->text);
  g_autofree char *kind = g_strconcat("instruction_", reopen ? "reopened" : status, NULL);
  TrailEntry entry = { .kind = kind, .client_id = row->client_id, .thread_id = row->thread_id,
                       .message_id = row->message_id, .ref_id = row->id, .detail = detail,
                       .at = now };
  return trail_append(store, &entry, NULL, error);
}

gboolean word_instruction_set(Store *store, gint64 id, const char *status, GDateTime *now,
                              char **text, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autoptr(StoreInstructionRow) row = store_instruction_get(store, id, &local);
  if (!row) {
    if (local)
      g_propagate_error(error, g_steal_pointer(&local));
    else
      g_set_error(error, KEEL_TRAIL_ERROR, KEEL_TRAIL_ERROR_NOT_FOUND,
                  "no instruction %" G_GINT64_FORMAT " (see keel instruction list)", id);
    return FALSE;
  }
  if (!store_begin(store, error))
    return FALSE;
  if (!word_instruction_locked(store, row, status, now, error)) {
    store_rollback(store);
    return FALSE;
  }
  if (text)
    *text = g_strdup(row->text);
  return store_commit(store, error);
}

gboolean word_thread_handled(Store *store, gint64 thread_id, GDateTime *now, GDateTime *until,
                             GError **error)
{
  if (!store_begin(store, error))
    return FALSE;
  gboolean found = FALSE;
  g_autofree char *until_text = until ? g_date_time_format_iso8601(until) : NULL;
  g_autofree char *detail = g_strdup_printf("thread %" G_GINT64_FORMAT " marked handled "
                                            "until %s", thread_id,
                                            until_text ? until_text : "new client mail");
  TrailEntry entry = { .kind = "thread_handled", .thread_id = thread_id, .detail = detail,
                       .at = now };
  if (!store_thread_set_handled_until(store, thread_id, now, until, &found, error)
      || (found && !trail_append(store, &entry, NULL, error))) {
    store_rollback(store);
    return FALSE;
  }
  if (!found) {
    store_rollback(store);
    g_set_error(error, KEEL_TRAIL_ERROR, KEEL_TRAIL_ERROR_NOT_FOUND,
                "no thread %" G_GINT64_FORMAT " (see keel thread list)", thread_id);
    return FALSE;
  }
  return store_commit(store, error);
}

gboolean word_history_listed(gboolean history, GDateTime *date, GDateTime *now,
                             guint window_days)
{
  if (!history)
    return TRUE;
  if (!date || !now)
    return FALSE;
  g_autoptr(GDateTime) since = g_date_time_add_days(now, -(gint)window_days);
  return g_date_time_compare(date, since) >= 0;
}

char *word_format_when(GDateTime *when, GDateTime *now)
{
  if (!when)
    return g_strdup("?");
  gboolean other_year = now && g_date_time_get_year(when) != g_date_time_get_year(now);
  return g_date_time_format(when, other_year ? "%a %-d %b %Y %H:%M" : "%a %-d %b %H:%M");
}

char *word_format_deadline(const char *deadline, GDateTime *now)
{
  int y, mo, d, h, mi;
  if (!deadline || sscanf(deadline, "%4d-%2d-%2dT%2d:%2d", &y, &mo, &d, &h, &mi) != 5)
    return g_strdup(deadline ? deadline : "?");
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
  g_autoptr(GDateTime) local = g_date_time_new(utc, y, mo, d, h, mi, 0);
  return local ? word_format_when(local, now) : g_strdup(deadline);
}
