/* filters/confirm.h: whether keel should confirm a client's instructions in
 * writing. Pure: facts in, a decision and the evidence that decided it out.
 * No clock, no store: the caller counts the confirmations already sent.
 *
 * This is the ONE place the decision is made: the daemon (through
 * daemon/outbox/outbox-plan.c) and `keel score` both fill ConfirmFacts and
 * call confirm_decide(), so `keel score --json` shows what the daemon does.
 *
 * Entry point: confirm_decide(). */
#pragma once

#include <glib.h>
#include "filters/score.h"

/* At most this many confirmations per thread within CONFIRM_WINDOW_HOURS. */
#define CONFIRM_MAX_PER_THREAD 1
#define CONFIRM_WINDOW_HOURS 12
/* A thread whose risk (score_thread_risk()) reaches this is not confirmed:
 * an earlier message of the thread argued against a template reply. Lower than
 * the digest's "risky thread" bar (1.0) on purpose: silence is the safe side. */
#define CONFIRM_THREAD_RISK_MAX 0.25
/* The urgency level from which a person answers (ASAP, chasing overdue work). */
#define CONFIRM_URGENCY_MAX 3

typedef struct {
  gboolean first_sync;        /* stored by the first sync of a folder: history, never answered */
  gboolean known_client;      /* the sender is a configured client */
  gboolean automated;         /* KeelMessage.automated: never answered */
  const char *automated_reason; /* borrowed, KeelMessage.automated_reason, may be NULL */
  const ScoreResult *verdict; /* borrowed: the message's scores; NULL = not scored, never answered */
  double thread_risk;         /* score_thread_risk() of its thread, this message included */
  guint instructions;         /* instructions found in the new text */
  guint recent_confirmations; /* confirmations queued in this thread in the last 12 h */
} ConfirmFacts;

typedef enum {
  CONFIRM_NONE,
  CONFIRM_SEND
} ConfirmAction;

typedef struct {
  ConfirmAction action;
  char reason[256];  /* why, naming the evidence that blocked (e.g. "blame: rule blame_missed
                        fired (+4)"), as `keel score --json` prints `auto_reply_reason` */
} ConfirmDecision;

/* The first piece of evidence against a confirmation wins, in this order:
 * first sync; unknown sender; automated mail; no verdict; a rule that failed
 * on the message (regex error, PCRE2 limit); a rule of the blame, threat or
 * tone family that fired with points > 0 (confirm_is_family_dimension());
 * any other dimension but urgency above 0; urgency level >= 3; the rules'
 * own `risky if`; a thread at or over CONFIRM_THREAD_RISK_MAX; nothing to
 * confirm; the rate limit. Only when none holds: CONFIRM_SEND. */
ConfirmDecision confirm_decide(const ConfirmFacts *facts);

/* One check of confirm_decide(), as `keel why` shows it. */
#define CONFIRM_STEP_COUNT 12
typedef struct {
  const char *step;    /* static: what is checked ("sender", "thread"...) */
  const char *passed;  /* static: what passing it means, in words */
  gboolean blocked;    /* TRUE: this check found evidence against a reply */
  char reason[256];    /* the evidence when blocked, as confirm_decide() words it */
} ConfirmStep;

/* Every check of confirm_decide(), in its order, each with its outcome (not
 * only the first that blocks). The checks that weigh the verdict are left
 * out when there is none. Fills `steps` and returns how many. */
guint confirm_steps(const ConfirmFacts *facts, ConfirmStep steps[CONFIRM_STEP_COUNT]);

/* TRUE for the dimensions whose rules form the blame, sarcasm and threat
 * families: any of their rules firing blocks a confirmation even when
 * softeners bring the dimension's total back to 0. By name: tone (hostility,
 * sarcasm, passive aggression), threat, blame (documented in keel.rules(5)). */
gboolean confirm_is_family_dimension(const char *dimension);

/* "confirm" or "none", as `keel score --json` prints `auto_reply`. */
const char *confirm_action_name(ConfirmAction action);
