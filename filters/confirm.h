/* filters/confirm.h: whether keel should confirm a client's instructions in
 * writing. Pure: facts in, a decision and its reason out. No clock, no store:
 * the caller counts the confirmations already sent.
 *
 * Entry point: confirm_decide(). */
#pragma once

#include <glib.h>

/* At most this many confirmations per thread within CONFIRM_WINDOW_HOURS. */
#define CONFIRM_MAX_PER_THREAD 1
#define CONFIRM_WINDOW_HOURS 12

typedef struct {
  gboolean known_client;    /* the sender is a configured client */
  gboolean automated;       /* RFC 3834 and friends: never answered */
  gboolean message_risky;   /* the message's own scores cross a risk threshold */
  gboolean thread_risky;    /* the thread's risk crosses it */
  guint instructions;       /* instructions found in the new text */
  guint recent_confirmations; /* confirmations queued in this thread in the last 12 h */
  gboolean first_sync;      /* stored by the first sync of a folder: history, never answered */
} ConfirmFacts;

typedef enum {
  CONFIRM_NONE,
  CONFIRM_SEND
} ConfirmAction;

typedef struct {
  ConfirmAction action;
  const char *reason;  /* static text: why (e.g. "thread is risky") */
} ConfirmDecision;

/* The first rule that forbids a confirmation wins, in this order: first
 * sync, unknown sender, automated, risky message, risky thread, no
 * instruction, rate limit. Otherwise CONFIRM_SEND. */
ConfirmDecision confirm_decide(const ConfirmFacts *facts);

/* "confirm" or "none", as `keel score --json` prints `auto_reply`. */
const char *confirm_action_name(ConfirmAction action);
