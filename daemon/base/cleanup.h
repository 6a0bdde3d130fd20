/* daemon/base/cleanup.h: g_autoptr cleanup declarations for the I/O libraries of
 * the shell (libcurl, SQLite) that do not declare their own. The pure core's
 * cleanups live in filters/cleanup.h, included here too. */
#pragma once

#include <curl/curl.h>
#include <sqlite3.h>
#include "filters/cleanup.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CURL, curl_easy_cleanup)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CURLU, curl_url_cleanup)
typedef struct curl_slist curl_slist; /* libcurl only names the struct tag */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(curl_slist, curl_slist_free_all)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3_stmt, sqlite3_finalize)
