/* daemon/cli/cmd-status.c: `keel status [--json]`: what keel is doing, read
 * from the config, the store and the rules directory (no network):
 *   - per account, the last successful poll, the last error and the
 *     configured folders the server says are missing; per folder,
 *     UIDVALIDITY, last UID and the messages stored from it. Accounts in the
 *     config that never polled are listed too;
 *   - the outbox: how many rows are in each state (every state, 0 included);
 *   - the digest: `[digest] at`, the last one queued and when the next goes
 *     (daemon/digest's own schedule, digest_schedule());
 *   - the rules in force: the directory and whether it loads, checked the
 *     way `keel rules check` does (the daemon loads the same at start or
 *     SIGHUP; a daemon that refused a broken reload keeps the previous set).
 * --json prints exactly
 *   {"accounts": [{"name", "last_poll", "last_error", "missing_folders": [name],
 *                  "folders": [{"name", "uidvalidity", "last_uid", "messages"}]}],
 *    "outbox": {"queued": n, "claimed": n, ... one member per outbox state},
 *    "digest": {"at", "timezone", "last_sent", "next", "due"},
 *    "rules": {"dir", "loads", "files", "rules", "templates", "error"}}
 * with last_poll and last_sent in ISO 8601 UTC, next in ISO 8601 with the
 * offset of the VA's zone, and null for "never", "no error" or "not set".
 * When the rules do not load, "loads" is false, the counts are null and
 * "error" holds every `file:line:col: message`.
 * "next" is the run time still pending when a digest is due ("due": true: it
 * goes at the daemon's next pass, unless it would be empty and send_empty is
 * off), else the next run time.
 * Must not: change the store or the rules. */
#include <stdio.h>
#include "daemon/cli/store-cli.h"
#include <json-glib/json-glib.h>
#include "daemon/base/commands.h"
#include "daemon/base/config.h"
#include "daemon/cli/rules-check.h"
#include "daemon/digest/digest.h"
#include "daemon/outbox/outbox.h"
#include "daemon/store/store.h"
#include "filters/json-out.h"

typedef struct {
  char *name;                 /* owned */
  const KeelAccount *config;  /* borrowed, NULL = known only to the store */
  const StoreAccountRow *row; /* borrowed, NULL = never polled */
  GPtrArray *folders;         /* owned container of borrowed StoreFolderRow* */
  GPtrArray *missing;         /* owned container of borrowed folder names */
} CmdStatusAccount;

/* Everything `keel status` shows, gathered before anything is printed. */
typedef struct {
  GPtrArray *accounts;                  /* owned, of CmdStatusAccount* */
  gint64 outbox[OUTBOX_STATE_LAST + 1]; /* rows per OutboxState */
  const char *digest_at;                /* borrowed from the config, NULL = no digest */
  const char *timezone;                 /* borrowed from the config */
  GDateTime *digest_last;               /* owned, NULL = none queued yet */
  GDateTime *digest_next;               /* owned, in the VA's zone, NULL = not scheduled */
  gboolean digest_due;                  /* digest_next has passed: it goes at the next pass */
  const char *rules_dir;                /* borrowed from the config */
  RulesCheckCounts rules;
  char *rules_error;                    /* owned, NULL = the rules load */
} CmdStatusReport;

static void cmd_status_account_free(CmdStatusAccount *account)
{
  g_free(account->name);
  g_ptr_array_unref(account->folders);
  g_ptr_array_unref(account->missing);
  g_free(account);
}

static void cmd_status_report_clear(CmdStatusReport *report)
{
  g_clear_pointer(&report->accounts, g_ptr_array_unref);
  g_clear_pointer(&report->digest_last, g_date_time_unref);
  g_clear_pointer(&report->digest_next, g_date_time_unref);
  g_clear_pointer(&report->rules_error, g_free);
}

static CmdStatusAccount *cmd_status_account_find(GPtrArray *accounts, const char *name)
{
  for (guint i = 0; i < accounts->len; i++) {
    CmdStatusAccount *account = g_ptr_array_index(accounts, i);
    if (g_strcmp0(account->name, name) == 0)
      return account;
  }
  CmdStatusAccount *account = g_new0(CmdStatusAccount, 1);
  account->name = g_strdup(name);
  account->folders = g_ptr_array_new();
  account->missing = g_ptr_array_new();
  g_ptr_array_add(accounts, account);
  return account;
}

/* Whether `folder` is still polled for `account`: a watched folder, or its
 * Sent folder (any folder when Sent is found on the server, as keel does
 * not record which it found). A folder dropped from the config is not
 * "missing" any more, even if the store still marks it. */
static gboolean cmd_status_folder_polled(const KeelAccount *account, const char *folder)
{
  if (!account)
    return TRUE;
  if (account->folders && g_strv_contains((const char *const *)account->folders, folder))
    return TRUE;
  return !account->sent_folder || g_strcmp0(account->sent_folder, folder) == 0;
}

static void cmd_status_add_folder_row(GPtrArray *accounts, StoreFolderRow *folder)
{
  CmdStatusAccount *account = cmd_status_account_find(accounts, folder->account);
  g_ptr_array_add(account->folders, folder);
  if (folder->missing_since && cmd_status_folder_polled(account->config, folder->folder))
    g_ptr_array_add(account->missing, folder->folder);
}

/* Config accounts first (in config order), then any other the store knows. */
static GPtrArray *cmd_status_collect(const KeelConfig *config, GPtrArray *rows, GPtrArray *folders)
{
  GPtrArray *accounts = g_ptr_array_new_with_free_func((GDestroyNotify)cmd_status_account_free);
  for (guint i = 0; i < config->accounts->len; i++) {
    const KeelAccount *account = g_ptr_array_index(config->accounts, i);
    if (account->imap)
      cmd_status_account_find(accounts, account->name)->config = account;
  }
  for (guint i = 0; i < rows->len; i++) {
    const StoreAccountRow *row = g_ptr_array_index(rows, i);
    cmd_status_account_find(accounts, row->account)->row = row;
  }
  for (guint i = 0; i < folders->len; i++)
    cmd_status_add_folder_row(accounts, g_ptr_array_index(folders, i));
  return accounts;
}

/* The outbox counts and the digest schedule. FALSE with `error` on a store failure. */
static gboolean cmd_status_read_store(Store *store, const KeelConfig *config, GDateTime *now,
                                      CmdStatusReport *report, GError **error)
{
  for (int state = 0; state <= OUTBOX_STATE_LAST; state++) {
    report->outbox[state] = store_outbox_count_state(store, outbox_state_name(state), error);
    if (report->outbox[state] < 0)
      return FALSE;
  }
  report->digest_at = config->digest_at;
  report->timezone = config->timezone;
  if (!digest_schedule(store, config, now, &report->digest_next, &report->digest_last, error))
    return FALSE;
  report->digest_due = report->digest_next && g_date_time_compare(report->digest_next, now) <= 0;
  return TRUE;
}

static void cmd_status_read_rules(const KeelConfig *config, CmdStatusReport *report)
{
  g_autoptr(GError) error = NULL;
  report->rules_dir = config->rules;
  if (!rules_check_dir(config->rules, &report->rules, &error))
    report->rules_error = g_strdup(error->message);
}

static char *cmd_status_time(GDateTime *when)
{
  return when ? g_date_time_format_iso8601(when) : NULL;
}

/* ISO 8601 with the zone's offset, "+00:00" rather than "Z". */
static char *cmd_status_local_time(GDateTime *when)
{
  return when ? g_date_time_format(when, "%Y-%m-%dT%H:%M:%S%:z") : NULL;
}



static void cmd_status_add_folder(JsonBuilder *builder, const StoreFolderRow *folder)
{
  json_builder_begin_object(builder);
  json_out_string(builder, "name", folder->folder);
  json_out_int(builder, "uidvalidity", folder->uidvalidity);
  json_out_int(builder, "last_uid", folder->last_uid);
  json_out_int(builder, "messages", folder->messages);
  json_builder_end_object(builder);
}

static void cmd_status_add_account(JsonBuilder *builder, const CmdStatusAccount *account)
{
  g_autofree char *last_poll = cmd_status_time(account->row ? account->row->last_poll : NULL);
  json_builder_begin_object(builder);
  json_out_string(builder, "name", account->name);
  json_out_string(builder, "last_poll", last_poll);
  json_out_string(builder, "last_error", account->row ? account->row->last_error : NULL);
  json_builder_set_member_name(builder, "missing_folders");
  json_builder_begin_array(builder);
  for (guint i = 0; i < account->missing->len; i++)
    json_builder_add_string_value(builder, g_ptr_array_index(account->missing, i));
  json_builder_end_array(builder);
  json_builder_set_member_name(builder, "folders");
  json_builder_begin_array(builder);
  for (guint i = 0; i < account->folders->len; i++)
    cmd_status_add_folder(builder, g_ptr_array_index(account->folders, i));
  json_builder_end_array(builder);
  json_builder_end_object(builder);
}

static void cmd_status_add_outbox(JsonBuilder *builder, const CmdStatusReport *report)
{
  json_builder_set_member_name(builder, "outbox");
  json_builder_begin_object(builder);
  for (int state = 0; state <= OUTBOX_STATE_LAST; state++)
    json_out_int(builder, outbox_state_name(state), report->outbox[state]);
  json_builder_end_object(builder);
}

static void cmd_status_add_digest(JsonBuilder *builder, const CmdStatusReport *report)
{
  g_autofree char *last = cmd_status_time(report->digest_last);
  g_autofree char *next = cmd_status_local_time(report->digest_next);
  json_builder_set_member_name(builder, "digest");
  json_builder_begin_object(builder);
  json_out_string(builder, "at", report->digest_at);
  json_out_string(builder, "timezone", report->timezone);
  json_out_string(builder, "last_sent", last);
  json_out_string(builder, "next", next);
  json_out_bool(builder, "due", report->digest_due);
  json_builder_end_object(builder);
}

static void cmd_status_add_rules(JsonBuilder *builder, const CmdStatusReport *report)
{
  json_builder_set_member_name(builder, "rules");
  json_builder_begin_object(builder);
  json_out_string(builder, "dir", report->rules_dir);
  json_out_bool(builder, "loads", report->rules_error == NULL);
  const char *names[] = { "files", "rules", "templates" };
  const guint counts[] = { report->rules.files, report->rules.rules, report->rules.templates };
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    json_builder_set_member_name(builder, names[i]);
    if (report->rules_error)
      json_builder_add_null_value(builder); /* a set that does not load counts nothing */
    else
      json_builder_add_int_value(builder, counts[i]);
  }
  json_out_string(builder, "error", report->rules_error);
  json_builder_end_object(builder);
}

static void cmd_status_print_json(const CmdStatusReport *report)
{
  g_autoptr(JsonBuilder) builder = json_builder_new();
  json_builder_begin_object(builder);
  json_builder_set_member_name(builder, "accounts");
  json_builder_begin_array(builder);
  for (guint i = 0; i < report->accounts->len; i++)
    cmd_status_add_account(builder, g_ptr_array_index(report->accounts, i));
  json_builder_end_array(builder);
  cmd_status_add_outbox(builder, report);
  cmd_status_add_digest(builder, report);
  cmd_status_add_rules(builder, report);
  json_builder_end_object(builder);
  g_autoptr(JsonGenerator) generator = json_generator_new();
  g_autoptr(JsonNode) root = json_builder_get_root(builder);
  json_generator_set_root(generator, root);
  json_generator_set_pretty(generator, TRUE);
  g_autofree char *text = json_generator_to_data(generator, NULL);
  printf("%s\n", text);
}

static void cmd_status_print_account(const CmdStatusAccount *account)
{
  g_autofree char *last_poll = cmd_status_time(account->row ? account->row->last_poll : NULL);
  const char *last_error = account->row ? account->row->last_error : NULL;
  printf("account %s\n  last successful poll: %s\n  last error: %s\n", account->name,
         last_poll ? last_poll : "never", last_error ? last_error : "none");
  for (guint j = 0; j < account->missing->len; j++)
    printf("  missing folder: %s (the server does not have it: fix folders = or "
           "sent_folder = in keel.conf)\n", (const char *)g_ptr_array_index(account->missing, j));
  for (guint j = 0; j < account->folders->len; j++) {
    const StoreFolderRow *folder = g_ptr_array_index(account->folders, j);
    printf("  folder %-20s %6" G_GINT64_FORMAT " messages, last UID %u, UIDVALIDITY %u%s\n",
           folder->folder, folder->messages, folder->last_uid, folder->uidvalidity,
           folder->missing_since ? " (missing on the server)"
           : folder->uidvalidity == 0 ? " (first sync not finished)" : "");
  }
}

/* "outbox: 2 queued, 1 sent" (states with rows only), or "outbox: empty". */
static void cmd_status_print_outbox(const CmdStatusReport *report)
{
  g_autoptr(GString) line = g_string_new("outbox:");
  for (int state = 0; state <= OUTBOX_STATE_LAST; state++)
    if (report->outbox[state] > 0)
      g_string_append_printf(line, "%s %" G_GINT64_FORMAT " %s", line->len > 7 ? "," : "",
                             report->outbox[state], outbox_state_name(state));
  printf("%s\n", line->len > 7 ? line->str : "outbox: empty");
}

static void cmd_status_print_digest(const CmdStatusReport *report)
{
  g_autofree char *last = cmd_status_time(report->digest_last);
  g_autofree char *next = cmd_status_local_time(report->digest_next);
  if (report->digest_at)
    printf("digest: daily at %s (%s); next %s%s; last sent %s\n", report->digest_at,
           report->timezone, next ? next : "unknown",
           report->digest_due ? " (due: goes at the daemon's next pass if anything needs you)"
                              : "", last ? last : "never");
  else
    printf("digest: not scheduled ([digest] at is unset); last sent %s\n", last ? last : "never");
}

static void cmd_status_print_rules(const CmdStatusReport *report)
{
  if (!report->rules_error)
    printf("rules: %s: %u rules in %u files, %u templates; they load\n", report->rules_dir,
           report->rules.rules, report->rules.files, report->rules.templates);
  else
    printf("rules: %s: DO NOT LOAD (keel rules check):\n%s\n", report->rules_dir,
           report->rules_error);
}

static void cmd_status_print_text(const CmdStatusReport *report)
{
  for (guint i = 0; i < report->accounts->len; i++)
    cmd_status_print_account(g_ptr_array_index(report->accounts, i));
  if (report->accounts->len == 0)
    printf("no accounts configured\n");
  cmd_status_print_outbox(report);
  cmd_status_print_digest(report);
  cmd_status_print_rules(report);
}

static int cmd_status_run(const KeelGlobals *globals, gboolean json)
{
  g_autofree char *path = config_resolve_path(globals->config_path);
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load(path, &error);
  if (!config) {
    fprintf(stderr, "keel status: %s\n", error->message);
    return EX_CONFIG;
  }
  g_autoptr(GDateTime) now = cli_now(globals); /* --now: as of that time (tests) */
  if (!now)
    return EX_USAGE;
  CmdStatusReport report = { 0 };
  g_autoptr(Store) store = store_open(config->database, &error);
  g_autoptr(GPtrArray) rows = store ? store_list_accounts(store, &error) : NULL;
  g_autoptr(GPtrArray) folders = rows ? store_list_folders(store, &error) : NULL;
  if (!folders || !cmd_status_read_store(store, config, now, &report, &error)) {
    cmd_status_report_clear(&report);
    fprintf(stderr, "keel status: %s\n", error->message);
    return store_cli_exit_code(error); /* the same code as every command for the same cause */
  }
  report.accounts = cmd_status_collect(config, rows, folders);
  cmd_status_read_rules(config, &report);
  if (json)
    cmd_status_print_json(&report);
  else
    cmd_status_print_text(&report);
  cmd_status_report_clear(&report);
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
  if (cli_parse_options(&argc, &argv, NULL,
                        "Show per-account and per-folder sync state (with the folders missing "
                        "on the server), the outbox counts per state, the next digest time and "
                        "the rules in force.",
                        entries, &globals))
    rc = cmd_status_run(&globals, json);
  cli_globals_clear(&globals);
  return rc;
}
