/* filters/promises.c: finds the VA's promises in the new text of her own mail
 * and what the mail says about work she was asked for.
 *
 * How it works: the new text is cut into units the way instructions.c does
 * (instructions_split_units: list items whole, sentences of other
 * paragraphs). `lead` rules strip greetings and joining words from the start
 * of each unit; then every rule adds its points to its dimension. A unit whose
 * `promise` points reach the file's `dimension promise flag >= N` (default 3)
 * is a promise, and deadlines.c finds its due time in the client's zone. Any
 * unit reaching `delivered` or `update` marks the whole message. `asks_file`
 * rules are run on a client's instruction text instead.
 *
 * Must never: read files, look at the clock, or touch the network. All
 * English lives in rules/promises.rules; the C here only counts points.
 */
#include "filters/promises.h"

#include <string.h>
#include "filters/instructions.h"
#include "filters/json-out.h"

G_DEFINE_QUARK(keel-promise-error-quark, keel_promise_error)

#define PROMISES_MAX_LEADS 4

struct _PromiseRules {
  LiteRuleSet *set;         /* owned, rules/promises.rules */
  DeadlineRules *deadlines; /* owned, rules/deadlines.rules */
  int threshold;            /* `dimension promise flag >= N`, default 3 */
};

typedef struct {
  int promise;
  int delivered;
  int update;
  int asks_file;
} PromiseScore;

void promise_free(Promise *promise)
{
  if (promise == NULL)
    return;
  g_free(promise->text);
  g_clear_pointer(&promise->due, g_date_time_unref);
  g_free(promise->due_iso);
  g_free(promise);
}

void promise_reading_free(PromiseReading *reading)
{
  if (reading == NULL)
    return;
  g_ptr_array_unref(reading->promises);
  g_free(reading);
}

void promise_rules_free(PromiseRules *rules)
{
  if (rules == NULL)
    return;
  lite_rules_free(rules->set);
  deadline_rules_free(rules->deadlines);
  g_free(rules);
}

static gboolean promises_check_dimensions(LiteRuleSet *set, const char *name, GError **error)
{
  static const char *const known[] = {"lead", "promise", "delivered", "update", "asks_file",
                                      NULL};
  for (guint i = 0; i < set->rules->len; i++) {
    LiteRule *rule = g_ptr_array_index(set->rules, i);
    if (!g_strv_contains(known, rule->dimension)) {
      g_set_error(error, KEEL_PROMISE_ERROR, KEEL_PROMISE_ERROR_RULES,
                  "%s:%d:1: rule %s adds to unknown dimension \"%s\" (use lead, promise, "
                  "delivered, update or asks_file)", name, rule->line, rule->name,
                  rule->dimension);
      return FALSE;
    }
  }
  return TRUE;
}

PromiseRules *promise_rules_compile(const char *promises_text, const char *promises_name,
                                    const char *deadlines_text, const char *deadlines_name,
                                    GError **error)
{
  g_autoptr(PromiseRules) rules = g_new0(PromiseRules, 1);
  GError *inner = NULL;
  rules->set = lite_rules_read(promises_text, promises_name, &inner);
  if (rules->set != NULL && promises_check_dimensions(rules->set, promises_name, &inner))
    rules->deadlines = deadline_rules_compile(deadlines_text, deadlines_name, &inner);
  if (inner != NULL) {
    g_set_error_literal(error, KEEL_PROMISE_ERROR, KEEL_PROMISE_ERROR_RULES, inner->message);
    g_error_free(inner);
    return NULL;
  }
  gpointer threshold = NULL;
  rules->threshold = 3;
  if (g_hash_table_lookup_extended(rules->set->thresholds, "promise", NULL, &threshold))
    rules->threshold = GPOINTER_TO_INT(threshold);
  return g_steal_pointer(&rules);
}

/* 1 when `rule` matches `text`, 0 when not; a PCRE2 failure is logged and
 * counts as no match (a unit is then simply not a promise). */
static int promises_match(const LiteRule *rule, const char *text, gsize *end)
{
  g_autoptr(pcre2_match_data) match = pcre2_match_data_create_from_pattern(rule->code, NULL);
  g_autoptr(GError) error = NULL;
  int rc = lite_rule_match(rule, text, 0, match, &error);
  if (rc < 0)
    g_warning("%s", error->message);
  if (rc == 1 && end != NULL)
    *end = pcre2_get_ovector_pointer(match)[1];
  return rc == 1;
}

/* `text` without the words `lead` rules match at its start. */
static const char *promises_strip_leads(const PromiseRules *rules, const char *text)
{
  for (int round = 0; round < PROMISES_MAX_LEADS; round++) {
    gboolean stripped = FALSE;
    for (guint i = 0; i < rules->set->rules->len && !stripped; i++) {
      const LiteRule *rule = g_ptr_array_index(rules->set->rules, i);
      gsize end = 0;
      if (strcmp(rule->dimension, "lead") == 0 && promises_match(rule, text, &end) && end > 0
          && text[end] != '\0') {
        text += end;
        stripped = TRUE;
      }
    }
    if (!stripped)
      break;
  }
  return text;
}

static PromiseScore promises_score(const PromiseRules *rules, const char *text)
{
  PromiseScore score = {0};
  const char *core = promises_strip_leads(rules, text);
  for (guint i = 0; i < rules->set->rules->len; i++) {
    const LiteRule *rule = g_ptr_array_index(rules->set->rules, i);
    int *target = strcmp(rule->dimension, "promise") == 0     ? &score.promise
                  : strcmp(rule->dimension, "delivered") == 0 ? &score.delivered
                  : strcmp(rule->dimension, "update") == 0    ? &score.update
                  : strcmp(rule->dimension, "asks_file") == 0 ? &score.asks_file
                                                              : NULL;
    if (target != NULL && promises_match(rule, core, NULL))
      *target += rule->points;
  }
  return score;
}

static Promise *promises_make(const PromiseRules *rules, const char *text, GDateTime *sent,
                              const DeadlineContext *ctx)
{
  Promise *promise = g_new0(Promise, 1);
  promise->text = g_strdup(text);
  g_auto(Deadline) found = {0};
  g_autoptr(GError) error = NULL;
  if (!deadline_find(rules->deadlines, text, sent, ctx, &found, &error))
    g_warning("%s", error->message);
  promise->precision = found.precision;
  if (found.when != NULL) {
    promise->due = g_date_time_ref(found.when);
    promise->due_iso = g_date_time_format(found.when, "%Y-%m-%dT%H:%M");
  }
  return promise;
}

PromiseReading *promises_read(const PromiseRules *rules, const char *new_text, GDateTime *sent,
                              const DeadlineContext *ctx)
{
  PromiseReading *reading = g_new0(PromiseReading, 1);
  reading->promises = g_ptr_array_new_with_free_func((GDestroyNotify)promise_free);
  if (new_text == NULL)
    return reading;
  g_autoptr(GPtrArray) units = instructions_split_units(new_text);
  for (guint i = 0; i < units->len; i++) {
    const char *unit = g_ptr_array_index(units, i);
    PromiseScore score = promises_score(rules, unit);
    if (score.promise >= rules->threshold)
      g_ptr_array_add(reading->promises, promises_make(rules, unit, sent, ctx));
    reading->delivers |= score.delivered >= 1;
    reading->updates |= score.update >= 1;
  }
  return reading;
}

gboolean promises_asks_for_file(const PromiseRules *rules, const char *instruction_text)
{
  return instruction_text != NULL && promises_score(rules, instruction_text).asks_file >= 1;
}

void promises_to_json(const PromiseReading *reading, JsonBuilder *builder)
{
  json_builder_set_member_name(builder, "promises");
  json_builder_begin_array(builder);
  for (guint i = 0; i < reading->promises->len; i++) {
    const Promise *promise = g_ptr_array_index(reading->promises, i);
    json_builder_begin_object(builder);
    json_out_string(builder, "text", promise->text);
    json_builder_set_member_name(builder, "due");
    if (promise->due_iso != NULL)
      json_builder_add_string_value(builder, promise->due_iso);
    else
      json_builder_add_null_value(builder);
    json_builder_end_object(builder);
  }
  json_builder_end_array(builder);
  json_out_bool(builder, "delivers", reading->delivers);
  json_out_bool(builder, "updates", reading->updates);
}
