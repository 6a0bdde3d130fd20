/* daemon/cli/cmd-trail.c: `keel trail [--client NAME] [--since DATE]
 * [--format text|csv|json]` prints the trail, oldest first: who asked what
 * and when, what was confirmed, drafted, sent or failed, instructions done
 * or cancelled. `keel trail verify` walks the hash chain and names the first
 * event that was edited, inserted or deleted (exit 65, EX_DATAERR).
 * Times are shown in the config's time zone (UTC without a config); csv and
 * json carry ISO 8601 UTC times and every event's hash. A csv cell that a
 * spreadsheet would take for a formula (=, +, -, @, TAB, CR first) starts
 * with a ' instead.
 * Must not: change the store.
 */
#include <stdio.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include "daemon/cli/store-cli.h"
#include "daemon/record/trail.h"
#include "filters/json-out.h"

typedef struct {
  KeelConfig *config;   /* owned, may be NULL */
  Store *store;         /* owned */
  GTimeZone *zone;      /* owned */
} TrailCommand;

static void cmd_trail_command_clear(TrailCommand *cmd)
{
  g_clear_pointer(&cmd->store, store_close);
  g_clear_pointer(&cmd->config, config_free);
  g_clear_pointer(&cmd->zone, g_time_zone_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(TrailCommand, cmd_trail_command_clear)

static int cmd_trail_command_open(const KeelGlobals *globals, const char *database,
                                  TrailCommand *cmd)
{
  int rc = store_cli_load_config(globals, &cmd->config);
  if (rc != EX_OK)
    return rc;
  cmd->store = store_cli_open(database, cmd->config, &rc);
  if (!cmd->store)
    return rc;
  cmd->zone = g_time_zone_new_identifier(cmd->config ? cmd->config->timezone : "UTC");
  if (!cmd->zone)
    cmd->zone = g_time_zone_new_utc();
  return EX_OK;
}

/* The client id for --client: an id, or a name (case-insensitive); NULL
 * after printing the names keel knows when the config has neither. */
static const char *cmd_trail_client_id(const KeelConfig *config, const char *name)
{
  if (!config)
    return name; /* no config: the store's own ids, unchecked */
  const KeelClient *client = config_client_by_name(config, name);
  if (client)
    return client->id;
  g_autofree char *known = config_client_names(config);
  fprintf(stderr, "keel trail: no client '%s'; keel knows: %s\n", name, known);
  return NULL;
}

/* The deadline of instruction event `e` with its offset, in the client's
 * zone ("2026-03-06T17:00+00:00"), or NULL (not an instruction, none). */
static char *cmd_trail_deadline(TrailCommand *cmd, const StoreTrailEvent *e)
{
  if (g_strcmp0(e->kind, "instruction") != 0 || e->ref_id <= 0)
    return NULL;
  g_autoptr(StoreInstructionRow) row = store_instruction_get(cmd->store, e->ref_id, NULL);
  if (!row || !row->deadline)
    return NULL;
  const KeelClient *client = cmd->config && row->client_id
    ? config_client_by_name(cmd->config, row->client_id) : NULL;
  const char *zone_name = client && client->timezone ? client->timezone
                        : cmd->config ? cmd->config->timezone : "UTC";
  g_autoptr(GTimeZone) zone = g_time_zone_new_identifier(zone_name);
  g_autoptr(GDateTime) local = cli_parse_time(row->deadline, zone ? zone : cmd->zone);
  return local ? g_date_time_format(local, "%Y-%m-%dT%H:%M%:z") : NULL;
}

static void cmd_trail_print_text(GPtrArray *events, GTimeZone *zone)
{
  if (events->len == 0)
    printf("the trail is empty\n");
  for (guint i = 0; i < events->len; i++) {
    const StoreTrailEvent *event = events->pdata[i];
    g_autoptr(GDateTime) local = g_date_time_to_timezone(event->at, zone);
    g_autofree char *when = g_date_time_format(local, "%Y-%m-%d %H:%M");
    g_autofree char *ref = g_str_has_prefix(event->kind, "instruction")
      ? g_strdup_printf(" [instruction %" G_GINT64_FORMAT "]", event->ref_id) : g_strdup("");
    printf("#%-5" G_GINT64_FORMAT " %s  %-12s %-22s %s%s\n", event->id, when,
           event->client_id ? event->client_id : "-", event->kind, event->detail, ref);
  }
}

/* One quoted CSV cell. A cell that starts with =, +, -, @, TAB or CR gets a
 * leading ' (OWASP, CSV injection): a spreadsheet would run it as a formula,
 * and a detail can carry a client's words ("=HYPERLINK(...)"). */
static void cmd_trail_csv_field(GString *out, const char *value, gboolean last)
{
  const char *cell = value ? value : "";
  gboolean formula = cell[0] != '\0' && strchr("=+-@\t\r", cell[0]) != NULL;
  g_autofree char *text = g_strconcat(formula ? "'" : "", cell, NULL);
  g_auto(GStrv) parts = g_strsplit(text, "\"", -1);
  g_autofree char *escaped = g_strjoinv("\"\"", parts);
  g_string_append_printf(out, "\"%s\"%s", escaped, last ? "\r\n" : ",");
}

static void cmd_trail_print_csv(TrailCommand *cmd, GPtrArray *events)
{
  g_autoptr(GString) out = g_string_new("id,at,kind,client,thread,message_id,ref,detail,"
                                        "prev_hash,hash,deadline\r\n");
  for (guint i = 0; i < events->len; i++) {
    const StoreTrailEvent *e = events->pdata[i];
    g_autofree char *id = g_strdup_printf("%" G_GINT64_FORMAT, e->id);
    g_autofree char *at = g_date_time_format_iso8601(e->at);
    g_autofree char *thread = g_strdup_printf("%" G_GINT64_FORMAT, e->thread_id);
    g_autofree char *ref = g_strdup_printf("%" G_GINT64_FORMAT, e->ref_id);
    g_autofree char *deadline = cmd_trail_deadline(cmd, e);
    const char *fields[] = { id, at, e->kind, e->client_id, thread, e->message_id, ref,
                             e->detail, e->prev_hash, e->hash, deadline };
    for (gsize f = 0; f < G_N_ELEMENTS(fields); f++)
      cmd_trail_csv_field(out, fields[f], f + 1 == G_N_ELEMENTS(fields));
  }
  fwrite(out->str, 1, out->len, stdout);
}

static void cmd_trail_json_event(TrailCommand *cmd, JsonBuilder *b, const StoreTrailEvent *e)
{
  g_autofree char *deadline = cmd_trail_deadline(cmd, e);
  g_autofree char *at = g_date_time_format_iso8601(e->at);
  json_builder_begin_object(b);
  json_out_int(b, "id", e->id);
  json_out_string(b, "at", at);
  json_out_string(b, "kind", e->kind);
  json_out_string(b, "client", e->client_id);
  json_out_int(b, "thread", e->thread_id);
  json_out_string(b, "message_id", e->message_id);
  json_out_int(b, "ref", e->ref_id);
  json_out_string(b, "detail", e->detail);
  json_out_string(b, "prev_hash", e->prev_hash);
  json_out_string(b, "hash", e->hash);
  json_out_string(b, "deadline", deadline);
  json_builder_end_object(b);
}

static void cmd_trail_print_json(TrailCommand *cmd, GPtrArray *events)
{
  g_autoptr(JsonBuilder) builder = json_builder_new();
  json_builder_begin_array(builder);
  for (guint i = 0; i < events->len; i++)
    cmd_trail_json_event(cmd, builder, events->pdata[i]);
  json_builder_end_array(builder);
  g_autoptr(JsonNode) root = json_builder_get_root(builder);
  g_autofree char *text = json_to_string(root, TRUE);
  printf("%s\n", text);
}

static int cmd_trail_list(TrailCommand *cmd, const char *client, const char *since,
                          const char *format)
{
  g_autoptr(GDateTime) since_time = since ? cli_parse_time(since, cmd->zone) : NULL;
  if (since && !since_time) {
    fprintf(stderr, "keel trail: --since '%s' is not a date (2026-03-01) or ISO time\n", since);
    return EX_USAGE;
  }
  const char *client_id = client ? cmd_trail_client_id(cmd->config, client) : NULL;
  if (client && !client_id)
    return EX_USAGE;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) events = store_trail_list(cmd->store, client_id, since_time, &error);
  if (!events) {
    fprintf(stderr, "keel trail: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  if (g_strcmp0(format, "csv") == 0)
    cmd_trail_print_csv(cmd, events);
  else if (g_strcmp0(format, "json") == 0)
    cmd_trail_print_json(cmd, events);
  else
    cmd_trail_print_text(events, cmd->zone);
  return EX_OK;
}

/* "41:3fa2…" -> 41 and the hash; FALSE when it is not that shape. */
static gboolean cmd_trail_parse_pin(const char *pin, gint64 *id, const char **hash)
{
  const char *colon = pin ? strchr(pin, ':') : NULL;
  if (!colon || colon == pin || strlen(colon + 1) != 64)
    return FALSE;
  g_autofree char *number = g_strndup(pin, (gsize)(colon - pin));
  guint64 value = 0;
  if (!g_ascii_string_to_unsigned(number, 10, 1, G_MAXINT64, &value, NULL))
    return FALSE;
  *id = (gint64)value;
  *hash = colon + 1;
  return TRUE;
}

/* `keel trail head`: the count and head hash to keep outside the database. */
static int cmd_trail_head_command(TrailCommand *cmd)
{
  g_autoptr(GError) error = NULL;
  gint64 head = 0;
  g_autofree char *hash = NULL;
  if (!store_trail_head(cmd->store, &head, &hash, &error)) {
    fprintf(stderr, "keel trail head: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  printf("%" G_GINT64_FORMAT ":%s\n", head, hash ? hash : TRAIL_GENESIS_HASH);
  return EX_OK;
}

static int cmd_trail_verify_command(TrailCommand *cmd, const char *pin)
{
  g_autoptr(GError) error = NULL;
  gint64 count = 0, pin_id = 0;
  const char *pin_hash = NULL;
  if (pin && !cmd_trail_parse_pin(pin, &pin_id, &pin_hash)) {
    fprintf(stderr, "keel trail verify: --head takes COUNT:HASH as `keel trail head` prints "
                    "it (and every digest shows it)\n");
    return EX_USAGE;
  }
  if (!trail_verify(cmd->store, &count, &error)
      || (pin && !trail_pin_matches(cmd->store, pin_id, pin_hash, &error))) {
    fprintf(stderr, "keel trail verify: %s\n", error->message);
    return g_error_matches(error, KEEL_TRAIL_ERROR, KEEL_TRAIL_ERROR_BROKEN)
             ? EX_DATAERR : store_cli_exit_code(error);
  }
  gint64 head = 0;
  g_autofree char *hash = NULL;
  if (!store_trail_head(cmd->store, &head, &hash, &error)) {
    fprintf(stderr, "keel trail verify: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  printf("trail OK: %" G_GINT64_FORMAT " events, chain intact; newest event %" G_GINT64_FORMAT
         " has hash %s\n", count, head, hash ? hash : TRAIL_GENESIS_HASH);
  return EX_OK;
}

static int cmd_trail_dispatch(const KeelGlobals *globals, int argc, char **argv,
                              const char *database, const char *client, const char *since,
                              const char *format, const char *pin)
{
  gboolean verify = argc > 1 && g_strcmp0(argv[1], "verify") == 0;
  gboolean head = argc > 1 && g_strcmp0(argv[1], "head") == 0;
  if (argc > (verify || head ? 2 : 1)) {
    fprintf(stderr, "keel trail: unexpected argument '%s' (see --help)\n",
            argv[verify || head ? 2 : 1]);
    return EX_USAGE;
  }
  if (format && !g_strv_contains((const char *const[]){ "text", "csv", "json", NULL }, format)) {
    fprintf(stderr, "keel trail: --format must be text, csv or json\n");
    return EX_USAGE;
  }
  g_auto(TrailCommand) cmd = { 0 };
  int rc = cmd_trail_command_open(globals, database, &cmd);
  if (rc != EX_OK)
    return rc;
  if (head)
    return cmd_trail_head_command(&cmd);
  return verify ? cmd_trail_verify_command(&cmd, pin) : cmd_trail_list(&cmd, client, since, format);
}

int cmd_trail(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  g_autofree char *database = NULL, *client = NULL, *since = NULL, *format = NULL;
  g_autofree char *pin = NULL;
  const GOptionEntry entries[] = {
    { "head", 0, 0, G_OPTION_ARG_STRING, &pin,
      "verify: also check that this earlier head (COUNT:HASH, from a digest or "
      "`keel trail head`) is still in the chain", "COUNT:HASH" },
    { "client", 0, 0, G_OPTION_ARG_STRING, &client, "Only this client (id or name)", "NAME" },
    { "since", 0, 0, G_OPTION_ARG_STRING, &since, "Only events at or after DATE", "DATE" },
    { "format", 0, 0, G_OPTION_ARG_STRING, &format, "text (default), csv or json", "FORMAT" },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database,
      "Database file (default: the config's database)", "PATH" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, "[verify | head]",
                         "Prints the trail of instructions, confirmations and replies,\n"
                         "oldest first. `keel trail verify` checks its hash chain and its seal\n"
                         "(so deleting the newest events shows); `keel trail head` prints\n"
                         "COUNT:HASH to keep elsewhere, and `verify --head COUNT:HASH` checks it.",
                         entries, &globals))
    return EX_USAGE;
  int rc = cmd_trail_dispatch(&globals, argc, argv, database, client, since, format, pin);
  cli_globals_clear(&globals);
  return rc;
}
