/* tests/unit/test-regex-trie.c: alternations of plain words written as
 * tries (filters/regex-trie.c): what is rewritten and how, what is left
 * alone, and that every rewritten pattern of the shipped rules finds the
 * same matches and captures as the pattern as written, over every line of
 * the test mail and over texts made to catch a change of order. */
#include <string.h>
#include "filters/cleanup.h"
#include "filters/regex-trie.h"
#include "mail-texts.h"

static void assert_rewrite(const char *pattern, guint32 flags, const char *want)
{
  g_autofree char *got = regex_trie_rewrite_min(pattern, strlen(pattern), flags, 4);
  g_assert_cmpstr(got, ==, want);
}

static void test_rewrites(void)
{
  assert_rewrite("(?:send|set up|setup|sort)", PCRE2_CASELESS, "(?:s(?:e(?:nd|t(?: up|up))|ort))");
  /* caseful: S and s are two keys */
  assert_rewrite("(?:Send|send|sort|Set)", 0, "(?:Se(?:nd|t)|s(?:end|ort))");
  /* ?, classes, escapes and inner groups read out, in the order tried */
  assert_rewrite("^(?:re-?send|re\\-book|organi[sz]e|organise)\\b", PCRE2_CASELESS,
                 "^(?:organi(?:se|ze)|re(?:\\-(?:book|send)|send))\\b");
  assert_rewrite("(?<day>mon(?:day)?|tue(?:s(?:day)?)?)x", PCRE2_CASELESS,
                 "(?<day>mon(?:day|)|tue(?:s(?:day|)|))x");
  /* a word that ends where others go on keeps its place among them */
  assert_rewrite("(?:go through|go over|go|go ahead)\\b", PCRE2_CASELESS,
                 "(?:go(?: (?:over|through)|| ahead))\\b");
  assert_rewrite("(?:go|go on|get|gone)", 0, "(?:g(?:et|o(?:| on|ne)))");
  /* groups inside other groups, lookarounds and captures */
  assert_rewrite("(?=(?:ab|ac|ad|b))x(ab|ac|ad|b)", 0, "(?=(?:a(?:b|c|d)|b))x(a(?:b|c|d)|b)");
  /* a word listed twice is kept once */
  assert_rewrite("(?:make|confirm|make|mark|map)", PCRE2_CASELESS, "(?:confirm|ma(?:ke|p|rk))");
}

static void test_left_alone(void)
{
  const char *plain[] = {
    "(?:send|sort|set|sit)\\s+now", /* nothing else in the pattern is touched */
  };
  g_autofree char *rewritten = regex_trie_rewrite_min(plain[0], strlen(plain[0]), PCRE2_CASELESS, 4);
  g_assert_nonnull(rewritten);
  const char *alone[] = {
    "(?:send|set\\s+up|sort|sit)",    /* \s+ in a branch */
    "(?:a|b|c|d)",                     /* no two words share a first letter */
    "(?:ab|ac)",                       /* too few words */
    "(?:sa+|sb|sc|sd)",                /* a quantifier other than ? */
    "(?:sa??|sb|sc|sd)",               /* lazy */
    "(?:s(a)|sb|sc|sd)",               /* a capture inside */
    "(?:s[a-z]|sb|sc|sd)",             /* a range */
    "(?:s[^a]|sb|sc|sd)",              /* a negated class */
    "(?:s[[:alpha:]]|sb|sc|sd)",       /* a POSIX class */
    "(?:s[ab|sb|sc|sd)",               /* a class that does not close */
    "(?:s\\d|sb|sc|sd)",               /* an escape of a letter */
    "(?:sé|sb|sc|sd)",                 /* not ASCII */
    "(?i)(?:sa|sb|sc|sd)",             /* option settings */
    "(?:sa|sb|sc|sd)(*SKIP)",          /* verbs */
    "\\Q(?:sa|sb|sc|sd)\\E",           /* quoted */
    "(?:sa|sb|sc|sd",                  /* unbalanced */
    "(?(1)sa|sb)(?:sa|sb|sc|sd)",      /* conditionals */
  };
  for (guint i = 0; i < G_N_ELEMENTS(alone); i++) {
    g_autofree char *got = regex_trie_rewrite_min(alone[i], strlen(alone[i]), PCRE2_CASELESS, 4);
    if (got)
      g_error("%s was rewritten: %s", alone[i], got);
  }
  const char *extended = "(?:sa|sb|sc|sd)";
  g_assert_null(regex_trie_rewrite_min(extended, strlen(extended), PCRE2_EXTENDED, 4));
  /* small groups are left as written for scoring: a trie does not pay there */
  g_assert_null(regex_trie_rewrite(plain[0], strlen(plain[0]), PCRE2_CASELESS));
}

static pcre2_code *compile(const char *pattern, guint32 flags)
{
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                 flags | PCRE2_UTF | PCRE2_UCP, &code, &offset, NULL);
  if (!re)
    g_error("%s does not compile (%d at %zu)", pattern, code, (gsize)offset);
  pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
  return re;
}

/* Every match of `a` and `b` over `text` (from each end of a match on, as
 * a global search would go), with every capture: the same. */
static guint assert_same_matches(const char *pattern, const char *rewritten, pcre2_code *a,
                                 pcre2_code *b, const char *text)
{
  g_autoptr(pcre2_match_data) ma = pcre2_match_data_create_from_pattern(a, NULL);
  g_autoptr(pcre2_match_data) mb = pcre2_match_data_create_from_pattern(b, NULL);
  gsize len = strlen(text), start = 0;
  guint matches = 0;
  while (start <= len) {
    int ra = pcre2_match(a, (PCRE2_SPTR)text, len, start, 0, ma, NULL);
    int rb = pcre2_match(b, (PCRE2_SPTR)text, len, start, 0, mb, NULL);
    if (ra != rb)
      g_error("%s\n%s\ndiffer on %s (%d, %d)", pattern, rewritten, text, ra, rb);
    if (ra < 0)
      break;
    PCRE2_SIZE *va = pcre2_get_ovector_pointer(ma), *vb = pcre2_get_ovector_pointer(mb);
    if (memcmp(va, vb, 2 * sizeof(PCRE2_SIZE) * (gsize)ra) != 0)
      g_error("%s\n%s\nmatch differently in %s at %zu", pattern, rewritten, text, (gsize)va[0]);
    matches++;
    start = va[1] > va[0] ? va[1] : va[0] + 1;
    while (start < len && (text[start] & 0xC0) == 0x80)
      start++;
  }
  return matches;
}

/* The pattern and flags of a `look PLACE /pattern/flags` line, or FALSE. */
static gboolean look_pattern(const char *line, char **pattern, guint32 *flags)
{
  const char *p = line;
  while (*p == ' ')
    p++;
  if (!g_str_has_prefix(p, "look"))
    return FALSE;
  const char *open = strchr(p, '/'), *close = strrchr(p, '/');
  if (!open || close <= open)
    return FALSE;
  *pattern = g_strndup(open + 1, close - open - 1);
  *flags = 0;
  for (const char *f = close + 1; *f && *f != ' '; f++)
    *flags |= *f == 'i' ? PCRE2_CASELESS : *f == 'm' ? PCRE2_MULTILINE : *f == 's' ? PCRE2_DOTALL : 0;
  return TRUE;
}

/* Lines of `words` one after the other, with what each group has around it
 * in the rules ("now", "you", a full stop), so that a word that is a prefix
 * of another is tried where both could match. */
static void add_word_texts(GPtrArray *texts, const char *pattern)
{
  g_autoptr(GRegex) word = g_regex_new("[A-Za-z][A-Za-z' -]*[A-Za-z]", 0, 0, NULL);
  g_autoptr(GMatchInfo) info = NULL;
  g_autoptr(GString) line = g_string_new(NULL);
  const char *tails[] = { "", " now", " you", ".", " ahead", "s", " up" };
  g_regex_match(word, pattern, 0, &info);
  for (guint n = 0; g_match_info_matches(info); n++, g_match_info_next(info, NULL)) {
    g_autofree char *w = g_match_info_fetch(info, 0);
    for (guint t = 0; t < G_N_ELEMENTS(tails); t++) {
      g_ptr_array_add(texts, g_strconcat(w, tails[t], NULL));
      g_ptr_array_add(texts, g_strconcat("Please ", w, tails[t], " thanks", NULL));
    }
    g_string_append_printf(line, "%s%s", n ? (n % 3 ? " " : ". ") : "", w);
  }
  g_ptr_array_add(texts, g_string_free(g_steal_pointer(&line), FALSE));
}

static void test_rules_same_matches(void)
{
  const char *root = g_getenv("KEEL_SOURCE_ROOT");
  g_autofree char *rules = g_build_filename(root, "rules", NULL);
  g_autoptr(GDir) dir = g_dir_open(rules, 0, NULL);
  g_assert_nonnull(dir);
  g_autoptr(GPtrArray) texts = mail_texts_load();
  g_assert_cmpuint(texts->len, >, 1000);
  guint rewritten = 0, matches = 0;
  for (const char *name; (name = g_dir_read_name(dir));) {
    if (!g_str_has_suffix(name, ".rules"))
      continue;
    g_autofree char *path = g_build_filename(rules, name, NULL);
    g_autofree char *data = NULL;
    g_assert_true(g_file_get_contents(path, &data, NULL, NULL));
    g_auto(GStrv) lines = g_strsplit(data, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
      g_autofree char *pattern = NULL;
      guint32 flags = 0;
      if (!look_pattern(lines[i], &pattern, &flags))
        continue;
      /* groups of two words and up: more rewrites to check than scoring makes */
      g_autofree char *trie = regex_trie_rewrite_min(pattern, strlen(pattern), flags, 2);
      if (!trie)
        continue;
      rewritten++;
      g_autoptr(pcre2_code) a = compile(pattern, flags);
      g_autoptr(pcre2_code) b = compile(trie, flags);
      g_autoptr(GPtrArray) own = g_ptr_array_new_with_free_func(g_free);
      add_word_texts(own, pattern);
      for (guint t = 0; t < texts->len; t++)
        matches += assert_same_matches(pattern, trie, a, b, texts->pdata[t]);
      for (guint t = 0; t < own->len; t++)
        matches += assert_same_matches(pattern, trie, a, b, own->pdata[t]);
    }
  }
  g_test_message("%u patterns rewritten, %u matches compared", rewritten, matches);
  g_assert_cmpuint(rewritten, >=, 10); /* imperative, lead_connective, the weekdays ... */
  g_assert_cmpuint(matches, >, 1000);
}

/* The cases the order rule is for, with texts where the order decides. */
static void test_order_kept(void)
{
  const struct { const char *pattern; guint32 flags; const char *texts[6]; } cases[] = {
    { "(?:go through|go over|go|go ahead)\\b(?! now)", PCRE2_CASELESS,
      { "go ahead now", "go now", "go over", "GO AHEAD", "go aheadx", NULL } },
    { "(?:ab|a|abc|abd)(?:c|d)", 0, { "abc", "abd", "ac", "abcd", "abdc", NULL } },
    { "(?<w>re-?send|re|res)end", PCRE2_CASELESS, { "resend", "re-send", "Resend end", "resendend", NULL } },
    { "(?:see|see if|set|se)(?: if)?x", 0, { "see ifx", "see if x", "sex", "setx", "se ifx", NULL } },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *trie = regex_trie_rewrite_min(cases[i].pattern, strlen(cases[i].pattern),
                                                   cases[i].flags, 4);
    g_assert_nonnull(trie);
    g_autoptr(pcre2_code) a = compile(cases[i].pattern, cases[i].flags);
    g_autoptr(pcre2_code) b = compile(trie, cases[i].flags);
    guint matches = 0;
    for (guint t = 0; cases[i].texts[t]; t++)
      matches += assert_same_matches(cases[i].pattern, trie, a, b, cases[i].texts[t]);
    g_assert_cmpuint(matches, >, 0);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/regex-trie/rewrites", test_rewrites);
  g_test_add_func("/regex-trie/left-alone", test_left_alone);
  g_test_add_func("/regex-trie/order-kept", test_order_kept);
  g_test_add_func("/regex-trie/rules-same-matches", test_rules_same_matches);
  return g_test_run();
}
