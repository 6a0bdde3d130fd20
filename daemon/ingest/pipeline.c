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
 * Must not: fetch or send mail, keep messages after returning, log bodies.
 */
#include "daemon/ingest/pipeline.h"
#include "daemon/digest/digest.h"
#include "daemon/outbox/holding.h"
#include "daemon/outbox/outbox.h"
#include "daemon/payments/payments.h"
#include "daemon/record/trail.h"
#include "daemon/record/verdict.h"
#include "daemon/record/word.h"

struct Pipeline {
  const KeelConfig *config;        /* borrowed, may be NULL */
  Store *store;                    /* borrowed */
  const RuleSet *rules;            /* borrowed, may be NULL: no verdicts */
  const InstructionRules *instruction_rules; /* borrowed, may be NULL */
  GTimeZone *tz;                   /* owned: the VA's zone */
  ScoreContext context;            /* zone and business hours; history added per message */
  gboolean direction_from_sender;
  PromiseRules *promise_rules;     /* owned, read from the config's rules on first use */
  gboolean promise_rules_failed;   /* they did not load: said once, not again */
};

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
  g_clear_pointer(&pipeline->promise_rules, promise_rules_free); /* read again on next use */
  pipeline->promise_rules_failed = FALSE;
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

/* TRUE for a note the VA wrote to her note_address (a phone call to confirm),
 * seen in the inbox or in Sent, whichever copy is stored first. */
static gboolean pipeline_is_note(Pipeline *pipeline, const KeelMessage *message)
{
  if (!pipeline->config || !message->from
      || !config_is_own_address(pipeline->config, message->from->address))
    return FALSE;
  GPtrArray *lists[] = { message->to, message->cc };
  for (gsize l = 0; l < G_N_ELEMENTS(lists); l++)
    for (guint i = 0; lists[l] && i < lists[l]->len; i++)
      if (config_is_note_address(pipeline->config,
                                 ((const KeelAddress *)lists[l]->pdata[i])->address))
        return TRUE;
  return FALSE;
}

/* A note: the client named in its subject, its instructions recorded and a
 * confirmation queued, as `keel confirm` does. Nothing for history or when
 * no client or no instruction is found (logged: the message is kept). */
static gboolean pipeline_note(Pipeline *pipeline, const StoreOrigin *origin,
                              const KeelMessage *message, GDateTime *now, GError **error)
{
  if (origin->first_sync || !pipeline->instruction_rules)
    return TRUE;
  const KeelClient *client = config_client_named_in(pipeline->config, message->subject);
  if (!client || !config_client_address(client)) {
    g_warning("note <%s>: no client with a full address named in its subject; nothing "
              "recorded (write e.g. \"Call with Acme Lettings\")", message->message_id);
    return TRUE;
  }
  InstructionContext ctx;
  g_autoptr(GTimeZone) zone = NULL;
  trail_instruction_context(pipeline->config, client, &ctx, &zone);
  g_autoptr(GPtrArray) found = instructions_extract(pipeline->instruction_rules,
                                                    message->new_text, message->date, &ctx);
  if (found->len == 0) {
    g_warning("note <%s>: no instruction found; nothing recorded", message->message_id);
    return TRUE;
  }
  g_autoptr(GError) local = NULL;
  if (outbox_confirm_note(pipeline->store, pipeline->config, client, message->new_text, NULL,
                          found, now, &local) != 0)
    return TRUE;
  if (local->domain == KEEL_STORE_ERROR) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  g_warning("note <%s>: no confirmation queued: %s", message->message_id, local->message);
  return TRUE;
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

/* The verdict and the thread's risk (when rules are set), then the trail
 * and the confirmation plan, for a newly stored message. Inside the caller's
 * transaction. */
static gboolean pipeline_after_store(Pipeline *pipeline, const StoreOrigin *origin,
                                     const KeelClient *client, const KeelMessage *message,
                                     gint64 row_id, gint64 thread_id, GError **error)
{
  gboolean incoming = origin->direction == STORE_DIRECTION_IN;
  g_autoptr(ScoreResult) verdict = NULL; /* NULL: unscored, never answered */
  double thread_risk = 0;
  /* The thread's risk as of this message; the rate limit counts real time. */
  GDateTime *now = origin->received ? origin->received : message->date;
  if (pipeline->rules && incoming) {
    verdict = verdict_score_and_save(pipeline->store, pipeline->rules, &pipeline->context,
                                     message, row_id, thread_id, &thread_risk, error);
    if (!verdict)
      return FALSE;
  } else if (pipeline->rules
             && !verdict_update_thread_risk(pipeline->store, pipeline->rules, thread_id,
                                            message->date, &thread_risk, error)) {
    return FALSE;
  }
  PaymentsMessage paying = { .config = pipeline->config, .client = client, .message = message,
                             .row_id = row_id, .thread_id = thread_id, .outgoing = !incoming,
                             .first_sync = origin->first_sync };
  if (!payments_after_message(pipeline->store, &paying, error)
      || !pipeline_word(pipeline, origin, client, message, row_id, thread_id, error))
    return FALSE;
  if (pipeline_is_note(pipeline, message))
    return pipeline_note(pipeline, origin, message, now, error);
  if (!incoming)
    return TRUE;
  if (pipeline->rules && pipeline->config && !pipeline_alert(pipeline, row_id, now, error))
    return FALSE;
  HoldingIngest holding = { .config = pipeline->config, .client = client, .message = message,
                            .thread_id = thread_id, .first_sync = origin->first_sync,
                            .risky = verdict && (verdict->risky || thread_risk >= 1.0),
                            .now = now };
  if (!holding_after_ingest(pipeline->store, &holding, NULL, error))
    return FALSE;
  OutboxIngest in = { .config = pipeline->config, .client = client, .message = message,
                      .rules = pipeline->instruction_rules, .row_id = row_id,
                      .thread_id = thread_id, .first_sync = origin->first_sync,
                      /* confirm_decide() weighs the verdict itself */
                      .verdict = verdict, .thread_risk = thread_risk,
                      .now = now };
  return outbox_after_ingest(pipeline->store, &in, NULL, NULL, error);
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
          && !pipeline_after_store(pipeline, origin, client, message, *row_id, thread_id,
                                   error))) {
    store_rollback(pipeline->store);
    return FALSE;
  }
  return store_commit(pipeline->store, error);
}

gboolean pipeline_ingest(Pipeline *pipeline, const StoreOrigin *origin_template, GBytes *raw,
                         GDateTime *received, StoreAddResult *result, gint64 *row_id,
                         GError **error)
{
  gsize size = 0;
  const guint8 *data = g_bytes_get_data(raw, &size);
  gsize max_size = pipeline->config ? pipeline->config->max_message_size : 0;
  g_autoptr(KeelMessage) message = message_parse_limited(
    data, size, received, max_size, pipeline->config ? &pipeline->config->limits : NULL, error);
  if (!message)
    return FALSE;
  if (message->malformed)
    g_warning("message <%s>: malformed, %s: stored unparsed, never answered",
              message->message_id, message->malformed);
  StoreOrigin origin;
  const KeelClient *client = pipeline_origin(pipeline, origin_template, message, received,
                                             &origin);
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
