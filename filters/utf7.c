/* filters/utf7.c: IMAP modified UTF-7 (RFC 3501 5.1.3) for folder names such as
 * "Entwürfe" or "Клиенты". Printable ASCII stands for itself ('&' is "&-");
 * anything else is UTF-16BE in base64 with ',' for '/', no padding, between
 * '&' and '-'. Pure: must not do I/O or depend on the locale. */
#include <string.h>
#include "filters/utf7.h"

static const char utf7_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static gboolean utf7_direct(gunichar c)
{
  return c >= 0x20 && c <= 0x7e;
}

/* Appends "&<base64 of UTF-16BE>-" for the run of `units`. */
static void utf7_put_run(GString *out, const gunichar2 *units, glong n)
{
  guint32 bits = 0;
  int nbits = 0;
  g_string_append_c(out, '&');
  for (glong i = 0; i < n; i++) {
    bits = (bits << 16) | units[i];
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      g_string_append_c(out, utf7_alphabet[(bits >> nbits) & 0x3f]);
    }
  }
  if (nbits > 0)
    g_string_append_c(out, utf7_alphabet[(bits << (6 - nbits)) & 0x3f]);
  g_string_append_c(out, '-');
}

char *utf7_encode(const char *utf8)
{
  if (!utf8 || !g_utf8_validate(utf8, -1, NULL))
    return NULL;
  GString *out = g_string_new(NULL);
  const char *p = utf8;
  while (*p) {
    gunichar c = g_utf8_get_char(p);
    if (utf7_direct(c)) {
      if (c == '&')
        g_string_append(out, "&-");
      else
        g_string_append_c(out, (char)c);
      p = g_utf8_next_char(p);
      continue;
    }
    const char *start = p;
    while (*p && !utf7_direct(g_utf8_get_char(p)))
      p = g_utf8_next_char(p);
    glong n = 0;
    g_autofree gunichar2 *units = g_utf8_to_utf16(start, p - start, NULL, &n, NULL);
    utf7_put_run(out, units, n);
  }
  return g_string_free(out, FALSE);
}

static int utf7_value(char c)
{
  const char *hit = c ? strchr(utf7_alphabet, c) : NULL;
  return hit ? (int)(hit - utf7_alphabet) : -1;
}

/* Decodes the base64 between '&' and '-' (at most `len` chars) into UTF-8 on `out`. */
static gboolean utf7_get_run(GString *out, const char *run, gsize len)
{
  g_autoptr(GArray) units = g_array_new(FALSE, FALSE, sizeof(gunichar2));
  guint32 bits = 0;
  int nbits = 0;
  for (gsize i = 0; i < len; i++) {
    int v = utf7_value(run[i]);
    if (v < 0)
      return FALSE;
    bits = (bits << 6) | (guint32)v;
    nbits += 6;
    if (nbits >= 16) {
      nbits -= 16;
      gunichar2 unit = (gunichar2)((bits >> nbits) & 0xffff);
      g_array_append_val(units, unit);
    }
  }
  if (nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0 || units->len == 0)
    return FALSE; /* leftover bits must be zero padding */
  g_autofree char *text = g_utf16_to_utf8((gunichar2 *)units->data, units->len, NULL, NULL, NULL);
  if (!text)
    return FALSE;
  g_string_append(out, text);
  return TRUE;
}

char *utf7_decode(const char *mutf7)
{
  if (!mutf7)
    return NULL;
  g_autoptr(GString) out = g_string_new(NULL);
  for (const char *p = mutf7; *p; p++) {
    if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
      return NULL;
    if (*p != '&') {
      g_string_append_c(out, *p);
      continue;
    }
    const char *end = strchr(p + 1, '-');
    if (!end)
      return NULL;
    if (end == p + 1)
      g_string_append_c(out, '&');
    else if (!utf7_get_run(out, p + 1, (gsize)(end - p - 1)))
      return NULL;
    p = end;
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}
