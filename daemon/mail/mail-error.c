/* daemon/mail/mail-error.c: the one converter from a libcurl result to a
 * GError for every mail protocol keel speaks (see mail-error.h).
 *
 * How it works: a table maps each CURLcode keel tells apart to (code, scope,
 * retry, advice); anything not in it is a network failure of the connection,
 * retried with backoff. The SMTP reply code, when there is one, decides
 * before the table: 5xx is a final refusal of this message, 4xx a temporary
 * one, and a login refused with 4xx is only temporary. A denied login is the
 * same everywhere: AUTH, account-wide, WAIT (retried at the capped interval,
 * the password must change). The two fields live in the GError itself (GLib
 * extended errors), so they survive g_prefix_error() and g_error_copy().
 *
 * Must not: log, decide to retry, or look at anything but its arguments. */
#include "daemon/mail/mail-error.h"

typedef struct {
  MailScope scope;
  MailRetry retry;
} KeelMailErrorPrivate;

static void keel_mail_error_private_init(KeelMailErrorPrivate *priv)
{
  priv->scope = MAIL_SCOPE_CONNECTION;
  priv->retry = MAIL_RETRY_TEMPORARY;
}

static void keel_mail_error_private_copy(const KeelMailErrorPrivate *src,
                                         KeelMailErrorPrivate *dest)
{
  *dest = *src;
}

static void keel_mail_error_private_clear(KeelMailErrorPrivate *priv)
{
  (void)priv;
}

G_DEFINE_EXTENDED_ERROR(KeelMailError, keel_mail_error)

static const struct {
  CURLcode curl;
  KeelMailErrorCode code;
  MailScope scope;
  MailRetry retry;
  const char *advice;
} mail_error_table[] = {
  { CURLE_LOGIN_DENIED, KEEL_MAIL_ERROR_AUTH, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT,
    "login denied: check the account's user and password" },
  { CURLE_PEER_FAILED_VERIFICATION, KEEL_MAIL_ERROR_TLS, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT,
    "TLS certificate does not verify: set ca_file to trust it" },
  { CURLE_SSL_CACERT_BADFILE, KEEL_MAIL_ERROR_TLS, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT,
    "ca_file cannot be read" },
  { CURLE_SSL_CERTPROBLEM, KEEL_MAIL_ERROR_TLS, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT,
    "TLS certificate problem" },
  { CURLE_USE_SSL_FAILED, KEEL_MAIL_ERROR_TLS, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT,
    "the server does not offer STARTTLS: use imaps:// or smtps:// (or allow_plaintext = true)" },
  { CURLE_UNSUPPORTED_PROTOCOL, KEEL_MAIL_ERROR_CONFIG, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT,
    "check the account's URL" },
  { CURLE_URL_MALFORMAT, KEEL_MAIL_ERROR_CONFIG, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT,
    "check the account's URL" },
  { CURLE_QUOTE_ERROR, KEEL_MAIL_ERROR_REFUSED, MAIL_SCOPE_FOLDER, MAIL_RETRY_WAIT,
    "the server answered NO/BAD: check the folder name" },
  { CURLE_REMOTE_FILE_NOT_FOUND, KEEL_MAIL_ERROR_GONE, MAIL_SCOPE_MESSAGE, MAIL_RETRY_FINAL,
    "the message is no longer in the folder" },
  { CURLE_ABORTED_BY_CALLBACK, KEEL_MAIL_ERROR_CANCELLED, MAIL_SCOPE_CONNECTION,
    MAIL_RETRY_TEMPORARY, "keel is shutting down" },
  { CURLE_OPERATION_TIMEDOUT, KEEL_MAIL_ERROR_NETWORK, MAIL_SCOPE_CONNECTION,
    MAIL_RETRY_TEMPORARY, "the server did not answer in time; will retry" },
};

gboolean mail_error_set(GError **error, KeelMailErrorCode code, MailScope scope, MailRetry retry,
                        const char *format, ...)
{
  if (!error)
    return FALSE;
  va_list args;
  va_start(args, format);
  GError *local = g_error_new_valist(KEEL_MAIL_ERROR, (gint)code, format, args);
  va_end(args);
  KeelMailErrorPrivate *priv = keel_mail_error_get_private(local);
  priv->scope = scope;
  priv->retry = retry;
  g_propagate_error(error, local);
  return FALSE;
}

/* An SMTP reply code decides before the CURLcode: 5xx final, 4xx temporary. */
static gboolean mail_error_from_reply(CURLcode code, const MailErrorContext *c,
                                      const char *detail, GError **error)
{
  gboolean final = c->reply >= 500;
  if (code == CURLE_LOGIN_DENIED && final)
    return FALSE; /* the table's AUTH case */
  mail_error_set(error, KEEL_MAIL_ERROR_REFUSED, MAIL_SCOPE_MESSAGE,
                 final ? MAIL_RETRY_FINAL : MAIL_RETRY_TEMPORARY, "%s: %s (%s): %s", c->what,
                 curl_easy_strerror(code), detail,
                 final ? "the server refused it; not retried" : "will retry later");
  return TRUE;
}

gboolean mail_error_from_curl(CURLcode code, const MailErrorContext *c, GError **error)
{
  g_autofree char *server = c->detail && *c->detail ? g_strdup(c->detail)
                            : c->reply > 0 ? g_strdup_printf("server said %ld", c->reply)
                            : g_strdup(curl_easy_strerror(code));
  if (c->reply >= 400 && c->reply < 600 && mail_error_from_reply(code, c, server, error))
    return FALSE;
  KeelMailErrorCode kind = KEEL_MAIL_ERROR_NETWORK;
  MailScope scope = MAIL_SCOPE_CONNECTION;
  MailRetry retry = MAIL_RETRY_TEMPORARY;
  const char *advice = "will retry";
  for (gsize i = 0; i < G_N_ELEMENTS(mail_error_table); i++)
    if (mail_error_table[i].curl == code) {
      kind = mail_error_table[i].code;
      scope = mail_error_table[i].scope;
      retry = mail_error_table[i].retry;
      advice = mail_error_table[i].advice;
    }
  if (code == CURLE_WRITE_ERROR && c->too_large) {
    kind = KEEL_MAIL_ERROR_TOO_LARGE, scope = MAIL_SCOPE_MESSAGE, retry = MAIL_RETRY_FINAL;
    advice = "the message is larger than max_message_size";
  } else if (c->cancelled) {
    kind = KEEL_MAIL_ERROR_CANCELLED, scope = MAIL_SCOPE_CONNECTION;
    retry = MAIL_RETRY_TEMPORARY, advice = "keel is shutting down";
  }
  return mail_error_set(error, kind, scope, retry, "%s: %s (%s)", c->what, advice, server);
}

MailScope mail_error_scope(const GError *error)
{
  if (!error || error->domain != KEEL_MAIL_ERROR)
    return MAIL_SCOPE_CONNECTION;
  return keel_mail_error_get_private(error)->scope;
}

MailRetry mail_error_retry(const GError *error)
{
  if (!error || error->domain != KEEL_MAIL_ERROR)
    return MAIL_RETRY_TEMPORARY;
  return keel_mail_error_get_private(error)->retry;
}

const char *mail_error_scope_name(MailScope scope)
{
  static const char *const names[] = { "message", "folder", "connection", "account" };
  return scope < G_N_ELEMENTS(names) ? names[scope] : "?";
}

const char *mail_error_retry_name(MailRetry retry)
{
  static const char *const names[] = { "temporary", "wait", "final" };
  return retry < G_N_ELEMENTS(names) ? names[retry] : "?";
}
