/* filters/html.h: private to the parser. HTML part -> plain text with
 * libxml2's HTML parser (never regex tag-stripping). Pure: no I/O. */
#pragma once

#include <glib.h>

/* Turns `len` bytes of UTF-8 HTML into plain UTF-8 text: block elements and
 * <br> become line breaks, <style>/<script>/<head> are skipped, link text is
 * kept, and the lines of a <blockquote> are prefixed with "> " so the quote
 * splitter sees them as quoted. Never NULL; the caller owns the result. */
char *html_to_text(const char *html, gsize len);

/* html_to_text() and html_template_trace() from one parse: `*trace` (may be
 * NULL: not looked for) gets the trace or NULL. */
char *html_to_text_traced(const char *html, gsize len, char **trace);

/* The first trace of a web application (template tool, shop, mailing tool)
 * in `len` bytes of HTML, as a short reason ("HTML generator mjml",
 * "template markup (class mcnTextContent)", "links to a mailing tool or shop
 * (cdn.shopify.com)"), or NULL. Markup a mail client writes (Outlook's
 * "Microsoft Word" generator, Gmail's divs) is no trace. Caller owns it. */
char *html_template_trace(const char *html, gsize len);
