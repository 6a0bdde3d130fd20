/* daemon/record/corrections.c: the VA's corrections to the learned signals.
 *
 * The model of her mailbox is never a file: it is the shipped model
 * (rules/learned/NAME.model) plus the sum of every correction's change, kept
 * per feature in learned_weights, so a new shipped model keeps her
 * corrections. A correction is one step of learned_model_correct(): its length
 * is capped, so a single poisoned correction (a newsletter marked risky)
 * moves no other message's log-odds by more than LEARNED_CORRECTION_CAP.
 *
 * Each correction is a trail event of kind `correction`, in the same
 * transaction as its row and its change to the model.
 *
 * Must not: move, copy or flag mail (the folders are the VA's); read the clock.
 */
#include <string.h>
#include "daemon/record/corrections.h"
#include "daemon/record/trail.h"
#include "filters/score.h"

static void corrections_add_delta(const char *dimension, const char *feature, double delta,
                                  gpointer data)
{
  RuleSet *rules = data;
  int d = learned_dimension_lookup(dimension);
  if (d >= 0 && rules->learned && rules->learned->models[d])
    learned_model_add(rules->learned->models[d], feature, delta);
}

gboolean corrections_load(Store *store, RuleSet *rules, GError **error)
{
  if (!rules->learned)
    return TRUE;
  gboolean loaded = store_learned_each(store, corrections_add_delta, rules, error);
  learned_set_seal(rules->learned); /* her corrections are in the weights now */
  return loaded;
}

/* The trail event of one correction. */
static gboolean corrections_record(Store *store, const StoreCorrection *row, GDateTime *now,
                                   GError **error)
{
  g_autofree char *detail = g_strdup_printf(
    "marked %s for %s (%s); the learned model moved %+.2f in log-odds",
    row->label ? "risky" : "fine", row->dimension, row->source, row->step);
  TrailEntry entry = { .kind = "correction", .message_id = row->message_id, .detail = detail,
                       .at = now };
  return trail_append(store, &entry, NULL, error);
}

/* The step on `rules`' model, its changes saved; 0 without a model. */
static gboolean corrections_learn(Store *store, RuleSet *rules, const KeelMessage *message,
                                  guint dimension, gboolean label, double *step, GError **error)
{
  *step = 0;
  LearnedModel *model = rules && rules->learned ? rules->learned->models[dimension] : NULL;
  if (!model)
    return TRUE;
  g_autoptr(LearnedFeatures) features = score_learned_features(message);
  g_autoptr(GHashTable) deltas = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  *step = learned_model_correct(model, features, label, deltas);
  return store_learned_add(store, learned_dimension_name(dimension), deltas, error);
}

gboolean corrections_apply(Store *store, RuleSet *rules, const KeelMessage *message,
                           gint64 row_id, guint dimension, gboolean label, const char *source,
                           GDateTime *now, CorrectionsOutcome *outcome, double *step,
                           GError **error)
{
  const char *name = learned_dimension_name(dimension);
  int before = store_correction_label(store, message->message_id, name, error);
  if (before == -2)
    return FALSE;
  *outcome = CORRECTIONS_UNCHANGED;
  if (before == (label ? 1 : 0))
    return TRUE;
  StoreCorrection row = { .message_id = message->message_id, .message_row = row_id,
                          .dimension = (char *)name, .label = label, .source = (char *)source,
                          .subject = message->subject, .new_text = message->new_text,
                          .created = now };
  if (!store_begin(store, error))
    return FALSE;
  if (!corrections_learn(store, rules, message, dimension, label, &row.step, error) ||
      !store_correction_save(store, &row, NULL, error) ||
      !corrections_record(store, &row, now, error)) {
    store_rollback(store);
    return FALSE;
  }
  if (!store_commit(store, error))
    return FALSE;
  *outcome = CORRECTIONS_APPLIED;
  if (step)
    *step = row.step;
  return TRUE;
}

/* Leave-one-out over the corrections of dimension `d`: correction `held`
 * predicted by `shipped` with the others applied in order. */
static gboolean corrections_predict_held(const LearnedModel *shipped, GPtrArray *features,
                                         GPtrArray *rows, guint d, guint held)
{
  g_autoptr(LearnedModel) model = learned_model_copy(shipped);
  for (guint i = 0; i < rows->len; i++) {
    const StoreCorrection *row = g_ptr_array_index(rows, i);
    if (i != held && learned_dimension_lookup(row->dimension) == (int)d)
      learned_model_correct(model, g_ptr_array_index(features, i), row->label, NULL);
  }
  const StoreCorrection *row = g_ptr_array_index(rows, held);
  return (learned_model_predict(model, g_ptr_array_index(features, held)) >= 0.5) == row->label;
}

gboolean corrections_evaluate(Store *store, const LearnedSet *shipped,
                              CorrectionsFigures figures[LEARNED_COUNT], GError **error)
{
  memset(figures, 0, sizeof(CorrectionsFigures) * LEARNED_COUNT);
  g_autoptr(GPtrArray) rows = store_corrections(store, error);
  if (!rows)
    return FALSE;
  g_autoptr(GPtrArray) features = g_ptr_array_new_with_free_func((GDestroyNotify)learned_features_free);
  for (guint i = 0; i < rows->len; i++) {
    const StoreCorrection *row = g_ptr_array_index(rows, i);
    g_ptr_array_add(features, learned_features(row->subject, row->new_text));
  }
  for (guint i = 0; i < rows->len; i++) {
    const StoreCorrection *row = g_ptr_array_index(rows, i);
    int d = learned_dimension_lookup(row->dimension);
    if (d < 0)
      continue;
    if (row->label)
      figures[d].risky++;
    else
      figures[d].fine++;
    if (shipped && shipped->models[d] &&
        corrections_predict_held(shipped->models[d], features, rows, (guint)d, i))
      figures[d].right++;
  }
  return TRUE;
}
