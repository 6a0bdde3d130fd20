/* daemon/base/crash.c: KEEL_TEST_CRASH_AT (see crash.h). The variable is read
 * once; a point that matches raises SIGKILL, so nothing (no atexit, no
 * SQLite rollback, no QUIT) runs after it: the state on disk and on the
 * servers is exactly what a power cut at that instant leaves.
 * Must not: be reached in production with any effect (unset = no-op). */
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include "daemon/base/crash.h"

void keel_crash_point(const char *point)
{
  static gsize once = 0;
  static char *wanted = NULL;
  static guint countdown = 1;
  static gint reached = 0;
  if (g_once_init_enter(&once)) {
    const char *value = g_getenv("KEEL_TEST_CRASH_AT");
    if (value && *value) {
      g_auto(GStrv) parts = g_strsplit(value, ":", 2);
      wanted = g_strdup(parts[0]);
      countdown = parts[1] ? (guint)MAX(g_ascii_strtoull(parts[1], NULL, 10), 1) : 1;
    }
    g_once_init_leave(&once, 1);
  }
  if (!wanted || strcmp(wanted, point) != 0)
    return;
  if ((guint)g_atomic_int_add(&reached, 1) + 1 < countdown)
    return;
  kill(getpid(), SIGKILL);
  _exit(137);
}
