/* filters/mime-limits.h: caps on the structure of one message, checked on its raw
 * bytes before GMime builds anything, so that a message under the size limit
 * cannot take memory out of proportion to its size (a "MIME bomb": thousands
 * of empty parts, deep nesting, one To field of a million addresses, millions
 * of tiny header fields). Pure: bytes in, a verdict out; no I/O, no clock.
 *
 * Entry points:
 *   mime_limits_check()      raw bytes -> NULL (within the caps) or why not
 *   mime_limits_safe_head()  the header fields of a message past a cap that are
 *                       safe to parse (for Message-ID, From, Date, Subject)
 *   mime_limits_text_cut()   where to cut a text (or HTML) read from a message
 *                       so that rules, instructions and the search index see
 *                       at most KEEL_LIMITS_TEXT bytes of it
 */
#pragma once

#include <glib.h>

#define KEEL_LIMITS_DEFAULT_PARTS 500u     /* MIME parts in one message */
#define KEEL_LIMITS_DEFAULT_DEPTH 50u      /* multiparts and messages inside each other */
#define KEEL_LIMITS_DEFAULT_HEADERS 1000u  /* fields in one header section */
#define KEEL_LIMITS_DEFAULT_ADDRESSES 1000u /* addresses (or Message-IDs) in one field */
#define KEEL_LIMITS_TEXT (1024u * 1024u)    /* bytes of body text (or of HTML) read */

/* The caps; a field of 0 means its default. The whole message may hold at
 * most 10 x max_headers header fields over all its parts. */
typedef struct {
  guint max_parts;
  guint max_depth;
  guint max_headers;
  guint max_addresses;
} MessageLimits;

/* Scans `len` bytes of a raw message (no allocation per part or field) and
 * returns NULL when every cap holds, else a new string saying which cap was
 * passed first, e.g. "more than 500 MIME parts". `limits` may be NULL (the
 * defaults). Linear in `len`. */
char *mime_limits_check(const guint8 *data, gsize len, const MessageLimits *limits);

/* A new header section (ending with an empty line, at most `len` bytes plus
 * two) made of the message's first header fields, at most max_headers of
 * them, leaving out any field with more than max_addresses addresses or
 * Message-IDs and any field longer than 64 KB. What a message past a cap is
 * still parsed from. `*out_len` gets its length. */
guint8 *mime_limits_safe_head(const guint8 *data, gsize len, const MessageLimits *limits,
                         gsize *out_len);

/* The length at which to cut `text` (`len` bytes, valid UTF-8) so that it is
 * at most `limit` bytes: `len` when it fits, else the last character boundary
 * (`html`: the last '<', so no tag is cut) at or before `limit`. */
gsize mime_limits_text_cut(const char *text, gsize len, gsize limit, gboolean html);
