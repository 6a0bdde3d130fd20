/* filters/excerpt.h: short quotes of a message for people (the digest, `keel
 * why`): cut at a sentence or word boundary, never inside a word, on one line.
 * Pure: text in, a new string out.
 *
 * Entry points: excerpt_cut(), excerpt_around(). */
#pragma once

#include <glib.h>

/* The start of `text` in at most about `max_chars` characters: the whole
 * text when it fits, else up to the last sentence end (". ", "! ", "? ")
 * that keeps at least half of it, else up to the last space, then "…".
 * Whitespace runs become one space. New string. */
char *excerpt_cut(const char *text, gsize max_chars);

/* The words around bytes [start, end) of `text`: about `width` characters
 * either side, cut at word boundaries, "…" where text was left out, on one
 * line. NULL when the offsets are outside `text`. New string. */
char *excerpt_around(const char *text, gint64 start, gint64 end, gsize width);
