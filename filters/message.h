/* filters/message.h: the message value: what keel knows about one e-mail after
 * parsing its raw bytes with GMime. Pure: bytes and the time received in,
 * a KeelMessage out. Never touches the network, SQLite or the clock.
 *
 * Entry points:
 *   message_parse()      raw RFC 5322 bytes -> KeelMessage (owned by caller)
 *   message_header()     first decoded value of a header, for `header:NAME` rules
 *   message_place_text() the text a rule's place names (subject, text, quoted, body, header:NAME)
 *   message_to_json()    the `keel parse --json` fields, into an open JsonBuilder object
 *   subject_normalise()  a subject without Re:/Fwd:/AW:/[tags], for threading
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "filters/mime-limits.h"

#define KEEL_MESSAGE_ERROR (keel_message_error_quark())
GQuark keel_message_error_quark(void);
typedef enum {
  KEEL_MESSAGE_ERROR_EMPTY,    /* no bytes, or nothing that looks like a message */
  KEEL_MESSAGE_ERROR_MALFORMED /* GMime could not make a message of it */
} KeelMessageError;

#define KEEL_MESSAGE_DEFAULT_MAX_SIZE (25u * 1024u * 1024u)

typedef struct {
  char *name;    /* owned, UTF-8, "" when the header had none */
  char *address; /* owned, as written (addr-spec), "" when missing */
} KeelAddress;

typedef struct {
  char *filename;     /* owned, UTF-8, may be NULL */
  char *content_type; /* owned, "type/subtype" */
  gsize size;         /* decoded size in bytes */
} KeelAttachment;

typedef struct {
  char *name;  /* owned, as in the message */
  char *value; /* owned, RFC 2047-decoded, unfolded, UTF-8 */
} KeelHeader;

typedef struct {
  char *message_id;            /* owned, without <>; never NULL */
  gboolean message_id_derived; /* TRUE: missing in the mail, derived from a hash of the raw bytes */
  KeelAddress *from;           /* owned, NULL when there is no usable From */
  GPtrArray *to;               /* owned, of KeelAddress* */
  GPtrArray *cc;               /* owned, of KeelAddress* */
  GDateTime *date;             /* owned, UTC; never NULL */
  gboolean date_fallback;      /* TRUE: Date missing/garbled, `date` is the time received */
  char *subject;               /* owned, decoded UTF-8, "" when missing */
  char *in_reply_to;           /* owned, without <>, NULL when missing */
  GPtrArray *references;       /* owned, of char* without <> (oldest first) */
  char *return_path;           /* owned, NULL when the header is absent, "" for <> */
  char *body_text;             /* owned, all text of the body, UTF-8 (from HTML when no plain part) */
  char *new_text;              /* owned, the text the sender wrote now */
  char *quoted_text;           /* owned, quoted earlier messages */
  char *signature;             /* owned, sign-off and signature block */
  gboolean has_text;           /* FALSE: no text/plain or text/html part at all */
  gboolean from_html;          /* TRUE: body_text came from an HTML part */
  GPtrArray *attachments;      /* owned, of KeelAttachment* */
  gboolean automated;          /* machine-generated mail (RFC 3834 and friends) */
  char *automated_reason;      /* owned, a short reason, NULL when !automated */
  gboolean too_large;          /* over the size limit: only the header section was parsed */
  gsize size;                  /* size of the raw message in bytes */
  GPtrArray *headers;          /* owned, of KeelHeader*, in message order */
  char *malformed;             /* owned: the cap it passed (filters/mime-limits.h), NULL when
                                * none; then only its safe header fields were parsed, it
                                * has no text, and it is `automated` ("malformed: ...") */
} KeelMessage;

/* Parses raw message bytes. `received` (borrowed, may be NULL = Unix epoch) is
 * used when the Date header is missing or garbled. A message larger than
 * `max_size` (0 = KEEL_MESSAGE_DEFAULT_MAX_SIZE) comes back with too_large set
 * and only its header section parsed. Returns NULL and sets `error` only when
 * the bytes are not a message at all. The caller owns the result. */
KeelMessage *message_parse(const guint8 *data, gsize len, GDateTime *received,
                           gsize max_size, GError **error);

/* message_parse() with caps on the message's structure (NULL: the defaults,
 * which message_parse() uses). A message past a cap comes back with
 * `malformed` set to the reason, parsed no further than mime_limits_safe_head():
 * its raw bytes can still be stored. */
KeelMessage *message_parse_limited(const guint8 *data, gsize len, GDateTime *received,
                                   gsize max_size, const MessageLimits *limits,
                                   GError **error);

/* Parses the header section of a message of which only the first `head_len`
 * bytes are at hand (the caller read no more because the whole message,
 * `total_size` bytes, is over its size limit). The result has too_large set,
 * size = total_size, no body text and no attachments. Same ownership and
 * errors as message_parse(). */
KeelMessage *message_parse_truncated(const guint8 *head, gsize head_len, gsize total_size,
                                     GDateTime *received, GError **error);

/* How many leading bytes of an over-size message are enough to find its whole
 * header section (message_parse_truncated() reads no further). */
#define KEEL_MESSAGE_HEAD_LIMIT (256u * 1024u)

void message_free(KeelMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KeelMessage, message_free)

/* First value of header `name` (case-insensitive), decoded; NULL when absent.
 * Borrowed from `message`. */
const char *message_header(const KeelMessage *message, const char *name);

/* The text a rule place names: "subject", "text" (the new text, else the
 * body), "quoted", "body" or "header:NAME"; NULL for any other place or an
 * absent part. Borrowed from `message`. */
const char *message_place_text(const KeelMessage *message, const char *where);

/* Adds the `keel parse --json` members, in this order, to the object `builder`
 * has open: message_id, message_id_derived, from {name, address} (null when
 * none), to [{name, address}], cc [...], date ("2026-03-06T16:04:00Z", UTC),
 * date_fallback, subject, in_reply_to (null), references [...], new_text,
 * quoted_text, signature, attachments [{filename (null), content_type, size}],
 * automated, automated_reason (null), too_large, size, has_text, from_html,
 * and, only for a message past a cap, malformed (the cap it passed). */
void message_to_json(const KeelMessage *message, JsonBuilder *builder);

/* The subject with reply/forward prefixes (Re:, RE:, Fwd:, FW:, AW:, WG:, SV:,
 * "Re[2]:") and leading [tags] removed, whitespace collapsed, case-folded.
 * Returns a new string. */
char *subject_normalise(const char *subject);
