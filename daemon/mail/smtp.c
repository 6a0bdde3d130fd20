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
 * Must not: retry (daemon/outbox/outbox.c decides), log passwords or message text.
 */
#include <string.h>
#include "daemon/base/cleanup.h"
#include "daemon/mail/smtp.h"
#include "daemon/mail/oauth.h"

G_DEFINE_QUARK(keel-smtp-error-quark, keel_smtp_error)

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

static KeelSmtpError smtp_classify(CURLcode code, long reply)
{
  if (code == CURLE_LOGIN_DENIED)
    return reply >= 400 && reply < 500 ? KEEL_SMTP_ERROR_TEMPORARY : KEEL_SMTP_ERROR_AUTH;
  if (reply >= 500 && reply < 600)
    return KEEL_SMTP_ERROR_PERMANENT;
  if (reply >= 400 && reply < 500)
    return KEEL_SMTP_ERROR_TEMPORARY;
  switch (code) {
  case CURLE_USE_SSL_FAILED:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
    return KEEL_SMTP_ERROR_CONFIG;
  default:
    return KEEL_SMTP_ERROR_TEMPORARY;
  }
}

gboolean smtp_error_from_curl(CURLcode code, long reply, const char *detail, const char *what,
                              GError **error)
{
  KeelSmtpError kind = smtp_classify(code, reply);
  static const char *const advice[] = {
    [KEEL_SMTP_ERROR_TEMPORARY] = "will retry later",
    [KEEL_SMTP_ERROR_PERMANENT] = "the server refused it; not retried",
    [KEEL_SMTP_ERROR_AUTH] = "check the account's user and password",
    [KEEL_SMTP_ERROR_CONFIG] = "check the account's smtp URL, ca_file and TLS settings",
  };
  g_autofree char *server = detail && *detail ? g_strdup_printf(" (%s)", detail)
                           : reply > 0 ? g_strdup_printf(" (server said %ld)", reply)
                           : g_strdup("");
  g_set_error(error, KEEL_SMTP_ERROR, kind, "%s: %s%s: %s", what, curl_easy_strerror(code),
              server, advice[kind]);
  return FALSE;
}

/* The URL, if the TLS policy allows it. */
static gboolean smtp_check_url(const KeelAccount *account, GError **error)
{
  const char *url = account->smtp;
  if (url && g_str_has_prefix(url, "smtps://"))
    return TRUE;
  if (url && g_str_has_prefix(url, "smtp://"))
    return TRUE;
  g_set_error(error, KEEL_SMTP_ERROR, KEEL_SMTP_ERROR_CONFIG,
              "account %s: no usable smtp URL (smtps://host or smtp://host)", account->name);
  return FALSE;
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
}

gboolean smtp_send(const KeelAccount *account, const char *password, const char *mail_from,
                   const char *rcpt, GBytes *raw, GError **error)
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
  CURLcode code = curl_easy_perform(curl);
  long reply = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
  if (code == CURLE_OK)
    return TRUE;
  g_autofree char *what = g_strdup_printf("sending to %s through %s", rcpt, account->smtp);
  return smtp_error_from_curl(code, reply, replies.last_reply[0] ? replies.last_reply
                                                                 : curl_error, what, error);
}
