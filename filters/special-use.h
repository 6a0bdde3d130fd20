/* filters/special-use.h: which folder is Sent and which is Drafts, from the
 * untagged LIST answers of an IMAP server (RFC 6154 SPECIAL-USE attributes
 * \Sent and \Drafts, else common names). Pure: text in, names out.
 *   special_use_pick()  names (UTF-8, decoded from modified UTF-7) or NULL */
#pragma once

#include <glib.h>

/* `list` holds "* LIST (attrs) delim name" lines. Sets `*sent` and `*drafts`
 * (new strings) to the folder with the \Sent / \Drafts attribute, else to the
 * first listed folder with a common name ("Sent", "Sent Items", "[Gmail]/Sent
 * Mail", ...), else NULL. */
void special_use_pick(const char *list, char **sent, char **drafts);
