/* daemon/cli/cmd-promises.c: `keel promises [--all] [--json]` lists the
 * promises keel read in the VA's own sent mail ("I'll send it by Friday"),
 * open ones by default, soonest due first: ID, where each stands (OVERDUE,
 * today, open, or kept/updated with --all), the due time in the client's
 * zone, the client and what she wrote. A promise from mail stored as history
 * is marked so. --json prints one object per line.
 * Must not: change the store.
 */
#include <stdio.h>
#include <json-glib/json-glib.h>
#include "daemon/cli/store-cli.h"
#include "daemon/record/word.h"
#include "filters/json-out.h"

/* OVERDUE / today / open (or the closed status). */
static const char *cmd_promises_state(const StorePromiseRow *row, GDateTime *now)
{
  if (g_strcmp0(row->status, "open") != 0)
    return row->status;
  if (!row->due_at)
    return "open";
  if (g_date_time_compare(row->due_at, now) < 0)
    return "OVERDUE";
  g_autofree char *due_day = g_date_time_format(row->due_at, "%F");
  g_autofree char *today = g_date_time_format(now, "%F");
  return g_strcmp0(due_day, today) == 0 ? "today" : "open";
}

static void cmd_promises_print_json(const StorePromiseRow *row, GDateTime *now)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_out_int(b, "id", row->id);
  json_out_string(b, "client_id", row->client_id);
  json_out_string(b, "client", row->client);
  json_out_int(b, "thread_id", row->thread_id);
  json_out_string(b, "text", row->text);
  json_out_string(b, "due", row->due);
  json_out_string(b, "status", row->status);
  json_out_string(b, "state", cmd_promises_state(row, now));
  json_out_bool(b, "history", row->history);
  json_out_string(b, "message_id", row->message_id);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *text = json_to_string(root, FALSE);
  printf("%s\n", text);
}

static void cmd_promises_print_row(const StorePromiseRow *row, GDateTime *now)
{
  g_autofree char *due = row->due ? word_format_deadline(row->due, now) : g_strdup("no time");
  printf("%-5" G_GINT64_FORMAT " %-8s %-22s %s: %s (thread %" G_GINT64_FORMAT ")%s\n", row->id,
         cmd_promises_state(row, now), due, row->client ? row->client : "?", row->text,
         row->thread_id, row->history ? "  [history]" : "");
}

static int cmd_promises_run(const KeelGlobals *globals, const char *database, gboolean all,
                            gboolean json)
{
  g_autoptr(KeelConfig) config = NULL;
  int rc = store_cli_load_config(globals, &config);
  if (rc != EX_OK)
    return rc;
  g_autoptr(Store) store = store_cli_open(database, config, &rc);
  g_autoptr(GDateTime) now = store ? cli_now(globals) : NULL;
  if (!store || !now)
    return store ? EX_USAGE : rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = store_promise_list(store, !all, 0, &error);
  if (!rows) {
    fprintf(stderr, "keel promises: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  if (rows->len == 0 && !json)
    printf("no %spromises\n", all ? "" : "open ");
  for (guint i = 0; i < rows->len; i++) {
    if (json)
      cmd_promises_print_json(rows->pdata[i], now);
    else
      cmd_promises_print_row(rows->pdata[i], now);
  }
  return EX_OK;
}

int cmd_promises(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  g_autofree char *database = NULL;
  gboolean json = FALSE, all = FALSE;
  const GOptionEntry entries[] = {
    { "all", 0, 0, G_OPTION_ARG_NONE, &all, "Kept and updated promises too", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per promise and line", NULL },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database,
      "Database file (default: the config's database)", "PATH" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, "",
                         "Lists the promises you made in your sent mail (\"I'll send it by "
                         "Friday\"), soonest due first.", entries, &globals))
    return EX_USAGE;
  int rc = EX_USAGE;
  if (argc > 1)
    fprintf(stderr, "keel promises: unexpected argument '%s' (see --help)\n", argv[1]);
  else
    rc = cmd_promises_run(&globals, database, all, json);
  cli_globals_clear(&globals);
  return rc;
}
