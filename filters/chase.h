/* filters/chase.h: when a payment chase may go out. Pure schedule maths over
 * the client's calendar: business days and hours in the client's time zone,
 * holidays, the step offsets after the due date, promises and the VA's own
 * chasers. `now` is always a parameter; nothing here reads the clock.
 *
 * Entry points:
 *   chase_parse_date(), chase_parse_terms(), chase_parse_steps()
 *   chase_is_business_day()   a weekday of the business days, not a holiday
 *   chase_next_window()       the first instant at or after a time inside business hours
 *   chase_day_morning()       the business morning of a day, or of the next business day
 *   chase_add_business_days() a date plus N business days
 *   chase_due_step()          which step (if any) may be sent now
 */
#pragma once

#include <glib.h>

/* The schedule's default: +3, +10 and +21 days after the due date. */
#define CHASE_MAX_STEPS 8

/* The client's calendar; everything borrowed. */
typedef struct {
  GTimeZone *zone;              /* the client's zone (NULL = UTC) */
  guint8 days;                  /* business days: bit 0 = Monday ... bit 6 = Sunday */
  guint start_min, end_min;     /* business hours, minutes after local midnight */
  const char *const *holidays;  /* "YYYY-MM-DD" dates with no chasing; may be NULL */
} ChaseCalendar;

/* "2026-10-19" into `*date`. FALSE for anything else (or an impossible date). */
gboolean chase_parse_date(const char *text, GDate *date);
/* "YYYY-MM-DD" of `date`. New string. */
char *chase_format_date(const GDate *date);
/* Payment terms: "14d", "14", "30 days", "2w" -> days (1 to 365). */
gboolean chase_parse_terms(const char *text, guint *days);
/* Steps: "3;10;21" (also with commas or "+3d"), strictly increasing, at most
 * CHASE_MAX_STEPS, each 0 to 365 days. */
gboolean chase_parse_steps(const char *text, guint *offsets, guint *count);

/* The local calendar date of `time` in the calendar's zone. */
void chase_local_date(const ChaseCalendar *cal, GDateTime *time, GDate *date);
gboolean chase_is_business_day(const ChaseCalendar *cal, const GDate *day);
/* `day` plus `n` business days (n = 0: `day` itself). */
void chase_add_business_days(const ChaseCalendar *cal, const GDate *day, guint n, GDate *out);
/* Opening time of the business day `day`, or of the first business day after
 * it (weekends and holidays skipped). New GDateTime in the client's zone;
 * NULL when the calendar has no business day in the next year. */
GDateTime *chase_day_morning(const ChaseCalendar *cal, const GDate *day);
/* `from` itself when it is inside business hours of a business day, else the
 * next opening time. New GDateTime, NULL as above. */
GDateTime *chase_next_window(const ChaseCalendar *cal, GDateTime *from);
/* TRUE when `now` is inside business hours of a business day. */
gboolean chase_in_window(const ChaseCalendar *cal, GDateTime *now);

/* One invoice, as the schedule sees it; borrowed. */
typedef struct {
  GDate due;               /* the due date */
  guint last_step;         /* highest step already queued, 0 = none */
  GDateTime *not_before;   /* nothing before this (the VA's own chaser...); NULL = no limit */
} ChaseState;

/* The step (1..n_steps) that may be sent at `now`, or 0: the highest step
 * above `last_step` whose time (the business morning of due + offset) has
 * come, when `now` is inside business hours and not before `not_before`.
 * `*next` (may be NULL) receives when the next step above `last_step` may
 * go (new GDateTime, NULL when there is none). */
guint chase_due_step(const ChaseCalendar *cal, const guint *offsets, guint n_steps,
                     const ChaseState *state, GDateTime *now, GDateTime **next);
