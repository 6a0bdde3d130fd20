/* filters/quote.h: private to the parser. Splits the text of a message body
 * into what the sender wrote now, the earlier messages it quotes, and the
 * sign-off and signature block. Pure: no I/O. */
#pragma once

#include <glib.h>

/* Splits UTF-8 `body` (LF line ends). `sender_name` (may be NULL or "") is the
 * From display name: a line holding just that name, its first word or its
 * initial, near the end of the new text, starts the signature. The three
 * results are new strings (never NULL, "" when empty) the caller owns. */
void quote_split(const char *body, const char *sender_name, char **new_text,
                 char **quoted_text, char **signature);

/* The text of a `format=flowed` part (RFC 3676) with its soft line breaks
 * undone: a line ending in a space joins the next line of the same quote
 * depth (the space dropped when `delsp`), space-stuffing is removed, "-- "
 * stays a signature delimiter, and quoted lines come out as "> " per level.
 * LF line ends in the result. New string, the caller owns it. */
char *quote_unflow(const char *text, gboolean delsp);
