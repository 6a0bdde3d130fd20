/* filters/learned.h: the learned signals (`learned_risky`, `learned_tone`,
 * `learned_threat`, `learned_payment`, `learned_scope`): one regularised
 * logistic regression per dimension over hashed word 1-2-grams of a
 * message's subject and new text. Pure: text and model text in, numbers and
 * model text out. Never reads a file, the clock or the store: the daemon
 * reads rules/learned/NAME.model (daemon/record/rules-dir.c) and keeps the VA's
 * corrections in SQLite.
 *
 * A model file is text, reviewable in a diff:
 *
 *   # comment lines: the training data, its date, cross-validated figures
 *   dimension risky
 *   bias -1.234567
 *   0.523100 not paying          <- weight, one space, the feature
 *   -0.210000 s:thanks            <- "s:" marks a subject feature
 *
 * Rules weigh the probabilities like any signal: `look signal learned_risky >= 0.8`.
 */
#pragma once

#include <glib.h>

#define KEEL_LEARNED_ERROR (keel_learned_error_quark())
GQuark keel_learned_error_quark(void);
typedef enum {
  KEEL_LEARNED_ERROR_INVALID  /* a model text with a mistake: `name:line: message` */
} KeelLearnedError;

typedef enum {
  LEARNED_RISKY,
  LEARNED_TONE,
  LEARNED_THREAT,
  LEARNED_PAYMENT,
  LEARNED_SCOPE,
  LEARNED_COUNT
} LearnedDimension;

#define LEARNED_BUCKET_BITS 18
#define LEARNED_BUCKETS (1u << LEARNED_BUCKET_BITS)
/* Text words read per message (the rest is ignored: bounded time). */
#define LEARNED_MAX_WORDS 600
/* A correction moves any message's log-odds by at most this much. */
#define LEARNED_CORRECTION_CAP 1.5

/* "risky", "tone", ... and back (-1 when unknown). */
const char *learned_dimension_name(guint dimension);
int learned_dimension_lookup(const char *name);
/* "learned_risky", ... and back (-1 when unknown). */
const char *learned_signal_name(guint dimension);
int learned_signal_lookup(const char *name);
/* "learned_risky learned_tone ...", for error messages. */
const char *learned_all_signal_names(void);

/* The features of one message: unique, sorted by name, each worth `value`
 * (1/sqrt(count): every message has length 1). */
typedef struct {
  GPtrArray *names;   /* owned, of char*: "word", "two words", "s:word" */
  GArray *buckets;    /* owned, of guint32, parallel to names */
  double value;
  double importance;  /* in training: how much this example counts (1; background mail less) */
} LearnedFeatures;

/* Features of `subject` and `text` (either may be NULL): lower-cased words
 * of letters and digits (digits read as 0, apostrophes dropped), their
 * unigrams and bigrams; subject features prefixed "s:". */
LearnedFeatures *learned_features(const char *subject, const char *text);
void learned_features_free(LearnedFeatures *features);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LearnedFeatures, learned_features_free)
guint32 learned_bucket(const char *feature);

typedef struct {
  guint dimension;
  double bias;
  double *weights;     /* owned, LEARNED_BUCKETS; written only by learned.c */
  guint64 *maybe_weighed; /* owned, LEARNED_BUCKETS bits: bucket b's bit is set when
                             weights[b] may be nonzero (learned_model_weigh() keeps it so:
                             32 KB that stay in cache, where weights is 2 MB) */
  GHashTable *names;   /* owned: bucket (GUINT_TO_POINTER) -> feature name (char*); read
                          only through learned.c, which first adds `pending_names` */
  char *pending_names; /* owned: "NAME\n" per weight line learned_model_parse() read and did
                          not put in `names` yet (scoring never needs them), or NULL */
  char *header;        /* owned: the comment lines (without "# "), "\n"-joined; may be "" */
  const void *sealed_by; /* the seal (learned_set_seal()) made of these weights; NULL
                            again at any write of a weight, which makes that seal stale */
} LearnedModel;

LearnedModel *learned_model_new(guint dimension);
/* A deep copy of `model`. */
LearnedModel *learned_model_copy(const LearnedModel *model);
void learned_model_free(LearnedModel *model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LearnedModel, learned_model_free)

/* Reads a model text (`name` is shown in messages). NULL and an error
 * (`name:line: message`) on any mistake. */
LearnedModel *learned_model_parse(const char *text, const char *name, GError **error);
/* The model as text: `header` lines (may be NULL) as comments, then the
 * dimension, the bias and every weight of magnitude >= 1e-6 sorted by feature. */
char *learned_model_to_text(const LearnedModel *model, const char *header);

/* The probability that `features` belong to the positive class. */
double learned_model_predict(const LearnedModel *model, const LearnedFeatures *features);

/* One feature's share of a prediction, for --explain. */
typedef struct {
  const char *name;    /* borrowed from the LearnedFeatures */
  double contribution; /* weight x value, in log-odds */
} LearnedContribution;

/* The `n` strongest features for (contribution > 0, largest first) and
 * against (< 0, most negative first). Returns the numbers found in
 * `*n_for`, `*n_against`. */
void learned_model_explain(const LearnedModel *model, const LearnedFeatures *features, guint n,
                           LearnedContribution *for_out, guint *n_for,
                           LearnedContribution *against_out, guint *n_against);

/* Moves the model towards `label` on `features`: a gradient step whose
 * length is capped at LEARNED_CORRECTION_CAP. The message's features are
 * L2-normalised, so any other message's log-odds move by at most the cap.
 * The changes made are added to `deltas` (may be NULL; feature name ->
 * double*) so the caller can store them. Returns the log-odds change. */
double learned_model_correct(LearnedModel *model, const LearnedFeatures *features,
                             gboolean label, GHashTable *deltas);
/* Adds `delta` to feature `name`'s weight. */
void learned_model_add(LearnedModel *model, const char *name, double delta);

typedef struct {
  guint epochs;     /* passes over the data (100) */
  double rate;      /* initial step (5) */
  double l2;        /* regularisation (1e-4) */
  guint64 seed;     /* shuffling (1) */
  double min_weight;/* weights smaller than this are dropped after training (0.05): a
                       smaller file, the same judgements */
  gboolean balance; /* weigh classes equally (TRUE): positives count as much, together, as
                       the negatives' importance */
} LearnedTrainOptions;

void learned_train_options_init(LearnedTrainOptions *options);

/* Trains a model for `dimension` on `n` examples. Deterministic: the same
 * examples, order and options give the same weights. */
LearnedModel *learned_train(guint dimension, LearnedFeatures *const *examples,
                            const gboolean *labels, guint n,
                            const LearnedTrainOptions *options);

/* Counts of a binary evaluation. */
typedef struct {
  guint tp, fp, fn, tn;
} LearnedCounts;

double learned_counts_f1(const LearnedCounts *counts);
double learned_counts_precision(const LearnedCounts *counts);
double learned_counts_recall(const LearnedCounts *counts);

/* A group that is always trained on, never held out (background mail). */
#define LEARNED_GROUP_ALWAYS G_MAXUINT

/* Cross-validates: for every distinct `groups[i]` (but LEARNED_GROUP_ALWAYS),
 * trains on the other groups and predicts that one at `threshold`; counts
 * summed over groups. */
void learned_cross_validate(guint dimension, LearnedFeatures *const *examples,
                            const gboolean *labels, const guint *groups, guint n,
                            const LearnedTrainOptions *options, double threshold,
                            LearnedCounts *counts);

typedef struct _LearnedSeal LearnedSeal;

/* The models of every dimension (NULL where none is loaded). */
typedef struct {
  LearnedModel *models[LEARNED_COUNT]; /* owned */
  LearnedSeal *seal;                   /* owned, may be NULL: learned_set_seal() */
} LearnedSet;

LearnedSet *learned_set_new(void);
void learned_set_free(LearnedSet *set);
/* Copies the models' weights into one row per bucket that some model may
 * weigh (every model's weight side by side: one cache line where the models'
 * own arrays cost one each), for learned_set_predict_text(). A seal is used
 * only while no model was written after it (a correction makes it stale, and
 * scoring reads the models' own arrays until the next seal); the numbers are
 * the same either way. Call it when the set is loaded, before it is shared. */
void learned_set_seal(LearnedSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LearnedSet, learned_set_free)
/* Every probability into `out` (NAN for a dimension without a model). */
void learned_set_predict(const LearnedSet *set, const LearnedFeatures *features,
                         double out[LEARNED_COUNT]);
/* The same numbers, bit for bit, for the features of `subject` and `text`
 * (as learned_features() reads them), without making the features: no name
 * is written, and only the grams whose bucket may have a weight in some
 * model are sorted into the order of their names (the weights are added in
 * that order, as learned_model_predict() adds them; the others add 0).
 * Nothing is allocated (but for very long words). Scoring uses this. */
void learned_set_predict_text(const LearnedSet *set, const char *subject, const char *text,
                              double out[LEARNED_COUNT]);
