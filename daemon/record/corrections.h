/* daemon/record/corrections.h: the VA's corrections to the learned signals
 * ("this was risky", "this was fine"), from `keel mark` and from the
 * keel/Risky and keel/Fine folders. Each is recorded in the trail and moves
 * the model of her mailbox (the shipped model plus the stored changes) by one
 * capped step (filters/learned.c, LEARNED_CORRECTION_CAP).
 *
 * Entry points:
 *   corrections_load()      the stored changes onto a freshly loaded RuleSet
 *   corrections_apply()     one correction: trail, store, model, in one transaction
 *   corrections_evaluate()  leave-one-out accuracy on her corrections
 */
#pragma once

#include "daemon/store/store.h"
#include "daemon/store/store-learned.h"
#include "filters/message.h"
#include "filters/rules.h"

/* Adds the stored changes to `rules`' learned models (a dimension without a
 * shipped model gets none). Call right after loading the rules. */
gboolean corrections_load(Store *store, RuleSet *rules, GError **error);

typedef enum {
  CORRECTIONS_APPLIED,   /* recorded and learned from */
  CORRECTIONS_UNCHANGED  /* the same correction was already recorded: nothing done */
} CorrectionsOutcome;

/* Records that `message` (stored as `row_id`, 0 when not stored) is
 * (`label` TRUE) or is not `dimension` (LearnedDimension), said through
 * `source` ("mark", "folder keel/Risky") at `now`, and updates `rules`'
 * model (may be NULL: recorded only). A correction already recorded with the
 * same label changes nothing; a changed mind replaces it and is learned from.
 * One transaction (or the caller's). `*step` (may be NULL) receives the
 * log-odds change made to the message. */
gboolean corrections_apply(Store *store, RuleSet *rules, const KeelMessage *message,
                           gint64 row_id, guint dimension, gboolean label, const char *source,
                           GDateTime *now, CorrectionsOutcome *outcome, double *step,
                           GError **error);

/* Per dimension: the number of corrections (`counts[d]`: risky, fine) and
 * how often the model, starting from `shipped` (may hold NULLs) with every
 * other correction applied in order, gets each one right (`right[d]`). */
typedef struct {
  guint risky, fine, right;
} CorrectionsFigures;

gboolean corrections_evaluate(Store *store, const LearnedSet *shipped,
                              CorrectionsFigures figures[LEARNED_COUNT], GError **error);
