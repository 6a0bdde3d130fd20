/* filters/learned.c: the learned signals, a logistic regression per dimension.
 *
 * How it works:
 *  - Features (learned_features): the subject and the new text are cut into
 *    words (letters and digits, lower-cased, digits read as 0, apostrophes
 *    dropped: the same for "won't" and "won’t"); every word and every pair of
 *    neighbouring words is a feature, subject ones prefixed "s:". Each unique
 *    feature is worth 1/sqrt(count), so every message has length 1 whatever
 *    its size. A feature's weight lives in one of LEARNED_BUCKETS slots
 *    chosen by its FNV-1a hash: inference is a sparse dot product.
 *  - Training (learned_train): stochastic gradient descent on the log loss
 *    with L2, the examples shuffled each pass by a fixed-seed generator, so
 *    the same corpus gives the same file.
 *  - Corrections (learned_model_correct): one gradient step towards the VA's
 *    label, its length capped, so a single poisoned correction cannot carry
 *    ordinary mail across a threshold on its own.
 *  - Scoring (learned_set_predict_text): the same sums without the feature
 *    names: grams are hashed from the words, made unique in a table, and only
 *    those whose bucket has a weight are named and sorted, so the weights are
 *    added in the same order and the numbers are the same to the bit.
 *
 * Entry points: learned_features, learned_model_parse/_to_text/_predict/
 * _explain/_correct, learned_train, learned_cross_validate, learned_set_*.
 * Must not: read files, the clock or the store; use global state.
 */
#include <math.h>
#include <string.h>
#include "filters/learned.h"

G_DEFINE_QUARK(keel-learned-error-quark, keel_learned_error)

static const char *const learned_names[LEARNED_COUNT] = { "risky", "tone", "threat", "payment",
                                                          "scope" };
static const char *const learned_signals[LEARNED_COUNT] = {
  "learned_risky", "learned_tone", "learned_threat", "learned_payment", "learned_scope" };

const char *learned_dimension_name(guint dimension)
{
  return dimension < LEARNED_COUNT ? learned_names[dimension] : NULL;
}

int learned_dimension_lookup(const char *name)
{
  for (guint i = 0; name && i < LEARNED_COUNT; i++)
    if (strcmp(name, learned_names[i]) == 0)
      return (int)i;
  return -1;
}

const char *learned_signal_name(guint dimension)
{
  return dimension < LEARNED_COUNT ? learned_signals[dimension] : NULL;
}

int learned_signal_lookup(const char *name)
{
  for (guint i = 0; name && i < LEARNED_COUNT; i++)
    if (strcmp(name, learned_signals[i]) == 0)
      return (int)i;
  return -1;
}

const char *learned_all_signal_names(void)
{
  return "learned_risky learned_tone learned_threat learned_payment learned_scope";
}

/* ---- features ---- */

guint32 learned_bucket(const char *feature)
{
  guint32 hash = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)feature; *p; p++)
    hash = (hash ^ *p) * 16777619u;
  return hash & (LEARNED_BUCKETS - 1);
}

/* What an ASCII byte is in a word: 0 ends a word (NUL too), 1 is skipped
 * (the apostrophe), else the byte written (lower case, digits as '0'). */
static const char learned_ascii[128] = {
  ['\''] = 1,
  ['0'] = '0', ['1'] = '0', ['2'] = '0', ['3'] = '0', ['4'] = '0',
  ['5'] = '0', ['6'] = '0', ['7'] = '0', ['8'] = '0', ['9'] = '0',
  ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f', ['g'] = 'g',
  ['h'] = 'h', ['i'] = 'i', ['j'] = 'j', ['k'] = 'k', ['l'] = 'l', ['m'] = 'm', ['n'] = 'n',
  ['o'] = 'o', ['p'] = 'p', ['q'] = 'q', ['r'] = 'r', ['s'] = 's', ['t'] = 't', ['u'] = 'u',
  ['v'] = 'v', ['w'] = 'w', ['x'] = 'x', ['y'] = 'y', ['z'] = 'z',
  ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f', ['G'] = 'g',
  ['H'] = 'h', ['I'] = 'i', ['J'] = 'j', ['K'] = 'k', ['L'] = 'l', ['M'] = 'm', ['N'] = 'n',
  ['O'] = 'o', ['P'] = 'p', ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't', ['U'] = 'u',
  ['V'] = 'v', ['W'] = 'w', ['X'] = 'x', ['Y'] = 'y', ['Z'] = 'z',
};

/* Ends the word being read at `*start` in `buffer` (if it has a letter):
 * NUL-terminates it and records its offset. */
static void learned_end_word(GString *buffer, gsize *start, guint32 *starts, guint *n)
{
  if (buffer->len == *start)
    return;
  g_string_append_c(buffer, '\0');
  starts[(*n)++] = (guint32)*start;
  *start = buffer->len;
}

/* The words of `text` (valid UTF-8), at most `max`: each one NUL-terminated
 * in `buffer` (one allocation for all of them), its offset in `starts`
 * (room for `max`). Returns their number. */
static guint learned_words(const char *text, guint max, GString *buffer, guint32 *starts)
{
  guint n = 0;
  gsize start = buffer->len; /* of the word being read */
  for (const unsigned char *p = (const unsigned char *)text; n < max;) {
    if (*p < 0x80) { /* ASCII: the same answers as g_unichar_*(), much cheaper */
      char out = learned_ascii[*p];
      if (out > 1)
        g_string_append_c(buffer, out);
      else if (out == 0)
        learned_end_word(buffer, &start, starts, &n);
      if (!*p++)
        break;
      continue;
    }
    gunichar c = g_utf8_get_char((const char *)p);
    p = (const unsigned char *)g_utf8_next_char(p);
    if (c == 0x2019) /* ’, an apostrophe */
      continue;
    if (g_unichar_isalnum(c))
      g_string_append_unichar(buffer, g_unichar_isdigit(c) ? '0' : g_unichar_tolower(c));
    else
      learned_end_word(buffer, &start, starts, &n);
  }
  g_string_truncate(buffer, start); /* a word cut short by `max` */
  return n;
}

/* ---- grams: the features of a message before they have names ----
 *
 * A gram is one word, or two neighbouring words, of the subject or of the
 * text. Its bucket (FNV-1a of the name it would have) and a 64-bit key are
 * computed from the words; a table keyed on the key (the words compared
 * when keys agree) keeps the unique ones. Names are written only where they
 * are needed: all of them for learned_features(), the ones whose bucket
 * carries a weight for learned_set_predict_text(). */

#define LEARNED_FNV_BASIS 2166136261u
#define LEARNED_FNV_PRIME 16777619u
#define LEARNED_NO_WORD G_MAXUINT32

typedef struct {
  guint64 key;     /* the words' hashes mixed: equal grams, equal keys */
  guint32 bucket;  /* learned_bucket() of the gram's name */
  guint32 first;   /* offset of its (first) word in LearnedGrams.words */
  guint32 second;  /* offset of its second word, or LEARNED_NO_WORD */
  guint32 subject; /* TRUE: a subject gram, named "s:..." */
  guint32 length;  /* of its name, without the NUL */
} LearnedGram;

typedef struct {
  GString *words;     /* owned: every word NUL-terminated, the subject's first */
  LearnedGram *grams; /* owned: each gram once, in the order first seen */
  guint n_grams;
} LearnedGrams;

/* One pass over a word: FNV-1a 32 from `basis` (the bucket's hash) and
 * FNV-1a 64 (the key's). Returns its length. */
static guint32 learned_word_hashes(guint32 basis, const char *word, guint32 *hash, guint64 *key)
{
  guint32 h = basis;
  guint64 k = 14695981039346656037ull;
  const unsigned char *p = (const unsigned char *)word;
  for (; *p; p++) {
    h = (h ^ *p) * LEARNED_FNV_PRIME;
    k = (k ^ *p) * 1099511628211ull;
  }
  *hash = h;
  *key = k;
  return (guint32)(p - (const unsigned char *)word);
}

/* splitmix64's finaliser: spreads a key over all 64 bits for the table. */
static guint64 learned_mix(guint64 z)
{
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static gboolean learned_gram_equal(const LearnedGrams *g, const LearnedGram *a, const LearnedGram *b)
{
  const char *words = g->words->str;
  if (a->key != b->key || a->subject != b->subject || (a->second == LEARNED_NO_WORD) !=
      (b->second == LEARNED_NO_WORD))
    return FALSE;
  if (strcmp(words + a->first, words + b->first) != 0)
    return FALSE;
  return a->second == LEARNED_NO_WORD || strcmp(words + a->second, words + b->second) == 0;
}

/* Adds `gram` to `g->grams` unless an equal one is there (`slots`: an open
 * addressing table of gram index + 1, 0 for free, `mask` + 1 slots). */
static void learned_grams_add(LearnedGrams *g, guint32 *slots, guint mask, const LearnedGram *gram)
{
  for (guint i = (guint)gram->key & mask;; i = (i + 1) & mask) {
    if (slots[i] == 0) {
      g->grams[g->n_grams++] = *gram;
      slots[i] = g->n_grams;
      return;
    }
    if (learned_gram_equal(g, &g->grams[slots[i] - 1], gram))
      return;
  }
}

/* The words of one part (valid UTF-8 made of it first) into `g->words`. */
static guint learned_part_words(LearnedGrams *g, const char *text, guint32 *starts)
{
  if (!text)
    return 0;
  g_autofree char *valid = g_utf8_validate(text, -1, NULL) ? NULL : g_utf8_make_valid(text, -1);
  return learned_words(valid ? valid : text, LEARNED_MAX_WORDS, g->words, starts);
}

/* The unigrams and bigrams of the `n` words at `starts` (one part). */
static void learned_part_grams(LearnedGrams *g, const guint32 *starts, guint n, gboolean subject,
                               guint32 *slots, guint mask)
{
  const char *words = g->words->str;
  guint32 basis = subject ? (((LEARNED_FNV_BASIS ^ 's') * LEARNED_FNV_PRIME) ^ ':') * LEARNED_FNV_PRIME
                          : LEARNED_FNV_BASIS;
  guint64 salt = subject ? 0x5355424A45435421ull : 0; /* "s:" names never equal text names */
  guint32 prefix = subject ? 2 : 0;
  guint64 key = 0, next_key = 0;
  guint32 hash = 0, next_hash = 0, length = 0, next_length = 0;
  if (n)
    next_length = learned_word_hashes(basis, words + starts[0], &next_hash, &next_key);
  for (guint i = 0; i < n; i++) {
    key = next_key;
    hash = next_hash;
    length = next_length;
    LearnedGram unigram = { learned_mix(key ^ salt), hash & (LEARNED_BUCKETS - 1), starts[i],
                            LEARNED_NO_WORD, (guint32)subject, prefix + length };
    learned_grams_add(g, slots, mask, &unigram);
    if (i + 1 == n)
      break;
    next_length = learned_word_hashes(basis, words + starts[i + 1], &next_hash, &next_key);
    guint32 pair_hash = (hash ^ ' ') * LEARNED_FNV_PRIME;
    for (const unsigned char *p = (const unsigned char *)words + starts[i + 1]; *p; p++)
      pair_hash = (pair_hash ^ *p) * LEARNED_FNV_PRIME;
    LearnedGram bigram = { learned_mix(key * 31 + learned_mix(next_key) + 1) ^ salt,
                           pair_hash & (LEARNED_BUCKETS - 1), starts[i], starts[i + 1],
                           (guint32)subject, prefix + length + 1 + next_length };
    learned_grams_add(g, slots, mask, &bigram);
  }
}

/* Every unique gram of `subject` and `text` (either may be NULL). */
static void learned_grams_init(LearnedGrams *g, const char *subject, const char *text)
{
  guint32 subject_starts[LEARNED_MAX_WORDS], text_starts[LEARNED_MAX_WORDS];
  g->words = g_string_sized_new(4096);
  guint n_subject = learned_part_words(g, subject, subject_starts);
  guint n_text = learned_part_words(g, text, text_starts);
  guint most = 2 * (n_subject + n_text);
  g->grams = g_new(LearnedGram, MAX(most, 1));
  g->n_grams = 0;
  guint size = 16;
  while (size < 2 * most)
    size *= 2;
  g_autofree guint32 *slots = g_new0(guint32, size);
  learned_part_grams(g, subject_starts, n_subject, TRUE, slots, size - 1);
  learned_part_grams(g, text_starts, n_text, FALSE, slots, size - 1);
}

static void learned_grams_clear(LearnedGrams *g)
{
  g_string_free(g->words, TRUE);
  g_free(g->grams);
}

/* A gram's name in a names buffer, for sorting by name. */
typedef struct {
  guint64 head;    /* its first 8 bytes, big-endian, 0 past its end: orders as strcmp() */
  guint32 name;    /* offset of the NUL-terminated name in the buffer */
  guint32 bucket;
} LearnedNamed;

/* Appends the gram's name ("s:" for the subject, the words, one space
 * between two) and its NUL to `names`. */
static LearnedNamed learned_gram_name(const LearnedGrams *g, const LearnedGram *gram, GString *names)
{
  LearnedNamed named = { 0, (guint32)names->len, gram->bucket };
  g_string_set_size(names, names->len + gram->length + 1); /* written below, NUL included */
  char *out = names->str + named.name;
  if (gram->subject) {
    memcpy(out, "s:", 2);
    out += 2;
  }
  gsize first = strlen(g->words->str + gram->first);
  memcpy(out, g->words->str + gram->first, first + 1);
  if (gram->second != LEARNED_NO_WORD) {
    out[first] = ' ';
    memcpy(out + first + 1, g->words->str + gram->second,
           gram->length - (gram->subject ? 2 : 0) - first);
  }
  const unsigned char *p = (const unsigned char *)names->str + named.name;
  for (guint i = 0; i < 8; i++, p += *p != 0)
    named.head = named.head << 8 | *p;
  return named;
}

static gint learned_compare_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* strcmp() order of two names: their heads, then the rest. */
static inline gboolean learned_named_before(const LearnedNamed *a, const LearnedNamed *b,
                                            const char *names)
{
  if (a->head != b->head)
    return a->head < b->head;
  return strcmp(names + a->name, names + b->name) < 0;
}

/* Sorts `items` by name: a merge sort through `scratch` (as many), the
 * comparison inlined (g_array_sort_with_data() was most of the cost). */
static void learned_sort_named(LearnedNamed *items, LearnedNamed *scratch, guint n,
                               const char *names)
{
  if (n < 2)
    return;
  if (n <= 8) {
    for (guint i = 1; i < n; i++) {
      LearnedNamed item = items[i];
      guint j = i;
      for (; j > 0 && learned_named_before(&item, &items[j - 1], names); j--)
        items[j] = items[j - 1];
      items[j] = item;
    }
    return;
  }
  guint half = n / 2;
  learned_sort_named(items, scratch, half, names);
  learned_sort_named(items + half, scratch, n - half, names);
  memcpy(scratch, items, half * sizeof *items);
  guint i = 0, j = half, k = 0;
  while (i < half && j < n)
    items[k++] = learned_named_before(&items[j], &scratch[i], names) ? items[j++] : scratch[i++];
  while (i < half)
    items[k++] = scratch[i++];
}

/* The weight of `bucket`, to be written: its maybe_weighed bit is set first,
 * so that every nonzero weight has its bit (a weight written back to 0
 * keeps it: the bit only says "look"). */
static inline double *learned_model_weigh(LearnedModel *model, guint32 bucket)
{
  model->maybe_weighed[bucket / 64] |= G_GUINT64_CONSTANT(1) << (bucket % 64);
  return &model->weights[bucket];
}

static inline gboolean learned_model_may_weigh(const LearnedModel *model, guint32 bucket)
{
  return (model->maybe_weighed[bucket / 64] >> (bucket % 64)) & 1;
}

/* The grams for which some model of `keep` has a weight (all when `keep`
 * is NULL), named into `names`, sorted by name. Returns their number;
 * `*sorted` is owned by the caller. */
static guint learned_grams_sorted(const LearnedGrams *g, const LearnedSet *keep, GString *names,
                                  LearnedNamed **sorted)
{
  LearnedNamed *items = g_new(LearnedNamed, MAX(g->n_grams, 1));
  guint n = 0;
  for (guint i = 0; i < g->n_grams; i++) {
    const LearnedGram *gram = &g->grams[i];
    gboolean weighed = !keep;
    for (guint m = 0; !weighed && m < LEARNED_COUNT; m++)
      weighed = keep->models[m] && learned_model_may_weigh(keep->models[m], gram->bucket) &&
                keep->models[m]->weights[gram->bucket] != 0;
    if (weighed)
      items[n++] = learned_gram_name(g, gram, names);
  }
  g_autofree LearnedNamed *scratch = g_new(LearnedNamed, MAX(n / 2 + 1, 1));
  learned_sort_named(items, scratch, n, names->str);
  *sorted = items;
  return n;
}

/* The features are the unique grams sorted by name. */
LearnedFeatures *learned_features(const char *subject, const char *text)
{
  LearnedGrams g;
  learned_grams_init(&g, subject, text);
  g_autoptr(GString) names = g_string_new(NULL);
  g_autofree LearnedNamed *sorted = NULL;
  guint n = learned_grams_sorted(&g, NULL, names, &sorted);
  LearnedFeatures *features = g_new0(LearnedFeatures, 1);
  features->names = g_ptr_array_new_full(n, g_free);
  features->buckets = g_array_sized_new(FALSE, FALSE, sizeof(guint32), n);
  for (guint i = 0; i < n; i++) {
    g_ptr_array_add(features->names, g_strdup(names->str + sorted[i].name));
    g_array_append_val(features->buckets, sorted[i].bucket);
  }
  features->value = n ? 1.0 / sqrt((double)n) : 0;
  features->importance = 1;
  learned_grams_clear(&g);
  return features;
}

void learned_features_free(LearnedFeatures *features)
{
  if (!features)
    return;
  g_ptr_array_unref(features->names);
  g_array_unref(features->buckets);
  g_free(features);
}

/* ---- models ---- */

LearnedModel *learned_model_new(guint dimension)
{
  LearnedModel *model = g_new0(LearnedModel, 1);
  model->dimension = dimension;
  model->weights = g_new0(double, LEARNED_BUCKETS);
  model->maybe_weighed = g_new0(guint64, LEARNED_BUCKETS / 64);
  model->names = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
  model->header = g_strdup("");
  return model;
}

LearnedModel *learned_model_copy(const LearnedModel *model)
{
  LearnedModel *copy = learned_model_new(model->dimension);
  copy->bias = model->bias;
  memcpy(copy->weights, model->weights, sizeof(double) * LEARNED_BUCKETS);
  memcpy(copy->maybe_weighed, model->maybe_weighed, sizeof(guint64) * (LEARNED_BUCKETS / 64));
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init(&iter, model->names);
  while (g_hash_table_iter_next(&iter, &key, &value))
    g_hash_table_insert(copy->names, key, g_strdup(value));
  copy->pending_names = g_strdup(model->pending_names);
  g_free(copy->header);
  copy->header = g_strdup(model->header);
  return copy;
}

void learned_model_free(LearnedModel *model)
{
  if (!model)
    return;
  g_free(model->weights);
  g_free(model->maybe_weighed);
  g_hash_table_unref(model->names);
  g_free(model->pending_names);
  g_free(model->header);
  g_free(model);
}

static void learned_model_name(LearnedModel *model, guint32 bucket, const char *name);

/* Puts the names learned_model_parse() left pending into `names`. */
static void learned_model_resolve_names(LearnedModel *model)
{
  g_autofree char *pending = g_steal_pointer(&model->pending_names);
  for (char *name = pending, *end; name && *name; name = end + 1) {
    end = strchr(name, '\n');
    *end = '\0';
    learned_model_name(model, learned_bucket(name), name);
  }
}

/* Keeps the smallest name seen for `bucket` (stable whatever the order). */
static void learned_model_name(LearnedModel *model, guint32 bucket, const char *name)
{
  if (model->pending_names)
    learned_model_resolve_names(model);
  const char *old = g_hash_table_lookup(model->names, GUINT_TO_POINTER(bucket));
  if (!old || strcmp(name, old) < 0)
    g_hash_table_insert(model->names, GUINT_TO_POINTER(bucket), g_strdup(name));
}

void learned_model_add(LearnedModel *model, const char *name, double delta)
{
  guint32 bucket = learned_bucket(name);
  learned_model_weigh(model, bucket)[0] += delta;
  learned_model_name(model, bucket, name);
}

static double learned_logit(const LearnedModel *model, const LearnedFeatures *features)
{
  double sum = 0;
  const guint32 *buckets = (const guint32 *)(void *)features->buckets->data;
  for (guint i = 0; i < features->buckets->len; i++)
    sum += model->weights[buckets[i]];
  return model->bias + sum * features->value;
}

static double learned_sigmoid(double x)
{
  return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

double learned_model_predict(const LearnedModel *model, const LearnedFeatures *features)
{
  return learned_sigmoid(learned_logit(model, features));
}

/* ---- reading and writing model text ---- */

/* One "WEIGHT FEATURE" line into `model`; FALSE when it is not one. */
/* A number as the model files write it ("%.6f": "-0.123456") read exactly
 * as g_ascii_strtod() would, without its cost (a model has ~150,000 lines):
 * at most 15 digits are an exact integer in a double, 10^k is exact for
 * k <= 22, so one correctly rounded division gives the correctly rounded
 * value. Anything else (exponents, long numbers) goes to g_ascii_strtod(). */
static double learned_parse_number(const char *text, char **end)
{
  const char *p = text + (*text == '-' || *text == '+');
  guint64 mantissa = 0;
  guint digits = 0, decimals = 0;
  for (; g_ascii_isdigit(*p); p++, digits++)
    mantissa = mantissa * 10 + (guint64)(*p - '0');
  if (*p == '.')
    for (p++; g_ascii_isdigit(*p); p++, digits++, decimals++)
      mantissa = mantissa * 10 + (guint64)(*p - '0');
  static const double powers[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
                                   1e11, 1e12, 1e13, 1e14, 1e15 };
  if (digits == 0 || digits > 15 || (*p != ' ' && *p != '\0'))
    return g_ascii_strtod(text, end);
  *end = (char *)p;
  double value = (double)mantissa / powers[decimals];
  return *text == '-' ? -value : value;
}

/* The names of a model's weight lines, "NAME\n" each, for later
 * (learned_model_resolve_names): one buffer as long as the model text, so
 * that appending is a copy. */
typedef struct {
  char *text; /* owned, NUL-terminated by learned_model_parse() */
  gsize len;
} LearnedPendingNames;

/* One "WEIGHT FEATURE" line (ending at `line_end`) into `model`, its name
 * appended to `names`; FALSE when it is not one. */
static gboolean learned_parse_weight(LearnedModel *model, const char *line, const char *line_end,
                                     LearnedPendingNames *names)
{
  char *end = NULL;
  double weight = learned_parse_number(line, &end);
  if (end == line || *end != ' ' || end[1] == '\0' || !isfinite(weight))
    return FALSE;
  learned_model_weigh(model, learned_bucket(end + 1))[0] += weight;
  gsize length = (gsize)(line_end - (end + 1));
  memcpy(names->text + names->len, end + 1, length);
  names->len += length;
  names->text[names->len++] = '\n';
  return TRUE;
}

/* A "dimension NAME" or "bias NUMBER" line; FALSE when it is neither. */
static gboolean learned_parse_keyword(LearnedModel *model, const char *line, gboolean *named)
{
  if (line[0] != 'd' && line[0] != 'b') /* a weight line: most of them */
    return FALSE;
  if (g_str_has_prefix(line, "dimension ")) {
    int dimension = learned_dimension_lookup(line + 10);
    if (dimension < 0)
      return FALSE;
    model->dimension = (guint)dimension;
    *named = TRUE;
    return TRUE;
  }
  if (g_str_has_prefix(line, "bias ")) {
    char *end = NULL;
    model->bias = learned_parse_number(line + 5, &end);
    return end != line + 5 && *end == '\0' && isfinite(model->bias);
  }
  return FALSE;
}

LearnedModel *learned_model_parse(const char *text, const char *name, GError **error)
{
  g_autoptr(LearnedModel) model = learned_model_new(0);
  g_autoptr(GString) header = g_string_new(NULL);
  gsize text_length = strlen(text);
  /* Lines are cut in place, not with g_strsplit(): it calls strstr() once a
   * line, which ASan checks over the whole rest of the text, so a 0.7 MB
   * model took 12 s to read under ASan (0.002 s this way). */
  g_autofree char *copy = g_memdup2(text, text_length + 1);
  /* each weight line gives at most itself (its name and "\n") */
  LearnedPendingNames names = { g_malloc(text_length + 1), 0 };
  g_autofree char *names_text = names.text;
  gboolean named = FALSE;
  char *next = copy;
  for (guint i = 0; next; i++) {
    char *line = next;
    next = strchr(line, '\n');
    char *end = next ? next : line + strlen(line);
    if (next)
      next++;
    while (end > line && g_ascii_isspace(end[-1])) /* g_strchomp(), knowing the end */
      end--;
    *end = '\0';
    if (line[0] == '\0')
      continue;
    if (line[0] == '#') {
      g_string_append_printf(header, "%s%s", header->len ? "\n" : "",
                             line + (line[1] == ' ' ? 2 : 1));
      continue;
    }
    if (!learned_parse_keyword(model, line, &named) && !learned_parse_weight(model, line, end, &names)) {
      g_set_error(error, KEEL_LEARNED_ERROR, KEEL_LEARNED_ERROR_INVALID,
                  "%s:%u: expected `dimension NAME`, `bias NUMBER` or `WEIGHT FEATURE`", name,
                  i + 1);
      return NULL;
    }
  }
  if (!named) {
    g_set_error(error, KEEL_LEARNED_ERROR, KEEL_LEARNED_ERROR_INVALID,
                "%s: no `dimension` line (one of risky tone threat payment scope)", name);
    return NULL;
  }
  g_free(model->header);
  model->header = g_string_free(g_steal_pointer(&header), FALSE);
  names.text[names.len] = '\0';
  if (names.len)
    model->pending_names = g_steal_pointer(&names_text);
  return g_steal_pointer(&model);
}

static void learned_append_number(GString *out, double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append(out, g_ascii_formatd(buffer, sizeof buffer, "%.6f", value));
}

static void learned_append_header(GString *out, const char *header)
{
  if (!header || !*header)
    return;
  g_auto(GStrv) lines = g_strsplit(header, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    g_string_append_printf(out, "# %s\n", lines[i]);
}

char *learned_model_to_text(const LearnedModel *model, const char *header)
{
  g_autoptr(LearnedModel) resolved = model->pending_names ? learned_model_copy(model) : NULL;
  if (resolved) {
    learned_model_resolve_names(resolved);
    model = resolved;
  }
  g_autoptr(GString) out = g_string_new(NULL);
  learned_append_header(out, header ? header : model->header);
  g_string_append_printf(out, "dimension %s\nbias ", learned_dimension_name(model->dimension));
  learned_append_number(out, model->bias);
  g_string_append_c(out, '\n');
  g_autoptr(GPtrArray) names = g_ptr_array_new();
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init(&iter, model->names);
  while (g_hash_table_iter_next(&iter, &key, &value))
    if (fabs(model->weights[GPOINTER_TO_UINT(key)]) >= 5e-7)
      g_ptr_array_add(names, value);
  g_ptr_array_sort(names, learned_compare_names);
  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    learned_append_number(out, model->weights[learned_bucket(name)]);
    g_string_append_printf(out, " %s\n", name);
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

/* ---- explaining ---- */

static gint learned_compare_contribution(gconstpointer a, gconstpointer b)
{
  double x = ((const LearnedContribution *)a)->contribution;
  double y = ((const LearnedContribution *)b)->contribution;
  if (x != y)
    return x > y ? -1 : 1;
  return strcmp(((const LearnedContribution *)a)->name, ((const LearnedContribution *)b)->name);
}

void learned_model_explain(const LearnedModel *model, const LearnedFeatures *features, guint n,
                           LearnedContribution *for_out, guint *n_for,
                           LearnedContribution *against_out, guint *n_against)
{
  g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(LearnedContribution));
  for (guint i = 0; i < features->names->len; i++) {
    double weight = model->weights[g_array_index(features->buckets, guint32, i)];
    LearnedContribution c = { g_ptr_array_index(features->names, i), weight * features->value };
    if (weight != 0)
      g_array_append_val(all, c);
  }
  g_array_sort(all, learned_compare_contribution);
  *n_for = *n_against = 0;
  for (guint i = 0; i < all->len && *n_for < n; i++)
    if (g_array_index(all, LearnedContribution, i).contribution > 0)
      for_out[(*n_for)++] = g_array_index(all, LearnedContribution, i);
  for (guint i = all->len; i > 0 && *n_against < n; i--)
    if (g_array_index(all, LearnedContribution, i - 1).contribution < 0)
      against_out[(*n_against)++] = g_array_index(all, LearnedContribution, i - 1);
}

/* ---- corrections ---- */

/* The step of a correction, in log-odds: the gradient of the log loss
 * scaled by 4, capped at LEARNED_CORRECTION_CAP. */
static double learned_correction_step(const LearnedModel *model, const LearnedFeatures *features,
                                      gboolean label)
{
  double p = learned_model_predict(model, features);
  double step = 4.0 * ((label ? 1.0 : 0.0) - p);
  return CLAMP(step, -LEARNED_CORRECTION_CAP, LEARNED_CORRECTION_CAP);
}

double learned_model_correct(LearnedModel *model, const LearnedFeatures *features,
                             gboolean label, GHashTable *deltas)
{
  if (features->names->len == 0)
    return 0;
  double step = learned_correction_step(model, features, label);
  double delta = step * features->value; /* |delta vector| = |step| as the features have length 1 */
  for (guint i = 0; i < features->names->len; i++) {
    const char *name = g_ptr_array_index(features->names, i);
    learned_model_add(model, name, delta);
    if (!deltas)
      continue;
    double *sum = g_hash_table_lookup(deltas, name);
    if (!sum) {
      sum = g_new0(double, 1);
      g_hash_table_insert(deltas, g_strdup(name), sum);
    }
    *sum += delta;
  }
  return step;
}

/* ---- training ---- */

void learned_train_options_init(LearnedTrainOptions *options)
{
  options->epochs = 100;
  options->rate = 5;
  options->l2 = 1e-4;
  options->seed = 1;
  options->min_weight = 0.05;
  options->balance = TRUE;
}

/* splitmix64: a small generator whose sequence is fixed by its seed. */
static guint64 learned_random(guint64 *state)
{
  guint64 z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void learned_shuffle(guint *order, guint n, guint64 *state)
{
  for (guint i = n; i > 1; i--) {
    guint j = (guint)(learned_random(state) % i);
    guint swap = order[i - 1];
    order[i - 1] = order[j];
    order[j] = swap;
  }
}

/* One SGD step on example `x` with label `y` and weight `importance`. */
static void learned_sgd_step(LearnedModel *model, const LearnedFeatures *x, gboolean y,
                             double importance, double rate, double l2)
{
  double gradient = importance * (learned_model_predict(model, x) - (y ? 1.0 : 0.0));
  const guint32 *buckets = (const guint32 *)(void *)x->buckets->data;
  for (guint i = 0; i < x->buckets->len; i++) {
    double *w = learned_model_weigh(model, buckets[i]);
    *w -= rate * (gradient * x->value + l2 * *w);
  }
  model->bias -= rate * gradient * 0.1;
}

static void learned_train_names(LearnedModel *model, LearnedFeatures *const *examples, guint n)
{
  for (guint e = 0; e < n; e++)
    for (guint i = 0; i < examples[e]->names->len; i++)
      learned_model_name(model, g_array_index(examples[e]->buckets, guint32, i),
                         g_ptr_array_index(examples[e]->names, i));
}

LearnedModel *learned_train(guint dimension, LearnedFeatures *const *examples,
                            const gboolean *labels, guint n, const LearnedTrainOptions *options)
{
  LearnedModel *model = learned_model_new(dimension);
  double positives = 0, negatives = 0;
  for (guint i = 0; i < n; i++) {
    if (labels[i])
      positives += examples[i]->importance;
    else
      negatives += examples[i]->importance;
  }
  double positive_weight = options->balance && positives > 0 && negatives > 0
                           ? negatives / positives : 1.0;
  g_autofree guint *order = g_new(guint, MAX(n, 1));
  for (guint i = 0; i < n; i++)
    order[i] = i;
  guint64 state = options->seed;
  for (guint epoch = 0; epoch < options->epochs; epoch++) {
    learned_shuffle(order, n, &state);
    double rate = options->rate / (1.0 + epoch * 0.2);
    for (guint k = 0; k < n; k++) {
      guint i = order[k];
      learned_sgd_step(model, examples[i], labels[i],
                       examples[i]->importance * (labels[i] ? positive_weight : 1.0), rate,
                       options->l2);
    }
  }
  for (guint b = 0; b < LEARNED_BUCKETS; b++)
    if (fabs(model->weights[b]) < options->min_weight)
      model->weights[b] = 0;
  learned_train_names(model, examples, n);
  return model;
}

/* ---- evaluation ---- */

double learned_counts_precision(const LearnedCounts *c)
{
  return c->tp + c->fp ? (double)c->tp / (c->tp + c->fp) : 0;
}

double learned_counts_recall(const LearnedCounts *c)
{
  return c->tp + c->fn ? (double)c->tp / (c->tp + c->fn) : 0;
}

double learned_counts_f1(const LearnedCounts *c)
{
  return 2 * c->tp + c->fp + c->fn ? 2.0 * c->tp / (2 * c->tp + c->fp + c->fn) : 0;
}

static void learned_count(LearnedCounts *counts, gboolean predicted, gboolean label)
{
  if (predicted && label)
    counts->tp++;
  else if (predicted)
    counts->fp++;
  else if (label)
    counts->fn++;
  else
    counts->tn++;
}

/* Trains without group `held` and counts its predictions. */
static void learned_validate_group(guint dimension, LearnedFeatures *const *examples,
                                   const gboolean *labels, const guint *groups, guint n,
                                   guint held, const LearnedTrainOptions *options,
                                   double threshold, LearnedCounts *counts)
{
  g_autoptr(GPtrArray) train = g_ptr_array_new();
  g_autoptr(GArray) train_labels = g_array_new(FALSE, FALSE, sizeof(gboolean));
  for (guint i = 0; i < n; i++)
    if (groups[i] != held) {
      g_ptr_array_add(train, examples[i]);
      g_array_append_val(train_labels, labels[i]);
    }
  g_autoptr(LearnedModel) model = learned_train(dimension, (LearnedFeatures *const *)train->pdata,
                                                (const gboolean *)(void *)train_labels->data,
                                                train->len, options);
  for (guint i = 0; i < n; i++)
    if (groups[i] == held)
      learned_count(counts, learned_model_predict(model, examples[i]) >= threshold, labels[i]);
}

void learned_cross_validate(guint dimension, LearnedFeatures *const *examples,
                            const gboolean *labels, const guint *groups, guint n,
                            const LearnedTrainOptions *options, double threshold,
                            LearnedCounts *counts)
{
  memset(counts, 0, sizeof *counts);
  guint max_group = 0;
  for (guint i = 0; i < n; i++)
    if (groups[i] != LEARNED_GROUP_ALWAYS)
      max_group = MAX(max_group, groups[i]);
  for (guint g = 0; g <= max_group; g++)
    learned_validate_group(dimension, examples, labels, groups, n, g, options, threshold, counts);
}

/* ---- sets ---- */

LearnedSet *learned_set_new(void)
{
  return g_new0(LearnedSet, 1);
}

void learned_set_free(LearnedSet *set)
{
  if (!set)
    return;
  for (guint i = 0; i < LEARNED_COUNT; i++)
    learned_model_free(set->models[i]);
  g_free(set);
}

void learned_set_predict_text(const LearnedSet *set, const char *subject, const char *text,
                              double out[LEARNED_COUNT])
{
  gboolean any = FALSE;
  for (guint i = 0; set && i < LEARNED_COUNT; i++)
    any |= set->models[i] != NULL;
  if (!any) {
    learned_set_predict(NULL, NULL, out);
    return;
  }
  LearnedGrams g;
  learned_grams_init(&g, subject, text);
  g_autoptr(GString) names = g_string_new(NULL);
  g_autofree LearnedNamed *weighed = NULL;
  guint n = learned_grams_sorted(&g, set, names, &weighed);
  double value = g.n_grams ? 1.0 / sqrt((double)g.n_grams) : 0;
  for (guint m = 0; m < LEARNED_COUNT; m++) {
    const LearnedModel *model = set->models[m];
    if (!model) {
      out[m] = NAN;
      continue;
    }
    double sum = 0;
    for (guint i = 0; i < n; i++)
      sum += model->weights[weighed[i].bucket];
    out[m] = learned_sigmoid(model->bias + sum * value);
  }
  learned_grams_clear(&g);
}

void learned_set_predict(const LearnedSet *set, const LearnedFeatures *features,
                         double out[LEARNED_COUNT])
{
  for (guint i = 0; i < LEARNED_COUNT; i++)
    out[i] = set && set->models[i] ? learned_model_predict(set->models[i], features) : NAN;
}
