/* daemon/digest/digest-send.c: when the digest goes and how it gets into the
 * outbox, and the alert.
 *
 * The schedule: `[digest] at = HH:MM` is a wall-clock time in the VA's zone;
 * a digest is due when a run time has passed since the last digest row in the
 * outbox. The maths (run times that stay at 08:00 on the days the clocks
 * change) is the pure filters/schedule.c; digest_next_run(), digest_due()
 * and digest_previous_run() are its names in the digest's API.
 *
 * The digest is for the VA herself: it goes through the outbox like every
 * keel message (kind "digest", no client, no thread), one row per recipient.
 * An alert is a row of kind "alert" with the thread's id, so the rate limit
 * (one per thread per local day) is a count of those rows. At most [replies]
 * alerts_per_day alerts go in a local day; then one summary alert (kind
 * "alert", no thread) says the rest wait for the digest.
 *
 * Must not: read the clock, send anything itself, or queue to a client.
 */
#include <string.h>
#include "daemon/digest/digest-private.h"
#include "filters/schedule.h"
#include "daemon/outbox/outbox.h"
#include "daemon/outbox/replies.h"
#include "daemon/record/trail.h"

/* ---- recipients and queueing ------------------------------------------- */

char **digest_recipients(const KeelConfig *config, GError **error)
{
  if (!config || config->accounts->len == 0) {
    g_set_error(error, KEEL_DIGEST_ERROR, KEEL_DIGEST_ERROR_ACCOUNT,
                "no [account] in the config to send the digest through");
    return NULL;
  }
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
  guint count = 0;
  for (char **to = config->digest_to; to && *to; to++)
    if ((*to)[0] != '@') {
      g_strv_builder_add(builder, *to);
      count++;
    }
  if (count == 0)
    g_strv_builder_add(builder, ((const KeelAccount *)config->accounts->pdata[0])->user);
  return g_strv_builder_end(builder);
}

/* Inserts one outbox row of `kind` for `raw` (inside the caller's transaction). */
static gint64 digest_insert_row(Store *store, const KeelAccount *account, const char *kind,
                                gint64 thread_id, const char *client_id, const char *rcpt,
                                const char *subject, const char *message_id, GBytes *raw,
                                GDateTime *now, GError **error)
{
  g_autofree char *clean_subject = replies_clean_value(subject);
  StoreOutboxRow row = {
    .account = account->name, .kind = (char *)kind, .client_id = (char *)client_id,
    .thread_id = thread_id, .message_id = (char *)message_id, .mail_from = account->user,
    .rcpt = (char *)rcpt, .subject = clean_subject, .raw = raw,
    .state = (char *)outbox_state_name(OUTBOX_QUEUED), .created = now,
  };
  return store_outbox_insert(store, &row, error);
}

static gboolean digest_queue_locked(Store *store, const KeelConfig *config,
                                    const Digest *digest, char **recipients, GError **error)
{
  const KeelAccount *account = config->accounts->pdata[0];
  g_autofree char *subject = digest_subject(digest);
  for (char **to = recipients; *to; to++) {
    g_autofree char *message_id = NULL;
    g_autoptr(GBytes) raw = digest_build_message(digest, account->user, *to, &message_id,
                                                 error);
    if (!raw || !digest_insert_row(store, account, "digest", 0, NULL, *to, subject,
                                   message_id, raw, digest->now, error))
      return FALSE;
  }
  return TRUE;
}

int digest_queue(Store *store, const KeelConfig *config, const Digest *digest, GError **error)
{
  g_auto(GStrv) recipients = digest_recipients(config, error);
  if (!recipients || !store_begin(store, error))
    return -1;
  if (!digest_queue_locked(store, config, digest, recipients, error)) {
    store_rollback(store);
    g_prefix_error(error, "queueing the digest: ");
    return -1;
  }
  if (!store_commit(store, error))
    return -1;
  g_message("digest queued for %u recipient(s)", g_strv_length(recipients));
  return (int)g_strv_length(recipients);
}

/* ---- the schedule (the maths is filters/schedule.c) ---------------------- */

GDateTime *digest_next_run(GDateTime *now, const char *at, GTimeZone *tz)
{
  return schedule_next_run(now, at, tz);
}

GDateTime *digest_previous_run(GDateTime *now, const char *at, GTimeZone *tz)
{
  return schedule_previous_run(now, at, tz);
}

gboolean digest_due(GDateTime *last_sent, GDateTime *now, const char *at, GTimeZone *tz)
{
  return schedule_due(last_sent, now, at, tz);
}

GDateTime *digest_next_due(GDateTime *last_sent, GDateTime *now, const char *at, GTimeZone *tz)
{
  return schedule_next_due(last_sent, now, at, tz);
}

gboolean digest_schedule(Store *store, const KeelConfig *config, GDateTime *now,
                         GDateTime **next, GDateTime **last_sent, GError **error)
{
  *next = NULL;
  g_autoptr(GDateTime) last = NULL;
  if (!store_digest_last_outbox(store, "digest", &last, error))
    return FALSE;
  if (config->digest_at) {
    g_autoptr(GTimeZone) zone = digest_zone(config->timezone);
    *next = digest_next_due(last, now, config->digest_at, zone);
  }
  if (last_sent)
    *last_sent = g_steal_pointer(&last);
  return TRUE;
}

gboolean digest_run_if_due(Store *store, const KeelConfig *config,
                           const DigestOptions *options, GDateTime *now, GError **error)
{
  DigestOptions defaults;
  digest_options_from_config(&defaults, config);
  if (!options)
    options = &defaults;
  if (!config || !config->digest_at)
    return FALSE;
  g_autoptr(GTimeZone) zone = digest_zone(config->timezone);
  g_autoptr(GDateTime) last = NULL;
  if (!store_digest_last_outbox(store, "digest", &last, error)
      || !digest_due(last, now, config->digest_at, zone))
    return FALSE;
  g_autoptr(Digest) digest = digest_gather(store, config, options, now, error);
  if (!digest)
    return FALSE;
  if (digest_is_empty(digest) && !options->send_empty)
    return FALSE;
  return digest_queue(store, config, digest, error) > 0;
}

/* ---- the alert ----------------------------------------------------------- */

static gboolean digest_flagged(const char *csv, const char *dimension)
{
  g_auto(GStrv) names = g_strsplit(csv ? csv : "", ",", -1);
  for (char **name = names; *name; name++)
    if (strcmp(g_strstrip(*name), dimension) == 0)
      return TRUE;
  return FALSE;
}

/* Alerts already queued for `thread_id` since the VA's local midnight. */
static gint64 digest_alerts_today(Store *store, gint64 thread_id, GDateTime *now,
                                  GTimeZone *zone, GError **error)
{
  g_autoptr(GDateTime) local = g_date_time_to_timezone(now, zone);
  g_autoptr(GDateTime) midnight = g_date_time_new(zone, g_date_time_get_year(local),
                                                  g_date_time_get_month(local),
                                                  g_date_time_get_day_of_month(local), 0, 0, 0);
  return store_outbox_count_thread(store, thread_id, "alert", midnight, error);
}

static gint64 digest_queue_alert(Store *store, const KeelConfig *config,
                                 const DigestThread *thread, gboolean threat, GDateTime *now,
                                 GError **error)
{
  g_auto(GStrv) recipients = digest_recipients(config, error);
  if (!recipients)
    return 0;
  const KeelAccount *account = config->accounts->pdata[0];
  g_autofree char *body = digest_render_alert_text(thread, now);
  g_autofree char *subject = g_strdup_printf("keel alert: %s: %s in \"%s\"", thread->client,
                                             threat ? "a threat" : "a very risky message",
                                             thread->subject);
  gint64 id = 0;
  for (char **to = recipients; *to; to++) {
    g_autofree char *message_id = replies_new_message_id(account->user);
    ReplySpec spec = { .from_name = "keel", .from_address = account->user, .to_address = *to,
                       .subject = subject, .body = body, .date = now,
                       .auto_submitted = "auto-generated" };
    g_autoptr(GBytes) raw = replies_build(&spec, message_id, error);
    id = raw ? digest_insert_row(store, account, "alert", thread->thread_id, thread->client_id,
                                 *to, subject, message_id, raw, now, error) : 0;
    if (id == 0)
      return 0;
  }
  return id;
}

/* TRUE for a message an alert may be about: a client's, not automated, not
 * history from a first sync or an import, and dated within the last day. */
static gboolean digest_alert_candidate(const StoreDigestMessage *message, GDateTime *now)
{
  g_autoptr(GDateTime) day_ago = g_date_time_add_days(now, -1);
  return message->direction == STORE_DIRECTION_IN && !message->automated
         && !message->first_sync && g_date_time_compare(message->date, day_ago) >= 0;
}

/* The thread of `message` when the message calls for an alert (a threat, or
 * the thread's risk at the threshold), else NULL; `*threat` says which. */
static StoreThreadRow *digest_alert_thread(Store *store, const DigestOptions *options,
                                           const StoreDigestMessage *message, GDateTime *now,
                                           gboolean *threat, GError **error)
{
  if (!digest_alert_candidate(message, now))
    return NULL;
  StoreThreadRow *thread = store_digest_thread(store, message->thread_id, error);
  *threat = digest_flagged(message->flags, "threat");
  if (thread && !*threat && thread->risk < options->alert_threshold)
    g_clear_pointer(&thread, store_thread_row_free);
  return thread;
}

/* The VA's local midnight before `now`. New reference. */
static GDateTime *digest_local_midnight(GDateTime *now, GTimeZone *zone)
{
  g_autoptr(GDateTime) local = g_date_time_to_timezone(now, zone);
  return g_date_time_new(zone, g_date_time_get_year(local), g_date_time_get_month(local),
                         g_date_time_get_day_of_month(local), 0, 0, 0);
}

/* The one alert that says the day's alerts are used up, and its trail event. */
static gboolean digest_queue_alert_summary(Store *store, const KeelConfig *config,
                                           char **recipients, guint limit, GDateTime *now,
                                           GError **error)
{
  const KeelAccount *account = config->accounts->pdata[0];
  g_autofree char *subject = g_strdup_printf("keel alert: more than %u alerts today", limit);
  g_autofree char *body = g_strdup_printf(
    "keel has sent you %u alerts today, the limit ([replies] alerts_per_day).\n"
    "Anything else risky today waits for your digest; `keel threads` shows it now.\n", limit);
  for (char **to = recipients; *to; to++) {
    g_autofree char *message_id = replies_new_message_id(account->user);
    ReplySpec spec = { .from_name = "keel", .from_address = account->user, .to_address = *to,
                       .subject = subject, .body = body, .date = now,
                       .auto_submitted = "auto-generated" };
    g_autoptr(GBytes) raw = replies_build(&spec, message_id, error);
    if (!raw || !digest_insert_row(store, account, "alert", 0, NULL, *to, subject, message_id,
                                   raw, now, error))
      return FALSE;
  }
  TrailEntry entry = { .kind = "alerts_held", .detail = subject, .at = now };
  return trail_append(store, &entry, NULL, error);
}

/* 1 when an alert may go now: fewer than [replies] alerts_per_day went since
 * local midnight (one row per recipient each). Else 0, and the first alert
 * held back queues one summary alert instead. -1 on error. */
static int digest_alert_room(Store *store, const KeelConfig *config, GDateTime *now,
                             GTimeZone *zone, GError **error)
{
  guint limit = config->replies_alerts_per_day ? config->replies_alerts_per_day : 10;
  g_autoptr(GDateTime) midnight = digest_local_midnight(now, zone);
  g_auto(GStrv) recipients = digest_recipients(config, error);
  gint64 rows = recipients ? store_outbox_count_client(store, "alert", NULL, midnight, error)
                           : -1;
  if (rows < 0)
    return -1;
  gint64 alerts = rows / MAX(1, g_strv_length(recipients));
  if (alerts < limit)
    return 1;
  if (alerts > limit)
    return 0;
  g_message("alerts: %u today, the limit; one summary alert, the rest wait for the digest",
            limit);
  if (!store_begin(store, error))
    return -1;
  if (!digest_queue_alert_summary(store, config, recipients, limit, now, error)) {
    store_rollback(store);
    return -1;
  }
  return store_commit(store, error) ? 0 : -1;
}

/* Builds and queues the alert about `thread`, unless one went today. */
static gboolean digest_alert_thread_queue(Store *store, const KeelConfig *config,
                                          const StoreThreadRow *thread, gboolean threat,
                                          GDateTime *now, gint64 *outbox_id, GError **error)
{
  g_autoptr(GTimeZone) zone = digest_zone(config ? config->timezone : NULL);
  gint64 sent = digest_alerts_today(store, thread->id, now, zone, error);
  if (sent != 0)
    return sent > 0;
  int room = digest_alert_room(store, config, now, zone, error);
  if (room <= 0)
    return room == 0;
  g_autoptr(DigestThread) entry = digest_thread_build(store, thread, zone, now, 0, error);
  if (!entry || !store_begin(store, error))
    return FALSE;
  gint64 id = digest_queue_alert(store, config, entry, threat, now, error);
  if (id == 0) {
    store_rollback(store);
    return FALSE;
  }
  *outbox_id = id;
  g_message("alert %" G_GINT64_FORMAT " queued for thread %" G_GINT64_FORMAT, id, thread->id);
  return store_commit(store, error);
}

gboolean digest_alert_for_message(Store *store, const KeelConfig *config,
                                  const DigestOptions *options, gint64 row_id,
                                  GDateTime *now, gint64 *outbox_id, GError **error)
{
  DigestOptions defaults;
  digest_options_from_config(&defaults, config);
  options = options ? options : &defaults;
  gint64 ignored = 0;
  outbox_id = outbox_id ? outbox_id : &ignored;
  *outbox_id = 0;
  g_autoptr(GError) local = NULL;
  g_autoptr(StoreDigestMessage) message = store_digest_message(store, row_id, &local);
  gboolean threat = FALSE;
  StoreThreadRow *thread = message ? digest_alert_thread(store, options, message, now,
                                                         &threat, &local) : NULL;
  gboolean ok = !local && (!thread || digest_alert_thread_queue(store, config, thread, threat,
                                                                now, outbox_id, &local));
  store_thread_row_free(thread);
  if (!ok)
    g_propagate_prefixed_error(error, g_steal_pointer(&local), "the alert: ");
  return ok;
}
