/* daemon/mail/oauth.h: OAuth2 logins (SASL XOAUTH2 / OAUTHBEARER) for IMAP and
 * SMTP: the access token (refreshed over HTTPS before it expires, a rotated
 * refresh token saved atomically in the state directory) and the libcurl
 * options that pin the mechanism the account names.
 *
 * Entry points:
 *   oauth_account_secret()  the password (auth = password) or a fresh access token
 *   oauth_set_login()       CURLOPT_USERNAME + password, or bearer + AUTH=<mechanism>
 *
 * Errors are in KEEL_MAIL_ERROR so the daemon's backoff applies unchanged: a
 * refused or revoked refresh token is KEEL_MAIL_ERROR_AUTH ("run keel oauth
 * login NAME"), an unreachable token endpoint TEMPORARY, a missing file
 * PERMANENT. Never logs a token or a client secret. */
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
 * user has signed in (or the code expires), and the refresh token is saved
 * in the state file. Google is refused (its device flow does not allow the
 * mail scope). */
typedef void (*OauthPrompt)(const char *url, const char *code, gpointer data);
gboolean oauth_device_login(const KeelAccount *account, OauthPrompt prompt, gpointer data,
                            GError **error);

/* Exchanges the refresh token for an access token now, whatever the state
 * file says (`keel oauth refresh`, tests). Returns the access token. */
char *oauth_refresh_now(const KeelAccount *account, GError **error);
