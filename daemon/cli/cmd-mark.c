/* daemon/cli/cmd-mark.c: `keel mark MESSAGE risky|fine [--dimension D]`: the
 * VA says a message was risky (or fine) and keel learns from it. MESSAGE is a
 * stored message's row id, its Message-ID (with or without <>), or a .eml
 * file. The correction is recorded in the trail and moves the learned model
 * of her mailbox by one capped step (daemon/record/corrections.c); the same
 * correction twice changes nothing. `keel rescore` then re-reads stored mail
 * with the new model.
 *
 * Must not: change the message's stored verdict (rescore does), touch mail.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "daemon/cli/learn-cli.h"
#include "daemon/cli/store-cli.h"
#include "daemon/record/corrections.h"
#include "filters/score.h"

/* TRUE when `text` is a row id (digits only). */
static gboolean cmd_mark_is_row_id(const char *text, gint64 *row_id)
{
  for (const char *p = text; *p; p++)
    if (!g_ascii_isdigit(*p))
      return FALSE;
  *row_id = g_ascii_strtoll(text, NULL, 10);
  return *text && *row_id > 0;
}

/* The message MESSAGE names, parsed; `*row_id` its row (0: not stored).
 * NULL after printing why. */
static KeelMessage *cmd_mark_find(Store *store, const char *what, gint64 *row_id)
{
  *row_id = 0;
  if (g_file_test(what, G_FILE_TEST_IS_REGULAR)) {
    KeelMessage *message = learn_read_message(what);
    g_autoptr(GBytes) stored = message ? store_learned_message_raw(store, 0, message->message_id,
                                                                  row_id, NULL) : NULL;
    return message;
  }
  gint64 wanted = 0;
  g_autofree char *message_id = g_strdup(what);
  if (!cmd_mark_is_row_id(what, &wanted)) {
    g_strstrip(message_id);
    gsize len = strlen(message_id);
    if (len > 2 && message_id[0] == '<' && message_id[len - 1] == '>') {
      message_id[len - 1] = '\0';
      memmove(message_id, message_id + 1, len - 1);
    }
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) raw = store_learned_message_raw(store, wanted, message_id, row_id, &error);
  if (!raw) {
    fprintf(stderr, "keel mark: %s\n", error ? error->message
            : "no such message (give a row id, a Message-ID or a .eml file)");
    return NULL;
  }
  KeelMessage *message = message_parse(g_bytes_get_data(raw, NULL), g_bytes_get_size(raw), NULL,
                                       0, &error);
  if (!message)
    fprintf(stderr, "keel mark: message %s: %s\n", what, error->message);
  return message;
}

/* The learned probability of `dimension` for `message` (NAN without a model). */
static double cmd_mark_probability(const RuleSet *rules, const KeelMessage *message,
                                   guint dimension)
{
  const LearnedModel *model = rules->learned ? rules->learned->models[dimension] : NULL;
  if (!model)
    return NAN;
  g_autoptr(LearnedFeatures) features = score_learned_features(message);
  return learned_model_predict(model, features);
}

static int cmd_mark_run(const KeelGlobals *globals, const char *what, gboolean label,
                        guint dimension, const char *database, const char *rules_dir)
{
  g_autoptr(GDateTime) now = cli_now(globals);
  g_autoptr(Store) store = NULL;
  g_autoptr(RuleSet) rules = NULL;
  if (!now)
    return EX_USAGE;
  int rc = learn_open(globals, database, rules_dir, &store, &rules, NULL);
  if (rc != EX_OK)
    return rc;
  gint64 row_id = 0;
  g_autoptr(KeelMessage) message = cmd_mark_find(store, what, &row_id);
  if (!message)
    return EX_NOINPUT;
  double before = cmd_mark_probability(rules, message, dimension);
  CorrectionsOutcome outcome;
  g_autoptr(GError) error = NULL;
  if (!corrections_apply(store, rules, message, row_id, dimension, label, "mark", now, &outcome,
                         NULL, &error)) {
    fprintf(stderr, "keel mark: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  printf("<%s>: %s for %s%s; learned_%s %.2f -> %.2f\n", message->message_id,
         label ? "risky" : "fine", learned_dimension_name(dimension),
         outcome == CORRECTIONS_UNCHANGED ? " (already recorded: nothing changed)" : "",
         learned_dimension_name(dimension), before,
         cmd_mark_probability(rules, message, dimension));
  return EX_OK;
}

int cmd_mark(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  g_autofree char *dimension = NULL, *database = NULL, *rules_dir = NULL;
  const GOptionEntry entries[] = {
    { "dimension", 0, 0, G_OPTION_ARG_STRING, &dimension,
      "What was (or was not) the case: risky (default), tone, threat, payment or scope", "D" },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database,
      "The database (default: the config's)", "FILE" },
    { "rules", 'r', 0, G_OPTION_ARG_FILENAME, &rules_dir,
      "The rules directory (default: the config's, else /etc/keel/rules when it exists, else ./rules)", "DIR" },
    { NULL }
  };
  int status = EX_USAGE;
  if (cli_parse_options(&argc, &argv, "MESSAGE risky|fine",
                        "Tell keel a message was risky or fine; the learned signal learns from "
                        "it. MESSAGE: a row id, a Message-ID or a .eml file.", entries, &globals)) {
    int d = learned_dimension_lookup(dimension ? dimension : "risky");
    gboolean valid = argc == 3 && (!strcmp(argv[2], "risky") || !strcmp(argv[2], "fine"));
    if (d < 0)
      fprintf(stderr, "keel mark: --dimension is one of risky tone threat payment scope\n");
    else if (!valid)
      fprintf(stderr, "keel mark: say MESSAGE risky or MESSAGE fine (see --help)\n");
    else
      status = cmd_mark_run(&globals, argv[1], strcmp(argv[2], "risky") == 0, (guint)d, database,
                            rules_dir);
  }
  cli_globals_clear(&globals);
  return status;
}
