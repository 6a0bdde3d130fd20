/* filters/confirm.c: the rule for confirming instructions in writing.
 *
 * A confirmation needs positive evidence that it is welcome: it goes out only
 * when nothing argues against it. Each check below looks for one kind of
 * evidence against and, when it finds some, writes what it found into the
 * decision's reason ("blame: rule blame_missed fired (+4)"), so the VA (and
 * `keel score --json`'s auto_reply_reason) sees why keel stayed silent.
 * Being under a flag threshold is not enough: any dimension above 0 blocks
 * (urgency has its own bar, level 3: someone chasing overdue work gets a
 * person); so does any rule of the blame/threat/tone families that fired even
 * if a softener brought its total back to 0; so does any rule that failed to
 * evaluate on the message (a PCRE2 limit is not a "no match" here). Mail seen
 * by the first sync of a folder is history and never answered.
 *
 * Must not: read the clock, the store or the config; it only decides.
 */
#include "filters/confirm.h"

#include <string.h>

typedef gboolean (*ConfirmCheck)(const ConfirmFacts *facts, ConfirmDecision *out);

static gboolean confirm_block(ConfirmDecision *out, const char *format, ...) G_GNUC_PRINTF(2, 3);

/* Sets `out` to CONFIRM_NONE with the formatted reason; returns TRUE. */
static gboolean confirm_block(ConfirmDecision *out, const char *format, ...)
{
  va_list args;
  va_start(args, format);
  out->action = CONFIRM_NONE;
  g_vsnprintf(out->reason, sizeof out->reason, format, args);
  va_end(args);
  return TRUE;
}

gboolean confirm_is_family_dimension(const char *dimension)
{
  static const char *const families[] = { "tone", "threat", "blame", NULL };
  return dimension != NULL && g_strv_contains(families, dimension);
}

static gboolean confirm_check_history(const ConfirmFacts *f, ConfirmDecision *out)
{
  return f->first_sync
    && confirm_block(out, "stored by the first sync of the folder (history is never answered)");
}

static gboolean confirm_check_sender(const ConfirmFacts *f, ConfirmDecision *out)
{
  return !f->known_client && confirm_block(out, "the sender is not a known client");
}

static gboolean confirm_check_automated(const ConfirmFacts *f, ConfirmDecision *out)
{
  return f->automated
    && confirm_block(out, "the message is automated (%s)",
                     f->automated_reason ? f->automated_reason : "machine mail");
}

static gboolean confirm_check_scored(const ConfirmFacts *f, ConfirmDecision *out)
{
  return f->verdict == NULL
    && confirm_block(out, "the message was not scored (no rules loaded)");
}

static gboolean confirm_check_errors(const ConfirmFacts *f, ConfirmDecision *out)
{
  const GPtrArray *errors = f->verdict->errors;
  return errors->len > 0
    && confirm_block(out, "a rule failed on this message, so its verdict is incomplete: %s",
                     (const char *)g_ptr_array_index(errors, 0));
}

/* The first hit with points > 0 on `dimension` (NULL: on a family
 * dimension), or NULL. */
static const ScoreHit *confirm_first_hit(const ScoreResult *verdict, const char *dimension)
{
  for (guint i = 0; i < verdict->hits->len; i++) {
    const ScoreHit *hit = g_ptr_array_index(verdict->hits, i);
    if (hit->points > 0 && (dimension ? strcmp(hit->dimension, dimension) == 0
                                      : confirm_is_family_dimension(hit->dimension)))
      return hit;
  }
  return NULL;
}

static gboolean confirm_check_family(const ConfirmFacts *f, ConfirmDecision *out)
{
  const ScoreHit *hit = confirm_first_hit(f->verdict, NULL);
  return hit != NULL
    && confirm_block(out, "%s: rule %s fired (%+g): it waits for a person", hit->dimension,
                     hit->rule, hit->points);
}

static gboolean confirm_check_dimensions(const ConfirmFacts *f, ConfirmDecision *out)
{
  const ScoreResult *v = f->verdict;
  for (guint i = 0; i < v->dimensions->len; i++) {
    const char *name = g_ptr_array_index(v->dimensions, i);
    double points = score_result_points(v, name);
    if (strcmp(name, "urgency") == 0 || points <= 0)
      continue;
    const ScoreHit *hit = confirm_first_hit(v, name);
    return confirm_block(out, "%s scores %g%s%s: it waits for a person", name, points,
                         hit ? ", first rule " : "", hit ? hit->rule : "");
  }
  return FALSE;
}

static gboolean confirm_check_urgency(const ConfirmFacts *f, ConfirmDecision *out)
{
  return f->verdict->urgency >= CONFIRM_URGENCY_MAX
    && confirm_block(out, "urgency %d (ASAP or chasing overdue work): it waits for a person",
                     f->verdict->urgency);
}

static gboolean confirm_check_risky(const ConfirmFacts *f, ConfirmDecision *out)
{
  return f->verdict->risky && confirm_block(out, "the message is risky: it waits for a person");
}

static gboolean confirm_check_thread(const ConfirmFacts *f, ConfirmDecision *out)
{
  return f->thread_risk >= CONFIRM_THREAD_RISK_MAX
    && confirm_block(out, "the thread is risky (risk %.2f): it waits for a person",
                     f->thread_risk);
}

static gboolean confirm_check_empty(const ConfirmFacts *f, ConfirmDecision *out)
{
  return f->instructions == 0 && confirm_block(out, "no instruction to confirm");
}

static gboolean confirm_check_rate(const ConfirmFacts *f, ConfirmDecision *out)
{
  return f->recent_confirmations >= CONFIRM_MAX_PER_THREAD
    && confirm_block(out, "this thread had a confirmation in the last %d hours",
                     CONFIRM_WINDOW_HOURS);
}

static const ConfirmCheck confirm_checks[] = {
  confirm_check_history, confirm_check_sender,  confirm_check_automated,
  confirm_check_scored,  confirm_check_errors,  confirm_check_family,
  confirm_check_dimensions, confirm_check_urgency, confirm_check_risky,
  confirm_check_thread,  confirm_check_empty,   confirm_check_rate,
};

/* What each check of confirm_checks[] looks at, and what passing it means. */
static const struct { const char *step, *passed; } confirm_step_names[] = {
  { "history", "arrived after keel started watching the folder" },
  { "sender", "a known client" },
  { "automated", "written by a person (no Auto-Submitted, list or bulk headers)" },
  { "scored", "scored by the rules" },
  { "rule errors", "every rule ran to the end" },
  { "blame, threat, tone", "no rule of these families fired" },
  { "other dimensions", "no other dimension above 0" },
  { "urgency", "urgency below 3" },
  { "risky", "the rules do not call it risky" },
  { "thread", "the thread is calm" },
  { "instructions", "instructions to confirm" },
  { "rate limit", "no confirmation in this thread in the last 12 hours" },
};
G_STATIC_ASSERT(G_N_ELEMENTS(confirm_step_names) == CONFIRM_STEP_COUNT);

guint confirm_steps(const ConfirmFacts *facts, ConfirmStep steps[CONFIRM_STEP_COUNT])
{
  G_STATIC_ASSERT(G_N_ELEMENTS(confirm_checks) == CONFIRM_STEP_COUNT);
  guint n = 0;
  for (gsize i = 0; i < CONFIRM_STEP_COUNT; i++) {
    if (i > 3 && facts->verdict == NULL)
      break;
    ConfirmDecision decision = { CONFIRM_SEND, "" };
    ConfirmStep *step = &steps[n++];
    step->step = confirm_step_names[i].step;
    step->passed = confirm_step_names[i].passed;
    step->blocked = confirm_checks[i](facts, &decision);
    g_strlcpy(step->reason, step->blocked ? decision.reason : "", sizeof step->reason);
  }
  return n;
}

ConfirmDecision confirm_decide(const ConfirmFacts *facts)
{
  ConfirmDecision decision = { CONFIRM_SEND, "" };
  for (gsize i = 0; i < G_N_ELEMENTS(confirm_checks); i++)
    if (confirm_checks[i](facts, &decision))
      return decision;
  g_strlcpy(decision.reason, "known client, nothing against it, instructions to confirm",
            sizeof decision.reason);
  return decision;
}

const char *confirm_action_name(ConfirmAction action)
{
  return action == CONFIRM_SEND ? "confirm" : "none";
}
