/* daemon/mail/oauth.h: OAuth2 logins (SASL XOAUTH2 / OAUTHBEARER) for IMAP and
 * SMTP: the access token (refreshed over HTTPS before it expires, a rotated
 * refresh token saved atomically in the state directory) and the libcurl
 * options that pin the mechanism the account names.
 *
 * Entry points:
 *   oauth_account_secret()  the password (auth = password) or a fresh access token
 *   oauth_set_login()       CURLOPT_USERNAME + password, or bearer + AUTH=<mechanism>
 *   oauth_device_login()    `keel oauth login`, device-code flow (Microsoft)
 *   oauth_browser_login()   `keel oauth login`, loopback redirect + PKCE (Google)
 *
 * Errors are in KEEL_MAIL_ERROR so the daemon's backoff applies unchanged: a
 * refused or revoked refresh token is KEEL_MAIL_ERROR_AUTH ("run keel oauth
 * login NAME"), an unreachable token endpoint TEMPORARY, a missing file
 * PERMANENT. The browser login's own failures are in OAUTH_LOGIN_ERROR. Never
 * logs a token or a client secret. */
#pragma once

#include <glib.h>
#include <curl/curl.h>
#include "daemon/base/config.h"

/* The secret `account` logs in with: its password (config_account_password())
 * or an OAuth2 access token valid for at least OAUTH_MARGIN_S more seconds,
 * refreshed at the token endpoint when needed. New string: wipe and free. */
#define OAUTH_MARGIN_S 300
char *oauth_account_secret(const KeelAccount *account, GError **error);

/* Sets user and password, or the bearer token with the login option
 * "AUTH=XOAUTH2" / "AUTH=OAUTHBEARER" (CURLOPT_HTTPAUTH is left alone: with
 * libcurl 7.88 setting it brings OAUTHBEARER back, curl issue 10259). */
void oauth_set_login(CURL *curl, const KeelAccount *account, const char *secret);

/* `keel oauth login`: the device-code flow (Microsoft; RFC 8628). `prompt`
 * shows the URL and the code; then the token endpoint is polled until the
 * user has signed in (or the code expires), and the tokens are saved in the
 * state file (and the refresh token in oauth_login_token_file(), 0600, each
 * written atomically). Google is refused (its device flow does not allow the
 * mail scope). */
typedef void (*OauthPrompt)(const char *url, const char *code, gpointer data);
gboolean oauth_device_login(const KeelAccount *account, OauthPrompt prompt, gpointer data,
                            GError **error);

/* What went wrong in oauth_browser_login() (besides KEEL_MAIL_ERROR_NETWORK
 * when the token endpoint cannot be reached). */
#define OAUTH_LOGIN_ERROR (oauth_login_error_quark())
GQuark oauth_login_error_quark(void);
typedef enum {
  OAUTH_LOGIN_ERROR_DENIED,  /* the redirect said error=... (e.g. access_denied) */
  OAUTH_LOGIN_ERROR_STATE,   /* the redirect's state is not the one sent, or it has no code */
  OAUTH_LOGIN_ERROR_TIMEOUT, /* no redirect within the time given */
  OAUTH_LOGIN_ERROR_REFUSED, /* the token endpoint refused the code, or sent no refresh token */
  OAUTH_LOGIN_ERROR_LISTEN,  /* cannot listen on 127.0.0.1, or no random bytes */
  OAUTH_LOGIN_ERROR_SAVE     /* the tokens could not be written */
} OauthLoginError;

/* `keel oauth login` for an account with oauth_auth_url (Google): the
 * loopback redirect flow with PKCE (RFC 8252, RFC 7636 S256). Listens on
 * 127.0.0.1:`port` (0 = a free port), gives `prompt` the authorization URL
 * to open in a browser, waits up to `timeout_s` for the one redirect, checks
 * its state, answers the browser, exchanges the code and the verifier at the
 * token endpoint, and saves the tokens like oauth_device_login(). */
typedef void (*OauthBrowserPrompt)(const char *url, gpointer data);
gboolean oauth_browser_login(const KeelAccount *account, guint16 port, guint timeout_s,
                             OauthBrowserPrompt prompt, gpointer data, GError **error);

/* Where `keel oauth login` also writes the refresh token: the absolute
 * oauth_refresh_token_file, or NULL (unset, or a systemd credential name,
 * which is read-only). New string. */
char *oauth_login_token_file(const KeelAccount *account);

/* Exchanges the refresh token for an access token now, whatever the state
 * file says (`keel oauth refresh`, tests). Returns the access token. */
char *oauth_refresh_now(const KeelAccount *account, GError **error);
