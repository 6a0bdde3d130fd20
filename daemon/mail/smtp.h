/* daemon/mail/smtp.h: sending one message over SMTP with libcurl.
 *
 * Entry point:
 *   smtp_send()  one message, one connection: TLS policy, AUTH, timeouts
 *
 * TLS: smtps:// (implicit TLS), or smtp:// with STARTTLS required
 * (CURLUSESSL_ALL); only `allow_plaintext = true` lets a plain smtp:// through.
 * Errors are KEEL_MAIL_ERROR (daemon/mail/mail-error.h): 4xx replies,
 * timeouts and network failures are temporary; 5xx replies are a final
 * refusal of this message; a refused login is AUTH (account, wait).
 * Never logs a password or message bytes. */
#pragma once

#include <gio/gio.h>
#include "daemon/base/config.h"

/* Sends `raw` (a whole message, CRLF) from `mail_from` to `rcpt` through
 * `account`'s SMTP server with `password` (may be NULL: no AUTH).
 * `cancellable` (borrowed, may be NULL) aborts it within about a second. */
gboolean smtp_send(const KeelAccount *account, const char *password, const char *mail_from,
                   const char *rcpt, GBytes *raw, GCancellable *cancellable, GError **error);
