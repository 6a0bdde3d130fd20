/* tests/unit/test-service.c: the daemon's talk to systemd without systemd:
 * the STATUS line from counts (daemon/service/notify.c), the few words for a
 * failing account, and the watchdog's progress counters
 * (daemon/service/watchdog.c) with a monotonic time the test moves. The
 * datagrams themselves are checked end to end by
 * tests/integration/test-service.py. */
#include <glib.h>
#include "daemon/base/config.h"
#include "daemon/mail/mail-error.h"
#include "daemon/service/notify.h"
#include "daemon/service/watchdog.h"

static void test_status_text(void)
{
  g_autoptr(GPtrArray) problems = g_ptr_array_new();
  g_ptr_array_add(problems, "account main: login failed, retry in 60 s");
  g_autoptr(GTimeZone) tz = g_time_zone_new_identifier("Europe/London");
  g_autoptr(GDateTime) digest = g_date_time_new(tz, 2026, 12, 3, 8, 0, 0);
  NotifyStatus status = { .accounts = 2, .today = 14, .next_digest = digest,
                          .problems = problems };
  g_autofree char *text = notify_status_text(&status);
  g_assert_cmpstr(text, ==, "polling 2 accounts; 14 messages today; next digest 08:00; "
                            "account main: login failed, retry in 60 s");
  NotifyStatus start = { .accounts = 1, .today = -1 };
  g_autofree char *first = notify_status_text(&start);
  g_assert_cmpstr(first, ==, "polling 1 account");
}

static void test_problem_text(void)
{
  g_autoptr(GError) auth = NULL;
  mail_error_set(&auth, KEEL_MAIL_ERROR_AUTH, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT,
                 "imaps://x: LOGIN refused: secret-ish server text");
  g_autofree char *text = notify_problem_text("main", auth, 1800);
  g_assert_cmpstr(text, ==, "account main: login failed, retry in 1800 s");
  g_autoptr(GError) other = g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_FAILED, "x");
  g_autofree char *plain = notify_problem_text("b", other, 30);
  g_assert_cmpstr(plain, ==, "account b: error, retry in 30 s");
}

static void test_progress(void)
{
  WatchdogProgress progress = { 0 };
  g_assert_cmpint(watchdog_idle_usec(&progress, 5000000), ==, 0); /* not running */
  watchdog_begin(&progress, 1000000);
  g_assert_cmpint(watchdog_idle_usec(&progress, 3000000), ==, 2000000);
  watchdog_bump(&progress.steps); /* a step: the clock starts again at the next look */
  g_assert_cmpint(watchdog_idle_usec(&progress, 4000000), ==, 0);
  g_assert_cmpint(watchdog_idle_usec(&progress, 9000000), ==, 5000000);
  watchdog_end(&progress);
  g_assert_cmpint(watchdog_idle_usec(&progress, 99000000), ==, 0);
  watchdog_bump(NULL); /* no counter: nothing happens */
}

static void test_stall_bound(void)
{
  KeelAccount account = { .connect_timeout = 15, .read_timeout = 30 };
  g_unsetenv("KEEL_TEST_STALL_SECONDS");
  g_assert_cmpint(watchdog_stall_bound(NULL, &account), ==, 405 * G_USEC_PER_SEC);
  g_setenv("KEEL_TEST_STALL_SECONDS", "2", TRUE);
  g_assert_cmpint(watchdog_stall_bound(NULL, &account), ==, 2 * G_USEC_PER_SEC);
  g_unsetenv("KEEL_TEST_STALL_SECONDS");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/service/status-text", test_status_text);
  g_test_add_func("/service/problem-text", test_problem_text);
  g_test_add_func("/service/progress", test_progress);
  g_test_add_func("/service/stall-bound", test_stall_bound);
  return g_test_run();
}
