/* daemon/base/log.c: the log writer. One line per event on stderr, prefixed with
 * its syslog priority (<3> error, <4> warning, <5> notice, <6> info,
 * <7> debug) and the log domain, so journald files each line at the right
 * level. Debug lines only with --verbose. Never formats message bodies or
 * secrets: callers must not pass them. */
#include <stdio.h>
#include "daemon/base/log.h"

static gboolean verbose_enabled;

static int syslog_priority(GLogLevelFlags level)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    return 3;
  if (level & G_LOG_LEVEL_WARNING)
    return 4;
  if (level & G_LOG_LEVEL_MESSAGE)
    return 5;
  if (level & G_LOG_LEVEL_INFO)
    return 6;
  return 7;
}

static GLogWriterOutput write_line(GLogLevelFlags level, const GLogField *fields,
                                   gsize n_fields, gpointer user_data)
{
  (void)user_data;
  if ((level & G_LOG_LEVEL_DEBUG) && !verbose_enabled)
    return G_LOG_WRITER_HANDLED;
  const char *domain = "keel", *text = "";
  for (gsize i = 0; i < n_fields; i++) {
    if (g_strcmp0(fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].value)
      domain = fields[i].value;
    else if (g_strcmp0(fields[i].key, "MESSAGE") == 0 && fields[i].value)
      text = fields[i].value;
  }
  fprintf(stderr, "<%d>%s: %s\n", syslog_priority(level), domain, text);
  fflush(stderr);
  return G_LOG_WRITER_HANDLED;
}

void log_setup(gboolean verbose)
{
  static gboolean installed;
  verbose_enabled = verbose;
  if (!installed) {
    g_log_set_writer_func(write_line, NULL, NULL);
    installed = TRUE;
  }
}

gboolean log_is_verbose(void)
{
  return verbose_enabled;
}
