/* daemon/digest/digest.c: gathering the daily digest from the store, its schedule,
 * queueing it, and the alert for one very risky message. Rendering (subject,
 * text, HTML, MIME) lives in digest-render.c.
 *
 * How it works: digest_gather() asks store-digest.c for each section's rows
 * and turns them into plain values in the VA's time zone: risky threads (with
 * their flagged dimensions, the matched phrases in context, a next step per
 * dimension and the client's risk per week), instructions overdue or due
 * today or tomorrow, client mail unanswered for more than N business hours,
 * what keel queued since the last digest, and problems (outbox failures, poll
 * errors). The outbox rows of kind "digest" and "alert" are the record of
 * what went when: the schedule and the alert rate limit read them.
 *
 * Must not: read the clock (`now` is a parameter), send anything itself (the
 * outbox does), or write to the store other than through the outbox rows.
 */
#include <stdio.h>
#include <string.h>
#include "daemon/record/rules-dir.h"
#include "daemon/digest/digest.h"
#include "daemon/digest/digest-private.h"
#include "daemon/outbox/outbox.h"
#include "filters/excerpt.h"
#include "daemon/record/verdict.h"
#include "daemon/store/store-word.h"
#include "filters/score.h"

G_DEFINE_QUARK(keel-digest-error-quark, keel_digest_error)

#define DIGEST_MESSAGES_PER_THREAD 5
#define DIGEST_QUOTES_PER_THREAD 3
#define DIGEST_UNANSWERED_LOOKBACK_DAYS 30
#define DIGEST_CONTEXT_BYTES 40

void digest_options_init(DigestOptions *options)
{
  options->send_empty = FALSE;
  options->alert_threshold = 3;
  options->unanswered_hours = 24;
  options->weeks = 8;
  options->rules = NULL;
  options->rules_error = NULL;
}

void digest_options_from_config(DigestOptions *options, const KeelConfig *config)
{
  digest_options_init(options);
  if (!config)
    return;
  options->send_empty = config->digest_send_empty;
  options->alert_threshold = config->digest_alert_threshold;
}

/* The risk dimensions the digest names, most serious first, and what an
 * experienced VA does about each. */
static const struct { const char *dimension, *step; } digest_steps[] = {
  { "threat", "Check the signed agreement and the trail (keel trail --client %s) before you answer." },
  { "tone", "Take a break before replying; establish the facts first." },
  { "blame", "Check whether the information you needed arrived on time (keel trail --client %s)." },
  { "payment", "Walk through the invoice against the agreed rates and quote the client's confirmation." },
  { "scope", "Restate the agreed hours and scope; consider offering a retainer." },
  { "vague", "Take a full written brief before starting." },
  { "urgency", "Say when you will answer, and answer when you said." },
};

static int digest_dimension_rank(const char *dimension)
{
  for (gsize i = 0; i < G_N_ELEMENTS(digest_steps); i++)
    if (g_strcmp0(digest_steps[i].dimension, dimension) == 0)
      return (int)i;
  return -1;
}

GTimeZone *digest_zone(const char *name)
{
  GTimeZone *zone = name ? g_time_zone_new_identifier(name) : NULL;
  return zone ? zone : g_time_zone_new_utc();
}

static const KeelClient *digest_client(const KeelConfig *config, const char *id)
{
  for (guint i = 0; config && id && i < config->clients->len; i++) {
    const KeelClient *client = config->clients->pdata[i];
    if (g_strcmp0(client->id, id) == 0)
      return client;
  }
  return NULL;
}

/* ---- freeing ------------------------------------------------------------ */

static void digest_quote_free(DigestQuote *quote)
{
  g_free(quote->phrase);
  g_free(quote->context);
  g_free(quote->dimension);
  g_free(quote->rule);
  g_free(quote->why);
  g_free(quote);
}

void digest_thread_free(DigestThread *thread)
{
  if (!thread)
    return;
  g_free(thread->client_id);
  g_free(thread->client);
  g_free(thread->subject);
  g_free(thread->risk_words);
  g_clear_pointer(&thread->last_date, g_date_time_unref);
  g_clear_pointer(&thread->last_reply, g_date_time_unref);
  g_clear_pointer(&thread->dimensions, g_ptr_array_unref);
  g_clear_pointer(&thread->quotes, g_ptr_array_unref);
  g_clear_pointer(&thread->next_steps, g_ptr_array_unref);
  g_free(thread);
}

static void digest_instruction_free(DigestInstruction *item)
{
  g_free(item->client);
  g_free(item->text);
  g_clear_pointer(&item->deadline, g_date_time_unref);
  g_free(item);
}

static void digest_waiting_free(DigestWaiting *item)
{
  g_free(item->client);
  g_free(item->subject);
  g_clear_pointer(&item->since, g_date_time_unref);
  g_free(item);
}

void digest_free(Digest *digest)
{
  if (!digest)
    return;
  g_clear_pointer(&digest->now, g_date_time_unref);
  g_clear_pointer(&digest->since, g_date_time_unref);
  g_clear_pointer(&digest->risky, g_ptr_array_unref);
  g_clear_pointer(&digest->instructions, g_ptr_array_unref);
  g_clear_pointer(&digest->waiting, g_ptr_array_unref);
  g_clear_pointer(&digest->activity, g_ptr_array_unref);
  g_clear_pointer(&digest->health, g_ptr_array_unref);
  g_clear_pointer(&digest->payments, g_ptr_array_unref);
  g_clear_pointer(&digest->word, g_ptr_array_unref);
  g_free(digest->trail_head);
  g_free(digest);
}

/* ---- risky threads ------------------------------------------------------ */

/* `text` around bytes [start, end), about DIGEST_CONTEXT_BYTES either side,
 * cut at word boundaries (filters/excerpt), on one line, "…" where cut. */
char *digest_context(const char *text, gint64 start, gint64 end)
{
  return end > start ? excerpt_around(text, start, end, DIGEST_CONTEXT_BYTES) : NULL;
}

/* TRUE when `phrase` already shows in one of `quotes` (the same phrase, or
 * a shorter match inside a longer one's context). */
static gboolean digest_quote_shown(GPtrArray *quotes, const char *phrase)
{
  g_autofree char *needle = g_utf8_casefold(phrase, -1);
  for (guint i = 0; i < quotes->len; i++) {
    const DigestQuote *quote = quotes->pdata[i];
    g_autofree char *context = g_utf8_casefold(quote->context ? quote->context : "", -1);
    g_autofree char *shown = g_utf8_casefold(quote->phrase, -1);
    if (strstr(context, needle) || strstr(needle, shown))
      return TRUE;
  }
  return FALSE;
}

/* One quote per distinct phrase of a risk dimension, from `message`'s hits. */
static void digest_add_quotes(DigestThread *thread, const StoreDigestMessage *message,
                              GPtrArray *hits)
{
  for (guint i = 0; i < hits->len && thread->quotes->len < DIGEST_QUOTES_PER_THREAD; i++) {
    const StoreHitRow *hit = hits->pdata[i];
    if (digest_dimension_rank(hit->dimension) < 0 || !hit->match || hit->points <= 0)
      continue;
    if (digest_quote_shown(thread->quotes, hit->match))
      continue;
    DigestQuote *quote = g_new0(DigestQuote, 1);
    quote->phrase = g_strdup(hit->match);
    quote->dimension = g_strdup(hit->dimension);
    if (g_strcmp0(hit->where, "text") == 0 && message->new_text)
      quote->context = digest_context(message->new_text, hit->start, hit->end);
    else if (g_strcmp0(hit->where, "subject") == 0)
      quote->context = g_strdup(message->subject);
    quote->rule = g_strdup(hit->rule); /* a signal or a rule over rules: its why alone */
    g_ptr_array_add(thread->quotes, quote);
  }
}

static gboolean digest_dimension_seen(const char *dimension, GPtrArray *dimensions)
{
  for (guint i = 0; i < dimensions->len; i++)
    if (strcmp(dimensions->pdata[i], dimension) == 0)
      return TRUE;
  return FALSE;
}

/* Adds each risk dimension of `csv` (comma-separated) not listed yet. */
static void digest_add_dimensions(GPtrArray *dimensions, const char *csv)
{
  g_auto(GStrv) names = g_strsplit(csv ? csv : "", ",", -1);
  for (char **name = names; *name; name++) {
    g_strstrip(*name);
    if (digest_dimension_rank(*name) >= 0 && !digest_dimension_seen(*name, dimensions))
      g_ptr_array_add(dimensions, g_strdup(*name));
  }
}

static gint digest_compare_dimensions(gconstpointer a, gconstpointer b)
{
  return digest_dimension_rank(*(char *const *)a) - digest_dimension_rank(*(char *const *)b);
}

static gboolean digest_payment_risky(const char *payment)
{
  return g_strv_contains((const char *const[]){ "refusal", "dispute", "haggle", NULL },
                         payment ? payment : "");
}

/* Flags, quotes and hit dimensions from the thread's newest scored messages. */
static gboolean digest_thread_evidence(Store *store, DigestThread *thread, GDateTime *now,
                                       GError **error)
{
  g_autoptr(GPtrArray) messages = store_digest_thread_messages(store, thread->thread_id,
                                                               DIGEST_MESSAGES_PER_THREAD, error);
  if (!messages)
    return FALSE;
  g_autoptr(GPtrArray) hit_dimensions = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < messages->len; i++) {
    const StoreDigestMessage *message = messages->pdata[i];
    if (g_date_time_compare(message->date, now) > 0)
      continue; /* as of `now`: later mail is not counted */
    digest_add_dimensions(thread->dimensions, message->flags);
    if (digest_payment_risky(message->payment))
      digest_add_dimensions(thread->dimensions, "payment");
    g_autoptr(GPtrArray) hits = store_digest_message_hits(store, message->row_id, error);
    if (!hits)
      return FALSE;
    for (guint j = 0; j < hits->len; j++)
      digest_add_dimensions(hit_dimensions, ((StoreHitRow *)hits->pdata[j])->dimension);
    digest_add_quotes(thread, message, hits);
  }
  if (thread->dimensions->len == 0)
    for (guint i = 0; i < hit_dimensions->len; i++)
      g_ptr_array_add(thread->dimensions, g_strdup(hit_dimensions->pdata[i]));
  g_ptr_array_sort(thread->dimensions, digest_compare_dimensions);
  return TRUE;
}

static void digest_thread_steps(DigestThread *thread)
{
  for (guint i = 0; i < thread->dimensions->len; i++) {
    int rank = digest_dimension_rank(thread->dimensions->pdata[i]);
    const char *step = digest_steps[rank].step;
    if (strstr(step, "%s"))
      g_ptr_array_add(thread->next_steps,
                      g_strdup_printf(step, thread->client_id ? thread->client_id : "CLIENT"));
    else
      g_ptr_array_add(thread->next_steps, g_strdup(step));
  }
}

/* The client's risk per week, `weeks` buckets ending at `now`, oldest first. */
static gboolean digest_thread_weekly(Store *store, DigestThread *thread, GDateTime *now,
                                     guint weeks, GError **error)
{
  if (!thread->client_id)
    return TRUE;
  g_autoptr(GDateTime) since = g_date_time_add_days(now, -7 * (int)weeks);
  g_autoptr(GArray) points = store_digest_client_risks(store, thread->client_id, since, error);
  if (!points)
    return FALSE;
  gint64 end = g_date_time_to_unix(now);
  for (guint i = 0; i < points->len; i++) {
    const StoreRiskPoint *point = &g_array_index(points, StoreRiskPoint, i);
    if (point->unix_time > end)
      continue; /* as of `now`: nothing after it counts */
    thread->risky_this_week += point->risk >= 1.0 && end - point->unix_time < 7 * 24 * 3600;
    gint64 age = MAX(end - point->unix_time, 0) / (7 * 24 * 3600);
    if (age < (gint64)weeks)
      thread->weekly[weeks - 1 - age] += point->risk;
  }
  return TRUE;
}

DigestThread *digest_thread_build(Store *store, const StoreThreadRow *row, GTimeZone *zone,
                                  GDateTime *now, guint weeks, GError **error)
{
  g_autoptr(DigestThread) thread = g_new0(DigestThread, 1);
  thread->thread_id = row->id;
  thread->client_id = g_strdup(row->client_id);
  thread->client = g_strdup(row->client ? row->client
                                        : row->counterpart ? row->counterpart : "unknown sender");
  thread->subject = g_strdup(row->subject);
  thread->last_date = row->last_date ? g_date_time_to_timezone(row->last_date, zone) : NULL;
  thread->risk = row->risk;
  thread->dimensions = g_ptr_array_new_with_free_func(g_free);
  thread->quotes = g_ptr_array_new_with_free_func((GDestroyNotify)digest_quote_free);
  thread->next_steps = g_ptr_array_new_with_free_func(g_free);
  if (!digest_thread_evidence(store, thread, now, error)
      || !digest_thread_weekly(store, thread, now, weeks, error))
    return NULL;
  digest_thread_steps(thread);
  return g_steal_pointer(&thread);
}

/* The risk of `thread_id` as of `now`, and the VA's last message in it
 * (`*last_reply`, new reference or NULL); -1 with `error` on a store failure. */
static double digest_thread_risk_now(Store *store, gint64 thread_id, GDateTime *now,
                                     double halflife_hours, GDateTime **last_reply,
                                     GDateTime **last_seen, GError **error)
{
  g_autoptr(GPtrArray) entries = store_thread_party_entries(store, thread_id, NULL, error);
  if (!entries)
    return -1;
  g_autoptr(GArray) scored = g_array_sized_new(FALSE, FALSE, sizeof(ScoreThreadEntry),
                                               entries->len);
  for (guint i = 0; i < entries->len; i++) {
    const StoreThreadEntry *entry = entries->pdata[i];
    if (g_date_time_compare(entry->date, now) > 0)
      continue; /* as of `now`: later mail is not counted */
    if (last_seen) {
      g_clear_pointer(last_seen, g_date_time_unref);
      *last_seen = g_date_time_ref(entry->date);
    }
    ScoreThreadEntry e = { entry->date, entry->direction == STORE_DIRECTION_OUT,
                           entry->direction == STORE_DIRECTION_OUT ? 0 : entry->risk };
    g_array_append_val(scored, e);
    if (e.outgoing && g_date_time_compare(entry->date, now) <= 0) {
      g_clear_pointer(last_reply, g_date_time_unref);
      *last_reply = g_date_time_ref(entry->date);
    }
  }
  return score_thread_risk((const ScoreThreadEntry *)(void *)scored->data, scored->len, now,
                           halflife_hours);
}

static gint digest_compare_risk(gconstpointer a, gconstpointer b)
{
  const DigestThread *x = *(DigestThread *const *)a, *y = *(DigestThread *const *)b;
  return x->risk < y->risk ? 1 : x->risk > y->risk ? -1 : 0;
}

/* The risk `thread_id` keeps as of `now` (verdict_risk_floor), -1 on error. */
static double digest_thread_floor(Store *store, gint64 thread_id, GDateTime *now,
                                  guint memory_days, GError **error)
{
  StoreThreadPeak peak;
  if (!store_thread_peak(store, thread_id, &peak, error))
    return -1;
  double floor = verdict_risk_floor(&peak, now, memory_days);
  store_thread_peak_clear(&peak);
  return floor;
}

/* Threads stored as risky that still are as of now, riskiest first. Only
 * the client's and the VA's messages count; a thread keeps its peak for
 * `memory_days` unless the VA dealt with it. */
static gboolean digest_gather_risky(Store *store, Digest *digest, GTimeZone *zone,
                                    double halflife_hours, guint memory_days, GError **error)
{
  g_autoptr(GPtrArray) rows = store_digest_risky_threads(store, 1.0, error);
  if (!rows)
    return FALSE;
  for (guint i = 0; i < rows->len; i++) {
    StoreThreadRow *row = rows->pdata[i];
    gboolean handled = FALSE;
    if (!store_thread_is_handled(store, row->id, digest->now, &handled, error))
      return FALSE;
    if (handled)
      continue; /* keel thread handled: out until new client mail */
    g_autoptr(GDateTime) last_reply = NULL, last_seen = NULL;
    double risk = digest_thread_risk_now(store, row->id, digest->now, halflife_hours,
                                         &last_reply, &last_seen, error);
    double floor = risk < 0 ? -1 : digest_thread_floor(store, row->id, digest->now,
                                                        memory_days, error);
    if (floor < 0)
      return FALSE;
    risk = MAX(risk, floor);
    if (risk < 1.0)
      continue;
    row->risk = risk;
    if (last_seen && row->last_date && g_date_time_compare(row->last_date, digest->now) > 0) {
      g_date_time_unref(row->last_date);
      row->last_date = g_date_time_ref(last_seen);
    }
    DigestThread *thread = digest_thread_build(store, row, zone, digest->now, digest->weeks,
                                               error);
    if (!thread)
      return FALSE;
    thread->last_reply = last_reply ? g_date_time_to_timezone(last_reply, zone) : NULL;
    g_ptr_array_add(digest->risky, thread);
  }
  g_ptr_array_sort(digest->risky, digest_compare_risk);
  return TRUE;
}

/* The first line of `message`, with how many more there were. New string. */
static char *digest_first_line(const char *message)
{
  g_auto(GStrv) lines = g_strsplit(message ? message : "", "\n", -1);
  guint count = g_strv_length(lines);
  while (count > 0 && lines[count - 1][0] == '\0')
    count--;
  if (count <= 1)
    return g_strdup(count ? lines[0] : "");
  return g_strdup_printf("%s (and %u more)", lines[0], count - 1);
}

/* The thread half-life of the rules in force (0: the default); a rule set
 * that does not load is a health item. */
static double digest_rules_halflife(const KeelConfig *config, const DigestOptions *options,
                                    Digest *digest)
{
  if (options->rules_error) {
    g_autofree char *first = digest_first_line(options->rules_error);
    g_ptr_array_add(digest->health, g_strdup_printf("the rules did not reload, the previous "
                                                    "ones are still in force: %s", first));
  }
  if (options->rules || !config)
    return options->rules ? options->rules->thread_halflife_hours : 0;
  g_autofree char *dir = verdict_rules_dir(NULL, config);
  g_autoptr(GError) local = NULL;
  g_autoptr(RuleSet) rules = rules_load_dir(dir, &local);
  if (rules)
    return rules->thread_halflife_hours;
  g_autofree char *first = digest_first_line(local->message);
  g_ptr_array_add(digest->health, g_strdup_printf("the rules in %s do not load (keel rules "
                                                  "check): %s", dir, first));
  return 0;
}

/* ---- instructions ------------------------------------------------------- */

/* "YYYY-MM-DDTHH:MM" in `zone`, or NULL. */
static GDateTime *digest_parse_deadline(const char *text, GTimeZone *zone)
{
  int y, mo, d, h, mi;
  if (!text || sscanf(text, "%4d-%2d-%2dT%2d:%2d", &y, &mo, &d, &h, &mi) != 5)
    return NULL;
  return g_date_time_new(zone, y, mo, d, h, mi, 0);
}

static gboolean digest_same_day(GDateTime *a, GDateTime *b)
{
  return g_date_time_get_year(a) == g_date_time_get_year(b)
         && g_date_time_get_day_of_year(a) == g_date_time_get_day_of_year(b);
}

/* Overdue, today or tomorrow (in the VA's zone); FALSE for later. */
static gboolean digest_classify_due(GDateTime *deadline, GDateTime *now, DigestDue *due)
{
  g_autoptr(GDateTime) tomorrow = g_date_time_add_days(now, 1);
  if (g_date_time_compare(deadline, now) < 0)
    *due = DIGEST_DUE_OVERDUE;
  else if (digest_same_day(deadline, now))
    *due = DIGEST_DUE_TODAY;
  else if (digest_same_day(deadline, tomorrow))
    *due = DIGEST_DUE_TOMORROW;
  else
    return FALSE;
  return TRUE;
}

static DigestInstruction *digest_instruction_build(const KeelConfig *config,
                                                   const StoreInstructionRow *row,
                                                   GDateTime *now)
{
  const KeelClient *client = digest_client(config, row->client_id);
  g_autoptr(GTimeZone) zone = digest_zone(client && client->timezone ? client->timezone
                                          : config ? config->timezone : NULL);
  g_autoptr(GDateTime) deadline = digest_parse_deadline(row->deadline, zone);
  DigestDue due;
  if (!deadline || !digest_classify_due(deadline, now, &due))
    return NULL;
  DigestInstruction *item = g_new0(DigestInstruction, 1);
  item->id = row->id;
  item->client = g_strdup(client ? client->name : row->client_id ? row->client_id : "(note)");
  item->text = g_strdup(row->text);
  item->deadline = g_date_time_to_timezone(deadline, g_date_time_get_timezone(now));
  item->due = due;
  return item;
}

static gint digest_compare_instructions(gconstpointer a, gconstpointer b)
{
  const DigestInstruction *x = *(DigestInstruction *const *)a;
  const DigestInstruction *y = *(DigestInstruction *const *)b;
  if (x->due != y->due)
    return (int)x->due - (int)y->due;
  return g_date_time_compare(x->deadline, y->deadline);
}

static gboolean digest_gather_instructions(Store *store, const KeelConfig *config,
                                           Digest *digest, GError **error)
{
  g_autoptr(GPtrArray) rows = store_digest_open_instructions(store, error);
  if (!rows)
    return FALSE;
  for (guint i = 0; i < rows->len; i++) {
    const StoreInstructionRow *row = rows->pdata[i];
    if (row->created && g_date_time_compare(row->created, digest->now) > 0)
      continue; /* as of `now` */
    if (!digest_word_instruction_listed(config, row, digest->now))
      continue; /* probably done, or history: see digest-word.c */
    DigestInstruction *item = digest_instruction_build(config, row, digest->now);
    if (item)
      g_ptr_array_add(digest->instructions, item);
  }
  g_ptr_array_sort(digest->instructions, digest_compare_instructions);
  return TRUE;
}

/* ---- unanswered client mail --------------------------------------------- */

/* The local time `minutes` after midnight of `day` in `zone` (1440 = the next
 * midnight). */
static GDateTime *digest_local_minutes(const GDate *day, guint minutes, GTimeZone *zone)
{
  GDate date = *day;
  if (minutes >= 24 * 60) {
    g_date_add_days(&date, 1);
    minutes = 0;
  }
  return g_date_time_new(zone, g_date_get_year(&date), g_date_get_month(&date),
                         g_date_get_day(&date), (int)(minutes / 60), (int)(minutes % 60), 0);
}

double digest_business_hours(GDateTime *from, GDateTime *to, const KeelBusinessHours *hours,
                             GTimeZone *zone)
{
  if (g_date_time_compare(from, to) >= 0)
    return 0;
  g_autoptr(GDateTime) local_from = g_date_time_to_timezone(from, zone);
  g_autoptr(GDateTime) local_to = g_date_time_to_timezone(to, zone);
  GDate day, last;
  g_date_clear(&day, 1);
  g_date_clear(&last, 1);
  g_date_set_dmy(&day, (GDateDay)g_date_time_get_day_of_month(local_from),
                 (GDateMonth)g_date_time_get_month(local_from),
                 (GDateYear)g_date_time_get_year(local_from));
  g_date_set_dmy(&last, (GDateDay)g_date_time_get_day_of_month(local_to),
                 (GDateMonth)g_date_time_get_month(local_to),
                 (GDateYear)g_date_time_get_year(local_to));
  GTimeSpan total = 0;
  for (int guard = 0; g_date_compare(&day, &last) <= 0 && guard < 400;
       guard++, g_date_add_days(&day, 1)) {
    if (!(hours->days & (1u << (g_date_get_weekday(&day) - 1))))
      continue;
    g_autoptr(GDateTime) open = digest_local_minutes(&day, hours->start_min, zone);
    g_autoptr(GDateTime) close = digest_local_minutes(&day, hours->end_min, zone);
    GDateTime *lo = g_date_time_compare(open, from) > 0 ? open : from;
    GDateTime *hi = g_date_time_compare(close, to) < 0 ? close : to;
    if (g_date_time_compare(lo, hi) < 0)
      total += g_date_time_difference(hi, lo);
  }
  return (double)total / G_TIME_SPAN_HOUR;
}

static gboolean digest_gather_waiting(Store *store, const KeelConfig *config,
                                      const DigestOptions *options, Digest *digest,
                                      GTimeZone *zone, GError **error)
{
  g_autoptr(GDateTime) lookback = g_date_time_add_days(digest->now,
                                                       -DIGEST_UNANSWERED_LOOKBACK_DAYS);
  g_autoptr(GPtrArray) rows = store_digest_unanswered(store, lookback, error);
  if (!rows)
    return FALSE;
  KeelBusinessHours fallback = { 0x1f, 9 * 60, 17 * 60 + 30 };
  const KeelBusinessHours *hours = config ? &config->business_hours : &fallback;
  for (guint i = 0; i < rows->len; i++) {
    const StoreWaitingRow *row = rows->pdata[i];
    if (g_date_time_compare(row->since, digest->now) > 0)
      continue; /* as of `now` */
    double waited = digest_business_hours(row->since, digest->now, hours, zone);
    gboolean listed = TRUE;
    if (waited >= options->unanswered_hours
        && !digest_word_waiting_listed(store, config, row->row_id, digest->now, &listed, error))
      return FALSE;
    if (waited < options->unanswered_hours || !listed)
      continue;
    DigestWaiting *item = g_new0(DigestWaiting, 1);
    item->thread_id = row->thread_id;
    item->client = g_strdup(row->client);
    item->subject = g_strdup(row->subject);
    item->since = g_date_time_to_timezone(row->since, zone);
    item->business_hours = waited;
    g_ptr_array_add(digest->waiting, item);
  }
  return TRUE;
}

/* ---- activity and health ------------------------------------------------ */

static gboolean digest_is_own_kind(const char *kind)
{
  return g_strcmp0(kind, "digest") == 0 || g_strcmp0(kind, "alert") == 0;
}

/* The health line for an outbox row that needs the VA, or NULL. */
static char *digest_outbox_problem(const KeelConfig *config, const StoreOutboxRow *row)
{
  OutboxState state = OUTBOX_QUEUED;
  if (!outbox_state_parse(row->state, &state))
    return NULL;
  const KeelClient *client = config && row->client_id
                             ? config_client_by_name(config, row->client_id) : NULL;
  const char *who = client ? client->name : row->client_id ? row->client_id : row->rcpt;
  const char *reason = row->last_error ? row->last_error : "no reason given";
  switch (state) {
  case OUTBOX_UNCERTAIN:
    return g_strdup_printf("a %s to %s (\"%s\") may or may not have gone out; check your "
                           "Sent folder. keel outbox retry %" G_GINT64_FORMAT " sends it again, "
                           "keel outbox cancel %" G_GINT64_FORMAT " drops it",
                           g_strcmp0(row->kind, "confirm") == 0 ? "reply" : row->kind, who,
                           row->subject, row->id, row->id);
  case OUTBOX_FAILED:
  case OUTBOX_TEMPFAIL:
    return g_strdup_printf("outbox %" G_GINT64_FORMAT " (%s to %s, \"%s\") %s: %s", row->id,
                           row->kind, row->rcpt, row->subject, state == OUTBOX_FAILED
                             ? "failed (keel outbox retry ID sends it again)"
                             : "delayed, will be retried", reason);
  default:
    return NULL;
  }
}

static gboolean digest_gather_outbox(Store *store, const KeelConfig *config, Digest *digest,
                                     GError **error)
{
  g_autoptr(GPtrArray) rows = store_outbox_list(store, NULL, error);
  if (!rows)
    return FALSE;
  g_autoptr(GDateTime) day_ago = g_date_time_add_days(digest->now, -1);
  GDateTime *since = digest->since ? digest->since : day_ago;
  for (guint i = 0; i < rows->len; i++) {
    StoreOutboxRow *row = rows->pdata[i];
    if (g_date_time_compare(row->created, digest->now) > 0)
      continue; /* as of `now` */
    char *problem = digest_outbox_problem(config, row);
    if (problem)
      g_ptr_array_add(digest->health, problem);
    else if (!digest_is_own_kind(row->kind) && g_date_time_compare(row->created, since) >= 0)
      g_ptr_array_add(digest->activity, g_steal_pointer(&rows->pdata[i]));
  }
  return TRUE;
}

static gboolean digest_gather_accounts(Store *store, Digest *digest, GTimeZone *zone,
                                       GError **error)
{
  g_autoptr(GPtrArray) rows = store_list_accounts(store, error);
  if (!rows)
    return FALSE;
  for (guint i = 0; i < rows->len; i++) {
    const StoreAccountRow *row = rows->pdata[i];
    if (!row->last_error)
      continue;
    g_autoptr(GDateTime) at = row->last_error_at
      ? g_date_time_to_timezone(row->last_error_at, zone) : NULL;
    g_autofree char *when = at ? g_date_time_format(at, "%a %-d %b %H:%M") : g_strdup("?");
    g_ptr_array_add(digest->health,
                    g_strdup_printf("account %s: the last poll failed (%s): %s", row->account,
                                    when, row->last_error));
  }
  return TRUE;
}

/* What keel refused to say on someone's behalf since the last digest (a note
 * that was not hers, a client's flood of mail, alerts held back): the trail
 * events of those kinds, one health line each (a refused note whose Sent copy
 * was then accepted is left out). */
static gboolean digest_gather_guard(Store *store, Digest *digest, GError **error)
{
  static const char *const kinds[] = { "note_refused", "flood", "alerts_held", NULL };
  g_autoptr(GDateTime) day_ago = g_date_time_add_days(digest->now, -1);
  g_autoptr(GPtrArray) events = store_trail_list(store, NULL,
                                                 digest->since ? digest->since : day_ago,
                                                 error);
  if (!events)
    return FALSE;
  g_autoptr(GHashTable) accepted = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint i = 0; i < events->len; i++) {
    const StoreTrailEvent *event = events->pdata[i];
    if (g_strcmp0(event->kind, "note_accepted") == 0 && event->message_id)
      g_hash_table_add(accepted, event->message_id);
  }
  for (guint i = 0; i < events->len; i++) {
    const StoreTrailEvent *event = events->pdata[i];
    gboolean later_accepted = event->message_id
                              && g_hash_table_contains(accepted, event->message_id);
    if (g_strv_contains(kinds, event->kind) && !later_accepted)
      g_ptr_array_add(digest->health, g_strdup(event->detail));
  }
  return TRUE;
}

/* ---- gathering ----------------------------------------------------------- */

/* The trail's head (count and hash of its newest event) for the footer:
 * `keel trail verify --head COUNT:HASH` later proves nothing was cut. */
static gboolean digest_gather_trail_head(Store *store, Digest *digest, GError **error)
{
  gint64 head = 0;
  g_autofree char *hash = NULL;
  if (!store_trail_head(store, &head, &hash, error))
    return FALSE;
  if (head > 0 && hash)
    digest->trail_head = g_strdup_printf("%" G_GINT64_FORMAT ":%s", head, hash);
  return TRUE;
}

static Digest *digest_new(GDateTime *now, GTimeZone *zone, guint weeks)
{
  Digest *digest = g_new0(Digest, 1);
  digest->now = g_date_time_to_timezone(now, zone);
  digest->weeks = CLAMP(weeks, 1, DIGEST_MAX_WEEKS);
  digest->risky = g_ptr_array_new_with_free_func((GDestroyNotify)digest_thread_free);
  digest->instructions = g_ptr_array_new_with_free_func((GDestroyNotify)digest_instruction_free);
  digest->waiting = g_ptr_array_new_with_free_func((GDestroyNotify)digest_waiting_free);
  digest->activity = g_ptr_array_new_with_free_func((GDestroyNotify)store_outbox_row_free);
  digest->health = g_ptr_array_new_with_free_func(g_free);
  digest->payments = g_ptr_array_new_with_free_func(g_free);
  digest->word = g_ptr_array_new_with_free_func(g_free);
  return digest;
}

static gint digest_compare_waiting(gconstpointer a, gconstpointer b)
{
  const DigestWaiting *x = *(DigestWaiting *const *)a, *y = *(DigestWaiting *const *)b;
  return x->business_hours < y->business_hours ? 1 : x->business_hours > y->business_hours ? -1
                                                                                             : 0;
}

Digest *digest_gather(Store *store, const KeelConfig *config, const DigestOptions *options,
                      GDateTime *now, GError **error)
{
  DigestOptions defaults;
  digest_options_from_config(&defaults, config);
  if (!options)
    options = &defaults;
  g_autoptr(GTimeZone) zone = digest_zone(config ? config->timezone : NULL);
  g_autoptr(Digest) digest = digest_new(now, zone, options->weeks);
  g_autoptr(GDateTime) last = NULL;
  if (!store_digest_last_outbox(store, "digest", &last, error))
    return NULL;
  digest->since = last ? g_date_time_to_timezone(last, zone) : NULL;
  double halflife = digest_rules_halflife(config, options, digest);
  if (!digest_gather_risky(store, digest, zone, halflife,
                           config ? config->replies_risk_memory : 3, error)
      || !digest_gather_instructions(store, config, digest, error)
      || !digest_gather_waiting(store, config, options, digest, zone, error)
      || !digest_gather_outbox(store, config, digest, error)
      || !digest_gather_trail_head(store, digest, error)
      || !digest_gather_accounts(store, digest, zone, error)
      || !digest_gather_payments(store, config, digest, error)
      || !digest_gather_guard(store, digest, error)
      || !digest_gather_word(store, config, digest, error)) {
    g_prefix_error(error, "gathering the digest: ");
    return NULL;
  }
  g_ptr_array_sort(digest->waiting, digest_compare_waiting);
  g_autofree char *dir = !options->rules && config ? verdict_rules_dir(NULL, config) : NULL;
  g_autoptr(RuleSet) loaded = dir ? rules_load_dir(dir, NULL) : NULL;
  digest_words_fill(digest, options->rules ? options->rules : loaded);
  return g_steal_pointer(&digest);
}

gboolean digest_is_empty(const Digest *digest)
{
  return digest->risky->len == 0 && digest->instructions->len == 0
         && digest->waiting->len == 0 && digest->health->len == 0
         && digest->payments->len == 0 && digest->word->len == 0;
}

guint digest_count_due(const Digest *digest, DigestDue due)
{
  guint count = 0;
  for (guint i = 0; i < digest->instructions->len; i++)
    count += ((DigestInstruction *)digest->instructions->pdata[i])->due == due;
  return count;
}
