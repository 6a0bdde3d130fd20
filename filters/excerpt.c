/* filters/excerpt.c: quotes cut where a reader expects them to stop.
 *
 * A quote cut mid-word ("If the venue falls thr…") reads as a bug; one cut at
 * a sentence end reads as a quote. excerpt_cut() keeps the opening of a text,
 * excerpt_around() the words around a match. Both work on characters (UTF-8),
 * flatten whitespace to single spaces and mark every cut with "…".
 *
 * Must not: allocate more than the result, know about messages or rules.
 */
#include <string.h>
#include "filters/excerpt.h"

/* C0 and C1 controls and the Unicode line and paragraph separators. */
static gboolean excerpt_is_control(gunichar c)
{
  return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029;
}

char *excerpt_flatten(const char *text, gsize len, gboolean controls)
{
  g_autofree char *valid = g_utf8_make_valid(text, (gssize)len);
  GString *out = g_string_sized_new(strlen(valid));
  gboolean space = TRUE;
  for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
    gunichar c = g_utf8_get_char(p);
    if (g_unichar_isspace(c) || (controls && excerpt_is_control(c))) {
      if (!space)
        g_string_append_c(out, ' ');
      space = TRUE;
      continue;
    }
    g_string_append_unichar(out, c);
    space = FALSE;
  }
  if (out->len && out->str[out->len - 1] == ' ')
    g_string_truncate(out, out->len - 1);
  return g_string_free(out, FALSE);
}

char *excerpt_cut(const char *text, gsize max_chars)
{
  g_autofree char *flat = excerpt_flatten(text ? text : "", (gsize)-1, FALSE);
  if (g_utf8_strlen(flat, -1) <= (glong)max_chars)
    return g_steal_pointer(&flat);
  const char *limit = g_utf8_offset_to_pointer(flat, (glong)max_chars);
  const char *half = g_utf8_offset_to_pointer(flat, (glong)max_chars / 2);
  for (const char *p = limit - 1; p > half; p--)
    if ((*p == '.' || *p == '!' || *p == '?') && p[1] == ' ')
      return g_strndup(flat, (gsize)(p + 1 - flat));
  const char *space = limit;
  while (space > flat && *space != ' ')
    space--;
  gsize keep = space > flat ? (gsize)(space - flat) : (gsize)(limit - flat);
  while (keep > 0 && strchr(",;:-", flat[keep - 1]))
    keep--;
  return g_strdup_printf("%.*s…", (int)keep, flat);
}

/* Moves `p` back to the start of its word (a space before it or `text`). */
static const char *excerpt_word_start(const char *text, const char *p)
{
  while (p > text && p[-1] != ' ' && p[-1] != '\n' && p[-1] != '\t' && p[-1] != '\r')
    p--;
  return p;
}

/* Moves `p` forward to the end of its word. */
static const char *excerpt_word_end(const char *p)
{
  while (*p && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r')
    p++;
  return p;
}

char *excerpt_around(const char *text, gint64 start, gint64 end, gsize width)
{
  gsize len = text ? strlen(text) : 0;
  if (!text || start < 0 || end < start || (gsize)end > len)
    return NULL;
  const char *from = text + ((gsize)start > width ? (gsize)start - width : 0);
  const char *to = text + MIN(len, (gsize)end + width);
  if (from > text && excerpt_word_start(text, from) != from)
    from = excerpt_word_start(text, from) == text ? text : excerpt_word_end(from);
  if (from > text + start)
    from = excerpt_word_start(text, text + start);
  if (to < text + len)
    to = excerpt_word_start(text, to) <= text + end ? excerpt_word_end(text + end)
                                                    : excerpt_word_start(text, to);
  g_autofree char *flat = excerpt_flatten(from, (gsize)(to - from), FALSE);
  return g_strdup_printf("%s%s%s", from > text ? "…" : "", flat, to < text + len ? "…" : "");
}
