/* daemon/cli/cmd-backup.c: `keel backup PATH`: a consistent copy of keel's
 * database, safe while the daemon runs, created 0600 (see
 * store/store-backup.c). Prints where it went and how big it is. Never
 * overwrites anything but PATH itself. */
#include <stdio.h>
#include <sys/stat.h>
#include "daemon/base/commands.h"
#include "daemon/cli/store-cli.h"

int cmd_backup(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  g_autofree char *database = NULL;
  const GOptionEntry entries[] = {
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database,
      "Database to copy (default: the config's)", "FILE" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, "PATH",
                         "Copies keel's database to PATH (0600), safely while the daemon runs.",
                         entries, &globals))
    return EX_USAGE;
  g_autoptr(KeelConfig) config = NULL;
  int rc = argc == 2 ? store_cli_load_config(&globals, &config) : EX_USAGE;
  cli_globals_clear(&globals);
  if (argc != 2)
    fprintf(stderr, "keel backup: usage: keel backup PATH [--database FILE]\n");
  if (rc != EX_OK)
    return rc;
  g_autoptr(Store) store = store_cli_open(database, config, &rc);
  if (!store)
    return rc;
  g_autoptr(GError) error = NULL;
  if (!store_backup(store, argv[1], &error)) {
    fprintf(stderr, "keel backup: %s\n", error->message);
    return EX_CANTCREAT;
  }
  struct stat st;
  if (stat(argv[1], &st) == 0)
    printf("backup written: %s (%lld bytes, mode 0600)\n", argv[1], (long long)st.st_size);
  return EX_OK;
}
