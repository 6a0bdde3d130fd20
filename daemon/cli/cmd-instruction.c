/* daemon/cli/cmd-instruction.c: the client instructions keel recorded, and the
 * VA's word on them.
 *   keel instruction list [--open] [--client NAME] [--json]
 *   keel instruction done|cancel|reopen ID...
 * `list` shows each instruction's ID (the one the digest shows), its status
 * (open, probably done: her later reply said so, done, cancelled), deadline
 * and client, newest first; dates older than this year show their year.
 * done/cancel/reopen take several IDs, change each in its own transaction
 * with a trail event, and echo the task text; an unknown ID is an error for
 * that ID only (exit 66 when any was unknown).
 * Must not: delete anything; an instruction keeps its history.
 */
#include <stdio.h>
#include <stdlib.h>
#include <json-glib/json-glib.h>
#include "daemon/cli/store-cli.h"
#include "daemon/record/trail.h"
#include "daemon/record/word.h"
#include "filters/json-out.h"

/* The status as the VA reads it. */
static const char *cmd_instruction_state(const StoreInstructionRow *row)
{
  if (g_strcmp0(row->status, "open") == 0 && row->probably_done)
    return "probably done";
  return row->status;
}

static void cmd_instruction_print_row(const StoreInstructionRow *row, const KeelConfig *config,
                                      GDateTime *now)
{
  const KeelClient *client = config ? config_client_by_name(config, row->client_id) : NULL;
  g_autofree char *deadline = row->deadline ? word_format_deadline(row->deadline, now)
                                            : g_strdup("no deadline");
  printf("%-5" G_GINT64_FORMAT " %-14s %-22s %s: %s%s\n", row->id, cmd_instruction_state(row),
         deadline, client ? client->name : row->client_id ? row->client_id : "(note)",
         row->text, row->history ? "  [history]" : "");
}

static void cmd_instruction_print_json(const StoreInstructionRow *row)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_out_int(b, "id", row->id);
  json_out_string(b, "client_id", row->client_id);
  json_out_int(b, "thread_id", row->thread_id);
  json_out_string(b, "text", row->text);
  json_out_string(b, "deadline", row->deadline);
  json_out_string(b, "status", row->status);
  json_out_bool(b, "probably_done", row->probably_done != NULL);
  json_out_bool(b, "history", row->history);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *text = json_to_string(root, FALSE);
  printf("%s\n", text);
}

static int cmd_instruction_list(Store *store, const KeelConfig *config, GDateTime *now,
                                gboolean open, const char *client_name, gboolean json)
{
  const KeelClient *client = client_name && config ? config_client_by_name(config, client_name)
                                                   : NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = store_instruction_list(store, open, client ? client->id
                                                                         : client_name, &error);
  if (!rows) {
    fprintf(stderr, "keel instruction: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  if (rows->len == 0 && !json)
    printf("no instructions%s\n", open ? " open" : "");
  for (guint i = 0; i < rows->len; i++) {
    if (json)
      cmd_instruction_print_json(rows->pdata[i]);
    else
      cmd_instruction_print_row(rows->pdata[i], config, now);
  }
  return EX_OK;
}

/* done/cancel/reopen each of `ids`; the worst exit code. */
static int cmd_instruction_change(Store *store, const char *status, char **ids, GDateTime *now)
{
  int rc = EX_OK;
  for (char **arg = ids; *arg; arg++) {
    char *end = NULL;
    gint64 id = g_ascii_strtoll(*arg, &end, 10);
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    if (!end || *end || id <= 0) {
      fprintf(stderr, "keel instruction: '%s' is not an instruction ID\n", *arg);
      rc = EX_USAGE;
    } else if (!word_instruction_set(store, id, status, now, &text, &error)) {
      fprintf(stderr, "keel instruction: %s\n", error->message);
      rc = g_error_matches(error, KEEL_TRAIL_ERROR, KEEL_TRAIL_ERROR_NOT_FOUND)
             ? (rc == EX_OK ? EX_NOINPUT : rc) : store_cli_exit_code(error);
    } else {
      printf("instruction %" G_GINT64_FORMAT " %s: %s\n", id,
             g_strcmp0(status, "open") == 0 ? "reopened" : status, text);
    }
  }
  return rc;
}

/* "done" -> "done", "cancel" -> "cancelled", "reopen" -> "open"; NULL for anything else. */
static const char *cmd_instruction_status(const char *verb)
{
  if (g_strcmp0(verb, "done") == 0)
    return "done";
  if (g_strcmp0(verb, "cancel") == 0)
    return "cancelled";
  if (g_strcmp0(verb, "reopen") == 0)
    return "open";
  return NULL;
}

typedef struct {
  gboolean open;
  gboolean json;
  char *client;   /* owned */
  char *database; /* owned */
} InstructionOptions;

static int cmd_instruction_run(const KeelGlobals *globals, const InstructionOptions *options,
                               char **argv)
{
  g_autoptr(KeelConfig) config = NULL;
  int rc = store_cli_load_config(globals, &config);
  if (rc != EX_OK)
    return rc;
  g_autoptr(Store) store = store_cli_open(options->database, config, &rc);
  if (!store)
    return rc;
  g_autoptr(GDateTime) now = cli_now(globals);
  if (!now)
    return EX_USAGE;
  if (g_strcmp0(argv[1], "list") == 0)
    return cmd_instruction_list(store, config, now, options->open, options->client, options->json);
  return cmd_instruction_change(store, cmd_instruction_status(argv[1]), argv + 2, now);
}

int cmd_instruction(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  InstructionOptions options = { 0 };
  const GOptionEntry entries[] = {
    { "open", 0, 0, G_OPTION_ARG_NONE, &options.open,
      "list: only open instructions (probably done ones too, until you confirm them)", NULL },
    { "client", 0, 0, G_OPTION_ARG_STRING, &options.client,
      "list: only this client's (id or name)", "NAME" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &options.json, "list: one JSON object per line", NULL },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &options.database,
      "Database file (default: the config's database)", "PATH" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, "list | done|cancel|reopen ID...",
                         "Lists the client instructions keel recorded, or marks instructions "
                         "done, cancelled or open again (each recorded in the trail; the task "
                         "text is echoed).", entries, &globals))
    return EX_USAGE;
  int rc = EX_USAGE;
  gboolean list = argc == 2 && g_strcmp0(argv[1], "list") == 0;
  if (!list && (argc < 3 || !cmd_instruction_status(argv[1])))
    fprintf(stderr, "keel instruction: usage: keel instruction list [--open] [--client NAME] "
                    "[--json] | done|cancel|reopen ID...\n");
  else
    rc = cmd_instruction_run(&globals, &options, argv);
  g_free(options.client);
  g_free(options.database);
  cli_globals_clear(&globals);
  return rc;
}
