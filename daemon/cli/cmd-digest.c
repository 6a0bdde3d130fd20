/* daemon/cli/cmd-digest.c: `keel digest [--send] [--text|--html|--mime]` builds
 * the digest as of now (or the global --now TIME) and prints it: on a
 * terminal the plain text a person reads, into a pipe or file the MIME message
 * (multipart/alternative); --text, --html or --mime choose one explicitly;
 * --send queues it in the outbox for `[digest] to` (else the account's own
 * address); `keel outbox send` or the daemon delivers it.
 * Must not: send anything itself, or change anything but the outbox.
 */
#include <stdio.h>
#include <unistd.h>
#include "daemon/digest/digest.h"
#include "daemon/cli/store-cli.h"

typedef struct {
  const char *database;
  gboolean send, text, html, mime, explain;
} DigestCommandOptions;

static int cmd_digest_print(const Digest *digest, const KeelConfig *config,
                            const DigestCommandOptions *opt)
{
  gboolean text = opt->text || (!opt->html && !opt->mime && isatty(STDOUT_FILENO));
  g_autofree char *part = text ? digest_render_text(digest)
                          : opt->html ? digest_render_html(digest) : NULL;
  if (part) {
    fputs(part, stdout);
    return EX_OK;
  }
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) recipients = config ? digest_recipients(config, NULL) : NULL;
  const char *to = recipients && recipients[0] ? recipients[0] : "va@keel.invalid";
  const char *from = config && config->accounts->len
    ? ((const KeelAccount *)config->accounts->pdata[0])->user : "keel@keel.invalid";
  g_autoptr(GBytes) raw = digest_build_message(digest, from, to, NULL, &error);
  if (!raw) {
    fprintf(stderr, "keel digest: %s\n", error->message);
    return EX_DATAERR;
  }
  fwrite(g_bytes_get_data(raw, NULL), 1, g_bytes_get_size(raw), stdout);
  return EX_OK;
}

static int cmd_digest_send(Store *store, const KeelConfig *config, const Digest *digest)
{
  g_autoptr(GError) error = NULL;
  if (!config) {
    fprintf(stderr, "keel digest --send: needs a config (--config FILE) with an account\n");
    return EX_CONFIG;
  }
  int queued = digest_queue(store, config, digest, &error);
  if (queued < 0) {
    fprintf(stderr, "keel digest: %s\n", error->message);
    return error->domain == KEEL_DIGEST_ERROR ? EX_CONFIG : store_cli_exit_code(error);
  }
  g_autofree char *subject = digest_subject(digest);
  printf("digest queued for %d recipient(s): %s\n", queued, subject);
  return EX_OK;
}

static int cmd_digest_run(const KeelGlobals *globals, const DigestCommandOptions *opt)
{
  g_autoptr(KeelConfig) config = NULL;
  int rc = store_cli_load_config(globals, &config);
  if (rc != EX_OK)
    return rc;
  g_autoptr(Store) store = store_cli_open(opt->database, config, &rc);
  g_autoptr(GDateTime) now = store ? cli_now(globals) : NULL;
  if (!store || !now)
    return store ? EX_USAGE : rc;
  DigestOptions options;
  digest_options_from_config(&options, config);
  g_autoptr(GError) error = NULL;
  g_autoptr(Digest) digest = digest_gather(store, config, &options, now, &error);
  if (!digest) {
    fprintf(stderr, "keel digest: %s\n", error->message);
    return store_cli_exit_code(error);
  }
  digest->explain = opt->explain;
  return opt->send ? cmd_digest_send(store, config, digest) : cmd_digest_print(digest, config, opt);
}

int cmd_digest(int argc, char **argv)
{
  KeelGlobals globals = { 0 };
  g_autofree char *database = NULL;
  DigestCommandOptions opt = { 0 };
  const GOptionEntry entries[] = {
    { "send", 0, 0, G_OPTION_ARG_NONE, &opt.send,
      "Queue it in the outbox for [digest] to (keel outbox send delivers it)", NULL },
    { "text", 0, 0, G_OPTION_ARG_NONE, &opt.text, "Print only the plain text part", NULL },
    { "html", 0, 0, G_OPTION_ARG_NONE, &opt.html, "Print only the HTML part", NULL },
    { "explain", 'e', 0, G_OPTION_ARG_NONE, &opt.explain,
      "Show each risky thread's risk number beside its words", NULL },
    { "mime", 0, 0, G_OPTION_ARG_NONE, &opt.mime,
      "Print the whole MIME message (the default when stdout is not a terminal)", NULL },
    { "database", 'd', 0, G_OPTION_ARG_FILENAME, &database,
      "Database file (default: the config's database)", "PATH" },
    { NULL }
  };
  if (!cli_parse_options(&argc, &argv, NULL,
                         "Builds the digest of what needs you (risky threads, what is due,\n"
                         "who waits for a reply, what keel sent, problems) as of now or\n"
                         "--now TIME, and prints it (the text on a terminal, the MIME message\n"
                         "into a pipe), or queues it (--send).",
                         entries, &globals))
    return EX_USAGE;
  opt.database = database;
  int rc = EX_USAGE;
  if (argc > 1)
    fprintf(stderr, "keel digest: unexpected argument '%s' (see --help)\n", argv[1]);
  else
    rc = cmd_digest_run(&globals, &opt);
  cli_globals_clear(&globals);
  return rc;
}
