/* daemon/store/store-backup.c: `keel backup`'s engine: a consistent copy of
 * the open store through SQLite's online backup API, safe while the daemon
 * writes (pages copied in steps; a writer in between restarts the copy).
 * The copy is written beside its destination under a temporary name created
 * 0600 (it holds every client's mail), then renamed into place, so a crash
 * never leaves a half-written backup under the real name. Never follows a
 * symlink at the destination. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "daemon/store/store-private.h"

/* Creates `path` empty and 0600 whatever the umask; FALSE with `error`. */
static gboolean store_backup_create_private(const char *path, GError **error)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 || fchmod(fd, 0600) != 0) {
    int saved = errno;
    if (fd >= 0)
      close(fd);
    g_set_error(error, KEEL_STORE_ERROR, KEEL_STORE_ERROR_OPEN,
                "cannot create the backup %s: %s", path, g_strerror(saved));
    return FALSE;
  }
  close(fd);
  return TRUE;
}

/* Copies every page of `store` into the database file `path`. */
static gboolean store_backup_copy(Store *store, const char *path, GError **error)
{
  sqlite3 *target = NULL;
  int rc = sqlite3_open_v2(path, &target, SQLITE_OPEN_READWRITE, NULL);
  sqlite3_backup *backup = rc == SQLITE_OK
    ? sqlite3_backup_init(target, "main", store->db, "main") : NULL;
  if (backup) {
    do {
      rc = sqlite3_backup_step(backup, 256);
      if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        sqlite3_sleep(50);
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(backup);
    rc = rc == SQLITE_DONE ? sqlite3_errcode(target) : rc;
  } else if (rc == SQLITE_OK) {
    rc = sqlite3_errcode(target);
  }
  g_autofree char *message = g_strdup(target ? sqlite3_errmsg(target) : sqlite3_errstr(rc));
  sqlite3_close(target);
  if (rc == SQLITE_OK)
    return TRUE;
  g_set_error(error, KEEL_STORE_ERROR, KEEL_STORE_ERROR_OPEN,
              "backup to %s failed: %s", path, message);
  return FALSE;
}

gboolean store_backup(Store *store, const char *path, GError **error)
{
  g_autofree char *temporary = g_strdup_printf("%s.partial-%d", path, (int)getpid());
  if (!store_backup_create_private(temporary, error))
    return FALSE;
  if (!store_backup_copy(store, temporary, error) || g_rename(temporary, path) != 0) {
    int saved = errno;
    if (error && !*error)
      g_set_error(error, KEEL_STORE_ERROR, KEEL_STORE_ERROR_OPEN,
                  "cannot move the backup into place at %s: %s", path, g_strerror(saved));
    g_unlink(temporary);
    return FALSE;
  }
  return TRUE;
}
