/* daemon/base/config.c: keel.conf, read once into a KeelConfig.
 *
 * How it works: the file text is first scanned line by line (config_scan_*)
 * to catch lines that are neither `key = value`, `[section]` nor `# comment`
 * and to remember the line of every group and key, because GKeyFile keeps no
 * line numbers. Then GKeyFile parses it, and the table `config_keys[]` drives
 * everything else: for each section kind ([keel], [account NAME], [client ID],
 * [digest], [payments]) the keys it may hold, their type, default and limits, and where
 * the value goes in the struct. A key not in the table is an error (typos are
 * caught); cross-key rules (an IMAP account needs a user and exactly one of
 * password_file / password_command) are checked per section afterwards.
 * Every problem is collected, each as `file:line: message`; a config with any
 * problem is refused whole.
 *
 * Secrets: the struct holds the password file's path or the command, never a
 * password. config_account_password() reads it on demand. No message built
 * here ever quotes a password_command or a URL with its user part, nor the
 * contents of a password file.
 *
 * Values may end with a comment: whitespace then `#` ends the value.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "daemon/base/config.h"
#include "filters/chase.h"
#include "filters/money.h"

G_DEFINE_QUARK(keel-config-error-quark, keel_config_error)

typedef enum { SECTION_KEEL, SECTION_ACCOUNT, SECTION_CLIENT, SECTION_DIGEST,
               SECTION_PAYMENTS, SECTION_REPLIES } ConfigSection;

typedef enum {
  TYPE_STRING, TYPE_BOOL, TYPE_UINT, TYPE_SIZE, TYPE_LIST, TYPE_IMAP_URL, TYPE_SMTP_URL,
  TYPE_TIMEZONE, TYPE_HOURS, TYPE_MODE, TYPE_DATE_ORDER, TYPE_ADDRESSES, TYPE_TIME_OF_DAY,
  TYPE_STEPS, TYPE_CURRENCY, TYPE_DATES
} ConfigType;

typedef struct {
  ConfigSection section;
  const char *key;
  ConfigType type;
  const char *fallback; /* the default, as it would be written; NULL = none */
  guint64 min, max;     /* limits for TYPE_UINT and TYPE_SIZE */
  gsize offset;         /* where the value goes in KeelConfig / KeelAccount / KeelClient */
} ConfigKey;

#define KEEL(k, t, d, o) { SECTION_KEEL, k, t, d, 0, 0, G_STRUCT_OFFSET(KeelConfig, o) }
#define ACCOUNT(k, t, d, o) { SECTION_ACCOUNT, k, t, d, 0, 0, G_STRUCT_OFFSET(KeelAccount, o) }
#define ACCOUNT_UINT(k, d, lo, hi, o) \
  { SECTION_ACCOUNT, k, TYPE_UINT, d, lo, hi, G_STRUCT_OFFSET(KeelAccount, o) }
#define CLIENT(k, t, d, o) { SECTION_CLIENT, k, t, d, 0, 0, G_STRUCT_OFFSET(KeelClient, o) }
#define REPLIES(k, d, lo, hi, o) \
  { SECTION_REPLIES, k, TYPE_UINT, d, lo, hi, G_STRUCT_OFFSET(KeelConfig, o) }
#define DIGEST(k, t, o) { SECTION_DIGEST, k, t, NULL, 0, 0, G_STRUCT_OFFSET(KeelConfig, o) }

static const ConfigKey config_keys[] = {
  KEEL("database", TYPE_STRING, "/var/lib/keel/keel.db", database),
  KEEL("rules", TYPE_STRING, KEEL_SYSCONFDIR "/rules", rules),
  KEEL("timezone", TYPE_TIMEZONE, "Europe/London", timezone),
  KEEL("business_hours", TYPE_HOURS, "Mon-Fri 09:00-17:30", business_hours),
  KEEL("mode", TYPE_MODE, "review", mode),
  { SECTION_KEEL, "max_message_size", TYPE_SIZE, "25M", 1024, G_GUINT64_CONSTANT(1) << 30,
    G_STRUCT_OFFSET(KeelConfig, max_message_size) },
  { SECTION_KEEL, "max_mime_parts", TYPE_UINT, "500", 1, 100000,
    G_STRUCT_OFFSET(KeelConfig, limits.max_parts) },
  { SECTION_KEEL, "max_mime_depth", TYPE_UINT, "50", 1, 1000,
    G_STRUCT_OFFSET(KeelConfig, limits.max_depth) },
  { SECTION_KEEL, "max_header_fields", TYPE_UINT, "1000", 10, 100000,
    G_STRUCT_OFFSET(KeelConfig, limits.max_headers) },
  { SECTION_KEEL, "max_addresses_per_field", TYPE_UINT, "1000", 1, 100000,
    G_STRUCT_OFFSET(KeelConfig, limits.max_addresses) },
  ACCOUNT("imap", TYPE_IMAP_URL, NULL, imap),
  ACCOUNT("smtp", TYPE_SMTP_URL, NULL, smtp),
  ACCOUNT("user", TYPE_STRING, NULL, user),
  ACCOUNT("password_file", TYPE_STRING, NULL, password_file),
  ACCOUNT("password_command", TYPE_STRING, NULL, password_command),
  ACCOUNT("folders", TYPE_LIST, "INBOX", folders),
  ACCOUNT("sent_folder", TYPE_STRING, NULL, sent_folder),     /* NULL: found by SPECIAL-USE */
  ACCOUNT("drafts_folder", TYPE_STRING, NULL, drafts_folder), /* (daemon/mail/folders.c) */
  ACCOUNT("risky_folder", TYPE_STRING, "keel/Risky", risky_folder),
  ACCOUNT("fine_folder", TYPE_STRING, "keel/Fine", fine_folder),
  ACCOUNT_UINT("poll_interval", "60", 10, 86400, poll_interval),
  ACCOUNT("ca_file", TYPE_STRING, NULL, ca_file),
  ACCOUNT("allow_plaintext", TYPE_BOOL, "false", allow_plaintext),
  ACCOUNT_UINT("connect_timeout", "15", 1, 600, connect_timeout),
  ACCOUNT_UINT("read_timeout", "30", 1, 3600, read_timeout),
  ACCOUNT("server_files_sent", TYPE_BOOL, "false", server_files_sent),
  ACCOUNT("note_address", TYPE_STRING, NULL, note_address),
  ACCOUNT("authserv_id", TYPE_STRING, NULL, authserv_id),
  ACCOUNT("name", TYPE_STRING, NULL, va_name),
  ACCOUNT("business", TYPE_STRING, NULL, business),
  ACCOUNT("signature_file", TYPE_STRING, NULL, signature_file),
  ACCOUNT("idle", TYPE_BOOL, "true", idle),
  ACCOUNT("auth", TYPE_STRING, "password", auth),
  ACCOUNT("oauth_provider", TYPE_STRING, NULL, oauth_provider),
  ACCOUNT("oauth_token_url", TYPE_STRING, NULL, oauth_token_url),
  ACCOUNT("oauth_auth_url", TYPE_STRING, NULL, oauth_auth_url),
  ACCOUNT("oauth_client_id", TYPE_STRING, NULL, oauth_client_id),
  ACCOUNT("oauth_client_secret_file", TYPE_STRING, NULL, oauth_client_secret_file),
  ACCOUNT("oauth_refresh_token_file", TYPE_STRING, NULL, oauth_refresh_token_file),
  ACCOUNT("oauth_scope", TYPE_STRING, NULL, oauth_scope),
  ACCOUNT("oauth_ca_file", TYPE_STRING, NULL, oauth_ca_file),
  CLIENT("name", TYPE_STRING, NULL, name),
  CLIENT("contact", TYPE_STRING, NULL, contact),
  CLIENT("addresses", TYPE_ADDRESSES, NULL, addresses),
  CLIENT("timezone", TYPE_TIMEZONE, NULL, timezone),
  CLIENT("date_order", TYPE_DATE_ORDER, "UK", date_order),
  DIGEST("at", TYPE_TIME_OF_DAY, digest_at),
  DIGEST("to", TYPE_ADDRESSES, digest_to),
  { SECTION_DIGEST, "send_empty", TYPE_BOOL, "false", 0, 0,
    G_STRUCT_OFFSET(KeelConfig, digest_send_empty) },
  { SECTION_DIGEST, "alert_threshold", TYPE_UINT, "3", 1, 1000,
    G_STRUCT_OFFSET(KeelConfig, digest_alert_threshold) },
  CLIENT("holidays", TYPE_DATES, NULL, holidays),
  { SECTION_PAYMENTS, "steps", TYPE_STEPS, "3;10;21", 0, 0,
    G_STRUCT_OFFSET(KeelConfig, payments_steps) },
  { SECTION_PAYMENTS, "currency", TYPE_CURRENCY, "GBP", 0, 0,
    G_STRUCT_OFFSET(KeelConfig, payments_currency) },
  { SECTION_PAYMENTS, "own_chase_days", TYPE_UINT, "3", 0, 30,
    G_STRUCT_OFFSET(KeelConfig, payments_own_chase_days) },
  { SECTION_PAYMENTS, "new_work_days", TYPE_UINT, "7", 0, 365,
    G_STRUCT_OFFSET(KeelConfig, payments_new_work_days) },
  REPLIES("per_client_per_day", "3", 0, 1000, replies_per_client_per_day),
  REPLIES("alerts_per_day", "10", 1, 1000, replies_alerts_per_day),
  REPLIES("flood_threshold", "10", 1, 100000, replies_flood_threshold),
  REPLIES("risk_memory", "3", 0, 365, replies_risk_memory),
  { SECTION_KEEL, "history_window", TYPE_UINT, "3", 0, 3650,
    G_STRUCT_OFFSET(KeelConfig, history_window) },
  { SECTION_REPLIES, "holding_drafts", TYPE_BOOL, "true", 0, 0,
    G_STRUCT_OFFSET(KeelConfig, replies_holding_drafts) },
};

/* The state of one config_load(): where problems go and where lines are. */
typedef struct {
  const char *path;      /* borrowed */
  GKeyFile *keyfile;     /* borrowed */
  GHashTable *lines;     /* borrowed: "group" / "group\nkey" -> line */
  GPtrArray *problems;   /* borrowed: of char*, each "file:line: message" */
} ConfigLoader;

static const char *const weekday_names[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

/* ---- line numbers and problems ---------------------------------------- */

static int config_line_of(GHashTable *lines, const char *group, const char *key)
{
  g_autofree char *name = key ? g_strdup_printf("%s\n%s", group, key) : g_strdup(group);
  gpointer line = lines ? g_hash_table_lookup(lines, name) : NULL;
  if (!line && key)
    return config_line_of(lines, group, NULL);
  return line ? GPOINTER_TO_INT(line) : 1;
}

static void config_problem(ConfigLoader *loader, const char *group, const char *key,
                           const char *format, ...) G_GNUC_PRINTF(4, 5);
static void config_problem(ConfigLoader *loader, const char *group, const char *key,
                           const char *format, ...)
{
  va_list args;
  va_start(args, format);
  g_autofree char *message = g_strdup_vprintf(format, args);
  va_end(args);
  int line = group ? config_line_of(loader->lines, group, key) : 1;
  g_ptr_array_add(loader->problems, g_strdup_printf("%s:%d: %s", loader->path, line, message));
}

/* Remembers where group or key `name` (owned) is; a second occurrence is a
 * problem, never a silent override (GKeyFile would let the last one win). */
static void config_scan_remember(ConfigLoader *loader, char *name, int line)
{
  gpointer first = g_hash_table_lookup(loader->lines, name);
  if (!first) {
    g_hash_table_insert(loader->lines, name, GINT_TO_POINTER(line));
    return;
  }
  const char *newline = strchr(name, '\n');
  if (newline)
    g_ptr_array_add(loader->problems, g_strdup_printf(
      "%s:%d: '%s' is set again in [%.*s] (first at line %d): keep one", loader->path, line,
      newline + 1, (int)(newline - name), name, GPOINTER_TO_INT(first)));
  else
    g_ptr_array_add(loader->problems, g_strdup_printf(
      "%s:%d: section [%s] appears again (first at line %d): merge them into one",
      loader->path, line, name, GPOINTER_TO_INT(first)));
  g_free(name);
}

/* One line of the file: remembers groups and keys, reports a line that is
 * none of blank, comment, [group] or key = value. `group` is the current one. */
static void config_scan_line(ConfigLoader *loader, char *text, int line, char **group)
{
  g_strstrip(text);
  if (text[0] == '\0' || text[0] == '#')
    return;
  if (text[0] == '[') {
    char *end = strchr(text, ']');
    if (!end || end[1] != '\0') {
      g_ptr_array_add(loader->problems, g_strdup_printf(
        "%s:%d: a section header must look like [account main]", loader->path, line));
      return;
    }
    g_free(*group);
    *group = g_strndup(text + 1, (gsize)(end - text - 1));
    config_scan_remember(loader, g_strdup(*group), line);
    return;
  }
  char *equals = strchr(text, '=');
  if (!equals || equals == text) {
    g_ptr_array_add(loader->problems, g_strdup_printf(
      "%s:%d: expected 'key = value', a [section] or a # comment", loader->path, line));
    return;
  }
  if (!*group) {
    g_ptr_array_add(loader->problems, g_strdup_printf(
      "%s:%d: a key before any [section] (start the file with [keel])", loader->path, line));
    return;
  }
  g_autofree char *key = g_strstrip(g_strndup(text, (gsize)(equals - text)));
  config_scan_remember(loader, g_strdup_printf("%s\n%s", *group, key), line);
}

static void config_scan(ConfigLoader *loader, const char *text)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  g_autofree char *group = NULL;
  for (int i = 0; lines[i]; i++)
    config_scan_line(loader, lines[i], i + 1, &group);
}

/* ---- values ------------------------------------------------------------ */

/* "09:30" -> 570. `allow_24` lets "24:00" through (an end time). */
static gboolean config_parse_hhmm(const char *text, gboolean allow_24, guint *minutes)
{
  guint hours = 0, mins = 0;
  if (strlen(text) != 5 || !g_ascii_isdigit(text[0]) || !g_ascii_isdigit(text[1])
      || text[2] != ':' || !g_ascii_isdigit(text[3]) || !g_ascii_isdigit(text[4]))
    return FALSE;
  hours = (guint)(text[0] - '0') * 10 + (guint)(text[1] - '0');
  mins = (guint)(text[3] - '0') * 10 + (guint)(text[4] - '0');
  if (mins > 59 || hours > 24 || (hours == 24 && (!allow_24 || mins != 0)))
    return FALSE;
  *minutes = hours * 60 + mins;
  return TRUE;
}

static int config_weekday(const char *name)
{
  for (int i = 0; i < 7; i++)
    if (g_ascii_strcasecmp(name, weekday_names[i]) == 0)
      return i;
  return -1;
}

/* "Mon-Fri" or "Mon,Wed,Fri" or "Sat-Sun" -> bits (bit 0 = Monday). */
static gboolean config_parse_days(const char *text, guint8 *days)
{
  g_auto(GStrv) items = g_strsplit(text, ",", -1);
  *days = 0;
  for (int i = 0; items[i]; i++) {
    g_auto(GStrv) ends = g_strsplit(g_strstrip(items[i]), "-", -1);
    guint n = g_strv_length(ends);
    int first = n >= 1 ? config_weekday(ends[0]) : -1;
    int last = n == 2 ? config_weekday(ends[1]) : first;
    if (n < 1 || n > 2 || first < 0 || last < 0)
      return FALSE;
    for (int d = first;; d = (d + 1) % 7) {
      *days |= (guint8)(1u << d);
      if (d == last)
        break;
    }
  }
  return *days != 0;
}

gboolean config_parse_business_hours(const char *text, KeelBusinessHours *out, GError **error)
{
  g_auto(GStrv) parts = g_strsplit_set(text ? text : "", " \t", -1);
  g_autoptr(GPtrArray) words = g_ptr_array_new();
  for (int i = 0; parts[i]; i++)
    if (parts[i][0])
      g_ptr_array_add(words, parts[i]);
  KeelBusinessHours hours = { 0 };
  g_auto(GStrv) times = words->len == 2 ? g_strsplit(words->pdata[1], "-", -1) : NULL;
  if (words->len != 2 || !config_parse_days(words->pdata[0], &hours.days)
      || g_strv_length(times) != 2 || !config_parse_hhmm(times[0], FALSE, &hours.start_min)
      || !config_parse_hhmm(times[1], TRUE, &hours.end_min)) {
    g_set_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_INVALID,
                "business_hours '%s' should look like 'Mon-Fri 09:00-17:30'", text);
    return FALSE;
  }
  if (hours.start_min >= hours.end_min) {
    g_set_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_INVALID,
                "business_hours '%s' ends before it starts", text);
    return FALSE;
  }
  *out = hours;
  return TRUE;
}

/* "bob@x.example" or "@x.example": one '@', a domain with a dot, no spaces. */
static gboolean config_address_valid(const char *address)
{
  const char *at = strchr(address, '@');
  if (!at || strchr(at + 1, '@') || strpbrk(address, " \t<>,;\""))
    return FALSE;
  const char *domain = at + 1;
  return domain[0] && domain[0] != '.' && strchr(domain, '.') && !g_str_has_suffix(domain, ".");
}

/* Splits a ';'-separated list, trimming each item and dropping empty ones. */
static char **config_split_list(const char *text)
{
  g_auto(GStrv) items = g_strsplit(text, ";", -1);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
  for (int i = 0; items[i]; i++) {
    g_strstrip(items[i]);
    if (items[i][0])
      g_strv_builder_add(builder, items[i]);
  }
  return g_strv_builder_end(builder);
}

/* "25M", "512K", "1G" or plain bytes. */
static gboolean config_parse_size(const char *text, guint64 *bytes)
{
  char *end = NULL;
  errno = 0;
  guint64 value = g_ascii_strtoull(text, &end, 10);
  if (errno || end == text)
    return FALSE;
  guint64 unit = 1;
  if (g_ascii_toupper(*end) == 'K')
    unit = 1024;
  else if (g_ascii_toupper(*end) == 'M')
    unit = 1024 * 1024;
  else if (g_ascii_toupper(*end) == 'G')
    unit = 1024 * 1024 * 1024;
  if (unit > 1)
    end++;
  if (unit > 1 && g_ascii_toupper(*end) == 'B')
    end++;
  if (*end || value > G_MAXUINT64 / unit)
    return FALSE;
  *bytes = value * unit;
  return TRUE;
}

/* A URL with one of the two schemes and a host. Never quotes the URL (it could
 * hold a user name and password). */
static char *config_check_url(const char *text, const char *plain, const char *tls)
{
  g_autoptr(GUri) uri = g_uri_parse(text, G_URI_FLAGS_HAS_PASSWORD, NULL);
  if (!uri)
    return g_strdup_printf("not a URL: write it as %s://host.example or %s://host.example:port",
                           tls, plain);
  const char *scheme = g_uri_get_scheme(uri);
  if (g_ascii_strcasecmp(scheme, plain) != 0 && g_ascii_strcasecmp(scheme, tls) != 0)
    return g_strdup_printf("the URL must start with %s:// (TLS) or %s:// (STARTTLS)", tls, plain);
  if (!g_uri_get_host(uri) || !g_uri_get_host(uri)[0])
    return g_strdup_printf("the URL has no host name");
  if (g_uri_get_password(uri))
    return g_strdup("the URL must not hold a password: use password_file or password_command");
  return NULL;
}

static char *config_set_uint(const ConfigKey *key, const char *text, guint64 *value)
{
  gboolean ok = key->type == TYPE_SIZE ? config_parse_size(text, value)
                                       : g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT,
                                                                    value, NULL);
  if (!ok)
    return g_strdup_printf("%s '%s' is not a whole number", key->key, text);
  if (*value < key->min || *value > key->max)
    return g_strdup_printf("%s %s is out of range (%" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
                           ")", key->key, text, key->min, key->max);
  return NULL;
}

static char *config_set_bool(const ConfigKey *key, const char *text, gboolean *slot)
{
  if (g_ascii_strcasecmp(text, "true") == 0 || g_ascii_strcasecmp(text, "yes") == 0)
    *slot = TRUE;
  else if (g_ascii_strcasecmp(text, "false") == 0 || g_ascii_strcasecmp(text, "no") == 0)
    *slot = FALSE;
  else
    return g_strdup_printf("%s must be true or false, not '%s'", key->key, text);
  return NULL;
}

static char *config_set_addresses(const ConfigKey *key, const char *text, char ***slot)
{
  g_auto(GStrv) items = config_split_list(text);
  for (int i = 0; items[i]; i++) {
    if (!config_address_valid(items[i]))
      return g_strdup_printf("%s: '%s' is neither an address (bob@acme.example) "
                             "nor a domain (@acme.example)", key->key, items[i]);
    char *lower = g_ascii_strdown(items[i], -1);
    g_free(items[i]);
    items[i] = lower;
  }
  if (!items[0])
    return g_strdup_printf("%s is empty", key->key);
  g_strfreev(*slot);
  *slot = g_steal_pointer(&items);
  return NULL;
}

static char *config_set_enum(const ConfigKey *key, const char *text, int *slot)
{
  const char *names[2] = { "review", "auto" };
  if (key->type == TYPE_DATE_ORDER) {
    names[0] = "UK";
    names[1] = "US";
  }
  for (int i = 0; i < 2; i++) {
    if (g_ascii_strcasecmp(text, names[i]) == 0) {
      *slot = i;
      return NULL;
    }
  }
  return g_strdup_printf("%s must be %s or %s, not '%s'", key->key, names[0], names[1], text);
}

static char *config_set_string(const ConfigKey *key, const char *text, char **slot)
{
  if (key->type == TYPE_IMAP_URL || key->type == TYPE_SMTP_URL) {
    char *problem = key->type == TYPE_IMAP_URL ? config_check_url(text, "imap", "imaps")
                                               : config_check_url(text, "smtp", "smtps");
    if (problem)
      return problem;
  } else if (key->type == TYPE_TIMEZONE) {
    g_autoptr(GTimeZone) zone = g_time_zone_new_identifier(text);
    if (!zone)
      return g_strdup_printf("unknown time zone '%s' (use a name like Europe/London)", text);
  } else if (key->type == TYPE_CURRENCY && !money_currency_valid(text)) {
    return g_strdup_printf("%s '%s' should be an ISO 4217 code like EUR or GBP", key->key, text);
  } else if (key->type == TYPE_TIME_OF_DAY) {
    guint minutes = 0;
    if (!config_parse_hhmm(text, FALSE, &minutes))
      return g_strdup_printf("%s '%s' should be a time like 08:30", key->key, text);
  } else if (text[0] == '\0') {
    return g_strdup_printf("%s is empty", key->key);
  }
  g_free(*slot);
  *slot = g_strdup(text);
  return NULL;
}

/* [payments] steps ("3;10;21") and a client's holidays ("2026-12-25;...").  */
static char *config_set_payments(const ConfigKey *key, const char *text, gpointer slot)
{
  if (key->type == TYPE_STEPS) {
    KeelChaseSteps *steps = slot;
    if (!chase_parse_steps(text, steps->offsets, &steps->count))
      return g_strdup_printf("%s '%s' should be increasing days after the due date, like "
                             "3;10;21 (at most 8)", key->key, text);
    return NULL;
  }
  g_auto(GStrv) dates = config_split_list(text);
  for (int i = 0; dates[i]; i++) {
    GDate date;
    if (!chase_parse_date(dates[i], &date))
      return g_strdup_printf("%s: '%s' is not a date like 2026-12-25", key->key, dates[i]);
  }
  g_strfreev(*(char ***)slot);
  *(char ***)slot = g_steal_pointer(&dates);
  return NULL;
}

/* Parses `text` as `key` says and stores it in `target` (the struct the key's
 * section fills). Returns NULL, or a problem (without file:line) to free. */
static char *config_set_value(const ConfigKey *key, const char *text, gpointer target)
{
  gpointer slot = G_STRUCT_MEMBER_P(target, key->offset);
  guint64 number = 0;
  GError *error = NULL;
  char *problem = NULL;
  switch (key->type) {
  case TYPE_BOOL:
    return config_set_bool(key, text, slot);
  case TYPE_UINT:
  case TYPE_SIZE:
    problem = config_set_uint(key, text, &number);
    if (!problem && key->type == TYPE_SIZE)
      *(gsize *)slot = (gsize)number;
    else if (!problem)
      *(guint *)slot = (guint)number;
    return problem;
  case TYPE_LIST:
    g_strfreev(*(char ***)slot);
    *(char ***)slot = config_split_list(text);
    return **(char ***)slot ? NULL : g_strdup_printf("%s is empty", key->key);
  case TYPE_ADDRESSES:
    return config_set_addresses(key, text, slot);
  case TYPE_STEPS:
  case TYPE_DATES:
    return config_set_payments(key, text, slot);
  case TYPE_HOURS:
    if (!config_parse_business_hours(text, slot, &error))
      problem = g_strdup(error->message);
    g_clear_error(&error);
    return problem;
  case TYPE_MODE:
  case TYPE_DATE_ORDER:
    return config_set_enum(key, text, slot);
  default:
    return config_set_string(key, text, slot);
  }
}

/* ---- sections ---------------------------------------------------------- */

static const ConfigKey *config_key_find(ConfigSection section, const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS(config_keys); i++)
    if (config_keys[i].section == section && strcmp(config_keys[i].key, name) == 0)
      return &config_keys[i];
  return NULL;
}

/* The value of group/key as text, with a trailing " # comment" removed; NULL
 * when absent (a problem is recorded when it cannot be read). */
static char *config_value(ConfigLoader *loader, const char *group, const char *key)
{
  if (!g_key_file_has_key(loader->keyfile, group, key, NULL))
    return NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *value = g_key_file_get_value(loader->keyfile, group, key, &error);
  if (!value) {
    config_problem(loader, group, key, "%s: %s", key, error->message);
    return NULL;
  }
  for (char *p = value; *p; p++) {
    if (*p == '#' && p > value && g_ascii_isspace(p[-1])) {
      *p = '\0';
      break;
    }
  }
  return g_strdup(g_strstrip(value));
}

static void config_report_unknown_keys(ConfigLoader *loader, ConfigSection section,
                                       const char *group)
{
  g_auto(GStrv) keys = g_key_file_get_keys(loader->keyfile, group, NULL, NULL);
  for (int i = 0; keys && keys[i]; i++) {
    if (config_key_find(section, keys[i]))
      continue;
    if (g_ascii_strcasecmp(keys[i], "password") == 0)
      config_problem(loader, group, keys[i], "keel never reads a password from keel.conf: "
                     "use password_file or password_command");
    else
      config_problem(loader, group, keys[i], "unknown key '%s' in [%s]", keys[i], group);
  }
}

/* Fills `target` from `group` (which may be absent: then only defaults). */
static void config_read_section(ConfigLoader *loader, ConfigSection section, const char *group,
                                gpointer target)
{
  if (g_key_file_has_group(loader->keyfile, group))
    config_report_unknown_keys(loader, section, group);
  for (gsize i = 0; i < G_N_ELEMENTS(config_keys); i++) {
    const ConfigKey *key = &config_keys[i];
    if (key->section != section)
      continue;
    g_autofree char *text = config_value(loader, group, key->key);
    if (!text && !key->fallback)
      continue;
    g_autofree char *problem = config_set_value(key, text ? text : key->fallback, target);
    if (problem)
      config_problem(loader, group, key->key, "%s", problem);
  }
}

static void account_free(KeelAccount *account)
{
  g_free(account->name);
  g_free(account->note_address);
  g_free(account->authserv_id);
  g_free(account->va_name);
  g_free(account->business);
  g_free(account->signature_file);
  g_free(account->auth);
  g_free(account->oauth_provider);
  g_free(account->oauth_token_url);
  g_free(account->oauth_auth_url);
  g_free(account->oauth_client_id);
  g_free(account->oauth_client_secret_file);
  g_free(account->oauth_refresh_token_file);
  g_free(account->oauth_scope);
  g_free(account->oauth_ca_file);
  g_free(account->oauth_state_file);
  g_free(account->imap);
  g_free(account->smtp);
  g_free(account->user);
  g_free(account->password_file);
  g_free(account->password_command);
  g_strfreev(account->folders);
  g_free(account->sent_folder);
  g_free(account->drafts_folder);
  g_free(account->risky_folder);
  g_free(account->fine_folder);
  g_free(account->ca_file);
  g_free(account);
}

static void client_free(KeelClient *client)
{
  g_free(client->id);
  g_free(client->name);
  g_free(client->contact);
  g_strfreev(client->addresses);
  g_free(client->timezone);
  g_strfreev(client->holidays);
  g_free(client);
}

char *config_client_names(const KeelConfig *config)
{
  if (!config || config->clients->len == 0)
    return g_strdup("none (no [client] in the config)");
  g_autoptr(GString) out = g_string_new(NULL);
  for (guint i = 0; i < config->clients->len; i++) {
    const KeelClient *client = config->clients->pdata[i];
    g_string_append_printf(out, "%s%s", i ? ", " : "", client->id);
    if (g_strcmp0(client->name, client->id) != 0)
      g_string_append_printf(out, " (%s)", client->name);
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

static gboolean config_name_valid(const char *name)
{
  if (!name[0])
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

/* Cross-key rules of one account. */
static void config_check_account(ConfigLoader *loader, const char *group, KeelAccount *account)
{
  /* An account without imap is the VA's identity only (offline scoring,
   * `keel import`); the daemon says it has nothing to poll. */
  if (!account->imap && !account->smtp && !account->user)
    config_problem(loader, group, NULL, "[%s] needs user (and imap to be polled)", group);
  if (account->imap && !account->user)
    config_problem(loader, group, NULL, "[%s] has imap but no user", group);
  if (account->password_file && account->password_command)
    config_problem(loader, group, "password_command",
                   "[%s] has both password_file and password_command: keep one", group);
  else if (account->imap && !config_account_uses_oauth(account) && !account->password_file
           && !account->password_command)
    config_problem(loader, group, NULL,
                   "[%s] has imap but neither password_file nor password_command", group);
  if (account->password_file && !g_path_is_absolute(account->password_file)
      && strchr(account->password_file, '/'))
    config_problem(loader, group, "password_file",
                   "password_file must be an absolute path (/etc/keel/secrets/%s) or the "
                   "name of a systemd credential (LoadCredential=)", account->name);
}

/* OAuth2 presets (issue 19): endpoint and scopes of the two big providers. */
static const struct {
  const char *name, *token_url, *scope, *auth_url; /* auth_url NULL: device-code login */
} config_oauth_presets[] = {
  { "google", "https://oauth2.googleapis.com/token", "https://mail.google.com/",
    "https://accounts.google.com/o/oauth2/v2/auth" },
  { "microsoft", "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send "
    "offline_access", NULL },
};

gboolean config_account_uses_oauth(const KeelAccount *account)
{
  return account->auth && g_strcmp0(account->auth, "password") != 0;
}

static void config_apply_oauth_preset(ConfigLoader *loader, const char *group,
                                      KeelAccount *account)
{
  if (!account->oauth_provider)
    return;
  for (gsize i = 0; i < G_N_ELEMENTS(config_oauth_presets); i++) {
    if (g_ascii_strcasecmp(account->oauth_provider, config_oauth_presets[i].name) != 0)
      continue;
    if (!account->oauth_token_url)
      account->oauth_token_url = g_strdup(config_oauth_presets[i].token_url);
    if (!account->oauth_scope)
      account->oauth_scope = g_strdup(config_oauth_presets[i].scope);
    if (!account->oauth_auth_url)
      account->oauth_auth_url = g_strdup(config_oauth_presets[i].auth_url);
    return;
  }
  config_problem(loader, group, "oauth_provider",
                 "oauth_provider must be google or microsoft (or leave it out and set "
                 "oauth_token_url and oauth_scope)");
}

/* auth and the oauth_* keys of one account. */
static void config_check_oauth(ConfigLoader *loader, const char *group, KeelAccount *account)
{
  if (g_strcmp0(account->auth, "password") != 0 && g_strcmp0(account->auth, "xoauth2") != 0
      && g_strcmp0(account->auth, "oauthbearer") != 0) {
    config_problem(loader, group, "auth", "auth must be password, xoauth2 or oauthbearer");
    return;
  }
  if (!config_account_uses_oauth(account))
    return;
  config_apply_oauth_preset(loader, group, account);
  if (!account->oauth_token_url || !g_str_has_prefix(account->oauth_token_url, "https://"))
    config_problem(loader, group, "oauth_token_url", "auth = %s needs oauth_provider or an "
                   "https:// oauth_token_url", account->auth);
  if (account->oauth_auth_url && !g_str_has_prefix(account->oauth_auth_url, "https://"))
    config_problem(loader, group, "oauth_auth_url", "oauth_auth_url must be an https:// URL");
  if (!account->oauth_client_id)
    config_problem(loader, group, "auth", "auth = %s needs oauth_client_id (from the app "
                   "registration)", account->auth);
  if (account->password_file || account->password_command)
    config_problem(loader, group, "auth", "auth = %s uses no password: remove password_file "
                   "and password_command", account->auth);
}

static void config_read_account(ConfigLoader *loader, KeelConfig *config, const char *group,
                                const char *name)
{
  if (!config_name_valid(name)) {
    config_problem(loader, group, NULL, "account name '%s' may use only letters, digits, "
                   "'-', '_' and '.'", name);
    return;
  }
  KeelAccount *account = g_new0(KeelAccount, 1);
  account->name = g_strdup(name);
  g_ptr_array_add(config->accounts, account);
  config_read_section(loader, SECTION_ACCOUNT, group, account);
  config_check_account(loader, group, account);
  config_check_oauth(loader, group, account);
}

/* An address listed for two clients would make the match ambiguous. */
static void config_check_client_addresses(ConfigLoader *loader, KeelConfig *config,
                                          const char *group, KeelClient *client)
{
  for (int i = 0; client->addresses && client->addresses[i]; i++) {
    for (guint c = 0; c < config->clients->len; c++) {
      const KeelClient *other = config->clients->pdata[c];
      if (other != client && other->addresses
          && g_strv_contains((const char *const *)other->addresses, client->addresses[i]))
        config_problem(loader, group, "addresses", "'%s' is already listed for client '%s'",
                       client->addresses[i], other->id);
    }
  }
}

static void config_read_client(ConfigLoader *loader, KeelConfig *config, const char *group,
                               const char *id)
{
  if (!config_name_valid(id)) {
    config_problem(loader, group, NULL, "client id '%s' may use only letters, digits, "
                   "'-', '_' and '.'", id);
    return;
  }
  KeelClient *client = g_new0(KeelClient, 1);
  client->id = g_strdup(id);
  g_ptr_array_add(config->clients, client);
  config_read_section(loader, SECTION_CLIENT, group, client);
  if (!client->name)
    client->name = g_strdup(id);
  if (!client->timezone)
    client->timezone = g_strdup(config->timezone);
  if (!g_key_file_has_key(loader->keyfile, group, "addresses", NULL))
    config_problem(loader, group, NULL, "[%s] has no addresses (e.g. addresses = "
                   "bob@acme.example;@acme.example)", group);
  else if (client->addresses)
    config_check_client_addresses(loader, config, group, client);
}

static void config_read_group(ConfigLoader *loader, KeelConfig *config, const char *group)
{
  if (strcmp(group, "keel") == 0 || strcmp(group, "digest") == 0
      || strcmp(group, "payments") == 0 || strcmp(group, "replies") == 0)
    return; /* read already */
  g_autofree char *name = NULL;
  if (g_str_has_prefix(group, "account ")) {
    name = g_strstrip(g_strdup(group + 8));
    config_read_account(loader, config, group, name);
  } else if (g_str_has_prefix(group, "client ")) {
    name = g_strstrip(g_strdup(group + 7));
    config_read_client(loader, config, group, name);
  } else
    config_problem(loader, group, NULL, "unknown section [%s] (expected [keel], "
                   "[account NAME], [client ID], [digest], [payments] or [replies])", group);
}

/* ---- entry points ------------------------------------------------------ */

char *config_resolve_path(const char *cli_path)
{
  if (cli_path && cli_path[0])
    return g_strdup(cli_path);
  const char *env = g_getenv("KEEL_CONFIG");
  if (env && env[0])
    return g_strdup(env);
  return g_strdup(KEEL_SYSCONFDIR "/keel.conf");
}

void config_free(KeelConfig *config)
{
  if (!config)
    return;
  g_free(config->path);
  g_free(config->database);
  g_free(config->rules);
  g_free(config->timezone);
  g_clear_pointer(&config->accounts, g_ptr_array_unref);
  g_clear_pointer(&config->clients, g_ptr_array_unref);
  g_free(config->digest_at);
  g_strfreev(config->digest_to);
  g_free(config->payments_currency);
  g_clear_pointer(&config->lines, g_hash_table_unref);
  g_free(config);
}

static KeelConfig *config_new(const char *path, GHashTable *lines)
{
  KeelConfig *config = g_new0(KeelConfig, 1);
  config->path = g_strdup(path);
  config->accounts = g_ptr_array_new_with_free_func((GDestroyNotify)account_free);
  config->clients = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);
  config->lines = g_hash_table_ref(lines);
  return config;
}

static void config_read_all(ConfigLoader *loader, KeelConfig *config, const char *text)
{
  g_autoptr(GError) error = NULL;
  if (!g_key_file_load_from_data(loader->keyfile, text, (gsize)-1, G_KEY_FILE_NONE, &error)) {
    g_ptr_array_add(loader->problems, g_strdup_printf("%s:1: %s", loader->path, error->message));
    return;
  }
  config_read_section(loader, SECTION_KEEL, "keel", config);
  config_read_section(loader, SECTION_DIGEST, "digest", config);
  config_read_section(loader, SECTION_PAYMENTS, "payments", config);
  config_read_section(loader, SECTION_REPLIES, "replies", config);
  g_auto(GStrv) groups = g_key_file_get_groups(loader->keyfile, NULL);
  for (int i = 0; groups[i]; i++) {
    g_autofree char *group = g_strdup(groups[i]);
    config_read_group(loader, config, group);
  }
}

/* Orders "file:line: message" strings by line (the sort is stable). */
static gint config_problem_compare(gconstpointer a, gconstpointer b, gpointer path)
{
  gsize skip = strlen(path) + 1;
  guint64 line_a = g_ascii_strtoull(*(char *const *)a + skip, NULL, 10);
  guint64 line_b = g_ascii_strtoull(*(char *const *)b + skip, NULL, 10);
  return line_a < line_b ? -1 : line_a > line_b;
}

/* Where an OAuth2 account keeps its rotated refresh token and access token:
 * next to the database (the service's StateDirectory). */
static void config_set_oauth_state_file(const KeelConfig *config, KeelAccount *account)
{
  g_autofree char *dir = g_path_get_dirname(config->database);
  g_autofree char *base = g_strdup_printf("oauth-%s.json", account->name);
  account->oauth_state_file = g_build_filename(dir, base, NULL);
}

char *config_default_rules_dir(void)
{
  if (g_file_test(KEEL_SYSCONFDIR "/rules", G_FILE_TEST_IS_DIR))
    return g_strdup(KEEL_SYSCONFDIR "/rules");
  return g_strdup(g_file_test("rules", G_FILE_TEST_IS_DIR) ? "rules" : KEEL_SYSCONFDIR "/rules");
}

/* The rules directory once and for all, while the config is still being
 * built: `rules` (an override such as --rules) when given, else the file's
 * `rules` key as written (a missing directory stays missing, for `config
 * check` and the daemon to refuse), else config_default_rules_dir(). */
static void config_settle_rules(KeelConfig *config, const char *rules)
{
  if (!rules && g_hash_table_contains(config->lines, "keel\nrules"))
    return;
  g_free(config->rules);
  config->rules = rules ? g_strdup(rules) : config_default_rules_dir();
}

KeelConfig *config_load(const char *path, GError **error)
{
  return config_load_with_rules(path, NULL, error);
}

KeelConfig *config_load_with_rules(const char *path, const char *rules, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) read_error = NULL;
  if (!g_file_get_contents(path, &text, NULL, &read_error)) {
    g_set_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_NOT_FOUND,
                "%s: cannot read the configuration: %s", path, read_error->message);
    return NULL;
  }
  g_autoptr(GHashTable) lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GKeyFile) keyfile = g_key_file_new();
  ConfigLoader loader = { path, keyfile, lines, problems };
  g_autoptr(KeelConfig) config = config_new(path, lines);
  const char *body = g_str_has_prefix(text, "\xef\xbb\xbf") ? text + 3 : text; /* BOM */
  config_scan(&loader, body);
  if (problems->len == 0)
    config_read_all(&loader, config, body);
  for (guint i = 0; problems->len == 0 && i < config->accounts->len; i++)
    config_set_oauth_state_file(config, config->accounts->pdata[i]);
  if (problems->len == 0)
    config_settle_rules(config, rules);
  if (problems->len > 0) {
    g_ptr_array_sort_with_data(problems, config_problem_compare, (gpointer)path);
    g_ptr_array_add(problems, NULL);
    g_autofree char *joined = g_strjoinv("\n", (char **)problems->pdata);
    g_set_error_literal(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_INVALID, joined);
    return NULL;
  }
  return g_steal_pointer(&config);
}

static gboolean config_address_matches(const KeelClient *client, const char *address,
                                       gboolean by_domain)
{
  const char *at = strrchr(address, '@');
  for (int i = 0; client->addresses && client->addresses[i]; i++) {
    const char *entry = client->addresses[i];
    if (!by_domain && entry[0] != '@' && g_ascii_strcasecmp(entry, address) == 0)
      return TRUE;
    if (by_domain && entry[0] == '@' && at && g_ascii_strcasecmp(entry, at) == 0)
      return TRUE;
  }
  return FALSE;
}

const KeelClient *config_client_for_address(const KeelConfig *config, const char *address)
{
  if (!config || !address || !address[0])
    return NULL;
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < config->clients->len; i++)
      if (config_address_matches(config->clients->pdata[i], address, pass == 1))
        return config->clients->pdata[i];
  return NULL;
}

gboolean config_is_own_address(const KeelConfig *config, const char *address)
{
  if (!config || !address)
    return FALSE;
  for (guint i = 0; i < config->accounts->len; i++) {
    const KeelAccount *account = config->accounts->pdata[i];
    if (account->user && g_ascii_strcasecmp(account->user, address) == 0)
      return TRUE;
  }
  return FALSE;
}

/* ---- secrets ----------------------------------------------------------- */

/* Opens a password file that only its owner may read. Returns the fd or -1. */
static int config_open_password_file(const char *path, GError **error)
{
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int saved = errno;
    g_set_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_SECRET,
                "password file %s: %s", path, g_strerror(saved));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    g_set_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_SECRET,
                "password file %s is not a regular file", path);
    return -1;
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    close(fd);
    g_set_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_SECRET,
                "password file %s can be read by other users (mode %04o); refused. "
                "Fix: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
    return -1;
  }
  return fd;
}

/* The first line of `data` (without CR/LF) as a new string; wipes `data`. */
static char *config_first_line_wiped(char *data, gsize len)
{
  gsize end = 0;
  while (end < len && data[end] != '\n' && data[end] != '\r')
    end++;
  char *line = g_strndup(data, end);
  explicit_bzero(data, len);
  return line;
}

/* Where a password file is: an absolute path as written, or a bare name is a
 * systemd credential in $CREDENTIALS_DIRECTORY (LoadCredential=). */
static char *config_password_path(const char *password_file, GError **error)
{
  if (g_path_is_absolute(password_file))
    return g_strdup(password_file);
  const char *credentials = g_getenv("CREDENTIALS_DIRECTORY");
  if (!credentials || !*credentials) {
    g_set_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_SECRET,
                "password_file '%s' names a systemd credential, but $CREDENTIALS_DIRECTORY is "
                "not set: add LoadCredential=%s:/path/to/file to the unit, or give an absolute "
                "path", password_file, password_file);
    return NULL;
  }
  return g_build_filename(credentials, password_file, NULL);
}

static char *config_read_password_file(const KeelAccount *account, GError **error)
{
  g_autofree char *path = config_password_path(account->password_file, error);
  int fd = path ? config_open_password_file(path, error) : -1;
  if (fd < 0)
    return NULL;
  char buffer[4096];
  ssize_t got = read(fd, buffer, sizeof buffer);
  close(fd);
  if (got <= 0) {
    g_set_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_SECRET,
                "password file %s is empty or unreadable", account->password_file);
    return NULL;
  }
  return config_first_line_wiped(buffer, (gsize)got);
}

static char *config_run_password_command(const KeelAccount *account, GError **error)
{
  const char *argv[] = { "/bin/sh", "-c", account->password_command, NULL };
  g_autofree char *out = NULL;
  int status = 0;
  gboolean ran = g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                              &out, NULL, &status, NULL);
  gboolean ok = ran && g_spawn_check_wait_status(status, NULL);
  char *line = out ? config_first_line_wiped(out, strlen(out)) : NULL;
  if (!ok || !line || !line[0]) {
    if (line)
      explicit_bzero(line, strlen(line));
    g_free(line);
    g_set_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_SECRET,
                "password_command of account '%s' %s", account->name,
                !ran ? "could not be run" : !ok ? "failed (non-zero exit status)"
                                                : "printed no password");
    return NULL;
  }
  return line;
}

char *config_account_password(const KeelAccount *account, GError **error)
{
  if (account->password_file)
    return config_read_password_file(account, error);
  if (account->password_command)
    return config_run_password_command(account, error);
  g_set_error(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_SECRET,
              "account '%s' has neither password_file nor password_command", account->name);
  return NULL;
}

static void config_check_account_files(const KeelConfig *config, const KeelAccount *account,
                                       GPtrArray *problems)
{
  g_autofree char *group = g_strdup_printf("account %s", account->name);
  if (account->password_file) {
    g_autoptr(GError) error = NULL;
    g_autofree char *path = config_password_path(account->password_file, &error);
    int fd = path ? config_open_password_file(path, &error) : -1;
    if (fd >= 0)
      close(fd);
    else
      g_ptr_array_add(problems, g_strdup_printf("%s:%d: %s", config->path,
        config_line_of(config->lines, group, "password_file"), error->message));
  }
  if (account->ca_file && access(account->ca_file, R_OK) != 0) {
    const char *reason = g_strerror(errno);
    g_ptr_array_add(problems, g_strdup_printf("%s:%d: ca_file %s cannot be read: %s",
      config->path, config_line_of(config->lines, group, "ca_file"), account->ca_file, reason));
  }
}

gboolean config_check_files(const KeelConfig *config, GError **error)
{
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < config->accounts->len; i++)
    config_check_account_files(config, config->accounts->pdata[i], problems);
  if (problems->len == 0)
    return TRUE;
  g_ptr_array_add(problems, NULL);
  g_autofree char *joined = g_strjoinv("\n", (char **)problems->pdata);
  g_set_error_literal(error, KEEL_CONFIG_ERROR, KEEL_CONFIG_ERROR_SECRET, joined);
  return FALSE;
}

const KeelClient *config_client_by_name(const KeelConfig *config, const char *name)
{
  for (guint i = 0; config && name && i < config->clients->len; i++) {
    const KeelClient *client = config->clients->pdata[i];
    if (g_ascii_strcasecmp(client->id, name) == 0 || g_ascii_strcasecmp(client->name, name) == 0)
      return client;
  }
  return NULL;
}

const char *config_client_address(const KeelClient *client)
{
  for (guint i = 0; client->addresses && client->addresses[i]; i++)
    if (client->addresses[i][0] != '@')
      return client->addresses[i];
  return NULL;
}

const KeelClient *config_client_named_in(const KeelConfig *config, const char *text)
{
  if (!config || !text)
    return NULL;
  g_autofree char *folded = g_utf8_casefold(text, -1);
  for (guint i = 0; i < config->clients->len; i++) {
    const KeelClient *client = config->clients->pdata[i];
    g_autofree char *name = g_utf8_casefold(client->name, -1);
    g_autofree char *id = g_utf8_casefold(client->id, -1);
    if (strstr(folded, name) || strstr(folded, id))
      return client;
  }
  return NULL;
}

gboolean config_is_note_address(const KeelConfig *config, const char *address)
{
  return config_account_for_note_address(config, address) != NULL;
}

const KeelAccount *config_account_for_note_address(const KeelConfig *config,
                                                   const char *address)
{
  for (guint i = 0; config && address && i < config->accounts->len; i++) {
    const KeelAccount *account = config->accounts->pdata[i];
    if (account->note_address && g_ascii_strcasecmp(account->note_address, address) == 0)
      return account;
  }
  return NULL;
}

const KeelAccount *config_account_by_name(const KeelConfig *config, const char *name)
{
  for (guint i = 0; config && name && i < config->accounts->len; i++) {
    const KeelAccount *account = config->accounts->pdata[i];
    if (g_strcmp0(account->name, name) == 0)
      return account;
  }
  return NULL;
}

const char *config_note_token(const char *address, gsize *len)
{
  const char *at = address ? strrchr(address, '@') : NULL;
  const char *tag = at ? g_strstr_len(address, at - address, "+keel-") : NULL;
  if (!tag)
    return NULL;
  const char *token = tag + strlen("+keel-");
  for (const char *p = token; p < at; p++)
    if (!g_ascii_isalnum(*p))
      return NULL;
  if ((gsize)(at - token) < CONFIG_NOTE_TOKEN_MIN)
    return NULL;
  *len = (gsize)(at - token);
  return token;
}

char *config_note_address_suggest(const KeelAccount *account)
{
  static const char alphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
  const char *at = account->user ? strrchr(account->user, '@') : NULL;
  guint8 bytes[24];
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (!at || fd < 0 || read(fd, bytes, sizeof bytes) != (ssize_t)sizeof bytes) {
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  close(fd);
  char token[sizeof bytes + 1];
  for (gsize i = 0; i < sizeof bytes; i++)
    token[i] = alphabet[bytes[i] % (sizeof alphabet - 1)];
  token[sizeof bytes] = '\0';
  g_autofree char *local = g_strndup(account->user, at - account->user);
  return g_strdup_printf("%s+keel-%s%s", local, token, at);
}

char *config_account_authserv_id(const KeelAccount *account)
{
  if (account->authserv_id)
    return g_ascii_strdown(account->authserv_id, -1);
  g_autoptr(GUri) uri = account->imap ? g_uri_parse(account->imap, G_URI_FLAGS_NONE, NULL)
                                      : NULL;
  const char *host = uri ? g_uri_get_host(uri) : NULL;
  return host && host[0] ? g_ascii_strdown(host, -1) : NULL;
}
