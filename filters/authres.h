/* filters/authres.h: reading an Authentication-Results header (RFC 8601) to
 * tell whether the VA's own mail server vouched for a message as coming from
 * her domain. Pure: header text in, a yes or no out.
 *
 * Entry point: authres_passes(). */
#pragma once

#include <glib.h>

/* TRUE when `value` (one Authentication-Results field body) was written by
 * `authserv_id` (case-insensitive) and reports dkim=pass with header.d equal
 * to `domain` (or header.i ending in @`domain`), or spf=pass with
 * smtp.mailfrom (an address or a domain) in `domain`. Comments in
 * parentheses are ignored. FALSE for anything else, NULL included. */
gboolean authres_passes(const char *value, const char *authserv_id, const char *domain);

/* The authserv-id that wrote `value` (lower case), or NULL. New string. */
char *authres_server(const char *value);
