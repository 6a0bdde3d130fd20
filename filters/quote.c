/* filters/quote.c: which lines of a message body are new, which are quoted
 * earlier mail, and which are the sign-off and signature.
 *
 * How it works, on the body's lines (pointers into the body, never copied):
 *  1. Classify each line as NEW or QUOTED, top to bottom:
 *     - a line starting with '>' (after at most one space) is QUOTED (this
 *       covers Apple Mail's "> On ... wrote:" too);
 *     - an attribution "On <date>, <name> wrote:" (also folded over up to three
 *       lines, and a few other languages) is QUOTED; when no '>' line follows
 *       within a few lines, everything below it is QUOTED;
 *     - a header block (Outlook desktop "From:" followed within a few lines by
 *       "Sent:" or "Date:" and "To:"/"Subject:", with or without '>', possibly
 *       under a "____" or "-----" rule line, as Outlook for iOS writes it),
 *       "-----Original Message-----", "---------- Forwarded message ---------"
 *       or "Begin forwarded message:" makes it and everything below QUOTED.
 *  2. In the NEW lines, find where the signature starts: at a "-- " (or "--")
 *     delimiter; or, near the end (at most QUOTE_SIGNATURE_MAX_LINES non-empty
 *     lines after it), at the last sign-off line ("Thanks", "Kind regards",
 *     "Cheers", ...: the whole line is just that, so "Thanks for the call ..."
 *     never cuts a message), a line with just the sender's name, first name or
 *     initial, or a mobile footer ("Sent from my iPhone", "Get Outlook for
 *     iOS"); then moving up over blank lines and other such lines.
 *
 * Entry point: quote_split(). Patterns are PCRE2, compiled once (read-only
 * afterwards) and matched with limits. Pure: no I/O.
 */
#include "filters/quote.h"

#include <string.h>
#include "filters/cleanup.h"

#define QUOTE_SIGNATURE_MAX_LINES 12 /* non-empty lines a signature may span */
#define QUOTE_HEADER_BLOCK_LINES 6   /* lines after "From:" to find "Sent:"/"To:" in */

typedef enum {
  QUOTE_RE_ATTRIBUTION,
  QUOTE_RE_ATTRIBUTION_START,
  QUOTE_RE_ATTRIBUTION_INLINE,
  QUOTE_RE_HEADER_FROM,
  QUOTE_RE_HEADER_SENT,
  QUOTE_RE_HEADER_OTHER,
  QUOTE_RE_SEPARATOR,
  QUOTE_RE_RULE_LINE,
  QUOTE_RE_SIGNOFF,
  QUOTE_RE_MOBILE_FOOTER,
  QUOTE_RE_COUNT
} QuoteRe;

static const char *const quote_re_sources[QUOTE_RE_COUNT] = {
  [QUOTE_RE_ATTRIBUTION] =
    "^[>\\s]*(?:On\\s.{0,400}\\swrote|Am\\s.{0,400}\\sschrieb|Le\\s.{0,400}\\sa\\s+écrit"
    "|El\\s.{0,400}\\sescribió|Op\\s.{0,400}\\sschreef)\\s*:\\s*$",
  [QUOTE_RE_ATTRIBUTION_START] = "^[>\\s]*(?:On|Am|Le|El|Op)\\s",
  /* Yahoo: "On Thu, ..., 09:05 PM CDT, Name <a@b> wrote: Hi ..." on one line.
   * Needs an address or a clock time, so "On Monday you wrote: ..." is text. */
  [QUOTE_RE_ATTRIBUTION_INLINE] =
    "^[>\\s]*(?:On|Am|Le|El|Op)\\s(?=.{0,400}?(?:<[^>\\s]+@[^>\\s]+>|\\d{1,2}:\\d{2}))"
    ".{0,400}?\\s(?:wrote|schrieb|a\\s+écrit|escribió|schreef)\\s*:\\s*\\S",
  [QUOTE_RE_HEADER_FROM] = "^[>\\s]*\\*?(?:From|Von|De)\\s*:\\*?\\s*\\S",
  [QUOTE_RE_HEADER_SENT] = "^[>\\s]*\\*?(?:Sent|Date|Gesendet|Datum|Envoyé)\\s*:\\*?\\s*\\S",
  [QUOTE_RE_HEADER_OTHER] = "^[>\\s]*\\*?(?:To|Subject|Cc|An|Betreff|À|Objet)\\s*:",
  [QUOTE_RE_SEPARATOR] =
    "^[>\\s]*(?:-{2,}\\s*(?:Original Message|Forwarded message|Message d'origine"
    "|Ursprüngliche Nachricht|Weitergeleitete Nachricht)\\s*-*|Begin forwarded message:)\\s*$",
  [QUOTE_RE_RULE_LINE] = "^\\s*(?:_{8,}|-{8,})\\s*$",
  [QUOTE_RE_SIGNOFF] =
    "^\\s*(?:(?:many\\s+|big\\s+|with\\s+)?thanks(?:\\s+(?:so|very)\\s+much|\\s+again"
    "|\\s+a\\s+(?:lot|million|bunch)|\\s+in\\s+advance|\\s+(?:all|both|everyone|lovely))?"
    "|thank\\s+you+(?:\\s+(?:so|very)\\s+much|\\s+again|\\s+in\\s+advance)?|thx|ta"
    "|(?:best|kind|warm|warmest|kindest|many)(?:\\s+regards)?|regards|best\\s+wishes"
    "|all\\s+the\\s+best|cheers|speak\\s+soon|talk\\s+soon|love(?:\\s*(?:&|and)\\s*light)?"
    "|(?:yours\\s+)?(?:sincerely|faithfully|truly)|take\\s+care"
    "|(?:many\\s+)?blessings|(?:god\\s+)?bless(?:\\s+you)?|hugs|xoxo|warmly|respectfully"
    "|with\\s+(?:gratitude|thanks|love)|salamat(?:\\s+po)?|tack(?:\\s+så\\s+mycket)?"
    "|danke(?:\\s+schön)?|merci(?:\\s+beaucoup)?|gracias|mahalo|ngā\\s+mihi)"
    "(?:,?\\s+(?:dear|love|all|hon|friend|my\\s+friend|mate))?"
    "(?-i:\\s+\\p{Lu}\\p{Ll}+)?[\\s\\p{P}\\p{S}]*$",
  [QUOTE_RE_MOBILE_FOOTER] =
    "^\\s*(?:Sent\\s+from\\s+my\\s.{1,60}|Get\\s+Outlook\\s+for\\s.{1,80}"
    "|Sent\\s+from\\s+(?:Mail|Outlook|Yahoo\\s+Mail|Gmail)\\b.{0,80}"
    "|Sent\\s+from\\s+(?:the\\s+)?(?:all\\s+new\\s+)?(?:Yahoo|AOL)\\b.{0,80}"
    "|Yahoo\\s+Mail\\s*:.{0,80})\\s*$",
};

typedef struct {
  const char *start;
  gsize len;
  gboolean quoted;
} QuoteLine;

typedef struct {
  GArray *lines; /* owned, of QuoteLine */
  pcre2_match_data *match; /* owned */
  pcre2_match_context *context; /* owned */
  char *name_full; /* owned, case-folded, NULL when no sender name */
  char *name_first; /* owned, case-folded */
  char *name_initial; /* owned, case-folded first character */
} QuoteSplitter;

static gpointer quote_compile_all(gpointer unused)
{
  (void)unused;
  pcre2_code **codes = g_new0(pcre2_code *, QUOTE_RE_COUNT);
  for (guint i = 0; i < QUOTE_RE_COUNT; i++) {
    int code = 0;
    PCRE2_SIZE offset = 0;
    codes[i] = pcre2_compile((PCRE2_SPTR)quote_re_sources[i], PCRE2_ZERO_TERMINATED,
                             PCRE2_CASELESS | PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF,
                             &code, &offset, NULL);
    g_assert(codes[i] != NULL);
    pcre2_jit_compile(codes[i], PCRE2_JIT_COMPLETE);
  }
  return codes;
}

/* The compiled patterns: built on first use, read-only after. */
static pcre2_code *const *quote_patterns(void)
{
  static GOnce once = G_ONCE_INIT;
  return g_once(&once, quote_compile_all, NULL);
}

static gboolean quote_match(QuoteSplitter *s, QuoteRe re, const char *text, gsize len)
{
  return pcre2_match(quote_patterns()[re], (PCRE2_SPTR)text, len, 0, 0, s->match,
                     s->context) >= 0;
}

static gboolean quote_line_matches(QuoteSplitter *s, QuoteRe re, guint i)
{
  const QuoteLine *line = &g_array_index(s->lines, QuoteLine, i);
  return quote_match(s, re, line->start, line->len);
}

static const QuoteLine *quote_line(const QuoteSplitter *s, guint i)
{
  return &g_array_index(s->lines, QuoteLine, i);
}

static gboolean quote_line_is_blank(const QuoteSplitter *s, guint i)
{
  const QuoteLine *line = quote_line(s, i);
  for (gsize k = 0; k < line->len; k++)
    if (!g_ascii_isspace(line->start[k]))
      return FALSE;
  return TRUE;
}

static gboolean quote_line_is_quoted(const QuoteSplitter *s, guint i)
{
  const QuoteLine *line = quote_line(s, i);
  gsize k = line->len > 0 && line->start[0] == ' ' ? 1 : 0;
  return k < line->len && line->start[k] == '>';
}

/* Splits `body` into lines, dropping a CR before each LF. */
static void quote_split_lines(QuoteSplitter *s, const char *body)
{
  const char *p = body;
  while (*p != '\0') {
    const char *nl = strchr(p, '\n');
    gsize len = nl != NULL ? (gsize)(nl - p) : strlen(p);
    QuoteLine line = { .start = p, .len = len };
    if (len > 0 && p[len - 1] == '\r')
      line.len--;
    g_array_append_val(s->lines, line);
    if (nl == NULL)
      break;
    p = nl + 1;
  }
}

/* When line `i` starts an attribution ("On ... wrote:", possibly folded over
 * up to three lines), returns how many lines it spans, else 0. `*inline_quote`
 * is set when the quoted text starts on its last line, after "wrote:"
 * (Yahoo), so that everything from line `i` down is quoted. */
static guint quote_attribution_at(QuoteSplitter *s, guint i, gboolean *inline_quote)
{
  *inline_quote = FALSE;
  if (!quote_line_matches(s, QUOTE_RE_ATTRIBUTION_START, i))
    return 0;
  g_autoptr(GString) joined = g_string_new(NULL);
  for (guint k = 0; k < 3 && i + k < s->lines->len; k++) {
    if (k > 0 && quote_line_is_blank(s, i + k))
      break;
    const QuoteLine *line = quote_line(s, i + k);
    if (k > 0)
      g_string_append_c(joined, ' ');
    g_string_append_len(joined, line->start, MIN(line->len, 600));
    if (quote_match(s, QUOTE_RE_ATTRIBUTION, joined->str, joined->len))
      return k + 1;
    if (quote_match(s, QUOTE_RE_ATTRIBUTION_INLINE, joined->str, joined->len)) {
      *inline_quote = TRUE;
      return k + 1;
    }
  }
  return 0;
}

/* TRUE when line `i` is "From:" and a "Sent:"/"Date:" line and a "To:"/
 * "Subject:" line follow within QUOTE_HEADER_BLOCK_LINES lines. */
static gboolean quote_header_block_at(QuoteSplitter *s, guint i)
{
  if (!quote_line_matches(s, QUOTE_RE_HEADER_FROM, i))
    return FALSE;
  gboolean sent = FALSE, other = FALSE;
  for (guint k = i + 1; k < s->lines->len && k <= i + QUOTE_HEADER_BLOCK_LINES; k++) {
    sent = sent || quote_line_matches(s, QUOTE_RE_HEADER_SENT, k);
    other = other || quote_line_matches(s, QUOTE_RE_HEADER_OTHER, k);
  }
  return sent && other;
}

/* TRUE when the quoted part of the body starts at line `i` and runs to the
 * end: a forward/original-message separator, a header block, or a rule line
 * ("____", "-----") directly above a header block. */
static gboolean quote_rest_quoted_at(QuoteSplitter *s, guint i)
{
  if (quote_line_matches(s, QUOTE_RE_SEPARATOR, i) || quote_header_block_at(s, i))
    return TRUE;
  if (!quote_line_matches(s, QUOTE_RE_RULE_LINE, i))
    return FALSE;
  for (guint k = i + 1; k < s->lines->len && k <= i + 2; k++)
    if (quote_header_block_at(s, k))
      return TRUE;
  return FALSE;
}

static void quote_mark_from(QuoteSplitter *s, guint first, guint end)
{
  for (guint k = first; k < end && k < s->lines->len; k++)
    g_array_index(s->lines, QuoteLine, k).quoted = TRUE;
}

/* TRUE when a '>' line comes within the first few non-blank lines from
 * `from` (then an attribution above them introduces '>' quoting; else the
 * quoted message follows it unmarked, as Outlook writes it). */
static gboolean quote_quoted_lines_follow(const QuoteSplitter *s, guint from)
{
  guint seen = 0;
  for (guint k = from; k < s->lines->len && seen < 4; k++) {
    if (quote_line_is_blank(s, k))
      continue;
    if (quote_line_is_quoted(s, k))
      return TRUE;
    seen++;
  }
  return FALSE;
}

/* Step 1: marks the QUOTED lines. */
static void quote_classify(QuoteSplitter *s)
{
  guint n = s->lines->len;
  for (guint i = 0; i < n; i++) {
    if (quote_line_is_quoted(s, i)) {
      quote_mark_from(s, i, i + 1);
      continue;
    }
    if (quote_line_is_blank(s, i))
      continue;
    gboolean inline_quote = FALSE;
    guint span = quote_attribution_at(s, i, &inline_quote);
    if (span > 0) {
      gboolean marked_below = !inline_quote && quote_quoted_lines_follow(s, i + span);
      quote_mark_from(s, i, marked_below ? i + span : n);
      i += span - 1;
      continue;
    }
    if (quote_rest_quoted_at(s, i)) {
      quote_mark_from(s, i, n);
      return;
    }
  }
}

/* The line case-folded, without trailing punctuation, symbols, emoji or
 * kisses ("Amelia x", "R ✨", "Tom."); NULL when it is too long to be a name. */
static char *quote_name_key(const QuoteLine *line)
{
  if (line->len == 0 || line->len > 60 || !g_utf8_validate(line->start, line->len, NULL))
    return NULL;
  g_autofree char *text = g_strndup(line->start, line->len);
  for (guint round = 0; round < 2; round++) {
    char *end = text + strlen(text);
    while (end > text) {
      char *prev = g_utf8_find_prev_char(text, end);
      if (prev == NULL || g_unichar_isalnum(g_utf8_get_char(prev)))
        break;
      end = prev;
    }
    *end = '\0';
    char *space = strrchr(text, ' ');
    if (round == 0 && space != NULL && strspn(space + 1, "xX") == strlen(space + 1))
      *space = '\0';
  }
  g_strstrip(text);
  return text[0] != '\0' ? g_utf8_casefold(text, -1) : NULL;
}

static gboolean quote_is_name_line(const QuoteSplitter *s, const QuoteLine *line)
{
  if (s->name_full == NULL)
    return FALSE;
  g_autofree char *key = quote_name_key(line);
  if (key == NULL)
    return FALSE;
  if (g_str_equal(key, s->name_first) || g_str_equal(key, s->name_initial))
    return TRUE;
  /* the full name or its first words ("Brenda Sue" of "Brenda Sue Tillman") */
  gsize len = strlen(key);
  return g_str_has_prefix(s->name_full, key)
    && (s->name_full[len] == '\0' || s->name_full[len] == ' ');
}

/* TRUE for "--" or "-- " alone on a line. */
static gboolean quote_is_delimiter(const QuoteLine *line)
{
  return (line->len == 2 || (line->len == 3 && line->start[2] == ' ')) &&
         line->start[0] == '-' && line->start[1] == '-';
}

/* Non-empty lines among news[from..to). */
static guint quote_count_nonblank(const QuoteSplitter *s, const GArray *news, guint from, guint to)
{
  guint count = 0;
  for (guint j = from; j < to; j++)
    if (!quote_line_is_blank(s, g_array_index(news, guint, j)))
      count++;
  return count;
}

/* TRUE when news[j] (before `limit`) can start a signature: a sign-off line
 * followed by a short line (a name) or nothing, the sender's name, or a
 * mobile footer. */
static gboolean quote_is_signature_start(QuoteSplitter *s, const GArray *news, guint j, guint limit)
{
  guint i = g_array_index(news, guint, j);
  const QuoteLine *line = quote_line(s, i);
  if (line->len > 120)
    return FALSE;
  if (quote_is_name_line(s, line) || quote_line_matches(s, QUOTE_RE_MOBILE_FOOTER, i))
    return TRUE;
  if (!quote_line_matches(s, QUOTE_RE_SIGNOFF, i))
    return FALSE;
  for (guint k = j + 1; k < limit; k++) {
    guint next = g_array_index(news, guint, k);
    if (quote_line_is_blank(s, next))
      continue;
    const QuoteLine *after = quote_line(s, next);
    return after->len <= 40 && after->start[after->len - 1] != '?';
  }
  return TRUE;
}

/* The first "-- " delimiter in news, or news->len. A bare "--" counts only
 * with few lines after it. */
static guint quote_find_delimiter(const QuoteSplitter *s, const GArray *news)
{
  for (guint j = 0; j < news->len; j++) {
    const QuoteLine *line = quote_line(s, g_array_index(news, guint, j));
    if (!quote_is_delimiter(line))
      continue;
    if (line->len == 3 || quote_count_nonblank(s, news, j + 1, news->len) <= 20)
      return j;
  }
  return news->len;
}

/* TRUE for a short line that is not a sentence ("Operations Manager",
 * "T: 0115 496 0734"): what sits between a sign-off and a mobile footer. */
static gboolean quote_is_signature_like(const QuoteLine *line)
{
  if (line->len > 60)
    return FALSE;
  char last = line->start[line->len - 1];
  return last != '.' && last != '?' && last != '!';
}

/* The position in `news` of its first non-blank line (news->len: none). */
static guint quote_first_nonblank(const QuoteSplitter *s, const GArray *news)
{
  guint j = 0;
  while (j < news->len && quote_line_is_blank(s, g_array_index(news, guint, j)))
    j++;
  return j;
}

/* Step 2: the position in `news` where the signature starts (news->len:
 * none). The last signature start near the end wins; then earlier ones join
 * it across blank lines and short non-sentence lines (a name, a title). The
 * first line of the new text never starts a signature: a notice whose first
 * line is the sender's name ("TripSlate") is not a signature whole. */
static guint quote_find_signature(QuoteSplitter *s, const GArray *news)
{
  guint limit = quote_find_delimiter(s, news);
  guint floor = quote_first_nonblank(s, news) + 1;
  guint start = limit;
  guint nonblank = 0;
  for (guint j = limit; j-- > floor && nonblank <= QUOTE_SIGNATURE_MAX_LINES;) {
    if (quote_line_is_blank(s, g_array_index(news, guint, j)))
      continue;
    if (quote_is_signature_start(s, news, j, limit)) {
      start = j;
      break;
    }
    nonblank++;
  }
  for (guint j = start; start < limit && j-- > floor && nonblank <= QUOTE_SIGNATURE_MAX_LINES;) {
    if (quote_line_is_blank(s, g_array_index(news, guint, j)))
      continue;
    nonblank++;
    if (quote_is_signature_start(s, news, j, limit))
      start = j;
    else if (!quote_is_signature_like(quote_line(s, g_array_index(news, guint, j))))
      break;
  }
  return start;
}

/* Joins lines[indices[from..to)] with "\n", without blank lines at either
 * end or two in a row. */
static char *quote_join(const QuoteSplitter *s, const GArray *indices, guint from, guint to)
{
  while (from < to && quote_line_is_blank(s, g_array_index(indices, guint, from)))
    from++;
  while (to > from && quote_line_is_blank(s, g_array_index(indices, guint, to - 1)))
    to--;
  GString *out = g_string_new(NULL);
  gboolean previous_blank = FALSE;
  for (guint j = from; j < to; j++) {
    guint i = g_array_index(indices, guint, j);
    gboolean blank = quote_line_is_blank(s, i);
    if (blank && previous_blank)
      continue;
    const QuoteLine *line = quote_line(s, i);
    if (j > from)
      g_string_append_c(out, '\n');
    g_string_append_len(out, line->start, line->len);
    previous_blank = blank;
  }
  return g_string_free(out, FALSE);
}

static void quote_set_sender(QuoteSplitter *s, const char *sender_name)
{
  if (sender_name == NULL)
    return;
  g_autofree char *name = g_strdup(sender_name);
  g_strdelimit(name, "\"'", ' ');
  g_strstrip(name);
  if (name[0] == '\0' || strchr(name, '@') != NULL || !g_utf8_validate(name, -1, NULL))
    return;
  s->name_full = g_utf8_casefold(name, -1);
  char *space = strchr(s->name_full, ' ');
  s->name_first = space != NULL ? g_strndup(s->name_full, space - s->name_full)
                                : g_strdup(s->name_full);
  s->name_initial = g_strndup(s->name_first, g_utf8_next_char(s->name_first) - s->name_first);
}

static void quote_splitter_clear(QuoteSplitter *s)
{
  g_array_unref(s->lines);
  pcre2_match_data_free(s->match);
  pcre2_match_context_free(s->context);
  g_free(s->name_full);
  g_free(s->name_first);
  g_free(s->name_initial);
}

void quote_split(const char *body, const char *sender_name, char **new_text,
                 char **quoted_text, char **signature)
{
  QuoteSplitter s = {
    .lines = g_array_new(FALSE, FALSE, sizeof(QuoteLine)),
    .match = pcre2_match_data_create(4, NULL),
    .context = pcre2_match_context_create(NULL),
  };
  pcre2_set_match_limit(s.context, 200000);
  pcre2_set_depth_limit(s.context, 2000);
  quote_set_sender(&s, sender_name);
  quote_split_lines(&s, body != NULL ? body : "");
  quote_classify(&s);

  g_autoptr(GArray) news = g_array_new(FALSE, FALSE, sizeof(guint));
  g_autoptr(GArray) quoted = g_array_new(FALSE, FALSE, sizeof(guint));
  for (guint i = 0; i < s.lines->len; i++)
    g_array_append_val(quote_line(&s, i)->quoted ? quoted : news, i);
  guint signature_start = quote_find_signature(&s, news);
  *new_text = quote_join(&s, news, 0, signature_start);
  *signature = quote_join(&s, news, signature_start, news->len);
  *quoted_text = quote_join(&s, quoted, 0, quoted->len);
  quote_splitter_clear(&s);
}

/* ---- format=flowed (RFC 3676) ---- */

/* The quote depth of a flowed line (its leading '>'s) and, after them and
 * one stuffing space, where its content starts. */
static gsize quote_flowed_depth(const char *line, gsize len, gsize *content)
{
  gsize depth = 0;
  while (depth < len && line[depth] == '>')
    depth++;
  *content = depth < len && line[depth] == ' ' ? depth + 1 : depth;
  return depth;
}

/* Appends one physical line of a flowed body to `out`; `*open` says whether
 * the previous line was flowed into this one at the same depth. */
static void quote_unflow_line(GString *out, const char *line, gsize len, gboolean delsp,
                              gsize *open_depth, gboolean *open)
{
  if (len > 0 && line[len - 1] == '\r')
    len--;
  gsize content = 0;
  gsize depth = quote_flowed_depth(line, len, &content);
  if (*open && depth != *open_depth)
    g_string_append_c(out, '\n');
  if (!*open || depth != *open_depth) {
    for (gsize i = 0; i < depth; i++)
      g_string_append_c(out, '>');
    if (depth > 0)
      g_string_append_c(out, ' ');
  }
  const char *text = line + content;
  gsize text_len = len - content;
  gboolean signature = text_len == 3 && memcmp(text, "-- ", 3) == 0;
  gboolean flowed = !signature && text_len > 0 && text[text_len - 1] == ' ';
  g_string_append_len(out, text, flowed && delsp ? text_len - 1 : text_len);
  if (!flowed)
    g_string_append_c(out, '\n');
  *open = flowed;
  *open_depth = depth;
}

char *quote_unflow(const char *text, gboolean delsp)
{
  GString *out = g_string_sized_new(text != NULL ? strlen(text) : 0);
  gsize open_depth = 0;
  gboolean open = FALSE;
  const char *p = text != NULL ? text : "";
  while (*p != '\0') {
    const char *nl = strchr(p, '\n');
    gsize len = nl != NULL ? (gsize)(nl - p) : strlen(p);
    quote_unflow_line(out, p, len, delsp, &open_depth, &open);
    if (nl == NULL)
      break;
    p = nl + 1;
  }
  if (open)
    g_string_append_c(out, '\n');
  return g_string_free(out, FALSE);
}
