/* daemon/cli/cmd-learn.c: `keel learn train --corpus DIR... --out DIR` builds
 * the learned models (rules/learned/NAME.model) from labelled folders, and
 * `keel learn status` shows the VA's corrections and how well the model of
 * her mailbox does on them.
 *
 * Training reads each corpus folder's labels.json (the format of
 * ../shared/corpus/dev/README.md: `file`, `risky`, `hostile`, `threat`,
 * `payment`, `scope`), parses every message, and trains one model per
 * dimension (filters/learned.c). With two or more folders each model's
 * header carries its leave-one-folder-out figures. The header's date is
 * --date, else the newest Date among the corpus messages, never the clock:
 * the same corpus gives the same files byte for byte.
 *
 * Must not: write anywhere but --out; change the store (status only reads).
 */
#include <stdio.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include "daemon/base/commands.h"
#include "daemon/cli/learn-cli.h"
#include "filters/learned.h"
#include "filters/message.h"
#include "filters/score.h"

/* The probability at which the cross-validated figures count a message
 * positive: the threshold rules/learned.rules uses. */
#define LEARN_CV_THRESHOLD 0.5

/* Everything read from the corpus folders. */
typedef struct {
  GPtrArray *examples;          /* owned, of LearnedFeatures* */
  GArray *labels[LEARNED_COUNT];/* owned, of gboolean */
  GArray *groups;               /* owned, of guint: which folder */
  GPtrArray *summaries;         /* owned, of char*: "dev (40 messages)" */
  GPtrArray *backgrounds;       /* owned, of char*: "hard-ham-1 (250 messages)" */
  double background_weight;     /* importance of a background message */
  GDateTime *newest;            /* owned, may be NULL */
} LearnCorpus;

static void cmd_learn_corpus_clear(LearnCorpus *corpus)
{
  g_clear_pointer(&corpus->examples, g_ptr_array_unref);
  for (guint i = 0; i < LEARNED_COUNT; i++)
    g_clear_pointer(&corpus->labels[i], g_array_unref);
  g_clear_pointer(&corpus->groups, g_array_unref);
  g_clear_pointer(&corpus->summaries, g_ptr_array_unref);
  g_clear_pointer(&corpus->backgrounds, g_ptr_array_unref);
  g_clear_pointer(&corpus->newest, g_date_time_unref);
}

static void cmd_learn_corpus_init(LearnCorpus *corpus)
{
  memset(corpus, 0, sizeof *corpus);
  corpus->examples = g_ptr_array_new_with_free_func((GDestroyNotify)learned_features_free);
  for (guint i = 0; i < LEARNED_COUNT; i++)
    corpus->labels[i] = g_array_new(FALSE, FALSE, sizeof(gboolean));
  corpus->groups = g_array_new(FALSE, FALSE, sizeof(guint));
  corpus->summaries = g_ptr_array_new_with_free_func(g_free);
  corpus->backgrounds = g_ptr_array_new_with_free_func(g_free);
}

static gboolean cmd_learn_label_of(JsonObject *label, guint dimension)
{
  static const char *const fields[LEARNED_COUNT] = { "risky", "hostile", "threat", NULL,
                                                     "scope" };
  if (dimension == LEARNED_PAYMENT) {
    const char *payment = json_object_get_string_member_with_default(label, "payment", "none");
    return g_strv_contains((const char *const[]){ "dispute", "refusal", "haggle", NULL },
                           payment);
  }
  return json_object_get_boolean_member_with_default(label, fields[dimension], FALSE);
}

/* One example: `message` with the labels of `label` (NULL: negative for all). */
static void cmd_learn_corpus_append(LearnCorpus *corpus, const KeelMessage *message,
                                    JsonObject *label, guint group, double importance)
{
  LearnedFeatures *features = score_learned_features(message);
  features->importance = importance;
  g_ptr_array_add(corpus->examples, features);
  for (guint d = 0; d < LEARNED_COUNT; d++) {
    gboolean value = label ? cmd_learn_label_of(label, d) : FALSE;
    g_array_append_val(corpus->labels[d], value);
  }
  g_array_append_val(corpus->groups, group);
}

static gint cmd_learn_compare_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the message of one labels.json entry. FALSE after printing why. */
static gboolean cmd_learn_corpus_add(LearnCorpus *corpus, const char *dir, JsonObject *label,
                                     guint group)
{
  const char *file = json_object_get_string_member_with_default(label, "file", NULL);
  if (!file) {
    fprintf(stderr, "keel learn: %s/labels.json: an entry without \"file\"\n", dir);
    return FALSE;
  }
  g_autofree char *path = g_build_filename(dir, file, NULL);
  g_autoptr(KeelMessage) message = learn_read_message(path);
  if (!message)
    return FALSE;
  cmd_learn_corpus_append(corpus, message, label, group, 1.0);
  if (!message->date_fallback &&
      (!corpus->newest || g_date_time_compare(message->date, corpus->newest) > 0)) {
    g_clear_pointer(&corpus->newest, g_date_time_unref);
    corpus->newest = g_date_time_ref(message->date);
  }
  return TRUE;
}

/* Reads one folder (group `group`). FALSE after printing why. */
static gboolean cmd_learn_corpus_read(LearnCorpus *corpus, const char *dir, guint group)
{
  g_autofree char *path = g_build_filename(dir, "labels.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  if (!json_parser_load_from_file(parser, path, &error)) {
    fprintf(stderr, "keel learn: %s: %s\n", path, error->message);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root(parser);
  if (!JSON_NODE_HOLDS_ARRAY(root)) {
    fprintf(stderr, "keel learn: %s: expected an array of labels\n", path);
    return FALSE;
  }
  JsonArray *labels = json_node_get_array(root);
  for (guint i = 0; i < json_array_get_length(labels); i++)
    if (!cmd_learn_corpus_add(corpus, dir, json_array_get_object_element(labels, i), group))
      return FALSE;
  g_autofree char *name = g_path_get_basename(dir);
  g_ptr_array_add(corpus->summaries,
                  g_strdup_printf("%s (%u messages)", name, json_array_get_length(labels)));
  return TRUE;
}

/* Adds every *.eml of `dir` as a negative example of every dimension, in
 * name order, always trained on. FALSE after printing why. */
static gboolean cmd_learn_background_read(LearnCorpus *corpus, const char *dir)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) handle = g_dir_open(dir, 0, &error);
  if (!handle) {
    fprintf(stderr, "keel learn: %s\n", error->message);
    return FALSE;
  }
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *name;
  while ((name = g_dir_read_name(handle)))
    if (g_str_has_suffix(name, ".eml"))
      g_ptr_array_add(names, g_strdup(name));
  g_ptr_array_sort(names, cmd_learn_compare_names);
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
    g_autoptr(KeelMessage) message = learn_read_message(path);
    if (!message)
      return FALSE;
    cmd_learn_corpus_append(corpus, message, NULL, LEARNED_GROUP_ALWAYS, corpus->background_weight);
  }
  g_autofree char *base = g_path_get_basename(dir);
  g_ptr_array_add(corpus->backgrounds, g_strdup_printf("%s (%u messages)", base, names->len));
  return TRUE;
}

/* The header of the model of `dimension`. */
static char *cmd_learn_header(const LearnCorpus *corpus, guint dimension, const char *date,
                              const LearnedTrainOptions *options, const LearnedCounts *cv)
{
  guint positives = 0;
  for (guint i = 0; i < corpus->labels[dimension]->len; i++)
    positives += g_array_index(corpus->labels[dimension], gboolean, i) ? 1 : 0;
  g_autoptr(GString) folders = g_string_new(NULL);
  for (guint i = 0; i < corpus->summaries->len; i++)
    g_string_append_printf(folders, "%s%s", i ? ", " : "",
                           (char *)g_ptr_array_index(corpus->summaries, i));
  g_autoptr(GString) h = g_string_new(NULL);
  g_string_append_printf(h, "keel learned model: %s (`keel learn train`; edit the rules, not this)\n",
                         learned_dimension_name(dimension));
  for (guint i = 0; i < corpus->backgrounds->len; i++)
    g_string_append_printf(folders, "; background, all negative, weight %g: %s",
                           corpus->background_weight,
                           (char *)g_ptr_array_index(corpus->backgrounds, i));
  g_string_append_printf(h, "trained on: %s; %u positive of %u\n", folders->str, positives,
                         corpus->examples->len);
  g_string_append_printf(h, "date: %s\n", date);
  g_string_append_printf(h, "features: word 1-2-grams of subject (s:) and new text, %u hashed "
                         "buckets (FNV-1a), L2-normalised\n", LEARNED_BUCKETS);
  g_string_append_printf(h, "training: SGD, %u passes, rate %g, L2 %g, seed %" G_GUINT64_FORMAT
                         ", classes %s, weights under %g dropped\n", options->epochs,
                         options->rate, options->l2, options->seed,
                         options->balance ? "balanced" : "as found", options->min_weight);
  if (cv)
    g_string_append_printf(h, "cross-validated (leave one folder out, p >= %g as in "
                           "learned.rules): F1 %.2f "
                           "precision %.2f recall %.2f (tp %u fp %u fn %u tn %u)",
                           LEARN_CV_THRESHOLD, learned_counts_f1(cv), learned_counts_precision(cv),
                           learned_counts_recall(cv), cv->tp, cv->fp, cv->fn, cv->tn);
  else
    g_string_append(h, "cross-validated: not measured (one folder)");
  return g_string_free(g_steal_pointer(&h), FALSE);
}

/* Trains, checks and writes the model of `dimension`. FALSE after printing why. */
static gboolean cmd_learn_write_model(const LearnCorpus *corpus, guint dimension, const char *date,
                                      const char *out_dir, const LearnedTrainOptions *train)
{
  LearnedTrainOptions options = *train;
  LearnedFeatures *const *examples = (LearnedFeatures *const *)corpus->examples->pdata;
  const gboolean *labels = (const gboolean *)(void *)corpus->labels[dimension]->data;
  LearnedCounts cv;
  gboolean several = corpus->summaries->len > 1;
  if (several)
    learned_cross_validate(dimension, examples, labels,
                           (const guint *)(void *)corpus->groups->data, corpus->examples->len,
                           &options, LEARN_CV_THRESHOLD, &cv);
  g_autoptr(LearnedModel) model = learned_train(dimension, examples, labels,
                                                corpus->examples->len, &options);
  g_autofree char *header = cmd_learn_header(corpus, dimension, date, &options,
                                              several ? &cv : NULL);
  g_autofree char *text = learned_model_to_text(model, header);
  g_autofree char *name = g_strconcat(learned_dimension_name(dimension), ".model", NULL);
  g_autofree char *path = g_build_filename(out_dir, name, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_file_set_contents(path, text, -1, &error)) {
    fprintf(stderr, "keel learn: %s\n", error->message);
    return FALSE;
  }
  if (several)
    printf("%s: cross-validated F1 %.2f\n", path, learned_counts_f1(&cv));
  else
    printf("%s: trained\n", path);
  return TRUE;
}

static int cmd_learn_train(char **corpora, char **backgrounds, double background_weight,
                           const char *out_dir, const char *date_option,
                           const LearnedTrainOptions *options)
{
  if (!corpora || !corpora[0] || !out_dir) {
    fprintf(stderr, "keel learn train: give --corpus DIR (one or more) and --out DIR\n");
    return EX_USAGE;
  }
  LearnCorpus corpus;
  cmd_learn_corpus_init(&corpus);
  corpus.background_weight = background_weight;
  int status = EX_OK;
  for (guint i = 0; corpora[i] && status == EX_OK; i++)
    if (!cmd_learn_corpus_read(&corpus, corpora[i], i))
      status = EX_DATAERR;
  for (guint i = 0; backgrounds && backgrounds[i] && status == EX_OK; i++)
    if (!cmd_learn_background_read(&corpus, backgrounds[i]))
      status = EX_DATAERR;
  g_autofree char *date = date_option ? g_strdup(date_option)
                          : corpus.newest ? g_date_time_format(corpus.newest, "%Y-%m-%d")
                                          : g_strdup("unknown");
  if (status == EX_OK && g_mkdir_with_parents(out_dir, 0755) != 0) {
    fprintf(stderr, "keel learn: cannot create %s\n", out_dir);
    status = EX_CANTCREAT;
  }
  for (guint d = 0; d < LEARNED_COUNT && status == EX_OK; d++)
    if (!cmd_learn_write_model(&corpus, d, date, out_dir, options))
      status = EX_CANTCREAT;
  cmd_learn_corpus_clear(&corpus);
  return status;
}

int cmd_learn(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  LearnedTrainOptions train;
  learned_train_options_init(&train);
  gint epochs = (gint)train.epochs;
  double background_weight = 1;
  char **corpora = NULL, **backgrounds = NULL;
  char *out_dir = NULL, *date = NULL, *database = NULL, *rules_dir = NULL;
  const GOptionEntry entries[] = {
    { "corpus", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &corpora,
      "train: a labelled folder (labels.json); repeat for several", "DIR" },
    { "background", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &backgrounds,
      "train: a folder of ordinary mail (*.eml), negative for every dimension; repeatable",
      "DIR" },
    { "background-weight", 0, 0, G_OPTION_ARG_DOUBLE, &background_weight,
      "train: how much one background message counts (1)", "X" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir,
      "train, export: where to write NAME.model (e.g. rules/learned)", "DIR" },
    { "date", 0, 0, G_OPTION_ARG_STRING, &date,
      "train: the date in the headers (default: the newest message's)", "YYYY-MM-DD" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs, "train: passes over the data (100)", "N" },
    { "rate", 0, 0, G_OPTION_ARG_DOUBLE, &train.rate, "train: initial step (5)", "X" },
    { "min-weight", 0, 0, G_OPTION_ARG_DOUBLE, &train.min_weight,
      "train: drop weights smaller than this (0.05)", "X" },
    { "l2", 0, 0, G_OPTION_ARG_DOUBLE, &train.l2, "train: L2 regularisation (0.0001)", "X" },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database,
      "status, export: the database (default: the config's)", "FILE" },
    { "rules", 'r', 0, G_OPTION_ARG_FILENAME, &rules_dir,
      "status, export: the rules directory (default: the config's, else /etc/keel/rules when it exists, else ./rules)",
      "DIR" },
    { NULL }
  };
  int status = EX_USAGE;
  if (cli_parse_options(&argc, &argv, "train|status|export",
                        "Build the learned models from labelled mail (train), show the VA's "
                        "corrections and how the model of her mailbox does on them (status), "
                        "or write the model of her mailbox, corrections included (export --out "
                        "DIR).",
                        entries, &globals)) {
    train.epochs = (guint)MAX(epochs, 1);
    if (argc == 2 && strcmp(argv[1], "train") == 0)
      status = cmd_learn_train(corpora, backgrounds, background_weight, out_dir, date, &train);
    else if (argc == 2 && strcmp(argv[1], "export") == 0)
      status = learn_export(&globals, database, rules_dir, out_dir);
    else if (argc == 2 && strcmp(argv[1], "status") == 0)
      status = learn_status(&globals, database, rules_dir);
    else
      fprintf(stderr, "keel learn: say `train`, `status` or `export` (see --help)\n");
  }
  g_strfreev(corpora);
  g_strfreev(backgrounds);
  g_free(out_dir);
  g_free(date);
  g_free(database);
  g_free(rules_dir);
  cli_globals_clear(&globals);
  return status;
}
