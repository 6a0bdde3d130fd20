/* filters/chase.c: the chase schedule (see chase.h). Every local time is
 * built with g_date_time_new() in the client's zone, so "09:00 on the
 * Monday after the clock change" is 09:00 there whatever the UTC offset was
 * the day before. A day is a GDate in the client's calendar; a step's time
 * is the business morning of (due + offset), pushed to the next business day
 * past weekends and holidays.
 * Must not: read the clock, the config or the store. */
#include <stdio.h>
#include <string.h>
#include "filters/chase.h"

/* Searching more than a year ahead for a business day means the calendar has none. */
#define CHASE_SEARCH_DAYS 370

gboolean chase_parse_date(const char *text, GDate *date)
{
  unsigned year = 0, month = 0, day = 0;
  char extra = 0;
  if (!text || strlen(text) != 10 || sscanf(text, "%4u-%2u-%2u%c", &year, &month, &day, &extra) != 3
      || text[4] != '-' || text[7] != '-' || !g_date_valid_dmy((GDateDay)day, (GDateMonth)month,
                                                                (GDateYear)year))
    return FALSE;
  g_date_clear(date, 1);
  g_date_set_dmy(date, (GDateDay)day, (GDateMonth)month, (GDateYear)year);
  return TRUE;
}

char *chase_format_date(const GDate *date)
{
  return g_strdup_printf("%04u-%02u-%02u", g_date_get_year(date), g_date_get_month(date),
                         g_date_get_day(date));
}

gboolean chase_parse_terms(const char *text, guint *days)
{
  g_autofree char *copy = g_strstrip(g_ascii_strdown(text ? text : "", -1));
  char *end = NULL;
  guint64 value = g_ascii_strtoull(copy, &end, 10);
  if (end == copy)
    return FALSE;
  while (*end == ' ')
    end++;
  guint unit = 1;
  if (*end == 'w')
    unit = 7;
  if (*end && strcmp(end, "d") && strcmp(end, "day") && strcmp(end, "days") && strcmp(end, "w")
      && strcmp(end, "week") && strcmp(end, "weeks"))
    return FALSE;
  if (value * unit < 1 || value * unit > 365)
    return FALSE;
  *days = (guint)(value * unit);
  return TRUE;
}

gboolean chase_parse_steps(const char *text, guint *offsets, guint *count)
{
  g_auto(GStrv) items = g_strsplit_set(text ? text : "", ";,", -1);
  guint n = 0;
  for (int i = 0; items[i]; i++) {
    char *item = g_strstrip(items[i]);
    if (!item[0])
      continue;
    if (*item == '+')
      item++;
    guint days = 0;
    if (n >= CHASE_MAX_STEPS || (!chase_parse_terms(item, &days) && strcmp(item, "0") != 0))
      return FALSE;
    if (n > 0 && days <= offsets[n - 1])
      return FALSE;
    offsets[n++] = days;
  }
  *count = n;
  return n > 0;
}

void chase_local_date(const ChaseCalendar *cal, GDateTime *time, GDate *date)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
  g_autoptr(GDateTime) local = g_date_time_to_timezone(time, cal->zone ? cal->zone : utc);
  g_date_clear(date, 1);
  g_date_set_dmy(date, (GDateDay)g_date_time_get_day_of_month(local),
                 (GDateMonth)g_date_time_get_month(local),
                 (GDateYear)g_date_time_get_year(local));
}

gboolean chase_is_business_day(const ChaseCalendar *cal, const GDate *day)
{
  int weekday = (int)g_date_get_weekday(day) - 1; /* G_DATE_MONDAY = 1 */
  if (!(cal->days & (1u << weekday)))
    return FALSE;
  g_autofree char *text = chase_format_date(day);
  return !(cal->holidays && g_strv_contains(cal->holidays, text));
}

void chase_add_business_days(const ChaseCalendar *cal, const GDate *day, guint n, GDate *out)
{
  *out = *day;
  for (guint added = 0, guard = 0; added < n && guard < CHASE_SEARCH_DAYS * 8; guard++) {
    g_date_add_days(out, 1);
    if (chase_is_business_day(cal, out))
      added++;
  }
}

/* `minutes` after local midnight of `day` in the client's zone. */
static GDateTime *chase_local_time(const ChaseCalendar *cal, const GDate *day, guint minutes)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
  return g_date_time_new(cal->zone ? cal->zone : utc, (int)g_date_get_year(day),
                         (int)g_date_get_month(day), (int)g_date_get_day(day),
                         (int)(minutes / 60), (int)(minutes % 60), 0);
}

GDateTime *chase_day_morning(const ChaseCalendar *cal, const GDate *day)
{
  GDate probe = *day;
  for (int i = 0; i < CHASE_SEARCH_DAYS; i++, g_date_add_days(&probe, 1))
    if (chase_is_business_day(cal, &probe))
      return chase_local_time(cal, &probe, cal->start_min);
  return NULL;
}

gboolean chase_in_window(const ChaseCalendar *cal, GDateTime *now)
{
  GDate day;
  chase_local_date(cal, now, &day);
  if (!chase_is_business_day(cal, &day))
    return FALSE;
  g_autoptr(GDateTime) open = chase_local_time(cal, &day, cal->start_min);
  g_autoptr(GDateTime) close = chase_local_time(cal, &day, cal->end_min);
  return g_date_time_compare(now, open) >= 0 && g_date_time_compare(now, close) < 0;
}

GDateTime *chase_next_window(const ChaseCalendar *cal, GDateTime *from)
{
  if (chase_in_window(cal, from))
    return g_date_time_ref(from);
  GDate day;
  chase_local_date(cal, from, &day);
  g_autoptr(GDateTime) today = chase_day_morning(cal, &day);
  if (today && g_date_time_compare(today, from) > 0)
    return g_steal_pointer(&today);
  g_date_add_days(&day, 1);
  return chase_day_morning(cal, &day);
}

/* When step `offset` days after `due` may go: its business morning. */
static GDateTime *chase_step_time(const ChaseCalendar *cal, const GDate *due, guint offset)
{
  GDate day = *due;
  g_date_add_days(&day, offset);
  return chase_day_morning(cal, &day);
}

guint chase_due_step(const ChaseCalendar *cal, const guint *offsets, guint n_steps,
                     const ChaseState *state, GDateTime *now, GDateTime **next)
{
  guint step = 0;
  if (next)
    *next = NULL;
  for (guint i = state->last_step; i < n_steps; i++) {
    g_autoptr(GDateTime) at = chase_step_time(cal, &state->due, offsets[i]);
    if (at && state->not_before && g_date_time_compare(at, state->not_before) < 0) {
      g_date_time_unref(at);
      at = chase_next_window(cal, state->not_before);
    }
    if (at && g_date_time_compare(at, now) <= 0) {
      step = i + 1;
    } else {
      if (next && at)
        *next = g_date_time_ref(at);
      break;
    }
  }
  if (step && !chase_in_window(cal, now)) {
    if (next) {
      g_clear_pointer(next, g_date_time_unref);
      *next = chase_next_window(cal, now);
    }
    return 0;
  }
  return step;
}
