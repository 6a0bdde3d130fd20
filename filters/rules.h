/* filters/rules.h: the compiled form of the VA's rule files (rules/NAME.rules,
 * described in rules/README.md and keel.rules(5)). Pure: rule text in, a
 * RuleSet out. No I/O at all: daemon/record/rules-dir.c reads the files.
 *
 * A RuleSet is immutable once built: score_message() (filters/score.h) only
 * reads it, so the daemon can keep the old pointer while a reload is tried and
 * swap only when the new set compiled without a single error.
 *
 * The structures below are shared by rules.c (the compiler) and score.c (the
 * evaluator); other modules use only the functions.
 */
#pragma once

#include <glib.h>
#include "filters/cleanup.h"
#include "filters/learned.h"
#include "filters/prefilter.h"

#define KEEL_RULES_ERROR (keel_rules_error_quark())
GQuark keel_rules_error_quark(void);
typedef enum {
  KEEL_RULES_ERROR_IO,      /* a rule directory or file cannot be read */
  KEEL_RULES_ERROR_INVALID  /* one or more mistakes: one `file:line:col: message` per line */
} KeelRulesError;

/* Where a `look` searches. */
typedef enum {
  RULES_WHERE_SUBJECT,
  RULES_WHERE_TEXT,   /* the new text (quotes and signature removed) */
  RULES_WHERE_QUOTED,
  RULES_WHERE_BODY,   /* all text */
  RULES_WHERE_HEADER, /* header:NAME */
  RULES_WHERE_FROM,   /* "Name <address>" */
  RULES_WHERE_SIGNAL  /* signal NAME OP NUMBER */
} RulesWhere;

typedef enum { RULES_OP_GE, RULES_OP_GT, RULES_OP_LE, RULES_OP_LT, RULES_OP_EQ, RULES_OP_NE } RulesOp;

typedef enum { RULES_KIND_RULE, RULES_KIND_PHRASES, RULES_KIND_WHEN } RulesKind;

/* What a name in an `if` expression stands for, once resolved. */
typedef enum {
  RULES_REF_RULE,       /* true when the rule hit */
  RULES_REF_DIMENSION,  /* true when the dimension is flagged */
  RULES_REF_CATEGORY,   /* true when the payment category is this one */
  RULES_REF_AUTOMATED   /* true for automated mail */
} RulesRefKind;

typedef enum { RULES_EXPR_NAME, RULES_EXPR_NOT, RULES_EXPR_AND, RULES_EXPR_OR } RulesExprOp;

typedef struct RulesExpr RulesExpr;
struct RulesExpr {
  RulesExprOp op;
  char *name;          /* owned, RULES_EXPR_NAME only */
  int line, col;       /* where the name was written */
  RulesRefKind ref;    /* resolved */
  guint index;         /* rule, dimension or category index */
  RulesExpr *left;     /* owned */
  RulesExpr *right;    /* owned; NULL for NOT */
};

/* One `look` line of a rule. */
typedef struct {
  RulesWhere where[8];  /* the places searched, in order */
  char *header[8];      /* owned, for RULES_WHERE_HEADER entries */
  guint n_where;
  pcre2_code *code;     /* owned; NULL for a signal look, and for a phrase list until
                           rules_compile_alone() (scoring uses its group); JIT-compiled
                           by rules_look_branches() (rules_compile_unscored(): at once;
                           with a few branches: never, see there) */
  char *pattern;        /* owned, the regex as written (for `rules check --profile`, bench);
                           `code` may carry a lookahead hint in front (prefilter.h) */
  guint32 flags;        /* PCRE2 compile options used */
  guint signal;         /* SignalId, signal looks only; SIGNAL_COUNT + LearnedDimension
                           for a learned signal */
  RulesOp op;
  double value;
  gboolean grouped;     /* matched by its phrase group's scan during scoring */
  int prefilter;        /* id in RuleSet.prefilter, PREFILTER_ALWAYS when it must always run */
  guint n_branches;     /* > 0: the regex's branches (prefilter_branches()), which
                           scoring may match alone: only the few whose literals a text
                           holds */
  char **branch_pattern;    /* owned, n_branches */
  int *branch_prefilter;    /* owned, n_branches: each branch's id in RuleSet.prefilter */
  pcre2_code **branch_code; /* owned, n_branches, NULL until rules_look_branches() */
  gsize branch_once;        /* rules_look_branches() has run */
  gboolean branch_failed;   /* a branch did not compile: the whole regex runs */
} RulesLook;

typedef struct {
  guint dimension;
  double points;
} RulesAdd;

typedef struct {
  char *name;          /* owned */
  RulesKind kind;
  char *file;          /* owned, for messages */
  int line;
  GPtrArray *looks;    /* owned, of RulesLook* (rule, phrases) */
  GPtrArray *words;    /* owned, of char* (phrases; freed after compile) */
  RulesExpr *expr;     /* owned (when) */
  GArray *adds;        /* of RulesAdd */
  int category;        /* payment category index, -1 = none */
  char *why;           /* owned, may be NULL */
  gboolean skip_automated; /* every dimension it adds to is skipped for automated mail */
  gint timeout_logged; /* set once the first match-limit error was logged */
  guint look_lines;    /* `look` lines written (compiled or not), for "has no look" */
  int phrase_group;    /* index in RuleSet.phrase_groups, -1 = matched on its own */
} RulesRule;

typedef struct {
  char *name;          /* owned */
  double flag_at;      /* flagged when points >= flag_at */
  double weight;       /* share of this dimension in the message's risk number */
  gboolean skip_automated;
} RulesDimension;

typedef struct {
  int level;           /* 1..3 */
  RulesExpr *expr;     /* owned */
} RulesLevel;

/* Phrase lists that look at the same places are also compiled together into
 * one trie regex, so scoring scans each text once for all of them; each phrase
 * end carries (*MARK:n) and marks[n] lists the rules that hit there. When every
 * phrase has a head (filters/prefilter.h), the trie is compiled anchored and
 * tried only where RuleSet.phrase_heads finds a word with the group's bit. */
typedef struct {
  RulesLook *look;         /* owned: the shared places and the combined code
                              (PCRE2_ANCHORED when head_bit is set) */
  guint32 head_bit;        /* 1 << n: its bit in RuleSet.phrase_heads; 0 = none,
                              the unanchored trie is run over the whole text */
  gboolean skip_automated; /* every member is skipped for automated mail */
  GPtrArray *marks;        /* owned, of GArray* of guint rule indices, by mark number */
  GArray *members;         /* owned, of guint rule indices */
} RulesPhraseGroup;

typedef struct RuleSet {
  GPtrArray *rules;       /* owned, of RulesRule*, in file order */
  guint *order;           /* owned, evaluation order (atoms first, `when` topologically) */
  GPtrArray *dimensions;  /* owned, of RulesDimension* */
  GPtrArray *categories;  /* owned, of char*, highest priority first */
  GPtrArray *levels;      /* owned, of RulesLevel*, urgency levels */
  GPtrArray *phrase_groups; /* owned, of RulesPhraseGroup* */
  RulesExpr *risky;       /* owned, NULL = any flagged dimension */
  double thread_halflife_hours;
  guint n_files;
  guint32 max_captures;   /* largest capture count of any pattern */
  pcre2_match_context *match_context; /* owned: match/depth/heap limits */
  LearnedSet *learned;    /* owned, may be NULL: the learned_* signals' models */
  struct _DeadlineRules *deadlines; /* owned, may be NULL: rules/deadlines.rules, for the deadline_days signal */
  Prefilter *prefilter;   /* owned: the literals each look's regex needs (filters/prefilter.h) */
  PrefilterHeads *phrase_heads; /* owned: the first words of the phrase groups' phrases */
} RuleSet;

/* Match limits set on every pcre2_match() (see rules/README.md). */
#define RULES_MATCH_LIMIT 200000u
#define RULES_DEPTH_LIMIT 2000u
#define RULES_HEAP_LIMIT_KIB 16384u

/* Compiles rule files given as text: `names[i]` (shown in messages) holds
 * `texts[i]`. On any mistake returns NULL and an error
 * (KEEL_RULES_ERROR_INVALID) whose message lists every `file:line:col:
 * message`, one per line. The caller owns the set. */
RuleSet *rules_compile(const char *const *names, const char *const *texts, guint n,
                       GError **error);

/* rules_compile() for a set that score_message() never runs (the
 * extractors' rule files, filters/deadlines.h: lite_rules_read()): its looks
 * are not cut into branches (rules_look_branches() is FALSE for every one),
 * which saves deriving the branches' literals, and keeps them out of the
 * set's prefilter. Matches and errors are those of rules_compile(). */
RuleSet *rules_compile_unscored(const char *const *names, const char *const *texts, guint n,
                                GError **error);

void rules_free(RuleSet *rules);

/* Compiles (and JIT-compiles) every look's own regex, including phrase lists
 * that scoring matches through their group: for score_rule_run() (`keel rules
 * check --profile`). Not needed for score_message(). */
void rules_compile_alone(RuleSet *rules);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RuleSet, rules_free)

/* Gives `rules` the learned models (takes `learned`, may be NULL; the old
 * ones are freed). Call before the set is shared. */
void rules_set_learned(RuleSet *rules, LearnedSet *learned);

/* Gives `rules` the deadline rules (filters/deadlines.h; takes `deadlines`,
 * may be NULL: deadline_days is then unknown). Call before the set is shared. */
void rules_set_deadlines(RuleSet *rules, struct _DeadlineRules *deadlines);

/* Scoring runs a look's branches alone when a text holds the literals of at
 * most this many of them (score.c, SCORE_BRANCHES_MAX), else the whole regex. */
#define RULES_BRANCHES_ALONE_MAX 8

/* TRUE when `look` has branches, compiled (and JIT-compiled) the first time
 * this is asked, so that rule sets that never score (the extractors') do not
 * pay for them. The look's own regex is JIT-compiled then too (scoring asks
 * this before it runs any look's regex, so a look no text gets to costs no
 * JIT), unless it has branches, at most RULES_BRANCHES_ALONE_MAX: then the
 * interpreter runs it, in the rare case it runs (rules-compile.c). Besides the log-once flag, the only write to a built RuleSet, done
 * once under g_once (safe from any thread). */
gboolean rules_look_branches(const RulesLook *look);

guint rules_count(const RuleSet *rules);
guint rules_file_count(const RuleSet *rules);
const RulesRule *rules_get(const RuleSet *rules, guint index);
/* Index of the dimension called `name`, or -1. */
int rules_dimension_index(const RuleSet *rules, const char *name);
