/* tests/unit/test-prefilter.c: the literal prefilter (filters/prefilter.c).
 *
 *  - /prefilter/literals/N: table-driven, the literal sets derived from a
 *    pattern ("a|b & c": a match holds a or b, and c; NULL where nothing may
 *    be proven: classes, repeats that may be empty,
 *    subroutine calls, conditionals, \Q, extended mode, short literals);
 *  - /prefilter/scan: a regex is skipped on a text lacking its literals and
 *    runs on one that has them, whatever their case; caseless rules with the
 *    two characters PCRE2 takes for s and k; unprovable regexes always run;
 *  - /prefilter/default-rules: every regex of rules/ (the phrase groups'
 *    tries included) over every committed .eml of tests/data, as it is and
 *    upper-cased: whenever the prefilter says "cannot match", PCRE2 agrees.
 */
#include <string.h>
#include "filters/prefilter.h"
#include "filters/rules.h"

typedef struct {
  const char *pattern;
  guint32 flags;
  const char *literals; /* sorted, '|'-separated; NULL = the regex always runs */
} LiteralCase;

static const LiteralCase literal_cases[] = {
  { "deadline", 0, "deadline" },
  { "missed\\s+the\\s+deadline", PCRE2_CASELESS, "deadline & missed & the" },
  { "colou?r", 0, "color|colour" },
  { "(?:invoice|bill)s?\\b", 0, "bill|bills|invoice|invoices" },
  { "(?i)Refund", 0, "refund" },
  { "Refund", 0, "refund" },
  { "(?<=paid )invoice(?!s)", 0, "invoice & paid " },
  { "on\\s+me\\b(?<=that's\\son\\sme)", 0, "that's" }, /* what a lookbehind needs */
  { "(?<=paid )?invoice", 0, "invoice" },   /* an optional lookbehind needs nothing */
  { "(?=\\w+ing)\\w+", 0, "ing" },       /* so does a lookahead */
  { "[Ss]tatement", 0, "statement" },
  { "[a-z]oops", 0, "oops" },
  { "x*abcd", 0, "abcd" },
  { "abcx*def", 0, "abc & def" },           /* not {abcdef, abcxdef}: x may repeat */
  { "(?:abcd)+", 0, "abcd" },
  { "(?:abcd)*", 0, NULL },
  { "(?:abcd)?", 0, NULL },
  { "a(?:bc|de)f", 0, "abcf|adef" },        /* the run goes into each branch */
  { "a(?:bc|de)+f", 0, NULL },              /* but not into a repeated group */
  { "a(?:bcd|def){2}xyz", 0, "xyz & bcd|def" }, /* equally long: fewer literals first */
  { "\\bfoo(bar)\\1baz\\b", 0, "foobar & baz" }, /* a backreference is "anything" */
  { "need\\s+it\\s+(?:by|before)", PCRE2_CASELESS, "need" },
  { "urgent|asap|right\\s+away", 0, "asap|right|urgent" }, /* a branch gives its best set */
  { "urgent|\\d+", 0, NULL },               /* one branch knows nothing */
  { "urgent|", 0, NULL },                   /* one branch matches empty text */
  { "a|bcd", 0, NULL },                     /* too short to be worth it */
  { "\\w+", 0, NULL },
  { ".", 0, NULL },
  { "\\d{3}-\\d{4}", 0, NULL },
  { "\\x{41}pple", 0, "apple" },
  { "caf\\x{e9} au lait", 0, " au lait & caf" },
  { "(?x) foo bar", 0, NULL },              /* extended mode: spaces mean nothing */
  { "foo bar", PCRE2_EXTENDED, NULL },
  { "(?(1)abc|def)", 0, NULL },
  { "(abc)(?1)", 0, NULL },
  { "abc(?R)?", 0, NULL },
  { "\\Qa.b\\E", 0, NULL },
  { "(*MARK:1)hello", PCRE2_CASELESS, "hello" },
  { "(*SKIP)hello", 0, NULL },
  { "(?#note)hello", 0, "hello" },
  { "abcl{2}defg", 0, "defg & abc" },       /* "l{2}": the run stops at a count */
  { "x{,3}hello", 0, NULL },                /* PCRE2 versions disagree on {,3} */
  { "(?<name>invoice)|(?P<other>receipt)", 0, "invoice|receipt" },
};

static int literals_compare(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a|b & c": each set's literals sorted and '|'-joined, the sets (most
 * selective first) joined by " & "; NULL when the regex always runs. */
static char *literals_joined(const char *pattern, guint32 flags)
{
  g_autoptr(GPtrArray) sets = prefilter_literals(pattern, strlen(pattern), flags);
  if (!sets)
    return NULL;
  g_autoptr(GString) out = g_string_new(NULL);
  for (guint s = 0; s < sets->len; s++) {
    g_autoptr(GPtrArray) sorted = g_ptr_array_new();
    for (char **l = g_ptr_array_index(sets, s); *l; l++)
      g_ptr_array_add(sorted, *l);
    g_ptr_array_sort(sorted, literals_compare);
    g_ptr_array_add(sorted, NULL);
    g_autofree char *joined = g_strjoinv("|", (char **)sorted->pdata);
    g_string_append_printf(out, "%s%s", s ? " & " : "", joined);
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

static void test_literals(gconstpointer data)
{
  const LiteralCase *c = data;
  g_autofree char *got = literals_joined(c->pattern, c->flags);
  g_test_message("%s -> %s", c->pattern, got ? got : "(always)");
  g_assert_cmpstr(got, ==, c->literals);
}

static pcre2_code *compile(const char *pattern, guint32 flags)
{
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                 flags | PCRE2_UTF | PCRE2_UCP, &code, &offset, NULL);
  g_assert_nonnull(re);
  return re;
}

static gboolean regex_matches(const pcre2_code *re, const char *text)
{
  g_autoptr(pcre2_match_data) match = pcre2_match_data_create_from_pattern(re, NULL);
  return pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, match, NULL) >= 0;
}

/* `pattern` on `text`: whether the prefilter lets it run and whether it matches. */
static void check_scan(const char *pattern, guint32 flags, const char *text, gboolean runs,
                       gboolean matches)
{
  g_autoptr(Prefilter) prefilter = prefilter_new();
  int other = prefilter_add(prefilter, "unrelated\\s+words", 17, 0);
  int id = prefilter_add(prefilter, pattern, strlen(pattern), flags);
  prefilter_build(prefilter);
  g_assert_cmpint(other, >=, 0);
  g_autofree PrefilterSeen *seen = prefilter_scan(prefilter, text, strlen(text));
  g_autoptr(pcre2_code) re = compile(pattern, flags);
  g_test_message("%s on \"%s\"", pattern, text);
  g_assert_cmpint(prefilter_may_match(prefilter, id, seen), ==, runs);
  g_assert_cmpint(regex_matches(re, text), ==, matches);
  g_assert_false(prefilter_may_match(prefilter, other, seen) && !strstr(text, "unrelated"));
}

static void test_scan(void)
{
  const char *deadline = "missed\\s+the\\s+deadline";
  check_scan(deadline, PCRE2_CASELESS, "Nothing to see here.", FALSE, FALSE);
  check_scan(deadline, PCRE2_CASELESS, "You MISSED the\n DeadLine again", TRUE, TRUE);
  check_scan(deadline, PCRE2_CASELESS, "the deadline is Friday", FALSE, FALSE); /* no "missed" */
  check_scan(deadline, 0, "Missed it: the deadline is Friday", TRUE, FALSE);
  check_scan("(?i)kelvin", 0, "\xe2\x84\xaa" "elvin", TRUE, TRUE); /* U+212A KELVIN SIGN */
  check_scan("(?i)sure", 0, "\xc5\xbf" "ure", TRUE, TRUE);          /* U+017F LONG S */
  check_scan("(?i)sure", 0, "\xc5\xbe" "ure", FALSE, FALSE);        /* U+017E is no s */
  check_scan("Refund", 0, "refund", TRUE, FALSE); /* caseless scan: runs, PCRE2 decides */
  check_scan("abcx*def", 0, "abcxxdef", TRUE, TRUE);
  check_scan("on\\s+me\\b(?<=that's\\son\\sme)", PCRE2_CASELESS, "it's on me", FALSE, FALSE);
  check_scan("on\\s+me\\b(?<=that's\\son\\sme)", PCRE2_CASELESS, "That's on me!", TRUE, TRUE);
  check_scan("a(?:bc|de)+f", 0, "ABCBCF", TRUE, FALSE);
  check_scan("a(?:bc|de)+f", 0, "abcbcf", TRUE, TRUE);
  check_scan("a(?:bc|de)f", PCRE2_CASELESS, "xx ADEF", TRUE, TRUE);
  check_scan("a(?:bc|de)f", PCRE2_CASELESS, "abc def", FALSE, FALSE);
  check_scan("you\\s+(?:never|forgot)", PCRE2_CASELESS, "you said you would", FALSE, FALSE);
  check_scan("you\\s+(?:never|forgot)", PCRE2_CASELESS, "never mind", FALSE, FALSE);
  check_scan("you\\s+(?:never|forgot)", PCRE2_CASELESS, "I never said you forgot", TRUE, TRUE);
  check_scan("\\d{3}-\\d{4}", 0, "no digits", TRUE, FALSE); /* unprovable: always runs */
  check_scan("\\d{3}-\\d{4}", 0, "555-1234", TRUE, TRUE);
  check_scan("caf\\x{e9} au lait", PCRE2_CASELESS, "CAF\xc3\x89 AU LAIT", TRUE, TRUE);
}

static void test_always(void)
{
  g_autoptr(Prefilter) prefilter = prefilter_new();
  int id = prefilter_add(prefilter, "\\w+", 3, 0);
  g_assert_cmpint(id, ==, PREFILTER_ALWAYS);
  prefilter_build(prefilter);
  g_assert_cmpuint(prefilter_literal_count(prefilter), ==, 0);
  g_autofree PrefilterSeen *seen = prefilter_scan(prefilter, "", 0);
  g_assert_true(prefilter_may_match(prefilter, id, seen));
  g_assert_cmpint(prefilter_add(prefilter, "late", 4, 0), ==, PREFILTER_ALWAYS); /* after build */
}

/* ---- every default rule over every committed message ---- */

typedef struct {
  GPtrArray *codes;    /* of pcre2_code*, borrowed from the sets */
  GArray *ids;         /* of int */
  GPtrArray *patterns; /* of char*, borrowed */
  Prefilter *prefilter;
} Corpus;

static void corpus_add_set(Corpus *corpus, const RuleSet *set)
{
  for (guint r = 0; r < rules_count(set); r++) {
    const RulesRule *rule = rules_get(set, r);
    for (guint i = 0; i < rule->looks->len; i++) {
      const RulesLook *look = g_ptr_array_index(rule->looks, i);
      if (!look->code || !look->pattern)
        continue;
      int id = prefilter_add(corpus->prefilter, look->pattern, strlen(look->pattern), look->flags);
      g_ptr_array_add(corpus->codes, look->code);
      g_ptr_array_add(corpus->patterns, look->pattern);
      g_array_append_val(corpus->ids, id);
    }
  }
  for (guint i = 0; i < set->phrase_groups->len; i++) {
    const RulesLook *look = ((RulesPhraseGroup *)g_ptr_array_index(set->phrase_groups, i))->look;
    int id = prefilter_add(corpus->prefilter, look->pattern, strlen(look->pattern), look->flags);
    g_ptr_array_add(corpus->codes, look->code);
    g_ptr_array_add(corpus->patterns, look->pattern);
    g_array_append_val(corpus->ids, id);
  }
}

static RuleSet *compile_files(const char *const *names, GPtrArray *texts)
{
  const char *root = g_getenv("KEEL_SOURCE_ROOT");
  g_assert_nonnull(root);
  guint n = 0;
  for (; names[n]; n++) {
    g_autofree char *path = g_build_filename(root, "rules", names[n], NULL);
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_ptr_array_add(texts, text);
  }
  g_autoptr(GError) error = NULL;
  RuleSet *set = rules_compile(names, (const char *const *)texts->pdata + texts->len - n, n, &error);
  g_assert_no_error(error);
  rules_compile_alone(set);
  return set;
}

static void corpus_messages(const char *dir, GPtrArray *paths)
{
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name(d))) {
    g_autofree char *path = g_build_filename(dir, name, NULL);
    if (g_file_test(path, G_FILE_TEST_IS_DIR) && strcmp(name, "spamassassin") != 0)
      corpus_messages(path, paths);
    else if (g_str_has_suffix(name, ".eml"))
      g_ptr_array_add(paths, g_steal_pointer(&path));
  }
}

/* Every regex the prefilter skips on `text` must not match it. */
static guint corpus_check_text(const Corpus *corpus, const char *text, pcre2_match_data *match)
{
  g_autofree PrefilterSeen *seen = prefilter_scan(corpus->prefilter, text, strlen(text));
  guint skipped = 0;
  for (guint i = 0; i < corpus->codes->len; i++) {
    if (prefilter_may_match(corpus->prefilter, g_array_index(corpus->ids, int, i), seen))
      continue;
    skipped++;
    int rc = pcre2_match(g_ptr_array_index(corpus->codes, i), (PCRE2_SPTR)text, strlen(text), 0,
                         0, match, NULL);
    if (rc != PCRE2_ERROR_NOMATCH)
      g_test_message("skipped but matches (%d): %s", rc, (char *)g_ptr_array_index(corpus->patterns, i));
    g_assert_cmpint(rc, ==, PCRE2_ERROR_NOMATCH);
  }
  return skipped;
}

static void test_default_rules(void)
{
  static const char *const scoring[] = { "keel.rules", "blame.rules", "invoices.rules",
    "learned.rules", "payment.rules", "scope.rules", "threat.rules", "tone.rules",
    "urgency.rules", "vague.rules", NULL };
  static const char *const alone[][2] = { { "instructions.rules", NULL },
                                          { "deadlines.rules", NULL }, { "promises.rules", NULL } };
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) sets = g_ptr_array_new_with_free_func((GDestroyNotify)rules_free);
  Corpus corpus = { g_ptr_array_new(), g_array_new(FALSE, FALSE, sizeof(int)), g_ptr_array_new(),
                    prefilter_new() };
  g_ptr_array_add(sets, compile_files(scoring, texts));
  for (guint i = 0; i < G_N_ELEMENTS(alone); i++)
    g_ptr_array_add(sets, compile_files(alone[i], texts));
  for (guint i = 0; i < sets->len; i++)
    corpus_add_set(&corpus, g_ptr_array_index(sets, i));
  prefilter_build(corpus.prefilter);
  g_assert_cmpuint(prefilter_filtered_count(corpus.prefilter), >, corpus.codes->len / 2);

  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *data = g_build_filename(g_getenv("KEEL_SOURCE_ROOT"), "tests", "data", NULL);
  corpus_messages(data, paths);
  g_assert_cmpuint(paths->len, >, 50);
  g_autoptr(pcre2_match_data) match = pcre2_match_data_create(64, NULL);
  guint skipped = 0;
  for (guint i = 0; i < paths->len; i++) {
    g_autofree char *raw = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(g_ptr_array_index(paths, i), &raw, &len, NULL));
    g_autofree char *text = g_utf8_make_valid(raw, (gssize)len);
    g_autofree char *upper = g_utf8_strup(text, -1);
    skipped += corpus_check_text(&corpus, text, match) + corpus_check_text(&corpus, upper, match);
  }
  g_test_message("%u regexes, %u with literals; %u files; %u skips verified", corpus.codes->len,
                 prefilter_filtered_count(corpus.prefilter), paths->len, skipped);
  g_assert_cmpuint(skipped, >, 0);
  g_ptr_array_unref(corpus.codes);
  g_array_unref(corpus.ids);
  g_ptr_array_unref(corpus.patterns);
  prefilter_free(corpus.prefilter);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS(literal_cases); i++) {
    g_autofree char *path = g_strdup_printf("/prefilter/literals/%u", i);
    g_test_add_data_func(path, &literal_cases[i], test_literals);
  }
  g_test_add_func("/prefilter/scan", test_scan);
  g_test_add_func("/prefilter/always", test_always);
  g_test_add_func("/prefilter/default-rules", test_default_rules);
  return g_test_run();
}
