/* filters/authres.c: does an Authentication-Results header say that the
 * server `authserv_id` checked this message and found it really came from
 * `domain`?
 *
 * How it works: comments "(...)" are dropped, the text is split at ';'. The
 * first part names the server that wrote the field (authserv-id, optionally
 * followed by a version); every other part is "method=result" then
 * "ptype.property=value" pairs. A part counts when it is dkim=pass for the
 * domain (header.d, or header.i's domain) or spf=pass for it (smtp.mailfrom,
 * whose domain is the part after '@').
 *
 * Must not: trust a field written by any other server (a sender can write
 * any Authentication-Results it likes below the ones her server adds), parse
 * addresses by hand beyond taking the part after '@', allocate without bound.
 */
#include <string.h>
#include "filters/authres.h"

/* `text` without "(...)" comments (nested ones too). New string. */
static char *authres_strip_comments(const char *text)
{
  GString *out = g_string_sized_new(strlen(text));
  int depth = 0;
  for (const char *p = text; *p; p++) {
    if (*p == '\\' && depth > 0 && p[1]) {
      p++;
      continue;
    }
    if (*p == '(')
      depth++;
    else if (*p == ')' && depth > 0)
      depth--;
    else if (depth == 0)
      g_string_append_c(out, *p);
  }
  return g_string_free(out, FALSE);
}

/* The domain of `value` (after the last '@', or all of it), quotes removed,
 * compared case-insensitively with `domain`. */
static gboolean authres_domain_is(const char *value, const char *domain)
{
  g_autofree char *unquoted = g_strdup(value);
  g_strdelimit(unquoted, "\"", ' ');
  g_strstrip(unquoted);
  const char *at = strrchr(unquoted, '@');
  const char *host = at ? at + 1 : unquoted;
  return host[0] && g_ascii_strcasecmp(host, domain) == 0;
}

/* One resinfo part, e.g. "dkim=pass header.d=example.com header.s=sel". */
static gboolean authres_part_passes(const char *part, const char *domain)
{
  g_auto(GStrv) words = g_strsplit_set(part, " \t\r\n", -1);
  const char *method = NULL;
  for (char **w = words; *w; w++) {
    if (!**w)
      continue;
    if (!method) {
      method = *w;
      if (g_ascii_strcasecmp(method, "dkim=pass") != 0
          && g_ascii_strcasecmp(method, "spf=pass") != 0)
        return FALSE;
      continue;
    }
    gboolean dkim = g_ascii_strncasecmp(method, "dkim", 4) == 0;
    const char *prop = dkim ? (g_ascii_strncasecmp(*w, "header.d=", 9) == 0 ? *w + 9
                               : g_ascii_strncasecmp(*w, "header.i=", 9) == 0 ? *w + 9 : NULL)
                            : (g_ascii_strncasecmp(*w, "smtp.mailfrom=", 14) == 0 ? *w + 14
                                                                                   : NULL);
    if (prop && authres_domain_is(prop, domain))
      return TRUE;
  }
  return FALSE;
}

gboolean authres_passes(const char *value, const char *authserv_id, const char *domain)
{
  if (!value || !authserv_id || !*authserv_id || !domain || !*domain)
    return FALSE;
  g_autofree char *plain = authres_strip_comments(value);
  g_auto(GStrv) parts = g_strsplit(plain, ";", -1);
  if (!parts[0])
    return FALSE;
  g_auto(GStrv) head = g_strsplit_set(g_strstrip(parts[0]), " \t\r\n", 2);
  if (!head[0] || g_ascii_strcasecmp(head[0], authserv_id) != 0)
    return FALSE;
  for (char **part = parts + 1; *part; part++)
    if (authres_part_passes(g_strstrip(*part), domain))
      return TRUE;
  return FALSE;
}

char *authres_server(const char *value)
{
  if (!value)
    return NULL;
  g_autofree char *plain = authres_strip_comments(value);
  char *semicolon = strchr(plain, ';');
  if (semicolon)
    *semicolon = '\0';
  g_auto(GStrv) head = g_strsplit_set(g_strstrip(plain), " \t\r\n", 2);
  return head[0] && head[0][0] ? g_ascii_strdown(head[0], -1) : NULL;
}
