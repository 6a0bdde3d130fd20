/* daemon/cli/cmd-search.c: `keel search [--json] [--limit N] QUERY...` finds
 * stored messages through the FTS5 index over subject, new text and quoted
 * text. Every word must match (each taken literally; `word*` is a prefix).
 * Prints date, sender, subject and the match in context, best first.
 * Must not: change the store.
 */
#include <stdio.h>
#include <json-glib/json-glib.h>
#include "daemon/cli/store-cli.h"
#include "filters/json-out.h"

static void cmd_search_print_text(GPtrArray *hits, GTimeZone *zone)
{
  if (hits->len == 0)
    printf("no message matches\n");
  for (guint i = 0; i < hits->len; i++) {
    const StoreSearchHit *hit = hits->pdata[i];
    g_autoptr(GDateTime) local = g_date_time_to_timezone(hit->date, zone);
    g_autofree char *when = g_date_time_format(local, "%Y-%m-%d %H:%M");
    g_autofree char *snippet = g_strdup(hit->snippet ? hit->snippet : "");
    g_strdelimit(snippet, "\r\n\t", ' ');
    printf("%s  %s  %s\n    <%s>\n    %s\n", when, hit->from_address ? hit->from_address : "-",
           hit->subject, hit->message_id, snippet);
  }
}

static void cmd_search_print_json(GPtrArray *hits)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_array(b);
  for (guint i = 0; i < hits->len; i++) {
    const StoreSearchHit *hit = hits->pdata[i];
    g_autofree char *date = g_date_time_format_iso8601(hit->date);
    json_builder_begin_object(b);
    json_out_string(b, "message_id", hit->message_id);
    json_out_string(b, "date", date);
    json_out_string(b, "from", hit->from_address);
    json_out_string(b, "client", hit->client_id);
    json_out_string(b, "subject", hit->subject);
    json_out_string(b, "snippet", hit->snippet);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *text = json_to_string(root, TRUE);
  printf("%s\n", text);
}

static int cmd_search_run(const KeelGlobals *globals, const char *database, const char *query,
                          int limit, gboolean json)
{
  g_autoptr(KeelConfig) config = NULL;
  int rc = store_cli_load_config(globals, &config);
  if (rc != EX_OK)
    return rc;
  g_autoptr(Store) store = store_cli_open(database, config, &rc);
  if (!store)
    return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) hits = store_search(store, query, (guint)MAX(limit, 0), &error);
  if (!hits) {
    fprintf(stderr, "keel search: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  g_autoptr(GTimeZone) zone = g_time_zone_new_identifier(config ? config->timezone : "UTC");
  if (!zone)
    zone = g_time_zone_new_utc();
  if (json)
    cmd_search_print_json(hits);
  else
    cmd_search_print_text(hits, zone);
  return hits->len > 0 ? EX_OK : EX_NOINPUT;
}

int cmd_search(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  g_autofree char *database = NULL;
  gboolean json = FALSE;
  int limit = 20;
  const GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "A JSON array of matches", NULL },
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "At most N matches (default 20)", "N" },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database,
      "Database file (default: the config's database)", "PATH" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, "QUERY...",
                         "Searches stored messages (subject, new text, quoted text).\n"
                         "Exit 0 with matches, 66 (EX_NOINPUT) with none.",
                         entries, &globals))
    return EX_USAGE;
  int rc = EX_USAGE;
  if (argc < 2) {
    fprintf(stderr, "keel search: give the words to look for (see --help)\n");
  } else {
    g_autofree char *query = g_strjoinv(" ", argv + 1);
    rc = cmd_search_run(&globals, database, query, limit, json);
  }
  cli_globals_clear(&globals);
  return rc;
}
