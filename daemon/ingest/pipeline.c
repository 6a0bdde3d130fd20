/* daemon/ingest/pipeline.c: one raw message in, one stored row out.
 *
 * parse (message_parse_limited with the configured size limit and caps; a
 * message past a cap is stored malformed: raw bytes, safe headers) -> client
 * (config_client_for_address) -> in one transaction: store_add_message
 * (dedupe, thread, folder UID), the verdict of the rules and the thread's
 * risk (verdict_*), then the trail and the confirmation plan
 * (outbox_after_ingest). A crash before the commit leaves nothing behind, so
 * the message is processed again with the same result.
 *
 * Companions: pipeline-note.c (the VA's notes, authenticated before they
 * count) and pipeline-guard.c (the account a message arrived in answers it,
 * floods, the thread risk only the client and the VA move).
 *
 * Must not: fetch or send mail, keep messages after returning, log bodies.
 */
#include "daemon/ingest/pipeline-private.h"
#include "daemon/digest/digest.h"
#include "daemon/outbox/holding.h"
#include "daemon/outbox/outbox.h"
#include "daemon/payments/payments.h"
#include "daemon/record/trail.h"
#include "daemon/record/verdict.h"
#include "daemon/record/word.h"

const KeelConfig *pipeline_config(const Pipeline *pipeline)
{
  return pipeline->config;
}

/* Waits for the rules when they are still loading (pipeline_set_rules_pending). */
static void pipeline_settle_rules(Pipeline *pipeline)
{
  if (!pipeline->rules_wait)
    return;
  pipeline->rules_wait(pipeline->rules_wait_data);
  g_warn_if_fail(pipeline->rules_wait == NULL); /* the wait must set the rules */
  pipeline->rules_wait = NULL;
}

RuleSet *pipeline_rules(Pipeline *pipeline)
{
  pipeline_settle_rules(pipeline);
  return (RuleSet *)pipeline->rules;
}

Pipeline *pipeline_new(const KeelConfig *config, Store *store)
{
  Pipeline *pipeline = g_new0(Pipeline, 1);
  pipeline->config = config;
  pipeline->store = store;
  pipeline->tz = g_time_zone_new_identifier(config ? config->timezone : "Europe/London");
  if (!pipeline->tz)
    pipeline->tz = g_time_zone_new_utc();
  verdict_context_init(&pipeline->context, config, pipeline->tz);
  return pipeline;
}

void pipeline_free(Pipeline *pipeline)
{
  g_time_zone_unref(pipeline->tz);
  promise_rules_free(pipeline->promise_rules);
  g_free(pipeline);
}

void pipeline_set_rules(Pipeline *pipeline, const RuleSet *rules,
                        const InstructionRules *instruction_rules)
{
  pipeline->rules = rules;
  pipeline->instruction_rules = instruction_rules;
  pipeline->rules_wait = NULL;
  pipeline->rules_wait_data = NULL;
  g_clear_pointer(&pipeline->promise_rules, promise_rules_free); /* read again on next use */
  pipeline->promise_rules_failed = FALSE;
}

void pipeline_set_rules_pending(Pipeline *pipeline, PipelineRulesWait wait, gpointer data)
{
  pipeline->rules_wait = wait;
  pipeline->rules_wait_data = data;
}

void pipeline_set_direction_from_sender(Pipeline *pipeline, gboolean on)
{
  pipeline->direction_from_sender = on;
}

/* The address that says which client a message belongs to. Borrowed. */
static const char *pipeline_counterpart(const KeelMessage *message, StoreDirection direction)
{
  if (direction == STORE_DIRECTION_IN)
    return message->from ? message->from->address : NULL;
  if (message->to && message->to->len > 0)
    return ((const KeelAddress *)message->to->pdata[0])->address;
  return NULL;
}

/* Fills `origin` from the template and what the message says. Returns the
 * client found in the config (borrowed) or NULL. */
static const KeelClient *pipeline_origin(Pipeline *pipeline, const StoreOrigin *origin_template,
                                         const KeelMessage *message, GDateTime *received,
                                         StoreOrigin *origin)
{
  *origin = *origin_template;
  if (received)
    origin->received = received;
  if (pipeline->direction_from_sender && message->from
      && config_is_own_address(pipeline->config, message->from->address))
    origin->direction = STORE_DIRECTION_OUT;
  const KeelClient *client =
    config_client_for_address(pipeline->config, pipeline_counterpart(message, origin->direction));
  if (client)
    origin->client_id = client->id;
  return client;
}

/* An alert to the VA at once for a threat or a very risky thread (at most
 * one per thread per day; never for history). */
static gboolean pipeline_alert(Pipeline *pipeline, gint64 row_id, GDateTime *now,
                               GError **error)
{
  DigestOptions options;
  digest_options_from_config(&options, pipeline->config);
  options.rules = pipeline->rules;
  return digest_alert_for_message(pipeline->store, pipeline->config, &options, row_id, now,
                                  NULL, error);
}

/* The VA's word (daemon/record/word.c): her promises and the work her reply
 * did, for her own mail. Rules from the config's rules dir, read on first
 * use; when they do not load, said once and nothing is recorded. */
static gboolean pipeline_word(Pipeline *pipeline, const StoreOrigin *origin,
                              const KeelClient *client, const KeelMessage *message,
                              gint64 row_id, gint64 thread_id, GError **error)
{
  if (origin->direction != STORE_DIRECTION_OUT || !client || !pipeline->config
      || !pipeline->instruction_rules || pipeline->promise_rules_failed)
    return TRUE;
  if (!pipeline->promise_rules) {
    g_autoptr(GError) local = NULL;
    pipeline->promise_rules = word_load_rules(pipeline->config->rules, &local);
    if (!pipeline->promise_rules) {
      g_warning("her promises are not read: %s", local->message);
      pipeline->promise_rules_failed = TRUE;
      return TRUE;
    }
  }
  WordMessage in = { .config = pipeline->config, .client = client, .message = message,
                     .rules = pipeline->promise_rules, .row_id = row_id,
                     .thread_id = thread_id, .outgoing = TRUE,
                     .first_sync = origin->first_sync };
  return word_after_message(pipeline->store, &in, error);
}

/* The verdict (incoming mail; `*verdict` NULL otherwise, owned by the caller)
 * and the thread's risk, when rules are set, for the reply decision. */
static gboolean pipeline_verdict(Pipeline *pipeline, const PipelineArrival *arrival,
                                 const KeelMessage *message, ScoreResult **verdict,
                                 double *thread_risk, GError **error)
{
  *verdict = NULL;
  *thread_risk = 0;
  if (!pipeline->rules)
    return TRUE;
  if (arrival->origin->direction == STORE_DIRECTION_IN) {
    *verdict = verdict_score_and_save(pipeline->store, pipeline->rules, &pipeline->context,
                                      message, arrival->row_id, arrival->thread_id, NULL, error);
    if (!*verdict)
      return FALSE;
  }
  return pipeline_thread_risk(pipeline, arrival, message, thread_risk, error);
}

/* The verdict and the thread's risk (when rules are set), then payments, the
 * note, flood and alert checks, the trail and the confirmation plan, for a
 * newly stored message. Inside the caller's transaction. */
static gboolean pipeline_after_store(Pipeline *pipeline, const PipelineArrival *arrival,
                                     const KeelClient *client, const KeelMessage *message,
                                     GError **error)
{
  const StoreOrigin *origin = arrival->origin;
  g_autoptr(ScoreResult) verdict = NULL; /* NULL: unscored, never answered */
  double thread_risk = 0;
  if (!pipeline_verdict(pipeline, arrival, message, &verdict, &thread_risk, error))
    return FALSE;
  PaymentsMessage paying = { .config = pipeline->config, .client = client, .message = message,
                             .row_id = arrival->row_id, .thread_id = arrival->thread_id,
                             .outgoing = origin->direction != STORE_DIRECTION_IN,
                             .first_sync = origin->first_sync };
  if (!payments_after_message(pipeline->store, &paying, error)
      || !pipeline_word(pipeline, origin, client, message, arrival->row_id,
                        arrival->thread_id, error))
    return FALSE;
  const KeelAccount *note_account = pipeline_note_account(pipeline, message);
  if (note_account)
    return pipeline_note(pipeline, arrival, note_account, message, error);
  if (origin->direction != STORE_DIRECTION_IN)
    return TRUE;
  if (!pipeline_flood_check(pipeline, arrival, client, error))
    return FALSE;
  if (pipeline->rules && pipeline->config
      && !pipeline_alert(pipeline, arrival->row_id, arrival->now, error))
    return FALSE;
  HoldingIngest holding = { .config = pipeline->config, .client = client, .message = message,
                            .account = arrival->account, .thread_id = arrival->thread_id,
                            .first_sync = origin->first_sync,
                            .risky = verdict && (verdict->risky || thread_risk >= 1.0),
                            .now = arrival->now };
  if (!holding_after_ingest(pipeline->store, &holding, NULL, error))
    return FALSE;
  OutboxIngest in = { .config = pipeline->config, .client = client, .message = message,
                      .rules = pipeline->instruction_rules, .row_id = arrival->row_id,
                      .thread_id = arrival->thread_id, .first_sync = origin->first_sync,
                      /* confirm_decide() weighs the verdict itself */
                      .verdict = verdict, .thread_risk = thread_risk,
                      .now = arrival->now, .account = arrival->account };
  return outbox_after_ingest(pipeline->store, &in, NULL, NULL, error);
}

/* Where the stored message came from, then pipeline_after_store(). */
static gboolean pipeline_arrived(Pipeline *pipeline, const StoreOrigin *origin,
                                 const KeelClient *client, const KeelMessage *message,
                                 gint64 row_id, gint64 thread_id, GError **error)
{
  PipelineArrival arrival = { .origin = origin, .row_id = row_id, .thread_id = thread_id,
                              .now = origin->received };
  g_autofree char *folder = NULL;
  if (!pipeline_arrival_account(pipeline, origin, &arrival.account, &folder, error))
    return FALSE;
  arrival.folder = folder;
  return pipeline_after_store(pipeline, &arrival, client, message, error);
}

static gboolean pipeline_store(Pipeline *pipeline, const StoreOrigin *origin,
                               const KeelClient *client, GBytes *raw,
                               const KeelMessage *message, StoreAddResult *result,
                               gint64 *row_id, GError **error)
{
  if (!store_begin(pipeline->store, error))
    return FALSE;
  if (client && !store_client_set(pipeline->store, client->id, client->name, error)) {
    store_rollback(pipeline->store);
    return FALSE;
  }
  gint64 thread_id = 0;
  *result = store_add_message(pipeline->store, origin, raw, message, row_id, &thread_id, error);
  if (*result == STORE_FAILED
      || (*result == STORE_ADDED
          && !pipeline_arrived(pipeline, origin, client, message, *row_id, thread_id,
                               error))
      || (*result == STORE_DUPLICATE
          && !pipeline_note_sent_copy(pipeline, origin, message, *row_id, thread_id, error))) {
    store_rollback(pipeline->store);
    return FALSE;
  }
  return store_commit(pipeline->store, error);
}

KeelMessage *pipeline_parse(const KeelConfig *config, GBytes *raw, GDateTime *received,
                            GError **error)
{
  gsize size = 0;
  const guint8 *data = g_bytes_get_data(raw, &size);
  return message_parse_limited(data, size, received, config ? config->max_message_size : 0,
                               config ? &config->limits : NULL, error);
}

gboolean pipeline_ingest_parsed(Pipeline *pipeline, const StoreOrigin *origin_template,
                                GBytes *raw, const KeelMessage *message, GDateTime *received,
                                StoreAddResult *result, gint64 *row_id, GError **error)
{
  pipeline_settle_rules(pipeline);
  if (message->malformed)
    g_warning("message <%s>: malformed, %s: stored unparsed, never answered",
              message->message_id, message->malformed);
  /* Every limit counts by the time keel got the mail, never by its Date. */
  g_autoptr(GDateTime) now = received || origin_template->received
    ? NULL : g_date_time_new_now_utc();
  StoreOrigin origin;
  const KeelClient *client = pipeline_origin(pipeline, origin_template, message,
                                             received ? received : now, &origin);
  StoreAddResult added = STORE_FAILED;
  gint64 row = 0;
  if (!pipeline_store(pipeline, &origin, client, raw, message, &added, &row, error))
    return FALSE;
  g_debug("message %" G_GINT64_FORMAT " <%s>: %s", row, message->message_id,
          added == STORE_ADDED ? "stored" : "duplicate");
  if (result)
    *result = added;
  if (row_id)
    *row_id = row;
  return TRUE;
}

gboolean pipeline_ingest(Pipeline *pipeline, const StoreOrigin *origin_template, GBytes *raw,
                         GDateTime *received, StoreAddResult *result, gint64 *row_id,
                         GError **error)
{
  g_autoptr(KeelMessage) message = pipeline_parse(pipeline->config, raw, received, error);
  return message && pipeline_ingest_parsed(pipeline, origin_template, raw, message, received,
                                           result, row_id, error);
}
