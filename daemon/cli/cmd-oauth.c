/* daemon/cli/cmd-oauth.c: `keel oauth login ACCOUNT` (issue 19): the first
 * OAuth2 refresh token of an account. With oauth_auth_url (Google's preset
 * sets it) by the loopback redirect with PKCE: prints the address to open in
 * a browser and waits for the browser to come back to 127.0.0.1; otherwise by
 * the device-code flow (Microsoft): prints the URL and the code. Either way
 * the tokens go to the state file next to the database and the refresh token
 * to oauth_refresh_token_file (0600). Never prints a token. Exit codes:
 * 0 signed in, 64 usage, 78 config, 77 refused (browser or token endpoint),
 * 76 wrong state, 75 timed out, 69 token endpoint unreachable, 73 cannot
 * save, 71 cannot listen. */
#include <stdio.h>
#include "daemon/base/commands.h"
#include "daemon/cli/store-cli.h"
#include "daemon/mail/mail-error.h"
#include "daemon/mail/oauth.h"

#define CMD_OAUTH_TIMEOUT_S 300

typedef struct {
  int port;    /* --port: 0 = a free one */
  int timeout; /* --timeout seconds for the browser */
} CmdOauthOptions;

static void cmd_oauth_device_prompt(const char *url, const char *code, gpointer data)
{
  (void)data;
  printf("To sign in, open %s and enter the code %s\n", url, code);
  printf("Waiting for the sign-in...\n");
  fflush(stdout);
}

static void cmd_oauth_browser_prompt(const char *url, gpointer data)
{
  const CmdOauthOptions *options = data;
  printf("To sign in, open this address in a browser on this computer:\n\n%s\n\n", url);
  printf("Waiting up to %d seconds for the browser to come back to keel...\n",
         options->timeout);
  fflush(stdout);
}

/* The sysexits code of a failed login. */
static int cmd_oauth_exit_code(const GError *error)
{
  if (error->domain == KEEL_MAIL_ERROR)
    return error->code == KEEL_MAIL_ERROR_NETWORK ? EX_UNAVAILABLE
           : error->code == KEEL_MAIL_ERROR_CONFIG ? EX_CONFIG : EX_NOPERM;
  if (error->domain != OAUTH_LOGIN_ERROR)
    return EX_SOFTWARE;
  switch ((OauthLoginError)error->code) {
  case OAUTH_LOGIN_ERROR_STATE: return EX_PROTOCOL;
  case OAUTH_LOGIN_ERROR_TIMEOUT: return EX_TEMPFAIL;
  case OAUTH_LOGIN_ERROR_LISTEN: return EX_OSERR;
  case OAUTH_LOGIN_ERROR_SAVE: return EX_CANTCREAT;
  case OAUTH_LOGIN_ERROR_DENIED:
  case OAUTH_LOGIN_ERROR_REFUSED:
  default: return EX_NOPERM;
  }
}

static int cmd_oauth_login(const KeelConfig *config, const char *name,
                           const CmdOauthOptions *options)
{
  const KeelAccount *account = config_account_by_name(config, name);
  if (!account || !config_account_uses_oauth(account)) {
    fprintf(stderr, "keel oauth login: no account '%s' with auth = xoauth2 or oauthbearer\n",
            name);
    return EX_CONFIG;
  }
  g_autoptr(GError) error = NULL;
  gboolean ok = account->oauth_auth_url
    ? oauth_browser_login(account, (guint16)options->port, (guint)options->timeout,
                          cmd_oauth_browser_prompt, (gpointer)options, &error)
    : oauth_device_login(account, cmd_oauth_device_prompt, NULL, &error);
  if (!ok) {
    fprintf(stderr, "keel oauth login: %s\n", error->message);
    return cmd_oauth_exit_code(error);
  }
  g_autofree char *file = oauth_login_token_file(account);
  printf("Signed in: account '%s' tokens saved in %s%s%s\n", account->name,
         account->oauth_state_file, file ? ", refresh token in " : "", file ? file : "");
  return EX_OK;
}

int cmd_oauth(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  CmdOauthOptions options = { 0, CMD_OAUTH_TIMEOUT_S };
  const GOptionEntry entries[] = {
    { "port", 0, 0, G_OPTION_ARG_INT, &options.port,
      "Browser sign-in: listen on 127.0.0.1:PORT (default: a free port; fix it to forward "
      "it with ssh -L)", "PORT" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &options.timeout,
      "Browser sign-in: give up after SECONDS (default 300)", "SECONDS" },
    { NULL } };
  if (!cli_parse_options(&argc, &argv, "login ACCOUNT",
                         "Gets an account's first OAuth2 refresh token: a browser sign-in "
                         "through 127.0.0.1 when the account has oauth_auth_url (Google), "
                         "else the device-code flow (Microsoft).", entries, &globals))
    return EX_USAGE;
  g_autoptr(KeelConfig) config = NULL;
  gboolean usage = argc != 3 || g_strcmp0(argv[1], "login") != 0 || options.port < 0
                   || options.port > 65535 || options.timeout < 1;
  int rc = usage ? EX_USAGE : store_cli_load_config(&globals, &config);
  cli_globals_clear(&globals);
  if (usage)
    fprintf(stderr, "keel oauth: usage: keel oauth login ACCOUNT [--port PORT] "
            "[--timeout SECONDS]\n");
  if (rc != EX_OK)
    return rc;
  return cmd_oauth_login(config, argv[2], &options);
}
