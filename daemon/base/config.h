/* daemon/base/config.h: keel.conf, parsed once from a table of keys (GKeyFile).
 * Entry points: config_resolve_path(), config_load(), config_client_for_address(),
 * config_account_password(). A config with any error is refused whole; every
 * problem is reported as `file:line: message`. Secrets are read on demand and
 * never stored in the struct or logged. */
#pragma once

#include <glib.h>
#include "filters/mime-limits.h"

#define KEEL_CONFIG_ERROR (keel_config_error_quark())
GQuark keel_config_error_quark(void);
typedef enum {
  KEEL_CONFIG_ERROR_NOT_FOUND, /* the file does not exist / cannot be read */
  KEEL_CONFIG_ERROR_INVALID,   /* one or more problems; message has one per line */
  KEEL_CONFIG_ERROR_SECRET     /* password file unsafe/unreadable, command failed */
} KeelConfigError;

typedef enum { KEEL_MODE_REVIEW, KEEL_MODE_AUTO } KeelMode;
typedef enum { KEEL_DATE_ORDER_UK, KEEL_DATE_ORDER_US } KeelDateOrder;

typedef struct {
  guint8 days;       /* bit 0 = Monday ... bit 6 = Sunday */
  guint start_min;   /* minutes after local midnight */
  guint end_min;
} KeelBusinessHours;

typedef struct {
  char *name;             /* owned: the part after "account " */
  char *imap;             /* owned URL, NULL when absent */
  char *smtp;             /* owned URL, NULL when absent */
  char *user;             /* owned */
  char *password_file;    /* owned, NULL when absent */
  char *password_command; /* owned, NULL when absent */
  char **folders;         /* owned strv, default {"INBOX"} */
  char *sent_folder;      /* owned; NULL = found on the server: read it with folders_sent() */
  char *drafts_folder;    /* owned; NULL = found on the server: folders_drafts() */
  char *risky_folder;     /* owned, default "keel/Risky": the VA's "this was risky" */
  char *fine_folder;      /* owned, default "keel/Fine": the VA's "this was fine" */
  guint poll_interval;    /* seconds, default 60 */
  char *ca_file;          /* owned, NULL = system trust store */
  gboolean allow_plaintext;
  guint connect_timeout;  /* seconds, default 15 */
  guint read_timeout;     /* seconds, default 30 */
  gboolean server_files_sent; /* the SMTP server files sent mail in Sent itself: no APPEND */
  char *note_address;     /* owned, NULL = none: mail the VA sends here is a phone note */
  char *authserv_id;      /* owned, NULL = the IMAP host: whose Authentication-Results count */
  char *va_name;          /* owned, [account] name: the VA's name, the display name on replies; NULL = none */
  char *business;         /* owned, [account] business: her business, signed under her name; NULL = none */
  char *signature_file;   /* owned, [account] signature_file: her sign-off, whole; NULL = name and business */
  gboolean idle;          /* keep a connection in IMAP IDLE (default true) */
  /* OAuth2 (issue 19): auth = password | xoauth2 | oauthbearer. */
  char *auth;             /* owned, default "password" */
  char *oauth_provider;   /* owned, NULL, "google" or "microsoft": fills url and scope */
  char *oauth_token_url;  /* owned: the provider's token endpoint (https://) */
  char *oauth_auth_url;   /* owned, NULL = device-code login: the authorization endpoint the
                           * browser opens (loopback + PKCE login; google fills it in) */
  char *oauth_client_id;  /* owned */
  char *oauth_client_secret_file; /* owned, NULL = public client (no secret) */
  char *oauth_refresh_token_file; /* owned: the first refresh token (read-only is fine) */
  char *oauth_scope;      /* owned, space-separated */
  char *oauth_ca_file;    /* owned, NULL = system trust store: who signs the token endpoint */
  char *oauth_state_file; /* owned, derived: <database dir>/oauth-<name>.json (rotated tokens) */
} KeelAccount;

/* TRUE when `account` logs in with an OAuth2 access token, not a password. */
gboolean config_account_uses_oauth(const KeelAccount *account);

typedef struct {
  char *id;               /* owned: the part after "client " */
  char *name;             /* owned display name, default = id */
  char *contact;          /* owned, [client] contact: the person keel greets when a mail gives no first name; NULL = none */
  char **addresses;       /* owned strv: "bob@x.example" or "@x.example" (whole domain) */
  char *timezone;         /* owned, default = [keel] timezone */
  KeelDateOrder date_order;
  char **holidays;        /* owned strv of YYYY-MM-DD: no payment chase on these days */
} KeelClient;

/* [payments] steps: days after the due date of each chase step. */
typedef struct {
  guint offsets[8];       /* strictly increasing */
  guint count;            /* 1 to 8 */
} KeelChaseSteps;

typedef struct {
  char *path;              /* owned: the file it was read from */
  char *database;          /* owned, default /var/lib/keel/keel.db */
  char *rules;             /* owned: the directory in force, see config_load() */
  char *timezone;          /* owned, default "Europe/London" */
  KeelBusinessHours business_hours; /* default Mon-Fri 09:00-17:30 */
  KeelMode mode;           /* default review */
  gsize max_message_size;  /* bytes, default 25 MB */
  MessageLimits limits;    /* max_mime_parts (500), max_mime_depth (50), max_header_fields
                            * (1000), max_addresses_per_field (1000): past one, a message
                            * is stored as malformed, unparsed (filters/mime-limits.h) */
  GPtrArray *accounts;     /* owned, of KeelAccount* */
  GPtrArray *clients;      /* owned, of KeelClient* */
  char *digest_at;         /* owned, [digest] at = "HH:MM" local; NULL = none (reserved) */
  char **digest_to;        /* owned strv, [digest] to; NULL = the account's user */
  gboolean digest_send_empty; /* [digest] send_empty: send "nothing needs you today" too */
  guint digest_alert_threshold; /* [digest] alert_threshold: thread risk for an alert (3) */
  KeelChaseSteps payments_steps; /* [payments] steps (3;10;21) */
  char *payments_currency;       /* owned, [payments] currency: keel invoice add's default (GBP) */
  guint payments_own_chase_days; /* [payments] own_chase_days: the VA's own chaser delays a step (3 business days) */
  guint payments_new_work_days;  /* [payments] new_work_days: new work flagged past N days overdue (7) */
  guint replies_per_client_per_day; /* [replies] per_client_per_day: automatic replies (3) */
  guint replies_alerts_per_day;  /* [replies] alerts_per_day: alerts, then one summary (10) */
  guint replies_flood_threshold; /* [replies] flood_threshold: client messages an hour (10) */
  guint replies_risk_memory;     /* [replies] risk_memory: days a thread keeps its peak (3) */
  guint history_window;          /* [keel] history_window: days of history still listed as due (3) */
  gboolean replies_holding_drafts; /* [replies] holding_drafts: draft a calm holding reply (true) */
  GHashTable *lines;       /* owned, private: "group" / "group\nkey" -> line number */
} KeelConfig;

/* --config, else $KEEL_CONFIG, else /etc/keel/keel.conf. Returns a new string. */
char *config_resolve_path(const char *cli_path);

/* Loads and validates `path`. On any problem returns NULL with
 * KEEL_CONFIG_ERROR_INVALID and a message of one `file:line: message` per line.
 * The config is complete when it returns and nobody writes to it afterwards
 * (readers take `const KeelConfig *`): `rules` is already the directory in
 * force, the file's `rules` key as written (even when it does not exist, so
 * it is refused rather than silently replaced), else config_default_rules_dir(). */
KeelConfig *config_load(const char *path, GError **error);

/* config_load() with `rules` (`keel import --rules DIR`; NULL: none) in
 * place of the file's `rules` key, so rules, templates and voices all come
 * from that directory. */
KeelConfig *config_load_with_rules(const char *path, const char *rules, GError **error);

/* The rules directory when no config names one: KEEL_SYSCONFDIR/rules when it
 * is a directory, else ./rules when it is one, else KEEL_SYSCONFDIR/rules.
 * New string. */
char *config_default_rules_dir(void);
void config_free(KeelConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KeelConfig, config_free)

/* The client whose addresses match `address` (exact address first, then
 * @domain), or NULL. Borrowed from `config`. */
const KeelClient *config_client_for_address(const KeelConfig *config, const char *address);

/* The client whose id or name is `name` (case-insensitive), or NULL. */
const KeelClient *config_client_by_name(const KeelConfig *config, const char *name);
/* "acme (Acme Lettings), kestrel (Kestrel Homes)": every client keel knows,
 * for an error about a name it does not; "none (no [client] in the config)"
 * without any. New string. */
char *config_client_names(const KeelConfig *config);
/* The client's first full address (not an @domain entry), or NULL. Borrowed. */
const char *config_client_address(const KeelClient *client);
/* The first client whose id or name appears in `text` (case-insensitive), or
 * NULL (e.g. the subject of a phone note: "Call with Acme Lettings"). */
const KeelClient *config_client_named_in(const KeelConfig *config, const char *text);
/* TRUE when `address` is the note_address of one of the accounts. */
gboolean config_is_note_address(const KeelConfig *config, const char *address);
/* The account whose note_address is `address`, or NULL. Borrowed. */
const KeelAccount *config_account_for_note_address(const KeelConfig *config,
                                                   const char *address);
/* The account named `name`, or NULL. Borrowed. */
const KeelAccount *config_account_by_name(const KeelConfig *config, const char *name);
/* The secret token of a note address "jo+keel-TOKEN@example.com", borrowed
 * into `address` with its length in `*len`; NULL when it has none or one
 * shorter than CONFIG_NOTE_TOKEN_MIN characters (letters and digits only). */
#define CONFIG_NOTE_TOKEN_MIN 16
const char *config_note_token(const char *address, gsize *len);
/* A fresh note address for `account` (its user with "+keel-" and 24 random
 * letters and digits from the system's random source), for `keel config
 * check` to suggest. New string, NULL when the user has no '@'. */
char *config_note_address_suggest(const KeelAccount *account);
/* The authserv-id whose Authentication-Results keel trusts for `account`:
 * authserv_id, else the host of its imap URL. New string, NULL when neither. */
char *config_account_authserv_id(const KeelAccount *account);

/* Reads the account's password from password_file (refused when readable by
 * group or others) or password_command. Returns a new string the caller must
 * wipe and free; never logs it. */
char *config_account_password(const KeelAccount *account, GError **error);

/* The file checks `keel config check` adds to config_load(): every password
 * file exists, is a regular file and is not readable by group or others;
 * every ca_file is readable. Reads no secret. On problems returns FALSE with
 * KEEL_CONFIG_ERROR_SECRET and one `file:line: message` per line. */
gboolean config_check_files(const KeelConfig *config, GError **error);

/* TRUE when `address` is the user of one of the accounts (case-insensitive):
 * mail from it is mail the VA sent. */
gboolean config_is_own_address(const KeelConfig *config, const char *address);

/* Parses "Mon-Fri 09:00-17:30" (also "Mon,Wed,Fri 08:00-16:00"). */
gboolean config_parse_business_hours(const char *text, KeelBusinessHours *out, GError **error);
