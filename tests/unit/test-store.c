/* tests/unit/test-store.c: the SQLite store (daemon/store*.c) and the
 * pipeline that feeds it: migrations, exactly-once storing (duplicates, the
 * folder's last UID moving only with the message), threading of the dev
 * corpus (../shared/corpus/dev, pairs from its README), verdicts, listings.
 * Every test works in a fresh temporary database. */
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "daemon/base/config.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/store/store.h"
#include "filters/score.h"
#include "tests/unit/test-db.h"

typedef struct {
  char *dir;    /* owned temporary folder */
  char *path;   /* owned: dir/keel.db */
  Store *store; /* owned, open on path */
} StoreFixture;

static void fixture_setup(StoreFixture *f, gconstpointer data)
{
  (void)data;
  test_db_create("keel-store", &f->dir, &f->path, &f->store);
}

static void fixture_teardown(StoreFixture *f, gconstpointer data)
{
  (void)data;
  test_db_remove(&f->dir, &f->path, &f->store);
}

/* A small message; `extra` holds more header lines ("" for none). */
static GBytes *make_raw(const char *message_id, const char *from, const char *subject,
                        const char *date, const char *extra)
{
  char *text = g_strdup_printf("From: %s\r\nTo: Jo Parker <jo@brightdesk-va.co.uk>\r\n"
                               "Subject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n%s"
                               "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
                               "Hello Jo,\r\n\r\nA short note.\r\n",
                               from, subject, date, message_id, extra);
  return g_bytes_new_take(text, strlen(text));
}

static KeelMessage *parse(GBytes *raw)
{
  gsize size = 0;
  const guint8 *data = g_bytes_get_data(raw, &size);
  g_autoptr(GError) error = NULL;
  KeelMessage *message = message_parse(data, size, NULL, 0, &error);
  g_assert_no_error(error);
  return message;
}

static StoreAddResult add(StoreFixture *f, const StoreOrigin *origin, GBytes *raw,
                          gint64 *row, gint64 *thread)
{
  g_autoptr(KeelMessage) message = parse(raw);
  g_autoptr(GError) error = NULL;
  StoreAddResult result = store_add_message(f->store, origin, raw, message, row, thread, &error);
  g_assert_no_error(error);
  return result;
}

/* ---- migrations ------------------------------------------------------ */

static void test_migrate_empty(StoreFixture *f, gconstpointer data)
{
  (void)data;
  g_assert_cmpint(store_schema_version(f->store), ==, store_schema_latest());
  g_assert_cmpint(test_db_int(f->path, "PRAGMA user_version"), ==, store_schema_latest());
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name"
                             " IN ('accounts', 'folders', 'clients', 'threads', 'messages',"
                             " 'message_refs', 'scores', 'rule_hits')"), ==, 8);
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open(f->path, &db), ==, SQLITE_OK);
  sqlite3_stmt *stmt = NULL;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL);
  g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
  g_assert_cmpstr((const char *)sqlite3_column_text(stmt, 0), ==, "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

static void test_migrate_reopen(StoreFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GBytes) raw = make_raw("a@x.example", "bob@acme.example", "Hi",
                                   "Mon, 02 Mar 2026 09:00:00 +0000", "");
  StoreOrigin origin = { .direction = STORE_DIRECTION_IN };
  g_assert_cmpint(add(f, &origin, raw, NULL, NULL), ==, STORE_ADDED);
  g_clear_pointer(&f->store, store_close);
  g_autoptr(GError) error = NULL;
  f->store = store_open(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(store_schema_version(f->store), ==, store_schema_latest());
  g_assert_cmpint(test_db_int(f->path, "PRAGMA user_version"), ==, store_schema_latest());
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM messages"), ==, 1);
}

static void test_migrate_newer(StoreFixture *f, gconstpointer data)
{
  (void)data;
  g_clear_pointer(&f->store, store_close);
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open(f->path, &db), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close(db);
  g_autoptr(GError) error = NULL;
  Store *store = store_open(f->path, &error);
  g_assert_null(store);
  g_assert_error(error, KEEL_STORE_ERROR, KEEL_STORE_ERROR_SCHEMA);
  g_assert_nonnull(strstr(error->message, "99"));
}

static void test_open_fails(void)
{
  g_autoptr(GError) error = NULL;
  Store *store = store_open("/nonexistent-dir/keel.db", &error);
  g_assert_null(store);
  g_assert_error(error, KEEL_STORE_ERROR, KEEL_STORE_ERROR_OPEN);
  g_assert_nonnull(strstr(error->message, "/nonexistent-dir/keel.db"));
}

static void assert_private(const char *path)
{
  GStatBuf st;
  g_assert_cmpint(g_stat(path, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);
}

/* Under umask 022 the database, its -wal and -shm files are 0600; a file an
 * older keel left 0644 is narrowed when it is opened again. */
static void test_open_private(void)
{
  mode_t old = umask(022);
  g_autofree char *dir = g_dir_make_tmp("keel-mode-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "keel.db", NULL);
  g_autofree char *wal = g_strconcat(path, "-wal", NULL);
  g_autofree char *shm = g_strconcat(path, "-shm", NULL);
  g_autoptr(GError) error = NULL;
  Store *store = store_open(path, &error);
  g_assert_no_error(error);
  g_autoptr(GBytes) raw = make_raw("m@x.example", "bob@acme.example", "Hi",
                                   "Mon, 02 Mar 2026 09:00:00 +0000", "");
  g_autoptr(KeelMessage) message = parse(raw);
  StoreOrigin origin = { .direction = STORE_DIRECTION_IN };
  g_assert_cmpint(store_add_message(store, &origin, raw, message, NULL, NULL, &error), ==,
                  STORE_ADDED);
  assert_private(path);
  assert_private(wal);
  assert_private(shm);
  store_close(store);
  g_assert_cmpint(g_chmod(path, 0644), ==, 0);
  g_autofree char *copy = g_strconcat(path, "-wal", NULL);
  g_assert_true(g_file_set_contents(copy, "", 0, NULL));
  g_assert_cmpint(g_chmod(copy, 0644), ==, 0);
  store = store_open(path, &error);
  g_assert_no_error(error);
  assert_private(path);
  assert_private(wal);
  store_close(store);
  const char *names[] = { path, wal, shm };
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
    g_unlink(names[i]);
  g_rmdir(dir);
  umask(old);
}

/* ---- folders and exactly-once ----------------------------------------- */

static void test_folder_state(StoreFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  gint64 id = store_folder_ensure(f->store, "main", "INBOX", &error);
  g_assert_no_error(error);
  g_assert_cmpint(id, >, 0);
  g_assert_cmpint(store_folder_ensure(f->store, "main", "INBOX", &error), ==, id);
  g_assert_cmpint(store_folder_ensure(f->store, "main", "Sent", &error), !=, id);
  guint32 validity = 1, last = 1;
  g_assert_true(store_folder_state(f->store, id, &validity, &last, &error));
  g_assert_cmpuint(validity, ==, 0);
  g_assert_cmpuint(last, ==, 0);
  g_assert_true(store_folder_reset(f->store, id, 777, &error));
  g_assert_true(store_folder_advance(f->store, id, 40, &error));
  g_assert_true(store_folder_advance(f->store, id, 12, &error)); /* never backwards */
  g_assert_true(store_folder_state(f->store, id, &validity, &last, &error));
  g_assert_cmpuint(validity, ==, 777);
  g_assert_cmpuint(last, ==, 40);
  g_assert_true(store_folder_reset(f->store, id, 778, &error));
  g_assert_true(store_folder_state(f->store, id, &validity, &last, &error));
  g_assert_cmpuint(last, ==, 0);
  g_autoptr(GPtrArray) rows = store_list_folders(f->store, &error);
  g_assert_cmpuint(rows->len, ==, 2);
  g_assert_false(store_folder_state(f->store, 9999, NULL, NULL, &error));
  g_assert_error(error, KEEL_STORE_ERROR, KEEL_STORE_ERROR_FAILED);
}

static void test_duplicate(StoreFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  gint64 folder = store_folder_ensure(f->store, "main", "INBOX", &error);
  g_autoptr(GBytes) raw = make_raw("dup@x.example", "bob@acme.example", "Rota",
                                   "Mon, 02 Mar 2026 09:00:00 +0000", "");
  StoreOrigin origin = { .folder_id = folder, .uid = 5, .direction = STORE_DIRECTION_IN };
  gint64 row1 = 0, thread1 = 0, row2 = 0, thread2 = 0;
  g_assert_cmpint(add(f, &origin, raw, &row1, &thread1), ==, STORE_ADDED);
  origin.uid = 9;
  g_assert_cmpint(add(f, &origin, raw, &row2, &thread2), ==, STORE_DUPLICATE);
  g_assert_cmpint(row1, ==, row2);
  g_assert_cmpint(thread1, ==, thread2);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM messages"), ==, 1);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM threads"), ==, 1);
  g_assert_cmpint(test_db_int(f->path, "SELECT uid FROM messages"), ==, 5);
  guint32 last = 0;
  g_assert_true(store_folder_state(f->store, folder, NULL, &last, &error));
  g_assert_cmpuint(last, ==, 9); /* a duplicate still advances the UID */
}

/* The caller's transaction rolls back: neither the row nor the UID moved. */
static void test_rollback(StoreFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  gint64 folder = store_folder_ensure(f->store, "main", "INBOX", &error);
  g_autoptr(GBytes) raw = make_raw("rb@x.example", "bob@acme.example", "Rota",
                                   "Mon, 02 Mar 2026 09:00:00 +0000", "");
  StoreOrigin origin = { .folder_id = folder, .uid = 7, .direction = STORE_DIRECTION_IN };
  g_assert_true(store_begin(f->store, &error));
  g_assert_cmpint(add(f, &origin, raw, NULL, NULL), ==, STORE_ADDED);
  store_rollback(f->store);
  guint32 last = 1;
  g_assert_true(store_folder_state(f->store, folder, NULL, &last, &error));
  g_assert_cmpuint(last, ==, 0);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM messages"), ==, 0);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM threads"), ==, 0);
  g_assert_cmpint(add(f, &origin, raw, NULL, NULL), ==, STORE_ADDED);
  g_assert_true(store_folder_state(f->store, folder, NULL, &last, &error));
  g_assert_cmpuint(last, ==, 7);
}

/* A failure inside store_add_message (a folder that does not exist breaks
 * the foreign key after the thread was made) leaves nothing behind. */
static void test_failure_inside(StoreFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GBytes) raw = make_raw("fail@x.example", "bob@acme.example", "Rota",
                                   "Mon, 02 Mar 2026 09:00:00 +0000", "");
  g_autoptr(KeelMessage) message = parse(raw);
  StoreOrigin origin = { .folder_id = 4242, .uid = 3, .direction = STORE_DIRECTION_IN,
                         .client_id = "acme" };
  g_autoptr(GError) error = NULL;
  StoreAddResult result = store_add_message(f->store, &origin, raw, message, NULL, NULL, &error);
  g_assert_cmpint(result, ==, STORE_FAILED);
  g_assert_error(error, KEEL_STORE_ERROR, KEEL_STORE_ERROR_FAILED);
  g_assert_nonnull(strstr(error->message, "fail@x.example"));
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM messages"), ==, 0);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM threads"), ==, 0);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM clients"), ==, 0);
  g_clear_error(&error);
  origin.folder_id = 0; /* the store still works */
  g_assert_cmpint(add(f, &origin, raw, NULL, NULL), ==, STORE_ADDED);
}

/* Inside a caller's transaction, two messages commit together. */
static void test_nested(StoreFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) one = make_raw("n1@x.example", "bob@acme.example", "A",
                                   "Mon, 02 Mar 2026 09:00:00 +0000", "");
  g_autoptr(GBytes) two = make_raw("n2@x.example", "bob@acme.example", "B",
                                   "Mon, 02 Mar 2026 10:00:00 +0000", "");
  StoreOrigin origin = { .direction = STORE_DIRECTION_IN };
  g_assert_true(store_begin(f->store, &error));
  g_assert_cmpint(add(f, &origin, one, NULL, NULL), ==, STORE_ADDED);
  g_assert_cmpint(add(f, &origin, two, NULL, NULL), ==, STORE_ADDED);
  g_assert_cmpint(add(f, &origin, one, NULL, NULL), ==, STORE_DUPLICATE);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM messages"), ==, 0); /* not committed yet */
  g_assert_true(store_commit(f->store, &error));
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM messages"), ==, 2);
}

/* ---- threading: the dev corpus ---------------------------------------- */

#define CORPUS_SIZE 40

/* Imports every dev-corpus file through the pipeline with the corpus's
 * clients; rows[i] is the row of file i+1. */
static void import_corpus(StoreFixture *f, gint64 rows[CORPUS_SIZE], gint64 threads[CORPUS_SIZE])
{
  g_autofree char *conf = g_test_build_filename(G_TEST_DIST, "data", "store", "corpus.conf",
                                                NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load(conf, &error);
  g_assert_no_error(error);
  g_autoptr(Pipeline) pipeline = pipeline_new(config, f->store);
  pipeline_set_direction_from_sender(pipeline, TRUE);
  const char *shared = g_getenv("KEEL_SHARED");
  for (int i = 0; i < CORPUS_SIZE; i++) {
    g_autofree char *name = g_strdup_printf("%03d.eml", i + 1);
    g_autofree char *path = g_build_filename(shared, "corpus", "dev", name, NULL);
    g_autofree char *text = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(path, &text, &len, NULL));
    g_autoptr(GBytes) raw = g_bytes_new(text, len);
    StoreOrigin origin = { .direction = STORE_DIRECTION_IN };
    StoreAddResult result = STORE_FAILED;
    g_assert_true(pipeline_ingest(pipeline, &origin, raw, NULL, &result, &rows[i], &error));
    g_assert_no_error(error);
    g_assert_cmpint(result, ==, STORE_ADDED);
  }
  for (int i = 0; i < CORPUS_SIZE; i++) {
    g_autofree char *sql = g_strdup_printf("SELECT thread_id FROM messages WHERE id = %"
                                           G_GINT64_FORMAT, rows[i]);
    threads[i] = test_db_int(f->path, sql);
  }
}

/* The groups of files that are one thread (README: In-Reply-To pairs). */
static const int corpus_groups[][4] = {
  { 1, 10 }, { 4, 5 }, { 8, 12 }, { 13, 15, 18 }, { 16, 28 }, { 24, 35 }, { 25, 26 },
};

static int corpus_group_of(int file)
{
  for (gsize g = 0; g < G_N_ELEMENTS(corpus_groups); g++)
    for (int k = 0; k < 4 && corpus_groups[g][k]; k++)
      if (corpus_groups[g][k] == file)
        return (int)g;
  return -1;
}

static void test_corpus_threads(StoreFixture *f, gconstpointer data)
{
  (void)data;
  if (!g_getenv("KEEL_SHARED")) {
    g_test_skip("KEEL_SHARED not set");
    return;
  }
  gint64 rows[CORPUS_SIZE], threads[CORPUS_SIZE];
  import_corpus(f, rows, threads);
  for (int a = 1; a <= CORPUS_SIZE; a++) {
    for (int b = a + 1; b <= CORPUS_SIZE; b++) {
      int group = corpus_group_of(a);
      gboolean expected = group >= 0 && group == corpus_group_of(b);
      if ((threads[a - 1] == threads[b - 1]) != expected)
        g_test_message("files %03d and %03d: same thread %d, expected %d", a, b,
                       threads[a - 1] == threads[b - 1], expected);
      g_assert_cmpint(threads[a - 1] == threads[b - 1], ==, expected);
    }
  }
  /* 021 and 034 quote Jo's mail with "RE:" subjects but no earlier mail of
   * theirs has that subject: each starts a thread, with its client. */
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM threads t JOIN messages m ON m.thread_id ="
                             " t.id WHERE m.id IN (21, 34) AND t.client_id IS NOT NULL"), ==, 2);
}

/* A reply without In-Reply-To ("RE: Receipts", like 021/034) joins the same
 * client's thread by subject; another client's, or one too late, does not. */
static void test_subject_threading(StoreFixture *f, gconstpointer data)
{
  (void)data;
  if (!g_getenv("KEEL_SHARED")) {
    g_test_skip("KEEL_SHARED not set");
    return;
  }
  gint64 rows[CORPUS_SIZE], threads[CORPUS_SIZE];
  import_corpus(f, rows, threads);
  StoreOrigin kestrel = { .direction = STORE_DIRECTION_IN, .client_id = "kestrel" };
  StoreOrigin other = { .direction = STORE_DIRECTION_IN, .client_id = "beckett" };
  g_autoptr(GBytes) same = make_raw("s1@x.example", "darren.whitlock@kestrelhomes.co.uk",
                                    "RE: [External] Fwd: receipts",
                                    "Wed, 11 Mar 2026 09:00:00 +0000", "");
  g_autoptr(GBytes) foreign = make_raw("s2@x.example", "tom@beckettbrand.co.uk",
                                       "Re: Receipts", "Wed, 11 Mar 2026 09:00:00 +0000", "");
  g_autoptr(GBytes) late = make_raw("s3@x.example", "darren.whitlock@kestrelhomes.co.uk",
                                    "RE: Receipts", "Mon, 15 Jun 2026 09:00:00 +0100", "");
  gint64 thread = 0;
  g_assert_cmpint(add(f, &kestrel, same, NULL, &thread), ==, STORE_ADDED);
  g_assert_cmpint(thread, ==, threads[12]); /* 013 "Receipts" */
  g_assert_cmpint(add(f, &other, foreign, NULL, &thread), ==, STORE_ADDED);
  g_assert_cmpint(thread, !=, threads[12]);
  g_assert_cmpint(add(f, &kestrel, late, NULL, &thread), ==, STORE_ADDED);
  g_assert_cmpint(thread, !=, threads[12]);
}

/* A reply stored before the message it answers: the parent, when it comes,
 * joins the reply's thread (found through the reply's references). */
static void test_out_of_order(StoreFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GBytes) reply = make_raw("child@x.example", "bob@acme.example", "Re: Keys",
                                     "Tue, 03 Mar 2026 09:00:00 +0000",
                                     "In-Reply-To: <parent@x.example>\r\n");
  g_autoptr(GBytes) parent = make_raw("parent@x.example", "other@elsewhere.example", "Door keys",
                                      "Mon, 02 Mar 2026 09:00:00 +0000", "");
  StoreOrigin origin = { .direction = STORE_DIRECTION_IN };
  gint64 t1 = 0, t2 = 0;
  g_assert_cmpint(add(f, &origin, reply, NULL, &t1), ==, STORE_ADDED);
  g_assert_cmpint(add(f, &origin, parent, NULL, &t2), ==, STORE_ADDED);
  g_assert_cmpint(t1, ==, t2);
}

static void test_list_threads(StoreFixture *f, gconstpointer data)
{
  (void)data;
  if (!g_getenv("KEEL_SHARED")) {
    g_test_skip("KEEL_SHARED not set");
    return;
  }
  gint64 rows[CORPUS_SIZE], threads[CORPUS_SIZE];
  import_corpus(f, rows, threads);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = store_list_threads(f->store, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(list->len, ==, CORPUS_SIZE - 8); /* 7 groups hold 15 files */
  gint64 total = 0;
  for (guint i = 0; i < list->len; i++) {
    const StoreThreadRow *row = list->pdata[i];
    total += row->message_count;
    if (i > 0)
      g_assert_cmpint(g_date_time_compare(((StoreThreadRow *)list->pdata[i - 1])->last_date,
                                          row->last_date), >=, 0);
    if (row->id == threads[12]) {
      g_assert_cmpint(row->message_count, ==, 3);
      g_assert_cmpstr(row->client, ==, "Kestrel Homes Ltd");
      g_assert_cmpstr(row->client_id, ==, "kestrel");
      g_assert_cmpstr(row->subject, ==, "Receipts");
    }
    if (row->id == threads[1]) /* 002, the payment provider: no client */
      g_assert_null(row->client);
  }
  g_assert_cmpint(total, ==, CORPUS_SIZE);
}

/* ---- verdicts, foreach, accounts -------------------------------------- */

static void save_verdict(StoreFixture *f, gint64 row, double risk, guint hit_count)
{
  g_autoptr(GHashTable) scores = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
  g_hash_table_insert(scores, "tone", g_memdup2(&risk, sizeof risk));
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < hit_count; i++) {
    StoreHit *hit = g_new0(StoreHit, 1);
    *hit = (StoreHit){ "shouting", "tone", 3, "NOW", 10, 13, "text" };
    g_ptr_array_add(hits, hit);
  }
  g_autoptr(GError) error = NULL;
  g_assert_true(store_save_verdict(f->store, row, scores, hits, risk, risk > 5, 2, "none",
                                   "shouting", &error));
  g_assert_no_error(error);
}

static void test_verdict(StoreFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GBytes) raw = make_raw("v@x.example", "bob@acme.example", "Now",
                                   "Mon, 02 Mar 2026 09:00:00 +0000", "");
  StoreOrigin origin = { .direction = STORE_DIRECTION_IN };
  gint64 row = 0, thread = 0;
  add(f, &origin, raw, &row, &thread);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) before = store_thread_entries(f->store, thread, &error);
  g_assert_cmpuint(before->len, ==, 1);
  g_assert_false(((StoreThreadEntry *)before->pdata[0])->scored);
  save_verdict(f, row, 7.5, 3);
  save_verdict(f, row, 6.0, 2); /* replaces, does not add */
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM rule_hits"), ==, 2);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM scores"), ==, 1);
  g_assert_cmpint(test_db_int(f->path, "SELECT risky FROM messages"), ==, 1);
  g_autoptr(GPtrArray) after = store_thread_entries(f->store, thread, &error);
  const StoreThreadEntry *entry = after->pdata[0];
  g_assert_true(entry->scored);
  g_assert_cmpfloat(entry->risk, ==, 6.0);
  g_assert_cmpint(entry->direction, ==, STORE_DIRECTION_IN);
  g_assert_true(store_set_thread_risk(f->store, thread, 6.5, &error));
  g_autoptr(GPtrArray) list = store_list_threads(f->store, &error);
  g_assert_cmpfloat(((StoreThreadRow *)list->pdata[0])->risk, ==, 6.5);
}

/* The history counted in SQL (store_thread_history) is what
 * score_context_add_history() makes of every message of the thread, as of
 * each message's date; a thread risk over the last 40 half-lives is the one
 * over all messages. */
static void test_thread_history(StoreFixture *f, gconstpointer data)
{
  (void)data;
  /* in, in, out, in (same second as the out, later id), in, in 30 h later, out, in */
  const int hours[] = { 0, 2, 5, 5, 6, 36, 40, 41 };
  const gboolean out[] = { FALSE, FALSE, TRUE, FALSE, FALSE, FALSE, TRUE, FALSE };
  gint64 thread = 0;
  for (guint i = 0; i < G_N_ELEMENTS(hours); i++) {
    g_autoptr(GDateTime) date = g_date_time_new_utc(2026, 3, 2, 0, 0, 0);
    g_autoptr(GDateTime) at = g_date_time_add_hours(date, hours[i]);
    g_autofree char *when = g_date_time_format(at, "%a, %d %b %Y %H:%M:%S +0000");
    g_autofree char *id = g_strdup_printf("h%u@x.example", i);
    g_autofree char *extra = i ? g_strdup("In-Reply-To: <h0@x.example>\r\n") : g_strdup("");
    g_autoptr(GBytes) raw = make_raw(id, out[i] ? "jo@brightdesk-va.co.uk" : "bob@acme.example",
                                     "Receipts", when, extra);
    StoreOrigin origin = { .direction = out[i] ? STORE_DIRECTION_OUT : STORE_DIRECTION_IN };
    gint64 row = 0;
    add(f, &origin, raw, &row, &thread);
    save_verdict(f, row, i % 3 == 0 ? 4.0 : 0.2, 1);
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = store_thread_entries(f->store, thread, &error);
  g_assert_cmpuint(all->len, ==, G_N_ELEMENTS(hours));
  g_autoptr(GArray) entries = g_array_new(FALSE, TRUE, sizeof(ScoreThreadEntry));
  for (guint i = 0; i < all->len; i++) {
    const StoreThreadEntry *e = all->pdata[i];
    ScoreThreadEntry item = { e->date, e->direction == STORE_DIRECTION_OUT, e->risk };
    g_array_append_val(entries, item);
  }
  for (guint i = 0; i < all->len; i++) {
    GDateTime *date = ((StoreThreadEntry *)all->pdata[i])->date;
    ScoreContext expected;
    score_context_init(&expected);
    score_context_add_history(&expected, (const ScoreThreadEntry *)(void *)entries->data,
                              entries->len, date);
    StoreThreadHistory history = { 0 };
    g_assert_true(store_thread_history(f->store, thread, date, &history, &error));
    g_assert_cmpint(history.in_since_reply + 1, ==, expected.chasers_since_reply);
    g_assert_cmpint(history.in_last_24h + 1, ==, expected.chasers_24h);
    g_assert_cmpint(history.last_reply != NULL, ==, expected.hours_since_reply >= 0);
    if (history.last_reply)
      g_assert_cmpfloat_with_epsilon(g_date_time_difference(date, history.last_reply)
                                       / (double)G_TIME_SPAN_HOUR, expected.hours_since_reply,
                                     1e-9);
    g_clear_pointer(&history.last_reply, g_date_time_unref);
  }
  GDateTime *last = ((StoreThreadEntry *)all->pdata[all->len - 1])->date;
  g_autoptr(GDateTime) since = g_date_time_add_hours(last, -72 * 40);
  g_autoptr(GPtrArray) window = store_thread_entries_since(f->store, thread, since, &error);
  g_assert_cmpuint(window->len, ==, all->len);
  g_autoptr(GDateTime) later = g_date_time_add_hours(last, -1);
  g_autoptr(GPtrArray) recent = store_thread_entries_since(f->store, thread, later, &error);
  g_assert_cmpuint(recent->len, ==, 2); /* the out at 40 h and the in at 41 h */
}

/* Version 7 adds the thread-direction index to a version-6 database (the
 * later versions' objects dropped too, as a version-6 file would lack them). */
static void test_migrate_from_6(StoreFixture *f, gconstpointer data)
{
  (void)data;
  g_clear_pointer(&f->store, store_close);
  test_db_rewind(f->path, 6);
  g_autoptr(GError) error = NULL;
  f->store = store_open(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(test_db_int(f->path, "PRAGMA user_version"), ==, store_schema_latest());
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index'"
                              " AND name = 'messages_by_thread_direction'"), ==, 1);
}

/* Version 10 adds folders.missing_since to a version-9 database: a folder
 * already there is present (NULL), a missing mark is kept once set (the
 * first time it was seen missing) and cleared when the folder answers. */
static void test_migrate_from_9_missing_folder(StoreFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  gint64 id = store_folder_ensure(f->store, "work", "Clients", &error);
  g_assert_no_error(error);
  g_clear_pointer(&f->store, store_close);
  test_db_rewind(f->path, 9);
  f->store = store_open(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(test_db_int(f->path, "PRAGMA user_version"), ==, store_schema_latest());
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM folders WHERE missing_since IS NULL"),
                  ==, 1);
  g_autoptr(GDateTime) first = g_date_time_new_from_unix_utc(1772888400);
  g_autoptr(GDateTime) later = g_date_time_add_hours(first, 1);
  g_assert_true(store_folder_set_missing(f->store, id, first, &error));
  g_assert_true(store_folder_set_missing(f->store, id, later, &error));
  g_autoptr(GPtrArray) rows = store_list_folders(f->store, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(rows->len, ==, 1);
  const StoreFolderRow *row = rows->pdata[0];
  g_assert_nonnull(row->missing_since);
  g_assert_cmpint(g_date_time_to_unix(row->missing_since), ==, 1772888400);
  g_assert_true(store_folder_set_missing(f->store, id, NULL, &error));
  g_assert_no_error(error);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM folders WHERE missing_since IS NULL"),
                  ==, 1);
}

static gboolean count_rows(const StoreMessageRow *row, gpointer user_data, GError **error)
{
  (void)error;
  GPtrArray *seen = user_data;
  g_assert_cmpuint(g_bytes_get_size(row->raw), >, 0);
  g_assert_nonnull(row->date);
  g_assert_nonnull(row->received);
  g_ptr_array_add(seen, g_date_time_ref(row->date));
  return seen->len < 100;
}

static void test_foreach(StoreFixture *f, gconstpointer data)
{
  (void)data;
  const char *dates[] = { "Wed, 04 Mar 2026 09:00:00 +0000", "Mon, 02 Mar 2026 09:00:00 +0000",
                          "Tue, 03 Mar 2026 09:00:00 +0000" };
  for (int i = 0; i < 3; i++) {
    g_autofree char *id = g_strdup_printf("f%d@x.example", i);
    g_autoptr(GBytes) raw = make_raw(id, "bob@acme.example", "Note", dates[i], "");
    StoreOrigin origin = { .direction = STORE_DIRECTION_OUT };
    add(f, &origin, raw, NULL, NULL);
  }
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func((GDestroyNotify)g_date_time_unref);
  g_autoptr(GError) error = NULL;
  g_assert_true(store_foreach_message(f->store, NULL, count_rows, seen, &error));
  g_assert_cmpuint(seen->len, ==, 3);
  for (guint i = 1; i < seen->len; i++)
    g_assert_cmpint(g_date_time_compare(seen->pdata[i - 1], seen->pdata[i]), <, 0);
  g_ptr_array_set_size(seen, 0);
  g_autoptr(GDateTime) since = g_date_time_new_utc(2026, 3, 3, 0, 0, 0);
  g_assert_true(store_foreach_message(f->store, since, count_rows, seen, &error));
  g_assert_cmpuint(seen->len, ==, 2);
}

/* A rescore writes verdicts from inside the foreach callback. */
static gboolean rescore_row(const StoreMessageRow *row, gpointer user_data, GError **error)
{
  StoreFixture *f = user_data;
  return store_save_verdict(f->store, row->row_id, NULL, NULL, 1.5, FALSE, 0, NULL, NULL, error)
         && store_set_thread_risk(f->store, row->thread_id, 1.5, error);
}

static void test_foreach_writes(StoreFixture *f, gconstpointer data)
{
  (void)data;
  for (int i = 0; i < 3; i++) {
    g_autofree char *id = g_strdup_printf("w%d@x.example", i);
    g_autoptr(GBytes) raw = make_raw(id, "bob@acme.example", "Note",
                                     "Wed, 04 Mar 2026 09:00:00 +0000", "");
    StoreOrigin origin = { .direction = STORE_DIRECTION_IN };
    add(f, &origin, raw, NULL, NULL);
  }
  g_autoptr(GError) error = NULL;
  g_assert_true(store_foreach_message(f->store, NULL, rescore_row, f, &error));
  g_assert_no_error(error);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM messages WHERE scored = 1"), ==, 3);
}

static void test_accounts(StoreFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDateTime) t1 = g_date_time_new_utc(2026, 3, 2, 9, 0, 0);
  g_autoptr(GDateTime) t2 = g_date_time_new_utc(2026, 3, 2, 9, 1, 0);
  g_assert_true(store_account_record_poll(f->store, "main", t1, NULL, &error));
  g_assert_true(store_account_record_poll(f->store, "main", t2, "login denied", &error));
  g_autoptr(GPtrArray) rows = store_list_accounts(f->store, &error);
  g_assert_cmpuint(rows->len, ==, 1);
  const StoreAccountRow *row = rows->pdata[0];
  g_assert_cmpint(g_date_time_compare(row->last_poll, t1), ==, 0);
  g_assert_cmpstr(row->last_error, ==, "login denied");
  g_assert_cmpint(g_date_time_compare(row->last_error_at, t2), ==, 0);
  g_assert_true(store_account_record_poll(f->store, "main", t2, NULL, &error));
  g_autoptr(GPtrArray) again = store_list_accounts(f->store, &error);
  g_assert_null(((StoreAccountRow *)again->pdata[0])->last_error);
}

/* ---- the commands ---------------------------------------------------- */

/* Runs keel with `args` (NULL-terminated, after the binary); returns the exit
 * status, output in `out` and `err`. */
static int run_keel(const char *const *args, char **out, char **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, (char *)g_getenv("KEEL_BIN"));
  for (int i = 0; args[i]; i++)
    g_ptr_array_add(argv, (char *)args[i]);
  g_ptr_array_add(argv, NULL);
  int status = 0;
  g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                             out, err, &status, NULL));
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_cli_import(StoreFixture *f, gconstpointer data)
{
  (void)data;
  if (!g_getenv("KEEL_BIN")) {
    g_test_skip("KEEL_BIN not set");
    return;
  }
  g_clear_pointer(&f->store, store_close);
  g_autofree char *conf = g_test_build_filename(G_TEST_DIST, "data", "demo", "keel.conf", NULL);
  g_autofree char *maildir = g_test_build_filename(G_TEST_DIST, "data", "demo", "Maildir", NULL);
  g_autofree char *rules = g_test_build_filename(G_TEST_DIST, "..", "rules", NULL);
  const char *import[] = { "import", "--config", conf, "--database", f->path, "--rules", rules,
                           maildir, conf, "/nonexistent/mail.eml", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(run_keel(import, &out, &err), ==, 65); /* EX_DATAERR */
  g_assert_cmpstr(out, ==, "imported 13, duplicates 0, failed 2\n");
  g_auto(GStrv) errors = g_strsplit(g_strchomp(err), "\n", -1);
  g_assert_cmpuint(g_strv_length(errors), ==, 2);
  g_assert_nonnull(strstr(errors[0], conf));
  g_assert_nonnull(strstr(errors[1], "/nonexistent/mail.eml"));
  /* Sam's two replies on Monday and Wednesday, and his Thursday one to Lime & Ledger */
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM messages WHERE direction = 'out'"), ==, 3);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM messages WHERE client_id IS NULL"), ==, 1);
  const char *again[] = { "import", "--config", conf, "--database", f->path, "--rules", rules,
                          maildir, NULL };
  g_autofree char *out2 = NULL, *err2 = NULL;
  g_assert_cmpint(run_keel(again, &out2, &err2), ==, 0);
  g_assert_cmpstr(out2, ==, "imported 0, duplicates 13, failed 0\n");
  const char *threads[] = { "threads", "--json", "--database", f->path, NULL };
  g_autofree char *out3 = NULL, *err3 = NULL;
  g_assert_cmpint(run_keel(threads, &out3, &err3), ==, 0);
  g_auto(GStrv) lines = g_strsplit(g_strchomp(out3), "\n", -1);
  g_assert_cmpuint(g_strv_length(lines), ==, 5);
  g_assert_nonnull(strstr(lines[0], "\"client_id\":\"limeledger\""));
  g_assert_nonnull(strstr(lines[0], "\"last_date\":\"2026-03-12T11:30:00Z\""));
  g_assert_nonnull(strstr(lines[3], "\"messages\":3"));
}

static void test_cli_no_database(void)
{
  if (!g_getenv("KEEL_BIN")) {
    g_test_skip("KEEL_BIN not set");
    return;
  }
  g_setenv("KEEL_CONFIG", "/nonexistent/keel.conf", TRUE);
  const char *threads[] = { "threads", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(run_keel(threads, &out, &err), ==, 78); /* EX_CONFIG */
  g_assert_nonnull(strstr(err, "/nonexistent/keel.conf"));
  g_unsetenv("KEEL_CONFIG");
}

#define ADD(path, func) \
  g_test_add(path, StoreFixture, NULL, fixture_setup, func, fixture_teardown)

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  ADD("/store/migrate/empty", test_migrate_empty);
  ADD("/store/migrate/reopen", test_migrate_reopen);
  ADD("/store/migrate/newer-refused", test_migrate_newer);
  g_test_add_func("/store/open/fails", test_open_fails);
  g_test_add_func("/store/open/private", test_open_private);
  ADD("/store/folder/state", test_folder_state);
  ADD("/store/add/duplicate", test_duplicate);
  ADD("/store/add/rollback", test_rollback);
  ADD("/store/add/failure-inside", test_failure_inside);
  ADD("/store/add/nested", test_nested);
  ADD("/store/thread/corpus", test_corpus_threads);
  ADD("/store/thread/subject", test_subject_threading);
  ADD("/store/thread/out-of-order", test_out_of_order);
  ADD("/store/thread/list", test_list_threads);
  ADD("/store/verdict", test_verdict);
  ADD("/store/thread/history", test_thread_history);
  ADD("/store/migrate/from-2", test_migrate_from_6);
  ADD("/store/migrate/from-9-missing-folder", test_migrate_from_9_missing_folder);
  ADD("/store/foreach", test_foreach);
  ADD("/store/foreach-writes", test_foreach_writes);
  ADD("/store/accounts", test_accounts);
  ADD("/store/cli/import-and-threads", test_cli_import);
  g_test_add_func("/store/cli/missing-config", test_cli_no_database);
  return g_test_run();
}
