/* daemon/cli/cli.c: what every subcommand shares: the global options (--config,
 * --verbose, --now), given before or after the subcommand, GOptionContext
 * set-up, and the run-as time. No command logic lives here. */
#include <stdio.h>
#include <string.h>
#include "daemon/base/commands.h"
#include "daemon/base/config.h"
#include "daemon/base/log.h"

gboolean cli_parse_options(int *argc, char ***argv, const char *parameter,
                           const char *summary, const GOptionEntry *entries,
                           KeelGlobals *globals)
{
  const GOptionEntry global_entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &globals->config_path,
      "Configuration file (default: $KEEL_CONFIG, then " KEEL_SYSCONFDIR "/keel.conf)", "FILE" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &globals->verbose,
      "Log debug and protocol detail (passwords masked)", NULL },
    { "now", 0, 0, G_OPTION_ARG_STRING, &globals->now,
      "Run as of this time (2026-03-06, 2026-03-06T09:00, 2026-03-06T09:00:00Z; "
      "without a zone: [keel] timezone)", "TIME" },
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

/* ISO 8601 as people type it, completed for GLib's parser: a date alone is
 * its midnight, "T08:00" gains ":00" seconds, a space may stand for 'T'. */
static char *cli_complete_iso8601(const char *text)
{
  gsize len = strlen(text);
  if (len == 10)
    return g_strconcat(text, "T00:00:00", NULL);
  g_autofree char *copy = g_strdup(text);
  if (len >= 16 && copy[10] == ' ')
    copy[10] = 'T';
  if (len >= 16 && copy[13] == ':' && copy[16] != ':')
    return g_strdup_printf("%.16s:00%s", copy, copy + 16);
  return g_steal_pointer(&copy);
}

GDateTime *cli_parse_time(const char *text, GTimeZone *zone)
{
  g_autofree char *complete = cli_complete_iso8601(text);
  return g_date_time_new_from_iso8601(complete, zone);
}

GTimeZone *cli_zone(const KeelGlobals *globals)
{
  g_autofree char *path = config_resolve_path(globals->config_path);
  g_autoptr(KeelConfig) config = g_file_test(path, G_FILE_TEST_EXISTS)
    ? config_load(path, NULL) : NULL;
  GTimeZone *zone = config ? g_time_zone_new_identifier(config->timezone) : NULL;
  return zone ? zone : g_time_zone_new_utc();
}

GDateTime *cli_now(const KeelGlobals *globals)
{
  if (!globals->now)
    return g_date_time_new_now_utc();
  g_autoptr(GTimeZone) zone = cli_zone(globals);
  GDateTime *now = cli_parse_time(globals->now, zone);
  if (!now)
    fprintf(stderr, "keel: --now '%s' is not a time (e.g. 2026-03-06T09:00, "
            "2026-03-06T09:00:00Z, 2026-03-06)\n", globals->now);
  return now;
}
