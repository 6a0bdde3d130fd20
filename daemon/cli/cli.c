/* daemon/cli/cli.c: what every subcommand shares: the global options (--config,
 * --verbose, --now), GOptionContext set-up, and the run-as time. No command
 * logic lives here. */
#include <stdio.h>
#include "daemon/base/commands.h"
#include "daemon/base/log.h"

gboolean cli_parse_options(int *argc, char ***argv, const char *parameter,
                           const char *summary, const GOptionEntry *entries,
                           KeelGlobals *globals)
{
  const GOptionEntry global_entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &globals->config_path,
      "Configuration file (default: $KEEL_CONFIG, then /etc/keel/keel.conf)", "FILE" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &globals->verbose,
      "Log debug and protocol detail (passwords masked)", NULL },
    { "now", 0, 0, G_OPTION_ARG_STRING, &globals->now,
      "Run as of this time (ISO 8601, e.g. 2026-03-06T09:00:00Z)", "TIME" },
    { NULL }
  };
  g_autofree char *prgname = g_strdup_printf("keel %s", (*argv)[0]);
  g_set_prgname(prgname);
  g_autoptr(GOptionContext) context = g_option_context_new(parameter);
  g_option_context_set_summary(context, summary);
  if (entries)
    g_option_context_add_main_entries(context, entries, NULL);
  g_option_context_add_main_entries(context, global_entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(context, argc, argv, &error)) {
    fprintf(stderr, "keel %s: %s (see --help)\n", (*argv)[0], error->message);
    return FALSE;
  }
  log_setup(globals->verbose);
  return TRUE;
}

void cli_globals_clear(KeelGlobals *globals)
{
  g_clear_pointer(&globals->config_path, g_free);
  g_clear_pointer(&globals->now, g_free);
}

GDateTime *cli_now(const KeelGlobals *globals)
{
  if (!globals->now)
    return g_date_time_new_now_utc();
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
  GDateTime *now = g_date_time_new_from_iso8601(globals->now, utc);
  if (!now)
    fprintf(stderr, "keel: --now '%s' is not an ISO 8601 time (e.g. 2026-03-06T09:00:00Z)\n",
            globals->now);
  return now;
}
