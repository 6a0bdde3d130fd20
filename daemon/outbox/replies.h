/* daemon/outbox/replies.h: the messages keel writes (confirmations), built with
 * GMime from a template. Nothing from a mail or the config reaches a header
 * with a control character in it: every value is cleaned here, then GMime
 * encodes it.
 *
 * Entry points:
 *   replies_clean_value()     a header value without CR, LF or other controls
 *   replies_subject()         "Re: " + subject, never "Re: Re:"
 *   replies_human_date()      "Fri 6 Mar, 5pm"
 *   replies_render()          {{variables}} of a template
 *   replies_confirmation_body() the confirm.txt template with its variables
 *   replies_build()           the whole RFC 5322 message (CRLF), as bytes
 */
#pragma once

#include <glib.h>

#define KEEL_REPLIES_ERROR (keel_replies_error_quark())
GQuark keel_replies_error_quark(void);
typedef enum {
  KEEL_REPLIES_ERROR_TEMPLATE, /* unknown or unclosed {{variable}}: fix the template */
  KEEL_REPLIES_ERROR_ADDRESS   /* an address keel cannot write to */
} KeelRepliesError;

/* `value` with every control character (C0, DEL, C1, U+2028/2029) replaced by
 * a space, runs of spaces collapsed, trimmed; invalid UTF-8 made valid.
 * Returns a new string ("" for NULL). */
char *replies_clean_value(const char *value);

/* The reply subject: "Re: " before the original with any number of leading
 * Re:/RE:/Re[2]:/AW:/SV: prefixes taken off (cleaned as above). New string. */
char *replies_subject(const char *original);

/* A deadline as a person says it: "Fri 6 Mar, 5pm", "Mon 9 Mar, 9:30am".
 * New string. */
char *replies_human_date(GDateTime *when);

/* Replaces each {{name}} of `template_text` by `vars[name]` (a GHashTable of
 * char* -> char*). `template_name` is for errors (`NAME:LINE: unknown
 * variable {{x}}`). Returns a new string or NULL with `error` set. */
char *replies_render(const char *template_text, const char *template_name, GHashTable *vars,
                     GError **error);

/* One instruction, as a confirmation lists it. */
typedef struct {
  const char *text;
  GDateTime *deadline; /* NULL = none */
  gboolean asap;
} ReplyItem;

/* The confirmation text: `template_text` (rules/templates/confirm.txt) with
 * {{client_name}}, {{first_name}}, {{instructions}} (numbered, "1) text — by
 * Fri 6 Mar, 5pm"), {{count}}, {{signature}}, {{subject}}. `items` is a
 * GPtrArray of ReplyItem* (borrowed). New string, or NULL with `error`. */
char *replies_confirmation_body(const char *template_text, const char *template_name,
                                const char *client_name, const char *subject,
                                GPtrArray *items, const char *signature, GError **error);

/* What replies_build() writes; all borrowed. */
typedef struct {
  const char *from_name;     /* may be NULL */
  const char *from_address;  /* the account user */
  const char *to_name;       /* may be NULL */
  const char *to_address;
  const char *subject;       /* already "Re: ..." when it is a reply */
  const char *in_reply_to;   /* Message-ID without <>, NULL when not a reply */
  GPtrArray *references;     /* of char* without <>, oldest first; may be NULL */
  const char *body;          /* UTF-8 text */
  GDateTime *date;
  const char *auto_submitted; /* "auto-replied", "auto-generated" */
} ReplySpec;

/* A fresh Message-ID (without <>) at the domain of `from_address`. New string. */
char *replies_new_message_id(const char *from_address);

/* The message of `spec` with Message-ID `message_id`, CRLF line ends, UTF-8
 * text/plain in quoted-printable. NULL with KEEL_REPLIES_ERROR_ADDRESS when
 * an address is empty or has no @. */
GBytes *replies_build(const ReplySpec *spec, const char *message_id, GError **error);
