/* filters/mime-limits.c: caps on the structure of one message, checked on its raw
 * bytes before GMime builds a tree of it (issue 12: a 24 MB message of empty
 * MIME parts took 4.8 GB in GMime; one of To addresses or tiny header fields
 * 2.5 GB).
 *
 * How it works: one pass over the bytes, line by line, with a stack of the
 * multipart boundaries in force (as GMime's parser keeps one). A header
 * section is read field by field (a line that starts with a space or a tab
 * continues the field): fields are counted (per section and in all), address
 * fields (From, To, Cc, Bcc, Reply-To, Sender, Resent-*) have their addresses
 * counted (commas outside quotes, comments and <>), References and
 * In-Reply-To their Message-IDs (the '<'), and Content-Type says whether a
 * multipart (its boundary is pushed) or an attached message (its header
 * section follows) begins. In a body, a line "--BOUNDARY" of a boundary on
 * the stack opens the next part (counted) and "--BOUNDARY--" closes its
 * multipart, innermost boundary first, as GMime matches them. The first cap
 * passed stops the scan and is the reason.
 *
 * The scan allocates the boundary stack once and nothing per line, part or
 * field; it is linear in the size of the message (a "--" line is compared
 * with at most max_depth boundaries).
 *
 * A message within the caps may still hold 25 MB of text: mime_limits_text_cut()
 * says where message.c stops reading it (KEEL_LIMITS_TEXT), so that quote
 * splitting, the rules, instruction extraction and the search index work on
 * a bounded text (a 24 MB text took 550 MB and 110 s in `keel score`).
 *
 * Entry points: mime_limits_check(), mime_limits_safe_head(), mime_limits_text_cut().
 * Must never: do I/O, read the clock, or copy a message's body; it only
 * counts, so it may over-count (a header-like line after a boundary), never
 * let a structure past a cap.
 */
#include "filters/mime-limits.h"

#include <string.h>

#define LIMITS_FIELD_MAX (64u * 1024u)  /* longer fields are left out of a safe head */
#define LIMITS_HEAD_MAX (256u * 1024u)  /* a safe head is at most this long */
#define LIMITS_BOUNDARY_MAX 998u        /* RFC 5322 line length; longer is no boundary */
#define LIMITS_TOTAL_HEADERS 10u        /* x max_headers over the whole message */
#define LIMITS_SECTION_ADDRESSES 4u     /* x max_addresses in one header section */

typedef enum { LIMITS_LEAF, LIMITS_MULTIPART, LIMITS_MESSAGE } LimitsKind;
typedef enum { LIMITS_NOT_LISTED, LIMITS_ADDRESSES, LIMITS_IDS } LimitsList;

typedef struct {
  const guint8 *text; /* borrowed from the message; NULL for an attached message */
  gsize len;
} LimitsBoundary;

typedef struct {
  const guint8 *data;     /* borrowed */
  gsize len, pos;
  MessageLimits caps;     /* defaults filled in */
  LimitsBoundary *stack;  /* owned, caps.max_depth entries */
  guint depth, parts;
  guint64 fields_total;
  char *reason;           /* owned: the first cap passed, NULL while none */
} LimitsScan;

static void mime_limits_defaults(MessageLimits *caps, const MessageLimits *given)
{
  *caps = given ? *given : (MessageLimits){ 0 };
  if (caps->max_parts == 0)
    caps->max_parts = KEEL_LIMITS_DEFAULT_PARTS;
  if (caps->max_depth == 0)
    caps->max_depth = KEEL_LIMITS_DEFAULT_DEPTH;
  if (caps->max_headers == 0)
    caps->max_headers = KEEL_LIMITS_DEFAULT_HEADERS;
  if (caps->max_addresses == 0)
    caps->max_addresses = KEEL_LIMITS_DEFAULT_ADDRESSES;
}

/* Where the line that starts at `pos` ends (after its '\n', or at the end). */
static gsize mime_limits_line_end(const guint8 *data, gsize len, gsize pos)
{
  const guint8 *newline = memchr(data + pos, '\n', len - pos);
  return newline ? (gsize)(newline - data) + 1 : len;
}

/* Where the header field that starts at `pos` ends (continuation lines included). */
static gsize mime_limits_field_end(const guint8 *data, gsize len, gsize pos)
{
  gsize end = mime_limits_line_end(data, len, pos);
  while (end < len && (data[end] == ' ' || data[end] == '\t'))
    end = mime_limits_line_end(data, len, end);
  return end;
}

static gboolean mime_limits_blank_line(const guint8 *p, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (p[i] != '\r' && p[i] != '\n')
      return FALSE;
  return TRUE;
}

/* The length of `field`'s name when it is `name` (any case) followed by
 * optional blanks and ':', else 0. */
static gsize mime_limits_field_is(const guint8 *field, gsize n, const char *name)
{
  gsize k = strlen(name);
  if (n <= k || g_ascii_strncasecmp((const char *)field, name, k) != 0)
    return 0;
  while (k < n && (field[k] == ' ' || field[k] == '\t'))
    k++;
  return k < n && field[k] == ':' ? k + 1 : 0;
}

/* What kind of list the field holds; `*value` is set after its ':'. */
static LimitsList mime_limits_field_list(const guint8 *field, gsize n, gsize *value)
{
  static const char *const addresses[] = { "from", "to", "cc", "bcc", "reply-to", "sender",
                                           "resent-from", "resent-to", "resent-cc", "resent-bcc",
                                           "resent-sender", "resent-reply-to", NULL };
  for (guint i = 0; addresses[i]; i++)
    if ((*value = mime_limits_field_is(field, n, addresses[i])) > 0)
      return LIMITS_ADDRESSES;
  if ((*value = mime_limits_field_is(field, n, "references")) > 0
      || (*value = mime_limits_field_is(field, n, "in-reply-to")) > 0)
    return LIMITS_IDS;
  return LIMITS_NOT_LISTED;
}

/* How many addresses (commas outside quotes, comments and <>, plus one) or
 * Message-IDs ('<') `value` holds; counting stops past `cap`. */
static guint mime_limits_count_list(const guint8 *value, gsize n, LimitsList list, guint cap)
{
  guint count = list == LIMITS_ADDRESSES ? 1 : 0;
  gboolean quoted = FALSE;
  int comment = 0, angle = 0;
  for (gsize i = 0; i < n && count <= cap; i++) {
    guint8 c = value[i];
    if (list == LIMITS_IDS) {
      count += c == '<';
    } else if (c == '\\') {
      i++;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted) {
      comment += (c == '(') - (c == ')' && comment > 0);
      angle += (c == '<') - (c == '>' && angle > 0);
      count += c == ',' && comment == 0 && angle == 0;
    }
  }
  return count;
}

/* The boundary parameter of a multipart Content-Type value; FALSE without one. */
static gboolean mime_limits_boundary_param(const guint8 *v, gsize n, LimitsBoundary *boundary)
{
  for (gsize i = 0; i + 8 < n; i++) {
    if (g_ascii_strncasecmp((const char *)v + i, "boundary", 8) != 0
        || (i > 0 && !g_ascii_isspace(v[i - 1]) && v[i - 1] != ';'))
      continue;
    gsize j = i + 8;
    while (j < n && g_ascii_isspace(v[j]))
      j++;
    if (j >= n || v[j] != '=')
      continue;
    for (j++; j < n && g_ascii_isspace(v[j]); j++)
      ;
    gboolean quoted = j < n && v[j] == '"';
    gsize start = j + quoted, end = start;
    while (end < n && (quoted ? v[end] != '"' : (v[end] != ';' && !g_ascii_isspace(v[end]))))
      end++;
    boundary->text = v + start;
    boundary->len = end - start;
    return boundary->len > 0 && boundary->len <= LIMITS_BOUNDARY_MAX;
  }
  return FALSE;
}

/* What a Content-Type value (after the ':') begins: a multipart with a
 * boundary, an attached message, or a leaf. */
static LimitsKind mime_limits_content_kind(const guint8 *v, gsize n, LimitsBoundary *boundary)
{
  while (n > 0 && g_ascii_isspace(*v))
    v++, n--;
  if (n > 10 && g_ascii_strncasecmp((const char *)v, "multipart/", 10) == 0)
    return mime_limits_boundary_param(v, n, boundary) ? LIMITS_MULTIPART : LIMITS_LEAF;
  static const char *const messages[] = { "message/rfc822", "message/global", "message/news" };
  for (guint i = 0; i < G_N_ELEMENTS(messages); i++)
    if (n >= strlen(messages[i])
        && g_ascii_strncasecmp((const char *)v, messages[i], strlen(messages[i])) == 0)
      return LIMITS_MESSAGE;
  return LIMITS_LEAF;
}

static void mime_limits_fail(LimitsScan *scan, char *reason)
{
  if (!scan->reason)
    scan->reason = reason;
  else
    g_free(reason);
}

/* The innermost boundary on the stack that the line [start, end) opens a part
 * of (or closes, `*closing`), or -1. */
static int mime_limits_boundary_match(const LimitsScan *scan, gsize start, gsize end,
                                 gboolean *closing)
{
  const guint8 *line = scan->data + start;
  gsize n = end - start;
  if (n < 3 || line[0] != '-' || line[1] != '-')
    return -1;
  while (n > 2 && g_ascii_isspace(line[n - 1]))
    n--;
  for (int i = (int)scan->depth - 1; i >= 0; i--) {
    const LimitsBoundary *b = &scan->stack[i];
    if (!b->text || n < b->len + 2 || memcmp(line + 2, b->text, b->len) != 0)
      continue;
    *closing = n >= b->len + 4 && line[b->len + 2] == '-' && line[b->len + 3] == '-';
    if (*closing || n == b->len + 2)
      return i;
  }
  return -1;
}

/* Counts one header field [start, end) against the caps; notes its
 * Content-Type. `section_addresses` counts the section's addresses. */
static void mime_limits_field(LimitsScan *scan, gsize start, gsize end, guint *section_addresses,
                         LimitsKind *kind, LimitsBoundary *boundary)
{
  const guint8 *field = scan->data + start;
  gsize n = end - start, value = 0;
  LimitsList list = mime_limits_field_list(field, n, &value);
  if (list != LIMITS_NOT_LISTED) {
    guint count = mime_limits_count_list(field + value, n - value, list, scan->caps.max_addresses);
    *section_addresses += count;
    if (count > scan->caps.max_addresses)
      mime_limits_fail(scan, g_strdup_printf("more than %u %s in one header field", scan->caps.max_addresses,
                                        list == LIMITS_IDS ? "Message-IDs" : "addresses"));
    else if (*section_addresses > LIMITS_SECTION_ADDRESSES * scan->caps.max_addresses)
      mime_limits_fail(scan, g_strdup_printf("more than %u addresses in one header section",
                                        LIMITS_SECTION_ADDRESSES * scan->caps.max_addresses));
  } else if ((value = mime_limits_field_is(field, n, "content-type")) > 0) {
    *kind = mime_limits_content_kind(field + value, n - value, boundary);
  }
}

/* Reads the header section at scan->pos up to and including its empty line
 * (or up to a boundary line, left unread). Returns what the entity is. */
static LimitsKind mime_limits_scan_headers(LimitsScan *scan, LimitsBoundary *boundary)
{
  LimitsKind kind = LIMITS_LEAF;
  guint fields = 0, addresses = 0;
  gboolean closing = FALSE;
  while (scan->pos < scan->len && !scan->reason) {
    gsize line_end = mime_limits_line_end(scan->data, scan->len, scan->pos);
    if (mime_limits_blank_line(scan->data + scan->pos, line_end - scan->pos)) {
      scan->pos = line_end;
      break;
    }
    if (mime_limits_boundary_match(scan, scan->pos, line_end, &closing) >= 0)
      break;
    gsize end = mime_limits_field_end(scan->data, scan->len, scan->pos);
    if (++fields > scan->caps.max_headers)
      mime_limits_fail(scan, g_strdup_printf("more than %u header fields in one header section",
                                        scan->caps.max_headers));
    else if (++scan->fields_total > (guint64)LIMITS_TOTAL_HEADERS * scan->caps.max_headers)
      mime_limits_fail(scan, g_strdup_printf("more than %u header fields in all",
                                        LIMITS_TOTAL_HEADERS * scan->caps.max_headers));
    mime_limits_field(scan, scan->pos, end, &addresses, &kind, boundary);
    scan->pos = end;
  }
  return kind;
}

/* Reads body lines up to the next line that opens a part (TRUE: its header
 * section is next) or the end of the message (FALSE). */
static gboolean mime_limits_scan_body(LimitsScan *scan)
{
  while (scan->pos < scan->len) {
    gsize end = mime_limits_line_end(scan->data, scan->len, scan->pos);
    gboolean closing = FALSE;
    int level = mime_limits_boundary_match(scan, scan->pos, end, &closing);
    scan->pos = end;
    if (level < 0)
      continue;
    scan->depth = closing ? (guint)level : (guint)level + 1;
    if (closing)
      continue;
    if (++scan->parts > scan->caps.max_parts)
      mime_limits_fail(scan, g_strdup_printf("more than %u MIME parts", scan->caps.max_parts));
    return TRUE;
  }
  return FALSE;
}

static void mime_limits_push(LimitsScan *scan, const LimitsBoundary *boundary)
{
  if (scan->depth >= scan->caps.max_depth) {
    mime_limits_fail(scan, g_strdup_printf("MIME nesting deeper than %u levels",
                                      scan->caps.max_depth));
    return;
  }
  scan->stack[scan->depth++] = *boundary;
}

char *mime_limits_check(const guint8 *data, gsize len, const MessageLimits *limits)
{
  LimitsScan scan = { .data = data, .len = len };
  mime_limits_defaults(&scan.caps, limits);
  scan.stack = g_new0(LimitsBoundary, scan.caps.max_depth);
  gboolean in_headers = TRUE;
  while (!scan.reason && scan.pos < scan.len) {
    if (in_headers) {
      LimitsBoundary boundary = { 0 };
      LimitsKind kind = mime_limits_scan_headers(&scan, &boundary);
      if (kind != LIMITS_LEAF && !scan.reason)
        mime_limits_push(&scan, &boundary);
      in_headers = kind == LIMITS_MESSAGE;
    } else {
      in_headers = mime_limits_scan_body(&scan);
    }
  }
  g_free(scan.stack);
  return scan.reason;
}

/* TRUE when the field [field, field + n) may go into a safe head. */
static gboolean mime_limits_field_safe(const guint8 *field, gsize n, const MessageLimits *caps)
{
  if (n > LIMITS_FIELD_MAX)
    return FALSE;
  gsize value = 0;
  LimitsList list = mime_limits_field_list(field, n, &value);
  return list == LIMITS_NOT_LISTED
         || mime_limits_count_list(field + value, n - value, list, caps->max_addresses)
              <= caps->max_addresses;
}

guint8 *mime_limits_safe_head(const guint8 *data, gsize len, const MessageLimits *limits,
                         gsize *out_len)
{
  MessageLimits caps;
  mime_limits_defaults(&caps, limits);
  GByteArray *head = g_byte_array_new();
  guint kept = 0;
  gsize pos = 0;
  while (pos < len && kept < caps.max_headers) {
    gsize line_end = mime_limits_line_end(data, len, pos);
    if (mime_limits_blank_line(data + pos, line_end - pos))
      break;
    gsize end = mime_limits_field_end(data, len, pos);
    if (head->len + (end - pos) > LIMITS_HEAD_MAX)
      break;
    if (mime_limits_field_safe(data + pos, end - pos, &caps)) {
      g_byte_array_append(head, data + pos, end - pos);
      if (data[end - 1] != '\n')
        g_byte_array_append(head, (const guint8 *)"\r\n", 2);
      kept++;
    }
    pos = end;
  }
  if (kept == 0) /* GMime needs one field to see a message */
    g_byte_array_append(head, (const guint8 *)"X-Keel-Malformed: yes\r\n", 23);
  g_byte_array_append(head, (const guint8 *)"\r\n", 2);
  *out_len = head->len;
  return g_byte_array_free(head, FALSE);
}

gsize mime_limits_text_cut(const char *text, gsize len, gsize limit, gboolean html)
{
  if (len <= limit)
    return len;
  gsize cut = limit;
  while (cut > 0 && ((guchar)text[cut] & 0xC0) == 0x80)
    cut--;
  if (html) {
    const char *tag = g_strrstr_len(text, (gssize)cut, "<");
    cut = tag != NULL && tag > text ? (gsize)(tag - text) : cut;
  }
  return cut;
}
