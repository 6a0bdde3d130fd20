/* daemon/mail/idle.c: IMAP IDLE on a libcurl CONNECT_ONLY connection (issue 19).
 * libcurl does the greeting, TLS, CAPABILITY and the login; this file then
 * speaks IMAP itself with curl_easy_send/curl_easy_recv, tags "k1", "k2", ...
 * (libcurl's are "A..."): CAPABILITY, EXAMINE (read-only: no flag changes),
 * IDLE, DONE every IDLE_REISSUE_S, LOGOUT. It always drains curl_easy_recv
 * until CURLE_AGAIN before waiting on the socket, because TLS may hold bytes
 * already read. It must never fetch or change mail (the poll does that),
 * never log a secret, and never block the main loop: it runs in its own thread
 * and reports "* N EXISTS" through g_main_context_invoke(). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include <glib-unix.h>
#include "daemon/mail/idle.h"
#include "daemon/mail/imap.h"
#include "daemon/mail/oauth.h"
#include "filters/utf7.h"

struct IdleWatch {
  const KeelAccount *account; /* borrowed: lives as long as the config */
  IdleNotify notify;
  gpointer user_data;
  GMainContext *context;      /* owned ref: where notify runs */
  GThread *thread;
  int wake[2];                /* a byte on wake[1] stops the thread */
  gint stopping;
};

typedef enum { IDLE_ERROR, IDLE_STOPPED, IDLE_UNSUPPORTED, IDLE_DENIED } IdleEnd;

typedef struct {
  IdleWatch *watch;
  CURL *curl;
  curl_socket_t sock;
  GString *in;       /* bytes received, not yet split into lines */
  guint tag;
  gboolean has_idle; /* CAPABILITY listed IDLE */
  gboolean idling;   /* in IDLE: an EXISTS is news */
  gboolean denied;   /* the login was refused (or no secret): leave it to the poll */
} IdleConn;

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

/* Waits for the socket (`events`) or the wake pipe; 1 ready, 0 timeout, -1 stop. */
static int idle_wait(IdleConn *conn, short events, int timeout_ms)
{
  struct pollfd fds[2] = { { conn->sock, events, 0 }, { conn->watch->wake[0], POLLIN, 0 } };
  int n = poll(fds, 2, timeout_ms);
  if (n < 0 || fds[1].revents || g_atomic_int_get(&conn->watch->stopping))
    return -1;
  return n > 0 ? 1 : 0;
}

static gboolean idle_send(IdleConn *conn, const char *line)
{
  gsize len = strlen(line), done = 0;
  while (done < len) {
    size_t sent = 0;
    CURLcode rc = curl_easy_send(conn->curl, line + done, len - done, &sent);
    if (rc == CURLE_AGAIN && idle_wait(conn, POLLOUT, 10000) > 0)
      continue;
    if (rc != CURLE_OK)
      return FALSE;
    done += sent;
  }
  return TRUE;
}

/* Reads what is there (until CURLE_AGAIN), then waits: 1 data, 0 timeout, -1 end. */
static int idle_read(IdleConn *conn, int timeout_ms)
{
  for (;;) {
    char buf[4096];
    size_t got = 0;
    gboolean any = FALSE;
    CURLcode rc;
    while ((rc = curl_easy_recv(conn->curl, buf, sizeof buf, &got)) == CURLE_OK && got > 0) {
      g_string_append_len(conn->in, buf, (gssize)got);
      any = TRUE;
    }
    if (rc != CURLE_AGAIN && rc != CURLE_OK)
      return -1;
    if (rc == CURLE_OK && got == 0)
      return -1; /* end of stream */
    if (any)
      return 1;
    int ready = idle_wait(conn, POLLIN, timeout_ms);
    if (ready <= 0)
      return ready;
  }
}

/* One complete line from conn->in (CRLF removed), or NULL. */
static char *idle_next_line(IdleConn *conn)
{
  const char *end = strstr(conn->in->str, "\r\n");
  if (!end)
    return NULL;
  char *line = g_strndup(conn->in->str, (gsize)(end - conn->in->str));
  g_string_erase(conn->in, 0, (gssize)(end - conn->in->str) + 2);
  return line;
}

static void idle_note_line(IdleConn *conn, const char *line)
{
  if (g_str_has_prefix(line, "* CAPABILITY ") && strstr(line, " IDLE"))
    conn->has_idle = TRUE;
  if (conn->idling && g_str_has_prefix(line, "* ") && g_str_has_suffix(line, " EXISTS")) {
    IdleCall *call = g_new(IdleCall, 1);
    call->notify = conn->watch->notify;
    call->user_data = conn->watch->user_data;
    g_main_context_invoke_full(conn->watch->context, G_PRIORITY_DEFAULT, idle_dispatch, call,
                               g_free);
  }
}

/* Reads lines until one starts with `want` ("k3 OK", "+ "); FALSE on a NO/BAD
 * for `tag`, an error, or `timeout_ms` without it (then *timed_out). */
static gboolean idle_expect(IdleConn *conn, const char *want, const char *tag, int timeout_ms,
                            gboolean *timed_out)
{
  gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  for (;;) {
    g_autofree char *line = idle_next_line(conn);
    if (line) {
      g_debug("%s idle < %.200s", conn->watch->account->name, line);
      idle_note_line(conn, line);
      if (g_str_has_prefix(line, want))
        return TRUE;
      if (tag && g_str_has_prefix(line, tag))
        return FALSE; /* tagged NO or BAD */
      continue;
    }
    gint64 left = (deadline - g_get_monotonic_time()) / 1000;
    int got = left > 0 ? idle_read(conn, (int)left) : 0;
    if (got <= 0) {
      g_debug("%s idle: %s while waiting for '%s'", conn->watch->account->name,
              got == 0 ? "timeout" : "connection ended", want);
      if (timed_out)
        *timed_out = got == 0;
      return FALSE;
    }
  }
}

/* Sends "kN <command>" and waits for "kN OK". */
static gboolean idle_command(IdleConn *conn, const char *command, int timeout_ms)
{
  conn->tag++;
  g_autofree char *line = g_strdup_printf("k%u %s\r\n", conn->tag, command);
  g_autofree char *ok = g_strdup_printf("k%u OK", conn->tag);
  g_autofree char *tag = g_strdup_printf("k%u ", conn->tag);
  return idle_send(conn, line) && idle_expect(conn, ok, tag, timeout_ms, NULL);
}

/* One IDLE of up to IDLE_REISSUE_S: TRUE to go on, FALSE on error or stop. */
static gboolean idle_once(IdleConn *conn)
{
  conn->tag++;
  g_autofree char *line = g_strdup_printf("k%u IDLE\r\n", conn->tag);
  g_autofree char *ok = g_strdup_printf("k%u OK", conn->tag);
  g_autofree char *tag = g_strdup_printf("k%u ", conn->tag);
  int read_ms = (int)MAX(conn->watch->account->read_timeout, 1u) * 1000;
  if (!idle_send(conn, line) || !idle_expect(conn, "+", tag, read_ms, NULL))
    return FALSE;
  conn->idling = TRUE;
  gboolean timed_out = FALSE;
  idle_expect(conn, "\x01never", NULL, IDLE_REISSUE_S * 1000, &timed_out);
  conn->idling = FALSE;
  return timed_out && idle_send(conn, "DONE\r\n") && idle_expect(conn, ok, tag, read_ms, NULL);
}

/* libcurl connects, does TLS and the login, and hands the socket over. */
static gboolean idle_connect(IdleConn *conn)
{
  const KeelAccount *account = conn->watch->account;
  g_autoptr(GError) error = NULL;
  char *secret = oauth_account_secret(account, &error);
  /* no token because the login expired: leave it to the poll; a token
   * endpoint that did not answer: retry later like a dropped connection */
  conn->denied = !secret && g_error_matches(error, KEEL_MAIL_ERROR, KEEL_MAIL_ERROR_AUTH);
  if (!secret)
    return FALSE;
  g_autofree char *url = g_strdup(account->imap);
  char *path = strchr(strstr(url, "://") + 3, '/');
  if (path)
    *path = '\0';
  curl_easy_setopt(conn->curl, CURLOPT_URL, url);
  curl_easy_setopt(conn->curl, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(conn->curl, CURLOPT_PROTOCOLS_STR, "imap,imaps");
  curl_easy_setopt(conn->curl, CURLOPT_USE_SSL,
                   account->allow_plaintext ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_ALL);
  if (account->ca_file)
    curl_easy_setopt(conn->curl, CURLOPT_CAINFO, account->ca_file);
  oauth_set_login(conn->curl, account, secret);
  curl_easy_setopt(conn->curl, CURLOPT_CONNECTTIMEOUT, (long)MAX(account->connect_timeout, 1u));
  curl_easy_setopt(conn->curl, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(conn->curl);
  memset(secret, 0, strlen(secret));
  g_free(secret);
  conn->denied = rc == CURLE_LOGIN_DENIED;
  return rc == CURLE_OK
         && curl_easy_getinfo(conn->curl, CURLINFO_ACTIVESOCKET, &conn->sock) == CURLE_OK
         && conn->sock != CURL_SOCKET_BAD;
}

/* One connection: login, CAPABILITY, EXAMINE the first folder, IDLE until stopped. */
static IdleEnd idle_session(IdleWatch *watch)
{
  IdleConn conn = { .watch = watch, .curl = curl_easy_init(), .in = g_string_new(NULL) };
  const KeelAccount *account = watch->account;
  int read_ms = (int)MAX(account->read_timeout, 1u) * 1000;
  const char *folder = account->folders && account->folders[0] ? account->folders[0] : "INBOX";
  g_autofree char *wire = utf7_encode(folder);
  g_autofree char *examine = g_strdup_printf("EXAMINE \"%s\"", wire ? wire : folder);
  IdleEnd end = IDLE_ERROR;
  if (idle_connect(&conn) && idle_command(&conn, "CAPABILITY", read_ms)) {
    if (!conn.has_idle)
      end = IDLE_UNSUPPORTED;
    else if (idle_command(&conn, examine, read_ms)) {
      g_message("account '%s': IDLE on '%s'", account->name, folder);
      while (idle_once(&conn))
        ;
    }
    if (end != IDLE_UNSUPPORTED)
      idle_send(&conn, "k999 LOGOUT\r\n"); /* libcurl sends none on CONNECT_ONLY */
  }
  if (conn.denied)
    end = IDLE_DENIED;
  if (g_atomic_int_get(&watch->stopping))
    end = IDLE_STOPPED;
  curl_easy_cleanup(conn.curl);
  g_string_free(conn.in, TRUE);
  return end;
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
    struct pollfd fd = { watch->wake[0], POLLIN, 0 };
    if (poll(&fd, 1, (int)pause * 1000) != 0)
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
  if (!g_unix_open_pipe(watch->wake, FD_CLOEXEC, NULL)) {
    g_main_context_unref(watch->context);
    g_free(watch);
    return NULL;
  }
  watch->thread = g_thread_new("keel-idle", idle_thread, watch);
  return watch;
}

void idle_watch_stop(IdleWatch *watch)
{
  if (!watch)
    return;
  g_atomic_int_set(&watch->stopping, 1);
  if (write(watch->wake[1], "x", 1) < 0)
    g_warning("cannot wake the IDLE thread: %s", g_strerror(errno));
  g_thread_join(watch->thread);
  close(watch->wake[0]);
  close(watch->wake[1]);
  g_main_context_unref(watch->context);
  g_free(watch);
}
