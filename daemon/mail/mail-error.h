/* daemon/mail/mail-error.h: what went wrong talking to a mail server, in one
 * shape for IMAP, SMTP and the IMAP writer (isync's model): the error's code
 * says what failed, and two separate fields say how far the failure reaches
 * (scope: this message, this folder, this connection, the whole account) and
 * whether to try again (retry: now-ish with backoff, after the capped wait
 * because a person must fix something, or never for this message).
 *
 * Entry points:
 *   mail_error_from_curl()  the one place a CURLcode (+ SMTP reply) becomes a GError
 *   mail_error_set()        a mail error keel detects itself (a bad answer, a bad name)
 *   mail_error_scope()/mail_error_retry()  read the two fields back
 * Errors are GLib extended errors in KEEL_MAIL_ERROR: g_prefix_error() and
 * g_error_copy() keep the fields.
 * Must not: log, retry, or know what the caller will do with the class. */
#pragma once

#include <glib.h>
#include <curl/curl.h>

#define KEEL_MAIL_ERROR (keel_mail_error_quark())
GQuark keel_mail_error_quark(void);

/* What failed. */
typedef enum {
  KEEL_MAIL_ERROR_NETWORK,   /* connect, DNS, timeout, connection lost */
  KEEL_MAIL_ERROR_AUTH,      /* login denied */
  KEEL_MAIL_ERROR_TLS,       /* certificate, CA file, STARTTLS not offered */
  KEEL_MAIL_ERROR_CONFIG,    /* URL, scheme, folder name keel cannot send */
  KEEL_MAIL_ERROR_REFUSED,   /* the server answered NO/BAD, 4xx or 5xx */
  KEEL_MAIL_ERROR_GONE,      /* the message was expunged before it could be fetched */
  KEEL_MAIL_ERROR_TOO_LARGE, /* the message is larger than the limit given */
  KEEL_MAIL_ERROR_CANCELLED, /* keel is shutting down */
  KEEL_MAIL_ERROR_PROTOCOL   /* an answer keel cannot read */
} KeelMailErrorCode;

/* How far it reaches. */
typedef enum {
  MAIL_SCOPE_MESSAGE,    /* this message only: the others go on */
  MAIL_SCOPE_FOLDER,     /* this folder only */
  MAIL_SCOPE_CONNECTION, /* the connection: reconnect */
  MAIL_SCOPE_ACCOUNT     /* every use of this account until the config or password changes */
} MailScope;

/* Whether to try again. */
typedef enum {
  MAIL_RETRY_TEMPORARY, /* try again, with backoff */
  MAIL_RETRY_WAIT,      /* a person must fix something: try again only at the capped interval */
  MAIL_RETRY_FINAL      /* never again for this message / folder */
} MailRetry;

typedef struct {
  const char *what;       /* what keel was doing, e.g. "APPEND to Sent on imaps://host" */
  const char *detail;     /* the server's refusal or libcurl's error text, may be NULL */
  long reply;             /* the SMTP reply code (CURLINFO_RESPONSE_CODE), 0 = none */
  gboolean too_large;     /* a write callback refused a body over the size limit */
  gboolean cancelled;     /* a progress callback aborted because keel is stopping */
} MailErrorContext;

/* Sets `error` from a libcurl result (never CURLE_OK) and always returns FALSE. */
gboolean mail_error_from_curl(CURLcode code, const MailErrorContext *context, GError **error);

/* Sets a KEEL_MAIL_ERROR with both fields; returns FALSE. */
gboolean mail_error_set(GError **error, KeelMailErrorCode code, MailScope scope, MailRetry retry,
                        const char *format, ...) G_GNUC_PRINTF(5, 6);

/* The fields of a KEEL_MAIL_ERROR; other errors are connection-wide and temporary. */
MailScope mail_error_scope(const GError *error);
MailRetry mail_error_retry(const GError *error);
const char *mail_error_scope_name(MailScope scope);
const char *mail_error_retry_name(MailRetry retry);
