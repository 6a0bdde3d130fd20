/* tests/unit/test-config.c: keel.conf loading (daemon/base/config.c) and
 * `keel config check`: a good file gives the right values, each kind of bad
 * file gives the right `file:line: message`, password files and commands
 * behave, and no secret ever reaches an error message.
 * Fixtures: the .conf files in tests/data/config/. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <sys/wait.h>
#include <unistd.h>
#include "daemon/base/config.h"
#include "daemon/cli/store-cli.h"
#include "daemon/ingest/pipeline.h"
#include "daemon/record/verdict.h"

#define SECRET "hunter2"

static char *fixture(const char *name)
{
  return g_test_build_filename(G_TEST_DIST, "data", "config", name, NULL);
}

/* Every error message a test sees goes through here. */
static void assert_no_secret(const GError *error)
{
  if (error) {
    g_assert_null(strstr(error->message, SECRET));
    g_assert_null(strstr(error->message, "not-a-real-secret"));
  }
}

static void test_good(void)
{
  g_autofree char *path = fixture("good.conf");
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load(path, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(config->database, ==, "/tmp/keel-test/keel.db");
  g_assert_cmpstr(config->timezone, ==, "Europe/London");
  g_assert_cmpint(config->business_hours.days, ==, 0x1f);
  g_assert_cmpuint(config->business_hours.start_min, ==, 9 * 60);
  g_assert_cmpuint(config->business_hours.end_min, ==, 17 * 60 + 30);
  g_assert_cmpint(config->mode, ==, KEEL_MODE_AUTO);
  g_assert_cmpuint(config->max_message_size, ==, 10 * 1024 * 1024);
  g_assert_cmpuint(config->accounts->len, ==, 1);
  const KeelAccount *account = config->accounts->pdata[0];
  g_assert_cmpstr(account->name, ==, "main");
  g_assert_cmpstr(account->imap, ==, "imaps://imap.example.com:993");
  g_assert_cmpstr(account->smtp, ==, "smtp://smtp.example.com:587");
  g_assert_cmpuint(g_strv_length(account->folders), ==, 3);
  g_assert_cmpstr(account->folders[1], ==, "Clients");
  g_assert_cmpstr(account->sent_folder, ==, "Sent Items");
  g_assert_cmpuint(account->poll_interval, ==, 120);
  g_assert_cmpuint(account->connect_timeout, ==, 20);
  g_assert_cmpuint(account->read_timeout, ==, 45);
  g_assert_false(account->allow_plaintext);
  g_assert_null(account->password_file);
  g_assert_cmpuint(config->clients->len, ==, 2);
  const KeelClient *acme = config->clients->pdata[0];
  g_assert_cmpstr(acme->id, ==, "acme");
  g_assert_cmpstr(acme->name, ==, "Acme Lettings");
  g_assert_cmpstr(acme->addresses[0], ==, "bob@acme.example");
  g_assert_cmpstr(acme->timezone, ==, "Europe/Paris");
  const KeelClient *talent = config->clients->pdata[1];
  g_assert_cmpint(talent->date_order, ==, KEEL_DATE_ORDER_US);
  g_assert_cmpstr(talent->timezone, ==, "Europe/London");
  g_assert_cmpstr(config->digest_at, ==, "08:00");
  g_assert_cmpstr(config->digest_to[0], ==, "jo@example.com");
}

static void test_defaults(void)
{
  g_autofree char *path = fixture("minimal.conf");
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load(path, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(config->database, ==, "/tmp/minimal.db");
  g_autofree char *rules = config_default_rules_dir();
  g_assert_cmpstr(config->rules, ==, rules); /* no `rules` key: settled by config_load() */
  g_assert_cmpstr(config->timezone, ==, "Europe/London");
  g_assert_cmpint(config->mode, ==, KEEL_MODE_REVIEW);
  g_assert_cmpuint(config->max_message_size, ==, 25 * 1024 * 1024);
  g_assert_cmpuint(config->limits.max_parts, ==, 500);
  g_assert_cmpuint(config->limits.max_depth, ==, 50);
  g_assert_cmpuint(config->limits.max_headers, ==, 1000);
  g_assert_cmpuint(config->limits.max_addresses, ==, 1000);
  g_assert_cmpuint(config->accounts->len, ==, 0);
  g_assert_null(config->digest_at);
}

/* With no `rules` key: the installed KEEL_SYSCONFDIR/rules when it is a
 * directory, else ./rules when it is one, else KEEL_SYSCONFDIR/rules. The
 * config's `rules` is that directory as soon as config_load() returns. */
static void test_default_rules_order(void)
{
  g_autofree char *fixture_path = fixture("minimal.conf");
  g_autofree char *conf = g_canonicalize_filename(fixture_path, NULL);
  g_autofree char *here = g_get_current_dir();
  g_autofree char *dir = g_dir_make_tmp("keel-rules-order-XXXXXX", NULL);
  g_assert_cmpint(chdir(dir), ==, 0);
  gboolean installed = g_file_test(KEEL_SYSCONFDIR "/rules", G_FILE_TEST_IS_DIR);
  g_autofree char *without_local = config_default_rules_dir();
  g_assert_cmpstr(without_local, ==, KEEL_SYSCONFDIR "/rules");
  g_assert_cmpint(g_mkdir("rules", 0700), ==, 0);
  g_autofree char *with_local = config_default_rules_dir();
  g_assert_cmpstr(with_local, ==, installed ? KEEL_SYSCONFDIR "/rules" : "rules");
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load(conf, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(config->rules, ==, with_local);
  g_assert_cmpint(g_rmdir("rules"), ==, 0);
  g_assert_cmpint(chdir(here), ==, 0);
  g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* A `rules` key is kept as written, even when it names no directory (config
 * check and the daemon refuse it rather than silently taking another);
 * config_load_with_rules() puts its override (--rules) in its place. */
static void test_rules_as_written(void)
{
  g_autofree char *dir = g_dir_make_tmp("keel-rules-key-XXXXXX", NULL);
  g_autofree char *conf = g_build_filename(dir, "keel.conf", NULL);
  g_autofree char *text = g_strdup_printf("[keel]\ndatabase = %s/keel.db\n"
                                          "rules = %s/no-such-rules\n", dir, dir);
  g_assert_true(g_file_set_contents(conf, text, -1, NULL));
  g_autofree char *missing = g_build_filename(dir, "no-such-rules", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load(conf, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(config->rules, ==, missing);
  g_autoptr(KeelConfig) overridden = config_load_with_rules(conf, "/elsewhere/rules", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(overridden->rules, ==, "/elsewhere/rules");
  g_unlink(conf);
  g_rmdir(dir);
}

/* Opens a session the way the offline commands do (store_cli_load_config),
 * then asserts that loading its rules, opening its store and building a
 * pipeline left `rules` the same string at the same address. Returns it. */
static char *session_rules(const char *conf)
{
  KeelGlobals globals = { .config_path = (char *)conf };
  g_autoptr(KeelConfig) config = NULL;
  g_assert_cmpint(store_cli_load_config(&globals, &config), ==, EX_OK);
  const char *rules_at = config->rules;
  g_autofree char *rules = g_strdup(config->rules);
  g_autofree char *in_force = verdict_rules_dir(NULL, config);
  g_assert_cmpstr(in_force, ==, rules);
  RuleSet *scoring = NULL;
  InstructionRules *instructions = NULL;
  (void)verdict_load_rules(config->rules, &scoring, &instructions, NULL);
  int rc = EX_OK;
  Store *store = store_cli_open(NULL, config, &rc);
  g_assert_nonnull(store);
  Pipeline *pipeline = pipeline_new(config, store);
  if (scoring)
    pipeline_set_rules(pipeline, scoring, instructions);
  pipeline_free(pipeline);
  g_clear_pointer(&scoring, rules_free);
  g_clear_pointer(&instructions, instruction_rules_free);
  store_close(store);
  g_assert_true(config->rules == rules_at);
  g_assert_cmpstr(config->rules, ==, rules);
  return g_steal_pointer(&rules);
}

/* Nothing after config_load() writes to the config: a session keeps the
 * rules directory the file names, the shipped one as well as a missing one
 * (once silently swapped for ./rules or the installed rules). */
static void test_session_leaves_config(void)
{
  g_autofree char *dir = g_dir_make_tmp("keel-session-XXXXXX", NULL);
  g_autofree char *conf = g_build_filename(dir, "keel.conf", NULL);
  g_autofree char *shipped = g_build_filename(g_getenv("KEEL_SOURCE_ROOT"), "rules", NULL);
  g_autofree char *missing = g_build_filename(dir, "no-such-rules", NULL);
  const char *cases[] = { shipped, missing };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *text = g_strdup_printf("[keel]\ndatabase = %s/keel.db\nrules = %s\n",
                                            dir, cases[i]);
    g_assert_true(g_file_set_contents(conf, text, -1, NULL));
    g_autofree char *rules = session_rules(conf);
    g_assert_cmpstr(rules, ==, cases[i]);
  }
  g_autofree char *db = g_build_filename(dir, "keel.db", NULL);
  g_autofree char *wal = g_strconcat(db, "-wal", NULL);
  g_autofree char *shm = g_strconcat(db, "-shm", NULL);
  g_unlink(wal);
  g_unlink(shm);
  g_unlink(db);
  g_unlink(conf);
  g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* The caps on a message's structure are read from [keel] and checked. */
static void test_message_limits(void)
{
  g_autofree char *dir = g_dir_make_tmp("keel-limits-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "keel.conf", NULL);
  g_assert_true(g_file_set_contents(path, "[keel]\nmax_mime_parts = 7\nmax_mime_depth = 3\n"
                                    "max_header_fields = 20\nmax_addresses_per_field = 9\n",
                                    -1, NULL));
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load(path, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(config->limits.max_parts, ==, 7);
  g_assert_cmpuint(config->limits.max_depth, ==, 3);
  g_assert_cmpuint(config->limits.max_headers, ==, 20);
  g_assert_cmpuint(config->limits.max_addresses, ==, 9);
  g_assert_true(g_file_set_contents(path, "[keel]\nmax_mime_parts = 0\n", -1, NULL));
  g_autoptr(KeelConfig) refused = config_load(path, &error);
  g_assert_null(refused);
  g_assert_nonnull(strstr(error->message, "max_mime_parts 0 is out of range"));
  g_unlink(path);
  g_rmdir(dir);
}

/* ---- bad files: each gives its file:line: and a word of its message ---- */

typedef struct {
  const char *file;
  int line;
  const char *words;
} BadCase;

static const BadCase bad_cases[] = {
  { "unknown-key.conf", 8, "unknown key 'pol_interval'" },
  { "bad-timezone.conf", 3, "unknown time zone 'Europe/Londn'" },
  { "bad-hours.conf", 2, "should look like 'Mon-Fri 09:00-17:30'" },
  { "bad-hours-order.conf", 3, "ends before it starts" },
  { "bad-mode.conf", 3, "mode must be review or auto" },
  { "bad-url.conf", 2, "must start with imaps://" },
  { "url-password.conf", 3, "must not hold a password" },
  { "password-key.conf", 6, "never reads a password" },
  { "two-passwords.conf", 5, "both password_file and password_command" },
  { "no-password.conf", 4, "neither password_file nor password_command" },
  { "relative-password-file.conf", 4, "absolute path" },
  { "bad-poll.conf", 5, "poll_interval 2 is out of range" },
  { "bad-bool.conf", 5, "true or false" },
  { "bad-address.conf", 3, "'bob' is neither an address" },
  { "no-addresses.conf", 3, "has no addresses" },
  { "duplicate-address.conf", 5, "already listed for client 'acme'" },
  { "bad-date-order.conf", 3, "date_order must be UK or US" },
  { "bad-size.conf", 2, "max_message_size 'lots'" },
  { "syntax.conf", 3, "expected 'key = value'" },
  { "unknown-section.conf", 4, "unknown section [acount main]" },
  { "key-outside.conf", 1, "before any [section]" },
  { "bad-digest.conf", 2, "should be a time like 08:30" },
  { "duplicate-key.conf", 4, "'mode' is set again in [keel] (first at line 2)" },
  { "duplicate-section.conf", 4, "section [client acme] appears again (first at line 1)" },
};

static void test_bad(gconstpointer data)
{
  const BadCase *bad = data;
  g_autofree char *path = fixture(bad->file);
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load(path, &error);
  g_assert_null(config);
  g_assert_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_INVALID);
  assert_no_secret(error);
  g_autofree char *where = g_strdup_printf("%s:%d: ", path, bad->line);
  g_auto(GStrv) lines = g_strsplit(error->message, "\n", -1);
  gboolean found = FALSE;
  for (int i = 0; lines[i]; i++) {
    g_assert_true(g_str_has_prefix(lines[i], path));
    if (g_str_has_prefix(lines[i], where) && strstr(lines[i], bad->words))
      found = TRUE;
  }
  if (!found)
    g_test_message("got: %s", error->message);
  g_assert_true(found);
}

/* Several problems in one file: all reported, in line order. */
static void test_many_problems(void)
{
  g_autofree char *path = fixture("many.conf");
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load(path, &error);
  g_assert_null(config);
  g_auto(GStrv) lines = g_strsplit(error->message, "\n", -1);
  g_assert_cmpuint(g_strv_length(lines), ==, 4);
  const int expected[] = { 2, 3, 9, 13 };
  for (int i = 0; i < 4; i++) {
    g_autofree char *where = g_strdup_printf("%s:%d: ", path, expected[i]);
    g_assert_true(g_str_has_prefix(lines[i], where));
  }
}

static void test_not_found(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load("/nonexistent/keel.conf", &error);
  g_assert_null(config);
  g_assert_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_NOT_FOUND);
  g_assert_nonnull(strstr(error->message, "/nonexistent/keel.conf"));
}

/* ---- business hours -------------------------------------------------- */

typedef struct {
  const char *text;
  gboolean ok;
  guint8 days;
  guint start, end;
} HoursCase;

static const HoursCase hours_cases[] = {
  { "Mon-Fri 09:00-17:30", TRUE, 0x1f, 540, 1050 },
  { "Mon,Wed,Fri 08:00-16:00", TRUE, 0x15, 480, 960 },
  { "sat-sun 10:00-24:00", TRUE, 0x60, 600, 1440 },
  { "Fri-Mon 09:00-17:00", TRUE, 0x71, 540, 1020 },
  { "Mon 00:00-23:59", TRUE, 0x01, 0, 1439 },
  { "Mon-Fri", FALSE, 0, 0, 0 },
  { "Mon-Fri 9:00-17:00", FALSE, 0, 0, 0 },
  { "Mon-Fry 09:00-17:00", FALSE, 0, 0, 0 },
  { "Mon-Fri 09:00-25:00", FALSE, 0, 0, 0 },
  { "Mon-Fri 17:00-09:00", FALSE, 0, 0, 0 },
  { "Mon-Fri 09:60-10:00", FALSE, 0, 0, 0 },
  { "", FALSE, 0, 0, 0 },
};

static void test_hours(gconstpointer data)
{
  const HoursCase *c = data;
  KeelBusinessHours hours = { 0 };
  g_autoptr(GError) error = NULL;
  gboolean ok = config_parse_business_hours(c->text, &hours, &error);
  g_assert_cmpint(ok, ==, c->ok);
  if (!ok) {
    g_assert_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_INVALID);
    return;
  }
  g_assert_cmpuint(hours.days, ==, c->days);
  g_assert_cmpuint(hours.start_min, ==, c->start);
  g_assert_cmpuint(hours.end_min, ==, c->end);
}

/* ---- addresses ------------------------------------------------------- */

static void test_client_for_address(void)
{
  g_autofree char *path = fixture("good.conf");
  g_autoptr(KeelConfig) config = config_load(path, NULL);
  g_assert_nonnull(config);
  const KeelClient *client = config_client_for_address(config, "BOB@acme.example");
  g_assert_nonnull(client);
  g_assert_cmpstr(client->id, ==, "acme");
  client = config_client_for_address(config, "anyone@ACME.example");
  g_assert_cmpstr(client->id, ==, "acme");
  client = config_client_for_address(config, "brooke@talentbridgerecruitment.com");
  g_assert_cmpstr(client->id, ==, "talentbridge");
  g_assert_null(config_client_for_address(config, "other@talentbridgerecruitment.com"));
  g_assert_null(config_client_for_address(config, "bob@acme.example.org"));
  g_assert_null(config_client_for_address(config, ""));
  g_assert_null(config_client_for_address(NULL, "bob@acme.example"));
  g_assert_true(config_is_own_address(config, "jo@example.com"));
  g_assert_false(config_is_own_address(config, "bob@acme.example"));
}

static void test_inline_comment(void)
{
  g_autofree char *path = fixture("good.conf");
  g_autoptr(KeelConfig) config = config_load(path, NULL);
  g_assert_nonnull(config);
  g_assert_cmpint(config->mode, ==, KEEL_MODE_AUTO); /* "auto   # replies are sent" */
}

static void test_windows_file(void)
{
  g_autofree char *path = fixture("windows.conf");
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load(path, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(config->timezone, ==, "UTC");
  g_assert_cmpint(config->mode, ==, KEEL_MODE_AUTO);
  g_assert_cmpstr(((KeelClient *)config->clients->pdata[0])->addresses[0], ==, "@a.example");
}

static void test_resolve_path(void)
{
  g_setenv("KEEL_CONFIG", "/from/env.conf", TRUE);
  g_autofree char *cli = config_resolve_path("/from/cli.conf");
  g_autofree char *env = config_resolve_path(NULL);
  g_unsetenv("KEEL_CONFIG");
  g_autofree char *fallback = config_resolve_path(NULL);
  g_assert_cmpstr(cli, ==, "/from/cli.conf");
  g_assert_cmpstr(env, ==, "/from/env.conf");
  g_assert_cmpstr(fallback, ==, KEEL_SYSCONFDIR "/keel.conf");
}

/* ---- secrets --------------------------------------------------------- */

typedef struct {
  char *dir;       /* a fresh temporary folder */
  char *secret;    /* dir/secret, holding SECRET */
  char *conf;      /* dir/keel.conf */
} SecretFixture;

static void secret_setup(SecretFixture *f, gconstpointer data)
{
  (void)data;
  f->dir = g_dir_make_tmp("keel-config-XXXXXX", NULL);
  g_assert_nonnull(f->dir);
  f->secret = g_build_filename(f->dir, "secret", NULL);
  f->conf = g_build_filename(f->dir, "keel.conf", NULL);
  g_assert_true(g_file_set_contents(f->secret, SECRET "\nsecond line\n", -1, NULL));
}

static void secret_teardown(SecretFixture *f, gconstpointer data)
{
  (void)data;
  g_unlink(f->secret);
  g_unlink(f->conf);
  g_rmdir(f->dir);
  g_free(f->secret);
  g_free(f->conf);
  g_free(f->dir);
}

/* Writes a config whose account uses `password_line` and loads it. */
static KeelConfig *secret_config(SecretFixture *f, const char *password_line)
{
  g_autofree char *text = g_strdup_printf("[account main]\nimap = imaps://imap.example.com\n"
                                          "user = jo@example.com\n%s\n", password_line);
  g_assert_true(g_file_set_contents(f->conf, text, -1, NULL));
  g_autoptr(GError) error = NULL;
  KeelConfig *config = config_load(f->conf, &error);
  g_assert_no_error(error);
  return config;
}

static void test_password_file_private(SecretFixture *f, gconstpointer data)
{
  (void)data;
  g_autofree char *line = g_strdup_printf("password_file = %s", f->secret);
  g_autoptr(KeelConfig) config = secret_config(f, line);
  g_assert_cmpint(g_chmod(f->secret, 0600), ==, 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *password = config_account_password(config->accounts->pdata[0], &error);
  g_assert_no_error(error);
  g_assert_cmpstr(password, ==, SECRET);
  g_assert_true(config_check_files(config, &error));
}

/* A bare password_file name is a systemd credential: read from
 * $CREDENTIALS_DIRECTORY (LoadCredential=), refused with a fix when unset. */
static void test_password_credential(SecretFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(KeelConfig) config = secret_config(f, "password_file = secret");
  g_assert_cmpint(g_chmod(f->secret, 0400), ==, 0);
  g_autoptr(GError) error = NULL;
  g_unsetenv("CREDENTIALS_DIRECTORY");
  g_autofree char *none = config_account_password(config->accounts->pdata[0], &error);
  g_assert_null(none);
  g_assert_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_SECRET);
  g_assert_nonnull(strstr(error->message, "LoadCredential="));
  g_clear_error(&error);
  g_setenv("CREDENTIALS_DIRECTORY", f->dir, TRUE);
  g_autofree char *password = config_account_password(config->accounts->pdata[0], &error);
  g_unsetenv("CREDENTIALS_DIRECTORY");
  g_assert_no_error(error);
  g_assert_cmpstr(password, ==, SECRET);
}

static void test_password_file_shared(SecretFixture *f, gconstpointer data)
{
  (void)data;
  g_autofree char *line = g_strdup_printf("password_file = %s", f->secret);
  g_autoptr(KeelConfig) config = secret_config(f, line);
  g_assert_cmpint(g_chmod(f->secret, 0644), ==, 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *password = config_account_password(config->accounts->pdata[0], &error);
  g_assert_null(password);
  g_assert_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_SECRET);
  g_assert_nonnull(strstr(error->message, f->secret));
  g_assert_nonnull(strstr(error->message, "chmod 600"));
  assert_no_secret(error);
  g_clear_error(&error);
  g_assert_false(config_check_files(config, &error));
  g_autofree char *where = g_strdup_printf("%s:4: ", f->conf);
  g_assert_true(g_str_has_prefix(error->message, where));
  assert_no_secret(error);
}

static void test_password_file_missing(SecretFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(KeelConfig) config = secret_config(f, "password_file = /nonexistent/keel-secret");
  g_autoptr(GError) error = NULL;
  g_assert_false(config_check_files(config, &error));
  g_assert_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_SECRET);
  g_assert_nonnull(strstr(error->message, "/nonexistent/keel-secret"));
  g_autofree char *password = config_account_password(config->accounts->pdata[0], NULL);
  g_assert_null(password);
}

static void test_password_command(SecretFixture *f, gconstpointer data)
{
  (void)data;
  g_autoptr(KeelConfig) config = secret_config(f, "password_command = printf '" SECRET
                                                  "\\nmore\\n'");
  g_autoptr(GError) error = NULL;
  g_autofree char *password = config_account_password(config->accounts->pdata[0], &error);
  g_assert_no_error(error);
  g_assert_cmpstr(password, ==, SECRET);
}

static void test_password_command_fails(SecretFixture *f, gconstpointer data)
{
  const char *line = data;
  g_autoptr(KeelConfig) config = secret_config(f, line);
  g_autoptr(GError) error = NULL;
  g_autofree char *password = config_account_password(config->accounts->pdata[0], &error);
  g_assert_null(password);
  g_assert_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_SECRET);
  g_assert_nonnull(strstr(error->message, "main"));
  assert_no_secret(error);
}

/* ---- the documented example ------------------------------------------ */

/* The key names of issue 2 are an interface: the example must document each
 * (set, or commented out) and must load. */
static void test_example(void)
{
  const char *root = g_getenv("KEEL_SOURCE_ROOT");
  if (!root) {
    g_test_skip("KEEL_SOURCE_ROOT not set");
    return;
  }
  g_autofree char *path = g_build_filename(root, "rules", "keel.conf.example", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(KeelConfig) config = config_load(path, &error);
  g_assert_no_error(error);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  const char *keys[] = { "database", "rules", "timezone", "business_hours", "mode",
                         "max_message_size", "max_mime_parts", "max_mime_depth",
                         "max_header_fields", "max_addresses_per_field", "imap", "smtp", "user",
                         "password_file",
                         "password_command", "folders", "sent_folder", "drafts_folder",
                         "poll_interval", "ca_file", "allow_plaintext", "connect_timeout",
                         "read_timeout", "name", "addresses", "date_order", "at", "to" };
  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
    g_autofree char *set = g_strdup_printf("\n%s = ", keys[i]);
    g_autofree char *commented = g_strdup_printf("\n#%s = ", keys[i]);
    if (!strstr(text, set) && !strstr(text, commented))
      g_test_message("key %s is not documented", keys[i]);
    g_assert_true(strstr(text, set) || strstr(text, commented));
  }
  g_assert_cmpuint(config->accounts->len, ==, 1);
  g_assert_cmpuint(config->clients->len, ==, 1);
}

/* ---- the command ----------------------------------------------------- */

/* Runs `keel config check --config FILE`; returns the exit status. */
static int run_check(const char *file, char **out, char **err)
{
  const char *bin = g_getenv("KEEL_BIN");
  const char *argv[] = { bin, "config", "check", "--config", file, NULL };
  int status = 0;
  g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, out, err,
                             &status, NULL));
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* good.conf with its database and rules in a fresh temp dir `*dir` (the
 * rules a symlink to the source tree's), written there; returns its path. */
static char *good_config_in_tmp(char **dir)
{
  g_autofree char *text = NULL, *source = fixture("good.conf");
  g_assert_true(g_file_get_contents(source, &text, NULL, NULL));
  *dir = g_dir_make_tmp("keel-check-XXXXXX", NULL);
  g_autofree char *rules = g_build_filename(*dir, "rules", NULL);
  g_autofree char *real = g_build_filename(g_getenv("KEEL_SOURCE_ROOT"), "rules", NULL);
  g_assert_cmpint(symlink(real, rules), ==, 0);
  g_auto(GStrv) parts = g_strsplit(text, "/tmp/keel-test", -1);
  g_autofree char *moved = g_strjoinv(*dir, parts);
  char *path = g_build_filename(*dir, "keel.conf", NULL);
  g_assert_true(g_file_set_contents(path, moved, -1, NULL));
  return path;
}

static void remove_check_dir(const char *dir)
{
  g_autofree char *rules = g_build_filename(dir, "rules", NULL);
  g_autofree char *conf = g_build_filename(dir, "keel.conf", NULL);
  g_unlink(rules);
  g_unlink(conf);
  g_rmdir(dir);
}

/* config check runs the daemon's start-up checks: a missing rules folder, a
 * missing database folder, and a secret another user cannot read are refused. */
static void test_cli_runtime(void)
{
  if (!g_getenv("KEEL_BIN") || !g_getenv("KEEL_SOURCE_ROOT")) {
    g_test_skip("KEEL_BIN or KEEL_SOURCE_ROOT not set");
    return;
  }
  g_autofree char *dir = NULL;
  g_autofree char *path = good_config_in_tmp(&dir);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(run_check(path, &out, &err), ==, 0);
  g_autofree char *rules = g_build_filename(dir, "rules", NULL);
  g_unlink(rules);
  g_autofree char *out2 = NULL, *err2 = NULL;
  g_assert_cmpint(run_check(path, &out2, &err2), ==, 78);
  g_assert_nonnull(strstr(err2, "the rules directory does not exist"));
  g_autofree char *secret = g_build_filename(dir, "secret", NULL);
  g_assert_true(g_file_set_contents(secret, "not-a-real-secret\n", -1, NULL));
  g_assert_cmpint(g_chmod(secret, 0600), ==, 0);
  g_autofree char *text = g_strdup_printf("[keel]\ndatabase = %s/keel.db\nrules = %s\n"
    "[account main]\nimap = imaps://imap.example.com\nuser = jo@example.com\n"
    "password_file = %s\n", dir, g_getenv("KEEL_SOURCE_ROOT"), secret);
  g_autofree char *conf = g_build_filename(dir, "keel.conf", NULL);
  g_assert_true(g_file_set_contents(conf, text, -1, NULL));
  const char *bin = g_getenv("KEEL_BIN");
  const char *argv[] = { bin, "config", "check", "--config", conf, "--user", "nobody", NULL };
  int status = 0;
  g_autofree char *out3 = NULL, *err3 = NULL;
  g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out3,
                             &err3, &status, NULL));
  g_assert_cmpint(WEXITSTATUS(status), ==, 78);
  g_assert_nonnull(strstr(err3, "cannot be read by user nobody"));
  g_assert_null(strstr(err3, "not-a-real-secret"));
  g_unlink(secret);
  remove_check_dir(dir);
}

/* Runs `keel config check --config conf [--user user]`; returns the exit status. */
static int run_check_as(const char *conf, const char *user, char **out, char **err)
{
  const char *argv[] = { g_getenv("KEEL_BIN"), "config", "check", "--config", conf,
                         user ? "--user" : NULL, user, NULL };
  int status = 0;
  g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, out, err,
                             &status, NULL));
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *write_secret(const char *dir, const char *name, int mode)
{
  char *path = g_build_filename(dir, name, NULL);
  g_assert_true(g_file_set_contents(path, "not-a-real-secret\n", -1, NULL));
  g_assert_cmpint(g_chmod(path, mode), ==, 0);
  return path;
}

/* config check verifies an OAuth2 account's secrets as daemon/mail/oauth.c
 * reads them (issue 19): a refresh token file readable by others is refused,
 * another user that cannot read the client secret or the refresh token is
 * told so, an account with no refresh token at all is told to log in, and
 * the state file keel keeps (from keel oauth login) counts as the token. */
static void test_cli_oauth(void)
{
  if (!g_getenv("KEEL_BIN") || !g_getenv("KEEL_SOURCE_ROOT")) {
    g_test_skip("KEEL_BIN or KEEL_SOURCE_ROOT not set");
    return;
  }
  g_autofree char *dir = g_dir_make_tmp("keel-oauth-check-XXXXXX", NULL);
  g_autofree char *client = write_secret(dir, "client-secret", 0600);
  g_autofree char *refresh = write_secret(dir, "refresh-token", 0644);
  g_autofree char *conf = g_build_filename(dir, "keel.conf", NULL);
  const char *head = "[keel]\ndatabase = %s/keel.db\nrules = %s/rules\n[account main]\n"
    "imap = imaps://imap.example.com\nuser = jo@example.com\nauth = xoauth2\n"
    "oauth_token_url = https://login.example.com/token\noauth_client_id = keel-test\n"
    "oauth_client_secret_file = %s\n";
  g_autofree char *base = g_strdup_printf(head, dir, g_getenv("KEEL_SOURCE_ROOT"), client);
  g_autofree char *full = g_strdup_printf("%soauth_refresh_token_file = %s\n", base, refresh);
  g_assert_true(g_file_set_contents(conf, full, -1, NULL));
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(run_check_as(conf, NULL, &out, &err), ==, 78);
  g_assert_nonnull(strstr(err, "oauth_refresh_token_file"));
  g_assert_nonnull(strstr(err, "readable by other users"));
  g_assert_cmpint(g_chmod(refresh, 0600), ==, 0);
  g_autofree char *out2 = NULL, *err2 = NULL;
  g_assert_cmpint(run_check_as(conf, NULL, &out2, &err2), ==, 0);
  g_autofree char *out3 = NULL, *err3 = NULL;
  g_assert_cmpint(run_check_as(conf, "nobody", &out3, &err3), ==, 78);
  g_assert_nonnull(strstr(err3, "oauth_client_secret_file"));
  g_assert_nonnull(strstr(err3, "oauth_refresh_token_file"));
  g_assert_nonnull(strstr(err3, "cannot be read by user nobody"));
  g_assert_null(strstr(err3, "not-a-real-secret"));
  g_assert_true(g_file_set_contents(conf, base, -1, NULL)); /* no refresh token file */
  g_autofree char *out4 = NULL, *err4 = NULL;
  g_assert_cmpint(run_check_as(conf, NULL, &out4, &err4), ==, 78);
  g_assert_nonnull(strstr(err4, "no OAuth2 refresh token yet"));
  g_assert_nonnull(strstr(err4, "keel oauth login main"));
  g_autofree char *state = write_secret(dir, "oauth-main.json", 0600);
  g_autofree char *out5 = NULL, *err5 = NULL;
  g_assert_cmpint(run_check_as(conf, NULL, &out5, &err5), ==, 0);
  for (const char *const *f = (const char *const[]){ client, refresh, state, conf, NULL }; *f; f++)
    g_unlink(*f);
  g_rmdir(dir);
}

static void test_cli(void)
{
  if (!g_getenv("KEEL_BIN") || !g_getenv("KEEL_SOURCE_ROOT")) {
    g_test_skip("KEEL_BIN or KEEL_SOURCE_ROOT not set");
    return;
  }
  g_autofree char *dir = NULL;
  g_autofree char *good = good_config_in_tmp(&dir);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint(run_check(good, &out, &err), ==, 0);
  g_assert_true(g_str_has_prefix(out, "configuration OK\n"));
  g_assert_nonnull(strstr(out, "1 account, 2 clients"));
  g_assert_null(strstr(out, "not-a-real-secret"));
  g_autofree char *bad = fixture("url-password.conf");
  g_autofree char *bad_out = NULL, *bad_err = NULL;
  g_assert_cmpint(run_check(bad, &bad_out, &bad_err), ==, 78);
  g_autofree char *where = g_strdup_printf("%s:3: ", bad);
  g_assert_true(g_str_has_prefix(bad_err, where));
  g_assert_null(strstr(bad_err, SECRET));
  g_assert_null(strstr(bad_out, SECRET));
  remove_check_dir(dir);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/config/good", test_good);
  g_test_add_func("/config/defaults", test_defaults);
  g_test_add_func("/config/default-rules-order", test_default_rules_order);
  g_test_add_func("/config/rules-as-written", test_rules_as_written);
  g_test_add_func("/config/session-leaves-config", test_session_leaves_config);
  g_test_add_func("/config/message-limits", test_message_limits);
  g_test_add_func("/config/inline-comment", test_inline_comment);
  g_test_add_func("/config/many-problems", test_many_problems);
  g_test_add_func("/config/not-found", test_not_found);
  g_test_add_func("/config/client-for-address", test_client_for_address);
  g_test_add_func("/config/resolve-path", test_resolve_path);
  g_test_add_func("/config/windows-file", test_windows_file);
  for (gsize i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
    g_autofree char *name = g_strdup_printf("/config/bad/%s", bad_cases[i].file);
    g_test_add_data_func(name, &bad_cases[i], test_bad);
  }
  for (gsize i = 0; i < G_N_ELEMENTS(hours_cases); i++) {
    g_autofree char *name = g_strdup_printf("/config/business-hours/%" G_GSIZE_FORMAT, i);
    g_test_add_data_func(name, &hours_cases[i], test_hours);
  }
  g_test_add("/config/password/file-0600", SecretFixture, NULL, secret_setup,
             test_password_file_private, secret_teardown);
  g_test_add("/config/password/file-0644-refused", SecretFixture, NULL, secret_setup,
             test_password_file_shared, secret_teardown);
  g_test_add("/config/password/credential", SecretFixture, NULL, secret_setup,
             test_password_credential, secret_teardown);
  g_test_add("/config/password/file-missing", SecretFixture, NULL, secret_setup,
             test_password_file_missing, secret_teardown);
  g_test_add("/config/password/command", SecretFixture, NULL, secret_setup,
             test_password_command, secret_teardown);
  g_test_add("/config/password/command-fails", SecretFixture,
             "password_command = echo " SECRET "; exit 3", secret_setup,
             test_password_command_fails, secret_teardown);
  g_test_add("/config/password/command-silent", SecretFixture,
             "password_command = echo " SECRET " >&2", secret_setup,
             test_password_command_fails, secret_teardown);
  g_test_add_func("/config/example", test_example);
  g_test_add_func("/config/cli/check", test_cli);
  g_test_add_func("/config/cli/check-runtime", test_cli_runtime);
  g_test_add_func("/config/cli/check-oauth", test_cli_oauth);
  return g_test_run();
}
