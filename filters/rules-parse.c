/* filters/rules-parse.c: the lexer and parser of the rule language (see
 * rules.c for the whole compiler). Reads a file line by line: `rule`,
 * `phrases`, `when` open a block; `look`, `words`, `if`, `adds`, `category`,
 * `why` fill the open block; `dimension`, `risky`, `urgency`, `payment`,
 * `automated`, `thread` are declarations. Regexes are compiled as they are
 * read (rules_compile_pattern()); names in `adds`, `category`, `if` and
 * `automated skips` are only queued in the Compiler: rules-compile.c
 * resolves them after the last file.
 * Entry point: rules_parse_file(). Every mistake goes to
 * rules_compiler_error() with the column it points at.
 * Must never: touch the network, SQLite or the clock; resolve names (a file
 * may use what a later file declares).
 */
#include <math.h>
#include <string.h>
#include "filters/rules-private.h"
#include "filters/signals.h"

/* ---- small lexing helpers ---- */

static const char *skip_space(const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

static gboolean is_name_char(char ch)
{
  return g_ascii_isalnum(ch) || ch == '_' || ch == '-';
}

/* Reads a name ([A-Za-z0-9_-]+) at `*p`; returns it (new string) or NULL. */
static char *read_name(const char **p)
{
  const char *start = *p;
  while (is_name_char(**p))
    (*p)++;
  if (*p == start)
    return NULL;
  return g_strndup(start, *p - start);
}

/* Reads a word up to whitespace. */
static char *read_word(const char **p)
{
  const char *start = *p;
  while (**p && **p != ' ' && **p != '\t')
    (*p)++;
  return *p == start ? NULL : g_strndup(start, *p - start);
}

/* TRUE when only spaces or a `# comment` are left at `p`. */
static gboolean at_end(const char *p)
{
  p = skip_space(p);
  return *p == '\0' || *p == '#';
}

/* Cuts a trailing `# comment` (a '#' at the start or after a space). */
static void strip_comment(char *text)
{
  for (char *p = text; *p; p++) {
    if (*p == '#' && (p == text || p[-1] == ' ' || p[-1] == '\t')) {
      *p = '\0';
      break;
    }
  }
  g_strchomp(text);
}

static gboolean read_number(Compiler *c, const char **p, double *out)
{
  char *end = NULL;
  double value = g_ascii_strtod(*p, &end);
  if (end == *p || !isfinite(value) || (*end && *end != ' ' && *end != '\t' && *end != '#')) {
    rules_compiler_error(c, *p, "expected a number, e.g. 3 or 0.6");
    return FALSE;
  }
  *out = value;
  *p = end;
  return TRUE;
}

static gboolean read_op(Compiler *c, const char **p, RulesOp *op)
{
  static const struct { const char *text; RulesOp op; } ops[] = {
    { ">=", RULES_OP_GE }, { "<=", RULES_OP_LE }, { "!=", RULES_OP_NE },
    { "==", RULES_OP_EQ }, { ">", RULES_OP_GT }, { "<", RULES_OP_LT }, { "=", RULES_OP_EQ },
  };
  for (guint i = 0; i < G_N_ELEMENTS(ops); i++) {
    if (g_str_has_prefix(*p, ops[i].text)) {
      *op = ops[i].op;
      *p = skip_space(*p + strlen(ops[i].text));
      return TRUE;
    }
  }
  rules_compiler_error(c, *p, "expected a comparison: >=, >, <=, <, == or !=");
  return FALSE;
}

/* ---- expressions: `a & (b | !c)`; ! binds tightest, then &, then | ---- */

static RulesExpr *expr_parse_or(Compiler *c, const char **p);

static RulesExpr *expr_node(RulesExprOp op, RulesExpr *left, RulesExpr *right)
{
  RulesExpr *expr = g_new0(RulesExpr, 1);
  expr->op = op;
  expr->left = left;
  expr->right = right;
  return expr;
}

static RulesExpr *expr_parse_atom(Compiler *c, const char **p)
{
  *p = skip_space(*p);
  if (**p == '!') {
    (*p)++;
    RulesExpr *inner = expr_parse_atom(c, p);
    return inner ? expr_node(RULES_EXPR_NOT, inner, NULL) : NULL;
  }
  if (**p == '(') {
    const char *open = *p;
    (*p)++;
    RulesExpr *inner = expr_parse_or(c, p);
    if (!inner)
      return NULL;
    *p = skip_space(*p);
    if (**p != ')') {
      rules_compiler_error(c, open, "this '(' is never closed");
      rules_expr_free(inner);
      return NULL;
    }
    (*p)++;
    return inner;
  }
  const char *start = *p;
  char *name = read_name(p);
  if (!name) {
    rules_compiler_error(c, start, "expected a rule or dimension name, '!' or '('");
    return NULL;
  }
  RulesExpr *expr = expr_node(RULES_EXPR_NAME, NULL, NULL);
  expr->name = name;
  expr->line = c->line;
  expr->col = rules_compiler_col(c, start);
  return expr;
}

static RulesExpr *expr_parse_and(Compiler *c, const char **p)
{
  RulesExpr *left = expr_parse_atom(c, p);
  while (left) {
    *p = skip_space(*p);
    if (**p != '&')
      break;
    (*p)++;
    RulesExpr *right = expr_parse_atom(c, p);
    if (!right) {
      rules_expr_free(left);
      return NULL;
    }
    left = expr_node(RULES_EXPR_AND, left, right);
  }
  return left;
}

static RulesExpr *expr_parse_or(Compiler *c, const char **p)
{
  RulesExpr *left = expr_parse_and(c, p);
  while (left) {
    *p = skip_space(*p);
    if (**p != '|')
      break;
    (*p)++;
    RulesExpr *right = expr_parse_and(c, p);
    if (!right) {
      rules_expr_free(left);
      return NULL;
    }
    left = expr_node(RULES_EXPR_OR, left, right);
  }
  return left;
}

/* Parses a whole expression; the rest of the line must be empty. Queues its
 * names for resolution. */
static RulesExpr *expr_parse_line(Compiler *c, const char *p, gboolean in_when)
{
  if (at_end(p)) {
    rules_compiler_error(c, p, "expected an expression after `if`, e.g. legal_action & shouting");
    return NULL;
  }
  RulesExpr *expr = expr_parse_or(c, &p);
  if (expr && !at_end(p)) {
    rules_compiler_error(c, p, "unexpected '%c' in the expression (use &, |, ! and parentheses)", *p);
    g_clear_pointer(&expr, rules_expr_free);
  }
  if (expr) {
    PendingExpr pending = { expr, c->file, in_when };
    g_array_append_val(c->pending_exprs, pending);
  }
  return expr;
}

/* ---- look lines ---- */

static gboolean parse_where(Compiler *c, RulesLook *look, const char *word, const char *at)
{
  static const struct { const char *name; RulesWhere where; } places[] = {
    { "subject", RULES_WHERE_SUBJECT }, { "text", RULES_WHERE_TEXT },
    { "quoted", RULES_WHERE_QUOTED }, { "body", RULES_WHERE_BODY }, { "from", RULES_WHERE_FROM },
  };
  if (look->n_where == G_N_ELEMENTS(look->where)) {
    rules_compiler_error(c, at, "too many places in one `look` line (at most 8)");
    return FALSE;
  }
  for (guint i = 0; i < G_N_ELEMENTS(places); i++) {
    if (strcmp(word, places[i].name) == 0) {
      look->where[look->n_where++] = places[i].where;
      return TRUE;
    }
  }
  if (g_str_has_prefix(word, "header:") && word[7]) {
    look->header[look->n_where] = g_strdup(word + 7);
    look->where[look->n_where++] = RULES_WHERE_HEADER;
    return TRUE;
  }
  rules_compiler_error(c, at, "unknown place '%s' to look: use subject, text, quoted, body, from, "
                 "header:NAME or signal NAME", word);
  return FALSE;
}

/* Reads the places of a look line up to a '/' or the end. */
static gboolean parse_where_list(Compiler *c, RulesLook *look, const char **p)
{
  while (!at_end(*p) && **p != '/') {
    const char *at = *p;
    g_autofree char *word = read_word(p);
    if (!parse_where(c, look, word, at))
      return FALSE;
    *p = skip_space(*p);
  }
  if (look->n_where == 0) {
    rules_compiler_error(c, *p, "say where to look: subject, text, quoted, body, from, header:NAME "
                   "or signal NAME");
    return FALSE;
  }
  return TRUE;
}

static gboolean parse_signal_look(Compiler *c, RulesLook *look, const char *p)
{
  const char *at = p;
  g_autofree char *name = read_name(&p);
  int id = name ? signals_lookup(name) : -1;
  if (id < 0 && name && learned_signal_lookup(name) >= 0)
    id = SIGNAL_COUNT + learned_signal_lookup(name);
  if (id < 0) {
    rules_compiler_error(c, at, "unknown signal '%s': known signals are %s %s", name ? name : "",
                   signals_all_names(), learned_all_signal_names());
    return FALSE;
  }
  p = skip_space(p);
  if (!read_op(c, &p, &look->op) || !read_number(c, &p, &look->value))
    return FALSE;
  if (!at_end(p)) {
    rules_compiler_error(c, p, "unexpected text after the number");
    return FALSE;
  }
  look->where[0] = RULES_WHERE_SIGNAL;
  look->n_where = 1;
  look->signal = (guint)id;
  return TRUE;
}

static gboolean parse_regex_flags(Compiler *c, const char **p, guint32 *options)
{
  while (g_ascii_isalpha(**p)) {
    switch (**p) {
    case 'i': *options |= PCRE2_CASELESS; break;
    case 'm': *options |= PCRE2_MULTILINE; break;
    case 's': *options |= PCRE2_DOTALL; break;
    case 'x': *options |= PCRE2_EXTENDED; break;
    case 'n': *options |= PCRE2_NO_AUTO_CAPTURE; break;
    default:
      rules_compiler_error(c, *p, "unknown regex flag '%c': use i, m, s, x or n", **p);
      return FALSE;
    }
    (*p)++;
  }
  return TRUE;
}

/* `/regex/flags` at `p`. */
static gboolean parse_regex(Compiler *c, RulesLook *look, const char *p)
{
  if (*p != '/') {
    rules_compiler_error(c, p, "expected a /regex/ after the places to look");
    return FALSE;
  }
  const char *start = p + 1, *end = start;
  while (*end && *end != '/')
    end += (*end == '\\' && end[1]) ? 2 : 1;
  if (*end != '/') {
    rules_compiler_error(c, p, "this regex is not closed: end it with '/' (write \\/ for a slash inside)");
    return FALSE;
  }
  const char *q = end + 1;
  if (!parse_regex_flags(c, &q, &look->flags))
    return FALSE;
  if (!at_end(q)) {
    rules_compiler_error(c, q, "unexpected text after the regex (a comment starts with ' #')");
    return FALSE;
  }
  look->pattern = g_strndup(start, end - start);
  look->code = rules_compile_pattern(c, start, end - start, look->flags, start, p);
  return look->code != NULL;
}

static void parse_look(Compiler *c, RulesRule *rule, const char *p)
{
  if (rule->kind == RULES_KIND_WHEN) {
    rules_compiler_error(c, p, "a `when` rule looks at other rules with `if`, not with `look`");
    return;
  }
  RulesLook *look = g_new0(RulesLook, 1);
  gboolean ok;
  rule->look_lines++;
  if (g_str_has_prefix(p, "signal") && (p[6] == ' ' || p[6] == '\t' || p[6] == '\0')) {
    ok = rule->kind == RULES_KIND_RULE;
    if (!ok)
      rules_compiler_error(c, p, "a `phrases` list cannot look at a signal: use a `rule`");
    ok = ok && parse_signal_look(c, look, skip_space(p + 6));
  } else {
    ok = parse_where_list(c, look, &p);
    if (ok && rule->kind == RULES_KIND_PHRASES && !at_end(p)) {
      rules_compiler_error(c, p, "a `phrases` list takes its words from `words`, not a /regex/ "
                     "(use `rule` for a regex)");
      ok = FALSE;
    }
    ok = ok && (rule->kind == RULES_KIND_PHRASES || parse_regex(c, look, p));
  }
  if (ok)
    g_ptr_array_add(rule->looks, look);
  else
    rules_look_free(look);
}

static void parse_words(Compiler *c, RulesRule *rule, const char *p)
{
  if (rule->kind != RULES_KIND_PHRASES) {
    rules_compiler_error(c, p, "`words` belongs to a `phrases` list (a `rule` uses a /regex/)");
    return;
  }
  g_auto(GStrv) parts = g_strsplit(p, "|", -1);
  const char *at = p;
  for (guint i = 0; parts[i]; i++) {
    g_autofree char *word = g_strstrip(g_strdup(parts[i]));
    if (i == 0 && !*word && parts[1] && rule->words->len > 0) {
      at += strlen(parts[i]) + 1; /* a continuation line may start with '|' */
      continue;
    }
    if (!*word)
      rules_compiler_error(c, at, "empty phrase: remove the extra '|'");
    else
      g_ptr_array_add(rule->words, g_steal_pointer(&word));
    at += strlen(parts[i]) + 1;
  }
}

/* ---- attributes of a block ---- */

static void parse_adds(Compiler *c, RulesRule *rule, const char *p)
{
  gboolean any = FALSE;
  while (!at_end(p)) {
    const char *at = p;
    char *name = read_name(&p);
    if (!name) {
      rules_compiler_error(c, at, "expected a dimension name, e.g. `adds tone +3`");
      return;
    }
    p = skip_space(p);
    double points = 0;
    if (!read_number(c, &p, &points)) {
      g_free(name);
      return;
    }
    Pending pending = { rule, name, c->file, c->line, rules_compiler_col(c, at), points };
    g_array_append_val(c->pending_adds, pending);
    any = TRUE;
    p = skip_space(p);
  }
  if (!any)
    rules_compiler_error(c, p, "expected a dimension and points, e.g. `adds tone +3`");
}

static void parse_category(Compiler *c, RulesRule *rule, const char *p)
{
  const char *at = p;
  char *name = read_name(&p);
  if (!name || !at_end(p)) {
    rules_compiler_error(c, name ? p : at, "expected one payment category name, e.g. `category refusal`");
    g_free(name);
    return;
  }
  Pending pending = { rule, name, c->file, c->line, rules_compiler_col(c, at), 0 };
  g_array_append_val(c->pending_cats, pending);
}

static void parse_why(Compiler *c, RulesRule *rule, const char *p)
{
  g_autofree char *text = g_strdup(p);
  strip_comment(text);
  if (!*text) {
    rules_compiler_error(c, p, "`why` needs a short explanation for the VA");
    return;
  }
  char *joined = rule->why ? g_strconcat(rule->why, " ", text, NULL) : g_strdup(text);
  g_free(rule->why);
  rule->why = joined;
}

static void parse_if(Compiler *c, RulesRule *rule, const char *p)
{
  if (rule->kind != RULES_KIND_WHEN) {
    rules_compiler_error(c, p, "`if` belongs to a `when` rule (a rule over rules)");
    return;
  }
  if (rule->expr) {
    rules_compiler_error(c, p, "this `when` rule already has an `if`: combine them with & or |");
    return;
  }
  rule->expr = expr_parse_line(c, p, TRUE);
}

/* Counts the pending adds of `rule` (they are resolved after the last file). */
static guint pending_adds_for(Compiler *c, const RulesRule *rule)
{
  guint n = 0;
  for (guint i = 0; i < c->pending_adds->len; i++)
    n += g_array_index(c->pending_adds, Pending, i).rule == rule;
  return n;
}

/* Checks the open block is complete and compiles its phrases. */
static void block_close(Compiler *c)
{
  RulesRule *rule = c->current;
  if (!rule)
    return;
  c->current = NULL;
  int line = c->line;
  c->line = rule->line; /* errors about the block point at its first line */
  const char *what = rule->kind == RULES_KIND_WHEN ? "when" :
                     rule->kind == RULES_KIND_PHRASES ? "phrases" : "rule";
  if (rule->kind != RULES_KIND_WHEN && rule->look_lines == 0)
    rules_compiler_error(c, NULL, "%s '%s' has no `look` line: say where to look", what, rule->name);
  if (rule->kind == RULES_KIND_PHRASES && rule->words->len == 0)
    rules_compiler_error(c, NULL, "phrases '%s' has no `words` line", rule->name);
  if (rule->kind == RULES_KIND_WHEN && !rule->expr)
    rules_compiler_error(c, NULL, "when '%s' has no `if` line: say which rules it combines", rule->name);
  if (pending_adds_for(c, rule) == 0)
    rules_compiler_error(c, NULL, "%s '%s' adds nothing: give it an `adds DIMENSION +N` line "
                   "(+0 to only use it in `if`)", what, rule->name);
  if (rule->kind == RULES_KIND_PHRASES && rule->looks->len && rule->words->len)
    rules_phrases_compile(c, rule);
  c->line = line;
}

static gboolean valid_rule_name(const char *name)
{
  return g_ascii_isalpha(name[0]) || name[0] == '_';
}

static void block_open(Compiler *c, RulesKind kind, const char *keyword, const char *p)
{
  const char *at = p;
  g_autofree char *name = read_name(&p);
  if (!name || !valid_rule_name(name) || !at_end(p)) {
    rules_compiler_error(c, name ? (at_end(p) ? at : p) : at,
                   "expected a name after `%s` (letters, digits, _ and -, starting with a letter)",
                   keyword);
    name = name ? name : g_strdup("_unnamed");
  }
  RulesRule *rule = g_new0(RulesRule, 1);
  rule->kind = kind;
  rule->name = g_strdup(name);
  rule->file = g_strdup(c->file);
  rule->line = c->line;
  rule->looks = g_ptr_array_new_with_free_func((GDestroyNotify)rules_look_free);
  rule->words = g_ptr_array_new_with_free_func(g_free);
  rule->adds = g_array_new(FALSE, FALSE, sizeof(RulesAdd));
  rule->category = -1;
  rule->phrase_group = -1;
  const RulesRule *first = g_hash_table_lookup(c->rule_by_name, name);
  if (first)
    rules_compiler_error(c, at, "duplicate rule name '%s' (first defined at %s:%d)", name,
                   first->file, first->line);
  else
    g_hash_table_insert(c->rule_by_name, rule->name, rule);
  g_ptr_array_add(c->set->rules, rule);
  c->current = rule;
}

/* ---- declarations ---- */

/* Expects the literal word `word` at `*p`. */
static gboolean expect_word(Compiler *c, const char **p, const char *word, const char *example)
{
  *p = skip_space(*p);
  gsize n = strlen(word);
  if (strncmp(*p, word, n) == 0 && !(is_name_char(word[n - 1]) && is_name_char((*p)[n]))) {
    *p = skip_space(*p + n);
    return TRUE;
  }
  rules_compiler_error(c, *p, "expected `%s` here, e.g. `%s`", word, example);
  return FALSE;
}

/* `dimension NAME flag >= N [weight W]` */
static void parse_dimension(Compiler *c, const char *p)
{
  static const char example[] = "dimension tone flag >= 4 weight 1";
  const char *at = p;
  g_autofree char *name = read_name(&p);
  if (!name) {
    rules_compiler_error(c, at, "expected a dimension name, e.g. `%s`", example);
    return;
  }
  double flag_at = 0, weight = 0;
  if (!expect_word(c, &p, "flag", example) || !expect_word(c, &p, ">=", example) ||
      !read_number(c, &p, &flag_at))
    return;
  p = skip_space(p);
  if (!at_end(p) && (!expect_word(c, &p, "weight", example) || !read_number(c, &p, &weight)))
    return;
  if (!at_end(p)) {
    rules_compiler_error(c, p, "unexpected text after the dimension, e.g. `%s`", example);
    return;
  }
  if (rules_dimension_index(c->set, name) >= 0) {
    rules_compiler_error(c, at, "dimension '%s' is declared twice", name);
    return;
  }
  RulesDimension *dimension = g_new0(RulesDimension, 1);
  dimension->name = g_steal_pointer(&name);
  dimension->flag_at = flag_at > 0 ? flag_at : 1;
  dimension->weight = weight;
  g_ptr_array_add(c->set->dimensions, dimension);
}

static void parse_risky(Compiler *c, const char *p)
{
  if (!expect_word(c, &p, "if", "risky if tone | threat"))
    return;
  if (c->set->risky) {
    rules_compiler_error(c, p, "`risky if` is declared twice: combine them with |");
    return;
  }
  c->set->risky = expr_parse_line(c, p, FALSE);
}

/* `urgency level N if EXPR` */
static void parse_urgency(Compiler *c, const char *p)
{
  static const char example[] = "urgency level 3 if asap | overdue";
  double level = 0;
  if (!expect_word(c, &p, "level", example))
    return;
  const char *at = p;
  if (!read_number(c, &p, &level))
    return;
  if (level != 1 && level != 2 && level != 3) {
    rules_compiler_error(c, at, "urgency levels are 1, 2 and 3 (0 is the default)");
    return;
  }
  if (!expect_word(c, &p, "if", example))
    return;
  RulesExpr *expr = expr_parse_line(c, p, FALSE);
  if (!expr)
    return;
  RulesLevel *entry = g_new0(RulesLevel, 1);
  entry->level = (int)level;
  entry->expr = expr;
  g_ptr_array_add(c->set->levels, entry);
}

/* `payment categories refusal > dispute > haggle` (highest priority first) */
static void parse_payment(Compiler *c, const char *p)
{
  if (!expect_word(c, &p, "categories", "payment categories refusal > dispute > promise"))
    return;
  if (c->set->categories->len) {
    rules_compiler_error(c, p, "payment categories are declared twice");
    return;
  }
  while (!at_end(p)) {
    const char *at = p;
    char *name = read_name(&p);
    if (!name || strcmp(name, "none") == 0) {
      rules_compiler_error(c, at, "expected a category name ('none' is implied)");
      g_free(name);
      return;
    }
    g_ptr_array_add(c->set->categories, name);
    p = skip_space(p);
    if (*p == '>')
      p = skip_space(p + 1);
    else if (!at_end(p)) {
      rules_compiler_error(c, p, "separate categories with '>', highest priority first");
      return;
    }
  }
}

/* `automated skips tone urgency ...`: dimensions automated mail never scores. */
static void parse_automated(Compiler *c, const char *p)
{
  if (!expect_word(c, &p, "skips", "automated skips tone urgency threat"))
    return;
  while (!at_end(p)) {
    const char *at = p;
    char *name = read_name(&p);
    if (!name) {
      rules_compiler_error(c, at, "expected a dimension name");
      return;
    }
    Pending *pending = g_new0(Pending, 1);
    *pending = (Pending){ NULL, name, c->file, c->line, rules_compiler_col(c, at), 0 };
    g_ptr_array_add(c->skip_names, pending);
    p = skip_space(p);
  }
}

/* `thread halflife N hours` */
static void parse_thread(Compiler *c, const char *p)
{
  static const char example[] = "thread halflife 72 hours";
  double hours = 0;
  const char *at;
  if (!expect_word(c, &p, "halflife", example))
    return;
  at = p;
  if (!read_number(c, &p, &hours) || !expect_word(c, &p, "hours", example))
    return;
  if (hours <= 0) {
    rules_compiler_error(c, at, "the half-life must be more than 0 hours");
    return;
  }
  c->set->thread_halflife_hours = hours;
}

/* ---- lines and files ---- */

typedef enum { KW_BLOCK, KW_ATTRIBUTE, KW_DECLARATION } KeywordClass;

static void parse_attribute(Compiler *c, const char *keyword, const char *at, const char *p)
{
  RulesRule *rule = c->current;
  if (!rule) {
    rules_compiler_error(c, at, "`%s` outside a rule: start one with `rule NAME`, `phrases NAME` or "
                   "`when NAME`", keyword);
    return;
  }
  if (strcmp(keyword, "look") == 0)
    parse_look(c, rule, p);
  else if (strcmp(keyword, "words") == 0 || strcmp(keyword, "|") == 0)
    parse_words(c, rule, strcmp(keyword, "|") == 0 ? at : p);
  else if (strcmp(keyword, "adds") == 0)
    parse_adds(c, rule, p);
  else if (strcmp(keyword, "category") == 0)
    parse_category(c, rule, p);
  else if (strcmp(keyword, "why") == 0)
    parse_why(c, rule, p);
  else
    parse_if(c, rule, p);
}

static gboolean parse_declaration(Compiler *c, const char *keyword, const char *p)
{
  static const struct { const char *keyword; void (*parse)(Compiler *, const char *); } table[] = {
    { "dimension", parse_dimension }, { "risky", parse_risky }, { "urgency", parse_urgency },
    { "payment", parse_payment }, { "automated", parse_automated }, { "thread", parse_thread },
  };
  for (guint i = 0; i < G_N_ELEMENTS(table); i++) {
    if (strcmp(keyword, table[i].keyword) == 0) {
      block_close(c);
      table[i].parse(c, p);
      return TRUE;
    }
  }
  return FALSE;
}

static void parse_line(Compiler *c, const char *line)
{
  static const char *const attributes[] = { "look", "words", "adds", "category", "why", "if", "|" };
  const char *p = skip_space(line);
  if (*p == '\0' || *p == '#')
    return;
  const char *at = p;
  g_autofree char *keyword = *p == '|' ? g_strdup("|") : read_name(&p);
  if (!keyword) {
    rules_compiler_error(c, at, "expected a keyword (rule, phrases, when, look, words, adds, why, ...)");
    return;
  }
  p = *at == '|' ? at + 1 : p;
  p = skip_space(p);
  if (strcmp(keyword, "rule") == 0 || strcmp(keyword, "phrases") == 0 ||
      strcmp(keyword, "when") == 0) {
    block_close(c);
    block_open(c, keyword[0] == 'r' ? RULES_KIND_RULE :
                  keyword[0] == 'p' ? RULES_KIND_PHRASES : RULES_KIND_WHEN, keyword, p);
    return;
  }
  for (guint i = 0; i < G_N_ELEMENTS(attributes); i++) {
    if (strcmp(keyword, attributes[i]) == 0) {
      parse_attribute(c, keyword, at, p);
      return;
    }
  }
  if (!parse_declaration(c, keyword, p))
    rules_compiler_error(c, at, "unknown keyword '%s' (expected rule, phrases, when, look, words, "
                   "adds, category, why, if, dimension, risky, urgency, payment, automated "
                   "or thread)", keyword);
}

/* Reports the first invalid UTF-8 byte of `text` as an error. */
static gboolean check_utf8(Compiler *c, const char *text, gsize len)
{
  const char *end = NULL;
  if (g_utf8_validate_len(text, len, &end))
    return TRUE;
  c->line = 1;
  c->line_start = text;
  for (const char *p = text; p < end; p++) {
    if (*p == '\n') {
      c->line++;
      c->line_start = p + 1;
    }
  }
  rules_compiler_error(c, end, "this file is not valid UTF-8 (save it as UTF-8)");
  return FALSE;
}

/* TRUE when the first line that is not blank or a comment starts with a
 * keyword (a block, a declaration or an attribute other than the English
 * words `why` and `if`). A file that
 * does not is no rules file (a symlink to a password file, a stray note): it
 * gets one error that quotes none of its text, since the directory's errors go
 * to the log and the digest. */
static gboolean looks_like_rules(Compiler *c, const char *text, gsize len)
{
  static const char *const openers[] = { "rule", "phrases", "when", "dimension", "risky",
                                          "urgency", "payment", "automated", "thread", "look",
                                          "words", "adds", "category", NULL };
  const char *end = text + len, *p = text;
  for (c->line = 1; p < end; c->line++) {
    const char *eol = memchr(p, '\n', end - p);
    const char *q = skip_space(p);
    if (q < (eol ? eol : end) && *q != '#' && *q != '\r' && *q != '\n') {
      gsize n = 0;
      while (q + n < end && is_name_char(q[n]))
        n++;
      for (guint i = 0; openers[i]; i++)
        if (strlen(openers[i]) == n && strncmp(q, openers[i], n) == 0
            && (q + n == end || q[n] == ' ' || q[n] == '\t' || q[n] == '\r' || q[n] == '\n'))
          return TRUE;
      rules_compiler_error(c, NULL, "this is not a rules file: its first line does not start with "
                     "a keyword such as `rule`, `phrases`, `when` or `dimension` (its text is "
                     "not shown here)");
      return FALSE;
    }
    p = eol ? eol + 1 : end;
  }
  return TRUE;
}

void rules_parse_file(Compiler *c, const char *name, const char *text, gsize len)
{
  g_ptr_array_add(c->files, g_strdup(name));
  c->file = g_ptr_array_index(c->files, c->files->len - 1);
  c->line_start = NULL;
  if (!looks_like_rules(c, text, len) || !check_utf8(c, text, len))
    return;
  g_autofree char *copy = g_strndup(text, len);
  char *next = copy;
  for (int i = 1; next; i++) { /* not g_strsplit(): see learned_model_parse() */
    char *line = next;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    gsize n = strlen(line);
    if (n && line[n - 1] == '\r')
      line[n - 1] = '\0';
    c->line = i;
    c->line_start = line;
    parse_line(c, line);
  }
  c->line_start = NULL;
  block_close(c);
}
