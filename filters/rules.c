/* filters/rules.c: the rule compiler. Rule text in (rules/NAME.rules, the
 * language of rules/README.md and keel.rules(5)), an immutable RuleSet out.
 *
 * How it works: every file is read line by line. A line starts with a keyword:
 * `rule`, `phrases`, `when` open a block; `look`, `words`, `if`, `adds`,
 * `category`, `why` fill the open block; `dimension`, `risky`, `urgency`,
 * `payment`, `automated`, `thread` are declarations. Regexes are compiled at
 * once (PCRE2, UTF + UCP, JIT); each phrase list becomes one caseless trie
 * regex with word boundaries. Names (dimensions, categories, rules in `if`)
 * are resolved after the last file, so a file may use what another declares.
 * Then rules over rules are ordered (a cycle is an error), and phrase lists
 * that look at the same places are also compiled together into one trie with
 * a (*MARK) per phrase end, so scoring scans each text once for all of them.
 *
 * Every mistake is collected as `file:line:col: message` (col counts
 * characters from 1) and the whole set is refused when there is one: a
 * half-loaded rule set never scores mail.
 *
 * Entry points: rules_compile(), rules_free() (daemon/record/rules-dir.c reads a
 * directory of rule files and hands their text to rules_compile()).
 * Must never: touch the network, SQLite or the clock; read anything but the
 * *.rules files of the directory it is given (the extractors' files excepted).
 */
#include <math.h>
#include <string.h>
#include "filters/rules.h"
#include "filters/signals.h"

G_DEFINE_QUARK(keel-rules-error-quark, keel_rules_error)

typedef struct {
  RulesRule *rule;   /* borrowed */
  char *name;        /* owned: dimension or category name */
  const char *file;  /* borrowed from Compiler.files */
  int line, col;
  double points;
} Pending;

typedef struct {
  RulesExpr *expr;   /* borrowed */
  const char *file;  /* borrowed */
  gboolean in_when;  /* only rule names (and `automated`) allowed */
} PendingExpr;

typedef struct {
  RuleSet *set;          /* owned until stolen */
  GPtrArray *errors;     /* of char* */
  GPtrArray *files;      /* of char*, owned names */
  GHashTable *rule_by_name; /* name -> RulesRule* (borrowed) */
  GArray *pending_adds;  /* of Pending */
  GArray *pending_cats;  /* of Pending */
  GArray *pending_exprs; /* of PendingExpr */
  GPtrArray *skip_names; /* of Pending*: `automated skips` dimension names */
  RulesRule *current;    /* the open block, borrowed from set->rules */
  const char *file;      /* borrowed */
  int line;
  const char *line_start;
  pcre2_compile_context *ccontext;
} Compiler;

static void compiler_error(Compiler *c, const char *at, const char *format, ...) G_GNUC_PRINTF(3, 4);

/* Column (from 1, in characters) of `at` in the current line. */
static int compiler_col(const Compiler *c, const char *at)
{
  if (!at || at < c->line_start)
    return 1;
  return (int)g_utf8_strlen(c->line_start, at - c->line_start) + 1;
}

static void compiler_error(Compiler *c, const char *at, const char *format, ...)
{
  va_list args;
  va_start(args, format);
  g_autofree char *message = g_strdup_vprintf(format, args);
  va_end(args);
  g_ptr_array_add(c->errors, g_strdup_printf("%s:%d:%d: %s", c->file, c->line,
                                             compiler_col(c, at), message));
}

static void compiler_error_at(Compiler *c, const char *file, int line, int col,
                              const char *message)
{
  g_ptr_array_add(c->errors, g_strdup_printf("%s:%d:%d: %s", file, line, col, message));
}

/* ---- freeing ---- */

static void rules_expr_free(RulesExpr *expr)
{
  if (!expr)
    return;
  rules_expr_free(expr->left);
  rules_expr_free(expr->right);
  g_free(expr->name);
  g_free(expr);
}

static void rules_look_free(RulesLook *look)
{
  for (guint i = 0; i < look->n_where; i++)
    g_free(look->header[i]);
  g_clear_pointer(&look->code, pcre2_code_free);
  g_free(look->pattern);
  g_free(look);
}

static void rules_rule_free(RulesRule *rule)
{
  g_free(rule->name);
  g_free(rule->file);
  g_clear_pointer(&rule->looks, g_ptr_array_unref);
  g_clear_pointer(&rule->words, g_ptr_array_unref);
  rules_expr_free(rule->expr);
  g_array_unref(rule->adds);
  g_free(rule->why);
  g_free(rule);
}

static void rules_dimension_free(RulesDimension *dimension)
{
  g_free(dimension->name);
  g_free(dimension);
}

static void rules_level_free(RulesLevel *level)
{
  rules_expr_free(level->expr);
  g_free(level);
}

static void rules_phrase_group_free(RulesPhraseGroup *group)
{
  rules_look_free(group->look);
  g_ptr_array_unref(group->marks);
  g_array_unref(group->members);
  g_free(group);
}

void rules_free(RuleSet *rules)
{
  if (!rules)
    return;
  g_ptr_array_unref(rules->rules);
  g_free(rules->order);
  g_ptr_array_unref(rules->dimensions);
  g_ptr_array_unref(rules->categories);
  g_ptr_array_unref(rules->levels);
  g_ptr_array_unref(rules->phrase_groups);
  rules_expr_free(rules->risky);
  g_clear_pointer(&rules->match_context, pcre2_match_context_free);
  learned_set_free(rules->learned);
  g_free(rules);
}

void rules_set_learned(RuleSet *rules, LearnedSet *learned)
{
  learned_set_free(rules->learned);
  rules->learned = learned;
}

static RuleSet *rules_new(void)
{
  RuleSet *set = g_new0(RuleSet, 1);
  set->rules = g_ptr_array_new_with_free_func((GDestroyNotify)rules_rule_free);
  set->dimensions = g_ptr_array_new_with_free_func((GDestroyNotify)rules_dimension_free);
  set->categories = g_ptr_array_new_with_free_func(g_free);
  set->levels = g_ptr_array_new_with_free_func((GDestroyNotify)rules_level_free);
  set->phrase_groups = g_ptr_array_new_with_free_func((GDestroyNotify)rules_phrase_group_free);
  set->thread_halflife_hours = 72;
  return set;
}

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
    compiler_error(c, *p, "expected a number, e.g. 3 or 0.6");
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
  compiler_error(c, *p, "expected a comparison: >=, >, <=, <, == or !=");
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
      compiler_error(c, open, "this '(' is never closed");
      rules_expr_free(inner);
      return NULL;
    }
    (*p)++;
    return inner;
  }
  const char *start = *p;
  char *name = read_name(p);
  if (!name) {
    compiler_error(c, start, "expected a rule or dimension name, '!' or '('");
    return NULL;
  }
  RulesExpr *expr = expr_node(RULES_EXPR_NAME, NULL, NULL);
  expr->name = name;
  expr->line = c->line;
  expr->col = compiler_col(c, start);
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
    compiler_error(c, p, "expected an expression after `if`, e.g. legal_action & shouting");
    return NULL;
  }
  RulesExpr *expr = expr_parse_or(c, &p);
  if (expr && !at_end(p)) {
    compiler_error(c, p, "unexpected '%c' in the expression (use &, |, ! and parentheses)", *p);
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
    compiler_error(c, at, "too many places in one `look` line (at most 8)");
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
  compiler_error(c, at, "unknown place '%s' to look: use subject, text, quoted, body, from, "
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
    compiler_error(c, *p, "say where to look: subject, text, quoted, body, from, header:NAME "
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
    compiler_error(c, at, "unknown signal '%s': known signals are %s %s", name ? name : "",
                   signals_all_names(), learned_all_signal_names());
    return FALSE;
  }
  p = skip_space(p);
  if (!read_op(c, &p, &look->op) || !read_number(c, &p, &look->value))
    return FALSE;
  if (!at_end(p)) {
    compiler_error(c, p, "unexpected text after the number");
    return FALSE;
  }
  look->where[0] = RULES_WHERE_SIGNAL;
  look->n_where = 1;
  look->signal = (guint)id;
  return TRUE;
}

/* Compiles `pattern` (`len` bytes). `at` is where the pattern starts in the
 * line (errors point at the offending character), or NULL for a generated one. */
static pcre2_code *compile_pattern(Compiler *c, const char *pattern, gsize len,
                                   guint32 options, const char *at, const char *rule_at)
{
  int code = 0;
  PCRE2_SIZE offset = 0;
  options |= PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, len, options, &code, &offset, c->ccontext);
  if (!re) {
    PCRE2_UCHAR text[256];
    pcre2_get_error_message(code, text, sizeof text);
    compiler_error(c, at ? at + MIN(offset, len) : rule_at, "bad regex: %s", (const char *)text);
    return NULL;
  }
  guint32 min_length = 1;
  pcre2_pattern_info(re, PCRE2_INFO_MINLENGTH, &min_length);
  if (min_length == 0) {
    compiler_error(c, at ? at : rule_at, "this regex also matches empty text, so it would hit "
                   "every message");
    pcre2_code_free(re);
    return NULL;
  }
  if (at) /* a phrase list's own regex is JIT-compiled only if its group fails */
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* no JIT: the interpreter runs it, slower */
  return re;
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
      compiler_error(c, *p, "unknown regex flag '%c': use i, m, s, x or n", **p);
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
    compiler_error(c, p, "expected a /regex/ after the places to look");
    return FALSE;
  }
  const char *start = p + 1, *end = start;
  while (*end && *end != '/')
    end += (*end == '\\' && end[1]) ? 2 : 1;
  if (*end != '/') {
    compiler_error(c, p, "this regex is not closed: end it with '/' (write \\/ for a slash inside)");
    return FALSE;
  }
  const char *q = end + 1;
  if (!parse_regex_flags(c, &q, &look->flags))
    return FALSE;
  if (!at_end(q)) {
    compiler_error(c, q, "unexpected text after the regex (a comment starts with ' #')");
    return FALSE;
  }
  look->pattern = g_strndup(start, end - start);
  look->code = compile_pattern(c, start, end - start, look->flags, start, p);
  return look->code != NULL;
}

static void parse_look(Compiler *c, RulesRule *rule, const char *p)
{
  if (rule->kind == RULES_KIND_WHEN) {
    compiler_error(c, p, "a `when` rule looks at other rules with `if`, not with `look`");
    return;
  }
  RulesLook *look = g_new0(RulesLook, 1);
  gboolean ok;
  rule->look_lines++;
  if (g_str_has_prefix(p, "signal") && (p[6] == ' ' || p[6] == '\t' || p[6] == '\0')) {
    ok = rule->kind == RULES_KIND_RULE;
    if (!ok)
      compiler_error(c, p, "a `phrases` list cannot look at a signal: use a `rule`");
    ok = ok && parse_signal_look(c, look, skip_space(p + 6));
  } else {
    ok = parse_where_list(c, look, &p);
    if (ok && rule->kind == RULES_KIND_PHRASES && !at_end(p)) {
      compiler_error(c, p, "a `phrases` list takes its words from `words`, not a /regex/ "
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

/* ---- phrases ---- */

/* Phrases are compiled as a trie ("still no|still nothing" becomes
 * "still\s+no(?:thing\b|\b)"), so a position that cannot start a phrase is
 * rejected after one character test per distinct first letter, not one per
 * phrase. Phrases are lower-cased (the regex is caseless), runs of spaces
 * match any whitespace, ' matches ’ and ‘, - matches a dash or a space, and
 * a phrase that starts or ends with a letter or digit only matches whole
 * words (PHRASE_WORD). */
/* What counts as a letter for a phrase's word boundaries: ASCII letters and
 * digits, _ and the Latin letters with accents. An explicit class instead of
 * \b, which under PCRE2_UCP looks up Unicode properties at every position:
 * three times slower over a whole text. */
#define PHRASE_WORD "[A-Za-z0-9_\\x{C0}-\\x{24F}]"

typedef struct PhraseNode PhraseNode;
struct PhraseNode {
  gunichar ch;
  GArray *rules;         /* owned, of guint: the rules whose phrase ends here; NULL = none */
  GPtrArray *children;   /* owned, of PhraseNode*, in insertion order */
};

static void phrase_node_free(PhraseNode *node)
{
  g_clear_pointer(&node->children, g_ptr_array_unref);
  g_clear_pointer(&node->rules, g_array_unref);
  g_free(node);
}

static PhraseNode *phrase_node_child(PhraseNode *node, gunichar ch)
{
  if (!node->children)
    node->children = g_ptr_array_new_with_free_func((GDestroyNotify)phrase_node_free);
  for (guint i = 0; i < node->children->len; i++) {
    PhraseNode *child = g_ptr_array_index(node->children, i);
    if (child->ch == ch)
      return child;
  }
  PhraseNode *child = g_new0(PhraseNode, 1);
  child->ch = ch;
  g_ptr_array_add(node->children, child);
  return child;
}

/* Adds `rule` to the set of `array` (created when NULL). */
static void rule_set_add(GArray **array, guint rule)
{
  if (!*array)
    *array = g_array_new(FALSE, FALSE, sizeof(guint));
  for (guint i = 0; i < (*array)->len; i++)
    if (g_array_index(*array, guint, i) == rule)
      return;
  g_array_append_val(*array, rule);
}

static void phrase_insert(PhraseNode *root, const char *phrase, guint rule)
{
  g_autofree char *lower = g_utf8_strdown(phrase, -1);
  PhraseNode *node = root;
  gunichar last = 0;
  for (const char *p = lower; *p; p = g_utf8_next_char(p)) {
    gunichar ch = g_utf8_get_char(p);
    ch = (ch == '\t') ? ' ' : (ch == 0x2019 || ch == 0x2018) ? '\'' : ch;
    if (ch == ' ' && last == ' ')
      continue;
    node = phrase_node_child(node, ch);
    last = ch;
  }
  rule_set_add(&node->rules, rule);
}

static void phrase_append_char(GString *out, gunichar ch)
{
  if (ch == ' ')
    g_string_append(out, "\\s+");
  else if (ch == '\'')
    g_string_append(out, "['\xe2\x80\x98\xe2\x80\x99]");
  else if (ch == '-')
    g_string_append(out, "[-\\x{2010}\\x{2013}\\s]");
  else if (ch < 0x80 && !g_ascii_isalnum(ch))
    g_string_append_printf(out, "\\%c", (char)ch);
  else
    g_string_append_unichar(out, ch);
}

static gboolean is_word_char(gunichar ch)
{
  return g_unichar_isalnum(ch) || ch == '_';
}

/* Emission state: with `marks`, every phrase end gets (*MARK:n), marks[n]
 * being the rules that hit there: the phrase's own, and those of shorter
 * phrases it starts with that end at a word boundary ("you missed" inside
 * "you missed the deadline"), since one scan reports one match per position. */
typedef struct {
  GString *out;
  GPtrArray *marks;      /* borrowed, of GArray* (owned by the array); NULL = no marks */
} PhraseEmit;

static void phrase_emit(PhraseEmit *e, const PhraseNode *node, const GArray *inherited);

static void phrase_emit_end(PhraseEmit *e, const PhraseNode *node, const GArray *inherited)
{
  if (is_word_char(node->ch))
    g_string_append(e->out, "(?!" PHRASE_WORD ")");
  if (!e->marks)
    return;
  GArray *rules = g_array_copy((GArray *)node->rules);
  for (guint i = 0; inherited && i < inherited->len; i++)
    rule_set_add(&rules, g_array_index(inherited, guint, i));
  g_string_append_printf(e->out, "(*MARK:%u)", e->marks->len);
  g_ptr_array_add(e->marks, rules);
}

/* What a child inherits: the rules ending at `node` when the child's first
 * character keeps a word boundary after them. */
static GArray *phrase_inherit(const PhraseNode *node, const PhraseNode *child, const GArray *inherited)
{
  GArray *out = inherited ? g_array_copy((GArray *)inherited) : NULL;
  if (node->rules && (!is_word_char(node->ch) || !is_word_char(child->ch)))
    for (guint i = 0; i < node->rules->len; i++)
      rule_set_add(&out, g_array_index(node->rules, guint, i));
  return out;
}

/* Emits what may follow `node`: its children, then (when a phrase ends at
 * `node`) the end, so the longest phrase is preferred. */
static void phrase_emit(PhraseEmit *e, const PhraseNode *node, const GArray *inherited)
{
  guint children = node->children ? node->children->len : 0;
  if (children == 0) {
    phrase_emit_end(e, node, inherited);
    return;
  }
  gboolean group = children > 1 || node->rules;
  if (group)
    g_string_append(e->out, "(?:");
  for (guint i = 0; i < children; i++) {
    const PhraseNode *child = g_ptr_array_index(node->children, i);
    if (i)
      g_string_append_c(e->out, '|');
    phrase_append_char(e->out, child->ch);
    g_autoptr(GArray) passed = e->marks ? phrase_inherit(node, child, inherited) : NULL;
    phrase_emit(e, child, passed);
  }
  if (node->rules) {
    g_string_append_c(e->out, '|');
    phrase_emit_end(e, node, inherited);
  }
  if (group)
    g_string_append_c(e->out, ')');
}

/* The regex of phrase lists: word-initial phrases behind one \b. `rules`
 * holds the rule index of each list in `lists` (of GPtrArray* of char*). */
static void phrases_regex(GString *out, GPtrArray *lists, const guint *rules, GPtrArray *marks)
{
  PhraseNode *roots[2] = { g_new0(PhraseNode, 1), g_new0(PhraseNode, 1) };
  for (guint l = 0; l < lists->len; l++) {
    GPtrArray *words = g_ptr_array_index(lists, l);
    for (guint i = 0; i < words->len; i++) {
      const char *word = g_ptr_array_index(words, i);
      phrase_insert(roots[is_word_char(g_utf8_get_char(word)) ? 0 : 1], word, rules[l]);
    }
  }
  PhraseEmit e = { out, marks };
  g_string_append(out, "(?:");
  if (roots[0]->children) {
    g_string_append(out, "(?<!" PHRASE_WORD ")");
    roots[0]->ch = ' '; /* the roots end no phrase */
    phrase_emit(&e, roots[0], NULL);
  }
  if (roots[0]->children && roots[1]->children)
    g_string_append_c(out, '|');
  if (roots[1]->children)
    phrase_emit(&e, roots[1], NULL);
  g_string_append_c(out, ')');
  phrase_node_free(roots[0]);
  phrase_node_free(roots[1]);
}

static void parse_words(Compiler *c, RulesRule *rule, const char *p)
{
  if (rule->kind != RULES_KIND_PHRASES) {
    compiler_error(c, p, "`words` belongs to a `phrases` list (a `rule` uses a /regex/)");
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
      compiler_error(c, at, "empty phrase: remove the extra '|'");
    else
      g_ptr_array_add(rule->words, g_steal_pointer(&word));
    at += strlen(parts[i]) + 1;
  }
}

/* Builds the one trie regex of a phrases rule for its look. It is compiled
 * only when needed: scoring uses the phrase groups (phrase_groups_build). */
static void phrases_compile(Compiler *c, RulesRule *rule)
{
  g_autoptr(GString) pattern = g_string_new(NULL);
  g_autoptr(GPtrArray) lists = g_ptr_array_new();
  g_ptr_array_add(lists, rule->words);
  guint none = 0;
  phrases_regex(pattern, lists, &none, NULL);
  RulesLook *look = g_ptr_array_index(rule->looks, 0);
  for (guint i = 1; i < rule->looks->len; i++) { /* several look lines: one look, all places */
    RulesLook *more = g_ptr_array_index(rule->looks, i);
    for (guint j = 0; j < more->n_where && look->n_where < G_N_ELEMENTS(look->where); j++) {
      look->header[look->n_where] = g_steal_pointer(&more->header[j]);
      look->where[look->n_where++] = more->where[j];
    }
  }
  g_ptr_array_set_size(rule->looks, 1);
  look->flags = PCRE2_CASELESS;
  look->pattern = g_strdup(pattern->str);
  (void)c;
}

/* ---- attributes of a block ---- */

static void parse_adds(Compiler *c, RulesRule *rule, const char *p)
{
  gboolean any = FALSE;
  while (!at_end(p)) {
    const char *at = p;
    char *name = read_name(&p);
    if (!name) {
      compiler_error(c, at, "expected a dimension name, e.g. `adds tone +3`");
      return;
    }
    p = skip_space(p);
    double points = 0;
    if (!read_number(c, &p, &points)) {
      g_free(name);
      return;
    }
    Pending pending = { rule, name, c->file, c->line, compiler_col(c, at), points };
    g_array_append_val(c->pending_adds, pending);
    any = TRUE;
    p = skip_space(p);
  }
  if (!any)
    compiler_error(c, p, "expected a dimension and points, e.g. `adds tone +3`");
}

static void parse_category(Compiler *c, RulesRule *rule, const char *p)
{
  const char *at = p;
  char *name = read_name(&p);
  if (!name || !at_end(p)) {
    compiler_error(c, name ? p : at, "expected one payment category name, e.g. `category refusal`");
    g_free(name);
    return;
  }
  Pending pending = { rule, name, c->file, c->line, compiler_col(c, at), 0 };
  g_array_append_val(c->pending_cats, pending);
}

static void parse_why(Compiler *c, RulesRule *rule, const char *p)
{
  g_autofree char *text = g_strdup(p);
  strip_comment(text);
  if (!*text) {
    compiler_error(c, p, "`why` needs a short explanation for the VA");
    return;
  }
  char *joined = rule->why ? g_strconcat(rule->why, " ", text, NULL) : g_strdup(text);
  g_free(rule->why);
  rule->why = joined;
}

static void parse_if(Compiler *c, RulesRule *rule, const char *p)
{
  if (rule->kind != RULES_KIND_WHEN) {
    compiler_error(c, p, "`if` belongs to a `when` rule (a rule over rules)");
    return;
  }
  if (rule->expr) {
    compiler_error(c, p, "this `when` rule already has an `if`: combine them with & or |");
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
    compiler_error(c, NULL, "%s '%s' has no `look` line: say where to look", what, rule->name);
  if (rule->kind == RULES_KIND_PHRASES && rule->words->len == 0)
    compiler_error(c, NULL, "phrases '%s' has no `words` line", rule->name);
  if (rule->kind == RULES_KIND_WHEN && !rule->expr)
    compiler_error(c, NULL, "when '%s' has no `if` line: say which rules it combines", rule->name);
  if (pending_adds_for(c, rule) == 0)
    compiler_error(c, NULL, "%s '%s' adds nothing: give it an `adds DIMENSION +N` line "
                   "(+0 to only use it in `if`)", what, rule->name);
  if (rule->kind == RULES_KIND_PHRASES && rule->looks->len && rule->words->len)
    phrases_compile(c, rule);
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
    compiler_error(c, name ? (at_end(p) ? at : p) : at,
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
    compiler_error(c, at, "duplicate rule name '%s' (first defined at %s:%d)", name,
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
  compiler_error(c, *p, "expected `%s` here, e.g. `%s`", word, example);
  return FALSE;
}

/* `dimension NAME flag >= N [weight W]` */
static void parse_dimension(Compiler *c, const char *p)
{
  static const char example[] = "dimension tone flag >= 4 weight 1";
  const char *at = p;
  g_autofree char *name = read_name(&p);
  if (!name) {
    compiler_error(c, at, "expected a dimension name, e.g. `%s`", example);
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
    compiler_error(c, p, "unexpected text after the dimension, e.g. `%s`", example);
    return;
  }
  if (rules_dimension_index(c->set, name) >= 0) {
    compiler_error(c, at, "dimension '%s' is declared twice", name);
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
    compiler_error(c, p, "`risky if` is declared twice: combine them with |");
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
    compiler_error(c, at, "urgency levels are 1, 2 and 3 (0 is the default)");
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
    compiler_error(c, p, "payment categories are declared twice");
    return;
  }
  while (!at_end(p)) {
    const char *at = p;
    char *name = read_name(&p);
    if (!name || strcmp(name, "none") == 0) {
      compiler_error(c, at, "expected a category name ('none' is implied)");
      g_free(name);
      return;
    }
    g_ptr_array_add(c->set->categories, name);
    p = skip_space(p);
    if (*p == '>')
      p = skip_space(p + 1);
    else if (!at_end(p)) {
      compiler_error(c, p, "separate categories with '>', highest priority first");
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
      compiler_error(c, at, "expected a dimension name");
      return;
    }
    Pending *pending = g_new0(Pending, 1);
    *pending = (Pending){ NULL, name, c->file, c->line, compiler_col(c, at), 0 };
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
    compiler_error(c, at, "the half-life must be more than 0 hours");
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
    compiler_error(c, at, "`%s` outside a rule: start one with `rule NAME`, `phrases NAME` or "
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
    compiler_error(c, at, "expected a keyword (rule, phrases, when, look, words, adds, why, ...)");
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
    compiler_error(c, at, "unknown keyword '%s' (expected rule, phrases, when, look, words, "
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
  compiler_error(c, end, "this file is not valid UTF-8 (save it as UTF-8)");
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
      compiler_error(c, NULL, "this is not a rules file: its first line does not start with "
                     "a keyword such as `rule`, `phrases`, `when` or `dimension` (its text is "
                     "not shown here)");
      return FALSE;
    }
    p = eol ? eol + 1 : end;
  }
  return TRUE;
}

static void compile_file(Compiler *c, const char *name, const char *text, gsize len)
{
  g_ptr_array_add(c->files, g_strdup(name));
  c->file = g_ptr_array_index(c->files, c->files->len - 1);
  c->line_start = NULL;
  if (!looks_like_rules(c, text, len) || !check_utf8(c, text, len))
    return;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    gsize n = strlen(lines[i]);
    if (n && lines[i][n - 1] == '\r')
      lines[i][n - 1] = '\0';
    c->line = (int)i + 1;
    c->line_start = lines[i];
    parse_line(c, lines[i]);
  }
  c->line_start = NULL;
  block_close(c);
}

/* ---- resolving names after the last file ---- */

int rules_dimension_index(const RuleSet *rules, const char *name)
{
  for (guint i = 0; i < rules->dimensions->len; i++) {
    const RulesDimension *dimension = g_ptr_array_index(rules->dimensions, i);
    if (strcmp(dimension->name, name) == 0)
      return (int)i;
  }
  return -1;
}

static int category_index(const RuleSet *rules, const char *name)
{
  for (guint i = 0; i < rules->categories->len; i++)
    if (strcmp(g_ptr_array_index(rules->categories, i), name) == 0)
      return (int)i;
  return -1;
}

static char *join_names(GPtrArray *items, gboolean dimensions)
{
  g_autoptr(GString) out = g_string_new(NULL);
  for (guint i = 0; i < items->len; i++) {
    const char *name = dimensions ? ((RulesDimension *)g_ptr_array_index(items, i))->name
                                  : (const char *)g_ptr_array_index(items, i);
    g_string_append_printf(out, "%s%s", i ? ", " : "", name);
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

static void resolve_adds(Compiler *c)
{
  g_autofree char *known = join_names(c->set->dimensions, TRUE);
  for (guint i = 0; i < c->pending_adds->len; i++) {
    Pending *pending = &g_array_index(c->pending_adds, Pending, i);
    int index = rules_dimension_index(c->set, pending->name);
    if (index < 0) {
      g_autofree char *message = g_strdup_printf(
        "unknown dimension '%s': declare it with `dimension %s flag >= N` (declared: %s)",
        pending->name, pending->name, *known ? known : "none");
      compiler_error_at(c, pending->file, pending->line, pending->col, message);
      continue;
    }
    RulesAdd add = { (guint)index, pending->points };
    g_array_append_val(pending->rule->adds, add);
  }
}

static void resolve_categories(Compiler *c)
{
  g_autofree char *known = join_names(c->set->categories, FALSE);
  for (guint i = 0; i < c->pending_cats->len; i++) {
    Pending *pending = &g_array_index(c->pending_cats, Pending, i);
    int index = category_index(c->set, pending->name);
    g_autofree char *message = NULL;
    if (index < 0)
      message = g_strdup_printf("unknown payment category '%s' (declared with `payment "
                                "categories`: %s)", pending->name, *known ? known : "none");
    else if (pending->rule->category >= 0)
      message = g_strdup_printf("rule '%s' already has a category", pending->rule->name);
    if (message)
      compiler_error_at(c, pending->file, pending->line, pending->col, message);
    else
      pending->rule->category = index;
  }
}

static void resolve_skips(Compiler *c)
{
  for (guint i = 0; i < c->skip_names->len; i++) {
    Pending *pending = g_ptr_array_index(c->skip_names, i);
    int index = rules_dimension_index(c->set, pending->name);
    if (index < 0) {
      g_autofree char *message = g_strdup_printf("unknown dimension '%s' in `automated skips`",
                                                 pending->name);
      compiler_error_at(c, pending->file, pending->line, pending->col, message);
      continue;
    }
    ((RulesDimension *)g_ptr_array_index(c->set->dimensions, index))->skip_automated = TRUE;
  }
  for (guint i = 0; i < c->set->rules->len; i++) {
    RulesRule *rule = g_ptr_array_index(c->set->rules, i);
    gboolean all = rule->adds->len > 0;
    for (guint j = 0; j < rule->adds->len; j++) {
      guint d = g_array_index(rule->adds, RulesAdd, j).dimension;
      all = all && ((RulesDimension *)g_ptr_array_index(c->set->dimensions, d))->skip_automated;
    }
    rule->skip_automated = all;
  }
}

static gboolean resolve_name(Compiler *c, RulesExpr *expr, gboolean in_when)
{
  const RulesRule *rule = g_hash_table_lookup(c->rule_by_name, expr->name);
  int index;
  if (strcmp(expr->name, "automated") == 0) {
    expr->ref = RULES_REF_AUTOMATED;
  } else if (rule) {
    expr->ref = RULES_REF_RULE;
    expr->index = g_ptr_array_find(c->set->rules, rule, &expr->index) ? expr->index : 0;
  } else if (!in_when && (index = rules_dimension_index(c->set, expr->name)) >= 0) {
    expr->ref = RULES_REF_DIMENSION;
    expr->index = (guint)index;
  } else if (!in_when && (index = category_index(c->set, expr->name)) >= 0) {
    expr->ref = RULES_REF_CATEGORY;
    expr->index = (guint)index;
  } else {
    return FALSE;
  }
  return TRUE;
}

static void resolve_expr(Compiler *c, RulesExpr *expr, const char *file, gboolean in_when)
{
  if (!expr)
    return;
  resolve_expr(c, expr->left, file, in_when);
  resolve_expr(c, expr->right, file, in_when);
  if (expr->op != RULES_EXPR_NAME || resolve_name(c, expr, in_when))
    return;
  g_autofree char *message = NULL;
  if (in_when && rules_dimension_index(c->set, expr->name) >= 0)
    message = g_strdup_printf("'%s' is a dimension: a `when` rule combines rules (use "
                              "dimensions in `risky if` or `urgency level`)", expr->name);
  else
    message = g_strdup_printf("unknown rule '%s' in `if`%s", expr->name,
                              in_when ? "" : " (not a rule, dimension or payment category either)");
  compiler_error_at(c, file, expr->line, expr->col, message);
}

/* A rule name may not also be a dimension or category name. */
static void check_name_clashes(Compiler *c)
{
  for (guint i = 0; i < c->set->rules->len; i++) {
    const RulesRule *rule = g_ptr_array_index(c->set->rules, i);
    const char *kind = rules_dimension_index(c->set, rule->name) >= 0 ? "dimension" :
                       category_index(c->set, rule->name) >= 0 ? "payment category" :
                       strcmp(rule->name, "automated") == 0 ? "reserved word" : NULL;
    if (!kind)
      continue;
    g_autofree char *message = g_strdup_printf("rule name '%s' is also a %s: rename the rule",
                                               rule->name, kind);
    compiler_error_at(c, rule->file, rule->line, 1, message);
  }
}

/* ---- evaluation order of rules over rules ---- */

typedef struct {
  Compiler *c;
  guint8 *state;      /* 0 new, 1 on the path, 2 done */
  GArray *order;      /* of guint */
  GPtrArray *path;    /* of RulesRule*, the DFS path */
} OrderWalk;

static void order_visit(OrderWalk *walk, guint index);

static void order_visit_expr(OrderWalk *walk, const RulesRule *owner, const RulesExpr *expr)
{
  if (!expr)
    return;
  order_visit_expr(walk, owner, expr->left);
  order_visit_expr(walk, owner, expr->right);
  if (expr->op != RULES_EXPR_NAME || expr->ref != RULES_REF_RULE)
    return;
  if (walk->state[expr->index] == 1) {
    g_autoptr(GString) cycle = g_string_new(NULL);
    const RulesRule *target = g_ptr_array_index(walk->c->set->rules, expr->index);
    gboolean on = FALSE;
    for (guint i = 0; i < walk->path->len; i++) {
      const RulesRule *step = g_ptr_array_index(walk->path, i);
      on = on || step == target;
      if (on)
        g_string_append_printf(cycle, "%s -> ", step->name);
    }
    g_string_append(cycle, target->name);
    g_autofree char *message = g_strdup_printf("rules over rules go round in a circle: %s",
                                               cycle->str);
    compiler_error_at(walk->c, owner->file, expr->line, expr->col, message);
    return;
  }
  order_visit(walk, expr->index);
}

static void order_visit(OrderWalk *walk, guint index)
{
  RulesRule *rule = g_ptr_array_index(walk->c->set->rules, index);
  if (walk->state[index] != 0)
    return;
  walk->state[index] = 1;
  g_ptr_array_add(walk->path, rule);
  if (rule->kind == RULES_KIND_WHEN)
    order_visit_expr(walk, rule, rule->expr);
  g_ptr_array_remove_index(walk->path, walk->path->len - 1);
  walk->state[index] = 2;
  g_array_append_val(walk->order, index);
}

/* Atoms first, in file order; then `when` rules after everything they use. */
static void order_rules(Compiler *c)
{
  guint n = c->set->rules->len;
  g_autofree guint8 *state = g_new0(guint8, n + 1);
  g_autoptr(GArray) order = g_array_sized_new(FALSE, FALSE, sizeof(guint), n);
  g_autoptr(GPtrArray) path = g_ptr_array_new();
  OrderWalk walk = { c, state, order, path };
  for (guint i = 0; i < n; i++)
    if (((RulesRule *)g_ptr_array_index(c->set->rules, i))->kind != RULES_KIND_WHEN)
      order_visit(&walk, i);
  for (guint i = 0; i < n; i++)
    order_visit(&walk, i);
  c->set->order = (guint *)g_array_free(g_steal_pointer(&order), FALSE);
}

/* ---- phrase groups ---- */

/* "text,subject|automated": the places of a look and whether automated mail
 * skips the rule; phrase lists with the same key share one scan. */
static char *phrase_group_key(const RulesRule *rule, const RulesLook *look)
{
  g_autoptr(GString) key = g_string_new(NULL);
  for (guint i = 0; i < look->n_where; i++)
    g_string_append_printf(key, "%d:%s,", look->where[i], look->header[i] ? look->header[i] : "");
  g_string_append(key, rule->skip_automated ? "|skip" : "|all");
  return g_string_free(g_steal_pointer(&key), FALSE);
}

static RulesPhraseGroup *phrase_group_new(const RulesRule *rule, const RulesLook *look)
{
  RulesPhraseGroup *group = g_new0(RulesPhraseGroup, 1);
  group->look = g_new0(RulesLook, 1);
  for (guint i = 0; i < look->n_where; i++) {
    group->look->where[i] = look->where[i];
    group->look->header[i] = g_strdup(look->header[i]);
  }
  group->look->n_where = look->n_where;
  group->skip_automated = rule->skip_automated;
  group->marks = g_ptr_array_new_with_free_func((GDestroyNotify)g_array_unref);
  group->members = g_array_new(FALSE, FALSE, sizeof(guint));
  return group;
}

/* Compiles a phrase list's own regex (its group failed); a mistake points at
 * the list's first line. */
static void phrase_compile_alone(Compiler *c, RulesRule *rule)
{
  RulesLook *look = g_ptr_array_index(rule->looks, 0);
  const char *file = c->file;
  int line = c->line;
  c->file = rule->file;
  c->line = rule->line;
  look->code = compile_pattern(c, look->pattern, strlen(look->pattern), look->flags, NULL, NULL);
  if (look->code)
    pcre2_jit_compile(look->code, PCRE2_JIT_COMPLETE);
  c->file = file;
  c->line = line;
}

/* The group's trie. A group that PCRE2 cannot take (too large) is no error:
 * its lists are then matched one by one, each with its own regex. */
static void phrase_group_compile(Compiler *c, RulesPhraseGroup *group)
{
  g_autoptr(GPtrArray) lists = g_ptr_array_new();
  for (guint i = 0; i < group->members->len; i++) {
    const RulesRule *rule = g_ptr_array_index(c->set->rules, g_array_index(group->members, guint, i));
    g_ptr_array_add(lists, rule->words);
  }
  g_autoptr(GString) pattern = g_string_new(NULL);
  phrases_regex(pattern, lists, (const guint *)(void *)group->members->data, group->marks);
  group->look->flags = PCRE2_CASELESS;
  group->look->pattern = g_strdup(pattern->str);
  int code = 0;
  PCRE2_SIZE offset = 0;
  group->look->code = pcre2_compile((PCRE2_SPTR)pattern->str, pattern->len,
                                    PCRE2_CASELESS | PCRE2_UTF | PCRE2_UCP, &code, &offset,
                                    c->ccontext);
  if (!group->look->code) {
    for (guint i = 0; i < group->members->len; i++)
      phrase_compile_alone(c, g_ptr_array_index(c->set->rules, g_array_index(group->members, guint, i)));
    return;
  }
  pcre2_jit_compile(group->look->code, PCRE2_JIT_COMPLETE);
  for (guint i = 0; i < group->members->len; i++) {
    RulesRule *rule = g_ptr_array_index(c->set->rules, g_array_index(group->members, guint, i));
    ((RulesLook *)g_ptr_array_index(rule->looks, 0))->grouped = TRUE;
  }
}

/* Phrase lists per group stay under this many characters of phrases, so the
 * trie stays well under PCRE2's compiled-size limit. */
#define PHRASE_GROUP_CHARS 5000

static guint phrase_list_chars(const RulesRule *rule)
{
  guint n = 0;
  for (guint i = 0; i < rule->words->len; i++)
    n += (guint)strlen(g_ptr_array_index(rule->words, i));
  return n;
}

typedef struct {
  guint group;  /* index in phrase_groups */
  guint chars;  /* phrase characters in it so far */
} PhraseGroupFill;

/* Puts every phrase list into an open group of its places, opening a new
 * one when the open group is full. */
static void phrase_groups_build(Compiler *c)
{
  g_autoptr(GHashTable) open = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < c->set->rules->len; i++) {
    RulesRule *rule = g_ptr_array_index(c->set->rules, i);
    if (rule->kind != RULES_KIND_PHRASES || rule->looks->len != 1 || rule->words->len == 0)
      continue;
    char *key = phrase_group_key(rule, g_ptr_array_index(rule->looks, 0));
    PhraseGroupFill *fill = g_hash_table_lookup(open, key);
    guint chars = phrase_list_chars(rule);
    if (!fill || fill->chars + chars > PHRASE_GROUP_CHARS) {
      g_ptr_array_add(c->set->phrase_groups, phrase_group_new(rule, g_ptr_array_index(rule->looks, 0)));
      fill = g_new0(PhraseGroupFill, 1);
      fill->group = c->set->phrase_groups->len - 1;
      g_hash_table_replace(open, g_strdup(key), fill);
    }
    g_free(key);
    fill->chars += chars;
    rule->phrase_group = (int)fill->group;
    g_array_append_val(((RulesPhraseGroup *)g_ptr_array_index(c->set->phrase_groups,
                                                              fill->group))->members, i);
  }
  for (guint i = 0; i < c->set->phrase_groups->len; i++)
    phrase_group_compile(c, g_ptr_array_index(c->set->phrase_groups, i));
}

/* ---- putting it together ---- */

static void compiler_init(Compiler *c)
{
  memset(c, 0, sizeof *c);
  c->set = rules_new();
  c->errors = g_ptr_array_new_with_free_func(g_free);
  c->files = g_ptr_array_new_with_free_func(g_free);
  c->rule_by_name = g_hash_table_new(g_str_hash, g_str_equal);
  c->pending_adds = g_array_new(FALSE, FALSE, sizeof(Pending));
  c->pending_cats = g_array_new(FALSE, FALSE, sizeof(Pending));
  c->pending_exprs = g_array_new(FALSE, FALSE, sizeof(PendingExpr));
  c->skip_names = g_ptr_array_new();
  c->ccontext = pcre2_compile_context_create(NULL);
}

static void pending_clear(GArray *pending)
{
  for (guint i = 0; i < pending->len; i++)
    g_free(g_array_index(pending, Pending, i).name);
  g_array_unref(pending);
}

static void compiler_clear(Compiler *c)
{
  g_clear_pointer(&c->set, rules_free);
  g_ptr_array_unref(c->errors);
  g_ptr_array_unref(c->files);
  g_hash_table_unref(c->rule_by_name);
  pending_clear(c->pending_adds);
  pending_clear(c->pending_cats);
  g_array_unref(c->pending_exprs);
  for (guint i = 0; i < c->skip_names->len; i++) {
    Pending *pending = g_ptr_array_index(c->skip_names, i);
    g_free(pending->name);
    g_free(pending);
  }
  g_ptr_array_unref(c->skip_names);
  pcre2_compile_context_free(c->ccontext);
}

/* Resolves names, orders the rules, sets the match limits. */
static void compiler_finish(Compiler *c)
{
  resolve_adds(c);
  resolve_categories(c);
  resolve_skips(c);
  check_name_clashes(c);
  for (guint i = 0; i < c->pending_exprs->len; i++) {
    PendingExpr *pending = &g_array_index(c->pending_exprs, PendingExpr, i);
    resolve_expr(c, pending->expr, pending->file, pending->in_when);
  }
  if (c->errors->len == 0)
    order_rules(c);
  if (c->errors->len == 0)
    phrase_groups_build(c);
  RuleSet *set = c->set;
  set->n_files = c->files->len;
  set->match_context = pcre2_match_context_create(NULL);
  pcre2_set_match_limit(set->match_context, RULES_MATCH_LIMIT);
  pcre2_set_depth_limit(set->match_context, RULES_DEPTH_LIMIT);
  pcre2_set_heap_limit(set->match_context, RULES_HEAP_LIMIT_KIB);
  for (guint i = 0; i < set->rules->len; i++) {
    RulesRule *rule = g_ptr_array_index(set->rules, i);
    for (guint j = 0; j < rule->looks->len; j++) {
      RulesLook *look = g_ptr_array_index(rule->looks, j);
      guint32 count = 0;
      if (look->code && pcre2_pattern_info(look->code, PCRE2_INFO_CAPTURECOUNT, &count) == 0)
        set->max_captures = MAX(set->max_captures, count);
    }
    g_ptr_array_set_size(rule->words, 0);
  }
}

/* Hands out the set, or NULL and every error in one GError. */
static RuleSet *compiler_result(Compiler *c, GError **error)
{
  if (c->errors->len == 0)
    return g_steal_pointer(&c->set);
  g_autoptr(GString) message = g_string_new(NULL);
  for (guint i = 0; i < c->errors->len; i++)
    g_string_append_printf(message, "%s%s", i ? "\n" : "", (char *)g_ptr_array_index(c->errors, i));
  g_set_error_literal(error, KEEL_RULES_ERROR, KEEL_RULES_ERROR_INVALID, message->str);
  return NULL;
}

RuleSet *rules_compile(const char *const *names, const char *const *texts, guint n,
                       GError **error)
{
  Compiler c;
  compiler_init(&c);
  for (guint i = 0; i < n; i++)
    compile_file(&c, names[i], texts[i], strlen(texts[i]));
  compiler_finish(&c);
  RuleSet *set = compiler_result(&c, error);
  compiler_clear(&c);
  return set;
}

void rules_compile_alone(RuleSet *rules)
{
  for (guint r = 0; r < rules->rules->len; r++) {
    const RulesRule *rule = g_ptr_array_index(rules->rules, r);
    for (guint i = 0; i < rule->looks->len; i++) {
      RulesLook *look = g_ptr_array_index(rule->looks, i);
      int code = 0;
      PCRE2_SIZE offset = 0;
      if (!look->code && look->pattern)
        look->code = pcre2_compile((PCRE2_SPTR)look->pattern, PCRE2_ZERO_TERMINATED,
                                   look->flags | PCRE2_UTF | PCRE2_UCP, &code, &offset, NULL);
      if (look->code)
        pcre2_jit_compile(look->code, PCRE2_JIT_COMPLETE);
    }
  }
}

guint rules_count(const RuleSet *rules)
{
  return rules->rules->len;
}

guint rules_file_count(const RuleSet *rules)
{
  return rules->n_files;
}

const RulesRule *rules_get(const RuleSet *rules, guint index)
{
  return index < rules->rules->len ? g_ptr_array_index(rules->rules, index) : NULL;
}
