/* daemon/cmd-score.c: `keel score FILE.eml... [--json] [--explain] [--rules DIR]`:
 * what keel makes of each message with the current rules: points per
 * dimension, flags, urgency level, payment category, risky, and the hits.
 *
 * The rules directory is --rules, else the config's `rules` when that
 * directory exists, else ./rules when it exists, else /etc/keel/rules. The
 * config (--config, $KEEL_CONFIG, else /etc/keel/keel.conf when it exists;
 * optional) gives the VA's time zone and
 * business hours; without one every sender is unknown and out-of-hours
 * signals are unknown. No history is known here (no store): chaser signals
 * are unknown. --parse-only parses and prints nothing (the benchmark floor).
 *
 * Output: --json one object per line (fields in rules/README.md); --explain a
 * short report for people with each hit in context and its `why`; otherwise
 * one summary line per file. A file that cannot be read or parsed gets a line
 * on stderr and the others still run. Never writes anything but stdout/stderr.
 */
#include <stdio.h>
#include <string.h>
#include "daemon/commands.h"
#include "daemon/config.h"
#include "daemon/store-cli.h"
#include "daemon/verdict.h"
#include "filters/score.h"

typedef struct {
  gboolean json;
  gboolean explain;
  gboolean parse_only;
  char *rules_dir;
} ScoreOptions;

typedef struct {
  RuleSet *rules;          /* owned */
  KeelConfig *config;      /* owned, may be NULL */
  GDateTime *now;          /* owned, NULL = each message's own Date */
  GTimeZone *tz;           /* owned, the config's zone (NULL: Europe/London) */
  ScoreContext context;
} ScoreRun;

/* The zone and business hours of the config (Europe/London and unknown hours
 * without one); no history: `keel score` has no store. */
static void score_fill_context(ScoreRun *run)
{
  run->tz = g_time_zone_new_identifier(run->config ? run->config->timezone : "Europe/London");
  verdict_context_init(&run->context, run->config, run->tz);
  run->context.now = run->now;
}

/* Reads and parses `path`. Returns 0, EX_NOINPUT or EX_DATAERR. */
static int score_load_message(const char *path, gsize max_size, KeelMessage **message,
                              GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &data, &len, error))
    return EX_NOINPUT;
  *message = message_parse((const guint8 *)data, len, NULL, max_size, error);
  return *message ? 0 : EX_DATAERR;
}

static void score_print_json(const char *path, const KeelMessage *message,
                             const ScoreResult *result)
{
  g_autoptr(JsonBuilder) builder = json_builder_new();
  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, "file");
  json_builder_add_string_value(builder, path);
  json_builder_set_member_name(builder, "message_id");
  json_builder_add_string_value(builder, message->message_id);
  score_result_to_json(result, builder);
  json_builder_end_object(builder);
  g_autoptr(JsonNode) root = json_builder_get_root(builder);
  g_autofree char *text = json_to_string(root, FALSE);
  puts(text);
}

static void score_print_summary(const char *path, const ScoreResult *result)
{
  g_autofree char *flags = score_result_flags_csv(result);
  printf("%s: %s urgency=%d payment=%s flags=%s risk=%.2f%s\n", path,
         result->risky ? "RISKY" : "ok", result->urgency, result->payment,
         *flags ? flags : "-", result->risk, result->errors->len ? " (rule errors)" : "");
}

/* The text a hit's `where` names, for showing the match in context. */
static const char *score_where_text(const KeelMessage *message, const char *where)
{
  if (strcmp(where, "subject") == 0)
    return message->subject;
  if (strcmp(where, "text") == 0)
    return message->new_text ? message->new_text : message->body_text;
  if (strcmp(where, "quoted") == 0)
    return message->quoted_text;
  if (strcmp(where, "body") == 0)
    return message->body_text;
  if (g_str_has_prefix(where, "header:"))
    return message_header(message, where + 7);
  return NULL;
}

/* Up to `width` bytes either side of [start, end), on character boundaries,
 * on one line, with the match between « ». */
static char *score_context_snippet(const char *text, gint64 start, gint64 end, gsize width)
{
  gsize len = strlen(text);
  if (start < 0 || end < start || (gsize)end > len)
    return NULL;
  const char *from = text + ((gsize)start > width ? (gsize)start - width : 0);
  const char *to = text + MIN(len, (gsize)end + width);
  from = g_utf8_find_next_char(g_utf8_find_prev_char(text, from + 1) ?: text, NULL) ?: text;
  from = from > text + start ? text + start : from;
  while (to < text + len && (*to & 0xC0) == 0x80)
    to++;
  g_autofree char *snippet = g_strdup_printf(
    "%s%.*s«%.*s»%.*s%s", from > text ? "…" : "", (int)(text + start - from), from,
    (int)(end - start), text + start, (int)(to - (text + end)), text + end, to < text + len ? "…" : "");
  for (char *p = snippet; *p; p++)
    if (*p == '\n' || *p == '\r' || *p == '\t')
      *p = ' ';
  return g_steal_pointer(&snippet);
}

static void score_print_explain(const char *path, const KeelMessage *message,
                                const ScoreResult *result)
{
  g_autofree char *flags = score_result_flags_csv(result);
  printf("%s  <%s>\n", path, message->message_id);
  printf("  %s  urgency %d  payment %s  flags %s  risk %.2f%s\n",
         result->risky ? "RISKY" : "not risky", result->urgency, result->payment,
         *flags ? flags : "none", result->risk, result->automated ? "  (automated mail)" : "");
  printf("  scores:");
  for (guint i = 0; i < result->dimensions->len; i++) {
    const char *name = g_ptr_array_index(result->dimensions, i);
    printf(" %s %g", name, score_result_points(result, name));
  }
  printf("\n");
  for (guint i = 0; i < result->hits->len; i++) {
    const ScoreHit *hit = g_ptr_array_index(result->hits, i);
    const char *text = score_where_text(message, hit->where);
    g_autofree char *snippet = text ? score_context_snippet(text, hit->start, hit->end, 40) : NULL;
    printf("  %-8s %+g  %s (%s): %s\n", hit->dimension, hit->points, hit->rule, hit->where,
           snippet ? snippet : hit->match);
    if (hit->why)
      printf("           why: %s\n", hit->why);
  }
  for (guint i = 0; i < result->errors->len; i++)
    printf("  ERROR %s\n", (char *)g_ptr_array_index(result->errors, i));
  printf("\n");
}

/* Scores one file and prints it. Returns 0, EX_NOINPUT or EX_DATAERR. */
static int score_file(ScoreRun *run, const ScoreOptions *options, const char *path)
{
  g_autoptr(KeelMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  gsize max_size = run->config ? run->config->max_message_size : 0;
  int status = score_load_message(path, max_size, &message, &error);
  if (status != 0) {
    fprintf(stderr, "keel score: %s: %s: %s\n", path,
            status == EX_NOINPUT ? "cannot read it" : "not a message", error->message);
    return status;
  }
  if (options->parse_only)
    return 0;
  g_autoptr(ScoreResult) result = score_message(run->rules, message, &run->context, &error);
  if (!result) {
    fprintf(stderr, "keel score: %s: %s\n", path, error->message);
    return EX_SOFTWARE;
  }
  if (options->json)
    score_print_json(path, message, result);
  else if (options->explain)
    score_print_explain(path, message, result);
  else
    score_print_summary(path, result);
  return 0;
}

static void score_run_clear(ScoreRun *run)
{
  g_clear_pointer(&run->rules, rules_free);
  g_clear_pointer(&run->config, config_free);
  g_clear_pointer(&run->now, g_date_time_unref);
  g_clear_pointer(&run->tz, g_time_zone_unref);
}

/* Config, rules and context. Returns 0 or the exit code. */
static int score_run_setup(ScoreRun *run, const ScoreOptions *options, KeelGlobals *globals)
{
  int rc = store_cli_load_config(globals, &run->config);
  if (rc != EX_OK)
    return rc;
  if (globals->now && !(run->now = cli_now(globals)))
    return EX_USAGE;
  score_fill_context(run);
  if (options->parse_only)
    return 0;
  g_autofree char *dir = verdict_rules_dir(options->rules_dir, run->config);
  g_autoptr(GError) error = NULL;
  run->rules = rules_load_dir(dir, &error);
  if (!run->rules) {
    fprintf(stderr, "keel score: rules in %s refused:\n%s\n", dir, error->message);
    return EX_DATAERR;
  }
  return 0;
}

int cmd_score(int argc, char **argv)
{
  ScoreOptions options = { 0 };
  KeelGlobals globals = { 0 };
  const GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &options.json, "One JSON object per line", NULL },
    { "explain", 'e', 0, G_OPTION_ARG_NONE, &options.explain,
      "Explain each score: the matched words in context and each rule's why", NULL },
    { "rules", 'r', 0, G_OPTION_ARG_FILENAME, &options.rules_dir,
      "Rules directory (default: the config's, else ./rules, else /etc/keel/rules)", "DIR" },
    { "parse-only", 0, 0, G_OPTION_ARG_NONE, &options.parse_only,
      "Only parse the messages, print nothing (benchmark floor)", NULL },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, "FILE.eml...",
                         "Score messages with the rules: tone, urgency, threats, payment, risk.",
                         entries, &globals))
    return EX_USAGE;
  if (argc < 2) {
    fprintf(stderr, "keel score: give at least one FILE.eml (see --help)\n");
    cli_globals_clear(&globals);
    g_free(options.rules_dir);
    return EX_USAGE;
  }
  ScoreRun run = { 0 };
  int status = score_run_setup(&run, &options, &globals);
  gboolean ready = status == 0 && (run.rules || options.parse_only);
  for (int i = 1; ready && i < argc; i++) {
    int result = score_file(&run, &options, argv[i]);
    status = (status == EX_NOINPUT || result == EX_NOINPUT) ? EX_NOINPUT : MAX(status, result);
  }
  score_run_clear(&run);
  cli_globals_clear(&globals);
  g_free(options.rules_dir);
  return status;
}
