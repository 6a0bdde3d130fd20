/* filters/rules-compile.c: the rule compiler proper (see rules.c for the
 * whole). Collects errors as `file:line:col: message`, compiles regexes
 * (PCRE2, UTF + UCP) and phrase lists as caseless trie regexes, then,
 * after the last file is parsed: resolves names (dimensions, categories,
 * rules in `if`), orders rules over rules (a cycle is an error), builds the
 * phrase groups (lists that look at the same places, one trie with a
 * (*MARK) per phrase end), derives each regex's literals for the prefilter
 * (filters/prefilter.h) and sets the match limits. The JIT: the phrase
 * groups' tries at once; a look's regex and its branches when scoring first
 * runs the look (rules_look_branches()), so that what no text reaches costs
 * nothing (the whole regex of a look with a few branches: never); every
 * regex at once in a set that does not score (rules_compile_unscored()).
 * Entry points: rules_compile(), rules_compile_unscored(), rules_compile_alone().
 * Must never: touch the network, SQLite or the clock; hand out a set that
 * had a single error.
 */
#include <string.h>
#include "filters/regex-trie.h"
#include "filters/rules-private.h"

/* Column (from 1, in characters) of `at` in the current line. */
int rules_compiler_col(const Compiler *c, const char *at)
{
  if (!at || at < c->line_start)
    return 1;
  return (int)g_utf8_strlen(c->line_start, at - c->line_start) + 1;
}

void rules_compiler_error(Compiler *c, const char *at, const char *format, ...)
{
  va_list args;
  va_start(args, format);
  g_autofree char *message = g_strdup_vprintf(format, args);
  va_end(args);
  g_ptr_array_add(c->errors, g_strdup_printf("%s:%d:%d: %s", c->file, c->line,
                                             rules_compiler_col(c, at), message));
}

void rules_compiler_error_at(Compiler *c, const char *file, int line, int col,
                             const char *message)
{
  g_ptr_array_add(c->errors, g_strdup_printf("%s:%d:%d: %s", file, line, col, message));
}

/* `pattern` (`len` bytes, PCRE2 `options`) compiled in a form the JIT runs
 * faster, with the same matches: a lookahead hint in front
 * (prefilter_lookahead_hint()) and its groups of plain words as tries
 * (regex_trie_rewrite()). Not yet JIT-compiled; NULL when neither applies. */
static pcre2_code *rules_compile_hinted(const char *pattern, gsize len, guint32 options)
{
  g_autofree char *hinted = prefilter_lookahead_hint(pattern, len, options);
  const char *source = hinted ? hinted : pattern;
  g_autofree char *trie = regex_trie_rewrite(source, hinted ? strlen(hinted) : len, options);
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code *re = trie ? pcre2_compile((PCRE2_SPTR)trie, strlen(trie), options, &code, &offset,
                                        NULL) : NULL;
  if (!re && hinted)
    re = pcre2_compile((PCRE2_SPTR)hinted, strlen(hinted), options, &code, &offset, NULL);
  return re;
}

/* Compiles `pattern` (`len` bytes). `at` is where the pattern starts in the
 * line (errors point at the offending character), or NULL for a generated one. */
pcre2_code *rules_compile_pattern(Compiler *c, const char *pattern, gsize len,
                                  guint32 options, const char *at, const char *rule_at)
{
  int code = 0;
  PCRE2_SIZE offset = 0;
  options |= PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, len, options, &code, &offset, c->ccontext);
  if (!re) {
    PCRE2_UCHAR text[256];
    pcre2_get_error_message(code, text, sizeof text);
    rules_compiler_error(c, at ? at + MIN(offset, len) : rule_at, "bad regex: %s", (const char *)text);
    return NULL;
  }
  guint32 min_length = 1;
  pcre2_pattern_info(re, PCRE2_INFO_MINLENGTH, &min_length);
  if (min_length == 0) {
    rules_compiler_error(c, at ? at : rule_at, "this regex also matches empty text, so it would hit "
                   "every message");
    pcre2_code_free(re);
    return NULL;
  }
  if (!at) /* a phrase list's own regex is JIT-compiled only if its group fails */
    return re;
  pcre2_code *hinted = rules_compile_hinted(pattern, len, options);
  if (hinted) {
    pcre2_code_free(re);
    re = hinted;
  }
  return re; /* JIT-compiled later: rules_jit_looks(), rules_look_branches() */
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
 * three times slower over a whole text.
 * The class is written case-closed and compiled without PCRE2_CASELESS
 * ((?-i:...)): it is exactly what [A-Za-z0-9_\x{C0}-\x{24F}] matches when
 * caseless under PCRE2 10.42's Unicode tables (the range plus the other
 * cases of its letters: IPA letters, Kelvin and Angstrom signs, capital
 * sharp s, ...), but a caseless range makes pcre2_compile() look up the
 * other case of each of its 400 characters wherever it is written, twice per
 * phrase end: 80 M instructions at start-up for the phrase groups' tries.
 * The characters are written as UTF-8 (C's \u), not as PCRE2's \x{...},
 * which pcre2_compile() reads three times slower.
 * /rules/phrase-word-class checks it, code point by code point. */
#define PHRASE_WORD "(?-i:[A-Za-z0-9_\u00C0-\u024F\u0253\u0254\u0256\u0257\u0259\u025B" \
                    "\u0260\u0263\u0268\u0269\u026F\u0272\u0275\u0280\u0283\u0288-\u028C" \
                    "\u0292\u1E9E\u212A\u212B\u2C65\u2C66\u2C7E\u2C7F])"
/* What a trie writes once, at its end, and calls where it is needed: the
 * word class as group 1, called at the phrase ends ("(?!(?1))"), and the
 * white space between words, "\s+", as group 2 ("(?2)"). A phrase's text
 * holds no group (its characters are escaped). Calls, not the class and
 * \s+ written out at each of a trie's hundreds of ends and spaces:
 * pcre2_compile() and the JIT read and translate each once instead of
 * hundreds of times (the JIT's code for one UCP \s+ is large): the tries'
 * start-up is halved, their JIT code is smaller. A call costs a few
 * instructions where it runs. The groups are never matched themselves
 * ((?(DEFINE)...)), so they capture nothing; since PCRE2 10.30 a call is
 * not atomic, so it backtracks (and matches) as the group written out. */
#define PHRASE_CALLED_GROUPS "(?(DEFINE)(" PHRASE_WORD ")(\\s+))"

/* A trie of phrases: its nodes in one array, linked by index (0 = none;
 * node 0 is not used), not one allocation per node and per child list. */
typedef struct {
  gunichar ch;
  guint first_child;     /* the children, in insertion order, linked by next_sibling */
  guint last_child;
  guint next_sibling;
  GArray *rules;         /* owned, of guint: the rules whose phrase ends here; NULL = none */
} PhraseNode;

typedef struct {
  GArray *nodes;         /* owned, of PhraseNode; [PHRASE_ROOT_WORD] and [PHRASE_ROOT_OTHER]
                            are the roots of the phrases that start with a word character
                            and of the others */
} PhraseTrie;

#define PHRASE_ROOT_WORD 1u
#define PHRASE_ROOT_OTHER 2u

static PhraseNode *phrase_node(const PhraseTrie *trie, guint index)
{
  return &g_array_index(trie->nodes, PhraseNode, index);
}

/* An empty trie with room for `chars` nodes besides its roots. */
static void phrase_trie_init(PhraseTrie *trie, gsize chars)
{
  trie->nodes = g_array_sized_new(FALSE, TRUE, sizeof(PhraseNode), (guint)chars + 3);
  g_array_set_size(trie->nodes, 3); /* node 0 (none) and the two roots */
}

static void phrase_trie_clear(PhraseTrie *trie)
{
  for (guint i = 0; i < trie->nodes->len; i++)
    g_clear_pointer(&phrase_node(trie, i)->rules, g_array_unref);
  g_array_unref(trie->nodes);
}

/* The child of `node` for `ch`, added (last) when it has none. */
static guint phrase_node_child(PhraseTrie *trie, guint node, gunichar ch)
{
  for (guint child = phrase_node(trie, node)->first_child; child;
       child = phrase_node(trie, child)->next_sibling)
    if (phrase_node(trie, child)->ch == ch)
      return child;
  PhraseNode added = { .ch = ch };
  g_array_append_val(trie->nodes, added);
  guint child = trie->nodes->len - 1;
  PhraseNode *parent = phrase_node(trie, node);
  if (parent->last_child)
    phrase_node(trie, parent->last_child)->next_sibling = child;
  else
    parent->first_child = child;
  parent->last_child = child;
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

static gboolean phrase_is_ascii(const char *phrase)
{
  for (const char *p = phrase; *p; p++)
    if ((guchar)*p >= 0x80)
      return FALSE;
  return TRUE;
}

static void phrase_insert(PhraseTrie *trie, guint root, const char *phrase, guint rule)
{
  /* g_utf8_strdown() lowers ASCII as g_ascii_tolower() does: the common case
   * needs neither its copy nor its Unicode tables */
  gboolean ascii = phrase_is_ascii(phrase);
  g_autofree char *lower = ascii ? NULL : g_utf8_strdown(phrase, -1);
  guint node = root;
  gunichar last = 0;
  for (const char *p = ascii ? phrase : lower; *p; p = ascii ? p + 1 : g_utf8_next_char(p)) {
    gunichar ch = ascii ? (gunichar)g_ascii_tolower(*p) : g_utf8_get_char(p);
    ch = (ch == '\t') ? ' ' : (ch == 0x2019 || ch == 0x2018) ? '\'' : ch;
    if (ch == ' ' && last == ' ')
      continue;
    node = phrase_node_child(trie, node, ch);
    last = ch;
  }
  rule_set_add(&phrase_node(trie, node)->rules, rule);
}

static void phrase_append_char(GString *out, gunichar ch)
{
  if (ch == ' ')
    g_string_append(out, "(?2)"); /* \s+: PHRASE_CALLED_GROUPS */
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
  const PhraseTrie *trie;
  GString *out;
  GPtrArray *marks;      /* borrowed, of GArray* (owned by the array); NULL = no marks */
} PhraseEmit;

static void phrase_emit(PhraseEmit *e, const PhraseNode *node, const GArray *inherited);

static void phrase_emit_end(PhraseEmit *e, const PhraseNode *node, const GArray *inherited)
{
  if (is_word_char(node->ch))
    g_string_append(e->out, "(?!(?1))"); /* PHRASE_CALLED_GROUPS */
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
  if (!node->first_child) {
    phrase_emit_end(e, node, inherited);
    return;
  }
  gboolean group = node->first_child != node->last_child || node->rules;
  if (group)
    g_string_append(e->out, "(?:");
  for (guint index = node->first_child; index;) {
    const PhraseNode *child = phrase_node(e->trie, index);
    if (index != node->first_child)
      g_string_append_c(e->out, '|');
    phrase_append_char(e->out, child->ch);
    g_autoptr(GArray) passed = e->marks ? phrase_inherit(node, child, inherited) : NULL;
    phrase_emit(e, child, passed);
    index = child->next_sibling;
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
  gsize chars = 0;
  for (guint l = 0; l < lists->len; l++) {
    GPtrArray *words = g_ptr_array_index(lists, l);
    for (guint i = 0; i < words->len; i++)
      chars += strlen(g_ptr_array_index(words, i));
  }
  PhraseTrie trie;
  phrase_trie_init(&trie, chars);
  for (guint l = 0; l < lists->len; l++) {
    GPtrArray *words = g_ptr_array_index(lists, l);
    for (guint i = 0; i < words->len; i++) {
      const char *word = g_ptr_array_index(words, i);
      phrase_insert(&trie, is_word_char(g_utf8_get_char(word)) ? PHRASE_ROOT_WORD : PHRASE_ROOT_OTHER,
                    word, rules[l]);
    }
  }
  PhraseEmit e = { &trie, out, marks };
  PhraseNode *word = phrase_node(&trie, PHRASE_ROOT_WORD), *other = phrase_node(&trie, PHRASE_ROOT_OTHER);
  g_string_append(out, "(?:");
  if (word->first_child) {
    g_string_append(out, "(?<!" PHRASE_WORD ")");
    word->ch = ' '; /* the roots end no phrase */
    phrase_emit(&e, word, NULL);
  }
  if (word->first_child && other->first_child)
    g_string_append_c(out, '|');
  if (other->first_child)
    phrase_emit(&e, other, NULL);
  g_string_append_c(out, ')');
  g_string_append(out, PHRASE_CALLED_GROUPS);
  phrase_trie_clear(&trie);
}

/* Builds the one trie regex of a phrases rule for its look. It is compiled
 * only when needed: scoring uses the phrase groups (phrase_groups_build). */
void rules_phrases_compile(Compiler *c, RulesRule *rule)
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
      rules_compiler_error_at(c, pending->file, pending->line, pending->col, message);
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
      rules_compiler_error_at(c, pending->file, pending->line, pending->col, message);
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
      rules_compiler_error_at(c, pending->file, pending->line, pending->col, message);
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
  rules_compiler_error_at(c, file, expr->line, expr->col, message);
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
    rules_compiler_error_at(c, rule->file, rule->line, 1, message);
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
    rules_compiler_error_at(walk->c, owner->file, expr->line, expr->col, message);
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
  look->code = rules_compile_pattern(c, look->pattern, strlen(look->pattern), look->flags, NULL, NULL);
  if (look->code)
    pcre2_jit_compile(look->code, PCRE2_JIT_COMPLETE);
  c->file = file;
  c->line = line;
}

/* Records the heads of the group's phrases (filters/prefilter.h) and returns
 * the group's bit, or 0 when a phrase has no head (or the group is past the
 * PREFILTER_HEADS_LISTS first): its trie is then run over whole texts. */
static guint32 phrase_group_heads(RuleSet *set, const RulesPhraseGroup *group, GPtrArray *lists)
{
  guint index = 0;
  while (index < set->phrase_groups->len && g_ptr_array_index(set->phrase_groups, index) != group)
    index++;
  if (index >= PREFILTER_HEADS_LISTS)
    return 0;
  for (guint l = 0; l < lists->len; l++) {
    GPtrArray *words = g_ptr_array_index(lists, l);
    for (guint i = 0; i < words->len; i++) {
      g_autofree char *head = prefilter_phrase_head(g_ptr_array_index(words, i));
      if (!head)
        return 0;
    }
  }
  for (guint l = 0; l < lists->len; l++) {
    GPtrArray *words = g_ptr_array_index(lists, l);
    for (guint i = 0; i < words->len; i++)
      prefilter_heads_add_phrase(set->phrase_heads, g_ptr_array_index(words, i), index);
  }
  return 1u << index;
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
  group->head_bit = phrase_group_heads(c->set, group, lists);
  int code = 0;
  PCRE2_SIZE offset = 0;
  group->look->code = pcre2_compile((PCRE2_SPTR)pattern->str, pattern->len,
                                    PCRE2_CASELESS | PCRE2_UTF | PCRE2_UCP |
                                      (group->head_bit ? PCRE2_ANCHORED : 0),
                                    &code, &offset, c->ccontext);
  if (!group->look->code) {
    group->head_bit = 0;
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

/* ---- the literal prefilter ---- */

/* Records the branches of the look's regex that may be matched alone, each
 * with its own literals (filters/prefilter.h); rules_look_branches()
 * compiles them when scoring first needs them. */
static void rules_prefilter_branches(Prefilter *prefilter, RulesLook *look)
{
  g_autoptr(GPtrArray) branches = prefilter_branches(look->pattern, strlen(look->pattern), look->flags);
  if (!branches)
    return;
  look->n_branches = branches->len;
  look->branch_prefilter = g_new(int, branches->len);
  look->branch_pattern = g_new0(char *, branches->len + 1);
  for (guint i = 0; i < branches->len; i++) {
    const char *branch = g_ptr_array_index(branches, i);
    look->branch_prefilter[i] = prefilter_add(prefilter, branch, strlen(branch), look->flags);
    look->branch_pattern[i] = g_strdup(branch);
  }
}

/* Compiles and JIT-compiles every branch of `look`; FALSE when one fails. */
static gboolean rules_compile_branches(RulesLook *look)
{
  look->branch_code = g_new0(pcre2_code *, look->n_branches);
  guint32 options = look->flags | PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C;
  for (guint i = 0; i < look->n_branches; i++) {
    const char *branch = look->branch_pattern[i];
    int code = 0;
    PCRE2_SIZE offset = 0;
    look->branch_code[i] = rules_compile_hinted(branch, strlen(branch), options);
    if (!look->branch_code[i])
      look->branch_code[i] = pcre2_compile((PCRE2_SPTR)branch, strlen(branch), options, &code,
                                           &offset, NULL);
    if (!look->branch_code[i])
      return FALSE;
    pcre2_jit_compile(look->branch_code[i], PCRE2_JIT_COMPLETE);
  }
  return TRUE;
}

/* TRUE when scoring may run the look's whole regex on a text that is not
 * pathological: it has no branches (or one did not compile), or more than
 * RULES_BRANCHES_ALONE_MAX, which a text may hold the literals of. With
 * fewer, only a branch that fails (a match limit) makes the whole regex run:
 * rarely enough for the interpreter, which finds the same matches (though
 * it counts the match limit its own way and also has the depth and heap
 * limits, so on such a text, one that makes a branch fail, the whole regex
 * may fail where the JIT would not, or the other way round). Over the
 * SpamAssassin corpus the whole regexes of 59 of 71 looks with branches
 * never ran: their JIT was 20 Mcycles a process. */
static gboolean rules_look_runs_whole(const RulesLook *look)
{
  return look->n_branches == 0 || look->branch_failed || look->n_branches > RULES_BRANCHES_ALONE_MAX;
}

gboolean rules_look_branches(const RulesLook *look)
{
  RulesLook *once = (RulesLook *)look; /* the one write: see rules.h */
  if (g_once_init_enter(&once->branch_once)) {
    once->branch_failed = look->n_branches > 0 && !rules_compile_branches(once);
    if (once->code && rules_look_runs_whole(once))
      pcre2_jit_compile(once->code, PCRE2_JIT_COMPLETE); /* no JIT: the interpreter, slower */
    g_once_init_leave(&once->branch_once, 1);
  }
  return look->n_branches > 0 && !look->branch_failed;
}

/* For a set that scores: nothing, scoring asks rules_look_branches() before
 * it runs a look's regex, which JIT-compiles it then (with its branches), so
 * that a look no text ever gets to (its literals are nowhere) costs no JIT.
 * (Left to the interpreter instead, the whole regexes of looks with
 * branches, which run where more than a few branches may match, cost more
 * over the corpus than their JIT.) The extractors' sets (unscored) run their
 * regexes themselves: every one is JIT-compiled now. */
static void rules_jit_looks(RuleSet *set, gboolean unscored)
{
  for (guint i = 0; unscored && i < set->rules->len; i++) {
    RulesRule *rule = g_ptr_array_index(set->rules, i);
    for (guint j = 0; j < rule->looks->len; j++) {
      RulesLook *look = g_ptr_array_index(rule->looks, j);
      if (look->code && look->pattern && !look->grouped)
        pcre2_jit_compile(look->code, PCRE2_JIT_COMPLETE); /* no JIT: the interpreter, slower */
    }
  }
}

/* The prefilter id of a look that scoring matches with its own regex (not a
 * signal, not a phrase list matched through its group), and its branches. */
static void rules_prefilter_look(Prefilter *prefilter, RulesLook *look, gboolean branches)
{
  look->prefilter = PREFILTER_ALWAYS;
  if (look->code && look->pattern && !look->grouped) {
    look->prefilter = prefilter_add(prefilter, look->pattern, strlen(look->pattern), look->flags);
    if (branches)
      rules_prefilter_branches(prefilter, look);
  }
}

/* Derives every regex's literals, and builds the automaton that finds them
 * in a text. A phrase group with heads adds none: its trie is only tried
 * where a head word starts (score.c), a finer test than its literals, and its
 * hundreds of phrases would make the automaton (walked for every byte of
 * every text) a quarter larger. A group without heads keeps its literals. */
static void rules_prefilter_build(RuleSet *set, gboolean branches)
{
  set->prefilter = prefilter_new();
  for (guint i = 0; i < set->rules->len; i++) {
    RulesRule *rule = g_ptr_array_index(set->rules, i);
    for (guint j = 0; j < rule->looks->len; j++)
      rules_prefilter_look(set->prefilter, g_ptr_array_index(rule->looks, j), branches);
  }
  for (guint i = 0; i < set->phrase_groups->len; i++) {
    RulesPhraseGroup *group = g_ptr_array_index(set->phrase_groups, i);
    if (!group->head_bit)
      rules_prefilter_look(set->prefilter, group->look, branches);
    else
      group->look->prefilter = PREFILTER_ALWAYS;
  }
  prefilter_build(set->prefilter);
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
  rules_prefilter_build(set, !c->unscored);
  rules_jit_looks(set, c->unscored);
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

static RuleSet *rules_compile_for(const char *const *names, const char *const *texts, guint n,
                                  gboolean unscored, GError **error)
{
  Compiler c;
  compiler_init(&c);
  c.unscored = unscored;
  for (guint i = 0; i < n; i++)
    rules_parse_file(&c, names[i], texts[i], strlen(texts[i]));
  compiler_finish(&c);
  RuleSet *set = compiler_result(&c, error);
  compiler_clear(&c);
  return set;
}

RuleSet *rules_compile(const char *const *names, const char *const *texts, guint n,
                       GError **error)
{
  return rules_compile_for(names, texts, n, FALSE, error);
}

RuleSet *rules_compile_unscored(const char *const *names, const char *const *texts, guint n,
                                GError **error)
{
  return rules_compile_for(names, texts, n, TRUE, error);
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
