/* filters/message.c: raw RFC 5322 bytes -> KeelMessage, with GMime 3.2.
 *
 * How it works: message_parse() hands the bytes to GMime's parser (lenient
 * options: RFC 2047 and address workarounds, 8-bit headers read as UTF-8,
 * else windows-1252) and fills a KeelMessage in steps:
 *   headers   every header, decoded to UTF-8, in message order;
 *   envelope  From/To/Cc as name + address (groups flattened), Subject, Date in
 *             UTC (missing or garbled: the time received, date_fallback),
 *             Message-ID (missing: "<sha256 of the raw bytes>@keel.invalid",
 *             message_id_derived), In-Reply-To, References, Return-Path;
 *   body      one walk over the MIME tree: inline text/plain parts become the
 *             body text (charset -> UTF-8, wrong charsets repaired), text/html
 *             is used (through html.c) only when there is no plain part, every
 *             other leaf is an attachment (name, type, decoded size), and
 *             report/delivery-status/calendar parts are noted for automated.c;
 *   split     quote.c splits the body text into new, quoted and signature;
 *   automated automated.c decides whether a machine sent it.
 * A message over the size limit is never parsed whole: only its header section
 * (found in the first KEEL_MESSAGE_HEAD_LIMIT bytes) goes to GMime. Before
 * GMime sees anything, mime-limits.c checks the caps on parts, nesting, header
 * fields and addresses; a message past one is parsed from its safe header
 * fields only and marked `malformed`.
 *
 * Entry points: message_parse(), message_parse_truncated(), message_free(),
 * message_header(), message_to_json(), subject_normalise().
 * Must never do I/O or read the clock: `received` is a parameter.
 */
#include "filters/message.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <libxml/parser.h>
#include "filters/automated.h"
#include "filters/cleanup.h"
#include "filters/html.h"
#include "filters/quote.h"
#include "filters/json-out.h"

#define MESSAGE_MAX_DEPTH 32 /* MIME nesting deeper than this is not walked */

G_DEFINE_QUARK(keel-message-error-quark, keel_message_error)

typedef struct {
  GString *plain; /* owned: the inline text/plain parts, joined */
  char *html;     /* owned: the first text/html part (UTF-8), used without plain */
  gboolean has_text;
  AutomatedParts automated_parts;
} MessageBody;

static gpointer message_init_libraries(gpointer unused)
{
  (void)unused;
  g_mime_init();
  xmlInitParser();
  return NULL;
}

/* GMime and libxml2 need a one-time initialisation; done on first use. */
static void message_init_once(void)
{
  static GOnce once = G_ONCE_INIT;
  g_once(&once, message_init_libraries, NULL);
}

static GMimeParserOptions *message_parser_options(void)
{
  static const char *fallback[] = { "UTF-8", "windows-1252", NULL };
  GMimeParserOptions *options = g_mime_parser_options_new();
  g_mime_parser_options_set_rfc2047_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_address_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_parameter_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_allow_addresses_without_domain(options, TRUE);
  g_mime_parser_options_set_fallback_charsets(options, fallback);
  return options;
}

/* Replaces, in place, the ASCII control characters other than TAB (and LF
 * when `text`) with spaces: they carry nothing a reader needs and some JSON
 * consumers reject them. In `text` mode a CR before a LF is dropped. */
static char *message_scrub_controls(char *value, gboolean text)
{
  char *out = value;
  for (const char *p = value; *p != '\0'; p++) {
    guchar c = (guchar)*p;
    if (text && c == '\r' && p[1] == '\n')
      continue;
    if ((c < 0x20 && c != '\t' && !(c == '\n' && text)) || c == 0x7f)
      c = ' ';
    *out++ = (char)c;
  }
  *out = '\0';
  return value;
}

/* A valid UTF-8 copy of a header value (NULL stays NULL): invalid bytes
 * become U+FFFD, control characters spaces. */
static char *message_utf8_dup(const char *text)
{
  if (text == NULL)
    return NULL;
  char *copy = g_utf8_validate(text, -1, NULL) ? g_strdup(text) : g_utf8_make_valid(text, -1);
  return message_scrub_controls(copy, FALSE);
}

/* TRUE for charsets that are 7-bit encodings (their bytes look like ASCII,
 * so "valid UTF-8" says nothing about them). */
static gboolean message_charset_is_7bit_encoding(const char *charset)
{
  g_autofree char *lower = g_ascii_strdown(charset, -1);
  return strstr(lower, "2022") != NULL || strstr(lower, "utf-7") != NULL ||
         strstr(lower, "utf7") != NULL || g_str_equal(lower, "hz-gb-2312");
}

/* Converts with iconv (GMime's cache of open converters, so no gconv module
 * is loaded per message); NULL when `charset` is unknown or the bytes do not
 * fit it. */
static char *message_convert(const guint8 *data, gsize len, const char *charset)
{
  iconv_t cd = g_mime_iconv_open("UTF-8", charset);
  if (cd == (iconv_t)-1)
    return NULL;
  gsize capacity = len * 2 + 16;
  char *out = g_malloc(capacity);
  char *in = (char *)data, *next = out;
  gsize in_left = len, out_left = capacity - 8;
  while (in_left > 0 && iconv(cd, &in, &in_left, &next, &out_left) == (size_t)-1) {
    if (errno != E2BIG) {
      g_clear_pointer(&out, g_free);
      break;
    }
    gsize used = next - out;
    capacity *= 2;
    out = g_realloc(out, capacity);
    next = out + used;
    out_left = capacity - used - 8;
  }
  if (out != NULL)
    iconv(cd, NULL, NULL, &next, &out_left);
  g_mime_iconv_close(cd);
  if (out == NULL)
    return NULL;
  *next = '\0';
  if (!g_utf8_validate(out, next - out, NULL))
    g_clear_pointer(&out, g_free);
  return out;
}

/* Decoded part bytes in `charset` (may be NULL) -> a new valid UTF-8 string.
 * Bytes that are valid UTF-8 are taken as UTF-8 whatever the label says (real
 * Latin-1 text almost never is); else the declared charset, then
 * windows-1252, then ISO-8859-1, which cannot fail. */
static char *message_text_to_utf8(const guint8 *data, gsize len, const char *charset)
{
  if (len == 0)
    return g_strdup("");
  gboolean seven_bit = charset != NULL && message_charset_is_7bit_encoding(charset);
  if (!seven_bit && g_utf8_validate((const char *)data, len, NULL))
    return g_strndup((const char *)data, len);
  char *out = charset != NULL ? message_convert(data, len, charset) : NULL;
  if (out == NULL)
    out = message_convert(data, len, "windows-1252");
  if (out == NULL)
    out = message_convert(data, len, "ISO-8859-1");
  if (out == NULL)
    out = g_utf8_make_valid((const char *)data, len);
  return out;
}

/* The transfer-decoded content of `part` (base64, quoted-printable...). */
static GByteArray *message_part_content(GMimePart *part)
{
  GMimeDataWrapper *content = g_mime_part_get_content(part);
  if (content == NULL)
    return g_byte_array_new();
  g_autoptr(GMimeStream) stream = g_mime_stream_mem_new();
  g_mime_data_wrapper_write_to_stream(content, stream);
  g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
  return g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
}

/* The text of a text part as UTF-8 (valid UTF-8 content is taken over
 * without a copy). */
static char *message_part_text(GMimePart *part)
{
  g_autoptr(GByteArray) bytes = message_part_content(part);
  const char *charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
  gboolean seven_bit = charset != NULL && message_charset_is_7bit_encoding(charset);
  if (bytes->len > 0 && !seven_bit && g_utf8_validate((const char *)bytes->data, bytes->len, NULL)) {
    g_byte_array_append(bytes, (const guint8 *)"", 1);
    return message_scrub_controls((char *)g_byte_array_free(g_steal_pointer(&bytes), FALSE), TRUE);
  }
  return message_scrub_controls(message_text_to_utf8(bytes->data, bytes->len, charset), TRUE);
}

/* The decoded size of a leaf, counted without keeping the bytes. */
static gsize message_decoded_size(GMimeObject *object)
{
  g_autoptr(GMimeStream) null = g_mime_stream_null_new();
  if (GMIME_IS_PART(object)) {
    GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(object));
    if (content != NULL)
      g_mime_data_wrapper_write_to_stream(content, null);
  } else {
    g_mime_object_write_to_stream(object, NULL, null);
  }
  return GMIME_STREAM_NULL(null)->written;
}

static void message_add_attachment(KeelMessage *message, GMimeObject *object)
{
  KeelAttachment *attachment = g_new0(KeelAttachment, 1);
  GMimeContentType *type = g_mime_object_get_content_type(object);
  g_autofree char *mime_type = type != NULL ? g_mime_content_type_get_mime_type(type) : NULL;
  attachment->content_type = message_utf8_dup(mime_type != NULL ? mime_type : "application/octet-stream");
  const char *filename = GMIME_IS_PART(object) ? g_mime_part_get_filename(GMIME_PART(object))
                                               : g_mime_object_get_content_disposition_parameter(object, "filename");
  attachment->filename = message_utf8_dup(filename);
  attachment->size = message_decoded_size(object);
  g_ptr_array_add(message->attachments, attachment);
}

static AutomatedParts message_automated_part(GMimeContentType *type)
{
  if (type == NULL)
    return 0;
  if (g_mime_content_type_is_type(type, "multipart", "report"))
    return AUTOMATED_PART_REPORT;
  if (g_mime_content_type_is_type(type, "message", "delivery-status") ||
      g_mime_content_type_is_type(type, "message", "disposition-notification"))
    return AUTOMATED_PART_DELIVERY_STATUS;
  if (g_mime_content_type_is_type(type, "text", "calendar") ||
      g_mime_content_type_is_type(type, "application", "ics"))
    return AUTOMATED_PART_CALENDAR;
  return 0;
}

/* TRUE when the content-type parameter `name` is `value` (any case). */
static gboolean message_type_param_is(GMimeContentType *type, const char *name, const char *value)
{
  const char *param = g_mime_content_type_get_parameter(type, name);
  return param != NULL && g_ascii_strcasecmp(param, value) == 0;
}

/* The text of a text/plain part; a format=flowed one (RFC 3676: Thunderbird,
 * Apple Mail, ...) with its soft line breaks undone, so that a sentence is
 * one line for the rules and the quote splitter. */
static char *message_plain_text(GMimePart *part, GMimeContentType *type)
{
  char *text = message_part_text(part);
  if (!message_type_param_is(type, "format", "flowed"))
    return text;
  g_autofree char *fixed = text;
  return quote_unflow(fixed, message_type_param_is(type, "delsp", "yes"));
}

/* A leaf part: body text, HTML kept for later, or an attachment. */
static void message_walk_part(KeelMessage *message, MessageBody *body, GMimePart *part)
{
  GMimeContentType *type = g_mime_object_get_content_type(GMIME_OBJECT(part));
  gboolean inline_text = type != NULL && !g_mime_part_is_attachment(part);
  if (inline_text && g_mime_content_type_is_type(type, "text", "plain")) {
    g_autofree char *text = message_plain_text(part, type);
    if (body->plain->len > 0)
      g_string_append(body->plain, "\n\n");
    g_string_append(body->plain, text);
    body->has_text = TRUE;
  } else if (inline_text && g_mime_content_type_is_type(type, "text", "html")) {
    if (body->html == NULL)
      body->html = message_part_text(part);
    body->has_text = TRUE;
  } else {
    message_add_attachment(message, GMIME_OBJECT(part));
  }
}

/* A multipart whose boundary never occurs: GMime keeps everything in the
 * prologue. Its text is still the best guess at what the sender wrote, but
 * it is no text part (has_text stays FALSE). */
static void message_walk_broken_multipart(MessageBody *body, GMimeMultipart *multipart)
{
  const char *prologue = g_mime_multipart_get_prologue(multipart);
  if (prologue == NULL || prologue[0] == '\0')
    return;
  g_autofree char *text = message_text_to_utf8((const guint8 *)prologue, strlen(prologue), NULL);
  if (body->plain->len > 0)
    g_string_append(body->plain, "\n\n");
  g_string_append(body->plain, message_scrub_controls(text, TRUE));
}

/* Walks the MIME tree under `object` (depth-limited). Attached messages
 * (message/rfc822) are listed as attachments, not read as body text. */
static void message_walk(KeelMessage *message, MessageBody *body, GMimeObject *object,
                         guint depth)
{
  if (object == NULL || depth > MESSAGE_MAX_DEPTH)
    return;
  body->automated_parts |= message_automated_part(g_mime_object_get_content_type(object));
  if (GMIME_IS_MULTIPART(object)) {
    GMimeMultipart *multipart = GMIME_MULTIPART(object);
    int count = g_mime_multipart_get_count(multipart);
    for (int i = 0; i < count; i++)
      message_walk(message, body, g_mime_multipart_get_part(multipart, i), depth + 1);
    if (count == 0)
      message_walk_broken_multipart(body, multipart);
  } else if (GMIME_IS_PART(object)) {
    message_walk_part(message, body, GMIME_PART(object));
  } else if (object != NULL) {
    message_add_attachment(message, object);
  }
}

/* Fills body_text, new/quoted/signature, has_text and from_html. Returns what
 * the walk saw for automated.c. For a body read from HTML, `*html_trace` gets
 * the trace of a web application in it (same parse); when there is a plain
 * part too, `*html` gets the first HTML part (owned), for a trace looked for
 * only if nothing cheaper marks the message automated. */
static AutomatedParts message_read_body(KeelMessage *message, GMimeMessage *mime,
                                        char **html, char **html_trace)
{
  MessageBody body = { .plain = g_string_new(NULL) };
  message_walk(message, &body, g_mime_message_get_mime_part(mime), 0);
  *html = NULL;
  *html_trace = NULL;
  if (body.plain->len > 0 && body.html != NULL) {
    *html = g_steal_pointer(&body.html);
  } else if (body.html != NULL) {
    gsize html_len = strlen(body.html);
    g_autofree char *text = html_to_text_traced(body.html, mime_limits_text_cut(
      body.html, html_len, KEEL_LIMITS_TEXT, TRUE), html_trace);
    g_string_assign(body.plain, text);
    message->from_html = TRUE;
  }
  g_string_truncate(body.plain, mime_limits_text_cut(body.plain->str, body.plain->len,
                                                     KEEL_LIMITS_TEXT, FALSE));
  g_free(body.html);
  message->body_text = g_string_free(body.plain, FALSE);
  message->has_text = body.has_text;
  quote_split(message->body_text, message->from != NULL ? message->from->name : NULL,
              &message->new_text, &message->quoted_text, &message->signature);
  return body.automated_parts;
}

static void message_address_free(KeelAddress *address)
{
  if (address == NULL)
    return;
  g_free(address->name);
  g_free(address->address);
  g_free(address);
}

static void message_attachment_free(KeelAttachment *attachment)
{
  g_free(attachment->filename);
  g_free(attachment->content_type);
  g_free(attachment);
}

static void message_header_free(KeelHeader *header)
{
  g_free(header->name);
  g_free(header->value);
  g_free(header);
}

/* Appends every mailbox of `list` to `out` as KeelAddress, groups flattened. */
static void message_add_addresses(GPtrArray *out, InternetAddressList *list, guint depth)
{
  int count = list != NULL ? internet_address_list_length(list) : 0;
  for (int i = 0; i < count && depth < 4; i++) {
    InternetAddress *address = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(address)) {
      InternetAddressList *members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(address));
      message_add_addresses(out, members, depth + 1);
      continue;
    }
    const char *name = internet_address_get_name(address);
    const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address));
    KeelAddress *entry = g_new0(KeelAddress, 1);
    entry->name = message_utf8_dup(name != NULL ? name : "");
    entry->address = message_utf8_dup(addr != NULL ? addr : "");
    g_ptr_array_add(out, entry);
  }
}

/* TRUE when `raw` needs GMime's decoder: encoded words or 8-bit bytes. */
static gboolean message_header_needs_decoding(const char *raw)
{
  for (const char *p = raw; *p != '\0'; p++)
    if ((guchar)*p >= 0x80 || (p[0] == '=' && p[1] == '?'))
      return TRUE;
  return FALSE;
}

/* A header's value decoded and unfolded. Plain ASCII values (most of them:
 * Received, DKIM...) are only unfolded, which is all decoding would do. */
static char *message_header_value(GMimeHeader *header)
{
  const char *raw = g_mime_header_get_raw_value(header);
  if (raw == NULL || message_header_needs_decoding(raw)) {
    const char *value = g_mime_header_get_value(header);
    return g_strstrip(message_utf8_dup(value != NULL ? value : ""));
  }
  char *value = g_strdup(raw);
  char *out = value;
  for (const char *p = raw; *p != '\0'; p++)
    if (*p != '\r' && *p != '\n')
      *out++ = *p;
  *out = '\0';
  return g_strstrip(message_scrub_controls(value, FALSE));
}

static void message_read_headers(KeelMessage *message, GMimeMessage *mime)
{
  GMimeHeaderList *list = g_mime_object_get_header_list(GMIME_OBJECT(mime));
  int count = g_mime_header_list_get_count(list);
  for (int i = 0; i < count; i++) {
    GMimeHeader *header = g_mime_header_list_get_header_at(list, i);
    KeelHeader *entry = g_new0(KeelHeader, 1);
    entry->name = message_utf8_dup(g_mime_header_get_name(header));
    entry->value = message_header_value(header);
    g_ptr_array_add(message->headers, entry);
  }
}

static void message_read_addresses(KeelMessage *message, GMimeMessage *mime)
{
  g_autoptr(GPtrArray) from = g_ptr_array_new_with_free_func((GDestroyNotify)message_address_free);
  message_add_addresses(from, g_mime_message_get_from(mime), 0);
  if (from->len > 0)
    message->from = g_ptr_array_steal_index(from, 0);
  message_add_addresses(message->to, g_mime_message_get_to(mime), 0);
  message_add_addresses(message->cc, g_mime_message_get_cc(mime), 0);
}

/* The Date header in UTC, or `received` (date_fallback) when it is missing or
 * not a plausible date. */
static void message_read_date(KeelMessage *message, GMimeMessage *mime, GDateTime *received)
{
  GDateTime *date = g_mime_message_get_date(mime);
  if (date != NULL && g_date_time_get_year(date) >= 1970 && g_date_time_get_year(date) <= 9999) {
    message->date = g_date_time_to_utc(date);
    if (message->date != NULL)
      return;
  }
  message->date_fallback = TRUE;
  message->date = received != NULL ? g_date_time_to_utc(received)
                                   : g_date_time_new_from_unix_utc(0);
}

/* Message-ID, or "<sha256 of the raw bytes>@keel.invalid" when missing. */
static void message_read_message_id(KeelMessage *message, GMimeMessage *mime,
                                    const guint8 *data, gsize len)
{
  const char *id = g_mime_message_get_message_id(mime);
  if (id != NULL && id[0] != '\0') {
    message->message_id = message_utf8_dup(id);
    return;
  }
  g_autofree char *hash = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
  message->message_id = g_strconcat(hash, "@keel.invalid", NULL);
  message->message_id_derived = TRUE;
}

static void message_read_threading(KeelMessage *message, GMimeParserOptions *options)
{
  const char *in_reply_to = message_header(message, "In-Reply-To");
  if (in_reply_to != NULL) {
    GMimeReferences *refs = g_mime_references_parse(options, in_reply_to);
    if (refs != NULL && g_mime_references_length(refs) > 0)
      message->in_reply_to = message_utf8_dup(g_mime_references_get_message_id(refs, 0));
    if (refs != NULL)
      g_mime_references_free(refs);
  }
  const char *references = message_header(message, "References");
  if (references != NULL) {
    GMimeReferences *refs = g_mime_references_parse(options, references);
    int count = refs != NULL ? g_mime_references_length(refs) : 0;
    for (int i = 0; i < count; i++)
      g_ptr_array_add(message->references,
                      message_utf8_dup(g_mime_references_get_message_id(refs, i)));
    if (refs != NULL)
      g_mime_references_free(refs);
  }
}

/* Return-Path without <>: NULL when absent, "" for the null path "<>". */
static void message_read_return_path(KeelMessage *message)
{
  const char *value = message_header(message, "Return-Path");
  if (value == NULL)
    return;
  g_autofree char *path = g_strdup(value);
  g_strstrip(path);
  if (path[0] == '<') {
    char *close = strchr(path, '>');
    if (close != NULL)
      *close = '\0';
    memmove(path, path + 1, strlen(path));
    g_strstrip(path);
  }
  message->return_path = g_steal_pointer(&path);
}

static KeelMessage *message_new(gsize size)
{
  KeelMessage *message = g_new0(KeelMessage, 1);
  message->to = g_ptr_array_new_with_free_func((GDestroyNotify)message_address_free);
  message->cc = g_ptr_array_new_with_free_func((GDestroyNotify)message_address_free);
  message->references = g_ptr_array_new_with_free_func(g_free);
  message->attachments = g_ptr_array_new_with_free_func((GDestroyNotify)message_attachment_free);
  message->headers = g_ptr_array_new_with_free_func((GDestroyNotify)message_header_free);
  message->size = size;
  return message;
}

/* GMime's view of `len` bytes; NULL with `error` set when it is not a message. */
static GMimeMessage *message_mime_parse(const guint8 *data, gsize len,
                                        GMimeParserOptions *options, GError **error)
{
  gsize k = 0;
  while (k < len && g_ascii_isspace(data[k]))
    k++;
  if (k == len) {
    g_set_error(error, KEEL_MESSAGE_ERROR, KEEL_MESSAGE_ERROR_EMPTY, "the message is empty");
    return NULL;
  }
  g_autoptr(GMimeStream) stream = g_mime_stream_mem_new_with_buffer((const char *)data, len);
  g_autoptr(GMimeParser) parser = g_mime_parser_new_with_stream(stream);
  GMimeMessage *mime = g_mime_parser_construct_message(parser, options);
  if (mime == NULL || g_mime_header_list_get_count(g_mime_object_get_header_list(GMIME_OBJECT(mime))) == 0) {
    g_clear_object(&mime);
    g_set_error(error, KEEL_MESSAGE_ERROR, KEEL_MESSAGE_ERROR_MALFORMED,
                "no RFC 5322 header section found (is this an e-mail message?)");
  }
  return mime;
}

/* The length of the header section of `data` (up to and including the empty
 * line), looked for in the first KEEL_MESSAGE_HEAD_LIMIT bytes. */
static gsize message_header_section_length(const guint8 *data, gsize len)
{
  gsize limit = MIN(len, (gsize)KEEL_MESSAGE_HEAD_LIMIT);
  for (gsize i = 0; i + 1 < limit; i++) {
    if (data[i] != '\n')
      continue;
    if (data[i + 1] == '\n')
      return i + 2;
    if (data[i + 1] == '\r' && i + 2 < limit && data[i + 2] == '\n')
      return i + 3;
  }
  return limit;
}

/* The common path: `parse_len` bytes of `data` go to GMime; the body is read
 * unless `headers_only`. */
static KeelMessage *message_build(const guint8 *data, gsize parse_len, gsize size,
                                  GDateTime *received, gboolean headers_only, GError **error)
{
  message_init_once();
  g_autoptr(GMimeParserOptions) options = message_parser_options();
  g_autoptr(GMimeMessage) mime = message_mime_parse(data, parse_len, options, error);
  if (mime == NULL)
    return NULL;
  g_autoptr(KeelMessage) message = message_new(size);
  message->too_large = headers_only;
  message_read_headers(message, mime);
  message_read_addresses(message, mime);
  message_read_date(message, mime, received);
  message_read_message_id(message, mime, data, parse_len);
  message_read_threading(message, options);
  message_read_return_path(message);
  message->subject = message_utf8_dup(g_mime_message_get_subject(mime));
  if (message->subject == NULL)
    message->subject = g_strdup("");
  AutomatedParts parts = 0;
  g_autofree char *html = NULL;
  g_autofree char *html_trace = NULL;
  if (!headers_only) {
    parts = message_read_body(message, mime, &html, &html_trace);
  } else {
    message->body_text = g_strdup("");
    message->new_text = g_strdup("");
    message->quoted_text = g_strdup("");
    message->signature = g_strdup("");
  }
  message->automated_reason = automated_reason(message, parts, html_trace);
  if (message->automated_reason == NULL && html != NULL)
    message->automated_reason = html_template_trace(
      html, mime_limits_text_cut(html, strlen(html), KEEL_LIMITS_TEXT, TRUE));
  message->automated = message->automated_reason != NULL;
  return g_steal_pointer(&message);
}

/* A message past a cap (`reason`, taken): parsed from its safe header fields
 * only (filters/mime-limits.c), marked malformed and automated (never answered);
 * its raw bytes are kept unless it is also over the size limit. */
static KeelMessage *message_build_malformed(const guint8 *data, gsize len, gsize parse_len,
                                            GDateTime *received, const MessageLimits *limits,
                                            char *reason, GError **error)
{
  gsize head_len = 0;
  g_autofree guint8 *head = mime_limits_safe_head(data, parse_len, limits, &head_len);
  KeelMessage *message = message_build(head, head_len, len, received, TRUE, error);
  if (message == NULL) {
    g_free(reason);
    return NULL;
  }
  message->too_large = FALSE;
  message->malformed = reason;
  message->automated = TRUE;
  g_free(message->automated_reason);
  message->automated_reason = g_strconcat("malformed: ", reason, NULL);
  if (message->message_id_derived) {
    g_autofree char *hash = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
    g_free(message->message_id);
    message->message_id = g_strconcat(hash, "@keel.invalid", NULL);
  }
  return message;
}

KeelMessage *message_parse_limited(const guint8 *data, gsize len, GDateTime *received,
                                   gsize max_size, const MessageLimits *limits, GError **error)
{
  g_return_val_if_fail(data != NULL || len == 0, NULL);
  if (max_size == 0)
    max_size = KEEL_MESSAGE_DEFAULT_MAX_SIZE;
  gboolean too_large = len > max_size;
  gsize parse_len = too_large ? message_header_section_length(data, len) : len;
  char *reason = mime_limits_check(data, parse_len, limits);
  if (reason == NULL)
    return message_build(data, parse_len, len, received, too_large, error);
  KeelMessage *message = message_build_malformed(data, len, parse_len, received, limits, reason,
                                                 error);
  if (message != NULL)
    message->too_large = too_large;
  return message;
}

KeelMessage *message_parse(const guint8 *data, gsize len, GDateTime *received,
                           gsize max_size, GError **error)
{
  return message_parse_limited(data, len, received, max_size, NULL, error);
}

KeelMessage *message_parse_truncated(const guint8 *head, gsize head_len, gsize total_size,
                                     GDateTime *received, GError **error)
{
  g_return_val_if_fail(head != NULL || head_len == 0, NULL);
  gsize parse_len = message_header_section_length(head, head_len);
  char *reason = mime_limits_check(head, parse_len, NULL);
  if (reason == NULL)
    return message_build(head, parse_len, MAX(total_size, head_len), received, TRUE, error);
  KeelMessage *message = message_build_malformed(head, head_len, parse_len, received, NULL,
                                                 reason, error);
  if (message != NULL) {
    message->too_large = TRUE;
    message->size = MAX(total_size, head_len);
  }
  return message;
}

void message_free(KeelMessage *message)
{
  if (message == NULL)
    return;
  g_free(message->message_id);
  message_address_free(message->from);
  g_ptr_array_unref(message->to);
  g_ptr_array_unref(message->cc);
  g_clear_pointer(&message->date, g_date_time_unref);
  g_free(message->subject);
  g_free(message->in_reply_to);
  g_ptr_array_unref(message->references);
  g_free(message->return_path);
  g_free(message->body_text);
  g_free(message->new_text);
  g_free(message->quoted_text);
  g_free(message->signature);
  g_ptr_array_unref(message->attachments);
  g_free(message->automated_reason);
  g_ptr_array_unref(message->headers);
  g_free(message->malformed);
  g_free(message);
}

const char *message_header(const KeelMessage *message, const char *name)
{
  for (guint i = 0; i < message->headers->len; i++) {
    const KeelHeader *header = g_ptr_array_index(message->headers, i);
    if (g_ascii_strcasecmp(header->name, name) == 0)
      return header->value;
  }
  return NULL;
}

const char *message_place_text(const KeelMessage *message, const char *where)
{
  if (strcmp(where, "subject") == 0)
    return message->subject;
  if (strcmp(where, "text") == 0)
    return message->new_text ? message->new_text : message->body_text;
  if (strcmp(where, "quoted") == 0)
    return message->quoted_text;
  if (strcmp(where, "body") == 0)
    return message->body_text;
  if (g_str_has_prefix(where, "header:"))
    return message_header(message, where + 7);
  return NULL;
}

static void message_json_address(JsonBuilder *builder, const KeelAddress *address)
{
  json_builder_begin_object(builder);
  json_out_string(builder, "name", address->name);
  json_out_string(builder, "address", address->address);
  json_builder_end_object(builder);
}

static void message_json_addresses(JsonBuilder *builder, const char *member, const GPtrArray *list)
{
  json_builder_set_member_name(builder, member);
  json_builder_begin_array(builder);
  for (guint i = 0; i < list->len; i++)
    message_json_address(builder, g_ptr_array_index(list, i));
  json_builder_end_array(builder);
}

static void message_json_string(JsonBuilder *builder, const char *member, const char *value)
{
  json_builder_set_member_name(builder, member);
  if (value != NULL)
    json_builder_add_string_value(builder, value);
  else
    json_builder_add_null_value(builder);
}

static void message_json_bool(JsonBuilder *builder, const char *member, gboolean value)
{
  json_out_bool(builder, member, value);
}

static void message_json_attachments(JsonBuilder *builder, const GPtrArray *attachments)
{
  json_builder_set_member_name(builder, "attachments");
  json_builder_begin_array(builder);
  for (guint i = 0; i < attachments->len; i++) {
    const KeelAttachment *attachment = g_ptr_array_index(attachments, i);
    json_builder_begin_object(builder);
    message_json_string(builder, "filename", attachment->filename);
    message_json_string(builder, "content_type", attachment->content_type);
    json_out_int(builder, "size", (gint64)attachment->size);
    json_builder_end_object(builder);
  }
  json_builder_end_array(builder);
}

static void message_json_envelope(const KeelMessage *message, JsonBuilder *builder)
{
  message_json_string(builder, "message_id", message->message_id);
  message_json_bool(builder, "message_id_derived", message->message_id_derived);
  json_builder_set_member_name(builder, "from");
  if (message->from != NULL)
    message_json_address(builder, message->from);
  else
    json_builder_add_null_value(builder);
  message_json_addresses(builder, "to", message->to);
  message_json_addresses(builder, "cc", message->cc);
  g_autofree char *date = g_date_time_format(message->date, "%Y-%m-%dT%H:%M:%SZ");
  message_json_string(builder, "date", date);
  message_json_bool(builder, "date_fallback", message->date_fallback);
  message_json_string(builder, "subject", message->subject);
  message_json_string(builder, "in_reply_to", message->in_reply_to);
  json_builder_set_member_name(builder, "references");
  json_builder_begin_array(builder);
  for (guint i = 0; i < message->references->len; i++)
    json_builder_add_string_value(builder, g_ptr_array_index(message->references, i));
  json_builder_end_array(builder);
}

void message_to_json(const KeelMessage *message, JsonBuilder *builder)
{
  message_json_envelope(message, builder);
  message_json_string(builder, "new_text", message->new_text);
  message_json_string(builder, "quoted_text", message->quoted_text);
  message_json_string(builder, "signature", message->signature);
  message_json_attachments(builder, message->attachments);
  message_json_bool(builder, "automated", message->automated);
  message_json_string(builder, "automated_reason", message->automated_reason);
  message_json_bool(builder, "too_large", message->too_large);
  json_out_int(builder, "size", (gint64)message->size);
  message_json_bool(builder, "has_text", message->has_text);
  message_json_bool(builder, "from_html", message->from_html);
  if (message->malformed != NULL) /* only then: the golden files stay as they were */
    message_json_string(builder, "malformed", message->malformed);
}

static gpointer message_compile_subject_prefix(gpointer unused)
{
  (void)unused;
  static const char pattern[] =
    "^(?:\\s*(?:(?:re|fwd?|aw|wg|sv|vs|antw|antwort|tr|rif|r)\\s*(?:\\[\\d+\\]|\\(\\d+\\))?"
    "\\s*:|\\[[^\\]]*\\]))+";
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                 PCRE2_CASELESS | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code,
                                 &offset, NULL);
  g_assert(re != NULL);
  pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
  return re;
}

/* Collapses runs of white space into one space and trims, in place. */
static void message_collapse_space(char *text)
{
  char *out = text;
  gboolean space = FALSE;
  for (const char *p = text; *p != '\0'; p++) {
    if (g_ascii_isspace(*p)) {
      space = out != text;
      continue;
    }
    if (space)
      *out++ = ' ';
    space = FALSE;
    *out++ = *p;
  }
  *out = '\0';
}

char *subject_normalise(const char *subject)
{
  static GOnce once = G_ONCE_INIT;
  const pcre2_code *re = g_once(&once, message_compile_subject_prefix, NULL);
  g_autofree char *text = message_utf8_dup(subject != NULL ? subject : "");
  g_autoptr(pcre2_match_data) match = pcre2_match_data_create_from_pattern(re, NULL);
  g_autoptr(pcre2_match_context) context = pcre2_match_context_create(NULL);
  pcre2_set_match_limit(context, 100000);
  pcre2_set_depth_limit(context, 1000);
  gsize skip = 0;
  if (pcre2_match(re, (PCRE2_SPTR)text, strlen(text), 0, 0, match, context) > 0)
    skip = pcre2_get_ovector_pointer(match)[1];
  message_collapse_space(text + skip);
  return g_utf8_casefold(text + skip, -1);
}
