/* filters/regex-trie.c: long alternations of plain words written as tries
 * (see regex-trie.h).
 *
 * Why: PCRE2's JIT tries the branches of a group one after the other. The
 * instruction rule `imperative` starts with a group of 300 verbs and is tried
 * on every sentence of every message: about 300 failed tests each time. As
 * a trie ("s(?:e(?:nd|t up)|ort)|..."), the first letter is tested once.
 * Measured over 163,000 lines of mail: the same matches, 2.7 times faster.
 *
 * What is rewritten: a group (non-capturing, capturing or named) whose every
 * branch is a sequence of plain items: ASCII characters that stand for
 * themselves (letters, digits, space, punctuation, "\-"), a class of such
 * characters ("[sz]", "[- ]"), or a non-capturing group of such branches,
 * each maybe followed by a greedy "?". Such a branch matches one of a finite
 * list of words, in the order the regex tries them ("re-?send" is "re-send",
 * then "resend"); the group's words are its branches' words in order, and a
 * word listed twice is kept once (the second try could only fail as the
 * first did). The trie keeps the order wherever it can matter: two words
 * that differ at a character can never both match at one place (distinct
 * ASCII characters never match one character, caseless or not: U+017F and
 * U+212A match only s and k), so the only order to keep at a node is that
 * of the word that ends there against the words that go on. Each node is
 * written as the words tried before the one that ends there, that one (an
 * empty branch), then the words tried after it.
 *
 * Must never: rewrite a pattern it does not read whole: extended mode,
 * option settings, \Q...\E, comments, conditionals, verbs and calls make it
 * return NULL, and a group with anything else in it (\s, +, a capture) is
 * left as written.
 */
#include <stdlib.h>
#include <string.h>
#include "filters/cleanup.h"
#include "filters/regex-trie.h"

/* Past the ] that closes the class opening at `open`, or NULL. */
static const char *regex_trie_class_end(const char *open, const char *end)
{
  const char *p = open + 1;
  if (p < end && *p == '^')
    p++;
  if (p < end && *p == ']')
    p++; /* a ] first is a character of the class */
  for (; p < end; p++) {
    if (*p == '\\')
      p++;
    else if (*p == '[' && p + 1 < end && p[1] == ':') {
      for (p += 2; p + 1 < end && !(p[0] == ':' && p[1] == ']'); p++)
        ; /* [:alpha:] */
      if (p + 1 >= end)
        return NULL;
      p++;
    } else if (*p == ']')
      return p + 1;
  }
  return NULL;
}

/* The ) that closes the group opening at `open`, or NULL. */
static const char *regex_trie_group_end(const char *open, const char *end)
{
  int depth = 0;
  for (const char *p = open; p < end; p++) {
    if (*p == '\\') {
      p++;
    } else if (*p == '[') {
      p = regex_trie_class_end(p, end);
      if (!p)
        return NULL;
      p--;
    } else if (*p == '(') {
      depth++;
    } else if (*p == ')' && --depth == 0) {
      return p;
    }
  }
  return NULL;
}

/* Whether the whole pattern is of the kind read here: its groups and
 * classes close, no extended mode, no \Q or \c, no verbs, and no group
 * opener but captures, (?:, named captures, lookarounds, (?> and (?|. */
static gboolean regex_trie_readable(const char *pattern, const char *end, guint32 flags)
{
  if (flags & (PCRE2_EXTENDED | PCRE2_EXTENDED_MORE | PCRE2_LITERAL))
    return FALSE;
  int depth = 0;
  for (const char *p = pattern; p < end; p++) {
    if (*p == '\\') {
      if (++p >= end || *p == 'Q' || *p == 'E' || *p == 'c')
        return FALSE;
    } else if (*p == '[') {
      const char *close = regex_trie_class_end(p, end);
      if (!close)
        return FALSE;
      p = close - 1;
    } else if (*p == '(') {
      depth++;
      if (p + 1 < end && p[1] == '*')
        return FALSE; /* verbs */
      if (p + 2 < end && p[1] == '?' && !strchr(":<'=!>|", p[2]) &&
          !(p[2] == 'P' && p + 3 < end && p[3] == '<'))
        return FALSE; /* options, comments, conditionals, calls, callouts */
    } else if (*p == ')' && --depth < 0) {
      return FALSE;
    }
  }
  return depth == 0;
}

/* Where the body of the group opening at `open` starts, for the groups whose
 * branches may be rewritten (captures, (?:, named captures); NULL for others. */
static const char *regex_trie_rewritable_body(const char *open, const char *close)
{
  const char *p = open + 1;
  if (p >= close || *p != '?')
    return p;
  if (p + 1 < close && p[1] == ':')
    return p + 2;
  const char *name = NULL;
  if (p + 2 < close && p[1] == '<' && p[2] != '=' && p[2] != '!')
    name = p + 2;
  else if (p + 1 < close && p[1] == '\'')
    name = p + 2;
  else if (p + 2 < close && p[1] == 'P' && p[2] == '<')
    name = p + 3;
  if (!name)
    return NULL;
  while (name < close && (g_ascii_isalnum(*name) || *name == '_'))
    name++;
  return name < close && (*name == '>' || *name == '\'') ? name + 1 : NULL;
}

/* Where the body of any group starts: after its opener. */
static const char *regex_trie_body(const char *open, const char *close)
{
  const char *body = regex_trie_rewritable_body(open, close);
  if (body)
    return body;
  const char *p = open + 2; /* "(?" */
  if (p < close && *p == '<')
    p++; /* (?<= (?<! */
  return MIN(p + 1, close);
}

/* ---- words ----
 * The words of an item, a branch or a body: a GPtrArray of owned strings,
 * in the order tried. Repeats are dropped once, for the whole group
 * (regex_trie_unique()). */

static GPtrArray *trie_words_new(void)
{
  return g_ptr_array_new_with_free_func(g_free);
}

/* Adds `word` (taken); FALSE past REGEX_TRIE_MAX_WORDS. */
static gboolean trie_words_add(GPtrArray *words, char *word)
{
  g_ptr_array_add(words, word);
  return words->len <= REGEX_TRIE_MAX_WORDS;
}

static gboolean trie_words_add_char(GPtrArray *words, char c)
{
  return trie_words_add(words, g_strndup(&c, 1));
}

static gboolean regex_trie_words(const char *p, const char *end, gboolean caseless,
                                 GPtrArray *out);

/* A character that stands for itself outside a class, as the trie keys it
 * (lower case when caseless); 0 for any other. */
static char regex_trie_plain(char c, gboolean caseless)
{
  guchar u = (guchar)c;
  if (u < 0x20 || u >= 0x7f || strchr("\\^$.[]|()?*+{}", c))
    return 0;
  return caseless ? g_ascii_tolower(c) : c;
}

/* The character of an escape that stands for itself ("\-", "\."), or 0. */
static char regex_trie_escaped(char c)
{
  guchar u = (guchar)c;
  return u > 0x20 && u < 0x7f && !g_ascii_isalnum(c) ? c : 0;
}

/* The characters of a plain class ("[sz]", "[- ]", "[.,]") into `out`, in
 * order; FALSE for any other class (negated, ranges, escapes of letters or
 * digits, POSIX names). `*p` moves past it. */
static gboolean regex_trie_class(const char **p, const char *end, gboolean caseless,
                                 GPtrArray *out)
{
  const char *close = regex_trie_class_end(*p, end);
  const char *first = *p + 1, *last = close ? close - 2 : NULL;
  if (!close || *first == '^' || *first == ']')
    return FALSE;
  for (const char *q = first; q <= last; q++) {
    char c = *q;
    if (c == '\\')
      c = q < last ? regex_trie_escaped(*++q) : 0;
    else if ((c == '-' && q != first && q != last) || c == '[' || (guchar)c < 0x20 ||
             (guchar)c >= 0x7f)
      c = 0; /* a range, a POSIX name, or not ASCII */
    if (!c)
      return FALSE;
    trie_words_add_char(out, caseless ? g_ascii_tolower(c) : c);
  }
  *p = close;
  return TRUE;
}

/* The words one item at `*p` may match, in the order tried, into `out`
 * (fresh); FALSE when it is not a plain item. `*p` moves past it. */
static gboolean regex_trie_item(const char **p, const char *end, gboolean caseless,
                                GPtrArray *out)
{
  const char *s = *p;
  if (*s == '[')
    return regex_trie_class(p, end, caseless, out);
  if (*s == '(') {
    const char *close = regex_trie_group_end(s, end);
    if (!close || close - s < 3 || s[1] != '?' || s[2] != ':' ||
        !regex_trie_words(s + 3, close, caseless, out))
      return FALSE;
    *p = close + 1;
    return TRUE;
  }
  char c = *s == '\\' ? (s + 1 < end ? regex_trie_escaped(s[1]) : 0) : regex_trie_plain(*s, caseless);
  if (!c)
    return FALSE;
  *p = s + (*s == '\\' ? 2 : 1);
  return trie_words_add_char(out, c);
}

/* Every word of `*words`, each followed by every word of `item`, in order
 * (the order a sequence tries them), as the new `*words`. */
static gboolean regex_trie_product(GPtrArray **words, const GPtrArray *item)
{
  if ((guint64)(*words)->len * item->len > REGEX_TRIE_MAX_WORDS)
    return FALSE;
  if (item->len == 1) { /* most items: one character */
    for (guint i = 0; i < (*words)->len; i++) {
      char *longer = g_strconcat((*words)->pdata[i], item->pdata[0], NULL);
      g_free((*words)->pdata[i]);
      (*words)->pdata[i] = longer;
    }
    return TRUE;
  }
  GPtrArray *next = trie_words_new();
  for (guint i = 0; i < (*words)->len; i++)
    for (guint j = 0; j < item->len; j++)
      trie_words_add(next, g_strconcat((*words)->pdata[i], item->pdata[j], NULL));
  g_ptr_array_unref(*words);
  *words = next;
  return TRUE;
}

/* The words of one branch [p, end) into `out`; FALSE unless it is plain. */
static gboolean regex_trie_branch(const char *p, const char *end, gboolean caseless,
                                  GPtrArray *out)
{
  g_autoptr(GPtrArray) words = trie_words_new();
  g_autoptr(GPtrArray) item = trie_words_new();
  trie_words_add(words, g_strdup(""));
  while (p < end) {
    g_ptr_array_set_size(item, 0);
    if (!regex_trie_item(&p, end, caseless, item))
      return FALSE;
    if (p < end && *p == '?') {
      if (++p < end && (*p == '?' || *p == '+'))
        return FALSE; /* lazy or possessive: not read */
      trie_words_add(item, g_strdup("")); /* greedy: with it first, then without */
    }
    if (!regex_trie_product(&words, item))
      return FALSE;
  }
  for (guint i = 0; i < words->len; i++)
    if (!trie_words_add(out, g_strdup(words->pdata[i])))
      return FALSE;
  return TRUE;
}

/* The words of the branches of a group body [p, end) into `out`, in order;
 * FALSE unless every branch is plain. */
static gboolean regex_trie_words(const char *p, const char *end, gboolean caseless,
                                 GPtrArray *out)
{
  const char *branch = p;
  for (const char *q = p; q <= end; q++) {
    if (q < end && *q == '\\') {
      q++;
    } else if (q < end && (*q == '[' || *q == '(')) {
      const char *close = *q == '[' ? regex_trie_class_end(q, end) - 1 : regex_trie_group_end(q, end);
      if (!close || close < q)
        return FALSE;
      q = close;
    } else if (q == end || *q == '|') {
      if (!regex_trie_branch(branch, q, caseless, out))
        return FALSE;
      branch = q + 1;
    }
  }
  return TRUE;
}

/* `words` without repeats, the first of each kept (a second try of a word
 * could only fail as the first did). */
static void regex_trie_unique(GPtrArray *words)
{
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  gsize n = 0;
  g_autofree char **all = (char **)g_ptr_array_steal(words, &n);
  for (gsize i = 0; i < n; i++) {
    if (g_hash_table_add(seen, all[i]))
      g_ptr_array_add(words, all[i]);
    else
      g_free(all[i]);
  }
}

/* ---- the trie ---- */

static void regex_trie_put_char(GString *out, char c)
{
  if (!g_ascii_isalnum(c) && c != ' ')
    g_string_append_c(out, '\\');
  g_string_append_c(out, c);
}

/* A word of a group and its place in the order tried. */
typedef struct {
  const char *word; /* borrowed */
  guint index;
} TrieWord;

static int trie_word_compare(const void *a, const void *b)
{
  return strcmp(((const TrieWord *)a)->word, ((const TrieWord *)b)->word);
}

static void regex_trie_node(GString *out, const TrieWord *words, guint n, gsize depth,
                            gboolean root);

/* The branches of a node for the words of [from, n) (sorted: each character
 * after the first `depth` is one run) on one side of the word that ends
 * there (`end_index`; G_MAXUINT: none): those tried before it, or after.
 * Each run on that side is a branch: its character and its node. */
static void regex_trie_side(GString *out, const TrieWord *words, guint from, guint n, gsize depth,
                            guint end_index, gboolean before, guint *written)
{
  g_autofree TrieWord *picked = NULL;
  for (guint i = from, j; i < n; i = j) {
    guint on_side = 0;
    for (j = i; j < n && words[j].word[depth] == words[i].word[depth]; j++)
      on_side += (words[j].index < end_index) == before;
    if (on_side == 0)
      continue;
    const TrieWord *run = words + i;
    if (on_side < j - i) { /* the run straddles the word that ends: its side alone */
      picked = picked ? picked : g_new(TrieWord, n);
      on_side = 0;
      for (guint k = i; k < j; k++)
        if ((words[k].index < end_index) == before)
          picked[on_side++] = words[k];
      run = picked;
    }
    if ((*written)++)
      g_string_append_c(out, '|');
    regex_trie_put_char(out, words[i].word[depth]);
    regex_trie_node(out, run, on_side, depth + 1, FALSE);
  }
}

/* The branches a node would have: one per run of a character on each side
 * of the word that ends there, and that word. */
static guint regex_trie_count(const TrieWord *words, guint from, guint n, gsize depth,
                              guint end_index)
{
  guint parts = 0;
  for (guint i = from, j; i < n; i = j) {
    gboolean before = FALSE, after = FALSE;
    for (j = i; j < n && words[j].word[depth] == words[i].word[depth]; j++)
      words[j].index < end_index ? (before = TRUE) : (after = TRUE);
    parts += before + after;
  }
  return parts;
}

/* The trie of `words` (`n`, distinct, sorted, sharing their first `depth`
 * bytes) into `out`: its branches joined by |, in a group unless `root` or
 * there is one. Its branches are the runs of the words tried before the
 * word that ends here (in any order: they differ at this character), that
 * word (an empty branch), then the runs of the words tried after it. */
static void regex_trie_node(GString *out, const TrieWord *words, guint n, gsize depth,
                            gboolean root)
{
  gboolean ends = n > 0 && words[0].word[depth] == '\0'; /* sorted first */
  guint end_index = ends ? words[0].index : G_MAXUINT, from = ends ? 1 : 0;
  gboolean grouped = !root && regex_trie_count(words, from, n, depth, end_index) + ends > 1;
  guint written = 0;
  if (grouped)
    g_string_append(out, "(?:");
  regex_trie_side(out, words, from, n, depth, end_index, TRUE, &written);
  if (ends && written++)
    g_string_append_c(out, '|');
  regex_trie_side(out, words, from, n, depth, end_index, FALSE, &written);
  if (grouped)
    g_string_append_c(out, ')');
}

/* Whether two of the words start with one character (else a trie is the
 * group as written). */
static gboolean regex_trie_shares_start(const GPtrArray *words)
{
  gboolean first[256] = { FALSE };
  for (guint i = 0; i < words->len; i++) {
    guchar c = *(const guchar *)words->pdata[i];
    if (first[c])
      return TRUE;
    first[c] = TRUE;
  }
  return FALSE;
}

/* Whether [p, end) holds nothing but what a plain body may (a quick look,
 * before reading its words): enough branches, and no escape of a letter or
 * digit, quantifier but ?, group but (?:, anchor or dot. */
static gboolean regex_trie_may_be_plain(const char *p, const char *end, guint min_words)
{
  guint branches = 1;
  for (; p < end; p++) {
    guchar c = (guchar)*p;
    if (c == '\\') {
      if (++p >= end || g_ascii_isalnum(*p))
        return FALSE;
    } else if (c == '(') {
      if (end - p < 3 || p[1] != '?' || p[2] != ':')
        return FALSE;
    } else if (c == '?') {
      if (p + 1 < end && (p[1] == '?' || p[1] == '+'))
        return FALSE;
    } else if (c == '|') {
      branches++;
    } else if (c < 0x20 || c >= 0x7f || strchr("^$.*+{}", c)) {
      return FALSE;
    }
  }
  return branches >= MAX(min_words / 4, 2);
}

/* The group [open, close] as a trie into `out`, when its body is plain. */
static gboolean regex_trie_group(GString *out, const char *open, const char *body,
                                 const char *close, gboolean caseless, guint min_words)
{
  if (!regex_trie_may_be_plain(body, close, min_words))
    return FALSE;
  g_autoptr(GPtrArray) words = trie_words_new();
  if (!regex_trie_words(body, close, caseless, words))
    return FALSE;
  regex_trie_unique(words);
  if (words->len < min_words || !regex_trie_shares_start(words))
    return FALSE;
  g_autofree TrieWord *sorted = g_new(TrieWord, words->len);
  for (guint i = 0; i < words->len; i++)
    sorted[i] = (TrieWord){ words->pdata[i], i };
  qsort(sorted, words->len, sizeof *sorted, trie_word_compare);
  g_string_append_len(out, open, body - open);
  regex_trie_node(out, sorted, words->len, 0, TRUE);
  g_string_append_c(out, ')');
  return TRUE;
}

/* Copies [p, end) into `out`, each plain group written as a trie. */
static void regex_trie_walk(GString *out, const char *p, const char *end, gboolean caseless,
                            guint min_words, gboolean *changed)
{
  while (p < end) {
    if (*p == '\\') {
      g_string_append_len(out, p, MIN(2, end - p));
      p += MIN(2, end - p);
    } else if (*p == '[') {
      const char *close = regex_trie_class_end(p, end);
      g_string_append_len(out, p, close - p); /* readable: it closes */
      p = close;
    } else if (*p == '(') {
      const char *close = regex_trie_group_end(p, end);
      const char *body = regex_trie_rewritable_body(p, close);
      if (body && regex_trie_group(out, p, body, close, caseless, min_words)) {
        *changed = TRUE;
      } else {
        body = regex_trie_body(p, close);
        g_string_append_len(out, p, body - p);
        regex_trie_walk(out, body, close, caseless, min_words, changed);
        g_string_append_c(out, ')');
      }
      p = close + 1;
    } else {
      g_string_append_c(out, *p++);
    }
  }
}

char *regex_trie_rewrite(const char *pattern, gsize len, guint32 flags)
{
  return regex_trie_rewrite_min(pattern, len, flags, REGEX_TRIE_MIN_WORDS);
}

char *regex_trie_rewrite_min(const char *pattern, gsize len, guint32 flags, guint min_words)
{
  const char *end = pattern + len;
  if (!regex_trie_readable(pattern, end, flags))
    return NULL;
  g_autoptr(GString) out = g_string_sized_new(len + 16);
  gboolean changed = FALSE;
  regex_trie_walk(out, pattern, end, (flags & PCRE2_CASELESS) != 0, min_words, &changed);
  return changed ? g_strdup(out->str) : NULL;
}
