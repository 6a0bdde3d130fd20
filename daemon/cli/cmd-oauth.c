/* daemon/cli/cmd-oauth.c: `keel oauth login ACCOUNT` (issue 19): the first
 * OAuth2 refresh token of an account, by the device-code flow (Microsoft):
 * prints the URL and the code, waits for the sign-in, saves the tokens in the
 * state file next to the database (0600). Never prints a token. Google's
 * loopback/PKCE flow is not built: it says so. */
#include <stdio.h>
#include "daemon/base/commands.h"
#include "daemon/cli/store-cli.h"
#include "daemon/mail/oauth.h"

static void cmd_oauth_prompt(const char *url, const char *code, gpointer data)
{
  (void)data;
  printf("To sign in, open %s and enter the code %s\n", url, code);
  printf("Waiting for the sign-in...\n");
  fflush(stdout);
}

static int cmd_oauth_login(const KeelConfig *config, const char *name)
{
  const KeelAccount *account = config_account_by_name(config, name);
  if (!account || !config_account_uses_oauth(account)) {
    fprintf(stderr, "keel oauth login: no account '%s' with auth = xoauth2 or oauthbearer\n",
            name);
    return EX_CONFIG;
  }
  g_autoptr(GError) error = NULL;
  if (!oauth_device_login(account, cmd_oauth_prompt, NULL, &error)) {
    fprintf(stderr, "keel oauth login: %s\n", error->message);
    return EX_NOPERM;
  }
  printf("Signed in: account '%s' tokens saved in %s\n", account->name,
         account->oauth_state_file);
  return EX_OK;
}

int cmd_oauth(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  const GOptionEntry entries[] = { { NULL } };
  if (!cli_parse_options(&argc, &argv, "login ACCOUNT",
                         "Gets an account's first OAuth2 refresh token (device-code flow).",
                         entries, &globals))
    return EX_USAGE;
  g_autoptr(KeelConfig) config = NULL;
  gboolean usage = argc != 3 || g_strcmp0(argv[1], "login") != 0;
  int rc = usage ? EX_USAGE : store_cli_load_config(&globals, &config);
  cli_globals_clear(&globals);
  if (usage)
    fprintf(stderr, "keel oauth: usage: keel oauth login ACCOUNT\n");
  if (rc != EX_OK)
    return rc;
  return cmd_oauth_login(config, argv[2]);
}
