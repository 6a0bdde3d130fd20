/* daemon/digest/digest-render.c: a Digest as words: the subject line, the plain
 * text part (with a one-line sparkline per client), the HTML part (inline
 * styles only, tables for layout and for the bar charts, so that Gmail,
 * Outlook and Apple Mail show it the same; no images, no scripts, no
 * external resources) and the multipart/alternative message around them.
 *
 * Every value from mail or the store is HTML-escaped here
 * (g_markup_escape_text) and header values are cleaned by
 * replies_clean_value() before GMime encodes them.
 *
 * Must not: read the store or the clock; everything comes in the Digest.
 */
#include <string.h>
#include "daemon/digest/digest-private.h"
#include "daemon/outbox/replies.h"
#include "daemon/record/word.h"
#include "filters/cleanup.h"

#define DIGEST_BAR_HEIGHT 40
#define DIGEST_FONT "font-family:Arial,Helvetica,sans-serif;"

/* ---- subject -------------------------------------------------------------- */

static void digest_count_part(GPtrArray *parts, guint n, const char *one, const char *many)
{
  if (n > 0)
    g_ptr_array_add(parts, g_strdup_printf("%u %s", n, n == 1 ? one : many));
}

char *digest_subject(const Digest *digest)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
  digest_count_part(parts, digest->risky->len, "risky thread", "risky threads");
  digest_count_part(parts, digest_count_due(digest, DIGEST_DUE_TODAY), "due today",
                    "due today");
  digest_count_part(parts, digest_count_due(digest, DIGEST_DUE_OVERDUE), "overdue",
                    "overdue");
  digest_count_part(parts, digest_count_due(digest, DIGEST_DUE_TOMORROW), "due tomorrow",
                    "due tomorrow");
  digest_count_part(parts, digest->waiting->len, "waiting for a reply",
                    "waiting for a reply");
  digest_count_part(parts, digest->payments->len, "about payments", "about payments");
  digest_count_part(parts, digest->word->len, "about your word", "about your word");
  digest_count_part(parts, digest->health->len, "problem", "problems");
  if (parts->len == 0)
    return g_strdup("keel: nothing needs you today");
  g_ptr_array_add(parts, NULL);
  g_autofree char *joined = g_strjoinv(" · ", (char **)parts->pdata);
  return g_strdup_printf("keel: %s", joined);
}

/* ---- shared bits ------------------------------------------------------------ */

static char *digest_when(GDateTime *when)
{
  return when ? g_date_time_format(when, "%a %-d %b %H:%M") : g_strdup("?");
}

static const char *digest_due_label(DigestDue due)
{
  return due == DIGEST_DUE_OVERDUE ? "OVERDUE" : due == DIGEST_DUE_TODAY ? "today" : "tomorrow";
}

char *digest_sparkline(const double *values, guint n)
{
  static const char *const bars[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
  double max = 0;
  for (guint i = 0; i < n; i++)
    max = MAX(max, values[i]);
  GString *line = g_string_new(NULL);
  for (guint i = 0; i < n; i++) {
    int level = max > 0 && values[i] > 0 ? (int)((values[i] / max) * 7.999) : 0;
    g_string_append(line, bars[CLAMP(level, 0, 7)]);
  }
  return g_string_free(line, FALSE);
}

static char *digest_join(GPtrArray *strings, const char *separator)
{
  g_autoptr(GPtrArray) copy = g_ptr_array_new();
  for (guint i = 0; i < strings->len; i++)
    g_ptr_array_add(copy, strings->pdata[i]);
  g_ptr_array_add(copy, NULL);
  return g_strjoinv(separator, (char **)copy->pdata);
}

/* "you replied Tue 10 Mar 15:00" / "no reply from you yet". New string. */
static char *digest_reply_words(const DigestThread *thread)
{
  if (!thread->last_reply)
    return g_strdup("no reply from you yet");
  g_autofree char *when = digest_when(thread->last_reply);
  return g_strdup_printf("you last wrote %s", when);
}

/* ---- plain text -------------------------------------------------------------- */

/* TRUE when `quote` is about a dimension the thread is flagged for: its line
 * says "why"; the others say "also". */
static gboolean digest_quote_flagged(const DigestThread *thread, const DigestQuote *quote)
{
  for (guint i = 0; i < thread->dimensions->len; i++)
    if (g_strcmp0(thread->dimensions->pdata[i], quote->dimension) == 0)
      return TRUE;
  return FALSE;
}

/* `Refuses to pay: "…I will not be paying…"`: the rule's why, the words. */
static char *digest_quote_words(const DigestQuote *quote)
{
  if (quote->why && quote->context)
    return g_strdup_printf("%s: \"%s\"", quote->why, quote->context);
  return quote->context ? g_strdup_printf("\"%s\"", quote->context) : g_strdup(quote->why);
}

/* The "why" lines (flagged dimensions) first, then the "also" lines. */
static void digest_text_quotes(GString *out, const DigestThread *thread)
{
  for (int pass = 1; pass >= 0; pass--)
    for (guint i = 0; i < thread->quotes->len; i++) {
      const DigestQuote *quote = thread->quotes->pdata[i];
      g_autofree char *words = digest_quote_words(quote);
      if (digest_quote_flagged(thread, quote) == (gboolean)pass && words)
        g_string_append_printf(out, "   %s (%s): %s\n", pass ? "why" : "also",
                               quote->dimension, words);
    }
}

/* "high: a threat", with the number under --explain. New string. */
static char *digest_risk_line(const DigestThread *thread, gboolean explain)
{
  g_autofree char *words = thread->risk_words ? g_strdup(thread->risk_words)
                                              : digest_risk_words(thread);
  return explain ? g_strdup_printf("%s (risk %.1f)", words, thread->risk)
                 : g_steal_pointer(&words);
}

static void digest_text_thread(GString *out, guint index, const DigestThread *thread,
                               guint weeks, gboolean explain)
{
  g_autofree char *when = digest_when(thread->last_date);
  g_autofree char *dimensions = digest_join(thread->dimensions, ", ");
  g_autofree char *reply = digest_reply_words(thread);
  g_autofree char *risk = digest_risk_line(thread, explain);
  g_string_append_printf(out, "%u. %s: \"%s\"\n   %s; last message %s, %s\n", index,
                         thread->client, thread->subject, risk, when, reply);
  if (thread->dimensions->len)
    g_string_append_printf(out, "   flagged: %s\n", dimensions);
  digest_text_quotes(out, thread);
  for (guint i = 0; i < thread->next_steps->len; i++)
    g_string_append_printf(out, "   next: %s\n", (char *)thread->next_steps->pdata[i]);
  if (thread->client_id && weeks > 0) {
    g_autofree char *spark = digest_sparkline(thread->weekly, weeks);
    g_string_append_printf(out, "   risk per week, last %u weeks: %s\n", weeks, spark);
  }
}

static void digest_text_sections(GString *out, const Digest *digest)
{
  if (digest->risky->len)
    g_string_append(out, "\nRISKY THREADS (a cool head needed)\n");
  for (guint i = 0; i < digest->risky->len; i++)
    digest_text_thread(out, i + 1, digest->risky->pdata[i], digest->weeks, digest->explain);
  if (digest->instructions->len)
    g_string_append(out, "\nDUE AND OVERDUE\n");
  for (guint i = 0; i < digest->instructions->len; i++) {
    const DigestInstruction *item = digest->instructions->pdata[i];
    g_autofree char *when = word_format_when(item->deadline, digest->now);
    g_string_append_printf(out, "- %-8s %s  %s: %s (ID %" G_GINT64_FORMAT ")\n",
                           digest_due_label(item->due), when, item->client, item->text,
                           item->id);
  }
  if (digest->waiting->len)
    g_string_append(out, "\nWAITING FOR YOUR REPLY\n");
  for (guint i = 0; i < digest->waiting->len; i++) {
    const DigestWaiting *item = digest->waiting->pdata[i];
    g_autofree char *when = word_format_when(item->since, digest->now);
    g_string_append_printf(out, "- %s: \"%s\" since %s (%.0f business hours)\n", item->client,
                           item->subject, when, item->business_hours);
  }
}

static void digest_text_activity(GString *out, const Digest *digest)
{
  if (digest->word->len)
    g_string_append(out, "\nYOUR WORD (promises due, work probably done, drafts waiting)\n");
  for (guint i = 0; i < digest->word->len; i++)
    g_string_append_printf(out, "- %s\n", (char *)digest->word->pdata[i]);
  if (digest->payments->len)
    g_string_append(out, "\nPAYMENTS\n");
  for (guint i = 0; i < digest->payments->len; i++)
    g_string_append_printf(out, "- %s\n", (char *)digest->payments->pdata[i]);
  if (digest->activity->len)
    g_string_append(out, "\nWHAT KEEL SENT OR DRAFTED\n");
  for (guint i = 0; i < digest->activity->len; i++) {
    const StoreOutboxRow *row = digest->activity->pdata[i];
    g_string_append_printf(out, "- %-7s %s to %s: \"%s\"\n", row->state, row->kind, row->rcpt,
                           row->subject);
  }
  if (digest->health->len)
    g_string_append(out, "\nHEALTH\n");
  for (guint i = 0; i < digest->health->len; i++)
    g_string_append_printf(out, "- %s\n", (char *)digest->health->pdata[i]);
}

char *digest_render_text(const Digest *digest)
{
  GString *out = g_string_new(NULL);
  g_autofree char *subject = digest_subject(digest);
  g_autofree char *now = g_date_time_format(digest->now, "%a %-d %b %Y, %H:%M %Z");
  g_string_append_printf(out, "%s\n%s\n", subject, now);
  if (digest_is_empty(digest))
    g_string_append(out, "\nNo risky threads, nothing due, nobody waiting. Enjoy your day.\n");
  digest_text_sections(out, digest);
  digest_text_activity(out, digest);
  g_string_append(out, "\n-- \nkeel (an automatic summary; replies to it go nowhere useful)\n");
  if (digest->trail_head)
    g_string_append_printf(out, "trail head %s (keep this mail: keel trail verify --head %s "
                           "proves nothing was removed since)\n", digest->trail_head,
                           digest->trail_head);
  return g_string_free(out, FALSE);
}

char *digest_render_alert_text(const DigestThread *thread, GDateTime *now)
{
  GString *out = g_string_new(NULL);
  g_autofree char *when = g_date_time_format(now, "%a %-d %b %H:%M");
  g_string_append_printf(out, "keel alert, %s\n\nThis thread needs a person with a cool head:\n\n",
                         when);
  digest_text_thread(out, 1, thread, 0, FALSE);
  g_string_append(out, "\nNo reply was sent to this thread. The full picture is in "
                       "tomorrow's digest.\n\n-- \nkeel\n");
  return g_string_free(out, FALSE);
}

/* ---- HTML ------------------------------------------------------------------------ */

static void digest_html_escaped(GString *out, const char *text)
{
  g_autofree char *escaped = g_markup_escape_text(text ? text : "", -1);
  g_string_append(out, escaped);
}

static void digest_html_heading(GString *out, const char *title, const char *colour)
{
  g_string_append_printf(out, "<h2 style=\"" DIGEST_FONT "font-size:17px;margin:22px 0 8px;"
                              "padding-bottom:4px;border-bottom:2px solid %s;color:#222;\">",
                         colour);
  digest_html_escaped(out, title);
  g_string_append(out, "</h2>\n");
}

/* The quote's context with its phrase in bold, after the rule's why; "why"
 * for a flagged dimension, "also" for the others. */
static void digest_html_quote(GString *out, const DigestQuote *quote, gboolean flagged)
{
  g_autofree char *context = g_markup_escape_text(quote->context ? quote->context : "", -1);
  g_autofree char *phrase = g_markup_escape_text(quote->phrase ? quote->phrase : "", -1);
  char *at = phrase[0] ? strstr(context, phrase) : NULL;
  g_autofree char *dimension = g_markup_escape_text(quote->dimension, -1);
  g_string_append_printf(out, "<p style=\"margin:4px 0 4px 0;padding:2px 0 2px 10px;"
                              "border-left:3px solid %s;color:#444;\"><span style=\"color:#888;"
                              "font-size:12px;\">%s (%s)</span> ", flagged ? "#e0b4ae" : "#ddd",
                         flagged ? "why" : "also", dimension);
  if (quote->why) {
    digest_html_escaped(out, quote->why);
    g_string_append(out, quote->context ? ": " : "");
  }
  g_string_append(out, "<em>");
  if (at) {
    g_string_append_len(out, context, at - context);
    g_string_append_printf(out, "<strong style=\"background:#fdebd0;font-style:normal;\">%s"
                                "</strong>%s", phrase, at + strlen(phrase));
  } else {
    g_string_append(out, context);
  }
  g_string_append(out, "</em></p>\n");
}

/* One bar: a nested table cell whose height is the value (Outlook honours
 * height/bgcolor attributes, the others the inline style). */
static void digest_html_bar(GString *out, double value, double max, GDateTime *week_start)
{
  int height = max > 0 && value > 0 ? MAX(3, (int)(value / max * DIGEST_BAR_HEIGHT)) : 1;
  const char *colour = value > 0 ? "#c0392b" : "#dddddd";
  g_autofree char *label = g_date_time_format(week_start, "%-d %b");
  g_string_append_printf(out,
    "<td valign=\"bottom\" align=\"center\" style=\"vertical-align:bottom;padding:0 3px;"
    "height:%dpx;\"><table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" "
    "border=\"0\"><tr><td class=\"bar\" title=\"week of %s: %.1f\" width=\"14\" height=\"%d\" "
    "bgcolor=\"%s\" style=\"width:14px;height:%dpx;background:%s;font-size:0;line-height:0;\">"
    "&nbsp;</td></tr></table></td>\n", DIGEST_BAR_HEIGHT, label, value, height, colour,
    height, colour);
}

static void digest_html_chart(GString *out, const DigestThread *thread, const Digest *digest)
{
  double max = 0;
  for (guint i = 0; i < digest->weeks; i++)
    max = MAX(max, thread->weekly[i]);
  g_string_append(out, "<table role=\"presentation\" class=\"chart\" cellpadding=\"0\" "
                       "cellspacing=\"0\" border=\"0\" style=\"margin:6px 0 2px;"
                       "border-collapse:collapse;\"><tr>\n");
  for (guint i = 0; i < digest->weeks; i++) {
    g_autoptr(GDateTime) start = g_date_time_add_days(digest->now,
                                                      -7 * (int)(digest->weeks - i));
    digest_html_bar(out, thread->weekly[i], max, start);
  }
  g_autofree char *client = g_markup_escape_text(thread->client, -1);
  g_string_append_printf(out, "</tr></table>\n<p style=\"" DIGEST_FONT "margin:0 0 6px;"
                              "font-size:11px;color:#888;\">risk per week for %s, last %u weeks "
                              "(oldest left)</p>\n", client, digest->weeks);
}

static void digest_html_thread(GString *out, const DigestThread *thread, const Digest *digest)
{
  g_autofree char *when = digest_when(thread->last_date);
  g_autofree char *dimensions = digest_join(thread->dimensions, ", ");
  g_string_append(out, "<div style=\"margin:0 0 18px;\"><p style=\"margin:0;font-size:16px;\">"
                       "<strong>");
  digest_html_escaped(out, thread->client);
  g_string_append(out, "</strong>: ");
  digest_html_escaped(out, thread->subject);
  g_autofree char *reply = digest_reply_words(thread);
  g_autofree char *risk = digest_risk_line(thread, digest->explain);
  g_string_append(out, "</p>\n<p style=\"margin:2px 0 6px;color:#666;font-size:13px;\">"
                       "<strong style=\"color:#c0392b;\">");
  digest_html_escaped(out, risk);
  g_string_append_printf(out, "</strong> · last message %s · %s", when, reply);
  if (thread->dimensions->len) {
    g_string_append(out, " · flagged: <span style=\"color:#c0392b;font-weight:bold;\">");
    digest_html_escaped(out, dimensions);
    g_string_append(out, "</span>");
  }
  g_string_append(out, "</p>\n");
  for (int pass = 1; pass >= 0; pass--)
    for (guint i = 0; i < thread->quotes->len; i++)
      if (digest_quote_flagged(thread, thread->quotes->pdata[i]) == (gboolean)pass)
        digest_html_quote(out, thread->quotes->pdata[i], pass);
  if (thread->next_steps->len)
    g_string_append(out, "<ul style=\"margin:6px 0;padding-left:20px;\">\n");
  for (guint i = 0; i < thread->next_steps->len; i++) {
    g_string_append(out, "<li style=\"margin:2px 0;\">");
    digest_html_escaped(out, thread->next_steps->pdata[i]);
    g_string_append(out, "</li>\n");
  }
  if (thread->next_steps->len)
    g_string_append(out, "</ul>\n");
  if (thread->client_id)
    digest_html_chart(out, thread, digest);
  g_string_append(out, "</div>\n");
}

/* One item: a small coloured label over its text (reads on a phone too). */
static void digest_html_row(GString *out, const char *label, const char *colour,
                            const char *text)
{
  g_string_append_printf(out, "<p style=\"margin:0 0 10px;\"><span style=\"color:%s;"
                              "font-weight:bold;font-size:13px;\">", colour);
  digest_html_escaped(out, label);
  g_string_append(out, "</span><br>");
  digest_html_escaped(out, text);
  g_string_append(out, "</p>\n");
}

static void digest_html_instructions(GString *out, const Digest *digest)
{
  digest_html_heading(out, "Due and overdue", "#e67e22");
  for (guint i = 0; i < digest->instructions->len; i++) {
    const DigestInstruction *item = digest->instructions->pdata[i];
    g_autofree char *when = word_format_when(item->deadline, digest->now);
    g_autofree char *label = g_strdup_printf("%s %s", digest_due_label(item->due), when);
    g_autofree char *text = g_strdup_printf("%s: %s (ID %" G_GINT64_FORMAT ")", item->client,
                                            item->text, item->id);
    digest_html_row(out, label, item->due == DIGEST_DUE_OVERDUE ? "#c0392b" : "#555", text);
  }
}

static void digest_html_waiting(GString *out, const Digest *digest)
{
  digest_html_heading(out, "Waiting for your reply", "#2980b9");
  for (guint i = 0; i < digest->waiting->len; i++) {
    const DigestWaiting *item = digest->waiting->pdata[i];
    g_autofree char *when = digest_when(item->since);
    g_autofree char *label = g_strdup_printf("waiting %.0f business hours",
                                            item->business_hours);
    g_autofree char *text = g_strdup_printf("%s: \"%s\" (since %s)", item->client,
                                            item->subject, when);
    digest_html_row(out, label, "#2980b9", text);
  }
}

static void digest_html_activity(GString *out, const Digest *digest)
{
  if (digest->word->len)
    digest_html_heading(out, "Your word", "#8e44ad");
  for (guint i = 0; i < digest->word->len; i++) {
    g_string_append(out, "<p style=\"margin:3px 0;\">");
    digest_html_escaped(out, digest->word->pdata[i]);
    g_string_append(out, "</p>\n");
  }
  if (digest->payments->len)
    digest_html_heading(out, "Payments", "#d35400");
  for (guint i = 0; i < digest->payments->len; i++) {
    g_string_append(out, "<p style=\"margin:3px 0;\">");
    digest_html_escaped(out, digest->payments->pdata[i]);
    g_string_append(out, "</p>\n");
  }
  if (digest->activity->len) {
    digest_html_heading(out, "What keel sent or drafted", "#27ae60");
    }
  for (guint i = 0; i < digest->activity->len; i++) {
    const StoreOutboxRow *row = digest->activity->pdata[i];
    g_autofree char *text = g_strdup_printf("%s to %s: \"%s\"", row->kind, row->rcpt,
                                            row->subject);
    digest_html_row(out, row->state, "#27ae60", text);
  }
  if (digest->health->len)
    digest_html_heading(out, "Health", "#7f8c8d");
  for (guint i = 0; i < digest->health->len; i++) {
    g_string_append(out, "<p style=\"margin:3px 0;color:#a93226;\">");
    digest_html_escaped(out, digest->health->pdata[i]);
    g_string_append(out, "</p>\n");
  }
}

static void digest_html_body(GString *out, const Digest *digest)
{
  if (digest_is_empty(digest))
    g_string_append(out, "<p>No risky threads, nothing due, nobody waiting. "
                         "Enjoy your day.</p>\n");
  if (digest->risky->len)
    digest_html_heading(out, "Risky threads", "#c0392b");
  for (guint i = 0; i < digest->risky->len; i++)
    digest_html_thread(out, digest->risky->pdata[i], digest);
  if (digest->instructions->len)
    digest_html_instructions(out, digest);
  if (digest->waiting->len)
    digest_html_waiting(out, digest);
  digest_html_activity(out, digest);
}

char *digest_render_html(const Digest *digest)
{
  GString *out = g_string_new(NULL);
  g_autofree char *subject = digest_subject(digest);
  g_autofree char *now = g_date_time_format(digest->now, "%A %-d %B %Y, %H:%M %Z");
  g_autofree char *title = g_markup_escape_text(subject, -1);
  g_string_append_printf(out,
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>%s</title></head>\n<body style=\"margin:0;padding:0;background:#f4f4f4;\">\n"
    "<table role=\"presentation\" width=\"100%%\" cellpadding=\"0\" cellspacing=\"0\" "
    "style=\"background:#f4f4f4;\"><tr><td align=\"center\" style=\"padding:12px;\">\n"
    "<table role=\"presentation\" width=\"100%%\" cellpadding=\"0\" cellspacing=\"0\" "
    "style=\"max-width:600px;background:#ffffff;" DIGEST_FONT "font-size:15px;"
    "line-height:1.45;color:#222;\"><tr><td style=\"padding:18px;\">\n"
    "<h1 style=\"" DIGEST_FONT "font-size:20px;margin:0 0 4px;\">%s</h1>\n"
    "<p style=\"margin:0 0 8px;color:#777;font-size:13px;\">%s</p>\n", title, title, now);
  digest_html_body(out, digest);
  g_string_append(out, "<p style=\"margin:24px 0 0;color:#999;font-size:12px;\">keel: an "
                       "automatic summary.");
  g_autofree char *head = digest->trail_head ? g_markup_escape_text(digest->trail_head, -1) : NULL;
  if (head)
    g_string_append_printf(out, " Trail head <span style=\"font-family:monospace;\">%s</span> "
                           "(<code>keel trail verify --head</code> proves nothing was removed "
                           "since).", head);
  g_string_append(out, "</p>\n</td></tr></table>\n</td></tr></table>\n</body></html>\n");
  return g_string_free(out, FALSE);
}

/* ---- the message ------------------------------------------------------------------ */

static gpointer digest_init_gmime(gpointer data)
{
  (void)data;
  g_mime_init();
  return NULL;
}

static GMimeObject *digest_text_part(const char *subtype, const char *text)
{
  GMimeTextPart *part = g_mime_text_part_new_with_subtype(subtype);
  g_mime_text_part_set_text(part, text);
  g_mime_text_part_set_charset(part, "utf-8");
  g_mime_part_set_content_encoding(GMIME_PART(part), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  return GMIME_OBJECT(part);
}

static gboolean digest_address_ok(const char *address, const char *what, GError **error)
{
  if (address && strchr(address, '@') && address[0] != '@'
      && !strpbrk(address, " <>\"\r\n\t,;"))
    return TRUE;
  g_set_error(error, KEEL_DIGEST_ERROR, KEEL_DIGEST_ERROR_ACCOUNT,
              "cannot write the digest: the %s address '%s' is not a plain address", what,
              address ? address : "");
  return FALSE;
}

static void digest_set_headers(GMimeMessage *message, const char *from, const char *to,
                               const char *subject, GDateTime *date, const char *message_id)
{
  g_autofree char *clean_subject = replies_clean_value(subject);
  g_mime_message_add_mailbox(message, GMIME_ADDRESS_TYPE_FROM, "keel", from);
  g_mime_message_add_mailbox(message, GMIME_ADDRESS_TYPE_TO, NULL, to);
  g_mime_message_set_subject(message, clean_subject, "utf-8");
  g_mime_message_set_date(message, date);
  g_mime_message_set_message_id(message, message_id);
  GMimeObject *object = GMIME_OBJECT(message);
  g_mime_object_set_header(object, "MIME-Version", "1.0", NULL);
  g_mime_object_set_header(object, "Auto-Submitted", "auto-generated", NULL);
  g_mime_object_set_header(object, "X-Auto-Response-Suppress", "All", NULL);
}

static GBytes *digest_message_bytes(GMimeMessage *message)
{
  GMimeFormatOptions *options = g_mime_format_options_new();
  g_mime_format_options_set_newline_format(options, GMIME_NEWLINE_FORMAT_DOS);
  g_autoptr(GMimeStream) stream = g_mime_stream_mem_new();
  g_mime_object_write_to_stream(GMIME_OBJECT(message), options, stream);
  g_mime_format_options_free(options);
  GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
  return g_bytes_new(bytes->data, bytes->len);
}

GBytes *digest_build_message(const Digest *digest, const char *from, const char *to,
                             char **message_id, GError **error)
{
  static GOnce once = G_ONCE_INIT;
  g_once(&once, digest_init_gmime, NULL);
  if (!digest_address_ok(from, "From", error) || !digest_address_ok(to, "To", error))
    return NULL;
  g_autofree char *subject = digest_subject(digest);
  g_autofree char *text = digest_render_text(digest);
  g_autofree char *html = digest_render_html(digest);
  g_autofree char *id = replies_new_message_id(from);
  g_autoptr(GMimeMessage) message = g_mime_message_new(TRUE);
  digest_set_headers(message, from, to, subject, digest->now, id);
  g_autoptr(GMimeObject) alternative = GMIME_OBJECT(g_mime_multipart_new_with_subtype(
    "alternative"));
  g_autoptr(GMimeObject) plain = digest_text_part("plain", text);
  g_autoptr(GMimeObject) rich = digest_text_part("html", html);
  g_mime_multipart_add(GMIME_MULTIPART(alternative), plain);
  g_mime_multipart_add(GMIME_MULTIPART(alternative), rich);
  g_mime_message_set_mime_part(message, alternative);
  if (message_id)
    *message_id = g_steal_pointer(&id);
  return digest_message_bytes(message);
}
