/* filters/replies.c: the text of the messages keel writes, from data: the
 * pure half of daemon/outbox/replies.c, which builds the MIME message, reads
 * the signature file and the config.
 *
 * Every value that came from a mail or the config is cleaned
 * (replies_clean_value: no CR, LF or other control character survives, so no
 * header can be injected). Templates are plain text with {{variables}}; an
 * unknown variable is an error naming the template line, never silently left
 * in a sent mail. A reply greets a person, never a company: the first name
 * comes from the From display name when that is a person's name (not the
 * client's own name, not "Accounts Team", not an address).
 *
 * Must not: read files, the config, the clock or a store; build MIME (dates
 * and names are parameters, text comes out).
 */
#include <string.h>
#include "filters/excerpt.h"
#include "filters/replies.h"

G_DEFINE_QUARK(keel-replies-error-quark, keel_replies_error)

char *replies_clean_value(const char *value)
{
  return excerpt_flatten(value ? value : "", (gsize)-1, TRUE);
}

/* Length of a reply prefix at `s` ("Re:", "RE :", "Re[2]:", "AW:", "SV:"),
 * including the spaces after it; 0 when there is none. */
static gsize replies_prefix_length(const char *s)
{
  static const char *const words[] = { "re", "aw", "sv" };
  for (gsize i = 0; i < G_N_ELEMENTS(words); i++) {
    if (g_ascii_strncasecmp(s, words[i], 2) != 0)
      continue;
    const char *p = s + 2;
    if (*p == '[') {
      while (g_ascii_isdigit(*++p))
        ;
      if (*p++ != ']')
        continue;
    }
    while (*p == ' ')
      p++;
    if (*p != ':')
      continue;
    p++;
    while (*p == ' ')
      p++;
    return (gsize)(p - s);
  }
  return 0;
}

char *replies_subject(const char *original)
{
  g_autofree char *clean = replies_clean_value(original);
  const char *rest = clean;
  gsize skip;
  while ((skip = replies_prefix_length(rest)) > 0)
    rest += skip;
  return g_strconcat("Re: ", rest, NULL);
}

char *replies_human_date(GDateTime *when)
{
  static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  int hour = g_date_time_get_hour(when), minute = g_date_time_get_minute(when);
  int hour12 = hour % 12 == 0 ? 12 : hour % 12;
  const char *ampm = hour < 12 ? "am" : "pm";
  g_autofree char *time = minute == 0 ? g_strdup_printf("%d%s", hour12, ampm)
                                      : g_strdup_printf("%d:%02d%s", hour12, minute, ampm);
  return g_strdup_printf("%s %d %s, %s", days[g_date_time_get_day_of_week(when) - 1],
                         g_date_time_get_day_of_month(when),
                         months[g_date_time_get_month(when) - 1], time);
}

static int replies_line_at(const char *text, const char *at)
{
  int line = 1;
  for (const char *p = text; p < at; p++)
    line += *p == '\n';
  return line;
}

char *replies_render(const char *template_text, const char *template_name, GHashTable *vars,
                     GError **error)
{
  g_autoptr(GString) out = g_string_new(NULL);
  const char *p = template_text;
  const char *open;
  while ((open = strstr(p, "{{")) != NULL) {
    g_string_append_len(out, p, open - p);
    const char *close = strstr(open + 2, "}}");
    g_autofree char *name = close ? g_strstrip(g_strndup(open + 2, close - open - 2)) : NULL;
    const char *value = name ? g_hash_table_lookup(vars, name) : NULL;
    if (!value) {
      g_set_error(error, KEEL_REPLIES_ERROR, KEEL_REPLIES_ERROR_TEMPLATE,
                  close ? "%s:%d: unknown variable {{%s}} (see rules/templates/README.md)"
                        : "%s:%d: '{{' is never closed with '}}'",
                  template_name, replies_line_at(template_text, open), name);
      return NULL;
    }
    g_string_append(out, value);
    p = close + 2;
  }
  g_string_append(out, p);
  return g_string_free(g_steal_pointer(&out), FALSE);
}

/* "1) Send the contract — by Fri 6 Mar, 5pm\n2) ..." */
static char *replies_numbered_items(GPtrArray *items)
{
  g_autoptr(GString) out = g_string_new(NULL);
  for (guint i = 0; i < items->len; i++) {
    const ReplyItem *item = items->pdata[i];
    g_autofree char *text = replies_clean_value(item->text);
    gsize len = strlen(text);
    if ((item->deadline || item->asap) && len > 0 && text[len - 1] == '.')
      text[len - 1] = '\0';
    g_string_append_printf(out, "%u) %s", i + 1, text);
    if (item->deadline) {
      g_autofree char *when = replies_human_date(item->deadline);
      g_string_append_printf(out, " — by %s", when);
    } else if (item->asap) {
      g_string_append(out, " — as soon as possible");
    }
    if (i + 1 < items->len)
      g_string_append_c(out, '\n');
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

char *replies_confirmation_body(const char *template_text, const char *template_name,
                                const char *client_name, const char *subject,
                                GPtrArray *items, const ReplyVoice *voice, GError **error)
{
  g_autoptr(GHashTable) vars = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
  g_hash_table_insert(vars, "client_name", replies_clean_value(client_name));
  g_hash_table_insert(vars, "instructions", replies_numbered_items(items));
  g_hash_table_insert(vars, "count", g_strdup_printf("%u", items->len));
  g_hash_table_insert(vars, "subject", replies_clean_value(subject));
  replies_voice_vars(voice, vars);
  return replies_render(template_text, template_name, vars, error);
}

/* ---- the voice: who speaks, to whom ------------------------------------ */

/* Words that make a display name a company's or a mailbox's, not a person's. */
static const char *const replies_not_person[] = {
  "ltd", "limited", "llc", "llp", "inc", "plc", "gmbh", "co", "corp", "company", "studio",
  "studios", "homes", "group", "team", "accounts", "account", "office", "admin", "info",
  "support", "services", "agency", "partners", "lettings", "consulting", "sales", "billing",
  "enquiries", "hello", "contact", "the", "and", "&", "department", "noreply", "no-reply",
  "mr", "mrs", "ms", "miss", "dr", "prof", "sir", "dear",
};

static gboolean replies_word_is_person(const char *word)
{
  g_autofree char *folded = g_utf8_strdown(word, -1);
  g_strstrip(g_strdelimit(folded, ".,", ' '));
  for (gsize i = 0; i < G_N_ELEMENTS(replies_not_person); i++)
    if (strcmp(folded, replies_not_person[i]) == 0)
      return FALSE;
  guint letters = 0;
  for (const char *p = word; *p; p = g_utf8_next_char(p)) {
    gunichar c = g_utf8_get_char(p);
    if (g_unichar_isalpha(c))
      letters++;
    else if (c != '-' && c != '\'' && c != 0x2019)
      return FALSE;
  }
  return letters >= 2;
}

/* TRUE when `name`'s words contain `word` (case-insensitive). */
static gboolean replies_has_word(char **name, const char *word)
{
  g_autofree char *folded = g_utf8_casefold(word, -1);
  for (char **w = name; *w; w++) {
    g_autofree char *other = g_utf8_casefold(*w, -1);
    if (strcmp(other, folded) == 0)
      return TRUE;
  }
  return FALSE;
}

/* TRUE when display name `display` (its words in `words`) names the client
 * (`client_id`, `client_name`; both NULL: no client) itself: its name or id, or only words of a company name ("Beckett" or
 * "Beckett Studio" for Beckett Brand Studio; but "Bob" is Bob Smith). */
static gboolean replies_names_client(char **words, const char *display, const char *client_id,
                                     const char *client_name)
{
  if (!client_id && !client_name)
    return FALSE;
  g_autofree char *name = replies_clean_value(client_name ? client_name : client_id);
  g_autofree char *a = g_utf8_casefold(display, -1), *b = g_utf8_casefold(name, -1);
  if (strcmp(a, b) == 0 || (client_id && g_ascii_strcasecmp(display, client_id) == 0))
    return TRUE;
  g_auto(GStrv) own = g_strsplit(name, " ", -1);
  gboolean company = FALSE;
  for (char **w = own; *w; w++)
    company = company || (**w && !replies_word_is_person(*w));
  for (char **w = words; company && *w; w++)
    if (!replies_has_word(own, *w))
      return FALSE;
  return company;
}

/* "tom" and "TOM" as "Tom"; "McKay" and "Anne-Marie" kept. New string. */
static char *replies_capitalise(const char *word)
{
  g_autofree char *upper = g_utf8_strup(word, -1);
  gboolean shouting = g_utf8_strlen(word, -1) > 1 && strcmp(upper, word) == 0;
  g_autofree char *rest = shouting ? g_utf8_strdown(g_utf8_next_char(word), -1)
                                   : g_strdup(g_utf8_next_char(word));
  char head[8] = { 0 };
  g_unichar_to_utf8(g_unichar_totitle(g_utf8_get_char(word)), head);
  return g_strconcat(head, rest, NULL);
}

/* `name` without "(…)" and "[…]" asides ("Tom Reid (Beckett)"). In place. */
static void replies_drop_asides(char *name)
{
  char *open;
  while ((open = strpbrk(name, "([")) != NULL) {
    char *close = strchr(open, *open == '(' ? ')' : ']');
    if (!close) {
      *open = '\0';
      break;
    }
    memmove(open, close + 1, strlen(close + 1) + 1);
  }
}

char *replies_first_name_of(const char *display_name, const char *client_id,
                            const char *client_name)
{
  g_autofree char *clean = replies_clean_value(display_name);
  replies_drop_asides(clean);
  g_strstrip(g_strdelimit(clean, "\"", ' '));
  if (!clean[0] || strchr(clean, '@'))
    return NULL;
  const char *comma = strchr(clean, ',');
  g_auto(GStrv) words = g_strsplit_set(comma ? comma + 1 : clean, " ", -1);
  g_autoptr(GPtrArray) kept = g_ptr_array_new();
  for (char **w = words; *w; w++)
    if (**w)
      g_ptr_array_add(kept, *w);
  if (kept->len == 0)
    return NULL;
  g_auto(GStrv) all = g_strsplit_set(clean, " ,", -1);
  for (char **w = all; *w; w++)
    if (**w && !replies_word_is_person(*w))
      return NULL;
  g_ptr_array_add(kept, NULL);
  if (replies_names_client((char **)kept->pdata, clean, client_id, client_name))
    return NULL;
  return replies_capitalise(kept->pdata[0]);
}

void replies_voice_free(ReplyVoice *voice)
{
  if (!voice)
    return;
  g_free(voice->first_name);
  g_free(voice->greeting);
  g_free(voice->to_name);
  g_free(voice->va_name);
  g_free(voice->business);
  g_free(voice->signature);
  g_free(voice);
}

void replies_voice_vars(const ReplyVoice *voice, GHashTable *vars)
{
  static const ReplyVoice nobody = { "", "Hello,", "", "", "", "" };
  if (!voice)
    voice = &nobody;
  g_hash_table_insert(vars, "first_name", g_strdup(voice->first_name));
  g_hash_table_insert(vars, "greeting", g_strdup(voice->greeting));
  g_hash_table_insert(vars, "va_name", g_strdup(voice->va_name));
  g_hash_table_insert(vars, "business", g_strdup(voice->business));
  g_hash_table_insert(vars, "signature", g_strdup(voice->signature));
}
