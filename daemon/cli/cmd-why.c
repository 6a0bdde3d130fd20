/* daemon/cli/cmd-why.c: `keel why MESSAGE`: why keel answered a message, or
 * why it stayed silent.
 *
 * MESSAGE is a stored message's row id, its Message-ID (with or without <>),
 * or a .eml file (looked up in the store by its Message-ID when it is there).
 * The reply decision is filters/confirm.c's, asked the way the daemon asks it
 * (outbox-plan.c) and `keel score` does: the message scored with today's
 * rules and its thread's history, its instructions, its thread's risk as of
 * the message and the confirmations the thread had in the 12 hours before
 * keel stored it. Every step is shown with its evidence, in the words of
 * the rules' `why` lines, never a rule's internal name. Then what the daemon
 * actually did, from the outbox and the trail: planned, drafted, sent,
 * failed, or nothing.
 *
 * Must not: write anything (the store is only read), send or fetch mail.
 */
#include <stdio.h>
#include <string.h>
#include "daemon/base/commands.h"
#include "daemon/cli/store-cli.h"
#include "daemon/record/trail.h"
#include "daemon/record/verdict.h"
#include "filters/confirm.h"
#include "filters/excerpt.h"

typedef struct {
  char *rules_dir;   /* --rules */
  char *database;    /* --database */
} WhyOptions;

typedef struct {
  KeelConfig *config;          /* owned, may be NULL */
  RuleSet *rules;              /* owned */
  InstructionRules *extractors; /* owned */
  Store *store;                /* owned, may be NULL for a .eml */
  GTimeZone *tz;               /* owned: the VA's zone, for times shown */
} WhyRun;

/* What the decision was asked with, for one message. */
typedef struct {
  const KeelMessage *message;
  const ScoreResult *verdict;
  const KeelClient *client;
  GPtrArray *instructions;     /* of Instruction* */
  ConfirmFacts facts;
} WhyCase;

static void cmd_why_run_clear(WhyRun *run)
{
  g_clear_pointer(&run->config, config_free);
  g_clear_pointer(&run->rules, rules_free);
  g_clear_pointer(&run->extractors, instruction_rules_free);
  g_clear_pointer(&run->store, store_close);
  g_clear_pointer(&run->tz, g_time_zone_unref);
}

/* "Mon 2 Mar 09:05" in the VA's zone. New string. */
static char *cmd_why_time(const WhyRun *run, GDateTime *when)
{
  if (!when)
    return g_strdup("?");
  g_autoptr(GDateTime) local = g_date_time_to_timezone(when, run->tz);
  return g_date_time_format(local, "%a %-d %b %Y %H:%M");
}

/* ---- evidence, in the rules' own words --------------------------------- */

/* One hit as the VA reads it: `threat +6: Mentions legal action: "…court…"`. */
static void cmd_why_print_hit(const KeelMessage *message, const ScoreHit *hit)
{
  const char *text = message_place_text(message, hit->where);
  g_autofree char *quote = text ? excerpt_around(text, hit->start, hit->end, 40) : NULL;
  printf("          %s %+g: %s", hit->dimension, hit->points,
         hit->why ? hit->why : "matched");
  if (quote)
    printf(": \"%s\"", quote);
  printf("\n");
}

/* The hits behind step `step` (the family, dimension and urgency steps). */
static void cmd_why_print_evidence(const WhyCase *c, const ConfirmStep *step)
{
  gboolean family = strcmp(step->step, "blame, threat, tone") == 0;
  gboolean others = strcmp(step->step, "other dimensions") == 0;
  gboolean urgency = strcmp(step->step, "urgency") == 0;
  if (!step->blocked || !(family || others || urgency))
    return;
  for (guint i = 0; i < c->verdict->hits->len; i++) {
    const ScoreHit *hit = g_ptr_array_index(c->verdict->hits, i);
    gboolean is_family = confirm_is_family_dimension(hit->dimension);
    gboolean is_urgency = strcmp(hit->dimension, "urgency") == 0;
    if (hit->points > 0 && ((family && is_family) || (urgency && is_urgency)
                            || (others && !is_family && !is_urgency)))
      cmd_why_print_hit(c->message, hit);
  }
}

/* The first hit with points > 0 of the family (`family`) or of the other
 * dimensions but urgency, or NULL. */
static const ScoreHit *cmd_why_first_hit(const ScoreResult *verdict, gboolean family)
{
  for (guint i = 0; i < verdict->hits->len; i++) {
    const ScoreHit *hit = g_ptr_array_index(verdict->hits, i);
    if (hit->points > 0 && strcmp(hit->dimension, "urgency") != 0
        && confirm_is_family_dimension(hit->dimension) == family)
      return hit;
  }
  return NULL;
}

/* A blocked step in words without rule names: the rule's `why`. New string. */
static char *cmd_why_step_words(const WhyCase *c, const ConfirmStep *step)
{
  gboolean family = strcmp(step->step, "blame, threat, tone") == 0;
  if (family || strcmp(step->step, "other dimensions") == 0) {
    const ScoreHit *hit = cmd_why_first_hit(c->verdict, family);
    return hit ? g_strdup_printf("%s (%s %+g): it waits for a person",
                                 hit->why ? hit->why : "a rule matched", hit->dimension,
                                 hit->points)
               : g_strdup("something in it argues against a template reply: it waits for "
                          "a person");
  }
  if (strcmp(step->step, "urgency") == 0)
    return g_strdup_printf("urgency %d (ASAP, or chasing overdue work): it waits for a person",
                           c->verdict->urgency);
  return g_strdup(step->reason);
}

/* Prints every step; returns the first that blocked (NULL: none). */
static const ConfirmStep *cmd_why_print_steps(const WhyCase *c, ConfirmStep *steps, guint n)
{
  const ConfirmStep *first = NULL;
  printf("the reply decision, step by step:\n");
  for (guint i = 0; i < n; i++) {
    const ConfirmStep *step = &steps[i];
    g_autofree char *words = step->blocked ? cmd_why_step_words(c, step) : NULL;
    printf("  %-4s  %-20s %s\n", step->blocked ? "STOP" : "ok", step->step,
           step->blocked ? words : step->passed);
    cmd_why_print_evidence(c, step);
    if (step->blocked && !first)
      first = step;
  }
  if (n < CONFIRM_STEP_COUNT)
    printf("  (the other steps need a verdict: no rules were loaded)\n");
  return first;
}

/* ---- the decision ------------------------------------------------------ */

static GPtrArray *cmd_why_instructions(const WhyRun *run, const KeelMessage *message,
                                       const KeelClient *client)
{
  if (!client || !run->extractors || !message->new_text)
    return g_ptr_array_new_with_free_func((GDestroyNotify)instruction_free);
  InstructionContext ctx;
  g_autoptr(GTimeZone) zone = NULL;
  trail_instruction_context(run->config, client, &ctx, &zone);
  ctx.automated = message->automated;
  return instructions_extract(run->extractors, message->new_text, message->date, &ctx);
}

/* The header, the steps and the decision of `c`. */
static void cmd_why_print_decision(const WhyRun *run, WhyCase *c)
{
  const KeelMessage *m = c->message;
  g_autofree char *date = cmd_why_time(run, m->date);
  printf("<%s>\n  \"%s\" from %s, %s\n", m->message_id, m->subject,
         m->from ? m->from->address : "(no From)", date);
  printf("  client: %s; risk %s%.2f; %u instruction(s) found\n",
         c->client ? c->client->name : "none (not a known client)",
         c->verdict && c->verdict->risky ? "RISKY " : "", c->verdict ? c->verdict->risk : 0,
         c->instructions->len);
  for (guint i = 0; i < c->instructions->len; i++) {
    const Instruction *instruction = c->instructions->pdata[i];
    printf("    %u) %s\n", i + 1, instruction->text);
  }
  ConfirmStep steps[CONFIRM_STEP_COUNT];
  guint n = confirm_steps(&c->facts, steps);
  const ConfirmStep *first = cmd_why_print_steps(c, steps, n);
  g_autofree char *words = first ? cmd_why_step_words(c, first) : NULL;
  printf("decision: %s\n", first ? "no reply" : "confirm the instructions in writing");
  if (first)
    printf("  because (%s): %s\n", first->step, words);
}

/* ---- what the daemon did ----------------------------------------------- */

static void cmd_why_print_reply(const WhyRun *run, const StoreOutboxRow *row)
{
  g_autofree char *created = cmd_why_time(run, row->created);
  g_autofree char *updated = cmd_why_time(run, row->updated);
  const char *s = row->state;
  printf("  reply %" G_GINT64_FORMAT " to %s, \"%s\": planned %s; ", row->id, row->rcpt,
         row->subject, created);
  if (strcmp(s, "sent") == 0)
    printf("sent %s\n", updated);
  else if (strcmp(s, "drafted") == 0)
    printf("drafted %s: in your Drafts folder for you to send\n", updated);
  else if (strcmp(s, "queued") == 0 || strcmp(s, "sending") == 0)
    printf("waiting to be sent (%s)\n", s);
  else if (strcmp(s, "tempfail") == 0)
    printf("not sent yet, will retry (%s)\n", row->last_error ? row->last_error : "?");
  else
    printf("%s %s%s%s\n", s, updated, row->last_error ? ": " : "",
           row->last_error ? row->last_error : "");
}

/* What the daemon did with stored message `found`. Returns an exit code. */
static int cmd_why_print_done(const WhyRun *run, const StoreWhyRow *found, const WhyCase *c)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) replies = store_why_replies(run->store, found->row_id, &error);
  g_autoptr(GPtrArray) events = replies
    ? store_why_events(run->store, found->message_id, found->row_id, &error) : NULL;
  if (!events) {
    fprintf(stderr, "keel why: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  g_autofree char *received = cmd_why_time(run, found->received);
  printf("what keel did (stored as row %" G_GINT64_FORMAT ", %s):\n", found->row_id, received);
  for (guint i = 0; i < replies->len; i++)
    cmd_why_print_reply(run, replies->pdata[i]);
  ConfirmDecision now = confirm_decide(&c->facts);
  if (replies->len == 0 && now.action == CONFIRM_SEND)
    printf("  no reply was planned, though today's rules would confirm it: the rules changed "
           "since, or a guard held it (a reply to keel's own mail, two automatic replies in "
           "the thread without you, the daily limit per client, or a template that failed: "
           "see keel status)\n");
  else if (replies->len == 0)
    printf("  no reply: skipped, for the reason above\n");
  for (guint i = 0; i < events->len; i++) {
    const StoreTrailEvent *event = events->pdata[i];
    g_autofree char *at = cmd_why_time(run, event->at);
    printf("  trail %" G_GINT64_FORMAT "  %s  %s: %s\n", event->id, at, event->kind,
           event->detail);
  }
  return EX_OK;
}

/* ---- one message ------------------------------------------------------- */

/* The thread of stored message `found` as ScoreThreadEntry (dates borrowed
 * from `entries`), this message with `risk`. */
static GArray *cmd_why_thread(GPtrArray *entries, const StoreWhyRow *found, double risk,
                              GDateTime *date)
{
  GArray *array = g_array_new(FALSE, TRUE, sizeof(ScoreThreadEntry));
  for (guint i = 0; i < entries->len; i++) {
    const StoreThreadEntry *e = entries->pdata[i];
    if (e->row_id != found->row_id && g_date_time_compare(e->date, date) > 0)
      continue;
    ScoreThreadEntry item = { e->date, e->direction == STORE_DIRECTION_OUT,
                              e->row_id == found->row_id ? risk : e->risk };
    g_array_append_val(array, item);
  }
  return array;
}

/* The facts only the store knows: history, thread risk, recent replies. */
static gboolean cmd_why_stored_facts(const WhyRun *run, const StoreWhyRow *found, WhyCase *c,
                                     GError **error)
{
  g_autoptr(GPtrArray) entries = store_thread_entries(run->store, found->thread_id, error);
  if (!entries)
    return FALSE;
  GDateTime *as_of = g_date_time_compare(c->message->date, found->received) > 0
    ? found->received : c->message->date;
  g_autoptr(GArray) thread = cmd_why_thread(entries, found, c->verdict->risk, as_of);
  c->facts.thread_risk = score_thread_risk((const ScoreThreadEntry *)(void *)thread->data,
                                           thread->len, as_of,
                                           run->rules->thread_halflife_hours);
  g_autoptr(GDateTime) since = g_date_time_add_hours(found->received, -CONFIRM_WINDOW_HOURS);
  gint64 recent = store_why_confirmations_before(run->store, found->thread_id, since,
                                                 found->received, error);
  c->facts.recent_confirmations = recent > 0 ? (guint)recent : 0;
  c->facts.first_sync = found->first_sync;
  return recent >= 0;
}

/* Scores `message` and fills `c` (the caller frees c->instructions). */
static ScoreResult *cmd_why_score(const WhyRun *run, const KeelMessage *message, WhyCase *c)
{
  ScoreContext context;
  verdict_context_init(&context, run->config, run->tz);
  g_autoptr(GError) error = NULL;
  ScoreResult *verdict = score_message(run->rules, message, &context, &error);
  c->message = message;
  c->verdict = verdict;
  c->client = message->from && run->config
    ? config_client_for_address(run->config, message->from->address) : NULL;
  c->instructions = cmd_why_instructions(run, message, c->client);
  c->facts = (ConfirmFacts){
    .known_client = c->client != NULL, .automated = message->automated,
    .automated_reason = message->automated_reason, .verdict = verdict,
    .thread_risk = verdict ? verdict->risk : 0, .instructions = c->instructions->len,
  };
  return verdict;
}

/* `keel why` for a message of the store. */
static int cmd_why_stored(const WhyRun *run, const StoreWhyRow *found)
{
  if (!found->incoming || !found->raw) {
    printf("<%s>: row %" G_GINT64_FORMAT " is %s: keel never answers it\n",
           found->message_id, found->row_id,
           !found->incoming ? "your own mail (Sent)" : "stored without its body (too large)");
    return EX_OK;
  }
  gsize size = 0;
  const guint8 *data = g_bytes_get_data(found->raw, &size);
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelMessage) message = message_parse(data, size, NULL, 0, &error);
  if (!message) {
    fprintf(stderr, "keel why: row %" G_GINT64_FORMAT ": %s\n", found->row_id, error->message);
    return EX_DATAERR;
  }
  WhyCase c = { 0 };
  g_autoptr(ScoreResult) verdict = cmd_why_score(run, message, &c);
  g_autoptr(GPtrArray) instructions = c.instructions;
  if (verdict && !cmd_why_stored_facts(run, found, &c, &error)) {
    fprintf(stderr, "keel why: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  c.facts.first_sync = found->first_sync;
  cmd_why_print_decision(run, &c);
  return cmd_why_print_done(run, found, &c);
}

/* `keel why FILE.eml`: from the store when it holds the message, else as a
 * new message from its sender. */
static int cmd_why_file(const WhyRun *run, const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  if (!g_file_get_contents(path, &data, &len, &error)) {
    fprintf(stderr, "keel why: %s\n", error->message);
    return EX_NOINPUT;
  }
  g_autoptr(KeelMessage) message = message_parse((const guint8 *)data, len, NULL, 0, &error);
  if (!message) {
    fprintf(stderr, "keel why: %s: not a message: %s\n", path, error->message);
    return EX_DATAERR;
  }
  g_autoptr(StoreWhyRow) found = run->store
    ? store_why_find(run->store, message->message_id, NULL) : NULL;
  if (found)
    return cmd_why_stored(run, found);
  WhyCase c = { 0 };
  g_autoptr(ScoreResult) verdict = cmd_why_score(run, message, &c);
  g_autoptr(GPtrArray) instructions = c.instructions;
  cmd_why_print_decision(run, &c);
  printf("what keel did: nothing yet: %s is not in the database (as a new message)\n", path);
  return EX_OK;
}

/* ---- setup ------------------------------------------------------------- */

static int cmd_why_setup(WhyRun *run, const WhyOptions *options, const KeelGlobals *globals,
                         gboolean need_store)
{
  int rc = store_cli_load_config(globals, &run->config);
  if (rc != EX_OK)
    return rc;
  run->tz = g_time_zone_new_identifier(run->config ? run->config->timezone : "Europe/London");
  if (!run->tz)
    run->tz = g_time_zone_new_utc();
  g_autofree char *dir = verdict_rules_dir(options->rules_dir, run->config);
  g_autoptr(GError) error = NULL;
  if (!verdict_load_rules(dir, &run->rules, &run->extractors, &error)) {
    fprintf(stderr, "keel why: rules in %s refused:\n%s\n", dir, error->message);
    return EX_DATAERR;
  }
  const char *database = options->database ? options->database
                       : run->config ? run->config->database : NULL;
  if (!need_store && (!database || !g_file_test(database, G_FILE_TEST_EXISTS)))
    return EX_OK;
  run->store = store_cli_open(options->database, run->config, &rc);
  return run->store || !need_store ? EX_OK : rc;
}

static gboolean cmd_why_is_file(const char *what)
{
  return g_str_has_suffix(what, ".eml") || g_file_test(what, G_FILE_TEST_IS_REGULAR);
}

static int cmd_why_one(const WhyOptions *options, const KeelGlobals *globals, const char *what)
{
  WhyRun run = { 0 };
  gboolean file = cmd_why_is_file(what);
  int rc = cmd_why_setup(&run, options, globals, !file);
  if (rc == EX_OK && file) {
    rc = cmd_why_file(&run, what);
  } else if (rc == EX_OK) {
    g_autoptr(GError) error = NULL;
    g_autoptr(StoreWhyRow) found = store_why_find(run.store, what, &error);
    if (found)
      rc = cmd_why_stored(&run, found);
    else if (error)
      rc = (fprintf(stderr, "keel why: %s\n", error->message), store_cli_exit_code(error));
    else
      rc = (fprintf(stderr, "keel why: no stored message has row id or Message-ID '%s' "
                            "(keel search finds one by its words)\n", what), EX_NOINPUT);
  }
  cmd_why_run_clear(&run);
  return rc;
}

int cmd_why(int argc, char **argv)
{
  WhyOptions options = { 0 };
  KeelGlobals globals = { 0 };
  const GOptionEntry entries[] = {
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &options.database,
      "Database (default: the config's)", "PATH" },
    { "rules", 'r', 0, G_OPTION_ARG_FILENAME, &options.rules_dir,
      "Rules directory (default: the config's, else /etc/keel/rules when it exists, else ./rules)", "DIR" },
    { NULL }
  };
  int rc = EX_USAGE;
  if (!cli_parse_options(&argc, &argv, "MESSAGE",
                         "Why keel answered a message or stayed silent. MESSAGE: a row id, a "
                         "Message-ID or a .eml file.", entries, &globals))
    return EX_USAGE;
  if (argc != 2)
    fprintf(stderr, "keel why: give one MESSAGE: a row id, a Message-ID or a .eml file "
                    "(see --help)\n");
  else
    rc = cmd_why_one(&options, &globals, argv[1]);
  cli_globals_clear(&globals);
  g_free(options.database);
  g_free(options.rules_dir);
  return rc;
}
