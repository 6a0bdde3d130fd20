/* filters/score.c: runs a compiled RuleSet over one message and turns the hits
 * into a verdict: points per dimension, flags, urgency level, payment
 * category, risky, a risk number, and the hits themselves (what matched,
 * where, why). Also the thread risk as it changes: score_thread_risk().
 *
 * How it works: the signals are computed once; each text a rule may look at
 * (subject, new text, quoted, body, a header, the sender) is checked for valid
 * UTF-8 once, so every match can skip PCRE2's own check, and scanned once
 * (the first time a regex with literals asks) for the literals of the set's
 * prefilter: a regex none of whose literals the text holds is not run on it
 * (filters/prefilter.h); a regex cut into branches runs only the branches
 * whose literals the text holds, the earliest match winning. The phrase
 * groups are scanned first (each match's (*MARK) naming the rules it stands
 * for), their tries tried only where a word starts that begins a phrase. Rules run in the RuleSet's order (atoms first, rules over
 * rules after what they use), each match with the set's match context (match,
 * depth and heap limits). A match that hits a limit is an error outcome
 * recorded on the result, logged once per rule, and the rule counts as not
 * hit. Declarations (urgency levels, payment categories, risky) come last.
 *
 * Entry points: score_message(), score_result_to_json(), score_thread_risk().
 * Must never: read the clock, a file, the store or the network; keep state
 * between calls (the RuleSet is read-only, apart from the log-once flag).
 */
#include <math.h>
#include <string.h>
#include "filters/score.h"
#include "filters/json-out.h"

typedef struct {
  const char *text;  /* borrowed, or points into `owned` */
  char *owned;
  gsize len;         /* strlen(text) */
  gboolean known;
  PrefilterSeen *seen; /* owned: the literals of the rules' prefilter in it; NULL until asked */
  GArray *heads;     /* owned: its words that start phrases (PrefilterHead), once heads_found */
  gboolean heads_found;
} ScoreText;

typedef struct {
  const RuleSet *rules;
  const KeelMessage *message;
  ScoreResult *result;
  pcre2_match_data *match_data;   /* owned */
  pcre2_match_data *spare_match_data; /* owned, NULL until a look's branches need a second */
  gboolean *hit;                  /* owned, per rule */
  ScoreText texts[RULES_WHERE_FROM + 1];
  GHashTable *headers;            /* owned: lower-case name -> ScoreText* */
  gboolean use_groups;            /* phrase lists come from the group scans */
  struct ScoreMatch *group_match;/* owned, per rule: what the group scans found; NULL until
                                     they find something (most mail: never) */
} Scoring;

static void score_hit_free(ScoreHit *hit)
{
  g_free(hit->rule);
  g_free(hit->dimension);
  g_free(hit->match);
  g_free(hit->where);
  g_free(hit->why);
  g_clear_pointer(&hit->captures, g_ptr_array_unref);
  g_free(hit);
}

static void score_capture_free(ScoreCapture *capture)
{
  g_free(capture->name);
  g_free(capture->value);
  g_free(capture);
}

void score_result_free(ScoreResult *result)
{
  if (!result)
    return;
  g_hash_table_unref(result->scores);
  g_ptr_array_unref(result->dimensions);
  g_ptr_array_unref(result->flags);
  g_free(result->payment);
  g_ptr_array_unref(result->hits);
  g_ptr_array_unref(result->errors);
  g_free(result);
}

static ScoreResult *score_result_new(void)
{
  ScoreResult *result = g_new0(ScoreResult, 1);
  result->scores = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  result->dimensions = g_ptr_array_new_with_free_func(g_free);
  result->flags = g_ptr_array_new_with_free_func(g_free);
  result->hits = g_ptr_array_new_with_free_func((GDestroyNotify)score_hit_free);
  result->errors = g_ptr_array_new_with_free_func(g_free);
  return result;
}

/* ---- the texts rules look at ---- */

static void score_text_set(ScoreText *slot, const char *text)
{
  slot->known = TRUE;
  if (!text || g_utf8_validate(text, -1, NULL)) {
    slot->text = text;
  } else {
    slot->owned = g_utf8_make_valid(text, -1);
    slot->text = slot->owned;
  }
  slot->len = slot->text ? strlen(slot->text) : 0;
}

static void score_text_clear(ScoreText *slot)
{
  g_free(slot->owned);
  g_free(slot->seen);
  g_clear_pointer(&slot->heads, g_array_unref);
}

static void score_text_free(ScoreText *slot)
{
  score_text_clear(slot);
  g_free(slot);
}

/* FALSE when the prefilter proves that the regex `look` cannot match the
 * text of `slot` (the text is scanned for every literal the first time). */
static gboolean score_text_may_match(const Scoring *s, ScoreText *slot, const RulesLook *look)
{
  if (look->prefilter == PREFILTER_ALWAYS)
    return TRUE;
  if (!slot->seen)
    slot->seen = prefilter_scan_whole(s->rules->prefilter, slot->text, slot->len);
  return prefilter_may_match(s->rules->prefilter, look->prefilter, slot->seen);
}

static const char *score_header_value(const KeelMessage *message, const char *name)
{
  for (guint i = 0; message->headers && i < message->headers->len; i++) {
    const KeelHeader *header = g_ptr_array_index(message->headers, i);
    if (g_ascii_strcasecmp(header->name, name) == 0)
      return header->value;
  }
  return NULL;
}

static char *score_from_text(const KeelMessage *message)
{
  if (!message->from)
    return NULL;
  if (!message->from->name || !*message->from->name)
    return g_strdup(message->from->address);
  return g_strdup_printf("%s <%s>", message->from->name, message->from->address);
}

/* The text of `where` (its text NULL when the message has none), valid UTF-8. */
static ScoreText *score_text(Scoring *s, RulesWhere where, const char *header)
{
  const KeelMessage *m = s->message;
  if (where == RULES_WHERE_HEADER) {
    g_autofree char *key = g_ascii_strdown(header, -1);
    ScoreText *slot = g_hash_table_lookup(s->headers, key);
    if (!slot) {
      slot = g_new0(ScoreText, 1);
      score_text_set(slot, score_header_value(m, header));
      g_hash_table_insert(s->headers, g_steal_pointer(&key), slot);
    }
    return slot;
  }
  ScoreText *slot = &s->texts[where];
  if (slot->known)
    return slot;
  switch (where) {
  case RULES_WHERE_SUBJECT: score_text_set(slot, m->subject); break;
  case RULES_WHERE_TEXT: score_text_set(slot, m->new_text ? m->new_text : m->body_text); break;
  case RULES_WHERE_QUOTED: score_text_set(slot, m->quoted_text); break;
  case RULES_WHERE_BODY: score_text_set(slot, m->body_text); break;
  default: {
    char *from = score_from_text(m);
    score_text_set(slot, from);
    if (!slot->owned)
      slot->owned = from;
    else
      g_free(from);
  }
  }
  return slot;
}

static const char *score_where_name(RulesWhere where)
{
  static const char *const names[] = { "subject", "text", "quoted", "body", "header", "from",
                                       "signal" };
  return names[where];
}

/* ---- matching ---- */

/* Records an error outcome for `rule` and logs it the first time. */
static void score_rule_error(Scoring *s, const RulesRule *rule, int code)
{
  const char *what;
  switch (code) {
  case PCRE2_ERROR_MATCHLIMIT: what = "timed out (match limit)"; break;
  case PCRE2_ERROR_DEPTHLIMIT: what = "timed out (depth limit)"; break;
  case PCRE2_ERROR_HEAPLIMIT: what = "timed out (heap limit)"; break;
  case PCRE2_ERROR_JIT_STACKLIMIT: what = "timed out (JIT stack limit)"; break;
  default: what = "regex error"; break;
  }
  PCRE2_UCHAR detail[160];
  pcre2_get_error_message(code, detail, sizeof detail);
  g_ptr_array_add(s->result->errors, g_strdup_printf("%s: %s", rule->name, what));
  /* The log-once flag is the only thing scoring writes in the RuleSet. */
  if (g_atomic_int_compare_and_exchange((gint *)&rule->timeout_logged, 0, 1))
    g_warning("rule %s (%s:%d): %s: %s; the rule counts as not matched for this message "
              "(logged once)", rule->name, rule->file, rule->line, what, (const char *)detail);
}

static GPtrArray *score_captures(const pcre2_code *code, const char *text, PCRE2_SIZE *ovector,
                                 int rc)
{
  guint32 count = 0, entry_size = 0;
  PCRE2_SPTR table = NULL;
  pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &count);
  if (count == 0)
    return NULL;
  pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
  pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table);
  GPtrArray *captures = g_ptr_array_new_with_free_func((GDestroyNotify)score_capture_free);
  for (guint32 i = 0; i < count; i++) {
    PCRE2_SPTR entry = table + i * entry_size;
    int group = (entry[0] << 8) | entry[1];
    if (group >= rc || ovector[2 * group] == PCRE2_UNSET)
      continue;
    ScoreCapture *capture = g_new0(ScoreCapture, 1);
    capture->name = g_strdup((const char *)entry + 2);
    capture->value = g_strndup(text + ovector[2 * group],
                               ovector[2 * group + 1] - ovector[2 * group]);
    g_ptr_array_add(captures, capture);
  }
  return captures;
}

/* What a rule hit: filled by the matchers, turned into ScoreHits. */
typedef struct ScoreMatch {
  gboolean hit;
  char *match;
  char *where;
  gint64 start, end;
  GPtrArray *captures;
} ScoreMatch;

static void score_match_clear(ScoreMatch *match)
{
  g_free(match->match);
  g_free(match->where);
  g_clear_pointer(&match->captures, g_ptr_array_unref);
}

/* A look's regex (or one of its branches) matched once over a text. */
typedef struct {
  const pcre2_code *code;  /* the regex that matched: its names give the captures */
  pcre2_match_data *match; /* borrowed from Scoring: the match */
} ScoreRegexRun;

/* Branches that may match one text beyond this: the whole regex runs once. */
#define SCORE_BRANCHES_MAX RULES_BRANCHES_ALONE_MAX /* rules-compile.c JITs the whole regex past it */

/* The branches of `look` whose literals `slot` holds, into `may`; FALSE
 * when there are more than SCORE_BRANCHES_MAX (or no branches). */
static gboolean score_branches_may_match(const Scoring *s, ScoreText *slot, const RulesLook *look,
                                         guint may[SCORE_BRANCHES_MAX], guint *n)
{
  *n = 0;
  if (!rules_look_branches(look))
    return FALSE;
  if (!slot->seen)
    slot->seen = prefilter_scan_whole(s->rules->prefilter, slot->text, slot->len);
  for (guint i = 0; i < look->n_branches; i++) {
    if (!prefilter_may_match(s->rules->prefilter, look->branch_prefilter[i], slot->seen))
      continue;
    if (*n == SCORE_BRANCHES_MAX)
      return FALSE;
    may[(*n)++] = i;
  }
  return TRUE;
}

/* Runs `look` over `slot`, as pcre2_match() would run its regex: when the
 * prefilter leaves few of its top-level branches, those alone (the earliest
 * match wins, on a tie the first branch: the regex's own leftmost match),
 * else, or when a branch fails with an error, the whole regex. */
static int score_regex_run(Scoring *s, const RulesLook *look, ScoreText *slot, ScoreRegexRun *run)
{
  guint may[SCORE_BRANCHES_MAX], n = 0;
  if (score_branches_may_match(s, slot, look, may, &n)) {
    int best = PCRE2_ERROR_NOMATCH;
    PCRE2_SIZE best_start = PCRE2_UNSET;
    run->match = NULL;
    for (guint k = 0; k < n; k++) {
      if (!s->spare_match_data)
        s->spare_match_data = pcre2_match_data_create(s->rules->max_captures + 1, NULL);
      pcre2_match_data *match = run->match == s->match_data ? s->spare_match_data : s->match_data;
      const pcre2_code *code = look->branch_code[may[k]];
      int rc = pcre2_match(code, (PCRE2_SPTR)slot->text, slot->len, 0, PCRE2_NO_UTF_CHECK, match,
                           s->rules->match_context);
      if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
        best = rc; /* the whole regex decides */
        break;
      }
      PCRE2_SIZE start = rc >= 0 ? pcre2_get_ovector_pointer(match)[0] : PCRE2_UNSET;
      if (rc >= 0 && (best < 0 || start < best_start)) {
        best = rc;
        best_start = start;
        *run = (ScoreRegexRun){ code, match };
      }
    }
    if (best >= 0 || best == PCRE2_ERROR_NOMATCH)
      return best;
  }
  *run = (ScoreRegexRun){ look->code, s->match_data };
  return pcre2_match(look->code, (PCRE2_SPTR)slot->text, slot->len, 0, PCRE2_NO_UTF_CHECK,
                     s->match_data, s->rules->match_context);
}

/* Runs one regex look over each of its places. TRUE on a match; an error
 * outcome (limits) is recorded and gives FALSE. */
static gboolean score_look_regex(Scoring *s, const RulesRule *rule, const RulesLook *look,
                                 ScoreMatch *out)
{
  for (guint i = 0; i < look->n_where; i++) {
    ScoreText *slot = score_text(s, look->where[i], look->header[i]);
    const char *text = slot->text;
    if (!text || !*text || !score_text_may_match(s, slot, look))
      continue;
    ScoreRegexRun run;
    int rc = score_regex_run(s, look, slot, &run);
    if (rc == PCRE2_ERROR_NOMATCH)
      continue;
    if (rc < 0) {
      score_rule_error(s, rule, rc);
      return FALSE;
    }
    PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(run.match);
    out->start = (gint64)ovector[0];
    out->end = (gint64)ovector[1];
    out->match = g_strndup(text + ovector[0], ovector[1] - ovector[0]);
    out->where = look->where[i] == RULES_WHERE_HEADER
                   ? g_strdup_printf("header:%s", look->header[i])
                   : g_strdup(score_where_name(look->where[i]));
    out->captures = score_captures(run.code, text, ovector, rc == 0 ? 1 : rc);
    return TRUE;
  }
  return FALSE;
}

static gboolean score_compare(double value, RulesOp op, double limit)
{
  if (isnan(value))
    return FALSE;
  switch (op) {
  case RULES_OP_GE: return value >= limit;
  case RULES_OP_GT: return value > limit;
  case RULES_OP_LE: return value <= limit;
  case RULES_OP_LT: return value < limit;
  case RULES_OP_EQ: return value == limit;
  default: return value != limit;
  }
}

static gboolean score_look_signal(Scoring *s, const RulesLook *look, ScoreMatch *out)
{
  gboolean learned = look->signal >= SIGNAL_COUNT;
  double value = learned ? s->result->learned[look->signal - SIGNAL_COUNT]
                         : s->result->signals[look->signal];
  if (!score_compare(value, look->op, look->value))
    return FALSE;
  out->match = g_strdup_printf("%s=%g", learned ? learned_signal_name(look->signal - SIGNAL_COUNT)
                                                : signals_name(look->signal), value);
  out->where = g_strdup("signal");
  out->start = out->end = -1;
  return TRUE;
}

/* ---- expressions ---- */

typedef struct {
  const gboolean *hit;
  const gboolean *flagged;  /* NULL inside `when` rules */
  int category;
  gboolean automated;
} ScoreEval;

static gboolean score_eval(const RulesExpr *expr, const ScoreEval *eval)
{
  switch (expr->op) {
  case RULES_EXPR_NOT: return !score_eval(expr->left, eval);
  case RULES_EXPR_AND: return score_eval(expr->left, eval) && score_eval(expr->right, eval);
  case RULES_EXPR_OR: return score_eval(expr->left, eval) || score_eval(expr->right, eval);
  default: break;
  }
  switch (expr->ref) {
  case RULES_REF_RULE: return eval->hit[expr->index];
  case RULES_REF_DIMENSION: return eval->flagged && eval->flagged[expr->index];
  case RULES_REF_CATEGORY: return eval->category == (int)expr->index;
  default: return eval->automated;
  }
}

static void score_expr_append(GString *out, const RulesExpr *expr, const gboolean *hit)
{
  switch (expr->op) {
  case RULES_EXPR_NOT:
    g_string_append_c(out, '!');
    score_expr_append(out, expr->left, hit);
    return;
  case RULES_EXPR_AND:
  case RULES_EXPR_OR:
    g_string_append_c(out, '(');
    score_expr_append(out, expr->left, hit);
    g_string_append(out, expr->op == RULES_EXPR_AND ? " & " : " | ");
    score_expr_append(out, expr->right, hit);
    g_string_append_c(out, ')');
    return;
  default:
    g_string_append(out, expr->name);
  }
}

static gboolean score_look_when(Scoring *s, const RulesRule *rule, ScoreMatch *out)
{
  ScoreEval eval = { s->hit, NULL, -1, s->message->automated };
  if (!score_eval(rule->expr, &eval))
    return FALSE;
  g_autoptr(GString) text = g_string_new(NULL);
  score_expr_append(text, rule->expr, s->hit);
  out->match = g_string_free(g_steal_pointer(&text), FALSE);
  out->where = g_strdup("rules");
  out->start = out->end = -1;
  return TRUE;
}

/* ---- phrase groups: one scan per text for many phrase lists ---- */

/* Records the match at ovector for every rule of `mark` not found yet. */
static void score_group_record(Scoring *s, const RulesPhraseGroup *group, const char *text,
                               guint where_index, guint *left)
{
  PCRE2_SPTR mark = pcre2_get_mark(s->match_data);
  guint n = mark ? (guint)g_ascii_strtoull((const char *)mark, NULL, 10) : G_MAXUINT;
  if (n >= group->marks->len)
    return;
  PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(s->match_data);
  const GArray *rules = g_ptr_array_index(group->marks, n);
  if (!s->group_match)
    s->group_match = g_new0(ScoreMatch, s->rules->rules->len + 1);
  for (guint i = 0; i < rules->len; i++) {
    ScoreMatch *out = &s->group_match[g_array_index(rules, guint, i)];
    if (out->hit)
      continue;
    out->hit = TRUE;
    out->start = (gint64)ovector[0];
    out->end = (gint64)ovector[1];
    out->match = g_strndup(text + ovector[0], ovector[1] - ovector[0]);
    out->where = g_strdup(score_where_name(group->look->where[where_index]));
    (*left)--;
  }
}

/* Every rule of the group that is not found yet gets the error outcome. */
static void score_group_error(Scoring *s, const RulesPhraseGroup *group, int code)
{
  for (guint i = 0; i < group->members->len; i++) {
    guint index = g_array_index(group->members, guint, i);
    if (!s->group_match || !s->group_match[index].hit)
      score_rule_error(s, g_ptr_array_index(s->rules->rules, index), code);
  }
}

/* The words of `slot` that start a phrase (filters/prefilter.h), found the
 * first time a group asks; NULL when any position may start one. */
static const GArray *score_text_heads(const Scoring *s, ScoreText *slot)
{
  if (!slot->heads_found) {
    slot->heads = prefilter_heads_find(s->rules->phrase_heads, slot->text, slot->len);
    slot->heads_found = TRUE;
  }
  return slot->heads;
}

/* The first match of the group's trie in `slot` that starts at `offset` or
 * later, as pcre2_match() returns it. A trie without heads is searched; an
 * anchored one is tried where a word with the group's bit starts (from entry
 * `*next` of the text's heads on; `*next` moves past the match), or, in a
 * text without heads, at every character: the same leftmost match. */
static int score_group_match(Scoring *s, const RulesPhraseGroup *group, ScoreText *slot,
                             gsize offset, guint *next)
{
  const pcre2_code *code = group->look->code;
  PCRE2_SPTR text = (PCRE2_SPTR)slot->text;
  if (!group->head_bit)
    return pcre2_match(code, text, slot->len, offset, PCRE2_NO_UTF_CHECK, s->match_data,
                       s->rules->match_context);
  const GArray *heads = score_text_heads(s, slot);
  for (gsize at = offset; !heads && at < slot->len;
       at = (gsize)(g_utf8_next_char(slot->text + at) - slot->text)) {
    int rc = pcre2_match(code, text, slot->len, at, PCRE2_NO_UTF_CHECK, s->match_data,
                         s->rules->match_context);
    if (rc != PCRE2_ERROR_NOMATCH)
      return rc;
  }
  for (; heads && *next < heads->len; (*next)++) {
    const PrefilterHead *head = &g_array_index(heads, PrefilterHead, *next);
    if (head->offset < offset || !(head->lists & group->head_bit))
      continue;
    int rc = pcre2_match(code, text, slot->len, head->offset, PCRE2_NO_UTF_CHECK,
                         s->match_data, s->rules->match_context);
    if (rc != PCRE2_ERROR_NOMATCH) {
      (*next)++;
      return rc;
    }
  }
  return PCRE2_ERROR_NOMATCH;
}

/* Scans the group's texts: after each match, again from the next character,
 * until every member has hit or the text ends. */
static void score_group_scan(Scoring *s, const RulesPhraseGroup *group)
{
  guint left = group->members->len;
  for (guint w = 0; left > 0 && w < group->look->n_where; w++) {
    ScoreText *slot = score_text(s, group->look->where[w], group->look->header[w]);
    const char *text = slot->text;
    gsize len = slot->len;
    if (len == 0 || !score_text_may_match(s, slot, group->look))
      continue;
    guint next = 0;
    for (gsize offset = 0; left > 0 && offset < len;) {
      int rc = score_group_match(s, group, slot, offset, &next);
      if (rc == PCRE2_ERROR_NOMATCH)
        break;
      if (rc < 0) {
        score_group_error(s, group, rc);
        return;
      }
      score_group_record(s, group, text, w, &left);
      PCRE2_SIZE start = pcre2_get_ovector_pointer(s->match_data)[0];
      offset = (gsize)(g_utf8_next_char(text + start) - text);
    }
  }
}

static void score_phrase_groups(Scoring *s)
{
  for (guint i = 0; i < s->rules->phrase_groups->len; i++) {
    const RulesPhraseGroup *group = g_ptr_array_index(s->rules->phrase_groups, i);
    if (group->look->code && !(s->message->automated && group->skip_automated))
      score_group_scan(s, group);
  }
}

/* ---- rules to hits ---- */

static gboolean score_dimension_skipped(Scoring *s, guint dimension)
{
  const RulesDimension *d = g_ptr_array_index(s->rules->dimensions, dimension);
  return s->message->automated && d->skip_automated;
}

static void score_add_hits(Scoring *s, const RulesRule *rule, ScoreMatch *match)
{
  for (guint i = 0; i < rule->adds->len; i++) {
    const RulesAdd *add = &g_array_index(rule->adds, RulesAdd, i);
    if (score_dimension_skipped(s, add->dimension))
      continue;
    const RulesDimension *d = g_ptr_array_index(s->rules->dimensions, add->dimension);
    ScoreHit *hit = g_new0(ScoreHit, 1);
    hit->rule = g_strdup(rule->name);
    hit->dimension = g_strdup(d->name);
    hit->points = add->points;
    hit->match = g_strdup(match->match);
    hit->where = g_strdup(match->where);
    hit->start = match->start;
    hit->end = match->end;
    hit->why = g_strdup(rule->why);
    hit->captures = match->captures ? g_ptr_array_ref(match->captures) : NULL;
    g_ptr_array_add(s->result->hits, hit);
    double *points = g_hash_table_lookup(s->result->scores, d->name);
    *points += add->points;
  }
}

static void score_run_rule(Scoring *s, guint index)
{
  const RulesRule *rule = g_ptr_array_index(s->rules->rules, index);
  if (s->message->automated && rule->skip_automated)
    return;
  ScoreMatch match = { 0 };
  gboolean hit = FALSE;
  if (rule->kind == RULES_KIND_WHEN)
    hit = score_look_when(s, rule, &match);
  if (s->use_groups && s->group_match && s->group_match[index].hit) {
    match = s->group_match[index];
    memset(&s->group_match[index], 0, sizeof match);
    hit = TRUE;
  }
  for (guint i = 0; !hit && i < rule->looks->len; i++) {
    const RulesLook *look = g_ptr_array_index(rule->looks, i);
    if (s->use_groups && look->grouped)
      continue;
    if (look->where[0] == RULES_WHERE_SIGNAL)
      hit = score_look_signal(s, look, &match);
    else if (look->code)
      hit = score_look_regex(s, rule, look, &match);
  }
  s->hit[index] = hit;
  if (hit)
    score_add_hits(s, rule, &match);
  score_match_clear(&match);
}

/* Flags, category, urgency level, risky and the risk number. */
static void score_verdict(Scoring *s)
{
  const RuleSet *rules = s->rules;
  ScoreResult *result = s->result;
  g_autofree gboolean *flagged = g_new0(gboolean, rules->dimensions->len + 1);
  gboolean any_flag = FALSE;
  for (guint i = 0; i < rules->dimensions->len; i++) {
    const RulesDimension *d = g_ptr_array_index(rules->dimensions, i);
    double points = *(double *)g_hash_table_lookup(result->scores, d->name);
    flagged[i] = points >= d->flag_at;
    any_flag = any_flag || flagged[i];
    if (flagged[i])
      g_ptr_array_add(result->flags, g_strdup(d->name));
    result->risk += d->weight * points / d->flag_at;
  }
  int category = -1;
  for (guint i = 0; i < rules->rules->len; i++) {
    const RulesRule *rule = g_ptr_array_index(rules->rules, i);
    if (s->hit[i] && rule->category >= 0 && (category < 0 || rule->category < category))
      category = rule->category;
  }
  result->payment = g_strdup(category < 0 ? "none" : g_ptr_array_index(rules->categories, category));
  ScoreEval eval = { s->hit, flagged, category, s->message->automated };
  for (guint i = 0; i < rules->levels->len; i++) {
    const RulesLevel *level = g_ptr_array_index(rules->levels, i);
    if (level->level > result->urgency && score_eval(level->expr, &eval))
      result->urgency = level->level;
  }
  result->risky = rules->risky ? score_eval(rules->risky, &eval) : any_flag;
  result->risk = MAX(result->risk, 0);
  result->risk = result->risky ? MAX(result->risk, 1.0) : MIN(result->risk, 0.9);
}

static void scoring_init(Scoring *s, const RuleSet *rules, const KeelMessage *message)
{
  memset(s, 0, sizeof *s);
  s->rules = rules;
  s->message = message;
  s->result = score_result_new();
  s->result->automated = message->automated;
  s->match_data = pcre2_match_data_create(rules->max_captures + 1, NULL);
  s->hit = g_new0(gboolean, rules->rules->len + 1);
  s->headers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                     (GDestroyNotify)score_text_free);
  for (guint i = 0; i < rules->dimensions->len; i++) {
    const RulesDimension *d = g_ptr_array_index(rules->dimensions, i);
    g_ptr_array_add(s->result->dimensions, g_strdup(d->name));
    g_hash_table_insert(s->result->scores, g_strdup(d->name), g_new0(double, 1));
  }
}

static void scoring_clear(Scoring *s)
{
  for (guint i = 0; s->group_match && i < s->rules->rules->len; i++)
    score_match_clear(&s->group_match[i]);
  g_free(s->group_match);
  pcre2_match_data_free(s->match_data);
  pcre2_match_data_free(s->spare_match_data);
  g_free(s->hit);
  g_hash_table_unref(s->headers);
  for (guint i = 0; i < G_N_ELEMENTS(s->texts); i++)
    score_text_clear(&s->texts[i]);
  g_clear_pointer(&s->result, score_result_free);
}

LearnedFeatures *score_learned_features(const KeelMessage *message)
{
  g_autofree char *bare = subject_normalise(message->subject ? message->subject : "");
  g_autofree char *subject = g_utf8_make_valid(bare ? bare : "", -1);
  g_autofree char *text = g_utf8_make_valid(message->new_text ? message->new_text : "", -1);
  return learned_features(subject, text);
}

/* The learned_* signals (NAN without models): the same numbers as the
 * features of score_learned_features() give (learned_set_predict_text()
 * makes invalid UTF-8 valid as g_utf8_make_valid() does here). */
static void score_learned(const RuleSet *rules, const KeelMessage *message,
                          double out[LEARNED_COUNT])
{
  if (!rules->learned) {
    learned_set_predict(NULL, NULL, out);
    return;
  }
  g_autofree char *bare = subject_normalise(message->subject ? message->subject : "");
  learned_set_predict_text(rules->learned, bare ? bare : "",
                           message->new_text ? message->new_text : "", out);
}

ScoreResult *score_message(const RuleSet *rules, const KeelMessage *message,
                           const ScoreContext *context, GError **error)
{
  if (!rules || !message) {
    g_set_error_literal(error, KEEL_RULES_ERROR, KEEL_RULES_ERROR_INVALID,
                        "score_message: no rules or no message");
    return NULL;
  }
  Scoring s;
  scoring_init(&s, rules, message);
  signals_compute(message, context, rules->deadlines, s.result->signals);
  score_learned(rules, message, s.result->learned);
  s.use_groups = TRUE;
  score_phrase_groups(&s);
  for (guint i = 0; i < rules->rules->len; i++)
    score_run_rule(&s, rules->order[i]);
  score_verdict(&s);
  ScoreResult *result = g_steal_pointer(&s.result);
  scoring_clear(&s);
  return result;
}

/* ---- reading a result ---- */

double score_result_points(const ScoreResult *result, const char *dimension)
{
  const double *points = g_hash_table_lookup(result->scores, dimension);
  return points ? *points : 0;
}

gboolean score_result_flagged(const ScoreResult *result, const char *dimension)
{
  for (guint i = 0; i < result->flags->len; i++)
    if (g_strcmp0(result->flags->pdata[i], dimension) == 0)
      return TRUE;
  return FALSE;
}

char *score_result_flags_csv(const ScoreResult *result)
{
  g_autoptr(GString) out = g_string_new(NULL);
  for (guint i = 0; i < result->flags->len; i++)
    g_string_append_printf(out, "%s%s", i ? "," : "", (char *)g_ptr_array_index(result->flags, i));
  return g_string_free(g_steal_pointer(&out), FALSE);
}

static void score_hit_to_json(const ScoreHit *hit, GString *out)
{
  json_put_object_start(out, NULL);
  json_put_string(out, "rule", hit->rule);
  json_put_string(out, "dimension", hit->dimension);
  json_put_double(out, "points", hit->points);
  json_put_string(out, "match", hit->match);
  json_put_string(out, "where", hit->where);
  json_put_int(out, "start", hit->start);
  json_put_int(out, "end", hit->end);
  json_put_string(out, "why", hit->why);
  json_put_object_start(out, "captures");
  for (guint i = 0; hit->captures && i < hit->captures->len; i++) {
    const ScoreCapture *capture = g_ptr_array_index(hit->captures, i);
    json_put_string(out, capture->name, capture->value);
  }
  json_put_object_end(out);
  json_put_object_end(out);
}

static void score_strings_to_json(GString *out, const char *name, GPtrArray *strings)
{
  json_put_array_start(out, name);
  for (guint i = 0; i < strings->len; i++)
    json_put_string(out, NULL, g_ptr_array_index(strings, i));
  json_put_array_end(out);
}

static void score_numbers_to_json(const ScoreResult *result, GString *out)
{
  json_put_object_start(out, "scores");
  for (guint i = 0; i < result->dimensions->len; i++) {
    const char *name = g_ptr_array_index(result->dimensions, i);
    json_put_double(out, name, score_result_points(result, name));
  }
  json_put_object_end(out);
  json_put_object_start(out, "signals");
  for (int i = 0; i < SIGNAL_COUNT; i++) {
    if (isnan(result->signals[i]))
      json_put_null(out, signals_name(i));
    else
      json_put_double(out, signals_name(i), result->signals[i]);
  }
  for (guint i = 0; i < LEARNED_COUNT; i++)
    if (!isnan(result->learned[i]))
      json_put_double(out, learned_signal_name(i), result->learned[i]);
  json_put_object_end(out);
}

void score_result_to_json(const ScoreResult *result, GString *out)
{
  json_put_bool(out, "automated", result->automated);
  score_numbers_to_json(result, out);
  score_strings_to_json(out, "flags", result->flags);
  json_put_int(out, "urgency", result->urgency);
  json_put_string(out, "payment", result->payment);
  json_put_bool(out, "risky", result->risky);
  json_put_double(out, "risk", result->risk);
  json_put_array_start(out, "hits");
  for (guint i = 0; i < result->hits->len; i++)
    score_hit_to_json(g_ptr_array_index(result->hits, i), out);
  json_put_array_end(out);
  score_strings_to_json(out, "errors", result->errors);
}

/* ---- thread risk ---- */

/* A client message below this risk calms the thread down. */
#define SCORE_CALM_BELOW 0.5
/* What each later calm client message leaves of the risk before it. */
#define SCORE_CALM_FACTOR 0.5

/* 0.5 to the power `x` (x >= 0), without libm (the core links no -lm):
 * whole halvings, then e^(-f ln 2) by its series for the fraction f. */
static double score_half_power(double x)
{
  double result = 1;
  for (; x >= 1 && result > 1e-12; x -= 1)
    result *= 0.5;
  if (x >= 1)
    return 0;
  double y = -x * 0.6931471805599453, term = 1, sum = 1;
  for (int k = 1; k < 16; k++) {
    term *= y / k;
    sum += term;
  }
  return result * sum;
}

double score_thread_risk(const ScoreThreadEntry *entries, guint n, GDateTime *now,
                         double halflife_hours)
{
  if (halflife_hours <= 0)
    halflife_hours = 72;
  double risk = 0;
  for (guint i = 0; i < n; i++) {
    const ScoreThreadEntry *entry = &entries[i];
    if (entry->outgoing || !entry->date)
      continue;
    double age_hours = now ? g_date_time_difference(now, entry->date) / (double)G_TIME_SPAN_HOUR : 0;
    double decay = score_half_power(MAX(age_hours, 0) / halflife_hours);
    if (entry->risk < SCORE_CALM_BELOW)
      risk *= SCORE_CALM_FACTOR;
    risk += MAX(entry->risk, 0) * decay;
  }
  return risk;
}

/* ---- history and profiling ---- */

/* The thread's risk as of `message_date` from the messages before it (the
 * default half-life: the context has no rule set). */
static double score_thread_risk_before(const ScoreThreadEntry *entries, guint n,
                                       GDateTime *message_date)
{
  g_autoptr(GArray) before = g_array_new(FALSE, FALSE, sizeof(ScoreThreadEntry));
  for (guint i = 0; i < n; i++)
    if (entries[i].date && g_date_time_compare(entries[i].date, message_date) < 0)
      g_array_append_val(before, entries[i]);
  return score_thread_risk((const ScoreThreadEntry *)(void *)before->data, before->len,
                           message_date, 0);
}

void score_context_add_history(ScoreContext *context, const ScoreThreadEntry *entries, guint n,
                               GDateTime *message_date)
{
  int since_reply = 1, last_24h = 1;
  GDateTime *last_reply = NULL;
  for (guint i = 0; i < n; i++) {
    const ScoreThreadEntry *entry = &entries[i];
    if (!entry->date || g_date_time_compare(entry->date, message_date) >= 0)
      continue; /* this message itself, or later ones */
    if (entry->outgoing) {
      last_reply = entry->date;
      since_reply = 1;
      continue;
    }
    since_reply++;
    if (g_date_time_difference(message_date, entry->date) <= 24 * G_TIME_SPAN_HOUR)
      last_24h++;
  }
  context->chasers_since_reply = since_reply;
  context->chasers_24h = last_24h;
  context->thread_risk = score_thread_risk_before(entries, n, message_date);
  if (last_reply)
    context->hours_since_reply =
      g_date_time_difference(message_date, last_reply) / (double)G_TIME_SPAN_HOUR;
}

gboolean score_rule_run(const RuleSet *rules, guint index, const KeelMessage *message,
                        const ScoreContext *context)
{
  if (index >= rules->rules->len)
    return FALSE;
  const RulesRule *rule = g_ptr_array_index(rules->rules, index);
  if (rule->kind == RULES_KIND_WHEN)
    return FALSE;
  Scoring s;
  scoring_init(&s, rules, message);
  for (guint i = 0; i < rule->looks->len; i++)
    if (((RulesLook *)g_ptr_array_index(rule->looks, i))->where[0] == RULES_WHERE_SIGNAL) {
      signals_compute(message, context, rules->deadlines, s.result->signals);
      score_learned(rules, message, s.result->learned);
      break;
    }
  score_run_rule(&s, index);
  gboolean hit = s.hit[index];
  scoring_clear(&s);
  return hit;
}
