/* filters/deadlines.h: finding a deadline in one instruction's text and
 * resolving it to a local date and time. Pure: rule text, the instruction's
 * text and the message's Date in; a value out. No clock, no files.
 *
 * Entry points:
 *   deadline_rules_compile()  rules/deadlines.rules text -> DeadlineRules
 *   deadline_find()           text + message Date + client context -> Deadline
 *   deadline_nearest()        the earliest dated deadline of a text (the
 *                             deadline_days signal, filters/signals.c)
 *   deadline_resolve()        named captures -> local GDateTime (exposed for tests)
 *   deadline_window_stretches() the stretches deadline_nearest() reads (for tests)
 *
 * Also here: a flat view of a rule file compiled by the rules engine
 * (filters/rules.h): each regex with its rule name, dimension and points, run
 * on any string with named captures. Used by deadlines.c and instructions.c.
 */
#pragma once

#include <glib.h>
#include "filters/cleanup.h"

#define KEEL_DEADLINE_ERROR (keel_deadline_error_quark())
GQuark keel_deadline_error_quark(void);
typedef enum {
  KEEL_DEADLINE_ERROR_SYNTAX, /* a rule file line keel cannot read */
  KEEL_DEADLINE_ERROR_REGEX,  /* PCRE2 refused a pattern */
  KEEL_DEADLINE_ERROR_MATCH   /* PCRE2 gave up on a match (limits) */
} KeelDeadlineError;

/* What the client's calendar looks like. All fields are plain values; the
 * time zone is borrowed. */
typedef struct {
  GTimeZone *timezone;    /* borrowed; NULL = UTC */
  gboolean month_first;   /* TRUE: US dates, 03/12 = 12 March; FALSE: UK, 3 December */
  int business_start_min; /* minutes after midnight: "first thing" (default 09:00) */
  int business_end_min;   /* minutes after midnight: end of the business day (default 17:30) */
  int day_end_min;        /* a day named with no time (default 17:00, as the corpus labels) */
} DeadlineContext;

/* UTC, UK dates, 09:00-17:30, a bare day = 17:00. */
void deadline_context_init(DeadlineContext *ctx);

/* ---- rule files, compiled by filters/rules.h and seen as a flat list ---- */
typedef struct {
  char *name;                      /* owned */
  int line;                        /* line of `rule NAME` */
  pcre2_code *code;                /* borrowed from the RuleSet */
  pcre2_match_context *context;    /* borrowed from the RuleSet: match/depth/heap limits */
  char *dimension;                 /* owned, from `adds DIM +N`; "" when absent */
  int points;                      /* from `adds DIM +N` */
  char *why;                       /* owned, may be "" */
  int prefilter;                   /* the regex's id in compiled->prefilter, or PREFILTER_ALWAYS */
} LiteRule;

typedef struct {
  struct RuleSet *compiled; /* owned */
  GPtrArray *rules;         /* owned, of LiteRule*, in file order */
  GHashTable *thresholds;   /* owned, dimension -> GINT_TO_POINTER(flag), from `dimension D flag >= N` */
  guint32 max_captures;     /* the most capture groups of any rule: sizes a shared match data */
} LiteRuleSet;

/* Compiles one rule file with rules_compile_unscored() (no branches: only
 * scoring runs them; every regex JIT-compiled at once). NULL and `error`
 * (every `file:line:col: message`, one per line) on any mistake. */
LiteRuleSet *lite_rules_read(const char *text, const char *file_name, GError **error);
void lite_rules_free(LiteRuleSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LiteRuleSet, lite_rules_free)

/* A match data large enough for every rule of `set`, to be reused across the
 * rules and texts of one extraction (one allocation instead of one per match). */
pcre2_match_data *lite_rules_match_data(const LiteRuleSet *set);

/* Runs `rule` on `subject` from byte `start`. Returns 1 on a match (ovector in
 * `match`), 0 on none, -1 when PCRE2 gave up (limits) with `error` set. */
int lite_rule_match(const LiteRule *rule, const char *subject, gsize start,
                    pcre2_match_data *match, GError **error);

/* lite_rule_match() with PCRE2 match `options`: PCRE2_NO_UTF_CHECK when the
 * caller has checked once that `subject` is valid UTF-8 (g_utf8_validate), so
 * that PCRE2 does not check it again for every rule. */
int lite_rule_match_with(const LiteRule *rule, const char *subject, gsize start,
                         guint32 options, pcre2_match_data *match, GError **error);

/* The named capture `group` of the last match, or NULL when it did not take
 * part. Returns a new string. */
char *lite_rule_capture(const LiteRule *rule, const char *subject,
                        pcre2_match_data *match, const char *group);
/* ---- end of the rule-file view ---- */

typedef struct _DeadlineRules DeadlineRules;

/* A compiled file is read-only, so one may serve the deadline_days signal,
 * the instruction and the promise extractors at once (compiled once):
 * deadline_rules_ref() takes one more reference, deadline_rules_free() drops
 * one and frees the rules with the last. */
DeadlineRules *deadline_rules_compile(const char *text, const char *file_name, GError **error);
DeadlineRules *deadline_rules_ref(DeadlineRules *rules);
void deadline_rules_free(DeadlineRules *rules);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DeadlineRules, deadline_rules_free)

typedef enum {
  DEADLINE_NONE = 0,   /* nothing said about time */
  DEADLINE_UNDATED,    /* "ASAP", "no rush", "when you get a chance": said, but no date */
  DEADLINE_DAY,        /* a day, no time: day_end_min */
  DEADLINE_DAY_PART,   /* "this morning", "noon", "first thing", "EOD" */
  DEADLINE_TIME        /* a stated clock time */
} DeadlinePrecision;

typedef struct {
  DeadlinePrecision precision;
  GDateTime *when;     /* owned, in the client's time zone; NULL unless precision >= DAY */
  int urgency;         /* 3 for ASAP/urgently/immediately, else 0 */
  int weight;          /* the rule's `adds deadline +N`: a phrase with "by" beats one without */
  gsize offset;        /* byte offset of the phrase in the text */
  gsize length;        /* its length in bytes */
  char *rule;          /* owned, name of the rule that found it */
} Deadline;

void deadline_clear(Deadline *deadline);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Deadline, deadline_clear)

/* Looks for deadline phrases in `text` and keeps the best: the highest rule
 * weight (`adds deadline +N`), then the most precise (a stated time beats a
 * part of the day beats a bare day), then the earliest in the text. `sent` is the message's Date (any zone). `out` is cleared first;
 * returns FALSE with `error` set only when PCRE2 failed. */
gboolean deadline_find(const DeadlineRules *rules, const char *text, GDateTime *sent,
                       const DeadlineContext *ctx, Deadline *out, GError **error);

/* The points a phrase needs to count for the deadline_days signal: the
 * `flag >= N` of `dimension deadline` in the rule file (1 when not declared).
 * Lower-scoring phrases ("Thursday morning", a bare "today") are kept for
 * instructions, where the task around them says they are deadlines. */
int deadline_rules_signal_weight(const DeadlineRules *rules);

/* The earliest date and time among the phrases of `text` found by rules worth
 * deadline_rules_signal_weight() points or more, in ctx->timezone, leaving
 * out dates before the day of `sent` (past, not near) and the readings of
 * words that an overlapping phrase reads better (more points, then more
 * precise: "by Friday 3pm" is not also "by Friday"); `*when` (owned by the
 * caller) is NULL when none names a date. Returns FALSE with
 * `error` set only when PCRE2 failed. */
gboolean deadline_nearest(const DeadlineRules *rules, const char *text, GDateTime *sent,
                          const DeadlineContext *ctx, GDateTime **when, GError **error);

/* The stretches of `text` that deadline_nearest() reads, around the matches
 * of the rule that adds to `window`: pairs of byte offsets (from, to) in a
 * GArray of gsize (g_array_unref). Found by trying the rule only where its
 * matches can start, or with `whole` by PCRE2 over all of the text: the same
 * stretches (exposed so tests can check that). NULL without a window rule,
 * or with `error` set when PCRE2 failed. */
GArray *deadline_window_stretches(const DeadlineRules *rules, const char *text, gboolean whole,
                                  GError **error);

/* The named captures of one deadline phrase, as found by a rule. Every field
 * is borrowed and may be NULL. Exposed so tests can check resolution alone. */
typedef struct {
  const char *weekday;   /* "fri", "Friday", "Thurs" */
  const char *next;      /* non-NULL: "next Friday" = the Friday of next week */
  const char *relative;  /* today, tonight, tomorrow */
  const char *day;       /* "14", "16th" */
  const char *month;     /* "3", "March", "Mar" */
  const char *year;      /* "2026", "26" */
  const char *numeric;   /* "03/12" or "03/12/2026": read in the client's date order */
  const char *hour;      /* "9", "15" */
  const char *minute;    /* "30" */
  const char *ampm;      /* "am", "pm", "a.m." */
  const char *part;      /* morning, noon, midday, afternoon, evening, eod, first */
  const char *week;      /* "this" or "next": the Friday of that week */
  const char *asap;      /* non-NULL: urgent, no date */
  const char *undated;   /* non-NULL: no rush, when you get a chance */
  const char *monthend;  /* "this" or "next": the last day of that month */
  const char *within;    /* "24", "two": with `unit`, a time from the message's Date */
  const char *unit;      /* hours, days, working days, business days, weeks */
} DeadlinePhrase;

/* Resolves `phrase` against `sent`. Returns the precision and sets `*when`
 * (owned by the caller) when the phrase names a date. */
DeadlinePrecision deadline_resolve(const DeadlinePhrase *phrase, GDateTime *sent,
                                   const DeadlineContext *ctx, GDateTime **when);
