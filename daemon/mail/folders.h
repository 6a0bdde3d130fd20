/* daemon/mail/folders.h: the Sent and Drafts folders of an account whose
 * sent_folder / drafts_folder are unset (issue 19): asked of the server once
 * per process (LIST "" "*" RETURN (SPECIAL-USE), then a plain LIST), else the
 * common names, else "Sent" / "Drafts".
 *   folders_resolve()  fills the two unset names of `account`, once */
#pragma once

#include "daemon/base/config.h"

/* Fills account->sent_folder and ->drafts_folder when NULL, with one extra
 * IMAP connection logged in with `secret` (a password or an OAuth2 token).
 * Never fails: a server that cannot be asked gives "Sent" and "Drafts" (a
 * warning). Safe from several threads; the names are set once and live until
 * config_free(). */
void folders_resolve(const KeelAccount *account, const char *secret);
