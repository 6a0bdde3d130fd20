/* filters/special-use.c: finding the Sent and Drafts folders in LIST answers
 * (RFC 6154), for accounts whose sent_folder / drafts_folder are unset. Reads
 * quoted and atom mailbox names (not literals), decodes modified UTF-7. Pure:
 * must not do I/O. */
#include <string.h>
#include "filters/special-use.h"
#include "filters/utf7.h"

typedef struct {
  char *attrs; /* "\HasNoChildren \Sent" */
  char *name;  /* UTF-8 */
} ListEntry;

static const char *const special_use_sent_names[] = {
  "Sent", "Sent Items", "Sent Messages", "Sent Mail", "[Gmail]/Sent Mail",
  "[Google Mail]/Sent Mail", "INBOX.Sent", "INBOX/Sent", NULL
};
static const char *const special_use_drafts_names[] = {
  "Drafts", "[Gmail]/Drafts", "[Google Mail]/Drafts", "INBOX.Drafts", "INBOX/Drafts", NULL
};

/* A quoted string (with \" and \\) or an atom, from `*p`; NULL for a literal. */
static char *special_use_string(const char **p)
{
  const char *s = *p;
  if (*s == '{')
    return NULL;
  GString *out = g_string_new(NULL);
  if (*s == '"') {
    for (s++; *s && *s != '"'; s++) {
      if (*s == '\\' && s[1])
        s++;
      g_string_append_c(out, *s);
    }
    s += *s == '"';
  } else {
    while (*s && *s != ' ' && *s != '\r' && *s != '\n')
      g_string_append_c(out, *s++);
  }
  *p = s;
  return g_string_free(out, FALSE);
}

/* One "* LIST (attrs) delim name" line; FALSE when it is not one. */
static gboolean special_use_parse_line(const char *line, ListEntry *entry)
{
  if (g_ascii_strncasecmp(line, "* LIST (", 8) != 0)
    return FALSE;
  const char *close = strchr(line + 8, ')');
  if (!close || close[1] != ' ')
    return FALSE;
  const char *p = close + 2;
  g_autofree char *delim = special_use_string(&p);
  if (!delim || *p != ' ')
    return FALSE;
  p++;
  g_autofree char *wire = special_use_string(&p);
  if (!wire || !*wire)
    return FALSE;
  entry->attrs = g_strndup(line + 8, (gsize)(close - line - 8));
  entry->name = utf7_decode(wire);
  if (!entry->name)
    entry->name = g_steal_pointer(&wire);
  return TRUE;
}

static gboolean special_use_has_attr(const char *attrs, const char *attr)
{
  g_auto(GStrv) words = g_strsplit(attrs, " ", -1);
  for (char **w = words; *w; w++) {
    if (g_ascii_strcasecmp(*w, attr) == 0)
      return TRUE;
  }
  return FALSE;
}

static char *special_use_find(GArray *entries, const char *attr, const char *const *names)
{
  for (guint i = 0; i < entries->len; i++) {
    const ListEntry *e = &g_array_index(entries, ListEntry, i);
    if (special_use_has_attr(e->attrs, attr))
      return g_strdup(e->name);
  }
  for (const char *const *n = names; *n; n++) {
    for (guint i = 0; i < entries->len; i++) {
      const ListEntry *e = &g_array_index(entries, ListEntry, i);
      if (g_ascii_strcasecmp(e->name, *n) == 0 && !special_use_has_attr(e->attrs, "\\Noselect"))
        return g_strdup(e->name);
    }
  }
  return NULL;
}

static void special_use_entry_clear(gpointer data)
{
  ListEntry *entry = data;
  g_free(entry->attrs);
  g_free(entry->name);
}

void special_use_pick(const char *list, char **sent, char **drafts)
{
  g_autoptr(GArray) entries = g_array_new(FALSE, TRUE, sizeof(ListEntry));
  g_array_set_clear_func(entries, special_use_entry_clear);
  g_auto(GStrv) lines = g_strsplit(list ? list : "", "\n", -1);
  for (char **l = lines; *l; l++) {
    ListEntry entry = { 0 };
    g_strchomp(*l);
    if (special_use_parse_line(*l, &entry))
      g_array_append_val(entries, entry);
  }
  *sent = special_use_find(entries, "\\Sent", special_use_sent_names);
  *drafts = special_use_find(entries, "\\Drafts", special_use_drafts_names);
}
