/* filters/replies.h: the text of the messages keel writes (confirmations,
 * chases, notes), from data: pure, tested without a store or GMime.
 * daemon/outbox/replies.h builds the MIME message around it.
 *
 * Entry points:
 *   replies_clean_value()     a header value without CR, LF or other controls
 *   replies_subject()         "Re: " + subject, never "Re: Re:"
 *   replies_human_date()      "Fri 6 Mar, 5pm"
 *   replies_render()          {{variables}} of a template
 *   replies_first_name_of()   "Tom" from "Tom Reid", never from "Beckett Brand Studio"
 *   replies_voice_vars()      the voice's template variables
 *   replies_confirmation_body() the confirm.txt template with its variables
 */
#pragma once

#include <glib.h>

#define KEEL_REPLIES_ERROR (keel_replies_error_quark())
GQuark keel_replies_error_quark(void);
typedef enum {
  KEEL_REPLIES_ERROR_TEMPLATE, /* unknown or unclosed {{variable}}: fix the template */
  KEEL_REPLIES_ERROR_ADDRESS,  /* an address keel cannot write to */
  KEEL_REPLIES_ERROR_SIGNATURE /* [account] signature_file cannot be read */
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

/* Who a reply speaks for and to whom: the template variables that are the
 * same in every reply to one person. Every field is owned and never NULL. */
typedef struct {
  char *first_name; /* "Tom"; "" when neither the mail nor [client] contact gives one */
  char *greeting;   /* "Hi Tom," or "Hello," */
  char *to_name;    /* the To display name: the sender's own, else [client] contact, else the client's name */
  char *va_name;    /* [account] name, "" when unset */
  char *business;   /* [account] business, "" when unset */
  char *signature;  /* [account] signature_file, templates/signature.txt, or "Best wishes," + name + business */
} ReplyVoice;
void replies_voice_free(ReplyVoice *voice);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ReplyVoice, replies_voice_free)

/* The first name a person would be greeted by, from a From display name:
 * "Tom Reid" and "Reid, Tom" give "Tom". NULL when the name is empty, an
 * address, a title ("Mr"), a company ("Kestrel Homes Ltd", "Accounts
 * Team"), or the client's own name (`client_id`, `client_name`, or a name
 * starting with the same word: "Beckett" for Beckett Brand Studio). Both may
 * be NULL (no client). New string. */
char *replies_first_name_of(const char *display_name, const char *client_id,
                            const char *client_name);

/* Adds {{first_name}}, {{greeting}}, {{va_name}}, {{business}} and
 * {{signature}} of `voice` to `vars` (char* -> char*, values freed with
 * g_free: copies are inserted). NULL `voice`: a neutral "Hello,", no name. */
void replies_voice_vars(const ReplyVoice *voice, GHashTable *vars);

/* The confirmation text: `template_text` (rules/templates/confirm.txt) with
 * {{client_name}}, {{instructions}} (numbered, "1) text — by Fri 6 Mar,
 * 5pm"), {{count}}, {{subject}} and the variables of `voice`. `items` is a
 * GPtrArray of ReplyItem* (borrowed). New string, or NULL with `error`. */
char *replies_confirmation_body(const char *template_text, const char *template_name,
                                const char *client_name, const char *subject,
                                GPtrArray *items, const ReplyVoice *voice, GError **error);
