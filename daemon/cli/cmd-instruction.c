/* daemon/cli/cmd-instruction.c: `keel instruction done|cancel ID` closes an
 * instruction and records it in the trail (the ids are in `keel trail`).
 * Must not: delete anything; an instruction keeps its history.
 */
#include <stdio.h>
#include <stdlib.h>
#include "daemon/cli/store-cli.h"
#include "daemon/record/trail.h"

static int instruction_run(const KeelGlobals *globals, const char *database,
                           const char *status, gint64 id)
{
  g_autoptr(KeelConfig) config = NULL;
  int rc = store_cli_load_config(globals, &config);
  if (rc != EX_OK)
    return rc;
  g_autoptr(Store) store = store_cli_open(database, config, &rc);
  if (!store)
    return rc;
  g_autoptr(GDateTime) now = cli_now(globals);
  if (!now)
    return EX_USAGE;
  g_autoptr(GError) error = NULL;
  if (!trail_instruction_set_status(store, id, status, now, &error)) {
    fprintf(stderr, "keel instruction: %s\n", error->message);
    return g_error_matches(error, KEEL_TRAIL_ERROR, KEEL_TRAIL_ERROR_NOT_FOUND)
             ? EX_NOINPUT : store_cli_exit_code(error);
  }
  printf("instruction %" G_GINT64_FORMAT " marked %s\n", id, status);
  return EX_OK;
}

/* "done" -> "done", "cancel" -> "cancelled"; NULL for anything else. */
static const char *instruction_status(const char *verb)
{
  if (g_strcmp0(verb, "done") == 0)
    return "done";
  if (g_strcmp0(verb, "cancel") == 0)
    return "cancelled";
  return NULL;
}

int cmd_instruction(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  g_autofree char *database = NULL;
  const GOptionEntry entries[] = {
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database,
      "Database file (default: the config's database)", "PATH" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, "done|cancel ID",
                         "Marks an instruction done or cancelled (recorded in the trail).",
                         entries, &globals))
    return EX_USAGE;
  int rc = EX_USAGE;
  const char *status = argc == 3 ? instruction_status(argv[1]) : NULL;
  char *end = NULL;
  gint64 id = argc == 3 ? g_ascii_strtoll(argv[2], &end, 10) : 0;
  if (!status || !end || *end || id <= 0)
    fprintf(stderr, "keel instruction: usage: keel instruction done|cancel ID\n");
  else
    rc = instruction_run(&globals, database, status, id);
  cli_globals_clear(&globals);
  return rc;
}
