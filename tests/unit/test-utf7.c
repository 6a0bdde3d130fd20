/* tests/unit/test-utf7.c: modified UTF-7 folder names (filters/utf7.c), with
 * RFC 3501's own example and the names of issue 19; and finding Sent and
 * Drafts in LIST answers (filters/special-use.c). */
#include "filters/special-use.h"
#include "filters/utf7.h"

static void check_pair(const char *utf8, const char *wire)
{
  g_autofree char *encoded = utf7_encode(utf8);
  g_autofree char *decoded = utf7_decode(wire);
  g_assert_cmpstr(encoded, ==, wire);
  g_assert_cmpstr(decoded, ==, utf8);
}

static void test_vectors(void)
{
  check_pair("INBOX", "INBOX");
  check_pair("[Gmail]/Sent Mail", "[Gmail]/Sent Mail");
  check_pair("Entwürfe", "Entw&APw-rfe");
  check_pair("Клиенты", "&BBoEOwQ4BDUEPQRCBEs-");
  check_pair("Tom & Jerry", "Tom &- Jerry");
  check_pair("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"); /* RFC 3501 5.1.3 */
  check_pair("😀", "&2D3eAA-"); /* a surrogate pair */
}

static void test_malformed(void)
{
  const char *bad[] = { "&Jjo", "&U,BTF", "&Ü-", "a\tb", "&2D3-" /* half a pair / bits */ };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *decoded = utf7_decode(bad[i]);
    g_assert_null(decoded);
  }
  g_autofree char *invalid = utf7_encode("\xff\xfe");
  g_assert_null(invalid);
}

static void test_round_trip(void)
{
  const char *names[] = { "Gesendete Objekte", "Éléments envoyés", "Отправленные", "送信済み",
                          "a&b&&c", "&" };
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    g_autofree char *wire = utf7_encode(names[i]);
    for (const char *p = wire; *p; p++)
      g_assert_true(*p >= 0x20 && *p <= 0x7e);
    g_autofree char *back = utf7_decode(wire);
    g_assert_cmpstr(back, ==, names[i]);
  }
}

static void check_pick(const char *list, const char *want_sent, const char *want_drafts)
{
  g_autofree char *sent = NULL;
  g_autofree char *drafts = NULL;
  special_use_pick(list, &sent, &drafts);
  g_assert_cmpstr(sent, ==, want_sent);
  g_assert_cmpstr(drafts, ==, want_drafts);
}

static void test_special_use(void)
{
  /* Gmail: the attributes win over the plain names */
  check_pick("* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
             "* LIST (\\HasNoChildren) \"/\" \"Sent\"\r\n"
             "* LIST (\\HasChildren \\Noselect) \"/\" \"[Gmail]\"\r\n"
             "* LIST (\\HasNoChildren \\Sent) \"/\" \"[Gmail]/Sent Mail\"\r\n"
             "* LIST (\\Drafts \\HasNoChildren) \"/\" \"[Gmail]/Drafts\"\r\n",
             "[Gmail]/Sent Mail", "[Gmail]/Drafts");
  /* modified UTF-7 names are decoded; atoms are read too */
  check_pick("* LIST (\\Sent) \".\" &BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-\r\n"
             "* LIST (\\Drafts) \".\" \"Entw&APw-rfe\"\r\n",
             "Отправленные", "Entwürfe");
  /* no SPECIAL-USE: common names, case-insensitive; nothing: NULL */
  check_pick("* LIST () \"/\" \"Sent Items\"\r\n* LIST () \"/\" INBOX\r\n",
             "Sent Items", NULL);
  check_pick("* LIST () NIL INBOX\r\n* OK junk\r\n* LIST (\\Sent) \"/\" {5}\r\n", NULL, NULL);
  check_pick("", NULL, NULL);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/utf7/vectors", test_vectors);
  g_test_add_func("/utf7/malformed", test_malformed);
  g_test_add_func("/utf7/round-trip", test_round_trip);
  g_test_add_func("/special-use/pick", test_special_use);
  return g_test_run();
}
