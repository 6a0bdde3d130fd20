/* filters/utf7.h: IMAP modified UTF-7 folder names (RFC 3501 5.1.3), both ways.
 * Pure: strings in, strings out; no I/O.
 *   utf7_encode()  UTF-8 "Entwürfe" -> "Entw&APw-rfe" (what goes on the wire)
 *   utf7_decode()  the wire form back to UTF-8; NULL for a malformed name */
#pragma once

#include <glib.h>

/* A new string; `utf8` must be valid UTF-8 (invalid input gives NULL). */
char *utf7_encode(const char *utf8);
/* A new string, or NULL when `mutf7` is not valid modified UTF-7. */
char *utf7_decode(const char *mutf7);
