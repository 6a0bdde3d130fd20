/* daemon/outbox/replies.c: writing the confirmations keel sends, with GMime.
 * The text itself (cleaning values, subjects, dates, templates, numbered
 * instructions, first names, the voice's template variables) is pure and
 * lives in filters/replies.c; this file adds what needs the config, files or
 * randomness: the voice of an account to a client, the signature file, fresh
 * Message-IDs and the MIME message.
 *
 * A reply is built from a ReplySpec: every value that came from a mail or
 * the config is cleaned (replies_clean_value: no CR, LF or other control
 * character survives, so no header can be injected), then GMime writes the
 * headers (encoding non-ASCII as RFC 2047) and a UTF-8 text/plain part in
 * quoted-printable, then the message is serialised with CRLF line ends, ready
 * for SMTP or IMAP APPEND. Message-IDs taken from mail for
 * In-Reply-To/References are kept only when they are plain msg-id characters.
 *
 * The voice (replies_voice_new): the first name comes from the From display
 * name when that is a person's name (filters/replies.c), else from the
 * client's `contact`, else the greeting is a neutral "Hello,". It is signed
 * by the VA ([account] name, business or signature_file) and comes From her
 * name and address.
 *
 * Must not: send or store anything; read the clock (dates are parameters).
 */
#include <string.h>
#include <gmime/gmime.h>
#include "daemon/outbox/replies.h"
#include "filters/cleanup.h"

#define REPLIES_MAX_REFERENCES 20

static gpointer replies_init_gmime(gpointer unused)
{
  (void)unused;
  g_mime_init();
  return NULL;
}

char *replies_first_name(const char *display_name, const KeelClient *client)
{
  return replies_first_name_of(display_name, client ? client->id : NULL,
                               client ? client->name : NULL);
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
