/* filters/schedule.h: a daily wall-clock schedule, `HH:MM` in a time zone
 * (the digest's `[digest] at`): when it next runs, when it last ran, and
 * whether a run is due given when the last one went. Pure: `now` and the
 * zone are parameters; no clock, no store.
 *
 * Entry points:
 *   schedule_parse_at()       "08:00" -> 8, 0
 *   schedule_next_run()       the next run time strictly after now
 *   schedule_previous_run()   the last run time at or before now
 *   schedule_due()            a run time has passed since the last run
 *   schedule_next_due()       the pending run when one is due, else the next
 */
#pragma once

#include <glib.h>

/* TRUE when `at` is exactly "HH:MM" (00:00 to 23:59); sets `*hour`, `*minute`. */
gboolean schedule_parse_at(const char *at, int *hour, int *minute);

/* The next time, strictly after `now`, that the local clock in `tz` reads `at`
 * ("HH:MM"). NULL when `at` does not parse. New reference. */
GDateTime *schedule_next_run(GDateTime *now, const char *at, GTimeZone *tz);

/* The last time, at or before `now`, that the local clock in `tz` read `at`.
 * NULL when `at` does not parse. New reference. */
GDateTime *schedule_previous_run(GDateTime *now, const char *at, GTimeZone *tz);

/* TRUE when a run time has passed since `last_run` (NULL = never run: due
 * once today's run time has passed, on the same local day). */
gboolean schedule_due(GDateTime *last_run, GDateTime *now, const char *at, GTimeZone *tz);

/* When the next run goes, by the same rule as schedule_due(): the run time
 * that is pending (at or before `now`) when one is due, else the next run
 * time after `now`; in `tz`. NULL when `at` does not parse. New reference. */
GDateTime *schedule_next_due(GDateTime *last_run, GDateTime *now, const char *at, GTimeZone *tz);
