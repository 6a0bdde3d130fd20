/* daemon/mail/folders.c: finding an account's Sent and Drafts folders by
 * RFC 6154 SPECIAL-USE when keel.conf leaves sent_folder / drafts_folder
 * unset (Gmail's "[Gmail]/Sent Mail", Outlook's "Sent Items", "Entwürfe").
 * The LIST goes over the poll's own session, or over the outbox's writer
 * (no extra login either way); the answer is read by filters/special-use.c.
 *
 * The names found are runtime state, not config: KeelConfig stays as
 * config_load() made it. They live in a process-wide table keyed by the
 * account's name, IMAP URL and user (so a reload that points an account at
 * another server asks again), each name set once and never freed, so the
 * pointers folders_sent() and folders_drafts() hand out stay valid while
 * other threads read them.
 *
 * It must never write to the mailbox or the config, never log the secret,
 * and never replace a name once set. */
#include <string.h>
#include "daemon/mail/folders.h"
#include "filters/special-use.h"

/* What the server said for one account; both NULL until asked. */
typedef struct {
  char *sent;    /* owned, set once, never freed (readers keep the pointer) */
  char *drafts;  /* owned, likewise */
} FoldersFound;

static GMutex folders_lock;
static GHashTable *folders_found; /* "name\nimap\nuser" -> FoldersFound*, under folders_lock */

/* The entry of `account`, created empty. Call with folders_lock held. */
static FoldersFound *folders_entry(const KeelAccount *account)
{
  if (!folders_found)
    folders_found = g_hash_table_new(g_str_hash, g_str_equal); /* lives as long as the process */
  g_autofree char *key = g_strdup_printf("%s\n%s\n%s", account->name,
                                         account->imap ? account->imap : "",
                                         account->user ? account->user : "");
  FoldersFound *found = g_hash_table_lookup(folders_found, key);
  if (!found) {
    found = g_new0(FoldersFound, 1);
    g_hash_table_insert(folders_found, g_steal_pointer(&key), found);
  }
  return found;
}

/* keel.conf's name, else the one found on the server, else NULL. */
static const char *folders_name(const KeelAccount *account, gboolean sent)
{
  const char *configured = sent ? account->sent_folder : account->drafts_folder;
  if (configured)
    return configured;
  g_mutex_lock(&folders_lock);
  FoldersFound *found = folders_entry(account);
  const char *name = sent ? found->sent : found->drafts;
  g_mutex_unlock(&folders_lock);
  return name;
}

const char *folders_sent(const KeelAccount *account)
{
  return folders_name(account, TRUE);
}

const char *folders_drafts(const KeelAccount *account)
{
  return folders_name(account, FALSE);
}

/* One LIST command over the connection at hand (a poll session or the
 * outbox's writer): its untagged lines as a new string, NULL with `error`. */
typedef char *(*FoldersList)(gpointer connection, const char *command, GError **error);

static char *folders_list_session(gpointer session, const char *command, GError **error)
{
  return imap_session_list(session, command, error);
}

static char *folders_list_writer(gpointer writer, const char *command, GError **error)
{
  return imap_writer_list(writer, command, error);
}

/* The LIST answers, with RETURN (SPECIAL-USE) where the server takes it.
 * NULL with `error` when the connection fails; "" when LIST is refused. */
static char *folders_ask(FoldersList list_with, gpointer connection, GError **error)
{
  g_autoptr(GError) local = NULL;
  char *list = list_with(connection, "LIST \"\" \"*\" RETURN (SPECIAL-USE)", &local);
  if (!list && g_error_matches(local, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_REFUSED)) {
    g_clear_error(&local); /* no LIST-EXTENDED: a plain LIST still shows \Sent */
    list = list_with(connection, "LIST \"\" \"*\"", &local);
  }
  if (list)
    return list;
  if (g_error_matches(local, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_REFUSED))
    return g_strdup("");
  g_propagate_error(error, g_steal_pointer(&local));
  return NULL;
}

/* Sets `*field` once (it is NULL); logs what was chosen. */
static void folders_set(const KeelAccount *account, char **field, char *found,
                        const char *fallback, const char *what)
{
  *field = found ? found : g_strdup(fallback);
  g_message("account '%s': %s folder is '%s' (%s)", account->name, what, *field,
            found ? "found on the server" : "the usual name; set it in keel.conf if wrong");
}

/* Sets the names keel.conf leaves unset and the server has not given yet.
 * Call with folders_lock held. */
static void folders_fill(const KeelAccount *account, const char *list)
{
  FoldersFound *found = folders_entry(account);
  char *sent = NULL, *drafts = NULL;
  special_use_pick(list, &sent, &drafts);
  if (!account->sent_folder && !found->sent)
    folders_set(account, &found->sent, g_steal_pointer(&sent), "Sent", "Sent");
  if (!account->drafts_folder && !found->drafts)
    folders_set(account, &found->drafts, g_steal_pointer(&drafts), "Drafts", "Drafts");
  g_free(sent);
  g_free(drafts);
}

/* Asks over `connection` unless both names are known; FALSE with `error`
 * when the connection fails. */
static gboolean folders_resolve_with(const KeelAccount *account, FoldersList list_with,
                                     gpointer connection, GError **error)
{
  if (folders_sent(account) && folders_drafts(account))
    return TRUE;
  /* Ask without the lock: a hanging server of one account must not hold up
   * the others (two threads of one account may both ask; the fill sets each
   * field once). */
  g_autofree char *list = folders_ask(list_with, connection, error);
  if (!list)
    return FALSE;
  g_mutex_lock(&folders_lock);
  folders_fill(account, list);
  g_mutex_unlock(&folders_lock);
  return TRUE;
}

gboolean folders_resolve(const KeelAccount *account, ImapSession *session, GError **error)
{
  return folders_resolve_with(account, folders_list_session, session, error);
}

void folders_resolve_writer(const KeelAccount *account, ImapWriter *writer)
{
  if (folders_sent(account) && folders_drafts(account))
    return;
  g_autoptr(GError) error = NULL;
  if (writer && folders_resolve_with(account, folders_list_writer, writer, &error))
    return;
  g_warning("account '%s': cannot ask the server for its Sent and Drafts folders (%s); using "
            "\"Sent\" and \"Drafts\"", account->name, error ? error->message : "no imap URL");
  g_mutex_lock(&folders_lock);
  folders_fill(account, "");
  g_mutex_unlock(&folders_lock);
}
