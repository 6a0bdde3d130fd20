/* daemon/base/log.h: keel's log sink. Every line goes to stderr with a syslog
 * priority prefix (<3> error ... <7> debug) so journald files it right.
 * Use the GLib macros (g_warning, g_message, g_info, g_debug) with the
 * folder's G_LOG_DOMAIN; never log a message body or a secret. */
#pragma once

#include <glib.h>

/* Installs the writer. `verbose` lets debug lines (protocol detail) through. */
void log_setup(gboolean verbose);
gboolean log_is_verbose(void);
