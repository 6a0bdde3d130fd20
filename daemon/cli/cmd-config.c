/* daemon/cli/cmd-config.c: `keel config check [--config FILE]`: loads the
 * configuration the way the daemon would, adds the checks the daemon makes at
 * start (password files exist and are private, ca_file readable, the rules
 * directory exists and every rule file and template loads, the database folder
 * is writable, each OAuth2 account's client secret and refresh token (or the
 * state file keel keeps) are private regular files, and with --user the
 * secrets are readable by that user) and
 * prints either "configuration OK" with a one-line summary, or every problem.
 * Never reads or prints a secret. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <pwd.h>
#include <unistd.h>
#include <sys/stat.h>
#include "daemon/cli/rules-check.h"
#include "daemon/base/commands.h"
#include "daemon/base/config.h"

/* Whether user `pw` may open `path` with access `want` (4 read, 2 write),
 * by the owner/group/other bits, as the kernel would decide (root may). */
static gboolean cmd_config_user_may(const struct passwd *pw, const char *path, int want)
{
  struct stat st;
  if (stat(path, &st) != 0)
    return FALSE;
  if (pw->pw_uid == 0)
    return TRUE;
  if (st.st_uid == pw->pw_uid)
    return ((st.st_mode >> 6) & want) == (unsigned)want;
  if (st.st_gid == pw->pw_gid)
    return ((st.st_mode >> 3) & want) == (unsigned)want;
  return (st.st_mode & want) == (unsigned)want;
}

/* Whether user `pw` may reach `path`: search (x) on every folder above it. */
static gboolean cmd_config_user_may_reach(const struct passwd *pw, const char *path)
{
  g_autofree char *dir = g_path_get_dirname(path);
  while (strcmp(dir, "/") != 0 && strcmp(dir, ".") != 0) {
    if (!cmd_config_user_may(pw, dir, 1))
      return FALSE;
    char *parent = g_path_get_dirname(dir);
    g_free(dir);
    dir = parent;
  }
  return TRUE;
}

/* Where daemon/mail/oauth.c reads an OAuth2 secret: an absolute path, or a
 * bare name in $CREDENTIALS_DIRECTORY (LoadCredential=). NULL for a relative
 * name without that directory (the service runs in /: it would not be found). */
static char *cmd_config_oauth_path(const char *name)
{
  const char *credentials = g_getenv("CREDENTIALS_DIRECTORY");
  if (g_path_is_absolute(name))
    return g_strdup(name);
  return credentials && *credentials ? g_build_filename(credentials, name, NULL) : NULL;
}

/* What is wrong with OAuth2 secret `name` (key `key`) for user `pw`, as oauth.c
 * will read it: a regular file, not readable by group or others (oauth.c
 * refuses it otherwise), readable by `pw` through every folder above it.
 * NULL when fine; else a new string. Never opens the file. */
static char *cmd_config_oauth_problem(const KeelAccount *account, const char *key,
                                      const char *name, const struct passwd *pw)
{
  g_autofree char *path = cmd_config_oauth_path(name);
  struct stat st;
  if (!path)
    return g_strdup_printf("[account %s] %s '%s' names a systemd credential, but "
                           "$CREDENTIALS_DIRECTORY is not set: give an absolute path, or add "
                           "LoadCredential=%s:/path/to/file to the unit", account->name, key,
                           name, name);
  if (stat(path, &st) != 0)
    return g_strdup_printf("[account %s] %s %s: %s", account->name, key, path,
                           g_strerror(errno));
  if (!S_ISREG(st.st_mode))
    return g_strdup_printf("[account %s] %s %s is not a regular file", account->name, key, path);
  if (st.st_mode & 0077)
    return g_strdup_printf("[account %s] %s %s is readable by other users, so keel refuses it "
                           "(fix: chmod 600 %s)", account->name, key, path, path);
  if (!cmd_config_user_may_reach(pw, path) || !cmd_config_user_may(pw, path, 4))
    return g_strdup_printf("[account %s] %s %s cannot be read by user %s (fix: chown %s %s; "
                           "chmod 600 %s)", account->name, key, path, pw->pw_name, pw->pw_name,
                           path, path);
  return NULL;
}

/* An OAuth2 account's secrets: the client secret (when set), and a refresh
 * token: the state file keel keeps once it has one (from `keel oauth login`
 * or an earlier refresh), else oauth_refresh_token_file. */
static void cmd_config_check_oauth(const KeelConfig *config, const KeelAccount *account,
                                   const struct passwd *pw, GPtrArray *problems)
{
  char *problem = NULL;
  if (account->oauth_client_secret_file
      && (problem = cmd_config_oauth_problem(account, "oauth_client_secret_file",
                                             account->oauth_client_secret_file, pw)))
    g_ptr_array_add(problems, g_strdup_printf("%s: %s", config->path, problem));
  g_clear_pointer(&problem, g_free);
  const char *state = account->oauth_state_file;
  if (state && g_file_test(state, G_FILE_TEST_EXISTS))
    problem = cmd_config_oauth_problem(account, "OAuth2 state file", state, pw);
  else if (account->oauth_refresh_token_file)
    problem = cmd_config_oauth_problem(account, "oauth_refresh_token_file",
                                       account->oauth_refresh_token_file, pw);
  else
    problem = g_strdup_printf("[account %s] has no OAuth2 refresh token yet: set "
                              "oauth_refresh_token_file, or run keel oauth login %s",
                              account->name, account->name);
  if (problem)
    g_ptr_array_add(problems, g_strdup_printf("%s: %s", config->path, problem));
  g_free(problem);
}

/* Every account's secrets as `pw` would read them: password files by the
 * permission bits (config_check_files() has opened them as this user
 * already), OAuth2 secrets as daemon/mail/oauth.c reads them. */
static void cmd_config_check_secrets(const KeelConfig *config, const struct passwd *pw,
                                     GPtrArray *problems)
{
  for (guint i = 0; i < config->accounts->len; i++) {
    const KeelAccount *account = config->accounts->pdata[i];
    const char *secret = account->password_file;
    if (secret && g_path_is_absolute(secret)
        && (!cmd_config_user_may_reach(pw, secret) || !cmd_config_user_may(pw, secret, 4)))
      g_ptr_array_add(problems, g_strdup_printf("%s: [account %s] password_file %s cannot be "
                      "read by user %s (fix: chown %s %s; chmod 600 %s)", config->path,
                      account->name, secret, pw->pw_name, pw->pw_name, secret, secret));
    if (config_account_uses_oauth(account))
      cmd_config_check_oauth(config, account, pw, problems);
  }
}

/* The checks the daemon makes at start beyond the file's own syntax: the
 * rules load, the database folder is writable, and every password file and
 * OAuth2 secret (and the folders leading to it) is readable by `user` (NULL:
 * whoever runs this).
 * Appends one line per problem. */
static void cmd_config_check_runtime(const KeelConfig *config, const char *user,
                                     GPtrArray *problems)
{
  RulesCheckCounts counts;
  g_autoptr(GError) error = NULL;
  if (!rules_check_dir(config->rules, &counts, &error))
    g_ptr_array_add(problems, g_strdup_printf("%s: rules = %s:\n%s", config->path,
                                              config->rules, error->message));
  const struct passwd *pw = user ? getpwnam(user) : getpwuid(geteuid());
  if (!pw) {
    g_ptr_array_add(problems, g_strdup_printf("--user %s: no such user", user));
    return;
  }
  g_autofree char *db_dir = g_path_get_dirname(config->database);
  if (!g_file_test(db_dir, G_FILE_TEST_IS_DIR))
    g_ptr_array_add(problems, g_strdup_printf("%s: database %s: its folder %s does not exist "
                    "(the service's StateDirectory= makes /var/lib/keel)", config->path,
                    config->database, db_dir));
  else if (!cmd_config_user_may(pw, db_dir, 2 | 1))
    g_ptr_array_add(problems, g_strdup_printf("%s: database %s: user %s cannot write its folder "
                    "%s (fix: chown %s %s, or set database = to a folder it owns)",
                    config->path, config->database, pw->pw_name, db_dir, pw->pw_name, db_dir));
  cmd_config_check_secrets(config, pw, problems);
}

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
static int cmd_config_check(const KeelGlobals *globals, const char *user)
{
  g_autofree char *path = config_resolve_path(globals->config_path);
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load(path, &error);
  if (!config) {
    fprintf(stderr, "%s\n", error->message);
    return EX_CONFIG;
  }
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
  if (!config_check_files(config, &error))
    g_ptr_array_add(problems, g_strdup(error->message));
  cmd_config_check_runtime(config, user, problems);
  for (guint i = 0; i < problems->len; i++)
    fprintf(stderr, "%s\n", (const char *)problems->pdata[i]);
  if (problems->len > 0)
    return EX_CONFIG;
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
  g_autofree char *user = NULL;
  const GOptionEntry entries[] = {
    { "user", 'u', 0, G_OPTION_ARG_STRING, &user,
      "Check that USER (e.g. keel, as the service runs) can read the secrets and write "
      "the database folder (default: the user running this)", "USER" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, "check",
                         "Checks keel.conf as the daemon would at start (syntax, rules and "
                         "templates, secrets, database folder) and prints every problem.",
                         entries, &globals))
    return EX_USAGE;
  int rc = EX_USAGE;
  if (argc == 2 && strcmp(argv[1], "check") == 0)
    rc = cmd_config_check(&globals, user);
  else
    fprintf(stderr, "keel config: usage: keel config check [--config FILE]\n");
  cli_globals_clear(&globals);
  return rc;
}
