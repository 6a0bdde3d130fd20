/* tests/fuzz/fuzz-score.c: libFuzzer target for parse + score. Any bytes as a
 * message: message_parse() then score_message() with the default rules
 * (rules/, loaded once; run.sh runs from the source root) and the JSON of the
 * result. Must never crash, leak or stall: every regex runs under PCRE2's
 * match limits. Seeds: the dev corpus (run.sh's default). */
#include <string.h>
#include "filters/json-out.h"
#include "filters/score.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The default scoring rules, read here (the pure core reads no files). */
static RuleSet *fuzz_load(const char *dir, GError **error)
{
  static const char *const files[] = { "keel.rules", "tone.rules", "threat.rules",
                                       "blame.rules", "scope.rules", "payment.rules",
                                       "urgency.rules", "vague.rules" };
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
  for (gsize i = 0; i < G_N_ELEMENTS(files); i++) {
    char *text = NULL;
    char *name = g_build_filename(dir, files[i], NULL);
    g_ptr_array_add(names, name);
    if (!g_file_get_contents(name, &text, NULL, error))
      return NULL;
    g_ptr_array_add(texts, text);
  }
  return rules_compile((const char *const *)names->pdata, (const char *const *)texts->pdata,
                       names->len, error);
}

static RuleSet *fuzz_rules(void)
{
  static RuleSet *rules;
  if (!rules) {
    g_autoptr(GError) error = NULL;
    rules = fuzz_load("rules", &error);
    if (!rules)
      g_error("fuzz-score: run from the source root: %s", error->message);
  }
  return rules;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const RuleSet *rules = fuzz_rules();
  g_autoptr(KeelMessage) message = message_parse(data, size, NULL, 0, NULL);
  if (!message)
    return 0;
  ScoreContext context;
  score_context_init(&context);
  context.has_business_hours = TRUE;
  context.business_days = 0x1f;
  context.business_start_min = 9 * 60;
  context.business_end_min = 17 * 60 + 30;
  context.chasers_since_reply = (int)(size % 5);
  g_autoptr(ScoreResult) result = score_message(rules, message, &context, NULL);
  g_assert(result != NULL);
  g_autoptr(GString) text = g_string_new(NULL);
  json_put_object_start(text, NULL);
  score_result_to_json(result, text);
  json_put_object_end(text);
  g_autoptr(JsonParser) parser = json_parser_new(); /* what was written is JSON */
  g_assert(json_parser_load_from_data(parser, text->str, (gssize)text->len, NULL));
  return 0;
}
