/* daemon/service/watchdog.c: progress counters for the watchdog.
 *
 * A worker only ever increments `steps` (atomically). The main loop, every
 * half WATCHDOG_USEC, compares it with what it saw last: a change restarts
 * the clock. Work that has not moved for longer than its stall bound is
 * stuck: the daemon then withholds WATCHDOG=1, and systemd kills and
 * restarts keel once WatchdogSec= passes. A step is a message fetched, a
 * folder checked, a batch committed, an outbox row handled: each is bounded
 * by libcurl's timeouts, so a bound of a few transfers' timeouts without any
 * step cannot be a slow server any more (the transfer would have failed).
 * Must not: block, lock, or read anything but the monotonic time it is given. */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "keel-service"

#include "daemon/service/watchdog.h"

void watchdog_begin(WatchdogProgress *progress, gint64 now)
{
  progress->seen = g_atomic_int_get(&progress->steps);
  progress->changed = MAX(now, 1);
}

void watchdog_end(WatchdogProgress *progress)
{
  progress->changed = 0;
}

void watchdog_bump(gint *steps)
{
  if (steps)
    g_atomic_int_inc(steps);
}

gint64 watchdog_idle_usec(WatchdogProgress *progress, gint64 now)
{
  if (progress->changed == 0)
    return 0;
  gint steps = g_atomic_int_get(&progress->steps);
  if (steps != progress->seen) {
    progress->seen = steps;
    progress->changed = MAX(now, 1);
  }
  return MAX(now - progress->changed, 0);
}

static gint64 watchdog_account_bound(const KeelAccount *account)
{
  return (gint64)WATCHDOG_STALL_FACTOR * (account->connect_timeout + 4 * (gint64)account->read_timeout)
         * G_USEC_PER_SEC;
}

gint64 watchdog_stall_bound(const KeelConfig *config, const KeelAccount *account)
{
  const char *test = g_getenv("KEEL_TEST_STALL_SECONDS");
  if (test && *test) {
    gdouble seconds = g_ascii_strtod(test, NULL);
    if (seconds > 0)
      return (gint64)(seconds * G_USEC_PER_SEC);
  }
  if (account)
    return watchdog_account_bound(account);
  gint64 bound = 0;
  for (guint i = 0; config && i < config->accounts->len; i++)
    bound = MAX(bound, watchdog_account_bound(g_ptr_array_index(config->accounts, i)));
  return bound > 0 ? bound : (gint64)WATCHDOG_STALL_FACTOR * 135 * G_USEC_PER_SEC;
}
