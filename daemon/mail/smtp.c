/* daemon/mail/smtp.c: one message out over SMTP, with libcurl (one easy handle
 * per send: keel sends a few messages a day, so a connection is not kept).
 *
 * The steps: check the URL against the TLS policy, set up the handle (TLS
 * required unless allow_plaintext, CA file, AUTH, connect and read
 * timeouts, envelope), upload the bytes, then classify the outcome by
 * CURLINFO_RESPONSE_CODE (libcurl's own codes are coarse: every RCPT refusal
 * is CURLE_SEND_ERROR, every DATA refusal CURLE_WEIRD_SERVER_REPLY). The
 * server's last reply line is kept for the error message.
 *
 * Every failure goes through mail_error_from_curl() (daemon/mail/mail-error.c).
 * Must not: retry (daemon/outbox/outbox.c decides), log passwords or message text.
 */
#include <string.h>
#include "daemon/base/cleanup.h"
#include "daemon/mail/mail-error.h"
#include "daemon/mail/smtp.h"
#include "daemon/mail/oauth.h"


typedef struct {
  const guint8 *data; /* borrowed */
  gsize size, offset;
} SmtpSource;

typedef struct {
  char last_reply[256]; /* the server's first refusal line, for errors */
} SmtpReplies;

static size_t smtp_read(char *buffer, size_t size, size_t count, void *user_data)
{
  SmtpSource *source = user_data;
  gsize n = MIN(size * count, source->size - source->offset);
  memcpy(buffer, source->data + source->offset, n);
  source->offset += n;
  return n;
}

static size_t smtp_header(char *buffer, size_t size, size_t count, void *user_data)
{
  SmtpReplies *replies = user_data;
  gsize n = MIN(size * count, sizeof replies->last_reply - 1);
  /* the first refusal (4xx/5xx) is the one to report, not the QUIT after it */
  if (n >= 4 && (buffer[0] == '4' || buffer[0] == '5') && !replies->last_reply[0]) {
    memcpy(replies->last_reply, buffer, n);
    replies->last_reply[n] = '\0';
    g_strchomp(replies->last_reply);
  }
  return size * count;
}

static int smtp_progress(void *user_data, curl_off_t dltotal, curl_off_t dlnow,
                         curl_off_t ultotal, curl_off_t ulnow)
{
  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  return g_cancellable_is_cancelled(user_data);
}

/* The URL, if the TLS policy allows it. */
static gboolean smtp_check_url(const KeelAccount *account, GError **error)
{
  const char *url = account->smtp;
  if (url && g_str_has_prefix(url, "smtps://"))
    return TRUE;
  if (url && g_str_has_prefix(url, "smtp://"))
    return TRUE;
  return mail_error_set(error, KEEL_MAIL_ERROR_CONFIG, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT,
                        "account %s: no usable smtp URL (smtps://host or smtp://host)",
                        account->name);
}

static void smtp_set_connection(CURL *curl, const KeelAccount *account, const char *password)
{
  curl_easy_setopt(curl, CURLOPT_URL, account->smtp);
  curl_easy_setopt(curl, CURLOPT_USE_SSL,
                   account->allow_plaintext ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_ALL);
  if (account->ca_file)
    curl_easy_setopt(curl, CURLOPT_CAINFO, account->ca_file);
  if (account->user && password) {
    oauth_set_login(curl, account, password); /* password or OAuth2 bearer */
  }
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)account->connect_timeout);
  curl_easy_setopt(curl, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)account->read_timeout);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)account->read_timeout * 4);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  /* closed at the end of the transfer, by this handle: after an aborted or
   * failed one without a QUIT (whose wait, in curl_easy_cleanup(), would
   * ignore both the timeouts and the cancellable) */
  curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
}

gboolean smtp_send(const KeelAccount *account, const char *password, const char *mail_from,
                   const char *rcpt, GBytes *raw, GCancellable *cancellable, GError **error)
{
  if (!smtp_check_url(account, error))
    return FALSE;
  g_autoptr(CURL) curl = curl_easy_init();
  g_autoptr(curl_slist) rcpts = curl_slist_append(NULL, rcpt);
  SmtpSource source = { .data = g_bytes_get_data(raw, &source.size) };
  SmtpReplies replies = { { 0 } };
  char curl_error[CURL_ERROR_SIZE] = "";
  smtp_set_connection(curl, account, password);
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail_from);
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, smtp_read);
  curl_easy_setopt(curl, CURLOPT_READDATA, &source);
  curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)source.size);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, smtp_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &replies);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
  if (cancellable) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, smtp_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, cancellable);
  }
  CURLcode code = curl_easy_perform(curl);
  long reply = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
  if (code == CURLE_OK)
    return TRUE;
  g_autofree char *what = g_strdup_printf("sending to %s through %s", rcpt, account->smtp);
  MailErrorContext context = {
    .what = what, .reply = reply,
    .detail = replies.last_reply[0] ? replies.last_reply : curl_error,
    .cancelled = g_cancellable_is_cancelled(cancellable),
  };
  return mail_error_from_curl(code, &context, error);
}
