/* tests/unit/test-chase.c: the pure payment core: money in minor units
 * (filters/money.c) and the chase schedule on a simulated clock
 * (filters/chase.c): steps at +3/+10/+21 days on the business morning in
 * the client's zone, never at night, on a weekend or a holiday, across the
 * October clock change, and the VA's own chaser delaying a step. Links
 * libkeel-filters alone. */
#include <glib.h>
#include "filters/chase.h"
#include "filters/money.h"

/* ---- money ------------------------------------------------------------- */

typedef struct {
  const char *text, *currency;
  gint64 minor;
  const char *formatted;
} MoneyCase;

static const MoneyCase money_cases[] = {
  { "1486.20", "EUR", 148620, "€1,486.20" },
  { "€1,486.2", "EUR", 148620, "€1,486.20" },
  { "150", "GBP", 15000, "£150.00" },
  { "12000", "JPY", 12000, "¥12,000" },
  { "¥12,000", "JPY", 12000, "¥12,000" },
  { "1200.5", "CHF", 120050, "1,200.50 CHF" },
  { "1.250", "KWD", 1250, "1.250 KWD" },
  { "0.99", "USD", 99, "$0.99" },
  { "1234567.89", "USD", 123456789, "$1,234,567.89" },
};

static void test_money_cases(void)
{
  for (gsize i = 0; i < G_N_ELEMENTS(money_cases); i++) {
    const MoneyCase *c = &money_cases[i];
    gint64 minor = -1;
    g_autoptr(GError) error = NULL;
    g_assert_true(money_parse(c->text, c->currency, &minor, &error));
    g_assert_no_error(error);
    g_assert_cmpint(minor, ==, c->minor);
    g_autofree char *formatted = money_format(minor, c->currency);
    g_assert_cmpstr(formatted, ==, c->formatted);
  }
}

static void test_money_refused(void)
{
  const char *bad[][2] = { { "12.345", "EUR" }, { "12.5", "JPY" }, { "abc", "EUR" },
                           { "", "EUR" }, { "-5", "EUR" }, { "£5", "EUR" },
                           { "99999999999999999999", "EUR" }, { "5", "eur" } };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    gint64 minor = 0;
    g_autoptr(GError) error = NULL;
    g_assert_false(money_parse(bad[i][0], bad[i][1], &minor, &error));
    g_assert_error(error, KEEL_MONEY_ERROR, KEEL_MONEY_ERROR_INVALID);
  }
  g_autofree char *negative = money_format(-500, "GBP");
  g_assert_cmpstr(negative, ==, "-£5.00");
  g_assert_cmpint(money_exponent("JPY"), ==, 0);
  g_assert_cmpstr(money_currency_for_symbol("£150"), ==, "GBP");
}

/* ---- parsing ----------------------------------------------------------- */

static void test_parse_terms_steps(void)
{
  guint days = 0;
  g_assert_true(chase_parse_terms("14d", &days));
  g_assert_cmpuint(days, ==, 14);
  g_assert_true(chase_parse_terms("30 days", &days));
  g_assert_cmpuint(days, ==, 30);
  g_assert_true(chase_parse_terms("2w", &days));
  g_assert_cmpuint(days, ==, 14);
  g_assert_false(chase_parse_terms("soon", &days));
  g_assert_false(chase_parse_terms("0d", &days));
  guint offsets[CHASE_MAX_STEPS], n = 0;
  g_assert_true(chase_parse_steps("3;10;21", offsets, &n));
  g_assert_cmpuint(n, ==, 3);
  g_assert_cmpuint(offsets[2], ==, 21);
  g_assert_true(chase_parse_steps("+3d, +10d", offsets, &n));
  g_assert_cmpuint(n, ==, 2);
  g_assert_false(chase_parse_steps("10;3", offsets, &n));
  g_assert_false(chase_parse_steps("", offsets, &n));
  GDate date;
  g_assert_true(chase_parse_date("2026-10-19", &date));
  g_assert_false(chase_parse_date("2026-02-30", &date));
  g_assert_false(chase_parse_date("19/10/2026", &date));
}

/* ---- the schedule on a simulated clock --------------------------------- */

typedef struct {
  GTimeZone *zone;
  ChaseCalendar cal;
} Clock;

static const char *const no_holidays[] = { NULL };

static void clock_init(Clock *c, const char *zone, const char *const *holidays)
{
  c->zone = g_time_zone_new_identifier(zone);
  g_assert_nonnull(c->zone);
  c->cal = (ChaseCalendar){ .zone = c->zone, .days = 0x1f, .start_min = 9 * 60,
                            .end_min = 17 * 60 + 30, .holidays = holidays };
}

static GDateTime *at(const char *iso)
{
  GDateTime *time = g_date_time_new_from_iso8601(iso, NULL);
  g_assert_nonnull(time);
  return time;
}

/* Walks a clock from `start` in 30-minute ticks until a step fires; returns
 * the first tick at which step `want` may go (asserting no other step fired). */
static GDateTime *first_firing(const Clock *c, const ChaseState *state, const char *start,
                               guint want)
{
  static const guint offsets[] = { 3, 10, 21 };
  g_autoptr(GDateTime) now = at(start);
  for (int tick = 0; tick < 48 * 60; tick++) {
    guint step = chase_due_step(&c->cal, offsets, 3, state, now, NULL);
    if (step) {
      g_assert_cmpuint(step, ==, want);
      return g_date_time_ref(now);
    }
    GDateTime *later = g_date_time_add_minutes(now, 30);
    g_date_time_unref(now);
    now = later;
  }
  g_assert_not_reached();
  return NULL;
}

static void assert_local(GDateTime *time, GTimeZone *zone, const char *expected)
{
  g_autoptr(GDateTime) local = g_date_time_to_timezone(time, zone);
  g_autofree char *text = g_date_time_format(local, "%a %Y-%m-%d %H:%M %z");
  g_assert_cmpstr(text, ==, expected);
}

static void test_steps_business_mornings(void)
{
  Clock c;
  clock_init(&c, "Europe/London", no_holidays);
  ChaseState state = { .last_step = 0 };
  g_assert_true(chase_parse_date("2026-10-05", &state.due)); /* a Monday */
  g_autoptr(GDateTime) one = first_firing(&c, &state, "2026-10-05T00:00:00Z", 1);
  assert_local(one, c.zone, "Thu 2026-10-08 09:00 +0100");
  state.last_step = 1;
  g_autoptr(GDateTime) two = first_firing(&c, &state, "2026-10-08T10:00:00Z", 2);
  assert_local(two, c.zone, "Thu 2026-10-15 09:00 +0100");
  /* +21 = Mon 26 Oct, the day after the clocks go back: 09:00 GMT */
  state.last_step = 2;
  g_autoptr(GDateTime) three = first_firing(&c, &state, "2026-10-15T10:00:00Z", 3);
  assert_local(three, c.zone, "Mon 2026-10-26 09:00 +0000");
  g_time_zone_unref(c.zone);
}

static void test_weekend_holiday_night(void)
{
  static const char *const holidays[] = { "2026-12-28", NULL };
  Clock c;
  clock_init(&c, "Europe/London", holidays);
  ChaseState state = { .last_step = 0 };
  /* due Wed 23 Dec: +3 = Sat 26 Dec; Mon 28 is a holiday: Tue 29 at 09:00 */
  g_assert_true(chase_parse_date("2026-12-23", &state.due));
  g_autoptr(GDateTime) one = first_firing(&c, &state, "2026-12-23T00:00:00Z", 1);
  assert_local(one, c.zone, "Tue 2026-12-29 09:00 +0000");
  /* a due step seen at night waits for the morning */
  static const guint offsets[] = { 3, 10, 21 };
  g_autoptr(GDateTime) night = at("2026-12-29T22:00:00Z");
  g_autoptr(GDateTime) next = NULL;
  g_assert_cmpuint(chase_due_step(&c.cal, offsets, 3, &state, night, &next), ==, 0);
  assert_local(next, c.zone, "Wed 2026-12-30 09:00 +0000");
  g_time_zone_unref(c.zone);
}

static void test_client_zone_spring_forward(void)
{
  /* New York: clocks go forward Sun 8 Mar 2026; +3 from Thu 5 Mar = Sun 8 -> Mon 9 */
  Clock c;
  clock_init(&c, "America/New_York", no_holidays);
  ChaseState state = { .last_step = 0 };
  g_assert_true(chase_parse_date("2026-03-05", &state.due));
  g_autoptr(GDateTime) one = first_firing(&c, &state, "2026-03-05T00:00:00Z", 1);
  assert_local(one, c.zone, "Mon 2026-03-09 09:00 -0400");
  g_autoptr(GDateTime) utc = g_date_time_to_utc(one);
  g_assert_cmpint(g_date_time_get_hour(utc), ==, 13);
  g_time_zone_unref(c.zone);
}

static void test_own_chaser_and_catch_up(void)
{
  Clock c;
  clock_init(&c, "Europe/London", no_holidays);
  static const guint offsets[] = { 3, 10, 21 };
  ChaseState state = { .last_step = 0 };
  g_assert_true(chase_parse_date("2026-10-05", &state.due));
  /* the VA chased by hand on Wed 7 Oct: step 1 waits 3 business days, to Mon 12 Oct */
  GDate wrote, until;
  g_assert_true(chase_parse_date("2026-10-07", &wrote));
  chase_add_business_days(&c.cal, &wrote, 3, &until);
  g_autoptr(GDateTime) not_before = chase_day_morning(&c.cal, &until);
  state.not_before = not_before;
  g_autoptr(GDateTime) one = first_firing(&c, &state, "2026-10-05T00:00:00Z", 1);
  assert_local(one, c.zone, "Mon 2026-10-12 09:00 +0100");
  /* keel was off for a month: only the latest step due goes, once */
  state.not_before = NULL;
  g_autoptr(GDateTime) late = at("2026-11-05T11:00:00Z");
  g_assert_cmpuint(chase_due_step(&c.cal, offsets, 3, &state, late, NULL), ==, 3);
  state.last_step = 3;
  g_autoptr(GDateTime) next = NULL;
  g_assert_cmpuint(chase_due_step(&c.cal, offsets, 3, &state, late, &next), ==, 0);
  g_assert_null(next);
  g_time_zone_unref(c.zone);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/money/parse-format", test_money_cases);
  g_test_add_func("/money/refused", test_money_refused);
  g_test_add_func("/chase/parse", test_parse_terms_steps);
  g_test_add_func("/chase/business-mornings-dst", test_steps_business_mornings);
  g_test_add_func("/chase/weekend-holiday-night", test_weekend_holiday_night);
  g_test_add_func("/chase/client-zone-spring-forward", test_client_zone_spring_forward);
  g_test_add_func("/chase/own-chaser-catch-up", test_own_chaser_and_catch_up);
  return g_test_run();
}
