/* daemon/base/log.c: the log writer. Under systemd, when stderr is journald's
 * stream, each event goes to journald as structured fields (GLib's journald
 * writer: PRIORITY, GLIB_DOMAIN, MESSAGE). Otherwise one line per event on
 * stderr: plain "domain: text" on a terminal, and prefixed with its syslog
 * priority (<3> error … <7> debug) when stderr is a pipe or file, so a
 * supervisor still files it at the right level. Debug lines only with
 * --verbose. Never formats message bodies or secrets: callers must not pass
 * them. */
#include <stdio.h>
#include "daemon/base/log.h"

static gboolean verbose_enabled;

typedef enum { LOG_TO_PIPE, LOG_TO_TERMINAL, LOG_TO_JOURNAL } LogTarget;
static LogTarget log_target = LOG_TO_PIPE;

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
  if (log_target == LOG_TO_JOURNAL
      && g_log_writer_journald(level, fields, n_fields, NULL) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;
  if (log_target == LOG_TO_TERMINAL)
    fprintf(stderr, "%s: %s\n", domain, text);
  else
    fprintf(stderr, "<%d>%s: %s\n", syslog_priority(level), domain, text);
  fflush(stderr);
  return G_LOG_WRITER_HANDLED;
}

void log_setup(gboolean verbose)
{
  static gboolean installed;
  verbose_enabled = verbose;
  if (!installed) {
    int fd = fileno(stderr);
    log_target = g_log_writer_is_journald(fd) ? LOG_TO_JOURNAL
               : g_log_writer_supports_color(fd) ? LOG_TO_TERMINAL : LOG_TO_PIPE;
    g_log_set_writer_func(write_line, NULL, NULL);
    installed = TRUE;
  }
}

gboolean log_is_verbose(void)
{
  return verbose_enabled;
}
