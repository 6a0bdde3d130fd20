/* daemon/record/verdict.h: what the rules make of a stored message, saved. Shared by
 * ingest (daemon/ingest/pipeline.c) and `keel rescore`: fill the history signals
 * from the message's thread, score it (filters/score), store the verdict and
 * recompute the thread's risk. Runs inside the caller's transaction; never
 * fetches or sends mail. */
#pragma once

#include "daemon/record/rules-dir.h"
#include "daemon/base/config.h"
#include "daemon/store/store.h"
#include "filters/instructions.h"
#include "filters/score.h"

/* The rules directory: `option` (--rules), else the config's `rules` (what
 * config_load() settled), else config_default_rules_dir() when there is no
 * config. New string. */
char *verdict_rules_dir(const char *option, const KeelConfig *config);

/* Loads every rule file of `dir`: the scoring rules and the instruction and
 * deadline rules. All or nothing: on any error (`file:line:col: message`
 * lines) returns FALSE and leaves `*rules` and `*instruction_rules` alone, so
 * a reload keeps the set in force. On success the caller owns both. */
gboolean verdict_load_rules(const char *dir, RuleSet **rules,
                            InstructionRules **instruction_rules, GError **error);

/* A ScoreContext with the VA's zone (`tz`, borrowed) and business hours from
 * `config` (may be NULL: unknown hours); history unknown. */
void verdict_context_init(ScoreContext *context, const KeelConfig *config, GTimeZone *tz);

/* Scores `message` (stored as `row_id` in `thread_id`) with the history of its
 * thread added to `base`, and saves the verdict. With `thread_risk` (may be
 * NULL) also stores the thread's risk as of the message's Date (from the
 * client's and the VA's messages only, no peak memory: `keel rescore`) and
 * returns it there. Returns the result (owned by the
 * caller), or NULL with `error` on a store failure. */
ScoreResult *verdict_score_and_save(Store *store, const RuleSet *rules, const ScoreContext *base,
                                    const KeelMessage *message, gint64 row_id, gint64 thread_id,
                                    double *thread_risk, GError **error);

/* Recomputes the risk of `thread_id` as of `now` from the client's and the
 * VA's messages and stores it. `*risk` (may
 * be NULL) receives it; a thread is risky at >= 1. */
gboolean verdict_update_thread_risk(Store *store, const RuleSet *rules, gint64 thread_id,
                                    GDateTime *now, double *risk, GError **error);

/* The risk a thread keeps whatever calm mail says since: its remembered peak
 * while that is younger than `memory_days` as of `now`, unless the VA marked
 * the thread handled or wrote in it herself after the peak; else 0. */
double verdict_risk_floor(const StoreThreadPeak *peak, GDateTime *now, guint memory_days);

/* The thread's risk once message `row_id` (its verdict saved) is stored in
 * `thread_id`, as of `as_of`: recomputed from the client's and the VA's
 * messages only (a stranger's message changes nothing), never below
 * verdict_risk_floor(); the peak moves up when the risk reaches it. Stores it
 * and returns it in `*risk`. Inside the caller's transaction. */
gboolean verdict_guarded_thread_risk(Store *store, const RuleSet *rules, gint64 thread_id,
                                     gint64 row_id, GDateTime *as_of, guint memory_days,
                                     double *risk, GError **error);
