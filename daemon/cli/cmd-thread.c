/* daemon/cli/cmd-thread.c: `keel thread list [--risky] [--json]` (the same
 * listing as `keel threads`, with thread IDs) and `keel thread handled ID
 * [--until DATE]`: the VA has dealt with a risky thread, so the digest leaves
 * it out until new client mail arrives in it (or until DATE at the latest);
 * a `cmd_thread_handled` trail event records it.
 * Must not: change anything but the thread's handled mark and the trail.
 */
#include <stdio.h>
#include <string.h>
#include "daemon/cli/store-cli.h"
#include "daemon/record/trail.h"
#include "daemon/record/word.h"

static int cmd_thread_handled(const KeelGlobals *globals, const char *database, const char *arg,
                              const char *until_text)
{
  char *end = NULL;
  gint64 id = g_ascii_strtoll(arg, &end, 10);
  if (!end || *end || id <= 0) {
    fprintf(stderr, "keel thread: '%s' is not a thread ID (see keel thread list)\n", arg);
    return EX_USAGE;
  }
  g_autoptr(GTimeZone) zone = cli_zone(globals);
  g_autoptr(GDateTime) until = until_text ? cli_parse_time(until_text, zone) : NULL;
  g_autoptr(GDateTime) now = cli_now(globals);
  if ((until_text && !until) || !now) {
    fprintf(stderr, "keel thread: --until '%s' is not a time (2026-03-13 or "
                    "2026-03-13T09:00)\n", until_text ? until_text : "");
    return EX_USAGE;
  }
  g_autoptr(KeelConfig) config = NULL;
  int rc = store_cli_load_config(globals, &config);
  g_autoptr(Store) store = rc == EX_OK ? store_cli_open(database, config, &rc) : NULL;
  if (!store)
    return rc;
  g_autoptr(GError) error = NULL;
  if (!word_thread_handled(store, id, now, until, &error)) {
    fprintf(stderr, "keel thread: %s\n", error->message);
    return g_error_matches(error, KEEL_TRAIL_ERROR, KEEL_TRAIL_ERROR_NOT_FOUND)
             ? EX_NOINPUT : store_cli_exit_code(error);
  }
  g_autofree char *shown = until ? word_format_when(until, now) : NULL;
  printf("thread %" G_GINT64_FORMAT " handled: out of the digest until %s\n", id,
         shown ? shown : "new client mail arrives");
  return EX_OK;
}

/* `keel thread list ...` is `keel threads ...`. */
static int cmd_thread_list(int argc, char **argv)
{
  g_autofree char **args = g_new0(char *, (gsize)argc + 1);
  args[0] = (char *)"thread list";
  for (int i = 2; i < argc; i++)
    args[i - 1] = argv[i];
  return cmd_threads(argc - 1, args);
}

int cmd_thread(int argc, char **argv)
{
  if (argc >= 2 && strcmp(argv[1], "list") == 0)
    return cmd_thread_list(argc, argv);
  KeelGlobals globals = { 0 };
  g_autofree char *database = NULL;
  g_autofree char *until = NULL;
  const GOptionEntry entries[] = {
    { "until", 0, 0, G_OPTION_ARG_STRING, &until,
      "handled: back in the digest at DATE at the latest (default: new client mail)", "DATE" },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database,
      "Database file (default: the config's database)", "PATH" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, "list [--risky] [--json] | handled ID [--until DATE]",
                         "Lists threads with their IDs, or takes a thread you have dealt with "
                         "out of the digest until new client mail arrives in it.", entries,
                         &globals))
    return EX_USAGE;
  int rc = EX_USAGE;
  if (argc != 3 || strcmp(argv[1], "handled") != 0)
    fprintf(stderr, "keel thread: usage: keel thread list [--risky] [--json] | "
                    "keel thread handled ID [--until DATE]\n");
  else
    rc = cmd_thread_handled(&globals, database, argv[2], until);
  cli_globals_clear(&globals);
  return rc;
}
