/* daemon/cli/cli.c: what every subcommand shares: the global options (--config,
 * --verbose, --now), given before or after the subcommand, GOptionContext
 * set-up, and the run-as time. No command logic lives here. */
#include <stdio.h>
#include <string.h>
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

/* 2 for a global option that takes a value in the next argument, 1 for one
 * that does not (or carries it after '='), 0 for anything else. */
static int cli_global_width(const char *arg)
{
  static const char *const valued[] = { "--config", "-c", "--now", NULL };
  static const char *const flags[] = { "--verbose", "-v", NULL };
  if (g_strv_contains(valued, arg))
    return 2;
  if (g_strv_contains(flags, arg) || g_str_has_prefix(arg, "--config=")
      || g_str_has_prefix(arg, "--now="))
    return 1;
  return 0;
}

char **cli_hoist_globals(int argc, char **argv)
{
  g_autoptr(GStrvBuilder) globals = g_strv_builder_new();
  int i = 1;
  for (int width; i < argc && (width = cli_global_width(argv[i])) > 0; i += width) {
    if (i + width > argc) {
      fprintf(stderr, "keel: %s needs a value (see keel --help)\n", argv[i]);
      return NULL;
    }
    for (int k = 0; k < width; k++)
      g_strv_builder_add(globals, argv[i + k]);
  }
  g_auto(GStrv) moved = g_strv_builder_end(globals);
  g_autoptr(GStrvBuilder) out = g_strv_builder_new();
  g_strv_builder_add(out, argv[0]);
  if (i < argc)
    g_strv_builder_add(out, argv[i++]);
  g_strv_builder_addv(out, (const char **)moved);
  for (; i < argc; i++)
    g_strv_builder_add(out, argv[i]);
  return g_strv_builder_end(out);
}
