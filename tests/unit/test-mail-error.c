/* tests/unit/test-mail-error.c: the one CURLcode -> GError converter
 * (daemon/mail/mail-error.c): what failed, how far it reaches and whether to
 * retry are separate, and the same failure is classed the same way whatever
 * protocol met it (a denied login above all). No network. */
#include <gio/gio.h>
#include "daemon/mail/mail-error.h"

typedef struct {
  const char *name;
  CURLcode curl;
  long reply;
  gboolean too_large, cancelled;
  KeelMailErrorCode code;
  MailScope scope;
  MailRetry retry;
} MailCase;

static const MailCase mail_cases[] = {
  { "login-denied-imap", CURLE_LOGIN_DENIED, 0, FALSE, FALSE, KEEL_MAIL_ERROR_AUTH,
    MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT },
  { "login-denied-smtp-535", CURLE_LOGIN_DENIED, 535, FALSE, FALSE, KEEL_MAIL_ERROR_AUTH,
    MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT },
  { "login-454-is-temporary", CURLE_LOGIN_DENIED, 454, FALSE, FALSE, KEEL_MAIL_ERROR_REFUSED,
    MAIL_SCOPE_MESSAGE, MAIL_RETRY_TEMPORARY },
  { "rcpt-550", CURLE_SEND_ERROR, 550, FALSE, FALSE, KEEL_MAIL_ERROR_REFUSED,
    MAIL_SCOPE_MESSAGE, MAIL_RETRY_FINAL },
  { "rcpt-451", CURLE_SEND_ERROR, 451, FALSE, FALSE, KEEL_MAIL_ERROR_REFUSED,
    MAIL_SCOPE_MESSAGE, MAIL_RETRY_TEMPORARY },
  { "certificate", CURLE_PEER_FAILED_VERIFICATION, 0, FALSE, FALSE, KEEL_MAIL_ERROR_TLS,
    MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT },
  { "no-starttls", CURLE_USE_SSL_FAILED, 0, FALSE, FALSE, KEEL_MAIL_ERROR_TLS,
    MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT },
  { "no-such-folder", CURLE_QUOTE_ERROR, 0, FALSE, FALSE, KEEL_MAIL_ERROR_REFUSED,
    MAIL_SCOPE_FOLDER, MAIL_RETRY_WAIT },
  { "expunged", CURLE_REMOTE_FILE_NOT_FOUND, 0, FALSE, FALSE, KEEL_MAIL_ERROR_GONE,
    MAIL_SCOPE_MESSAGE, MAIL_RETRY_FINAL },
  { "too-large", CURLE_WRITE_ERROR, 0, TRUE, FALSE, KEEL_MAIL_ERROR_TOO_LARGE,
    MAIL_SCOPE_MESSAGE, MAIL_RETRY_FINAL },
  { "timeout", CURLE_OPERATION_TIMEDOUT, 0, FALSE, FALSE, KEEL_MAIL_ERROR_NETWORK,
    MAIL_SCOPE_CONNECTION, MAIL_RETRY_TEMPORARY },
  { "refused-connect", CURLE_COULDNT_CONNECT, 0, FALSE, FALSE, KEEL_MAIL_ERROR_NETWORK,
    MAIL_SCOPE_CONNECTION, MAIL_RETRY_TEMPORARY },
  { "cancelled", CURLE_ABORTED_BY_CALLBACK, 0, FALSE, TRUE, KEEL_MAIL_ERROR_CANCELLED,
    MAIL_SCOPE_CONNECTION, MAIL_RETRY_TEMPORARY },
};

static void test_case(gconstpointer data)
{
  const MailCase *c = data;
  g_autoptr(GError) error = NULL;
  MailErrorContext context = { .what = "doing it", .detail = "server said no", .reply = c->reply,
                               .too_large = c->too_large, .cancelled = c->cancelled };
  g_assert_false(mail_error_from_curl(c->curl, &context, &error));
  g_assert_error(error, KEEL_MAIL_ERROR, (gint)c->code);
  g_assert_cmpstr(mail_error_scope_name(mail_error_scope(error)), ==,
                  mail_error_scope_name(c->scope));
  g_assert_cmpstr(mail_error_retry_name(mail_error_retry(error)), ==,
                  mail_error_retry_name(c->retry));
  g_assert_true(g_str_has_prefix(error->message, "doing it: "));
}

/* The fields survive what callers do to errors. */
static void test_fields_survive(void)
{
  g_autoptr(GError) error = NULL;
  mail_error_set(&error, KEEL_MAIL_ERROR_AUTH, MAIL_SCOPE_ACCOUNT, MAIL_RETRY_WAIT, "no");
  g_prefix_error(&error, "account 'main': ");
  g_autoptr(GError) copy = g_error_copy(error);
  g_assert_cmpint(mail_error_scope(copy), ==, MAIL_SCOPE_ACCOUNT);
  g_assert_cmpint(mail_error_retry(copy), ==, MAIL_RETRY_WAIT);
  g_assert_cmpstr(copy->message, ==, "account 'main': no");
  g_autoptr(GError) other = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "x");
  g_assert_cmpint(mail_error_scope(other), ==, MAIL_SCOPE_CONNECTION);
  g_assert_cmpint(mail_error_retry(other), ==, MAIL_RETRY_TEMPORARY);
  g_assert_false(mail_error_set(NULL, KEEL_MAIL_ERROR_AUTH, MAIL_SCOPE_ACCOUNT,
                                MAIL_RETRY_WAIT, "ignored"));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS(mail_cases); i++) {
    g_autofree char *path = g_strdup_printf("/mail-error/curl/%s", mail_cases[i].name);
    g_test_add_data_func(path, &mail_cases[i], test_case);
  }
  g_test_add_func("/mail-error/fields-survive", test_fields_survive);
  return g_test_run();
}
