/* daemon/cli/cmd-rescore.c: `keel rescore [--since DATE] [--database PATH] [--rules DIR]`:
 * re-runs the current rules over stored messages, after the VA edited them.
 *
 * For every stored message (oldest first, from --since on): parse the raw
 * bytes kept in the store, then score it with the history of its thread and
 * replace its verdict (verdict_score_and_save, shared with ingest). Mail the
 * VA sent is not scored. Then each touched thread's risk is recomputed as of
 * --now or the clock (verdict_update_thread_risk) and stored. All of it is one transaction: a failure changes nothing.
 * Prints the counts. Never fetches or sends mail.
 */
#include <stdio.h>
#include <string.h>
#include "daemon/record/rules-dir.h"
#include "daemon/base/commands.h"
#include "daemon/base/config.h"
#include "daemon/store/store.h"
#include "daemon/cli/store-cli.h"
#include "daemon/record/corrections.h"
#include "daemon/record/verdict.h"
#include "filters/score.h"

typedef struct {
  Store *store;            /* borrowed */
  const RuleSet *rules;    /* borrowed */
  ScoreContext base;       /* zone and business hours; history added per message */
  gsize max_size;
  const MessageLimits *limits; /* borrowed from the config, NULL: the defaults */
  GHashTable *threads;     /* owned: thread ids touched (gint64*) */
  guint scored, risky, outgoing, unparsable;
} Rescore;

static void cmd_rescore_count(Rescore *r, const StoreMessageRow *row, const ScoreResult *result)
{
  r->scored++;
  r->risky += result->risky;
  gint64 *thread = g_new(gint64, 1);
  *thread = row->thread_id;
  g_hash_table_add(r->threads, thread);
}

static gboolean cmd_rescore_message(const StoreMessageRow *row, gpointer data, GError **error)
{
  Rescore *r = data;
  if (row->direction == STORE_DIRECTION_OUT) {
    r->outgoing++;
    return TRUE;
  }
  gsize len = 0;
  const guint8 *raw = g_bytes_get_data(row->raw, &len);
  g_autoptr(KeelMessage) message = message_parse_limited(raw, len, row->received, r->max_size,
                                                         r->limits, NULL);
  if (!message) {
    r->unparsable++;
    return TRUE;
  }
  g_autoptr(ScoreResult) result = verdict_score_and_save(r->store, r->rules, &r->base, message,
                                                         row->row_id, row->thread_id, NULL, error);
  if (!result)
    return FALSE;
  cmd_rescore_count(r, row, result);
  return TRUE;
}

/* Recomputes and stores the risk of every touched thread as of `now`. */
static gboolean cmd_rescore_threads(Rescore *r, GDateTime *now, GError **error)
{
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init(&iter, r->threads);
  while (g_hash_table_iter_next(&iter, &key, NULL))
    if (!verdict_update_thread_risk(r->store, r->rules, *(gint64 *)key, now, NULL, error))
      return FALSE;
  return TRUE;
}

/* Scores everything in one transaction. Returns a sysexits code. */
static int cmd_rescore_all(Rescore *r, GDateTime *since, GDateTime *now)
{
  g_autoptr(GError) error = NULL;
  if (!store_begin(r->store, &error)) {
    fprintf(stderr, "keel rescore: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  if (!store_foreach_message(r->store, since, cmd_rescore_message, r, &error)
      || !cmd_rescore_threads(r, now, &error)) {
    store_rollback(r->store);
    fprintf(stderr, "keel rescore: %s (nothing changed)\n", error ? error->message : "failed");
    return error && error->domain == KEEL_STORE_ERROR ? store_cli_exit_code(error) : EX_SOFTWARE;
  }
  if (!store_commit(r->store, &error)) {
    fprintf(stderr, "keel rescore: %s (nothing changed)\n", error->message);
    return store_cli_exit_code(error);
  }
  printf("rescored %u messages (%u risky) in %u threads; skipped %u sent by the VA, "
         "%u that no longer parse\n", r->scored, r->risky, g_hash_table_size(r->threads),
         r->outgoing, r->unparsable);
  return EX_OK;
}

typedef struct {
  char *since;
  char *database;
  char *rules_dir;
} RescoreOptions;

static int cmd_rescore_run(const KeelGlobals *globals, const RescoreOptions *options)
{
  g_autoptr(GTimeZone) zone = cli_zone(globals);
  g_autoptr(GDateTime) since = options->since ? cli_parse_time(options->since, zone) : NULL;
  if (options->since && !since) {
    fprintf(stderr, "keel rescore: --since '%s' is not a date (e.g. 2026-03-01)\n", options->since);
    return EX_USAGE;
  }
  g_autoptr(GDateTime) now = cli_now(globals);
  if (!now)
    return EX_USAGE;
  g_autoptr(KeelConfig) config = NULL;
  int rc = store_cli_load_config(globals, &config);
  if (rc != EX_OK)
    return rc;
  g_autofree char *dir = verdict_rules_dir(options->rules_dir, config);
  g_autoptr(GError) error = NULL;
  g_autoptr(RuleSet) rules = rules_load_dir(dir, &error);
  if (!rules) {
    fprintf(stderr, "keel rescore: rules in %s refused:\n%s\n", dir, error->message);
    return EX_DATAERR;
  }
  g_autoptr(Store) store = store_cli_open(options->database, config, &rc);
  if (!store)
    return rc;
  if (!corrections_load(store, rules, &error)) {
    fprintf(stderr, "keel rescore: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  g_autoptr(GTimeZone) tz = g_time_zone_new_identifier(config ? config->timezone : "Europe/London");
  g_autoptr(GHashTable) threads = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
  Rescore r = { .store = store, .rules = rules, .threads = threads };
  verdict_context_init(&r.base, config, tz);
  r.max_size = config ? config->max_message_size : 0;
  r.limits = config ? &config->limits : NULL;
  return cmd_rescore_all(&r, since, now);
}

int cmd_rescore(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  RescoreOptions options = { 0 };
  const GOptionEntry entries[] = {
    { "since", 's', 0, G_OPTION_ARG_STRING, &options.since,
      "Only messages dated on or after DATE (2026-03-01 or an ISO 8601 time)", "DATE" },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &options.database,
      "Database file (default: the config's database)", "PATH" },
    { "rules", 'r', 0, G_OPTION_ARG_FILENAME, &options.rules_dir,
      "Rules directory (default: the config's, else /etc/keel/rules when it exists, else ./rules)", "DIR" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, NULL,
                         "Re-run the current rules over stored messages and threads.",
                         entries, &globals))
    return EX_USAGE;
  int rc = EX_USAGE;
  if (argc > 1)
    fprintf(stderr, "keel rescore: unexpected argument '%s' (see --help)\n", argv[1]);
  else
    rc = cmd_rescore_run(&globals, &options);
  cli_globals_clear(&globals);
  g_free(options.since);
  g_free(options.database);
  g_free(options.rules_dir);
  return rc;
}
