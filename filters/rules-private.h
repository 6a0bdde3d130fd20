/* filters/rules-private.h: what the three parts of the rule compiler share,
 * and nothing any other module may include: the Compiler state of one
 * rules_compile() run and the few functions that cross between the files.
 *   rules.c          the RuleSet: freeing it, reading it (the public accessors)
 *   rules-parse.c    lexer and parser: rule text, line by line, into RulesRule
 *                    blocks and declarations, names left unresolved
 *   rules-compile.c  the compiler: regexes and phrase tries, resolving names
 *                    after the last file, ordering rules over rules, phrase
 *                    groups, rules_compile() itself
 * Evaluation of a compiled set is score.c (score_message()).
 * Must never be included outside filters/rules*.c.
 */
#pragma once

#include "filters/rules.h"

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
  gboolean unscored;     /* rules_compile_unscored(): no branches */
} Compiler;

/* rules.c: life cycle of the structures the parser builds. */
RuleSet *rules_new(void);
void rules_expr_free(RulesExpr *expr);
void rules_look_free(RulesLook *look);

/* rules-compile.c: errors, collected as `file:line:col: message`. */
int rules_compiler_col(const Compiler *c, const char *at);
void rules_compiler_error(Compiler *c, const char *at, const char *format, ...) G_GNUC_PRINTF(3, 4);
void rules_compiler_error_at(Compiler *c, const char *file, int line, int col,
                             const char *message);

/* rules-compile.c: compiles `pattern` (`len` bytes). `at` is where the
 * pattern starts in the line (errors point at the offending character), or
 * NULL for a generated one. Returns NULL after recording an error. */
pcre2_code *rules_compile_pattern(Compiler *c, const char *pattern, gsize len,
                                  guint32 options, const char *at, const char *rule_at);

/* rules-compile.c: builds the trie regex of a closed `phrases` block. */
void rules_phrases_compile(Compiler *c, RulesRule *rule);

/* rules-parse.c: parses one file `name` (`len` bytes of `text`) into `c`. */
void rules_parse_file(Compiler *c, const char *name, const char *text, gsize len);
