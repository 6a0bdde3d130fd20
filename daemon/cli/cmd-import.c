/* daemon/cli/cmd-import.c: `keel import FILE.eml|MAILDIR|DIR... [--database PATH]`
 * stores messages offline, through the same pipeline as the IMAP sync.
 *
 * Arguments: a file is one message; a Maildir (a folder with cur/ or new/)
 * gives every file in cur/ and new/; any other folder gives its *.eml files.
 * Files are taken in name order. Mail From one of the config's account users
 * is stored as sent ('out'), the rest as received ('in'). A file that cannot
 * be read or is not a message gets a one-line error naming it and the rest
 * still run; a store failure stops the import. Messages are committed in
 * batches (one fsync per batch, not per message).
 *
 * Prints "imported N, duplicates N, failed N". Exit: EX_OK, EX_DATAERR when a
 * file failed, EX_CONFIG / EX_USAGE / store codes otherwise.
 * Must not: connect anywhere, plan replies.
 */
#include <stdio.h>
#include <glib/gstdio.h>
#include "daemon/ingest/pipeline.h"
#include "daemon/record/verdict.h"
#include "daemon/cli/store-cli.h"

#define IMPORT_BATCH 500

typedef struct {
  Store *store;        /* borrowed */
  Pipeline *pipeline;  /* borrowed */
  guint imported, duplicates, failed, in_batch;
} ImportRun;

static gint cmd_import_compare_names(gconstpointer a, gconstpointer b)
{
  return g_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

/* Adds the regular files of `dir` to `files` (only *.eml when `eml_only`). */
static void cmd_import_list_dir(const char *dir, gboolean eml_only, GPtrArray *files)
{
  g_autoptr(GDir) handle = g_dir_open(dir, 0, NULL);
  if (!handle)
    return;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *name;
  while ((name = g_dir_read_name(handle)))
    if (name[0] != '.' && (!eml_only || g_str_has_suffix(name, ".eml")))
      g_ptr_array_add(names, g_build_filename(dir, name, NULL));
  g_ptr_array_sort(names, cmd_import_compare_names);
  for (guint i = 0; i < names->len; i++)
    if (g_file_test(names->pdata[i], G_FILE_TEST_IS_REGULAR))
      g_ptr_array_add(files, g_strdup(names->pdata[i]));
}

/* The files an argument stands for. A path that is neither file nor folder
 * is kept as is, so that reading it reports the problem. */
static void cmd_import_expand(const char *path, GPtrArray *files)
{
  if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
    g_ptr_array_add(files, g_strdup(path));
    return;
  }
  g_autofree char *cur = g_build_filename(path, "cur", NULL);
  g_autofree char *new_dir = g_build_filename(path, "new", NULL);
  if (g_file_test(cur, G_FILE_TEST_IS_DIR) || g_file_test(new_dir, G_FILE_TEST_IS_DIR)) {
    cmd_import_list_dir(cur, FALSE, files);
    cmd_import_list_dir(new_dir, FALSE, files);
  } else {
    cmd_import_list_dir(path, TRUE, files);
  }
}

/* When the file arrived: its modification time (Maildir delivery time). */
static GDateTime *cmd_import_received(const char *path)
{
  GStatBuf st;
  if (g_stat(path, &st) != 0)
    return g_date_time_new_now_utc();
  return g_date_time_new_from_unix_utc(st.st_mtime);
}

/* Commits the batch when it is full (or `force`), and opens the next one. */
static gboolean cmd_import_batch_turn(ImportRun *run, gboolean force, GError **error)
{
  if (!force && run->in_batch < IMPORT_BATCH)
    return TRUE;
  run->in_batch = 0;
  if (!store_commit(run->store, error))
    return FALSE;
  return force || store_begin(run->store, error);
}

/* One file. Returns FALSE only for a store failure (which stops the import). */
static gboolean cmd_import_file(ImportRun *run, const char *path, GError **error)
{
  g_autoptr(GError) file_error = NULL;
  g_autoptr(GMappedFile) mapped = g_mapped_file_new(path, FALSE, &file_error);
  if (!mapped) {
    fprintf(stderr, "keel import: %s: %s\n", path,
            g_file_test(path, G_FILE_TEST_EXISTS) ? file_error->message
                                                  : "no such file or folder");
    run->failed++;
    return TRUE;
  }
  g_autoptr(GBytes) raw = g_mapped_file_get_bytes(mapped);
  g_autoptr(GDateTime) received = cmd_import_received(path);
  /* Imported mail is history: stored and scored, never answered. */
  StoreOrigin origin = { .direction = STORE_DIRECTION_IN, .first_sync = TRUE };
  StoreAddResult result = STORE_FAILED;
  if (!pipeline_ingest(run->pipeline, &origin, raw, received, &result, NULL, &file_error)) {
    if (file_error->domain == KEEL_STORE_ERROR) {
      g_propagate_prefixed_error(error, g_steal_pointer(&file_error), "%s: ", path);
      return FALSE;
    }
    fprintf(stderr, "keel import: %s: %s\n", path, file_error->message);
    run->failed++;
    return TRUE;
  }
  if (result == STORE_ADDED)
    run->imported++;
  else
    run->duplicates++;
  run->in_batch++;
  return cmd_import_batch_turn(run, FALSE, error);
}

static gboolean cmd_import_all(ImportRun *run, GPtrArray *files, GError **error)
{
  if (!store_begin(run->store, error))
    return FALSE;
  for (guint i = 0; i < files->len; i++) {
    if (!cmd_import_file(run, files->pdata[i], error)) {
      store_rollback(run->store);
      return FALSE;
    }
  }
  return cmd_import_batch_turn(run, TRUE, error);
}

/* Runs the import of `argv[1..]` with the options already parsed. */
static int cmd_import_run(const KeelGlobals *globals, const char *database,
                          const char *rules_option, int argc, char **argv)
{
  g_autoptr(KeelConfig) config = NULL;
  int rc = store_cli_load_config_with_rules(globals, rules_option, &config);
  if (rc != EX_OK)
    return rc;
  g_autoptr(Store) store = store_cli_open(database, config, &rc);
  if (!store)
    return rc;
  g_autoptr(Pipeline) pipeline = pipeline_new(config, store);
  pipeline_set_direction_from_sender(pipeline, TRUE);
  g_autofree char *rules_dir = verdict_rules_dir(rules_option, config);
  g_autoptr(RuleSet) rules = NULL;
  g_autoptr(InstructionRules) instruction_rules = NULL;
  g_autoptr(GError) rules_error = NULL;
  if (verdict_load_rules(rules_dir, &rules, &instruction_rules, &rules_error))
    pipeline_set_rules(pipeline, rules, instruction_rules);
  else
    fprintf(stderr, "keel import: rules in %s not loaded, messages stored unscored "
            "(fix them, then keel rescore):\n%s\n", rules_dir, rules_error->message);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
  for (int i = 1; i < argc; i++)
    cmd_import_expand(argv[i], files);
  ImportRun run = { .store = store, .pipeline = pipeline };
  g_autoptr(GError) error = NULL;
  gboolean ok = cmd_import_all(&run, files, &error);
  printf("imported %u, duplicates %u, failed %u\n", run.imported, run.duplicates, run.failed);
  if (!ok) {
    fprintf(stderr, "keel import: stopped: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  return run.failed > 0 ? EX_DATAERR : EX_OK;
}

int cmd_import(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  g_autofree char *database = NULL;
  g_autofree char *rules_dir = NULL;
  const GOptionEntry entries[] = {
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database,
      "Database file (default: the config's database)", "PATH" },
    { "rules", 'r', 0, G_OPTION_ARG_FILENAME, &rules_dir,
      "Rules directory (default: the config's, else /etc/keel/rules when it exists, else ./rules)", "DIR" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, "FILE.eml|MAILDIR|DIR...",
                         "Stores messages offline: .eml files, Maildirs (cur/ and new/)\n"
                         "and folders of .eml files. Prints what it stored.",
                         entries, &globals))
    return EX_USAGE;
  int rc = EX_USAGE;
  if (argc < 2)
    fprintf(stderr, "keel import: name at least one FILE.eml or MAILDIR (see --help)\n");
  else
    rc = cmd_import_run(&globals, database, rules_dir, argc, argv);
  cli_globals_clear(&globals);
  return rc;
}
