/* daemon/cli/cmd-config.c: `keel config check [--config FILE]`: loads the
 * configuration the way the daemon would, adds the file checks (password files
 * exist and are private, ca_file readable) and prints either "configuration
 * OK" with a one-line summary, or every problem as `file:line: message`.
 * Never reads or prints a secret. */
#include <stdio.h>
#include <string.h>
#include "daemon/base/commands.h"
#include "daemon/base/config.h"

/* `keel config check`. Returns EX_OK or EX_CONFIG (also for a missing file). */
static int cmd_config_check(const KeelGlobals *globals)
{
  g_autofree char *path = config_resolve_path(globals->config_path);
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load(path, &error);
  if (!config) {
    fprintf(stderr, "%s\n", error->message);
    return EX_CONFIG;
  }
  if (!config_check_files(config, &error)) {
    fprintf(stderr, "%s\n", error->message);
    return EX_CONFIG;
  }
  printf("configuration OK\n");
  printf("%s: %u account%s, %u client%s, mode %s, database %s\n", path,
         config->accounts->len, config->accounts->len == 1 ? "" : "s",
         config->clients->len, config->clients->len == 1 ? "" : "s",
         config->mode == KEEL_MODE_AUTO ? "auto" : "review", config->database);
  return EX_OK;
}

int cmd_config(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  if (!cli_parse_options(&argc, &argv, "check",
                         "Checks keel.conf and prints every problem as file:line: message.",
                         NULL, &globals))
    return EX_USAGE;
  int rc = EX_USAGE;
  if (argc == 2 && strcmp(argv[1], "check") == 0)
    rc = cmd_config_check(&globals);
  else
    fprintf(stderr, "keel config: usage: keel config check [--config FILE]\n");
  cli_globals_clear(&globals);
  return rc;
}
