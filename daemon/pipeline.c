/* daemon/pipeline.c: one raw message in, one stored row out.
 *
 * parse (message_parse with the configured size limit) -> client
 * (config_client_for_address) -> store_add_message (dedupe, thread, folder
 * UID) inside one transaction that also records the client's name. Scoring
 * will slot in between parse and store, inside the same transaction.
 *
 * Must not: fetch or send mail, keep messages after returning, log bodies.
 */
#include "daemon/pipeline.h"

struct Pipeline {
  const KeelConfig *config;        /* borrowed, may be NULL */
  Store *store;                    /* borrowed */
  gboolean direction_from_sender;
};

Pipeline *pipeline_new(const KeelConfig *config, Store *store)
{
  Pipeline *pipeline = g_new0(Pipeline, 1);
  pipeline->config = config;
  pipeline->store = store;
  return pipeline;
}

void pipeline_free(Pipeline *pipeline)
{
  g_free(pipeline);
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
  *result = store_add_message(pipeline->store, origin, raw, message, row_id, NULL, error);
  if (*result == STORE_FAILED) {
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
  g_autoptr(KeelMessage) message = message_parse(data, size, received, max_size, error);
  if (!message)
    return FALSE;
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
