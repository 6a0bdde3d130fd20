/* filters/score.h: scoring a message and a thread with a compiled RuleSet.
 * Pure: a KeelMessage, the rules, and what the caller knows (ScoreContext:
 * history, business hours, time zone, now) in; a ScoreResult out. Never reads
 * the clock, the store or a file.
 *
 * How the lead's pipeline uses it (ingest, `keel rescore`):
 *
 *   g_autoptr(RuleSet) rules = rules_load_dir(dir, &error);   // daemon/record/rules-dir.h; NULL: keep the old set
 *   ScoreContext context;
 *   score_context_init(&context);          // unknown history; fill what the store knows
 *   context.timezone = config->timezone;  ... business hours, chasers, now
 *   g_autoptr(ScoreResult) result = score_message(rules, message, &context, &error);
 *   store_save_verdict(store, row_id, result->scores, hits-as-StoreHit, result->risk,
 *                      result->risky, result->urgency, result->payment, flags_csv, ...);
 *   then score_thread_risk() over the thread's entries -> store_set_thread_risk().
 *
 * A rule whose regex hits PCRE2's match/depth/heap limit is not a "no match":
 * it is listed in result->errors ("RULE: timed out ...") and logged once per
 * rule set; the other rules still run.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "filters/message.h"
#include "filters/rules.h"
#include "filters/signals.h"

typedef struct {
  char *name;   /* owned */
  char *value;  /* owned */
} ScoreCapture;

/* One rule hit, one per (rule, dimension it adds to). */
typedef struct {
  char *rule;        /* owned */
  char *dimension;   /* owned */
  double points;
  char *match;       /* owned: the matched text, or "caps_ratio=0.82" for a signal, or the
                        `if` expression for a rule over rules */
  char *where;       /* owned: subject, text, quoted, body, header:NAME, from, signal, rules */
  gint64 start, end; /* byte offsets of the match in that text; -1 for signals and rules over rules */
  char *why;         /* owned, the rule's `why` (may be NULL) */
  GPtrArray *captures; /* owned, of ScoreCapture*: named captures that matched */
} ScoreHit;

typedef struct {
  GHashTable *scores;   /* owned: dimension name (char*) -> double* points, every declared dimension */
  GPtrArray *dimensions;/* owned, of char*: dimension names in declaration order */
  GPtrArray *flags;     /* owned, of char*: dimensions at or over their flag threshold */
  int urgency;          /* 0 none, 1 this week, 2 within 48 h, 3 now/overdue */
  char *payment;        /* owned: "none" or the winning category */
  gboolean risky;
  double risk;          /* the message's risk number (sum of weight x points / flag threshold;
                           at least 1 when risky) */
  gboolean automated;   /* copied from the message */
  GPtrArray *hits;      /* owned, of ScoreHit*, in rule order */
  GPtrArray *errors;    /* owned, of char*: "RULE: timed out (match limit)" ... */
  double signals[SIGNAL_COUNT]; /* the signal values used (NAN = unknown) */
  double learned[LEARNED_COUNT]; /* learned_risky ... probabilities (NAN = no model) */
} ScoreResult;

/* Scores `message` with `rules`. `context` may be NULL (no history, no
 * business hours). Returns NULL and sets `error` only for a NULL argument;
 * regex errors are outcomes listed in result->errors. Caller owns the result. */
ScoreResult *score_message(const RuleSet *rules, const KeelMessage *message,
                           const ScoreContext *context, GError **error);
void score_result_free(ScoreResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScoreResult, score_result_free)

/* The features the learned signals read in `message` (subject and new text). */
LearnedFeatures *score_learned_features(const KeelMessage *message);

/* Points of `dimension` in `result` (0 when unknown). */
double score_result_points(const ScoreResult *result, const char *dimension);
/* TRUE when `dimension` is among the flags of `result`. */
gboolean score_result_flagged(const ScoreResult *result, const char *dimension);
/* The flags joined with ",", e.g. "tone,threat" ("" when none). New string. */
char *score_result_flags_csv(const ScoreResult *result);

/* Appends the `keel score --json` members (automated, scores, flags, urgency,
 * payment, risky, risk, hits, errors) to the object open at the end of `out`
 * (json_put_*, filters/json-out.h). The fields are documented in rules/README.md. */
void score_result_to_json(const ScoreResult *result, GString *out);

/* One message of a thread, for score_thread_risk(). */
typedef struct {
  GDateTime *date;   /* borrowed, UTC */
  gboolean outgoing; /* TRUE: the VA's own message */
  double risk;       /* the message's risk number (ScoreResult.risk); 0 for the VA's */
} ScoreThreadEntry;

/* Fills the history signals of `context` from the thread's messages (oldest
 * first; the message being scored may be among them or not) as of
 * `message_date`: chasers_since_reply (client messages since the VA's last
 * reply, this one included), chasers_24h (client messages in the 24 hours up
 * to this one, this one included) and hours_since_reply (since the VA's last
 * reply before it; left unknown when she never replied) and thread_risk (the
 * risk of the messages before it, as score_thread_risk() with the default
 * half-life). Pure. */
void score_context_add_history(ScoreContext *context, const ScoreThreadEntry *entries, guint n,
                               GDateTime *message_date);

/* Runs rule `index` alone over `message` (for `keel rules check --profile`;
 * call rules_compile_alone() first), `context` as for score_message(): TRUE
 * when it matched. A rule over rules always gives FALSE here. */
gboolean score_rule_run(const RuleSet *rules, guint index, const KeelMessage *message,
                        const ScoreContext *context);

/* The risk of a thread now: each client message's risk decays with a
 * half-life (`halflife_hours`, <= 0: 72 h; RuleSet.thread_halflife_hours) from
 * its date to `now`, and every later calm client message halves what came
 * before it, so a calm exchange after an angry one lowers the risk while a
 * new angry message raises it again. A thread is risky at >= 1. Pure. */
double score_thread_risk(const ScoreThreadEntry *entries, guint n, GDateTime *now,
                         double halflife_hours);
