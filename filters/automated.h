/* filters/automated.h: private to the parser. Decides whether a message was
 * written by a machine (RFC 3834 and the conventions around it), so that keel
 * never answers it. Pure: no I/O. */
#pragma once

#include <glib.h>
#include "filters/message.h"

/* What the MIME walk saw in the body that marks machine mail. */
typedef enum {
  AUTOMATED_PART_REPORT = 1 << 0,          /* multipart/report */
  AUTOMATED_PART_DELIVERY_STATUS = 1 << 1, /* message/delivery-status, message/disposition-notification */
  AUTOMATED_PART_CALENDAR = 1 << 2,        /* text/calendar, application/ics */
} AutomatedParts;

/* Returns a short reason ("Auto-Submitted: auto-replied", "Precedence: bulk",
 * "sender no-reply@example.com", "Feedback-ID header ...", ...) when
 * `message` (headers, from, subject and return_path filled in), `parts` or
 * `html_trace` (html_template_trace() of its HTML part, may be NULL) mark it
 * as automated, else NULL. The caller owns the result. */
char *automated_reason(const KeelMessage *message, AutomatedParts parts, const char *html_trace);
