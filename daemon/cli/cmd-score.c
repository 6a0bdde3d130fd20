/* daemon/cli/cmd-score.c: `keel score FILE.eml... [--json] [--explain] [--rules DIR]`:
 * what keel makes of each message with the current rules: points per
 * dimension, flags, urgency level, payment category, risky, and the hits.
 *
 * The rules directory is --rules, else the config's `rules` (config_load()),
 * else /etc/keel/rules when it exists, else ./rules (config_default_rules_dir()). The
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
#include "daemon/base/commands.h"
#include "daemon/cli/learn-cli.h"
#include "daemon/base/config.h"
#include "daemon/record/trail.h"
#include "filters/confirm.h"
#include "daemon/cli/store-cli.h"
#include "daemon/record/verdict.h"
#include "filters/score.h"
#include "filters/json-out.h"

typedef struct {
  gboolean json;
  gboolean explain;
  gboolean parse_only;
  char *rules_dir;
} ScoreOptions;

/* A thread as `keel score` sees it: the files given so far that refer to each
 * other (In-Reply-To/References). Without a store, this is all the history
 * the auto_reply decision gets. */
typedef struct {
  GArray *entries;         /* owned, of ScoreThreadEntry (dates owned: unref on free) */
  GPtrArray *confirmed;    /* owned, of GDateTime*: confirmations planned in it */
} ScoreThread;

typedef struct {
  RuleSet *rules;          /* owned */
  InstructionRules *instruction_rules; /* owned, NULL: no instructions extracted */
  GHashTable *threads;     /* owned: Message-ID -> ScoreThread* (shared, owned by `thread_list`) */
  GPtrArray *thread_list;  /* owned, of ScoreThread* */
  KeelConfig *config;      /* owned, may be NULL */
  GDateTime *now;          /* owned, NULL = each message's own Date */
  GTimeZone *tz;           /* owned, the config's zone (NULL: Europe/London) */
  ScoreContext context;
  GString *json_line;      /* owned: the --json line being written, reused */
} ScoreRun;

/* The zone and business hours of the config (Europe/London and unknown hours
 * without one); no history: `keel score` has no store. */
static void cmd_score_fill_context(ScoreRun *run)
{
  run->tz = g_time_zone_new_identifier(run->config ? run->config->timezone : "Europe/London");
  verdict_context_init(&run->context, run->config, run->tz);
  run->context.now = run->now;
}

/* Reads and parses `path`. Returns 0, EX_NOINPUT or EX_DATAERR. */
static int cmd_score_load_message(const char *path, gsize max_size, KeelMessage **message,
                              GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &data, &len, error))
    return EX_NOINPUT;
  *message = message_parse((const guint8 *)data, len, NULL, max_size, error);
  return *message ? 0 : EX_DATAERR;
}

static void cmd_score_thread_free(gpointer data)
{
  ScoreThread *thread = data;
  for (guint i = 0; i < thread->entries->len; i++)
    g_date_time_unref(g_array_index(thread->entries, ScoreThreadEntry, i).date);
  g_array_unref(thread->entries);
  g_ptr_array_unref(thread->confirmed);
  g_free(thread);
}

/* The thread of `message` among the files scored so far (a new one when it
 * refers to none of them); the message is registered in it. Borrowed. */
static ScoreThread *cmd_score_thread_of(ScoreRun *run, const KeelMessage *message)
{
  ScoreThread *thread = message->in_reply_to
    ? g_hash_table_lookup(run->threads, message->in_reply_to) : NULL;
  for (guint i = 0; !thread && i < message->references->len; i++)
    thread = g_hash_table_lookup(run->threads, message->references->pdata[i]);
  if (!thread) {
    thread = g_new0(ScoreThread, 1);
    thread->entries = g_array_new(FALSE, TRUE, sizeof(ScoreThreadEntry));
    thread->confirmed = g_ptr_array_new_with_free_func((GDestroyNotify)g_date_time_unref);
    g_ptr_array_add(run->thread_list, thread);
  }
  g_hash_table_replace(run->threads, g_strdup(message->message_id), thread);
  return thread;
}

/* What ingest would decide for this message (filters/confirm): the thread's
 * risk comes from the earlier files of the same run. */
static ConfirmDecision cmd_score_auto_reply(ScoreRun *run, const KeelMessage *message,
                                        const ScoreResult *result, guint instructions)
{
  ScoreThread *thread = cmd_score_thread_of(run, message);
  ScoreThreadEntry entry = { g_date_time_ref(message->date), FALSE, result->risk };
  g_array_append_val(thread->entries, entry);
  double thread_risk = score_thread_risk((const ScoreThreadEntry *)(void *)thread->entries->data,
                                         thread->entries->len, message->date,
                                         run->rules->thread_halflife_hours);
  guint recent = 0;
  g_autoptr(GDateTime) since = g_date_time_add_hours(message->date, -CONFIRM_WINDOW_HOURS);
  for (guint i = 0; i < thread->confirmed->len; i++)
    recent += g_date_time_compare(thread->confirmed->pdata[i], since) >= 0;
  const KeelClient *client = message->from
    ? config_client_for_address(run->config, message->from->address) : NULL;
  ConfirmFacts facts = {
    .first_sync = FALSE, .known_client = client != NULL,
    .automated = message->automated, .automated_reason = message->automated_reason,
    .verdict = result, .thread_risk = thread_risk,
    .instructions = instructions, .recent_confirmations = recent,
  };
  ConfirmDecision decision = confirm_decide(&facts);
  if (decision.action == CONFIRM_SEND)
    g_ptr_array_add(thread->confirmed, g_date_time_ref(message->date));
  return decision;
}

/* The instructions of the message's new text, in its sender's calendar.
 * Automated mail gets none (instructions_extract() skips it, as ingest does:
 * it is never answered); other mail is read whoever sent it, so that the
 * rules can be tried on loose files without a config. */
static GPtrArray *cmd_score_instructions(ScoreRun *run, const KeelMessage *message)
{
  if (!run->instruction_rules)
    return g_ptr_array_new_with_free_func((GDestroyNotify)instruction_free);
  const KeelClient *client = message->from && run->config
    ? config_client_for_address(run->config, message->from->address) : NULL;
  InstructionContext ctx;
  g_autoptr(GTimeZone) zone = NULL;
  if (run->config) {
    trail_instruction_context(run->config, client, &ctx, &zone);
  } else {
    instruction_context_init(&ctx);
    ctx.dates.timezone = run->tz;
  }
  ctx.automated = message->automated;
  return instructions_extract(run->instruction_rules, message->new_text, message->date, &ctx);
}

/* One line of JSON written straight into `line` (filters/json-out.h: no
 * JsonBuilder tree, no generator), then printed. `line` is reused. */
static void cmd_score_print_json(GString *line, const char *path, const KeelMessage *message,
                             const ScoreResult *result, const GPtrArray *instructions,
                             const ConfirmDecision *decision)
{
  g_string_truncate(line, 0);
  json_put_object_start(line, NULL);
  json_put_string(line, "file", path);
  json_put_string(line, "message_id", message->message_id);
  score_result_to_json(result, line);
  instructions_to_json(instructions, line);
  json_put_string(line, "auto_reply", confirm_action_name(decision->action));
  json_put_string(line, "auto_reply_reason", decision->reason);
  json_put_object_end(line);
  g_string_append_c(line, '\n');
  fwrite(line->str, 1, line->len, stdout);
}

static void cmd_score_print_summary(const char *path, const ScoreResult *result)
{
  g_autofree char *flags = score_result_flags_csv(result);
  printf("%s: %s urgency=%d payment=%s flags=%s risk=%.2f%s\n", path,
         result->risky ? "RISKY" : "ok", result->urgency, result->payment,
         *flags ? flags : "-", result->risk, result->errors->len ? " (rule errors)" : "");
}

/* Up to `width` bytes either side of [start, end), on character boundaries,
 * on one line, with the match between « ». */
static char *cmd_score_context_snippet(const char *text, gint64 start, gint64 end, gsize width)
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

static void cmd_score_print_explain(const RuleSet *rules, const char *path,
                                const KeelMessage *message, const ScoreResult *result)
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
    const char *text = message_place_text(message, hit->where);
    g_autofree char *snippet = text ? cmd_score_context_snippet(text, hit->start, hit->end, 40) : NULL;
    printf("  %-8s %+g  %s (%s): %s\n", hit->dimension, hit->points, hit->rule, hit->where,
           snippet ? snippet : hit->match);
    if (hit->why)
      printf("           why: %s\n", hit->why);
  }
  learn_print_explain(rules, message, result);
  for (guint i = 0; i < result->errors->len; i++)
    printf("  ERROR %s\n", (char *)g_ptr_array_index(result->errors, i));
  printf("\n");
}

static void cmd_score_print_instructions(const GPtrArray *instructions,
                                     const ConfirmDecision *decision)
{
  for (guint i = 0; i < instructions->len; i++) {
    const Instruction *instruction = instructions->pdata[i];
    printf("  instruction: %s (deadline: %s)\n", instruction->text,
           instruction->deadline_iso ? instruction->deadline_iso : "none");
  }
  printf("  auto-reply: %s (%s)\n", confirm_action_name(decision->action), decision->reason);
}

/* Scores one file and prints it. Returns 0, EX_NOINPUT or EX_DATAERR. */
static int cmd_score_file(ScoreRun *run, const ScoreOptions *options, const char *path)
{
  g_autoptr(KeelMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  gsize max_size = run->config ? run->config->max_message_size : 0;
  int status = cmd_score_load_message(path, max_size, &message, &error);
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
  g_autoptr(GPtrArray) instructions = cmd_score_instructions(run, message);
  ConfirmDecision decision = cmd_score_auto_reply(run, message, result, instructions->len);
  if (options->json) {
    cmd_score_print_json(run->json_line, path, message, result, instructions, &decision);
  } else if (options->explain) {
    cmd_score_print_explain(run->rules, path, message, result);
    cmd_score_print_instructions(instructions, &decision);
  } else {
    cmd_score_print_summary(path, result);
  }
  return 0;
}

static void cmd_score_run_clear(ScoreRun *run)
{
  g_clear_pointer(&run->rules, rules_free);
  g_clear_pointer(&run->instruction_rules, instruction_rules_free);
  g_clear_pointer(&run->threads, g_hash_table_unref);
  g_clear_pointer(&run->thread_list, g_ptr_array_unref);
  g_clear_pointer(&run->config, config_free);
  g_clear_pointer(&run->now, g_date_time_unref);
  g_clear_pointer(&run->tz, g_time_zone_unref);
  if (run->json_line)
    g_string_free(g_steal_pointer(&run->json_line), TRUE);
}

/* Config, rules and context. Returns 0 or the exit code. */
static int cmd_score_run_setup(ScoreRun *run, const ScoreOptions *options, KeelGlobals *globals)
{
  int rc = store_cli_load_config(globals, &run->config);
  if (rc != EX_OK)
    return rc;
  if (globals->now && !(run->now = cli_now(globals)))
    return EX_USAGE;
  cmd_score_fill_context(run);
  if (options->parse_only)
    return 0;
  g_autofree char *dir = verdict_rules_dir(options->rules_dir, run->config);
  g_autoptr(GError) error = NULL;
  if (!verdict_load_rules(dir, &run->rules, &run->instruction_rules, &error)) {
    fprintf(stderr, "keel score: rules in %s refused:\n%s\n", dir, error->message);
    return EX_DATAERR;
  }
  run->threads = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  run->thread_list = g_ptr_array_new_with_free_func(cmd_score_thread_free);
  run->json_line = g_string_sized_new(4096);
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
      "Rules directory (default: the config's, else /etc/keel/rules when it exists, else ./rules)", "DIR" },
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
  int status = cmd_score_run_setup(&run, &options, &globals);
  gboolean ready = status == 0 && (run.rules || options.parse_only);
  for (int i = 1; ready && i < argc; i++) {
    int result = cmd_score_file(&run, &options, argv[i]);
    status = (status == EX_NOINPUT || result == EX_NOINPUT) ? EX_NOINPUT : MAX(status, result);
  }
  cmd_score_run_clear(&run);
  cli_globals_clear(&globals);
  g_free(options.rules_dir);
  return status;
}
