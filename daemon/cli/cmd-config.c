/* daemon/cli/cmd-config.c: `keel config check [--config FILE]`: loads the
 * configuration the way the daemon would, adds the file checks (password files
 * exist and are private, ca_file readable) and prints either "configuration
 * OK" with a one-line summary, or every problem as `file:line: message`.
 * Never reads or prints a secret. */
#include <stdio.h>
#include <string.h>
#include "daemon/base/commands.h"
#include "daemon/base/config.h"

/* How to make a note address keel can trust in INBOX, for every account whose
 * note_address has no secret token (notes from Sent still count). */
static void cmd_config_note_hints(const KeelConfig *config)
{
  for (guint i = 0; i < config->accounts->len; i++) {
    const KeelAccount *account = config->accounts->pdata[i];
    gsize len = 0;
    if (!account->note_address || config_note_token(account->note_address, &len))
      continue;
    g_autofree char *suggestion = config_note_address_suggest(account);
    printf("note: [account %s] note_address has no secret token, so notes that arrive in "
           "INBOX are ignored (notes in your Sent folder still count). To make one, set\n"
           "  note_address = %s\n"
           "(\"+keel-\" then at least %d random letters and digits; keep it private).\n",
           account->name, suggestion ? suggestion : "you+keel-<24 random letters>@your.domain",
           CONFIG_NOTE_TOKEN_MIN);
  }
}

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
  cmd_config_note_hints(config);
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
