/* daemon/record/verdict.c: score a stored message, save the verdict, keep its
 * thread's risk current. The one place where filters/score meets the store,
 * for ingest (pipeline.c) and `keel rescore` alike.
 *
 * The history signals (chasers, hours since the VA's last reply) are counted
 * in SQL (store_thread_history); after the verdict is saved, the thread risk
 * (score_thread_risk: recent messages weigh more, calm ones after an angry one
 * lower it) is computed over the messages of the last VERDICT_RISK_HALFLIVES
 * half-lives only (store_thread_entries_since): an older message weighs less
 * than 2^-40 of its risk. So scoring a message costs the same in a thread of
 * ten messages or of ten thousand (issue 20: a 3,000-message thread made
 * import and rescore quadratic).
 *
 * Only the client and the VA move a thread's risk (store_thread_party_entries):
 * a stranger's message in a client's thread is scored and stored but leaves
 * the thread's risk as it was. And a thread keeps its peak risk for
 * [replies] risk_memory days unless the VA wrote in it herself or marked it
 * handled (verdict_risk_floor), so calm mail cannot talk a risky thread down.
 *
 * Must not: open transactions of its own, read the clock, log bodies.
 */
#include "daemon/record/verdict.h"
#include "daemon/record/trail.h"

#define VERDICT_RISK_HALFLIVES 40

char *verdict_rules_dir(const char *option, const KeelConfig *config)
{
  if (option)
    return g_strdup(option);
  return config ? g_strdup(config->rules) : config_default_rules_dir();
}

gboolean verdict_load_rules(const char *dir, RuleSet **rules,
                            InstructionRules **instruction_rules, GError **error)
{
  g_autoptr(RuleSet) scoring = rules_load_dir(dir, error);
  if (!scoring)
    return FALSE;
  g_autoptr(InstructionRules) instructions = rules_load_instructions(dir, scoring, error);
  if (!instructions)
    return FALSE;
  *rules = g_steal_pointer(&scoring);
  *instruction_rules = g_steal_pointer(&instructions);
  return TRUE;
}

void verdict_context_init(ScoreContext *context, const KeelConfig *config, GTimeZone *tz)
{
  score_context_init(context);
  context->tz = tz;
  if (!config)
    return;
  context->timezone = config->timezone;
  context->has_business_hours = TRUE;
  context->business_days = config->business_hours.days;
  context->business_start_min = config->business_hours.start_min;
  context->business_end_min = config->business_hours.end_min;
}

/* The thread's messages as ScoreThreadEntry (dates borrowed from `entries`);
 * message `row_id` gets `risk` (its verdict, just saved), the others their
 * stored risk. */
static GArray *verdict_thread_array(GPtrArray *entries, gint64 row_id, double risk)
{
  GArray *array = g_array_sized_new(FALSE, TRUE, sizeof(ScoreThreadEntry), entries->len);
  for (guint i = 0; i < entries->len; i++) {
    const StoreThreadEntry *entry = g_ptr_array_index(entries, i);
    ScoreThreadEntry item = { entry->date, entry->direction == STORE_DIRECTION_OUT,
                              entry->row_id == row_id ? risk : entry->risk };
    g_array_append_val(array, item);
  }
  return array;
}

static gboolean verdict_store_thread_risk(Store *store, const RuleSet *rules, gint64 thread_id,
                                          GArray *thread, GDateTime *now, double *risk,
                                          GError **error)
{
  double value = score_thread_risk((const ScoreThreadEntry *)(void *)thread->data, thread->len,
                                   now, rules->thread_halflife_hours);
  if (risk)
    *risk = value;
  return store_set_thread_risk(store, thread_id, value, error);
}

/* The hits as the store wants them (fields borrowed from `result`). */
static GPtrArray *verdict_store_hits(const ScoreResult *result)
{
  GPtrArray *hits = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < result->hits->len; i++) {
    const ScoreHit *hit = g_ptr_array_index(result->hits, i);
    StoreHit *out = g_new0(StoreHit, 1);
    *out = (StoreHit){ hit->rule, hit->dimension, hit->points, hit->match, hit->start, hit->end,
                       hit->where };
    g_ptr_array_add(hits, out);
  }
  return hits;
}

/* The thread's messages that still weigh in its risk as of `now`. */
static GPtrArray *verdict_risk_entries(Store *store, const RuleSet *rules, gint64 thread_id,
                                       GDateTime *now, GError **error)
{
  double halflife = rules->thread_halflife_hours > 0 ? rules->thread_halflife_hours : 72;
  g_autoptr(GDateTime) since = now
    ? g_date_time_add_hours(now, -(gint)(halflife * VERDICT_RISK_HALFLIVES)) : NULL;
  return store_thread_party_entries(store, thread_id, since, error);
}

/* The history signals of `context` as of `date` (what
 * score_context_add_history() computes from every message of the thread). */
static gboolean verdict_add_history(Store *store, gint64 thread_id, GDateTime *date,
                                    ScoreContext *context, GError **error)
{
  StoreThreadHistory history = { 0 };
  if (!store_thread_history(store, thread_id, date, &history, error))
    return FALSE;
  context->chasers_since_reply = (int)MIN(history.in_since_reply + 1, G_MAXINT);
  context->chasers_24h = (int)MIN(history.in_last_24h + 1, G_MAXINT);
  if (history.last_reply) {
    context->hours_since_reply =
      g_date_time_difference(date, history.last_reply) / (double)G_TIME_SPAN_HOUR;
    g_date_time_unref(history.last_reply);
  }
  return TRUE;
}

ScoreResult *verdict_score_and_save(Store *store, const RuleSet *rules, const ScoreContext *base,
                                    const KeelMessage *message, gint64 row_id, gint64 thread_id,
                                    double *thread_risk, GError **error)
{
  ScoreContext context = *base;
  if (!verdict_add_history(store, thread_id, message->date, &context, error))
    return NULL;
  g_autoptr(ScoreResult) result = score_message(rules, message, &context, error);
  if (!result)
    return NULL;
  g_autoptr(GPtrArray) hits = verdict_store_hits(result);
  g_autofree char *flags = score_result_flags_csv(result);
  if (!store_save_verdict(store, row_id, result->scores, hits, result->risk, result->risky,
                          result->urgency, result->payment, flags, error))
    return NULL;
  for (guint i = 0; i < result->errors->len; i++)
    g_warning("message %" G_GINT64_FORMAT " <%s>: rule %s", row_id, message->message_id,
              (const char *)result->errors->pdata[i]);
  if (thread_risk) {
    g_autoptr(GPtrArray) party = verdict_risk_entries(store, rules, thread_id, message->date,
                                                      error);
    g_autoptr(GArray) scored = party ? verdict_thread_array(party, row_id, result->risk) : NULL;
    if (!scored || !verdict_store_thread_risk(store, rules, thread_id, scored, message->date,
                                              thread_risk, error))
      return NULL;
  }
  return g_steal_pointer(&result);
}

double verdict_risk_floor(const StoreThreadPeak *peak, GDateTime *now, guint memory_days)
{
  if (!peak->peak_at || peak->peak <= 0 || memory_days == 0)
    return 0;
  if (g_date_time_difference(now, peak->peak_at) > (GTimeSpan)memory_days * G_TIME_SPAN_DAY)
    return 0;
  if (peak->handled_at && g_date_time_compare(peak->handled_at, peak->peak_at) >= 0)
    return 0;
  if (peak->last_human_reply && g_date_time_compare(peak->last_human_reply, peak->peak_at) > 0)
    return 0;
  return peak->peak;
}

/* Stores `value` (the risk computed from the client's and the VA's messages)
 * raised to the remembered peak, and moves the peak when `value` reaches it. */
static gboolean verdict_store_guarded(Store *store, gint64 thread_id, double value,
                                      const StoreThreadPeak *peak, GDateTime *as_of,
                                      guint memory_days, double *risk, GError **error)
{
  double floor = verdict_risk_floor(peak, as_of, memory_days);
  if (value >= floor && !store_thread_set_peak(store, thread_id, value, as_of, error))
    return FALSE;
  *risk = MAX(value, floor);
  return store_set_thread_risk(store, thread_id, *risk, error);
}

gboolean verdict_guarded_thread_risk(Store *store, const RuleSet *rules, gint64 thread_id,
                                     gint64 row_id, GDateTime *as_of, guint memory_days,
                                     double *risk, GError **error)
{
  StoreThreadPeak peak;
  int party = store_message_is_party(store, row_id, error);
  if (party < 0 || !store_thread_peak(store, thread_id, &peak, error))
    return FALSE;
  gboolean ok = TRUE;
  if (!party) {
    /* A stranger's message: stored and shown, but the thread stays as it was. */
    *risk = MAX(peak.risk, verdict_risk_floor(&peak, as_of, memory_days));
  } else {
    g_autoptr(GPtrArray) entries = verdict_risk_entries(store, rules, thread_id, as_of, error);
    g_autoptr(GArray) thread = entries ? verdict_thread_array(entries, 0, 0) : NULL;
    double value = thread ? score_thread_risk((const ScoreThreadEntry *)(void *)thread->data,
                                              thread->len, as_of, rules->thread_halflife_hours)
                          : 0;
    ok = thread && verdict_store_guarded(store, thread_id, value, &peak, as_of, memory_days,
                                         risk, error);
  }
  store_thread_peak_clear(&peak);
  return ok;
}

gboolean verdict_update_thread_risk(Store *store, const RuleSet *rules, gint64 thread_id,
                                    GDateTime *now, double *risk, GError **error)
{
  g_autoptr(GPtrArray) entries = verdict_risk_entries(store, rules, thread_id, now, error);
  if (!entries)
    return FALSE;
  g_autoptr(GArray) thread = verdict_thread_array(entries, 0, 0);
  return verdict_store_thread_risk(store, rules, thread_id, thread, now, risk, error);
}
