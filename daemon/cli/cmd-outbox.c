/* daemon/cli/cmd-outbox.c: `keel outbox [--json]` lists the outbox (queued,
 * claimed, sending, unfiled, sent, drafted, delayed, failed, uncertain, cancelled:
 * failures with the server's answer); `keel outbox send` runs the sender
 * once (what the daemon does on its timer); `keel outbox show ID` prints one
 * row and its message's header; `keel outbox retry ID` puts a failed or
 * uncertain row back in the queue (the VA's decision: an uncertain one may
 * already have reached the client); `keel outbox cancel ID` makes sure a
 * row not yet sent never is.
 * --server-files-sent: the SMTP server files sent mail in Sent itself, so
 * keel does not APPEND a copy (until keel.conf has a per-account key).
 * Must not: change rows other than through daemon/outbox/outbox.c.
 */
#include <stdio.h>
#include <json-glib/json-glib.h>
#include "daemon/outbox/outbox.h"
#include "daemon/cli/store-cli.h"
#include "filters/json-out.h"

static void cmd_outbox_print_text(GPtrArray *rows, GTimeZone *zone)
{
  if (rows->len == 0)
    printf("the outbox is empty\n");
  for (guint i = 0; i < rows->len; i++) {
    const StoreOutboxRow *row = rows->pdata[i];
    g_autoptr(GDateTime) local = g_date_time_to_timezone(row->updated, zone);
    g_autofree char *when = g_date_time_format(local, "%Y-%m-%d %H:%M");
    printf("%-5" G_GINT64_FORMAT " %-9s %s  %s  \"%s\"  (%d attempt%s)\n", row->id, row->state,
           when, row->rcpt, row->subject, row->attempts, row->attempts == 1 ? "" : "s");
    if (row->last_error)
      printf("      last error: %s\n", row->last_error);
  }
}

static void cmd_outbox_json_row(JsonBuilder *b, const StoreOutboxRow *row)
{
  g_autofree char *created = g_date_time_format_iso8601(row->created);
  g_autofree char *updated = g_date_time_format_iso8601(row->updated);
  g_autofree char *next = row->next_attempt ? g_date_time_format_iso8601(row->next_attempt)
                                            : NULL;
  const char *names[] = { "state", "account", "kind", "client", "message_id", "from", "to",
                          "subject", "last_error", "created", "updated", "next_attempt" };
  const char *values[] = { row->state, row->account, row->kind, row->client_id,
                           row->message_id, row->mail_from, row->rcpt, row->subject,
                           row->last_error, created, updated, next };
  json_builder_begin_object(b);
  json_out_int(b, "id", row->id);
  json_out_int(b, "attempts", row->attempts);
  json_out_int(b, "thread", row->thread_id);
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    json_out_string(b, names[i], values[i]);
  }
  json_builder_end_object(b);
}

static void cmd_outbox_print_json(GPtrArray *rows)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_array(b);
  for (guint i = 0; i < rows->len; i++)
    cmd_outbox_json_row(b, rows->pdata[i]);
  json_builder_end_array(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *text = json_to_string(root, TRUE);
  printf("%s\n", text);
}

static int cmd_outbox_list_command(Store *store, GTimeZone *zone, gboolean json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = store_outbox_list(store, NULL, &error);
  if (!rows) {
    fprintf(stderr, "keel outbox: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  if (json)
    cmd_outbox_print_json(rows);
  else
    cmd_outbox_print_text(rows, zone);
  return EX_OK;
}

static int cmd_outbox_send_command(Store *store, const KeelConfig *config, GDateTime *now,
                                   gboolean server_files_sent)
{
  if (!config) {
    fprintf(stderr, "keel outbox send: needs a config (--config FILE) with an account\n");
    return EX_CONFIG;
  }
  OutboxSettings settings = { .server_files_sent = server_files_sent };
  OutboxRunStats stats = { 0 };
  g_autoptr(GError) error = NULL;
  if (!outbox_run(store, config, &settings, now, &stats, &error)) {
    fprintf(stderr, "keel outbox send: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  printf("outbox: %u sent, %u drafted, %u delayed, %u failed, %u found already done, "
         "%u queued again, %u uncertain, %u copied to Sent\n", stats.sent, stats.drafted,
         stats.tempfailed, stats.failed, stats.reconciled, stats.requeued, stats.uncertain,
         stats.filed);
  return EX_OK;
}

/* The header of `raw`: everything before the first empty line. */
static char *cmd_outbox_header_text(GBytes *raw)
{
  gsize size = 0;
  const char *data = raw ? g_bytes_get_data(raw, &size) : "";
  const char *end = g_strstr_len(data, (gssize)size, "\r\n\r\n");
  return g_strndup(data, end ? (gsize)(end - data) : size);
}

static int cmd_outbox_show_command(Store *store, gint64 id, GTimeZone *zone, gboolean json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(StoreOutboxRow) row = store_outbox_get(store, id, &error);
  if (!row) {
    fprintf(stderr, "keel outbox show: %s\n", error ? error->message : "no outbox row with that id");
    return error ? store_cli_exit_code(error) : EX_NOINPUT;
  }
  g_autoptr(GPtrArray) one = g_ptr_array_new();
  g_ptr_array_add(one, row);
  if (json) {
    cmd_outbox_print_json(one);
    return EX_OK;
  }
  cmd_outbox_print_text(one, zone);
  g_autofree char *header = cmd_outbox_header_text(row->raw);
  printf("\n%s\n", header);
  return EX_OK;
}

/* retry or cancel, through daemon/outbox/outbox.c. */
static int cmd_outbox_change_command(Store *store, const char *verb, gint64 id, GDateTime *now)
{
  g_autoptr(GError) error = NULL;
  gboolean retry = g_strcmp0(verb, "retry") == 0;
  if (retry ? outbox_retry(store, id, now, &error) : outbox_cancel(store, id, now, &error)) {
    printf("outbox %" G_GINT64_FORMAT " %s\n", id, retry ? "queued again" : "cancelled");
    return EX_OK;
  }
  fprintf(stderr, "keel outbox %s: %s\n", verb, error->message);
  if (g_error_matches(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_NOT_FOUND))
    return EX_NOINPUT;
  if (g_error_matches(error, KEEL_OUTBOX_ERROR, KEEL_OUTBOX_ERROR_STATE))
    return EX_DATAERR;
  return store_cli_exit_code(error);
}

/* The ID argument, or -1. */
static gint64 cmd_outbox_parse_id(const char *text)
{
  guint64 id = 0;
  if (!text || !g_ascii_string_to_unsigned(text, 10, 1, G_MAXINT64, &id, NULL))
    return -1;
  return (gint64)id;
}

typedef struct {
  const char *database;
  gboolean json, server_files_sent;
} OutboxOptions;

static GTimeZone *cmd_outbox_zone(const KeelConfig *config)
{
  GTimeZone *zone = g_time_zone_new_identifier(config ? config->timezone : "UTC");
  return zone ? zone : g_time_zone_new_utc();
}

static int cmd_outbox_dispatch(const KeelGlobals *globals, int argc, char **argv,
                               const OutboxOptions *opt)
{
  static const char *const with_id[] = { "show", "retry", "cancel", NULL };
  const char *verb = argc > 1 ? argv[1] : "list";
  gboolean takes_id = g_strv_contains(with_id, verb);
  gint64 id = takes_id && argc == 3 ? cmd_outbox_parse_id(argv[2]) : 0;
  if ((!takes_id && argc > 2) || (takes_id && (argc != 3 || id < 0))
      || (!takes_id && !g_strv_contains((const char *const[]){ "list", "send", NULL }, verb))) {
    fprintf(stderr, "keel outbox: usage: keel outbox [list|send|show ID|retry ID|cancel ID] "
                    "(see --help)\n");
    return EX_USAGE;
  }
  g_autoptr(KeelConfig) config = NULL;
  int rc = store_cli_load_config(globals, &config);
  if (rc != EX_OK)
    return rc;
  g_autoptr(Store) store = store_cli_open(opt->database, config, &rc);
  g_autoptr(GDateTime) now = store ? cli_now(globals) : NULL;
  if (!store || !now)
    return store ? EX_USAGE : rc;
  g_autoptr(GTimeZone) zone = cmd_outbox_zone(config);
  if (g_strcmp0(verb, "send") == 0)
    return cmd_outbox_send_command(store, config, now, opt->server_files_sent);
  if (g_strcmp0(verb, "show") == 0)
    return cmd_outbox_show_command(store, id, zone, opt->json);
  if (takes_id)
    return cmd_outbox_change_command(store, verb, id, now);
  return cmd_outbox_list_command(store, zone, opt->json);
}

int cmd_outbox(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  g_autofree char *database = NULL;
  OutboxOptions opt = { 0 };
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &opt.json, "List as a JSON array", NULL },
    { "server-files-sent", 0, 0, G_OPTION_ARG_NONE, &opt.server_files_sent,
      "The SMTP server files sent mail in Sent itself: APPEND no copy", NULL },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database,
      "Database file (default: the config's database)", "PATH" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, "[list|send|show ID|retry ID|cancel ID]",
                         "Lists the outbox, runs the sender once (send), shows one message\n"
                         "(show ID), queues a failed or uncertain message again (retry ID),\n"
                         "or makes sure a message not yet sent never is (cancel ID).\n"
                         "A message is 'uncertain' when keel stopped while sending it and\n"
                         "found no copy in Sent: it may or may not have reached the client.\n"
                         "Check your Sent folder (and ask the client) before retry.",
                         entries, &globals))
    return EX_USAGE;
  opt.database = database;
  int rc = cmd_outbox_dispatch(&globals, argc, argv, &opt);
  cli_globals_clear(&globals);
  return rc;
}
