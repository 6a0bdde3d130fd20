/* daemon/mail/folders.c: finding an account's Sent and Drafts folders by
 * RFC 6154 SPECIAL-USE when keel.conf leaves sent_folder / drafts_folder
 * unset (Gmail's "[Gmail]/Sent Mail", Outlook's "Sent Items", "Entwürfe").
 * The LIST goes over the poll's own session (no extra login); the answer is
 * read by filters/special-use.c. It must never write to the mailbox, never
 * log the secret, and never replace a name once set (other threads read
 * these fields without a lock). */
#include <string.h>
#include "daemon/mail/folders.h"
#include "filters/special-use.h"

static GMutex folders_lock;

/* The LIST answers, with RETURN (SPECIAL-USE) where the server takes it.
 * NULL with `error` when the session fails; "" when LIST is refused. */
static char *folders_ask(ImapSession *session, GError **error)
{
  g_autoptr(GError) local = NULL;
  char *list = imap_session_list(session, "LIST \"\" \"*\" RETURN (SPECIAL-USE)", &local);
  if (!list && g_error_matches(local, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_REFUSED)) {
    g_clear_error(&local); /* no LIST-EXTENDED: a plain LIST still shows \Sent */
    list = imap_session_list(session, "LIST \"\" \"*\"", &local);
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

static void folders_fill(const KeelAccount *account, const char *list)
{
  /* The only writer of these two fields after config_load(): set once, under
   * folders_lock, never freed before config_free(). */
  KeelAccount *writable = (KeelAccount *)account;
  char *sent = NULL, *drafts = NULL;
  special_use_pick(list, &sent, &drafts);
  if (!writable->sent_folder)
    folders_set(account, &writable->sent_folder, g_steal_pointer(&sent), "Sent", "Sent");
  if (!writable->drafts_folder)
    folders_set(account, &writable->drafts_folder, g_steal_pointer(&drafts), "Drafts", "Drafts");
  g_free(sent);
  g_free(drafts);
}

gboolean folders_resolve(const KeelAccount *account, ImapSession *session, GError **error)
{
  if (account->sent_folder && account->drafts_folder)
    return TRUE;
  /* Ask without the lock: a hanging server of one account must not hold up
   * the others (two threads of one account may both ask; the fill sets each
   * field once). */
  g_autofree char *list = folders_ask(session, error);
  if (!list)
    return FALSE;
  g_mutex_lock(&folders_lock);
  folders_fill(account, list);
  g_mutex_unlock(&folders_lock);
  return TRUE;
}

void folders_resolve_account(const KeelAccount *account, const char *secret)
{
  if (account->sent_folder && account->drafts_folder)
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(ImapSession) session = account->imap
                                     ? imap_session_new(account, secret, NULL, &error) : NULL;
  if (session && folders_resolve(account, session, &error))
    return;
  g_warning("account '%s': cannot ask the server for its Sent and Drafts folders (%s); using "
            "\"Sent\" and \"Drafts\"", account->name, error ? error->message : "no imap URL");
  g_mutex_lock(&folders_lock);
  folders_fill(account, "");
  g_mutex_unlock(&folders_lock);
}
