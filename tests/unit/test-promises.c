/* tests/unit/test-promises.c: unit tests for filters/promises.c (the VA's
 * promises in several phrasings, both date orders, across the clock change;
 * near misses that are no promise; delivery and update words; a file asked
 * for; rule-file errors), plus a driver mode used by tests/promises-quality.py:
 *
 *   test-promises --read [--config keel.conf] [--rules DIR] FILE.eml...
 *
 * prints one JSON object per message (file, promises with text and due,
 * delivers, updates), each due time in the zone of the client in To.
 */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <string.h>

#include "filters/message.h"
#include "filters/promises.h"

static char *test_source_root(void)
{
  const char *root = g_getenv("KEEL_SOURCE_ROOT");
  const char *tests = g_getenv("G_TEST_SRCDIR");
  if (root != NULL)
    return g_strdup(root);
  return tests != NULL ? g_build_filename(tests, "..", NULL) : g_strdup(".");
}

static PromiseRules *test_load_rules(const char *rules_dir, GError **error)
{
  g_autofree char *root = test_source_root();
  g_autofree char *dir = rules_dir ? g_strdup(rules_dir) : g_build_filename(root, "rules", NULL);
  g_autofree char *ppath = g_build_filename(dir, "promises.rules", NULL);
  g_autofree char *dpath = g_build_filename(dir, "deadlines.rules", NULL);
  g_autofree char *ptext = NULL;
  g_autofree char *dtext = NULL;
  if (!g_file_get_contents(ppath, &ptext, NULL, error)
      || !g_file_get_contents(dpath, &dtext, NULL, error))
    return NULL;
  return promise_rules_compile(ptext, ppath, dtext, dpath, error);
}

static PromiseRules *shared_rules;

/* ======================= driver mode ======================= */

/* The zone and date order of the client `address` belongs to in `file`;
 * returns the zone (owned) or NULL. */
static GTimeZone *driver_client(GKeyFile *file, const char *address, DeadlineContext *ctx)
{
  g_auto(GStrv) groups = g_key_file_get_groups(file, NULL);
  g_autofree char *lower = g_ascii_strdown(address != NULL ? address : "", -1);
  for (char **g = groups; *g != NULL; g++) {
    g_auto(GStrv) addresses = g_str_has_prefix(*g, "client ")
      ? g_key_file_get_string_list(file, *g, "addresses", NULL, NULL) : NULL;
    for (char **a = addresses; a != NULL && *a != NULL; a++) {
      g_autofree char *want = g_ascii_strdown(g_strstrip(*a), -1);
      if ((want[0] == '@' && g_str_has_suffix(lower, want)) || g_strcmp0(lower, want) == 0) {
        g_autofree char *zone = g_key_file_get_string(file, *g, "timezone", NULL);
        g_autofree char *order = g_key_file_get_string(file, *g, "date_order", NULL);
        ctx->month_first = g_strcmp0(order, "US") == 0;
        return zone != NULL ? g_time_zone_new_identifier(zone) : NULL;
      }
    }
  }
  return NULL;
}

static int driver_eml(const PromiseRules *rules, GKeyFile *config, const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelMessage) message = g_file_get_contents(path, &data, &len, &error)
    ? message_parse((const guint8 *)data, len, NULL, 0, &error) : NULL;
  if (message == NULL) {
    g_printerr("%s: %s\n", path, error->message);
    return 1;
  }
  DeadlineContext ctx;
  deadline_context_init(&ctx);
  const char *to = message->to && message->to->len > 0
    ? ((const KeelAddress *)message->to->pdata[0])->address : NULL;
  g_autoptr(GTimeZone) zone = config != NULL ? driver_client(config, to, &ctx) : NULL;
  g_autoptr(GTimeZone) fallback = g_time_zone_new_identifier("Europe/London");
  ctx.timezone = zone != NULL ? zone : fallback;
  g_autoptr(PromiseReading) reading = promises_read(rules, message->new_text, message->date, &ctx);
  g_autoptr(JsonBuilder) builder = json_builder_new();
  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, "file");
  g_autofree char *base = g_path_get_basename(path);
  json_builder_add_string_value(builder, base);
  promises_to_json(reading, builder);
  json_builder_end_object(builder);
  g_autoptr(JsonNode) root = json_builder_get_root(builder);
  g_autofree char *text = json_to_string(root, FALSE);
  g_print("%s\n", text);
  return 0;
}

static int driver_main(int argc, char **argv)
{
  const char *config_path = NULL, *rules_dir = NULL;
  int first = 2;
  for (; first + 1 < argc && g_str_has_prefix(argv[first], "--"); first += 2) {
    if (g_strcmp0(argv[first], "--config") == 0)
      config_path = argv[first + 1];
    else if (g_strcmp0(argv[first], "--rules") == 0)
      rules_dir = argv[first + 1];
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(PromiseRules) rules = test_load_rules(rules_dir, &error);
  g_autoptr(GKeyFile) config = config_path != NULL ? g_key_file_new() : NULL;
  if (rules == NULL
      || (config != NULL && !g_key_file_load_from_file(config, config_path, 0, &error))) {
    g_printerr("%s\n", error->message);
    return 78; /* EX_CONFIG */
  }
  int rc = 0;
  for (int i = first; i < argc; i++)
    rc |= driver_eml(rules, config, argv[i]);
  return rc;
}

/* ======================= unit tests ======================= */

typedef struct {
  const char *text;     /* her new text */
  const char *sent;     /* ISO local Europe/London (or `zone`) */
  const char *zone;     /* NULL = Europe/London */
  gboolean month_first; /* US dates */
  const char *due;      /* expected due of the first promise; "none" = no promise, NULL = undated */
} PromiseCase;

static const PromiseCase promise_cases[] = {
  {"I'll get back to you by Friday.", "2026-03-04T10:00:00", NULL, FALSE, "2026-03-06T17:00"},
  {"I'll send it over tomorrow morning.", "2026-03-03T09:05:00", NULL, FALSE,
   "2026-03-04T12:00"},
  {"Will do by EOD.", "2026-03-03T11:30:00", NULL, FALSE, "2026-03-03T17:30"},
  {"Let me look into it and come back to you today.", "2026-03-02T14:40:00", NULL, FALSE,
   "2026-03-02T17:00"},
  {"You'll have the first draft by 3pm.", "2026-03-05T09:20:00", NULL, FALSE,
   "2026-03-05T15:00"},
  {"I'll have it to you by 10/4.", "2026-03-31T14:00:00", NULL, FALSE, "2026-04-10T17:00"},
  {"I'll have it to you by 4/10.", "2026-03-31T14:00:00", "America/New_York", TRUE,
   "2026-04-10T17:00"},
  /* sent in GMT on Friday, due on Monday in BST: still 10:00 on the clock */
  {"I'll have the draw to you by Monday 10am.", "2026-03-27T16:40:00", NULL, FALSE,
   "2026-03-30T10:00"},
  {"I'll get back to you shortly.", "2026-03-12T12:30:00", NULL, FALSE, NULL},
  {"I'll be out of the office on Friday.", "2026-03-10T09:15:00", NULL, FALSE, "none"},
  {"Could you send me the receipts by Friday?", "2026-03-04T12:00:00", NULL, FALSE, "none"},
  {"The solicitor will send it by Friday.", "2026-03-05T17:05:00", NULL, FALSE, "none"},
  {"I sent the rota yesterday.", "2026-03-05T10:00:00", NULL, FALSE, "none"},
};

static void test_promise_case(gconstpointer data)
{
  const PromiseCase *c = data;
  g_autoptr(GTimeZone) zone = g_time_zone_new_identifier(c->zone ? c->zone : "Europe/London");
  g_autoptr(GDateTime) sent = g_date_time_new_from_iso8601(c->sent, zone);
  DeadlineContext ctx;
  deadline_context_init(&ctx);
  ctx.timezone = zone;
  ctx.month_first = c->month_first;
  g_autoptr(PromiseReading) reading = promises_read(shared_rules, c->text, sent, &ctx);
  if (g_strcmp0(c->due, "none") == 0) {
    g_assert_cmpuint(reading->promises->len, ==, 0);
    return;
  }
  g_assert_cmpuint(reading->promises->len, ==, 1);
  const Promise *promise = g_ptr_array_index(reading->promises, 0);
  g_assert_cmpstr(promise->due_iso, ==, c->due);
}

static void test_delivers(void)
{
  static const char *const yes[] = {"Done, attached.", "Here it is.", "Booked!",
                                    "All updated on the website.", "The report is attached.",
                                    "I've sent it to the team.", NULL};
  static const char *const no[] = {"Could you send it?", "I'll send it tomorrow.",
                                   "Thanks for your patience.", NULL};
  g_autoptr(GDateTime) sent = g_date_time_new_utc(2026, 3, 4, 10, 0, 0);
  DeadlineContext ctx;
  deadline_context_init(&ctx);
  for (const char *const *t = yes; *t != NULL; t++) {
    g_autoptr(PromiseReading) reading = promises_read(shared_rules, *t, sent, &ctx);
    g_assert_true(reading->delivers);
  }
  for (const char *const *t = no; *t != NULL; t++) {
    g_autoptr(PromiseReading) reading = promises_read(shared_rules, *t, sent, &ctx);
    g_assert_false(reading->delivers);
  }
  g_autoptr(PromiseReading) update = promises_read(
    shared_rules, "Quick update: still waiting on the login.", sent, &ctx);
  g_assert_true(update->updates);
}

static void test_asks_file(void)
{
  g_assert_true(promises_asks_for_file(shared_rules, "Send me the March report by Friday"));
  g_assert_true(promises_asks_for_file(shared_rules, "Could you email the signed contract"));
  g_assert_false(promises_asks_for_file(shared_rules, "Book a table for four on Friday"));
}

static void test_rule_errors(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PromiseRules) rules = promise_rules_compile(
    "rule odd\n  look text /x/\n  adds mood +1\n", "p.rules", "", "d.rules", &error);
  g_assert_null(rules);
  g_assert_error(error, KEEL_PROMISE_ERROR, KEEL_PROMISE_ERROR_RULES);
  g_assert_true(g_str_has_prefix(error->message, "p.rules:"));
}

int main(int argc, char **argv)
{
  setlocale(LC_ALL, "C.UTF-8");
  if (argc > 1 && g_strcmp0(argv[1], "--read") == 0)
    return driver_main(argc, argv);
  g_test_init(&argc, &argv, NULL);
  g_autoptr(GError) error = NULL;
  shared_rules = test_load_rules(NULL, &error);
  g_assert_no_error(error);
  for (gsize i = 0; i < G_N_ELEMENTS(promise_cases); i++) {
    g_autofree char *path = g_strdup_printf("/promises/case/%02zu", i);
    g_test_add_data_func(path, &promise_cases[i], test_promise_case);
  }
  g_test_add_func("/promises/delivers", test_delivers);
  g_test_add_func("/promises/asks-file", test_asks_file);
  g_test_add_func("/promises/rule-errors", test_rule_errors);
  int rc = g_test_run();
  promise_rules_free(shared_rules);
  return rc;
}
