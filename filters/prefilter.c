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
 * the PREFILTER_SETS_MAX most selective of them together (longest shortest
 * literal first): "missed\s+the\s+deadline" needs deadline, missed and the.
 * An alternation unites its branches' most selective sets, and knows
 * nothing if one branch knows nothing. Anchors, \b and negative lookarounds
 * count as empty: they only narrow a match; a positive lookaround adds what
 * it looks for. Whatever the parser cannot prove
 * (backreferences inside sequences count as "anything"; subroutine calls,
 * conditionals, \Q, extended mode, unknown escapes) makes the regex
 * PREFILTER_ALWAYS. Literals are ASCII only: a non-ASCII character in a
 * pattern counts as "any character", so a text's non-ASCII bytes never need
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
 * their first PREFILTER_LITERAL_LONGEST characters.
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
#define PREFILTER_MIN_LENGTH 3    /* shorter literals are in nearly every text */
#define PREFILTER_LITERAL_LONGEST 8 /* longer literals are cut to this length: their
                                       starts are as rare in mail, the automaton a third smaller */
#define PREFILTER_SETS_MAX 4      /* sets of literals one regex needs together */
#define PREFILTER_DEPTH_MAX 100   /* nested groups */
#define PREFILTER_STATE_OUT 0x80000000u

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

/* The length of the shortest string: how selective a required set is. */
static gsize prefilter_set_shortest(const GPtrArray *set)
{
  if (!set || set->len == 0)
    return 0;
  gsize shortest = G_MAXSIZE;
  for (guint i = 0; i < set->len; i++)
    shortest = MIN(shortest, strlen(g_ptr_array_index(set, i)));
  return shortest;
}

/* ---- what a part of a pattern matches ---- */

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
  if (!from || prefilter_set_shortest(from) == 0)
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
  if (set && prefilter_set_shortest(set) > 0)
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

/* The more selective set first: longer shortest literal, then fewer literals. */
static gint prefilter_compare_sets(gconstpointer a, gconstpointer b)
{
  const GPtrArray *x = *(GPtrArray *const *)a, *y = *(GPtrArray *const *)b;
  gsize sx = prefilter_set_shortest(x), sy = prefilter_set_shortest(y);
  if (sx != sy)
    return sx > sy ? -1 : 1;
  return x->len < y->len ? -1 : x->len > y->len ? 1 : 0;
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
  g_ptr_array_sort(needs, prefilter_compare_sets);
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

/* One ASCII character as a literal (lower case), or "any" for a control
 * character. */
static PrefilterInfo prefilter_char(unsigned char c)
{
  if (c < 0x20 || c > 0x7e)
    return prefilter_info_any();
  char s[2] = { (char)g_ascii_tolower(c), 0 };
  return prefilter_info_exact(s);
}

/* Skips one UTF-8 character at ps->p: "any character". */
static PrefilterInfo prefilter_skip_char(PrefilterParse *ps)
{
  ps->p++;
  while (ps->p < ps->end && ((unsigned char)*ps->p & 0xC0) == 0x80)
    ps->p++;
  return prefilter_info_any();
}

/* \x41 or \x{41}: the character, ASCII only. */
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
  return prefilter_char(value < 0x80 ? (unsigned char)value : 0);
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
  if (c && strchr("bBAzZGKE", c))
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
    return prefilter_skip_char(ps);
  }
  return prefilter_char(c);
}

/* The ']' that closes the class opening at `open` ('['), or NULL (also for
 * \Q inside it, which the parser does not read). `*simple` is cleared for
 * anything but plain ASCII letters, digits and a few marks. */
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
      *simple = FALSE;
      q++;
    } else if (*q == '[' && q + 1 < end && q[1] == ':') {
      const char *close = g_strstr_len(q + 2, end - q - 2, ":]");
      if (!close)
        return NULL;
      *simple = FALSE;
      q = close + 1;
    } else if (!g_ascii_isalnum(*q) && *q != ' ' && *q != '\'' && *q != '.' && *q != ',') {
      *simple = FALSE;
    }
  }
  return q < end ? q : NULL;
}

/* A class at ps->p ('['): a small set of plain ASCII characters is an exact
 * set; anything else (ranges, escapes, negation, POSIX names) is "any". */
static PrefilterInfo prefilter_parse_class(PrefilterParse *ps)
{
  gboolean simple = TRUE;
  const char *close = prefilter_class_end(ps->p, ps->end, &simple);
  if (!close)
    return prefilter_fail(ps);
  GPtrArray *set = prefilter_set_new();
  for (const char *c = ps->p + 1; simple && c < close; c++) {
    char s[2] = { g_ascii_tolower(*c), 0 };
    prefilter_set_add(set, s);
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
    return prefilter_skip_char(ps);
  ps->p++;
  return prefilter_char(c);
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
  if (min >= 1 && (out.required = prefilter_info_required(&atom)))
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
    longer[len] = (char)g_ascii_tolower(c);
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

/* `set` as a NULL-terminated array (g_strfreev) when worth looking for,
 * else NULL. */
static char **prefilter_set_strv(const GPtrArray *set)
{
  if (!set || prefilter_set_shortest(set) < PREFILTER_MIN_LENGTH)
    return NULL;
  char **strv = g_new0(char *, set->len + 1);
  for (guint i = 0; i < set->len; i++)
    strv[i] = g_strdup(g_ptr_array_index(set, i));
  return strv;
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

GPtrArray *prefilter_literals(const char *pattern, gsize len, guint32 flags)
{
  if (!prefilter_flags_harmless(flags))
    return NULL;
  PrefilterParse ps = { pattern, pattern + len, FALSE, 0 };
  PrefilterInfo info = prefilter_parse_alternation(&ps, NULL);
  GPtrArray *sets = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
  if (!ps.failed && ps.p == ps.end) {
    GPtrArray *needs = prefilter_needs_new();
    prefilter_needs_add_info(needs, &info);
    g_ptr_array_sort(needs, prefilter_compare_sets);
    for (guint i = 0; i < needs->len; i++) {
      char **strv = prefilter_set_strv(g_ptr_array_index(needs, i));
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
  g_free(prefilter->literal_sets);
  g_free(prefilter->sets_of);
  g_free(prefilter);
}

static guint prefilter_literal_id(Prefilter *prefilter, const char *whole)
{
  g_autofree char *literal = g_strndup(whole, PREFILTER_LITERAL_LONGEST);
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

/* One class per byte that occurs in a literal; A-Z share a-z's. */
static void prefilter_classes(Prefilter *prefilter)
{
  memset(prefilter->classes, 0, sizeof prefilter->classes);
  prefilter->n_classes = 1;
  for (guint i = 0; i < prefilter->literals->len; i++)
    for (const guint8 *b = g_ptr_array_index(prefilter->literals, i); *b; b++)
      if (!prefilter->classes[*b])
        prefilter->classes[*b] = (guint8)prefilter->n_classes++;
  for (guint c = 'A'; c <= 'Z'; c++)
    prefilter->classes[c] = prefilter->classes[c + ('a' - 'A')];
}

/* The trie of the literals: delta (0 = no edge yet) and, per state, the
 * literal ending there plus one (0 = none). */
static void prefilter_trie(Prefilter *prefilter, GArray *delta, GArray *ends)
{
  guint k = prefilter->n_classes;
  g_array_set_size(delta, k);
  g_array_set_size(ends, 1);
  for (guint i = 0; i < prefilter->literals->len; i++) {
    guint32 state = 0;
    for (const guint8 *b = g_ptr_array_index(prefilter->literals, i); *b; b++) {
      guint cell = state * k + prefilter->classes[*b];
      if (!g_array_index(delta, guint32, cell)) {
        guint32 added = ends->len;
        g_array_set_size(delta, (added + 1) * k);
        g_array_set_size(ends, added + 1);
        g_array_index(delta, guint32, cell) = added;
      }
      state = g_array_index(delta, guint32, cell);
    }
    g_array_index(ends, guint, state) = i + 1;
  }
}

/* Aho-Corasick: breadth first, each state's missing edges become its
 * failure state's, and its literals are its own plus its failure state's. */
static void prefilter_links(Prefilter *prefilter, guint32 *delta, const guint *ends)
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
    if (ends[s]) {
      guint literal = ends[s] - 1;
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
  prefilter_classes(prefilter);
  g_autoptr(GArray) delta = g_array_new(FALSE, TRUE, sizeof(guint32));
  g_autoptr(GArray) ends = g_array_new(FALSE, TRUE, sizeof(guint));
  prefilter_trie(prefilter, delta, ends);
  prefilter->n_states = ends->len;
  if ((guint64)prefilter->n_states * prefilter->n_classes >= PREFILTER_STATE_OUT) {
    prefilter->disabled = TRUE; /* rows would not fit beside the flag bit */
    return;
  }
  prefilter_links(prefilter, (guint32 *)(void *)delta->data, (const guint *)(void *)ends->data);
  for (guint i = 0; i < delta->len; i++) {
    guint32 *cell = &g_array_index(delta, guint32, i);
    gboolean out = prefilter->out_start[2 * *cell + 1] != 0;
    *cell = *cell * prefilter->n_classes | (out ? PREFILTER_STATE_OUT : 0);
  }
  prefilter->delta = (guint32 *)(void *)g_array_free(g_steal_pointer(&delta), FALSE);
}

/* The class of U+017F (long s, C5 BF) and U+212A (Kelvin, E2 84 AA), which
 * PCRE2 matches caselessly with s and k; 0 for any other character. Moves
 * `*at` past the character's continuation bytes. */
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
  return 0;
}

/* Marks the literals ending at `state`, and the first time a literal is
 * seen, every set it belongs to. */
static void prefilter_mark(const Prefilter *prefilter, guint32 state, PrefilterSeen *seen)
{
  const guint *out = prefilter->out_literals + prefilter->out_start[2 * state];
  for (guint i = 0; i < prefilter->out_start[2 * state + 1]; i++) {
    guint64 bit = G_GUINT64_CONSTANT(1) << (out[i] % 64);
    if (seen[out[i] / 64] & bit)
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

/* Reads the next byte (or character U+017F / U+212A) of `walk`. */
static inline void prefilter_walk_step(const Prefilter *prefilter, PrefilterWalk *walk,
                                       PrefilterSeen *seen)
{
  guint8 c = *walk->s++;
  guint class = prefilter->classes[c];
  if (G_UNLIKELY(c == 0xC5 || c == 0xE2))
    class = prefilter_special_class(prefilter, &walk->s, walk->end, c);
  guint32 next = prefilter->delta[walk->row + class];
  walk->row = next & ~PREFILTER_STATE_OUT;
  if (G_UNLIKELY(next & PREFILTER_STATE_OUT))
    prefilter_mark(prefilter, walk->row / prefilter->n_classes, seen);
}

/* A literal takes at most this many bytes of text: three per character
 * (U+212A is read as k). */
#define PREFILTER_LITERAL_BYTES (3 * PREFILTER_LITERAL_LONGEST)
/* Texts shorter than this are walked once, from the start. */
#define PREFILTER_SPLIT_MIN 256

PrefilterSeen *prefilter_scan(const Prefilter *prefilter, const char *text, gsize len)
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
  PrefilterWalk first = { start, end, 0 }, second = { end, end, 0 };
  if (len >= PREFILTER_SPLIT_MIN) {
    first.end = start + len / 2;
    second.s = first.end - PREFILTER_LITERAL_BYTES;
    while (second.s > start && (*second.s & 0xC0) == 0x80)
      second.s--;
  }
  while (first.s < first.end && second.s < second.end) {
    prefilter_walk_step(prefilter, &first, seen);
    prefilter_walk_step(prefilter, &second, seen);
  }
  while (first.s < first.end)
    prefilter_walk_step(prefilter, &first, seen);
  while (second.s < second.end)
    prefilter_walk_step(prefilter, &second, seen);
  return seen;
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

/* The words after a head, as a Bloom filter of (head, first two characters
 * of the next word): 2^16 bits, 8 KB, which stays in the first-level cache. */
#define PREFILTER_NEXT_BITS 16

typedef struct {
  char *word;     /* owned, lower case; NULL = a free slot */
  guint32 hash;
  guint16 len;
  guint16 any_next; /* a phrase of this head goes on in a way the filter cannot tell */
  guint32 lists;
} PrefilterHeadSlot;

struct _PrefilterHeads {
  PrefilterHeadSlot *slots; /* owned, open addressing, n_slots a power of two */
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
  return heads;
}

void prefilter_heads_free(PrefilterHeads *heads)
{
  if (!heads)
    return;
  for (guint i = 0; i < heads->n_slots; i++)
    g_free(heads->slots[i].word);
  g_free(heads->slots);
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

/* TRUE when `word` (`len` ASCII letters and digits, any case) is `head`. */
static gboolean prefilter_head_is(const char *head, const guint8 *word, gsize len)
{
  const guint8 *fold = prefilter_heads_fold();
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
                        prefilter_head_is(slot->word, word, len)))
      return slot;
  }
}

/* Doubles the table (kept at most half full). */
static void prefilter_heads_grow(PrefilterHeads *heads)
{
  PrefilterHeadSlot *old = heads->slots;
  guint n_old = heads->n_slots;
  heads->n_slots *= 2;
  heads->slots = g_new0(PrefilterHeadSlot, heads->n_slots);
  for (guint i = 0; i < n_old; i++)
    if (old[i].word)
      *prefilter_head_slot(heads, (const guint8 *)old[i].word, old[i].len, old[i].hash) = old[i];
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
    *slot = (PrefilterHeadSlot){ g_ascii_strdown(head, (gssize)len), hash, (guint16)len, 0, 0 };
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
  prefilter_heads_put(heads, head, len, list)->any_next = TRUE;
}

/* What follows a head in a phrase, as a key of the filter: the phrase ends
 * (PREFILTER_NEXT_END), goes on with one ASCII punctuation character
 * (that character and PREFILTER_NEXT_PUNCT), or with white space and a word
 * starting with `c1` `c2` (ASCII letters or digits, lower case; `c2` is 0
 * when the word ends after `c1` or goes on with ASCII punctuation). */
#define PREFILTER_NEXT_END 0, 0
#define PREFILTER_NEXT_PUNCT 0xFF

/* The filter bit of a head (its hash) followed by (`c1`, `c2`). */
static guint prefilter_next_bit(guint32 head_hash, guint8 c1, guint8 c2)
{
  guint32 key = (head_hash ^ ((guint32)c1 << 8 | c2)) * 0x9E3779B1u;
  return key >> (32 - PREFILTER_NEXT_BITS);
}

static void prefilter_next_set(PrefilterHeads *heads, guint32 head_hash, guint8 c1, guint8 c2)
{
  guint bit = prefilter_next_bit(head_hash, c1, c2);
  heads->next[bit / 64] |= G_GUINT64_CONSTANT(1) << (bit % 64);
}

static gboolean prefilter_next_has(const PrefilterHeads *heads, guint32 head_hash, guint8 c1,
                                   guint8 c2)
{
  guint bit = prefilter_next_bit(head_hash, c1, c2);
  return (heads->next[bit / 64] >> (bit % 64)) & 1;
}

static gboolean prefilter_is_ascii_space(guint8 c)
{
  return c == ' ' || (c >= '\t' && c <= '\r'); /* \t \n \v \f \r: PCRE2's ASCII \s */
}

/* Records in the filter how `rest` (the phrase after its head, lower case)
 * goes on; marks the slot when the filter cannot tell: a dash (which the
 * trie also matches with white space), or anything not ASCII. */
static void prefilter_heads_note_next(PrefilterHeads *heads, PrefilterHeadSlot *slot,
                                      const guint8 *rest)
{
  if (*rest == 0) {
    prefilter_next_set(heads, slot->hash, PREFILTER_NEXT_END);
  } else if (*rest == ' ' || *rest == '\t') { /* the trie's "\s+" */
    while (*rest == ' ' || *rest == '\t')
      rest++;
    if (!g_ascii_isalnum(rest[0]) || rest[1] >= 0x80)
      slot->any_next = TRUE;
    else
      prefilter_next_set(heads, slot->hash, rest[0], g_ascii_isalnum(rest[1]) ? rest[1] : 0);
  } else if (*rest < 0x80 && *rest != '-') {
    prefilter_next_set(heads, slot->hash, *rest, PREFILTER_NEXT_PUNCT);
  } else {
    slot->any_next = TRUE;
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
  prefilter_heads_note_next(heads, slot, (const guint8 *)lower + len);
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

/* FALSE when no phrase of `slot`'s head can go on as the text does at `s`,
 * just after the head word (a byte that is no ASCII letter or digit, or the
 * end): the filter is asked for each way the text may go on. A non-ASCII
 * byte there may be white space, a dash or a letter the trie matches, and
 * a non-ASCII byte where the next word starts may be a letter it matches:
 * neither is ruled out. */
static gboolean prefilter_head_may_go_on(const PrefilterHeads *heads,
                                         const PrefilterHeadSlot *slot, const guint8 *s,
                                         const guint8 *end)
{
  if (slot->any_next || (s < end && *s >= 0x80))
    return TRUE;
  guint32 hash = slot->hash;
  if (s == end || *s != '_') /* no word character: a phrase may end here */
    if (prefilter_next_has(heads, hash, PREFILTER_NEXT_END))
      return TRUE;
  if (s == end)
    return FALSE;
  if (!prefilter_is_ascii_space(*s))
    return prefilter_next_has(heads, hash, *s, PREFILTER_NEXT_PUNCT);
  while (s < end && prefilter_is_ascii_space(*s))
    s++;
  if (s == end)
    return FALSE;
  if (*s >= 0x80 || (s + 1 < end && s[1] >= 0x80))
    return TRUE;
  const guint8 *fold = prefilter_heads_fold();
  guint8 c1 = fold[s[0]], c2 = s + 1 < end ? fold[s[1]] : 0;
  return c1 != 0 && prefilter_next_has(heads, hash, c1, c2);
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
    const PrefilterHeadSlot *slot = prefilter_head_slot(heads, word, word_len, hash);
    if (slot->word && prefilter_head_may_go_on(heads, slot, s, end)) {
      PrefilterHead head = { (guint32)(word - (const guint8 *)text), slot->lists };
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
