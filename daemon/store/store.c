/* daemon/store/store.c: the SQLite file that holds keel's state: opening it,
 * migrating its schema, transactions, folder sync state, account poll status
 * and the one function that turns SQLite failures into GErrors. Messages,
 * threads and scores live in store-messages.c.
 *
 * The database runs in WAL mode with foreign keys on and a busy timeout, and
 * synchronous=FULL: a committed "last UID" must survive a power cut, or a
 * message could be processed twice with different side effects.
 *
 * Schema versions (PRAGMA user_version), one function each, applied in order
 * inside one transaction per step:
 *   1  store_migrate_to_1: accounts, folders, clients, threads, messages,
 *      message_refs, scores, rule_hits.
 *   2  store_migrate_to_2: trail_events (hash-chained), instructions,
 *      outbox, confirmations, message_search (FTS5, filled for the messages
 *      already stored, kept up to date by a trigger until 11).
 *   3  store_migrate_to_3: a thread's risk peak (risk_peak, risk_peak_at) and
 *      when the VA marked it handled (handled_at), for risk memory.
 *   4  reserved (no-op: the outbox's new states needed no schema change).
 *   5  store_migrate_to_5: learned_corrections (the VA's "risky"/"fine"
 *      corrections, one per message and dimension) and learned_weights (the
 *      per-mailbox changes to the shipped learned models).
 *   6  store_migrate_to_6: invoices, invoice_payments, invoice_chases (one
 *      row per invoice per chase step: the key that makes a step go once).
 *   7  store_migrate_to_7: index messages_by_thread_direction, for the
 *      history of a thread counted in SQL (store_thread_history).
 *   8  store_migrate_to_8: trail_seal, the trail's high-water mark (event
 *      count and head hash) written with every event, so that deleting the
 *      newest events shows in `keel trail verify`.
 *   9  store_migrate_to_9: keeping the VA's word: promises (her commitments
 *      read from her Sent mail, with due times), instructions.probably_done
 *      and done_by (her later reply said it was done), threads.handled_since
 *      and handled_until (`keel thread handled`).
 *  10  store_migrate_to_10: folders.missing_since, when a configured folder
 *      was first found missing on the server (its STATUS refused), NULL once
 *      it answers again; `keel status` lists them (issue 19).
 *  11  store_migrate_to_11: drops the trigger message_search_add: the store
 *      indexes a transaction's new messages for search just before its
 *      COMMIT (store-search.c: FTS5 wrote an index segment per SAVEPOINT).
 * A database with a newer version than this keel knows is refused.
 *
 * The file and its -wal, -shm and -journal companions are 0600 whatever the
 * umask (store_create_private(), store_secure_files()): they hold client mail.
 *
 * Transactions nest: the outermost store_begin() is BEGIN IMMEDIATE (take the
 * write lock up front, so BUSY shows up at the start and not at COMMIT), inner
 * ones are SAVEPOINTs, so store_add_message() can run alone or inside a
 * caller's transaction.
 *
 * Must not: log message contents, know about IMAP or the config.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "daemon/store/store-private.h"

G_DEFINE_QUARK(keel-store-error-quark, keel_store_error)

#define STORE_BUSY_TIMEOUT_MS 10000

/* ---- errors and statement helpers -------------------------------------- */

gboolean store_set_error(Store *store, int rc, KeelStoreError code, const char *what,
                         GError **error)
{
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    code = KEEL_STORE_ERROR_BUSY;
  const char *detail = store && store->db ? sqlite3_errmsg(store->db) : sqlite3_errstr(rc);
  g_set_error(error, KEEL_STORE_ERROR, code, "database %s: %s: %s%s",
              store && store->path ? store->path : "?", what, detail,
              code == KEEL_STORE_ERROR_BUSY ? " (another keel is using it; try again)" : "");
  return FALSE;
}

/* ---- the statement cache --------------------------------------------------
 * Preparing a statement cost more than running it: 1.8 M of the ~8.5 M
 * instructions keel spends per imported message went to sqlite3_prepare_v2()
 * (callgrind, 300 SpamAssassin messages). A statement its user is done with
 * (store_stmt_release(), the g_autoptr(StoreStmt) cleanup) goes back into its
 * connection's cache, reset and unbound, keyed by its SQL text;
 * store_prepare() takes it out again, so a cached statement is never in use
 * twice. The cleanup only has the statement, so the caches live in one table
 * keyed by connection, under a mutex. At most STORE_CACHE_MAX per connection
 * (SQL built at run time finalizes instead of filling it). */
#define STORE_CACHE_MAX 256
static GMutex store_cache_lock;
static GHashTable *store_caches; /* sqlite3* -> GHashTable (SQL -> idle sqlite3_stmt*) */

static void store_cache_finalize(gpointer stmt)
{
  sqlite3_finalize(stmt);
}

static void store_cache_open(sqlite3 *db)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&store_cache_lock);
  if (!store_caches)
    store_caches = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)g_hash_table_unref);
  g_hash_table_insert(store_caches, db,
                      g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                            store_cache_finalize));
}

/* Finalizes the idle statements of `db` (before it closes). */
static void store_cache_close(sqlite3 *db)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&store_cache_lock);
  if (store_caches)
    g_hash_table_remove(store_caches, db);
}

/* The idle statement for `sql` on `db`, taken out of the cache; NULL if none. */
static sqlite3_stmt *store_cache_take(sqlite3 *db, const char *sql)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&store_cache_lock);
  GHashTable *cache = store_caches ? g_hash_table_lookup(store_caches, db) : NULL;
  sqlite3_stmt *stmt = cache ? g_hash_table_lookup(cache, sql) : NULL;
  if (stmt)
    g_hash_table_steal(cache, sql);
  return stmt;
}

void store_stmt_release(sqlite3_stmt *stmt)
{
  if (!stmt)
    return;
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  const char *sql = sqlite3_sql(stmt);
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&store_cache_lock);
  GHashTable *cache = store_caches ? g_hash_table_lookup(store_caches, sqlite3_db_handle(stmt))
                                   : NULL;
  if (cache && sql && g_hash_table_size(cache) < STORE_CACHE_MAX
      && !g_hash_table_contains(cache, sql))
    g_hash_table_insert(cache, (gpointer)sql, stmt); /* the key is the statement's own text */
  else
    sqlite3_finalize(stmt);
}

sqlite3_stmt *store_prepare(Store *store, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = store_cache_take(store->db, sql);
  if (stmt)
    return stmt;
  int rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
  if (rc != SQLITE_OK) {
    store_set_error(store, rc, KEEL_STORE_ERROR_FAILED, "preparing a query", error);
    return NULL;
  }
  return stmt;
}

int store_step(Store *store, sqlite3_stmt *stmt, const char *what, GError **error)
{
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE)
    return rc;
  store_set_error(store, rc, KEEL_STORE_ERROR_FAILED, what, error);
  return -1;
}

gint64 store_step_count(Store *store, sqlite3_stmt *stmt, const char *what, GError **error)
{
  if (store_step(store, stmt, what, error) != SQLITE_ROW)
    return -1;
  return sqlite3_column_int64(stmt, 0);
}

gboolean store_run(Store *store, sqlite3_stmt *stmt, const char *what, GError **error)
{
  return store_step(store, stmt, what, error) == SQLITE_DONE;
}

gboolean store_exec(Store *store, const char *sql, GError **error)
{
  int rc = sqlite3_exec(store->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return store_set_error(store, rc, KEEL_STORE_ERROR_FAILED, "running SQL", error);
  return TRUE;
}

void store_bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
  if (text)
    sqlite3_bind_text(stmt, index, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(stmt, index);
}

void store_bind_time(sqlite3_stmt *stmt, int index, GDateTime *time)
{
  if (time)
    sqlite3_bind_int64(stmt, index, g_date_time_to_unix(time));
  else
    sqlite3_bind_null(stmt, index);
}

GDateTime *store_column_time(sqlite3_stmt *stmt, int column)
{
  if (sqlite3_column_type(stmt, column) == SQLITE_NULL)
    return NULL;
  return g_date_time_new_from_unix_utc(sqlite3_column_int64(stmt, column));
}

char *store_column_text(sqlite3_stmt *stmt, int column)
{
  const unsigned char *text = sqlite3_column_text(stmt, column);
  return text ? g_strdup((const char *)text) : NULL;
}

/* ---- schema ------------------------------------------------------------ */

static gboolean store_migrate_to_1(Store *store, GError **error)
{
  return store_exec(store,
    "CREATE TABLE accounts (name TEXT PRIMARY KEY, last_poll INTEGER,"
    "  last_error TEXT, last_error_at INTEGER);"
    "CREATE TABLE folders (id INTEGER PRIMARY KEY, account TEXT NOT NULL, name TEXT NOT NULL,"
    "  uidvalidity INTEGER NOT NULL DEFAULT 0, last_uid INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (account, name));"
    "CREATE TABLE clients (id TEXT PRIMARY KEY, name TEXT NOT NULL);"
    "CREATE TABLE threads (id INTEGER PRIMARY KEY, client_id TEXT REFERENCES clients(id),"
    "  counterpart TEXT, subject TEXT NOT NULL, subject_key TEXT NOT NULL,"
    "  first_date INTEGER NOT NULL, last_date INTEGER NOT NULL, risk REAL NOT NULL DEFAULT 0);"
    "CREATE INDEX threads_by_subject ON threads (subject_key, last_date);"
    "CREATE INDEX threads_by_last_date ON threads (last_date);"
    "CREATE TABLE messages (id INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE,"
    "  folder_id INTEGER REFERENCES folders(id), uid INTEGER, raw BLOB, size INTEGER NOT NULL,"
    "  too_large INTEGER NOT NULL DEFAULT 0,"
    "  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),"
    "  client_id TEXT REFERENCES clients(id), thread_id INTEGER NOT NULL REFERENCES threads(id),"
    "  automated INTEGER NOT NULL DEFAULT 0, automated_reason TEXT,"
    "  from_address TEXT, from_name TEXT, subject TEXT NOT NULL, date INTEGER NOT NULL,"
    "  date_fallback INTEGER NOT NULL DEFAULT 0, received INTEGER NOT NULL,"
    "  in_reply_to TEXT, references_text TEXT, new_text TEXT,"
    "  first_sync INTEGER NOT NULL DEFAULT 0,"
    "  scored INTEGER NOT NULL DEFAULT 0, risk REAL, risky INTEGER, urgency INTEGER,"
    "  payment TEXT, flags TEXT);"
    "CREATE INDEX messages_by_thread ON messages (thread_id, date);"
    "CREATE INDEX messages_by_date ON messages (date);"
    "CREATE INDEX messages_by_folder ON messages (folder_id, uid);"
    "CREATE TABLE message_refs (message_id INTEGER NOT NULL REFERENCES messages(id)"
    "  ON DELETE CASCADE, ref TEXT NOT NULL, PRIMARY KEY (message_id, ref));"
    "CREATE INDEX message_refs_by_ref ON message_refs (ref);"
    "CREATE TABLE scores (message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    "  dimension TEXT NOT NULL, points REAL NOT NULL, PRIMARY KEY (message_id, dimension));"
    "CREATE TABLE rule_hits (id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL"
    "  REFERENCES messages(id) ON DELETE CASCADE, rule TEXT NOT NULL, dimension TEXT,"
    "  points REAL NOT NULL, match TEXT, match_start INTEGER, match_end INTEGER, where_ TEXT);"
    "CREATE INDEX rule_hits_by_message ON rule_hits (message_id);",
    error);
}

/* Indexes the messages stored before version 2, with the quoted text parsed
 * again from their raw bytes (the messages table does not keep it). */
static gboolean store_search_fill(Store *store, GError **error)
{
  g_autoptr(StoreStmt) select = store_prepare(store,
    "SELECT id, subject, new_text, raw FROM messages ORDER BY id", error);
  g_autoptr(StoreStmt) insert = select ? store_prepare(store,
    "INSERT INTO message_search (rowid, subject, new_text, quoted_text)"
    " VALUES (?1, ?2, ?3, ?4)", error) : NULL;
  if (!insert)
    return FALSE;
  int rc;
  while ((rc = store_step(store, select, "reading messages to index", error)) == SQLITE_ROW) {
    const void *raw = sqlite3_column_blob(select, 3);
    int size = sqlite3_column_bytes(select, 3);
    g_autoptr(KeelMessage) message = raw && size > 0
      ? message_parse(raw, (gsize)size, NULL, 0, NULL) : NULL;
    sqlite3_reset(insert);
    sqlite3_bind_int64(insert, 1, sqlite3_column_int64(select, 0));
    store_bind_text(insert, 2, (const char *)sqlite3_column_text(select, 1));
    store_bind_text(insert, 3, (const char *)sqlite3_column_text(select, 2));
    store_bind_text(insert, 4, message && message->quoted_text ? message->quoted_text : "");
    if (!store_run(store, insert, "indexing a message", error))
      return FALSE;
  }
  return rc == SQLITE_DONE;
}

static gboolean store_migrate_to_2(Store *store, GError **error)
{
  return store_exec(store,
    "CREATE TABLE trail_events (id INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
    "  kind TEXT NOT NULL, client_id TEXT, thread_id INTEGER, message_id TEXT,"
    "  ref_id INTEGER, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX trail_by_client ON trail_events (client_id, at);"
    "CREATE TABLE instructions (id INTEGER PRIMARY KEY,"
    "  message_row INTEGER REFERENCES messages(id), message_id TEXT, client_id TEXT,"
    "  thread_id INTEGER, text TEXT NOT NULL, deadline TEXT, urgency INTEGER NOT NULL DEFAULT 0,"
    "  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),"
    "  created INTEGER NOT NULL);"
    "CREATE INDEX instructions_by_client ON instructions (client_id, status);"
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY, account TEXT NOT NULL, kind TEXT NOT NULL,"
    "  client_id TEXT, thread_id INTEGER, message_id TEXT NOT NULL UNIQUE,"
    "  mail_from TEXT NOT NULL, rcpt TEXT NOT NULL, subject TEXT NOT NULL, raw BLOB NOT NULL,"
    "  state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER,"
    "  last_error TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE INDEX outbox_by_state ON outbox (state, next_attempt);"
    "CREATE INDEX outbox_by_thread ON outbox (thread_id, kind, created);"
    "CREATE TABLE confirmations (outbox_id INTEGER NOT NULL REFERENCES outbox(id),"
    "  instruction_id INTEGER NOT NULL REFERENCES instructions(id),"
    "  PRIMARY KEY (outbox_id, instruction_id));"
    "CREATE VIRTUAL TABLE message_search USING fts5(subject, new_text, quoted_text,"
    "  tokenize = 'unicode61 remove_diacritics 2');"
    "CREATE TRIGGER message_search_add AFTER INSERT ON messages BEGIN"
    "  INSERT INTO message_search (rowid, subject, new_text, quoted_text)"
    "  VALUES (new.id, new.subject, coalesce(new.new_text, ''), '');"
    " END;"
    "CREATE TRIGGER message_search_remove AFTER DELETE ON messages BEGIN"
    "  DELETE FROM message_search WHERE rowid = old.id;"
    " END;",
    error) && store_search_fill(store, error);
}

/* Reserved versions: another branch fills each; until then a no-op. */
static gboolean store_migrate_reserved(Store *store, GError **error)
{
  (void)store;
  (void)error;
  return TRUE;
}

/* A thread remembers its highest risk and when it was reached, so that calm
 * mail does not make it look safe before the VA has dealt with it. */
static gboolean store_migrate_to_3(Store *store, GError **error)
{
  return store_exec(store,
    "ALTER TABLE threads ADD COLUMN risk_peak REAL NOT NULL DEFAULT 0;"
    "ALTER TABLE threads ADD COLUMN risk_peak_at INTEGER;"
    "ALTER TABLE threads ADD COLUMN handled_at INTEGER;"
    "CREATE INDEX IF NOT EXISTS messages_by_client_received"
    "  ON messages (client_id, received);",
    error);
}

static gboolean store_migrate_to_5(Store *store, GError **error)
{
  return store_exec(store,
    "CREATE TABLE IF NOT EXISTS learned_corrections (id INTEGER PRIMARY KEY, message_id TEXT NOT NULL,"
    "  message_row INTEGER, dimension TEXT NOT NULL, label INTEGER NOT NULL,"
    "  source TEXT NOT NULL, subject TEXT NOT NULL, new_text TEXT NOT NULL,"
    "  step REAL NOT NULL, created INTEGER NOT NULL, UNIQUE (message_id, dimension));"
    "CREATE TABLE IF NOT EXISTS learned_weights (dimension TEXT NOT NULL, feature TEXT NOT NULL,"
    "  delta REAL NOT NULL, PRIMARY KEY (dimension, feature)) WITHOUT ROWID;",
    error);
}

/* Invoices and their chasing (daemon/payments/). Money is integer minor
 * units of `currency`; dates are the client's calendar dates, YYYY-MM-DD. */
static gboolean store_migrate_to_6(Store *store, GError **error)
{
  return store_exec(store,
    "CREATE TABLE IF NOT EXISTS invoices (id INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE,"
    "  client_id TEXT NOT NULL, amount INTEGER NOT NULL CHECK (amount > 0),"
    "  currency TEXT NOT NULL, issued TEXT NOT NULL, due TEXT NOT NULL, terms TEXT,"
    "  paid INTEGER NOT NULL DEFAULT 0, paid_date TEXT,"
    "  state TEXT NOT NULL DEFAULT 'open'"
    "    CHECK (state IN ('open', 'paused', 'stopped', 'paid')),"
    "  pause_reason TEXT, promise_date TEXT, promise_text TEXT,"
    "  last_step INTEGER NOT NULL DEFAULT 0, message_id TEXT, thread_id INTEGER,"
    "  created INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS invoices_by_client ON invoices (client_id, state);"
    "CREATE TABLE IF NOT EXISTS invoice_payments (id INTEGER PRIMARY KEY,"
    "  invoice_id INTEGER NOT NULL REFERENCES invoices(id), amount INTEGER NOT NULL,"
    "  date TEXT NOT NULL, source TEXT, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS invoice_chases (invoice_id INTEGER NOT NULL REFERENCES invoices(id),"
    "  step TEXT NOT NULL, outbox_id INTEGER REFERENCES outbox(id), created INTEGER NOT NULL,"
    "  PRIMARY KEY (invoice_id, step));",
    error);
}

/* The history signals of a thread (store_thread_history) count its incoming
 * messages by direction and date: an index, so that scoring one message
 * costs the same in a thread of ten messages or of ten thousand. */
static gboolean store_migrate_to_7(Store *store, GError **error)
{
  return store_exec(store,
    "CREATE INDEX IF NOT EXISTS messages_by_thread_direction ON messages (thread_id, direction, date);",
    error);
}

static gboolean store_migrate_to_8(Store *store, GError **error)
{
  return store_exec(store,
    "CREATE TABLE IF NOT EXISTS trail_seal (one INTEGER PRIMARY KEY CHECK (one = 1),"
    "  count INTEGER NOT NULL, hash TEXT NOT NULL);"
    "INSERT OR REPLACE INTO trail_seal (one, count, hash)"
    "  SELECT 1, id, hash FROM trail_events ORDER BY id DESC LIMIT 1;",
    error);
}

/* The VA's word (daemon/record/word.c): her promises, instructions her
 * replies probably did, threads she has dealt with. `due` is the client's
 * local "YYYY-MM-DDTHH:MM", `due_at` the same instant in Unix time. */
static gboolean store_migrate_to_9(Store *store, GError **error)
{
  return store_exec(store,
    "CREATE TABLE IF NOT EXISTS promises (id INTEGER PRIMARY KEY,"
    "  message_row INTEGER REFERENCES messages(id), message_id TEXT, client_id TEXT,"
    "  thread_id INTEGER, text TEXT NOT NULL, due TEXT, due_at INTEGER,"
    "  status TEXT NOT NULL DEFAULT 'open'"
    "    CHECK (status IN ('open', 'kept', 'updated', 'cancelled')),"
    "  closed_by TEXT, closed_at INTEGER, history INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS promises_by_thread ON promises (thread_id, status);"
    "CREATE INDEX IF NOT EXISTS promises_by_status ON promises (status, due_at);"
    "ALTER TABLE instructions ADD COLUMN probably_done INTEGER;"
    "ALTER TABLE instructions ADD COLUMN done_by TEXT;"
    "ALTER TABLE threads ADD COLUMN handled_since INTEGER;"
    "ALTER TABLE threads ADD COLUMN handled_until INTEGER;",
    error);
}

static gboolean store_migrate_to_10(Store *store, GError **error)
{
  return store_exec(store, "ALTER TABLE folders ADD COLUMN missing_since INTEGER;", error);
}

typedef gboolean (*StoreMigration)(Store *store, GError **error);
/* Messages are indexed for search by the store just before COMMIT
 * (store-search.c), no longer by a trigger at every insert. */
static gboolean store_migrate_to_11(Store *store, GError **error)
{
  return store_exec(store, "DROP TRIGGER IF EXISTS message_search_add;", error);
}

static const StoreMigration store_migrations[] = {
  store_migrate_to_1, store_migrate_to_2, store_migrate_to_3, store_migrate_reserved,
  store_migrate_to_5, store_migrate_to_6, store_migrate_to_7, store_migrate_to_8,
  store_migrate_to_9, store_migrate_to_10, store_migrate_to_11,
};
#define STORE_SCHEMA_VERSION ((int)G_N_ELEMENTS(store_migrations))

GPtrArray *store_collect(Store *store, sqlite3_stmt *stmt, StoreRowReader read,
                         GDestroyNotify free_row, const char *what, GError **error)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func(free_row);
  int rc;
  while ((rc = store_step(store, stmt, what, error)) == SQLITE_ROW)
    g_ptr_array_add(rows, read(stmt));
  return rc == SQLITE_DONE ? g_steal_pointer(&rows) : NULL;
}

int store_schema_latest(void)
{
  return STORE_SCHEMA_VERSION;
}

static gboolean store_read_version(Store *store, int *version, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store, "PRAGMA user_version", error);
  if (!stmt || store_step(store, stmt, "reading the schema version", error) != SQLITE_ROW)
    return FALSE;
  *version = sqlite3_column_int(stmt, 0);
  return TRUE;
}

/* One migration step and its version bump, in one transaction. */
static gboolean store_migrate_step(Store *store, int to, GError **error)
{
  if (!store_begin(store, error))
    return FALSE;
  /* Another keel may have upgraded it while we waited for the write lock. */
  int current = 0;
  if (!store_read_version(store, &current, error)) {
    store_rollback(store);
    return FALSE;
  }
  if (current >= to)
    return store_commit(store, error);
  g_autofree char *bump = g_strdup_printf("PRAGMA user_version = %d", to);
  if (!store_migrations[to - 1](store, error) || !store_exec(store, bump, error)) {
    store_rollback(store);
    g_prefix_error(error, "upgrading the schema to version %d: ", to);
    if (error && *error)
      (*error)->code = KEEL_STORE_ERROR_SCHEMA;
    return FALSE;
  }
  return store_commit(store, error);
}

static gboolean store_migrate(Store *store, GError **error)
{
  int version = 0;
  if (!store_read_version(store, &version, error))
    return FALSE;
  if (version > STORE_SCHEMA_VERSION) {
    g_set_error(error, KEEL_STORE_ERROR, KEEL_STORE_ERROR_SCHEMA,
                "database %s has schema version %d, but this keel knows only up to %d: "
                "use a newer keel", store->path, version, STORE_SCHEMA_VERSION);
    return FALSE;
  }
  for (int to = version + 1; to <= STORE_SCHEMA_VERSION; to++)
    if (!store_migrate_step(store, to, error))
      return FALSE;
  store->version = STORE_SCHEMA_VERSION;
  return TRUE;
}

/* ---- open and close ---------------------------------------------------- */

/* The database and its companions hold client mail: only keel's user may read
 * them, whatever the umask. SQLite gives -wal, -shm and -journal the mode of
 * the database file when it creates them, so creating the file 0600 first
 * covers new ones; existing ones (from an older keel) are narrowed here. */
static const char *const store_companions[] = { "", "-wal", "-shm", "-journal" };

/* Narrows `path` to 0600 when it exists and is wider. FALSE with `error` set
 * when it exists and cannot be narrowed. */
static gboolean store_secure_one(const char *path, GError **error)
{
  GStatBuf st;
  if (g_stat(path, &st) != 0 || (st.st_mode & 077) == 0)
    return TRUE;
  if (g_chmod(path, 0600) == 0)
    return TRUE;
  int saved = errno;
  g_set_error(error, KEEL_STORE_ERROR, KEEL_STORE_ERROR_OPEN,
              "database %s: cannot make it private (chmod 600): %s", path, g_strerror(saved));
  return FALSE;
}

gboolean store_secure_files(const char *path, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS(store_companions); i++) {
    g_autofree char *name = g_strconcat(path, store_companions[i], NULL);
    if (!store_secure_one(name, error))
      return FALSE;
  }
  return TRUE;
}

/* Creates the database file 0600 before SQLite sees it (SQLite would create
 * it 0644 under the usual umask), and narrows what exists already. */
static gboolean store_create_private(const char *path, GError **error)
{
  if (path[0] == '\0' || g_str_equal(path, ":memory:") || g_str_has_prefix(path, "file:"))
    return TRUE;
  int fd = g_open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    int saved = errno;
    g_set_error(error, KEEL_STORE_ERROR, KEEL_STORE_ERROR_OPEN,
                "database %s: cannot open or create it: %s", path, g_strerror(saved));
    return FALSE;
  }
  close(fd);
  return store_secure_files(path, error);
}

static gboolean store_configure(Store *store, GError **error)
{
  sqlite3_busy_timeout(store->db, STORE_BUSY_TIMEOUT_MS);
  sqlite3_extended_result_codes(store->db, 1);
  g_autoptr(StoreStmt) stmt = store_prepare(store, "PRAGMA journal_mode = WAL", error);
  if (!stmt || store_step(store, stmt, "switching to WAL", error) != SQLITE_ROW)
    return FALSE;
  /* temp_store = MEMORY: the journal of each per-message SAVEPOINT (SQLite
   * copies every page a savepoint changes first) stays in memory instead of
   * spilling to a file in /var/tmp past 64 KB: an initial sync wrote ~40
   * pages per message there, two write() calls each. It is emptied when the
   * outermost savepoint ends, so it holds one message's pages at most. */
  return store_exec(store, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"
                    " PRAGMA temp_store = MEMORY;", error);
}

Store *store_open(const char *path, GError **error)
{
  if (!store_create_private(path, error))
    return NULL;
  Store *store = g_new0(Store, 1);
  store->path = g_strdup(path);
  store_search_init(store);
  int rc = sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                           | SQLITE_OPEN_FULLMUTEX, NULL);
  if (rc != SQLITE_OK) {
    store_set_error(store, rc, KEEL_STORE_ERROR_OPEN, "cannot open or create it", error);
    store_close(store);
    return NULL;
  }
  store_cache_open(store->db);
  if (!store_configure(store, error) || !store_migrate(store, error)
      || !store_secure_files(path, error)) {
    store_close(store);
    return NULL;
  }
  return store;
}

void store_close(Store *store)
{
  if (!store)
    return;
  while (store->depth > 0)
    store_rollback(store);
  if (store->db) {
    store_cache_close(store->db);
    sqlite3_close_v2(store->db);
  }
  store_search_clear(store);
  g_free(store->path);
  g_free(store);
}

int store_schema_version(Store *store)
{
  return store->version;
}

/* ---- transactions ------------------------------------------------------ */

/* One statement of transaction control, prepared once per connection (the
 * statement cache): BEGIN, COMMIT and the per-message SAVEPOINTs run a few
 * times per message during a sync. */
static gboolean store_exec_cached(Store *store, const char *sql, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store, sql, error);
  return stmt && store_run(store, stmt, "running SQL", error);
}

gboolean store_begin(Store *store, GError **error)
{
  g_autofree char *sql = store->depth == 0 ? g_strdup("BEGIN IMMEDIATE")
                                           : g_strdup_printf("SAVEPOINT keel%u", store->depth);
  if (!store_exec_cached(store, sql, error)) {
    g_prefix_error(error, "starting a transaction: ");
    return FALSE;
  }
  store->depth++;
  store_search_mark(store);
  return TRUE;
}

gboolean store_commit(Store *store, GError **error)
{
  g_return_val_if_fail(store->depth > 0, FALSE);
  guint level = store->depth - 1;
  g_autofree char *sql = level == 0 ? g_strdup("COMMIT")
                                    : g_strdup_printf("RELEASE SAVEPOINT keel%u", level);
  if ((level == 0 && !store_search_flush(store, error))
      || !store_exec_cached(store, sql, error)) {
    g_prefix_error(error, "committing: ");
    store_rollback(store);
    return FALSE;
  }
  store->depth = level;
  store_search_unwind(store, FALSE);
  return TRUE;
}

void store_rollback(Store *store)
{
  g_return_if_fail(store->depth > 0);
  guint level = store->depth - 1;
  g_autofree char *sql = level == 0 ? g_strdup("ROLLBACK")
                                    : g_strdup_printf("ROLLBACK TO SAVEPOINT keel%u; "
                                                      "RELEASE SAVEPOINT keel%u", level, level);
  if (sqlite3_exec(store->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    g_warning("database %s: rollback failed: %s", store->path, sqlite3_errmsg(store->db));
  store->depth = level;
  store_search_unwind(store, TRUE);
}

/* ---- folders ----------------------------------------------------------- */

gint64 store_folder_ensure(Store *store, const char *account, const char *folder, GError **error)
{
  g_autoptr(StoreStmt) insert = store_prepare(store,
    "INSERT INTO folders (account, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING", error);
  g_autoptr(StoreStmt) select = insert ? store_prepare(store,
    "SELECT id FROM folders WHERE account = ?1 AND name = ?2", error) : NULL;
  if (!select)
    return 0;
  store_bind_text(insert, 1, account);
  store_bind_text(insert, 2, folder);
  store_bind_text(select, 1, account);
  store_bind_text(select, 2, folder);
  if (!store_run(store, insert, "adding a folder", error)
      || store_step(store, select, "finding a folder", error) != SQLITE_ROW)
    return 0;
  return sqlite3_column_int64(select, 0);
}

gboolean store_folder_state(Store *store, gint64 folder_id, guint32 *uidvalidity,
                            guint32 *last_uid, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT uidvalidity, last_uid FROM folders WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, folder_id);
  int rc = store_step(store, stmt, "reading a folder's state", error);
  if (rc == SQLITE_DONE)
    g_set_error(error, KEEL_STORE_ERROR, KEEL_STORE_ERROR_FAILED,
                "database %s: no folder with id %" G_GINT64_FORMAT, store->path, folder_id);
  if (rc != SQLITE_ROW)
    return FALSE;
  if (uidvalidity)
    *uidvalidity = (guint32)sqlite3_column_int64(stmt, 0);
  if (last_uid)
    *last_uid = (guint32)sqlite3_column_int64(stmt, 1);
  return TRUE;
}

gboolean store_folder_reset(Store *store, gint64 folder_id, guint32 uidvalidity, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "UPDATE folders SET uidvalidity = ?2, last_uid = 0 WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, folder_id);
  sqlite3_bind_int64(stmt, 2, uidvalidity);
  return store_run(store, stmt, "resetting a folder", error);
}

gboolean store_folder_advance(Store *store, gint64 folder_id, guint32 uid, GError **error)
{
  if (folder_id == 0)
    return TRUE;
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "UPDATE folders SET last_uid = MAX(last_uid, ?2) WHERE id = ?1", error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, folder_id);
  sqlite3_bind_int64(stmt, 2, uid);
  return store_run(store, stmt, "advancing a folder's last UID", error);
}

void store_folder_row_free(StoreFolderRow *row)
{
  if (!row)
    return;
  g_free(row->account);
  g_free(row->folder);
  g_clear_pointer(&row->missing_since, g_date_time_unref);
  g_free(row);
}

static gpointer store_folder_row_read(sqlite3_stmt *stmt)
{
  StoreFolderRow *row = g_new0(StoreFolderRow, 1);
  row->account = store_column_text(stmt, 0);
  row->folder = store_column_text(stmt, 1);
  row->uidvalidity = (guint32)sqlite3_column_int64(stmt, 2);
  row->last_uid = (guint32)sqlite3_column_int64(stmt, 3);
  row->messages = sqlite3_column_int64(stmt, 4);
  row->missing_since = store_column_time(stmt, 5);
  return row;
}

GPtrArray *store_list_folders(Store *store, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT f.account, f.name, f.uidvalidity, f.last_uid,"
    "  (SELECT COUNT(*) FROM messages m WHERE m.folder_id = f.id), f.missing_since"
    " FROM folders f ORDER BY f.account, f.name", error);
  if (!stmt)
    return NULL;
  return store_collect(store, stmt, store_folder_row_read,
                       (GDestroyNotify)store_folder_row_free, "listing folders", error);
}

gboolean store_folder_set_missing(Store *store, gint64 folder_id, GDateTime *since,
                                  GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store, since
    ? "UPDATE folders SET missing_since = ?2 WHERE id = ?1 AND missing_since IS NULL"
    : "UPDATE folders SET missing_since = NULL WHERE id = ?1 AND missing_since IS NOT NULL",
    error);
  if (!stmt)
    return FALSE;
  sqlite3_bind_int64(stmt, 1, folder_id);
  if (since)
    store_bind_time(stmt, 2, since);
  return store_run(store, stmt, "recording a missing folder", error);
}

/* ---- accounts ---------------------------------------------------------- */

gboolean store_account_record_poll(Store *store, const char *account, GDateTime *when,
                                   const char *error_text, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store, error_text
    ? "INSERT INTO accounts (name, last_error, last_error_at) VALUES (?1, ?3, ?2)"
      " ON CONFLICT (name) DO UPDATE SET last_error = ?3, last_error_at = ?2"
    : "INSERT INTO accounts (name, last_poll) VALUES (?1, ?2)"
      " ON CONFLICT (name) DO UPDATE SET last_poll = ?2, last_error = NULL,"
      " last_error_at = NULL", error);
  if (!stmt)
    return FALSE;
  store_bind_text(stmt, 1, account);
  store_bind_time(stmt, 2, when);
  if (error_text)
    store_bind_text(stmt, 3, error_text);
  return store_run(store, stmt, "recording a poll", error);
}

void store_account_row_free(StoreAccountRow *row)
{
  if (!row)
    return;
  g_free(row->account);
  g_clear_pointer(&row->last_poll, g_date_time_unref);
  g_free(row->last_error);
  g_clear_pointer(&row->last_error_at, g_date_time_unref);
  g_free(row);
}

static gpointer store_account_row_read(sqlite3_stmt *stmt)
{
  StoreAccountRow *row = g_new0(StoreAccountRow, 1);
  row->account = store_column_text(stmt, 0);
  row->last_poll = store_column_time(stmt, 1);
  row->last_error = store_column_text(stmt, 2);
  row->last_error_at = store_column_time(stmt, 3);
  return row;
}

GPtrArray *store_list_accounts(Store *store, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT name, last_poll, last_error, last_error_at FROM accounts ORDER BY name", error);
  if (!stmt)
    return NULL;
  return store_collect(store, stmt, store_account_row_read,
                       (GDestroyNotify)store_account_row_free, "listing accounts", error);
}
