/* tests/unit/test-learned.c: the learned signals of the pure core
 * (filters/learned.c): features, deterministic training, model text, the
 * weight cap against a poisoned correction, explanations, and the rules
 * weighing the signals (and switching them off). Links libkeel-filters only.
 */
#include <math.h>
#include <string.h>
#include "filters/learned.h"
#include "filters/message.h"
#include "filters/rules.h"
#include "filters/score.h"

/* A small labelled set: angry (TRUE) and ordinary (FALSE) client mail. */
static const struct {
  const char *subject, *text;
  gboolean risky;
} learned_examples[] = {
  { "Invoice", "I am not paying this invoice until the work is done properly.", TRUE },
  { "Still waiting", "This is the third time I have asked. Why is nothing done?", TRUE },
  { "Deadline missed", "You missed the deadline again, I am not paying for late work.", TRUE },
  { "Unacceptable", "Frankly this is unacceptable and I expect a refund.", TRUE },
  { "Rota", "Thanks so much, could you send the rota to the team by Friday?", FALSE },
  { "Lunch booking", "Please book a table for four on Thursday at noon. Thank you!", FALSE },
  { "Documents", "Attached are the documents for the meeting, thanks for your help.", FALSE },
  { "Newsletter", "Could you draft the spring newsletter when you have a moment? Thanks.", FALSE },
  { "Opening hours", "Please update the opening hours on the website, many thanks.", FALSE },
};

static GPtrArray *learned_test_features(gboolean **labels)
{
  GPtrArray *features = g_ptr_array_new_with_free_func((GDestroyNotify)learned_features_free);
  *labels = g_new(gboolean, G_N_ELEMENTS(learned_examples));
  for (guint i = 0; i < G_N_ELEMENTS(learned_examples); i++) {
    g_ptr_array_add(features, learned_features(learned_examples[i].subject,
                                               learned_examples[i].text));
    (*labels)[i] = learned_examples[i].risky;
  }
  return features;
}

static LearnedModel *learned_test_model(void)
{
  g_autofree gboolean *labels = NULL;
  g_autoptr(GPtrArray) features = learned_test_features(&labels);
  LearnedTrainOptions options;
  learned_train_options_init(&options);
  return learned_train(LEARNED_RISKY, (LearnedFeatures *const *)features->pdata, labels,
                       features->len, &options);
}

static gint learned_compare_strings(const char *const *a, const char *const *b)
{
  return strcmp(*a, *b);
}

static gboolean learned_has(const LearnedFeatures *features, const char *name)
{
  for (guint i = 0; i < features->names->len; i++)
    if (strcmp(g_ptr_array_index(features->names, i), name) == 0)
      return TRUE;
  return FALSE;
}

static void test_features(void)
{
  g_autoptr(LearnedFeatures) f = learned_features("Re: Invoice 2026", "I WON’T pay, won't!");
  g_assert_true(learned_has(f, "wont"));
  g_assert_true(learned_has(f, "wont pay"));
  g_assert_true(learned_has(f, "i wont"));
  g_assert_true(learned_has(f, "s:invoice 0000"));
  g_assert_false(learned_has(f, "won"));
  g_assert_false(learned_has(f, "WONT"));
  /* unique features, each worth 1/sqrt(n): every message has length 1 */
  g_assert_cmpfloat_with_epsilon(f->value * f->value * f->names->len, 1.0, 1e-9);
  g_assert_cmpuint(f->buckets->len, ==, f->names->len);
  /* invalid UTF-8 (a lead byte before the end) is read safely */
  g_autoptr(LearnedFeatures) bad = learned_features(NULL, "caf\xc3 ok \xf0");
  g_assert_true(learned_has(bad, "ok"));
}

/* Unique features sorted by name, repeats once, each with its bucket. */
static void test_features_unique(void)
{
  g_autoptr(LearnedFeatures) f = learned_features("Re: a b a", "x y x y");
  static const char *const want[] = { "s:a", "s:a b", "s:b", "s:b a", "s:re", "s:re a",
                                      "x", "x y", "y", "y x" };
  g_assert_cmpuint(f->names->len, ==, G_N_ELEMENTS(want));
  for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
    g_assert_cmpstr(g_ptr_array_index(f->names, i), ==, want[i]);
    g_assert_cmpuint(g_array_index(f->buckets, guint32, i), ==, learned_bucket(want[i]));
  }
  g_assert_cmpfloat(f->value, ==, 1.0 / sqrt(10.0));
  g_autoptr(LearnedFeatures) none = learned_features(NULL, NULL);
  g_assert_cmpuint(none->names->len, ==, 0);
  g_assert_cmpfloat(none->value, ==, 0);
}

/* learned_set_predict_text() gives learned_set_predict()'s numbers bit for
 * bit: the same grams, the weights added in the order of the names. */
static void learned_assert_same(const LearnedSet *set, const char *subject, const char *text)
{
  double slow[LEARNED_COUNT], fast[LEARNED_COUNT];
  g_autoptr(LearnedFeatures) features = learned_features(subject, text);
  learned_set_predict(set, features, slow);
  learned_set_predict_text(set, subject, text, fast);
  for (guint i = 0; i < LEARNED_COUNT; i++)
    if (memcmp(&slow[i], &fast[i], sizeof(double)) != 0)
      g_error("%s / %s: %s %.17g != %.17g", subject, text, learned_dimension_name(i), slow[i],
              fast[i]);
}

/* A trained risky model, and a tone model where 1 + 1e16 - 1e16 is 0 in
 * the order of its names (a, big, zz), 1 in others. */
static LearnedSet *learned_test_set(void)
{
  LearnedSet *set = learned_set_new();
  set->models[LEARNED_RISKY] = learned_test_model();
  g_autoptr(GError) error = NULL;
  set->models[LEARNED_TONE] = learned_model_parse(
    "dimension tone\nbias 0.5\n1 a\n10000000000000000 big\n-10000000000000000 zz\n"
    "0.25 s:late\n-0.125 late again\n", "tone.model", &error);
  g_assert_no_error(error);
  return set;
}

static void test_predict_text(void)
{
  g_autoptr(LearnedSet) set = learned_test_set();
  for (guint i = 0; i < G_N_ELEMENTS(learned_examples); i++)
    learned_assert_same(set, learned_examples[i].subject, learned_examples[i].text);
  learned_assert_same(set, NULL, "zz big a");
  double out[LEARNED_COUNT];
  learned_set_predict_text(set, NULL, "zz big a", out);
  g_assert_cmpfloat(out[LEARNED_TONE], ==, 1.0 / (1.0 + exp(-0.5)));
  g_assert_true(isnan(out[LEARNED_THREAT]));
  learned_assert_same(set, "Late again", "Late again, late AGAIN. I won’t pay; won't!");
  learned_assert_same(set, "", "");
  learned_assert_same(set, NULL, NULL);
  learned_assert_same(set, "caf\xc3 é", "caf\xc3 ok \xf0 Ünïcödé ÉTÉ 2026 ٣٤");
  g_autoptr(GString) many = g_string_new(NULL);
  for (guint i = 0; i < 1500; i++) /* past LEARNED_MAX_WORDS, with repeats */
    g_string_append_printf(many, "%s w%u ", learned_examples[i % 9].text, i % 37);
  learned_assert_same(set, many->str, many->str);
  /* no models: NAN everywhere */
  g_autoptr(LearnedSet) empty = learned_set_new();
  learned_set_predict_text(empty, "a", "b", out);
  g_assert_true(isnan(out[LEARNED_RISKY]) && isnan(out[LEARNED_TONE]));
  learned_set_predict_text(NULL, "a", "b", out);
  g_assert_true(isnan(out[LEARNED_SCOPE]));
}

/* The features of ASCII `subject` and `text` the plain way (names made,
 * a string table, strcmp() order), to check learned_features() against. */
static void learned_reference_part(const char *part, const char *prefix, GHashTable *seen,
                                   GPtrArray *names)
{
  g_autoptr(GPtrArray) words = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GString) word = g_string_new(NULL);
  for (const char *p = part; part && words->len < LEARNED_MAX_WORDS; p++) {
    if (g_ascii_isalnum(*p))
      g_string_append_c(word, g_ascii_isdigit(*p) ? '0' : g_ascii_tolower(*p));
    else if (*p != '\'' && word->len)
      g_ptr_array_add(words, g_strdup(word->str)), g_string_truncate(word, 0);
    if (!*p)
      break;
  }
  for (guint i = 0; i < words->len; i++) {
    char *grams[2] = { g_strconcat(prefix, words->pdata[i], NULL),
                       i + 1 < words->len ? g_strconcat(prefix, words->pdata[i], " ",
                                                        words->pdata[i + 1], NULL) : NULL };
    for (guint k = 0; k < 2 && grams[k]; k++)
      if (g_hash_table_contains(seen, grams[k]))
        g_free(grams[k]);
      else
        g_hash_table_add(seen, grams[k]), g_ptr_array_add(names, grams[k]);
  }
}

static GPtrArray *learned_reference_names(const char *subject, const char *text)
{
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  learned_reference_part(subject, "s:", seen, names);
  learned_reference_part(text, "", seen, names);
  g_ptr_array_sort(names, (GCompareFunc)learned_compare_strings);
  return names;
}

/* Long words (their bytes outgrow any small buffer), words and bigrams that
 * share their first 8 bytes (sorted past them), "s:" names among text names
 * that start with "s": the names, their order and the sums are the plain
 * way's. The weights are such that the order of the sum shows. */
static void test_features_reference(void)
{
  g_autoptr(GString) text = g_string_new("s0 sa s:x S9 abcdefgh abcdefghi abcdefg x abcdefg y ");
  g_string_append(text, "ab c abc d abcdef1 abcdef2 abcdefg' abcdefgh' it's its 's ");
  for (guint i = 0; i < 700; i++) {
    guint word = i % 300; /* 300 words of 40 letters or more, then repeats */
    g_string_append_printf(text, "%c%c", 'A' + word / 26, 'a' + word % 26);
    for (guint k = 0; k < 38 + i % 7; k++)
      g_string_append_c(text, (char)('a' + (word * 7 + k) % 26));
    g_string_append(text, i % 3 ? " " : ", ");
  }
  const char *subject = "Re: abcdefgh abcdefgi s0 sa x s";
  g_autoptr(GPtrArray) want = learned_reference_names(subject, text->str);
  g_autoptr(LearnedFeatures) f = learned_features(subject, text->str);
  g_assert_cmpuint(f->names->len, ==, want->len);
  for (guint i = 0; i < want->len; i++) {
    g_assert_cmpstr(g_ptr_array_index(f->names, i), ==, g_ptr_array_index(want, i));
    g_assert_cmpuint(g_array_index(f->buckets, guint32, i), ==,
                     learned_bucket(g_ptr_array_index(want, i)));
  }
  g_assert_cmpfloat(f->value, ==, 1.0 / sqrt((double)want->len));
  g_autoptr(LearnedSet) set = learned_set_new();
  set->models[LEARNED_SCOPE] = learned_model_new(LEARNED_SCOPE);
  for (guint i = 0; i < want->len; i++)
    learned_model_add(set->models[LEARNED_SCOPE], g_ptr_array_index(want, i),
                      ldexp(i % 2 ? 1.0 + i : -1.0 - i, (int)(i * 37 % 61) - 30));
  double sum = 0;
  for (guint i = 0; i < want->len; i++)
    sum += set->models[LEARNED_SCOPE]->weights[learned_bucket(g_ptr_array_index(want, i))];
  double out[LEARNED_COUNT];
  learned_set_predict_text(set, subject, text->str, out);
  double x = sum / sqrt((double)want->len);
  double expected = x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
  g_assert_true(memcmp(&out[LEARNED_SCOPE], &expected, sizeof(double)) == 0);
  learned_assert_same(set, subject, text->str);
}

/* Every nonzero weight has its maybe_weighed bit: scoring looks at a
 * bucket's weight only when the bit says so. */
static void learned_assert_weighed_marked(const LearnedModel *model)
{
  guint weighed = 0;
  for (guint b = 0; b < LEARNED_BUCKETS; b++) {
    if (model->weights[b] == 0)
      continue;
    weighed++;
    if (!((model->maybe_weighed[b / 64] >> (b % 64)) & 1))
      g_error("bucket %u has weight %g but no maybe_weighed bit", b, model->weights[b]);
  }
  g_assert_cmpuint(weighed, >, 0);
}

static void test_maybe_weighed(void)
{
  g_autoptr(LearnedModel) trained = learned_test_model();
  learned_assert_weighed_marked(trained);
  g_autoptr(LearnedModel) copy = learned_model_copy(trained);
  learned_assert_weighed_marked(copy);
  g_autoptr(GError) error = NULL;
  g_autoptr(LearnedModel) parsed = learned_model_parse("dimension tone\nbias 0\n0.5 late\n",
                                                       "tone.model", &error);
  g_assert_no_error(error);
  learned_assert_weighed_marked(parsed);
  learned_model_add(parsed, "before seen", 2.0); /* a bigram */
  learned_assert_weighed_marked(parsed);
  /* and scoring sees the added weight */
  g_autoptr(LearnedSet) set = learned_set_new();
  set->models[LEARNED_TONE] = g_steal_pointer(&parsed);
  learned_assert_same(set, NULL, "never before seen late");
  double out[LEARNED_COUNT];
  learned_set_predict_text(set, NULL, "never before seen", out);
  g_assert_cmpfloat(out[LEARNED_TONE], >, 0.5);
}

/* A sealed set gives the numbers of the models' own arrays, bit for bit; a
 * write to a model after the seal is seen at once (the stale seal is not
 * used), and a new seal sees it too. */
static void test_seal(void)
{
  g_autoptr(LearnedSet) set = learned_test_set();
  learned_set_seal(set);
  g_assert_nonnull(set->seal);
  for (guint i = 0; i < G_N_ELEMENTS(learned_examples); i++)
    learned_assert_same(set, learned_examples[i].subject, learned_examples[i].text);
  learned_assert_same(set, NULL, "zz big a");
  learned_assert_same(set, "Late again", "Late again, late AGAIN. I won’t pay; won't!");
  double before[LEARNED_COUNT], after[LEARNED_COUNT], resealed[LEARNED_COUNT];
  learned_set_predict_text(set, NULL, "never before seen", before);
  learned_model_add(set->models[LEARNED_TONE], "before seen", 2.0);
  learned_set_predict_text(set, NULL, "never before seen", after);
  g_assert_cmpfloat(after[LEARNED_TONE], >, before[LEARNED_TONE]);
  g_assert_cmpfloat(after[LEARNED_RISKY], ==, before[LEARNED_RISKY]);
  learned_assert_same(set, NULL, "never before seen late");
  learned_set_seal(set);
  learned_set_predict_text(set, NULL, "never before seen", resealed);
  g_assert_cmpmem(after, sizeof after, resealed, sizeof resealed);
  /* a model put in place of another after the seal is read, not the seal */
  learned_model_free(set->models[LEARNED_TONE]);
  set->models[LEARNED_TONE] = NULL;
  learned_set_predict_text(set, NULL, "never before seen", after);
  g_assert_true(isnan(after[LEARNED_TONE]));
  learned_assert_same(set, NULL, "zz big a");
}

static void test_deterministic(void)
{
  g_autoptr(LearnedModel) a = learned_test_model();
  g_autoptr(LearnedModel) b = learned_test_model();
  g_autofree char *text_a = learned_model_to_text(a, "test header\nsecond line");
  g_autofree char *text_b = learned_model_to_text(b, "test header\nsecond line");
  g_assert_cmpstr(text_a, ==, text_b);
  g_assert_true(g_str_has_prefix(text_a, "# test header\n# second line\ndimension risky\nbias "));
  /* the text reads back into the same model */
  g_autoptr(GError) error = NULL;
  g_autoptr(LearnedModel) back = learned_model_parse(text_a, "risky.model", &error);
  g_assert_no_error(error);
  g_autofree char *again = learned_model_to_text(back, NULL);
  g_assert_cmpstr(again, ==, text_a);
  g_assert_cmpstr(back->header, ==, "test header\nsecond line");
}

static void test_learns(void)
{
  g_autoptr(LearnedModel) model = learned_test_model();
  g_autoptr(LearnedFeatures) angry = learned_features("Late again",
                                                      "I am not paying for this, it is unacceptable.");
  g_autoptr(LearnedFeatures) calm = learned_features("Booking",
                                                     "Thanks, could you book the room for Friday?");
  g_assert_cmpfloat(learned_model_predict(model, angry), >, learned_model_predict(model, calm));
  g_assert_cmpfloat(learned_model_predict(model, calm), <, 0.5);
}

static void test_parse_errors(void)
{
  g_autoptr(GError) error = NULL;
  g_assert_null(learned_model_parse("dimension risky\nbias x\n", "m", &error));
  g_assert_error(error, KEEL_LEARNED_ERROR, KEEL_LEARNED_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "m:2:"));
  g_clear_error(&error);
  g_assert_null(learned_model_parse("bias 1\n0.5 word\n", "m", &error));
  g_assert_nonnull(strstr(error->message, "no `dimension` line"));
  g_clear_error(&error);
  g_assert_null(learned_model_parse("dimension anger\n", "m", &error));
}

/* One poisoned correction (a newsletter marked risky) moves no other
 * message's log-odds by more than the cap, so ordinary mail the model is
 * sure of stays fine. */
/* Model numbers are read exactly as g_ascii_strtod() reads them, the short
 * "%.6f" form by a fast path and the others by g_ascii_strtod() itself. */
static void test_parse_numbers(void)
{
  static const char *const numbers[] = { "0.1", "-0.000000", "0.000001", "-1.234567",
    "123456.789012", "999999999.999999", "0.30000000000000004", "1e-3", "5.", "+2.5",
    "-17", "0.1234567890123456789" };
  g_autoptr(GString) text = g_string_new("dimension tone\nbias -0.700001\n");
  g_autoptr(LearnedModel) expected = learned_model_new(1);
  expected->bias = g_ascii_strtod("-0.700001", NULL);
  for (guint i = 0; i < G_N_ELEMENTS(numbers); i++) {
    g_autofree char *feature = g_strdup_printf("word%u", i);
    g_string_append_printf(text, "%s %s\n", numbers[i], feature);
    learned_model_add(expected, feature, g_ascii_strtod(numbers[i], NULL));
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(LearnedModel) model = learned_model_parse(text->str, "numbers.model", &error);
  g_assert_no_error(error);
  g_assert_true(memcmp(&model->bias, &expected->bias, sizeof(double)) == 0);
  g_assert_true(memcmp(model->weights, expected->weights, sizeof(double) * LEARNED_BUCKETS) == 0);
  g_assert_null(learned_model_parse("dimension tone\n0.5x word\n", "bad.model", NULL));
  /* the names, kept aside while only scoring reads the model, come back in
   * its text, and in a copy's, sorted, with the smallest name per bucket */
  g_autoptr(LearnedModel) copy = learned_model_copy(model);
  learned_model_add(copy, "aardvark", 0.25);
  g_autofree char *text_out = learned_model_to_text(model, NULL);
  g_autofree char *copy_out = learned_model_to_text(copy, NULL);
  g_assert_nonnull(strstr(text_out, "\n0.000001 word2\n-1.234567 word3\n"));
  g_assert_null(strstr(text_out, "aardvark"));
  g_assert_nonnull(strstr(copy_out, "\n0.250000 aardvark\n"));
  g_assert_nonnull(strstr(copy_out, " word11\n"));
}

/* Weight lines as the files write them are read in one pass; any other
 * form (CRLF, trailing blanks, a sign, an exponent) is read as before: the
 * same weights and names whatever the form, and errors on the right line. */
static void test_parse_lines(void)
{
  const char *text = "# trained\r\ndimension tone\r\n\nbias 0.1\n0.5 a\r\n0.25 b c  \n"
                     "0.125  d\n-0.000000 e\n+2.5 f\n1e-2 g\n-3.000001 h\n7 i\t\n";
  static const struct {
    const char *name;
    double weight;
  } want[] = { { "a", 0.5 }, { "b c", 0.25 }, { " d", 0.125 }, { "e", -0.0 }, { "f", 2.5 },
               { "g", 1e-2 }, { "h", -3.000001 }, { "i", 7 } };
  g_autoptr(GError) error = NULL;
  g_autoptr(LearnedModel) model = learned_model_parse(text, "lines.model", &error);
  g_assert_no_error(error);
  g_autoptr(LearnedModel) expected = learned_model_new(LEARNED_TONE);
  for (guint i = 0; i < G_N_ELEMENTS(want); i++)
    learned_model_add(expected, want[i].name, want[i].weight);
  g_assert_true(memcmp(model->weights, expected->weights, sizeof(double) * LEARNED_BUCKETS) == 0);
  g_assert_true(memcmp(model->maybe_weighed, expected->maybe_weighed,
                       sizeof(guint64) * (LEARNED_BUCKETS / 64)) == 0);
  g_assert_cmpstr(model->header, ==, "trained");
  expected->bias = 0.1;
  g_autofree char *out = learned_model_to_text(model, "h");
  g_autofree char *want_out = learned_model_to_text(expected, "h");
  g_assert_cmpstr(out, ==, want_out);
  g_assert_nonnull(strstr(out, "\n0.125000  d\n"));
  g_assert_nonnull(strstr(out, "\n0.250000 b c\n"));
  g_assert_null(learned_model_parse("dimension tone\r\n0.5 a\r\n0.5 \r\n", "bad.model", &error));
  g_assert_nonnull(strstr(error->message, "bad.model:3:"));
}

static void test_cap(void)
{
  g_autoptr(LearnedModel) model = learned_test_model();
  g_autoptr(LearnedFeatures) poison = learned_features(
    "Spring newsletter", "Thanks for reading our newsletter! Book a table, update your details, "
    "many thanks from the team.");
  g_autofree gboolean *labels = NULL;
  g_autoptr(GPtrArray) ordinary = learned_test_features(&labels);
  double before[G_N_ELEMENTS(learned_examples)];
  for (guint i = 0; i < ordinary->len; i++)
    before[i] = learned_model_predict(model, ordinary->pdata[i]);
  g_autoptr(GHashTable) deltas = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  double step = learned_model_correct(model, poison, TRUE, deltas);
  g_assert_cmpfloat(step, <=, LEARNED_CORRECTION_CAP);
  g_assert_cmpfloat(step, >, 0);
  g_assert_cmpuint(g_hash_table_size(deltas), ==, poison->names->len);
  for (guint i = 0; i < ordinary->len; i++) {
    double after = learned_model_predict(model, ordinary->pdata[i]);
    double moved = log(after / (1 - after)) - log(before[i] / (1 - before[i]));
    g_assert_cmpfloat(fabs(moved), <=, LEARNED_CORRECTION_CAP + 1e-9);
    if (before[i] < 1 / (1 + exp(LEARNED_CORRECTION_CAP)))
      g_assert_cmpfloat(after, <, 0.5);
  }
}

static void test_explain(void)
{
  g_autoptr(LearnedModel) model = learned_test_model();
  g_autoptr(LearnedFeatures) f = learned_features("Invoice",
                                                  "I am not paying, thanks for nothing.");
  LearnedContribution up[5], down[5];
  guint n_up = 0, n_down = 0;
  learned_model_explain(model, f, 5, up, &n_up, down, &n_down);
  g_assert_cmpuint(n_up, ==, 5);
  g_assert_cmpuint(n_down, >, 0);
  for (guint i = 0; i + 1 < n_up; i++)
    g_assert_cmpfloat(up[i].contribution, >=, up[i + 1].contribution);
  for (guint i = 0; i < n_down; i++)
    g_assert_cmpfloat(down[i].contribution, <, 0);
  gboolean paying = FALSE; /* "not" (of "not paying") is among the strongest */
  for (guint i = 0; i < n_up; i++)
    paying |= strcmp(up[i].name, "not") == 0 && learned_has(f, up[i].name);
  if (!paying)
    for (guint i = 0; i < n_up; i++)
      g_test_message("for: %s %g", up[i].name, up[i].contribution);
  g_assert_true(paying);
}

static const char learned_dimensions[] =
  "dimension tone flag >= 4\n"
  "risky if tone\n";
static const char learned_rule[] =
  "rule learned_risky\n"
  "  look signal learned_risky >= 0.5\n"
  "  adds tone +4\n"
  "  why  learned\n";

static RuleSet *learned_test_rules(gboolean with_rule, gboolean with_model)
{
  const char *names[] = { "keel.rules", "learned.rules" };
  const char *texts[] = { learned_dimensions, learned_rule };
  g_autoptr(GError) error = NULL;
  RuleSet *rules = rules_compile(names, texts, with_rule ? 2 : 1, &error);
  g_assert_no_error(error);
  if (with_model) {
    LearnedSet *set = learned_set_new();
    set->models[LEARNED_RISKY] = learned_test_model();
    rules_set_learned(rules, set);
  }
  return rules;
}

static KeelMessage *learned_test_message(void)
{
  const char *raw = "From: Dan <dan@client.example>\r\nTo: va@example.com\r\n"
                    "Subject: Deadline missed\r\nDate: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
                    "Message-ID: <angry@client.example>\r\n\r\n"
                    "You missed the deadline again. I am not paying for this.\r\n";
  g_autoptr(GError) error = NULL;
  KeelMessage *message = message_parse((const guint8 *)raw, strlen(raw), NULL, 0, &error);
  g_assert_no_error(error);
  return message;
}

/* The rules weigh the signal; without the rule (or the model) it adds nothing. */
static void test_rules_switch(void)
{
  g_autoptr(KeelMessage) message = learned_test_message();
  g_autoptr(RuleSet) on = learned_test_rules(TRUE, TRUE);
  g_autoptr(ScoreResult) hit = score_message(on, message, NULL, NULL);
  g_assert_cmpfloat(hit->learned[LEARNED_RISKY], >=, 0.5);
  g_assert_true(isnan(hit->learned[LEARNED_TONE]));
  g_assert_true(hit->risky);
  g_assert_cmpfloat(score_result_points(hit, "tone"), ==, 4);
  g_autoptr(RuleSet) off = learned_test_rules(FALSE, TRUE);
  g_autoptr(ScoreResult) quiet = score_message(off, message, NULL, NULL);
  g_assert_false(quiet->risky);
  g_assert_cmpfloat(score_result_points(quiet, "tone"), ==, 0);
  g_assert_cmpfloat(quiet->learned[LEARNED_RISKY], ==, hit->learned[LEARNED_RISKY]);
  g_autoptr(RuleSet) no_model = learned_test_rules(TRUE, FALSE);
  g_autoptr(ScoreResult) unknown = score_message(no_model, message, NULL, NULL);
  g_assert_true(isnan(unknown->learned[LEARNED_RISKY]));
  g_assert_false(unknown->risky);
}

static void test_unknown_signal(void)
{
  const char *names[] = { "keel.rules", "x.rules" };
  const char *texts[] = { learned_dimensions,
                          "rule r\n  look signal learned_anger >= 0.5\n  adds tone +1\n" };
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) rules = rules_compile(names, texts, 2, &error);
  g_assert_null(rules);
  g_assert_nonnull(strstr(error->message, "learned_risky"));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/learned/features", test_features);
  g_test_add_func("/learned/features-unique", test_features_unique);
  g_test_add_func("/learned/predict-text", test_predict_text);
  g_test_add_func("/learned/features-reference", test_features_reference);
  g_test_add_func("/learned/maybe-weighed", test_maybe_weighed);
  g_test_add_func("/learned/seal", test_seal);
  g_test_add_func("/learned/deterministic", test_deterministic);
  g_test_add_func("/learned/learns", test_learns);
  g_test_add_func("/learned/parse-errors", test_parse_errors);
  g_test_add_func("/learned/parse-numbers", test_parse_numbers);
  g_test_add_func("/learned/parse-lines", test_parse_lines);
  g_test_add_func("/learned/cap", test_cap);
  g_test_add_func("/learned/explain", test_explain);
  g_test_add_func("/learned/rules-switch", test_rules_switch);
  g_test_add_func("/learned/unknown-signal", test_unknown_signal);
  return g_test_run();
}
