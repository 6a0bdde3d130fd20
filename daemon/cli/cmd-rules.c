/* daemon/cli/cmd-rules.c: `keel rules check [DIR] [--profile CORPUS_DIR]`: lints
 * the VA's rule files the way the daemon loads them, and optionally shows
 * which rules cost the most time.
 *
 * check: compiles every *.rules file of DIR (default: the config's rules
 * directory, or with no config config_default_rules_dir()), the
 * instruction and deadline extractors and the reply templates
 * (cli/rules-check.c) and prints "rules OK: …", or every
 * `file:line:col: message` on stderr and exits EX_DATAERR. --profile parses every .eml under CORPUS_DIR
 * (recursively), runs each rule alone over all of them and prints the ten
 * slowest with their time and hit count. Never writes a file.
 */
#include <stdio.h>
#include <string.h>
#include "daemon/record/rules-dir.h"
#include "daemon/base/commands.h"
#include "daemon/base/config.h"
#include "daemon/cli/rules-check.h"
#include "daemon/cli/store-cli.h"
#include "filters/score.h"

typedef struct {
  guint index;
  gint64 micros;
  guint hits;
} RulesTiming;

static char *cmd_rules_default_dir(const KeelGlobals *globals)
{
  g_autoptr(KeelConfig) config = NULL;
  if (store_cli_load_config(globals, &config) == EX_OK && config)
    return g_strdup(config->rules);
  return config_default_rules_dir();
}

/* Every *.eml under `dir`, recursively, into `paths`. */
static void cmd_rules_collect_eml(const char *dir, GPtrArray *paths)
{
  g_autoptr(GDir) handle = g_dir_open(dir, 0, NULL);
  const char *name;
  while (handle && (name = g_dir_read_name(handle))) {
    g_autofree char *path = g_build_filename(dir, name, NULL);
    if (g_file_test(path, G_FILE_TEST_IS_DIR))
      cmd_rules_collect_eml(path, paths);
    else if (g_str_has_suffix(name, ".eml"))
      g_ptr_array_add(paths, g_steal_pointer(&path));
  }
}

static GPtrArray *cmd_rules_parse_corpus(const char *dir)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
  cmd_rules_collect_eml(dir, paths);
  GPtrArray *messages = g_ptr_array_new_with_free_func((GDestroyNotify)message_free);
  for (guint i = 0; i < paths->len; i++) {
    g_autofree char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(g_ptr_array_index(paths, i), &data, &len, NULL))
      continue;
    KeelMessage *message = message_parse((const guint8 *)data, len, NULL, 0, NULL);
    if (message)
      g_ptr_array_add(messages, message);
  }
  return messages;
}

static gint cmd_rules_compare_timing(gconstpointer a, gconstpointer b)
{
  gint64 x = ((const RulesTiming *)a)->micros, y = ((const RulesTiming *)b)->micros;
  return x < y ? 1 : x > y ? -1 : 0;
}

static guint profile_top = 10;

static int cmd_rules_profile(RuleSet *rules, const char *corpus)
{
  rules_compile_alone(rules); /* phrase lists too, each with its own regex */
  g_autoptr(GPtrArray) messages = cmd_rules_parse_corpus(corpus);
  if (messages->len == 0) {
    fprintf(stderr, "keel rules check: no .eml messages under %s\n", corpus);
    return EX_NOINPUT;
  }
  g_autoptr(GArray) timings = g_array_new(FALSE, TRUE, sizeof(RulesTiming));
  g_autoptr(GTimeZone) tz = g_time_zone_new_identifier("Europe/London");
  ScoreContext context;
  score_context_init(&context);
  context.tz = tz;
  for (guint r = 0; r < rules_count(rules); r++) {
    RulesTiming timing = { r, 0, 0 };
    gint64 start = g_get_monotonic_time();
    for (guint m = 0; m < messages->len; m++)
      timing.hits += score_rule_run(rules, r, g_ptr_array_index(messages, m), &context);
    timing.micros = g_get_monotonic_time() - start;
    g_array_append_val(timings, timing);
  }
  g_array_sort(timings, cmd_rules_compare_timing);
  printf("slowest rules over %u messages (each rule run alone):\n", messages->len);
  for (guint i = 0; i < MIN(profile_top, timings->len); i++) {
    const RulesTiming *t = &g_array_index(timings, RulesTiming, i);
    const RulesRule *rule = rules_get(rules, t->index);
    printf("  %9.1f ms  %6.2f us/msg  %5u hits  %s (%s:%d)\n", t->micros / 1000.0,
           (double)t->micros / messages->len, t->hits, rule->name, rule->file, rule->line);
  }
  return 0;
}

/* One line per compiled regex: rule, places, flags (i m s x n), pattern. For
 * tests/bench/rules2sa.py, which hands the same regexes to SpamAssassin. */
static void cmd_rules_print_patterns(const RuleSet *rules)
{
  static const char *const places[] = { "subject", "text", "quoted", "body", "header", "from" };
  for (guint r = 0; r < rules_count(rules); r++) {
    const RulesRule *rule = rules_get(rules, r);
    for (guint i = 0; i < rule->looks->len; i++) {
      const RulesLook *look = g_ptr_array_index(rule->looks, i);
      if (!look->pattern)
        continue;
      g_autoptr(GString) where = g_string_new(NULL);
      for (guint w = 0; w < look->n_where; w++)
        g_string_append_printf(where, "%s%s%s%s", w ? "," : "", places[look->where[w]],
                               look->header[w] ? ":" : "", look->header[w] ? look->header[w] : "");
      printf("%s\t%s\t%s%s%s%s%s\t%s\n", rule->name, where->str,
             look->flags & PCRE2_CASELESS ? "i" : "", look->flags & PCRE2_MULTILINE ? "m" : "",
             look->flags & PCRE2_DOTALL ? "s" : "", look->flags & PCRE2_EXTENDED ? "x" : "",
             look->flags & PCRE2_NO_AUTO_CAPTURE ? "n" : "", look->pattern);
    }
  }
}

int cmd_rules(int argc, char **argv)
{
  g_autofree char *profile = NULL;
  gboolean patterns = FALSE;
  KeelGlobals globals = { 0 };
  const GOptionEntry entries[] = {
    { "profile", 'p', 0, G_OPTION_ARG_FILENAME, &profile,
      "Time each rule over every .eml under DIR and print the 10 slowest", "CORPUS_DIR" },
    { "patterns", 0, 0, G_OPTION_ARG_NONE, &patterns,
      "Print every compiled regex (rule, places, flags, pattern), tab-separated", NULL },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, "check [DIR]",
                         "Check the rule files: every mistake as file:line:col: message.",
                         entries, &globals))
    return EX_USAGE;
  if (argc < 2 || strcmp(argv[1], "check") != 0 || argc > 3) {
    fprintf(stderr, "keel rules: usage: keel rules check [DIR] [--profile CORPUS_DIR]\n");
    cli_globals_clear(&globals);
    return EX_USAGE;
  }
  if (g_getenv("KEEL_PROFILE_TOP"))
    profile_top = (guint)g_ascii_strtoull(g_getenv("KEEL_PROFILE_TOP"), NULL, 10);
  g_autofree char *dir = argc == 3 ? g_strdup(argv[2]) : cmd_rules_default_dir(&globals);
  cli_globals_clear(&globals);
  g_autoptr(GError) error = NULL;
  RulesCheckCounts counts = { 0 };
  if (!patterns && !rules_check_dir(dir, &counts, &error)) {
    fprintf(stderr, "%s\n", error->message);
    return error->code == KEEL_RULES_ERROR_IO ? EX_NOINPUT : EX_DATAERR;
  }
  g_autoptr(RuleSet) rules = rules_load_dir(dir, &error);
  if (!rules) {
    fprintf(stderr, "%s\n", error->message);
    return error->code == KEEL_RULES_ERROR_IO ? EX_NOINPUT : EX_DATAERR;
  }
  if (patterns) {
    cmd_rules_print_patterns(rules);
    return 0;
  }
  printf("rules OK: %u rules in %u files, instructions and deadlines, %u template%s (%s)\n",
         counts.rules, counts.files, counts.templates, counts.templates == 1 ? "" : "s", dir);
  return profile ? cmd_rules_profile(rules, profile) : 0;
}
