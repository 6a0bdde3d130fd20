/* filters/rules.c: the RuleSet, the compiled form of the VA's rule files.
 * The rule compiler as a whole: rule text in (rules/NAME.rules, the
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
 * The compiler is three files (see filters/rules-private.h): this one frees
 * and reads a RuleSet; rules-parse.c is the lexer and parser; rules-compile.c
 * compiles regexes and phrase tries, resolves names and orders the rules.
 * Scoring a message with a set is score.c.
 *
 * Entry points: rules_compile() (in rules-compile.c), rules_free()
 * (daemon/record/rules-dir.c reads a directory of rule files and hands their
 * text to rules_compile()).
 * Must never: touch the network, SQLite or the clock; read anything but the
 * *.rules files of the directory it is given (the extractors' files excepted).
 */
#include <string.h>
#include "filters/rules-private.h"
#include "filters/deadlines.h"

G_DEFINE_QUARK(keel-rules-error-quark, keel_rules_error)

/* ---- freeing ---- */

void rules_expr_free(RulesExpr *expr)
{
  if (!expr)
    return;
  rules_expr_free(expr->left);
  rules_expr_free(expr->right);
  g_free(expr->name);
  g_free(expr);
}

void rules_look_free(RulesLook *look)
{
  for (guint i = 0; i < look->n_where; i++)
    g_free(look->header[i]);
  g_clear_pointer(&look->code, pcre2_code_free);
  for (guint i = 0; look->branch_code && i < look->n_branches; i++)
    pcre2_code_free(look->branch_code[i]);
  g_free(look->branch_code);
  for (guint i = 0; i < look->n_branches; i++)
    g_free(look->branch_pattern[i]);
  g_free(look->branch_pattern);
  g_free(look->branch_prefilter);
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
  deadline_rules_free(rules->deadlines);
  prefilter_free(rules->prefilter);
  prefilter_heads_free(rules->phrase_heads);
  g_free(rules);
}

void rules_set_learned(RuleSet *rules, LearnedSet *learned)
{
  learned_set_free(rules->learned);
  rules->learned = learned;
  if (learned)
    learned_set_seal(learned);
}

void rules_set_deadlines(RuleSet *rules, DeadlineRules *deadlines)
{
  deadline_rules_free(rules->deadlines);
  rules->deadlines = deadlines;
}

RuleSet *rules_new(void)
{
  RuleSet *set = g_new0(RuleSet, 1);
  set->rules = g_ptr_array_new_with_free_func((GDestroyNotify)rules_rule_free);
  set->dimensions = g_ptr_array_new_with_free_func((GDestroyNotify)rules_dimension_free);
  set->categories = g_ptr_array_new_with_free_func(g_free);
  set->levels = g_ptr_array_new_with_free_func((GDestroyNotify)rules_level_free);
  set->phrase_groups = g_ptr_array_new_with_free_func((GDestroyNotify)rules_phrase_group_free);
  set->thread_halflife_hours = 72;
  set->phrase_heads = prefilter_heads_new();
  return set;
}

/* ---- reading a compiled set ---- */

int rules_dimension_index(const RuleSet *rules, const char *name)
{
  for (guint i = 0; i < rules->dimensions->len; i++) {
    const RulesDimension *dimension = g_ptr_array_index(rules->dimensions, i);
    if (strcmp(dimension->name, name) == 0)
      return (int)i;
  }
  return -1;
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
