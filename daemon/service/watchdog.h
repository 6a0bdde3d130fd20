/* daemon/service/watchdog.h: is work that is running still getting anywhere?
 * The daemon sends WATCHDOG=1 only while every cycle and housekeeping pass in
 * flight has made progress within its stall bound, so systemd (WatchdogSec=)
 * restarts a keel that is stuck, not one that is merely busy.
 *   WatchdogProgress     one per account cycle, one for the housekeeping pass
 *   watchdog_begin/end() the main loop, when the work starts and is back
 *   watchdog_bump()      the worker, after each step (a message, a folder, a row)
 *   watchdog_idle_usec() the main loop: how long since the last step
 *   watchdog_stall_bound()  how long without a step is a stall
 * Must not: block, or take the store lock (the main loop calls it). */
#pragma once

#include <glib.h>
#include "daemon/base/config.h"

typedef struct {
  gint steps;     /* bumped by the worker (atomic); the only field it touches */
  gint seen;      /* main loop: `steps` at the last look */
  gint64 changed; /* main loop: monotonic time `steps` last moved; 0 = not running */
} WatchdogProgress;

/* How many stall bounds of one transfer's timeouts count as stuck. */
#define WATCHDOG_STALL_FACTOR 3

void watchdog_begin(WatchdogProgress *progress, gint64 now);
void watchdog_end(WatchdogProgress *progress);
/* For the worker: one more step done. `steps` may be NULL (no watchdog). */
void watchdog_bump(gint *steps);
/* Microseconds since the work last made a step (or started); 0 when it is
 * not running. Notes a new step as of `now`. */
gint64 watchdog_idle_usec(WatchdogProgress *progress, gint64 now);

/* Microseconds without a step after which `account`'s work counts as stuck:
 * WATCHDOG_STALL_FACTOR x (connect_timeout + 4 x read_timeout), the longest
 * one IMAP step or one SMTP send may take (smtp.c caps a send at 4 x
 * read_timeout). NULL = the longest of every account of `config`.
 * $KEEL_TEST_STALL_SECONDS, when set, replaces it (tests). */
gint64 watchdog_stall_bound(const KeelConfig *config, const KeelAccount *account);
