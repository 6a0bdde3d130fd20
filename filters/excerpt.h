/* filters/excerpt.h: short quotes of a message for people (the digest, `keel
 * why`): cut at a sentence or word boundary, never inside a word, on one line.
 * Pure: text in, a new string out.
 *
 * Entry points: excerpt_cut(), excerpt_around(), excerpt_flatten(). */
#pragma once

#include <glib.h>

/* `text` (its first `len` bytes, (gsize)-1 = to its NUL; invalid UTF-8
 * replaced) with every run of whitespace as one space, trimmed; with
 * `controls`, control characters (C0, C1, U+2028/9) count as whitespace
 * (a value put into a header or a template). New string. */
char *excerpt_flatten(const char *text, gsize len, gboolean controls);

/* The start of `text` in at most about `max_chars` characters: the whole
 * text when it fits, else up to the last sentence end (". ", "! ", "? ")
 * that keeps at least half of it, else up to the last space, then "…".
 * Whitespace runs become one space. New string. */
char *excerpt_cut(const char *text, gsize max_chars);

/* The words around bytes [start, end) of `text`: about `width` characters
 * either side, cut at word boundaries, "…" where text was left out, on one
 * line. NULL when the offsets are outside `text`. New string. */
char *excerpt_around(const char *text, gint64 start, gint64 end, gsize width);
