/* tests/unit/test-folders.c: the Sent and Drafts folders an account uses
 * (daemon/mail/folders.c) are runtime state, never written into the config:
 * keel.conf's names win, a name found is kept per account (name, IMAP URL,
 * user) for the process, and KeelConfig is the same after as config_load()
 * made it. No server: an account without an IMAP URL falls back to "Sent" and
 * "Drafts" the way a server that refuses LIST does. */
#include <glib/gstdio.h>
#include "daemon/base/config.h"
#include "daemon/mail/folders.h"

static KeelConfig *load(const char *text)
{
  g_autofree char *dir = g_dir_make_tmp("keel-folders-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "keel.conf", NULL);
  g_assert_true(g_file_set_contents(path, text, -1, NULL));
  g_autoptr(GError) error = NULL;
  KeelConfig *config = config_load(path, &error);
  g_assert_no_error(error);
  g_unlink(path);
  g_rmdir(dir);
  return config;
}

static void test_configured_names_win(void)
{
  g_autoptr(KeelConfig) config = load("[keel]\ndatabase = /tmp/keel-folders.db\n\n"
                                      "[account main]\nuser = jo@va.example\n"
                                      "sent_folder = Sent Items\ndrafts_folder = Entwürfe\n");
  const KeelAccount *account = config->accounts->pdata[0];
  g_assert_cmpstr(folders_sent(account), ==, "Sent Items");
  g_assert_cmpstr(folders_drafts(account), ==, "Entwürfe");
  folders_resolve_writer(account, NULL); /* nothing to ask */
  g_assert_cmpstr(folders_sent(account), ==, "Sent Items");
}

static void test_found_names_stay_out_of_the_config(void)
{
  static const char text[] = "[keel]\ndatabase = /tmp/keel-folders.db\n\n"
                             "[account other]\nuser = sam@va.example\n";
  g_autoptr(KeelConfig) config = load(text);
  const KeelAccount *account = config->accounts->pdata[0];
  g_assert_null(folders_sent(account));
  g_assert_null(folders_drafts(account));
  g_test_expect_message("keel-mail", G_LOG_LEVEL_WARNING, "*cannot ask the server*");
  folders_resolve_writer(account, NULL);
  g_test_assert_expected_messages();
  g_assert_cmpstr(folders_sent(account), ==, "Sent");
  g_assert_cmpstr(folders_drafts(account), ==, "Drafts");
  g_assert_null(account->sent_folder); /* the config is as loaded */
  g_assert_null(account->drafts_folder);
  /* a reload of the same account keeps what was found, without asking again */
  g_autoptr(KeelConfig) reloaded = load(text);
  const KeelAccount *again = reloaded->accounts->pdata[0];
  g_assert_true(folders_sent(again) == folders_sent(account));
  folders_resolve_writer(again, NULL); /* no second warning: nothing to ask */
  /* another user of the same account name is another mailbox */
  g_autoptr(KeelConfig) moved = load("[keel]\ndatabase = /tmp/keel-folders.db\n\n"
                                     "[account other]\nuser = sam@elsewhere.example\n");
  g_assert_null(folders_sent(moved->accounts->pdata[0]));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/folders/configured-names-win", test_configured_names_win);
  g_test_add_func("/folders/found-names-stay-out-of-the-config",
                  test_found_names_stay_out_of_the_config);
  return g_test_run();
}
