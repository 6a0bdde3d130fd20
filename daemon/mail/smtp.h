/* daemon/mail/smtp.h: sending one message over SMTP with libcurl.
 *
 * Entry points:
 *   smtp_send()            one message, one connection: TLS policy, AUTH, timeouts
 *   smtp_error_from_curl() the one place a CURLcode (+ SMTP reply code) becomes a GError
 *
 * TLS: smtps:// (implicit TLS), or smtp:// with STARTTLS required
 * (CURLUSESSL_ALL); only `allow_plaintext = true` lets a plain smtp:// through.
 * Errors say whether to retry: 4xx replies, timeouts and network failures are
 * TEMPORARY; 5xx replies are PERMANENT; a refused login is AUTH.
 * Never logs a password or message bytes. */
#pragma once

#include <glib.h>
#include <curl/curl.h>
#include "daemon/base/config.h"

#define KEEL_SMTP_ERROR (keel_smtp_error_quark())
GQuark keel_smtp_error_quark(void);
typedef enum {
  KEEL_SMTP_ERROR_TEMPORARY, /* 4xx, timeout, connection lost: retry later */
  KEEL_SMTP_ERROR_PERMANENT, /* 5xx: the server refused this message; do not retry */
  KEEL_SMTP_ERROR_AUTH,      /* login denied: fix the password */
  KEEL_SMTP_ERROR_CONFIG     /* no smtp URL, plain smtp:// without allow_plaintext, TLS */
} KeelSmtpError;

/* Sends `raw` (a whole message, CRLF) from `mail_from` to `rcpt` through
 * `account`'s SMTP server with `password` (may be NULL: no AUTH). */
gboolean smtp_send(const KeelAccount *account, const char *password, const char *mail_from,
                   const char *rcpt, GBytes *raw, GError **error);

/* Turns a libcurl result and the last SMTP reply code into a GError (always
 * returns FALSE). `what` says what keel was doing. */
gboolean smtp_error_from_curl(CURLcode code, long reply, const char *detail, const char *what,
                              GError **error);
