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
 *      already stored, kept up to date by a trigger).
 *   3-6 reserved for other branches.
 *   7  store_migrate_to_7: index messages_by_thread_direction, for the
 *      history of a thread counted in SQL (store_thread_history).
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

sqlite3_stmt *store_prepare(Store *store, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;
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

/* reserved: filled by another branch */
static gboolean store_migrate_to_3(Store *store, GError **error)
{
  (void)store, (void)error;
  return TRUE;
}

/* reserved: filled by another branch */
static gboolean store_migrate_to_4(Store *store, GError **error)
{
  (void)store, (void)error;
  return TRUE;
}

/* reserved: filled by another branch */
static gboolean store_migrate_to_5(Store *store, GError **error)
{
  (void)store, (void)error;
  return TRUE;
}

/* reserved: filled by another branch */
static gboolean store_migrate_to_6(Store *store, GError **error)
{
  (void)store, (void)error;
  return TRUE;
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

typedef gboolean (*StoreMigration)(Store *store, GError **error);
static const StoreMigration store_migrations[] = {
  store_migrate_to_1, store_migrate_to_2, store_migrate_to_3, store_migrate_to_4,
  store_migrate_to_5, store_migrate_to_6, store_migrate_to_7,
};
#define STORE_SCHEMA_VERSION ((int)G_N_ELEMENTS(store_migrations))

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
  return store_exec(store, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;", error);
}

Store *store_open(const char *path, GError **error)
{
  if (!store_create_private(path, error))
    return NULL;
  Store *store = g_new0(Store, 1);
  store->path = g_strdup(path);
  int rc = sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                           | SQLITE_OPEN_FULLMUTEX, NULL);
  if (rc != SQLITE_OK) {
    store_set_error(store, rc, KEEL_STORE_ERROR_OPEN, "cannot open or create it", error);
    store_close(store);
    return NULL;
  }
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
  if (store->db)
    sqlite3_close_v2(store->db);
  g_free(store->path);
  g_free(store);
}

int store_schema_version(Store *store)
{
  return store->version;
}

/* ---- transactions ------------------------------------------------------ */

gboolean store_begin(Store *store, GError **error)
{
  g_autofree char *sql = store->depth == 0 ? g_strdup("BEGIN IMMEDIATE")
                                           : g_strdup_printf("SAVEPOINT keel%u", store->depth);
  if (!store_exec(store, sql, error)) {
    g_prefix_error(error, "starting a transaction: ");
    return FALSE;
  }
  store->depth++;
  return TRUE;
}

gboolean store_commit(Store *store, GError **error)
{
  g_return_val_if_fail(store->depth > 0, FALSE);
  guint level = store->depth - 1;
  g_autofree char *sql = level == 0 ? g_strdup("COMMIT")
                                    : g_strdup_printf("RELEASE SAVEPOINT keel%u", level);
  if (!store_exec(store, sql, error)) {
    g_prefix_error(error, "committing: ");
    store_rollback(store);
    return FALSE;
  }
  store->depth = level;
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
  g_free(row);
}

GPtrArray *store_list_folders(Store *store, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT f.account, f.name, f.uidvalidity, f.last_uid,"
    "  (SELECT COUNT(*) FROM messages m WHERE m.folder_id = f.id)"
    " FROM folders f ORDER BY f.account, f.name", error);
  if (!stmt)
    return NULL;
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)store_folder_row_free);
  int rc;
  while ((rc = store_step(store, stmt, "listing folders", error)) == SQLITE_ROW) {
    StoreFolderRow *row = g_new0(StoreFolderRow, 1);
    row->account = store_column_text(stmt, 0);
    row->folder = store_column_text(stmt, 1);
    row->uidvalidity = (guint32)sqlite3_column_int64(stmt, 2);
    row->last_uid = (guint32)sqlite3_column_int64(stmt, 3);
    row->messages = sqlite3_column_int64(stmt, 4);
    g_ptr_array_add(rows, row);
  }
  return rc == SQLITE_DONE ? g_steal_pointer(&rows) : NULL;
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

GPtrArray *store_list_accounts(Store *store, GError **error)
{
  g_autoptr(StoreStmt) stmt = store_prepare(store,
    "SELECT name, last_poll, last_error, last_error_at FROM accounts ORDER BY name", error);
  if (!stmt)
    return NULL;
  g_autoptr(GPtrArray) rows =
    g_ptr_array_new_with_free_func((GDestroyNotify)store_account_row_free);
  int rc;
  while ((rc = store_step(store, stmt, "listing accounts", error)) == SQLITE_ROW) {
    StoreAccountRow *row = g_new0(StoreAccountRow, 1);
    row->account = store_column_text(stmt, 0);
    row->last_poll = store_column_time(stmt, 1);
    row->last_error = store_column_text(stmt, 2);
    row->last_error_at = store_column_time(stmt, 3);
    g_ptr_array_add(rows, row);
  }
  return rc == SQLITE_DONE ? g_steal_pointer(&rows) : NULL;
}
