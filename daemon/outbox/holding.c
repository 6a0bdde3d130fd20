/* daemon/outbox/holding.c: the calm holding draft for a thread that turned
 * risky (see holding.h).
 *
 * How it works: when a live message from a client makes its thread risky,
 * holding_after_ingest() gathers the facts from the store (each instruction
 * of the thread with when it was given and its deadline, the confirmations
 * keel sent or drafted in it, and the first words of the message itself),
 * works out the end of the VA's next business half-day, renders
 * rules/templates/holding.txt and queues the message as kind "holding". The
 * sender (outbox-send.c) always drafts that kind: it is never sent.
 *
 * Must not: send anything, read the clock (`now` is given), or draft for
 * history, automated mail or a thread that already has a fresh draft.
 */
#include "daemon/outbox/holding.h"

#include <string.h>
#include "daemon/outbox/outbox.h"
#include "daemon/outbox/replies.h"
#include "daemon/record/trail.h"
#include "daemon/store/store-word.h"

#define HOLDING_WINDOW_HOURS 24
#define HOLDING_QUOTE_CHARS 160

char *holding_format_time(GDateTime *when)
{
  static const char *const months[] = { "January", "February", "March", "April", "May",
                                        "June", "July", "August", "September", "October",
                                        "November", "December" };
  /* No weekday: the deadline rules read "Monday 9 March" sent on Monday 9
   * March as the Monday after. */
  return g_strdup_printf("%02d:%02d on %d %s", g_date_time_get_hour(when),
                         g_date_time_get_minute(when), g_date_time_get_day_of_month(when),
                         months[g_date_time_get_month(when) - 1]);
}

/* The local time `minutes` after midnight of the day `days` after `local`. */
static GDateTime *holding_day_at(GDateTime *local, int days, guint minutes)
{
  g_autoptr(GDateTime) day = g_date_time_add_days(local, days);
  return g_date_time_new(g_date_time_get_timezone(local), g_date_time_get_year(day),
                         g_date_time_get_month(day), g_date_time_get_day_of_month(day),
                         (int)(minutes / 60), (int)(minutes % 60), 0);
}

GDateTime *holding_update_by(GDateTime *now, const KeelBusinessHours *hours, GTimeZone *zone)
{
  g_autoptr(GDateTime) local = g_date_time_to_timezone(now, zone);
  guint midday = (hours->start_min + hours->end_min) / 2;
  for (int days = 0; days < 14; days++) {
    g_autoptr(GDateTime) probe = g_date_time_add_days(local, days);
    if (hours->days && !(hours->days & (1u << (g_date_time_get_day_of_week(probe) - 1))))
      continue;
    const guint ends[] = { midday, hours->end_min };
    for (gsize i = 0; i < G_N_ELEMENTS(ends); i++) {
      GDateTime *end = holding_day_at(local, days, ends[i]);
      if (g_date_time_compare(end, local) > 0)
        return end;
      g_date_time_unref(end);
    }
  }
  return g_date_time_add_days(local, 1);
}

/* One line per instruction of the thread: what was asked and when. */
static gboolean holding_instruction_facts(Store *store, const HoldingIngest *in, GString *out,
                                          GError **error)
{
  g_autoptr(GPtrArray) rows = store_instruction_list(store, FALSE, in->client->id, error);
  if (!rows)
    return FALSE;
  for (guint i = rows->len; i > 0; i--) {
    const StoreInstructionRow *row = rows->pdata[i - 1];
    if (row->thread_id != in->thread_id || g_strcmp0(row->status, "cancelled") == 0)
      continue;
    g_autofree char *asked = replies_human_date(row->created);
    g_string_append_printf(out, "- On %s you asked: %s", asked, row->text);
    if (row->deadline)
      g_string_append_printf(out, " (deadline %s)", row->deadline);
    g_string_append_c(out, '\n');
  }
  return TRUE;
}

/* One line per confirmation keel sent or drafted in the thread. */
static gboolean holding_confirmation_facts(Store *store, const HoldingIngest *in, GString *out,
                                           GError **error)
{
  g_autoptr(GPtrArray) rows = store_outbox_list(store, NULL, error);
  if (!rows)
    return FALSE;
  for (guint i = 0; i < rows->len; i++) {
    const StoreOutboxRow *row = rows->pdata[i];
    if (row->thread_id != in->thread_id || g_strcmp0(row->kind, "confirm") != 0
        || g_strcmp0(row->state, "sent") != 0)
      continue;
    g_autofree char *when = replies_human_date(row->created);
    g_string_append_printf(out, "- On %s I confirmed this in writing (\"%s\").\n", when,
                           row->subject);
  }
  return TRUE;
}

/* The facts block: the trail's instructions and confirmations, then the
 * first words of the message being answered. New string or NULL. */
static char *holding_facts(Store *store, const HoldingIngest *in, GError **error)
{
  g_autoptr(GString) out = g_string_new(NULL);
  if (!holding_instruction_facts(store, in, out, error)
      || !holding_confirmation_facts(store, in, out, error))
    return NULL;
  g_autofree char *when = replies_human_date(in->message->date);
  g_autofree char *text = g_strdup(in->message->new_text ? in->message->new_text : "");
  g_strdelimit(g_strstrip(text), "\r\n", ' ');
  gboolean long_text = g_utf8_strlen(text, -1) > HOLDING_QUOTE_CHARS;
  g_autofree char *head = long_text ? g_utf8_substring(text, 0, HOLDING_QUOTE_CHARS) : NULL;
  g_autofree char *cut = long_text ? g_strconcat(head, "…", NULL) : g_strdup(text);
  g_string_append_printf(out, "- On %s you wrote: \"%s\"", when, cut);
  return g_strdup(out->str);
}

/* The first word of the sender's display name, else of the client's name. */
static char *holding_first_name(const HoldingIngest *in)
{
  const char *name = in->message->from && in->message->from->name && in->message->from->name[0]
    ? in->message->from->name : in->client->name;
  g_auto(GStrv) words = g_strsplit(name ? name : "", " ", 2);
  return g_strdup(words[0] && words[0][0] ? words[0] : "there");
}

/* The draft's text from rules/templates/holding.txt. NULL with `error`. */
static char *holding_body(Store *store, const HoldingIngest *in, GError **error)
{
  g_autofree char *template_text = outbox_read_template(in->config, "holding.txt", FALSE, error);
  g_autofree char *signature = template_text
    ? outbox_read_template(in->config, "signature.txt", TRUE, error) : NULL;
  g_autofree char *facts = signature ? holding_facts(store, in, error) : NULL;
  if (!facts)
    return NULL;
  g_strchomp(signature);
  g_autoptr(GTimeZone) zone = g_time_zone_new_identifier(in->config->timezone);
  if (!zone)
    zone = g_time_zone_new_utc();
  g_autoptr(GDateTime) by = holding_update_by(in->now, &in->config->business_hours, zone);
  g_autofree char *update_by = holding_format_time(by);
  g_autofree char *first_name = holding_first_name(in);
  g_autoptr(GHashTable) vars = g_hash_table_new(g_str_hash, g_str_equal);
  g_hash_table_insert(vars, "first_name", first_name);
  g_hash_table_insert(vars, "client_name", in->client->name);
  g_hash_table_insert(vars, "facts", facts);
  g_hash_table_insert(vars, "update_by", update_by);
  g_hash_table_insert(vars, "subject", (char *)(in->message->subject ? in->message->subject : ""));
  g_hash_table_insert(vars, "signature", signature);
  return replies_render(template_text, "holding.txt", vars, error);
}

/* Builds and inserts the draft row with its trail event. 0 on error. */
static gint64 holding_queue(Store *store, const HoldingIngest *in, const char *body,
                            GError **error)
{
  const KeelAccount *account = in->account ? in->account : in->config->accounts->pdata[0];
  g_autofree char *subject = replies_subject(in->message->subject);
  g_autofree char *message_id = replies_new_message_id(account->user);
  g_autoptr(GTimeZone) zone = g_time_zone_new_identifier(in->config->timezone);
  g_autoptr(GDateTime) date = zone ? g_date_time_to_timezone(in->now, zone)
                                   : g_date_time_ref(in->now);
  ReplySpec spec = { .from_address = account->user, .to_name = in->message->from->name,
                     .to_address = in->message->from->address, .subject = subject,
                     .in_reply_to = in->message->message_id,
                     .references = in->message->references, .body = body, .date = date,
                     .auto_submitted = NULL };
  g_autoptr(GBytes) raw = replies_build(&spec, message_id, error);
  if (!raw)
    return 0;
  StoreOutboxRow row = { .account = account->name, .kind = "holding",
                         .client_id = in->client->id, .thread_id = in->thread_id,
                         .message_id = message_id, .mail_from = account->user,
                         .rcpt = in->message->from->address, .subject = subject, .raw = raw,
                         .state = "queued", .created = in->now };
  gint64 id = store_outbox_insert(store, &row, error);
  g_autofree char *detail = g_strdup_printf("calm holding draft queued for %s (never sent): "
                                            "\"%s\"", in->message->from->address, subject);
  TrailEntry entry = { .kind = "holding_queued", .client_id = in->client->id,
                       .thread_id = in->thread_id, .message_id = message_id, .ref_id = id,
                       .detail = detail, .at = in->now };
  return id != 0 && trail_append(store, &entry, NULL, error) ? id : 0;
}

/* Whether `in` gets a draft (before looking at the store). */
static gboolean holding_wanted(const HoldingIngest *in)
{
  return in->config && in->config->replies_holding_drafts && in->client && in->risky
         && !in->first_sync && !in->message->automated && !in->message->malformed
         && in->message->from && in->config->accounts->len > 0 && in->thread_id > 0;
}

gboolean holding_after_ingest(Store *store, const HoldingIngest *in, gint64 *outbox_id,
                              GError **error)
{
  if (outbox_id)
    *outbox_id = 0;
  if (!holding_wanted(in))
    return TRUE;
  g_autoptr(GDateTime) since = g_date_time_add_hours(in->now, -HOLDING_WINDOW_HOURS);
  gint64 recent = store_outbox_count_thread(store, in->thread_id, "holding", since, error);
  if (recent != 0)
    return recent > 0;
  g_autoptr(GError) local = NULL;
  g_autofree char *body = holding_body(store, in, &local);
  gint64 id = body ? holding_queue(store, in, body, &local) : 0;
  if (id == 0 && local && local->domain == KEEL_STORE_ERROR) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  if (id == 0)
    g_warning("message <%s>: no holding draft: %s", in->message->message_id,
              local ? local->message : "unknown reason");
  if (outbox_id)
    *outbox_id = id;
  return TRUE;
}
