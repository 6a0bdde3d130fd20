/* daemon/cli/cmd-parse.c: `keel parse FILE.eml... [--json]`: what the parser makes
 * of each message, one JSON object per line (`file` first, then the fields of
 * message_to_json()) or a short summary for people.
 *
 * Reads each file whole, except a file over the size limit: then only its
 * first KEEL_MESSAGE_HEAD_LIMIT bytes, enough for the header section
 * (message_parse_truncated()). The time received is the file's mtime. A file
 * that cannot be read or is not a message gets a one-line error on stderr and
 * the others still run; the exit status then says what went wrong (EX_NOINPUT
 * before EX_DATAERR). Never writes anything but stdout and stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include "daemon/base/commands.h"
#include "filters/message.h"
#include "filters/json-out.h"

typedef struct {
  gboolean json;
  gint64 max_size;
} ParseOptions;

/* The first `limit` bytes of `path` (for an over-size message). */
static gboolean cmd_parse_read_head(const char *path, gsize limit, char **data, gsize *len,
                                    GError **error)
{
  FILE *file = g_fopen(path, "rb");
  if (file == NULL) {
    int saved = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "%s", g_strerror(saved));
    return FALSE;
  }
  *data = g_malloc(limit + 1);
  *len = fread(*data, 1, limit, file);
  (*data)[*len] = '\0';
  gboolean ok = !ferror(file);
  fclose(file);
  if (!ok) {
    g_clear_pointer(data, g_free);
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_IO, "read error");
  }
  return ok;
}

/* Reads and parses one file. Returns 0, EX_NOINPUT or EX_DATAERR. */
static int cmd_parse_load(const char *path, gsize max_size, KeelMessage **out, GError **error)
{
  GStatBuf st;
  if (g_stat(path, &st) != 0) {
    int saved = errno;
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(saved), "%s", g_strerror(saved));
    return EX_NOINPUT;
  }
  if (!S_ISREG(st.st_mode)) {
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "not a regular file");
    return EX_NOINPUT;
  }
  g_autoptr(GDateTime) received = g_date_time_new_from_unix_utc(st.st_mtime);
  g_autofree char *data = NULL;
  gsize len = 0;
  gboolean over = (guint64)st.st_size > max_size;
  gboolean read = over ? cmd_parse_read_head(path, KEEL_MESSAGE_HEAD_LIMIT, &data, &len, error)
                       : g_file_get_contents(path, &data, &len, error);
  if (!read)
    return EX_NOINPUT;
  *out = over ? message_parse_truncated((const guint8 *)data, len, st.st_size, received, error)
              : message_parse((const guint8 *)data, len, received, max_size, error);
  return *out != NULL ? 0 : EX_DATAERR;
}

static void cmd_parse_print_json(const char *path, const KeelMessage *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new();
  json_builder_begin_object(builder);
  json_out_string(builder, "file", path);
  message_to_json(message, builder);
  json_builder_end_object(builder);
  g_autoptr(JsonNode) root = json_builder_get_root(builder);
  g_autofree char *text = json_to_string(root, FALSE);
  puts(text);
}

static void cmd_parse_print_summary(const char *path, const KeelMessage *message)
{
  g_autofree char *date = g_date_time_format(message->date, "%Y-%m-%d %H:%M:%S UTC");
  printf("%s\n", path);
  printf("  from:     %s <%s>\n", message->from ? message->from->name : "",
         message->from ? message->from->address : "");
  printf("  date:     %s%s\n", date, message->date_fallback ? " (no usable Date: time received)" : "");
  printf("  subject:  %s\n", message->subject);
  printf("  id:       %s%s\n", message->message_id, message->message_id_derived ? " (derived)" : "");
  printf("  text:     %zu bytes new, %zu quoted, %zu signature%s\n", strlen(message->new_text),
         strlen(message->quoted_text), strlen(message->signature),
         message->too_large ? " (too large: headers only)" : "");
  printf("  attached: %u; automated: %s\n", message->attachments->len,
         message->automated ? message->automated_reason : "no");
}

int cmd_parse(int argc, char **argv)
{
  ParseOptions options = { .max_size = KEEL_MESSAGE_DEFAULT_MAX_SIZE };
  KeelGlobals globals = { 0 };
  const GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &options.json, "One JSON object per line", NULL },
    { "max-size", 0, 0, G_OPTION_ARG_INT64, &options.max_size,
      "Messages larger than this many bytes are parsed for headers only (default 25 MB)", "BYTES" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, "FILE.eml...", "Show what keel reads in each message.",
                         entries, &globals))
    return EX_USAGE;
  cli_globals_clear(&globals);
  if (argc < 2 || options.max_size <= 0) {
    fprintf(stderr, "keel parse: give at least one FILE.eml (and a positive --max-size)\n");
    return EX_USAGE;
  }
  int status = 0;
  for (int i = 1; i < argc; i++) {
    g_autoptr(KeelMessage) message = NULL;
    g_autoptr(GError) error = NULL;
    int result = cmd_parse_load(argv[i], (gsize)options.max_size, &message, &error);
    if (result != 0) {
      fprintf(stderr, "keel parse: %s: %s: %s\n", argv[i],
              result == EX_NOINPUT ? "cannot read it" : "not a message", error->message);
      status = (status == EX_NOINPUT || result == EX_NOINPUT) ? EX_NOINPUT : EX_DATAERR;
      continue;
    }
    if (options.json)
      cmd_parse_print_json(argv[i], message);
    else
      cmd_parse_print_summary(argv[i], message);
  }
  return status;
}
