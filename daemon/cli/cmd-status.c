/* daemon/cli/cmd-status.c: `keel status [--json]`: per account, the last
 * successful poll and the last error; per folder, UIDVALIDITY, last UID and
 * the messages stored from it. Reads the store only (no network). Accounts in
 * the config that never polled are listed too. --json prints exactly
 * {"accounts": [{"name", "last_poll", "last_error",
 *                "folders": [{"name", "uidvalidity", "last_uid", "messages"}]}]}
 * with times in ISO 8601 UTC and null for "never"/"no error".
 * Must not: change the store. */
#include <stdio.h>
#include "daemon/cli/store-cli.h"
#include <json-glib/json-glib.h>
#include "daemon/base/commands.h"
#include "daemon/base/config.h"
#include "daemon/store/store.h"

typedef struct {
  char *name;                 /* owned */
  const StoreAccountRow *row; /* borrowed, NULL = never polled */
  GPtrArray *folders;         /* owned container of borrowed StoreFolderRow* */
} StatusAccount;

static void status_account_free(StatusAccount *account)
{
  g_free(account->name);
  g_ptr_array_unref(account->folders);
  g_free(account);
}

static StatusAccount *status_account_find(GPtrArray *accounts, const char *name)
{
  for (guint i = 0; i < accounts->len; i++) {
    StatusAccount *account = g_ptr_array_index(accounts, i);
    if (g_strcmp0(account->name, name) == 0)
      return account;
  }
  StatusAccount *account = g_new0(StatusAccount, 1);
  account->name = g_strdup(name);
  account->folders = g_ptr_array_new();
  g_ptr_array_add(accounts, account);
  return account;
}

/* Config accounts first (in config order), then any other the store knows. */
static GPtrArray *status_collect(const KeelConfig *config, GPtrArray *rows, GPtrArray *folders)
{
  GPtrArray *accounts = g_ptr_array_new_with_free_func((GDestroyNotify)status_account_free);
  for (guint i = 0; i < config->accounts->len; i++) {
    const KeelAccount *account = g_ptr_array_index(config->accounts, i);
    if (account->imap)
      status_account_find(accounts, account->name);
  }
  for (guint i = 0; i < rows->len; i++) {
    const StoreAccountRow *row = g_ptr_array_index(rows, i);
    status_account_find(accounts, row->account)->row = row;
  }
  for (guint i = 0; i < folders->len; i++) {
    StoreFolderRow *folder = g_ptr_array_index(folders, i);
    g_ptr_array_add(status_account_find(accounts, folder->account)->folders, folder);
  }
  return accounts;
}

static char *status_time(GDateTime *when)
{
  return when ? g_date_time_format_iso8601(when) : NULL;
}

static void status_add_folder(JsonBuilder *builder, const StoreFolderRow *folder)
{
  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, "name");
  json_builder_add_string_value(builder, folder->folder);
  json_builder_set_member_name(builder, "uidvalidity");
  json_builder_add_int_value(builder, folder->uidvalidity);
  json_builder_set_member_name(builder, "last_uid");
  json_builder_add_int_value(builder, folder->last_uid);
  json_builder_set_member_name(builder, "messages");
  json_builder_add_int_value(builder, folder->messages);
  json_builder_end_object(builder);
}

static void status_add_account(JsonBuilder *builder, const StatusAccount *account)
{
  g_autofree char *last_poll = status_time(account->row ? account->row->last_poll : NULL);
  const char *last_error = account->row ? account->row->last_error : NULL;
  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, "name");
  json_builder_add_string_value(builder, account->name);
  json_builder_set_member_name(builder, "last_poll");
  last_poll ? json_builder_add_string_value(builder, last_poll) : json_builder_add_null_value(builder);
  json_builder_set_member_name(builder, "last_error");
  last_error ? json_builder_add_string_value(builder, last_error) : json_builder_add_null_value(builder);
  json_builder_set_member_name(builder, "folders");
  json_builder_begin_array(builder);
  for (guint i = 0; i < account->folders->len; i++)
    status_add_folder(builder, g_ptr_array_index(account->folders, i));
  json_builder_end_array(builder);
  json_builder_end_object(builder);
}

static void status_print_json(GPtrArray *accounts)
{
  g_autoptr(JsonBuilder) builder = json_builder_new();
  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, "accounts");
  json_builder_begin_array(builder);
  for (guint i = 0; i < accounts->len; i++)
    status_add_account(builder, g_ptr_array_index(accounts, i));
  json_builder_end_array(builder);
  json_builder_end_object(builder);
  g_autoptr(JsonGenerator) generator = json_generator_new();
  g_autoptr(JsonNode) root = json_builder_get_root(builder);
  json_generator_set_root(generator, root);
  json_generator_set_pretty(generator, TRUE);
  g_autofree char *text = json_generator_to_data(generator, NULL);
  printf("%s\n", text);
}

static void status_print_text(GPtrArray *accounts)
{
  for (guint i = 0; i < accounts->len; i++) {
    const StatusAccount *account = g_ptr_array_index(accounts, i);
    g_autofree char *last_poll = status_time(account->row ? account->row->last_poll : NULL);
    const char *last_error = account->row ? account->row->last_error : NULL;
    printf("account %s\n  last successful poll: %s\n  last error: %s\n", account->name,
           last_poll ? last_poll : "never", last_error ? last_error : "none");
    for (guint j = 0; j < account->folders->len; j++) {
      const StoreFolderRow *folder = g_ptr_array_index(account->folders, j);
      printf("  folder %-20s %6" G_GINT64_FORMAT " messages, last UID %u, UIDVALIDITY %u%s\n",
             folder->folder, folder->messages, folder->last_uid, folder->uidvalidity,
             folder->uidvalidity == 0 ? " (first sync not finished)" : "");
    }
  }
  if (accounts->len == 0)
    printf("no accounts configured\n");
}

static int status_run(const KeelGlobals *globals, gboolean json)
{
  g_autofree char *path = config_resolve_path(globals->config_path);
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load(path, &error);
  if (!config) {
    fprintf(stderr, "keel status: %s\n", error->message);
    return EX_CONFIG;
  }
  g_autoptr(Store) store = store_open(config->database, &error);
  g_autoptr(GPtrArray) rows = store ? store_list_accounts(store, &error) : NULL;
  g_autoptr(GPtrArray) folders = rows ? store_list_folders(store, &error) : NULL;
  if (!folders) {
    fprintf(stderr, "keel status: %s\n", error->message);
    return store_cli_exit_code(error); /* the same code as every command for the same cause */
  }
  g_autoptr(GPtrArray) accounts = status_collect(config, rows, folders);
  if (json)
    status_print_json(accounts);
  else
    status_print_text(accounts);
  return EX_OK;
}

int cmd_status(int argc, char **argv)
{
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { NULL }
  };
  KeelGlobals globals = { 0 };
  int rc = EX_USAGE;
  if (cli_parse_options(&argc, &argv, NULL, "Show per-account and per-folder sync state.",
                        entries, &globals))
    rc = status_run(&globals, json);
  cli_globals_clear(&globals);
  return rc;
}
