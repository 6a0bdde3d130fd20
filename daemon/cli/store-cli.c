/* daemon/cli/store-cli.c: the config and database set-up shared by the offline
 * commands (import, threads, score, trail, digest...). See store-cli.h. Must not hold command logic. */
#include <stdio.h>
#include "daemon/cli/store-cli.h"

int store_cli_load_config(const KeelGlobals *globals, KeelConfig **config)
{
  return store_cli_load_config_with_rules(globals, NULL, config);
}

int store_cli_load_config_with_rules(const KeelGlobals *globals, const char *rules,
                                     KeelConfig **config)
{
  *config = NULL;
  gboolean asked = (globals->config_path && globals->config_path[0])
                   || (g_getenv("KEEL_CONFIG") && g_getenv("KEEL_CONFIG")[0]);
  g_autofree char *path = config_resolve_path(globals->config_path);
  if (!asked && !g_file_test(path, G_FILE_TEST_EXISTS))
    return EX_OK;
  g_autoptr(GError) error = NULL;
  *config = config_load_with_rules(path, rules, &error);
  if (!*config) {
    fprintf(stderr, "%s\n", error->message);
    return EX_CONFIG;
  }
  return EX_OK;
}

int store_cli_exit_code(const GError *error)
{
  if (g_error_matches(error, KEEL_STORE_ERROR, KEEL_STORE_ERROR_BUSY))
    return EX_TEMPFAIL;
  if (g_error_matches(error, KEEL_STORE_ERROR, KEEL_STORE_ERROR_OPEN))
    return EX_CANTCREAT;
  if (g_error_matches(error, KEEL_STORE_ERROR, KEEL_STORE_ERROR_SCHEMA))
    return EX_SOFTWARE;
  return EX_IOERR;
}

Store *store_cli_open(const char *database, const KeelConfig *config, int *exit_code)
{
  const char *path = database ? database : config ? config->database : NULL;
  if (!path) {
    fprintf(stderr, "keel: no database: give --database PATH or a config (--config FILE)\n");
    *exit_code = EX_USAGE;
    return NULL;
  }
  g_autoptr(GError) error = NULL;
  Store *store = store_open(path, &error);
  if (!store) {
    fprintf(stderr, "keel: %s\n", error->message);
    *exit_code = store_cli_exit_code(error);
  }
  return store;
}
