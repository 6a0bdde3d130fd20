/* filters/deadlines.c: when is something due? The one place deadlines are
 * found and resolved: for instructions (deadline_find), promises, and the
 * scoring signal deadline_days (deadline_nearest, via signals.c). Finds
 * deadline phrases with the regex rules of rules/deadlines.rules and resolves
 * their named captures against the message's Date, in the client's time zone
 * (the VA's for the signal), to a local time.
 *
 * How it works: every rule in the file is a regex with named captures
 * (weekday, next, relative, day, month, year, numeric, hour, minute, ampm,
 * part, week, asap, undated; see DeadlinePhrase in deadlines.h). The C here
 * knows nothing about English: it only turns captures into a date. A phrase
 * with no date part is "today" (or tomorrow when that time has passed); a
 * weekday is the next one on or after the message's day (the same day when
 * its time has not passed, else a week on); "next Friday" is the Friday of
 * next week; a day of the month with no month is the next such day; a date
 * that cannot be is none.
 * A date with no time is ctx->day_end_min (17:00, as the dev corpus labels it).
 * Dates are always built with g_date_time_new() in the client's zone from a
 * GDate, never by adding seconds, so a deadline after a clock change stays on
 * the local time that was meant.
 *
 * The rule files are compiled by the rules engine (filters/rules.h, the same
 * language and `file:line:col` errors as every other rule file); the first
 * part of this file turns a compiled RuleSet into a flat list of regexes with
 * their dimension and points, shared with instructions.c.
 *
 * deadline_nearest() reads only the rules of the signal's points (`dimension
 * deadline flag >= N`), and only the stretches of the text around the matches
 * of the rule that adds to `window` (when there is one): a long message costs
 * a few short reads, not one whole read per rule. A rule whose every branch
 * starts with \b and a word (its heads: "\b(?:by|before|until)\s+..." has
 * by, before and until), the window rule among them, is tried, anchored,
 * only where a word of the text starts with one of its heads; one pass over
 * a text finds those places for all such rules at once. Every text (and
 * every stretch) is also searched once for the literals the rules need (the
 * rule file's prefilter, filters/prefilter.h): a rule whose literals are not
 * there is not run.
 *
 * Must never: read files, look at the clock, or touch the network.
 */
#include "filters/deadlines.h"

#include <string.h>

#include "filters/rules.h"

G_DEFINE_QUARK(keel-deadline-error-quark, keel_deadline_error)


void deadline_context_init(DeadlineContext *ctx)
{
  ctx->timezone = NULL;
  ctx->month_first = FALSE;
  ctx->business_start_min = 9 * 60;
  ctx->business_end_min = 17 * 60 + 30;
  ctx->day_end_min = 17 * 60;
}

/* ============ rule files: a flat view of a RuleSet (filters/rules.h) ============ */

static void lite_rule_free(gpointer data)
{
  LiteRule *rule = data;
  g_free(rule->name);
  g_free(rule->dimension);
  g_free(rule->why);
  g_free(rule);
}

void lite_rules_free(LiteRuleSet *set)
{
  if (set == NULL)
    return;
  g_ptr_array_unref(set->rules);
  g_hash_table_unref(set->thresholds);
  rules_free(set->compiled);
  g_free(set);
}

/* One view per `look` of a rule or phrase list that has a regex (signal looks
 * and `when` rules have none and mean nothing to the extractors). */
static void lite_rules_add_views(LiteRuleSet *set, const RulesRule *rule)
{
  const RulesDimension *dimension = NULL;
  double points = 0;
  if (rule->adds != NULL && rule->adds->len > 0) {
    RulesAdd add = g_array_index(rule->adds, RulesAdd, 0);
    dimension = g_ptr_array_index(set->compiled->dimensions, add.dimension);
    points = add.points;
  }
  for (guint i = 0; rule->looks != NULL && i < rule->looks->len; i++) {
    const RulesLook *look = g_ptr_array_index(rule->looks, i);
    if (look->code == NULL)
      continue;
    guint32 captures = 0;
    pcre2_pattern_info(look->code, PCRE2_INFO_CAPTURECOUNT, &captures);
    set->max_captures = MAX(set->max_captures, captures);
    LiteRule *view = g_new0(LiteRule, 1);
    view->name = g_strdup(rule->name);
    view->line = rule->line;
    view->code = look->code;
    view->context = set->compiled->match_context;
    view->dimension = g_strdup(dimension != NULL ? dimension->name : "");
    view->points = (int)points;
    view->why = g_strdup(rule->why != NULL ? rule->why : "");
    view->prefilter = look->prefilter;
    g_ptr_array_add(set->rules, view);
  }
}

LiteRuleSet *lite_rules_read(const char *text, const char *file_name, GError **error)
{
  const char *const names[] = {file_name};
  const char *const texts[] = {text};
  RuleSet *compiled = rules_compile_unscored(names, texts, 1, error);
  if (compiled == NULL)
    return NULL;
  LiteRuleSet *set = g_new0(LiteRuleSet, 1);
  set->compiled = compiled;
  set->rules = g_ptr_array_new_with_free_func(lite_rule_free);
  set->thresholds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < compiled->dimensions->len; i++) {
    const RulesDimension *dimension = g_ptr_array_index(compiled->dimensions, i);
    g_hash_table_replace(set->thresholds, g_strdup(dimension->name),
                         GINT_TO_POINTER((int)dimension->flag_at));
  }
  for (guint i = 0; i < rules_count(compiled); i++)
    lite_rules_add_views(set, rules_get(compiled, i));
  return set;
}

pcre2_match_data *lite_rules_match_data(const LiteRuleSet *set)
{
  return pcre2_match_data_create(set->max_captures + 1, NULL);
}

int lite_rule_match(const LiteRule *rule, const char *subject, gsize start,
                    pcre2_match_data *match, GError **error)
{
  return lite_rule_match_with(rule, subject, start, 0, match, error);
}

/* lite_rule_match_with() on the `len` bytes at `subject` (no NUL needed). */
static int lite_rule_match_in(const LiteRule *rule, const char *subject, gsize len, gsize start,
                              guint32 options, pcre2_match_data *match, GError **error)
{
  int rc = pcre2_match(rule->code, (PCRE2_SPTR)subject, len, start, options, match, rule->context);
  if (rc >= 0)
    return 1;
  if (rc == PCRE2_ERROR_NOMATCH)
    return 0;
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(rc, buffer, sizeof buffer);
  g_set_error(error, KEEL_DEADLINE_ERROR, KEEL_DEADLINE_ERROR_MATCH, "rule %s (line %d): %s",
              rule->name, rule->line, (const char *)buffer);
  return -1;
}

int lite_rule_match_with(const LiteRule *rule, const char *subject, gsize start,
                         guint32 options, pcre2_match_data *match, GError **error)
{
  return lite_rule_match_in(rule, subject, strlen(subject), start, options, match, error);
}

char *lite_rule_capture(const LiteRule *rule, const char *subject, pcre2_match_data *match,
                        const char *group)
{
  int number = pcre2_substring_number_from_name(rule->code, (PCRE2_SPTR)group);
  if (number < 0)
    return NULL;
  PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(match);
  if ((uint32_t)number >= pcre2_get_ovector_count(match) || ovector[2 * number] == PCRE2_UNSET)
    return NULL;
  return g_strndup(subject + ovector[2 * number], ovector[2 * number + 1] - ovector[2 * number]);
}

/* ======================= end of the rule-file view ======================= */

/* Where the matches of some rules can start (see "heads" below): at a word
 * (no ASCII letter, digit or _ before it) that begins, ignoring ASCII case,
 * with one of their heads. Each head carries the rules (bits) it starts. */
typedef struct {
  GPtrArray *heads;      /* owned, of char*: lower-case ASCII letters and digits, sorted;
                            NULL: no heads known */
  GArray *masks;         /* owned, of guint64: per head, the bits of the rules it starts */
  guint16 first[256];    /* for a byte (either case) that starts a head, 1 + the index
                            of the first such head in `heads`; else 0 */
  guint8 bytes[256];     /* DEADLINE_BYTE_* flags of each byte */
  guint32 triples[32 * 32 * 32 / 32]; /* deadline_triple(): a head may start so */
} DeadlineHeads;

/* A place a match of some rules can start: its offset and their bits. */
typedef struct {
  gsize at;
  guint64 rules;
} DeadlineStart;

struct _DeadlineRules {
  gatomicrefcount refs;   /* the RuleSet (deadline_days) and the extractors share one */
  LiteRuleSet *set;       /* owned */
  const LiteRule *window; /* in `set`, may be NULL: the rule that adds to `window` */
  /* Where the window rule's matches can start (deadline_window_heads()):
   * NULL `window_anchored` when not known, and the rule reads whole texts. */
  pcre2_code *window_anchored; /* owned: the window rule's regex, PCRE2_ANCHORED */
  DeadlineHeads window_heads;  /* its heads, bit 0 */
  /* The other rules with heads (deadline_rules_heads()), tried only there: */
  pcre2_code **anchored;       /* owned, per rule of `set`: its regex, PCRE2_ANCHORED, or NULL */
  guint64 *head_bits;          /* owned, per rule of `set`: its bit in `heads`, or 0 */
  DeadlineHeads heads;
};

/* What a byte is to deadline_heads_starts(). */
enum {
  DEADLINE_BYTE_WORD = 1, /* an ASCII letter, digit or _ */
  DEADLINE_BYTE_HEAD = 2, /* starts a head, ignoring ASCII case */
  DEADLINE_BYTE_HIGH = 4  /* 0x80 or above: part of a non-ASCII character */
};

/* The dimension of the rule that marks where deadline phrases can be. */
#define DEADLINE_WINDOW_DIMENSION "window"

static gboolean deadline_rule_is_window(const LiteRule *rule)
{
  return strcmp(rule->dimension, DEADLINE_WINDOW_DIMENSION) == 0;
}

/* ---- the window rule's heads: where its matches can start ----
 * The window rule is read over every message, and PCRE2 tries it at each of
 * the many letters its matches can start with. When every top-level branch
 * of its regex (prefilter_branches(), split again while they split) starts
 * with \b and a word of ASCII letters or digits, its "head", a match can only
 * start where such a word starts (the byte before is no ASCII letter, digit
 * or _) whose first bytes are, ignoring ASCII case, a head. So one pass over
 * the text finds those few places, and the regex, compiled anchored, is tried
 * at each in turn: the first that matches is the match PCRE2 would find. */

/* Top-level branches past this many: the window rule reads whole texts. */
#define DEADLINE_WINDOW_HEADS_MAX 64

/* The head of one branch: the ASCII letters and digits after a leading \b,
 * less a last one a quantifier makes optional ("mon" of "\bmon(?:day)?",
 * "tu" of "\btue?"); NULL when there are none, or when the branch may hold
 * a top-level | (not split by prefilter_branches()): an | in it outside
 * brackets, or \Q, or # (a comment). NULL too with \G or a verb ((*SKIP),
 * (*COMMIT)): they tie a match to where PCRE2's search began, which an
 * anchored try at each head would not do. */
static char *deadline_branch_head(const char *branch)
{
  if (!g_str_has_prefix(branch, "\\b") || strstr(branch, "\\Q") || strchr(branch, '#') ||
      strstr(branch, "\\G") || strstr(branch, "(*"))
    return NULL;
  int depth = 0;
  gboolean in_class = FALSE;
  for (const char *p = branch; *p; p++) {
    if (*p == '\\' && p[1] != '\0')
      p++;
    else if (in_class)
      in_class = *p != ']';
    else if (*p == '[')
      in_class = TRUE, p += p[1] == '^', p += p[1] == ']';
    else if (*p == '(' || *p == ')')
      depth += *p == '(' ? 1 : -1;
    else if (*p == '|' && depth == 0)
      return NULL;
  }
  const char *word = branch + 2, *end = word;
  while (g_ascii_isalnum(*end))
    end++;
  if (end > word && strchr("?*{", *end) != NULL && *end != '\0')
    end--;
  return end > word ? g_ascii_strdown(word, end - word) : NULL;
}

/* Adds the heads of every branch of `pattern` to `heads`, splitting the
 * branches that split; FALSE when one has no head. */
static gboolean deadline_pattern_heads(const char *pattern, guint32 flags, GPtrArray *heads)
{
  g_autoptr(GPtrArray) branches = prefilter_branches(pattern, strlen(pattern), flags);
  if (branches == NULL) {
    char *head = deadline_branch_head(pattern);
    if (head != NULL)
      g_ptr_array_add(heads, head);
    return head != NULL && heads->len <= DEADLINE_WINDOW_HEADS_MAX;
  }
  for (guint i = 0; i < branches->len; i++)
    if (!deadline_pattern_heads(g_ptr_array_index(branches, i), flags, heads))
      return FALSE;
  return TRUE;
}

/* The look of `compiled` whose regex is `code`, or NULL. */
static const RulesLook *deadline_find_look(const RuleSet *compiled, const pcre2_code *code)
{
  for (guint i = 0; i < rules_count(compiled); i++) {
    const RulesRule *rule = rules_get(compiled, i);
    for (guint j = 0; rule->looks != NULL && j < rule->looks->len; j++)
      if (((const RulesLook *)g_ptr_array_index(rule->looks, j))->code == code)
        return g_ptr_array_index(rule->looks, j);
  }
  return NULL;
}

/* The bit of the first three bytes a, b, c of a word in `triples`: the
 * low five bits of each, so that a letter of either case has one bit (other
 * bytes may share it: a word that shares one is only compared in full). */
static guint deadline_triple(guchar a, guchar b, guchar c)
{
  return (guint)(a & 31) << 10 | (guint)(b & 31) << 5 | (c & 31);
}

static void deadline_triple_set(DeadlineHeads *h, guint bit)
{
  h->triples[bit / 32] |= 1u << (bit % 32);
}

/* Records `head`, the `index`th of the sorted heads, in the tables that
 * deadline_heads_starts() reads. */
static void deadline_heads_index(DeadlineHeads *h, const char *head, guint index)
{
  guchar first = (guchar)head[0], upper = (guchar)g_ascii_toupper(head[0]);
  h->first[first] = h->first[upper] = (guint16)(index + 1);
  h->bytes[first] |= DEADLINE_BYTE_HEAD;
  h->bytes[upper] |= DEADLINE_BYTE_HEAD;
  for (guint b = 0; b < 32; b++) /* a head shorter than 3: any byte may follow it */
    for (guint c = 0; c < 32; c++)
      if ((head[1] == '\0' || b == ((guchar)head[1] & 31u)) &&
          (head[1] == '\0' || head[2] == '\0' || c == ((guchar)head[2] & 31u)))
        deadline_triple_set(h, deadline_triple(first, (guchar)b, (guchar)c));
}

static int deadline_head_compare(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Adds (copies of) `heads`, of char*, as the heads of the rule `bit`. */
static void deadline_heads_add(DeadlineHeads *h, GPtrArray *heads, guint64 bit)
{
  if (h->heads == NULL) {
    h->heads = g_ptr_array_new_with_free_func(g_free);
    h->masks = g_array_new(FALSE, TRUE, sizeof(guint64));
  }
  for (guint i = 0; i < heads->len; i++) {
    g_ptr_array_add(h->heads, g_strdup(g_ptr_array_index(heads, i)));
    g_array_append_val(h->masks, bit);
  }
}

/* Sorts the heads (one entry per distinct head, its rules' bits merged)
 * and fills the tables. */
static void deadline_heads_finish(DeadlineHeads *h)
{
  if (h->heads == NULL)
    return;
  g_autoptr(GHashTable) bits = g_hash_table_new(g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) sorted = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < h->heads->len; i++) {
    char *head = g_ptr_array_index(h->heads, i);
    guint64 *merged = g_hash_table_lookup(bits, head);
    if (merged == NULL) {
      g_ptr_array_add(sorted, g_strdup(head));
      g_hash_table_insert(bits, head, &g_array_index(h->masks, guint64, i));
    } else {
      *merged |= g_array_index(h->masks, guint64, i);
    }
  }
  g_ptr_array_sort(sorted, deadline_head_compare);
  g_autoptr(GArray) masks = g_array_new(FALSE, TRUE, sizeof(guint64));
  for (guint i = 0; i < sorted->len; i++)
    g_array_append_val(masks, *(guint64 *)g_hash_table_lookup(bits, sorted->pdata[i]));
  g_hash_table_remove_all(bits);
  g_ptr_array_unref(h->heads);
  g_array_unref(h->masks);
  h->heads = g_steal_pointer(&sorted);
  h->masks = g_steal_pointer(&masks);
  for (guint i = h->heads->len; i-- > 0;)
    deadline_heads_index(h, g_ptr_array_index(h->heads, i), i);
  for (guint byte = 0; byte < 256; byte++)
    h->bytes[byte] |= (g_ascii_isalnum(byte) || byte == '_' ? DEADLINE_BYTE_WORD : 0) |
                      (byte >= 0x80 ? DEADLINE_BYTE_HIGH : 0);
}

static void deadline_heads_clear(DeadlineHeads *h)
{
  g_clear_pointer(&h->heads, g_ptr_array_unref);
  g_clear_pointer(&h->masks, g_array_unref);
}

/* The heads of the look whose regex is `code`, and the regex compiled
 * PCRE2_ANCHORED (JIT-compiled); FALSE when its matches may start elsewhere
 * than at a head. */
static gboolean deadline_rule_heads(const RuleSet *compiled, const pcre2_code *code,
                                    GPtrArray *heads, pcre2_code **anchored)
{
  const RulesLook *look = deadline_find_look(compiled, code);
  guint32 options = 0;
  if (look == NULL || look->pattern == NULL || (look->flags & PCRE2_EXTENDED) ||
      pcre2_pattern_info(look->code, PCRE2_INFO_ARGOPTIONS, &options) != 0 ||
      !deadline_pattern_heads(look->pattern, look->flags, heads))
    return FALSE;
  int error = 0;
  PCRE2_SIZE offset = 0;
  *anchored = pcre2_compile((PCRE2_SPTR)look->pattern, PCRE2_ZERO_TERMINATED,
                            options | PCRE2_ANCHORED, &error, &offset, NULL);
  if (*anchored == NULL)
    return FALSE;
  pcre2_jit_compile(*anchored, PCRE2_JIT_COMPLETE);
  return TRUE;
}

/* Sets the heads of the window rule and its anchored regex, when it has them
 * (else the window rule reads whole texts: slower, the same stretches). */
static void deadline_window_heads(DeadlineRules *rules)
{
  g_autoptr(GPtrArray) heads = g_ptr_array_new_with_free_func(g_free);
  if (!deadline_rule_heads(rules->set->compiled, rules->window->code, heads,
                           &rules->window_anchored))
    return;
  deadline_heads_add(&rules->window_heads, heads, 1);
  deadline_heads_finish(&rules->window_heads);
}

/* The other rules whose every match starts at a head (the first 64 of
 * them): each is tried, anchored, at its heads only (deadline_scan()). A
 * scan of a text finds the heads of all of them in one pass. */
static void deadline_rules_heads(DeadlineRules *rules)
{
  guint n = rules->set->rules->len, bits = 0;
  rules->anchored = g_new0(pcre2_code *, n + 1);
  rules->head_bits = g_new0(guint64, n + 1);
  for (guint i = 0; i < n && bits < 64; i++) {
    const LiteRule *rule = g_ptr_array_index(rules->set->rules, i);
    g_autoptr(GPtrArray) heads = g_ptr_array_new_with_free_func(g_free);
    if (rule == rules->window ||
        !deadline_rule_heads(rules->set->compiled, rule->code, heads, &rules->anchored[i]))
      continue;
    rules->head_bits[i] = G_GUINT64_CONSTANT(1) << bits++;
    deadline_heads_add(&rules->heads, heads, rules->head_bits[i]);
  }
  deadline_heads_finish(&rules->heads);
}

DeadlineRules *deadline_rules_compile(const char *text, const char *file_name, GError **error)
{
  LiteRuleSet *set = lite_rules_read(text, file_name, error);
  if (set == NULL)
    return NULL;
  DeadlineRules *rules = g_new0(DeadlineRules, 1);
  g_atomic_ref_count_init(&rules->refs);
  rules->set = set;
  for (guint i = 0; i < set->rules->len && rules->window == NULL; i++)
    if (deadline_rule_is_window(g_ptr_array_index(set->rules, i)))
      rules->window = g_ptr_array_index(set->rules, i);
  if (rules->window != NULL)
    deadline_window_heads(rules);
  deadline_rules_heads(rules);
  return rules;
}

DeadlineRules *deadline_rules_ref(DeadlineRules *rules)
{
  g_atomic_ref_count_inc(&rules->refs);
  return rules;
}

void deadline_rules_free(DeadlineRules *rules)
{
  if (rules == NULL || !g_atomic_ref_count_dec(&rules->refs))
    return;
  g_clear_pointer(&rules->window_anchored, pcre2_code_free);
  deadline_heads_clear(&rules->window_heads);
  for (guint i = 0; rules->anchored != NULL && i < rules->set->rules->len; i++)
    g_clear_pointer(&rules->anchored[i], pcre2_code_free);
  g_free(rules->anchored);
  g_free(rules->head_bits);
  deadline_heads_clear(&rules->heads);
  lite_rules_free(rules->set);
  g_free(rules);
}

void deadline_clear(Deadline *deadline)
{
  g_clear_pointer(&deadline->when, g_date_time_unref);
  g_clear_pointer(&deadline->rule, g_free);
  deadline->precision = DEADLINE_NONE;
  deadline->urgency = 0;
  deadline->weight = 0;
  deadline->offset = 0;
  deadline->length = 0;
}

/* ---- resolution: captures -> a local date and time ---- */

/* 1 = Monday ... 7 = Sunday, 0 when not a weekday name. */
static int deadline_weekday_number(const char *name)
{
  static const char *const prefixes[] = {"mo", "tu", "we", "th", "fr", "sa", "su"};
  g_autofree char *lower = g_ascii_strdown(name, -1);
  for (int i = 0; i < 7; i++)
    if (g_str_has_prefix(lower, prefixes[i]))
      return i + 1;
  return 0;
}

/* 1..12, or 0 when `text` is neither a month number nor a month name. */
static int deadline_month_number(const char *text)
{
  static const char *const names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                      "jul", "aug", "sep", "oct", "nov", "dec"};
  guint64 number = 0;
  if (g_ascii_string_to_unsigned(text, 10, 1, 12, &number, NULL))
    return (int)number;
  g_autofree char *lower = g_ascii_strdown(text, -1);
  for (int i = 0; i < 12; i++)
    if (g_str_has_prefix(lower, names[i]))
      return i + 1;
  return 0;
}

static int deadline_leading_number(const char *text)
{
  return text != NULL ? (int)g_ascii_strtoll(text, NULL, 10) : 0;
}

/* The next `day` of a month on or after `today` (this month, else the next). */
static gboolean deadline_day_of_month(GDate *date, const GDate *today, int day, int month, int year)
{
  int y = year > 0 ? year : g_date_get_year(today);
  int m = month > 0 ? month : (int)g_date_get_month(today);
  if (month == 0 && day < g_date_get_day(today))
    m++;
  if (m > 12) {
    m = 1;
    y++;
  }
  if (!g_date_valid_dmy(day, m, y))
    return FALSE;
  g_date_set_dmy(date, day, m, y);
  if (year == 0 && g_date_days_between(today, date) < -31)
    g_date_add_years(date, 1);
  return TRUE;
}

/* "03/12[/2026]" in the client's date order. */
static gboolean deadline_numeric_date(GDate *date, const GDate *today, const char *text,
                                      gboolean month_first)
{
  g_auto(GStrv) parts = g_strsplit_set(text, "/.-", 3);
  if (parts[0] == NULL || parts[1] == NULL)
    return FALSE;
  int a = deadline_leading_number(parts[0]);
  int b = deadline_leading_number(parts[1]);
  int year = parts[2] != NULL ? deadline_leading_number(parts[2]) : 0;
  if (year > 0 && year < 100)
    year += 2000;
  int day = month_first ? b : a;
  int month = month_first ? a : b;
  if (month > 12 && day >= 1 && day <= 12) { /* "4/24" can only be 24 April */
    int swap = day;
    day = month;
    month = swap;
  }
  if (month < 1 || month > 12)
    return FALSE;
  return deadline_day_of_month(date, today, day, month, year);
}

/* Days from `today` to weekday `wd` (1..7), or into next week with `next`.
 * "by Monday" said on a Monday is today (0); deadline_resolve() moves it a
 * week on when its time has already passed. */
static int deadline_days_to_weekday(const GDate *today, int wd, gboolean next)
{
  int now = g_date_get_weekday(today); /* 1 = Monday */
  if (next)
    return 7 - now + wd;
  return (wd - now + 7) % 7;
}

/* A day of the month or a numeric date of `phrase` into `date`; an impossible
 * one ("31 April", "13/13") leaves `date` invalid: no deadline, not today. */
static gboolean deadline_calendar_date(const DeadlinePhrase *phrase, const GDate *today,
                                       const DeadlineContext *ctx, GDate *date)
{
  gboolean valid;
  if (phrase->numeric != NULL) {
    valid = deadline_numeric_date(date, today, phrase->numeric, ctx->month_first);
  } else {
    int month = phrase->month != NULL ? deadline_month_number(phrase->month) : 0;
    int year = deadline_leading_number(phrase->year);
    valid = deadline_day_of_month(date, today, deadline_leading_number(phrase->day), month,
                                  year > 0 && year < 100 ? year + 2000 : year);
  }
  if (!valid)
    g_date_clear(date, 1);
  return valid;
}

/* Sets `date` from the date parts of `phrase`; FALSE when the phrase names no
 * date (a time alone: today). `*weekday_only` says the day may roll a week. */
static gboolean deadline_phrase_date(const DeadlinePhrase *phrase, const GDate *today,
                                     const DeadlineContext *ctx, GDate *date,
                                     gboolean *weekday_only)
{
  *date = *today;
  *weekday_only = FALSE;
  if (phrase->numeric != NULL || phrase->day != NULL)
    return deadline_calendar_date(phrase, today, ctx, date);
  if (phrase->monthend != NULL) {
    if (g_ascii_strncasecmp(phrase->monthend, "next", 4) == 0)
      g_date_add_months(date, 1);
    g_date_set_day(date, g_date_get_days_in_month(g_date_get_month(date), g_date_get_year(date)));
    return TRUE;
  }
  if (phrase->week != NULL) {
    gboolean next = g_ascii_strncasecmp(phrase->week, "next", 4) == 0;
    g_date_add_days(date, deadline_days_to_weekday(today, 5, next));
    return TRUE;
  }
  if (phrase->weekday != NULL && deadline_weekday_number(phrase->weekday) > 0) {
    int wd = deadline_weekday_number(phrase->weekday);
    g_date_add_days(date, deadline_days_to_weekday(today, wd, phrase->next != NULL));
    *weekday_only = phrase->next == NULL;
    return TRUE;
  }
  if (phrase->relative != NULL && g_ascii_strncasecmp(phrase->relative, "tom", 3) == 0) {
    g_date_add_days(date, 1);
    return TRUE;
  }
  return phrase->relative != NULL;
}

static int deadline_part_minutes(const char *part, const DeadlineContext *ctx)
{
  g_autofree char *lower = g_ascii_strdown(part, -1);
  if (g_str_has_prefix(lower, "first") || g_str_has_prefix(lower, "start"))
    return ctx->business_start_min;
  if (g_str_has_prefix(lower, "morn") || g_str_has_prefix(lower, "noon") ||
      g_str_has_prefix(lower, "mid") || g_str_has_prefix(lower, "lunch"))
    return 12 * 60;
  if (g_str_has_prefix(lower, "even") || g_str_has_prefix(lower, "night") ||
      g_str_has_prefix(lower, "toni"))
    return 23 * 60 + 59;
  if (g_str_has_prefix(lower, "afternoon"))
    return ctx->day_end_min;
  return ctx->business_end_min; /* EOD, COB, close of play/business, end of (the) day */
}

/* A stated hour: "9am", "3.30pm", "15:00", and a bare "1" to "6" read as pm. */
static int deadline_clock_minutes(const DeadlinePhrase *phrase)
{
  int hour = deadline_leading_number(phrase->hour);
  int minute = deadline_leading_number(phrase->minute);
  if (phrase->ampm != NULL) {
    gboolean pm = g_ascii_tolower(phrase->ampm[0]) == 'p';
    if (pm && hour < 12)
      hour += 12;
    if (!pm && hour == 12)
      hour = 0;
  } else if (hour >= 1 && hour <= 6) {
    hour += 12;
  }
  if (hour > 23 || minute > 59)
    return -1;
  return hour * 60 + minute;
}

/* Minutes after midnight for the phrase and its precision. */
static DeadlinePrecision deadline_phrase_time(const DeadlinePhrase *phrase,
                                              const DeadlineContext *ctx, int *minutes)
{
  if (phrase->hour != NULL) {
    *minutes = deadline_clock_minutes(phrase);
    return *minutes >= 0 ? DEADLINE_TIME : DEADLINE_NONE;
  }
  if (phrase->part != NULL) {
    *minutes = deadline_part_minutes(phrase->part, ctx);
    return DEADLINE_DAY_PART;
  }
  if (phrase->relative != NULL && g_ascii_strncasecmp(phrase->relative, "toni", 4) == 0) {
    *minutes = deadline_part_minutes("tonight", ctx);
    return DEADLINE_DAY_PART;
  }
  *minutes = ctx->day_end_min;
  return DEADLINE_DAY;
}

static GDateTime *deadline_local(GTimeZone *tz, const GDate *date, int minutes)
{
  return g_date_time_new(tz, g_date_get_year(date), g_date_get_month(date),
                         g_date_get_day(date), minutes / 60, minutes % 60, 0);
}

/* "24", "two", "a couple of", "an" -> a count; 0 when not a number. */
static int deadline_count(const char *text)
{
  static const char *const words[] = {"a", "one", "two", "three", "four", "five", "six",
                                      "seven", "eight", "nine", "ten", NULL};
  g_autofree char *lower = g_ascii_strdown(text, -1);
  if (g_ascii_isdigit(lower[0]))
    return deadline_leading_number(lower);
  if (strcmp(lower, "an") == 0)
    return 1;
  if (g_str_has_prefix(lower, "a couple"))
    return 2;
  for (int i = 0; words[i] != NULL; i++)
    if (strcmp(lower, words[i]) == 0)
      return i == 0 ? 1 : i;
  return 0;
}

/* "within 24 hours": a time from the message; "within two (working) days"
 * or "within a week": the end of that day. */
static DeadlinePrecision deadline_within(const DeadlinePhrase *phrase, GDateTime *local,
                                         GTimeZone *tz, const DeadlineContext *ctx,
                                         GDateTime **when)
{
  int count = deadline_count(phrase->within);
  g_autofree char *unit = g_ascii_strdown(phrase->unit != NULL ? phrase->unit : "day", -1);
  if (count <= 0 || count > 400)
    return DEADLINE_NONE;
  if (g_str_has_prefix(unit, "hour")) {
    g_autoptr(GDateTime) later = g_date_time_add_hours(local, count);
    *when = g_date_time_new(tz, g_date_time_get_year(later), g_date_time_get_month(later),
                            g_date_time_get_day_of_month(later), g_date_time_get_hour(later),
                            g_date_time_get_minute(later), 0);
    return DEADLINE_TIME;
  }
  GDate date;
  g_date_clear(&date, 1);
  g_date_set_dmy(&date, g_date_time_get_day_of_month(local), g_date_time_get_month(local),
                 g_date_time_get_year(local));
  gboolean working = strstr(unit, "working") != NULL || strstr(unit, "business") != NULL;
  int days = g_str_has_prefix(unit, "week") ? 7 * count : count;
  while (days > 0) {
    g_date_add_days(&date, 1);
    if (!working || g_date_get_weekday(&date) < G_DATE_SATURDAY)
      days--;
  }
  *when = deadline_local(tz, &date, ctx->day_end_min);
  return DEADLINE_DAY;
}

DeadlinePrecision deadline_resolve(const DeadlinePhrase *phrase, GDateTime *sent,
                                   const DeadlineContext *ctx, GDateTime **when)
{
  *when = NULL;
  if (phrase->asap != NULL || phrase->undated != NULL)
    return DEADLINE_UNDATED;
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
  GTimeZone *tz = ctx->timezone != NULL ? ctx->timezone : utc;
  g_autoptr(GDateTime) local = g_date_time_to_timezone(sent, tz);
  if (phrase->within != NULL)
    return deadline_within(phrase, local, tz, ctx, when);
  GDate today, date;
  g_date_clear(&today, 1);
  g_date_set_dmy(&today, g_date_time_get_day_of_month(local), g_date_time_get_month(local),
                 g_date_time_get_year(local));
  gboolean weekday_only = FALSE;
  gboolean dated = deadline_phrase_date(phrase, &today, ctx, &date, &weekday_only);
  if (!g_date_valid(&date))
    return DEADLINE_NONE;
  int minutes = 0;
  DeadlinePrecision precision = deadline_phrase_time(phrase, ctx, &minutes);
  if (precision == DEADLINE_NONE)
    return DEADLINE_NONE;
  g_autoptr(GDateTime) result = deadline_local(tz, &date, minutes);
  if ((!dated || weekday_only) && g_date_time_compare(result, local) <= 0) {
    g_date_add_days(&date, dated ? 7 : 1);
    g_clear_pointer(&result, g_date_time_unref);
    result = deadline_local(tz, &date, minutes);
  }
  *when = g_steal_pointer(&result);
  return precision;
}

/* ---- finding: rules over the text ---- */

#define DEADLINE_CAPTURES 17

typedef struct {
  char *values[DEADLINE_CAPTURES]; /* owned captures, in the order of capture_names */
} DeadlineCaptures;

static const char *const capture_names[DEADLINE_CAPTURES] = {
    "weekday", "next", "relative", "day", "month", "year", "numeric",
    "hour", "minute", "ampm", "part", "week", "asap", "undated", "monthend", "within", "unit"};

static void deadline_captures_clear(DeadlineCaptures *captures)
{
  for (int i = 0; i < DEADLINE_CAPTURES; i++)
    g_clear_pointer(&captures->values[i], g_free);
}

static void deadline_captures_to_phrase(const DeadlineCaptures *c, DeadlinePhrase *phrase)
{
  const char **fields[DEADLINE_CAPTURES] = {
      &phrase->weekday, &phrase->next, &phrase->relative, &phrase->day, &phrase->month,
      &phrase->year, &phrase->numeric, &phrase->hour, &phrase->minute, &phrase->ampm,
      &phrase->part, &phrase->week, &phrase->asap, &phrase->undated, &phrase->monthend,
      &phrase->within, &phrase->unit};
  for (int i = 0; i < DEADLINE_CAPTURES; i++)
    *fields[i] = c->values[i] != NULL && c->values[i][0] != '\0' ? c->values[i] : NULL;
}

/* TRUE when `candidate` should replace `best`. */
static gboolean deadline_better(const Deadline *candidate, const Deadline *best)
{
  if (best->precision == DEADLINE_NONE)
    return TRUE;
  if (candidate->weight != best->weight)
    return candidate->weight > best->weight;
  if (candidate->precision != best->precision)
    return candidate->precision > best->precision;
  return candidate->offset < best->offset;
}

/* Receives every phrase a rule found, resolved (`candidate` is the caller's
 * to clear; the callee may steal its fields). */
typedef void (*DeadlineVisit)(const LiteRule *rule, Deadline *candidate, gpointer data);

static void deadline_consider(const LiteRule *rule, const char *text, pcre2_match_data *match,
                              GDateTime *sent, const DeadlineContext *ctx, DeadlineVisit visit,
                              gpointer data)
{
  DeadlineCaptures captures = {0};
  for (int i = 0; i < DEADLINE_CAPTURES; i++)
    captures.values[i] = lite_rule_capture(rule, text, match, capture_names[i]);
  DeadlinePhrase phrase = {0};
  deadline_captures_to_phrase(&captures, &phrase);
  g_auto(Deadline) candidate = {0};
  candidate.precision = deadline_resolve(&phrase, sent, ctx, &candidate.when);
  candidate.urgency = phrase.asap != NULL ? 3 : 0;
  candidate.offset = pcre2_get_ovector_pointer(match)[0];
  candidate.length = pcre2_get_ovector_pointer(match)[1] - candidate.offset;
  candidate.weight = rule->points;
  deadline_captures_clear(&captures);
  visit(rule, &candidate, data);
}

/* Keeps the best phrase in `data` (a Deadline*), see deadline_find(). */
static void deadline_keep_best(const LiteRule *rule, Deadline *candidate, gpointer data)
{
  Deadline *best = data;
  if (candidate->urgency > best->urgency)
    best->urgency = candidate->urgency;
  if (candidate->precision == DEADLINE_NONE || !deadline_better(candidate, best))
    return;
  int urgency = best->urgency;
  deadline_clear(best);
  *best = *candidate;
  *candidate = (Deadline){0};
  best->urgency = urgency;
  best->rule = g_strdup(rule->name);
}

/* ---- the heads of the rules, in a text ---- */

/* TRUE when the `len` bytes at `p` hold U+017F or U+212A, which match s and
 * k ignoring case. */
static gboolean deadline_has_folding(const guchar *p, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if (prefilter_folds_to_ascii(p + i, p + len))
      return TRUE;
  return FALSE;
}

/* The bits of the rules with a head that the `len` bytes at `p` start with,
 * ignoring ASCII case (0 for none): the first three bytes are looked up
 * first, and few words get past them. */
static guint64 deadline_head_at(const DeadlineHeads *h, const char *p, gsize len)
{
  guint bit = deadline_triple((guchar)p[0], len > 1 ? (guchar)p[1] : 0, len > 2 ? (guchar)p[2] : 0);
  if (!(h->triples[bit / 32] & (1u << (bit % 32))))
    return 0;
  char first = g_ascii_tolower(p[0]);
  guint64 rules = 0;
  for (guint i = h->first[(guchar)*p] - 1u; i < h->heads->len; i++) {
    const char *head = g_ptr_array_index(h->heads, i);
    if (head[0] != first)
      break;
    gsize k = 1;
    while (head[k] != '\0' && k < len && g_ascii_tolower(p[k]) == head[k])
      k++;
    if (head[k] == '\0')
      rules |= g_array_index(h->masks, guint64, i);
  }
  return rules;
}

/* Appends to `starts` (of DeadlineStart), in order, every offset of `text`
 * (`len` bytes) where a match of a rule of `h` can start: where a word
 * starts with a head (see above). FALSE when the text is not valid UTF-8 or
 * holds U+017F or U+212A: the rules then read all of it. */
static gboolean deadline_heads_starts(const DeadlineHeads *h, const char *text, gsize len,
                                      GArray *starts)
{
  const guchar *bytes = (const guchar *)text;
  const guint8 *kind = h->bytes;
  for (gsize i = 0; i < len;) {
    guint8 here = kind[bytes[i]];
    if (here & DEADLINE_BYTE_HIGH) { /* a run of non-ASCII characters: checked at once */
      gsize run = i;
      while (run < len && bytes[run] >= 0x80)
        run++;
      if (!g_utf8_validate_len(text + i, run - i, NULL) || deadline_has_folding(bytes + i, run - i))
        return FALSE;
      i = run;
      continue;
    }
    if (!(here & DEADLINE_BYTE_WORD)) {
      i++;
      continue;
    }
    /* a word starts at i: no ASCII letter, digit or _ before it */
    DeadlineStart start = { i, (here & DEADLINE_BYTE_HEAD) ? deadline_head_at(h, text + i, len - i) : 0 };
    if (start.rules != 0)
      g_array_append_val(starts, start);
    while (++i < len && (kind[bytes[i]] & DEADLINE_BYTE_WORD))
      ;
  }
  return TRUE;
}

/* The next match at or after `start` of `rule`, tried with `anchored` at
 * each of `starts` whose bits hold `bit` (from `*next` on, which it
 * advances). Returns as lite_rule_match_in(). */
static int deadline_match_at_heads(const LiteRule *rule, pcre2_code *anchored, guint64 bit,
                                   const char *text, gsize len, gsize start, GArray *starts,
                                   guint *next, guint32 options, pcre2_match_data *match,
                                   GError **error)
{
  LiteRule at_head = *rule;
  at_head.code = anchored;
  for (; *next < starts->len; (*next)++) {
    const DeadlineStart *here = &g_array_index(starts, DeadlineStart, *next);
    if (here->at < start || !(here->rules & bit))
      continue;
    int rc = lite_rule_match_in(&at_head, text, len, here->at, options, match, error);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* One text the rules read: `len` bytes at `text` (a stretch of a longer text
 * ends at `len`, as if cut there), the PCRE2 options for it, and which of the
 * rule file's literals it holds (NULL: not valid UTF-8, every rule runs). */
typedef struct {
  const char *text;
  gsize len;
  guint32 options;     /* PCRE2_NO_UTF_CHECK once the text is known to be valid UTF-8 */
  PrefilterSeen *seen; /* owned, may be NULL */
  GArray *starts;      /* owned, of DeadlineStart: where the rules with heads may match;
                          NULL: they read all of the text */
} DeadlineSubject;

/* `len` bytes at `text`, `valid` when they are known to be UTF-8: the
 * literals of every rule, and the heads of those that have them, are looked
 * for once, here, not by each regex. */
static void deadline_subject_init(DeadlineSubject *subject, const DeadlineRules *rules,
                                  const char *text, gsize len, gboolean valid)
{
  subject->text = text;
  subject->len = len;
  subject->options = valid ? PCRE2_NO_UTF_CHECK : 0;
  subject->seen = valid ? prefilter_scan_whole(rules->set->compiled->prefilter, text, len) : NULL;
  subject->starts = NULL;
  if (valid && rules->heads.heads != NULL) {
    subject->starts = g_array_new(FALSE, FALSE, sizeof(DeadlineStart));
    if (!deadline_heads_starts(&rules->heads, text, len, subject->starts))
      g_clear_pointer(&subject->starts, g_array_unref);
  }
}

static void deadline_subject_clear(DeadlineSubject *subject)
{
  g_clear_pointer(&subject->seen, g_free);
  g_clear_pointer(&subject->starts, g_array_unref);
}

/* The next match of rule `i` of `rules` in `subject` at or after `start`: at
 * its heads when it has them (`*next` is where it is among them), else read
 * by PCRE2. Returns as lite_rule_match_in(). */
static int deadline_rule_match(const DeadlineRules *rules, guint i, const DeadlineSubject *subject,
                               gsize start, guint *next, pcre2_match_data *match, GError **error)
{
  const LiteRule *rule = g_ptr_array_index(rules->set->rules, i);
  if (subject->starts == NULL || rules->head_bits[i] == 0)
    return lite_rule_match_in(rule, subject->text, subject->len, start, subject->options, match,
                              error);
  return deadline_match_at_heads(rule, rules->anchored[i], rules->head_bits[i], subject->text,
                                 subject->len, start, subject->starts, next, subject->options,
                                 match, error);
}

/* FALSE when `rule` is not read for this scan: worth too few points, the
 * window rule, or a rule whose literals the subject lacks (it cannot match). */
static gboolean deadline_rule_runs(const DeadlineRules *rules, const LiteRule *rule,
                                   const DeadlineSubject *subject, int min_weight)
{
  if (rule->points < min_weight || rule == rules->window)
    return FALSE;
  if (subject->seen != NULL &&
      !prefilter_may_match(rules->set->compiled->prefilter, rule->prefilter, subject->seen))
    return FALSE;
  return !deadline_rule_is_window(rule);
}

/* Runs the rules of `rules` worth `min_weight` points or more over `subject`,
 * every match in turn, and hands each phrase to `visit`. FALSE with `error`
 * when PCRE2 gave up. */
static gboolean deadline_scan(const DeadlineRules *rules, const DeadlineSubject *subject,
                              GDateTime *sent, const DeadlineContext *ctx, int min_weight,
                              DeadlineVisit visit, gpointer data, GError **error)
{
  g_autoptr(pcre2_match_data) match = lite_rules_match_data(rules->set);
  const char *text = subject->text;
  for (guint i = 0; i < rules->set->rules->len; i++) {
    const LiteRule *rule = g_ptr_array_index(rules->set->rules, i);
    if (!deadline_rule_runs(rules, rule, subject, min_weight))
      continue;
    gsize start = 0;
    guint next = 0;
    int rc;
    while ((rc = deadline_rule_match(rules, i, subject, start, &next, match, error)) == 1) {
      PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(match);
      deadline_consider(rule, text, match, sent, ctx, visit, data);
      if (ovector[1] > ovector[0])
        start = ovector[1];
      else if (ovector[0] < subject->len)
        start = (gsize)(g_utf8_next_char(text + ovector[0]) - text);
      else
        break;
    }
    if (rc < 0)
      return FALSE;
  }
  return TRUE;
}

gboolean deadline_find(const DeadlineRules *rules, const char *text, GDateTime *sent,
                       const DeadlineContext *ctx, Deadline *out, GError **error)
{
  *out = (Deadline){0};
  gsize len = strlen(text);
  DeadlineSubject subject;
  deadline_subject_init(&subject, rules, text, len, g_utf8_validate(text, (gssize)len, NULL));
  gboolean ok = deadline_scan(rules, &subject, sent, ctx, G_MININT, deadline_keep_best, out, error);
  deadline_subject_clear(&subject);
  if (!ok)
    deadline_clear(out);
  return ok;
}

/* One dated phrase found for deadline_nearest(), at [start, end) of the text. */
typedef struct {
  gsize start, end;
  int weight;
  DeadlinePrecision precision;
  GDateTime *when; /* owned */
} DeadlineSpan;

typedef struct {
  GArray *found; /* of DeadlineSpan */
  gsize base;    /* offset in the whole text of the stretch being read */
} DeadlineNearest;

static void deadline_span_clear(gpointer data)
{
  g_clear_pointer(&((DeadlineSpan *)data)->when, g_date_time_unref);
}

static int deadline_day_number(GDateTime *when)
{
  return g_date_time_get_year(when) * 10000 + g_date_time_get_month(when) * 100 +
         g_date_time_get_day_of_month(when);
}

/* Keeps every dated phrase in `data` (a DeadlineNearest*). */
static void deadline_keep_dated(const LiteRule *rule, Deadline *candidate, gpointer data)
{
  (void)rule;
  DeadlineNearest *nearest = data;
  if (candidate->when == NULL)
    return;
  DeadlineSpan span = { nearest->base + candidate->offset,
                        nearest->base + candidate->offset + candidate->length,
                        candidate->weight, candidate->precision,
                        g_steal_pointer(&candidate->when) };
  g_array_append_val(nearest->found, span);
}

/* TRUE when a phrase over some of the same words reads found[i] better (more
 * points, then more precise, then longer): "by Friday 3pm" is not also "by
 * Friday", nor "by 12 noon tomorrow" "by 12 noon". */
static gboolean deadline_span_reads_better(const DeadlineSpan *a, const DeadlineSpan *b)
{
  if (a->weight != b->weight)
    return a->weight > b->weight;
  if (a->precision != b->precision)
    return a->precision > b->precision;
  return a->end - a->start > b->end - b->start;
}

static gboolean deadline_span_beaten(GArray *found, guint i)
{
  const DeadlineSpan *span = &g_array_index(found, DeadlineSpan, i);
  for (guint j = 0; j < found->len; j++) {
    const DeadlineSpan *other = &g_array_index(found, DeadlineSpan, j);
    if (j == i || other->start >= span->end || span->start >= other->end)
      continue;
    if (deadline_span_reads_better(other, span))
      return TRUE;
  }
  return FALSE;
}

/* The earliest of the phrases no overlapping phrase reads better, on the day
 * numbered `today` or later ("due 1 March" written on 4 March is past, not
 * near); NULL when none. */
static GDateTime *deadline_earliest(GArray *found, int today)
{
  GDateTime *earliest = NULL;
  for (guint i = 0; i < found->len; i++) {
    const DeadlineSpan *span = &g_array_index(found, DeadlineSpan, i);
    if (deadline_day_number(span->when) < today || deadline_span_beaten(found, i))
      continue;
    if (earliest == NULL || g_date_time_compare(span->when, earliest) < 0)
      earliest = span->when;
  }
  return earliest != NULL ? g_date_time_ref(earliest) : NULL;
}

int deadline_rules_signal_weight(const DeadlineRules *rules)
{
  gpointer flag = NULL;
  if (g_hash_table_lookup_extended(rules->set->thresholds, "deadline", NULL, &flag))
    return GPOINTER_TO_INT(flag);
  return 1;
}

/* [*from, *to) widened by DEADLINE_WINDOW_BEFORE bytes before and
 * DEADLINE_WINDOW_AFTER after, then to the nearest ASCII space (or the text's
 * ends), so that no word is cut. The longest phrases start well before their
 * date word ("need ... 9am Monday": up to 120 characters between) and end
 * shortly after it ("Monday 16th of March at 9.30am"), with room left for
 * the rules' look-aheads. */
#define DEADLINE_WINDOW_BEFORE 160
#define DEADLINE_WINDOW_AFTER 96

static void deadline_widen(const char *text, gsize len, gsize *from, gsize *to)
{
  *from = *from > DEADLINE_WINDOW_BEFORE ? *from - DEADLINE_WINDOW_BEFORE : 0;
  *to = MIN(len, *to + DEADLINE_WINDOW_AFTER);
  while (*from > 0 && !g_ascii_isspace(text[*from - 1]))
    (*from)--;
  while (*to < len && !g_ascii_isspace(text[*to]))
    (*to)++;
}

/* The next match of the window rule at or after `start`: tried at each of
 * `starts` (from `*next` on, which it advances) with the anchored regex, or,
 * with no `starts`, read by PCRE2 from `start` on. Returns as
 * lite_rule_match_in(). */
static int deadline_window_match(const DeadlineRules *rules, const char *text, gsize len,
                                 gsize start, GArray *starts, guint *next, guint32 options,
                                 pcre2_match_data *match, GError **error)
{
  if (starts == NULL)
    return lite_rule_match_in(rules->window, text, len, start, options, match, error);
  return deadline_match_at_heads(rules->window, rules->window_anchored, 1, text, len, start,
                                 starts, next, options, match, error);
}

/* The stretches of `text` (`len` bytes) around the matches of the window
 * rule, merged, as pairs of byte offsets (from, to) in a GArray of gsize.
 * FALSE with `error` when PCRE2 gave up or refused text that is not UTF-8:
 * read whole, its first read checks all of the text (cheaper than
 * g_utf8_validate), the later ones skip the check; read at its heads, the
 * text is checked while they are looked for. */
static gboolean deadline_windows(const DeadlineRules *rules, const char *text, gsize len,
                                 gboolean whole, GArray *spans, GError **error)
{
  g_autoptr(pcre2_match_data) match = lite_rules_match_data(rules->set);
  g_autoptr(GArray) starts = NULL;
  guint32 options = 0;
  if (rules->window_anchored != NULL && !whole) {
    starts = g_array_new(FALSE, FALSE, sizeof(DeadlineStart));
    if (deadline_heads_starts(&rules->window_heads, text, len, starts))
      options = PCRE2_NO_UTF_CHECK;
    else
      g_clear_pointer(&starts, g_array_unref);
  }
  gsize start = 0;
  guint next = 0;
  int rc;
  while ((rc = deadline_window_match(rules, text, len, start, starts, &next, options, match,
                                     error)) == 1) {
    options = PCRE2_NO_UTF_CHECK;
    PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(match);
    gsize from = ovector[0], to = ovector[1];
    deadline_widen(text, len, &from, &to);
    gsize *last = spans->len ? &g_array_index(spans, gsize, spans->len - 1) : NULL;
    if (last != NULL && from <= *last)
      *last = MAX(*last, to); /* overlaps the stretch before: one stretch */
    else
      g_array_append_val(spans, from), g_array_append_val(spans, to);
    if (ovector[1] >= len)
      break;
    start = ovector[1] > ovector[0] ? ovector[1]
                                    : (gsize)(g_utf8_next_char(text + ovector[0]) - text);
  }
  return rc >= 0;
}

GArray *deadline_window_stretches(const DeadlineRules *rules, const char *text, gboolean whole,
                                  GError **error)
{
  g_autoptr(GArray) spans = g_array_new(FALSE, FALSE, sizeof(gsize));
  if (rules->window == NULL || !deadline_windows(rules, text, strlen(text), whole, spans, error))
    return NULL;
  return g_steal_pointer(&spans);
}

/* deadline_scan() over `len` bytes at `text`, `valid` when known to be UTF-8. */
static gboolean deadline_scan_stretch(const DeadlineRules *rules, const char *text, gsize len,
                                      gboolean valid, GDateTime *sent,
                                      const DeadlineContext *ctx, int weight,
                                      DeadlineNearest *nearest, GError **error)
{
  DeadlineSubject subject;
  deadline_subject_init(&subject, rules, text, len, valid);
  gboolean ok = deadline_scan(rules, &subject, sent, ctx, weight, deadline_keep_dated, nearest,
                              error);
  deadline_subject_clear(&subject);
  return ok;
}

/* deadline_scan() over the stretches of `text` the window rule marks (every
 * dated phrase holds one of its words), or over all of it without one: on
 * long mail a handful of short stretches cost far less than the whole text
 * once per rule. Each stretch is read as if cut out of the text (no look
 * before or after it), and gets its own literals: most rules do not run. */
static gboolean deadline_scan_windows(const DeadlineRules *rules, const char *text,
                                      GDateTime *sent, const DeadlineContext *ctx, int weight,
                                      DeadlineNearest *nearest, GError **error)
{
  gsize len = strlen(text);
  if (rules->window == NULL)
    return deadline_scan_stretch(rules, text, len, g_utf8_validate(text, (gssize)len, NULL),
                                 sent, ctx, weight, nearest, error);
  g_autoptr(GArray) spans = g_array_new(FALSE, FALSE, sizeof(gsize));
  if (!deadline_windows(rules, text, len, FALSE, spans, error))
    return FALSE;
  /* PCRE2 refused a text that is not UTF-8 at the window rule's first read, so
   * the stretches here are of valid UTF-8, cut at ASCII spaces. */
  for (guint i = 0; i + 1 < spans->len; i += 2) {
    gsize from = g_array_index(spans, gsize, i), to = g_array_index(spans, gsize, i + 1);
    nearest->base = from;
    if (!deadline_scan_stretch(rules, text + from, to - from, TRUE, sent, ctx, weight, nearest,
                               error))
      return FALSE;
  }
  return TRUE;
}

gboolean deadline_nearest(const DeadlineRules *rules, const char *text, GDateTime *sent,
                          const DeadlineContext *ctx, GDateTime **when, GError **error)
{
  *when = NULL;
  g_autoptr(GArray) found = g_array_new(FALSE, FALSE, sizeof(DeadlineSpan));
  g_array_set_clear_func(found, deadline_span_clear);
  DeadlineNearest nearest = { found, 0 };
  int weight = deadline_rules_signal_weight(rules);
  if (!deadline_scan_windows(rules, text, sent, ctx, weight, &nearest, error))
    return FALSE;
  if (found->len == 0)
    return TRUE; /* most mail: no need for the message's local day */
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
  g_autoptr(GDateTime) local = g_date_time_to_timezone(sent, ctx->timezone ? ctx->timezone : utc);
  *when = deadline_earliest(found, deadline_day_number(local));
  return TRUE;
}
