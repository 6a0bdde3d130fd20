/* daemon/outbox/outbox-plan.c: what happens in the trail and the outbox when a
 * client message has just been stored (outbox_after_ingest()).
 *
 * Steps, all inside the pipeline's transaction so that a crash leaves either
 * the message with its instructions and its queued confirmation, or none of
 * them: index the quoted text (search), extract and record the instructions
 * of a known client, count the confirmations this thread had in the last
 * CONFIRM_WINDOW_HOURS, ask confirm_decide(), then the guards that keep
 * anyone else from speaking through keel (outbox_plan_guard: no reply to a
 * reply keel generated, no third automatic reply in a thread without a
 * message from the VA, the per-client daily limit), and queue the
 * confirmation through the account the message arrived in.
 *
 * Must not: send anything (outbox_run() does), decide itself (filters/confirm.c).
 */
#include "daemon/outbox/outbox.h"
#include "daemon/record/trail.h"

/* The instructions of `in->message` (empty for unknown senders). */
static GPtrArray *outbox_plan_instructions(const OutboxIngest *in)
{
  if (!in->client || !in->rules || !in->message->new_text)
    return g_ptr_array_new_with_free_func((GDestroyNotify)instruction_free);
  InstructionContext ctx;
  g_autoptr(GTimeZone) zone = NULL;
  trail_instruction_context(in->config, in->client, &ctx, &zone);
  ctx.automated = in->message->automated;
  return instructions_extract(in->rules, in->message->new_text, in->message->date, &ctx);
}

static GArray *outbox_plan_record(Store *store, const OutboxIngest *in, GPtrArray *found,
                                  GError **error)
{
  const KeelMessage *m = in->message;
  TrailSource source = { .message_row = in->row_id, .message_id = m->message_id,
                         .client_id = in->client ? in->client->id : NULL,
                         .thread_id = in->thread_id,
                         .from = m->from ? m->from->address : NULL, .at = m->date };
  return trail_record_instructions(store, &source, found, error);
}

static gboolean outbox_plan_decide(Store *store, const OutboxIngest *in, guint instructions,
                                   ConfirmDecision *decision, GError **error)
{
  g_autoptr(GDateTime) since = g_date_time_add_hours(in->now, -CONFIRM_WINDOW_HOURS);
  gint64 recent = in->thread_id > 0
    ? store_outbox_count_thread(store, in->thread_id, "confirm", since, error) : 0;
  if (recent < 0)
    return FALSE;
  ConfirmFacts facts = {
    .first_sync = in->first_sync, .known_client = in->client != NULL,
    .automated = in->message->automated, .automated_reason = in->message->automated_reason,
    .verdict = in->verdict, .thread_risk = in->thread_risk,
    .instructions = instructions, .recent_confirmations = (guint)recent,
  };
  *decision = confirm_decide(&facts);
  return TRUE;
}

/* 1 when the message answers one keel generated (its In-Reply-To or any of
 * its References is an outbox Message-ID): a loop even when a relay has
 * stripped Auto-Submitted. 0 when not, -1 on error. */
static int outbox_plan_answers_keel(Store *store, const KeelMessage *message, GError **error)
{
  int found = store_outbox_generated(store, message->in_reply_to, error);
  for (guint i = 0; found == 0 && message->references && i < message->references->len; i++)
    found = store_outbox_generated(store, message->references->pdata[i], error);
  return found;
}

/* Automatic replies keel queued in the thread since the VA last wrote in it
 * herself; -1 on error. */
static gint64 outbox_plan_replies_unbroken(Store *store, gint64 thread_id, GError **error)
{
  if (thread_id <= 0)
    return 0;
  StoreThreadPeak peak;
  if (!store_thread_peak(store, thread_id, &peak, error))
    return -1;
  g_autoptr(GDateTime) epoch = g_date_time_new_from_unix_utc(0);
  gint64 n = store_outbox_count_thread(store, thread_id, "confirm",
                                       peak.last_human_reply ? peak.last_human_reply : epoch,
                                       error);
  store_thread_peak_clear(&peak);
  return n;
}

gboolean outbox_plan_client_limit(Store *store, const KeelConfig *config, const char *client_id,
                                  GDateTime *now, ConfirmDecision *decision, GError **error)
{
  guint limit = config ? config->replies_per_client_per_day : 3;
  g_autoptr(GDateTime) since = g_date_time_add_days(now, -1);
  gint64 today = store_outbox_count_client(store, "confirm", client_id, since, error);
  if (today < 0)
    return FALSE;
  if ((guint64)today >= limit)
    *decision = (ConfirmDecision){ CONFIRM_NONE, "per-client daily limit of automatic replies "
                                                 "reached ([replies] per_client_per_day)" };
  return TRUE;
}

/* The guards after confirm_decide() said CONFIRM_SEND (see the top). */
static gboolean outbox_plan_guard(Store *store, const OutboxIngest *in,
                                  ConfirmDecision *decision, GError **error)
{
  int loop = outbox_plan_answers_keel(store, in->message, error);
  if (loop < 0)
    return FALSE;
  if (loop) {
    *decision = (ConfirmDecision){ CONFIRM_NONE, "answers a message keel generated "
                                                 "(mail loop)" };
    return TRUE;
  }
  gint64 unbroken = outbox_plan_replies_unbroken(store, in->thread_id, error);
  if (unbroken < 0)
    return FALSE;
  if (unbroken >= 2) {
    *decision = (ConfirmDecision){ CONFIRM_NONE, "two automatic replies in this thread "
                                                 "without a message from you since" };
    return TRUE;
  }
  return outbox_plan_client_limit(store, in->config, in->client ? in->client->id : NULL,
                                  in->now, decision, error);
}

static gboolean outbox_plan_locked(Store *store, const OutboxIngest *in,
                                   ConfirmDecision *decision, gint64 *outbox_id, GError **error)
{
  if (!store_search_set_quoted(store, in->row_id, in->message->quoted_text, error))
    return FALSE;
  g_autoptr(GPtrArray) found = outbox_plan_instructions(in);
  g_autoptr(GArray) ids = outbox_plan_record(store, in, found, error);
  if (!ids || !outbox_plan_decide(store, in, found->len, decision, error))
    return FALSE;
  if (decision->action == CONFIRM_SEND && !outbox_plan_guard(store, in, decision, error))
    return FALSE;
  if (decision->action != CONFIRM_SEND)
    return TRUE;
  g_autoptr(GError) local = NULL;
  *outbox_id = outbox_confirm_message(store, in->config, in->account, in->client, in->message,
                                      in->thread_id, found, ids, in->now, &local);
  if (*outbox_id != 0)
    return TRUE;
  if (local->domain == KEEL_STORE_ERROR) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  /* A missing template, an account without a usable From address, a reply
   * that cannot be built: the confirmation is lost, never the message. */
  g_warning("message <%s>: no confirmation planned: %s", in->message->message_id,
            local->message);
  decision->action = CONFIRM_NONE;
  g_strlcpy(decision->reason, "cannot build the confirmation", sizeof decision->reason);
  return TRUE;
}

gboolean outbox_after_ingest(Store *store, const OutboxIngest *in, ConfirmDecision *decision,
                             gint64 *outbox_id, GError **error)
{
  ConfirmDecision local_decision = { CONFIRM_NONE, "" };
  gint64 local_id = 0;
  if (!store_begin(store, error))
    return FALSE;
  if (!outbox_plan_locked(store, in, &local_decision, &local_id, error)) {
    store_rollback(store);
    g_prefix_error(error, "planning replies for <%s>: ", in->message->message_id);
    return FALSE;
  }
  if (decision)
    *decision = local_decision;
  if (outbox_id)
    *outbox_id = local_id;
  return store_commit(store, error);
}
