/* filters/confirm.c: the rule for confirming instructions in writing
 * (issue 5, "When to confirm"). A confirmation goes out only to a known
 * client, for mail a person wrote, when neither the message nor its thread
 * is risky (an angry thread waits for a human with a cool head), when there
 * is something to confirm, and when the thread has had no confirmation in
 * the last 12 hours (which also stops two auto-responders confirming each
 * other for ever). Mail seen by the first sync of a folder is history and
 * never answered.
 *
 * Must not: read the clock, the store or the config; it only decides.
 */
#include "filters/confirm.h"

typedef struct {
  gboolean (*forbids)(const ConfirmFacts *facts);
  const char *reason;
} ConfirmRule;

static gboolean confirm_is_history(const ConfirmFacts *f) { return f->first_sync; }
static gboolean confirm_is_stranger(const ConfirmFacts *f) { return !f->known_client; }
static gboolean confirm_is_automated(const ConfirmFacts *f) { return f->automated; }
static gboolean confirm_is_risky(const ConfirmFacts *f) { return f->message_risky; }
static gboolean confirm_is_risky_thread(const ConfirmFacts *f) { return f->thread_risky; }
static gboolean confirm_is_empty(const ConfirmFacts *f) { return f->instructions == 0; }
static gboolean confirm_is_rate_limited(const ConfirmFacts *f)
{
  return f->recent_confirmations >= CONFIRM_MAX_PER_THREAD;
}

static const ConfirmRule confirm_rules[] = {
  { confirm_is_history, "stored by the first sync of the folder (history is never answered)" },
  { confirm_is_stranger, "the sender is not a known client" },
  { confirm_is_automated, "the message is automated" },
  { confirm_is_risky, "the message is risky: it waits for a person" },
  { confirm_is_risky_thread, "the thread is risky: it waits for a person" },
  { confirm_is_empty, "no instruction to confirm" },
  { confirm_is_rate_limited, "this thread had a confirmation in the last 12 hours" },
};

ConfirmDecision confirm_decide(const ConfirmFacts *facts)
{
  for (gsize i = 0; i < G_N_ELEMENTS(confirm_rules); i++)
    if (confirm_rules[i].forbids(facts))
      return (ConfirmDecision){ CONFIRM_NONE, confirm_rules[i].reason };
  return (ConfirmDecision){ CONFIRM_SEND, "known client, safe thread, instructions to confirm" };
}

const char *confirm_action_name(ConfirmAction action)
{
  return action == CONFIRM_SEND ? "confirm" : "none";
}
