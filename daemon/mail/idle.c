/* daemon/mail/idle.c: IMAP IDLE on keel's own connection (issue 19). The
 * connection is daemon/mail/imap-raw.c (libcurl CONNECT_ONLY does the
 * greeting, TLS, CAPABILITY and the login; keel then sends its own commands,
 * tags "k1", "k2", ..., libcurl's are "A..."): CAPABILITY, EXAMINE (read-only:
 * no flag changes), IDLE, DONE every IDLE_REISSUE_S, LOGOUT. imap-raw drains
 * curl_easy_recv until CURLE_AGAIN before it waits on the socket, because
 * TLS may hold bytes already read. It must never fetch or change mail (the
 * poll does that), never log a secret, and never block the main loop: it
 * runs in its own thread and reports "* N EXISTS" through
 * g_main_context_invoke(). idle_watch_stop() cancels the watch's
 * GCancellable, which every wait of the connection polls with the socket. */
#include <poll.h>
#include <string.h>
#include "daemon/mail/idle.h"
#include "daemon/mail/imap-raw.h"
#include "daemon/mail/oauth.h"

struct IdleWatch {
  const KeelAccount *account; /* borrowed: lives as long as the config */
  IdleNotify notify;
  gpointer user_data;
  GMainContext *context;      /* owned ref: where notify runs */
  GThread *thread;
  GCancellable *stop;         /* owned: cancelled by idle_watch_stop() */
};

typedef enum { IDLE_ERROR, IDLE_STOPPED, IDLE_UNSUPPORTED, IDLE_DENIED } IdleEnd;

typedef struct {
  IdleNotify notify;
  gpointer user_data;
} IdleCall;

static gboolean idle_dispatch(gpointer data)
{
  IdleCall *call = data;
  call->notify(call->user_data);
  return G_SOURCE_REMOVE;
}

/* A line the server pushed while idling: "* N EXISTS" is news. */
static void idle_note_line(IdleWatch *watch, const char *line)
{
  g_debug("%s idle < %.200s", watch->account->name, line);
  if (!g_str_has_prefix(line, "* ") || !g_str_has_suffix(line, " EXISTS"))
    return;
  IdleCall *call = g_new(IdleCall, 1);
  call->notify = watch->notify;
  call->user_data = watch->user_data;
  g_main_context_invoke_full(watch->context, G_PRIORITY_DEFAULT, idle_dispatch, call, g_free);
}

/* One IDLE of up to IDLE_REISSUE_S: TRUE to go on, FALSE on error or stop. */
static gboolean idle_once(IdleWatch *watch, ImapRaw *raw, GError **error)
{
  g_autofree char *tag = imap_raw_start(raw, "IDLE", error);
  g_autoptr(GString) done = g_string_new(NULL);
  gboolean plus = FALSE;
  if (!tag || !imap_raw_answer(raw, tag, NULL, done, &plus, error) || !plus)
    return FALSE;
  gint64 deadline = g_get_monotonic_time() + (gint64)IDLE_REISSUE_S * G_USEC_PER_SEC;
  g_autoptr(GString) line = g_string_new(NULL);
  gboolean timed_out = FALSE;
  while (imap_raw_read_line_until(raw, line, deadline, &timed_out, error)) {
    if (g_str_has_prefix(line->str, tag))
      return FALSE; /* the server ended the IDLE itself */
    idle_note_line(watch, line->str);
  }
  return timed_out && imap_raw_send(raw, "DONE\r\n", 6, error)
         && imap_raw_answer(raw, tag, NULL, done, NULL, error) && g_str_has_prefix(done->str, "OK");
}

/* Logged in, the server offers IDLE: EXAMINE the first folder, IDLE until stopped. */
static void idle_watch_folder(IdleWatch *watch, ImapRaw *raw, GError **error)
{
  const KeelAccount *account = watch->account;
  const char *folder = account->folders && account->folders[0] ? account->folders[0] : "INBOX";
  guint32 validity = 0;
  if (!imap_raw_examine(raw, folder, &validity, NULL, error))
    return;
  g_message("account '%s': IDLE on '%s'", account->name, folder);
  while (idle_once(watch, raw, error))
    ;
}

/* A connection on `secret`: login, CAPABILITY, then IDLE until it fails. */
static IdleEnd idle_session_with(IdleWatch *watch, const char *secret)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ImapRaw) raw = imap_raw_new(watch->account, secret, watch->stop, 'k', &error);
  g_autoptr(GString) capabilities = g_string_new(NULL);
  IdleEnd end = IDLE_ERROR;
  if (!raw || !imap_raw_command(raw, "CAPABILITY", NULL, capabilities, &error))
    end = g_error_matches(error, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_AUTH) ? IDLE_DENIED : IDLE_ERROR;
  else if (!strstr(capabilities->str, " IDLE"))
    end = IDLE_UNSUPPORTED;
  else
    idle_watch_folder(watch, raw, &error);
  if (error)
    g_debug("%s idle: %s", watch->account->name, error->message);
  if (raw && imap_raw_is_connected(raw) && end != IDLE_UNSUPPORTED)
    imap_raw_send(raw, "k999 LOGOUT\r\n", 13, NULL); /* libcurl sends none on CONNECT_ONLY */
  return end;
}

/* One connection. No secret because the login expired: leave it to the
 * poll; a token endpoint that did not answer: retry like a dropped connection. */
static IdleEnd idle_session(IdleWatch *watch)
{
  g_autoptr(GError) error = NULL;
  char *secret = oauth_account_secret(watch->account, &error);
  IdleEnd end = IDLE_ERROR;
  if (!secret)
    end = g_error_matches(error, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_AUTH) ? IDLE_DENIED : IDLE_ERROR;
  else {
    end = idle_session_with(watch, secret);
    memset(secret, 0, strlen(secret));
    g_free(secret);
  }
  return g_cancellable_is_cancelled(watch->stop) ? IDLE_STOPPED : end;
}

/* Reconnects with a growing pause (30 s up to the poll interval) until stopped. */
static gpointer idle_thread(gpointer data)
{
  IdleWatch *watch = data;
  guint pause = 30;
  for (;;) {
    gint64 started = g_get_monotonic_time();
    IdleEnd end = idle_session(watch);
    if (end == IDLE_STOPPED)
      break;
    if (end == IDLE_UNSUPPORTED || end == IDLE_DENIED) {
      g_message("account '%s': %s; polling every %u s", watch->account->name,
                end == IDLE_DENIED ? "no IDLE: the login was refused (see the poll's error)"
                                   : "the server does not offer IDLE",
                watch->account->poll_interval);
      break;
    }
    if (g_get_monotonic_time() - started > 60 * G_USEC_PER_SEC)
      pause = 30; /* it worked for a while: a dropped connection, not a broken one */
    g_warning("account '%s': the IDLE connection failed; polling meanwhile, retrying IDLE in "
              "%u s", watch->account->name, pause);
    struct pollfd fd = { g_cancellable_get_fd(watch->stop), POLLIN, 0 };
    int woken = poll(&fd, 1, (int)pause * 1000);
    g_cancellable_release_fd(watch->stop);
    if (woken != 0)
      break;
    pause = MIN(pause * 2, MAX(watch->account->poll_interval, 30u));
  }
  return NULL;
}

IdleWatch *idle_watch_start(const KeelAccount *account, IdleNotify notify, gpointer user_data)
{
  IdleWatch *watch = g_new0(IdleWatch, 1);
  watch->account = account;
  watch->notify = notify;
  watch->user_data = user_data;
  watch->context = g_main_context_ref_thread_default();
  watch->stop = g_cancellable_new();
  watch->thread = g_thread_new("keel-idle", idle_thread, watch);
  return watch;
}

void idle_watch_stop(IdleWatch *watch)
{
  if (!watch)
    return;
  g_cancellable_cancel(watch->stop);
  g_thread_join(watch->thread);
  g_object_unref(watch->stop);
  g_main_context_unref(watch->context);
  g_free(watch);
}
