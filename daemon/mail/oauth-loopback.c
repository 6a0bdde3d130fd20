/* daemon/mail/oauth-loopback.c: the listener that receives the browser's
 * redirect in `keel oauth login` (the loopback flow of RFC 8252 s7.3).
 *
 * A GSocketService on 127.0.0.1 (never another address) runs in a private
 * main context for as long as the login waits. Every connection has its
 * request line and headers read asynchronously, so a browser's idle
 * pre-connection cannot hold up the real redirect; each request is answered
 * at once (404 for other paths, 400 for "/" without a code or an error)
 * except the redirect itself, which waits for oauth_loopback_reply() so the
 * caller can check `state` first and tell the browser how it went.
 *
 * Must not: listen on anything but the loopback address, log a query string
 * (it holds the authorization code), or serve anything but these short
 * answers. The daemon never uses it. */
#include <string.h>
#include <gio/gio.h>
#include "daemon/mail/oauth-loopback.h"
#include "daemon/mail/oauth.h"

#define OAUTH_LOOPBACK_MAX_LINES 100 /* request line + headers */
#define OAUTH_LOOPBACK_IO_TIMEOUT_S 30

typedef struct {
  OauthLoopback *owner;          /* borrowed */
  GSocketConnection *connection; /* owned */
  GDataInputStream *in;          /* owned */
  char *request;                 /* owned: the request line, NULL until read */
  guint lines;
} OauthLoopbackClient;

struct _OauthLoopback {
  GMainContext *context;         /* owned; the thread default while this lives */
  GMainLoop *loop;               /* owned */
  GSocketService *service;       /* owned */
  GCancellable *cancellable;     /* owned: stops the reads still in flight */
  guint16 port;
  guint reading;                 /* clients with a read in flight */
  OauthLoopbackClient *redirect; /* owned: the redirect request, until answered */
  GHashTable *params;            /* owned: its query, until oauth_loopback_wait() */
};

static void oauth_loopback_client_free(OauthLoopbackClient *client)
{
  g_io_stream_close(G_IO_STREAM(client->connection), NULL, NULL);
  g_clear_object(&client->in);
  g_clear_object(&client->connection);
  g_free(client->request);
  g_free(client);
}

/* One HTTP/1.1 answer with `text` as a tiny HTML page; the connection closes. */
static void oauth_loopback_send(OauthLoopbackClient *client, const char *status,
                                const char *text)
{
  g_autofree char *escaped = g_markup_escape_text(text, -1);
  g_autofree char *body = g_strdup_printf("<!doctype html>\n<html><head><meta charset=\"utf-8\">"
                                          "<title>keel</title></head>\n<body><p>%s</p></body>"
                                          "</html>\n", escaped);
  g_autofree char *head = g_strdup_printf("HTTP/1.1 %s\r\nContent-Type: text/html; "
                                          "charset=utf-8\r\nContent-Length: %zu\r\n"
                                          "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                                          status, strlen(body));
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(client->connection));
  if (g_output_stream_write_all(out, head, strlen(head), NULL, NULL, NULL))
    g_output_stream_write_all(out, body, strlen(body), NULL, NULL, NULL);
}

/* The query of "GET /?... HTTP/1.x" when it carries a code or an error; NULL
 * (with `*status` and `*text` for the answer) for anything else. */
static GHashTable *oauth_loopback_parse(const char *request, const char **status,
                                        const char **text)
{
  g_auto(GStrv) parts = g_strsplit(request ? request : "", " ", 3);
  const char *target = g_strv_length(parts) == 3 && strcmp(parts[0], "GET") == 0 ? parts[1]
                                                                                  : NULL;
  const char *query = target ? strchr(target, '?') : NULL;
  gsize path_len = target ? (query ? (gsize)(query - target) : strlen(target)) : 0;
  *status = "404 Not Found";
  *text = "keel: nothing here.";
  if (!target || path_len != 1 || target[0] != '/')
    return NULL;
  GHashTable *params = query ? g_uri_parse_params(query + 1, -1, "&", G_URI_PARAMS_WWW_FORM,
                                                  NULL) : NULL;
  if (params && (g_hash_table_contains(params, "code")
                 || g_hash_table_contains(params, "error")))
    return params;
  g_clear_pointer(&params, g_hash_table_unref);
  *status = "400 Bad Request";
  *text = "keel: this address has no sign-in answer in it; keel is still waiting.";
  return NULL;
}

/* A whole request has been read: keep it when it is the redirect (the first
 * one only), else answer it and drop the connection. */
static void oauth_loopback_handle(OauthLoopbackClient *client)
{
  OauthLoopback *owner = client->owner;
  const char *status = NULL, *text = NULL;
  g_autoptr(GHashTable) params = oauth_loopback_parse(client->request, &status, &text);
  if (params && !owner->redirect) {
    owner->params = g_steal_pointer(&params);
    owner->redirect = client;
    g_main_loop_quit(owner->loop);
    return;
  }
  if (params)
    text = "keel: this sign-in has already been answered; you can close this tab.";
  oauth_loopback_send(client, params ? "409 Conflict" : status, text);
  oauth_loopback_client_free(client);
}

static void oauth_loopback_read_line(OauthLoopbackClient *client);

static void oauth_loopback_on_line(GObject *source, GAsyncResult *result, gpointer data)
{
  OauthLoopbackClient *client = data;
  (void)source;
  char *line = g_data_input_stream_read_line_finish(client->in, result, NULL, NULL);
  if (!line || ++client->lines > OAUTH_LOOPBACK_MAX_LINES) {
    g_free(line);
    client->owner->reading--;
    oauth_loopback_client_free(client);
    return;
  }
  g_strchomp(line);
  gboolean end = client->lines > 1 && line[0] == '\0';
  if (client->lines == 1)
    client->request = line;
  else
    g_free(line);
  if (!end) {
    oauth_loopback_read_line(client);
    return;
  }
  client->owner->reading--;
  oauth_loopback_handle(client);
}

static void oauth_loopback_read_line(OauthLoopbackClient *client)
{
  g_data_input_stream_read_line_async(client->in, G_PRIORITY_DEFAULT,
                                      client->owner->cancellable, oauth_loopback_on_line,
                                      client);
}

static gboolean oauth_loopback_on_incoming(GSocketService *service,
                                           GSocketConnection *connection, GObject *source,
                                           gpointer data)
{
  (void)service;
  (void)source;
  OauthLoopbackClient *client = g_new0(OauthLoopbackClient, 1);
  client->owner = data;
  client->connection = g_object_ref(connection);
  g_socket_set_timeout(g_socket_connection_get_socket(connection), OAUTH_LOOPBACK_IO_TIMEOUT_S);
  client->in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(connection)));
  g_data_input_stream_set_newline_type(client->in, G_DATA_STREAM_NEWLINE_TYPE_LF);
  g_filter_input_stream_set_close_base_stream(G_FILTER_INPUT_STREAM(client->in), FALSE);
  client->owner->reading++;
  oauth_loopback_read_line(client);
  return TRUE;
}

OauthLoopback *oauth_loopback_new(guint16 port, GError **error)
{
  g_autoptr(OauthLoopback) loopback = g_new0(OauthLoopback, 1);
  loopback->context = g_main_context_new();
  g_main_context_push_thread_default(loopback->context);
  loopback->loop = g_main_loop_new(loopback->context, FALSE);
  loopback->cancellable = g_cancellable_new();
  loopback->service = g_socket_service_new();
  g_autoptr(GInetAddress) address = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) wanted = g_inet_socket_address_new(address, port);
  g_autoptr(GSocketAddress) effective = NULL;
  g_autoptr(GError) local = NULL;
  if (!g_socket_listener_add_address(G_SOCKET_LISTENER(loopback->service), wanted,
                                     G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                     &effective, &local)) {
    g_set_error(error, OAUTH_LOGIN_ERROR, OAUTH_LOGIN_ERROR_LISTEN, "cannot listen on "
                "127.0.0.1:%u for the browser's redirect: %s", port, local->message);
    return NULL;
  }
  loopback->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
  g_signal_connect(loopback->service, "incoming", G_CALLBACK(oauth_loopback_on_incoming),
                   loopback);
  g_socket_service_start(loopback->service);
  return g_steal_pointer(&loopback);
}

guint16 oauth_loopback_port(const OauthLoopback *loopback)
{
  return loopback->port;
}

static gboolean oauth_loopback_on_timeout(gpointer data)
{
  OauthLoopback *loopback = data;
  g_main_loop_quit(loopback->loop);
  return G_SOURCE_REMOVE;
}

GHashTable *oauth_loopback_wait(OauthLoopback *loopback, guint timeout_s, GError **error)
{
  g_autoptr(GSource) timer = g_timeout_source_new_seconds(MAX(timeout_s, 1u));
  g_source_set_callback(timer, oauth_loopback_on_timeout, loopback, NULL);
  g_source_attach(timer, loopback->context);
  if (!loopback->params)
    g_main_loop_run(loopback->loop);
  g_source_destroy(timer);
  if (!loopback->params)
    g_set_error(error, OAUTH_LOGIN_ERROR, OAUTH_LOGIN_ERROR_TIMEOUT, "the browser did not come "
                "back to keel within %u seconds; nothing saved (--timeout waits longer)",
                timeout_s);
  return g_steal_pointer(&loopback->params);
}

void oauth_loopback_reply(OauthLoopback *loopback, gboolean ok, const char *text)
{
  if (!loopback->redirect)
    return;
  oauth_loopback_send(loopback->redirect, ok ? "200 OK" : "400 Bad Request", text);
  g_clear_pointer(&loopback->redirect, oauth_loopback_client_free);
}

/* Stops listening, lets every read still in flight finish as cancelled (each
 * frees its client), then gives the thread its default context back. */
void oauth_loopback_free(OauthLoopback *loopback)
{
  if (loopback->service) {
    g_socket_service_stop(loopback->service);
    g_socket_listener_close(G_SOCKET_LISTENER(loopback->service));
  }
  g_cancellable_cancel(loopback->cancellable);
  while (loopback->reading > 0)
    g_main_context_iteration(loopback->context, TRUE);
  while (g_main_context_pending(loopback->context))
    g_main_context_iteration(loopback->context, FALSE);
  g_clear_pointer(&loopback->redirect, oauth_loopback_client_free);
  g_clear_pointer(&loopback->params, g_hash_table_unref);
  g_clear_object(&loopback->service);
  g_clear_object(&loopback->cancellable);
  g_clear_pointer(&loopback->loop, g_main_loop_unref);
  g_main_context_pop_thread_default(loopback->context);
  g_main_context_unref(loopback->context);
  g_free(loopback);
}
