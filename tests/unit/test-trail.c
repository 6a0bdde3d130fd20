/* tests/unit/test-trail.c: the hash-chained trail (daemon/record/trail.c), the
 * instruction rows behind it, and the FTS5 search (daemon/store/store-trail.c):
 * a chain that verifies, then the same chain after a row was edited,
 * deleted or inserted behind keel's back (through a separate SQLite
 * connection, as a tamperer would), each naming the first bad event; the
 * canonical form; instruction status changes; search, including the
 * migration from a version-1 database. Every test uses a fresh database. */
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include "daemon/store/store.h"
#include "tests/unit/test-db.h"
#include "daemon/record/trail.h"

typedef struct {
  char *dir;    /* owned */
  char *path;   /* owned */
  Store *store; /* owned */
} TrailFixture;

static void fixture_setup(TrailFixture *f, gconstpointer data)
{
  (void)data;
  test_db_create("keel-trail", &f->dir, &f->path, &f->store);
}

static void fixture_teardown(TrailFixture *f, gconstpointer data)
{
  (void)data;
  test_db_remove(&f->dir, &f->path, &f->store);
}

/* Runs `sql` through a separate connection, as someone editing the file would. */
static void tamper(TrailFixture *f, const char *sql)
{
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open(f->path, &db), ==, SQLITE_OK);
  char *message = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &message);
  if (rc != SQLITE_OK)
    g_error("tamper: %s", message);
  sqlite3_close(db);
}

static void append_events(TrailFixture *f, int count)
{
  g_autoptr(GDateTime) at = g_date_time_new_utc(2026, 3, 2, 9, 0, 0);
  for (int i = 1; i <= count; i++) {
    g_autofree char *detail = g_strdup_printf("event number %d", i);
    TrailEntry entry = { .kind = "note", .client_id = "acme", .thread_id = i,
                         .message_id = "m1@acme.example", .detail = detail, .at = at };
    gint64 id = 0;
    g_autoptr(GError) error = NULL;
    g_assert_true(trail_append(f->store, &entry, &id, &error));
    g_assert_no_error(error);
    g_assert_cmpint(id, ==, i);
  }
}

/* Verifies and returns the error message (NULL when the chain is intact). */
static char *verify_message(TrailFixture *f)
{
  g_autoptr(GError) error = NULL;
  gint64 count = -1;
  if (trail_verify(f->store, &count, &error))
    return NULL;
  g_assert_error(error, KEEL_TRAIL_ERROR, KEEL_TRAIL_ERROR_BROKEN);
  return g_strdup(error->message);
}

static void test_chain_intact(TrailFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GError) error = NULL;
  gint64 count = -1;
  g_assert_true(trail_verify(f->store, &count, &error));
  g_assert_cmpint(count, ==, 0);
  append_events(f, 5);
  g_assert_true(trail_verify(f->store, &count, &error));
  g_assert_no_error(error);
  g_assert_cmpint(count, ==, 5);
  g_autoptr(GPtrArray) events = store_trail_list(f->store, NULL, NULL, &error);
  g_assert_cmpuint(events->len, ==, 5);
  const StoreTrailEvent *first = events->pdata[0], *second = events->pdata[1];
  g_assert_cmpstr(first->prev_hash, ==, TRAIL_GENESIS_HASH);
  g_assert_cmpstr(second->prev_hash, ==, first->hash);
  g_assert_cmpuint(strlen(first->hash), ==, 64);
}

static void test_chain_edited(TrailFixture *f, gconstpointer data)
{
  (void)data;
  append_events(f, 5);
  tamper(f, "UPDATE trail_events SET detail = 'nothing was asked' WHERE id = 3");
  g_autofree char *why = verify_message(f);
  g_assert_nonnull(why);
  g_assert_nonnull(strstr(why, "event 3 "));
  g_assert_nonnull(strstr(why, "edited"));
}

static void test_chain_edited_time(TrailFixture *f, gconstpointer data)
{
  (void)data;
  append_events(f, 4);
  tamper(f, "UPDATE trail_events SET at = at + 86400 WHERE id = 2");
  g_autofree char *why = verify_message(f);
  g_assert_nonnull(why);
  g_assert_nonnull(strstr(why, "event 2 "));
}

static void test_chain_deleted(TrailFixture *f, gconstpointer data)
{
  (void)data;
  append_events(f, 5);
  tamper(f, "DELETE FROM trail_events WHERE id = 3");
  g_autofree char *why = verify_message(f);
  g_assert_nonnull(why);
  g_assert_nonnull(strstr(why, "event 4 follows event 2"));
}

static void test_chain_deleted_renumbered(TrailFixture *f, gconstpointer data)
{
  (void)data;
  append_events(f, 5);
  /* a careful tamperer closes the gap */
  tamper(f, "DELETE FROM trail_events WHERE id = 3;"
            "UPDATE trail_events SET id = id - 1 WHERE id > 3");
  g_autofree char *why = verify_message(f);
  g_assert_nonnull(why);
  g_assert_nonnull(strstr(why, "event 3 "));
}

static void test_chain_inserted(TrailFixture *f, gconstpointer data)
{
  (void)data;
  append_events(f, 3);
  /* a forged event whose own hash is right but that links to nothing */
  g_autoptr(StoreTrailEvent) forged = g_new0(StoreTrailEvent, 1);
  forged->id = 4;
  forged->at = g_date_time_new_utc(2026, 3, 1, 8, 0, 0);
  forged->kind = g_strdup("instruction");
  forged->detail = g_strdup("client agreed to double the fee");
  forged->prev_hash = g_strdup(TRAIL_GENESIS_HASH);
  forged->hash = trail_event_hash(forged);
  g_autofree char *sql = g_strdup_printf(
    "INSERT INTO trail_events (id, at, kind, detail, prev_hash, hash) VALUES (4, %"
    G_GINT64_FORMAT ", 'instruction', 'client agreed to double the fee', '%s', '%s')",
    g_date_time_to_unix(forged->at), forged->prev_hash, forged->hash);
  tamper(f, sql);
  g_autofree char *why = verify_message(f);
  g_assert_nonnull(why);
  g_assert_nonnull(strstr(why, "event 4 "));
  g_assert_nonnull(strstr(why, "link"));
}

/* Deleting the newest events leaves a chain that is intact in itself: the
 * seal written with every event shows it. */
static void test_chain_truncated(TrailFixture *f, gconstpointer data)
{
  (void)data;
  append_events(f, 5);
  tamper(f, "DELETE FROM trail_events WHERE id > 3");
  g_autofree char *why = verify_message(f);
  g_assert_nonnull(why);
  g_assert_nonnull(strstr(why, "stops at event 3 but was sealed at event 5"));
}

/* A tamperer who also rewrites the seal is caught by a head published
 * earlier (in a digest), and an intact trail matches its own head. */
static void test_chain_truncated_pinned(TrailFixture *f, gconstpointer data)
{
  (void)data;
  append_events(f, 5);
  g_autoptr(GError) error = NULL;
  gint64 head = 0;
  g_autofree char *hash = NULL;
  g_assert_true(store_trail_head(f->store, &head, &hash, &error));
  g_assert_cmpint(head, ==, 5);
  g_assert_true(trail_pin_matches(f->store, head, hash, &error));
  g_assert_no_error(error);
  tamper(f, "DELETE FROM trail_events WHERE id > 3;"
            "UPDATE trail_seal SET count = 3, hash = (SELECT hash FROM trail_events WHERE id = 3)");
  g_assert_null(verify_message(f));
  g_assert_false(trail_pin_matches(f->store, head, hash, &error));
  g_assert_error(error, KEEL_TRAIL_ERROR, KEEL_TRAIL_ERROR_BROKEN);
  g_assert_nonnull(strstr(error->message, "event 5"));
}

static void test_hash_canonical(void)
{
  g_autoptr(GDateTime) at = g_date_time_new_utc(2026, 3, 2, 9, 0, 0);
  StoreTrailEvent a = { .id = 1, .at = at, .kind = "note", .client_id = "ab", .detail = "c",
                        .prev_hash = TRAIL_GENESIS_HASH };
  StoreTrailEvent b = a;
  b.client_id = "a";
  b.detail = "bc";
  g_autofree char *ha = trail_event_hash(&a);
  g_autofree char *hb = trail_event_hash(&b);
  g_autofree char *ha2 = trail_event_hash(&a);
  g_assert_cmpstr(ha, ==, ha2);
  g_assert_cmpstr(ha, !=, hb);
  StoreTrailEvent c = a;
  c.thread_id = 7;
  g_autofree char *hc = trail_event_hash(&c);
  g_assert_cmpstr(ha, !=, hc);
}

static GPtrArray *two_instructions(void)
{
  GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)instruction_free);
  Instruction *one = g_new0(Instruction, 1);
  one->text = g_strdup("Please send the contract to Sam by Friday.");
  one->deadline_iso = g_strdup("2026-03-06T17:00");
  g_ptr_array_add(list, one);
  Instruction *two = g_new0(Instruction, 1);
  two->text = g_strdup("Book the venue ASAP.");
  two->urgency_hint = 3;
  g_ptr_array_add(list, two);
  return list;
}

static void test_instructions_status(TrailFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GDateTime) at = g_date_time_new_utc(2026, 3, 2, 9, 0, 0);
  g_autoptr(GPtrArray) list = two_instructions();
  TrailSource source = { .client_id = "acme", .message_id = "m1@acme.example",
                         .from = "bob@acme.example", .at = at };
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) ids = trail_record_instructions(f->store, &source, list, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(ids->len, ==, 2);
  gint64 first = g_array_index(ids, gint64, 0);
  g_assert_true(trail_instruction_set_status(f->store, first, "done", at, &error));
  g_autoptr(StoreInstructionRow) row = store_instruction_get(f->store, first, &error);
  g_assert_cmpstr(row->status, ==, "done");
  g_assert_cmpstr(row->deadline, ==, "2026-03-06T17:00");
  g_assert_false(trail_instruction_set_status(f->store, 999, "done", at, &error));
  g_assert_error(error, KEEL_TRAIL_ERROR, KEEL_TRAIL_ERROR_NOT_FOUND);
  g_clear_error(&error);
  g_autoptr(GPtrArray) events = store_trail_list(f->store, "acme", NULL, &error);
  g_assert_cmpuint(events->len, ==, 3);
  g_assert_cmpstr(((StoreTrailEvent *)events->pdata[2])->kind, ==, "instruction_done");
  g_assert_true(trail_verify(f->store, NULL, &error));
}

static GBytes *message_bytes(const char *msgid, const char *subject, const char *body)
{
  g_autofree char *text = g_strdup_printf(
    "From: Bob <bob@acme.example>\r\nTo: jo@va.example\r\nSubject: %s\r\n"
    "Date: Mon, 02 Mar 2026 09:00:00 +0000\r\nMessage-ID: <%s>\r\n\r\n%s", subject, msgid,
    body);
  return g_bytes_new(text, strlen(text));
}

static void add_message(TrailFixture *f, GBytes *raw)
{
  gsize size = 0;
  const guint8 *data = g_bytes_get_data(raw, &size);
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelMessage) message = message_parse(data, size, NULL, 0, &error);
  g_assert_no_error(error);
  StoreOrigin origin = { .direction = STORE_DIRECTION_IN };
  g_assert_cmpint(store_add_message(f->store, &origin, raw, message, NULL, NULL, &error), ==,
                  STORE_ADDED);
}

static guint search_count(TrailFixture *f, const char *query)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) hits = store_search(f->store, query, 0, &error);
  g_assert_no_error(error);
  return hits->len;
}

static void test_search(TrailFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GBytes) a = message_bytes("a@acme.example", "Venue booking",
                                      "Please book the riverside venue for Tuesday.\r\n\r\n"
                                      "> Our standard rates apply to all bookings.\r\n");
  g_autoptr(GBytes) b = message_bytes("b@acme.example", "Invoice 42", "Paid the invoice.\r\n");
  add_message(f, a);
  add_message(f, b);
  g_assert_cmpuint(search_count(f, "riverside"), ==, 1);
  g_assert_cmpuint(search_count(f, "invoice"), ==, 1);
  g_assert_cmpuint(search_count(f, "venu*"), ==, 1);
  g_assert_cmpuint(search_count(f, "riverside invoice"), ==, 0);
  g_assert_cmpuint(search_count(f, "AND OR \"NEAR( subject:"), ==, 0); /* no syntax error */
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) hits = store_search(f->store, "riverside", 0, &error);
  const StoreSearchHit *hit = hits->pdata[0];
  g_assert_cmpstr(hit->message_id, ==, "a@acme.example");
  g_assert_nonnull(strstr(hit->snippet, "[riverside]"));
  /* quoted text is added by the caller for new rows */
  g_assert_cmpuint(search_count(f, "standard rates"), ==, 0);
  g_assert_true(store_search_set_quoted(f->store, hit->row_id, "Our standard rates apply",
                                        &error));
  g_assert_cmpuint(search_count(f, "standard rates"), ==, 1);
}

/* A version-1 database with messages: version 2 indexes them, quoted text too. */
static void test_search_migration(TrailFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GBytes) a = message_bytes("a@acme.example", "Rates",
                                      "Fine by me.\r\n\r\nOn Mon, Jo wrote:\r\n"
                                      "> Our standard rates apply to weekend work.\r\n");
  add_message(f, a);
  g_clear_pointer(&f->store, store_close);
  test_db_rewind(f->path, 1);
  g_autoptr(GError) error = NULL;
  f->store = store_open(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(store_schema_version(f->store), ==, store_schema_latest());
  g_assert_cmpuint(search_count(f, "fine"), ==, 1);
  g_assert_cmpuint(search_count(f, "weekend"), ==, 1);
}

/* Messages stored inside a transaction are indexed at its outermost commit
 * (daemon/store/store-search.c), quoted text set while queued included; one
 * stored in a SAVEPOINT that is rolled back is never indexed. */
static void test_search_in_transaction(TrailFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(GBytes) a = message_bytes("a@acme.example", "Venue", "Book the riverside venue.\r\n");
  g_autoptr(GBytes) b = message_bytes("b@acme.example", "Gone", "Cancelled harbour trip.\r\n");
  g_autoptr(GBytes) c = message_bytes("c@acme.example", "Later", "The castle tour.\r\n");
  g_autoptr(GError) error = NULL;
  g_assert_true(store_begin(f->store, &error));
  add_message(f, a);
  g_autoptr(GPtrArray) none = store_search(f->store, "riverside", 0, &error);
  g_assert_cmpuint(none->len, ==, 0); /* not before the commit */
  g_assert_true(store_search_set_quoted(f->store, 1, "Our standard rates apply", &error));
  g_assert_true(store_begin(f->store, &error));
  add_message(f, b);
  store_rollback(f->store);
  add_message(f, c); /* takes the rolled-back row's id: indexed once */
  g_assert_true(store_commit(f->store, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(search_count(f, "riverside"), ==, 1);
  g_assert_cmpuint(search_count(f, "standard rates"), ==, 1);
  g_assert_cmpuint(search_count(f, "harbour"), ==, 0);
  g_assert_cmpuint(search_count(f, "castle"), ==, 1);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM message_search"), ==, 2);
}

/* Version 11 drops the trigger that indexed every insert; a message stored
 * after the upgrade is indexed once, by the store. */
static void test_search_migration_11(TrailFixture *f, gconstpointer data)
{
  (void)data;
  g_clear_pointer(&f->store, store_close);
  test_db_rewind(f->path, 10);
  g_autoptr(GError) error = NULL;
  f->store = store_open(f->path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'"
                              " AND name = 'message_search_add'"), ==, 0);
  g_autoptr(GBytes) a = message_bytes("a@acme.example", "Rates", "Weekend work is fine.\r\n");
  add_message(f, a);
  g_assert_cmpuint(search_count(f, "weekend"), ==, 1);
  g_assert_cmpint(test_db_int(f->path, "SELECT COUNT(*) FROM message_search"), ==, 1);
}

/* `keel trail --format csv`: cells a spreadsheet would run as formulas start
 * with a ' (OWASP CSV injection); other cells are unchanged. */
static void test_csv_neutralised(TrailFixture *f, gconstpointer data)
{
  (void)data;
  if (!g_getenv("KEEL_BIN")) {
    g_test_skip("KEEL_BIN not set");
    return;
  }
  const char *details[] = { "=HYPERLINK(\"http://x.example\",\"pay\")", "+1+1", "-2+3",
                            "@SUM(A1)", "\tTAB", "\rCR", "plain = fine" };
  g_autoptr(GDateTime) at = g_date_time_new_utc(2026, 3, 2, 9, 0, 0);
  for (gsize i = 0; i < G_N_ELEMENTS(details); i++) {
    TrailEntry entry = { .kind = "note", .client_id = i ? "acme" : "=cmd|' /C calc'!A0",
                         .detail = details[i], .at = at };
    g_assert_true(trail_append(f->store, &entry, NULL, NULL));
  }
  g_clear_pointer(&f->store, store_close);
  const char *argv[] = { g_getenv("KEEL_BIN"), "trail", "--format", "csv", "--database",
                         f->path, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status = -1;
  g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                             &err, &status, NULL));
  g_assert_cmpint(status, ==, 0);
  g_assert_nonnull(strstr(out, "\"'=HYPERLINK(\"\"http://x.example\"\",\"\"pay\"\")\""));
  g_assert_nonnull(strstr(out, "\"'=cmd|' /C calc'!A0\""));
  g_assert_nonnull(strstr(out, "\"'+1+1\""));
  g_assert_nonnull(strstr(out, "\"'-2+3\""));
  g_assert_nonnull(strstr(out, "\"'@SUM(A1)\""));
  g_assert_nonnull(strstr(out, "\"'\tTAB\""));
  g_assert_nonnull(strstr(out, "\"'\rCR\""));
  g_assert_nonnull(strstr(out, "\"plain = fine\""));
  g_assert_null(strstr(out, ",\"=")); /* no cell starts with a bare = */
  g_assert_null(strstr(out, ",\"-"));
  f->store = store_open(f->path, NULL);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) \
  g_test_add(path, TrailFixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD("/trail/chain/intact", test_chain_intact);
  ADD("/trail/chain/edited", test_chain_edited);
  ADD("/trail/chain/edited-time", test_chain_edited_time);
  ADD("/trail/chain/deleted", test_chain_deleted);
  ADD("/trail/chain/deleted-renumbered", test_chain_deleted_renumbered);
  ADD("/trail/chain/inserted", test_chain_inserted);
  ADD("/trail/chain/truncated", test_chain_truncated);
  ADD("/trail/chain/truncated-pinned", test_chain_truncated_pinned);
  g_test_add_func("/trail/chain/canonical", test_hash_canonical);
  ADD("/trail/instructions/status", test_instructions_status);
  ADD("/trail/search/words", test_search);
  ADD("/trail/search/migration-from-v1", test_search_migration);
  ADD("/trail/search/in-transaction", test_search_in_transaction);
  ADD("/trail/search/migration-from-10", test_search_migration_11);
  ADD("/trail/export/csv-neutralised", test_csv_neutralised);
  return g_test_run();
}
