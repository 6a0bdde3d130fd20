/* daemon/outbox/replies.h: the messages keel writes (confirmations), built with
 * GMime from a template. Nothing from a mail or the config reaches a header
 * with a control character in it: every value is cleaned here, then GMime
 * encodes it.
 *
 * The text (cleaning, subjects, dates, templates, the voice's variables) is
 * the pure filters/replies.h, included here so callers need one header.
 *
 * Entry points:
 *   replies_first_name()      "Tom" from "Tom Reid", never from "Beckett Brand Studio"
 *   replies_voice_new()       who speaks and to whom: greeting, VA's name, signature
 *   replies_new_message_id()  a fresh Message-ID at the sender's domain
 *   replies_build()           the whole RFC 5322 message (CRLF), as bytes
 */
#pragma once

#include <glib.h>
#include "daemon/base/config.h"
#include "filters/replies.h"

/* The first name a person would be greeted by, from a From display name:
 * "Tom Reid" and "Reid, Tom" give "Tom". NULL when the name is empty, an
 * address, a title ("Mr"), a company ("Kestrel Homes Ltd", "Accounts
 * Team"), or `client`'s own name (its id, its name, or a name starting with
 * the same word: "Beckett" for Beckett Brand Studio). `client` may be NULL.
 * New string. */
char *replies_first_name(const char *display_name, const KeelClient *client);

/* The voice of a reply through `account` to `client` (either may be NULL),
 * whose mail said `display_name` (NULL for a note or a chase): the first
 * name from the display name, else from the client's contact, else none
 * ("Hello,"). `rules_dir` (may be NULL) is where an old templates/
 * signature.txt is still honoured when the account has no signature_file.
 * NULL with KEEL_REPLIES_ERROR_SIGNATURE when signature_file is unreadable. */
ReplyVoice *replies_voice_new(const KeelAccount *account, const KeelClient *client,
                              const char *display_name, const char *rules_dir,
                              GError **error);

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
