/* daemon/outbox/replies.c: writing the confirmations keel sends, with GMime.
 *
 * A reply is built from a ReplySpec in three steps: every value that came
 * from a mail or the config is cleaned (replies_clean_value: no CR, LF or
 * other control character survives, so no header can be injected), then
 * GMime writes the headers (encoding non-ASCII as RFC 2047) and a UTF-8
 * text/plain part in quoted-printable, then the message is serialised with
 * CRLF line ends, ready for SMTP or IMAP APPEND. Message-IDs taken from mail
 * for In-Reply-To/References are kept only when they are plain msg-id
 * characters.
 *
 * Templates are plain text with {{variables}}; an unknown variable is an
 * error naming the template line, never silently left in a sent mail.
 *
 * The voice (replies_voice_new): a reply greets a person, never a company.
 * The first name comes from the From display name when that is a person's
 * name (not the client's own name, not "Accounts Team", not an address),
 * else from the client's `contact`, else the greeting is a neutral "Hello,".
 * It is signed by the VA ([account] name, business or signature_file) and
 * comes From her name and address.
 *
 * Must not: send or store anything; read the clock (dates are parameters).
 */
#include <string.h>
#include <gmime/gmime.h>
#include "daemon/outbox/replies.h"
#include "filters/cleanup.h"

G_DEFINE_QUARK(keel-replies-error-quark, keel_replies_error)

#define REPLIES_MAX_REFERENCES 20

static gpointer replies_init_gmime(gpointer unused)
{
  (void)unused;
  g_mime_init();
  return NULL;
}

static gboolean replies_is_control(gunichar c)
{
  return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029;
}

char *replies_clean_value(const char *value)
{
  g_autofree char *valid = g_utf8_make_valid(value ? value : "", -1);
  g_autoptr(GString) out = g_string_new(NULL);
  gboolean space = TRUE; /* drops leading spaces */
  for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
    gunichar c = g_utf8_get_char(p);
    if (replies_is_control(c) || g_unichar_isspace(c)) {
      if (!space)
        g_string_append_c(out, ' ');
      space = TRUE;
      continue;
    }
    g_string_append_unichar(out, c);
    space = FALSE;
  }
  if (out->len > 0 && out->str[out->len - 1] == ' ')
    g_string_truncate(out, out->len - 1);
  return g_string_free(g_steal_pointer(&out), FALSE);
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

/* TRUE when display name `display` (its words in `words`) names `client`
 * itself: its name or id, or only words of a company name ("Beckett" or
 * "Beckett Studio" for Beckett Brand Studio; but "Bob" is Bob Smith). */
static gboolean replies_names_client(char **words, const char *display, const KeelClient *client)
{
  if (!client)
    return FALSE;
  g_autofree char *name = replies_clean_value(client->name ? client->name : client->id);
  g_autofree char *a = g_utf8_casefold(display, -1), *b = g_utf8_casefold(name, -1);
  if (strcmp(a, b) == 0 || (client->id && g_ascii_strcasecmp(display, client->id) == 0))
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

char *replies_first_name(const char *display_name, const KeelClient *client)
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
  if (replies_names_client((char **)kept->pdata, clean, client))
    return NULL;
  return replies_capitalise(kept->pdata[0]);
}

/* The first word of [client] contact, or NULL. */
static char *replies_contact_first(const KeelClient *client)
{
  g_autofree char *contact = replies_clean_value(client ? client->contact : NULL);
  g_auto(GStrv) words = g_strsplit(contact, " ", 2);
  return words[0] && words[0][0] ? g_strdup(words[0]) : NULL;
}

/* signature_file, else <rules_dir>/templates/signature.txt, else "Best
 * wishes," with the VA's name and business. NULL with `error`. */
static char *replies_signature(const KeelAccount *account, const char *rules_dir,
                               const char *va_name, const char *business, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) local = NULL;
  if (account && account->signature_file) {
    if (!g_file_get_contents(account->signature_file, &text, NULL, &local)) {
      g_set_error(error, KEEL_REPLIES_ERROR, KEEL_REPLIES_ERROR_SIGNATURE,
                  "cannot read [account %s] signature_file: %s", account->name, local->message);
      return NULL;
    }
    return g_strchomp(g_steal_pointer(&text));
  }
  g_autofree char *old = rules_dir ? g_build_filename(rules_dir, "templates", "signature.txt",
                                                      NULL) : NULL;
  if (old && g_file_get_contents(old, &text, NULL, NULL))
    return g_strchomp(g_steal_pointer(&text));
  GString *out = g_string_new("Best wishes,");
  if (va_name[0])
    g_string_append_printf(out, "\n%s", va_name);
  if (business[0])
    g_string_append_printf(out, "\n%s", business);
  return g_string_free(out, FALSE);
}

ReplyVoice *replies_voice_new(const KeelAccount *account, const KeelClient *client,
                              const char *display_name, const char *rules_dir,
                              GError **error)
{
  g_autoptr(ReplyVoice) voice = g_new0(ReplyVoice, 1);
  voice->va_name = replies_clean_value(account ? account->va_name : NULL);
  voice->business = replies_clean_value(account ? account->business : NULL);
  voice->signature = replies_signature(account, rules_dir, voice->va_name, voice->business,
                                       error);
  if (!voice->signature)
    return NULL;
  voice->first_name = replies_first_name(display_name, client);
  if (!voice->first_name)
    voice->first_name = replies_contact_first(client);
  if (!voice->first_name)
    voice->first_name = g_strdup("");
  g_autofree char *display = replies_clean_value(display_name);
  voice->to_name = display[0] && !strchr(display, '@') ? g_steal_pointer(&display)
    : replies_clean_value(client && client->contact ? client->contact
                          : client ? client->name : NULL);
  voice->greeting = voice->first_name[0] ? g_strdup_printf("Hi %s,", voice->first_name)
                                         : g_strdup("Hello,");
  return g_steal_pointer(&voice);
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

char *replies_new_message_id(const char *from_address)
{
  const char *at = from_address ? strrchr(from_address, '@') : NULL;
  g_autofree char *domain = replies_clean_value(at && at[1] ? at + 1 : "keel.invalid");
  g_strdelimit(domain, " <>\"", '-');
  g_autofree char *uuid = g_uuid_string_random();
  return g_strdup_printf("keel.%s@%s", uuid, domain);
}

/* TRUE when `id` is a plain msg-id body (printable ASCII, no space, no <>). */
static gboolean replies_msgid_ok(const char *id)
{
  if (!id || !*id || strlen(id) > 500)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (*p <= 0x20 || *p >= 0x7f || *p == '<' || *p == '>')
      return FALSE;
  return TRUE;
}

/* "<a> <b> <c>": the last REPLIES_MAX_REFERENCES usable ids, then in_reply_to
 * when it is not already the last. NULL when there is none. */
static char *replies_references(const ReplySpec *spec)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new();
  for (guint i = 0; spec->references && i < spec->references->len; i++)
    if (replies_msgid_ok(spec->references->pdata[i]))
      g_ptr_array_add(ids, spec->references->pdata[i]);
  if (replies_msgid_ok(spec->in_reply_to)
      && (ids->len == 0 || g_strcmp0(ids->pdata[ids->len - 1], spec->in_reply_to) != 0))
    g_ptr_array_add(ids, (gpointer)spec->in_reply_to);
  if (ids->len == 0)
    return NULL;
  guint first = ids->len > REPLIES_MAX_REFERENCES ? ids->len - REPLIES_MAX_REFERENCES : 0;
  g_autoptr(GString) out = g_string_new(NULL);
  for (guint i = first; i < ids->len; i++)
    g_string_append_printf(out, "%s<%s>", out->len ? " " : "", (char *)ids->pdata[i]);
  return g_string_free(g_steal_pointer(&out), FALSE);
}

static gboolean replies_address_ok(const char *address, const char *what, GError **error)
{
  if (address && strchr(address, '@') && !strpbrk(address, " <>\"\r\n\t,;"))
    return TRUE;
  g_set_error(error, KEEL_REPLIES_ERROR, KEEL_REPLIES_ERROR_ADDRESS,
              "cannot write a reply: the %s address '%s' is not a plain address", what,
              address ? address : "");
  return FALSE;
}

/* The body as UTF-8 bytes, as is: g_mime_text_part_set_text() would convert
 * text that fits in ISO-8859-1 (a "£" with no "€") to it, under a charset
 * parameter that then says utf-8. */
static GMimeObject *replies_text_part(const char *body)
{
  GMimeTextPart *part = g_mime_text_part_new_with_subtype("plain");
  g_autofree char *valid = g_utf8_make_valid(body ? body : "", -1);
  g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_buffer(valid, strlen(valid));
  g_autoptr(GMimeDataWrapper) content =
    g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
  g_mime_part_set_content(GMIME_PART(part), content);
  g_mime_text_part_set_charset(part, "utf-8");
  g_mime_part_set_content_encoding(GMIME_PART(part), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  return GMIME_OBJECT(part);
}

/* Sets the headers of `message` from `spec`, every value cleaned. */
static void replies_set_headers(GMimeMessage *message, const ReplySpec *spec,
                                const char *message_id)
{
  g_autofree char *from_name = replies_clean_value(spec->from_name);
  g_autofree char *to_name = replies_clean_value(spec->to_name);
  g_autofree char *subject = replies_clean_value(spec->subject);
  g_autofree char *auto_submitted = replies_clean_value(spec->auto_submitted);
  g_mime_message_add_mailbox(message, GMIME_ADDRESS_TYPE_FROM, from_name, spec->from_address);
  g_mime_message_add_mailbox(message, GMIME_ADDRESS_TYPE_TO, to_name, spec->to_address);
  g_mime_message_set_subject(message, subject, "utf-8");
  g_mime_message_set_date(message, spec->date);
  g_mime_message_set_message_id(message, message_id);
  GMimeObject *object = GMIME_OBJECT(message);
  g_autofree char *references = replies_references(spec);
  if (replies_msgid_ok(spec->in_reply_to)) {
    g_autofree char *in_reply_to = g_strdup_printf("<%s>", spec->in_reply_to);
    g_mime_object_set_header(object, "In-Reply-To", in_reply_to, NULL);
  }
  if (references)
    g_mime_object_set_header(object, "References", references, NULL);
  g_mime_object_set_header(object, "MIME-Version", "1.0", NULL);
  if (auto_submitted[0])
    g_mime_object_set_header(object, "Auto-Submitted", auto_submitted, NULL);
}

GBytes *replies_build(const ReplySpec *spec, const char *message_id, GError **error)
{
  static GOnce once = G_ONCE_INIT;
  g_once(&once, replies_init_gmime, NULL);
  if (!replies_address_ok(spec->from_address, "From", error)
      || !replies_address_ok(spec->to_address, "To", error))
    return NULL;
  g_autoptr(GMimeMessage) message = g_mime_message_new(TRUE);
  replies_set_headers(message, spec, message_id);
  g_autoptr(GMimeObject) part = replies_text_part(spec->body);
  g_mime_message_set_mime_part(message, part);
  GMimeFormatOptions *options = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(options, GMIME_NEWLINE_FORMAT_DOS);
  g_autoptr(GMimeStream) stream = g_mime_stream_mem_new();
  g_mime_object_write_to_stream(GMIME_OBJECT(message), options, stream);
  g_mime_format_options_free(options);
  GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
  return g_bytes_new(bytes->data, bytes->len);
}
