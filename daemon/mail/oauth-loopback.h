/* daemon/mail/oauth-loopback.h: the one-shot HTTP listener on 127.0.0.1 that
 * receives the browser's redirect in `keel oauth login` (RFC 8252 loopback
 * redirect). Used only by oauth.c's browser login, never by the daemon.
 *
 * Entry points:
 *   oauth_loopback_new()    listens on 127.0.0.1:PORT (0 = a free port)
 *   oauth_loopback_wait()   the query parameters of the first GET /?code=... or /?error=...
 *   oauth_loopback_reply()  answers that request with a short HTML page, closes it
 * Errors are in OAUTH_LOGIN_ERROR (oauth.h). */
#pragma once

#include <glib.h>

typedef struct _OauthLoopback OauthLoopback;

/* Listens on 127.0.0.1:`port` (0: the system picks a free one). The thread's
 * default main context is a private one until oauth_loopback_free(): call
 * new, wait, reply and free from one thread, with nothing else in between. */
OauthLoopback *oauth_loopback_new(guint16 port, GError **error);
guint16 oauth_loopback_port(const OauthLoopback *loopback);

/* Serves requests until one is a GET of "/" with a `code` or an `error`
 * parameter (other paths get 404, a bare "/" gets 400, and waiting goes on),
 * or `timeout_s` seconds pass (OAUTH_LOGIN_ERROR_TIMEOUT). Returns the decoded
 * parameters (owned by the caller); the request stays open for
 * oauth_loopback_reply(). */
GHashTable *oauth_loopback_wait(OauthLoopback *loopback, guint timeout_s, GError **error);

/* Answers the request oauth_loopback_wait() returned: `ok` gives 200, else
 * 400, with `text` (plain text, escaped here) as the page. Best effort: a
 * browser that went away is not an error. */
void oauth_loopback_reply(OauthLoopback *loopback, gboolean ok, const char *text);

void oauth_loopback_free(OauthLoopback *loopback);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OauthLoopback, oauth_loopback_free)
