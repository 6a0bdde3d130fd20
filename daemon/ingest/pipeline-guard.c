/* daemon/ingest/pipeline-guard.c: the parts of ingest that keep anyone but the
 * client and the VA from steering keel: which account a message arrived in
 * (that account answers it), a client's flood of mail (a digest item), and
 * the thread's risk, which only the client and the VA move and which keeps
 * its peak for [replies] risk_memory days (daemon/record/verdict.c).
 *
 * Every count uses the time keel received the mail, never its Date header.
 *
 * Must not: send or queue anything, open transactions of its own (it runs
 * inside the pipeline's), log bodies.
 */
#include "daemon/ingest/pipeline-private.h"
#include "daemon/record/trail.h"
#include "daemon/record/verdict.h"

gboolean pipeline_arrival_account(Pipeline *pipeline, const StoreOrigin *origin,
                                  const KeelAccount **account, char **folder, GError **error)
{
  *account = NULL;
  *folder = NULL;
  if (origin->folder_id == 0 || !pipeline->config)
    return TRUE;
  g_autofree char *name = NULL;
  if (!store_folder_name(pipeline->store, origin->folder_id, &name, folder, error))
    return FALSE;
  *account = config_account_by_name(pipeline->config, name);
  return TRUE;
}

gboolean pipeline_flood_check(Pipeline *pipeline, const PipelineArrival *arrival,
                              const KeelClient *client, GError **error)
{
  if (!client || arrival->origin->first_sync
      || arrival->origin->direction != STORE_DIRECTION_IN)
    return TRUE;
  guint threshold = pipeline->config ? pipeline->config->replies_flood_threshold : 10;
  g_autoptr(GDateTime) hour_ago = g_date_time_add_hours(arrival->now, -1);
  gint64 count = store_client_received_count(pipeline->store, client->id, hour_ago, error);
  if (count < 0)
    return FALSE;
  if (count != (gint64)threshold + 1)
    return TRUE;
  g_autofree char *detail = g_strdup_printf(
    "%s sent more than %u messages within an hour: keel answers at most "
    "[replies] per_client_per_day of them; have a look at what is going on",
    client->name, threshold);
  g_message("client %s: more than %u messages within an hour", client->id, threshold);
  TrailEntry entry = { .kind = "flood", .client_id = client->id,
                       .thread_id = arrival->thread_id, .detail = detail, .at = arrival->now };
  return trail_append(pipeline->store, &entry, NULL, error);
}

gboolean pipeline_thread_risk(Pipeline *pipeline, const PipelineArrival *arrival,
                              const KeelMessage *message, double *risk, GError **error)
{
  /* As of the message's Date, but never later than keel got it: a Date in
   * the future must not age the thread's anger away. */
  GDateTime *as_of = g_date_time_compare(message->date, arrival->now) > 0 ? arrival->now
                                                                           : message->date;
  guint memory = pipeline->config ? pipeline->config->replies_risk_memory : 3;
  return verdict_guarded_thread_risk(pipeline->store, pipeline->rules, arrival->thread_id,
                                     arrival->row_id, as_of, memory, risk, error);
}
