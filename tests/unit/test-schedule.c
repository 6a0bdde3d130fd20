/* tests/unit/test-schedule.c: the digest's daily schedule (filters/schedule.c)
 * linked against libkeel-filters only: run times that stay at 08:00 local
 * across both clock changes, the previous run, when a run is due given the
 * last one, and the next due time that `keel status` shows. */
#include "filters/schedule.h"

static GDateTime *iso(const char *text)
{
  GDateTime *when = g_date_time_new_from_iso8601(text, NULL);
  g_assert_nonnull(when);
  return when;
}

static char *utc_text(GDateTime *when)
{
  g_assert_nonnull(when);
  g_autoptr(GDateTime) utc = g_date_time_to_utc(when);
  return g_date_time_format(utc, "%Y-%m-%dT%H:%MZ");
}

static void test_parse_at(void)
{
  int hour = -1, minute = -1;
  g_assert_true(schedule_parse_at("07:45", &hour, &minute));
  g_assert_cmpint(hour, ==, 7);
  g_assert_cmpint(minute, ==, 45);
  g_assert_true(schedule_parse_at("23:59", &hour, &minute));
  const char *bad[] = { "24:00", "12:60", "8:00", "08:00 ", "8am", "", NULL };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
    g_assert_false(schedule_parse_at(bad[i], &hour, &minute));
}

static void test_runs_across_clock_changes(void)
{
  static const struct { const char *now, *next, *previous; } cases[] = {
    /* spring forward, Sun 29 Mar 2026: 08:00 BST is 07:00 UTC */
    { "2026-03-28T09:00:00Z", "2026-03-29T07:00Z", "2026-03-28T08:00Z" },
    { "2026-03-29T07:00:00Z", "2026-03-30T07:00Z", "2026-03-29T07:00Z" },
    /* fall back, Sun 25 Oct 2026: 08:00 GMT is 08:00 UTC */
    { "2026-10-25T07:30:00Z", "2026-10-25T08:00Z", "2026-10-24T07:00Z" },
  };
  g_autoptr(GTimeZone) london = g_time_zone_new_identifier("Europe/London");
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GDateTime) now = iso(cases[i].now);
    g_autoptr(GDateTime) next = schedule_next_run(now, "08:00", london);
    g_autoptr(GDateTime) previous = schedule_previous_run(now, "08:00", london);
    g_autofree char *n = utc_text(next), *p = utc_text(previous);
    g_assert_cmpstr(n, ==, cases[i].next);
    g_assert_cmpstr(p, ==, cases[i].previous);
  }
  g_autoptr(GDateTime) now = iso("2026-03-28T09:00:00Z");
  g_assert_null(schedule_next_run(now, "8am", london));
  g_assert_null(schedule_previous_run(now, "24:00", london));
}

static void test_due(void)
{
  g_autoptr(GTimeZone) sydney = g_time_zone_new_identifier("Australia/Sydney");
  /* 08:00 in Sydney on Tue 3 Feb 2026 (AEDT, +11) is 21:00 UTC on the 2nd */
  g_autoptr(GDateTime) before = iso("2026-02-02T20:59:00Z"), after = iso("2026-02-02T21:01:00Z");
  g_autoptr(GDateTime) yesterday = iso("2026-02-01T21:00:00Z");
  g_autoptr(GDateTime) just_sent = iso("2026-02-02T21:00:30Z");
  g_assert_false(schedule_due(yesterday, before, "08:00", sydney));
  g_assert_true(schedule_due(yesterday, after, "08:00", sydney));
  g_assert_false(schedule_due(just_sent, after, "08:00", sydney));
  g_assert_true(schedule_due(NULL, after, "08:00", sydney));
  /* never sent: due once today's run time has passed, not for yesterday's */
  g_autoptr(GDateTime) evening = iso("2026-02-02T12:00:00Z"); /* Mon 23:00 local */
  g_assert_true(schedule_due(NULL, evening, "08:00", sydney));
  g_assert_false(schedule_due(NULL, evening, "23:30", sydney));
  g_assert_false(schedule_due(NULL, after, "bad", sydney));
}

static void test_next_due(void)
{
  g_autoptr(GTimeZone) london = g_time_zone_new_identifier("Europe/London");
  g_autoptr(GDateTime) now = iso("2026-06-10T09:30:00Z"); /* 10:30 BST */
  g_autoptr(GDateTime) last_week = iso("2026-06-03T07:00:00Z");
  g_autoptr(GDateTime) today = iso("2026-06-10T07:00:10Z");
  g_autoptr(GDateTime) pending = schedule_next_due(last_week, now, "08:00", london);
  g_autoptr(GDateTime) next = schedule_next_due(today, now, "08:00", london);
  g_autofree char *p = utc_text(pending), *n = utc_text(next);
  g_assert_cmpstr(p, ==, "2026-06-10T07:00Z");
  g_assert_cmpstr(n, ==, "2026-06-11T07:00Z");
  g_assert_cmpint(g_date_time_get_hour(next), ==, 8); /* in the zone given */
  g_assert_null(schedule_next_due(today, now, "", london));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/schedule/parse-at", test_parse_at);
  g_test_add_func("/schedule/runs-across-clock-changes", test_runs_across_clock_changes);
  g_test_add_func("/schedule/due", test_due);
  g_test_add_func("/schedule/next-due", test_next_due);
  return g_test_run();
}
