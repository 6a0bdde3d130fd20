/* daemon/mail/folders.c: finding an account's Sent and Drafts folders by
 * RFC 6154 SPECIAL-USE when keel.conf leaves sent_folder / drafts_folder
 * unset (Gmail's "[Gmail]/Sent Mail", Outlook's "Sent Items", "Entwürfe").
 * One short libcurl connection per account per process sends the LIST; the
 * answer is read by filters/special-use.c. It must never write to the mailbox,
 * never log the secret, and never replace a name once set (other threads read
 * these fields without a lock). */
#include <string.h>
#include <curl/curl.h>
#include "daemon/mail/folders.h"
#include "daemon/mail/oauth.h"
#include "filters/special-use.h"

#define FOLDERS_LIST_LIMIT (1024u * 1024u)

static GMutex folders_lock;

static size_t folders_on_body(char *data, size_t size, size_t n, void *user_data)
{
  GString *body = user_data;
  if (body->len + n > FOLDERS_LIST_LIMIT)
    return 0;
  g_string_append_len(body, data, (gssize)n);
  return size * n;
}

/* The server URL without a path (the LIST runs on no mailbox). */
static char *folders_base_url(const char *imap)
{
  char *url = g_strdup(imap);
  char *host = strstr(url, "://");
  char *path = host ? strchr(host + 3, '/') : NULL;
  if (path)
    *path = '\0';
  return url;
}

/* One LIST command; the untagged answers in `body`. */
static CURLcode folders_list(const KeelAccount *account, const char *secret, const char *command,
                             GString *body)
{
  CURL *curl = curl_easy_init();
  g_autofree char *url = folders_base_url(account->imap);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "imap,imaps");
  curl_easy_setopt(curl, CURLOPT_USE_SSL,
                   account->allow_plaintext ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_ALL);
  if (account->ca_file)
    curl_easy_setopt(curl, CURLOPT_CAINFO, account->ca_file);
  oauth_set_login(curl, account, secret);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)MAX(account->connect_timeout, 1u));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)MAX(account->read_timeout, 1u));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, command);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, folders_on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_cleanup(curl);
  return rc;
}

/* The LIST answers, with RETURN (SPECIAL-USE) where the server takes it. */
static char *folders_ask(const KeelAccount *account, const char *secret)
{
  GString *body = g_string_new(NULL);
  CURLcode rc = folders_list(account, secret, "LIST \"\" \"*\" RETURN (SPECIAL-USE)", body);
  if (rc == CURLE_QUOTE_ERROR) { /* BAD: no LIST-EXTENDED; plain LIST still shows \Sent */
    g_string_truncate(body, 0);
    rc = folders_list(account, secret, "LIST \"\" \"*\"", body);
  }
  if (rc == CURLE_OK)
    return g_string_free(body, FALSE);
  g_warning("account '%s': cannot list the folders to find Sent and Drafts (%s); using "
            "\"Sent\" and \"Drafts\"", account->name, curl_easy_strerror(rc));
  g_string_free(body, TRUE);
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

void folders_resolve(const KeelAccount *account, const char *secret)
{
  if (account->sent_folder && account->drafts_folder)
    return;
  g_mutex_lock(&folders_lock);
  /* The only writer of these two fields after config_load(): set once, under
   * the lock, never freed before config_free(). */
  KeelAccount *writable = (KeelAccount *)account;
  if (!writable->sent_folder || !writable->drafts_folder) {
    g_autofree char *list = account->imap ? folders_ask(account, secret) : NULL;
    char *sent = NULL, *drafts = NULL;
    special_use_pick(list, &sent, &drafts);
    if (!writable->sent_folder)
      folders_set(account, &writable->sent_folder, sent, "Sent", "Sent");
    else
      g_free(sent);
    if (!writable->drafts_folder)
      folders_set(account, &writable->drafts_folder, drafts, "Drafts", "Drafts");
    else
      g_free(drafts);
  }
  g_mutex_unlock(&folders_lock);
}
