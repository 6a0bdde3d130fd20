/* filters/html.c: the text of an HTML part, for messages that have no
 * text/plain part.
 *
 * How it works: libxml2's forgiving HTML parser (htmlReadMemory with RECOVER,
 * NONET, no error output) builds a tree; html_to_text() walks it without
 * recursion (so a deeply nested document cannot exhaust the stack) and writes
 * text into a GString the way a mail client would show it: runs of white space
 * collapse to one space, block elements (p, div, li, tr, h1...) start and end
 * lines, <br> breaks a line, table cells are separated by a space, <style>,
 * <script>, <head> and comments are skipped, lines inside <blockquote> get
 * one "> " per level so quote.c can tell them from new text, and list items
 * keep their markers ("- " in <ul>, "1. ", "2. " in <ol>, two spaces of
 * indent per nested list) so "1. the flyer 2. the menu" stays two tasks.
 *
 * html_template_trace() walks the same kind of tree for the traces web
 * applications leave in the mail they generate (a <meta name="generator">
 * naming a template tool or shop, Mailchimp's mc:edit and mcn* classes,
 * MJML's mj-* classes, a hidden preheader, images and links on the hosts of
 * mailing tools and shops), for automated.c.
 *
 * Entry points: html_to_text(), html_template_trace(). Must never touch the
 * network (NONET) or print libxml2 diagnostics.
 */
#include "filters/html.h"

#include <stdlib.h>
#include <string.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

/* Deepest list nesting that gets its own indent and counter. */
#define HTML_MAX_LISTS 32

typedef struct {
  GString *out;
  guint quote_depth; /* open <blockquote> elements */
  guint list_depth;  /* open <ul>/<ol> elements */
  int list_counter[HTML_MAX_LISTS]; /* per open list: 0 for <ul>, else the next number */
  gboolean pending_marker; /* an <li> was entered: its marker goes before its first text */
  gboolean line_has_text; /* something visible written since the last newline */
  gboolean pending_space; /* white space seen; written before the next word */
} HtmlWriter;

static const char *const html_block_elements[] = {
  "p", "div", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6",
  "pre", "hr", "section", "article", "header", "footer", "dd", "dt", "dl", "address",
  "center", "form", "fieldset", "nav", "aside", "main", "figure", "caption", "tbody",
  "thead", "tfoot", "blockquote", NULL,
};

/* libxml2's HTML parser lower-cases element names, so plain strcmp. */
static gboolean html_name_in(const xmlChar *name, const char *const *names)
{
  for (guint i = 0; names[i] != NULL; i++)
    if (name[0] == (xmlChar)names[i][0] && strcmp((const char *)name, names[i]) == 0)
      return TRUE;
  return FALSE;
}

static gboolean html_is_block(const xmlNode *node)
{
  return html_name_in(node->name, html_block_elements);
}

static gboolean html_is_skipped(const xmlNode *node)
{
  static const char *const skipped[] = { "style", "script", "head", "title", "noscript",
                                         "template", "object", "svg", NULL };
  return html_name_in(node->name, skipped);
}

static gboolean html_is(const xmlNode *node, const char *name)
{
  return strcmp((const char *)node->name, name) == 0;
}

/* Starts a new line (once: never two in a row from block boundaries). */
static void html_end_line(HtmlWriter *w)
{
  if (w->line_has_text)
    g_string_append_c(w->out, '\n');
  w->line_has_text = FALSE;
  w->pending_space = FALSE;
}

/* A hard line break (<br>): always writes a newline, even on an empty line. */
static void html_break_line(HtmlWriter *w)
{
  g_string_append_c(w->out, '\n');
  w->line_has_text = FALSE;
  w->pending_space = FALSE;
}

/* "- " or "N. " for the list item just entered, indented by nesting. */
static void html_write_marker(HtmlWriter *w)
{
  guint level = MIN(w->list_depth, HTML_MAX_LISTS);
  for (guint i = 1; i < level; i++)
    g_string_append(w->out, "  ");
  int *counter = level > 0 ? &w->list_counter[level - 1] : NULL;
  if (counter != NULL && *counter > 0)
    g_string_append_printf(w->out, "%d. ", (*counter)++);
  else
    g_string_append(w->out, "- ");
  w->pending_marker = FALSE;
}

static void html_start_text(HtmlWriter *w)
{
  if (!w->line_has_text) {
    for (guint i = 0; i < w->quote_depth; i++)
      g_string_append(w->out, "> ");
    if (w->pending_marker)
      html_write_marker(w);
    w->line_has_text = TRUE;
  } else if (w->pending_space) {
    g_string_append_c(w->out, ' ');
  }
  w->pending_space = FALSE;
}

/* Appends a text node's content with white space collapsed. */
static void html_write_text(HtmlWriter *w, const char *text)
{
  const char *p = text;
  while (*p != '\0') {
    if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f') {
      w->pending_space = TRUE;
      p++;
      continue;
    }
    const char *word = p;
    while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\f')
      p++;
    html_start_text(w);
    g_string_append_len(w->out, word, p - word);
  }
}

static void html_leave(HtmlWriter *w, const xmlNode *node);

/* The first number of an <ol> (its start attribute, else 1). */
static int html_list_start(const xmlNode *node)
{
  xmlChar *start = xmlGetProp(node, (const xmlChar *)"start");
  int value = start != NULL ? atoi((const char *)start) : 1;
  xmlFree(start);
  return value > 0 && value < 100000 ? value : 1;
}

/* <ul>/<ol> open a list level; <li> asks for its marker before its text. */
static void html_enter_list(HtmlWriter *w, const xmlNode *node)
{
  if (html_is(node, "ul") || html_is(node, "ol")) {
    if (w->list_depth < HTML_MAX_LISTS)
      w->list_counter[w->list_depth] = html_is(node, "ol") ? html_list_start(node) : 0;
    w->list_depth++;
  } else if (html_is(node, "li")) {
    w->pending_marker = TRUE;
  }
}

/* Called when the walk enters `node`. Returns TRUE to descend into its
 * children (html_leave() follows after them); an element without children is
 * left at once. */
static gboolean html_enter(HtmlWriter *w, const xmlNode *node)
{
  if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
    if (node->content != NULL)
      html_write_text(w, (const char *)node->content);
    return FALSE;
  }
  if (node->type != XML_ELEMENT_NODE || html_is_skipped(node))
    return FALSE;
  if (html_is(node, "br")) {
    html_break_line(w);
    return FALSE;
  }
  if (html_is(node, "td") || html_is(node, "th"))
    w->pending_space = w->line_has_text;
  if (html_is_block(node))
    html_end_line(w);
  if (html_is(node, "blockquote"))
    w->quote_depth++;
  html_enter_list(w, node);
  if (node->children != NULL)
    return TRUE;
  html_leave(w, node);
  return FALSE;
}

/* Called when the walk leaves an element it descended into. */
static void html_leave(HtmlWriter *w, const xmlNode *node)
{
  if (node->type != XML_ELEMENT_NODE)
    return;
  if (html_is_block(node))
    html_end_line(w);
  if (html_is(node, "blockquote") && w->quote_depth > 0)
    w->quote_depth--;
  if ((html_is(node, "ul") || html_is(node, "ol")) && w->list_depth > 0)
    w->list_depth--;
  if (html_is(node, "li"))
    w->pending_marker = FALSE;
}

/* Walks the tree under `root` depth-first without recursion. */
static void html_walk(HtmlWriter *w, const xmlNode *root)
{
  const xmlNode *node = root->children;
  while (node != NULL) {
    if (html_enter(w, node)) {
      node = node->children;
      continue;
    }
    while (node != NULL && node != root && node->next == NULL) {
      node = node->parent;
      if (node != root)
        html_leave(w, node);
    }
    if (node == NULL || node == root)
      break;
    node = node->next;
  }
}

/* Drops trailing white space (and no-break spaces) from every line and keeps
 * at most one empty line in a row. Returns a new string. */
static char *html_tidy_lines(const GString *text)
{
  GString *out = g_string_sized_new(text->len);
  guint blank_run = 0;
  const char *p = text->str;
  const char *end = text->str + text->len;
  while (p < end) {
    const char *nl = memchr(p, '\n', end - p);
    const char *line_end = nl != NULL ? nl : end;
    const char *last = line_end;
    while (last > p && (last[-1] == ' ' || last[-1] == '\t' ||
                        (last - p >= 2 && (guchar)last[-2] == 0xC2 && (guchar)last[-1] == 0xA0)))
      last -= (last[-1] == ' ' || last[-1] == '\t') ? 1 : 2;
    if (last == p) {
      blank_run++;
    } else {
      if (out->len > 0)
        g_string_append(out, blank_run > 0 ? "\n\n" : "\n");
      g_string_append_len(out, p, last - p);
      blank_run = 0;
    }
    p = nl != NULL ? nl + 1 : end;
  }
  return g_string_free(out, FALSE);
}

static char *html_find_trace(const xmlNode *root);

char *html_to_text(const char *html, gsize len)
{
  return html_to_text_traced(html, len, NULL);
}

char *html_to_text_traced(const char *html, gsize len, char **trace)
{
  if (trace != NULL)
    *trace = NULL;
  if (html == NULL || len == 0 || len > G_MAXINT)
    return g_strdup("");
  htmlDocPtr doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
                                  HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                  HTML_PARSE_NONET | HTML_PARSE_RECOVER |
                                  HTML_PARSE_NOIMPLIED);
  if (doc == NULL)
    return g_strdup("");
  g_autoptr(GString) out = g_string_sized_new(len / 4 + 16);
  HtmlWriter writer = { .out = out };
  html_walk(&writer, (const xmlNode *)doc);
  if (trace != NULL)
    *trace = html_find_trace((const xmlNode *)doc);
  xmlFreeDoc(doc);
  return html_tidy_lines(out);
}

/* ---- traces of web applications (html_template_trace) ---- */

/* Words in a <meta name="generator"> that name a template tool, a shop or
 * a booking system, never a mail client (Outlook writes "Microsoft Word 15",
 * which stays unmatched). Lower case. */
static const char *const html_app_generators[] = {
  "mjml", "mailchimp", "shopify", "woocommerce", "wordpress", "klaviyo", "sendgrid",
  "mailjet", "sendinblue", "brevo", "mailerlite", "campaign monitor", "createsend",
  "constant contact", "activecampaign", "convertkit", "hubspot", "squarespace", "wix",
  "bigcommerce", "magento", "prestashop", "ecwid", "stripo", "beefree", "bee free",
  "unlayer", "acuity", "calendly", "eventbrite", "mailpoet", "mautic", "sendy",
  "zoho campaigns", "exacttarget", "salesforce", "marketo", "pardot", "braze", "customer.io",
  "postmark", "mandrill", "drupal", "joomla", "odoo", NULL,
};

/* Hosts of mailing tools and shops in links and images (a client writing by
 * hand does not link to them). */
static const char *const html_app_hosts[] = {
  "list-manage.com", "mcusercontent.com", "mailchimp.com", "cdn.shopify.com",
  "klaviyomail.com", "klaviyo.com", "sendgrid.net", "mandrillapp.com", "createsend",
  ".cmail", "mailjet.com", "sendibt", "sendinblue.com", "mlsend.com", "ctctcdn.com",
  "rs6.net", "convertkit-mail", "mailerlite.com", "squarespace-mail.com", "exct.net",
  NULL,
};

/* A short description of what `value` (lower case) contains from `words`, or NULL. */
static const char *html_contains_any(const char *value, const char *const *words)
{
  for (guint i = 0; words[i] != NULL; i++)
    if (strstr(value, words[i]) != NULL)
      return words[i];
  return NULL;
}

/* The lower-cased value of attribute `name` of `node`, or NULL. */
static char *html_attr_lower(const xmlNode *node, const char *name)
{
  xmlChar *value = xmlGetProp(node, (const xmlChar *)name);
  if (value == NULL)
    return NULL;
  char *lower = g_ascii_strdown((const char *)value, -1);
  xmlFree(value);
  return lower;
}

static char *html_trace_meta(const xmlNode *node)
{
  g_autofree char *name = html_attr_lower(node, "name");
  if (name == NULL || strcmp(name, "generator") != 0)
    return NULL;
  g_autofree char *content = html_attr_lower(node, "content");
  const char *word = content != NULL ? html_contains_any(content, html_app_generators) : NULL;
  return word != NULL ? g_strdup_printf("HTML generator %s", word) : NULL;
}

static char *html_trace_classes(const xmlNode *node)
{
  if (xmlHasProp(node, (const xmlChar *)"mc:edit") != NULL)
    return g_strdup("Mailchimp template markup (mc:edit)");
  g_autofree char *classes = html_attr_lower(node, "class");
  if (classes == NULL)
    return NULL;
  g_auto(GStrv) words = g_strsplit_set(classes, " \t\r\n", -1);
  for (guint i = 0; words[i] != NULL; i++) {
    if (g_str_has_prefix(words[i], "mcn") || g_str_has_prefix(words[i], "mj-"))
      return g_strdup_printf("template markup (class %s)", words[i]);
    if (strstr(words[i], "preheader") != NULL)
      return g_strdup("template markup (hidden preheader)");
  }
  return NULL;
}

static char *html_trace_links(const xmlNode *node)
{
  static const char *const attributes[] = { "href", "src", NULL };
  for (guint i = 0; attributes[i] != NULL; i++) {
    g_autofree char *url = html_attr_lower(node, attributes[i]);
    const char *host = url != NULL ? html_contains_any(url, html_app_hosts) : NULL;
    if (host != NULL)
      return g_strdup_printf("links to a mailing tool or shop (%s)", host);
  }
  return NULL;
}

/* The trace `node` carries, or NULL. */
static char *html_trace_of(const xmlNode *node)
{
  if (node->type != XML_ELEMENT_NODE)
    return NULL;
  char *trace = html_is(node, "meta") ? html_trace_meta(node) : NULL;
  if (trace == NULL)
    trace = html_trace_classes(node);
  if (trace == NULL && (html_is(node, "a") || html_is(node, "img")))
    trace = html_trace_links(node);
  return trace;
}

/* Depth-first over every node under `root`, without recursion, until one
 * carries a trace. */
static char *html_find_trace(const xmlNode *root)
{
  const xmlNode *node = root->children;
  while (node != NULL) {
    char *trace = html_trace_of(node);
    if (trace != NULL)
      return trace;
    if (node->children != NULL && node->type == XML_ELEMENT_NODE) {
      node = node->children;
      continue;
    }
    while (node != NULL && node != root && node->next == NULL)
      node = node->parent;
    if (node == NULL || node == root)
      break;
    node = node->next;
  }
  return NULL;
}

char *html_template_trace(const char *html, gsize len)
{
  if (html == NULL || len == 0 || len > G_MAXINT)
    return NULL;
  htmlDocPtr doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
                                  HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                  HTML_PARSE_NONET | HTML_PARSE_RECOVER |
                                  HTML_PARSE_NOIMPLIED);
  if (doc == NULL)
    return NULL;
  char *trace = html_find_trace((const xmlNode *)doc);
  xmlFreeDoc(doc);
  return trace;
}
