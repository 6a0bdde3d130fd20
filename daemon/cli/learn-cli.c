/* daemon/cli/learn-cli.c: the set-up `keel learn` and `keel mark` share (see
 * learn-cli.h) and `keel learn status`. Must not: change the store. */
#include <stdio.h>
#include "daemon/cli/learn-cli.h"
#include "daemon/cli/store-cli.h"
#include "daemon/record/corrections.h"
#include "daemon/record/verdict.h"

KeelMessage *learn_read_message(const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  if (!g_file_get_contents(path, &data, &len, &error)) {
    fprintf(stderr, "keel: %s\n", error->message);
    return NULL;
  }
  KeelMessage *message = message_parse((const guint8 *)data, len, NULL, 0, &error);
  if (!message)
    fprintf(stderr, "keel: %s: %s\n", path, error->message);
  return message;
}

int learn_open(const KeelGlobals *globals, const char *database, const char *rules_dir,
               Store **store, RuleSet **rules, LearnedSet **shipped)
{
  g_autoptr(KeelConfig) config = NULL;
  int rc = store_cli_load_config(globals, &config);
  if (rc != EX_OK)
    return rc;
  g_autofree char *dir = verdict_rules_dir(rules_dir, config);
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) loaded = rules_load_dir(dir, &error);
  if (!loaded) {
    fprintf(stderr, "keel: rules in %s refused:\n%s\n", dir, error->message);
    return EX_DATAERR;
  }
  g_autofree char *learned_dir = g_build_filename(dir, "learned", NULL);
  if (shipped && !(*shipped = rules_load_learned(learned_dir, &error))) {
    fprintf(stderr, "keel: %s\n", error->message);
    return EX_DATAERR;
  }
  g_autoptr(Store) opened = store_cli_open(database, config, &rc);
  if (!opened)
    return rc;
  if (!corrections_load(opened, loaded, &error)) {
    fprintf(stderr, "keel: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  *store = g_steal_pointer(&opened);
  *rules = g_steal_pointer(&loaded);
  return EX_OK;
}

/* "label" +0.61, ... for `n` contributions. */
static void learn_print_contributions(const char *label, const LearnedContribution *c, guint n)
{
  printf("      %-9s", label);
  for (guint i = 0; i < n; i++)
    printf("%s\"%s\" %+.2f", i ? ", " : "", c[i].name, c[i].contribution);
  printf("%s\n", n ? "" : "(none)");
}

void learn_print_explain(const RuleSet *rules, const KeelMessage *message,
                         const ScoreResult *result)
{
  if (!rules->learned)
    return;
  g_autoptr(LearnedFeatures) features = score_learned_features(message);
  for (guint d = 0; d < LEARNED_COUNT; d++) {
    const LearnedModel *model = rules->learned->models[d];
    if (!model)
      continue;
    LearnedContribution up[5], down[5];
    guint n_up = 0, n_down = 0;
    learned_model_explain(model, features, 5, up, &n_up, down, &n_down);
    printf("  %s %.2f (log-odds: bias %+.2f, words below)\n", learned_signal_name(d),
           result->learned[d], model->bias);
    learn_print_contributions("for:", up, n_up);
    learn_print_contributions("against:", down, n_down);
  }
}

static void learn_status_line(guint d, const CorrectionsFigures *f, const LearnedSet *shipped)
{
  guint n = f->risky + f->fine;
  const LearnedModel *model = shipped->models[d];
  printf("%-8s %4u corrections (%u risky, %u fine)", learned_dimension_name(d), n, f->risky,
         f->fine);
  if (n && model)
    printf("; leave-one-out accuracy on them %.0f %% (%u of %u)", 100.0 * f->right / n,
           f->right, n);
  if (!model)
    printf("; no shipped model");
  printf("\n");
}

int learn_status(const KeelGlobals *globals, const char *database, const char *rules_dir)
{
  g_autoptr(Store) store = NULL;
  g_autoptr(RuleSet) rules = NULL;
  g_autoptr(LearnedSet) shipped = NULL;
  int rc = learn_open(globals, database, rules_dir, &store, &rules, &shipped);
  if (rc != EX_OK)
    return rc;
  CorrectionsFigures figures[LEARNED_COUNT];
  g_autoptr(GError) error = NULL;
  if (!corrections_evaluate(store, shipped, figures, &error)) {
    fprintf(stderr, "keel learn status: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  for (guint d = 0; d < LEARNED_COUNT; d++)
    learn_status_line(d, &figures[d], shipped);
  for (guint d = 0; d < LEARNED_COUNT; d++) {
    const LearnedModel *model = shipped->models[d];
    const char *cv = model ? strstr(model->header, "cross-validated") : NULL;
    if (cv)
      printf("shipped %s model: %.*s\n", learned_dimension_name(d), (int)strcspn(cv, "\n"), cv);
  }
  return EX_OK;
}

/* Writes `model` as `dir`/NAME.model, its header noting the corrections. */
static gboolean learn_export_model(const LearnedModel *model, guint corrections, const char *dir)
{
  g_autofree char *header = g_strdup_printf("%s\nexported with %u of the VA's corrections "
                                            "(`keel learn export`)", model->header, corrections);
  g_autofree char *text = learned_model_to_text(model, header);
  g_autofree char *name = g_strconcat(learned_dimension_name(model->dimension), ".model", NULL);
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_file_set_contents(path, text, -1, &error)) {
    fprintf(stderr, "keel learn export: %s\n", error->message);
    return FALSE;
  }
  return TRUE;
}

int learn_export(const KeelGlobals *globals, const char *database, const char *rules_dir,
                 const char *out_dir)
{
  g_autoptr(Store) store = NULL;
  g_autoptr(RuleSet) rules = NULL;
  if (!out_dir) {
    fprintf(stderr, "keel learn export: give --out DIR\n");
    return EX_USAGE;
  }
  int rc = learn_open(globals, database, rules_dir, &store, &rules, NULL);
  if (rc != EX_OK)
    return rc;
  CorrectionsFigures figures[LEARNED_COUNT];
  g_autoptr(GError) error = NULL;
  if (!corrections_evaluate(store, NULL, figures, &error)) {
    fprintf(stderr, "keel learn export: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  if (g_mkdir_with_parents(out_dir, 0755) != 0) {
    fprintf(stderr, "keel learn export: cannot create %s\n", out_dir);
    return EX_CANTCREAT;
  }
  for (guint d = 0; rules->learned && d < LEARNED_COUNT; d++)
    if (rules->learned->models[d] &&
        !learn_export_model(rules->learned->models[d], figures[d].risky + figures[d].fine,
                            out_dir))
      return EX_CANTCREAT;
  return EX_OK;
}
