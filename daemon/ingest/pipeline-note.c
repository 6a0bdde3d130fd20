/* daemon/ingest/pipeline-note.c: a note the VA emails to her note_address
 * (what was agreed on the phone) becomes instructions in the trail and a
 * confirmation to the client, as `keel confirm` does. Because a note makes
 * keel write to a client from her account, it must be hers:
 *
 *   - a copy in her Sent folder counts (she wrote it from her mail client);
 *   - a copy in INBOX counts only when the note address carries a secret
 *     token ("jo+keel-TOKEN@example.com", `keel config check` says how to make
 *     one) and the Authentication-Results that her own server wrote (the
 *     account's authserv_id, default the IMAP host) passes DKIM or SPF for her
 *     domain. Fields written by anyone else are ignored.
 *
 * An authentic note then passes the gates of any reply: a known client named
 * in its subject, confirm_decide() (risk of the note and of the client's
 * recent threads, instructions found), and the per-client daily limit. Its
 * confirmation goes out through the note's account with a real subject.
 * Anything that fails is a `note_refused` trail event the digest shows; a
 * failed note never reaches a client. When she writes to her own note
 * address, the INBOX copy usually comes first: if it is refused, the Sent copy
 * (the same Message-ID, a duplicate for the store) is judged once more
 * (pipeline_note_sent_copy), and a `note_accepted` event then tells the
 * digest to drop the refusal.
 *
 * Must not: trust From or To alone, send anything, log bodies.
 */
#include <string.h>
#include "daemon/ingest/pipeline-private.h"
#include "daemon/mail/folders.h"
#include "daemon/outbox/outbox.h"
#include "daemon/record/trail.h"
#include "filters/authres.h"

#define PIPELINE_NOTE_SUBJECT "Confirming what we agreed"
#define PIPELINE_NOTE_RISK_DAYS 7

const KeelAccount *pipeline_note_account(const Pipeline *pipeline, const KeelMessage *message)
{
  GPtrArray *lists[] = { message->to, message->cc };
  for (gsize l = 0; pipeline->config && l < G_N_ELEMENTS(lists); l++)
    for (guint i = 0; lists[l] && i < lists[l]->len; i++) {
      const KeelAccount *account = config_account_for_note_address(
        pipeline->config, ((const KeelAddress *)lists[l]->pdata[i])->address);
      if (account)
        return account;
    }
  return NULL;
}

/* TRUE when the first Authentication-Results field written by `account`'s
 * server passes DKIM or SPF for the domain of the account's user. */
static gboolean pipeline_note_server_vouches(const KeelAccount *account,
                                             const KeelMessage *message)
{
  g_autofree char *server = config_account_authserv_id(account);
  const char *at = account->user ? strrchr(account->user, '@') : NULL;
  for (guint i = 0; server && at && message->headers && i < message->headers->len; i++) {
    const KeelHeader *header = message->headers->pdata[i];
    if (g_ascii_strcasecmp(header->name, "Authentication-Results") != 0)
      continue;
    g_autofree char *writer = authres_server(header->value);
    if (g_strcmp0(writer, server) == 0)
      return authres_passes(header->value, server, at + 1);
  }
  return FALSE;
}

/* NULL when the note is hers, else why it is not (static text). */
static const char *pipeline_note_refusal(const PipelineArrival *arrival,
                                         const KeelAccount *note_account,
                                         const KeelMessage *message)
{
  gsize len = 0;
  const char *from = message->from ? message->from->address : "";
  if (arrival->origin->direction == STORE_DIRECTION_OUT) {
    gboolean in_sent = arrival->account && arrival->folder
                       && g_strcmp0(arrival->folder, folders_sent(arrival->account)) == 0
                       && arrival->account->user
                       && g_ascii_strcasecmp(from, arrival->account->user) == 0;
    return in_sent ? NULL : "it was not found in your Sent folder";
  }
  if (!note_account->user || g_ascii_strcasecmp(from, note_account->user) != 0)
    return "its From is not the note account's address";
  if (!config_note_token(note_account->note_address, &len))
    return "it arrived in INBOX but your note_address has no secret token "
           "(keel config check says how to make one)";
  if (!pipeline_note_server_vouches(note_account, message))
    return "it arrived in INBOX without your own mail server's Authentication-Results "
           "passing DKIM or SPF for your domain (it may be forged)";
  return NULL;
}

/* Records that a note was not acted on, and why, for the digest. */
static gboolean pipeline_note_refuse(Pipeline *pipeline, const PipelineArrival *arrival,
                                     const KeelClient *client, const KeelMessage *message,
                                     const char *why, GError **error)
{
  g_autofree char *subject = g_strndup(message->subject, 80);
  g_autofree char *detail = g_strdup_printf("note \"%s\" from %s not acted on: %s", subject,
                                            message->from ? message->from->address : "?", why);
  g_message("note <%s>: not acted on: %s", message->message_id, why);
  TrailEntry entry = { .kind = "note_refused", .client_id = client ? client->id : NULL,
                       .message_id = message->message_id, .detail = detail,
                       .at = arrival->now };
  return trail_append(pipeline->store, &entry, NULL, error);
}

/* The gates of any reply, for the note's `client` and its `found`
 * instructions: NULL when a confirmation may go, else why not. */
static char *pipeline_note_gates(Pipeline *pipeline, const PipelineArrival *arrival,
                                 const KeelClient *client, const KeelMessage *message,
                                 guint found, GError **error)
{
  /* NULL (no rules, or scoring failed): confirm_decide() never confirms. */
  g_autoptr(ScoreResult) verdict = pipeline->rules
    ? score_message(pipeline->rules, message, &pipeline->context, NULL) : NULL;
  g_autoptr(GDateTime) since = g_date_time_add_days(arrival->now, -PIPELINE_NOTE_RISK_DAYS);
  double client_risk = store_client_thread_risk(pipeline->store, client->id, since, error);
  if (client_risk < 0)
    return NULL;
  ConfirmFacts facts = { .known_client = TRUE, .automated = message->automated,
                         .verdict = verdict, .thread_risk = client_risk,
                         .instructions = found };
  ConfirmDecision decision = confirm_decide(&facts);
  if (decision.action == CONFIRM_SEND
      && !outbox_plan_client_limit(pipeline->store, pipeline->config, client->id, arrival->now,
                                   &decision, error))
    return NULL;
  /* a copy: `decision` (and the reason text in it) ends with this function */
  return decision.action == CONFIRM_SEND ? NULL : g_strdup(decision.reason);
}

/* Queues the confirmation of an authentic note that passed the gates. */
static gboolean pipeline_note_confirm(Pipeline *pipeline, const PipelineArrival *arrival,
                                      const KeelAccount *note_account, const KeelClient *client,
                                      const KeelMessage *message, GPtrArray *found,
                                      GError **error)
{
  g_autoptr(GError) local = NULL;
  gint64 id = outbox_confirm_note(pipeline->store, pipeline->config, note_account, client,
                                  message->new_text, PIPELINE_NOTE_SUBJECT, found, arrival->now,
                                  &local);
  if (id != 0) {
    TrailEntry entry = { .kind = "note_accepted", .client_id = client->id,
                         .message_id = message->message_id, .ref_id = id,
                         .detail = "note confirmed to the client", .at = arrival->now };
    return trail_append(pipeline->store, &entry, NULL, error);
  }
  if (local->domain == KEEL_STORE_ERROR) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  return pipeline_note_refuse(pipeline, arrival, client, message, local->message, error);
}

gboolean pipeline_note(Pipeline *pipeline, const PipelineArrival *arrival,
                       const KeelAccount *note_account, const KeelMessage *message,
                       GError **error)
{
  if (arrival->origin->first_sync || !pipeline->instruction_rules)
    return TRUE;
  const char *why = pipeline_note_refusal(arrival, note_account, message);
  if (why)
    return pipeline_note_refuse(pipeline, arrival, NULL, message, why, error);
  const KeelClient *client = config_client_named_in(pipeline->config, message->subject);
  if (!client || !config_client_address(client))
    return pipeline_note_refuse(pipeline, arrival, NULL, message, "no client with a full "
                                "address named in its subject (write e.g. \"Call with Acme "
                                "Lettings\")", error);
  InstructionContext ctx;
  g_autoptr(GTimeZone) zone = NULL;
  trail_instruction_context(pipeline->config, client, &ctx, &zone);
  g_autoptr(GPtrArray) found = instructions_extract(pipeline->instruction_rules,
                                                    message->new_text, message->date, &ctx);
  g_autoptr(GError) local = NULL;
  g_autofree char *blocked = pipeline_note_gates(pipeline, arrival, client, message, found->len,
                                                 &local);
  if (local) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  if (blocked)
    return pipeline_note_refuse(pipeline, arrival, client, message, blocked, error);
  return pipeline_note_confirm(pipeline, arrival, note_account, client, message, found, error);
}

gboolean pipeline_note_sent_copy(Pipeline *pipeline, const StoreOrigin *origin,
                                 const KeelMessage *message, gint64 row_id, gint64 thread_id,
                                 GError **error)
{
  if (origin->direction != STORE_DIRECTION_OUT || origin->first_sync)
    return TRUE;
  const KeelAccount *note_account = pipeline_note_account(pipeline, message);
  if (!note_account)
    return TRUE;
  gint64 refused = store_trail_count_kind(pipeline->store, "note_refused", message->message_id,
                                          error);
  gint64 accepted = refused < 0 ? -1 : store_trail_count_kind(pipeline->store, "note_accepted",
                                                              message->message_id, error);
  if (accepted < 0)
    return FALSE;
  if (refused != 1 || accepted != 0)
    return TRUE;
  PipelineArrival arrival = { .origin = origin, .row_id = row_id, .thread_id = thread_id,
                              .now = origin->received };
  g_autofree char *folder = NULL;
  if (!pipeline_arrival_account(pipeline, origin, &arrival.account, &folder, error))
    return FALSE;
  arrival.folder = folder;
  return pipeline_note(pipeline, &arrival, note_account, message, error);
}
