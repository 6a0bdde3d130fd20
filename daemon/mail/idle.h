/* daemon/mail/idle.h: one extra IMAP connection per account kept in IDLE
 * (RFC 2177) on the first watched folder, so that new mail is polled at once
 * instead of at the next poll interval (issue 19).
 *   idle_watch_start()  a thread that logs in, EXAMINEs, IDLEs, re-IDLEs every 9 min
 *   idle_watch_stop()   wakes and joins it (sends DONE and LOGOUT)
 * `notify` runs in the main context of the caller of idle_watch_start(), once
 * per "* N EXISTS" the server pushes. A server without IDLE, or one that keeps
 * failing, leaves the account to polling (the thread retries with backoff). */
#pragma once

#include "daemon/base/config.h"

typedef struct IdleWatch IdleWatch;
typedef void (*IdleNotify)(gpointer user_data);

#define IDLE_REISSUE_S (9 * 60)

IdleWatch *idle_watch_start(const KeelAccount *account, IdleNotify notify, gpointer user_data);
void idle_watch_stop(IdleWatch *watch);
