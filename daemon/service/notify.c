/* daemon/service/notify.c: sd_notify for the daemon, and the STATUS line.
 *
 * Each message goes in a datagram of its own (READY=1, then STATUS=...), so
 * that a reader sees them in the order they were sent and a test can match a
 * whole datagram. RELOADING=1 carries MONOTONIC_USEC= in the same datagram,
 * as systemd's Type=notify-reload asks. The STATUS text is built here from
 * counts the daemon collected; its problems are a few fixed words per kind of
 * error (notify_problem_words()), never a server's reply, which could be long
 * or carry an address.
 * Must not: block (sd_notify is one non-blocking sendmsg), read the store or
 * the clock itself. */
#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "keel-service"

#include <systemd/sd-daemon.h>
#include "daemon/base/config.h"
#include "daemon/mail/mail-error.h"
#include "daemon/service/notify.h"
#include "daemon/store/store.h"

void notify_send(const char *message)
{
  int rc = sd_notify(0, message);
  if (rc < 0)
    g_debug("sd_notify(%s): %s", message, g_strerror(-rc));
}

void notify_status(const char *text)
{
  g_autofree char *message = g_strconcat("STATUS=", text, NULL);
  notify_send(message);
}

void notify_reloading(void)
{
  g_autofree char *message = g_strdup_printf("RELOADING=1\nMONOTONIC_USEC=%" G_GINT64_FORMAT,
                                             g_get_monotonic_time());
  notify_send(message);
}

char *notify_status_text(const NotifyStatus *status)
{
  GString *text = g_string_new(status->state ? status->state : "polling");
  g_string_append_printf(text, " %u account%s", status->accounts,
                         status->accounts == 1 ? "" : "s");
  if (status->today >= 0)
    g_string_append_printf(text, "; %" G_GINT64_FORMAT " message%s today", status->today,
                           status->today == 1 ? "" : "s");
  if (status->next_digest) {
    g_autofree char *at = g_date_time_format(status->next_digest, "%H:%M");
    g_string_append_printf(text, "; next digest %s", at);
  }
  for (guint i = 0; status->problems && i < status->problems->len; i++)
    g_string_append_printf(text, "; %s", (const char *)g_ptr_array_index(status->problems, i));
  return g_string_free(text, FALSE);
}

/* A few words for the kind of `error` (its domain and code). */
static const char *notify_problem_words(const GError *error)
{
  if (error->domain == KEEL_MAIL_ERROR) {
    static const char *const words[] = {
      [KEEL_MAIL_ERROR_NETWORK] = "server unreachable or timed out",
      [KEEL_MAIL_ERROR_AUTH] = "login failed",
      [KEEL_MAIL_ERROR_TLS] = "TLS failed",
      [KEEL_MAIL_ERROR_CONFIG] = "config refused by the server",
      [KEEL_MAIL_ERROR_REFUSED] = "server refused a command",
      [KEEL_MAIL_ERROR_GONE] = "message gone",
      [KEEL_MAIL_ERROR_TOO_LARGE] = "message too large",
      [KEEL_MAIL_ERROR_CANCELLED] = "stopped",
      [KEEL_MAIL_ERROR_PROTOCOL] = "unreadable answer from the server",
    };
    if (error->code >= 0 && (gsize)error->code < G_N_ELEMENTS(words) && words[error->code])
      return words[error->code];
    return "mail server error";
  }
  if (error->domain == KEEL_CONFIG_ERROR)
    return "password or config problem";
  if (error->domain == KEEL_STORE_ERROR)
    return "database error";
  return "error";
}

char *notify_problem_text(const char *account, const GError *error, guint retry_seconds)
{
  return g_strdup_printf("account %s: %s, retry in %u s", account, notify_problem_words(error),
                         retry_seconds);
}
