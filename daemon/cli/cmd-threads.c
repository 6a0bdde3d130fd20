/* daemon/cli/cmd-threads.c: `keel threads [--risky] [--json] [--database PATH]`
 * (also `keel thread list`) lists the stored threads, most recent first: ID,
 * last date, client, message count, risk and subject; --risky only those at
 * the digest's risk (1 or more). Dates are shown in the config's time zone (UTC without a
 * config); --json prints one object per line with the date in ISO 8601 UTC.
 * `keel threads --handled ID` marks a thread handled: it no longer keeps its
 * peak risk ([replies] risk_memory).
 * Must not: change the store except for --handled.
 */
#include <stdio.h>
#include <json-glib/json-glib.h>
#include "daemon/cli/store-cli.h"
#include "daemon/record/trail.h"
#include "filters/json-out.h"

#define THREADS_CLIENT_WIDTH 28
#define THREADS_SUBJECT_WIDTH 48

/* `text` cut or padded to `width` characters (not bytes). New string. */
static char *cmd_threads_fit(const char *text, glong width)
{
  glong length = g_utf8_strlen(text, -1);
  if (length > width) {
    g_autofree char *cut = g_utf8_substring(text, 0, width - 1);
    return g_strdup_printf("%s…", cut);
  }
  GString *fitted = g_string_new(text);
  for (glong i = length; i < width; i++)
    g_string_append_c(fitted, ' ');
  return g_string_free(fitted, FALSE);
}

/* Who the thread is with: the client's name, else the other party's address. */
static const char *cmd_threads_who(const StoreThreadRow *row)
{
  if (row->client)
    return row->client;
  return row->counterpart ? row->counterpart : "(unknown)";
}

static void cmd_threads_print_table(GPtrArray *rows, GTimeZone *zone, const char *zone_name)
{
  if (rows->len == 0) {
    printf("no threads stored yet\n");
    return;
  }
  g_autofree char *client_head = cmd_threads_fit("CLIENT", THREADS_CLIENT_WIDTH);
  printf("%-6s %-16s  %s  %4s  %5s  SUBJECT   (dates: %s)\n", "ID", "LAST", client_head, "MSGS",
         "RISK", zone_name);
  for (guint i = 0; i < rows->len; i++) {
    const StoreThreadRow *row = rows->pdata[i];
    g_autoptr(GDateTime) local = g_date_time_to_timezone(row->last_date, zone);
    g_autofree char *when = g_date_time_format(local, "%Y-%m-%d %H:%M");
    g_autofree char *who = cmd_threads_fit(cmd_threads_who(row), THREADS_CLIENT_WIDTH);
    g_autofree char *subject = cmd_threads_fit(row->subject[0] ? row->subject : "(no subject)",
                                               THREADS_SUBJECT_WIDTH);
    g_strchomp(subject);
    printf("%-6" G_GINT64_FORMAT " %-16s  %s  %4" G_GINT64_FORMAT "  %5.1f  %s\n", row->id, when,
           who, row->message_count, row->risk, subject);
  }
}

static void cmd_threads_print_json(GPtrArray *rows)
{
  for (guint i = 0; i < rows->len; i++) {
    const StoreThreadRow *row = rows->pdata[i];
    g_autoptr(JsonBuilder) builder = json_builder_new();
    json_builder_begin_object(builder);
    json_out_int(builder, "id", row->id);
    json_out_string(builder, "client_id", row->client_id);
    json_out_string(builder, "client", row->client);
    json_out_string(builder, "counterpart", row->counterpart);
    json_out_string(builder, "subject", row->subject);
    json_out_int(builder, "messages", row->message_count);
    g_autofree char *last = g_date_time_format_iso8601(row->last_date);
    json_out_string(builder, "last_date", last);
    json_out_double(builder, "risk", row->risk);
    json_builder_end_object(builder);
    g_autoptr(JsonNode) root = json_builder_get_root(builder);
    g_autofree char *line = json_to_string(root, FALSE);
    printf("%s\n", line);
  }
}

/* `keel threads --handled ID`: the VA has dealt with thread ID, so it may
 * drop below its remembered peak risk (a `thread_handled` trail event). */
static int cmd_threads_mark_handled(Store *store, gint64 thread_id, GDateTime *now)
{
  g_autoptr(GError) error = NULL;
  gboolean found = FALSE;
  g_autofree char *detail = g_strdup_printf("thread %" G_GINT64_FORMAT " marked handled",
                                            thread_id);
  TrailEntry entry = { .kind = "thread_handled", .thread_id = thread_id, .detail = detail,
                       .at = now };
  if (store_begin(store, &error)) {
    if (store_thread_set_handled(store, thread_id, now, &found, &error) && found
        && trail_append(store, &entry, NULL, &error))
      found = store_commit(store, &error);
    else
      store_rollback(store);
  }
  if (error) {
    fprintf(stderr, "keel threads: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  if (!found) {
    fprintf(stderr, "keel threads: no thread %" G_GINT64_FORMAT " (keel threads lists them)\n",
            thread_id);
    return EX_NOINPUT;
  }
  printf("%s\n", detail);
  return EX_OK;
}

/* Keeps the threads at the digest's risk (1 or more). */
static void cmd_threads_keep_risky(GPtrArray *rows)
{
  for (guint i = rows->len; i > 0; i--)
    if (((const StoreThreadRow *)rows->pdata[i - 1])->risk < 1.0)
      g_ptr_array_remove_index(rows, i - 1);
}

static int cmd_threads_run(const KeelGlobals *globals, const char *database, gboolean json,
                           gint64 handled, gboolean risky)
{
  g_autoptr(KeelConfig) config = NULL;
  int rc = store_cli_load_config(globals, &config);
  if (rc != EX_OK)
    return rc;
  g_autoptr(Store) store = store_cli_open(database, config, &rc);
  if (!store)
    return rc;
  if (handled > 0) {
    g_autoptr(GDateTime) now = cli_now(globals);
    return cmd_threads_mark_handled(store, handled, now);
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = store_list_threads(store, &error);
  if (!rows) {
    fprintf(stderr, "keel threads: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  if (risky)
    cmd_threads_keep_risky(rows);
  const char *zone_name = config ? config->timezone : "UTC";
  g_autoptr(GTimeZone) zone = g_time_zone_new_identifier(zone_name);
  if (!zone)
    zone = g_time_zone_new_utc();
  if (json)
    cmd_threads_print_json(rows);
  else
    cmd_threads_print_table(rows, zone, zone_name);
  return EX_OK;
}

int cmd_threads(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  g_autofree char *database = NULL;
  gboolean json = FALSE, risky = FALSE;
  gint64 handled = 0;
  const GOptionEntry entries[] = {
    { "handled", 0, 0, G_OPTION_ARG_INT64, &handled,
      "Mark thread ID handled: it no longer keeps its peak risk", "ID" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per thread and line", NULL },
    { "risky", 0, 0, G_OPTION_ARG_NONE, &risky, "Only risky threads (risk 1 or more)", NULL },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database,
      "Database file (default: the config's database)", "PATH" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, NULL, "Lists stored threads, most recent first.",
                         entries, &globals))
    return EX_USAGE;
  int rc = EX_USAGE;
  if (argc > 1)
    fprintf(stderr, "keel threads: unexpected argument '%s' (see --help)\n", argv[1]);
  else
    rc = cmd_threads_run(&globals, database, json, handled, risky);
  cli_globals_clear(&globals);
  return rc;
}
