/* daemon/outbox/outbox.c: the outbox, from queueing a confirmation to sending it
 * exactly once.
 *
 * Queueing happens inside the transaction of whatever caused the reply (the
 * pipeline's, for a client message): the message is built once, there, with
 * its Message-ID and Date, so every later attempt sends the same bytes.
 *
 * Sending follows "record the intent, then the side effect": a row is
 * CLAIMED (committed) by one sender, moved to SENDING (committed) right
 * before SMTP or the APPEND to Drafts starts, to UNFILED after
 * SMTP's 250 and before keel APPENDs its copy to Sent, and to SENT/DRAFTED
 * last. A crash leaves a state that says what to check (outbox-send.c):
 * CLAIMED was handed to no server and is queued again; SENDING is looked up by Message-ID in Sent (auto) or Drafts (review);
 * a message to a client that is not found there is UNCERTAIN, never sent
 * again on a guess: the digest tells the VA and `keel outbox retry ID` is
 * her decision. UNFILED gets its copy filed.
 *
 * The allowed state moves are listed in outbox.h and enforced by
 * outbox_move_allowed(); every move goes through outbox_move(), which also
 * writes the trail event.
 *
 * Must not: decide whether to reply (filters/confirm.c does), log bodies or
 * passwords.
 */
#include <string.h>
#include <unistd.h>
#include "daemon/mail/imap-writer.h"
#include "daemon/outbox/outbox.h"
#include "daemon/outbox/replies.h"
#include "daemon/mail/smtp.h"
#include "daemon/record/trail.h"
#include "filters/instructions.h"

G_DEFINE_QUARK(keel-outbox-error-quark, keel_outbox_error)

#define OUTBOX_FIRST_RETRY (G_TIME_SPAN_MINUTE)
#define OUTBOX_MAX_RETRY (6 * G_TIME_SPAN_HOUR)

static const char *const outbox_state_names[] = {
  [OUTBOX_QUEUED] = "queued", [OUTBOX_CLAIMED] = "claimed", [OUTBOX_SENDING] = "sending",
  [OUTBOX_UNFILED] = "unfiled",
  [OUTBOX_SENT] = "sent", [OUTBOX_DRAFTED] = "drafted", [OUTBOX_TEMPFAIL] = "tempfail",
  [OUTBOX_FAILED] = "failed", [OUTBOX_UNCERTAIN] = "uncertain",
  [OUTBOX_CANCELLED] = "cancelled",
};

const char *outbox_state_name(OutboxState state)
{
  return state < G_N_ELEMENTS(outbox_state_names) ? outbox_state_names[state] : "?";
}

gboolean outbox_state_parse(const char *name, OutboxState *state)
{
  for (gsize i = 0; i < G_N_ELEMENTS(outbox_state_names); i++)
    if (g_strcmp0(name, outbox_state_names[i]) == 0) {
      *state = (OutboxState)i;
      return TRUE;
    }
  return FALSE;
}

gboolean outbox_move_allowed(OutboxState from, OutboxState to)
{
  switch (from) {
  case OUTBOX_QUEUED:
  case OUTBOX_TEMPFAIL:
    return to == OUTBOX_CLAIMED || to == OUTBOX_CANCELLED;
  case OUTBOX_CLAIMED:
    return to == OUTBOX_SENDING || to == OUTBOX_QUEUED || to == OUTBOX_TEMPFAIL
           || to == OUTBOX_FAILED;
  case OUTBOX_SENDING:
    return to == OUTBOX_SENT || to == OUTBOX_UNFILED || to == OUTBOX_DRAFTED
           || to == OUTBOX_TEMPFAIL || to == OUTBOX_FAILED || to == OUTBOX_QUEUED
           || to == OUTBOX_UNCERTAIN;
  case OUTBOX_UNFILED:
    return to == OUTBOX_SENT;
  case OUTBOX_FAILED:
  case OUTBOX_UNCERTAIN:
    return to == OUTBOX_QUEUED || to == OUTBOX_CANCELLED;
  default:
    return FALSE;
  }
}

GTimeSpan outbox_retry_delay(int attempts)
{
  GTimeSpan delay = OUTBOX_FIRST_RETRY;
  for (int i = 1; i < attempts && delay < OUTBOX_MAX_RETRY; i++)
    delay *= 2;
  return MIN(delay, OUTBOX_MAX_RETRY);
}

/* The trail event a move records, or NULL when the move is bookkeeping
 * (a claim, or filing the Sent copy of a message already recorded as sent). */
static const char *outbox_event_kind(OutboxState from, OutboxState to)
{
  switch (to) {
  case OUTBOX_SENT: return from == OUTBOX_UNFILED ? NULL : "confirmation_sent";
  case OUTBOX_UNFILED: return "confirmation_sent";
  case OUTBOX_DRAFTED: return "confirmation_drafted";
  case OUTBOX_TEMPFAIL: return "confirmation_delayed";
  case OUTBOX_FAILED: return "confirmation_failed";
  case OUTBOX_QUEUED: return "confirmation_requeued";
  case OUTBOX_UNCERTAIN: return "confirmation_uncertain";
  case OUTBOX_CANCELLED: return "confirmation_cancelled";
  default: return NULL;
  }
}

static gboolean outbox_record_move(Store *store, const StoreOutboxRow *row, OutboxState from,
                                   OutboxState to, const char *last_error, GDateTime *now,
                                   GError **error)
{
  const char *kind = outbox_event_kind(from, to);
  if (!kind)
    return TRUE;
  g_autofree char *detail = g_strdup_printf("outbox %" G_GINT64_FORMAT " to %s, \"%s\": %s%s%s",
                                            row->id, row->rcpt, row->subject,
                                            outbox_state_name(to), last_error ? ": " : "",
                                            last_error ? last_error : "");
  TrailEntry entry = { .kind = kind, .client_id = row->client_id, .thread_id = row->thread_id,
                       .message_id = row->message_id, .ref_id = row->id, .detail = detail,
                       .at = now };
  return trail_append(store, &entry, NULL, error);
}

static gboolean outbox_move_locked(Store *store, const StoreOutboxRow *row, OutboxState from,
                                   OutboxState to, int attempts, GDateTime *next_attempt,
                                   const char *last_error, GDateTime *now, GError **error)
{
  gboolean moved = FALSE;
  if (!store_outbox_move(store, row->id, outbox_state_name(from), outbox_state_name(to),
                         attempts, next_attempt, last_error, now, &moved, error))
    return FALSE;
  if (!moved) {
    g_set_error(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_STATE,
                "outbox %" G_GINT64_FORMAT " is no longer %s (another keel moved it)", row->id,
                outbox_state_name(from));
    return FALSE;
  }
  return outbox_record_move(store, row, from, to, last_error, now, error);
}

gboolean outbox_move(Store *store, const StoreOutboxRow *row, OutboxState to, int attempts,
                     GDateTime *next_attempt, const char *last_error, GDateTime *now,
                     GError **error)
{
  OutboxState from;
  if (!outbox_state_parse(row->state, &from) || !outbox_move_allowed(from, to)) {
    g_set_error(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_STATE,
                "outbox %" G_GINT64_FORMAT ": %s -> %s is not an allowed move", row->id,
                row->state, outbox_state_name(to));
    return FALSE;
  }
  if (!store_begin(store, error))
    return FALSE;
  if (!outbox_move_locked(store, row, from, to, attempts, next_attempt, last_error, now,
                          error)) {
    store_rollback(store);
    return FALSE;
  }
  return store_commit(store, error);
}

/* The row `id`, or NULL with KEEL_OUTBOX_ERROR_NOT_FOUND. */
static StoreOutboxRow *outbox_get(Store *store, gint64 id, GError **error)
{
  GError *local = NULL;
  StoreOutboxRow *row = store_outbox_get(store, id, &local);
  if (!row && !local)
    g_set_error(&local, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_NOT_FOUND,
                "no outbox row %" G_GINT64_FORMAT " (keel outbox lists them)", id);
  if (local)
    g_propagate_error(error, local);
  return row;
}

gboolean outbox_retry(Store *store, gint64 id, GDateTime *now, GError **error)
{
  g_autoptr(StoreOutboxRow) row = outbox_get(store, id, error);
  if (!row)
    return FALSE;
  OutboxState state = OUTBOX_QUEUED;
  if (!outbox_state_parse(row->state, &state)
      || (state != OUTBOX_FAILED && state != OUTBOX_UNCERTAIN)) {
    g_set_error(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_STATE,
                "outbox %" G_GINT64_FORMAT " is %s: only a failed or uncertain message is sent "
                "again by hand", id, row->state);
    return FALSE;
  }
  return outbox_move(store, row, OUTBOX_QUEUED, 0, NULL, NULL, now, error);
}

gboolean outbox_cancel(Store *store, gint64 id, GDateTime *now, GError **error)
{
  g_autoptr(StoreOutboxRow) row = outbox_get(store, id, error);
  if (!row)
    return FALSE;
  return outbox_move(store, row, OUTBOX_CANCELLED, row->attempts, NULL, "cancelled by the VA",
                     now, error);
}

/* ---- queueing ---------------------------------------------------------- */

/* ReplyItems over the Instruction*s (borrowed). */
static GPtrArray *outbox_reply_items(GPtrArray *instructions)
{
  GPtrArray *items = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; instructions && i < instructions->len; i++) {
    const Instruction *instruction = instructions->pdata[i];
    ReplyItem *item = g_new0(ReplyItem, 1);
    item->text = instruction->text;
    item->deadline = instruction->deadline;
    item->asap = instruction->urgency_hint > 0;
    g_ptr_array_add(items, item);
  }
  return items;
}

/* `now` in the zone named `timezone` (the VA's), for the Date header; UTC
 * when the name is NULL or unknown. */
static GDateTime *outbox_local_date(GDateTime *now, const char *timezone)
{
  g_autoptr(GTimeZone) zone = timezone ? g_time_zone_new_identifier(timezone) : NULL;
  if (!zone)
    zone = g_time_zone_new_utc();
  return g_date_time_to_timezone(now, zone);
}

/* The message bytes of `c`, with the new Message-ID in `*message_id`. */
static GBytes *outbox_build_confirmation(const OutboxConfirmation *c, char **subject,
                                         char **message_id, GError **error)
{
  g_autoptr(GPtrArray) items = outbox_reply_items(c->instructions);
  g_autofree char *body = replies_confirmation_body(c->template_text, c->template_name,
                                                    c->client_name, c->subject, items,
                                                    c->voice, error);
  if (!body)
    return NULL;
  *subject = c->is_reply ? replies_subject(c->subject) : replies_clean_value(c->subject);
  *message_id = replies_new_message_id(c->account->user);
  g_autoptr(GDateTime) date = outbox_local_date(c->now, c->timezone);
  ReplySpec spec = {
    .from_name = c->voice ? c->voice->va_name : NULL, .from_address = c->account->user,
    .to_name = c->voice ? c->voice->to_name : c->client_name,
    .to_address = c->to_address, .subject = *subject,
    .in_reply_to = c->is_reply ? c->in_reply_to : NULL,
    .references = c->is_reply ? c->references : NULL, .body = body, .date = date,
    .auto_submitted = c->is_reply ? "auto-replied" : "auto-generated",
  };
  return replies_build(&spec, *message_id, error);
}

/* Links and trail event of a queued confirmation (inside the transaction). */
static gboolean outbox_record_queued(Store *store, const OutboxConfirmation *c, gint64 id,
                                     const char *message_id, const char *subject,
                                     GError **error)
{
  for (guint i = 0; c->instruction_ids && i < c->instruction_ids->len; i++)
    if (!store_confirmation_link(store, id, g_array_index(c->instruction_ids, gint64, i), error))
      return FALSE;
  g_autofree char *detail = g_strdup_printf("confirmation of %u instruction(s) queued for %s: "
                                            "\"%s\"", c->instructions ? c->instructions->len : 0,
                                            c->to_address, subject);
  TrailEntry entry = { .kind = "confirmation_queued", .client_id = c->client_id,
                       .thread_id = c->thread_id, .message_id = message_id, .ref_id = id,
                       .detail = detail, .at = c->now };
  return trail_append(store, &entry, NULL, error);
}

static gint64 outbox_queue_locked(Store *store, const OutboxConfirmation *c, GError **error)
{
  g_autofree char *subject = NULL, *message_id = NULL;
  g_autoptr(GBytes) raw = outbox_build_confirmation(c, &subject, &message_id, error);
  if (!raw)
    return 0;
  StoreOutboxRow row = {
    .account = c->account->name, .kind = "confirm", .client_id = (char *)c->client_id,
    .thread_id = c->thread_id, .message_id = message_id, .mail_from = c->account->user,
    .rcpt = (char *)c->to_address, .subject = subject, .raw = raw, .state = (char *)outbox_state_name(OUTBOX_QUEUED),
    .created = c->now,
  };
  gint64 id = store_outbox_insert(store, &row, error);
  if (id == 0 || !outbox_record_queued(store, c, id, message_id, subject, error))
    return 0;
  return id;
}

gint64 outbox_queue_confirmation(Store *store, const OutboxConfirmation *confirmation,
                                 GError **error)
{
  if (!store_begin(store, error))
    return 0;
  gint64 id = outbox_queue_locked(store, confirmation, error);
  if (id == 0) {
    store_rollback(store);
    g_prefix_error(error, "queueing a confirmation: ");
    return 0;
  }
  return store_commit(store, error) ? id : 0;
}

char *outbox_read_template(const KeelConfig *config, const char *name, gboolean optional,
                           GError **error)
{
  g_autofree char *path = g_build_filename(config->rules, "templates", name, NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) local = NULL;
  if (g_file_get_contents(path, &text, NULL, &local))
    return g_steal_pointer(&text);
  if (optional && g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    return g_strdup("");
  g_set_error(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_TEMPLATE,
              "cannot read the reply template %s: %s", path, local->message);
  return NULL;
}

gint64 outbox_confirm_note(Store *store, const KeelConfig *config, const KeelAccount *account,
                           const KeelClient *client, const char *note, const char *subject,
                           GPtrArray *instructions, GDateTime *now, GError **error)
{
  if (!account && config->accounts->len == 0) {
    g_set_error(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_ACCOUNT,
                "no account to send a confirmation through");
    return 0;
  }
  TrailEntry event = { .kind = "note", .client_id = client->id, .detail = note, .at = now };
  TrailSource source = { .client_id = client->id, .from = "phone call (VA's note)", .at = now };
  if (!trail_append(store, &event, NULL, error))
    return 0;
  g_autoptr(GArray) ids = trail_record_instructions(store, &source, instructions, error);
  g_autofree char *template_text = ids ? outbox_read_template(config, "confirm.txt", FALSE,
                                                              error) : NULL;
  if (!account)
    account = config->accounts->pdata[0];
  g_autoptr(ReplyVoice) voice = template_text
    ? replies_voice_new(account, client, NULL, config->rules, error) : NULL;
  if (!voice)
    return 0;
  OutboxConfirmation c = {
    .account = account, .client_id = client->id,
    .client_name = client->name, .to_address = config_client_address(client),
    .subject = subject, .instructions = instructions, .instruction_ids = ids,
    .template_text = template_text, .template_name = "confirm.txt", .voice = voice,
    .now = now, .is_reply = FALSE, .timezone = config->timezone,
  };
  return outbox_queue_confirmation(store, &c, error);
}

gint64 outbox_confirm_message(Store *store, const KeelConfig *config,
                              const KeelAccount *account, const KeelClient *client,
                              const KeelMessage *message, gint64 thread_id,
                              GPtrArray *instructions, GArray *instruction_ids, GDateTime *now,
                              GError **error)
{
  if ((!account && config->accounts->len == 0) || !message->from) {
    g_set_error(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_ACCOUNT,
                "no account to send a confirmation through, or no From to answer");
    return 0;
  }
  g_autofree char *template_text = outbox_read_template(config, "confirm.txt", FALSE, error);
  if (!account)
    account = config->accounts->pdata[0];
  g_autoptr(ReplyVoice) voice = template_text
    ? replies_voice_new(account, client, message->from->name, config->rules, error) : NULL;
  if (!voice)
    return 0;
  OutboxConfirmation c = {
    .account = account, .client_id = client->id,
    .client_name = client->name, .to_address = message->from->address,
    .thread_id = thread_id, .in_reply_to = message->message_id,
    .references = message->references, .subject = message->subject,
    .instructions = instructions, .instruction_ids = instruction_ids,
    .template_text = template_text, .template_name = "confirm.txt", .voice = voice,
    .now = now, .is_reply = TRUE, .timezone = config->timezone,
  };
  return outbox_queue_confirmation(store, &c, error);
}
