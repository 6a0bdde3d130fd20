/* filters/schedule.c: the maths of a daily wall-clock schedule (`[digest] at
 * = HH:MM` in the VA's zone), moved out of daemon/digest/digest-send.c so it
 * is tested without a store.
 *
 * Each run time is built from a calendar date and the time of day with
 * g_date_time_new(zone, ...), never by adding 24 hours, so it stays at 08:00
 * on the days the clocks change (those days have 23 or 25 hours); a time the
 * clocks skip is whatever GLib makes of it. A run is due when a run time has
 * passed since the last run.
 *
 * Must never: read the clock (`now` is a parameter), touch a store or send.
 */
#include <string.h>
#include "filters/schedule.h"

gboolean schedule_parse_at(const char *at, int *hour, int *minute)
{
  if (!at || strlen(at) != 5 || at[2] != ':' || !g_ascii_isdigit(at[0])
      || !g_ascii_isdigit(at[1]) || !g_ascii_isdigit(at[3]) || !g_ascii_isdigit(at[4]))
    return FALSE;
  *hour = (at[0] - '0') * 10 + (at[1] - '0');
  *minute = (at[3] - '0') * 10 + (at[4] - '0');
  return *hour < 24 && *minute < 60;
}

/* The run time on the local date of `local` moved by `days`. */
static GDateTime *schedule_run_on(GDateTime *local, int days, int hour, int minute,
                                  GTimeZone *zone)
{
  GDate date;
  g_date_clear(&date, 1);
  g_date_set_dmy(&date, (GDateDay)g_date_time_get_day_of_month(local),
                 (GDateMonth)g_date_time_get_month(local),
                 (GDateYear)g_date_time_get_year(local));
  if (days > 0)
    g_date_add_days(&date, (guint)days);
  else if (days < 0)
    g_date_subtract_days(&date, (guint)-days);
  return g_date_time_new(zone, g_date_get_year(&date), g_date_get_month(&date),
                         g_date_get_day(&date), hour, minute, 0);
}

GDateTime *schedule_next_run(GDateTime *now, const char *at, GTimeZone *tz)
{
  int hour, minute;
  if (!schedule_parse_at(at, &hour, &minute))
    return NULL;
  g_autoptr(GDateTime) local = g_date_time_to_timezone(now, tz);
  for (int days = 0; days <= 2; days++) {
    g_autoptr(GDateTime) run = schedule_run_on(local, days, hour, minute, tz);
    if (run && g_date_time_compare(run, now) > 0)
      return g_steal_pointer(&run);
  }
  return NULL;
}

GDateTime *schedule_previous_run(GDateTime *now, const char *at, GTimeZone *tz)
{
  int hour, minute;
  if (!schedule_parse_at(at, &hour, &minute))
    return NULL;
  g_autoptr(GDateTime) local = g_date_time_to_timezone(now, tz);
  for (int days = 0; days >= -2; days--) {
    g_autoptr(GDateTime) run = schedule_run_on(local, days, hour, minute, tz);
    if (run && g_date_time_compare(run, now) <= 0)
      return g_steal_pointer(&run);
  }
  return NULL;
}

gboolean schedule_due(GDateTime *last_run, GDateTime *now, const char *at, GTimeZone *tz)
{
  g_autoptr(GDateTime) previous = schedule_previous_run(now, at, tz);
  if (!previous)
    return FALSE;
  if (last_run)
    return g_date_time_compare(last_run, previous) < 0;
  g_autoptr(GDateTime) local_now = g_date_time_to_timezone(now, tz);
  g_autoptr(GDateTime) local_run = g_date_time_to_timezone(previous, tz);
  return g_date_time_get_day_of_year(local_now) == g_date_time_get_day_of_year(local_run);
}

GDateTime *schedule_next_due(GDateTime *last_run, GDateTime *now, const char *at, GTimeZone *tz)
{
  g_autoptr(GDateTime) when = schedule_due(last_run, now, at, tz)
                                ? schedule_previous_run(now, at, tz)
                                : schedule_next_run(now, at, tz);
  return when ? g_date_time_to_timezone(when, tz) : NULL;
}
