/* filters/prefilter.c: the literal prefilter (see prefilter.h): which regexes
 * can be left out for a text because a literal they need is not in it.
 *
 * How it works. A small parser walks a PCRE2 pattern and gives each part
 * either an *exact* set (every string the part can match, folded to lower
 * case, while there are at most PREFILTER_EXACT_MAX of them: "colou?r" is
 * {color, colour}) or a *required* set (any match of the part contains one of
 * these literals, plus one of each of its *also* sets), or neither ("\w+",
 * "."). A sequence grows an exact run while it can ("a(?:bc|de)f" is {abcf,
 * adef}: a group that is not repeated takes the run into each branch); each
 * piece that closes the run adds the sets it needs, and the sequence needs
 * the PREFILTER_SETS_MAX most selective of them together (heaviest lightest
 * literal first, see prefilter_weight(): a letter weighs 1, "?" 2, "£" 4):
 * "missed\s+the\s+deadline" needs deadline, missed and the.
 * A count of two or more repeats an exact piece ("\?{2,}" needs "??").
 * An alternation unites its branches' most selective sets, and knows
 * nothing if one branch knows nothing. Anchors, \B and negative lookarounds
 * count as empty: they only narrow a match; a positive lookaround adds what
 * it looks for. \b is kept in the strings as a mark (PREFILTER_BOUNDARY):
 * a literal that starts (ends) with a word character after (before) a \b
 * needs a word boundary there ("\bnow" is not in "know"), a literal of its
 * own beside the same bytes without it; marks elsewhere are dropped. A
 * pattern matched with its case (no PCRE2_CASELESS, no "(?i" anywhere)
 * keeps the case of its letters: its literals with letters start with
 * PREFILTER_CASE and count only where the text has them byte for byte
 * ("NOW" is not in "now"). Whatever the parser cannot prove
 * (backreferences inside sequences count as "anything"; subroutine calls,
 * conditionals, \Q, extended mode, unknown escapes) makes the regex
 * PREFILTER_ALWAYS. A pattern is UTF-8 (the rules are compiled with
 * PCRE2_UTF). A non-ASCII character of a pattern is a literal, its UTF-8
 * bytes, only when PCRE2 matches it as itself alone even caseless
 * (punctuation, currency and math symbols, spaces: "£", "’", "€"); any
 * other (é, ß, ſ, the Kelvin sign, sigmas: letters with other case forms)
 * counts as "any character". So a text's non-ASCII bytes never need
 * folding, except the two characters PCRE2 takes for ASCII letters when
 * caseless (U+017F = s, U+212A = k), which the scan reads as those letters.
 *
 * The scan is an Aho-Corasick automaton over the folded bytes, built as a
 * full transition table over the byte classes that occur in literals (other
 * bytes are one class that ends every literal); a state's high bit says that
 * some literal ends there. The first time a text shows a literal, every set
 * it belongs to is marked too, so asking whether a regex may match reads one
 * bit per set. A long text is walked as two overlapping halves at once, so
 * that the table reads of one wait beside the other's. Literals are cut to
 * their first PREFILTER_LITERAL_LONGEST bytes (whole characters). A literal
 * with exact case or one that needs a word boundary is looked at when its
 * state is reached (the byte loop is the same): it is seen only where its
 * bytes are in the text as they are, and where no ASCII letter, digit or _
 * is beside it; the latter only by prefilter_scan_whole(), whose regexes are
 * matched against the scanned text itself; prefilter_scan(), for regexes
 * matched against parts of a text (where a part starts, PCRE2 sees a
 * boundary), takes it as seen wherever its bytes are.
 *
 * Beside the literals, three pattern helpers of the same kind (see
 * prefilter.h): phrase heads (where a phrase trie may start), top-level
 * branches a regex may be cut into, and a lookahead hint for a regex that
 * starts with lookbehinds.
 *
 * Must never: run a regex, keep state between scans, or skip a regex it has
 * not proven: a wrong "cannot match" would change a score.
 */
#include <string.h>
#include "filters/cleanup.h"
#include "filters/prefilter.h"

#define PREFILTER_EXACT_MAX 16    /* strings of an exact set */
#define PREFILTER_REQUIRED_MAX 512 /* literals of one set (a phrase group has hundreds) */
#define PREFILTER_MIN_WEIGHT 3    /* lighter literals (prefilter_weight()) are in nearly every text */
#define PREFILTER_WEIGHT_WIDE 4   /* the weight of a non-ASCII character */
#define PREFILTER_LITERAL_LONGEST 8 /* longer literals are cut to this length: their
                                       starts are as rare in mail, the automaton a third smaller */
#define PREFILTER_SETS_MAX 4      /* sets of literals one regex needs together */
#define PREFILTER_DEPTH_MAX 100   /* nested groups */
#define PREFILTER_STATE_OUT 0x80000000u
#define PREFILTER_BOUNDARY "\x01"  /* in a string: a \b there (never a literal's own byte) */
#define PREFILTER_BOUND_BEFORE 1u   /* a literal needs a word boundary before it */
#define PREFILTER_BOUND_AFTER 2u    /* and after it */
#define PREFILTER_CASE "\x02"      /* in front of a literal: its letters keep their case */
#define PREFILTER_BOUND_CASE 4u     /* a literal must be in the text byte for byte */

struct _Prefilter {
  GPtrArray *literals;     /* owned, of char*: every literal, by id */
  GHashTable *literal_ids; /* literal (borrowed) -> id + 1 */
  GArray *regex_start;     /* of guint: each regex's first set in set_start */
  GArray *set_start;       /* of guint: each set's first entry in regex_literals */
  GArray *regex_literals;  /* of guint literal ids, set after set */
  gboolean built;
  gboolean disabled;       /* too many states for the table: every regex runs */
  guint8 classes[256];     /* byte -> class; 0 = in no literal */
  guint n_classes;
  guint32 *delta;          /* owned: row + class -> the next state's row | PREFILTER_STATE_OUT,
                              where a state's row is state * n_classes (no multiplication
                              in the scan's dependency chain) */
  guint *out_start;        /* owned, two per state: where its literals start in
                              out_literals, and how many (its own and its failure state's) */
  guint *out_literals;     /* owned */
  guint n_states;
  guint8 *literal_bounds;  /* owned, per literal: PREFILTER_BOUND_* */
  guint8 *literal_bytes;   /* owned, per literal: its bytes (automaton steps), boundaries aside */
  guint *literal_sets;     /* owned, per literal + 1: where its sets start in sets_of */
  guint *sets_of;          /* owned: the sets each literal belongs to, literal after literal */
  guint set_base;          /* first PrefilterSeen word of the set bits (after the literals') */
};

/* ---- string sets (GPtrArray of owned char*) ---- */

static GPtrArray *prefilter_set_new(void)
{
  return g_ptr_array_new_with_free_func(g_free);
}

static void prefilter_set_add(GPtrArray *set, const char *string)
{
  for (guint i = 0; i < set->len; i++) {
    const char *old = g_ptr_array_index(set, i);
    if (old[0] == string[0] && strcmp(old, string) == 0)
      return;
  }
  g_ptr_array_add(set, g_strdup(string));
}

static GPtrArray *prefilter_set_of(const char *string)
{
  GPtrArray *set = prefilter_set_new();
  g_ptr_array_add(set, g_strdup(string));
  return set;
}

/* Every a + b. */
static GPtrArray *prefilter_set_cross(const GPtrArray *a, const GPtrArray *b)
{
  GPtrArray *set = prefilter_set_new();
  for (guint i = 0; i < a->len; i++)
    for (guint j = 0; j < b->len; j++) {
      g_autofree char *joined = g_strconcat(g_ptr_array_index(a, i), g_ptr_array_index(b, j), NULL);
      prefilter_set_add(set, joined);
    }
  return set;
}

/* ---- what a part of a pattern matches ---- */

/* How rare `string` is in mail, as a literal: an ASCII letter, digit or
 * space weighs 1, other printable ASCII 2 ("??" is rarer than "you"), a
 * non-ASCII character (its UTF-8 lead byte) PREFILTER_WEIGHT_WIDE ("£" is
 * rarer than "can"). 0 only for "": what matches the empty text. (Upper
 * case letters of a literal with exact case weigh 1 too: "IT" and "DO"
 * would be looked at in every "it" and "do" of a text, which costs more
 * scanning than the regexes they would skip.) */
static gsize prefilter_weight(const char *string)
{
  gsize weight = 0;
  for (const guint8 *b = (const guint8 *)string; *b; b++)
    weight += *b >= 0xC0 ? PREFILTER_WEIGHT_WIDE : *b >= 0x80 || *b < 0x20 ? 0 :
              g_ascii_isalnum(*b) || *b == ' ' ? 1 : 2;
  return weight;
}

/* The weight of the lightest string: how selective a required set is. */
static gsize prefilter_set_weight(const GPtrArray *set)
{
  if (!set || set->len == 0)
    return 0;
  gsize lightest = G_MAXSIZE;
  for (guint i = 0; i < set->len; i++)
    lightest = MIN(lightest, prefilter_weight(g_ptr_array_index(set, i)));
  return lightest;
}

/* TRUE when `set` is NULL or empty or holds a string of weight 0: it
 * requires nothing. */
static gboolean prefilter_set_needs_nothing(const GPtrArray *set)
{
  if (!set || set->len == 0)
    return TRUE;
  for (guint i = 0; i < set->len; i++) {
    const guint8 *b = g_ptr_array_index(set, i);
    while (*b && *b < 0x20)
      b++;
    if (!*b)
      return TRUE;
  }
  return FALSE;
}

typedef struct {
  GPtrArray *exact;    /* owned: every string the part can match, or NULL */
  GPtrArray *required; /* owned: any match contains one of these, or NULL (nothing known);
                          NULL whenever exact is set */
  GPtrArray *also;     /* owned, of GPtrArray* sets: any match also contains one literal of
                          each, or NULL; only beside `required` */
} PrefilterInfo;

static void prefilter_info_clear(PrefilterInfo *info)
{
  g_clear_pointer(&info->exact, g_ptr_array_unref);
  g_clear_pointer(&info->required, g_ptr_array_unref);
  g_clear_pointer(&info->also, g_ptr_array_unref);
}

static PrefilterInfo prefilter_info_exact(const char *string)
{
  return (PrefilterInfo){ prefilter_set_of(string), NULL, NULL };
}

static PrefilterInfo prefilter_info_any(void)
{
  return (PrefilterInfo){ NULL, NULL, NULL };
}

/* The required set that `info` gives (a new set, or NULL): an exact set
 * holding "" requires nothing. */
static GPtrArray *prefilter_info_required(const PrefilterInfo *info)
{
  const GPtrArray *from = info->exact ? info->exact : info->required;
  if (prefilter_set_needs_nothing(from))
    return NULL;
  GPtrArray *set = prefilter_set_new();
  for (guint i = 0; i < from->len; i++)
    prefilter_set_add(set, g_ptr_array_index(from, i));
  return set;
}

/* ---- what a sequence needs: one literal of each of several sets ---- */

static GPtrArray *prefilter_needs_new(void)
{
  return g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
}

/* Adds `set` (taken; NULL or a set holding "" adds nothing) to `needs`. */
static void prefilter_needs_add(GPtrArray *needs, GPtrArray *set)
{
  if (!prefilter_set_needs_nothing(set))
    g_ptr_array_add(needs, set);
  else if (set)
    g_ptr_array_unref(set);
}

/* Adds every set `info` needs. */
static void prefilter_needs_add_info(GPtrArray *needs, const PrefilterInfo *info)
{
  prefilter_needs_add(needs, prefilter_info_required(info));
  for (guint i = 0; info->also && i < info->also->len; i++) {
    PrefilterInfo one = { NULL, g_ptr_array_index(info->also, i), NULL };
    prefilter_needs_add(needs, prefilter_info_required(&one));
  }
}

/* A set and its weight, while sets are ranked. */
typedef struct {
  gsize weight;
  GPtrArray *set;
} PrefilterRanked;

/* TRUE when `a` is more selective than `b`: a heavier lightest literal, or
 * as heavy and fewer literals. */
static gboolean prefilter_ranks_before(const PrefilterRanked *a, const PrefilterRanked *b)
{
  if (a->weight != b->weight)
    return a->weight > b->weight;
  return a->set->len < b->set->len;
}

/* Sorts `needs` (sets), the most selective first; stable (an insertion
 * sort: a sequence needs few sets), each set weighed once. */
static void prefilter_needs_sort(GPtrArray *needs)
{
  g_autofree PrefilterRanked *ranked = g_new(PrefilterRanked, needs->len + 1);
  for (guint i = 0; i < needs->len; i++) {
    PrefilterRanked next = { prefilter_set_weight(needs->pdata[i]), needs->pdata[i] };
    guint j = i;
    for (; j > 0 && prefilter_ranks_before(&next, &ranked[j - 1]); j--)
      ranked[j] = ranked[j - 1];
    ranked[j] = next;
  }
  for (guint i = 0; i < needs->len; i++)
    needs->pdata[i] = ranked[i].set;
}

/* `needs` (taken) as an info: the most selective set as `required`, the next
 * ones (PREFILTER_SETS_MAX in all) as `also`. */
static PrefilterInfo prefilter_needs_info(GPtrArray *needs)
{
  PrefilterInfo info = { NULL, NULL, NULL };
  if (needs->len == 0) {
    g_ptr_array_unref(needs);
    return info;
  }
  prefilter_needs_sort(needs);
  info.required = g_ptr_array_steal_index(needs, 0);
  g_ptr_array_set_size(needs, MIN(needs->len, PREFILTER_SETS_MAX - 1));
  if (needs->len)
    info.also = needs;
  else
    g_ptr_array_unref(needs);
  return info;
}

/* ---- the pattern parser ---- */

typedef struct {
  const char *p;    /* next byte */
  const char *end;
  gboolean failed;  /* something the parser cannot prove: the regex always runs */
  int depth;
  gboolean exact_case; /* no caseless matching anywhere: letters keep their case */
} PrefilterParse;

static PrefilterInfo prefilter_parse_alternation(PrefilterParse *ps, const GPtrArray *prefix);

static PrefilterInfo prefilter_fail(PrefilterParse *ps)
{
  ps->failed = TRUE;
  ps->p = ps->end;
  return prefilter_info_any();
}

static gboolean prefilter_at(const PrefilterParse *ps, gsize ahead, char c)
{
  return ps->p + ahead < ps->end && ps->p[ahead] == c;
}

/* Moves past the next `close` (the end of a name, a comment); fails at the end. */
static gboolean prefilter_skip_past(PrefilterParse *ps, char close)
{
  const char *at = memchr(ps->p, close, ps->end - ps->p);
  if (!at) {
    prefilter_fail(ps);
    return FALSE;
  }
  ps->p = at + 1;
  return TRUE;
}

/* `c` as the parse reads it: lower case, unless the case is exact. */
static char prefilter_fold(const PrefilterParse *ps, unsigned char c)
{
  return ps->exact_case ? (char)c : (char)g_ascii_tolower(c);
}

/* One ASCII character as a literal (prefilter_fold()), or "any" for a
 * control character. */
static PrefilterInfo prefilter_char(const PrefilterParse *ps, unsigned char c)
{
  if (c < 0x20 || c > 0x7e)
    return prefilter_info_any();
  char s[2] = { prefilter_fold(ps, c), 0 };
  return prefilter_info_exact(s);
}

/* TRUE when PCRE2 matches the non-ASCII character `c` as itself alone,
 * caseless or not, with Unicode properties or not: punctuation, currency
 * and mathematical symbols and spaces take no part in Unicode's case
 * mappings and foldings, which letters, marks, Roman numerals and circled
 * letters do (é and É, U+017F and s, U+212A and k, the three sigmas, ß and
 * U+1E9E, U+0345 and iota). GLib's mappings are asked as well. */
static gboolean prefilter_caseless_free(gunichar c)
{
  switch (g_unichar_type(c)) {
  case G_UNICODE_CURRENCY_SYMBOL:
  case G_UNICODE_MATH_SYMBOL:
  case G_UNICODE_CONNECT_PUNCTUATION:
  case G_UNICODE_DASH_PUNCTUATION:
  case G_UNICODE_OPEN_PUNCTUATION:
  case G_UNICODE_CLOSE_PUNCTUATION:
  case G_UNICODE_INITIAL_PUNCTUATION:
  case G_UNICODE_FINAL_PUNCTUATION:
  case G_UNICODE_OTHER_PUNCTUATION:
  case G_UNICODE_SPACE_SEPARATOR:
    return c >= 0x80 && g_unichar_tolower(c) == c && g_unichar_toupper(c) == c &&
           g_unichar_totitle(c) == c;
  default:
    return FALSE;
  }
}

/* The non-ASCII character `c` of the pattern (which PCRE2 reads as UTF-8)
 * as a literal, its UTF-8 bytes, when it has no other case form; else "any
 * character". */
static PrefilterInfo prefilter_wide_char(gunichar c)
{
  if (!prefilter_caseless_free(c))
    return prefilter_info_any();
  char s[8] = { 0 };
  g_unichar_to_utf8(c, s);
  return prefilter_info_exact(s);
}

/* The UTF-8 character at ps->p (not ASCII), moved past: a literal or "any
 * character" (prefilter_wide_char()). */
static PrefilterInfo prefilter_parse_wide(PrefilterParse *ps)
{
  gunichar c = g_utf8_get_char_validated(ps->p, ps->end - ps->p);
  ps->p++;
  while (ps->p < ps->end && ((unsigned char)*ps->p & 0xC0) == 0x80)
    ps->p++;
  if (c == (gunichar)-1 || c == (gunichar)-2)
    return prefilter_info_any();
  return prefilter_wide_char(c);
}

/* \x41 or \x{41}: the character (a non-ASCII one as prefilter_wide_char()). */
static PrefilterInfo prefilter_parse_hex(PrefilterParse *ps)
{
  guint value = 0, digits = 0;
  gboolean braces = prefilter_at(ps, 0, '{');
  if (braces)
    ps->p++;
  while (ps->p < ps->end && g_ascii_isxdigit(*ps->p) && (braces || digits < 2)) {
    value = value * 16 + (guint)g_ascii_xdigit_value(*ps->p++);
    digits++;
    if (value > 0x10FFFF)
      return prefilter_fail(ps);
  }
  if (braces && !prefilter_at(ps, 0, '}'))
    return prefilter_fail(ps);
  if (braces)
    ps->p++;
  return value < 0x80 ? prefilter_char(ps, (unsigned char)value) : prefilter_wide_char(value);
}

/* \p{L}, \pL, \N{U+41}, \o{101}, \k<name>: skipped as "any". */
static PrefilterInfo prefilter_skip_braced(PrefilterParse *ps)
{
  if (ps->p >= ps->end)
    return prefilter_fail(ps);
  char open = *ps->p;
  char close = open == '{' ? '}' : open == '<' ? '>' : open == '\'' ? '\'' : 0;
  if (!close) {
    ps->p++; /* \pL: one letter */
    return prefilter_info_any();
  }
  ps->p++;
  prefilter_skip_past(ps, close);
  return prefilter_info_any();
}

/* An escape at ps->p ('\\'). */
static PrefilterInfo prefilter_parse_escape(PrefilterParse *ps)
{
  if (ps->p + 1 >= ps->end)
    return prefilter_fail(ps);
  unsigned char c = (unsigned char)ps->p[1];
  ps->p += 2;
  if (c == 'b')
    return prefilter_info_exact(PREFILTER_BOUNDARY); /* zero-width, kept as a mark */
  if (c && strchr("BAzZGKE", c))
    return prefilter_info_exact(""); /* zero-width */
  if (c && strchr("dDwWsShHvVRXtnrfea", c))
    return prefilter_info_any();
  if (c == 'x')
    return prefilter_parse_hex(ps);
  if (c == 'p' || c == 'P' || c == 'o' || c == 'k')
    return prefilter_skip_braced(ps);
  if (c == 'N')
    return prefilter_at(ps, 0, '{') ? prefilter_skip_braced(ps) : prefilter_info_any();
  if (c == 'c') {
    ps->p = MIN(ps->p + 1, ps->end);
    return prefilter_info_any();
  }
  if (g_ascii_isdigit(c)) { /* a backreference or an octal character */
    while (ps->p < ps->end && g_ascii_isdigit(*ps->p))
      ps->p++;
    return prefilter_info_any();
  }
  if (g_ascii_isalnum(c)) /* \g (maybe a subroutine call), \Q, \C, anything new */
    return prefilter_fail(ps);
  if (c >= 0x80) {
    ps->p--;
    return prefilter_parse_wide(ps);
  }
  return prefilter_char(ps, c);
}

/* The ']' that closes the class opening at `open` ('['), or NULL (also for
 * \Q inside it, which the parser does not read). `*simple` is cleared for
 * anything but characters standing for themselves: not for printable ASCII
 * but \ [ ] ^ -, an escaped ASCII punctuation mark, or a non-ASCII byte
 * (prefilter_parse_class() reads its character). */
static const char *prefilter_class_end(const char *open, const char *end, gboolean *simple)
{
  const char *q = open + 1;
  if (q < end && *q == '^') {
    *simple = FALSE;
    q++;
  }
  const char *first = q;
  for (; q < end && (*q != ']' || q == first); q++) {
    if (*q == '\\') {
      if (q + 1 < end && q[1] == 'Q')
        return NULL;
      if (!(q + 1 < end && g_ascii_ispunct(q[1])))
        *simple = FALSE;
      q++;
    } else if (*q == '[' && q + 1 < end && q[1] == ':') {
      const char *close = g_strstr_len(q + 2, end - q - 2, ":]");
      if (!close)
        return NULL;
      *simple = FALSE;
      q = close + 1;
    } else if ((guint8)*q < 0x20 || *q == 0x7f || strchr("[]^-", *q)) {
      *simple = FALSE;
    }
  }
  return q < end ? q : NULL;
}

/* A class at ps->p ('['): a small set of characters that stand for
 * themselves (ASCII but \ [ ] ^ -, escaped ASCII punctuation, non-ASCII
 * characters without other case forms: "['’]") is an exact set; anything
 * else (ranges, negation, classes, POSIX names, letters with case forms) is
 * "any". */
static PrefilterInfo prefilter_parse_class(PrefilterParse *ps)
{
  gboolean simple = TRUE;
  const char *close = prefilter_class_end(ps->p, ps->end, &simple);
  if (!close)
    return prefilter_fail(ps);
  GPtrArray *set = prefilter_set_new();
  for (const char *c = ps->p + 1; simple && c < close;) {
    if (*c == '\\')
      c++; /* an escaped punctuation mark */
    gunichar wide = (guint8)*c < 0x80 ? 0 : g_utf8_get_char_validated(c, close - c);
    PrefilterInfo one = (guint8)*c < 0x80 ? prefilter_char(ps, (guint8)*c) :
                        wide < 0x110000 ? prefilter_wide_char(wide) : prefilter_info_any();
    simple = one.exact != NULL;
    if (simple)
      prefilter_set_add(set, g_ptr_array_index(one.exact, 0));
    prefilter_info_clear(&one);
    c = g_utf8_next_char(c);
  }
  ps->p = close + 1;
  if (!simple || set->len > 4) {
    g_ptr_array_unref(set);
    return prefilter_info_any();
  }
  return (PrefilterInfo){ set, NULL, NULL };
}

/* Inline options "(?i)" or "(?i:": TRUE for the harmless ones; extended mode
 * (x) and anything unknown is not. */
static gboolean prefilter_options_ok(const char *from, const char *to)
{
  for (const char *c = from; c < to; c++)
    if (!*c || !strchr("imsnUJ-^", *c))
      return FALSE;
  return TRUE;
}

/* The inside of a group up to its ')', each branch after `prefix` (NULL: none). */
static PrefilterInfo prefilter_group_body(PrefilterParse *ps, const GPtrArray *prefix)
{
  if (++ps->depth > PREFILTER_DEPTH_MAX)
    return prefilter_fail(ps);
  PrefilterInfo inner = prefilter_parse_alternation(ps, prefix);
  ps->depth--;
  if (!prefilter_at(ps, 0, ')')) {
    prefilter_info_clear(&inner);
    return prefilter_fail(ps);
  }
  ps->p++;
  return inner;
}

/* A lookaround: parsed to find its end, then empty. */
static PrefilterInfo prefilter_group_lookaround(PrefilterParse *ps)
{
  PrefilterInfo inner = prefilter_group_body(ps, NULL);
  prefilter_info_clear(&inner);
  return ps->failed ? prefilter_info_any() : prefilter_info_exact("");
}

/* (*MARK:name) and (*:name) are empty; every other verb fails. */
static PrefilterInfo prefilter_parse_verb(PrefilterParse *ps)
{
  gsize left = ps->end - ps->p;
  if ((left > 7 && strncmp(ps->p, "(*MARK:", 7) == 0) || (left > 3 && strncmp(ps->p, "(*:", 3) == 0)) {
    if (prefilter_skip_past(ps, ')'))
      return prefilter_info_exact("");
    return prefilter_info_any();
  }
  return prefilter_fail(ps);
}

/* Moves past the opening of a group whose body matches as it stands ("(",
 * "(?:", "(?>", "(?|", a named group, "(?i:") and returns TRUE; leaves any
 * other group (lookarounds, verbs, comments, "(?i)", references) alone. */
static gboolean prefilter_group_open(PrefilterParse *ps)
{
  const char *q = ps->p + 1, *end = ps->end;
  if (q >= end || *q == '*')
    return FALSE;
  if (*q++ != '?') {
    ps->p = q - 1;
    return TRUE;
  }
  char c = q < end ? *q : 0, d = q + 1 < end ? q[1] : 0;
  if (c == ':' || c == '>' || c == '|') {
    ps->p = q + 1;
    return TRUE;
  }
  if ((c == '<' && d != '=' && d != '!') || c == '\'' || (c == 'P' && d == '<')) {
    q += c == 'P' ? 2 : 1;
    const char *close = q < end ? memchr(q, c == '\'' ? '\'' : '>', end - q) : NULL;
    ps->p = close ? close + 1 : ps->p;
    return close != NULL;
  }
  const char *options = q;
  while (q < end && *q != ':' && *q != ')')
    q++;
  if (q >= end || *q != ':' || q == options || !prefilter_options_ok(options, q))
    return FALSE;
  ps->p = q + 1;
  return TRUE;
}

/* The other "(?" groups: ps->p is just after the '?'. */
static PrefilterInfo prefilter_parse_special(PrefilterParse *ps)
{
  char c = ps->p < ps->end ? *ps->p : 0;
  char d = ps->p + 1 < ps->end ? ps->p[1] : 0;
  if (c == '#')
    return prefilter_skip_past(ps, ')') ? prefilter_info_exact("") : prefilter_info_any();
  if (c == '=' || c == '!' || (c == '<' && (d == '=' || d == '!'))) {
    ps->p += c == '<' ? 2 : 1;
    return prefilter_group_lookaround(ps);
  }
  if (c == 'P' && d == '=') { /* a named backreference */
    prefilter_skip_past(ps, ')');
    return prefilter_info_any();
  }
  const char *options = ps->p;
  while (ps->p < ps->end && *ps->p != ')')
    ps->p++;
  if (ps->p >= ps->end || ps->p == options || !prefilter_options_ok(options, ps->p))
    return prefilter_fail(ps);
  ps->p++;
  return prefilter_info_exact(""); /* "(?i)" */
}

/* A group at ps->p ('('), each branch after `prefix` (NULL: none) when its
 * body is matched as it stands. */
static PrefilterInfo prefilter_parse_group(PrefilterParse *ps, const GPtrArray *prefix)
{
  if (prefilter_group_open(ps))
    return prefilter_group_body(ps, prefix);
  if (prefilter_at(ps, 1, '*'))
    return prefilter_parse_verb(ps);
  ps->p += 2;
  return prefilter_parse_special(ps);
}

static PrefilterInfo prefilter_parse_atom(PrefilterParse *ps)
{
  unsigned char c = (unsigned char)*ps->p;
  switch (c) {
  case '(': return prefilter_parse_group(ps, NULL);
  case '[': return prefilter_parse_class(ps);
  case '\\': return prefilter_parse_escape(ps);
  case '.': ps->p++; return prefilter_info_any();
  case '^': case '$': ps->p++; return prefilter_info_exact("");
  case '*': case '+': case '?': return prefilter_fail(ps);
  default: break;
  }
  if (c >= 0x80)
    return prefilter_parse_wide(ps);
  ps->p++;
  return prefilter_char(ps, c);
}

/* A counted quantifier at ps->p ('{'): 1 and its bounds ({n}, {n,}, {n,m};
 * max -1 = no limit), 0 when the brace is a literal, -1 when PCRE2 versions
 * disagree ({,m}, spaces) and the parser gives up. */
static int prefilter_braces(const char *open, const char *end, int *min, int *max)
{
  const char *q = open + 1, *close = memchr(q, '}', end - q);
  if (!close)
    return 0;
  for (const char *c = q; c < close; c++)
    if (!g_ascii_isdigit(*c) && *c != ',' && *c != ' ')
      return 0;
  char *after = NULL;
  if (!g_ascii_isdigit(*q))
    return -1;
  *min = (int)MIN(g_ascii_strtoull(q, &after, 10), 100000);
  *max = *min;
  if (after < close && *after == ',') {
    q = after + 1;
    *max = q == close ? -1 : (int)MIN(g_ascii_strtoull(q, &after, 10), 100000);
  }
  return after == close || (*max == -1 && q == close) ? 1 : -1;
}

/* A quantifier at ps->p: TRUE and its bounds. Lazy and possessive suffixes
 * are skipped; a second quantifier gives up. */
static gboolean prefilter_parse_quantifier(PrefilterParse *ps, int *min, int *max)
{
  if (ps->p >= ps->end)
    return FALSE;
  char c = *ps->p;
  if (c == '{') {
    int kind = prefilter_braces(ps->p, ps->end, min, max);
    if (kind < 0)
      prefilter_fail(ps);
    if (kind <= 0)
      return FALSE;
    ps->p = memchr(ps->p, '}', ps->end - ps->p) + 1;
  } else if (c == '*' || c == '+' || c == '?') {
    *min = c == '+' ? 1 : 0;
    *max = c == '?' ? 1 : -1;
    ps->p++;
  } else {
    return FALSE;
  }
  if (ps->p < ps->end && (*ps->p == '?' || *ps->p == '+'))
    ps->p++;
  if (ps->p < ps->end && (*ps->p == '*' || *ps->p == '+' || *ps->p == '?' || *ps->p == '{'))
    prefilter_fail(ps);
  return TRUE;
}

/* What `exact` repeated `times` times in a row holds (its first
 * PREFILTER_LITERAL_LONGEST repeats: a literal is no longer): a new required
 * set, or NULL when it would hold more than PREFILTER_EXACT_MAX strings or
 * require nothing. */
static GPtrArray *prefilter_repeated(const GPtrArray *exact, int times)
{
  GPtrArray *set = prefilter_set_of("");
  for (int i = 0; i < MIN(times, PREFILTER_LITERAL_LONGEST); i++) {
    if (set->len * exact->len > PREFILTER_EXACT_MAX) {
      g_ptr_array_unref(set);
      return NULL;
    }
    GPtrArray *longer = prefilter_set_cross(set, exact);
    g_ptr_array_unref(set);
    set = longer;
  }
  if (prefilter_set_needs_nothing(set))
    g_clear_pointer(&set, g_ptr_array_unref);
  return set;
}

static PrefilterInfo prefilter_parse_repeat(PrefilterParse *ps)
{
  PrefilterInfo atom = prefilter_parse_atom(ps);
  int min = 1, max = 1;
  if (ps->failed || !prefilter_parse_quantifier(ps, &min, &max) || ps->failed || (min >= 1 && max == 1))
    return atom;
  if (min == 0 && max >= 0 && max <= 1 && atom.exact) {
    prefilter_set_add(atom.exact, ""); /* optional: itself or nothing */
    return atom;
  }
  PrefilterInfo out = { NULL, NULL, NULL }; /* at least once: whatever it needs */
  if (min >= 2 && atom.exact) /* "\?{2,}" needs "??" */
    out.required = prefilter_repeated(atom.exact, min);
  if (min >= 1 && (out.required || (out.required = prefilter_info_required(&atom))))
    out.also = g_steal_pointer(&atom.also);
  prefilter_info_clear(&atom);
  return out;
}

/* The byte after the ')' closing the group that opens at `open`, or NULL.
 * (A comment or a mark name holding a parenthesis can fool it: the caller
 * checks that the parser ends there too.) */
static const char *prefilter_group_end(const char *open, const char *end)
{
  int depth = 0;
  for (const char *q = open; q < end; q++) {
    gboolean simple = TRUE;
    if (*q == '\\' && q + 1 < end && q[1] == 'Q')
      return NULL;
    if (*q == '\\')
      q++;
    else if (*q == '[' && !(q = prefilter_class_end(q, end, &simple)))
      return NULL;
    else if (*q == '(')
      depth++;
    else if (*q == ')' && --depth == 0)
      return q + 1;
  }
  return NULL;
}

/* TRUE when the group at ps->p can take the run before it into each branch:
 * "a(?:b|c)" is "ab|ac" when the group is not repeated. */
static gboolean prefilter_distributes(const PrefilterParse *ps, const GPtrArray *run)
{
  if (*ps->p != '(' || (run->len == 1 && !*(const char *)g_ptr_array_index(run, 0)))
    return FALSE;
  PrefilterParse probe = *ps;
  const char *after = prefilter_group_end(ps->p, ps->end);
  int min, max;
  if (!after || !prefilter_group_open(&probe))
    return FALSE;
  return after >= ps->end || !(strchr("*+?", *after) || (*after == '{' &&
                                prefilter_braces(after, ps->end, &min, &max) != 0));
}

/* The group at ps->p with `run` before each branch. */
static PrefilterInfo prefilter_parse_prefixed(PrefilterParse *ps, const GPtrArray *run)
{
  const char *after = prefilter_group_end(ps->p, ps->end);
  PrefilterInfo info = prefilter_parse_group(ps, run);
  if (!ps->failed && ps->p != after) {
    prefilter_info_clear(&info);
    return prefilter_fail(ps);
  }
  return info;
}

/* Adds `atom` (which holds the run when `prefixed`) to the sequence's run
 * and needs; FALSE once the sequence is no longer exact. */
static gboolean prefilter_sequence_add(GPtrArray **run, GPtrArray *needs, PrefilterInfo *atom,
                                       gboolean prefixed)
{
  if (atom->exact && (prefixed || (*run)->len * atom->exact->len <= PREFILTER_EXACT_MAX)) {
    GPtrArray *longer = prefixed ? g_ptr_array_ref(atom->exact) : prefilter_set_cross(*run, atom->exact);
    g_ptr_array_unref(*run);
    *run = longer;
    return TRUE;
  }
  if (!prefixed) {
    PrefilterInfo closed = { *run, NULL, NULL };
    prefilter_needs_add(needs, prefilter_info_required(&closed));
  }
  g_ptr_array_unref(*run);
  *run = atom->exact ? g_ptr_array_ref(atom->exact) : prefilter_set_of("");
  if (!atom->exact)
    prefilter_needs_add_info(needs, atom);
  return FALSE;
}

/* The common case, done without building sets: a plain ASCII character
 * that no quantifier follows is added to each string of the run. */
static gboolean prefilter_append_plain(PrefilterParse *ps, GPtrArray *run)
{
  unsigned char c = (unsigned char)*ps->p;
  int min, max;
  if (c < 0x20 || c > 0x7e || strchr("\\^$.[|()?*+{", c))
    return FALSE;
  const char *next = ps->p + 1;
  if (next < ps->end && (strchr("*+?", *next) || (*next == '{' &&
                                                   prefilter_braces(next, ps->end, &min, &max) != 0)))
    return FALSE;
  for (guint i = 0; i < run->len; i++) {
    char *old = g_ptr_array_index(run, i);
    gsize len = strlen(old);
    char *longer = g_realloc(old, len + 2);
    longer[len] = prefilter_fold(ps, c);
    longer[len + 1] = 0;
    run->pdata[i] = longer;
  }
  ps->p++;
  return TRUE;
}

/* A lookahead "(?=" or lookbehind "(?<=" at ps->p that no quantifier
 * follows: what it looks at must be in the text, so what it needs goes to
 * the sequence's `needs`, though it matches no text itself. */
static gboolean prefilter_lookaround_needs(PrefilterParse *ps, GPtrArray *needs)
{
  gsize left = ps->end - ps->p;
  gsize open = left > 3 && strncmp(ps->p, "(?=", 3) == 0 ? 3 :
               left > 4 && strncmp(ps->p, "(?<=", 4) == 0 ? 4 : 0;
  const char *after = open ? prefilter_group_end(ps->p, ps->end) : NULL;
  int min, max;
  if (!after || (after < ps->end && (strchr("*+?", *after) ||
                                     (*after == '{' && prefilter_braces(after, ps->end, &min, &max) != 0))))
    return FALSE;
  ps->p += open;
  PrefilterInfo inner = prefilter_group_body(ps, NULL);
  if (!ps->failed && ps->p != after)
    prefilter_fail(ps);
  if (!ps->failed)
    prefilter_needs_add_info(needs, &inner);
  prefilter_info_clear(&inner);
  return TRUE;
}

/* A sequence after `prefix` (NULL: none): an exact run grows while the
 * product stays small; every piece that closes it adds what it needs, and
 * the sequence needs the most selective of these together. */
static PrefilterInfo prefilter_parse_sequence(PrefilterParse *ps, const GPtrArray *prefix)
{
  GPtrArray *run = prefilter_set_new();
  for (guint i = 0; prefix && i < prefix->len; i++)
    prefilter_set_add(run, g_ptr_array_index(prefix, i));
  if (!prefix)
    prefilter_set_add(run, "");
  GPtrArray *needs = prefilter_needs_new();
  gboolean exact = TRUE;
  while (!ps->failed && ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
    guint before = needs->len;
    if (prefilter_append_plain(ps, run))
      continue;
    if (prefilter_lookaround_needs(ps, needs)) {
      exact = exact && needs->len == before;
      continue;
    }
    gboolean prefixed = prefilter_distributes(ps, run);
    PrefilterInfo atom = prefixed ? prefilter_parse_prefixed(ps, run) : prefilter_parse_repeat(ps);
    exact = prefilter_sequence_add(&run, needs, &atom, prefixed) && exact;
    prefilter_info_clear(&atom);
  }
  if (exact) {
    g_ptr_array_unref(needs);
    return (PrefilterInfo){ run, NULL, NULL };
  }
  PrefilterInfo closed = { run, NULL, NULL };
  prefilter_needs_add(needs, prefilter_info_required(&closed));
  g_ptr_array_unref(run);
  return prefilter_needs_info(needs);
}

/* Unites the sets of `branch` into `all` (exact while every branch is exact
 * and the union small; then required, or nothing once a branch knows nothing). */
static void prefilter_unite(PrefilterInfo *all, PrefilterInfo *branch, gboolean first)
{
  if (first) {
    *all = *branch;
    *branch = prefilter_info_any();
    return;
  }
  if (all->exact && branch->exact && all->exact->len + branch->exact->len <= PREFILTER_EXACT_MAX) {
    for (guint i = 0; i < branch->exact->len; i++)
      prefilter_set_add(all->exact, g_ptr_array_index(branch->exact, i));
    return;
  }
  g_clear_pointer(&all->also, g_ptr_array_unref); /* one of the branches: their main sets */
  if (all->exact) {
    GPtrArray *required = prefilter_info_required(all);
    prefilter_info_clear(all);
    all->required = required;
  }
  GPtrArray *right = prefilter_info_required(branch);
  if (all->required && right && all->required->len + right->len <= PREFILTER_REQUIRED_MAX) {
    for (guint i = 0; i < right->len; i++)
      prefilter_set_add(all->required, g_ptr_array_index(right, i));
  } else {
    prefilter_info_clear(all);
  }
  g_clear_pointer(&right, g_ptr_array_unref);
}

static PrefilterInfo prefilter_parse_alternation(PrefilterParse *ps, const GPtrArray *prefix)
{
  PrefilterInfo all = prefilter_info_any();
  for (gboolean first = TRUE;; first = FALSE) {
    PrefilterInfo branch = prefilter_parse_sequence(ps, prefix);
    prefilter_unite(&all, &branch, first);
    prefilter_info_clear(&branch);
    if (ps->failed || !prefilter_at(ps, 0, '|'))
      break;
    ps->p++;
  }
  return all;
}

/* TRUE for the bytes PCRE2 always takes for word characters: ASCII
 * letters, digits and _ (a non-ASCII byte may be of a letter or not). */
static gboolean prefilter_is_word_byte(guint8 c)
{
  return g_ascii_isalnum(c) || c == '_';
}

/* `string` as a literal (a new string): its boundary marks dropped, but for
 * one in front when its first byte is a word byte (\b there means the byte
 * before is no word byte) and one at the end when its last byte is (\b
 * there means the byte after is none). A mark elsewhere is always true, or
 * never. */
static char *prefilter_literal_of(const char *string)
{
  char *literal = g_malloc(strlen(string) + 3), *to = literal + 1;
  gboolean after = FALSE;
  for (const char *c = string; *c; c++) {
    after = *c == PREFILTER_BOUNDARY[0];
    if (!after)
      *to++ = *c;
  }
  if (after && to > literal + 1 && prefilter_is_word_byte(to[-1]))
    *to++ = PREFILTER_BOUNDARY[0];
  *to = 0;
  if (string[0] == PREFILTER_BOUNDARY[0] && prefilter_is_word_byte(literal[1]))
    literal[0] = PREFILTER_BOUNDARY[0];
  else
    memmove(literal, literal + 1, (gsize)(to - literal));
  return literal;
}

/* The bytes of `literal` (from prefilter_set_strv()) without its marks:
 * where they start, how many, and which marks it has (PREFILTER_BOUND_*). */
static const char *prefilter_literal_bytes(const char *literal, gsize *len, guint *bounds)
{
  gboolean exact_case = literal[0] == PREFILTER_CASE[0];
  gboolean before = literal[exact_case] == PREFILTER_BOUNDARY[0];
  const char *bytes = literal + exact_case + before;
  *len = strlen(bytes);
  gboolean after = *len > 0 && bytes[*len - 1] == PREFILTER_BOUNDARY[0];
  *len -= after;
  *bounds = (before ? PREFILTER_BOUND_BEFORE : 0) | (after ? PREFILTER_BOUND_AFTER : 0) |
            (exact_case ? PREFILTER_BOUND_CASE : 0);
  return bytes;
}

/* TRUE when `literal` holds an ASCII letter. */
static gboolean prefilter_has_letter(const char *literal)
{
  for (; *literal; literal++)
    if (g_ascii_isalpha(*literal))
      return TRUE;
  return FALSE;
}

/* `set` as a NULL-terminated array (g_strfreev) of literals
 * (prefilter_literal_of()), those with letters after PREFILTER_CASE when
 * `exact_case`, when worth looking for; else NULL. */
static char **prefilter_set_strv(const GPtrArray *set, gboolean exact_case)
{
  if (!set || prefilter_set_weight(set) < PREFILTER_MIN_WEIGHT)
    return NULL;
  GPtrArray *literals = g_ptr_array_new_full(set->len + 1, g_free);
  gboolean changed = FALSE; /* a mark dropped: two strings may now be one */
  for (guint i = 0; i < set->len; i++) {
    const char *string = g_ptr_array_index(set, i);
    char *literal = strchr(string, PREFILTER_BOUNDARY[0]) ? prefilter_literal_of(string) : g_strdup(string);
    changed = changed || strcmp(literal, string) != 0;
    g_ptr_array_add(literals, literal);
  }
  if (changed) {
    g_autoptr(GPtrArray) all = literals;
    literals = prefilter_set_new();
    for (guint i = 0; i < all->len; i++)
      prefilter_set_add(literals, g_ptr_array_index(all, i));
  }
  for (guint i = 0; exact_case && i < literals->len; i++)
    if (prefilter_has_letter(literals->pdata[i])) {
      char *cased = g_strconcat(PREFILTER_CASE, literals->pdata[i], NULL);
      g_free(literals->pdata[i]);
      literals->pdata[i] = cased;
    }
  g_ptr_array_add(literals, NULL);
  return (char **)g_ptr_array_free(literals, FALSE);
}

/* TRUE when `flags` holds only PCRE2_CASELESS, MULTILINE, DOTALL,
 * NO_AUTO_CAPTURE, UNGREEDY, UTF, UCP and NEVER_BACKSLASH_C: none changes
 * which literals a match holds, nor how its top-level branches split. */
static gboolean prefilter_flags_harmless(guint32 flags)
{
  const guint32 harmless = PCRE2_CASELESS | PCRE2_MULTILINE | PCRE2_DOTALL |
                           PCRE2_NO_AUTO_CAPTURE | PCRE2_UNGREEDY | PCRE2_UTF | PCRE2_UCP |
                           PCRE2_NEVER_BACKSLASH_C;
  return (flags & ~harmless) == 0;
}

/* TRUE when `pattern` may switch caseless matching on: an option setting
 * "(?...i...)" or "(?...i...:" anywhere (also where it is no option: that
 * only costs exact case). */
static gboolean prefilter_sets_caseless(const char *pattern, gsize len)
{
  const char *end = pattern + len;
  for (const char *q = pattern; (q = memchr(q, '(', (gsize)(end - q))) != NULL; q++) {
    const char *o = q + 1;
    if (o >= end || *o != '?')
      continue;
    for (o++; o < end && (g_ascii_isalpha(*o) || *o == '-' || *o == '^'); o++)
      if (*o == 'i')
        return TRUE;
  }
  return FALSE;
}

GPtrArray *prefilter_literals(const char *pattern, gsize len, guint32 flags)
{
  if (!prefilter_flags_harmless(flags))
    return NULL;
  PrefilterParse ps = { pattern, pattern + len, FALSE, 0,
                        !(flags & PCRE2_CASELESS) && !prefilter_sets_caseless(pattern, len) };
  PrefilterInfo info = prefilter_parse_alternation(&ps, NULL);
  GPtrArray *sets = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
  if (!ps.failed && ps.p == ps.end) {
    GPtrArray *needs = prefilter_needs_new();
    prefilter_needs_add_info(needs, &info);
    prefilter_needs_sort(needs);
    for (guint i = 0; i < needs->len; i++) {
      char **strv = prefilter_set_strv(g_ptr_array_index(needs, i), ps.exact_case);
      if (strv)
        g_ptr_array_add(sets, strv);
    }
    g_ptr_array_unref(needs);
  }
  prefilter_info_clear(&info);
  if (sets->len == 0)
    g_clear_pointer(&sets, g_ptr_array_unref);
  return sets;
}

/* ---- the automaton ---- */

Prefilter *prefilter_new(void)
{
  Prefilter *prefilter = g_new0(Prefilter, 1);
  prefilter->literals = g_ptr_array_new_with_free_func(g_free);
  prefilter->literal_ids = g_hash_table_new(g_str_hash, g_str_equal);
  prefilter->regex_start = g_array_new(FALSE, FALSE, sizeof(guint));
  prefilter->set_start = g_array_new(FALSE, FALSE, sizeof(guint));
  prefilter->regex_literals = g_array_new(FALSE, FALSE, sizeof(guint));
  return prefilter;
}

void prefilter_free(Prefilter *prefilter)
{
  if (!prefilter)
    return;
  g_hash_table_unref(prefilter->literal_ids);
  g_ptr_array_unref(prefilter->literals);
  g_array_unref(prefilter->regex_start);
  g_array_unref(prefilter->set_start);
  g_array_unref(prefilter->regex_literals);
  g_free(prefilter->delta);
  g_free(prefilter->out_start);
  g_free(prefilter->out_literals);
  g_free(prefilter->literal_bounds);
  g_free(prefilter->literal_bytes);
  g_free(prefilter->literal_sets);
  g_free(prefilter->sets_of);
  g_free(prefilter);
}

/* The id of `whole` (a literal) cut to its first PREFILTER_LITERAL_LONGEST
 * bytes (at most: a character is not cut; nor is a boundary after a cut
 * kept), added if new. */
static guint prefilter_literal_id(Prefilter *prefilter, const char *whole)
{
  gsize len;
  guint bounds;
  const char *bytes = prefilter_literal_bytes(whole, &len, &bounds);
  g_autofree char *cut = NULL;
  const char *literal = whole;
  if (len > PREFILTER_LITERAL_LONGEST) {
    len = PREFILTER_LITERAL_LONGEST;
    while (len > 0 && ((guint8)bytes[len] & 0xC0) == 0x80)
      len--;
    literal = cut = g_strndup(whole, (gsize)(bytes - whole) + len); /* the mark after goes */
  }
  gpointer found = g_hash_table_lookup(prefilter->literal_ids, literal);
  if (found)
    return GPOINTER_TO_UINT(found) - 1;
  char *copy = g_strdup(literal);
  g_ptr_array_add(prefilter->literals, copy);
  g_hash_table_insert(prefilter->literal_ids, copy, GUINT_TO_POINTER(prefilter->literals->len));
  return prefilter->literals->len - 1;
}

int prefilter_add(Prefilter *prefilter, const char *pattern, gsize len, guint32 flags)
{
  if (prefilter->built)
    return PREFILTER_ALWAYS;
  g_autoptr(GPtrArray) sets = prefilter_literals(pattern, len, flags);
  if (!sets)
    return PREFILTER_ALWAYS;
  guint first = prefilter->set_start->len;
  g_array_append_val(prefilter->regex_start, first);
  for (guint i = 0; i < sets->len; i++) {
    guint start = prefilter->regex_literals->len;
    g_array_append_val(prefilter->set_start, start);
    for (char **literal = g_ptr_array_index(sets, i); *literal; literal++) {
      guint id = prefilter_literal_id(prefilter, *literal);
      g_array_append_val(prefilter->regex_literals, id);
    }
  }
  return (int)prefilter->regex_start->len - 1;
}

/* Each literal's boundaries and number of bytes. */
static void prefilter_literal_info(Prefilter *prefilter)
{
  guint n = prefilter->literals->len;
  prefilter->literal_bounds = g_new(guint8, n + 1);
  prefilter->literal_bytes = g_new(guint8, n + 1);
  for (guint i = 0; i < n; i++) {
    gsize len;
    guint bounds;
    prefilter_literal_bytes(g_ptr_array_index(prefilter->literals, i), &len, &bounds);
    prefilter->literal_bounds[i] = (guint8)bounds;
    prefilter->literal_bytes[i] = (guint8)len;
  }
}

/* The bytes of literal `i`, marks aside. */
static const guint8 *prefilter_literal_start(const Prefilter *prefilter, guint i)
{
  const guint8 *literal = g_ptr_array_index(prefilter->literals, i);
  guint bounds = prefilter->literal_bounds[i];
  return literal + (bounds & PREFILTER_BOUND_CASE ? 1 : 0) + (bounds & PREFILTER_BOUND_BEFORE ? 1 : 0);
}

/* One class per byte that occurs in a literal (lower-cased); A-Z share a-z's. */
static void prefilter_classes(Prefilter *prefilter)
{
  memset(prefilter->classes, 0, sizeof prefilter->classes);
  prefilter->n_classes = 1;
  for (guint i = 0; i < prefilter->literals->len; i++) {
    const guint8 *b = prefilter_literal_start(prefilter, i);
    for (const guint8 *end = b + prefilter->literal_bytes[i]; b < end; b++) {
      guint8 folded = (guint8)g_ascii_tolower(*b);
      if (!prefilter->classes[folded])
        prefilter->classes[folded] = (guint8)prefilter->n_classes++;
    }
  }
  for (guint c = 'A'; c <= 'Z'; c++)
    prefilter->classes[c] = prefilter->classes[c + ('a' - 'A')];
}

/* The trie of the literals: delta (0 = no edge yet) and, per state, the
 * first literal ending there plus one (0 = none), and per literal the next
 * one with the same bytes (other boundaries) plus one in `same`. */
static void prefilter_trie(Prefilter *prefilter, GArray *delta, GArray *ends, guint *same)
{
  guint k = prefilter->n_classes;
  g_array_set_size(delta, k);
  g_array_set_size(ends, 1);
  for (guint i = 0; i < prefilter->literals->len; i++) {
    guint32 state = 0;
    const guint8 *b = prefilter_literal_start(prefilter, i);
    for (const guint8 *end = b + prefilter->literal_bytes[i]; b < end; b++) {
      guint cell = state * k + prefilter->classes[*b];
      if (!g_array_index(delta, guint32, cell)) {
        guint32 added = ends->len;
        g_array_set_size(delta, (added + 1) * k);
        g_array_set_size(ends, added + 1);
        g_array_index(delta, guint32, cell) = added;
      }
      state = g_array_index(delta, guint32, cell);
    }
    same[i] = g_array_index(ends, guint, state);
    g_array_index(ends, guint, state) = i + 1;
  }
}

/* Aho-Corasick: breadth first, each state's missing edges become its
 * failure state's, and its literals are its own plus its failure state's. */
static void prefilter_links(Prefilter *prefilter, guint32 *delta, const guint *ends,
                            const guint *same)
{
  guint k = prefilter->n_classes, n = prefilter->n_states, head = 0, tail = 0;
  g_autofree guint *fail = g_new0(guint, n);
  g_autofree guint *queue = g_new(guint, n);
  g_autoptr(GArray) outs = g_array_new(FALSE, FALSE, sizeof(guint));
  prefilter->out_start = g_new0(guint, 2 * n); /* start, count */
  for (guint c = 0; c < k; c++)
    if (delta[c])
      queue[tail++] = delta[c];
  while (head < tail) {
    guint s = queue[head++], f = fail[s];
    prefilter->out_start[2 * s] = outs->len;
    for (guint end = ends[s]; end; end = same[end - 1]) {
      guint literal = end - 1;
      g_array_append_val(outs, literal);
    }
    for (guint i = 0; i < prefilter->out_start[2 * f + 1]; i++) {
      guint inherited = g_array_index(outs, guint, prefilter->out_start[2 * f] + i);
      g_array_append_val(outs, inherited);
    }
    prefilter->out_start[2 * s + 1] = outs->len - prefilter->out_start[2 * s];
    for (guint c = 0; c < k; c++) {
      guint32 t = delta[s * k + c];
      if (t) {
        fail[t] = delta[f * k + c];
        queue[tail++] = t;
      } else {
        delta[s * k + c] = delta[f * k + c];
      }
    }
  }
  prefilter->out_literals = (guint *)(void *)g_array_free(g_steal_pointer(&outs), FALSE);
}

/* For each literal, the sets it belongs to (counting sort by literal), so
 * that a scan marks a set once one of its literals is seen. */
static void prefilter_literal_sets(Prefilter *prefilter)
{
  guint n = prefilter->literals->len, entries = prefilter->regex_literals->len;
  guint *start = g_new0(guint, n + 1);
  guint *sets = g_new(guint, entries + 1);
  for (guint i = 0; i < entries; i++)
    start[g_array_index(prefilter->regex_literals, guint, i) + 1]++;
  for (guint l = 0; l < n; l++)
    start[l + 1] += start[l];
  g_autofree guint *fill = g_memdup2(start, sizeof(guint) * (n + 1));
  for (guint set = 0; set < prefilter->set_start->len; set++) {
    guint end = set + 1 < prefilter->set_start->len ? g_array_index(prefilter->set_start, guint, set + 1)
                                                    : entries;
    for (guint i = g_array_index(prefilter->set_start, guint, set); i < end; i++)
      sets[fill[g_array_index(prefilter->regex_literals, guint, i)]++] = set;
  }
  prefilter->literal_sets = start;
  prefilter->sets_of = sets;
  prefilter->set_base = n / 64 + 1;
}

void prefilter_build(Prefilter *prefilter)
{
  if (prefilter->built)
    return;
  prefilter->built = TRUE;
  prefilter_literal_sets(prefilter);
  prefilter_literal_info(prefilter);
  prefilter_classes(prefilter);
  g_autoptr(GArray) delta = g_array_new(FALSE, TRUE, sizeof(guint32));
  g_autoptr(GArray) ends = g_array_new(FALSE, TRUE, sizeof(guint));
  g_autofree guint *same = g_new0(guint, prefilter->literals->len + 1);
  prefilter_trie(prefilter, delta, ends, same);
  prefilter->n_states = ends->len;
  if ((guint64)prefilter->n_states * prefilter->n_classes >= PREFILTER_STATE_OUT) {
    prefilter->disabled = TRUE; /* rows would not fit beside the flag bit */
    return;
  }
  prefilter_links(prefilter, (guint32 *)(void *)delta->data, (const guint *)(void *)ends->data, same);
  for (guint i = 0; i < delta->len; i++) {
    guint32 *cell = &g_array_index(delta, guint32, i);
    gboolean out = prefilter->out_start[2 * *cell + 1] != 0;
    *cell = *cell * prefilter->n_classes | (out ? PREFILTER_STATE_OUT : 0);
  }
  prefilter->delta = (guint32 *)(void *)g_array_free(g_steal_pointer(&delta), FALSE);
}

/* The class of U+017F (long s, C5 BF) and U+212A (Kelvin, E2 84 AA), which
 * PCRE2 matches caselessly with s and k, moving `*at` past the character's
 * continuation bytes; for any other character the class of its byte `lead`. */
static guint prefilter_special_class(const Prefilter *prefilter, const guint8 **at,
                                     const guint8 *end, guint8 lead)
{
  const guint8 *s = *at;
  if (lead == 0xC5 && s < end && s[0] == 0xBF) {
    *at = s + 1;
    return prefilter->classes['s'];
  }
  if (lead == 0xE2 && end - s >= 2 && s[0] == 0x84 && s[1] == 0xAA) {
    *at = s + 2;
    return prefilter->classes['k'];
  }
  return prefilter->classes[lead];
}

/* The text a scan reads: its bounds, whether the regexes are matched
 * against it alone (then a literal's word boundaries count: a regex matched
 * against a part of it may find a boundary where the part starts), and the
 * literals seen so far. */
typedef struct {
  const guint8 *start, *end;
  gboolean whole;
  PrefilterSeen *seen;
} PrefilterText;

/* How many bytes of text the automaton step that ends at `at` read: 2 for
 * U+017F, 3 for U+212A, else 1. */
static gsize prefilter_step_back(const guint8 *at, const guint8 *start)
{
  if (at - start >= 3 && at[-3] == 0xE2 && at[-2] == 0x84 && at[-1] == 0xAA)
    return 3;
  if (at - start >= 2 && at[-2] == 0xC5 && at[-1] == 0xBF)
    return 2;
  return 1;
}

/* TRUE when `literal`, which ends at `at` of `text` (caselessly), is there
 * byte for byte if its case is exact, and has the word boundaries it needs
 * if the text is read whole: no ASCII letter, digit or _ just before it (or
 * after it). A non-ASCII character there may be no word character (a dash,
 * a space): it counts as a boundary. */
static gboolean prefilter_bounded(const Prefilter *prefilter, guint literal,
                                  const PrefilterText *text, const guint8 *at)
{
  guint bounds = prefilter->literal_bounds[literal];
  if (bounds & PREFILTER_BOUND_CASE) {
    gsize len = prefilter->literal_bytes[literal];
    if ((gsize)(at - text->start) < len || memcmp(at - len, prefilter_literal_start(prefilter, literal), len) != 0)
      return FALSE;
  }
  if (!text->whole)
    return TRUE;
  if ((bounds & PREFILTER_BOUND_AFTER) && at < text->end && prefilter_is_word_byte(*at))
    return FALSE;
  if (bounds & PREFILTER_BOUND_BEFORE) {
    for (guint n = prefilter->literal_bytes[literal]; n > 0; n--)
      at -= prefilter_step_back(at, text->start);
    if (at > text->start && prefilter_is_word_byte(at[-1]))
      return FALSE;
  }
  return TRUE;
}

/* Marks the literals ending at `state` (at `at` of `text`), and the first
 * time a literal is seen, every set it belongs to. */
static void prefilter_mark(const Prefilter *prefilter, guint32 state, PrefilterText *text,
                           const guint8 *at)
{
  PrefilterSeen *seen = text->seen;
  const guint *out = prefilter->out_literals + prefilter->out_start[2 * state];
  for (guint i = 0; i < prefilter->out_start[2 * state + 1]; i++) {
    guint64 bit = G_GUINT64_CONSTANT(1) << (out[i] % 64);
    if (seen[out[i] / 64] & bit)
      continue;
    if (G_UNLIKELY(prefilter->literal_bounds[out[i]]) &&
        !prefilter_bounded(prefilter, out[i], text, at))
      continue;
    seen[out[i] / 64] |= bit;
    for (guint j = prefilter->literal_sets[out[i]]; j < prefilter->literal_sets[out[i] + 1]; j++) {
      guint set = prefilter->sets_of[j];
      seen[prefilter->set_base + set / 64] |= G_GUINT64_CONSTANT(1) << (set % 64);
    }
  }
}

/* One walk of the automaton over [s, end): where it is and in which state. */
typedef struct {
  const guint8 *s, *end;
  guint32 row;
} PrefilterWalk;

/* Reads the next byte (or character U+017F / U+212A) of `walk`, a walk of
 * `text`. */
static inline void prefilter_walk_step(const Prefilter *prefilter, PrefilterWalk *walk,
                                       PrefilterText *text)
{
  guint8 c = *walk->s++;
  guint class = prefilter->classes[c];
  if (G_UNLIKELY(c == 0xC5 || c == 0xE2))
    class = prefilter_special_class(prefilter, &walk->s, walk->end, c);
  guint32 next = prefilter->delta[walk->row + class];
  walk->row = next & ~PREFILTER_STATE_OUT;
  if (G_UNLIKELY(next & PREFILTER_STATE_OUT))
    prefilter_mark(prefilter, walk->row / prefilter->n_classes, text, walk->s);
}

/* A literal takes at most this many bytes of text: three per character
 * (U+212A is read as k). */
#define PREFILTER_LITERAL_BYTES (3 * PREFILTER_LITERAL_LONGEST)
/* Texts shorter than this are walked once, from the start. */
#define PREFILTER_SPLIT_MIN 256

/* prefilter_scan() or, when `whole`, prefilter_scan_whole(). */
static PrefilterSeen *prefilter_scan_text(const Prefilter *prefilter, const char *text, gsize len,
                                          gboolean whole)
{
  PrefilterSeen *seen = g_new0(PrefilterSeen, prefilter->literals->len / 64 + 1 +
                                                prefilter->set_start->len / 64 + 1);
  if (!prefilter->built || prefilter->disabled || prefilter->literals->len == 0 || !text)
    return seen;
  /* Each byte costs a read of the table that waits for the one before, and
   * the table is larger than the first-level cache: so a long text is read
   * as two halves at once, two independent chains of reads. The second walk
   * starts, from the first state, PREFILTER_LITERAL_BYTES before the half
   * (back to the start of a character): a literal that ends in the second
   * half starts after that, and one that ends in the first is found by the
   * first walk. */
  const guint8 *start = (const guint8 *)text, *end = start + len;
  PrefilterText read = { start, end, whole, seen };
  PrefilterWalk first = { start, end, 0 }, second = { end, end, 0 };
  if (len >= PREFILTER_SPLIT_MIN) {
    first.end = start + len / 2;
    second.s = first.end - PREFILTER_LITERAL_BYTES;
    while (second.s > start && (*second.s & 0xC0) == 0x80)
      second.s--;
  }
  while (first.s < first.end && second.s < second.end) {
    prefilter_walk_step(prefilter, &first, &read);
    prefilter_walk_step(prefilter, &second, &read);
  }
  while (first.s < first.end)
    prefilter_walk_step(prefilter, &first, &read);
  while (second.s < second.end)
    prefilter_walk_step(prefilter, &second, &read);
  return seen;
}

PrefilterSeen *prefilter_scan(const Prefilter *prefilter, const char *text, gsize len)
{
  return prefilter_scan_text(prefilter, text, len, FALSE);
}

PrefilterSeen *prefilter_scan_whole(const Prefilter *prefilter, const char *text, gsize len)
{
  return prefilter_scan_text(prefilter, text, len, TRUE);
}

/* The end of entry `i` of `starts`: the next one's start, or `total`. */
static guint prefilter_end(const GArray *starts, guint i, guint total)
{
  return i + 1 < starts->len ? g_array_index(starts, guint, i + 1) : total;
}

gboolean prefilter_may_match(const Prefilter *prefilter, int id, const PrefilterSeen *seen)
{
  if (id < 0 || !prefilter->built || prefilter->disabled || !seen ||
      (guint)id >= prefilter->regex_start->len)
    return TRUE;
  guint end = prefilter_end(prefilter->regex_start, (guint)id, prefilter->set_start->len);
  for (guint set = g_array_index(prefilter->regex_start, guint, id); set < end; set++)
    if (!(seen[prefilter->set_base + set / 64] & (G_GUINT64_CONSTANT(1) << (set % 64))))
      return FALSE; /* no literal of this set in the text */
  return TRUE;
}

guint prefilter_literal_count(const Prefilter *prefilter)
{
  return prefilter->literals->len;
}

guint prefilter_filtered_count(const Prefilter *prefilter)
{
  return prefilter->regex_start->len;
}

/* ---- phrase heads ---- */

#define PREFILTER_HEAD_LONGEST 64 /* longer heads are not recorded: the list has none */
#define PREFILTER_FNV_BASIS 2166136261u
#define PREFILTER_FNV_PRIME 16777619u

/* The words after a head, as a Bloom filter of (head, list, first two
 * characters of the next word): 2^16 bits, 8 KB, which stays in the
 * first-level cache. Each key sets two bits of one 64-bit word: a head is
 * asked once per list, and two bits keep the false hits of the many asks
 * rare. */
#define PREFILTER_NEXT_BITS 16

typedef struct {
  char *word;     /* owned, lower case; NULL = a free slot */
  guint32 hash;
  guint16 len;
  guint32 lists;
  guint32 any_next; /* the lists with a phrase of this head that goes on in a way
                       the filter cannot tell */
  guint32 ends;     /* the lists with a phrase that is this head alone */
  guint32 shallow;  /* the lists with a phrase of this head whose second word the
                       filter does not hold (prefilter_heads_note_third()) */
} PrefilterHeadSlot;

struct _PrefilterHeads {
  PrefilterHeadSlot *slots; /* owned, open addressing, n_slots a power of two */
  guint8 *tags;             /* owned, per slot: 0 = free, else prefilter_head_tag() of its
                               hash (1 KB for 1,024 slots: a word that is no head is
                               mostly told by it alone) */
  guint n_slots;
  guint n_words;
  guint longest;            /* the longest head: longer words are no head */
  guint64 next[(1u << PREFILTER_NEXT_BITS) / 64]; /* the filter of what follows a head */
};

PrefilterHeads *prefilter_heads_new(void)
{
  PrefilterHeads *heads = g_new0(PrefilterHeads, 1);
  heads->n_slots = 64;
  heads->slots = g_new0(PrefilterHeadSlot, heads->n_slots);
  heads->tags = g_new0(guint8, heads->n_slots);
  return heads;
}

void prefilter_heads_free(PrefilterHeads *heads)
{
  if (!heads)
    return;
  for (guint i = 0; i < heads->n_slots; i++)
    g_free(heads->slots[i].word);
  g_free(heads->slots);
  g_free(heads->tags);
  g_free(heads);
}

char *prefilter_phrase_head(const char *phrase)
{
  g_autofree char *lower = g_utf8_strdown(phrase, -1);
  gsize n = 0;
  while (g_ascii_isalnum(lower[n]))
    n++;
  if (n == 0 || n > PREFILTER_HEAD_LONGEST || (guint8)lower[n] >= 0x80)
    return NULL;
  return g_strndup(lower, n);
}

/* FNV-1a of `len` bytes, lower-cased. */
static guint32 prefilter_head_hash(const guint8 *word, gsize len)
{
  guint32 hash = PREFILTER_FNV_BASIS;
  for (gsize i = 0; i < len; i++)
    hash = (hash ^ (guint8)g_ascii_tolower(word[i])) * PREFILTER_FNV_PRIME;
  return hash;
}

static const guint8 *prefilter_heads_fold(void);

/* TRUE when `word` (`len` ASCII letters and digits, any case, lower-cased
 * by `fold`) is `head`. */
static gboolean prefilter_head_is(const char *head, const guint8 *word, gsize len,
                                  const guint8 *fold)
{
  for (gsize i = 0; i < len; i++)
    if ((guint8)head[i] != fold[word[i]])
      return FALSE;
  return TRUE;
}

/* The slot of `word` (`len` bytes, any case), or the free slot where it goes. */
static PrefilterHeadSlot *prefilter_head_slot(const PrefilterHeads *heads, const guint8 *word,
                                              gsize len, guint32 hash)
{
  guint mask = heads->n_slots - 1;
  for (guint i = hash & mask;; i = (i + 1) & mask) {
    PrefilterHeadSlot *slot = &heads->slots[i];
    if (!slot->word || (slot->hash == hash && slot->len == len &&
                        prefilter_head_is(slot->word, word, len, prefilter_heads_fold())))
      return slot;
  }
}

/* A slot's tag: 8 bits of its hash that its place does not tell, never 0. */
static guint8 prefilter_head_tag(guint32 hash)
{
  return (guint8)(hash >> 24) | 1;
}

/* The slot of head `word` (`len` bytes, any case, lower-cased by `fold`),
 * or NULL: the tags are read first, a slot only where its tag is the word's. */
static const PrefilterHeadSlot *prefilter_heads_lookup(const PrefilterHeads *heads,
                                                       const guint8 *word, gsize len,
                                                       guint32 hash, const guint8 *fold)
{
  guint mask = heads->n_slots - 1;
  guint8 tag = prefilter_head_tag(hash);
  for (guint i = hash & mask; heads->tags[i]; i = (i + 1) & mask) {
    const PrefilterHeadSlot *slot = &heads->slots[i];
    if (heads->tags[i] == tag && slot->hash == hash && slot->len == len &&
        prefilter_head_is(slot->word, word, len, fold))
      return slot;
  }
  return NULL;
}

/* Doubles the table (kept at most half full). */
static void prefilter_heads_grow(PrefilterHeads *heads)
{
  PrefilterHeadSlot *old = heads->slots;
  guint n_old = heads->n_slots;
  heads->n_slots *= 2;
  heads->slots = g_new0(PrefilterHeadSlot, heads->n_slots);
  g_free(heads->tags);
  heads->tags = g_new0(guint8, heads->n_slots);
  for (guint i = 0; i < n_old; i++) {
    if (!old[i].word)
      continue;
    PrefilterHeadSlot *slot =
      prefilter_head_slot(heads, (const guint8 *)old[i].word, old[i].len, old[i].hash);
    *slot = old[i];
    heads->tags[slot - heads->slots] = prefilter_head_tag(slot->hash);
  }
  g_free(old);
}

/* The slot of `head` (`len` lower-case bytes), added for `list` if new. */
static PrefilterHeadSlot *prefilter_heads_put(PrefilterHeads *heads, const char *head, gsize len,
                                              guint list)
{
  if (2 * (heads->n_words + 1) > heads->n_slots)
    prefilter_heads_grow(heads);
  guint32 hash = prefilter_head_hash((const guint8 *)head, len);
  PrefilterHeadSlot *slot = prefilter_head_slot(heads, (const guint8 *)head, len, hash);
  if (!slot->word) {
    *slot = (PrefilterHeadSlot){ g_ascii_strdown(head, (gssize)len), hash, (guint16)len, 0, 0, 0,
                                 0 };
    heads->tags[slot - heads->slots] = prefilter_head_tag(hash);
    heads->n_words++;
    heads->longest = MAX(heads->longest, (guint)len);
  }
  slot->lists |= 1u << list;
  return slot;
}

void prefilter_heads_add(PrefilterHeads *heads, const char *head, guint list)
{
  gsize len = strlen(head);
  g_return_if_fail(list < PREFILTER_HEADS_LISTS && len > 0 && len <= PREFILTER_HEAD_LONGEST);
  PrefilterHeadSlot *slot = prefilter_heads_put(heads, head, len, list);
  slot->any_next |= 1u << list;
  slot->shallow |= 1u << list;
}

/* What follows a head in a phrase, as a key of the filter: one ASCII
 * punctuation character (that character and PREFILTER_NEXT_PUNCT), or
 * white space and a word starting with `c1` `c2` (ASCII letters or digits,
 * lower case; `c2` is 0 when the word ends after `c1` or goes on with ASCII
 * punctuation). A phrase that ends with its head is in the slot's `ends`. */
#define PREFILTER_NEXT_PUNCT 0xFF

/* The filter key of a head (its hash) followed by (`c1`, `c2`), for any
 * list: prefilter_next_key() makes it one list's. */
static guint32 prefilter_next_base(guint32 head_hash, guint8 c1, guint8 c2)
{
  guint32 key = head_hash ^ ((guint32)c1 << 8 | c2);
  key = (key ^ (key >> 16)) * 0x7FEB352Du; /* mixed: keys apart in any bits land apart */
  key = (key ^ (key >> 15)) * 0x846CA68Bu;
  return key ^ (key >> 16);
}

/* The key of list `list` from its base: its top bits pick the word of the
 * filter, its low twelve two bits in it. */
static guint32 prefilter_next_key(guint32 base, guint list)
{
  guint32 key = base + (list + 1) * 0x9E3779B9u;
  return key ^ (key >> 17);
}

static guint prefilter_next_word(guint32 key)
{
  return key >> (32 - (PREFILTER_NEXT_BITS - 6));
}

static guint64 prefilter_next_mask(guint32 key)
{
  return G_GUINT64_CONSTANT(1) << (key & 63) | G_GUINT64_CONSTANT(1) << ((key >> 6) & 63);
}

static void prefilter_next_set(PrefilterHeads *heads, guint32 head_hash, guint list, guint8 c1,
                               guint8 c2)
{
  guint32 key = prefilter_next_key(prefilter_next_base(head_hash, c1, c2), list);
  heads->next[prefilter_next_word(key)] |= prefilter_next_mask(key);
}

/* The lists of `lists` whose key from `base` the filter holds. */
static guint32 prefilter_next_has_base(const PrefilterHeads *heads, guint32 base, guint32 lists)
{
  guint32 found = 0;
  for (guint32 rest = lists; rest; rest &= rest - 1) {
    guint list = (guint)__builtin_ctz(rest);
    guint32 key = prefilter_next_key(base, list);
    guint64 mask = prefilter_next_mask(key);
    if ((heads->next[prefilter_next_word(key)] & mask) == mask)
      found |= 1u << list;
  }
  return found;
}

/* The lists of `lists` (a head's, by its hash) that the filter holds
 * followed by (`c1`, `c2`). */
static guint32 prefilter_next_has(const PrefilterHeads *heads, guint32 head_hash, guint32 lists,
                                  guint8 c1, guint8 c2)
{
  return prefilter_next_has_base(heads, prefilter_next_base(head_hash, c1, c2), lists);
}

/* The base of the key of a head (its hash), white space, a second word (the
 * FNV-1a hash of its lower-cased ASCII letters and digits), white space and
 * a third word starting with `c1` `c2` (as prefilter_next_base()). */
static guint32 prefilter_third_base(guint32 head_hash, guint32 second_hash, guint8 c1, guint8 c2)
{
  return prefilter_next_base(prefilter_next_base(head_hash, 0xFE, 0xFE) ^ second_hash, c1, c2);
}

/* The FNV-1a hash of the ASCII letters and digits from `*s` on, lower-cased
 * by `fold`; `*s` moves past them. */
static guint32 prefilter_word_hash(const guint8 **s, const guint8 *end, const guint8 *fold)
{
  guint32 hash = PREFILTER_FNV_BASIS;
  for (; *s < end && fold[**s]; (*s)++)
    hash = (hash ^ fold[**s]) * PREFILTER_FNV_PRIME;
  return hash;
}

static gboolean prefilter_is_ascii_space(guint8 c)
{
  return c == ' ' || (c >= '\t' && c <= '\r'); /* \t \n \v \f \r: PCRE2's ASCII \s */
}

/* Records in the filter the second word of a phrase of list `list` (at
 * `rest`, lower case) and how the third starts, when the second is ASCII
 * letters and digits followed by white space and a third word of the form
 * prefilter_heads_note_next() records; else marks the list shallow: the
 * heads of a list none of whose phrases of this head is shallow are found
 * only where the second word and the third's start are in the filter. */
static void prefilter_heads_note_third(PrefilterHeads *heads, PrefilterHeadSlot *slot,
                                       guint list, const guint8 *rest)
{
  const guint8 *fold = prefilter_heads_fold(), *end = rest + strlen((const char *)rest);
  guint32 second = prefilter_word_hash(&rest, end, fold);
  if (*rest != ' ' && *rest != '\t') {
    slot->shallow |= 1u << list;
    return;
  }
  while (*rest == ' ' || *rest == '\t')
    rest++;
  if (!g_ascii_isalnum(rest[0]) || rest[1] >= 0x80) {
    slot->shallow |= 1u << list;
    return;
  }
  guint32 key = prefilter_next_key(
    prefilter_third_base(slot->hash, second, rest[0], g_ascii_isalnum(rest[1]) ? rest[1] : 0),
    list);
  heads->next[prefilter_next_word(key)] |= prefilter_next_mask(key);
}

/* Records in the filter how `rest` (the phrase of list `list` after its
 * head, lower case) goes on; marks the slot's list when the filter cannot
 * tell: a dash (which the trie also matches with white space), or anything
 * not ASCII. */
static void prefilter_heads_note_next(PrefilterHeads *heads, PrefilterHeadSlot *slot,
                                      guint list, const guint8 *rest)
{
  if (*rest == 0) {
    slot->ends |= 1u << list;
    slot->shallow |= 1u << list;
  } else if (*rest == ' ' || *rest == '\t') { /* the trie's "\s+" */
    while (*rest == ' ' || *rest == '\t')
      rest++;
    if (!g_ascii_isalnum(rest[0]) || rest[1] >= 0x80) {
      slot->any_next |= 1u << list;
      slot->shallow |= 1u << list;
    } else {
      prefilter_next_set(heads, slot->hash, list, rest[0],
                         g_ascii_isalnum(rest[1]) ? rest[1] : 0);
      prefilter_heads_note_third(heads, slot, list, rest);
      return;
    }
  } else if (*rest < 0x80 && *rest != '-') {
    prefilter_next_set(heads, slot->hash, list, *rest, PREFILTER_NEXT_PUNCT);
    slot->shallow |= 1u << list;
  } else {
    slot->any_next |= 1u << list;
    slot->shallow |= 1u << list;
  }
}

gboolean prefilter_heads_add_phrase(PrefilterHeads *heads, const char *phrase, guint list)
{
  g_return_val_if_fail(list < PREFILTER_HEADS_LISTS, FALSE);
  g_autofree char *head = prefilter_phrase_head(phrase);
  if (!head)
    return FALSE;
  g_autofree char *lower = g_utf8_strdown(phrase, -1);
  gsize len = strlen(head);
  PrefilterHeadSlot *slot = prefilter_heads_put(heads, head, len, list);
  prefilter_heads_note_next(heads, slot, list, (const guint8 *)lower + len);
  return TRUE;
}

gboolean prefilter_folds_to_ascii(const guint8 *s, const guint8 *end)
{
  return (s[0] == 0xC5 && end - s >= 2 && s[1] == 0xBF) ||
         (s[0] == 0xE2 && end - s >= 3 && s[1] == 0x84 && s[2] == 0xAA);
}

/* Each byte lower-cased when it is an ASCII letter or digit, else 0. */
static const guint8 *prefilter_heads_fold(void)
{
  static guint8 fold[256];
  static gsize done = 0;
  if (g_once_init_enter(&done)) {
    for (guint c = 0; c < 256; c++)
      fold[c] = g_ascii_isalnum(c) ? (guint8)g_ascii_tolower(c) : 0;
    g_once_init_leave(&done, 1);
  }
  return fold;
}

/* The lists of `deep` (lists of `slot`'s head none of whose phrases of this
 * head is shallow) whose phrases may go on as the text does from its second
 * word at `s` (an ASCII letter or digit): the word, white space and the
 * start of a third word must be in the filter. Non-ASCII after the second
 * word may be white space, and where the third starts a letter the trie
 * matches: neither rules out a list. */
static guint32 prefilter_head_may_go_on_third(const PrefilterHeads *heads,
                                              const PrefilterHeadSlot *slot, guint32 deep,
                                              const guint8 *s, const guint8 *end,
                                              const guint8 *fold)
{
  guint32 second = prefilter_word_hash(&s, end, fold);
  if (s < end && *s >= 0x80)
    return deep;
  if (s == end || !prefilter_is_ascii_space(*s))
    return 0;
  while (s < end && prefilter_is_ascii_space(*s))
    s++;
  if (s == end)
    return 0;
  if (*s >= 0x80 || (s + 1 < end && s[1] >= 0x80))
    return deep;
  guint8 c1 = fold[s[0]], c2 = s + 1 < end ? fold[s[1]] : 0;
  if (c1 == 0)
    return 0;
  return prefilter_next_has_base(heads, prefilter_third_base(slot->hash, second, c1, c2), deep);
}

/* The lists of `slot`'s head with a phrase that may go on as the text does
 * at `s`, just after the head word (a byte that is no ASCII letter or digit,
 * or the end): the filter is asked, for each list, for each way the text may
 * go on. A non-ASCII byte there may be white space, a dash or a letter the
 * trie matches, and a non-ASCII byte where the next word starts may be a
 * letter it matches: neither rules out a list. */
static guint32 prefilter_head_may_go_on(const PrefilterHeads *heads,
                                        const PrefilterHeadSlot *slot, const guint8 *s,
                                        const guint8 *end, const guint8 *fold)
{
  if (s < end && *s >= 0x80)
    return slot->lists;
  guint32 hash = slot->hash, found = slot->any_next;
  if (s == end || *s != '_') /* no word character: a phrase may end here */
    found |= slot->ends;
  guint32 ask = slot->lists & ~found;
  if (s == end || !ask)
    return found;
  if (!prefilter_is_ascii_space(*s))
    return found | prefilter_next_has(heads, hash, ask, *s, PREFILTER_NEXT_PUNCT);
  while (s < end && prefilter_is_ascii_space(*s))
    s++;
  if (s == end)
    return found;
  if (*s >= 0x80 || (s + 1 < end && s[1] >= 0x80))
    return slot->lists;
  guint8 c1 = fold[s[0]], c2 = s + 1 < end ? fold[s[1]] : 0;
  if (c1 == 0)
    return found;
  guint32 next = prefilter_next_has(heads, hash, ask, c1, c2);
  guint32 deep = next & ~slot->shallow;
  return found | (next & slot->shallow) | (deep ? prefilter_head_may_go_on_third(heads, slot, deep, s, end, fold) : 0);
}

GArray *prefilter_heads_find(const PrefilterHeads *heads, const char *text, gsize len)
{
  if (len > G_MAXUINT32)
    return NULL;
  const guint8 *fold = prefilter_heads_fold();
  GArray *found = g_array_new(FALSE, FALSE, sizeof(PrefilterHead));
  const guint8 *s = (const guint8 *)text, *end = s + len;
  gboolean after_word = FALSE; /* the byte before is ASCII alphanumeric or _ */
  while (s < end) {
    if (!fold[*s]) {
      if (G_UNLIKELY(*s >= 0xC5) && prefilter_folds_to_ascii(s, end)) {
        g_array_unref(found);
        return NULL;
      }
      after_word = *s++ == '_';
      continue;
    }
    const guint8 *word = s;
    guint32 hash = PREFILTER_FNV_BASIS;
    for (; s < end && fold[*s]; s++)
      hash = (hash ^ fold[*s]) * PREFILTER_FNV_PRIME;
    gsize word_len = (gsize)(s - word);
    if (after_word || word_len > heads->longest)
      continue;
    const PrefilterHeadSlot *slot = prefilter_heads_lookup(heads, word, word_len, hash, fold);
    guint32 lists = slot ? prefilter_head_may_go_on(heads, slot, s, end, fold) : 0;
    if (lists) {
      PrefilterHead head = { (guint32)(word - (const guint8 *)text), lists };
      g_array_append_val(found, head);
    }
  }
  return found;
}

/* ---- top-level branches ---- */

/* FALSE for a "(?" group that may tie branches together or change how the
 * pattern is read: calls, recursion, named backreferences, conditionals,
 * callouts, comments, extended mode, and options set outside any group.
 * `q` is just after "(?". */
static gboolean prefilter_branch_group_ok(const char *q, const char *end, int depth)
{
  char c = q < end ? *q : 0, d = q + 1 < end ? q[1] : 0;
  if (c == ':' || c == '>' || c == '|' || c == '=' || c == '!' || c == '\'' ||
      (c == '<' && d != 0) || (c == 'P' && d == '<'))
    return TRUE; /* groups, lookarounds, named groups */
  const char *options = q;
  while (q < end && (g_ascii_isalpha(*q) || *q == '-' || *q == '^'))
    q++;
  if (q == options || q >= end || (*q != ':' && *q != ')'))
    return FALSE; /* (?1) (?&n) (?R) (?P=n) (?P>n) (?( (?C (?# */
  if (memchr(options, 'x', (gsize)(q - options)) || !prefilter_options_ok(options, q))
    return FALSE;
  return *q == ':' || depth > 0; /* "(?i)" outside a group reaches the later branches */
}

/* Where the top-level '|' of [from, end) are (offsets from `from`, into
 * `bars`); FALSE for anything that may tie branches together. */
static gboolean prefilter_top_bars(const char *from, const char *end, GArray *bars)
{
  int depth = 0;
  for (const char *p = from; p < end; p++) {
    gboolean simple = TRUE;
    if (*p == '\\') {
      if (p + 1 >= end || g_ascii_isdigit(p[1]) || strchr("gkQEGK", p[1]))
        return FALSE; /* backreferences, \Q, \G, and \K, which moves where a match is
                         said to start (p[1] == 0 is found by strchr too) */
      p++;
    } else if (*p == '[') {
      if (!(p = prefilter_class_end(p, end, &simple)))
        return FALSE;
    } else if (*p == '(') {
      if (p + 1 < end && p[1] == '*')
        return FALSE; /* verbs */
      if (p + 1 < end && p[1] == '?' && !prefilter_branch_group_ok(p + 2, end, depth))
        return FALSE;
      depth++;
    } else if (*p == ')') {
      if (--depth < 0)
        return FALSE;
    } else if (*p == '|' && depth == 0) {
      gsize at = (gsize)(p - from);
      g_array_append_val(bars, at);
    }
  }
  return depth == 0;
}

/* [from, end) cut at `bars`, each piece between `prefix` and `suffix`. */
static GPtrArray *prefilter_cut(const char *from, const char *end, const GArray *bars,
                                const char *prefix, gsize prefix_len, const char *suffix,
                                gsize suffix_len)
{
  GPtrArray *pieces = g_ptr_array_new_with_free_func(g_free);
  gsize start = 0;
  for (guint i = 0; i <= bars->len; i++) {
    gsize stop = i < bars->len ? g_array_index(bars, gsize, i) : (gsize)(end - from);
    g_ptr_array_add(pieces, g_strdup_printf("%.*s%.*s%.*s", (int)prefix_len, prefix,
                                            (int)(stop - start), from + start, (int)suffix_len,
                                            suffix));
    start = stop + 1;
  }
  return pieces;
}

/* "\b(?:A|B)R" as "\bAR", "\bBR": the leading zero-width items (\b and
 * lookbehinds) and the rest go with each alternative of the group, which no
 * quantifier may follow. NULL when the pattern is not of that form. */
static GPtrArray *prefilter_distribute(const char *pattern, const char *end)
{
  const char *q = pattern;
  for (;;) {
    if (end - q >= 2 && q[0] == '\\' && q[1] == 'b')
      q += 2;
    else if (end - q > 4 && strncmp(q, "(?<", 3) == 0 && (q[3] == '=' || q[3] == '!'))
      q = prefilter_group_end(q, end);
    else
      break;
    if (!q)
      return NULL;
  }
  if (end - q < 3 || strncmp(q, "(?:", 3) != 0)
    return NULL;
  const char *close = prefilter_group_end(q, end);
  if (!close || (close < end && strchr("?*+{", *close)))
    return NULL;
  g_autoptr(GArray) bars = g_array_new(FALSE, FALSE, sizeof(gsize));
  if (!prefilter_top_bars(q + 3, close - 1, bars) || bars->len == 0 ||
      bars->len >= PREFILTER_BRANCHES_MAX)
    return NULL;
  return prefilter_cut(q + 3, close - 1, bars, pattern, (gsize)(q - pattern), close,
                       (gsize)(end - close));
}

GPtrArray *prefilter_branches(const char *pattern, gsize len, guint32 flags)
{
  if (!prefilter_flags_harmless(flags))
    return NULL;
  const char *end = pattern + len;
  g_autoptr(GArray) bars = g_array_new(FALSE, FALSE, sizeof(gsize));
  if (!prefilter_top_bars(pattern, end, bars))
    return NULL;
  if (bars->len == 0)
    return prefilter_distribute(pattern, end);
  g_autoptr(GPtrArray) top = prefilter_cut(pattern, end, bars, "", 0, "", 0);
  GPtrArray *branches = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < top->len; i++) { /* "(?:a|b)c|d" is "ac|bc|d" */
    const char *piece = g_ptr_array_index(top, i);
    g_autoptr(GPtrArray) spread = prefilter_distribute(piece, piece + strlen(piece));
    if (!spread || branches->len + spread->len + top->len - i - 1 > PREFILTER_BRANCHES_MAX) {
      g_ptr_array_add(branches, g_strdup(piece));
      continue;
    }
    for (guint j = 0; j < spread->len; j++)
      g_ptr_array_add(branches, g_strdup(g_ptr_array_index(spread, j)));
  }
  return branches;
}

/* ---- a lookahead hint ---- */

/* TRUE when the group [open, end) may be copied into a lookahead: no
 * captures, references, calls, verbs, \Q, comments or option settings. */
static gboolean prefilter_hint_copyable(const char *open, const char *end)
{
  for (const char *q = open; q < end; q++) {
    gboolean simple = TRUE;
    if (*q == '\\') {
      if (q + 1 >= end || g_ascii_isdigit(q[1]) || strchr("gkQEGK", q[1]))
        return FALSE;
      q++;
    } else if (*q == '[') {
      if (!(q = prefilter_class_end(q, end, &simple)))
        return FALSE;
    } else if (*q == '(') {
      const char *r = q + 1;
      if (r >= end || *r != '?' || r + 1 >= end)
        return FALSE; /* a capture or a verb */
      char c = r[1], d = r + 2 < end ? r[2] : 0;
      if (!(c == ':' || c == '=' || c == '!' || (c == '<' && (d == '=' || d == '!'))))
        return FALSE;
    }
  }
  return TRUE;
}

char *prefilter_lookahead_hint(const char *pattern, gsize len, guint32 flags)
{
  const guint32 harmless = PCRE2_CASELESS | PCRE2_MULTILINE | PCRE2_DOTALL | PCRE2_UNGREEDY |
                           PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C;
  if ((flags & ~harmless) != 0)
    return NULL;
  const char *end = pattern + len, *q = pattern;
  while (end - q > 4 && strncmp(q, "(?<", 3) == 0 && (q[3] == '=' || q[3] == '!')) {
    const char *after = prefilter_group_end(q, end);
    if (!after || !prefilter_hint_copyable(q, after))
      return NULL;
    q = after;
  }
  if (q == pattern || q >= end)
    return NULL;
  const char *item_end = q;
  if (strncmp(q, "(?:", MIN(3, (gsize)(end - q))) == 0) {
    item_end = prefilter_group_end(q, end);
    if (!item_end || !prefilter_hint_copyable(q, item_end) ||
        (item_end < end && strchr("?*{", *item_end)))
      return NULL;
  } else {
    while (item_end < end && g_ascii_isalnum(*item_end))
      item_end++;
    if (item_end < end && strchr("?*{", *item_end))
      item_end--; /* "neighbou?r": the u may be missing */
    if (item_end <= q)
      return NULL;
  }
  return g_strdup_printf("(?=%.*s)%.*s", (int)(item_end - q), q, (int)len, pattern);
}
