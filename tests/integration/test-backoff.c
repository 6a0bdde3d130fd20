/* tests/integration/test-backoff.c: the retry schedule of a failing account
 * (sync_backoff_seconds): 30 s doubling to a 30 min cap with +-10 % jitter,
 * never sooner than the poll interval, a denied login straight at the cap.
 * Pure arithmetic: no server needed. */
#include "daemon/ingest/sync.h"

static void check_range(guint failures, gboolean denied, guint poll, guint low, guint high)
{
  for (int i = 0; i < 200; i++) {
    guint delay = sync_backoff_seconds(failures, denied, poll);
    if (delay < low || delay > high)
      g_error("failures %u denied %d poll %u: %u s, expected %u..%u", failures, denied, poll,
              delay, low, high);
  }
}

static void test_backoff_doubles(void)
{
  check_range(1, FALSE, 10, 27, 33);
  check_range(2, FALSE, 10, 54, 66);
  check_range(3, FALSE, 10, 108, 132);
  check_range(6, FALSE, 10, 864, 1056);
}

static void test_backoff_capped(void)
{
  check_range(7, FALSE, 10, 1620, 1980);
  check_range(40, FALSE, 10, 1620, 1980);
  check_range(G_MAXUINT, FALSE, 10, 1620, 1980);
}

static void test_backoff_login_denied_waits_the_cap(void)
{
  check_range(1, TRUE, 10, 1620, 1980);
}

static void test_backoff_not_below_poll_interval(void)
{
  check_range(1, FALSE, 600, 600, 600);
}

static void test_backoff_has_jitter(void)
{
  GHashTable *seen = g_hash_table_new(NULL, NULL);
  for (int i = 0; i < 100; i++)
    g_hash_table_add(seen, GUINT_TO_POINTER(sync_backoff_seconds(5, FALSE, 10)));
  g_assert_cmpuint(g_hash_table_size(seen), >, 5);
  g_hash_table_unref(seen);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/sync/backoff/doubles", test_backoff_doubles);
  g_test_add_func("/sync/backoff/capped", test_backoff_capped);
  g_test_add_func("/sync/backoff/login-denied", test_backoff_login_denied_waits_the_cap);
  g_test_add_func("/sync/backoff/poll-interval", test_backoff_not_below_poll_interval);
  g_test_add_func("/sync/backoff/jitter", test_backoff_has_jitter);
  return g_test_run();
}
