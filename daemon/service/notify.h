/* daemon/service/notify.h: what keel tells systemd about itself (sd_notify):
 * READY/RELOADING/STOPPING/WATCHDOG, and the one-line STATUS= that
 * `systemctl status keel` shows ("polling 2 accounts; 14 messages today;
 * next digest 08:00; account main: login failed, retry in 60 s").
 *   notify_send()          one datagram of one message ("READY=1"), nothing else in it
 *   notify_status()        STATUS=<text>
 *   notify_reloading()     RELOADING=1 with MONOTONIC_USEC= (systemd >= 253 wants both)
 *   notify_status_text()   the STATUS line from counts (pure: no clock, no store)
 *   notify_problem_text()  "account main: login failed, retry in 60 s"
 * Without NOTIFY_SOCKET every call is a no-op (sd_notify's own rule).
 * Must not: put a secret or a message's text in a STATUS line. */
#pragma once

#include <glib.h>

typedef struct {
  guint accounts;              /* accounts with an imap URL */
  gint64 today;                /* messages stored since local midnight, -1 = not known yet */
  GDateTime *next_digest;      /* borrowed, in the VA's zone; NULL = no [digest] at */
  GPtrArray *problems;         /* borrowed, of char*, may be NULL: one per failing account */
  const char *state;           /* borrowed, NULL = "polling": "reload waits for a cycle" etc. */
} NotifyStatus;

void notify_send(const char *message);
void notify_status(const char *text);
void notify_reloading(void);

/* The STATUS text for `status`. New string. */
char *notify_status_text(const NotifyStatus *status);

/* "account NAME: WHAT, retry in N s" for a failed cycle: WHAT is a few words
 * from the error's kind (login failed, server unreachable, TLS failed...),
 * never the server's text. New string. */
char *notify_problem_text(const char *account, const GError *error, guint retry_seconds);
